//! One request at a time to GitHub, through octocrab and the retry loop of `core::retry`.
//!
//! A GET is retried on 5xx and transport errors, and waits out rate limits, within the
//! client's retry policy (`--retries`, `--retry-deadline`, and the deadline of the wait it is
//! part of). A POST or PATCH is sent once, spaced from the previous one; only a rate-limit
//! refusal is sent again, since GitHub gives it before doing anything.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, ETAG, IF_NONE_MATCH, RETRY_AFTER, USER_AGENT,
};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use tokio::time::Instant;

use super::classify::{
    error_chain_text, is_transient, never_sent, rate_limit_wait, server_now, status_summary,
    untrusted_certificate, GitHubErrorBody,
};
use super::{GitHub, API_VERSION};
use crate::core::error::Kind;
use crate::core::http::{parse_retry_after, request_label};
use crate::core::progress::human_duration;
use crate::core::retry::{retry, RetryPolicy, Retryable, ServerWait, Step};

const MEDIA_TYPE: &str = "application/vnd.github+json";
const API_VERSION_HEADER: &str = "x-github-api-version";

/// One answer, read whole.
pub(super) struct Answer {
    pub label: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: impl reqwest::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn etag(&self) -> Option<String> {
        self.header(ETAG).map(str::to_owned)
    }

    pub fn github_error(&self) -> GitHubErrorBody {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

/// No answer to one attempt.
pub(super) struct TransportFailure {
    /// Whether the request may have reached the server (and taken effect).
    pub maybe_sent: bool,
    /// Whether another attempt can help (an untrusted certificate stays untrusted).
    pub retryable: bool,
    pub text: String,
}

/// Why a POST or PATCH has no usable answer.
pub(super) enum MutationFailure {
    /// GitHub did not act on it: nothing was sent, or a rate limit outlasted the deadline.
    NotDone(anyhow::Error),
    /// It may have taken effect: a timeout, a dropped connection, a 5xx.
    MaybeDone(anyhow::Error),
}

impl GitHub {
    /// The retry policy of this client, ending by the deadline of the wait it serves, if any.
    fn policy(&self) -> RetryPolicy {
        let overall = *self
            .overall_deadline
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        self.retry.ending_by(overall)
    }

    /// From now on, every call ends by `deadline` at the latest: a request in flight then is
    /// abandoned (exit 4). `None` lifts it.
    pub fn end_by(&self, deadline: Option<Instant>) {
        *self
            .overall_deadline
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = deadline;
    }

    /// A GET through the retry loop: 5xx and transport errors retried, rate limits waited out.
    /// Any other answer is returned for the caller to judge.
    pub(super) async fn get(
        &self,
        url: &Url,
        if_none_match: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let label = request_label(&Method::GET, url);
        let advice = "GitHub, or the network to it, may be having trouble: try again later";
        let label = &label;
        retry(&self.policy(), label, advice, |attempt| async move {
            let sent = self
                .send(&Method::GET, url, if_none_match, None, attempt.time_left)
                .await;
            match sent {
                Ok(answer) => {
                    if let Some(wait) = self.rate_limited(&answer, attempt.server_waits) {
                        return Step::Retry(wait);
                    }
                    if !is_transient(answer.status) {
                        return Step::Done(answer);
                    }
                    let server_wait = answer
                        .header(RETRY_AFTER)
                        .and_then(|value| parse_retry_after(value, server_now(&answer)))
                        .map(|wait| ServerWait {
                            wait,
                            until: SystemTime::now() + wait,
                            rate_limited: false,
                        });
                    Step::Retry(Retryable::new(status_summary(&answer)).waiting(server_wait))
                }
                Err(failure) if !failure.retryable => {
                    Step::Fail(self.error(Kind::Remote, format!("{label}: {}", failure.text)))
                }
                Err(failure) => Step::Retry(Retryable::new(failure.text)),
            }
        })
        .await
    }

    /// A POST or PATCH whose failure the caller resolves by reading again: both kinds of
    /// failure are plain errors, the ambiguous one saying so.
    pub(super) async fn mutate_once(
        &self,
        method: Method,
        url: &Url,
        payload: &Value,
    ) -> anyhow::Result<Answer> {
        match self.mutate(method, url, payload).await {
            Ok(answer) => Ok(answer),
            Err(MutationFailure::NotDone(error)) | Err(MutationFailure::MaybeDone(error)) => {
                Err(error)
            }
        }
    }

    /// Sends a POST or PATCH once, spaced from the previous one. Only a rate-limit refusal
    /// (GitHub did nothing) is sent again, within the deadlines.
    pub(super) async fn mutate(
        &self,
        method: Method,
        url: &Url,
        payload: &Value,
    ) -> Result<Answer, MutationFailure> {
        let label = request_label(&method, url);
        // Whether a request was on its way when the retry loop stopped waiting for it.
        let in_flight = AtomicBool::new(false);
        let policy = RetryPolicy {
            // Failures are judged here, not retried: only rate limits (server waits) repeat.
            retries: Some(0),
            ..self.policy()
        };
        let (label, method, in_flight) = (&label, &method, &in_flight);
        let outcome = retry(&policy, label, "", |attempt| async move {
            let sent = {
                let mut last = self.last_mutation.lock().await;
                if let Some(previous) = *last {
                    tokio::time::sleep_until(previous + self.mutation_spacing).await;
                }
                in_flight.store(true, Ordering::SeqCst);
                let sent = self
                    .send(method, url, None, Some(payload), attempt.time_left)
                    .await;
                in_flight.store(false, Ordering::SeqCst);
                *last = Some(Instant::now());
                sent
            };
            Step::Done(match sent {
                Ok(answer) => {
                    if let Some(wait) = self.rate_limited(&answer, attempt.server_waits) {
                        return Step::Retry(wait);
                    }
                    if answer.status.is_server_error() {
                        Err(MutationFailure::MaybeDone(self.error(
                            Kind::Remote,
                            format!("{label}: {}; it may have taken effect all the same (read it back before repeating it)", status_summary(&answer)),
                        )))
                    } else {
                        Ok(answer)
                    }
                }
                Err(failure) if failure.maybe_sent => Err(MutationFailure::MaybeDone(self.error(
                    Kind::Remote,
                    format!("{label}: {}; the request may have reached GitHub and taken effect (read it back before repeating it)", failure.text),
                ))),
                Err(failure) => Err(MutationFailure::NotDone(self.error(
                    Kind::Remote,
                    format!("{label}: {} (the request was not sent)", failure.text),
                ))),
            })
        })
        .await;
        match outcome {
            Ok(done) => done,
            // The loop stopped with a request in flight: it may have landed.
            Err(error) if in_flight.load(Ordering::SeqCst) => Err(MutationFailure::MaybeDone(
                error.context("the request may have reached GitHub and taken effect (read it back before repeating it)"),
            )),
            Err(error) => Err(MutationFailure::NotDone(error)),
        }
    }

    /// The wait a rate-limited answer asks for, as a retry the loop waits out.
    fn rate_limited(&self, answer: &Answer, previous_waits: u32) -> Option<Retryable> {
        let limit = rate_limit_wait(answer, previous_waits, SystemTime::now())?;
        let problem = format!(
            "rate limited by GitHub ({}): {}",
            limit.reason,
            status_summary(answer)
        );
        Some(Retryable::new(problem).waiting(Some(ServerWait {
            wait: limit.wait,
            until: SystemTime::now() + limit.wait,
            rate_limited: true,
        })))
    }

    /// One attempt: the request through octocrab, the whole answer read within `timeout` (the
    /// request timeout when the retry loop gives none).
    async fn send(
        &self,
        method: &Method,
        url: &Url,
        if_none_match: Option<&str>,
        payload: Option<&Value>,
        timeout: Option<Duration>,
    ) -> Result<Answer, TransportFailure> {
        let timeout = timeout.unwrap_or(self.request_timeout);
        let not_sent = |text: String| TransportFailure {
            maybe_sent: false,
            retryable: false,
            text,
        };
        // octocrab adds the token, its API version header and the JSON body; an absolute URI
        // keeps its path, so a GHES `/api/v3` prefix is never doubled.
        let mut request = self
            .client
            .build_request(Default::default(), payload)
            .map_err(|error| {
                not_sent(format!(
                    "cannot build the request: {}",
                    error_chain_text(&error)
                ))
            })?;
        *request.method_mut() = method.clone();
        *request.uri_mut() = url
            .as_str()
            .parse()
            .map_err(|_| not_sent(format!("cannot use {url} as a request URI")))?;
        let headers = request.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static(MEDIA_TYPE));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(crate::core::http::USER_AGENT),
        );
        headers.insert(
            HeaderName::from_static(API_VERSION_HEADER),
            HeaderValue::from_static(API_VERSION),
        );
        // An ETag that is not a valid header value (a damaged status file) is just not sent.
        if let Some(etag) = if_none_match.and_then(|etag| HeaderValue::from_str(etag).ok()) {
            headers.insert(IF_NONE_MATCH, etag);
        }

        let label = request_label(method, url);
        let _one_at_a_time = self.in_flight.lock().await;
        let exchange = async {
            let response = self.client.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = self.client.body_to_string(response).await?;
            Ok::<_, octocrab::Error>((status, headers, body))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok((status, headers, body))) => Ok(Answer {
                label,
                status,
                headers,
                body,
            }),
            Ok(Err(error)) => Err(self.transport_failure(&error)),
            Err(_) => Err(TransportFailure {
                maybe_sent: true,
                retryable: true,
                text: format!("no complete answer within {}", human_duration(timeout)),
            }),
        }
    }

    fn transport_failure(&self, error: &octocrab::Error) -> TransportFailure {
        let text = self.token.redact(&error_chain_text(error));
        let untrusted = untrusted_certificate(error);
        TransportFailure {
            maybe_sent: !never_sent(error),
            retryable: !untrusted,
            text: if untrusted {
                format!("{text} (GitHub's certificate is not trusted: if a private CA signs it, add the CA to the image's trusted roots or point SSL_CERT_FILE at a bundle that holds it)")
            } else {
                text
            },
        }
    }
}
