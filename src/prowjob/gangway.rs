//! The client of Prow's Gangway REST API as OpenShift CI serves it (oauth-proxy in front of an
//! envoy JSON transcoder), and of Deck's public `/prowjob` view.
//!
//! Triggering creates a ProwJob, so the POST is never blindly repeated: before sending, the
//! client remembers which runs of the job already exist; after an answer that may hide a created
//! job (a timeout, a dropped connection, a 5xx from behind the proxy), it lists the runs again
//! and adopts the one new run instead of sending a second request.
//!
//! Responses are read leniently (snake_case or camelCase keys, enum names or numbers, missing
//! fields), because the transcoder's print options are not ours to choose. Request and response
//! bodies are never logged: the create answer echoes every env, and envs end up public anyway.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::core::error::{Error, Kind};
use crate::core::http::{
    is_retryable_status, request_label, requested_wait, retry_wait, status_error, HttpClient,
    ServerWait,
};
use crate::core::progress::human_duration;
use crate::core::secret::Secret;

/// How many times [`GangwayClient::create`] sends its POST at most, when answers say that nothing
/// was created.
pub const MAX_CREATE_ATTEMPTS: u32 = 5;

/// How much of a non-JSON error body goes into a message.
const ERROR_SNIPPET_LIMIT: usize = 300;

/// The kind of Prow job to trigger. Gangway's BATCH exists in the API but its handler refuses
/// it, so it has no variant here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobExecutionType {
    Periodic,
    Postsubmit,
    Presubmit,
}

impl JobExecutionType {
    /// The value sent as `job_execution_type`: the enum number as a string, as the ci-docs
    /// examples send it.
    pub fn wire_value(self) -> &'static str {
        match self {
            JobExecutionType::Periodic => "1",
            JobExecutionType::Postsubmit => "2",
            JobExecutionType::Presubmit => "3",
        }
    }

    /// The proto enum name (`PERIODIC`).
    pub fn proto_name(self) -> &'static str {
        match self {
            JobExecutionType::Periodic => "PERIODIC",
            JobExecutionType::Postsubmit => "POSTSUBMIT",
            JobExecutionType::Presubmit => "PRESUBMIT",
        }
    }

    /// The lowercase name used on the command line and by Prow (`periodic`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobExecutionType::Periodic => "periodic",
            JobExecutionType::Postsubmit => "postsubmit",
            JobExecutionType::Presubmit => "presubmit",
        }
    }
}

impl fmt::Display for JobExecutionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobExecutionType {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "periodic" => Ok(JobExecutionType::Periodic),
            "postsubmit" => Ok(JobExecutionType::Postsubmit),
            "presubmit" => Ok(JobExecutionType::Presubmit),
            "batch" => Err(Error::usage(
                "job type batch is not supported: Gangway refuses BATCH executions \
                 (\"unsupported JobExecutionType\"); use presubmit, postsubmit or periodic",
            )),
            other => Err(Error::usage(format!(
                "unknown job type {other:?}: expected periodic, postsubmit or presubmit"
            ))),
        }
    }
}

/// The state of a job execution, as Gangway reports it. New states appear upstream from time
/// to time (SCHEDULING did in 2025), so unknown ones are kept, not refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    Unspecified,
    Triggered,
    Pending,
    Scheduling,
    Success,
    Failure,
    Aborted,
    Error,
    /// A state this version does not know, by its bare upper-case name (or number).
    Unknown(String),
}

impl JobStatus {
    /// Whether the job has finished. Unknown states are taken as still running: a new state
    /// name is far more likely to be another step towards running than a new way to end.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobStatus::Success | JobStatus::Failure | JobStatus::Aborted | JobStatus::Error
        )
    }

    /// The bare name: `SUCCESS`, `PENDING`, ..., or the unknown name as received.
    pub fn as_str(&self) -> &str {
        match self {
            JobStatus::Unspecified => "UNSPECIFIED",
            JobStatus::Triggered => "TRIGGERED",
            JobStatus::Pending => "PENDING",
            JobStatus::Scheduling => "SCHEDULING",
            JobStatus::Success => "SUCCESS",
            JobStatus::Failure => "FAILURE",
            JobStatus::Aborted => "ABORTED",
            JobStatus::Error => "ERROR",
            JobStatus::Unknown(name) => name,
        }
    }

    /// Reads `job_status` in any of the shapes transcoders print: `"SUCCESS"`,
    /// `"JOB_EXECUTION_STATUS_SUCCESS"`, `"success"`, `3` or `"3"`. Absent or empty is
    /// UNSPECIFIED (proto3 leaves out the default); anything else unrecognised is Unknown.
    pub fn from_wire(value: &Value) -> JobStatus {
        match value {
            Value::Null => JobStatus::Unspecified,
            Value::Number(number) => match number.as_u64() {
                Some(number) => JobStatus::from_number(number),
                None => JobStatus::Unknown(number.to_string()),
            },
            Value::String(text) => JobStatus::from_name(text),
            other => JobStatus::Unknown(other.to_string()),
        }
    }

    fn from_number(number: u64) -> JobStatus {
        match number {
            0 => JobStatus::Unspecified,
            1 => JobStatus::Triggered,
            2 => JobStatus::Pending,
            3 => JobStatus::Success,
            4 => JobStatus::Failure,
            5 => JobStatus::Aborted,
            6 => JobStatus::Error,
            7 => JobStatus::Scheduling,
            other => JobStatus::Unknown(other.to_string()),
        }
    }

    fn from_name(text: &str) -> JobStatus {
        let text = text.trim();
        if text.is_empty() {
            return JobStatus::Unspecified;
        }
        if text.bytes().all(|byte| byte.is_ascii_digit()) {
            return match text.parse() {
                Ok(number) => JobStatus::from_number(number),
                Err(_) => JobStatus::Unknown(text.to_owned()),
            };
        }
        let upper = text.to_ascii_uppercase();
        let bare = upper
            .strip_prefix("JOB_EXECUTION_STATUS_")
            .unwrap_or(&upper);
        match bare {
            "UNSPECIFIED" => JobStatus::Unspecified,
            "TRIGGERED" => JobStatus::Triggered,
            "PENDING" => JobStatus::Pending,
            "SCHEDULING" => JobStatus::Scheduling,
            "SUCCESS" => JobStatus::Success,
            "FAILURE" => JobStatus::Failure,
            "ABORTED" => JobStatus::Aborted,
            "ERROR" => JobStatus::Error,
            other => JobStatus::Unknown(other.to_owned()),
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The git refs a presubmit or postsubmit runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refs {
    pub org: String,
    pub repo: String,
    pub base_ref: String,
    pub base_sha: String,
    pub pulls: Vec<Pull>,
}

/// A pull request of [`Refs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub number: u32,
    pub sha: String,
    pub author: Option<String>,
}

/// What to trigger: Gangway's `CreateJobExecutionRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    pub job_name: String,
    pub job_type: JobExecutionType,
    /// Appended to every container of the job. Public: Deck serves them to anyone.
    pub envs: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub refs: Option<Refs>,
}

impl CreateRequest {
    /// Checks the rules Gangway enforces (kubernetes-sigs/prow `pkg/gangway`), plus the metadata
    /// key syntax Kubernetes enforces when the ProwJob is created, so that a bad request fails
    /// here with the field named instead of after a round trip.
    pub fn validate(&self) -> anyhow::Result<()> {
        let job = &self.job_name;
        if job.trim().is_empty() {
            return Err(invalid(
                "job_name is empty: give the name of a Prow job defined in openshift/release",
            ));
        }
        match (self.job_type, &self.refs) {
            (JobExecutionType::Periodic, Some(_)) => {
                return Err(invalid(format!(
                    "refs are set for the periodic job {job}: Gangway refuses them \
                     (\"periodic jobs cannot also have gitRefs\"); trigger it as presubmit or \
                     postsubmit, or leave the refs out"
                )));
            }
            (JobExecutionType::Periodic, None) => {}
            (job_type, None) => {
                return Err(invalid(format!(
                    "refs are missing: a {job_type} job ({job}) needs org, repo, base_ref and \
                     base_sha to run against"
                )));
            }
            (job_type, Some(refs)) => validate_refs(job_type, refs)?,
        }
        for (key, value) in &self.envs {
            if key.is_empty() {
                return Err(invalid(
                    "pod_spec_options.envs has an empty variable name: Gangway refuses it",
                ));
            }
            if key.contains('=') {
                return Err(invalid(format!(
                    "pod_spec_options.envs: the variable name {key:?} contains '='"
                )));
            }
            if value.is_empty() {
                return Err(invalid(format!(
                    "pod_spec_options.envs.{key} is empty: Gangway refuses empty values; \
                     leave the variable out instead"
                )));
            }
        }
        for (key, value) in &self.labels {
            check_metadata_key("labels", key)?;
            if value.is_empty() {
                return Err(invalid(format!(
                    "pod_spec_options.labels.{key} is empty: Gangway refuses empty values"
                )));
            }
            if let Some(problem) = label_value_problem(value) {
                return Err(invalid(format!(
                    "pod_spec_options.labels.{key}: the value {value:?} is not a valid \
                     Kubernetes label value: it {problem}"
                )));
            }
        }
        for (key, value) in &self.annotations {
            check_metadata_key("annotations", key)?;
            if value.is_empty() {
                return Err(invalid(format!(
                    "pod_spec_options.annotations.{key} is empty: Gangway refuses empty values"
                )));
            }
        }
        Ok(())
    }

    /// The request body, in the shape the ci-docs examples use: snake_case keys and
    /// `job_execution_type` as a numeric string. Empty maps are left out.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("job_name".into(), json!(self.job_name));
        body.insert(
            "job_execution_type".into(),
            json!(self.job_type.wire_value()),
        );
        let mut options = Map::new();
        for (name, map) in [
            ("envs", &self.envs),
            ("labels", &self.labels),
            ("annotations", &self.annotations),
        ] {
            if !map.is_empty() {
                options.insert(name.into(), json!(map));
            }
        }
        if !options.is_empty() {
            body.insert("pod_spec_options".into(), Value::Object(options));
        }
        if let Some(refs) = &self.refs {
            let pulls: Vec<Value> = refs
                .pulls
                .iter()
                .map(|pull| {
                    let mut entry = Map::new();
                    entry.insert("number".into(), json!(pull.number));
                    entry.insert("sha".into(), json!(pull.sha));
                    if let Some(author) = &pull.author {
                        entry.insert("author".into(), json!(author));
                    }
                    Value::Object(entry)
                })
                .collect();
            let mut refs_json = Map::new();
            refs_json.insert("org".into(), json!(refs.org));
            refs_json.insert("repo".into(), json!(refs.repo));
            refs_json.insert("base_ref".into(), json!(refs.base_ref));
            refs_json.insert("base_sha".into(), json!(refs.base_sha));
            if !pulls.is_empty() {
                refs_json.insert("pulls".into(), Value::Array(pulls));
            }
            body.insert("refs".into(), Value::Object(refs_json));
        }
        Value::Object(body)
    }
}

fn invalid(message: impl Into<String>) -> anyhow::Error {
    Error::usage(message).into()
}

fn validate_refs(job_type: JobExecutionType, refs: &Refs) -> anyhow::Result<()> {
    for (field, value) in [
        ("org", &refs.org),
        ("repo", &refs.repo),
        ("base_ref", &refs.base_ref),
        ("base_sha", &refs.base_sha),
    ] {
        if value.trim().is_empty() {
            return Err(invalid(format!(
                "refs.{field} is empty: a {job_type} job needs org, repo, base_ref and base_sha"
            )));
        }
    }
    // Gangway's presubmit handler asks for at least one pull ("at least 1 Pulls is required").
    if job_type == JobExecutionType::Presubmit && refs.pulls.is_empty() {
        return Err(invalid(
            "refs.pulls is empty: a presubmit job runs against at least one pull request",
        ));
    }
    for (index, pull) in refs.pulls.iter().enumerate() {
        if !is_commit_sha(&pull.sha) {
            return Err(invalid(format!(
                "refs.pulls[{index}].sha {:?} is not a commit SHA: Gangway wants 40 lowercase \
                 hexadecimal characters",
                pull.sha
            )));
        }
    }
    Ok(())
}

fn is_commit_sha(sha: &str) -> bool {
    sha.len() == 40
        && sha
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

/// Why `value` is not a Kubernetes label value, if it is not. Empty is valid here (callers
/// that refuse empty values say so themselves).
fn label_value_problem(value: &str) -> Option<String> {
    if value.len() > 63 {
        return Some(format!("is {} characters long (at most 63)", value.len()));
    }
    name_part_problem(value)
}

/// The rule shared by label values and the name part of label and annotation keys.
fn name_part_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if !value
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
    {
        return Some("may hold only letters, digits, '-', '_' and '.'".into());
    }
    let bytes = value.as_bytes();
    let starts = bytes.first().is_some_and(u8::is_ascii_alphanumeric);
    let ends = bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    if !starts || !ends {
        return Some("must begin and end with a letter or digit".into());
    }
    None
}

/// Kubernetes checks label and annotation keys when the ProwJob is created; Gangway does not.
fn check_metadata_key(map: &str, key: &str) -> anyhow::Result<()> {
    if key.is_empty() {
        return Err(invalid(format!(
            "pod_spec_options.{map} has an empty key: Gangway refuses it"
        )));
    }
    if let Some(problem) = qualified_name_problem(key) {
        return Err(invalid(format!(
            "pod_spec_options.{map}: the key {key:?} is not a valid Kubernetes key: {problem}"
        )));
    }
    Ok(())
}

/// Why `key` is not a Kubernetes qualified name (`[prefix/]name`), if it is not.
fn qualified_name_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if name.is_empty() {
        return Some("the name after the prefix is empty".into());
    }
    if name.len() > 63 {
        return Some(format!(
            "the name part is {} characters long (at most 63)",
            name.len()
        ));
    }
    if let Some(problem) = name_part_problem(name) {
        return Some(format!("the name part {problem}"));
    }
    if let Some(prefix) = prefix {
        let valid_prefix = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|label| {
                !label.is_empty()
                    && label.bytes().all(|byte| {
                        byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-'
                    })
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !valid_prefix {
            return Some(format!(
                "the prefix {prefix:?} must be a lowercase DNS name (like example.com)"
            ));
        }
    }
    None
}

/// One run of a job, as Gangway reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobExecution {
    /// The ProwJob's name, a UUID; also Deck's `?prowjob=` key. Not the build id.
    pub id: String,
    pub job_name: String,
    pub status: JobStatus,
    /// The Spyglass link, once Prow has scheduled the job.
    pub job_url: Option<String>,
    pub gcs_path: Option<String>,
}

impl JobExecution {
    /// Reads a `JobExecution` message leniently: snake_case or camelCase keys, enum names or
    /// numbers, missing fields as their defaults, empty strings as absent.
    pub fn from_wire(value: &Value) -> anyhow::Result<JobExecution> {
        let Some(object) = value.as_object() else {
            return Err(Error::remote(format!(
                "expected a job execution (a JSON object), got {}",
                json_kind(value)
            ))
            .into());
        };
        let text = |snake: &str, camel: &str| -> Option<String> {
            let value = object.get(snake).or_else(|| object.get(camel))?;
            let text = match value {
                Value::String(text) => text.trim().to_owned(),
                Value::Number(number) => number.to_string(),
                _ => return None,
            };
            (!text.is_empty()).then_some(text)
        };
        let status = object
            .get("job_status")
            .or_else(|| object.get("jobStatus"))
            .map_or(JobStatus::Unspecified, JobStatus::from_wire);
        Ok(JobExecution {
            id: text("id", "id").unwrap_or_default(),
            job_name: text("job_name", "jobName").unwrap_or_default(),
            status,
            job_url: text("job_url", "jobUrl"),
            gcs_path: text("gcs_path", "gcsPath"),
        })
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The Gangway REST client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GangwayClient {
    http: HttpClient,
    base: Url,
    token: Secret,
    max_create_attempts: u32,
}

/// What listing a job's runs gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    Runs(Vec<JobExecution>),
    /// The deployment does not let this token list runs: the HTTP status it answered.
    Unavailable(u16),
}

/// The error after an answer that may hide a created run, when the runs cannot be listed to
/// find out: never sent again, since that could start a second run.
fn unverifiable(job: &str, problem: &str) -> anyhow::Error {
    Error::remote(format!(
        "triggering {job}: {problem}. The request may have started a run, and this token cannot \
         list the job's runs to find out, so it is not sent again: check the job's history in \
         Deck before triggering it again"
    ))
    .into()
}

/// How one POST of [`GangwayClient::create`] ended.
enum PostOutcome {
    Created(JobExecution),
    /// Nothing was created: safe to send again, after the server's wait if it asked for one.
    NotCreated {
        problem: String,
        server_wait: Option<ServerWait>,
    },
    /// The job may have been created: look for it before sending again.
    MaybeCreated {
        problem: String,
    },
    /// A success answer without a usable id: look for the job, but do not send again.
    UnusableSuccess {
        problem: String,
    },
    Failed(anyhow::Error),
}

impl GangwayClient {
    /// A client for the Gangway at `base_url` (e.g.
    /// `https://gangway-ci.apps.ci.l2s4.p1.openshiftapps.com`), sending `token` as a bearer
    /// token.
    pub fn new(http: HttpClient, base_url: &str, token: Secret) -> anyhow::Result<GangwayClient> {
        let base = parse_base_url(base_url, "Gangway")?;
        Ok(GangwayClient {
            http,
            base,
            token,
            max_create_attempts: MAX_CREATE_ATTEMPTS,
        })
    }

    /// Sets how many times [`GangwayClient::create`] may send its POST (at least 1).
    pub fn with_max_create_attempts(mut self, attempts: u32) -> GangwayClient {
        self.max_create_attempts = attempts.max(1);
        self
    }

    /// Triggers a run of `request.job_name` and returns it, as Gangway answered (TRIGGERED) or,
    /// after an answer was lost, as found by listing the job's runs.
    ///
    /// The POST is sent again only when the answer proves nothing was created (no connection,
    /// 429, a 503 from the proxy) or a look at the job's runs found no new one; at most
    /// [`MAX_CREATE_ATTEMPTS`] times and within the HTTP deadline.
    pub async fn create(&self, request: &CreateRequest) -> anyhow::Result<JobExecution> {
        request.validate()?;
        let job = request.job_name.as_str();
        let deadline = Instant::now() + self.http.config().deadline;
        let body = request.to_json();

        // The runs that exist before ours, to recognise ours if the answer is lost. Some
        // deployments let a token trigger but not list (403), or predate listing (404, 405):
        // then the request still goes out once, and an ambiguous failure ends the command
        // instead of risking a second run.
        let known: Option<BTreeSet<String>> = match self.listing(job).await.map_err(|error| {
            error.context(format!(
                "cannot list the existing runs of {job} before triggering it (they are needed \
                 to recognise our run if Gangway's answer is lost)"
            ))
        })? {
            Listing::Runs(runs) => Some(runs.into_iter().map(|execution| execution.id).collect()),
            Listing::Unavailable(status) => {
                tracing::warn!(
                    job = %job,
                    "Gangway does not let this token list the runs of {job} (HTTP {status}): \
                     triggering it with one request, which is not sent again if its answer is lost"
                );
                None
            }
        };
        tracing::info!(
            job = %job,
            job_type = %request.job_type,
            "triggering {job} through Gangway"
        );
        let mut attempt: u32 = 0;
        // Once an attempt may have created the job, every later attempt looks first: a request
        // that timed out here can still be working its way through the proxy.
        let mut look_before_sending = false;
        loop {
            if let (true, Some(known)) = (look_before_sending, &known) {
                if let Some(found) = self.adopt_new_run(job, known).await? {
                    return Ok(found);
                }
            }
            attempt += 1;
            let (problem, server_wait, why_safe) = match self.post_once(&body, job).await {
                PostOutcome::Created(execution) => {
                    tracing::info!(
                        job = %job,
                        id = %execution.id,
                        status = %execution.status,
                        "triggered {job}: execution {}",
                        execution.id
                    );
                    return Ok(execution);
                }
                PostOutcome::Failed(error) => return Err(error),
                PostOutcome::NotCreated {
                    problem,
                    server_wait,
                } => (problem, server_wait, "nothing was created"),
                PostOutcome::MaybeCreated { problem } => {
                    let Some(known) = &known else {
                        return Err(unverifiable(job, &problem));
                    };
                    tracing::warn!(
                        job = %job,
                        problem = %problem,
                        "triggering {job}: {problem}; looking for the run it may have created \
                         before trying again"
                    );
                    if let Some(found) = self.adopt_new_run(job, known).await? {
                        return Ok(found);
                    }
                    look_before_sending = true;
                    (problem, None, "no new run appeared")
                }
                PostOutcome::UnusableSuccess { problem } => {
                    let Some(known) = &known else {
                        return Err(unverifiable(job, &problem));
                    };
                    tracing::warn!(
                        job = %job,
                        problem = %problem,
                        "triggering {job}: {problem}; looking for the run it created"
                    );
                    if let Some(found) = self.adopt_new_run(job, known).await? {
                        return Ok(found);
                    }
                    return Err(Error::remote(format!(
                        "triggering {job}: {problem}, and no new run of {job} appeared; not \
                         retried, since Gangway claimed success. Check the job's history in \
                         Deck before triggering it again"
                    ))
                    .into());
                }
            };

            if attempt >= self.max_create_attempts {
                return Err(Error::remote(format!(
                    "triggering {job}: gave up after {attempt} attempts; last answer: {problem}. \
                     No run was created"
                ))
                .into());
            }
            let config = self.http.config();
            let wait = retry_wait(attempt, server_wait.as_ref(), config);
            if Instant::now() + wait > deadline {
                let deadline_text = human_duration(config.deadline);
                let message = match &server_wait {
                    Some(server) => format!(
                        "triggering {job}: Gangway asked to wait {} before trying again, past \
                         the deadline ({deadline_text}); gave up after {}; last answer: {problem}. \
                         No run was created; try again later",
                        human_duration(server.wait),
                        plural(attempt, "attempt")
                    ),
                    None => format!(
                        "triggering {job}: failed after {}, and the deadline ({deadline_text}) \
                         leaves no time for another; last answer: {problem}. No run was created",
                        plural(attempt, "attempt")
                    ),
                };
                return Err(Error::remote(message).into());
            }
            tracing::warn!(
                job = %job,
                problem = %problem,
                attempt,
                wait = %human_duration(wait),
                "triggering {job}: {problem}; {why_safe}, trying again in {}",
                human_duration(wait)
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// The run `id`, or `None` when Gangway does not know it (a 404, or the raw Kubernetes
    /// "not found" error that Gangway passes through as a 500).
    pub async fn get(&self, id: &str) -> anyhow::Result<Option<JobExecution>> {
        let id = id.trim();
        if id.is_empty() {
            return Err(invalid("the job execution id is empty"));
        }
        let url = self.endpoint(&["v1", "executions", id]);
        let action = format!("reading job execution {id}");
        let answer = self.read(url, &action).await?;
        if answer.is_login_page() {
            return Err(self.refusal(&answer, &format!("read job execution {id}")));
        }
        match answer.status.as_u16() {
            200..=299 => {
                let value: Value = serde_json::from_str(&answer.body).map_err(|_| {
                    Error::remote(format!(
                        "{action}: Gangway answered HTTP {} with a body that is not JSON{}",
                        answer.status.as_u16(),
                        self.snippet_suffix(&answer)
                    ))
                })?;
                let mut execution = JobExecution::from_wire(&value)
                    .map_err(|error| error.context(format!("{action}: unexpected answer")))?;
                if execution.id.is_empty() {
                    execution.id = id.to_owned();
                }
                Ok(Some(execution))
            }
            404 => Ok(None),
            _ if answer.says_not_found() => Ok(None),
            401 | 403 => Err(self.refusal(&answer, &format!("read job execution {id}"))),
            _ => Err(self.answer_error(&answer, &action)),
        }
    }

    /// The runs of `job_name` that still exist (Prow removes old ones after a while). Items
    /// carry only id, job name and status.
    pub async fn list(&self, job_name: &str) -> anyhow::Result<Vec<JobExecution>> {
        match self.listing(job_name).await? {
            Listing::Runs(runs) => Ok(runs),
            Listing::Unavailable(status) => Err(Error::refused(format!(
                "listing the runs of {job_name}: Gangway answered HTTP {status}; this token or \
                 this Gangway does not allow listing runs"
            ))
            .into()),
        }
    }

    /// As [`GangwayClient::list`], or [`Listing::Unavailable`] when the deployment does not
    /// let this token list runs (403, 404, 405).
    pub async fn listing(&self, job_name: &str) -> anyhow::Result<Listing> {
        let mut url = self.endpoint(&["v1", "executions"]);
        url.query_pairs_mut().append_pair("job_name", job_name);
        let action = format!("listing the runs of {job_name}");
        let answer = self.read(url, &action).await?;
        // An RBAC rule (or a proxy's Forbidden page) on listing alone, or a Gangway without the
        // endpoint. A token that is refused altogether is refused again by the trigger itself.
        if let status @ 403..=405 = answer.status.as_u16() {
            return Ok(Listing::Unavailable(status));
        }
        if answer.is_login_page() {
            return Err(self.refusal(&answer, &format!("trigger this job {job_name}")));
        }
        match answer.status.as_u16() {
            200..=299 => {
                // proto3 JSON leaves out an empty repeated field, and may print `{}`.
                if answer.body.trim().is_empty() {
                    return Ok(Listing::Runs(Vec::new()));
                }
                let value: Value = serde_json::from_str(&answer.body).map_err(|_| {
                    Error::remote(format!(
                        "{action}: Gangway answered HTTP {} with a body that is not JSON{}",
                        answer.status.as_u16(),
                        self.snippet_suffix(&answer)
                    ))
                })?;
                let items = match value
                    .get("job_execution")
                    .or_else(|| value.get("jobExecution"))
                {
                    None | Some(Value::Null) => return Ok(Listing::Runs(Vec::new())),
                    Some(Value::Array(items)) => items,
                    Some(other) => {
                        return Err(Error::remote(format!(
                            "{action}: expected job_execution to be an array, got {}",
                            json_kind(other)
                        ))
                        .into())
                    }
                };
                items
                    .iter()
                    .map(|item| {
                        JobExecution::from_wire(item)
                            .map_err(|error| error.context(format!("{action}: unexpected answer")))
                    })
                    .collect::<anyhow::Result<_>>()
                    .map(Listing::Runs)
            }
            401 => Err(self.refusal(&answer, &format!("trigger this job {job_name}"))),
            _ => Err(self.answer_error(&answer, &action)),
        }
    }

    /// The base URL with `segments` appended, each percent-encoded.
    fn endpoint(&self, segments: &[&str]) -> Url {
        join_segments(&self.base, segments)
    }

    /// The one place the token goes on the wire.
    fn authorized(&self, request: RequestBuilder) -> RequestBuilder {
        request.bearer_auth(self.token.expose())
    }

    /// Sends the create POST once and sorts the answer.
    async fn post_once(&self, body: &Value, job: &str) -> PostOutcome {
        let url = self.endpoint(&["v1", "executions"]);
        let request = self.authorized(self.http.inner().post(url).json(body));
        let response = match self.http.send_once(request).await {
            Ok(response) => response,
            Err(error) => {
                let problem = self.token.redact(&error.to_string());
                return if error.is_ambiguous() {
                    PostOutcome::MaybeCreated { problem }
                } else {
                    PostOutcome::NotCreated {
                        problem,
                        server_wait: None,
                    }
                };
            }
        };
        let status = response.status();
        let answer = match Answer::read(response).await {
            Ok(answer) => answer,
            Err(error) => {
                let problem = format!(
                    "HTTP {}, then the answer broke off: {}",
                    status.as_u16(),
                    self.token.redact(&error.to_string())
                );
                return match status.as_u16() {
                    429 | 503 => PostOutcome::NotCreated {
                        problem,
                        server_wait: None,
                    },
                    400..=499 => PostOutcome::Failed(
                        Error::new(
                            kind_for_status(status),
                            format!("triggering {job}: {problem}"),
                        )
                        .into(),
                    ),
                    _ => PostOutcome::MaybeCreated { problem },
                };
            }
        };
        self.judge_create_answer(answer, job)
    }

    fn judge_create_answer(&self, answer: Answer, job: &str) -> PostOutcome {
        let status = answer.status;
        if answer.is_login_page() {
            return PostOutcome::Failed(self.refusal(&answer, &format!("trigger this job {job}")));
        }
        let gangway_error = answer.gangway_error();
        let message = gangway_error
            .as_ref()
            .map(|error| self.token.redact(&error.message));
        if let Some(message) = &message {
            // A plain Go error from the job lookup; transcoded as 500 (gRPC Unknown) upstream,
            // some deployments map it to 404.
            if message.contains("failed to find associated") {
                return PostOutcome::Failed(
                    Error::refused(format!(
                        "Gangway does not know the job {job}: {message} (HTTP {}). Check that \
                         the job name exists in openshift/release (ci-operator/jobs) with this \
                         job type; a newly merged job takes a minute to appear",
                        status.as_u16()
                    ))
                    .into(),
                );
            }
            if message.contains("unsupported JobExecutionType")
                || message.contains("matches multiple prow jobs")
            {
                return PostOutcome::Failed(
                    Error::usage(format!(
                        "Gangway rejected the request to trigger {job}: {message} (HTTP {})",
                        status.as_u16()
                    ))
                    .into(),
                );
            }
        }
        match status.as_u16() {
            200..=299 => {
                let problem = if answer.body.trim().is_empty() {
                    "Gangway answered HTTP 200 with an empty body".to_owned()
                } else {
                    match serde_json::from_str::<Value>(&answer.body) {
                        Ok(value) => match JobExecution::from_wire(&value) {
                            Ok(mut execution) if !execution.id.is_empty() => {
                                if execution.job_name.is_empty() {
                                    execution.job_name = job.to_owned();
                                }
                                return PostOutcome::Created(execution);
                            }
                            _ => "Gangway answered HTTP 200 without a job id".to_owned(),
                        },
                        // Never quote it: a create answer echoes every env.
                        Err(_) => "Gangway answered HTTP 200 with a body that is not JSON \
                                   (cut short?)"
                            .to_owned(),
                    }
                };
                PostOutcome::UnusableSuccess { problem }
            }
            401 | 403 => {
                PostOutcome::Failed(self.refusal(&answer, &format!("trigger this job {job}")))
            }
            400 => {
                let detail = message.unwrap_or_else(|| self.snippet(&answer));
                PostOutcome::Failed(
                    Error::usage(format!(
                        "Gangway rejected the request to trigger {job}: {detail} (HTTP 400)"
                    ))
                    .into(),
                )
            }
            404 => PostOutcome::Failed(
                Error::refused(format!(
                    "Gangway answered HTTP 404 to the request to trigger {job}{}: check that \
                     the job name exists in openshift/release and that the Gangway URL ({}) is \
                     right",
                    message.map(|m| format!(" ({m})")).unwrap_or_default(),
                    self.base
                ))
                .into(),
            ),
            429 => PostOutcome::NotCreated {
                problem: self.problem_text(&answer, message.as_deref()),
                server_wait: requested_wait(status, &answer.headers, SystemTime::now()),
            },
            // The proxy had no backend to give the request to.
            503 if gangway_error.is_none() => PostOutcome::NotCreated {
                problem: self.problem_text(&answer, None),
                server_wait: requested_wait(status, &answer.headers, SystemTime::now()),
            },
            // A 500 from Gangway may come from creating the ProwJob; a 502/504 from the proxy
            // may come after Gangway created it (the route times out at 90 s).
            500..=599 => PostOutcome::MaybeCreated {
                problem: self.problem_text(&answer, message.as_deref()),
            },
            _ => PostOutcome::Failed(self.answer_error(&answer, &format!("triggering {job}"))),
        }
    }

    /// After an answer that may hide a created run: the one run of `job` that is not in
    /// `known`, read in full; `None` when there is no new run. Several new runs mean someone
    /// else triggered the job at the same time, and we cannot tell which is ours.
    async fn adopt_new_run(
        &self,
        job: &str,
        known: &BTreeSet<String>,
    ) -> anyhow::Result<Option<JobExecution>> {
        let runs = self.list(job).await.map_err(|error| {
            error.context(format!(
                "the request to trigger {job} may have reached Gangway, and looking for the run \
                 it created failed: check the job's history in Deck before triggering it again"
            ))
        })?;
        let new: Vec<JobExecution> = runs
            .into_iter()
            .filter(|run| !run.id.is_empty() && !known.contains(&run.id))
            .collect();
        match new.as_slice() {
            [] => Ok(None),
            [run] => {
                tracing::info!(
                    job = %job,
                    id = %run.id,
                    "the answer was lost, but {job} has one new run, {}: that is ours",
                    run.id
                );
                let mut found = match self.get(&run.id).await {
                    Ok(Some(execution)) => execution,
                    // The list already told us enough to go on.
                    Ok(None) | Err(_) => run.clone(),
                };
                if found.job_name.is_empty() {
                    found.job_name = job.to_owned();
                }
                if found.id.is_empty() {
                    found.id = run.id.clone();
                }
                Ok(Some(found))
            }
            several => {
                let ids: Vec<&str> = several.iter().map(|run| run.id.as_str()).collect();
                Err(Error::remote(format!(
                    "cannot tell which run of {job} our request created: {} new runs appeared \
                     while it was in flight ({}), so someone else triggered the same job at the \
                     same time. Not retrying, to avoid yet another run; check these runs in Deck",
                    several.len(),
                    ids.join(", ")
                ))
                .into())
            }
        }
    }

    /// GETs `url` with retries on connection errors, timeouts, 429 and 5xx, within the HTTP
    /// deadline, and returns the first answer that is not worth retrying. Unlike
    /// [`HttpClient::send_idempotent`] it stops at a 500 that says "not found": that is how
    /// Gangway reports a missing execution, and it will not change by asking again.
    async fn read(&self, url: Url, action: &str) -> anyhow::Result<Answer> {
        let config = self.http.config();
        let started = Instant::now();
        let deadline = started + config.deadline;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let request = self.authorized(self.http.inner().get(url.clone())).timeout(
                config
                    .request_timeout
                    .min(remaining.max(Duration::from_millis(1))),
            );
            let (problem, server_wait) = match self.http.send_once(request).await {
                Ok(response) => {
                    let status = response.status();
                    match Answer::read(response).await {
                        Ok(answer) => {
                            if !is_retryable_status(answer.status, &answer.headers)
                                || answer.says_not_found()
                            {
                                return Ok(answer);
                            }
                            let message = answer
                                .gangway_error()
                                .map(|error| self.token.redact(&error.message));
                            (
                                self.problem_text(&answer, message.as_deref()),
                                requested_wait(answer.status, &answer.headers, SystemTime::now()),
                            )
                        }
                        Err(error) => (
                            format!(
                                "HTTP {}, then the answer broke off: {}",
                                status.as_u16(),
                                self.token.redact(&error.to_string())
                            ),
                            None,
                        ),
                    }
                }
                Err(error) => {
                    let problem = self.token.redact(&error.to_string());
                    if is_tls_failure(error.transport_error()) {
                        return Err(Error::remote(format!("{action}: {problem}")).into());
                    }
                    (problem, None)
                }
            };
            let wait = retry_wait(attempt, server_wait.as_ref(), config);
            if Instant::now() + wait > deadline {
                return Err(Error::remote(format!(
                    "{action}: failed after {}, and the deadline ({}) leaves no time for \
                     another; last answer: {problem}",
                    plural(attempt, "attempt"),
                    human_duration(config.deadline)
                ))
                .into());
            }
            tracing::warn!(
                problem = %problem,
                attempt,
                wait = %human_duration(wait),
                "{action}: {problem}; retrying in {}",
                human_duration(wait)
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// The refusal error: a 401/403 or an oauth-proxy login page. `what` completes "not
    /// allowed to ...".
    fn refusal(&self, answer: &Answer, what: &str) -> anyhow::Error {
        let how = if answer.is_html() {
            format!("HTTP {}, an oauth-proxy login page", answer.status.as_u16())
        } else {
            format!("HTTP {}", answer.status.as_u16())
        };
        let detail = answer
            .gangway_error()
            .map(|error| format!(": {}", self.token.redact(&error.message)))
            .unwrap_or_default();
        Error::refused(format!(
            "Gangway refused the token: token expired or not allowed to {what} ({how}){detail}. \
             Use a fresh token (`oc whoami -t` on app.ci, or the service account's Secret) that \
             may trigger this job"
        ))
        .into()
    }

    /// The error for an answer nothing else expected, kind by status like
    /// [`status_error`], with Gangway's message or a short snippet of the body.
    fn answer_error(&self, answer: &Answer, action: &str) -> anyhow::Error {
        let message = answer
            .gangway_error()
            .map(|error| self.token.redact(&error.message));
        let label = request_label(&Method::GET, &answer.url);
        Error::new(
            kind_for_status(answer.status),
            format!(
                "{action}: {label}: {}",
                self.problem_text(answer, message.as_deref())
            ),
        )
        .into()
    }

    /// `HTTP 502 Bad Gateway: <message>`, never quoting HTML pages or success bodies.
    fn problem_text(&self, answer: &Answer, message: Option<&str>) -> String {
        let status = status_text(answer.status);
        match message {
            Some(message) => format!("HTTP {status}: {message}"),
            None if answer.is_html() => format!("HTTP {status} (an HTML page from the proxy)"),
            None if answer.status.is_success() || answer.body.trim().is_empty() => {
                format!("HTTP {status}")
            }
            None => format!("HTTP {status}: {}", self.snippet(answer)),
        }
    }

    /// The start of an error body, redacted, for messages.
    fn snippet(&self, answer: &Answer) -> String {
        let body = answer.body.trim();
        // Redact the whole body before cutting, so a token crossing the cut is still caught.
        let redacted = self.token.redact(body);
        if redacted.len() <= ERROR_SNIPPET_LIMIT {
            return redacted;
        }
        let mut cut = ERROR_SNIPPET_LIMIT;
        while !redacted.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{} [...]", &redacted[..cut])
    }

    fn snippet_suffix(&self, answer: &Answer) -> String {
        if answer.is_html() || answer.body.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", self.snippet(answer))
        }
    }
}

/// An answer read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    /// Where the answer came from, after redirects.
    url: Url,
}

impl Answer {
    async fn read(response: Response) -> Result<Answer, reqwest::Error> {
        let status = response.status();
        let headers = response.headers().clone();
        let url = response.url().clone();
        let body = response.text().await?;
        Ok(Answer {
            status,
            headers,
            body,
            url,
        })
    }

    fn is_html(&self) -> bool {
        let html_type = self
            .headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.to_ascii_lowercase().contains("text/html"));
        let start: String = self
            .body
            .trim_start()
            .chars()
            .take(20)
            .collect::<String>()
            .to_ascii_lowercase();
        html_type || start.starts_with("<!doctype html") || start.starts_with("<html")
    }

    /// What oauth-proxy sends instead of passing the request on: a redirect to its sign-in
    /// page (followed or not), or the page itself with 200, 401 or 403.
    fn is_login_page(&self) -> bool {
        self.status.is_redirection()
            || (self.is_html() && matches!(self.status.as_u16(), 200..=299 | 401 | 403))
    }

    /// A google.rpc.Status body (`{"code":3,"message":"..."}`), or the `grpc-status` /
    /// `grpc-message` headers a transcoder sends without one.
    fn gangway_error(&self) -> Option<GangwayError> {
        if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&self.body) {
            if let Some(message) = object.get("message").and_then(Value::as_str) {
                return Some(GangwayError {
                    code: object.get("code").and_then(Value::as_i64),
                    message: message.to_owned(),
                });
            }
        }
        let header = |name: &str| self.headers.get(name).and_then(|v| v.to_str().ok());
        let message = header("grpc-message").map(percent_decode)?;
        Some(GangwayError {
            code: header("grpc-status").and_then(|code| code.trim().parse().ok()),
            message,
        })
    }

    /// Whether this is the raw Kubernetes "not found" that Gangway passes through for a
    /// missing ProwJob (`prowjobs.prow.k8s.io "<id>" not found`, or gRPC NotFound).
    fn says_not_found(&self) -> bool {
        if !matches!(self.status.as_u16(), 404 | 500) {
            return false;
        }
        match self.gangway_error() {
            Some(error) => error.code == Some(5) || error.message.contains("not found"),
            None => !self.is_html() && self.body.contains("not found"),
        }
    }
}

/// The error Gangway returned, as the transcoder printed it.
struct GangwayError {
    code: Option<i64>,
    message: String,
}

/// Decodes `%XX` escapes (as in `grpc-message`); bad escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).ok();
            if let Some(byte) = hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                decoded.push(byte);
                index += 3;
                continue;
            }
        }
        decoded.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn kind_for_status(status: StatusCode) -> Kind {
    match status.as_u16() {
        401 | 403 | 404 | 410 => Kind::Refused,
        400..=499 if status.as_u16() != 429 => Kind::Usage,
        _ => Kind::Remote,
    }
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

fn plural(count: u32, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Whether the transport error is a failed TLS handshake, which no retry fixes.
fn is_tls_failure(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        // io::Error hides what it wraps from `source()`.
        source = match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    false
}

fn parse_base_url(text: &str, service: &str) -> anyhow::Result<Url> {
    let trimmed = text.trim();
    let mut url = Url::parse(trimmed).map_err(|error| {
        Error::usage(format!(
            "the {service} URL {trimmed:?} is not a URL: {error} (expected https://host)"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(Error::usage(format!(
            "the {service} URL {trimmed:?} must start with https:// (or http://)"
        ))
        .into());
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// `base` with `segments` appended as path segments, each percent-encoded.
fn join_segments(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    // Base URLs are checked to be http(s) URLs with a path, so this always applies.
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// Deck's public view of a ProwJob.
#[derive(Debug, Clone)]
pub struct DeckClient {
    http: HttpClient,
    base: Url,
}

/// What Deck says about a ProwJob.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeckJob {
    /// `status.state`: triggered, pending, success, ...
    pub state: Option<String>,
    /// `status.url`: the Spyglass link, set once the job is scheduled.
    pub url: Option<String>,
    /// `status.build_id`: the number in the job's artifact paths (not the Gangway id).
    pub build_id: Option<String>,
    /// `spec.job`.
    pub job: Option<String>,
    /// The names (never the values) of the env variables of the job's first container, to spot
    /// settings such as CONFIG_SPEC that take precedence over ours.
    pub env_names: Vec<String>,
}

impl DeckClient {
    /// A client for the Deck at `base_url` (e.g. `https://prow.ci.openshift.org`).
    pub fn new(http: HttpClient, base_url: &str) -> anyhow::Result<DeckClient> {
        let base = parse_base_url(base_url, "Deck")?;
        Ok(DeckClient { http, base })
    }

    /// The ProwJob `id` as Deck serves it, or `None` when Deck does not know it (yet).
    pub async fn prowjob(&self, id: &str) -> anyhow::Result<Option<DeckJob>> {
        let id = id.trim();
        if id.is_empty() {
            return Err(invalid("the ProwJob id is empty"));
        }
        let mut url = join_segments(&self.base, &["prowjob"]);
        url.query_pairs_mut().append_pair("prowjob", id);
        let response = self
            .http
            .send_idempotent(self.http.inner().get(url))
            .await
            .map_err(|error| error.context(format!("reading ProwJob {id} from Deck")))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(status_error(&Method::GET, response, &[])
                .await
                .context(format!("reading ProwJob {id} from Deck")));
        }
        let text = response.text().await.map_err(|error| {
            Error::remote(format!(
                "reading ProwJob {id} from Deck: the answer broke off: {error}"
            ))
        })?;
        parse_deck_prowjob(&text, id).map(Some)
    }
}

/// Reads Deck's ProwJob YAML. Deck may send several documents; the one named `id` wins, else
/// the first that looks like a ProwJob.
fn parse_deck_prowjob(text: &str, id: &str) -> anyhow::Result<DeckJob> {
    let mut candidates = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value =
            <serde_yaml::Value as serde::Deserialize>::deserialize(document).map_err(|error| {
                Error::remote(format!(
                    "reading ProwJob {id} from Deck: the answer is not YAML: {error}"
                ))
            })?;
        if value.get("status").is_some() || value.get("spec").is_some() {
            candidates.push(value);
        }
    }
    let named = candidates.iter().position(|document| {
        document
            .get("metadata")
            .and_then(|metadata| metadata.get("name"))
            .and_then(serde_yaml::Value::as_str)
            == Some(id)
    });
    let Some(document) = named
        .map(|index| &candidates[index])
        .or_else(|| candidates.first())
    else {
        return Err(Error::remote(format!(
            "reading ProwJob {id} from Deck: the answer holds no ProwJob (no spec or status)"
        ))
        .into());
    };
    let status = document.get("status");
    let spec = document.get("spec");
    let field = |parent: Option<&serde_yaml::Value>, key: &str| -> Option<String> {
        let text = match parent?.get(key)? {
            serde_yaml::Value::String(text) => text.trim().to_owned(),
            serde_yaml::Value::Number(number) => number.to_string(),
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    };
    let env_names = spec
        .and_then(|spec| spec.get("pod_spec"))
        .and_then(|pod| pod.get("containers"))
        .and_then(serde_yaml::Value::as_sequence)
        .and_then(|containers| containers.first())
        .and_then(|container| container.get("env"))
        .and_then(serde_yaml::Value::as_sequence)
        .map(|env| {
            env.iter()
                .filter_map(|entry| entry.get("name").and_then(serde_yaml::Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(DeckJob {
        state: field(status, "state"),
        url: field(status, "url"),
        build_id: field(status, "build_id"),
        job: field(spec, "job"),
        env_names,
    })
}

/// The job's history page in Deck: `<deck>/?job=<name>`, the name percent-encoded.
pub fn history_url(deck_url: &str, job_name: &str) -> String {
    let base = deck_url.trim().trim_end_matches('/');
    let mut encoded = String::with_capacity(job_name.len());
    for byte in job_name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{base}/?job={encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::exit_code;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn periodic(name: &str) -> CreateRequest {
        CreateRequest {
            job_name: name.into(),
            job_type: JobExecutionType::Periodic,
            envs: BTreeMap::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            refs: None,
        }
    }

    fn refs() -> Refs {
        Refs {
            org: "openshift".into(),
            repo: "origin".into(),
            base_ref: "main".into(),
            base_sha: SHA.into(),
            pulls: vec![Pull {
                number: 7,
                sha: SHA.into(),
                author: Some("someone".into()),
            }],
        }
    }

    fn usage_message(request: &CreateRequest) -> String {
        let error = request.validate().expect_err("invalid");
        assert_eq!(exit_code(&error), 2, "{error:#}");
        format!("{error:#}")
    }

    #[test]
    fn job_types_parse_and_batch_is_refused_with_a_reason() {
        assert_eq!(
            "periodic".parse::<JobExecutionType>().ok(),
            Some(JobExecutionType::Periodic)
        );
        assert_eq!(
            " Presubmit ".parse::<JobExecutionType>().ok(),
            Some(JobExecutionType::Presubmit)
        );
        assert_eq!(
            "POSTSUBMIT".parse::<JobExecutionType>().ok(),
            Some(JobExecutionType::Postsubmit)
        );
        let batch = "batch".parse::<JobExecutionType>().expect_err("refused");
        assert!(
            batch.to_string().contains("Gangway refuses BATCH"),
            "{batch}"
        );
        assert!("nightly".parse::<JobExecutionType>().is_err());
        assert_eq!(JobExecutionType::Periodic.wire_value(), "1");
        assert_eq!(JobExecutionType::Postsubmit.wire_value(), "2");
        assert_eq!(JobExecutionType::Presubmit.wire_value(), "3");
    }

    #[test]
    fn statuses_read_from_names_prefixes_any_case_and_numbers() {
        let cases = [
            (json!("SUCCESS"), JobStatus::Success),
            (json!("JOB_EXECUTION_STATUS_FAILURE"), JobStatus::Failure),
            (json!("pending"), JobStatus::Pending),
            (
                json!("job_execution_status_unspecified"),
                JobStatus::Unspecified,
            ),
            (json!(7), JobStatus::Scheduling),
            (json!("6"), JobStatus::Error),
            (json!(5), JobStatus::Aborted),
            (json!(1), JobStatus::Triggered),
            (json!(null), JobStatus::Unspecified),
            (json!(""), JobStatus::Unspecified),
            (json!("QUEUED"), JobStatus::Unknown("QUEUED".into())),
            (json!(42), JobStatus::Unknown("42".into())),
        ];
        for (wire, expected) in cases {
            assert_eq!(JobStatus::from_wire(&wire), expected, "{wire}");
        }
        assert!(JobStatus::Success.is_terminal());
        assert!(JobStatus::Error.is_terminal());
        assert!(!JobStatus::Scheduling.is_terminal());
        assert!(!JobStatus::Unknown("QUEUED".into()).is_terminal());
        assert_eq!(JobStatus::Unknown("QUEUED".into()).as_str(), "QUEUED");
        assert_eq!(JobStatus::Aborted.as_str(), "ABORTED");
    }

    #[test]
    fn executions_read_snake_and_camel_case_with_defaults() {
        let snake = json!({"id": "a", "job_name": "j", "job_type": "PERIODIC",
            "job_status": "PENDING", "job_url": "https://x/1", "gcs_path": ""});
        let execution = JobExecution::from_wire(&snake).unwrap();
        assert_eq!(execution.id, "a");
        assert_eq!(execution.job_name, "j");
        assert_eq!(execution.status, JobStatus::Pending);
        assert_eq!(execution.job_url.as_deref(), Some("https://x/1"));
        assert_eq!(execution.gcs_path, None, "empty means absent");

        let camel = json!({"id": "b", "jobName": "k", "jobStatus": 3, "gcsPath": "gs://p"});
        let execution = JobExecution::from_wire(&camel).unwrap();
        assert_eq!(execution.job_name, "k");
        assert_eq!(execution.status, JobStatus::Success);
        assert_eq!(execution.gcs_path.as_deref(), Some("gs://p"));
        assert_eq!(execution.job_url, None);

        let bare = JobExecution::from_wire(&json!({})).unwrap();
        assert_eq!(bare.status, JobStatus::Unspecified);
        assert!(JobExecution::from_wire(&json!([1])).is_err());
    }

    #[test]
    fn the_body_has_the_documented_shape() {
        let mut request = periodic("periodic-ci-x");
        request.envs.insert("UNRESOLVED_CONFIG".into(), "{}".into());
        request
            .annotations
            .insert("ci.openshift.io/konflux-repo".into(), "o/r".into());
        assert_eq!(
            request.to_json(),
            json!({"job_name": "periodic-ci-x", "job_execution_type": "1",
                   "pod_spec_options": {"envs": {"UNRESOLVED_CONFIG": "{}"},
                                        "annotations": {"ci.openshift.io/konflux-repo": "o/r"}}})
        );
        assert_eq!(
            periodic("p").to_json(),
            json!({"job_name": "p", "job_execution_type": "1"})
        );
        let mut presubmit = periodic("pull-ci-x");
        presubmit.job_type = JobExecutionType::Presubmit;
        presubmit.refs = Some(refs());
        let body = presubmit.to_json();
        assert_eq!(body["job_execution_type"], "3");
        assert_eq!(body["refs"]["base_sha"], SHA);
        assert_eq!(
            body["refs"]["pulls"][0],
            json!({"number": 7, "sha": SHA, "author": "someone"})
        );
        presubmit.validate().expect("valid presubmit");
    }

    #[test]
    fn validation_mirrors_gangway_and_names_the_field() {
        assert!(usage_message(&periodic(" ")).contains("job_name is empty"));

        let mut with_refs = periodic("p");
        with_refs.refs = Some(refs());
        assert!(usage_message(&with_refs).contains("periodic jobs cannot also have gitRefs"));

        let mut presubmit = periodic("pull");
        presubmit.job_type = JobExecutionType::Presubmit;
        assert!(usage_message(&presubmit).contains("refs are missing"));

        let mut missing = refs();
        missing.base_sha.clear();
        presubmit.refs = Some(missing);
        assert!(usage_message(&presubmit).contains("refs.base_sha is empty"));

        let mut no_pulls = refs();
        no_pulls.pulls.clear();
        presubmit.refs = Some(no_pulls.clone());
        assert!(usage_message(&presubmit).contains("refs.pulls is empty"));
        let mut postsubmit = presubmit.clone();
        postsubmit.job_type = JobExecutionType::Postsubmit;
        postsubmit.refs = Some(no_pulls);
        postsubmit.validate().expect("a postsubmit needs no pulls");

        for bad_sha in [
            "ABCDEF0123456789abcdef0123456789abcdef01",
            "abc",
            &format!("{SHA}0"),
        ] {
            let mut bad = refs();
            bad.pulls[0].sha = bad_sha.to_owned();
            presubmit.refs = Some(bad);
            assert!(
                usage_message(&presubmit).contains("refs.pulls[0].sha"),
                "{bad_sha}"
            );
        }

        let mut env = periodic("p");
        env.envs.insert("EMPTY".into(), String::new());
        assert!(usage_message(&env).contains("pod_spec_options.envs.EMPTY is empty"));
        let mut env = periodic("p");
        env.envs.insert(String::new(), "v".into());
        assert!(usage_message(&env).contains("empty variable name"));

        let mut label = periodic("p");
        label.labels.insert("team".into(), "has space".into());
        assert!(usage_message(&label).contains("pod_spec_options.labels.team"));
        let mut label = periodic("p");
        label.labels.insert("team".into(), "x".repeat(64));
        assert!(usage_message(&label).contains("at most 63"));
        let mut label = periodic("p");
        label.labels.insert("team".into(), "-dash".into());
        assert!(usage_message(&label).contains("begin and end"));
        let mut label = periodic("p");
        label.labels.insert("team".into(), String::new());
        assert!(usage_message(&label).contains("labels.team is empty"));
        let mut label = periodic("p");
        label.labels.insert("Bad_Prefix.io/name".into(), "v".into());
        assert!(usage_message(&label).contains("prefix"));

        let mut annotation = periodic("p");
        annotation.annotations.insert("note".into(), String::new());
        assert!(usage_message(&annotation).contains("annotations.note is empty"));
        let mut annotation = periodic("p");
        annotation.annotations.insert(String::new(), "v".into());
        assert!(usage_message(&annotation).contains("empty key"));

        let mut good = periodic("p");
        good.labels
            .insert("app.kubernetes.io/part-of".into(), "a.b_c-d".into());
        good.annotations.insert(
            "ci.openshift.io/note".into(),
            "any text, even spaces".into(),
        );
        good.envs.insert("A".into(), "a=b,c".into());
        good.validate().expect("valid");
    }

    #[test]
    fn history_urls_are_encoded() {
        assert_eq!(
            history_url(
                "https://prow.ci.openshift.org/",
                "periodic-ci-org-repo-main-e2e"
            ),
            "https://prow.ci.openshift.org/?job=periodic-ci-org-repo-main-e2e"
        );
        assert_eq!(
            history_url("https://deck.example/prow", "a b&c/d+é"),
            "https://deck.example/prow/?job=a%20b%26c%2Fd%2B%C3%A9"
        );
    }

    #[test]
    fn deck_yaml_is_read_from_the_named_document() {
        let yaml = "kind: Status\nmessage: hi\n---\nkind: ProwJob\nmetadata:\n  name: other\n\
                    spec:\n  job: j\nstatus:\n  state: pending\n---\nkind: ProwJob\nmetadata:\n  \
                    name: the-id\nspec:\n  job: j\n  type: periodic\n  pod_spec:\n    containers:\n    \
                    - env:\n      - name: CONFIG_SPEC\n        value: secret-ish\nstatus:\n  state: \
                    success\n  url: https://prow/view/1\n  build_id: 1234567890\n";
        let job = parse_deck_prowjob(yaml, "the-id").unwrap();
        assert_eq!(job.state.as_deref(), Some("success"));
        assert_eq!(job.url.as_deref(), Some("https://prow/view/1"));
        assert_eq!(
            job.build_id.as_deref(),
            Some("1234567890"),
            "numbers read as text"
        );
        assert_eq!(job.job.as_deref(), Some("j"));
        assert_eq!(job.env_names, vec!["CONFIG_SPEC".to_owned()]);

        let first = parse_deck_prowjob(yaml, "unknown").unwrap();
        assert_eq!(first.state.as_deref(), Some("pending"));
        assert!(parse_deck_prowjob("kind: Status\n", "x").is_err());
        assert!(parse_deck_prowjob("{ not yaml", "x").is_err());
    }

    #[test]
    fn grpc_messages_are_percent_decoded() {
        assert_eq!(
            percent_decode("not%20found%3A%20%22x%22"),
            "not found: \"x\""
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn base_urls_must_be_http() {
        assert!(parse_base_url("gangway.example", "Gangway").is_err());
        assert!(parse_base_url("ftp://x", "Gangway").is_err());
        let url = parse_base_url("https://g.example/prefix/", "Gangway").unwrap();
        assert_eq!(
            join_segments(&url, &["v1", "executions", "a/b"]).as_str(),
            "https://g.example/prefix/v1/executions/a%2Fb"
        );
    }
}
