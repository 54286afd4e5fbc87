//! A small stand-in for Kratix, to run the gate as a Promise's pipelines run it: each Pipeline
//! gets a fresh `/kratix/metadata`, its containers run in order (a suspended or failed container
//! does not stop the ones after it from having run), and afterwards the status-writer rules
//! apply: `status.yaml` is merged into the object's status one top-level key at a time (a
//! `kratix` key is an error), and `workflow-control.yaml`'s `retryAfter` asks for the same
//! Pipeline to run again. A Promise's own container specs (command, args, env from values and
//! Secrets) can be read from its YAML and run as they are ([`promise_pipelines`]).

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use serde_yaml::{Mapping, Value};

use super::{run, Run};

/// How one Pipeline run ended.
#[derive(Debug)]
pub struct PipelineRun {
    pub containers: Vec<Run>,
    /// `retryAfter` from workflow-control.yaml, when the Pipeline asked to be run again.
    pub retry_after: Option<String>,
    /// `metadata/approval-state` as the last container left it.
    pub approval_state: Option<String>,
}

pub struct Kratix {
    dir: tempfile::TempDir,
    object: Value,
    promise: String,
    /// Files an earlier container of the next Pipeline leaves in its metadata directory.
    seeded: Vec<(String, String)>,
}

impl Kratix {
    /// A resource as the user applied it (no status yet).
    pub fn new(object_yaml: &str, promise: &str) -> Kratix {
        let mut object: Value = serde_yaml::from_str(object_yaml).expect("the object is YAML");
        if let Some(map) = object.as_mapping_mut() {
            map.remove("status");
        }
        Kratix {
            dir: tempfile::tempdir().unwrap(),
            object,
            promise: promise.to_owned(),
            seeded: Vec::new(),
        }
    }

    /// A resource that already has a status (as an earlier tool left it).
    pub fn new_with_status(object_yaml: &str, promise: &str) -> Kratix {
        let object: Value = serde_yaml::from_str(object_yaml).expect("the object is YAML");
        Kratix {
            object,
            ..Kratix::new("{}", promise)
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn status(&self) -> Value {
        self.object
            .get("status")
            .cloned()
            .unwrap_or(Value::Mapping(Mapping::new()))
    }

    /// `status.approval.<key>` as a string.
    pub fn approval(&self, key: &str) -> Option<String> {
        let value = self.status().get("approval")?.get(key)?.clone();
        match value {
            Value::String(text) => Some(text),
            Value::Number(n) => Some(n.to_string()),
            Value::Null => None,
            other => Some(serde_yaml::to_string(&other).unwrap()),
        }
    }

    /// The user edits the resource: `path` (e.g. "size") of its spec changes.
    pub fn set_spec(&mut self, key: &str, value: &str) {
        self.object["spec"][key] = Value::String(value.to_owned());
    }

    /// The resource is deleted and created again: a new uid, no status.
    pub fn recreate(&mut self, uid: &str) {
        self.object["metadata"]["uid"] = Value::String(uid.to_owned());
        self.object.as_mapping_mut().unwrap().remove("status");
    }

    /// As if an earlier container of the next Pipeline wrote `name` into `/kratix/metadata`.
    pub fn seed_metadata(&mut self, name: &str, content: &str) {
        self.seeded.push((name.to_owned(), content.to_owned()));
    }

    /// Runs one Pipeline whose containers run `stepkit` with these arguments and environment.
    pub fn run_pipeline(&mut self, containers: &[&[&str]], env: &[(&str, String)]) -> PipelineRun {
        let commands = containers
            .iter()
            .map(|args| {
                let mut command = Command::new(env!("CARGO_BIN_EXE_stepkit"));
                command
                    .args(*args)
                    .env_clear()
                    .env("PATH", std::env::var_os("PATH").unwrap())
                    .env("KRATIX_DIR", self.root());
                for (name, value) in self.kratix_env() {
                    command.env(name, value);
                }
                for (name, value) in env {
                    command.env(name, value);
                }
                command
            })
            .collect();
        self.run_commands(commands)
    }

    /// Runs one Pipeline whose containers are these commands, in order: a fresh
    /// `metadata/`, the object in `input/object.yaml`, then the status-writer.
    pub fn run_commands(&mut self, commands: Vec<Command>) -> PipelineRun {
        let metadata = self.prepare();
        let runs = commands
            .into_iter()
            .map(|mut command| run(&mut command, None))
            .collect();
        self.finish(&metadata, runs)
    }

    /// What Kratix's reader does before the containers run.
    fn prepare(&mut self) -> std::path::PathBuf {
        let input = self.dir.path().join("input");
        let metadata = self.dir.path().join("metadata");
        let output = self.dir.path().join("output");
        let _ = std::fs::remove_dir_all(&metadata);
        let _ = std::fs::remove_dir_all(&output);
        // Kubernetes emptyDirs are writable by any user: containers may run as non-root.
        for dir in [self.dir.path(), &input, &metadata, &output] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
                .unwrap();
        }
        for (name, content) in self.seeded.drain(..) {
            std::fs::write(metadata.join(name), content).unwrap();
        }
        std::fs::write(
            input.join("object.yaml"),
            serde_yaml::to_string(&self.object).unwrap(),
        )
        .unwrap();
        metadata
    }

    /// What Kratix's status-writer does after them.
    fn finish(&mut self, metadata: &Path, containers: Vec<Run>) -> PipelineRun {
        self.write_status(&metadata.join("status.yaml"));
        PipelineRun {
            containers,
            retry_after: read_yaml(&metadata.join("workflow-control.yaml")).and_then(|control| {
                control
                    .get("retryAfter")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
            approval_state: std::fs::read_to_string(metadata.join("approval-state")).ok(),
        }
    }

    /// The variables Kratix gives every container of a resource's configure workflow.
    pub fn kratix_env(&self) -> Vec<(&'static str, String)> {
        let field = |path: &[&str]| {
            let mut value = &self.object;
            for key in path {
                value = &value[*key];
            }
            value.as_str().unwrap_or("").to_owned()
        };
        vec![
            ("KRATIX_WORKFLOW_ACTION", "configure".into()),
            ("KRATIX_WORKFLOW_TYPE", "resource".into()),
            ("KRATIX_PROMISE_NAME", self.promise.clone()),
            ("KRATIX_PIPELINE_NAME", "approval".into()),
            ("KRATIX_OBJECT_KIND", field(&["kind"])),
            ("KRATIX_OBJECT_NAME", field(&["metadata", "name"])),
            ("KRATIX_OBJECT_NAMESPACE", field(&["metadata", "namespace"])),
        ]
    }

    /// Kratix's status-writer: a shallow merge of status.yaml into the object's status.
    fn write_status(&mut self, path: &Path) {
        let Some(incoming) = read_yaml(path) else {
            return;
        };
        let incoming = incoming
            .as_mapping()
            .expect("status.yaml is a mapping")
            .clone();
        assert!(
            !incoming.contains_key("kratix"),
            "status.yaml must not set `kratix`: Kratix refuses it"
        );
        let object = self.object.as_mapping_mut().unwrap();
        let status = object
            .entry(Value::String("status".into()))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        let status = status.as_mapping_mut().unwrap();
        for (key, value) in incoming {
            status.insert(key, value);
        }
    }
}

fn read_yaml(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_yaml::from_str(&text).expect("a metadata file is YAML"))
}

/// One container of a Promise's Pipeline, as the Promise declares it.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    pub args: Vec<String>,
    /// `env` entries: a value, or the `key` of Secret `name` (as `secret:NAME/KEY`).
    pub env: Vec<(String, EnvValue)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    Value(String),
    Secret { name: String, key: String },
}

impl ContainerSpec {
    /// The container's environment, Secrets looked up in `secrets` ((name, key) -> value).
    pub fn resolved_env(&self, secrets: &[((&str, &str), &str)]) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    EnvValue::Value(text) => text.clone(),
                    EnvValue::Secret { name: secret, key } => secrets
                        .iter()
                        .find(|((n, k), _)| n == secret && k == key)
                        .map(|(_, value)| value.to_string())
                        .unwrap_or_else(|| panic!("no Secret {secret}/{key} for {}", self.name)),
                };
                (name.clone(), value)
            })
            .collect()
    }
}

/// The `resource.configure` Pipelines of a Promise: each Pipeline's name and containers.
pub fn promise_pipelines(promise_yaml: &str) -> Vec<(String, Vec<ContainerSpec>)> {
    let promise: Value = serde_yaml::from_str(promise_yaml).expect("the Promise is YAML");
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_sequence()
            .map(|items| {
                items
                    .iter()
                    .map(|item| item.as_str().expect("a string").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    promise["spec"]["workflows"]["resource"]["configure"]
        .as_sequence()
        .expect("resource.configure Pipelines")
        .iter()
        .map(|pipeline| {
            let name = pipeline["metadata"]["name"].as_str().unwrap().to_owned();
            let containers = pipeline["spec"]["containers"]
                .as_sequence()
                .expect("containers")
                .iter()
                .map(|container| ContainerSpec {
                    name: container["name"].as_str().unwrap().to_owned(),
                    image: container["image"].as_str().unwrap().to_owned(),
                    command: strings(&container["command"]),
                    args: strings(&container["args"]),
                    env: container["env"]
                        .as_sequence()
                        .map(|env| {
                            env.iter()
                                .map(|entry| {
                                    let name = entry["name"].as_str().unwrap().to_owned();
                                    let secret = &entry["valueFrom"]["secretKeyRef"];
                                    let value = match entry["value"].as_str() {
                                        Some(text) => EnvValue::Value(text.to_owned()),
                                        None => EnvValue::Secret {
                                            name: secret["name"].as_str().unwrap().to_owned(),
                                            key: secret["key"].as_str().unwrap().to_owned(),
                                        },
                                    };
                                    (name, value)
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect();
            (name, containers)
        })
        .collect()
}
