//! Tekton task and step results: where they go, how they are written, and whether they fit.
//!
//! After each step, Tekton's entrypoint puts every result file that exists into the container's
//! termination message, a JSON array of `{"key","value","type"}` entries encoded by Go's
//! `encoding/json`, capped at 4096 bytes per container. Files written by earlier steps are
//! re-reported by later ones. Over the cap the TaskRun fails with "Termination message is above
//! max allowed size", so stepkit checks the encoded cost of everything in the results directory
//! before writing, and refuses (exit 6) rather than break the TaskRun.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::core::error::{Error, Kind, ResultExt};
use crate::core::output::{write_atomic, TEMP_PREFIX};

/// Where `$(results.NAME.path)` points.
pub const TEKTON_RESULTS_DIR: &str = "/tekton/results";
/// Kubernetes' `MaxContainerTerminationMessageLength`, the per-step budget.
pub const TERMINATION_MESSAGE_LIMIT: usize = 4096;
/// Room left for the entries Tekton adds itself (`StartedAt`, exit code).
pub const DEFAULT_RESERVE: usize = 256;

/// The results directory: the flag (or `RESULTS_DIR`, which clap merges into it), else
/// `/tekton/results` when it exists (inside a Tekton step), else none.
pub fn results_dir(flag: Option<&Path>) -> Option<PathBuf> {
    results_dir_with_default(flag, Path::new(TEKTON_RESULTS_DIR))
}

fn results_dir_with_default(flag: Option<&Path>, default: &Path) -> Option<PathBuf> {
    match flag {
        Some(dir) => Some(dir.to_path_buf()),
        None if default.is_dir() => Some(default.to_path_buf()),
        None => None,
    }
}

/// How the cluster carries results from the pod to the TaskRun (Tekton's `results-from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResultsFrom {
    /// The default: one termination message per step, shared by all result files.
    #[default]
    TerminationMessage,
    /// A sidecar logs each result; the limit (`max-result-size`) applies to each on its own.
    SidecarLogs,
}

impl std::str::FromStr for ResultsFrom {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "termination-message" => Ok(ResultsFrom::TerminationMessage),
            "sidecar-logs" => Ok(ResultsFrom::SidecarLogs),
            _ => Err(format!(
                "unknown results-from {text:?}: expected termination-message or sidecar-logs"
            )),
        }
    }
}

/// The size budget results must fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max_bytes: usize,
    pub reserve: usize,
    pub results_from: ResultsFrom,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_bytes: TERMINATION_MESSAGE_LIMIT,
            reserve: DEFAULT_RESERVE,
            results_from: ResultsFrom::TerminationMessage,
        }
    }
}

impl Budget {
    /// Bytes the results may use in total (termination message) or each (sidecar logs).
    pub fn allowance(&self) -> usize {
        match self.results_from {
            ResultsFrom::TerminationMessage => self.max_bytes.saturating_sub(self.reserve),
            ResultsFrom::SidecarLogs => self.max_bytes,
        }
    }
}

/// One result to write: its name (the termination-message key) and the file it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultFile {
    pub name: String,
    pub path: PathBuf,
    pub value: String,
}

impl ResultFile {
    pub fn new(path: PathBuf, value: String) -> ResultFile {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        ResultFile { name, path, value }
    }

    pub fn in_dir(dir: &Path, name: &str, value: String) -> ResultFile {
        ResultFile::new(dir.join(name), value)
    }
}

/// Length of `text` once Go's `encoding/json` has escaped it: `"` and `\` take 2 bytes, control
/// characters 2 or 6, `<`, `>`, `&`, U+2028 and U+2029 6 (Go escapes HTML by default).
pub fn go_json_escaped_len(text: &str) -> usize {
    text.chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' => 2,
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => 6,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum()
}

/// Bytes one `{"key":K,"value":V,"type":1},` entry takes in the termination message.
pub fn entry_cost(name: &str, value: &str) -> usize {
    const FRAMING: usize = r#"{"key":"","value":"","type":1},"#.len();
    FRAMING + go_json_escaped_len(name) + go_json_escaped_len(value)
}

/// What is already in the results directories, against which new results are measured.
#[derive(Debug, Clone)]
pub struct BudgetCheck {
    budget: Budget,
    /// Result files that will still be there, and re-reported, after ours are written.
    others: Vec<(String, usize)>,
}

impl BudgetCheck {
    /// Looks at the directories `results` go to, plus `/tekton/results` when it exists (task
    /// results are re-reported by every step, including one that writes step results).
    pub fn new(budget: Budget, results: &[ResultFile]) -> anyhow::Result<BudgetCheck> {
        let mut dirs: BTreeSet<PathBuf> = results
            .iter()
            .filter_map(|r| r.path.parent().map(Path::to_path_buf))
            .collect();
        if Path::new(TEKTON_RESULTS_DIR).is_dir() {
            dirs.insert(PathBuf::from(TEKTON_RESULTS_DIR));
        }
        let ours: BTreeSet<&Path> = results.iter().map(|r| r.path.as_path()).collect();
        let mut others = Vec::new();
        for dir in dirs {
            others.extend(existing_results(&dir, &ours)?);
        }
        Ok(BudgetCheck { budget, others })
    }

    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Bytes the other results already take.
    pub fn used_by_others(&self) -> usize {
        match self.budget.results_from {
            ResultsFrom::TerminationMessage => self.others.iter().map(|(_, cost)| cost).sum(),
            ResultsFrom::SidecarLogs => 0,
        }
    }

    /// Whether these results fit beside the others.
    pub fn fits(&self, results: &[(&str, &str)]) -> bool {
        self.overflow(results).is_none()
    }

    /// By how many bytes these results go over the budget, if they do.
    pub fn overflow(&self, results: &[(&str, &str)]) -> Option<usize> {
        let allowance = self.budget.allowance();
        match self.budget.results_from {
            ResultsFrom::TerminationMessage => {
                let cost: usize = results.iter().map(|(n, v)| entry_cost(n, v)).sum::<usize>()
                    + self.used_by_others();
                cost.checked_sub(allowance).filter(|over| *over > 0)
            }
            ResultsFrom::SidecarLogs => results
                .iter()
                .map(|(_, value)| value.len())
                .max()
                .and_then(|largest| largest.checked_sub(allowance))
                .filter(|over| *over > 0),
        }
    }

    /// The error for results that do not fit: how large, the budget, and what else is there.
    pub fn overflow_error(&self, results: &[(&str, &str)]) -> Error {
        let over = self.overflow(results).unwrap_or(0);
        let names: Vec<&str> = results.iter().map(|(n, _)| *n).collect();
        let mut message = match self.budget.results_from {
            ResultsFrom::TerminationMessage => format!(
                "results {} do not fit Tekton's termination message: {over} bytes over the {}-byte budget ({} bytes less a {}-byte reserve for Tekton's own entries)",
                names.join(", "),
                self.budget.allowance(),
                self.budget.max_bytes,
                self.budget.reserve,
            ),
            ResultsFrom::SidecarLogs => format!(
                "results {} are {over} bytes over the {}-byte max-result-size",
                names.join(", "),
                self.budget.max_bytes
            ),
        };
        if self.used_by_others() > 0 {
            let listed: Vec<String> = self
                .others
                .iter()
                .map(|(name, cost)| format!("{name} ({cost} bytes)"))
                .collect();
            message.push_str(&format!(
                "; already in the results directory: {}",
                listed.join(", ")
            ));
        }
        message.push_str(". Nothing was written. Shorten the input, write fewer results in this step, or raise --max-result-bytes if the cluster allows larger results");
        Error::local_io(message)
    }
}

/// The termination-message cost of each result file in `dir` other than `ours`.
fn existing_results(dir: &Path, ours: &BTreeSet<&Path>) -> anyhow::Result<Vec<(String, usize)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => {
            return Err(err).or_kind(Kind::LocalIo, || {
                format!("cannot list results directory {}", dir.display())
            })
        }
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.or_kind(Kind::LocalIo, || format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // Our own half-written temporary files are not results.
        if ours.contains(path.as_path()) || name.starts_with(TEMP_PREFIX) || !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).or_kind(Kind::LocalIo, || {
            format!("cannot read result {}", path.display())
        })?;
        found.push((
            name.clone(),
            entry_cost(&name, &String::from_utf8_lossy(&bytes)),
        ));
    }
    found.sort();
    Ok(found)
}

/// Checks the budget for all `results`, then writes each one atomically, exactly as given (no
/// trailing newline). Nothing is written when they do not fit.
pub fn write_results(budget: Budget, results: &[ResultFile]) -> anyhow::Result<()> {
    let check = BudgetCheck::new(budget, results)?;
    let pairs: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r.name.as_str(), r.value.as_str()))
        .collect();
    if !check.fits(&pairs) {
        return Err(check.overflow_error(&pairs).into());
    }
    for result in results {
        write_atomic(&result.path, result.value.as_bytes())?;
        tracing::debug!(result = %result.name, path = %result.path.display(), bytes = result.value.len(), "wrote result");
    }
    Ok(())
}

/// Writes `results` (name, value) into the results directory (`--results-dir`, `RESULTS_DIR`,
/// or `/tekton/results` when it exists), checking the budget first; nothing to do without one.
pub fn write_named_results(
    results_dir: Option<&Path>,
    budget: Budget,
    results: &[(&str, &str)],
) -> anyhow::Result<()> {
    let Some(dir) = self::results_dir(results_dir) else {
        return Ok(());
    };
    let files: Vec<ResultFile> = results
        .iter()
        .map(|(name, value)| ResultFile::in_dir(&dir, name, (*value).to_owned()))
        .collect();
    write_results(budget, &files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::exit_code;

    #[test]
    fn escaped_length_matches_go_encoding_json() {
        assert_eq!(go_json_escaped_len("abc"), 3);
        assert_eq!(go_json_escaped_len(r#"{"a":1}"#), 9);
        assert_eq!(go_json_escaped_len("a\\b\n"), 6);
        assert_eq!(go_json_escaped_len("<&>"), 18);
        assert_eq!(go_json_escaped_len("\u{1}"), 6);
        assert_eq!(go_json_escaped_len("é…"), 5);
        assert_eq!(go_json_escaped_len("\u{2028}"), 6);
    }

    #[test]
    fn entry_cost_is_the_exact_encoded_entry() {
        let encoded = r#"{"key":"TEST_OUTPUT","value":"{\"a\":1}","type":1},"#;
        assert_eq!(entry_cost("TEST_OUTPUT", r#"{"a":1}"#), encoded.len());
    }

    #[test]
    fn results_dir_prefers_the_flag_then_an_existing_default() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("given");
        assert_eq!(
            results_dir_with_default(Some(&flag), dir.path()),
            Some(flag.clone())
        );
        assert_eq!(
            results_dir_with_default(None, dir.path()),
            Some(dir.path().to_path_buf())
        );
        assert_eq!(results_dir_with_default(None, &flag), None);
    }

    #[test]
    fn writes_atomically_without_a_trailing_newline_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/TEST_OUTPUT");
        write_atomic(&path, b"{\"result\":\"SUCCESS\"}").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("TEST_OUTPUT")]);
    }

    #[test]
    fn counts_files_already_in_the_results_dir_but_not_the_one_being_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("SBOM_BLOB_URL"), "x".repeat(3500)).unwrap();
        std::fs::write(dir.path().join("TEST_OUTPUT"), "y".repeat(3000)).unwrap();
        let ours = [ResultFile::in_dir(
            dir.path(),
            "TEST_OUTPUT",
            "z".repeat(100),
        )];
        let check = BudgetCheck::new(Budget::default(), &ours).unwrap();
        assert_eq!(
            check.used_by_others(),
            entry_cost("SBOM_BLOB_URL", &"x".repeat(3500))
        );
        assert!(check.fits(&[("TEST_OUTPUT", &"z".repeat(100))]));
        assert!(!check.fits(&[("TEST_OUTPUT", &"z".repeat(400))]));
    }

    #[test]
    fn refuses_and_writes_nothing_when_over_budget() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("SBOM_BLOB_URL"), "x".repeat(3500)).unwrap();
        let ours = [ResultFile::in_dir(
            dir.path(),
            "TEST_OUTPUT",
            "\"".repeat(300),
        )];
        let err = write_results(Budget::default(), &ours).unwrap_err();
        assert_eq!(exit_code(&err), 6);
        let text = err.to_string();
        assert!(text.contains("SBOM_BLOB_URL"), "{text}");
        assert!(text.contains("3840-byte budget"), "{text}");
        assert!(!dir.path().join("TEST_OUTPUT").exists());
    }

    #[test]
    fn the_budget_is_exact_at_the_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let budget = Budget::default();
        let framing = entry_cost("R", "");
        let exactly = "v".repeat(budget.allowance() - framing);
        let ours = [ResultFile::in_dir(dir.path(), "R", exactly.clone())];
        write_results(budget, &ours).unwrap();
        let over = [ResultFile::in_dir(dir.path(), "R", format!("{exactly}v"))];
        assert_eq!(exit_code(&write_results(budget, &over).unwrap_err()), 6);
    }

    #[test]
    fn sidecar_logs_checks_each_result_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("BIG"), "x".repeat(4000)).unwrap();
        let budget = Budget {
            max_bytes: 4096,
            reserve: 256,
            results_from: ResultsFrom::SidecarLogs,
        };
        let ours = [ResultFile::in_dir(
            dir.path(),
            "TEST_OUTPUT",
            "y".repeat(4000),
        )];
        write_results(budget, &ours).unwrap();
        let too_big = [ResultFile::in_dir(
            dir.path(),
            "TEST_OUTPUT",
            "y".repeat(4097),
        )];
        assert_eq!(exit_code(&write_results(budget, &too_big).unwrap_err()), 6);
    }
}
