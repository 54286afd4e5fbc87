//! undefined-param-ref, array-param-misuse and params-in-script: a `$(params…)` must name a
//! declared param (or object key) and fit the field it is in, and never be pasted into a script.

use super::*;

impl<'a> Model<'a> {
    pub(super) fn check_param(
        &self,
        site: &Site<'a>,
        reference: &Reference,
        segments: &[String],
        uses: &mut Uses<'a>,
        sink: &mut Sink,
    ) {
        let Some((resolved, keys)) = self.resolve_param(site.scope, segments) else {
            if site.slot.is_checked() {
                self.report_undefined_param(site, reference, segments, sink);
            }
            return;
        };
        // A param passed in undeclared has no known type: any use fits.
        let Some(param) = resolved.spec else {
            return;
        };
        uses.params.insert((resolved.scope, param.name.as_str()));
        if site.slot.is_checked() {
            check_param_shape(site, reference, param, keys, sink);
        }
    }

    pub(super) fn find_param(&self, mut scope: usize, name: &str) -> Option<Resolved<'a>> {
        loop {
            let current = &self.scopes[scope];
            if let Some(spec) = current.params.iter().find(|p| p.name == name) {
                return Some(Resolved {
                    scope,
                    spec: Some(spec),
                });
            }
            if current.passed_params.contains(&name) {
                return Some(Resolved { scope, spec: None });
            }
            scope = current.parent?;
        }
    }

    pub(super) fn report_undefined_param(
        &self,
        site: &Site,
        reference: &Reference,
        segments: &[String],
        sink: &mut Sink,
    ) {
        let scope = &self.scopes[site.scope];
        let mut names = Vec::new();
        self.for_each_scope(site.scope, |s| {
            names.extend(s.params.iter().map(|p| p.name.as_str()));
            names.extend(s.passed_params.iter().copied());
        });
        sink.report(
            RuleId::UndefinedParamRef,
            reference.location(&site.path, site.text),
            format!(
                "$({}) names param \"{}\", which this {} does not declare; \
                 declare it under {}.params or fix the name ({})",
                reference.expression,
                segments[0],
                scope.label,
                scope.path,
                declared_list(names)
            ),
        );
    }

    pub(super) fn report_param_in_script(
        &self,
        site: &Site,
        reference: &Reference,
        segments: &[String],
        sink: &mut Sink,
    ) {
        let variable = env_name(segments);
        let whose = if site.slot == Slot::ShellScript {
            "the sh -c script"
        } else {
            "the script"
        };
        let mut message = format!(
            "$({expr}) is pasted into {whose} of {owner} before it runs, so a value with quotes \
             or `;` runs as code; pass it through env \
             (env: [{{name: {variable}, value: \"$({expr})\"}}]) and use \"${variable}\"",
            expr = reference.expression,
            owner = site.owner,
        );
        let location = reference.location(&site.path, site.text);
        if self.scopes[site.scope].kind == ScopeKind::StepAction {
            message.push_str(" (the webhook rejects $(params…) in a StepAction's script)");
            sink.report_as(RuleId::ParamsInScript, Severity::Error, location, message);
        } else {
            sink.report(RuleId::ParamsInScript, location, message);
        }
    }
}

/// The segments after `params` of a param reference (`$(params.x)`, or the v1alpha1
/// `$(inputs.params.x)`).
pub(super) fn param_segments(reference: &Reference) -> Option<&[String]> {
    let segments = match reference.root() {
        "params" => &reference.segments[1..],
        "inputs" if reference.segment(1) == Some("params") => &reference.segments[2..],
        _ => return None,
    };
    (!segments.is_empty()).then_some(segments)
}

/// Whether a reference to a declared param fits its type and the field it is in.
pub(super) fn check_param_shape(
    site: &Site,
    reference: &Reference,
    param: &ParamSpec,
    keys: &[String],
    sink: &mut Sink,
) {
    match param.effective_type() {
        "object" => check_object_use(site, reference, param, keys, sink),
        "array" => check_array_use(site, reference, param, keys, sink),
        _ => check_string_use(site, reference, param, keys, sink),
    }
}

pub(super) fn check_object_use(
    site: &Site,
    reference: &Reference,
    param: &ParamSpec,
    keys: &[String],
    sink: &mut Sink,
) {
    let (expression, name) = (&reference.expression, &param.name);
    let location = reference.location(&site.path, site.text);
    match keys {
        [] if reference.index.is_some() => sink.report(
            RuleId::ArrayParamMisuse,
            location,
            format!(
                "$({expression}) indexes object param \"{name}\"; \
                 use one of its keys, $(params.{name}.KEY)"
            ),
        ),
        [] => check_whole_use(site, reference, "object", name, sink),
        [key] if object_has_key(param, key) => {}
        _ => {
            let known = param
                .properties
                .iter()
                .flat_map(|p| p.keys().map(String::as_str))
                .collect();
            let message = format!(
                "$({expression}) names key \"{}\" of object param \"{name}\", \
                 which has no such key; add it to the param's properties or fix the name ({})",
                keys.join("."),
                declared_list(known)
            );
            sink.report(RuleId::UndefinedParamRef, location, message);
        }
    }
}

pub(super) fn check_array_use(
    site: &Site,
    reference: &Reference,
    param: &ParamSpec,
    keys: &[String],
    sink: &mut Sink,
) {
    let (expression, name) = (&reference.expression, &param.name);
    if !keys.is_empty() {
        let message = format!(
            "$({expression}) reads key \"{}\" of array param \"{name}\", which has no keys; \
             use an item, $(params.{name}[0])",
            keys.join(".")
        );
        sink.report(
            RuleId::UndefinedParamRef,
            reference.location(&site.path, site.text),
            message,
        );
    } else if reference.index.is_none() {
        check_whole_use(site, reference, "array", name, sink);
    }
}

pub(super) fn check_string_use(
    site: &Site,
    reference: &Reference,
    param: &ParamSpec,
    keys: &[String],
    sink: &mut Sink,
) {
    let (expression, name) = (&reference.expression, &param.name);
    let location = reference.location(&site.path, site.text);
    if !keys.is_empty() {
        let message = format!(
            "$({expression}) reads key \"{}\" of string param \"{name}\", which has no keys; \
             declare \"{name}\" as an object param with properties or fix the reference",
            keys.join(".")
        );
        sink.report(RuleId::UndefinedParamRef, location, message);
    } else if reference.star || reference.index.is_some() {
        let message = format!(
            "$({expression}) treats string param \"{name}\" as an array; \
             use {} or declare it with type: array",
            param_syntax(name)
        );
        sink.report(RuleId::ArrayParamMisuse, location, message);
    }
}

/// An array or object param used whole: only an isolated `command`/`args` element or a param or
/// `when` value can take it.
pub(super) fn check_whole_use(
    site: &Site,
    reference: &Reference,
    kind: &str,
    name: &str,
    sink: &mut Sink,
) {
    let expression = &reference.expression;
    let message = match site.slot {
        Slot::Argv | Slot::ShellScript | Slot::Value if reference.is_whole(site.text) => return,
        Slot::Argv | Slot::ShellScript => format!(
            "$({expression}) expands {kind} param \"{name}\" into several elements, \
             so it must be the whole element on its own (\"$({expression})\"); \
             use one item, or split the element"
        ),
        Slot::Value => format!(
            "$({expression}) passes {kind} param \"{name}\" whole, \
             so it must be the whole value on its own; use one item to build a string"
        ),
        _ => format!(
            "$({expression}) uses {kind} param \"{name}\" whole where only a string fits; \
             use one item ({}) or pass it as a separate args element",
            item_syntax(kind, name)
        ),
    };
    let location = reference.location(&site.path, site.text);
    sink.report(RuleId::ArrayParamMisuse, location, message);
}

/// One item of an array or object param.
pub(super) fn item_syntax(kind: &str, name: &str) -> String {
    if kind == "array" {
        format!("$(params.{name}[0])")
    } else {
        format!("$(params.{name}.KEY)")
    }
}

pub(super) fn object_has_key(param: &ParamSpec, key: &str) -> bool {
    let in_properties = param
        .properties
        .as_ref()
        .is_some_and(|p| p.contains_key(key));
    let in_default = param
        .default
        .as_ref()
        .and_then(|d| d.as_object())
        .is_some_and(|d| d.contains_key(key));
    in_properties || in_default || (param.properties.is_none() && param.default.is_none())
}

/// How to reference param `name`: brackets for a dotted name.
pub(super) fn param_syntax(name: &str) -> String {
    if name.contains('.') {
        format!("$(params[\"{name}\"])")
    } else {
        format!("$(params.{name})")
    }
}

/// An env var name for a param reference: `image-url` → `IMAGE_URL`.
pub(super) fn env_name(segments: &[String]) -> String {
    let joined = segments.join("_");
    let name: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("P_{name}")
    } else {
        name
    }
}
