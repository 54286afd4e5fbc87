//! `stepkit gate` as the approval-gate Task runs it: a request id instead of a Kratix object,
//! results in the results dir, and `wait-approval --mode block` polling with conditional requests.

#[path = "support/github.rs"]
mod github_fake;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use github_fake::{FakeGitHub, Role};
use support::{run, stepkit, Run};

const CANARY: &str = "canary-token-CANARYcanaryCANARYcanary0123456789ab";
const REPO: &str = "acme/deploy-approvals";
const REQUEST: &str = "image: quay.io/acme/app@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9\nenvironment: production\n";

async fn github() -> FakeGitHub {
    let fake = FakeGitHub::start().await;
    fake.add_token(CANARY, "deploy-bot");
    fake.add_repo(REPO)
        .set_role("deploy-bot", Role::Write)
        .set_role("bob", Role::Write);
    fake
}

fn gate(fake: &FakeGitHub, results: &Path, args: &[&str]) -> Command {
    let mut command = stepkit();
    command
        .args(["gate"])
        .args(args)
        .env("RESULTS_DIR", results)
        .env("GITHUB_TOKEN", CANARY)
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_API_URL", fake.url())
        .env("STEPKIT_MUTATION_SPACING", "0s")
        .env(
            "STEPKIT_REQUEST_ID",
            "ci/deploy-run-x7k2p/4f6c1d2e-0000-4000-8000-000000000001",
        )
        .env("STEPKIT_REQUEST", REQUEST)
        .env_remove("KRATIX_WORKFLOW_TYPE");
    command
}

async fn run_gate(fake: &FakeGitHub, results: &Path, args: &[&str]) -> Run {
    let mut command = gate(fake, results, args);
    let out = tokio::task::spawn_blocking(move || run(&mut command, None))
        .await
        .unwrap();
    assert!(
        !out.all_output().contains(CANARY),
        "the token leaked: {out:?}"
    );
    out
}

fn read(results: &Path, name: &str) -> String {
    std::fs::read_to_string(results.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_wait_ends_when_an_allowed_person_approves_and_idles_for_free() {
    let fake = github().await;
    let results = tempfile::tempdir().unwrap();
    let created = run_gate(&fake, results.path(), &["create-issue"]).await;
    assert_eq!(created.code, 0, "{created:?}");
    let url = read(results.path(), "ISSUE_URL");
    assert_eq!(created.stdout.trim(), url);
    let number: u64 = url.rsplit('/').next().unwrap().parse().unwrap();
    let body = fake.repo(REPO).issue(number).unwrap().body.unwrap();
    assert!(body.contains("production"), "{body}");

    let mut command = gate(
        &fake,
        results.path(),
        &[
            "wait-approval",
            "--mode",
            "block",
            "--poll-interval",
            "100ms",
        ],
    );
    let waiting = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let it look a few times at an unchanged issue: 304s, which cost no rate limit.
    while fake.requests().iter().filter(|r| r.not_modified).count() < 3 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = fake.non_304_gets();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.non_304_gets(), before, "an idle wait spends nothing");
    fake.repo(REPO).close(number, "bob", "completed");
    let output = tokio::task::spawn_blocking(move || waiting.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(read(results.path(), "APPROVAL_STATE"), "approved");
    assert_eq!(read(results.path(), "ISSUE_URL"), url);

    // A retried TaskRun finds the same issue.
    let again = run_gate(&fake, results.path(), &["create-issue"]).await;
    assert_eq!(again.code, 0);
    assert_eq!(fake.repo(REPO).issues().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_fails_the_step_when_asked() {
    let fake = github().await;
    let results = tempfile::tempdir().unwrap();
    run_gate(&fake, results.path(), &["create-issue"]).await;
    let number = fake.repo(REPO).issues()[0].number;
    fake.repo(REPO).close(number, "bob", "not_planned");
    let out = run_gate(
        &fake,
        results.path(),
        &["wait-approval", "--mode", "once", "--fail-on-reject"],
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(read(results.path(), "APPROVAL_STATE"), "rejected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_can_fail_the_step() {
    let fake = github().await;
    fake.set_clock(time::OffsetDateTime::now_utc() - Duration::from_secs(3 * 3600));
    let results = tempfile::tempdir().unwrap();
    run_gate(&fake, results.path(), &["create-issue"]).await;
    let out = run_gate(
        &fake,
        results.path(),
        &[
            "wait-approval",
            "--mode",
            "block",
            "--timeout",
            "2h",
            "--on-timeout",
            "fail",
        ],
    )
    .await;
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(read(results.path(), "APPROVAL_STATE"), "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_refusals_have_their_exit_codes() {
    let fake = github().await;
    let results = tempfile::tempdir().unwrap();
    /// Environment to change, the exit code, and what the error must mention.
    type Case<'a> = (Vec<(&'a str, &'a str)>, i32, &'a str);
    let mut cases: Vec<Case> = vec![
        (vec![("GITHUB_REPOSITORY", "not-a-repo")], 2, "not-a-repo"),
        (vec![("GITHUB_TOKEN", "")], 2, "GITHUB_TOKEN"),
        (
            vec![(
                "GITHUB_TOKEN",
                "someone-elses-token-that-is-not-valid-000000",
            )],
            5,
            "401",
        ),
        (
            vec![("GITHUB_REPOSITORY", "acme/missing")],
            5,
            "acme/missing",
        ),
    ];
    for (env, code, text) in cases.drain(..) {
        let mut command = gate(&fake, results.path(), &["create-issue"]);
        for (name, value) in &env {
            command.env(name, value);
        }
        command.env_remove("GH_TOKEN");
        let out = tokio::task::spawn_blocking(move || run(&mut command, None))
            .await
            .unwrap();
        assert_eq!(out.code, code, "{env:?}: {out:?}");
        assert!(
            out.stderr.contains(text),
            "{env:?} should mention {text}: {}",
            out.stderr
        );
        assert!(!out.all_output().contains(CANARY));
    }
    assert!(fake.repo(REPO).issues().is_empty());
}

/// A bad value is exit 2 before GitHub is asked anything (the fake records no request) and
/// before any result is written, and so is a bad API URL, which is never dialled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_value_is_refused_before_any_request() {
    let fake = github().await;
    let cases: [(&[&str], &str); 4] = [
        (&["wait-approval", "--issue", "seven"], "--issue \"seven\""),
        (
            &[
                "wait-approval",
                "--issue",
                "https://github.com/acme/pulls/7",
            ],
            "--issue",
        ),
        (&["create-issue", "--min-permission", "owner"], "owner"),
        (
            &["create-issue", "--api-url", "ftp://127.0.0.1:1"],
            "GitHub API URL",
        ),
    ];
    for (args, named) in cases {
        let results = tempfile::tempdir().unwrap();
        let out = run_gate(&fake, results.path(), args).await;
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(named), "{args:?}: {}", out.stderr);
        assert!(
            fake.requests().is_empty(),
            "{args:?}: {:?}",
            fake.requests()
        );
        assert!(
            std::fs::read_dir(results.path()).unwrap().next().is_none(),
            "{args:?} wrote a result"
        );
    }
}
