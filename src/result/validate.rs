//! `result validate`: check a TEST_OUTPUT-like document the way Konflux consumers will read it.

use std::path::Path;

use serde_json::Value;

use crate::core::error::{Error, Kind, Verdict};
use crate::core::input::{read_input, InputError, MIB};
use crate::result::test_output::{self, Document, Problem};

/// What validating one document found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// Reasons consumers would reject it.
    pub problems: Vec<Problem>,
    /// Valid, but consumers will judge it differently from what it says.
    pub warnings: Vec<Problem>,
}

impl Validation {
    pub fn verdict(&self) -> Verdict {
        if self.problems.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }
}

/// The largest document read: a Tekton result is at most 4 KiB, a sidecar-logs one 1.5 MiB.
const MAX_DOCUMENT_BYTES: u64 = 16 * MIB;

/// Reads `path` (`None` for standard input) and validates it as `document`. Content that is not
/// a document (binary, too long) is a problem of the document (exit 1), not a failure to read.
pub fn validate(document: Document, path: Option<&Path>) -> anyhow::Result<Validation> {
    let name = || match path {
        Some(path) => path.display().to_string(),
        None => "standard input".to_owned(),
    };
    let bytes = match read_input(path, MAX_DOCUMENT_BYTES) {
        Ok(bytes) => bytes,
        Err(InputError::TooLarge { limit }) => {
            return Ok(invalid(format!(
                "longer than {limit} bytes: not a result (Tekton results are at most 4096 bytes)"
            )))
        }
        Err(err) => {
            // A directory or a device is the wrong input; a file that cannot be read is a
            // local I/O failure, as before.
            let kind = match err {
                InputError::NotRegular(_) => Kind::Usage,
                _ => Kind::LocalIo,
            };
            return Err(Error::new(kind, format!("cannot read {}: {err}", name())).into());
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(validate_text(document, &text)),
        Err(_) => Ok(invalid(
            "not UTF-8 text: a result is JSON text (is this a binary file?)".to_owned(),
        )),
    }
}

/// A document that is not one at all: one problem at the root.
fn invalid(message: String) -> Validation {
    Validation {
        problems: vec![Problem {
            path: "$".into(),
            message,
        }],
        warnings: Vec::new(),
    }
}

pub fn validate_text(document: Document, text: &str) -> Validation {
    let problems = test_output::validate(document, text);
    let warnings = match (document, serde_json::from_str::<Value>(text)) {
        (Document::TestOutput, Ok(value)) if problems.is_empty() => {
            test_output::consistency_warnings(&value)
        }
        _ => Vec::new(),
    };
    Validation { problems, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_document_passes_and_an_inconsistent_one_only_warns() {
        let valid = r#"{"result":"WARNING","timestamp":"2026-01-01T00:00:00Z","successes":1,"failures":0,"warnings":2}"#;
        let validation = validate_text(Document::TestOutput, valid);
        assert_eq!(validation.verdict(), Verdict::Pass);
        assert!(validation.warnings.is_empty());

        let inconsistent = r#"{"result":"SUCCESS","timestamp":"2026-01-01T00:00:00Z","successes":1,"failures":3,"warnings":0}"#;
        let validation = validate_text(Document::TestOutput, inconsistent);
        assert_eq!(validation.verdict(), Verdict::Pass);
        assert_eq!(validation.warnings.len(), 1);
    }

    #[test]
    fn an_invalid_document_fails() {
        let validation = validate_text(Document::TestOutput, r#"{"result":"success"}"#);
        assert_eq!(validation.verdict(), Verdict::Fail);
        assert!(validation.problems.len() >= 5, "{:?}", validation.problems);
    }
}
