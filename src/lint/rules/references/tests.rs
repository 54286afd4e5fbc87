//! The reference rules on small documents: every rule, its lines, and the forms that are clean.

use super::*;
use crate::lint::finding::Finding;
use crate::lint::{Config, Profile};

fn lint(yaml: &str, profile: Profile) -> Vec<Finding> {
    crate::lint::testing::lint_at("t.yaml", yaml, |config: &mut Config| {
        config.options.profile = profile;
        config.options.shellcheck.enabled = false;
    })
}

/// (rule, line) of every finding of this module's rules.
fn ours(yaml: &str) -> Vec<(String, usize)> {
    lint(yaml, Profile::Core)
        .into_iter()
        .filter(|f| RULES.iter().any(|r| r.as_str() == f.rule))
        .map(|f| (f.rule, f.line))
        .collect()
}

fn hits(yaml: &str, rule: &str) -> Vec<usize> {
    ours(yaml)
        .into_iter()
        .filter(|(r, _)| r == rule)
        .map(|(_, line)| line)
        .collect()
}

const MODERN_TASK: &str = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: modern
spec:
  params:
    - name: image.url
    - name: flags
      type: array
    - name: git
      type: object
      properties:
        url: {type: string}
        revision: {type: string}
    - name: verbose
      default: "false"
    - name: on-error
      default: continue
  results:
    - name: digest
  workspaces:
    - name: source
    - name: cache
      optional: true
  steps:
    - name: clone
      image: registry.example.com/git:1.0
      onError: $(params.on-error)
      env:
        - name: URL
          value: $(params.git.url)
        - name: REVISION
          value: $(params["git"].revision)
        - name: IMAGE
          value: $(params["image.url"])
        - name: FIRST_FLAG
          value: $(params.flags[0])
        - name: RUN
          value: $(context.taskRun.name)-$(context.task.retry-count)
      workingDir: $(workspaces.source.path)
      script: |
        #!/bin/sh
        set -e
        git clone "$URL" .
        echo -n "$IMAGE" > $(results.digest.path)
        echo done > $(step.results.out.path)
      results:
        - name: out
    - name: build
      image: registry.example.com/builder:1.0
      args: ["build", "$(params.flags[*])", "--verbose=$(params.verbose)"]
      when:
        - input: $(workspaces.cache.bound)
          operator: in
          values: ["true"]
    - name: scan
      ref:
        name: scan-action
      params:
        - name: flags
          value: $(params.flags[*])
"#;

#[test]
fn modern_task_syntax_is_clean() {
    assert_eq!(ours(MODERN_TASK), Vec::<(String, usize)>::new());
}

#[test]
fn undefined_params_and_keys_are_named_with_the_declared_ones() {
    let yaml = MODERN_TASK
        .replace("value: $(params.git.url)", "value: $(params.git.branch)")
        .replace(
            "value: $(params[\"image.url\"])",
            "value: $(params.image-url)",
        );
    let findings = lint(&yaml, Profile::Core);
    let undefined: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "undefined-param-ref")
        .collect();
    assert_eq!(undefined.len(), 2, "{undefined:#?}");
    assert!(
        undefined[0].message.contains("key \"branch\"")
            && undefined[0].message.contains("revision, url")
    );
    assert_eq!(undefined[0].line, 32);
    assert!(
        undefined[1].message.contains("\"image-url\"")
            && undefined[1].message.contains("image.url")
    );
    assert_eq!(undefined[0].severity, Severity::Error);
}

#[test]
fn legacy_input_params_are_params() {
    let yaml = "apiVersion: tekton.dev/v1beta1\nkind: Task\nmetadata: {name: t}\nspec:\n  params: [{name: a}]\n  \
                    steps:\n    - name: s\n      image: alpine:3\n      args: [\"$(inputs.params.a)\", \"$(inputs.params.b)\"]\n";
    assert_eq!(ours(yaml), vec![("undefined-param-ref".to_string(), 9)]);
}

#[test]
fn every_substituted_field_is_checked() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  workspaces:
    - name: w
      mountPath: /w/$(params.nope1)
  volumes:
    - name: cfg
      configMap:
        name: $(params.nope2)
  stepTemplate:
    env:
      - name: A
        value: $(params.nope3)
  sidecars:
    - name: side
      image: $(params.nope4)
  steps:
    - name: s
      image: alpine:3
      workingDir: $(workspaces.w.path)
      volumeMounts:
        - name: cfg
          mountPath: /cfg/$(params.nope5)
      env:
        - name: B
          valueFrom:
            secretKeyRef:
              name: $(params.nope6)
              key: token
"#;
    assert_eq!(
        hits(yaml, "undefined-param-ref"),
        vec![8, 12, 16, 19, 26, 31]
    );
}

#[test]
fn inline_task_specs_see_their_own_and_the_pipelines_params() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  params:
    - name: repo
    - name: platforms
      type: array
  workspaces:
    - name: shared
  tasks:
    - name: build
      matrix:
        params:
          - name: platform
            value: $(params.platforms[*])
      workspaces:
        - name: shared
      taskSpec:
        params:
          - name: own
            default: x
        steps:
          - name: s
            image: alpine:3
            env:
              - name: A
                value: $(params.own)-$(params.repo)-$(params.platform)
              - name: W
                value: $(workspaces.shared.path)
              - name: R
                value: $(context.pipelineRun.name)-$(context.taskRun.name)
              - name: BAD
                value: $(params.missing)
  finally:
    - name: report
      params:
        - name: status
          value: $(tasks.status)
      taskRef:
        name: report
"#;
    assert_eq!(ours(yaml), vec![("undefined-param-ref".to_string(), 35)]);
}

#[test]
fn pipeline_refs_are_checked_in_params_when_and_bindings() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  params:
    - name: url
  workspaces:
    - name: src
    - name: spare
  tasks:
    - name: clone
      taskRef:
        name: git-clone
      params:
        - name: url
          value: $(params.ur)
        - name: run
          value: $(context.pipelineRun.nam)
      when:
        - input: $(params.url)
          operator: notin
          values: [""]
      workspaces:
        - name: output
          workspace: sorce
        - name: src
"#;
    assert_eq!(
        ours(yaml),
        vec![
            ("unused-workspace".to_string(), 10),
            ("undefined-param-ref".to_string(), 17),
            ("undefined-context-ref".to_string(), 19),
            ("undefined-workspace-ref".to_string(), 26),
        ]
    );
}

#[test]
fn a_matrixed_display_name_sees_the_matrix_params() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  tasks:
    - name: browsers
      displayName: "$(params.platform) on $(params.browser)"
      matrix:
        params:
          - name: platform
            value: [linux, mac]
        include:
          - name: extra
            params:
              - name: browser
                value: chrome
      taskRef: {name: t}
    - name: plain
      displayName: "$(params.platform)"
      taskRef: {name: t}
"#;
    assert_eq!(hits(yaml, "undefined-param-ref"), vec![20]);
}

#[test]
fn a_pipeline_task_param_may_name_the_tasks_workspace() {
    // The value is substituted again in the TaskRun, where `source` is the Task's workspace.
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  workspaces:
    - name: git-source
  tasks:
    - name: build
      taskRef: {name: kaniko}
      params:
        - name: DOCKERFILE
          value: $(workspaces.source.path)/Dockerfile
      workspaces:
        - name: source
          workspace: git-source
      when:
        - input: $(workspaces.source.bound)
          operator: in
          values: ["true"]
"#;
    assert_eq!(hits(yaml, "undefined-workspace-ref"), vec![18]);
}

#[test]
fn results_and_step_results_must_be_declared() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  results:
    - name: digest
  steps:
    - name: s
      image: alpine:3
      results:
        - name: out
      script: |
        echo > $(results.digest.path)
        echo > $(results.digst.path)
        echo > $(step.results.out.path)
        echo > $(step.results.ot.path)
"#;
    assert_eq!(hits(yaml, "undefined-result-ref"), vec![15, 17]);
}

const STEP_RESULTS_TASK: &str = r#"
apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata: {name: checksum}
spec:
  image: alpine:3
  results:
    - name: sum
  script: |
    sha256sum /etc/os-release > $(step.results.sum.path)
---
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  results:
    - name: sum
      value: $(steps.hash.results.sum)
    - name: remote
      value: $(steps.remote.results.anything)
  steps:
    - name: produce
      image: alpine:3
      results:
        - name: list
          type: array
        - name: obj
          type: object
          properties:
            url: {type: string}
        - name: dotted.name
      script: |
        echo > $(step.results.list.path)
    - name: hash
      ref:
        name: checksum
      params:
        - name: input
          value: $(steps.produce.results.obj.url)
    - name: remote
      ref:
        resolver: git
        params:
          - name: pathInRepo
            value: stepaction/x.yaml
    - name: unknown-action
      ref:
        name: not-in-corpus
    - image: alpine:3
      command: ["$(steps.produce.results.list[*])"]
      args: ["$(steps.produce.results.list[0])", "$(steps.produce.results[\"dotted.name\"])"]
      env:
        - name: SUM
          value: $(steps.hash.results.sum)-$(steps.unknown-action.results.x)
        - name: EXIT
          value: $(steps.step-produce.exitCode.path)
      when:
        - input: $(steps.produce.results.dotted.name)
          operator: in
          values: ["$(steps.remote.results.y)"]
      script: |
        cat $(steps.step-unnamed-4.exitCode.path) $(steps.step-hash.exitCode.path)
"#;

#[test]
fn step_results_of_earlier_steps_and_exit_codes_are_clean() {
    assert_eq!(ours(STEP_RESULTS_TASK), Vec::<(String, usize)>::new());
}

#[test]
fn step_results_must_name_a_step_and_a_result_it_declares() {
    let yaml = STEP_RESULTS_TASK
        .replace(
            "value: $(steps.hash.results.sum)\n",
            "value: $(steps.hsah.results.sum)\n",
        )
        .replace(
            "$(steps.produce.results.obj.url)",
            "$(steps.produce.results.objects.url)",
        )
        .replace(
            "value: $(steps.hash.results.sum)-",
            "value: $(steps.hash.results.summ)-",
        );
    let findings = lint(&yaml, Profile::Core);
    let undefined: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "undefined-result-ref")
        .collect();
    let lines: Vec<_> = undefined.iter().map(|f| f.line).collect();
    assert_eq!(lines, vec![18, 39, 54], "{undefined:#?}");
    assert!(
        undefined[0].message.contains("step \"hsah\"")
            && undefined[0]
                .message
                .contains("steps: produce, hash, remote, unknown-action"),
        "{}",
        undefined[0].message
    );
    assert!(
        undefined[1].message.contains("step \"produce\"")
            && undefined[1]
                .message
                .contains("declared: dotted.name, list, obj"),
        "{}",
        undefined[1].message
    );
    assert!(
        undefined[2]
            .message
            .contains("the StepAction of step \"hash\"")
            && undefined[2].message.contains("declared: sum"),
        "{}",
        undefined[2].message
    );
    assert_eq!(undefined[0].severity, Severity::Error);
}

#[test]
fn a_step_cannot_read_its_own_or_a_later_steps_results() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  steps:
    - name: first
      image: alpine:3
      results:
        - name: out
      args: ["$(steps.first.results.out)", "$(steps.second.results.out)"]
    - name: second
      image: alpine:3
      results:
        - name: out
      args: ["$(steps.first.results.out)"]
"#;
    let findings = lint(yaml, Profile::Core);
    let messages: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "undefined-result-ref")
        .map(|f| (f.line, f.message.as_str()))
        .collect();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(messages[0].0 == 11 && messages[0].1.contains("its own result"));
    assert!(messages[1].0 == 11 && messages[1].1.contains("step \"second\", which runs after"));
}

#[test]
fn exit_code_paths_must_name_a_step_container() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  tasks:
    - name: audit
      taskSpec:
        steps:
          - name: audit
            image: alpine:3
            onError: continue
            script: exit 1
          - image: alpine:3
            script: exit 0
          - name: report
            image: alpine:3
            env:
              - name: A
                value: $(steps.step-audit.exitCode.path)
              - name: B
                value: $(steps.step-unnamed-1.exitCode.path)
              - name: C
                value: $(steps.audit.exitCode.path)
              - name: D
                value: $(steps.step-adit.exitCode.path)
              - name: E
                value: $(steps.step-audit.exitCode)
"#;
    let findings = lint(yaml, Profile::Core);
    let undefined: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "undefined-result-ref")
        .collect();
    let lines: Vec<_> = undefined.iter().map(|f| f.line).collect();
    assert_eq!(lines, vec![24, 26, 28], "{undefined:#?}");
    assert!(undefined[0]
        .message
        .contains("write $(steps.step-audit.exitCode.path)"));
    assert!(undefined[1]
        .message
        .contains("here: step-audit, step-unnamed-1, step-report"));
    assert!(undefined[2].message.contains("is not a variable"));
}

#[test]
fn step_action_results_and_script_params() {
    let yaml = r#"
apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata: {name: sa}
spec:
  image: alpine:3
  params:
    - name: msg
  results:
    - name: out
  script: |
    echo "$(params.msg)" > $(step.results.out.path)
    echo > $(step.results.other.path)
"#;
    let findings = lint(yaml, Profile::Core);
    let in_script: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "params-in-script")
        .collect();
    assert_eq!(in_script.len(), 1);
    assert_eq!(
        (
            in_script[0].line,
            in_script[0].column,
            in_script[0].severity
        ),
        (12, 11, Severity::Error)
    );
    assert!(
        in_script[0].message.contains("name: MSG") && in_script[0].message.contains("\"$MSG\"")
    );
    assert_eq!(hits(yaml, "undefined-result-ref"), vec![13]);
}

#[test]
fn params_in_scripts_and_sh_c_args() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  params:
    - name: url
  steps:
    - name: script
      image: alpine:3
      script: |
        curl "$(params.url)"
    - name: sh-c
      image: alpine:3
      command: [sh, -c]
      args: ["curl $(params.url)", "$(params.url)"]
    - name: bash-ec
      image: alpine:3
      command: [/bin/bash]
      args: [-ec, "curl $(params['url'])"]
    - name: plain-args
      image: curlimages/curl:8
      command: [curl]
      args: ["-c", "$(params.url)"]
"#;
    let findings = lint(yaml, Profile::Core);
    let in_script: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "params-in-script")
        .collect();
    let positions: Vec<_> = in_script.iter().map(|f| (f.line, f.column)).collect();
    assert_eq!(positions, vec![(12, 15), (16, 20), (20, 25)]);
    assert!(in_script.iter().all(|f| f.severity == Severity::Warning));
    let konflux = lint(yaml, Profile::Konflux);
    assert!(konflux
        .iter()
        .filter(|f| f.rule == "params-in-script")
        .all(|f| f.severity == Severity::Error));
}

#[test]
fn arrays_and_objects_used_whole() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  params:
    - name: list
      type: array
    - name: obj
      properties:
        k: {type: string}
    - name: s
  steps:
    - name: ok
      image: alpine:3
      command: ["$(params.list[*])"]
      args: ["$(params.obj[*])", "$(params.list[1])", "$(params.obj.k)", "$(params.s)"]
    - name: bad
      image: alpine:3
      args: ["--flags=$(params.list[*])"]
      env:
        - name: A
          value: $(params.list)
      script: |
        echo $(params.s[*])
"#;
    assert_eq!(hits(yaml, "array-param-misuse"), vec![20, 23, 25]);
}

#[test]
fn a_pipeline_may_pass_arrays_whole() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  params:
    - name: list
      type: array
  tasks:
    - name: a
      taskRef: {name: t}
      params:
        - name: x
          value: $(params.list)
        - name: w
          value: ["$(params.list[*])", "extra"]
        - name: z
          value: "prefix-$(params.list[*])"
"#;
    assert_eq!(hits(yaml, "array-param-misuse"), vec![18]);
}

#[test]
fn context_depends_on_the_kind() {
    let task = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps:\n    - name: s\n      \
                    image: alpine:3\n      env:\n        - {name: A, value: $(context.pipelineRun.name)}\n        \
                    - {name: B, value: $(context.taskRun.uid)}\n";
    let findings = lint(task, Profile::Core);
    let context: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "undefined-context-ref")
        .collect();
    assert_eq!(context.len(), 1);
    assert_eq!(context[0].line, 9);
    assert!(
        context[0].message.contains("only in a Pipeline"),
        "{}",
        context[0].message
    );
}

#[test]
fn workspaces_in_steps_must_be_declared() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  workspaces:
    - name: src
  steps:
    - name: s
      image: alpine:3
      workspaces:
        - name: src
        - name: cache
      args: ["$(workspaces.src.paht)", "$(workspaces.out.path)"]
"#;
    assert_eq!(hits(yaml, "undefined-workspace-ref"), vec![13, 14, 14]);
}

#[test]
fn unsubstituted_fields_are_flagged() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: t
  labels:
    app: $(params.app)
spec:
  description: Builds $(params.app), named after $(context.taskRun.name)
  displayName: Build $(params.app)
  params:
    - name: app
    - name: uid
      description: the user id, e.g. $(params.app)
  steps:
    - name: s
      image: alpine:3
      args: ["$(params.app)"]
      securityContext:
        runAsUser: $(params.uid)
"#;
    // Descriptions document variables; they are left alone.
    let unsubstituted = hits(yaml, "substitution-in-unsupported-field");
    assert_eq!(unsubstituted, vec![7, 10, 20]);
    assert_eq!(hits(yaml, "unused-param"), vec![13]);
}

#[test]
fn unused_params_and_workspaces() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  params:
    - name: used
    - name: via-default
    - name: derived
      default: "$(params.via-default)/x"
    - name: unused
  workspaces:
    - name: by-path
    - name: by-variable
    - name: explicit
      mountPath: /root/.docker
    - name: idle
  steps:
    - name: s
      image: alpine:3
      args: ["$(params.used)", "$(params.derived)", "$(workspaces.by-variable.path)"]
      script: |
        ls /workspace/by-path
"#;
    assert_eq!(hits(yaml, "unused-param"), vec![11]);
    assert_eq!(hits(yaml, "unused-workspace"), vec![17]);
}

#[test]
fn runs_propagate_params_and_workspaces_into_inline_specs() {
    let yaml = r#"
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: pr}
spec:
  params:
    - name: greeting
      value: hi
  workspaces:
    - name: data
      emptyDir: {}
  pipelineSpec:
    tasks:
      - name: hello
        taskSpec:
          steps:
            - name: s
              image: alpine:3
              args: ["$(params.greeting)", "$(workspaces.data.path)", "$(params.nope)"]
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: tr}
spec:
  params:
    - name: greeting
      value: hi
  taskSpec:
    steps:
      - name: s
        image: alpine:3
        args: ["$(params.greeting)", "$(params.nope)"]
"#;
    assert_eq!(hits(yaml, "undefined-param-ref"), vec![19, 32]);
    assert_eq!(ours(yaml).len(), 2);
}

#[test]
fn shell_script_element_follows_dash_c() {
    let container = |yaml: &str| {
        crate::tekton::yaml::parse_stream(yaml)
            .documents
            .remove(0)
            .root
    };
    let find = |yaml: &str| super::model::shell_script_element(&container(yaml));
    assert_eq!(find("command: [sh, -c]\nargs: [x]"), Some(("args", 0)));
    assert_eq!(
        find("command: [/usr/bin/env, bash, -euxc, x]"),
        Some(("command", 3))
    );
    assert_eq!(
        find("command: [bash]\nargs: [-o, pipefail, -c, x, y]"),
        Some(("args", 3))
    );
    assert_eq!(find("command: [python, -c, x]"), None);
    assert_eq!(find("args: [-c, x]"), None);
    assert_eq!(find("command: [sh, --check, x]"), None);
}
