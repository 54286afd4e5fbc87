//! Moving workspace blobs and manifests to and from one registry repository, through
//! oci-client. What a blob holds is the archive module's business; here a blob is a file, a
//! digest and a size.
//!
//! - Uploads stream from a file in 1 MiB chunks with one monolithic PUT
//!   (`push_blob_stream`, `use_monolithic_push`), after a HEAD that skips blobs the registry
//!   already has. Memory stays bounded, and a failed upload can start again from the file.
//! - A blob still being packed goes out in parts as they are written
//!   ([`Registry::push_blob_parts`]: the spec's chunked upload, 4 MiB PATCHes and a PUT),
//!   not retried; the caller falls back to the file upload above.
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

mod classify;
mod download;
mod manifest;

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use self::classify::{classify, Failure, FailureKind};
use self::download::lock;
use self::manifest::{check_digest, parse_manifest, ManifestIn};
use super::reference::WorkspaceRef;
use crate::core::error::Error;
use crate::core::http::{install_crypto_provider, USER_AGENT};
use crate::core::image_ref::ImageReference;
use crate::core::retry::{retry, RetryPolicy, Retryable, Step};

pub use self::download::BlobPulled;
pub use self::manifest::{
    created_annotation, is_sha256_digest, parse_source_date_epoch, sha256_digest,
    workspace_manifest, ExpiresAfter, LayerInfo, Resolved,
};

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

/// A client for one repository, with its credentials. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    client: Client,
    auth: RegistryAuth,
    repository: ImageReference,
    retry: RetryPolicy,
    /// Measured once, by the first [`Registry::round_trip`].
    round_trip: tokio::sync::OnceCell<Duration>,
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
            round_trip: tokio::sync::OnceCell::new(),
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

    /// Uploads a blob while it is still being written: each of `parts` goes out as it comes,
    /// as one chunk of an upload session (a PATCH with its Content-Range, then the PUT naming
    /// the digest: the OCI distribution spec's chunked upload). Not retried, as the parts
    /// cannot be replayed: on failure, the reason (never a credential or an upload URL), for
    /// the caller to upload the finished file with [`Registry::push_blob_file`] instead.
    /// Returns the digest and size of what the registry received.
    pub async fn push_blob_parts<S>(&self, parts: S) -> Result<(String, u64), String>
    where
        S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    {
        // The session opens with the first part, so a caller that drops this before then (the
        // registry had the blob) has opened none.
        let mut parts = Box::pin(parts);
        let first = match parts.next().await {
            Some(first) => first.map_err(|error| error.to_string())?,
            None => return Err("the blob is empty".to_owned()),
        };
        self.store_auth().await;
        let parts = futures_util::stream::once(async { Ok(first) })
            .chain(parts)
            .map_err(OciDistributionError::IoError);
        match self
            .client
            .push_blob_stream_chunked(&self.base(), parts)
            .await
        {
            Ok(pushed) => Ok((pushed.blob_digest, pushed.size)),
            Err(error) => Err(classify(error).detail),
        }
    }

    /// The registry's round trip: the quickest of three HEADs (the first may include a token
    /// exchange), measured on the first call.
    pub async fn round_trip(&self) -> anyhow::Result<Duration> {
        let measure = || async {
            let mut quickest = Duration::MAX;
            for _ in 0..3 {
                let started = std::time::Instant::now();
                self.has_blob(EMPTY_CONFIG_DIGEST).await?;
                quickest = quickest.min(started.elapsed());
            }
            anyhow::Ok(quickest)
        };
        self.round_trip.get_or_try_init(measure).await.copied()
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

    /// Makes sure the empty config blob (`{}`) is in the repository.
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
