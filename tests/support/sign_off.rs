//! A Kratix GitHub sign-off Promise (tests/fixtures/gate/sign-off-promise.yaml) run as Kratix
//! runs it, against the fake GitHub: its container specs unchanged, launched on the host (the
//! stepkit binary through links named after the sign-off commands) or in the step image with
//! podman. Include it with `#[path = "support/sign_off.rs"] mod sign_off;` beside the fake
//! GitHub (`#[path = "support/github.rs"] mod github_fake;`) and `mod support;`.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::github_fake::{FakeGitHub, Role};
use crate::support::kratix::{promise_pipelines, ContainerSpec, Kratix, PipelineRun};

pub const CANARY: &str = "canary-token-CANARYcanaryCANARYcanary0123456789ab";
pub const REPO: &str = "acme/platform-approvals";
pub const PROMISE: &str = include_str!("../fixtures/gate/sign-off-promise.yaml");
pub const REQUEST: &str = include_str!("../fixtures/gate/sign-off-request.yaml");
pub const ISSUES: &str = "/repos/acme/platform-approvals/issues";

/// The Secret the Promise's env refers to.
pub const SECRETS: &[((&str, &str), &str)] = &[(("github-token", "token"), CANARY)];

/// Turns one container spec into a process: the spec, the directory standing for `/kratix`,
/// and the container's whole environment (Kratix's, the spec's, the harness's).
pub type Launch = Box<dyn Fn(&ContainerSpec, &Path, &[(String, String)]) -> Command + Sync>;

/// The fake GitHub with the repository, the gate's token and people in two roles.
pub fn populate(fake: &FakeGitHub) {
    fake.add_token(CANARY, "platform-bot");
    fake.add_repo(REPO)
        .set_role("platform-bot", Role::Write)
        .set_role("bob", Role::Write)
        .set_role("trinity", Role::Triage);
}

/// The Promise's two Pipelines and how their containers are launched.
pub struct SignOff {
    pub ask: Vec<ContainerSpec>,
    pub configure: Vec<ContainerSpec>,
    launch: Launch,
}

impl SignOff {
    pub fn new(launch: Launch) -> SignOff {
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
        SignOff {
            ask,
            configure,
            launch,
        }
    }

    /// Runs these containers as one Pipeline. What the harness adds to the specs' env: the
    /// fake's URL, a short poll interval and no pause between writes.
    pub fn run(
        &self,
        kratix: &mut Kratix,
        specs: &[ContainerSpec],
        fake: &FakeGitHub,
        extra: &[(&str, &str)],
    ) -> PipelineRun {
        let commands = specs
            .iter()
            .map(|spec| {
                let mut env: Vec<(String, String)> = kratix
                    .kratix_env()
                    .into_iter()
                    .map(|(name, value)| (name.to_owned(), value))
                    .collect();
                env.extend(spec.resolved_env(SECRETS));
                for (name, value) in [
                    ("GITHUB_API_URL", fake.url().as_str()),
                    ("STEPKIT_POLL_INTERVAL", "200ms"),
                    ("STEPKIT_MUTATION_SPACING", "0s"),
                ]
                .into_iter()
                .chain(extra.iter().copied())
                {
                    env.push((name.to_owned(), value.to_owned()));
                }
                (self.launch)(spec, kratix.root(), &env)
            })
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

    /// The first Pipeline, which must succeed.
    pub fn ask(&self, kratix: &mut Kratix, fake: &FakeGitHub) -> PipelineRun {
        let run = tokio::task::block_in_place(|| self.run(kratix, &self.ask, fake, &[]));
        assert_eq!(run.containers[0].code, 0, "{run:#?}");
        run
    }

    /// Runs the configure Pipeline; while its wait blocks (it has looked at the issue twice),
    /// checks that nothing ran after it, then `decide` acts on the fake GitHub.
    pub fn configure_deciding(
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

/// The configure Pipeline ended with `state` in approval-state, the consumer read it, and
/// provisioned exactly when it was approved.
pub fn assert_decided(run: &PipelineRun, kratix: &Kratix, state: &str) {
    assert!(run.containers.iter().all(|c| c.code == 0), "{run:#?}");
    assert_eq!(run.approval_state.as_deref(), Some(state), "{run:#?}");
    assert!(
        run.containers[1]
            .stdout
            .contains(&format!("approval-state: {state}")),
        "{run:#?}"
    );
    assert_eq!(provisioned(kratix), state == "approved");
}

pub fn wait_until(condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < Duration::from_secs(60), "gave up waiting");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn only_issue(fake: &FakeGitHub) -> u64 {
    let issues = fake.repo(REPO).issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    issues[0].number
}

pub fn provisioned(kratix: &Kratix) -> bool {
    kratix.root().join("output/namespace.yaml").exists()
}
