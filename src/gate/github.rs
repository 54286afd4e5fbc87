//! The GitHub REST calls an approval gate makes, and nothing more: labels, issues, comments,
//! events, collaborator permissions and team memberships of one repository.
//!
//! octocrab is the transport (the token, the base URL with a GHES path prefix kept, rustls with
//! ring); the rest is ours:
//! - answers are read into small structs of our own, so a value GitHub adds later (a new
//!   `state_reason`, say) cannot make an issue unreadable;
//! - requests go one at a time; a GET is retried on 5xx and transport errors (3 tries, backoff
//!   with jitter) and waits out rate limits (`retry-after`, then `x-ratelimit-reset`, then 60 s
//!   doubling), never past its deadline;
//! - a POST or PATCH is sent once, at least `mutation_spacing` after the previous one. Only a
//!   rate-limit refusal, which GitHub gives before doing anything, is sent again. A create whose
//!   answer is lost comes back as [`CreateOutcome::Ambiguous`]: look before creating again;
//! - pages are followed through `Link: rel="next"`, never built by hand, and the search API is
//!   never used (its index lags behind writes, and its rate limit is small);
//! - errors name the method and URL (never the query) and GitHub's message, and never carry the
//!   token, a header or a request body.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use octocrab::Octocrab;
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, DATE, ETAG, IF_NONE_MATCH, LINK, LOCATION,
    RETRY_AFTER, USER_AGENT,
};
use reqwest::{Method, StatusCode, Url};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::core::error::{Error, Kind};
use crate::core::http::{
    backoff_delay, install_crypto_provider, parse_rate_limit_reset, parse_retry_after,
    request_label,
};
use crate::core::progress::human_duration;
use crate::core::secret::Secret;

/// github.com's API; GitHub Enterprise Server serves it under `https://HOST/api/v3`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The REST API version every request asks for, pinned so a new default cannot change answers.
pub const API_VERSION: &str = "2022-11-28";

const MEDIA_TYPE: &str = "application/vnd.github+json";
const API_VERSION_HEADER: &str = "x-github-api-version";
/// The largest page GitHub serves: fewest requests, least quota.
const PER_PAGE: &str = "100";
/// Tries of a GET that meets a 5xx or a transport error.
const GET_ATTEMPTS: u32 = 3;
/// GitHub's advice for a secondary rate limit that names no wait: at least a minute.
const SECONDARY_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// The longest single wait for a secondary limit as the doubling goes on.
const SECONDARY_RATE_LIMIT_MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// The shortest wait for any rate limit.
const MIN_RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);
/// Added to `x-ratelimit-reset`, which has one-second resolution.
const RESET_MARGIN: Duration = Duration::from_secs(1);
/// A bound on pages of one listing, against a server that links in circles.
const MAX_PAGES: usize = 1000;
/// Redirects followed for one issue (a transferred issue answers one).
const MAX_REDIRECTS: usize = 3;
/// How much of GitHub's message goes into an error.
const MESSAGE_LIMIT: usize = 300;
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
    /// Smallest gap between two POST/PATCH requests (GitHub asks for at least a second).
    pub mutation_spacing: Duration,
    /// First pause before retrying a GET; it doubles, with jitter.
    pub retry_base_delay: Duration,
}

impl GitHubConfig {
    /// A configuration with the defaults: 30 s per attempt, 5 min per request, 1 s between
    /// mutations, retries from 1 s.
    pub fn new(api_url: impl Into<String>, token: Secret, repo: RepoName) -> GitHubConfig {
        GitHubConfig {
            api_url: api_url.into(),
            token,
            repo,
            request_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(5 * 60),
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
fn level_from_name(name: &str) -> Option<PermissionLevel> {
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
    deadline: Duration,
    mutation_spacing: Duration,
    retry_base_delay: Duration,
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

/// One answer, read whole.
struct Answer {
    label: String,
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: impl reqwest::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    fn etag(&self) -> Option<String> {
        self.header(ETAG).map(str::to_owned)
    }

    fn github_error(&self) -> GitHubErrorBody {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

/// No answer to one attempt.
struct TransportFailure {
    /// Whether the request may have reached the server (and taken effect).
    maybe_sent: bool,
    /// Whether another attempt can help (an untrusted certificate stays untrusted).
    retryable: bool,
    text: String,
}

/// Why a POST or PATCH has no usable answer.
enum MutationFailure {
    /// GitHub did not act on it: nothing was sent, or a rate limit outlasted the deadline.
    NotDone(anyhow::Error),
    /// It may have taken effect: a timeout, a dropped connection, a 5xx.
    MaybeDone(anyhow::Error),
}

/// How long a rate limit asks us to wait, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RateLimitWait {
    wait: Duration,
    reason: String,
}

/// The error document GitHub answers with.
#[derive(Debug, Default, Deserialize)]
struct GitHubErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<Value>,
}

impl GitHubErrorBody {
    /// GitHub's message and validation details, on one line.
    fn describe(&self) -> String {
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
    fn mentions_field(&self, field: &str) -> bool {
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

    fn has_code(&self, code: &str) -> bool {
        self.errors
            .iter()
            .any(|error| error.get("code").and_then(Value::as_str) == Some(code))
    }
}

/// `assignees invalid (value "ghost")` from `{"field":"assignees","code":"invalid","value":"ghost"}`.
fn describe_validation_error(error: &Value) -> String {
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
    /// A client for `config.repo`. Call it inside the tokio runtime that will use it.
    pub fn new(config: GitHubConfig) -> anyhow::Result<GitHub> {
        let api_base = parse_api_url(&config.api_url)?;
        if config.token.expose().trim().is_empty() {
            return Err(Error::usage("the GitHub token is empty").into());
        }
        // octocrab panics on a token that is not a valid header value; GitHub's tokens are
        // letters, digits and underscores, so anything else is a mistake worth naming.
        if !config.token.expose().bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::usage(
                "the GitHub token contains spaces, line breaks or non-ASCII characters (does the secret hold more than the token?)",
            )
            .into());
        }
        // octocrab starts a background task for its request queue.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(anyhow::anyhow!(
                "the GitHub client must be created inside a tokio runtime"
            ));
        }
        install_crypto_provider();
        let request_timeout = config.request_timeout.max(Duration::from_millis(1));
        let client = Octocrab::builder()
            .personal_token(config.token.expose().to_owned())
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
            deadline: config.deadline,
            mutation_spacing: config.mutation_spacing,
            retry_base_delay: config.retry_base_delay.max(Duration::from_millis(1)),
            in_flight: Mutex::new(()),
            last_mutation: Mutex::new(None),
        })
    }

    pub fn repo(&self) -> &RepoName {
        &self.repo
    }

    /// Makes sure the label exists: reads it, creates it if missing. Someone creating it at the
    /// same moment (422 `already_exists`) is fine.
    pub async fn ensure_label(
        &self,
        name: &str,
        color: &str,
        description: &str,
    ) -> anyhow::Result<()> {
        let url = self.repo_endpoint(&["labels", name])?;
        if self.label_exists(&url).await? {
            return Ok(());
        }
        let create = json!({
            "name": name,
            "color": color.trim_start_matches('#'),
            "description": description,
        });
        let answer = match self
            .mutate(Method::POST, &self.repo_endpoint(&["labels"])?, &create)
            .await
        {
            Ok(answer) => answer,
            Err(MutationFailure::NotDone(error)) => return Err(error),
            // Creating a label twice is harmless: look whether the lost one landed.
            Err(MutationFailure::MaybeDone(error)) => {
                return if self.label_exists(&url).await? {
                    Ok(())
                } else {
                    Err(error)
                };
            }
        };
        if answer.status.is_success()
            || (answer.status == StatusCode::UNPROCESSABLE_ENTITY
                && answer.github_error().has_code("already_exists"))
        {
            return Ok(());
        }
        Err(self.answer_error(
            &answer,
            &format!("cannot create label {name:?} in {}", self.repo),
        ))
    }

    async fn label_exists(&self, url: &Url) -> anyhow::Result<bool> {
        let answer = self.get(url, None).await?;
        match answer.status.as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.answer_error(&answer, &format!("cannot read labels of {}", self.repo))),
        }
    }

    /// Reads issue `number`. With the `etag` of an earlier read, an unchanged issue answers
    /// [`Fetched::NotModified`] and costs no rate-limit quota.
    pub async fn issue(&self, number: u64, etag: Option<&str>) -> anyhow::Result<Fetched<Issue>> {
        let url = self.repo_endpoint(&["issues", &number.to_string()])?;
        self.fetch_issue(url, etag).await
    }

    /// Reads the issue at `html_url` (`https://github.com/OWNER/NAME/issues/N`), which must be
    /// in this client's repository.
    pub async fn issue_by_url(
        &self,
        html_url: &str,
        etag: Option<&str>,
    ) -> anyhow::Result<Fetched<Issue>> {
        let (repo, number) = parse_issue_url(html_url)?;
        if !repo.same_as(&self.repo) {
            return Err(Error::usage(format!(
                "issue {html_url} is in {repo}, not in {} where this gate keeps its issues",
                self.repo
            ))
            .into());
        }
        self.issue(number, etag).await
    }

    /// Every issue (open or closed, pull requests left out) carrying `label`, newest first.
    /// Reads the issues list, which is consistent at once; never the search index.
    pub async fn labelled_issues(&self, label: &str) -> anyhow::Result<Vec<Issue>> {
        let mut url = self.repo_endpoint(&["issues"])?;
        url.query_pairs_mut()
            .append_pair("state", "all")
            .append_pair("labels", label)
            .append_pair("sort", "created")
            .append_pair("direction", "desc")
            .append_pair("per_page", PER_PAGE);
        let what = format!("cannot list issues labelled {label:?} in {}", self.repo);
        let issues: Vec<WireIssue> = self.all_pages(url, &what).await?;
        Ok(issues
            .into_iter()
            .map(Issue::from)
            .filter(|issue| !issue.is_pull_request)
            .collect())
    }

    /// Creates an issue with one POST, never repeated blindly. When GitHub refuses an assignee
    /// (422, which created nothing), creates it once more without assignees.
    pub async fn create_issue(&self, issue: &NewIssue) -> anyhow::Result<CreateOutcome> {
        let url = self.repo_endpoint(&["issues"])?;
        let answer = match self.create_once(&url, issue, true).await? {
            Ok(answer) => answer,
            Err(outcome) => return Ok(outcome),
        };
        if answer.status == StatusCode::UNPROCESSABLE_ENTITY
            && !issue.assignees.is_empty()
            && answer.github_error().mentions_field("assignees")
        {
            tracing::warn!(
                repo = %self.repo,
                assignees = %issue.assignees.join(","),
                "GitHub refused the assignees ({}); creating the issue without them",
                self.token.redact(&answer.github_error().describe())
            );
            let answer = match self.create_once(&url, issue, false).await? {
                Ok(answer) => answer,
                Err(outcome) => return Ok(outcome),
            };
            return self.created(answer);
        }
        self.created(answer)
    }

    /// Sends one create; `Err(outcome)` when the outcome is already decided (ambiguous).
    async fn create_once(
        &self,
        url: &Url,
        issue: &NewIssue,
        with_assignees: bool,
    ) -> anyhow::Result<Result<Answer, CreateOutcome>> {
        let mut payload = json!({
            "title": issue.title,
            "body": issue.body,
        });
        if !issue.labels.is_empty() {
            payload["labels"] = json!(issue.labels);
        }
        if with_assignees && !issue.assignees.is_empty() {
            payload["assignees"] = json!(issue.assignees);
        }
        match self.mutate(Method::POST, url, &payload).await {
            Ok(answer) => Ok(Ok(answer)),
            Err(MutationFailure::NotDone(error)) => Err(error),
            Err(MutationFailure::MaybeDone(error)) => Ok(Err(CreateOutcome::Ambiguous(error))),
        }
    }

    fn created(&self, answer: Answer) -> anyhow::Result<CreateOutcome> {
        if !answer.status.is_success() {
            return Err(
                self.answer_error(&answer, &format!("cannot create an issue in {}", self.repo))
            );
        }
        // It was created; an answer we cannot read does not undo that.
        Ok(match self.parse::<WireIssue>(&answer) {
            Ok(issue) => CreateOutcome::Created(issue.into()),
            Err(error) => CreateOutcome::Ambiguous(error),
        })
    }

    /// Opens or closes issue `number` (with `state_reason` when closing: `completed`,
    /// `not_planned`, `duplicate`), and replaces its body when one is given. Sent once: after a
    /// failure, read the issue again before deciding to repeat it.
    pub async fn update_issue(
        &self,
        number: u64,
        open: bool,
        state_reason: Option<&str>,
        body: Option<&str>,
    ) -> anyhow::Result<Issue> {
        let url = self.repo_endpoint(&["issues", &number.to_string()])?;
        let mut payload = Map::new();
        payload.insert("state".into(), json!(if open { "open" } else { "closed" }));
        if let Some(reason) = state_reason {
            payload.insert("state_reason".into(), json!(reason));
        }
        if let Some(body) = body {
            payload.insert("body".into(), json!(body));
        }
        let answer = self
            .mutate_once(Method::PATCH, &url, &Value::Object(payload))
            .await?;
        if !answer.status.is_success() {
            return Err(self.answer_error(
                &answer,
                &format!("cannot update issue #{number} in {}", self.repo),
            ));
        }
        Ok(self.parse::<WireIssue>(&answer)?.into())
    }

    /// Adds a comment to issue `number`. Sent once: after a failure, read the comments before
    /// deciding to repeat it.
    pub async fn comment(&self, number: u64, body: &str) -> anyhow::Result<()> {
        let url = self.repo_endpoint(&["issues", &number.to_string(), "comments"])?;
        let answer = self
            .mutate_once(Method::POST, &url, &json!({ "body": body }))
            .await?;
        if !answer.status.is_success() {
            return Err(self.answer_error(
                &answer,
                &format!("cannot comment on issue #{number} in {}", self.repo),
            ));
        }
        Ok(())
    }

    /// The comments of issue `number`, oldest first; with `since`, only those updated at or
    /// after it.
    pub async fn comments(
        &self,
        number: u64,
        since: Option<OffsetDateTime>,
    ) -> anyhow::Result<Vec<Comment>> {
        let mut url = self.repo_endpoint(&["issues", &number.to_string(), "comments"])?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("per_page", PER_PAGE);
            if let Some(since) = since {
                query.append_pair("since", &iso8601(since));
            }
        }
        let what = format!(
            "cannot read the comments of issue #{number} in {}",
            self.repo
        );
        let comments: Vec<WireComment> = self.all_pages(url, &what).await?;
        Ok(comments.into_iter().map(Comment::from).collect())
    }

    /// Who closed issue `number` last, from its events: for when `closed_by` is null.
    pub async fn last_closer_from_events(&self, number: u64) -> anyhow::Result<Option<User>> {
        let mut url = self.repo_endpoint(&["issues", &number.to_string(), "events"])?;
        url.query_pairs_mut().append_pair("per_page", PER_PAGE);
        let what = format!("cannot read the events of issue #{number} in {}", self.repo);
        let events: Vec<WireEvent> = self.all_pages(url, &what).await?;
        Ok(events
            .into_iter()
            .rev()
            .find(|event| event.event == "closed")
            .map(|event| event.actor.map(User::from).unwrap_or_else(User::ghost)))
    }

    /// `login`'s highest role on the repository; level none when GitHub does not know them.
    pub async fn permission(&self, login: &str) -> anyhow::Result<Permission> {
        let login = checked_login(login)?;
        let url = self.repo_endpoint(&["collaborators", login, "permission"])?;
        let answer = self.get(&url, None).await?;
        match answer.status.as_u16() {
            200 => {
                let wire: WirePermission = self.parse(&answer)?;
                Ok(wire.into())
            }
            404 => Ok(Permission {
                level: PermissionLevel::None,
                role_name: "none".to_owned(),
            }),
            _ => Err(self.answer_error(
                &answer,
                &format!("cannot read the permission of {login} on {}", self.repo),
            )),
        }
    }

    /// Whether `login` is an active member of team `org/team_slug` (a pending invitation is
    /// not). A team the token cannot see reads as "not a member".
    pub async fn team_member(
        &self,
        org: &str,
        team_slug: &str,
        login: &str,
    ) -> anyhow::Result<bool> {
        let login = checked_login(login)?;
        let url = self.endpoint(&["orgs", org, "teams", team_slug, "memberships", login])?;
        let answer = self.get(&url, None).await?;
        match answer.status.as_u16() {
            200 => {
                let wire: WireMembership = self.parse(&answer)?;
                Ok(wire.state == "active")
            }
            404 => Ok(false),
            _ => Err(self.answer_error(
                &answer,
                &format!("cannot read whether {login} is in team {org}/{team_slug} (the token needs organization Members read, or read:org)"),
            )),
        }
    }

    async fn fetch_issue(&self, first: Url, etag: Option<&str>) -> anyhow::Result<Fetched<Issue>> {
        let mut url = first;
        let mut etag = etag;
        let mut moved = false;
        for _ in 0..=MAX_REDIRECTS {
            let answer = self.get(&url, etag).await?;
            match answer.status.as_u16() {
                200 => {
                    let value: Issue = self.parse::<WireIssue>(&answer)?.into();
                    let etag = answer.etag();
                    return Ok(if moved {
                        Fetched::Moved { value, etag }
                    } else {
                        Fetched::Found { value, etag }
                    });
                }
                304 => return Ok(Fetched::NotModified),
                301 | 302 | 307 | 308 => {
                    url = self.follow(&url, answer.header(LOCATION), &answer.label)?;
                    // The ETag belonged to the old address.
                    etag = None;
                    moved = true;
                }
                410 if is_issues_disabled(&answer) => {
                    return Err(
                        self.answer_error(&answer, &format!("cannot read issues of {}", self.repo))
                    );
                }
                404 | 410 => return Ok(Fetched::Gone),
                _ => {
                    return Err(self
                        .answer_error(&answer, &format!("cannot read an issue of {}", self.repo)))
                }
            }
        }
        Err(self.error(
            Kind::Remote,
            format!(
                "{url}: more than {MAX_REDIRECTS} redirects while reading an issue of {}",
                self.repo
            ),
        ))
    }

    /// Every item of a paginated listing, following `Link: rel="next"`.
    async fn all_pages<T: DeserializeOwned>(
        &self,
        first: Url,
        what: &str,
    ) -> anyhow::Result<Vec<T>> {
        let mut items = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(first);
        while let Some(url) = next.take() {
            if seen.len() >= MAX_PAGES || !seen.insert(url.to_string()) {
                return Err(self.error(
                    Kind::Remote,
                    format!(
                        "{what}: GitHub's page links go in circles or past {MAX_PAGES} pages ({})",
                        request_label(&Method::GET, &url)
                    ),
                ));
            }
            let answer = self.get(&url, None).await?;
            if !answer.status.is_success() {
                return Err(self.answer_error(&answer, what));
            }
            let page: Vec<T> = self.parse(&answer)?;
            items.extend(page);
            let link = answer
                .headers
                .get_all(LINK)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .find_map(next_link);
            if let Some(link) = link {
                next = Some(self.follow(&url, Some(link), &answer.label)?);
            }
        }
        Ok(items)
    }

    /// The URL a `Link` or `Location` points to, which must stay on this API: the token goes
    /// nowhere else.
    fn follow(&self, current: &Url, target: Option<&str>, label: &str) -> anyhow::Result<Url> {
        let target = target.ok_or_else(|| {
            self.error(
                Kind::Remote,
                format!("{label}: GitHub redirected without a Location"),
            )
        })?;
        let url = current.join(target).map_err(|_| {
            self.error(
                Kind::Remote,
                format!("{label}: GitHub pointed to an invalid URL {target:?}"),
            )
        })?;
        let base_path = self.api_base.path().trim_end_matches('/');
        if url.origin() != self.api_base.origin() || !url.path().starts_with(base_path) {
            return Err(self.error(
                Kind::Remote,
                format!(
                    "{label}: GitHub pointed to {}, outside the API at {}; not following it",
                    crate::core::http::url_without_query(&url),
                    self.api_base
                ),
            ));
        }
        Ok(url)
    }

    /// A GET with retries: 5xx and transport errors up to [`GET_ATTEMPTS`] tries, rate limits
    /// waited out, all within the deadline. Any other answer is returned for the caller to judge.
    async fn get(&self, url: &Url, if_none_match: Option<&str>) -> anyhow::Result<Answer> {
        let label = request_label(&Method::GET, url);
        let deadline = self.deadline_from_now();
        let mut failures: u32 = 0;
        let mut rate_limit_waits: u32 = 0;
        loop {
            let timeout = self.attempt_timeout(deadline);
            let (problem, server_wait) = match self
                .send(&Method::GET, url, if_none_match, None, timeout)
                .await
            {
                Ok(answer) => {
                    if let Some(limit) =
                        rate_limit_wait(&answer, rate_limit_waits, SystemTime::now())
                    {
                        rate_limit_waits += 1;
                        self.wait_for_rate_limit(&answer, &limit, deadline).await?;
                        continue;
                    }
                    if !is_transient(answer.status) {
                        return Ok(answer);
                    }
                    let server_wait = answer
                        .header(RETRY_AFTER)
                        .and_then(|value| parse_retry_after(value, server_now(&answer)));
                    (status_summary(&answer), server_wait)
                }
                Err(failure) if !failure.retryable => {
                    return Err(self.error(Kind::Remote, format!("{label}: {}", failure.text)));
                }
                Err(failure) => (failure.text, None),
            };
            failures += 1;
            if failures >= GET_ATTEMPTS {
                return Err(self.error(
                    Kind::Remote,
                    format!("{label}: failed {failures} times; last: {problem}. GitHub, or the network to it, may be having trouble: try again later"),
                ));
            }
            let backoff = backoff_delay(
                failures,
                self.retry_base_delay,
                self.retry_base_delay.saturating_mul(8),
                fastrand::f64(),
            );
            let wait = server_wait.map_or(backoff, |asked| asked.max(backoff));
            if wait > deadline.saturating_duration_since(Instant::now()) {
                return Err(self.error(
                    Kind::Remote,
                    format!(
                        "{label}: failed {}; the deadline ({}) leaves no time for another try; last: {problem}",
                        times(failures),
                        human_duration(self.deadline)
                    ),
                ));
            }
            tracing::warn!(
                request = %label,
                wait = %human_duration(wait),
                "{label}: {}; retrying in {}",
                self.token.redact(&problem),
                human_duration(wait)
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// A POST or PATCH whose failure the caller resolves by reading again: both kinds of
    /// failure are plain errors, the ambiguous one saying so.
    async fn mutate_once(
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
    /// (GitHub did nothing) is sent again, within the deadline.
    async fn mutate(
        &self,
        method: Method,
        url: &Url,
        payload: &Value,
    ) -> Result<Answer, MutationFailure> {
        let label = request_label(&method, url);
        let deadline = self.deadline_from_now();
        let mut rate_limit_waits: u32 = 0;
        loop {
            let sent = {
                let mut last = self.last_mutation.lock().await;
                if let Some(previous) = *last {
                    tokio::time::sleep_until(previous + self.mutation_spacing).await;
                }
                let sent = self
                    .send(&method, url, None, Some(payload), self.request_timeout)
                    .await;
                *last = Some(Instant::now());
                sent
            };
            match sent {
                Ok(answer) => {
                    if let Some(limit) =
                        rate_limit_wait(&answer, rate_limit_waits, SystemTime::now())
                    {
                        rate_limit_waits += 1;
                        self.wait_for_rate_limit(&answer, &limit, deadline)
                            .await
                            .map_err(MutationFailure::NotDone)?;
                        continue;
                    }
                    if answer.status.is_server_error() {
                        return Err(MutationFailure::MaybeDone(self.error(
                            Kind::Remote,
                            format!("{label}: {}; it may have taken effect all the same (read it back before repeating it)", status_summary(&answer)),
                        )));
                    }
                    return Ok(answer);
                }
                Err(failure) if failure.maybe_sent => {
                    return Err(MutationFailure::MaybeDone(self.error(
                        Kind::Remote,
                        format!("{label}: {}; the request may have reached GitHub and taken effect (read it back before repeating it)", failure.text),
                    )));
                }
                Err(failure) => {
                    return Err(MutationFailure::NotDone(self.error(
                        Kind::Remote,
                        format!("{label}: {} (the request was not sent)", failure.text),
                    )));
                }
            }
        }
    }

    /// Sleeps for a rate limit, or fails when that would pass the deadline.
    async fn wait_for_rate_limit(
        &self,
        answer: &Answer,
        limit: &RateLimitWait,
        deadline: Instant,
    ) -> anyhow::Result<()> {
        let until = SystemTime::now().checked_add(limit.wait).map_or_else(
            || "a time far in the future".to_owned(),
            |at| iso8601(at.into()),
        );
        if limit.wait > deadline.saturating_duration_since(Instant::now()) {
            return Err(self.error(
                Kind::Remote,
                format!(
                    "{}: rate limited by GitHub until {until} ({}), past this request's deadline ({}): try again later, or allow a longer deadline. GitHub said: {}",
                    answer.label,
                    limit.reason,
                    human_duration(self.deadline),
                    status_summary(answer)
                ),
            ));
        }
        tracing::warn!(
            request = %answer.label,
            until = %until,
            "{}: rate limited by GitHub ({}); waiting {} until {until}",
            answer.label,
            limit.reason,
            human_duration(limit.wait)
        );
        tokio::time::sleep(limit.wait).await;
        Ok(())
    }

    /// One attempt: the request through octocrab, the whole answer read within `timeout`.
    async fn send(
        &self,
        method: &Method,
        url: &Url,
        if_none_match: Option<&str>,
        payload: Option<&Value>,
        timeout: Duration,
    ) -> Result<Answer, TransportFailure> {
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

    /// When a request started now must be done, retries included.
    fn deadline_from_now(&self) -> Instant {
        let now = Instant::now();
        // A deadline too far to represent is no deadline: a day stands in for it.
        now.checked_add(self.deadline)
            .unwrap_or_else(|| now + Duration::from_secs(24 * 60 * 60))
    }

    /// Time for one attempt of a GET: the request timeout, but never past the deadline.
    fn attempt_timeout(&self, deadline: Instant) -> Duration {
        self.request_timeout
            .min(deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(1))
    }

    /// The error for an answer the caller cannot use, by status (ARCHITECTURE's table): 401,
    /// 403 and 404/410 are refusals (exit 5), 5xx and rate limits remote failures (exit 3),
    /// 422 and other 4xx bad input (exit 2).
    fn answer_error(&self, answer: &Answer, what: &str) -> anyhow::Error {
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

    fn parse<T: DeserializeOwned>(&self, answer: &Answer) -> anyhow::Result<T> {
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
    fn error(&self, kind: Kind, message: String) -> anyhow::Error {
        Error::new(kind, self.token.redact(&message)).into()
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

/// The API base URL: http(s), a host, no credentials, query or fragment.
fn parse_api_url(text: &str) -> anyhow::Result<Url> {
    let invalid = |why: &str| {
        anyhow::Error::new(Error::usage(format!(
            "invalid GitHub API URL {text:?}: {why} (expected {DEFAULT_API_URL} or https://HOST/api/v3)"
        )))
    };
    let url = Url::parse(text.trim()).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be https or http"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("there is no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials do not belong in the URL; pass a token",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment"));
    }
    Ok(url)
}

/// `(repo, number)` from `https://HOST/OWNER/NAME/issues/N` (or an API URL
/// `.../repos/OWNER/NAME/issues/N`), with any fragment or trailing slash ignored.
pub fn parse_issue_url(text: &str) -> anyhow::Result<(RepoName, u64)> {
    let invalid = || {
        anyhow::Error::new(Error::usage(format!(
            "invalid issue URL {text:?}: expected https://github.com/OWNER/NAME/issues/NUMBER"
        )))
    };
    let url = Url::parse(text.trim()).map_err(|_| invalid())?;
    let segments: Vec<&str> = url
        .path_segments()
        .ok_or_else(invalid)?
        .filter(|segment| !segment.is_empty())
        .collect();
    let [.., owner, name, "issues", number] = segments.as_slice() else {
        return Err(invalid());
    };
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let repo: RepoName = format!("{owner}/{name}").parse().map_err(|_| invalid())?;
    Ok((repo, number))
}

/// The `rel="next"` target of one `Link` header value, if it has one. Targets are read between
/// `<` and `>`, so commas inside them do not split entries.
fn next_link(header: &str) -> Option<&str> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after_open = &rest[open + 1..];
        let close = after_open.find('>')?;
        let target = &after_open[..close];
        let params_and_more = &after_open[close + 1..];
        let params = &params_and_more[..params_and_more.find('<').unwrap_or(params_and_more.len())];
        let is_next = params.split(';').any(|param| {
            let Some((key, value)) = param.split_once('=') else {
                return false;
            };
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.trim());
        }
        rest = params_and_more;
    }
    None
}

/// Whether a 403/429 answer is a rate limit, and how long it asks us to wait:
/// `retry-after` first; else the reset time when the quota is spent; else (a secondary limit,
/// said by a 429 or by GitHub's message) a minute, doubling with each wait already made.
fn rate_limit_wait(answer: &Answer, previous_waits: u32, now: SystemTime) -> Option<RateLimitWait> {
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
fn server_now(answer: &Answer) -> SystemTime {
    answer
        .header(DATE)
        .and_then(|date| httpdate::parse_http_date(date).ok())
        .unwrap_or_else(SystemTime::now)
}

fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

fn is_issues_disabled(answer: &Answer) -> bool {
    answer
        .github_error()
        .message
        .is_some_and(|message| message.to_ascii_lowercase().contains("disabled"))
}

/// `502 Bad Gateway: <GitHub's message>`.
fn status_summary(answer: &Answer) -> String {
    status_summary_with(answer, &answer.github_error())
}

fn status_summary_with(answer: &Answer, github: &GitHubErrorBody) -> String {
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

fn shorten(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut cut = limit;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} [...]", &text[..cut])
}

fn times(count: u32) -> String {
    if count == 1 {
        "once".to_owned()
    } else {
        format!("{count} times")
    }
}

/// `2026-01-01T00:00:00Z`, as GitHub writes and reads timestamps.
fn iso8601(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// A login as a path segment: GitHub logins are letters, digits and dashes (apps add `[bot]`).
fn checked_login(login: &str) -> anyhow::Result<&str> {
    let login = login.trim().trim_start_matches('@');
    if login.is_empty() || login.contains('/') || login.starts_with('.') {
        return Err(Error::usage(format!("invalid GitHub login {login:?}")).into());
    }
    Ok(login)
}

/// The causes of an error, each once, on one line.
fn error_chain_text(error: &(dyn std::error::Error + 'static)) -> String {
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
fn next_cause<'a>(
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

fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |cause| next_cause(*cause))
}

/// Whether the request certainly never left: no connection could be made (refused, DNS, TLS).
fn never_sent(error: &octocrab::Error) -> bool {
    causes(error).any(|cause| {
        cause.to_string() == "client error (Connect)"
            || cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

fn untrusted_certificate(error: &octocrab::Error) -> bool {
    causes(error).any(|cause| {
        matches!(
            cause.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_))
        )
    })
}

// ---- GitHub's JSON, as much of it as we read ----

#[derive(Deserialize)]
struct WireUser {
    login: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

impl From<WireUser> for User {
    fn from(wire: WireUser) -> User {
        let is_bot = wire.kind.as_deref() == Some("Bot") || wire.login.ends_with("[bot]");
        User {
            login: wire.login,
            is_bot,
        }
    }
}

/// Issue labels come as objects; some payloads carry plain names.
#[derive(Deserialize)]
#[serde(untagged)]
enum WireLabel {
    Name(String),
    Object { name: String },
}

#[derive(Deserialize)]
struct WireIssue {
    number: u64,
    html_url: String,
    state: String,
    #[serde(default)]
    state_reason: Option<StateReason>,
    #[serde(default)]
    closed_by: Option<WireUser>,
    #[serde(default)]
    user: Option<WireUser>,
    #[serde(default)]
    labels: Vec<WireLabel>,
    #[serde(default)]
    body: Option<String>,
    #[serde(deserialize_with = "timestamp")]
    created_at: OffsetDateTime,
    #[serde(default, deserialize_with = "optional_timestamp")]
    closed_at: Option<OffsetDateTime>,
    #[serde(default)]
    pull_request: Option<IgnoredAny>,
}

impl From<WireIssue> for Issue {
    fn from(wire: WireIssue) -> Issue {
        Issue {
            number: wire.number,
            html_url: wire.html_url,
            open: wire.state == "open",
            state_reason: wire.state_reason,
            closed_by: wire.closed_by.map(User::from),
            user: wire.user.map(User::from).unwrap_or_else(User::ghost),
            labels: wire
                .labels
                .into_iter()
                .map(|label| match label {
                    WireLabel::Name(name) | WireLabel::Object { name } => name,
                })
                .collect(),
            body: wire.body,
            created_at: wire.created_at,
            closed_at: wire.closed_at,
            is_pull_request: wire.pull_request.is_some(),
        }
    }
}

#[derive(Deserialize)]
struct WireComment {
    id: u64,
    #[serde(default)]
    user: Option<WireUser>,
    #[serde(default)]
    body: Option<String>,
    #[serde(deserialize_with = "timestamp")]
    created_at: OffsetDateTime,
}

impl From<WireComment> for Comment {
    fn from(wire: WireComment) -> Comment {
        Comment {
            id: wire.id,
            user: wire.user.map(User::from).unwrap_or_else(User::ghost),
            body: wire.body.unwrap_or_default(),
            created_at: wire.created_at,
        }
    }
}

#[derive(Deserialize)]
struct WireEvent {
    event: String,
    #[serde(default)]
    actor: Option<WireUser>,
}

#[derive(Deserialize)]
struct WirePermission {
    permission: String,
    #[serde(default)]
    role_name: Option<String>,
}

impl From<WirePermission> for Permission {
    fn from(wire: WirePermission) -> Permission {
        let legacy = level_from_name(&wire.permission).unwrap_or(PermissionLevel::None);
        let role_name = wire.role_name.unwrap_or_else(|| wire.permission.clone());
        // A custom role's name says nothing we can rank; its legacy permission does.
        let level = level_from_name(&role_name).unwrap_or(legacy);
        Permission { level, role_name }
    }
}

#[derive(Deserialize)]
struct WireMembership {
    state: String,
}

fn timestamp<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    let text = String::deserialize(deserializer)?;
    OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
}

fn optional_timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<OffsetDateTime>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => OffsetDateTime::parse(&text, &Rfc3339)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::exit_code;

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
    fn api_urls_must_be_http_with_a_host_and_nothing_secret() {
        assert!(parse_api_url("https://api.github.com").is_ok());
        assert_eq!(
            parse_api_url("https://ghe.example.com/api/v3")
                .unwrap()
                .path(),
            "/api/v3"
        );
        for bad in [
            "api.github.com",
            "ftp://x/api",
            "https://user:pw@ghe.example/api/v3",
            "https://x/api?token=1",
        ] {
            let error = parse_api_url(bad).unwrap_err();
            assert_eq!(exit_code(&error), 2, "{bad}");
            assert!(!format!("{error}").contains("pw@") || bad.contains("pw@"));
        }
    }

    #[test]
    fn issue_urls_give_repo_and_number() {
        let (repo, number) = parse_issue_url("https://github.com/o/r/issues/42").unwrap();
        assert_eq!((repo.to_string(), number), ("o/r".to_owned(), 42));
        let (repo, number) =
            parse_issue_url("https://ghe.example/o/r/issues/7/#issuecomment-1").unwrap();
        assert_eq!((repo.to_string(), number), ("o/r".to_owned(), 7));
        let (repo, number) =
            parse_issue_url("https://ghe.example/api/v3/repos/o/r/issues/9").unwrap();
        assert_eq!((repo.to_string(), number), ("o/r".to_owned(), 9));
        for bad in [
            "https://github.com/o/r/pull/4",
            "https://github.com/o/r/issues/x",
            "not a url",
            "https://github.com/issues/4",
        ] {
            assert!(parse_issue_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn next_links_are_found_among_others_and_commas_inside_targets_do_not_split() {
        let header = r#"<https://api.github.com/repositories/1/issues?labels=a,b&page=1>; rel="prev", <https://api.github.com/repositories/1/issues?labels=a,b&page=3>; rel="next", <https://api.github.com/repositories/1/issues?page=9>; rel="last""#;
        assert_eq!(
            next_link(header),
            Some("https://api.github.com/repositories/1/issues?labels=a,b&page=3")
        );
        assert_eq!(next_link(r#"<https://x/a?page=1>; rel="first""#), None);
        assert_eq!(
            next_link(r#"<https://x/a?page=2>; rel=next"#),
            Some("https://x/a?page=2")
        );
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("<broken"), None);
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
    fn issues_read_labels_users_and_pull_requests() {
        let issue: WireIssue = serde_json::from_value(json!({
            "number": 3,
            "html_url": "https://github.com/o/r/issues/3",
            "state": "closed",
            "state_reason": "something_new",
            "closed_by": {"login": "deploy-bot[bot]", "type": "Bot"},
            "user": null,
            "labels": [{"name": "gate", "color": "ededed"}, "plain"],
            "body": null,
            "created_at": "2026-01-01T00:00:00Z",
            "closed_at": "2026-01-02T00:00:00Z",
            "pull_request": {"url": "https://api.github.com/repos/o/r/pulls/3"},
            "unknown_field": {"ignored": true}
        }))
        .unwrap();
        let issue = Issue::from(issue);
        assert!(!issue.open);
        assert_eq!(
            issue.state_reason,
            Some(StateReason::Other("something_new".into()))
        );
        assert_eq!(
            issue.closed_by,
            Some(User {
                login: "deploy-bot[bot]".into(),
                is_bot: true
            })
        );
        assert_eq!(issue.user.login, "ghost");
        assert_eq!(issue.labels, vec!["gate", "plain"]);
        assert!(issue.is_pull_request);
        assert_eq!(issue.closed_at.unwrap().unix_timestamp(), 1_767_312_000);
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

    #[test]
    fn timestamps_are_written_the_way_github_writes_them() {
        let at = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        assert_eq!(iso8601(at), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn logins_are_checked_before_they_become_path_segments() {
        assert_eq!(checked_login("@octocat").unwrap(), "octocat");
        assert_eq!(checked_login("app[bot]").unwrap(), "app[bot]");
        assert!(checked_login("").is_err());
        assert!(checked_login("../../orgs").is_err());
    }
}
