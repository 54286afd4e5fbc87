//! Collecting the model: every string of a spec as a [`Site`] (where it is, what the field
//! accepts, whose declarations it sees) and the scopes they resolve in, following Tekton's
//! substitution code (`ApplyReplacements` for Tasks and Pipelines).

use super::*;

impl<'a> Model<'a> {
    pub(super) fn build(resource: &'a Resource, root: &'a Node, corpus: &'a Corpus) -> Model<'a> {
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
    pub(super) fn add(&mut self, at: &At, node: &'a Node, path: &FieldPath, slot: Slot) {
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

    pub(super) fn task(
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

    pub(super) fn task_body(&mut self, scope: usize, node: &'a Node, path: &FieldPath) {
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

    pub(super) fn declared_step(&self, step: &'a Step) -> DeclaredStep<'a> {
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
    pub(super) fn step_action_results(&self, step_ref: &'a StepRef) -> Option<Vec<&'a str>> {
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

    pub(super) fn step_action(
        &mut self,
        spec: &'a StepActionSpec,
        node: &'a Node,
        path: FieldPath,
    ) {
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

    pub(super) fn pipeline(
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

    pub(super) fn pipeline_task(
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
    pub(super) fn matrix_scope(&mut self, pipeline: usize, task: &'a PipelineTask) -> usize {
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
    pub(super) fn inline_task(
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
    pub(super) fn declared_field(
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
    pub(super) fn param_values(&mut self, at: &At, list: &'a Node, path: &FieldPath) {
        for (i, item) in items(list) {
            if let Some(value) = item.get("value") {
                self.add(at, value, &path.index(i).field("value"), Slot::Value);
            }
        }
    }

    pub(super) fn matrix(&mut self, at: &At, matrix: &'a Node, path: &FieldPath) {
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

    pub(super) fn when_expressions(&mut self, at: &At, list: &'a Node, path: &FieldPath) {
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
    pub(super) fn reference(&mut self, at: &At, reference: &'a Node, path: &FieldPath) {
        for (key, value) in entries(reference) {
            let path = path.field(key);
            match key {
                "params" => self.param_values(at, value, &path),
                "name" => self.add(at, value, &path, Slot::Text),
                _ => self.add(at, value, &path, Slot::Opaque),
            }
        }
    }

    pub(super) fn workspace_bindings(&mut self, at: &At, list: &'a Node, path: &FieldPath) {
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
    pub(super) fn container(&mut self, at: &At, node: &'a Node, path: &FieldPath) {
        let shell_script = shell_script_element(node);
        for (key, value) in entries(node) {
            self.container_field(at, key, value, &path.field(key), shell_script);
        }
    }

    pub(super) fn container_field(
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

    pub(super) fn container_workspaces(&mut self, at: &At, list: &'a Node, path: &FieldPath) {
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
pub(super) fn matrix_param_names(task: &PipelineTask) -> impl Iterator<Item = &str> {
    let matrix = task.matrix.iter();
    let params = matrix.flat_map(|m| {
        m.params
            .iter()
            .chain(m.include.iter().flat_map(|i| &i.params))
    });
    params.map(|p| p.name.as_str())
}

/// v1alpha1 Tasks declared params under `spec.inputs.params`.
pub(super) fn legacy_input_params(spec: &Node) -> Vec<&str> {
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

pub(super) fn json_name(value: &serde_json::Value) -> Option<&str> {
    value.get("name")?.as_str()
}

pub(super) fn entries(node: &Node) -> impl Iterator<Item = (&str, &Node)> {
    node.as_map()
        .unwrap_or(&[])
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?, v)))
}

pub(super) fn items(node: &Node) -> impl Iterator<Item = (usize, &Node)> {
    node.as_seq().unwrap_or(&[]).iter().enumerate()
}

/// `step "build"`, or `steps[2]` for an unnamed one.
pub(super) fn container_owner(kind: &str, list: &FieldPath, index: usize, node: &Node) -> String {
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
pub(super) fn shell_script_element(container: &Node) -> Option<(&'static str, usize)> {
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

pub(super) fn items_of<'n>(node: &'n Node, field: &str) -> impl Iterator<Item = (usize, &'n Node)> {
    node.get(field).into_iter().flat_map(items)
}

/// `-c`, or a cluster of short options that includes it (`-ec`, `-xc`).
pub(super) fn is_dash_c(arg: &str) -> bool {
    arg.strip_prefix('-').is_some_and(|flags| {
        !flags.is_empty() && flags.chars().all(|c| c.is_ascii_alphabetic()) && flags.contains('c')
    })
}
