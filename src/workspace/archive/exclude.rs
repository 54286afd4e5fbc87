//! `--exclude`: gitignore-style patterns over the paths below a source, matched by the crate's
//! one glob matcher (`core::glob`) anchored at the source root.

use crate::core::error::Error;
use crate::core::glob::{Anchor, GlobSet};

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
    globs: GlobSet,
}

impl ExcludeSet {
    /// Compiles the patterns; a malformed one is a usage error naming it.
    pub fn new(patterns: &[String]) -> anyhow::Result<ExcludeSet> {
        let globs = GlobSet::new(patterns, Anchor::Root).map_err(|error| {
            Error::usage(format!(
                "invalid --exclude pattern {:?}: {}",
                error.pattern, error.why
            ))
        })?;
        Ok(ExcludeSet { globs })
    }

    /// Whether `rel` (the path below the source, `/`-separated, no `./`) is excluded.
    pub fn matches(&self, rel: &[u8], is_dir: bool) -> bool {
        self.globs.matches(rel, is_dir)
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
