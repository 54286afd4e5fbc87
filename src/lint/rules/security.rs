//! Security rules (34–43), after the Pod Security Standards and what leaks secrets in CI:
//! privileged containers, privilege escalation, root, added capabilities, host paths and the Docker
//! socket, volume types outside the restricted standard, host namespaces in run pod templates,
//! Secrets read into env vars, secret-looking params whose value reaches a container, and `set -x`
//! in scripts that handle secrets.
//!
//! Container rules cover steps, the step template, sidecars and StepActions, also in Task bodies
//! inlined in Pipelines, TaskRuns and PipelineRuns.

use std::collections::HashSet;

use serde_json::Value as Json;

use super::images::{step_action_site, ContainerSite, Role};
use super::RuleId;
use super::{scripts, task_bodies, TaskBody};
use super::{Check, Sink};
use crate::lint::finding::{FieldPath, Location, Severity};
use crate::lint::TektonDoc;
use crate::tekton::expr;
use crate::tekton::model::{Container, ParamSpec, PodTemplate, Resource, Volume};

pub fn check(check: &Check, sink: &mut Sink) {
    for body in task_bodies(check.doc) {
        let sites = body.containers();
        let context = BodyContext::new(&body, &sites);
        for site in &sites {
            check_container(site, &context, sink);
        }
        check_volumes(&body.spec.volumes, &body.path.field("volumes"), sink);
    }
    if let (Some(site), Some(Resource::StepAction(action))) =
        (step_action_site(check.doc), &check.doc.resource)
    {
        let context = BodyContext::for_step_action(&action.params, &site);
        check_container(&site, &context, sink);
    }
    for (template, path) in pod_templates(check.doc) {
        check_host_namespaces(template, &path, sink);
        check_volumes(&template.volumes, &path.field("volumes"), sink);
    }
}

/// What the container rules need to know about the Task body around a container.
struct BodyContext<'a> {
    params: &'a [ParamSpec],
    volumes: &'a [Volume],
    step_template: Option<&'a Container>,
    /// Params used as the name of a Secret (or of a key in one) somewhere in the body: they hold
    /// names, not secrets.
    secret_name_params: HashSet<String>,
    /// Declared workspaces whose names suggest credentials.
    credential_workspaces: Vec<&'a str>,
    /// Workspaces some step or sidecar lists, which only those containers then see.
    isolated_workspaces: HashSet<&'a str>,
}

impl<'a> BodyContext<'a> {
    fn new(body: &TaskBody<'a>, sites: &[ContainerSite<'a>]) -> BodyContext<'a> {
        let spec = body.spec;
        let mut secret_addresses: Vec<&str> = spec
            .volumes
            .iter()
            .flat_map(volume_secret_addresses)
            .collect();
        secret_addresses.extend(
            sites
                .iter()
                .flat_map(|site| env_secret_addresses(site.container)),
        );
        BodyContext {
            params: &spec.params,
            volumes: &spec.volumes,
            step_template: spec.step_template.as_ref(),
            secret_name_params: params_referenced_in(&secret_addresses),
            credential_workspaces: spec
                .workspaces
                .iter()
                .map(|w| w.name.as_str())
                .filter(|name| suggests_credentials(name))
                .collect(),
            isolated_workspaces: sites
                .iter()
                .flat_map(|site| site.container.workspaces.iter().map(|w| w.name.as_str()))
                .collect(),
        }
    }

    fn for_step_action(params: &'a [ParamSpec], site: &ContainerSite<'a>) -> BodyContext<'a> {
        let secret_addresses = env_secret_addresses(site.container);
        BodyContext {
            params,
            volumes: &[],
            step_template: None,
            secret_name_params: params_referenced_in(&secret_addresses),
            credential_workspaces: Vec::new(),
            isolated_workspaces: HashSet::new(),
        }
    }

    fn volume(&self, name: &str) -> Option<&'a Volume> {
        self.volumes.iter().find(|v| v.name == name)
    }

    /// The step template for a step (Tekton merges it into every step), nothing for the rest.
    fn template_for(&self, site: &ContainerSite) -> Option<&'a Container> {
        self.step_template.filter(|_| site.role == Role::Step)
    }
}

fn check_container(site: &ContainerSite, context: &BodyContext, sink: &mut Sink) {
    check_security_context(site, sink);
    check_docker_socket_mounts(site, context, sink);
    check_secret_env(site, sink);
    for flow in secret_param_flows(site.container, &site.path, context) {
        sink.report(
            RuleId::SecretLikeParam,
            flow.location,
            format!(
                "param {:?} looks like a secret, and {} puts its value into {}; param values are stored in plain text \
                 in the TaskRun — read the secret from a Secret instead (a volume, a workspace or env valueFrom.secretKeyRef); \
                 if the param only holds a Secret's name, say so in its description (\"Name of the Secret ...\")",
                flow.param,
                site.describe(),
                flow.target
            ),
        );
    }
    check_xtrace(site, context, sink);
}

/// `# stepkit-lint-disable-next-line <rule> -- why`: how to keep a setting the step really needs.
fn suppress_hint(rule: RuleId) -> String {
    format!("if it really needs it, suppress with a reason: # stepkit-lint-disable-next-line {rule} -- why")
}

fn check_security_context(site: &ContainerSite, sink: &mut Sink) {
    let Some(security) = &site.container.security_context else {
        return;
    };
    let path = site.path.field("securityContext");
    let who = site.describe();
    if security.privileged == Some(true) {
        sink.report(
            RuleId::Privileged,
            Location::Field(path.field("privileged")),
            format!(
                "{who} runs privileged, which gives it root on the node; drop securityContext.privileged; {}",
                suppress_hint(RuleId::Privileged)
            ),
        );
    }
    if security.allow_privilege_escalation == Some(true) {
        sink.report(
            RuleId::AllowPrivilegeEscalation,
            Location::Field(path.field("allowPrivilegeEscalation")),
            format!(
                "{who} lets its processes gain more privileges than they start with (setuid binaries); set \
                 securityContext.allowPrivilegeEscalation to false or drop it; {}",
                suppress_hint(RuleId::AllowPrivilegeEscalation)
            ),
        );
    }
    if security.run_as_user.as_ref().and_then(Json::as_i64) == Some(0) {
        sink.report(
            RuleId::RunAsRoot,
            Location::Field(path.field("runAsUser")),
            format!(
                "{who} runs as root (securityContext.runAsUser: 0); run it as a non-root user (e.g. runAsUser: 65532); {}",
                suppress_hint(RuleId::RunAsRoot)
            ),
        );
    }
    if security.run_as_non_root == Some(false) {
        sink.report(
            RuleId::RunAsRoot,
            Location::Field(path.field("runAsNonRoot")),
            format!(
                "{who} sets securityContext.runAsNonRoot: false, which lets the image run as root; set it to true; {}",
                suppress_hint(RuleId::RunAsRoot)
            ),
        );
    }
    if let Some(capabilities) = &security.capabilities {
        let add = path.field("capabilities").field("add");
        for (i, capability) in capabilities.add.iter().enumerate() {
            check_added_capability(&who, capability, Location::Field(add.index(i)), sink);
        }
    }
}

/// Capabilities that amount to control of the node or its network.
const DANGEROUS_CAPABILITIES: &[&str] =
    &["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "ALL"];

fn check_added_capability(who: &str, capability: &str, location: Location, sink: &mut Sink) {
    let upper = capability.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("CAP_").unwrap_or(&upper);
    // The one capability the restricted Pod Security Standard lets a container add.
    if name == "NET_BIND_SERVICE" {
        return;
    }
    let hint = suppress_hint(RuleId::CapabilitiesAdd);
    if DANGEROUS_CAPABILITIES.contains(&name) {
        sink.report_as(
            RuleId::CapabilitiesAdd,
            Severity::Error,
            location,
            format!("{who} adds capability {name}, which comes close to root on the node; remove it from securityContext.capabilities.add; {hint}"),
        );
    } else {
        sink.report(
            RuleId::CapabilitiesAdd,
            location,
            format!(
                "{who} adds capability {name}, beyond NET_BIND_SERVICE, the only one the restricted Pod Security Standard \
                 allows; remove it from securityContext.capabilities.add if the step can do without; {hint}"
            ),
        );
    }
}

const DOCKER_SOCKETS: &[&str] = &["/var/run/docker.sock", "/run/docker.sock"];

/// Mounts at the Docker socket path. A hostPath volume is reported where it is declared; a
/// declared volume of another type (a dind sidecar's emptyDir) is not the node's socket.
fn check_docker_socket_mounts(site: &ContainerSite, context: &BodyContext, sink: &mut Sink) {
    for (i, mount) in site.container.volume_mounts.iter().enumerate() {
        if !DOCKER_SOCKETS.contains(&mount.mount_path.trim_end_matches('/'))
            || context.volume(&mount.name).is_some()
        {
            continue;
        }
        sink.report(
            RuleId::HostPathVolume,
            Location::Field(site.path.item("volumeMounts", i).field("mountPath")),
            format!(
                "{} mounts volume {:?} at the Docker socket path {}; the node's Docker socket is root on the node — \
                 build with buildah or kaniko instead; {}",
                site.describe(),
                mount.name,
                mount.mount_path,
                suppress_hint(RuleId::HostPathVolume)
            ),
        );
    }
}

fn check_secret_env(site: &ContainerSite, sink: &mut Sink) {
    let who = site.describe();
    let advice = "mount the Secret as a volume (or take it from a workspace) and read the file; env vars are \
                  inherited by every child process and end up in debug output";
    for (i, env) in site.container.env.iter().enumerate() {
        let Some(secret) = env.secret_key_ref() else {
            continue;
        };
        sink.report(
            RuleId::SecretInEnv,
            Location::Field(
                site.path
                    .item("env", i)
                    .field("valueFrom")
                    .field("secretKeyRef"),
            ),
            format!(
                "{who} reads key {:?} of Secret {:?} into env var {:?}; {advice}",
                secret.key.as_deref().unwrap_or(""),
                secret.name.as_deref().unwrap_or(""),
                env.name
            ),
        );
    }
    for (i, source) in site.container.env_from.iter().enumerate() {
        let Some(secret) = &source.secret_ref else {
            continue;
        };
        sink.report(
            RuleId::SecretInEnv,
            Location::Field(site.path.item("envFrom", i).field("secretRef")),
            format!(
                "{who} loads every key of Secret {:?} into env vars; {advice}",
                secret.name.as_deref().unwrap_or("")
            ),
        );
    }
}

/// Volume types the restricted Pod Security Standard allows.
const RESTRICTED_VOLUME_TYPES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn check_volumes(volumes: &[Volume], path: &FieldPath, sink: &mut Sink) {
    for (i, volume) in volumes.iter().enumerate() {
        let volume_path = path.index(i);
        for (kind, source) in &volume.source {
            if kind == "hostPath" {
                let host_path = source.get("path").and_then(Json::as_str).unwrap_or("");
                let socket = if DOCKER_SOCKETS.contains(&host_path) {
                    " (the Docker socket, which is root on the node)"
                } else {
                    ""
                };
                sink.report(
                    RuleId::HostPathVolume,
                    Location::Key(volume_path.field("hostPath")),
                    format!(
                        "volume {:?} mounts {host_path:?} from the node{socket}; use an emptyDir, a workspace or a \
                         persistentVolumeClaim instead; {}",
                        volume.name,
                        suppress_hint(RuleId::HostPathVolume)
                    ),
                );
            } else if !RESTRICTED_VOLUME_TYPES.contains(&kind.as_str()) {
                sink.report(
                    RuleId::RestrictedVolumeType,
                    Location::Key(volume_path.field(kind)),
                    format!(
                        "volume {:?} has type {kind}, which namespaces enforcing the restricted Pod Security Standard \
                         reject; use one of {}",
                        volume.name,
                        RESTRICTED_VOLUME_TYPES.join(", ")
                    ),
                );
            }
        }
    }
}

/// The pod templates of a run, with their paths.
fn pod_templates(doc: &TektonDoc) -> Vec<(&PodTemplate, FieldPath)> {
    let spec = FieldPath::root().field("spec");
    let mut templates = Vec::new();
    match &doc.resource {
        Some(Resource::TaskRun(run)) => templates.extend(
            run.pod_template
                .iter()
                .map(|t| (t, spec.field("podTemplate"))),
        ),
        Some(Resource::PipelineRun(run)) => {
            let template_path = spec.field("taskRunTemplate").field("podTemplate");
            let run_template = run
                .task_run_template
                .as_ref()
                .and_then(|t| t.pod_template.as_ref());
            templates.extend(run_template.map(|t| (t, template_path)));
            // v1beta1 keeps it at spec.podTemplate.
            templates.extend(
                run.pod_template
                    .iter()
                    .map(|t| (t, spec.field("podTemplate"))),
            );
            for (i, task_run) in run.task_run_specs.iter().enumerate() {
                let path = spec.item("taskRunSpecs", i);
                templates.extend(
                    task_run
                        .pod_template
                        .iter()
                        .map(|t| (t, path.field("podTemplate"))),
                );
                templates.extend(
                    task_run
                        .task_pod_template
                        .iter()
                        .map(|t| (t, path.field("taskPodTemplate"))),
                );
            }
        }
        _ => {}
    }
    templates
}

fn check_host_namespaces(template: &PodTemplate, path: &FieldPath, sink: &mut Sink) {
    let namespaces = [
        ("hostNetwork", template.host_network, "network"),
        ("hostPID", template.host_pid, "process"),
        ("hostIPC", template.host_ipc, "IPC"),
    ];
    for (field, value, namespace) in namespaces {
        if value == Some(true) {
            sink.report(
                RuleId::PodTemplateHostNs,
                Location::Field(path.field(field)),
                format!(
                    "the pod template ({path}) sets {field}: true, which puts the pod into the node's {namespace} \
                     namespace; remove it; {}",
                    suppress_hint(RuleId::PodTemplateHostNs)
                ),
            );
        }
    }
}

/// A secret-looking param whose value reaches a container field.
struct ParamFlow {
    param: String,
    /// `env var "X"`, `args`, `command`, `script`.
    target: String,
    location: Location,
}

/// Where secret-looking params flow into the env values, args, command and script of the
/// container at `path`; one flow per param and field.
fn secret_param_flows(
    container: &Container,
    path: &FieldPath,
    context: &BodyContext,
) -> Vec<ParamFlow> {
    let mut fields: Vec<(FieldPath, &str, String)> = Vec::new();
    for (i, env) in container.env.iter().enumerate() {
        // A value that becomes FOO_NAME or FOO_PATH is a name or a path, not the secret.
        let holds_a_reference = ["NAME", "PATH", "FILE", "DIR"]
            .iter()
            .any(|s| env.name.to_ascii_uppercase().ends_with(s));
        if let (Some(text), false) = (env.value.as_ref().and_then(Json::as_str), holds_a_reference)
        {
            fields.push((
                path.item("env", i).field("value"),
                text,
                format!("env var {:?}", env.name),
            ));
        }
    }
    for (field, items) in [("args", &container.args), ("command", &container.command)] {
        for (i, item) in items.iter().flatten().enumerate() {
            if let Some(text) = item.as_str() {
                fields.push((path.item(field, i), text, field.to_string()));
            }
        }
    }
    if let Some(script) = &container.script {
        fields.push((path.field("script"), script, "its script".to_string()));
    }
    let mut flows = Vec::new();
    for (field, text, target) in fields {
        let mut seen = HashSet::new();
        for reference in expr::references(text) {
            let Some(param) = param_name(&reference) else {
                continue;
            };
            if is_secret_value_param(&param, context) && seen.insert(param.clone()) {
                let location = reference.location(&field, text);
                flows.push(ParamFlow {
                    param,
                    target: target.clone(),
                    location,
                });
            }
        }
    }
    flows
}

/// `params.a.b` → `a.b` (an object param's key counts as part of its name).
fn param_name(reference: &expr::Reference) -> Option<String> {
    (reference.root() == "params").then(|| reference.segments[1..].join("."))
}

/// A param named like a secret that does not just hold a Secret's name or a file path.
fn is_secret_value_param(name: &str, context: &BodyContext) -> bool {
    let declared = name.split('.').next().unwrap_or(name);
    looks_like_secret(name)
        && !names_a_reference(name)
        && !context.secret_name_params.contains(declared)
        && !context
            .params
            .iter()
            .any(|p| p.name == declared && describes_a_pointer(p.description.as_deref()))
}

fn looks_like_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "token",
        "password",
        "passwd",
        "secret",
        "credential",
        "apikey",
        "api-key",
        "api_key",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// `*-secret-name`, `TOKEN_PATH`, `token_expiration_minutes`: the last word says the value is
/// about a secret (where it is, how long it lives), not the secret itself.
fn names_a_reference(name: &str) -> bool {
    const ATTRIBUTES: &[&str] = &[
        "name",
        "names",
        "path",
        "paths",
        "file",
        "files",
        "filename",
        "dir",
        "directory",
        "ref",
        "namespace",
        "url",
        "uri",
        "mount",
        "location",
        "type",
        "format",
        "expiration",
        "expiry",
        "ttl",
        "timeout",
        "duration",
        "minutes",
        "seconds",
    ];
    words(name)
        .last()
        .is_some_and(|last| ATTRIBUTES.contains(&last.as_str()))
}

/// `Name of the Secret holding ...`, `The key within the secret that ...`, `Path to the token
/// file`: the param points at a secret.
fn describes_a_pointer(description: Option<&str>) -> bool {
    const PHRASES: &[&str] = &[
        "name of",
        "secret name",
        "secret s name",
        "key within",
        "key inside",
        "key in the secret",
        "key of the secret",
        "file name",
        "filename",
        "path to",
        "path of",
    ];
    let description = words(description.unwrap_or("")).join(" ");
    PHRASES.iter().any(|phrase| description.contains(phrase))
}

/// Lowercase words of a name or sentence, split at non-alphanumerics and camelCase humps.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        if !c.is_alphanumeric() {
            words.extend((!current.is_empty()).then(|| std::mem::take(&mut current)));
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    words.extend((!current.is_empty()).then_some(current));
    words
}

/// Param names referenced in `texts`.
fn params_referenced_in(texts: &[&str]) -> HashSet<String> {
    texts
        .iter()
        .flat_map(|text| expr::references(text))
        .filter(|r| r.root() == "params")
        .filter_map(|r| r.segment(1).map(str::to_string))
        .collect()
}

/// The Secret sources of a volume: `secret`, and each `secret` of a `projected` volume.
fn volume_secrets(volume: &Volume) -> Vec<&Json> {
    let projected = volume
        .source
        .get("projected")
        .and_then(|p| p.get("sources"))
        .and_then(Json::as_array);
    let projected = projected
        .into_iter()
        .flatten()
        .filter_map(|source| source.get("secret"));
    volume
        .source
        .get("secret")
        .into_iter()
        .chain(projected)
        .collect()
}

/// The Secret names and keys a volume names (`secretName`, `name`, `items[].key`).
fn volume_secret_addresses(volume: &Volume) -> Vec<&str> {
    let mut addresses = Vec::new();
    for secret in volume_secrets(volume) {
        addresses.extend(
            ["secretName", "name"]
                .iter()
                .filter_map(|field| secret.get(field)?.as_str()),
        );
        let items = secret
            .get("items")
            .and_then(Json::as_array)
            .into_iter()
            .flatten();
        addresses.extend(items.filter_map(|item| item.get("key")?.as_str()));
    }
    addresses
}

/// The Secrets the container reads into env vars.
fn env_secret_names(container: &Container) -> Vec<&str> {
    let from_keys = container
        .env
        .iter()
        .filter_map(|e| e.secret_key_ref()?.name.as_deref());
    let from_refs = container
        .env_from
        .iter()
        .filter_map(|e| e.secret_ref.as_ref()?.name.as_deref());
    from_keys.chain(from_refs).collect()
}

/// The Secret names and keys the container's env names.
fn env_secret_addresses(container: &Container) -> Vec<&str> {
    let keys = container
        .env
        .iter()
        .filter_map(|e| e.secret_key_ref()?.key.as_deref());
    env_secret_names(container)
        .into_iter()
        .chain(keys)
        .collect()
}

fn is_secret_volume(volume: &Volume) -> bool {
    !volume_secrets(volume).is_empty()
}

fn suggests_credentials(workspace: &str) -> bool {
    let lower = workspace.to_ascii_lowercase();
    [
        "cred",
        "secret",
        "auth",
        "token",
        "password",
        "ssh",
        "netrc",
        "dockerconfig",
        "docker-config",
        "kubeconfig",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

fn check_xtrace(site: &ContainerSite, context: &BodyContext, sink: &mut Sink) {
    let Some(script) = &site.container.script else {
        return;
    };
    let places = xtrace_places(script);
    if places.is_empty() {
        return;
    }
    let path = site.path.field("script");
    let who = site.describe();
    let secret = secret_exposure(site, context);
    for place in places {
        let location = Location::InScalar {
            path: path.clone(),
            line: place.line,
            column: place.column,
        };
        let command = place.command;
        match &secret {
            Some(reason) => sink.report(
                RuleId::XtraceWithSecrets,
                location,
                format!(
                    "{who} turns on xtrace (`{command}`) although {reason}; xtrace prints every command with its arguments \
                     expanded, secrets included — drop it, or turn it off (set +x) around the commands that touch the secret"
                ),
            ),
            None => sink.report_as(
                RuleId::XtraceWithSecrets,
                Severity::Info,
                location,
                format!(
                    "{who} turns on xtrace (`{command}`), which prints every command with its arguments expanded; it has no \
                     secrets now, but will print any it is given later — prefer explicit echo"
                ),
            ),
        }
    }
}

/// Why the container's commands may see a secret, if they may.
fn secret_exposure(site: &ContainerSite, context: &BodyContext) -> Option<String> {
    let containers = std::iter::once(site.container).chain(context.template_for(site));
    for container in containers {
        if let Some(name) = env_secret_names(container).first() {
            return Some(format!("it reads Secret {name:?} into env vars"));
        }
        let secret_mount = container
            .volume_mounts
            .iter()
            .find(|mount| context.volume(&mount.name).is_some_and(is_secret_volume));
        if let Some(mount) = secret_mount {
            return Some(format!("it mounts Secret volume {:?}", mount.name));
        }
    }
    let workspace = context.credential_workspaces.iter().find(|name| {
        site.container.workspaces.iter().any(|w| &w.name == *name)
            || !context.isolated_workspaces.contains(*name)
    });
    if let Some(name) = workspace {
        return Some(format!(
            "workspace {name:?} (credentials, by its name) is mounted in it"
        ));
    }
    let containers = std::iter::once(site.container).chain(context.template_for(site));
    let flow = containers
        .flat_map(|container| secret_param_flows(container, &site.path, context))
        .next();
    flow.map(|flow| {
        format!(
            "param {:?}, which looks like a secret, reaches it",
            flow.param
        )
    })
}

/// Where a script turns xtrace on: 0-based line and column, and the command that does it.
#[derive(Debug, PartialEq, Eq)]
struct XtracePlace<'a> {
    line: usize,
    column: usize,
    command: &'a str,
}

/// Each place the script turns xtrace on: `set -x`, `set -ex`, `set -o xtrace`, or a shebang like
/// `#!/bin/bash -x`.
fn xtrace_places(script: &str) -> Vec<XtracePlace<'_>> {
    let mut places = Vec::new();
    if let Some(shebang) = scripts::shebang(script) {
        if shebang.interpreter.ends_with("sh")
            && scripts::sets_option(shebang.args.iter().copied(), 'x', "xtrace")
        {
            let line = script.lines().nth(shebang.line).unwrap_or("");
            places.push(XtracePlace {
                line: shebang.line,
                column: 0,
                command: line.trim(),
            });
        }
    }
    for set in scripts::set_commands(script) {
        if scripts::sets_option(set.arguments(), 'x', "xtrace") {
            places.push(XtracePlace {
                line: set.line,
                column: set.column,
                command: set.command,
            });
        }
    }
    places
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::finding::Finding;
    use crate::lint::Profile;

    fn lint(yaml: &str) -> Vec<Finding> {
        crate::lint::testing::lint_in(Profile::Konflux, yaml)
    }

    fn of<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
        findings.iter().filter(|f| f.rule == rule).collect()
    }

    fn task(body: &str) -> String {
        format!("apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n{body}")
    }

    #[test]
    fn privileged_escalation_and_root_point_at_their_fields() {
        let yaml = task(
            "  steps:\n    - name: build\n      image: quay.io/a/b:1\n      securityContext:\n        privileged: true\n        allowPrivilegeEscalation: true\n        runAsUser: 0\n        runAsNonRoot: false\n",
        );
        let findings = lint(&yaml);
        let privileged = of(&findings, "privileged");
        assert_eq!(privileged.len(), 1);
        assert_eq!(
            (privileged[0].line, privileged[0].field.as_str()),
            (10, "spec.steps[0].securityContext.privileged")
        );
        assert!(privileged[0].message.contains("step \"build\""));
        assert!(privileged[0]
            .message
            .contains("# stepkit-lint-disable-next-line privileged -- why"));
        assert_eq!(of(&findings, "allow-privilege-escalation")[0].line, 11);
        let root: Vec<usize> = of(&findings, "run-as-root")
            .iter()
            .map(|f| f.line)
            .collect();
        assert_eq!(root, [12, 13]);
    }

    #[test]
    fn false_and_non_root_settings_are_fine() {
        let yaml = task(
            "  stepTemplate:\n    securityContext:\n      privileged: false\n      allowPrivilegeEscalation: false\n      runAsUser: 1000\n      runAsNonRoot: true\n  steps:\n    - name: a\n      image: quay.io/a/b:1\n",
        );
        let findings = lint(&yaml);
        for rule in ["privileged", "allow-privilege-escalation", "run-as-root"] {
            assert!(of(&findings, rule).is_empty(), "{rule}: {findings:#?}");
        }
    }

    #[test]
    fn capabilities_are_graded() {
        let yaml = task(
            "  steps:\n    - name: a\n      image: quay.io/a/b:1\n      securityContext:\n        capabilities:\n          add: [SETFCAP, cap_sys_admin, NET_BIND_SERVICE, all]\n",
        );
        let findings = lint(&yaml);
        let caps: Vec<(Severity, bool)> = of(&findings, "capabilities-add")
            .iter()
            .map(|f| (f.severity, f.message.contains("SYS_ADMIN")))
            .collect();
        assert_eq!(caps.len(), 3, "{findings:#?}");
        assert_eq!(
            caps.iter().filter(|(s, _)| *s == Severity::Error).count(),
            2
        );
        assert!(caps.contains(&(Severity::Error, true)));
        assert!(caps.contains(&(Severity::Warning, false)));
    }

    #[test]
    fn host_paths_docker_sockets_and_volume_types() {
        let yaml = task(
            "  steps:\n    - name: a\n      image: quay.io/a/b:1\n      volumeMounts:\n        - name: sock\n          mountPath: /var/run/docker.sock\n        - name: dind\n          mountPath: /run/docker.sock\n  volumes:\n    - name: sock\n      hostPath:\n        path: /var/run/docker.sock\n    - name: dind\n      emptyDir: {}\n    - name: nfs\n      nfs:\n        server: x\n        path: /\n",
        );
        let findings = lint(&yaml);
        let host = of(&findings, "host-path-volume");
        assert_eq!(host.len(), 1, "{host:#?}");
        assert_eq!(host[0].line, 16);
        assert!(host[0].message.contains("Docker socket"));
        let restricted = of(&findings, "restricted-volume-type");
        assert_eq!(restricted.iter().map(|f| f.line).collect::<Vec<_>>(), [21]);
        // A StepAction cannot see which volume backs its mount.
        let action = "apiVersion: tekton.dev/v1beta1\nkind: StepAction\nmetadata:\n  name: a\nspec:\n  image: quay.io/a/b:1\n  volumeMounts:\n    - name: sock\n      mountPath: /var/run/docker.sock\n";
        assert_eq!(of(&lint(action), "host-path-volume")[0].line, 9);
    }

    #[test]
    fn run_pod_templates_with_host_namespaces() {
        let run = "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: r\nspec:\n  pipelineRef:\n    name: p\n  taskRunTemplate:\n    podTemplate:\n      hostNetwork: true\n  taskRunSpecs:\n    - pipelineTaskName: t\n      podTemplate:\n        hostPID: true\n        hostIPC: false\n        volumes:\n          - name: h\n            hostPath:\n              path: /etc\n";
        let findings = lint(run);
        assert_eq!(
            of(&findings, "pod-template-host-ns")
                .iter()
                .map(|f| f.line)
                .collect::<Vec<_>>(),
            [10, 14]
        );
        assert_eq!(of(&findings, "host-path-volume")[0].line, 18);
        let task_run = "apiVersion: tekton.dev/v1beta1\nkind: TaskRun\nmetadata:\n  name: r\nspec:\n  taskRef:\n    name: t\n  podTemplate:\n    hostIPC: true\n";
        assert_eq!(
            of(&lint(task_run), "pod-template-host-ns")[0].field,
            "spec.podTemplate.hostIPC"
        );
    }

    #[test]
    fn secrets_in_env_are_info() {
        let yaml = task(
            "  steps:\n    - name: a\n      image: quay.io/a/b:1\n      env:\n        - name: TOKEN\n          valueFrom:\n            secretKeyRef:\n              name: gh\n              key: token\n      envFrom:\n        - secretRef:\n            name: all\n        - configMapRef:\n            name: cm\n",
        );
        let findings = lint(&yaml);
        let env = of(&findings, "secret-in-env");
        assert_eq!(
            env.iter().map(|f| (f.line, f.severity)).collect::<Vec<_>>(),
            [(12, Severity::Info), (16, Severity::Info)]
        );
        assert!(env[0].message.contains("\"TOKEN\""));
    }

    const SECRET_NAME_PARAMS: &str = "  params:
    - name: ADDITIONAL_SECRET
      description: Name of a secret which will be made available to the build
      default: does-not-exist
    - name: registry-secret
      default: creds
    - name: git-token-secret-name
      default: token
  steps:
    - name: build
      image: quay.io/a/b:1
      env:
        - name: ADDITIONAL_SECRET
          value: $(params.ADDITIONAL_SECRET)
        - name: SECRET_NAME
          value: $(params.git-token-secret-name)
      script: |
        oc get secret \"$SECRET_NAME\"
  volumes:
    - name: registry
      secret:
        secretName: $(params.registry-secret)
    - name: other
      projected:
        sources:
          - secret:
              name: $(params.registry-secret)
";

    #[test]
    fn secret_names_are_not_secret_values() {
        let findings = lint(&task(SECRET_NAME_PARAMS));
        assert!(
            of(&findings, "secret-like-param").is_empty(),
            "{findings:#?}"
        );
        let with_script_use = SECRET_NAME_PARAMS.replace(
            "oc get secret \"$SECRET_NAME\"",
            "echo $(params.registry-secret)",
        );
        assert_ne!(with_script_use, SECRET_NAME_PARAMS);
        let with_script_use = task(&with_script_use);
        assert!(of(&lint(&with_script_use), "secret-like-param").is_empty());
    }

    #[test]
    fn secret_values_flowing_into_env_args_and_script_are_reported_where_they_flow() {
        let yaml = task(
            "  params:\n    - name: password\n    - name: apiKey\n    - name: creds\n      type: object\n      properties:\n        token: {type: string}\n  steps:\n    - name: login\n      image: quay.io/a/b:1\n      env:\n        - name: PASSWORD\n          value: $(params.password)\n      args: [\"--key=$(params.apiKey)\"]\n      script: |\n        #!/bin/sh\n        login \"$(params.creds.token)\"\n",
        );
        let findings = lint(&yaml);
        let flows = of(&findings, "secret-like-param");
        assert_eq!(
            flows.iter().map(|f| (f.line, f.column)).collect::<Vec<_>>(),
            [(18, 18), (19, 21), (22, 16)],
            "{flows:#?}"
        );
        assert!(flows[0].message.contains("env var \"PASSWORD\""));
        assert!(flows[2].message.contains("\"creds.token\""));
    }

    #[test]
    fn xtrace_forms() {
        let on = |s: &str| !xtrace_places(&format!("#!/bin/sh\n{s}\n")).is_empty();
        for form in [
            "set -x",
            "  set -ex",
            "set -euxo pipefail",
            "set -o errexit -o xtrace",
            "true; set -x",
            "if a; then set -x; fi",
            "set -eu -x",
        ] {
            assert!(on(form), "{form}");
        }
        for form in [
            "set +x",
            "set -e",
            "set -euo pipefail",
            "echo set -x",
            "# set -x",
            "set -- -x",
            "set +o xtrace",
            "offset -x",
        ] {
            assert!(!on(form), "{form}");
        }
        let place = |line, column, command| XtracePlace {
            line,
            column,
            command,
        };
        assert_eq!(
            xtrace_places("#!/bin/bash -ex\necho"),
            [place(0, 0, "#!/bin/bash -ex")]
        );
        assert!(xtrace_places("#!/usr/bin/env bash\necho").is_empty());
        assert_eq!(
            xtrace_places("echo\n  then set -x ; fi"),
            [place(1, 7, "set -x")]
        );
    }

    #[test]
    fn xtrace_is_a_warning_with_secrets_and_info_without() {
        let with_secret = task(
            "  steps:\n    - name: push\n      image: quay.io/a/b:1\n      volumeMounts:\n        - name: auth\n          mountPath: /auth\n      script: |\n        #!/bin/bash\n        set -ex\n        push\n  volumes:\n    - name: auth\n      secret:\n        secretName: push-auth\n",
        );
        let findings = lint(&with_secret);
        let trace = of(&findings, "xtrace-with-secrets");
        assert_eq!(
            trace
                .iter()
                .map(|f| (f.line, f.column, f.severity))
                .collect::<Vec<_>>(),
            [(14, 9, Severity::Warning)]
        );
        assert!(trace[0].message.contains("Secret volume \"auth\""));

        let without = task("  steps:\n    - name: test\n      image: quay.io/a/b:1\n      script: |\n        set -x\n        make test\n");
        assert_eq!(
            of(&lint(&without), "xtrace-with-secrets")[0].severity,
            Severity::Info
        );
    }

    #[test]
    fn xtrace_sees_template_env_and_credential_workspaces() {
        let template = task(
            "  stepTemplate:\n    env:\n      - name: T\n        valueFrom:\n          secretKeyRef: {name: s, key: k}\n  steps:\n    - name: a\n      image: quay.io/a/b:1\n      script: |\n        set -x\n",
        );
        assert_eq!(
            of(&lint(&template), "xtrace-with-secrets")[0].severity,
            Severity::Warning
        );
        let workspace = task(
            "  workspaces:\n    - name: basic-auth\n      optional: true\n  steps:\n    - name: a\n      image: quay.io/a/b:1\n      script: |\n        set -x\n",
        );
        assert_eq!(
            of(&lint(&workspace), "xtrace-with-secrets")[0].severity,
            Severity::Warning
        );
        // Isolated to another step, the workspace is not in this one.
        let isolated = workspace.replace(
            "      script: |",
            "      script: |\n        set -x\n    - name: b\n      image: quay.io/a/b:1\n      workspaces:\n        - name: basic-auth\n      script: |",
        );
        let severities: Vec<Severity> = of(&lint(&isolated), "xtrace-with-secrets")
            .iter()
            .map(|f| f.severity)
            .collect();
        assert_eq!(severities, [Severity::Info, Severity::Warning]);
    }

    #[test]
    fn words_split_names_and_sentences() {
        assert_eq!(
            words("gitTokenSecretName"),
            ["git", "token", "secret", "name"]
        );
        assert_eq!(words("API_KEY"), ["api", "key"]);
        assert!(names_a_reference("token-path") && names_a_reference("PASSWORD_FILE"));
        assert!(
            !names_a_reference("api-key")
                && !names_a_reference("CLIENT_SECRET")
                && !names_a_reference("SECRET_KEY")
        );
        assert!(names_a_reference("token_expiration_minutes"));
        assert!(describes_a_pointer(Some(
            "Name of the Secret holding the token"
        )));
        assert!(describes_a_pointer(Some(
            "The key within the kubernetes secret that contains the token"
        )));
        assert!(describes_a_pointer(Some("Path to the token file.")));
        assert!(!describes_a_pointer(Some("The token to push with")));
        assert!(!describes_a_pointer(Some("API key of the service")));
    }
}
