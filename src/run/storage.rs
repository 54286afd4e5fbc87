//! Workspaces and volumes as directories of this machine: `-w NAME=DIR` is that directory; an
//! emptyDir a fresh directory per TaskRun; a PersistentVolumeClaim one directory per claim name
//! for the whole run (a volumeClaimTemplate one per PipelineRun); a ConfigMap, Secret or
//! projected volume a directory holding its keys as files. Kinds that need a cluster (csi,
//! hostPath, ...) are refused by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::load::Catalog;
use super::report::Reporter;
use crate::core::error::Error;
use crate::tekton::model::{KeyToPath, VolumeSource};

/// Where a workspace's or volume's files come from, decided before any TaskRun starts.
#[derive(Debug, Clone)]
pub enum Source {
    /// A directory of this machine (`-w NAME=DIR`); it outlives the run.
    Dir(PathBuf),
    /// A fresh directory for each TaskRun.
    EmptyDir,
    /// A directory shared by every TaskRun of the run that names the same key (a claim name, or
    /// a PipelineRun's volumeClaimTemplate).
    Shared { key: String, claim: String },
    /// Files from ConfigMaps and Secrets.
    Files(Box<VolumeSource>),
}

impl Source {
    /// Reads a Kubernetes volume source (`what` names it in errors).
    pub fn from_volume(
        source: &VolumeSource,
        what: &str,
        template_key: &str,
    ) -> anyhow::Result<Source> {
        if let Some(kind) = source.other.keys().next() {
            return Err(Error::usage(format!(
                "{what} is a {kind} volume, which needs a cluster; stepkit task run supports emptyDir, persistentVolumeClaim, volumeClaimTemplate, configMap, secret and projected"
            ))
            .into());
        }
        if let Some(claim) = &source.persistent_volume_claim {
            return Ok(Source::Shared {
                key: format!("claim-{}", claim.claim_name),
                claim: claim.claim_name.clone(),
            });
        }
        if source.volume_claim_template.is_some() {
            return Ok(Source::Shared {
                key: template_key.to_string(),
                claim: template_key.to_string(),
            });
        }
        if source.config_map.is_some() || source.secret.is_some() || source.projected.is_some() {
            return Ok(Source::Files(Box::new(source.clone())));
        }
        Ok(Source::EmptyDir)
    }

    pub fn claim(&self) -> &str {
        match self {
            Source::Shared { claim, .. } => claim,
            _ => "",
        }
    }
}

/// Turns sources into directories for one TaskRun.
pub struct Storage<'a> {
    pub catalog: &'a Catalog,
    pub reporter: &'a Reporter,
    /// The run's directory (shared claims live in it).
    pub run_dir: &'a Path,
    /// This TaskRun's directory (emptyDirs and ConfigMap/Secret files live in it).
    pub task_dir: &'a Path,
}

impl Storage<'_> {
    /// The directory for `source` (named `name` inside this TaskRun), with `sub_path` below it.
    pub fn materialize(
        &self,
        name: &str,
        source: &Source,
        sub_path: Option<&str>,
    ) -> anyhow::Result<PathBuf> {
        let base = match source {
            Source::Dir(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating workspace directory {}", dir.display()))?;
                dir.clone()
            }
            Source::EmptyDir => fresh(&self.task_dir.join("volumes").join(name))?,
            Source::Shared { key, .. } => {
                let dir = self.run_dir.join("claims").join(key);
                std::fs::create_dir_all(&dir)?;
                dir
            }
            Source::Files(volume) => {
                let dir = fresh(&self.task_dir.join("volumes").join(name))?;
                self.fill(&dir, volume, name)?;
                dir
            }
        };
        match sub_path.filter(|s| !s.is_empty()) {
            Some(sub) => {
                if sub.split('/').any(|part| part == "..") || sub.starts_with('/') {
                    return Err(Error::usage(format!(
                        "subPath {sub:?} of {name} must stay inside the volume"
                    ))
                    .into());
                }
                let dir = base.join(sub);
                std::fs::create_dir_all(&dir)?;
                Ok(dir)
            }
            None => Ok(base),
        }
    }

    fn fill(&self, dir: &Path, volume: &VolumeSource, name: &str) -> anyhow::Result<()> {
        if let Some(map) = &volume.config_map {
            let data = self.catalog.config_map(&map.name);
            write_keys(
                dir,
                data,
                &map.items,
                map.optional,
                "ConfigMap",
                &map.name,
                name,
            )?;
        }
        if let Some(secret) = &volume.secret {
            let secret_name = if secret.secret_name.is_empty() {
                &secret.name
            } else {
                &secret.secret_name
            };
            let data = self.catalog.secret(secret_name);
            for value in data.iter().flat_map(|d| d.values()) {
                self.reporter.add_secret(&String::from_utf8_lossy(value));
            }
            write_keys(
                dir,
                data,
                &secret.items,
                secret.optional,
                "Secret",
                secret_name,
                name,
            )?;
        }
        if let Some(projected) = &volume.projected {
            for source in &projected.sources {
                if let Some(kind) = source.other.keys().next() {
                    return Err(Error::usage(format!(
                        "{name}: a projected {kind} source needs a cluster; stepkit task run projects configMap and secret sources"
                    ))
                    .into());
                }
                self.fill(dir, source, name)?;
            }
        }
        Ok(())
    }
}

fn fresh(dir: &Path) -> anyhow::Result<PathBuf> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir.to_path_buf())
}

fn write_keys(
    dir: &Path,
    data: Option<BTreeMap<String, Vec<u8>>>,
    items: &[KeyToPath],
    optional: Option<bool>,
    kind: &str,
    object: &str,
    name: &str,
) -> anyhow::Result<()> {
    let Some(data) = data else {
        if optional == Some(true) {
            return Ok(());
        }
        return Err(Error::usage(format!(
            "{name} needs {kind} {object:?}, which is not in the file or under --tasks{}",
            if kind == "Secret" {
                " (or give it with --secret NAME=DIR)"
            } else {
                ""
            }
        ))
        .into());
    };
    let selected: Vec<(&str, &str)> = if items.is_empty() {
        data.keys().map(|k| (k.as_str(), k.as_str())).collect()
    } else {
        items
            .iter()
            .map(|i| (i.key.as_str(), i.path.as_str()))
            .collect()
    };
    for (key, path) in selected {
        let Some(bytes) = data.get(key) else {
            return Err(
                Error::usage(format!("{name}: {kind} {object:?} has no key {key:?}")).into(),
            );
        };
        if path.split('/').any(|p| p == "..") || path.starts_with('/') {
            return Err(Error::usage(format!(
                "{name}: item path {path:?} must stay inside the volume"
            ))
            .into());
        }
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, bytes).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}
