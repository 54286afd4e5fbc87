//! Which task runs, as the PipelineRun reconciler decides it: the DAG's edges (`runAfter` and
//! result references), a graph Tekton refuses (an unknown task, a cycle), and for a task whose
//! parents are done whether it runs or is skipped, and why in Tekton's words: its `when` is
//! false (`WhenExpressionsSkip`, which does not skip its `runAfter` dependents), a parent was
//! skipped for another reason (`ParentTasksSkip`), a result it uses was not produced
//! (`MissingResultsSkip`), or a matrix param is empty (`EmptyArrayInMatrixParams`).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::results::results_table;
use super::tasks::apply_pipeline;
use super::Done;
use crate::run::report::Status;
use crate::run::when;
pub use crate::tekton::dag::parents;
use crate::tekton::dag::{reference_texts, topological_order};
use crate::tekton::expr::references;
use crate::tekton::model::{PipelineSpec, PipelineTask};

/// References to results that are not (yet) known, after substitution.
fn missing_results(task: &PipelineTask) -> Vec<String> {
    reference_texts(task)
        .iter()
        .flat_map(|t| references(t))
        .filter(|r| r.root() == "tasks" && r.segment(2) == Some("results"))
        .map(|r| format!("$({})", r.expression))
        .collect()
}

/// What happens to a task whose parents are done.
pub enum Decision {
    /// It runs, with its parents' results applied.
    Run(Box<PipelineTask>),
    /// It is skipped, for this reason (Tekton's) and message.
    Skip(&'static str, String),
    /// A result it uses is missing though its producer succeeded: the PipelineRun fails.
    Invalid(String),
}

/// Whether a task whose parents are done runs, with their results applied.
pub fn decide(task: &PipelineTask, done: &BTreeMap<String, Done>, is_finally: bool) -> Decision {
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
    match when::allows(&task.when) {
        Ok(true) => {}
        Ok(false) => {
            return Decision::Skip(
                "WhenExpressionsSkip",
                format!("when {} is false", when::describe(&task.when)),
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

/// Refuses a graph Tekton refuses: an unknown `runAfter` or result producer, or a cycle.
pub fn check_graph(spec: &PipelineSpec, owner: &str) -> anyhow::Result<()> {
    topological_order(&spec.tasks, owner).map(|_| ())
}
