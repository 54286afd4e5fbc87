//! `--exclude`: gitignore-style patterns over the paths below a source.

use crate::core::error::Error;

/// `--exclude` patterns, gitignore-style, matched against the path below the source (no `./`):
///
/// - a pattern without `/` matches a name at any depth (`*.o`, `node_modules`);
/// - a pattern with a `/` inside, or starting with `/`, is anchored at the source root
///   (`/build`, `docs/*.tmp`);
/// - a trailing `/` matches directories only (`cache/`);
/// - `*` and `?` do not cross `/`; `**` as a whole component crosses any number of them
///   (`**/tmp`, `docs/**/*.tmp`; `dir/**` is everything inside `dir`); `[a-z]`, `[!a-z]` and
///   `\x` work as in the shell;
/// - an excluded directory is left out with everything below it.
#[derive(Debug, Clone, Default)]
pub struct ExcludeSet {
    pub(super) patterns: Vec<Exclude>,
}

#[derive(Debug, Clone)]
pub(super) struct Exclude {
    pub(super) anchored: bool,
    pub(super) dir_only: bool,
    pub(super) parts: Vec<Part>,
}

#[derive(Debug, Clone)]
pub(super) enum Part {
    AnyDepth,
    Glob(Vec<Token>),
}

#[derive(Debug, Clone)]
pub(super) enum Token {
    Byte(u8),
    One,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
}

impl Token {
    pub(super) fn matches(&self, byte: u8) -> bool {
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

impl ExcludeSet {
    /// Compiles the patterns; a malformed one is a usage error naming it.
    pub fn new(patterns: &[String]) -> anyhow::Result<ExcludeSet> {
        let patterns = patterns
            .iter()
            .map(|pattern| {
                Exclude::parse(pattern).map_err(|why| {
                    anyhow::Error::new(Error::usage(format!(
                        "invalid --exclude pattern {pattern:?}: {why}"
                    )))
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(ExcludeSet { patterns })
    }

    /// Whether `rel` (the path below the source, `/`-separated, no `./`) is excluded.
    pub fn matches(&self, rel: &[u8], is_dir: bool) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let components: Vec<&[u8]> = rel
            .split(|byte| *byte == b'/')
            .filter(|component| !component.is_empty())
            .collect();
        self.patterns
            .iter()
            .any(|pattern| pattern.matches(&components, is_dir))
    }
}

impl Exclude {
    pub(super) fn parse(pattern: &str) -> Result<Exclude, &'static str> {
        let mut text = pattern.as_bytes();
        while let Some(rest) = text.strip_prefix(b"./") {
            text = rest;
        }
        let mut anchored = false;
        while let Some(rest) = text.strip_prefix(b"/") {
            text = rest;
            anchored = true;
        }
        let mut dir_only = false;
        while let Some(rest) = text.strip_suffix(b"/") {
            text = rest;
            dir_only = true;
        }
        if text.is_empty() {
            return Err("it names no path");
        }
        anchored |= text.contains(&b'/');
        let parts = text
            .split(|byte| *byte == b'/')
            .filter(|component| !component.is_empty() && *component != b".")
            .map(|component| {
                if component == b"**" {
                    Ok(Part::AnyDepth)
                } else if component == b".." {
                    Err("\"..\" cannot match anything inside the workspace")
                } else {
                    tokenize(component).map(Part::Glob)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if parts.is_empty() {
            return Err("it names no path");
        }
        Ok(Exclude {
            anchored,
            dir_only,
            parts,
        })
    }

    pub(super) fn matches(&self, components: &[&[u8]], is_dir: bool) -> bool {
        if self.dir_only && !is_dir {
            return false;
        }
        if self.anchored {
            match_parts(&self.parts, components)
        } else {
            match (components.last(), self.parts.as_slice()) {
                (Some(_), [Part::AnyDepth]) => true,
                (Some(name), [Part::Glob(tokens)]) => match_tokens(tokens, name),
                _ => false,
            }
        }
    }
}

pub(super) fn tokenize(glob: &[u8]) -> Result<Vec<Token>, &'static str> {
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
                    if glob.get(index) == Some(&b'-')
                        && glob.get(index + 1).is_some_and(|b| *b != b']')
                    {
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
                tokens.push(Token::Class { negated, ranges });
            }
            _ => tokens.push(Token::Byte(byte)),
        }
    }
    Ok(tokens)
}

/// Glob match of one path component (no `/` in it), with backtracking on the last `*`.
pub(super) fn match_tokens(tokens: &[Token], name: &[u8]) -> bool {
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

pub(super) fn match_parts(parts: &[Part], components: &[&[u8]]) -> bool {
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
    use crate::core::error::exit_code;

    #[test]
    fn glob_matching_edge_cases() {
        let set = |patterns: &[&str]| {
            ExcludeSet::new(&patterns.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
        };
        assert!(set(&["*"]).matches(b".hidden", false));
        assert!(set(&["?.txt"]).matches(b"a/b.txt", false));
        assert!(!set(&["?.txt"]).matches(b"ab.txt", false));
        assert!(set(&["[a-c]x"]).matches(b"bx", false));
        assert!(!set(&["[!a-c]x"]).matches(b"bx", false));
        assert!(set(&["[]]"]).matches(b"]", false));
        assert!(set(&["a*b*c"]).matches(b"aXXbYYbc", false));
        assert!(!set(&["a*b*c"]).matches(b"aXXbYYb", false));
        assert!(set(&["**/x"]).matches(b"x", false));
        assert!(set(&["**/x"]).matches(b"a/b/x", false));
        assert!(set(&["a/**/x"]).matches(b"a/x", false));
        assert!(!set(&["a/*/x"]).matches(b"a/b/c/x", false));
        assert!(set(&["./src/gen"]).matches(b"src/gen", true));
        assert!(!set(&["src/gen"]).matches(b"lib/src/gen", true));
        assert!(!set(&["dir/"]).matches(b"dir", false));
        for bad in ["[abc", "a\\", "/", "", "../x", "[z-a]"] {
            let error = ExcludeSet::new(&[bad.to_string()]).unwrap_err();
            assert_eq!(exit_code(&error), 2, "{bad:?}: {error:#}");
            assert!(format!("{error:#}").contains("--exclude"), "{error:#}");
        }
    }
}
