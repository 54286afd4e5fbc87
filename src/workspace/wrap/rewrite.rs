//! The rewrite of a Pipeline spec from a [`Plan`]: each task that uses a chosen workspace runs
//! its Task inline (`taskSpec`, a `taskRef` resolved locally), with a first step restoring the
//! workspace (`stepkit workspace restore`) and, when it writes, a last step pushing it
//! (`stepkit workspace push`) whose digest-pinned reference becomes a Task result. The sources
//! a reader restores from reach it through one array param whose value the Pipeline fills with
//! its writers' results (which also keeps Tekton's order) or, for writers that may not push,
//! their tags.

use super::plan::{Candidate, Plan, Usage};
use crate::core::error::Error;
use crate::tekton::doc::Doc;

/// The Pipeline param holding the stepkit image, and the Task param it is passed as.
pub const IMAGE_PARAM: &str = "stepkit-image";
/// The Pipeline (and Task) param listing registries spoken to over plain HTTP.
pub const INSECURE_PARAM: &str = "stepkit-insecure-registries";
/// Where the steps keep `$HOME` (Tekton puts credentials there).
const HOME: &str = "/tekton/home";

/// What the rewrite needs beyond the plan.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `REGISTRY/REPO:TAG` per workspace, with `$(context.pipelineTask.name)` still in it.
    pub to: std::collections::BTreeMap<String, String>,
    /// Initial content per workspace.
    pub base: std::collections::BTreeMap<String, String>,
    pub trusted_artifacts: bool,
    pub stepkit_image: String,
    pub insecure_registries: String,
}

impl Settings {
    /// Where `task` pushes `workspace`, as the Pipeline passes it to the task.
    pub fn to_for(&self, workspace: &str, task: &str) -> String {
        self.to[workspace].replace("$(context.pipelineTask.name)", task)
    }
}

/// The Task result holding the reference a writer pushed: `SOURCE_ARTIFACT` for `source`, the
/// Trusted Artifacts naming convention.
pub fn result_name(workspace: &str) -> String {
    let upper: String = workspace
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{upper}_ARTIFACT")
}

fn sources_param(usage: &Usage) -> String {
    format!("oci-ws-{}-sources", usage.task_workspace)
}

fn to_param(usage: &Usage) -> String {
    format!("oci-ws-{}-to", usage.task_workspace)
}

/// The arguments `workspace restore` gets for `usage`, results and tags unresolved.
fn restore_args(usage: &Usage, settings: &Settings) -> Vec<String> {
    let source = |candidate: &Candidate| {
        let task = &candidate.task;
        if candidate.optional {
            format!("{task}?={}", settings.to_for(&usage.workspace, task))
        } else {
            format!(
                "{task}=$(tasks.{task}.results.{})",
                result_name(&usage.workspace)
            )
        }
    };
    let mut args = Vec::new();
    for candidate in &usage.sources {
        args.push("--from".to_string());
        args.push(source(candidate));
        if !candidate.covers.is_empty() {
            args.push("--covers".to_string());
            args.push(format!("{}={}", candidate.task, candidate.covers.join(",")));
        }
    }
    if let Some(merge_base) = &usage.merge_base {
        args.push("--merge-base".to_string());
        args.push(source(merge_base));
    }
    if let Some(base) = settings.base.get(&usage.workspace) {
        args.push("--base".to_string());
        args.push(base.clone());
    }
    args
}

/// Adds the steps, params and results to every task of `spec` the plan names. `task_specs`
/// holds each task's Task (inline or resolved).
pub fn rewrite(
    spec: &mut Doc,
    plan: &Plan,
    task_specs: &super::plan::TaskSpecs,
    settings: &Settings,
    owner: &str,
) -> anyhow::Result<()> {
    for section in ["tasks", "finally"] {
        let Some(tasks) = spec.get_mut(section) else {
            continue;
        };
        let Doc::Seq(tasks) = tasks else { continue };
        for task in tasks {
            let Some(name) = task.get("name").and_then(Doc::as_str).map(str::to_string) else {
                continue;
            };
            let Some(usages) = plan.get(&name) else {
                continue;
            };
            let what = format!("{owner}: task {name:?}");
            rewrite_task(
                task,
                &name,
                task_specs[&name].clone(),
                usages,
                settings,
                &what,
            )?;
        }
    }
    let params = spec
        .seq_mut("params")
        .ok_or_else(|| Error::usage(format!("{owner}: spec.params is not a list")))?;
    let declared = |params: &[Doc], name: &str| {
        params
            .iter()
            .any(|p| p.get("name").and_then(Doc::as_str) == Some(name))
    };
    if !declared(params, IMAGE_PARAM) {
        params.push(Doc::map([
            ("name", Doc::str(IMAGE_PARAM)),
            ("type", Doc::str("string")),
            (
                "description",
                Doc::str("The stepkit image that restores and pushes the workspaces carried over OCI (pin it by digest)."),
            ),
            ("default", Doc::str(&settings.stepkit_image)),
        ]));
    }
    if !declared(params, INSECURE_PARAM) {
        params.push(Doc::map([
            ("name", Doc::str(INSECURE_PARAM)),
            ("type", Doc::str("string")),
            (
                "description",
                Doc::str("Comma-separated HOST:PORT of registries spoken to over plain HTTP; empty for none."),
            ),
            ("default", Doc::str(&settings.insecure_registries)),
        ]));
    }
    Ok(())
}

fn rewrite_task(
    task: &mut Doc,
    name: &str,
    mut task_spec: Doc,
    usages: &[Usage],
    settings: &Settings,
    what: &str,
) -> anyhow::Result<()> {
    // The Task inline, where its reference was.
    if let Doc::Map(entries) = task {
        if let Some(entry) = entries.iter_mut().find(|(k, _)| k == "taskRef") {
            *entry = ("taskSpec".to_string(), Doc::Null);
        }
    }
    let isolated = task_spec
        .get("steps")
        .map(Doc::as_seq)
        .unwrap_or_default()
        .iter()
        .any(|s| s.get("workspaces").is_some());

    // A reader's restore step writes the workspace, and Tekton mounts a readOnly workspace
    // read-only for every step: the workspace is this TaskRun's own emptyDir now, so it is
    // mounted writable and simply not pushed.
    if let Some(Doc::Seq(declared)) = task_spec.get_mut("workspaces") {
        for declaration in declared {
            let name = declaration.get("name").and_then(Doc::as_str).unwrap_or("");
            if usages.iter().any(|u| !u.writes && u.task_workspace == name) {
                declaration.remove("readOnly");
            }
        }
    }

    // Params: declared by the Task, passed by the Pipeline.
    let mut bindings: Vec<(String, Doc)> = vec![
        (
            IMAGE_PARAM.to_string(),
            Doc::str(format!("$(params.{IMAGE_PARAM})")),
        ),
        (
            INSECURE_PARAM.to_string(),
            Doc::str(format!("$(params.{INSECURE_PARAM})")),
        ),
    ];
    let mut declarations: Vec<Doc> = Vec::new();
    let mut first_steps = Vec::new();
    let mut last_steps = Vec::new();
    let mut results = Vec::new();
    let step_names: Vec<String> = task_spec
        .get("steps")
        .map(Doc::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.get("name").and_then(Doc::as_str).map(str::to_string))
        .collect();
    let env = |extra: Option<(&str, String)>| {
        let mut env = vec![
            Doc::map([("name", Doc::str("HOME")), ("value", Doc::str(HOME))]),
            Doc::map([
                ("name", Doc::str("STEPKIT_INSECURE_REGISTRY")),
                ("value", Doc::str(format!("$(params.{INSECURE_PARAM})"))),
            ]),
        ];
        if let Some((name, value)) = extra {
            env.push(Doc::map([
                ("name", Doc::str(name)),
                ("value", Doc::str(value)),
            ]));
        }
        Doc::Seq(env)
    };
    for usage in usages {
        let tw = &usage.task_workspace;
        let path = format!("$(workspaces.{tw}.path)");
        let mut step_workspaces = Vec::new();
        if isolated {
            step_workspaces.push((
                "workspaces",
                Doc::Seq(vec![Doc::map([("name", Doc::str(tw))])]),
            ));
        }
        let restore = restore_args(usage, settings);
        if !restore.is_empty() {
            let param = sources_param(usage);
            bindings.push((
                param.clone(),
                Doc::Seq(restore.into_iter().map(Doc::Str).collect()),
            ));
            declarations.push(Doc::map([
                ("name", Doc::str(&param)),
                ("type", Doc::str("array")),
                (
                    "description",
                    Doc::str(format!(
                        "What workspace {tw} restores from: the writers before this Task (added by stepkit workspace wrap)."
                    )),
                ),
            ]));
            let mut step = vec![
                (
                    "name".to_string(),
                    Doc::str(step_name("oci-restore", tw, &step_names, what)?),
                ),
                (
                    "image".to_string(),
                    Doc::str(format!("$(params.{IMAGE_PARAM})")),
                ),
                ("env".to_string(), env(None)),
                (
                    "args".to_string(),
                    Doc::Seq(vec![
                        Doc::str("workspace"),
                        Doc::str("restore"),
                        Doc::str(&path),
                        Doc::str(format!("$(params.{param}[*])")),
                    ]),
                ),
            ];
            step.extend(
                step_workspaces
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone())),
            );
            first_steps.push(Doc::Map(step));
        }
        if usage.writes {
            let param = to_param(usage);
            let result = result_name(&usage.workspace);
            bindings.push((
                param.clone(),
                Doc::str(settings.to_for(&usage.workspace, name)),
            ));
            declarations.push(Doc::map([
                ("name", Doc::str(&param)),
                ("type", Doc::str("string")),
                (
                    "description",
                    Doc::str(format!(
                        "Where workspace {tw} is pushed after the steps (added by stepkit workspace wrap)."
                    )),
                ),
            ]));
            results.push(Doc::map([
                ("name", Doc::str(&result)),
                (
                    "description",
                    Doc::str(format!(
                        "Workspace {tw} as this Task left it, pinned by digest (added by stepkit workspace wrap)."
                    )),
                ),
            ]));
            let mut to = format!("$(params.{param})");
            if usage.matrix {
                // Each instance of the matrix under a tag of its own.
                to.push_str("-$(context.taskRun.name)");
            }
            let mut args = vec![
                Doc::str("workspace"),
                Doc::str("push"),
                Doc::str(&path),
                Doc::str("--to"),
                Doc::str(to),
                Doc::str("--workspace-name"),
                Doc::str(&usage.workspace),
                Doc::str("--result"),
                Doc::str(format!("$(results.{result}.path)")),
            ];
            if settings.trusted_artifacts {
                args.push(Doc::str("--trusted-artifacts"));
            }
            let mut step = vec![
                (
                    "name".to_string(),
                    Doc::str(step_name("oci-push", tw, &step_names, what)?),
                ),
                (
                    "image".to_string(),
                    Doc::str(format!("$(params.{IMAGE_PARAM})")),
                ),
                ("env".to_string(), env(None)),
                ("args".to_string(), Doc::Seq(args)),
            ];
            step.extend(
                step_workspaces
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone())),
            );
            last_steps.push(Doc::Map(step));
        }
    }

    // The Task's params.
    let declared_params: Vec<String> = names(task_spec.get("params"));
    {
        let params = list_before_steps(&mut task_spec, "params")
            .ok_or_else(|| Error::usage(format!("{what}: the Task's params are not a list")))?;
        for shared in [IMAGE_PARAM, INSECURE_PARAM] {
            if !declared_params.iter().any(|p| p == shared) {
                params.push(Doc::map([
                    ("name", Doc::str(shared)),
                    ("type", Doc::str("string")),
                ]));
            }
        }
        for declaration in declarations {
            let name = declaration.get("name").and_then(Doc::as_str).unwrap_or("");
            if declared_params.iter().any(|p| p == name) {
                return Err(Error::usage(format!(
                    "{what}: the Task already declares a param {name:?}, which wrap adds; rename it"
                ))
                .into());
            }
            params.push(declaration);
        }
    }
    if !results.is_empty() {
        let existing = names(task_spec.get("results"));
        let list = list_before_steps(&mut task_spec, "results")
            .ok_or_else(|| Error::usage(format!("{what}: the Task's results are not a list")))?;
        for result in results {
            let name = result.get("name").and_then(Doc::as_str).unwrap_or("");
            if existing.iter().any(|r| r == name) {
                return Err(Error::usage(format!(
                    "{what}: the Task already declares a result {name:?}, which wrap adds; rename it"
                ))
                .into());
            }
            list.push(result);
        }
    }
    {
        let steps = task_spec
            .seq_mut("steps")
            .ok_or_else(|| Error::usage(format!("{what}: the Task's steps are not a list")))?;
        let own = std::mem::take(steps);
        steps.extend(first_steps);
        steps.extend(own);
        steps.extend(last_steps);
    }

    // The Pipeline task passes the params.
    let passed = names(task.get("params"));
    let params = task
        .seq_mut("params")
        .ok_or_else(|| Error::usage(format!("{what}: params are not a list")))?;
    for (name, value) in bindings {
        if passed.contains(&name) {
            if name == IMAGE_PARAM || name == INSECURE_PARAM {
                continue;
            }
            return Err(Error::usage(format!(
                "{what}: it already passes a param {name:?}, which wrap adds; rename it"
            ))
            .into());
        }
        params.push(Doc::map([("name", Doc::str(name)), ("value", value)]));
    }
    task.set("taskSpec", task_spec);
    Ok(())
}

/// The list under `key`, created before `steps` when absent (where people write it).
fn list_before_steps<'a>(spec: &'a mut Doc, key: &str) -> Option<&'a mut Vec<Doc>> {
    if spec.get(key).is_none() {
        if let Doc::Map(entries) = spec {
            let at = entries
                .iter()
                .position(|(k, _)| k == "steps")
                .unwrap_or(entries.len());
            entries.insert(at, (key.to_string(), Doc::Seq(Vec::new())));
        }
    }
    spec.seq_mut(key)
}

fn names(list: Option<&Doc>) -> Vec<String> {
    list.map(Doc::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|d| d.get("name").and_then(Doc::as_str).map(str::to_string))
        .collect()
}

fn step_name(
    prefix: &str,
    workspace: &str,
    taken: &[String],
    what: &str,
) -> anyhow::Result<String> {
    let name = format!("{prefix}-{workspace}");
    if taken.contains(&name) {
        return Err(Error::usage(format!(
            "{what}: the Task already has a step {name:?}, which wrap adds; rename it"
        ))
        .into());
    }
    Ok(name)
}
