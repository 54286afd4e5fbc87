//! SARIF 2.1.0: results judged by kind, level and suppressions, in Konflux or levels mode.

use super::*;

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

pub(super) fn summarize_sarif(input: &[u8], mode: SarifMode) -> Result<Summary, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::convert::testing::*;

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
}
