//! YAML with source positions: every node knows its line and column, so a finding found on the
//! typed model can point at the exact node, including lines inside `script: |` block scalars.
//!
//! Built on yaml-rust2's event parser. Aliases are expanded, `<<` merge keys applied (Kubernetes
//! YAML accepts both), duplicate keys recorded rather than silently overwritten.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn from_marker(mark: Marker) -> Pos {
        Pos {
            line: mark.line(),
            column: mark.col() + 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub enum Value {
    Scalar {
        text: String,
        style: ScalarStyle,
        tag: Option<String>,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A key that appeared twice in one mapping.
#[derive(Debug, Clone)]
pub struct DuplicateKey {
    pub key: String,
    pub pos: Pos,
}

/// One YAML document of a stream.
#[derive(Debug, Clone)]
pub struct Document {
    pub root: Node,
    pub duplicate_keys: Vec<DuplicateKey>,
}

#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub message: String,
    pub pos: Pos,
}

/// Everything a file holds: the documents that parsed, and the error that stopped parsing.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub documents: Vec<Document>,
    pub error: Option<SyntaxError>,
}

/// Parses every document of `src`. Documents before a syntax error are kept.
pub fn parse_stream(src: &str) -> Stream {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(src);
    let error = parser.load(&mut builder, true).err().map(|e| SyntaxError {
        message: e.info().to_string(),
        pos: Pos::from_marker(*e.marker()),
    });
    Stream {
        documents: builder.documents,
        error,
    }
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value node under `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, v)| (k, v))
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, style: ScalarStyle::Plain, tag: None }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn style(&self) -> Option<ScalarStyle> {
        match &self.value {
            Value::Scalar { style, .. } => Some(*style),
            _ => None,
        }
    }

    /// The node as JSON, with YAML 1.2 core-schema typing of plain scalars (what Kubernetes'
    /// decoder sees for every value a Task can hold).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Scalar { text, style, tag } => scalar_to_json(text, *style, tag.as_deref()),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| k.to_json().to_string()),
                            v.to_json(),
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// The position of line `line` (0-based), column `column` (0-based, in characters) of this
    /// scalar's value: block scalars map line by line onto the source below their header.
    pub fn position_in_scalar(&self, line: usize, column: usize) -> Pos {
        match self.style() {
            // A block scalar's node position is its first content line, at its indentation.
            Some(ScalarStyle::Literal | ScalarStyle::Folded) => {
                let leading_blank_lines = self
                    .as_str()
                    .map_or(0, |t| t.len() - t.trim_start_matches('\n').len());
                Pos {
                    line: self.pos.line + line - leading_blank_lines.min(line),
                    column: self.pos.column + column,
                }
            }
            Some(ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted) if line == 0 => Pos {
                line: self.pos.line,
                column: self.pos.column + 1 + column,
            },
            Some(_) if line == 0 => Pos {
                line: self.pos.line,
                column: self.pos.column + column,
            },
            _ => Pos {
                line: self.pos.line + line,
                column: 1,
            },
        }
    }
}

fn scalar_to_json(text: &str, style: ScalarStyle, tag: Option<&str>) -> serde_json::Value {
    use serde_json::Value as J;
    if style != ScalarStyle::Plain {
        return J::String(text.to_string());
    }
    match tag {
        Some(t) if t.ends_with("str") => return J::String(text.to_string()),
        _ => {}
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return J::Null,
        "true" | "True" | "TRUE" => return J::Bool(true),
        "false" | "False" | "FALSE" => return J::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return J::from(i);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return J::from(i);
        }
    }
    let looks_numeric = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == '.');
    if looks_numeric && !text.ends_with('.') {
        if let Ok(f) = text.parse::<f64>() {
            if f.is_finite() {
                return serde_json::Number::from_f64(f)
                    .map(J::Number)
                    .unwrap_or(J::String(text.to_string()));
            }
        }
    }
    J::String(text.to_string())
}

/// Turns parser events into nodes.
#[derive(Default)]
struct Builder {
    documents: Vec<Document>,
    /// Open collections: the node being filled and its anchor id.
    stack: Vec<(Node, usize)>,
    /// For an open mapping, the key waiting for its value.
    pending_keys: Vec<Option<Node>>,
    anchors: HashMap<usize, Node>,
    duplicate_keys: Vec<DuplicateKey>,
}

impl Builder {
    fn add(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let Some((parent, _)) = self.stack.last_mut() else {
            self.documents.push(Document {
                root: node,
                duplicate_keys: std::mem::take(&mut self.duplicate_keys),
            });
            return;
        };
        match &mut parent.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => {
                let pending = self
                    .pending_keys
                    .last_mut()
                    .expect("a mapping has a key slot");
                match pending.take() {
                    None => {
                        // The parser marks a block mapping at its first `:`; its first key is
                        // where a reader sees it start.
                        if entries.is_empty() {
                            parent.pos = node.pos;
                        }
                        *pending = Some(node)
                    }
                    Some(key) => {
                        if let Some(name) = key.as_str() {
                            if name != "<<" && entries.iter().any(|(k, _)| k.as_str() == Some(name))
                            {
                                self.duplicate_keys.push(DuplicateKey {
                                    key: name.to_string(),
                                    pos: key.pos,
                                });
                            }
                        }
                        entries.push((key, node));
                    }
                }
            }
            Value::Scalar { .. } => unreachable!("scalars are never open"),
        }
    }

    fn close(&mut self) {
        let Some((mut node, anchor)) = self.stack.pop() else {
            return;
        };
        if let Value::Map(entries) = &mut node.value {
            self.pending_keys.pop();
            apply_merge_keys(entries);
        }
        self.add(node, anchor);
    }
}

/// `<<: *base` (or a list of them) copies in every key the mapping does not set itself.
fn apply_merge_keys(entries: &mut Vec<(Node, Node)>) {
    if !entries.iter().any(|(k, _)| is_merge_key(k)) {
        return;
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = std::mem::take(entries)
        .into_iter()
        .partition(|(k, _)| is_merge_key(k));
    for (_, source) in merges {
        let sources = match source.value {
            Value::Seq(items) => items,
            _ => vec![source],
        };
        for source in sources {
            if let Value::Map(inherited) = source.value {
                for (k, v) in inherited {
                    if !own
                        .iter()
                        .any(|(existing, _)| existing.as_str() == k.as_str())
                    {
                        own.push((k, v));
                    }
                }
            }
        }
    }
    *entries = own;
}

fn is_merge_key(key: &Node) -> bool {
    matches!(&key.value, Value::Scalar { text, style: ScalarStyle::Plain, .. } if text == "<<")
}

fn tag_name(tag: Option<Tag>) -> Option<String> {
    tag.map(|t| format!("{}{}", t.handle, t.suffix))
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let pos = Pos::from_marker(mark);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let style = match style {
                    TScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
                    TScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
                    TScalarStyle::Literal => ScalarStyle::Literal,
                    TScalarStyle::Folded => ScalarStyle::Folded,
                    _ => ScalarStyle::Plain,
                };
                self.add(
                    Node {
                        value: Value::Scalar {
                            text,
                            style,
                            tag: tag_name(tag),
                        },
                        pos,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => self.stack.push((
                Node {
                    value: Value::Seq(Vec::new()),
                    pos,
                },
                anchor,
            )),
            Event::MappingStart(anchor, _) => {
                self.stack.push((
                    Node {
                        value: Value::Map(Vec::new()),
                        pos,
                    },
                    anchor,
                ));
                self.pending_keys.push(None);
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().unwrap_or(Node {
                    value: Value::Scalar {
                        text: String::new(),
                        style: ScalarStyle::Plain,
                        tag: None,
                    },
                    pos,
                });
                self.add(node, 0);
            }
            Event::DocumentStart => self.anchors.clear(),
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_point_at_values() {
        let stream =
            parse_stream("kind: Task\nspec:\n  steps:\n    - name: a\n      image: alpine\n");
        let root = &stream.documents[0].root;
        let step = &root
            .get("spec")
            .unwrap()
            .get("steps")
            .unwrap()
            .as_seq()
            .unwrap()[0];
        assert_eq!(step.pos, Pos { line: 4, column: 7 });
        assert_eq!(
            step.get("image").unwrap().pos,
            Pos {
                line: 5,
                column: 14
            }
        );
    }

    #[test]
    fn block_scalar_lines_map_onto_the_source() {
        let src = "script: |\n  #!/bin/sh\n  echo $(params.x)\n";
        let stream = parse_stream(src);
        let script = stream.documents[0].root.get("script").unwrap();
        assert_eq!(script.as_str(), Some("#!/bin/sh\necho $(params.x)\n"));
        assert_eq!(script.position_in_scalar(1, 5), Pos { line: 3, column: 8 });
    }

    #[test]
    fn a_syntax_error_keeps_earlier_documents_and_reports_where() {
        let stream = parse_stream("a: 1\n---\nb: [1, 2\n");
        assert_eq!(stream.documents.len(), 1);
        let error = stream.error.unwrap();
        assert!(error.pos.line >= 3, "{error:?}");
    }

    #[test]
    fn duplicate_keys_are_recorded() {
        let stream = parse_stream("a: 1\nb: 2\na: 3\n");
        let dups = &stream.documents[0].duplicate_keys;
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].key, "a");
        assert_eq!(dups[0].pos.line, 3);
    }

    #[test]
    fn aliases_expand_and_merge_keys_apply() {
        let stream = parse_stream(
            "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nlist: &l [1]\nagain: *l\n",
        );
        let json = stream.documents[0].root.to_json();
        assert_eq!(json["use"], serde_json::json!({"y": 3, "x": 1}));
        assert_eq!(json["again"], serde_json::json!([1]));
    }

    #[test]
    fn plain_scalars_are_typed_and_quoted_ones_are_strings() {
        let json = parse_stream("a: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: 0.1.0\n").documents[0]
            .root
            .to_json();
        assert_eq!(
            json,
            serde_json::json!({"a": 1, "b": "1", "c": true, "d": null, "e": 1.5, "f": "0.1.0"})
        );
    }
}
