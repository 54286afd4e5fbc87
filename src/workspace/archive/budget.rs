//! The unpack budget: how many bytes a pull may write, and where that limit comes from.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Total bytes an unpack writes when nothing else says how much to expect: generous for a
/// source tree with its build outputs, far below the disk of a node.
pub const DEFAULT_MAX_UNPACK_SIZE: u64 = 8 << 30;

/// What an unpack may write, counted in bytes of file content as they land on disk: a sparse
/// entry and a file of zeros count at their full size, whatever the archive's size. An entry
/// that would pass a limit, or not fit in the space left on the file system, is refused before
/// its first byte is written (exit 6), so a small hostile blob cannot fill the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackBudget {
    /// Bytes all files together may hold.
    pub max_size: u64,
    /// Bytes one file may hold.
    pub max_file_size: u64,
    /// Bytes earlier unpacks of the same pull (its other layers) already wrote.
    pub written_before: u64,
    /// Where `max_size` comes from, as messages name it.
    pub origin: &'static str,
}

impl Default for UnpackBudget {
    fn default() -> Self {
        UnpackBudget {
            max_size: DEFAULT_MAX_UNPACK_SIZE,
            max_file_size: DEFAULT_MAX_UNPACK_SIZE,
            written_before: 0,
            origin: "the default --max-size",
        }
    }
}

impl UnpackBudget {
    /// Why an entry of `size` bytes (its expanded size, if `sparse`) may not be written, after
    /// `written_here` bytes of this unpack and with `space_left` bytes free; `None` if it may.
    pub(super) fn refusal(
        &self,
        written_here: u64,
        space_left: Option<u64>,
        size: u64,
        sparse: bool,
    ) -> Option<String> {
        let written = self.written_before.saturating_add(written_here);
        let expanded = if sparse {
            " (a sparse entry, counted at its full size)"
        } else {
            ""
        };
        if written.saturating_add(size) > self.max_size {
            return Some(format!(
                "would write {}{expanded}, bringing this pull to {}, over the limit of {}, {}",
                human_size(size),
                human_size(written.saturating_add(size)),
                human_size(self.max_size),
                self.origin
            ));
        }
        if size > self.max_file_size {
            return Some(format!(
                "would write {}{expanded} to one file, over --max-file-size {}",
                human_size(size),
                human_size(self.max_file_size)
            ));
        }
        match space_left {
            Some(left) if size > left => Some(format!(
                "would write {}{expanded}, but only {} is free on that file system",
                human_size(size),
                human_size(left)
            )),
            _ => None,
        }
    }
}

/// `10.0 GiB (10737418240 bytes)`.
fn human_size(bytes: u64) -> String {
    format!(
        "{} ({bytes} bytes)",
        bytesize::ByteSize(bytes).display().iec()
    )
}

/// Bytes an unprivileged writer may still put on the file system holding `path`, if known.
pub(super) fn free_space(path: &Path) -> Option<u64> {
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs only writes into the zeroed struct it is given; the path is NUL-terminated.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layer_of_a_pull_counts_against_one_budget_and_the_disk() {
        let budget = UnpackBudget {
            max_size: 1000,
            max_file_size: 600,
            written_before: 300,
            origin: "set by --max-size",
        };
        assert_eq!(budget.refusal(100, None, 600, false), None);
        let total = budget.refusal(101, None, 600, false).unwrap();
        assert!(
            total.contains("bringing this pull to 1001 B (1001 bytes)")
                && total.contains("set by --max-size"),
            "{total}"
        );
        let file = budget.refusal(0, None, 601, true).unwrap();
        assert!(
            file.contains("sparse") && file.contains("--max-file-size"),
            "{file}"
        );
        let disk = budget.refusal(0, Some(599), 600, false).unwrap();
        assert!(disk.contains("only 599 B (599 bytes) is free"), "{disk}");
        assert_eq!(budget.refusal(0, Some(600), 600, false), None);
    }
}
