//! undefined-context-ref: `$(context…)` must be a variable Tekton provides to this kind of
//! object.

use super::*;

const TASK_CONTEXT: &[&str] = &[
    "taskRun.name",
    "taskRun.namespace",
    "taskRun.uid",
    "task.name",
    "task.retry-count",
];
const PIPELINE_CONTEXT: &[&str] = &[
    "pipelineRun.name",
    "pipelineRun.namespace",
    "pipelineRun.uid",
    "pipeline.name",
    "pipelineTask.retries",
];
/// What an inline taskSpec sees of its Pipeline's context: `pipelineTask.retries` is substituted
/// only in the pipeline task's own params, matrix and displayName.
const PROPAGATED_PIPELINE_CONTEXT: &[&str] = &[
    "pipelineRun.name",
    "pipelineRun.namespace",
    "pipelineRun.uid",
    "pipeline.name",
];
impl<'a> Model<'a> {
    pub(super) fn check_context(&self, site: &Site, reference: &Reference, sink: &mut Sink) {
        let variable = reference.segments[1..].join(".");
        let allowed = self.allowed_context(site);
        if allowed.contains(&variable.as_str()) {
            return;
        }
        let scope = &self.scopes[site.scope];
        let elsewhere = if scope.kind == ScopeKind::Pipeline {
            TASK_CONTEXT
        } else {
            PIPELINE_CONTEXT
        };
        let why = if elsewhere.contains(&variable.as_str()) {
            let other = if scope.kind == ScopeKind::Pipeline {
                "a Task"
            } else {
                "a Pipeline"
            };
            format!(
                "is substituted only in {other}, so here it stays literal text; \
                 pass the value in as a param"
            )
        } else {
            "is not a context variable Tekton provides".to_string()
        };
        let available = allowed
            .iter()
            .map(|v| format!("context.{v}"))
            .collect::<Vec<_>>()
            .join(", ");
        sink.report(
            RuleId::UndefinedContextRef,
            reference.location(&site.path, site.text),
            format!(
                "$({}) {why}; a {} has {available}",
                reference.expression, scope.label
            ),
        );
    }

    pub(super) fn allowed_context(&self, site: &Site) -> Vec<&'static str> {
        let scope = &self.scopes[site.scope];
        let mut allowed = Vec::new();
        match scope.kind {
            ScopeKind::Pipeline => {
                allowed.extend(PIPELINE_CONTEXT);
                if site.feeds_task_run {
                    allowed.extend(TASK_CONTEXT);
                }
            }
            ScopeKind::Task | ScopeKind::StepAction => {
                allowed.extend(TASK_CONTEXT);
                if scope.parent.is_some() {
                    allowed.extend(PROPAGATED_PIPELINE_CONTEXT);
                }
            }
        }
        allowed
    }
}
