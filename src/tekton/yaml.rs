//! YAML read the way Kubernetes reads it, with source positions and budgets: every node knows
//! its line and column (and its byte span, so a character inside a block, folded or multi-line
//! quoted scalar can be located exactly), aliases are expanded and `<<` merge keys applied,
//! duplicate keys are recorded rather than silently overwritten.
//!
//! Which parser, and why: `kubectl apply` and the Tekton webhook read YAML through
//! sigs.k8s.io/yaml, which is go-yaml v2, a line-by-line Go port of libyaml's scanner and parser
//! with YAML 1.1 scalar resolution. `unsafe-libyaml` is that same libyaml translated to Rust
//! (see `libyaml.rs`), so it accepts the same language, leniencies included (a flow sequence
//! closed at its key's indentation). Measured on tektoncd/pipeline `examples/v1`, tektoncd/catalog and
//! konflux-ci/build-definitions: every file PyYAML's libyaml binding loads, this reader loads,
//! and nothing else; yaml-rust2 (the reader before) rejected 12 files of `examples/v1` that
//! Kubernetes accepts. Scalars are typed as go-yaml v2 types them (`resolve`): `yes`/`on`/`y`
//! are booleans, `0777` is octal, `1_000` is 1000.
//!
//! [`from_str`] reads whole files into serde types the same way: lint's config and gate's
//! Kratix object.yaml go through it. prowjob's ci-operator configs do not yet, for a measured
//! reason: they are written back with serde_yaml's emitter, which leaves strings such as `yes`
//! unquoted, and read back as go-yaml (and ci-operator) reads them those become booleans; until
//! that writer quotes YAML 1.1 words, reading them this way would change the env values passed.
//!
//! Budgets make hostile input cheap: aliases may expand a document only as far as go-yaml
//! allows ("excessive aliasing"), nesting is limited to [`Limits::max_depth`]; either stops the
//! file with an error of kind [`ErrorKind::Limit`]. The caller bounds the file size.

pub mod de;
mod libyaml;
mod positions;
mod resolve;

use std::collections::HashMap;

use libyaml::{Event, EventData, Mark, Parser};

/// A 1-based line and column (in characters) in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A byte range of the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
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
    /// Where a reader sees the node start: a mapping at its first key, a block scalar at its
    /// first content line, anything else at its first character.
    pub pos: Pos,
    /// The node's text in the source (a block scalar from its `|` or `>` indicator).
    pub span: Span,
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

/// Why reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Not YAML.
    Syntax,
    /// YAML, but past a budget (aliases, nesting).
    Limit,
}

#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub message: String,
    pub pos: Pos,
    pub kind: ErrorKind,
}

/// Everything a file holds: the documents that parsed, and the error that stopped parsing.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub documents: Vec<Document>,
    pub error: Option<SyntaxError>,
}

/// What one file may cost to read.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of sequences and mappings.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        // Real Tekton documents nest a few dozen levels; go-yaml v3 stops at 10000. A lower bound
        // keeps every recursive walk over the tree (JSON conversion, drop) far from the stack's end.
        Limits { max_depth: 1000 }
    }
}

/// Why a text could not be read into a value: where, and what.
#[derive(Debug, Clone)]
pub struct ReadError {
    pub message: String,
    pub pos: Option<Pos>,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pos {
            Some(pos) => write!(
                f,
                "line {}, column {}: {}",
                pos.line, pos.column, self.message
            ),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads the first document of `text` (JSON is YAML) into `T`, in document order, scalars typed
/// as go-yaml types them; an empty text is null. The reader for every YAML file the crate takes
/// in (configs, objects), so all of them accept what Kubernetes accepts. A key given twice is an
/// error.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ReadError> {
    let documents = documents(text)?;
    match documents.first() {
        Some(root) => typed(root),
        None => typed(&Node {
            value: Value::Scalar {
                text: String::new(),
                style: ScalarStyle::Plain,
                tag: None,
            },
            pos: Pos { line: 1, column: 1 },
            span: Span::default(),
        }),
    }
}

/// Reads every document of `text` into a `T`.
pub fn from_str_all<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>, ReadError> {
    documents(text)?.iter().map(typed).collect()
}

fn documents(text: &str) -> Result<Vec<Node>, ReadError> {
    let stream = parse_stream(text);
    if let Some(error) = stream.error {
        return Err(ReadError {
            message: error.message,
            pos: Some(error.pos),
        });
    }
    stream
        .documents
        .into_iter()
        .map(|document| match document.duplicate_keys.first() {
            Some(duplicate) => Err(ReadError {
                message: format!("key {:?} appears twice in one mapping", duplicate.key),
                pos: Some(duplicate.pos),
            }),
            None => Ok(document.root),
        })
        .collect()
}

fn typed<T: serde::de::DeserializeOwned>(root: &Node) -> Result<T, ReadError> {
    serde_path_to_error::deserialize(root).map_err(|error| {
        let path = error.path().to_string();
        ReadError {
            message: if path == "." {
                error.inner().to_string()
            } else {
                format!("{path}: {}", error.inner())
            },
            pos: None,
        }
    })
}

/// Parses every document of `src` with the default limits. Documents before an error are kept.
pub fn parse_stream(src: &str) -> Stream {
    parse_stream_with(src, &Limits::default())
}

/// Parses every document of `src`. Documents before an error are kept.
pub fn parse_stream_with(src: &str, limits: &Limits) -> Stream {
    // libyaml skips a byte order mark without counting it; positions count from after it.
    let bom = if src.starts_with('\u{feff}') { 3 } else { 0 };
    let mut builder = Builder::new(&src[bom..], bom, limits);
    let mut parser = Parser::new(&src.as_bytes()[bom..]);
    let error = loop {
        match parser.next_event() {
            Ok(Event {
                data: EventData::StreamEnd,
                ..
            }) => break None,
            Ok(event) => {
                if let Err(error) = builder.on_event(event) {
                    break Some(error);
                }
            }
            Err(error) => {
                let pos = match error.reader_offset {
                    Some(offset) => positions::pos_at(src, (offset + bom).min(src.len())),
                    None => Pos::from_mark(error.problem_mark),
                };
                let message = match error.context {
                    Some((context, mark)) => format!(
                        "{}, {context} that started at line {}, column {}",
                        error.problem,
                        mark.line + 1,
                        mark.column + 1
                    ),
                    None => error.problem,
                };
                break Some(SyntaxError {
                    message,
                    pos,
                    kind: ErrorKind::Syntax,
                });
            }
        }
    };
    Stream {
        documents: builder.documents,
        error,
    }
}

impl Pos {
    fn from_mark(mark: Mark) -> Pos {
        Pos {
            line: mark.line + 1,
            column: mark.column + 1,
        }
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
            if resolve::is_null(text))
    }

    pub fn style(&self) -> Option<ScalarStyle> {
        match &self.value {
            Value::Scalar { style, .. } => Some(*style),
            _ => None,
        }
    }

    /// The node as JSON, scalars typed as go-yaml v2 types them (what the Kubernetes API server
    /// and the Tekton webhook decode).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Scalar { text, style, tag } => resolve::scalar(text, *style, tag.as_deref()),
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

    /// The source position of line `line`, column `column` (both 0-based, in characters) of
    /// this scalar's value, in `src`, the text the node was parsed from. Exact for every scalar
    /// style: block scalars line by line, folded and multi-line quoted or plain scalars through
    /// their folding and escapes.
    pub fn position_in_scalar(&self, src: &str, line: usize, column: usize) -> Pos {
        positions::position_in_scalar(self, src, line, column)
    }
}

/// An open collection.
struct Open {
    node: Node,
    anchor: Option<String>,
    /// For a mapping, the key waiting for its value.
    pending_key: Option<Node>,
    /// `decode_count` when the collection opened: its expanded size is what was decoded since.
    decoded_before: u64,
}

/// Turns parser events into nodes, within the budgets.
struct Builder<'a> {
    src: &'a str,
    /// Bytes before `src` in the caller's text (a byte order mark).
    offset: usize,
    limits: &'a Limits,
    documents: Vec<Document>,
    stack: Vec<Open>,
    /// Anchor → its node and how many nodes it expands to.
    anchors: HashMap<String, (Node, u64)>,
    duplicate_keys: Vec<DuplicateKey>,
    /// Nodes produced in this document, and how many of them came from expanding aliases.
    decode_count: u64,
    alias_count: u64,
}

impl<'a> Builder<'a> {
    fn new(src: &'a str, offset: usize, limits: &'a Limits) -> Builder<'a> {
        Builder {
            src,
            offset,
            limits,
            documents: Vec::new(),
            stack: Vec::new(),
            anchors: HashMap::new(),
            duplicate_keys: Vec::new(),
            decode_count: 0,
            alias_count: 0,
        }
    }

    fn span(&self, event: &Event) -> Span {
        Span {
            start: event.start.index + self.offset,
            end: event.end.index + self.offset,
        }
    }

    fn on_event(&mut self, event: Event) -> Result<(), SyntaxError> {
        let pos = Pos::from_mark(event.start);
        let span = self.span(&event);
        match event.data {
            EventData::Scalar {
                anchor,
                tag,
                value,
                style,
            } => {
                let style = match style {
                    libyaml::Style::SingleQuoted => ScalarStyle::SingleQuoted,
                    libyaml::Style::DoubleQuoted => ScalarStyle::DoubleQuoted,
                    libyaml::Style::Literal => ScalarStyle::Literal,
                    libyaml::Style::Folded => ScalarStyle::Folded,
                    libyaml::Style::Plain => ScalarStyle::Plain,
                };
                let pos = match style {
                    ScalarStyle::Literal | ScalarStyle::Folded => {
                        positions::block_content_start(self.src, span.start - self.offset)
                            .unwrap_or(pos)
                    }
                    _ => pos,
                };
                self.decode_count += 1;
                let node = Node {
                    value: Value::Scalar {
                        text: value,
                        style,
                        tag,
                    },
                    pos,
                    span,
                };
                self.add(node, anchor, 1)
            }
            EventData::SequenceStart { anchor, .. } => {
                self.open(Value::Seq(Vec::new()), pos, span, anchor)
            }
            EventData::MappingStart { anchor, .. } => {
                self.open(Value::Map(Vec::new()), pos, span, anchor)
            }
            EventData::SequenceEnd | EventData::MappingEnd => self.close(event.end),
            EventData::Alias { anchor } => {
                let Some((node, size)) = self.anchors.get(&anchor).cloned() else {
                    return Err(SyntaxError {
                        message: format!("unknown anchor {anchor:?} referenced"),
                        pos,
                        kind: ErrorKind::Syntax,
                    });
                };
                self.decode_count = self.decode_count.saturating_add(size);
                self.alias_count = self.alias_count.saturating_add(size);
                if excessive_aliasing(self.decode_count, self.alias_count) {
                    return Err(SyntaxError {
                        message: format!(
                            "document contains excessive aliasing: expanding *{anchor} would make \
                             {} of its {} nodes copies (go-yaml and so Kubernetes refuse it)",
                            self.alias_count, self.decode_count
                        ),
                        pos,
                        kind: ErrorKind::Limit,
                    });
                }
                self.add(node, None, size)
            }
            EventData::DocumentStart => {
                self.anchors.clear();
                self.decode_count = 0;
                self.alias_count = 0;
                Ok(())
            }
            EventData::StreamStart | EventData::StreamEnd | EventData::DocumentEnd => Ok(()),
        }
    }

    fn open(
        &mut self,
        value: Value,
        pos: Pos,
        span: Span,
        anchor: Option<String>,
    ) -> Result<(), SyntaxError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(SyntaxError {
                message: format!(
                    "nesting deeper than {} levels of sequences and mappings",
                    self.limits.max_depth
                ),
                pos,
                kind: ErrorKind::Limit,
            });
        }
        self.decode_count += 1;
        self.stack.push(Open {
            node: Node { value, pos, span },
            anchor,
            pending_key: None,
            decoded_before: self.decode_count - 1,
        });
        Ok(())
    }

    fn close(&mut self, end: Mark) -> Result<(), SyntaxError> {
        let Some(mut open) = self.stack.pop() else {
            return Ok(());
        };
        open.node.span.end = end.index + self.offset;
        if let Value::Map(entries) = &mut open.node.value {
            apply_merge_keys(entries);
        }
        let size = self.decode_count - open.decoded_before;
        self.add(open.node, open.anchor, size)
    }

    /// Places a finished node in its parent (or as a document root).
    fn add(&mut self, node: Node, anchor: Option<String>, size: u64) -> Result<(), SyntaxError> {
        if let Some(anchor) = anchor {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        let Some(parent) = self.stack.last_mut() else {
            self.documents.push(Document {
                root: node,
                duplicate_keys: std::mem::take(&mut self.duplicate_keys),
            });
            return Ok(());
        };
        match &mut parent.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match parent.pending_key.take() {
                None => {
                    // libyaml marks a block mapping where its first key starts; a flow mapping
                    // at its `{`. Both read best at the first key.
                    if entries.is_empty() {
                        parent.node.pos = node.pos;
                    }
                    parent.pending_key = Some(node);
                }
                Some(key) => {
                    if let Some(name) = key.as_str() {
                        if name != "<<" && entries.iter().any(|(k, _)| k.as_str() == Some(name)) {
                            self.duplicate_keys.push(DuplicateKey {
                                key: name.to_string(),
                                pos: key.pos,
                            });
                        }
                    }
                    entries.push((key, node));
                }
            },
            Value::Scalar { .. } => unreachable!("scalars are never open"),
        }
        Ok(())
    }
}

/// go-yaml's rule against "billion laughs": past 100 aliased nodes and 1000 nodes in all, the
/// share of nodes that come from aliases may be at most 99% for documents up to 400,000 nodes,
/// falling to 10% at 4,000,000. A document may thus grow by aliases to about 100 times its
/// own size when small, and never past ~400,000 copied nodes.
fn excessive_aliasing(decode_count: u64, alias_count: u64) -> bool {
    const LOW: f64 = 400_000.0;
    const HIGH: f64 = 4_000_000.0;
    if alias_count <= 100 || decode_count <= 1000 {
        return false;
    }
    let decoded = decode_count as f64;
    let allowed = if decoded <= LOW {
        0.99
    } else if decoded >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decoded - LOW) / (HIGH - LOW))
    };
    alias_count as f64 / decoded > allowed
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

#[cfg(test)]
mod tests;
