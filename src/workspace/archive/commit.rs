//! Moving a staged tree into DEST, merged with what DEST holds, the way `tar -x` would leave it.

use std::collections::BTreeMap;
use std::fs::{self, File, Permissions};
use std::io::{self};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::core::error::{Error, Kind, ResultExt};

use super::extract::{mtime_of, DirMeta, Extractor};
use super::TEMP_PREFIXES;

/// Where an unpack lands: DEST resolved, and the private staging directory beside it.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) shown: PathBuf,
    pub(super) real: PathBuf,
    pub(super) existed: bool,
    pub(super) staging: tempfile::TempDir,
}

impl Target {
    pub(super) fn prepare(dest: &Path) -> anyhow::Result<Target> {
        let refuse_root = || {
            Err(Error::usage(format!(
                "refusing to unpack into {}: it resolves to /; name a workspace directory",
                dest.display()
            ))
            .into())
        };
        let (real, existed) = match fs::metadata(dest) {
            Ok(meta) if meta.is_dir() => {
                let real = fs::canonicalize(dest).or_kind(Kind::LocalIo, || {
                    format!("cannot resolve {}", dest.display())
                })?;
                (real, true)
            }
            Ok(_) => {
                return Err(Error::usage(format!(
                    "cannot unpack into {}: it exists and is not a directory",
                    dest.display()
                ))
                .into());
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let Some(name) = dest.file_name() else {
                    return Err(Error::usage(format!(
                        "cannot unpack into {}: name the directory to unpack into",
                        dest.display()
                    ))
                    .into());
                };
                let parent = match dest.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent,
                    _ => Path::new("."),
                };
                fs::create_dir_all(parent).or_kind(Kind::LocalIo, || {
                    format!("cannot create {}", parent.display())
                })?;
                let parent = fs::canonicalize(parent).or_kind(Kind::LocalIo, || {
                    format!("cannot resolve {}", parent.display())
                })?;
                (parent.join(name), false)
            }
            Err(error) => {
                return Err(anyhow::Error::new(error)
                    .context(Error::local_io(format!("cannot read {}", dest.display()))));
            }
        };
        let Some(parent) = real.parent() else {
            return refuse_root();
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(TEMP_PREFIXES[1]);
        if !existed {
            // It becomes DEST by one rename: give it the mode `mkdir` would (umask applied).
            builder.permissions(Permissions::from_mode(0o777));
        }
        let beside = builder.tempdir_in(parent);
        let staging = match beside {
            // Renames into DEST need one file system: a DEST that is a mount point (a Tekton
            // workspace volume) gets its staging directory inside it.
            Ok(staging) if existed && !same_device(staging.path(), &real)? => {
                drop(staging);
                Self::staging_inside(&real)?
            }
            Ok(staging) => staging,
            Err(_) if existed => Self::staging_inside(&real)?,
            Err(error) => {
                return Err(anyhow::Error::new(error).context(Error::local_io(format!(
                    "cannot create a staging directory in {} to unpack into {}",
                    parent.display(),
                    dest.display()
                ))));
            }
        };
        Ok(Target {
            shown: dest.to_path_buf(),
            real,
            existed,
            staging,
        })
    }

    pub(super) fn staging_inside(real: &Path) -> anyhow::Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix(TEMP_PREFIXES[1])
            .tempdir_in(real)
            .or_kind(Kind::LocalIo, || {
                format!("cannot create a staging directory in {}", real.display())
            })
    }

    /// Moves the staged tree into DEST, then applies directory modes and mtimes.
    pub(super) fn commit(self, extractor: &Extractor) -> anyhow::Result<()> {
        let staging = self.staging.path().to_path_buf();
        let mut merged = false;
        if !self.existed && fs::rename(&staging, &self.real).is_ok() {
            let _ = self.staging.keep();
            merged = true;
        }
        if !merged {
            fs::create_dir_all(&self.real).or_kind(Kind::LocalIo, || {
                format!("cannot create {}", self.shown.display())
            })?;
            let staging_device = fs::metadata(&staging)
                .or_kind(Kind::LocalIo, || {
                    format!("cannot read {}", staging.display())
                })?
                .dev();
            let merge = Merge {
                staging: &staging,
                real: &self.real,
                shown: &self.shown,
                explicit: &extractor.dirs,
                staging_device,
            };
            // First check every conflict without touching DEST, then move.
            merge.run(false)?;
            merge.run(true)?;
        }
        // Children before parents, so a read-only directory does not block its contents.
        for (rel, meta) in extractor.dirs.iter().rev() {
            apply_dir_meta(&self.real.join(rel), *meta);
        }
        if let Some(meta) = extractor.root {
            apply_dir_meta(&self.real, meta);
        }
        Ok(())
    }
}

pub(super) fn same_device(a: &Path, b: &Path) -> anyhow::Result<bool> {
    let device = |path: &Path| {
        fs::metadata(path)
            .map(|meta| meta.dev())
            .or_kind(Kind::LocalIo, || format!("cannot read {}", path.display()))
    };
    Ok(device(a)? == device(b)?)
}

/// Sets a directory's mtime and mode, as `tar -xp` does at the end. A directory that was in
/// DEST before and is not ours (a workspace volume's root, say) may refuse: like tar, that is a
/// warning, not a failure after everything else is in place.
pub(super) fn apply_dir_meta(path: &Path, meta: DirMeta) {
    match fs::symlink_metadata(path) {
        Ok(existing) if existing.is_dir() => {}
        // Replaced by a later entry of the archive: nothing to apply.
        _ => return,
    }
    let mode = Permissions::from_mode(meta.mode);
    let applied = match File::open(path) {
        Ok(dir) => {
            if let Err(error) = dir.set_modified(mtime_of(meta.mtime)) {
                tracing::debug!("cannot set the mtime of {}: {error}", path.display());
            }
            dir.set_permissions(mode)
        }
        Err(_) => fs::set_permissions(path, mode),
    };
    if let Err(error) = applied {
        tracing::warn!(
            "cannot set the mode of {} to {:o}: {error}",
            path.display(),
            meta.mode
        );
    }
}

/// Moving a staged tree into an existing DEST, the way `tar -x` into it would leave it.
pub(super) struct Merge<'a> {
    pub(super) staging: &'a Path,
    pub(super) real: &'a Path,
    pub(super) shown: &'a Path,
    pub(super) explicit: &'a BTreeMap<PathBuf, DirMeta>,
    pub(super) staging_device: u64,
}

impl Merge<'_> {
    /// With `apply` false, only checks that the merge can be done; with `apply` true, does it.
    pub(super) fn run(&self, apply: bool) -> anyhow::Result<()> {
        let mut stack = vec![PathBuf::new()];
        while let Some(rel_dir) = stack.pop() {
            let source_dir = self.staging.join(&rel_dir);
            let listing_failed = || format!("cannot list {}", source_dir.display());
            let mut names = Vec::new();
            for entry in fs::read_dir(&source_dir).or_kind(Kind::LocalIo, listing_failed)? {
                names.push(entry.or_kind(Kind::LocalIo, listing_failed)?.file_name());
            }
            names.sort_unstable();
            for name in names {
                let rel = rel_dir.join(&name);
                let from = self.staging.join(&rel);
                let to = self.real.join(&rel);
                if to == self.staging {
                    continue;
                }
                if let Some(descend) = self.merge_one(&rel, &from, &to, apply)? {
                    stack.push(descend);
                }
            }
        }
        Ok(())
    }

    /// Merges one staged entry; returns its path when both sides are directories to merge.
    pub(super) fn merge_one(
        &self,
        rel: &Path,
        from: &Path,
        to: &Path,
        apply: bool,
    ) -> anyhow::Result<Option<PathBuf>> {
        let moved = || {
            format!(
                "cannot move {} into {}",
                rel.display(),
                self.shown.display()
            )
        };
        let existing = match fs::symlink_metadata(to) {
            Ok(meta) => meta,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                if apply {
                    fs::rename(from, to).or_kind(Kind::LocalIo, moved)?;
                }
                return Ok(None);
            }
            Err(error) => {
                return Err(anyhow::Error::new(error)
                    .context(Error::local_io(format!("cannot read {}", to.display()))));
            }
        };
        let staged = fs::symlink_metadata(from)
            .or_kind(Kind::LocalIo, || format!("cannot read {}", from.display()))?;
        if staged.is_dir() {
            if existing.is_dir() {
                if existing.dev() != self.staging_device {
                    return Err(Error::local_io(format!(
                        "cannot unpack into {}: it is on another file system (a mount point?); \
                         unpack into that directory separately",
                        to.display()
                    ))
                    .into());
                }
                return Ok(Some(rel.to_path_buf()));
            }
            if !self.explicit.contains_key(rel) {
                let why = if existing.file_type().is_symlink() {
                    "is a symlink in DEST: entries below it would be written through it"
                } else {
                    "is a file in DEST, and the archive has entries below it"
                };
                return Err(Error::usage(format!(
                    "refusing to unpack into {}: {:?} {why}; nothing was written (remove it, or \
                     unpack into an empty directory)",
                    self.shown.display(),
                    rel.display().to_string()
                ))
                .into());
            }
            // The archive has this directory itself: it replaces a file or symlink, as tar does.
            if apply {
                fs::remove_file(to).or_kind(Kind::LocalIo, moved)?;
                fs::rename(from, to).or_kind(Kind::LocalIo, moved)?;
            }
            return Ok(None);
        }
        if existing.is_dir() {
            let empty = fs::read_dir(to)
                .map(|mut listing| listing.next().is_none())
                .unwrap_or(false);
            if !empty {
                return Err(Error::usage(format!(
                    "refusing to unpack into {}: {:?} is a non-empty directory there, and the \
                     archive has a file of that name; nothing was written",
                    self.shown.display(),
                    rel.display().to_string()
                ))
                .into());
            }
            if apply {
                fs::remove_dir(to).or_kind(Kind::LocalIo, moved)?;
            }
        }
        if apply {
            // rename replaces a file or symlink atomically, never writing through the symlink.
            fs::rename(from, to).or_kind(Kind::LocalIo, moved)?;
        }
        Ok(None)
    }
}
