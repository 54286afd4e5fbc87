//! Summaries of tool outputs for `result emit --from KIND FILE`: conftest JSON, SARIF 2.1.0,
//! JUnit XML, clair reports and TEST_OUTPUT objects (`ec test -o appstudio`) become the counts,
//! result and note a TEST_OUTPUT needs.
//!
//! Each format has one `summarize_*` function. They only read: deciding the final result (the
//! `--on-empty` choice, the derivation rule, consistency checks) belongs to the command. An input
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
        InputKind::Conftest => summarize_conftest(input),
        InputKind::Sarif => summarize_sarif(input, sarif_mode),
        InputKind::Junit => summarize_junit(input),
        InputKind::Clair => summarize_clair(input),
        InputKind::Appstudio => summarize_appstudio(input),
    }
}

// ---------------------------------------------------------------------------------------------
// conftest

/// One `CheckResult` of `conftest test -o json`: one input file checked against one namespace.
/// The lists are omitted by conftest when empty (`omitempty`).
struct CheckResult<'a> {
    namespace: String,
    successes: u64,
    failures: Vec<CheckItem<'a>>,
    warnings: Vec<CheckItem<'a>>,
    exceptions: Vec<CheckItem<'a>>,
    skipped: Vec<CheckItem<'a>>,
}

/// One failure, warning, exception or skip: a `msg` and the rule's other keys in `metadata`.
struct CheckItem<'a> {
    at: Place,
    msg: String,
    metadata: Option<Fields<'a>>,
}

impl CheckItem<'_> {
    /// The rule's `details.name` as Konflux policies set it, else its message.
    fn rule_name(&self) -> &str {
        let details_name = self
            .metadata
            .as_ref()
            .and_then(|metadata| metadata.map.get("details"))
            .and_then(|details| details.get("name"))
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty());
        details_name.unwrap_or(&self.msg)
    }
}

fn summarize_conftest(input: &[u8]) -> Result<Summary, String> {
    let value = parse_json(input)?;
    let entries = conftest_entries(&value)?;
    let mut summary = Summary::default();
    let (mut failed, mut warned, mut excepted, mut skipped) = (
        Names::default(),
        Names::default(),
        Names::default(),
        Names::default(),
    );
    for entry in &entries {
        // Summed as ec-cli does; konflux-test's parse_test_output drops warnings and refuses
        // more than one entry, which hides multi-arch and multi-namespace results.
        summary.successes = summary.successes.saturating_add(entry.successes);
        summary.failures += len_u64(&entry.failures);
        summary.warnings += len_u64(&entry.warnings);
        failed.extend(entry.failures.iter().map(CheckItem::rule_name));
        warned.extend(entry.warnings.iter().map(CheckItem::rule_name));
        excepted.extend(entry.exceptions.iter().map(CheckItem::rule_name));
        skipped.extend(entry.skipped.iter().map(CheckItem::rule_name));
    }
    summary.empty = summary.successes == 0 && summary.failures == 0 && summary.warnings == 0;
    summary.namespace = shared_namespace(&entries);
    summary.note = join_note([
        failed.labelled("failed"),
        warned.labelled("warned"),
        excepted.labelled("excepted"),
        skipped.labelled("skipped"),
    ]);
    Ok(summary)
}

/// One check result of ADR 13's detail file (`<test_name>_output.json`), keys in conftest's
/// order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetailEntry {
    pub filename: Value,
    pub namespace: Value,
    pub successes: Value,
    pub failures: Vec<DetailItem>,
    pub warnings: Vec<DetailItem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<DetailItem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<DetailItem>,
}

/// One failure, warning, exception or skip, as conftest wrote it (`msg` first).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetailItem {
    pub msg: Value,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// The check results of `conftest test -o json` in the form ADR 13's detail file takes: every
/// entry with `filename`, `namespace`, `successes`, `failures` and `warnings` (empty lists too,
/// which conftest leaves out), `exceptions` and `skipped` when there are any, and each item
/// (`msg`, `metadata.details`, `loc`, ...) as conftest wrote it. The input is checked as
/// [`summarize`] checks it.
pub fn conftest_detail(input: &[u8]) -> Result<Vec<DetailEntry>, String> {
    let value = parse_json(input)?;
    conftest_entries(&value)?;
    let Value::Array(entries) = value else {
        unreachable!("conftest_entries accepts arrays only")
    };
    let items = |entry: &Value, key: &str| -> Vec<DetailItem> {
        entry
            .get(key)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_object)
                    .map(|item| {
                        let mut rest = item.clone();
                        let msg = rest.remove("msg").unwrap_or(Value::from(""));
                        DetailItem { msg, rest }
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(entries
        .iter()
        .map(|entry| {
            let field = |key: &str, default: Value| {
                entry
                    .get(key)
                    .filter(|value| !value.is_null())
                    .cloned()
                    .unwrap_or(default)
            };
            DetailEntry {
                filename: field("filename", Value::from("")),
                namespace: field("namespace", Value::from("")),
                successes: field("successes", Value::from(0)),
                failures: items(entry, "failures"),
                warnings: items(entry, "warnings"),
                exceptions: items(entry, "exceptions"),
                skipped: items(entry, "skipped"),
            }
        })
        .collect())
}

fn conftest_entries(value: &Value) -> Result<Vec<CheckResult<'_>>, String> {
    let Value::Array(entries) = value else {
        return Err(format!(
            "expected a JSON array of conftest results, got {}",
            describe(value)
        ));
    };
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            check_result(Fields::of(entry, Place::root(format!("entry {index}")))?)
        })
        .collect()
}

fn check_result(fields: Fields<'_>) -> Result<CheckResult<'_>, String> {
    Ok(CheckResult {
        namespace: fields.string("namespace")?.unwrap_or_default(),
        successes: fields.count("successes")?,
        failures: check_items(&fields, "failures")?,
        warnings: check_items(&fields, "warnings")?,
        exceptions: check_items(&fields, "exceptions")?,
        skipped: check_items(&fields, "skipped")?,
    })
}

fn check_items<'a>(entry: &Fields<'a>, key: &str) -> Result<Vec<CheckItem<'a>>, String> {
    entry
        .objects(key)?
        .into_iter()
        .map(|item| {
            Ok(CheckItem {
                msg: item.string("msg")?.unwrap_or_default(),
                metadata: item.object("metadata")?,
                at: item.at,
            })
        })
        .collect()
}

/// The namespace all entries share; when they differ, the sorted unique names joined by `,`
/// (only integration-service displays it, so a list is harmless and tells more than ec-cli's
/// first name).
fn shared_namespace(entries: &[CheckResult<'_>]) -> Option<String> {
    let mut names: Vec<&str> = entries
        .iter()
        .map(|entry| entry.namespace.as_str())
        .filter(|name| !name.is_empty())
        .collect();
    names.sort_unstable();
    names.dedup();
    (!names.is_empty()).then(|| names.join(","))
}

// ---------------------------------------------------------------------------------------------
// SARIF

/// A result's level (SARIF 2.1.0 §3.27.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    None,
    Note,
    Warning,
    Error,
}

const LEVEL_CHOICES: &str = "none, note, warning, error";

/// A result's kind (SARIF 2.1.0 §3.27.9); absent means `fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Kind {
    Pass,
    Fail,
    NotApplicable,
    Informational,
    Review,
    Open,
}

const KIND_CHOICES: &str = "pass, fail, notApplicable, informational, review, open";

struct SarifRun {
    tool_name: String,
    rules: Vec<SarifRule>,
    results: Vec<SarifResult>,
}

struct SarifRule {
    id: Option<String>,
    default_level: Option<Level>,
}

struct SarifResult {
    rule_id: Option<String>,
    /// `-1` (SARIF's "unknown") and absence both read as `None`.
    rule_index: Option<usize>,
    level: Option<Level>,
    kind: Option<Kind>,
    suppressed: bool,
    message: String,
}

/// How one SARIF result counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Success,
    Skipped,
    Failure,
    Warning,
    Suppressed,
}

fn summarize_sarif(input: &[u8], mode: SarifMode) -> Result<Summary, String> {
    let value = parse_json(input)?;
    let Value::Object(log) = &value else {
        return Err(format!(
            "expected a SARIF log (a JSON object with \"runs\"), got {}",
            describe(&value)
        ));
    };
    let runs = match log.get("runs") {
        None | Some(Value::Null) => {
            return Err("not a SARIF log: the object has no \"runs\"".to_string())
        }
        Some(Value::Array(runs)) => runs,
        Some(other) => {
            return Err(format!(
                "\"runs\" must be an array, got {}",
                describe(other)
            ))
        }
    };
    let mut summary = Summary {
        // A run with `results: []` means the tool ran and found nothing; only no runs is empty.
        empty: runs.is_empty(),
        ..Summary::default()
    };
    let (mut failed, mut warned) = (Names::default(), Names::default());
    let mut suppressed = 0u64;
    for (index, run) in runs.iter().enumerate() {
        let run = sarif_run(Fields::of(run, Place::path(format!("runs[{index}]")))?)?;
        for result in &run.results {
            match verdict(&run, result, mode) {
                Verdict::Success => summary.successes += 1,
                Verdict::Skipped => summary.skipped += 1,
                Verdict::Failure => {
                    summary.failures += 1;
                    failed.add(&sarif_result_name(&run, result));
                }
                Verdict::Warning => {
                    summary.warnings += 1;
                    warned.add(&sarif_result_name(&run, result));
                }
                Verdict::Suppressed => suppressed += 1,
            }
        }
    }
    summary.note = join_note([
        failed.labelled("failed"),
        warned.labelled("warned"),
        (suppressed > 0).then(|| format!("{suppressed} suppressed")),
    ]);
    Ok(summary)
}

fn sarif_run(run: Fields<'_>) -> Result<SarifRun, String> {
    let driver = match run.object("tool")? {
        Some(tool) => tool.object("driver")?,
        None => None,
    };
    let (tool_name, rules) = match driver {
        Some(driver) => (
            driver.string("name")?.unwrap_or_default(),
            driver
                .objects("rules")?
                .into_iter()
                .map(sarif_rule)
                .collect::<Result<_, _>>()?,
        ),
        None => (String::new(), Vec::new()),
    };
    let results = run
        .objects("results")?
        .into_iter()
        .map(sarif_result)
        .collect::<Result<_, _>>()?;
    Ok(SarifRun {
        tool_name,
        rules,
        results,
    })
}

fn sarif_rule(rule: Fields<'_>) -> Result<SarifRule, String> {
    let default_level = match rule.object("defaultConfiguration")? {
        Some(configuration) => configuration.one_of("level", LEVEL_CHOICES)?,
        None => None,
    };
    Ok(SarifRule {
        id: rule.string("id")?,
        default_level,
    })
}

fn sarif_result(result: Fields<'_>) -> Result<SarifResult, String> {
    // `rule` (a reportingDescriptorReference) may carry the id and index instead.
    let rule = result.object("rule")?;
    let rule_id = match result.string("ruleId")? {
        Some(id) => Some(id),
        None => rule
            .as_ref()
            .map(|rule| rule.string("id"))
            .transpose()?
            .flatten(),
    };
    let rule_index = match result.typed::<i64>("ruleIndex", "an integer")? {
        Some(index) => Some(index),
        None => rule
            .as_ref()
            .map(|rule| rule.typed::<i64>("index", "an integer"))
            .transpose()?
            .flatten(),
    };
    let message = match result.object("message")? {
        Some(message) => message.string("text")?.unwrap_or_default(),
        None => String::new(),
    };
    Ok(SarifResult {
        rule_id,
        rule_index: rule_index.and_then(|index| usize::try_from(index).ok()),
        level: result.one_of("level", LEVEL_CHOICES)?,
        kind: result.one_of("kind", KIND_CHOICES)?,
        suppressed: is_suppressed(&result)?,
        message,
    })
}

/// A result is suppressed when it has suppressions and none of them is `underReview` or
/// `rejected` (SARIF 2.1.0 §3.35.3, as the SARIF SDK and GitLab read it).
fn is_suppressed(result: &Fields<'_>) -> Result<bool, String> {
    let suppressions = result.objects("suppressions")?;
    let mut statuses = Vec::with_capacity(suppressions.len());
    for suppression in &suppressions {
        statuses.push(suppression.string("status")?);
    }
    Ok(!statuses.is_empty()
        && statuses
            .iter()
            .all(|status| !matches!(status.as_deref(), Some("underReview" | "rejected"))))
}

/// The rule a result refers to: by `ruleIndex` first (SARIF §3.27.6), else by `ruleId`.
fn rule_of<'r>(run: &'r SarifRun, result: &SarifResult) -> Option<&'r SarifRule> {
    result
        .rule_index
        .and_then(|index| run.rules.get(index))
        .or_else(|| {
            let id = result.rule_id.as_deref()?;
            run.rules.iter().find(|rule| rule.id.as_deref() == Some(id))
        })
}

/// SARIF 2.1.0 §3.27.10: `none` for any kind but `fail`; else the result's level; else the
/// rule's default level; else `warning`.
fn effective_level(result: &SarifResult, rule: Option<&SarifRule>) -> Level {
    if result.kind.is_some_and(|kind| kind != Kind::Fail) {
        return Level::None;
    }
    result
        .level
        .or_else(|| rule.and_then(|rule| rule.default_level))
        .unwrap_or(Level::Warning)
}

fn verdict(run: &SarifRun, result: &SarifResult, mode: SarifMode) -> Verdict {
    let level = effective_level(result, rule_of(run, result));
    // `conftest -o sarif` reports a namespace with nothing to check as a `none` result of rule
    // `<namespace>/skip` (output/sarif.go); it is not a success.
    let conftest_skip = run.tool_name == "conftest"
        && result
            .rule_id
            .as_deref()
            .is_some_and(|id| id.ends_with("/skip"));
    if result.kind == Some(Kind::NotApplicable) || (level == Level::None && conftest_skip) {
        return Verdict::Skipped;
    }
    // Pass results and `none` levels are successes in both modes: conftest's SARIF has one
    // `none` result per clean namespace, and it must not read as a failure.
    if level == Level::None {
        return Verdict::Success;
    }
    match mode {
        // As konflux-test's parse_test_output does: every finding fails, suppressed or not.
        SarifMode::Konflux => Verdict::Failure,
        SarifMode::Levels if result.suppressed => Verdict::Suppressed,
        SarifMode::Levels if level == Level::Error => Verdict::Failure,
        SarifMode::Levels => Verdict::Warning,
    }
}

/// The rule id a note names a finding by; the message when there is no rule.
fn sarif_result_name(run: &SarifRun, result: &SarifResult) -> String {
    let rule_id = result
        .rule_id
        .clone()
        .or_else(|| rule_of(run, result).and_then(|rule| rule.id.clone()));
    match rule_id {
        Some(id) => id,
        None if result.message.is_empty() => "(a result without rule or message)".to_string(),
        None => shorten(&result.message, 60),
    }
}

// ---------------------------------------------------------------------------------------------
// JUnit

/// How one `<testcase>` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaseOutcome {
    Passed,
    Failed,
    Skipped,
}

fn summarize_junit(input: &[u8]) -> Result<Summary, String> {
    let text =
        std::str::from_utf8(strip_bom(input)).map_err(|err| format!("not UTF-8 text: {err}"))?;
    if text.trim().is_empty() {
        return Err(EMPTY_FILE.to_string());
    }
    let document =
        roxmltree::Document::parse(text).map_err(|err| format!("not valid XML: {err}"))?;
    let root = document.root_element();
    let root_name = root.tag_name().name();
    if !matches!(root_name, "testsuites" | "testsuite") {
        return Err(format!(
            "not a JUnit report: the root element is <{root_name}>, expected <testsuites> or <testsuite>"
        ));
    }
    let mut summary = Summary::default();
    let mut failed = Names::default();
    // Every <testcase> at any depth (suites nest); the aggregate attributes of <testsuite> are
    // often missing or wrong, so they are never read.
    for case in root
        .descendants()
        .filter(|node| node.has_tag_name("testcase"))
    {
        match case_outcome(case) {
            CaseOutcome::Passed => summary.successes += 1,
            CaseOutcome::Skipped => summary.skipped += 1,
            CaseOutcome::Failed => {
                summary.failures += 1;
                failed.add(&case_label(case));
            }
        }
    }
    summary.empty = summary.successes + summary.failures + summary.skipped == 0;
    summary.note = join_note([
        failed.labelled("failed"),
        (summary.skipped > 0).then(|| format!("{} skipped", summary.skipped)),
    ]);
    Ok(summary)
}

/// A test error is a test failure, not TEST_OUTPUT's ERROR, which means the tool could not run.
fn case_outcome(case: roxmltree::Node<'_, '_>) -> CaseOutcome {
    let has_child = |name: &str| case.children().any(|child| child.has_tag_name(name));
    if has_child("failure") || has_child("error") {
        CaseOutcome::Failed
    } else if has_child("skipped") {
        CaseOutcome::Skipped
    } else {
        CaseOutcome::Passed
    }
}

/// `classname.name`, as most JUnit viewers show a case.
fn case_label(case: roxmltree::Node<'_, '_>) -> String {
    let name = case.attribute("name").unwrap_or("(unnamed)");
    match case
        .attribute("classname")
        .filter(|class| !class.is_empty())
    {
        Some(class) => format!("{class}.{name}"),
        None => name.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// clair

fn summarize_clair(input: &[u8]) -> Result<Summary, String> {
    let value = parse_json(input)?;
    let (scan, namespace) = match &value {
        Value::Array(_) => {
            let entries = conftest_entries(&value)?;
            (
                scan_from_clair_policy_output(&entries)?,
                shared_namespace(&entries),
            )
        }
        Value::Object(map) if map.contains_key("data") => (scan_from_quay_report(map)?, None),
        Value::Object(_) => {
            return Err(format!("{CLAIR_EXPECTED}, got an object without \"data\""))
        }
        other => return Err(format!("{CLAIR_EXPECTED}, got {}", describe(other))),
    };
    Ok(Summary {
        // ADR 30: a scan reports what it found in SCAN_OUTPUT and never indicates a failure.
        result: Some(Outcome::Success),
        note: Some(clair_note(&scan)),
        namespace,
        scan: Some(scan),
        ..Summary::default()
    })
}

const CLAIR_EXPECTED: &str = "expected a quay-format clair report (an object with \"data\") \
     or the conftest output of the clair policy (an array)";

/// konflux-test's policies/clair/vulnerabilities-check.rego, on `data.*.Features[]`: per package
/// the set of unique vulnerability names, patched when `FixedBy` is set and `Link` names an
/// RHSA, unpatched when neither; any other combination is counted in neither.
fn scan_from_quay_report(report: &Map<String, Value>) -> Result<ScanOutput, String> {
    let report = Fields {
        map: report,
        at: Place::default(),
    };
    let layers: Vec<Fields<'_>> = match report.present("data") {
        // The rego iterates `data[_]`, so any key (clair-action writes `Layer`) and arrays work.
        Some(Value::Object(layers)) => layers
            .iter()
            .map(|(key, layer)| Fields::of(layer, Place::path(format!("data.{key}"))))
            .collect::<Result<_, _>>()?,
        Some(Value::Array(_)) => report.objects("data")?,
        Some(other) => {
            return Err(format!(
                "\"data\" must be an object of layers, got {}",
                describe(other)
            ))
        }
        None => Vec::new(),
    };
    let mut scan = ScanOutput::default();
    for layer in &layers {
        for package in layer.objects("Features")? {
            add_package_vulnerabilities(&package, &mut scan)?;
        }
    }
    Ok(scan)
}

fn add_package_vulnerabilities(package: &Fields<'_>, scan: &mut ScanOutput) -> Result<(), String> {
    // Keyed by the severity as written: the rego builds separate sets for Low and Negligible.
    let mut seen: HashSet<(bool, String, String)> = HashSet::new();
    for vulnerability in package.objects("Vulnerabilities")? {
        let name = vulnerability
            .string("Name")?
            .ok_or_else(|| format!("{}: \"Name\" is missing", vulnerability.at))?;
        let severity = vulnerability.string("Severity")?.unwrap_or_default();
        let fixed_by = vulnerability.string("FixedBy")?.unwrap_or_default();
        let link = vulnerability.string("Link")?.unwrap_or_default();
        let patched = match (!fixed_by.is_empty(), link.contains("RHSA")) {
            (true, true) => true,
            (false, false) => false,
            _ => continue,
        };
        let severity = severity.to_ascii_lowercase();
        if !seen.insert((patched, severity.clone(), name)) {
            continue;
        }
        let counts = if patched {
            &mut scan.vulnerabilities
        } else {
            &mut scan.unpatched_vulnerabilities
        };
        *severity_slot(counts, &severity) += 1;
    }
    Ok(())
}

/// Critical, High and Medium as themselves; Low and Negligible as low; anything else unknown.
fn severity_slot<'c>(counts: &'c mut SeverityCounts, severity: &str) -> &'c mut u64 {
    match severity.to_ascii_lowercase().as_str() {
        "critical" => &mut counts.critical,
        "high" => &mut counts.high,
        "medium" => &mut counts.medium,
        "low" | "negligible" => &mut counts.low,
        _ => &mut counts.unknown,
    }
}

/// The conftest output of the clair policy, summed as clair-scan builds SCAN_OUTPUT: each
/// `vulnerabilities_number` goes to the severity its `details.name` names
/// (`clair_high_vulnerabilities`, `clair_unpatched_medium_vulnerabilities`, ...). Older policy
/// versions reported them as failures (`violation_*`), so both lists are read.
fn scan_from_clair_policy_output(entries: &[CheckResult<'_>]) -> Result<ScanOutput, String> {
    let mut scan = ScanOutput::default();
    for item in entries
        .iter()
        .flat_map(|entry| entry.warnings.iter().chain(&entry.failures))
    {
        let Some((unpatched, severity)) = clair_rule_target(item.rule_name()) else {
            continue;
        };
        let number = match &item.metadata {
            Some(metadata) => metadata.typed::<u64>("vulnerabilities_number", "an integer")?,
            None => None,
        };
        let number = number.ok_or_else(|| {
            let at = item.at.key("metadata");
            format!("{at}: \"vulnerabilities_number\" is missing")
        })?;
        let counts = if unpatched {
            &mut scan.unpatched_vulnerabilities
        } else {
            &mut scan.vulnerabilities
        };
        let slot = severity_slot(counts, severity);
        *slot = slot.saturating_add(number);
    }
    Ok(scan)
}

/// `clair_[unpatched_]<severity>_vulnerabilities` → (unpatched, severity).
fn clair_rule_target(rule: &str) -> Option<(bool, &str)> {
    let severity = rule
        .strip_prefix("clair_")?
        .strip_suffix("_vulnerabilities")?;
    let (unpatched, severity) = match severity.strip_prefix("unpatched_") {
        Some(severity) => (true, severity),
        None => (false, severity),
    };
    matches!(severity, "critical" | "high" | "medium" | "low" | "unknown")
        .then_some((unpatched, severity))
}

/// `clair found 6 vulnerabilities (2 critical, 1 high, ...) and 3 unpatched (...); see SCAN_OUTPUT`.
fn clair_note(scan: &ScanOutput) -> String {
    let patched = scan.vulnerabilities.total();
    format!(
        "clair found {}{} and {} unpatched{}; see SCAN_OUTPUT",
        counted(patched, "vulnerability", "vulnerabilities"),
        severity_breakdown(&scan.vulnerabilities),
        scan.unpatched_vulnerabilities.total(),
        severity_breakdown(&scan.unpatched_vulnerabilities),
    )
}

/// ` (2 critical, 1 low)`, listing the non-zero severities; empty when all are zero.
fn severity_breakdown(counts: &SeverityCounts) -> String {
    let parts: Vec<String> = [
        (counts.critical, "critical"),
        (counts.high, "high"),
        (counts.medium, "medium"),
        (counts.low, "low"),
        (counts.unknown, "unknown"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, severity)| format!("{count} {severity}"))
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

// ---------------------------------------------------------------------------------------------
// appstudio

/// One TEST_OUTPUT object.
struct TestOutputObject {
    result: Outcome,
    note: Option<String>,
    namespace: Option<String>,
    timestamp: Option<OffsetDateTime>,
    successes: u64,
    failures: u64,
    warnings: u64,
}

fn summarize_appstudio(input: &[u8]) -> Result<Summary, String> {
    let input = strip_bom(input);
    if input.iter().all(u8::is_ascii_whitespace) {
        return Err(EMPTY_FILE.to_string());
    }
    // One object, an array of them, or several concatenated (one `ec test` run per arch).
    let mut values = Vec::new();
    for value in serde_json::Deserializer::from_slice(input).into_iter::<Value>() {
        match value.map_err(|err| format!("not valid JSON: {err}"))? {
            Value::Array(items) => values.extend(items),
            other => values.push(other),
        }
    }
    if values.is_empty() {
        return Err("expected TEST_OUTPUT objects, got an empty array".to_string());
    }
    let objects = values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            test_output_object(Fields::of(value, Place::root(format!("object {index}")))?)
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(merge_test_outputs(&objects))
}

fn test_output_object(fields: Fields<'_>) -> Result<TestOutputObject, String> {
    let result = fields
        .string("result")?
        .ok_or_else(|| format!("{}: \"result\" is missing", fields.at))?;
    let result = result
        .parse::<Outcome>()
        .map_err(|err| format!("{}: {err}", fields.at))?;
    Ok(TestOutputObject {
        result,
        note: fields.string("note")?,
        namespace: fields.string("namespace")?,
        // Only a readable timestamp takes part in "the latest"; the value is never written back.
        timestamp: fields.present("timestamp").and_then(|value| match value {
            Value::String(text) => timestamp::parse(text),
            Value::Number(seconds) => seconds
                .as_i64()
                .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok()),
            _ => None,
        }),
        successes: fields.count("successes")?,
        failures: fields.count("failures")?,
        warnings: fields.count("warnings")?,
    })
}

/// As clamav-scan's jq reduce merges per-arch objects: counts summed, the result ranked highest
/// by ADR 30 with the note of the first object that has it, the last non-empty namespace, the
/// latest timestamp.
fn merge_test_outputs(objects: &[TestOutputObject]) -> Summary {
    let mut summary = Summary::default();
    let mut chosen: Option<&TestOutputObject> = None;
    for object in objects {
        summary.successes = summary.successes.saturating_add(object.successes);
        summary.failures = summary.failures.saturating_add(object.failures);
        summary.warnings = summary.warnings.saturating_add(object.warnings);
        if chosen.is_none_or(|best| object.result.severity() > best.result.severity()) {
            chosen = Some(object);
        }
        if let Some(namespace) = object.namespace.as_ref().filter(|ns| !ns.is_empty()) {
            summary.namespace = Some(namespace.clone());
        }
        summary.timestamp = summary.timestamp.max(object.timestamp);
    }
    if let Some(chosen) = chosen {
        summary.result = Some(chosen.result);
        summary.note = chosen.note.clone();
    }
    summary
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
    use super::*;
    use crate::result::test_output::{validate, Document};

    macro_rules! fixture {
        ($path:literal) => {
            include_bytes!(concat!("../../tests/fixtures/result/", $path)).as_slice()
        };
    }

    fn conftest(input: &[u8]) -> Summary {
        summarize(InputKind::Conftest, input, SarifMode::default()).expect("conftest input")
    }

    fn sarif(input: &[u8], mode: SarifMode) -> Summary {
        summarize(InputKind::Sarif, input, mode).expect("SARIF input")
    }

    fn junit(input: &[u8]) -> Summary {
        summarize(InputKind::Junit, input, SarifMode::default()).expect("JUnit input")
    }

    fn clair(input: &[u8]) -> Summary {
        summarize(InputKind::Clair, input, SarifMode::default()).expect("clair input")
    }

    fn appstudio(input: &[u8]) -> Summary {
        summarize(InputKind::Appstudio, input, SarifMode::default()).expect("appstudio input")
    }

    fn refusal(kind: InputKind, input: &[u8]) -> String {
        summarize(kind, input, SarifMode::default()).expect_err("input must be refused")
    }

    /// (successes, failures, warnings, skipped)
    fn counts(summary: &Summary) -> (u64, u64, u64, u64) {
        (
            summary.successes,
            summary.failures,
            summary.warnings,
            summary.skipped,
        )
    }

    fn severities(critical: u64, high: u64, medium: u64, low: u64, unknown: u64) -> SeverityCounts {
        SeverityCounts {
            critical,
            high,
            medium,
            low,
            unknown,
        }
    }

    fn at(epoch: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(epoch).expect("valid epoch")
    }

    // --- names -------------------------------------------------------------------------------

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
    fn conftest_single_passing_entry() {
        for input in [
            fixture!("conftest/pass-single.json"),
            fixture!("conftest/pass-single-empty-failures.json"),
        ] {
            let summary = conftest(input);
            assert_eq!(counts(&summary), (19, 0, 0, 0));
            assert!(!summary.empty);
            assert_eq!(summary.namespace.as_deref(), Some("image_labels"));
            assert_eq!(summary.note, None);
            assert_eq!(summary.result, None);
            assert_eq!(summary.scan, None);
        }
    }

    #[test]
    fn conftest_failure_is_named_by_its_details_name() {
        let summary = conftest(fixture!("conftest/fail-single.json"));
        assert_eq!(counts(&summary), (19, 1, 0, 0));
        assert_eq!(summary.note.as_deref(), Some("failed: name_label_required"));
        assert_eq!(summary.namespace.as_deref(), Some("image_labels"));
    }

    #[test]
    fn conftest_warnings_are_counted_unlike_konflux_test() {
        let summary = conftest(fixture!("conftest/warn-clair.json"));
        assert_eq!(counts(&summary), (0, 0, 2, 0));
        assert!(!summary.empty);
        assert_eq!(summary.namespace.as_deref(), Some("required_checks"));
        assert_eq!(
            summary.note.as_deref(),
            Some("warned: clair_high_vulnerabilities, clair_unpatched_medium_vulnerabilities")
        );
        assert_eq!(summary.scan, None);
    }

    #[test]
    fn conftest_entries_are_summed() {
        let summary = conftest(fixture!("conftest/multi-entry.json"));
        assert_eq!(counts(&summary), (27, 1, 0, 0));
        assert_eq!(summary.namespace.as_deref(), Some("image_labels"));
        assert_eq!(
            summary.note.as_deref(),
            Some("failed: vendor_label_required")
        );
    }

    #[test]
    fn conftest_namespaces_that_differ_are_listed_sorted() {
        let summary = conftest(fixture!("conftest/multi-namespace.json"));
        assert_eq!(counts(&summary), (22, 0, 1, 0));
        assert_eq!(
            summary.namespace.as_deref(),
            Some("hermetic_build,image_labels")
        );
        assert_eq!(
            summary.note.as_deref(),
            Some("warned: hermetic_build_required")
        );
    }

    #[test]
    fn conftest_exceptions_and_skips_only_reach_the_note() {
        let summary = conftest(fixture!("conftest/exceptions-skipped-loc.json"));
        assert_eq!(counts(&summary), (5, 1, 1, 0));
        assert_eq!(summary.namespace.as_deref(), Some("main"));
        assert_eq!(
            summary.note.as_deref(),
            Some(
                "failed: run_as_non_root; warned: Container \"app\" has no resource limits; \
                 excepted: latest_tag; skipped: test_image_tag skipped: no matching input"
            )
        );
    }

    #[test]
    fn conftest_without_checks_is_empty() {
        let summary = conftest(fixture!("conftest/empty-array.json"));
        assert_eq!(counts(&summary), (0, 0, 0, 0));
        assert!(summary.empty);
        assert_eq!(summary.namespace, None);
        assert_eq!(summary.note, None);

        let summary = conftest(fixture!("conftest/empty-entry.json"));
        assert_eq!(counts(&summary), (0, 0, 0, 0));
        assert!(summary.empty);
        assert_eq!(summary.namespace.as_deref(), Some("image_labels"));
    }

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
    fn conftest_counts_and_lists_must_have_their_types() {
        let cases: [(&str, &str); 7] = [
            (
                r#"[{"successes": -1}]"#,
                "entry 0: \"successes\" must be an integer, got a negative number (-1)",
            ),
            (
                r#"[{"successes": 1.5}]"#,
                "entry 0: \"successes\" must be an integer, got a decimal number (1.5)",
            ),
            (
                r#"[{"successes": null}]"#,
                "entry 0: \"successes\" must be an integer, got null",
            ),
            (
                r#"[{"successes": 1}, "x"]"#,
                "entry 1: expected an object, got a string",
            ),
            (
                r#"[{"successes": 1, "failures": 2}]"#,
                "entry 0: \"failures\" must be an array, got a number",
            ),
            (
                r#"[{"failures": ["boom"]}]"#,
                "entry 0: failures[0]: expected an object, got a string",
            ),
            (
                r#"[{"warnings": [{"msg": 3}]}]"#,
                "entry 0: warnings[0]: \"msg\" must be a string, got a number",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                refusal(InputKind::Conftest, input.as_bytes()),
                want,
                "{input}"
            );
        }
        assert_eq!(
            refusal(InputKind::Conftest, br#"{"result": "SUCCESS"}"#),
            "expected a JSON array of conftest results, got an object"
        );
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
    fn conftest_tolerates_nil_lists_and_a_byte_order_mark() {
        let summary = conftest(
            b"\xEF\xBB\xBF[{\"namespace\": \"main\", \"successes\": 2, \"failures\": null}]",
        );
        assert_eq!(counts(&summary), (2, 0, 0, 0));
        assert!(!summary.empty);
    }

    #[test]
    fn conftest_falls_back_to_the_message_and_caps_the_names() {
        let failures: Vec<String> = (0..13)
            .map(|i| format!(r#"{{"msg": "rule {i} failed"}}"#))
            .collect();
        let input = format!(
            r#"[{{"namespace": "main", "successes": 0, "failures": [{}, {{"msg": "rule 0 failed"}}]}}]"#,
            failures.join(", ")
        );
        let summary = conftest(input.as_bytes());
        assert_eq!(summary.failures, 14);
        assert_eq!(
            summary.note.as_deref(),
            Some(
                "failed: rule 0 failed, rule 1 failed, rule 2 failed, rule 3 failed, rule 4 failed, \
                 rule 5 failed, rule 6 failed, rule 7 failed, rule 8 failed, rule 9 failed and 3 more"
            )
        );
    }

    // --- SARIF -------------------------------------------------------------------------------

    #[test]
    fn sarif_snyk_like_in_konflux_mode_fails_every_finding() {
        let summary = sarif(fixture!("sarif/snyk-like.json"), SarifMode::Konflux);
        assert_eq!(counts(&summary), (1, 5, 0, 0));
        assert!(!summary.empty);
        assert_eq!(summary.namespace, None);
        assert_eq!(
            summary.note.as_deref(),
            Some(
                "failed: javascript/Sqli, javascript/XSS, javascript/HardcodedNonCryptoSecret, \
                 javascript/InsecureHash, javascript/HardcodedCredentials"
            )
        );
    }

    #[test]
    fn sarif_snyk_like_in_levels_mode_follows_levels_and_suppressions() {
        let summary = sarif(fixture!("sarif/snyk-like.json"), SarifMode::Levels);
        // error + inherited error fail; warning and note warn; the suppressed error is ignored.
        assert_eq!(counts(&summary), (1, 2, 2, 0));
        assert_eq!(
            summary.note.as_deref(),
            Some(
                "failed: javascript/Sqli, javascript/InsecureHash; \
                 warned: javascript/XSS, javascript/HardcodedNonCryptoSecret; 1 suppressed"
            )
        );
    }

    #[test]
    fn sarif_sums_all_runs() {
        let summary = sarif(fixture!("sarif/multi-run.json"), SarifMode::Konflux);
        assert_eq!(counts(&summary), (0, 3, 0, 0));
        assert_eq!(
            summary.note.as_deref(),
            Some("failed: SC2086, SC2046, BIDI")
        );
        let summary = sarif(fixture!("sarif/multi-run.json"), SarifMode::Levels);
        assert_eq!(counts(&summary), (0, 1, 2, 0));
        assert_eq!(
            summary.note.as_deref(),
            Some("failed: BIDI; warned: SC2086, SC2046")
        );
    }

    #[test]
    fn sarif_run_without_results_is_clean_but_no_runs_is_empty() {
        for mode in [SarifMode::Konflux, SarifMode::Levels] {
            let summary = sarif(fixture!("sarif/empty-results.json"), mode);
            assert_eq!(counts(&summary), (0, 0, 0, 0));
            assert!(!summary.empty);
            assert_eq!(summary.note, None);

            let summary = sarif(fixture!("sarif/empty-runs.json"), mode);
            assert_eq!(counts(&summary), (0, 0, 0, 0));
            assert!(summary.empty);
        }
    }

    #[test]
    fn sarif_from_conftest_succeeds_in_both_modes() {
        for mode in [SarifMode::Konflux, SarifMode::Levels] {
            let summary = sarif(fixture!("sarif/from-conftest.json"), mode);
            assert_eq!(counts(&summary), (2, 0, 0, 0), "{mode}");
            assert_eq!(summary.note, None);
        }
    }

    #[test]
    fn sarif_level_falls_back_to_the_rule_found_by_id_then_to_warning() {
        let input = br#"{"runs": [{
            "tool": {"driver": {"name": "t", "rules": [
                {"id": "A", "defaultConfiguration": {"level": "error"}},
                {"id": "B", "defaultConfiguration": {"level": "note"}}]}},
            "results": [
                {"ruleId": "B", "message": {"text": "by id"}},
                {"ruleId": "A", "ruleIndex": 1, "message": {"text": "index wins"}},
                {"ruleId": "C", "message": {"text": "no rule"}},
                {"ruleIndex": -1, "rule": {"id": "A"}, "message": {"text": "reference"}}]}]}"#;
        let summary = sarif(input, SarifMode::Levels);
        // B → note (warning), index 1 → B → note (warning), C → warning, rule.id A → error.
        assert_eq!(counts(&summary), (0, 1, 3, 0));
        assert_eq!(summary.note.as_deref(), Some("failed: A; warned: B, A, C"));
    }

    #[test]
    fn sarif_kinds_other_than_fail_are_never_failures() {
        let input = br#"{"runs": [{
            "tool": {"driver": {"name": "t"}},
            "results": [
                {"ruleId": "p", "kind": "pass", "level": "error"},
                {"ruleId": "i", "kind": "informational"},
                {"ruleId": "n", "kind": "notApplicable"},
                {"ruleId": "f", "kind": "fail", "level": "none"},
                {"ruleId": "r", "kind": "review", "level": "warning"}]}]}"#;
        for mode in [SarifMode::Konflux, SarifMode::Levels] {
            let summary = sarif(input, mode);
            assert_eq!(counts(&summary), (4, 0, 0, 1), "{mode}");
        }
    }

    #[test]
    fn sarif_conftest_skip_results_are_skipped() {
        let input = br#"{"runs": [{
            "tool": {"driver": {"name": "conftest", "rules": [{"id": "main/skip"}, {"id": "labels/success"}]}},
            "results": [
                {"ruleId": "main/skip", "ruleIndex": 0, "level": "none", "message": {"text": "Policy check was skipped"}},
                {"ruleId": "labels/success", "ruleIndex": 1, "level": "none", "message": {"text": "Policy was satisfied successfully"}}]}]}"#;
        assert_eq!(counts(&sarif(input, SarifMode::Konflux)), (1, 0, 0, 1));
    }

    #[test]
    fn sarif_suppressions_under_review_or_rejected_do_not_suppress() {
        let input = br#"{"runs": [{"results": [
            {"ruleId": "a", "level": "error", "suppressions": [{"kind": "external", "status": "accepted"}]},
            {"ruleId": "b", "level": "error", "suppressions": [{"kind": "external", "status": "underReview"}]},
            {"ruleId": "c", "level": "error", "suppressions": [{"kind": "inSource"}, {"kind": "external", "status": "rejected"}]},
            {"ruleId": "d", "level": "warning", "suppressions": []}]}]}"#;
        let summary = sarif(input, SarifMode::Levels);
        assert_eq!(counts(&summary), (0, 2, 1, 0));
        assert_eq!(
            summary.note.as_deref(),
            Some("failed: b, c; warned: d; 1 suppressed")
        );
        assert_eq!(counts(&sarif(input, SarifMode::Konflux)), (0, 4, 0, 0));
    }

    #[test]
    fn sarif_result_without_rule_is_named_by_its_message() {
        let input = br#"{"runs": [{"results": [{"message": {"text": "Double quote to prevent globbing and word splitting, which breaks paths with spaces"}}, {}]}]}"#;
        let summary = sarif(input, SarifMode::Konflux);
        assert_eq!(
            summary.note.as_deref(),
            Some(
                "failed: Double quote to prevent globbing and word splitting, which b…, \
                 (a result without rule or message)"
            )
        );
    }

    #[test]
    fn sarif_refusals_name_the_place() {
        let cases: [(&[u8], &str); 6] = [
            (b"[]", "expected a SARIF log (a JSON object with \"runs\"), got an array"),
            (br#"{"runs": {}}"#, "\"runs\" must be an array, got an object"),
            (br#"{"runs": [3]}"#, "runs[0]: expected an object, got a number"),
            (br#"{"runs": [{"results": [{"level": "high"}]}]}"#,
             "runs[0].results[0]: \"level\" must be one of none, note, warning, error, got \"high\""),
            (br#"{"runs": [{"results": [{"kind": 1}]}]}"#,
             "runs[0].results[0]: \"kind\" must be one of pass, fail, notApplicable, informational, review, open, got a number"),
            (br#"{"runs": [{"tool": {"driver": {"rules": [{"defaultConfiguration": {"level": "fatal"}}]}}}]}"#,
             "runs[0].tool.driver.rules[0].defaultConfiguration: \"level\" must be one of none, note, warning, error, got \"fatal\""),
        ];
        for (input, want) in cases {
            assert_eq!(refusal(InputKind::Sarif, input), want);
        }
    }

    // --- JUnit -------------------------------------------------------------------------------

    #[test]
    fn junit_counts_cases_and_treats_errors_as_failures() {
        let summary = junit(fixture!("junit/testsuites.xml"));
        assert_eq!(counts(&summary), (6, 3, 0, 1));
        assert!(!summary.empty);
        assert_eq!(
            summary.note.as_deref(),
            Some(
                "failed: api.tests.test_users.test_update_user, api.tests.test_orders.test_cancel_order, \
                 api.tests.test_orders.test_refund_order; 1 skipped"
            )
        );
    }

    #[test]
    fn junit_bare_testsuite_root() {
        let summary = junit(fixture!("junit/bare-testsuite.xml"));
        assert_eq!(counts(&summary), (2, 1, 0, 0));
        assert_eq!(
            summary.note.as_deref(),
            Some("failed: controllers.TestReconcileUpdatesStatus")
        );
    }

    #[test]
    fn junit_nested_suites_ignore_aggregate_attributes() {
        let summary = junit(fixture!("junit/nested.xml"));
        assert_eq!(counts(&summary), (3, 1, 0, 1));
        assert_eq!(
            summary.note.as_deref(),
            Some("failed: integration.storage.test_download; 1 skipped")
        );
    }

    #[test]
    fn junit_all_skipped_is_not_empty() {
        let summary = junit(fixture!("junit/all-skipped.xml"));
        assert_eq!(counts(&summary), (0, 0, 0, 3));
        assert!(!summary.empty);
        assert_eq!(summary.note.as_deref(), Some("3 skipped"));
    }

    #[test]
    fn junit_without_testcases_is_empty() {
        let summary = junit(fixture!("junit/no-testcases.xml"));
        assert_eq!(counts(&summary), (0, 0, 0, 0));
        assert!(summary.empty);
        assert_eq!(summary.note, None);
    }

    #[test]
    fn junit_refusals() {
        let err = refusal(InputKind::Junit, b"<testsuite><testcase name=\"a\">");
        assert!(err.starts_with("not valid XML: "), "{err}");
        let err = refusal(InputKind::Junit, b"\xff\xfe<testsuite/>");
        assert!(err.starts_with("not UTF-8 text: "), "{err}");
        let err = refusal(InputKind::Junit, fixture!("conftest/pass-single.json"));
        assert!(err.starts_with("not valid XML: "), "{err}");
    }

    #[test]
    fn junit_case_without_classname_is_named_alone() {
        let summary =
            junit(b"<testsuite><testcase name=\"lonely\"><failure/></testcase></testsuite>");
        assert_eq!(summary.note.as_deref(), Some("failed: lonely"));
    }

    // --- clair -------------------------------------------------------------------------------

    #[test]
    fn clair_quay_report_follows_the_policy_semantics() {
        let summary = clair(fixture!("clair/quay-report.json"));
        // By hand, per package (unique names), patched = FixedBy set and an RHSA link,
        // unpatched = neither:
        //   openssl-libs: CVE-2024-5535 Critical patched; CVE-2024-6119 High patched (listed twice,
        //                 counted once); CVE-2024-4741 Medium unpatched
        //   glibc:        CVE-2024-2961 Low patched; CVE-2023-4806 Negligible patched (low);
        //                 CVE-2023-4813 Negligible unpatched (low); CVE-2024-33599 Medium has a
        //                 fix but no RHSA link: neither
        //   pip:          PVE-2021-42218 Unknown unpatched; PVE-2021-42219 Unknown patched;
        //                 CVE-2021-3572 High has an RHSA link but no fix: neither
        //   openssl:      CVE-2024-5535 Critical patched (same name, another package: counted)
        //   bash, ca-certificates: no vulnerabilities
        let want = ScanOutput {
            vulnerabilities: severities(2, 1, 0, 2, 1),
            unpatched_vulnerabilities: severities(0, 0, 1, 1, 1),
        };
        assert_eq!(summary.scan, Some(want));
        assert_eq!(summary.result, Some(Outcome::Success));
        assert_eq!(counts(&summary), (0, 0, 0, 0));
        assert!(!summary.empty);
        assert_eq!(summary.namespace, None);
        assert_eq!(
            summary.note.as_deref(),
            Some(
                "clair found 6 vulnerabilities (2 critical, 1 high, 2 low, 1 unknown) \
                 and 3 unpatched (1 medium, 1 low, 1 unknown); see SCAN_OUTPUT"
            )
        );
        assert_eq!(
            validate(
                Document::ScanOutput,
                &crate::result::test_output::to_compact_json(&want)
            ),
            vec![]
        );
    }

    #[test]
    fn clair_policy_output_sums_vulnerabilities_number_by_rule_name() {
        let summary = clair(fixture!("conftest/warn-clair.json"));
        let want = ScanOutput {
            vulnerabilities: severities(0, 3, 0, 0, 0),
            unpatched_vulnerabilities: severities(0, 0, 1, 0, 0),
        };
        assert_eq!(summary.scan, Some(want));
        assert_eq!(summary.result, Some(Outcome::Success));
        assert_eq!(counts(&summary), (0, 0, 0, 0));
        assert_eq!(summary.namespace.as_deref(), Some("required_checks"));
        assert_eq!(
            summary.note.as_deref(),
            Some("clair found 3 vulnerabilities (3 high) and 1 unpatched (1 medium); see SCAN_OUTPUT")
        );
    }

    #[test]
    fn clair_severity_is_case_insensitive_and_unrecognized_is_unknown() {
        let input = br#"{"data": {"Layer": {"Features": [{"Name": "p", "Vulnerabilities": [
            {"Name": "a", "Severity": "HIGH", "FixedBy": "1", "Link": "RHSA-1"},
            {"Name": "b", "Severity": "Important", "FixedBy": "1", "Link": "RHSA-2"},
            {"Name": "c", "FixedBy": null, "Link": null},
            {"Name": "d", "Severity": "Low"},
            {"Name": "d", "Severity": "Negligible"}]}]}}}"#;
        let scan = clair(input).scan.expect("scan");
        assert_eq!(scan.vulnerabilities, severities(0, 1, 0, 0, 1));
        // Missing FixedBy and Link read as empty; Low and Negligible are separate sets, as in
        // the rego.
        assert_eq!(scan.unpatched_vulnerabilities, severities(0, 0, 0, 2, 1));
    }

    #[test]
    fn clair_with_nothing_found() {
        let summary = clair(br#"{"data": {"Layer": {"Features": null}}}"#);
        assert_eq!(summary.scan, Some(ScanOutput::default()));
        assert_eq!(
            summary.note.as_deref(),
            Some("clair found 0 vulnerabilities and 0 unpatched; see SCAN_OUTPUT")
        );
        let summary = clair(b"[]");
        assert_eq!(summary.scan, Some(ScanOutput::default()));
        assert_eq!(summary.result, Some(Outcome::Success));
    }

    #[test]
    fn clair_refusals() {
        let cases: [(&[u8], &str); 5] = [
            (br#"{"vulnerabilities": {}}"#,
             "expected a quay-format clair report (an object with \"data\") or the conftest output of the clair policy (an array), got an object without \"data\""),
            (b"\"report\"",
             "expected a quay-format clair report (an object with \"data\") or the conftest output of the clair policy (an array), got a string"),
            (br#"{"data": {"Layer": {"Features": [{"Vulnerabilities": [{"Severity": "High"}]}]}}}"#,
             "data.Layer.Features[0].Vulnerabilities[0]: \"Name\" is missing"),
            (br#"[{"warnings": [{"msg": "m", "metadata": {"details": {"name": "clair_low_vulnerabilities"}, "vulnerabilities_number": "2"}}]}]"#,
             "entry 0: warnings[0].metadata: \"vulnerabilities_number\" must be an integer, got a string"),
            (br#"[{"warnings": [{"msg": "m", "metadata": {"details": {"name": "clair_low_vulnerabilities"}}}]}]"#,
             "entry 0: warnings[0].metadata: \"vulnerabilities_number\" is missing"),
        ];
        for (input, want) in cases {
            assert_eq!(refusal(InputKind::Clair, input), want);
        }
    }

    // --- appstudio ---------------------------------------------------------------------------

    #[test]
    fn appstudio_multi_arch_merges_like_clamav_scan() {
        let summary = appstudio(fixture!("appstudio/multi-arch.json"));
        assert_eq!(summary.result, Some(Outcome::Error));
        assert_eq!(
            summary.note.as_deref(),
            Some("Error: running test: reading /tekton/home/clamscan-result-ppc64le.log: no such file or directory")
        );
        assert_eq!(counts(&summary), (3, 0, 1, 0));
        assert_eq!(summary.namespace.as_deref(), Some("required_checks"));
        assert_eq!(summary.timestamp, Some(at(1_767_225_690)));
        assert!(!summary.empty);
    }

    #[test]
    fn appstudio_array_takes_the_note_of_the_first_highest_result() {
        let summary = appstudio(fixture!("appstudio/array.json"));
        assert_eq!(summary.result, Some(Outcome::Failure));
        assert_eq!(summary.note.as_deref(), Some("Failures detected"));
        assert_eq!(counts(&summary), (9, 3, 1, 0));
        assert_eq!(summary.timestamp, Some(at(1_767_225_720)));
        assert_eq!(summary.namespace.as_deref(), Some("required_checks"));
    }

    #[test]
    fn appstudio_single_object() {
        let summary = appstudio(fixture!("appstudio/single.json"));
        assert_eq!(summary.result, Some(Outcome::Success));
        assert_eq!(
            summary.note.as_deref(),
            Some("All checks passed successfully")
        );
        assert_eq!(counts(&summary), (3, 0, 0, 0));
        assert_eq!(summary.timestamp, Some(at(1_767_225_600)));
    }

    #[test]
    fn appstudio_defaults_and_namespace_rule() {
        let input = br#"{"result": "skipped", "namespace": "a"}{"result": "SUCCESS", "namespace": "b", "timestamp": "yesterday"}
            [{"result": "SUCCESS", "namespace": "", "timestamp": 1767225600}]"#;
        let summary = appstudio(input);
        assert_eq!(summary.result, Some(Outcome::Skipped));
        assert_eq!(summary.note, None);
        assert_eq!(counts(&summary), (0, 0, 0, 0));
        assert_eq!(summary.namespace.as_deref(), Some("b"));
        assert_eq!(summary.timestamp, Some(at(1_767_225_600)));
    }

    #[test]
    fn appstudio_refusals_name_the_object() {
        let cases: [(&[u8], &str); 6] = [
            (br#"{"successes": 1}"#, "object 0: \"result\" is missing"),
            (br#"{"result": "SUCCESS"} {"result": "PASSED"}"#,
             "object 1: unknown result \"PASSED\": expected one of SUCCESS, FAILURE, WARNING, SKIPPED, ERROR"),
            (br#"[{"result": "SUCCESS", "warnings": 1.0}]"#,
             "object 0: \"warnings\" must be an integer, got a decimal number (1.0)"),
            (br#"{"result": "SUCCESS", "successes": null}"#, "object 0: \"successes\" must be an integer, got null"),
            (b"[]", "expected TEST_OUTPUT objects, got an empty array"),
            (b"[1]", "object 0: expected an object, got a number"),
        ];
        for (input, want) in cases {
            assert_eq!(refusal(InputKind::Appstudio, input), want);
        }
        let err = refusal(InputKind::Appstudio, br#"{"result": "SUCCESS"} {"#);
        assert!(
            err.starts_with("not valid JSON: EOF while parsing"),
            "{err}"
        );
    }

    // --- the TEST_OUTPUT validity set (for `result validate`) ----------------------------------

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
