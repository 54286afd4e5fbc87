//! The edges of a Pipeline's task graph as Tekton's reconciler builds it: a task runs after the
//! tasks it names in `runAfter` and after every task whose results its params, matrix or `when`
//! expressions use. `task run` schedules by these edges; `workspace wrap` orders hand-offs by them.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::expr::references;
use super::model::PipelineTask;

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
