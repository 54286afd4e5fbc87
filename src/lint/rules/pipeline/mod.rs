//! Pipeline rules.
//!
//! `pipeline-refs`: what Tekton's Pipeline webhook and its TaskRun reconciler reject about the task
//! graph of a Pipeline (or a PipelineRun's inline `pipelineSpec`): task names, `runAfter`, cycles,
//! `$(tasks.X.results.Y)` / `$(tasks.X.status)` / `$(finally.X.results.Y)` references, finally-task
//! rules, pipeline results, and — when the Task body is known (an inline `taskSpec`, or a `taskRef`
//! to a Task among the linted files) — the params and workspaces a pipeline task must pass.
//!
//! `pipeline-taskref-pinned`: `taskRef`, `pipelineRef` and StepAction step `ref`s resolved from an
//! OCI bundle or a git repository must be pinned by digest or commit, so what runs cannot change.

use std::collections::BTreeSet;

use super::RuleId;
use super::{Check, Sink};
use crate::core::plural::plural;

mod graph;
mod inputs;
mod pinning;
mod results;

use crate::lint::finding::{FieldPath, Location, Severity};
use crate::lint::TektonDoc;
use crate::tekton::expr::{self, Reference};
use crate::tekton::model::{
    Kind, ParamBinding, PipelineSpec, PipelineTask, Resource, ResultSpec, TaskRef, TaskSpec,
};
use crate::tekton::yaml::Node;
use inputs::*;
use pinning::check_pinning;

const REFS: RuleId = RuleId::PipelineRefs;
const PINNED: RuleId = RuleId::PipelineTaskrefPinned;

pub fn check(check: &Check, sink: &mut Sink) {
    if sink.enabled(REFS) {
        if let Some(pipeline) = Pipeline::of(check.doc) {
            Graph::new(check, &pipeline).check(sink);
        }
    }
    if sink.enabled(PINNED) {
        check_pinning(check.doc, sink);
    }
}

// ---------------------------------------------------------------------------------------------
// pipeline-refs
// ---------------------------------------------------------------------------------------------

/// A pipeline body and where it sits: a Pipeline's `spec` or a PipelineRun's `spec.pipelineSpec`.
struct Pipeline<'a> {
    spec: &'a PipelineSpec,
    node: &'a Node,
    path: FieldPath,
    /// Params Tekton propagates into inline taskSpecs: the pipeline's, and a PipelineRun's own.
    params: BTreeSet<&'a str>,
    /// Workspaces pipeline tasks may bind (and that propagate into inline taskSpecs): the
    /// pipeline's, and a PipelineRun's own.
    workspaces: BTreeSet<&'a str>,
}

impl<'a> Pipeline<'a> {
    fn of(doc: &'a TektonDoc) -> Option<Pipeline<'a>> {
        let spec_node = doc.root.get("spec")?;
        let path = FieldPath::root().field("spec");
        match doc.resource.as_ref()? {
            Resource::Pipeline(spec) => Some(Pipeline::new(spec, spec_node, path)),
            Resource::PipelineRun(run) => {
                let mut pipeline = Pipeline::new(
                    run.pipeline_spec.as_ref()?,
                    spec_node.get("pipelineSpec")?,
                    path.field("pipelineSpec"),
                );
                pipeline
                    .params
                    .extend(run.params.iter().map(|p| p.name.as_str()));
                let run_workspaces = run
                    .workspaces
                    .iter()
                    .filter_map(|w| w.get("name")?.as_str());
                pipeline.workspaces.extend(run_workspaces);
                Some(pipeline)
            }
            _ => None,
        }
    }

    fn new(spec: &'a PipelineSpec, node: &'a Node, path: FieldPath) -> Pipeline<'a> {
        Pipeline {
            spec,
            node,
            path,
            params: spec.params.iter().map(|p| p.name.as_str()).collect(),
            workspaces: spec.workspaces.iter().map(|w| w.name.as_str()).collect(),
        }
    }
}

/// A Task body a pipeline task runs, when the linter can see it.
struct Body<'a> {
    spec: &'a TaskSpec,
    /// The inline `taskSpec` node; None for a referenced Task.
    inline: Option<&'a Node>,
    /// `its taskSpec` or `Task "name"`, for messages.
    describe: String,
}

/// One pipeline task (of `tasks` or `finally`) with what the checks need to know about it.
struct Entry<'a> {
    task: &'a PipelineTask,
    node: Option<&'a Node>,
    path: FieldPath,
    finally: bool,
    body: Option<Body<'a>>,
}

impl Entry<'_> {
    /// `pipeline task "x"` or `finally task "x"`.
    fn label(&self) -> String {
        let kind = if self.finally {
            "finally task"
        } else {
            "pipeline task"
        };
        format!("{kind} {:?}", self.task.name)
    }
}

/// A `$(tasks...)` or `$(finally...)` variable, by what it names.
enum Var<'r> {
    /// `$(tasks.status)`.
    AggregateStatus,
    /// `$(tasks.X.status)` or `$(tasks.X.reason)`.
    Status { task: &'r str, field: &'r str },
    /// `$(tasks.X.results.Y...)`: `result` is `Y` and any key after it.
    Result { task: &'r str, result: &'r [String] },
    /// `$(tasks.X.matrix.length)` and the like.
    Matrix { task: &'r str },
    /// `$(finally.X.results.Y...)`.
    FinallyResult { task: &'r str, result: &'r [String] },
}

impl<'r> Var<'r> {
    fn of(reference: &'r Reference) -> Option<Var<'r>> {
        let segments = &reference.segments;
        let at = |i: usize| segments.get(i).map(String::as_str);
        match (at(0)?, at(1)?, at(2)) {
            ("tasks", "status", None) => Some(Var::AggregateStatus),
            ("tasks", task, Some(field @ ("status" | "reason"))) if segments.len() == 3 => {
                Some(Var::Status { task, field })
            }
            ("tasks", task, Some("results")) if segments.len() > 3 => Some(Var::Result {
                task,
                result: &segments[3..],
            }),
            ("tasks", task, Some("matrix")) => Some(Var::Matrix { task }),
            ("finally", task, Some("results")) if segments.len() > 3 => Some(Var::FinallyResult {
                task,
                result: &segments[3..],
            }),
            _ => None,
        }
    }
}

/// A `$(tasks...)`/`$(finally...)` variable found in a string, with where it is.
struct Found<'a> {
    reference: Reference,
    path: FieldPath,
    text: &'a str,
}

impl Found<'_> {
    fn location(&self) -> Location {
        self.reference.location(&self.path, self.text)
    }

    fn var(&self) -> Option<Var<'_>> {
        Var::of(&self.reference)
    }
}

/// Every `$(tasks...)` and `$(finally...)` variable under `node`, not descending into `skip` keys.
fn task_variables<'a>(node: &'a Node, path: &FieldPath, skip: &[&str]) -> Vec<Found<'a>> {
    let mut found = Vec::new();
    for (key, value) in node.as_map().unwrap_or_default() {
        let Some(key) = key.as_str().filter(|k| !skip.contains(k)) else {
            continue;
        };
        expr::walk_strings(value, &path.field(key), &mut |path, _, text| {
            let references = expr::references(text)
                .into_iter()
                .filter(|r| matches!(r.root(), "tasks" | "finally"));
            found.extend(references.map(|reference| Found {
                reference,
                path: path.clone(),
                text,
            }));
        });
    }
    found
}

/// A dependency edge of the task graph: the task index depended on, and where it is written.
type Edge = (usize, Location);

/// The pipeline's tasks and finally tasks, and the dependency edges between tasks.
struct Graph<'a> {
    pipeline: &'a Pipeline<'a>,
    entries: Vec<Entry<'a>>,
    /// Per entry of `spec.tasks`: the tasks it runs after or takes results from.
    edges: Vec<Vec<Edge>>,
}

/// The Task body a pipeline task runs: its inline taskSpec, or the Task its taskRef names when
/// that Task is among the linted files. None for custom tasks, remote refs and pipelines in pipelines.
fn task_body<'a>(
    check: &Check<'a>,
    task: &'a PipelineTask,
    node: Option<&'a Node>,
) -> Option<Body<'a>> {
    if let Some(embedded) = &task.task_spec {
        let inline = node?.get("taskSpec")?;
        let custom = ["apiVersion", "kind", "spec"]
            .iter()
            .any(|k| inline.get(k).is_some());
        return (!custom).then(|| Body {
            spec: &embedded.spec,
            inline: Some(inline),
            describe: "its taskSpec".into(),
        });
    }
    let reference = task.task_ref.as_ref()?;
    // A `version` is not Tekton's: a build step turns such templates into bundle references.
    let templated = node?.get("taskRef")?.get("version").is_some();
    let local = !templated
        && reference.resolver.is_none()
        && reference.bundle.is_none()
        && reference.api_version.is_none()
        && reference.kind.as_deref().is_none_or(|k| k == "Task");
    let name = reference
        .name
        .as_deref()
        .filter(|n| local && !n.contains("$("))?;
    let spec = corpus_task(check, name)?;
    Some(Body {
        spec,
        inline: None,
        describe: format!("Task {name:?}"),
    })
}

/// The Task named `name` among the linted files, when one is clearly the one meant: in the same
/// file, else in the same directory, else in the nearest ancestor directory (a catalog's
/// `task/x/0.1/tests/run.yaml` runs `task/x/0.1/x.yaml`), else in a direct subdirectory
/// (`.tekton/tasks/`). None when no Task is that near, or two are equally near.
fn corpus_task<'a>(check: &Check<'a>, name: &'a str) -> Option<&'a TaskSpec> {
    let mut candidates: Vec<(usize, &'a TaskSpec)> = check
        .corpus
        .find(Kind::Task, name)
        .filter(|doc| doc.raw_kind == "Task")
        .filter_map(|doc| match &doc.resource {
            Some(Resource::Task(spec)) => Some((nearness(check, doc)?, spec)),
            _ => None,
        })
        .collect();
    let nearest = candidates.iter().map(|(n, _)| *n).max()?;
    candidates.retain(|(n, _)| *n == nearest);
    match candidates.as_slice() {
        [(_, spec)] => Some(spec),
        _ => None,
    }
}

/// How near `doc` is to the document being checked (higher is nearer); None when unrelated.
fn nearness(check: &Check, doc: &TektonDoc) -> Option<usize> {
    if doc.file == check.doc.file {
        return Some(usize::MAX);
    }
    let here: Vec<_> = check.file.path.parent()?.components().collect();
    let there: Vec<_> = check.corpus.file(doc).path.parent()?.components().collect();
    let ancestor = there.len() <= here.len() && here.starts_with(&there);
    let child = there.len() == here.len() + 1 && there.starts_with(&here);
    match (ancestor, child) {
        // The same directory (distance 0) first, then the nearest ancestor.
        (true, _) => Some(usize::MAX - 1 - (here.len() - there.len())),
        (_, true) => Some(0),
        _ => None,
    }
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
