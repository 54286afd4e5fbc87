//! `stepkit prowjob report` end to end: the binary polling the fake Gangway until the job ends.

#[path = "support/gangway.rs"]
mod gangway_fake;
mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use gangway_fake::{FakeProw, Script, Step, WireStyle};
use serde_json::Value;
use stepkit::result::test_output::{validate, Document};
use support::{run, stepkit, Run};

const CANARY: &str = "sha256~CANARY-gangway-token-do-not-print-0123456789";
const JOB: &str = "periodic-ci-openshift-konflux-tasks-main-konflux-test-aws";

async fn job_with(script: Script) -> (FakeProw, String) {
    let fake = FakeProw::start().await;
    fake.set_valid_token(CANARY);
    fake.add_periodic(JOB);
    let id = fake.trigger_foreign(JOB);
    fake.set_script(&id, script);
    (fake, id)
}

fn report_command(
    fake: &FakeProw,
    id: &str,
    results: &Path,
    args: &[&str],
) -> std::process::Command {
    let mut command = stepkit();
    command
        .args(["prowjob", "report", "--poll-interval", "50ms"])
        .args(args)
        .env("RESULTS_DIR", results)
        .env("PROWJOB_ID", id)
        .env("GANGWAY_TOKEN", CANARY)
        .env("GANGWAY_URL", fake.url())
        .env("DECK_URL", fake.url());
    command
}

async fn report(fake: &FakeProw, id: &str, results: &Path, args: &[&str]) -> Run {
    let mut command = report_command(fake, id, results, args);
    let out = tokio::task::spawn_blocking(move || run(&mut command, None))
        .await
        .unwrap();
    assert!(
        !out.all_output().contains(CANARY),
        "the token leaked: {}",
        out.all_output()
    );
    out
}

fn results_of(dir: &Path) -> (String, String, Value) {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let test_output = read("TEST_OUTPUT");
    assert_eq!(
        validate(Document::TestOutput, &test_output),
        vec![],
        "{test_output}"
    );
    (
        read("PROWJOB_STATUS"),
        read("PROWJOB_URL"),
        serde_json::from_str(&test_output).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_final_state_gives_its_status_exit_code_and_test_output() {
    for (last, code, status, result) in [
        (Step::Success, 0, "SUCCESS", "SUCCESS"),
        (Step::Failure, 1, "FAILURE", "FAILURE"),
        (Step::Aborted, 1, "ABORTED", "ERROR"),
        (Step::Error, 1, "ERROR", "ERROR"),
    ] {
        let (fake, id) = job_with(Script::new([
            Step::Scheduling,
            Step::Triggered,
            Step::Pending,
            last,
        ]))
        .await;
        let results = tempfile::tempdir().unwrap();
        let out = report(&fake, &id, results.path(), &[]).await;
        assert_eq!(out.code, code, "{status}: {out:?}");
        assert_eq!(out.stdout.trim(), status);
        let (written, url, test_output) = results_of(results.path());
        assert_eq!(written, status, "bare word, no newline");
        assert!(url.starts_with("http"), "{status}: {url:?}");
        assert_eq!(test_output["result"], result);
        let note = test_output["note"].as_str().unwrap();
        assert!(
            note.contains(JOB) && note.contains(status) && note.contains(&url),
            "{note}"
        );
        // State changes are logged once each, not every poll.
        assert_eq!(out.stderr.matches("PENDING").count(), 1, "{}", out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camel_case_numeric_answers_and_unknown_future_states_are_understood() {
    let (fake, id) = job_with(Script::new([
        Step::Unknown("QUEUED_FOR_GPU".into()),
        Step::Unknown("QUEUED_FOR_GPU".into()),
        Step::Pending,
        Step::Success,
    ]))
    .await;
    fake.set_wire_style(WireStyle::CamelCaseNumbers);
    let results = tempfile::tempdir().unwrap();
    let out = report(&fake, &id, results.path(), &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(results_of(results.path()).0, "SUCCESS");
    assert_eq!(
        out.stderr.matches("new to stepkit").count(),
        1,
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_reports_that_the_job_keeps_running() {
    let (fake, id) = job_with(Script::stuck(Step::Pending)).await;
    let results = tempfile::tempdir().unwrap();
    let out = report(&fake, &id, results.path(), &["--timeout", "400ms"]).await;
    assert_eq!(out.code, 4, "{out:?}");
    let (status, _, test_output) = results_of(results.path());
    assert_eq!(status, "TIMEOUT");
    assert_eq!(test_output["result"], "ERROR");
    assert!(test_output["note"]
        .as_str()
        .unwrap()
        .contains("keeps running"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_stays_missing_is_given_up_after_the_grace_period() {
    let (fake, id) = job_with(Script::vanishing()).await;
    let results = tempfile::tempdir().unwrap();
    let out = report(&fake, &id, results.path(), &["--not-found-grace", "300ms"]).await;
    assert_eq!(out.code, 5, "{out:?}");
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
    let (status, _, test_output) = results_of(results.path());
    assert_eq!(status, "UNKNOWN");
    assert_eq!(test_output["result"], "ERROR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_stops_at_once() {
    let (fake, id) = job_with(Script::stuck(Step::Pending)).await;
    fake.set_valid_token("sha256~rotated");
    let results = tempfile::tempdir().unwrap();
    let out = report(&fake, &id, results.path(), &[]).await;
    assert_eq!(out.code, 5, "{out:?}");
    assert!(out.stderr.contains("token"), "{}", out.stderr);
    assert!(
        fake.requests_to(gangway_fake::Route::Get).len() <= 2,
        "no polling with a refused token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_id_from_the_trigger_steps_result_file() {
    let (fake, id) = job_with(Script::succeeding()).await;
    let results = tempfile::tempdir().unwrap();
    let id_file = results.path().join("PROWJOB_ID");
    std::fs::write(&id_file, format!("{id}\n")).unwrap();
    let mut command = report_command(&fake, "", results.path(), &[]);
    command
        .env_remove("PROWJOB_ID")
        .env("PROWJOB_ID_PATH", &id_file);
    let out = tokio::task::spawn_blocking(move || run(&mut command, None))
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_writes_unknown_and_says_the_job_keeps_running() {
    let (fake, id) = job_with(Script::stuck(Step::Pending)).await;
    let results = tempfile::tempdir().unwrap();
    let mut command = report_command(&fake, &id, results.path(), &[]);
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let it poll a few times, then stop it as Tekton does when the TaskRun times out.
    while fake.requests_to(gangway_fake::Route::Get).len() < 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    let (status, _, test_output) = results_of(results.path());
    assert_eq!(status, "UNKNOWN");
    assert_eq!(test_output["result"], "ERROR");
    let note = test_output["note"].as_str().unwrap();
    assert!(
        note.contains("SIGTERM") && note.contains("keeps running"),
        "{note}"
    );
}
