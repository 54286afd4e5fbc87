//! The calls an approval gate makes: labels, issues (read conditionally, listed, created,
//! updated), comments, events, permissions and team memberships; and the pagination and
//! redirects they follow, which never leave the API (the token goes nowhere else).

use std::collections::HashSet;

use reqwest::header::{LINK, LOCATION};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::classify::is_issues_disabled;
use super::transport::{Answer, MutationFailure};
use super::wire::{
    checked_login, iso8601, next_link, parse_issue_url, WireComment, WireEvent, WireIssue,
    WireMembership, WirePermission,
};
use super::{
    Comment, CreateOutcome, Fetched, GitHub, Issue, NewIssue, Permission, PermissionLevel, User,
};
use crate::core::error::{Error, Kind};
use crate::core::http::request_label;

/// The largest page GitHub serves: fewest requests, least quota.
const PER_PAGE: &str = "100";
/// A bound on pages of one listing, against a server that links in circles.
const MAX_PAGES: usize = 1000;
/// Redirects followed for one issue (a transferred issue answers one).
const MAX_REDIRECTS: usize = 3;

impl GitHub {
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
}
