//! The podman runtime: a step is a container from its image, with the run directory's
//! directories bind-mounted at Tekton's paths (`/tekton`, `/workspace`, workspaces, volumes,
//! read-only where the Task says so), so nothing is rewritten. Containers share the host's
//! network, as a pod's containers share one, so sidecars are reached at localhost. The podman
//! command is `STEPKIT_PODMAN` (default `podman`; a machine that needs `podman --runtime runc`
//! says so there); images are never pulled.
//!
//! A step's `command` is the container's entrypoint and its `args` follow; a step without a
//! command gets the one Tekton looks up in the image (its entrypoint, else its CMD). Env values travel in podman's own environment
//! (`--env NAME`), never on its command line; the few names podman itself reads (`PATH`,
//! `HOME`, ...) go through an `--env-file` only the run can read. A container runtime creates a
//! missing working directory, podman refuses one outside every mount: when the image does not
//! have it, the step gets an empty directory there, as it would in a pod.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use tokio::process::Command;

use super::runtime::Container;
use crate::core::error::Error;

/// Variables podman reads itself: a step's value for one of them must not become podman's.
const PODMAN_OWN: &[&str] = &["PATH", "HOME", "TMPDIR", "USER", "LANG", "TZ", "SHELL"];
const PODMAN_OWN_PREFIXES: &[&str] = &["XDG_", "CONTAINERS_", "CONTAINER_", "STORAGE_", "PODMAN_"];

fn podman_reads(name: &str) -> bool {
    PODMAN_OWN.contains(&name) || PODMAN_OWN_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The podman command line: `STEPKIT_PODMAN`, split on whitespace, or `podman`.
fn podman_argv() -> Vec<String> {
    std::env::var("STEPKIT_PODMAN")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_else(|| vec!["podman".to_string()])
}

fn podman() -> Command {
    let argv = podman_argv();
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]).stdin(Stdio::null());
    command
}

/// Runs a podman command that is not a step; its exit status and stderr.
async fn quietly(args: &[&str]) -> std::io::Result<(bool, String)> {
    let output = podman()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .map_err(|_| std::io::Error::other("podman did not answer within 60s"))??;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

/// Whether podman has `image` locally: checked before anything runs.
pub async fn check_image(image: &str) -> Result<(), String> {
    match quietly(&["image", "exists", image]).await {
        Ok((true, _)) => Ok(()),
        Ok((false, _)) => Err(format!(
            "image {image} is not in podman's local storage, and stepkit never pulls; load it first (podman pull, or podman import of a root file system)"
        )),
        Err(error) => Err(format!(
            "cannot run {} to check image {image}: {error} (install podman, or set STEPKIT_PODMAN)",
            podman_argv().join(" ")
        )),
    }
}

/// The `podman run` for `container`, and the container's name.
pub async fn command(container: &Container) -> anyhow::Result<(Command, String)> {
    let name = format!(
        "stepkit-{}-{:06x}",
        container
            .label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>(),
        fastrand::u32(..0x1000000)
    );
    let mut command = podman();
    command.args([
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "host",
        "--name",
        &name,
    ]);
    for mount in &container.mounts {
        command.arg("--volume").arg(volume(
            &mount.source,
            &mount.container_path,
            mount.read_only,
        ));
    }
    if let Some(dir) = container.working_dir.as_deref().filter(|d| !d.is_empty()) {
        let under_a_mount = container
            .mounts
            .iter()
            .any(|m| Path::new(dir).starts_with(&m.container_path));
        if !under_a_mount && !image_has_dir(&container.image, dir).await? {
            let own = container.private_dir.join("workdir");
            std::fs::create_dir_all(&own)?;
            command.arg("--volume").arg(volume(&own, dir, false));
        }
        command.arg("--workdir").arg(dir);
    }
    let mut env_file = String::new();
    for (key, value) in &container.env {
        if podman_reads(key) {
            if value.contains('\n') {
                return Err(Error::usage(format!(
                    "{}: env {key} has a line break, which podman cannot pass for a variable it reads itself",
                    container.label
                ))
                .into());
            }
            env_file.push_str(&format!("{key}={value}\n"));
        } else {
            command.arg("--env").arg(key).env(key, value);
        }
    }
    if !env_file.is_empty() {
        let path = container.private_dir.join("env");
        write_private(&path, &env_file)?;
        command.arg("--env-file").arg(path);
    }
    let mut entrypoint = container.command.clone();
    if entrypoint.is_empty() && container.script.is_none() {
        entrypoint = image_command(&container.image, !container.args.is_empty()).await?;
    }
    if let Some(script) = &container.script {
        let file = super::host::write_script(&container.scripts_dir, &container.label, script)?;
        let file_name = file
            .file_name()
            .context("a script file has a name")?
            .to_string_lossy()
            .into_owned();
        entrypoint = vec![format!("/tekton/scripts/{file_name}")];
    }
    if !entrypoint.is_empty() {
        let json = serde_json::to_string(&entrypoint).map_err(|e| Error::usage(e.to_string()))?;
        command.arg("--entrypoint").arg(json);
    }
    command.arg(&container.image);
    command.args(&container.args);
    Ok((command, name))
}

fn volume(source: &Path, container_path: &str, read_only: bool) -> String {
    let mut spec = format!("{}:{container_path}", source.display());
    if read_only {
        spec.push_str(":ro");
    }
    spec
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Whether `image` has the directory `dir`: podman refuses to start in a working directory the
/// image lacks, so a container is created there and initialised, never started.
async fn image_has_dir(image: &str, dir: &str) -> anyhow::Result<bool> {
    static KNOWN: Mutex<BTreeMap<(String, String), bool>> = Mutex::new(BTreeMap::new());
    let key = (image.to_string(), dir.to_string());
    if let Some(known) = KNOWN.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(*known);
    }
    let name = format!("stepkit-probe-{:08x}", fastrand::u32(..));
    // The entrypoint is never run; it only spares an image without one podman's refusal.
    let (created, stderr) = quietly(&[
        "create",
        "--pull",
        "never",
        "--name",
        &name,
        "--workdir",
        dir,
        "--entrypoint",
        "[\"/stepkit-probe\"]",
        image,
    ])
    .await?;
    if !created {
        return Err(Error::usage(format!(
            "podman cannot create a container of {image}: {}",
            stderr.trim()
        ))
        .into());
    }
    let (initialised, stderr) = quietly(&["init", &name]).await?;
    let _ = quietly(&["rm", "--force", "--time", "0", &name]).await;
    let has = initialised || !stderr.contains("does not exist");
    KNOWN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, has);
    Ok(has)
}

/// The command Tekton runs for a step without one: the image's entrypoint, else its CMD (and
/// the entrypoint followed by the CMD when the step has no args either).
async fn image_command(image: &str, has_args: bool) -> anyhow::Result<Vec<String>> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default, rename_all = "PascalCase")]
    struct Config {
        entrypoint: Option<Vec<String>>,
        cmd: Option<Vec<String>>,
    }
    let output = podman()
        .args(["image", "inspect", "--format", "{{json .Config}}", image])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .map_err(|_| anyhow::anyhow!("podman image inspect {image} did not answer within 60s"))??;
    if !output.status.success() {
        return Err(Error::usage(format!(
            "podman cannot inspect image {image}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
        .into());
    }
    let config: Config = serde_json::from_slice(&output.stdout).unwrap_or_default();
    let entrypoint = config.entrypoint.unwrap_or_default();
    let cmd = config.cmd.unwrap_or_default();
    Ok(match (entrypoint.is_empty(), has_args) {
        (true, _) => cmd,
        (false, true) => entrypoint,
        (false, false) => entrypoint.into_iter().chain(cmd).collect(),
    })
}

/// `podman exec` of `argv` in the running container `name` (a readiness probe).
pub fn exec(name: &str, argv: &[String]) -> Command {
    let mut command = podman();
    command.args(["exec", name]).args(argv);
    command
}

/// Removes a container that was killed (its `podman run` client may be gone already).
pub async fn remove(name: &str) {
    let _ = quietly(&["rm", "--force", "--time", "0", name]).await;
}
