//! The PipelineRun's schedule: every DAG task starts once its parents are done (unless
//! [`decide`](super::decide) skips it, or the run is stopping after a failure or at its
//! deadline), at most `--parallel` TaskRuns at once; then the `finally` tasks with the DAG
//! tasks' statuses. A task is its matrix combinations (or itself), each a TaskRun retried up to
//! `retries` times.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt as _};

use super::decide::{decide, parents, Decision};
use super::results::status_table;
use super::tasks::{apply_pipeline, body_of, workspace_bindings, workspace_views};
use super::{Done, Plan, Run};
use crate::run::env::PodMeta;
use crate::run::matrix::{fan_out, Combination};
use crate::run::params::{self, ParamValue, Params};
use crate::run::prepare::{self, prepare, TaskContext};
use crate::run::report::Status;
use crate::run::subst::Replacements;
use crate::run::taskrun::{self, TaskRunInput, TaskRunOutcome};
use crate::run::{new_uid, DEFAULT_TIMEOUT};
use crate::tekton::model::{PipelineTask, TaskSpec};

/// How every task of the run ended.
pub struct Ends {
    pub dag: BTreeMap<String, Done>,
    pub finally: BTreeMap<String, Done>,
    /// A result reference that could not be resolved though its producer succeeded.
    pub invalid_reference: Option<String>,
}

/// Runs the DAG, then the finally tasks.
pub async fn schedule(run: &Run<'_>, plan: &Plan) -> Ends {
    let reporter = &run.engine.reporter;
    let spec = &plan.spec;
    let mut done: BTreeMap<String, Done> = BTreeMap::new();
    let mut invalid_reference: Option<String> = None;
    let mut running = FuturesUnordered::new();
    let mut pending: Vec<&PipelineTask> = spec.tasks.iter().collect();
    let task_deadline = [run.deadline, plan.tasks_deadline]
        .into_iter()
        .flatten()
        .min();
    loop {
        let mut waiting = Vec::new();
        for task in pending {
            if !parents(task).iter().all(|p| done.contains_key(p)) {
                waiting.push(task);
                continue;
            }
            let stopping = invalid_reference.is_some()
                || done
                    .values()
                    .any(|d| d.failed() && d.status != Status::FailureIgnored)
                || task_deadline.is_some_and(|d| Instant::now() >= d);
            if stopping {
                reporter.state(&task.name, "skipped (the PipelineRun is stopping)");
                done.insert(
                    task.name.clone(),
                    Done::skipped("StoppingSkip", "the PipelineRun is stopping".into()),
                );
                continue;
            }
            match decide(task, &done, false) {
                Decision::Run(task) => {
                    let body = body_of(&task, plan);
                    running.push(run_task(run, *task, body, task_deadline));
                }
                other => {
                    let skipped = record(run, &task.name, other, &mut invalid_reference);
                    done.insert(task.name.clone(), skipped);
                }
            }
        }
        pending = waiting;
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
    let statuses = status_table(spec, &done);
    let finally_deadline = [
        run.deadline,
        plan.finally_timeout.map(|t| Instant::now() + t),
    ]
    .into_iter()
    .flatten()
    .min();
    let mut finally_done: BTreeMap<String, Done> = BTreeMap::new();
    for task in &spec.finally {
        let mut task = task.clone();
        apply_pipeline(std::slice::from_mut(&mut task), &statuses);
        match decide(&task, &done, true) {
            Decision::Run(task) => {
                let body = body_of(&task, plan);
                running.push(run_task(run, *task, body, finally_deadline));
            }
            other => {
                let skipped = record(run, &task.name, other, &mut invalid_reference);
                finally_done.insert(task.name.clone(), skipped);
            }
        }
    }
    while let Some((name, outcome)) = running.next().await {
        finally_done.insert(name, outcome);
    }
    Ends {
        dag: done,
        finally: finally_done,
        invalid_reference,
    }
}

/// A task that does not run, as reported and remembered.
fn record(
    run: &Run<'_>,
    name: &str,
    decision: Decision,
    invalid_reference: &mut Option<String>,
) -> Done {
    let reporter = &run.engine.reporter;
    match decision {
        Decision::Skip(skip, message) => {
            reporter.state(name, &format!("skipped ({message})"));
            Done::skipped(skip, message)
        }
        Decision::Invalid(message) => {
            reporter.state(name, &format!("cannot start: {message}"));
            *invalid_reference = Some(message.clone());
            Done::skipped("MissingResultsSkip", message)
        }
        Decision::Run(_) => unreachable!("a task that runs is not recorded as skipped"),
    }
}

/// Checks every image a task will run before anything runs, where params alone name it.
pub async fn preflight(run: &Run<'_>, plan: &Plan) -> anyhow::Result<()> {
    let spec = &plan.spec;
    for task in spec.tasks.iter().chain(&spec.finally) {
        let (_, body) = &plan.bodies[&task.name];
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
            Ok(prepared) => crate::run::preflight_images(&prepared).await?,
            Err(error) if !format!("{error:#}").contains("was not resolved") => {
                return Err(error.context(format!("pipeline task {:?}", task.name)))
            }
            Err(_) => {}
        }
    }
    Ok(())
}

/// The param combinations a task runs with: its matrix fanned out, or itself once.
fn combinations(task: &PipelineTask) -> Vec<Combination> {
    let Some(matrix) = &task.matrix else {
        return vec![Combination::new()];
    };
    let params: Vec<(String, Vec<String>)> = params::from_bindings(&matrix.params, &task.name)
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

/// What one TaskRun of a task is, apart from its params.
struct Attempts<'a> {
    task: &'a PipelineTask,
    task_name: &'a str,
    body: &'a TaskSpec,
    retries: usize,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
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
    let combinations = combinations(&task);
    let matrixed = task.matrix.is_some();
    let attempts = Attempts {
        task: &task,
        task_name: &task_name,
        body: &body,
        retries,
        timeout: task
            .timeout
            .as_deref()
            .and_then(|t| prepare::parse_go_duration(t).ok())
            .filter(|d| !d.is_zero())
            .or(Some(DEFAULT_TIMEOUT)),
        deadline,
    };
    let runs = combinations.iter().enumerate().map(|(index, combination)| {
        let mut given: Params = base.clone();
        for (name, value) in combination {
            given.retain(|(n, _)| n != name);
            given.push((name.clone(), ParamValue::String(value.clone())));
        }
        let (tr_name, label) = if matrixed {
            (
                format!("{}-{}-{index}", run.name, task.name),
                format!("{}[{index}]", task.name),
            )
        } else {
            (format!("{}-{}", run.name, task.name), task.name.clone())
        };
        attempt_all(run, &attempts, given, tr_name, label)
    });
    let outcomes: Vec<(String, TaskRunOutcome, usize)> = futures_util::future::join_all(runs).await;

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
async fn attempt_all(
    run: &Run<'_>,
    attempts: &Attempts<'_>,
    given: Params,
    tr_name: String,
    label: String,
) -> (String, TaskRunOutcome, usize) {
    let reporter = &run.engine.reporter;
    let task = attempts.task;
    let uid = new_uid();
    let mut last = None;
    for attempt in 0..=attempts.retries {
        let _permit = run.permits.acquire().await;
        let remaining = attempts
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        let limit = match (attempts.timeout, remaining) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let context = TaskContext {
            task_run: tr_name.clone(),
            task_name: attempts.task_name.to_string(),
            namespace: run.namespace.clone(),
            uid: uid.clone(),
            retry_count: attempt,
        };
        let prepared = prepare(
            attempts.body,
            &given,
            &context,
            &workspace_views(run, task),
            &run.engine.catalog,
            &run.engine.images,
        );
        let outcome = match prepared {
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
                taskrun::execute(run.engine, &input).await
            }
            Err(error) => Err(error),
        };
        let outcome = outcome.unwrap_or_else(|error| {
            let message = reporter.mask(&format!("{error:#}"));
            reporter.state(&label, &format!("Failed: {message}"));
            TaskRunOutcome::failed("TaskRunValidationFailed", message)
        });
        let again = outcome.status == Status::Failed
            && attempt < attempts.retries
            && !run.engine.cancel.is_cancelled();
        last = Some((tr_name.clone(), outcome, attempt + 1));
        if !again {
            break;
        }
        reporter.state(
            &label,
            &format!("retrying ({} of {})", attempt + 1, attempts.retries),
        );
    }
    last.expect("at least one attempt")
}
