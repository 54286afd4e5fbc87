//! Finding and reading the files to lint, so that no file can hang or sink the run: only
//! regular files are read, each at most `max-file-size` bytes. A FIFO, device or socket, a
//! symlink that dangles or loops, or a file past the size budget becomes a finding on that path
//! (`not-regular-file`, `yaml-limits`) while every other file is still linted.
//!
//! In a directory, `*.yaml` and `*.yml` files are collected recursively, hidden entries and
//! `--exclude` matches skipped; symlinks to files are followed, symlinks to directories are not
//! (which also keeps a symlink loop from walking forever). A path named on the command line is
//! followed wherever it points.

use std::fs::FileType;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rayon::prelude::*;

use super::rules::RuleId;
use super::{Config, SourceFile};
use crate::core::error::Error;
use crate::core::glob::GlobSet;
use crate::core::input::{describe_kind, read_input, InputError};

/// Why a path was not read.
#[derive(Debug, Clone)]
pub struct Unread {
    pub rule: RuleId,
    pub message: String,
}

/// A path to lint, or the reason it cannot be read.
enum Candidate {
    File(PathBuf),
    Unreadable(PathBuf, Unread),
}

/// Reads the inputs: files, directories, `-` for stdin.
pub fn read_inputs(inputs: &[PathBuf], config: &Config) -> anyhow::Result<Vec<SourceFile>> {
    let excluded = config.exclude_set()?;
    let mut candidates = Vec::new();
    let mut stdin = None;
    for input in inputs {
        if input.as_os_str() == "-" {
            let text = read_text(None, config.max_file_size).context("reading YAML from stdin")?;
            stdin = Some(text);
            continue;
        }
        if std::fs::symlink_metadata(input).is_err() {
            return Err(Error::usage(format!(
                "input {}: no such file or directory",
                input.display()
            ))
            .into());
        }
        match std::fs::metadata(input) {
            Ok(meta) if meta.is_dir() => walk(input, &excluded, &mut candidates)
                .with_context(|| format!("reading directory {}", input.display()))?,
            Ok(meta) => candidates.push(classify(input.clone(), meta.file_type())),
            Err(error) => candidates.push(dangling(input.clone(), &error)),
        }
    }
    candidates.sort_by(|a, b| a.path().cmp(b.path()));
    candidates.dedup_by(|a, b| a.path() == b.path());
    let mut files: Vec<SourceFile> = candidates
        .into_par_iter()
        .map(|candidate| match candidate {
            Candidate::File(path) => read_file(path, config.max_file_size),
            Candidate::Unreadable(path, unread) => Ok(SourceFile::unread(path, unread)),
        })
        .collect::<anyhow::Result<_>>()?;
    if let Some(text) = stdin {
        files.push(match text {
            Ok(text) => SourceFile::parse(PathBuf::from("-"), text),
            Err(unread) => SourceFile::unread(PathBuf::from("-"), unread),
        });
    }
    Ok(files)
}

impl Candidate {
    fn path(&self) -> &Path {
        match self {
            Candidate::File(path) | Candidate::Unreadable(path, _) => path,
        }
    }
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

fn walk(dir: &Path, excluded: &GlobSet, out: &mut Vec<Candidate>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let file_type = entry.file_type()?;
        let excluded_here =
            excluded.matches_within(path.to_string_lossy().as_bytes(), file_type.is_dir());
        if name.starts_with('.') || excluded_here {
            continue;
        }
        if file_type.is_dir() {
            walk(&path, excluded, out)?;
        } else if !is_yaml(&name) {
            continue;
        } else if file_type.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) => out.push(classify(path, meta.file_type())),
                Err(error) => out.push(dangling(path, &error)),
            }
        } else {
            out.push(classify(path, file_type));
        }
    }
    Ok(())
}

/// A regular file, or a finding saying what else the path is.
fn classify(path: PathBuf, file_type: FileType) -> Candidate {
    if file_type.is_file() {
        return Candidate::File(path);
    }
    Candidate::Unreadable(path, not_regular(describe_kind(&file_type)))
}

fn not_regular(what: &str) -> Unread {
    Unread {
        rule: RuleId::NotRegularFile,
        message: format!("{what}, not a regular file; it was not read"),
    }
}

fn dangling(path: PathBuf, error: &std::io::Error) -> Candidate {
    let why = match error.kind() {
        std::io::ErrorKind::NotFound => "its target does not exist".to_string(),
        _ if error.raw_os_error() == Some(40) => "it is part of a symlink loop".to_string(),
        _ => error.to_string(),
    };
    let message = format!("a symlink that leads to no file ({why}); fix or remove the link");
    Candidate::Unreadable(
        path,
        Unread {
            rule: RuleId::NotRegularFile,
            message,
        },
    )
}

fn read_file(path: PathBuf, max_size: u64) -> anyhow::Result<SourceFile> {
    let text =
        read_text(Some(&path), max_size).with_context(|| format!("reading {}", path.display()))?;
    Ok(match text {
        Ok(text) => SourceFile::parse(path, text),
        Err(unread) => SourceFile::unread(path, unread),
    })
}

/// The file (stdin for `None`) as text, invalid UTF-8 replaced; a path that turned out not to
/// be a regular file, or more than `max_size` bytes, is a finding instead.
fn read_text(path: Option<&Path>, max_size: u64) -> anyhow::Result<Result<String, Unread>> {
    let bytes = match read_input(path, max_size) {
        Ok(bytes) => bytes,
        Err(InputError::NotRegular(what)) => return Ok(Err(not_regular(what))),
        Err(InputError::TooLarge { limit }) => {
            return Ok(Err(Unread {
                rule: RuleId::YamlLimits,
                message: format!(
                    "larger than the {limit}-byte limit for one file; it was not read \
                     (raise it with --max-file-size if the file is real)"
                ),
            }))
        }
        Err(InputError::Io(error)) => return Err(error.into()),
    };
    Ok(Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }))
}

/// `4MiB`, `512KiB`, `1048576`: a size in bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = text[digits.len()..].to_ascii_lowercase();
    let scale = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit; use bytes, KiB, MiB or GiB"
            ))
        }
    };
    let number: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: expected a size such as 4MiB"))?;
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?}: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert!(parse_size("4 parsecs").is_err());
        assert!(parse_size("MiB").is_err());
    }

    #[test]
    fn a_file_past_the_limit_is_a_finding_and_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml");
        std::fs::write(&path, "abcdef").unwrap();
        assert_eq!(read_text(Some(&path), 6).unwrap().unwrap(), "abcdef");
        let unread = read_text(Some(&path), 5).unwrap().unwrap_err();
        assert_eq!(unread.rule, RuleId::YamlLimits);
        let unread = read_text(Some(Path::new("/dev/null")), 5)
            .unwrap()
            .unwrap_err();
        assert_eq!(unread.rule, RuleId::NotRegularFile);
        assert!(
            unread.message.starts_with("a character device"),
            "{}",
            unread.message
        );
    }
}
