//! This repository's Tasks, StepActions and example Pipelines, run end to end with
//! `stepkit task run` as a cluster would run them: params into env, result paths, step results,
//! workspaces, Secrets. Each `tasks/*/*/tests/run.yaml` runs (with its `resources.yaml`), and
//! so does every Pipeline in `examples/` that can run here (the Kratix Promise is not a Tekton
//! Pipeline: tests/image.rs runs it). The remote services are the real registry and the fakes
//! of tests/support on 127.0.0.1, reached through the runs' params. A wrong env mapping in any
//! Task makes one of these fail.

#[path = "support/gangway.rs"]
mod gangway_fake;
#[path = "support/github.rs"]
mod github_fake;
#[path = "support/registry.rs"]
mod registry_harness;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use gangway_fake::{FakeProw, Script, Step};
use github_fake::{FakeGitHub, Role};
use support::{fixture, run, stepkit, Run};

const CANARY: &str = "canary-token-CANARYcanaryCANARYcanary0123456789ab";
const JOB: &str =
    "periodic-ci-openshift-multiarch-tuning-operator-main-ocp418-e2e-aws-ovn-proxy-mto-origin";
/// Images whose steps need only this machine's shell and tools.
const HOST_IMAGES: &[&str] = &[
    "docker.io/library/debian:12=host",
    "registry.access.redhat.com/ubi9/*=host",
];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `stepkit task run FILE --tasks tasks` with the test's extra arguments.
fn task_run(file: &Path, extra: &[String]) -> Command {
    let mut command = stepkit();
    command
        .args(["task", "run"])
        .arg(file)
        .arg("--tasks")
        .arg(repo("tasks"));
    for image in HOST_IMAGES {
        command.args(["--image", image]);
    }
    command.args(extra);
    command
}

/// Runs `command` off the async runtime, so the fakes keep answering.
async fn run_beside_fakes(mut command: Command) -> Run {
    tokio::task::spawn_blocking(move || run(&mut command, None))
        .await
        .unwrap()
}

fn check(out: &Run) {
    assert!(
        !out.all_output().contains(CANARY),
        "the token leaked: {}",
        out.all_output()
    );
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A directory holding a Secret's keys, as `--secret NAME=DIR` reads it.
fn secret_dir(key: &str, value: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(key), value).unwrap();
    dir
}

fn args(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn results_arg(dir: &tempfile::TempDir) -> [String; 2] {
    ["--results-dir".into(), dir.path().display().to_string()]
}

fn assert_valid_test_output(results: &Path, expected: &str) -> serde_json::Value {
    let value: serde_json::Value =
        serde_json::from_str(&read(results, "TEST_OUTPUT")).expect("TEST_OUTPUT is JSON");
    assert_eq!(value["result"], expected, "{value}");
    let valid = run(
        stepkit()
            .args(["result", "validate"])
            .arg(results.join("TEST_OUTPUT")),
        None,
    );
    assert_eq!(valid.code, 0, "{}", valid.all_output());
    value
}

// ---- tasks/*/*/tests/run.yaml ----

/// The resources whose tests/run.yaml a test below runs.
const RUNS_TESTED: &[&str] = &[
    "approval-gate",
    "emit-test-output",
    "lint-tekton",
    "provide-prowjob",
    "workspace-pull",
    "workspace-push",
];

#[test]
fn every_task_and_step_action_has_its_tests_run_here() {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(repo("tasks")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for version in std::fs::read_dir(&dir).unwrap() {
            let version = version.unwrap().path();
            if version.join("tests/run.yaml").is_file() {
                found.push(dir.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    assert_eq!(found, RUNS_TESTED, "add a test for each new tests/run.yaml");
}

fn catalog_run(name: &str) -> PathBuf {
    let base = repo("tasks").join(name);
    let version = std::fs::read_dir(&base).unwrap().next().unwrap().unwrap();
    version.path().join("tests/run.yaml")
}

#[test]
fn emit_test_output_runs_its_tests() {
    let results = tempfile::tempdir().unwrap();
    let out = run(
        &mut task_run(&catalog_run("emit-test-output"), &results_arg(&results)),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    let value = assert_valid_test_output(results.path(), "WARNING");
    assert_eq!(value["successes"], 12);
    assert_eq!(value["warnings"], 1);
    assert_eq!(value["note"], "1 deprecated base image");
}

#[test]
fn emit_test_output_alone_writes_a_valid_test_output() {
    let results = tempfile::tempdir().unwrap();
    let mut extra = args(&[
        "-p",
        "successes=7",
        "-p",
        "failures=1",
        "-p",
        "note=two checks",
    ]);
    extra.extend(results_arg(&results));
    let out = run(
        &mut task_run(
            &repo("tasks/emit-test-output/0.1/emit-test-output.yaml"),
            &extra,
        ),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    let value = assert_valid_test_output(results.path(), "FAILURE");
    assert_eq!(value["successes"], 7);
    assert_eq!(value["failures"], 1);
    assert_eq!(value["note"], "two checks");
}

#[test]
fn lint_tekton_runs_its_tests_on_a_config_map_checkout() {
    let results = tempfile::tempdir().unwrap();
    let out = run(
        &mut task_run(&catalog_run("lint-tekton"), &results_arg(&results)),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    // hello.yaml has no descriptions: warnings, not errors.
    let value = assert_valid_test_output(results.path(), "WARNING");
    assert_eq!(value["warnings"], 1, "{value}");
    assert_eq!(value["failures"], 0, "{value}");
}

#[test]
fn lint_tekton_lints_a_checkout_and_reports_test_output() {
    let checkout = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(checkout.path().join("defs")).unwrap();
    std::fs::copy(
        fixture("run/invalid.yaml"),
        checkout.path().join("defs/invalid.yaml"),
    )
    .unwrap();
    let results = tempfile::tempdir().unwrap();
    let mut extra = vec!["-w".into(), format!("source={}", checkout.path().display())];
    extra.extend(args(&[
        "-p",
        "PATHS=defs",
        "-p",
        "PROFILE=core",
        "-p",
        "FAIL_ON=never",
    ]));
    extra.extend(results_arg(&results));
    let out = run(
        &mut task_run(&repo("tasks/lint-tekton/0.1/lint-tekton.yaml"), &extra),
        None,
    );
    assert_eq!(
        out.code,
        0,
        "FAIL_ON=never lets the step pass: {}",
        out.all_output()
    );
    assert!(
        out.stderr.contains("lint-tekton/lint | defs/invalid.yaml:"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("undefined-param-ref"), "{}", out.stderr);
    let value = assert_valid_test_output(results.path(), "FAILURE");
    assert_eq!(value["failures"], 1);
}

/// A catalog run of workspace-push or workspace-pull against a real registry.
fn workspace_run(name: &str) -> (registry_harness::TestRegistry, Run, tempfile::TempDir) {
    let registry = registry_harness::TestRegistry::start();
    let host = format!("127.0.0.1:{}", registry.port());
    let results = tempfile::tempdir().unwrap();
    let mut extra = vec![
        "-p".into(),
        format!("registry={host}"),
        "-p".into(),
        format!("insecure-registries={host}"),
        "--format".into(),
        "json".into(),
    ];
    extra.extend(results_arg(&results));
    let out = run(&mut task_run(&catalog_run(name), &extra), None);
    (registry, out, results)
}

#[test]
fn workspace_push_runs_its_tests_in_both_forms() {
    let (registry, out, _) = workspace_run("workspace-push");
    assert_eq!(out.code, 0, "{}", out.all_output());
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let push = &report["tasks"][0]["results"];
    let host = format!("127.0.0.1:{}", registry.port());
    let reference = push["REFERENCE"].as_str().unwrap();
    assert!(
        reference.starts_with(&format!("{host}/stepkit-tests/workspace@sha256:")),
        "{reference}"
    );
    let trusted = push["TRUSTED_ARTIFACT"].as_str().unwrap();
    assert!(
        trusted.starts_with(&format!("oci:{host}/stepkit-tests/workspace@sha256:")),
        "{trusted}"
    );
    assert_eq!(registry.tags_on_disk("stepkit-tests/workspace").len(), 2);
}

#[test]
fn workspace_pull_runs_its_tests_and_carries_a_tree_between_two_tasks() {
    let (_registry, out, _) = workspace_run("workspace-pull");
    assert_eq!(out.code, 0, "{}", out.all_output());
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["status"], "Succeeded");
    let tasks = report["tasks"].as_array().unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["push", "pull"]);
    assert!(
        out.stderr.contains("pull/pull: succeeded"),
        "{}",
        out.stderr
    );
}

async fn fake_prow(script: Script) -> FakeProw {
    let fake = FakeProw::start().await;
    fake.set_valid_token(CANARY);
    fake.add_periodic(JOB);
    let file = "openshift-multiarch-tuning-operator-main__ocp418.yaml";
    let config = std::fs::read_to_string(fixture(&format!("prowjob/config/{file}"))).unwrap();
    fake.add_ci_operator_config(
        "master",
        "openshift",
        "multiarch-tuning-operator",
        file,
        &config,
    );
    fake.set_default_script(script);
    fake
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provide_prowjob_runs_its_tests_against_a_fake_gangway() {
    let fake = fake_prow(Script::new([
        Step::Scheduling,
        Step::Pending,
        Step::Success,
    ]))
    .await;
    let token = secret_dir("token", CANARY);
    let extra = vec![
        "-p".into(),
        format!("gangway-url={}", fake.url()),
        "-p".into(),
        format!("deck-url={}", fake.url()),
        "-p".into(),
        format!("release-repo-url={}", fake.url()),
        "-p".into(),
        "poll-interval=100ms".into(),
        "--secret".into(),
        format!("gangway-token={}", token.path().display()),
        // Not a param of the Task: how often the trigger step looks for the job's URL.
        "--env".into(),
        "STEPKIT_URL_POLL_INTERVAL=50ms".into(),
        "--format".into(),
        "json".into(),
    ];
    let out = run_beside_fakes(task_run(&catalog_run("provide-prowjob"), &extra)).await;
    check(&out);
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert_eq!(
        fake.created_executions().len(),
        1,
        "one job, triggered once"
    );
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let results = &report["tasks"][0]["results"];
    assert_eq!(
        results["PROWJOB_ID"],
        fake.created_executions()[0].id.as_str()
    );
    assert_eq!(results["PROWJOB_NAME"], JOB);
    assert_eq!(results["PROWJOB_STATUS"], "SUCCESS");
    let test_output: serde_json::Value =
        serde_json::from_str(results["TEST_OUTPUT"].as_str().unwrap()).unwrap();
    assert_eq!(test_output["result"], "SUCCESS");
}

/// Runs `command` (a run that opens an approval issue in `repository`), closes the issue as
/// completed by an allowed person once it is there, and returns how the run ended.
async fn approve_when_asked(fake: &FakeGitHub, repository: &str, mut command: Command) -> Run {
    let waiting = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut waited = Duration::ZERO;
    while fake.repo(repository).issues().is_empty() {
        assert!(waited < Duration::from_secs(30), "no issue was opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    let issue = fake.repo(repository).issues().remove(0);
    fake.repo(repository)
        .close(issue.number, "bob", "completed");
    let output = tokio::task::spawn_blocking(move || waiting.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let out = Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    check(&out);
    assert_eq!(fake.repo(repository).issues().len(), 1, "one issue");
    out
}

async fn fake_github(repository: &str) -> FakeGitHub {
    let fake = FakeGitHub::start().await;
    fake.add_token(CANARY, "deploy-bot");
    fake.add_repo(repository)
        .set_role("deploy-bot", Role::Write)
        .set_role("bob", Role::Write);
    fake.add_team_member("example-org", "release-managers", "bob", true);
    fake
}

/// How often the gate looks at the issue: not params of the Task.
const GATE_ENV: &[&str] = &[
    "--env",
    "STEPKIT_POLL_INTERVAL=100ms",
    "--env",
    "STEPKIT_MUTATION_SPACING=0s",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_gate_runs_its_tests_and_reports_the_decision() {
    let repository = "stepkit/approval-gate-tests";
    let fake = fake_github(repository).await;
    let token = secret_dir("token", CANARY);
    let results = tempfile::tempdir().unwrap();
    let mut extra = vec![
        "-p".into(),
        format!("github-api-url={}", fake.url()),
        "--secret".into(),
        format!("github-approval-token={}", token.path().display()),
        "--format".into(),
        "json".into(),
    ];
    extra.extend(args(GATE_ENV));
    extra.extend(results_arg(&results));
    let command = task_run(&catalog_run("approval-gate"), &extra);
    let out = approve_when_asked(&fake, repository, command).await;
    assert_eq!(out.code, 0, "{}", out.all_output());
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let approval = &report["tasks"][0]["results"];
    assert_eq!(approval["APPROVAL_STATE"], "approved", "{report}");
    let issue = fake.repo(repository).issues().remove(0);
    assert!(
        format!("{issue:?}").contains("checkout"),
        "the request is in the issue: {issue:?}"
    );
}

// ---- examples/ ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approval_gate_example_deploys_once_an_allowed_person_approves() {
    let repository = "example-org/deploy-approvals";
    let fake = fake_github(repository).await;
    let token = secret_dir("token", CANARY);
    let results = tempfile::tempdir().unwrap();
    let image =
        "quay.io/acme/app@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
    let mut extra = vec![
        "-p".into(),
        format!("image={image}"),
        "-p".into(),
        format!("github-api-url={}", fake.url()),
        "--secret".into(),
        format!("github-approval-token={}", token.path().display()),
    ];
    extra.extend(args(GATE_ENV));
    extra.extend(results_arg(&results));
    let command = task_run(&repo("examples/approval-gate/pipeline.yaml"), &extra);
    let out = approve_when_asked(&fake, repository, command).await;
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert!(
        out.stderr
            .contains(&format!("deploy/deploy | deploying {image}")),
        "{}",
        out.stderr
    );
    let issue = fake.repo(repository).issues().remove(0);
    assert!(issue.body.unwrap_or_default().contains(image));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provide_prowjob_example_triggers_one_job_and_reports_its_status() {
    // The job has succeeded by the first look, so the Task's 30s poll interval costs nothing.
    let fake = fake_prow(Script::new([Step::Success])).await;
    let token = secret_dir("token", CANARY);
    let results = tempfile::tempdir().unwrap();
    let snapshot = serde_json::json!({
        "application": "multiarch-tuning-operator",
        "components": [{
            "name": "multiarch-tuning-operator-bundle",
            "containerImage": "quay.io/redhat-user-workloads/mto-tenant/multiarch-tuning-operator-bundle@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "source": {"git": {"url": "https://github.com/openshift/multiarch-tuning-operator.git", "revision": "9b2e4c1d7a3f5e6b8c0d2f4a6b8c0e2f4a6b8c0d"}}
        }]
    });
    let mut extra = vec![
        "--tasks".into(),
        repo("examples/provide-prowjob").display().to_string(),
        "-p".into(),
        format!("SNAPSHOT={snapshot}"),
        "-p".into(),
        format!("GANGWAY_URL={}", fake.url()),
        "-p".into(),
        format!("DECK_URL={}", fake.url()),
        "-p".into(),
        format!("RELEASE_REPO_URL={}", fake.url()),
        "--secret".into(),
        format!("gangway-token={}", token.path().display()),
        "--env".into(),
        "STEPKIT_URL_POLL_INTERVAL=50ms".into(),
    ];
    extra.extend(results_arg(&results));
    // Konflux runs the Pipeline from an IntegrationTestScenario, labelling the PipelineRun.
    let file = fixture("run/examples/provide-prowjob-run.yaml");
    let out = run_beside_fakes(task_run(&file, &extra)).await;
    check(&out);
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert_eq!(fake.created_executions().len(), 1, "one job");
    let url = read(results.path(), "PROWJOB_URL");
    assert!(url.starts_with(&fake.url()), "{url}");
}

/// `git` in `dir`, which must succeed.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A git repository with `files` committed on main; its file:// URL and the commit.
fn git_repository(files: &[(&str, &str)]) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "--quiet", "--initial-branch=main"]);
    for (path, text) in files {
        let file = work.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    git(&work, &["add", "."]);
    git(&work, &["commit", "--quiet", "-m", "files"]);
    let commit = git(&work, &["rev-parse", "HEAD"]);
    let bare = dir.path().join("repo.git");
    git(
        dir.path(),
        &["clone", "--quiet", "--bare", "work", "repo.git"],
    );
    let url = format!("file://{}", bare.display());
    (dir, url, commit)
}

/// A partner catalog holding lint-tekton as its partner Task, plus `extra` files.
fn partner_catalog(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let task = repo("tasks/lint-tekton/0.1");
    let mut files = vec![
        (
            "partners/lint-tekton/0.1/lint-tekton.yaml".to_string(),
            read(&task, "lint-tekton.yaml"),
        ),
        (
            "partners/lint-tekton/0.1/README.md".to_string(),
            read(&task, "README.md"),
        ),
        (
            "partners/lint-tekton/0.1/tests/run.yaml".to_string(),
            read(&task, "tests/run.yaml"),
        ),
        (
            "partners/lint-tekton/OWNERS".to_string(),
            read(&task, "OWNERS"),
        ),
    ];
    files.extend(extra.iter().map(|(p, t)| (p.to_string(), t.to_string())));
    files
}

/// examples/partner-task-ci on a pull request of `files`: the clone Task from a bundle is a
/// stand-in that clones with this machine's git (tests/fixtures/run/stubs/git-clone.yaml).
fn partner_check(files: &[(String, String)]) -> (Run, tempfile::TempDir) {
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(p, t)| (&p[..], &t[..])).collect();
    let (_repository, url, commit) = git_repository(&borrowed);
    let source = tempfile::tempdir().unwrap();
    let results = tempfile::tempdir().unwrap();
    let mut extra = vec![
        "--tasks".into(),
        fixture("run/stubs").display().to_string(),
        "-p".into(),
        format!("git-url={url}"),
        "-p".into(),
        format!("revision={commit}"),
        "-w".into(),
        format!("source={}", source.path().display()),
    ];
    extra.extend(results_arg(&results));
    let out = run(
        &mut task_run(&repo("examples/partner-task-ci/pipeline.yaml"), &extra),
        None,
    );
    (out, results)
}

#[test]
fn the_partner_task_ci_example_lints_a_pull_request_and_always_reports() {
    let (out, results) = partner_check(&partner_catalog(&[]));
    assert_eq!(out.code, 0, "{}", out.all_output());
    assert!(
        out.stderr.contains(
            "report/report | partner-task-ci: Succeeded (clone Succeeded, lint Succeeded)"
        ),
        "{}",
        out.stderr
    );
    assert_valid_test_output(results.path(), "WARNING");

    let broken = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: broken\nspec:\n  steps:\n    - name: s\n      image: x\n      script: echo $(params.missing)\n";
    let files = partner_catalog(&[("partners/broken/0.1/broken.yaml", broken)]);
    let (out, _) = partner_check(&files);
    assert_eq!(out.code, 1, "{}", out.all_output());
    assert!(
        out.stderr
            .contains("report/report | lint found errors: see the lint TaskRun's log, or run"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_oci_workspace_example_builds_tests_and_vets_a_go_repository_through_a_registry() {
    let registry = registry_harness::TestRegistry::start_with_tls();
    let (_repository, url, _) = git_repository(&[
        ("go.mod", "module example.test/service\n\ngo 1.19\n"),
        (
            "main.go",
            "package main\n\nimport \"fmt\"\n\nfunc greeting() string { return \"hello\" }\n\nfunc main() { fmt.Println(greeting()) }\n",
        ),
        (
            "main_test.go",
            "package main\n\nimport \"testing\"\n\nfunc TestGreeting(t *testing.T) {\n\tif greeting() != \"hello\" {\n\t\tt.Fatal(greeting())\n\t}\n}\n",
        ),
    ]);
    let credentials = secret_dir("config.json", "{\"auths\":{}}");
    let mut extra = vec![
        "-p".into(),
        format!("git-url={url}"),
        "-p".into(),
        format!("repository={}/ci/workspaces", registry.host()),
        "--secret".into(),
        format!("registry-credentials={}", credentials.path().display()),
        // The registry's TLS certificate is the test's own.
        "--env".into(),
        format!("STEPKIT_CA_FILE={}", registry.ca_pem_path().display()),
        "--image".into(),
        "docker.io/alpine/git*=host:git".into(),
        "--image".into(),
        "docker.io/library/golang*=host".into(),
        "--format".into(),
        "json".into(),
    ];
    extra.extend(results_arg(&tempfile::tempdir().unwrap()));
    let out = run(
        &mut task_run(&repo("examples/oci-workspace/pipeline.yaml"), &extra),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let statuses: Vec<(&str, &str)> = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("clone", "Succeeded"),
            ("build", "Succeeded"),
            ("unit-test", "Succeeded"),
            ("lint", "Succeeded")
        ]
    );
    assert!(
        out.stderr
            .contains("unit-test/work | ok  \texample.test/service"),
        "go test ran: {}",
        out.stderr
    );
    // clone, build, unit-test and lint each pushed under a tag of their own.
    assert_eq!(registry.tags_on_disk("ci/workspaces").len(), 4);
}
