//! `stepkit gate` in a Kratix Promise pipeline, end to end: the binary, run by a stand-in for
//! Kratix (fresh metadata per Pipeline, shallow status merge, retryAfter re-runs), against the
//! fake GitHub. Every scenario counts the issues created and checks the token never shows.

#[path = "support/github.rs"]
mod github_fake;
mod support;

use std::time::Duration;

use github_fake::{FakeGitHub, Fault, Role};
use support::kratix::{Kratix, PipelineRun};

const CANARY: &str = "canary-token-CANARYcanaryCANARYcanary0123456789ab";
const REPO: &str = "acme/platform-approvals";
const OBJECT: &str = include_str!("fixtures/gate/object.yaml");
const CREATE: &[&str] = &["gate", "create-issue"];
const WAIT: &[&str] = &["gate", "wait-approval"];

async fn github() -> FakeGitHub {
    let fake = FakeGitHub::start().await;
    fake.add_token(CANARY, "platform-bot");
    fake.add_repo(REPO)
        .set_role("platform-bot", Role::Write)
        .set_role("alice", Role::Write)
        .set_role("bob", Role::Write)
        .set_role("dave", Role::Maintain)
        .set_role("carol", Role::Write)
        .set_role("trinity", Role::Triage);
    fake.add_team_member("acme", "platform-admins", "bob", true);
    fake.add_team_member("acme", "platform-admins", "dave", true);
    fake
}

fn env(fake: &FakeGitHub, extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("GITHUB_TOKEN", CANARY.to_owned()),
        ("GITHUB_REPOSITORY", REPO.to_owned()),
        ("GITHUB_API_URL", fake.url()),
        ("STEPKIT_MUTATION_SPACING", "0s".to_owned()),
        (
            "STEPKIT_REQUESTER_ANNOTATION",
            "stepkit.dev/requester".to_owned(),
        ),
    ];
    for (name, value) in extra {
        env.push((leak(name), value.to_string()));
    }
    env
}

fn leak(name: &str) -> &'static str {
    Box::leak(name.to_owned().into_boxed_str())
}

/// Runs the approval Pipeline (create-issue, then wait-approval) once.
fn approval_pipeline(
    kratix: &mut Kratix,
    fake: &FakeGitHub,
    extra: &[(&str, &str)],
) -> PipelineRun {
    let env = env(fake, extra);
    let env: Vec<(&str, String)> = env.into_iter().collect();
    let run = tokio::task::block_in_place(|| kratix.run_pipeline(&[CREATE, WAIT], &env));
    for container in &run.containers {
        assert!(
            !container.all_output().contains(CANARY),
            "the token leaked: {container:?}"
        );
    }
    run
}

fn created(fake: &FakeGitHub) -> usize {
    fake.count("POST", &format!("/repos/{REPO}/issues"))
}

fn only_issue(fake: &FakeGitHub) -> u64 {
    let issues = fake.repo(REPO).issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    issues[0].number
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_issue_however_often_kratix_runs_the_pipeline() {
    let fake = github().await;
    let mut kratix = Kratix::new(OBJECT, "postgresql");

    let first = approval_pipeline(&mut kratix, &fake, &[]);
    assert!(first.containers.iter().all(|c| c.code == 0), "{first:#?}");
    assert_eq!(first.approval_state.as_deref(), Some("pending"));
    assert_eq!(
        first.retry_after.as_deref(),
        Some("1m0s"),
        "retry mode asks Kratix to come back"
    );
    assert_eq!(kratix.approval("state").as_deref(), Some("pending"));
    let number = only_issue(&fake);
    let issue = fake.repo(REPO).issue(number).unwrap();
    assert!(issue.labels.contains(&"approval-gate".to_owned()));
    let body = issue.body.unwrap();
    assert!(
        body.contains("acid-minimal") && body.contains("team-a"),
        "{body}"
    );
    assert!(
        !body.contains("wJalrXUtnFEMI"),
        "secret-like spec fields stay out of the issue"
    );
    assert_eq!(
        kratix.status()["approvalIssue"].as_str(),
        Some(issue_url(&fake, number).as_str())
    );

    // Retries, the 10-hour reconcile: the same issue, never a second one.
    for _ in 0..3 {
        fake.advance_clock(Duration::from_secs(10 * 3600));
        let again = approval_pipeline(&mut kratix, &fake, &[]);
        assert_eq!(again.approval_state.as_deref(), Some("pending"));
    }
    assert_eq!(created(&fake), 1);
    assert_eq!(fake.search_calls(), 0, "the search API lags: never used");
}

fn issue_url(fake: &FakeGitHub, number: u64) -> String {
    format!("{}/{REPO}/issues/{number}", fake.url())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_created_before_a_failure_is_found_by_its_label_and_marker() {
    let fake = github().await;
    let mut kratix = Kratix::new(OBJECT, "postgresql");
    // GitHub creates the issue but the answer is lost; the pipeline's status never makes it.
    fake.inject(
        "POST",
        &format!("/repos/{REPO}/issues"),
        Fault::CommitThenStatus(502),
    );
    let first = approval_pipeline(&mut kratix, &fake, &[]);
    assert_eq!(first.containers[0].code, 0, "{first:#?}");
    only_issue(&fake);
    let _ = std::fs::remove_file(kratix.root().join("metadata/status.yaml"));
    let again = approval_pipeline(&mut kratix, &fake, &[]);
    assert!(again.containers.iter().all(|c| c.code == 0), "{again:#?}");
    only_issue(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorized_close_approves_and_lets_the_next_pipeline_run() {
    let fake = github().await;
    let mut kratix = Kratix::new(OBJECT, "postgresql");
    approval_pipeline(&mut kratix, &fake, &[]);
    let number = only_issue(&fake);
    fake.repo(REPO).close(number, "bob", "completed");

    let decided = approval_pipeline(&mut kratix, &fake, &[]);
    assert_eq!(decided.approval_state.as_deref(), Some("approved"));
    assert_eq!(decided.retry_after, None, "no retry once decided");
    assert_eq!(kratix.approval("state").as_deref(), Some("approved"));
    assert_eq!(kratix.approval("decidedBy").as_deref(), Some("bob"));
    // The next reconcile keeps it approved without asking again.
    fake.advance_clock(Duration::from_secs(10 * 3600));
    let later = approval_pipeline(&mut kratix, &fake, &[]);
    assert_eq!(later.approval_state.as_deref(), Some("approved"));
    assert_eq!(created(&fake), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_not_planned_and_duplicate() {
    for reason in ["not_planned", "duplicate"] {
        let fake = github().await;
        let mut kratix = Kratix::new(OBJECT, "postgresql");
        approval_pipeline(&mut kratix, &fake, &[]);
        fake.repo(REPO).close(only_issue(&fake), "bob", reason);
        let decided = approval_pipeline(&mut kratix, &fake, &[]);
        assert_eq!(
            decided.approval_state.as_deref(),
            Some("rejected"),
            "{reason}"
        );
        assert_eq!(
            decided.containers[1].code, 0,
            "rejected is an outcome, not a failure"
        );

        let strict = approval_pipeline(&mut kratix, &fake, &[("STEPKIT_FAIL_ON_REJECT", "true")]);
        assert_eq!(
            strict.containers[1].code, 1,
            "{reason} with --fail-on-reject"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_by_someone_not_allowed_is_reopened_and_stays_pending() {
    for (closer, policy_words) in [
        ("trinity", "write"),
        ("alice", "requester"),
        ("carol", "platform-admins"),
    ] {
        let fake = github().await;
        let mut kratix = Kratix::new(OBJECT, "postgresql");
        let approvers = if closer == "carol" {
            "team:acme/platform-admins"
        } else {
            ""
        };
        approval_pipeline(&mut kratix, &fake, &[("GATE_APPROVERS", approvers)]);
        let number = only_issue(&fake);
        fake.repo(REPO).close(number, closer, "completed");

        let run = approval_pipeline(&mut kratix, &fake, &[("GATE_APPROVERS", approvers)]);
        assert_eq!(run.approval_state.as_deref(), Some("pending"), "{closer}");
        let issue = fake.repo(REPO).issue(number).unwrap();
        assert!(issue.open, "{closer}'s close was undone");
        let explained = issue
            .comments
            .iter()
            .any(|c| c.body.contains(closer) && c.body.contains(policy_words));
        assert!(explained, "{closer}: {:#?}", issue.comments);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_spec_asks_again_and_an_approval_never_carries_over() {
    let fake = github().await;
    let mut kratix = Kratix::new(OBJECT, "postgresql");
    approval_pipeline(&mut kratix, &fake, &[]);
    let first = only_issue(&fake);
    fake.repo(REPO).close(first, "bob", "completed");
    assert_eq!(
        approval_pipeline(&mut kratix, &fake, &[])
            .approval_state
            .as_deref(),
        Some("approved")
    );

    kratix.set_spec("instances", "5");
    let changed = approval_pipeline(&mut kratix, &fake, &[]);
    assert_eq!(changed.approval_state.as_deref(), Some("pending"));
    assert_eq!(created(&fake), 2);
    let issues = fake.repo(REPO).issues();
    let old = issues.iter().find(|i| i.number == first).unwrap();
    let new = issues.iter().find(|i| i.number != first).unwrap();
    assert!(new.open);
    assert!(
        old.comments
            .iter()
            .any(|c| c.body.contains(&format!("#{}", new.number))),
        "{:#?}",
        old.comments
    );

    // Delete and recreate the resource: a new uid asks again too.
    kratix.recreate("0b7e6a52-9d41-4c3e-8f2a-1e5d7c9b3a60");
    approval_pipeline(&mut kratix, &fake, &[]);
    assert_eq!(created(&fake), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comment_approvals_from_two_team_members() {
    let fake = github().await;
    let mut kratix = Kratix::new(OBJECT, "postgresql");
    let policy = [
        ("STEPKIT_APPROVE_BY", "comments"),
        ("GATE_MIN_APPROVALS", "2"),
        ("GATE_APPROVERS", "team:acme/platform-admins"),
    ];
    approval_pipeline(&mut kratix, &fake, &policy);
    let number = only_issue(&fake);
    let repo = fake.repo(REPO);
    repo.comment(number, "bob", "/approve");
    repo.comment(number, "carol", "/approve");
    let pending = approval_pipeline(&mut kratix, &fake, &policy);
    assert_eq!(
        pending.approval_state.as_deref(),
        Some("pending"),
        "carol is not in the team"
    );

    repo.comment(number, "dave", "LGTM\nlooks fine");
    let decided = approval_pipeline(&mut kratix, &fake, &policy);
    assert_eq!(decided.approval_state.as_deref(), Some("approved"));
    let issue = fake.repo(REPO).issue(number).unwrap();
    assert!(!issue.open && issue.state_reason.as_deref() == Some("completed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_nobody_decides_times_out_as_rejected() {
    let fake = github().await;
    // The issue was opened two hours ago.
    fake.set_clock(time::OffsetDateTime::now_utc() - Duration::from_secs(2 * 3600));
    let mut kratix = Kratix::new(OBJECT, "postgresql");
    let run = approval_pipeline(&mut kratix, &fake, &[("STEPKIT_TIMEOUT", "1h")]);
    assert_eq!(run.approval_state.as_deref(), Some("rejected"), "{run:#?}");
    assert_eq!(
        kratix.approval("reason").as_deref(),
        Some("timed out after 1h")
    );
    let issue = fake.repo(REPO).issue(only_issue(&fake)).unwrap();
    assert!(!issue.open && issue.state_reason.as_deref() == Some("not_planned"));
    assert!(issue.comments.iter().any(|c| c.body.contains("timed out")));

    let fail = approval_pipeline(
        &mut kratix,
        &fake,
        &[("STEPKIT_TIMEOUT", "1h"), ("STEPKIT_ON_TIMEOUT", "fail")],
    );
    assert_eq!(
        fail.approval_state.as_deref(),
        Some("rejected"),
        "already decided on the last run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_enterprise_paths_are_kept() {
    let fake = github().await;
    let mut kratix = Kratix::new(OBJECT, "postgresql");
    let api = fake.url_with_prefix("/api/v3");
    let run = approval_pipeline(&mut kratix, &fake, &[("GITHUB_API_URL", api.as_str())]);
    assert!(run.containers.iter().all(|c| c.code == 0), "{run:#?}");
    assert!(fake.requests().iter().all(|r| r.prefix == "/api/v3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_approval_approves_without_asking() {
    // The sign-off image's escape hatch: an earlier container writes metadata/skip-approval.
    let fake = github().await;
    let mut kratix = Kratix::new(OBJECT, "postgresql");
    kratix.seed_metadata("skip-approval", "");
    let run = approval_pipeline(&mut kratix, &fake, &[]);
    assert!(run.containers.iter().all(|c| c.code == 0), "{run:#?}");
    assert_eq!(run.approval_state.as_deref(), Some("approved"));
    assert_eq!(run.retry_after, None);
    assert_eq!(created(&fake), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_retry_costs_no_rate_limit() {
    let fake = github().await;
    let mut kratix = Kratix::new(OBJECT, "postgresql");
    approval_pipeline(&mut kratix, &fake, &[]);
    // The second run reads the issue through the status link and keeps its ETag.
    approval_pipeline(&mut kratix, &fake, &[]);
    let env = env(&fake, &[]);
    let before = fake.non_304_gets();
    let idle = tokio::task::block_in_place(|| kratix.run_pipeline(&[WAIT], &env));
    assert_eq!(idle.approval_state.as_deref(), Some("pending"), "{idle:#?}");
    assert_eq!(
        fake.non_304_gets(),
        before,
        "an unchanged issue is a free 304"
    );
    assert!(fake.requests().iter().any(|r| r.not_modified));
    // The status still links the issue (a later wait without GITHUB_REPOSITORY needs it).
    let url = issue_url(&fake, only_issue(&fake));
    assert_eq!(
        kratix.status()["approvalIssue"].as_str(),
        Some(url.as_str())
    );
    assert_eq!(kratix.approval("issueUrl").as_deref(), Some(url.as_str()));
    assert!(kratix.approval("requestedAt").is_some());
}
