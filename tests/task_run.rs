//! `stepkit task run` on fixtures of its own, one per semantic: substitution, steps, timeouts,
//! the results budget, `when` skipping, finally after a failure, matrix and retries, StepActions,
//! Secrets, validation, and images no runtime can run. Steps run on the host.

mod support;

use std::path::Path;

use support::{fixture, run, stepkit, Run};

const HOST: &str = "docker.io/library/debian:12=host";
const CANARY: &str = "canary-secret-CANARYcanary-0123456789";

fn task_run(file: &str, extra: &[&str]) -> Run {
    let mut args = vec!["--image", HOST];
    args.extend_from_slice(extra);
    task_run_path(&fixture(&format!("run/{file}")), &args)
}

fn task_run_path(path: &Path, args: &[&str]) -> Run {
    let mut command = stepkit();
    command.args(["task", "run"]).arg(path).args(args);
    run(&mut command, None)
}

fn assert_line(out: &Run, line: &str) {
    assert!(
        out.stderr.lines().any(|l| l.trim_end() == line)
            || out.stdout.lines().any(|l| l.trim_end() == line),
        "no line {line:?} in:\n{}",
        out.all_output()
    );
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_variable_is_substituted_where_tekton_substitutes_it() {
    let data = tempfile::tempdir().unwrap();
    let results = tempfile::tempdir().unwrap();
    let out = task_run(
        "substitution.yaml",
        &[
            "-w",
            &format!("data={}", data.path().display()),
            "--results-dir",
            results.path().to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert_line(
        &out,
        "substitution/first | params: plain plain localhost:80 plain-derived",
    );
    assert!(
        out.stderr
            .contains("substitution/first | context: substitution-run-"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(" default substitution 0"),
        "{}",
        out.stderr
    );
    assert_line(&out, "substitution/first | workspace: true  ws-data");
    assert_line(&out, "substitution/first | uid-length: 36");
    // [*] spreads an array into arguments; a step result; $$ escapes Kubernetes' $(VAR).
    assert_line(
        &out,
        "substitution/second | args: one|two|stepped|$(FROM_ENV) $HOME|env-two",
    );
    assert_line(&out, "substitution/exit-code | first exited 0");
    assert_eq!(
        read(data.path(), "written"),
        "file",
        "the workspace is the directory given"
    );
    assert_eq!(
        read(results.path(), "greeting"),
        "hello from first\n",
        "the newline is kept"
    );
}

#[test]
fn steps_follow_tekton_script_env_working_dir_on_error_and_sidecar_rules() {
    let out = task_run("steps.yaml", &[]);
    assert_eq!(out.code, 1, "{}", out.all_output());
    assert_line(&out, "steps/no-shebang | env: template step");
    assert_line(&out, "steps/no-shebang | sidecar up");
    assert!(
        !out.stderr.contains("never printed"),
        "no shebang means set -e"
    );
    assert!(
        out.stderr.contains("steps/no-shebang: exited with code 1"),
        "{}",
        out.stderr
    );
    assert_line(
        &out,
        "steps/shebang | a shebang script goes on after false, in dir",
    );
    assert_line(
        &out,
        "steps/after-failure: skipped (an earlier step failed)",
    );
    assert!(
        out.stdout.contains("(\"step-fails\" exited with code 3)"),
        "{}",
        out.stdout
    );
    assert!(!out.all_output().contains("never runs"));
}

#[test]
fn a_step_timeout_fails_the_step_and_a_task_timeout_ends_the_run_with_exit_4() {
    let out = task_run("step-timeout.yaml", &[]);
    assert_eq!(out.code, 1, "{}", out.all_output());
    assert!(
        out.stdout.contains(
            "\"step-short\" exited because the step exceeded the specified timeout limit of 200ms"
        ),
        "{}",
        out.stdout
    );
    let started = std::time::Instant::now();
    let out = task_run("timeouts.yaml", &[]);
    assert_eq!(out.code, 4, "{}", out.all_output());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the sleep was killed"
    );
    assert!(
        out.stdout
            .contains("TaskRun \"slow\" failed to finish within \"1s\""),
        "{}",
        out.stdout
    );
}

#[test]
fn results_over_the_termination_message_budget_fail_as_on_a_cluster() {
    let results = tempfile::tempdir().unwrap();
    let dir = results.path().to_str().unwrap();
    let out = task_run("budget.yaml", &["--results-dir", dir]);
    assert_eq!(out.code, 1, "{}", out.all_output());
    assert_line(
        &out,
        "budget/write | Termination message is above max allowed size 4096, caused by large task result.",
    );
    assert!(
        support::files_in(results.path()).is_empty(),
        "a failed budget carries no results"
    );
    let out = task_run("budget.yaml", &["-p", "size=900", "--results-dir", dir]);
    assert_eq!(out.code, 0, "4 x 900 bytes fit: {}", out.all_output());
    assert_eq!(read(results.path(), "a").len(), 900);

    // With results from sidecar logs, the limit is per result (max-result-size).
    let sidecar = ["--results-from", "sidecar-logs", "--results-dir", dir];
    let out = task_run(
        "budget.yaml",
        &[&["-p", "size=1100"][..], &sidecar].concat(),
    );
    assert_eq!(
        out.code,
        0,
        "4 x 1100 bytes, each fits: {}",
        out.all_output()
    );
    let out = task_run(
        "budget.yaml",
        &[&["-p", "size=4100"][..], &sidecar].concat(),
    );
    assert_eq!(out.code, 1, "{}", out.all_output());
    assert!(
        out.stdout.contains("[User error] TaskRun \"\"budget-run-")
            && out
                .stdout
                .contains("bytes results size exceeds configured limit of 4096 bytes"),
        "{}",
        out.stdout
    );
}

#[test]
fn when_skips_a_task_and_the_tasks_that_use_its_results_but_not_its_run_after_dependents() {
    let out = task_run("pipeline-when.yaml", &[]);
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert_line(&out, "gated: skipped (when \"no\" in [\"yes\"] is false)");
    assert_line(&out, "after-gated/run | runs although gated was skipped");
    assert_line(
        &out,
        "uses-gated: skipped (it uses $(tasks.gated.results.url), which was not produced)",
    );
    assert_line(&out, "on-result/run | verdict allowed it");
    assert!(out.stdout.contains("Skipped: 2"), "{}", out.stdout);
    let out = task_run("pipeline-when.yaml", &["-p", "deploy=yes"]);
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert_line(&out, "uses-gated/run | never runs https://example.test");
}

#[test]
fn finally_runs_after_a_failed_task_and_sees_the_statuses() {
    let results = tempfile::tempdir().unwrap();
    let out = task_run(
        "pipeline-finally.yaml",
        &["--results-dir", results.path().to_str().unwrap()],
    );
    assert_eq!(out.code, 1, "{}", out.all_output());
    assert_line(&out, "never: skipped (the PipelineRun is stopping)");
    assert_line(
        &out,
        "report/run | finally: Failed broken=Failed never=None",
    );
    assert_eq!(read(results.path(), "first"), "fine");
    assert_eq!(
        read(results.path(), "summary"),
        "finally: Failed broken=Failed never=None\n"
    );
}

#[test]
fn a_matrix_fans_out_aggregates_results_and_a_task_is_retried() {
    let results = tempfile::tempdir().unwrap();
    let out = task_run(
        "pipeline-matrix.yaml",
        &[
            "--results-dir",
            results.path().to_str().unwrap(),
            "--format",
            "json",
            "--parallel",
            "2",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    let expected = r#"["linux-amd64-slim","mac-amd64-full","linux-arm64-slim","mac-arm64-full"]"#;
    assert_eq!(read(results.path(), "builds"), expected);
    assert_line(&out, "count/run | matrix ran 4 times: linux-amd64-slim mac-amd64-full linux-arm64-slim mac-arm64-full");
    assert_line(&out, "flaky/run | attempt 2 of 2");
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["status"], "Succeeded");
    let flaky = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "flaky")
        .unwrap();
    assert_eq!(flaky["attempts"], 3);
    let build = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "build")
        .unwrap();
    assert_eq!(build["taskRuns"].as_array().unwrap().len(), 4);
}

#[test]
fn a_step_action_runs_alone_or_by_ref_and_secrets_never_show() {
    let out = task_run("action.yaml", &["-p", "name=alone"]);
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert_line(&out, "greet/greet | hello alone");

    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("token"), CANARY).unwrap();
    let results = tempfile::tempdir().unwrap();
    let out = task_run(
        "uses-action.yaml",
        &[
            "--secret",
            &format!("creds={}", secret.path().display()),
            "--results-dir",
            results.path().to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert!(out.stderr.contains("| hello world"), "{}", out.stderr);
    assert!(
        out.stderr.contains("team blue, token [redacted]"),
        "{}",
        out.stderr
    );
    assert!(!out.all_output().contains(CANARY), "the secret leaked");
    assert_eq!(read(results.path(), "message"), "hello world\n");

    let out = task_run("uses-action.yaml", &[]);
    assert_eq!(out.code, 2, "{}", out.all_output());
    assert!(
        out.stderr.contains("reads Secret \"creds\""),
        "{}",
        out.stderr
    );
}

#[test]
fn invalid_definitions_and_params_are_refused_before_anything_runs() {
    let out = task_run("invalid.yaml", &[]);
    assert_eq!(out.code, 2, "{}", out.all_output());
    assert!(
        out.stderr
            .contains("error[undefined-param-ref] $(params.levle)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("started"), "{}", out.stderr);

    let out = task_run("wrong-type.yaml", &[]);
    assert_eq!(out.code, 2, "{}", out.all_output());
    assert!(
        out.stderr
            .contains("spec.steps[0].args[0]: expected a string, got the boolean true"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("started"), "{}", out.stderr);

    let cases: &[(&[&str], &str)] = &[
        (&["-p", "nope=1"], "declares no param \"nope\""),
        (&["-p", "list=[1"], "not a JSON array"),
        (&["-p", "obj=[1]"], "an object param takes a JSON object"),
    ];
    for (args, message) in cases {
        let out = task_run("substitution.yaml", args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.all_output());
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    let out = task_run("action.yaml", &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("missing values for these params which have no default values: name"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_image_no_runtime_can_run_is_named_before_anything_runs() {
    let path = fixture("run/pipeline-finally.yaml");
    let out = run(stepkit().args(["task", "run"]).arg(&path), None);
    assert_eq!(out.code, 2, "{}", out.all_output());
    assert!(
        out.stderr
            .contains("image docker.io/library/debian:12 is not mapped to a runtime"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("--image 'docker.io/library/debian:12=host'"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("started"), "{}", out.stderr);
}

#[test]
fn host_steps_see_read_only_workspaces_working_dirs_isolated_workspaces_and_busybox() {
    let out = task_run(
        "host-paths.yaml",
        &["--image", "docker.io/library/busybox*=busybox"],
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    assert_line(&out, "host-paths/write | locked: hello");
    assert_line(&out, "host-paths/elsewhere | in the working directory");
    assert_line(&out, "host-paths/isolated | secret");
    assert_line(&out, "host-paths/not-listed | no creds here");
    assert_line(
        &out,
        "host-paths/others-read-only | the other steps' directories are read-only",
    );
    assert_line(&out, "host-paths/busybox | busybox's ash compares with ==");
}

/// A Task of one step around `step` (YAML of the step's fields, indented for a list item).
fn task_with(spec: &str) -> String {
    format!("apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n{spec}")
}

const STEP: &str = "  steps:\n    - name: s\n      image: docker.io/library/debian:12\n      script: echo should not run\n";

fn pipeline_with(task: &str) -> String {
    format!("apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n  tasks:\n    - name: t\n{task}")
}

fn task_run_with(spec: &str) -> String {
    format!("apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: tr\nspec:\n{spec}  taskSpec:\n{}", STEP.replace("\n  ", "\n    ").replacen("  steps", "    steps", 1))
}

#[test]
fn every_unsupported_feature_is_refused_by_name_before_anything_runs() {
    let inline = "      taskSpec:\n        steps:\n          - name: s\n            image: docker.io/library/debian:12\n            script: echo should not run\n";
    let cases: Vec<(String, &str)> = vec![
        (
            pipeline_with(&format!("      when:\n        - cel: \"'a' == 'a'\"\n{inline}")),
            "a CEL when expression",
        ),
        (
            task_with(&format!("{}      when:\n        - cel: \"'a' == 'a'\"\n", STEP)),
            "a CEL when expression",
        ),
        (
            pipeline_with("      pipelineRef:\n        name: child\n"),
            "a Pipeline in a Pipeline",
        ),
        (
            pipeline_with("      pipelineSpec:\n        tasks: []\n"),
            "a Pipeline in a Pipeline",
        ),
        (
            pipeline_with("      taskRef:\n        apiVersion: example.dev/v1\n        kind: Wait\n        name: w\n"),
            "a custom task",
        ),
        (
            pipeline_with("      taskSpec:\n        apiVersion: example.dev/v1\n        kind: Wait\n        spec: {}\n"),
            "custom task",
        ),
        (
            pipeline_with("      taskRef:\n        resolver: http\n        params:\n          - name: url\n            value: https://example.test/task.yaml\n"),
            "uses the http resolver, which needs the network",
        ),
        (
            pipeline_with("      taskRef:\n        resolver: bundles\n        params:\n          - name: bundle\n            value: example.test/tasks:1\n          - name: name\n            value: elsewhere\n          - name: kind\n            value: task\n"),
            "refers to Task \"elsewhere\" (from the bundles resolver), which is not in the file",
        ),
        (
            task_with("  steps:\n    - name: s\n      ref:\n        resolver: git\n        params:\n          - name: url\n            value: https://example.test/repo\n          - name: pathInRepo\n            value: action.yaml\n"),
            "refers to a StepAction through the git resolver",
        ),
        (
            task_with(&format!("{STEP}      stdoutConfig:\n        path: /tekton/results/out\n")),
            "stdoutConfig/stderrConfig",
        ),
        (
            task_with(&format!("  sidecars:\n    - name: web\n      image: docker.io/library/debian:12\n      readinessProbe:\n        httpGet:\n          port: 80\n{STEP}")),
            "a readinessProbe other than exec",
        ),
        (
            task_with(&format!("{STEP}      env:\n        - name: CPU\n          valueFrom:\n            resourceFieldRef:\n              resource: limits.cpu\n")),
            "env CPU from resourceFieldRef",
        ),
        (
            task_with("  steps:\n    - name: s\n      image: docker.io/library/debian:12\n      script: |\n        #!win pwsh.exe\n        echo hi\n"),
            "a Windows script",
        ),
        (
            task_with(&format!("  volumes:\n    - name: host\n      hostPath:\n        path: /etc\n{STEP}")),
            "is a hostPath volume, which needs a cluster",
        ),
        (
            task_with("  steps:\n    - name: s\n      image: docker.io/library/debian:12\n      script: echo x > $(step.artifacts.path)\n    - name: r\n      image: docker.io/library/debian:12\n      script: echo '$(steps.s.outputs.image)'\n"),
            "reading artifacts (alpha; $(steps.s.outputs.image))",
        ),
        (
            task_run_with("  status: TaskRunCancelled\n"),
            "spec.status (a pending, cancelled or stopping run)",
        ),
        (
            task_run_with("  debug:\n    breakpoints:\n      onFailure: enabled\n"),
            "spec.debug (breakpoints)",
        ),
        (
            task_run_with("  retries: 2\n"),
            "spec.retries of a TaskRun",
        ),
        (
            task_run_with("  podTemplate:\n    env:\n      - name: X\n        value: y\n"),
            "a pod template's env",
        ),
        (
            format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: ssh\n  annotations:\n    tekton.dev/git-0: github.com\ntype: kubernetes.io/ssh-auth\nstringData:\n  ssh-privatekey: key\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: builder\nsecrets:\n  - name: ssh\n---\n{}", task_run_with("  serviceAccountName: builder\n")),
            "ServiceAccount \"builder\" has Secrets for Tekton's credential initialisation (ssh)",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (index, (yaml, message)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("case-{index}.yaml"));
        std::fs::write(&file, yaml).unwrap();
        let out = run(
            stepkit()
                .args(["task", "run"])
                .arg(&file)
                .args(["--image", HOST]),
            None,
        );
        assert_eq!(out.code, 2, "{yaml}\n{}", out.all_output());
        assert!(
            out.stderr.contains(message),
            "{yaml}\nexpected {message:?} in:\n{}",
            out.stderr
        );
        assert!(
            !out.all_output().contains("started") && !out.all_output().contains("should not run"),
            "{yaml}\nsomething ran:\n{}",
            out.all_output()
        );
    }
}

/// Every bad flag value is exit 2 before the file is read or anything runs: the file named here
/// does not exist, and the error is about the value alone.
#[test]
fn every_bad_value_is_refused_before_the_file_is_read() {
    let cases: [(&[&str], &str); 5] = [
        (&["-p", "no-equals-sign"], "-p \"no-equals-sign\""),
        (&["-w", "=dir"], "-w \"=dir\""),
        (&["--secret", "creds"], "--secret \"creds\""),
        (&["--env", "NOVALUE"], "--env \"NOVALUE\""),
        (&["--results-from", "stdout"], "--results-from \"stdout\""),
    ];
    for (args, named) in cases {
        let out = run(
            stepkit()
                .args(["task", "run"])
                .args(args)
                .arg("/nonexistent/run.yaml"),
            None,
        );
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(named), "{args:?}: {}", out.stderr);
        assert!(
            !out.stderr.contains("nonexistent"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn busybox_with_an_entrypoint_runs_an_args_only_step_through_the_images_entrypoint() {
    // The bash image's ENTRYPOINT runs its args as a command, or bash when the first is an option;
    // without it, busybox's default `sh` would take `echo` for a script to open.
    let dir = tempfile::tempdir().unwrap();
    let entry = dir.path().join("bash-image-entrypoint");
    std::fs::write(
        &entry,
        "#!/bin/sh\nif [ \"$#\" -eq 0 ] || [ \"${1#-}\" != \"$1\" ]; then exec sh \"$@\"; fi\nexec \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&entry, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = dir.path().join("args-only.yaml");
    std::fs::write(
        &file,
        "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: args-only\nspec:\n  params:\n    - name: who\n      value: [a, b]\n  taskSpec:\n    params:\n      - name: who\n        type: array\n    steps:\n      - name: echo\n        image: docker.io/library/bash:5\n        args: [echo, \"hello\", \"$(params.who[*])\"]\n      - name: shell\n        image: docker.io/library/bash:5\n        args: [-c, \"[ x == x ] && echo through the shell\"]\n",
    )
    .unwrap();
    let image = format!("docker.io/library/bash*=busybox:{}", entry.display());
    let out = task_run_path(&file, &["--image", &image]);
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert_line(&out, "args-only/echo | hello a b");
    assert_line(&out, "args-only/shell | through the shell");
}

#[test]
fn a_stepaction_param_given_an_earlier_steps_result_takes_its_array_and_object_forms() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("forward.yaml");
    std::fs::write(
        &file,
        r#"apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata:
  name: show
spec:
  params:
    - name: list
      type: array
    - name: image
      type: object
      properties:
        url: {type: string}
        digest: {type: string}
    - name: word
  image: docker.io/library/debian:12
  env:
    - name: SECOND
      value: $(params.list[1])
    - name: WORD
      value: $(params.word)
  args: ["$(params.list[*])", "$(params.image.url)", "$(params.image.digest)"]
  script: |
    echo "args: $* second: $SECOND word: $WORD"
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: forward
spec:
  taskSpec:
    steps:
      - name: make
        image: docker.io/library/debian:12
        results:
          - name: list
            type: array
          - name: image
            type: object
            properties:
              url: {type: string}
              digest: {type: string}
          - name: word
        script: |
          printf '["a", "b", "c"]' > $(step.results.list.path)
          printf '{"url": "quay.io/x", "digest": "sha256:1"}' > $(step.results.image.path)
          printf 'hello' > $(step.results.word.path)
      - name: use
        ref:
          name: show
        params:
          - name: list
            value: $(steps.make.results.list[*])
          - name: image
            value: $(steps.make.results.image[*])
          - name: word
            value: $(steps.make.results.word)
"#,
    )
    .unwrap();
    let out = task_run_path(&file, &["--image", HOST]);
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert_line(
        &out,
        "forward/use | args: a b c quay.io/x sha256:1 second: b word: hello",
    );
}

#[test]
fn an_embedded_spec_is_read_as_tekton_reads_it_field_names_without_regard_to_case() {
    // `mountpath: /creds` in a TaskRun's taskSpec is mountPath to Tekton (lint: field-case).
    let out = task_run_path(
        &fixture("lint/rules/field-case/bad-embedded-task-spec.yaml"),
        &["--image", "registry.access.redhat.com/ubi9/*=host"],
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert!(
        out.stderr.contains("isolated-credentials/read: succeeded"),
        "{}",
        out.stderr
    );
}
