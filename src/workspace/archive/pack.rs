//! [`pack`]: a directory or a file to a compressed tarball in a temporary file, hashed on the way.

use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::io::{self, BufWriter};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::core::error::{Error, Kind, ResultExt};
use crate::core::progress::{Mode, Transfer};

use super::compress::Compressor;
use super::exclude::ExcludeSet;
use super::pipes::{Tee, WriteBehind};
use super::spool::{Spool, SpoolWriter};
use super::walk::{Included, Packer};
use super::{
    skip_requested, skipped, Compression, PackOptions, Packed, IO_BUFFER, MAX_AUTO_THREADS,
    TEMP_PREFIXES,
};

/// Packs `source` into a compressed tarball in a new temporary file in `temp_dir`.
///
/// A directory contributes its contents (member `./` then `./name`, as `tar -C DIR .`); a
/// single file (or a symlink, kept as one) is one member named after it. `temp_dir` must not be
/// inside `source`. Returns [`Skipped`] when the source directory holds a [`SKIP_MARKER`] file.
pub fn pack(source: &Path, temp_dir: &Path, options: &PackOptions) -> anyhow::Result<Packed> {
    pack_spooled(source, temp_dir, options, None)
}

/// [`pack`], telling `spool` how far the blob file is written, so it can be uploaded while it
/// is packed.
pub fn pack_spooled(
    source: &Path,
    temp_dir: &Path,
    options: &PackOptions,
    spool: Option<Arc<Spool>>,
) -> anyhow::Result<Packed> {
    let excludes = ExcludeSet::new(&options.excludes)?;
    if let Compression::Zstd { level } = options.compression {
        let range = zstd::compression_level_range();
        if !range.contains(&level) {
            return Err(Error::usage(format!(
                "zstd level {level} is out of range: use {} to {} (3 is the default, 19 is slow)",
                range.start(),
                range.end()
            ))
            .into());
        }
    }
    let source_meta = fs::metadata(source).or_kind(Kind::LocalIo, || {
        format!(
            "cannot read the workspace {}: check the path and that this step can read it",
            source.display()
        )
    })?;
    if source_meta.is_dir() && skip_requested(source) {
        return Err(skipped(source));
    }
    check_temp_dir(source, &source_meta, temp_dir)?;

    let temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIXES[0])
        .suffix(options.compression.file_suffix())
        .tempfile_in(temp_dir)
        .or_kind(Kind::LocalIo, || {
            format!(
                "cannot create a temporary file in {} (set --tmp-dir to a writable directory)",
                temp_dir.display()
            )
        })?;
    let file = temp.as_file().try_clone().or_kind(Kind::LocalIo, || {
        format!("cannot write the temporary file {}", temp.path().display())
    })?;
    let file = SpoolWriter::new(file, spool).or_kind(Kind::LocalIo, || {
        format!("cannot read the temporary file {}", temp.path().display())
    })?;
    let blob = Tee::new(
        BufWriter::with_capacity(IO_BUFFER, file),
        Sha256::new(),
        None,
    );
    let threads = worker_count(options.threads);
    let compressor = Compressor::new(blob, options.compression, threads)
        .or_kind(Kind::LocalIo, || {
            format!("cannot start the {} compressor", options.compression)
        })?;
    let include = options
        .delta
        .as_ref()
        .map(|delta| Included::new(&delta.include));
    // The walk twice costs a stat per file, worth it only when someone sees the total.
    let total = match Mode::current() {
        Mode::Hidden => None,
        Mode::Terminal | Mode::Plain => Some(estimate_tar_size(
            source,
            &source_meta,
            options,
            include.as_ref(),
        )?),
    };
    let progress = Transfer::new(&format!("packing {}", source.display()), total);
    // Reading and hashing the tree on this thread, feeding the compressor on another.
    let tar_stream = BufWriter::with_capacity(
        IO_BUFFER,
        Tee::new(
            WriteBehind::spawn(compressor),
            options.tar_digest.then(Sha256::new),
            Some(progress),
        ),
    );
    let mut packer = Packer {
        builder: tar::Builder::new(tar_stream),
        excludes,
        hardlinks: HashMap::new(),
        include: include.as_ref(),
        preserve_mtime: options.preserve_mtime,
        files: 0,
        dry_run: false,
        estimated: 0,
    };
    walk(&mut packer, source, &source_meta, options)?;
    let files = packer.files;
    let write_failed = || {
        format!(
            "cannot write the archive of {} to {}",
            source.display(),
            temp.path().display()
        )
    };
    let tar_stream = packer
        .builder
        .into_inner()
        .or_kind(Kind::LocalIo, write_failed)?;
    let tar_tee = tar_stream
        .into_inner()
        .map_err(io::IntoInnerError::into_error)
        .or_kind(Kind::LocalIo, write_failed)?;
    let (compressor, uncompressed_digest, uncompressed_size) = tar_tee.finish();
    let compressor = compressor.finish().or_kind(Kind::LocalIo, write_failed)?;
    let blob = compressor.finish().or_kind(Kind::LocalIo, write_failed)?;
    let (buffered, digest, size) = blob.finish();
    buffered
        .into_inner()
        .map_err(io::IntoInnerError::into_error)
        .or_kind(Kind::LocalIo, write_failed)?
        .finish();
    Ok(Packed {
        path: temp.into_temp_path(),
        digest,
        size,
        uncompressed_digest,
        uncompressed_size,
        files,
    })
}

fn walk<W: io::Write>(
    packer: &mut Packer<'_, W>,
    source: &Path,
    source_meta: &Metadata,
    options: &PackOptions,
) -> anyhow::Result<()> {
    if source_meta.is_dir() {
        let whiteouts = options
            .delta
            .as_ref()
            .map(|delta| delta.whiteouts.as_slice())
            .unwrap_or_default();
        packer.pack_tree(source, source_meta, whiteouts)
    } else {
        packer.pack_single(source)
    }
}

/// The size of the tar stream [`pack`] writes for `source` (before compression), from a walk
/// that only stats: the same members, excludes and delta (`include`, built from
/// `options.delta`), no file opened or read.
pub(super) fn estimate_tar_size(
    source: &Path,
    source_meta: &Metadata,
    options: &PackOptions,
    include: Option<&Included>,
) -> anyhow::Result<u64> {
    let mut packer = Packer {
        builder: tar::Builder::new(io::sink()),
        excludes: ExcludeSet::new(&options.excludes)?,
        hardlinks: HashMap::new(),
        include,
        preserve_mtime: options.preserve_mtime,
        files: 0,
        dry_run: true,
        estimated: 0,
    };
    walk(&mut packer, source, source_meta, options)?;
    // The two zero blocks that end every tar stream.
    Ok(packer.estimated + 1024)
}

/// Workers when `threads` is 0: the CPUs this process may use (cgroup quota included), at most
/// [`MAX_AUTO_THREADS`].
pub(super) fn worker_count(threads: u32) -> u32 {
    if threads > 0 {
        return threads;
    }
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1)
        .min(MAX_AUTO_THREADS)
}

/// The temporary blob must not land inside the tree being archived.
pub(super) fn check_temp_dir(
    source: &Path,
    source_meta: &Metadata,
    temp_dir: &Path,
) -> anyhow::Result<()> {
    let temp_real = fs::canonicalize(temp_dir).or_kind(Kind::LocalIo, || {
        format!(
            "cannot use {} for temporary files (set --tmp-dir to an existing, writable directory)",
            temp_dir.display()
        )
    })?;
    if source_meta.is_dir() {
        let source_real = fs::canonicalize(source).or_kind(Kind::LocalIo, || {
            format!("cannot read the workspace {}", source.display())
        })?;
        if temp_real.starts_with(&source_real) {
            return Err(Error::usage(format!(
                "the temporary directory {} is inside the workspace {}: set --tmp-dir (or TMPDIR) \
                 to a directory outside it",
                temp_dir.display(),
                source.display()
            ))
            .into());
        }
    }
    Ok(())
}
