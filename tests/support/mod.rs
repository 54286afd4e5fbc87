//! Helpers shared by the integration tests: run the real binary with a clean environment and
//! look at everything it printed and wrote.

#![allow(dead_code)]

pub mod kratix;
pub mod podman;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one run of `stepkit` did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Everything the command printed, to grep for secrets.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// A `stepkit` command with no inherited RESULTS_DIR or STEPKIT_* variables, so a developer's
/// environment cannot change what a test sees.
pub fn stepkit() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stepkit"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("STEPKIT_") || name == "RESULTS_DIR" {
            command.env_remove(&name);
        }
    }
    command
}

/// Runs `command`, feeding `stdin` when given.
pub fn run(command: &mut Command, stdin: Option<&[u8]>) -> Run {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("stepkit starts");
    if let Some(bytes) = stdin {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(bytes)
            .expect("stdin is written");
    }
    let output = child.wait_with_output().expect("stepkit finishes");
    Run {
        code: output.status.code().expect("stepkit exits with a code"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// `stepkit ARGS` with no stdin.
pub fn stepkit_run(args: &[&str]) -> Run {
    run(stepkit().args(args), None)
}

pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// The names of the files in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
