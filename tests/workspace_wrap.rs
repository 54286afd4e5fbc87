//! `stepkit workspace wrap` on Pipelines of its own (`tests/fixtures/wrap/`): each output is
//! compared with its golden file (`STEPKIT_BLESS=1` rewrites them), linted with `task lint`'s
//! core profile (0 errors), and is the same bytes every time; `-o` and `-i` write where they
//! say and nothing else; bad input is refused by name. The sequential, fan-in and `when` +
//! `finally` Pipelines then run end to end with `stepkit task run` against the real registry,
//! and each task sees what a shared directory would have held.

#[path = "support/registry.rs"]
mod registry_harness;
mod support;

use std::path::{Path, PathBuf};

use support::{fixture, run, stepkit, stepkit_run, Run};

const TO: &str = "registry.example/ci/{{workspace}}";
const HOST: &str = "docker.io/library/debian:12=host";

fn wrap(file: &Path, extra: &[&str]) -> Run {
    let mut command = stepkit();
    command
        .args(["workspace", "wrap"])
        .arg(file)
        .args(["--to", TO])
        .args(extra);
    run(&mut command, None)
}

fn lint_errors(yaml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrapped.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = stepkit_run(&["task", "lint", "--profile", "core", file.to_str().unwrap()]);
    out.all_output()
        .lines()
        .filter(|l| l.contains("error["))
        .collect::<Vec<_>>()
        .join("\n")
}

fn golden(name: &str, extra: &[&str]) {
    let input = fixture(&format!("wrap/{name}.yaml"));
    let out = wrap(&input, extra);
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert_eq!(lint_errors(&out.stdout), "", "{}", out.stdout);
    let again = wrap(&input, extra);
    assert_eq!(out.stdout, again.stdout, "not deterministic");
    let expected_path = fixture(&format!("wrap/{name}.wrapped.yaml"));
    if std::env::var_os("STEPKIT_BLESS").is_some() {
        std::fs::write(&expected_path, &out.stdout).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
        panic!(
            "{} missing; run with STEPKIT_BLESS=1",
            expected_path.display()
        )
    });
    assert_eq!(out.stdout, expected, "{name}: differs from its golden file");
}

#[test]
fn sequential_clone_build_test_hands_off_by_digest() {
    golden("sequential", &[]);
    let out = std::fs::read_to_string(fixture("wrap/sequential.wrapped.yaml")).unwrap();
    // build restores exactly what clone pushed, through clone's result.
    assert!(
        out.contains("- clone=$(tasks.clone.results.SOURCE_ARTIFACT)"),
        "{out}"
    );
    assert!(
        out.contains("- build=$(tasks.build.results.SOURCE_ARTIFACT)"),
        "{out}"
    );
    // test mounts it readOnly: restored, never pushed.
    assert_eq!(out.matches("name: oci-push-").count(), 2, "{out}");
    assert_eq!(out.matches("name: oci-restore-").count(), 2, "{out}");
    // YAML 1.1 words stay strings.
    assert!(out.contains("default: \"yes\""), "{out}");
}

#[test]
fn parallel_writers_fan_in_is_a_merge_of_both_digests() {
    golden("fan-in", &[]);
    let out = std::fs::read_to_string(fixture("wrap/fan-in.wrapped.yaml")).unwrap();
    // Against what both started from: clone's push.
    assert!(
        out.contains(
            "- \"--merge-base\"\n            - clone=$(tasks.clone.results.SOURCE_ARTIFACT)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "            - build=$(tasks.build.results.SOURCE_ARTIFACT)\n            - \"--from\"\n            - docs=$(tasks.docs.results.SOURCE_ARTIFACT)\n"
        ),
        "{out}"
    );
}

#[test]
fn a_when_guarded_writer_is_looked_up_by_tag_and_finally_reads_every_writer() {
    golden("when-finally", &[]);
    let out = std::fs::read_to_string(fixture("wrap/when-finally.wrapped.yaml")).unwrap();
    // build never names generate's result, so a skipped generate does not skip build.
    assert!(!out.contains("$(tasks.generate.results"), "{out}");
    assert!(
        out.contains("- generate?=registry.example/ci/source:$(context.pipelineRun.uid)-generate"),
        "{out}"
    );
    assert!(out.contains("- generate=clone"), "{out}");
    assert!(out.contains("- build=clone,generate"), "{out}");
}

#[test]
fn task_refs_are_inlined_from_the_tasks_directory() {
    let tasks = fixture("wrap/tasks");
    golden("taskref", &["--tasks", tasks.to_str().unwrap()]);
    let out = std::fs::read_to_string(fixture("wrap/taskref.wrapped.yaml")).unwrap();
    assert!(!out.contains("taskRef"), "{out}");
    assert!(out.contains("echo \"$(params.url)\""), "{out}");
    assert!(
        out.contains("test -s $(workspaces.source.path)/url"),
        "{out}"
    );
}

#[test]
fn a_pipeline_run_carries_its_empty_dir_workspaces_and_leaves_the_secret() {
    golden("pipelinerun", &[]);
    let out = std::fs::read_to_string(fixture("wrap/pipelinerun.wrapped.yaml")).unwrap();
    assert!(
        out.contains("oci-restore-cache") && out.contains("oci-push-source"),
        "{out}"
    );
    assert!(!out.contains("oci-push-credentials") && !out.contains("CREDENTIALS_ARTIFACT"));
    // link restores the cache build pushed; build, the first writer of the cache, restores
    // only the source fetch pushed.
    assert!(
        out.contains("- build=$(tasks.build.results.CACHE_ARTIFACT)"),
        "{out}"
    );
    assert!(
        out.contains("- fetch=$(tasks.fetch.results.SOURCE_ARTIFACT)"),
        "{out}"
    );
    assert_eq!(out.matches("name: oci-restore-").count(), 2, "{out}");
}

#[test]
fn output_goes_where_asked_and_the_input_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pipeline.yaml");
    let original = std::fs::read_to_string(fixture("wrap/sequential.yaml")).unwrap();
    std::fs::write(&input, &original).unwrap();
    let printed = wrap(&input, &[]);
    assert_eq!(printed.code, 0, "{}", printed.all_output());
    assert_eq!(std::fs::read_to_string(&input).unwrap(), original);

    let output = dir.path().join("out.yaml");
    let written = wrap(&input, &["-o", output.to_str().unwrap()]);
    assert_eq!(written.code, 0, "{}", written.all_output());
    assert_eq!(written.stdout, "");
    assert_eq!(std::fs::read_to_string(&output).unwrap(), printed.stdout);
    assert_eq!(std::fs::read_to_string(&input).unwrap(), original);

    // A FIFO (as /dev/null or /dev/stdout, not a regular file) is written into, never
    // replaced by a file.
    let fifo = input.with_file_name("out.fifo");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let to_fifo = wrap(&input, &["-o", fifo.to_str().unwrap()]);
    assert_eq!(to_fifo.code, 0, "{}", to_fifo.all_output());
    assert_eq!(reader.join().unwrap(), printed.stdout);
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&kind),
        "the FIFO was replaced by a file"
    );

    let in_place = wrap(&input, &["-i"]);
    assert_eq!(in_place.code, 0, "{}", in_place.all_output());
    assert_eq!(std::fs::read_to_string(&input).unwrap(), printed.stdout);

    // A file of several documents would lose the others: refused, untouched.
    let multi = dir.path().join("multi.yaml");
    let text = format!("{original}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n");
    std::fs::write(&multi, &text).unwrap();
    let refused = wrap(&multi, &["-i"]);
    assert_eq!(refused.code, 2, "{}", refused.all_output());
    assert!(
        refused.stderr.contains("holds 2 documents"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read_to_string(&multi).unwrap(), text);
}

/// Writes `yaml` to a file and wraps it; returns the run.
fn wrap_text(yaml: &str, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pipeline.yaml");
    std::fs::write(&file, yaml).unwrap();
    wrap(&file, extra)
}

fn refused(yaml: &str, extra: &[&str], needles: &[&str]) {
    let out = wrap_text(yaml, extra);
    assert_eq!(out.code, 2, "{}", out.all_output());
    assert_eq!(out.stdout, "");
    for needle in needles {
        assert!(
            out.stderr.contains(needle),
            "{needle:?} not in {}",
            out.stderr
        );
    }
}

const TWO_TASKS: &str = r#"apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  workspaces: [{name: source}]
  tasks:
    - name: first
      workspaces: [{name: ws, workspace: source SUBPATH}]
      FIRST
    - name: second
      runAfter: [first]
      workspaces: [{name: ws, workspace: source}]
      taskSpec:
        workspaces: [{name: ws}]
        steps: [{name: s, image: docker.io/library/debian:12, script: ls}]
"#;

fn two_tasks(first: &str, sub_path: &str) -> String {
    TWO_TASKS
        .replace("FIRST", first)
        .replace(" SUBPATH", sub_path)
}

const INLINE: &str = "taskSpec: {workspaces: [{name: ws}], steps: [{name: s, image: docker.io/library/debian:12, script: ls}]}";

#[test]
fn bad_input_is_refused_by_name() {
    refused(
        &two_tasks(INLINE, ", subPath: x"),
        &[],
        &["task \"first\"", "workspace \"ws\"", "subPath"],
    );
    refused(
        &two_tasks(
            "taskRef: {resolver: bundles, params: [{name: bundle, value: quay.io/org/tasks:1}, {name: name, value: build}]}",
            "",
        ),
        &[],
        &["task \"first\"", "bundles resolver", "bundle=quay.io/org/tasks:1", "--tasks"],
    );
    refused(
        &two_tasks("pipelineRef: {name: inner}", ""),
        &[],
        &["task \"first\"", "Pipeline in a Pipeline"],
    );
    refused(
        &two_tasks(
            &format!("matrix: {{params: [{{name: os, value: [a, b]}}]}}\n      {INLINE}"),
            "",
        ),
        &[],
        &["\"second\"", "\"first\"", "matrix"],
    );
    refused(
        &two_tasks(INLINE, ""),
        &["--workspace", "cache"],
        &["--workspace cache", "source"],
    );
    refused(
        &two_tasks(INLINE, ""),
        &["--to", "registry.example/ci@sha256:00"],
        &["--to"],
    );
    refused("kind: ConfigMap\n", &[], &["no Pipeline or PipelineRun"]);
    refused("a: [\n", &[], &["not valid YAML"]);
    let dir = tempfile::tempdir().unwrap();
    let out = wrap(dir.path(), &[]);
    assert_eq!(out.code, 2, "{}", out.all_output());
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
}

/// Runs `file` with `stepkit task run`, steps on the host, returning the run's JSON report.
fn task_run(file: &Path, extra: &[String]) -> (Run, serde_json::Value) {
    let mut command = stepkit();
    command
        .args(["task", "run"])
        .arg(file)
        .args(["--image", HOST, "--format", "json"])
        .args(extra);
    let out = run(&mut command, None);
    let report = serde_json::from_str(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out, report)
}

fn result_of(report: &serde_json::Value, task: &str, result: &str) -> String {
    report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == task)
        .and_then(|t| t["results"][result].as_str())
        .unwrap_or_else(|| panic!("no result {result} of {task} in {report}"))
        .to_string()
}

/// The fixture wrapped for the test registry.
fn wrapped_for(registry: &registry_harness::TestRegistry, name: &str, dir: &Path) -> PathBuf {
    let host = format!("127.0.0.1:{}", registry.port());
    let out_file = dir.join(format!("{name}.yaml"));
    let mut command = stepkit();
    command
        .args(["workspace", "wrap"])
        .arg(fixture(&format!("wrap/{name}.yaml")))
        .args(["--to", &format!("{host}/wrap/{{{{workspace}}}}")])
        .args(["--insecure-registry", &host])
        .arg("-o")
        .arg(&out_file);
    let out = run(&mut command, None);
    assert_eq!(out.code, 0, "{}", out.all_output());
    out_file
}

#[test]
fn the_wrapped_sequential_pipeline_restores_what_a_shared_directory_holds() {
    let registry = registry_harness::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let shared = tempfile::tempdir().unwrap();
    let (plain, plain_report) = task_run(
        &fixture("wrap/sequential.yaml"),
        &["-w".into(), format!("source={}", shared.path().display())],
    );
    assert_eq!(plain.code, 0, "{}", plain.all_output());

    let wrapped = wrapped_for(&registry, "sequential", dir.path());
    let (out, report) = task_run(&wrapped, &[]);
    assert_eq!(out.code, 0, "{}", out.all_output());
    // test lists the tree it restored: build's output, without the README build deleted.
    let listing = result_of(&report, "test", "listing");
    assert_eq!(listing, result_of(&plain_report, "test", "listing"));
    assert_eq!(listing, "./bin/app ./src/main.txt ");
    let build = result_of(&report, "build", "SOURCE_ARTIFACT");
    assert!(
        build.starts_with(&format!(
            "127.0.0.1:{}/wrap/source@sha256:",
            registry.port()
        )),
        "{build}"
    );
    assert!(
        out.stderr
            .contains(&format!("restoring what build pushed: {build}")),
        "{}",
        out.stderr
    );
    // build restored clone's push in place, so its push sends only what it changed: the
    // deleted README as a whiteout, the added binary, on clone's layer.
    assert!(
        out.stderr.contains("changed since it was pulled from") && out.stderr.contains("1 deleted"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_wrapped_fan_in_merges_both_branches() {
    let registry = registry_harness::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let wrapped = wrapped_for(&registry, "fan-in", dir.path());
    let (out, _) = task_run(&wrapped, &[]);
    assert_eq!(out.code, 0, "{}", out.all_output());
    // build's change to main.c and docs' deletion of TODO both reach package.
    for line in [
        "package/package | app",
        "package/package | main.c",
        "package/package | manual.txt",
        "package/package | src built",
    ] {
        assert!(
            out.stderr.lines().any(|l| l.trim_end() == line),
            "{line:?} in {}",
            out.stderr
        );
    }
    assert!(
        out.stderr.contains("restored from build, docs"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("package/package | TODO"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_skipped_writer_hands_over_what_it_was_given_and_finally_gets_the_last_push() {
    let registry = registry_harness::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let wrapped = wrapped_for(&registry, "when-finally", dir.path());
    for (generate, expected) in [
        (
            "false",
            ["report/report | built-from", "report/report | main.c"].as_slice(),
        ),
        (
            "true",
            [
                "report/report | built-from",
                "report/report | gen.c",
                "report/report | main.c",
            ]
            .as_slice(),
        ),
    ] {
        let (out, report) = task_run(&wrapped, &["-p".into(), format!("generate={generate}")]);
        assert_eq!(out.code, 0, "{}", out.all_output());
        assert_eq!(report["status"], "Succeeded", "{report}");
        let report_lines: Vec<&str> = out
            .stderr
            .lines()
            .map(str::trim_end)
            .filter(|l| l.starts_with("report/report | "))
            .collect();
        assert_eq!(
            report_lines, expected,
            "generate={generate}: {}",
            out.stderr
        );
        let build_ran = out.stderr.contains("build: Succeeded");
        assert!(
            build_ran,
            "build must run whether generate ran or not: {}",
            out.stderr
        );
    }
}

const EXAMPLE_HEADER: &str = "# Generated from before.yaml by `stepkit workspace wrap examples/oci-workspace/before.yaml\n# --workspace source --to quay.io/example-org/ci-workspaces/{{workspace}}`; do not edit:\n# tests/workspace_wrap.rs regenerates it (STEPKIT_BLESS=1) and fails when it drifts.\n";

#[test]
fn the_example_after_is_what_wrap_makes_of_before() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/oci-workspace");
    let mut command = stepkit();
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["workspace", "wrap", "examples/oci-workspace/before.yaml"])
        .args(["--workspace", "source"])
        .args(["--to", "quay.io/example-org/ci-workspaces/{{workspace}}"]);
    let out = run(&mut command, None);
    assert_eq!(out.code, 0, "{}", out.all_output());
    // The PipelineRun's volume claim becomes an emptyDir: the content travels over OCI.
    assert!(
        out.stderr
            .contains("workspace source was bound to a volume claim: now to an emptyDir"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stdout.contains("volumeClaimTemplate"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("      emptyDir: {}\n"),
        "{}",
        out.stdout
    );
    assert_eq!(lint_errors(&out.stdout), "");
    let generated = format!("{EXAMPLE_HEADER}{}", out.stdout);
    let after = root.join("after.yaml");
    if std::env::var_os("STEPKIT_BLESS").is_some() {
        std::fs::write(&after, &generated).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&after).unwrap_or_default(),
        generated,
        "examples/oci-workspace/after.yaml drifted from before.yaml; run with STEPKIT_BLESS=1"
    );
}

#[test]
fn a_chosen_workspace_bound_to_a_secret_is_refused() {
    let run_yaml = std::fs::read_to_string(fixture("wrap/pipelinerun.yaml")).unwrap();
    refused(
        &run_yaml,
        &["--workspace", "credentials"],
        &["workspace \"credentials\"", "cannot write"],
    );
}

/// Pushes a directory of `files` to `repo` with `stepkit workspace push`; returns the reference.
fn push_tree(
    registry: &registry_harness::TestRegistry,
    repo: &str,
    files: &[(&str, &str)],
) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
    let host = format!("127.0.0.1:{}", registry.port());
    let out = stepkit_run(&[
        "workspace",
        "push",
        dir.path().to_str().unwrap(),
        "--to",
        &format!("{host}/{repo}:t{}", files.len()),
        "--insecure-registry",
        &host,
    ]);
    assert_eq!(out.code, 0, "{}", out.all_output());
    out.stdout.trim().to_string()
}

fn restore(registry: &registry_harness::TestRegistry, dest: &Path, args: &[String]) -> Run {
    let host = format!("127.0.0.1:{}", registry.port());
    let mut command = stepkit();
    command
        .args(["workspace", "restore"])
        .arg(dest)
        .args(["--insecure-registry", &host])
        .args(args);
    run(&mut command, None)
}

#[test]
fn restore_falls_back_to_the_base_and_refuses_conflicting_parallel_writers() {
    let registry = registry_harness::TestRegistry::start();
    let host = format!("127.0.0.1:{}", registry.port());
    let base = push_tree(&registry, "wrap/base", &[("README", "base")]);
    let one = push_tree(&registry, "wrap/ws", &[("go.sum", "one")]);
    let two = push_tree(&registry, "wrap/ws", &[("go.sum", "two"), ("b", "b")]);

    // A writer that never pushed (its tag does not exist): the base is restored.
    let dest = tempfile::tempdir().unwrap();
    let out = restore(
        &registry,
        dest.path(),
        &[
            "--from".into(),
            format!("lint?={host}/wrap/ws:never-pushed"),
            "--base".into(),
            base.clone(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert!(out.stderr.contains("lint did not push"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(dest.path().join("README")).unwrap(),
        "base"
    );

    // Two parallel writers that changed the same path differently: refused, nothing restored.
    let dest = tempfile::tempdir().unwrap();
    let out = restore(
        &registry,
        dest.path(),
        &[
            "--from".into(),
            format!("build={one}"),
            "--from".into(),
            format!("docs={two}"),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.all_output());
    for needle in ["build", "docs", "go.sum"] {
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    }
    assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);

    // A writer that pushed covers the one before it.
    let dest = tempfile::tempdir().unwrap();
    let out = restore(
        &registry,
        dest.path(),
        &[
            "--from".into(),
            format!("build={one}"),
            "--from".into(),
            format!("docs?={host}/wrap/ws:t2"),
            "--covers".into(),
            "docs=build".into(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert_eq!(
        std::fs::read_to_string(dest.path().join("go.sum")).unwrap(),
        "two"
    );
    assert!(out.stderr.contains("restored from docs"), "{}", out.stderr);
}

#[test]
fn the_trusted_artifacts_form_carries_the_fan_in_too() {
    let registry = registry_harness::TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let host = format!("127.0.0.1:{}", registry.port());
    let wrapped = dir.path().join("fan-in.yaml");
    let mut command = stepkit();
    command
        .args(["workspace", "wrap"])
        .arg(fixture("wrap/fan-in.yaml"))
        .args(["--to", &format!("{host}/ta/{{{{workspace}}}}")])
        .args(["--insecure-registry", &host, "--trusted-artifacts", "-o"])
        .arg(&wrapped);
    let out = run(&mut command, None);
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert!(std::fs::read_to_string(&wrapped)
        .unwrap()
        .contains("- \"--trusted-artifacts\""));
    let (out, report) = task_run(&wrapped, &[]);
    assert_eq!(out.code, 0, "{}", out.all_output());
    let build = result_of(&report, "build", "SOURCE_ARTIFACT");
    assert!(
        build.starts_with(&format!("oci:{host}/ta/source@sha256:")),
        "{build}"
    );
    assert!(
        out.stderr.contains("restored from build, docs"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_base_is_what_readers_without_an_earlier_writer_restore() {
    let out = wrap(
        &fixture("wrap/when-finally.yaml"),
        &["--base", "registry.example/ci/{{workspace}}-base:v1"],
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert_eq!(lint_errors(&out.stdout), "");
    // Every restore falls back to the base, and clone (no writer before it) restores it.
    assert_eq!(
        out.stdout.matches("name: oci-restore-").count(),
        4,
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stdout
            .matches("- registry.example/ci/source-base:v1\n")
            .count(),
        4,
        "{}",
        out.stdout
    );
}
