//! `tasks/` is a catalog the way tektoncd/catalog asks of others: every Task and StepAction has
//! a README, OWNERS and runs under tests/ that use it, all of them run the one step image
//! (`quay.io/stepkit/stepkit:<the version in Cargo.toml>`, the default of their image param),
//! and the image's build definition (.tekton/) pushes that repository.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml::Value;

const IMAGE_REPOSITORY: &str = "quay.io/stepkit/stepkit";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn image() -> String {
    format!("{IMAGE_REPOSITORY}:{}", env!("CARGO_PKG_VERSION"))
}

/// `tasks/NAME/VERSION/NAME.yaml` for every Task and StepAction.
fn definitions() -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir(root().join("tasks")).unwrap() {
        let task = task.unwrap().path();
        if !task.is_dir() {
            continue;
        }
        let name = task.file_name().unwrap().to_string_lossy().into_owned();
        for version in std::fs::read_dir(&task).unwrap() {
            let dir = version.unwrap().path();
            if dir.is_dir() {
                found.push((name.clone(), dir));
            }
        }
    }
    found.sort();
    assert!(found.len() >= 6, "{found:?}");
    found
}

fn yaml(path: &Path) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn every_task_has_a_readme_owners_and_runs_that_use_it() {
    for (name, dir) in definitions() {
        let definition = yaml(&dir.join(format!("{name}.yaml")));
        let kind = definition["kind"].as_str().unwrap();
        assert!(matches!(kind, "Task" | "StepAction"), "{name}: {kind}");
        assert!(dir.join("README.md").is_file(), "{name}: README.md");
        let owners = yaml(&dir.join("OWNERS"));
        assert!(
            owners["approvers"]
                .as_sequence()
                .is_some_and(|a| !a.is_empty()),
            "{name}"
        );
        let runs = std::fs::read_to_string(dir.join("tests/run.yaml"))
            .unwrap_or_else(|err| panic!("{name}: tests/run.yaml: {err}"));
        let mut kinds = Vec::new();
        for document in serde_yaml::Deserializer::from_str(&runs) {
            let document = Value::deserialize(document).unwrap();
            kinds.push(document["kind"].as_str().unwrap_or_default().to_owned());
        }
        assert!(
            kinds.iter().all(|k| k == "TaskRun" || k == "PipelineRun"),
            "{name}: {kinds:?}"
        );
        // A taskRef (Task) or a step's ref (StepAction) names it.
        assert!(
            runs.lines()
                .any(|line| line.trim() == format!("name: {name}")),
            "{name}: tests/run.yaml does not run it"
        );
    }
}

#[test]
fn every_task_defaults_to_the_one_step_image() {
    let image = image();
    for (name, dir) in definitions() {
        let definition = yaml(&dir.join(format!("{name}.yaml")));
        let params = definition["spec"]["params"].as_sequence().unwrap();
        let image_param = params
            .iter()
            .find(|p| matches!(p["name"].as_str(), Some("STEPKIT_IMAGE" | "stepkit-image")))
            .unwrap_or_else(|| panic!("{name}: no STEPKIT_IMAGE (stepkit-image) param"));
        assert_eq!(
            image_param["default"].as_str(),
            Some(image.as_str()),
            "{name}"
        );
    }
    // Everything else that names the image names the same one.
    let mut files = vec![
        root().join("README.md"),
        root().join("tests/fixtures/gate/sign-off-promise.yaml"),
    ];
    for dir in ["tasks", "examples"] {
        walk(&root().join(dir), &mut files);
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let prefix = format!("{IMAGE_REPOSITORY}:");
        for (at, _) in text.match_indices(&prefix) {
            // The tag, up to a digest or the end of the word; `<version>` placeholders are prose.
            let tag: String = text[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '<'))
                .collect();
            if !tag.starts_with('<') {
                assert_eq!(format!("{prefix}{tag}"), image, "{}", file.display());
            }
        }
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "md") {
            files.push(path);
        }
    }
}

#[test]
fn the_build_definition_builds_the_containerfile_into_that_repository() {
    let run = yaml(&root().join(".tekton/stepkit-push.yaml"));
    assert_eq!(run["kind"], "PipelineRun");
    let spec = &run["spec"]["pipelineSpec"];
    let repository = spec["params"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "image-repository")
        .unwrap();
    assert_eq!(repository["default"].as_str(), Some(IMAGE_REPOSITORY));
    let text = std::fs::read_to_string(root().join(".tekton/stepkit-push.yaml")).unwrap();
    assert!(text.contains("buildah build") && text.contains("-f Containerfile"));
    assert!(text.contains("buildah push"));
    // Every base image of the Containerfile is pinned by digest, its tag beside it.
    let containerfile = std::fs::read_to_string(root().join("Containerfile")).unwrap();
    let bases: Vec<&str> = containerfile
        .lines()
        .filter_map(|line| line.strip_prefix("FROM "))
        .collect();
    assert_eq!(bases.len(), 2, "{bases:?}");
    for base in bases {
        let reference = base.split_whitespace().next().unwrap();
        let (named, digest) = reference
            .split_once("@sha256:")
            .unwrap_or_else(|| panic!("{reference} is not pinned by digest"));
        assert_eq!(digest.len(), 64, "{reference}");
        assert!(
            named.rsplit('/').next().unwrap().contains(':'),
            "{reference}: no tag beside it"
        );
    }
}
