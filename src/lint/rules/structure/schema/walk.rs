//! The walk over a document's positioned YAML that checks each key against the table: unknown
//! and removed fields, values of the wrong type, and names an embedded spec spells in another
//! case (`field-case`), which it also returns for the typed model.

use super::table::{Field, Object, Since, Type, Value, Version};
use crate::lint::finding::{FieldPath, Location};
use crate::lint::rules::{RuleId, Sink};
use crate::lint::{Profile, TektonDoc};
use crate::tekton::yaml::Node;

/// A key Tekton reads under another name: `path` ends in the key as written
/// (`spec.taskSpec.steps[0].volumeMounts[0].mountpath`), `to` is the field it is read as
/// (`mountPath`).
#[derive(Debug, Clone)]
pub struct FieldRename {
    pub path: FieldPath,
    pub to: &'static str,
}

/// Reports every mapping key of `doc` that its kind and version do not have, and returns the
/// keys Tekton reads under another name, parents before their children, so that the typed
/// model can read them the same way. It walks whichever rules are enabled: the model needs that.
pub fn check_field_names(doc: &TektonDoc, profile: Profile, sink: &mut Sink) -> Vec<FieldRename> {
    let konflux_sources = matches!(profile, Profile::Konflux | Profile::Partner);
    let mut walk = Walk {
        version: Version::of(doc),
        api_version: &doc.api_version,
        konflux_sources,
        embedded: false,
        sink,
        renames: Vec::new(),
    };
    walk.object(&doc.root, Object::Document(doc.kind), &FieldPath::root());
    walk.renames
}

/// A spec embedded in another object, which the CRDs keep as written.
fn is_embedded_spec(field: &str) -> bool {
    matches!(field, "taskSpec" | "pipelineSpec")
}

struct Walk<'a, 's> {
    version: Version,
    api_version: &'a str,
    /// konflux-ci/build-definitions writes `taskRef: {name, version}` in its Pipeline sources and
    /// its build strips `version` before applying: the Konflux profiles accept it.
    konflux_sources: bool,
    /// Inside an embedded taskSpec or pipelineSpec (see the module docs).
    embedded: bool,
    sink: &'a mut Sink<'s>,
    /// The `field-case` keys found so far, in the order the walk met them.
    renames: Vec<FieldRename>,
}

impl Walk<'_, '_> {
    fn object(&mut self, node: &Node, object: Object, path: &FieldPath) {
        let Some(entries) = node.as_map() else { return };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            let here = path.field(name);
            match object.field(name) {
                None => match self.case_folded(name, object, entries) {
                    Some(field) => {
                        let message = format!(
                            "{name:?} in {} is read by Tekton as {:?}: in an embedded spec, which \
                             the API server keeps as written, Go matches field names without \
                             regard to case; spell it {:?}",
                            describe(path),
                            field.name,
                            field.name
                        );
                        self.sink
                            .report(RuleId::FieldCase, Location::Key(here.clone()), message);
                        self.renames.push(FieldRename {
                            path: here,
                            to: field.name,
                        });
                        self.field_value(value, field, &path.field(field.name));
                    }
                    None => self.unknown(name, object, path),
                },
                Some(Field {
                    since: Since::V1(spelling),
                    ..
                }) if self.version == Version::V1beta1 => {
                    let message = format!(
                        "unknown field {name:?} in {} for {}: v1beta1 spells it {spelling} (or move the document to tekton.dev/v1)",
                        describe(path),
                        self.api_version
                    );
                    self.sink
                        .report(RuleId::UnknownField, Location::Key(here), message);
                }
                Some(Field {
                    since: Since::V1beta1(instead),
                    ..
                }) if self.version == Version::V1 => {
                    let message = format!(
                        "{name:?} in {} was removed in tekton.dev/v1: {instead}",
                        describe(path)
                    );
                    self.sink
                        .report(RuleId::V1beta1RemovedField, Location::Key(here), message);
                }
                Some(field) => self.field_value(value, field, &here),
            }
        }
    }

    /// The field an unknown `name` stands for where Go's case-insensitive decoder reads it.
    fn case_folded(
        &self,
        name: &str,
        object: Object,
        entries: &[(Node, Node)],
    ) -> Option<&'static Field> {
        if !self.embedded {
            return None;
        }
        let field = object.field_ignoring_case(name, self.version)?;
        let exact_too = entries
            .iter()
            .any(|(key, _)| key.as_str() == Some(field.name));
        (!exact_too).then_some(field)
    }

    fn field_value(&mut self, node: &Node, field: &Field, path: &FieldPath) {
        let outer = self.embedded;
        self.embedded = outer || is_embedded_spec(field.name);
        self.value(node, field.value, path);
        self.embedded = outer;
    }

    fn value(&mut self, node: &Node, value: Value, path: &FieldPath) {
        if node.is_null() {
            return; // null leaves any field empty
        }
        match value {
            Value::Any => {}
            Value::Scalar(scalar) => self.scalar(node, scalar, path),
            Value::Map(object) if node.as_map().is_some() => self.object(node, object, path),
            Value::List(object) if node.as_seq().is_some() => {
                for (i, item) in node.as_seq().unwrap_or_default().iter().enumerate() {
                    self.object(item, object, &path.index(i));
                }
            }
            Value::MapOf(object) if node.as_map().is_some() => {
                for (key, item) in node.as_map().unwrap_or_default() {
                    if let Some(name) = key.as_str() {
                        self.object(item, object, &path.field(name));
                    }
                }
            }
            Value::Dict(scalar) if node.as_map().is_some() => {
                for (key, item) in node.as_map().unwrap_or_default() {
                    if let Some(name) = key.as_str() {
                        self.scalar(item, scalar, &path.field(name));
                    }
                }
            }
            Value::List(_) => self.wrong_type(node, "a list", path),
            Value::Map(_) | Value::MapOf(_) | Value::Dict(_) => {
                self.wrong_type(node, "a mapping", path)
            }
        }
    }

    /// Checks a scalar the way Go's JSON decoder does after go-yaml typed it.
    fn scalar(&mut self, node: &Node, scalar: Type, path: &FieldPath) {
        if node.is_null() {
            return;
        }
        let text = node.as_str().filter(|_| node.to_json().is_string());
        let expected = match scalar {
            Type::Strings => {
                let Some(items) = node.as_seq() else {
                    return self.wrong_type(node, "a list of strings", path);
                };
                for (i, item) in items.iter().enumerate() {
                    self.scalar(item, Type::Str, &path.index(i));
                }
                return;
            }
            Type::Str if text.is_none() => "a string",
            Type::Bool if !node.to_json().is_boolean() => "true or false",
            Type::Int if !(node.as_str().is_some() && node.to_json().is_i64()) => "a whole number",
            Type::Duration if !text.is_some_and(is_go_duration) => {
                "a duration such as \"90s\" or \"1h30m\""
            }
            _ => return,
        };
        self.wrong_type(node, expected, path);
    }

    fn wrong_type(&mut self, node: &Node, expected: &str, path: &FieldPath) {
        let got = match (&node.value, node.to_json()) {
            (crate::tekton::yaml::Value::Seq(_), _) => "a list".to_string(),
            (crate::tekton::yaml::Value::Map(_), _) => "a mapping".to_string(),
            (_, serde_json::Value::Bool(b)) => format!(
                "the boolean {b} (YAML reads unquoted {:?} as a boolean; quote it if it is text)",
                node.as_str().unwrap_or_default()
            ),
            (_, serde_json::Value::Number(n)) => format!(
                "the number {n} (quote it if it is text: \"{}\")",
                node.as_str().unwrap_or_default()
            ),
            (_, value) => format!("{value}"),
        };
        let message = format!("{path}: expected {expected}, got {got}; the API server rejects it");
        self.sink
            .report(RuleId::UnknownField, Location::Field(path.clone()), message);
    }

    fn unknown(&mut self, name: &str, object: Object, path: &FieldPath) {
        let task_version = object == Object::TaskRef && name == "version";
        if task_version && self.konflux_sources {
            return;
        }

        let message = match suggestion(name, object.names(self.version)) {
            Some(known) => format!("unknown field {name:?} in {}; did you mean {known:?}?", describe(path)),
            None if task_version => format!(
                "unknown field \"version\" in {}: Tekton has no taskRef.version (konflux-ci/build-definitions \
                 strips it before applying; lint such sources with --profile konflux)",
                describe(path)
            ),
            None => format!(
                "unknown field {name:?} in {}: Tekton rejects fields it does not know; remove it or correct its name",
                describe(path)
            ),
        };
        self.sink.report(
            RuleId::UnknownField,
            Location::Key(path.field(name)),
            message,
        );
    }
}

/// Go's `time.ParseDuration`: `0`, or signed decimal numbers each with a unit (ns, us, µs, ms,
/// s, m, h), such as `1h30m` or `1.5s`.
fn is_go_duration(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    if body == "0" {
        return true;
    }
    let mut rest = body;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let number = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let digits = &rest[..number];
        if digits.is_empty() || digits == "." || digits.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[number..];
        let unit = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"]
            .into_iter()
            .filter(|u| rest.starts_with(u))
            .max_by_key(|u| u.len());
        let Some(unit) = unit else { return false };
        rest = &rest[unit.len()..];
    }
    true
}

fn describe(path: &FieldPath) -> String {
    if path.is_root() {
        "the document".to_string()
    } else {
        path.to_string()
    }
}

/// The known name `name` most likely misspells: the same but for case, or at most two edits away
/// (one for short names).
fn suggestion(name: &str, known: impl Iterator<Item = &'static str>) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let budget = if name.len() <= 4 { 1 } else { 2 };
    known
        .map(|candidate| {
            (
                edit_distance(&lower, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(distance, _)| *distance <= budget)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_parses_them() {
        for ok in [
            "0", "90s", "1h30m", "1.5h", "-2m", "300ms", "10us", "1h0m0s",
        ] {
            assert!(is_go_duration(ok), "{ok}");
        }
        for bad in ["", "5", "1 h", "1d", "h", "1.2.3s", "s5"] {
            assert!(!is_go_duration(bad), "{bad}");
        }
    }

    #[test]
    fn suggestions_ignore_case_and_allow_small_typos() {
        let known = || ["name", "image", "computeResources", "workingDir"].into_iter();
        assert_eq!(suggestion("Name", known()), Some("name"));
        assert_eq!(
            suggestion("computeResource", known()),
            Some("computeResources")
        );
        assert_eq!(suggestion("workdir", known()), None);
        assert_eq!(suggestion("imgae", known()), Some("image"));
        assert_eq!(suggestion("frobnicate", known()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
