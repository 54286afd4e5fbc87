//! `stepkit task run` with the podman runtime: a Task's steps and sidecar run as containers of a
//! busybox image imported into podman (tests/support/podman.rs), with Tekton's paths mounted
//! (tests/fixtures/run/podman.yaml says what each step checks), and the results budget over the
//! steps' termination messages fails the run as on a cluster. No container is left behind.

mod support;

use std::path::Path;
use std::process::Command;

use support::podman::{busybox_image, Podman};
use support::{files_in, fixture, run, stepkit, Run};

/// `stepkit task run tests/fixtures/run/podman.yaml` in podman, with a `data` and a read-only
/// `config` workspace.
fn podman_run(podman: &Podman, image: &str, data: &Path, config: &Path, extra: &[&str]) -> Run {
    let mut command: Command = stepkit();
    command
        .env("STEPKIT_PODMAN", Podman::ARGV)
        .env("CONTAINERS_CONF", podman.conf())
        .args(["task", "run"])
        .arg(fixture("run/podman.yaml"))
        .args(["-p", &format!("image={image}")])
        .args(["--image", "localhost/stepkit-test-*=podman"])
        .arg("-w")
        .arg(format!("data={}", data.display()))
        .arg("-w")
        .arg(format!("config={}", config.display()))
        .args(extra);
    run(&mut command, None)
}

fn assert_logged(out: &Run, line: &str) {
    assert!(
        out.stderr.lines().any(|l| l.trim_end() == line),
        "no line {line:?} in:\n{}",
        out.all_output()
    );
}

#[test]
fn a_task_runs_in_podman_with_tekton_paths_mounted_and_the_budget_enforced() {
    let mut podman = Podman::new();
    let image = busybox_image(&mut podman);
    let data = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    std::fs::write(config.path().join("setting"), "blue").unwrap();
    let results = tempfile::tempdir().unwrap();
    let results_dir = results.path().to_str().unwrap();

    let out = podman_run(
        &podman,
        &image,
        data.path(),
        config.path(),
        &["--results-dir", results_dir],
    );
    assert_eq!(out.code, 0, "{}", out.all_output());
    // The sidecar's probe passed (podman exec) before the first step read what it wrote.
    assert_logged(&out, "podman/write | sidecar ready");
    assert_logged(&out, "podman/write | config: blue");
    assert_eq!(
        std::fs::read_to_string(data.path().join("made")).unwrap(),
        "made in a container\n"
    );
    assert!(
        !config.path().join("written").exists(),
        "the read-only workspace was written"
    );
    // A step result into the next step's args; a working directory the image does not have.
    assert_logged(
        &out,
        "podman/command | word: podman in /made/by/the/runtime",
    );
    // args alone run as the command (busybox has no entrypoint); PATH is the step's.
    assert_logged(&out, "podman/args-only | PATH=/bin:/custom");
    assert_eq!(
        std::fs::read_to_string(results.path().join("greeting")).unwrap(),
        "hello"
    );
    assert_eq!(
        std::fs::read_to_string(results.path().join("a")).unwrap(),
        "x".repeat(10)
    );

    // Four results of 1100 bytes do not fit in the budget step's termination message.
    let over = tempfile::tempdir().unwrap();
    let out = podman_run(
        &podman,
        &image,
        data.path(),
        config.path(),
        &[
            "-p",
            "size=1100",
            "--results-dir",
            over.path().to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.all_output());
    assert!(
        out.stdout.contains(
            "\"step-budget\" exited with code 1: Termination message is above max allowed size 4096, caused by large task result."
        ),
        "{}",
        out.stdout
    );
    assert!(
        files_in(over.path()).is_empty(),
        "a failed budget carries no results"
    );
    assert!(
        podman.containers("stepkit-").is_empty(),
        "containers left behind: {:?}",
        podman.containers("stepkit-")
    );
}
