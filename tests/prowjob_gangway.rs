//! The Gangway and Deck clients against the fake Prow on 127.0.0.1: the request body, checks
//! made before sending, how each refusal maps to an exit code, retries that never create a
//! second job, recovery of a job whose answer was lost, status reading in every wire shape, and
//! that neither the token nor the envs reach an error or a log line.

#[path = "support/gangway.rs"]
mod gangway_fake;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gangway_fake::{
    Auth, FakeProw, Fault, JobDef, Rejection, Route, Script, Step, WireStyle, VALID_TOKEN,
};
use serde_json::json;
use stepkit::core::error::exit_code;
use stepkit::core::http::{HttpClient, HttpConfig};
use stepkit::core::secret::Secret;
use stepkit::prowjob::gangway::{
    history_url, CreateRequest, DeckClient, GangwayClient, JobExecutionType, JobStatus, Pull, Refs,
};

const JOB: &str = "periodic-ci-org-repo-main-konflux-e2e";
/// A token that must never be shown, whatever happens.
const CANARY: &str = "sha256~CANARYcanaryCANARY0123456789";
/// An env value standing in for a config that must never be logged.
const SECRET_ISH_ENV: &str = "UNRESOLVED-CONFIG-CANARY-0f9e8d";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn http_config() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(400),
        deadline: Duration::from_secs(10),
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..HttpConfig::default()
    }
}

fn gangway_with(fake: &FakeProw, token: &str) -> GangwayClient {
    let http = HttpClient::new(http_config()).expect("HTTP client");
    GangwayClient::new(http, &fake.url(), Secret::new(token)).expect("Gangway client")
}

fn gangway(fake: &FakeProw) -> GangwayClient {
    gangway_with(fake, VALID_TOKEN)
}

fn deck(fake: &FakeProw) -> DeckClient {
    let http = HttpClient::new(http_config()).expect("HTTP client");
    DeckClient::new(http, &fake.url()).expect("Deck client")
}

fn request(job: &str) -> CreateRequest {
    CreateRequest {
        job_name: job.into(),
        job_type: JobExecutionType::Periodic,
        envs: BTreeMap::from([("UNRESOLVED_CONFIG".into(), SECRET_ISH_ENV.into())]),
        labels: BTreeMap::new(),
        annotations: BTreeMap::from([("ci.openshift.io/konflux-repo".into(), "org/repo".into())]),
        refs: None,
    }
}

async fn fake_with_job() -> FakeProw {
    let fake = FakeProw::start().await;
    fake.add_periodic(JOB);
    fake
}

/// Everything logged while the guard lives on this thread (tests run on one thread).
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn capture_logs() -> (tracing::subscriber::DefaultGuard, LogBuffer) {
    let buffer = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buffer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    (tracing::subscriber::set_default(subscriber), buffer)
}

fn assert_nothing_leaks(text: &str) {
    for secret in [CANARY, VALID_TOKEN, SECRET_ISH_ENV] {
        assert!(!text.contains(secret), "{secret} leaked into:\n{text}");
    }
}

#[tokio::test]
async fn create_sends_the_documented_body_once_and_logs_no_body() {
    let fake = fake_with_job().await;
    let (_guard, logs) = capture_logs();

    let execution = gangway(&fake).create(&request(JOB)).await.expect("created");

    assert!(!execution.id.is_empty());
    assert_eq!(execution.job_name, JOB);
    assert_eq!(execution.status, JobStatus::Triggered);
    let bodies = fake.create_bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        bodies[0],
        json!({
            "job_name": JOB,
            "job_execution_type": "1",
            "pod_spec_options": {
                "envs": {"UNRESOLVED_CONFIG": SECRET_ISH_ENV},
                "annotations": {"ci.openshift.io/konflux-repo": "org/repo"},
            },
        })
    );
    let routes: Vec<(Route, Auth)> = fake
        .requests()
        .iter()
        .map(|request| (request.route, request.auth))
        .collect();
    assert_eq!(
        routes,
        [(Route::List, Auth::Valid), (Route::Create, Auth::Valid)],
        "existing runs are listed before the one POST"
    );
    assert_eq!(fake.created_executions().len(), 1);
    let logged = logs.text();
    assert!(
        logged.contains(&execution.id),
        "the id is logged:\n{logged}"
    );
    assert_nothing_leaks(&logged);
}

#[tokio::test]
async fn a_presubmit_sends_its_refs() {
    let fake = FakeProw::start().await;
    fake.add_job(JobDef::presubmit("pull-ci-org-repo-main-e2e", "org/repo"));
    let mut presubmit = request("pull-ci-org-repo-main-e2e");
    presubmit.job_type = JobExecutionType::Presubmit;
    presubmit.refs = Some(Refs {
        org: "org".into(),
        repo: "repo".into(),
        base_ref: "main".into(),
        base_sha: SHA.into(),
        pulls: vec![Pull {
            number: 12,
            sha: SHA.into(),
            author: None,
        }],
    });

    gangway(&fake).create(&presubmit).await.expect("created");

    let body = &fake.create_bodies()[0];
    assert_eq!(body["job_execution_type"], "3");
    assert_eq!(
        body["refs"],
        json!({"org": "org", "repo": "repo", "base_ref": "main", "base_sha": SHA,
               "pulls": [{"number": 12, "sha": SHA}]})
    );
}

#[tokio::test]
async fn invalid_requests_are_refused_before_anything_is_sent() {
    let fake = fake_with_job().await;
    let mut empty_env = request(JOB);
    empty_env.envs.insert("EMPTY".into(), String::new());
    let mut periodic_with_refs = request(JOB);
    periodic_with_refs.refs = Some(Refs {
        org: "o".into(),
        repo: "r".into(),
        base_ref: "main".into(),
        base_sha: SHA.into(),
        pulls: Vec::new(),
    });
    let mut bad_label = request(JOB);
    bad_label.labels.insert("team".into(), "not valid!".into());

    for (bad, expected) in [
        (empty_env, "envs.EMPTY is empty"),
        (periodic_with_refs, "periodic jobs cannot also have gitRefs"),
        (bad_label, "pod_spec_options.labels.team"),
        (request(""), "job_name is empty"),
    ] {
        let error = gangway(&fake).create(&bad).await.expect_err("invalid");
        assert_eq!(exit_code(&error), 2, "{error:#}");
        assert!(format!("{error:#}").contains(expected), "{error:#}");
    }
    assert!(fake.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_400_from_gangway_is_bad_input_with_its_message_redacted() {
    let fake = fake_with_job().await;
    fake.inject(
        Route::Create,
        Fault::GangwayError {
            status: 400,
            code: 3,
            message: format!("invalid label: token {VALID_TOKEN} is not a label"),
        },
    );

    let error = gangway(&fake)
        .create(&request(JOB))
        .await
        .expect_err("rejected");

    let text = format!("{error:#}");
    assert_eq!(exit_code(&error), 2, "{text}");
    assert!(text.contains("invalid label: token [redacted]"), "{text}");
    assert!(text.contains("HTTP 400"), "{text}");
    assert_nothing_leaks(&text);
    assert_eq!(fake.create_bodies().len(), 1, "not retried");
}

#[tokio::test]
async fn an_expired_token_is_refused_with_a_hint_and_never_shown() {
    for rejection in [Rejection::Html403, Rejection::LoginRedirect] {
        let fake = fake_with_job().await;
        fake.set_rejection(rejection);
        let (_guard, logs) = capture_logs();

        let error = gangway_with(&fake, CANARY)
            .create(&request(JOB))
            .await
            .expect_err("refused");

        let text = format!("{error:#}");
        assert_eq!(exit_code(&error), 5, "{rejection:?}: {text}");
        assert!(
            text.contains("token expired or not allowed to trigger this job"),
            "{text}"
        );
        assert!(text.contains(JOB), "{text}");
        assert!(text.contains("oauth-proxy login page"), "{text}");
        assert_nothing_leaks(&text);
        assert_nothing_leaks(&logs.text());
        // A login redirect on the list already says the token is refused. A 403 there may be
        // a rule on listing alone, so the request goes out once and is refused in turn.
        let posts = fake.requests_to(Route::Create);
        let expected_posts = usize::from(rejection == Rejection::Html403);
        assert_eq!(posts.len(), expected_posts, "{rejection:?}");
        assert!(posts.iter().all(|request| request.auth == Auth::Rejected));
        assert!(fake.created_executions().is_empty());
        assert!(fake
            .requests_to(Route::List)
            .iter()
            .all(|request| request.auth == Auth::Rejected));
    }
}

#[tokio::test]
async fn an_unknown_job_is_refused_naming_openshift_release() {
    for error_bodies in [true, false] {
        let fake = FakeProw::start().await;
        fake.set_error_bodies(error_bodies);

        let error = gangway(&fake)
            .create(&request("periodic-ci-no-such-job"))
            .await
            .expect_err("unknown job");

        let text = format!("{error:#}");
        assert_eq!(exit_code(&error), 5, "{text}");
        assert!(
            text.contains("failed to find associated periodic job \"periodic-ci-no-such-job\""),
            "bodies {error_bodies}: {text}"
        );
        assert!(text.contains("openshift/release"), "{text}");
        assert_eq!(fake.create_bodies().len(), 1, "not retried");
        assert!(fake.executions().is_empty());
    }
}

#[tokio::test]
async fn a_job_of_another_tenant_is_refused() {
    let fake = FakeProw::start().await;
    fake.add_job(JobDef::periodic(JOB).other_tenant());

    let error = gangway(&fake)
        .create(&request(JOB))
        .await
        .expect_err("not our tenant");

    let text = format!("{error:#}");
    assert_eq!(exit_code(&error), 5, "{text}");
    assert!(
        text.contains("client is not authorized to execute the given job"),
        "{text}"
    );
    assert!(text.contains("HTTP 403"), "{text}");
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_one_job_is_created() {
    let fake = fake_with_job().await;
    fake.inject(
        Route::Create,
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
    );
    let started = Instant::now();

    let execution = gangway(&fake).create(&request(JOB)).await.expect("created");

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(fake.create_bodies().len(), 2);
    let created = fake.created_executions();
    assert_eq!(created.len(), 1, "exactly one job");
    assert_eq!(created[0].id, execution.id);
}

#[tokio::test]
async fn a_proxy_error_page_is_retried_and_one_job_is_created() {
    for status in [502, 503, 504] {
        let fake = fake_with_job().await;
        fake.inject(Route::Create, Fault::GatewayHtml { status });
        let (_guard, logs) = capture_logs();

        let execution = gangway(&fake).create(&request(JOB)).await.expect("created");

        assert_eq!(fake.create_bodies().len(), 2, "HTTP {status}");
        let created = fake.created_executions();
        assert_eq!(created.len(), 1, "HTTP {status}: exactly one job");
        assert_eq!(created[0].id, execution.id);
        assert_nothing_leaks(&logs.text());
    }
}

#[tokio::test]
async fn a_connection_dropped_before_anything_happened_is_retried_after_looking() {
    let fake = fake_with_job().await;
    fake.inject(Route::Create, Fault::ConnectionReset);

    let execution = gangway(&fake).create(&request(JOB)).await.expect("created");

    assert_eq!(fake.create_bodies().len(), 2);
    assert_eq!(fake.created_executions().len(), 1);
    assert_eq!(fake.created_executions()[0].id, execution.id);
    let lists = fake.requests_to(Route::List).len();
    assert!(
        lists >= 2,
        "looked for a created job before re-sending ({lists} lists)"
    );
}

#[tokio::test]
async fn an_answer_lost_after_the_job_was_created_is_recovered_without_a_second_post() {
    let lost_answers = [
        Fault::SlowResponse(Duration::from_secs(2)),
        Fault::HandledThenReset,
        Fault::TruncatedBody,
    ];
    for fault in lost_answers {
        let fake = fake_with_job().await;
        // Runs from before our request must not be mistaken for ours.
        let older = fake.trigger_foreign(JOB);
        fake.inject(Route::Create, fault.clone());
        let (_guard, logs) = capture_logs();

        let execution = gangway(&fake)
            .create(&request(JOB))
            .await
            .unwrap_or_else(|error| panic!("{fault:?}: {error:#}"));

        assert_eq!(fake.create_bodies().len(), 1, "{fault:?}: one POST");
        let created = fake.created_executions();
        assert_eq!(
            created.len(),
            1,
            "{fault:?}: the fake holds exactly one job"
        );
        assert_eq!(execution.id, created[0].id, "{fault:?}");
        assert_ne!(execution.id, older);
        assert_eq!(execution.job_name, JOB);
        assert_nothing_leaks(&logs.text());
    }
}

#[tokio::test]
async fn runs_triggered_by_someone_else_meanwhile_stop_the_retry() {
    let fake = fake_with_job().await;
    fake.inject(
        Route::Create,
        Fault::ForeignTriggers {
            count: 2,
            then: Box::new(Fault::HandledThenReset),
        },
    );

    let error = gangway(&fake)
        .create(&request(JOB))
        .await
        .expect_err("ambiguous");

    let text = format!("{error:#}");
    assert_eq!(exit_code(&error), 3, "{text}");
    assert!(
        text.contains("someone else triggered the same job"),
        "{text}"
    );
    for execution in fake.executions() {
        assert!(
            text.contains(&execution.id),
            "{} listed: {text}",
            execution.id
        );
    }
    assert_eq!(fake.create_bodies().len(), 1, "not retried");
    assert_eq!(fake.executions().len(), 3, "ours and the two foreign runs");
}

#[tokio::test]
async fn an_empty_success_answer_is_not_retried_blindly() {
    let fake = fake_with_job().await;
    fake.inject(Route::Create, Fault::EmptyOk);

    let error = gangway(&fake)
        .create(&request(JOB))
        .await
        .expect_err("no id");

    let text = format!("{error:#}");
    assert_eq!(exit_code(&error), 3, "{text}");
    assert!(text.contains("empty body"), "{text}");
    assert_eq!(fake.create_bodies().len(), 1);
    assert!(fake.executions().is_empty());
}

#[tokio::test]
async fn retries_stop_after_the_attempt_limit() {
    let fake = fake_with_job().await;
    for _ in 0..10 {
        fake.inject(Route::Create, Fault::GatewayHtml { status: 503 });
    }

    let http = HttpClient::new(HttpConfig {
        retries: Some(4),
        ..http_config()
    })
    .expect("HTTP client");
    let error = GangwayClient::new(http, &fake.url(), Secret::new(VALID_TOKEN))
        .expect("Gangway client")
        .create(&request(JOB))
        .await
        .expect_err("gives up");

    let text = format!("{error:#}");
    assert_eq!(exit_code(&error), 3, "{text}");
    assert!(text.contains("gave up after 5 attempts"), "{text}");
    assert!(
        !text.contains("<html"),
        "no HTML page in the message: {text}"
    );
    assert_eq!(fake.create_bodies().len(), 5);
    assert!(fake.executions().is_empty());
}

#[tokio::test]
async fn a_500_from_gangway_is_looked_into_before_retrying() {
    let fake = fake_with_job().await;
    fake.inject(
        Route::Create,
        Fault::GangwayError {
            status: 500,
            code: 2,
            message: "etcdserver: request timed out".into(),
        },
    );

    let execution = gangway(&fake).create(&request(JOB)).await.expect("created");

    assert_eq!(fake.create_bodies().len(), 2);
    assert_eq!(fake.created_executions().len(), 1);
    assert_eq!(fake.created_executions()[0].id, execution.id);
    let routes: Vec<Route> = fake.requests().iter().map(|r| r.route).collect();
    assert_eq!(
        routes[..3],
        [Route::List, Route::Create, Route::List],
        "listed again right after the 500"
    );
}

#[tokio::test]
async fn get_follows_the_scripted_states_and_picks_up_the_url() {
    let fake = fake_with_job().await;
    fake.script_next(Script::new([
        Step::Scheduling,
        Step::Triggered,
        Step::Pending,
        Step::Success,
    ]));
    let client = gangway(&fake);
    let id = client.create(&request(JOB)).await.expect("created").id;

    let mut seen = Vec::new();
    for _ in 0..5 {
        let execution = client.get(&id).await.expect("read").expect("exists");
        assert_eq!(execution.id, id);
        assert_eq!(execution.job_name, JOB);
        seen.push((execution.status.clone(), execution.job_url.is_some()));
    }
    assert_eq!(
        seen,
        [
            (JobStatus::Scheduling, false),
            (JobStatus::Triggered, false),
            (JobStatus::Pending, true),
            (JobStatus::Success, true),
            (JobStatus::Success, true),
        ]
    );
    assert!(seen.last().is_some_and(|(status, _)| status.is_terminal()));
}

#[tokio::test]
async fn a_vanished_or_unknown_job_reads_as_none() {
    for error_bodies in [true, false] {
        let fake = fake_with_job().await;
        fake.set_error_bodies(error_bodies);
        fake.script_next(Script::vanishing());
        let client = gangway(&fake);
        let id = client.create(&request(JOB)).await.expect("created").id;

        let first = client.get(&id).await.expect("read");
        assert_eq!(first.map(|e| e.status), Some(JobStatus::Triggered));
        assert_eq!(client.get(&id).await.expect("read"), None, "vanished");
        assert_eq!(
            client.get("no-such-id").await.expect("read"),
            None,
            "never existed"
        );
        assert_eq!(
            fake.requests_to(Route::Get).len(),
            3,
            "a not-found 500 is not retried"
        );
    }
}

#[tokio::test]
async fn get_retries_proxy_errors_and_refuses_a_bad_token() {
    let fake = fake_with_job().await;
    let client = gangway(&fake);
    let id = client.create(&request(JOB)).await.expect("created").id;
    fake.inject(Route::Get, Fault::GatewayHtml { status: 503 });
    fake.inject(
        Route::Get,
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
    );

    let execution = client.get(&id).await.expect("read").expect("exists");
    assert_eq!(execution.status, JobStatus::Triggered);
    assert_eq!(fake.requests_to(Route::Get).len(), 3);

    let error = gangway_with(&fake, CANARY)
        .get(&id)
        .await
        .expect_err("refused");
    let text = format!("{error:#}");
    assert_eq!(exit_code(&error), 5, "{text}");
    assert!(text.contains("token expired or not allowed"), "{text}");
    assert_nothing_leaks(&text);
}

#[tokio::test]
async fn camel_case_and_numeric_answers_are_understood() {
    let fake = fake_with_job().await;
    fake.set_wire_style(WireStyle::CamelCaseNumbers);
    fake.script_next(Script::new([Step::Pending, Step::Failure]));
    let client = gangway(&fake);

    assert!(client.list(JOB).await.expect("empty list").is_empty());
    let created = client.create(&request(JOB)).await.expect("created");
    assert_eq!(created.status, JobStatus::Triggered);
    assert_eq!(created.job_name, JOB);

    let pending = client
        .get(&created.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(pending.status, JobStatus::Pending);
    assert!(pending.job_url.is_some());
    let failed = client
        .get(&created.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(failed.status, JobStatus::Failure);
    assert!(failed.status.is_terminal());

    let listed = client.list(JOB).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, created.id);
    assert_eq!(listed[0].status, JobStatus::Failure);
}

#[tokio::test]
async fn an_unknown_future_status_is_kept_and_not_terminal() {
    let fake = fake_with_job().await;
    fake.script_next(Script::new([Step::Unknown("QUEUED".into()), Step::Success]));
    let client = gangway(&fake);
    let id = client.create(&request(JOB)).await.expect("created").id;

    let queued = client.get(&id).await.expect("read").expect("exists");
    assert_eq!(queued.status, JobStatus::Unknown("QUEUED".into()));
    assert!(!queued.status.is_terminal());
    assert_eq!(queued.status.as_str(), "QUEUED");
    let done = client.get(&id).await.expect("read").expect("exists");
    assert_eq!(done.status, JobStatus::Success);
}

#[tokio::test]
async fn deck_serves_the_prowjob_yaml_with_url_and_build_id() {
    for multi_document in [false, true] {
        let fake = FakeProw::start().await;
        fake.add_job(JobDef::periodic(JOB).with_env("CONFIG_SPEC", "kept"));
        fake.set_deck_multi_document(multi_document);
        fake.script_next(Script::new([Step::Pending, Step::Success]));
        let client = gangway(&fake);
        let deck = deck(&fake);
        let id = client.create(&request(JOB)).await.expect("created").id;

        let before = deck.prowjob(&id).await.expect("read").expect("exists");
        assert_eq!(before.state.as_deref(), Some("triggered"));
        assert_eq!(before.url, None);
        assert_eq!(before.build_id, None);

        let pending = client.get(&id).await.expect("read").expect("exists");
        let job = deck.prowjob(&id).await.expect("read").expect("exists");
        assert_eq!(job.state.as_deref(), Some("pending"));
        assert_eq!(job.job.as_deref(), Some(JOB));
        let build_id = job.build_id.clone().expect("build id once pending");
        assert!(build_id.bytes().all(|b| b.is_ascii_digit()), "{build_id}");
        let url = job.url.clone().expect("url once pending");
        assert!(url.ends_with(&format!("/logs/{JOB}/{build_id}")), "{url}");
        assert_eq!(pending.job_url.as_deref(), Some(url.as_str()));
        assert_eq!(
            job.env_names,
            ["CONFIG_SPEC".to_owned(), "UNRESOLVED_CONFIG".to_owned()]
        );

        assert_eq!(deck.prowjob("no-such-id").await.expect("read"), None);
        assert!(fake
            .requests_to(Route::Deck)
            .iter()
            .all(|request| request.auth == Auth::Missing));
    }
}

#[tokio::test]
async fn history_urls_point_at_deck() {
    let fake = FakeProw::start().await;
    assert_eq!(
        history_url(&format!("{}/", fake.url()), "periodic-ci-a b"),
        format!("{}/?job=periodic-ci-a%20b", fake.url())
    );
}

/// The fake itself follows upstream Gangway: job types in every spelling, validation messages
/// verbatim, the job name from the path, and the other services it stands in for.
#[tokio::test]
async fn the_fake_behaves_like_gangway_deck_github_and_the_resolver() {
    let fake = fake_with_job().await;
    let client = HttpClient::new(http_config()).expect("HTTP client");
    let http = client.inner();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{}{path}", fake.url()))
            .bearer_auth(VALID_TOKEN)
            .json(&body)
            .send()
    };

    for job_type in [json!("1"), json!(1), json!("PERIODIC")] {
        let response = post(
            "/v1/executions",
            json!({"job_name": JOB, "job_execution_type": job_type}),
        )
        .await
        .expect("answer");
        assert_eq!(response.status(), 200, "{job_type}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["job_status"], "TRIGGERED");
        assert_eq!(body["job_type"], "PERIODIC");
    }
    let response = post("/v1/executions/", json!({"job_execution_type": "1"}))
        .await
        .expect("answer");
    assert_eq!(response.status(), 400, "no job name in the path or body");

    let response = post(
        &format!("/v1/executions/{JOB}"),
        json!({"job_execution_type": "1", "pod_spec_options": {"envs": {"A": "b"}}}),
    )
    .await
    .expect("answer");
    assert_eq!(response.status(), 200, "job name from the path");
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["pod_spec_options"]["envs"]["A"], "b", "options echoed");

    let cases = [
        (
            json!({"job_name": "", "job_execution_type": "1"}),
            400,
            "job_name field cannot be empty",
        ),
        (
            json!({"job_name": JOB}),
            400,
            "unsupported JobExecutionType: JOB_EXECUTION_TYPE_UNSPECIFIED",
        ),
        (
            json!({"job_name": JOB, "job_execution_type": "1", "refs": {"org": "o"}}),
            400,
            "periodic jobs cannot also have gitRefs",
        ),
        (
            json!({"job_name": JOB, "job_execution_type": "3"}),
            400,
            "gitRefs must be defined for \"PRESUBMIT\"",
        ),
        (
            json!({"job_name": JOB, "job_execution_type": "2",
                   "refs": {"org": "o", "repo": "r", "base_ref": "main", "base_sha": "x",
                            "pulls": [{"number": 1, "sha": "ABC"}]}}),
            400,
            "gitRefs: failed to validate: pull: invalid SHA: \"ABC\"",
        ),
        (
            json!({"job_name": JOB, "job_execution_type": "1",
                   "pod_spec_options": {"envs": {"K": ""}}}),
            400,
            "invalid environment variable key/value pair: \"K\", \"\"",
        ),
        (
            json!({"job_name": JOB, "job_execution_type": "1",
                   "pod_spec_options": {"labels": {"k": "no spaces"}}}),
            400,
            "invalid label: the following errors found",
        ),
        (
            json!({"job_name": JOB, "job_execution_type": "4", "refs": {"org": "o", "repo": "r",
                   "base_ref": "main", "base_sha": "x"}}),
            500,
            "unsupported JobExecutionType type: BATCH",
        ),
        (
            json!({"job_name": "nope", "job_execution_type": "1"}),
            500,
            "failed to find associated periodic job \"nope\"",
        ),
    ];
    for (body, status, message) in cases {
        let response = post("/v1/executions", body.clone()).await.expect("answer");
        assert_eq!(response.status(), status, "{body}");
        let error: serde_json::Value = response.json().await.expect("JSON error");
        let text = error["message"].as_str().unwrap_or_default();
        assert!(text.starts_with(message), "{body}: {text}");
    }

    let unauthorized = http
        .get(format!("{}/v1/executions?job_name={JOB}", fake.url()))
        .send()
        .await
        .expect("answer");
    assert_eq!(unauthorized.status(), 403);
    assert!(unauthorized.text().await.expect("page").contains("<html"));

    let listed = http
        .get(format!(
            "{}/v1/executions?job_name={JOB}&status=TRIGGERED",
            fake.url()
        ))
        .bearer_auth(VALID_TOKEN)
        .send()
        .await
        .expect("answer");
    let listed: serde_json::Value = listed.json().await.expect("JSON");
    assert_eq!(listed["job_execution"].as_array().map(Vec::len), Some(4));

    fake.add_ci_operator_config("main", "org", "repo", "org-repo-main.yaml", "tests: []\n");
    let config = http
        .get(format!(
            "{}/main/ci-operator/config/org/repo/org-repo-main.yaml",
            fake.url()
        ))
        .send()
        .await
        .expect("answer");
    assert_eq!(config.status(), 200);
    assert_eq!(config.text().await.expect("text"), "tests: []\n");
    let missing = http
        .get(format!(
            "{}/main/ci-operator/config/org/repo/other.yaml",
            fake.url()
        ))
        .send()
        .await
        .expect("answer");
    assert_eq!(missing.status(), 404);

    let resolved = http
        .post(format!("{}/resolve", fake.url()))
        .json(&json!({"tests": []}))
        .send()
        .await
        .expect("answer");
    assert_eq!(resolved.status(), 200);
    fake.set_resolver(gangway_fake::Resolver::Reject(
        "invalid configuration".into(),
    ));
    let rejected = http
        .post(format!("{}/resolve", fake.url()))
        .json(&json!({"tests": []}))
        .send()
        .await
        .expect("answer");
    assert_eq!(rejected.status(), 400);
    assert_eq!(
        rejected.text().await.expect("text"),
        "invalid configuration"
    );
}
