//! Secrets (tokens, passwords) read from the environment or a file and never shown.
//!
//! A `Secret` prints as `[redacted]` through `Debug` and `Display`, so it cannot leak through a
//! log line or an error message by accident; the value is reached only through [`Secret::expose`],
//! at the one place that puts it on the wire. Errors about a secret name its source, never its
//! content.
//!
//! Secrets also hide in URLs (`https://user:password@host`): [`redact_url_credentials`] takes
//! the user information out of every URL in a text before it is printed, logged or written.

use std::fmt;
use std::path::Path;

use crate::core::error::{Error, Kind, ResultExt};

const REDACTED: &str = "[redacted]";

#[derive(Clone)]
pub struct Secret {
    value: String,
    /// Where it came from (`environment variable GANGWAY_TOKEN`, `file /var/run/token`), for
    /// errors about it.
    source: Option<String>,
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.value == other.value
    }
}

impl Eq for Secret {}

impl Secret {
    /// Wraps a value, trimming trailing whitespace and line breaks, as `echo`, editors and
    /// `kubectl create secret --from-file` leave them. Leading and inner whitespace is kept,
    /// so that [`Secret::bearer_token`] can refuse it.
    pub fn new(value: impl Into<String>) -> Secret {
        let mut value = value.into();
        value.truncate(value.trim_end().len());
        Secret {
            value,
            source: None,
        }
    }

    /// The same secret, saying where it came from in errors about it.
    pub fn from_source(mut self, source: impl Into<String>) -> Secret {
        self.source = Some(source.into());
        self
    }

    /// Where it came from, for messages: `environment variable GITHUB_TOKEN`, `file PATH`.
    pub fn source(&self) -> &str {
        self.source.as_deref().unwrap_or("the configured secret")
    }

    /// The value as a bearer token: visible ASCII only, as an HTTP header needs it (`A\nB` or
    /// an inner space is not a token, and sending it would fail later, less clearly). The error
    /// names the source and what is wrong, never the value.
    pub fn bearer_token(&self) -> anyhow::Result<&str> {
        let problem = if self.value.is_empty() {
            Some("is empty")
        } else {
            self.value.chars().find_map(|c| match c {
                '\n' | '\r' => Some("contains a line break"),
                ' ' | '\t' => Some("contains a space or a tab"),
                c if c.is_ascii_control() => Some("contains a control character"),
                c if !c.is_ascii() => Some("contains a character that is not ASCII"),
                _ => None,
            })
        };
        match problem {
            None => Ok(&self.value),
            Some(problem) => Err(Error::usage(format!(
                "the token from {} {problem}, so it cannot be sent as an HTTP header (does the Secret hold more than the token?)",
                self.source()
            ))
            .into()),
        }
    }

    /// Reads the environment variable `name`; `Ok(None)` when unset or empty.
    pub fn from_env(name: &str) -> anyhow::Result<Option<Secret>> {
        match std::env::var(name) {
            Ok(value) if value.is_empty() => Ok(None),
            Ok(value) => Ok(Some(
                Secret::new(value).from_source(format!("environment variable {name}")),
            )),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(Error::usage(format!("environment variable {name} is not valid UTF-8")).into())
            }
        }
    }

    /// Reads a secret file (a mounted Kubernetes Secret, say). An empty file is an error: it is
    /// almost always a missing key in the Secret, and sending an empty token fails later and
    /// less clearly.
    pub fn from_file(path: &Path) -> anyhow::Result<Secret> {
        let bytes = std::fs::read(path).or_kind(Kind::Usage, || {
            format!("cannot read secret file {}", path.display())
        })?;
        let value = String::from_utf8(bytes).map_err(|_| {
            Error::usage(format!("secret file {} is not valid UTF-8", path.display()))
        })?;
        let secret = Secret::new(value).from_source(format!("file {}", path.display()));
        if secret.value.is_empty() {
            return Err(Error::usage(format!(
                "secret file {} is empty (is the key present in the mounted Secret?)",
                path.display()
            ))
            .into());
        }
        Ok(secret)
    }

    /// The file if one is given, else the environment variable; `Ok(None)` when neither is set.
    pub fn from_file_or_env(file: Option<&Path>, env: &str) -> anyhow::Result<Option<Secret>> {
        match file {
            Some(path) => Secret::from_file(path).map(Some),
            None => Secret::from_env(env),
        }
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// `text` with every occurrence of the secret replaced, for echoing remote answers (which
    /// sometimes repeat what they were sent) into errors and logs.
    pub fn redact(&self, text: &str) -> String {
        redact_all(text, std::slice::from_ref(self))
    }
}

/// `text` with every occurrence of each secret replaced by `[redacted]`.
pub fn redact_all(text: &str, secrets: &[Secret]) -> String {
    let values: Vec<&str> = secrets.iter().map(Secret::expose).collect();
    redact_values(text, &values)
}

/// `text` with every non-empty string of `values` replaced by `[redacted]`, longest first, so a
/// secret that contains another is replaced whole.
pub fn redact_values(text: &str, values: &[&str]) -> String {
    let mut values: Vec<&str> = values.iter().copied().filter(|v| !v.is_empty()).collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values
        .into_iter()
        .fold(text.to_owned(), |text, value| text.replace(value, REDACTED))
}

/// `text` with the user information of every URL in it (`postgres://admin:PW@db` becomes
/// `postgres://[redacted]@db`). The authority ends where RFC 3986 ends it (`/`, `?`, `#`), or
/// at whitespace or a quote in running text.
pub fn redact_url_credentials(text: &str) -> String {
    redact_url_credentials_with(text, REDACTED)
}

/// [`redact_url_credentials`] with another replacement (the issue body says `[hidden]`).
pub fn redact_url_credentials_with(text: &str, replacement: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find("://") {
        let scheme_len = rest[..found]
            .bytes()
            .rev()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            .count();
        let authority_start = found + 3;
        out.push_str(&rest[..authority_start]);
        rest = &rest[authority_start..];
        if scheme_len == 0 {
            continue;
        }
        let authority_len = rest
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '`' | '<' | '>') || c.is_whitespace()
            })
            .unwrap_or(rest.len());
        if let Some(at) = rest[..authority_len].rfind('@') {
            out.push_str(replacement);
            rest = &rest[at..];
        }
    }
    out.push_str(rest);
    out
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::exit_code;

    const CANARY: &str = "canary-token-CANARYcanary0123456789abcdef";

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new(CANARY);
        let shown = format!("{secret} {secret:?} {:?}", Some(&secret));
        assert!(!shown.contains(CANARY), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert_eq!(secret.expose(), CANARY);
    }

    #[test]
    fn trims_trailing_whitespace_and_line_breaks_only() {
        assert_eq!(Secret::new("tok\n").expose(), "tok");
        assert_eq!(Secret::new("tok\r\n").expose(), "tok");
        assert_eq!(Secret::new("TOKEN \n\n").expose(), "TOKEN");
        assert_eq!(Secret::new(" tok ").expose(), " tok");
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_bad_input_naming_the_source_not_the_value() {
        let ok = Secret::new("sha256~abc_DEF-123\n").from_source("file /t");
        assert_eq!(ok.bearer_token().unwrap(), "sha256~abc_DEF-123");
        for (value, problem) in [
            ("CANARY\nB", "line break"),
            ("CANARY\rB", "line break"),
            ("CANARY B", "space"),
            (" CANARY", "space"),
            ("CANARY\u{0}", "control character"),
            ("CANARYé", "not ASCII"),
        ] {
            let secret = Secret::new(value).from_source("environment variable GANGWAY_TOKEN");
            let error = secret.bearer_token().unwrap_err();
            let text = format!("{error:#}");
            assert_eq!(exit_code(&error), 2, "{value:?}");
            assert!(
                text.contains("environment variable GANGWAY_TOKEN"),
                "{text}"
            );
            assert!(text.contains(problem), "{value:?}: {text}");
            assert!(!text.contains("CANARY"), "{text}");
        }
    }

    #[test]
    fn url_credentials_are_redacted_wherever_they_are_in_a_text() {
        let cases = [
            ("http://u:PW@host/a?b", "http://[redacted]@host/a?b"),
            (
                "see postgres://admin:PW@db:5432/x and https://user@h",
                "see postgres://[redacted]@db:5432/x and https://[redacted]@h",
            ),
            ("url: \"https://a:b@c\"", "url: \"https://[redacted]@c\""),
            (
                "https://host/path@not-userinfo",
                "https://host/path@not-userinfo",
            ),
            ("git@github.com:o/r.git", "git@github.com:o/r.git"),
            ("://x:y@z and plain", "://x:y@z and plain"),
            ("é https://ü:p@é/", "é https://[redacted]@é/"),
        ];
        for (text, shown) in cases {
            assert_eq!(redact_url_credentials(text), shown, "{text}");
        }
        assert_eq!(
            redact_url_credentials_with("https://u:p@h", "[hidden]"),
            "https://[hidden]@h"
        );
    }

    #[test]
    fn reads_a_file_and_refuses_an_empty_or_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, format!("{CANARY}\n")).unwrap();
        assert_eq!(Secret::from_file(&path).unwrap().expose(), CANARY);

        std::fs::write(&path, "\n").unwrap();
        let err = Secret::from_file(&path).unwrap_err();
        assert!(format!("{err:#}").contains("is empty"));
        assert_eq!(exit_code(&err), 2);

        let missing = dir.path().join("absent");
        let err = Secret::from_file(&missing).unwrap_err();
        assert!(format!("{err:#}").contains("cannot read secret file"));
        assert_eq!(exit_code(&err), 2);
    }

    #[test]
    fn file_wins_over_env_and_empty_env_is_unset() {
        let name = "STEPKIT_TEST_SECRET_FROM_ENV";
        std::env::set_var(name, format!("{CANARY}\n"));
        assert_eq!(Secret::from_env(name).unwrap().unwrap().expose(), CANARY);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "from-file").unwrap();
        let chosen = Secret::from_file_or_env(Some(&path), name)
            .unwrap()
            .unwrap();
        assert_eq!(chosen.expose(), "from-file");
        std::env::set_var(name, "");
        assert_eq!(Secret::from_env(name).unwrap(), None);
        std::env::remove_var(name);
        assert_eq!(Secret::from_file_or_env(None, name).unwrap(), None);
    }

    #[test]
    fn redacts_every_occurrence() {
        let secret = Secret::new(CANARY);
        let text = format!("bad credentials {CANARY} (token {CANARY})");
        assert_eq!(
            secret.redact(&text),
            "bad credentials [redacted] (token [redacted])"
        );
        assert_eq!(redact_all("plain", &[Secret::new("")]), "plain");
    }

    #[test]
    fn a_secret_containing_another_is_replaced_whole_and_empty_ones_are_ignored() {
        let text = redact_values("token abc and abcdef, twice abc", &["", "abc", "abcdef"]);
        assert_eq!(text, "token [redacted] and [redacted], twice [redacted]");
    }
}
