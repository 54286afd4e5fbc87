//! `workspace pull`: restore artifacts pushed by stepkit or by Trusted Artifacts.
//!
//! Each blob is unpacked as it downloads, into a staging directory beside the destination; the
//! layers of an artifact stack there in order (whiteouts of a layer deleting what the layers
//! below put there), and the whole moves into place only once every blob was read and its
//! digest matched. A corrupted download, a hostile archive, a blob over the unpack budget or a
//! failure half way leaves the destination as it was; nothing is spooled to disk and memory
//! stays a few buffers. A pull of a stepkit artifact records what it restored in a state file
//! outside the tree (`state`), so that a push of the directory sends only what changed.

use std::path::{Path, PathBuf};

use crate::core::error::Error;
use crate::workspace::archive::{
    Skipped, Staged, UnpackBudget, UnpackOptions, DEFAULT_MAX_UNPACK_SIZE, SKIP_MARKER,
};
use crate::workspace::auth::{credentials_for, AuthEnv};
use crate::workspace::reference::WorkspaceRef;
use crate::workspace::registry::{LayerInfo, Registry, RegistryOptions, Resolved};
use crate::workspace::state::{self, StateChoice};

/// Bytes in flight between the download and the unpacker.
const PIPE_BUFFER: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct PullOptions {
    /// What to restore, and where.
    pub pairs: Vec<(WorkspaceRef, PathBuf)>,
    pub preserve_special_bits: bool,
    /// Bytes one pair may write in all (`--max-size`); unset, the uncompressed size its
    /// manifest annotates, else [`DEFAULT_MAX_UNPACK_SIZE`].
    pub max_size: Option<u64>,
    /// Bytes one file may hold (`--max-file-size`); unset, the same as the whole.
    pub max_file_size: Option<u64>,
    /// Where to record what was restored, for a later incremental push.
    pub state: StateChoice,
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
        let auth = credentials_for(reference.repository(), &options.auth)?;
        let registry = Registry::new(reference.repository(), auth, &options.registry)?;
        let resolved = registry.resolve(reference).await?;
        let budget = budget_for(options, &resolved);
        let layers: Vec<(String, Option<u64>)> = match &resolved {
            Resolved::Blob { digest } => vec![(digest.clone(), None)],
            Resolved::Manifest { layers, .. } => layers
                .iter()
                .map(|layer| (layer.digest.clone(), Some(layer.size)))
                .collect(),
        };
        if layers.is_empty() {
            return Err(Error::usage(format!("{reference} holds no layer to restore")).into());
        }
        // Only stepkit's own artifacts can be a base to push on; a Trusted Artifacts blob is
        // pushed whole anyway.
        let state_path = match (&options.state, &resolved) {
            (StateChoice::None, _) | (_, Resolved::Blob { .. }) => None,
            (choice, _) => Some(state::state_path(dest, choice)?),
        };
        let unpack = UnpackOptions {
            preserve_special_bits: options.preserve_special_bits,
            budget,
            record: state_path.is_some(),
        };
        let mut staged = match Staged::start(dest, &unpack) {
            Ok(staged) => staged,
            Err(err) if err.downcast_ref::<Skipped>().is_some() => {
                tracing::info!("{err}");
                pulled.skipped.push(dest.clone());
                continue;
            }
            Err(err) => return Err(err),
        };
        // Every layer of the stack is staged and verified before anything reaches DEST.
        for (digest, size) in &layers {
            staged = pull_layer(&registry, digest, *size, staged).await?;
        }
        let unpacked = match &state_path {
            Some(path) => {
                let (unpacked, entries) = staged.commit_recorded()?;
                // The workspace is in place: a record that cannot be written costs the next
                // push its shortcut, not this pull its result.
                match state::record(dest, &registry, &resolved, &entries)
                    .and_then(|record| state::save(path, &record))
                {
                    Ok(()) => tracing::info!(
                        "recorded what was restored in {} (a push of {} sends only what changed)",
                        path.display(),
                        dest.display()
                    ),
                    Err(error) => tracing::warn!(
                        "cannot record the state of {} in {}: {error:#}; a push of it will send \
                         the whole tree",
                        dest.display(),
                        path.display()
                    ),
                }
                unpacked
            }
            None => staged.commit()?,
        };
        pulled.files += unpacked.files;
        pulled.bytes += unpacked.bytes;
        tracing::info!("restored {reference} into {}", dest.display());
    }
    Ok(pulled)
}

/// The limits of one pair: the flags, else what the manifest says the layers hold unpacked
/// (their tar streams, which are never smaller than the files in them), else the default.
fn budget_for(options: &PullOptions, resolved: &Resolved) -> UnpackBudget {
    let annotated = match resolved {
        Resolved::Manifest { layers, .. } => layers
            .iter()
            .map(LayerInfo::uncompressed_size)
            .sum::<Option<u64>>(),
        Resolved::Blob { .. } => None,
    };
    let (max_size, origin) = match (options.max_size, annotated) {
        (Some(max), _) => (max, "set by --max-size"),
        (None, Some(annotated)) => (
            annotated,
            "the uncompressed size the manifest annotates (--max-size overrides it)",
        ),
        (None, None) => (
            DEFAULT_MAX_UNPACK_SIZE,
            "the default --max-size for an artifact without an annotated size",
        ),
    };
    UnpackBudget {
        max_size,
        max_file_size: options.max_file_size.unwrap_or(max_size),
        written_before: 0,
        origin,
    }
}

/// Downloads one layer into an unpacker running beside the download, on top of what
/// `staged` holds; returns the stack once the layer's digest checked out.
async fn pull_layer(
    registry: &Registry,
    digest: &str,
    size: Option<u64>,
    mut staged: Staged,
) -> anyhow::Result<Staged> {
    let (mut writer, reader) = tokio::io::duplex(PIPE_BUFFER);
    let reader = tokio_util::io::SyncIoBridge::new(reader);
    let label = format!("blob {digest}");
    let unpacker = tokio::task::spawn_blocking(move || {
        staged.add(reader, &label, size)?;
        anyhow::Ok(staged)
    });
    let download = registry.pull_blob_into(digest, &mut writer).await;
    // End of input for the unpacker, whether the download finished or not.
    drop(writer);
    let staged = unpacker
        .await
        .map_err(|error| anyhow::anyhow!("the unpacker of {digest} stopped: {error}"))?;
    // A download that failed (digest mismatch, not found, connection) explains whatever the
    // unpacker made of the bytes it got, so its error comes first.
    let pulled = download?;
    let staged = staged?;
    if let Some(error) = pulled.sink_error {
        return Err(Error::local_io(format!("unpacking {digest}: {error}")).into());
    }
    tracing::info!(
        "downloaded {digest} ({} bytes), digest verified",
        pulled.size
    );
    Ok(staged)
}
