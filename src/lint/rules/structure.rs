//! Structure rules (2–16, 25, 26, 69): what Tekton's admission webhook checks about a document
//! before anything runs — known field names and API versions, object, step, param and result
//! names, step images and scripts, params' types and enums, workspaces, volumes, env — and the
//! same kind and name defined twice in one directory.
//!
//! The Task-body rules cover Tasks and StepActions and the Task bodies inlined in Pipelines
//! (tasks and finally), TaskRuns and PipelineRuns. Field names are checked against the schema in
//! `structure/schema.rs`.

mod schema;

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

/// Field names and value types, walked once per document when the corpus is built.
pub fn check_schema(doc: &TektonDoc, profile: crate::lint::Profile, sink: &mut Sink) {
    schema::check_field_names(doc, profile, sink);
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

// ---- Task bodies ------------------------------------------------------------------------------

fn check_task_body(body: &TaskBody, sink: &mut Sink) {
    if body.spec.steps.is_empty() {
        sink.report(
            RuleId::StepsRequired,
            Location::Field(body.path.field("steps")),
            format!("{} has no steps; a Task needs at least one", body.path),
        );
    }
    step_names(body, sink);
    let sites = body.sites();
    for site in &sites {
        if let Role::Step(step) = site.role {
            step_container(body, site, step, sink);
            continue;
        }
        if matches!(site.role, Role::Sidecar) && !has_text(&site.container.image) {
            image_missing(site, "set image", sink);
        }
        script_with_command(site, false, sink);
    }
    reserved_mounts(&sites, sink);
    undefined_volumes(body, &sites, sink);
    duplicate_env(&sites, body.template(), sink);
    unique_volume_names(body, sink);
    let param_checks = ParamChecks {
        name_format: true,
        needs_properties: body.standalone,
    };
    check_params(
        &body.spec.params,
        &body.path.field("params"),
        param_checks,
        sink,
    );
    check_results(&body.spec.results, &body.path.field("results"), sink);
    for site in &sites {
        if let Role::Step(step) = site.role {
            check_results(&step.results, &site.path.field("results"), sink);
        }
    }
    task_workspaces(body, sink);
}

fn step_names(body: &TaskBody, sink: &mut Sink) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, step) in body.spec.steps.iter().enumerate() {
        let Some(name) = step.container.name.as_deref().filter(|n| !n.is_empty()) else {
            continue;
        };
        let path = body.path.item("steps", i).field("name");
        if !is_dns_label(name) {
            sink.report(
                RuleId::StepNameFormat,
                Location::Field(path.clone()),
                format!(
                    "step name {name:?} is not a DNS-1123 label: use at most 63 lowercase letters, digits and '-', \
                     starting and ending with a letter or digit"
                ),
            );
        }
        match seen.get(name) {
            Some(first) => sink.report(
                RuleId::StepNameFormat,
                Location::Field(path),
                format!("step name {name:?} is already used by steps[{first}]; step names must be unique"),
            ),
            None => {
                seen.insert(name, i);
            }
        }
    }
}

/// A step's image, the fields a StepAction reference excludes, its script and onError.
fn step_container(body: &TaskBody, site: &Site, step: &Step, sink: &mut Sink) {
    let container = &step.container;
    if step.ref_.is_some() {
        let conflicts = [
            ("image", has_text(&container.image)),
            ("command", has_items(&container.command)),
            ("args", has_items(&container.args)),
            ("script", has_text(&container.script)),
            ("workingDir", has_text(&container.working_dir)),
            ("env", !container.env.is_empty()),
            ("volumeMounts", !container.volume_mounts.is_empty()),
            ("results", !step.results.is_empty()),
        ];
        for (field, _) in conflicts.iter().filter(|(_, set)| *set) {
            sink.report(
                RuleId::StepImageRequired,
                Location::Key(site.path.field(field)),
                format!("{} runs a StepAction (ref), which defines its own {field}; remove {field} from the step", site.who),
            );
        }
    } else {
        if !step.params.is_empty() {
            sink.report(
                RuleId::StepImageRequired,
                Location::Key(site.path.field("params")),
                format!("{} has params but no ref: params pass values to a StepAction; use env for a plain step", site.who),
            );
        }
        if !has_text(&container.image) && !body.template().is_some_and(|t| has_text(&t.image)) {
            image_missing(site, "set image (or ref to run a StepAction)", sink);
        }
        let inherits_command = !has_items(&container.command)
            && body.template().is_some_and(|t| has_items(&t.command));
        script_with_command(site, inherits_command, sink);
    }
    if let Some(on_error) = step.on_error.as_deref() {
        let valid =
            matches!(on_error, "" | "continue" | "stopAndFail") || on_error.starts_with("$(params");
        if !valid {
            sink.report(
                RuleId::StepOnerrorValue,
                Location::Field(site.path.field("onError")),
                format!("{} has onError {on_error:?}; use continue or stopAndFail (or a $(params...) reference)", site.who),
            );
        }
    }
}

fn image_missing(site: &Site, what_to_do: &str, sink: &mut Sink) {
    sink.report(
        RuleId::StepImageRequired,
        Location::Field(site.path.field("image")),
        format!("{} has no image; {what_to_do}", site.who),
    );
}

fn script_with_command(site: &Site, inherits_command: bool, sink: &mut Sink) {
    let container = site.container;
    if !has_text(&container.script) {
        return;
    }
    let message = if has_items(&container.command) {
        format!("{} has both script and command; Tekton runs the script itself, so remove command (args may stay)", site.who)
    } else if inherits_command {
        format!(
            "{} has a script and inherits command from the step template; Tekton rejects that, so move command \
             out of stepTemplate into the steps that need it",
            site.who
        )
    } else {
        return;
    };
    sink.report(
        RuleId::ScriptWithCommand,
        Location::Key(site.path.field("script")),
        message,
    );
}

/// Steps may not mount under /tekton/ (Tekton's own volumes live there) nor use its volume names.
fn reserved_mounts(sites: &[Site], sink: &mut Sink) {
    let steps_and_template = sites
        .iter()
        .filter(|s| matches!(s.role, Role::Step(_) | Role::StepTemplate));
    for site in steps_and_template {
        for (j, mount) in site.container.volume_mounts.iter().enumerate() {
            let path = site.path.item("volumeMounts", j);
            let clean = clean_path(&mount.mount_path);
            if clean.starts_with("/tekton/") && !clean.starts_with("/tekton/home") {
                sink.report(
                    RuleId::ReservedMount,
                    Location::Field(path.field("mountPath")),
                    format!(
                        "{} mounts {:?} at {:?}, under /tekton/, which Tekton reserves; mount it elsewhere \
                         (only /tekton/home is allowed)",
                        site.who, mount.name, mount.mount_path
                    ),
                );
            }
            if mount.name.starts_with("tekton-internal-") {
                sink.report(
                    RuleId::ReservedMount,
                    Location::Field(path.field("name")),
                    format!("{} mounts a volume named {:?}; names starting with tekton-internal- are Tekton's own, so rename it", site.who, mount.name),
                );
            }
        }
    }
}

fn unique_volume_names(body: &TaskBody, sink: &mut Sink) {
    let mut seen = HashSet::new();
    for (i, volume) in body.spec.volumes.iter().enumerate() {
        if !seen.insert(volume.name.as_str()) {
            sink.report(
                RuleId::ReservedMount,
                Location::Field(body.path.item("volumes", i).field("name")),
                format!(
                    "volume {:?} is declared twice; volume names must be unique",
                    volume.name
                ),
            );
        }
    }
}

fn undefined_volumes(body: &TaskBody, sites: &[Site], sink: &mut Sink) {
    let declared: HashSet<&str> = body
        .spec
        .volumes
        .iter()
        .map(|v| v.name.as_str())
        .chain(body.pod_volumes.iter().copied())
        .collect();
    for site in sites {
        for (j, mount) in site.container.volume_mounts.iter().enumerate() {
            // A name built from a param is only known at run time.
            if mount.name.contains("$(") || declared.contains(mount.name.as_str()) {
                continue;
            }
            sink.report(
                RuleId::UndefinedVolume,
                Location::Field(site.path.item("volumeMounts", j).field("name")),
                format!(
                    "{} mounts volume {:?}, which is not declared; add it to {} (or correct the name)",
                    site.who,
                    mount.name,
                    body.path.field("volumes")
                ),
            );
        }
    }
}

/// Env set twice in one container; and a step overriding its template (legal, so a warning).
fn duplicate_env(sites: &[Site], template: Option<&Container>, sink: &mut Sink) {
    for site in sites {
        let template_env: &[EnvVar] = match (site.role, template) {
            (Role::Step(_), Some(template)) => &template.env,
            _ => &[],
        };
        env_list(
            &site.who,
            &site.container.env,
            &site.path,
            template_env,
            sink,
        );
    }
}

fn env_list(who: &str, env: &[EnvVar], path: &FieldPath, template_env: &[EnvVar], sink: &mut Sink) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (j, var) in env.iter().enumerate() {
        let location = Location::Field(path.item("env", j).field("name"));
        let name = var.name.as_str();
        if let Some(first) = seen.get(name) {
            sink.report(
                RuleId::DuplicateEnv,
                location,
                format!("{who} sets env {name} twice (env[{first}] and env[{j}]); only one value takes effect, so remove one"),
            );
        } else if template_env.iter().any(|t| t.name == name) {
            sink.report_as(
                RuleId::DuplicateEnv,
                Severity::Warning,
                location,
                format!("{who} sets env {name}, which the step template sets too; the step's value wins, so drop one unless they should differ"),
            );
        }
        seen.entry(name).or_insert(j);
    }
}

fn task_workspaces(body: &TaskBody, sink: &mut Sink) {
    let path = body.path.field("workspaces");
    unique_workspace_names(
        body.spec.workspaces.iter().map(|w| w.name.as_str()),
        &path,
        sink,
    );
    // Tekton compares the cleaned paths of workspaces and of step and template volumeMounts.
    let template_mounts = body
        .template()
        .map(|t| t.volume_mounts.as_slice())
        .unwrap_or_default();
    let step_mounts = body
        .spec
        .steps
        .iter()
        .flat_map(|s| s.container.volume_mounts.iter());
    let mut mount_paths: HashSet<String> = step_mounts
        .chain(template_mounts)
        .map(|m| clean_path(&m.mount_path))
        .collect();
    let mut names = HashSet::new();
    for (i, workspace) in body.spec.workspaces.iter().enumerate() {
        // A second workspace of the same name is reported as such, not for its mount path too.
        if !names.insert(workspace.name.as_str()) {
            continue;
        }
        let mount_path = match workspace.mount_path.as_deref().filter(|p| !p.is_empty()) {
            Some(explicit) => clean_path(explicit),
            None => format!("/workspace/{}", workspace.name),
        };
        if !mount_paths.insert(mount_path.clone()) {
            sink.report(
                RuleId::WorkspaceDecl,
                Location::Field(path.index(i).field("mountPath")),
                format!(
                    "workspace {:?} mounts at {mount_path}, which another workspace or a step volumeMount already uses; \
                     give it a mountPath of its own",
                    workspace.name
                ),
            );
        }
    }
}

fn unique_workspace_names<'a>(
    names: impl Iterator<Item = &'a str>,
    path: &FieldPath,
    sink: &mut Sink,
) {
    let mut seen = HashSet::new();
    for (i, name) in names.enumerate() {
        if !seen.insert(name) {
            sink.report(
                RuleId::WorkspaceDecl,
                Location::Field(path.index(i).field("name")),
                format!("workspace {name:?} is declared twice; workspace names must be unique"),
            );
        }
    }
}

// ---- StepActions ------------------------------------------------------------------------------

fn check_step_action(action: &StepActionSpec, sink: &mut Sink) {
    let path = FieldPath::root().field("spec");
    let who = "the StepAction".to_string();
    let site = Site {
        container: &action.container,
        role: Role::StepAction,
        path: path.clone(),
        who,
    };
    if !has_text(&action.container.image) {
        image_missing(&site, "set spec.image", sink);
    }
    script_with_command(&site, false, sink);
    env_list(&site.who, &action.container.env, &path, &[], sink);
    check_params(
        &action.params,
        &path.field("params"),
        ParamChecks::STEP_ACTION,
        sink,
    );
    check_results(&action.results, &path.field("results"), sink);
}

// ---- params -----------------------------------------------------------------------------------

/// What Tekton checks of a params list beyond duplicates, types and enums.
#[derive(Clone, Copy)]
struct ParamChecks {
    /// Task and StepAction param names must match Tekton's name formats (Pipeline ones are not checked).
    name_format: bool,
    /// Task and StepAction documents need `properties` on object params.
    needs_properties: bool,
}

impl ParamChecks {
    const PIPELINE: ParamChecks = ParamChecks {
        name_format: false,
        needs_properties: false,
    };
    const STEP_ACTION: ParamChecks = ParamChecks {
        name_format: true,
        needs_properties: true,
    };
}

fn check_params(params: &[ParamSpec], path: &FieldPath, checks: ParamChecks, sink: &mut Sink) {
    let mut exact: HashMap<&str, usize> = HashMap::new();
    let mut folded: HashMap<String, usize> = HashMap::new();
    for (i, param) in params.iter().enumerate() {
        let here = path.index(i);
        if checks.name_format {
            param_name_format(param, &here, sink);
        }
        let name = param.name.as_str();
        let location = Location::Field(here.field("name"));
        if let Some(first) = exact.get(name) {
            sink.report(
                RuleId::ParamNameFormat,
                location,
                format!("param {name:?} is declared twice (also params[{first}]); remove one"),
            );
        } else if let Some(first) = folded.get(&name.to_lowercase()) {
            sink.report_as(
                RuleId::ParamNameFormat,
                Severity::Warning,
                location,
                format!(
                    "param {name:?} differs from {:?} (params[{first}]) only in case; Tekton documents param names as \
                     case-insensitive, so rename one",
                    params[*first].name
                ),
            );
        }
        exact.entry(name).or_insert(i);
        folded.entry(name.to_lowercase()).or_insert(i);
        param_type(param, &here, checks.needs_properties, sink);
        param_enum(param, &here, sink);
    }
}

fn param_name_format(param: &ParamSpec, here: &FieldPath, sink: &mut Sink) {
    let name = param.name.as_str();
    let object = param.effective_type() == "object";
    if !is_param_name(name, !object) {
        let message = if name.is_empty() {
            "a param has no name; give it one".to_string()
        } else if object && is_param_name(name, true) {
            format!("object param {name:?} has a '.' in its name, which only string and array params may; rename it")
        } else {
            let dot = if object { "" } else { ", '.'" };
            format!("param name {name:?} is not valid: start with a letter or '_', then use letters, digits, '_', '-'{dot}")
        };
        sink.report(
            RuleId::ParamNameFormat,
            Location::Field(here.field("name")),
            message,
        );
    }
    if !object {
        return;
    }
    for key in param.properties.iter().flat_map(|p| p.keys()) {
        if !is_param_name(key, false) {
            sink.report(
                RuleId::ParamNameFormat,
                Location::Key(here.field("properties").field(key)),
                format!(
                    "key {key:?} of object param {name:?} is not valid: start with a letter or '_', then use letters, digits, '_' and '-'"
                ),
            );
        }
    }
}

fn param_type(param: &ParamSpec, here: &FieldPath, needs_properties: bool, sink: &mut Sink) {
    let name = param.name.as_str();
    if let Some(declared) = param.type_.as_deref().filter(|t| !t.is_empty()) {
        if !matches!(declared, "string" | "array" | "object") {
            sink.report(
                RuleId::ParamType,
                Location::Field(here.field("type")),
                format!("param {name:?} has type {declared:?}; use string, array or object"),
            );
            return;
        }
        let default_type = param.default.as_ref().map(json_param_type);
        if let Some(default_type) = default_type.filter(|t| *t != declared) {
            sink.report(
                RuleId::ParamType,
                Location::Field(here.field("default")),
                format!("param {name:?} is declared {declared} but its default is {default_type}; make the type and the default agree"),
            );
        }
    }
    if needs_properties && param.effective_type() == "object" && param.properties.is_none() {
        sink.report(
            RuleId::ParamType,
            Location::Field(here.clone()),
            format!("object param {name:?} has no properties; list its keys under properties (each with type: string)"),
        );
    }
    for (key, property) in param.properties.iter().flatten() {
        if let Some(property_type) = property
            .type_
            .as_deref()
            .filter(|t| !t.is_empty() && *t != "string")
        {
            sink.report(
                RuleId::ParamType,
                Location::Field(here.field("properties").field(key).field("type")),
                format!("key {key:?} of param {name:?} has type {property_type:?}; object param keys can only be strings"),
            );
        }
    }
}

fn param_enum(param: &ParamSpec, here: &FieldPath, sink: &mut Sink) {
    let Some(values) = param.enum_.as_ref().filter(|v| !v.is_empty()) else {
        return;
    };
    let name = param.name.as_str();
    let param_type = param.effective_type();
    if param_type != "string" {
        sink.report(
            RuleId::ParamEnum,
            Location::Key(here.field("enum")),
            format!(
                "param {name:?} is {param_type} but has an enum; only string params can have one"
            ),
        );
    }
    let texts: Vec<String> = values.iter().map(json_text).collect();
    let mut seen = HashSet::new();
    for (j, text) in texts.iter().enumerate() {
        if !seen.insert(text) {
            sink.report(
                RuleId::ParamEnum,
                Location::Field(here.field("enum").index(j)),
                format!("enum value {text:?} of param {name:?} is listed twice; remove one"),
            );
        }
    }
    // Tekton compares a string default; an empty one means "no choice made".
    let default = param
        .default
        .as_ref()
        .filter(|d| !d.is_array() && !d.is_object())
        .map(json_text);
    if let Some(default) = default.filter(|d| !d.is_empty() && !texts.contains(d)) {
        sink.report(
            RuleId::ParamEnum,
            Location::Field(here.field("default")),
            format!(
                "default {default:?} of param {name:?} is not one of its enum values ({}); add it to enum or change the default \
                 (enums also need the enable-param-enum feature flag)",
                texts.join(", ")
            ),
        );
    }
}

/// The type Tekton gives a default value: arrays and objects as such, anything else a string.
fn json_param_type(value: &Json) -> &'static str {
    match value {
        Json::Array(_) => "array",
        Json::Object(_) => "object",
        _ => "string",
    }
}

fn json_text(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

// ---- results ----------------------------------------------------------------------------------

/// Task results, step results and StepAction results share the name and type rules.
fn check_results(results: &[ResultSpec], path: &FieldPath, sink: &mut Sink) {
    for (i, result) in results.iter().enumerate() {
        let here = path.index(i);
        let name = result.name.as_str();
        if !is_result_name(name) {
            sink.report(
                RuleId::ResultNameFormat,
                Location::Field(here.field("name")),
                format!(
                    "result name {name:?} is not valid: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
                ),
            );
            continue;
        }
        let result_type = match result.type_.as_deref().filter(|t| !t.is_empty()) {
            Some(declared) => declared,
            None if result.properties.is_some() => "object",
            None => "string",
        };
        match result_type {
            "string" | "array" => {}
            "object" if result.properties.is_none() => sink.report(
                RuleId::ResultNameFormat,
                Location::Field(here.clone()),
                format!("object result {name:?} has no properties; list its keys under properties"),
            ),
            "object" => {
                for (key, property) in result.properties.iter().flatten() {
                    if let Some(t) = property
                        .type_
                        .as_deref()
                        .filter(|t| !t.is_empty() && *t != "string")
                    {
                        sink.report(
                            RuleId::ResultNameFormat,
                            Location::Field(here.field("properties").field(key).field("type")),
                            format!("key {key:?} of result {name:?} has type {t:?}; object result keys can only be strings"),
                        );
                    }
                }
            }
            other => sink.report(
                RuleId::ResultNameFormat,
                Location::Field(here.field("type")),
                format!("result {name:?} has type {other:?}; use string, array or object"),
            ),
        }
        if let Some(value) = &result.value {
            result_value(name, value, &here.field("value"), sink);
        }
    }
}

/// A Task result's `value` passes on a step's result: `$(steps.<step>.results.<result>)`.
fn result_value(name: &str, value: &Json, path: &FieldPath, sink: &mut Sink) {
    let text = json_text(value);
    let problem = if value.is_array() || value.is_object() {
        Some(format!(
            "result {name:?} has a {} value",
            json_param_type(value)
        ))
    } else if text.is_empty() {
        None
    } else {
        match step_result_reference(&text) {
            None => Some(format!(
                "value {text:?} of result {name:?} is not a step result reference"
            )),
            Some((step, _)) if !is_dns_label(step) => Some(format!(
                "result {name:?} reads step {step:?}, which is not a valid step name"
            )),
            Some((_, result)) if !is_result_name(result) => Some(format!(
                "result {name:?} reads step result {result:?}, which is not a valid result name"
            )),
            Some(_) => None,
        }
    };
    if let Some(problem) = problem {
        sink.report(
            RuleId::ResultNameFormat,
            Location::Field(path.clone()),
            format!(
                "{problem}; a result's value must be a string $(steps.<step>.results.<result>)"
            ),
        );
    }
}

/// The step and result names of the first `$(steps.<step>.results.<result>)` in `text`.
fn step_result_reference(text: &str) -> Option<(&str, &str)> {
    let start = text.find("$(steps.")? + "$(steps.".len();
    let rest = &text[start..];
    let middle = rest.find(".results.")?;
    let after = &rest[middle + ".results.".len()..];
    let end = after.find(')')?;
    Some((&rest[..middle], &after[..end]))
}

// ---- duplicate-resource -----------------------------------------------------------------------

/// The same kind, namespace and name twice in one directory: applying the directory keeps only
/// the last one. The same name in another directory (another version) is fine.
pub fn duplicates(
    corpus: &Corpus,
    _options: &RuleOptions,
    enabled: &dyn Fn(&str) -> bool,
) -> Vec<Located> {
    if !enabled(RuleId::DuplicateResource.as_str()) {
        return Vec::new();
    }
    let mut first_seen = HashMap::new();
    let mut found = Vec::new();
    for (index, doc) in corpus.docs.iter().enumerate() {
        let name = doc.name();
        if name.is_empty() {
            continue;
        }
        let namespace = doc.metadata.namespace.as_deref().unwrap_or("");
        let key = (
            corpus.file(doc).dir(),
            doc.raw_kind.as_str(),
            namespace,
            name,
        );
        let Some(&first) = first_seen.get(&key) else {
            first_seen.insert(key, index);
            continue;
        };
        let first = &corpus.docs[first];
        // In one file, the second `kubectl apply`s over the first: it cannot work as written.
        // In two files of a directory, each may be applied on its own (examples are): policy.
        let (severity, message) = if first.file == doc.file {
            (
                Some(Severity::Error),
                format!(
                    "{} {name:?} is also defined at line {} of this file; applying the file keeps only one, so rename or remove one",
                    doc.raw_kind,
                    name_line(first)
                ),
            )
        } else {
            (
                None,
                format!(
                    "{} {name:?} is also defined at {}:{}; applied together one replaces the other, so rename or remove one",
                    doc.raw_kind,
                    corpus.file(first).display_path(),
                    name_line(first)
                ),
            )
        };
        let location = Location::Field(FieldPath::root().field("metadata").field("name"));
        found.push((
            doc.file,
            Some(index),
            Diagnostic {
                rule: RuleId::DuplicateResource,
                message,
                location,
                severity,
            },
        ));
    }
    found
}

fn name_line(doc: &TektonDoc) -> usize {
    doc.root
        .get("metadata")
        .and_then(|m| m.get("name"))
        .map_or(doc.root.pos.line, |n| n.pos.line)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::finding::Finding;
    use crate::lint::{Config, Profile, SourceFile};

    const IMAGE: &str = "registry.access.redhat.com/ubi9/ubi-minimal:9.6@sha256:34880b64c07f28f64d95737f82f891516de9a3b43583f39970f7bf8e4cfa48b7";

    const RULES: &[&str] = &[
        "unknown-field",
        "api-version",
        "v1beta1-removed-field",
        "metadata-name",
        "steps-required",
        "step-name-format",
        "step-image-required",
        "script-with-command",
        "step-onerror-value",
        "reserved-mount",
        "param-name-format",
        "param-type",
        "param-enum",
        "result-name-format",
        "workspace-decl",
        "undefined-volume",
        "duplicate-env",
        "duplicate-resource",
    ];

    fn lint_files(files: &[(&str, &str)], profile: Profile) -> Vec<Finding> {
        let mut config = Config::default();
        config.options.profile = profile;
        let files = files
            .iter()
            .map(|(path, yaml)| SourceFile::parse(path.into(), yaml.to_string()))
            .collect();
        crate::lint::lint_files(files, &config)
            .findings
            .into_iter()
            .filter(|f| RULES.contains(&f.rule.as_str()))
            .collect()
    }

    /// The findings of this file's rules.
    fn lint(yaml: &str) -> Vec<Finding> {
        lint_files(&[("t.yaml", yaml)], Profile::Core)
    }

    fn of<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
        findings.iter().filter(|f| f.rule == rule).collect()
    }

    /// A v1 Task named `t` whose spec is `spec` (indented by two spaces, `{IMAGE}` filled in).
    fn task(spec: &str) -> String {
        format!(
            "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n{}",
            spec.replace("{IMAGE}", IMAGE)
        )
    }

    #[test]
    fn modern_valid_tekton_passes_every_structure_rule() {
        let yaml = task(
            r#"  params:
    - name: image
      properties:
        url: {}
    - name: build.args
      type: array
      default: []
    - name: level
      enum: [info, debug]
      default: info
  workspaces:
    - name: source
    - name: cache
      optional: true
  results:
    - name: digest
      value: $(steps.build.results.digest)
  volumes:
    - name: scratch
      emptyDir: {}
  stepTemplate:
    env:
      - name: HOME
        value: /tekton/home
  steps:
    - name: build
      image: {IMAGE}
      volumeMounts:
        - name: scratch
          mountPath: /scratch
      results:
        - name: digest
      when:
        - input: $(params.level)
          operator: in
          values: [debug]
      script: echo
    - name: scan
      ref:
        resolver: git
        params:
          - name: url
            value: https://example.com/actions.git
      params:
        - name: digest
          value: $(steps.build.results.digest)
---
apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata:
  name: scan
spec:
  params:
    - name: digest
  image: {IMAGE}
  script: echo
"#,
        );
        assert_eq!(lint(&yaml), Vec::<Finding>::new());
    }

    #[test]
    fn unknown_fields_are_reported_at_their_key_with_a_suggestion() {
        let findings = lint(&task("  steps:\n    - Name: a\n      image: {IMAGE}\n      scirpt: echo\n      frobnicate: 1\n"));
        let unknown = of(&findings, "unknown-field");
        assert_eq!(unknown.len(), 3, "{findings:#?}");
        assert_eq!(
            unknown[0].message,
            "unknown field \"Name\" in spec.steps[0]; did you mean \"name\"?"
        );
        assert_eq!((unknown[0].line, unknown[0].column), (7, 7));
        assert!(
            unknown[1].message.contains("did you mean \"script\""),
            "{}",
            unknown[1].message
        );
        assert!(
            unknown[2].message.contains("remove it or correct its name"),
            "{}",
            unknown[2].message
        );
    }

    #[test]
    fn version_specific_fields_are_told_apart() {
        let step = "  steps:\n    - name: a\n      image: {IMAGE}\n      computeResources: {}\n      ports: []\n";
        let v1 = lint(&task(step));
        assert_eq!(of(&v1, "v1beta1-removed-field").len(), 1, "{v1:#?}");
        assert!(of(&v1, "v1beta1-removed-field")[0]
            .message
            .contains("\"ports\""));
        let v1beta1 = lint(&task(step).replace("tekton.dev/v1\n", "tekton.dev/v1beta1\n"));
        let unknown = of(&v1beta1, "unknown-field");
        assert_eq!(unknown.len(), 1, "{v1beta1:#?}");
        assert!(
            unknown[0].message.contains("v1beta1 spells it resources"),
            "{}",
            unknown[0].message
        );
    }

    #[test]
    fn konflux_task_versions_pass_only_in_the_konflux_profiles() {
        let pipeline = "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n  tasks:\n    - name: build\n      taskRef:\n        name: buildah\n        version: \"0.4\"\n";
        let core = lint_files(&[("p.yaml", pipeline)], Profile::Core);
        assert!(
            of(&core, "unknown-field")[0]
                .message
                .contains("--profile konflux"),
            "{core:#?}"
        );
        assert!(of(
            &lint_files(&[("p.yaml", pipeline)], Profile::Konflux),
            "unknown-field"
        )
        .is_empty());
    }

    #[test]
    fn free_form_kubernetes_objects_are_not_descended_into() {
        let findings = lint(&task(
            "  steps:\n    - name: a\n      image: {IMAGE}\n      securityContext:\n        whatever: 1\n      env:\n        - name: X\n          valueFrom:\n            secretKeyRef: {name: s, key: k, anything: 1}\n  volumes:\n    - name: v\n      csi: {driver: x}\n",
        ));
        assert!(findings.is_empty(), "{findings:#?}");
    }

    #[test]
    fn api_versions_carry_their_own_severity() {
        let severity = |api: &str, kind: &str| {
            let yaml = format!("apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: x\nspec:\n  image: {IMAGE}\n  steps: [{{name: a, image: {IMAGE}}}]\n");
            of(&lint(&yaml), "api-version").first().map(|f| f.severity)
        };
        assert_eq!(severity("tekton.dev/v1", "Task"), None);
        assert_eq!(
            severity("tekton.dev/v1beta1", "Task"),
            Some(Severity::Warning)
        );
        assert_eq!(
            severity("tekton.dev/v1alpha1", "Pipeline"),
            Some(Severity::Error)
        );
        assert_eq!(severity("tekton.dev/v1beta1", "StepAction"), None);
        assert_eq!(
            severity("tekton.dev/v1alpha1", "StepAction"),
            Some(Severity::Info)
        );
        assert_eq!(
            severity("tekton.dev/v1", "StepAction"),
            Some(Severity::Error)
        );
        // ClusterTask has no v1: only v1beta1-removed-field speaks.
        assert_eq!(severity("tekton.dev/v1beta1", "ClusterTask"), None);
    }

    #[test]
    fn object_names() {
        assert!(
            is_object_name("git-clone")
                && is_object_name("git-clone.v2")
                && is_object_name("0-leading-digit")
        );
        assert!(
            !is_object_name("Git")
                && !is_object_name("a_b")
                && !is_object_name("-a")
                && !is_object_name("a..b")
        );
        assert!(!is_object_name(&"a".repeat(64)));
        let missing = lint(
            "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  labels: {}\nspec:\n  steps: []\n",
        );
        assert_eq!(of(&missing, "metadata-name").len(), 1);
        let generated = "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  generateName: run-\nspec:\n  taskRef: {name: t}\n";
        assert!(of(&lint(generated), "metadata-name").is_empty());
    }

    #[test]
    fn steps_are_required_except_in_custom_tasks() {
        assert_eq!(
            of(&lint(&task("  params: []\n")), "steps-required").len(),
            1
        );
        let custom = "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n  tasks:\n    - name: wait\n      taskSpec:\n        apiVersion: example.dev/v1\n        kind: Wait\n        spec: {duration: 1s}\n";
        assert!(lint(custom).is_empty());
    }

    #[test]
    fn step_names_are_labels_and_unique_among_named_steps() {
        let findings = lint(&task(
            "  steps:\n    - {image: {IMAGE}}\n    - {image: {IMAGE}}\n    - {name: a, image: {IMAGE}}\n    - {name: a, image: {IMAGE}}\n    - {name: A.b, image: {IMAGE}}\n",
        ));
        let names = of(&findings, "step-name-format");
        assert_eq!(
            names.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
            ["spec.steps[3].name", "spec.steps[4].name"]
        );
    }

    #[test]
    fn images_may_come_from_the_step_template_and_ref_excludes_container_fields() {
        assert!(lint(&task(
            "  stepTemplate:\n    image: {IMAGE}\n  steps:\n    - name: a\n      script: echo\n"
        ))
        .is_empty());
        let findings = lint(&task(
            "  steps:\n    - name: a\n      ref: {name: act}\n      workingDir: /src\n      env: [{name: X, value: y}]\n    - name: b\n      script: echo\n",
        ));
        let fields: Vec<_> = of(&findings, "step-image-required")
            .iter()
            .map(|f| f.field.clone())
            .collect();
        assert_eq!(
            fields,
            [
                "spec.steps[0].workingDir",
                "spec.steps[0].env",
                "spec.steps[1].image"
            ]
        );
    }

    #[test]
    fn a_script_may_not_inherit_command_from_the_template() {
        let findings = lint(&task("  stepTemplate:\n    command: [sh]\n  steps:\n    - name: a\n      image: {IMAGE}\n      script: echo\n"));
        let script = of(&findings, "script-with-command");
        assert_eq!(script.len(), 1);
        assert!(
            script[0]
                .message
                .contains("inherits command from the step template"),
            "{}",
            script[0].message
        );
    }

    #[test]
    fn on_error_accepts_its_values_and_param_references() {
        let on_error = |value: &str| {
            let spec = format!(
                "  steps:\n    - name: a\n      image: {{IMAGE}}\n      onError: {value:?}\n"
            );
            of(&lint(&task(&spec)), "step-onerror-value").len()
        };
        assert_eq!(
            on_error("continue") + on_error("stopAndFail") + on_error("$(params.mode)"),
            0
        );
        assert_eq!(on_error("Continue"), 1);
    }

    #[test]
    fn mounts_under_tekton_are_reserved_after_cleaning_the_path() {
        let mount = |path: &str| {
            let spec = format!(
                "  volumes: [{{name: v, emptyDir: {{}}}}]\n  steps:\n    - name: a\n      image: {{IMAGE}}\n      volumeMounts: [{{name: v, mountPath: {path:?}}}]\n"
            );
            of(&lint(&task(&spec)), "reserved-mount").len()
        };
        assert_eq!(
            mount("/tekton/home/.m2") + mount("/tekton") + mount("/data"),
            0
        );
        assert_eq!(mount("/tekton/results"), 1);
        assert_eq!(mount("/data/../tekton/steps"), 1);
        assert_eq!(clean_path("/a//b/./c/../"), "/a/b");
        assert_eq!(clean_path("/../x"), "/x");
    }

    #[test]
    fn param_names_follow_their_type() {
        assert!(is_param_name("a.b-c_d", true) && is_param_name("_x", false));
        assert!(
            !is_param_name("a.b", false) && !is_param_name("1a", true) && !is_param_name("", true)
        );
        let findings = lint(&task(
            "  params:\n    - name: obj\n      properties:\n        good-key: {}\n        bad.key: {}\n    - name: Mode\n    - name: mode\n  steps: [{name: a, image: {IMAGE}}]\n",
        ));
        let names = of(&findings, "param-name-format");
        assert_eq!(names.len(), 2, "{findings:#?}");
        assert!(names[0].message.contains("bad.key"));
        assert_eq!(names[1].severity, Severity::Warning);
    }

    #[test]
    fn object_params_need_properties_only_in_task_documents() {
        let object =
            "  params:\n    - name: o\n      type: object\n  steps: [{name: a, image: {IMAGE}}]\n";
        assert_eq!(of(&lint(&task(object)), "param-type").len(), 1);
        let inline = format!(
            "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: r\nspec:\n  taskSpec:\n    params:\n      - name: o\n        type: object\n      - name: b\n        type: boolean\n    steps: [{{name: a, image: {IMAGE}}}]\n"
        );
        let fields: Vec<_> = of(&lint(&inline), "param-type")
            .iter()
            .map(|f| f.field.clone())
            .collect();
        assert_eq!(fields, ["spec.taskSpec.params[1].type"]);
    }

    #[test]
    fn param_defaults_must_match_types_and_enums() {
        let findings = lint(&task(
            "  params:\n    - {name: a, type: string, default: [x]}\n    - {name: b, type: array, default: [x]}\n    - {name: c, default: 3, enum: [\"1\", \"2\"]}\n    - {name: d, default: \"\", enum: [x]}\n  steps: [{name: a, image: {IMAGE}}]\n",
        ));
        assert_eq!(
            of(&findings, "param-type")
                .iter()
                .map(|f| f.field.as_str())
                .collect::<Vec<_>>(),
            ["spec.params[0].default"]
        );
        assert_eq!(
            of(&findings, "param-enum")
                .iter()
                .map(|f| f.field.as_str())
                .collect::<Vec<_>>(),
            ["spec.params[2].default"]
        );
    }

    #[test]
    fn result_values_must_name_a_step_result() {
        assert_eq!(
            step_result_reference("$(steps.build.results.digest)"),
            Some(("build", "digest"))
        );
        assert_eq!(step_result_reference("$(tasks.a.results.b)"), None);
        let findings = lint(&task(
            "  results:\n    - {name: a, value: $(steps.Build.results.x)}\n    - {name: b, type: object}\n    - {name: c., type: string}\n  steps: [{name: build, image: {IMAGE}}]\n",
        ));
        let fields: Vec<_> = of(&findings, "result-name-format")
            .iter()
            .map(|f| f.field.clone())
            .collect();
        assert_eq!(
            fields,
            [
                "spec.results[0].value",
                "spec.results[1]",
                "spec.results[2].name"
            ]
        );
    }

    #[test]
    fn workspace_mount_paths_are_compared_cleaned() {
        let findings = lint(&task(
            "  workspaces:\n    - name: src\n    - name: other\n      mountPath: /workspace/src/\n  steps: [{name: a, image: {IMAGE}}]\n",
        ));
        assert_eq!(of(&findings, "workspace-decl").len(), 1);
    }

    #[test]
    fn run_pod_templates_provide_volumes() {
        let run = format!(
            "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: r\nspec:\n  taskRunTemplate:\n    podTemplate:\n      volumes: [{{name: certs, secret: {{secretName: c}}}}]\n  pipelineSpec:\n    tasks:\n      - name: t\n        taskSpec:\n          steps:\n            - name: a\n              image: {IMAGE}\n              volumeMounts: [{{name: certs, mountPath: /certs}}, {{name: nope, mountPath: /nope}}]\n"
        );
        let findings = lint(&run);
        let undefined = of(&findings, "undefined-volume");
        assert_eq!(undefined.len(), 1, "{findings:#?}");
        assert!(
            undefined[0]
                .message
                .starts_with("step \"a\" of pipeline task \"t\" mounts volume \"nope\""),
            "{}",
            undefined[0].message
        );
    }

    #[test]
    fn duplicate_env_is_an_error_and_a_template_override_a_warning() {
        let findings = lint(&task(
            "  stepTemplate:\n    env: [{name: A, value: '1'}, {name: A, value: '2'}]\n  steps:\n    - name: a\n      image: {IMAGE}\n      env: [{name: A, value: '3'}, {name: B, value: '4'}]\n",
        ));
        let severities: Vec<_> = of(&findings, "duplicate-env")
            .iter()
            .map(|f| (f.field.as_str(), f.severity))
            .collect();
        assert_eq!(
            severities,
            [
                ("spec.stepTemplate.env[1].name", Severity::Error),
                ("spec.steps[0].env[0].name", Severity::Warning)
            ]
        );
    }

    #[test]
    fn duplicates_count_within_a_directory_only() {
        let doc = |namespace: &str| {
            format!("apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\n  namespace: {namespace}\nspec:\n  steps: [{{name: a, image: {IMAGE}}}]\n")
        };
        let (a, b) = (doc("ns"), doc("other"));
        let same_dir = lint_files(
            &[("task/t/0.1/a.yaml", &a), ("task/t/0.1/b.yaml", &a)],
            Profile::Core,
        );
        let duplicate = of(&same_dir, "duplicate-resource");
        assert_eq!(duplicate.len(), 1);
        assert_eq!(
            (duplicate[0].path.as_str(), duplicate[0].line),
            ("task/t/0.1/b.yaml", 4)
        );
        assert!(
            duplicate[0].message.contains("task/t/0.1/a.yaml:4"),
            "{}",
            duplicate[0].message
        );
        assert!(lint_files(
            &[("task/t/0.1/t.yaml", &a), ("task/t/0.2/t.yaml", &a)],
            Profile::Core
        )
        .is_empty());
        assert!(lint_files(
            &[("task/t/0.1/a.yaml", &a), ("task/t/0.1/b.yaml", &b)],
            Profile::Core
        )
        .is_empty());
    }
}
