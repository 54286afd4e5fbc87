//! Reading the files people and other steps hand us (a SNAPSHOT file, a Kratix object, tool
//! output, a result to validate): only regular files or standard input, and never more than a
//! size budget, so that a FIFO, a device such as `/dev/zero` or a runaway file cannot hang the
//! step or exhaust its memory. Errors say which of those it was; callers name the input.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// One MiB, to write budgets with.
pub const MIB: u64 = 1024 * 1024;

/// Why an input could not be read.
#[derive(Debug)]
pub enum InputError {
    /// A directory, FIFO, socket or device: not something to read as a file.
    NotRegular(&'static str),
    /// Over the budget.
    TooLarge { limit: u64 },
    /// The file system said no (missing, no permission, ...).
    Io(std::io::Error),
}

impl InputError {
    /// Whether the input is unusable as given (bad input, exit 2) rather than unreadable
    /// because of the machine (a local I/O failure, exit 6). A missing file is bad input.
    pub fn is_bad_input(&self) -> bool {
        match self {
            InputError::NotRegular(_) | InputError::TooLarge { .. } => true,
            InputError::Io(error) => matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidData
            ),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::NotRegular(what) => write!(f, "it is {what}, not a regular file"),
            InputError::TooLarge { limit } => {
                write!(
                    f,
                    "it is larger than {}, more than such an input ever is",
                    size(*limit)
                )
            }
            InputError::Io(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for InputError {}

/// The bytes of `path` (standard input for `None`), refused when it is not a regular file or
/// holds more than `limit` bytes.
pub fn read_input(path: Option<&Path>, limit: u64) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    match path {
        None => {
            std::io::stdin()
                .lock()
                .take(limit + 1)
                .read_to_end(&mut bytes)
                .map_err(InputError::Io)?;
        }
        Some(path) => {
            let metadata = std::fs::metadata(path).map_err(InputError::Io)?;
            let kind = metadata.file_type();
            if !kind.is_file() {
                return Err(InputError::NotRegular(describe_kind(&kind)));
            }
            if metadata.len() > limit {
                return Err(InputError::TooLarge { limit });
            }
            std::fs::File::open(path)
                .and_then(|file| file.take(limit + 1).read_to_end(&mut bytes))
                .map_err(InputError::Io)?;
        }
    }
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge { limit });
    }
    Ok(bytes)
}

/// [`read_input`] as UTF-8 text; other bytes are an `InvalidData` error (bad input).
pub fn read_input_text(path: Option<&Path>, limit: u64) -> Result<String, InputError> {
    String::from_utf8(read_input(path, limit)?).map_err(|_| {
        InputError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "it is not UTF-8 text",
        ))
    })
}

/// What a path that is not a regular file is, for messages: "a FIFO (named pipe)".
pub fn describe_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

fn size(bytes: u64) -> String {
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_within_the_budget_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.json");
        std::fs::write(&file, b"{}").unwrap();
        assert_eq!(read_input(Some(&file), 10).unwrap(), b"{}");

        let error = read_input(Some(&file), 1).unwrap_err();
        assert!(error.is_bad_input());
        assert!(error.to_string().contains("larger than 1 bytes"), "{error}");

        let error = read_input(Some(dir.path()), 10).unwrap_err();
        assert_eq!(error.to_string(), "it is a directory, not a regular file");
        let error = read_input(Some(Path::new("/dev/zero")), 10).unwrap_err();
        assert_eq!(
            error.to_string(),
            "it is a character device, not a regular file"
        );

        let missing = read_input(Some(&dir.path().join("absent")), 10).unwrap_err();
        assert!(missing.is_bad_input(), "a missing input is bad input");
    }

    #[test]
    fn text_must_be_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bin");
        std::fs::write(&file, [0xff, 0xfe, 0x00]).unwrap();
        let error = read_input_text(Some(&file), 10).unwrap_err();
        assert!(error.is_bad_input());
        assert!(error.to_string().contains("not UTF-8"), "{error}");
    }
}
