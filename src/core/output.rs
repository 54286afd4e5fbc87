//! Writing a file a command produces (a result, an output file, a baseline) so that nobody ever
//! reads half of it, without ever replacing what the path names when that is not a plain file.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::core::error::{Error, Kind, ResultExt};

/// Temporary files of [`write_atomic`] start with this, so a directory walk can skip them.
pub const TEMP_PREFIX: &str = ".stepkit-";

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed, then
/// renamed over the target, so a reader (or a killed step) never sees half of it. The file is
/// readable by all (a result is read by Tekton's entrypoint, possibly as another user): 0644 when
/// new, else the mode it had plus the read bits. A symlink is followed, so the link stays and its
/// target is replaced. A target that is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) is written into, never
/// renamed over: renaming onto a device node would replace it, for every process on the machine.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// [`write_atomic`] for content `write` produces as it goes, so a large document is never
/// held in memory whole.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let existing = std::fs::metadata(path).ok();
    if let Some(meta) = &existing {
        if meta.is_dir() {
            return Err(Error::usage(format!(
                "cannot write {}: it is a directory",
                path.display()
            ))
            .into());
        }
        if !meta.is_file() {
            return write_into(path, write);
        }
    }
    let target = resolve_link(path);
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).or_kind(Kind::LocalIo, || {
        format!("cannot create directory {}", dir.display())
    })?;
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .or_kind(Kind::LocalIo, || {
            format!("cannot create a file in {}", dir.display())
        })?;
    write(temp.as_file_mut())
        .and_then(|()| temp.as_file().sync_all())
        .or_kind(Kind::LocalIo, || format!("cannot write {}", path.display()))?;
    let mode = existing.map_or(0o644, |meta| meta.permissions().mode() | 0o444);
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .or_kind(Kind::LocalIo, || format!("cannot write {}", path.display()))?;
    temp.persist(&target)
        .map_err(|err| err.error)
        .or_kind(Kind::LocalIo, || format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A device, FIFO or socket the user named as the output: written in place, as a shell's `>`.
fn write_into(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut file| write(&mut file))
        .or_kind(Kind::LocalIo, || format!("cannot write {}", path.display()))
}

/// The file a chain of symlinks ends at (relative links from the link's directory), else `path`.
fn resolve_link(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    // As the kernel's limit on links followed in one lookup: a loop ends here, and the rename
    // then replaces the last link, which is all a loop can mean.
    for _ in 0..40 {
        match std::fs::read_link(&current) {
            Ok(next) => {
                current = match current.parent() {
                    Some(parent) if next.is_relative() => parent.join(next),
                    _ => next,
                }
            }
            Err(_) => break,
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_is_readable_by_others_and_an_existing_one_keeps_its_mode_readable() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("sub/new");
        write_atomic(&new, b"one").unwrap();
        assert_eq!(std::fs::read(&new).unwrap(), b"one");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&new), 0o644);
        let script = dir.path().join("script");
        std::fs::write(&script, "old").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o710)).unwrap();
        write_atomic(&script, b"new").unwrap();
        assert_eq!(std::fs::read(&script).unwrap(), b"new");
        assert_eq!(mode(&script), 0o754);
    }

    #[test]
    fn a_symlink_stays_a_link_and_its_target_gets_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::fs::write(dir.path().join("real/out"), "old").unwrap();
        let link = dir.path().join("out");
        std::os::unix::fs::symlink("real/out", &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(dir.path().join("real/out")).unwrap(), b"new");
    }

    #[test]
    fn a_fifo_is_written_into_and_stays_a_fifo() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "the FIFO was replaced: {kind:?}");
        assert!(std::fs::read_dir(dir.path()).unwrap().all(|entry| !entry
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(TEMP_PREFIX)));
    }
}
