//! The podman runtime: a step is a container from its image, with the run directory's
//! directories bind-mounted at Tekton's paths (`/tekton`, `/workspace`, workspaces, volumes), so
//! nothing is rewritten. Containers share the host's network, as a pod's containers share one, so
//! sidecars are reached at localhost. The podman command is `STEPKIT_PODMAN` (default `podman`;
//! a machine that needs `podman --runtime runc` says so there); images are never pulled.

use std::time::Duration;

use anyhow::Context as _;
use tokio::process::Command;

use super::runtime::Container;
use crate::core::error::Error;

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
    command.args(&argv[1..]);
    command
}

/// Whether podman has `image` locally: checked before anything runs.
pub async fn check_image(image: &str) -> Result<(), String> {
    let status = podman()
        .args(["image", "exists", image])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await;
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(_) => Err(format!(
            "image {image} is not in podman's local storage, and stepkit never pulls; load it first (podman pull, or podman import of a root file system)"
        )),
        Err(error) => Err(format!(
            "cannot run {} to check image {image}: {error} (install podman, or set STEPKIT_PODMAN)",
            podman_argv().join(" ")
        )),
    }
}

/// The `podman run` for `container`, and the container's name.
pub fn command(container: &Container) -> anyhow::Result<(Command, Option<String>)> {
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
        let mut spec = format!("{}:{}", mount.host_path.display(), mount.container_path);
        if mount.read_only {
            spec.push_str(":ro");
        }
        command.arg("--volume").arg(spec);
    }
    for (key, value) in &container.env {
        // The value travels in podman's own environment, never on its command line.
        command.arg("--env").arg(key).env(key, value);
    }
    if let Some(dir) = container.working_dir.as_deref().filter(|d| !d.is_empty()) {
        command.arg("--workdir").arg(dir);
    }
    let mut argv = container.argv.clone();
    if let Some(script) = &container.script {
        let file = super::host::write_script(&container.scripts_dir, &container.label, script)?;
        let file_name = file
            .file_name()
            .context("a script file has a name")?
            .to_string_lossy()
            .into_owned();
        argv.insert(0, format!("/tekton/scripts/{file_name}"));
    }
    if let Some(program) = argv.first() {
        let entrypoint =
            serde_json::to_string(&[program]).map_err(|e| Error::usage(e.to_string()))?;
        command.arg("--entrypoint").arg(entrypoint);
    }
    command.arg(&container.image);
    command.args(argv.iter().skip(1));
    Ok((command, Some(name)))
}

/// Removes a container that was killed (its `podman run` client may be gone already).
pub async fn remove(name: &str) {
    let removal = podman()
        .args(["rm", "--force", "--time", "0", name])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(30), removal).await;
}
