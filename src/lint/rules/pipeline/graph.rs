//! pipeline-refs, the task graph: task names, finally rules, `runAfter`, `onError`, and the
//! dependency cycles that `runAfter` and result references make.

use super::*;

impl<'a> Graph<'a> {
    pub(super) fn new(check: &Check<'a>, pipeline: &'a Pipeline<'a>) -> Graph<'a> {
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

    pub(super) fn check(mut self, sink: &mut Sink) {
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

    pub(super) fn find(&self, name: &str) -> Option<(usize, &Entry<'a>)> {
        self.entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.task.name == name)
    }

    pub(super) fn check_names(&self, sink: &mut Sink) {
        let mut seen = BTreeSet::new();
        for entry in &self.entries {
            let name = entry.task.name.as_str();
            let at = Location::Field(entry.path.field("name"));
            if !super::super::is_dns_label(name) {
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

    pub(super) fn check_finally_section(&self, sink: &mut Sink) {
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

    pub(super) fn check_run_after(&mut self, i: usize, sink: &mut Sink) {
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
    pub(super) fn check_task_variables(&mut self, i: usize, sink: &mut Sink) {
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
    pub(super) fn add_edges(&mut self, from: usize, edges: Vec<Edge>) {
        for (to, at) in edges {
            if !self.edges[from].iter().any(|(known, _)| *known == to) {
                self.edges[from].push((to, at));
            }
        }
    }

    pub(super) fn check_on_error(&self, entry: &Entry, sink: &mut Sink) {
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

    /// Each cycle of the task graph once, at the dependency that closes it.
    pub(super) fn report_cycles(&self, sink: &mut Sink) {
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
pub(super) fn find_cycles(edges: &[Vec<Edge>]) -> Vec<(Vec<usize>, Location)> {
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
