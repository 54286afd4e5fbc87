//! `workspace restore`: what a Task that `workspace wrap` rewrote gets in its workspace before
//! its own steps run, decided when it runs from what the Tasks before it pushed.
//!
//! Each source is a Task that may have written the workspace before this one: `--from` by the
//! digest its result holds (it ran), `--from TASK?=` by the tag it pushes to (it may have been
//! skipped by `when`, or failed before a `finally` Task; then its tag does not exist).
//! `--covers TASK=A,B` says that TASK's content already includes A's and B's, so when TASK
//! pushed they are left out. What remains is restored: nothing but `--base` when no source
//! pushed, one source as `workspace pull` restores it, several (parallel writers, a fan-in)
//! merged in the order given, each into a directory of its own first: each one's changes
//! against `--merge-base` (what they started from) are applied to it, and a path two sources
//! changed differently is refused, naming the path and both Tasks, before anything reaches the
//! destination.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::core::error::Error;
use crate::workspace::auth::{credentials_for, AuthEnv};
use crate::workspace::pull::{pull, PullOptions};
use crate::workspace::reference::WorkspaceRef;
use crate::workspace::registry::{Registry, RegistryOptions};
use crate::workspace::state::StateChoice;

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
    /// What parallel writers started from, to merge their changes against (`TASK?=` allowed).
    pub merge_base: Option<Source>,
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
    // A single artifact restored in place is recorded beside the workspace, so the Task's push
    // step sends only what the Task changed; a merge has no one base to record.
    let pull_one =
        |reference: &str, dest: &Path, state: StateChoice| -> Result<PullOptions, Error> {
            Ok(PullOptions {
                pairs: vec![(reference.parse()?, dest.to_path_buf())],
                preserve_special_bits: options.preserve_special_bits,
                max_size: options.max_size,
                max_file_size: options.max_file_size,
                state,
                registry: options.registry.clone(),
                auth: options.auth.clone(),
            })
        };
    match chosen.as_slice() {
        [] => match &options.base {
            Some(base) => {
                tracing::info!("no earlier Task pushed: restoring the base {base}");
                pull(&pull_one(base, &options.dest, StateChoice::Beside)?).await?;
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
            pull(&pull_one(reference, &options.dest, StateChoice::Beside)?).await?;
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
            let merge_base = match &options.merge_base {
                Some(source) => locate(source, options).await?,
                None => None,
            };
            let base_dir = work.path().join("base");
            if let Some(reference) = &merge_base {
                tracing::info!("merging against what they started from: {reference}");
                pull(&pull_one(reference, &base_dir, StateChoice::None)?).await?;
            }
            let mut trees = Vec::new();
            for (i, (task, reference)) in several.iter().enumerate() {
                let dir = work.path().join(i.to_string());
                tracing::info!("restoring what {task} pushed: {reference}");
                pull(&pull_one(reference, &dir, StateChoice::None)?).await?;
                trees.push((task.clone(), dir));
            }
            merge(
                &trees,
                merge_base.as_ref().map(|_| base_dir.as_path()),
                &options.dest,
            )?;
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

/// Merges the trees into `dest`: each tree's changes against `base` (what the writers started
/// from; nothing when unknown, so every path is an addition) are applied to it, in order. A path
/// two trees changed differently, or a path whose directory another tree deleted, is refused,
/// naming the path and both Tasks, before anything moves.
fn merge(trees: &[(String, PathBuf)], base: Option<&Path>, dest: &Path) -> anyhow::Result<()> {
    let listing = |root: &Path| -> anyhow::Result<BTreeMap<PathBuf, Entry>> {
        let mut entries = Vec::new();
        walk(root, Path::new(""), &mut entries)?;
        Ok(entries.into_iter().collect())
    };
    let base_entries = match base {
        Some(root) => listing(root)?,
        None => BTreeMap::new(),
    };
    // path → (what it becomes: None = deleted, the task that made it so, the tree holding it)
    let mut changes: BTreeMap<PathBuf, (Option<Entry>, &str, &Path)> = BTreeMap::new();
    for (task, root) in trees {
        let entries = listing(root)?;
        let paths: BTreeSet<&PathBuf> = entries.keys().chain(base_entries.keys()).collect();
        for path in paths {
            let now = entries.get(path);
            if now == base_entries.get(path) {
                continue;
            }
            match changes.get(path) {
                Some((earlier, by, _)) if earlier.as_ref() != now => {
                    return Err(conflict(path, by, earlier.as_ref(), task, now));
                }
                Some(_) => {}
                None => {
                    changes.insert(path.clone(), (now.cloned(), task, root));
                }
            }
        }
    }
    // The result: the base with every change applied, each entry with the tree it comes from.
    let mut result: BTreeMap<PathBuf, (Entry, &str, &Path)> = base_entries
        .into_iter()
        .map(|(path, entry)| (path, (entry, "base", base.unwrap_or(dest))))
        .collect();
    for (path, (entry, task, root)) in &changes {
        match entry {
            Some(entry) => {
                result.insert(path.clone(), (entry.clone(), task, root));
            }
            None => {
                result.remove(path);
            }
        }
    }
    for (path, (_, task, _)) in &result {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !matches!(result.get(parent), Some((Entry::Dir, _, _))) {
                let by = changes.get(parent).map_or("another Task", |(_, by, _)| *by);
                return Err(Error::usage(format!(
                    "cannot merge what {by} and {task} pushed: {by} removed {} and {task} wrote {}; \
                     make one of these Tasks run after the other",
                    parent.display(),
                    path.display()
                ))
                .into());
            }
        }
    }
    for (path, (entry, _, root)) in result {
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
            _ => std::fs::rename(root.join(&path), &target).map_err(io)?,
        }
    }
    Ok(())
}

fn conflict(
    path: &Path,
    earlier_task: &str,
    earlier: Option<&Entry>,
    task: &str,
    now: Option<&Entry>,
) -> anyhow::Error {
    Error::usage(format!(
        "cannot merge what {earlier_task} and {task} pushed: both changed {} ({} against {}); \
         make one of these Tasks run after the other, or have them write different paths",
        path.display(),
        describe(earlier),
        describe(now)
    ))
    .into()
}

fn describe(entry: Option<&Entry>) -> String {
    match entry {
        None => "removed".into(),
        Some(Entry::Dir) => "a directory".into(),
        Some(Entry::File { mode, sha256 }) => format!("a file {sha256:.19}… mode {mode:o}"),
        Some(Entry::Link(target)) => format!("a link to {}", target.display()),
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
        merge(&trees, None, dest.path()).unwrap();
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
    fn against_their_base_one_branch_may_change_or_delete_what_the_other_kept() {
        let base = tree(&[("go.sum", "old"), ("README", "r"), ("src/a.c", "a")]);
        let build = tree(&[
            ("go.sum", "new"),
            ("README", "r"),
            ("src/a.c", "a"),
            ("bin/app", "x"),
        ]);
        let docs = tree(&[("go.sum", "old"), ("src/a.c", "a"), ("manual", "m")]);
        let dest = tempfile::tempdir().unwrap();
        let trees = vec![
            ("build".to_string(), build.path().to_path_buf()),
            ("docs".to_string(), docs.path().to_path_buf()),
        ];
        merge(&trees, Some(base.path()), dest.path()).unwrap();
        let read = |p: &str| std::fs::read_to_string(dest.path().join(p)).ok();
        assert_eq!(read("go.sum").as_deref(), Some("new"));
        assert_eq!(read("README"), None, "docs deleted it");
        assert_eq!(read("bin/app").as_deref(), Some("x"));
        assert_eq!(read("manual").as_deref(), Some("m"));
        assert_eq!(read("src/a.c").as_deref(), Some("a"));

        // Both changed go.sum, differently: refused.
        let docs = tree(&[("go.sum", "other"), ("README", "r"), ("src/a.c", "a")]);
        let build = tree(&[("go.sum", "new"), ("README", "r"), ("src/a.c", "a")]);
        let trees = vec![
            ("build".to_string(), build.path().to_path_buf()),
            ("docs".to_string(), docs.path().to_path_buf()),
        ];
        let dest = tempfile::tempdir().unwrap();
        let err = merge(&trees, Some(base.path()), dest.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("go.sum") && err.contains("build") && err.contains("docs"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_file_written_into_a_directory_the_other_branch_removed_is_refused() {
        let base = tree(&[("d/x", "1")]);
        let cleaner = tree(&[("other", "2")]);
        let writer = tree(&[("d/x", "1"), ("d/y", "3")]);
        let trees = vec![
            ("clean".to_string(), cleaner.path().to_path_buf()),
            ("write".to_string(), writer.path().to_path_buf()),
        ];
        let dest = tempfile::tempdir().unwrap();
        let err = merge(&trees, Some(base.path()), dest.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("clean removed d") && err.contains("write wrote d/y"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
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
        let err = merge(&trees, None, dest.path()).unwrap_err().to_string();
        assert!(
            err.contains("build") && err.contains("lint") && err.contains("go.sum"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
    }
}
