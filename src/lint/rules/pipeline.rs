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
use crate::lint::finding::{FieldPath, Location, Severity};
use crate::lint::TektonDoc;
use crate::tekton::expr::{self, Reference};
use crate::tekton::model::{
    Kind, ParamBinding, PipelineSpec, PipelineTask, Resource, ResultSpec, TaskRef, TaskSpec,
};
use crate::tekton::yaml::Node;

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

impl<'a> Graph<'a> {
    fn new(check: &Check<'a>, pipeline: &'a Pipeline<'a>) -> Graph<'a> {
        let mut entries = Vec::new();
        for (section, tasks, finally) in [
            ("tasks", &pipeline.spec.tasks, false),
            ("finally", &pipeline.spec.finally, true),
        ] {
            let nodes = pipeline
                .node
                .get(section)
                .and_then(Node::as_seq)
                .unwrap_or_default();
            for (i, task) in tasks.iter().enumerate() {
                let node = nodes.get(i);
                let body = task_body(check, task, node);
                entries.push(Entry {
                    task,
                    node,
                    path: pipeline.path.item(section, i),
                    finally,
                    body,
                });
            }
        }
        let edges = vec![Vec::new(); pipeline.spec.tasks.len()];
        Graph {
            pipeline,
            entries,
            edges,
        }
    }

    fn check(mut self, sink: &mut Sink) {
        self.check_names(sink);
        self.check_finally_section(sink);
        for i in 0..self.entries.len() {
            self.check_run_after(i, sink);
            self.check_task_variables(i, sink);
            self.check_on_error(&self.entries[i], sink);
            check_pipeline_workspaces(self.pipeline, &self.entries[i], sink);
            if let Some(body) = &self.entries[i].body {
                check_params(self.pipeline, &self.entries[i], body, sink);
                check_task_workspaces(self.pipeline, &self.entries[i], body, sink);
            }
        }
        self.check_pipeline_results(sink);
        self.report_cycles(sink);
    }

    fn find(&self, name: &str) -> Option<(usize, &Entry<'a>)> {
        self.entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.task.name == name)
    }

    fn check_names(&self, sink: &mut Sink) {
        let mut seen = BTreeSet::new();
        for entry in &self.entries {
            let name = entry.task.name.as_str();
            let at = Location::Field(entry.path.field("name"));
            if !is_dns1123_label(name) {
                let message = format!(
                    "{} is not a valid name; use lowercase letters, digits and '-' (at most 63, starting and ending with a letter or digit)",
                    entry.label()
                );
                sink.report(REFS, at, message);
            } else if !seen.insert(name) {
                let message = format!(
                    "{} is declared twice (tasks and finally share one namespace); rename one",
                    entry.label()
                );
                sink.report(REFS, at, message);
            }
        }
    }

    fn check_finally_section(&self, sink: &mut Sink) {
        let spec = self.pipeline.spec;
        if spec.tasks.is_empty() && !spec.finally.is_empty() {
            let message = "the pipeline has finally tasks but no tasks; Tekton rejects it: add tasks or move these into spec.tasks";
            sink.report(
                REFS,
                Location::Key(self.pipeline.path.field("finally")),
                message,
            );
        }
    }

    fn check_run_after(&mut self, i: usize, sink: &mut Sink) {
        let entry = &self.entries[i];
        if entry.finally {
            if !entry.task.run_after.is_empty() {
                let message = format!(
                    "{} has runAfter; finally tasks always run after every task, remove runAfter",
                    entry.label()
                );
                sink.report(REFS, Location::Key(entry.path.field("runAfter")), message);
            }
            return;
        }
        let mut edges = Vec::new();
        for (j, target) in entry.task.run_after.iter().enumerate() {
            let at = Location::Field(entry.path.item("runAfter", j));
            match self.find(target) {
                Some((index, target)) if !target.finally => edges.push((index, at)),
                Some(_) => {
                    let message = format!(
                        "{} runs after {target:?}, a finally task (finally tasks run last); remove it from runAfter",
                        entry.label()
                    );
                    sink.report(REFS, at, message);
                }
                None => {
                    let message = format!(
                        "{} runs after {target:?}, which is not a task of this pipeline; fix the name or remove it from runAfter",
                        entry.label()
                    );
                    sink.report(REFS, at, message);
                }
            }
        }
        self.add_edges(i, edges);
    }

    /// `$(tasks...)` and `$(finally...)` in a pipeline task's params, when expressions, matrix,
    /// workspaces and ref: where each may be used, and that what it names exists.
    fn check_task_variables(&mut self, i: usize, sink: &mut Sink) {
        let entry = &self.entries[i];
        let Some(node) = entry.node else { return };
        let mut edges = Vec::new();
        for found in task_variables(node, &entry.path, &["taskSpec", "pipelineSpec"]) {
            let Some(var) = found.var() else { continue };
            let at = found.location();
            let expression = &found.reference.expression;
            match var {
                Var::AggregateStatus if !entry.finally => {
                    let message = format!(
                        "{} reads $({expression}); the aggregate status is only available in finally tasks, move this task to finally",
                        entry.label()
                    );
                    sink.report(REFS, at, message);
                }
                Var::AggregateStatus => {}
                Var::Status { field, .. } if !entry.finally => {
                    let message = format!(
                        "{} reads $({expression}); a task's {field} is only available in finally tasks, move this task to finally",
                        entry.label()
                    );
                    sink.report(REFS, at, message);
                }
                Var::Status { task, field } => match self.find(task) {
                    Some((_, target)) if !target.finally => {}
                    _ => {
                        let message = format!(
                            "{} reads the {field} of {task:?}, which is not a task in spec.tasks; fix the name in $({expression})",
                            entry.label()
                        );
                        sink.report(REFS, at, message);
                    }
                },
                Var::Result { task, result } => {
                    if let Some(index) =
                        self.check_task_result(entry, task, result, expression, at.clone(), sink)
                    {
                        edges.push((index, at));
                    }
                }
                Var::Matrix { task } => match self.find(task) {
                    Some((index, target)) if !target.finally => edges.push((index, at)),
                    _ => {
                        let message = format!(
                            "{} uses $({expression}), but {task:?} is not a task in spec.tasks; fix the name",
                            entry.label()
                        );
                        sink.report(REFS, at, message);
                    }
                },
                Var::FinallyResult { .. } => {
                    let message = format!(
                        "{} uses $({expression}); finally task results are only available to pipeline results",
                        entry.label()
                    );
                    sink.report(REFS, at, message);
                }
            }
        }
        if !entry.finally {
            self.add_edges(i, edges);
        }
    }

    /// Adds dependencies of task `from`, keeping the first place each target is named (a task
    /// may both run after another and use its result).
    fn add_edges(&mut self, from: usize, edges: Vec<Edge>) {
        for (to, at) in edges {
            if !self.edges[from].iter().any(|(known, _)| *known == to) {
                self.edges[from].push((to, at));
            }
        }
    }

    /// A `$(tasks.X.results.Y)` in a pipeline task: X must be a task of spec.tasks (finally task
    /// results reach only pipeline results) and declare Y. Returns X's index, a graph edge.
    fn check_task_result(
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

    fn check_on_error(&self, entry: &Entry, sink: &mut Sink) {
        let retries = entry
            .task
            .retries
            .as_ref()
            .and_then(|r| r.as_u64().or_else(|| r.as_str()?.parse().ok()));
        if entry.task.on_error.as_deref() == Some("continue") && retries.is_some_and(|r| r > 0) {
            let message = format!(
                "{} sets onError: continue with retries; Tekton rejects the combination, drop retries or onError",
                entry.label()
            );
            sink.report(REFS, Location::Field(entry.path.field("onError")), message);
        }
    }

    /// Pipeline results take their value from task results only: `$(tasks.X.results.Y)` for
    /// tasks, `$(finally.X.results.Y)` for finally tasks.
    fn check_pipeline_results(&self, sink: &mut Sink) {
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
    fn check_pipeline_result_variable(&self, user: &str, found: &Found, sink: &mut Sink) -> bool {
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

    /// Each cycle of the task graph once, at the dependency that closes it.
    fn report_cycles(&self, sink: &mut Sink) {
        for (cycle, at) in find_cycles(&self.edges) {
            let mut names: Vec<&str> = cycle
                .iter()
                .map(|&i| self.entries[i].task.name.as_str())
                .collect();
            names.push(names[0]);
            let closing = &self.entries[*cycle.last().expect("a cycle has a task")];
            let message = format!(
                "{} closes a dependency cycle: {} (-> runs after or uses a result of); remove one of these dependencies",
                closing.label(),
                names.join(" -> ")
            );
            sink.report(REFS, at, message);
        }
    }
}

/// Cycles of a graph given as adjacency lists (at most one edge per pair of tasks), each as the
/// task indices in dependency order with the location of the edge that closes it. A depth-first
/// search meets at least one cycle wherever there is one, each at its one edge back onto the path.
fn find_cycles(edges: &[Vec<Edge>]) -> Vec<(Vec<usize>, Location)> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    struct Search<'e> {
        edges: &'e [Vec<Edge>],
        state: Vec<State>,
        path: Vec<usize>,
        found: Vec<(Vec<usize>, Location)>,
    }
    impl Search<'_> {
        fn visit(&mut self, from: usize) {
            self.state[from] = State::OnPath;
            self.path.push(from);
            for (to, at) in &self.edges[from] {
                match self.state[*to] {
                    State::New => self.visit(*to),
                    State::OnPath => {
                        let start = self.path.iter().position(|t| t == to).expect("on the path");
                        self.found.push((self.path[start..].to_vec(), at.clone()));
                    }
                    State::Done => {}
                }
            }
            self.path.pop();
            self.state[from] = State::Done;
        }
    }
    let mut search = Search {
        edges,
        state: vec![State::New; edges.len()],
        path: Vec::new(),
        found: Vec::new(),
    };
    for start in 0..edges.len() {
        if search.state[start] == State::New {
            search.visit(start);
        }
    }
    search.found
}

/// `Y` (and an object key after it) must be a result the target's Task declares, when its body
/// is known.
fn check_result_declared(
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
fn declared_result<'s>(results: &'s [ResultSpec], result: &[String]) -> Option<&'s ResultSpec> {
    let dotted = result.join(".");
    results
        .iter()
        .find(|r| r.name == result[0])
        .or_else(|| results.iter().find(|r| r.name == dotted))
}

/// Required params of the Task are passed, and passed params are ones the Task declares.
fn check_params(pipeline: &Pipeline, entry: &Entry, body: &Body, sink: &mut Sink) {
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
            if missing.len() == 1 { "it" } else { "them" }
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
fn uses_param(task_spec: &Node, name: &str) -> bool {
    let mut used = false;
    expr::walk_strings(task_spec, &FieldPath::root(), &mut |_, _, text| {
        used |= expr::references(text)
            .iter()
            .any(|r| r.root() == "params" && r.segment(1) == Some(name));
    });
    used
}

/// Required Task workspaces are bound, and bindings name workspaces the Task declares.
fn check_task_workspaces(pipeline: &Pipeline, entry: &Entry, body: &Body, sink: &mut Sink) {
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
            if missing.len() == 1 { "it" } else { "them" }
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
fn check_pipeline_workspaces(pipeline: &Pipeline, entry: &Entry, sink: &mut Sink) {
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

/// Kubernetes' DNS-1123 label: what Tekton requires of pipeline task names.
fn is_dns1123_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(allowed)
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn plural<'s>(n: usize, one: &'s str, many: &'s str) -> &'s str {
    if n == 1 {
        one
    } else {
        many
    }
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// pipeline-taskref-pinned
// ---------------------------------------------------------------------------------------------

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

fn check_pinning(doc: &TektonDoc, sink: &mut Sink) {
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

#[cfg(test)]
mod tests {
    use crate::lint::finding::{Finding, Severity};
    use crate::lint::{Config, Profile, SourceFile};

    fn lint_files(files: &[(&str, &str)], profile: Profile) -> Vec<Finding> {
        let mut config = Config::default();
        config.options.profile = profile;
        let files = files
            .iter()
            .map(|(path, text)| SourceFile::parse(path.into(), text.to_string()))
            .collect();
        crate::lint::lint_files(files, &config).findings
    }

    /// (line, message) of the findings of `rule`.
    fn hits(yaml: &str, rule: &str) -> Vec<(usize, String)> {
        hits_in(&[("t.yaml", yaml)], rule)
    }

    fn hits_in(files: &[(&str, &str)], rule: &str) -> Vec<(usize, String)> {
        lint_files(files, Profile::Core)
            .into_iter()
            .filter(|f| f.rule == rule)
            .map(|f| (f.line, f.message))
            .collect()
    }

    fn refs(yaml: &str) -> Vec<(usize, String)> {
        hits(yaml, "pipeline-refs")
    }

    /// Asserts that one of `found` is on `line` with a message containing `needle`.
    fn assert_found(found: &[(usize, String)], line: usize, needle: &str) {
        assert!(
            found.iter().any(|(l, m)| *l == line && m.contains(needle)),
            "no finding on line {line} containing {needle:?}: {found:?}"
        );
    }

    const TASK_A: &str = "
    - name: a
      taskSpec:
        results:
          - name: digest
          - name: obj
            type: object
            properties:
              url: {type: string}
          - name: list
            type: array
        steps:
          - name: s
            image: registry.io/x@sha256:0000000000000000000000000000000000000000000000000000000000000000
            script: echo";

    fn pipeline(tasks: &str) -> String {
        format!("apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n  tasks:{TASK_A}{tasks}\n")
    }

    const STEPS: &str = "
        steps:
          - name: s
            image: registry.io/x:1
            script: echo";

    #[test]
    fn a_cycle_is_reported_once_with_its_path_at_the_closing_dependency() {
        let yaml = pipeline(&format!(
            "
    - name: b
      runAfter: [c]
      taskSpec:
        results: [{{name: r}}]{STEPS}
    - name: c
      params:
        - name: x
          value: $(tasks.b.results.r)
      taskSpec:
        params:
          - name: x{STEPS}"
        ));
        let found = refs(&yaml);
        let cycles: Vec<_> = found.iter().filter(|(_, m)| m.contains("cycle")).collect();
        assert_eq!(cycles.len(), 1, "{found:?}");
        assert!(cycles[0].1.contains("b -> c -> b"), "{found:?}");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(cycles[0].0, 32, "{found:?}");
    }

    #[test]
    fn a_task_that_both_runs_after_and_uses_a_result_of_another_closes_one_cycle() {
        let yaml = pipeline(&format!(
            "
    - name: b
      runAfter: [c]
      taskSpec:
        results: [{{name: r}}]{STEPS}
    - name: c
      runAfter: [b]
      params:
        - name: x
          value: $(tasks.b.results.r)
      taskSpec:
        params:
          - name: x{STEPS}"
        ));
        let found = refs(&yaml);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 30, "{found:?}");
    }

    #[test]
    fn a_pipeline_result_names_finally_tasks_through_finally() {
        let yaml = format!(
            "{}  finally:
    - name: f
      taskSpec:
        results: [{{name: x}}]{STEPS}
  results:
    - name: wrong-root
      value: $(tasks.f.results.x)
    - name: also-wrong
      value: $(finally.a.results.digest)
    - name: constant
      value: done
",
            pipeline("")
        );
        let found = refs(&yaml);
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [31, 33, 35], "{found:?}");
        assert!(
            found[0].1.contains("write $(finally.f.results.x) instead"),
            "{found:?}"
        );
        assert!(
            found[1]
                .1
                .contains("write $(tasks.a.results.digest) instead"),
            "{found:?}"
        );
        assert!(found[2].1.contains("takes no task result"), "{found:?}");
    }

    #[test]
    fn a_task_that_runs_after_itself_is_a_cycle() {
        let found = refs(&pipeline(&format!(
            "\n    - name: b\n      runAfter: [b]\n      taskSpec:{STEPS}"
        )));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("b -> b"), "{found:?}");
    }

    #[test]
    fn run_after_names_a_task_not_a_finally_task_and_finally_has_none() {
        let yaml = format!(
            "{}  finally:
    - name: f
      runAfter: [a]
      taskSpec:{STEPS}
",
            pipeline(&format!(
                "\n    - name: b\n      runAfter: [nope, f, a]\n      taskSpec:{STEPS}"
            ))
        );
        let found = refs(&yaml);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_found(&found, 22, "\"nope\", which is not a task");
        assert_found(&found, 22, "\"f\", a finally task");
        assert_found(&found, 30, "finally task \"f\" has runAfter");
    }

    #[test]
    fn result_references_name_a_task_and_a_declared_result() {
        let yaml = pipeline(&format!(
            "
    - name: b
      params:
        - name: ok
          value: $(tasks.a.results.digest) $(tasks.a.results.obj.url) $(tasks.a.results.list[*])
        - name: typo
          value: x-$(tasks.a.results.digset)
        - name: key
          value: $(tasks.a.results.obj.uri)
        - name: ghost
          value: $(tasks.ghost.results.x)
      taskSpec:
        params: [{{name: ok}}, {{name: typo}}, {{name: key}}, {{name: ghost}}]{STEPS}"
        ));
        let found = refs(&yaml);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_found(&found, 26, "result \"digset\" of \"a\"");
        assert!(
            found[0].1.contains("it declares digest, obj, list"),
            "{found:?}"
        );
        assert_found(&found, 28, "key \"uri\"");
        assert_found(&found, 30, "\"ghost\", which is not a task");
    }

    #[test]
    fn execution_status_is_for_finally_tasks_and_results_for_pipeline_results() {
        let yaml = format!(
            "{}  finally:
    - name: f
      params:
        - name: all
          value: $(tasks.status)
        - name: one
          value: $(tasks.a.status) $(tasks.a.reason) $(tasks.a.results.digest)
        - name: bad
          value: $(tasks.nope.status)
      taskSpec:
        params: [{{name: all}}, {{name: one}}, {{name: bad}}]
        results: [{{name: x}}]{STEPS}
  results:
    - name: ok
      value: $(tasks.a.results.digest)
    - name: from-finally
      value: $(finally.f.results.x)
    - name: status
      value: $(tasks.status)
",
            pipeline(&format!(
                "
    - name: b
      when:
        - input: $(tasks.a.status)
          operator: in
          values: [Succeeded]
      taskSpec:{STEPS}"
            ))
        );
        let found = refs(&yaml);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_found(&found, 23, "only available in finally");
        assert_found(&found, 39, "\"nope\", which is not a task");
        assert_found(&found, 53, "can only take task results");
    }

    const REFERENCED: &str = "---
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: build
spec:
  params:
    - name: IMAGE
    - name: CONTEXT
      default: .
  workspaces:
    - name: source
    - name: cache
      optional: true
  steps:
    - name: build
      image: registry.io/x:1
      script: echo $(params.IMAGE)
";

    fn referencing(params: &str, workspaces: &str) -> String {
        format!(
            "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  workspaces:
    - name: shared
  tasks:
    - name: build
      taskRef:
        name: build
      params:{params}
      workspaces:{workspaces}
{REFERENCED}"
        )
    }

    #[test]
    fn a_referenced_task_gets_its_required_params_and_workspaces() {
        let found = refs(&referencing(" []", " []"));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found
                .iter()
                .any(|(l, m)| *l == 12
                    && m.contains("param \"IMAGE\", which Task \"build\" requires"))
        );
        assert_found(&found, 13, "workspace \"source\"");
        let good = referencing(
            "\n        - name: IMAGE\n          value: x",
            "\n        - name: source\n          workspace: shared",
        );
        assert!(refs(&good).is_empty(), "{:?}", refs(&good));
    }

    #[test]
    fn extra_params_and_workspaces_for_a_referenced_task_are_reported() {
        let yaml = referencing(
            "\n        - name: IMAGE\n          value: x\n        - name: IMAGES\n          value: y",
            "\n        - name: source\n          workspace: shared\n        - name: output\n          workspace: shared",
        );
        let found = refs(&yaml);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_found(&found, 15, "passes param \"IMAGES\"");
        assert_found(&found, 20, "binds workspace \"output\"");
    }

    #[test]
    fn matrix_params_supply_required_params() {
        let yaml = referencing(
            "\n        - name: CONTEXT\n          value: x\n      matrix:\n        params:\n          - name: IMAGE\n            value: [a, b]",
            "\n        - name: source\n          workspace: shared",
        );
        assert!(refs(&yaml).is_empty(), "{:?}", refs(&yaml));
    }

    #[test]
    fn the_nearest_task_of_a_name_is_used_and_ambiguity_skips() {
        let pipeline = referencing(
            " []",
            "\n        - name: source\n          workspace: shared",
        );
        let pipeline = pipeline.split("---").next().unwrap();
        let task = REFERENCED.trim_start_matches("---\n");
        let other = task.replace("- name: IMAGE\n", "- name: IMAGE\n      default: x\n");
        let files = [
            ("task/build/0.2/tests/run.yaml", pipeline),
            ("task/build/0.2/build.yaml", task),
            ("task/build/0.1/build.yaml", &other),
        ];
        let found = hits_in(&files, "pipeline-refs");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("\"IMAGE\""), "{found:?}");
        let files = [
            ("run.yaml", pipeline),
            ("a/build.yaml", task),
            ("b/build.yaml", &other),
        ];
        assert!(hits_in(&files, "pipeline-refs").is_empty());
        // A Task of the same name elsewhere in the tree (a test fixture, say) is not the one meant.
        let files = [
            ("pipelines/ci/ci.yaml", pipeline),
            ("generator/golden/build.yaml", task),
        ];
        assert!(hits_in(&files, "pipeline-refs").is_empty());
        let files = [("ci.yaml", pipeline), (".tekton/tasks/build.yaml", task)];
        assert!(hits_in(&files, "pipeline-refs").is_empty());
        let files = [
            (".tekton/ci.yaml", pipeline),
            (".tekton/tasks/build.yaml", task),
        ];
        assert_eq!(hits_in(&files, "pipeline-refs").len(), 1);
    }

    #[test]
    fn a_templated_task_ref_with_a_version_is_not_resolved_locally() {
        let yaml = referencing(" []", " []").replace(
            "        name: build\n      params",
            "        name: build\n        version: \"0.1\"\n      params",
        );
        assert!(yaml.contains("version: \"0.1\""));
        assert!(refs(&yaml).is_empty(), "{:?}", refs(&yaml));
    }

    #[test]
    fn an_extra_param_is_a_warning_because_tekton_ignores_it() {
        let yaml = referencing(
            "\n        - name: IMAGE\n          value: x\n        - name: IMAGES\n          value: y",
            "\n        - name: source\n          workspace: shared",
        );
        let findings = lint_files(&[("t.yaml", &yaml)], Profile::Core);
        let hit: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "pipeline-refs")
            .collect();
        assert_eq!(hit.len(), 1, "{hit:?}");
        assert_eq!(hit[0].severity, Severity::Warning);
    }

    #[test]
    fn inline_task_specs_get_pipeline_params_and_workspaces_propagated() {
        let yaml = "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  params:
    - name: url
  workspaces:
    - name: src
  tasks:
    - name: clone
      params:
        - name: extra
          value: $(params.url)
      taskSpec:
        params:
          - name: url
          - name: revision
        workspaces:
          - name: src
          - name: out
        steps:
          - name: s
            image: registry.io/x:1
            script: echo
";
        let found = refs(yaml);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found
                .iter()
                .any(|(l, m)| *l == 12 && m.contains("\"revision\"") && !m.contains("\"url\"")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|(_, m)| m.contains("workspace \"out\"") && !m.contains("\"src\"")),
            "{found:?}"
        );
        assert_found(&found, 13, "passes param \"extra\"");
        let used = yaml.replace("script: echo", "script: echo $(params.extra)");
        assert_eq!(refs(&used).len(), 2, "{:?}", refs(&used));
    }

    #[test]
    fn a_pipeline_run_propagates_its_own_params_and_workspaces() {
        let yaml = "apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: r-
spec:
  params:
    - name: message
      value: hi
  workspaces:
    - name: data
      emptyDir: {}
  pipelineSpec:
    tasks:
      - name: echo
        workspaces:
          - name: data
        taskSpec:
          params:
            - name: message
          workspaces:
            - name: data
          steps:
            - name: s
              image: registry.io/x:1
              script: echo
      - name: after
        runAfter: [ech0]
        taskSpec:
          steps:
            - name: s
              image: registry.io/x:1
              script: echo
";
        let found = refs(yaml);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 27, "{found:?}");
    }

    #[test]
    fn names_on_error_finally_and_pipeline_workspaces() {
        let yaml = "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  tasks:
    - name: Build
      onError: continue
      retries: 2
      workspaces:
        - name: src
          workspace: source
      taskSpec:
        workspaces:
          - name: src
        steps:
          - name: s
            image: registry.io/x:1
            script: echo
    - name: Build
      taskSpec:
        steps:
          - name: s
            image: registry.io/x:1
            script: echo
";
        let found = refs(yaml);
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [7, 8, 12, 20], "{found:?}");
        assert!(
            found[1].1.contains("onError: continue with retries"),
            "{found:?}"
        );
        assert!(
            found[2].1.contains("pipeline workspace \"source\""),
            "{found:?}"
        );

        let only_finally = "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  finally:
    - name: f
      taskSpec:
        steps:
          - name: s
            image: registry.io/x:1
            script: echo
";
        let found = refs(only_finally);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 6);
    }

    #[test]
    fn remote_custom_and_unknown_tasks_are_not_second_guessed() {
        let yaml = "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  tasks:
    - name: remote
      taskRef:
        resolver: bundles
        params:
          - {name: bundle, value: 'quay.io/x/task-y:0.1@sha256:0000000000000000000000000000000000000000000000000000000000000000'}
          - {name: name, value: y}
          - {name: kind, value: task}
      params:
        - {name: anything, value: x}
    - name: custom
      taskRef:
        apiVersion: example.dev/v1
        kind: Wait
      params:
        - {name: duration, value: 1s}
    - name: elsewhere
      taskRef:
        name: not-linted-here
      params:
        - {name: x, value: $(tasks.remote.results.whatever)}
";
        assert!(refs(yaml).is_empty(), "{:?}", refs(yaml));
    }

    fn pinned(yaml: &str) -> Vec<(usize, String)> {
        hits(yaml, "pipeline-taskref-pinned")
    }

    #[test]
    fn bundle_and_git_references_must_be_pinned() {
        let yaml = "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  params:
    - name: rev
  tasks:
    - name: by-tag
      taskRef:
        resolver: bundles
        params:
          - {name: bundle, value: 'quay.io/x/task-y:0.1'}
    - name: by-digest
      taskRef:
        resolver: bundles
        params:
          - {name: bundle, value: 'quay.io/x/task-y:0.1@sha256:0000000000000000000000000000000000000000000000000000000000000000'}
    - name: branch
      taskRef:
        resolver: git
        params:
          - {name: url, value: 'https://github.com/o/r'}
          - {name: revision, value: main}
    - name: commit
      taskRef:
        resolver: git
        params:
          - {name: url, value: 'https://github.com/o/r'}
          - {name: revision, value: 0123456789abcdef0123456789abcdef01234567}
    - name: default-branch
      taskRef:
        resolver: git
        params:
          - {name: url, value: 'https://github.com/o/r'}
    - name: from-param
      taskRef:
        resolver: git
        params:
          - {name: revision, value: $(params.rev)}
";
        let found = pinned(yaml);
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [13, 24, 33], "{found:?}");
        assert!(
            found[0].1.contains("pipeline task \"by-tag\"") && found[0].1.contains("@sha256"),
            "{found:?}"
        );
        assert!(found[1].1.contains("revision \"main\""), "{found:?}");
    }

    #[test]
    fn step_action_refs_and_v1beta1_bundles_are_checked_with_the_profile_severity() {
        let task = "apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: t
spec:
  steps:
    - name: fetch
      ref:
        resolver: git
        params:
          - {name: revision, value: v1.0.0}
";
        let findings = lint_files(&[("t.yaml", task)], Profile::Konflux);
        let hit: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "pipeline-taskref-pinned")
            .collect();
        assert_eq!(hit.len(), 1, "{findings:?}");
        assert_eq!((hit[0].line, hit[0].severity), (11, Severity::Error));
        assert!(
            hit[0]
                .message
                .starts_with("step \"fetch\" takes its StepAction"),
            "{hit:?}"
        );

        let beta = "apiVersion: tekton.dev/v1beta1
kind: TaskRun
metadata:
  name: r
spec:
  taskRef:
    name: t
    bundle: quay.io/x/t:1
";
        let found = pinned(beta);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 8);
    }
}
