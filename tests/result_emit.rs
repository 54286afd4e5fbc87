//! `stepkit result emit` and `stepkit result validate`, run as a Tekton step would run them.

mod support;

use std::path::Path;

use serde_json::Value;
use stepkit::core::tekton::entry_cost;
use stepkit::result::test_output::{validate, Document};
use support::{files_in, run, stepkit, stepkit_run, Run};

/// `stepkit result emit ARGS` with a fresh results dir.
fn emit(args: &[&str]) -> (tempfile::TempDir, Run) {
    let dir = tempfile::tempdir().unwrap();
    let run = emit_into(dir.path(), args);
    (dir, run)
}

fn emit_into(dir: &Path, args: &[&str]) -> Run {
    let mut command = stepkit();
    command
        .args(["result", "emit", "--results-dir"])
        .arg(dir)
        .args(args);
    run(&mut command, None)
}

fn test_output(dir: &Path) -> (String, Value) {
    let text = std::fs::read_to_string(dir.join("TEST_OUTPUT")).expect("TEST_OUTPUT written");
    let value = serde_json::from_str(&text).expect("TEST_OUTPUT is JSON");
    (text, value)
}

#[test]
fn direct_mode_derives_the_result_from_the_counts() {
    for (args, want) in [
        (vec![], "SUCCESS"),
        (vec!["--successes", "4"], "SUCCESS"),
        (vec!["--successes", "4", "--warnings", "1"], "WARNING"),
        (vec!["--warnings", "1", "--failures", "2"], "FAILURE"),
    ] {
        let (dir, run) = emit(&args);
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
        let (text, value) = test_output(dir.path());
        assert_eq!(value["result"], want, "{args:?}");
        assert_eq!(value["namespace"], "default");
        assert_eq!(value["note"], "For details, check Tekton task log.");
        assert!(
            !text.ends_with('\n'),
            "no trailing newline in the result file"
        );
        assert_eq!(
            run.stdout,
            format!("{text}\n"),
            "stdout carries the same JSON"
        );
        assert_eq!(validate(Document::TestOutput, &text), vec![]);
    }
}

#[test]
fn writes_keys_in_make_result_json_order_with_an_rfc3339_utc_timestamp() {
    let (dir, run) = emit(&[
        "--result",
        "skipped",
        "--note",
        "no tests for docs-only change",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let (text, value) = test_output(dir.path());
    assert!(
        text.starts_with(r#"{"result":"SKIPPED","timestamp":""#),
        "{text}"
    );
    assert!(text.contains(r#","note":"no tests for docs-only change","namespace":"default","successes":0,"failures":0,"warnings":0}"#), "{text}");
    let timestamp = value["timestamp"].as_str().unwrap();
    assert_eq!(timestamp.len(), 25, "{timestamp}");
    assert!(
        timestamp.ends_with("+00:00") && timestamp.as_bytes()[10] == b'T',
        "{timestamp}"
    );
}

#[test]
fn epoch_and_fixed_timestamps() {
    let (dir, run) = emit(&["--timestamp-format", "epoch"]);
    assert_eq!(run.code, 0, "{run:?}");
    let timestamp = test_output(dir.path()).1["timestamp"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(timestamp.len(), 10);
    assert!(timestamp.bytes().all(|b| b.is_ascii_digit()), "{timestamp}");

    let (dir, run) = emit(&["--timestamp", "2026-01-01T00:00:00Z"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        test_output(dir.path()).1["timestamp"],
        "2026-01-01T00:00:00Z"
    );

    let (dir, run) = emit(&["--timestamp", "2026-01-01 00:00:00"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--timestamp"), "{}", run.stderr);
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn a_result_that_contradicts_the_counts_is_refused_unless_allowed() {
    let (dir, run) = emit(&["--result", "SUCCESS", "--failures", "3"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("contradicts"), "{}", run.stderr);
    assert!(
        run.stderr.contains("--allow-inconsistent"),
        "{}",
        run.stderr
    );
    assert!(files_in(dir.path()).is_empty(), "nothing written");

    let (dir, run) = emit(&[
        "--result",
        "SUCCESS",
        "--failures",
        "3",
        "--allow-inconsistent",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(test_output(dir.path()).1["result"], "SUCCESS");

    let (dir, run) = emit(&["--result", "error", "--failures", "3"]);
    assert_eq!(run.code, 0, "ERROR with failures is consistent: {run:?}");
    assert_eq!(test_output(dir.path()).1["result"], "ERROR");
}

#[test]
fn bad_usage_exits_2_naming_the_input_and_writes_nothing() {
    for (args, names) in [
        (vec!["--failures", "-1"], "--failures"),
        (vec!["--successes", "1.5"], "--successes"),
        (vec!["--result", "PASSED"], "PASSED"),
        (vec!["--fail-on", "sometimes"], "sometimes"),
        (vec!["--from", "yaml", "x.yaml"], "yaml"),
        (vec!["--from", "conftest"], "KIND=FILE"),
        (
            vec!["--from", "conftest", "-", "--from", "sarif", "-"],
            "standard input",
        ),
        (
            vec!["--from", "conftest=x.json", "--failures", "1"],
            "--from",
        ),
        (vec!["--image-digest", "sha256:abc"], "--image-url"),
        (
            vec!["--image-url", "quay.io/a/b", "--image-digest", "latest"],
            "latest",
        ),
        (vec!["--no-such-flag"], "--no-such-flag"),
    ] {
        let (dir, run) = emit(&args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains(names),
            "{args:?} should name {names}: {}",
            run.stderr
        );
        assert!(files_in(dir.path()).is_empty(), "{args:?} wrote nothing");
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
}

#[test]
fn fail_on_exits_1_after_writing() {
    let (dir, run) = emit(&["--failures", "1", "--fail-on", "failure"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(test_output(dir.path()).1["result"], "FAILURE");

    for (args, want) in [
        (vec!["--warnings", "1", "--fail-on", "failure"], 0),
        (vec!["--warnings", "1", "--fail-on", "warning"], 1),
        (vec!["--result", "SKIPPED", "--fail-on", "warning"], 0),
        (vec!["--result", "SKIPPED", "--fail-on", "strict"], 1),
        (vec!["--result", "ERROR", "--fail-on", "error"], 1),
        (vec!["--result", "ERROR"], 0),
        (vec!["--result", "SKIPPED", "--fail-on", "skipped,error"], 1),
    ] {
        let (dir, run) = emit(&args);
        assert_eq!(run.code, want, "{args:?}: {run:?}");
        assert!(
            dir.path().join("TEST_OUTPUT").exists(),
            "{args:?} wrote the result"
        );
    }
}

#[test]
fn legacy_alias_writes_identical_bytes() {
    let (dir, run) = emit(&["--warnings", "2", "--legacy-alias"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(files_in(dir.path()), ["HACBS_TEST_OUTPUT", "TEST_OUTPUT"]);
    assert_eq!(
        std::fs::read(dir.path().join("HACBS_TEST_OUTPUT")).unwrap(),
        std::fs::read(dir.path().join("TEST_OUTPUT")).unwrap()
    );
}

#[test]
fn images_processed_names_the_image_and_its_digests() {
    let digests = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    let (dir, run) = emit(&[
        "--image-url",
        "quay.io/org/app:v1",
        "--image-digest",
        digests,
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = std::fs::read_to_string(dir.path().join("IMAGES_PROCESSED")).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["image"]["pullspec"], "quay.io/org/app:v1");
    assert_eq!(value["image"]["digests"].as_array().unwrap().len(), 2);
    assert_eq!(validate(Document::ImagesProcessed, &text), vec![]);
}

#[test]
fn step_result_paths_override_the_results_dir() {
    let dir = tempfile::tempdir().unwrap();
    let step = dir.path().join("steps/step-emit/results");
    std::fs::create_dir_all(&step).unwrap();
    let mut command = stepkit();
    command
        .args(["result", "emit", "--failures", "1"])
        .env("STEPKIT_TEST_OUTPUT_PATH", step.join("TEST_OUTPUT"));
    let run = run(&mut command, None);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(test_output(&step).1["result"], "FAILURE");
}

#[test]
fn every_flag_reads_its_environment_variable_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = stepkit();
    command
        .args(["result", "emit", "--note", "from the flag"])
        .env("RESULTS_DIR", dir.path())
        .env("STEPKIT_FAILURES", "2")
        .env("STEPKIT_NOTE", "from the environment")
        .env("STEPKIT_NAMESPACE", "policies");
    let run = run(&mut command, None);
    assert_eq!(run.code, 0, "{run:?}");
    let value = test_output(dir.path()).1;
    assert_eq!(value["failures"], 2);
    assert_eq!(value["note"], "from the flag");
    assert_eq!(value["namespace"], "policies");
}

#[test]
fn empty_environment_variables_count_as_unset() {
    // The StepAction maps every param to an env var; an unset param is an empty string.
    let dir = tempfile::tempdir().unwrap();
    let mut command = stepkit();
    command
        .args(["result", "emit"])
        .env("RESULTS_DIR", dir.path());
    for name in [
        "STEPKIT_FROM",
        "STEPKIT_RESULT",
        "STEPKIT_SUCCESSES",
        "STEPKIT_FAILURES",
        "STEPKIT_WARNINGS",
        "STEPKIT_NOTE",
        "STEPKIT_NAMESPACE",
        "STEPKIT_IMAGE_URL",
        "STEPKIT_IMAGE_DIGEST",
        "STEPKIT_SCAN_OUTPUT_PATH",
    ] {
        command.env(name, "");
    }
    let run = run(&mut command, None);
    assert_eq!(run.code, 0, "{run:?}");
    let value = test_output(dir.path()).1;
    assert_eq!(value["result"], "SUCCESS");
    assert_eq!(value["namespace"], "default");
    assert_eq!(files_in(dir.path()), ["TEST_OUTPUT"]);
}

#[test]
fn without_a_results_dir_it_only_prints() {
    let cwd = tempfile::tempdir().unwrap();
    let mut command = stepkit();
    command
        .current_dir(cwd.path())
        .args(["result", "emit", "--failures", "1"]);
    let run = run(&mut command, None);
    assert_eq!(run.code, 0, "{run:?}");
    let value: Value = serde_json::from_str(run.stdout.trim_end()).unwrap();
    assert_eq!(value["result"], "FAILURE");
    assert!(files_in(cwd.path()).is_empty());
    assert!(run.stderr.contains("printing only"), "{}", run.stderr);
}

/// A note of about 5 KB with characters Go's JSON escapes (`"`, `<`, `&`) and non-ASCII ones.
fn huge_note() -> String {
    "Policy \"required-labels\" <failed> & résumé ✓ — ".repeat(100)
}

#[test]
fn a_note_too_large_for_the_budget_is_shortened_and_printed_in_full_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let sbom = "https://example.com/sbom/".to_owned() + &"a".repeat(3475);
    std::fs::write(dir.path().join("SBOM_BLOB_URL"), &sbom).unwrap();
    let note = huge_note();
    let run = emit_into(dir.path(), &["--failures", "1", "--note", &note]);
    assert_eq!(run.code, 0, "{run:?}");
    let (text, value) = test_output(dir.path());
    let written = value["note"].as_str().unwrap();
    assert!(written.ends_with('…'), "{written}");
    assert!(written.len() >= 64, "{} bytes", written.len());
    assert!(note.starts_with(written.trim_end_matches('…')));
    assert!(run.stderr.contains(&note), "the full note goes to stderr");
    let total = entry_cost("TEST_OUTPUT", &text) + entry_cost("SBOM_BLOB_URL", &sbom);
    assert!(total <= 4096 - 256, "{total} bytes used");
    // As long as possible: one more character would not have fitted.
    assert!(
        total + 40 > 4096 - 256,
        "{total} bytes used: the note was cut too short"
    );
    assert_eq!(validate(Document::TestOutput, &text), vec![]);
}

#[test]
fn the_full_note_is_printed_once_right_after_the_warning_that_announces_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("SBOM_BLOB_URL"), "s".repeat(3475)).unwrap();
    let note = huge_note();
    let run = emit_into(dir.path(), &["--failures", "1", "--note", &note]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    let warning = lines
        .iter()
        .position(|line| line.contains("the full note follows"))
        .unwrap_or_else(|| panic!("no warning: {}", run.stderr));
    assert_eq!(
        lines.get(warning + 1),
        Some(&note.as_str()),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.matches(&note).count(), 1, "{}", run.stderr);
    assert!(
        !run.stdout.contains(&note),
        "stdout is the written TEST_OUTPUT only"
    );
}

#[test]
fn when_even_a_short_note_does_not_fit_it_exits_6_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("SBOM_BLOB_URL"), "b".repeat(3750)).unwrap();
    let run = emit_into(dir.path(), &["--failures", "1", "--note", &huge_note()]);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("SBOM_BLOB_URL"), "{}", run.stderr);
    assert_eq!(files_in(dir.path()), ["SBOM_BLOB_URL"]);
    assert!(run.stdout.is_empty());
}

#[test]
fn sidecar_logs_budget_is_per_result() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("SBOM_BLOB_URL"), "b".repeat(3750)).unwrap();
    let run = emit_into(
        dir.path(),
        &[
            "--results-from",
            "sidecar-logs",
            "--max-result-bytes",
            "8192",
            "--note",
            &huge_note(),
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(test_output(dir.path()).1["note"], huge_note());
}

#[test]
fn validate_lists_every_problem_with_its_json_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        r#"{"result":"success","timestamp":1649843611,"successes":1.0,"failures":"0"}"#,
    )
    .unwrap();
    let run = stepkit_run(&["result", "validate", path.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    for path in ["$.result", "$.timestamp", "$.successes", "$.failures", "$:"] {
        assert!(run.stdout.contains(path), "{path} in {}", run.stdout);
    }

    let good =
        r#"{"result":"SUCCESS","timestamp":"1649843611","successes":1,"failures":0,"warnings":0}"#;
    let run = support::run(
        stepkit().args(["result", "validate", "-"]),
        Some(good.as_bytes()),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.is_empty(), "{}", run.stdout);

    let run = stepkit_run(&["result", "validate", "/nonexistent/TEST_OUTPUT"]);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stderr.contains("/nonexistent/TEST_OUTPUT"),
        "{}",
        run.stderr
    );
}

#[test]
fn help_lists_the_groups_and_the_exit_codes() {
    let run = stepkit_run(&["--help"]);
    assert_eq!(run.code, 0);
    for group in ["result", "prowjob", "gate", "workspace", "task"] {
        assert!(
            run.stdout.contains(&format!("  {group} ")),
            "{group}: {}",
            run.stdout
        );
    }
    for code in 0..=6 {
        assert!(
            run.stdout.contains(&format!("\n  {code}  ")),
            "exit code {code}"
        );
    }
    assert!(run.stdout.contains("STEPKIT_<FLAG>"));
    let run = stepkit_run(&["--version"]);
    assert_eq!(
        run.stdout.trim(),
        format!("stepkit {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Every bad value is exit 2 before an input is read or a result written: the input named here
/// does not exist, and the error is about the value alone.
#[test]
fn every_bad_value_is_refused_before_the_inputs_are_read() {
    let cases: [(&[&str], &str); 4] = [
        (&["--timestamp", "yesterday"], "--timestamp \"yesterday\""),
        (
            &["--image-url", "quay.io/a/b", "--image-digest", "sha256:xyz"],
            "--image-digest \"sha256:xyz\"",
        ),
        (
            &["--image-digest", "sha256:0a1b"],
            "--image-digest needs --image-url",
        ),
        (&["--from", "nonsense", "missing.json"], "--from"),
    ];
    for (args, named) in cases {
        let (dir, run) =
            emit(&[&["--from", "conftest", "/nonexistent/report.json"], args].concat());
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains(named), "{args:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains("report.json"),
            "{args:?} read the input: {}",
            run.stderr
        );
        assert!(
            files_in(dir.path()).is_empty(),
            "{args:?}: {:?}",
            files_in(dir.path())
        );
    }
}
