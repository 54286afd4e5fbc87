//! `conftest test -o json`: check results summed per input, and the ADR 13 detail file.

use super::*;

/// One `CheckResult` of `conftest test -o json`: one input file checked against one namespace.
/// The lists are omitted by conftest when empty (`omitempty`).
pub(super) struct CheckResult<'a> {
    namespace: String,
    successes: u64,
    pub(super) failures: Vec<CheckItem<'a>>,
    pub(super) warnings: Vec<CheckItem<'a>>,
    exceptions: Vec<CheckItem<'a>>,
    skipped: Vec<CheckItem<'a>>,
}

/// One failure, warning, exception or skip: a `msg` and the rule's other keys in `metadata`.
pub(super) struct CheckItem<'a> {
    pub(super) at: Place,
    msg: String,
    pub(super) metadata: Option<Fields<'a>>,
}

impl CheckItem<'_> {
    /// The rule's `details.name` as Konflux policies set it, else its message.
    pub(super) fn rule_name(&self) -> &str {
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

pub(super) fn summarize_conftest(input: &[u8]) -> Result<Summary, String> {
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

pub(super) fn conftest_entries(value: &Value) -> Result<Vec<CheckResult<'_>>, String> {
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
pub(super) fn shared_namespace(entries: &[CheckResult<'_>]) -> Option<String> {
    let mut names: Vec<&str> = entries
        .iter()
        .map(|entry| entry.namespace.as_str())
        .filter(|name| !name.is_empty())
        .collect();
    names.sort_unstable();
    names.dedup();
    (!names.is_empty()).then(|| names.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::convert::testing::*;

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
}
