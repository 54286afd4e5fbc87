//! Error kinds and the exit codes they map to.
//!
//! Library code attaches a [`Kind`] to the root cause of a failure with [`Error`]; `anyhow`
//! context may wrap it any number of times. The binary walks the chain once, in [`exit_code`],
//! so every command exits with the same table (documented in `stepkit --help` and the README).

use std::fmt;

/// What went wrong, in the terms of the exit-code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad usage or bad input: a flag, a file or a value that cannot be used as given.
    Usage,
    /// A remote service kept failing (network, 5xx, rate limit) until retries ran out.
    Remote,
    /// A deadline passed, or a termination signal arrived, while waiting.
    Deadline,
    /// A remote service refused: authentication, permission, or the thing does not exist.
    Refused,
    /// A local I/O failure, including a result that does not fit Tekton's size budget.
    LocalIo,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Usage => 2,
            Kind::Remote => 3,
            Kind::Deadline => 4,
            Kind::Refused => 5,
            Kind::LocalIo => 6,
        }
    }
}

/// How a command that finished judged its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Exit 0: the outcome is good, or the command was told not to judge it.
    Pass,
    /// Exit 1: findings at the failing level, a failed job, a rejection, a result in --fail-on.
    Fail,
}

impl Verdict {
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
        }
    }
}

/// The exit-code table, as printed by `stepkit --help`.
pub const EXIT_CODE_TABLE: &str = "\
Exit codes:
  0  done, and the outcome is good (or the command was told not to judge it)
  1  done, and the outcome is bad (findings, a failed job, a rejection, a result in --fail-on)
  2  bad usage or bad input (unknown flag, unreadable or invalid file, reference or value)
  3  a remote service failed after retries (network, 5xx, rate limit beyond the deadline)
  4  a deadline passed while waiting (or SIGTERM arrived)
  5  a remote service refused (authentication, permission, not found)
  6  a local I/O failure (cannot read or write a file, a result over Tekton's size budget)";

/// A failure with a kind. Its message says what was being done, with which input, and what to
/// do next; context added by callers is printed before it.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    message: String,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Kind::Usage, message)
    }

    pub fn remote(message: impl Into<String>) -> Self {
        Error::new(Kind::Remote, message)
    }

    pub fn deadline(message: impl Into<String>) -> Self {
        Error::new(Kind::Deadline, message)
    }

    pub fn refused(message: impl Into<String>) -> Self {
        Error::new(Kind::Refused, message)
    }

    pub fn local_io(message: impl Into<String>) -> Self {
        Error::new(Kind::LocalIo, message)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand for tagging a fallible call with a kind and a message in one step.
pub trait ResultExt<T> {
    /// On error, wrap it as `kind` with `message`, keeping the original error as its cause.
    fn or_kind(self, kind: Kind, message: impl FnOnce() -> String) -> anyhow::Result<T>;
}

impl<T, E> ResultExt<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn or_kind(self, kind: Kind, message: impl FnOnce() -> String) -> anyhow::Result<T> {
        self.map_err(|cause| anyhow::Error::new(cause).context(Error::new(kind, message())))
    }
}

/// The kind of the outermost tagged error in the chain, if any.
pub fn kind_of(error: &anyhow::Error) -> Option<Kind> {
    // anyhow finds context values through every layer of context; plain causes are in the chain.
    error
        .downcast_ref::<Error>()
        .or_else(|| {
            error
                .chain()
                .find_map(|cause| cause.downcast_ref::<Error>())
        })
        .map(Error::kind)
}

/// Maps a failure to its exit code. Untagged failures are classified by their root cause:
/// file-system errors are local I/O, HTTP errors are remote, anything else is treated as bad input.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if let Some(kind) = kind_of(error) {
        return kind.exit_code();
    }
    let root = error.root_cause();
    if root.downcast_ref::<std::io::Error>().is_some() {
        Kind::LocalIo.exit_code()
    } else if root.downcast_ref::<reqwest::Error>().is_some() {
        Kind::Remote.exit_code()
    } else {
        Kind::Usage.exit_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn each_kind_has_its_documented_exit_code() {
        let table = [
            (Kind::Usage, 2),
            (Kind::Remote, 3),
            (Kind::Deadline, 4),
            (Kind::Refused, 5),
            (Kind::LocalIo, 6),
        ];
        for (kind, code) in table {
            assert_eq!(kind.exit_code(), code, "{kind:?}");
            assert!(
                EXIT_CODE_TABLE.contains(&format!("  {code}  ")),
                "{code} is documented"
            );
        }
    }

    #[test]
    fn the_kind_survives_added_context() {
        let err = anyhow::Error::new(Error::refused("token expired"))
            .context("triggering job")
            .context("prowjob trigger");
        assert_eq!(exit_code(&err), 5);
        assert_eq!(kind_of(&err), Some(Kind::Refused));
    }

    #[test]
    fn or_kind_keeps_the_cause_and_sets_the_kind() {
        let io: Result<(), std::io::Error> = Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ));
        let err = io
            .or_kind(Kind::Usage, || "cannot read --from conftest x.json".into())
            .unwrap_err();
        assert_eq!(
            exit_code(&err),
            2,
            "the explicit kind wins over the io root cause"
        );
        let text = format!("{err:#}");
        assert!(
            text.contains("cannot read --from conftest x.json"),
            "{text}"
        );
        assert!(text.contains("no such file"), "{text}");
    }

    #[test]
    fn untagged_errors_are_classified_by_root_cause() {
        let io = anyhow::Error::new(std::io::Error::other("disk full")).context("writing");
        assert_eq!(exit_code(&io), 6);
        let parse = serde_json::from_str::<u32>("x")
            .context("parsing")
            .unwrap_err();
        assert_eq!(exit_code(&parse), 2);
    }
}
