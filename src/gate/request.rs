//! What a gate is asked to approve, and the identity that ties an issue to it.
//!
//! A request has a *key* (which thing: under Kratix `<promise>/<namespace>/<name>/<uid>`, so a
//! deleted and recreated resource asks again; under Tekton the `--request-id`) and a *hash*
//! (which version of it: `sha256:` of the canonical JSON of the `--hash-paths` values). The hash
//! only looks at the paths it is given, so a re-run that sees new labels, a new
//! `resourceVersion` or the status this gate wrote itself does not ask for approval again.
//!
//! Everything here is pure: text in, [`Request`] out. Reading `/kratix/input/object.yaml` lives in
//! `kratix.rs`; talking to GitHub lives elsewhere.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::core::error::Error;

/// The hash path used when none is given: Kratix's own change detection hashes `.spec` too.
pub const DEFAULT_HASH_PATH: &str = ".spec";

/// The kind shown for a Tekton request whose document is not a Kubernetes object.
pub const TEKTON_REQUEST_KIND: &str = "Request";

/// One request for approval.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `<promise>/<namespace>/<name>/<uid>` under Kratix (namespace empty when cluster-scoped);
    /// the `--request-id` under Tekton.
    pub key: String,
    /// `sha256:<hex>` of the canonical JSON of the hashed paths.
    pub hash: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub uid: Option<String>,
    /// What the issue body shows.
    pub spec: Value,
    /// GitHub login of whoever asked, from an annotation, without a leading `@`.
    pub requester: Option<String>,
    /// What an earlier run of the gate recorded in the object's status.
    pub previous: PreviousApproval,
}

/// `status.approval` / `status.approvalIssue` as an earlier run (or the sign-off scripts) left them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviousApproval {
    /// `status.approval.issueUrl`, else the legacy `status.approvalIssue`.
    pub issue_url: Option<String>,
    pub state: Option<String>,
    pub request_hash: Option<String>,
    pub etag: Option<String>,
    /// `status.approval.requestedAt`: when the issue was created (RFC 3339), which starts a
    /// `--timeout` before the issue is read again.
    pub requested_at: Option<String>,
}

/// Builds the request from the text of `/kratix/input/object.yaml`.
///
/// `promise` is `KRATIX_PROMISE_NAME`; outside a Kratix pod the object's kind, lower-cased,
/// stands in for it. `requester_annotation` names the annotation holding the requester's
/// GitHub login, when the Promise sets one.
pub fn request_from_kratix_object(
    object_yaml: &str,
    promise: Option<&str>,
    hash_paths: &[String],
    requester_annotation: Option<&str>,
) -> anyhow::Result<Request> {
    let object = parse_document(object_yaml).map_err(|problem| {
        Error::usage(format!(
            "cannot read the Kratix object (input/object.yaml): {problem}"
        ))
    })?;
    let identity = kubernetes_identity(&object).map_err(|problem| {
        Error::usage(format!(
            "cannot use the Kratix object (input/object.yaml): {problem}"
        ))
    })?;
    let uid = identity.uid.clone().ok_or_else(|| {
        Error::usage(
            "cannot use the Kratix object (input/object.yaml): metadata.uid is missing; Kratix \
             always writes it, and the gate needs it so a recreated resource asks again \
             (add a uid when writing the file by hand)",
        )
    })?;
    let promise = non_empty(promise)
        .map(str::to_string)
        .unwrap_or_else(|| identity.kind.to_lowercase());
    let key = format!(
        "{promise}/{}/{}/{uid}",
        identity.namespace.as_deref().unwrap_or(""),
        identity.name
    );
    let hash = hash_of_paths(&object, hash_paths)?;
    Ok(Request {
        key,
        hash,
        spec: object.get("spec").cloned().unwrap_or(Value::Null),
        requester: requester_annotation.and_then(|name| requester_from(&object, name)),
        previous: previous_approval(&object),
        kind: identity.kind,
        name: identity.name,
        namespace: identity.namespace,
        uid: Some(uid),
    })
}

/// Builds the request for a Tekton gate: `request_id` is its key; `request_document` (JSON or
/// YAML) is what is being approved.
///
/// A document that is a Kubernetes object (it has `kind` and `metadata.name`) is read like a
/// Kratix object: its kind, name and namespace are shown and the hash paths apply to it. Any
/// other document is the *spec* of a request named after the id, so the default `.spec` hash
/// path covers all of it.
pub fn request_from_tekton(
    request_id: &str,
    request_document: Option<&str>,
    hash_paths: &[String],
) -> anyhow::Result<Request> {
    let key = request_id.trim();
    if key.is_empty() {
        return Err(Error::usage(
            "the request id is empty: pass --request-id, e.g. $(context.pipelineRun.uid), so \
             re-runs find the same issue",
        )
        .into());
    }
    let document = match request_document {
        Some(text) => parse_document(text).map_err(|problem| {
            Error::usage(format!(
                "cannot read the request document for {key:?}: {problem}"
            ))
        })?,
        None => Value::Null,
    };
    match kubernetes_identity(&document) {
        Ok(identity) => Ok(Request {
            key: key.to_string(),
            hash: hash_of_paths(&document, hash_paths)?,
            spec: document.get("spec").cloned().unwrap_or(Value::Null),
            requester: None,
            previous: PreviousApproval::default(),
            kind: identity.kind,
            name: identity.name,
            namespace: identity.namespace,
            uid: identity.uid,
        }),
        Err(_) => {
            let wrapped = Value::Object(Map::from_iter([("spec".to_string(), document)]));
            Ok(Request {
                key: key.to_string(),
                hash: hash_of_paths(&wrapped, hash_paths)?,
                spec: wrapped.get("spec").cloned().unwrap_or(Value::Null),
                requester: None,
                previous: PreviousApproval::default(),
                kind: TEKTON_REQUEST_KIND.to_string(),
                name: key.to_string(),
                namespace: None,
                uid: None,
            })
        }
    }
}

/// `sha256:<hex>` of `value` as canonical JSON: object keys sorted, no whitespace.
pub fn canonical_hash(value: &Value) -> String {
    let mut text = String::new();
    write_canonical(value, &mut text);
    let digest = Sha256::digest(text.as_bytes());
    let mut hash = String::with_capacity(7 + 64);
    hash.push_str("sha256:");
    for byte in digest {
        let _ = write!(hash, "{byte:02x}");
    }
    hash
}

/// Splits a dotted path (`.spec.size`, `spec.size`, `.spec.items.0`) into its segments.
/// The root (`.` or empty) is no segments.
pub fn parse_path(path: &str) -> Result<Vec<String>, String> {
    let trimmed = path.trim();
    let body = trimmed.strip_prefix('.').unwrap_or(trimmed);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let segments: Vec<String> = body.split('.').map(str::to_string).collect();
    if segments.iter().any(|s| s.is_empty() || s.trim() != s) {
        return Err(format!(
            "invalid path {path:?}: expected dotted field names such as .spec or .spec.size"
        ));
    }
    Ok(segments)
}

/// The value at `segments` under `value`: object fields by name, array items by index.
pub fn value_at<'a>(value: &'a Value, segments: &[String]) -> Option<&'a Value> {
    segments
        .iter()
        .try_fold(value, |current, segment| match current {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// The hash of `document` over `hash_paths` (`.spec` when none): the canonical hash of an object
/// mapping each normalised path to its value, null when missing. Keying by path means the
/// order of `--hash-paths` does not matter, while changing which paths are hashed does.
fn hash_of_paths(document: &Value, hash_paths: &[String]) -> anyhow::Result<String> {
    let default = [DEFAULT_HASH_PATH.to_string()];
    let paths = if hash_paths.iter().all(|p| p.trim().is_empty()) {
        &default[..]
    } else {
        hash_paths
    };
    let mut hashed = Map::new();
    for path in paths.iter().filter(|p| !p.trim().is_empty()) {
        let segments = parse_path(path)
            .and_then(|segments| refuse_volatile_path(path, segments))
            .map_err(|problem| Error::usage(format!("cannot use --hash-paths: {problem}")))?;
        let value = value_at(document, &segments)
            .map(|value| without_volatile_entries(&segments, value))
            .unwrap_or(Value::Null);
        hashed.insert(format!(".{}", segments.join(".")), value);
    }
    Ok(canonical_hash(&Value::Object(hashed)))
}

/// Paths whose value changes on every run (Kratix bookkeeping, this gate's own status) would
/// make every run ask for approval again; they are refused with the reason.
fn refuse_volatile_path(path: &str, segments: Vec<String>) -> Result<Vec<String>, String> {
    let names: Vec<&str> = segments.iter().map(String::as_str).collect();
    let problem = match names.as_slice() {
        [] => Some("the whole object includes its status and metadata, which change on every run"),
        ["status"] => Some("the whole status changes on every run (Kratix and this gate write it); name the fields, e.g. .status.plan"),
        ["metadata"] => Some("the whole metadata changes on every run (resourceVersion, managedFields); name the fields, e.g. .metadata.labels"),
        ["status", "approval" | "approvalIssue" | "message" | "kratix" | "conditions", ..] => {
            Some("this status field is written by Kratix or by the gate itself")
        }
        ["metadata", "resourceVersion" | "generation" | "managedFields" | "creationTimestamp", ..] => {
            Some("this metadata field changes without the request changing")
        }
        _ => None,
    };
    match problem {
        Some(why) => Err(format!("{path:?} cannot identify a request: {why}")),
        None => Ok(segments),
    }
}

/// Labels and annotations Kratix or kubectl set (e.g. `kratix.io/workflow-suspended` while a
/// gate waits) are left out of `.metadata.labels` / `.metadata.annotations` when hashed.
fn without_volatile_entries(segments: &[String], value: &Value) -> Value {
    let is_labels_or_annotations = matches!(
        segments,
        [m, f] if m == "metadata" && (f == "labels" || f == "annotations")
    );
    match value {
        Value::Object(map) if is_labels_or_annotations => Value::Object(
            map.iter()
                .filter(|(key, _)| !is_volatile_metadata_key(key))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        ),
        _ => value.clone(),
    }
}

fn is_volatile_metadata_key(key: &str) -> bool {
    key.starts_with("kratix.io/")
        || key.contains(".kratix.io/")
        || key == "kubectl.kubernetes.io/last-applied-configuration"
}

/// Writes `value` as JSON with object keys in byte order, whatever order the map keeps.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push('{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(text) => write_json_string(text, out),
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn write_json_string(text: &str, out: &mut String) {
    // A string always serialises; the fallback keeps this infallible without an unwrap.
    out.push_str(&serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}")));
}

/// Parses JSON or YAML text (JSON is YAML) into a JSON value.
fn parse_document(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Err("the file is empty".to_string());
    }
    let yaml: serde_yaml::Value = crate::tekton::yaml::from_str(text)
        .map_err(|err| format!("not valid YAML or JSON: {err}"))?;
    Ok(yaml_to_json(yaml))
}

/// Converts YAML to JSON. Kubernetes writes string keys only; any other key (`1: x` typed by
/// hand) becomes its text rather than an error.
fn yaml_to_json(yaml: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => number_to_json(&n),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (yaml_key_text(key), yaml_to_json(value)))
                .collect(),
        ),
        Y::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}

fn number_to_json(n: &serde_yaml::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::from(i)
    } else if let Some(u) = n.as_u64() {
        Value::from(u)
    } else {
        // NaN and infinities have no JSON form; null is what serde_json gives them too.
        n.as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

fn yaml_key_text(key: serde_yaml::Value) -> String {
    match key {
        serde_yaml::Value::String(s) => s,
        serde_yaml::Value::Null => "null".to_string(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Number(n) => n.to_string(),
        other => serde_yaml::to_string(&other)
            .map(|text| text.trim_end().to_string())
            .unwrap_or_default(),
    }
}

/// Kind, name, namespace and uid of a Kubernetes object.
struct Identity {
    kind: String,
    name: String,
    namespace: Option<String>,
    uid: Option<String>,
}

fn kubernetes_identity(object: &Value) -> Result<Identity, String> {
    let map = object.as_object().ok_or_else(|| {
        format!(
            "expected a Kubernetes object (a mapping), got {}",
            describe(object)
        )
    })?;
    let kind = required_string(map.get("kind"), "kind")?;
    let metadata =
        match map.get("metadata") {
            Some(Value::Object(metadata)) => metadata,
            Some(other) => {
                return Err(format!(
                    "metadata must be a mapping, got {}",
                    describe(other)
                ))
            }
            None => return Err(
                "metadata is missing (expected metadata.name, metadata.namespace, metadata.uid)"
                    .to_string(),
            ),
        };
    let name = required_string(metadata.get("name"), "metadata.name")?;
    Ok(Identity {
        kind,
        name,
        namespace: optional_string(metadata.get("namespace")),
        uid: optional_string(metadata.get("uid")),
    })
}

fn required_string(value: Option<&Value>, field: &str) -> Result<String, String> {
    match value {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.trim().to_string()),
        Some(Value::String(_)) => Err(format!("{field} is empty")),
        Some(other) => Err(format!("{field} must be a string, got {}", describe(other))),
        None => Err(format!("{field} is missing")),
    }
}

fn optional_string(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

/// The requester's login from `metadata.annotations[annotation]`, without a leading `@`.
fn requester_from(object: &Value, annotation: &str) -> Option<String> {
    let annotation = non_empty(Some(annotation))?;
    let login = object
        .get("metadata")?
        .get("annotations")?
        .get(annotation)?
        .as_str()?
        .trim();
    non_empty(Some(login.trim_start_matches('@'))).map(str::to_string)
}

/// What an earlier run wrote into the status; anything malformed there is treated as absent
/// (the gate rewrites it whole on this run).
fn previous_approval(object: &Value) -> PreviousApproval {
    let status = object.get("status");
    let approval = status.and_then(|s| s.get("approval"));
    let field = |name: &str| optional_string(approval.and_then(|a| a.get(name)));
    PreviousApproval {
        issue_url: field("issueUrl")
            .or_else(|| optional_string(status.and_then(|s| s.get("approvalIssue")))),
        state: field("state"),
        request_hash: field("requestHash"),
        etag: field("etag"),
        requested_at: field("requestedAt"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::{exit_code, Kind};
    use proptest::prelude::*;

    const OBJECT: &str = include_str!("../../tests/fixtures/gate/object.yaml");
    const CHANGED_SPEC: &str = include_str!("../../tests/fixtures/gate/object-changed-spec.yaml");
    const NEW_UID: &str = include_str!("../../tests/fixtures/gate/object-new-uid.yaml");

    fn spec_paths() -> Vec<String> {
        vec![".spec".to_string()]
    }

    fn kratix(yaml: &str) -> anyhow::Result<Request> {
        request_from_kratix_object(
            yaml,
            Some("postgresql"),
            &spec_paths(),
            Some("stepkit.dev/requester"),
        )
    }

    fn usage_message(result: anyhow::Result<Request>) -> String {
        let err = result.expect_err("should be refused");
        assert_eq!(exit_code(&err), Kind::Usage.exit_code(), "{err:#}");
        format!("{err:#}")
    }

    #[test]
    fn reads_identity_spec_requester_and_previous_approval_from_the_fixture() {
        let request = kratix(OBJECT).unwrap();
        assert_eq!(
            request.key,
            "postgresql/team-a/acid-minimal/6f1c2a9e-3b7d-4e52-9a1f-0c8d2e5b7a14"
        );
        assert_eq!(request.kind, "postgresql");
        assert_eq!(request.name, "acid-minimal");
        assert_eq!(request.namespace.as_deref(), Some("team-a"));
        assert_eq!(request.requester.as_deref(), Some("alice"));
        assert_eq!(request.spec["dbName"], "bestdb");
        assert!(request.hash.starts_with("sha256:") && request.hash.len() == 7 + 64);
        assert_eq!(
            request.previous.issue_url.as_deref(),
            Some("https://github.com/acme/platform-approvals/issues/42")
        );
        assert_eq!(request.previous.state.as_deref(), Some("pending"));
        assert_eq!(request.previous.etag.as_deref(), Some("W/\"8c1d2f0e6b\""));
        // The fixture records the hash of its own spec, as the gate would have written it.
        assert_eq!(
            request.previous.request_hash.as_deref(),
            Some(request.hash.as_str())
        );
    }

    #[test]
    fn a_changed_spec_changes_the_hash_but_not_the_key() {
        let before = kratix(OBJECT).unwrap();
        let after = kratix(CHANGED_SPEC).unwrap();
        assert_eq!(before.key, after.key);
        assert_ne!(before.hash, after.hash);
        assert_ne!(
            after.previous.request_hash.as_deref(),
            Some(after.hash.as_str())
        );
    }

    #[test]
    fn a_recreated_resource_has_a_new_key_and_the_same_hash() {
        let before = kratix(OBJECT).unwrap();
        let after = kratix(NEW_UID).unwrap();
        assert_ne!(before.key, after.key);
        assert_eq!(before.hash, after.hash);
        assert_eq!(after.previous, PreviousApproval::default());
    }

    #[test]
    fn metadata_and_status_changes_do_not_change_the_hash() {
        let base = kratix(OBJECT).unwrap();
        let mut object: Value = serde_yaml::from_str(OBJECT).unwrap();
        object["metadata"]["resourceVersion"] = Value::from("99999");
        object["metadata"]["labels"]["team"] = Value::from("b");
        object["status"] =
            serde_json::json!({"message": "Request approved", "approval": {"state": "approved"}});
        let text = serde_json::to_string(&object).unwrap();
        assert_eq!(kratix(&text).unwrap().hash, base.hash);
    }

    #[test]
    fn hash_paths_select_what_is_hashed_and_missing_paths_hash_as_null() {
        let size_only = |yaml: &str| {
            request_from_kratix_object(yaml, Some("p"), &[".spec.instances".to_string()], None)
                .unwrap()
                .hash
        };
        let object = "kind: K\nmetadata: {name: a, uid: u}\nspec: {instances: 2, env: dev}\n";
        let other_env = "kind: K\nmetadata: {name: a, uid: u}\nspec: {instances: 2, env: prod}\n";
        let more = "kind: K\nmetadata: {name: a, uid: u}\nspec: {instances: 3, env: dev}\n";
        assert_eq!(size_only(object), size_only(other_env));
        assert_ne!(size_only(object), size_only(more));

        let missing =
            request_from_kratix_object(object, Some("p"), &[".spec.nothing".to_string()], None)
                .unwrap();
        assert_eq!(
            missing.hash,
            canonical_hash(&serde_json::json!({".spec.nothing": null}))
        );
    }

    #[test]
    fn the_order_and_spelling_of_hash_paths_do_not_matter() {
        let object = "kind: K\nmetadata: {name: a, uid: u, labels: {tier: gold}}\nspec: {x: 1}\n";
        let one = request_from_kratix_object(
            object,
            None,
            &[".spec".into(), ".metadata.labels".into()],
            None,
        )
        .unwrap();
        let two = request_from_kratix_object(
            object,
            None,
            &["metadata.labels".into(), "spec".into()],
            None,
        )
        .unwrap();
        assert_eq!(one.hash, two.hash);
        let empty = request_from_kratix_object(object, None, &[], None).unwrap();
        let spec = request_from_kratix_object(object, None, &spec_paths(), None).unwrap();
        assert_eq!(empty.hash, spec.hash, "no hash paths means .spec");
    }

    #[test]
    fn kratix_labels_do_not_count_when_labels_are_hashed() {
        let paths = [".metadata.labels".to_string()];
        let plain = "kind: K\nmetadata: {name: a, uid: u, labels: {tier: gold}}\n";
        let suspended = "kind: K\nmetadata: {name: a, uid: u, labels: {tier: gold, kratix.io/workflow-suspended: \"true\"}}\n";
        let a = request_from_kratix_object(plain, None, &paths, None).unwrap();
        let b = request_from_kratix_object(suspended, None, &paths, None).unwrap();
        assert_eq!(a.hash, b.hash);
    }

    #[test]
    fn volatile_hash_paths_are_refused_with_the_reason() {
        for (path, why) in [
            (".", "whole object"),
            (".status", "name the fields"),
            (".metadata", "resourceVersion"),
            (".status.approval", "gate itself"),
            (".metadata.resourceVersion", "without the request changing"),
            (".spec..x", "dotted field names"),
        ] {
            let text = usage_message(request_from_kratix_object(
                OBJECT,
                None,
                &[path.to_string()],
                None,
            ));
            assert!(
                text.contains("--hash-paths") && text.contains(why),
                "{path}: {text}"
            );
        }
        // A status field another pipeline computed (a plan) is a fine thing to approve.
        assert!(
            request_from_kratix_object(OBJECT, None, &[".status.plan".to_string()], None).is_ok()
        );
    }

    #[test]
    fn without_a_promise_name_the_kind_stands_in_and_cluster_scope_leaves_namespace_empty() {
        let object = "kind: Database\nmetadata: {name: a, uid: u-1}\nspec: {}\n";
        let request = request_from_kratix_object(object, None, &spec_paths(), None).unwrap();
        assert_eq!(request.key, "database//a/u-1");
        assert_eq!(request.namespace, None);
    }

    #[test]
    fn bad_objects_are_usage_errors_that_say_what_is_wrong() {
        for (yaml, expected) in [
            ("", "empty"),
            ("- a\n- b\n", "got a list"),
            ("just text", "got a string"),
            ("kind: K\nspec: {}\n", "metadata is missing"),
            ("kind: K\nmetadata: []\n", "metadata must be a mapping"),
            (
                "kind: K\nmetadata: {namespace: x, uid: u}\n",
                "metadata.name is missing",
            ),
            (
                "kind: K\nmetadata: {name: 3, uid: u}\n",
                "metadata.name must be a string",
            ),
            ("metadata: {name: a, uid: u}\n", "kind is missing"),
            ("kind: K\nmetadata: {name: a}\n", "metadata.uid is missing"),
            ("kind: [unclosed\n", "not valid YAML"),
        ] {
            let text = usage_message(kratix(yaml));
            assert!(
                text.contains("input/object.yaml") && text.contains(expected),
                "{yaml:?}: {text}"
            );
        }
    }

    #[test]
    fn requester_annotation_is_optional_and_loses_its_at_sign() {
        let object = "kind: K\nmetadata: {name: a, uid: u, annotations: {who: '@Bob '}}\n";
        let with = request_from_kratix_object(object, None, &spec_paths(), Some("who")).unwrap();
        assert_eq!(with.requester.as_deref(), Some("Bob"));
        let absent =
            request_from_kratix_object(object, None, &spec_paths(), Some("other")).unwrap();
        assert_eq!(absent.requester, None);
        let unset = request_from_kratix_object(object, None, &spec_paths(), None).unwrap();
        assert_eq!(unset.requester, None);
    }

    #[test]
    fn legacy_approval_issue_fills_in_the_issue_url() {
        let object = "kind: K\nmetadata: {name: a, uid: u}\nstatus: {approvalIssue: https://github.com/o/r/issues/7, approval: oops}\n";
        let request = request_from_kratix_object(object, None, &spec_paths(), None).unwrap();
        assert_eq!(
            request.previous.issue_url.as_deref(),
            Some("https://github.com/o/r/issues/7")
        );
        assert_eq!(request.previous.state, None);
    }

    #[test]
    fn a_tekton_summary_is_the_spec_of_a_request_named_by_its_id() {
        let request = request_from_tekton(
            " run-123 ",
            Some(r#"{"image": "quay.io/a/b:1", "env": "prod"}"#),
            &spec_paths(),
        )
        .unwrap();
        assert_eq!(request.key, "run-123");
        assert_eq!(request.name, "run-123");
        assert_eq!(request.kind, TEKTON_REQUEST_KIND);
        assert_eq!(request.spec["env"], "prod");
        let yaml = request_from_tekton(
            "run-123",
            Some("env: prod\nimage: quay.io/a/b:1\n"),
            &spec_paths(),
        )
        .unwrap();
        assert_eq!(
            request.hash, yaml.hash,
            "JSON and YAML of the same document hash alike"
        );
        let other = request_from_tekton(
            "run-123",
            Some("env: dev\nimage: quay.io/a/b:1\n"),
            &spec_paths(),
        )
        .unwrap();
        assert_ne!(request.hash, other.hash);
        let bare = request_from_tekton("run-123", None, &spec_paths()).unwrap();
        assert_eq!(bare.spec, Value::Null);
    }

    #[test]
    fn a_tekton_kubernetes_object_keeps_its_identity_but_the_id_is_the_key() {
        let request = request_from_tekton("run-9", Some(OBJECT), &spec_paths()).unwrap();
        assert_eq!(request.key, "run-9");
        assert_eq!(request.kind, "postgresql");
        assert_eq!(request.namespace.as_deref(), Some("team-a"));
        assert_eq!(request.hash, kratix(OBJECT).unwrap().hash);
    }

    #[test]
    fn tekton_inputs_that_cannot_work_are_usage_errors() {
        let text = usage_message(request_from_tekton("  ", None, &spec_paths()));
        assert!(text.contains("--request-id"), "{text}");
        let text = usage_message(request_from_tekton("id", Some("a: [b"), &spec_paths()));
        assert!(
            text.contains("request document") && text.contains("\"id\""),
            "{text}"
        );
    }

    #[test]
    fn canonical_hash_is_sha256_of_sorted_compact_json() {
        // echo -n '{"a":1,"b":[true,null,"x"]}' | sha256sum
        let value = serde_json::json!({"b": [true, null, "x"], "a": 1});
        let mut text = String::new();
        write_canonical(&value, &mut text);
        assert_eq!(text, r#"{"a":1,"b":[true,null,"x"]}"#);
        assert_eq!(
            canonical_hash(&value),
            "sha256:eca8cfb31ab74533e1eb2f4c74d2d55dfe3c79ac704787e54be8647ea7777eb1"
        );
    }

    #[test]
    fn paths_parse_and_look_up_fields_and_indexes() {
        assert_eq!(parse_path(".spec.size").unwrap(), vec!["spec", "size"]);
        assert_eq!(parse_path("spec").unwrap(), vec!["spec"]);
        assert!(parse_path(".").unwrap().is_empty());
        assert!(parse_path(".spec.").is_err());
        let value = serde_json::json!({"spec": {"items": [{"n": 1}, {"n": 2}]}});
        let path = parse_path(".spec.items.1.n").unwrap();
        assert_eq!(value_at(&value, &path), Some(&Value::from(2)));
        assert_eq!(
            value_at(&value, &parse_path(".spec.items.x").unwrap()),
            None
        );
    }

    /// A small nested mapping with unique keys, and the same entries in another order.
    fn entries() -> impl Strategy<Value = Vec<(String, Value)>> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            "[a-z ]{0,8}".prop_map(Value::from),
            Just(Value::Null),
        ];
        let inner = prop::collection::btree_map("[a-zA-Z_]{1,6}", leaf.clone(), 0..5)
            .prop_map(|map| Value::Object(map.into_iter().collect()));
        prop::collection::btree_map("[a-zA-Z_]{1,6}", prop_oneof![leaf, inner], 1..8)
            .prop_map(|map| map.into_iter().collect())
    }

    fn object_yaml(entries: &[(String, Value)], metadata_first: bool) -> String {
        let spec: Vec<String> = entries
            .iter()
            .map(|(key, value)| {
                format!(
                    "  {}: {}",
                    serde_json::to_string(key).unwrap(),
                    serde_json::to_string(value).unwrap()
                )
            })
            .collect();
        let metadata = "metadata:\n  uid: u-1\n  name: a\n";
        let spec = format!("spec:\n{}\n", spec.join("\n"));
        if metadata_first {
            format!("kind: K\n{metadata}{spec}")
        } else {
            format!("{spec}{metadata}kind: K\n")
        }
    }

    proptest! {
        #[test]
        fn the_hash_does_not_depend_on_key_order(
            (original, shuffled) in entries().prop_flat_map(|e| (Just(e.clone()), Just(e).prop_shuffle()))
        ) {
            let a = request_from_kratix_object(&object_yaml(&original, true), None, &spec_paths(), None).unwrap();
            let b = request_from_kratix_object(&object_yaml(&shuffled, false), None, &spec_paths(), None).unwrap();
            prop_assert_eq!(&a.hash, &b.hash);
            let forward: Map<String, Value> = original.iter().cloned().collect();
            let backward: Map<String, Value> = original.iter().rev().cloned().collect();
            prop_assert_eq!(canonical_hash(&Value::Object(forward)), canonical_hash(&Value::Object(backward)));
        }
    }
}
