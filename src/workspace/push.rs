//! `workspace push`: pack directories (or files) and push them as OCI artifacts.
//!
//! Two forms. stepkit's own: one OCI 1.1 artifact per source (zstd by default), referenced as
//! `REPO@sha256:<manifest digest>`. The Trusted Artifacts form: gzip tarballs as the layers of one
//! artifact, each referenced as `oci:REPO@sha256:<blob digest>`, which an unmodified Trusted
//! Artifacts `use` step restores. Either way the manifest goes last, so a push cut short leaves
//! blobs nobody references rather than an artifact missing its content.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::core::error::Error;
use crate::core::image_ref::ImageReference;
use crate::core::tekton::{self, Budget, ResultFile};
use crate::workspace::archive::{pack, Compression, PackOptions, Packed, Skipped};
use crate::workspace::auth::{credentials_for, AuthEnv};
use crate::workspace::reference::fill_placeholder;
use crate::workspace::registry::{
    created_annotation, sha256_digest, workspace_manifest, LayerInfo, Registry, RegistryOptions,
};

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
    /// `REGISTRY/REPO[:TAG]`, `{{workspace}}` allowed.
    pub to: String,
    pub workspace_name: Option<String>,
    pub compression: Compression,
    /// The Trusted Artifacts form: gzip blobs referenced by blob digest.
    pub trusted_artifacts: bool,
    pub excludes: Vec<String>,
    pub expires_after: Option<String>,
    /// `SOURCE_DATE_EPOCH`: the artifact's creation time; unset, a fixed one, so equal trees
    /// give equal digests.
    pub source_date_epoch: Option<String>,
    pub temp_dir: PathBuf,
    pub results_dir: Option<PathBuf>,
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
    let name = workspace_name(options);
    let target = fill_placeholder(&options.to, &name);
    let reference: ImageReference = target
        .parse()
        .map_err(|reason: String| Error::usage(format!("--to: {reason}")))?;
    if reference.digest.is_some() {
        return Err(Error::usage(format!(
            "--to {target}: a push names a repository and optionally a tag, not a digest"
        ))
        .into());
    }
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

    let mut packed = Vec::new();
    let mut pushed_sources = Vec::new();
    for source in &options.sources {
        match pack_source(source, compression, options) {
            Ok(packed_source) => {
                packed.push(packed_source);
                pushed_sources.push(source);
            }
            // `.skip-trusted-artifacts` in the source: nothing to push, as Trusted Artifacts does.
            Err(err) if err.downcast_ref::<Skipped>().is_some() => tracing::info!("{err}"),
            Err(err) => return Err(err),
        }
    }
    if packed.is_empty() {
        return Ok(Pushed {
            references: Vec::new(),
            uploaded: 0,
        });
    }
    let mut uploaded = 0;
    for (_, layer) in &packed {
        if registry
            .push_blob_file(&layer.path, &layer.digest, layer.size)
            .await?
        {
            uploaded += 1;
        }
    }

    let created = created_annotation(options.source_date_epoch.as_deref())?;
    let mut annotations = BTreeMap::new();
    if let Some(expires) = &options.expires_after {
        annotations.insert("quay.expires-after".to_owned(), expires.clone());
    }
    let repo_text = format!("{}/{}", repository.registry, repository.repository);
    let references: Vec<String> = if options.trusted_artifacts {
        let layers: Vec<LayerInfo> = packed
            .iter()
            .map(|(title, p)| layer_info(title, p, compression))
            .collect();
        let manifest = workspace_manifest(&layers, &created, &annotations);
        let tags = tags_for(&reference, &manifest);
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
            let mut tags = tags_for(&reference, &manifest);
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

fn workspace_name(options: &PushOptions) -> String {
    options.workspace_name.clone().unwrap_or_else(|| {
        options.sources[0]
            .path
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "workspace".to_owned())
    })
}

fn pack_source(
    source: &Source,
    compression: Compression,
    options: &PushOptions,
) -> anyhow::Result<(String, Packed)> {
    let title = source
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "workspace".to_owned());
    let packed = pack(
        &source.path,
        &options.temp_dir,
        &PackOptions {
            excludes: options.excludes.clone(),
            compression,
            threads: 0,
        },
    )?;
    tracing::info!(
        "packed {} ({} files, {} bytes, {} compressed)",
        source.path.display(),
        packed.files,
        packed.uncompressed_size,
        packed.size
    );
    Ok((title, packed))
}

fn layer_info(title: &str, packed: &Packed, compression: Compression) -> LayerInfo {
    LayerInfo::workspace_layer(
        packed.digest.clone(),
        packed.size,
        compression.media_type(),
        title,
        &packed.uncompressed_digest,
    )
    .with_uncompressed_size(packed.uncompressed_size)
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
            ResultTarget::File(path) => tekton::write_atomic(path, reference.as_bytes())?,
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
