//! The one glob matcher of the crate: shell-style patterns over `/`-separated paths, compiled
//! once. Written here rather than taken from globset because both users need gitignore's
//! component rules (`*` stops at `/`, a bare name matches at any depth, a trailing `/` means a
//! directory), which globset leaves to its callers, and globset's current releases need a newer
//! Rust than stepkit supports.
//!
//! Pattern syntax:
//! - `*` and `?` match within one path component; `**` as a whole component crosses any number
//!   (`**/tmp`, `docs/**/*.tmp`; `dir/**` is everything inside `dir`, not `dir` itself);
//!   `[a-z]`, `[!a-z]` and `\x` work as in the shell;
//! - a pattern without `/` matches a name at any depth (`*.o`, `node_modules`);
//! - a trailing `/` matches directories only (`cache/`); a leading `./` is ignored.
//!
//! Where a pattern with a `/` may start is the caller's choice, written down at each use
//! ([`Anchor`]): at the root of the tree being walked (`workspace push --exclude`, CODEOWNERS),
//! or at any directory of the path (`task lint --exclude` and per-path settings, whose paths are
//! as the user typed them, relative or absolute). A leading `/` always means the root.

use std::fmt;

/// Where a pattern with a `/` inside may match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// At the start of the path (the root of the tree): `src/gen` matches `src/gen`, not
    /// `lib/src/gen`.
    Root,
    /// At any directory of the path: `examples/**` matches `/repo/examples/a.yaml`.
    AnyDirectory,
}

/// A set of compiled patterns; a path matches when any pattern does.
#[derive(Debug, Clone, Default)]
pub struct GlobSet {
    patterns: Vec<Pattern>,
}

/// Why a pattern does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobError {
    pub pattern: String,
    pub why: &'static str,
}

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid pattern {:?}: {}", self.pattern, self.why)
    }
}

impl std::error::Error for GlobError {}

#[derive(Debug, Clone)]
struct Pattern {
    /// Must match from the first component of the path.
    rooted: bool,
    /// Without a `/` inside: matches one name at any depth.
    name_only: bool,
    dir_only: bool,
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    AnyDepth,
    Glob(Vec<Token>),
}

#[derive(Debug, Clone)]
enum Token {
    Byte(u8),
    One,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
}

impl GlobSet {
    /// Compiles `patterns`, anchoring those with a `/` as `anchor` says.
    pub fn new<S: AsRef<str>>(patterns: &[S], anchor: Anchor) -> Result<GlobSet, GlobError> {
        let patterns = patterns
            .iter()
            .map(|pattern| {
                Pattern::parse(pattern.as_ref(), anchor).map_err(|why| GlobError {
                    pattern: pattern.as_ref().to_string(),
                    why,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GlobSet { patterns })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` itself matches (`/`-separated; empty and `.` components are ignored).
    /// A walker that skips a matched directory with everything below needs no more.
    pub fn matches(&self, path: &[u8], is_dir: bool) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let components = components(path);
        self.patterns.iter().any(|p| p.matches(&components, is_dir))
    }

    /// Whether `path` or a directory above it matches: what a check of single file paths needs
    /// so that `vendor` or `examples/**` covers the files inside.
    pub fn matches_within(&self, path: &[u8], is_dir: bool) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let components = components(path);
        (1..=components.len()).any(|end| {
            let is_dir = is_dir || end < components.len();
            self.patterns
                .iter()
                .any(|p| p.matches(&components[..end], is_dir))
        })
    }
}

fn components(path: &[u8]) -> Vec<&[u8]> {
    path.split(|byte| *byte == b'/')
        .filter(|component| !component.is_empty() && *component != b".")
        .collect()
}

impl Pattern {
    fn parse(pattern: &str, anchor: Anchor) -> Result<Pattern, &'static str> {
        let mut text = pattern.as_bytes();
        while let Some(rest) = text.strip_prefix(b"./") {
            text = rest;
        }
        let mut rooted = false;
        while let Some(rest) = text.strip_prefix(b"/") {
            text = rest;
            rooted = true;
        }
        let mut dir_only = false;
        while let Some(rest) = text.strip_suffix(b"/") {
            text = rest;
            dir_only = true;
        }
        if text.is_empty() {
            return Err("it names no path");
        }
        let name_only = !rooted && !text.contains(&b'/');
        rooted |= !name_only && anchor == Anchor::Root;
        let parts = text
            .split(|byte| *byte == b'/')
            .filter(|component| !component.is_empty() && *component != b".")
            .map(|component| {
                if component == b"**" {
                    Ok(Part::AnyDepth)
                } else if component == b".." {
                    Err("\"..\" cannot match anything inside the tree")
                } else {
                    tokenize(component).map(Part::Glob)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if parts.is_empty() {
            return Err("it names no path");
        }
        Ok(Pattern {
            rooted,
            name_only,
            dir_only,
            parts,
        })
    }

    fn matches(&self, components: &[&[u8]], is_dir: bool) -> bool {
        if self.dir_only && !is_dir {
            return false;
        }
        if self.name_only {
            return match (components.last(), self.parts.as_slice()) {
                (Some(_), [Part::AnyDepth]) => true,
                (Some(name), [Part::Glob(tokens)]) => match_tokens(tokens, name),
                _ => false,
            };
        }
        if self.rooted {
            return match_parts(&self.parts, components);
        }
        (0..components.len()).any(|start| match_parts(&self.parts, &components[start..]))
    }
}

impl Token {
    fn matches(&self, byte: u8) -> bool {
        match self {
            Token::Byte(expected) => *expected == byte,
            Token::One => true,
            Token::Star => false,
            Token::Class { negated, ranges } => {
                ranges
                    .iter()
                    .any(|(low, high)| (*low..=*high).contains(&byte))
                    != *negated
            }
        }
    }
}

fn tokenize(glob: &[u8]) -> Result<Vec<Token>, &'static str> {
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < glob.len() {
        let byte = glob[index];
        index += 1;
        match byte {
            b'\\' => {
                let Some(escaped) = glob.get(index) else {
                    return Err("it ends with a lone \\");
                };
                tokens.push(Token::Byte(*escaped));
                index += 1;
            }
            b'*' => {
                if !matches!(tokens.last(), Some(Token::Star)) {
                    tokens.push(Token::Star);
                }
            }
            b'?' => tokens.push(Token::One),
            b'[' => {
                let (class, next) = class(glob, index)?;
                tokens.push(class);
                index = next;
            }
            _ => tokens.push(Token::Byte(byte)),
        }
    }
    Ok(tokens)
}

/// A `[...]` class whose body starts at `index`; returns it and the index after its `]`.
fn class(glob: &[u8], mut index: usize) -> Result<(Token, usize), &'static str> {
    let negated = matches!(glob.get(index), Some(b'!' | b'^'));
    if negated {
        index += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let Some(&low) = glob.get(index) else {
            return Err("a [ is not closed by ]");
        };
        index += 1;
        if low == b']' && !first {
            break;
        }
        first = false;
        let low = if low == b'\\' {
            let Some(&escaped) = glob.get(index) else {
                return Err("a [ is not closed by ]");
            };
            index += 1;
            escaped
        } else {
            low
        };
        if glob.get(index) == Some(&b'-') && glob.get(index + 1).is_some_and(|b| *b != b']') {
            let high = glob[index + 1];
            index += 2;
            if high < low {
                return Err("a range in [ ] runs backwards");
            }
            ranges.push((low, high));
        } else {
            ranges.push((low, low));
        }
    }
    Ok((Token::Class { negated, ranges }, index))
}

/// Glob match of one path component (no `/` in it), with backtracking on the last `*`.
fn match_tokens(tokens: &[Token], name: &[u8]) -> bool {
    let (mut token, mut at) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while at < name.len() {
        match tokens.get(token) {
            Some(Token::Star) => {
                backtrack = Some((token, at));
                token += 1;
                continue;
            }
            Some(expected) if expected.matches(name[at]) => {
                token += 1;
                at += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((star, from)) => {
                token = star + 1;
                at = from + 1;
                backtrack = Some((star, from + 1));
            }
            None => return false,
        }
    }
    tokens[token..].iter().all(|t| matches!(t, Token::Star))
}

fn match_parts(parts: &[Part], components: &[&[u8]]) -> bool {
    match parts.split_first() {
        None => components.is_empty(),
        // `dir/**` matches what is inside `dir`, not `dir` itself, as in gitignore.
        Some((Part::AnyDepth, [])) => !components.is_empty(),
        Some((Part::AnyDepth, rest)) => {
            (0..=components.len()).any(|skip| match_parts(rest, &components[skip..]))
        }
        Some((Part::Glob(tokens), rest)) => {
            components.split_first().is_some_and(|(first, others)| {
                match_tokens(tokens, first) && match_parts(rest, others)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[&str], anchor: Anchor) -> GlobSet {
        GlobSet::new(patterns, anchor).unwrap()
    }

    /// `workspace push --exclude`: gitignore's rules, anchored at the source root.
    #[test]
    fn exclude_semantics_anchored_at_the_root() {
        let root = |patterns: &[&str]| set(patterns, Anchor::Root);
        assert!(root(&["*"]).matches(b".hidden", false));
        assert!(root(&["?.txt"]).matches(b"a/b.txt", false));
        assert!(!root(&["?.txt"]).matches(b"ab.txt", false));
        assert!(root(&["[a-c]x"]).matches(b"bx", false));
        assert!(!root(&["[!a-c]x"]).matches(b"bx", false));
        assert!(root(&["[]]"]).matches(b"]", false));
        assert!(root(&["a*b*c"]).matches(b"aXXbYYbc", false));
        assert!(!root(&["a*b*c"]).matches(b"aXXbYYb", false));
        assert!(root(&["**/x"]).matches(b"x", false));
        assert!(root(&["**/x"]).matches(b"a/b/x", false));
        assert!(root(&["a/**/x"]).matches(b"a/x", false));
        assert!(!root(&["a/*/x"]).matches(b"a/b/c/x", false));
        assert!(root(&["./src/gen"]).matches(b"src/gen", true));
        assert!(!root(&["src/gen"]).matches(b"lib/src/gen", true));
        assert!(root(&["/build"]).matches(b"build", true));
        assert!(!root(&["/build"]).matches(b"a/build", true));
        assert!(root(&["node_modules"]).matches(b"web/node_modules", true));
        assert!(!root(&["dir/"]).matches(b"dir", false));
        assert!(root(&["dir/"]).matches(b"dir", true));
        assert!(root(&["dir/**"]).matches(b"dir/a", false));
        assert!(!root(&["dir/**"]).matches(b"dir", true));
        for bad in ["[abc", "a\\", "/", "", "../x", "[z-a]"] {
            let error = GlobSet::new(&[bad], Anchor::Root).unwrap_err();
            assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
        }
    }

    /// `task lint --exclude` and per-path settings: a pattern with `/` starts at any
    /// directory, and a matched directory covers its files.
    #[test]
    fn lint_semantics_from_any_directory_and_within() {
        let any = |pattern: &str, path: &str| {
            set(&[pattern], Anchor::AnyDirectory).matches_within(path.as_bytes(), false)
        };
        assert!(any("vendor", "a/vendor/x.yaml"));
        assert!(any("task/*/tests", "task/git-clone/tests/run.yaml"));
        assert!(any("**/tests/*.yaml", "task/a/0.1/tests/run.yaml"));
        assert!(any("*.yml", "x/a.yml"));
        assert!(!any("task/*/tests", "task/a/0.1/tests/run.yaml"));
        assert!(any("examples/**", "/repo/examples/kratix/promise.yaml"));
        assert!(!any("/examples/**", "/repo/examples/kratix/promise.yaml"));
        assert!(any("/examples/**", "examples/kratix/promise.yaml"));
        assert!(any("cache/", "a/cache/x.yaml"));
        assert!(!any("cache/", "a/cache"));
    }
}
