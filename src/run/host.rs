//! The host runtime: a step is a process on this machine. Tekton's paths (`/tekton/...`,
//! `/workspace/...`, and the mount paths of the Task's workspaces and volumes) cannot exist here,
//! so they are mapped into the run directory: wherever a step's script, command, args, env
//! values or working directory names one of them, the name is rewritten to the directory that
//! stands for it. Everything else is this machine's file system and tools.
//!
//! The process gets only the step's environment, plus `PATH` from this machine and `HOME` in the
//! run directory (so git or docker configuration never lands in the user's home). The stepkit
//! image runs the running stepkit binary under its image names, with `RESULTS_DIR` pointing at
//! the directory that stands for `/tekton/results` (where stepkit looks by itself in a pod).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tokio::process::Command;

use super::runtime::{clean_command, Container, Mount, RuntimeKind};
use crate::core::error::Error;

/// The names the stepkit image has the binary under.
const STEPKIT_NAMES: &[&str] = &["stepkit", "create-issue", "wait-approval"];

/// The process for `container`.
pub fn command(container: &Container) -> anyhow::Result<Command> {
    let map = |text: &str| map_paths(text, &container.mounts);
    let mut env: Vec<(String, String)> = container
        .env
        .iter()
        .map(|(name, value)| (name.clone(), map(value)))
        .collect();
    let stepkit = container.runtime == RuntimeKind::Stepkit;
    if stepkit {
        link_stepkit(&container.bin_dir)?;
    }
    let path = env_value(&env, "PATH")
        .map(str::to_string)
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_string());
    let path = if stepkit {
        format!("{}:{path}", container.bin_dir.display())
    } else {
        path
    };
    set_env(&mut env, "PATH", path.clone());
    if env_value(&env, "HOME").is_none() {
        set_env(&mut env, "HOME", map("/tekton/home"));
    }
    // stepkit finds /tekton/results by itself in a pod; here it is told where that is.
    if stepkit && env_value(&env, "RESULTS_DIR").is_none() {
        set_env(&mut env, "RESULTS_DIR", map("/tekton/results"));
    }

    let mut argv: Vec<String> = container.argv.iter().map(|a| map(a)).collect();
    if let Some(script) = &container.script {
        let file = write_script(&container.scripts_dir, &container.label, &map(script))?;
        argv.insert(0, file.display().to_string());
    }
    if argv.is_empty() {
        if !stepkit {
            return Err(Error::usage(format!(
                "{} has no command, so it would run the entrypoint of image {}, which the host runtime does not know; give the step a command, or run the image with --image '{}=podman'",
                container.label, container.image, container.image
            ))
            .into());
        }
        argv.push("stepkit".to_string());
    }
    if stepkit {
        let base = argv[0].rsplit('/').next().unwrap_or("").to_string();
        if STEPKIT_NAMES.contains(&base.as_str()) {
            argv[0] = container.bin_dir.join(&base).display().to_string();
        }
    }
    let program = resolve_program(&argv[0], &path, &container.label)?;
    let cwd = match &container.working_dir {
        Some(dir) if !dir.is_empty() => PathBuf::from(map(dir)),
        _ => PathBuf::from(map("/workspace")),
    };
    if !cwd.is_dir() {
        let inside_run = container
            .mounts
            .iter()
            .any(|m| cwd.starts_with(&m.host_path));
        if !inside_run {
            return Err(Error::usage(format!(
                "{}: workingDir {} does not exist on this machine, and the host runtime creates directories only under Tekton's paths; run the image with --image '{}=podman'",
                container.label,
                cwd.display(),
                container.image
            ))
            .into());
        }
        std::fs::create_dir_all(&cwd)
            .with_context(|| format!("creating the working directory {}", cwd.display()))?;
    }
    let mut command = clean_command(program.as_os_str(), &env);
    command.arg0(&argv[0]).args(&argv[1..]).current_dir(cwd);
    Ok(command)
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
        let mount = |c: &str, h: &str| Mount {
            container_path: c.to_string(),
            host_path: PathBuf::from(h),
            read_only: false,
        };
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
