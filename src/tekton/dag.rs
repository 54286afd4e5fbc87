//! The edges of a Pipeline's task graph as Tekton's reconciler builds it: a task runs after the
//! tasks it names in `runAfter` and after every task whose results its params, matrix or `when`
//! expressions use. `task run` schedules by these edges; `workspace wrap` orders hand-offs by them.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::expr::references;
use super::model::PipelineTask;
use crate::core::error::Error;

/// The tasks `task` depends on: `runAfter` and every task whose results it uses.
pub fn parents(task: &PipelineTask) -> BTreeSet<String> {
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

/// `tasks` in an order where each comes after its [`parents`], refusing what Tekton refuses: a
/// dependency on a task that is not there, or a cycle. Among tasks ready at once, the order of
/// `tasks` is kept. `owner` names the Pipeline in errors.
pub fn topological_order<'a>(
    tasks: &'a [PipelineTask],
    owner: &str,
) -> anyhow::Result<Vec<&'a PipelineTask>> {
    let names: BTreeSet<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    let with_parents: Vec<(&PipelineTask, BTreeSet<String>)> =
        tasks.iter().map(|task| (task, parents(task))).collect();
    for (task, direct) in &with_parents {
        if let Some(unknown) = direct.iter().find(|p| !names.contains(p.as_str())) {
            return Err(Error::usage(format!(
                "{owner}: task {:?} depends on {unknown:?}, which is not a task of the Pipeline",
                task.name
            ))
            .into());
        }
    }
    let mut order: Vec<&PipelineTask> = Vec::new();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut remaining = with_parents;
    while !remaining.is_empty() {
        let before = remaining.len();
        remaining.retain(|(task, direct)| {
            if direct.iter().all(|p| placed.contains(p.as_str())) {
                placed.insert(task.name.as_str());
                order.push(task);
                false
            } else {
                true
            }
        });
        if remaining.len() == before {
            let cycle: Vec<&str> = remaining.iter().map(|(t, _)| t.name.as_str()).collect();
            return Err(Error::usage(format!(
                "{owner}: the tasks {} depend on each other in a cycle",
                cycle.join(", ")
            ))
            .into());
        }
    }
    Ok(order)
}

/// Every string of a Pipeline task where a result reference can be.
pub fn reference_texts(task: &PipelineTask) -> Vec<String> {
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
