//! Reading what the proxy, the transcoder and Gangway answer, and what it means: an oauth-proxy
//! login page (a refused token), a google.rpc.Status error, a missing ProwJob passed through as
//! a 500.

use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Response, StatusCode, Url};
use serde_json::Value;

use crate::core::error::Kind;
use crate::core::http::read_body;
pub(super) use crate::core::http::{is_tls_failure, status_text};

/// The largest answer read: a job's run list is the biggest, a few hundred KiB in practice.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// An answer read whole.
pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// Where the answer came from, after redirects.
    pub url: Url,
}

impl Answer {
    /// Reads the whole answer, up to [`MAX_ANSWER_BYTES`]. The error says what broke off,
    /// without the URL (the caller names the request).
    pub async fn read(mut response: Response) -> Result<Answer, String> {
        let status = response.status();
        let headers = response.headers().clone();
        let url = response.url().clone();
        let bytes = read_body(&mut response, MAX_ANSWER_BYTES).await?;
        Ok(Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            url,
        })
    }

    pub fn is_html(&self) -> bool {
        let html_type = self
            .headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.to_ascii_lowercase().contains("text/html"));
        let start: String = self
            .body
            .trim_start()
            .chars()
            .take(20)
            .collect::<String>()
            .to_ascii_lowercase();
        html_type || start.starts_with("<!doctype html") || start.starts_with("<html")
    }

    /// What oauth-proxy sends instead of passing the request on: a redirect to its sign-in
    /// page (followed or not), or the page itself with 200, 401 or 403.
    pub fn is_login_page(&self) -> bool {
        self.status.is_redirection()
            || (self.is_html() && matches!(self.status.as_u16(), 200..=299 | 401 | 403))
    }

    /// A google.rpc.Status body (`{"code":3,"message":"..."}`), or the `grpc-status` /
    /// `grpc-message` headers a transcoder sends without one.
    pub fn gangway_error(&self) -> Option<GangwayError> {
        if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&self.body) {
            if let Some(message) = object.get("message").and_then(Value::as_str) {
                return Some(GangwayError {
                    code: object.get("code").and_then(Value::as_i64),
                    message: message.to_owned(),
                });
            }
        }
        let header = |name: &str| self.headers.get(name).and_then(|v| v.to_str().ok());
        let message = header("grpc-message").map(percent_decode)?;
        Some(GangwayError {
            code: header("grpc-status").and_then(|code| code.trim().parse().ok()),
            message,
        })
    }

    /// Whether this is the raw Kubernetes "not found" that Gangway passes through for a
    /// missing ProwJob (`prowjobs.prow.k8s.io "<id>" not found`, or gRPC NotFound).
    pub fn says_not_found(&self) -> bool {
        if !matches!(self.status.as_u16(), 404 | 500) {
            return false;
        }
        match self.gangway_error() {
            Some(error) => error.code == Some(5) || error.message.contains("not found"),
            None => !self.is_html() && self.body.contains("not found"),
        }
    }
}

/// The error Gangway returned, as the transcoder printed it.
pub(super) struct GangwayError {
    pub code: Option<i64>,
    pub message: String,
}

/// Decodes `%XX` escapes (as in `grpc-message`); bad escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).ok();
            if let Some(byte) = hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                decoded.push(byte);
                index += 3;
                continue;
            }
        }
        decoded.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

pub(super) fn kind_for_status(status: StatusCode) -> Kind {
    match status.as_u16() {
        401 | 403 | 404 | 410 => Kind::Refused,
        400..=499 if status.as_u16() != 429 => Kind::Usage,
        _ => Kind::Remote,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_messages_are_percent_decoded() {
        assert_eq!(
            percent_decode("not%20found%3A%20%22x%22"),
            "not found: \"x\""
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
