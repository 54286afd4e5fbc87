//! Summaries of tool outputs for `result emit --from KIND FILE`: conftest JSON, SARIF 2.1.0,
//! JUnit XML, clair reports and TEST_OUTPUT objects (`ec test -o appstudio`) become the counts,
//! result and note a TEST_OUTPUT needs.
//!
//! Each format has one file and one `summarize_*` function in it; this file holds what they
//! share (the reading helpers, the note's name list). They only read: deciding the final result
//! (the `--on-empty` choice, the derivation rule, consistency checks) belongs to the command. An input
//! that cannot be used gives an `Err` with the reason written for a person (what was expected,
//! what was found, and where: `entry 2`, `object 1`, `runs[0].results[3]`); the caller prefixes
//! the kind and file name. Entries and objects are numbered from 0, as `jq '.[2]'` does.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::test_output::{Outcome, ScanOutput, SeverityCounts};
use crate::core::plural::counted;
use crate::core::timestamp;

#[cfg(test)]
#[macro_use]
mod testing;

mod appstudio;
mod clair;
mod conftest;
mod junit;
mod sarif;

pub use conftest::{conftest_detail, DetailEntry, DetailItem};

/// At most this many names in a note; the rest become "and N more". Notes share Tekton's
/// 4096-byte result budget.
const MAX_NAMES_IN_NOTE: usize = 10;

/// The tool output formats `--from` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// `conftest test -o json`: an array of check results.
    Conftest,
    /// A SARIF 2.1.0 log (snyk, coverity, csgrep, `conftest -o sarif`).
    Sarif,
    /// A JUnit XML report.
    Junit,
    /// A quay-format clair report, or the conftest output of konflux-test's clair policy.
    Clair,
    /// TEST_OUTPUT objects, as `ec test -o appstudio` or another task writes them.
    Appstudio,
}

impl InputKind {
    pub const ALL: [InputKind; 5] = [
        InputKind::Conftest,
        InputKind::Sarif,
        InputKind::Junit,
        InputKind::Clair,
        InputKind::Appstudio,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Conftest => "conftest",
            InputKind::Sarif => "sarif",
            InputKind::Junit => "junit",
            InputKind::Clair => "clair",
            InputKind::Appstudio => "appstudio",
        }
    }
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InputKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        InputKind::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown input kind {text:?}: expected one of conftest, sarif, junit, clair, appstudio"
                )
            })
    }
}

/// How SARIF results are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SarifMode {
    /// Every result that is not a pass is a failure, whatever its level, as konflux-test's
    /// `parse_test_output` does on snyk and coverity files.
    #[default]
    Konflux,
    /// `error` is a failure, `warning` and `note` are warnings, suppressed results are ignored.
    Levels,
}

impl SarifMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SarifMode::Konflux => "konflux",
            SarifMode::Levels => "levels",
        }
    }
}

impl fmt::Display for SarifMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SarifMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [SarifMode::Konflux, SarifMode::Levels]
            .into_iter()
            .find(|mode| mode.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| format!("unknown SARIF mode {text:?}: expected konflux or levels"))
    }
}

/// What one input says, in TEST_OUTPUT terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub successes: u64,
    pub failures: u64,
    pub warnings: u64,
    /// Checks the input reports as skipped (JUnit `<skipped>`, SARIF `notApplicable`).
    pub skipped: u64,
    /// The input held no checks at all (`[]`, a JUnit file without test cases, SARIF without
    /// runs); the command applies `--on-empty`.
    pub empty: bool,
    /// A result the input states itself: appstudio's `result`, and SUCCESS for clair scans.
    pub result: Option<Outcome>,
    /// What failed or warned, short enough for a TEST_OUTPUT note; `None` when there is nothing
    /// to say.
    pub note: Option<String>,
    pub namespace: Option<String>,
    /// Appstudio only: the latest timestamp of the input objects.
    pub timestamp: Option<OffsetDateTime>,
    /// Clair only: the SCAN_OUTPUT counts.
    pub scan: Option<ScanOutput>,
}

/// Reads `input` as a `kind` file.
pub fn summarize(kind: InputKind, input: &[u8], sarif_mode: SarifMode) -> Result<Summary, String> {
    match kind {
        InputKind::Conftest => conftest::summarize_conftest(input),
        InputKind::Sarif => sarif::summarize_sarif(input, sarif_mode),
        InputKind::Junit => junit::summarize_junit(input),
        InputKind::Clair => clair::summarize_clair(input),
        InputKind::Appstudio => appstudio::summarize_appstudio(input),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

const EMPTY_FILE: &str = "the file is empty";

/// Editors on Windows put a byte-order mark in front of JSON and XML; parsers refuse it.
fn strip_bom(input: &[u8]) -> &[u8] {
    input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input)
}

fn parse_json(input: &[u8]) -> Result<Value, String> {
    let input = strip_bom(input);
    if input.iter().all(u8::is_ascii_whitespace) {
        return Err(EMPTY_FILE.to_string());
    }
    serde_json::from_slice(input).map_err(|err| format!("not valid JSON: {err}"))
}

/// What a JSON value is, for messages: "a string", "a negative number (-1)", "null".
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(_) => "a boolean".to_string(),
        Value::Number(number) if number.is_u64() => "a number".to_string(),
        Value::Number(number) if number.is_i64() => format!("a negative number ({number})"),
        Value::Number(number) => format!("a decimal number ({number})"),
        Value::String(_) => "a string".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

fn len_u64<T>(items: &[T]) -> u64 {
    u64::try_from(items.len()).unwrap_or(u64::MAX)
}

/// The first `max` characters of `text`, with `…` when it was longer.
fn shorten(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Where a value sits in the input: a root (`entry 2`, `object 1`) and a path inside it
/// (`failures[0].metadata`), shown as `entry 2: failures[0].metadata`.
#[derive(Debug, Clone, Default)]
struct Place {
    root: String,
    path: String,
}

impl Place {
    fn root(root: String) -> Place {
        Place {
            root,
            path: String::new(),
        }
    }

    fn path(path: String) -> Place {
        Place {
            root: String::new(),
            path,
        }
    }

    fn key(&self, key: &str) -> Place {
        let path = if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        };
        Place {
            root: self.root.clone(),
            path,
        }
    }

    fn index(&self, key: &str, index: usize) -> Place {
        let mut place = self.key(key);
        place.path.push_str(&format!("[{index}]"));
        place
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.root.is_empty(), self.path.is_empty()) {
            (false, false) => write!(f, "{}: {}", self.root, self.path),
            (false, true) => f.write_str(&self.root),
            (true, _) => f.write_str(&self.path),
        }
    }
}

/// A JSON object and its place in the input, so that every complaint says where it is. Fields
/// are read one at a time with serde into their Rust types (`u64` counts refuse strings,
/// negatives and decimals).
struct Fields<'a> {
    map: &'a Map<String, Value>,
    at: Place,
}

impl<'a> Fields<'a> {
    fn of(value: &'a Value, at: Place) -> Result<Fields<'a>, String> {
        match value {
            Value::Object(map) => Ok(Fields { map, at }),
            other => Err(format!("{at}: expected an object, got {}", describe(other))),
        }
    }

    /// The value under `key`; `null` reads as absent, as Go writes nil slices and pointers.
    fn present(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    fn prefix(&self) -> String {
        let at = self.at.to_string();
        if at.is_empty() {
            at
        } else {
            format!("{at}: ")
        }
    }

    fn wrong_type(&self, key: &str, expected: &str, found: &Value) -> String {
        format!(
            "{}{key:?} must be {expected}, got {}",
            self.prefix(),
            describe(found)
        )
    }

    fn typed<T: DeserializeOwned>(&self, key: &str, expected: &str) -> Result<Option<T>, String> {
        match self.present(key) {
            None => Ok(None),
            Some(value) => T::deserialize(value)
                .map(Some)
                .map_err(|_| self.wrong_type(key, expected, value)),
        }
    }

    /// An enumerated string; a value outside `choices` is named in the message.
    fn one_of<T: DeserializeOwned>(&self, key: &str, choices: &str) -> Result<Option<T>, String> {
        match self.present(key) {
            Some(value @ Value::String(text)) => T::deserialize(value).map(Some).map_err(|_| {
                format!(
                    "{}{key:?} must be one of {choices}, got {text:?}",
                    self.prefix()
                )
            }),
            _ => self.typed(key, &format!("one of {choices}")),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, String> {
        self.typed(key, "a string")
    }

    /// A count: absent is 0, anything but a non-negative integer (`null` included) is an error.
    fn count(&self, key: &str) -> Result<u64, String> {
        match self.map.get(key) {
            None => Ok(0),
            Some(value) => {
                u64::deserialize(value).map_err(|_| self.wrong_type(key, "an integer", value))
            }
        }
    }

    fn object(&self, key: &str) -> Result<Option<Fields<'a>>, String> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields {
                map,
                at: self.at.key(key),
            })),
            Some(other) => Err(self.wrong_type(key, "an object", other)),
        }
    }

    /// An array of objects; absent or `null` is an empty list.
    fn objects(&self, key: &str) -> Result<Vec<Fields<'a>>, String> {
        match self.present(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| Fields::of(item, self.at.index(key, index)))
                .collect(),
            Some(other) => Err(self.wrong_type(key, "an array", other)),
        }
    }
}

/// Names for a note, each once, in the order first seen.
#[derive(Default)]
struct Names {
    names: Vec<String>,
    seen: HashSet<String>,
}

impl Names {
    fn add(&mut self, name: &str) {
        if self.seen.insert(name.to_string()) {
            self.names.push(name.to_string());
        }
    }

    fn extend<'n>(&mut self, names: impl IntoIterator<Item = &'n str>) {
        for name in names {
            self.add(name);
        }
    }

    /// `label: a, b, c`, at most [`MAX_NAMES_IN_NOTE`] names and then `and N more`; `None`
    /// when there are no names.
    fn labelled(&self, label: &str) -> Option<String> {
        if self.names.is_empty() {
            return None;
        }
        let shown = self.names[..self.names.len().min(MAX_NAMES_IN_NOTE)].join(", ");
        let hidden = self.names.len().saturating_sub(MAX_NAMES_IN_NOTE);
        Some(if hidden > 0 {
            format!("{label}: {shown} and {hidden} more")
        } else {
            format!("{label}: {shown}")
        })
    }
}

/// The parts that have something to say, joined by `; `; `None` when none has.
fn join_note(parts: impl IntoIterator<Item = Option<String>>) -> Option<String> {
    let parts: Vec<String> = parts.into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::result::test_output::{validate, Document};

    #[test]
    fn input_kinds_and_sarif_modes_parse_their_names() {
        for kind in InputKind::ALL {
            assert_eq!(kind.as_str().parse::<InputKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!("JUnit".parse::<InputKind>(), Ok(InputKind::Junit));
        let err = "xml".parse::<InputKind>().unwrap_err();
        assert!(
            err.contains("\"xml\"") && err.contains("conftest, sarif, junit, clair, appstudio"),
            "{err}"
        );

        assert_eq!(SarifMode::default(), SarifMode::Konflux);
        assert_eq!("levels".parse::<SarifMode>(), Ok(SarifMode::Levels));
        assert_eq!("konflux".parse::<SarifMode>(), Ok(SarifMode::Konflux));
        assert_eq!(SarifMode::Levels.to_string(), "levels");
        let err = "strict".parse::<SarifMode>().unwrap_err();
        assert!(err.contains("konflux or levels"), "{err}");
    }

    // --- conftest ----------------------------------------------------------------------------

    #[test]
    fn broken_inputs_say_what_is_wrong() {
        assert_eq!(
            refusal(InputKind::Conftest, fixture!("broken/empty.json")),
            "the file is empty"
        );
        assert_eq!(
            refusal(InputKind::Conftest, fixture!("broken/truncated.json")),
            "not valid JSON: EOF while parsing a string at line 8 column 42"
        );
        assert_eq!(
            refusal(
                InputKind::Conftest,
                fixture!("broken/object-not-array.json")
            ),
            "expected a JSON array of conftest results, got an object"
        );
        assert_eq!(
            refusal(
                InputKind::Conftest,
                fixture!("broken/successes-string.json")
            ),
            "entry 0: \"successes\" must be an integer, got a string"
        );
        assert_eq!(
            refusal(InputKind::Sarif, fixture!("broken/sarif-without-runs.json")),
            "not a SARIF log: the object has no \"runs\""
        );
        assert_eq!(
            refusal(InputKind::Junit, fixture!("broken/html-not-junit.xml")),
            "not a JUnit report: the root element is <html>, expected <testsuites> or <testsuite>"
        );
        assert_eq!(
            refusal(
                InputKind::Appstudio,
                fixture!("broken/appstudio-string-count.json")
            ),
            "object 1: \"failures\" must be an integer, got a string"
        );
        for kind in InputKind::ALL {
            assert_eq!(
                refusal(kind, fixture!("broken/empty.json")),
                "the file is empty",
                "{kind}"
            );
            assert_eq!(refusal(kind, b" \n\t\n"), "the file is empty", "{kind}");
        }
    }

    #[test]
    fn huge_counts_saturate_instead_of_overflowing() {
        let max = u64::MAX;
        let summary =
            conftest(format!(r#"[{{"successes": {max}}}, {{"successes": 1}}]"#).as_bytes());
        assert_eq!(summary.successes, max);
        let summary = appstudio(
            format!(r#"{{"result": "SUCCESS", "failures": {max}}} {{"result": "FAILURE", "failures": 2}}"#)
                .as_bytes(),
        );
        assert_eq!(summary.failures, max);
        let warning = |n: u64| {
            format!(
                r#"{{"msg": "m", "metadata": {{"details": {{"name": "clair_high_vulnerabilities"}}, "vulnerabilities_number": {n}}}}}"#
            )
        };
        let input = format!(r#"[{{"warnings": [{}, {}]}}]"#, warning(max), warning(1));
        assert_eq!(
            clair(input.as_bytes())
                .scan
                .map(|scan| scan.vulnerabilities.high),
            Some(max)
        );
    }

    #[test]
    fn validity_fixtures_are_judged_as_their_names_say() {
        let valid: [&[u8]; 6] = [
            fixture!("validate/valid-epoch.json"),
            fixture!("validate/valid-offset.json"),
            fixture!("validate/valid-zulu.json"),
            fixture!("validate/valid-fractional-zulu.json"),
            fixture!("validate/valid-no-timezone.json"),
            fixture!("validate/valid-extra-keys.json"),
        ];
        for input in valid {
            let text = std::str::from_utf8(input).expect("UTF-8");
            assert_eq!(validate(Document::TestOutput, text), vec![], "{text}");
            // Every valid TEST_OUTPUT also reads as an appstudio input.
            assert_eq!(appstudio(input).result, Some(Outcome::Success));
        }
        let invalid: [(&[u8], &str); 7] = [
            (fixture!("validate/invalid-float-count.json"), "$.successes"),
            (fixture!("validate/invalid-string-count.json"), "$.failures"),
            (fixture!("validate/invalid-missing-warnings.json"), "$"),
            (
                fixture!("validate/invalid-lowercase-result.json"),
                "$.result",
            ),
            (
                fixture!("validate/invalid-numeric-timestamp.json"),
                "$.timestamp",
            ),
            (
                fixture!("validate/invalid-space-separator.json"),
                "$.timestamp",
            ),
            (fixture!("validate/invalid-null-count.json"), "$.warnings"),
        ];
        for (input, path) in invalid {
            let text = std::str::from_utf8(input).expect("UTF-8");
            let problems = validate(Document::TestOutput, text);
            let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
            assert_eq!(paths, [path], "{text}: {problems:?}");
        }
    }
}
