//! `workspace push`: pack directories (or files) and push them as OCI artifacts.
//!
//! Two forms. stepkit's own: one OCI 1.1 artifact per source (zstd by default), referenced as
//! `REPO@sha256:<manifest digest>`. The Trusted Artifacts form: gzip tarballs as the layers of one
//! artifact, each referenced as `oci:REPO@sha256:<blob digest>`, which an unmodified Trusted
//! Artifacts `use` step restores. Either way the manifest goes last, so a push cut short leaves
//! blobs nobody references rather than an artifact missing its content. A blob is uploaded
//! while it is packed, each part as the compressor writes it.
//!
//! A directory that a pull restored (its state record beside it, see `state`) is pushed
//! incrementally in stepkit's form: what changed since, with whiteouts for what was deleted, as
//! one layer on the layers it was pulled from, which are reused where they are (mounted from
//! the repository they came from when that is another one). No record, a base no longer
//! complete in the registry, or `--max-layers` reached: the whole tree, and a line says why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::core::error::Error;
use crate::core::image_ref::ImageReference;
use crate::core::tekton::{self, Budget, ResultFile};
use crate::workspace::archive::{
    pack, pack_spooled, Compression, Delta, ExcludeSet, PackOptions, Packed, Skipped, Spool,
};
use crate::workspace::auth::{credentials_for, AuthEnv};
use crate::workspace::reference::fill_placeholder;
use crate::workspace::registry::{
    created_annotation, sha256_digest, workspace_manifest, ExpiresAfter, LayerInfo, Registry,
    RegistryOptions, ANNOTATION_BASE_DIGEST,
};
use crate::workspace::state::{self, Changes, State, StateChoice};

/// Bytes of the blob sent per request when uploading while packing: the chunk size of the
/// registry client's chunked upload.
const UPLOAD_PART: usize = 4 * 1024 * 1024;

/// The longest registry round trip at which a blob is uploaded while it is packed. Each part
/// costs a round trip or two, and packing a part takes some 25–40 ms on 2 cores: farther away,
/// the parts' round trips cost more than the overlap saves (at 50 ms, a 300 MB push took 5.7 s
/// in parts against 2.9 s whole), and the finished file goes in one request.
const MAX_ROUND_TRIP_FOR_PARTS: std::time::Duration = std::time::Duration::from_millis(10);

/// Where a pinned reference goes once pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultTarget {
    /// A file, e.g. `$(results.SOURCE_ARTIFACT.path)` as Trusted Artifacts takes it.
    File(PathBuf),
    /// A result name in the results directory.
    Named(String),
}

/// One thing to push and where its reference goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    pub results: Vec<ResultTarget>,
}

#[derive(Debug, Clone)]
pub struct PushOptions {
    pub sources: Vec<Source>,
    /// Where to push: a repository and optionally a tag, never a digest ([`push_target`]).
    pub to: ImageReference,
    pub compression: Compression,
    /// The Trusted Artifacts form: gzip blobs referenced by blob digest.
    pub trusted_artifacts: bool,
    pub excludes: Vec<String>,
    pub expires_after: Option<ExpiresAfter>,
    /// `SOURCE_DATE_EPOCH`: the artifact's creation time; `None`, a fixed one, so equal trees
    /// give equal digests.
    pub created: Option<time::OffsetDateTime>,
    pub temp_dir: PathBuf,
    pub results_dir: Option<PathBuf>,
    /// The record a pull of the source left (`--state-file`, `--no-state`): with it, only
    /// what changed is packed, as a layer on the pulled artifact's layers.
    pub state: StateChoice,
    /// Hash every file rather than trusting an unchanged stat (`--verify`).
    pub verify: bool,
    /// Most layers an artifact may have; past it the whole tree is pushed as one.
    pub max_layers: usize,
    /// Keep files' mtimes in the archive (`--preserve-mtime`); by default every mtime is 0.
    pub preserve_mtime: bool,
    pub registry: RegistryOptions,
    pub auth: AuthEnv,
}

/// What was pushed: the pinned reference of each source, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub references: Vec<String>,
    /// Blobs actually uploaded (0 when the registry had them all).
    pub uploaded: usize,
}

pub async fn push(options: &PushOptions) -> anyhow::Result<Pushed> {
    if options.sources.is_empty() {
        return Err(Error::usage("nothing to push: give a PATH or RESULT=PATH pairs").into());
    }
    let reference = &options.to;
    let repository = ImageReference {
        tag: None,
        digest: None,
        ..reference.clone()
    };
    let auth = credentials_for(&repository, &options.auth)?;
    let registry = Registry::new(&repository, auth, &options.registry)?;
    let compression = if options.trusted_artifacts {
        Compression::Gzip
    } else {
        options.compression
    };

    if !options.trusted_artifacts && options.sources.len() == 1 {
        if let Some(pushed) = push_incremental(options, &registry, reference, compression).await? {
            return Ok(pushed);
        }
    }

    let mut packed = Vec::new();
    let mut pushed_sources = Vec::new();
    let mut uploaded = 0;
    for source in &options.sources {
        if let Some((packed_source, sent)) =
            pack_and_upload(source, compression, options, &registry).await?
        {
            packed.push(packed_source);
            pushed_sources.push(source);
            uploaded += usize::from(sent);
        }
    }
    if packed.is_empty() {
        return Ok(Pushed {
            references: Vec::new(),
            uploaded: 0,
        });
    }

    let created = created_annotation(options.created);
    let mut annotations = BTreeMap::new();
    if let Some(expires) = &options.expires_after {
        annotations.insert("quay.expires-after".to_owned(), expires.as_str().to_owned());
    }
    let repo_text = format!("{}/{}", repository.registry, repository.repository);
    let references: Vec<String> = if options.trusted_artifacts {
        let layers: Vec<LayerInfo> = packed
            .iter()
            .map(|(title, p)| layer_info(title, p, compression))
            .collect();
        let manifest = workspace_manifest(&layers, &created, &annotations);
        let tags = tags_for(reference, &manifest);
        registry.push_manifest(&manifest, &tags).await?;
        packed
            .iter()
            .map(|(_, p)| format!("oci:{repo_text}@{}", p.digest))
            .collect()
    } else {
        let mut references = Vec::new();
        for (index, (title, layer)) in packed.iter().enumerate() {
            let manifest = workspace_manifest(
                &[layer_info(title, layer, compression)],
                &created,
                &annotations,
            );
            let mut tags = tags_for(reference, &manifest);
            if packed.len() > 1 && reference.tag.is_some() {
                // One tag per source, so several sources in one call never overwrite each other.
                tags = tags
                    .into_iter()
                    .map(|tag| format!("{tag}-{}", index + 1))
                    .collect();
            }
            let digest = registry.push_manifest(&manifest, &tags).await?;
            references.push(format!("{repo_text}@{digest}"));
        }
        references
    };

    for (source, reference) in pushed_sources.iter().zip(&references) {
        write_reference(source, reference, options.results_dir.as_deref())?;
        tracing::info!("pushed {} as {reference}", source.path.display());
    }
    Ok(Pushed {
        references,
        uploaded,
    })
}

/// The `--to` reference of a push: `template` with `{{workspace}}` filled by `workspace_name`
/// (by default the first source's base name), a repository and optionally a tag.
pub fn push_target(
    template: &str,
    workspace_name: Option<&str>,
    first_source: &Path,
) -> Result<ImageReference, Error> {
    let name = workspace_name.map(str::to_owned).unwrap_or_else(|| {
        first_source
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "workspace".to_owned())
    });
    let target = fill_placeholder(template, &name);
    let reference: ImageReference = target
        .parse()
        .map_err(|reason: String| Error::usage(format!("--to {target:?}: {reason}")))?;
    if reference.digest.is_some() {
        return Err(Error::usage(format!(
            "--to {target}: a push names a repository and optionally a tag, not a digest"
        )));
    }
    Ok(reference)
}

/// Packs `source` and uploads its blob at the same time when the registry is near (see
/// [`MAX_ROUND_TRIP_FOR_PARTS`]): each part of the blob file goes to the registry as soon as
/// the compressor has written it, so the push takes about as long as the slower of the two,
/// not their sum. Once packed, a blob the registry already has stops the upload before it is
/// committed; a streamed upload that failed is done again from the finished file. Returns the
/// title and the packed blob, and whether it was uploaded, or `None` for a source that asks to
/// be skipped.
async fn pack_and_upload(
    source: &Source,
    compression: Compression,
    options: &PushOptions,
    registry: &Registry,
) -> anyhow::Result<Option<((String, Packed), bool)>> {
    let spool = Spool::new();
    let packing = {
        let (path, temp_dir) = (source.path.clone(), options.temp_dir.clone());
        let pack_options = PackOptions {
            excludes: options.excludes.clone(),
            compression,
            threads: 0,
            delta: None,
            preserve_mtime: options.preserve_mtime,
            // Trusted Artifacts' layers carry no such annotation: not worth hashing for.
            tar_digest: !options.trusted_artifacts,
        };
        let spool = Arc::clone(&spool);
        tokio::task::spawn_blocking(move || {
            let packed = pack_spooled(&path, &temp_dir, &pack_options, Some(Arc::clone(&spool)));
            spool.abandon("nothing was packed");
            packed
        })
    };
    tokio::pin!(packing);
    let round_trip = registry.round_trip().await?;
    let (packed, sent) = if round_trip > MAX_ROUND_TRIP_FOR_PARTS {
        tracing::info!(
            "{} answers in {} ms: uploading the blob once it is packed, in one request",
            registry.repository(),
            round_trip.as_millis()
        );
        (packed_or_skipped(source, packing.await)?, None)
    } else {
        upload_in_parts(source, registry, spool, packing).await?
    };
    let Some(packed) = packed else {
        return Ok(None);
    };
    let sent = match sent {
        Some(sent) => sent,
        None => {
            registry
                .push_blob_file(&packed.path, &packed.digest, packed.size)
                .await?
        }
    };
    Ok(Some(((title_of(source), packed), sent)))
}

/// Uploads the blob in parts as `packing` writes them to `spool`'s file. Returns the packed
/// blob (`None`: the source was skipped) and whether the parts were committed (`Some(false)`:
/// the registry had the blob already), or `None` when the finished file is to be uploaded
/// instead.
async fn upload_in_parts(
    source: &Source,
    registry: &Registry,
    spool: Arc<Spool>,
    mut packing: Pin<&mut JoinHandle<anyhow::Result<Packed>>>,
) -> anyhow::Result<(Option<Packed>, Option<bool>)> {
    let upload = registry.push_blob_parts(spool.parts(UPLOAD_PART));
    tokio::pin!(upload);
    let mut streamed = None;
    let packed = loop {
        tokio::select! {
            packed = &mut packing => break packed,
            result = &mut upload, if streamed.is_none() => streamed = Some(result),
        }
    };
    let Some(packed) = packed_or_skipped(source, packed)? else {
        return Ok((None, None));
    };
    let streamed = match streamed {
        Some(result) => result,
        // The upload waits while the registry is asked for the blob: the last part and the
        // commit are sent only when it is missing.
        None if registry.has_blob(&packed.digest).await? => {
            tracing::info!(
                "blob {} is already in {}; not uploading the rest of it",
                packed.digest,
                registry.repository()
            );
            return Ok((Some(packed), Some(false)));
        }
        None => upload.await,
    };
    match streamed {
        Ok((digest, size)) if digest == packed.digest && size == packed.size => {
            tracing::info!(
                "uploaded blob {digest} ({size} bytes) to {} while packing",
                registry.repository()
            );
            return Ok((Some(packed), Some(true)));
        }
        Ok((digest, size)) => tracing::warn!(
            "the registry received {digest} ({size} bytes) while packing, not the packed {} ({} bytes); uploading the packed file",
            packed.digest,
            packed.size
        ),
        Err(reason) => {
            tracing::info!("uploading while packing failed ({reason}); uploading the packed file")
        }
    }
    Ok((Some(packed), None))
}

/// The outcome of the packing task: the packed blob, logged, or `None` for a source with
/// `.skip-trusted-artifacts` (nothing to push, as Trusted Artifacts does).
fn packed_or_skipped(
    source: &Source,
    outcome: Result<anyhow::Result<Packed>, tokio::task::JoinError>,
) -> anyhow::Result<Option<Packed>> {
    let packed = match outcome
        .map_err(|error| Error::local_io(format!("packing {}: {error}", source.path.display())))?
    {
        Ok(packed) => packed,
        Err(err) if err.downcast_ref::<Skipped>().is_some() => {
            tracing::info!("{err}");
            return Ok(None);
        }
        Err(err) => return Err(err),
    };
    tracing::info!(
        "packed {} ({} files, {} bytes, {} compressed)",
        source.path.display(),
        packed.files,
        packed.uncompressed_size,
        packed.size
    );
    Ok(Some(packed))
}

/// A layer's title: the source's base name.
fn title_of(source: &Source) -> String {
    source
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "workspace".to_owned())
}

fn layer_info(title: &str, packed: &Packed, compression: Compression) -> LayerInfo {
    let layer = LayerInfo::titled(
        packed.digest.clone(),
        packed.size,
        compression.media_type(),
        title,
    )
    .with_uncompressed_size(packed.uncompressed_size);
    match &packed.uncompressed_digest {
        Some(digest) => layer.with_uncompressed_digest(digest),
        None => layer,
    }
}

/// The tag from `--to`, or else one derived from the content, so the artifact is never an
/// untagged manifest a registry may collect, and two different contents never share a tag.
fn tags_for(reference: &ImageReference, manifest: &[u8]) -> Vec<String> {
    match &reference.tag {
        Some(tag) => vec![tag.clone()],
        None => {
            vec![sha256_digest(manifest).replace(':', "-")]
        }
    }
}

fn write_reference(
    source: &Source,
    reference: &str,
    results_dir: Option<&Path>,
) -> anyhow::Result<()> {
    for target in &source.results {
        match target {
            ResultTarget::File(path) => {
                crate::core::output::write_atomic(path, reference.as_bytes())?
            }
            ResultTarget::Named(name) => {
                let Some(dir) = tekton::results_dir(results_dir) else {
                    return Err(Error::usage(format!(
                        "--result-name {name}: no results directory (--results-dir, RESULTS_DIR or /tekton/results)"
                    ))
                    .into());
                };
                tekton::write_results(
                    Budget::default(),
                    &[ResultFile::in_dir(&dir, name, reference.to_owned())],
                )?;
            }
        }
    }
    Ok(())
}

/// A push of one directory pulled with a state record: only what changed since, as one layer
/// on the layers it was pulled from. `None` when there is no usable base (no record, another
/// directory's, a base no longer complete in the registry, or one with `--max-layers` layers
/// already): the caller pushes the whole tree, and the reason was logged.
async fn push_incremental(
    options: &PushOptions,
    registry: &Registry,
    reference: &ImageReference,
    compression: Compression,
) -> anyhow::Result<Option<Pushed>> {
    let source = &options.sources[0];
    if options.state == StateChoice::None || !source.path.is_dir() {
        return Ok(None);
    }
    let state_path = state::state_path(&source.path, &options.state)?;
    let Some(mut base) = state::load(&state_path)? else {
        tracing::debug!(
            "no state file {}: pushing the whole tree",
            state_path.display()
        );
        return Ok(None);
    };
    if !base_fits(options, &base, &state_path) {
        return Ok(None);
    }
    let excludes = ExcludeSet::new(&options.excludes)?;
    // The registry is asked for the base's layers while the tree is compared with its record:
    // over a real network those round trips take longer than the comparison. The per-path
    // record, most of a state's memory, goes with the comparison and is freed before packing.
    let entries = std::mem::take(&mut base.entries);
    let head = base.clone();
    base.entries = entries;
    let comparing = {
        let root = source.path.clone();
        let verify = options.verify;
        tokio::task::spawn_blocking(move || state::changes(&root, &base, &excludes, verify))
    };
    let (in_registry, compared) =
        tokio::join!(base_in_registry(options, registry, &head), comparing);
    if !in_registry? {
        return Ok(None);
    }
    let changes: Changes = compared
        .map_err(|error| anyhow::anyhow!("comparing the tree with its state stopped: {error}"))??;
    let base = head;
    let mut layers: Vec<LayerInfo> = base.layers.iter().map(|layer| layer.info()).collect();
    let mut uploaded = 0;
    if changes.is_empty() {
        tracing::info!(
            "{} is unchanged since it was pulled ({} files hashed to be sure): pushing the \
             same layers, no new blob",
            source.path.display(),
            changes.hashed
        );
    } else {
        tracing::info!(
            "{} changed since it was pulled from {}: {} paths added or changed, {} deleted \
             ({} files hashed); pushing them as one layer on its {} layers",
            source.path.display(),
            base.manifest,
            changes.include.len(),
            changes.whiteouts.len(),
            changes.hashed,
            layers.len()
        );
        let packed = pack(
            &source.path,
            &options.temp_dir,
            &PackOptions {
                excludes: options.excludes.clone(),
                compression,
                threads: 0,
                delta: Some(Delta {
                    include: changes.include,
                    whiteouts: changes.whiteouts,
                }),
                preserve_mtime: options.preserve_mtime,
                tar_digest: true,
            },
        )?;
        tracing::info!(
            "packed the changes of {} ({} files, {} bytes, {} compressed)",
            source.path.display(),
            packed.files,
            packed.uncompressed_size,
            packed.size
        );
        if registry
            .push_blob_file(&packed.path, &packed.digest, packed.size)
            .await?
        {
            uploaded += 1;
        }
        let title = source
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "workspace".to_owned());
        layers.push(layer_info(&title, &packed, compression));
    }
    let created = created_annotation(options.created);
    let mut annotations = BTreeMap::new();
    if let Some(expires) = &options.expires_after {
        annotations.insert("quay.expires-after".to_owned(), expires.as_str().to_owned());
    }
    annotations.insert(ANNOTATION_BASE_DIGEST.to_owned(), base.manifest.clone());
    let manifest = workspace_manifest(&layers, &created, &annotations);
    let tags = tags_for(reference, &manifest);
    let digest = registry.push_manifest(&manifest, &tags).await?;
    let repository = registry.repository();
    let pinned = format!("{}/{}@{digest}", repository.registry, repository.repository);
    write_reference(source, &pinned, options.results_dir.as_deref())?;
    tracing::info!(
        "pushed {} as {pinned} ({} layers)",
        source.path.display(),
        layers.len()
    );
    Ok(Some(Pushed {
        references: vec![pinned],
        uploaded,
    }))
}

/// Whether the recorded base can carry a new layer here: it is this directory's and has room
/// under `--max-layers`.
fn base_fits(options: &PushOptions, base: &State, state_path: &Path) -> bool {
    let source = &options.sources[0].path;
    let here = std::fs::canonicalize(source).unwrap_or_else(|_| source.clone());
    if base.dest != here || base.manifest.is_empty() || base.layers.is_empty() {
        tracing::info!(
            "the state file {} is not a record of {} pulled from a stepkit artifact: pushing the \
             whole tree",
            state_path.display(),
            source.display()
        );
        return false;
    }
    if base.layers.len() + 1 > options.max_layers {
        tracing::info!(
            "squashing: {} on its {} layers would pass --max-layers {}; pushing the whole tree \
             as one layer",
            source.display(),
            base.layers.len(),
            options.max_layers
        );
        return false;
    }
    true
}

/// Whether every layer of the recorded base is in the target repository (mounted from the
/// repository it was pulled from when that is another one of the same registry).
async fn base_in_registry(
    options: &PushOptions,
    registry: &Registry,
    base: &State,
) -> anyhow::Result<bool> {
    let source = &options.sources[0].path;
    let repository = registry.repository();
    let here_repo = format!("{}/{}", repository.registry, repository.repository);
    let other_repo = base
        .repository
        .strip_prefix(&format!("{}/", repository.registry))
        .filter(|_| base.repository != here_repo);
    for layer in &base.layers {
        if registry.has_blob(&layer.digest).await? {
            continue;
        }
        if let Some(from) = other_repo {
            if registry.mount_blob(&layer.digest, from).await? {
                tracing::info!("mounted {} from {from} into {here_repo}", layer.digest);
                continue;
            }
        }
        if base.repository != here_repo && other_repo.is_none() {
            tracing::info!(
                "{} was pulled from {}, another registry than {here_repo}'s, whose layers cannot \
                 be mounted here: pushing the whole tree",
                source.display(),
                base.repository
            );
        } else {
            tracing::info!(
                "the base {} that {} was pulled from is no longer complete in {here_repo} (layer \
                 {} is missing: garbage-collected or expired?): pushing the whole tree",
                base.manifest,
                source.display(),
                layer.digest
            );
        }
        return Ok(false);
    }
    Ok(true)
}
