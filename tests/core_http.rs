//! The shared HTTP client against stateful fakes on 127.0.0.1: retries and their limits,
//! rate-limit headers, requests that must not be repeated, error messages and redaction, and a
//! real TLS handshake through the ring crypto provider.

#[path = "support/tls.rs"]
mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use reqwest::Method;
use stepkit::core::error::{exit_code, kind_of, Kind};
use stepkit::core::http::{status_error, HttpClient, HttpConfig, SendError, USER_AGENT};

/// One request as the fake saw it.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    method: String,
    user_agent: Option<String>,
}

type Script = dyn Fn(usize, &HeaderMap) -> Response + Send + Sync;

/// A fake whose answer depends on how many requests it has seen so far.
struct Fake {
    seen: Mutex<Vec<Seen>>,
    script: Box<Script>,
    /// How long to wait before answering (to outlast a client's timeout).
    delay: Duration,
}

impl Fake {
    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn count(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }
}

async fn handle(
    axum::extract::State(fake): axum::extract::State<Arc<Fake>>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> Response {
    let index = {
        let mut seen = fake.seen.lock().expect("lock");
        seen.push(Seen {
            at: Instant::now(),
            method: method.to_string(),
            user_agent: headers
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
        seen.len() - 1
    };
    if !fake.delay.is_zero() {
        tokio::time::sleep(fake.delay).await;
    }
    (fake.script)(index, &headers)
}

/// Serves `script` on 127.0.0.1 with a random port, answering after `delay`.
async fn start_fake_with_delay(
    delay: Duration,
    script: impl Fn(usize, &HeaderMap) -> Response + Send + Sync + 'static,
) -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake {
        seen: Mutex::new(Vec::new()),
        script: Box::new(script),
        delay,
    });
    let app = Router::new().fallback(handle).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let address: SocketAddr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}"), fake)
}

async fn start_fake(
    script: impl Fn(usize, &HeaderMap) -> Response + Send + Sync + 'static,
) -> (String, Arc<Fake>) {
    start_fake_with_delay(Duration::ZERO, script).await
}

fn fast_retries(deadline: Duration) -> HttpConfig {
    HttpConfig {
        deadline,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        ..HttpConfig::default()
    }
}

fn client(config: HttpConfig) -> HttpClient {
    HttpClient::new(config).expect("build the HTTP client")
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).expect("valid status")
}

#[tokio::test]
async fn retries_503_until_the_server_recovers_and_sends_the_stepkit_user_agent() {
    let (base, fake) = start_fake(|index, headers| {
        let agent = headers.get("user-agent").and_then(|v| v.to_str().ok());
        if agent != Some(USER_AGENT) {
            return (
                StatusCode::BAD_REQUEST,
                format!("wrong user agent {agent:?}"),
            )
                .into_response();
        }
        if index < 2 {
            (StatusCode::SERVICE_UNAVAILABLE, "warming up").into_response()
        } else {
            (StatusCode::OK, "ready").into_response()
        }
    })
    .await;
    let http = client(fast_retries(Duration::from_secs(30)));

    let response = http
        .send_idempotent(http.inner().get(format!("{base}/status")))
        .await
        .expect("succeeds after two 503s");

    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "ready");
    let seen = fake.requests();
    assert_eq!(seen.len(), 3, "two failures and one success");
    for request in &seen {
        assert_eq!(request.user_agent.as_deref(), Some(USER_AGENT));
        assert_eq!(
            request.user_agent.as_deref(),
            Some(concat!("stepkit/", env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(request.method, "GET");
    }
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let (base, fake) = start_fake(|index, _| {
        if index == 0 {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                "slow down",
            )
                .into_response()
        } else {
            (StatusCode::OK, "ok").into_response()
        }
    })
    .await;
    // The backoff alone would retry after at most 200ms: only Retry-After explains a 1s gap.
    let http = client(fast_retries(Duration::from_secs(30)));

    let response = http
        .send_idempotent(http.inner().get(format!("{base}/limited")))
        .await
        .expect("succeeds after the wait");

    assert_eq!(response.status(), 200);
    let seen = fake.requests();
    assert_eq!(seen.len(), 2);
    let gap = seen[1].at.duration_since(seen[0].at);
    assert!(
        gap >= Duration::from_millis(900),
        "waited as asked: {gap:?}"
    );
}

#[tokio::test]
async fn a_rate_limit_reset_past_the_deadline_gives_up_at_once() {
    let reset = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        + 3600;
    let (base, fake) = start_fake(move |_, _| {
        (
            StatusCode::FORBIDDEN,
            [
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset", reset.to_string()),
            ],
            "API rate limit exceeded",
        )
            .into_response()
    })
    .await;
    let deadline = Duration::from_secs(20);
    let http = client(fast_retries(deadline));
    let started = Instant::now();

    let error = http
        .send_idempotent(
            http.inner()
                .get(format!("{base}/repos/o/r/issues?per_page=100")),
        )
        .await
        .expect_err("the reset is an hour away");

    assert_eq!(kind_of(&error), Some(Kind::Remote));
    assert_eq!(exit_code(&error), 3);
    let message = format!("{error:#}");
    assert!(message.contains("rate limited until"), "{message}");
    assert!(message.contains("past the retry deadline"), "{message}");
    assert!(message.contains("/repos/o/r/issues"), "{message}");
    assert!(!message.contains("per_page"), "no query string: {message}");
    assert_eq!(fake.count(), 1, "no retry that could not succeed in time");
    assert!(
        started.elapsed() < deadline,
        "it did not sit out the deadline"
    );
}

#[tokio::test]
async fn keeps_retrying_500_until_the_deadline_and_says_how_often_it_tried() {
    let (base, fake) =
        start_fake(|_, _| (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response()).await;
    let http = client(fast_retries(Duration::from_secs(2)));

    let error = http
        .send_idempotent(http.inner().get(format!("{base}/always-broken")))
        .await
        .expect_err("never succeeds");

    assert_eq!(kind_of(&error), Some(Kind::Remote));
    assert_eq!(exit_code(&error), 3);
    let attempts = fake.count();
    assert!(attempts > 1, "retried: {attempts}");
    let message = format!("{error:#}");
    assert!(
        message.contains(&format!("after {attempts} attempts")),
        "{message}"
    );
    assert!(message.contains("500 Internal Server Error"), "{message}");
    assert!(
        message.starts_with(&format!("GET {base}/always-broken")),
        "{message}"
    );
}

#[tokio::test]
async fn a_404_is_returned_without_retry_and_its_error_is_a_refusal_with_the_body_redacted() {
    let canary = "canary-token-CANARY0123456789secret";
    let (base, fake) = start_fake(move |_, _| {
        (
            StatusCode::NOT_FOUND,
            format!("no repository here; token {canary} cannot see it"),
        )
            .into_response()
    })
    .await;
    let http = client(fast_retries(Duration::from_secs(30)));

    let response = http
        .send_idempotent(
            http.inner()
                .get(format!("{base}/repos/o/missing?access_token={canary}")),
        )
        .await
        .expect("a 404 is an answer, not a failure");
    assert_eq!(response.status(), 404);
    assert_eq!(fake.count(), 1, "a 404 is not retried");

    let error = status_error(&Method::GET, response, &[canary]).await;
    assert_eq!(kind_of(&error), Some(Kind::Refused));
    assert_eq!(exit_code(&error), 5);
    let message = format!("{error:#}");
    assert!(
        message.starts_with(&format!(
            "GET {base}/repos/o/missing: 404 Not Found: no repository here"
        )),
        "{message}"
    );
    assert!(message.contains("cannot see it"), "{message}");
    assert!(message.contains("[redacted]"), "{message}");
    assert!(!message.contains(canary), "the canary leaked: {message}");
    assert!(
        !message.contains("CANARY"),
        "part of the canary leaked: {message}"
    );
}

#[tokio::test]
async fn status_errors_map_statuses_to_exit_codes_and_trim_long_bodies() {
    let (base, _fake) = start_fake(|index, _| {
        let code = [401, 403, 410, 429, 502, 400, 422][index % 7];
        (status(code), "x".repeat(5000)).into_response()
    })
    .await;
    let http = client(fast_retries(Duration::from_secs(30)));
    let expected = [
        (401, Kind::Refused),
        (403, Kind::Refused),
        (410, Kind::Refused),
        (429, Kind::Remote),
        (502, Kind::Remote),
        (400, Kind::Usage),
        (422, Kind::Usage),
    ];
    for (code, kind) in expected {
        // Sent with plain reqwest: send_idempotent would retry the 429 and the 502.
        let response = http
            .inner()
            .get(format!("{base}/x"))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), code);
        let error = status_error(&Method::GET, response, &[]).await;
        assert_eq!(kind_of(&error), Some(kind), "{code}");
        let message = error.to_string();
        assert!(
            message.len() < 1300,
            "{code}: body trimmed, {} bytes",
            message.len()
        );
        assert!(message.contains("[...]"), "{code}: says it was trimmed");
    }
}

#[tokio::test]
async fn send_once_never_repeats_a_post_that_timed_out_and_calls_it_ambiguous() {
    let (base, fake) = start_fake_with_delay(Duration::from_secs(5), |_, _| {
        (StatusCode::CREATED, "created").into_response()
    })
    .await;
    let http = client(HttpConfig {
        request_timeout: Duration::from_millis(300),
        ..fast_retries(Duration::from_secs(30))
    });

    let outcome = http
        .send_once(
            http.inner()
                .post(format!("{base}/jobs"))
                .body("{\"job\":\"e2e\"}"),
        )
        .await;

    let error = match outcome {
        Err(error @ SendError::Ambiguous(_)) => error,
        other => panic!("expected an ambiguous failure, got {other:?}"),
    };
    assert!(error.is_ambiguous());
    let message = error.to_string();
    assert!(message.contains("may have reached the server"), "{message}");
    assert!(message.contains("/jobs"), "{message}");
    // Let a (wrong) second attempt arrive if there were one.
    let waited = Instant::now();
    while fake.count() == 0 && waited.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = fake.requests();
    assert_eq!(seen.len(), 1, "the POST was sent exactly once");
    assert_eq!(seen[0].method, "POST");
    let remote = error.into_remote_error();
    assert_eq!(exit_code(&remote), 3);
}

#[tokio::test]
async fn send_once_to_a_closed_port_is_not_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    let http = client(HttpConfig::default());

    let outcome = http
        .send_once(
            http.inner()
                .post(format!("http://127.0.0.1:{port}/jobs?token=abc")),
        )
        .await;

    let error = match outcome {
        Err(error @ SendError::NotSent(_)) => error,
        other => panic!("expected NotSent, got {other:?}"),
    };
    assert!(!error.is_ambiguous());
    let message = error.to_string();
    assert!(message.contains("was not sent"), "{message}");
    assert!(!message.contains("token=abc"), "no query string: {message}");
}

#[tokio::test]
async fn a_real_tls_handshake_succeeds_with_the_extra_root_and_fails_without_it() {
    let server = tls::start().await;
    let url = format!("{}/health", server.base_url);

    let trusting = client(HttpConfig {
        extra_root_certs_pem: vec![server.cert_pem.clone().into_bytes()],
        ..fast_retries(Duration::from_secs(10))
    });
    let response = trusting
        .send_idempotent(trusting.inner().get(&url))
        .await
        .expect("the extra root makes the self-signed certificate trusted");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), tls::BODY);
    assert_eq!(server.handshakes(), 1);

    let connections_before = server.connections();
    let untrusting = client(fast_retries(Duration::from_secs(10)));
    let error = untrusting
        .send_idempotent(untrusting.inner().get(&url))
        .await
        .expect_err("a self-signed certificate is not trusted by default");
    let message = format!("{error:#}");
    assert!(message.to_lowercase().contains("certificate"), "{message}");
    assert_eq!(kind_of(&error), Some(Kind::Remote));
    assert_eq!(
        server.handshakes(),
        1,
        "no handshake completed without the root"
    );
    assert_eq!(
        server.connections() - connections_before,
        1,
        "an untrusted certificate is not retried"
    );
}

#[test]
fn a_bundle_that_is_not_pem_is_bad_input() {
    let error = HttpClient::new(HttpConfig {
        extra_root_certs_pem: vec![b"not a certificate".to_vec()],
        ..HttpConfig::default()
    })
    .expect_err("rejected");
    assert_eq!(kind_of(&error), Some(Kind::Usage));
    assert!(
        error.to_string().contains("CA certificate bundle"),
        "{error}"
    );
}
