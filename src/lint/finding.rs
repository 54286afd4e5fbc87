//! What a rule reports: a rule id, a message that says what to change, and where, as a field path
//! (`spec.steps[1].image`) that is resolved to a line and column only at the end.

use std::fmt;

use serde::Serialize;

pub use crate::tekton::path::{FieldPath, Location, Segment};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!(
                "unknown severity {other:?}: expected error, warning or info"
            )),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule's report, before configuration gives it a severity and the file a position.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub rule: super::rules::RuleId,
    pub message: String,
    pub location: Location,
    /// This instance is more (or less) serious than the rule's default: used unless the user
    /// set the rule's severity explicitly.
    pub severity: Option<Severity>,
}

/// A diagnostic with everything resolved: what every output format prints.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub path: String,
    pub line: usize,
    pub column: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field: String,
}
