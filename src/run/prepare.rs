//! From a Task body and a TaskRun's inputs to the steps that will run, as Tekton's reconciler
//! builds a pod: StepActions resolved and their params applied, then the substitution stages in
//! the reconciler's order (params, context, result paths, exit-code paths, workspaces), then the
//! step template merged in, and each image given the runtime that will run it. Features stepkit
//! does not support are refused here, by name, before anything runs.

use std::collections::BTreeMap;
use std::time::Duration;

use super::load::Catalog;
use super::params::{self, ParamValue, Params};
use super::runtime::{ImageMap, RuntimeKind};
use super::subst::{key, Replacements};
use crate::core::error::Error;
use crate::tekton::model::{
    Container, EnvVar, Kind, Resource, ResultSpec, Step, TaskSpec, VolumeMount, WhenExpression,
    WorkspaceUsage,
};

/// Tekton's fixed paths, in the container's view.
pub const RESULTS_PATH: &str = "/tekton/results";
pub const STEPS_PATH: &str = "/tekton/steps";
pub const CREDS_PATH: &str = "/tekton/creds";
pub const WORKSPACE_ROOT: &str = "/workspace";

/// What the reconciler knows about a TaskRun when it substitutes.
#[derive(Debug, Clone)]
pub struct TaskContext {
    pub task_run: String,
    pub task_name: String,
    pub namespace: String,
    pub uid: String,
    pub retry_count: usize,
}

/// A workspace as the Task sees it once bound.
#[derive(Debug, Clone)]
pub struct WorkspaceView {
    pub name: String,
    pub bound: bool,
    pub claim: String,
}

/// One step, ready to start.
#[derive(Debug, Clone)]
pub struct PreparedStep {
    /// `step-<name>` or `step-unnamed-<i>`, as Tekton names the container.
    pub container_name: String,
    /// The name people see.
    pub name: String,
    pub container: Container,
    pub continue_on_error: bool,
    pub timeout: Option<Duration>,
    pub results: Vec<ResultSpec>,
    pub when: Vec<WhenExpression>,
    pub runtime: RuntimeKind,
}

/// A sidecar, ready to start.
#[derive(Debug, Clone)]
pub struct PreparedSidecar {
    pub name: String,
    pub container: Container,
    pub runtime: RuntimeKind,
}

/// A Task body after resolution and substitution.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub spec: TaskSpec,
    pub steps: Vec<PreparedStep>,
    pub sidecars: Vec<PreparedSidecar>,
}

/// `step-<name>`, or `step-unnamed-<i>` for a step without a name.
pub fn container_name(name: Option<&str>, index: usize) -> String {
    match name.filter(|n| !n.is_empty()) {
        Some(name) => format!("step-{name}"),
        None => format!("step-unnamed-{index}"),
    }
}

/// The param table of a Task: its defaults (a default may use other params), then the params
/// given, which win. Every given param is substituted, declared or not, as Tekton does.
pub fn param_table(
    specs: &[crate::tekton::model::ParamSpec],
    given: &Params,
) -> anyhow::Result<Replacements> {
    let mut values: BTreeMap<String, ParamValue> = BTreeMap::new();
    let mut pending = Vec::new();
    for spec in specs {
        if let Some(default) = params::default_of(spec).map_err(Error::usage)? {
            match &default {
                ParamValue::String(text) if text.contains("$(params.") => {
                    pending.push((spec.name.clone(), text.clone()))
                }
                _ => {
                    values.insert(spec.name.clone(), default);
                }
            }
        }
    }
    for (name, value) in given {
        let merged = match (values.get(name), value) {
            (Some(ParamValue::Object(base)), ParamValue::Object(over)) => {
                let mut merged = base.clone();
                merged.extend(over.clone());
                ParamValue::Object(merged)
            }
            _ => value.clone(),
        };
        pending.retain(|(n, _)| n != name);
        values.insert(name.clone(), merged);
    }
    // Defaults that refer to other params, resolved in as many rounds as it takes; a cycle is
    // left as far as it resolved.
    while !pending.is_empty() {
        let table = table_of(&values);
        let waiting: Vec<String> = pending.iter().map(|(n, _)| n.clone()).collect();
        let before = pending.len();
        pending.retain(|(name, text)| {
            if pending_names(text)
                .iter()
                .any(|n| n != name && waiting.contains(n))
            {
                return true;
            }
            values.insert(name.clone(), ParamValue::String(table.apply(text)));
            false
        });
        if pending.len() == before {
            for (name, text) in pending.drain(..) {
                values.insert(name, ParamValue::String(table.apply(&text)));
            }
        }
    }
    let mut table = table_of(&values);
    // An object's default keys stay when it was given as a reference Tekton could not resolve.
    for spec in specs {
        if let (Ok(Some(ParamValue::Object(defaults))), Some(given)) =
            (params::default_of(spec), values.get(&spec.name))
        {
            if !matches!(given, ParamValue::Object(_)) {
                for (k, v) in defaults {
                    table.set(key(&["params", &spec.name, &k]), v);
                }
            }
        }
    }
    Ok(table)
}

fn table_of(values: &BTreeMap<String, ParamValue>) -> Replacements {
    let mut table = Replacements::default();
    for (name, value) in values {
        table.value("params", name, value);
    }
    table
}

fn pending_names(text: &str) -> Vec<String> {
    crate::tekton::expr::references(text)
        .into_iter()
        .filter(|r| r.root() == "params")
        .filter_map(|r| r.segments.get(1).cloned())
        .collect()
}

/// Resolves, substitutes and checks a Task body for one TaskRun.
pub fn prepare(
    spec: &TaskSpec,
    given: &Params,
    context: &TaskContext,
    workspaces: &[WorkspaceView],
    catalog: &Catalog,
    images: &ImageMap,
) -> anyhow::Result<Prepared> {
    let owner = format!("TaskRun {}", context.task_run);
    refuse_unsupported(spec, &owner)?;
    let mut spec = spec.clone();
    let task_params = param_table(&spec.params, given)?;
    for (i, step) in spec.steps.iter_mut().enumerate() {
        if step.ref_.is_some() {
            resolve_step_action(step, i, &task_params, catalog, &owner)?;
        }
    }

    task_params.apply_task(&mut spec);
    context_table(context).apply_task(&mut spec);
    for (i, step) in spec.steps.iter_mut().enumerate() {
        let mut paths = Replacements::default();
        let dir = format!(
            "{STEPS_PATH}/{}",
            container_name(step.container.name.as_deref(), i)
        );
        paths.set(
            "step.artifacts.path",
            format!("{dir}/artifacts/provenance.json"),
        );
        for result in &step.results {
            paths.set(
                key(&["step", "results", &result.name, "path"]),
                format!("{dir}/results/{}", result.name),
            );
        }
        paths.apply_step(step);
    }
    let mut paths = Replacements::default();
    for result in &spec.results {
        paths.set(
            key(&["results", &result.name, "path"]),
            format!("{RESULTS_PATH}/{}", result.name),
        );
    }
    for (i, step) in spec.steps.iter().enumerate() {
        let name = container_name(step.container.name.as_deref(), i);
        paths.set(
            key(&["steps", &name, "exitCode", "path"]),
            format!("{STEPS_PATH}/{name}/exitCode"),
        );
    }
    paths.set("credentials.path", CREDS_PATH);
    paths.set("artifacts.path", "/tekton/artifacts/provenance.json");
    paths.apply_task(&mut spec);
    apply_workspaces(&mut spec, workspaces);

    let mut steps = Vec::new();
    for (i, step) in spec.steps.iter().enumerate() {
        let mut container = merge_template(spec.step_template.as_ref(), &step.container);
        let name = container_name(step.container.name.as_deref(), i);
        let label_name = step
            .container
            .name
            .clone()
            .unwrap_or_else(|| format!("unnamed-{i}"));
        let runtime = runtime_of(&container, images, &format!("step {label_name:?}"), &owner)?;
        let no_command = container.command.as_ref().is_none_or(|c| c.is_empty());
        if no_command && container.script.as_deref().unwrap_or("").is_empty() {
            let mut entrypoint = images.entrypoint_for(container.image.as_deref().unwrap_or(""));
            if runtime == RuntimeKind::Stepkit && entrypoint.is_empty() {
                // The stepkit image's ENTRYPOINT.
                entrypoint = vec!["stepkit".to_string()];
            }
            if !entrypoint.is_empty() {
                container.command = Some(
                    entrypoint
                        .into_iter()
                        .map(serde_json::Value::from)
                        .collect(),
                );
            }
        }
        let on_error = step.on_error.as_deref().unwrap_or("stopAndFail");
        if !matches!(on_error, "continue" | "stopAndFail") {
            return Err(Error::usage(format!(
                "{owner}: step {label_name:?} has onError {on_error:?}; Tekton accepts continue or stopAndFail"
            ))
            .into());
        }
        let timeout = step
            .timeout
            .as_deref()
            .map(|t| {
                parse_go_duration(t)
                    .map_err(|e| Error::usage(format!("{owner}: step {label_name:?} timeout: {e}")))
            })
            .transpose()?
            .filter(|d| !d.is_zero());
        steps.push(PreparedStep {
            container_name: name,
            name: label_name,
            container,
            continue_on_error: on_error == "continue",
            timeout,
            results: step.results.clone(),
            when: step.when.clone(),
            runtime,
        });
    }
    let mut sidecars = Vec::new();
    for (i, sidecar) in spec.sidecars.iter().enumerate() {
        let name = sidecar
            .name
            .clone()
            .unwrap_or_else(|| format!("sidecar-{i}"));
        let runtime = runtime_of(sidecar, images, &format!("sidecar {name:?}"), &owner)?;
        sidecars.push(PreparedSidecar {
            name,
            container: sidecar.clone(),
            runtime,
        });
    }
    Ok(Prepared {
        spec,
        steps,
        sidecars,
    })
}

fn context_table(context: &TaskContext) -> Replacements {
    let mut table = Replacements::default();
    table.set("context.taskRun.name", &context.task_run);
    table.set("context.taskRun.namespace", &context.namespace);
    table.set("context.taskRun.uid", &context.uid);
    table.set("context.task.name", &context.task_name);
    table.set("context.task.retry-count", context.retry_count.to_string());
    table
}

/// `$(workspaces.W.path)` for a step or sidecar that mounts workspace `name` at a path of its own.
fn own_workspace_path(
    usages: &[WorkspaceUsage],
    name: &str,
    path_key: &str,
) -> Option<Replacements> {
    let usage = usages.iter().find(|u| u.name == name)?;
    let path = usage.mount_path.as_ref().filter(|p| !p.is_empty())?;
    let mut own = Replacements::default();
    own.set(path_key, path.clone());
    Some(own)
}

/// `$(workspaces.W.*)`: a step or sidecar that mounts the workspace elsewhere sees its own path.
fn apply_workspaces(spec: &mut TaskSpec, workspaces: &[WorkspaceView]) {
    for declaration in spec.workspaces.clone() {
        let view = workspaces.iter().find(|w| w.name == declaration.name);
        let bound = view.is_some_and(|v| v.bound);
        let default_path = declaration
            .mount_path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| format!("{WORKSPACE_ROOT}/{}", declaration.name));
        let path_key = key(&["workspaces", &declaration.name, "path"]);
        let mut table = Replacements::default();
        table.set(
            key(&["workspaces", &declaration.name, "bound"]),
            bound.to_string(),
        );
        table.set(
            key(&["workspaces", &declaration.name, "claim"]),
            view.map_or("", |v| v.claim.as_str()),
        );
        table.set(
            key(&["workspaces", &declaration.name, "volume"]),
            format!("ws-{}", declaration.name),
        );
        if !bound {
            table.set(path_key.clone(), "");
        }
        if bound {
            for step in &mut spec.steps {
                if let Some(own) =
                    own_workspace_path(&step.container.workspaces, &declaration.name, &path_key)
                {
                    own.apply_step(step);
                }
            }
            for sidecar in &mut spec.sidecars {
                if let Some(own) =
                    own_workspace_path(&sidecar.workspaces, &declaration.name, &path_key)
                {
                    own.apply_container(sidecar);
                }
            }
        }
        if bound {
            table.set(path_key, default_path);
        }
        table.apply_task(spec);
    }
}

/// The StepAction a step refers to, with its params applied, merged into the step.
fn resolve_step_action(
    step: &mut Step,
    index: usize,
    task_params: &Replacements,
    catalog: &Catalog,
    owner: &str,
) -> anyhow::Result<()> {
    let reference = step.ref_.clone().unwrap_or_default();
    let step_name = step
        .container
        .name
        .clone()
        .unwrap_or_else(|| format!("unnamed-{index}"));
    let what = format!("{owner}: step {step_name:?}");
    if reference.resolver.as_deref().is_some_and(|r| !r.is_empty()) {
        return Err(Error::usage(format!(
            "{what} refers to a StepAction through the {} resolver; stepkit task run finds StepActions by name in local files (--tasks)",
            reference.resolver.as_deref().unwrap_or_default()
        ))
        .into());
    }
    let name = reference.name.clone().unwrap_or_default();
    let doc = catalog.find(Kind::StepAction, &name).ok_or_else(|| {
        Error::usage(format!(
            "{what} refers to StepAction {name:?}, which is not in the file, under --tasks or beside the file; add its directory with --tasks DIR"
        ))
    })?;
    let Some(Resource::StepAction(action)) = &doc.resource else {
        return Err(Error::usage(format!(
            "{what}: StepAction {name:?} cannot be read: {}",
            super::load::unreadable(doc)
        ))
        .into());
    };
    let mut bindings = step.params.clone();
    task_params.apply_bindings(&mut bindings);
    let given = params::from_bindings(&bindings, &what).map_err(Error::usage)?;
    params::validate(
        &action.params,
        &given,
        &format!("{what} (StepAction {name})"),
    )
    .map_err(Error::usage)?;
    let mut table = param_table(&action.params, &given)?;
    forward_step_results(&mut table, &action.params, &given, &action.container);
    let mut from_action = Step {
        container: action.container.clone(),
        results: action.results.clone(),
        ..Step::default()
    };
    table.apply_step(&mut from_action);
    let c = from_action.container;
    step.container.image = c.image;
    step.container.security_context = c.security_context;
    if c.command.as_ref().is_some_and(|v| !v.is_empty()) {
        step.container.command = c.command;
    }
    if c.args.as_ref().is_some_and(|v| !v.is_empty()) {
        step.container.args = c.args;
    }
    if c.script.as_ref().is_some_and(|s| !s.is_empty()) {
        step.container.script = c.script;
    }
    step.container.working_dir = c.working_dir;
    if !c.env.is_empty() {
        step.container.env = c.env;
    }
    if !c.volume_mounts.is_empty() {
        step.container.volume_mounts = c.volume_mounts;
    }
    if !from_action.results.is_empty() {
        step.results = from_action.results;
    }
    step.ref_ = None;
    step.params.clear();
    Ok(())
}

/// A StepAction param whose value is an earlier step's result (`$(steps.S.results.R)`, with or
/// without `[*]`) is read when the step runs, not now: as Tekton does, the param's array and object
/// forms are replaced by the same forms of that result (`$(params.p[*])` by
/// `$(steps.S.results.R[*])`, `$(params.p[1])` in command, args or env by `...R[1]`,
/// `$(params.p.key)` by `...R.key` for each declared property), which the step's own pass fills.
fn forward_step_results(
    table: &mut Replacements,
    specs: &[crate::tekton::model::ParamSpec],
    given: &Params,
    container: &Container,
) {
    for spec in specs {
        let Some((_, ParamValue::String(value))) = given.iter().find(|(n, _)| *n == spec.name)
        else {
            continue;
        };
        let refs = crate::tekton::expr::references(value);
        let [result] = refs.as_slice() else {
            continue;
        };
        let whole = result.start == 0 && result.end == value.len();
        if !whole || result.segments.len() != 4 || result.segments[0] != "steps" {
            continue;
        }
        let (step, name) = (&result.segments[1], &result.segments[3]);
        match spec.effective_type() {
            "array" => {
                table.set_whole_array(
                    key(&["params", &spec.name]),
                    vec![format!("$(steps.{step}.results.{name}[*])")],
                );
                let texts = container
                    .command
                    .iter()
                    .flatten()
                    .chain(container.args.iter().flatten())
                    .filter_map(|v| v.as_str())
                    .chain(
                        container
                            .env
                            .iter()
                            .filter_map(|e| e.value.as_ref().and_then(|v| v.as_str())),
                    );
                for text in texts {
                    for reference in crate::tekton::expr::references(text) {
                        if let Some(index) = reference.index.filter(|_| {
                            reference.segments.len() == 2
                                && reference.segments[0] == "params"
                                && reference.segments[1] == spec.name
                        }) {
                            table.set(
                                super::subst::key_of(&reference),
                                format!("$(steps.{step}.results.{name}[{index}])"),
                            );
                        }
                    }
                }
            }
            "object" => {
                for property in spec.properties.iter().flat_map(|p| p.keys()) {
                    table.set(
                        key(&["params", &spec.name, property]),
                        format!("$(steps.{step}.results.{name}.{property})"),
                    );
                }
            }
            _ => {}
        }
    }
}

/// The step template under a step: the step's fields win, env and volume mounts merge by name
/// and path (Kubernetes' strategic merge).
fn merge_template(template: Option<&Container>, step: &Container) -> Container {
    let Some(template) = template else {
        return step.clone();
    };
    let pick = |own: &Option<String>, base: &Option<String>| own.clone().or_else(|| base.clone());
    let mut env: Vec<EnvVar> = template
        .env
        .iter()
        .map(|e| {
            step.env
                .iter()
                .find(|s| s.name == e.name)
                .unwrap_or(e)
                .clone()
        })
        .collect();
    env.extend(
        step.env
            .iter()
            .filter(|s| !template.env.iter().any(|e| e.name == s.name))
            .cloned(),
    );
    let mut mounts: Vec<VolumeMount> = template
        .volume_mounts
        .iter()
        .filter(|m| {
            !step
                .volume_mounts
                .iter()
                .any(|s| s.mount_path == m.mount_path)
        })
        .cloned()
        .collect();
    mounts.extend(step.volume_mounts.iter().cloned());
    let mut env_from = template.env_from.clone();
    env_from.extend(step.env_from.iter().cloned());
    Container {
        name: step.name.clone(),
        image: pick(&step.image, &template.image),
        command: step.command.clone().or_else(|| template.command.clone()),
        args: step.args.clone().or_else(|| template.args.clone()),
        working_dir: pick(&step.working_dir, &template.working_dir),
        env,
        env_from,
        volume_mounts: mounts,
        security_context: step
            .security_context
            .clone()
            .or_else(|| template.security_context.clone()),
        script: step.script.clone(),
        image_pull_policy: pick(&step.image_pull_policy, &template.image_pull_policy),
        resources: step
            .resources
            .clone()
            .or_else(|| template.resources.clone()),
        compute_resources: step
            .compute_resources
            .clone()
            .or_else(|| template.compute_resources.clone()),
        workspaces: step.workspaces.clone(),
        readiness_probe: step.readiness_probe.clone(),
    }
}

fn runtime_of(
    container: &Container,
    images: &ImageMap,
    what: &str,
    owner: &str,
) -> anyhow::Result<RuntimeKind> {
    let image = container.image.as_deref().unwrap_or("");
    if image.is_empty() {
        return Err(Error::usage(format!("{owner}: {what} has no image")).into());
    }
    if image.contains("$(") {
        return Err(Error::usage(format!(
            "{owner}: {what} has image {image:?}, whose reference was not resolved"
        ))
        .into());
    }
    images
        .runtime_for(image)
        .map_err(|e| Error::usage(format!("{owner}: {what}: {e}")).into())
}

/// Every string of a Task body's containers, as their debug text shows them.
pub fn body_text(spec: &TaskSpec) -> String {
    format!(
        "{:?}{:?}{:?}",
        spec.steps, spec.sidecars, spec.step_template
    )
}

/// The first reference in `text` that reads Tekton's artifacts (`$(steps.S.inputs.N)`,
/// `$(tasks.T.outputs.N)`, ...): a step may write its provenance file
/// (`$(step.artifacts.path)`), but nothing reads one back here.
pub fn artifact_reference(text: &str) -> Option<String> {
    crate::tekton::expr::references(text)
        .into_iter()
        .find(|r| {
            let path: Vec<&str> = r.segments.iter().map(String::as_str).collect();
            matches!(
                path.as_slice(),
                ["steps" | "tasks", _, "inputs" | "outputs", ..]
            )
        })
        .map(|r| format!("$({})", r.expression))
}

/// Features stepkit does not run, refused by name rather than ignored.
fn refuse_unsupported(spec: &TaskSpec, owner: &str) -> anyhow::Result<()> {
    let refuse = |what: String| -> anyhow::Result<()> {
        Err(Error::usage(format!(
            "{owner}: {what} is not supported by stepkit task run yet"
        ))
        .into())
    };
    if spec.resources.is_some() {
        return refuse("PipelineResources (spec.resources, removed in Tekton v1)".into());
    }
    if let Some(reference) = artifact_reference(&body_text(spec)) {
        return refuse(format!("reading artifacts (alpha; {reference})"));
    }
    for (i, step) in spec.steps.iter().enumerate() {
        let name = step
            .container
            .name
            .clone()
            .unwrap_or_else(|| format!("unnamed-{i}"));
        if step.stdout_config.is_some() || step.stderr_config.is_some() {
            return refuse(format!("step {name:?}: stdoutConfig/stderrConfig (alpha)"));
        }
        if step.when.iter().any(|w| w.cel.is_some()) {
            return refuse(format!("step {name:?}: a CEL when expression"));
        }
        if step
            .container
            .script
            .as_deref()
            .is_some_and(|s| s.trim_start().starts_with("#!win"))
        {
            return refuse(format!("step {name:?}: a Windows script"));
        }
        for env in &step.container.env {
            if env
                .value_from
                .as_ref()
                .is_some_and(|f| f.resource_field_ref.is_some())
            {
                return refuse(format!(
                    "step {name:?}: env {} from resourceFieldRef",
                    env.name
                ));
            }
        }
    }
    for sidecar in &spec.sidecars {
        if let Some(probe) = &sidecar.readiness_probe {
            if probe.get("exec").is_none() {
                return refuse(format!(
                    "sidecar {:?}: a readinessProbe other than exec",
                    sidecar.name.as_deref().unwrap_or("")
                ));
            }
        }
    }
    Ok(())
}

/// A Go duration (`1h30m`, `90s`, `1.5h`, `300ms`, `0`), as Tekton's timeouts are written.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let invalid =
        || format!("invalid duration {text:?}: expected a Go duration such as 90s, 10m or 1h30m");
    let mut rest = text.trim();
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_or_sidecar_mounting_a_workspace_elsewhere_sees_its_own_path_when_bound() {
        let task = |bound: bool| {
            let mut spec: TaskSpec = serde_json::from_value(serde_json::json!({
                "workspaces": [{"name": "src"}],
                "steps": [
                    {"name": "own", "image": "i", "script": "$(workspaces.src.path)",
                     "workspaces": [{"name": "src", "mountPath": "/own"}]},
                    {"name": "shared", "image": "i", "script": "$(workspaces.src.path)"}
                ],
                "sidecars": [{"name": "side", "image": "i", "script": "$(workspaces.src.path)",
                              "workspaces": [{"name": "src", "mountPath": "/side"}]}]
            }))
            .unwrap();
            let view = WorkspaceView {
                name: "src".into(),
                bound,
                claim: String::new(),
            };
            apply_workspaces(&mut spec, &[view]);
            let scripts: Vec<String> = spec
                .steps
                .iter()
                .map(|step| step.container.script.clone().unwrap_or_default())
                .chain(
                    spec.sidecars
                        .iter()
                        .map(|s| s.script.clone().unwrap_or_default()),
                )
                .collect();
            scripts
        };
        assert_eq!(task(true), ["/own", "/workspace/src", "/side"]);
        assert_eq!(task(false), ["", "", ""]);
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("1d").is_err());
    }

    #[test]
    fn defaults_may_use_other_params_and_given_values_win() {
        let specs: Vec<crate::tekton::model::ParamSpec> =
            serde_json::from_value(serde_json::json!([
                {"name": "a", "default": "A"},
                {"name": "b", "default": "$(params.a)-b"},
                {"name": "c", "default": "$(params.b)-c"}
            ]))
            .unwrap();
        let table = param_table(&specs, &vec![]).unwrap();
        assert_eq!(table.apply("$(params.c)"), "A-b-c");
        let given = vec![("a".to_string(), ParamValue::String("x".into()))];
        assert_eq!(
            param_table(&specs, &given).unwrap().apply("$(params.b)"),
            "x-b"
        );
    }
}
