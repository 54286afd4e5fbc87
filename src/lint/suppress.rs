//! Inline suppressions in YAML comments (and in script comments, which are the same lines):
//!
//! ```yaml
//! # stepkit-lint-disable-next-line params-in-script,run-as-root -- why
//! image: x  # stepkit-lint-disable-line image-digest-pin
//! # stepkit-lint-disable-file unused-param
//! ```
//!
//! Rule ids are mandatory; `all` is not accepted, so every suppression names what it hides.

const PREFIX: &str = "stepkit-lint-disable";

#[derive(Debug, Default, Clone)]
pub struct Suppressions {
    /// (line, rule) pairs: findings of `rule` on `line` are hidden.
    lines: Vec<(usize, String)>,
    file: Vec<String>,
}

impl Suppressions {
    pub fn parse(text: &str) -> Suppressions {
        let mut found = Suppressions::default();
        if !text.contains(PREFIX) {
            return found;
        }
        for (i, line) in text.lines().enumerate() {
            let line_number = i + 1;
            let Some(at) = line.find(PREFIX) else {
                continue;
            };
            // Only inside a comment.
            if !line[..at].trim_end().ends_with('#') {
                continue;
            }
            let directive = &line[at + PREFIX.len()..];
            let (scope, rest) = match directive.split_once(char::is_whitespace) {
                Some((scope, rest)) => (scope, rest),
                None => (directive, ""),
            };
            let ids = rest.split(" --").next().unwrap_or("");
            let ids = ids
                .split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            match scope {
                "-next-line" => {
                    let target = next_content_line(text, line_number);
                    found.lines.extend(ids.map(|id| (target, id)));
                }
                "-line" => found.lines.extend(ids.map(|id| (line_number, id))),
                "-file" => found.file.extend(ids),
                _ => {}
            }
        }
        found
    }

    pub fn suppresses(&self, rule: &str, line: usize) -> bool {
        self.file.iter().any(|r| r == rule)
            || self.lines.iter().any(|(l, r)| *l == line && r == rule)
    }
}

/// The line after `line` that is not blank and not only a comment (so stacked suppressions work).
fn next_content_line(text: &str, line: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(line)
        .find(|(_, l)| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .map_or(line + 1, |(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_line_line_and_file_scopes() {
        let text = "# stepkit-lint-disable-file unused-param\n\
                    # stepkit-lint-disable-next-line run-as-root,privileged -- needs root for buildah\n\
                    # another comment\n\
                    securityContext: {}\n\
                    image: alpine # stepkit-lint-disable-line image-digest-pin\n";
        let s = Suppressions::parse(text);
        assert!(s.suppresses("unused-param", 40));
        assert!(s.suppresses("run-as-root", 4));
        assert!(s.suppresses("privileged", 4));
        assert!(!s.suppresses("run-as-root", 5));
        assert!(s.suppresses("image-digest-pin", 5));
        assert!(!s.suppresses("image-latest-tag", 5));
    }

    #[test]
    fn text_outside_comments_is_not_a_directive() {
        let s = Suppressions::parse("value: stepkit-lint-disable-line x\n");
        assert!(!s.suppresses("x", 1));
    }
}
