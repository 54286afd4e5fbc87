//! The deterministic walk of a tree into tar members, in GNU tar's layout.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::core::error::{Error, Kind, ResultExt};

use super::exclude::ExcludeSet;
use super::layers::whiteout_member;
use super::{is_stepkit_temp, TAR_NAME_FIELD};

/// Walks a tree into a tar builder, deterministically.
pub(super) struct Packer<'a, W: Write> {
    pub(super) builder: tar::Builder<W>,
    pub(super) excludes: ExcludeSet,
    /// (device, inode) of multiply-linked files already archived → their member name.
    pub(super) hardlinks: HashMap<(u64, u64), Vec<u8>>,
    pub(super) files: u64,
    /// For a delta layer: the only paths to archive.
    pub(super) include: Option<&'a Included<'a>>,
    /// Keep each entry's mtime rather than 0 (the archive then depends on when files were
    /// written).
    pub(super) preserve_mtime: bool,
    /// Stat only and count the bytes the tar stream would have ([`Packer::estimated`]),
    /// writing nothing and opening no file: the total a progress bar shows.
    pub(super) dry_run: bool,
    pub(super) estimated: u64,
}

/// The paths a delta layer archives, and the directories that hold them: the walk lists only
/// those, so packing a few changes does not stat the whole tree a second time.
pub(super) struct Included<'a> {
    paths: &'a HashSet<Vec<u8>>,
    /// Every ancestor of a path in `paths`, with its trailing `/`.
    ancestors: HashSet<&'a [u8]>,
}

impl<'a> Included<'a> {
    pub(super) fn new(paths: &'a HashSet<Vec<u8>>) -> Included<'a> {
        let mut ancestors = HashSet::new();
        for path in paths {
            for (end, byte) in path.iter().enumerate() {
                if *byte == b'/' {
                    ancestors.insert(&path[..=end]);
                }
            }
        }
        Included { paths, ancestors }
    }

    /// Whether directory `dir` (below the root, with its trailing `/`) holds an included path.
    pub(super) fn leads_into(&self, dir: &[u8]) -> bool {
        self.ancestors.contains(dir)
    }
}

/// One directory being walked: its names, sorted, not yet visited.
pub(super) struct Frame {
    pub(super) dir: PathBuf,
    /// Path below the root with a trailing `/`, or empty for the root.
    pub(super) rel: Vec<u8>,
    pub(super) names: std::vec::IntoIter<OsString>,
}

impl Frame {
    pub(super) fn open(dir: PathBuf, rel: Vec<u8>) -> anyhow::Result<Frame> {
        let listing_failed = || format!("cannot list the directory {}", dir.display());
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir).or_kind(Kind::LocalIo, listing_failed)? {
            names.push(entry.or_kind(Kind::LocalIo, listing_failed)?.file_name());
        }
        // OsStr orders by bytes on Unix: the walk is the same on every machine.
        names.sort_unstable();
        Ok(Frame {
            dir,
            rel,
            names: names.into_iter(),
        })
    }
}

impl<W: Write> Packer<'_, W> {
    /// Archives the tree below `root`; with `whiteouts` (a delta layer), those first.
    pub(super) fn pack_tree(
        &mut self,
        root: &Path,
        root_meta: &Metadata,
        whiteouts: &[Vec<u8>],
    ) -> anyhow::Result<()> {
        self.append(
            root,
            tar::EntryType::Directory,
            b"./",
            None,
            root_meta.mode(),
            0,
            io::empty(),
        )?;
        for rel in whiteouts {
            self.append(
                root,
                tar::EntryType::Regular,
                &whiteout_member(rel),
                None,
                0o644,
                0,
                io::empty(),
            )?;
        }
        let mut stack = vec![Frame::open(root.to_path_buf(), Vec::new())?];
        while let Some(frame) = stack.last_mut() {
            let Some(name) = frame.names.next() else {
                stack.pop();
                continue;
            };
            if is_stepkit_temp(&name) {
                continue;
            }
            let path = frame.dir.join(&name);
            let mut rel = frame.rel.clone();
            rel.extend_from_slice(name.as_bytes());
            let meta = fs::symlink_metadata(&path).or_kind(Kind::LocalIo, || {
                format!(
                    "cannot read {} (did something change the workspace while it was being packed?)",
                    path.display()
                )
            })?;
            let file_type = meta.file_type();
            if self.excludes.matches(&rel, file_type.is_dir()) {
                continue;
            }
            let mut member = b"./".to_vec();
            member.extend_from_slice(&rel);
            let included = self
                .include
                .as_ref()
                .is_none_or(|include| include.paths.contains(&rel));
            if file_type.is_dir() {
                member.push(b'/');
                if included {
                    self.append(
                        &path,
                        tar::EntryType::Directory,
                        &member,
                        None,
                        meta.mode(),
                        0,
                        io::empty(),
                    )?;
                }
                rel.push(b'/');
                if self
                    .include
                    .as_ref()
                    .is_none_or(|include| include.leads_into(&rel))
                {
                    stack.push(Frame::open(path, rel)?);
                }
            } else if included {
                self.append_non_dir(&path, member, &meta)?;
            }
        }
        Ok(())
    }

    pub(super) fn pack_single(&mut self, source: &Path) -> anyhow::Result<()> {
        let meta = fs::symlink_metadata(source).or_kind(Kind::LocalIo, || {
            format!("cannot read the workspace {}", source.display())
        })?;
        let Some(name) = source.file_name() else {
            return Err(Error::usage(format!(
                "cannot pack {}: name a directory or a file",
                source.display()
            ))
            .into());
        };
        let file_type = meta.file_type();
        if !file_type.is_file() && !file_type.is_symlink() {
            return Err(Error::usage(format!(
                "cannot pack {}: it is not a directory, a regular file or a symlink",
                source.display()
            ))
            .into());
        }
        self.append_non_dir(source, name.as_bytes().to_vec(), &meta)
    }

    /// A regular file, a symlink, or (with a warning) nothing for sockets, FIFOs and devices.
    pub(super) fn append_non_dir(
        &mut self,
        path: &Path,
        member: Vec<u8>,
        meta: &Metadata,
    ) -> anyhow::Result<()> {
        let file_type = meta.file_type();
        if file_type.is_symlink() {
            let target = fs::read_link(path).or_kind(Kind::LocalIo, || {
                format!("cannot read the symlink {}", path.display())
            })?;
            self.files += 1;
            return self.append(
                path,
                tar::EntryType::Symlink,
                &member,
                Some(target.as_os_str().as_bytes()),
                0o777,
                0,
                io::empty(),
            );
        }
        if !file_type.is_file() {
            if self.dry_run {
                return Ok(());
            }
            tracing::warn!(
                "skipping {}: sockets, FIFOs and device files are not archived",
                path.display()
            );
            return Ok(());
        }
        if self.dry_run {
            self.files += 1;
            let link = if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                let first = self.hardlinks.get(&key).cloned();
                if first.is_none() {
                    self.hardlinks.insert(key, member.clone());
                }
                first
            } else {
                None
            };
            let (kind, size) = match &link {
                Some(_) => (tar::EntryType::Link, 0),
                None => (tar::EntryType::Regular, meta.len()),
            };
            return self.append(path, kind, &member, link.as_deref(), 0, size, io::empty());
        }
        let file = File::open(path).or_kind(Kind::LocalIo, || {
            format!("cannot read {} (check its permissions)", path.display())
        })?;
        let opened = file
            .metadata()
            .or_kind(Kind::LocalIo, || format!("cannot read {}", path.display()))?;
        if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
            return Err(Error::local_io(format!(
                "{} was replaced while the workspace was being packed: pack a workspace nothing \
                 else is writing to",
                path.display()
            ))
            .into());
        }
        self.files += 1;
        if opened.nlink() > 1 {
            let key = (opened.dev(), opened.ino());
            if let Some(first) = self.hardlinks.get(&key).cloned() {
                return self.append(
                    path,
                    tar::EntryType::Link,
                    &member,
                    Some(&first),
                    opened.mode(),
                    0,
                    io::empty(),
                );
            }
            self.hardlinks.insert(key, member.clone());
        }
        let size = opened.len();
        let content = ExactReader {
            file,
            remaining: size,
            path,
        };
        self.append(
            path,
            tar::EntryType::Regular,
            &member,
            None,
            opened.mode(),
            size,
            content,
        )
    }

    /// Appends one member with normalized metadata, with GNU long-name records when needed.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn append(
        &mut self,
        path: &Path,
        kind: tar::EntryType,
        name: &[u8],
        link: Option<&[u8]>,
        mode: u32,
        size: u64,
        content: impl Read,
    ) -> anyhow::Result<()> {
        if self.dry_run {
            self.estimated += tar_member_size(name, link, size);
            return Ok(());
        }
        let failed = || format!("cannot archive {}", path.display());
        if name.len() > TAR_NAME_FIELD {
            self.append_long_name(tar::EntryType::GNULongName, name)
                .or_kind(Kind::LocalIo, failed)?;
        }
        if let Some(link) = link.filter(|link| link.len() > TAR_NAME_FIELD) {
            self.append_long_name(tar::EntryType::GNULongLink, link)
                .or_kind(Kind::LocalIo, failed)?;
        }
        let mut header = tar::Header::new_gnu();
        {
            let fields = header.as_old_mut();
            copy_truncated(&mut fields.name, name);
            if let Some(link) = link {
                copy_truncated(&mut fields.linkname, link);
            }
        }
        header.set_entry_type(kind);
        header.set_mode(mode & 0o7777);
        header.set_uid(0);
        header.set_gid(0);
        let mtime = if self.preserve_mtime {
            fs::symlink_metadata(path)
                .map(|meta| u64::try_from(meta.mtime()).unwrap_or(0))
                .unwrap_or(0)
        } else {
            0
        };
        header.set_mtime(mtime);
        header.set_size(size);
        header.set_cksum();
        self.builder
            .append(&header, content)
            .or_kind(Kind::LocalIo, failed)
    }

    pub(super) fn append_long_name(
        &mut self,
        kind: tar::EntryType,
        value: &[u8],
    ) -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        copy_truncated(&mut header.as_old_mut().name, b"././@LongLink");
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(value.len() as u64 + 1);
        header.set_cksum();
        self.builder.append(&header, value.chain(&[0u8][..]))
    }
}

/// Bytes [`Packer::append`] writes for one member: its header and content, each padded to
/// 512-byte blocks, and a GNU long-name record for a name or link past the header's field.
pub(super) fn tar_member_size(name: &[u8], link: Option<&[u8]>, size: u64) -> u64 {
    let blocks = |bytes: u64| bytes.div_ceil(512) * 512;
    let long_record = |value: &[u8]| {
        if value.len() > TAR_NAME_FIELD {
            512 + blocks(value.len() as u64 + 1)
        } else {
            0
        }
    };
    long_record(name) + link.map_or(0, long_record) + 512 + blocks(size)
}

pub(super) fn copy_truncated(field: &mut [u8], value: &[u8]) {
    let len = value.len().min(field.len());
    field[..len].copy_from_slice(&value[..len]);
}

/// Reads exactly the size recorded in the header, or fails: a file that shrank while being
/// archived would otherwise leave a corrupt tar stream.
pub(super) struct ExactReader<'a> {
    pub(super) file: File,
    pub(super) remaining: u64,
    pub(super) path: &'a Path,
}

impl Read for ExactReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let read = self.file.read(&mut buf[..max])?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} shrank while the workspace was being packed: pack a workspace nothing else \
                     is writing to",
                    self.path.display()
                ),
            ));
        }
        self.remaining -= read as u64;
        Ok(read)
    }
}
