//! Where steps and sidecars run, behind one interface: a [`Container`] (image, argv, env,
//! working directory, script, and where each of Tekton's paths lives on this machine) becomes one
//! process, on the host ([`super::host`]) or in a podman container ([`super::podman`]). This
//! module supervises that process the same way for both: its output becomes prefixed log lines,
//! a deadline kills its whole process group, and cancellation stops it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::report::Reporter;
use crate::core::poll::Cancel;

/// Which runtime runs an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// A process on this machine.
    Host,
    /// A podman container from the image.
    Podman,
    /// The stepkit image: the running stepkit binary, as a process on this machine.
    Stepkit,
}

impl RuntimeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Host => "host",
            RuntimeKind::Podman => "podman",
            RuntimeKind::Stepkit => "stepkit",
        }
    }
}

impl std::str::FromStr for RuntimeKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "host" => Ok(RuntimeKind::Host),
            "podman" => Ok(RuntimeKind::Podman),
            _ => Err(format!("unknown runtime {text:?}: expected host or podman")),
        }
    }
}

/// A directory of this machine seen at `container_path` by the step.
#[derive(Debug, Clone)]
pub struct Mount {
    pub container_path: String,
    pub host_path: PathBuf,
    pub read_only: bool,
}

/// Everything needed to start one step or sidecar, in the container's view of paths.
#[derive(Debug, Clone)]
pub struct Container {
    /// `task/step`, for log prefixes and podman container names.
    pub label: String,
    pub image: String,
    pub runtime: RuntimeKind,
    /// The script's text (with its shebang), when the step has one.
    pub script: Option<String>,
    /// Command then args; empty means the image's entrypoint.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    /// Longest container path first.
    pub mounts: Vec<Mount>,
    /// Where the runtime may write the script file (the host side of /tekton/scripts).
    pub scripts_dir: PathBuf,
    /// A host directory for the stepkit binary's names (the host side of /tekton/bin).
    pub bin_dir: PathBuf,
}

/// How a supervised process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    TimedOut,
    Cancelled,
}

/// A started process and what stops it.
pub struct Running {
    child: Child,
    label: String,
    /// For podman: the container to remove when the process is killed.
    podman_name: Option<String>,
    logs: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts `container` on its runtime, its output going to `reporter` line by line.
pub fn start(container: &Container, reporter: &Reporter) -> anyhow::Result<Running> {
    let (mut command, podman_name) = match container.runtime {
        RuntimeKind::Host | RuntimeKind::Stepkit => (super::host::command(container)?, None),
        RuntimeKind::Podman => super::podman::command(container)?,
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {} (image {})", container.label, container.image))?;
    let mut logs = Vec::new();
    if let Some(out) = child.stdout.take() {
        logs.push(forward(out, container.label.clone(), reporter.clone()));
    }
    if let Some(err) = child.stderr.take() {
        logs.push(forward(err, container.label.clone(), reporter.clone()));
    }
    Ok(Running {
        child,
        label: container.label.clone(),
        podman_name,
        logs,
    })
}

fn forward<R>(stream: R, label: String, reporter: Reporter) -> tokio::task::JoinHandle<()>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).split(b'\n');
        while let Ok(Some(line)) = lines.next_segment().await {
            reporter.log(&label, &String::from_utf8_lossy(&line));
        }
    })
}

impl Running {
    /// Waits for the process, at most `timeout`, or until `cancel` fires; kills its process
    /// group (and podman container) when it does not end by itself.
    pub async fn wait(mut self, timeout: Option<Duration>, cancel: &Cancel) -> Exit {
        let deadline = async {
            match timeout {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        let exit = tokio::select! {
            status = self.child.wait() => match status {
                Ok(status) => Exit::Code(exit_code(status)),
                Err(error) => {
                    tracing::warn!("{}: cannot wait for the process: {error}", self.label);
                    Exit::Code(1)
                }
            },
            () = deadline => Exit::TimedOut,
            () = cancel.cancelled() => Exit::Cancelled,
        };
        // A container's processes end with its main process; so do a step's.
        self.kill().await;
        for log in self.logs.drain(..) {
            // The pipes close when the process group is gone; a daemon that kept them open
            // does not hold the step.
            let _ = tokio::time::timeout(Duration::from_secs(2), log).await;
        }
        exit
    }

    /// Stops a process that is meant to run until told (a sidecar).
    pub async fn stop(mut self) {
        self.kill().await;
        let _ = self.child.wait().await;
        for log in self.logs.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), log).await;
        }
    }

    async fn kill(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on the process group this child leads (process_group(0)).
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
            }
        }
        let _ = self.child.start_kill();
        if let Some(name) = &self.podman_name {
            super::podman::remove(name).await;
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// A new process with only `env` in its environment.
pub fn clean_command(program: &std::ffi::OsStr, env: &[(String, String)]) -> Command {
    let mut command = Command::new(program);
    command.env_clear();
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// `--image PATTERN=RUNTIME` rules: the first pattern (a glob where `*` also matches `/`) that
/// matches an image decides; else the stepkit image runs the running binary, and any other image
/// goes to the default runtime (`--runtime`), where the host runs only what was mapped to it.
#[derive(Debug, Clone)]
pub struct ImageMap {
    rules: Vec<Rule>,
    default: RuntimeKind,
}

#[derive(Debug, Clone)]
struct Rule {
    glob: globset::GlobMatcher,
    runtime: RuntimeKind,
    /// `host:COMMAND`: the image's entrypoint, for steps without a command (Tekton looks it up
    /// in the image's config; the host runtime cannot).
    entrypoint: Vec<String>,
}

impl ImageMap {
    pub fn parse(specs: &[String], default: RuntimeKind) -> Result<ImageMap, String> {
        let mut rules = Vec::new();
        for spec in specs {
            let (pattern, target) = spec.split_once('=').ok_or_else(|| {
                format!("--image {spec:?}: expected PATTERN=host, PATTERN=host:ENTRYPOINT or PATTERN=podman")
            })?;
            let (runtime, entrypoint) = target.split_once(':').unwrap_or((target, ""));
            let runtime: RuntimeKind = runtime
                .parse()
                .map_err(|e| format!("--image {spec:?}: {e}"))?;
            let glob = globset::Glob::new(pattern)
                .map_err(|e| format!("--image {spec:?}: {e}"))?
                .compile_matcher();
            rules.push(Rule {
                glob,
                runtime,
                entrypoint: entrypoint.split_whitespace().map(str::to_string).collect(),
            });
        }
        Ok(ImageMap { rules, default })
    }

    /// The runtime for `image`, or why none can run it.
    pub fn runtime_for(&self, image: &str) -> Result<RuntimeKind, String> {
        if let Some(rule) = self.rules.iter().find(|r| r.glob.is_match(image)) {
            return Ok(rule.runtime);
        }
        if is_stepkit_image(image) {
            return Ok(RuntimeKind::Stepkit);
        }
        match self.default {
            RuntimeKind::Host => Err(format!(
                "image {image} is not mapped to a runtime, and the host runtime runs only images mapped to it: add --image '{image}=host' if the step needs only tools this machine has (a POSIX shell, coreutils), or --image '{image}=podman'"
            )),
            other => Ok(other),
        }
    }
}

impl ImageMap {
    /// The entrypoint a `host:COMMAND` rule gives `image` (empty when none).
    pub fn entrypoint_for(&self, image: &str) -> Vec<String> {
        self.rules
            .iter()
            .find(|r| r.glob.is_match(image))
            .map(|r| r.entrypoint.clone())
            .unwrap_or_default()
    }
}

/// Whether `image` is a stepkit image (its repository's last path component is `stepkit`).
pub fn is_stepkit_image(image: &str) -> bool {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split(':').next() == Some("stepkit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_map_by_glob_then_stepkit_then_the_default() {
        let map = ImageMap::parse(
            &["mirror.gcr.io/*=host".into(), "*busybox*=podman".into()],
            RuntimeKind::Host,
        )
        .unwrap();
        assert_eq!(
            map.runtime_for("mirror.gcr.io/library/bash:5"),
            Ok(RuntimeKind::Host)
        );
        assert_eq!(
            map.runtime_for("localhost/busybox:1"),
            Ok(RuntimeKind::Podman)
        );
        assert_eq!(
            map.runtime_for("quay.io/stepkit/stepkit:0.1.0@sha256:00"),
            Ok(RuntimeKind::Stepkit)
        );
        let error = map.runtime_for("docker.io/alpine:3").unwrap_err();
        assert!(
            error.contains("--image 'docker.io/alpine:3=host'"),
            "{error}"
        );
        assert!(ImageMap::parse(&["x=docker".into()], RuntimeKind::Host).is_err());
        let map = ImageMap::parse(&["*busybox*=host:sh -e".into()], RuntimeKind::Host).unwrap();
        assert_eq!(map.entrypoint_for("busybox:1"), ["sh", "-e"]);
    }
}
