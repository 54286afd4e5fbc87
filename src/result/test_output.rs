//! The Konflux test-stream results: `TEST_OUTPUT`, `SCAN_OUTPUT` and `IMAGES_PROCESSED`, their
//! typed model, and validation against embedded (corrected) JSON Schemas.
//!
//! The schemas published in ADR 13 and ADR 30 are not valid JSON; the ones embedded here carry
//! the same properties and required lists as integration-service's, with the canonical 2020-12
//! meta-schema URI and escaped patterns. Integration-service decodes counts into Go `int`s, which
//! refuse `1.0`, so validation also checks that every count is an integer literal.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `result` of a TEST_OUTPUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    Success,
    Failure,
    Warning,
    Skipped,
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Success,
        Outcome::Failure,
        Outcome::Warning,
        Outcome::Skipped,
        Outcome::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "SUCCESS",
            Outcome::Failure => "FAILURE",
            Outcome::Warning => "WARNING",
            Outcome::Skipped => "SKIPPED",
            Outcome::Error => "ERROR",
        }
    }

    /// ADR 30's order for aggregating results: ERROR > FAILURE > WARNING > SKIPPED > SUCCESS.
    pub fn severity(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Skipped => 1,
            Outcome::Warning => 2,
            Outcome::Failure => 3,
            Outcome::Error => 4,
        }
    }

    /// The result the counts call for: FAILURE if anything failed, else WARNING if anything
    /// warned, else SUCCESS. ERROR and SKIPPED are never derived from counts.
    pub fn from_counts(failures: u64, warnings: u64) -> Outcome {
        if failures > 0 {
            Outcome::Failure
        } else if warnings > 0 {
            Outcome::Warning
        } else {
            Outcome::Success
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = String;

    /// Case-insensitive, as users type `success` as often as `SUCCESS`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|outcome| outcome.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!("unknown result {text:?}: expected one of SUCCESS, FAILURE, WARNING, SKIPPED, ERROR")
            })
    }
}

/// The TEST_OUTPUT object. Field order is the order konflux-test's `make_result_json` writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestOutput {
    pub result: Outcome,
    pub timestamp: String,
    pub note: String,
    pub namespace: String,
    pub successes: u64,
    pub failures: u64,
    pub warnings: u64,
}

/// Vulnerability counts per severity; all five keys are always written, as clair-scan does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub unknown: u64,
}

impl SeverityCounts {
    /// Adds `other`, saturating: a sum past [`MAX_COUNT`] is refused where it is written.
    pub fn add(&mut self, other: &SeverityCounts) {
        for (mine, theirs) in self.slots_mut().into_iter().zip(other.slots()) {
            *mine = mine.saturating_add(theirs);
        }
    }

    /// All severities together, saturating.
    pub fn total(&self) -> u64 {
        self.slots().into_iter().fold(0, u64::saturating_add)
    }

    /// `(name, count)` of each severity, for messages.
    pub fn named(&self) -> [(&'static str, u64); 5] {
        let [critical, high, medium, low, unknown] = self.slots();
        [
            ("critical", critical),
            ("high", high),
            ("medium", medium),
            ("low", low),
            ("unknown", unknown),
        ]
    }

    fn slots(&self) -> [u64; 5] {
        [
            self.critical,
            self.high,
            self.medium,
            self.low,
            self.unknown,
        ]
    }

    fn slots_mut(&mut self) -> [&mut u64; 5] {
        [
            &mut self.critical,
            &mut self.high,
            &mut self.medium,
            &mut self.low,
            &mut self.unknown,
        ]
    }
}

/// The SCAN_OUTPUT object (ADR 30).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanOutput {
    pub vulnerabilities: SeverityCounts,
    pub unpatched_vulnerabilities: SeverityCounts,
}

impl ScanOutput {
    pub fn add(&mut self, other: &ScanOutput) {
        self.vulnerabilities.add(&other.vulnerabilities);
        self.unpatched_vulnerabilities
            .add(&other.unpatched_vulnerabilities);
    }

    /// What is wrong with the counts, if any is past [`MAX_COUNT`].
    pub fn count_problems(&self) -> Vec<String> {
        [
            ("vulnerabilities", &self.vulnerabilities),
            ("unpatched_vulnerabilities", &self.unpatched_vulnerabilities),
        ]
        .into_iter()
        .flat_map(|(group, counts)| {
            counts
                .named()
                .into_iter()
                .filter_map(move |(name, count)| count_problem(&format!("{group}.{name}"), count))
        })
        .collect()
    }
}

/// The CLAIR_SCAN_RESULT object (ADR 13), which ADR 30's SCAN_OUTPUT superseded: the four
/// severities of `vulnerabilities`, for consumers that still read the old name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClairScanResult {
    pub vulnerabilities: LegacySeverityCounts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacySeverityCounts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
}

impl From<&ScanOutput> for ClairScanResult {
    fn from(scan: &ScanOutput) -> Self {
        let counts = &scan.vulnerabilities;
        ClairScanResult {
            vulnerabilities: LegacySeverityCounts {
                critical: counts.critical,
                high: counts.high,
                medium: counts.medium,
                low: counts.low,
            },
        }
    }
}

/// The IMAGES_PROCESSED object (ADR 30): which image, and which of its digests, a task looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagesProcessed {
    pub image: ProcessedImage,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessedImage {
    pub pullspec: String,
    pub digests: Vec<String>,
}

/// Compact JSON, the form every producer and consumer of these results uses.
pub fn to_compact_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("result models always serialize")
}

/// Which result a document claims to be, for validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    TestOutput,
    ScanOutput,
    ImagesProcessed,
    /// ADR 13's scanner result, `{"vulnerabilities":{"critical","high","medium","low"}}`.
    ClairScanResult,
    /// ADR 13's `<test_name>_output.json`: conftest's JSON output, an array of check results.
    ConftestDetail,
}

impl FromStr for Document {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "test-output" => Ok(Document::TestOutput),
            "scan-output" => Ok(Document::ScanOutput),
            "images-processed" => Ok(Document::ImagesProcessed),
            "clair-scan-result" => Ok(Document::ClairScanResult),
            "conftest-detail" => Ok(Document::ConftestDetail),
            _ => Err(format!(
                "unknown document {text:?}: expected test-output, scan-output, images-processed, \
                 clair-scan-result or conftest-detail"
            )),
        }
    }
}

impl Document {
    /// The document a file's name says it is: the result names (TEST_OUTPUT, HACBS_TEST_OUTPUT,
    /// SCAN_OUTPUT, CLAIR_SCAN_RESULT, IMAGES_PROCESSED) and ADR 13's `*_output.json`.
    pub fn for_file_name(name: &str) -> Option<Document> {
        match name {
            "TEST_OUTPUT" | "HACBS_TEST_OUTPUT" => Some(Document::TestOutput),
            "SCAN_OUTPUT" => Some(Document::ScanOutput),
            "CLAIR_SCAN_RESULT" => Some(Document::ClairScanResult),
            "IMAGES_PROCESSED" => Some(Document::ImagesProcessed),
            _ if name.ends_with("_output.json") => Some(Document::ConftestDetail),
            _ => None,
        }
    }

    fn validator(self) -> &'static jsonschema::Validator {
        static TEST_OUTPUT: LazyLock<jsonschema::Validator> =
            LazyLock::new(|| compile(include_str!("schema/test_output.json")));
        static SCAN_OUTPUT: LazyLock<jsonschema::Validator> =
            LazyLock::new(|| compile(include_str!("schema/scan_output.json")));
        static IMAGES_PROCESSED: LazyLock<jsonschema::Validator> =
            LazyLock::new(|| compile(include_str!("schema/images_processed.json")));
        static CLAIR_SCAN_RESULT: LazyLock<jsonschema::Validator> =
            LazyLock::new(|| compile(include_str!("schema/clair_scan_result.json")));
        static CONFTEST_DETAIL: LazyLock<jsonschema::Validator> =
            LazyLock::new(|| compile(include_str!("schema/conftest_detail.json")));
        match self {
            Document::TestOutput => &TEST_OUTPUT,
            Document::ScanOutput => &SCAN_OUTPUT,
            Document::ImagesProcessed => &IMAGES_PROCESSED,
            Document::ClairScanResult => &CLAIR_SCAN_RESULT,
            Document::ConftestDetail => &CONFTEST_DETAIL,
        }
    }
}

fn compile(schema: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(schema).expect("embedded schema is JSON");
    jsonschema::draft202012::new(&schema).expect("embedded schema compiles")
}

/// One thing wrong with a document, at a JSONPath (`$.successes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem with `text` as a `document`: JSON syntax, schema violations, and counts that are
/// not integer literals. An empty list means consumers will accept it.
pub fn validate(document: Document, text: &str) -> Vec<Problem> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(err) => {
            return vec![Problem {
                path: "$".into(),
                message: format!("not valid JSON: {err}"),
            }]
        }
    };
    validate_value(document, &value)
}

/// As [`validate`], for an already parsed document.
pub fn validate_value(document: Document, value: &Value) -> Vec<Problem> {
    let mut problems: Vec<Problem> = document
        .validator()
        .iter_errors(value)
        .map(|err| Problem {
            path: json_path(err.instance_path().as_str()),
            message: err.to_string(),
        })
        .collect();
    collect_non_integer_counts(document, value, "$", &mut problems);
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    problems
}

/// The largest count Konflux reads: integration-service decodes counts as Go `int` (64 bits).
pub const MAX_COUNT: u64 = i64::MAX as u64;

/// What is wrong with a count of `name`, if anything, for messages: past [`MAX_COUNT`].
pub fn count_problem(name: &str, count: u64) -> Option<String> {
    (count > MAX_COUNT).then(|| {
        format!(
            "{name} is {count}, past the largest count Konflux reads ({MAX_COUNT}: integration-service decodes counts as Go int64)"
        )
    })
}

/// 2020-12 counts `1.0` as an integer, but Go's `encoding/json` refuses to decode it into an
/// `int`, so integration-service would reject the result; nor does a count past the int64
/// range decode.
fn collect_non_integer_counts(
    document: Document,
    value: &Value,
    path: &str,
    out: &mut Vec<Problem>,
) {
    let count_keys: &[&str] = match document {
        Document::TestOutput => &["successes", "failures", "warnings"],
        Document::ScanOutput | Document::ClairScanResult => {
            &["critical", "high", "medium", "low", "unknown"]
        }
        Document::ImagesProcessed => &[],
        Document::ConftestDetail => &["successes"],
    };
    if let (Document::ConftestDetail, Value::Array(entries)) = (document, value) {
        for (index, entry) in entries.iter().enumerate() {
            collect_non_integer_counts(document, entry, &format!("{path}[{index}]"), out);
        }
        return;
    }
    let Value::Object(map) = value else { return };
    for (key, child) in map {
        let child_path = format!("{path}.{key}");
        match child {
            Value::Number(n) if count_keys.contains(&key.as_str()) => {
                let message = match n.as_u64() {
                    Some(count) => count_problem(key, count),
                    // Past u64, serde_json reads an integer literal as a float.
                    None if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f >= 9.2e18) => {
                        Some(format!(
                            "{key} is {n}, past the largest count Konflux reads ({MAX_COUNT}: integration-service decodes counts as Go int64)"
                        ))
                    }
                    None if n.is_f64() => Some(format!(
                        "{n} is not an integer literal; integration-service decodes counts as Go ints and rejects it"
                    )),
                    None => None,
                };
                if let Some(message) = message {
                    out.push(Problem {
                        path: child_path,
                        message,
                    });
                }
            }
            Value::Object(_)
                if matches!(document, Document::ScanOutput | Document::ClairScanResult) =>
            {
                collect_non_integer_counts(document, child, &child_path, out)
            }
            _ => {}
        }
    }
}

/// Things that are valid but that Konflux consumers will judge differently from what the
/// `result` says: Conforma treats `failures > 0` as a failed test whatever `result` claims.
pub fn consistency_warnings(value: &Value) -> Vec<Problem> {
    let count = |key: &str| value.get(key).and_then(Value::as_u64).unwrap_or(0);
    let Some(result) = value
        .get("result")
        .and_then(Value::as_str)
        .and_then(|r| r.parse::<Outcome>().ok())
    else {
        return Vec::new();
    };
    let (failures, warnings) = (count("failures"), count("warnings"));
    let mut out = Vec::new();
    if failures > 0 && matches!(result, Outcome::Success | Outcome::Warning) {
        out.push(Problem {
            path: "$.failures".into(),
            message: format!(
                "result is {result} but failures is {failures}: Conforma's test.no_failed_tests denies it as a failed test"
            ),
        });
    }
    if warnings > 0 && result == Outcome::Success {
        out.push(Problem {
            path: "$.warnings".into(),
            message: format!(
                "result is SUCCESS but warnings is {warnings}: Conforma's test.no_test_warnings warns about it"
            ),
        });
    }
    out
}

/// Turns a JSON Pointer (`/a/0/b c`) into the JSONPath users read (`$.a[0]['b c']`).
fn json_path(pointer: &str) -> String {
    let mut path = String::from("$");
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else if !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            path.push('.');
            path.push_str(&segment);
        } else {
            path.push_str(&format!("['{}']", segment.replace('\'', "\\'")));
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TestOutput {
        TestOutput {
            result: Outcome::Success,
            timestamp: "2026-01-01T00:00:00+00:00".into(),
            note: "For details, check Tekton task log.".into(),
            namespace: "default".into(),
            successes: 3,
            failures: 0,
            warnings: 0,
        }
    }

    #[test]
    fn serializes_compactly_in_make_result_json_key_order() {
        assert_eq!(
            to_compact_json(&sample()),
            r#"{"result":"SUCCESS","timestamp":"2026-01-01T00:00:00+00:00","note":"For details, check Tekton task log.","namespace":"default","successes":3,"failures":0,"warnings":0}"#
        );
    }

    #[test]
    fn our_own_output_is_valid() {
        assert_eq!(
            validate(Document::TestOutput, &to_compact_json(&sample())),
            vec![]
        );
        let scan = ScanOutput::default();
        assert_eq!(
            validate(Document::ScanOutput, &to_compact_json(&scan)),
            vec![]
        );
    }

    #[test]
    fn outcome_parsing_is_case_insensitive_and_names_the_choices() {
        assert_eq!("success".parse::<Outcome>(), Ok(Outcome::Success));
        assert_eq!("Skipped".parse::<Outcome>(), Ok(Outcome::Skipped));
        let err = "PASSED".parse::<Outcome>().unwrap_err();
        assert!(err.contains("PASSED") && err.contains("WARNING"), "{err}");
    }

    #[test]
    fn severity_follows_adr_30() {
        let mut all = Outcome::ALL.to_vec();
        all.sort_by_key(|o| o.severity());
        assert_eq!(
            all,
            [
                Outcome::Success,
                Outcome::Skipped,
                Outcome::Warning,
                Outcome::Failure,
                Outcome::Error
            ]
        );
    }

    #[test]
    fn derives_the_result_from_counts() {
        assert_eq!(Outcome::from_counts(0, 0), Outcome::Success);
        assert_eq!(Outcome::from_counts(0, 2), Outcome::Warning);
        assert_eq!(Outcome::from_counts(1, 2), Outcome::Failure);
    }

    #[test]
    fn lists_every_problem_with_its_path() {
        let text =
            r#"{"result":"PASSED","timestamp":1649843611,"successes":-1,"failures":1.5,"note":3}"#;
        let problems = validate(Document::TestOutput, text);
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for want in [
            "$",
            "$.failures",
            "$.note",
            "$.result",
            "$.successes",
            "$.timestamp",
        ] {
            assert!(paths.contains(&want), "{want} missing from {problems:?}");
        }
        assert!(
            problems
                .iter()
                .any(|p| p.path == "$" && p.message.contains("warnings")),
            "missing `warnings` is reported: {problems:?}"
        );
    }

    #[test]
    fn a_float_count_is_refused_although_the_schema_accepts_it() {
        let text = r#"{"result":"SUCCESS","timestamp":"1649843611","successes":1.0,"failures":0,"warnings":0}"#;
        let problems = validate(Document::TestOutput, text);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "$.successes");
        assert!(problems[0].message.contains("integer literal"));
    }

    #[test]
    fn not_json_is_one_problem_at_the_root() {
        let problems = validate(Document::TestOutput, "{\"result\":");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "$");
        assert!(problems[0].message.starts_with("not valid JSON"));
    }

    #[test]
    fn scan_output_counts_are_checked_at_depth() {
        let text = r#"{"vulnerabilities":{"critical":1.0,"high":0,"medium":0,"low":0},"unpatched_vulnerabilities":{"critical":0,"high":"2","medium":0,"low":0}}"#;
        let problems = validate(Document::ScanOutput, text);
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert!(
            paths.contains(&"$.vulnerabilities.critical"),
            "{problems:?}"
        );
        assert!(
            paths.contains(&"$.unpatched_vulnerabilities.high"),
            "{problems:?}"
        );
    }

    #[test]
    fn consistency_warnings_name_the_conforma_rule() {
        let value: Value = serde_json::from_str(
            r#"{"result":"SUCCESS","timestamp":"1649843611","successes":1,"failures":2,"warnings":1}"#,
        )
        .unwrap();
        let warnings = consistency_warnings(&value);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].message.contains("no_failed_tests"));
    }

    #[test]
    fn json_pointer_becomes_json_path() {
        assert_eq!(json_path(""), "$");
        assert_eq!(json_path("/a/0/b"), "$.a[0].b");
        assert_eq!(json_path("/odd key/x~1y"), "$['odd key']['x/y']");
    }
}
