//! Results as Tekton enforces them. After each step the entrypoint reports, in that step's
//! termination message, every Task result file present and the step's own result files, plus
//! its start time (and the exit code under `onError: continue`), as Go-encoded JSON; over 4096
//! bytes the step fails with Tekton's message. With `results-from: sidecar-logs` a sidecar
//! prints each result as a log line instead, and a line over `max-result-size` fails the
//! TaskRun. At the end the TaskRun's results are read: string
//! results exactly as written (a trailing newline kept), array and object results as JSON, and
//! results whose `value` points at a step result from that step's file.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use super::env::replace_step_results;
use super::params::ParamValue;
use crate::core::tekton::{entry_cost, go_json_escaped_len, TERMINATION_MESSAGE_LIMIT};
use crate::tekton::model::ResultSpec;

/// The message a step fails with when its results do not fit, as Tekton's entrypoint logs it.
pub const TOO_LONG: &str =
    "Termination message is above max allowed size 4096, caused by large task result.";

/// Where results travel from the steps to the TaskRun (Tekton's `results-from` feature flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultsFrom {
    /// Each step's termination message: every result it reports within 4096 bytes (the default).
    TerminationMessage,
    /// A sidecar that prints each result file as a log line of at most `max_result_size` bytes
    /// (`results-from: sidecar-logs`, with its `max-result-size`).
    SidecarLogs { max_result_size: usize },
}

/// The bytes of the sidecar's log line for a result, `{"name":N,"value":V,"type":"task"}`, as
/// Go encodes it.
fn sidecar_log_line_len(name: &str, value: &str, kind: &str) -> usize {
    const FRAMING: usize = r#"{"name":"","value":"","type":""}"#.len();
    FRAMING + go_json_escaped_len(name) + go_json_escaped_len(value) + kind.len()
}

/// With sidecar logs, the first result whose line is over the limit, as Tekton words the
/// TaskRun's failure; `steps` are each step's name, declared results and results directory.
pub fn sidecar_log_overflow(
    task_run: &str,
    task_results: &[ResultSpec],
    results_dir: &Path,
    steps: &[(&str, &[ResultSpec], std::path::PathBuf)],
    limit: usize,
) -> Option<String> {
    let task = task_results
        .iter()
        .map(|r| (r.name.clone(), results_dir.join(&r.name), "task"));
    let step = steps.iter().flat_map(|(step, results, dir)| {
        results
            .iter()
            .map(move |r| (format!("{step}.{}", r.name), dir.join(&r.name), "step"))
    });
    for (name, file, kind) in task.chain(step) {
        if let Ok(Some(value)) = read_capped(&file) {
            let length = sidecar_log_line_len(&name, &value, kind);
            if length > limit {
                return Some(format!(
                    "[User error] TaskRun \"{task_run:?}\" failed: {length} bytes results size exceeds configured limit of {limit} bytes"
                ));
            }
        }
    }
    None
}

/// No result file is read past this; it could never fit the budget anyway.
const MAX_RESULT_READ: u64 = 1 << 20;

/// A result file's text, or None when there is none.
pub fn read_capped(path: &Path) -> std::io::Result<Option<String>> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    file.take(MAX_RESULT_READ).read_to_end(&mut bytes)?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// A declared result's type (`string` unless it says, or has properties).
pub fn declared_type(result: &ResultSpec) -> &str {
    match result.type_.as_deref() {
        Some(t) if !t.is_empty() => t,
        _ if result.properties.is_some() => "object",
        _ => "string",
    }
}

/// The length of the termination message a step writes: `[` entries `]`, each entry
/// `{"key":K,"value":V,"type":N}` with Go's escaping.
pub fn termination_message_len(
    task_results: &[ResultSpec],
    results_dir: &Path,
    step_results: &[ResultSpec],
    step_results_dir: &Path,
    started_at: &str,
    exit_code: Option<i32>,
) -> usize {
    let mut entries = Vec::new();
    for (specs, dir) in [
        (task_results, results_dir),
        (step_results, step_results_dir),
    ] {
        for result in specs {
            if let Ok(Some(value)) = read_capped(&dir.join(&result.name)) {
                entries.push(entry_cost(&result.name, &value));
            }
        }
    }
    entries.push(entry_cost("StartedAt", started_at));
    if let Some(code) = exit_code {
        entries.push(entry_cost("ExitCode", &code.to_string()));
    }
    1 + entries.iter().sum::<usize>()
}

/// Whether a step's termination message fits.
pub fn fits(length: usize) -> bool {
    length <= TERMINATION_MESSAGE_LIMIT
}

/// Go's `2006-01-02T15:04:05.999Z07:00` for a time (the entrypoint's StartedAt).
pub fn go_time(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let millis = at.millisecond();
    let fraction = if millis == 0 {
        String::new()
    } else {
        format!(".{millis:03}").trim_end_matches('0').to_string()
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The TaskRun's results, or why they do not match their declarations.
pub fn collect(
    declared: &[ResultSpec],
    results_dir: &Path,
    steps_dir: &Path,
) -> Result<BTreeMap<String, ParamValue>, String> {
    let mut results = BTreeMap::new();
    let mut mismatched = Vec::new();
    for result in declared {
        let wanted = declared_type(result);
        let text = match &result.value {
            Some(serde_json::Value::String(reference)) => {
                match replace_step_results(reference, steps_dir) {
                    Ok(items) if wanted == "array" => {
                        results.insert(result.name.clone(), ParamValue::Array(items));
                        continue;
                    }
                    Ok(mut items) => items.pop(),
                    Err(_) => None,
                }
            }
            Some(_) => None,
            None => read_capped(&results_dir.join(&result.name)).ok().flatten(),
        };
        let Some(text) = text else { continue };
        match ParamValue::from_result(&text, wanted) {
            Ok(value) => {
                results.insert(result.name.clone(), value);
            }
            Err(problem) => mismatched.push(format!(" \"{}\": {problem}", result.name)),
        }
    }
    if mismatched.is_empty() {
        Ok(results)
    } else {
        Err(format!(
            "Provided results don't match declared results; may be invalid JSON or missing result declaration:{}",
            mismatched.join(",")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str) -> ResultSpec {
        ResultSpec {
            name: name.into(),
            ..ResultSpec::default()
        }
    }

    #[test]
    fn the_message_counts_every_present_result_once_encoded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "x<y").unwrap();
        let specs = [result("a"), result("absent")];
        let length = termination_message_len(
            &specs,
            dir.path(),
            &[],
            dir.path(),
            "2024-01-01T00:00:00Z",
            None,
        );
        let expected = format!(
            "[{},{}]",
            r#"{"key":"a","value":"x\u003cy","type":1}"#,
            r#"{"key":"StartedAt","value":"2024-01-01T00:00:00Z","type":3}"#
        );
        assert_eq!(length, expected.len());
    }

    #[test]
    fn go_times_drop_trailing_zeros() {
        let at = time::macros::datetime!(2024-05-01 10:00:00.120 UTC);
        assert_eq!(go_time(at), "2024-05-01T10:00:00.12Z");
        assert_eq!(
            go_time(time::macros::datetime!(2024-05-01 10:00:00 UTC)),
            "2024-05-01T10:00:00Z"
        );
    }

    #[test]
    fn results_keep_newlines_and_refuse_bad_json() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s"), "v\n").unwrap();
        std::fs::write(dir.path().join("a"), "not json").unwrap();
        let mut array = result("a");
        array.type_ = Some("array".into());
        let got = collect(&[result("s")], dir.path(), dir.path()).unwrap();
        assert_eq!(got["s"], ParamValue::String("v\n".into()));
        let error = collect(&[array], dir.path(), dir.path()).unwrap_err();
        assert!(error.contains("\"a\": expected a JSON array"), "{error}");
    }
}
