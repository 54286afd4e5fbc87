//! pipeline-refs, results: `$(tasks.X.results.Y)` and `$(finally.X.results.Y)` must name a task
//! and, where its Task is known, a result it declares; pipeline results must read task results.

use super::*;

impl<'a> Graph<'a> {
    /// A `$(tasks.X.results.Y)` in a pipeline task: X must be a task of spec.tasks (finally task
    /// results reach only pipeline results) and declare Y. Returns X's index, a graph edge.
    pub(super) fn check_task_result(
        &self,
        entry: &Entry,
        task: &str,
        result: &[String],
        expression: &str,
        at: Location,
        sink: &mut Sink,
    ) -> Option<usize> {
        let user = entry.label();
        match self.find(task) {
            None => {
                let message = format!(
                    "{user} uses a result of {task:?}, which is not a task of this pipeline; fix the task name in $({expression})"
                );
                sink.report(REFS, at, message);
                None
            }
            Some((_, target)) if target.finally => {
                let message = if entry.finally {
                    format!("{user} uses a result of finally task {task:?}; finally tasks can only use results of tasks in spec.tasks")
                } else {
                    format!("{user} uses a result of finally task {task:?}, which runs after every task; only pipeline results can read it, as $(finally.{task}.results...)")
                };
                sink.report(REFS, at, message);
                None
            }
            Some((index, target)) => {
                check_result_declared(&user, target, result, expression, at, sink);
                Some(index)
            }
        }
    }

    /// Pipeline results take their value from task results only: `$(tasks.X.results.Y)` for
    /// tasks, `$(finally.X.results.Y)` for finally tasks.
    pub(super) fn check_pipeline_results(&self, sink: &mut Sink) {
        let nodes = self
            .pipeline
            .node
            .get("results")
            .and_then(Node::as_seq)
            .unwrap_or_default();
        for (i, (result, node)) in self.pipeline.spec.results.iter().zip(nodes).enumerate() {
            let path = self.pipeline.path.item("results", i);
            let user = format!("pipeline result {:?}", result.name);
            let mut takes_results = false;
            for found in task_variables(node, &path, &["name", "description", "type"]) {
                takes_results |= self.check_pipeline_result_variable(&user, &found, sink);
            }
            if node.get("value").is_some() && !takes_results {
                let message = format!(
                    "{user} takes no task result; set its value from $(tasks.<task>.results.<name>)"
                );
                sink.report(REFS, Location::Field(path.field("value")), message);
            }
        }
    }

    /// One variable in a pipeline result's value; true when it reads a task's result or status
    /// (what Tekton counts as a result expression).
    pub(super) fn check_pipeline_result_variable(
        &self,
        user: &str,
        found: &Found,
        sink: &mut Sink,
    ) -> bool {
        let at = found.location();
        let expression = &found.reference.expression;
        let (task, result, want_finally) = match found.var() {
            Some(Var::Result { task, result }) => (task, result, false),
            Some(Var::FinallyResult { task, result }) => (task, result, true),
            Some(Var::AggregateStatus | Var::Status { .. }) => {
                let message = format!(
                    "{user} reads $({expression}); a pipeline result can only take task results, \
                     $(tasks.<task>.results.<name>) or $(finally.<task>.results.<name>)"
                );
                sink.report(REFS, at, message);
                return true;
            }
            Some(Var::Matrix { .. }) | None => return false,
        };
        let message = match self.find(task) {
            Some((_, target)) if target.finally == want_finally => {
                check_result_declared(user, target, result, expression, at, sink);
                return true;
            }
            Some(_) if !want_finally => format!(
                "{user} reads $({expression}), but {task:?} is a finally task; write $(finally.{task}.results.{}) instead",
                result.join(".")
            ),
            Some(_) => format!(
                "{user} reads $({expression}), but {task:?} is not a finally task; write $(tasks.{task}.results.{}) instead",
                result.join(".")
            ),
            None => format!(
                "{user} uses a result of {task:?}, which is not a task of this pipeline; fix the task name in $({expression})"
            ),
        };
        sink.report(REFS, at, message);
        true
    }
}

/// `Y` (and an object key after it) must be a result the target's Task declares, when its body
/// is known.
pub(super) fn check_result_declared(
    user: &str,
    target: &Entry,
    result: &[String],
    expression: &str,
    at: Location,
    sink: &mut Sink,
) {
    let Some(body) = &target.body else { return };
    let name = &result[0];
    let Some(declared) = declared_result(&body.spec.results, result) else {
        let declared: Vec<&str> = body.spec.results.iter().map(|r| r.name.as_str()).collect();
        let declared = match declared.as_slice() {
            [] => "it has no results".to_string(),
            names => format!("it declares {}", names.join(", ")),
        };
        let message = format!(
            "{user} uses result {name:?} of {:?}, but {} declares no such result ({declared}); fix the name in $({expression})",
            target.task.name,
            body.describe,
        );
        sink.report(REFS, at, message);
        return;
    };
    let (Some(key), Some(properties)) = (result.get(1), &declared.properties) else {
        return;
    };
    if result.len() == 2 && declared.name == *name && !properties.contains_key(key) {
        let keys: Vec<&str> = properties.keys().map(String::as_str).collect();
        let message = format!(
            "{user} uses key {key:?} of object result {name:?} of {:?}, which has no such key (keys: {}); fix the key in $({expression})",
            target.task.name,
            keys.join(", ")
        );
        sink.report(REFS, at, message);
    }
}

/// The declared result `result` names: `Y` of `Y.key`, or a dotted name written with dots.
pub(super) fn declared_result<'s>(
    results: &'s [ResultSpec],
    result: &[String],
) -> Option<&'s ResultSpec> {
    let dotted = result.join(".");
    results
        .iter()
        .find(|r| r.name == result[0])
        .or_else(|| results.iter().find(|r| r.name == dotted))
}
