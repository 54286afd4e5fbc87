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
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use github_fake::{FakeGitHub, Role};
use support::kratix::{promise_pipelines, ContainerSpec, Kratix, PipelineRun};

const CANARY: &str = "canary-token-CANARYcanaryCANARYcanary0123456789ab";
const REPO: &str = "acme/platform-approvals";
const PROMISE: &str = include_str!("fixtures/gate/sign-off-promise.yaml");
const REQUEST: &str = include_str!("fixtures/gate/sign-off-request.yaml");
const ISSUES: &str = "/repos/acme/platform-approvals/issues";

async fn github() -> FakeGitHub {
    let fake = FakeGitHub::start().await;
    fake.add_token(CANARY, "platform-bot");
    fake.add_repo(REPO)
        .set_role("platform-bot", Role::Write)
        .set_role("bob", Role::Write)
        .set_role("trinity", Role::Triage);
    fake
}

/// The Promise's two Pipelines, and a directory where `create-issue` and `wait-approval` are
/// links to the stepkit binary, as in the image.
struct SignOff {
    ask: Vec<ContainerSpec>,
    configure: Vec<ContainerSpec>,
    bin: tempfile::TempDir,
}

impl SignOff {
    fn new() -> SignOff {
        let mut pipelines = promise_pipelines(PROMISE).into_iter();
        let (ask_name, ask) = pipelines.next().unwrap();
        let (configure_name, configure) = pipelines.next().unwrap();
        assert_eq!(
            (ask_name.as_str(), configure_name.as_str()),
            ("request-approval", "configure")
        );
        assert_eq!(ask[0].command, ["create-issue"]);
        assert_eq!(configure[0].command, ["wait-approval"]);
        assert!(
            configure[0]
                .env
                .iter()
                .all(|(name, _)| name != "GITHUB_REPOSITORY"),
            "the wait sets only GITHUB_TOKEN"
        );
        let bin = tempfile::tempdir().unwrap();
        for name in ["create-issue", "wait-approval"] {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_stepkit"), bin.path().join(name))
                .unwrap();
        }
        SignOff {
            ask,
            configure,
            bin,
        }
    }

    /// The host command for one container spec of the Promise.
    fn command(
        &self,
        kratix: &Kratix,
        spec: &ContainerSpec,
        fake: &FakeGitHub,
        extra: &[(&str, &str)],
    ) -> Command {
        let root = kratix.root().display().to_string();
        // The consumer's script names /kratix; here that is the test's directory.
        let args: Vec<String> = spec
            .args
            .iter()
            .map(|arg| arg.replace("/kratix/", &format!("{root}/")))
            .collect();
        let mut command = Command::new(&spec.command[0]);
        command.args(&spec.command[1..]).args(args).env_clear();
        let path = format!(
            "{}:{}",
            self.bin.path().display(),
            std::env::var("PATH").unwrap()
        );
        command
            .env("PATH", path)
            .env("KRATIX_DIR", &root)
            .env("GITHUB_API_URL", fake.url())
            .env("STEPKIT_POLL_INTERVAL", "200ms")
            .env("STEPKIT_MUTATION_SPACING", "0s");
        for (name, value) in kratix.kratix_env() {
            command.env(name, value);
        }
        for (name, value) in spec.resolved_env(&[(("github-token", "token"), CANARY)]) {
            command.env(name, value);
        }
        for (name, value) in extra {
            command.env(name, value);
        }
        command
    }

    fn run(
        &self,
        kratix: &mut Kratix,
        specs: &[ContainerSpec],
        fake: &FakeGitHub,
        extra: &[(&str, &str)],
    ) -> PipelineRun {
        let commands = specs
            .iter()
            .map(|spec| self.command(kratix, spec, fake, extra))
            .collect();
        let run = kratix.run_commands(commands);
        for container in &run.containers {
            assert!(
                !container.all_output().contains(CANARY),
                "the token leaked: {container:?}"
            );
        }
        run
    }

    fn ask(&self, kratix: &mut Kratix, fake: &FakeGitHub) -> PipelineRun {
        let run = tokio::task::block_in_place(|| self.run(kratix, &self.ask, fake, &[]));
        assert_eq!(run.containers[0].code, 0, "{run:#?}");
        run
    }

    /// Runs the configure Pipeline; while its wait blocks (it has looked at the issue twice),
    /// checks that nothing ran after it and `decide` acts on the fake GitHub.
    fn configure_deciding(
        &self,
        kratix: &mut Kratix,
        fake: &FakeGitHub,
        number: u64,
        decide: impl FnOnce(),
    ) -> PipelineRun {
        let output = kratix.root().join("output/namespace.yaml");
        let state = kratix.root().join("metadata/approval-state");
        let issue = format!("{ISSUES}/{number}");
        let looks_before = fake.count("GET", &issue);
        tokio::task::block_in_place(|| {
            std::thread::scope(|scope| {
                let pipeline = scope.spawn(|| self.run(kratix, &self.configure, fake, &[]));
                wait_until(|| fake.count("GET", &issue) >= looks_before + 2);
                assert!(!pipeline.is_finished(), "wait-approval blocks");
                assert!(
                    !output.exists(),
                    "nothing provisions while the request is pending"
                );
                assert!(!state.exists(), "no approval-state while pending");
                decide();
                pipeline.join().unwrap()
            })
        })
    }
}

fn wait_until(condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < Duration::from_secs(30), "gave up waiting");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn only_issue(fake: &FakeGitHub) -> u64 {
    let issues = fake.repo(REPO).issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    issues[0].number
}

fn provisioned(kratix: &Kratix) -> bool {
    kratix.root().join("output/namespace.yaml").exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_off_promise_runs_unchanged_and_provisions_only_once_approved() {
    let fake = github().await;
    let promise = SignOff::new();
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
    assert!(run.containers.iter().all(|c| c.code == 0), "{run:#?}");
    assert_eq!(run.approval_state.as_deref(), Some("approved"));
    assert_eq!(run.retry_after, None);
    assert!(run.containers[1]
        .stdout
        .contains("approval-state: approved"));
    assert!(provisioned(&kratix), "an approved request is provisioned");
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
    let promise = SignOff::new();
    let mut kratix = Kratix::new(REQUEST, "namespace");
    promise.ask(&mut kratix, &fake);
    let number = only_issue(&fake);

    let run = promise.configure_deciding(&mut kratix, &fake, number, || {
        fake.repo(REPO).close(number, "bob", "not_planned");
    });
    assert!(run.containers.iter().all(|c| c.code == 0), "{run:#?}");
    assert_eq!(run.approval_state.as_deref(), Some("rejected"));
    assert!(run.containers[1]
        .stdout
        .contains("approval-state: rejected"));
    assert!(!provisioned(&kratix));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_waits_through_kratix_and_never_writes_a_pending_state() {
    let fake = github().await;
    let promise = SignOff::new();
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
    let promise = SignOff::new();
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
    let promise = SignOff::new();
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
