//! Param values as Tekton types them (string, array of strings, object of strings), read from
//! YAML, from `-p NAME=VALUE` and from result files, and checked against a Task's or Pipeline's
//! declarations the way Tekton checks a TaskRun: required params given, types matching, enum
//! values allowed.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::tekton::model::{ParamBinding, ParamSpec};

/// One param or result value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    String(String),
    Array(Vec<String>),
    Object(BTreeMap<String, String>),
}

impl ParamValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            ParamValue::String(_) => "string",
            ParamValue::Array(_) => "array",
            ParamValue::Object(_) => "object",
        }
    }

    /// A value as YAML gave it: scalars become strings (`1` is `"1"`, as Kubernetes' decoder of
    /// ParamValue reads an unquoted number), sequences arrays and mappings objects.
    pub fn from_json(value: &Json) -> Result<ParamValue, String> {
        match value {
            Json::Array(items) => items
                .iter()
                .map(scalar_text)
                .collect::<Result<_, _>>()
                .map(ParamValue::Array),
            Json::Object(entries) => entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), scalar_text(v)?)))
                .collect::<Result<_, String>>()
                .map(ParamValue::Object),
            scalar => scalar_text(scalar).map(ParamValue::String),
        }
    }

    /// A result file's content, as Tekton reads a result of `declared` type: a string result is
    /// the bytes as written (a trailing newline included); array and object results are JSON.
    pub fn from_result(text: &str, declared: &str) -> Result<ParamValue, String> {
        if declared == "string" {
            return Ok(ParamValue::String(text.to_string()));
        }
        let parsed = match text.trim_start().as_bytes().first() {
            Some(b'[') => serde_json::from_str::<Vec<String>>(text)
                .ok()
                .map(ParamValue::Array),
            Some(b'{') => serde_json::from_str::<BTreeMap<String, String>>(text)
                .ok()
                .map(ParamValue::Object),
            _ => None,
        };
        match parsed {
            Some(value) if value.type_name() == declared => Ok(value),
            _ => Err(format!(
                "expected a JSON {declared} of strings, got {:?}",
                abbreviate(text)
            )),
        }
    }

    /// How a result file holds the value: strings as they are, the others as JSON.
    pub fn to_file_text(&self) -> String {
        match self {
            ParamValue::String(text) => text.clone(),
            ParamValue::Array(items) => Json::from(items.clone()).to_string(),
            ParamValue::Object(entries) => serde_json::to_string(entries).unwrap_or_default(),
        }
    }

    pub fn to_json(&self) -> Json {
        match self {
            ParamValue::String(text) => Json::from(text.as_str()),
            ParamValue::Array(items) => Json::from(items.clone()),
            ParamValue::Object(entries) => serde_json::to_value(entries).unwrap_or_default(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            ParamValue::String(text) => Some(text),
            _ => None,
        }
    }
}

fn scalar_text(value: &Json) -> Result<String, String> {
    match value {
        Json::String(text) => Ok(text.clone()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        Json::Null => Ok(String::new()),
        other => Err(format!("expected a string, got {other}")),
    }
}

fn abbreviate(text: &str) -> String {
    let mut short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// A named value, in the order it was given.
pub type Params = Vec<(String, ParamValue)>;

/// Reads `name: x, value: ...` bindings.
pub fn from_bindings(bindings: &[ParamBinding], what: &str) -> Result<Params, String> {
    bindings
        .iter()
        .map(|binding| {
            let value = binding.value.as_ref().unwrap_or(&Json::Null);
            ParamValue::from_json(value)
                .map(|v| (binding.name.clone(), v))
                .map_err(|e| format!("{what} param {:?}: {e}", binding.name))
        })
        .collect()
}

/// `-p NAME=VALUE` typed by the declaration it names: an array is a JSON array or a comma list,
/// an object a JSON object; an undeclared name is refused, since it would be ignored.
pub fn from_command_line(
    given: &[(String, String)],
    specs: &[ParamSpec],
    owner: &str,
) -> Result<Params, String> {
    let mut params = Params::new();
    for (name, text) in given {
        let (name, text) = (name.as_str(), text.as_str());
        let Some(spec) = specs.iter().find(|s| s.name == name) else {
            let declared: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            return Err(format!(
                "-p {name}: {owner} declares no param {name:?} (declared: {})",
                if declared.is_empty() {
                    "none".to_string()
                } else {
                    declared.join(", ")
                }
            ));
        };
        let value = match spec.effective_type() {
            "array" if text.trim_start().starts_with('[') => serde_json::from_str(text)
                .map(ParamValue::Array)
                .map_err(|e| format!("-p {name}: not a JSON array of strings: {e}"))?,
            "array" if text.is_empty() => ParamValue::Array(Vec::new()),
            "array" => ParamValue::Array(text.split(',').map(str::to_string).collect()),
            "object" => serde_json::from_str(text)
                .map(ParamValue::Object)
                .map_err(|e| {
                    format!("-p {name}: an object param takes a JSON object of strings ({e})")
                })?,
            _ => ParamValue::String(text.to_string()),
        };
        params.retain(|(n, _)| n != name);
        params.push((name.to_string(), value));
    }
    Ok(params)
}

/// Given params over earlier ones of the same name.
pub fn overlay(base: &Params, over: Params) -> Params {
    let mut merged: Params = base
        .iter()
        .filter(|(name, _)| !over.iter().any(|(n, _)| n == name))
        .cloned()
        .collect();
    merged.extend(over);
    merged
}

/// The default of a declaration, typed.
pub fn default_of(spec: &ParamSpec) -> Result<Option<ParamValue>, String> {
    spec.default
        .as_ref()
        .map(|d| {
            ParamValue::from_json(d).map_err(|e| format!("default of param {:?}: {e}", spec.name))
        })
        .transpose()
}

/// Whether a string value is exactly one `$(...)` reference: Tekton lets such a value stand for
/// an array or object and checks its type once it is resolved.
fn is_whole_reference(text: &str) -> bool {
    let refs = crate::tekton::expr::references(text);
    refs.len() == 1 && refs[0].is_whole(text)
}

/// Tekton's TaskRun check of `given` against `specs`: every param without a default given, each
/// given value of the declared type (a string that is one reference may stand for an array or
/// object), every property of an object present, and enum values allowed.
pub fn validate(specs: &[ParamSpec], given: &Params, owner: &str) -> Result<(), String> {
    let missing: Vec<&str> = specs
        .iter()
        .filter(|s| s.default.is_none() && !given.iter().any(|(n, _)| *n == s.name))
        .map(|s| s.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{owner}: missing values for these params which have no default values: {} (pass them with -p NAME=VALUE)",
            missing.join(", ")
        ));
    }
    for (name, value) in given {
        let Some(spec) = specs.iter().find(|s| s.name == *name) else {
            continue;
        };
        let wanted = spec.effective_type();
        let stands_in = matches!(value, ParamValue::String(t) if is_whole_reference(t));
        if value.type_name() != wanted && !stands_in {
            return Err(format!(
                "{owner}: param {name:?} is declared {wanted} but was given a {} value",
                value.type_name()
            ));
        }
        if let (ParamValue::Object(entries), Some(properties)) = (value, &spec.properties) {
            let defaults = match default_of(spec) {
                Ok(Some(ParamValue::Object(d))) => d,
                _ => BTreeMap::new(),
            };
            let absent: Vec<&str> = properties
                .keys()
                .filter(|k| !entries.contains_key(*k) && !defaults.contains_key(*k))
                .map(String::as_str)
                .collect();
            if !absent.is_empty() {
                return Err(format!(
                    "{owner}: object param {name:?} lacks the keys {} its properties require",
                    absent.join(", ")
                ));
            }
        }
        if let (Some(allowed), ParamValue::String(text)) = (&spec.enum_, value) {
            let allowed: Vec<String> = allowed.iter().filter_map(|v| scalar_text(v).ok()).collect();
            if !text.is_empty() && !stands_in && !allowed.contains(text) {
                return Err(format!(
                    "{owner}: param {name:?} is {text:?}, not one of its enum values ({})",
                    allowed.join(", ")
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: Json) -> ParamSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn yaml_scalars_arrays_and_objects_become_typed_values() {
        assert_eq!(
            ParamValue::from_json(&json!(1)).unwrap(),
            ParamValue::String("1".into())
        );
        assert_eq!(
            ParamValue::from_json(&json!(["a", 2])).unwrap(),
            ParamValue::Array(vec!["a".into(), "2".into()])
        );
        assert!(ParamValue::from_json(&json!([["nested"]])).is_err());
    }

    #[test]
    fn results_keep_their_newline_and_structured_ones_are_json() {
        assert_eq!(
            ParamValue::from_result("abc\n", "string").unwrap(),
            ParamValue::String("abc\n".into())
        );
        assert_eq!(
            ParamValue::from_result("[\"a\",\"b\"]\n", "array").unwrap(),
            ParamValue::Array(vec!["a".into(), "b".into()])
        );
        let error = ParamValue::from_result("a,b", "array").unwrap_err();
        assert!(error.contains("JSON array"), "{error}");
    }

    #[test]
    fn command_line_values_are_typed_by_their_declaration() {
        let specs = vec![
            spec(json!({"name": "s"})),
            spec(json!({"name": "a", "type": "array"})),
            spec(json!({"name": "o", "type": "object"})),
        ];
        let given = from_command_line(
            &[
                ("s".into(), "x=y".into()),
                ("a".into(), "1,2".into()),
                ("o".into(), "{\"k\":\"v\"}".into()),
            ],
            &specs,
            "Task t",
        )
        .unwrap();
        assert_eq!(given[0].1, ParamValue::String("x=y".into()));
        assert_eq!(given[1].1, ParamValue::Array(vec!["1".into(), "2".into()]));
        assert!(matches!(&given[2].1, ParamValue::Object(o) if o["k"] == "v"));
        let error =
            from_command_line(&[("nope".into(), "1".into())], &specs, "Task t").unwrap_err();
        assert!(error.contains("declares no param \"nope\""), "{error}");
    }

    #[test]
    fn validation_names_missing_mistyped_and_disallowed_params() {
        let specs = vec![
            spec(json!({"name": "required"})),
            spec(json!({"name": "list", "type": "array", "default": []})),
            spec(json!({"name": "color", "default": "red", "enum": ["red", "blue"]})),
        ];
        let error = validate(&specs, &vec![], "Task t").unwrap_err();
        assert!(error.contains("no default values: required"), "{error}");
        let given = vec![
            ("required".to_string(), ParamValue::String("x".into())),
            ("list".to_string(), ParamValue::String("x".into())),
        ];
        let error = validate(&specs, &given, "Task t").unwrap_err();
        assert!(error.contains("declared array"), "{error}");
        let given = vec![
            ("required".to_string(), ParamValue::String("x".into())),
            (
                "list".to_string(),
                ParamValue::String("$(params.l[*])".into()),
            ),
            ("color".to_string(), ParamValue::String("green".into())),
        ];
        let error = validate(&specs, &given, "Task t").unwrap_err();
        assert!(error.contains("not one of its enum values"), "{error}");
    }
}
