//! Konflux and Conforma (Enterprise Contract) expectations of Task definitions: test and scan
//! tasks report `TEST_OUTPUT`/`SCAN_OUTPUT` (ADR 30), tasks declare the results Conforma
//! requires of them, Trusted Artifacts naming and workspaces, `expires-on` dates, and whether a
//! partner task fits a Konflux pipeline (integratable) and runs without credentials (skippable).

use serde_json::Value as Json;

use super::super::finding::{FieldPath, Location};
use super::super::TektonDoc;
use super::metadata::{is_supporting_file, PIPELINE_PROVIDED_PARAMS};
use super::RuleId;
use super::{Check, Sink};
use crate::tekton::expr;
use crate::tekton::model::{Container, Resource, TaskSpec};
use crate::tekton::yaml::Node;

/// Name words of test-like tasks (tokens of `sast-snyk-check`, `unit-tests`...).
#[rustfmt::skip]
const TEST_WORDS: &[&str] = &[
    "test", "tests", "testing", "check", "checks", "checker", "scan", "scans", "scanner", "lint", "linter", "linting",
    "sast", "verify", "verification", "snyk", "coverity", "clamav", "clair",
];

/// Name words of vulnerability scanners, whose counts go in ADR 30's `SCAN_OUTPUT`. SAST and
/// malware scanners (sast-*, clamav-scan) report findings through `TEST_OUTPUT` only.
const VULNERABILITY_SCANNERS: &[&str] = &["clair", "trivy", "grype"];

/// Conforma's `allowed_trusted_artifacts_workspaces` rule data.
const TRUSTED_ARTIFACTS_WORKSPACES: &[&str] = &[
    "git-basic-auth",
    "basic-auth",
    "ssh-directory",
    "netrc",
    "gitops-auth",
];

/// The workspaces a Konflux pipeline binds.
const PIPELINE_WORKSPACES: &[&str] = &["git-auth", "netrc"];

/// Workspace names that say the workspace holds credentials.
#[rustfmt::skip]
const CREDENTIAL_WORDS: &[&str] = &[
    "auth", "secret", "token", "credential", "netrc", "ssh", "dockerconfig", "docker-config", "kubeconfig", "password",
];

const EXPIRES_ON: &str = "build.appstudio.redhat.com/expires-on";

/// The rules about a Task definition as Konflux runs it.
const TASK_RULES: &[RuleId] = &[
    RuleId::TrustedArtifactsNaming,
    RuleId::TestOutputResult,
    RuleId::RequiredResults,
    RuleId::PartnerIntegratable,
    RuleId::PartnerSkippable,
];

pub fn check(check: &Check, sink: &mut Sink) {
    expires_on(check.doc, sink);
    if sink.enabled(RuleId::TrustedArtifactsNaming) {
        for body in super::task_bodies(check.doc) {
            trusted_artifacts_steps(body.spec, &body.path, sink);
        }
    }
    let Some(Resource::Task(task)) = &check.doc.resource else {
        return;
    };
    // A Task in a tests/ or samples/ directory is a fixture of the task under test, not a
    // definition Konflux runs or Conforma checks.
    if !TASK_RULES.iter().any(|rule| sink.enabled(*rule)) || is_supporting_file(check.file) {
        return;
    }
    trusted_artifacts_workspaces(task, sink);
    test_output(check, task, sink);
    required_results(check, task, sink);
    integratable(task, sink);
    skippable(task, sink);
}

/// Lowercase words of a name: `sast-snyk-check` → sast, snyk, check.
fn words(name: &str) -> impl Iterator<Item = String> + '_ {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
}

// ---------------------------------------------------------------------------------------------
// test-output-result

fn test_output(check: &Check, task: &TaskSpec, sink: &mut Sink) {
    if !sink.enabled(RuleId::TestOutputResult) {
        return;
    }
    let name = check.doc.name();
    let Some(why) = test_like_because(check.doc) else {
        return;
    };
    require_string_result(task, name, "TEST_OUTPUT", &why, sink);
    // Not twice when Conforma's required results already ask for it.
    let required_anyway = sink.enabled(RuleId::RequiredResults)
        && conforma_required_results(check).any(|r| r == "SCAN_OUTPUT");
    if !required_anyway && words(name).any(|w| VULNERABILITY_SCANNERS.contains(&w.as_str())) {
        let why = format!("its name {name:?} says it scans for vulnerabilities");
        require_string_result(task, name, "SCAN_OUTPUT", &why, sink);
    }
}

/// Why a Task counts as a test or scan, if it does.
fn test_like_because(doc: &TektonDoc) -> Option<String> {
    if let Some(word) = words(doc.name()).find(|w| TEST_WORDS.contains(&w.as_str())) {
        return Some(format!("its name says {word:?}"));
    }
    for (key, value) in &doc.metadata.labels {
        let value = value.as_str().unwrap_or("");
        // `konflux-ci/test: "true"` marks by key, `task-type: scan` by value.
        let key_word = if value == "true" {
            key.rsplit('/').next().unwrap_or("")
        } else {
            ""
        };
        if words(value)
            .chain(words(key_word))
            .any(|w| TEST_WORDS.contains(&w.as_str()))
        {
            return Some(format!("its label {key}: {value:?} marks it as a test"));
        }
    }
    writes_test_output(&doc.root).then(|| "a step writes $(results.TEST_OUTPUT.path)".to_string())
}

fn writes_test_output(root: &Node) -> bool {
    let Some(spec) = root.get("spec") else {
        return false;
    };
    let mut found = false;
    expr::walk_strings(spec, &FieldPath::root().field("spec"), &mut |_, _, text| {
        found |= expr::references(text)
            .iter()
            .any(|r| r.segments == ["results", "TEST_OUTPUT", "path"]);
    });
    found
}

fn require_string_result(task: &TaskSpec, name: &str, result: &str, why: &str, sink: &mut Sink) {
    let results = FieldPath::root().field("spec").field("results");
    match task.results.iter().position(|r| r.name == result) {
        None => {
            let message = format!(
                "Task {name:?} is a test or scan ({why}) but declares no {result} result; declare it (type string) and write the ADR 30 JSON to it so the pipeline can proceed and report"
            );
            sink.report(RuleId::TestOutputResult, Location::Field(results), message);
        }
        Some(i) => {
            let type_ = task.results[i].type_.as_deref().unwrap_or("string");
            if type_ != "string" {
                let message =
                    format!("result {result} is of type {type_}; ADR 30 makes it a string holding compact JSON");
                sink.report(
                    RuleId::TestOutputResult,
                    Location::Field(results.index(i).field("type")),
                    message,
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// required-results

fn required_results(check: &Check, task: &TaskSpec, sink: &mut Sink) {
    let name = check.doc.name();
    if !sink.enabled(RuleId::RequiredResults) {
        return;
    }
    for result in conforma_required_results(check) {
        if !task.results.iter().any(|r| &r.name == result) {
            let message = format!(
                "Task {name:?} must declare result {result} (Conforma required_task_results); add it to spec.results and write it"
            );
            sink.report(
                RuleId::RequiredResults,
                Location::Field(FieldPath::root().field("spec").field("results")),
                message,
            );
        }
    }
}

/// The results `required_results` asks of this Task. Its keys are a task name, or
/// `name:version` for one version (the `x.y` of the version label).
fn conforma_required_results<'a>(check: &Check<'a>) -> impl Iterator<Item = &'a String> + 'a {
    let name = check.doc.name();
    let version = check
        .doc
        .metadata
        .label("app.kubernetes.io/version")
        .unwrap_or("");
    let applies = move |key: &str| match key.split_once(':') {
        Some((task_name, wanted)) => {
            task_name == name && (version == wanted || version.starts_with(&format!("{wanted}.")))
        }
        None => !name.is_empty() && key == name,
    };
    check
        .options
        .required_results
        .iter()
        .filter(move |(key, _)| applies(key))
        .flat_map(|(_, results)| results)
}

// ---------------------------------------------------------------------------------------------
// trusted-artifacts-naming

/// Params a `use` step reads and results a `create` step writes are artifacts.
fn trusted_artifacts_steps(task: &TaskSpec, spec: &FieldPath, sink: &mut Sink) {
    for (i, step) in task.steps.iter().enumerate() {
        let Some(verb) = trusted_artifacts_verb(&step.container) else {
            continue;
        };
        let step_name = step.container.name.as_deref().unwrap_or("");
        for (j, arg) in step.container.args.iter().flatten().enumerate() {
            let Some(text) = arg.as_str() else { continue };
            let path = spec.item("steps", i).item("args", j);
            for reference in expr::references(text) {
                let name = match (verb, reference.root(), reference.segment(2)) {
                    ("use", "params", _) => reference.segment(1),
                    ("create", "results", Some("path")) => reference.segment(1),
                    _ => None,
                };
                let Some(name) = name.filter(|n| !n.ends_with("_ARTIFACT")) else {
                    continue;
                };
                let what = if verb == "use" { "param" } else { "result" };
                let message = format!(
                    "{what} {name:?} is an artifact of the Trusted Artifacts {verb:?} step {step_name:?}; name it with the _ARTIFACT suffix (Conforma checks it)"
                );
                sink.report(
                    RuleId::TrustedArtifactsNaming,
                    reference.location(&path, text),
                    message,
                );
            }
        }
    }
}

/// Conforma's workspace rule reads Task definitions; a test Pipeline's inline mock may share a
/// workspace.
fn trusted_artifacts_workspaces(task: &TaskSpec, sink: &mut Sink) {
    let spec = FieldPath::root().field("spec");
    let uses_artifacts = task
        .params
        .iter()
        .map(|p| &p.name)
        .chain(task.results.iter().map(|r| &r.name))
        .any(|n| n.ends_with("_ARTIFACT"));
    if !uses_artifacts {
        return;
    }
    for (i, workspace) in task.workspaces.iter().enumerate() {
        if !TRUSTED_ARTIFACTS_WORKSPACES.contains(&workspace.name.as_str()) {
            let message = format!(
                "workspace {:?} in a Trusted Artifacts task: pass data as _ARTIFACT params and results instead (workspaces allowed for credentials: {})",
                workspace.name,
                TRUSTED_ARTIFACTS_WORKSPACES.join(", ")
            );
            sink.report(
                RuleId::TrustedArtifactsNaming,
                Location::Field(spec.item("workspaces", i).field("name")),
                message,
            );
        }
    }
}

/// `use` or `create` for a step running the Trusted Artifacts image.
fn trusted_artifacts_verb(container: &Container) -> Option<&'static str> {
    if !container
        .image
        .as_deref()
        .is_some_and(|image| image.contains("trusted-artifacts"))
    {
        return None;
    }
    let args = container.args.as_deref().unwrap_or_default();
    ["use", "create"]
        .into_iter()
        .find(|verb| args.iter().any(|arg| arg.as_str() == Some(verb)))
}

// ---------------------------------------------------------------------------------------------
// expires-on-format

fn expires_on(doc: &TektonDoc, sink: &mut Sink) {
    // Read as written: YAML could type an unquoted date.
    let Some(value) = doc
        .root
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(EXPIRES_ON))
    else {
        return;
    };
    let text = value.as_str().unwrap_or("");
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    if time::OffsetDateTime::parse(text, rfc3339).is_err() {
        let path = FieldPath::root()
            .field("metadata")
            .field("annotations")
            .field(EXPIRES_ON);
        let message = format!(
            "{EXPIRES_ON} {text:?} is not an RFC 3339 time; write it like \"2025-06-30T00:00:00Z\""
        );
        sink.report(RuleId::ExpiresOnFormat, Location::Field(path), message);
    }
}

// ---------------------------------------------------------------------------------------------
// partner-integratable, partner-skippable

fn integratable(task: &TaskSpec, sink: &mut Sink) {
    if !sink.enabled(RuleId::PartnerIntegratable) {
        return;
    }
    let spec = FieldPath::root().field("spec");
    for (i, param) in task.params.iter().enumerate() {
        if param.default.is_none() && !PIPELINE_PROVIDED_PARAMS.contains(&param.name.as_str()) {
            let message = format!(
                "required param {:?} is not one a Konflux pipeline passes ({}); give it a default",
                param.name,
                PIPELINE_PROVIDED_PARAMS.join(", ")
            );
            sink.report(
                RuleId::PartnerIntegratable,
                Location::Field(spec.item("params", i).field("name")),
                message,
            );
        }
    }
    for (i, workspace) in task.workspaces.iter().enumerate() {
        if workspace.optional != Some(true)
            && !PIPELINE_WORKSPACES.contains(&workspace.name.as_str())
        {
            let message = format!(
                "workspace {:?} is required, but a Konflux pipeline binds only git-auth and netrc; make it optional: true",
                workspace.name
            );
            sink.report(
                RuleId::PartnerIntegratable,
                Location::Field(spec.item("workspaces", i).field("name")),
                message,
            );
        }
    }
}

fn skippable(task: &TaskSpec, sink: &mut Sink) {
    if !sink.enabled(RuleId::PartnerSkippable) {
        return;
    }
    let spec = FieldPath::root().field("spec");
    for (i, volume) in task.volumes.iter().enumerate() {
        let path = spec.item("volumes", i);
        if let Some(secret) = volume.source.get("secret").filter(|s| !is_optional(s)) {
            let name = secret
                .get("secretName")
                .and_then(Json::as_str)
                .unwrap_or(&volume.name);
            report_required_secret(
                sink,
                path.field("secret"),
                &format!("secret volume {name:?}"),
                "secret.optional: true",
            );
        }
        let sources = volume
            .source
            .get("projected")
            .and_then(|p| p.get("sources"))
            .and_then(Json::as_array);
        for (j, source) in sources.into_iter().flatten().enumerate() {
            if let Some(secret) = source.get("secret").filter(|s| !is_optional(s)) {
                let name = secret.get("name").and_then(Json::as_str).unwrap_or("");
                let path = path.field("projected").item("sources", j).field("secret");
                report_required_secret(
                    sink,
                    path,
                    &format!("projected secret {name:?}"),
                    "optional: true",
                );
            }
        }
    }
    for (container, path) in containers(task, &spec) {
        secret_env(container, &path, sink);
    }
    for (i, workspace) in task.workspaces.iter().enumerate() {
        let name = workspace.name.to_ascii_lowercase();
        if workspace.optional != Some(true) && CREDENTIAL_WORDS.iter().any(|w| name.contains(w)) {
            let path = spec.item("workspaces", i).field("name");
            report_required_secret(
                sink,
                path,
                &format!("credentials workspace {:?}", workspace.name),
                "optional: true",
            );
        }
    }
}

/// The step template, steps and sidecars, with their paths.
fn containers<'a>(task: &'a TaskSpec, spec: &FieldPath) -> Vec<(&'a Container, FieldPath)> {
    let mut found: Vec<(&Container, FieldPath)> = task
        .step_template
        .iter()
        .map(|t| (t, spec.field("stepTemplate")))
        .collect();
    found.extend(
        task.steps
            .iter()
            .enumerate()
            .map(|(i, step)| (&step.container, spec.item("steps", i))),
    );
    found.extend(
        task.sidecars
            .iter()
            .enumerate()
            .map(|(i, sidecar)| (sidecar, spec.item("sidecars", i))),
    );
    found
}

fn secret_env(container: &Container, path: &FieldPath, sink: &mut Sink) {
    for (i, env) in container.env.iter().enumerate() {
        let Some(secret) = env.secret_key_ref() else {
            continue;
        };
        if secret.optional != Some(true) {
            let what = format!(
                "env {:?} from secret {:?}",
                env.name,
                secret.name.as_deref().unwrap_or("")
            );
            let path = path.item("env", i).field("valueFrom").field("secretKeyRef");
            report_required_secret(sink, path, &what, "secretKeyRef.optional: true");
        }
    }
    for (i, from) in container.env_from.iter().enumerate() {
        let Some(secret) = &from.secret_ref else {
            continue;
        };
        if secret.optional != Some(true) {
            let what = format!("envFrom secret {:?}", secret.name.as_deref().unwrap_or(""));
            report_required_secret(
                sink,
                path.item("envFrom", i).field("secretRef"),
                &what,
                "secretRef.optional: true",
            );
        }
    }
}

/// `optional: true` (or a `$(...)` Tekton decides at run time).
fn is_optional(source: &Json) -> bool {
    match source.get("optional") {
        Some(Json::Bool(optional)) => *optional,
        Some(Json::String(text)) => text == "true" || text.contains("$("),
        _ => false,
    }
}

fn report_required_secret(sink: &mut Sink, path: FieldPath, what: &str, fix: &str) {
    let message = format!(
        "{what} is required, so the task cannot run (or be skipped) without the credentials; set {fix} and report SKIPPED in TEST_OUTPUT when it is absent"
    );
    sink.report(RuleId::PartnerSkippable, Location::Field(path), message);
}

#[cfg(test)]
mod tests {
    use super::super::super::finding::Finding;
    use super::super::super::{Config, Profile, SourceFile};
    use super::*;

    fn lint(yaml: &str, profile: Profile) -> Vec<Finding> {
        crate::lint::testing::lint_at("-", yaml, |config: &mut Config| {
            config.options.profile = profile
        })
    }

    fn hits(yaml: &str, profile: Profile, rule: &str) -> Vec<Finding> {
        lint(yaml, profile)
            .into_iter()
            .filter(|f| f.rule == rule)
            .collect()
    }

    fn task(name: &str, body: &str) -> String {
        format!("apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: {name}\nspec:\n{body}")
    }

    const STEP: &str = "  steps:\n    - name: run\n      image: quay.io/konflux-ci/tools:latest@sha256:0000000000000000000000000000000000000000000000000000000000000000\n      script: echo\n";

    #[test]
    fn test_like_tasks_need_test_output() {
        let check = task("sast-snyk-check", STEP);
        let found = hits(&check, Profile::Konflux, "test-output-result");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].message.contains("its name says \"sast\""),
            "{found:#?}"
        );
        assert!(hits(
            &task("git-clone", STEP),
            Profile::Konflux,
            "test-output-result"
        )
        .is_empty());
        assert!(hits(
            &task("git-checkout", STEP),
            Profile::Konflux,
            "test-output-result"
        )
        .is_empty());
        let declared = task(
            "unit-tests",
            &format!("  results:\n    - name: TEST_OUTPUT\n      description: ADR 30\n{STEP}"),
        );
        assert!(hits(&declared, Profile::Konflux, "test-output-result").is_empty());
        let wrong_type = declared.replace("      description: ADR 30\n", "      type: object\n");
        assert_eq!(
            hits(&wrong_type, Profile::Konflux, "test-output-result")[0].line,
            8
        );
    }

    #[test]
    fn fixtures_in_tests_directories_are_not_konflux_tasks() {
        let dir = std::env::temp_dir().join(format!("stepkit-lint-konflux-{}", std::process::id()));
        let path = dir.join("task/maven/0.4/tests/run.yaml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let helper = task("test-mvn-results", STEP);
        std::fs::write(&path, &helper).unwrap();
        let mut config = Config::default();
        config.options.profile = Profile::Konflux;
        let in_tests =
            crate::lint::lint_files(vec![SourceFile::parse(path, helper.clone())], &config);
        let elsewhere = crate::lint::lint_files(
            vec![SourceFile::parse(dir.join("run.yaml"), helper)],
            &config,
        );
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            !in_tests
                .findings
                .iter()
                .any(|f| f.rule == "test-output-result"),
            "{:#?}",
            in_tests.findings
        );
        assert!(elsewhere
            .findings
            .iter()
            .any(|f| f.rule == "test-output-result"));
    }

    #[test]
    fn writing_test_output_makes_a_task_test_like() {
        let writes = STEP.replace(
            "script: echo",
            "script: echo '{}' > $(results.TEST_OUTPUT.path)",
        );
        let found = hits(
            &task("summarize", &writes),
            Profile::Konflux,
            "test-output-result",
        );
        assert!(found[0].message.contains("writes"), "{found:#?}");
    }

    #[test]
    fn vulnerability_scanners_also_need_scan_output() {
        let body =
            format!("  results:\n    - name: TEST_OUTPUT\n      description: ADR 30\n{STEP}");
        let found = hits(
            &task("trivy-scan", &body),
            Profile::Konflux,
            "test-output-result",
        );
        assert!(found[0].message.contains("SCAN_OUTPUT"), "{found:#?}");
        assert!(hits(
            &task("clamav-scan", &body),
            Profile::Konflux,
            "test-output-result"
        )
        .is_empty());
        // clair-scan's SCAN_OUTPUT is reported once, by required-results.
        let clair = lint(&task("clair-scan", &body), Profile::Konflux);
        let scan_output: Vec<_> = clair
            .iter()
            .filter(|f| f.message.contains("SCAN_OUTPUT"))
            .collect();
        assert_eq!(scan_output.len(), 1, "{scan_output:#?}");
        assert_eq!(scan_output[0].rule, "required-results");
    }

    #[test]
    fn required_results_by_name_and_version() {
        let clair = task(
            "clair-scan",
            &format!("  results:\n    - name: TEST_OUTPUT\n{STEP}"),
        );
        let found = hits(&clair, Profile::Konflux, "required-results");
        assert!(
            found.iter().any(|f| f.message.contains("SCAN_OUTPUT")),
            "{found:#?}"
        );
        let mut config = Config::default();
        config.options.profile = Profile::Konflux;
        config.options.required_results = [("x:0.1".to_string(), vec!["A".to_string()])].into();
        let versioned = |version: &str| {
            let yaml = task("x", STEP).replace(
                "  name: x\n",
                &format!("  name: x\n  labels:\n    app.kubernetes.io/version: \"{version}\"\n"),
            );
            let report =
                crate::lint::lint_files(vec![SourceFile::parse("-".into(), yaml)], &config);
            report
                .findings
                .iter()
                .filter(|f| f.rule == "required-results")
                .count()
        };
        assert_eq!(versioned("0.1.2"), 1);
        assert_eq!(versioned("0.2"), 0);
    }

    const TA_TASK: &str = r#"apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: lint-oci-ta
spec:
  params:
    - name: SOURCE
      type: string
    - name: CACHI2_ARTIFACT
      type: string
      default: ""
  results:
    - name: OUT_ARTIFACT
  workspaces:
    - name: source
    - name: netrc
      optional: true
  steps:
    - name: use-trusted-artifact
      image: quay.io/konflux-ci/build-trusted-artifacts:latest@sha256:0000000000000000000000000000000000000000000000000000000000000000
      args:
        - use
        - $(params.SOURCE)=/var/workdir/source
        - $(params.CACHI2_ARTIFACT)=/var/workdir/cachi2
    - name: create-trusted-artifact
      image: quay.io/konflux-ci/build-trusted-artifacts:latest@sha256:0000000000000000000000000000000000000000000000000000000000000000
      args:
        - create
        - --store
        - $(params.ociStorage)
        - $(results.OUT_ARTIFACT.path)=/var/workdir/out
"#;

    #[test]
    fn trusted_artifacts_names_and_workspaces() {
        let found = hits(TA_TASK, Profile::Konflux, "trusted-artifacts-naming");
        let lines: Vec<usize> = found.iter().map(|f| f.line).collect();
        // SOURCE in the use step, and the general-purpose workspace; not ociStorage in create.
        assert_eq!(lines, [15, 23], "{found:#?}");
        let fixed = TA_TASK
            .replace("SOURCE)", "SOURCE_ARTIFACT)")
            .replace("    - name: source\n", "");
        let fixed = fixed.replace("- name: SOURCE\n", "- name: SOURCE_ARTIFACT\n");
        assert!(hits(&fixed, Profile::Konflux, "trusted-artifacts-naming").is_empty());
    }

    #[test]
    fn trusted_artifacts_in_inline_pipeline_tasks() {
        let pipeline = format!(
            "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n  tasks:\n    - name: t\n      taskSpec:\n{}",
            TA_TASK.split_once("spec:\n").unwrap().1.lines().map(|l| format!("        {l}\n")).collect::<String>()
        );
        // The step naming applies; Conforma's workspace rule reads only Task definitions.
        let found = hits(&pipeline, Profile::Konflux, "trusted-artifacts-naming");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].message.contains("\"SOURCE\""));
    }

    #[test]
    fn expires_on_must_be_rfc3339() {
        let with = |value: &str| {
            task("t", STEP).replace(
                "  name: t\n",
                &format!("  name: t\n  annotations:\n    {EXPIRES_ON}: {value}\n"),
            )
        };
        assert!(hits(
            &with("\"2025-06-30T00:00:00Z\""),
            Profile::Konflux,
            "expires-on-format"
        )
        .is_empty());
        assert!(hits(
            &with("2025-06-30T00:00:00+02:00"),
            Profile::Konflux,
            "expires-on-format"
        )
        .is_empty());
        assert_eq!(
            hits(
                &with("\"2025-06-30\""),
                Profile::Konflux,
                "expires-on-format"
            )[0]
            .line,
            6
        );
    }

    #[test]
    fn partner_tasks_take_only_pipeline_inputs() {
        let body = "  params:\n    - name: image-url\n    - name: TOKEN\n  workspaces:\n    - name: source\n    - name: netrc\n    - name: cache\n      optional: true\n";
        let found = hits(
            &task("p", &format!("{body}{STEP}")),
            Profile::Partner,
            "partner-integratable",
        );
        let lines: Vec<usize> = found.iter().map(|f| f.line).collect();
        assert_eq!(lines, [8, 10], "{found:#?}");
    }

    #[test]
    fn partner_tasks_run_without_secrets() {
        let body = r#"  workspaces:
    - name: git-basic-auth
    - name: dockerconfig
      optional: true
  volumes:
    - name: required
      secret:
        secretName: a
    - name: skippable
      secret:
        secretName: b
        optional: true
  steps:
    - name: run
      image: registry.access.redhat.com/ubi9:9.4@sha256:0000000000000000000000000000000000000000000000000000000000000000
      env:
        - name: TOKEN
          valueFrom:
            secretKeyRef:
              name: c
              key: token
        - name: OPTIONAL_TOKEN
          valueFrom:
            secretKeyRef:
              name: d
              key: token
              optional: true
      envFrom:
        - secretRef:
            name: e
"#;
        let found = hits(&task("p", body), Profile::Partner, "partner-skippable");
        let lines: Vec<usize> = found.iter().map(|f| f.line).collect();
        assert_eq!(lines, [7, 12, 24, 34], "{found:#?}");
    }
}
