//! `stepkit prowjob trigger` end to end: the binary against the fake Prow (Gangway, Deck, raw
//! GitHub) on 127.0.0.1, with a snapshot as Konflux passes it.

#[path = "support/gangway.rs"]
mod gangway_fake;
mod support;

use std::path::Path;

use gangway_fake::{FakeProw, Fault, Route, Script, Step};
use serde_json::Value;
use support::{files_in, run, stepkit, Run};

const CANARY: &str = "sha256~CANARY-gangway-token-do-not-print-0123456789";
const JOB: &str =
    "periodic-ci-openshift-multiarch-tuning-operator-main-ocp418-e2e-aws-ovn-proxy-mto-origin";
const CONFIG_FILE: &str = "openshift-multiarch-tuning-operator-main__ocp418.yaml";
const BUNDLE_DIGEST: &str =
    "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

fn snapshot() -> String {
    serde_json::json!({
        "application": "multiarch-tuning-operator",
        "artifacts": {},
        "components": [
            {
                "name": "multiarch-tuning-operator",
                "containerImage": "quay.io/redhat-user-workloads/mto-tenant/multiarch-tuning-operator@sha256:3f1c0c9f2b7a4e8d9c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d",
                "source": {"git": {"url": "https://github.com/openshift/multiarch-tuning-operator", "revision": "9b2e4c1d7a3f5e6b8c0d2f4a6b8c0e2f4a6b8c0d"}}
            },
            {
                "name": "multiarch-tuning-operator-bundle",
                "containerImage": format!("quay.io/redhat-user-workloads/mto-tenant/multiarch-tuning-operator-bundle@{BUNDLE_DIGEST}"),
                "source": {"git": {"url": "https://github.com/openshift/multiarch-tuning-operator.git", "revision": "9b2e4c1d7a3f5e6b8c0d2f4a6b8c0e2f4a6b8c0d"}}
            }
        ]
    })
    .to_string()
}

async fn fake_prow() -> FakeProw {
    let fake = FakeProw::start().await;
    fake.set_valid_token(CANARY);
    fake.add_periodic(JOB);
    let config =
        std::fs::read_to_string(support::fixture(&format!("prowjob/config/{CONFIG_FILE}")))
            .unwrap();
    fake.add_ci_operator_config(
        "master",
        "openshift",
        "multiarch-tuning-operator",
        CONFIG_FILE,
        &config,
    );
    fake.set_default_script(Script::new([
        Step::Scheduling,
        Step::Pending,
        Step::Success,
    ]));
    fake
}

/// Runs `stepkit prowjob trigger` the way the Task's step does: params as env, token as env.
async fn trigger(
    fake: &FakeProw,
    results: &Path,
    extra_env: &[(&str, &str)],
    args: &[&str],
) -> Run {
    let mut command = stepkit();
    command
        .args([
            "prowjob",
            "trigger",
            "--url-poll-interval",
            "50ms",
            "--url-timeout",
            "20s",
        ])
        .args(args)
        .env("RESULTS_DIR", results)
        .env("SNAPSHOT", snapshot())
        .env("PROWJOB_NAME", JOB)
        .env("COMPONENT_NAME", "multiarch-tuning-operator-bundle")
        .env("TARGET_BRANCH", "main")
        .env("VARIANT", "ocp418")
        .env("IMAGE_IN_CONFIG", "multiarch-tuning-operator-bundle")
        .env("ENVS", "TEST_ENV=example,QUOTED=say \"hi\"=now")
        .env("GANGWAY_TOKEN", CANARY)
        .env("GANGWAY_URL", fake.url())
        .env("DECK_URL", fake.url())
        .env("STEPKIT_RELEASE_REPO_URL", fake.url());
    for (name, value) in extra_env {
        command.env(name, value);
    }
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

fn read(results: &Path, name: &str) -> String {
    std::fs::read_to_string(results.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_the_job_with_the_patched_config_and_writes_its_results() {
    let fake = fake_prow().await;
    let results = tempfile::tempdir().unwrap();
    let out = trigger(&fake, results.path(), &[], &["--verbose"]).await;
    assert_eq!(out.code, 0, "{out:?}");

    let executions = fake.created_executions();
    assert_eq!(executions.len(), 1);
    let id = &executions[0].id;
    assert_eq!(out.stdout.trim(), id);
    assert_eq!(
        read(results.path(), "PROWJOB_ID"),
        *id,
        "no trailing newline"
    );
    assert_eq!(read(results.path(), "PROWJOB_NAME"), JOB);
    assert!(
        read(results.path(), "PROWJOB_CONFIG_URL").ends_with(&format!(
            "/master/ci-operator/config/openshift/multiarch-tuning-operator/{CONFIG_FILE}"
        ))
    );
    assert!(
        read(results.path(), "PROWJOB_URL").starts_with("http"),
        "the job URL once it was scheduled"
    );

    let body = &fake.create_bodies()[0];
    assert_eq!(body["job_name"], JOB);
    assert_eq!(body["job_execution_type"], "1");
    assert_eq!(
        body["pod_spec_options"]["annotations"]["ci.openshift.io/konflux-repo"],
        "openshift/multiarch-tuning-operator"
    );
    let config: Value = serde_json::from_str(
        body["pod_spec_options"]["envs"]["UNRESOLVED_CONFIG"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let image = &config["external_images"]["multiarch-tuning-operator-bundle"];
    let joined = format!(
        "{}/{}/{}:{}",
        image["registry"].as_str().unwrap(),
        image["namespace"].as_str().unwrap(),
        image["name"].as_str().unwrap(),
        image["tag"].as_str().unwrap()
    );
    assert_eq!(
        joined,
        format!("quay.io/redhat-user-workloads/mto-tenant/multiarch-tuning-operator-bundle@{BUNDLE_DIGEST}"),
        "ci-operator's join reproduces the digest reference"
    );
    let tests = config["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 1, "only the job's own test is kept");
    assert_eq!(tests[0]["as"], "e2e-aws-ovn-proxy-mto-origin");
    assert_eq!(tests[0]["steps"]["env"]["QUOTED"], "say \"hi\"=now");
    assert!(config.get("images").is_none() && config.get("operator").is_none());
    // Request bodies (which echo the config and envs) are never logged, even with --verbose.
    assert!(!out.stderr.contains("UNRESOLVED_CONFIG"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_config_and_sends_nothing() {
    let fake = fake_prow().await;
    let results = tempfile::tempdir().unwrap();
    let out = trigger(
        &fake,
        results.path(),
        &[("STEPKIT_DRY_RUN", "true"), ("GANGWAY_TOKEN", "")],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    let config: serde_yaml::Value = serde_yaml::from_str(&out.stdout).unwrap();
    assert!(config["external_images"]["multiarch-tuning-operator-bundle"].is_mapping());
    assert!(
        out.stderr.contains("POST /v1/executions") && out.stderr.contains(JOB),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("TEST_ENV=example"),
        "env values stay out of the summary"
    );
    assert!(fake.requests_to(Route::Create).is_empty());
    assert!(files_in(results.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_a_refusal_that_says_so() {
    let fake = fake_prow().await;
    let results = tempfile::tempdir().unwrap();
    fake.set_valid_token("sha256~some-other-token");
    let out = trigger(&fake, results.path(), &[], &[]).await;
    assert_eq!(out.code, 5, "{out:?}");
    assert!(
        out.stderr.contains("token expired or not allowed"),
        "{}",
        out.stderr
    );
    assert!(fake.created_executions().is_empty());
    assert!(files_in(results.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_created_but_whose_answer_was_lost_is_found_not_triggered_again() {
    let fake = fake_prow().await;
    fake.inject(
        Route::Create,
        Fault::SlowResponse(std::time::Duration::from_secs(5)),
    );
    let results = tempfile::tempdir().unwrap();
    let out = trigger(
        &fake,
        results.path(),
        &[("STEPKIT_REQUEST_TIMEOUT", "1s")],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    let executions = fake.created_executions();
    assert_eq!(executions.len(), 1, "exactly one job: {executions:?}");
    assert_eq!(read(results.path(), "PROWJOB_ID"), executions[0].id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_proxy_errors_are_retried_without_duplicates() {
    let fake = fake_prow().await;
    fake.inject(
        Route::Create,
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
    );
    fake.inject(Route::Create, Fault::GatewayHtml { status: 503 });
    let results = tempfile::tempdir().unwrap();
    let out = trigger(&fake, results.path(), &[], &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(fake.created_executions().len(), 1);
    assert_eq!(fake.requests_to(Route::Create).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_fail_before_anything_is_sent() {
    let fake = fake_prow().await;
    let not_quay = serde_json::json!({"application": "a", "components": [{"name": "c", "containerImage": "registry.example.com:5000/team/c:v1"}]}).to_string();
    for (env, want_code, want_text) in [
        (
            vec![("SNAPSHOT", "my-snapshot-x7k2p")],
            2,
            "snapshot-param-as-name",
        ),
        (vec![("COMPONENT_NAME", "")], 2, "COMPONENT_NAME"),
        (
            vec![("COMPONENT_NAME", "nope")],
            2,
            "multiarch-tuning-operator-bundle",
        ),
        (
            vec![(
                "PROWJOB_NAME",
                "periodic-ci-openshift-multiarch-tuning-operator-main-ocp418-no-such-test",
            )],
            2,
            "e2e-aws-ovn-proxy-mto-origin",
        ),
        (vec![("ENVS", "EMPTY=")], 2, "EMPTY"),
        (
            vec![
                ("SNAPSHOT", not_quay.as_str()),
                ("COMPONENT_NAME", ""),
                ("PROWJOB_ORG", "openshift"),
                ("PROWJOB_REPO", "multiarch-tuning-operator"),
            ],
            2,
            "quay.io",
        ),
        (
            vec![("SNAPSHOT", not_quay.as_str()), ("COMPONENT_NAME", "")],
            2,
            "PROWJOB_ORG",
        ),
        (vec![("TARGET_BRANCH", "")], 2, "TARGET_BRANCH"),
        (vec![("TARGET_BRANCH", "release-9.99")], 5, "release-9.99"),
    ] {
        let results = tempfile::tempdir().unwrap();
        let out = trigger(&fake, results.path(), &env, &[]).await;
        assert_eq!(out.code, want_code, "{env:?}: {out:?}");
        assert!(
            out.stderr.contains(want_text),
            "{env:?} should mention {want_text}: {}",
            out.stderr
        );
        assert!(files_in(results.path()).is_empty(), "{env:?} wrote results");
    }
    assert!(
        fake.requests_to(Route::Create).is_empty(),
        "nothing was triggered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gangway_validation_errors_are_shown() {
    let fake = fake_prow().await;
    fake.inject(
        Route::Create,
        Fault::GangwayError {
            status: 400,
            code: 3,
            message: "job_name must be set".into(),
        },
    );
    let results = tempfile::tempdir().unwrap();
    let out = trigger(&fake, results.path(), &[], &[]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("job_name must be set"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fake.requests_to(Route::Create).len(),
        1,
        "a 400 is not retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_may_trigger_but_not_list_sends_exactly_one_request() {
    for status in [403, 404, 405] {
        let fake = fake_prow().await;
        fake.refuse_listing(status);
        let results = tempfile::tempdir().unwrap();
        let out = trigger(&fake, results.path(), &[], &[]).await;
        assert_eq!(out.code, 0, "{status}: {out:?}");
        assert_eq!(fake.requests_to(Route::Create).len(), 1, "{status}");
        let executions = fake.created_executions();
        assert_eq!(executions.len(), 1, "{status}");
        assert_eq!(read(results.path(), "PROWJOB_ID"), executions[0].id);
        assert!(
            out.stderr.contains(&format!("(HTTP {status})")),
            "{status}: says why it cannot look: {}",
            out.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_listing_an_ambiguous_failure_is_never_sent_again() {
    for fault in [
        Fault::HandledThenReset,
        Fault::GatewayHtml { status: 502 },
        Fault::EmptyOk,
    ] {
        let fake = fake_prow().await;
        fake.refuse_listing(403);
        fake.inject(Route::Create, fault.clone());
        let results = tempfile::tempdir().unwrap();
        let out = trigger(&fake, results.path(), &[], &[]).await;
        assert_eq!(out.code, 3, "{fault:?}: {out:?}");
        assert_eq!(
            fake.requests_to(Route::Create).len(),
            1,
            "{fault:?}: never a second request"
        );
        assert!(out.stderr.contains("not sent again"), "{}", out.stderr);
        assert!(out.stderr.contains("Deck"), "{}", out.stderr);
        assert!(files_in(results.path()).is_empty(), "{fault:?}");
    }

    // What proves nothing was created is still retried: one job in the end.
    let fake = fake_prow().await;
    fake.refuse_listing(405);
    fake.inject(
        Route::Create,
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
    );
    let results = tempfile::tempdir().unwrap();
    let out = trigger(&fake, results.path(), &[], &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(fake.requests_to(Route::Create).len(), 2);
    assert_eq!(fake.created_executions().len(), 1);
}

/// A fake Prow whose proxy turns the next two trigger requests away (a 503: nothing created).
async fn fake_prow_refusing_two_triggers() -> FakeProw {
    let fake = fake_prow().await;
    for _ in 0..2 {
        fake.inject(Route::Create, Fault::GatewayHtml { status: 503 });
    }
    fake
}

/// The trigger gave up after sending its request twice, and no job exists.
fn assert_gave_up_after_two_sends(fake: &FakeProw, out: &Run) {
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr.contains("gave up after 2 attempts"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.requests_to(Route::Create).len(), 2);
    assert!(fake.created_executions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_retries_and_retry_delay_set_the_attempts_as_in_provide_prowjob_0_1() {
    let fake = fake_prow_refusing_two_triggers().await;
    let results = tempfile::tempdir().unwrap();
    let out = trigger(
        &fake,
        results.path(),
        &[("MAX_RETRIES", "2"), ("RETRY_DELAY", "1")],
        &[],
    )
    .await;
    assert_gave_up_after_two_sends(&fake, &out);

    // Without MAX_RETRIES (and --retries) the deadline alone bounds the attempts, and rides out
    // the same two refusals.
    let fake = fake_prow_refusing_two_triggers().await;
    let out = trigger(&fake, results.path(), &[("RETRY_DELAY", "1")], &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(fake.requests_to(Route::Create).len(), 3);
    assert_eq!(fake.created_executions().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_retries_counts_the_trigger_request_alone_and_retries_counts_it_otherwise() {
    let results = tempfile::tempdir().unwrap();

    // MAX_RETRIES takes the place of --retries for the trigger request: three sends, one job.
    let fake = fake_prow_refusing_two_triggers().await;
    let env = [("STEPKIT_RETRIES", "0"), ("MAX_RETRIES", "3")];
    let out = trigger(&fake, results.path(), &env, &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(fake.requests_to(Route::Create).len(), 3);
    assert_eq!(fake.created_executions().len(), 1);

    // Without it, --retries counts the trigger request as it counts every request.
    let fake = fake_prow_refusing_two_triggers().await;
    let out = trigger(&fake, results.path(), &[("STEPKIT_RETRIES", "1")], &[]).await;
    assert_gave_up_after_two_sends(&fake, &out);
}

/// A bad value of any flag is exit 2 before anything goes over the network: the fake records no
/// request, an unreachable Gangway (127.0.0.1:1) is never dialled, and no result is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_value_is_refused_before_any_request() {
    let fake = fake_prow().await;
    let cases: [(&str, &str, &str); 5] = [
        ("DECK_URL", "prow.example without a scheme", "Deck URL"),
        ("DECK_URL", "https://user:pw@prow.example", "Deck URL"),
        ("GANGWAY_URL", "ftp://gangway.example", "Gangway URL"),
        (
            "STEPKIT_RELEASE_REPO_URL",
            "raw.example/release",
            "--release-repo-url",
        ),
        ("SNAPSHOT", "{\"components\": \"none\"}", "SNAPSHOT"),
    ];
    for (name, value, named) in cases {
        let results = tempfile::tempdir().unwrap();
        let out = trigger(&fake, results.path(), &[(name, value)], &[]).await;
        assert_eq!(out.code, 2, "{name}={value}: {out:?}");
        assert!(out.stderr.contains(named), "{name}={value}: {}", out.stderr);
        assert!(!out.stderr.contains(":pw@"), "{}", out.stderr);
        assert!(
            fake.requests().is_empty(),
            "{name}={value}: {:?}",
            fake.requests()
        );
        assert!(files_in(results.path()).is_empty(), "{name}={value}");
    }

    // report: a bad Deck URL is refused before Gangway (unreachable here) is asked anything.
    let results = tempfile::tempdir().unwrap();
    let mut command = stepkit();
    command
        .args(["prowjob", "report", "--id", "some-id", "--deck-url", "deck"])
        .env("RESULTS_DIR", results.path())
        .env("GANGWAY_TOKEN", CANARY)
        .env("GANGWAY_URL", "http://127.0.0.1:1");
    let out = tokio::task::spawn_blocking(move || run(&mut command, None))
        .await
        .unwrap();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("Deck URL \"deck\""), "{}", out.stderr);
    assert!(files_in(results.path()).is_empty());
}
