//! The Konflux Snapshot that integration-service hands to a test pipeline as the `SNAPSHOT`
//! param: which application, which components, and each component's image and source.
//!
//! integration-service passes `json.Marshal(snapshot.Spec)`, the spec object. A whole Snapshot
//! CR (`kubectl get snapshot -o json`) is accepted too, for people running stepkit by hand.
//! When the IntegrationTestScenario carries `test.appstudio.openshift.io/snapshot-param-as-name`,
//! SNAPSHOT holds only the Snapshot's *name*; stepkit cannot read the cluster, so that case is
//! recognised and explained rather than reported as broken JSON.

use std::path::Path;

use serde_json::{Map, Value};

use crate::core::error::{Error, Kind, ResultExt};
use crate::core::image_ref::ImageReference;
use crate::core::input::{read_input_text, MIB};
use crate::core::plural::counted;

/// The annotation that makes integration-service pass the Snapshot by name.
pub const PARAM_AS_NAME_ANNOTATION: &str = "test.appstudio.openshift.io/snapshot-param-as-name";

/// A Konflux Snapshot (its spec): the application and the components under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The application's name; empty when the Snapshot does not say.
    pub application: String,
    /// At least one component.
    pub components: Vec<Component>,
}

/// One component of a Snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    /// The image Konflux built, normally a digest reference (`...@sha256:<hex>`).
    pub container_image: String,
    /// Where it was built from, when the Snapshot says.
    pub source: Option<GitSource>,
}

/// A component's git source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    pub url: String,
    /// The commit (or other revision) that was built, when known.
    pub revision: Option<String>,
}

impl Component {
    /// The component's image, parsed; a usage error naming the component when it is invalid.
    pub fn image(&self) -> anyhow::Result<ImageReference> {
        self.container_image.parse().map_err(|problem: String| {
            Error::usage(format!(
                "cannot use the image of component {:?} from SNAPSHOT: {problem}",
                self.name
            ))
            .into()
        })
    }
}

impl Snapshot {
    /// The component to test: the one named (an empty name counts as none, as an unset
    /// downward-API label arrives), or else the only one.
    pub fn component(&self, name: Option<&str>) -> anyhow::Result<&Component> {
        match name.map(str::trim).filter(|name| !name.is_empty()) {
            Some(name) => self.named_component(name),
            None => self.only_component(),
        }
    }

    fn named_component(&self, name: &str) -> anyhow::Result<&Component> {
        self.components
            .iter()
            .find(|component| component.name == name)
            .ok_or_else(|| {
                Error::usage(format!(
                    "component {name:?} is not in the Snapshot{}; it has {}: set COMPONENT_NAME (--component) to one of them",
                    self.application_suffix(),
                    self.component_list()
                ))
                .into()
            })
    }

    fn only_component(&self) -> anyhow::Result<&Component> {
        match self.components.as_slice() {
            [only] => Ok(only),
            _ => Err(Error::usage(format!(
                "the Snapshot{} has {}, and no component was named: set COMPONENT_NAME (--component) to the one to test \
                 (group and override Snapshots carry no appstudio.openshift.io/component label to fill it in)",
                self.application_suffix(),
                self.component_list()
            ))
            .into()),
        }
    }

    /// `2 components (a, b)`.
    fn component_list(&self) -> String {
        let names: Vec<&str> = self.components.iter().map(|c| c.name.as_str()).collect();
        let components = counted(names.len(), "component", "components");
        format!("{components} ({})", names.join(", "))
    }

    /// ` of application "x"`, or nothing when the application is unknown.
    fn application_suffix(&self) -> String {
        if self.application.is_empty() {
            String::new()
        } else {
            format!(" of application {:?}", self.application)
        }
    }
}

/// Reads SNAPSHOT: the Snapshot spec JSON, a whole Snapshot CR, or `@path` to a file with
/// either. Every failure is a usage error (exit 2) that says what was found instead.
pub fn parse_snapshot(input: &str) -> anyhow::Result<Snapshot> {
    let trimmed = input.trim();
    match trimmed.strip_prefix('@') {
        Some(path) => {
            let text = read_snapshot_file(Path::new(path.trim()))?;
            parse_snapshot_text(&text)
                .map_err(|error| error.context(format!("reading SNAPSHOT from file {path}")))
        }
        None => parse_snapshot_text(trimmed),
    }
}

fn read_snapshot_file(path: &Path) -> anyhow::Result<String> {
    // A Snapshot of hundreds of components is well under a MiB.
    read_input_text(Some(path), 16 * MIB).or_kind(Kind::Usage, || {
        format!(
            "cannot read SNAPSHOT file {}: check the path after '@'",
            path.display()
        )
    })
}

fn parse_snapshot_text(text: &str) -> anyhow::Result<Snapshot> {
    let text = text.trim();
    if text.is_empty() {
        return Err(unreadable(
            "it is empty; pass the Snapshot spec JSON (the SNAPSHOT param), or @path to a file holding it",
        ));
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(_) if looks_like_a_name(text) => return Err(passed_by_name(text)),
        Err(error) => {
            return Err(unreadable(&format!(
                "not valid JSON: {error}{}",
                truncation_hint(&error)
            )))
        }
    };
    let spec = snapshot_spec(&value)?;
    let components = read_components(spec)?;
    Ok(Snapshot {
        application: string_field(spec, "application").unwrap_or_default(),
        components,
    })
}

/// The object holding `components`: the value itself, or `spec` of a whole Snapshot CR.
fn snapshot_spec(value: &Value) -> anyhow::Result<&Map<String, Value>> {
    let Value::Object(object) = value else {
        let hint = if value.is_string() {
            " (was the Snapshot passed by name?)"
        } else {
            ""
        };
        return Err(unreadable(&format!(
            "expected a JSON object with \"components\", got {}{hint}",
            json_kind(value)
        )));
    };
    if object.contains_key("components") {
        return Ok(object);
    }
    if let Some(Value::Object(spec)) = object.get("spec") {
        if spec.contains_key("components") {
            return Ok(spec);
        }
    }
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    Err(unreadable(&format!(
        "expected a JSON object with \"components\" (a Snapshot spec, or a Snapshot with spec.components), got an object with {}",
        if keys.is_empty() {
            "no keys".to_owned()
        } else {
            format!("keys {}", keys.join(", "))
        }
    )))
}

fn read_components(spec: &Map<String, Value>) -> anyhow::Result<Vec<Component>> {
    let components = match spec.get("components") {
        Some(Value::Array(components)) => components.as_slice(),
        Some(other) => {
            return Err(unreadable(&format!(
                "\"components\" must be a list, got {}",
                json_kind(other)
            )))
        }
        None => &[],
    };
    if components.is_empty() {
        return Err(unreadable(
            "the Snapshot has no components: there is nothing to test",
        ));
    }
    components
        .iter()
        .enumerate()
        .map(|(index, value)| read_component(index, value))
        .collect()
}

fn read_component(index: usize, value: &Value) -> anyhow::Result<Component> {
    let Value::Object(object) = value else {
        return Err(unreadable(&format!(
            "components[{index}] must be an object with \"name\" and \"containerImage\", got {}",
            json_kind(value)
        )));
    };
    let name = required_string(object, index, "name")?;
    let container_image = required_string(object, index, "containerImage")?;
    Ok(Component {
        source: read_source(object),
        name,
        container_image,
    })
}

fn required_string(
    object: &Map<String, Value>,
    index: usize,
    field: &str,
) -> anyhow::Result<String> {
    match string_field(object, field) {
        Some(value) if !value.trim().is_empty() => Ok(value),
        _ => {
            let name = string_field(object, "name")
                .map(|name| format!(" ({name:?})"))
                .unwrap_or_default();
            Err(unreadable(&format!(
                "components[{index}]{name} has no {field:?}: each component needs a non-empty string there"
            )))
        }
    }
}

/// `source.git.{url,revision}`; newer models also put the URL at `source.url`.
fn read_source(component: &Map<String, Value>) -> Option<GitSource> {
    let source = component.get("source")?.as_object()?;
    let git = source.get("git").and_then(Value::as_object);
    let url = git
        .and_then(|git| string_field(git, "url"))
        .or_else(|| string_field(source, "url"))
        .filter(|url| !url.trim().is_empty())?;
    let revision = git
        .and_then(|git| string_field(git, "revision"))
        .filter(|revision| !revision.trim().is_empty());
    Some(GitSource { url, revision })
}

fn string_field(object: &Map<String, Value>, field: &str) -> Option<String> {
    object.get(field)?.as_str().map(str::to_owned)
}

/// A Kubernetes object name (RFC 1123 subdomain): what SNAPSHOT holds in param-as-name mode.
fn looks_like_a_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= 253
        && edge_ok(bytes[0])
        && edge_ok(bytes[bytes.len() - 1])
        && bytes.iter().all(|&b| edge_ok(b) || b == b'-' || b == b'.')
}

fn passed_by_name(name: &str) -> anyhow::Error {
    Error::usage(format!(
        "cannot read SNAPSHOT: it holds {name:?}, which looks like the Snapshot's name rather than its JSON. \
         The IntegrationTestScenario probably has the annotation {PARAM_AS_NAME_ANNOTATION}, which makes Konflux \
         pass the name; stepkit needs the Snapshot spec JSON. Remove that annotation from the scenario, or pass \
         the JSON yourself (for example `kubectl get snapshot {name} -o jsonpath='{{.spec}}'`, as SNAPSHOT or as @file)"
    ))
    .into()
}

fn unreadable(problem: &str) -> anyhow::Error {
    Error::usage(format!("cannot read SNAPSHOT: {problem}")).into()
}

/// Long params are sometimes cut short on the way; say so when the JSON just stops.
fn truncation_hint(error: &serde_json::Error) -> &'static str {
    if error.is_eof() {
        " (the JSON ends early: was it truncated?)"
    } else {
        ""
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `(org, repo)` from a git URL: `https://github.com/org/repo(.git)(/)`, `http://`,
/// `git@host:org/repo.git`, `ssh://git@host/org/repo`, on any host (GitHub Enterprise too).
/// The org is the first path segment and the repo the second; `None` when there are fewer.
pub fn github_org_repo(url: &str) -> Option<(String, String)> {
    let url = url.trim();
    let path = url_path(url)?;
    // Query strings and fragments are not part of the path.
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut segments = path.split('/').filter(|segment| !segment.is_empty());
    let org = segments.next()?;
    let repo = segments.next()?;
    let repo = repo.strip_suffix(".git").unwrap_or(repo);
    let valid = |segment: &str| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    (valid(org) && valid(repo)).then(|| (org.to_owned(), repo.to_owned()))
}

/// The path part of a URL with a scheme, or of an scp-like `user@host:path`.
fn url_path(url: &str) -> Option<&str> {
    if let Some((_scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/')?;
        return (!authority.is_empty()).then_some(path);
    }
    // scp-like syntax: a host before the first ':', and no '/' before it.
    let (host, path) = url.split_once(':')?;
    let host = host.rsplit('@').next().unwrap_or(host);
    (!host.is_empty() && !host.contains('/')).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::exit_code;

    const SPEC: &str = r#"{
      "application": "sample-operator",
      "artifacts": {},
      "components": [
        {
          "name": "sample-operator",
          "version": "",
          "containerImage": "quay.io/redhat-user-workloads/sample-tenant/sample-operator@sha256:3f1c0c9f2b7a4e8d9c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d",
          "source": {"git": {"url": "https://github.com/example-org/sample-operator",
                             "revision": "9b2e4c1d7a3f5e6b8c0d2f4a6b8c0e2f4a6b8c0d",
                             "dockerfileUrl": "Dockerfile", "context": "./"}}
        },
        {
          "name": "sample-operator-bundle",
          "containerImage": "quay.io/redhat-user-workloads/sample-tenant/sample-operator-bundle@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
        }
      ]
    }"#;

    fn error_text(result: anyhow::Result<impl std::fmt::Debug>) -> (String, u8) {
        let error = result.expect_err("should fail");
        (format!("{error:#}"), exit_code(&error))
    }

    #[test]
    fn the_spec_json_is_read() {
        let snapshot = parse_snapshot(SPEC).unwrap();
        assert_eq!(snapshot.application, "sample-operator");
        assert_eq!(snapshot.components.len(), 2);
        let first = &snapshot.components[0];
        assert_eq!(first.name, "sample-operator");
        assert!(first.container_image.ends_with("f5e4d"));
        assert_eq!(
            first.source,
            Some(GitSource {
                url: "https://github.com/example-org/sample-operator".into(),
                revision: Some("9b2e4c1d7a3f5e6b8c0d2f4a6b8c0e2f4a6b8c0d".into()),
            })
        );
        assert_eq!(snapshot.components[1].source, None);
        assert_eq!(first.image().unwrap().name(), "sample-operator");
    }

    #[test]
    fn a_whole_snapshot_cr_is_read_through_its_spec() {
        let cr = format!(
            r#"{{"apiVersion": "appstudio.redhat.com/v1alpha1", "kind": "Snapshot",
                "metadata": {{"name": "sample-xyz12"}}, "spec": {SPEC}}}"#
        );
        assert_eq!(parse_snapshot(&cr).unwrap(), parse_snapshot(SPEC).unwrap());
    }

    #[test]
    fn a_file_is_read_after_at() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        std::fs::write(&path, SPEC).unwrap();
        let snapshot = parse_snapshot(&format!("@{}", path.display())).unwrap();
        assert_eq!(snapshot.components.len(), 2);

        let (text, code) = error_text(parse_snapshot(&format!(
            "@{}/missing.json",
            dir.path().display()
        )));
        assert_eq!(code, 2);
        assert!(
            text.contains("cannot read SNAPSHOT file") && text.contains("missing.json"),
            "{text}"
        );

        std::fs::write(&path, "[]").unwrap();
        let (text, code) = error_text(parse_snapshot(&format!("@{}", path.display())));
        assert_eq!(code, 2);
        assert!(
            text.contains("snapshot.json") && text.contains("got a list"),
            "{text}"
        );
    }

    #[test]
    fn a_bare_name_explains_param_as_name_mode() {
        let (text, code) = error_text(parse_snapshot("sample-operator-20260401-abcde"));
        assert_eq!(code, 2);
        assert!(text.contains("sample-operator-20260401-abcde"), "{text}");
        assert!(text.contains(PARAM_AS_NAME_ANNOTATION), "{text}");
        assert!(text.contains("Remove that annotation"), "{text}");
        assert!(text.contains("spec JSON"), "{text}");
    }

    #[test]
    fn a_json_string_says_it_may_be_a_name() {
        let (text, code) = error_text(parse_snapshot(r#""sample-snapshot""#));
        assert_eq!(code, 2);
        assert_eq!(
            text,
            "cannot read SNAPSHOT: expected a JSON object with \"components\", got a string (was the Snapshot passed by name?)"
        );
    }

    #[test]
    fn broken_inputs_say_what_was_found() {
        let cases = [
            ("", "it is empty"),
            ("   \n", "it is empty"),
            ("{\"components\": [", "was it truncated?"),
            ("Not A Name!", "not valid JSON"),
            ("[1, 2]", "got a list"),
            ("42", "got a number"),
            (
                "{\"application\": \"a\"}",
                "got an object with keys application",
            ),
            ("{}", "got an object with no keys"),
            (
                "{\"components\": {}}",
                "\"components\" must be a list, got an object",
            ),
            ("{\"components\": []}", "has no components"),
            (
                "{\"components\": [\"x\"]}",
                "components[0] must be an object",
            ),
            (
                "{\"components\": [{\"name\": \"a\"}]}",
                "components[0] (\"a\") has no \"containerImage\"",
            ),
            (
                "{\"components\": [{\"containerImage\": \"quay.io/a/b\"}]}",
                "components[0] has no \"name\"",
            ),
            (
                "{\"components\": [{\"name\": \"a\", \"containerImage\": 7}]}",
                "has no \"containerImage\"",
            ),
        ];
        for (input, expected) in cases {
            let (text, code) = error_text(parse_snapshot(input));
            assert_eq!(code, 2, "{input}");
            assert!(
                text.starts_with("cannot read SNAPSHOT: "),
                "{input}: {text}"
            );
            assert!(text.contains(expected), "{input}: {text}");
        }
    }

    #[test]
    fn the_only_component_is_chosen_without_a_name() {
        let single = parse_snapshot(
            r#"{"components": [{"name": "test-app", "containerImage": "quay.io/example/repo:latest"}]}"#,
        )
        .unwrap();
        assert_eq!(single.component(None).unwrap().name, "test-app");
        assert_eq!(
            single.component(Some("")).unwrap().name,
            "test-app",
            "an unset label arrives empty"
        );
        assert_eq!(single.application, "");
    }

    #[test]
    fn several_components_need_a_name() {
        let snapshot = parse_snapshot(SPEC).unwrap();
        let (text, code) = error_text(snapshot.component(None));
        assert_eq!(code, 2);
        assert!(
            text.contains("2 components (sample-operator, sample-operator-bundle)"),
            "{text}"
        );
        assert!(text.contains("COMPONENT_NAME"), "{text}");
        assert!(text.contains("application \"sample-operator\""), "{text}");

        let bundle = snapshot.component(Some("sample-operator-bundle")).unwrap();
        assert_eq!(bundle.name, "sample-operator-bundle");

        let (text, code) = error_text(snapshot.component(Some("nope")));
        assert_eq!(code, 2);
        assert!(text.contains("\"nope\" is not in the Snapshot"), "{text}");
        assert!(
            text.contains("sample-operator, sample-operator-bundle"),
            "{text}"
        );
    }

    #[test]
    fn an_invalid_component_image_names_the_component() {
        let snapshot = parse_snapshot(
            r#"{"components": [{"name": "web", "containerImage": "quay.io/Org/web:1"}]}"#,
        )
        .unwrap();
        let (text, code) = error_text(snapshot.components[0].image());
        assert_eq!(code, 2);
        assert!(
            text.contains("component \"web\"") && text.contains("uppercase"),
            "{text}"
        );
    }

    #[test]
    fn the_source_url_may_sit_at_source_url() {
        let snapshot = parse_snapshot(
            r#"{"components": [{"name": "a", "containerImage": "quay.io/a/b:1",
                "source": {"url": "https://github.com/o/r"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            snapshot.components[0].source,
            Some(GitSource {
                url: "https://github.com/o/r".into(),
                revision: None
            })
        );
    }

    #[test]
    fn the_fixtures_read_as_their_readme_says() {
        let multi = parse_snapshot(include_str!(
            "../../tests/fixtures/prowjob/snapshot/multi-component.json"
        ))
        .unwrap();
        assert_eq!(multi.application, "multiarch-tuning-operator");
        assert!(multi.component(None).is_err(), "two components need a name");
        let bundle = multi
            .component(Some("multiarch-tuning-operator-bundle"))
            .unwrap();
        let source = bundle.source.as_ref().unwrap();
        assert_eq!(
            github_org_repo(&source.url),
            Some(("openshift".into(), "multiarch-tuning-operator".into()))
        );
        assert!(bundle.image().unwrap().digest.is_some());

        let single = parse_snapshot(include_str!(
            "../../tests/fixtures/prowjob/snapshot/single-component.json"
        ))
        .unwrap();
        let only = single.component(None).unwrap();
        let image = only.image().unwrap();
        assert_eq!(image.tag.as_deref(), Some("v0.3"));
        assert!(image.digest.is_some());
        assert_eq!(
            github_org_repo(&only.source.as_ref().unwrap().url),
            Some(("openshift".into(), "konflux-tasks".into()))
        );

        let cr = parse_snapshot(include_str!(
            "../../tests/fixtures/prowjob/snapshot/snapshot-cr.json"
        ))
        .unwrap();
        assert_eq!(cr.application, "sandboxed-containers-operator");
        assert_eq!(cr.component(None).unwrap().source, None);
    }

    #[test]
    fn org_and_repo_come_from_any_common_git_url() {
        let expected = Some(("openshift".to_owned(), "konflux-tasks".to_owned()));
        for url in [
            "https://github.com/openshift/konflux-tasks",
            "https://github.com/openshift/konflux-tasks.git",
            "https://github.com/openshift/konflux-tasks/",
            "https://github.com/openshift/konflux-tasks.git/",
            "http://github.com/openshift/konflux-tasks",
            "https://user@github.com/openshift/konflux-tasks",
            "https://github.com/openshift/konflux-tasks/tree/main",
            "https://github.com/openshift/konflux-tasks?tab=readme",
            "git@github.com:openshift/konflux-tasks.git",
            "git@github.com:openshift/konflux-tasks",
            "ssh://git@github.com/openshift/konflux-tasks.git",
            "https://github.example.com/openshift/konflux-tasks",
            "github.com:openshift/konflux-tasks",
            "  https://github.com/openshift/konflux-tasks\n",
        ] {
            assert_eq!(github_org_repo(url), expected, "{url}");
        }
        assert_eq!(
            github_org_repo("https://github.com/my_org/my.repo.js.git"),
            Some(("my_org".to_owned(), "my.repo.js".to_owned()))
        );
    }

    #[test]
    fn unparseable_git_urls_give_none() {
        for url in [
            "",
            "https://github.com",
            "https://github.com/",
            "https://github.com/openshift",
            "https:///openshift/konflux-tasks",
            "openshift/konflux-tasks",
            "konflux-tasks",
            "https://github.com/open shift/repo",
            "https://github.com/../repo",
        ] {
            assert_eq!(github_org_repo(url), None, "{url}");
        }
    }
}
