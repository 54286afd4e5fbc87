//! TEST_OUTPUT objects (`ec test -o appstudio`), merged by ADR 30's priority.

use super::*;

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

pub(super) fn summarize_appstudio(input: &[u8]) -> Result<Summary, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::convert::testing::*;

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
}
