//! The one HTTP client every command uses: rustls with the ring provider, the `stepkit/<version>`
//! user agent, timeouts, and the retry policy of the architecture notes.
//!
//! - [`HttpClient::send_idempotent`] retries reads and idempotent writes on connection errors,
//!   timeouts, 429, 500/502/503/504 and rate-limit 403s through the one retry loop
//!   ([`retry`]): backoff with jitter, `Retry-After` and `x-ratelimit-reset` honoured, bounded
//!   by the retry deadline and the wait's overall deadline.
//! - [`HttpClient::send_once`] sends a request that creates something exactly once, and tells
//!   the caller whether a failed request may still have reached the server.
//! - [`status_error`] turns an unexpected answer into an error with the right exit code.
//!
//! Log lines and error messages name a request by method and URL without its query string, and
//! never carry headers or request bodies: tokens travel there.

use std::fmt;
use std::sync::Once;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use tokio::time::Instant;

use crate::core::error::Error;
pub use crate::core::retry::ServerWait;
use crate::core::retry::{retry, RetryPolicy, Retryable, Step};
use crate::core::secret::redact_values;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("stepkit/", env!("CARGO_PKG_VERSION"));

/// How much of an error response's body goes into an error message.
const ERROR_BODY_LIMIT: usize = 1024;

/// Timeouts, the retry deadline and extra trusted roots.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Time allowed to open a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time allowed for one attempt, from sending to the end of the response headers.
    pub request_timeout: Duration,
    /// Total time for one call of [`HttpClient::send_idempotent`], all retries included.
    pub deadline: Duration,
    /// Attempts after the first, at most (`None`: as many as `deadline` allows).
    pub retries: Option<u32>,
    /// The end of the wait the calls are part of: a request in flight then is abandoned.
    pub overall_deadline: Option<Instant>,
    /// Smallest pause between attempts; backoff doubles from here.
    pub base_delay: Duration,
    /// Largest pause between attempts chosen by backoff (a server's `Retry-After` may ask more).
    pub max_delay: Duration,
    /// PEM bundles trusted in addition to the system roots (corporate CAs, tests).
    pub extra_root_certs_pem: Vec<Vec<u8>>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(5 * 60),
            retries: None,
            overall_deadline: None,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            extra_root_certs_pem: Vec::new(),
        }
    }
}

/// Installs ring as the process-wide rustls crypto provider, once. reqwest is built without a
/// provider of its own (`rustls-no-provider`) so that only one crypto library is compiled in.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An error means a provider is already installed, which is all we need.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The shared HTTP client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    config: HttpConfig,
}

impl HttpClient {
    pub fn new(config: HttpConfig) -> anyhow::Result<HttpClient> {
        install_crypto_provider();
        let mut extra_roots = Vec::new();
        for (index, pem) in config.extra_root_certs_pem.iter().enumerate() {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|error| {
                Error::usage(format!(
                    "cannot read extra CA certificate bundle #{}: {error} (expected PEM certificates)",
                    index + 1
                ))
            })?;
            if certs.is_empty() {
                return Err(Error::usage(format!(
                    "extra CA certificate bundle #{} holds no PEM certificate",
                    index + 1
                ))
                .into());
            }
            extra_roots.extend(certs);
        }
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .tls_certs_merge(extra_roots)
            .build()
            .map_err(|error| {
                Error::usage(format!(
                    "cannot set up the HTTP client: {}",
                    describe_transport_error(&error)
                ))
            })?;
        Ok(HttpClient { client, config })
    }

    /// The underlying client, to build requests with.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// The retry policy of [`HttpClient::send_idempotent`], from the configuration.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            retries: self.config.retries,
            retry_deadline: self.config.deadline,
            attempt_timeout: Some(self.config.request_timeout),
            base_delay: self.config.base_delay,
            max_delay: self.config.max_delay,
            overall_deadline: self.config.overall_deadline,
        }
    }

    /// Sends a request that is safe to repeat (GET, HEAD, PUT, DELETE, ...), retrying as the
    /// module documentation says, through [`retry`]. Any answer that is not retried (2xx, 3xx,
    /// most 4xx) is returned as it is, for the caller to judge.
    ///
    /// Gives up with a [`Kind::Remote`](crate::core::error::Kind::Remote) error when retries
    /// run out, or at once on errors that a retry cannot fix.
    pub async fn send_idempotent(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        let (client, request) = request.build_split();
        let request = request.map_err(|error| {
            Error::usage(format!(
                "cannot build the HTTP request: {}",
                describe_transport_error(&error)
            ))
        })?;
        let label = request_label(request.method(), request.url());
        // A streamed body cannot be sent twice: such a request gets one attempt.
        if request.try_clone().is_none() {
            return send_unrepeatable(&client, request, &label).await;
        }
        let per_attempt = request
            .timeout()
            .copied()
            .unwrap_or(self.config.request_timeout);
        let policy = RetryPolicy {
            attempt_timeout: Some(per_attempt),
            ..self.retry_policy()
        };
        retry(&policy, &label, "", |attempt| {
            let mut this_try = request.try_clone().expect("checked above");
            // The transport's own timeout, so its error says what happened.
            *this_try.timeout_mut() = attempt.time_left;
            let client = &client;
            let label = &label;
            async move {
                match client.execute(this_try).await {
                    Ok(response) => {
                        let status = response.status();
                        if !is_retryable_status(status, response.headers()) {
                            return Step::Done(response);
                        }
                        Step::Retry(Retryable::new(status_text(status)).waiting(requested_wait(
                            status,
                            response.headers(),
                            SystemTime::now(),
                        )))
                    }
                    Err(error) if is_retryable_transport_error(&error) => {
                        Step::Retry(Retryable::new(describe_transport_error(&error)))
                    }
                    Err(error) => Step::Fail(
                        Error::remote(format!(
                            "{label}: {}{}",
                            describe_transport_error(&error),
                            transport_hint(&error)
                        ))
                        .into(),
                    ),
                }
            }
        })
        .await
    }

    /// Sends a request that creates something, exactly once. On failure, [`SendError`] says
    /// whether the request certainly did not reach the server ([`SendError::NotSent`], safe to
    /// send again) or might have ([`SendError::Ambiguous`]: look for what it created first).
    /// Every answer the server gives, whatever its status, is returned as it is.
    pub async fn send_once(&self, request: RequestBuilder) -> Result<Response, SendError> {
        request.send().await.map_err(SendError::classify)
    }
}

/// Sends a request whose body cannot be copied: one attempt, no retry.
async fn send_unrepeatable(
    client: &reqwest::Client,
    request: reqwest::Request,
    label: &str,
) -> anyhow::Result<Response> {
    client.execute(request).await.map_err(|error| {
        Error::remote(format!(
            "{label}: {} (not retried: the request body is a stream){}",
            describe_transport_error(&error),
            transport_hint(&error)
        ))
        .into()
    })
}

/// Why [`HttpClient::send_once`] got no answer.
#[derive(Debug)]
pub enum SendError {
    /// No connection could be made: the server never saw the request. Safe to send again.
    NotSent(reqwest::Error),
    /// The request may have reached the server (a timeout, or the connection dropped after
    /// sending): it may have taken effect. Look for what it would have created before retrying.
    Ambiguous(reqwest::Error),
}

impl SendError {
    /// Sorts a transport error by whether the request can have left this process.
    pub fn classify(error: reqwest::Error) -> SendError {
        // A connect error (refused, DNS, TLS, connect timeout) happens before a byte of the
        // request is written; a builder error before a connection is even attempted.
        if error.is_connect() || error.is_builder() {
            SendError::NotSent(error)
        } else {
            SendError::Ambiguous(error)
        }
    }

    pub fn is_ambiguous(&self) -> bool {
        matches!(self, SendError::Ambiguous(_))
    }

    /// The transport error underneath.
    pub fn transport_error(&self) -> &reqwest::Error {
        match self {
            SendError::NotSent(error) | SendError::Ambiguous(error) => error,
        }
    }

    /// This failure as an error of kind Remote (exit 3), with the same message.
    pub fn into_remote_error(self) -> anyhow::Error {
        Error::remote(self.to_string()).into()
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let error = self.transport_error();
        let target = error
            .url()
            .map_or_else(|| "the server".to_owned(), url_without_query);
        let cause = describe_transport_error(error);
        match self {
            SendError::NotSent(_) => write!(
                f,
                "the request to {target} was not sent: {cause}{}",
                transport_hint(error)
            ),
            SendError::Ambiguous(_) => write!(
                f,
                "no answer from {target}: {cause}; the request may have reached the server and taken effect"
            ),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.transport_error())
    }
}

/// Builds the error for an answer the caller did not expect, by status:
/// 401/403/404/410 are refusals (exit 5), 429 and 5xx remote failures (exit 3), other 4xx bad
/// input (exit 2). The message reads `GET https://host/path: 404 Not Found: <body>`, with the
/// first KiB of the body and every string in `redact` (tokens, passwords) replaced by
/// `[redacted]`. `method` is the request's; the URL comes from the response.
pub async fn status_error(method: &Method, response: Response, redact: &[&str]) -> anyhow::Error {
    let status = response.status();
    let label = request_label(method, response.url());
    let body = read_error_body(response, redact).await;
    let mut message = format!("{label}: {}", status_text(status));
    if !body.is_empty() {
        message.push_str(": ");
        message.push_str(&body);
    }
    let hint = match status.as_u16() {
        401 => " (check that the token is valid and has not expired)",
        403 => " (check that the token has the permissions this needs)",
        404 | 410 => " (check the name: it does not exist, or the token cannot see it)",
        _ => "",
    };
    message.push_str(hint);
    let message = redact_values(&message, redact);
    let error = match status.as_u16() {
        401 | 403 | 404 | 410 => Error::refused(message),
        429 => Error::remote(message),
        _ if status.is_server_error() => Error::remote(message),
        _ if status.is_client_error() => Error::usage(message),
        // A status the caller did not expect that is neither 4xx nor 5xx (say a redirect):
        // the service answered something we cannot use.
        _ => Error::remote(message),
    };
    error.into()
}

/// The whole body of `response`, refused once it passes `limit` bytes (a budget against a
/// server that sends without end). The error says what happened, without the URL.
pub async fn read_body(response: &mut Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| format!("the answer broke off: {}", describe_transport_error(&error)))?
    {
        if bytes.len() + chunk.len() > limit {
            return Err(format!(
                "the answer is longer than {limit} bytes, more than this service ever sends"
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The first [`ERROR_BODY_LIMIT`] bytes of a body, as text, with `redact` strings replaced.
async fn read_error_body(mut response: Response, redact: &[&str]) -> String {
    let longest_secret = redact.iter().map(|s| s.len()).max().unwrap_or(0);
    // Read past the limit by the longest secret so a secret crossing the cut is seen whole.
    let wanted = ERROR_BODY_LIMIT + longest_secret;
    let mut bytes = Vec::new();
    let mut complete = true;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > wanted {
                    complete = false;
                    break;
                }
            }
            Ok(None) => break,
            Err(_) => {
                // Part of a body is still worth showing; say it is partial.
                complete = false;
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let (shown, cut) = cut_outside_secrets(&text, ERROR_BODY_LIMIT, redact);
    let mut body = redact_values(shown.trim(), redact);
    if cut || !complete {
        body.push_str(" [...]");
    }
    body
}

/// `text` shortened to at most `limit` bytes, on a character boundary and never through a
/// secret (the cut moves before it), and whether anything was cut.
fn cut_outside_secrets<'a>(text: &'a str, limit: usize, secrets: &[&str]) -> (&'a str, bool) {
    if text.len() <= limit {
        return (text, false);
    }
    let mut cut = limit;
    loop {
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let crossing = secrets
            .iter()
            .filter(|s| !s.is_empty())
            .flat_map(|secret| {
                text.match_indices(*secret)
                    .map(|(start, found)| (start, start + found.len()))
            })
            .filter(|&(start, end)| start < cut && end > cut)
            .map(|(start, _)| start)
            .min();
        match crossing {
            Some(start) => cut = start,
            None => return (&text[..cut], true),
        }
    }
}

/// Whether [`HttpClient::send_idempotent`] retries an answer with this status: 429, 500, 502,
/// 503, 504, and a 403 that is a rate limit (GitHub's `x-ratelimit-remaining: 0`, or any 403
/// with `Retry-After`, as GitHub's secondary rate limits send).
pub fn is_retryable_status(status: StatusCode, headers: &HeaderMap) -> bool {
    match status.as_u16() {
        429 | 500 | 502 | 503 | 504 => true,
        403 => is_rate_limit_exhausted(headers) || headers.contains_key(RETRY_AFTER),
        _ => false,
    }
}

fn is_rate_limit_exhausted(headers: &HeaderMap) -> bool {
    header_str(headers, "x-ratelimit-remaining").is_some_and(|value| value.trim() == "0")
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The wait a response asks for: `Retry-After` first, else `x-ratelimit-reset` when
/// `x-ratelimit-remaining` is 0. `now` is the current wall-clock time.
pub fn requested_wait(
    status: StatusCode,
    headers: &HeaderMap,
    now: SystemTime,
) -> Option<ServerWait> {
    let exhausted = is_rate_limit_exhausted(headers);
    // 429 and 403 are how services say "slow down"; a 503 with Retry-After is an outage.
    let rate_limited = exhausted || matches!(status.as_u16(), 429 | 403);
    if let Some(wait) =
        header_str(headers, RETRY_AFTER.as_str()).and_then(|value| parse_retry_after(value, now))
    {
        return Some(ServerWait {
            wait,
            until: now + wait,
            rate_limited,
        });
    }
    if exhausted {
        let wait = header_str(headers, "x-ratelimit-reset")
            .and_then(|value| parse_rate_limit_reset(value, now))?;
        return Some(ServerWait {
            wait,
            until: now + wait,
            rate_limited: true,
        });
    }
    None
}

/// Parses a `Retry-After` value: delay seconds (`120`) or an HTTP date. A date in the past
/// means no wait. `None` when it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses `x-ratelimit-reset` (seconds since the epoch, as GitHub sends it) into the wait from
/// `now`; a reset in the past means no wait.
pub fn parse_rate_limit_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let epoch_seconds: u64 = value.trim().parse().ok()?;
    let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(epoch_seconds))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Whether a transport error is worth another attempt of an idempotent request.
fn is_retryable_transport_error(error: &reqwest::Error) -> bool {
    if tls_error(error).is_some() {
        // An untrusted certificate stays untrusted.
        return false;
    }
    error.is_connect() || error.is_timeout() || error.is_request() || error.is_body()
}

/// Whether the transport error is a failed TLS handshake, which no retry fixes.
pub fn is_tls_failure(error: &reqwest::Error) -> bool {
    tls_error(error).is_some()
}

/// The rustls error inside a transport error, if the failure was the TLS handshake.
fn tls_error(error: &reqwest::Error) -> Option<&rustls::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // io::Error hides a wrapped error from `source()` (and tokio-rustls nests two of them):
        // step into it explicitly.
        source = match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}

/// What to do about a transport error, when there is something to say.
fn transport_hint(error: &reqwest::Error) -> &'static str {
    match tls_error(error) {
        Some(rustls::Error::InvalidCertificate(_)) => {
            " (the server's certificate is not trusted: if it is signed by a private CA, add that CA to the trusted roots)"
        }
        _ => "",
    }
}

/// A transport error's causes, without the URL reqwest puts in its own message (the URL may
/// carry a query string with credentials; callers name the request themselves).
fn describe_transport_error(error: &reqwest::Error) -> String {
    let mut causes: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(current) = source {
        let text = current.to_string();
        // hyper's "client error (Connect)" says nothing its causes do not say better; hyper and
        // io errors often repeat their inner error's text.
        let wrapper_only = text.starts_with("client error (") && current.source().is_some();
        if !wrapper_only && !causes.iter().any(|seen| seen.contains(&text)) {
            causes.push(text);
        }
        source = current.source();
    }
    // The handshake failure sits inside an io::Error, whose `source()` skips it.
    if let Some(tls) = tls_error(error) {
        let tls = tls.to_string();
        if !causes.iter().any(|seen| seen.contains(&tls)) {
            causes.push(tls);
        }
    }
    if causes.is_empty() {
        let kind = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "could not connect"
        } else if error.is_builder() {
            "invalid request"
        } else if error.is_redirect() {
            "too many redirects"
        } else {
            "request failed"
        };
        return kind.to_owned();
    }
    causes.join(": ")
}

/// `GET https://host/path`: how log lines and messages name a request.
pub fn request_label(method: &Method, url: &Url) -> String {
    format!("{method} {}", url_without_query(url))
}

/// The URL without user name, password, query string and fragment, any of which may carry
/// credentials.
pub fn url_without_query(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    // Only fails for URLs that cannot have credentials in the first place.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// A URL given as text, as it may be shown: parsed, without user information, query and
/// fragment (see [`url_without_query`]); text that does not parse keeps everything but the
/// credentials of any URL in it.
pub fn shown_url(text: &str) -> String {
    match Url::parse(text.trim()) {
        Ok(url) => url_without_query(&url),
        Err(_) => crate::core::secret::redact_url_credentials(text),
    }
}

/// `404 Not Found`.
pub fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&earlier, now),
            Some(Duration::ZERO),
            "past = now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn rate_limit_reset_is_epoch_seconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_rate_limit_reset("1700000060", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_rate_limit_reset("1600000000", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_rate_limit_reset("tomorrow", now), None);
    }

    #[test]
    fn which_statuses_are_retried() {
        let none = HeaderMap::new();
        for code in [429, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(is_retryable_status(status, &none), "{code}");
        }
        for code in [
            200, 201, 204, 301, 304, 400, 401, 403, 404, 409, 410, 422, 501, 505,
        ] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(!is_retryable_status(status, &none), "{code}");
        }
        let exhausted = headers(&[("x-ratelimit-remaining", "0")]);
        assert!(is_retryable_status(StatusCode::FORBIDDEN, &exhausted));
        let secondary = headers(&[("retry-after", "60")]);
        assert!(is_retryable_status(StatusCode::FORBIDDEN, &secondary));
        let plenty = headers(&[("x-ratelimit-remaining", "4999")]);
        assert!(
            !is_retryable_status(StatusCode::FORBIDDEN, &plenty),
            "a real 403"
        );
    }

    #[test]
    fn the_server_wait_prefers_retry_after_then_the_rate_limit_reset() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let both = headers(&[
            ("retry-after", "5"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000600"),
        ]);
        let wait = requested_wait(StatusCode::FORBIDDEN, &both, now).unwrap();
        assert_eq!(wait.wait, Duration::from_secs(5));
        assert!(wait.rate_limited);
        let reset_only = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000600"),
        ]);
        let wait = requested_wait(StatusCode::FORBIDDEN, &reset_only, now).unwrap();
        assert_eq!(wait.wait, Duration::from_secs(600));
        assert!(wait.rate_limited);
        let not_exhausted = headers(&[
            ("x-ratelimit-remaining", "10"),
            ("x-ratelimit-reset", "1700000600"),
        ]);
        assert_eq!(
            requested_wait(StatusCode::FORBIDDEN, &not_exhausted, now),
            None
        );
        let outage = headers(&[("retry-after", "30")]);
        let wait = requested_wait(StatusCode::SERVICE_UNAVAILABLE, &outage, now).unwrap();
        assert_eq!(wait.wait, Duration::from_secs(30));
        assert!(
            !wait.rate_limited,
            "a 503 asking for patience is not a rate limit"
        );
    }

    #[test]
    fn urls_are_shown_without_credentials_query_or_fragment() {
        let url = Url::parse("https://user:pw@example.com/a/b?token=s3cret#frag").unwrap();
        assert_eq!(url_without_query(&url), "https://example.com/a/b");
        assert_eq!(
            request_label(&Method::GET, &url),
            "GET https://example.com/a/b"
        );
    }

    #[test]
    fn a_body_is_never_cut_through_a_secret() {
        let secret = "SECRET-TOKEN";
        let text = format!("{}{secret} tail", "x".repeat(10));
        let (shown, cut) = cut_outside_secrets(&text, 15, &[secret]);
        assert!(cut);
        assert_eq!(
            shown,
            "x".repeat(10),
            "cut before the secret, not inside it"
        );
        let (shown, cut) = cut_outside_secrets("héllo", 2, &[]);
        assert!(cut);
        assert_eq!(shown, "h", "cut on a character boundary");
        assert_eq!(
            cut_outside_secrets("short", 100, &[secret]),
            ("short", false)
        );
    }

    #[test]
    fn the_user_agent_names_stepkit_and_its_version() {
        assert_eq!(USER_AGENT, format!("stepkit/{}", env!("CARGO_PKG_VERSION")));
    }
}
