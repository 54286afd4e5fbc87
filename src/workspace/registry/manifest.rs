//! What a workspace manifest is: the digest helpers, building the canonical manifest stepkit
//! pushes, and reading one back from a registry, kept apart from the transfers that move them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::classify::{Failure, FailureKind};
use super::{
    ANNOTATION_CREATED, ANNOTATION_TITLE, ANNOTATION_UNCOMPRESSED_DIGEST,
    ANNOTATION_UNCOMPRESSED_SIZE, DOCKER_MANIFEST_LIST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE,
    EMPTY_CONFIG_DATA, EMPTY_CONFIG_DIGEST, EMPTY_CONFIG_MEDIA_TYPE, FIXED_CREATED,
    OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, WORKSPACE_ARTIFACT_TYPE,
};
use crate::core::error::Error;

/// A blob as a manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// `sha256:<64 hex>`.
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    pub annotations: BTreeMap<String, String>,
}

impl LayerInfo {
    /// A workspace layer: annotated with its title and the digest of the uncompressed tar.
    pub fn workspace_layer(
        digest: impl Into<String>,
        size: u64,
        media_type: impl Into<String>,
        title: &str,
        uncompressed_digest: &str,
    ) -> LayerInfo {
        LayerInfo::titled(digest, size, media_type, title)
            .with_uncompressed_digest(uncompressed_digest)
    }

    /// A layer annotated with its title only, as a Trusted Artifacts layer is.
    pub fn titled(
        digest: impl Into<String>,
        size: u64,
        media_type: impl Into<String>,
        title: &str,
    ) -> LayerInfo {
        LayerInfo {
            digest: digest.into(),
            size,
            media_type: media_type.into(),
            annotations: BTreeMap::from([(ANNOTATION_TITLE.to_owned(), title.to_owned())]),
        }
    }

    /// With the [`ANNOTATION_UNCOMPRESSED_DIGEST`] annotation.
    pub fn with_uncompressed_digest(mut self, digest: &str) -> LayerInfo {
        self.annotations
            .insert(ANNOTATION_UNCOMPRESSED_DIGEST.to_owned(), digest.to_owned());
        self
    }

    /// With the [`ANNOTATION_UNCOMPRESSED_SIZE`] annotation.
    pub fn with_uncompressed_size(mut self, size: u64) -> LayerInfo {
        self.annotations
            .insert(ANNOTATION_UNCOMPRESSED_SIZE.to_owned(), size.to_string());
        self
    }

    /// The [`ANNOTATION_UNCOMPRESSED_SIZE`] annotation, if it is a number.
    pub fn uncompressed_size(&self) -> Option<u64> {
        self.annotations
            .get(ANNOTATION_UNCOMPRESSED_SIZE)
            .and_then(|size| size.parse().ok())
    }

    /// The `org.opencontainers.image.title` annotation.
    pub fn title(&self) -> Option<&str> {
        self.annotations.get(ANNOTATION_TITLE).map(String::as_str)
    }

    /// The `stepkit.dev/uncompressed-digest` annotation.
    pub fn uncompressed_digest(&self) -> Option<&str> {
        self.annotations
            .get(ANNOTATION_UNCOMPRESSED_DIGEST)
            .map(String::as_str)
    }
}

/// What a reference names in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// An image manifest (stepkit's artifacts, or any single-platform image).
    Manifest {
        /// sha256 of `raw`, checked against the reference's digest when it had one.
        digest: String,
        /// The manifest's `mediaType` (OCI or Docker schema 2).
        media_type: String,
        artifact_type: Option<String>,
        annotations: BTreeMap<String, String>,
        layers: Vec<LayerInfo>,
        /// The manifest exactly as the registry sent it.
        raw: Vec<u8>,
    },
    /// A blob named directly by digest, as Trusted Artifacts' `oci:` references do.
    Blob { digest: String },
}

impl Resolved {
    pub fn digest(&self) -> &str {
        match self {
            Resolved::Manifest { digest, .. } | Resolved::Blob { digest } => digest,
        }
    }
}

/// `SOURCE_DATE_EPOCH` (seconds since 1970-01-01 UTC) as the time an artifact was created;
/// `None` when it is unset or empty. Read before any registry work, so a bad value costs nothing.
pub fn parse_source_date_epoch(text: Option<&str>) -> Result<Option<time::OffsetDateTime>, Error> {
    let Some(text) = text.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let invalid = || {
        Error::usage(format!(
            "SOURCE_DATE_EPOCH {text:?} is not a number of seconds since 1970-01-01 UTC"
        ))
    };
    let seconds: i64 = text.parse().map_err(|_| invalid())?;
    let at = time::OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| invalid())?;
    Ok(Some(at))
}

/// `org.opencontainers.image.created` for a push: `created` in RFC 3339 UTC, or
/// [`FIXED_CREATED`] without one, so that the same tree always gives the same manifest.
pub fn created_annotation(created: Option<time::OffsetDateTime>) -> String {
    let Some(at) = created else {
        return FIXED_CREATED.to_owned();
    };
    at.to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .expect("a UTC time always formats")
}

/// How long a registry that honours `quay.expires-after` keeps an artifact: a whole number
/// followed by s, m, h, d or w (`12h`, `1d`, `2w`), the form Quay reads and Trusted Artifacts'
/// `IMAGE_EXPIRES_AFTER` passes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiresAfter(String);

impl ExpiresAfter {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ExpiresAfter {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let unit = trimmed.chars().last().unwrap_or(' ');
        let number = &trimmed[..trimmed.len() - unit.len_utf8().min(trimmed.len())];
        let valid_number = number.bytes().all(|b| b.is_ascii_digit())
            && number.parse::<u32>().is_ok_and(|n| n > 0);
        if !valid_number || !matches!(unit, 's' | 'm' | 'h' | 'd' | 'w') {
            return Err(format!(
                "{text:?} is not an age: give a whole number and s, m, h, d or w, such as 1d or 2w"
            ));
        }
        Ok(ExpiresAfter(trimmed.to_owned()))
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format_digest(&Sha256::digest(bytes))
}

pub(super) fn format_digest(hash: &[u8]) -> String {
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256:");
    for byte in hash {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// Whether `digest` is `sha256:` and 64 lowercase hex digits (safe to put in a URL path).
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

pub(super) fn check_digest(digest: &str, what: &str) -> Result<(), Error> {
    if is_sha256_digest(digest) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{what}: {digest:?} is not a sha256 digest (sha256: and 64 lowercase hex digits)"
        )))
    }
}

/// The canonical bytes of a workspace manifest: compact JSON with keys in sorted order, so
/// the same inputs always give the same digest. One layer per pushed source (the Trusted
/// Artifacts form puts every source of one call in one artifact).
pub fn workspace_manifest(
    layers: &[LayerInfo],
    created: &str,
    extra_annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut annotations = extra_annotations.clone();
    annotations.insert(ANNOTATION_CREATED.to_owned(), created.to_owned());
    let manifest = ManifestOut {
        annotations: &annotations,
        artifact_type: WORKSPACE_ARTIFACT_TYPE,
        config: DescriptorOut {
            annotations: None,
            digest: EMPTY_CONFIG_DIGEST,
            media_type: EMPTY_CONFIG_MEDIA_TYPE,
            size: EMPTY_CONFIG_DATA.len() as u64,
        },
        layers: layers
            .iter()
            .map(|layer| DescriptorOut {
                annotations: Some(&layer.annotations).filter(|a| !a.is_empty()),
                digest: &layer.digest,
                media_type: &layer.media_type,
                size: layer.size,
            })
            .collect(),
        media_type: OCI_MANIFEST_MEDIA_TYPE,
        schema_version: 2,
    };
    serde_json::to_vec(&manifest).expect("a manifest of strings and numbers serializes")
}

/// Fields in lexicographic order: serde writes them as declared (canonical JSON).
#[derive(Serialize)]
struct ManifestOut<'a> {
    annotations: &'a BTreeMap<String, String>,
    #[serde(rename = "artifactType")]
    artifact_type: &'a str,
    config: DescriptorOut<'a>,
    layers: Vec<DescriptorOut<'a>>,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
}

#[derive(Serialize)]
struct DescriptorOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a BTreeMap<String, String>>,
    digest: &'a str,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    size: u64,
}

/// A manifest or index as read from a registry (only what we use).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ManifestIn {
    schema_version: Option<i64>,
    pub(super) media_type: Option<String>,
    artifact_type: Option<String>,
    pub(super) config: Option<DescriptorIn>,
    #[serde(default)]
    layers: Vec<DescriptorIn>,
    manifests: Option<serde_json::Value>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DescriptorIn {
    media_type: String,
    pub(super) digest: String,
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Reads a manifest's bytes into [`Resolved::Manifest`], refusing indexes and layers whose
/// digest is not a plain sha256 (it would end up in a URL path).
pub(super) fn parse_manifest(raw: Vec<u8>, digest: String) -> Result<Resolved, Failure> {
    let manifest: ManifestIn = serde_json::from_slice(&raw).map_err(|error| {
        Failure::new(
            FailureKind::NotJson,
            format!("manifest {digest} is not an image manifest: {error}"),
        )
    })?;
    let unusable = |detail: String| Failure::new(FailureKind::BadContent, detail);
    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| OCI_MANIFEST_MEDIA_TYPE.to_owned());
    if manifest.manifests.is_some()
        || media_type == OCI_INDEX_MEDIA_TYPE
        || media_type == DOCKER_MANIFEST_LIST_MEDIA_TYPE
    {
        return Err(unusable(format!(
            "{digest} is an image index (a multi-platform image), not a workspace artifact; give the digest of a workspace manifest or blob"
        )));
    }
    if manifest.schema_version != Some(2)
        || (media_type != OCI_MANIFEST_MEDIA_TYPE && media_type != DOCKER_MANIFEST_MEDIA_TYPE)
        || manifest.config.is_none()
    {
        return Err(unusable(format!(
            "{digest} is not an OCI image manifest (schemaVersion 2, mediaType {OCI_MANIFEST_MEDIA_TYPE}); its mediaType is {media_type:?}"
        )));
    }
    let mut layers = Vec::with_capacity(manifest.layers.len());
    for layer in manifest.layers {
        check_digest(&layer.digest, &format!("manifest {digest} lists a layer"))
            .map_err(|error| unusable(error.to_string()))?;
        layers.push(LayerInfo {
            digest: layer.digest,
            size: layer.size,
            media_type: layer.media_type,
            annotations: layer.annotations,
        });
    }
    Ok(Resolved::Manifest {
        digest,
        media_type,
        artifact_type: manifest.artifact_type,
        annotations: manifest.annotations,
        layers,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::Kind;

    fn layer() -> LayerInfo {
        LayerInfo::workspace_layer(
            format!("sha256:{}", "a".repeat(64)),
            1234,
            "application/vnd.oci.image.layer.v1.tar+zstd",
            "source",
            &format!("sha256:{}", "b".repeat(64)),
        )
    }

    #[test]
    fn the_empty_config_digest_is_the_digest_of_its_data() {
        assert_eq!(sha256_digest(EMPTY_CONFIG_DATA), EMPTY_CONFIG_DIGEST);
    }

    #[test]
    fn workspace_manifests_are_canonical_and_reproducible() {
        let extra = BTreeMap::from([("quay.expires-after".to_owned(), "1d".to_owned())]);
        let bytes = workspace_manifest(&[layer()], FIXED_CREATED, &extra);
        assert_eq!(bytes, workspace_manifest(&[layer()], FIXED_CREATED, &extra));
        let text = String::from_utf8(bytes.clone()).unwrap();
        let expected = format!(
            concat!(
                r#"{{"annotations":{{"org.opencontainers.image.created":"1970-01-01T00:00:00Z","quay.expires-after":"1d"}},"#,
                r#""artifactType":"application/vnd.stepkit.workspace.v1","#,
                r#""config":{{"digest":"{empty}","mediaType":"application/vnd.oci.empty.v1+json","size":2}},"#,
                r#""layers":[{{"annotations":{{"org.opencontainers.image.title":"source","stepkit.dev/uncompressed-digest":"sha256:{b}"}},"#,
                r#""digest":"sha256:{a}","mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","size":1234}}],"#,
                r#""mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}}"#
            ),
            empty = EMPTY_CONFIG_DIGEST,
            a = "a".repeat(64),
            b = "b".repeat(64),
        );
        assert_eq!(text, expected);
        // A different creation time is a different manifest.
        assert_ne!(
            sha256_digest(&bytes),
            sha256_digest(&workspace_manifest(
                &[layer()],
                "2026-01-01T00:00:00Z",
                &extra
            ))
        );
        // It reads back as what it says.
        let resolved = parse_manifest(bytes.clone(), sha256_digest(&bytes)).unwrap();
        let Resolved::Manifest {
            artifact_type,
            layers,
            annotations,
            ..
        } = resolved
        else {
            panic!("not a manifest");
        };
        assert_eq!(artifact_type.as_deref(), Some(WORKSPACE_ARTIFACT_TYPE));
        assert_eq!(layers, vec![layer()]);
        assert_eq!(layers[0].title(), Some("source"));
        assert_eq!(
            layers[0].uncompressed_digest(),
            Some(format!("sha256:{}", "b".repeat(64)).as_str())
        );
        assert_eq!(annotations[ANNOTATION_CREATED], FIXED_CREATED);
    }

    #[test]
    fn created_comes_from_source_date_epoch_or_is_fixed() {
        assert_eq!(created_annotation(None), FIXED_CREATED);
        assert_eq!(parse_source_date_epoch(None).unwrap(), None);
        assert_eq!(parse_source_date_epoch(Some(" ")).unwrap(), None);
        let at = parse_source_date_epoch(Some("1767225600")).unwrap();
        assert_eq!(created_annotation(at), "2026-01-01T00:00:00Z");
        let error = parse_source_date_epoch(Some("yesterday")).unwrap_err();
        assert_eq!(error.kind(), Kind::Usage);
        assert!(error.to_string().contains("SOURCE_DATE_EPOCH"), "{error}");
    }

    #[test]
    fn expiry_ages_are_a_number_and_a_unit() {
        for good in ["1d", "12h", "2w", "30m", " 90s "] {
            let age: ExpiresAfter = good.parse().unwrap_or_else(|e| panic!("{good}: {e}"));
            assert_eq!(age.as_str(), good.trim());
        }
        for bad in [
            "",
            "d",
            "1",
            "1y",
            "0d",
            "-1d",
            "1.5d",
            "one day",
            "99999999999d",
            "1é",
        ] {
            let error = bad.parse::<ExpiresAfter>().unwrap_err();
            assert!(error.contains(&format!("{bad:?}")), "{bad}: {error}");
        }
    }

    #[test]
    fn indexes_and_odd_layer_digests_are_refused() {
        let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        let error = parse_manifest(index.to_vec(), "sha256:x".into()).unwrap_err();
        assert_eq!(error.kind, FailureKind::BadContent);
        assert!(error.detail.contains("image index"), "{error:?}");

        let traversal = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{"mediaType":"x","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},
            "layers":[{"mediaType":"x","digest":"sha256:../../v2/other/blobs/x","size":1}]}"#;
        let error = parse_manifest(traversal.to_vec(), "sha256:x".into()).unwrap_err();
        assert_eq!(error.kind, FailureKind::BadContent);
        assert!(error.detail.contains("not a sha256 digest"), "{error:?}");

        let no_schema =
            br#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#;
        let error = parse_manifest(no_schema.to_vec(), "sha256:x".into()).unwrap_err();
        assert_eq!(error.kind, FailureKind::BadContent);
        assert!(
            error.detail.contains("not an OCI image manifest"),
            "{error:?}"
        );

        // A gzip tarball served under /manifests/ is no manifest at all.
        let error = parse_manifest(vec![0x1f, 0x8b, 8, 0], "sha256:x".into()).unwrap_err();
        assert_eq!(error.kind, FailureKind::NotJson);
    }

    #[test]
    fn digests_are_checked_before_they_reach_a_url() {
        assert!(is_sha256_digest(EMPTY_CONFIG_DIGEST));
        assert!(!is_sha256_digest(&EMPTY_CONFIG_DIGEST.to_uppercase()));
        assert!(!is_sha256_digest("sha256:abc"));
        assert!(!is_sha256_digest(&format!("sha512:{}", "a".repeat(64))));
        assert!(!is_sha256_digest(&format!("sha256:{}/", "a".repeat(63))));
    }
}
