//! undefined-result-ref: `$(results…)`, `$(step.results…)` and `$(steps…)` must name a result
//! the Task, the step or an earlier step declares, and exit-code paths a step container.

use super::*;

impl<'a> Model<'a> {
    pub(super) fn check_task_result(&self, site: &Site, reference: &Reference, sink: &mut Sink) {
        let scope = &self.scopes[site.scope];
        if scope.kind != ScopeKind::Task || names_declared(&reference.segments[1..], &scope.results)
        {
            return;
        }
        sink.report(
            RuleId::UndefinedResultRef,
            reference.location(&site.path, site.text),
            format!(
                "$({}) names a result this {} does not declare; \
                 declare it under {}.results or fix the name ({})",
                reference.expression,
                scope.label,
                scope.path,
                declared_list(scope.results.clone())
            ),
        );
    }

    pub(super) fn check_step_result(&self, site: &Site, reference: &Reference, sink: &mut Sink) {
        let scope = &self.scopes[site.scope];
        let step = site.step.and_then(|step| scope.steps.get(step));
        let Some(results) = step.filter(|s| !s.is_ref).and_then(|s| s.results.as_ref()) else {
            return;
        };
        if names_declared(&reference.segments[2..], results) {
            return;
        }
        sink.report(
            RuleId::UndefinedResultRef,
            reference.location(&site.path, site.text),
            format!(
                "$({}) names a result {} does not declare; \
                 add it to its results or fix the name ({})",
                reference.expression,
                site.owner,
                declared_list(results.clone())
            ),
        );
    }

    /// `$(steps.<step>.results.<result>)` (a result of an earlier step) and
    /// `$(steps.step-<step>.exitCode.path)`, in a Task.
    pub(super) fn check_other_step_reference(
        &self,
        site: &Site,
        reference: &Reference,
        sink: &mut Sink,
    ) {
        let scope = &self.scopes[site.scope];
        // A StepAction cannot know the steps around it; a step named by a param is unknown.
        if scope.kind != ScopeKind::Task
            || scope
                .steps
                .iter()
                .any(|s| s.name.is_some_and(|n| n.contains("$(")))
        {
            return;
        }
        match reference.segment(2) {
            Some("results") if reference.segments.len() > 3 => {
                self.check_earlier_step_result(site, reference, sink)
            }
            Some("exitCode") => self.check_exit_code_path(site, reference, sink),
            _ => {}
        }
    }

    pub(super) fn check_earlier_step_result(
        &self,
        site: &Site,
        reference: &Reference,
        sink: &mut Sink,
    ) {
        let scope = &self.scopes[site.scope];
        let id = &reference.segments[1];
        let location = reference.location(&site.path, site.text);
        let expression = &reference.expression;
        let Some(index) = (0..scope.steps.len()).find(|&i| scope.steps[i].id(i) == *id) else {
            let named = scope.steps.iter().filter_map(|s| s.name).collect();
            let message = format!(
                "$({expression}) names step \"{id}\", which this {} does not have; \
                 fix the step name ({})",
                scope.label,
                step_list(named)
            );
            sink.report(RuleId::UndefinedResultRef, location, message);
            return;
        };
        let step = &scope.steps[index];
        let results = step.results.as_ref();
        if results.is_some_and(|declared| !names_result(&reference.segments[3..], declared)) {
            let (declarer, fix) = if step.is_ref {
                let declarer = format!("the StepAction of {}", step.describe(index));
                (declarer, "fix the name")
            } else {
                (
                    step.describe(index),
                    "add it to the step's results or fix the name",
                )
            };
            let message = format!(
                "$({expression}) names a result {declarer} does not declare; {fix} ({})",
                declared_list(results.cloned().unwrap_or_default())
            );
            sink.report(RuleId::UndefinedResultRef, location, message);
        } else if let Some(reader) = site.step.filter(|&reader| reader <= index) {
            // Steps run in order: a step result exists once its step has ended.
            let when = if reader == index {
                "its own result, which exists only once the step has ended".to_string()
            } else {
                format!("a result of {}, which runs after it", step.describe(index))
            };
            let message = format!(
                "$({expression}) in {} reads {when}; read it in a later step",
                site.owner
            );
            sink.report(RuleId::UndefinedResultRef, location, message);
        }
    }

    pub(super) fn check_exit_code_path(&self, site: &Site, reference: &Reference, sink: &mut Sink) {
        let scope = &self.scopes[site.scope];
        let container = &reference.segments[1];
        let ids: Vec<String> = (0..scope.steps.len())
            .map(|i| scope.steps[i].id(i))
            .collect();
        let known = container
            .strip_prefix("step-")
            .is_some_and(|id| ids.iter().any(|i| i == id));
        let problem = if !known && ids.contains(container) {
            format!("misses the \"step-\" prefix; write $(steps.step-{container}.exitCode.path)")
        } else if !known {
            let containers = ids
                .iter()
                .map(|id| format!("step-{id}"))
                .collect::<Vec<_>>();
            format!(
                "names step \"{container}\", which this {} does not have; \
                 a step's exit code is at $(steps.step-<name>.exitCode.path), or \
                 $(steps.step-unnamed-<index>.exitCode.path) for an unnamed one (here: {})",
                scope.label,
                containers.join(", ")
            )
        } else if reference.segments[3..] != ["path"] || reference.star || reference.index.is_some()
        {
            format!("is not a variable Tekton provides; write $(steps.{container}.exitCode.path)")
        } else {
            return;
        };
        sink.report(
            RuleId::UndefinedResultRef,
            reference.location(&site.path, site.text),
            format!("$({}) {problem}", reference.expression),
        );
    }
}

/// Whether `segments` (after `steps.<step>.results`) name a declared result: `X`, an object
/// result's key (`X.key`), or a dotted name written with dots (`a.b`).
pub(super) fn names_result(segments: &[String], declared: &[&str]) -> bool {
    (1..=segments.len()).any(|n| declared.contains(&segments[..n].join(".").as_str()))
}

/// Step names in the order the steps run.
pub(super) fn step_list(names: Vec<&str>) -> String {
    if names.is_empty() {
        "it has no named steps".to_string()
    } else {
        format!("steps: {}", names.join(", "))
    }
}
