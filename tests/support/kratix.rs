//! A small stand-in for Kratix, to run the gate as a Promise's pipelines run it: each Pipeline
//! gets a fresh `/kratix/metadata`, its containers run in order (a suspended or failed container
//! does not stop the ones after it from having run), and afterwards the status-writer rules
//! apply: `status.yaml` is merged into the object's status one top-level key at a time (a
//! `kratix` key is an error), and `workflow-control.yaml`'s `retryAfter` asks for the same
//! Pipeline to run again.

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
        let input = self.dir.path().join("input");
        let metadata = self.dir.path().join("metadata");
        let _ = std::fs::remove_dir_all(&metadata);
        std::fs::create_dir_all(&input).unwrap();
        std::fs::create_dir_all(&metadata).unwrap();
        for (name, content) in self.seeded.drain(..) {
            std::fs::write(metadata.join(name), content).unwrap();
        }
        std::fs::write(
            input.join("object.yaml"),
            serde_yaml::to_string(&self.object).unwrap(),
        )
        .unwrap();

        let mut runs = Vec::new();
        for args in containers {
            let mut command = Command::new(env!("CARGO_BIN_EXE_stepkit"));
            command
                .args(*args)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap());
            for (name, value) in self.kratix_env() {
                command.env(name, value);
            }
            for (name, value) in env {
                command.env(name, value);
            }
            runs.push(run(&mut command, None));
        }

        self.write_status(&metadata.join("status.yaml"));
        PipelineRun {
            containers: runs,
            retry_after: read_yaml(&metadata.join("workflow-control.yaml")).and_then(|control| {
                control
                    .get("retryAfter")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
            approval_state: std::fs::read_to_string(metadata.join("approval-state")).ok(),
        }
    }

    fn kratix_env(&self) -> Vec<(&'static str, String)> {
        let field = |path: &[&str]| {
            let mut value = &self.object;
            for key in path {
                value = &value[*key];
            }
            value.as_str().unwrap_or("").to_owned()
        };
        vec![
            ("KRATIX_DIR", self.dir.path().display().to_string()),
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
