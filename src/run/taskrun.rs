//! One TaskRun on this machine, as a pod runs it: a directory stands for the pod's volumes
//! (`/tekton/...`, `/workspace`, workspaces, volumes); sidecars start first (and pass their exec
//! readiness probe); steps run in order, each with its environment, `onError`, `timeout` and a
//! `when` of its own; after each step its termination message is measured against Tekton's
//! budget; a failed step skips the rest; at the end sidecars stop and the results are read.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::env::{self, EnvSources, PodMeta};
use super::load::Catalog;
use super::params::ParamValue;
use super::pod::{wait_ready, Pod};
use super::prepare::{Prepared, PreparedStep};
use super::report::{Reporter, Status, StepReport};
use super::results::{self, ResultsFrom, TOO_LONG};
use super::runtime::{self, Exit, ImageMap};
use super::storage::Source;
use crate::core::error::Error;
use crate::core::poll::Cancel;
use crate::core::progress::human_duration;

/// What every TaskRun of a run shares.
pub struct Engine {
    pub catalog: Catalog,
    pub images: ImageMap,
    pub reporter: Reporter,
    pub run_dir: PathBuf,
    pub cancel: Cancel,
    /// `--env NAME=VALUE` for every step and sidecar.
    pub extra_env: Vec<(String, String)>,
    pub results_from: ResultsFrom,
}

/// A workspace binding of one TaskRun.
#[derive(Debug, Clone)]
pub struct WorkspaceBinding {
    pub name: String,
    pub source: Source,
    pub sub_path: Option<String>,
}

/// One TaskRun to execute.
pub struct TaskRunInput {
    pub name: String,
    /// The log prefix: the Pipeline task's name, or the TaskRun's.
    pub label: String,
    pub prepared: Prepared,
    pub workspaces: Vec<WorkspaceBinding>,
    pub pod: PodMeta,
    pub timeout: Option<Duration>,
    /// 0 for the first attempt, then each retry.
    pub attempt: usize,
}

/// How a TaskRun ended.
#[derive(Debug, Clone)]
pub struct TaskRunOutcome {
    pub status: Status,
    pub reason: String,
    pub message: String,
    pub results: BTreeMap<String, ParamValue>,
    pub steps: Vec<StepReport>,
    pub duration: Duration,
}

impl TaskRunOutcome {
    pub fn failed(reason: &str, message: String) -> TaskRunOutcome {
        TaskRunOutcome {
            status: Status::Failed,
            reason: reason.to_string(),
            message,
            results: BTreeMap::new(),
            steps: Vec::new(),
            duration: Duration::ZERO,
        }
    }
}

/// Go's `time.Duration.String()` for whole and fractional seconds (`1m0s`, `1.5s`).
pub fn go_duration_string(d: Duration) -> String {
    let total = d.as_secs();
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let millis = d.subsec_millis();
    let seconds = if millis == 0 {
        format!("{s}s")
    } else {
        format!("{s}.{millis:03}").trim_end_matches('0').to_string() + "s"
    };
    match (h, m) {
        (0, 0) if s == 0 && millis > 0 => format!("{millis}ms"),
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

/// Runs one TaskRun. An error is an input stepkit could not use (a missing Secret, a volume
/// kind it does not support); a step that fails is a Failed outcome.
pub async fn execute(engine: &Engine, input: &TaskRunInput) -> anyhow::Result<TaskRunOutcome> {
    let started = Instant::now();
    let deadline = input.timeout.map(|t| started + t);
    let reporter = &engine.reporter;
    let spec = &input.prepared.spec;
    let pod = Pod::create(engine, input)?;
    let sources = EnvSources {
        catalog: &engine.catalog,
        reporter,
        pod: &input.pod,
        extra: &engine.extra_env,
    };

    // A Secret or ConfigMap a container reads must be there before any container starts, as
    // the kubelet refuses to create the pod's containers without it.
    for (name, container) in input
        .prepared
        .steps
        .iter()
        .map(|s| (&s.name, &s.container))
        .chain(
            input
                .prepared
                .sidecars
                .iter()
                .map(|s| (&s.name, &s.container)),
        )
    {
        env::build(container, &sources, &format!("{}/{name}", input.label))?;
    }
    reporter.start(&input.label, &format!("started (TaskRun {})", input.name));
    let mut sidecars = Vec::new();
    let mut outcome = None;
    for sidecar in &input.prepared.sidecars {
        let label = format!("{}/{}", input.label, sidecar.name);
        let container = pod.container(
            &label,
            &format!("sidecar-{}", sidecar.name),
            &sidecar.container,
            sidecar.runtime,
            &sources,
        )?;
        reporter.state(&label, "sidecar starting");
        let running = runtime::start(&container, reporter).await?;
        let probe = sidecar.container.readiness_probe.as_ref();
        sidecars.push(running);
        if let (Some(probe), Some(running)) = (probe, sidecars.last()) {
            if let Err(message) = wait_ready(engine, &container, running, probe, deadline).await {
                outcome = Some((
                    Status::Failed,
                    "SidecarNotReady".to_string(),
                    format!("sidecar {:?} {message}", sidecar.name),
                ));
                break;
            }
        }
    }

    let mut steps = Vec::new();
    for step in &input.prepared.steps {
        let label = format!("{}/{}", input.label, step.name);
        if outcome.is_some() {
            reporter.state(&label, "skipped (an earlier step failed)");
            steps.push(StepReport {
                name: step.name.clone(),
                status: Status::Skipped,
                exit_code: None,
                duration: Duration::ZERO,
            });
            continue;
        }
        let (report, failure) = run_step(engine, input, step, &pod, &sources, deadline).await?;
        steps.push(report);
        if failure.is_some() {
            outcome = failure;
        }
    }
    for sidecar in sidecars {
        sidecar.stop().await;
    }

    let results = results::collect(
        &spec.results,
        &pod.tekton.join("results"),
        &pod.tekton.join("steps"),
    );
    if let ResultsFrom::SidecarLogs { max_result_size } = engine.results_from {
        let steps: Vec<_> = input
            .prepared
            .steps
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    &s.results[..],
                    pod.step_dir(s).join("results"),
                )
            })
            .collect();
        let overflow = results::sidecar_log_overflow(
            &input.name,
            &spec.results,
            &pod.tekton.join("results"),
            &steps,
            max_result_size,
        );
        if let Some(message) = overflow {
            reporter.log(&input.label, &message);
            outcome = Some((
                Status::Failed,
                "TaskRunResultLargerThanAllowedLimit".to_string(),
                message,
            ));
        }
    }
    let (status, reason, message, results) = match (outcome, results) {
        (Some((status, reason, message)), _) if reason == "TaskRunResultLargerThanAllowedLimit" => {
            (status, reason, message, BTreeMap::new())
        }
        // Results travel in the termination message: one over the budget carries none.
        (Some((status, reason, message)), _) if message.contains(TOO_LONG) => {
            (status, reason, message, BTreeMap::new())
        }
        (Some((status, reason, message)), results) => {
            (status, reason, message, results.unwrap_or_default())
        }
        (None, Ok(results)) => (
            Status::Succeeded,
            "Succeeded".to_string(),
            "All Steps have completed executing".to_string(),
            results,
        ),
        (None, Err(problem)) => (
            Status::Failed,
            "InvalidTaskResultsType".to_string(),
            problem,
            BTreeMap::new(),
        ),
    };
    let duration = started.elapsed();
    let state = match status {
        Status::Succeeded => format!("Succeeded in {}", human_duration(duration)),
        _ => format!(
            "{} in {}: {message}",
            status.as_str(),
            human_duration(duration)
        ),
    };
    reporter.state(&input.label, &state);
    Ok(TaskRunOutcome {
        status,
        reason,
        message,
        results,
        steps,
        duration,
    })
}

type Failure = Option<(Status, String, String)>;

async fn run_step(
    engine: &Engine,
    input: &TaskRunInput,
    step: &PreparedStep,
    pod: &Pod,
    sources: &EnvSources<'_>,
    deadline: Option<Instant>,
) -> anyhow::Result<(StepReport, Failure)> {
    let reporter = &engine.reporter;
    let label = format!("{}/{}", input.label, step.name);
    let steps_dir = pod.tekton.join("steps");
    let step_dir = pod.step_dir(step);
    let started = Instant::now();
    let started_at = results::go_time(time::OffsetDateTime::now_utc());
    let report = |status, exit_code| StepReport {
        name: step.name.clone(),
        status,
        exit_code,
        duration: started.elapsed(),
    };

    let mut when = step.when.clone();
    for expression in &mut when {
        let replace = |value: &mut serde_json::Value| {
            if let serde_json::Value::String(text) = value {
                if let Ok(mut items) = env::replace_step_results(text, &steps_dir) {
                    *text = items.pop().unwrap_or_default();
                }
            }
        };
        if let Some(input) = &mut expression.input {
            replace(input);
        }
        for value in expression.values.iter_mut().flatten() {
            replace(value);
        }
    }
    let allowed = super::when::allows(&when).map_err(Error::usage)?;
    if !allowed {
        reporter.state(
            &label,
            &format!("skipped (when {})", super::when::describe(&when)),
        );
        std::fs::write(step_dir.join("exitCode"), "0")?;
        return Ok((report(Status::Skipped, Some(0)), None));
    }

    let container = pod
        .container(
            &label,
            &step.container_name,
            &step.container,
            step.runtime,
            sources,
        )
        .map(|mut container| {
            container
                .mounts
                .extend(pod.other_steps(&input.prepared.steps, step));
            container
                .mounts
                .sort_by_key(|m| std::cmp::Reverse(m.container_path.len()));
            container
        });
    let container = match container {
        Ok(container) => container,
        Err(error) => {
            let message = format!("{error:#}");
            reporter.state(&label, &format!("failed: {message}"));
            return Ok((
                report(Status::Failed, None),
                Some((Status::Failed, "Failed".into(), message)),
            ));
        }
    };
    reporter.start(&label, "started");
    let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let limit = match (step.timeout, remaining) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let exit = match runtime::start(&container, reporter).await {
        Ok(running) => running.wait(limit, &engine.cancel).await,
        Err(error) => {
            let message = format!("{error:#}");
            reporter.state(&label, &format!("failed to start: {message}"));
            return Ok((
                report(Status::Failed, None),
                Some((Status::Failed, "Failed".into(), message)),
            ));
        }
    };
    let task_timed_out = deadline.is_some_and(|d| Instant::now() + Duration::from_millis(5) >= d);
    let mut code = match exit {
        Exit::Code(code) => code,
        _ => 1,
    };
    if exit == Exit::Code(0) || (step.continue_on_error && matches!(exit, Exit::Code(_))) {
        std::fs::write(step_dir.join("exitCode"), code.to_string())?;
    }
    let spec = &input.prepared.spec;
    let message_len = results::termination_message_len(
        &spec.results,
        &pod.tekton.join("results"),
        &step.results,
        &step_dir.join("results"),
        &started_at,
        (step.continue_on_error && code != 0).then_some(code),
    );
    let over_budget =
        engine.results_from == ResultsFrom::TerminationMessage && !results::fits(message_len);
    if over_budget {
        reporter.log(&label, TOO_LONG);
        code = 1;
    }
    let elapsed = human_duration(started.elapsed());
    let failure = match exit {
        Exit::Cancelled => Some((
            Status::Cancelled,
            "TaskRunCancelled".into(),
            format!("TaskRun {:?} was cancelled", input.name),
        )),
        Exit::TimedOut if task_timed_out => Some((
            Status::TimedOut,
            "TaskRunTimeout".into(),
            format!(
                "TaskRun {:?} failed to finish within {:?}",
                input.name,
                go_duration_string(input.timeout.unwrap_or_default())
            ),
        )),
        Exit::TimedOut => Some((
            Status::Failed,
            "Failed".into(),
            format!(
                "{:?} exited because the step exceeded the specified timeout limit of {}",
                step.container_name,
                go_duration_string(step.timeout.unwrap_or_default())
            ),
        )),
        Exit::Code(_) if over_budget => Some((
            Status::Failed,
            "Failed".into(),
            format!("{:?} exited with code 1: {TOO_LONG}", step.container_name),
        )),
        Exit::Code(0) => None,
        Exit::Code(_) if step.continue_on_error => None,
        Exit::Code(n) => Some((
            Status::Failed,
            "Failed".into(),
            format!("{:?} exited with code {n}", step.container_name),
        )),
    };
    let status = match (&failure, code) {
        (Some((status, _, _)), _) => {
            reporter.state(
                &label,
                &format!(
                    "{} in {elapsed}",
                    failure.as_ref().map_or("", |f| f.2.as_str())
                ),
            );
            *status
        }
        (None, 0) => {
            reporter.state(&label, &format!("succeeded in {elapsed}"));
            Status::Succeeded
        }
        (None, n) => {
            reporter.state(
                &label,
                &format!("exited with code {n} in {elapsed}, ignored (onError: continue)"),
            );
            Status::FailureIgnored
        }
    };
    Ok((report(status, Some(code)), failure))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_prints_them() {
        assert_eq!(go_duration_string(Duration::from_secs(1)), "1s");
        assert_eq!(go_duration_string(Duration::from_secs(60)), "1m0s");
        assert_eq!(go_duration_string(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration_string(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration_string(Duration::from_millis(200)), "200ms");
    }
}
