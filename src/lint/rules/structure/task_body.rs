//! Task bodies (rules 6–11, 16, 25, 26): steps and sidecars, their names, images, scripts,
//! mounts, volumes and env, the Task's workspaces; and StepActions, which are one step.

use super::params::{check_params, ParamChecks};
use super::results::check_results;
use super::*;

// ---- Task bodies ------------------------------------------------------------------------------

pub(super) fn check_task_body(body: &TaskBody, sink: &mut Sink) {
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

pub(super) fn unique_workspace_names<'a>(
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

pub(super) fn check_step_action(action: &StepActionSpec, sink: &mut Sink) {
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
