//! This repository's Tasks and StepActions run end to end with `stepkit task run`, as a cluster
//! would run them: params into env, result paths, step results, workspaces, Secrets. The remote
//! services are the real registry and the fakes of tests/support on 127.0.0.1. A wrong env
//! mapping in any Task makes one of these fail.

#[path = "support/gangway.rs"]
mod gangway_fake;
#[path = "support/github.rs"]
mod github_fake;
#[path = "support/registry.rs"]
mod registry_harness;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{fixture, run, stepkit, Run};

const CANARY: &str = "canary-token-CANARYcanaryCANARYcanary0123456789ab";
const JOB: &str =
    "periodic-ci-openshift-multiarch-tuning-operator-main-ocp418-e2e-aws-ovn-proxy-mto-origin";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `stepkit task run FILE --tasks tasks` with the test's extra arguments.
fn task_run(file: &Path, extra: &[String]) -> Command {
    let mut command = stepkit();
    command
        .args(["task", "run"])
        .arg(file)
        .arg("--tasks")
        .arg(repo("tasks"))
        .args(["--image", "docker.io/library/debian:12=host"])
        .args(extra);
    command
}

fn check(out: &Run) {
    assert!(
        !out.all_output().contains(CANARY),
        "the token leaked: {}",
        out.all_output()
    );
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A directory holding a Secret's keys, as `--secret NAME=DIR` reads it.
fn secret_dir(token: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), token).unwrap();
    dir
}

#[test]
fn emit_test_output_writes_a_valid_test_output() {
    let results = tempfile::tempdir().unwrap();
    let out = run(
        &mut task_run(
            &repo("tasks/emit-test-output/0.1/emit-test-output.yaml"),
            &[
                "-p".into(),
                "successes=7".into(),
                "-p".into(),
                "failures=1".into(),
                "-p".into(),
                "note=two checks".into(),
                "--results-dir".into(),
                results.path().display().to_string(),
            ],
        ),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    let value: serde_json::Value =
        serde_json::from_str(&read(results.path(), "TEST_OUTPUT")).unwrap();
    assert_eq!(value["result"], "FAILURE");
    assert_eq!(value["successes"], 7);
    assert_eq!(value["failures"], 1);
    assert_eq!(value["note"], "two checks");
    let valid = run(
        stepkit()
            .args(["result", "validate"])
            .arg(results.path().join("TEST_OUTPUT")),
        None,
    );
    assert_eq!(valid.code, 0, "{}", valid.all_output());
}

#[test]
fn lint_tekton_lints_a_checkout_and_reports_test_output() {
    let checkout = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(checkout.path().join("defs")).unwrap();
    std::fs::copy(
        fixture("run/invalid.yaml"),
        checkout.path().join("defs/invalid.yaml"),
    )
    .unwrap();
    let results = tempfile::tempdir().unwrap();
    let out = run(
        &mut task_run(
            &repo("tasks/lint-tekton/0.1/lint-tekton.yaml"),
            &[
                "-w".into(),
                format!("source={}", checkout.path().display()),
                "-p".into(),
                "PATHS=defs".into(),
                "-p".into(),
                "PROFILE=core".into(),
                "-p".into(),
                "FAIL_ON=never".into(),
                "--results-dir".into(),
                results.path().display().to_string(),
            ],
        ),
        None,
    );
    assert_eq!(
        out.code,
        0,
        "FAIL_ON=never lets the step pass: {}",
        out.all_output()
    );
    assert!(
        out.stderr.contains("lint-tekton/lint | defs/invalid.yaml:"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("undefined-param-ref"), "{}", out.stderr);
    let value: serde_json::Value =
        serde_json::from_str(&read(results.path(), "TEST_OUTPUT")).unwrap();
    assert_eq!(value["result"], "FAILURE");
    assert_eq!(value["failures"], 1);
}

#[test]
fn workspace_push_and_pull_carry_a_tree_between_two_tasks() {
    let registry = registry_harness::TestRegistry::start();
    let host = format!("127.0.0.1:{}", registry.port());
    let results = tempfile::tempdir().unwrap();
    let out = run(
        &mut task_run(
            &fixture("run/repository/workspace-handoff.yaml"),
            &[
                "-p".into(),
                format!("repository={host}/ci/workspaces"),
                "-p".into(),
                format!("insecure-registries={host}"),
                "--results-dir".into(),
                results.path().display().to_string(),
            ],
        ),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert!(
        out.stderr
            .contains("use/check | made by workspace-handoff-run-"),
        "{}",
        out.stderr
    );
    let reference = read(results.path(), "reference");
    assert!(
        reference.starts_with(&format!("{host}/ci/workspaces@sha256:")),
        "{reference}"
    );
}

async fn fake_prow() -> gangway_fake::FakeProw {
    use gangway_fake::{FakeProw, Script, Step};
    let fake = FakeProw::start().await;
    fake.set_valid_token(CANARY);
    fake.add_periodic(JOB);
    let file = "openshift-multiarch-tuning-operator-main__ocp418.yaml";
    let config = std::fs::read_to_string(fixture(&format!("prowjob/config/{file}"))).unwrap();
    fake.add_ci_operator_config(
        "master",
        "openshift",
        "multiarch-tuning-operator",
        file,
        &config,
    );
    fake.set_default_script(Script::new([
        Step::Scheduling,
        Step::Pending,
        Step::Success,
    ]));
    fake
}

fn snapshot() -> String {
    serde_json::json!({
        "application": "multiarch-tuning-operator",
        "components": [{
            "name": "multiarch-tuning-operator-bundle",
            "containerImage": "quay.io/redhat-user-workloads/mto-tenant/multiarch-tuning-operator-bundle@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "source": {"git": {"url": "https://github.com/openshift/multiarch-tuning-operator.git", "revision": "9b2e4c1d7a3f5e6b8c0d2f4a6b8c0e2f4a6b8c0d"}}
        }]
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provide_prowjob_triggers_one_job_and_reports_its_status() {
    let fake = fake_prow().await;
    let token = secret_dir(CANARY);
    let results = tempfile::tempdir().unwrap();
    let mut command = task_run(
        &fixture("run/repository/provide-prowjob-run.yaml"),
        &[
            "-p".into(),
            format!("SNAPSHOT={}", snapshot()),
            "-p".into(),
            format!("GANGWAY_URL={}", fake.url()),
            "-p".into(),
            format!("DECK_URL={}", fake.url()),
            "--secret".into(),
            format!("gangway-token={}", token.path().display()),
            "-p".into(),
            format!("RELEASE_REPO_URL={}", fake.url()),
            // Not a param of the Task: how often the trigger step looks for the job's URL.
            "--env".into(),
            "STEPKIT_URL_POLL_INTERVAL=50ms".into(),
            "--results-dir".into(),
            results.path().display().to_string(),
        ],
    );
    let out = tokio::task::spawn_blocking(move || run(&mut command, None))
        .await
        .unwrap();
    check(&out);
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert_eq!(
        fake.created_executions().len(),
        1,
        "one job, triggered once"
    );
    let id = read(results.path(), "PROWJOB_ID");
    assert_eq!(fake.created_executions()[0].id, id);
    assert_eq!(read(results.path(), "PROWJOB_NAME"), JOB);
    assert_eq!(read(results.path(), "PROWJOB_STATUS"), "SUCCESS");
    let test_output: serde_json::Value =
        serde_json::from_str(&read(results.path(), "TEST_OUTPUT")).unwrap();
    assert_eq!(test_output["result"], "SUCCESS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approval_gate_pipeline_deploys_once_an_allowed_person_approves() {
    use github_fake::{FakeGitHub, Role};
    let fake = FakeGitHub::start().await;
    fake.add_token(CANARY, "deploy-bot");
    fake.add_repo("example-org/deploy-approvals")
        .set_role("deploy-bot", Role::Write)
        .set_role("bob", Role::Write);
    fake.add_team_member("example-org", "release-managers", "bob", true);
    let token = secret_dir(CANARY);
    let results = tempfile::tempdir().unwrap();
    let image =
        "quay.io/acme/app@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
    let mut command = task_run(
        &repo("examples/approval-gate/pipeline.yaml"),
        &[
            "-p".into(),
            format!("image={image}"),
            "-p".into(),
            format!("github-api-url={}", fake.url()),
            "--secret".into(),
            format!("github-approval-token={}", token.path().display()),
            "--image".into(),
            "registry.access.redhat.com/ubi9/*=host".into(),
            // Not params of the Task: how often the gate looks at the issue.
            "--env".into(),
            "STEPKIT_POLL_INTERVAL=100ms".into(),
            "--env".into(),
            "STEPKIT_MUTATION_SPACING=0s".into(),
            "--results-dir".into(),
            results.path().display().to_string(),
        ],
    );
    let waiting = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let repo = "example-org/deploy-approvals";
    let mut waited = Duration::ZERO;
    while fake.repo(repo).issues().is_empty() {
        assert!(waited < Duration::from_secs(30), "no issue was opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    let issue = fake.repo(repo).issues().remove(0);
    assert!(
        issue.body.clone().unwrap_or_default().contains(image),
        "{issue:?}"
    );
    fake.repo(repo).close(issue.number, "bob", "completed");
    let output = tokio::task::spawn_blocking(move || waiting.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let out = Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    check(&out);
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert!(
        out.stderr
            .contains(&format!("deploy/deploy | deploying {image}")),
        "{}",
        out.stderr
    );
    assert_eq!(fake.repo(repo).issues().len(), 1, "one issue");
}
