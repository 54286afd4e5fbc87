//! Layer stacks: OCI whiteouts, as image-spec's "Representing Changes" defines them.
//!
//! A layer above others deletes `dir/name` of the layers below with an empty member
//! `dir/.wh.name`, and empties a directory of what the layers below put there with
//! `dir/.wh..wh..opq`. A whiteout hides only what lower layers made: an entry of the same
//! layer with the hidden name stays (a file replaced by a directory is a whiteout and the new
//! directory in one layer). Whiteouts never reach DEST as files; they act on the staged stack,
//! never on what DEST held before the pull, and never through a symlink.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::core::error::{Error, Kind, ResultExt};

use super::extract::Extractor;

/// Prefix of a whiteout member's name.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Name of an opaque-directory whiteout.
pub const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// What a whiteout member asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Whiteout {
    /// Delete this path of the lower layers.
    Path(PathBuf),
    /// Delete what the lower layers put in this directory.
    Opaque(PathBuf),
}

impl Whiteout {
    /// The whiteout `rel` (a normalized member path) stands for, if it is one.
    pub(super) fn of(rel: &Path) -> Option<Whiteout> {
        let name = rel.file_name()?.as_bytes();
        let parent = rel.parent().unwrap_or(Path::new(""));
        if name == OPAQUE_WHITEOUT.as_bytes() {
            return Some(Whiteout::Opaque(parent.to_path_buf()));
        }
        let hidden = name.strip_prefix(WHITEOUT_PREFIX.as_bytes())?;
        Some(Whiteout::Path(
            parent.join(std::ffi::OsStr::from_bytes(hidden)),
        ))
    }
}

/// The member name of a whiteout for `rel` (a path below the root, `/`-separated, no `./`).
pub(super) fn whiteout_member(rel: &[u8]) -> Vec<u8> {
    let (parent, name) = match rel.iter().rposition(|byte| *byte == b'/') {
        Some(slash) => (&rel[..=slash], &rel[slash + 1..]),
        None => (&b""[..], rel),
    };
    let mut member = b"./".to_vec();
    member.extend_from_slice(parent);
    member.extend_from_slice(WHITEOUT_PREFIX.as_bytes());
    member.extend_from_slice(name);
    member
}

impl Extractor {
    /// Applies a whiteout to what earlier layers staged.
    pub(super) fn whiteout(&mut self, raw: &[u8], whiteout: Whiteout) -> anyhow::Result<()> {
        match whiteout {
            Whiteout::Path(hidden) => {
                if hidden.as_os_str().is_empty() {
                    return Err(self.hostile(raw, "is a whiteout of the root"));
                }
                if self.layer_paths.contains(&hidden) || !self.reachable(hidden.parent()) {
                    return Ok(());
                }
                self.remove_staged(&hidden)
            }
            Whiteout::Opaque(dir) => {
                if !self.reachable(Some(&dir)) {
                    return Ok(());
                }
                let path = self.staging.join(&dir);
                let listing = match fs::read_dir(&path) {
                    Ok(listing) => listing,
                    Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
                    Err(error) => {
                        return Err(anyhow::Error::new(error)
                            .context(Error::local_io(format!("cannot list {}", path.display()))))
                    }
                };
                let mut lower = Vec::new();
                for entry in listing {
                    let entry = entry
                        .or_kind(Kind::LocalIo, || format!("cannot list {}", path.display()))?;
                    let rel = dir.join(entry.file_name());
                    if !self.layer_paths.contains(&rel) {
                        lower.push(rel);
                    }
                }
                for rel in lower {
                    self.remove_staged(&rel)?;
                }
                Ok(())
            }
        }
    }

    /// Whether `dir` (below staging) is a real directory reached without a symlink.
    fn reachable(&self, dir: Option<&Path>) -> bool {
        let mut current = self.staging.clone();
        for component in dir.into_iter().flat_map(Path::components) {
            current.push(component);
            match fs::symlink_metadata(&current) {
                Ok(meta) if meta.is_dir() => {}
                _ => return false,
            }
        }
        true
    }

    /// Removes `rel` from staging (a directory with its contents, never following a symlink)
    /// and from the bookkeeping of what was staged.
    fn remove_staged(&mut self, rel: &Path) -> anyhow::Result<()> {
        let path = self.staging.join(rel);
        let removed = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => fs::remove_dir_all(&path),
            Ok(_) => fs::remove_file(&path),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error),
        };
        removed.or_kind(Kind::LocalIo, || {
            format!("cannot remove {} (a whiteout)", path.display())
        })?;
        let below = |candidate: &Path| candidate.starts_with(rel);
        self.dirs.retain(|dir, _| !below(dir));
        self.known_dirs.retain(|dir| !below(dir));
        if let Some(digests) = self.digests.as_mut() {
            digests.retain(|file, _| !below(file));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteout_names_read_and_write_as_image_spec_says() {
        assert_eq!(
            Whiteout::of(Path::new("a/b/.wh.c")),
            Some(Whiteout::Path(PathBuf::from("a/b/c")))
        );
        assert_eq!(
            Whiteout::of(Path::new(".wh.top")),
            Some(Whiteout::Path(PathBuf::from("top")))
        );
        assert_eq!(
            Whiteout::of(Path::new("a/.wh..wh..opq")),
            Some(Whiteout::Opaque(PathBuf::from("a")))
        );
        assert_eq!(Whiteout::of(Path::new("a/.whale")), None);
        assert_eq!(Whiteout::of(Path::new("")), None);
        assert_eq!(whiteout_member(b"a/b/c"), b"./a/b/.wh.c");
        assert_eq!(whiteout_member(b"top"), b"./.wh.top");
    }
}
