//! The host runtime: a step is a process on this machine. Tekton's paths (`/tekton/...`,
//! `/workspace/...`, and the mount paths of the Task's workspaces and volumes) cannot exist here,
//! so they are mapped into the run directory: wherever a step's script, command, args, env
//! values or working directory names one of them, the name is rewritten to the directory that
//! stands for it. A working directory outside them that this machine lacks is the container's
//! own (created in the step's private directory and mapped the same way); read-only mounts are
//! made read-only for the step alone ([`super::readonly`]). Everything else is this machine's
//! file system and tools.
//!
//! The process gets only the step's environment, plus `PATH` from this machine and `HOME` in the
//! run directory (so git or docker configuration never lands in the user's home). The stepkit
//! image runs the running stepkit binary under its image names, with `RESULTS_DIR` pointing at
//! the directory that stands for `/tekton/results` (where stepkit looks by itself in a pod). The
//! busybox runtime puts busybox's applets first in `PATH` and maps `/bin/sh`, `/bin/ash` and
//! `/bin/busybox` to them, as busybox and alpine images have them.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tokio::process::Command;

use super::prepare::WORKSPACE_ROOT;
use super::runtime::{clean_command, Container, Mount, RuntimeKind};
use crate::core::error::Error;

/// The names the stepkit image has the binary under.
const STEPKIT_NAMES: &[&str] = &["stepkit", "create-issue", "wait-approval"];

/// Where busybox and alpine images have their shell; the busybox runtime maps them to busybox.
const BUSYBOX_SHELLS: &[&str] = &["/bin/sh", "/bin/ash", "/bin/busybox"];

/// The process for `container`.
pub fn command(container: &Container) -> anyhow::Result<Command> {
    let runtime = container.runtime;
    let mounts = host_mounts(container)?;
    let map = |text: &str| map_paths(text, &mounts);
    let mut env: Vec<(String, String)> = container
        .env
        .iter()
        .map(|(name, value)| (name.clone(), map(value)))
        .collect();
    let path = env_value(&env, "PATH")
        .map(str::to_string)
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_string());
    let path = match runtime {
        RuntimeKind::Stepkit => {
            link_stepkit(&container.bin_dir)?;
            format!("{}:{path}", container.bin_dir.display())
        }
        RuntimeKind::Busybox => format!("{}:{path}", busybox_dir(&container.bin_dir)?.display()),
        _ => path,
    };
    set_env(&mut env, "PATH", path.clone());
    if env_value(&env, "HOME").is_none() {
        set_env(&mut env, "HOME", map("/tekton/home"));
    }
    // stepkit finds /tekton/results by itself in a pod; here it is told where that is.
    if runtime == RuntimeKind::Stepkit && env_value(&env, "RESULTS_DIR").is_none() {
        set_env(&mut env, "RESULTS_DIR", map("/tekton/results"));
    }

    let mut command = container.command.clone();
    if command.is_empty() && container.script.is_none() && runtime == RuntimeKind::Busybox {
        // Tekton runs the image's entrypoint, else its CMD: `sh` for busybox and alpine (an
        // image mapped with `busybox:ENTRYPOINT` has its command set already).
        command.push("sh".to_string());
    }
    let mut argv: Vec<String> = command
        .iter()
        .chain(&container.args)
        .map(|a| map(a))
        .collect();
    if let Some(script) = &container.script {
        let file = write_script(&container.scripts_dir, &container.label, &map(script))?;
        argv.insert(0, file.display().to_string());
    }
    if argv.is_empty() {
        match runtime {
            RuntimeKind::Stepkit => argv.push("stepkit".to_string()),
            _ => {
                return Err(Error::usage(format!(
                    "{} has no command, so it would run the entrypoint of image {}, which the host runtime does not know; give the step a command, map the image with --image '{}=host:ENTRYPOINT', or run it with --image '{}=podman'",
                    container.label, container.image, container.image, container.image
                ))
                .into())
            }
        }
    }
    if runtime == RuntimeKind::Stepkit {
        let base = argv[0].rsplit('/').next().unwrap_or("").to_string();
        if STEPKIT_NAMES.contains(&base.as_str()) {
            argv[0] = container.bin_dir.join(&base).display().to_string();
        }
    }
    let program = resolve_program(&argv[0], &path, &container.label)?;
    let cwd = PathBuf::from(map(&working_dir(container)));
    if !cwd.is_dir() {
        std::fs::create_dir_all(&cwd)
            .with_context(|| format!("creating the working directory {}", cwd.display()))?;
    }
    let mut process = clean_command(program.as_os_str(), &env);
    process.arg0(&argv[0]).args(&argv[1..]).current_dir(&cwd);
    let read_only: Vec<&Mount> = mounts.iter().filter(|m| m.read_only).collect();
    if !read_only.is_empty() {
        super::readonly::bind_read_only(&mut process, &read_only, &cwd)?;
    }
    Ok(process)
}

/// The container's mounts as a host step sees them, plus what its own file system would have
/// made: a working directory outside every mount that this machine does not have lives in the
/// step's private directory (a container runtime creates it in the container), and busybox's
/// shells stand for the image's.
fn host_mounts(container: &Container) -> anyhow::Result<Vec<Mount>> {
    let mut mounts = container.mounts.clone();
    let dir = working_dir(container);
    let under_a_mount = mounts
        .iter()
        .any(|m| Path::new(&dir).starts_with(&m.container_path));
    if !under_a_mount && !Path::new(&dir).is_dir() {
        let own = container
            .private_dir
            .join("root")
            .join(dir.trim_start_matches('/'));
        mounts.push(Mount::direct(dir, own));
    }
    if container.runtime == RuntimeKind::Busybox {
        let tools = busybox_dir(&container.bin_dir)?;
        for shell in BUSYBOX_SHELLS {
            let name = shell.rsplit('/').next().unwrap_or("sh");
            mounts.push(Mount::direct(*shell, tools.join(name)));
        }
    }
    mounts.sort_by_key(|m| std::cmp::Reverse(m.container_path.len()));
    Ok(mounts)
}

/// The step's working directory in the container's view: its `workingDir` (relative to
/// `/workspace`, as Tekton's working-dir initializer takes it), else `/workspace`.
fn working_dir(container: &Container) -> String {
    match container.working_dir.as_deref().filter(|d| !d.is_empty()) {
        Some(dir) if dir.starts_with('/') => dir.to_string(),
        Some(relative) => format!("{WORKSPACE_ROOT}/{relative}"),
        None => WORKSPACE_ROOT.to_string(),
    }
}

/// A directory of links to busybox, one per applet, as a busybox image's `/bin` has them.
fn busybox_dir(bin_dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = bin_dir.join("busybox");
    if dir.join("sh").exists() {
        return Ok(dir);
    }
    let busybox = find_busybox().ok_or_else(|| {
        Error::usage(
            "the busybox runtime runs steps with busybox's shell and applets, and busybox is not installed on this machine (Debian: apt-get install busybox-static)",
        )
    })?;
    let listed = std::process::Command::new(&busybox)
        .arg("--list")
        .output()
        .with_context(|| format!("running {} --list", busybox.display()))?;
    std::fs::create_dir_all(&dir)?;
    for applet in String::from_utf8_lossy(&listed.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet.contains('/') {
            continue;
        }
        let link = dir.join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink(&busybox, &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
    }
    Ok(dir)
}

/// busybox on this machine, if any.
pub fn find_busybox() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/bin", "/usr/bin"])
        .map(|dir| Path::new(dir).join("busybox"))
        .find(|candidate| candidate.is_file());
    found
}

fn env_value<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn set_env(env: &mut Vec<(String, String)>, name: &str, value: String) {
    env.retain(|(n, _)| n != name);
    env.push((name.to_string(), value));
}

/// `/tekton/bin/{stepkit,create-issue,wait-approval}` → the running binary.
fn link_stepkit(bin_dir: &Path) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the running stepkit binary")?;
    std::fs::create_dir_all(bin_dir)?;
    for name in STEPKIT_NAMES {
        let link = bin_dir.join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(&exe, &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
    }
    Ok(())
}

/// Writes a step's script as an executable file, as Tekton's place-scripts init container does.
pub fn write_script(dir: &Path, label: &str, text: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let file = dir.join(format!("{name}-{:05x}", fastrand::u32(..0x100000)));
    std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))?;
    Ok(file)
}

fn resolve_program(name: &str, path: &str, label: &str) -> anyhow::Result<PathBuf> {
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(name);
        let executable = candidate
            .metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        if executable {
            return Ok(candidate);
        }
    }
    Err(Error::usage(format!(
        "{label}: command {name:?} is not installed on this machine (searched PATH {path}); install it, or run the step's image with podman"
    ))
    .into())
}

/// `text` with every mounted container path replaced by its host directory. A path matches at
/// a boundary only (`/workspace/src` and `"/workspace"` do, `/workspaces` and `a/workspace` do
/// not); `mounts` is ordered longest container path first, so the deepest mount wins.
pub fn map_paths(text: &str, mounts: &[Mount]) -> String {
    if !text.contains('/') {
        return text.to_string();
    }
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut previous: Option<char> = None;
    'scan: while let Some(c) = rest.chars().next() {
        let at_boundary = previous.is_none_or(|p| !(is_name_char(p) || p == '/' || p == '~'));
        if c == '/' && at_boundary {
            for mount in mounts {
                let Some(after) = rest.strip_prefix(mount.container_path.as_str()) else {
                    continue;
                };
                if after.chars().next().is_some_and(is_name_char) {
                    continue;
                }
                out.push_str(&mount.host_path.display().to_string());
                previous = mount.container_path.chars().last();
                rest = after;
                continue 'scan;
            }
        }
        out.push(c);
        previous = Some(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts() -> Vec<Mount> {
        let mount = |c: &str, h: &str| Mount::direct(c, PathBuf::from(h));
        vec![
            mount("/workspace/source", "/run/ws/source"),
            mount("/workspace", "/run/workspace"),
            mount("/tekton", "/run/tekton"),
        ]
    }

    #[test]
    fn tekton_paths_map_at_boundaries_only() {
        let m = mounts();
        assert_eq!(
            map_paths("cat /tekton/results/x > \"/workspace/source/a\"", &m),
            "cat /run/tekton/results/x > \"/run/ws/source/a\""
        );
        assert_eq!(map_paths("cd /workspace; ls", &m), "cd /run/workspace; ls");
        assert_eq!(
            map_paths("/workspaces a/workspace ~/workspace https://x/tekton", &m),
            "/workspaces a/workspace ~/workspace https://x/tekton"
        );
        assert_eq!(
            map_paths("PATH=/bin:/tekton/bin", &m),
            "PATH=/bin:/run/tekton/bin"
        );
    }
}
