//! Moving workspace blobs and manifests to and from one registry repository, through
//! oci-client. What a blob holds is the archive module's business; here a blob is a file, a
//! digest and a size.
//!
//! - Uploads stream from a file in 1 MiB chunks with one monolithic PUT
//!   (`push_blob_stream`, `use_monolithic_push`), after a HEAD that skips blobs the registry
//!   already has. Memory stays bounded, and a failed upload can start again from the file.
//! - Downloads stream to the caller as they arrive, hashing on the way, and resume with a
//!   `Range` request where a dropped connection stopped them; the call succeeds only once the
//!   digest of the whole blob matched (a mismatch is exit 5), and what was streamed before
//!   that is the caller's to keep out of use.
//! - Every request is retried on connection errors, timeouts, 408, 429 and 5xx through the one
//!   retry loop of `core::retry` (backoff with jitter, `--retries`, `--retry-deadline`): blob
//!   uploads are idempotent by digest and manifest PUTs by content. When retries run out the
//!   error is exit 3.
//! - 401/403 and "not found" are refusals (exit 5), never retried; their messages never hold
//!   a credential or a URL's query (upload session state).
//! - A manifest is pushed by digest first and then under each tag, and only by the caller
//!   after its blobs: a push that dies half way leaves blobs nobody references, never a
//!   manifest that names a missing blob.
//!
//! [`workspace_manifest`] builds the artifact stepkit pushes: an OCI 1.1 image manifest with
//! `artifactType` [`WORKSPACE_ARTIFACT_TYPE`], the empty config descriptor, one layer annotated
//! with its title and uncompressed digest, and an `org.opencontainers.image.created` that comes
//! from `SOURCE_DATE_EPOCH` or is fixed ([`created_annotation`]), so the same tree always gives
//! the same manifest digest.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use oci_client::client::{
    BlobResponse, Certificate, CertificateEncoding, ClientConfig, ClientProtocol,
};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use super::reference::WorkspaceRef;
use crate::core::error::Error;
use crate::core::http::{install_crypto_provider, USER_AGENT};
use crate::core::image_ref::ImageReference;
use crate::core::retry::{retry, RetryPolicy, Retryable, Step};

/// The `artifactType` of a stepkit workspace manifest.
pub const WORKSPACE_ARTIFACT_TYPE: &str = "application/vnd.stepkit.workspace.v1";
/// OCI image manifest.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index (a multi-platform image: not a workspace).
pub const OCI_INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest v2 schema 2 (same shape as the OCI manifest).
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list (a multi-platform image: not a workspace).
pub const DOCKER_MANIFEST_LIST_MEDIA_TYPE: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// The media type of the OCI empty descriptor (image-spec 1.1).
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The content of the empty descriptor's blob.
pub const EMPTY_CONFIG_DATA: &[u8] = b"{}";
/// sha256 of [`EMPTY_CONFIG_DATA`].
pub const EMPTY_CONFIG_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
/// Layer annotation: the workspace name.
pub const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
/// Layer annotation: sha256 of the uncompressed tar.
pub const ANNOTATION_UNCOMPRESSED_DIGEST: &str = "stepkit.dev/uncompressed-digest";
/// Layer annotation: bytes of the uncompressed tar (what `pull` expects to write, at most).
pub const ANNOTATION_UNCOMPRESSED_SIZE: &str = "stepkit.dev/uncompressed-size";
/// Manifest annotation: the manifest whose layers this one's start with (an incremental push).
pub const ANNOTATION_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
/// Manifest annotation: when the content was made (RFC 3339).
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// `org.opencontainers.image.created` when `SOURCE_DATE_EPOCH` is not set.
pub const FIXED_CREATED: &str = "1970-01-01T00:00:00Z";

/// Chunk size for reading a blob file during upload.
const UPLOAD_CHUNK: usize = 1024 * 1024;
/// The largest manifest accepted from a registry (the distribution spec's suggested limit).
const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// The longest pause backoff chooses between attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);
/// The default retry deadline: a blob transfer is one request, so it is long.
pub const DEFAULT_RETRY_DEADLINE: Duration = Duration::from_secs(30 * 60);
/// How much of a registry's error body goes into a message.
const ERROR_BODY_LIMIT: usize = 300;

/// What to accept when fetching a manifest. Indexes are accepted only to be refused clearly.
const ACCEPTED_MANIFESTS: &[&str] = &[
    OCI_MANIFEST_MEDIA_TYPE,
    DOCKER_MANIFEST_MEDIA_TYPE,
    OCI_INDEX_MEDIA_TYPE,
    DOCKER_MANIFEST_LIST_MEDIA_TYPE,
];

/// How to reach the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryOptions {
    /// Registries (`HOST:PORT`, as written in the reference) spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// PEM certificates trusted in addition to the system roots.
    pub ca_file: Option<PathBuf>,
    /// Attempts after the first for each request that fails with a network error or 5xx
    /// (`None`: as many as `retry_deadline` allows).
    pub retries: Option<u32>,
    /// One request (a whole blob transfer), its retries and the pauses between them, ends
    /// within this.
    pub retry_deadline: Duration,
    /// Time allowed to connect, and between two reads of one response.
    pub timeout: Duration,
    /// The smallest pause between attempts; backoff doubles from here, with jitter.
    pub retry_delay: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure_registries: Vec::new(),
            ca_file: None,
            retries: Some(3),
            retry_deadline: DEFAULT_RETRY_DEADLINE,
            timeout: Duration::from_secs(60),
            retry_delay: Duration::from_millis(500),
        }
    }
}

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
        LayerInfo {
            digest: digest.into(),
            size,
            media_type: media_type.into(),
            annotations: BTreeMap::from([
                (ANNOTATION_TITLE.to_owned(), title.to_owned()),
                (
                    ANNOTATION_UNCOMPRESSED_DIGEST.to_owned(),
                    uncompressed_digest.to_owned(),
                ),
            ]),
        }
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

fn format_digest(hash: &[u8]) -> String {
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

fn check_digest(digest: &str, what: &str) -> Result<(), Error> {
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
struct ManifestIn {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<DescriptorIn>,
    #[serde(default)]
    layers: Vec<DescriptorIn>,
    manifests: Option<serde_json::Value>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescriptorIn {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Reads a manifest's bytes into [`Resolved::Manifest`], refusing indexes and layers whose
/// digest is not a plain sha256 (it would end up in a URL path).
fn parse_manifest(raw: Vec<u8>, digest: String) -> Result<Resolved, Failure> {
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

/// How one failed attempt is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureKind {
    /// Network error, timeout, 408, 429, 5xx, a lost upload session: try again.
    Transient,
    /// 401, or credentials the registry would not take.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 404, or the registry's "unknown" error codes.
    NotFound,
    /// Content whose digest is not the one asked for.
    DigestMismatch,
    /// The registry refused the request as malformed (bad name or tag).
    Invalid,
    /// Any other answer a retry would not change.
    Remote,
    /// What the registry sent as a manifest is not usable here (an index, odd layers).
    BadContent,
    /// What the registry sent as a manifest is not even a JSON manifest document.
    NotJson,
    /// A local file could not be read or written.
    LocalIo,
}

#[derive(Debug)]
struct Failure {
    kind: FailureKind,
    detail: String,
    /// The HTTP status the registry answered with, if it answered.
    status: Option<u16>,
    /// When transient failures went on until the retry policy gave up: its error, which says
    /// so (kind Transient).
    gave_up: Option<anyhow::Error>,
}

impl Failure {
    fn new(kind: FailureKind, detail: impl Into<String>) -> Failure {
        Failure {
            kind,
            detail: detail.into(),
            status: None,
            gave_up: None,
        }
    }

    fn from_status(code: u16, detail: impl Into<String>) -> Failure {
        Failure {
            status: Some(code),
            ..Failure::new(kind_for_status(code), detail)
        }
    }
}

fn kind_for_status(code: u16) -> FailureKind {
    match code {
        401 => FailureKind::Unauthorized,
        403 => FailureKind::Forbidden,
        404 | 410 => FailureKind::NotFound,
        408 | 429 => FailureKind::Transient,
        500..=599 => FailureKind::Transient,
        400..=499 => FailureKind::Invalid,
        _ => FailureKind::Remote,
    }
}

fn status_text(code: u16) -> String {
    match reqwest::StatusCode::from_u16(code) {
        Ok(status) => format!("HTTP {status}"),
        Err(_) => format!("HTTP {code}"),
    }
}

/// A transport error as text: what failed and the innermost cause, without the URL.
fn describe_reqwest(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What to do about a TLS handshake failure in `error`'s causes, if it is one.
fn tls_hint(error: &reqwest::Error) -> Option<&'static str> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        // io::Error hides its inner error from source() (and may wrap another io::Error):
        // look inside it too.
        let mut candidate = Some(cause);
        while let Some(current) = candidate {
            if let Some(tls) = current.downcast_ref::<rustls::Error>() {
                return Some(match tls {
                    rustls::Error::InvalidCertificate(_) => {
                        " (the registry's certificate is not trusted: pass --ca-file with the CA that signed it)"
                    }
                    rustls::Error::InvalidMessage(_) => {
                        " (the registry did not answer in TLS: if it serves plain HTTP, pass --insecure-registry HOST:PORT)"
                    }
                    _ => {
                        " (the TLS handshake failed: check --ca-file, or pass --insecure-registry HOST:PORT for a plain-HTTP registry)"
                    }
                });
            }
            candidate = current
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|inner| inner as &(dyn std::error::Error + 'static));
        }
        source = cause.source();
    }
    None
}

fn shorten(text: &str) -> String {
    let text = text.trim();
    if text.len() <= ERROR_BODY_LIMIT {
        return text.to_owned();
    }
    let mut end = ERROR_BODY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} [...]", &text[..end])
}

/// Sorts an oci-client error into a [`Failure`].
fn classify(error: OciDistributionError) -> Failure {
    match error {
        OciDistributionError::RequestError(error) => match error.status() {
            Some(status) => Failure::from_status(status.as_u16(), status_text(status.as_u16())),
            None if error.is_builder() => {
                Failure::new(FailureKind::Remote, describe_reqwest(error))
            }
            None => match tls_hint(&error) {
                // A handshake that failed fails the same way next time.
                Some(hint) => Failure::new(
                    FailureKind::Remote,
                    format!("{}{hint}", describe_reqwest(error)),
                ),
                None => Failure::new(FailureKind::Transient, describe_reqwest(error)),
            },
        },
        OciDistributionError::ServerError { code, message, .. } => {
            let mut detail = status_text(code);
            if !message.trim().is_empty() {
                detail.push_str(": ");
                detail.push_str(&shorten(&message));
            }
            Failure::from_status(code, detail)
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let kind = envelope
                .errors
                .iter()
                .map(|error| kind_for_code(&error.code))
                .min_by_key(|kind| match kind {
                    // When several codes come back, the most specific refusal wins.
                    FailureKind::Unauthorized => 0,
                    FailureKind::Forbidden => 1,
                    FailureKind::NotFound => 2,
                    _ => 3,
                })
                .unwrap_or(FailureKind::Remote);
            let detail: Vec<String> = envelope
                .errors
                .iter()
                .map(|error| {
                    let code = serde_json::to_value(&error.code)
                        .ok()
                        .and_then(|value| value.as_str().map(str::to_owned))
                        .unwrap_or_else(|| format!("{:?}", error.code));
                    format!("{code}: {}", shorten(&error.message))
                })
                .collect();
            Failure::new(kind, format!("registry error {}", detail.join("; ")))
        }
        OciDistributionError::UnauthorizedError { .. } => {
            Failure::new(FailureKind::Unauthorized, status_text(401))
        }
        OciDistributionError::AuthenticationFailure(reason) => Failure::new(
            FailureKind::Unauthorized,
            format!(
                "the token service refused the credentials: {}",
                shorten(&reason)
            ),
        ),
        OciDistributionError::DigestError(error) => {
            Failure::new(FailureKind::DigestMismatch, describe_digest_error(&error))
        }
        OciDistributionError::IoError(error) => classify_io(error),
        OciDistributionError::ImageManifestNotFoundError(detail) => {
            Failure::new(FailureKind::NotFound, detail)
        }
        other => Failure::new(FailureKind::Remote, other.to_string()),
    }
}

fn kind_for_code(code: &OciErrorCode) -> FailureKind {
    match code {
        OciErrorCode::Unauthorized => FailureKind::Unauthorized,
        OciErrorCode::Denied => FailureKind::Forbidden,
        OciErrorCode::BlobUnknown
        | OciErrorCode::ManifestUnknown
        | OciErrorCode::NameUnknown
        | OciErrorCode::NotFound => FailureKind::NotFound,
        // A lost upload session (the registry restarted) is cured by starting again.
        OciErrorCode::Toomanyrequests | OciErrorCode::BlobUploadUnknown => FailureKind::Transient,
        OciErrorCode::NameInvalid | OciErrorCode::TagInvalid => FailureKind::Invalid,
        _ => FailureKind::Remote,
    }
}

fn describe_digest_error(error: &oci_client::errors::DigestError) -> String {
    match error {
        oci_client::errors::DigestError::VerificationError { expected, actual } => {
            format!("the registry sent content whose digest is {actual}, not {expected}")
        }
        other => other.to_string(),
    }
}

/// An error from a blob stream: a digest check that failed, or the connection.
fn classify_io(error: std::io::Error) -> Failure {
    if let Some(digest_error) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<oci_client::errors::DigestError>())
    {
        return Failure::new(
            FailureKind::DigestMismatch,
            describe_digest_error(digest_error),
        );
    }
    if let Some(reqwest_error) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
    {
        if let Some(status) = reqwest_error.status() {
            return Failure::from_status(status.as_u16(), status_text(status.as_u16()));
        }
    }
    let detail = match error.into_inner() {
        Some(inner) => match inner.downcast::<reqwest::Error>() {
            Ok(reqwest_error) => describe_reqwest(*reqwest_error),
            Err(other) => other.to_string(),
        },
        None => "the connection failed".to_owned(),
    };
    Failure::new(FailureKind::Transient, detail)
}

/// A client for one repository, with its credentials. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    client: Client,
    auth: RegistryAuth,
    repository: ImageReference,
    retry: RetryPolicy,
}

impl fmt::Debug for Registry {
    /// The repository and the kind of credentials only: never a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("repository", &self.name())
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A client for `repository` (its tag and digest are ignored). Fails with exit 2 when the
    /// CA file cannot be read or holds no certificate.
    pub fn new(
        repository: &ImageReference,
        auth: RegistryAuth,
        options: &RegistryOptions,
    ) -> anyhow::Result<Registry> {
        install_crypto_provider();
        let insecure = options.insecure_registries.iter().any(|entry| {
            let entry = entry.trim();
            let entry = entry.strip_prefix("http://").unwrap_or(entry);
            entry
                .trim_end_matches('/')
                .eq_ignore_ascii_case(&repository.registry)
        });
        let extra_root_certificates = match &options.ca_file {
            Some(path) => read_ca_file(path)?,
            None => Vec::new(),
        };
        let config = ClientConfig {
            protocol: if insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            use_monolithic_push: true,
            extra_root_certificates,
            platform_resolver: None,
            read_timeout: Some(options.timeout),
            connect_timeout: Some(options.timeout),
            user_agent: USER_AGENT,
            ..ClientConfig::default()
        };
        let client = Client::try_from(config).map_err(|error| {
            Error::usage(format!(
                "cannot set up the registry client for {}: {error}",
                repository.registry
            ))
        })?;
        Ok(Registry {
            client,
            auth,
            repository: ImageReference {
                registry: repository.registry.clone(),
                repository: repository.repository.clone(),
                tag: None,
                digest: None,
            },
            retry: RetryPolicy {
                retries: options.retries,
                retry_deadline: options.retry_deadline,
                // Transfers stream: the client's read timeout bounds a silent registry.
                attempt_timeout: None,
                base_delay: options.retry_delay,
                max_delay: MAX_RETRY_DELAY.max(options.retry_delay),
                overall_deadline: None,
            },
        })
    }

    /// The repository this client works on (no tag, no digest).
    pub fn repository(&self) -> &ImageReference {
        &self.repository
    }

    /// `registry/repository`.
    fn name(&self) -> String {
        format!(
            "{}/{}",
            self.repository.registry, self.repository.repository
        )
    }

    /// A reference to the repository, for calls that only use its registry and path.
    fn base(&self) -> Reference {
        Reference::with_tag(
            self.repository.registry.clone(),
            self.repository.repository.clone(),
            "latest".to_owned(),
        )
    }

    fn at_digest(&self, digest: &str) -> Reference {
        Reference::with_digest(
            self.repository.registry.clone(),
            self.repository.repository.clone(),
            digest.to_owned(),
        )
    }

    fn at_tag(&self, tag: &str) -> Reference {
        Reference::with_tag(
            self.repository.registry.clone(),
            self.repository.repository.clone(),
            tag.to_owned(),
        )
    }

    async fn store_auth(&self) {
        let base = self.base();
        self.client
            .store_auth_if_needed(base.resolve_registry(), &self.auth)
            .await;
    }

    /// Runs `attempt` through the retry loop of `core::retry` until it succeeds, fails in a
    /// way a retry cannot change (that failure and the attempts made), or the policy gives up
    /// (a Transient failure carrying the loop's error).
    async fn retrying<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, (Failure, u32)>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let final_failure = std::sync::Mutex::new(None);
        let advice = format!(
            "is the registry {} up and reachable? try again later",
            self.repository.registry
        );
        let outcome = retry(&self.retry, what, &advice, |tried| {
            let next = attempt();
            let final_failure = &final_failure;
            async move {
                match next.await {
                    Ok(value) => Step::Done(value),
                    Err(failure) if failure.kind == FailureKind::Transient => {
                        Step::Retry(Retryable::new(failure.detail))
                    }
                    Err(failure) => {
                        *lock(final_failure) = Some((failure, tried.number));
                        Step::Fail(anyhow::anyhow!("not retried"))
                    }
                }
            }
        })
        .await;
        match outcome {
            Ok(value) => Ok(value),
            Err(error) => Err(lock(&final_failure).take().unwrap_or_else(|| {
                let mut failure = Failure::new(FailureKind::Transient, error.to_string());
                failure.gave_up = Some(error);
                (failure, 0)
            })),
        }
    }

    /// Turns the last failure of `what` into an error with its exit code.
    fn error(&self, what: &str, (failure, attempts): (Failure, u32)) -> anyhow::Error {
        if let Some(gave_up) = failure.gave_up {
            return gave_up;
        }
        let Failure { kind, detail, .. } = failure;
        let name = self.name();
        let error = match kind {
            FailureKind::Transient => Error::remote(format!(
                "{what}: {detail}; gave up after {attempts} attempt{} (is the registry {} up and reachable? try again later)",
                if attempts == 1 { "" } else { "s" },
                self.repository.registry
            )),
            FailureKind::Unauthorized => Error::refused(format!(
                "{what}: the registry refused the credentials ({detail}); {}",
                self.credentials_hint()
            )),
            FailureKind::Forbidden => Error::refused(format!(
                "{what}: access denied ({detail}); the credentials used ({}) lack permission on {name}",
                auth_kind(&self.auth)
            )),
            FailureKind::NotFound => Error::refused(format!("{what}: not found ({detail})")),
            FailureKind::DigestMismatch => Error::refused(format!(
                "{what}: digest mismatch: {detail}; the content is not what the reference names, so none of it was used"
            )),
            FailureKind::Invalid => Error::usage(format!("{what}: the registry rejected the request ({detail})")),
            FailureKind::BadContent | FailureKind::NotJson => {
                Error::usage(format!("{what}: {detail}"))
            }
            FailureKind::Remote => Error::remote(format!("{what}: {detail}")),
            FailureKind::LocalIo => Error::local_io(format!("{what}: {detail}")),
        };
        error.into()
    }

    fn credentials_hint(&self) -> String {
        match &self.auth {
            RegistryAuth::Anonymous => format!(
                "no credentials were found for {}: add an entry for it (or a prefix of it) to the docker config (DOCKER_CONFIG, ~/.docker/config.json, REGISTRY_AUTH_FILE or AUTHFILE)",
                self.name()
            ),
            RegistryAuth::Basic(user, _) => format!(
                "check the password or token of user {user:?} for {} in the docker config",
                self.name()
            ),
            RegistryAuth::Bearer(_) => format!(
                "check the registry token for {} in the docker config (it may have expired)",
                self.name()
            ),
        }
    }

    /// Uploads the blob in `path` unless the registry already has `digest`. Returns whether
    /// it was uploaded (`false`: it was already there, nothing was sent).
    pub async fn push_blob_file(
        &self,
        path: &Path,
        digest: &str,
        size: u64,
    ) -> anyhow::Result<bool> {
        let what = format!("pushing blob {digest} to {}", self.name());
        check_digest(digest, &what)?;
        let metadata = tokio::fs::metadata(path).await.map_err(|error| {
            Error::local_io(format!("{what}: cannot read {}: {error}", path.display()))
        })?;
        if metadata.len() != size {
            return Err(Error::local_io(format!(
                "{what}: {} holds {} bytes, not the {size} its descriptor says (did it change while pushing?)",
                path.display(),
                metadata.len()
            ))
            .into());
        }
        self.store_auth().await;
        let base = self.base();

        let exists = self.blob_exists(&what, &base, digest).await?;
        if exists {
            tracing::info!(
                "blob {digest} is already in {}; not uploading it",
                self.name()
            );
            return Ok(false);
        }

        self.retrying(&what, || async {
            let file = tokio::fs::File::open(path).await.map_err(|error| {
                Failure::new(
                    FailureKind::LocalIo,
                    format!("cannot open {}: {error}", path.display()),
                )
            })?;
            let stream = tokio_util::io::ReaderStream::with_capacity(file, UPLOAD_CHUNK)
                .map_err(OciDistributionError::IoError);
            self.client
                .push_blob_stream(&base, stream, digest, Some(size))
                .await
                .map_err(classify)
        })
        .await
        .map_err(|failure| self.error(&what, failure))?;
        tracing::info!("uploaded blob {digest} ({size} bytes) to {}", self.name());
        Ok(true)
    }

    /// Whether the repository holds blob `digest` (a HEAD, retried).
    pub async fn has_blob(&self, digest: &str) -> anyhow::Result<bool> {
        let what = format!("looking for blob {digest} in {}", self.name());
        check_digest(digest, &what)?;
        self.store_auth().await;
        self.blob_exists(&what, &self.base(), digest).await
    }

    /// Asks the registry to link blob `digest` from `from` (another repository of the same
    /// registry) into this one, without sending it. Returns whether it is here now: a
    /// registry that cannot mount it (it is not in `from`, or mounts are not supported)
    /// answers with an upload session instead, left unused for the registry to expire.
    pub async fn mount_blob(&self, digest: &str, from: &str) -> anyhow::Result<bool> {
        let what = format!("mounting blob {digest} from {from} into {}", self.name());
        check_digest(digest, &what)?;
        self.store_auth().await;
        let source = Reference::with_tag(
            self.repository.registry.clone(),
            from.to_owned(),
            "latest".to_owned(),
        );
        match self.client.mount_blob(&self.base(), &source, digest).await {
            Ok(()) => {}
            Err(error) => {
                tracing::debug!("{what}: {}", classify(error).detail);
            }
        }
        self.has_blob(digest).await
    }

    /// Makes sure the empty config blob (`{}`) is in the repository.
    /// Whether the registry holds `digest` (a HEAD, retried), as part of doing `what`.
    async fn blob_exists(
        &self,
        what: &str,
        base: &Reference,
        digest: &str,
    ) -> anyhow::Result<bool> {
        self.retrying(what, || async {
            self.client
                .blob_exists(base, digest)
                .await
                .map_err(classify)
        })
        .await
        .map_err(|failure| self.error(what, failure))
    }

    async fn ensure_empty_config(&self) -> anyhow::Result<()> {
        let what = format!("pushing the empty config blob to {}", self.name());
        let base = self.base();
        let exists = self.blob_exists(&what, &base, EMPTY_CONFIG_DIGEST).await?;
        if !exists {
            self.retrying(&what, || async {
                self.client
                    .push_blob(&base, EMPTY_CONFIG_DATA.to_vec(), EMPTY_CONFIG_DIGEST)
                    .await
                    .map_err(classify)
            })
            .await
            .map_err(|failure| self.error(&what, failure))?;
        }
        Ok(())
    }

    /// Pushes `manifest_json` as it is: first by its digest, then under each tag. When its
    /// config is the empty descriptor, that blob is pushed first if missing. Returns the
    /// digest (`sha256:` of the bytes). Push the layers before calling this.
    pub async fn push_manifest(
        &self,
        manifest_json: &[u8],
        tags: &[String],
    ) -> anyhow::Result<String> {
        let digest = sha256_digest(manifest_json);
        let name = self.name();
        let manifest: ManifestIn = serde_json::from_slice(manifest_json).map_err(|error| {
            Error::usage(format!(
                "pushing manifest {digest} to {name}: not a manifest: {error}"
            ))
        })?;
        let media_type = manifest
            .media_type
            .clone()
            .unwrap_or_else(|| OCI_MANIFEST_MEDIA_TYPE.to_owned());
        let content_type = reqwest::header::HeaderValue::from_str(&media_type).map_err(|_| {
            Error::usage(format!(
                "pushing manifest {digest} to {name}: mediaType {media_type:?} is not a valid header value"
            ))
        })?;
        for tag in tags {
            let tagged = format!("{name}:{tag}");
            tagged.parse::<ImageReference>().map_err(|problem| {
                Error::usage(format!(
                    "cannot tag the workspace manifest as {tag:?}: {problem}"
                ))
            })?;
        }
        self.store_auth().await;
        if manifest
            .config
            .as_ref()
            .is_some_and(|config| config.digest == EMPTY_CONFIG_DIGEST)
        {
            self.ensure_empty_config().await?;
        }

        let targets = std::iter::once((digest.clone(), self.at_digest(&digest)))
            .chain(tags.iter().map(|tag| (tag.clone(), self.at_tag(tag))));
        for (label, reference) in targets {
            let what = format!("pushing manifest {digest} to {name} as {label}");
            self.retrying(&what, || async {
                self.client
                    .push_manifest_raw(&reference, manifest_json.to_vec(), content_type.clone())
                    .await
                    .map_err(classify)
            })
            .await
            .map_err(|failure| self.error(&what, failure))?;
        }
        tracing::info!(
            "pushed manifest {digest} to {name}{}",
            if tags.is_empty() {
                String::new()
            } else {
                format!(" (tags: {})", tags.join(", "))
            }
        );
        Ok(digest)
    }

    /// The manifest digest `tag` names in this repository, or `None` when nothing is tagged so
    /// (`workspace restore` asks whether a Task that may have been skipped pushed).
    pub async fn find_tag(&self, tag: &str) -> anyhow::Result<Option<String>> {
        self.store_auth().await;
        let what = format!("reading {}:{tag}", self.name());
        match self.fetch_manifest(&self.at_tag(tag), &what, true).await {
            Ok(resolved) => Ok(Some(resolved.digest().to_string())),
            Err((failure, _)) if failure.kind == FailureKind::NotFound => Ok(None),
            Err(failure) => Err(self.error(&what, failure)),
        }
    }

    /// What `reference` names: for a tag, its manifest; for a digest, the manifest with that
    /// digest if there is one, else the blob (Trusted Artifacts' `oci:` references name
    /// blobs). A manifest's digest is checked against its bytes. Nothing there is exit 5.
    pub async fn resolve(&self, reference: &WorkspaceRef) -> anyhow::Result<Resolved> {
        let repository = reference.repository();
        if repository.registry != self.repository.registry
            || repository.repository != self.repository.repository
        {
            return Err(Error::usage(format!(
                "{reference} is not in {}, the repository this client was made for",
                self.name()
            ))
            .into());
        }
        self.store_auth().await;
        let name = self.name();
        match reference {
            WorkspaceRef::Tag { tag, .. } => {
                let what = format!("reading {name}:{tag}");
                match self.fetch_manifest(&self.at_tag(tag), &what, true).await {
                    Ok(resolved) => Ok(resolved),
                    Err((failure, _)) if failure.kind == FailureKind::NotFound => {
                        Err(Error::refused(format!(
                            "{what}: there is no manifest tagged {tag:?} in {name} ({}); check the tag, or pass the digest a push wrote",
                            failure.detail
                        ))
                        .into())
                    }
                    Err(failure) => Err(self.error(&what, failure)),
                }
            }
            WorkspaceRef::Digest { digest, .. } => {
                let what = format!("reading {name}@{digest}");
                // Blobs first: distribution answers a GET of a blob's digest under
                // /manifests/ with a 500 (it tries to parse the tarball), which looks like
                // an outage. Manifests pushed as manifests are not blobs of the repository
                // there; registries that expose them as blobs too are handled below.
                let base = self.base();
                let is_blob = self
                    .retrying(&what, || async {
                        self.client
                            .blob_exists(&base, digest)
                            .await
                            .map_err(classify)
                    })
                    .await
                    .map_err(|failure| self.error(&what, failure))?;
                if !is_blob {
                    return match self
                        .fetch_manifest(&self.at_digest(digest), &what, true)
                        .await
                    {
                        Ok(resolved) => Ok(resolved),
                        Err((failure, _)) if failure.kind == FailureKind::NotFound => {
                            Err(Error::refused(format!(
                                "{what}: neither a manifest nor a blob with digest {digest} exists in {name}; check the reference (it may have expired or been garbage-collected)"
                            ))
                            .into())
                        }
                        Err(failure) => Err(self.error(&what, failure)),
                    };
                }
                // A blob: it is a manifest only if the registry serves it as one. A refusal
                // to serve it as a manifest, or bytes that are not JSON, mean "a plain blob";
                // only a network failure is worth another try, and a JSON document that is
                // not a workspace manifest (an index) is an error, as it would be by tag.
                match self
                    .fetch_manifest(&self.at_digest(digest), &what, false)
                    .await
                {
                    Ok(resolved) => Ok(resolved),
                    Err((failure, _))
                        if !matches!(
                            failure.kind,
                            FailureKind::Transient
                                | FailureKind::Unauthorized
                                | FailureKind::Forbidden
                                | FailureKind::BadContent
                        ) =>
                    {
                        tracing::debug!(
                            "{what}: not served as a manifest ({}); it is a blob",
                            failure.detail
                        );
                        Ok(Resolved::Blob {
                            digest: digest.clone(),
                        })
                    }
                    Err(failure) => Err(self.error(&what, failure)),
                }
            }
        }
    }

    /// Fetches and parses a manifest. With `retry_statuses` false, only failures without an
    /// answer (network) are retried: a 5xx is returned at once, with its status.
    async fn fetch_manifest(
        &self,
        reference: &Reference,
        what: &str,
        retry_statuses: bool,
    ) -> Result<Resolved, (Failure, u32)> {
        let (raw, digest) = self
            .retrying(what, || async {
                self.client
                    .pull_manifest_raw(reference, &self.auth, ACCEPTED_MANIFESTS)
                    .await
                    .map_err(classify)
                    .map_err(|mut failure| {
                        if !retry_statuses
                            && failure.kind == FailureKind::Transient
                            && failure.status.is_some()
                        {
                            failure.kind = FailureKind::Remote;
                        }
                        failure
                    })
            })
            .await?;
        if raw.len() > MAX_MANIFEST_BYTES {
            return Err((
                Failure::new(
                    FailureKind::BadContent,
                    format!(
                        "the manifest is {} bytes, over the {MAX_MANIFEST_BYTES}-byte limit",
                        raw.len()
                    ),
                ),
                1,
            ));
        }
        parse_manifest(raw.to_vec(), digest).map_err(|failure| (failure, 1))
    }

    /// Downloads blob `digest` into `dest_file` (created or truncated) and returns its size.
    /// On a digest mismatch (exit 5), or any other failure, `dest_file` is removed.
    pub async fn pull_blob_to_file(&self, digest: &str, dest_file: &Path) -> anyhow::Result<u64> {
        let written = async {
            let file = tokio::fs::File::create(dest_file).await?;
            let mut file = tokio::io::BufWriter::with_capacity(UPLOAD_CHUNK, file);
            let pulled = self.pull_blob_into(digest, &mut file).await?;
            match pulled.sink_error {
                Some(error) => Err(error.into()),
                None => {
                    file.flush().await?;
                    Ok(pulled.size)
                }
            }
        };
        let result: anyhow::Result<u64> = written.await.map_err(|error: anyhow::Error| {
            match error.downcast::<std::io::Error>() {
                Ok(io) => {
                    Error::local_io(format!("cannot write {}: {io}", dest_file.display())).into()
                }
                Err(other) => other,
            }
        });
        if result.is_err() {
            if let Err(error) = std::fs::remove_file(dest_file) {
                if error.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!("cannot remove {}: {error}", dest_file.display());
                }
            }
        }
        result
    }

    /// Streams blob `digest` into `sink` as it arrives, hashing on the way, and returns once
    /// the whole blob was read and its digest matched (otherwise exit 5).
    ///
    /// An interrupted download resumes at the byte where it stopped (a `Range` request; from a
    /// registry that ignores it, the bytes already written are read past), so `sink` receives
    /// every byte once and in order. If `sink` stops taking bytes, the download still runs to
    /// the end, so that a corrupted blob is reported as a digest mismatch rather than as
    /// whatever the sink made of it; the sink's error comes back in [`BlobPulled::sink_error`].
    /// Until this returns `Ok`, what `sink` received is unverified and must not be used.
    pub async fn pull_blob_into<W>(&self, digest: &str, sink: &mut W) -> anyhow::Result<BlobPulled>
    where
        W: tokio::io::AsyncWrite + Unpin,
    {
        let what = format!("pulling blob {digest} from {}", self.name());
        check_digest(digest, &what)?;
        self.store_auth().await;
        let progress = std::sync::Mutex::new(Download {
            hasher: Sha256::new(),
            received: 0,
            sink: Some(sink),
            sink_error: None,
        });
        self.retrying(&what, || self.download_from(digest, &progress))
            .await
            .map_err(|failure| self.error(&what, failure))?;
        let download = progress
            .into_inner()
            .unwrap_or_else(|poison| poison.into_inner());
        let actual = format_digest(&download.hasher.finalize());
        if actual != digest {
            let failure = Failure::new(
                FailureKind::DigestMismatch,
                format!(
                    "the registry sent {} bytes whose digest is {actual}, not {digest}",
                    download.received
                ),
            );
            return Err(self.error(&what, (failure, 1)));
        }
        Ok(BlobPulled {
            size: download.received,
            sink_error: download.sink_error,
        })
    }

    /// One request for the rest of a blob, from the first byte not yet received.
    async fn download_from<W>(
        &self,
        digest: &str,
        progress: &std::sync::Mutex<Download<'_, W>>,
    ) -> Result<(), Failure>
    where
        W: tokio::io::AsyncWrite + Unpin,
    {
        let offset = lock(progress).received;
        let response = match self
            .client
            .pull_blob_stream_partial(&self.base(), digest, offset, None)
            .await
            .map_err(classify)
        {
            Ok(response) => response,
            // Cut off right after the last byte: there is nothing left, the digest decides.
            Err(failure) if offset > 0 && failure.status == Some(416) => return Ok(()),
            Err(failure) => return Err(failure),
        };
        let (mut stream, mut skip) = match response {
            BlobResponse::Partial(stream) => (stream.stream, 0),
            // The registry ignored the range: read past what was already received.
            BlobResponse::Full(stream) => (stream.stream, offset),
        };
        while let Some(chunk) = stream.next().await {
            let mut chunk = chunk.map_err(classify_io)?;
            if skip > 0 {
                let past = skip.min(chunk.len() as u64);
                skip -= past;
                let _ = chunk.split_to(past as usize);
            }
            if chunk.is_empty() {
                continue;
            }
            let mut sink = {
                let mut download = lock(progress);
                download.hasher.update(&chunk);
                download.received += chunk.len() as u64;
                download.sink.take()
            };
            if let Some(writer) = sink.as_mut() {
                if let Err(error) = writer.write_all(&chunk).await {
                    let mut download = lock(progress);
                    download.sink_error = Some(error);
                    sink = None;
                }
            }
            lock(progress).sink = sink;
        }
        if skip > 0 {
            return Err(Failure::new(
                FailureKind::Transient,
                format!(
                    "the registry sent the blob shorter than the {offset} bytes already received"
                ),
            ));
        }
        let mut sink = lock(progress).sink.take();
        if let Some(writer) = sink.as_mut() {
            if let Err(error) = writer.flush().await {
                lock(progress).sink_error = Some(error);
                sink = None;
            }
        }
        lock(progress).sink = sink;
        Ok(())
    }
}

/// A download in progress: what survives from one attempt to the next.
struct Download<'a, W> {
    hasher: Sha256,
    received: u64,
    /// Where the bytes go; `None` once it failed.
    sink: Option<&'a mut W>,
    sink_error: Option<std::io::Error>,
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// A blob read to its end and verified.
#[derive(Debug)]
pub struct BlobPulled {
    /// Bytes in the blob.
    pub size: u64,
    /// Why the sink stopped taking bytes, if it did (the blob was still read and verified).
    pub sink_error: Option<std::io::Error>,
}

/// The kind of credentials, for messages (never the secret).
fn auth_kind(auth: &RegistryAuth) -> String {
    match auth {
        RegistryAuth::Anonymous => "anonymous".to_owned(),
        RegistryAuth::Basic(user, _) => format!("user {user:?}"),
        RegistryAuth::Bearer(_) => "a registry token".to_owned(),
    }
}

/// The certificates of a PEM bundle, one [`Certificate`] each.
fn read_ca_file(path: &Path) -> anyhow::Result<Vec<Certificate>> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Error::usage(format!("cannot read --ca-file {}: {error}", path.display()))
    })?;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut certificates = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find(BEGIN) {
        let Some(length) = rest[start..].find(END) else {
            break;
        };
        let block = &rest[start..start + length + END.len()];
        reqwest::Certificate::from_pem(block.as_bytes()).map_err(|error| {
            Error::usage(format!(
                "--ca-file {}: certificate #{} is not valid PEM: {error}",
                path.display(),
                certificates.len() + 1
            ))
        })?;
        certificates.push(Certificate {
            encoding: CertificateEncoding::Pem,
            data: format!("{block}\n").into_bytes(),
        });
        rest = &rest[start + length + END.len()..];
    }
    if certificates.is_empty() {
        return Err(Error::usage(format!(
            "--ca-file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ))
        .into());
    }
    Ok(certificates)
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

    #[test]
    fn statuses_and_registry_codes_are_classified() {
        assert_eq!(kind_for_status(401), FailureKind::Unauthorized);
        assert_eq!(kind_for_status(403), FailureKind::Forbidden);
        assert_eq!(kind_for_status(404), FailureKind::NotFound);
        assert_eq!(kind_for_status(429), FailureKind::Transient);
        assert_eq!(kind_for_status(503), FailureKind::Transient);
        assert_eq!(kind_for_status(400), FailureKind::Invalid);
        let failure = classify(OciDistributionError::ServerError {
            code: 502,
            url: "http://r/v2/x/blobs/uploads/abc?_state=SECRETSTATE".into(),
            message: "bad gateway".into(),
        });
        assert_eq!(failure.kind, FailureKind::Transient);
        assert_eq!(failure.detail, "HTTP 502 Bad Gateway: bad gateway");
        let envelope: oci_client::errors::OciEnvelope = serde_json::from_str(
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        )
        .unwrap();
        let failure = classify(OciDistributionError::RegistryError {
            envelope,
            url: "u".into(),
        });
        assert_eq!(failure.kind, FailureKind::NotFound);
        assert_eq!(
            failure.detail,
            "registry error MANIFEST_UNKNOWN: manifest unknown"
        );
        let digest_io = std::io::Error::other(oci_client::errors::DigestError::VerificationError {
            expected: "sha256:a".into(),
            actual: "sha256:b".into(),
        });
        assert_eq!(classify_io(digest_io).kind, FailureKind::DigestMismatch);
    }

    #[test]
    fn ca_files_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let error = read_ca_file(&empty).unwrap_err();
        assert!(format!("{error}").contains("no PEM certificate"), "{error}");
        assert_eq!(crate::core::error::exit_code(&error), 2);
        let error = read_ca_file(&dir.path().join("missing.pem")).unwrap_err();
        assert!(
            format!("{error}").contains("cannot read --ca-file"),
            "{error}"
        );
    }
}
