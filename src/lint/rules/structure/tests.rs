use super::results::step_result_reference;
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
    let findings = lint(&task(
        "  steps:\n    - Name: a\n      image: {IMAGE}\n      scirpt: echo\n      frobnicate: 1\n",
    ));
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
        let spec =
            format!("  steps:\n    - name: a\n      image: {{IMAGE}}\n      onError: {value:?}\n");
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
    assert!(!is_param_name("a.b", false) && !is_param_name("1a", true) && !is_param_name("", true));
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
