//! Turning what oci-client reports (HTTP statuses, registry error codes, transport and digest
//! errors) into a judged [`Failure`]: retry it, or end with which stepkit error and exit code.

use oci_client::errors::{OciDistributionError, OciErrorCode};

/// How much of a registry's error body goes into a message.
const ERROR_BODY_LIMIT: usize = 300;

/// How one failed attempt is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FailureKind {
    /// Network error, timeout, 408, 429, 5xx, a lost upload session: try again.
    Transient,
    /// 401, or credentials the registry would not take.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 404, or the registry's "unknown" error codes.
    NotFound,
    /// Content whose digest is not the one asked for.
    DigestMismatch,
    /// The registry refused the request as malformed (bad name or tag).
    Invalid,
    /// Any other answer a retry would not change.
    Remote,
    /// What the registry sent as a manifest is not usable here (an index, odd layers).
    BadContent,
    /// What the registry sent as a manifest is not even a JSON manifest document.
    NotJson,
    /// A local file could not be read or written.
    LocalIo,
}

#[derive(Debug)]
pub(super) struct Failure {
    pub(super) kind: FailureKind,
    pub(super) detail: String,
    /// The HTTP status the registry answered with, if it answered.
    pub(super) status: Option<u16>,
    /// When transient failures went on until the retry policy gave up: its error, which says
    /// so (kind Transient).
    pub(super) gave_up: Option<anyhow::Error>,
}

impl Failure {
    pub(super) fn new(kind: FailureKind, detail: impl Into<String>) -> Failure {
        Failure {
            kind,
            detail: detail.into(),
            status: None,
            gave_up: None,
        }
    }

    fn from_status(code: u16, detail: impl Into<String>) -> Failure {
        Failure {
            status: Some(code),
            ..Failure::new(kind_for_status(code), detail)
        }
    }
}

fn kind_for_status(code: u16) -> FailureKind {
    match code {
        401 => FailureKind::Unauthorized,
        403 => FailureKind::Forbidden,
        404 | 410 => FailureKind::NotFound,
        408 | 429 => FailureKind::Transient,
        500..=599 => FailureKind::Transient,
        400..=499 => FailureKind::Invalid,
        _ => FailureKind::Remote,
    }
}

fn status_text(code: u16) -> String {
    match reqwest::StatusCode::from_u16(code) {
        Ok(status) => format!("HTTP {status}"),
        Err(_) => format!("HTTP {code}"),
    }
}

/// A transport error as text: what failed and the innermost cause, without the URL.
fn describe_reqwest(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What to do about a TLS handshake failure in `error`'s causes, if it is one.
fn tls_hint(error: &reqwest::Error) -> Option<&'static str> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        // io::Error hides its inner error from source() (and may wrap another io::Error):
        // look inside it too.
        let mut candidate = Some(cause);
        while let Some(current) = candidate {
            if let Some(tls) = current.downcast_ref::<rustls::Error>() {
                return Some(match tls {
                    rustls::Error::InvalidCertificate(_) => {
                        " (the registry's certificate is not trusted: pass --ca-file with the CA that signed it)"
                    }
                    rustls::Error::InvalidMessage(_) => {
                        " (the registry did not answer in TLS: if it serves plain HTTP, pass --insecure-registry HOST:PORT)"
                    }
                    _ => {
                        " (the TLS handshake failed: check --ca-file, or pass --insecure-registry HOST:PORT for a plain-HTTP registry)"
                    }
                });
            }
            candidate = current
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|inner| inner as &(dyn std::error::Error + 'static));
        }
        source = cause.source();
    }
    None
}

fn shorten(text: &str) -> String {
    let text = text.trim();
    if text.len() <= ERROR_BODY_LIMIT {
        return text.to_owned();
    }
    let mut end = ERROR_BODY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} [...]", &text[..end])
}

/// Sorts an oci-client error into a [`Failure`].
pub(super) fn classify(error: OciDistributionError) -> Failure {
    match error {
        OciDistributionError::RequestError(error) => match error.status() {
            Some(status) => Failure::from_status(status.as_u16(), status_text(status.as_u16())),
            None if error.is_builder() => {
                Failure::new(FailureKind::Remote, describe_reqwest(error))
            }
            None => match tls_hint(&error) {
                // A handshake that failed fails the same way next time.
                Some(hint) => Failure::new(
                    FailureKind::Remote,
                    format!("{}{hint}", describe_reqwest(error)),
                ),
                None => Failure::new(FailureKind::Transient, describe_reqwest(error)),
            },
        },
        OciDistributionError::ServerError { code, message, .. } => {
            let mut detail = status_text(code);
            if !message.trim().is_empty() {
                detail.push_str(": ");
                detail.push_str(&shorten(&message));
            }
            Failure::from_status(code, detail)
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let kind = envelope
                .errors
                .iter()
                .map(|error| kind_for_code(&error.code))
                .min_by_key(|kind| match kind {
                    // When several codes come back, the most specific refusal wins.
                    FailureKind::Unauthorized => 0,
                    FailureKind::Forbidden => 1,
                    FailureKind::NotFound => 2,
                    _ => 3,
                })
                .unwrap_or(FailureKind::Remote);
            let detail: Vec<String> = envelope
                .errors
                .iter()
                .map(|error| {
                    let code = serde_json::to_value(&error.code)
                        .ok()
                        .and_then(|value| value.as_str().map(str::to_owned))
                        .unwrap_or_else(|| format!("{:?}", error.code));
                    format!("{code}: {}", shorten(&error.message))
                })
                .collect();
            Failure::new(kind, format!("registry error {}", detail.join("; ")))
        }
        OciDistributionError::UnauthorizedError { .. } => {
            Failure::new(FailureKind::Unauthorized, status_text(401))
        }
        OciDistributionError::AuthenticationFailure(reason) => Failure::new(
            FailureKind::Unauthorized,
            format!(
                "the token service refused the credentials: {}",
                shorten(&reason)
            ),
        ),
        OciDistributionError::DigestError(error) => {
            Failure::new(FailureKind::DigestMismatch, describe_digest_error(&error))
        }
        OciDistributionError::IoError(error) => classify_io(error),
        OciDistributionError::ImageManifestNotFoundError(detail) => {
            Failure::new(FailureKind::NotFound, detail)
        }
        other => Failure::new(FailureKind::Remote, other.to_string()),
    }
}

fn kind_for_code(code: &OciErrorCode) -> FailureKind {
    match code {
        OciErrorCode::Unauthorized => FailureKind::Unauthorized,
        OciErrorCode::Denied => FailureKind::Forbidden,
        OciErrorCode::BlobUnknown
        | OciErrorCode::ManifestUnknown
        | OciErrorCode::NameUnknown
        | OciErrorCode::NotFound => FailureKind::NotFound,
        // A lost upload session (the registry restarted) is cured by starting again.
        OciErrorCode::Toomanyrequests | OciErrorCode::BlobUploadUnknown => FailureKind::Transient,
        OciErrorCode::NameInvalid | OciErrorCode::TagInvalid => FailureKind::Invalid,
        _ => FailureKind::Remote,
    }
}

fn describe_digest_error(error: &oci_client::errors::DigestError) -> String {
    match error {
        oci_client::errors::DigestError::VerificationError { expected, actual } => {
            format!("the registry sent content whose digest is {actual}, not {expected}")
        }
        other => other.to_string(),
    }
}

/// An error from a blob stream: a digest check that failed, or the connection.
pub(super) fn classify_io(error: std::io::Error) -> Failure {
    if let Some(digest_error) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<oci_client::errors::DigestError>())
    {
        return Failure::new(
            FailureKind::DigestMismatch,
            describe_digest_error(digest_error),
        );
    }
    if let Some(reqwest_error) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
    {
        if let Some(status) = reqwest_error.status() {
            return Failure::from_status(status.as_u16(), status_text(status.as_u16()));
        }
    }
    let detail = match error.into_inner() {
        Some(inner) => match inner.downcast::<reqwest::Error>() {
            Ok(reqwest_error) => describe_reqwest(*reqwest_error),
            Err(other) => other.to_string(),
        },
        None => "the connection failed".to_owned(),
    };
    Failure::new(FailureKind::Transient, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_registry_codes_are_classified() {
        assert_eq!(kind_for_status(401), FailureKind::Unauthorized);
        assert_eq!(kind_for_status(403), FailureKind::Forbidden);
        assert_eq!(kind_for_status(404), FailureKind::NotFound);
        assert_eq!(kind_for_status(429), FailureKind::Transient);
        assert_eq!(kind_for_status(503), FailureKind::Transient);
        assert_eq!(kind_for_status(400), FailureKind::Invalid);
        let failure = classify(OciDistributionError::ServerError {
            code: 502,
            url: "http://r/v2/x/blobs/uploads/abc?_state=SECRETSTATE".into(),
            message: "bad gateway".into(),
        });
        assert_eq!(failure.kind, FailureKind::Transient);
        assert_eq!(failure.detail, "HTTP 502 Bad Gateway: bad gateway");
        let envelope: oci_client::errors::OciEnvelope = serde_json::from_str(
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        )
        .unwrap();
        let failure = classify(OciDistributionError::RegistryError {
            envelope,
            url: "u".into(),
        });
        assert_eq!(failure.kind, FailureKind::NotFound);
        assert_eq!(
            failure.detail,
            "registry error MANIFEST_UNKNOWN: manifest unknown"
        );
        let digest_io = std::io::Error::other(oci_client::errors::DigestError::VerificationError {
            expected: "sha256:a".into(),
            actual: "sha256:b".into(),
        });
        assert_eq!(classify_io(digest_io).kind, FailureKind::DigestMismatch);
    }
}
