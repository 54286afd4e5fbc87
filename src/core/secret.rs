//! Secrets (tokens, passwords) read from the environment or a file and never shown.
//!
//! A `Secret` prints as `[redacted]` through `Debug` and `Display`, so it cannot leak through a
//! log line or an error message by accident; the value is reached only through [`Secret::expose`],
//! at the one place that puts it on the wire. Errors about a secret name its source, never its
//! content.

use std::fmt;
use std::path::Path;

use crate::core::error::{Error, Kind, ResultExt};

const REDACTED: &str = "[redacted]";

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value, trimming one trailing newline (`\n` or `\r\n`), as `echo` and most secret
    /// files leave one. Other whitespace is kept: it may be part of the secret.
    pub fn new(value: impl Into<String>) -> Secret {
        let mut value = value.into();
        if value.ends_with('\n') {
            value.pop();
            if value.ends_with('\r') {
                value.pop();
            }
        }
        Secret(value)
    }

    /// Reads the environment variable `name`; `Ok(None)` when unset or empty.
    pub fn from_env(name: &str) -> anyhow::Result<Option<Secret>> {
        match std::env::var(name) {
            Ok(value) if value.is_empty() => Ok(None),
            Ok(value) => Ok(Some(Secret::new(value))),
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
        let secret = Secret::new(value);
        if secret.0.is_empty() {
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
        &self.0
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
    fn trims_exactly_one_trailing_newline() {
        assert_eq!(Secret::new("tok\n").expose(), "tok");
        assert_eq!(Secret::new("tok\r\n").expose(), "tok");
        assert_eq!(Secret::new("tok\n\n").expose(), "tok\n");
        assert_eq!(Secret::new(" tok ").expose(), " tok ");
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
