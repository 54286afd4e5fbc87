//! A Task, TaskRun or StepAction run on its own: the Task body (a StepAction becomes a Task of
//! one step; a TaskRun's `taskRef` is resolved from local files), validated with the files it
//! comes from, its params and workspaces bound as a TaskRun's, then executed as one TaskRun.

use std::collections::BTreeSet;
use std::time::Instant;

use super::env::PodMeta;
use super::prepare::{self, prepare, TaskContext, WorkspaceView};
use super::report::{RunReport, Status, TaskReport};
use super::taskrun::{self, Engine, TaskRunInput};
use super::{
    bind_workspaces, doc_labels, generated_name, given_params, new_uid, params, preflight_images,
    refuse_credentials, refuse_run_fields, run_name, shown_name, step_action_files, string_map,
    validate_files, RunOptions, DEFAULT_TIMEOUT,
};
use crate::core::error::Error;
use crate::lint::TektonDoc;
use crate::tekton::model::{Kind, ParamBinding, Resource, ResultSpec, Step, StepRef, TaskSpec};

/// A StepAction as a Task of one step, its params and results passed through.
fn step_action_task(name: &str, doc: &TektonDoc) -> anyhow::Result<TaskSpec> {
    let Some(Resource::StepAction(action)) = &doc.resource else {
        return Err(Error::usage(format!(
            "StepAction {name}: {}",
            super::load::unreadable(doc)
        ))
        .into());
    };
    let params = action
        .params
        .iter()
        .map(|p| {
            let reference = match p.effective_type() {
                "string" => format!("$(params.{})", p.name),
                _ => format!("$(params.{}[*])", p.name),
            };
            ParamBinding {
                name: p.name.clone(),
                value: Some(serde_json::Value::String(reference)),
            }
        })
        .collect();
    let step_name = if doc.name().is_empty() {
        "action"
    } else {
        doc.name()
    };
    let results = action
        .results
        .iter()
        .map(|r| ResultSpec {
            name: r.name.clone(),
            type_: r.type_.clone(),
            value: Some(serde_json::Value::String(format!(
                "$(steps.{step_name}.results.{})",
                r.name
            ))),
            ..ResultSpec::default()
        })
        .collect();
    let mut step = Step {
        ref_: Some(StepRef {
            name: Some(doc.name().to_string()),
            ..StepRef::default()
        }),
        params,
        ..Step::default()
    };
    step.container.name = Some(step_name.to_string());
    Ok(TaskSpec {
        params: action.params.clone(),
        results,
        steps: vec![step],
        ..TaskSpec::default()
    })
}

/// Runs a Task, TaskRun or StepAction document.
pub async fn run(
    engine: &Engine,
    doc: &TektonDoc,
    options: &RunOptions,
) -> anyhow::Result<RunReport> {
    let own_file = engine.catalog.corpus.files[doc.file].path.clone();
    let mut files = BTreeSet::from([own_file]);
    let (task_name, spec, run_params, run_workspaces, timeout, pod_doc) = match &doc.resource {
        Some(Resource::Task(spec)) => (
            doc.name().to_string(),
            spec.clone(),
            Vec::new(),
            Vec::new(),
            None,
            None,
        ),
        Some(Resource::StepAction(_)) => (
            doc.name().to_string(),
            step_action_task(doc.name(), doc)?,
            Vec::new(),
            Vec::new(),
            None,
            None,
        ),
        Some(Resource::TaskRun(run)) => {
            let owner = format!("TaskRun {}", shown_name(doc));
            refuse_run_fields(doc, &owner)?;
            if let Some(account) = run.service_account_name.as_deref() {
                refuse_credentials(&engine.catalog, account, &owner)?;
            }
            let (name, spec) = match (&run.task_spec, &run.task_ref) {
                (Some(spec), _) => (String::new(), spec.clone()),
                (None, Some(reference)) => {
                    let task = engine.catalog.resolve(reference, Kind::Task, &owner)?;
                    files.insert(engine.catalog.corpus.files[task.file].path.clone());
                    let Some(Resource::Task(spec)) = &task.resource else {
                        return Err(Error::usage(format!(
                            "{owner}: Task {} cannot be read: {}",
                            task.name(),
                            super::load::unreadable(task)
                        ))
                        .into());
                    };
                    (task.name().to_string(), spec.clone())
                }
                (None, None) => {
                    return Err(
                        Error::usage(format!("{owner} has neither taskRef nor taskSpec")).into(),
                    )
                }
            };
            let given = params::from_bindings(&run.params, &owner).map_err(Error::usage)?;
            let mut spec = spec;
            // A workspace the TaskRun binds is declared for its Task (Tekton's propagation).
            for binding in &run.workspaces {
                let name = binding.get("name").and_then(|n| n.as_str()).unwrap_or("");
                if !name.is_empty() && !spec.workspaces.iter().any(|w| w.name == name) {
                    spec.workspaces.push(crate::tekton::model::WorkspaceDecl {
                        name: name.to_string(),
                        ..Default::default()
                    });
                }
            }
            // The pod template's volumes are the pod's, so steps may mount them.
            spec.volumes
                .extend(run.pod_template.iter().flat_map(|t| t.volumes.clone()));
            (
                name,
                spec,
                given,
                run.workspaces.clone(),
                run.timeout.clone(),
                Some(doc),
            )
        }
        _ => {
            return Err(Error::usage(format!(
                "{} {}: {}",
                doc.kind.as_str(),
                doc.name(),
                super::load::unreadable(doc)
            ))
            .into())
        }
    };
    step_action_files(engine, &spec, &mut files);
    validate_files(engine, &files)?;

    let owner = format!("{} {}", doc.kind.as_str(), shown_name(doc));
    let given = given_params(options, &spec.params, &run_params, &owner)?;

    let name = match pod_doc {
        Some(doc) => run_name(doc, &task_name),
        None => generated_name(&format!(
            "{}-run-",
            if task_name.is_empty() {
                "task"
            } else {
                &task_name
            }
        )),
    };
    let workspaces = bind_workspaces(
        &spec.workspaces,
        &run_workspaces,
        &options.workspaces,
        &owner,
        &name,
    )?;
    let namespace = doc
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_string());
    let uid = new_uid();
    let context = TaskContext {
        task_run: name.clone(),
        task_name: task_name.clone(),
        namespace: namespace.clone(),
        uid: uid.clone(),
        retry_count: 0,
    };
    let views: Vec<WorkspaceView> = workspaces
        .iter()
        .map(|b| WorkspaceView {
            name: b.name.clone(),
            bound: true,
            claim: b.source.claim().to_string(),
        })
        .collect();
    let prepared = prepare(
        &spec,
        &given,
        &context,
        &views,
        &engine.catalog,
        &engine.images,
    )?;
    preflight_images(&prepared).await?;

    let timeout = match (options.timeout, timeout) {
        (Some(t), _) => t,
        (None, Some(text)) => prepare::parse_go_duration(&text)
            .map_err(|e| Error::usage(format!("{owner}: timeout: {e}")))?,
        (None, None) => DEFAULT_TIMEOUT,
    };
    let mut labels = doc_labels(doc);
    labels.insert("tekton.dev/taskRun".into(), name.clone());
    if !task_name.is_empty() {
        labels.insert("tekton.dev/task".into(), task_name.clone());
    }
    let input = TaskRunInput {
        name: name.clone(),
        label: if task_name.is_empty() {
            name.clone()
        } else {
            task_name.clone()
        },
        prepared,
        workspaces,
        pod: PodMeta {
            name: format!("{name}-pod"),
            namespace,
            uid,
            labels,
            annotations: string_map(&doc.metadata.annotations),
            service_account: "default".into(),
        },
        timeout: (!timeout.is_zero()).then_some(timeout),
        attempt: 0,
    };
    let started = Instant::now();
    let outcome = taskrun::execute(engine, &input).await?;
    let status = outcome.status;
    Ok(RunReport {
        kind: "TaskRun",
        name: name.clone(),
        status,
        message: if status == Status::Succeeded {
            String::new()
        } else {
            outcome.message.clone()
        },
        duration: started.elapsed(),
        results: outcome.results.clone(),
        tasks: vec![TaskReport {
            name: if task_name.is_empty() {
                name.clone()
            } else {
                task_name
            },
            task_runs: vec![name],
            status,
            reason: outcome.reason,
            message: outcome.message,
            duration: Some(outcome.duration),
            results: outcome.results,
            steps: outcome.steps,
            attempts: 1,
        }],
    })
}
