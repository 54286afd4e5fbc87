//! The state record of a pulled workspace, and what changed in it since.
//!
//! `pull` writes, outside the tree, what it restored: each path with its type, mode, size,
//! times, inode and content digest (symlinks with their target), and the artifact it came from
//! (repository, manifest, layers). `push` of that directory walks the tree and compares, like
//! git's index: a file whose type, mode, size, mtime, ctime and inode are as recorded is
//! unchanged, without reading it. The racy case, a file changed in the same clock tick as it
//! was restored, is caught by the record's time: a file whose recorded ctime is within the file
//! system's timestamp granularity of that time is read and hashed again, and `--verify` hashes
//! every file. A change is never missed: anything a stat cannot prove unchanged is hashed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::core::error::{Error, Kind, ResultExt};
use crate::workspace::archive::{is_stepkit_temp, ExcludeSet, StagedEntry, StagedKind};
use crate::workspace::registry::{LayerInfo, Registry, Resolved};

/// The version of the record's format.
const STATE_VERSION: u32 = 1;
/// The largest state file read back (a record holds ~200 bytes per path).
const MAX_STATE_BYTES: u64 = 256 << 20;
/// Timestamp granularity assumed on file systems with nanosecond times (the kernel's coarse
/// clock ticks every 1 to 10 ms).
const FINE_GRANULARITY_NS: i64 = 50_000_000;
/// Timestamp granularity assumed where every recorded time is a whole second.
const COARSE_GRANULARITY_NS: i64 = 2_000_000_000;

/// Where the record goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StateChoice {
    /// Beside DEST: `.<name>.stepkit-state.json` in its parent directory.
    #[default]
    Beside,
    /// A file the user named.
    File(PathBuf),
    /// No record (`--no-state`).
    None,
}

/// A pulled workspace as it was restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// DEST, resolved.
    pub dest: PathBuf,
    /// `registry/repository` the artifact came from.
    pub repository: String,
    /// Its manifest digest (empty for a Trusted Artifacts blob).
    pub manifest: String,
    pub layers: Vec<LayerRecord>,
    /// When the record was made, in nanoseconds since the epoch.
    pub recorded_at_ns: i64,
    /// Files whose ctime is this close to `recorded_at_ns` are hashed again at push.
    pub racy_window_ns: i64,
    /// Every path restored, below DEST, `/`-separated.
    pub entries: BTreeMap<String, EntryRecord>,
}

/// A layer of the artifact a state came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    pub annotations: BTreeMap<String, String>,
}

impl LayerRecord {
    pub fn info(&self) -> LayerInfo {
        LayerInfo {
            digest: self.digest.clone(),
            size: self.size,
            media_type: self.media_type.clone(),
            annotations: self.annotations.clone(),
        }
    }
}

/// One restored path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    /// `f` file, `d` directory, `l` symlink.
    pub kind: char,
    pub mode: u32,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: u64,
    /// sha256 of a file's content.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// A symlink's target.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
}

/// The state file for DEST: the one named, or `.<name>.stepkit-state.json` beside it. A file
/// inside the tree is refused: it would travel with the workspace.
pub fn state_path(dest: &Path, choice: &StateChoice) -> anyhow::Result<PathBuf> {
    let absolute = std::path::absolute(dest).or_kind(Kind::LocalIo, || {
        format!("cannot resolve {}", dest.display())
    })?;
    let path = match choice {
        StateChoice::File(path) => std::path::absolute(path).or_kind(Kind::LocalIo, || {
            format!("cannot resolve --state-file {}", path.display())
        })?,
        _ => {
            let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name()) else {
                return Err(Error::usage(format!(
                    "{} has no parent directory to keep its state file in: pass --state-file or \
                     --no-state",
                    dest.display()
                ))
                .into());
            };
            let mut file = b".".to_vec();
            file.extend_from_slice(name.as_bytes());
            file.extend_from_slice(b".stepkit-state.json");
            parent.join(std::ffi::OsStr::from_bytes(&file))
        }
    };
    let tree = fs::canonicalize(&absolute).unwrap_or(absolute);
    let place = path
        .parent()
        .and_then(|parent| fs::canonicalize(parent).ok())
        .unwrap_or_else(|| path.clone());
    if place.starts_with(&tree) {
        return Err(Error::usage(format!(
            "--state-file {} is inside the workspace {}: it would be pushed with it; put it \
             outside (the default is beside the workspace)",
            path.display(),
            dest.display()
        ))
        .into());
    }
    Ok(path)
}

/// The record of what a pull just committed into `dest`.
pub fn record(
    dest: &Path,
    registry: &Registry,
    resolved: &Resolved,
    entries: &[StagedEntry],
) -> anyhow::Result<State> {
    let real = fs::canonicalize(dest).or_kind(Kind::LocalIo, || {
        format!("cannot resolve {}", dest.display())
    })?;
    let (manifest, layers) = match resolved {
        Resolved::Manifest { digest, layers, .. } => (
            digest.clone(),
            layers
                .iter()
                .map(|layer| LayerRecord {
                    digest: layer.digest.clone(),
                    size: layer.size,
                    media_type: layer.media_type.clone(),
                    annotations: layer.annotations.clone(),
                })
                .collect(),
        ),
        Resolved::Blob { .. } => (String::new(), Vec::new()),
    };
    let mut records = BTreeMap::new();
    let mut whole_seconds = true;
    for entry in entries {
        let Some(name) = entry.path.to_str() else {
            // A name JSON cannot hold exactly: without it the record would be wrong, so
            // there is none, and the next push sends the whole tree.
            tracing::warn!(
                "{} has a name that is not UTF-8: not recording the state of {}",
                entry.path.display(),
                dest.display()
            );
            return Ok(State {
                entries: BTreeMap::new(),
                manifest: String::new(),
                layers: Vec::new(),
                ..empty_state(real, registry)
            });
        };
        let path = real.join(&entry.path);
        let meta = fs::symlink_metadata(&path)
            .or_kind(Kind::LocalIo, || format!("cannot read {}", path.display()))?;
        let (kind, digest, target) = match &entry.kind {
            StagedKind::Directory => ('d', String::new(), String::new()),
            StagedKind::File { digest } => ('f', digest.clone(), String::new()),
            StagedKind::Symlink => {
                let target = fs::read_link(&path).or_kind(Kind::LocalIo, || {
                    format!("cannot read the symlink {}", path.display())
                })?;
                ('l', String::new(), target.to_string_lossy().into_owned())
            }
        };
        let ctime_ns = meta.ctime() * 1_000_000_000 + meta.ctime_nsec();
        whole_seconds &= meta.ctime_nsec() == 0;
        records.insert(
            name.to_owned(),
            EntryRecord {
                kind,
                mode: meta.mode() & 0o7777,
                size: if kind == 'f' { meta.len() } else { 0 },
                mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                ctime_ns,
                ino: meta.ino(),
                digest,
                target,
            },
        );
    }
    Ok(State {
        manifest,
        layers,
        racy_window_ns: if whole_seconds && !records.is_empty() {
            COARSE_GRANULARITY_NS
        } else {
            FINE_GRANULARITY_NS
        },
        entries: records,
        ..empty_state(real, registry)
    })
}

fn empty_state(dest: PathBuf, registry: &Registry) -> State {
    let repository = registry.repository();
    State {
        version: STATE_VERSION,
        dest,
        repository: format!("{}/{}", repository.registry, repository.repository),
        manifest: String::new(),
        layers: Vec::new(),
        recorded_at_ns: now_ns(),
        racy_window_ns: FINE_GRANULARITY_NS,
        entries: BTreeMap::new(),
    }
}

fn now_ns() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
}

/// Writes the record atomically.
pub fn save(path: &Path, state: &State) -> anyhow::Result<()> {
    // Streamed: the JSON of a large tree's record is as big as the record itself.
    crate::core::output::write_atomic_with(path, |out| {
        let mut out = std::io::BufWriter::new(out);
        serde_json::to_writer(&mut out, state)?;
        out.flush()
    })
}

/// Reads a record back: `None` when there is none. A file that is not a regular file, too
/// large or not a record is an error naming it.
pub fn load(path: &Path) -> anyhow::Result<Option<State>> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(anyhow::Error::new(error).context(Error::local_io(format!(
                "cannot read the state file {}",
                path.display()
            ))))
        }
    };
    if !meta.is_file() {
        return Err(Error::usage(format!(
            "the state file {} is not a regular file",
            path.display()
        ))
        .into());
    }
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|file| file.take(MAX_STATE_BYTES + 1).read_to_end(&mut bytes))
        .or_kind(Kind::LocalIo, || {
            format!("cannot read the state file {}", path.display())
        })?;
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(Error::usage(format!(
            "the state file {} is over {MAX_STATE_BYTES} bytes: not a state stepkit wrote",
            path.display()
        ))
        .into());
    }
    let state: State = serde_json::from_slice(&bytes).map_err(|error| {
        Error::usage(format!(
            "the state file {} is not a stepkit workspace state ({error}); remove it or pass \
             --no-state",
            path.display()
        ))
    })?;
    if state.version != STATE_VERSION {
        return Err(Error::usage(format!(
            "the state file {} has version {}, this stepkit reads {STATE_VERSION}",
            path.display(),
            state.version
        ))
        .into());
    }
    Ok(Some(state))
}

/// What a push of the tree must send on top of the recorded base.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Paths to pack (added or changed), `/`-separated below the root.
    pub include: HashSet<Vec<u8>>,
    /// Paths of the base to delete (the topmost of each deleted subtree, and paths whose type
    /// changed), sorted.
    pub whiteouts: Vec<Vec<u8>>,
    /// Files read and hashed because their stat could not prove them unchanged.
    pub hashed: u64,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.whiteouts.is_empty()
    }
}

/// Compares the tree at `root` (with `excludes` left out, as a push does) with `state`.
pub fn changes(
    root: &Path,
    state: &State,
    excludes: &ExcludeSet,
    verify: bool,
) -> anyhow::Result<Changes> {
    let mut changes = Changes::default();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut retyped: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut stack = vec![(root.to_path_buf(), Vec::<u8>::new())];
    while let Some((dir, rel_dir)) = stack.pop() {
        let listing_failed = || format!("cannot list the directory {}", dir.display());
        for entry in fs::read_dir(&dir).or_kind(Kind::LocalIo, listing_failed)? {
            let entry = entry.or_kind(Kind::LocalIo, listing_failed)?;
            let name = entry.file_name();
            if is_stepkit_temp(&name) {
                continue;
            }
            let path = entry.path();
            let mut rel = rel_dir.clone();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name.as_bytes());
            let meta = fs::symlink_metadata(&path)
                .or_kind(Kind::LocalIo, || format!("cannot read {}", path.display()))?;
            let file_type = meta.file_type();
            if excludes.matches(&rel, file_type.is_dir()) {
                continue;
            }
            let kind = if file_type.is_dir() {
                'd'
            } else if file_type.is_symlink() {
                'l'
            } else if file_type.is_file() {
                'f'
            } else {
                // Sockets, FIFOs and devices are never archived.
                continue;
            };
            if kind == 'd' {
                stack.push((path.clone(), rel.clone()));
            }
            let record = std::str::from_utf8(&rel)
                .ok()
                .and_then(|text| state.entries.get_key_value(text));
            let Some((key, record)) = record else {
                changes.include.insert(rel);
                continue;
            };
            seen.insert(key.as_str());
            if record.kind != kind {
                retyped.insert(rel.clone());
                changes.include.insert(rel);
                continue;
            }
            let changed = match kind {
                'd' => meta.mode() & 0o7777 != record.mode,
                'l' => {
                    let target = fs::read_link(&path).or_kind(Kind::LocalIo, || {
                        format!("cannot read the symlink {}", path.display())
                    })?;
                    target.as_os_str().as_bytes() != record.target.as_bytes()
                }
                _ => file_changed(&path, &meta, record, state, verify, &mut changes.hashed)?,
            };
            if changed {
                changes.include.insert(rel);
            }
        }
    }
    // Deleted: recorded, not seen; only the topmost of a deleted subtree needs a whiteout.
    let mut whiteouts: BTreeSet<Vec<u8>> = retyped;
    for key in state.entries.keys() {
        if seen.contains(key.as_str()) {
            continue;
        }
        let rel = key.as_bytes().to_vec();
        let covered = whiteouts
            .iter()
            .any(|top| rel.len() > top.len() && rel.starts_with(top) && rel[top.len()] == b'/');
        if !covered {
            whiteouts.insert(rel);
        }
    }
    // A retyped directory's old children are covered by its whiteout too.
    let tops: Vec<Vec<u8>> = whiteouts.iter().cloned().collect();
    whiteouts.retain(|rel| {
        !tops
            .iter()
            .any(|top| rel.len() > top.len() && rel.starts_with(top) && rel[top.len()] == b'/')
    });
    changes.whiteouts = whiteouts.into_iter().collect();
    Ok(changes)
}

/// Whether a regular file differs from its record: by stat when that proves it the same,
/// else by its content's digest.
fn file_changed(
    path: &Path,
    meta: &fs::Metadata,
    record: &EntryRecord,
    state: &State,
    verify: bool,
    hashed: &mut u64,
) -> anyhow::Result<bool> {
    if meta.mode() & 0o7777 != record.mode || meta.len() != record.size {
        return Ok(true);
    }
    let mtime_ns = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
    let ctime_ns = meta.ctime() * 1_000_000_000 + meta.ctime_nsec();
    let same_stat =
        mtime_ns == record.mtime_ns && ctime_ns == record.ctime_ns && meta.ino() == record.ino;
    let racy = record.ctime_ns.saturating_add(state.racy_window_ns) >= state.recorded_at_ns;
    if same_stat && !racy && !verify {
        return Ok(false);
    }
    *hashed += 1;
    Ok(file_digest(path, meta.len())? != record.digest)
}

/// `sha256:<hex>` of a file's content; `size` (from its stat) sizes the read buffer, since a
/// push after a pull hashes hundreds of small files and a fixed 256 KiB buffer zeroed for each
/// cost more than hashing them.
pub fn file_digest(path: &Path, size: u64) -> anyhow::Result<String> {
    let mut file =
        File::open(path).or_kind(Kind::LocalIo, || format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    // One byte more than the file, so a file read whole sees its end in the second read.
    let capacity = usize::try_from(size.saturating_add(1)).unwrap_or(usize::MAX);
    let mut buffer = vec![0u8; capacity.clamp(4096, 256 * 1024)];
    loop {
        let read = file
            .read(&mut buffer)
            .or_kind(Kind::LocalIo, || format!("cannot read {}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(format!("sha256:{:x}", hasher.finalize()))
}
