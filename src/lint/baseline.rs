//! Baselines: how a catalog with thousands of existing findings turns the linter on today and
//! fails only on new problems. `--write-baseline FILE` records the findings of a run;
//! `--baseline FILE` leaves out the findings recorded there, so only new ones are reported and
//! can fail the run.
//!
//! A finding is recorded by a fingerprint of its rule, file, field path (`spec.steps[0].script`)
//! and message with digits taken out, not by its line, so editing elsewhere in a file moves
//! nothing into or out of the baseline. The same fingerprint recorded twice covers two findings.
//! Paths are as the run printed them: record and compare from the same directory with the same
//! path arguments.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::finding::Finding;
use crate::core::error::Error;
use crate::core::output::write_atomic;

const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct BaselineFile {
    version: u32,
    findings: Vec<Entry>,
}

/// One recorded finding: the fingerprint is what counts, the rest is for people reading diffs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    fingerprint: String,
    rule: String,
    path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    field: String,
    message: String,
}

/// The findings a baseline file recorded.
#[derive(Debug, Default)]
pub struct Baseline {
    counts: HashMap<String, usize>,
}

/// A finding's identity across line moves.
pub fn fingerprint(finding: &Finding) -> String {
    // Each run of digits (a line number in a message) becomes one `#`.
    let mut message = String::with_capacity(finding.message.len());
    for c in finding.message.chars() {
        if !c.is_ascii_digit() {
            message.push(c);
        } else if !message.ends_with('#') {
            message.push('#');
        }
    }
    let path = finding.path.trim_start_matches("./");
    let mut hash = Sha256::new();
    for part in [
        finding.rule.as_str(),
        path,
        finding.field.as_str(),
        &message,
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    format!("{:x}", hash.finalize())[..32].to_string()
}

impl Baseline {
    pub fn read(path: &Path) -> anyhow::Result<Baseline> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::usage(format!(
                "--baseline {}: {e} (record one with --write-baseline)",
                path.display()
            ))
        })?;
        let file: BaselineFile = serde_json::from_str(&text).map_err(|e| {
            Error::usage(format!(
                "--baseline {}: not a stepkit lint baseline: {e}",
                path.display()
            ))
        })?;
        if file.version != VERSION {
            return Err(Error::usage(format!(
                "--baseline {}: version {} of the format; this stepkit reads version {VERSION} (record it again with --write-baseline)",
                path.display(),
                file.version
            ))
            .into());
        }
        let mut counts = HashMap::new();
        for entry in file.findings {
            *counts.entry(entry.fingerprint).or_insert(0) += 1;
        }
        Ok(Baseline { counts })
    }

    /// Splits `findings` into the new ones, which are returned, and those the baseline
    /// recorded, which are counted.
    pub fn filter(&self, findings: Vec<Finding>) -> (Vec<Finding>, usize) {
        let mut left = self.counts.clone();
        let mut known = 0;
        let new = findings
            .into_iter()
            .filter(|finding| match left.get_mut(&fingerprint(finding)) {
                Some(count) if *count > 0 => {
                    *count -= 1;
                    known += 1;
                    false
                }
                _ => true,
            })
            .collect();
        (new, known)
    }
}

/// Records `findings` in `path`, replacing it atomically.
pub fn write(path: &Path, findings: &[Finding]) -> anyhow::Result<()> {
    let file = BaselineFile {
        version: VERSION,
        findings: findings
            .iter()
            .map(|f| Entry {
                fingerprint: fingerprint(f),
                rule: f.rule.clone(),
                path: f.path.clone(),
                field: f.field.clone(),
                message: f.message.clone(),
            })
            .collect(),
    };
    let text = serde_json::to_string_pretty(&file).expect("a baseline serializes") + "\n";
    write_atomic(path, text.as_bytes())
        .with_context(|| format!("writing baseline {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::finding::Severity;

    fn finding(rule: &str, line: usize, message: &str) -> Finding {
        Finding {
            rule: rule.into(),
            severity: Severity::Warning,
            message: message.into(),
            path: "task/a/0.1/a.yaml".into(),
            line,
            column: 3,
            kind: Some("Task".into()),
            name: Some("a".into()),
            field: "spec.steps[0].script".into(),
        }
    }

    #[test]
    fn recorded_findings_are_left_out_even_after_moving_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baseline.json");
        let recorded = vec![
            finding("params-in-script", 10, "$(params.x) is pasted"),
            finding("params-in-script", 12, "$(params.x) is pasted"),
            finding("duplicate-resource", 4, "also defined at b.yaml:4"),
        ];
        write(&path, &recorded).unwrap();
        let baseline = Baseline::read(&path).unwrap();
        let now = vec![
            // Moved down by 20 lines, and a line number in a message changed.
            finding("params-in-script", 30, "$(params.x) is pasted"),
            finding("params-in-script", 32, "$(params.x) is pasted"),
            finding("duplicate-resource", 24, "also defined at b.yaml:24"),
            // A third use of the same param in the same script is new.
            finding("params-in-script", 40, "$(params.x) is pasted"),
            finding("unused-param", 5, "param \"y\" is declared but unused"),
        ];
        let (new, known) = baseline.filter(now);
        assert_eq!(known, 3);
        let lines: Vec<usize> = new.iter().map(|f| f.line).collect();
        assert_eq!(lines, [40, 5]);
    }

    #[test]
    fn a_missing_or_foreign_baseline_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Baseline::read(&dir.path().join("none.json")).unwrap_err();
        assert!(
            missing.to_string().contains("--write-baseline"),
            "{missing}"
        );
        let other = dir.path().join("other.json");
        std::fs::write(&other, "{\"findings\": 3}").unwrap();
        assert!(Baseline::read(&other).is_err());
    }
}
