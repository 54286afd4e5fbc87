//! `stepkit task run`: run a Task, TaskRun, StepAction, Pipeline or PipelineRun on this machine
//! with Tekton's semantics, on the one model of Tekton in `crate::tekton`.
//!
//! The flow: read the file and the definitions it may use ([`load`]), pick what to run, validate
//! with lint's webhook rules ([`validate`]) and check params as Tekton checks a TaskRun
//! ([`params`]), then run: a Task, TaskRun or StepAction ([`task`]) as one TaskRun ([`taskrun`],
//! after [`prepare`] resolved and substituted it, in the directories of its [`pod`]), or a
//! Pipeline's DAG ([`pipeline`]). Steps run on the host
//! or in podman ([`runtime`]). At the end the run's results go to `--results-dir` and a table
//! (or JSON) to stdout ([`report`]).
//!
//! This is the one command module that imports another (`lint`), on purpose: a definition
//! Tekton's admission webhook would refuse must be refused here with the very messages `task
//! lint` gives for it (same rule ids, same positions), so the rules are run, not copied. What
//! both need of Tekton itself (YAML, model, expressions) is in `crate::tekton`.

pub mod env;
pub mod host;
pub mod load;
pub mod matrix;
pub mod params;
pub mod pipeline;
pub mod pod;
pub mod podman;
pub mod prepare;
pub mod readonly;
pub mod report;
pub mod results;
pub mod runtime;
pub mod storage;
pub mod subst;
pub mod task;
pub mod taskrun;
pub mod validate;
pub mod when;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use crate::core::error::Error;
use crate::lint::TektonDoc;
use crate::tekton::model::{
    Kind, ParamBinding, PipelineWorkspaceDecl, RunWorkspaceBinding, TaskSpec, WorkspaceDecl,
};
use load::Catalog;
use params::Params;
use report::{Reporter, Status};
use runtime::{ImageMap, RuntimeKind};
use storage::Source;
use taskrun::{Engine, WorkspaceBinding};

/// How the final report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
}

/// Everything `stepkit task run` was asked.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub file: PathBuf,
    /// `(NAME, VALUE)`, typed once the declaration is known.
    pub params: Vec<(String, String)>,
    pub workspaces: Vec<(String, PathBuf)>,
    pub tasks: Vec<PathBuf>,
    pub secrets: Vec<(String, PathBuf)>,
    pub images: ImageMap,
    pub results_dir: Option<PathBuf>,
    pub parallel: usize,
    pub format: Format,
    pub env: Vec<(String, String)>,
    /// Where the run's directories go (kept); a temporary directory otherwise.
    pub run_dir: Option<PathBuf>,
    /// Overrides the run's own timeout; zero means none.
    pub timeout: Option<Duration>,
    pub quiet: bool,
    pub results_from: results::ResultsFrom,
}

/// How a run ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Succeeded,
    Failed,
    TimedOut,
}

/// Tekton's default TaskRun and PipelineRun timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// Runs what `options.file` holds; returns what to print on stdout and how it ended.
pub async fn run(options: &RunOptions) -> anyhow::Result<(String, Ending)> {
    let catalog = Catalog::load(&options.file, &options.tasks, &options.secrets)?;
    let doc = pick(&catalog, &options.file)?;
    let reporter = Reporter::new(options.quiet);
    let temp;
    let run_dir = match &options.run_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.canonicalize()?
        }
        None => {
            temp = tempfile::Builder::new().prefix("stepkit-run-").tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let kind = doc.kind;
    let doc_index = catalog
        .corpus
        .docs
        .iter()
        .position(|d| std::ptr::eq(d, doc))
        .unwrap_or(0);
    let engine = Engine {
        catalog,
        images: options.images.clone(),
        reporter: reporter.clone(),
        run_dir,
        cancel: crate::core::poll::Cancel::on_termination_signals(),
        extra_env: options.env.clone(),
        results_from: options.results_from,
    };
    let doc = &engine.catalog.corpus.docs[doc_index];
    let report = match kind {
        Kind::Pipeline | Kind::PipelineRun => pipeline::run(&engine, doc, options).await?,
        _ => task::run(&engine, doc, options).await?,
    };
    if let Some(dir) = &options.results_dir {
        write_results(dir, &report.results)?;
    }
    let ending = match report.status {
        Status::Succeeded => Ending::Succeeded,
        Status::TimedOut | Status::Cancelled => Ending::TimedOut,
        _ => Ending::Failed,
    };
    let output = match options.format {
        Format::Human => report.table(&reporter),
        Format::Json => reporter.mask(&format!("{:#}\n", report.to_json())),
    };
    Ok((output, ending))
}

/// The document to run: the file's TaskRun or PipelineRun, else its Pipeline, Task or
/// StepAction (one of them).
fn pick<'a>(catalog: &'a Catalog, file: &Path) -> anyhow::Result<&'a TektonDoc> {
    let own: Vec<&TektonDoc> = catalog.own_docs().collect();
    for kinds in [
        &[Kind::PipelineRun, Kind::TaskRun][..],
        &[Kind::Pipeline],
        &[Kind::Task],
        &[Kind::StepAction],
    ] {
        let found: Vec<&&TektonDoc> = own.iter().filter(|d| kinds.contains(&d.kind)).collect();
        match found.as_slice() {
            [] => continue,
            [only] => return Ok(only),
            [first, ..] if kinds.len() == 2 => return Ok(first),
            several => {
                let names: Vec<&str> = several.iter().map(|d| d.name()).collect();
                return Err(Error::usage(format!(
                    "{} holds {} {}s ({}); put the one to run in a file of its own",
                    file.display(),
                    several.len(),
                    several[0].kind.as_str(),
                    names.join(", ")
                ))
                .into());
            }
        }
    }
    Err(Error::usage(format!(
        "{} holds no Task, TaskRun, StepAction, Pipeline or PipelineRun (tekton.dev) to run",
        file.display()
    ))
    .into())
}

/// A name as Tekton's generateName makes it: the prefix and five random characters.
pub fn generated_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let suffix: String = (0..5)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{suffix}")
}

/// A random RFC 4122 version-4 UUID, as Kubernetes gives every object.
pub fn new_uid() -> String {
    let bytes: [u8; 16] = std::array::from_fn(|i| match i {
        6 => (fastrand::u8(..) & 0x0f) | 0x40,
        8 => (fastrand::u8(..) & 0x3f) | 0x80,
        _ => fastrand::u8(..),
    });
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The run object's name: `metadata.name`, else `generateName` plus five characters, else
/// `<what>-run-xxxxx`.
pub fn run_name(doc: &TektonDoc, fallback: &str) -> String {
    if let Some(name) = doc.metadata.name.as_deref().filter(|n| !n.is_empty()) {
        return name.to_string();
    }
    if let Some(prefix) = doc
        .metadata
        .generate_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        return generated_name(prefix);
    }
    generated_name(&format!("{fallback}-run-"))
}

/// A document's name for messages: `metadata.name`, else its `generateName` (`build-`).
pub fn shown_name(doc: &TektonDoc) -> &str {
    match doc.name() {
        "" => doc.metadata.generate_name.as_deref().unwrap_or(""),
        name => name,
    }
}

/// String labels and annotations of a document.
pub fn string_map(map: &BTreeMap<String, serde_json::Value>) -> BTreeMap<String, String> {
    map.iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
        .collect()
}

/// The params a run is given: `-p` over the run document's own, checked against `specs` as
/// Tekton checks a TaskRun's.
pub fn given_params(
    options: &RunOptions,
    specs: &[crate::tekton::model::ParamSpec],
    run_params: &Params,
    owner: &str,
) -> anyhow::Result<Params> {
    let given = params::from_command_line(&options.params, specs, owner).map_err(Error::usage)?;
    let given = params::overlay(run_params, given);
    params::validate(specs, &given, owner).map_err(Error::usage)?;
    Ok(given)
}

/// A workspace a Task or a Pipeline declares, as binding sees it.
pub trait DeclaredWorkspace {
    fn name(&self) -> &str;
    fn optional(&self) -> bool;
}

impl DeclaredWorkspace for WorkspaceDecl {
    fn name(&self) -> &str {
        &self.name
    }
    fn optional(&self) -> bool {
        self.optional == Some(true)
    }
}

impl DeclaredWorkspace for PipelineWorkspaceDecl {
    fn name(&self) -> &str {
        &self.name
    }
    fn optional(&self) -> bool {
        self.optional == Some(true)
    }
}

/// `-w NAME=DIR` over a run's own bindings: what each workspace is bound to.
pub fn bind_workspaces(
    declared: &[impl DeclaredWorkspace],
    run_bindings: &[serde_json::Value],
    given: &[(String, PathBuf)],
    owner: &str,
    template_prefix: &str,
) -> anyhow::Result<Vec<WorkspaceBinding>> {
    for (name, _) in given {
        if !declared.iter().any(|d| d.name() == name) {
            let names: Vec<&str> = declared.iter().map(|d| d.name()).collect();
            return Err(Error::usage(format!(
                "-w {name}: {owner} declares no workspace {name:?} (declared: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))
            .into());
        }
    }
    let mut bindings = Vec::new();
    for binding in run_bindings {
        let typed: RunWorkspaceBinding = serde_json::from_value(binding.clone()).map_err(|e| {
            Error::usage(format!("{owner}: a workspace binding cannot be read: {e}"))
        })?;
        if given.iter().any(|(n, _)| *n == typed.name) {
            continue;
        }
        let what = format!("workspace {:?} of {owner}", typed.name);
        let source = Source::from_volume(
            &typed.source,
            &what,
            &format!("{template_prefix}-{}", typed.name),
        )?;
        bindings.push(WorkspaceBinding {
            name: typed.name,
            source,
            sub_path: typed.sub_path,
        });
    }
    for (name, dir) in given {
        let dir = if dir.is_absolute() {
            dir.clone()
        } else {
            std::env::current_dir()?.join(dir)
        };
        bindings.push(WorkspaceBinding {
            name: name.clone(),
            source: Source::Dir(dir),
            sub_path: None,
        });
    }
    for declaration in declared {
        let name = declaration.name();
        if !declaration.optional() && !bindings.iter().any(|b| b.name == name) {
            bindings.push(WorkspaceBinding {
                name: name.to_string(),
                source: Source::EmptyDir,
                sub_path: None,
            });
        }
    }
    Ok(bindings)
}

/// The files whose documents a Task body uses: its StepActions'.
pub fn step_action_files(engine: &Engine, spec: &TaskSpec, files: &mut BTreeSet<PathBuf>) {
    for step in &spec.steps {
        if let Some(name) = step.ref_.as_ref().and_then(|r| r.name.as_deref()) {
            if let Some(doc) = engine.catalog.find(Kind::StepAction, name) {
                files.insert(engine.catalog.corpus.files[doc.file].path.clone());
            }
        }
    }
}

/// Lints the files a run uses, from the texts already read.
pub fn validate_files(engine: &Engine, files: &BTreeSet<PathBuf>) -> anyhow::Result<()> {
    let texts = |path: &PathBuf| {
        engine
            .catalog
            .corpus
            .files
            .iter()
            .find(|f| f.path == *path)
            .map(|f| f.text.clone())
    };
    validate::validate(files, &texts)
}

/// Labels of a run document, as the pod carries them.
pub fn doc_labels(doc: &TektonDoc) -> BTreeMap<String, String> {
    string_map(&doc.metadata.labels)
}

/// Checks, before anything runs, that each podman image is there (host images were checked
/// when their runtime was chosen).
pub async fn preflight_images(prepared: &prepare::Prepared) -> anyhow::Result<()> {
    let containers = prepared
        .steps
        .iter()
        .map(|s| (&s.container, s.runtime))
        .chain(prepared.sidecars.iter().map(|s| (&s.container, s.runtime)));
    let mut seen = BTreeSet::new();
    for (container, runtime) in containers {
        let image = container.image.clone().unwrap_or_default();
        if runtime == RuntimeKind::Podman && seen.insert(image.clone()) {
            podman::check_image(&image).await.map_err(Error::usage)?;
        }
    }
    Ok(())
}

/// Tekton's credential initialisation puts the git and docker Secrets of the run's
/// ServiceAccount (annotated `tekton.dev/git-*`, `tekton.dev/docker-*`) in each step's home;
/// stepkit does not, so a ServiceAccount in the files that has such Secrets is refused.
pub fn refuse_credentials(catalog: &Catalog, account: &str, owner: &str) -> anyhow::Result<()> {
    let secrets = catalog.credential_secrets(account);
    if secrets.is_empty() {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{owner}: ServiceAccount {account:?} has Secrets for Tekton's credential initialisation ({}), which stepkit task run does not do yet; mount them as a workspace or volume instead",
        secrets.join(", ")
    ))
    .into())
}

/// Fields of a TaskRun or PipelineRun that change how Tekton runs it and that stepkit does not
/// honour, refused by name rather than ignored.
pub fn refuse_run_fields(doc: &TektonDoc, owner: &str) -> anyhow::Result<()> {
    let spec = doc.root.get("spec");
    let set = |node: Option<&crate::tekton::yaml::Node>| node.is_some_and(|v| !v.is_null());
    let field = |name: &str| spec.and_then(|s| s.get(name));
    let mut refused = vec![
        (
            set(field("status")),
            "spec.status (a pending, cancelled or stopping run)",
        ),
        (set(field("debug")), "spec.debug (breakpoints)"),
        (
            doc.kind == Kind::TaskRun && set(field("retries")),
            "spec.retries of a TaskRun",
        ),
    ];
    // The env a pod template gives every container.
    let templates = [
        field("podTemplate"),
        field("taskRunTemplate").and_then(|t| t.get("podTemplate")),
    ];
    let per_task = field("taskRunSpecs")
        .and_then(|s| s.as_seq())
        .into_iter()
        .flatten()
        .map(|s| s.get("podTemplate"));
    let pod_env = templates
        .into_iter()
        .chain(per_task)
        .any(|t| set(t.and_then(|t| t.get("env"))));
    refused.push((pod_env, "a pod template's env"));
    match refused.into_iter().find(|(is_set, _)| *is_set) {
        Some((_, what)) => Err(Error::usage(format!(
            "{owner}: {what} is not supported by stepkit task run yet"
        ))
        .into()),
        None => Ok(()),
    }
}

/// Writes each result as Tekton's result file: strings as they are, arrays and objects as
/// JSON; each file atomically.
fn write_results(dir: &Path, results: &BTreeMap<String, params::ParamValue>) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::local_io(format!(
            "cannot create --results-dir {}: {e}",
            dir.display()
        ))
    })?;
    for (name, value) in results {
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
            Error::local_io(format!(
                "cannot write in --results-dir {}: {e}",
                dir.display()
            ))
        })?;
        std::io::Write::write_all(&mut file, value.to_file_text().as_bytes())?;
        file.persist(dir.join(name))
            .map_err(|e| Error::local_io(format!("cannot write result {name}: {e}")))?;
    }
    Ok(())
}

/// Params of a pipeline task or run document, typed.
pub fn binding_params(bindings: &[ParamBinding], owner: &str) -> anyhow::Result<Params> {
    params::from_bindings(bindings, owner).map_err(|e| Error::usage(e).into())
}
