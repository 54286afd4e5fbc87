//! An ordered YAML tree to edit and write back: keys keep the order they were read in (or
//! inserted in), scalars are typed as Kubernetes reads them, and the writer is deterministic
//! and quotes every string that a YAML 1.1 reader (go-yaml v2, so `kubectl apply`) would take
//! for something else (`yes`, `on`, `0777`, `1e3`, `null`, dates), so what is written reads back
//! as the same values. Comments and anchors are not kept: aliases are written expanded.

use serde_json::Value as Json;

use super::yaml::{Node, ScalarStyle, Value};

/// One YAML value with its mapping order.
#[derive(Debug, Clone, PartialEq)]
pub enum Doc {
    Null,
    Bool(bool),
    /// A number as JSON writes it.
    Number(String),
    Str(String),
    Seq(Vec<Doc>),
    Map(Vec<(String, Doc)>),
}

impl Doc {
    /// The tree of a parsed node, scalars typed as go-yaml v2 types them.
    pub fn from_node(node: &Node) -> Doc {
        match &node.value {
            Value::Scalar { .. } => Doc::from_json(&node.to_json()),
            Value::Seq(items) => Doc::Seq(items.iter().map(Doc::from_node).collect()),
            Value::Map(entries) => Doc::Map(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = k
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| k.to_json().to_string());
                        (key, Doc::from_node(v))
                    })
                    .collect(),
            ),
        }
    }

    /// A JSON value as a tree (object keys in JSON's order).
    pub fn from_json(value: &Json) -> Doc {
        match value {
            Json::Null => Doc::Null,
            Json::Bool(b) => Doc::Bool(*b),
            Json::Number(n) => Doc::Number(n.to_string()),
            Json::String(s) => Doc::Str(s.clone()),
            Json::Array(items) => Doc::Seq(items.iter().map(Doc::from_json).collect()),
            Json::Object(entries) => Doc::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), Doc::from_json(v)))
                    .collect(),
            ),
        }
    }

    pub fn to_json(&self) -> Json {
        match self {
            Doc::Null => Json::Null,
            Doc::Bool(b) => Json::Bool(*b),
            Doc::Number(n) => serde_json::from_str(n).unwrap_or(Json::Null),
            Doc::Str(s) => Json::String(s.clone()),
            Doc::Seq(items) => Json::Array(items.iter().map(Doc::to_json).collect()),
            Doc::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    pub fn str(text: impl Into<String>) -> Doc {
        Doc::Str(text.into())
    }

    /// A mapping from `(key, value)` pairs, in that order.
    pub fn map<const N: usize>(entries: [(&str, Doc); N]) -> Doc {
        Doc::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Doc::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Doc> {
        match self {
            Doc::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Doc> {
        match self {
            Doc::Map(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets `key` in a mapping: in place when present, else appended. No-op on a non-mapping.
    pub fn set(&mut self, key: &str, value: Doc) {
        if let Doc::Map(entries) = self {
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some((_, slot)) => *slot = value,
                None => entries.push((key.to_string(), value)),
            }
        }
    }

    /// Sets `key` right after `after` (or last when `after` is absent); replaces it in place
    /// when present.
    pub fn set_after(&mut self, after: &str, key: &str, value: Doc) {
        if let Doc::Map(entries) = self {
            if let Some((_, slot)) = entries.iter_mut().find(|(k, _)| k == key) {
                *slot = value;
                return;
            }
            let at = entries
                .iter()
                .position(|(k, _)| k == after)
                .map_or(entries.len(), |i| i + 1);
            entries.insert(at, (key.to_string(), value));
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Doc> {
        match self {
            Doc::Map(entries) => {
                let at = entries.iter().position(|(k, _)| k == key)?;
                Some(entries.remove(at).1)
            }
            _ => None,
        }
    }

    /// The sequence under `key`, created empty when absent or null.
    pub fn seq_mut(&mut self, key: &str) -> Option<&mut Vec<Doc>> {
        if matches!(self.get(key), None | Some(Doc::Null)) {
            self.set(key, Doc::Seq(Vec::new()));
        }
        match self.get_mut(key) {
            Some(Doc::Seq(items)) => Some(items),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> &[Doc] {
        match self {
            Doc::Seq(items) => items,
            _ => &[],
        }
    }
}

/// Several documents as one YAML stream, `---` between them, ending with a newline.
pub fn to_yaml_stream(docs: &[Doc]) -> String {
    let mut out = String::new();
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        write_top(&mut out, doc);
    }
    out
}

/// One document as YAML, ending with a newline.
pub fn to_yaml(doc: &Doc) -> String {
    let mut out = String::new();
    write_top(&mut out, doc);
    out
}

fn write_top(out: &mut String, doc: &Doc) {
    match doc {
        Doc::Map(entries) if !entries.is_empty() => write_entries(out, entries, 0, false),
        Doc::Seq(items) if !items.is_empty() => write_items(out, items, 0),
        scalar => write_scalar(out, scalar, 0),
    }
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Mapping entries at `at` columns; the first one continues the current line when `inline`
/// (after a sequence's `- `).
fn write_entries(out: &mut String, entries: &[(String, Doc)], at: usize, inline: bool) {
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 || !inline {
            indent(out, at);
        }
        write_plain_or_quoted(out, key);
        out.push(':');
        match value {
            Doc::Map(inner) if !inner.is_empty() => {
                out.push('\n');
                write_entries(out, inner, at + 2, false);
            }
            Doc::Seq(items) if !items.is_empty() => {
                out.push('\n');
                write_items(out, items, at + 2);
            }
            scalar => {
                out.push(' ');
                write_scalar(out, scalar, at + 2);
            }
        }
    }
}

fn write_items(out: &mut String, items: &[Doc], at: usize) {
    for item in items {
        indent(out, at);
        out.push('-');
        match item {
            Doc::Map(inner) if !inner.is_empty() => {
                out.push(' ');
                write_entries(out, inner, at + 2, true);
            }
            Doc::Seq(inner) if !inner.is_empty() => {
                out.push('\n');
                write_items(out, inner, at + 2);
            }
            scalar => {
                out.push(' ');
                write_scalar(out, scalar, at + 2);
            }
        }
    }
}

/// A scalar (or empty collection) and its line end; a block scalar's lines at `content_at`.
fn write_scalar(out: &mut String, value: &Doc, content_at: usize) {
    match value {
        Doc::Null => out.push_str("null"),
        Doc::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Doc::Number(n) => out.push_str(n),
        Doc::Map(_) => out.push_str("{}"),
        Doc::Seq(_) => out.push_str("[]"),
        Doc::Str(text) if fits_literal_block(text) => {
            let body = text.trim_end_matches('\n');
            let newlines = text.len() - body.len();
            out.push_str(match newlines {
                0 => "|-",
                1 => "|",
                _ => "|+",
            });
            out.push('\n');
            for line in body.split('\n') {
                if !line.is_empty() {
                    indent(out, content_at);
                    out.push_str(line);
                }
                out.push('\n');
            }
            for _ in 1..newlines {
                out.push('\n');
            }
            return;
        }
        Doc::Str(text) => write_plain_or_quoted(out, text),
    }
    out.push('\n');
}

/// Whether a string can be written as a `|` block exactly: several lines, printable, and a
/// first line that does not start with a space (which would need an indentation indicator).
fn fits_literal_block(text: &str) -> bool {
    text.contains('\n')
        && !text.starts_with([' ', '\n'])
        && text
            .chars()
            .all(|c| c == '\n' || c == '\t' || is_printable(c))
        && !text.trim_end_matches('\n').is_empty()
}

fn is_printable(c: char) -> bool {
    !(c.is_control() || c == '\u{feff}')
}

fn write_plain_or_quoted(out: &mut String, text: &str) {
    if is_plain_safe(text) {
        out.push_str(text);
    } else {
        write_double_quoted(out, text);
    }
}

/// Whether `text`, written plain, reads back as the same string in go-yaml v2 and libyaml.
pub fn is_plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@` \t".contains(first) || first.is_ascii_digit() {
        return false;
    }
    if matches!(first, '.' | '+') || text.ends_with([' ', ':']) {
        return false;
    }
    if text.contains(": ") || text.contains(" #") || text.contains('\t') {
        return false;
    }
    if !text.chars().all(|c| is_printable(c) && c != '\n') {
        return false;
    }
    let node = Node {
        value: Value::Scalar {
            text: text.to_string(),
            style: ScalarStyle::Plain,
            tag: None,
        },
        pos: Default::default(),
        span: Default::default(),
    };
    node.to_json() == Json::String(text.to_string())
}

fn write_double_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if !is_printable(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tekton::yaml::parse_stream;

    fn round_trip(doc: &Doc) -> Doc {
        let text = to_yaml(doc);
        let stream = parse_stream(&text);
        assert!(stream.error.is_none(), "{text}\n{:?}", stream.error);
        Doc::from_node(&stream.documents[0].root)
    }

    #[test]
    fn yaml_1_1_words_and_numbers_stay_strings() {
        let words = [
            "yes",
            "no",
            "on",
            "off",
            "y",
            "N",
            "true",
            "null",
            "~",
            "0777",
            "1e3",
            "0x1F",
            "1_000",
            "2001-12-14",
            ".5",
            "+1",
            "",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "-",
            "- x",
            "*x",
            "&a",
            "!t",
            "%x",
            "@x",
            "`x",
            "{a}",
            "[a]",
            "x:",
            "é",
            "tab\there",
            "\u{7f}",
            "a\r\nb",
        ];
        for word in words {
            let doc = Doc::map([("k", Doc::str(word))]);
            assert_eq!(round_trip(&doc), doc, "{word:?}: {}", to_yaml(&doc));
        }
    }

    #[test]
    fn scripts_are_literal_blocks_that_read_back_exactly() {
        for script in [
            "#!/bin/sh\nset -e\necho hi\n",
            "no newline at end\nsecond",
            "two at end\n\n",
            "inner\n\n  indented: yes\n\tTab\n",
        ] {
            let doc = Doc::map([(
                "steps",
                Doc::Seq(vec![Doc::map([
                    ("name", Doc::str("s")),
                    ("script", Doc::str(script)),
                ])]),
            )]);
            let text = to_yaml(&doc);
            assert!(text.contains("script: |"), "{text}");
            assert_eq!(round_trip(&doc), doc, "{text}");
        }
    }

    #[test]
    fn order_types_and_empty_collections_are_kept() {
        let text = "b: 1\na:\n  - x\n  - {}\n  - []\n  - null\n  - true\n  - [1, 2]\nc: \"on\"\n";
        let stream = parse_stream(text);
        let doc = Doc::from_node(&stream.documents[0].root);
        let again = to_yaml(&doc);
        assert!(again.starts_with("b: 1\na:\n"), "{again}");
        assert!(again.contains("c: \"on\""), "{again}");
        assert_eq!(round_trip(&doc), doc);
        assert_eq!(doc.get("a").unwrap().as_seq().len(), 6);
    }
}
