//! pipeline-refs, params and workspaces: what a pipeline task passes must fit the Task it runs
//! (when the Task is known), and the workspaces it binds must be the Pipeline's.

use super::*;

/// Required params of the Task are passed, and passed params are ones the Task declares.
pub(super) fn check_params(pipeline: &Pipeline, entry: &Entry, body: &Body, sink: &mut Sink) {
    let task = entry.task;
    let mut supplied: BTreeSet<&str> = task.params.iter().map(|p| p.name.as_str()).collect();
    if let Some(matrix) = &task.matrix {
        supplied.extend(matrix.params.iter().map(|p| p.name.as_str()));
        supplied.extend(
            matrix
                .include
                .iter()
                .flat_map(|i| &i.params)
                .map(|p| p.name.as_str()),
        );
    }
    let missing: Vec<&str> = body
        .spec
        .params
        .iter()
        .filter(|p| p.default.is_none() && !supplied.contains(p.name.as_str()))
        // An inline taskSpec receives the pipeline's params of the same name.
        .filter(|p| body.inline.is_none() || !pipeline.params.contains(p.name.as_str()))
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        let message = format!(
            "{} does not pass {} {}, which {} requires (no default); add {} to the task's params",
            entry.label(),
            plural(missing.len(), "param", "params"),
            quoted_list(&missing),
            body.describe,
            plural(missing.len(), "it", "them")
        );
        sink.report(REFS, Location::Field(entry.path.field("params")), message);
    }

    let declared: BTreeSet<&str> = body.spec.params.iter().map(|p| p.name.as_str()).collect();
    for (j, param) in task.params.iter().enumerate() {
        if declared.contains(param.name.as_str())
            || body
                .inline
                .is_some_and(|node| uses_param(node, &param.name))
        {
            continue;
        }
        // A StepAction step may read a propagated param: not dead for sure.
        if body.inline.is_some() && body.spec.steps.iter().any(|s| s.ref_.is_some()) {
            continue;
        }
        // Tekton ignores a param the Task does not declare: likely a typo, but not a failure.
        let message = format!(
            "{} passes param {:?}, which {} does not declare, so Tekton ignores it; remove it or fix its name",
            entry.label(),
            param.name,
            body.describe
        );
        let at = Location::Field(entry.path.item("params", j).field("name"));
        sink.report_as(REFS, Severity::Warning, at, message);
    }
}

/// Whether an inline taskSpec reads `$(params.<name>)` (propagated without a declaration).
pub(super) fn uses_param(task_spec: &Node, name: &str) -> bool {
    let mut used = false;
    expr::walk_strings(task_spec, &FieldPath::root(), &mut |_, _, text| {
        used |= expr::references(text)
            .iter()
            .any(|r| r.root() == "params" && r.segment(1) == Some(name));
    });
    used
}

/// Required Task workspaces are bound, and bindings name workspaces the Task declares.
pub(super) fn check_task_workspaces(
    pipeline: &Pipeline,
    entry: &Entry,
    body: &Body,
    sink: &mut Sink,
) {
    let task = entry.task;
    let bound: BTreeSet<&str> = task.workspaces.iter().map(|w| w.name.as_str()).collect();
    let missing: Vec<&str> = body
        .spec
        .workspaces
        .iter()
        .filter(|w| w.optional != Some(true) && !bound.contains(w.name.as_str()))
        // Tekton binds the pipeline's workspace of the same name to an inline taskSpec that uses it.
        .filter(|w| body.inline.is_none() || !pipeline.workspaces.contains(w.name.as_str()))
        .map(|w| w.name.as_str())
        .collect();
    if !missing.is_empty() {
        let message = format!(
            "{} does not bind {} {}, which {} requires; add {} to the task's workspaces (or mark it optional in the Task)",
            entry.label(),
            plural(missing.len(), "workspace", "workspaces"),
            quoted_list(&missing),
            body.describe,
            plural(missing.len(), "it", "them")
        );
        sink.report(
            REFS,
            Location::Field(entry.path.field("workspaces")),
            message,
        );
    }

    // An inline taskSpec gets undeclared bound workspaces propagated; a referenced Task does not.
    if body.inline.is_none() {
        let declared: BTreeSet<&str> = body
            .spec
            .workspaces
            .iter()
            .map(|w| w.name.as_str())
            .collect();
        for (j, binding) in task.workspaces.iter().enumerate() {
            if !declared.contains(binding.name.as_str()) {
                let message = format!(
                    "{} binds workspace {:?}, which {} does not declare (the TaskRun would fail); remove it or fix its name",
                    entry.label(),
                    binding.name,
                    body.describe
                );
                sink.report(
                    REFS,
                    Location::Field(entry.path.item("workspaces", j).field("name")),
                    message,
                );
            }
        }
    }
}

/// Each binding names a workspace the pipeline declares (`workspace:`, or the binding's own name).
pub(super) fn check_pipeline_workspaces(pipeline: &Pipeline, entry: &Entry, sink: &mut Sink) {
    for (j, binding) in entry.task.workspaces.iter().enumerate() {
        let (field, name) = match binding.workspace.as_deref() {
            Some(workspace) if !workspace.is_empty() => ("workspace", workspace),
            _ => ("name", binding.name.as_str()),
        };
        if !pipeline.workspaces.contains(name) {
            let message = format!(
                "{} binds pipeline workspace {name:?}, which the pipeline does not declare; add it to spec.workspaces or fix the name",
                entry.label()
            );
            sink.report(
                REFS,
                Location::Field(entry.path.item("workspaces", j).field(field)),
                message,
            );
        }
    }
}
