//! `stepkit gate`: approval gates backed by a GitHub issue, for Kratix and Tekton.
//!
//! `create` asks (one issue per request, whatever happens), `wait` decides (only people the
//! policy allows, never for a request that changed). `request`, `body`, `policy` and `kratix`
//! are pure pieces; `github` is the remote API. Both commands also keep the contract of the
//! Kratix GitHub sign-off image they replace ([`Contract::SignOff`]), for Promises written for it.

pub mod body;
pub mod create;
pub mod github;
pub mod kratix;
pub mod policy;
pub mod request;
pub mod wait;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::core::error::Error;
use crate::core::input::{read_input_text, MIB};
use crate::core::secret::Secret;
use crate::core::tekton::{self, Budget};
use crate::gate::github::{parse_issue_url, GitHub, GitHubConfig, Issue, RepoName};
use crate::gate::kratix::{ApprovalState, ApprovalStatus, KratixDir};
use crate::gate::policy::Policy;
use crate::gate::request::{request_from_kratix_object, request_from_tekton, Request};

pub use create::{create_issue, CreateIssueOptions};
pub use wait::{wait_approval, WaitOptions};

/// What to do when the request changed since its issue was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnChange {
    /// Ask again in a new issue; the old one is closed as superseded, with a link.
    #[default]
    NewIssue,
    /// Reopen the old issue with the new request; an earlier decision does not carry over.
    Reopen,
    /// Keep the old issue: an open one now asks about the new request, a decided one must be
    /// reopened to decide again.
    Keep,
}

impl FromStr for OnChange {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "new-issue" => Ok(OnChange::NewIssue),
            "reopen" => Ok(OnChange::Reopen),
            "keep" => Ok(OnChange::Keep),
            _ => Err(format!(
                "unknown --on-change {text:?}: expected new-issue, reopen or keep"
            )),
        }
    }
}

/// Which promises the gate keeps to the containers that run after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Contract {
    /// stepkit's own: `approval-state` is always written (`pending` too), status has `approval`.
    #[default]
    Native,
    /// The Kratix GitHub sign-off image's (`command: [create-issue]`, `[wait-approval]`):
    /// `approval-state` only ever says `approved` or `rejected`, the wait blocks unless
    /// `RETRY_AFTER` is set, and an issue that image opened (no marker, linked from
    /// `status.approvalIssue`) is taken as the request's issue.
    SignOff,
}

/// Where the request comes from.
#[derive(Debug, Clone)]
pub enum RequestSource {
    /// A Kratix pipeline: `/kratix/input/object.yaml` and `KRATIX_*`.
    Kratix {
        dir: PathBuf,
        promise: Option<String>,
    },
    /// A Tekton step or a terminal: an id (e.g. `$(context.pipelineRun.uid)`) and optionally a
    /// file describing what is requested.
    Tekton {
        request_id: String,
        /// What is requested, as YAML or JSON: the text itself (a Task param), or a file.
        request_text: Option<String>,
        request_file: Option<PathBuf>,
        results_dir: Option<PathBuf>,
    },
}

/// What both gate commands share.
#[derive(Debug, Clone)]
pub struct GateContext {
    /// `None` when not configured: wait-approval then takes it from the request's issue link.
    pub repo: Option<RepoName>,
    pub contract: Contract,
    /// A URL [`crate::gate::github::parse_api_url`] accepted.
    pub api_url: reqwest::Url,
    pub token: Secret,
    pub label: String,
    pub policy: Policy,
    pub source: RequestSource,
    pub hash_paths: Vec<String>,
    pub requester_annotation: Option<String>,
    pub request_timeout: Duration,
    pub deadline: Duration,
    /// Retries of a failed GitHub read (`None`: as many as `deadline` allows).
    pub retries: Option<u32>,
    pub mutation_spacing: Duration,
}

impl GateContext {
    pub fn request(&self) -> anyhow::Result<Request> {
        match &self.source {
            RequestSource::Kratix { dir, promise } => {
                let object = KratixDir::new(dir.clone()).read_object()?;
                request_from_kratix_object(
                    &object,
                    promise.as_deref(),
                    &self.hash_paths,
                    self.requester_annotation.as_deref(),
                )
            }
            RequestSource::Tekton {
                request_id,
                request_text,
                request_file,
                ..
            } => {
                let document = match (request_text, request_file) {
                    (Some(text), _) => Some(text.clone()),
                    (None, Some(path)) => {
                        Some(read_input_text(Some(path), 4 * MIB).map_err(|err| {
                            Error::usage(format!(
                                "cannot read --request-file {}: {err}",
                                path.display()
                            ))
                        })?)
                    }
                    (None, None) => None,
                };
                request_from_tekton(request_id, document.as_deref(), &self.hash_paths)
            }
        }
    }

    pub fn outputs(&self) -> Outputs {
        match &self.source {
            RequestSource::Kratix { dir, .. } => {
                Outputs::Kratix(KratixDir::new(dir.clone()), self.contract)
            }
            RequestSource::Tekton { results_dir, .. } => Outputs::Tekton {
                results_dir: tekton::results_dir(results_dir.as_deref()),
            },
        }
    }

    pub fn github(&self) -> anyhow::Result<GitHub> {
        GitHub::new(GitHubConfig {
            request_timeout: self.request_timeout,
            deadline: self.deadline,
            retries: self.retries,
            mutation_spacing: self.mutation_spacing,
            ..GitHubConfig::new(
                self.api_url.as_str(),
                self.token.clone(),
                self.repo()?.clone(),
            )
        })
    }

    /// The repository of the approval issues; a usage error when none is known.
    pub fn repo(&self) -> anyhow::Result<&RepoName> {
        self.repo.as_ref().ok_or_else(|| {
            Error::usage(
                "no repository for the approval issues: set GITHUB_REPOSITORY (or --repo) to \
                 OWNER/NAME",
            )
            .into()
        })
    }

    pub fn repo_text(&self) -> String {
        self.repo
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// This context with the repository filled in from the request's issue link when none was
    /// configured: `--issue`, the status link an earlier create-issue left (as the sign-off
    /// image's wait-approval does, which takes no `GITHUB_REPOSITORY`), or
    /// `metadata/approval-issue` from a create-issue earlier in the same Pipeline.
    pub fn with_repo_from_issue_link(
        &self,
        issue: Option<&str>,
        request: &Request,
    ) -> anyhow::Result<GateContext> {
        if self.repo.is_some() {
            return Ok(self.clone());
        }
        let same_pipeline = match self.outputs() {
            Outputs::Kratix(dir, _) => dir.read_approval_issue(),
            Outputs::Tekton { .. } => None,
        };
        let link = issue
            .filter(|issue| issue.contains("://"))
            .map(str::to_owned)
            .or_else(|| request.previous.issue_url.clone())
            .or(same_pipeline)
            .ok_or_else(|| {
                Error::usage(format!(
                    "no repository for the approval issues and no issue link to take it from: \
                     set GITHUB_REPOSITORY (or --repo) to OWNER/NAME, or run create-issue first \
                     (in an earlier Pipeline it leaves status.approvalIssue in the object; request \
                     {})",
                    request.key
                ))
            })?;
        let (repo, _) = parse_issue_url(&link)?;
        tracing::info!("approval issues are in {repo}, from the issue link {link}");
        Ok(GateContext {
            repo: Some(repo),
            ..self.clone()
        })
    }
}

/// Where decisions are written: the Kratix metadata files, or Tekton results.
#[derive(Debug, Clone)]
pub enum Outputs {
    Kratix(KratixDir, Contract),
    Tekton { results_dir: Option<PathBuf> },
}

/// A decision (or its absence) and what goes with it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub state: ApprovalState,
    pub issue: Option<Issue>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub etag: Option<String>,
    /// Shown to people: Kratix puts it in the resource's status.
    pub message: String,
    /// The issue was not read this time (a 304, or a failure before it was read): the outputs
    /// keep the link and times the last look recorded.
    pub unchanged: bool,
}

impl Outputs {
    /// Writes the approval state alone, as well as it can (a failure is logged): for the exit
    /// paths that know no request to write a status for.
    pub fn leave_state(&self, state: ApprovalState) {
        let written = match self {
            Outputs::Kratix(dir, contract) => write_state(dir, *contract, state),
            Outputs::Tekton { results_dir } => tekton::write_named_results(
                results_dir.as_deref(),
                Budget::default(),
                &[("APPROVAL_STATE", state.as_str())],
            ),
        };
        if let Err(err) = written {
            tracing::warn!("cannot write the approval state: {err:#}");
        }
    }

    pub fn skip_requested(&self) -> Option<String> {
        match self {
            Outputs::Kratix(dir, _) => dir.skip_requested(),
            Outputs::Tekton { .. } => None,
        }
    }

    /// create-issue's outputs: the issue link, and a pending status.
    pub fn asked(&self, request: &Request, issue: &Issue, repo: &str) -> anyhow::Result<()> {
        match self {
            Outputs::Kratix(dir, _) => {
                dir.write_approval_issue(&issue.html_url)?;
                let status = approval_status(
                    request,
                    Some(repo),
                    &Outcome {
                        state: ApprovalState::Pending,
                        issue: Some(issue.clone()),
                        decided_by: None,
                        reason: None,
                        etag: None,
                        message: String::new(),
                        unchanged: false,
                    },
                );
                dir.write_status(&status, &format!("Awaiting approval: {}", issue.html_url))
            }
            Outputs::Tekton { results_dir } => tekton::write_named_results(
                results_dir.as_deref(),
                Budget::default(),
                &[("ISSUE_URL", &issue.html_url)],
            ),
        }
    }

    /// wait-approval's outputs: the state (always, or under the sign-off contract only once
    /// decided as approved or rejected); the status; a retry request while pending.
    pub fn decided(
        &self,
        request: &Request,
        repo: &str,
        outcome: &Outcome,
        retry_after: Option<Duration>,
    ) -> anyhow::Result<()> {
        match self {
            Outputs::Kratix(dir, contract) => {
                write_state(dir, *contract, outcome.state)?;
                dir.write_status(
                    &approval_status(request, Some(repo), outcome),
                    &outcome.message,
                )?;
                if let (ApprovalState::Pending, Some(retry_after)) = (outcome.state, retry_after) {
                    dir.write_workflow_control(retry_after, &outcome.message)?;
                }
                Ok(())
            }
            Outputs::Tekton { results_dir } => {
                let (url, _, _) = issue_record(request, outcome);
                tekton::write_named_results(
                    results_dir.as_deref(),
                    Budget::default(),
                    &[
                        ("APPROVAL_STATE", outcome.state.as_str()),
                        ("ISSUE_URL", url.as_deref().unwrap_or("")),
                    ],
                )
            }
        }
    }
}

/// `metadata/approval-state` as the contract has it: always under stepkit's own; under the
/// sign-off image's only approved or rejected (its consumers know only those, many act on anything
/// but "rejected"), so no file until one of those, on every path, failures included.
fn write_state(dir: &KratixDir, contract: Contract, state: ApprovalState) -> anyhow::Result<()> {
    match (contract, state) {
        (Contract::Native, state)
        | (Contract::SignOff, state @ (ApprovalState::Approved | ApprovalState::Rejected)) => {
            dir.write_approval_state(state)
        }
        (Contract::SignOff, _) => dir.remove_approval_state(),
    }
}

/// The issue's link, number and creation time (RFC 3339): as read now, else, when it was not
/// read this time, as the last look recorded them.
fn issue_record(
    request: &Request,
    outcome: &Outcome,
) -> (Option<String>, Option<u64>, Option<String>) {
    let previous = &request.previous;
    match (&outcome.issue, outcome.unchanged) {
        (Some(issue), _) => (
            Some(issue.html_url.clone()),
            Some(issue.number),
            Some(rfc3339(issue.created_at)),
        ),
        (None, true) => (
            previous.issue_url.clone(),
            previous
                .issue_url
                .as_deref()
                .and_then(|url| parse_issue_url(url).ok())
                .map(|(_, number)| number),
            previous.requested_at.clone(),
        ),
        (None, false) => (None, None, None),
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn approval_status(request: &Request, repo: Option<&str>, outcome: &Outcome) -> ApprovalStatus {
    let decided = !matches!(outcome.state, ApprovalState::Pending);
    let (issue_url, issue_number, requested_at) = issue_record(request, outcome);
    ApprovalStatus {
        state: outcome.state,
        issue_url,
        issue_number,
        repo: repo.map(str::to_owned),
        request_hash: request.hash.clone(),
        requested_at,
        decided_at: decided.then(|| rfc3339(OffsetDateTime::now_utc())),
        decided_by: outcome.decided_by.clone(),
        reason: outcome.reason.clone(),
        etag: outcome.etag.clone(),
    }
}
