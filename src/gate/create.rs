//! `gate create-issue`: make sure exactly one open question exists for this request.
//!
//! A re-run (Kratix reconciles every 10 hours and on every update; a Tekton retry) must find the
//! issue it made before, so every issue carries a label and a hidden marker with the request's
//! key and hash. Lookup goes status link → labelled-issue list (never the search API, which
//! lags) → create; a create that may have reached GitHub is followed by another lookup, never by
//! a blind second create. Under the sign-off contract an issue the sign-off image opened (it has
//! no marker; the status links to it) is this request's issue, as that image treated it.

use crate::gate::body::{find_marker, render_body, render_marker, render_title, Marker};
use crate::gate::github::{CreateOutcome, Fetched, GitHub, Issue, NewIssue};
use crate::gate::policy::policy_text;
use crate::gate::request::Request;
use crate::gate::{Contract, GateContext, OnChange};

/// Options of `create-issue` beyond the shared context.
#[derive(Debug, Clone)]
pub struct CreateIssueOptions {
    pub title_template: String,
    pub show: Vec<String>,
    pub body_max_chars: usize,
    pub assignees: Vec<String>,
    pub mention: Option<String>,
    pub on_change: OnChange,
}

/// The issue the request is asked in, and whether this run created it.
#[derive(Debug, Clone)]
pub struct AskedIn {
    pub issue: Issue,
    pub created: bool,
}

/// Asks for approval, or finds where it was asked. `None` when the pipeline asked to skip the
/// gate (the sign-off image's `skip-approval`/`auto-approve` files).
pub async fn create_issue(
    context: &GateContext,
    options: &CreateIssueOptions,
) -> anyhow::Result<Option<AskedIn>> {
    let request = context.request()?;
    let outputs = context.outputs();
    if let Some(reason) = outputs.skip_requested() {
        tracing::info!("{reason}: no approval issue is needed");
        return Ok(None);
    }
    let github = context.github()?;
    github
        .ensure_label(
            &context.label,
            "fbca04",
            "Approval requested by stepkit gate",
        )
        .await?;

    let asked = match find_request_issue(&github, context, &request)
        .await?
        .map(|(issue, _)| issue)
    {
        Some(issue) if relation(&issue, &request, context.contract) == Relation::Same => {
            tracing::info!("request already asked in {}", issue.html_url);
            AskedIn {
                issue,
                created: false,
            }
        }
        Some(old) => changed_request(&github, context, options, &request, old).await?,
        None => AskedIn {
            issue: create_once(&github, context, options, &request).await?,
            created: true,
        },
    };
    outputs.asked(&request, &asked.issue, &context.repo_text())?;
    Ok(Some(asked))
}

/// The issue this request was asked in before, if any: the one the status links to (if its
/// marker has our key), else the newest labelled issue with our key, preferring one with our
/// hash. With it, its ETag when it was read on its own (the list gives none).
pub async fn find_request_issue(
    github: &GitHub,
    context: &GateContext,
    request: &Request,
) -> anyhow::Result<Option<(Issue, Option<String>)>> {
    if let Some(url) = &request.previous.issue_url {
        match github.issue_by_url(url, None).await {
            Ok(Fetched::Found { value, etag }) | Ok(Fetched::Moved { value, etag })
                if relation(&value, request, context.contract) != Relation::Other =>
            {
                return Ok(Some((value, etag)));
            }
            Ok(_) => tracing::info!("{url} from the status is not this request's issue any more"),
            Err(err) => tracing::warn!("cannot read {url} from the status: {err:#}"),
        }
    }
    let mine: Vec<Issue> = github
        .labelled_issues(&context.label)
        .await?
        .into_iter()
        .filter(|issue| marker_of(issue).is_some_and(|m| m.key == request.key))
        .collect();
    let same_hash = mine
        .iter()
        .position(|issue| marker_of(issue).is_some_and(|m| m.hash == request.hash));
    let found = match same_hash {
        Some(index) => mine.into_iter().nth(index),
        None => mine.into_iter().next(),
    };
    Ok(found.map(|issue| (issue, None)))
}

pub fn marker_of(issue: &Issue) -> Option<Marker> {
    issue.body.as_deref().and_then(find_marker)
}

/// How an issue stands to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// It asks about this request as it is now.
    Same,
    /// It asked about this request before it changed.
    Changed,
    /// It is not this request's issue.
    Other,
}

/// Whether `issue` asks about `request`, by its marker. Under the sign-off contract an issue
/// without a marker that the status links to was opened by the sign-off image for this
/// request; it asks about the spec recorded with it (`status.approval.requestHash`, written when
/// stepkit first saw it), or, with none recorded yet, about the request as it is now.
pub fn relation(issue: &Issue, request: &Request, contract: Contract) -> Relation {
    match marker_of(issue) {
        Some(marker) if marker.key != request.key => Relation::Other,
        Some(marker) if marker.hash == request.hash => Relation::Same,
        Some(_) => Relation::Changed,
        None if contract == Contract::SignOff
            && request.previous.issue_url.as_deref().map(str::trim)
                == Some(issue.html_url.as_str()) =>
        {
            match &request.previous.request_hash {
                Some(hash) if *hash != request.hash => Relation::Changed,
                _ => Relation::Same,
            }
        }
        None => Relation::Other,
    }
}

/// Creates the issue, and after an ambiguous failure looks again before creating a second time.
async fn create_once(
    github: &GitHub,
    context: &GateContext,
    options: &CreateIssueOptions,
    request: &Request,
) -> anyhow::Result<Issue> {
    let new_issue = new_issue(context, options, request);
    for attempt in 1..=2 {
        match github.create_issue(&new_issue).await? {
            CreateOutcome::Created(issue) => {
                tracing::info!("asked for approval in {}", issue.html_url);
                return Ok(issue);
            }
            CreateOutcome::Ambiguous(err) => {
                tracing::warn!("creating the issue may have failed ({err:#}); looking for it before trying again");
                if let Some((issue, _)) = find_request_issue(github, context, request).await? {
                    if marker_of(&issue).is_some_and(|m| m.hash == request.hash) {
                        tracing::info!("it was created: {}", issue.html_url);
                        return Ok(issue);
                    }
                }
                if attempt == 2 {
                    return Err(err.context("creating the approval issue failed twice"));
                }
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

fn new_issue(context: &GateContext, options: &CreateIssueOptions, request: &Request) -> NewIssue {
    let mut policy = policy_text(&context.policy);
    if let Some(mention) = &options.mention {
        policy = format!("{mention}: your approval is requested.\n\n{policy}");
    }
    let body = render_body(request, &options.show, &policy, options.body_max_chars);
    NewIssue {
        title: render_title(&options.title_template, request),
        body,
        labels: vec![context.label.clone()],
        assignees: options.assignees.clone(),
    }
}

/// The request changed since it was asked: an approval never carries over to a different spec.
async fn changed_request(
    github: &GitHub,
    context: &GateContext,
    options: &CreateIssueOptions,
    request: &Request,
    old: Issue,
) -> anyhow::Result<AskedIn> {
    match options.on_change {
        OnChange::NewIssue => {
            let issue = create_once(github, context, options, request).await?;
            github
                .comment(
                    old.number,
                    &format!(
                        "The request changed; it is asked again in #{}. This issue no longer decides anything.",
                        issue.number
                    ),
                )
                .await?;
            if old.open {
                github
                    .update_issue(old.number, false, Some("not_planned"), None)
                    .await?;
            }
            tracing::info!(
                "request changed: #{} superseded by {}",
                old.number,
                issue.html_url
            );
            Ok(AskedIn {
                issue,
                created: true,
            })
        }
        OnChange::Reopen => {
            let body = new_issue(context, options, request).body;
            let issue = github
                .update_issue(old.number, true, None, Some(&body))
                .await?;
            github
                .comment(
                    old.number,
                    "The request changed, so this issue was reopened: an earlier decision does not carry over. Decide again.",
                )
                .await?;
            Ok(AskedIn {
                issue,
                created: false,
            })
        }
        OnChange::Keep => {
            if old.open {
                // Open means undecided: pointing the marker at the new request carries nothing over.
                let body = rewrite_marker(old.body.as_deref().unwrap_or(""), request);
                let issue = github
                    .update_issue(old.number, true, None, Some(&body))
                    .await?;
                github
                    .comment(old.number, "The request changed while this issue was open; the decision now applies to the new request.")
                    .await?;
                return Ok(AskedIn {
                    issue,
                    created: false,
                });
            }
            tracing::warn!(
                "the request changed after #{} was decided; reopen it to decide again (or use --on-change new-issue)",
                old.number
            );
            Ok(AskedIn {
                issue: old,
                created: false,
            })
        }
    }
}

/// The body with its marker pointing at `request` (a marker appended last wins).
pub fn rewrite_marker(body: &str, request: &Request) -> String {
    format!(
        "{}\n\n{}",
        body.trim_end(),
        render_marker(&Marker {
            key: request.key.clone(),
            hash: request.hash.clone(),
        })
    )
}
