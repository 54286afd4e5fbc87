//! `workspace wrap`: rewrites a Pipeline (or a PipelineRun) so that its chosen workspaces
//! travel between Tasks as OCI artifacts instead of a shared volume, without editing a Task by
//! hand. `load` reads the definitions (local files only), `plan` decides on the DAG who
//! restores what from whom, `rewrite` adds the steps, params and results; the output is
//! deterministic YAML (`tekton::doc`).

pub mod load;
pub mod plan;
pub mod rewrite;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::core::error::Error;
use crate::tekton::doc::{to_yaml, Doc};
use crate::tekton::model::{Kind, PipelineSpec, Resource, TaskRef};
use crate::workspace::reference::{fill_placeholder, WorkspaceRef};

use load::{read_documents, Definition, Library};

/// The tag a `--to` without one gets: unique per PipelineRun object (a re-created run of the
/// same name gets a new uid) and per task.
pub const DEFAULT_TAG: &str = "$(context.pipelineRun.uid)-$(context.pipelineTask.name)";

/// The Tekton variables `--to` may hold, and a stand-in that parses as part of a tag.
const TAG_VARIABLES: [&str; 4] = [
    "$(context.pipelineRun.uid)",
    "$(context.pipelineRun.name)",
    "$(context.pipelineRun.namespace)",
    "$(context.pipelineTask.name)",
];

#[derive(Debug, Clone)]
pub struct WrapOptions {
    pub input: PathBuf,
    pub tasks_dirs: Vec<PathBuf>,
    /// The workspaces to carry; empty: those a PipelineRun binds to emptyDir, or all of a Pipeline's.
    pub workspaces: Vec<String>,
    /// `REGISTRY/REPO[:TAG]`, with `{{workspace}}` and the [`TAG_VARIABLES`].
    pub to: String,
    /// Initial content (`{{workspace}}` allowed).
    pub base: Option<String>,
    pub trusted_artifacts: bool,
    pub stepkit_image: String,
    pub insecure_registries: String,
}

/// The rewritten definition and what was done.
#[derive(Debug, Clone)]
pub struct Wrapped {
    pub yaml: String,
    pub workspaces: Vec<String>,
    /// The Pipeline tasks that restore or push, in the order they are declared.
    pub tasks: Vec<String>,
    /// The PipelineRun's workspaces that were bound to a volume claim and now to an emptyDir.
    pub rebound: Vec<String>,
    /// How many documents the input file holds.
    pub input_documents: usize,
}

pub fn wrap(options: &WrapOptions) -> anyhow::Result<Wrapped> {
    let documents = read_documents(&options.input)?;
    let target = choose_target(&documents, &options.input)?;
    let library = Library::load(&documents, &options.tasks_dirs)?;
    let mut doc = documents[target].doc.clone();
    let kind = documents[target].kind().expect("chosen by kind");
    let owner = format!(
        "{} {}",
        kind.as_str(),
        documents[target]
            .name()
            .or_else(|| doc.get("metadata")?.get("generateName")?.as_str())
            .unwrap_or("(unnamed)")
    );

    let (mut spec, bound_to_empty_dir) = match kind {
        Kind::Pipeline => (
            doc.get("spec").cloned().unwrap_or(Doc::Map(Vec::new())),
            None,
        ),
        _ => {
            let run_spec = doc.get("spec").cloned().unwrap_or(Doc::Map(Vec::new()));
            let empty_dirs: Vec<String> = run_spec
                .get("workspaces")
                .map(Doc::as_seq)
                .unwrap_or_default()
                .iter()
                .filter(|w| w.get("emptyDir").is_some())
                .filter_map(|w| w.get("name").and_then(Doc::as_str).map(str::to_string))
                .collect();
            let spec = match (run_spec.get("pipelineSpec"), run_spec.get("pipelineRef")) {
                (Some(spec), _) => spec.clone(),
                (None, Some(reference)) => {
                    let reference: TaskRef = serde_json::from_value(reference.to_json())
                        .map_err(|e| Error::usage(format!("{owner}: spec.pipelineRef: {e}")))?;
                    let pipeline = library.resolve(Kind::Pipeline, &reference, None, &owner)?;
                    pipeline
                        .get("spec")
                        .cloned()
                        .unwrap_or(Doc::Map(Vec::new()))
                }
                (None, None) => {
                    return Err(Error::usage(format!(
                        "{owner}: has neither pipelineSpec nor pipelineRef"
                    ))
                    .into())
                }
            };
            (spec, Some(empty_dirs))
        }
    };

    let typed = match Resource::decode(Kind::Pipeline, spec.to_json()) {
        Ok(Resource::Pipeline(typed)) => typed,
        Ok(_) => unreachable!("decoded as a Pipeline"),
        Err(problem) => return Err(Error::usage(format!("{owner}: {problem}")).into()),
    };
    let declared: Vec<&str> = typed.workspaces.iter().map(|w| w.name.as_str()).collect();
    let chosen: BTreeSet<String> = if options.workspaces.is_empty() {
        match &bound_to_empty_dir {
            Some(names) => names.iter().cloned().collect(),
            None => declared.iter().map(|s| s.to_string()).collect(),
        }
    } else {
        for name in &options.workspaces {
            if !declared.contains(&name.as_str()) {
                return Err(Error::usage(format!(
                    "--workspace {name}: {owner} declares no such workspace (it declares {})",
                    list_or_none(&declared)
                ))
                .into());
            }
        }
        options.workspaces.iter().cloned().collect()
    };
    if chosen.is_empty() {
        return Err(Error::usage(format!(
            "{owner}: no workspace to carry over OCI (a PipelineRun's are those bound to emptyDir; \
             name them with --workspace)"
        ))
        .into());
    }

    let task_specs = task_specs(&typed, &spec, &chosen, &library, &owner)?;
    let plan = plan::plan(&typed, &chosen, &task_specs, &owner)?;
    let settings = settings(options, &chosen)?;
    rewrite::rewrite(&mut spec, &plan, &task_specs, &settings, &owner)?;

    let mut rebound = Vec::new();
    match kind {
        Kind::Pipeline => doc.set("spec", spec),
        _ => {
            let run_spec = doc.get_mut("spec").expect("read above");
            rebound = rebind(run_spec, &chosen, &owner)?;
            if let Doc::Map(entries) = run_spec {
                if let Some(entry) = entries.iter_mut().find(|(k, _)| k == "pipelineRef") {
                    *entry = ("pipelineSpec".to_string(), Doc::Null);
                }
            }
            run_spec.set("pipelineSpec", spec);
        }
    }
    let tasks = typed
        .tasks
        .iter()
        .chain(&typed.finally)
        .filter(|t| plan.contains_key(&t.name))
        .map(|t| t.name.clone())
        .collect();
    Ok(Wrapped {
        yaml: to_yaml(&doc),
        workspaces: chosen.into_iter().collect(),
        tasks,
        rebound,
        input_documents: documents.len(),
    })
}

/// Binds each chosen workspace a PipelineRun gave a volume claim to an emptyDir instead (the
/// content travels over OCI now); refuses one bound to a Secret, ConfigMap or other volume,
/// which Tasks cannot write. Returns the workspaces rebound.
fn rebind(
    run_spec: &mut Doc,
    chosen: &BTreeSet<String>,
    owner: &str,
) -> anyhow::Result<Vec<String>> {
    let mut rebound = Vec::new();
    let Some(Doc::Seq(bindings)) = run_spec.get_mut("workspaces") else {
        return Ok(rebound);
    };
    for binding in bindings {
        let Some(name) = binding
            .get("name")
            .and_then(Doc::as_str)
            .map(str::to_string)
        else {
            continue;
        };
        if !chosen.contains(&name) || binding.get("emptyDir").is_some() {
            continue;
        }
        if binding.get("subPath").is_some() {
            return Err(Error::usage(format!(
                "{owner}: workspace {name:?} is bound with a subPath; carried over OCI, each Task gets the whole workspace"
            ))
            .into());
        }
        if binding.get("persistentVolumeClaim").is_some()
            || binding.get("volumeClaimTemplate").is_some()
        {
            *binding = Doc::map([
                ("name", Doc::str(&name)),
                ("emptyDir", Doc::Map(Vec::new())),
            ]);
            rebound.push(name);
            continue;
        }
        return Err(Error::usage(format!(
            "{owner}: workspace {name:?} is bound to a volume Tasks cannot write (not emptyDir or a \
             volume claim); leave it out of --workspace"
        ))
        .into());
    }
    Ok(rebound)
}

/// The PipelineRun of the file, else its Pipeline; more than one of either is ambiguous.
fn choose_target(documents: &[Definition], file: &Path) -> anyhow::Result<usize> {
    for kind in [Kind::PipelineRun, Kind::Pipeline] {
        let found: Vec<usize> = (0..documents.len())
            .filter(|&i| documents[i].kind() == Some(kind))
            .collect();
        match found.as_slice() {
            [] => continue,
            [one] => return Ok(*one),
            _ => {
                return Err(Error::usage(format!(
                    "{}: holds {} {}s; wrap takes a file with one (split the file)",
                    file.display(),
                    found.len(),
                    kind.as_str()
                ))
                .into())
            }
        }
    }
    Err(Error::usage(format!(
        "{}: holds no Pipeline or PipelineRun to wrap",
        file.display()
    ))
    .into())
}

/// Each task that binds a chosen workspace, with its Task as a taskSpec.
fn task_specs(
    typed: &PipelineSpec,
    spec: &Doc,
    chosen: &BTreeSet<String>,
    library: &Library,
    owner: &str,
) -> anyhow::Result<plan::TaskSpecs> {
    let mut specs = plan::TaskSpecs::new();
    for (section, tasks) in [("tasks", &typed.tasks), ("finally", &typed.finally)] {
        let docs = spec.get(section).map(Doc::as_seq).unwrap_or_default();
        for (task, doc) in tasks.iter().zip(docs) {
            let uses = task
                .workspaces
                .iter()
                .any(|w| w.workspace.as_ref().is_some_and(|n| chosen.contains(n)));
            if !uses || task.pipeline_ref.is_some() || task.pipeline_spec.is_some() {
                continue;
            }
            let what = format!("{owner}: task {:?}", task.name);
            let task_spec = match (doc.get("taskSpec"), &task.task_ref) {
                (Some(inline), _) => {
                    if let Some(kind) = inline.get("kind").and_then(Doc::as_str) {
                        return Err(Error::usage(format!(
                            "{what}: an embedded custom task ({kind}) cannot carry a workspace"
                        ))
                        .into());
                    }
                    inline.clone()
                }
                (None, Some(reference)) => {
                    let version = doc
                        .get("taskRef")
                        .and_then(|r| r.get("version"))
                        .and_then(Doc::as_str);
                    let found = library.resolve(Kind::Task, reference, version, &what)?;
                    found.get("spec").cloned().unwrap_or(Doc::Map(Vec::new()))
                }
                (None, None) => {
                    return Err(
                        Error::usage(format!("{what}: has neither taskRef nor taskSpec")).into(),
                    )
                }
            };
            specs.insert(task.name.clone(), task_spec);
        }
    }
    Ok(specs)
}

/// `--to` and `--base` per workspace, checked once here.
fn settings(options: &WrapOptions, chosen: &BTreeSet<String>) -> anyhow::Result<rewrite::Settings> {
    let mut to = BTreeMap::new();
    let mut base = BTreeMap::new();
    for workspace in chosen {
        let mut target = fill_placeholder(&options.to, workspace);
        let last = target.rsplit('/').next().unwrap_or("");
        if target.contains('@') {
            return Err(Error::usage(format!(
                "--to {}: a digest cannot be pushed to; give REGISTRY/REPO[:TAG]",
                options.to
            ))
            .into());
        }
        if !last.contains(':') {
            target = format!("{target}:{DEFAULT_TAG}");
        }
        let mut probe = target.clone();
        for variable in TAG_VARIABLES {
            probe = probe.replace(variable, "x");
        }
        match probe.parse::<WorkspaceRef>() {
            Ok(WorkspaceRef::Tag { .. }) => {}
            Ok(_) => unreachable!("no @ in it"),
            Err(err) => {
                return Err(Error::usage(format!(
                    "--to {}: {err} (Tekton variables it may hold: {})",
                    options.to,
                    TAG_VARIABLES.join(", ")
                ))
                .into())
            }
        }
        to.insert(workspace.clone(), target);
        if let Some(template) = &options.base {
            let reference = fill_placeholder(template, workspace);
            reference
                .parse::<WorkspaceRef>()
                .map_err(|err| Error::usage(format!("--base {template}: {err}")))?;
            base.insert(workspace.clone(), reference);
        }
    }
    Ok(rewrite::Settings {
        to,
        base,
        trusted_artifacts: options.trusted_artifacts,
        stepkit_image: options.stepkit_image.clone(),
        insecure_registries: options.insecure_registries.clone(),
    })
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
