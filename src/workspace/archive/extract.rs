//! The checks and writes of each tar entry, in the staging directory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::core::error::{Error, Kind, ResultExt};

use super::budget::UnpackBudget;
use super::layers::Whiteout;
use super::Unpacked;

/// Mode and mtime of a directory entry, applied once everything is in place.
#[derive(Debug, Clone, Copy)]
pub(super) struct DirMeta {
    pub(super) mode: u32,
    pub(super) mtime: u64,
}

/// Extracts entries into the staging directory, checking each.
#[derive(Debug)]
pub(super) struct Extractor {
    /// The archive, as messages name it.
    pub(super) label: String,
    pub(super) dest: PathBuf,
    pub(super) staging: PathBuf,
    pub(super) mask: u32,
    /// Directory entries of the archive, by path below the root.
    pub(super) dirs: BTreeMap<PathBuf, DirMeta>,
    /// Paths below staging known to be real directories made by this extraction (explicit or
    /// parents), so each is checked on disk once rather than for every entry below it.
    pub(super) known_dirs: HashSet<PathBuf>,
    /// The archive's `./` entry.
    pub(super) root: Option<DirMeta>,
    pub(super) buffer: Vec<u8>,
    pub(super) unpacked: Unpacked,
    pub(super) budget: UnpackBudget,
    /// Bytes free on the staging directory's file system when the unpack started.
    pub(super) space_left: Option<u64>,
    /// Paths the layer being read has written: its own whiteouts never hide them.
    pub(super) layer_paths: HashSet<PathBuf>,
    /// sha256 of each regular file staged, by path, when the pull records its state.
    pub(super) digests: Option<HashMap<PathBuf, String>>,
}

impl Extractor {
    /// The error for an entry the archive must not contain.
    pub(super) fn hostile(&self, entry: &[u8], why: impl fmt::Display) -> anyhow::Error {
        Error::usage(format!(
            "refusing to unpack {}: entry {:?} {why}; nothing was written to {} (the archive is \
             damaged or hostile: do not use it)",
            self.label,
            String::from_utf8_lossy(entry),
            self.dest.display()
        ))
        .into()
    }

    /// Refuses an entry of `size` bytes (its expanded size, for a sparse one) that would pass
    /// the budget or not fit on the file system, before any of it is written.
    pub(super) fn admit(&self, raw: &[u8], size: u64, sparse: bool) -> anyhow::Result<()> {
        let space_left = self
            .space_left
            .map(|left| left.saturating_sub(self.unpacked.bytes));
        let Some(why) = self
            .budget
            .refusal(self.unpacked.bytes, space_left, size, sparse)
        else {
            return Ok(());
        };
        Err(Error::local_io(format!(
            "refusing to unpack {}: entry {:?} {why}; nothing was written to {} (if the workspace \
             really is this large, raise --max-size or --max-file-size, or free space)",
            self.label,
            String::from_utf8_lossy(raw),
            self.dest.display()
        ))
        .into())
    }

    pub(super) fn extract<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> anyhow::Result<()> {
        let raw = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        let rel = normalize(&raw).map_err(|why| self.hostile(&raw, why))?;
        let mode = entry
            .header()
            .mode()
            .map_err(|_| self.hostile(&raw, "has an unreadable mode field"))?
            & self.mask;
        let mtime = entry.header().mtime().unwrap_or(0);
        if let Some(whiteout) = Whiteout::of(&rel) {
            return self.whiteout(&raw, whiteout);
        }
        self.layer_paths.insert(rel.clone());
        match kind {
            tar::EntryType::Directory => self.directory(&raw, rel, DirMeta { mode, mtime }),
            _ if rel.as_os_str().is_empty() => {
                Err(self.hostile(&raw, "names the archive root but is not a directory"))
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                self.regular(entry, &raw, &rel, mode, mtime)
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|target| target.into_owned())
                    .unwrap_or_default();
                self.symlink(&raw, &rel, &target)
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|target| target.into_owned())
                    .unwrap_or_default();
                self.hardlink(&raw, &rel, &target)
            }
            tar::EntryType::Char => Err(self.hostile(&raw, "is a character device")),
            tar::EntryType::Block => Err(self.hostile(&raw, "is a block device")),
            tar::EntryType::Fifo => Err(self.hostile(&raw, "is a FIFO")),
            other => Err(self.hostile(
                &raw,
                format!(
                    "has the unsupported type {:?} (only files, directories, symlinks and hard \
                     links are unpacked)",
                    char::from(other.as_byte())
                ),
            )),
        }
    }

    /// Creates the missing parents of `rel` in staging, refusing to go through a symlink or a
    /// non-directory.
    pub(super) fn parents(&mut self, raw: &[u8], rel: &Path, create: bool) -> anyhow::Result<()> {
        let Some(parent) = rel.parent() else {
            return Ok(());
        };
        let mut current = self.staging.clone();
        let mut shown = PathBuf::new();
        for component in parent.components() {
            current.push(component);
            shown.push(component);
            if self.known_dirs.contains(&shown) {
                continue;
            }
            match fs::symlink_metadata(&current) {
                Ok(meta) if meta.is_dir() => {
                    self.known_dirs.insert(shown.clone());
                }
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(self.hostile(
                        raw,
                        format!(
                            "goes through the symlink {:?} extracted earlier",
                            shown.display().to_string()
                        ),
                    ));
                }
                Ok(_) => {
                    return Err(self.hostile(
                        raw,
                        format!(
                            "goes through {:?}, which the archive made a file",
                            shown.display().to_string()
                        ),
                    ));
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound && create => {
                    fs::create_dir(&current).or_kind(Kind::LocalIo, || {
                        format!("cannot create {}", current.display())
                    })?;
                    self.known_dirs.insert(shown.clone());
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    return Err(self.hostile(
                        raw,
                        format!(
                            "needs {:?}, which is not in the archive",
                            shown.display().to_string()
                        ),
                    ));
                }
                Err(error) => {
                    return Err(anyhow::Error::new(error).context(Error::local_io(format!(
                        "cannot read {}",
                        current.display()
                    ))));
                }
            }
        }
        Ok(())
    }

    /// Makes room for a non-directory at `rel`: removes an earlier file or symlink of that name,
    /// or an earlier empty directory.
    pub(super) fn clear_slot(&mut self, raw: &[u8], rel: &Path) -> anyhow::Result<()> {
        let path = self.staging.join(rel);
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => {
                return Err(anyhow::Error::new(error)
                    .context(Error::local_io(format!("cannot read {}", path.display()))));
            }
        };
        let removed = if meta.is_dir() {
            let empty = fs::read_dir(&path)
                .map(|mut listing| listing.next().is_none())
                .unwrap_or(false);
            if !empty {
                return Err(self.hostile(raw, "replaces a directory the archive already filled"));
            }
            self.dirs.remove(rel);
            self.known_dirs.remove(rel);
            fs::remove_dir(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.or_kind(Kind::LocalIo, || {
            format!("cannot replace {}", path.display())
        })
    }

    pub(super) fn directory(
        &mut self,
        raw: &[u8],
        rel: PathBuf,
        meta: DirMeta,
    ) -> anyhow::Result<()> {
        if rel.as_os_str().is_empty() {
            self.root = Some(meta);
            return Ok(());
        }
        self.parents(raw, &rel, true)?;
        let path = self.staging.join(&rel);
        if self.known_dirs.contains(&rel) {
            self.dirs.insert(rel, meta);
            return Ok(());
        }
        match fs::symlink_metadata(&path) {
            Ok(existing) if existing.is_dir() => {}
            Ok(_) => {
                // A symlink or file of that name came earlier: replace it, never follow it.
                fs::remove_file(&path).or_kind(Kind::LocalIo, || {
                    format!("cannot replace {}", path.display())
                })?;
                fs::create_dir(&path).or_kind(Kind::LocalIo, || {
                    format!("cannot create {}", path.display())
                })?;
            }
            Err(_) => {
                fs::create_dir(&path).or_kind(Kind::LocalIo, || {
                    format!("cannot create {}", path.display())
                })?;
            }
        }
        self.known_dirs.insert(rel.clone());
        self.dirs.insert(rel, meta);
        Ok(())
    }

    pub(super) fn regular<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        raw: &[u8],
        rel: &Path,
        mode: u32,
        mtime: u64,
    ) -> anyhow::Result<()> {
        let sparse = entry.header().entry_type().is_gnu_sparse();
        self.admit(raw, entry.size(), sparse)?;
        self.parents(raw, rel, true)?;
        let path = self.staging.join(rel);
        let write_failed = || format!("cannot write {}", path.display());
        let create = || {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
        };
        // Names rarely repeat in an archive: try first, make room only when the name is taken.
        let mut file = match create() {
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                self.clear_slot(raw, rel)?;
                create()
            }
            opened => opened,
        }
        .or_kind(Kind::LocalIo, write_failed)?;
        let mut hasher = self.digests.is_some().then(sha2::Sha256::default);
        loop {
            let read = match entry.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    return Err(anyhow::Error::new(error).context(Error::usage(format!(
                        "cannot read the entry {:?} of {}: the archive is damaged; nothing was \
                         written to {}",
                        String::from_utf8_lossy(raw),
                        self.label,
                        self.dest.display()
                    ))));
                }
            };
            if let Some(hasher) = hasher.as_mut() {
                sha2::Digest::update(hasher, &self.buffer[..read]);
            }
            file.write_all(&self.buffer[..read])
                .or_kind(Kind::LocalIo, write_failed)?;
            self.unpacked.bytes += read as u64;
        }
        file.set_modified(mtime_of(mtime))
            .or_kind(Kind::LocalIo, write_failed)?;
        file.set_permissions(Permissions::from_mode(mode))
            .or_kind(Kind::LocalIo, write_failed)?;
        if let (Some(digests), Some(hasher)) = (self.digests.as_mut(), hasher) {
            let digest = format!("sha256:{:x}", sha2::Digest::finalize(hasher));
            digests.insert(rel.to_path_buf(), digest);
        }
        self.unpacked.files += 1;
        Ok(())
    }

    pub(super) fn symlink(&mut self, raw: &[u8], rel: &Path, target: &[u8]) -> anyhow::Result<()> {
        if target.is_empty() {
            return Err(self.hostile(raw, "is a symlink without a target"));
        }
        if target.contains(&0) {
            return Err(self.hostile(raw, "is a symlink whose target holds a NUL byte"));
        }
        self.parents(raw, rel, true)?;
        self.clear_slot(raw, rel)?;
        let path = self.staging.join(rel);
        std::os::unix::fs::symlink(OsStr::from_bytes(target), &path)
            .or_kind(Kind::LocalIo, || {
                format!("cannot create the symlink {}", path.display())
            })?;
        self.unpacked.files += 1;
        Ok(())
    }

    pub(super) fn hardlink(&mut self, raw: &[u8], rel: &Path, target: &[u8]) -> anyhow::Result<()> {
        let target_rel = normalize(target).map_err(|why| {
            self.hostile(
                raw,
                format!(
                    "is a hard link to {:?}, outside DEST (its target {why})",
                    String::from_utf8_lossy(target)
                ),
            )
        })?;
        if target_rel.as_os_str().is_empty() {
            return Err(self.hostile(raw, "is a hard link without a target"));
        }
        if target_rel == rel {
            return Err(self.hostile(raw, "is a hard link to itself"));
        }
        self.parents(raw, &target_rel, false)?;
        let target_path = self.staging.join(&target_rel);
        match fs::symlink_metadata(&target_path) {
            Ok(meta) if !meta.is_dir() => {}
            Ok(_) => {
                return Err(self.hostile(
                    raw,
                    format!(
                        "is a hard link to the directory {:?}",
                        String::from_utf8_lossy(target)
                    ),
                ));
            }
            Err(_) => {
                return Err(self.hostile(
                    raw,
                    format!(
                        "is a hard link to {:?}, which is not earlier in the archive",
                        String::from_utf8_lossy(target)
                    ),
                ));
            }
        }
        self.parents(raw, rel, true)?;
        self.clear_slot(raw, rel)?;
        let path = self.staging.join(rel);
        if let Some(digests) = self.digests.as_mut() {
            if let Some(digest) = digests.get(&target_rel).cloned() {
                digests.insert(rel.to_path_buf(), digest);
            }
        }
        fs::hard_link(&target_path, &path).or_kind(Kind::LocalIo, || {
            format!("cannot create the hard link {}", path.display())
        })?;
        self.unpacked.files += 1;
        Ok(())
    }
}

pub(super) fn mtime_of(seconds: u64) -> SystemTime {
    // As the tar crate does: a 0 mtime becomes 1, which tools do not take for "unknown".
    UNIX_EPOCH + Duration::from_secs(seconds.max(1))
}

/// The path below DEST an entry name stands for: `.` and empty components dropped, so `./` is
/// the root (an empty path). Absolute names, `..` and NUL are refused.
pub(super) fn normalize(raw: &[u8]) -> Result<PathBuf, &'static str> {
    if raw.contains(&0) {
        return Err("holds a NUL byte");
    }
    if raw.starts_with(b"/") {
        return Err("is an absolute path");
    }
    let mut path = PathBuf::new();
    for component in raw.split(|byte| *byte == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err("has a \"..\" component (it would write outside DEST)"),
            name => path.push(OsStr::from_bytes(name)),
        }
    }
    Ok(path)
}
