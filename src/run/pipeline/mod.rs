//! A Pipeline or PipelineRun, run as Tekton's PipelineRun reconciler runs it. This module reads
//! the run document (the Pipeline, its params, workspaces, timeouts and pod template), finds
//! each task's Task body and validates the files they come from, then applies the params,
//! context and workspace variables ([`tasks`]), checks the graph and the images, hands the tasks
//! to the [`scheduler`] (which asks [`decide`] whether each runs) and words the outcome with
//! [`results`].

mod decide;
mod results;
mod scheduler;
mod tasks;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::params::{self, ParamValue, Params};
use super::report::{RunReport, Status, StepReport, TaskReport};
use super::storage::Source;
use super::subst::{key, Replacements};
use super::taskrun::{go_duration_string, Engine};
use super::{bind_workspaces, new_uid, run_name, RunOptions, DEFAULT_TIMEOUT};
use crate::core::error::Error;
use crate::lint::TektonDoc;
use crate::tekton::model::{Kind, PipelineRunTimeouts, PipelineSpec, Resource, TaskSpec, Volume};

/// What a run of the Pipeline knows that its tasks share.
pub struct Run<'a> {
    engine: &'a Engine,
    name: String,
    pipeline: String,
    namespace: String,
    uid: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    /// Each Pipeline workspace's source and sub path.
    workspaces: BTreeMap<String, (Source, Option<String>)>,
    permits: Arc<Semaphore>,
    deadline: Option<Instant>,
}

/// The Pipeline's tasks as they will run.
pub struct Plan {
    spec: PipelineSpec,
    /// Each task's Task name and body.
    bodies: BTreeMap<String, (String, TaskSpec)>,
    /// The pod templates' volumes, which a TaskRun's pod has.
    volumes: PodVolumes,
    tasks_deadline: Option<Instant>,
    finally_timeout: Option<Duration>,
}

/// The volumes of a PipelineRun's pod templates: `taskRunTemplate.podTemplate` for every
/// TaskRun, `taskRunSpecs[].podTemplate` for one task's.
#[derive(Default)]
pub struct PodVolumes {
    every: Vec<Volume>,
    per_task: BTreeMap<String, Vec<Volume>>,
}

impl PodVolumes {
    fn of(&self, task: &str) -> Vec<Volume> {
        let own = self.per_task.get(task).into_iter().flatten();
        self.every.iter().chain(own).cloned().collect()
    }
}

/// A task's end, as later tasks and the report see it.
#[derive(Debug, Clone)]
pub struct Done {
    status: Status,
    /// Why it was skipped, in Tekton's words (`WhenExpressionsSkip`...).
    skip: Option<&'static str>,
    reason: String,
    message: String,
    results: BTreeMap<String, ParamValue>,
    task_runs: Vec<String>,
    steps: Vec<StepReport>,
    attempts: usize,
    duration: Option<Duration>,
    matrix_length: Option<usize>,
}

impl Done {
    fn skipped(skip: &'static str, message: String) -> Done {
        Done {
            status: Status::Skipped,
            skip: Some(skip),
            reason: skip.to_string(),
            message,
            results: BTreeMap::new(),
            task_runs: Vec::new(),
            steps: Vec::new(),
            attempts: 0,
            duration: None,
            matrix_length: None,
        }
    }

    fn failed(&self) -> bool {
        self.status.is_failure()
    }
}

/// A Pipeline or PipelineRun document, read.
struct Loaded {
    owner: String,
    pipeline_name: String,
    spec: PipelineSpec,
    run_params: Params,
    run_workspaces: Vec<serde_json::Value>,
    timeouts: (Option<PipelineRunTimeouts>, Option<String>),
    volumes: PodVolumes,
    /// The files the Pipeline and its Tasks come from.
    files: BTreeSet<PathBuf>,
}

/// Reads the Pipeline a document runs, with what a PipelineRun adds to it.
fn load(engine: &Engine, doc: &TektonDoc) -> anyhow::Result<Loaded> {
    let mut files = BTreeSet::from([engine.catalog.corpus.files[doc.file].path.clone()]);
    let owner = match doc.kind {
        Kind::PipelineRun => format!("PipelineRun {}", super::shown_name(doc)),
        _ => format!("Pipeline {}", doc.name()),
    };
    let loaded = match &doc.resource {
        Some(Resource::Pipeline(spec)) => Loaded {
            owner,
            pipeline_name: doc.name().to_string(),
            spec: spec.clone(),
            run_params: Vec::new(),
            run_workspaces: Vec::new(),
            timeouts: (None, None),
            volumes: PodVolumes::default(),
            files,
        },
        Some(Resource::PipelineRun(run)) => {
            let (pipeline_name, spec) = match (&run.pipeline_spec, &run.pipeline_ref) {
                (Some(spec), _) => (String::new(), spec.clone()),
                (None, Some(reference)) => {
                    let pipeline = engine.catalog.resolve(reference, Kind::Pipeline, &owner)?;
                    files.insert(engine.catalog.corpus.files[pipeline.file].path.clone());
                    let Some(Resource::Pipeline(spec)) = &pipeline.resource else {
                        return Err(Error::usage(format!(
                            "{owner}: Pipeline {} cannot be read",
                            pipeline.name()
                        ))
                        .into());
                    };
                    (pipeline.name().to_string(), spec.clone())
                }
                (None, None) => {
                    return Err(Error::usage(format!(
                        "{owner} has neither pipelineRef nor pipelineSpec"
                    ))
                    .into())
                }
            };
            super::refuse_run_fields(doc, &owner)?;
            let accounts = run
                .task_run_template
                .iter()
                .filter_map(|t| t.service_account_name.as_deref())
                .chain(
                    run.task_run_specs
                        .iter()
                        .filter_map(|s| s.service_account_name.as_deref()),
                );
            for account in accounts {
                super::refuse_credentials(&engine.catalog, account, &owner)?;
            }
            Loaded {
                run_params: params::from_bindings(&run.params, &owner).map_err(Error::usage)?,
                run_workspaces: run.workspaces.clone(),
                timeouts: (run.timeouts.clone(), run.timeout.clone()),
                volumes: PodVolumes {
                    every: run
                        .task_run_template
                        .iter()
                        .flat_map(|t| t.pod_template.iter())
                        .chain(run.pod_template.iter())
                        .flat_map(|t| t.volumes.clone())
                        .collect(),
                    per_task: run
                        .task_run_specs
                        .iter()
                        .map(|s| {
                            let template = s.pod_template.iter().chain(&s.task_pod_template);
                            (
                                s.pipeline_task_name.clone().unwrap_or_default(),
                                template.flat_map(|t| t.volumes.clone()).collect(),
                            )
                        })
                        .collect(),
                },
                owner,
                pipeline_name,
                spec,
                files,
            }
        }
        _ => {
            return Err(Error::usage(format!(
                "{} {} cannot be read: {}",
                doc.kind.as_str(),
                doc.name(),
                crate::run::load::unreadable(doc)
            ))
            .into())
        }
    };
    let mut all_tasks = loaded.spec.tasks.iter().chain(&loaded.spec.finally);
    if let Some(task) = all_tasks.find(|t| t.when.iter().any(|w| w.cel.is_some())) {
        return Err(Error::usage(format!(
            "{}: pipeline task {:?}: a CEL when expression (alpha) is not supported by stepkit task run yet",
            loaded.owner, task.name
        ))
        .into());
    }
    let tasks_text = format!("{:?}{:?}", loaded.spec.tasks, loaded.spec.finally);
    if let Some(reference) = super::prepare::artifact_reference(&tasks_text) {
        return Err(Error::usage(format!(
            "{}: reading artifacts (alpha; {reference}) is not supported by stepkit task run yet",
            loaded.owner
        ))
        .into());
    }
    if loaded.spec.resources.is_some() {
        return Err(Error::usage(format!(
            "{}: PipelineResources (spec.resources, removed in Tekton v1) are not supported by stepkit task run",
            loaded.owner
        ))
        .into());
    }
    Ok(loaded)
}

/// Runs a Pipeline or PipelineRun document.
pub async fn run(
    engine: &Engine,
    doc: &TektonDoc,
    options: &RunOptions,
) -> anyhow::Result<RunReport> {
    let Loaded {
        owner,
        pipeline_name,
        mut spec,
        run_params,
        run_workspaces,
        timeouts,
        volumes,
        mut files,
    } = load(engine, doc)?;
    let mut bodies = BTreeMap::new();
    for task in spec.tasks.iter().chain(&spec.finally) {
        let mut body = tasks::task_body(engine, task, &mut files)?;
        body.1.volumes.extend(volumes.of(&task.name));
        super::step_action_files(engine, &body.1, &mut files);
        bodies.insert(task.name.clone(), body);
    }
    super::validate_files(engine, &files)?;

    let given = super::given_params(options, &spec.params, &run_params, &owner)?;
    let name = match doc.kind {
        Kind::PipelineRun => run_name(doc, &pipeline_name),
        _ => super::generated_name(&format!("{}-run-", doc.name())),
    };
    let bound = bind_workspaces(
        &spec.workspaces,
        &run_workspaces,
        &options.workspaces,
        &owner,
        &name,
    )?;
    let (pipeline_timeout, tasks_timeout, finally_timeout) =
        timeouts_of(options, &timeouts, &owner)?;
    let started = Instant::now();
    let run = Run {
        engine,
        name: name.clone(),
        pipeline: pipeline_name,
        namespace: doc
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        uid: new_uid(),
        labels: super::doc_labels(doc),
        annotations: super::string_map(&doc.metadata.annotations),
        // A PipelineRun's emptyDir binding is an emptyDir for each TaskRun; claims are shared.
        workspaces: bound
            .into_iter()
            .map(|b| (b.name, (b.source, b.sub_path)))
            .collect(),
        permits: Arc::new(Semaphore::new(options.parallel.max(1))),
        deadline: pipeline_timeout.map(|t| started + t),
    };

    substitute(&run, &mut spec, &mut bodies, &run_workspaces, &given)?;
    decide::check_graph(&spec, &owner)?;
    let plan = Plan {
        spec,
        bodies,
        volumes,
        tasks_deadline: tasks_timeout.map(|t| started + t),
        finally_timeout,
    };
    scheduler::preflight(&run, &plan).await?;

    engine
        .reporter
        .start(&format!("PipelineRun {name}"), "started");
    let ends = scheduler::schedule(&run, &plan).await;
    Ok(report(&run, &plan, ends, started, pipeline_timeout))
}

/// The reconciler's stages over every task before anything runs: workspace propagation, then
/// params, context and `$(workspaces.W.bound)`.
fn substitute(
    run: &Run,
    spec: &mut PipelineSpec,
    bodies: &mut BTreeMap<String, (String, TaskSpec)>,
    run_workspaces: &[serde_json::Value],
    given: &Params,
) -> anyhow::Result<()> {
    // An embedded pipelineSpec also sees the workspaces its PipelineRun binds.
    let mut pipeline_workspaces: Vec<String> =
        spec.workspaces.iter().map(|w| w.name.clone()).collect();
    for binding in run_workspaces {
        if let Some(name) = binding.get("name").and_then(|n| n.as_str()) {
            if !pipeline_workspaces.iter().any(|w| w == name) {
                pipeline_workspaces.push(name.to_string());
            }
        }
    }
    for task in spec.tasks.iter_mut().chain(spec.finally.iter_mut()) {
        tasks::propagate_workspaces(task, &pipeline_workspaces);
        if let Some(embedded) = &task.task_spec {
            if let Some(body) = bodies.get_mut(&task.name) {
                body.1.workspaces = embedded.spec.workspaces.clone();
            }
        }
    }
    let params = super::prepare::param_table(&spec.params, given)?;
    let mut context = Replacements::default();
    context.set("context.pipelineRun.name", &run.name);
    context.set("context.pipelineRun.namespace", &run.namespace);
    context.set("context.pipelineRun.uid", &run.uid);
    context.set("context.pipeline.name", &run.pipeline);
    let mut bound = Replacements::default();
    for workspace in &spec.workspaces {
        bound.set(
            key(&["workspaces", &workspace.name, "bound"]),
            run.workspaces.contains_key(&workspace.name).to_string(),
        );
    }
    for stage in [&params, &context, &bound] {
        tasks::apply_pipeline(&mut spec.tasks, stage);
        tasks::apply_pipeline(&mut spec.finally, stage);
    }
    Ok(())
}

/// The run's report: every task's end, the run's status in Tekton's words, its results.
fn report(
    run: &Run,
    plan: &Plan,
    ends: scheduler::Ends,
    started: Instant,
    pipeline_timeout: Option<Duration>,
) -> RunReport {
    let spec = &plan.spec;
    let all: Vec<(&String, &Done)> = spec
        .tasks
        .iter()
        .chain(&spec.finally)
        .filter_map(|t| {
            ends.dag
                .get(&t.name)
                .or_else(|| ends.finally.get(&t.name))
                .map(|d| (&t.name, d))
        })
        .collect();
    let timed_out = run.deadline.is_some_and(|d| Instant::now() >= d)
        || all.iter().any(|(_, d)| d.status == Status::TimedOut);
    let timed_out = timed_out.then(|| {
        format!(
            "PipelineRun {:?} failed to finish within {:?}",
            run.name,
            go_duration_string(pipeline_timeout.unwrap_or_default())
        )
    });
    let (status, message) = results::run_status(&all, timed_out, ends.invalid_reference.as_deref());
    let mut everything = ends.dag.clone();
    everything.extend(ends.finally.clone());
    let run_results = results::pipeline_results(spec, &everything, &run.engine.reporter);
    run.engine.reporter.state(
        &format!("PipelineRun {}", run.name),
        &format!("{} ({message})", status.as_str()),
    );
    RunReport {
        kind: "PipelineRun",
        name: run.name.clone(),
        status,
        message,
        duration: started.elapsed(),
        results: run_results,
        tasks: all
            .into_iter()
            .map(|(name, d)| TaskReport {
                name: name.clone(),
                task_runs: d.task_runs.clone(),
                status: d.status,
                reason: d.reason.clone(),
                message: d.message.clone(),
                duration: d.duration,
                results: d.results.clone(),
                steps: d.steps.clone(),
                attempts: d.attempts,
            })
            .collect(),
    }
}

/// The PipelineRun's timeouts (`timeouts.pipeline|tasks|finally`, or v1beta1's `timeout`), the
/// command line's `--timeout` over the whole run; zero means none.
fn timeouts_of(
    options: &RunOptions,
    (typed, old): &(Option<PipelineRunTimeouts>, Option<String>),
    owner: &str,
) -> anyhow::Result<(Option<Duration>, Option<Duration>, Option<Duration>)> {
    let parse = |text: &Option<String>| -> anyhow::Result<Option<Duration>> {
        text.as_deref()
            .map(|t| {
                super::prepare::parse_go_duration(t)
                    .map_err(|e| Error::usage(format!("{owner}: timeout: {e}")).into())
            })
            .transpose()
    };
    let (mut pipeline, mut tasks, mut finally) = (Some(DEFAULT_TIMEOUT), None, None);
    if let Some(t) = parse(old)? {
        pipeline = Some(t);
    }
    if let Some(typed) = typed {
        if let Some(t) = parse(&typed.pipeline)? {
            pipeline = Some(t);
        }
        tasks = parse(&typed.tasks)?;
        finally = parse(&typed.finally)?;
    }
    if let Some(t) = options.timeout {
        pipeline = Some(t);
    }
    let nonzero = |d: Option<Duration>| d.filter(|d| !d.is_zero());
    Ok((nonzero(pipeline), nonzero(tasks), nonzero(finally)))
}
