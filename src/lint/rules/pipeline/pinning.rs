//! pipeline-taskref-pinned: `taskRef`, `pipelineRef` and StepAction step `ref`s resolved from an
//! OCI bundle or a git repository must be pinned by digest or commit, so what runs cannot change.

use super::*;

/// A reference to something resolved remotely, as the rule sees it.
struct RemoteRef<'a> {
    resolver: Option<&'a str>,
    /// v1beta1 `taskRef.bundle` / `pipelineRef.bundle`.
    bundle: Option<&'a str>,
    params: &'a [ParamBinding],
    path: FieldPath,
    /// `pipeline task "build"`, `step "clone"`, ...
    user: String,
    /// `Task`, `Pipeline` or `StepAction`.
    what: &'static str,
}

impl<'a> RemoteRef<'a> {
    fn of(task_ref: &'a TaskRef, path: FieldPath, user: &str, what: &'static str) -> Self {
        RemoteRef {
            resolver: task_ref.resolver.as_deref(),
            bundle: task_ref.bundle.as_deref(),
            params: &task_ref.params,
            path,
            user: user.to_string(),
            what,
        }
    }

    /// The resolver param `name`: its index and, when it is a string, its value.
    fn param(&self, name: &str) -> Option<(usize, Option<&'a str>)> {
        let (j, param) = self
            .params
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == name)?;
        Some((j, param.value.as_ref().and_then(|v| v.as_str())))
    }

    fn param_value_path(&self, j: usize) -> FieldPath {
        self.path.item("params", j).field("value")
    }
}

pub(super) fn check_pinning(doc: &TektonDoc, sink: &mut Sink) {
    let spec = FieldPath::root().field("spec");
    let Some(resource) = &doc.resource else {
        return;
    };
    match resource {
        Resource::Task(task) => check_step_refs(task, &spec, "", sink),
        Resource::Pipeline(pipeline) => check_pipeline_pinning(pipeline, &spec, sink),
        Resource::TaskRun(run) => {
            if let Some(task_ref) = &run.task_ref {
                let remote = RemoteRef::of(task_ref, spec.field("taskRef"), "the TaskRun", "Task");
                check_remote(&remote, sink);
            }
            if let Some(task) = &run.task_spec {
                check_step_refs(task, &spec.field("taskSpec"), "", sink);
            }
        }
        Resource::PipelineRun(run) => {
            if let Some(pipeline_ref) = &run.pipeline_ref {
                let path = spec.field("pipelineRef");
                check_remote(
                    &RemoteRef::of(pipeline_ref, path, "the PipelineRun", "Pipeline"),
                    sink,
                );
            }
            if let Some(pipeline) = &run.pipeline_spec {
                check_pipeline_pinning(pipeline, &spec.field("pipelineSpec"), sink);
            }
        }
        Resource::StepAction(_) => {}
    }
}

fn check_pipeline_pinning(pipeline: &PipelineSpec, path: &FieldPath, sink: &mut Sink) {
    for (section, tasks) in [("tasks", &pipeline.tasks), ("finally", &pipeline.finally)] {
        for (i, task) in tasks.iter().enumerate() {
            let task_path = path.item(section, i);
            let user = format!("pipeline task {:?}", task.name);
            if let Some(task_ref) = &task.task_ref {
                let remote = RemoteRef::of(task_ref, task_path.field("taskRef"), &user, "Task");
                check_remote(&remote, sink);
            }
            if let Some(pipeline_ref) = &task.pipeline_ref {
                let path = task_path.field("pipelineRef");
                check_remote(&RemoteRef::of(pipeline_ref, path, &user, "Pipeline"), sink);
            }
            if let Some(embedded) = &task.task_spec {
                let of = format!(" of {user}");
                check_step_refs(&embedded.spec, &task_path.field("taskSpec"), &of, sink);
            }
        }
    }
}

/// StepAction `ref`s of the steps of `task`; `of` names the pipeline task of an inline taskSpec.
fn check_step_refs(task: &TaskSpec, path: &FieldPath, of: &str, sink: &mut Sink) {
    for (i, step) in task.steps.iter().enumerate() {
        let Some(step_ref) = &step.ref_ else { continue };
        let user = match &step.container.name {
            Some(name) => format!("step {name:?}{of}"),
            None => format!("step {}{of}", i + 1),
        };
        let remote = RemoteRef {
            resolver: step_ref.resolver.as_deref(),
            bundle: None,
            params: &step_ref.params,
            path: path.item("steps", i).field("ref"),
            user,
            what: "StepAction",
        };
        check_remote(&remote, sink);
    }
}

fn check_remote(remote: &RemoteRef, sink: &mut Sink) {
    if let Some(bundle) = remote.bundle {
        check_bundle(remote, bundle, remote.path.field("bundle"), sink);
    }
    match remote.resolver {
        Some("bundles") => {
            if let Some((j, Some(bundle))) = remote.param("bundle") {
                check_bundle(remote, bundle, remote.param_value_path(j), sink);
            }
        }
        Some("git") => check_git_revision(remote, sink),
        _ => {}
    }
}

/// An OCI bundle reference must carry a digest (one set through `$(params...)` is checked where
/// the value is given).
fn check_bundle(remote: &RemoteRef, image: &str, path: FieldPath, sink: &mut Sink) {
    if image.contains("$(") || is_digest_pinned(image) {
        return;
    }
    let message = format!(
        "{} takes its {} from bundle {image:?} without a digest; pin it as <image>@sha256:<digest>",
        remote.user, remote.what
    );
    sink.report(PINNED, Location::Field(path), message);
}

/// The git resolver's `revision` must be a commit: without one it takes the default branch.
fn check_git_revision(remote: &RemoteRef, sink: &mut Sink) {
    let (user, what) = (&remote.user, remote.what);
    match remote.param("revision") {
        None => {
            let message = format!(
                "{user} takes its {what} from git without a revision (the default branch); set param revision to a commit sha"
            );
            sink.report(
                PINNED,
                Location::Field(remote.path.field("resolver")),
                message,
            );
        }
        Some((j, Some(revision))) if !revision.contains("$(") && !is_commit_sha(revision) => {
            let message = format!(
                "{user} takes its {what} from git revision {revision:?}, a branch or tag that can move; pin revision to a full commit sha"
            );
            sink.report(PINNED, Location::Field(remote.param_value_path(j)), message);
        }
        Some(_) => {}
    }
}

fn is_digest_pinned(image: &str) -> bool {
    image
        .split_once("@sha256:")
        .is_some_and(|(_, hex)| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A full SHA-1 or SHA-256 git object name.
fn is_commit_sha(revision: &str) -> bool {
    matches!(revision.len(), 40 | 64) && revision.bytes().all(|b| b.is_ascii_hexdigit())
}
