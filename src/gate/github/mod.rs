//! The GitHub REST calls an approval gate makes, and nothing more: labels, issues, comments,
//! events, collaborator permissions and team memberships of one repository.
//!
//! octocrab is the transport (the token, the base URL with a GHES path prefix kept, rustls with
//! ring); the rest is ours, in four parts:
//! - `transport`: one request at a time, through the retry loop of `core::retry`. A GET is
//!   retried on 5xx and transport errors and waits out rate limits (`retry-after`, then
//!   `x-ratelimit-reset`, then 60 s doubling), within `--retries` and the deadlines. A POST or
//!   PATCH is sent once, at least `mutation_spacing` after the previous one; only a rate-limit
//!   refusal, which GitHub gives before doing anything, is sent again. A create whose answer is
//!   lost comes back as [`CreateOutcome::Ambiguous`]: look before creating again;
//! - `classify`: what an answer means (a rate limit, a refusal, bad input) and its error;
//! - `resources`: the calls themselves. Pages are followed through `Link: rel="next"`, never
//!   built by hand, and the search API is never used (its index lags behind writes);
//! - `wire`: GitHub's JSON, read into small structs of our own, so a value GitHub adds later (a
//!   new `state_reason`, say) cannot make an issue unreadable; and the URLs and links we parse.
//!
//! Errors name the method and URL (never the query) and GitHub's message, and never carry the
//! token, a header or a request body.

mod classify;
mod resources;
mod transport;
mod wire;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use octocrab::Octocrab;
use reqwest::Url;
use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::core::error::Error;
use crate::core::http::install_crypto_provider;
use crate::core::retry::RetryPolicy;
use crate::core::secret::Secret;
use classify::error_chain_text;
pub use wire::{parse_api_url, parse_issue_url, IssueRef};

/// github.com's API; GitHub Enterprise Server serves it under `https://HOST/api/v3`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The REST API version every request asks for, pinned so a new default cannot change answers.
pub const API_VERSION: &str = "2022-11-28";

/// Largest time allowed to open a connection, whatever the request timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `owner/name` of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl RepoName {
    /// Whether `other` names the same repository (GitHub compares names case-insensitively).
    pub fn same_as(&self, other: &RepoName) -> bool {
        self.owner.eq_ignore_ascii_case(&other.owner) && self.name.eq_ignore_ascii_case(&other.name)
    }
}

impl FromStr for RepoName {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<RepoName> {
        let trimmed = text.trim();
        let hint = if trimmed.contains("://") {
            " (give OWNER/NAME, not a URL)"
        } else {
            ""
        };
        let invalid = || {
            anyhow::Error::new(Error::usage(format!(
                "invalid repository {text:?}: expected OWNER/NAME, like octo-org/octo-repo{hint}"
            )))
        };
        let (owner, name) = trimmed.split_once('/').ok_or_else(invalid)?;
        let part_ok = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        if !part_ok(owner) || !part_ok(name) {
            return Err(invalid());
        }
        Ok(RepoName {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Where GitHub is, who we are there, and how patient to be.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    /// `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server.
    pub api_url: String,
    pub token: Secret,
    pub repo: RepoName,
    /// Time allowed for one attempt, from sending to the end of the answer.
    pub request_timeout: Duration,
    /// Time allowed for one request, retries and rate-limit waits included.
    pub deadline: Duration,
    /// Retries of a failed GET after the first attempt (`None`: as many as `deadline` allows).
    pub retries: Option<u32>,
    /// Smallest gap between two POST/PATCH requests (GitHub asks for at least a second).
    pub mutation_spacing: Duration,
    /// First pause before retrying a GET; it doubles, with jitter.
    pub retry_base_delay: Duration,
}

impl GitHubConfig {
    /// A configuration with the defaults: 30 s per attempt, 5 min per request and its retries,
    /// 1 s between mutations, retries from 1 s.
    pub fn new(api_url: impl Into<String>, token: Secret, repo: RepoName) -> GitHubConfig {
        GitHubConfig {
            api_url: api_url.into(),
            token,
            repo,
            request_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(5 * 60),
            retries: None,
            mutation_spacing: Duration::from_secs(1),
            retry_base_delay: Duration::from_secs(1),
        }
    }
}

/// Why an issue was closed (or reopened), as GitHub's `state_reason` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateReason {
    Completed,
    NotPlanned,
    Reopened,
    Duplicate,
    /// A value this version does not know; kept so the caller can say what it saw.
    Other(String),
}

impl StateReason {
    pub fn from_api(value: &str) -> StateReason {
        match value {
            "completed" => StateReason::Completed,
            "not_planned" => StateReason::NotPlanned,
            "reopened" => StateReason::Reopened,
            "duplicate" => StateReason::Duplicate,
            other => StateReason::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            StateReason::Completed => "completed",
            StateReason::NotPlanned => "not_planned",
            StateReason::Reopened => "reopened",
            StateReason::Duplicate => "duplicate",
            StateReason::Other(other) => other,
        }
    }
}

impl fmt::Display for StateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StateReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|value| StateReason::from_api(&value))
    }
}

/// A GitHub account as an issue, comment or event names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub login: String,
    /// An app or bot account (`type: Bot`, or a login ending in `[bot]`).
    pub is_bot: bool,
}

impl User {
    /// The account GitHub shows for a deleted user.
    fn ghost() -> User {
        User {
            login: "ghost".to_owned(),
            is_bot: false,
        }
    }
}

/// The fields of an issue the gate reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub html_url: String,
    pub open: bool,
    pub state_reason: Option<StateReason>,
    /// Who closed it; GitHub leaves this null sometimes: see [`GitHub::last_closer_from_events`].
    pub closed_by: Option<User>,
    pub user: User,
    pub labels: Vec<String>,
    pub body: Option<String>,
    pub created_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    /// Every pull request is also an issue to the issues API.
    pub is_pull_request: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub user: User,
    pub body: String,
    pub created_at: OffsetDateTime,
}

/// What a conditional read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched<T> {
    /// The current value, and its ETag for the next read.
    Found { value: T, etag: Option<String> },
    /// Unchanged since the ETag the caller gave (a 304, which costs no rate-limit quota).
    NotModified,
    /// It moved (a transferred issue): the value at its new place, with its new URL and number.
    Moved { value: T, etag: Option<String> },
    /// Deleted, or no longer visible to the token (404 or 410).
    Gone,
}

/// An issue to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIssue {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
}

/// How a create went.
#[derive(Debug)]
pub enum CreateOutcome {
    Created(Issue),
    /// The request may have created the issue (a timeout, a dropped connection, a 5xx, or an
    /// unreadable answer): list the labelled issues before creating again.
    Ambiguous(anyhow::Error),
}

/// Repository roles are the policy's: one type for what GitHub reports and what a rule needs.
pub use crate::gate::policy::PermissionLevel;

/// A built-in role name (`role_name`) or a legacy `permission` value; `None` for a custom role
/// (or nothing), which falls back to the legacy value.
pub(super) fn level_from_name(name: &str) -> Option<PermissionLevel> {
    if name.trim().is_empty() {
        return None;
    }
    name.parse().ok()
}

/// A user's highest grant on the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// From `role_name` when it is a built-in role; for a custom role, from the legacy
    /// `permission` (which GitHub maps down: maintain→write, triage→read).
    pub level: PermissionLevel,
    /// The role as GitHub names it, custom roles included; `none` for a non-collaborator.
    pub role_name: String,
}

/// A client for one repository. Requests go one at a time.
pub struct GitHub {
    client: Octocrab,
    api_base: Url,
    token: Secret,
    repo: RepoName,
    request_timeout: Duration,
    retry: RetryPolicy,
    /// The end of the wait this client serves (see [`GitHub::end_by`]).
    overall_deadline: std::sync::Mutex<Option<Instant>>,
    mutation_spacing: Duration,
    /// Held for each attempt: GitHub asks integrations not to send requests concurrently.
    in_flight: Mutex<()>,
    /// When the last POST/PATCH ended; held across the pause before the next one.
    last_mutation: Mutex<Option<Instant>>,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("api_base", &self.api_base.as_str())
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

impl GitHub {
    /// A client for `config.repo`. Call it inside the tokio runtime that will use it.
    pub fn new(config: GitHubConfig) -> anyhow::Result<GitHub> {
        let api_base = parse_api_url(&config.api_url)?;
        // octocrab panics on a token that is not a valid header value: refuse it first.
        let token = config.token.bearer_token()?.to_owned();
        // octocrab starts a background task for its request queue.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(anyhow::anyhow!(
                "the GitHub client must be created inside a tokio runtime"
            ));
        }
        install_crypto_provider();
        let request_timeout = config.request_timeout.max(Duration::from_millis(1));
        let retry_base_delay = config.retry_base_delay.max(Duration::from_millis(1));
        let client = Octocrab::builder()
            .personal_token(token)
            .base_uri(api_base.as_str())
            .map_err(|_| Error::usage(format!("invalid GitHub API URL {:?}", config.api_url)))?
            .set_connect_timeout(Some(request_timeout.min(CONNECT_TIMEOUT)))
            .set_read_timeout(Some(request_timeout))
            .set_write_timeout(Some(request_timeout))
            .build()
            .map_err(|error| {
                Error::usage(format!(
                    "cannot set up the GitHub client for {}: {} (with no trusted root certificates, install the ca-certificates package in the image or point SSL_CERT_FILE at a PEM bundle)",
                    api_base,
                    config.token.redact(&error_chain_text(&error))
                ))
            })?;
        Ok(GitHub {
            client,
            api_base,
            token: config.token,
            repo: config.repo,
            request_timeout,
            retry: RetryPolicy {
                retries: config.retries,
                retry_deadline: config.deadline,
                attempt_timeout: Some(request_timeout),
                base_delay: retry_base_delay,
                max_delay: retry_base_delay.saturating_mul(8),
                overall_deadline: None,
            },
            overall_deadline: std::sync::Mutex::new(None),
            mutation_spacing: config.mutation_spacing,
            in_flight: Mutex::new(()),
            last_mutation: Mutex::new(None),
        })
    }

    pub fn repo(&self) -> &RepoName {
        &self.repo
    }

    fn endpoint(&self, segments: &[&str]) -> anyhow::Result<Url> {
        let mut url = self.api_base.clone();
        url.path_segments_mut()
            .map_err(|_| {
                Error::usage(format!(
                    "the GitHub API URL {} cannot take a path",
                    self.api_base
                ))
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn repo_endpoint(&self, rest: &[&str]) -> anyhow::Result<Url> {
        let mut segments = vec!["repos", self.repo.owner.as_str(), self.repo.name.as_str()];
        segments.extend_from_slice(rest);
        self.endpoint(&segments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::exit_code;
    use wire::WirePermission;
    #[test]
    fn repo_names_parse_and_errors_name_the_input() {
        let repo: RepoName = "octo-org/octo.repo_1".parse().unwrap();
        assert_eq!(repo.owner, "octo-org");
        assert_eq!(repo.name, "octo.repo_1");
        assert_eq!(repo.to_string(), "octo-org/octo.repo_1");
        assert!(repo.same_as(&"Octo-Org/OCTO.repo_1".parse().unwrap()));
        for bad in ["", "octo", "a/b/c", "/b", "a/", "a b/c", "../x", "a/.."] {
            let error = bad.parse::<RepoName>().unwrap_err();
            assert!(format!("{error}").contains(&format!("{bad:?}")), "{error}");
            assert_eq!(exit_code(&error), 2);
        }
        let error = "https://github.com/a/b".parse::<RepoName>().unwrap_err();
        assert!(format!("{error}").contains("not a URL"), "{error}");
    }

    #[test]
    fn state_reasons_keep_unknown_values() {
        let parsed: Vec<Option<StateReason>> = serde_json::from_str(
            r#"["completed", "not_planned", "reopened", "duplicate", "resolved_elsewhere", null]"#,
        )
        .unwrap();
        assert_eq!(
            parsed,
            vec![
                Some(StateReason::Completed),
                Some(StateReason::NotPlanned),
                Some(StateReason::Reopened),
                Some(StateReason::Duplicate),
                Some(StateReason::Other("resolved_elsewhere".into())),
                None
            ]
        );
        assert_eq!(StateReason::NotPlanned.to_string(), "not_planned");
    }

    #[test]
    fn permissions_rank_built_in_roles_and_fall_back_for_custom_ones() {
        let read = |permission: &str, role: Option<&str>| {
            Permission::from(WirePermission {
                permission: permission.into(),
                role_name: role.map(str::to_owned),
            })
        };
        assert_eq!(
            read("write", Some("maintain")).level,
            PermissionLevel::Maintain
        );
        assert_eq!(read("read", Some("triage")).level, PermissionLevel::Triage);
        assert_eq!(read("admin", Some("admin")).level, PermissionLevel::Admin);
        let custom = read("write", Some("release-approver"));
        assert_eq!(custom.level, PermissionLevel::Write);
        assert_eq!(custom.role_name, "release-approver");
        assert_eq!(read("none", None).level, PermissionLevel::None);
        assert!(PermissionLevel::Triage < PermissionLevel::Write);
        assert!(PermissionLevel::Maintain > PermissionLevel::Write);
    }
}
