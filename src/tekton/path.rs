//! Field paths (`spec.steps[0].image`) from a document's root to one node, built up as a check
//! descends the typed model, and the places in a document they resolve to. Lint findings and run
//! errors both point into the YAML through these.

use std::fmt;

use super::yaml::{Node, Pos};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Field(String),
    Index(usize),
}

/// A path from a document's root to one node, built up as a rule descends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(Vec<Segment>);

impl FieldPath {
    pub fn root() -> FieldPath {
        FieldPath(Vec::new())
    }

    /// `spec.steps[0]` from `"spec.steps[0]"`; field names with dots are not expressible here,
    /// use [`FieldPath::field`] for those.
    pub fn parse(path: &str) -> FieldPath {
        let mut segments = Vec::new();
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let mut rest = part;
            if let Some(open) = rest.find('[') {
                segments.push(Segment::Field(rest[..open].to_string()));
                rest = &rest[open..];
                while let Some(stripped) = rest.strip_prefix('[') {
                    let close = stripped.find(']').unwrap_or(stripped.len());
                    if let Ok(i) = stripped[..close].parse() {
                        segments.push(Segment::Index(i));
                    }
                    rest = stripped.get(close + 1..).unwrap_or("");
                }
            } else {
                segments.push(Segment::Field(rest.to_string()));
            }
        }
        FieldPath(segments)
    }

    pub fn field(&self, name: &str) -> FieldPath {
        let mut next = self.clone();
        next.0.push(Segment::Field(name.to_string()));
        next
    }

    pub fn index(&self, i: usize) -> FieldPath {
        let mut next = self.clone();
        next.0.push(Segment::Index(i));
        next
    }

    /// `self.field(name).index(i)`.
    pub fn item(&self, name: &str, i: usize) -> FieldPath {
        self.field(name).index(i)
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The node this path names, or the deepest existing ancestor (a field a rule says is
    /// missing is reported at its parent). The bool is true when the whole path resolved.
    pub fn locate<'a>(&self, root: &'a Node) -> (&'a Node, Option<&'a Node>, bool) {
        let mut node = root;
        let mut key = None;
        for segment in &self.0 {
            let next = match segment {
                Segment::Field(name) => node.entry(name).map(|(k, v)| (Some(k), v)),
                Segment::Index(i) => node
                    .as_seq()
                    .and_then(|items| items.get(*i))
                    .map(|v| (None, v)),
            };
            match next {
                Some((k, v)) => {
                    key = k;
                    node = v;
                }
                None => return (node, key, false),
            }
        }
        (node, key, true)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for segment in &self.0 {
            match segment {
                Segment::Field(name) if name.contains('.') || name.contains('/') => {
                    write!(f, "[{name:?}]")?
                }
                Segment::Field(name) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(name)?;
                }
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// Where in a document a diagnostic points.
#[derive(Debug, Clone)]
pub enum Location {
    /// A node; a missing one is reported at its nearest existing parent.
    Field(FieldPath),
    /// The key of a mapping entry (for "this field should not be here").
    Key(FieldPath),
    /// A character inside a string node: 0-based line and column in the string's value.
    InScalar {
        path: FieldPath,
        line: usize,
        column: usize,
    },
    /// An exact source position (syntax errors, shellcheck output).
    Pos(Pos),
    /// The file as a whole (layout, missing README): line 1.
    File,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_tekton_field_errors() {
        let path = FieldPath::root()
            .field("spec")
            .item("steps", 1)
            .field("image");
        assert_eq!(path.to_string(), "spec.steps[1].image");
        assert_eq!(FieldPath::parse("spec.steps[1].image"), path);
        let label = FieldPath::root()
            .field("metadata")
            .field("labels")
            .field("app.kubernetes.io/version");
        assert_eq!(
            label.to_string(),
            "metadata.labels[\"app.kubernetes.io/version\"]"
        );
    }

    #[test]
    fn a_missing_field_locates_its_parent() {
        let doc = crate::tekton::yaml::parse_stream("spec:\n  steps:\n    - name: a\n")
            .documents
            .remove(0);
        let (node, _, found) = FieldPath::parse("spec.steps[0].image").locate(&doc.root);
        assert!(!found);
        assert_eq!(node.pos.line, 3);
    }
}
