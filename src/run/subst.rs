//! Variable substitution as Tekton does it: `$(...)` references found by `tekton::expr` are
//! replaced from a table, in one pass (a replaced value is never scanned again), each stage of
//! the reconciler (params, then context, then result paths, then workspaces) being its own pass.
//! References the table does not know stay as they are. An argument that is exactly one
//! reference to an array becomes that many arguments.
//!
//! After Tekton, Kubernetes expands `$(VAR)` in command, args and env values from the
//! container's environment, with `$$` standing for `$` ([`expand_env`]).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;

use super::params::ParamValue;
use crate::tekton::expr::{references, Reference};
use crate::tekton::model::{Container, EnvVar, ParamBinding, Step, TaskSpec, Volume};

/// The canonical key of a reference: `params.x`, `params["a.b"]`, `params.list[1]`; `[*]` is
/// kept apart (see [`Reference::star`]).
pub fn key_of(reference: &Reference) -> String {
    key_from_segments(&reference.segments, reference.index)
}

fn key_from_segments(segments: &[String], index: Option<usize>) -> String {
    let mut key = String::new();
    for (i, segment) in segments.iter().enumerate() {
        if segment.contains('.') {
            key.push_str(&format!("[{segment:?}]"));
        } else {
            if i > 0 {
                key.push('.');
            }
            key.push_str(segment);
        }
    }
    if let Some(i) = index {
        key.push_str(&format!("[{i}]"));
    }
    key
}

/// The key for `root.name` followed by more plain segments.
pub fn key(parts: &[&str]) -> String {
    let owned: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
    key_from_segments(&owned, None)
}

/// One stage's replacement table.
#[derive(Debug, Clone, Default)]
pub struct Replacements {
    strings: HashMap<String, String>,
    arrays: HashMap<String, Vec<String>>,
    objects: HashMap<String, BTreeMap<String, String>>,
}

impl Replacements {
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty() && self.arrays.is_empty() && self.objects.is_empty()
    }

    /// A string value under `key`.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.strings.insert(key.into(), value.into());
    }

    /// A value under `prefix.name` with every form Tekton offers: the string, each array item
    /// (`[i]`) and the whole array, each object key and the whole object.
    pub fn value(&mut self, prefix: &str, name: &str, value: &ParamValue) {
        let base = key(&[prefix, name]);
        self.value_at(&base, value);
        if prefix == "params" {
            // v1beta1's `$(inputs.params.x)`, which Tekton still substitutes.
            self.value_at(&key(&["inputs", "params", name]), value);
        }
    }

    /// The whole-array form (`$(key[*])` as a whole argument) under `key` alone.
    pub fn set_whole_array(&mut self, key: impl Into<String>, items: Vec<String>) {
        self.arrays.insert(key.into(), items);
    }

    /// A value under an already built key (`tasks.t.results.r`).
    pub fn value_at(&mut self, base: &str, value: &ParamValue) {
        match value {
            ParamValue::String(text) => {
                self.strings.insert(base.to_string(), text.clone());
            }
            ParamValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.strings.insert(format!("{base}[{i}]"), item.clone());
                }
                self.arrays.insert(base.to_string(), items.clone());
            }
            ParamValue::Object(entries) => {
                for (k, v) in entries {
                    let item = if k.contains('.') {
                        format!("{base}[{k:?}]")
                    } else {
                        format!("{base}.{k}")
                    };
                    self.strings.insert(item, v.clone());
                }
                self.objects.insert(base.to_string(), entries.clone());
            }
        }
    }

    /// Adds every entry of `other`, which wins on a clash.
    pub fn extend(&mut self, other: &Replacements) {
        self.strings
            .extend(other.strings.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.arrays
            .extend(other.arrays.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.objects
            .extend(other.objects.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.strings.get(key).map(String::as_str)
    }

    /// `text` with every known string reference replaced.
    pub fn apply(&self, text: &str) -> String {
        if self.strings.is_empty() || !text.contains("$(") {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for reference in references(text) {
            if reference.star {
                continue;
            }
            if let Some(value) = self.strings.get(&key_of(&reference)) {
                out.push_str(&text[last..reference.start]);
                out.push_str(value);
                last = reference.end;
            }
        }
        out.push_str(&text[last..]);
        out
    }

    /// The whole array when `text` is exactly one reference to one, else `[apply(text)]`.
    pub fn apply_array(&self, text: &str) -> Vec<String> {
        if let Some(items) = self.whole_reference(text, &self.arrays) {
            return items.clone();
        }
        vec![self.apply(text)]
    }

    fn whole_reference<'a, T>(&self, text: &str, table: &'a HashMap<String, T>) -> Option<&'a T> {
        let refs = references(text);
        match refs.as_slice() {
            [only] if only.is_whole(text) && only.index.is_none() => table.get(&key_of(only)),
            _ => None,
        }
    }

    /// A param value with references replaced; a string that is exactly one reference to an
    /// array or object takes that type (Tekton's `applyOrCorrect`).
    pub fn apply_value(&self, value: &ParamValue) -> ParamValue {
        match value {
            ParamValue::String(text) => {
                if let Some(items) = self.whole_reference(text, &self.arrays) {
                    ParamValue::Array(items.clone())
                } else if let Some(entries) = self.whole_reference(text, &self.objects) {
                    ParamValue::Object(entries.clone())
                } else {
                    ParamValue::String(self.apply(text))
                }
            }
            ParamValue::Array(items) => {
                ParamValue::Array(items.iter().flat_map(|i| self.apply_array(i)).collect())
            }
            ParamValue::Object(entries) => ParamValue::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), self.apply(v)))
                    .collect(),
            ),
        }
    }

    /// Substitutes a JSON value (a binding's value as written) in place.
    pub fn apply_json(&self, value: &mut Json) {
        match value {
            Json::String(text) => *text = self.apply(text),
            Json::Array(items) => {
                let expanded: Vec<Json> = items
                    .iter()
                    .flat_map(|item| match item {
                        Json::String(text) => {
                            self.apply_array(text).into_iter().map(Json::from).collect()
                        }
                        other => vec![other.clone()],
                    })
                    .collect();
                *items = expanded;
            }
            Json::Object(entries) => {
                for item in entries.values_mut() {
                    self.apply_json(item);
                }
            }
            _ => {}
        }
    }

    /// Substitutes param bindings (a Pipeline task's or a step's): a string that is one
    /// reference to an array or object becomes that value.
    pub fn apply_bindings(&self, bindings: &mut [ParamBinding]) {
        for binding in bindings {
            let Some(value) = binding.value.as_mut() else {
                continue;
            };
            if let Json::String(text) = value {
                if let Some(items) = self.whole_reference(text, &self.arrays) {
                    *value = Json::from(items.clone());
                    continue;
                }
                if let Some(entries) = self.whole_reference(text, &self.objects) {
                    *value = serde_json::to_value(entries).unwrap_or_default();
                    continue;
                }
            }
            self.apply_json(value);
        }
    }

    /// Substitutes every field of a Task body Tekton substitutes: steps (and their StepAction
    /// params), the step template, sidecars, volumes and workspace mount paths.
    pub fn apply_task(&self, spec: &mut TaskSpec) {
        if self.is_empty() {
            return;
        }
        for step in &mut spec.steps {
            self.apply_step(step);
        }
        if let Some(template) = &mut spec.step_template {
            self.apply_container(template);
        }
        for sidecar in &mut spec.sidecars {
            self.apply_container(sidecar);
        }
        for volume in &mut spec.volumes {
            self.apply_volume(volume);
        }
        for workspace in &mut spec.workspaces {
            if let Some(path) = &mut workspace.mount_path {
                *path = self.apply(path);
            }
        }
    }

    pub fn apply_step(&self, step: &mut Step) {
        self.apply_bindings(&mut step.params);
        if let Some(on_error) = &mut step.on_error {
            *on_error = self.apply(on_error);
        }
        for when in &mut step.when {
            if let Some(input) = &mut when.input {
                self.apply_json(input);
            }
            if let Some(values) = &mut when.values {
                let mut json = Json::from(values.clone());
                self.apply_json(&mut json);
                *values = json.as_array().cloned().unwrap_or_default();
            }
        }
        self.apply_container(&mut step.container);
    }

    pub fn apply_container(&self, c: &mut Container) {
        let one = |s: &mut Option<String>| {
            if let Some(text) = s {
                *text = self.apply(text);
            }
        };
        one(&mut c.name);
        one(&mut c.image);
        one(&mut c.image_pull_policy);
        one(&mut c.working_dir);
        one(&mut c.script);
        for list in [&mut c.command, &mut c.args].into_iter().flatten() {
            let mut json = Json::from(list.clone());
            self.apply_json(&mut json);
            *list = json.as_array().cloned().unwrap_or_default();
        }
        for env in &mut c.env {
            self.apply_env(env);
        }
        for from in &mut c.env_from {
            one(&mut from.prefix);
            for named in [&mut from.secret_ref, &mut from.config_map_ref]
                .into_iter()
                .flatten()
            {
                one(&mut named.name);
            }
        }
        for mount in &mut c.volume_mounts {
            mount.name = self.apply(&mount.name);
            mount.mount_path = self.apply(&mount.mount_path);
            one(&mut mount.sub_path);
        }
    }

    fn apply_env(&self, env: &mut EnvVar) {
        if let Some(value) = &mut env.value {
            self.apply_json(value);
        }
        if let Some(from) = &mut env.value_from {
            for key_ref in [&mut from.secret_key_ref, &mut from.config_map_key_ref]
                .into_iter()
                .flatten()
            {
                for field in [&mut key_ref.name, &mut key_ref.key].into_iter().flatten() {
                    *field = self.apply(field);
                }
            }
        }
    }

    fn apply_volume(&self, volume: &mut Volume) {
        volume.name = self.apply(&volume.name);
        for source in volume.source.values_mut() {
            self.apply_json(source);
        }
    }
}

/// Kubernetes' expansion of `$(VAR)` in command, args and env values: a defined variable is
/// replaced, an undefined one left as written, and `$$` is one `$`.
pub fn expand_env(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' || i + 1 >= bytes.len() {
            i += 1;
            continue;
        }
        match bytes[i + 1] {
            b'$' => {
                out.push_str(&text[copied..i]);
                out.push('$');
                i += 2;
                copied = i;
            }
            b'(' => match text[i + 2..].find(')') {
                Some(close) => {
                    let name = &text[i + 2..i + 2 + close];
                    let end = i + 3 + close;
                    if let Some(value) = lookup(name) {
                        out.push_str(&text[copied..i]);
                        out.push_str(&value);
                        copied = end;
                    }
                    i = end;
                }
                None => i += 2,
            },
            _ => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Replacements {
        let mut r = Replacements::default();
        r.value("params", "s", &ParamValue::String("v".into()));
        r.value(
            "params",
            "list",
            &ParamValue::Array(vec!["a".into(), "b".into()]),
        );
        r.value(
            "params",
            "obj",
            &ParamValue::Object(BTreeMap::from([("k".to_string(), "x".to_string())])),
        );
        r.value("params", "dotted.name", &ParamValue::String("d".into()));
        r
    }

    #[test]
    fn every_syntax_of_a_param_is_replaced_in_one_pass() {
        let r = table();
        assert_eq!(
            r.apply(
                "$(params.s) $(params['s']) $(params[\"s\"]) $(params.list[1]) $(params.obj.k)"
            ),
            "v v v b x"
        );
        assert_eq!(r.apply("$(params[\"dotted.name\"])"), "d");
        assert_eq!(
            r.apply("$(params.unknown) $(date)"),
            "$(params.unknown) $(date)"
        );
        let mut once = Replacements::default();
        once.set("params.a", "$(params.b)");
        once.set("params.b", "no");
        assert_eq!(once.apply("$(params.a)"), "$(params.b)");
    }

    #[test]
    fn a_whole_array_reference_becomes_arguments() {
        let r = table();
        assert_eq!(r.apply_array("$(params.list[*])"), ["a", "b"]);
        assert_eq!(r.apply_array("$(params.list)"), ["a", "b"]);
        assert_eq!(
            r.apply_array("x-$(params.list[*])"),
            ["x-$(params.list[*])"]
        );
        assert!(matches!(
            r.apply_value(&ParamValue::String("$(params.obj[*])".into())),
            ParamValue::Object(_)
        ));
    }

    #[test]
    fn kubernetes_expands_defined_variables_and_unescapes_dollars() {
        let lookup = |name: &str| (name == "HOME").then(|| "/h".to_string());
        assert_eq!(expand_env("$(HOME)/x", &lookup), "/h/x");
        assert_eq!(
            expand_env("$$(HOME) $(NOPE) $x $", &lookup),
            "$(HOME) $(NOPE) $x $"
        );
    }
}
