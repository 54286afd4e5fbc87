//! Results (rule 15): names, types, and values that name a step result.

use super::params::{json_param_type, json_text};
use super::*;

// ---- results ----------------------------------------------------------------------------------

/// Task results, step results and StepAction results share the name and type rules.
pub(super) fn check_results(results: &[ResultSpec], path: &FieldPath, sink: &mut Sink) {
    for (i, result) in results.iter().enumerate() {
        let here = path.index(i);
        let name = result.name.as_str();
        if !is_result_name(name) {
            sink.report(
                RuleId::ResultNameFormat,
                Location::Field(here.field("name")),
                format!(
                    "result name {name:?} is not valid: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
                ),
            );
            continue;
        }
        let result_type = match result.type_.as_deref().filter(|t| !t.is_empty()) {
            Some(declared) => declared,
            None if result.properties.is_some() => "object",
            None => "string",
        };
        match result_type {
            "string" | "array" => {}
            "object" if result.properties.is_none() => sink.report(
                RuleId::ResultNameFormat,
                Location::Field(here.clone()),
                format!("object result {name:?} has no properties; list its keys under properties"),
            ),
            "object" => {
                for (key, property) in result.properties.iter().flatten() {
                    if let Some(t) = property
                        .type_
                        .as_deref()
                        .filter(|t| !t.is_empty() && *t != "string")
                    {
                        sink.report(
                            RuleId::ResultNameFormat,
                            Location::Field(here.field("properties").field(key).field("type")),
                            format!("key {key:?} of result {name:?} has type {t:?}; object result keys can only be strings"),
                        );
                    }
                }
            }
            other => sink.report(
                RuleId::ResultNameFormat,
                Location::Field(here.field("type")),
                format!("result {name:?} has type {other:?}; use string, array or object"),
            ),
        }
        if let Some(value) = &result.value {
            result_value(name, value, &here.field("value"), sink);
        }
    }
}

/// A Task result's `value` passes on a step's result: `$(steps.<step>.results.<result>)`.
fn result_value(name: &str, value: &Json, path: &FieldPath, sink: &mut Sink) {
    let text = json_text(value);
    let problem = if value.is_array() || value.is_object() {
        Some(format!(
            "result {name:?} has a {} value",
            json_param_type(value)
        ))
    } else if text.is_empty() {
        None
    } else {
        match step_result_reference(&text) {
            None => Some(format!(
                "value {text:?} of result {name:?} is not a step result reference"
            )),
            Some((step, _)) if !is_dns_label(step) => Some(format!(
                "result {name:?} reads step {step:?}, which is not a valid step name"
            )),
            Some((_, result)) if !is_result_name(result) => Some(format!(
                "result {name:?} reads step result {result:?}, which is not a valid result name"
            )),
            Some(_) => None,
        }
    };
    if let Some(problem) = problem {
        sink.report(
            RuleId::ResultNameFormat,
            Location::Field(path.clone()),
            format!(
                "{problem}; a result's value must be a string $(steps.<step>.results.<result>)"
            ),
        );
    }
}

/// The step and result names of the first `$(steps.<step>.results.<result>)` in `text`.
pub(super) fn step_result_reference(text: &str) -> Option<(&str, &str)> {
    let start = text.find("$(steps.")? + "$(steps.".len();
    let rest = &text[start..];
    let middle = rest.find(".results.")?;
    let after = &rest[middle + ".results.".len()..];
    let end = after.find(')')?;
    Some((&rest[..middle], &after[..end]))
}
