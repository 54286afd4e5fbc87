//! What finished tasks tell the rest of a PipelineRun: their results as `$(tasks.T.results.R)`
//! (and matrix lengths), their statuses as `$(tasks.status)` and `$(tasks.T.status)` for finally
//! tasks, the Pipeline's own results, and the run's final status and message in Tekton's words.

use std::collections::BTreeMap;

use super::Done;
use crate::run::params::ParamValue;
use crate::run::report::{Reporter, Status};
use crate::run::subst::{key, Replacements};
use crate::tekton::model::PipelineSpec;

/// The results of finished tasks as `tasks.T.results.R` (and matrix lengths).
pub fn results_table(done: &BTreeMap<String, Done>) -> Replacements {
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

/// `$(tasks.status)`, `$(tasks.T.status)` and `$(tasks.T.reason)` for finally tasks.
pub fn status_table(spec: &PipelineSpec, done: &BTreeMap<String, Done>) -> Replacements {
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
pub fn pipeline_results(
    spec: &PipelineSpec,
    done: &BTreeMap<String, Done>,
    reporter: &Reporter,
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

/// The PipelineRun's status and message from its tasks' ends, as Tekton words them.
pub fn run_status(
    all: &[(&String, &Done)],
    timed_out: Option<String>,
    invalid_reference: Option<&str>,
) -> (Status, String) {
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
    if let Some(message) = timed_out {
        return (Status::TimedOut, message);
    }
    if let Some(problem) = invalid_reference {
        return (
            Status::Failed,
            format!("Invalid task result reference: {problem}"),
        );
    }
    let message = if ignored > 0 {
        format!("Tasks Completed: {completed} (Failed: {} (Ignored: {ignored}), Cancelled 0), Skipped: {skipped}", failed + ignored)
    } else {
        format!("Tasks Completed: {completed} (Failed: {failed}, Cancelled 0), Skipped: {skipped}")
    };
    let status = if failed > 0 {
        Status::Failed
    } else {
        Status::Succeeded
    };
    (status, message)
}
