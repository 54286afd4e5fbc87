//! The definitions a run can use, read from local files only: the file given, then each
//! `--tasks` directory (recursively), then the file's own directory. References resolve by kind
//! and name in that order; a resolver reference (git, bundles, hub, cluster) resolves to the
//! local file it names (`pathInRepo` under a `--tasks` directory) or to the name it asks for.
//! ConfigMaps and Secrets in those files (and `--secret NAME=DIR`) stand for the cluster's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;

use crate::core::error::Error;
use crate::lint::{Corpus, Profile, SourceFile, TektonDoc};
use crate::tekton::files::{read_yaml_text, yaml_files_under};
use crate::tekton::model::{Kind, ParamBinding, TaskRef};
use crate::tekton::yaml::Node;

/// Every document the run may use, in lookup order.
pub struct Catalog {
    pub corpus: Corpus,
    /// How many of `corpus.files` came from the file given (they are first).
    pub own_files: usize,
    tasks_dirs: Vec<PathBuf>,
    /// `--secret NAME=DIR`.
    extra_secrets: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
}

/// Reads a YAML file, refusing anything that is not a regular file of reasonable size.
fn read_yaml(path: &Path) -> anyhow::Result<SourceFile> {
    let text = read_yaml_text(path)?;
    Ok(SourceFile::parse(path.to_path_buf(), text))
}

/// Why a document has no typed resource, for the error that refuses it.
pub fn unreadable(doc: &TektonDoc) -> String {
    if doc.decode_errors.is_empty() {
        "cannot be read".to_string()
    } else {
        doc.decode_errors.join("; ")
    }
}

impl Catalog {
    pub fn load(
        file: &Path,
        tasks_dirs: &[PathBuf],
        secrets: &[(String, PathBuf)],
    ) -> anyhow::Result<Catalog> {
        let own = read_yaml(file)?;
        if let Some(error) = &own.stream.error {
            return Err(Error::usage(format!(
                "{}:{}:{}: YAML syntax error: {}",
                file.display(),
                error.pos.line,
                error.pos.column,
                error.message
            ))
            .into());
        }
        let mut paths = yaml_files_under(tasks_dirs)?;
        if let Some(parent) = file.parent().filter(|p| p.is_dir()) {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            for entry in std::fs::read_dir(parent)?.flatten() {
                let path = entry.path();
                let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
                if yaml && path.is_file() && !same_file(&path, file) {
                    paths.push(path);
                }
            }
        }
        let mut files = vec![own];
        for path in paths {
            // A file that does not parse is no candidate; the file given must parse.
            if let Ok(source) = read_yaml(&path) {
                files.push(source);
            }
        }
        let mut extra_secrets = BTreeMap::new();
        for (name, dir) in secrets {
            extra_secrets.insert(name.clone(), read_secret_dir(name, dir)?);
        }
        let mut corpus = Corpus::build(files, Profile::Core);
        for doc in &mut corpus.docs {
            // A definition runs whole or not at all: where lint's model leaves out a value of
            // the wrong type (to check the rest), Tekton refuses the object.
            let problems = doc.shape_errors();
            if !problems.is_empty() {
                doc.resource = None;
                doc.decode_errors = problems;
            }
        }
        Ok(Catalog {
            corpus,
            own_files: 1,
            tasks_dirs: tasks_dirs.to_vec(),
            extra_secrets,
        })
    }

    /// The documents of the file given.
    pub fn own_docs(&self) -> impl Iterator<Item = &TektonDoc> {
        self.corpus.docs.iter().filter(|d| d.file < self.own_files)
    }

    /// The first document of `kind` named `name`.
    pub fn find(&self, kind: Kind, name: &str) -> Option<&TektonDoc> {
        self.corpus
            .docs
            .iter()
            .find(|d| d.kind == kind && d.name() == name)
    }

    /// Resolves a `taskRef` or `pipelineRef` (`kind` is Task or Pipeline) from local files.
    pub fn resolve(
        &self,
        reference: &TaskRef,
        kind: Kind,
        what: &str,
    ) -> anyhow::Result<&TektonDoc> {
        let wanted = reference.kind.as_deref().filter(|k| {
            !["", "task", "clustertask", "pipeline"].contains(&k.to_ascii_lowercase().as_str())
        });
        if let Some(custom) = wanted {
            return Err(Error::usage(format!(
                "{what} refers to a {custom} ({}), a custom task; stepkit task run runs Tasks and Pipelines only",
                reference.api_version.as_deref().unwrap_or("no apiVersion")
            ))
            .into());
        }
        if reference.bundle.is_some() {
            let name = reference.name.clone().unwrap_or_default();
            return self.by_name(kind, &name, what, "a bundle");
        }
        match reference.resolver.as_deref() {
            None | Some("") => {
                let name = reference.name.clone().unwrap_or_default();
                self.by_name(kind, &name, what, "the cluster")
            }
            Some("git") => {
                let path = param(&reference.params, "pathInRepo").unwrap_or_default();
                self.by_path(kind, &path, what)
            }
            Some(resolver @ ("bundles" | "hub" | "cluster")) => {
                let name = param(&reference.params, "name").unwrap_or_default();
                if let Some(ref_kind) = param(&reference.params, "kind") {
                    let expected = kind.as_str().to_ascii_lowercase();
                    if ref_kind.to_ascii_lowercase() != expected {
                        return Err(Error::usage(format!(
                            "{what}: the {resolver} resolver is asked for a {ref_kind}, where a {} is needed",
                            kind.as_str()
                        ))
                        .into());
                    }
                }
                self.by_name(kind, &name, what, &format!("the {resolver} resolver"))
            }
            Some(other) => Err(Error::usage(format!(
                "{what} uses the {other} resolver, which needs the network; stepkit task run resolves references from local files only (git's pathInRepo, or a name, under --tasks)"
            ))
            .into()),
        }
    }

    fn by_name(
        &self,
        kind: Kind,
        name: &str,
        what: &str,
        source: &str,
    ) -> anyhow::Result<&TektonDoc> {
        if name.is_empty() {
            return Err(
                Error::usage(format!("{what}: the reference names no {}", kind.as_str())).into(),
            );
        }
        self.find(kind, name).ok_or_else(|| {
            Error::usage(format!(
                "{what} refers to {} {name:?} (from {source}), which is not in the file, under --tasks ({}) or beside the file; add its directory with --tasks DIR",
                kind.as_str(),
                self.dirs_text()
            ))
            .into()
        })
    }

    /// A git resolver's `pathInRepo`: the file at that path, or at its shortest suffix, under a
    /// `--tasks` directory (so `--tasks tasks` serves `tasks/x/0.1/x.yaml`).
    fn by_path(&self, kind: Kind, path_in_repo: &str, what: &str) -> anyhow::Result<&TektonDoc> {
        let parts: Vec<&str> = path_in_repo.split('/').filter(|p| !p.is_empty()).collect();
        for dir in &self.tasks_dirs {
            for skip in 0..parts.len() {
                let candidate = parts[skip..]
                    .iter()
                    .fold(dir.clone(), |p, part| p.join(part));
                if let Some(doc) = self.corpus.docs.iter().find(|d| {
                    d.kind == kind && same_file(&self.corpus.files[d.file].path, &candidate)
                }) {
                    return Ok(doc);
                }
            }
        }
        Err(Error::usage(format!(
            "{what} uses the git resolver for {path_in_repo:?}, which stepkit resolves from local files: no {} at that path (or a suffix of it) under --tasks ({})",
            kind.as_str(),
            self.dirs_text()
        ))
        .into())
    }

    fn dirs_text(&self) -> String {
        if self.tasks_dirs.is_empty() {
            "none given".to_string()
        } else {
            self.tasks_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    /// A ConfigMap's data (`data` and `binaryData`).
    pub fn config_map(&self, name: &str) -> Option<BTreeMap<String, Vec<u8>>> {
        self.kube_object("ConfigMap", name)
            .map(|node| read_data(node, &["data"], &["binaryData"]))
    }

    /// A Secret's data (`data` base64-decoded, `stringData`), from the files or `--secret`.
    pub fn secret(&self, name: &str) -> Option<BTreeMap<String, Vec<u8>>> {
        if let Some(data) = self.extra_secrets.get(name) {
            return Some(data.clone());
        }
        self.kube_object("Secret", name)
            .map(|node| read_data(node, &["stringData"], &["data"]))
    }

    /// The Secrets of ServiceAccount `account` (from the files) that Tekton's credential
    /// initialisation uses: those annotated `tekton.dev/git-*` or `tekton.dev/docker-*`.
    pub fn credential_secrets(&self, account: &str) -> Vec<String> {
        let Some(account) = self.kube_object("ServiceAccount", account) else {
            return Vec::new();
        };
        let listed = account.get("secrets").and_then(Node::as_seq).into_iter();
        listed
            .flatten()
            .filter_map(|s| s.get("name").and_then(Node::as_str))
            .filter(|name| {
                let annotations = self
                    .kube_object("Secret", name)
                    .and_then(|s| s.get("metadata"))
                    .and_then(|m| m.get("annotations"))
                    .and_then(Node::as_map);
                annotations.into_iter().flatten().any(|(key, _)| {
                    key.as_str().is_some_and(|k| {
                        k.starts_with("tekton.dev/git-") || k.starts_with("tekton.dev/docker-")
                    })
                })
            })
            .map(str::to_string)
            .collect()
    }

    fn kube_object(&self, kind: &str, name: &str) -> Option<&Node> {
        self.corpus.files.iter().find_map(|file| {
            file.stream.documents.iter().map(|d| &d.root).find(|root| {
                root.get("kind").and_then(Node::as_str) == Some(kind)
                    && root
                        .get("metadata")
                        .and_then(|m| m.get("name"))
                        .and_then(Node::as_str)
                        == Some(name)
            })
        })
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn param(params: &[ParamBinding], name: &str) -> Option<String> {
    params
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.value.as_ref())
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

fn read_data(node: &Node, plain: &[&str], encoded: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let mut data = BTreeMap::new();
    for (field, base64) in plain
        .iter()
        .map(|f| (f, false))
        .chain(encoded.iter().map(|f| (f, true)))
    {
        let Some(entries) = node.get(field).and_then(Node::as_map) else {
            continue;
        };
        for (key, value) in entries {
            let (Some(key), Some(value)) = (key.as_str(), value.as_str()) else {
                continue;
            };
            let bytes = if base64 {
                let compact: String = value.split_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap_or_default()
            } else {
                value.as_bytes().to_vec()
            };
            // stringData wins over data, as the API server merges them.
            data.entry(key.to_string()).or_insert(bytes);
        }
    }
    data
}

/// `--secret NAME=DIR`: each regular file in DIR is a key, as a mounted Secret shows it.
fn read_secret_dir(name: &str, dir: &Path) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let mut data = BTreeMap::new();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::usage(format!("--secret {name}={}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let key = entry.file_name().to_string_lossy().into_owned();
        if key.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if entry.metadata().map(|m| m.len()).unwrap_or(0) > 1 << 20 {
            return Err(Error::usage(format!(
                "--secret {name}: {} is larger than the 1 MiB a Secret may hold",
                path.display()
            ))
            .into());
        }
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        data.insert(key, bytes);
    }
    Ok(data)
}
