//! `result validate`: check a TEST_OUTPUT-like document the way Konflux consumers will read it.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::core::error::{Kind, ResultExt, Verdict};
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

/// Reads `path` (`None` for standard input) and validates it as `document`.
pub fn validate(document: Document, path: Option<&Path>) -> anyhow::Result<Validation> {
    let text = match path {
        Some(path) => std::fs::read_to_string(path)
            .or_kind(Kind::LocalIo, || format!("cannot read {}", path.display()))?,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .or_kind(Kind::LocalIo, || "cannot read standard input".to_owned())?;
            text
        }
    };
    Ok(validate_text(document, &text))
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
