//! The client of Prow's Gangway REST API as OpenShift CI serves it (oauth-proxy in front of an
//! envoy JSON transcoder), and of Deck's public `/prowjob` view.
//!
//! - `request`: what to trigger, checked as Gangway and Kubernetes would check it;
//! - `answer`: reading and classifying what the proxy, the transcoder and Gangway answer;
//! - `client`: the transport and the read calls (a run, the runs of a job), on the one retry
//!   loop of `core::retry`;
//! - `create`: triggering, never twice: see [`GangwayClient::create`];
//! - `deck`: Deck's view of a ProwJob, for its URL.
//!
//! Responses are read leniently (snake_case or camelCase keys, enum names or numbers, missing
//! fields), because the transcoder's print options are not ours to choose. Request and response
//! bodies are never logged: the create answer echoes every env, and envs end up public anyway.

mod answer;
mod client;
mod create;
mod deck;
mod request;

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::core::error::Error;

pub use client::{parse_base_url, GangwayClient, Listing};
pub use deck::{history_url, DeckClient, DeckJob};
pub use request::{CreateRequest, Pull, Refs};

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

pub(super) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
