//! Where steps and sidecars run, behind one interface: a [`Container`] (image, command, args,
//! env, working directory, script, and where each of Tekton's paths lives on this machine)
//! becomes one process, on the host ([`super::host`]) or in a podman container
//! ([`super::podman`]). This module supervises that process the same way for both: its output
//! becomes prefixed log lines, a deadline kills its whole process group (and removes the
//! container), cancellation stops it, and a readiness probe runs beside it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::report::Reporter;
use crate::core::poll::Cancel;

/// Which runtime runs an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// A process on this machine.
    Host,
    /// A process on this machine whose shell and applets are busybox's, as in busybox and
    /// alpine images (`/bin/sh` is busybox's ash, `[ a == b ]` works).
    Busybox,
    /// A podman container from the image.
    Podman,
    /// The stepkit image: the running stepkit binary, as a process on this machine.
    Stepkit,
}

impl RuntimeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Host => "host",
            RuntimeKind::Busybox => "busybox",
            RuntimeKind::Podman => "podman",
            RuntimeKind::Stepkit => "stepkit",
        }
    }

    /// Whether steps of this runtime are processes of this machine.
    pub fn on_host(self) -> bool {
        self != RuntimeKind::Podman
    }
}

impl std::str::FromStr for RuntimeKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "host" => Ok(RuntimeKind::Host),
            "busybox" => Ok(RuntimeKind::Busybox),
            "podman" => Ok(RuntimeKind::Podman),
            _ => Err(format!(
                "unknown runtime {text:?}: expected host, busybox or podman"
            )),
        }
    }
}

/// A directory of this machine seen at `container_path` by the step.
#[derive(Debug, Clone)]
pub struct Mount {
    pub container_path: String,
    /// Where the files are.
    pub source: PathBuf,
    /// Where a host step sees them: `source` itself, or for a read-only mount an empty
    /// directory of its own that `source` is bound onto, read-only, for that step alone.
    pub host_path: PathBuf,
    pub read_only: bool,
    /// A protection Tekton's pod gives that a host step may go without when this machine
    /// refuses mount namespaces (another step's directory, read-only).
    pub protective: bool,
}

impl Mount {
    /// A mount whose files a host step uses where they are.
    pub fn direct(container_path: impl Into<String>, dir: PathBuf) -> Mount {
        Mount {
            container_path: container_path.into(),
            source: dir.clone(),
            host_path: dir,
            read_only: false,
            protective: false,
        }
    }
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
    /// The command (empty: the image's entrypoint) and its args (Kubernetes' `command`/`args`).
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    /// Longest container path first.
    pub mounts: Vec<Mount>,
    /// Where the runtime may write the script file (the host side of /tekton/scripts).
    pub scripts_dir: PathBuf,
    /// A host directory for the stepkit binary's names (the host side of /tekton/bin).
    pub bin_dir: PathBuf,
    /// A directory of this step's own for what the runtime keeps per container (the host
    /// side of directories the container's own file system would have).
    pub private_dir: PathBuf,
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
    /// For podman: the container, to probe and to remove when the process is killed.
    podman_name: Option<String>,
    logs: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts `container` on its runtime, its output going to `reporter` line by line.
pub async fn start(container: &Container, reporter: &Reporter) -> anyhow::Result<Running> {
    let (command, podman_name) = match container.runtime {
        RuntimeKind::Podman => {
            let (command, name) = super::podman::command(container).await?;
            (command, Some(name))
        }
        _ => (super::host::command(container)?, None),
    };
    let spawned = spawn(command, &container.label, podman_name, reporter);
    let spawned = match spawned {
        Err(_) if container.mounts.iter().any(|m| m.protective) => {
            // Without namespaces the step still runs, as it would have before, and says so.
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                reporter.state(
                    &container.label,
                    "this machine refused a mount namespace: steps can write other steps' /tekton/steps directories, which a pod keeps read-only",
                );
            }
            let mut open = container.clone();
            open.mounts.retain(|m| !m.protective);
            spawn(super::host::command(&open)?, &open.label, None, reporter)
        }
        spawned => spawned,
    };
    spawned.map_err(|error| {
        let why = if container.runtime.on_host() && container.mounts.iter().any(|m| m.read_only) {
            " (a read-only mount needs a mount namespace of its own, which this machine refused; run the image with podman)"
        } else {
            ""
        };
        anyhow::anyhow!(
            "starting {} (image {}): {error}{why}",
            container.label,
            container.image
        )
    })
}

fn spawn(
    mut command: Command,
    label: &str,
    podman_name: Option<String>,
    reporter: &Reporter,
) -> std::io::Result<Running> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    let mut logs = Vec::new();
    if let Some(out) = child.stdout.take() {
        logs.push(forward(out, label.to_string(), reporter.clone()));
    }
    if let Some(err) = child.stderr.take() {
        logs.push(forward(err, label.to_string(), reporter.clone()));
    }
    Ok(Running {
        child,
        label: label.to_string(),
        podman_name,
        logs,
    })
}

/// Runs a readiness probe's command to its end (or `timeout`).
pub async fn run_probe(
    command: Command,
    label: &str,
    reporter: &Reporter,
    timeout: Duration,
    cancel: &Cancel,
) -> Exit {
    match spawn(command, label, None, reporter) {
        Ok(running) => running.wait(Some(timeout), cancel).await,
        Err(_) => Exit::Code(127),
    }
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
    /// group (and removes its podman container) when it does not end by itself.
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
        self.kill(matches!(exit, Exit::Code(_))).await;
        self.drain_logs().await;
        exit
    }

    /// Stops a process that is meant to run until told (a sidecar).
    pub async fn stop(mut self) {
        self.kill(false).await;
        let _ = self.child.wait().await;
        self.drain_logs().await;
    }

    async fn drain_logs(&mut self) {
        for log in self.logs.drain(..) {
            // The pipes close when the process group is gone; a daemon that kept them open
            // does not hold the step.
            let _ = tokio::time::timeout(Duration::from_secs(2), log).await;
        }
    }

    /// Kills the process group; a podman container that did not end by itself is removed (its
    /// `podman run` client may be gone already, and `--rm` removed one that ended).
    async fn kill(&mut self, ended_by_itself: bool) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on the process group this child leads (process_group(0)).
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
            }
        }
        let _ = self.child.start_kill();
        if let (Some(name), false) = (&self.podman_name, ended_by_itself) {
            super::podman::remove(name).await;
        }
    }

    /// A readiness probe's command, run where the process runs: `podman exec` in its
    /// container, or a process like it on the host.
    pub fn probe(&self, container: &Container, argv: &[String]) -> anyhow::Result<Command> {
        match &self.podman_name {
            Some(name) => Ok(super::podman::exec(name, argv)),
            None => {
                let mut check = container.clone();
                check.script = None;
                check.command = argv.to_vec();
                check.args = Vec::new();
                super::host::command(&check)
            }
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
    /// `host:COMMAND` or `busybox:COMMAND`: the image's entrypoint, for steps without a command
    /// (Tekton looks it up in the image's config; these runtimes cannot).
    entrypoint: Vec<String>,
}

impl ImageMap {
    pub fn parse(specs: &[String], default: RuntimeKind) -> Result<ImageMap, String> {
        let mut rules = Vec::new();
        for spec in specs {
            let (pattern, target) = spec.split_once('=').ok_or_else(|| {
                format!("--image {spec:?}: expected PATTERN=host, PATTERN=host:ENTRYPOINT, PATTERN=busybox, PATTERN=busybox:ENTRYPOINT or PATTERN=podman")
            })?;
            let (runtime, entrypoint) = target.split_once(':').unwrap_or((target, ""));
            let runtime: RuntimeKind = runtime
                .parse()
                .map_err(|e| format!("--image {spec:?}: {e}"))?;
            if !entrypoint.is_empty()
                && !matches!(runtime, RuntimeKind::Host | RuntimeKind::Busybox)
            {
                return Err(format!(
                    "--image {spec:?}: only the host and busybox runtimes take an entrypoint (host:ENTRYPOINT, busybox:ENTRYPOINT); {} knows the image's",
                    runtime.as_str()
                ));
            }
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
                "image {image} is not mapped to a runtime, and the host runtime runs only images mapped to it: add --image '{image}=host' if the step needs only tools this machine has (a POSIX shell, coreutils), --image '{image}=busybox' for a busybox or alpine shell, or --image '{image}=podman'"
            )),
            other => Ok(other),
        }
    }
}

impl ImageMap {
    /// The entrypoint a `host:COMMAND` or `busybox:COMMAND` rule gives `image` (empty when none).
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
        let map =
            ImageMap::parse(&["*bash*=busybox:/opt/entry".into()], RuntimeKind::Host).unwrap();
        assert_eq!(map.runtime_for("bash:5"), Ok(RuntimeKind::Busybox));
        assert_eq!(map.entrypoint_for("bash:5"), ["/opt/entry"]);
        let error = ImageMap::parse(&["x=podman:/entry".into()], RuntimeKind::Host).unwrap_err();
        assert!(error.contains("podman knows the image's"), "{error}");
    }
}
