//! [`stage`] and [`unpack`]: an archive read, decompressed and checked into a staging
//! directory; [`Staged::commit`] moves it into DEST.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::core::error::{Error, Kind, ResultExt};
use crate::core::progress::Transfer;

use super::budget::free_space;
use super::commit::Target;
use super::extract::Extractor;
use super::pipes::{ProgressReader, ReadAhead};
use super::{
    detect_compression, looks_like_tar, skip_requested, skipped, Compression, UnpackOptions,
    Unpacked, IO_BUFFER,
};

/// Unpacks a zstd, gzip or plain tar blob file into `dest`, creating it if needed: [`stage`]
/// then [`Staged::commit`].
pub fn unpack(blob: &Path, dest: &Path, options: &UnpackOptions) -> anyhow::Result<Unpacked> {
    let file = File::open(blob).or_kind(Kind::LocalIo, || {
        format!("cannot open the archive {}", blob.display())
    })?;
    let size = file
        .metadata()
        .or_kind(Kind::LocalIo, || {
            format!("cannot read the archive {}", blob.display())
        })?
        .len();
    stage(file, &blob.display().to_string(), Some(size), dest, options)?.commit()
}

/// Archives extracted into their staging directory and checked entry by entry, not yet in
/// DEST: [`Staged::commit`] moves them in, dropping it removes them. Several archives (the
/// layers of one artifact) stack in order, whiteouts of each acting on those below.
#[derive(Debug)]
pub struct Staged {
    pub(super) target: Target,
    pub(super) extractor: Extractor,
}

/// One path of a staged stack, as [`Staged::commit_recorded`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedEntry {
    /// Below DEST.
    pub path: PathBuf,
    pub kind: StagedKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StagedKind {
    Directory,
    Symlink,
    /// A regular file and the sha256 of its content.
    File {
        digest: String,
    },
}

impl Staged {
    /// An empty staging directory for `dest`. Returns [`Skipped`] when DEST holds a
    /// [`SKIP_MARKER`].
    pub fn start(dest: &Path, options: &UnpackOptions) -> anyhow::Result<Staged> {
        if dest.as_os_str().is_empty() {
            return Err(Error::usage("no destination directory given to unpack into").into());
        }
        if skip_requested(dest) {
            return Err(skipped(dest));
        }
        let target = Target::prepare(dest)?;
        let extractor = Extractor {
            label: String::new(),
            dest: dest.to_path_buf(),
            staging: target.staging.path().to_path_buf(),
            mask: if options.preserve_special_bits {
                0o7777
            } else {
                0o777
            },
            dirs: BTreeMap::new(),
            known_dirs: HashSet::new(),
            root: None,
            buffer: vec![0; IO_BUFFER],
            unpacked: Unpacked::default(),
            budget: options.budget,
            space_left: free_space(target.staging.path()),
            layer_paths: HashSet::new(),
            digests: options.record.then(HashMap::new),
        };
        Ok(Staged { target, extractor })
    }

    /// Reads a zstd, gzip or plain tar archive from `source` (`label` in messages, `size`
    /// bytes if known, for progress) on top of what is staged.
    pub fn add<R: Read + Send>(
        &mut self,
        mut source: R,
        label: &str,
        size: Option<u64>,
    ) -> anyhow::Result<()> {
        let extractor = &mut self.extractor;
        let dest = extractor.dest.clone();
        extractor.label = label.to_owned();
        extractor.layer_paths.clear();
        let head = read_head(&mut source)
            .or_kind(Kind::LocalIo, || format!("cannot read the archive {label}"))?;
        let compression = detect_compression(&head);
        if compression.is_none() && !looks_like_tar(&head) {
            return Err(Error::usage(format!(
                "{label} is not a zstd, gzip or tar archive (it starts with {}): was the right \
                 digest passed, and was it made by `workspace push` or Trusted Artifacts?",
                hex_prefix(&head)
            ))
            .into());
        }
        let mut progress = ProgressReader {
            inner: io::Cursor::new(head).chain(source),
            transfer: Transfer::new(&format!("unpacking into {}", dest.display()), size),
        };
        let decoded: Box<dyn Read + Send + '_> = match compression {
            Some(Compression::Zstd { .. }) => Box::new(
                zstd::stream::read::Decoder::new(&mut progress)
                    .or_kind(Kind::LocalIo, || format!("cannot start reading {label}"))?,
            ),
            Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(
                BufReader::with_capacity(IO_BUFFER, &mut progress),
            )),
            None => Box::new(BufReader::with_capacity(IO_BUFFER, &mut progress)),
        };
        // Decompression on a thread of its own, so it overlaps with creating the files.
        std::thread::scope(|scope| {
            let decoded = ReadAhead::spawn(scope, decoded);
            let unreadable = || {
                format!(
                    "cannot read {label} as a tar archive: it is damaged or not a workspace \
                     archive; nothing was written to {}",
                    dest.display()
                )
            };
            let mut archive = tar::Archive::new(decoded);
            for entry in archive.entries().or_kind(Kind::Usage, unreadable)? {
                let mut entry = entry.or_kind(Kind::Usage, unreadable)?;
                extractor.extract(&mut entry)?;
            }
            // Read to the end, so the gzip CRC / zstd checksum of the whole stream is verified.
            io::copy(&mut archive.into_inner(), &mut io::sink())
                .or_kind(Kind::Usage, unreadable)?;
            anyhow::Ok(())
        })?;
        progress.transfer.finish();
        Ok(())
    }

    /// Moves the staged tree into DEST, merged with what DEST already holds.
    pub fn commit(self) -> anyhow::Result<Unpacked> {
        self.target.commit(&self.extractor)?;
        Ok(self.extractor.unpacked)
    }

    /// [`commit`](Self::commit), listing first every path the stack holds (sorted), with the
    /// digest of each regular file when [`UnpackOptions::record`] was set.
    pub fn commit_recorded(self) -> anyhow::Result<(Unpacked, Vec<StagedEntry>)> {
        let mut entries = Vec::new();
        let staging = self.target.staging.path().to_path_buf();
        let mut stack = vec![PathBuf::new()];
        while let Some(dir) = stack.pop() {
            let path = staging.join(&dir);
            let listing_failed = || format!("cannot list {}", path.display());
            for entry in fs::read_dir(&path).or_kind(Kind::LocalIo, listing_failed)? {
                let entry = entry.or_kind(Kind::LocalIo, listing_failed)?;
                let rel = dir.join(entry.file_name());
                let file_type = entry.file_type().or_kind(Kind::LocalIo, listing_failed)?;
                let kind = if file_type.is_dir() {
                    stack.push(rel.clone());
                    StagedKind::Directory
                } else if file_type.is_symlink() {
                    StagedKind::Symlink
                } else {
                    let digest = self
                        .extractor
                        .digests
                        .as_ref()
                        .and_then(|digests| digests.get(&rel).cloned())
                        .unwrap_or_default();
                    StagedKind::File { digest }
                };
                entries.push(StagedEntry { path: rel, kind });
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let unpacked = self.commit()?;
        Ok((unpacked, entries))
    }
}

/// Reads a zstd, gzip or plain tar archive from `source` (`label` in messages, `size` bytes if
/// known, for progress) into a staging directory for `dest`.
///
/// The staging directory is next to DEST (inside DEST when DEST is a mount point), and nothing
/// reaches DEST until [`Staged::commit`]: a caller still verifying what `source` delivers (a
/// download's digest) commits only once it checked out. Returns [`Skipped`] when DEST holds a
/// [`SKIP_MARKER`].
pub fn stage<R: Read + Send>(
    source: R,
    label: &str,
    size: Option<u64>,
    dest: &Path,
    options: &UnpackOptions,
) -> anyhow::Result<Staged> {
    let mut staged = Staged::start(dest, options)?;
    staged.add(source, label, size)?;
    Ok(staged)
}

/// The first 512 bytes (fewer if that is all there is): enough to tell the format.
pub(super) fn read_head(source: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    source.take(512).read_to_end(&mut head)?;
    Ok(head)
}

pub(super) fn hex_prefix(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing: it is empty".to_owned();
    }
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
