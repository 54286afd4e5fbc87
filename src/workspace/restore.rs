//! `workspace restore`: what a Task that `workspace wrap` rewrote gets in its workspace before
//! its own steps run, decided when it runs from what the Tasks before it pushed.
//!
//! Each source is a Task that may have written the workspace before this one: `--from` by the
//! digest its result holds (it ran), `--from TASK?=` by the tag it pushes to (it may have been
//! skipped by `when`, or failed before a `finally` Task; then its tag does not exist).
//! `--covers TASK=A,B` says that TASK's content already includes A's and B's, so when TASK
//! pushed they are left out. What remains is restored: nothing but `--base` when no source
//! pushed, one source as `workspace pull` restores it, several (parallel writers, a fan-in)
//! merged in the order given, each into a directory of its own first; a path that two sources
//! hold with different content is refused, naming the path and both Tasks, before anything
//! reaches the destination.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::core::error::Error;
use crate::workspace::auth::{credentials_for, AuthEnv};
use crate::workspace::pull::{pull, PullOptions};
use crate::workspace::reference::WorkspaceRef;
use crate::workspace::registry::{Registry, RegistryOptions};

/// A Task that may have pushed the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub task: String,
    pub reference: String,
    /// `TASK?=`: a tag that exists only if the Task ran to its push.
    pub optional: bool,
}

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub dest: PathBuf,
    pub sources: Vec<Source>,
    /// TASK → the Tasks whose content TASK's push already holds.
    pub covers: BTreeMap<String, BTreeSet<String>>,
    /// Restored when no source pushed.
    pub base: Option<String>,
    pub preserve_special_bits: bool,
    /// Bytes each restored artifact may write in all, and one file (`workspace pull`'s limits).
    pub max_size: Option<u64>,
    pub max_file_size: Option<u64>,
    pub registry: RegistryOptions,
    pub auth: AuthEnv,
}

/// What was restored: the Tasks (or `base`) it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub from: Vec<String>,
}

pub async fn restore(options: &RestoreOptions) -> anyhow::Result<Restored> {
    let mut present: Vec<(String, String)> = Vec::new();
    for source in &options.sources {
        if let Some(pinned) = locate(source, options).await? {
            present.push((source.task.clone(), pinned));
        }
    }
    let covered: BTreeSet<&str> = present
        .iter()
        .filter_map(|(task, _)| options.covers.get(task))
        .flatten()
        .map(String::as_str)
        .collect();
    let chosen: Vec<(String, String)> = present
        .into_iter()
        .filter(|(task, _)| !covered.contains(task.as_str()))
        .collect();
    let pull_one = |reference: &str, dest: &Path| PullOptions {
        pairs: vec![(reference.to_string(), dest.to_path_buf())],
        preserve_special_bits: options.preserve_special_bits,
        max_size: options.max_size,
        max_file_size: options.max_file_size,
        registry: options.registry.clone(),
        auth: options.auth.clone(),
    };
    match chosen.as_slice() {
        [] => match &options.base {
            Some(base) => {
                tracing::info!("no earlier Task pushed: restoring the base {base}");
                pull(&pull_one(base, &options.dest)).await?;
                Ok(Restored {
                    from: vec!["base".into()],
                })
            }
            None => {
                tracing::info!("no earlier Task pushed and no base: starting empty");
                std::fs::create_dir_all(&options.dest).map_err(|err| {
                    Error::local_io(format!("cannot create {}: {err}", options.dest.display()))
                })?;
                Ok(Restored { from: Vec::new() })
            }
        },
        [(task, reference)] => {
            tracing::info!("restoring what {task} pushed: {reference}");
            pull(&pull_one(reference, &options.dest)).await?;
            Ok(Restored {
                from: vec![task.clone()],
            })
        }
        several => {
            std::fs::create_dir_all(&options.dest).map_err(|err| {
                Error::local_io(format!("cannot create {}: {err}", options.dest.display()))
            })?;
            // Inside the destination: the same file system (an emptyDir's mount point has no
            // writable parent), so the merge is a rename of each entry.
            let work = tempfile::Builder::new()
                .prefix(".stepkit-merge-")
                .tempdir_in(&options.dest)
                .map_err(|err| {
                    Error::local_io(format!(
                        "cannot create a merge directory in {}: {err}",
                        options.dest.display()
                    ))
                })?;
            let mut trees = Vec::new();
            for (i, (task, reference)) in several.iter().enumerate() {
                let dir = work.path().join(i.to_string());
                tracing::info!("restoring what {task} pushed: {reference}");
                pull(&pull_one(reference, &dir)).await?;
                trees.push((task.clone(), dir));
            }
            merge(&trees, &options.dest)?;
            Ok(Restored {
                from: several.iter().map(|(task, _)| task.clone()).collect(),
            })
        }
    }
}

/// The digest-pinned reference a source restores from, or `None` for a Task that did not push.
async fn locate(source: &Source, options: &RestoreOptions) -> anyhow::Result<Option<String>> {
    let parsed: WorkspaceRef = source.reference.parse().map_err(|err: Error| {
        Error::usage(format!("the reference given for {}: {err}", source.task))
    })?;
    if !source.optional {
        return Ok(Some(source.reference.clone()));
    }
    let WorkspaceRef::Tag { repository, tag } = &parsed else {
        return Ok(Some(source.reference.clone()));
    };
    let auth = credentials_for(repository, &options.auth)?;
    let registry = Registry::new(repository, auth, &options.registry)?;
    match registry.find_tag(tag).await? {
        Some(digest) => Ok(Some(format!(
            "{}/{}@{digest}",
            repository.registry, repository.repository
        ))),
        None => {
            tracing::info!(
                "{} did not push ({} does not exist): it was skipped or did not finish",
                source.task,
                source.reference
            );
            Ok(None)
        }
    }
}

/// What a path holds, to compare two sources' versions of it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir,
    File { mode: u32, sha256: String },
    Link(PathBuf),
}

/// Moves the trees' entries into `dest`, in order; refuses, before moving anything, a path two
/// trees hold differently.
fn merge(trees: &[(String, PathBuf)], dest: &Path) -> anyhow::Result<()> {
    let mut seen: BTreeMap<PathBuf, (Entry, &str)> = BTreeMap::new();
    let mut listed = Vec::new();
    for (task, root) in trees {
        let mut entries = Vec::new();
        walk(root, Path::new(""), &mut entries)?;
        for (path, entry) in &entries {
            match seen.get(path) {
                Some((earlier, by)) if earlier != entry => {
                    return Err(Error::usage(format!(
                        "cannot merge what {by} and {task} pushed: both hold {} and it differs \
                         ({} against {}); make one of these Tasks run after the other, or have \
                         them write different paths",
                        path.display(),
                        describe(earlier),
                        describe(entry)
                    ))
                    .into());
                }
                Some(_) => {}
                None => {
                    seen.insert(path.clone(), (entry.clone(), task));
                }
            }
        }
        listed.push((root, entries));
    }
    for (root, entries) in listed {
        for (path, entry) in entries {
            let target = dest.join(&path);
            let io = |err: std::io::Error| {
                Error::local_io(format!("cannot place {}: {err}", target.display()))
            };
            match entry {
                Entry::Dir => {
                    if !target.is_dir() {
                        std::fs::create_dir(&target).map_err(io)?;
                        let mode = std::fs::metadata(root.join(&path)).map_err(io)?;
                        std::fs::set_permissions(&target, mode.permissions()).map_err(io)?;
                    }
                }
                _ => {
                    if target.symlink_metadata().is_err() {
                        std::fs::rename(root.join(&path), &target).map_err(io)?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn describe(entry: &Entry) -> String {
    match entry {
        Entry::Dir => "a directory".into(),
        Entry::File { mode, sha256 } => format!("a file {sha256:.19}… mode {mode:o}"),
        Entry::Link(target) => format!("a link to {}", target.display()),
    }
}

/// Every entry under `root`, parents before children, in sorted order.
fn walk(root: &Path, relative: &Path, out: &mut Vec<(PathBuf, Entry)>) -> anyhow::Result<()> {
    let dir = root.join(relative);
    let io = |err: std::io::Error| Error::local_io(format!("cannot read {}: {err}", dir.display()));
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    names.sort();
    for name in names {
        let path = relative.join(&name);
        let full = root.join(&path);
        let meta = full.symlink_metadata().map_err(io)?;
        if meta.is_dir() {
            out.push((path.clone(), Entry::Dir));
            walk(root, &path, out)?;
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&full).map_err(io)?;
            out.push((path, Entry::Link(target)));
        } else {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o7777;
            out.push((
                path,
                Entry::File {
                    mode,
                    sha256: file_sha256(&full)?,
                },
            ));
        }
    }
    Ok(())
}

fn file_sha256(path: &Path) -> anyhow::Result<String> {
    let io =
        |err: std::io::Error| Error::local_io(format!("cannot read {}: {err}", path.display()));
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 256 * 1024];
    loop {
        let n = file.read(&mut buffer).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(format!("sha256:{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, content).unwrap();
        }
        dir
    }

    #[test]
    fn parallel_writers_merge_when_they_agree_on_shared_paths() {
        let a = tree(&[("src/main.go", "package main"), ("bin/app", "elf")]);
        let b = tree(&[("src/main.go", "package main"), ("report.xml", "<ok/>")]);
        let dest = tempfile::tempdir().unwrap();
        let trees = vec![
            ("build".to_string(), a.path().to_path_buf()),
            ("test".to_string(), b.path().to_path_buf()),
        ];
        merge(&trees, dest.path()).unwrap();
        for (path, content) in [
            ("src/main.go", "package main"),
            ("bin/app", "elf"),
            ("report.xml", "<ok/>"),
        ] {
            assert_eq!(
                std::fs::read_to_string(dest.path().join(path)).unwrap(),
                content
            );
        }
    }

    #[test]
    fn a_path_two_writers_changed_differently_is_refused_before_anything_moves() {
        let a = tree(&[("a-only", "1"), ("go.sum", "one")]);
        let b = tree(&[("go.sum", "two")]);
        let dest = tempfile::tempdir().unwrap();
        let trees = vec![
            ("build".to_string(), a.path().to_path_buf()),
            ("lint".to_string(), b.path().to_path_buf()),
        ];
        let err = merge(&trees, dest.path()).unwrap_err().to_string();
        assert!(
            err.contains("build") && err.contains("lint") && err.contains("go.sum"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
    }
}
