//! What GitHub's answers mean: rate limits and how long they ask to wait, its error documents,
//! and the error (with its exit code) for an answer the caller cannot use.

use std::time::{Duration, SystemTime};

use reqwest::header::{DATE, RETRY_AFTER};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::transport::Answer;
use super::GitHub;
use crate::core::error::{Error, Kind};
use crate::core::http::{parse_rate_limit_reset, parse_retry_after};
use crate::core::progress::human_duration;

/// GitHub's advice for a secondary rate limit that names no wait: at least a minute.
const SECONDARY_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// The longest single wait for a secondary limit as the doubling goes on.
const SECONDARY_RATE_LIMIT_MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// The shortest wait for any rate limit.
const MIN_RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);
/// Added to `x-ratelimit-reset`, which has one-second resolution.
const RESET_MARGIN: Duration = Duration::from_secs(1);
/// How much of GitHub's message goes into an error.
const MESSAGE_LIMIT: usize = 300;

/// How long a rate limit asks us to wait, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RateLimitWait {
    pub wait: Duration,
    pub reason: String,
}

/// The error document GitHub answers with.
#[derive(Debug, Default, Deserialize)]
pub(super) struct GitHubErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<Value>,
}

impl GitHubErrorBody {
    /// GitHub's message and validation details, on one line.
    pub(super) fn describe(&self) -> String {
        let mut text = self
            .message
            .as_deref()
            .map(|message| shorten(message.trim(), MESSAGE_LIMIT))
            .unwrap_or_default();
        let details: Vec<String> = self.errors.iter().map(describe_validation_error).collect();
        if !details.is_empty() {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&shorten(&details.join("; "), MESSAGE_LIMIT));
        }
        text
    }

    /// Whether any validation error is about `field`.
    pub(super) fn mentions_field(&self, field: &str) -> bool {
        self.errors.iter().any(|error| {
            error.get("field").and_then(Value::as_str) == Some(field)
                || error
                    .as_str()
                    .or_else(|| error.get("message").and_then(Value::as_str))
                    .is_some_and(|text| text.contains(field))
        }) || self
            .message
            .as_deref()
            .is_some_and(|message| message.contains(field))
    }

    pub(super) fn has_code(&self, code: &str) -> bool {
        self.errors
            .iter()
            .any(|error| error.get("code").and_then(Value::as_str) == Some(code))
    }
}

/// `assignees invalid (value "ghost")` from `{"field":"assignees","code":"invalid","value":"ghost"}`.
pub(super) fn describe_validation_error(error: &Value) -> String {
    if let Some(text) = error.as_str() {
        return text.to_owned();
    }
    let text = |key: &str| error.get(key).and_then(Value::as_str);
    if let Some(message) = text("message") {
        return message.to_owned();
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(field) = text("field") {
        parts.push(field.to_owned());
    } else if let Some(resource) = text("resource") {
        parts.push(resource.to_owned());
    }
    if let Some(code) = text("code") {
        parts.push(code.replace('_', " "));
    }
    match error.get("value") {
        Some(Value::String(value)) => parts.push(format!("(value {value:?})")),
        Some(Value::Null) | None => {}
        Some(other) => parts.push(format!("(value {other})")),
    }
    parts.join(" ")
}

impl GitHub {
    /// The error for an answer the caller cannot use, by status (ARCHITECTURE's table): 401,
    /// 403 and 404/410 are refusals (exit 5), 5xx and rate limits remote failures (exit 3),
    /// 422 and other 4xx bad input (exit 2).
    pub(super) fn answer_error(&self, answer: &Answer, what: &str) -> anyhow::Error {
        let github = answer.github_error();
        let hint = match answer.status.as_u16() {
            401 => " (GitHub does not accept the token: check that it is valid and not expired)".to_owned(),
            403 => match answer.header("x-accepted-github-permissions") {
                Some(wanted) => format!(" (the token lacks a permission this needs; GitHub accepts: {wanted})"),
                None => " (the token or its user lacks a permission this needs: Issues read & write, Metadata read)".to_owned(),
            },
            404 => format!(" (the repository {} or the resource does not exist, or the token cannot see it)", self.repo),
            410 if is_issues_disabled(answer) => format!(" (issues are disabled in {}: enable them in the repository settings)", self.repo),
            _ => String::new(),
        };
        let message = format!(
            "{what}: {}: {}{hint}",
            answer.label,
            status_summary_with(answer, &github)
        );
        let kind = match answer.status.as_u16() {
            401 | 403 | 404 | 410 => Kind::Refused,
            429 => Kind::Remote,
            code if (500..600).contains(&code) => Kind::Remote,
            code if (400..500).contains(&code) => Kind::Usage,
            _ => Kind::Remote,
        };
        self.error(kind, message)
    }

    pub(super) fn parse<T: DeserializeOwned>(&self, answer: &Answer) -> anyhow::Result<T> {
        serde_json::from_str(&answer.body).map_err(|error| {
            self.error(
                Kind::Remote,
                format!(
                    "{}: GitHub answered {} with a body this client cannot read: {error}",
                    answer.label, answer.status
                ),
            )
        })
    }

    /// An error of `kind`, with the token taken out of its text.
    pub(super) fn error(&self, kind: Kind, message: String) -> anyhow::Error {
        Error::new(kind, self.token.redact(&message)).into()
    }
}

/// Whether a 403/429 answer is a rate limit, and how long it asks us to wait:
/// `retry-after` first; else the reset time when the quota is spent; else (a secondary limit,
/// said by a 429 or by GitHub's message) a minute, doubling with each wait already made.
pub(super) fn rate_limit_wait(
    answer: &Answer,
    previous_waits: u32,
    now: SystemTime,
) -> Option<RateLimitWait> {
    if !matches!(answer.status.as_u16(), 403 | 429) {
        return None;
    }
    let server_now = answer
        .header(DATE)
        .and_then(|date| httpdate::parse_http_date(date).ok())
        .unwrap_or(now);
    if let Some(wait) = answer
        .header(RETRY_AFTER)
        .and_then(|value| parse_retry_after(value, server_now))
    {
        // Never hammer: a `retry-after: 0` still waits the smallest pause GitHub would ask.
        let wait = wait.max(MIN_RATE_LIMIT_WAIT);
        return Some(RateLimitWait {
            wait,
            reason: format!("retry-after: {}", human_duration(wait)),
        });
    }
    if answer
        .header("x-ratelimit-remaining")
        .is_some_and(|remaining| remaining.trim() == "0")
    {
        // Measured against the server's clock, so a skewed local clock does not matter.
        let wait = answer
            .header("x-ratelimit-reset")
            .and_then(|reset| parse_rate_limit_reset(reset, server_now))
            .map_or(SECONDARY_RATE_LIMIT_WAIT, |wait| wait + RESET_MARGIN);
        let resource = answer.header("x-ratelimit-resource").unwrap_or("core");
        return Some(RateLimitWait {
            wait,
            reason: format!("{resource} quota spent, x-ratelimit-remaining: 0"),
        });
    }
    let says_rate_limit = answer
        .github_error()
        .message
        .is_some_and(|message| message.to_ascii_lowercase().contains("rate limit"));
    if answer.status == StatusCode::TOO_MANY_REQUESTS || says_rate_limit {
        let wait = SECONDARY_RATE_LIMIT_WAIT
            .saturating_mul(2u32.saturating_pow(previous_waits))
            .min(SECONDARY_RATE_LIMIT_MAX_WAIT);
        return Some(RateLimitWait {
            wait,
            reason: "a secondary rate limit".to_owned(),
        });
    }
    None
}

/// The server's clock from `Date`, else ours.
pub(super) fn server_now(answer: &Answer) -> SystemTime {
    answer
        .header(DATE)
        .and_then(|date| httpdate::parse_http_date(date).ok())
        .unwrap_or_else(SystemTime::now)
}

pub(super) fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

pub(super) fn is_issues_disabled(answer: &Answer) -> bool {
    answer
        .github_error()
        .message
        .is_some_and(|message| message.to_ascii_lowercase().contains("disabled"))
}

/// `502 Bad Gateway: <GitHub's message>`.
pub(super) fn status_summary(answer: &Answer) -> String {
    status_summary_with(answer, &answer.github_error())
}

pub(super) fn status_summary_with(answer: &Answer, github: &GitHubErrorBody) -> String {
    let status = match answer.status.canonical_reason() {
        Some(reason) => format!("{} {reason}", answer.status.as_u16()),
        None => answer.status.as_u16().to_string(),
    };
    let message = github.describe();
    if message.is_empty() {
        status
    } else {
        format!("{status}: {message}")
    }
}

pub(super) fn shorten(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut cut = limit;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} [...]", &text[..cut])
}

/// The causes of an error, each once, on one line.
pub(super) fn error_chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut causes: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(cause) = current {
        let text = cause.to_string();
        // Wrappers (octocrab's "Service Error: ...", hyper's "client error (Connect)") often
        // repeat or hide what their causes say better.
        let text = text
            .strip_prefix("Service Error: ")
            .or_else(|| text.strip_prefix("Hyper Error: "))
            .unwrap_or(&text)
            .to_owned();
        let wrapper_only = text.starts_with("client error (") && cause.source().is_some();
        if !wrapper_only && !text.is_empty() && !causes.iter().any(|seen| seen.contains(&text)) {
            causes.retain(|seen| !text.contains(seen.as_str()));
            causes.push(text);
        }
        current = next_cause(cause);
    }
    if causes.is_empty() {
        "the request failed".to_owned()
    } else {
        causes.join(": ")
    }
}

/// The next error in a chain, stepping into an `io::Error`'s wrapped error, which its
/// `source()` skips (rustls errors hide there).
pub(super) fn next_cause<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    if let Some(inner) = error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        return Some(inner as &(dyn std::error::Error + 'static));
    }
    error.source()
}

pub(super) fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |cause| next_cause(*cause))
}

/// Whether the request certainly never left: no connection could be made (refused, DNS, TLS).
pub(super) fn never_sent(error: &octocrab::Error) -> bool {
    causes(error).any(|cause| {
        cause.to_string() == "client error (Connect)"
            || cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

pub(super) fn untrusted_certificate(error: &octocrab::Error) -> bool {
    causes(error).any(|cause| {
        matches!(
            cause.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_))
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn answer(status: u16, headers: &[(&'static str, &str)], body: &str) -> Answer {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        Answer {
            label: "GET https://api.github.com/repos/o/r/issues/1".into(),
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: body.into(),
        }
    }

    #[test]
    fn rate_limits_prefer_retry_after_then_the_reset_then_a_doubling_minute() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(now);
        let limited = answer(429, &[("retry-after", "7"), ("date", &date)], "{}");
        assert_eq!(
            rate_limit_wait(&limited, 0, now).unwrap().wait,
            Duration::from_secs(7)
        );
        let spent = answer(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1700000100"),
                ("date", &date),
            ],
            r#"{"message":"API rate limit exceeded"}"#,
        );
        // Measured from the server's Date, whatever our clock says.
        let skewed = now + Duration::from_secs(3600);
        assert_eq!(
            rate_limit_wait(&spent, 0, skewed).unwrap().wait,
            Duration::from_secs(101)
        );
        let secondary = answer(
            403,
            &[("x-ratelimit-remaining", "4000")],
            r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes."}"#,
        );
        assert_eq!(
            rate_limit_wait(&secondary, 0, now).unwrap().wait,
            Duration::from_secs(60)
        );
        assert_eq!(
            rate_limit_wait(&secondary, 2, now).unwrap().wait,
            Duration::from_secs(240)
        );
        assert_eq!(
            rate_limit_wait(&secondary, 30, now).unwrap().wait,
            SECONDARY_RATE_LIMIT_MAX_WAIT
        );
        let forbidden = answer(
            403,
            &[("x-ratelimit-remaining", "4000")],
            r#"{"message":"Resource not accessible by personal access token"}"#,
        );
        assert_eq!(rate_limit_wait(&forbidden, 0, now), None, "a real 403");
        assert_eq!(
            rate_limit_wait(&answer(502, &[("retry-after", "1")], ""), 0, now),
            None
        );
    }

    #[test]
    fn github_errors_read_as_one_line_with_validation_details() {
        let body: GitHubErrorBody = serde_json::from_str(
            r#"{"message":"Validation Failed","errors":[{"value":"ghost","resource":"Issue","field":"assignees","code":"invalid"}],"documentation_url":"https://docs.github.com"}"#,
        )
        .unwrap();
        assert_eq!(
            body.describe(),
            r#"Validation Failed: assignees invalid (value "ghost")"#
        );
        assert!(body.mentions_field("assignees"));
        assert!(!body.mentions_field("labels"));
        let exists: GitHubErrorBody = serde_json::from_str(
            r#"{"message":"Validation Failed","errors":[{"resource":"Label","code":"already_exists","field":"name"}]}"#,
        )
        .unwrap();
        assert!(exists.has_code("already_exists"));
        let long = "x".repeat(1000);
        assert!(shorten(&long, 10).ends_with("[...]"));
    }
}
