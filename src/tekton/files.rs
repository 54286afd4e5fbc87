//! Finding and reading the YAML files of Tekton definitions that `task run` and `workspace
//! wrap` take, and the `--tasks` directories they resolve `taskRef`s from.

use std::path::{Path, PathBuf};

use crate::core::error::{self, Error};
use crate::core::input::read_input_text;

/// The most YAML files read from the `--tasks` directories: a catalog holds a few thousand.
const MAX_FILES: usize = 5_000;
/// The largest YAML file read; a Task is a few kilobytes, a Pipeline tens of them.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// The text of a YAML file, refusing anything that is not a regular file of reasonable size
/// (bad input, exit 2); a file that cannot be read is a local I/O error.
pub fn read_yaml_text(path: &Path) -> anyhow::Result<String> {
    read_input_text(Some(path), MAX_FILE_BYTES).map_err(|problem| {
        let what = format!("cannot read {}: {problem}", path.display());
        if problem.is_bad_input() {
            Error::usage(what).into()
        } else {
            Error::new(error::Kind::LocalIo, what).into()
        }
    })
}

/// Every `.yaml`/`.yml` file under `dirs`, each directory's in name order; hidden entries and
/// `target` directories are skipped. A directory that is not one, or more files than any
/// catalog holds, is bad usage naming `--tasks`.
pub fn yaml_files_under(dirs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            return Err(Error::usage(format!("--tasks {}: not a directory", dir.display())).into());
        }
        collect(dir, &mut paths)?;
    }
    Ok(paths)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let io = |err: std::io::Error| {
        Error::usage(format!("--tasks: cannot read {}: {err}", dir.display()))
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            collect(&entry.path(), out)?;
        } else if kind.is_file() && (name.ends_with(".yaml") || name.ends_with(".yml")) {
            out.push(entry.path());
        }
        if out.len() > MAX_FILES {
            return Err(Error::usage(format!(
                "more than {MAX_FILES} YAML files under {}; point --tasks at the directory of the Tasks",
                dir.display()
            ))
            .into());
        }
    }
    Ok(())
}
