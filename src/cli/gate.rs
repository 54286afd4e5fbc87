//! `stepkit gate create-issue | wait-approval`.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, Subcommand};

use super::retry::RetryArgs;
use super::{block_on, print_line, GlobalArgs};
use crate::core::duration::parse_duration;
use crate::core::error::{Error, Verdict};
use crate::core::secret::Secret;
use crate::gate::body::{DEFAULT_MAX_BODY_CHARS, DEFAULT_TITLE_TEMPLATE};
use crate::gate::github::{parse_api_url, RepoName};
use crate::gate::policy::{
    parse_approvers, ApproveBy, PermissionLevel, Policy, DEFAULT_APPROVE_WORDS,
    DEFAULT_REJECT_WORDS,
};
use crate::gate::wait::{OnTimeout, WaitMode};
use crate::gate::{
    create_issue, wait_approval, Contract, CreateIssueOptions, GateContext, OnChange,
    RequestSource, WaitOptions,
};

#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Ask for approval in a GitHub issue, or find where it was already asked
    CreateIssue(Box<CreateIssueArgs>),
    /// Read the decision from the request's issue and write approval-state (and status)
    #[command(after_help = WAIT_HELP)]
    WaitApproval(Box<WaitApprovalArgs>),
}

const WAIT_HELP: &str = "\
Retry mode (the default under Kratix) lets the later containers of the same Pipeline run while
the request is pending: Kratix has no way to stop them (suspending or retrying a Pipeline does
not stop its later stages). They read approval-state \"pending\" and must act only on
\"approved\":
  [ \"$(cat /kratix/metadata/approval-state)\" = approved ] || exit 0
or consume the decision in a later Pipeline from .status.approval.state in its object.yaml
(examples/kratix/promise.yaml). --mode block keeps them waiting instead, as the sign-off image's
wait-approval did; called as wait-approval, stepkit does that (RETRY_AFTER selects retry mode).

Exit codes: 0 decided, or pending in retry/once mode; 1 rejected with --fail-on-reject; 4 timed
out with --on-timeout fail; 5 GitHub refused the token or the repository.";

/// What both gate commands take.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// Repository the approval issues live in (owner/name) [wait-approval: default from the
    /// request's issue link]
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    repo: Option<String>,

    /// File holding the GitHub token [default: GITHUB_TOKEN, else GH_TOKEN]
    #[arg(long, env = "GITHUB_TOKEN_FILE", value_name = "PATH")]
    token_file: Option<PathBuf>,

    /// GitHub API; GitHub Enterprise is https://HOST/api/v3
    #[arg(
        long,
        env = "GITHUB_API_URL",
        default_value = "https://api.github.com",
        value_name = "URL"
    )]
    api_url: String,

    /// Kratix's directory (input/object.yaml, metadata/)
    #[arg(
        long,
        env = "KRATIX_DIR",
        default_value = "/kratix",
        value_name = "DIR"
    )]
    kratix_dir: PathBuf,

    /// The Promise (part of the request's key under Kratix)
    #[arg(long, env = "KRATIX_PROMISE_NAME", value_name = "NAME")]
    promise: Option<String>,

    /// Outside Kratix: the request's identity, e.g. $(context.pipelineRun.uid)
    #[arg(long, env = "STEPKIT_REQUEST_ID", value_name = "ID")]
    request_id: Option<String>,

    /// Outside Kratix: what is requested, as YAML or JSON text
    #[arg(
        long,
        env = "STEPKIT_REQUEST",
        value_name = "TEXT",
        conflicts_with = "request_file"
    )]
    request: Option<String>,

    /// Outside Kratix: a file describing what is requested (YAML or JSON)
    #[arg(long, env = "STEPKIT_REQUEST_FILE", value_name = "PATH")]
    request_file: Option<PathBuf>,

    /// Label that marks the gate's issues (created if missing)
    #[arg(long, env = "GATE_LABEL", default_value = "approval-gate")]
    label: String,

    /// Who may decide: users and teams (team:org/slug), comma-separated [default: anyone with --min-permission]
    #[arg(long, env = "GATE_APPROVERS", value_name = "LIST", default_value = "")]
    approvers: String,

    /// Least repository permission a decider needs: triage, write, maintain or admin
    #[arg(
        long,
        env = "STEPKIT_MIN_PERMISSION",
        default_value = "write",
        value_name = "LEVEL"
    )]
    min_permission: PermissionLevel,

    /// close (closing decides), comments (/approve, /reject) or either
    #[arg(
        long,
        env = "STEPKIT_APPROVE_BY",
        default_value = "close",
        value_name = "HOW"
    )]
    approve_by: ApproveBy,

    /// Distinct approvals needed in comments mode
    #[arg(
        long,
        env = "GATE_MIN_APPROVALS",
        default_value_t = 1,
        value_name = "N"
    )]
    min_approvals: u32,

    /// Let the requester approve their own request
    #[arg(long, env = "STEPKIT_ALLOW_SELF_APPROVAL", value_parser = BoolishValueParser::new())]
    allow_self_approval: bool,

    /// Annotation of the Kratix object holding the requester's GitHub login
    #[arg(long, env = "STEPKIT_REQUESTER_ANNOTATION", value_name = "KEY")]
    requester_annotation: Option<String>,

    /// Parts of the request that, when changed, ask again (dotted paths)
    #[arg(
        long,
        env = "STEPKIT_HASH_PATHS",
        default_value = ".spec",
        value_delimiter = ',',
        value_name = "PATHS"
    )]
    hash_paths: Vec<String>,

    #[command(flatten)]
    retry: RetryArgs,

    /// Least time between two writes to GitHub (its secondary rate limits ask for 1s)
    #[arg(long, env = "STEPKIT_MUTATION_SPACING", default_value = "1s", value_parser = parse_duration, value_name = "DURATION", hide = true)]
    mutation_spacing: Duration,

    /// Keep the Kratix GitHub sign-off image's contract (set when called as create-issue or
    /// wait-approval)
    #[arg(long, hide = true)]
    sign_off_contract: bool,
}

#[derive(Debug, Args)]
pub struct CreateIssueArgs {
    #[command(flatten)]
    gate: GateArgs,

    /// Issue title; {kind} {name} {namespace} {key} are filled in
    #[arg(long, env = "STEPKIT_TITLE_TEMPLATE", default_value = DEFAULT_TITLE_TEMPLATE, value_name = "TEMPLATE")]
    title_template: String,

    /// Spec fields to show in the issue (dotted paths) [default: the whole spec]
    #[arg(
        long,
        env = "STEPKIT_SHOW",
        value_delimiter = ',',
        value_name = "PATHS"
    )]
    show: Vec<String>,

    /// Largest issue body, in characters
    #[arg(long, env = "STEPKIT_BODY_MAX_CHARS", default_value_t = DEFAULT_MAX_BODY_CHARS, value_name = "N")]
    body_max_chars: usize,

    /// Users to assign (teams cannot be assigned: use --mention)
    #[arg(
        long,
        env = "STEPKIT_ASSIGNEES",
        value_delimiter = ',',
        value_name = "LOGINS"
    )]
    assignees: Vec<String>,

    /// Someone to notify in the issue, e.g. @org/team
    #[arg(long, env = "STEPKIT_MENTION", value_name = "WHO")]
    mention: Option<String>,

    /// When the request changed: new-issue (close the old one as superseded), reopen, or keep
    #[arg(
        long,
        env = "STEPKIT_ON_CHANGE",
        default_value = "new-issue",
        value_name = "WHAT"
    )]
    on_change: OnChange,
}

#[derive(Debug, Args)]
pub struct WaitApprovalArgs {
    #[command(flatten)]
    gate: GateArgs,

    /// The issue (number or URL) instead of looking it up
    #[arg(long, env = "STEPKIT_ISSUE", value_name = "ISSUE")]
    issue: Option<String>,

    /// retry (Kratix runs the pipeline again while pending), block (poll) or once [default: retry under Kratix, else block]
    #[arg(long, env = "STEPKIT_MODE", value_name = "MODE")]
    mode: Option<WaitMode>,

    /// Retry mode: when Kratix should run the pipeline again
    #[arg(long, env = "STEPKIT_RETRY_AFTER", default_value = "1m", value_parser = parse_duration, value_name = "DURATION")]
    retry_after: Duration,

    /// Block mode: time between looks at the issue (±10% jitter)
    #[arg(long, env = "STEPKIT_POLL_INTERVAL", default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    poll_interval: Duration,

    /// Give up this long after the issue was created
    #[arg(long, env = "STEPKIT_TIMEOUT", value_parser = parse_duration, value_name = "DURATION")]
    timeout: Option<Duration>,

    /// reject (close the issue, the request is rejected) or fail (expired, exit 4)
    #[arg(
        long,
        env = "STEPKIT_ON_TIMEOUT",
        default_value = "reject",
        value_name = "WHAT"
    )]
    on_timeout: OnTimeout,

    /// reopen (with a comment naming the policy) or ignore a close by someone not allowed to decide
    #[arg(
        long,
        env = "STEPKIT_ON_UNAUTHORIZED_CLOSE",
        default_value = "reopen",
        value_name = "WHAT"
    )]
    on_unauthorized_close: UnauthorizedClose,

    /// Exit 1 when the request is rejected
    #[arg(long, env = "STEPKIT_FAIL_ON_REJECT", value_parser = BoolishValueParser::new())]
    fail_on_reject: bool,

    /// A close without a reason (older GitHub Enterprise) approves
    #[arg(long, env = "STEPKIT_ACCEPT_NULL_REASON", value_parser = BoolishValueParser::new(), default_value = "true", value_name = "BOOL")]
    accept_null_reason: bool,

    /// The sign-off image's RETRY_AFTER: when set, wait-approval looks once and asks Kratix to
    /// run the Pipeline again after it (a duration; any other value means 30s, as that image did)
    #[arg(long, env = "RETRY_AFTER", hide = true, value_name = "DURATION")]
    sign_off_retry_after: Option<String>,
}

/// The sign-off image's fixed retry interval, for a RETRY_AFTER that is not a duration.
const SIGN_OFF_RETRY_AFTER: Duration = Duration::from_secs(30);

impl GateArgs {
    fn context(
        &self,
        global: &GlobalArgs,
        accept_null_reason: bool,
    ) -> anyhow::Result<GateContext> {
        let token = match &self.token_file {
            Some(path) => Secret::from_file(path)?,
            None => Secret::from_env("GITHUB_TOKEN")?
                .or(Secret::from_env("GH_TOKEN")?)
                .ok_or_else(|| {
                    Error::usage("no GitHub token: set GITHUB_TOKEN (or GH_TOKEN), or --token-file (GITHUB_TOKEN_FILE) to a mounted Secret's token file")
                })?,
        };
        let approvers = parse_approvers(&self.approvers)
            .map_err(|err| Error::usage(format!("--approvers: {err}")))?;
        let source = match &self.request_id {
            Some(request_id) => RequestSource::Tekton {
                request_id: request_id.clone(),
                request_text: self.request.clone(),
                request_file: self.request_file.clone(),
                results_dir: global.results_dir.clone(),
            },
            None => RequestSource::Kratix {
                dir: self.kratix_dir.clone(),
                promise: self.promise.clone(),
            },
        };
        Ok(GateContext {
            repo: self
                .repo
                .as_deref()
                .map(str::parse::<RepoName>)
                .transpose()?,
            contract: if self.sign_off_contract {
                Contract::SignOff
            } else {
                Contract::Native
            },
            api_url: parse_api_url(&self.api_url)?,
            token,
            label: self.label.clone(),
            policy: Policy {
                approve_by: self.approve_by,
                min_permission: self.min_permission,
                approvers,
                allow_self_approval: self.allow_self_approval,
                min_approvals: self.min_approvals.max(1),
                approve_words: DEFAULT_APPROVE_WORDS
                    .iter()
                    .map(|w| w.to_string())
                    .collect(),
                reject_words: DEFAULT_REJECT_WORDS.iter().map(|w| w.to_string()).collect(),
                accept_null_reason,
            },
            source,
            hash_paths: self.hash_paths.clone(),
            requester_annotation: self.requester_annotation.clone(),
            request_timeout: self.retry.request_timeout,
            deadline: self.retry.retry_deadline,
            retries: self.retry.retries,
            mutation_spacing: self.mutation_spacing,
        })
    }
}

/// The wait mode and retry interval. Natively: `--mode`, else retry under Kratix and block
/// elsewhere. Under the sign-off contract: block, as that image's wait-approval did, unless its
/// RETRY_AFTER is set.
fn wait_mode(args: &WaitApprovalArgs, context: &GateContext) -> (WaitMode, Duration) {
    if context.contract == Contract::SignOff && args.mode.is_none() {
        return match args.sign_off_retry_after.as_deref().map(str::trim) {
            None | Some("") => (WaitMode::Block, args.retry_after),
            Some(text) => match parse_duration(text) {
                Ok(duration) if duration >= Duration::from_secs(1) => (WaitMode::Retry, duration),
                _ => {
                    tracing::warn!(
                        "RETRY_AFTER={text:?} is not a duration of 1s or more; retrying after 30s, as the sign-off image did"
                    );
                    (WaitMode::Retry, SIGN_OFF_RETRY_AFTER)
                }
            },
        };
    }
    let under_kratix = matches!(context.source, RequestSource::Kratix { .. })
        && std::env::var_os("KRATIX_WORKFLOW_TYPE").is_some();
    let default = if under_kratix {
        WaitMode::Retry
    } else {
        WaitMode::Block
    };
    (args.mode.unwrap_or(default), args.retry_after)
}

pub fn run(command: GateCommand, global: &GlobalArgs) -> anyhow::Result<Verdict> {
    match command {
        GateCommand::CreateIssue(args) => {
            let context = args.gate.context(global, true)?;
            let options = CreateIssueOptions {
                title_template: args.title_template,
                show: args.show,
                body_max_chars: args.body_max_chars,
                assignees: args.assignees,
                mention: args.mention,
                on_change: args.on_change,
            };
            if let Some(asked) = block_on(create_issue(&context, &options))? {
                print_line(&asked.issue.html_url)?;
            }
            Ok(Verdict::Pass)
        }
        GateCommand::WaitApproval(args) => {
            let issue = args.issue.as_deref().map(str::parse).transpose()?;
            let context = args.gate.context(global, args.accept_null_reason)?;
            let (mode, retry_after) = wait_mode(&args, &context);
            let options = WaitOptions {
                issue,
                mode,
                retry_after,
                poll_interval: args.poll_interval,
                timeout: args.timeout,
                on_timeout: args.on_timeout,
                reopen_unauthorized_close: matches!(
                    args.on_unauthorized_close,
                    UnauthorizedClose::Reopen
                ),
                fail_on_reject: args.fail_on_reject,
            };
            block_on(wait_approval(&context, &options))
        }
    }
}

#[derive(Debug, Clone)]
enum UnauthorizedClose {
    Reopen,
    Ignore,
}

impl std::str::FromStr for UnauthorizedClose {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "reopen" => Ok(UnauthorizedClose::Reopen),
            "ignore" => Ok(UnauthorizedClose::Ignore),
            _ => Err(format!(
                "unknown --on-unauthorized-close {text:?}: expected reopen or ignore"
            )),
        }
    }
}
