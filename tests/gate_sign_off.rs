//! The Kratix GitHub sign-off image's Promises, unchanged but for the image: their container
//! specs (`command: ["create-issue"]`, `["wait-approval"]`, their env, a consumer that
//! provisions unless approval-state says "rejected") run against the fake GitHub, with the
//! stepkit binary answering to those command names through links, as it does in the image.
//!
//! What the harness adds to the specs, and nothing else: GITHUB_API_URL (the fake), a short
//! STEPKIT_POLL_INTERVAL, and the mount point: /kratix is a temporary directory here
//! (KRATIX_DIR, and the consumer script's paths), the real /kratix in tests/image.rs.

#[path = "support/github.rs"]
mod github_fake;
#[path = "support/sign_off.rs"]
mod sign_off;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use github_fake::FakeGitHub;
use sign_off::{
    assert_decided, only_issue, populate, provisioned, wait_until, SignOff, ISSUES, REPO, REQUEST,
};
use support::kratix::Kratix;

async fn github() -> FakeGitHub {
    let fake = FakeGitHub::start().await;
    populate(&fake);
    fake
}

/// The Promise, its containers run on the host: `create-issue` and `wait-approval` are links to
/// the stepkit binary in a directory first on PATH, as in the image.
struct HostSignOff {
    promise: SignOff,
    _bin: tempfile::TempDir,
}

impl std::ops::Deref for HostSignOff {
    type Target = SignOff;
    fn deref(&self) -> &SignOff {
        &self.promise
    }
}

fn host() -> HostSignOff {
    let bin = tempfile::tempdir().unwrap();
    for name in ["create-issue", "wait-approval"] {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_stepkit"), bin.path().join(name)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let launch =
        move |spec: &support::kratix::ContainerSpec, root: &Path, env: &[(String, String)]| {
            let root = root.display().to_string();
            // The consumer's script names /kratix; here that is the harness's directory.
            let args = spec
                .args
                .iter()
                .map(|arg| arg.replace("/kratix/", &format!("{root}/")));
            let mut command = Command::new(&spec.command[0]);
            command
                .args(&spec.command[1..])
                .args(args)
                .env_clear()
                .env("PATH", &path)
                .env("KRATIX_DIR", &root)
                .envs(env.iter().map(|(name, value)| (name, value)));
            command
        };
    HostSignOff {
        promise: SignOff::new(Box::new(launch)),
        _bin: bin,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_off_promise_runs_unchanged_and_provisions_only_once_approved() {
    let fake = github().await;
    let promise = host();
    let mut kratix = Kratix::new(REQUEST, "namespace");

    // The first Pipeline, as Kratix runs it on create, on every reconcile and on retries: one
    // issue, and every re-run succeeds (the sign-off image's own create-issue exited 1 there).
    for _ in 0..3 {
        promise.ask(&mut kratix, &fake);
    }
    assert_eq!(fake.count("POST", ISSUES), 1);
    let number = only_issue(&fake);
    let url = format!("{}/{REPO}/issues/{number}", fake.url());
    assert_eq!(
        kratix.status()["approvalIssue"].as_str(),
        Some(url.as_str())
    );

    // The second Pipeline sets no GITHUB_REPOSITORY: the wait finds the issue from the status
    // link, blocks, and only a close by someone with write access decides it.
    let run = promise.configure_deciding(&mut kratix, &fake, number, || {
        fake.repo(REPO).close(number, "trinity", "completed");
        wait_until(|| fake.repo(REPO).issue(number).unwrap().open);
        fake.repo(REPO).close(number, "bob", "completed");
    });
    assert_decided(&run, &kratix, "approved");
    assert_eq!(run.retry_after, None);
    let issue = fake.repo(REPO).issue(number).unwrap();
    assert!(
        issue.comments.iter().any(|c| c.body.contains("@trinity")),
        "the triage close was undone with a comment: {:#?}",
        issue.comments
    );
    assert_eq!(kratix.approval("decidedBy").as_deref(), Some("bob"));
    assert_eq!(fake.count("POST", ISSUES), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_as_not_planned_is_rejected_and_nothing_is_provisioned() {
    let fake = github().await;
    let promise = host();
    let mut kratix = Kratix::new(REQUEST, "namespace");
    promise.ask(&mut kratix, &fake);
    let number = only_issue(&fake);

    let run = promise.configure_deciding(&mut kratix, &fake, number, || {
        fake.repo(REPO).close(number, "bob", "not_planned");
    });
    assert_decided(&run, &kratix, "rejected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_waits_through_kratix_and_never_writes_a_pending_state() {
    let fake = github().await;
    let promise = host();
    let mut kratix = Kratix::new(REQUEST, "namespace");
    promise.ask(&mut kratix, &fake);
    let number = only_issue(&fake);

    for (retry_after, expected) in [("45s", "45s"), ("yes", "30s")] {
        let run = tokio::task::block_in_place(|| {
            promise.run(
                &mut kratix,
                &promise.configure,
                &fake,
                &[("RETRY_AFTER", retry_after)],
            )
        });
        assert_eq!(run.containers[0].code, 0, "{run:#?}");
        assert_eq!(run.retry_after.as_deref(), Some(expected));
        assert_eq!(run.approval_state, None, "only approved or rejected, ever");
        // The consumer after it in the same Pipeline finds no decision and does not provision.
        assert_ne!(run.containers[1].code, 0, "{run:#?}");
        assert!(!provisioned(&kratix));
    }

    fake.repo(REPO).close(number, "bob", "completed");
    let run = tokio::task::block_in_place(|| {
        promise.run(
            &mut kratix,
            &promise.configure,
            &fake,
            &[("RETRY_AFTER", "45s")],
        )
    });
    assert_eq!(run.approval_state.as_deref(), Some("approved"), "{run:#?}");
    assert_eq!(run.retry_after, None, "decided: Kratix goes on");
    assert!(provisioned(&kratix));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_the_sign_off_image_opened_carries_on() {
    let fake = github().await;
    let promise = host();
    // Before the image changed, the sign-off image opened an issue (no label, no marker) and
    // recorded its link in the status.
    let legacy = fake.repo(REPO).create_issue(
        "platform-bot",
        "New namespace request waiting approval",
        "Close the issue to accept\n\n```yaml\nspec: {}\n```\n",
        &[],
    );
    let url = format!("{}/{REPO}/issues/{legacy}", fake.url());
    let with_link = format!("{REQUEST}status:\n  approvalIssue: {url}\n");
    let mut kratix = Kratix::new_with_status(&with_link, "namespace");

    promise.ask(&mut kratix, &fake);
    assert_eq!(
        fake.count("POST", ISSUES),
        0,
        "no second issue for the same request"
    );
    let run = promise.configure_deciding(&mut kratix, &fake, legacy, || {
        fake.repo(REPO).close(legacy, "bob", "completed");
    });
    assert_eq!(run.approval_state.as_deref(), Some("approved"), "{run:#?}");
    assert!(provisioned(&kratix));

    // A changed request is asked again, in an issue of stepkit's own; the old one says so.
    kratix.set_spec("namespaceName", "team-b-sandbox-2");
    promise.ask(&mut kratix, &fake);
    assert_eq!(fake.count("POST", ISSUES), 1);
    let old = fake.repo(REPO).issue(legacy).unwrap();
    assert!(
        old.comments.iter().any(|c| c.body.contains("asked again")),
        "{old:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_with_no_repository_and_no_issue_link_says_what_to_set() {
    let fake = github().await;
    let promise = host();
    let mut kratix = Kratix::new(REQUEST, "namespace");
    let run = tokio::task::block_in_place(|| {
        promise.run(&mut kratix, &promise.configure[..1], &fake, &[])
    });
    let wait = &run.containers[0];
    assert_eq!(wait.code, 2, "{wait:#?}");
    assert!(wait.stderr.contains("GITHUB_REPOSITORY"), "{}", wait.stderr);
    assert!(wait.stderr.contains("create-issue"), "{}", wait.stderr);
    assert_eq!(run.approval_state, None);
}

/// A wait that fails writes no `pending` either: the Promise's consumer provisions on anything
/// but "rejected", so a `pending` left by a failure would provision an undecided request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_fails_leaves_no_state_for_the_consumer_to_misread() {
    let fake = github().await;
    let promise = host();

    // A request over the gate's size budget cannot be read at all.
    let mut kratix = Kratix::new(REQUEST, "namespace");
    kratix.set_spec("padding", &"x".repeat(5 << 20));
    let run =
        tokio::task::block_in_place(|| promise.run(&mut kratix, &promise.configure, &fake, &[]));
    assert_eq!(run.containers[0].code, 2, "{:?}", run.containers[0].stderr);
    assert_eq!(run.approval_state, None);
    assert!(!provisioned(&kratix));

    // GitHub failing past the retry deadline: the status still says pending, with the issue
    // link the last run recorded, and approval-state is still absent.
    let mut kratix = Kratix::new(REQUEST, "namespace");
    promise.ask(&mut kratix, &fake);
    let number = only_issue(&fake);
    fake.outage(std::time::Duration::from_secs(600));
    let run = tokio::task::block_in_place(|| {
        promise.run(
            &mut kratix,
            &promise.configure,
            &fake,
            &[("STEPKIT_RETRY_DEADLINE", "2s")],
        )
    });
    assert_eq!(run.containers[0].code, 3, "{:?}", run.containers[0].stderr);
    assert_eq!(run.approval_state, None);
    assert!(!provisioned(&kratix));
    assert_eq!(kratix.approval("state").as_deref(), Some("pending"));
    assert_eq!(
        kratix.approval("issueNumber").as_deref(),
        Some(number.to_string().as_str())
    );
    assert!(
        kratix.approval("requestedAt").is_some(),
        "{:?}",
        kratix.status()
    );
}

/// The binary's own name decides, not its directory: a copy named otherwise is plain stepkit.
#[test]
fn only_the_two_sign_off_names_select_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let renamed: PathBuf = dir.path().join("stepkit-copy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_stepkit"), &renamed).unwrap();
    let help = support::run(Command::new(&renamed).arg("--help"), None);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Command groups"), "{}", help.stdout);
    let wait = Path::new(dir.path()).join("wait-approval");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_stepkit"), &wait).unwrap();
    let help = support::run(Command::new(&wait).arg("--help"), None);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("wait-approval"), "{}", help.stdout);
    assert!(help.stdout.contains("--poll-interval"), "{}", help.stdout);
}
