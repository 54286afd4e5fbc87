//! A TaskRun's pod on this machine: a directory stands for each of the pod's volumes
//! (`/tekton/...`, `/workspace`, the bound workspaces, the Task's volumes), every container
//! sees them at their mount paths (read-only ones through a directory of their own; a
//! workspace some step or sidecar lists only in those that list it), and a step
//! or sidecar becomes a runtime [`Container`]: env built, command and args expanded, step
//! results replaced, the script given Tekton's default shebang when it has none. Sidecars'
//! exec readiness probes run here too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::env::{self, EnvSources};
use super::prepare::{PreparedStep, WORKSPACE_ROOT};
use super::report::Reporter;
use super::runtime::{self, Container, Exit, Mount, Running, RuntimeKind};
use super::storage::{Source, Storage};
use super::subst::expand_env;
use super::taskrun::{Engine, TaskRunInput};
use crate::core::error::Error;
use crate::tekton::model::Container as Spec;

/// A bound workspace in the pod.
struct PodWorkspace {
    name: String,
    dir: PathBuf,
    mount_path: String,
    read_only: bool,
    /// Some step or sidecar lists it: only those that do see it (isolated workspaces).
    isolated: bool,
}

/// The pod's directories, and the mounts every container sees.
pub struct Pod {
    pub task_dir: PathBuf,
    pub tekton: PathBuf,
    base: Vec<Mount>,
    workspaces: Vec<PodWorkspace>,
    volumes: BTreeMap<String, PathBuf>,
}

impl Pod {
    /// Lays out the pod's directories for one TaskRun (a retry gets fresh ones).
    pub fn create(engine: &Engine, input: &TaskRunInput) -> anyhow::Result<Pod> {
        let dir_name = match input.attempt {
            0 => input.name.clone(),
            n => format!("{}-retry{n}", input.name),
        };
        let task_dir = engine.run_dir.join(dir_name);
        let tekton = task_dir.join("tekton");
        for sub in ["results", "scripts", "home", "creds", "bin", "artifacts"] {
            std::fs::create_dir_all(tekton.join(sub))
                .with_context(|| format!("creating {}", tekton.join(sub).display()))?;
        }
        for (index, step) in input.prepared.steps.iter().enumerate() {
            let dir = step_dir(&tekton, step);
            std::fs::create_dir_all(dir.join("results"))?;
            std::fs::create_dir_all(dir.join("artifacts"))?;
            // Tekton's step-init links each step's directory under its index too.
            let link = tekton.join("steps").join(index.to_string());
            if !link.exists() {
                std::os::unix::fs::symlink(&step.container_name, &link)
                    .with_context(|| format!("linking {}", link.display()))?;
            }
        }
        std::fs::create_dir_all(task_dir.join("workspace"))?;
        let storage = Storage {
            catalog: &engine.catalog,
            reporter: &engine.reporter,
            run_dir: &engine.run_dir,
            task_dir: &task_dir,
        };
        let spec = &input.prepared.spec;
        let containers = || {
            let steps = input.prepared.steps.iter().map(|s| &s.container);
            steps.chain(input.prepared.sidecars.iter().map(|s| &s.container))
        };
        let mut workspaces = Vec::new();
        for declaration in &spec.workspaces {
            let Some(binding) = input.workspaces.iter().find(|b| b.name == declaration.name) else {
                continue;
            };
            let dir = storage.materialize(
                &format!("ws-{}", declaration.name),
                &binding.source,
                binding.sub_path.as_deref(),
            )?;
            workspaces.push(PodWorkspace {
                name: declaration.name.clone(),
                dir,
                mount_path: declaration
                    .mount_path
                    .clone()
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| format!("{WORKSPACE_ROOT}/{}", declaration.name)),
                read_only: declaration.read_only == Some(true),
                isolated: containers()
                    .any(|c| c.workspaces.iter().any(|u| u.name == declaration.name)),
            });
        }
        let mut volumes = BTreeMap::new();
        for volume in &spec.volumes {
            let what = format!("volume {:?} of TaskRun {}", volume.name, input.name);
            let typed = volume.typed_source().map_err(Error::usage)?;
            let source =
                Source::from_volume(&typed, &what, &format!("{}-{}", input.name, volume.name))?;
            let dir = storage.materialize(&format!("vol-{}", volume.name), &source, None)?;
            volumes.insert(volume.name.clone(), dir);
        }
        Ok(Pod {
            base: vec![
                Mount::direct("/tekton", tekton.clone()),
                Mount::direct(WORKSPACE_ROOT, task_dir.join("workspace")),
            ],
            task_dir,
            tekton,
            workspaces,
            volumes,
        })
    }

    /// `/tekton/steps/step-NAME` on this machine.
    pub fn step_dir(&self, step: &PreparedStep) -> PathBuf {
        step_dir(&self.tekton, step)
    }

    /// A mount of `dir` at `path`; a read-only one is seen through a directory of its own.
    fn mount(&self, path: String, dir: PathBuf, read_only: bool) -> Mount {
        if !read_only {
            return Mount::direct(path, dir);
        }
        let name: String = path
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        Mount {
            container_path: path,
            source: dir,
            host_path: self.task_dir.join("readonly").join(name),
            read_only: true,
            protective: false,
        }
    }

    fn mounts(&self, container: &Spec) -> anyhow::Result<Vec<Mount>> {
        let mut mounts = self.base.clone();
        for workspace in &self.workspaces {
            let usage = container
                .workspaces
                .iter()
                .find(|u| u.name == workspace.name);
            if workspace.isolated && usage.is_none() {
                continue;
            }
            let path = usage
                .and_then(|u| u.mount_path.clone())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| workspace.mount_path.clone());
            mounts.push(self.mount(path, workspace.dir.clone(), workspace.read_only));
        }
        for mount in &container.volume_mounts {
            // A workspace's volume is `ws-<name>` ($(workspaces.W.volume)).
            let workspace = self
                .workspaces
                .iter()
                .find(|w| format!("ws-{}", w.name) == mount.name)
                .map(|w| &w.dir);
            let dir = self.volumes.get(&mount.name).or(workspace).ok_or_else(|| {
                Error::usage(format!(
                    "a volumeMount names volume {:?}, which the Task does not declare",
                    mount.name
                ))
            })?;
            let dir = match mount.sub_path.as_deref().filter(|s| !s.is_empty()) {
                Some(sub) => {
                    let dir = dir.join(sub);
                    std::fs::create_dir_all(&dir)?;
                    dir
                }
                None => dir.clone(),
            };
            let container_path = mount.mount_path.trim_end_matches('/').to_string();
            // A volume mounted over a Tekton path (`/workspace`) hides it, as in a pod.
            mounts.retain(|m| m.container_path != container_path);
            mounts.push(self.mount(container_path, dir, mount.read_only == Some(true)));
        }
        mounts.sort_by_key(|m| std::cmp::Reverse(m.container_path.len()));
        Ok(mounts)
    }

    /// What a step sees of the other steps' directories (`/tekton/steps/step-NAME`, which the
    /// index links lead to): read-only, as a pod mounts every other step's run directory.
    pub fn other_steps(&self, steps: &[PreparedStep], own: &PreparedStep) -> Vec<Mount> {
        steps
            .iter()
            .filter(|s| s.container_name != own.container_name)
            .map(|s| {
                let dir = self.step_dir(s);
                Mount {
                    container_path: format!("/tekton/steps/{}", s.container_name),
                    source: dir.clone(),
                    host_path: dir,
                    read_only: true,
                    protective: true,
                }
            })
            .collect()
    }

    /// The runtime's view of a step or sidecar: env built, command and args expanded, step
    /// results replaced, the script given Tekton's default shebang when it has none.
    pub fn container(
        &self,
        label: &str,
        private: &str,
        spec: &Spec,
        runtime_kind: RuntimeKind,
        sources: &EnvSources,
    ) -> anyhow::Result<Container> {
        let steps_dir = self.tekton.join("steps");
        let mut env = env::build(spec, sources, label)?;
        for (_, value) in env.iter_mut() {
            if let Ok(mut items) = env::replace_step_results(value, &steps_dir) {
                *value = items.pop().unwrap_or_default();
            }
        }
        let expand = |items: &Option<Vec<serde_json::Value>>| -> anyhow::Result<Vec<String>> {
            let mut out = Vec::new();
            for item in items.iter().flatten() {
                let text = match item {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let expanded = expand_env(&text, &|name| env::lookup(&env, name));
                out.extend(env::replace_step_results(&expanded, &steps_dir).map_err(Error::usage)?);
            }
            Ok(out)
        };
        let command = expand(&spec.command)?;
        let args = expand(&spec.args)?;
        let script = spec
            .script
            .as_ref()
            .filter(|s| !s.is_empty())
            .map(|script| {
                if script.trim().starts_with("#!") {
                    script.clone()
                } else {
                    format!("#!/bin/sh\nset -e\n{script}")
                }
            });
        Ok(Container {
            label: label.to_string(),
            image: spec.image.clone().unwrap_or_default(),
            runtime: runtime_kind,
            script,
            command,
            args,
            env,
            working_dir: spec.working_dir.clone(),
            mounts: self.mounts(spec)?,
            scripts_dir: self.tekton.join("scripts"),
            bin_dir: self.tekton.join("bin"),
            private_dir: self.task_dir.join("containers").join(private),
        })
    }
}

fn step_dir(tekton: &Path, step: &PreparedStep) -> PathBuf {
    tekton.join("steps").join(&step.container_name)
}

/// Runs a sidecar's exec readiness probe until it passes, every second (or its period).
pub async fn wait_ready(
    engine: &Engine,
    sidecar: &Container,
    running: &Running,
    probe: &serde_json::Value,
    deadline: Option<Instant>,
) -> Result<(), String> {
    let command: Vec<String> = probe
        .pointer("/exec/command")
        .and_then(|c| c.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let seconds = |field: &str, default: u64, max: u64| {
        let value = probe.get(field).and_then(|p| p.as_u64()).unwrap_or(default);
        Duration::from_secs(value.clamp(1, max))
    };
    let period = seconds("periodSeconds", 1, 10);
    let timeout = seconds("timeoutSeconds", 1, 3600);
    let give_up = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(600));
    let quiet = Reporter::new(true);
    loop {
        let passed = match running.probe(sidecar, &command) {
            Ok(check) => {
                let label = format!("{} (readiness)", sidecar.label);
                let exit = runtime::run_probe(check, &label, &quiet, timeout, &engine.cancel).await;
                exit == Exit::Code(0)
            }
            Err(_) => false,
        };
        if passed {
            return Ok(());
        }
        if Instant::now() >= give_up || engine.cancel.is_cancelled() {
            return Err("never became ready".to_string());
        }
        tokio::time::sleep(period).await;
    }
}
