//! Faults and hostile input, end to end: the binary against services that freeze, fail or die
//! (the fake Gangway and GitHub with their switchable outages, the real registry stopped with
//! SIGSTOP or killed with SIGKILL) and against inputs meant to break it. Each test is named
//! for the fault and what must hold. Deadlines are checked with a wide margin: what matters is
//! that a wait ends near its deadline instead of minutes later, not how fast anything is.

#[path = "support/gangway.rs"]
mod gangway_fake;
#[path = "support/github.rs"]
mod github_fake;
#[path = "support/registry.rs"]
mod registry_harness;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use gangway_fake::{FakeProw, Route, Script, Step};
use github_fake::{FakeGitHub, Role};
use registry_harness::TestRegistry;
use serde_json::Value;
use support::kratix::Kratix;
use support::{run, stepkit, Run};

const GANGWAY_CANARY: &str = "sha256~CANARY-gangway-token-never-shown-0123456789";
const GITHUB_CANARY: &str = "canary-token-CANARYcanaryCANARYcanary0123456789ab";
const JOB: &str = "periodic-ci-openshift-konflux-tasks-main-konflux-test-aws";
const GATE_REPO: &str = "acme/platform-approvals";
const OBJECT: &str = include_str!("fixtures/gate/object.yaml");
/// Room for a process to start, a last request to be cut and results to be written.
const MARGIN: Duration = Duration::from_secs(6);

/// Runs `command` off the async runtime (the fakes serve on it), timing it.
async fn timed(mut command: Command) -> (Run, Duration) {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let out = run(&mut command, None);
        (out, started.elapsed())
    })
    .await
    .unwrap()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn assert_no(canary: &str, out: &Run) {
    assert!(
        !out.all_output().contains(canary),
        "a secret leaked: {}",
        out.all_output()
    );
}

// ---- Gangway ----

/// A Konflux Snapshot of one component built from openshift/konflux-tasks.
fn snapshot() -> String {
    serde_json::json!({"application": "a", "components": [{
        "name": "c", "containerImage": "quay.io/org/c@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "source": {"git": {"url": "https://github.com/openshift/konflux-tasks", "revision": "9b2e4c1d7a3f5e6b8c0d2f4a6b8c0e2f4a6b8c0d"}}}]})
    .to_string()
}

async fn prow_with_running_job() -> (FakeProw, String) {
    let fake = FakeProw::start().await;
    fake.set_valid_token(GANGWAY_CANARY);
    fake.add_periodic(JOB);
    let id = fake.trigger_foreign(JOB);
    fake.set_script(&id, Script::stuck(Step::Pending));
    (fake, id)
}

fn report(fake: &FakeProw, id: &str, results: &Path, args: &[&str]) -> Command {
    let mut command = stepkit();
    command
        .args(["prowjob", "report", "--id", id])
        .args(args)
        .env("RESULTS_DIR", results)
        .env("GANGWAY_TOKEN", GANGWAY_CANARY)
        .env("GANGWAY_URL", fake.url())
        .env("DECK_URL", fake.url());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_gangway_prowjob_report_timeout_is_a_deadline() {
    let (fake, id) = prow_with_running_job().await;
    fake.freeze();
    for (timeout, retry_flags) in [
        (
            5,
            &["--request-timeout", "2s", "--retry-deadline", "30s"][..],
        ),
        // The default retry deadline (5m) and request timeout (60s).
        (4, &[][..]),
    ] {
        let results = tempfile::tempdir().unwrap();
        let mut args = vec!["--poll-interval", "1s", "--timeout"];
        let timeout_text = format!("{timeout}s");
        args.push(&timeout_text);
        args.extend_from_slice(retry_flags);
        let (out, took) = timed(report(&fake, &id, results.path(), &args)).await;
        assert_eq!(out.code, 4, "{out:?}");
        assert!(
            took < Duration::from_secs(timeout) + MARGIN,
            "--timeout {timeout}s took {took:?}"
        );
        assert!(out.stderr.contains("abandoned"), "{}", out.stderr);
        assert_eq!(read(results.path(), "PROWJOB_STATUS"), "TIMEOUT");
        let test_output: Value =
            serde_json::from_str(&read(results.path(), "TEST_OUTPUT")).unwrap();
        assert_eq!(test_output["result"], "ERROR");
        assert_no(GANGWAY_CANARY, &out);
    }
    fake.thaw();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_gangway_after_a_trigger_the_url_wait_ends_at_its_deadline_and_keeps_the_job() {
    let fake = FakeProw::start().await;
    fake.set_valid_token(GANGWAY_CANARY);
    fake.add_periodic(JOB);
    let config = "build_root:\n  image_stream_tag:\n    name: release\n    namespace: openshift\n    tag: golang-1.22\nresources:\n  '*':\n    requests:\n      cpu: 100m\ntests:\n- as: konflux-test-aws\n  steps:\n    test:\n    - as: t\n      commands: make test\n      from: src\n      resources:\n        requests:\n          cpu: 100m\nzz_generated_metadata:\n  branch: main\n  org: openshift\n  repo: konflux-tasks\n";
    fake.add_ci_operator_config(
        "master",
        "openshift",
        "konflux-tasks",
        "openshift-konflux-tasks-main.yaml",
        config,
    );
    // Every read of the new run hangs for a minute: Gangway stalls right after creating it.
    for _ in 0..20 {
        fake.inject(
            Route::Get,
            gangway_fake::Fault::SlowResponse(Duration::from_secs(60)),
        );
        fake.inject(
            Route::Deck,
            gangway_fake::Fault::SlowResponse(Duration::from_secs(60)),
        );
    }
    let results = tempfile::tempdir().unwrap();
    let snapshot = snapshot();
    let mut command = stepkit();
    command
        .args([
            "prowjob",
            "trigger",
            "--url-timeout",
            "3s",
            "--url-poll-interval",
            "1s",
        ])
        .env("RESULTS_DIR", results.path())
        .env("SNAPSHOT", &snapshot)
        .env("PROWJOB_NAME", JOB)
        .env("TARGET_BRANCH", "main")
        .env("GANGWAY_TOKEN", GANGWAY_CANARY)
        .env("GANGWAY_URL", fake.url())
        .env("DECK_URL", fake.url())
        .env("STEPKIT_RELEASE_REPO_URL", fake.url());
    let (out, took) = timed(command).await;
    assert_eq!(out.code, 0, "the job was created: {out:?}");
    assert!(took < Duration::from_secs(3) + MARGIN, "took {took:?}");
    assert_eq!(fake.created_executions().len(), 1);
    assert_eq!(
        read(results.path(), "PROWJOB_ID"),
        fake.created_executions()[0].id
    );
    assert_eq!(read(results.path(), "PROWJOB_URL"), "");
    assert_no(GANGWAY_CANARY, &out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_n_means_n_attempts_after_the_first_for_gangway() {
    let (fake, id) = prow_with_running_job().await;
    fake.outage(Duration::from_secs(600));
    for (retries, attempts) in [("0", 1), ("3", 4)] {
        let before = fake.requests_to(Route::Get).len();
        let results = tempfile::tempdir().unwrap();
        let args = ["--max-consecutive-errors", "1", "--poll-interval", "1s"];
        let mut command = report(&fake, &id, results.path(), &args);
        command
            .env("STEPKIT_RETRIES", retries)
            .env("STEPKIT_RETRY_DEADLINE", "2m");
        let (out, _) = timed(command).await;
        assert_eq!(out.code, 3, "{out:?}");
        let made = fake.requests_to(Route::Get).len() - before;
        assert_eq!(made, attempts, "--retries {retries}");
        let attempts_text = if attempts == 1 {
            "gave up after 1 attempt ".to_owned()
        } else {
            format!("gave up after {attempts} attempts")
        };
        assert!(out.stderr.contains(&attempts_text), "{}", out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_gangway_token_trailing_newlines_are_trimmed_anything_else_is_exit_2_at_once() {
    let fake = FakeProw::start().await;
    fake.set_valid_token("TOKEN");
    fake.add_periodic(JOB);
    let id = fake.trigger_foreign(JOB);
    fake.set_script(&id, Script::new([Step::Pending, Step::Success]));
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");

    // As kubectl-created Secrets and `echo` leave them.
    std::fs::write(&token_file, "TOKEN \n\n").unwrap();
    for source in ["env", "file"] {
        let results = tempfile::tempdir().unwrap();
        let mut command = report(&fake, &id, results.path(), &["--poll-interval", "50ms"]);
        match source {
            "env" => command.env("GANGWAY_TOKEN", "TOKEN \n\n"),
            _ => command
                .env_remove("GANGWAY_TOKEN")
                .env("GANGWAY_TOKEN_FILE", &token_file),
        };
        let (out, _) = timed(command).await;
        assert_eq!(out.code, 0, "{source}: {out:?}");
    }

    for bad in ["CANARY\nB", "CANARY\rB", "CAN ARY"] {
        let before = fake.requests().len();
        let results = tempfile::tempdir().unwrap();
        let mut command = report(&fake, &id, results.path(), &[]);
        command.env("GANGWAY_TOKEN", bad);
        let (out, took) = timed(command).await;
        assert_eq!(out.code, 2, "{bad:?}: {out:?}");
        assert!(took < MARGIN, "refused at once, not retried: {took:?}");
        assert!(out.stderr.contains("GANGWAY_TOKEN"), "{}", out.stderr);
        assert_no("CANARY", &out);
        assert_eq!(fake.requests().len(), before, "nothing was sent");
    }
    std::fs::write(&token_file, "CANARY\nB\n").unwrap();
    let results = tempfile::tempdir().unwrap();
    let mut command = report(&fake, &id, results.path(), &[]);
    command
        .env_remove("GANGWAY_TOKEN")
        .env("GANGWAY_TOKEN_FILE", &token_file);
    let (out, _) = timed(command).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains(&token_file.display().to_string()),
        "{}",
        out.stderr
    );
    assert_no("CANARY", &out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_in_the_release_repo_url_is_never_printed_logged_or_written() {
    let fake = FakeProw::start().await;
    fake.set_valid_token(GANGWAY_CANARY);
    fake.add_periodic(JOB);
    fake.add_ci_operator_config(
        "master",
        "openshift",
        "konflux-tasks",
        "openshift-konflux-tasks-main.yaml",
        "tests:\n- as: konflux-test-aws\n  commands: make test\n  container:\n    from: src\n",
    );
    let password = "PASSWORD-CANARY-7f3a9c";
    let release = fake
        .url()
        .replace("http://", &format!("http://ci-bot:{password}@"));
    let snapshot = snapshot();
    for dry_run in [false, true] {
        let results = tempfile::tempdir().unwrap();
        let mut command = stepkit();
        command
            .args(["prowjob", "trigger", "--verbose"])
            .env("STEPKIT_WAIT_FOR_URL", "false")
            .env("STEPKIT_DRY_RUN", dry_run.to_string())
            .env("RESULTS_DIR", results.path())
            .env("SNAPSHOT", &snapshot)
            .env("PROWJOB_NAME", JOB)
            .env("TARGET_BRANCH", "main")
            .env("GANGWAY_TOKEN", GANGWAY_CANARY)
            .env("GANGWAY_URL", fake.url())
            .env("DECK_URL", fake.url())
            .env("STEPKIT_RELEASE_REPO_URL", &release);
        let (out, _) = timed(command).await;
        assert_eq!(out.code, 0, "{out:?}");
        assert_no(password, &out);
        assert_no("ci-bot", &out);
        assert!(
            out.stderr
                .contains(&format!("{}/master/ci-operator/config", fake.url())),
            "the URL is still shown, without its credentials: {}",
            out.stderr
        );
        if !dry_run {
            let config_url = read(results.path(), "PROWJOB_CONFIG_URL");
            assert!(
                !config_url.contains(password) && !config_url.contains('@'),
                "{config_url}"
            );
            for file in support::files_in(results.path()) {
                assert!(!read(results.path(), &file).contains(password), "{file}");
            }
        }
    }
}

// ---- GitHub ----

async fn github() -> FakeGitHub {
    let fake = FakeGitHub::start().await;
    fake.add_token(GITHUB_CANARY, "platform-bot");
    fake.add_repo(GATE_REPO)
        .set_role("platform-bot", Role::Write)
        .set_role("dave", Role::Maintain);
    fake
}

fn gate_env(fake: &FakeGitHub, extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("GITHUB_TOKEN", GITHUB_CANARY.to_owned()),
        ("GITHUB_REPOSITORY", GATE_REPO.to_owned()),
        ("GITHUB_API_URL", fake.url()),
        ("STEPKIT_MUTATION_SPACING", "0s".to_owned()),
    ];
    for (name, value) in extra {
        env.push((
            &*Box::leak(name.to_string().into_boxed_str()),
            value.to_string(),
        ));
    }
    env
}

/// A Kratix request whose approval issue exists (created in retry mode, pending).
fn pending_request(fake: &FakeGitHub) -> (Kratix, u64) {
    let mut kratix = Kratix::new(OBJECT, "postgresql");
    let first = tokio::task::block_in_place(|| {
        kratix.run_pipeline(&[&["gate", "create-issue"]], &gate_env(fake, &[]))
    });
    assert_eq!(first.containers[0].code, 0, "{first:#?}");
    let issues = fake.repo(GATE_REPO).issues();
    assert_eq!(issues.len(), 1);
    (kratix, issues[0].number)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_outage_during_a_block_mode_wait_is_ridden_out_and_the_decision_read() {
    let fake = github().await;
    let (mut kratix, number) = pending_request(&fake);
    let env = gate_env(
        &fake,
        &[
            ("STEPKIT_MODE", "block"),
            ("STEPKIT_POLL_INTERVAL", "200ms"),
        ],
    );
    let run = std::thread::scope(|scope| {
        scope.spawn(|| {
            // The wait is polling when GitHub starts answering 502, for longer than three
            // quick tries last; the issue is approved during the outage.
            std::thread::sleep(Duration::from_secs(1));
            fake.outage(Duration::from_secs(8));
            std::thread::sleep(Duration::from_secs(2));
            fake.repo(GATE_REPO).close(number, "dave", "completed");
        });
        tokio::task::block_in_place(|| kratix.run_pipeline(&[&["gate", "wait-approval"]], &env))
    });
    let wait = &run.containers[0];
    assert_eq!(wait.code, 0, "{wait:?}");
    assert_eq!(run.approval_state.as_deref(), Some("approved"));
    assert_eq!(kratix.approval("state").as_deref(), Some("approved"));
    assert_no(GITHUB_CANARY, wait);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_failing_past_the_retry_deadline_the_wait_still_leaves_pending_outputs() {
    let fake = github().await;
    let (mut kratix, number) = pending_request(&fake);
    fake.outage(Duration::from_secs(600));
    for mode in ["block", "retry"] {
        let env = gate_env(
            &fake,
            &[("STEPKIT_MODE", mode), ("STEPKIT_RETRY_DEADLINE", "2s")],
        );
        let run = tokio::task::block_in_place(|| {
            kratix.run_pipeline(&[&["gate", "wait-approval"]], &env)
        });
        let wait = &run.containers[0];
        assert_eq!(wait.code, 3, "{mode}: {wait:?}");
        assert_eq!(run.approval_state.as_deref(), Some("pending"), "{mode}");
        let status = kratix.status();
        assert_eq!(
            status["approval"]["state"].as_str(),
            Some("pending"),
            "{status:?}"
        );
        assert!(
            status["approvalIssue"]
                .as_str()
                .is_some_and(|url| url.ends_with(&format!("/issues/{number}"))),
            "the issue link survives the failure: {status:?}"
        );
        assert!(
            status["message"]
                .as_str()
                .is_some_and(|m| m.contains("No decision read")),
            "{status:?}"
        );
        assert_no(GITHUB_CANARY, wait);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_github_a_block_wait_with_a_timeout_ends_near_it_with_pending_outputs() {
    let fake = github().await;
    let (mut kratix, _) = pending_request(&fake);
    fake.freeze();
    let env = gate_env(
        &fake,
        &[
            ("STEPKIT_MODE", "block"),
            ("STEPKIT_TIMEOUT", "3s"),
            ("STEPKIT_REQUEST_TIMEOUT", "1s"),
            ("STEPKIT_POLL_INTERVAL", "200ms"),
        ],
    );
    let started = Instant::now();
    let run =
        tokio::task::block_in_place(|| kratix.run_pipeline(&[&["gate", "wait-approval"]], &env));
    let took = started.elapsed();
    let wait = &run.containers[0];
    assert!(matches!(wait.code, 3 | 4), "{wait:?}");
    // The timeout, then three request timeouts for the last look and the close.
    assert!(took < Duration::from_secs(3 + 3) + MARGIN, "took {took:?}");
    assert_eq!(run.approval_state.as_deref(), Some("pending"));
    fake.thaw();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_with_credentials_the_issue_body_hides_url_passwords_and_secret_env_values() {
    let fake = github().await;
    let results = tempfile::tempdir().unwrap();
    let request = "repo: https://user:CANARY-1@git.example/org/repo.git\n\
                   database: postgres://admin:CANARY-2@db:5432/app\n\
                   env:\n- name: AWS_SECRET_ACCESS_KEY\n  value: CANARY-3\n- name: REGION\n  value: eu-west-1\n";
    let mut command = stepkit();
    command
        .args(["gate", "create-issue"])
        .env("RESULTS_DIR", results.path())
        .env("STEPKIT_REQUEST_ID", "ci/deploy/1")
        .env("STEPKIT_REQUEST", request)
        .env_remove("KRATIX_WORKFLOW_TYPE");
    for (name, value) in gate_env(&fake, &[]) {
        command.env(name, value);
    }
    let (out, _) = timed(command).await;
    assert_eq!(out.code, 0, "{out:?}");
    let issues = fake.repo(GATE_REPO).issues();
    let body = issues[0].body.clone().unwrap();
    for canary in ["CANARY-1", "CANARY-2", "CANARY-3", "user:", "admin:"] {
        assert!(!body.contains(canary), "{canary} in the issue:\n{body}");
    }
    assert!(body.contains("postgres://[hidden]@db:5432/app"), "{body}");
    assert!(body.contains("eu-west-1"), "{body}");
}

// ---- the registry ----

fn workspace(registry: &TestRegistry, args: &[&str]) -> Command {
    let mut command = stepkit();
    command
        .arg("workspace")
        .args(args)
        .args(["--insecure-registry", &registry.host()])
        .env("HOME", "/nonexistent")
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("AUTHFILE");
    command
}

fn small_tree(root: &Path) {
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/main.go"), "package main\n").unwrap();
    std::fs::write(root.join("data.bin"), vec![7u8; 200_000]).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_frozen_with_sigstop_a_pull_ends_at_its_retry_deadline_with_dest_unchanged() {
    let mut registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    small_tree(&tree);
    let to = format!("{}/{}", registry.host(), registry.unique_repo("frozen"));
    let (pushed, _) = timed(workspace(
        &registry,
        &["push", tree.to_str().unwrap(), "--to", &to],
    ))
    .await;
    assert_eq!(pushed.code, 0, "{pushed:?}");
    let reference = pushed.stdout.trim().to_owned();

    registry.freeze();
    let dest = work.path().join("dest");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("kept.txt"), "kept").unwrap();
    let args = [
        "pull",
        &reference,
        dest.to_str().unwrap(),
        "--request-timeout",
        "1s",
    ];
    let mut command = workspace(&registry, &args);
    command
        .env("STEPKIT_RETRY_DEADLINE", "4s")
        .env("STEPKIT_RETRIES", "100");
    let (out, took) = timed(command).await;
    registry.thaw();
    assert_eq!(out.code, 3, "{out:?}");
    assert!(took < Duration::from_secs(4) + MARGIN, "took {took:?}");
    assert!(out.stderr.contains("retry deadline"), "{}", out.stderr);
    assert_eq!(support::files_in(&dest), ["kept.txt"], "DEST is as it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_killed_with_sigkill_push_fails_within_its_retries_leaves_no_tag_and_the_rerun_works(
) {
    let mut registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    small_tree(&tree);
    let repo = registry.unique_repo("killed");
    let to = format!("{}/{repo}:t", registry.host());
    registry.kill();
    for (retries, attempts) in [
        ("0", "gave up after 1 attempt "),
        ("2", "gave up after 3 attempts"),
    ] {
        let args = [
            "push",
            tree.to_str().unwrap(),
            "--to",
            &to,
            "--retries",
            retries,
        ];
        let (out, _) = timed(workspace(&registry, &args)).await;
        assert_eq!(out.code, 3, "{out:?}");
        assert!(
            out.stderr.contains(attempts),
            "--retries {retries}: {}",
            out.stderr
        );
    }
    registry.restart();
    assert!(registry.tags_on_disk(&repo).is_empty());
    let (out, _) = timed(workspace(
        &registry,
        &["push", tree.to_str().unwrap(), "--to", &to],
    ))
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(registry.tags_on_disk(&repo), ["t"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_helper_that_hangs_is_stopped_at_its_timeout_and_named() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    small_tree(&tree);
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-stuck");
    std::fs::write(&helper, "#!/bin/sh\nsleep 30\n").unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = work.path().join("docker");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.json"),
        format!(r#"{{"credHelpers": {{"{}": "stuck"}}}}"#, registry.host()),
    )
    .unwrap();
    let to = format!("{}/{}", registry.host(), registry.unique_repo("helped"));
    let mut command = workspace(&registry, &["push", tree.to_str().unwrap(), "--to", &to]);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    command
        .env("STEPKIT_CREDENTIAL_HELPER_TIMEOUT", "1s")
        .env("DOCKER_CONFIG", &config)
        .env("PATH", path);
    let (out, took) = timed(command).await;
    assert_eq!(out.code, 5, "{out:?}");
    assert!(took < Duration::from_secs(1) + MARGIN, "took {took:?}");
    assert!(
        out.stderr.contains("docker-credential-stuck"),
        "{}",
        out.stderr
    );
}

// ---- results ----

#[test]
fn counts_that_add_up_past_int64_are_bad_input_with_an_error_result_never_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    let object = |failures: u64| {
        format!(
            r#"{{"result":"FAILURE","timestamp":"2026-01-01T00:00:00Z","successes":0,"failures":{failures},"warnings":0}}"#
        )
    };
    std::fs::write(dir.path().join("a.json"), object(u64::MAX)).unwrap();
    std::fs::write(dir.path().join("b.json"), object(1)).unwrap();
    for extra in [&[][..], &["--result", "SUCCESS"][..]] {
        let results = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json").display().to_string();
        let b = dir.path().join("b.json").display().to_string();
        let mut args = vec![
            "result",
            "emit",
            "--from",
            "appstudio",
            &a,
            "--from",
            "appstudio",
            &b,
        ];
        args.extend_from_slice(extra);
        let out = run(
            stepkit().args(&args).env("RESULTS_DIR", results.path()),
            None,
        );
        assert_eq!(out.code, 2, "{extra:?}: {out:?}");
        let written: Value = serde_json::from_str(&read(results.path(), "TEST_OUTPUT")).unwrap();
        assert_eq!(written["result"], "ERROR", "{written}");
        assert!(
            written["note"].as_str().unwrap().contains("failures"),
            "{written}"
        );
        assert_eq!(written["failures"], 0, "no wrapped-around count: {written}");
    }
    // Clair's counts (SCAN_OUTPUT) are added up too, across inputs and severities.
    let clair = |severity: &str, number: u64| {
        format!(
            r#"[{{"warnings": [{{"msg": "m", "metadata": {{"details": {{"name": "clair_{severity}_vulnerabilities"}}, "vulnerabilities_number": {number}}}}}]}}]"#
        )
    };
    std::fs::write(dir.path().join("c.json"), clair("high", u64::MAX)).unwrap();
    std::fs::write(dir.path().join("d.json"), clair("low", 1)).unwrap();
    let results = tempfile::tempdir().unwrap();
    let c = dir.path().join("c.json").display().to_string();
    let d = dir.path().join("d.json").display().to_string();
    let out = run(
        stepkit()
            .args([
                "result", "emit", "--from", "clair", &c, "--from", "clair", &d,
            ])
            .env("RESULTS_DIR", results.path()),
        None,
    );
    assert_eq!(out.code, 2, "{out:?}");
    let written: Value = serde_json::from_str(&read(results.path(), "TEST_OUTPUT")).unwrap();
    assert_eq!(written["result"], "ERROR", "{written}");
    assert!(
        written["note"]
            .as_str()
            .unwrap()
            .contains("vulnerabilities.high"),
        "{written}"
    );
    assert_eq!(
        support::files_in(results.path()),
        ["TEST_OUTPUT"],
        "no SCAN_OUTPUT"
    );

    let results = tempfile::tempdir().unwrap();
    let out = run(
        stepkit()
            .args(["result", "emit", "--failures", "9223372036854775808"])
            .env("RESULTS_DIR", results.path()),
        None,
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        support::files_in(results.path()).is_empty(),
        "nothing written"
    );
}

#[test]
fn result_validate_enforces_the_int64_range_and_calls_binary_input_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("TEST_OUTPUT");
    let validate = |content: &[u8]| {
        std::fs::write(&path, content).unwrap();
        run(
            stepkit().args(["result", "validate", path.to_str().unwrap()]),
            None,
        )
    };
    let result = |failures: &str| {
        format!(
            r#"{{"result":"FAILURE","timestamp":"2026-01-01T00:00:00Z","successes":0,"failures":{failures},"warnings":0}}"#
        )
    };
    assert_eq!(validate(result("9223372036854775807").as_bytes()).code, 0);
    for past in [
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
    ] {
        let out = validate(result(past).as_bytes());
        assert_eq!(out.code, 1, "{past}: {out:?}");
        assert!(out.stdout.contains("$.failures"), "{}", out.stdout);
    }
    let out = validate(&[0x89, b'P', b'N', b'G', 0x00, 0xff, 0xfe]);
    assert_eq!(out.code, 1, "it was read; the content is invalid: {out:?}");
    assert!(out.stdout.contains("not UTF-8"), "{}", out.stdout);
}

// ---- other inputs ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kratix_object_that_is_not_utf8_is_bad_input_and_still_leaves_a_state() {
    let fake = github().await;
    let mut kratix = Kratix::new(OBJECT, "postgresql");
    let metadata = kratix.root().join("metadata");
    // The stand-in writes object.yaml itself: run a pipeline whose container breaks it first.
    let run = tokio::task::block_in_place(|| {
        kratix.run_pipeline(&[&["gate", "create-issue"]], &gate_env(&fake, &[]))
    });
    assert_eq!(run.containers[0].code, 0);
    let object = kratix.root().join("input/object.yaml");
    let mut bytes = std::fs::read(&object).unwrap();
    bytes.extend_from_slice(b"\nnote: \xff\xfe\n");
    std::fs::write(&object, bytes).unwrap();
    let _ = std::fs::remove_file(metadata.join("approval-state"));
    let mut command = stepkit();
    command
        .args(["gate", "wait-approval", "--mode", "once"])
        .env("KRATIX_DIR", kratix.root())
        .env("KRATIX_PROMISE_NAME", "postgresql");
    for (name, value) in gate_env(&fake, &[]) {
        command.env(name, value);
    }
    let (out, _) = timed(command).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("not UTF-8"), "{}", out.stderr);
    assert_eq!(read(&metadata, "approval-state"), "pending");
}

#[test]
fn lint_still_reports_an_undeclared_param_behind_an_index_past_u64() {
    let dir = tempfile::tempdir().unwrap();
    let task = dir.path().join("task.yaml");
    std::fs::write(
        &task,
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  steps:\n    - name: s\n      image: registry.example/i@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9\n      args: [\"$(params.x[18446744073709551616])\"]\n",
    )
    .unwrap();
    let out = run(
        stepkit().args(["task", "lint", "--no-shellcheck", task.to_str().unwrap()]),
        None,
    );
    let finding = out
        .stdout
        .lines()
        .find(|line| line.contains("undefined-param-ref"))
        .unwrap_or_else(|| panic!("no finding: {out:?}"));
    assert!(finding.contains("names param \"x\""), "{finding}");
}

#[test]
fn input_that_is_a_fifo_is_refused_not_read_forever() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.json");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    let fifo_text = fifo.display().to_string();

    let results = tempfile::tempdir().unwrap();
    let out = run(
        stepkit()
            .args([
                "result",
                "emit",
                "--strict-input",
                "--from",
                "conftest",
                &fifo_text,
            ])
            .env("RESULTS_DIR", results.path()),
        None,
    );
    assert_eq!(out.code, 2, "{out:?}");
    let written: Value = serde_json::from_str(&read(results.path(), "TEST_OUTPUT")).unwrap();
    assert_eq!(written["result"], "ERROR");
    assert!(
        written["note"].as_str().unwrap().contains("named pipe"),
        "{written}"
    );

    let out = run(
        stepkit()
            .args(["prowjob", "trigger", "--dry-run", "--job-name", JOB])
            .env("SNAPSHOT", format!("@{fifo_text}")),
        None,
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("named pipe"), "{}", out.stderr);
}
