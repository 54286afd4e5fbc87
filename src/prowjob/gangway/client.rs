//! The Gangway transport and its read calls: one run, the runs of a job. Every request goes
//! through the retry loop of `core::retry`; refusals, login pages and unexpected answers become
//! errors with the right exit code, never quoting a token or a success body.

use reqwest::{Method, RequestBuilder, Url};
use serde_json::Value;

use super::answer::{is_tls_failure, kind_for_status, status_text, Answer};
use super::{json_kind, JobExecution};
use crate::core::error::Error;
use crate::core::http::{is_retryable_status, request_label, requested_wait, HttpClient};
use crate::core::retry::{retry, Retryable, Step};
use crate::core::secret::{redact_url_credentials, Secret};

/// How much of a non-JSON error body goes into a message.
const ERROR_SNIPPET_LIMIT: usize = 300;

/// The Gangway REST client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GangwayClient {
    pub(super) http: HttpClient,
    pub(super) base: Url,
    pub(super) token: Secret,
    /// Sends of the create request at most, in place of the HTTP client's `retries`.
    pub(super) create_attempts: Option<u32>,
}

/// What listing a job's runs gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    Runs(Vec<JobExecution>),
    /// The deployment does not let this token list runs: the HTTP status it answered.
    Unavailable(u16),
}

impl GangwayClient {
    /// A client for the Gangway at `base_url` (e.g.
    /// `https://gangway-ci.apps.ci.l2s4.p1.openshiftapps.com`), sending `token` as a bearer
    /// token. A token that cannot be a header value is refused here (exit 2), before any
    /// request: no retry would fix it.
    pub fn new(http: HttpClient, base_url: &str, token: Secret) -> anyhow::Result<GangwayClient> {
        GangwayClient::at(http, parse_base_url(base_url, "Gangway")?, token)
    }

    /// A client for the Gangway at `base`, a URL [`parse_base_url`] accepted.
    pub fn at(http: HttpClient, base: Url, token: Secret) -> anyhow::Result<GangwayClient> {
        token.bearer_token()?;
        Ok(GangwayClient {
            http,
            base,
            token,
            create_attempts: None,
        })
    }

    /// The same client, sending the create request at most `attempts` times (at least once)
    /// whatever the HTTP client's `retries` say; the other requests keep those.
    pub fn with_create_attempts(mut self, attempts: u32) -> GangwayClient {
        self.create_attempts = Some(attempts.max(1));
        self
    }

    /// The run `id`, or `None` when Gangway does not know it (a 404, or the raw Kubernetes
    /// "not found" error that Gangway passes through as a 500).
    pub async fn get(&self, id: &str) -> anyhow::Result<Option<JobExecution>> {
        let id = id.trim();
        if id.is_empty() {
            return Err(Error::usage("the job execution id is empty").into());
        }
        let url = self.endpoint(&["v1", "executions", id]);
        let action = format!("reading job execution {id}");
        let answer = self.read(url, &action).await?;
        if answer.is_login_page() {
            return Err(self.refusal(&answer, &format!("read job execution {id}")));
        }
        match answer.status.as_u16() {
            200..=299 => {
                let value = self.json_body(&answer, &action)?;
                let mut execution = JobExecution::from_wire(&value)
                    .map_err(|error| error.context(format!("{action}: unexpected answer")))?;
                if execution.id.is_empty() {
                    execution.id = id.to_owned();
                }
                Ok(Some(execution))
            }
            404 => Ok(None),
            _ if answer.says_not_found() => Ok(None),
            401 | 403 => Err(self.refusal(&answer, &format!("read job execution {id}"))),
            _ => Err(self.answer_error(&answer, &action)),
        }
    }

    /// The runs of `job_name` that still exist (Prow removes old ones after a while). Items
    /// carry only id, job name and status.
    pub async fn list(&self, job_name: &str) -> anyhow::Result<Vec<JobExecution>> {
        match self.listing(job_name).await? {
            Listing::Runs(runs) => Ok(runs),
            Listing::Unavailable(status) => Err(Error::refused(format!(
                "listing the runs of {job_name}: Gangway answered HTTP {status}; this token or \
                 this Gangway does not allow listing runs"
            ))
            .into()),
        }
    }

    /// As [`GangwayClient::list`], or [`Listing::Unavailable`] when the deployment does not
    /// let this token list runs (403, 404, 405).
    pub async fn listing(&self, job_name: &str) -> anyhow::Result<Listing> {
        let mut url = self.endpoint(&["v1", "executions"]);
        url.query_pairs_mut().append_pair("job_name", job_name);
        let action = format!("listing the runs of {job_name}");
        let answer = self.read(url, &action).await?;
        // An RBAC rule (or a proxy's Forbidden page) on listing alone, or a Gangway without the
        // endpoint. A token that is refused altogether is refused again by the trigger itself.
        if let status @ 403..=405 = answer.status.as_u16() {
            return Ok(Listing::Unavailable(status));
        }
        if answer.is_login_page() {
            return Err(self.refusal(&answer, &format!("trigger this job {job_name}")));
        }
        match answer.status.as_u16() {
            200..=299 => {
                // proto3 JSON leaves out an empty repeated field, and may print `{}`.
                if answer.body.trim().is_empty() {
                    return Ok(Listing::Runs(Vec::new()));
                }
                let value = self.json_body(&answer, &action)?;
                let items = match value
                    .get("job_execution")
                    .or_else(|| value.get("jobExecution"))
                {
                    None | Some(Value::Null) => return Ok(Listing::Runs(Vec::new())),
                    Some(Value::Array(items)) => items,
                    Some(other) => {
                        return Err(Error::remote(format!(
                            "{action}: expected job_execution to be an array, got {}",
                            json_kind(other)
                        ))
                        .into())
                    }
                };
                items
                    .iter()
                    .map(|item| {
                        JobExecution::from_wire(item)
                            .map_err(|error| error.context(format!("{action}: unexpected answer")))
                    })
                    .collect::<anyhow::Result<_>>()
                    .map(Listing::Runs)
            }
            401 => Err(self.refusal(&answer, &format!("trigger this job {job_name}"))),
            _ => Err(self.answer_error(&answer, &action)),
        }
    }

    /// The base URL with `segments` appended, each percent-encoded.
    pub(super) fn endpoint(&self, segments: &[&str]) -> Url {
        join_segments(&self.base, segments)
    }

    /// The one place the token goes on the wire (checked to be a header value in `new`).
    pub(super) fn authorized(&self, request: RequestBuilder) -> RequestBuilder {
        request.bearer_auth(self.token.expose())
    }

    /// GETs `url` through the retry loop: connection errors, timeouts, 429 and 5xx are retried;
    /// the first answer not worth retrying is returned. Unlike [`HttpClient::send_idempotent`]
    /// it stops at a 500 that says "not found": that is how Gangway reports a missing
    /// execution, and it will not change by asking again.
    async fn read(&self, url: Url, action: &str) -> anyhow::Result<Answer> {
        retry(&self.http.retry_policy(), action, "", |attempt| {
            let mut request = self.authorized(self.http.inner().get(url.clone()));
            if let Some(time_left) = attempt.time_left {
                request = request.timeout(time_left);
            }
            async move {
                let response = match self.http.send_once(request).await {
                    Ok(response) => response,
                    Err(error) => {
                        let problem = self.token.redact(&error.to_string());
                        return if is_tls_failure(error.transport_error()) {
                            Step::Fail(Error::remote(format!("{action}: {problem}")).into())
                        } else {
                            Step::Retry(Retryable::new(problem))
                        };
                    }
                };
                let status = response.status();
                match Answer::read(response).await {
                    Ok(answer)
                        if !is_retryable_status(answer.status, &answer.headers)
                            || answer.says_not_found() =>
                    {
                        Step::Done(answer)
                    }
                    Ok(answer) => {
                        let message = answer
                            .gangway_error()
                            .map(|error| self.token.redact(&error.message));
                        let wait = requested_wait(
                            answer.status,
                            &answer.headers,
                            std::time::SystemTime::now(),
                        );
                        Step::Retry(
                            Retryable::new(self.problem_text(&answer, message.as_deref()))
                                .waiting(wait),
                        )
                    }
                    Err(error) => Step::Retry(Retryable::new(format!(
                        "HTTP {}, then the answer broke off: {}",
                        status.as_u16(),
                        self.token.redact(&error)
                    ))),
                }
            }
        })
        .await
    }

    /// A success body as JSON, or an error that quotes it only when it is not a success.
    fn json_body(&self, answer: &Answer, action: &str) -> anyhow::Result<Value> {
        serde_json::from_str(&answer.body).map_err(|_| {
            Error::remote(format!(
                "{action}: Gangway answered HTTP {} with a body that is not JSON{}",
                answer.status.as_u16(),
                self.snippet_suffix(answer)
            ))
            .into()
        })
    }

    /// The refusal error: a 401/403 or an oauth-proxy login page. `what` completes "not
    /// allowed to ...".
    pub(super) fn refusal(&self, answer: &Answer, what: &str) -> anyhow::Error {
        let how = if answer.is_html() {
            format!("HTTP {}, an oauth-proxy login page", answer.status.as_u16())
        } else {
            format!("HTTP {}", answer.status.as_u16())
        };
        let detail = answer
            .gangway_error()
            .map(|error| format!(": {}", self.token.redact(&error.message)))
            .unwrap_or_default();
        Error::refused(format!(
            "Gangway refused the token: token expired or not allowed to {what} ({how}){detail}. \
             Use a fresh token (`oc whoami -t` on app.ci, or the service account's Secret) that \
             may trigger this job"
        ))
        .into()
    }

    /// The error for an answer nothing else expected, kind by status like
    /// [`crate::core::http::status_error`], with Gangway's message or a short snippet of the
    /// body.
    pub(super) fn answer_error(&self, answer: &Answer, action: &str) -> anyhow::Error {
        let message = answer
            .gangway_error()
            .map(|error| self.token.redact(&error.message));
        let label = request_label(&Method::GET, &answer.url);
        Error::new(
            kind_for_status(answer.status),
            format!(
                "{action}: {label}: {}",
                self.problem_text(answer, message.as_deref())
            ),
        )
        .into()
    }

    /// `HTTP 502 Bad Gateway: <message>`, never quoting HTML pages or success bodies.
    pub(super) fn problem_text(&self, answer: &Answer, message: Option<&str>) -> String {
        let status = status_text(answer.status);
        match message {
            Some(message) => format!("HTTP {status}: {message}"),
            None if answer.is_html() => format!("HTTP {status} (an HTML page from the proxy)"),
            None if answer.status.is_success() || answer.body.trim().is_empty() => {
                format!("HTTP {status}")
            }
            None => format!("HTTP {status}: {}", self.snippet(answer)),
        }
    }

    /// The start of an error body, redacted, for messages.
    pub(super) fn snippet(&self, answer: &Answer) -> String {
        let body = answer.body.trim();
        // Redact the whole body before cutting, so a token crossing the cut is still caught.
        let redacted = self.token.redact(body);
        if redacted.len() <= ERROR_SNIPPET_LIMIT {
            return redacted;
        }
        let mut cut = ERROR_SNIPPET_LIMIT;
        while !redacted.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{} [...]", &redacted[..cut])
    }

    fn snippet_suffix(&self, answer: &Answer) -> String {
        if answer.is_html() || answer.body.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", self.snippet(answer))
        }
    }
}

/// An http(s) base URL of `service` (Gangway, Deck) without user information (credentials
/// belong in the token), query or fragment. Errors show the URL with any credentials taken out.
pub fn parse_base_url(text: &str, service: &str) -> anyhow::Result<Url> {
    let trimmed = text.trim();
    let shown = redact_url_credentials(trimmed);
    let mut url = Url::parse(trimmed).map_err(|error| {
        Error::usage(format!(
            "the {service} URL {shown:?} is not a URL: {error} (expected https://host)"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(Error::usage(format!(
            "the {service} URL {shown:?} must start with https:// (or http://)"
        ))
        .into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::usage(format!(
            "the {service} URL {shown:?} holds a user name or password: credentials do not belong in the URL, where logs would show them"
        ))
        .into());
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// `base` with `segments` appended as path segments, each percent-encoded.
pub(super) fn join_segments(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    // Base URLs are checked to be http(s) URLs with a path, so this always applies.
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_http_without_credentials() {
        assert!(parse_base_url("gangway.example", "Gangway").is_err());
        assert!(parse_base_url("ftp://x", "Gangway").is_err());
        let error = parse_base_url("https://u:CANARY@g.example", "Gangway").unwrap_err();
        assert!(error.to_string().contains("credentials"), "{error}");
        assert!(!error.to_string().contains("CANARY"), "{error}");
        let url = parse_base_url("https://g.example/prefix/", "Gangway").unwrap();
        assert_eq!(
            join_segments(&url, &["v1", "executions", "a/b"]).as_str(),
            "https://g.example/prefix/v1/executions/a%2Fb"
        );
    }
}
