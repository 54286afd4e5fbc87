//! `gate wait-approval`: read the decision from the request's issue, as the policy allows it.
//!
//! Three ways to wait: `retry` (Kratix: look once, and while pending ask Kratix to run the
//! pipeline again later), `block` (poll with conditional requests, so an idle wait costs no rate
//! limit), `once`. The timeout counts from the issue's creation, so it survives pod restarts.
//!
//! Kratix has no way to stop the later containers of the same Pipeline while one of them waits
//! in retry mode (its docs: suspending a Pipeline "will not stop the execution of later stages in
//! the same Pipeline"), so in retry mode they run while the request is pending and must act only
//! on `approved`. The sign-off contract blocks instead, as the image it replaces did.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use time::OffsetDateTime;

use crate::core::error::{kind_of, Error, Kind, Verdict};
use crate::core::poll::{poll_until, Cancel, Poll, PollOptions};
use crate::core::progress::human_duration;
use crate::gate::create::{find_request_issue, marker_of, relation, rewrite_marker, Relation};
use crate::gate::github::{Fetched, GitHub, Issue, IssueRef, StateReason, User};
use crate::gate::kratix::ApprovalState;
use crate::gate::policy::{
    authorize, close_verdict, tally_comments, ApproveBy, Approver, Authorization, CommentFacts,
    IssueFacts, PermissionLevel,
};
use crate::gate::request::Request;
use crate::gate::{GateContext, Outcome};

/// The bot's comment when a request changes; comment approvals before it do not count.
const REQUEST_CHANGED: &str = "The request changed";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMode {
    /// Look once; while pending, write `workflow-control.yaml` so Kratix runs the pipeline again.
    Retry,
    /// Poll until decided or timed out.
    Block,
    /// Look once and report.
    Once,
}

impl FromStr for WaitMode {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "retry" => Ok(WaitMode::Retry),
            "block" => Ok(WaitMode::Block),
            "once" => Ok(WaitMode::Once),
            _ => Err(format!(
                "unknown --mode {text:?}: expected retry, block or once"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnTimeout {
    /// The request is rejected (reason: timed out).
    #[default]
    Reject,
    /// The request expires and the command fails (exit 4).
    Fail,
}

impl FromStr for OnTimeout {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "reject" => Ok(OnTimeout::Reject),
            "fail" => Ok(OnTimeout::Fail),
            _ => Err(format!(
                "unknown --on-timeout {text:?}: expected reject or fail"
            )),
        }
    }
}

/// Options of `wait-approval` beyond the shared context.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// An issue number or URL, instead of looking the request's issue up.
    pub issue: Option<IssueRef>,
    pub mode: WaitMode,
    pub retry_after: Duration,
    pub poll_interval: Duration,
    pub timeout: Option<Duration>,
    pub on_timeout: OnTimeout,
    /// Reopen an issue closed by someone the policy does not allow to decide.
    pub reopen_unauthorized_close: bool,
    pub fail_on_reject: bool,
}

pub async fn wait_approval(
    context: &GateContext,
    options: &WaitOptions,
) -> anyhow::Result<Verdict> {
    let outputs = context.outputs();
    let request = match context.request() {
        Ok(request) => request,
        Err(err) => {
            // Without the request there is no status to write, but later containers still
            // find a state to read (none under the sign-off contract: it only says decided).
            outputs.leave_state(ApprovalState::Pending);
            return Err(err);
        }
    };
    if let Some(reason) = outputs.skip_requested() {
        let outcome = Outcome {
            state: ApprovalState::Approved,
            issue: None,
            decided_by: None,
            reason: Some(reason.clone()),
            etag: None,
            message: format!("Approved without asking: {reason}"),
            unchanged: false,
        };
        context
            .outputs()
            .decided(&request, &context.repo_text(), &outcome, None)?;
        return Ok(Verdict::Pass);
    }
    let context = &match context
        .with_repo_from_issue_link(options.issue.as_ref().and_then(IssueRef::link), &request)
    {
        Ok(context) => context,
        Err(err) => return Err(leave_pending(context, options, &request, None, err)),
    };
    let github = match context.github() {
        Ok(github) => github,
        Err(err) => return Err(leave_pending(context, options, &request, None, err)),
    };
    // With a timeout and an earlier run's record of when the issue was created, the wait's
    // deadline is known before GitHub is asked anything: no call may outlast it by more than
    // the grace the decision after it gets.
    if let (Some(timeout), Some(created)) = (options.timeout, previous_request_time(&request)) {
        let left = timeout.saturating_sub(elapsed_since(created));
        github.end_by(Some(
            tokio::time::Instant::now() + left + after_deadline_grace(context),
        ));
    }
    let mut judge = Judge {
        github: &github,
        context,
        options,
        request: &request,
        authorizations: HashMap::new(),
        last_seen: None,
    };
    match judge.decide().await {
        Ok(outcome) => finish(context, options, &request, outcome).await,
        Err(err) => {
            let last_seen = judge.last_seen.take();
            Err(leave_pending(context, options, &request, last_seen, err))
        }
    }
}

/// On a failure before a decision, the outputs still say something true: pending, with the
/// issue last seen and why no decision was read. Returns `err` for the caller to pass on.
fn leave_pending(
    context: &GateContext,
    options: &WaitOptions,
    request: &Request,
    last_seen: Option<Issue>,
    err: anyhow::Error,
) -> anyhow::Error {
    let outcome = Outcome {
        state: ApprovalState::Pending,
        // Not read this time: the outputs keep the link the last run recorded.
        unchanged: last_seen.is_none(),
        issue: last_seen,
        decided_by: None,
        reason: None,
        etag: None,
        message: format!("No decision read: {err:#}"),
    };
    let retry_after = (options.mode == WaitMode::Retry).then_some(options.retry_after);
    if let Err(write_err) =
        context
            .outputs()
            .decided(request, &context.repo_text(), &outcome, retry_after)
    {
        tracing::warn!("cannot write the pending state after the failure: {write_err:#}");
    }
    err
}

/// Writes the outcome and turns it into the command's verdict.
async fn finish(
    context: &GateContext,
    options: &WaitOptions,
    request: &Request,
    outcome: Outcome,
) -> anyhow::Result<Verdict> {
    let retry_after = (options.mode == WaitMode::Retry).then_some(options.retry_after);
    context
        .outputs()
        .decided(request, &context.repo_text(), &outcome, retry_after)?;
    tracing::info!("{}", outcome.message);
    match outcome.state {
        ApprovalState::Approved | ApprovalState::Pending => Ok(Verdict::Pass),
        ApprovalState::Rejected if options.fail_on_reject => Ok(Verdict::Fail),
        ApprovalState::Rejected => Ok(Verdict::Pass),
        ApprovalState::Expired => Err(Error::deadline(outcome.message).into()),
    }
}

enum Located {
    Found {
        issue: Issue,
        etag: Option<String>,
    },
    /// The issue the last run looked at has not changed since.
    Unchanged {
        issue_url: String,
        etag: String,
    },
    Missing,
}

struct Judge<'a> {
    github: &'a GitHub,
    context: &'a GateContext,
    options: &'a WaitOptions,
    request: &'a Request,
    authorizations: HashMap<String, Authorization>,
    /// The request's issue as last read, for the outputs of a failure.
    last_seen: Option<Issue>,
}

impl Judge<'_> {
    /// Finds the request's issue and reads the decision; in block mode, waits for one.
    async fn decide(&mut self) -> anyhow::Result<Outcome> {
        let (issue, etag) = match self.locate().await? {
            Located::Unchanged { issue_url, etag } => {
                // Nothing happened since the last look (a 304 costs no rate limit).
                return Ok(Outcome {
                    state: ApprovalState::Pending,
                    issue: None,
                    message: format!("Awaiting approval: {issue_url}"),
                    decided_by: None,
                    reason: None,
                    etag: Some(etag),
                    unchanged: true,
                });
            }
            Located::Found { issue, etag } => (issue, etag),
            Located::Missing => {
                return Err(Error::usage(format!(
                    "no approval issue found for request {} in {} (label {}): run `stepkit gate create-issue` first, or pass --issue",
                    self.request.key,
                    self.context.repo_text(),
                    self.context.label
                ))
                .into());
            }
        };
        self.last_seen = Some(issue.clone());
        let mut outcome = self.judge(issue, etag).await?;
        if self.options.mode == WaitMode::Block && outcome.state == ApprovalState::Pending {
            outcome = self.block_until_decided(outcome).await?;
        }
        Ok(outcome)
    }

    /// The request's issue: `--issue`, else the status link (conditionally, with the ETag of the
    /// last look), else the labelled-issue list.
    async fn locate(&mut self) -> anyhow::Result<Located> {
        if let Some(issue) = &self.options.issue {
            let fetched = match issue {
                IssueRef::Number(number) => self.github.issue(*number, None).await?,
                IssueRef::Link { url, .. } => self.github.issue_by_url(url, None).await?,
            };
            return Ok(match fetched {
                Fetched::Found { value, etag } | Fetched::Moved { value, etag } => {
                    Located::Found { issue: value, etag }
                }
                _ => Located::Missing,
            });
        }
        let previous = &self.request.previous;
        let still_pending = previous.state.as_deref() == Some("pending")
            && previous.request_hash.as_deref() == Some(self.request.hash.as_str());
        if let (Some(url), Some(etag), true, None) = (
            &previous.issue_url,
            &previous.etag,
            still_pending,
            self.options.timeout,
        ) {
            match self.github.issue_by_url(url, Some(etag)).await {
                Ok(Fetched::NotModified) => {
                    return Ok(Located::Unchanged {
                        issue_url: url.clone(),
                        etag: etag.clone(),
                    })
                }
                Ok(Fetched::Found { value, etag }) | Ok(Fetched::Moved { value, etag })
                    if relation(&value, self.request, self.context.contract) != Relation::Other =>
                {
                    return Ok(Located::Found { issue: value, etag })
                }
                Ok(_) => {}
                Err(err) => tracing::warn!("cannot read {url} from the status: {err:#}"),
            }
        }
        Ok(
            match find_request_issue(self.github, self.context, self.request).await? {
                Some((issue, etag)) => Located::Found { issue, etag },
                None => Located::Missing,
            },
        )
    }

    /// Polls the issue (conditionally) until it is decided or the timeout passes.
    async fn block_until_decided(&mut self, first: Outcome) -> anyhow::Result<Outcome> {
        let Some(issue) = first.issue.clone() else {
            return Ok(first);
        };
        let timeout = match self.options.timeout {
            Some(timeout) => {
                let age = elapsed_since(issue.created_at);
                // One last look right after the timeout decides it.
                timeout.saturating_sub(age) + Duration::from_millis(10)
            }
            None => Duration::from_secs(365 * 24 * 3600),
        };
        let poll = PollOptions::new(
            format!("approval in {}", issue.html_url),
            self.options.poll_interval,
            timeout,
        );
        let cancel = Cancel::on_termination_signals();
        let state = tokio::sync::Mutex::new((first, issue.number));
        let result = poll_until(&poll, &cancel, || async {
            let mut guard = state.lock().await;
            let (last, number) = &mut *guard;
            let fetched = self.github.issue(*number, last.etag.as_deref()).await;
            drop(guard);
            match fetched? {
                Fetched::NotModified => Ok(Poll::Pending("pending".to_owned())),
                Fetched::Found { value, etag } | Fetched::Moved { value, etag } => {
                    // The judge needs &mut self, which the closure cannot hold across polls;
                    // hand the issue back out instead.
                    Ok(Poll::Ready((value, etag)))
                }
                Fetched::Gone => Err(Error::refused(format!(
                    "the approval issue {} was deleted",
                    issue.html_url
                ))
                .into()),
            }
        })
        .await;
        match result {
            Ok((changed, etag)) => {
                let outcome = self.judge(changed, etag).await?;
                if outcome.state == ApprovalState::Pending {
                    // Still undecided (a comment that is not a verdict, say): keep waiting.
                    return Box::pin(self.block_until_decided(outcome)).await;
                }
                Ok(outcome)
            }
            Err(err) if cancel.is_cancelled() => Err(err),
            // Only the deadline: a GitHub failure is not a timeout, and must not close the
            // issue as timed out.
            Err(err) if kind_of(&err) != Some(Kind::Deadline) => Err(err),
            Err(_) if self.options.timeout.is_some() => {
                // The deadline passed: one more look decides it as timed out, and closing the
                // issue gets a few request timeouts, not GitHub's whole retry deadline.
                self.github.end_by(Some(
                    tokio::time::Instant::now() + after_deadline_grace(self.context),
                ));
                let refreshed = match self.github.issue(issue.number, None).await? {
                    Fetched::Found { value, .. } | Fetched::Moved { value, .. } => value,
                    _ => issue,
                };
                self.judge(refreshed, None).await
            }
            Err(err) => Err(err),
        }
    }

    /// Reads the decision from the issue.
    async fn judge(&mut self, mut issue: Issue, etag: Option<String>) -> anyhow::Result<Outcome> {
        let relation = relation(&issue, self.request, self.context.contract);
        if relation == Relation::Other {
            return Err(Error::usage(match marker_of(&issue) {
                None => format!(
                    "{} carries no stepkit gate marker: it was not opened by `gate create-issue`",
                    issue.html_url
                ),
                Some(marker) => format!(
                    "{} is the approval issue of request {}, not of {}",
                    issue.html_url, marker.key, self.request.key
                ),
            })
            .into());
        }
        if relation == Relation::Changed {
            if !issue.open {
                return Ok(self.pending(
                    issue,
                    etag,
                    "The request changed after this issue was decided: reopen it to decide again",
                ));
            }
            // Open means undecided, so the issue can ask about the new request.
            let body = rewrite_marker(issue.body.as_deref().unwrap_or(""), self.request);
            issue = self
                .github
                .update_issue(issue.number, true, None, Some(&body))
                .await?;
            self.github
                .comment(
                    issue.number,
                    &format!(
                        "{REQUEST_CHANGED} while this issue was open; decide on the new request."
                    ),
                )
                .await?;
        }

        if let Some(timeout) = self.options.timeout {
            if issue.open && elapsed_since(issue.created_at) >= timeout {
                return self.time_out(issue, timeout).await;
            }
        }
        if !issue.open {
            return self.judge_close(issue, etag).await;
        }
        if self.context.policy.approve_by != ApproveBy::Close {
            if let Some(outcome) = self.judge_comments(&issue).await? {
                return Ok(outcome);
            }
        }
        let url = issue.html_url.clone();
        Ok(self.pending(issue, etag, &format!("Awaiting approval: {url}")))
    }

    async fn judge_close(&mut self, issue: Issue, etag: Option<String>) -> anyhow::Result<Outcome> {
        let facts = IssueFacts {
            open: false,
            state_reason: issue.state_reason.as_ref().map(reason_name),
            closer: issue.closed_by.as_ref().map(|u| u.login.clone()),
        };
        let verdict = close_verdict(&self.context.policy, &facts);
        let approving = match verdict {
            crate::gate::policy::Verdict::Approve => true,
            crate::gate::policy::Verdict::Reject => false,
            crate::gate::policy::Verdict::None => {
                let reason = facts.state_reason.unwrap_or_else(|| "none".into());
                return Ok(self.pending(
                    issue,
                    etag,
                    &format!("The issue was closed with reason {reason}, which neither approves nor rejects"),
                ));
            }
        };
        if approving && self.context.policy.approve_by == ApproveBy::Comments {
            return Ok(self.pending(
                issue,
                etag,
                "Closing does not approve here: approvals are /approve comments",
            ));
        }
        let closer = match issue.closed_by.clone() {
            Some(user) => Some(user),
            None => self.github.last_closer_from_events(issue.number).await?,
        };
        let Some(closer) = closer else {
            return Ok(self.pending(
                issue,
                etag,
                "The issue was closed, but GitHub does not say by whom",
            ));
        };
        let authorization = self.authorization(&closer).await?;
        match authorize(
            &self.context.policy,
            &authorization,
            self.request.requester.as_deref(),
        ) {
            Ok(()) => Ok(self.decided(
                issue,
                etag,
                if approving {
                    ApprovalState::Approved
                } else {
                    ApprovalState::Rejected
                },
                Some(closer.login.clone()),
                None,
            )),
            Err(why) => {
                let message = format!(
                    "@{} closed this issue but cannot decide this request: {why}",
                    closer.login
                );
                if self.options.reopen_unauthorized_close {
                    self.github
                        .update_issue(issue.number, true, None, None)
                        .await?;
                    self.github
                        .comment(issue.number, &format!("{message}. The issue was reopened."))
                        .await?;
                }
                tracing::warn!("{message}");
                Ok(self.pending(issue, None, &message))
            }
        }
    }

    /// `/approve` and `/reject` comments from authorized people, after the last request change.
    async fn judge_comments(&mut self, issue: &Issue) -> anyhow::Result<Option<Outcome>> {
        let comments = self.github.comments(issue.number, None).await?;
        let start = comments
            .iter()
            .rposition(|c| c.body.starts_with(REQUEST_CHANGED))
            .map_or(0, |i| i + 1);
        let comments = &comments[start..];
        for comment in comments {
            if !self.authorizations.contains_key(&comment.user.login) {
                self.authorization(&comment.user).await?;
            }
        }
        let requester = self.request.requester.clone();
        let facts: Vec<CommentFacts> = comments
            .iter()
            .map(|c| CommentFacts {
                author: c.user.login.clone(),
                body: c.body.clone(),
            })
            .collect();
        let policy = &self.context.policy;
        let authorizations = &self.authorizations;
        let tally = tally_comments(policy, &facts, |login| {
            authorizations
                .get(login)
                .is_some_and(|a| authorize(policy, a, requester.as_deref()).is_ok())
        });
        if let Some(rejecter) = tally.rejections.first() {
            let rejecter = rejecter.clone();
            self.github
                .comment(issue.number, &format!("Rejected by @{rejecter}."))
                .await?;
            let closed = self
                .github
                .update_issue(issue.number, false, Some("not_planned"), None)
                .await?;
            return Ok(Some(self.decided(
                closed,
                None,
                ApprovalState::Rejected,
                Some(rejecter),
                None,
            )));
        }
        if tally.approvals.len() >= policy.min_approvals.max(1) as usize {
            let by = tally.approvals.join(", ");
            self.github
                .comment(
                    issue.number,
                    &format!(
                        "Approved by {}.",
                        tally
                            .approvals
                            .iter()
                            .map(|a| format!("@{a}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .await?;
            let closed = self
                .github
                .update_issue(issue.number, false, Some("completed"), None)
                .await?;
            return Ok(Some(self.decided(
                closed,
                None,
                ApprovalState::Approved,
                Some(by),
                None,
            )));
        }
        Ok(None)
    }

    async fn time_out(&mut self, issue: Issue, timeout: Duration) -> anyhow::Result<Outcome> {
        let after = human_duration(timeout);
        self.github
            .comment(
                issue.number,
                &format!("No decision within {after}: the request timed out."),
            )
            .await?;
        let closed = self
            .github
            .update_issue(issue.number, false, Some("not_planned"), None)
            .await?;
        let state = match self.options.on_timeout {
            OnTimeout::Reject => ApprovalState::Rejected,
            OnTimeout::Fail => ApprovalState::Expired,
        };
        Ok(self.decided(
            closed,
            None,
            state,
            None,
            Some(format!("timed out after {after}")),
        ))
    }

    /// Who `user` is to the policy: bot or not, permission, and membership of the approvers.
    async fn authorization(&mut self, user: &User) -> anyhow::Result<Authorization> {
        if let Some(known) = self.authorizations.get(&user.login) {
            return Ok(known.clone());
        }
        let level: PermissionLevel = self.github.permission(&user.login).await?.level;
        let approvers = &self.context.policy.approvers;
        let mut in_approvers = approvers.is_empty();
        for approver in approvers {
            if in_approvers {
                break;
            }
            in_approvers = match approver {
                Approver::User(login) => login.eq_ignore_ascii_case(&user.login),
                Approver::Team { org, slug } => {
                    self.github.team_member(org, slug, &user.login).await?
                }
            };
        }
        let authorization = Authorization {
            login: user.login.clone(),
            is_bot: user.is_bot,
            level,
            in_approvers,
        };
        self.authorizations
            .insert(user.login.clone(), authorization.clone());
        Ok(authorization)
    }

    fn pending(&self, issue: Issue, etag: Option<String>, message: &str) -> Outcome {
        Outcome {
            state: ApprovalState::Pending,
            issue: Some(issue),
            decided_by: None,
            reason: None,
            etag,
            message: message.to_owned(),
            unchanged: false,
        }
    }

    fn decided(
        &self,
        issue: Issue,
        etag: Option<String>,
        state: ApprovalState,
        by: Option<String>,
        reason: Option<String>,
    ) -> Outcome {
        let mut message = format!("{} {}", capitalized(state.as_str()), issue.html_url);
        if let Some(by) = &by {
            message.push_str(&format!(" by {by}"));
        }
        if let Some(reason) = &reason {
            message.push_str(&format!(" ({reason})"));
        }
        Outcome {
            state,
            issue: Some(issue),
            decided_by: by,
            reason,
            etag,
            message,
            unchanged: false,
        }
    }
}

fn reason_name(reason: &StateReason) -> String {
    match reason {
        StateReason::Completed => "completed".into(),
        StateReason::NotPlanned => "not_planned".into(),
        StateReason::Reopened => "reopened".into(),
        StateReason::Duplicate => "duplicate".into(),
        StateReason::Other(other) => other.clone(),
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// When the request's issue was created, as an earlier run recorded it.
fn previous_request_time(request: &Request) -> Option<OffsetDateTime> {
    let text = request.previous.requested_at.as_deref()?;
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// What the last look and the close after a `--timeout` get: a few request timeouts, not
/// GitHub's whole retry deadline.
fn after_deadline_grace(context: &GateContext) -> Duration {
    context.request_timeout.saturating_mul(3)
}

fn elapsed_since(at: OffsetDateTime) -> Duration {
    let elapsed = OffsetDateTime::now_utc() - at;
    elapsed.try_into().unwrap_or(Duration::ZERO)
}
