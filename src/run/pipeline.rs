//! A Pipeline or PipelineRun, scheduled as Tekton's PipelineRun reconciler does: params,
//! context and workspace variables applied (and propagated into inline Task bodies); a DAG from
//! `runAfter` and result references; each task started once its parents are done, unless
//! skipped (its `when` is false; a parent was skipped for another reason; a result it uses is
//! missing; the Pipeline is stopping after a failure); matrix fan-out and retries per task; at
//! most `--parallel` TaskRuns at once; then `finally` tasks with `$(tasks.status)` and
//! `$(tasks.T.status)`; then the Pipeline's results.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt as _};
use serde_json::Value as Json;
use tokio::sync::Semaphore;

use super::env::PodMeta;
use super::matrix::{fan_out, Combination};
use super::params::{self, ParamValue, Params};
use super::prepare::{self, prepare, TaskContext, WorkspaceView};
use super::report::{RunReport, Status, StepReport, TaskReport};
use super::storage::Source;
use super::subst::{key, Replacements};
use super::taskrun::{self, Engine, TaskRunInput, WorkspaceBinding};
use super::{bind_workspaces, new_uid, run_name, RunOptions, DEFAULT_TIMEOUT};
use crate::core::error::Error;
use crate::lint::TektonDoc;
use crate::tekton::expr::references;
use crate::tekton::model::{Kind, PipelineSpec, PipelineTask, Resource, TaskSpec};

/// What a run of the Pipeline knows that its tasks share.
struct Run<'a> {
    engine: &'a Engine,
    name: String,
    pipeline: String,
    namespace: String,
    uid: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    workspaces: BTreeMap<String, (Source, Option<String>)>,
    permits: Arc<Semaphore>,
    deadline: Option<Instant>,
}

/// A task's end, as later tasks and the report see it.
#[derive(Debug, Clone)]
struct Done {
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

/// The Task body a Pipeline task runs, and the Task's name.
fn task_body(
    engine: &Engine,
    task: &PipelineTask,
    files: &mut BTreeSet<std::path::PathBuf>,
) -> anyhow::Result<(String, TaskSpec)> {
    let what = format!("pipeline task {:?}", task.name);
    if task.pipeline_ref.is_some() {
        return Err(Error::usage(format!("{what}: pipelineRef (Pipelines in Pipelines, alpha) is not supported by stepkit task run yet")).into());
    }
    if let Some(embedded) = &task.task_spec {
        if embedded.spec.steps.is_empty() {
            return Err(Error::usage(format!("{what}: an embedded custom task (taskSpec without steps) is not supported by stepkit task run")).into());
        }
        return Ok((String::new(), embedded.spec.clone()));
    }
    let reference = task.task_ref.clone().unwrap_or_default();
    let doc = engine.catalog.resolve(&reference, Kind::Task, &what)?;
    files.insert(engine.catalog.corpus.files[doc.file].path.clone());
    match &doc.resource {
        Some(Resource::Task(spec)) => Ok((doc.name().to_string(), spec.clone())),
        _ => Err(Error::usage(format!(
            "{what}: Task {} cannot be read: {}",
            doc.name(),
            super::load::unreadable(doc)
        ))
        .into()),
    }
}

/// The Task body a task runs: its inline spec as substituted, or the referenced Task's; either
/// with the pod template's volumes.
fn body_of(
    task: &PipelineTask,
    bodies: &BTreeMap<String, (String, TaskSpec)>,
    pod_volumes: &[crate::tekton::model::Volume],
) -> (String, TaskSpec) {
    let (name, mut spec) = bodies[&task.name].clone();
    if let Some(embedded) = &task.task_spec {
        spec = embedded.spec.clone();
        spec.volumes.extend(pod_volumes.iter().cloned());
    }
    (name, spec)
}

/// Applies a stage's table to every Pipeline task, and into inline Task bodies (a Pipeline
/// task's own param of the same name shadows the Pipeline's there).
fn apply_pipeline(tasks: &mut [PipelineTask], table: &Replacements) {
    for task in tasks {
        table.apply_bindings(&mut task.params);
        if let Some(matrix) = &mut task.matrix {
            table.apply_bindings(&mut matrix.params);
            for include in &mut matrix.include {
                table.apply_bindings(&mut include.params);
            }
        }
        if let Some(name) = &mut task.display_name {
            *name = table.apply(name);
        }
        for binding in &mut task.workspaces {
            if let Some(sub) = &mut binding.sub_path {
                *sub = table.apply(sub);
            }
        }
        for when in &mut task.when {
            if let Some(input) = &mut when.input {
                table.apply_json(input);
            }
            if let Some(values) = &mut when.values {
                let mut json = Json::from(values.clone());
                table.apply_json(&mut json);
                *values = json.as_array().cloned().unwrap_or_default();
            }
        }
        if let Some(reference) = &mut task.task_ref {
            table.apply_bindings(&mut reference.params);
            if let Some(name) = &mut reference.name {
                *name = table.apply(name);
            }
        }
        if let Some(on_error) = &mut task.on_error {
            *on_error = table.apply(on_error);
        }
        if let Some(embedded) = &mut task.task_spec {
            let mut scoped = table.clone();
            if let Ok(own) = params::from_bindings(&task.params, "") {
                for (name, value) in &own {
                    if table.get(&key(&["params", name])).is_some()
                        || !matches!(value, ParamValue::String(_))
                    {
                        scoped.value("params", name, value);
                    }
                }
            }
            scoped.apply_task(&mut embedded.spec);
        }
    }
}

/// Tekton's workspace propagation: a Pipeline workspace an inline Task body uses without
/// declaring it is declared there and bound to the Pipeline's workspace of that name.
fn propagate_workspaces(task: &mut PipelineTask, pipeline_workspaces: &[String]) {
    let Some(embedded) = &mut task.task_spec else {
        return;
    };
    // Every string of the body, as its debug text shows them.
    let text = format!(
        "{:?}{:?}{:?}",
        embedded.spec.steps, embedded.spec.sidecars, embedded.spec.step_template
    );
    for name in pipeline_workspaces {
        let used = text.contains(&format!("$(workspaces.{name}."));
        let declared = embedded.spec.workspaces.iter().any(|w| w.name == *name);
        if !used || declared {
            continue;
        }
        embedded
            .spec
            .workspaces
            .push(crate::tekton::model::WorkspaceDecl {
                name: name.clone(),
                ..Default::default()
            });
        if !task.workspaces.iter().any(|b| b.name == *name) {
            task.workspaces
                .push(crate::tekton::model::WorkspaceBinding {
                    name: name.clone(),
                    workspace: Some(name.clone()),
                    sub_path: None,
                });
        }
    }
}

/// The tasks `task` depends on: `runAfter` and every task whose results it uses.
fn parents(task: &PipelineTask) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = task.run_after.iter().cloned().collect();
    for text in reference_texts(task) {
        for reference in references(&text) {
            if reference.root() == "tasks" && reference.segment(2) == Some("results") {
                if let Some(name) = reference.segment(1) {
                    names.insert(name.to_string());
                }
            }
        }
    }
    names
}

/// Every string of a Pipeline task where a result reference can be.
fn reference_texts(task: &PipelineTask) -> Vec<String> {
    let mut texts = Vec::new();
    let mut add = |value: &Json| collect_strings(value, &mut texts);
    for binding in task.params.iter().chain(task.matrix.iter().flat_map(|m| {
        m.params
            .iter()
            .chain(m.include.iter().flat_map(|i| i.params.iter()))
    })) {
        if let Some(value) = &binding.value {
            add(value);
        }
    }
    for when in &task.when {
        if let Some(input) = &when.input {
            add(input);
        }
        for value in when.values.iter().flatten() {
            add(value);
        }
    }
    texts
}

fn collect_strings(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::String(text) => out.push(text.clone()),
        Json::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Json::Object(entries) => entries.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

/// The results of finished tasks as `tasks.T.results.R` (and matrix lengths).
fn results_table(done: &BTreeMap<String, Done>) -> Replacements {
    let mut table = Replacements::default();
    for (name, task) in done {
        for (result, value) in &task.results {
            table.value_at(&key(&["tasks", name, "results", result]), value);
            if let (Some(_), ParamValue::Array(items)) = (task.matrix_length, value) {
                table.set(
                    key(&["tasks", name, "matrix", result, "length"]),
                    items.len().to_string(),
                );
            }
        }
        if let Some(length) = task.matrix_length {
            table.set(
                key(&["tasks", name, "matrix", "length"]),
                length.to_string(),
            );
        }
    }
    table
}

/// References to results that are not (yet) known, after substitution.
fn missing_results(task: &PipelineTask) -> Vec<String> {
    reference_texts(task)
        .iter()
        .flat_map(|t| references(t))
        .filter(|r| r.root() == "tasks" && r.segment(2) == Some("results"))
        .map(|r| format!("$({})", r.expression))
        .collect()
}

/// Runs a Pipeline or PipelineRun document.
pub async fn run(
    engine: &Engine,
    doc: &TektonDoc,
    options: &RunOptions,
) -> anyhow::Result<RunReport> {
    let mut pod_volumes = Vec::new();
    let mut files = BTreeSet::from([engine.catalog.corpus.files[doc.file].path.clone()]);
    let (pipeline_name, spec, run_params, run_workspaces, timeouts) = match &doc.resource {
        Some(Resource::Pipeline(spec)) => (
            doc.name().to_string(),
            spec.clone(),
            Vec::new(),
            Vec::new(),
            None,
        ),
        Some(Resource::PipelineRun(run)) => {
            let owner = format!("PipelineRun {}", doc.name());
            let (name, spec) = match (&run.pipeline_spec, &run.pipeline_ref) {
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
            let given = params::from_bindings(&run.params, &owner).map_err(Error::usage)?;
            let timeouts = (run.timeouts.clone(), run.timeout.clone());
            pod_volumes = run
                .task_run_template
                .iter()
                .flat_map(|t| t.pod_template.iter())
                .chain(run.pod_template.iter())
                .flat_map(|t| t.volumes.clone())
                .collect();
            (name, spec, given, run.workspaces.clone(), Some(timeouts))
        }
        _ => {
            return Err(Error::usage(format!(
                "{} {} cannot be read: {}",
                doc.kind.as_str(),
                doc.name(),
                super::load::unreadable(doc)
            ))
            .into())
        }
    };
    let owner = match doc.kind {
        Kind::PipelineRun => format!("PipelineRun {}", doc.name()),
        _ => format!("Pipeline {}", doc.name()),
    };
    if spec.resources.is_some() {
        return Err(Error::usage(format!(
            "{owner}: PipelineResources (spec.resources) are not supported by stepkit task run"
        ))
        .into());
    }
    let mut bodies = BTreeMap::new();
    for task in spec.tasks.iter().chain(&spec.finally) {
        let mut body = task_body(engine, task, &mut files)?;
        body.1.volumes.extend(pod_volumes.iter().cloned());
        super::step_action_files(engine, &body.1, &mut files);
        bodies.insert(task.name.clone(), body);
    }
    super::validate_files(engine, &files)?;

    let given =
        params::from_command_line(&options.params, &spec.params, &owner).map_err(Error::usage)?;
    let given = params::overlay(&run_params, given);
    params::validate(&spec.params, &given, &owner).map_err(Error::usage)?;
    let name = match doc.kind {
        Kind::PipelineRun => run_name(doc, &pipeline_name),
        _ => super::generated_name(&format!("{}-run-", doc.name())),
    };
    let declared: Vec<(String, bool)> = spec
        .workspaces
        .iter()
        .map(|w| (w.name.clone(), w.optional == Some(true)))
        .collect();
    let bound = bind_workspaces(
        &declared,
        &run_workspaces,
        &options.workspaces,
        &owner,
        &name,
    )?;
    // A PipelineRun's emptyDir binding is an emptyDir for each TaskRun; claims are shared.
    let workspaces: BTreeMap<String, (Source, Option<String>)> = bound
        .into_iter()
        .map(|b| (b.name, (b.source, b.sub_path)))
        .collect();

    let (pipeline_timeout, tasks_timeout, finally_timeout) =
        timeouts_of(options, timeouts.as_ref(), &owner)?;
    let started = Instant::now();
    let run = Run {
        engine,
        name: name.clone(),
        pipeline: pipeline_name.clone(),
        namespace: doc
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        uid: new_uid(),
        labels: super::doc_labels(doc),
        annotations: super::string_map(&doc.metadata.annotations),
        workspaces,
        permits: Arc::new(Semaphore::new(options.parallel.max(1))),
        deadline: pipeline_timeout.map(|t| started + t),
    };

    let mut spec = spec;
    // An embedded pipelineSpec also sees the workspaces its PipelineRun binds.
    let mut pipeline_workspaces: Vec<String> =
        spec.workspaces.iter().map(|w| w.name.clone()).collect();
    for binding in &run_workspaces {
        if let Some(name) = binding.get("name").and_then(|n| n.as_str()) {
            if !pipeline_workspaces.iter().any(|w| w == name) {
                pipeline_workspaces.push(name.to_string());
            }
        }
    }
    for task in spec.tasks.iter_mut().chain(spec.finally.iter_mut()) {
        propagate_workspaces(task, &pipeline_workspaces);
        if let Some(embedded) = &task.task_spec {
            if let Some(body) = bodies.get_mut(&task.name) {
                body.1.workspaces = embedded.spec.workspaces.clone();
            }
        }
    }
    let table = super::prepare::param_table(&spec.params, &given)?;
    apply_pipeline(&mut spec.tasks, &table);
    apply_pipeline(&mut spec.finally, &table);
    let mut context = Replacements::default();
    context.set("context.pipelineRun.name", &run.name);
    context.set("context.pipelineRun.namespace", &run.namespace);
    context.set("context.pipelineRun.uid", &run.uid);
    context.set("context.pipeline.name", &run.pipeline);
    let mut bound_table = Replacements::default();
    for (workspace, _) in &declared {
        bound_table.set(
            key(&["workspaces", workspace, "bound"]),
            run.workspaces.contains_key(workspace).to_string(),
        );
    }
    for stage in [&context, &bound_table] {
        apply_pipeline(&mut spec.tasks, stage);
        apply_pipeline(&mut spec.finally, stage);
    }
    check_graph(&spec, &owner)?;
    preflight(&run, &spec, &bodies).await?;

    engine
        .reporter
        .state(&format!("PipelineRun {name}"), "started");
    let tasks_deadline = tasks_timeout.map(|t| started + t);
    let mut done: BTreeMap<String, Done> = BTreeMap::new();
    let mut invalid_reference: Option<String> = None;
    let mut running = FuturesUnordered::new();
    let mut pending: Vec<&PipelineTask> = spec.tasks.iter().collect();
    loop {
        let mut still = Vec::new();
        for task in pending {
            let task_parents = parents(task);
            if !task_parents.iter().all(|p| done.contains_key(p)) {
                still.push(task);
                continue;
            }
            let stopping = invalid_reference.is_some()
                || done
                    .values()
                    .any(|d| d.failed() && d.status != Status::FailureIgnored)
                || run.deadline.is_some_and(|d| Instant::now() >= d)
                || tasks_deadline.is_some_and(|d| Instant::now() >= d);
            if stopping {
                done.insert(
                    task.name.clone(),
                    Done::skipped("StoppingSkip", "the PipelineRun is stopping".into()),
                );
                engine
                    .reporter
                    .state(&task.name, "skipped (the PipelineRun is stopping)");
                continue;
            }
            match decide(task, &done, false) {
                Decision::Skip(skip, message) => {
                    engine
                        .reporter
                        .state(&task.name, &format!("skipped ({message})"));
                    done.insert(task.name.clone(), Done::skipped(skip, message));
                }
                Decision::Invalid(message) => {
                    engine
                        .reporter
                        .state(&task.name, &format!("cannot start: {message}"));
                    invalid_reference = Some(message.clone());
                    done.insert(
                        task.name.clone(),
                        Done::skipped("MissingResultsSkip", message),
                    );
                }
                Decision::Run(task) => {
                    let body = body_of(&task, &bodies, &pod_volumes);
                    let deadline = [run.deadline, tasks_deadline].into_iter().flatten().min();
                    running.push(run_task(&run, *task, body, deadline));
                }
            }
        }
        pending = still;
        if running.is_empty() {
            break;
        }
        if let Some((name, outcome)) = running.next().await {
            done.insert(name, outcome);
        }
    }
    for task in pending {
        done.insert(
            task.name.clone(),
            Done::skipped("ParentTasksSkip", "its parents never finished".into()),
        );
    }

    // finally: after every DAG task, with the statuses of all of them.
    let statuses = status_table(&spec, &done);
    let finally_start = Instant::now();
    let finally_deadline = [run.deadline, finally_timeout.map(|t| finally_start + t)]
        .into_iter()
        .flatten()
        .min();
    let mut finally_done: BTreeMap<String, Done> = BTreeMap::new();
    for task in &spec.finally {
        let mut task = task.clone();
        apply_pipeline(std::slice::from_mut(&mut task), &statuses);
        match decide(&task, &done, true) {
            Decision::Run(task) => {
                let body = body_of(&task, &bodies, &pod_volumes);
                running.push(run_task(&run, *task, body, finally_deadline));
            }
            Decision::Skip(skip, message) => {
                engine
                    .reporter
                    .state(&task.name, &format!("skipped ({message})"));
                finally_done.insert(task.name.clone(), Done::skipped(skip, message));
            }
            Decision::Invalid(message) => {
                engine
                    .reporter
                    .state(&task.name, &format!("cannot start: {message}"));
                invalid_reference = Some(message.clone());
                finally_done.insert(
                    task.name.clone(),
                    Done::skipped("MissingResultsSkip", message),
                );
            }
        }
    }
    while let Some((name, outcome)) = running.next().await {
        finally_done.insert(name, outcome);
    }

    let timed_out = run.deadline.is_some_and(|d| Instant::now() >= d)
        || done
            .values()
            .chain(finally_done.values())
            .any(|d| d.status == Status::TimedOut);
    let all: Vec<(&String, &Done)> = spec
        .tasks
        .iter()
        .chain(&spec.finally)
        .filter_map(|t| {
            done.get(&t.name)
                .or_else(|| finally_done.get(&t.name))
                .map(|d| (&t.name, d))
        })
        .collect();
    let failed = all.iter().filter(|(_, d)| d.failed()).count();
    let ignored = all
        .iter()
        .filter(|(_, d)| d.status == Status::FailureIgnored)
        .count();
    let skipped = all
        .iter()
        .filter(|(_, d)| d.status == Status::Skipped)
        .count();
    let completed = all.len() - skipped;
    let mut message = if ignored > 0 {
        format!("Tasks Completed: {completed} (Failed: {} (Ignored: {ignored}), Cancelled 0), Skipped: {skipped}", failed + ignored)
    } else {
        format!("Tasks Completed: {completed} (Failed: {failed}, Cancelled 0), Skipped: {skipped}")
    };
    let status = if timed_out {
        message = format!(
            "PipelineRun {:?} failed to finish within {:?}",
            name,
            taskrun::go_duration_string(pipeline_timeout.unwrap_or_default())
        );
        Status::TimedOut
    } else if let Some(problem) = &invalid_reference {
        message = format!("Invalid task result reference: {problem}");
        Status::Failed
    } else if failed > 0 {
        Status::Failed
    } else {
        Status::Succeeded
    };
    let mut everything = done.clone();
    everything.extend(finally_done.clone());
    let results = pipeline_results(&spec, &everything, &engine.reporter);
    engine.reporter.state(
        &format!("PipelineRun {name}"),
        &format!("{} ({message})", status.as_str()),
    );
    Ok(RunReport {
        kind: "PipelineRun",
        name,
        status,
        message,
        duration: started.elapsed(),
        results,
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
    })
}

enum Decision {
    Run(Box<PipelineTask>),
    Skip(&'static str, String),
    /// A result it uses is missing though its producer ran: the PipelineRun fails.
    Invalid(String),
}

/// Whether a task whose parents are done runs, with their results applied.
fn decide(task: &PipelineTask, done: &BTreeMap<String, Done>, is_finally: bool) -> Decision {
    let mut task = task.clone();
    apply_pipeline(std::slice::from_mut(&mut task), &results_table(done));
    let missing = missing_results(&task);
    if !missing.is_empty() {
        let producer_did_not_succeed = missing.iter().any(|m| {
            references(m)
                .first()
                .and_then(|r| r.segment(1).map(str::to_string))
                .and_then(|p| done.get(&p))
                .is_some_and(|d| d.status != Status::Succeeded)
        });
        if is_finally || producer_did_not_succeed || task.on_error.as_deref() == Some("continue") {
            return Decision::Skip(
                "MissingResultsSkip",
                format!("it uses {}, which was not produced", missing.join(", ")),
            );
        }
        // The producer succeeded without writing the result: the PipelineRun fails.
        return Decision::Invalid(format!(
            "{}: could not find {}",
            task.name,
            missing.join(", ")
        ));
    }
    if !is_finally {
        for parent in parents(&task) {
            if let Some(d) = done.get(&parent) {
                if d.status == Status::Skipped && d.skip != Some("WhenExpressionsSkip") {
                    return Decision::Skip(
                        "ParentTasksSkip",
                        format!("parent {parent} was skipped"),
                    );
                }
            }
        }
    }
    match super::when::allows(&task.when) {
        Ok(true) => {}
        Ok(false) => {
            return Decision::Skip(
                "WhenExpressionsSkip",
                format!("when {} is false", super::when::describe(&task.when)),
            );
        }
        Err(problem) => return Decision::Invalid(problem),
    }
    if let Some(matrix) = &task.matrix {
        if matrix
            .params
            .iter()
            .any(|p| matches!(&p.value, Some(Json::Array(items)) if items.is_empty()))
        {
            return Decision::Skip(
                "EmptyArrayInMatrixParams",
                "a matrix param is an empty array".into(),
            );
        }
    }
    Decision::Run(Box::new(task))
}

/// `$(tasks.status)`, `$(tasks.T.status)` and `$(tasks.T.reason)` for finally tasks.
fn status_table(spec: &PipelineSpec, done: &BTreeMap<String, Done>) -> Replacements {
    let mut table = Replacements::default();
    let mut aggregate = "Succeeded";
    for task in &spec.tasks {
        let Some(d) = done.get(&task.name) else {
            continue;
        };
        let status = match d.status {
            Status::Succeeded => "Succeeded",
            Status::Failed | Status::FailureIgnored | Status::TimedOut | Status::Cancelled => {
                "Failed"
            }
            Status::Skipped => "None",
        };
        if status == "Failed" {
            aggregate = "Failed";
        } else if d.status == Status::Skipped && aggregate != "Failed" {
            aggregate = "Completed";
        }
        table.set(key(&["tasks", &task.name, "status"]), status);
        table.set(key(&["tasks", &task.name, "reason"]), d.reason.clone());
    }
    table.set("tasks.status", aggregate);
    table
}

fn unresolved(text: &str) -> bool {
    text.contains("$(tasks.") || text.contains("$(finally.")
}

/// The Pipeline's results from its tasks' results; one that uses a missing result is left out.
fn pipeline_results(
    spec: &PipelineSpec,
    done: &BTreeMap<String, Done>,
    reporter: &super::report::Reporter,
) -> BTreeMap<String, ParamValue> {
    let mut table = results_table(done);
    for task in &spec.finally {
        if let Some(d) = done.get(&task.name) {
            for (result, value) in &d.results {
                table.value_at(&key(&["finally", &task.name, "results", result]), value);
            }
        }
    }
    let mut results = BTreeMap::new();
    for result in &spec.results {
        let Some(value) = result
            .value
            .as_ref()
            .and_then(|v| ParamValue::from_json(v).ok())
        else {
            continue;
        };
        let value = table.apply_value(&value);
        let unresolved = match &value {
            ParamValue::String(s) => unresolved(s),
            ParamValue::Array(items) => items.iter().any(|s| unresolved(s)),
            ParamValue::Object(entries) => entries.values().any(|s| unresolved(s)),
        };
        if unresolved {
            reporter.state(
                "results",
                &format!(
                    "{} left out: a result it uses was not produced",
                    result.name
                ),
            );
            continue;
        }
        results.insert(result.name.clone(), value);
    }
    results
}

/// Refuses a graph Tekton refuses: an unknown `runAfter` or result producer, or a cycle.
fn check_graph(spec: &PipelineSpec, owner: &str) -> anyhow::Result<()> {
    let names: BTreeSet<&str> = spec.tasks.iter().map(|t| t.name.as_str()).collect();
    let mut order: Vec<&str> = Vec::new();
    let mut remaining: Vec<&PipelineTask> = spec.tasks.iter().collect();
    for task in &remaining {
        if let Some(unknown) = parents(task).iter().find(|p| !names.contains(p.as_str())) {
            return Err(Error::usage(format!(
                "{owner}: task {:?} depends on {unknown:?}, which is not a task of the Pipeline",
                task.name
            ))
            .into());
        }
    }
    while !remaining.is_empty() {
        let before = remaining.len();
        remaining.retain(|task| {
            if parents(task).iter().all(|p| order.contains(&p.as_str())) {
                order.push(task.name.as_str());
                false
            } else {
                true
            }
        });
        if remaining.len() == before {
            let cycle: Vec<&str> = remaining.iter().map(|t| t.name.as_str()).collect();
            return Err(Error::usage(format!(
                "{owner}: the tasks {} depend on each other in a cycle",
                cycle.join(", ")
            ))
            .into());
        }
    }
    Ok(())
}

fn timeouts_of(
    options: &RunOptions,
    timeouts: Option<&(
        Option<crate::tekton::model::PipelineRunTimeouts>,
        Option<String>,
    )>,
    owner: &str,
) -> anyhow::Result<(Option<Duration>, Option<Duration>, Option<Duration>)> {
    let parse = |text: &Option<String>| -> anyhow::Result<Option<Duration>> {
        text.as_deref()
            .map(|t| {
                prepare::parse_go_duration(t)
                    .map_err(|e| Error::usage(format!("{owner}: timeout: {e}")).into())
            })
            .transpose()
    };
    let (mut pipeline, mut tasks, mut finally) = (Some(DEFAULT_TIMEOUT), None, None);
    if let Some((typed, old)) = timeouts {
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
    }
    if let Some(t) = options.timeout {
        pipeline = Some(t);
    }
    let nonzero = |d: Option<Duration>| d.filter(|d| !d.is_zero());
    Ok((nonzero(pipeline), nonzero(tasks), nonzero(finally)))
}

/// Checks every image a task will run before anything runs, where params alone name it.
async fn preflight(
    run: &Run<'_>,
    spec: &PipelineSpec,
    bodies: &BTreeMap<String, (String, TaskSpec)>,
) -> anyhow::Result<()> {
    for task in spec.tasks.iter().chain(&spec.finally) {
        let (_, body) = &bodies[&task.name];
        let body = match &task.task_spec {
            Some(embedded) => &embedded.spec,
            None => body,
        };
        let given = params::from_bindings(&task.params, "").unwrap_or_default();
        let context = TaskContext {
            task_run: format!("{}-{}", run.name, task.name),
            task_name: String::new(),
            namespace: run.namespace.clone(),
            uid: String::new(),
            retry_count: 0,
        };
        let views = workspace_views(run, task);
        let mut resolved = body.clone();
        // Images that come from results are checked when the task starts.
        resolved.steps.retain(|s| {
            !s.container
                .image
                .as_deref()
                .unwrap_or("")
                .contains("$(tasks.")
        });
        match prepare(
            &resolved,
            &given,
            &context,
            &views,
            &run.engine.catalog,
            &run.engine.images,
        ) {
            Ok(prepared) => {
                super::preflight_images(
                    prepared
                        .steps
                        .iter()
                        .map(|s| (&s.container, s.runtime))
                        .chain(prepared.sidecars.iter().map(|s| (&s.container, s.runtime))),
                )
                .await?
            }
            Err(error) if !format!("{error:#}").contains("was not resolved") => {
                return Err(error.context(format!("pipeline task {:?}", task.name)))
            }
            Err(_) => {}
        }
    }
    Ok(())
}

fn workspace_views(run: &Run, task: &PipelineTask) -> Vec<WorkspaceView> {
    task.workspaces
        .iter()
        .map(|b| {
            let pipeline_ws = b.workspace.clone().unwrap_or_else(|| b.name.clone());
            let source = run.workspaces.get(&pipeline_ws);
            WorkspaceView {
                name: b.name.clone(),
                bound: source.is_some(),
                claim: source.map_or(String::new(), |(s, _)| s.claim().to_string()),
            }
        })
        .collect()
}

fn workspace_bindings(run: &Run, task: &PipelineTask) -> Vec<WorkspaceBinding> {
    task.workspaces
        .iter()
        .filter_map(|b| {
            let pipeline_ws = b.workspace.clone().unwrap_or_else(|| b.name.clone());
            let (source, base_sub) = run.workspaces.get(&pipeline_ws)?;
            let sub_path = match (
                base_sub.as_deref().filter(|s| !s.is_empty()),
                b.sub_path.as_deref().filter(|s| !s.is_empty()),
            ) {
                (Some(a), Some(b)) => Some(format!("{a}/{b}")),
                (a, b) => a.or(b).map(str::to_string),
            };
            Some(WorkspaceBinding {
                name: b.name.clone(),
                source: source.clone(),
                sub_path,
            })
        })
        .collect()
}

/// Runs one Pipeline task: its matrix combinations (or itself), each with its retries.
async fn run_task(
    run: &Run<'_>,
    task: PipelineTask,
    (task_name, body): (String, TaskSpec),
    deadline: Option<Instant>,
) -> (String, Done) {
    let started = Instant::now();
    let retries = task
        .retries
        .as_ref()
        .and_then(|r| {
            r.as_u64()
                .or_else(|| r.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(0) as usize;
    let mut pipeline_task_context = Replacements::default();
    pipeline_task_context.set("context.pipelineTask.retries", retries.to_string());
    let mut task = task;
    apply_pipeline(std::slice::from_mut(&mut task), &pipeline_task_context);
    let base = params::from_bindings(&task.params, &task.name).unwrap_or_default();
    let combinations: Vec<Combination> = match &task.matrix {
        Some(matrix) => {
            let params: Vec<(String, Vec<String>)> =
                params::from_bindings(&matrix.params, &task.name)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(n, v)| match v {
                        ParamValue::Array(items) => (n, items),
                        ParamValue::String(s) => (n, vec![s]),
                        ParamValue::Object(_) => (n, Vec::new()),
                    })
                    .collect();
            let include: Vec<Combination> = matrix
                .include
                .iter()
                .map(|i| {
                    params::from_bindings(&i.params, &task.name)
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|(n, v)| v.as_str().map(|s| (n, s.to_string())))
                        .collect()
                })
                .collect();
            fan_out(&params, &include)
        }
        None => vec![Combination::new()],
    };
    let matrixed = task.matrix.is_some();
    let timeout = task
        .timeout
        .as_deref()
        .and_then(|t| prepare::parse_go_duration(t).ok())
        .filter(|d| !d.is_zero())
        .or(Some(DEFAULT_TIMEOUT));
    let runs = combinations.iter().enumerate().map(|(index, combination)| {
        let mut given: Params = base.clone();
        for (name, value) in combination {
            given.retain(|(n, _)| n != name);
            given.push((name.clone(), ParamValue::String(value.clone())));
        }
        let tr_name = if matrixed {
            format!("{}-{}-{index}", run.name, task.name)
        } else {
            format!("{}-{}", run.name, task.name)
        };
        let label = if matrixed {
            format!("{}[{index}]", task.name)
        } else {
            task.name.clone()
        };
        attempt_all(
            run, &task, &task_name, &body, given, tr_name, label, retries, timeout, deadline,
        )
    });
    let outcomes: Vec<(String, taskrun::TaskRunOutcome, usize)> =
        futures_util::future::join_all(runs).await;

    let mut results: BTreeMap<String, ParamValue> = BTreeMap::new();
    if matrixed {
        for result in &body.results {
            let values: Vec<String> = outcomes
                .iter()
                .filter_map(|(_, o, _)| {
                    o.results
                        .get(&result.name)
                        .and_then(|v| v.as_str().map(str::to_string))
                })
                .collect();
            if !values.is_empty() {
                results.insert(result.name.clone(), ParamValue::Array(values));
            }
        }
    } else if let Some((_, outcome, _)) = outcomes.first() {
        results = outcome.results.clone();
    }
    let worst = outcomes
        .iter()
        .map(|(_, o, _)| o)
        .find(|o| o.status != Status::Succeeded)
        .or(outcomes.first().map(|(_, o, _)| o));
    let mut status = worst.map_or(Status::Succeeded, |o| o.status);
    if status.is_failure()
        && status != Status::TimedOut
        && task.on_error.as_deref() == Some("continue")
    {
        status = Status::FailureIgnored;
    }
    let done = Done {
        status,
        skip: None,
        reason: worst.map_or(String::new(), |o| {
            if status == Status::FailureIgnored {
                "FailureIgnored".into()
            } else {
                o.reason.clone()
            }
        }),
        message: worst.map_or(String::new(), |o| o.message.clone()),
        results,
        task_runs: outcomes.iter().map(|(n, _, _)| n.clone()).collect(),
        steps: outcomes
            .iter()
            .flat_map(|(_, o, _)| o.steps.clone())
            .collect(),
        attempts: outcomes.iter().map(|(_, _, a)| *a).max().unwrap_or(0),
        duration: Some(started.elapsed()),
        matrix_length: matrixed.then_some(combinations.len()),
    };
    (task.name.clone(), done)
}

/// One TaskRun of a Pipeline task, retried up to `retries` times while it fails.
#[allow(clippy::too_many_arguments)]
async fn attempt_all(
    run: &Run<'_>,
    task: &PipelineTask,
    task_name: &str,
    body: &TaskSpec,
    given: Params,
    tr_name: String,
    label: String,
    retries: usize,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
) -> (String, taskrun::TaskRunOutcome, usize) {
    let uid = new_uid();
    let mut last = None;
    for attempt in 0..=retries {
        let _permit = run.permits.acquire().await;
        let limit = match (
            timeout,
            deadline.map(|d| d.saturating_duration_since(Instant::now())),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let context = TaskContext {
            task_run: tr_name.clone(),
            task_name: task_name.to_string(),
            namespace: run.namespace.clone(),
            uid: uid.clone(),
            retry_count: attempt,
        };
        let outcome = match prepare(
            body,
            &given,
            &context,
            &workspace_views(run, task),
            &run.engine.catalog,
            &run.engine.images,
        ) {
            Ok(prepared) => {
                let mut labels = run.labels.clone();
                labels.insert("tekton.dev/pipelineRun".into(), run.name.clone());
                labels.insert("tekton.dev/pipelineTask".into(), task.name.clone());
                labels.insert("tekton.dev/taskRun".into(), tr_name.clone());
                if !run.pipeline.is_empty() {
                    labels.insert("tekton.dev/pipeline".into(), run.pipeline.clone());
                }
                let input = TaskRunInput {
                    name: tr_name.clone(),
                    label: label.clone(),
                    prepared,
                    workspaces: workspace_bindings(run, task),
                    pod: PodMeta {
                        name: format!("{tr_name}-pod"),
                        namespace: run.namespace.clone(),
                        uid: uid.clone(),
                        labels,
                        annotations: run.annotations.clone(),
                        service_account: "default".into(),
                    },
                    timeout: limit,
                    attempt,
                };
                match taskrun::execute(run.engine, &input).await {
                    Ok(outcome) => outcome,
                    Err(error) => {
                        let message = run.engine.reporter.mask(&format!("{error:#}"));
                        run.engine
                            .reporter
                            .state(&label, &format!("Failed: {message}"));
                        taskrun::TaskRunOutcome::failed("TaskRunValidationFailed", message)
                    }
                }
            }
            Err(error) => {
                let message = format!("{error:#}");
                run.engine
                    .reporter
                    .state(&label, &format!("Failed: {message}"));
                taskrun::TaskRunOutcome::failed("TaskRunValidationFailed", message)
            }
        };
        let again = outcome.status == Status::Failed
            && attempt < retries
            && !run.engine.cancel.is_cancelled();
        last = Some((tr_name.clone(), outcome, attempt + 1));
        if !again {
            break;
        }
        run.engine
            .reporter
            .state(&label, &format!("retrying ({} of {retries})", attempt + 1));
    }
    last.expect("at least one attempt")
}
