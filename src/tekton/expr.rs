//! Tekton variable references: the `$(...)` expressions Tekton substitutes textually, parsed in
//! every syntax it accepts (`params.x`, `params['x']`, `params["x"]`, `params.x[*]`, `params.x[0]`,
//! `params.obj.key`), with where they sit in the string so findings point at them.

use super::path::{FieldPath, Location};
use super::yaml::Node;

/// One `$(...)` in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The text between `$(` and `)`, e.g. `params["a.b"][*]`.
    pub expression: String,
    /// Byte offset of `$(` in the string.
    pub start: usize,
    /// Byte offset just past `)`.
    pub end: usize,
    /// Dotted and bracketed segments: `params["a.b"].key` → `["params", "a.b", "key"]`.
    pub segments: Vec<String>,
    /// Ends in `[*]`.
    pub star: bool,
    /// Ends in `[N]`.
    pub index: Option<usize>,
}

impl Reference {
    /// The first segment: `params`, `results`, `workspaces`, `context`, `steps`, `step`, `tasks`...
    pub fn root(&self) -> &str {
        self.segments.first().map_or("", String::as_str)
    }

    pub fn segment(&self, i: usize) -> Option<&str> {
        self.segments.get(i).map(String::as_str)
    }

    /// Whether the whole string is this one reference (so an array can be used whole).
    pub fn is_whole(&self, text: &str) -> bool {
        self.start == 0 && self.end == text.len()
    }

    /// The 0-based line and column of the reference inside the string.
    pub fn line_col(&self, text: &str) -> (usize, usize) {
        line_col(text, self.start)
    }

    /// Where a finding about this reference in the string at `path` points.
    pub fn location(&self, path: &FieldPath, text: &str) -> Location {
        let (line, column) = self.line_col(text);
        Location::InScalar {
            path: path.clone(),
            line,
            column,
        }
    }
}

/// 0-based line and character column of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count())
}

/// Every `$(...)` in `text`. `$$(` is not an escape in Tekton, but `$(` inside a reference (shell
/// command substitution around one) is handled by taking the innermost well-formed reference.
pub fn references(text: &str) -> Vec<Reference> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("$(") {
        let start = i + at;
        let body_start = start + 2;
        let close = find_close(bytes, body_start);
        let parsed = close.and_then(|close| Some((close, parse(&text[body_start..close])?)));
        if let Some((close, (segments, star, index))) = parsed {
            let expression = &text[body_start..close];
            found.push(Reference {
                expression: expression.to_string(),
                start,
                end: close + 1,
                segments,
                star,
                index,
            });
            i = close + 1;
        } else {
            i = body_start;
        }
    }
    found
}

/// The `)` that ends a reference starting at `from`, skipping brackets and quotes.
fn find_close(bytes: &[u8], from: usize) -> Option<usize> {
    let mut quote = None;
    let mut depth = 0usize;
    for (offset, &b) in bytes[from..].iter().enumerate() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') if depth > 0 => quote = Some(b),
            (None, b'[') => depth += 1,
            (None, b']') => depth = depth.saturating_sub(1),
            (None, b')') => return Some(from + offset),
            (None, b'(' | b'$' | b' ' | b'\n' | b'\t') => return None,
            _ => {}
        }
    }
    None
}

/// Splits `params["a.b"].c[*]` into segments; None when it is not a Tekton variable (shell
/// `$(cmd)` command substitution looks the same from outside).
fn parse(expression: &str) -> Option<(Vec<String>, bool, Option<usize>)> {
    let mut segments = Vec::new();
    let mut star = false;
    let mut index = None;
    let mut rest = expression;
    let mut current = String::new();
    while !rest.is_empty() {
        let c = rest.chars().next()?;
        match c {
            '.' => {
                if !current.is_empty() {
                    segments.push(std::mem::take(&mut current));
                }
                rest = &rest[1..];
            }
            '[' => {
                if !current.is_empty() {
                    segments.push(std::mem::take(&mut current));
                }
                let close = rest.find(']')?;
                let inner = &rest[1..close];
                if inner == "*" {
                    star = true;
                } else if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
                    // An index too large for usize is still an index (out of any range), so
                    // the reference around it is still checked.
                    index = Some(inner.parse::<usize>().unwrap_or(usize::MAX));
                } else {
                    let quoted = inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\''));
                    let quoted = quoted
                        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                    segments.push(quoted?.to_string());
                }
                rest = &rest[close + 1..];
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => {
                current.push(c);
                rest = &rest[1..];
            }
            _ => return None,
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    let root = segments.first()?;
    const ROOTS: &[&str] = &[
        "params",
        "inputs",
        "outputs",
        "results",
        "workspaces",
        "context",
        "steps",
        "step",
        "tasks",
        "finally",
        "credentials",
        "artifacts",
    ];
    if !ROOTS.contains(&root.as_str()) || segments.len() < 2 {
        return None;
    }
    Some((segments, star, index))
}

/// Calls `visit` for every string scalar under `node` with its path (map keys are not visited).
pub fn walk_strings<'a>(
    node: &'a Node,
    path: &FieldPath,
    visit: &mut dyn FnMut(&FieldPath, &'a Node, &'a str),
) {
    match &node.value {
        super::yaml::Value::Scalar { text, .. } => visit(path, node, text),
        super::yaml::Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_strings(item, &path.index(i), visit);
            }
        }
        super::yaml::Value::Map(entries) => {
            for (key, value) in entries {
                if let Some(name) = key.as_str() {
                    walk_strings(value, &path.field(name), visit);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Reference {
        let refs = references(text);
        assert_eq!(refs.len(), 1, "{text}: {refs:?}");
        refs.into_iter().next().unwrap()
    }

    #[test]
    fn every_param_syntax() {
        assert_eq!(one("$(params.x)").segments, ["params", "x"]);
        assert_eq!(one("$(params['a.b'])").segments, ["params", "a.b"]);
        assert_eq!(one("$(params[\"a.b\"])").segments, ["params", "a.b"]);
        let star = one("$(params.list[*])");
        assert!(star.star);
        assert_eq!(star.segments, ["params", "list"]);
        assert_eq!(one("$(params.list[1])").index, Some(1));
        let huge = one("$(params.x[18446744073709551616])");
        assert_eq!(huge.segments, ["params", "x"]);
        assert_eq!(huge.index, Some(usize::MAX), "still a reference to x");
        assert_eq!(one("$(params.obj.key)").segments, ["params", "obj", "key"]);
        assert_eq!(one("$(params[\"a.b\"][*])").segments, ["params", "a.b"]);
    }

    #[test]
    fn other_roots_and_positions() {
        let text = "x\n  cp a $(workspaces.src.path)/b";
        let r = one(text);
        assert_eq!(r.segments, ["workspaces", "src", "path"]);
        assert_eq!(r.line_col(text), (1, 7));
        assert_eq!(
            one("$(tasks.build.results.IMAGE_URL)").segments,
            ["tasks", "build", "results", "IMAGE_URL"]
        );
        assert_eq!(one("$(context.taskRun.name)").root(), "context");
        assert!(one("$(params.x)").is_whole("$(params.x)"));
    }

    #[test]
    fn shell_command_substitution_is_not_a_reference() {
        assert!(references("echo $(date +%s) $(cat /x)").is_empty());
        assert!(references("$(echo $(params.x))")
            .iter()
            .all(|r| r.segments == ["params", "x"]));
        assert_eq!(references("$(basename $(params.path))").len(), 1);
        assert!(references("$(whoami)").is_empty());
    }
}
