//! `stepkit gate`: approval gates backed by a GitHub issue, for Kratix and Tekton.
//!
//! `create` asks (one issue per request, whatever happens), `wait` decides (only people the
//! policy allows, never for a request that changed). `request`, `body`, `policy` and `kratix`
//! are pure pieces; `github` is the remote API.

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
use crate::gate::github::{GitHub, GitHubConfig, Issue, RepoName};
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
    pub repo: RepoName,
    pub api_url: String,
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
            RequestSource::Kratix { dir, .. } => Outputs::Kratix(KratixDir::new(dir.clone())),
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
            ..GitHubConfig::new(self.api_url.clone(), self.token.clone(), self.repo.clone())
        })
    }

    pub fn repo_text(&self) -> String {
        self.repo.to_string()
    }
}

/// Where decisions are written: the Kratix metadata files, or Tekton results.
#[derive(Debug, Clone)]
pub enum Outputs {
    Kratix(KratixDir),
    Tekton { results_dir: Option<PathBuf> },
}

/// A decision (or its absence) and what goes with it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub state: ApprovalState,
    pub issue: Option<Issue>,
    /// The issue's link when `issue` was not read this time (unchanged since the last look).
    pub issue_url: Option<String>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub etag: Option<String>,
    /// Shown to people: Kratix puts it in the resource's status.
    pub message: String,
}

impl Outputs {
    /// Writes the approval state alone, as well as it can (a failure is logged): for the exit
    /// paths that know no request to write a status for.
    pub fn leave_state(&self, state: ApprovalState) {
        let written = match self {
            Outputs::Kratix(dir) => dir.write_approval_state(state),
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
            Outputs::Kratix(dir) => dir.skip_requested(),
            Outputs::Tekton { .. } => None,
        }
    }

    /// create-issue's outputs: the issue link, and a pending status.
    pub fn asked(&self, request: &Request, issue: &Issue, repo: &str) -> anyhow::Result<()> {
        match self {
            Outputs::Kratix(dir) => {
                dir.write_approval_issue(&issue.html_url)?;
                let status = approval_status(
                    request,
                    Some(repo),
                    &Outcome {
                        state: ApprovalState::Pending,
                        issue: Some(issue.clone()),
                        issue_url: Some(issue.html_url.clone()),
                        decided_by: None,
                        reason: None,
                        etag: None,
                        message: String::new(),
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

    /// wait-approval's outputs: the state, always; the status; a retry request while pending.
    pub fn decided(
        &self,
        request: &Request,
        repo: &str,
        outcome: &Outcome,
        retry_after: Option<Duration>,
    ) -> anyhow::Result<()> {
        match self {
            Outputs::Kratix(dir) => {
                dir.write_approval_state(outcome.state)?;
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
                let url = outcome.issue_url.as_deref().unwrap_or("");
                tekton::write_named_results(
                    results_dir.as_deref(),
                    Budget::default(),
                    &[
                        ("APPROVAL_STATE", outcome.state.as_str()),
                        ("ISSUE_URL", url),
                    ],
                )
            }
        }
    }
}

fn approval_status(request: &Request, repo: Option<&str>, outcome: &Outcome) -> ApprovalStatus {
    let format = |at: OffsetDateTime| at.format(&Rfc3339).unwrap_or_default();
    let decided = !matches!(outcome.state, ApprovalState::Pending);
    ApprovalStatus {
        state: outcome.state,
        issue_url: outcome.issue_url.clone(),
        issue_number: outcome.issue.as_ref().map(|i| i.number),
        repo: repo.map(str::to_owned),
        request_hash: request.hash.clone(),
        requested_at: outcome.issue.as_ref().map(|i| format(i.created_at)),
        decided_at: decided.then(|| format(OffsetDateTime::now_utc())),
        decided_by: outcome.decided_by.clone(),
        reason: outcome.reason.clone(),
        etag: outcome.etag.clone(),
    }
}
