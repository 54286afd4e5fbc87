//! Params (rules 12–14): names by type, types and properties, defaults and enums.

use super::*;

// ---- params -----------------------------------------------------------------------------------

/// What Tekton checks of a params list beyond duplicates, types and enums.
#[derive(Clone, Copy)]
pub(super) struct ParamChecks {
    /// Task and StepAction param names must match Tekton's name formats (Pipeline ones are not checked).
    pub(super) name_format: bool,
    /// Task and StepAction documents need `properties` on object params.
    pub(super) needs_properties: bool,
}

impl ParamChecks {
    pub(super) const PIPELINE: ParamChecks = ParamChecks {
        name_format: false,
        needs_properties: false,
    };
    pub(super) const STEP_ACTION: ParamChecks = ParamChecks {
        name_format: true,
        needs_properties: true,
    };
}

pub(super) fn check_params(
    params: &[ParamSpec],
    path: &FieldPath,
    checks: ParamChecks,
    sink: &mut Sink,
) {
    let mut exact: HashMap<&str, usize> = HashMap::new();
    let mut folded: HashMap<String, usize> = HashMap::new();
    for (i, param) in params.iter().enumerate() {
        let here = path.index(i);
        if checks.name_format {
            param_name_format(param, &here, sink);
        }
        let name = param.name.as_str();
        let location = Location::Field(here.field("name"));
        if let Some(first) = exact.get(name) {
            sink.report(
                RuleId::ParamNameFormat,
                location,
                format!("param {name:?} is declared twice (also params[{first}]); remove one"),
            );
        } else if let Some(first) = folded.get(&name.to_lowercase()) {
            sink.report_as(
                RuleId::ParamNameFormat,
                Severity::Warning,
                location,
                format!(
                    "param {name:?} differs from {:?} (params[{first}]) only in case; Tekton documents param names as \
                     case-insensitive, so rename one",
                    params[*first].name
                ),
            );
        }
        exact.entry(name).or_insert(i);
        folded.entry(name.to_lowercase()).or_insert(i);
        param_type(param, &here, checks.needs_properties, sink);
        param_enum(param, &here, sink);
    }
}

fn param_name_format(param: &ParamSpec, here: &FieldPath, sink: &mut Sink) {
    let name = param.name.as_str();
    let object = param.effective_type() == "object";
    if !is_param_name(name, !object) {
        let message = if name.is_empty() {
            "a param has no name; give it one".to_string()
        } else if object && is_param_name(name, true) {
            format!("object param {name:?} has a '.' in its name, which only string and array params may; rename it")
        } else {
            let dot = if object { "" } else { ", '.'" };
            format!("param name {name:?} is not valid: start with a letter or '_', then use letters, digits, '_', '-'{dot}")
        };
        sink.report(
            RuleId::ParamNameFormat,
            Location::Field(here.field("name")),
            message,
        );
    }
    if !object {
        return;
    }
    for key in param.properties.iter().flat_map(|p| p.keys()) {
        if !is_param_name(key, false) {
            sink.report(
                RuleId::ParamNameFormat,
                Location::Key(here.field("properties").field(key)),
                format!(
                    "key {key:?} of object param {name:?} is not valid: start with a letter or '_', then use letters, digits, '_' and '-'"
                ),
            );
        }
    }
}

fn param_type(param: &ParamSpec, here: &FieldPath, needs_properties: bool, sink: &mut Sink) {
    let name = param.name.as_str();
    if let Some(declared) = param.type_.as_deref().filter(|t| !t.is_empty()) {
        if !matches!(declared, "string" | "array" | "object") {
            sink.report(
                RuleId::ParamType,
                Location::Field(here.field("type")),
                format!("param {name:?} has type {declared:?}; use string, array or object"),
            );
            return;
        }
        let default_type = param.default.as_ref().map(json_param_type);
        if let Some(default_type) = default_type.filter(|t| *t != declared) {
            sink.report(
                RuleId::ParamType,
                Location::Field(here.field("default")),
                format!("param {name:?} is declared {declared} but its default is {default_type}; make the type and the default agree"),
            );
        }
    }
    if needs_properties && param.effective_type() == "object" && param.properties.is_none() {
        sink.report(
            RuleId::ParamType,
            Location::Field(here.clone()),
            format!("object param {name:?} has no properties; list its keys under properties (each with type: string)"),
        );
    }
    for (key, property) in param.properties.iter().flatten() {
        if let Some(property_type) = property
            .type_
            .as_deref()
            .filter(|t| !t.is_empty() && *t != "string")
        {
            sink.report(
                RuleId::ParamType,
                Location::Field(here.field("properties").field(key).field("type")),
                format!("key {key:?} of param {name:?} has type {property_type:?}; object param keys can only be strings"),
            );
        }
    }
}

fn param_enum(param: &ParamSpec, here: &FieldPath, sink: &mut Sink) {
    let Some(values) = param.enum_.as_ref().filter(|v| !v.is_empty()) else {
        return;
    };
    let name = param.name.as_str();
    let param_type = param.effective_type();
    if param_type != "string" {
        sink.report(
            RuleId::ParamEnum,
            Location::Key(here.field("enum")),
            format!(
                "param {name:?} is {param_type} but has an enum; only string params can have one"
            ),
        );
    }
    let texts: Vec<String> = values.iter().map(json_text).collect();
    let mut seen = HashSet::new();
    for (j, text) in texts.iter().enumerate() {
        if !seen.insert(text) {
            sink.report(
                RuleId::ParamEnum,
                Location::Field(here.field("enum").index(j)),
                format!("enum value {text:?} of param {name:?} is listed twice; remove one"),
            );
        }
    }
    // Tekton compares a string default; an empty one means "no choice made".
    let default = param
        .default
        .as_ref()
        .filter(|d| !d.is_array() && !d.is_object())
        .map(json_text);
    if let Some(default) = default.filter(|d| !d.is_empty() && !texts.contains(d)) {
        sink.report(
            RuleId::ParamEnum,
            Location::Field(here.field("default")),
            format!(
                "default {default:?} of param {name:?} is not one of its enum values ({}); add it to enum or change the default \
                 (enums also need the enable-param-enum feature flag)",
                texts.join(", ")
            ),
        );
    }
}

/// The type Tekton gives a default value: arrays and objects as such, anything else a string.
pub(super) fn json_param_type(value: &Json) -> &'static str {
    match value {
        Json::Array(_) => "array",
        Json::Object(_) => "object",
        _ => "string",
    }
}

pub(super) fn json_text(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}
