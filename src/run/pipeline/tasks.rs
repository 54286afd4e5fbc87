//! A Pipeline's tasks before they run: the Task body each one runs (an inline `taskSpec`, or the
//! referenced Task from local files), the reconciler's substitution stages applied to every task
//! (and propagated into inline bodies), Tekton's workspace propagation, and the workspaces a
//! task's TaskRun is given.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value as Json;

use super::{Plan, Run};
use crate::core::error::Error;
use crate::run::params::{self, ParamValue};
use crate::run::prepare::WorkspaceView;
use crate::run::subst::{key, Replacements};
use crate::run::taskrun::{Engine, WorkspaceBinding};
use crate::tekton::model::{
    Kind, PipelineTask, Resource, TaskSpec, WorkspaceBinding as PipelineWorkspaceBinding,
    WorkspaceDecl,
};

/// The Task body a Pipeline task runs and the Task's name (empty for an inline body); the file
/// it came from joins `files`, to be validated.
pub fn task_body(
    engine: &Engine,
    task: &PipelineTask,
    files: &mut BTreeSet<PathBuf>,
) -> anyhow::Result<(String, TaskSpec)> {
    let what = format!("pipeline task {:?}", task.name);
    if task.pipeline_ref.is_some() || task.pipeline_spec.is_some() {
        return Err(Error::usage(format!("{what}: a Pipeline in a Pipeline (pipelineRef or pipelineSpec in a task, alpha) is not supported by stepkit task run yet")).into());
    }
    if let Some(embedded) = &task.task_spec {
        if embedded.spec.steps.is_empty() {
            return Err(Error::usage(format!("{what}: an embedded custom task (taskSpec without steps) is not supported by stepkit task run")).into());
        }
        return Ok((String::new(), embedded.spec.clone()));
    }
    let reference = task.task_ref.clone().unwrap_or_default();
    let doc = engine.catalog.resolve(&reference, Kind::Task, &what)?;
    files.insert(engine.catalog.corpus.files[doc.file].path.clone());
    match &doc.resource {
        Some(Resource::Task(spec)) => Ok((doc.name().to_string(), spec.clone())),
        _ => Err(Error::usage(format!(
            "{what}: Task {} cannot be read: {}",
            doc.name(),
            crate::run::load::unreadable(doc)
        ))
        .into()),
    }
}

/// The Task body a task runs: its inline spec as substituted, or the referenced Task's; either
/// with the pod template's volumes.
pub fn body_of(task: &PipelineTask, plan: &Plan) -> (String, TaskSpec) {
    let (name, mut spec) = plan.bodies[&task.name].clone();
    if let Some(embedded) = &task.task_spec {
        spec = embedded.spec.clone();
        spec.volumes.extend(plan.volumes.of(&task.name));
    }
    (name, spec)
}

/// Applies a stage's table to every Pipeline task, and into inline Task bodies (a Pipeline
/// task's own param of the same name shadows the Pipeline's there).
pub fn apply_pipeline(tasks: &mut [PipelineTask], table: &Replacements) {
    for task in tasks {
        table.apply_bindings(&mut task.params);
        if let Some(matrix) = &mut task.matrix {
            table.apply_bindings(&mut matrix.params);
            for include in &mut matrix.include {
                table.apply_bindings(&mut include.params);
            }
        }
        if let Some(name) = &mut task.display_name {
            *name = table.apply(name);
        }
        for binding in &mut task.workspaces {
            if let Some(sub) = &mut binding.sub_path {
                *sub = table.apply(sub);
            }
        }
        for when in &mut task.when {
            if let Some(input) = &mut when.input {
                table.apply_json(input);
            }
            if let Some(values) = &mut when.values {
                let mut json = Json::from(values.clone());
                table.apply_json(&mut json);
                *values = json.as_array().cloned().unwrap_or_default();
            }
        }
        if let Some(reference) = &mut task.task_ref {
            table.apply_bindings(&mut reference.params);
            if let Some(name) = &mut reference.name {
                *name = table.apply(name);
            }
        }
        if let Some(on_error) = &mut task.on_error {
            *on_error = table.apply(on_error);
        }
        if let Some(embedded) = &mut task.task_spec {
            let mut scoped = table.clone();
            if let Ok(own) = params::from_bindings(&task.params, "") {
                for (name, value) in &own {
                    if table.get(&key(&["params", name])).is_some()
                        || !matches!(value, ParamValue::String(_))
                    {
                        scoped.value("params", name, value);
                    }
                }
            }
            scoped.apply_task(&mut embedded.spec);
        }
    }
}

/// Tekton's workspace propagation: a Pipeline workspace an inline Task body uses without
/// declaring it is declared there and bound to the Pipeline's workspace of that name.
pub fn propagate_workspaces(task: &mut PipelineTask, pipeline_workspaces: &[String]) {
    let Some(embedded) = &mut task.task_spec else {
        return;
    };
    // Every string of the body, as its debug text shows them.
    let text = format!(
        "{:?}{:?}{:?}",
        embedded.spec.steps, embedded.spec.sidecars, embedded.spec.step_template
    );
    for name in pipeline_workspaces {
        let used = text.contains(&format!("$(workspaces.{name}."));
        let declared = embedded.spec.workspaces.iter().any(|w| w.name == *name);
        if !used || declared {
            continue;
        }
        embedded.spec.workspaces.push(WorkspaceDecl {
            name: name.clone(),
            ..Default::default()
        });
        if !task.workspaces.iter().any(|b| b.name == *name) {
            task.workspaces.push(PipelineWorkspaceBinding {
                name: name.clone(),
                workspace: Some(name.clone()),
                sub_path: None,
            });
        }
    }
}

/// How a task's workspaces look to its Task body once bound.
pub fn workspace_views(run: &Run, task: &PipelineTask) -> Vec<WorkspaceView> {
    task.workspaces
        .iter()
        .map(|b| {
            let pipeline_ws = b.workspace.clone().unwrap_or_else(|| b.name.clone());
            let source = run.workspaces.get(&pipeline_ws);
            WorkspaceView {
                name: b.name.clone(),
                bound: source.is_some(),
                claim: source.map_or(String::new(), |(s, _)| s.claim().to_string()),
            }
        })
        .collect()
}

/// The workspaces a task's TaskRun is given: the Pipeline's bindings, sub paths joined.
pub fn workspace_bindings(run: &Run, task: &PipelineTask) -> Vec<WorkspaceBinding> {
    task.workspaces
        .iter()
        .filter_map(|b| {
            let pipeline_ws = b.workspace.clone().unwrap_or_else(|| b.name.clone());
            let (source, base_sub) = run.workspaces.get(&pipeline_ws)?;
            let sub_path = match (
                base_sub.as_deref().filter(|s| !s.is_empty()),
                b.sub_path.as_deref().filter(|s| !s.is_empty()),
            ) {
                (Some(a), Some(b)) => Some(format!("{a}/{b}")),
                (a, b) => a.or(b).map(str::to_string),
            };
            Some(WorkspaceBinding {
                name: b.name.clone(),
                source: source.clone(),
                sub_path,
            })
        })
        .collect()
}
