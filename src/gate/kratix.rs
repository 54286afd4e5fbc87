//! The Kratix pipeline contract for a gate: the files under `/kratix` it reads and writes.
//!
//! Kratix gives each pipeline pod `input/object.yaml` (the resource request, with its current
//! status) and a `metadata/` directory shared by the containers of *one* Pipeline. At the end of
//! the Pipeline its status-writer shallow-merges `metadata/status.yaml` into the object's status
//! (top-level keys replace whole values; a top-level `kratix` key is an error) and obeys
//! `metadata/workflow-control.yaml` (`retryAfter`, a Go duration, re-runs the same Pipeline).
//! So the gate always writes complete sub-objects, rewrites files instead of appending, and keeps
//! whatever other containers of the Pipeline wrote.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use serde_yaml::{Mapping, Value};

use crate::core::error::{Error, Kind, ResultExt};
use crate::core::input::{read_input_text, InputError, MIB};
use crate::core::output::write_atomic;

/// Where Kratix mounts the pipeline volumes.
pub const DEFAULT_KRATIX_DIR: &str = "/kratix";

/// Files an earlier container may create to skip the gate (the sign-off image's names).
const SKIP_FILES: [&str; 2] = ["skip-approval", "auto-approve"];
/// The largest resource request read (Kubernetes keeps objects under 1.5 MiB).
const MAX_OBJECT_BYTES: u64 = 4 * MIB;

/// The `/kratix` directory of one pipeline pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KratixDir {
    root: PathBuf,
}

/// Where an approval stands, as written to `approval-state` and `status.approval.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalState {
    Pending,
    Approved,
    Rejected,
    Expired,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Rejected => "rejected",
            ApprovalState::Expired => "expired",
        }
    }

    /// Whether the request is decided (Kratix may go on to the next Pipeline).
    pub fn is_decided(self) -> bool {
        self != ApprovalState::Pending
    }
}

impl fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApprovalState {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "pending" => Ok(ApprovalState::Pending),
            "approved" => Ok(ApprovalState::Approved),
            "rejected" => Ok(ApprovalState::Rejected),
            "expired" => Ok(ApprovalState::Expired),
            _ => Err(format!(
                "unknown approval state {text:?}: expected pending, approved, rejected or expired"
            )),
        }
    }
}

/// The complete `status.approval` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalStatus {
    pub state: ApprovalState,
    pub issue_url: Option<String>,
    pub issue_number: Option<u64>,
    /// `owner/name` of the repository holding the issue.
    pub repo: Option<String>,
    pub request_hash: String,
    /// RFC 3339 times, as the caller formats them.
    pub requested_at: Option<String>,
    pub decided_at: Option<String>,
    /// GitHub login of whoever decided.
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    /// The issue's last ETag, so the next retry pod can make a free conditional request.
    pub etag: Option<String>,
}

impl ApprovalStatus {
    /// A status with `state` for the request with `request_hash`, and nothing else known yet.
    pub fn new(state: ApprovalState, request_hash: impl Into<String>) -> ApprovalStatus {
        ApprovalStatus {
            state,
            issue_url: None,
            issue_number: None,
            repo: None,
            request_hash: request_hash.into(),
            requested_at: None,
            decided_at: None,
            decided_by: None,
            reason: None,
            etag: None,
        }
    }
}

/// `status.approval` as YAML: every key present (null when unknown), so the shallow merge can
/// never leave a stale `decidedBy` next to a new state.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApprovalYaml<'a> {
    state: &'static str,
    issue_url: Option<&'a str>,
    issue_number: Option<u64>,
    repo: Option<&'a str>,
    request_hash: &'a str,
    requested_at: Option<&'a str>,
    decided_at: Option<&'a str>,
    decided_by: Option<&'a str>,
    reason: Option<&'a str>,
    etag: Option<&'a str>,
}

impl<'a> From<&'a ApprovalStatus> for ApprovalYaml<'a> {
    fn from(status: &'a ApprovalStatus) -> Self {
        ApprovalYaml {
            state: status.state.as_str(),
            issue_url: status.issue_url.as_deref(),
            issue_number: status.issue_number,
            repo: status.repo.as_deref(),
            request_hash: &status.request_hash,
            requested_at: status.requested_at.as_deref(),
            decided_at: status.decided_at.as_deref(),
            decided_by: status.decided_by.as_deref(),
            reason: status.reason.as_deref(),
            etag: status.etag.as_deref(),
        }
    }
}

impl KratixDir {
    pub fn new(root: PathBuf) -> KratixDir {
        KratixDir { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `input/object.yaml`: the resource request, as Kratix's reader fetched it.
    pub fn object_path(&self) -> PathBuf {
        self.root.join("input").join("object.yaml")
    }

    /// `metadata/status.yaml`, merged into the object's status when the Pipeline ends.
    pub fn status_path(&self) -> PathBuf {
        self.metadata_path("status.yaml")
    }

    /// `metadata/workflow-control.yaml`.
    pub fn workflow_control_path(&self) -> PathBuf {
        self.metadata_path("workflow-control.yaml")
    }

    fn metadata_path(&self, name: &str) -> PathBuf {
        self.root.join("metadata").join(name)
    }

    /// The text of `input/object.yaml`. A missing file is a usage error that says how to point
    /// the gate at one, or how to run it without Kratix.
    pub fn read_object(&self) -> anyhow::Result<String> {
        let path = self.object_path();
        match read_input_text(Some(&path), MAX_OBJECT_BYTES) {
            Ok(text) => Ok(text),
            Err(InputError::Io(err)) if err.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::usage(format!(
                    "cannot read the Kratix resource request: {} does not exist. Inside a Kratix \
                 pipeline Kratix writes it; elsewhere pass --kratix-dir (or set KRATIX_DIR) to a \
                 directory holding input/object.yaml, or run the gate for Tekton with \
                 --request-id and --request-file instead",
                    path.display()
                ))
                .into())
            }
            // Not text, too long, not a file: the request is unusable as given.
            Err(err) if err.is_bad_input() => Err(Error::usage(format!(
                "cannot read the Kratix resource request {}: {err}",
                path.display()
            ))
            .into()),
            Err(err) => Err(err).or_kind(Kind::LocalIo, || {
                format!("cannot read the Kratix resource request {}", path.display())
            }),
        }
    }

    /// Rewrites `metadata/status.yaml` with `message`, the complete `approval` object and the
    /// legacy `approvalIssue`, keeping every other key other containers wrote.
    pub fn write_status(&self, approval: &ApprovalStatus, message: &str) -> anyhow::Result<()> {
        let path = self.status_path();
        let mut status = read_mapping(&path, "status")?;
        if status.contains_key("kratix") {
            return Err(Error::usage(format!(
                "{} has a top-level `kratix` key, which Kratix's status-writer rejects (it owns \
                 status.kratix); remove it from whatever container of this Pipeline wrote it",
                path.display()
            ))
            .into());
        }
        let approval_yaml = serde_yaml::to_value(ApprovalYaml::from(approval))
            .or_kind(Kind::LocalIo, || {
                "cannot encode status.approval".to_string()
            })?;
        status.insert("message".into(), message.into());
        status.insert("approval".into(), approval_yaml);
        status.insert(
            "approvalIssue".into(),
            approval
                .issue_url
                .as_deref()
                .map_or(Value::Null, Value::from),
        );
        write_mapping(&path, &status)
    }

    /// `metadata/approval-state`: one word, no newline, for later containers of this Pipeline.
    pub fn write_approval_state(&self, state: ApprovalState) -> anyhow::Result<()> {
        write_atomic(
            &self.metadata_path("approval-state"),
            state.as_str().as_bytes(),
        )
    }

    /// `metadata/approval-issue`: the issue's URL, for a wait in the same Pipeline.
    pub fn write_approval_issue(&self, url: &str) -> anyhow::Result<()> {
        write_atomic(&self.metadata_path("approval-issue"), url.trim().as_bytes())
    }

    /// `metadata/approval-issue` as a create-issue earlier in this Pipeline left it, if it is a
    /// regular file holding one short line.
    pub fn read_approval_issue(&self) -> Option<String> {
        let path = self.metadata_path("approval-issue");
        let metadata = std::fs::symlink_metadata(&path).ok()?;
        if !metadata.is_file() || metadata.len() > 4096 {
            return None;
        }
        let text = std::fs::read_to_string(path).ok()?;
        Some(text.trim().to_owned()).filter(|url| !url.is_empty() && !url.contains('\n'))
    }

    /// Removes `metadata/approval-state`, so that no earlier value outlives an undecided look.
    pub fn remove_approval_state(&self) -> anyhow::Result<()> {
        let path = self.metadata_path("approval-state");
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(err).or_kind(Kind::LocalIo, || {
                format!("cannot remove {}", path.display())
            }),
        }
    }

    /// `metadata/workflow-control.yaml` asking Kratix to run this Pipeline again after
    /// `retry_after`, keeping other keys (such as `suspend`) another container wrote.
    pub fn write_workflow_control(
        &self,
        retry_after: Duration,
        message: &str,
    ) -> anyhow::Result<()> {
        if retry_after < Duration::from_secs(1) {
            return Err(Error::usage(format!(
                "--retry-after {} is too short: Kratix would re-run the Pipeline at once, in a \
                 loop; use at least 1s (the default is 1m)",
                go_duration(retry_after)
            ))
            .into());
        }
        let path = self.workflow_control_path();
        let mut control = read_mapping(&path, "workflow control")?;
        control.insert("retryAfter".into(), go_duration(retry_after).into());
        control.insert("message".into(), message.into());
        write_mapping(&path, &control)
    }

    /// Why the gate is to be skipped, when an earlier container created `metadata/skip-approval`
    /// or `metadata/auto-approve` (the sign-off image's contract): the file's text, or its name.
    pub fn skip_requested(&self) -> Option<String> {
        SKIP_FILES.iter().find_map(|name| {
            let path = self.metadata_path(name);
            if !path.exists() {
                return None;
            }
            let text = read_input_text(Some(&path), 64 * 1024).unwrap_or_default();
            let reason = text.trim();
            Some(if reason.is_empty() {
                format!("metadata/{name} is present")
            } else {
                format!("metadata/{name}: {reason}")
            })
        })
    }
}

/// The YAML mapping in `path`; a missing or empty file is an empty mapping.
fn read_mapping(path: &Path, what: &str) -> anyhow::Result<Mapping> {
    let text = match read_input_text(Some(path), MAX_OBJECT_BYTES) {
        Ok(text) => text,
        Err(InputError::Io(err)) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Mapping::new())
        }
        Err(err) if err.is_bad_input() => {
            return Err(Error::usage(format!(
                "cannot update the {what} file {}: another container left something unusable there: {err}",
                path.display()
            ))
            .into())
        }
        Err(err) => {
            return Err(err).or_kind(Kind::LocalIo, || {
                format!("cannot read the {what} file {}", path.display())
            })
        }
    };
    if text.trim().is_empty() {
        return Ok(Mapping::new());
    }
    match crate::tekton::yaml::from_str::<Value>(&text) {
        Ok(Value::Mapping(map)) => Ok(map),
        Ok(Value::Null) => Ok(Mapping::new()),
        Ok(_) => Err(Error::usage(format!(
            "cannot update {}: another container left something other than a YAML mapping in it, \
             which Kratix cannot use either",
            path.display()
        ))
        .into()),
        Err(err) => Err(err).or_kind(Kind::Usage, || {
            format!(
                "cannot update {}: another container left invalid YAML in it",
                path.display()
            )
        }),
    }
}

fn write_mapping(path: &Path, map: &Mapping) -> anyhow::Result<()> {
    let text = serde_yaml::to_string(map).or_kind(Kind::LocalIo, || {
        format!("cannot encode {}", path.display())
    })?;
    write_atomic(path, text.as_bytes())
}

/// `d` as Go's `time.Duration.String()` writes it (`30s`, `1m0s`, `1h30m0s`, `1.5s`, `500ms`),
/// which `time.ParseDuration` reads back. Durations beyond Go's range (~292 years) are capped.
pub fn go_duration(d: Duration) -> String {
    let nanos = u64::try_from(d.as_nanos())
        .unwrap_or(u64::MAX)
        .min(i64::MAX as u64);
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (unit, digits) = match nanos {
            n if n < 1_000 => ("ns", 0),
            n if n < 1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        let (whole, fraction) = split_fraction(nanos, digits);
        return format!("{whole}{fraction}{unit}");
    }
    let (seconds, fraction) = split_fraction(nanos, 9);
    let (minutes, seconds) = (seconds / 60, seconds % 60);
    let (hours, minutes) = (minutes / 60, minutes % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}{fraction}s"),
        (0, _) => format!("{minutes}m{seconds}{fraction}s"),
        _ => format!("{hours}h{minutes}m{seconds}{fraction}s"),
    }
}

/// Splits `value` into its whole part and `.ddd` (trailing zeros dropped, empty when none) of
/// its last `digits` decimal digits, like Go's `fmtFrac`.
fn split_fraction(value: u64, digits: u32) -> (u64, String) {
    let scale = 10u64.pow(digits);
    let (whole, frac) = (value / scale, value % scale);
    if frac == 0 {
        return (whole, String::new());
    }
    let text = format!("{frac:0width$}", width = digits as usize);
    (whole, format!(".{}", text.trim_end_matches('0')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::exit_code;

    fn dir() -> (tempfile::TempDir, KratixDir) {
        let temp = tempfile::tempdir().unwrap();
        let kratix = KratixDir::new(temp.path().to_path_buf());
        (temp, kratix)
    }

    fn status(state: ApprovalState) -> ApprovalStatus {
        ApprovalStatus {
            issue_url: Some("https://github.com/acme/approvals/issues/42".into()),
            issue_number: Some(42),
            repo: Some("acme/approvals".into()),
            requested_at: Some("2026-08-20T09:14:41+00:00".into()),
            ..ApprovalStatus::new(state, "sha256:abc")
        }
    }

    fn read_yaml(path: &Path) -> Value {
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn status_keeps_what_other_containers_wrote_and_replaces_approval_whole() {
        let (_temp, kratix) = dir();
        let path = kratix.status_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            "endpoint: db.team-a.svc\nmessage: old\napproval:\n  state: approved\n  decidedBy: mallory\n  extra: stale\n",
        )
        .unwrap();
        kratix
            .write_status(&status(ApprovalState::Pending), "Waiting for approval")
            .unwrap();
        let written = read_yaml(&path);
        assert_eq!(written["endpoint"], "db.team-a.svc");
        assert_eq!(written["message"], "Waiting for approval");
        assert_eq!(
            written["approvalIssue"],
            "https://github.com/acme/approvals/issues/42"
        );
        let approval = written["approval"].as_mapping().unwrap();
        let keys: Vec<&str> = approval.keys().filter_map(Value::as_str).collect();
        assert_eq!(
            keys,
            [
                "state",
                "issueUrl",
                "issueNumber",
                "repo",
                "requestHash",
                "requestedAt",
                "decidedAt",
                "decidedBy",
                "reason",
                "etag"
            ]
        );
        assert_eq!(written["approval"]["state"], "pending");
        assert_eq!(written["approval"]["issueNumber"], 42);
        assert_eq!(
            written["approval"]["decidedBy"],
            Value::Null,
            "no stale decider survives"
        );
    }

    #[test]
    fn status_rewrite_is_idempotent_and_never_appends() {
        let (_temp, kratix) = dir();
        let decided = ApprovalStatus {
            decided_by: Some("bob".into()),
            decided_at: Some("2026-08-20T10:02:17+00:00".into()),
            reason: Some("closed as completed by bob".into()),
            ..status(ApprovalState::Approved)
        };
        kratix.write_status(&decided, "Request approved").unwrap();
        let first = std::fs::read_to_string(kratix.status_path()).unwrap();
        kratix.write_status(&decided, "Request approved").unwrap();
        let second = std::fs::read_to_string(kratix.status_path()).unwrap();
        assert_eq!(first, second);
        assert_eq!(second.matches("message:").count(), 1);
    }

    #[test]
    fn status_without_an_issue_clears_the_legacy_link() {
        let (_temp, kratix) = dir();
        kratix
            .write_status(&status(ApprovalState::Pending), "waiting")
            .unwrap();
        kratix
            .write_status(
                &ApprovalStatus::new(ApprovalState::Approved, "sha256:abc"),
                "skipped",
            )
            .unwrap();
        let written = read_yaml(&kratix.status_path());
        assert_eq!(written["approvalIssue"], Value::Null);
        assert_eq!(written["approval"]["issueUrl"], Value::Null);
    }

    #[test]
    fn status_refuses_a_kratix_key_and_garbage_from_other_containers() {
        let (_temp, kratix) = dir();
        let path = kratix.status_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "kratix:\n  workflows: {}\n").unwrap();
        let err = kratix
            .write_status(&status(ApprovalState::Pending), "m")
            .unwrap_err();
        assert_eq!(exit_code(&err), 2);
        assert!(
            format!("{err:#}").contains("top-level `kratix` key"),
            "{err:#}"
        );
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with("kratix:"),
            "left untouched"
        );

        std::fs::write(&path, "- a list\n").unwrap();
        let err = kratix
            .write_status(&status(ApprovalState::Pending), "m")
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("other than a YAML mapping"),
            "{err:#}"
        );
        std::fs::write(&path, "a: [unclosed\n").unwrap();
        let err = kratix
            .write_status(&status(ApprovalState::Pending), "m")
            .unwrap_err();
        assert!(format!("{err:#}").contains("invalid YAML"), "{err:#}");
    }

    #[test]
    fn approval_state_and_issue_are_single_values_without_newlines() {
        let (_temp, kratix) = dir();
        kratix.write_approval_state(ApprovalState::Pending).unwrap();
        kratix.write_approval_state(ApprovalState::Expired).unwrap();
        kratix
            .write_approval_issue("https://github.com/o/r/issues/1\n")
            .unwrap();
        let metadata = kratix.root().join("metadata");
        assert_eq!(
            std::fs::read_to_string(metadata.join("approval-state")).unwrap(),
            "expired"
        );
        assert_eq!(
            std::fs::read_to_string(metadata.join("approval-issue")).unwrap(),
            "https://github.com/o/r/issues/1"
        );
    }

    #[test]
    fn workflow_control_parses_back_and_keeps_other_keys() {
        let (_temp, kratix) = dir();
        let path = kratix.workflow_control_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "suspend: true\n").unwrap();
        kratix
            .write_workflow_control(Duration::from_secs(90), "Waiting for approval")
            .unwrap();
        let written = read_yaml(&path);
        assert_eq!(written["retryAfter"], "1m30s");
        assert_eq!(written["message"], "Waiting for approval");
        assert_eq!(written["suspend"], true);
        let err = kratix
            .write_workflow_control(Duration::from_millis(10), "m")
            .unwrap_err();
        assert_eq!(exit_code(&err), 2);
    }

    #[test]
    fn go_durations_match_go_string() {
        for (duration, expected) in [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_micros(1_250), "1.25ms"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_millis(1_500), "1.5s"),
            (Duration::from_secs(60), "1m0s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(5400), "1h30m0s"),
            (Duration::from_secs(36 * 3600 + 1), "36h0m1s"),
            (Duration::from_secs(u64::MAX), "2562047h47m16.854775807s"),
        ] {
            assert_eq!(go_duration(duration), expected, "{duration:?}");
        }
    }

    #[test]
    fn go_durations_parse_back_with_our_own_parser_where_it_can() {
        for secs in [1, 30, 59, 60, 61, 3599, 3600, 5400, 86_400] {
            let text = go_duration(Duration::from_secs(secs));
            assert_eq!(
                crate::core::duration::parse_duration(&text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
    }

    #[test]
    fn a_missing_object_explains_kratix_dir_and_the_tekton_alternative() {
        let (_temp, kratix) = dir();
        let err = kratix.read_object().unwrap_err();
        assert_eq!(exit_code(&err), 2);
        let text = format!("{err:#}");
        for expected in [
            "input/object.yaml",
            "--kratix-dir",
            "KRATIX_DIR",
            "--request-id",
        ] {
            assert!(text.contains(expected), "{expected}: {text}");
        }
        let object = kratix.object_path();
        std::fs::create_dir_all(object.parent().unwrap()).unwrap();
        std::fs::write(&object, "kind: K\n").unwrap();
        assert_eq!(kratix.read_object().unwrap(), "kind: K\n");
    }

    #[test]
    fn an_object_that_is_not_a_text_file_is_bad_input() {
        let (_temp, kratix) = dir();
        std::fs::create_dir_all(kratix.object_path().parent().unwrap()).unwrap();
        std::fs::write(kratix.object_path(), b"kind: K\nname: \xff\xfe\n").unwrap();
        let err = kratix.read_object().unwrap_err();
        assert_eq!(exit_code(&err), 2, "{err:#}");
        assert!(format!("{err:#}").contains("not UTF-8"), "{err:#}");

        std::fs::remove_file(kratix.object_path()).unwrap();
        std::fs::create_dir_all(kratix.object_path()).unwrap();
        let err = kratix.read_object().unwrap_err();
        assert_eq!(exit_code(&err), 2, "{err:#}");
        assert!(format!("{err:#}").contains("a directory"), "{err:#}");
    }

    #[test]
    fn skip_files_from_the_sign_off_contract_are_honoured() {
        let (_temp, kratix) = dir();
        assert_eq!(kratix.skip_requested(), None);
        let metadata = kratix.root().join("metadata");
        std::fs::create_dir_all(&metadata).unwrap();
        std::fs::write(metadata.join("auto-approve"), "").unwrap();
        assert_eq!(
            kratix.skip_requested().as_deref(),
            Some("metadata/auto-approve is present")
        );
        std::fs::write(metadata.join("skip-approval"), "dev namespace\n").unwrap();
        assert_eq!(
            kratix.skip_requested().as_deref(),
            Some("metadata/skip-approval: dev namespace")
        );
    }

    #[test]
    fn approval_states_round_trip_through_text() {
        for state in [
            ApprovalState::Pending,
            ApprovalState::Approved,
            ApprovalState::Rejected,
            ApprovalState::Expired,
        ] {
            assert_eq!(state.as_str().parse::<ApprovalState>(), Ok(state));
        }
        assert!("maybe".parse::<ApprovalState>().is_err());
        assert!(!ApprovalState::Pending.is_decided() && ApprovalState::Expired.is_decided());
    }
}
