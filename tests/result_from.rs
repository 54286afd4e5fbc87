//! `stepkit result emit --from`: every fixture under tests/fixtures/result/, through the binary,
//! with the counts and result described in tests/fixtures/result/README.md.

mod support;

use std::path::Path;

use serde_json::Value;
use stepkit::result::test_output::{validate, Document};
use support::{files_in, fixture, run, stepkit, Run};

struct Emitted {
    run: Run,
    dir: tempfile::TempDir,
}

impl Emitted {
    fn test_output(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.path().join("TEST_OUTPUT"))
            .unwrap_or_else(|err| panic!("TEST_OUTPUT not written ({err}): {:?}", self.run));
        assert_eq!(validate(Document::TestOutput, &text), vec![], "{text}");
        serde_json::from_str(&text).unwrap()
    }

    fn summary(&self) -> (String, u64, u64, u64) {
        let value = self.test_output();
        (
            value["result"].as_str().unwrap().to_owned(),
            value["successes"].as_u64().unwrap(),
            value["failures"].as_u64().unwrap(),
            value["warnings"].as_u64().unwrap(),
        )
    }
}

/// `stepkit result emit ARGS`, where `@name` stands for the fixture tests/fixtures/result/name.
fn emit(args: &[&str]) -> Emitted {
    emit_with_stdin(args, None)
}

fn emit_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Emitted {
    let dir = tempfile::tempdir().unwrap();
    let mut command = stepkit();
    command
        .args(["result", "emit", "--results-dir"])
        .arg(dir.path());
    for arg in args {
        match arg.strip_prefix('@') {
            Some(name) => command.arg(fixture(&format!("result/{name}"))),
            None => command.arg(arg),
        };
    }
    let run = run(&mut command, stdin);
    Emitted { run, dir }
}

fn summary(result: &str, successes: u64, failures: u64, warnings: u64) -> (String, u64, u64, u64) {
    (result.to_owned(), successes, failures, warnings)
}

#[test]
fn conftest_fixtures() {
    for (name, want, namespace, note) in [
        (
            "pass-single.json",
            summary("SUCCESS", 19, 0, 0),
            "image_labels",
            None,
        ),
        (
            "pass-single-empty-failures.json",
            summary("SUCCESS", 19, 0, 0),
            "image_labels",
            None,
        ),
        (
            "fail-single.json",
            summary("FAILURE", 19, 1, 0),
            "image_labels",
            Some("failed: name_label_required"),
        ),
        (
            "warn-clair.json",
            summary("WARNING", 0, 0, 2),
            "required_checks",
            Some("clair_high_vulnerabilities"),
        ),
        (
            "multi-entry.json",
            summary("FAILURE", 27, 1, 0),
            "image_labels",
            Some("vendor_label_required"),
        ),
        (
            "multi-namespace.json",
            summary("WARNING", 22, 0, 1),
            "hermetic_build,image_labels",
            Some("hermetic_build_required"),
        ),
        (
            "exceptions-skipped-loc.json",
            summary("FAILURE", 5, 1, 1),
            "main",
            Some("excepted: latest_tag"),
        ),
        (
            "empty-array.json",
            summary("SUCCESS", 0, 0, 0),
            "default",
            None,
        ),
        (
            "empty-entry.json",
            summary("SUCCESS", 0, 0, 0),
            "image_labels",
            None,
        ),
    ] {
        let out = emit(&["--from", "conftest", &format!("@conftest/{name}")]);
        assert_eq!(out.run.code, 0, "{name}: {:?}", out.run);
        assert_eq!(out.summary(), want, "{name}");
        let value = out.test_output();
        assert_eq!(value["namespace"], namespace, "{name}");
        if let Some(note) = note {
            let written = value["note"].as_str().unwrap();
            assert!(
                written.contains(note),
                "{name}: note {written:?} lacks {note:?}"
            );
        }
    }
}

#[test]
fn on_empty_decides_what_an_input_without_checks_means() {
    for (input, on_empty, want) in [
        ("conftest=@conftest/empty-array.json", "skipped", "SKIPPED"),
        ("conftest=@conftest/empty-entry.json", "error", "ERROR"),
        ("sarif=@sarif/empty-runs.json", "error", "ERROR"),
        ("junit=@junit/no-testcases.xml", "skipped", "SKIPPED"),
        // A SARIF run with no results is a tool that ran and found nothing, not an empty input.
        ("sarif=@sarif/empty-results.json", "error", "SUCCESS"),
    ] {
        let (kind, file) = input.split_once('=').unwrap();
        let out = emit(&["--from", kind, file, "--on-empty", on_empty]);
        assert_eq!(out.run.code, 0, "{input}: {:?}", out.run);
        assert_eq!(out.summary().0, want, "{input} --on-empty {on_empty}");
    }
    let out = emit(&[
        "--from",
        "junit",
        "@junit/no-testcases.xml",
        "--on-empty",
        "error",
    ]);
    let note = out.test_output()["note"].as_str().unwrap().to_owned();
    assert!(
        note.contains("no-testcases.xml") && note.contains("no checks"),
        "{note}"
    );
}

#[test]
fn sarif_fixtures_in_both_modes() {
    for (name, konflux, levels) in [
        (
            "snyk-like.json",
            summary("FAILURE", 1, 5, 0),
            summary("FAILURE", 1, 2, 2),
        ),
        (
            "multi-run.json",
            summary("FAILURE", 0, 3, 0),
            summary("FAILURE", 0, 1, 2),
        ),
        (
            "empty-results.json",
            summary("SUCCESS", 0, 0, 0),
            summary("SUCCESS", 0, 0, 0),
        ),
        (
            "from-conftest.json",
            summary("SUCCESS", 2, 0, 0),
            summary("SUCCESS", 2, 0, 0),
        ),
    ] {
        let file = format!("@sarif/{name}");
        let out = emit(&["--from", "sarif", &file]);
        assert_eq!(out.summary(), konflux, "{name} konflux");
        let out = emit(&["--from", "sarif", &file, "--sarif-mode", "levels"]);
        assert_eq!(out.summary(), levels, "{name} levels");
    }
}

#[test]
fn junit_fixtures() {
    for (name, want) in [
        ("testsuites.xml", summary("FAILURE", 6, 3, 0)),
        ("bare-testsuite.xml", summary("FAILURE", 2, 1, 0)),
        ("nested.xml", summary("FAILURE", 3, 1, 0)),
        // Nothing ran: every case was skipped.
        ("all-skipped.xml", summary("SKIPPED", 0, 0, 0)),
        ("no-testcases.xml", summary("SUCCESS", 0, 0, 0)),
    ] {
        let out = emit(&["--from", "junit", &format!("@junit/{name}")]);
        assert_eq!(out.run.code, 0, "{name}: {:?}", out.run);
        assert_eq!(out.summary(), want, "{name}");
    }
}

#[test]
fn clair_writes_scan_output_and_a_successful_test_output() {
    for (input, scan, namespace) in [
        (
            "@clair/quay-report.json",
            r#"{"vulnerabilities":{"critical":2,"high":1,"medium":0,"low":2,"unknown":1},"unpatched_vulnerabilities":{"critical":0,"high":0,"medium":1,"low":1,"unknown":1}}"#,
            "default",
        ),
        (
            "@conftest/warn-clair.json",
            r#"{"vulnerabilities":{"critical":0,"high":3,"medium":0,"low":0,"unknown":0},"unpatched_vulnerabilities":{"critical":0,"high":0,"medium":1,"low":0,"unknown":0}}"#,
            "required_checks",
        ),
    ] {
        let out = emit(&["--from", "clair", input]);
        assert_eq!(out.run.code, 0, "{input}: {:?}", out.run);
        assert_eq!(out.summary(), summary("SUCCESS", 0, 0, 0), "{input}");
        let value = out.test_output();
        assert_eq!(value["namespace"], namespace);
        assert!(
            value["note"].as_str().unwrap().contains("SCAN_OUTPUT"),
            "{value}"
        );
        let written = std::fs::read_to_string(out.dir.path().join("SCAN_OUTPUT")).unwrap();
        assert_eq!(written, scan, "{input}");
        assert_eq!(validate(Document::ScanOutput, &written), vec![]);
    }
}

#[test]
fn clair_scans_of_several_architectures_are_summed() {
    let out = emit(&[
        "--from",
        "clair",
        "@clair/quay-report.json",
        "--from",
        "clair",
        "@clair/quay-report.json",
    ]);
    let scan: Value =
        serde_json::from_str(&std::fs::read_to_string(out.dir.path().join("SCAN_OUTPUT")).unwrap())
            .unwrap();
    assert_eq!(scan["vulnerabilities"]["critical"], 4);
    assert_eq!(scan["unpatched_vulnerabilities"]["unknown"], 2);
}

#[test]
fn appstudio_objects_merge_by_adr_30_priority() {
    let out = emit(&["--from", "appstudio", "@appstudio/multi-arch.json"]);
    assert_eq!(out.run.code, 0, "{:?}", out.run);
    assert_eq!(out.summary(), summary("ERROR", 3, 0, 1));
    let value = out.test_output();
    assert!(
        value["note"]
            .as_str()
            .unwrap()
            .contains("clamscan-result-ppc64le.log"),
        "{value}"
    );
    assert_eq!(value["namespace"], "required_checks");
    assert_eq!(
        value["timestamp"], "2026-01-01T00:01:30+00:00",
        "the latest input timestamp"
    );

    let out = emit(&[
        "--from",
        "appstudio",
        "@appstudio/multi-arch.json",
        "--timestamp-format",
        "epoch",
    ]);
    assert_eq!(out.test_output()["timestamp"], "1767225690");

    let out = emit(&["--from", "appstudio", "@appstudio/array.json"]);
    assert_eq!(out.summary(), summary("FAILURE", 9, 3, 1));
    assert_eq!(out.test_output()["note"], "Failures detected");
}

#[test]
fn broken_inputs_become_an_error_result_that_names_the_file() {
    for (kind, name, reason) in [
        ("conftest", "empty.json", "the file is empty"),
        ("sarif", "empty.json", "the file is empty"),
        ("junit", "empty.json", "the file is empty"),
        ("conftest", "truncated.json", "not valid JSON"),
        (
            "conftest",
            "object-not-array.json",
            "expected a JSON array of conftest results, got an object",
        ),
        (
            "conftest",
            "successes-string.json",
            "\"successes\" must be an integer, got a string",
        ),
        ("sarif", "sarif-without-runs.json", "no \"runs\""),
        ("junit", "html-not-junit.xml", "the root element is <html>"),
        (
            "appstudio",
            "appstudio-string-count.json",
            "\"failures\" must be an integer",
        ),
    ] {
        let file = format!("@broken/{name}");
        let out = emit(&["--from", kind, &file]);
        assert_eq!(out.run.code, 0, "{kind} {name}: {:?}", out.run);
        let value = out.test_output();
        assert_eq!(value["result"], "ERROR", "{kind} {name}");
        let note = value["note"].as_str().unwrap();
        assert!(
            note.contains(name) && note.contains(reason),
            "{kind} {name}: {note}"
        );
        assert!(note.contains(&format!("{kind} output")), "{note}");
        assert!(
            out.run.stderr.contains(reason),
            "logged too: {}",
            out.run.stderr
        );

        let strict = emit(&["--from", kind, &file, "--strict-input"]);
        assert_eq!(
            strict.run.code, 2,
            "{kind} {name} --strict-input: {:?}",
            strict.run
        );
        assert_eq!(
            strict.test_output()["result"],
            "ERROR",
            "written before exiting"
        );
        assert!(strict.run.stderr.contains(reason), "{}", strict.run.stderr);
    }
}

#[test]
fn a_missing_input_file_is_an_error_result_too() {
    let out = emit(&["--from", "sarif", "/nonexistent/scan.sarif"]);
    assert_eq!(out.run.code, 0, "{:?}", out.run);
    let value = out.test_output();
    assert_eq!(value["result"], "ERROR");
    assert!(
        value["note"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/scan.sarif"),
        "{value}"
    );
    let out = emit(&[
        "--from",
        "sarif",
        "/nonexistent/scan.sarif",
        "--fail-on",
        "error",
    ]);
    assert_eq!(out.run.code, 1, "{:?}", out.run);
}

#[test]
fn several_inputs_are_added_up_and_an_error_outranks_them() {
    let out = emit(&[
        "--from",
        "conftest",
        "@conftest/fail-single.json",
        "--from",
        "junit",
        "@junit/testsuites.xml",
    ]);
    assert_eq!(out.summary(), summary("FAILURE", 25, 4, 0));
    let note = out.test_output()["note"].as_str().unwrap().to_owned();
    assert!(
        note.contains("fail-single.json") && note.contains("testsuites.xml"),
        "{note}"
    );

    let out = emit(&[
        "--from",
        "conftest",
        "@conftest/fail-single.json",
        "--from",
        "conftest",
        "@broken/truncated.json",
    ]);
    assert_eq!(out.summary(), summary("ERROR", 19, 1, 0));
    assert!(out.test_output()["note"]
        .as_str()
        .unwrap()
        .contains("truncated.json"));
}

#[test]
fn direct_flags_override_what_the_inputs_give() {
    let out = emit(&[
        "--from",
        "conftest",
        "@conftest/fail-single.json",
        "--note",
        "see the conftest report",
        "--namespace",
        "labels",
        "--result",
        "ERROR",
    ]);
    let value = out.test_output();
    assert_eq!(value["note"], "see the conftest report");
    assert_eq!(value["namespace"], "labels");
    assert_eq!(value["result"], "ERROR");
    assert_eq!(value["failures"], 1);
}

#[test]
fn reads_standard_input() {
    let bytes = std::fs::read(fixture("result/conftest/fail-single.json")).unwrap();
    let out = emit_with_stdin(&["--from", "conftest", "-"], Some(&bytes));
    assert_eq!(out.run.code, 0, "{:?}", out.run);
    assert_eq!(out.summary(), summary("FAILURE", 19, 1, 0));
}

#[test]
fn the_environment_takes_kind_file_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let conftest = fixture("result/conftest/fail-single.json");
    let junit = fixture("result/junit/bare-testsuite.xml");
    let mut command = stepkit();
    command
        .args(["result", "emit"])
        .env("RESULTS_DIR", dir.path())
        .env(
            "STEPKIT_FROM",
            format!("conftest={},junit={}", conftest.display(), junit.display()),
        );
    let out = run(&mut command, None);
    assert_eq!(out.code, 0, "{out:?}");
    let value: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("TEST_OUTPUT")).unwrap())
            .unwrap();
    assert_eq!(
        (value["successes"].as_u64(), value["failures"].as_u64()),
        (Some(21), Some(2))
    );
}

#[test]
fn validate_accepts_each_valid_fixture_and_locates_each_invalid_one() {
    let dir = fixture("result/validate");
    for name in files_in(&dir) {
        let path = dir.join(&name);
        let out = support::stepkit_run(&["result", "validate", path.to_str().unwrap()]);
        if name.starts_with("valid-") {
            assert_eq!(out.code, 0, "{name}: {out:?}");
            continue;
        }
        assert_eq!(out.code, 1, "{name}: {out:?}");
        let errors: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{name}: exactly one problem: {errors:?}");
        let want = match name.as_str() {
            "invalid-float-count.json" => "$.successes",
            "invalid-string-count.json" => "$.failures",
            "invalid-missing-warnings.json" => "$:",
            "invalid-lowercase-result.json" => "$.result",
            "invalid-numeric-timestamp.json" | "invalid-space-separator.json" => "$.timestamp",
            "invalid-null-count.json" => "$.warnings",
            other => panic!("no expectation for {other}"),
        };
        assert!(
            errors[0].starts_with(&format!("error: {want}")),
            "{name}: {errors:?}"
        );
    }
}

#[test]
fn the_readme_example_validates() {
    // The README's first command: a conftest report summarized, validated by `result validate`.
    let out = emit(&["--from", "conftest", "@conftest/fail-single.json"]);
    let dir: &Path = out.dir.path();
    let check = support::stepkit_run(&[
        "result",
        "validate",
        dir.join("TEST_OUTPUT").to_str().unwrap(),
    ]);
    assert_eq!(check.code, 0, "{check:?}");
}

#[test]
fn legacy_alias_writes_adr_13_clair_scan_result_beside_scan_output() {
    for (input, golden) in [
        ("@clair/quay-report.json", "quay-report"),
        ("@conftest/warn-clair.json", "warn-clair"),
    ] {
        let out = emit(&["--from", "clair", input, "--legacy-alias"]);
        assert_eq!(out.run.code, 0, "{input}: {:?}", out.run);
        let dir = out.dir.path();
        let legacy = std::fs::read_to_string(dir.join("CLAIR_SCAN_RESULT")).unwrap();
        let expected = std::fs::read_to_string(fixture(&format!(
            "result/legacy/CLAIR_SCAN_RESULT.{golden}"
        )))
        .unwrap();
        assert_eq!(legacy, expected, "{input}");
        assert_eq!(validate(Document::ClairScanResult, &legacy), vec![]);
        // The same counts as SCAN_OUTPUT's vulnerabilities, in ADR 13's four keys.
        let scan: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("SCAN_OUTPUT")).unwrap())
                .unwrap();
        let legacy: Value = serde_json::from_str(&legacy).unwrap();
        for severity in ["critical", "high", "medium", "low"] {
            assert_eq!(
                legacy["vulnerabilities"][severity], scan["vulnerabilities"][severity],
                "{input} {severity}"
            );
        }
        assert_eq!(legacy["vulnerabilities"].as_object().unwrap().len(), 4);
        assert_eq!(
            std::fs::read(dir.join("HACBS_TEST_OUTPUT")).unwrap(),
            std::fs::read(dir.join("TEST_OUTPUT")).unwrap()
        );
        let check = support::stepkit_run(&[
            "result",
            "validate",
            dir.join("CLAIR_SCAN_RESULT").to_str().unwrap(),
        ]);
        assert_eq!(check.code, 0, "known by its name: {check:?}");
    }

    // Without --legacy-alias, or without a scan, there is no CLAIR_SCAN_RESULT.
    let plain = emit(&["--from", "clair", "@clair/quay-report.json"]);
    assert_eq!(files_in(plain.dir.path()), ["SCAN_OUTPUT", "TEST_OUTPUT"]);
    let conftest = emit(&[
        "--from",
        "conftest",
        "@conftest/fail-single.json",
        "--legacy-alias",
    ]);
    assert_eq!(
        files_in(conftest.dir.path()),
        ["HACBS_TEST_OUTPUT", "TEST_OUTPUT"]
    );
}

#[test]
fn legacy_results_count_against_the_result_budget() {
    let budget = ["--max-result-bytes", "1000", "--result-reserve-bytes", "0"];
    let mut args = vec!["--from", "clair", "@clair/quay-report.json"];
    args.extend(budget);
    let plain = emit(&args);
    assert_eq!(plain.run.code, 0, "{:?}", plain.run);
    assert!(!plain.run.stderr.contains("shortened"), "{:?}", plain.run);
    args.push("--legacy-alias");
    let legacy = emit(&args);
    assert_eq!(legacy.run.code, 0, "{:?}", legacy.run);
    assert!(
        legacy.run.stderr.contains("shortened"),
        "the note gives way to the extra results: {:?}",
        legacy.run
    );
    assert!(legacy.dir.path().join("CLAIR_SCAN_RESULT").exists());
    // Far too small for all four: nothing at all is written.
    let mut tiny = vec![
        "--from",
        "clair",
        "@clair/quay-report.json",
        "--legacy-alias",
    ];
    tiny.extend(["--max-result-bytes", "300", "--result-reserve-bytes", "0"]);
    let over = emit(&tiny);
    assert_eq!(over.run.code, 6, "{:?}", over.run);
    assert!(files_in(over.dir.path()).is_empty());
}

#[test]
fn detail_file_is_the_conftest_results_in_adr_13_form() {
    let detail_dir = tempfile::tempdir().unwrap();
    let detail = detail_dir.path().join("policy_output.json");
    let out = emit(&[
        "--from",
        "conftest",
        "@conftest/multi-entry.json",
        "--from",
        "conftest",
        "@conftest/exceptions-skipped-loc.json",
        "--detail-file",
        detail.to_str().unwrap(),
    ]);
    assert_eq!(out.run.code, 0, "{:?}", out.run);
    let written = std::fs::read_to_string(&detail).unwrap();
    let golden = std::fs::read_to_string(fixture("result/legacy/policy_output.json")).unwrap();
    assert_eq!(written, golden);
    assert_eq!(validate(Document::ConftestDetail, &written), vec![]);
    // Every failure keeps its message and details, as ADR 13 asks.
    let entries: Value = serde_json::from_str(&written).unwrap();
    let failures: Vec<&Value> = entries
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|entry| entry["failures"].as_array().unwrap())
        .collect();
    assert_eq!(failures.len(), 2);
    assert!(failures.iter().all(|f| f["msg"].is_string()));
    assert_eq!(
        failures[0]["metadata"]["details"]["name"],
        "vendor_label_required"
    );
    assert_eq!(
        failures[0]["metadata"]["details"]["url"],
        "https://konflux-ci.dev/docs/building/labels-and-annotations/"
    );
    // The detail file is not a Tekton result: the results directory holds only TEST_OUTPUT.
    assert_eq!(files_in(out.dir.path()), ["TEST_OUTPUT"]);

    let check = support::stepkit_run(&["result", "validate", detail.to_str().unwrap()]);
    assert_eq!(check.code, 0, "known by its name: {check:?}");
    let as_test_output = support::stepkit_run(&[
        "result",
        "validate",
        "--document",
        "test-output",
        detail.to_str().unwrap(),
    ]);
    assert_eq!(as_test_output.code, 1, "{as_test_output:?}");
}

#[test]
fn detail_file_needs_conftest_input_and_validate_knows_broken_legacy_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let detail = dir.path().join("x_output.json");
    let out = emit(&["--failures", "1", "--detail-file", detail.to_str().unwrap()]);
    assert_eq!(out.run.code, 2, "{:?}", out.run);
    assert!(
        out.run.stderr.contains("--from conftest"),
        "{}",
        out.run.stderr
    );
    assert!(!detail.exists());

    for (name, text, path) in [
        (
            "CLAIR_SCAN_RESULT",
            r#"{"vulnerabilities":{"critical":1.0,"high":0,"medium":0,"low":0}}"#,
            "$.vulnerabilities.critical",
        ),
        (
            "CLAIR_SCAN_RESULT",
            r#"{"vulnerabilities":{"critical":1,"high":0,"medium":0}}"#,
            "$.vulnerabilities",
        ),
        (
            "lint_output.json",
            r#"[{"filename":"a.yaml","namespace":"main","successes":1,"failures":[{"metadata":{}}]}]"#,
            "$[0].failures[0]",
        ),
        (
            "lint_output.json",
            r#"[{"filename":"a.yaml","namespace":"main","successes":"1"}]"#,
            "$[0].successes",
        ),
    ] {
        assert_invalid_by_name(dir.path(), name, text, path);
    }
}

#[test]
fn adr_13_documents_keep_to_the_int64_range_like_the_others() {
    let inputs = tempfile::tempdir().unwrap();
    let detail = inputs.path().join("policy_output.json");
    let conftest = inputs.path().join("conftest.json");
    let clair = inputs.path().join("clair.json");
    let conftest_with = |successes: &str| {
        std::fs::write(
            &conftest,
            format!(r#"[{{"filename":"a.yaml","namespace":"main","successes":{successes}}}]"#),
        )
        .unwrap();
    };
    std::fs::write(
        &clair,
        r#"[{"warnings": [{"msg": "m", "metadata": {"details": {"name": "clair_high_vulnerabilities"}, "vulnerabilities_number": 18446744073709551615}}]}]"#,
    )
    .unwrap();
    let args = |with_clair: bool| {
        let mut args = vec!["--from", "conftest", conftest.to_str().unwrap()];
        if with_clair {
            args.extend(["--from", "clair", clair.to_str().unwrap()]);
        }
        args.extend(["--legacy-alias", "--detail-file", detail.to_str().unwrap()]);
        args
    };

    // Counts past int64 in either input: bad input, an ERROR result, and neither
    // CLAIR_SCAN_RESULT nor the detail file, which would carry them.
    for (successes, with_clair) in [("18446744073709551615", false), ("1", true)] {
        conftest_with(successes);
        let out = emit(&args(with_clair));
        assert_eq!(out.run.code, 2, "{successes} {with_clair}: {:?}", out.run);
        assert!(!out.run.stderr.contains("panicked"), "{:?}", out.run);
        assert_eq!(out.test_output()["result"], "ERROR");
        assert_eq!(
            files_in(out.dir.path()),
            ["HACBS_TEST_OUTPUT", "TEST_OUTPUT"]
        );
        assert!(!detail.exists(), "{successes} {with_clair}");
    }

    // At the limit both are written, and valid.
    conftest_with("9223372036854775807");
    let out = emit(&args(false));
    assert_eq!(out.run.code, 0, "{:?}", out.run);
    let check = support::stepkit_run(&["result", "validate", detail.to_str().unwrap()]);
    assert_eq!(check.code, 0, "{check:?}");

    // `result validate` holds ADR 13's documents to the same range.
    for (name, text, path) in [
        (
            "CLAIR_SCAN_RESULT",
            r#"{"vulnerabilities":{"critical":9223372036854775808,"high":0,"medium":0,"low":0}}"#,
            "$.vulnerabilities.critical",
        ),
        (
            "lint_output.json",
            r#"[{"filename":"a.yaml","namespace":"main","successes":18446744073709551616}]"#,
            "$[0].successes",
        ),
    ] {
        assert_invalid_by_name(inputs.path(), name, text, path);
    }
}

/// `result validate` finds `text`, written to `dir/name`, invalid at `path`, knowing the
/// document by its file name.
fn assert_invalid_by_name(dir: &Path, name: &str, text: &str, path: &str) {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let check = support::stepkit_run(&["result", "validate", file.to_str().unwrap()]);
    assert_eq!(check.code, 1, "{text}: {check:?}");
    assert!(
        check.stdout.contains(&format!("error: {path}")),
        "{text}: {}",
        check.stdout
    );
}
