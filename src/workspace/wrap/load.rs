//! The definitions `workspace wrap` reads, from local files only: the file given (a Pipeline,
//! or a PipelineRun with `pipelineSpec` or `pipelineRef`), and the Tasks and Pipelines of each
//! `--tasks` directory (recursively) that references resolve to. Every file is read through the
//! budgeted reader (regular files, a size limit) and the directories are walked to a file count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::core::error::Error;
use crate::tekton::doc::Doc;
use crate::tekton::files::{read_yaml_text, yaml_files_under};
use crate::tekton::model::{Kind, TaskRef};
use crate::tekton::yaml::parse_stream;

/// One document and where it came from.
#[derive(Debug, Clone)]
pub struct Definition {
    pub doc: Doc,
    pub file: PathBuf,
}

impl Definition {
    pub fn kind(&self) -> Option<Kind> {
        self.doc
            .get("kind")
            .and_then(Doc::as_str)
            .and_then(Kind::parse)
    }

    pub fn name(&self) -> Option<&str> {
        self.doc.get("metadata")?.get("name")?.as_str()
    }

    /// The `app.kubernetes.io/version` label, as catalogs version a Task.
    pub fn version(&self) -> Option<&str> {
        self.doc
            .get("metadata")?
            .get("labels")?
            .get("app.kubernetes.io/version")?
            .as_str()
    }
}

/// A version label as numbers to compare (`0.10` after `0.9`); what does not parse sorts first.
fn version_key(version: Option<&str>) -> Vec<u64> {
    version
        .map(|v| v.split('.').map(|n| n.parse().unwrap_or(0)).collect())
        .unwrap_or_default()
}

/// The documents of a YAML file; a syntax error is bad input naming the file and position.
pub fn read_documents(path: &Path) -> anyhow::Result<Vec<Definition>> {
    let text = read_yaml_text(path)?;
    let stream = parse_stream(&text);
    if let Some(error) = &stream.error {
        return Err(Error::usage(format!(
            "{}:{}:{}: not valid YAML: {}",
            path.display(),
            error.pos.line,
            error.pos.column,
            error.message
        ))
        .into());
    }
    Ok(stream
        .documents
        .iter()
        .filter(|d| !d.root.is_null())
        .map(|d| Definition {
            doc: Doc::from_node(&d.root),
            file: path.to_path_buf(),
        })
        .collect())
}

/// The Tasks and Pipelines references may name, by kind and name; the file given first.
pub struct Library {
    /// Every definition of a kind and name: a catalog holds one per version.
    by_name: BTreeMap<(Kind, String), Vec<Definition>>,
    /// Each `--tasks` file, for git references by path.
    files: Vec<(PathBuf, Vec<Definition>)>,
    searched: String,
}

impl Library {
    pub fn load(own: &[Definition], tasks_dirs: &[PathBuf]) -> anyhow::Result<Library> {
        let paths = yaml_files_under(tasks_dirs)?;
        let mut library = Library {
            by_name: BTreeMap::new(),
            files: Vec::new(),
            searched: if tasks_dirs.is_empty() {
                "the file given (no --tasks directory)".into()
            } else {
                format!(
                    "the file given and --tasks {}",
                    tasks_dirs
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        };
        let add = |definition: &Definition, library: &mut Library| {
            if let (Some(kind), Some(name)) = (definition.kind(), definition.name()) {
                library
                    .by_name
                    .entry((kind, name.to_string()))
                    .or_default()
                    .push(definition.clone());
            }
        };
        for definition in own {
            add(definition, &mut library);
        }
        for path in paths {
            // A file that does not parse is no candidate; the file given must parse.
            let Ok(definitions) = read_documents(&path) else {
                continue;
            };
            for definition in &definitions {
                add(definition, &mut library);
            }
            library.files.push((path, definitions));
        }
        Ok(library)
    }

    /// The Task (or Pipeline, for `kind`) a reference names, found locally; `what` names the
    /// referrer in the error. Of several with that name, the one whose version label is
    /// `version` (Konflux's `taskRef.version`), else the highest version, else the first found.
    pub fn resolve(
        &self,
        kind: Kind,
        reference: &TaskRef,
        version: Option<&str>,
        what: &str,
    ) -> anyhow::Result<&Doc> {
        let param = |name: &str| {
            reference
                .params
                .iter()
                .find(|p| p.name == name)
                .and_then(|p| p.value.as_ref())
                .and_then(|v| v.as_str())
        };
        let described = describe(reference);
        if let Some(custom) = reference
            .api_version
            .as_deref()
            .filter(|v| !v.starts_with("tekton.dev/"))
        {
            return Err(Error::usage(format!(
                "{what}: taskRef to a custom task ({custom}); only Tasks can carry a workspace"
            ))
            .into());
        }
        if let Some(path) = param("pathInRepo") {
            // git: the file under a --tasks directory whose path ends with pathInRepo.
            for (file, definitions) in &self.files {
                if file.ends_with(path) {
                    if let Some(found) = definitions.iter().find(|d| d.kind() == Some(kind)) {
                        return Ok(&found.doc);
                    }
                }
            }
        }
        let name = reference.name.as_deref().or_else(|| param("name"));
        if let Some(name) = name {
            if let Some(found) = self.by_name.get(&(kind, name.to_string())) {
                let wanted = found
                    .iter()
                    .find(|d| version.is_some() && d.version() == version);
                let latest = found
                    .iter()
                    .rev()
                    .max_by_key(|d| version_key(d.version()))
                    .expect("a name is listed with its definitions");
                return Ok(&wanted.unwrap_or(latest).doc);
            }
        }
        Err(Error::usage(format!(
            "{what}: {described} cannot be resolved from {}; pass --tasks DIR with a {} named {}",
            self.searched,
            kind.as_str(),
            name.map(|n| format!("{n:?}"))
                .unwrap_or_else(|| "as it names it".into())
        ))
        .into())
    }
}

fn describe(reference: &TaskRef) -> String {
    let mut parts = Vec::new();
    if let Some(resolver) = &reference.resolver {
        parts.push(format!("the {resolver} resolver"));
    }
    if let Some(bundle) = &reference.bundle {
        parts.push(format!("bundle {bundle}"));
    }
    if let Some(name) = &reference.name {
        parts.push(format!("name {name}"));
    }
    for param in &reference.params {
        if let Some(value) = param.value.as_ref().and_then(|v| v.as_str()) {
            parts.push(format!("{}={value}", param.name));
        }
    }
    format!("the reference ({})", parts.join(", "))
}
