//! Workspace archives: a directory to a deterministic, compressed tarball and back, safely.
//!
//! [`pack`] streams a directory (or a single file) through tar and a compressor (fed on a thread
//! of its own) into a temporary file, hashing the compressed blob (and, when asked, the
//! uncompressed tar) on the way, so memory stays a few buffers whatever the workspace size; a
//! [`Spool`] lets an upload read the file while it grows. [`stage`] detects the
//! compression, extracts into a private staging directory next to DEST with every entry checked
//! (decompressing on a thread of its own), and [`Staged::commit`] then moves the result into
//! DEST, so a rejected or damaged archive, or a download whose digest did not match, leaves DEST
//! as it was. [`unpack`] does both for a blob file.
//!
//! By concern: `walk` (the tree into tar members) and `exclude` (`--exclude` patterns), `pack`,
//! `compress` (zstd, parallel gzip), `pipes` (threads between the stages) and `spool` (the blob
//! file read while it is written, for an upload alongside the pack); `unpack` (read
//! and decompress), `extract` (each entry checked into staging), `budget` (what may be
//! written) and `commit` (staging into DEST).
//!
//! # Format
//!
//! The tar stream is GNU tar's own layout as Konflux Trusted Artifacts' `create` step writes it
//! (`tar --create --directory=DIR .`): a first member `./` for the directory itself, then
//! `./name`, directories as `./dir/`, hard links pointing at the first member's name (`./a`),
//! GNU long-name records for names over 100 bytes; a single-file source is one member named
//! after the file. Unlike `tar`, it is deterministic: each directory is walked in byte order of
//! its names, symlinks are never followed, owner and group are 0 with no names, every mtime is 0,
//! and only content, entry type and mode bits (`0o7777`) come from the file system. Sockets,
//! FIFOs and device files are skipped with a warning, and so are stepkit's own temporary files
//! (`.stepkit-layer-*`, `.stepkit-unpack-*`).
//!
//! Compression is zstd (default level 3, always in zstd's multithreaded mode, whose output does
//! not depend on the number of workers) or gzip. The gzip form is what Trusted Artifacts' `use`
//! step (`tar -xzpf`) restores: one standard gzip member with the header `gzip -n` writes (no
//! name, mtime 0, OS Unix), compressed at level 5 in 256 KiB blocks on all workers, each block
//! primed with the 32 KiB before it (as pigz does), so the bytes do not depend on the worker count
//! either.
//!
//! # Extraction rules
//!
//! Accepted: regular files, directories, symlinks (any target, kept as links and never
//! followed), hard links to an earlier member. Rejected with an error naming the entry (exit 2):
//! absolute names, `..` components, names with NUL, an entry whose path goes through a symlink
//! (one extracted earlier or one already in DEST), hard links to anything outside the archive,
//! devices and FIFOs. Set-user-ID, set-group-ID and sticky bits are dropped unless
//! [`UnpackOptions::preserve_special_bits`]. Nothing is chowned. DEST may exist and hold files:
//! the archive is merged into it as `tar -x` would (files replaced, others kept).
//!
//! A `.skip-trusted-artifacts` file in the source directory (for [`pack`]) or in DEST (for
//! [`unpack`]) skips the operation, as Trusted Artifacts does: both return [`Skipped`].

mod budget;
mod commit;
mod compress;
mod exclude;
mod extract;
mod layers;
mod pack;
mod pipes;
mod spool;
#[cfg(test)]
mod tests;
mod unpack;
mod walk;

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::core::error::Error;

pub use budget::{UnpackBudget, DEFAULT_MAX_UNPACK_SIZE};
pub use exclude::ExcludeSet;
pub use layers::{OPAQUE_WHITEOUT, WHITEOUT_PREFIX};
pub use pack::{pack, pack_spooled};
pub use spool::Spool;
pub use unpack::{stage, unpack, Staged, StagedEntry, StagedKind};

/// OCI media type of a zstd-compressed layer.
pub const MEDIA_TYPE_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// OCI media type of a gzip-compressed layer (the Trusted Artifacts form).
pub const MEDIA_TYPE_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// zstd level used when none is given.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// Bytes of input per zstd worker job: bounds memory; part of what makes digests reproducible.
const ZSTD_JOB_SIZE: u32 = 2 << 20;
/// gzip level: one below `gzip`'s default 6, which Trusted Artifacts' `gzip -n` uses. On a
/// workspace-like tree it costs 0.13% of the output and saves about a seventh of the CPU, the
/// bulk of a push's time.
pub const GZIP_LEVEL: u32 = 5;
/// A file of this name in the source (push) or DEST (pull) skips the operation, as in Trusted
/// Artifacts.
pub const SKIP_MARKER: &str = ".skip-trusted-artifacts";

/// Most compression workers chosen automatically. zstd holds about 20 MiB per worker at level 3
/// (two 8 MiB job buffers); a pod without a CPU limit on a 64-core node would otherwise hold a
/// gigabyte. More can be asked for explicitly.
const MAX_AUTO_THREADS: u32 = 8;
/// Buffer size for file and stream copies.
const IO_BUFFER: usize = 256 * 1024;
/// Uncompressed bytes per parallel gzip block: twice pigz's default, so priming each block
/// with its dictionary costs half as much, while the blocks in flight stay a few MiB.
const GZIP_BLOCK: usize = 256 * 1024;
/// Deflate's window: each gzip block is primed with this many bytes of the block before it.
const GZIP_DICTIONARY: usize = 32 * 1024;
/// The gzip header `gzip -n` writes at its default level: no name, mtime 0, XFL 0, OS Unix.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
/// Longest name or link target that fits a tar header; longer ones get a GNU long-name record.
const TAR_NAME_FIELD: usize = 100;

/// How a layer is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zstd at `level` (see `zstd::compression_level_range`), multithreaded.
    Zstd { level: i32 },
    /// gzip ([`GZIP_LEVEL`]) with a `gzip -n` header: what Trusted Artifacts reads.
    Gzip,
}

impl Compression {
    /// The layer media type for this compression.
    pub fn media_type(&self) -> &'static str {
        match self {
            Compression::Zstd { .. } => MEDIA_TYPE_TAR_ZSTD,
            Compression::Gzip => MEDIA_TYPE_TAR_GZIP,
        }
    }

    /// The compression a layer media type names, if it is one of ours.
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        match media_type {
            MEDIA_TYPE_TAR_ZSTD => Some(Compression::default()),
            MEDIA_TYPE_TAR_GZIP => Some(Compression::Gzip),
            _ => None,
        }
    }

    /// File name suffix for a blob of this compression.
    pub fn file_suffix(&self) -> &'static str {
        match self {
            Compression::Zstd { .. } => ".tar.zst",
            Compression::Gzip => ".tar.gz",
        }
    }
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd {
            level: DEFAULT_ZSTD_LEVEL,
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::Zstd { .. } => f.write_str("zstd"),
            Compression::Gzip => f.write_str("gzip"),
        }
    }
}

impl FromStr for Compression {
    type Err = Error;

    /// `zstd` (at [`DEFAULT_ZSTD_LEVEL`]) or `gzip`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "zstd" => Ok(Compression::default()),
            "gzip" => Ok(Compression::Gzip),
            _ => Err(Error::usage(format!(
                "unknown compression {text:?}: expected zstd or gzip (gzip for Trusted Artifacts)"
            ))),
        }
    }
}

/// The compression of a blob, from its first bytes: zstd (level unknown, reported as the
/// default) or gzip. `None` for anything else, plain tar included.
pub fn detect_compression(head: &[u8]) -> Option<Compression> {
    match head {
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::default()),
        // A zstd skippable frame (0x184D2A50..=0x184D2A5F, little endian) may open a stream.
        [first, 0x2a, 0x4d, 0x18, ..] if first & 0xf0 == 0x50 => Some(Compression::default()),
        [0x1f, 0x8b, ..] => Some(Compression::Gzip),
        _ => None,
    }
}

/// Whether `head` (at least the first 512 bytes) starts an uncompressed tar stream: a
/// ustar/GNU header, or the all-zero block of an empty archive.
fn looks_like_tar(head: &[u8]) -> bool {
    head.len() >= 512 && (&head[257..262] == b"ustar" || head[..512].iter().all(|b| *b == 0))
}

/// The operation was skipped because of a [`SKIP_MARKER`] file, as Trusted Artifacts does. The
/// caller logs it and succeeds: `err.downcast_ref::<Skipped>()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The marker file found.
    pub marker: PathBuf,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "found {}: skipping, as Trusted Artifacts does",
            self.marker.display()
        )
    }
}

impl std::error::Error for Skipped {}

/// Whether `dir` holds a [`SKIP_MARKER`] file (followed if it is a symlink, like `test -f`).
pub fn skip_requested(dir: &Path) -> bool {
    dir.join(SKIP_MARKER).is_file()
}

fn skipped(dir: &Path) -> anyhow::Error {
    anyhow::Error::new(Skipped {
        marker: dir.join(SKIP_MARKER),
    })
}

/// What to pack and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackOptions {
    /// Paths to leave out, gitignore-style globs matched against the path below the source
    /// (`node_modules/`, `*.o`, `/build`, `docs/**/*.tmp`); see [`ExcludeSet`] for the rules.
    pub excludes: Vec<String>,
    pub compression: Compression,
    /// Compression workers; 0 = the CPUs this process may use (cgroup quota included), at most 8.
    /// The output is the same for every value.
    pub threads: u32,
    /// Pack only what changed since a base, as a layer to stack on it.
    pub delta: Option<Delta>,
    /// Keep files' mtimes (default 0: the digest then depends on content and modes only).
    pub preserve_mtime: bool,
    /// Hash the uncompressed tar, for [`Packed::uncompressed_digest`].
    pub tar_digest: bool,
}

/// A layer on top of a base: the paths to pack (below the source, `/`-separated; a listed
/// directory is one member, its children are packed only when listed too) and the base's paths
/// to delete, as whiteouts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    pub include: std::collections::HashSet<Vec<u8>>,
    pub whiteouts: Vec<Vec<u8>>,
}

/// A packed layer: a temporary file (deleted when `path` is dropped) and its descriptors.
#[derive(Debug)]
pub struct Packed {
    pub path: tempfile::TempPath,
    /// `sha256:<hex>` of the compressed blob, the layer digest.
    pub digest: String,
    /// Bytes of the compressed blob.
    pub size: u64,
    /// `sha256:<hex>` of the uncompressed tar (the OCI "diff ID"), with
    /// [`PackOptions::tar_digest`].
    pub uncompressed_digest: Option<String>,
    pub uncompressed_size: u64,
    /// Entries other than directories: regular files, symlinks and hard links.
    pub files: u64,
}

/// How to unpack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnpackOptions {
    /// Keep set-user-ID, set-group-ID and sticky bits (dropped by default).
    pub preserve_special_bits: bool,
    /// What the unpack may write.
    pub budget: UnpackBudget,
    /// Hash each regular file on its way to disk, for [`Staged::commit_recorded`].
    pub record: bool,
}

/// What an unpack wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unpacked {
    /// Entries other than directories: regular files, symlinks and hard links.
    pub files: u64,
    /// Bytes of regular-file content.
    pub bytes: u64,
}

/// Prefixes of the temporary files and directories [`pack`] and [`unpack`] create.
const TEMP_PREFIXES: [&str; 2] = [".stepkit-layer-", ".stepkit-unpack-"];

/// Our own temporary names are never archived: a staging directory left inside a mounted DEST
/// by a killed unpack must not travel with the workspace.
pub fn is_stepkit_temp(name: &OsStr) -> bool {
    TEMP_PREFIXES
        .iter()
        .any(|prefix| name.as_bytes().starts_with(prefix.as_bytes()))
}
