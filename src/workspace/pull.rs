//! `workspace pull`: restore artifacts pushed by stepkit or by Trusted Artifacts.
//!
//! Every blob is downloaded to a temporary file and its digest verified before a byte of it is
//! unpacked; unpacking happens in a staging directory and only then moves into place, so a bad
//! blob or a hostile archive leaves the destination as it was.

use std::path::{Path, PathBuf};

use crate::core::error::Error;
use crate::workspace::archive::{unpack, Skipped, UnpackOptions};
use crate::workspace::auth::{credentials_for, AuthEnv};
use crate::workspace::reference::WorkspaceRef;
use crate::workspace::registry::{Registry, RegistryOptions, Resolved};

/// Trusted Artifacts' marker: a destination holding it is not restored into.
const SKIP_MARKER: &str = ".skip-trusted-artifacts";

#[derive(Debug, Clone)]
pub struct PullOptions {
    /// What to restore, and where.
    pub pairs: Vec<(String, PathBuf)>,
    pub preserve_special_bits: bool,
    pub temp_dir: PathBuf,
    pub registry: RegistryOptions,
    pub auth: AuthEnv,
}

/// What was restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    pub files: u64,
    pub bytes: u64,
    pub skipped: Vec<PathBuf>,
}

pub async fn pull(options: &PullOptions) -> anyhow::Result<Pulled> {
    let mut pulled = Pulled {
        files: 0,
        bytes: 0,
        skipped: Vec::new(),
    };
    for (reference, dest) in &options.pairs {
        if dest == Path::new("/") {
            return Err(Error::usage(format!(
                "{reference}: refusing to restore into / (give a directory)"
            ))
            .into());
        }
        if dest.join(SKIP_MARKER).exists() {
            tracing::info!(
                "{} holds {SKIP_MARKER}: not restoring {reference}",
                dest.display()
            );
            pulled.skipped.push(dest.clone());
            continue;
        }
        let parsed: WorkspaceRef = reference.parse()?;
        let auth = credentials_for(parsed.repository(), &options.auth)?;
        let registry = Registry::new(parsed.repository(), auth, &options.registry)?;
        let digests = match registry.resolve(&parsed).await? {
            Resolved::Blob { digest } => vec![digest],
            Resolved::Manifest { layers, .. } => layers.into_iter().map(|l| l.digest).collect(),
        };
        if digests.is_empty() {
            return Err(Error::usage(format!("{reference} holds no layer to restore")).into());
        }
        std::fs::create_dir_all(dest)
            .map_err(|err| Error::local_io(format!("cannot create {}: {err}", dest.display())))?;
        for digest in digests {
            let blob = tempfile::Builder::new()
                .prefix(".stepkit-blob-")
                .tempfile_in(&options.temp_dir)
                .map_err(|err| {
                    Error::local_io(format!(
                        "cannot create a temporary file in {}: {err}",
                        options.temp_dir.display()
                    ))
                })?
                .into_temp_path();
            let size = registry.pull_blob_to_file(&digest, &blob).await?;
            tracing::info!("downloaded {digest} ({size} bytes), digest verified");
            let unpacked = match unpack(
                &blob,
                dest,
                &UnpackOptions {
                    preserve_special_bits: options.preserve_special_bits,
                },
            ) {
                Ok(unpacked) => unpacked,
                Err(err) if err.downcast_ref::<Skipped>().is_some() => {
                    tracing::info!("{err}");
                    continue;
                }
                Err(err) => return Err(err),
            };
            pulled.files += unpacked.files;
            pulled.bytes += unpacked.bytes;
        }
        tracing::info!("restored {reference} into {}", dest.display());
    }
    Ok(pulled)
}
