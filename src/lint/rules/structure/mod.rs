//! Structure rules (2–16, 25, 26, 69): what Tekton's admission webhook checks about a document
//! before anything runs — known field names and API versions, object, step, param and result
//! names, step images and scripts, params' types and enums, workspaces, volumes, env — and the
//! same kind and name defined twice in one directory.
//!
//! The Task-body rules cover Tasks and StepActions and the Task bodies inlined in Pipelines
//! (tasks and finally), TaskRuns and PipelineRuns, in `task_body.rs`, with `params.rs` and
//! `results.rs`; `duplicate_resource.rs` compares documents. Field names are checked against the
//! schema in `schema/` (the field table, and the walk over the YAML). This file holds the
//! document-level rules and finds the Task bodies.

mod duplicate_resource;
mod params;
mod results;
mod schema;
mod task_body;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use serde_json::Value as Json;

use super::{is_dns_label, RuleId};
use super::{Check, Located, Sink};
use crate::lint::finding::{Diagnostic, FieldPath, Location, Severity};
use crate::lint::{Corpus, RuleOptions, TektonDoc};
use crate::tekton::model::{
    Container, EnvVar, Kind, ParamSpec, PipelineRunSpec, PipelineSpec, PodTemplate, Resource,
    ResultSpec, Step, StepActionSpec, TaskSpec,
};
use crate::tekton::yaml::Node;

pub use duplicate_resource::duplicates;
use params::{check_params, ParamChecks};
pub use schema::FieldRename;
use task_body::{check_step_action, check_task_body, unique_workspace_names};

/// Field names and value types, walked once per document when the corpus is built; returns the
/// keys Tekton reads under another name (`field-case`).
pub fn check_schema(
    doc: &TektonDoc,
    profile: crate::lint::Profile,
    sink: &mut Sink,
) -> Vec<FieldRename> {
    schema::check_field_names(doc, profile, sink)
}

pub fn check(check: &Check, sink: &mut Sink) {
    let doc = check.doc;
    sink.replay(&doc.schema_problems);
    api_version(doc, sink);
    cluster_task(doc, sink);
    metadata_name(doc, sink);
    for body in task_bodies(doc) {
        check_task_body(&body, sink);
    }
    if let Some(Resource::StepAction(action)) = &doc.resource {
        check_step_action(action, sink);
    }
    for (pipeline, path) in pipeline_specs(doc) {
        check_params(
            &pipeline.params,
            &path.field("params"),
            ParamChecks::PIPELINE,
            sink,
        );
        let names = pipeline.workspaces.iter().map(|w| w.name.as_str());
        unique_workspace_names(names, &path.field("workspaces"), sink);
    }
}

// ---- the document: apiVersion, kind, metadata.name -------------------------------------------

fn api_version(doc: &TektonDoc, sink: &mut Sink) {
    let location = || Location::Field(FieldPath::root().field("apiVersion"));
    let kind = doc.raw_kind.as_str();
    match (doc.kind, doc.version()) {
        (Kind::StepAction, "v1beta1") => {}
        (Kind::StepAction, "v1alpha1") => sink.report_as(
            RuleId::ApiVersion,
            Severity::Info,
            location(),
            "StepAction uses tekton.dev/v1alpha1, its alpha version; use tekton.dev/v1beta1 (the fields are the same)",
        ),
        (Kind::StepAction, version) => sink.report_as(
            RuleId::ApiVersion,
            Severity::Error,
            location(),
            format!("Tekton has no tekton.dev/{version} StepAction; use tekton.dev/v1beta1"),
        ),
        // A ClusterTask has no v1 to move to; v1beta1-removed-field says what to do instead.
        _ if kind == "ClusterTask" => {}
        (_, "v1") => {}
        (_, "v1beta1") => sink.report(
            RuleId::ApiVersion,
            location(),
            format!(
                "{kind} uses tekton.dev/v1beta1, which Tekton deprecated; move it to tekton.dev/v1 \
                 (Tekton's migrating-v1beta1-to-v1 guide lists the renamed fields)"
            ),
        ),
        (_, version) => sink.report_as(
            RuleId::ApiVersion,
            Severity::Error,
            location(),
            format!("Tekton no longer serves {kind} as tekton.dev/{version}; use tekton.dev/v1"),
        ),
    }
}

fn cluster_task(doc: &TektonDoc, sink: &mut Sink) {
    if doc.raw_kind == "ClusterTask" {
        sink.report(
            RuleId::V1beta1RemovedField,
            Location::Field(FieldPath::root().field("kind")),
            "ClusterTask was removed from Tekton (tekton.dev/v1 has none); make it a Task and reference it \
             through the cluster resolver (resolver: cluster)",
        );
    }
}

fn metadata_name(doc: &TektonDoc, sink: &mut Sink) {
    let path = FieldPath::root().field("metadata").field("name");
    let name = doc
        .root
        .get("metadata")
        .and_then(|m| m.get("name"))
        .filter(|n| !n.is_null())
        .and_then(Node::as_str);
    match name {
        None | Some("") if doc.metadata.generate_name.is_none() => sink.report(
            RuleId::MetadataName,
            Location::Field(path),
            format!("the {} has no metadata.name; give it a name of lowercase letters, digits, '-' and '.'", doc.raw_kind),
        ),
        Some(name) if !name.is_empty() && !is_object_name(name) => sink.report(
            RuleId::MetadataName,
            Location::Field(path),
            format!(
                "name {name:?} is not a valid Tekton object name: use at most 63 lowercase letters, digits, '-' and '.', \
                 starting and ending with a letter or digit"
            ),
        ),
        _ => {}
    }
}

// ---- where Task bodies are --------------------------------------------------------------------

/// A Task body: a Task's spec, or one inlined in a Pipeline, TaskRun or PipelineRun.
struct TaskBody<'a> {
    spec: &'a TaskSpec,
    path: FieldPath,
    /// The Pipeline task the body is inlined in.
    pipeline_task: Option<&'a str>,
    /// A Task document: Tekton checks it a little more than an inlined body.
    standalone: bool,
    /// Volumes a run's pod template adds to the pod, which steps may mount.
    pod_volumes: Vec<&'a str>,
}

/// The Task bodies of the document with what the webhook's checks of each need to know;
/// inline custom tasks are not Task bodies.
fn task_bodies(doc: &TektonDoc) -> Vec<TaskBody<'_>> {
    let pod_volumes = match &doc.resource {
        Some(Resource::TaskRun(run)) => volume_names(run.pod_template.iter()),
        Some(Resource::PipelineRun(run)) => pipeline_run_volumes(run),
        _ => Vec::new(),
    };
    let standalone = matches!(doc.resource, Some(Resource::Task(_)));
    super::task_bodies(doc)
        .into_iter()
        .filter(|body| !is_custom_task(doc, &body.path))
        .map(|body| TaskBody {
            spec: body.spec,
            path: body.path,
            pipeline_task: body.pipeline_task,
            standalone,
            pod_volumes: pod_volumes.clone(),
        })
        .collect()
}

/// An inlined custom task (`apiVersion`, `kind`, `spec`) runs a controller, not steps.
fn is_custom_task(doc: &TektonDoc, path: &FieldPath) -> bool {
    let (node, _, found) = path.locate(&doc.root);
    found
        && ["apiVersion", "kind", "spec"]
            .iter()
            .any(|key| node.get(key).is_some())
}

fn pipeline_specs(doc: &TektonDoc) -> Vec<(&PipelineSpec, FieldPath)> {
    let spec = FieldPath::root().field("spec");
    match &doc.resource {
        Some(Resource::Pipeline(pipeline)) => vec![(pipeline, spec)],
        Some(Resource::PipelineRun(run)) => run
            .pipeline_spec
            .iter()
            .map(|p| (p, spec.field("pipelineSpec")))
            .collect(),
        _ => Vec::new(),
    }
}

fn pipeline_run_volumes(run: &PipelineRunSpec) -> Vec<&str> {
    let template = run
        .task_run_template
        .as_ref()
        .and_then(|t| t.pod_template.as_ref());
    let per_task = run
        .task_run_specs
        .iter()
        .flat_map(|s| s.pod_template.iter().chain(s.task_pod_template.iter()));
    volume_names(run.pod_template.iter().chain(template).chain(per_task))
}

fn volume_names<'a>(templates: impl Iterator<Item = &'a PodTemplate>) -> Vec<&'a str> {
    templates
        .flat_map(|t| t.volumes.iter().map(|v| v.name.as_str()))
        .collect()
}

/// A container of a Task body or StepAction, with where it is and how messages name it.
struct Site<'a> {
    container: &'a Container,
    role: Role<'a>,
    path: FieldPath,
    who: String,
}

#[derive(Clone, Copy)]
enum Role<'a> {
    Step(&'a Step),
    StepTemplate,
    Sidecar,
    StepAction,
}

impl<'a> TaskBody<'a> {
    /// Steps, the step template and sidecars, in that order.
    fn sites(&self) -> Vec<Site<'a>> {
        let of_task = self
            .pipeline_task
            .map(|t| format!(" of pipeline task {t:?}"))
            .unwrap_or_default();
        let named = |what: &str, name: &Option<String>, i: usize| {
            let unnamed = format!("unnamed-{i}");
            format!(
                "{what} {:?}{of_task}",
                name.as_deref()
                    .filter(|n| !n.is_empty())
                    .unwrap_or(&unnamed)
            )
        };
        let mut sites = Vec::new();
        for (i, step) in self.spec.steps.iter().enumerate() {
            let who = named("step", &step.container.name, i);
            sites.push(Site {
                container: &step.container,
                role: Role::Step(step),
                path: self.path.item("steps", i),
                who,
            });
        }
        if let Some(template) = &self.spec.step_template {
            let who = format!("the step template{of_task}");
            sites.push(Site {
                container: template,
                role: Role::StepTemplate,
                path: self.path.field("stepTemplate"),
                who,
            });
        }
        for (i, sidecar) in self.spec.sidecars.iter().enumerate() {
            let who = named("sidecar", &sidecar.name, i);
            sites.push(Site {
                container: sidecar,
                role: Role::Sidecar,
                path: self.path.item("sidecars", i),
                who,
            });
        }
        sites
    }

    fn template(&self) -> Option<&'a Container> {
        self.spec.step_template.as_ref()
    }
}

// ---- formats ----------------------------------------------------------------------------------

fn has_text(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.is_empty())
}

fn has_items(value: &Option<Vec<Json>>) -> bool {
    value.as_ref().is_some_and(|v| !v.is_empty())
}

/// A DNS-1123 subdomain of at most 63 characters: what Tekton accepts as an object name.
fn is_object_name(name: &str) -> bool {
    name.len() <= 63 && name.split('.').all(is_label_like)
}

fn is_label_like(part: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    edge(part.chars().next())
        && edge(part.chars().last())
        && part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `^[_a-zA-Z][_a-zA-Z0-9.-]*$` (string and array params), without the dot for object params.
fn is_param_name(name: &str, dots_allowed: bool) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| {
            c.is_ascii_alphanumeric() || c == '_' || c == '-' || (dots_allowed && c == '.')
        })
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn is_result_name(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    edge(name.chars().next())
        && edge(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Go's `filepath.Clean` for slash paths: Tekton compares mount paths after it.
fn clean_path(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|last| *last != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}
