//! A step's environment as the kubelet and Tekton's entrypoint give it: `envFrom` first, then
//! `env` in order (values from Secrets, ConfigMaps and the pod's own fields), each value expanded
//! against the variables before it (`$(VAR)`, `$$`); then, as the step starts, references to
//! earlier steps' results (`$(steps.S.results.R)`) replaced in env, command and args.

use std::collections::BTreeMap;
use std::path::Path;

use super::load::Catalog;
use super::params::ParamValue;
use super::report::Reporter;
use super::subst::expand_env;
use crate::core::error::Error;
use crate::tekton::expr::references;
use crate::tekton::model::Container;

/// What a step's `fieldRef` can read: the pod's metadata.
#[derive(Debug, Clone, Default)]
pub struct PodMeta {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub service_account: String,
}

/// Where env values come from.
pub struct EnvSources<'a> {
    pub catalog: &'a Catalog,
    pub reporter: &'a Reporter,
    pub pod: &'a PodMeta,
    /// `--env NAME=VALUE`: under everything the step declares.
    pub extra: &'a [(String, String)],
}

/// The environment of `container`, in order, later entries winning.
pub fn build(
    container: &Container,
    sources: &EnvSources,
    what: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut env: Vec<(String, String)> = sources.extra.to_vec();
    let set = |env: &mut Vec<(String, String)>, name: String, value: String| {
        env.retain(|(n, _)| *n != name);
        env.push((name, value));
    };
    for from in &container.env_from {
        let prefix = from.prefix.clone().unwrap_or_default();
        let (kind, named, data) = if let Some(secret) = &from.secret_ref {
            let name = secret.name.clone().unwrap_or_default();
            let data = sources.catalog.secret(&name);
            (("Secret", secret.optional), name, data)
        } else if let Some(map) = &from.config_map_ref {
            let name = map.name.clone().unwrap_or_default();
            let data = sources.catalog.config_map(&name);
            (("ConfigMap", map.optional), name, data)
        } else {
            continue;
        };
        let Some(data) = data else {
            if kind.1 == Some(true) {
                continue;
            }
            return Err(missing(what, kind.0, &named));
        };
        for (key, bytes) in data {
            let value = String::from_utf8_lossy(&bytes).into_owned();
            if kind.0 == "Secret" {
                sources.reporter.add_secret(&value);
            }
            set(&mut env, format!("{prefix}{key}"), value);
        }
    }
    for var in &container.env {
        let value = if let Some(from) = &var.value_from {
            match value_from(from, sources, what, &var.name)? {
                Some(value) => value,
                None => continue,
            }
        } else {
            let raw = match &var.value {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            let defined = env.clone();
            expand_env(&raw, &|name| lookup(&defined, name))
        };
        set(&mut env, var.name.clone(), value);
    }
    Ok(env)
}

pub fn lookup(env: &[(String, String)], name: &str) -> Option<String> {
    env.iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

fn missing(what: &str, kind: &str, name: &str) -> anyhow::Error {
    Error::usage(format!(
        "{what} reads {kind} {name:?}, which is not in the file or under --tasks{}",
        if kind == "Secret" {
            " (give it with --secret NAME=DIR)"
        } else {
            ""
        }
    ))
    .into()
}

fn value_from(
    from: &crate::tekton::model::EnvSource,
    sources: &EnvSources,
    what: &str,
    var: &str,
) -> anyhow::Result<Option<String>> {
    for (kind, key_ref) in [
        ("Secret", &from.secret_key_ref),
        ("ConfigMap", &from.config_map_key_ref),
    ] {
        let Some(key_ref) = key_ref else { continue };
        let name = key_ref.name.clone().unwrap_or_default();
        let key = key_ref.key.clone().unwrap_or_default();
        let data = if kind == "Secret" {
            sources.catalog.secret(&name)
        } else {
            sources.catalog.config_map(&name)
        };
        let value = data.as_ref().and_then(|d| d.get(&key));
        return match value {
            Some(bytes) => {
                let value = String::from_utf8_lossy(bytes).into_owned();
                if kind == "Secret" {
                    sources.reporter.add_secret(&value);
                }
                Ok(Some(value))
            }
            None if key_ref.optional == Some(true) => Ok(None),
            None if data.is_some() => Err(Error::usage(format!(
                "{what}: env {var} reads key {key:?} of {kind} {name:?}, which has no such key"
            ))
            .into()),
            None => Err(missing(what, kind, &name)),
        };
    }
    if let Some(field) = &from.field_ref {
        let path = field
            .get("fieldPath")
            .and_then(|p| p.as_str())
            .unwrap_or("");
        return field_value(sources.pod, path)
            .map(Some)
            .ok_or_else(|| {
                Error::usage(format!(
                    "{what}: env {var} reads fieldRef {path:?}, which stepkit task run does not provide (metadata.name, namespace, uid, labels['k'], annotations['k'], spec.serviceAccountName, spec.nodeName, status.podIP, status.hostIP)"
                ))
                .into()
            });
    }
    Ok(Some(String::new()))
}

/// The downward API fields a local pod has.
fn field_value(pod: &PodMeta, path: &str) -> Option<String> {
    let bracketed = |prefix: &str| -> Option<String> {
        let inner = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(inner.to_string())
    };
    if let Some(key) = bracketed("metadata.labels['") {
        return Some(pod.labels.get(&key).cloned().unwrap_or_default());
    }
    if let Some(key) = bracketed("metadata.annotations['") {
        return Some(pod.annotations.get(&key).cloned().unwrap_or_default());
    }
    Some(match path {
        "metadata.name" => pod.name.clone(),
        "metadata.namespace" => pod.namespace.clone(),
        "metadata.uid" => pod.uid.clone(),
        "spec.serviceAccountName" => pod.service_account.clone(),
        "spec.nodeName" => "localhost".to_string(),
        "status.podIP" | "status.hostIP" => "127.0.0.1".to_string(),
        _ => return None,
    })
}

/// A step result as Tekton's entrypoint reads it: JSON when it parses as a string, array or
/// object of strings, else the text as it is.
pub fn parse_loose(text: &str) -> ParamValue {
    match text.as_bytes().first() {
        Some(b'[') => {
            if let Ok(items) = serde_json::from_str::<Vec<String>>(text) {
                return ParamValue::Array(items);
            }
        }
        Some(b'{') => {
            if let Ok(entries) = serde_json::from_str::<BTreeMap<String, String>>(text) {
                return ParamValue::Object(entries);
            }
        }
        _ => {}
    }
    ParamValue::String(serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_string()))
}

/// Reads `$(steps.S.results.R)` from the steps directory (`/tekton/steps` on the host side).
pub fn step_result(steps_dir: &Path, step: &str, result: &str) -> Option<ParamValue> {
    let file = steps_dir
        .join(format!("step-{step}"))
        .join("results")
        .join(result);
    let text = super::results::read_capped(&file).ok()??;
    Some(parse_loose(&text))
}

/// `text` with references to step results replaced; a text that is exactly one `[*]` reference
/// to an array result becomes its items.
pub fn replace_step_results(text: &str, steps_dir: &Path) -> Result<Vec<String>, String> {
    if !text.contains("$(steps.") {
        return Ok(vec![text.to_string()]);
    }
    let mut out = String::new();
    let mut last = 0;
    for reference in references(text) {
        let segments = &reference.segments;
        if reference.root() != "steps" || segments.get(2).map(String::as_str) != Some("results") {
            continue;
        }
        let (Some(step), Some(result)) = (segments.get(1), segments.get(3)) else {
            continue;
        };
        let value = step_result(steps_dir, step, result).ok_or_else(|| {
            format!("$(steps.{step}.results.{result}) names a result step {step:?} did not write")
        })?;
        let replacement = match (&value, segments.get(4), reference.index) {
            (ParamValue::Array(items), None, _) if reference.star || reference.index.is_none() => {
                if reference.is_whole(text) {
                    return Ok(items.clone());
                }
                return Err(format!(
                    "$(steps.{step}.results.{result}[*]) is an array: it must be a whole argument"
                ));
            }
            (ParamValue::Array(items), None, Some(i)) => items.get(i).cloned().unwrap_or_default(),
            (ParamValue::Object(entries), Some(k), _) => {
                entries.get(k).cloned().unwrap_or_default()
            }
            (ParamValue::String(s), None, None) => s.clone(),
            _ => continue,
        };
        out.push_str(&text[last..reference.start]);
        out.push_str(&replacement);
        last = reference.end;
    }
    out.push_str(&text[last..]);
    Ok(vec![out])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_results_read_as_the_entrypoint_reads_them() {
        assert_eq!(parse_loose("abc\n"), ParamValue::String("abc\n".into()));
        assert_eq!(parse_loose("\"q\""), ParamValue::String("q".into()));
        assert_eq!(parse_loose("[\"a\"]"), ParamValue::Array(vec!["a".into()]));
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("step-one/results");
        std::fs::create_dir_all(&results).unwrap();
        std::fs::write(results.join("list"), "[\"x\",\"y\"]").unwrap();
        std::fs::write(results.join("word"), "hi").unwrap();
        assert_eq!(
            replace_step_results("$(steps.one.results.list[*])", dir.path()).unwrap(),
            ["x", "y"]
        );
        assert_eq!(
            replace_step_results(
                "say $(steps.one.results.word) $(steps.one.results.list[1])",
                dir.path()
            )
            .unwrap(),
            ["say hi y"]
        );
        assert!(replace_step_results("$(steps.two.results.x)", dir.path()).is_err());
    }

    #[test]
    fn field_refs_read_the_pod() {
        let pod = PodMeta {
            name: "tr-pod".into(),
            labels: BTreeMap::from([("app".to_string(), "x".to_string())]),
            ..PodMeta::default()
        };
        assert_eq!(
            field_value(&pod, "metadata.labels['app']").as_deref(),
            Some("x")
        );
        assert_eq!(
            field_value(&pod, "metadata.labels['none']").as_deref(),
            Some("")
        );
        assert_eq!(
            field_value(&pod, "metadata.name").as_deref(),
            Some("tr-pod")
        );
        assert_eq!(field_value(&pod, "spec.hostname"), None);
    }
}
