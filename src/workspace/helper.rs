//! Running a docker credential helper, `docker-credential-NAME get`, as docker does: the server
//! on standard input, `{"ServerURL", "Username", "Secret"}` on standard output. Unlike a bare
//! `wait()`, a helper that hangs (a keyring waiting for a prompt nobody answers) is killed at
//! its timeout, and the error names it (exit 5).
//!
//! A helper's output may hold a secret, so errors never quote it.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::core::error::Error;
use crate::core::progress::human_duration;

/// How long a helper may take unless the caller says otherwise: helpers that ask a cloud for a
/// token (ECR, GCR) answer within seconds.
pub const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(60);

/// The most a helper may print: a JSON object with a token in it.
const MAX_OUTPUT_BYTES: u64 = 1024 * 1024;

/// What a helper gave.
#[derive(PartialEq, Eq)]
pub enum HelperCredential {
    UsernamePassword(String, String),
    /// An OAuth identity token (`Username` is `<token>`), which a registry client cannot use.
    IdentityToken,
}

/// Why a helper gave nothing usable.
#[derive(Debug)]
pub enum HelperFailure {
    /// `docker-credential-NAME` is not on PATH, or cannot be run.
    CannotRun(std::io::Error),
    /// It did not finish within the timeout, and was killed.
    TimedOut(Duration),
    /// It exited with an error.
    Failed,
    /// It printed something that is not a credential.
    Unreadable,
}

#[derive(Deserialize)]
struct HelperOutput {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Asks `docker-credential-{helper}` for the credentials of `server`. `Ok(None)` when it has
/// none (it says "credentials not found", as docker treats it).
pub fn get(
    helper: &str,
    server: &str,
    timeout: Duration,
) -> Result<Option<HelperCredential>, HelperFailure> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(HelperFailure::CannotRun)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input is judged by its exit status.
        let _ = stdin.write_all(server.as_bytes());
    }
    // Read both pipes on threads of their own, so a chatty helper cannot block on a full pipe.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let succeeded = wait_or_kill(&mut child, timeout)?;
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !succeeded {
        let said = format!(
            "{} {}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        return Err(HelperFailure::Failed);
    }
    let output: HelperOutput =
        serde_json::from_slice(&stdout).map_err(|_| HelperFailure::Unreadable)?;
    Ok(Some(if output.username == "<token>" {
        HelperCredential::IdentityToken
    } else {
        HelperCredential::UsernamePassword(output.username, output.secret)
    }))
}

/// Waits for `child` until `timeout`; kills it then. Whether it exited successfully.
fn wait_or_kill(child: &mut Child, timeout: Duration) -> Result<bool, HelperFailure> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status.success()),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HelperFailure::TimedOut(timeout));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => return Err(HelperFailure::CannotRun(error)),
        }
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(pipe) = pipe {
            let _ = pipe.take(MAX_OUTPUT_BYTES).read_to_end(&mut bytes);
        }
        bytes
    })
}

/// The error for a helper that gave nothing usable, naming the helper and where it was
/// configured, never its output. A hung helper is a refusal (exit 5): the registry's
/// credentials are not to be had; a helper that is missing or broken is bad setup (exit 2).
pub fn failure_error(
    helper: &str,
    server: &str,
    failure: &HelperFailure,
    configured_in: &str,
) -> anyhow::Error {
    let program = format!("docker-credential-{helper}");
    match failure {
        HelperFailure::TimedOut(timeout) => Error::refused(format!(
            "the credential helper {program} named in {configured_in} did not answer for {server:?} within {}, and was stopped (is it waiting for a keyring or a prompt?)",
            human_duration(*timeout)
        )),
        HelperFailure::CannotRun(error) => Error::usage(format!(
            "the credential helper {program} named in {configured_in} could not be run for {server:?} (is {program} on PATH?): {error}"
        )),
        HelperFailure::Failed => Error::usage(format!(
            "the credential helper {program} named in {configured_in} failed for {server:?}: it exited with an error"
        )),
        HelperFailure::Unreadable => Error::usage(format!(
            "the credential helper {program} named in {configured_in} answered for {server:?} with something that is not a credential"
        )),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::exit_code;
    use std::os::unix::fs::PermissionsExt;

    /// A helper script named `docker-credential-<name>` in a directory of its own.
    fn helper_dir(name: &str, script: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("docker-credential-{name}"));
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    #[test]
    fn a_helper_that_hangs_is_killed_at_its_timeout_and_named_in_a_refusal() {
        let dir = helper_dir("hang", "sleep 30");
        let program = dir.path().join("docker-credential-hang");
        let started = Instant::now();
        let mut child = Command::new(&program)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let failure = wait_or_kill(&mut child, Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(failure, HelperFailure::TimedOut(_)));
        let error = failure_error("hang", "q.io", &failure, "config.json");
        assert_eq!(exit_code(&error), 5);
        assert!(
            error.to_string().contains("docker-credential-hang"),
            "{error}"
        );
    }
}
