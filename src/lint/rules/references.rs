//! Variable references, rules 17–24 and 27: every `$(params…)`, `$(results…)`,
//! `$(step.results…)`, `$(steps…)`, `$(workspaces…)` and `$(context…)` in a Task, StepAction,
//! Pipeline or a run's inline spec must name something declared and fit the field it is in
//! (undefined-param-ref, undefined-result-ref, undefined-workspace-ref, undefined-context-ref,
//! array-param-misuse); a reference in a field Tekton never substitutes is flagged
//! (substitution-in-unsupported-field); declared params and workspaces should be used
//! (unused-param, unused-workspace); params must not be pasted into scripts (params-in-script).
//!
//! The check first collects every string of the spec as a [`Site`]: where it is, what the field
//! accepts ([`Slot`]) and whose declarations it sees ([`Scope`]). The fields and their slots follow
//! Tekton's substitution code (`ApplyReplacements` for Tasks and Pipelines). Inline specs see their
//! enclosing Pipeline's and run's params and workspaces, because Tekton propagates those. Then every
//! reference is looked at once.

use std::collections::HashSet;

use crate::lint::finding::{FieldPath, Location, Severity};
use crate::lint::Corpus;
use crate::tekton::expr::{references, walk_strings, Reference};
use crate::tekton::model::{
    Kind, ParamSpec, PipelineSpec, PipelineTask, Resource, Step, StepActionSpec, StepRef, TaskSpec,
};
use crate::tekton::yaml::Node;

use super::RuleId;
use super::{Check, Sink};

pub fn check(check: &Check, sink: &mut Sink) {
    report_metadata_references(&check.doc.root, sink);
    let Some(resource) = &check.doc.resource else {
        return;
    };
    let model = Model::build(resource, &check.doc.root, check.corpus);
    let mut uses = Uses::default();
    for site in &model.sites {
        for reference in references(site.text) {
            model.check_reference(site, &reference, &mut uses, sink);
        }
    }
    model.check_workspace_names(&mut uses, sink);
    model.report_unused(&uses, sink);
}

/// What Tekton does with a string, as far as references go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The `script` of a step, sidecar, step template or StepAction.
    Script,
    /// One element of `command` or `args`: an array param may fill it whole.
    Argv,
    /// The element after `-c` of a `sh -c` command line: a script too.
    ShellScript,
    /// A param or `when` value: an array or object param may be passed whole.
    Value,
    /// Any other substituted field: only a string fits.
    Text,
    /// A field Tekton never substitutes (securityContext, computeResources, a Task's displayName).
    /// Descriptions are not collected at all: they mention variables to document them.
    Unsubstituted,
    /// A field this check does not model: its references count as uses, nothing more.
    Opaque,
}

impl Slot {
    /// Whether references here are substituted, so must name something that exists.
    fn is_checked(self) -> bool {
        !matches!(self, Slot::Unsubstituted | Slot::Opaque)
    }

    fn is_script(self) -> bool {
        matches!(self, Slot::Script | Slot::ShellScript)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    Task,
    StepAction,
    Pipeline,
}

/// A spec whose declarations references resolve against.
struct Scope<'a> {
    kind: ScopeKind,
    /// How messages name it: `Task`, `StepAction`, `Pipeline`, `taskSpec`, `pipelineSpec`.
    label: &'static str,
    /// Path of the spec (`spec`, `spec.tasks[2].taskSpec`).
    path: FieldPath,
    /// The scope this one is nested in (an inline taskSpec's Pipeline): its declarations are
    /// visible here.
    parent: Option<usize>,
    params: &'a [ParamSpec],
    /// Params a run or pipeline task passes in without a declaration here (Tekton propagates them).
    passed_params: Vec<&'a str>,
    workspaces: Vec<DeclaredWorkspace<'a>>,
    /// Workspaces a run or pipeline task binds without a declaration here.
    passed_workspaces: Vec<&'a str>,
    results: Vec<&'a str>,
    /// The steps, in order (a StepAction is one step).
    steps: Vec<DeclaredStep<'a>>,
}

/// A step as references to it see it.
struct DeclaredStep<'a> {
    /// None for an unnamed step.
    name: Option<&'a str>,
    /// The results it declares: its own, or for a `ref` step its StepAction's; None when they are
    /// unknown (a StepAction from a resolver or not among the linted files).
    results: Option<Vec<&'a str>>,
    /// A `ref` step: `$(step.results…)` in it are its StepAction's business.
    is_ref: bool,
}

impl DeclaredStep<'_> {
    /// How `$(steps.<id>.results…)` names the step: its name, or `unnamed-<index>` (Tekton's
    /// container is `step-<id>`, which `$(steps.step-<id>.exitCode.path)` names).
    fn id(&self, index: usize) -> String {
        match self.name {
            Some(name) => name.to_string(),
            None => format!("unnamed-{index}"),
        }
    }

    /// `step "build"`, or `steps[2]` for an unnamed one.
    fn describe(&self, index: usize) -> String {
        match self.name {
            Some(name) => format!("step \"{name}\""),
            None => format!("steps[{index}]"),
        }
    }
}

struct DeclaredWorkspace<'a> {
    name: &'a str,
    /// A Task workspace with its own `mountPath`: mounted where a tool expects it, used implicitly.
    mounted_explicitly: bool,
}

/// One string of a spec.
struct Site<'a> {
    scope: usize,
    path: FieldPath,
    text: &'a str,
    slot: Slot,
    /// Index of the step the string belongs to, for `$(step.results…)`.
    step: Option<usize>,
    /// A pipeline task's param value: it becomes a TaskRun param, where Task context resolves.
    feeds_task_run: bool,
    /// Who runs a script, for messages: `step "build"`, `the step template`.
    owner: String,
}

/// What a spec sees besides its own declarations.
#[derive(Default)]
struct Received<'a> {
    /// The enclosing scope whose declarations are visible too (an inline taskSpec's Pipeline).
    parent: Option<usize>,
    /// Params a run or pipeline task passes in without a declaration (Tekton propagates them).
    params: Vec<&'a str>,
    /// Workspaces a run or pipeline task binds without a declaration.
    workspaces: Vec<&'a str>,
}

/// Where the walk is: the scope and container the next strings belong to.
#[derive(Clone)]
struct At {
    scope: usize,
    step: Option<usize>,
    feeds_task_run: bool,
    owner: String,
}

impl At {
    fn scope(scope: usize) -> At {
        At {
            scope,
            step: None,
            feeds_task_run: false,
            owner: String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WorkspaceUse {
    /// A step's or sidecar's `workspaces[].name`.
    Mount,
    /// A pipeline task's `workspaces[].workspace` (or its `name` when `workspace` is omitted).
    Binding,
    /// An inline taskSpec declaring a workspace its Pipeline has: Tekton binds it implicitly.
    Propagated,
}

/// A workspace named outside `$(…)`.
struct WorkspaceName<'a> {
    scope: usize,
    path: FieldPath,
    name: &'a str,
    how: WorkspaceUse,
    /// The step, sidecar or pipeline task, for messages.
    owner: String,
}

/// Every string and workspace name of one document, and the scopes they resolve in.
struct Model<'a> {
    /// The linted files, where StepActions that `ref` steps run may be found.
    corpus: &'a Corpus,
    scopes: Vec<Scope<'a>>,
    sites: Vec<Site<'a>>,
    workspace_names: Vec<WorkspaceName<'a>>,
}

/// The declarations references reached: (scope, name).
#[derive(Default)]
struct Uses<'a> {
    params: HashSet<(usize, &'a str)>,
    workspaces: HashSet<(usize, &'a str)>,
}

// ---------------------------------------------------------------------------------------------
// Collecting the strings

impl<'a> Model<'a> {
    fn build(resource: &'a Resource, root: &'a Node, corpus: &'a Corpus) -> Model<'a> {
        let mut model = Model {
            corpus,
            scopes: Vec::new(),
            sites: Vec::new(),
            workspace_names: Vec::new(),
        };
        let Some(spec_node) = root.get("spec") else {
            return model;
        };
        let path = FieldPath::root().field("spec");
        match resource {
            Resource::Task(spec) => {
                // v1alpha1 Tasks declared params under `spec.inputs.params`.
                let legacy = Received {
                    params: legacy_input_params(spec_node),
                    ..Received::default()
                };
                model.task(spec, spec_node, path, "Task", legacy);
            }
            Resource::StepAction(spec) => model.step_action(spec, spec_node, path),
            Resource::Pipeline(spec) => {
                model.pipeline(spec, spec_node, path, "Pipeline", Received::default())
            }
            Resource::TaskRun(run) => {
                if let (Some(spec), Some(node)) = (&run.task_spec, spec_node.get("taskSpec")) {
                    let passed = Received {
                        parent: None,
                        params: run.params.iter().map(|p| p.name.as_str()).collect(),
                        workspaces: run.workspaces.iter().filter_map(json_name).collect(),
                    };
                    model.task(spec, node, path.field("taskSpec"), "taskSpec", passed);
                }
            }
            Resource::PipelineRun(run) => {
                if let (Some(spec), Some(node)) =
                    (&run.pipeline_spec, spec_node.get("pipelineSpec"))
                {
                    let passed = Received {
                        parent: None,
                        params: run.params.iter().map(|p| p.name.as_str()).collect(),
                        workspaces: run.workspaces.iter().filter_map(json_name).collect(),
                    };
                    model.pipeline(
                        spec,
                        node,
                        path.field("pipelineSpec"),
                        "pipelineSpec",
                        passed,
                    );
                }
            }
        }
        model
    }

    /// Adds every string under `node` as a site.
    fn add(&mut self, at: &At, node: &'a Node, path: &FieldPath, slot: Slot) {
        let sites = &mut self.sites;
        walk_strings(node, path, &mut |path, _, text| {
            sites.push(Site {
                scope: at.scope,
                path: path.clone(),
                text,
                slot,
                step: at.step,
                feeds_task_run: at.feeds_task_run,
                owner: at.owner.clone(),
            })
        });
    }

    fn task(
        &mut self,
        spec: &'a TaskSpec,
        node: &'a Node,
        path: FieldPath,
        label: &'static str,
        received: Received<'a>,
    ) {
        let workspaces = spec
            .workspaces
            .iter()
            .map(|w| DeclaredWorkspace {
                name: &w.name,
                mounted_explicitly: w.mount_path.is_some(),
            })
            .collect();
        let steps = spec
            .steps
            .iter()
            .map(|step| self.declared_step(step))
            .collect();
        let scope = self.scopes.len();
        self.scopes.push(Scope {
            kind: ScopeKind::Task,
            label,
            path: path.clone(),
            parent: received.parent,
            params: &spec.params,
            passed_params: received.params,
            workspaces,
            passed_workspaces: received.workspaces,
            results: spec.results.iter().map(|r| r.name.as_str()).collect(),
            steps,
        });
        self.task_body(scope, node, &path);
    }

    fn task_body(&mut self, scope: usize, node: &'a Node, path: &FieldPath) {
        let at = At::scope(scope);
        for (key, value) in entries(node) {
            let path = path.field(key);
            match key {
                "params" => self.declared_field(&at, value, &path, "default", Slot::Text),
                "results" => self.declared_field(&at, value, &path, "value", Slot::Text),
                "workspaces" => self.declared_field(&at, value, &path, "mountPath", Slot::Text),
                "steps" | "sidecars" => {
                    let kind = if key == "steps" { "step" } else { "sidecar" };
                    for (i, container) in items(value) {
                        let step = (key == "steps").then_some(i);
                        let at = At {
                            step,
                            owner: container_owner(kind, &path, i, container),
                            ..at.clone()
                        };
                        self.container(&at, container, &path.index(i));
                    }
                }
                "stepTemplate" => self.container(
                    &At {
                        owner: "the step template".into(),
                        ..at.clone()
                    },
                    value,
                    &path,
                ),
                "volumes" => self.add(&at, value, &path, Slot::Text),
                "displayName" => self.add(&at, value, &path, Slot::Unsubstituted),
                // Documentation mentions variables to explain them.
                "description" => {}
                _ => self.add(&at, value, &path, Slot::Opaque),
            }
        }
    }

    fn declared_step(&self, step: &'a Step) -> DeclaredStep<'a> {
        let results = match &step.ref_ {
            Some(step_ref) => self.step_action_results(step_ref),
            None => Some(step.results.iter().map(|r| r.name.as_str()).collect()),
        };
        DeclaredStep {
            name: step.container.name.as_deref().filter(|n| !n.is_empty()),
            results,
            is_ref: step.ref_.is_some(),
        }
    }

    /// The results of the StepAction a `ref` step runs, when it is among the linted files (all
    /// of them if several StepActions have its name). None when a resolver fetches it or it is
    /// not there: then any result name may be right.
    fn step_action_results(&self, step_ref: &'a StepRef) -> Option<Vec<&'a str>> {
        if step_ref.resolver.is_some() {
            return None;
        }
        let name = step_ref.name.as_deref().filter(|n| !n.contains("$("))?;
        let mut found = false;
        let mut results = Vec::new();
        for doc in self.corpus.find(Kind::StepAction, name) {
            if let Some(Resource::StepAction(spec)) = &doc.resource {
                found = true;
                results.extend(spec.results.iter().map(|r| r.name.as_str()));
            }
        }
        found.then_some(results)
    }

    fn step_action(&mut self, spec: &'a StepActionSpec, node: &'a Node, path: FieldPath) {
        let results: Vec<&str> = spec.results.iter().map(|r| r.name.as_str()).collect();
        let scope = self.scopes.len();
        self.scopes.push(Scope {
            kind: ScopeKind::StepAction,
            label: "StepAction",
            path: path.clone(),
            parent: None,
            params: &spec.params,
            passed_params: Vec::new(),
            workspaces: Vec::new(),
            passed_workspaces: Vec::new(),
            results: results.clone(),
            steps: vec![DeclaredStep {
                name: None,
                results: Some(results),
                is_ref: false,
            }],
        });
        let at = At {
            scope,
            step: Some(0),
            feeds_task_run: false,
            owner: "the StepAction".into(),
        };
        for (key, value) in entries(node) {
            let field = path.field(key);
            match key {
                "params" => self.declared_field(&at, value, &field, "default", Slot::Text),
                // Result declarations and documentation hold no references.
                "results" | "description" => {}
                _ => self.container_field(&at, key, value, &field, None),
            }
        }
    }

    fn pipeline(
        &mut self,
        spec: &'a PipelineSpec,
        node: &'a Node,
        path: FieldPath,
        label: &'static str,
        received: Received<'a>,
    ) {
        let scope = self.scopes.len();
        self.scopes.push(Scope {
            kind: ScopeKind::Pipeline,
            label,
            path: path.clone(),
            parent: received.parent,
            params: &spec.params,
            passed_params: received.params,
            workspaces: spec
                .workspaces
                .iter()
                .map(|w| DeclaredWorkspace {
                    name: &w.name,
                    mounted_explicitly: false,
                })
                .collect(),
            passed_workspaces: received.workspaces,
            results: Vec::new(),
            steps: Vec::new(),
        });
        let at = At::scope(scope);
        // A param default flows into pipeline task params, so into TaskRuns.
        let defaults = At {
            feeds_task_run: true,
            ..at.clone()
        };
        for (key, value) in entries(node) {
            let path = path.field(key);
            match key {
                "params" => self.declared_field(&defaults, value, &path, "default", Slot::Text),
                "results" => self.declared_field(&at, value, &path, "value", Slot::Value),
                "displayName" => self.add(&at, value, &path, Slot::Unsubstituted),
                // Workspace declarations and documentation hold no references.
                "workspaces" | "description" => {}
                "tasks" | "finally" => {
                    let tasks = if key == "tasks" {
                        &spec.tasks
                    } else {
                        &spec.finally
                    };
                    for (i, (task, task_node)) in
                        tasks.iter().zip(items(value).map(|(_, n)| n)).enumerate()
                    {
                        self.pipeline_task(scope, task, task_node, &path.index(i));
                    }
                }
                _ => self.add(&at, value, &path, Slot::Opaque),
            }
        }
    }

    fn pipeline_task(
        &mut self,
        scope: usize,
        task: &'a PipelineTask,
        node: &'a Node,
        path: &FieldPath,
    ) {
        let at = At {
            owner: format!("pipeline task \"{}\"", task.name),
            ..At::scope(scope)
        };
        let feeding = At {
            feeds_task_run: true,
            ..at.clone()
        };
        let display = At {
            scope: self.matrix_scope(scope, task),
            ..at.clone()
        };
        for (key, value) in entries(node) {
            let path = path.field(key);
            match key {
                "params" => self.param_values(&feeding, value, &path),
                "matrix" => self.matrix(&feeding, value, &path),
                "when" => self.when_expressions(&at, value, &path),
                "workspaces" => self.workspace_bindings(&at, value, &path),
                "taskRef" | "pipelineRef" => self.reference(&at, value, &path),
                "displayName" => self.add(&display, value, &path, Slot::Text),
                "onError" => self.add(&at, value, &path, Slot::Text),
                "description" => {}
                "taskSpec" => match &task.task_spec {
                    Some(embedded) => self.inline_task(scope, task, &embedded.spec, value, path),
                    None => self.add(&at, value, &path, Slot::Opaque),
                },
                _ => self.add(&at, value, &path, Slot::Opaque),
            }
        }
    }

    /// The scope of a matrixed pipeline task's `displayName`: each TaskRun's display name is
    /// substituted with its own combination of matrix params too.
    fn matrix_scope(&mut self, pipeline: usize, task: &'a PipelineTask) -> usize {
        if task.matrix.is_none() {
            return pipeline;
        }
        let parent = &self.scopes[pipeline];
        let scope = Scope {
            kind: ScopeKind::Pipeline,
            label: parent.label,
            path: parent.path.clone(),
            parent: Some(pipeline),
            params: &[],
            passed_params: matrix_param_names(task).collect(),
            workspaces: Vec::new(),
            passed_workspaces: Vec::new(),
            results: Vec::new(),
            steps: Vec::new(),
        };
        self.scopes.push(scope);
        self.scopes.len() - 1
    }

    /// A pipeline task's `taskSpec`: it sees the Pipeline's params and workspaces and whatever
    /// the pipeline task passes in.
    fn inline_task(
        &mut self,
        parent: usize,
        task: &'a PipelineTask,
        spec: &'a TaskSpec,
        node: &'a Node,
        path: FieldPath,
    ) {
        let received = Received {
            parent: Some(parent),
            params: task
                .params
                .iter()
                .map(|p| p.name.as_str())
                .chain(matrix_param_names(task))
                .collect(),
            workspaces: task.workspaces.iter().map(|w| w.name.as_str()).collect(),
        };
        self.task(spec, node, path.clone(), "taskSpec", received);
        for (i, workspace) in spec.workspaces.iter().enumerate() {
            self.workspace_names.push(WorkspaceName {
                scope: parent,
                path: path.item("workspaces", i).field("name"),
                name: &workspace.name,
                how: WorkspaceUse::Propagated,
                owner: String::new(),
            });
        }
    }

    /// A list of declarations (params, results, workspaces): only `field` of each is substituted.
    fn declared_field(
        &mut self,
        at: &At,
        list: &'a Node,
        path: &FieldPath,
        field: &str,
        slot: Slot,
    ) {
        for (i, item) in items(list) {
            if let Some(value) = item.get(field) {
                self.add(at, value, &path.index(i).field(field), slot);
            }
        }
    }

    /// `params: [{name, value}]`: values may pass an array or object param whole.
    fn param_values(&mut self, at: &At, list: &'a Node, path: &FieldPath) {
        for (i, item) in items(list) {
            if let Some(value) = item.get("value") {
                self.add(at, value, &path.index(i).field("value"), Slot::Value);
            }
        }
    }

    fn matrix(&mut self, at: &At, matrix: &'a Node, path: &FieldPath) {
        for (key, value) in entries(matrix) {
            let path = path.field(key);
            match key {
                "params" => self.param_values(at, value, &path),
                "include" => {
                    for (i, include) in items(value) {
                        if let Some(params) = include.get("params") {
                            self.param_values(at, params, &path.index(i).field("params"));
                        }
                    }
                }
                _ => self.add(at, value, &path, Slot::Opaque),
            }
        }
    }

    fn when_expressions(&mut self, at: &At, list: &'a Node, path: &FieldPath) {
        for (i, item) in items(list) {
            for (key, value) in entries(item) {
                let slot = match key {
                    "input" | "cel" => Slot::Text,
                    "values" => Slot::Value,
                    _ => Slot::Opaque,
                };
                self.add(at, value, &path.index(i).field(key), slot);
            }
        }
    }

    /// A `taskRef`, `pipelineRef` or step `ref`: its name and resolver params are substituted.
    fn reference(&mut self, at: &At, reference: &'a Node, path: &FieldPath) {
        for (key, value) in entries(reference) {
            let path = path.field(key);
            match key {
                "params" => self.param_values(at, value, &path),
                "name" => self.add(at, value, &path, Slot::Text),
                _ => self.add(at, value, &path, Slot::Opaque),
            }
        }
    }

    fn workspace_bindings(&mut self, at: &At, list: &'a Node, path: &FieldPath) {
        for (i, binding) in items(list) {
            let path = path.index(i);
            // `workspace` defaults to the binding's `name`.
            let named = ["workspace", "name"]
                .into_iter()
                .find_map(|key| Some((key, binding.get(key)?.as_str()?)));
            if let Some((key, name)) = named {
                self.workspace_names.push(WorkspaceName {
                    scope: at.scope,
                    path: path.field(key),
                    name,
                    how: WorkspaceUse::Binding,
                    owner: at.owner.clone(),
                });
            }
            if let Some(sub_path) = binding.get("subPath") {
                self.add(at, sub_path, &path.field("subPath"), Slot::Text);
            }
        }
    }

    /// A step, sidecar or the step template.
    fn container(&mut self, at: &At, node: &'a Node, path: &FieldPath) {
        let shell_script = shell_script_element(node);
        for (key, value) in entries(node) {
            self.container_field(at, key, value, &path.field(key), shell_script);
        }
    }

    fn container_field(
        &mut self,
        at: &At,
        key: &str,
        value: &'a Node,
        path: &FieldPath,
        shell_script: Option<(&str, usize)>,
    ) {
        match key {
            "script" => self.add(at, value, path, Slot::Script),
            "command" | "args" => {
                for (i, item) in items(value) {
                    let slot = if shell_script == Some((key, i)) {
                        Slot::ShellScript
                    } else {
                        Slot::Argv
                    };
                    self.add(at, item, &path.index(i), slot);
                }
            }
            "params" => self.param_values(at, value, path),
            "ref" => self.reference(at, value, path),
            "when" => self.when_expressions(at, value, path),
            // A step's result declarations hold no references.
            "results" => {}
            "workspaces" => self.container_workspaces(at, value, path),
            "securityContext" | "computeResources" | "resources" | "displayName" => {
                self.add(at, value, path, Slot::Unsubstituted)
            }
            "name" | "image" | "imagePullPolicy" | "env" | "envFrom" | "workingDir"
            | "volumeMounts" | "volumeDevices" | "onError" | "stdoutConfig" | "stderrConfig" => {
                self.add(at, value, path, Slot::Text)
            }
            _ => self.add(at, value, path, Slot::Opaque),
        }
    }

    fn container_workspaces(&mut self, at: &At, list: &'a Node, path: &FieldPath) {
        for (i, usage) in items(list) {
            let path = path.index(i);
            if let Some(name) = usage.get("name").and_then(Node::as_str) {
                self.workspace_names.push(WorkspaceName {
                    scope: at.scope,
                    path: path.field("name"),
                    name,
                    how: WorkspaceUse::Mount,
                    owner: at.owner.clone(),
                });
            }
            if let Some(mount_path) = usage.get("mountPath") {
                self.add(at, mount_path, &path.field("mountPath"), Slot::Text);
            }
        }
    }
}

/// The params a pipeline task's matrix fans out (`matrix.params` and `matrix.include[].params`).
fn matrix_param_names(task: &PipelineTask) -> impl Iterator<Item = &str> {
    let matrix = task.matrix.iter();
    let params = matrix.flat_map(|m| {
        m.params
            .iter()
            .chain(m.include.iter().flat_map(|i| &i.params))
    });
    params.map(|p| p.name.as_str())
}

/// v1alpha1 Tasks declared params under `spec.inputs.params`.
fn legacy_input_params(spec: &Node) -> Vec<&str> {
    let params = spec
        .get("inputs")
        .and_then(|i| i.get("params"))
        .and_then(Node::as_seq)
        .unwrap_or(&[]);
    params
        .iter()
        .filter_map(|p| p.get("name")?.as_str())
        .collect()
}

fn json_name(value: &serde_json::Value) -> Option<&str> {
    value.get("name")?.as_str()
}

fn entries(node: &Node) -> impl Iterator<Item = (&str, &Node)> {
    node.as_map()
        .unwrap_or(&[])
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?, v)))
}

fn items(node: &Node) -> impl Iterator<Item = (usize, &Node)> {
    node.as_seq().unwrap_or(&[]).iter().enumerate()
}

/// `step "build"`, or `steps[2]` for an unnamed one.
fn container_owner(kind: &str, list: &FieldPath, index: usize, node: &Node) -> String {
    match node
        .get("name")
        .and_then(Node::as_str)
        .filter(|n| !n.is_empty())
    {
        Some(name) => format!("{kind} \"{name}\""),
        None => list.index(index).to_string(),
    }
}

/// Shells whose `-c` argument is a script.
const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "ksh", "zsh"];

/// In `command: [sh, -c]` + `args: ["…"]` (or any split of `sh -c SCRIPT` over command and args),
/// the field and index of SCRIPT. Without `command` the image's entrypoint is unknown: None.
fn shell_script_element(container: &Node) -> Option<(&'static str, usize)> {
    let argv: Vec<(&'static str, usize, &str)> = ["command", "args"]
        .into_iter()
        .flat_map(|field| {
            items_of(container, field).map(move |(i, item)| (field, i, item.as_str().unwrap_or("")))
        })
        .collect();
    if argv.first()?.0 != "command" {
        return None;
    }
    let program = |i: usize| argv.get(i).and_then(|(_, _, arg)| arg.rsplit('/').next());
    let shell_at = usize::from(program(0)? == "env");
    if !SHELLS.contains(&program(shell_at)?) {
        return None;
    }
    let dash_c = (shell_at + 1..argv.len()).find(|&i| is_dash_c(argv[i].2))?;
    argv.get(dash_c + 1).map(|&(field, i, _)| (field, i))
}

fn items_of<'n>(node: &'n Node, field: &str) -> impl Iterator<Item = (usize, &'n Node)> {
    node.get(field).into_iter().flat_map(items)
}

/// `-c`, or a cluster of short options that includes it (`-ec`, `-xc`).
fn is_dash_c(arg: &str) -> bool {
    arg.strip_prefix('-').is_some_and(|flags| {
        !flags.is_empty() && flags.chars().all(|c| c.is_ascii_alphabetic()) && flags.contains('c')
    })
}

// ---------------------------------------------------------------------------------------------
// Checking the references

/// A param a reference reached: the scope that declares or receives it, and its declaration
/// (None for a param a run or pipeline task passes in undeclared: its type is unknown).
struct Resolved<'a> {
    scope: usize,
    spec: Option<&'a ParamSpec>,
}

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
const WORKSPACE_VARIABLES: &[&str] = &["path", "bound", "claim", "volume"];

impl<'a> Model<'a> {
    fn check_reference(
        &self,
        site: &Site<'a>,
        reference: &Reference,
        uses: &mut Uses<'a>,
        sink: &mut Sink,
    ) {
        let param_segments = param_segments(reference);
        if site.slot == Slot::Unsubstituted {
            if param_segments.is_some() || reference.root() == "context" {
                report_unsubstituted(&site.path, site.text, reference, sink);
            }
            return;
        }
        if let Some(segments) = param_segments {
            self.check_param(site, reference, segments, uses, sink);
            if site.slot.is_script() {
                self.report_param_in_script(site, reference, segments, sink);
            }
            return;
        }
        match reference.root() {
            "workspaces" => self.check_workspace_variable(site, reference, uses, sink),
            _ if !site.slot.is_checked() => {}
            "results" => self.check_task_result(site, reference, sink),
            "step" if reference.segment(1) == Some("results") => {
                self.check_step_result(site, reference, sink)
            }
            "steps" => self.check_other_step_reference(site, reference, sink),
            "context" => self.check_context(site, reference, sink),
            _ => {}
        }
    }

    // --- params ---

    fn check_param(
        &self,
        site: &Site<'a>,
        reference: &Reference,
        segments: &[String],
        uses: &mut Uses<'a>,
        sink: &mut Sink,
    ) {
        let Some((resolved, keys)) = self.resolve_param(site.scope, segments) else {
            if site.slot.is_checked() {
                self.report_undefined_param(site, reference, segments, sink);
            }
            return;
        };
        // A param passed in undeclared has no known type: any use fits.
        let Some(param) = resolved.spec else {
            return;
        };
        uses.params.insert((resolved.scope, param.name.as_str()));
        if site.slot.is_checked() {
            check_param_shape(site, reference, param, keys, sink);
        }
    }

    /// The param `segments` (after `params`) names and the keys after it. A dotted name may be
    /// written with dots (`params.a.b` for param `a.b`), so longer prefixes are tried too.
    fn resolve_param<'s>(
        &self,
        scope: usize,
        segments: &'s [String],
    ) -> Option<(Resolved<'a>, &'s [String])> {
        (1..=segments.len()).find_map(|n| {
            let name = segments[..n].join(".");
            self.find_param(scope, &name)
                .map(|resolved| (resolved, &segments[n..]))
        })
    }

    fn find_param(&self, mut scope: usize, name: &str) -> Option<Resolved<'a>> {
        loop {
            let current = &self.scopes[scope];
            if let Some(spec) = current.params.iter().find(|p| p.name == name) {
                return Some(Resolved {
                    scope,
                    spec: Some(spec),
                });
            }
            if current.passed_params.contains(&name) {
                return Some(Resolved { scope, spec: None });
            }
            scope = current.parent?;
        }
    }

    fn report_undefined_param(
        &self,
        site: &Site,
        reference: &Reference,
        segments: &[String],
        sink: &mut Sink,
    ) {
        let scope = &self.scopes[site.scope];
        let mut names = Vec::new();
        self.for_each_scope(site.scope, |s| {
            names.extend(s.params.iter().map(|p| p.name.as_str()));
            names.extend(s.passed_params.iter().copied());
        });
        sink.report(
            RuleId::UndefinedParamRef,
            reference.location(&site.path, site.text),
            format!(
                "$({}) names param \"{}\", which this {} does not declare; \
                 declare it under {}.params or fix the name ({})",
                reference.expression,
                segments[0],
                scope.label,
                scope.path,
                declared_list(names)
            ),
        );
    }

    fn report_param_in_script(
        &self,
        site: &Site,
        reference: &Reference,
        segments: &[String],
        sink: &mut Sink,
    ) {
        let variable = env_name(segments);
        let whose = if site.slot == Slot::ShellScript {
            "the sh -c script"
        } else {
            "the script"
        };
        let mut message = format!(
            "$({expr}) is pasted into {whose} of {owner} before it runs, so a value with quotes \
             or `;` runs as code; pass it through env \
             (env: [{{name: {variable}, value: \"$({expr})\"}}]) and use \"${variable}\"",
            expr = reference.expression,
            owner = site.owner,
        );
        let location = reference.location(&site.path, site.text);
        if self.scopes[site.scope].kind == ScopeKind::StepAction {
            message.push_str(" (the webhook rejects $(params…) in a StepAction's script)");
            sink.report_as(RuleId::ParamsInScript, Severity::Error, location, message);
        } else {
            sink.report(RuleId::ParamsInScript, location, message);
        }
    }

    // --- results ---

    fn check_task_result(&self, site: &Site, reference: &Reference, sink: &mut Sink) {
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

    fn check_step_result(&self, site: &Site, reference: &Reference, sink: &mut Sink) {
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
    fn check_other_step_reference(&self, site: &Site, reference: &Reference, sink: &mut Sink) {
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

    fn check_earlier_step_result(&self, site: &Site, reference: &Reference, sink: &mut Sink) {
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

    fn check_exit_code_path(&self, site: &Site, reference: &Reference, sink: &mut Sink) {
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

    // --- workspaces ---

    fn check_workspace_variable(
        &self,
        site: &Site,
        reference: &Reference,
        uses: &mut Uses<'a>,
        sink: &mut Sink,
    ) {
        let (Some(name), Some(variable)) = (reference.segment(1), reference.segment(2)) else {
            return;
        };
        if self.scopes[site.scope].kind == ScopeKind::StepAction {
            return; // a StepAction sees the workspaces of whichever Task uses it
        }
        let found = self.find_workspace(site.scope, name, uses);
        // A pipeline task's param value is substituted again in its TaskRun, where
        // `$(workspaces.X…)` names the Task's own workspace.
        if !site.slot.is_checked() || site.feeds_task_run {
            return;
        }
        let location = reference.location(&site.path, site.text);
        if !found {
            let message = format!(
                "$({}) names workspace \"{name}\", which this {} does not declare; {}",
                reference.expression,
                self.scopes[site.scope].label,
                self.declare_workspace_hint(site.scope)
            );
            sink.report(RuleId::UndefinedWorkspaceRef, location, message);
        } else if !WORKSPACE_VARIABLES.contains(&variable) {
            let message = format!(
                "$({}) is not a workspace variable; a workspace has {}",
                reference.expression,
                WORKSPACE_VARIABLES
                    .iter()
                    .map(|v| format!("$(workspaces.{name}.{v})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            sink.report(RuleId::UndefinedWorkspaceRef, location, message);
        }
    }

    /// Whether `name` is a workspace `scope` sees; marks the declaration it reaches as used.
    fn find_workspace(&self, mut scope: usize, name: &str, uses: &mut Uses<'a>) -> bool {
        loop {
            let current = &self.scopes[scope];
            if let Some(declared) = current.workspaces.iter().find(|w| w.name == name) {
                uses.workspaces.insert((scope, declared.name));
                return true;
            }
            if current.passed_workspaces.contains(&name) {
                return true;
            }
            let Some(parent) = current.parent else {
                return false;
            };
            scope = parent;
        }
    }

    fn check_workspace_names(&self, uses: &mut Uses<'a>, sink: &mut Sink) {
        for used in &self.workspace_names {
            // A propagated name only marks the Pipeline's workspace as used.
            if self.find_workspace(used.scope, used.name, uses)
                || used.how == WorkspaceUse::Propagated
            {
                continue;
            }
            let scope = &self.scopes[used.scope];
            let verb = if used.how == WorkspaceUse::Mount {
                "mounts"
            } else {
                "binds"
            };
            sink.report(
                RuleId::UndefinedWorkspaceRef,
                Location::Field(used.path.clone()),
                format!(
                    "{} {verb} workspace \"{}\", which this {} does not declare; {}",
                    used.owner,
                    used.name,
                    scope.label,
                    self.declare_workspace_hint(used.scope)
                ),
            );
        }
    }

    fn declare_workspace_hint(&self, scope: usize) -> String {
        let mut names = Vec::new();
        self.for_each_scope(scope, |s| {
            names.extend(s.workspaces.iter().map(|w| w.name));
            names.extend(s.passed_workspaces.iter().copied());
        });
        format!(
            "declare it under {}.workspaces or fix the name ({})",
            self.scopes[scope].path,
            declared_list(names)
        )
    }

    // --- context ---

    fn check_context(&self, site: &Site, reference: &Reference, sink: &mut Sink) {
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

    fn allowed_context(&self, site: &Site) -> Vec<&'static str> {
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

    // --- unused declarations ---

    fn report_unused(&self, uses: &Uses, sink: &mut Sink) {
        for (index, scope) in self.scopes.iter().enumerate() {
            for (i, param) in scope.params.iter().enumerate() {
                if param.name.is_empty() || uses.params.contains(&(index, param.name.as_str())) {
                    continue;
                }
                sink.report(
                    RuleId::UnusedParam,
                    Location::Field(scope.path.item("params", i).field("name")),
                    format!(
                        "param \"{}\" is declared but nothing in this {} uses it; \
                         reference it as {} or remove it",
                        param.name,
                        scope.label,
                        param_syntax(&param.name)
                    ),
                );
            }
            for (i, workspace) in scope.workspaces.iter().enumerate() {
                if uses.workspaces.contains(&(index, workspace.name))
                    || workspace.mounted_explicitly
                    || (scope.kind == ScopeKind::Task && self.mentions(index, workspace.name))
                {
                    continue;
                }
                let how = match scope.kind {
                    ScopeKind::Pipeline => "no pipeline task binds it",
                    _ => "no step references it or mounts it, and no script names its path",
                };
                sink.report(
                    RuleId::UnusedWorkspace,
                    Location::Field(scope.path.item("workspaces", i).field("name")),
                    format!(
                        "workspace \"{}\" is declared but {how}; use it or remove it",
                        workspace.name
                    ),
                );
            }
        }
    }

    /// Whether any substituted string of `scope` contains `text` (a script may use a workspace's
    /// default mount path, `/workspace/<name>`, literally).
    fn mentions(&self, scope: usize, text: &str) -> bool {
        self.sites
            .iter()
            .any(|s| s.scope == scope && s.slot != Slot::Unsubstituted && s.text.contains(text))
    }

    fn for_each_scope(&self, mut scope: usize, mut visit: impl FnMut(&Scope<'a>)) {
        loop {
            visit(&self.scopes[scope]);
            match self.scopes[scope].parent {
                Some(parent) => scope = parent,
                None => return,
            }
        }
    }
}

/// The segments after `params` of a param reference (`$(params.x)`, or the v1alpha1
/// `$(inputs.params.x)`).
fn param_segments(reference: &Reference) -> Option<&[String]> {
    let segments = match reference.root() {
        "params" => &reference.segments[1..],
        "inputs" if reference.segment(1) == Some("params") => &reference.segments[2..],
        _ => return None,
    };
    (!segments.is_empty()).then_some(segments)
}

/// Whether a reference to a declared param fits its type and the field it is in.
fn check_param_shape(
    site: &Site,
    reference: &Reference,
    param: &ParamSpec,
    keys: &[String],
    sink: &mut Sink,
) {
    match param.effective_type() {
        "object" => check_object_use(site, reference, param, keys, sink),
        "array" => check_array_use(site, reference, param, keys, sink),
        _ => check_string_use(site, reference, param, keys, sink),
    }
}

fn check_object_use(
    site: &Site,
    reference: &Reference,
    param: &ParamSpec,
    keys: &[String],
    sink: &mut Sink,
) {
    let (expression, name) = (&reference.expression, &param.name);
    let location = reference.location(&site.path, site.text);
    match keys {
        [] if reference.index.is_some() => sink.report(
            RuleId::ArrayParamMisuse,
            location,
            format!(
                "$({expression}) indexes object param \"{name}\"; \
                 use one of its keys, $(params.{name}.KEY)"
            ),
        ),
        [] => check_whole_use(site, reference, "object", name, sink),
        [key] if object_has_key(param, key) => {}
        _ => {
            let known = param
                .properties
                .iter()
                .flat_map(|p| p.keys().map(String::as_str))
                .collect();
            let message = format!(
                "$({expression}) names key \"{}\" of object param \"{name}\", \
                 which has no such key; add it to the param's properties or fix the name ({})",
                keys.join("."),
                declared_list(known)
            );
            sink.report(RuleId::UndefinedParamRef, location, message);
        }
    }
}

fn check_array_use(
    site: &Site,
    reference: &Reference,
    param: &ParamSpec,
    keys: &[String],
    sink: &mut Sink,
) {
    let (expression, name) = (&reference.expression, &param.name);
    if !keys.is_empty() {
        let message = format!(
            "$({expression}) reads key \"{}\" of array param \"{name}\", which has no keys; \
             use an item, $(params.{name}[0])",
            keys.join(".")
        );
        sink.report(
            RuleId::UndefinedParamRef,
            reference.location(&site.path, site.text),
            message,
        );
    } else if reference.index.is_none() {
        check_whole_use(site, reference, "array", name, sink);
    }
}

fn check_string_use(
    site: &Site,
    reference: &Reference,
    param: &ParamSpec,
    keys: &[String],
    sink: &mut Sink,
) {
    let (expression, name) = (&reference.expression, &param.name);
    let location = reference.location(&site.path, site.text);
    if !keys.is_empty() {
        let message = format!(
            "$({expression}) reads key \"{}\" of string param \"{name}\", which has no keys; \
             declare \"{name}\" as an object param with properties or fix the reference",
            keys.join(".")
        );
        sink.report(RuleId::UndefinedParamRef, location, message);
    } else if reference.star || reference.index.is_some() {
        let message = format!(
            "$({expression}) treats string param \"{name}\" as an array; \
             use {} or declare it with type: array",
            param_syntax(name)
        );
        sink.report(RuleId::ArrayParamMisuse, location, message);
    }
}

/// An array or object param used whole: only an isolated `command`/`args` element or a param or
/// `when` value can take it.
fn check_whole_use(site: &Site, reference: &Reference, kind: &str, name: &str, sink: &mut Sink) {
    let expression = &reference.expression;
    let message = match site.slot {
        Slot::Argv | Slot::ShellScript | Slot::Value if reference.is_whole(site.text) => return,
        Slot::Argv | Slot::ShellScript => format!(
            "$({expression}) expands {kind} param \"{name}\" into several elements, \
             so it must be the whole element on its own (\"$({expression})\"); \
             use one item, or split the element"
        ),
        Slot::Value => format!(
            "$({expression}) passes {kind} param \"{name}\" whole, \
             so it must be the whole value on its own; use one item to build a string"
        ),
        _ => format!(
            "$({expression}) uses {kind} param \"{name}\" whole where only a string fits; \
             use one item ({}) or pass it as a separate args element",
            item_syntax(kind, name)
        ),
    };
    let location = reference.location(&site.path, site.text);
    sink.report(RuleId::ArrayParamMisuse, location, message);
}

/// One item of an array or object param.
fn item_syntax(kind: &str, name: &str) -> String {
    if kind == "array" {
        format!("$(params.{name}[0])")
    } else {
        format!("$(params.{name}.KEY)")
    }
}

fn object_has_key(param: &ParamSpec, key: &str) -> bool {
    let in_properties = param
        .properties
        .as_ref()
        .is_some_and(|p| p.contains_key(key));
    let in_default = param
        .default
        .as_ref()
        .and_then(|d| d.as_object())
        .is_some_and(|d| d.contains_key(key));
    in_properties || in_default || (param.properties.is_none() && param.default.is_none())
}

/// Whether `segments` (after `results` or `step.results`) name a declared result: `X.path`, or a
/// dotted name written with dots (`a.b.path`).
fn names_declared(segments: &[String], declared: &[&str]) -> bool {
    let Some(first) = segments.first() else {
        return true;
    };
    let dotted = match segments.split_last() {
        Some((last, name)) if last == "path" && !name.is_empty() => name.join("."),
        _ => String::new(),
    };
    declared.iter().any(|d| *d == first || *d == dotted)
}

/// Whether `segments` (after `steps.<step>.results`) name a declared result: `X`, an object
/// result's key (`X.key`), or a dotted name written with dots (`a.b`).
fn names_result(segments: &[String], declared: &[&str]) -> bool {
    (1..=segments.len()).any(|n| declared.contains(&segments[..n].join(".").as_str()))
}

fn report_unsubstituted(path: &FieldPath, text: &str, reference: &Reference, sink: &mut Sink) {
    sink.report(
        RuleId::SubstitutionInUnsupportedField,
        reference.location(path, text),
        format!(
            "Tekton does not substitute variables in {path}, so $({}) stays literal text here; \
             write the value itself, or move it to a field Tekton substitutes (env, args, script)",
            reference.expression
        ),
    );
}

/// `$(params…)` or `$(context…)` in the document's labels or annotations.
fn report_metadata_references(root: &Node, sink: &mut Sink) {
    let Some(metadata) = root.get("metadata") else {
        return;
    };
    let path = FieldPath::root().field("metadata");
    for field in ["labels", "annotations"] {
        let Some(map) = metadata.get(field) else {
            continue;
        };
        walk_strings(map, &path.field(field), &mut |path, _, text| {
            for reference in references(text) {
                if param_segments(&reference).is_some() || reference.root() == "context" {
                    report_unsubstituted(path, text, &reference, sink);
                }
            }
        });
    }
}

/// How to reference param `name`: brackets for a dotted name.
fn param_syntax(name: &str) -> String {
    if name.contains('.') {
        format!("$(params[\"{name}\"])")
    } else {
        format!("$(params.{name})")
    }
}

/// An env var name for a param reference: `image-url` → `IMAGE_URL`.
fn env_name(segments: &[String]) -> String {
    let joined = segments.join("_");
    let name: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("P_{name}")
    } else {
        name
    }
}

/// Step names in the order the steps run.
fn step_list(names: Vec<&str>) -> String {
    if names.is_empty() {
        "it has no named steps".to_string()
    } else {
        format!("steps: {}", names.join(", "))
    }
}

fn declared_list(mut names: Vec<&str>) -> String {
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        "none are declared".to_string()
    } else {
        format!("declared: {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::finding::{Finding, Severity};
    use crate::lint::{Config, Profile};

    fn lint(yaml: &str, profile: Profile) -> Vec<Finding> {
        crate::lint::testing::lint_at("t.yaml", yaml, |config: &mut Config| {
            config.options.profile = profile;
            config.options.shellcheck.enabled = false;
        })
    }

    /// (rule, line) of every finding of this module's rules.
    fn ours(yaml: &str) -> Vec<(String, usize)> {
        const RULES: &[&str] = &[
            "undefined-param-ref",
            "undefined-result-ref",
            "undefined-workspace-ref",
            "undefined-context-ref",
            "array-param-misuse",
            "substitution-in-unsupported-field",
            "unused-param",
            "unused-workspace",
            "params-in-script",
        ];
        lint(yaml, Profile::Core)
            .into_iter()
            .filter(|f| RULES.contains(&f.rule.as_str()))
            .map(|f| (f.rule, f.line))
            .collect()
    }

    fn hits(yaml: &str, rule: &str) -> Vec<usize> {
        ours(yaml)
            .into_iter()
            .filter(|(r, _)| r == rule)
            .map(|(_, line)| line)
            .collect()
    }

    const MODERN_TASK: &str = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: modern
spec:
  params:
    - name: image.url
    - name: flags
      type: array
    - name: git
      type: object
      properties:
        url: {type: string}
        revision: {type: string}
    - name: verbose
      default: "false"
    - name: on-error
      default: continue
  results:
    - name: digest
  workspaces:
    - name: source
    - name: cache
      optional: true
  steps:
    - name: clone
      image: registry.example.com/git:1.0
      onError: $(params.on-error)
      env:
        - name: URL
          value: $(params.git.url)
        - name: REVISION
          value: $(params["git"].revision)
        - name: IMAGE
          value: $(params["image.url"])
        - name: FIRST_FLAG
          value: $(params.flags[0])
        - name: RUN
          value: $(context.taskRun.name)-$(context.task.retry-count)
      workingDir: $(workspaces.source.path)
      script: |
        #!/bin/sh
        set -e
        git clone "$URL" .
        echo -n "$IMAGE" > $(results.digest.path)
        echo done > $(step.results.out.path)
      results:
        - name: out
    - name: build
      image: registry.example.com/builder:1.0
      args: ["build", "$(params.flags[*])", "--verbose=$(params.verbose)"]
      when:
        - input: $(workspaces.cache.bound)
          operator: in
          values: ["true"]
    - name: scan
      ref:
        name: scan-action
      params:
        - name: flags
          value: $(params.flags[*])
"#;

    #[test]
    fn modern_task_syntax_is_clean() {
        assert_eq!(ours(MODERN_TASK), Vec::<(String, usize)>::new());
    }

    #[test]
    fn undefined_params_and_keys_are_named_with_the_declared_ones() {
        let yaml = MODERN_TASK
            .replace("value: $(params.git.url)", "value: $(params.git.branch)")
            .replace(
                "value: $(params[\"image.url\"])",
                "value: $(params.image-url)",
            );
        let findings = lint(&yaml, Profile::Core);
        let undefined: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "undefined-param-ref")
            .collect();
        assert_eq!(undefined.len(), 2, "{undefined:#?}");
        assert!(
            undefined[0].message.contains("key \"branch\"")
                && undefined[0].message.contains("revision, url")
        );
        assert_eq!(undefined[0].line, 32);
        assert!(
            undefined[1].message.contains("\"image-url\"")
                && undefined[1].message.contains("image.url")
        );
        assert_eq!(undefined[0].severity, Severity::Error);
    }

    #[test]
    fn legacy_input_params_are_params() {
        let yaml = "apiVersion: tekton.dev/v1beta1\nkind: Task\nmetadata: {name: t}\nspec:\n  params: [{name: a}]\n  \
                    steps:\n    - name: s\n      image: alpine:3\n      args: [\"$(inputs.params.a)\", \"$(inputs.params.b)\"]\n";
        assert_eq!(ours(yaml), vec![("undefined-param-ref".to_string(), 9)]);
    }

    #[test]
    fn every_substituted_field_is_checked() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  workspaces:
    - name: w
      mountPath: /w/$(params.nope1)
  volumes:
    - name: cfg
      configMap:
        name: $(params.nope2)
  stepTemplate:
    env:
      - name: A
        value: $(params.nope3)
  sidecars:
    - name: side
      image: $(params.nope4)
  steps:
    - name: s
      image: alpine:3
      workingDir: $(workspaces.w.path)
      volumeMounts:
        - name: cfg
          mountPath: /cfg/$(params.nope5)
      env:
        - name: B
          valueFrom:
            secretKeyRef:
              name: $(params.nope6)
              key: token
"#;
        assert_eq!(
            hits(yaml, "undefined-param-ref"),
            vec![8, 12, 16, 19, 26, 31]
        );
    }

    #[test]
    fn inline_task_specs_see_their_own_and_the_pipelines_params() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  params:
    - name: repo
    - name: platforms
      type: array
  workspaces:
    - name: shared
  tasks:
    - name: build
      matrix:
        params:
          - name: platform
            value: $(params.platforms[*])
      workspaces:
        - name: shared
      taskSpec:
        params:
          - name: own
            default: x
        steps:
          - name: s
            image: alpine:3
            env:
              - name: A
                value: $(params.own)-$(params.repo)-$(params.platform)
              - name: W
                value: $(workspaces.shared.path)
              - name: R
                value: $(context.pipelineRun.name)-$(context.taskRun.name)
              - name: BAD
                value: $(params.missing)
  finally:
    - name: report
      params:
        - name: status
          value: $(tasks.status)
      taskRef:
        name: report
"#;
        assert_eq!(ours(yaml), vec![("undefined-param-ref".to_string(), 35)]);
    }

    #[test]
    fn pipeline_refs_are_checked_in_params_when_and_bindings() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  params:
    - name: url
  workspaces:
    - name: src
    - name: spare
  tasks:
    - name: clone
      taskRef:
        name: git-clone
      params:
        - name: url
          value: $(params.ur)
        - name: run
          value: $(context.pipelineRun.nam)
      when:
        - input: $(params.url)
          operator: notin
          values: [""]
      workspaces:
        - name: output
          workspace: sorce
        - name: src
"#;
        assert_eq!(
            ours(yaml),
            vec![
                ("unused-workspace".to_string(), 10),
                ("undefined-param-ref".to_string(), 17),
                ("undefined-context-ref".to_string(), 19),
                ("undefined-workspace-ref".to_string(), 26),
            ]
        );
    }

    #[test]
    fn a_matrixed_display_name_sees_the_matrix_params() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  tasks:
    - name: browsers
      displayName: "$(params.platform) on $(params.browser)"
      matrix:
        params:
          - name: platform
            value: [linux, mac]
        include:
          - name: extra
            params:
              - name: browser
                value: chrome
      taskRef: {name: t}
    - name: plain
      displayName: "$(params.platform)"
      taskRef: {name: t}
"#;
        assert_eq!(hits(yaml, "undefined-param-ref"), vec![20]);
    }

    #[test]
    fn a_pipeline_task_param_may_name_the_tasks_workspace() {
        // The value is substituted again in the TaskRun, where `source` is the Task's workspace.
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  workspaces:
    - name: git-source
  tasks:
    - name: build
      taskRef: {name: kaniko}
      params:
        - name: DOCKERFILE
          value: $(workspaces.source.path)/Dockerfile
      workspaces:
        - name: source
          workspace: git-source
      when:
        - input: $(workspaces.source.bound)
          operator: in
          values: ["true"]
"#;
        assert_eq!(hits(yaml, "undefined-workspace-ref"), vec![18]);
    }

    #[test]
    fn results_and_step_results_must_be_declared() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  results:
    - name: digest
  steps:
    - name: s
      image: alpine:3
      results:
        - name: out
      script: |
        echo > $(results.digest.path)
        echo > $(results.digst.path)
        echo > $(step.results.out.path)
        echo > $(step.results.ot.path)
"#;
        assert_eq!(hits(yaml, "undefined-result-ref"), vec![15, 17]);
    }

    const STEP_RESULTS_TASK: &str = r#"
apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata: {name: checksum}
spec:
  image: alpine:3
  results:
    - name: sum
  script: |
    sha256sum /etc/os-release > $(step.results.sum.path)
---
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  results:
    - name: sum
      value: $(steps.hash.results.sum)
    - name: remote
      value: $(steps.remote.results.anything)
  steps:
    - name: produce
      image: alpine:3
      results:
        - name: list
          type: array
        - name: obj
          type: object
          properties:
            url: {type: string}
        - name: dotted.name
      script: |
        echo > $(step.results.list.path)
    - name: hash
      ref:
        name: checksum
      params:
        - name: input
          value: $(steps.produce.results.obj.url)
    - name: remote
      ref:
        resolver: git
        params:
          - name: pathInRepo
            value: stepaction/x.yaml
    - name: unknown-action
      ref:
        name: not-in-corpus
    - image: alpine:3
      command: ["$(steps.produce.results.list[*])"]
      args: ["$(steps.produce.results.list[0])", "$(steps.produce.results[\"dotted.name\"])"]
      env:
        - name: SUM
          value: $(steps.hash.results.sum)-$(steps.unknown-action.results.x)
        - name: EXIT
          value: $(steps.step-produce.exitCode.path)
      when:
        - input: $(steps.produce.results.dotted.name)
          operator: in
          values: ["$(steps.remote.results.y)"]
      script: |
        cat $(steps.step-unnamed-4.exitCode.path) $(steps.step-hash.exitCode.path)
"#;

    #[test]
    fn step_results_of_earlier_steps_and_exit_codes_are_clean() {
        assert_eq!(ours(STEP_RESULTS_TASK), Vec::<(String, usize)>::new());
    }

    #[test]
    fn step_results_must_name_a_step_and_a_result_it_declares() {
        let yaml = STEP_RESULTS_TASK
            .replace(
                "value: $(steps.hash.results.sum)\n",
                "value: $(steps.hsah.results.sum)\n",
            )
            .replace(
                "$(steps.produce.results.obj.url)",
                "$(steps.produce.results.objects.url)",
            )
            .replace(
                "value: $(steps.hash.results.sum)-",
                "value: $(steps.hash.results.summ)-",
            );
        let findings = lint(&yaml, Profile::Core);
        let undefined: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "undefined-result-ref")
            .collect();
        let lines: Vec<_> = undefined.iter().map(|f| f.line).collect();
        assert_eq!(lines, vec![18, 39, 54], "{undefined:#?}");
        assert!(
            undefined[0].message.contains("step \"hsah\"")
                && undefined[0]
                    .message
                    .contains("steps: produce, hash, remote, unknown-action"),
            "{}",
            undefined[0].message
        );
        assert!(
            undefined[1].message.contains("step \"produce\"")
                && undefined[1]
                    .message
                    .contains("declared: dotted.name, list, obj"),
            "{}",
            undefined[1].message
        );
        assert!(
            undefined[2]
                .message
                .contains("the StepAction of step \"hash\"")
                && undefined[2].message.contains("declared: sum"),
            "{}",
            undefined[2].message
        );
        assert_eq!(undefined[0].severity, Severity::Error);
    }

    #[test]
    fn a_step_cannot_read_its_own_or_a_later_steps_results() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  steps:
    - name: first
      image: alpine:3
      results:
        - name: out
      args: ["$(steps.first.results.out)", "$(steps.second.results.out)"]
    - name: second
      image: alpine:3
      results:
        - name: out
      args: ["$(steps.first.results.out)"]
"#;
        let findings = lint(yaml, Profile::Core);
        let messages: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "undefined-result-ref")
            .map(|f| (f.line, f.message.as_str()))
            .collect();
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(messages[0].0 == 11 && messages[0].1.contains("its own result"));
        assert!(messages[1].0 == 11 && messages[1].1.contains("step \"second\", which runs after"));
    }

    #[test]
    fn exit_code_paths_must_name_a_step_container() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  tasks:
    - name: audit
      taskSpec:
        steps:
          - name: audit
            image: alpine:3
            onError: continue
            script: exit 1
          - image: alpine:3
            script: exit 0
          - name: report
            image: alpine:3
            env:
              - name: A
                value: $(steps.step-audit.exitCode.path)
              - name: B
                value: $(steps.step-unnamed-1.exitCode.path)
              - name: C
                value: $(steps.audit.exitCode.path)
              - name: D
                value: $(steps.step-adit.exitCode.path)
              - name: E
                value: $(steps.step-audit.exitCode)
"#;
        let findings = lint(yaml, Profile::Core);
        let undefined: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "undefined-result-ref")
            .collect();
        let lines: Vec<_> = undefined.iter().map(|f| f.line).collect();
        assert_eq!(lines, vec![24, 26, 28], "{undefined:#?}");
        assert!(undefined[0]
            .message
            .contains("write $(steps.step-audit.exitCode.path)"));
        assert!(undefined[1]
            .message
            .contains("here: step-audit, step-unnamed-1, step-report"));
        assert!(undefined[2].message.contains("is not a variable"));
    }

    #[test]
    fn step_action_results_and_script_params() {
        let yaml = r#"
apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata: {name: sa}
spec:
  image: alpine:3
  params:
    - name: msg
  results:
    - name: out
  script: |
    echo "$(params.msg)" > $(step.results.out.path)
    echo > $(step.results.other.path)
"#;
        let findings = lint(yaml, Profile::Core);
        let in_script: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "params-in-script")
            .collect();
        assert_eq!(in_script.len(), 1);
        assert_eq!(
            (
                in_script[0].line,
                in_script[0].column,
                in_script[0].severity
            ),
            (12, 11, Severity::Error)
        );
        assert!(
            in_script[0].message.contains("name: MSG") && in_script[0].message.contains("\"$MSG\"")
        );
        assert_eq!(hits(yaml, "undefined-result-ref"), vec![13]);
    }

    #[test]
    fn params_in_scripts_and_sh_c_args() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  params:
    - name: url
  steps:
    - name: script
      image: alpine:3
      script: |
        curl "$(params.url)"
    - name: sh-c
      image: alpine:3
      command: [sh, -c]
      args: ["curl $(params.url)", "$(params.url)"]
    - name: bash-ec
      image: alpine:3
      command: [/bin/bash]
      args: [-ec, "curl $(params['url'])"]
    - name: plain-args
      image: curlimages/curl:8
      command: [curl]
      args: ["-c", "$(params.url)"]
"#;
        let findings = lint(yaml, Profile::Core);
        let in_script: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "params-in-script")
            .collect();
        let positions: Vec<_> = in_script.iter().map(|f| (f.line, f.column)).collect();
        assert_eq!(positions, vec![(12, 15), (16, 20), (20, 25)]);
        assert!(in_script.iter().all(|f| f.severity == Severity::Warning));
        let konflux = lint(yaml, Profile::Konflux);
        assert!(konflux
            .iter()
            .filter(|f| f.rule == "params-in-script")
            .all(|f| f.severity == Severity::Error));
    }

    #[test]
    fn arrays_and_objects_used_whole() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  params:
    - name: list
      type: array
    - name: obj
      properties:
        k: {type: string}
    - name: s
  steps:
    - name: ok
      image: alpine:3
      command: ["$(params.list[*])"]
      args: ["$(params.obj[*])", "$(params.list[1])", "$(params.obj.k)", "$(params.s)"]
    - name: bad
      image: alpine:3
      args: ["--flags=$(params.list[*])"]
      env:
        - name: A
          value: $(params.list)
      script: |
        echo $(params.s[*])
"#;
        assert_eq!(hits(yaml, "array-param-misuse"), vec![20, 23, 25]);
    }

    #[test]
    fn a_pipeline_may_pass_arrays_whole() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  params:
    - name: list
      type: array
  tasks:
    - name: a
      taskRef: {name: t}
      params:
        - name: x
          value: $(params.list)
        - name: w
          value: ["$(params.list[*])", "extra"]
        - name: z
          value: "prefix-$(params.list[*])"
"#;
        assert_eq!(hits(yaml, "array-param-misuse"), vec![18]);
    }

    #[test]
    fn context_depends_on_the_kind() {
        let task = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps:\n    - name: s\n      \
                    image: alpine:3\n      env:\n        - {name: A, value: $(context.pipelineRun.name)}\n        \
                    - {name: B, value: $(context.taskRun.uid)}\n";
        let findings = lint(task, Profile::Core);
        let context: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "undefined-context-ref")
            .collect();
        assert_eq!(context.len(), 1);
        assert_eq!(context[0].line, 9);
        assert!(
            context[0].message.contains("only in a Pipeline"),
            "{}",
            context[0].message
        );
    }

    #[test]
    fn workspaces_in_steps_must_be_declared() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  workspaces:
    - name: src
  steps:
    - name: s
      image: alpine:3
      workspaces:
        - name: src
        - name: cache
      args: ["$(workspaces.src.paht)", "$(workspaces.out.path)"]
"#;
        assert_eq!(hits(yaml, "undefined-workspace-ref"), vec![13, 14, 14]);
    }

    #[test]
    fn unsubstituted_fields_are_flagged() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: t
  labels:
    app: $(params.app)
spec:
  description: Builds $(params.app), named after $(context.taskRun.name)
  displayName: Build $(params.app)
  params:
    - name: app
    - name: uid
      description: the user id, e.g. $(params.app)
  steps:
    - name: s
      image: alpine:3
      args: ["$(params.app)"]
      securityContext:
        runAsUser: $(params.uid)
"#;
        // Descriptions document variables; they are left alone.
        let unsubstituted = hits(yaml, "substitution-in-unsupported-field");
        assert_eq!(unsubstituted, vec![7, 10, 20]);
        assert_eq!(hits(yaml, "unused-param"), vec![13]);
    }

    #[test]
    fn unused_params_and_workspaces() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  params:
    - name: used
    - name: via-default
    - name: derived
      default: "$(params.via-default)/x"
    - name: unused
  workspaces:
    - name: by-path
    - name: by-variable
    - name: explicit
      mountPath: /root/.docker
    - name: idle
  steps:
    - name: s
      image: alpine:3
      args: ["$(params.used)", "$(params.derived)", "$(workspaces.by-variable.path)"]
      script: |
        ls /workspace/by-path
"#;
        assert_eq!(hits(yaml, "unused-param"), vec![11]);
        assert_eq!(hits(yaml, "unused-workspace"), vec![17]);
    }

    #[test]
    fn runs_propagate_params_and_workspaces_into_inline_specs() {
        let yaml = r#"
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: pr}
spec:
  params:
    - name: greeting
      value: hi
  workspaces:
    - name: data
      emptyDir: {}
  pipelineSpec:
    tasks:
      - name: hello
        taskSpec:
          steps:
            - name: s
              image: alpine:3
              args: ["$(params.greeting)", "$(workspaces.data.path)", "$(params.nope)"]
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: tr}
spec:
  params:
    - name: greeting
      value: hi
  taskSpec:
    steps:
      - name: s
        image: alpine:3
        args: ["$(params.greeting)", "$(params.nope)"]
"#;
        assert_eq!(hits(yaml, "undefined-param-ref"), vec![19, 32]);
        assert_eq!(ours(yaml).len(), 2);
    }

    #[test]
    fn shell_script_element_follows_dash_c() {
        let container = |yaml: &str| {
            crate::tekton::yaml::parse_stream(yaml)
                .documents
                .remove(0)
                .root
        };
        let find = |yaml: &str| super::shell_script_element(&container(yaml));
        assert_eq!(find("command: [sh, -c]\nargs: [x]"), Some(("args", 0)));
        assert_eq!(
            find("command: [/usr/bin/env, bash, -euxc, x]"),
            Some(("command", 3))
        );
        assert_eq!(
            find("command: [bash]\nargs: [-o, pipefail, -c, x, y]"),
            Some(("args", 3))
        );
        assert_eq!(find("command: [python, -c, x]"), None);
        assert_eq!(find("args: [-c, x]"), None);
        assert_eq!(find("command: [sh, --check, x]"), None);
    }
}
