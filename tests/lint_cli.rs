//! `stepkit task lint` through the binary: exit codes, output formats, configuration (flags, the
//! config file found upward, inline suppressions) and input discovery.
//!
//! Each test runs in a scratch directory of its own, so neither the repository's
//! `.stepkit-lint.yaml` nor a GitHub Actions environment changes what it sees. Most tests rely on
//! `yaml-syntax` only, which the engine itself reports, so they do not depend on other rules.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stepkit::result::test_output::{validate, Document};
use support::{fixture, run, stepkit, Run};

const SYNTAX_ERROR: &str =
    "broken.yaml:6:5: error[yaml-syntax] YAML syntax error: did not find expected ',' or ']', while parsing a flow sequence that started at line 5, column 11";

/// A temporary working directory holding copies of the fixtures a test lints.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Scratch with `tests/fixtures/lint/cli/NAME` copied in for each name.
    fn with(names: &[&str]) -> Scratch {
        let scratch = Scratch::new();
        for name in names {
            let text = std::fs::read_to_string(fixture(&format!("lint/cli/{name}"))).unwrap();
            scratch.write(name, &text);
        }
        scratch
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `stepkit task lint ARGS` with the scratch directory as the working directory.
    fn lint(&self, args: &[&str]) -> Run {
        self.lint_from(self.path(), args, None)
    }

    fn lint_from(&self, dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
        run(lint_command(dir).args(args), stdin)
    }
}

/// `stepkit task lint` run from `dir`, as outside GitHub Actions.
fn lint_command(dir: &Path) -> Command {
    let mut command = stepkit();
    command
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        // Hermetic: no shellcheck verdicts from, or into, the user's cache.
        .env("STEPKIT_CACHE_DIR", "")
        .args(["task", "lint"]);
    command
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("lint/cli/{name}"))).unwrap()
}

fn parse_json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {run:?}"))
}

#[test]
fn a_clean_task_exits_0_and_says_so() {
    let scratch = Scratch::with(&["clean-task.yaml"]);
    let run = scratch.lint(&["clean-task.yaml"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "no problems in 1 file\n");
}

#[test]
fn a_syntax_error_is_a_finding_with_a_position_and_exits_1() {
    let scratch = Scratch::with(&["broken.yaml"]);
    let run = scratch.lint(&["broken.yaml"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stdout,
        format!("{SYNTAX_ERROR}\n1 error, 0 warnings, 0 infos in 1 file\n")
    );
    assert!(
        !run.stdout.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn json_format_has_the_findings_and_a_summary() {
    let scratch = Scratch::with(&["broken.yaml", "clean-task.yaml"]);
    let run = scratch.lint(&["--format", "json", "broken.yaml", "clean-task.yaml"]);
    assert_eq!(run.code, 1, "{run:?}");
    let report = parse_json(&run);
    assert_eq!(report["version"], 1);
    assert_eq!(report["tool"]["name"], "stepkit");
    assert_eq!(report["tool"]["version"], env!("CARGO_PKG_VERSION"));
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["rule"], "yaml-syntax");
    assert_eq!(findings[0]["severity"], "error");
    assert_eq!(findings[0]["path"], "broken.yaml");
    assert_eq!(findings[0]["line"], 6);
    assert_eq!(findings[0]["column"], 5);
    assert_eq!(
        report["summary"],
        serde_json::json!({ "errors": 1, "warnings": 0, "infos": 0, "files": 2, "documents": 1 })
    );
}

#[test]
fn sarif_format_is_a_code_scanning_log() {
    let scratch = Scratch::with(&["broken.yaml"]);
    let run = scratch.lint(&["--format", "sarif", "broken.yaml"]);
    assert_eq!(run.code, 1, "{run:?}");
    let log = parse_json(&run);
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let driver = &log["runs"][0]["tool"]["driver"];
    assert_eq!(driver["name"], "stepkit");
    assert_eq!(driver["rules"].as_array().unwrap().len(), 74);
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "yaml-syntax");
    assert_eq!(
        driver["rules"][result["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "yaml-syntax"
    );
    assert_eq!(result["level"], "error");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "broken.yaml");
    assert_eq!(location["region"]["startLine"], 6);
    assert_eq!(location["region"]["startColumn"], 5);
}

#[test]
fn github_format_writes_annotations_with_escaped_properties() {
    let scratch = Scratch::new();
    scratch.write("tasks,old/broken.yaml", &fixture_text("broken.yaml"));
    let run = scratch.lint(&["--format", "github", "tasks,old/broken.yaml"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stdout,
        "::error file=tasks%2Cold/broken.yaml,line=6,col=5,title=yaml-syntax::YAML syntax error: did not find expected ',' or ']', while parsing a flow sequence that started at line 5, column 11\n\
         1 error, 0 warnings, 0 infos in 1 file\n"
    );
}

#[test]
fn github_actions_picks_the_github_format_unless_one_is_given() {
    let scratch = Scratch::with(&["broken.yaml"]);
    let in_actions = |args: &[&str]| {
        run(
            lint_command(scratch.path())
                .env("GITHUB_ACTIONS", "true")
                .args(args),
            None,
        )
    };
    let output = in_actions(&["broken.yaml"]);
    assert_eq!(output.code, 1, "{output:?}");
    assert!(
        output
            .stdout
            .starts_with("::error file=broken.yaml,line=6,col=5,title=yaml-syntax::"),
        "{output:?}"
    );

    let output = in_actions(&["--format", "human", "broken.yaml"]);
    assert!(output.stdout.starts_with(SYNTAX_ERROR), "{output:?}");
}

#[test]
fn fail_on_never_reports_errors_but_exits_0() {
    let scratch = Scratch::with(&["broken.yaml"]);
    let run = scratch.lint(&["--fail-on", "never", "broken.yaml"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with(SYNTAX_ERROR), "{run:?}");
}

#[test]
fn a_rule_severity_override_changes_the_finding_and_the_exit_code() {
    let scratch = Scratch::with(&["broken.yaml"]);
    let run = scratch.lint(&["--rule", "yaml-syntax=warning", "broken.yaml"]);
    assert_eq!(run.code, 0, "a warning does not fail by default: {run:?}");
    assert_eq!(
        run.stdout,
        "broken.yaml:6:5: warning[yaml-syntax] YAML syntax error: did not find expected ',' or ']', while parsing a flow sequence that started at line 5, column 11\n\
         0 errors, 1 warning, 0 infos in 1 file\n"
    );

    let run = scratch.lint(&[
        "--rule",
        "yaml-syntax=warning",
        "--fail-on",
        "warning",
        "broken.yaml",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    let run = scratch.lint(&[
        "--rule",
        "yaml-syntax=info",
        "--fail-on",
        "warning",
        "broken.yaml",
    ]);
    assert_eq!(run.code, 0, "an info is below --fail-on warning: {run:?}");
    assert!(run.stdout.contains("info[yaml-syntax]"), "{run:?}");
}

#[test]
fn a_disabled_rule_reports_nothing() {
    let scratch = Scratch::with(&["broken.yaml"]);
    let run = scratch.lint(&["--disable", "yaml-syntax", "broken.yaml"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "no problems in 1 file\n");
}

#[test]
fn an_unknown_rule_or_severity_is_a_usage_error() {
    let scratch = Scratch::with(&["broken.yaml"]);
    for args in [
        ["--rule", "yaml-sintax=error"],
        ["--disable", "yaml-sintax"],
    ] {
        let run = scratch.lint(&[args[0], args[1], "broken.yaml"]);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains("yaml-sintax"), "{args:?}: {run:?}");
        assert_eq!(run.stdout, "", "no report on a usage error");
    }
    let run = scratch.lint(&["--rule", "yaml-syntax=fatal", "broken.yaml"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("fatal"), "{run:?}");
}

#[test]
fn the_config_file_is_found_upward_from_the_working_directory() {
    let scratch = Scratch::new();
    scratch.write(".stepkit-lint.yaml", "rules:\n  yaml-syntax: warning\n");
    scratch.write("task/broken/broken.yaml", &fixture_text("broken.yaml"));
    let run = scratch.lint_from(&scratch.path().join("task/broken"), &["broken.yaml"], None);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .starts_with("broken.yaml:6:5: warning[yaml-syntax] "),
        "{run:?}"
    );

    let run = scratch.lint_from(
        &scratch.path().join("task/broken"),
        &["--rule", "yaml-syntax=error", "broken.yaml"],
        None,
    );
    assert_eq!(
        run.code, 1,
        "the command line beats the config file: {run:?}"
    );
}

#[test]
fn an_explicit_config_file_is_used_instead() {
    let scratch = Scratch::with(&["broken.yaml"]);
    scratch.write(".stepkit-lint.yaml", "rules:\n  yaml-syntax: warning\n");
    let other = scratch.write(
        "ci/lint.yaml",
        "fail-on: never\nrules:\n  yaml-syntax: info\n",
    );
    let run = scratch.lint(&["--config", other.to_str().unwrap(), "broken.yaml"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("info[yaml-syntax]"), "{run:?}");
    assert!(
        run.stdout
            .ends_with("0 errors, 0 warnings, 1 info in 1 file\n"),
        "{run:?}"
    );

    let run = scratch.lint(&["--config", "ci/missing.yaml", "broken.yaml"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("ci/missing.yaml"), "{run:?}");
}

#[test]
fn a_config_that_is_a_fifo_or_oversized_is_refused_not_read() {
    let scratch = Scratch::with(&["clean-task.yaml"]);
    let fifo = scratch.write("ci/placeholder", "");
    std::fs::remove_file(&fifo).unwrap();
    let fifo = fifo.with_file_name("lint.fifo");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path; mkfifo only creates the node. No one ever writes to it, so
    // a reader that opened it would wait forever.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let run = scratch.lint(&["--config", fifo.to_str().unwrap(), "clean-task.yaml"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("lint.fifo") && run.stderr.contains("FIFO"),
        "{run:?}"
    );

    let huge = scratch.write("ci/huge.yaml", &format!("# {}\n", "x".repeat(2 << 20)));
    let run = scratch.lint(&["--config", huge.to_str().unwrap(), "clean-task.yaml"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("huge.yaml") && run.stderr.contains("larger than"),
        "{run:?}"
    );
}

#[test]
fn a_malformed_config_file_is_a_usage_error_naming_it() {
    let scratch = Scratch::with(&["clean-task.yaml"]);
    for config in [
        "profil: catalog\n",
        "rules:\n  no-such-rule: error\n",
        "rules:\n  yaml-syntax: loud\n",
        "rules: [yaml-syntax\n",
    ] {
        scratch.write(".stepkit-lint.yaml", config);
        let run = scratch.lint(&["clean-task.yaml"]);
        assert_eq!(run.code, 2, "{config:?}: {run:?}");
        assert!(
            run.stderr.contains(".stepkit-lint.yaml"),
            "{config:?}: {run:?}"
        );
        assert_eq!(run.stdout, "", "{config:?}");
    }
}

#[test]
fn inline_suppressions_hide_the_named_rule_on_their_line() {
    let scratch = Scratch::with(&["suppressed-lines.yaml", "suppressed-file.yaml"]);
    let run = scratch.lint(&["suppressed-lines.yaml"]);
    assert_eq!(run.code, 1, "{run:?}");
    let syntax: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("[yaml-syntax]"))
        .collect();
    assert_eq!(
        syntax,
        ["suppressed-lines.yaml:18:7: error[yaml-syntax] key \"default\" appears twice in the same mapping; Kubernetes keeps only the last one"],
        "lines 9 and 12 are suppressed: {run:?}"
    );

    let run = scratch.lint(&["suppressed-file.yaml"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains("yaml-syntax"), "{run:?}");
}

#[test]
fn a_dash_reads_yaml_from_stdin() {
    let scratch = Scratch::new();
    let run = scratch.lint_from(
        scratch.path(),
        &["-"],
        Some(fixture_text("broken.yaml").as_bytes()),
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stdout,
        "-:6:5: error[yaml-syntax] YAML syntax error: did not find expected ',' or ']', while parsing a flow sequence that started at line 5, column 11\n\
         1 error, 0 warnings, 0 infos in 1 file\n"
    );

    let run = scratch.lint_from(
        scratch.path(),
        &["-"],
        Some(fixture_text("clean-task.yaml").as_bytes()),
    );
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn directories_are_searched_for_yaml_skipping_dot_directories() {
    let scratch = Scratch::new();
    let broken = fixture_text("broken.yaml");
    scratch.write("repo/task/a.yaml", &broken);
    scratch.write("repo/task/deep/b.yml", &broken);
    scratch.write("repo/.github/workflows/c.yaml", &broken);
    scratch.write("repo/.hidden.yaml", &broken);
    scratch.write("repo/task/notes.txt", &broken);
    let run = scratch.lint(&["repo"]);
    assert_eq!(run.code, 1, "{run:?}");
    let paths: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split(':').next())
        .collect();
    assert_eq!(
        paths,
        [
            "repo/task/a.yaml",
            "repo/task/deep/b.yml",
            "2 errors, 0 warnings, 0 infos in 2 files"
        ]
    );
}

#[test]
fn no_yaml_or_a_missing_path_is_a_usage_error() {
    let scratch = Scratch::new();
    scratch.write("docs/README.md", "# nothing to lint\n");
    let run = scratch.lint(&["docs"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no YAML files"), "{run:?}");

    let run = scratch.lint(&["task/missing.yaml"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("task/missing.yaml"), "{run:?}");
}

#[test]
fn test_output_counts_files_by_their_worst_finding() {
    let scratch = Scratch::with(&["broken.yaml", "clean-task.yaml"]);
    let results = scratch.path().join("results");
    std::fs::create_dir(&results).unwrap();
    let run = scratch.lint(&[
        "--test-output",
        "--results-dir",
        "results",
        "broken.yaml",
        "clean-task.yaml",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .ends_with("1 error, 0 warnings, 0 infos in 2 files\n"),
        "stdout keeps the report: {run:?}"
    );
    let text = std::fs::read_to_string(results.join("TEST_OUTPUT")).expect("TEST_OUTPUT written");
    assert_eq!(validate(Document::TestOutput, &text), vec![]);
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["result"], "FAILURE");
    assert_eq!(
        (&value["successes"], &value["failures"], &value["warnings"]),
        (&1.into(), &1.into(), &0.into())
    );

    let run = scratch.lint(&[
        "--test-output",
        "--results-dir",
        "results",
        "clean-task.yaml",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let value: Value =
        serde_json::from_str(&std::fs::read_to_string(results.join("TEST_OUTPUT")).unwrap())
            .unwrap();
    assert_eq!(value["result"], "SUCCESS");
    assert_eq!(
        (&value["successes"], &value["failures"]),
        (&1.into(), &0.into())
    );
}

#[test]
fn list_rules_prints_the_catalogue() {
    let run = Scratch::new().lint(&["--list-rules"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1 + 74, "a header and 74 rules");
    assert!(lines[1].starts_with("1    yaml-syntax "), "{}", lines[1]);
    assert!(
        lines[71].starts_with("71   shellcheck-missing "),
        "{}",
        lines[71]
    );
}

#[test]
fn verbose_reports_documents_that_are_not_tekton() {
    let scratch = Scratch::with(&["configmap.yaml"]);
    let run = scratch.lint(&["configmap.yaml"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "no problems in 1 file\n");

    let run = scratch.lint(&["--verbose", "configmap.yaml"]);
    assert_eq!(run.code, 0, "an info does not fail: {run:?}");
    assert_eq!(
        run.stdout,
        "configmap.yaml:2:1: info[not-tekton] not a Tekton object (v1 ConfigMap); skipped\n\
         0 errors, 0 warnings, 1 info in 1 file\n"
    );
}

/// Needs the `privileged` and `image-latest-tag` rules: privilege fails the run, a latest tag
/// is policy (a warning) in the core profile.
#[test]
fn a_privileged_step_with_a_latest_image_fails() {
    let scratch = Scratch::with(&["privileged.yaml"]);
    let run = scratch.lint(&["privileged.yaml"]);
    assert_eq!(run.code, 1, "{run:?}");
    let has = |prefix: &str, label: &str| {
        run.stdout
            .lines()
            .any(|l| l.starts_with(prefix) && l.contains(label))
    };
    assert!(
        has("privileged.yaml:9:", "warning[image-latest-tag]"),
        "{run:?}"
    );
    assert!(has("privileged.yaml:12:", "error[privileged]"), "{run:?}");

    let run = scratch.lint(&["--format", "github", "privileged.yaml"]);
    assert!(
        run.stdout.contains("::error file=privileged.yaml,line=12,"),
        "{run:?}"
    );
}

/// A tree with a FIFO, a dangling symlink, a symlink to /dev/zero and a bomb still lints its
/// other files, reports each bad path, and never hangs or exits 6.
#[test]
fn hostile_paths_are_findings_and_the_rest_is_still_linted() {
    let scratch = Scratch::with(&["privileged.yaml"]);
    let dir = scratch.path();
    let fifo = dir.join("pipe.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink(dir.join("gone.yaml"), dir.join("dangling.yaml")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.yaml")).unwrap();
    std::fs::write(
        dir.join("deep.yaml"),
        "a: ".to_string() + &"[".repeat(100_000),
    )
    .unwrap();

    let run = scratch.lint(&["--format", "json", "."]);
    assert_eq!(run.code, 1, "{run:?}");
    let findings = parse_json(&run)["findings"].as_array().unwrap().clone();
    let rule_of = |path: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f["path"] == path)
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(rule_of("./pipe.yaml"), ["not-regular-file"]);
    assert_eq!(rule_of("./dangling.yaml"), ["not-regular-file"]);
    assert_eq!(rule_of("./zero.yaml"), ["not-regular-file"]);
    assert_eq!(rule_of("./deep.yaml"), ["yaml-limits"]);
    assert!(rule_of("./privileged.yaml").contains(&"privileged".to_string()));

    // Named on the command line, a FIFO is what it is, not "no such file".
    let run = scratch.lint(&["pipe.yaml", "privileged.yaml"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "pipe.yaml:1:1: error[not-regular-file] a FIFO (named pipe), not a regular file"
        ),
        "{run:?}"
    );
    assert!(run.stdout.contains("privileged.yaml"), "{run:?}");
}

#[test]
fn a_file_past_the_size_limit_is_a_finding() {
    let scratch = Scratch::with(&["clean-task.yaml"]);
    let run = scratch.lint(&["--max-file-size", "64", "clean-task.yaml"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .starts_with("clean-task.yaml:1:1: error[yaml-limits] larger than the 64-byte limit"),
        "{run:?}"
    );
}

/// Adoption on a big catalog: record today's findings, then fail only on new ones, even after
/// the old ones moved down the file.
#[test]
fn a_baseline_fails_only_on_new_findings() {
    let scratch = Scratch::with(&["privileged.yaml"]);
    let run = scratch.lint(&["--write-baseline", "baseline.json", "privileged.yaml"]);
    assert_eq!(run.code, 1, "writing a baseline still reports: {run:?}");
    let recorded: Value = serde_json::from_str(
        &std::fs::read_to_string(scratch.path().join("baseline.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        recorded["findings"].as_array().unwrap().len(),
        2,
        "{recorded}"
    );

    let run = scratch.lint(&["--baseline", "baseline.json", "privileged.yaml"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .ends_with("no problems in 1 file (2 more in the baseline)\n"),
        "{run:?}"
    );

    // Lines move (a comment on top) and a new problem appears: only that one is reported.
    let moved = format!(
        "# moved down\n# by two lines\n{}",
        fixture_text("privileged.yaml").replace(
            "      securityContext:",
            "      securityContext:\n        allowPrivilegeEscalation: true"
        )
    );
    scratch.write("privileged.yaml", &moved);
    let run = scratch.lint(&[
        "--baseline",
        "baseline.json",
        "--format",
        "json",
        "privileged.yaml",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    let report = parse_json(&run);
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["allow-privilege-escalation"], "{report}");
    assert_eq!(report["summary"]["baselined"], 2);

    let run = scratch.lint(&["--baseline", "missing.json", "privileged.yaml"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("missing.json"), "{run:?}");
}

#[test]
fn max_warnings_fails_a_run_with_too_many_warnings() {
    let scratch = Scratch::with(&["privileged.yaml"]);
    let args = ["--rule", "privileged=off", "privileged.yaml"];
    let run = scratch.lint(&args);
    assert_eq!(run.code, 0, "one warning, no error: {run:?}");
    let run = scratch.lint(&[&["--max-warnings", "1"][..], &args].concat());
    assert_eq!(run.code, 0, "{run:?}");
    let run = scratch.lint(&[&["--max-warnings", "0"][..], &args].concat());
    assert_eq!(run.code, 1, "{run:?}");
}

/// Rule ids and severities are checked before the config file or any input is read: both named
/// here are missing, and the error is about the value alone (exit 2).
#[test]
fn every_bad_value_is_refused_before_the_config_and_inputs_are_read() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["--rule", "no-such-rule=error"],
            "unknown rule \"no-such-rule\"",
        ),
        (&["--rule", "run-as-root=loud"], "rule run-as-root"),
        (&["--rule", "run-as-root"], "expected ID=SEVERITY"),
        (
            &["--disable", "no-such-rule"],
            "unknown rule \"no-such-rule\"",
        ),
    ];
    for (args, named) in cases {
        let out = run(
            stepkit()
                .args(["task", "lint", "--config", "/nonexistent/lint.yaml"])
                .args(args)
                .arg("/nonexistent/tasks"),
            None,
        );
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(named), "{args:?}: {}", out.stderr);
        assert!(
            !out.stderr.contains("nonexistent"),
            "{args:?}: {}",
            out.stderr
        );
    }
}
