//! shellcheck over every sh/bash script of the corpus in one run (a few parallel ones for many
//! scripts), with each finding mapped back to its line and column in the YAML.
//!
//! Before checking, every Tekton `$(...)` becomes a variable expansion of the same width: Tekton
//! substitutes text, so the shell sees a word, not the command substitution shellcheck would
//! take `$(params.x)` for (hundreds of false SC2046s); a bare word instead would cause bogus
//! "always true" tests (SC2157). A script without a shebang gets Tekton's preamble as one line,
//! `#!/bin/sh -e`, and findings shift back by that line. `# shellcheck disable=` directives in a
//! script work as usual.
//!
//! shellcheck reports every level; the level, exclusion and artifact filters are applied here,
//! because telling a Tekton expression in single quotes apart needs its SC2016 notes.
//!
//! Each script is checked as the dialect its interpreter speaks, passed with `--shell` (one
//! shellcheck run per dialect and batch of scripts): busybox `ash` as shellcheck's `busybox`
//! dialect where shellcheck has it (0.10 and later), else as `bash`, which has every construct
//! ash has (`[[`, `${v/a/b}`), so no construct the script's shell supports is reported as an
//! error. Verdicts are cached (`cache.rs`) when a cache directory is configured.

mod cache;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::super::config::ShellcheckOptions;
use super::super::finding::{FieldPath, Location, Severity};
use super::super::{Corpus, RuleOptions};
use super::scripts::{scripts, shebang, Script, Shebang};
use super::RuleId;
use super::{Located, Sink};
use crate::tekton::expr;

/// Arguments of every shellcheck run: only this configuration counts, not a ~/.shellcheckrc of
/// whoever runs lint; every level is reported and filtered here.
const SHELLCHECK_ARGS: &[&str] = &["--format=json1", "--norc", "--severity=style"];

/// Tekton's preamble for a script without a shebang (`#!/bin/sh` + `set -e`), as one line.
const TEKTON_PREAMBLE: &str = "#!/bin/sh -e\n";

/// SC2187 "Ash scripts will be checked as Dash" is about shellcheck, not the script.
const ALWAYS_EXCLUDED: u32 = 2187;

/// SC2016 "Expressions don't expand in single quotes": Tekton's do.
const SINGLE_QUOTED_EXPANSION: u32 = 2016;

/// Findings about a test or word being constant (SC2050, SC2078, SC2157, SC2194): wrong when
/// the constant is a Tekton expression in single quotes, which Tekton fills in.
const CONSTANT_TESTS: &[u32] = &[2050, 2078, 2157, 2194];

/// Fewer scripts than this per shellcheck process are not worth its start-up.
const MIN_SCRIPTS_PER_RUN: usize = 20;

/// One script as shellcheck sees it.
struct ShellScript {
    file: usize,
    /// Index into `Corpus::docs`.
    doc: usize,
    path: FieldPath,
    source: String,
    /// The shell it is checked as: `sh`, `bash`, `dash`, `ksh` or `ash`.
    dialect: &'static str,
    /// Lines added before the script (the preamble).
    added_lines: usize,
    /// Where the placeholders are in `source`.
    placeholders: Vec<Span>,
}

/// A range of the checked file as shellcheck counts: 1-based, the end column excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
}

impl Span {
    fn overlaps(&self, other: &Span) -> bool {
        (self.line, self.column) < (other.end_line, other.end_column)
            && (other.line, other.column) < (self.end_line, self.end_column)
    }

    fn shares_a_line_with(&self, other: &Span) -> bool {
        self.line <= other.end_line && other.line <= self.end_line
    }
}

/// One entry of `shellcheck -f json1` output.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Comment {
    #[serde(default, skip_serializing)]
    file: String,
    line: usize,
    end_line: usize,
    column: usize,
    end_column: usize,
    level: String,
    code: u32,
    message: String,
}

impl Comment {
    fn span(&self) -> Span {
        Span {
            line: self.line,
            column: self.column,
            end_line: self.end_line,
            end_column: self.end_column,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Json1 {
    comments: Vec<Comment>,
}

/// Why the scripts were not checked.
#[derive(Debug)]
enum Unchecked {
    NotFound,
    Failed(String),
}

pub fn run(corpus: &Corpus, options: &RuleOptions, enabled: &dyn Fn(&str) -> bool) -> Vec<Located> {
    let settings = &options.shellcheck;
    if !settings.enabled || !enabled(RuleId::Shellcheck.as_str()) {
        return Vec::new();
    }
    let scripts = shell_scripts(corpus);
    let Some(first) = scripts.first() else {
        return Vec::new();
    };
    let mut sink = Sink::new(enabled);
    let mut located = Vec::new();
    match check_all(&scripts, settings) {
        Ok(comments) => {
            for (script, comments) in scripts.iter().zip(comments) {
                for comment in reported(script, &comments, settings) {
                    report(script, comment, &mut sink);
                }
                located.extend(
                    sink.out
                        .drain(..)
                        .map(|d| (script.file, Some(script.doc), d)),
                );
            }
        }
        Err(why) => {
            report_unchecked(why, settings, scripts.len(), &mut sink);
            located.extend(sink.out.drain(..).map(|d| (first.file, None, d)));
        }
    }
    located
}

/// Every sh/bash script (or script without a shebang) of documents that are not deprecated.
fn shell_scripts(corpus: &Corpus) -> Vec<ShellScript> {
    let documents = corpus
        .docs
        .iter()
        .enumerate()
        .filter(|(_, doc)| !doc.is_deprecated());
    documents
        .flat_map(|(index, doc)| {
            scripts(doc)
                .into_iter()
                .filter_map(move |script| prepare(script, doc.file, index))
        })
        .collect()
}

/// The script as shellcheck gets it, or None when another interpreter runs it.
fn prepare(script: Script, file: usize, doc: usize) -> Option<ShellScript> {
    let shebang = shebang(script.text);
    let dialect = dialect(shebang.as_ref())?;
    let preamble = if shebang.is_none() {
        TEKTON_PREAMBLE
    } else {
        ""
    };
    let added_lines = preamble.lines().count();
    let (text, placeholders) = with_placeholders(script.text);
    let placeholders = placeholders
        .into_iter()
        .map(|(line, column, width)| {
            let (line, column) = (line + added_lines + 1, column + 1);
            Span {
                line,
                column,
                end_line: line,
                end_column: column + width,
            }
        })
        .collect();
    let source = format!("{preamble}{text}");
    Some(ShellScript {
        file,
        doc,
        path: script.path,
        source,
        dialect,
        added_lines,
        placeholders,
    })
}

/// `text` with every Tekton `$(...)` replaced by a placeholder of the same width, and where the
/// placeholders are: (0-based line, 0-based column, width).
fn with_placeholders(text: &str) -> (String, Vec<(usize, usize, usize)>) {
    let mut out = String::with_capacity(text.len());
    let mut placeholders = Vec::new();
    let mut copied = 0;
    for reference in expr::references(text) {
        let width = text[reference.start..reference.end].chars().count();
        let (line, column) = reference.line_col(text);
        out.push_str(&text[copied..reference.start]);
        out.push_str(&placeholder(width));
        placeholders.push((line, column, width));
        copied = reference.end;
    }
    out.push_str(&text[copied..]);
    (out, placeholders)
}

/// A variable expansion `width` characters wide, like `${_TKNMM}`. The name is upper case because
/// shellcheck takes those for environment variables (no SC2154 "referenced but not assigned"),
/// and its padding letter changes with the width so that placeholders do not look like
/// misspellings of each other (SC2153). Every Tekton reference is at least 9 characters wide
/// (`$(step.x)`) and the narrowest placeholder 7 (`${_TKN}`), so widths always match and
/// shellcheck's columns are the script's.
fn placeholder(width: usize) -> String {
    let padding = char::from(b'A' + (width % 26) as u8);
    let name: String = "_TKN"
        .chars()
        .chain(std::iter::repeat_n(padding, width.saturating_sub(7)))
        .collect();
    format!("${{{name}}}")
}

/// The dialect a script is checked as, or None when its interpreter is not a shell shellcheck
/// knows. Without a shebang Tekton runs the script with `/bin/sh`.
fn dialect(shebang: Option<&Shebang>) -> Option<&'static str> {
    let Some(shebang) = shebang else {
        return Some("sh");
    };
    Some(match shebang.interpreter {
        "sh" if shebang.busybox => "ash",
        "ash" => "ash",
        "sh" => "sh",
        "bash" => "bash",
        "dash" => "dash",
        "ksh" | "mksh" | "ksh93" => "ksh",
        _ => return None,
    })
}

/// What shellcheck calls the dialect: `ash` is `busybox` from 0.10 on, before that the nearest
/// dialect that has all of ash's constructs, `bash`.
fn shellcheck_dialect(dialect: &'static str, version: &str) -> &'static str {
    if dialect != "ash" {
        return dialect;
    }
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) >= (0, 10) {
        "busybox"
    } else {
        "bash"
    }
}

/// shellcheck's version (`0.9.0`), which also tells whether it runs at all.
fn shellcheck_version(program: &Path) -> Result<String, Unchecked> {
    let output = Command::new(program)
        .arg("--version")
        .output()
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => Unchecked::NotFound,
            _ => Unchecked::Failed(e.to_string()),
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("version:"))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| {
            Unchecked::Failed(format!(
                "`{} --version` printed no version",
                program.display()
            ))
        })
}

/// Each script's comments, in script order: from the cache where it has them, the rest from
/// shellcheck runs over temporary files, a few in parallel per dialect.
fn check_all(
    scripts: &[ShellScript],
    settings: &ShellcheckOptions,
) -> Result<Vec<Vec<Comment>>, Unchecked> {
    let version = shellcheck_version(&settings.path)?;
    let cache = settings.cache_dir.as_deref().map(cache::Cache::new);
    let dialects: Vec<&str> = scripts
        .iter()
        .map(|s| shellcheck_dialect(s.dialect, &version))
        .collect();
    let keys: Vec<String> = scripts
        .iter()
        .zip(&dialects)
        .map(|(s, d)| cache::Cache::key(&version, d, SHELLCHECK_ARGS, &s.source))
        .collect();
    let mut by_script: Vec<Option<Vec<Comment>>> = keys
        .iter()
        .map(|key| cache.as_ref().and_then(|c| c.get(key)))
        .collect();
    let missing: Vec<usize> = (0..scripts.len())
        .filter(|i| by_script[*i].is_none())
        .collect();
    if missing.is_empty() {
        return Ok(by_script
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect());
    }

    let dir = tempfile::tempdir()
        .map_err(|e| Unchecked::Failed(format!("creating a temporary directory: {e}")))?;
    let file_of = |i: usize| dir.path().join(format!("{i}.sh"));
    for &i in &missing {
        std::fs::write(file_of(i), &scripts[i].source)
            .map_err(|e| Unchecked::Failed(format!("writing {}: {e}", file_of(i).display())))?;
    }
    let per_run = missing
        .len()
        .div_ceil(rayon::current_num_threads())
        .max(MIN_SCRIPTS_PER_RUN);
    let mut batches: Vec<(&str, Vec<PathBuf>)> = Vec::new();
    let mut unique: Vec<&str> = dialects.clone();
    unique.sort_unstable();
    unique.dedup();
    for dialect in unique {
        let files: Vec<PathBuf> = missing
            .iter()
            .filter(|i| dialects[**i] == dialect)
            .map(|i| file_of(*i))
            .collect();
        batches.extend(files.chunks(per_run).map(|c| (dialect, c.to_vec())));
    }
    let runs: Vec<Result<Vec<Comment>, Unchecked>> = batches
        .par_iter()
        .map(|(dialect, files)| shellcheck(&settings.path, dialect, files))
        .collect();
    for &i in &missing {
        by_script[i] = Some(Vec::new());
    }
    for comment in runs
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
    {
        if let Some(Some(comments)) = script_index(&comment.file).and_then(|i| by_script.get_mut(i))
        {
            comments.push(comment);
        }
    }
    if let Some(cache) = &cache {
        for &i in &missing {
            cache.put(&keys[i], by_script[i].as_deref().unwrap_or_default());
        }
        cache.trim();
    }
    Ok(by_script
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
}

/// `.../12.sh` → 12.
fn script_index(file: &str) -> Option<usize> {
    Path::new(file).file_stem()?.to_str()?.parse().ok()
}

fn shellcheck(program: &Path, dialect: &str, files: &[PathBuf]) -> Result<Vec<Comment>, Unchecked> {
    let output = Command::new(program)
        .args(SHELLCHECK_ARGS)
        .arg(format!("--shell={dialect}"))
        .args(files)
        .output()
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => Unchecked::NotFound,
            _ => Unchecked::Failed(e.to_string()),
        })?;
    // Exit 1 means "found something"; any output that parses is a result.
    serde_json::from_slice::<Json1>(&output.stdout)
        .map(|json| json.comments)
        .map_err(|_| {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let why = stderr
                .lines()
                .find(|l| !l.trim().is_empty())
                .map_or_else(|| output.status.to_string(), str::to_string);
            Unchecked::Failed(why)
        })
}

/// The comments worth reporting: at or above the chosen level, not excluded, and not caused by
/// a Tekton expression shellcheck takes for a literal.
fn reported<'a>(
    script: &ShellScript,
    comments: &'a [Comment],
    settings: &ShellcheckOptions,
) -> impl Iterator<Item = &'a Comment> {
    let min_level = level_rank(&settings.min_level);
    let excluded = excluded_codes(&settings.exclude);
    // Placeholders in single quotes: shellcheck says so with an SC2016 note on them.
    let single_quoted: Vec<Span> = script
        .placeholders
        .iter()
        .filter(|p| {
            comments
                .iter()
                .any(|c| c.code == SINGLE_QUOTED_EXPANSION && c.span().overlaps(p))
        })
        .copied()
        .collect();
    let is_artifact = move |comment: &Comment| match comment.code {
        SINGLE_QUOTED_EXPANSION => single_quoted.iter().any(|p| p.overlaps(&comment.span())),
        // These point at the operator, not the constant: the line has to do.
        code if CONSTANT_TESTS.contains(&code) => single_quoted
            .iter()
            .any(|p| p.shares_a_line_with(&comment.span())),
        _ => false,
    };
    comments.iter().filter(move |c| {
        level_rank(&c.level) >= min_level && !excluded.contains(&c.code) && !is_artifact(c)
    })
}

/// shellcheck's levels, lowest first.
fn level_rank(level: &str) -> u8 {
    match level {
        "error" => 3,
        "warning" => 2,
        "info" => 1,
        _ => 0,
    }
}

/// The excluded codes: `SC2086` and `2086` both name 2086.
fn excluded_codes(exclude: &[String]) -> Vec<u32> {
    let codes = exclude.iter().filter_map(|code| {
        let code = code.trim();
        code.strip_prefix("SC")
            .or_else(|| code.strip_prefix("sc"))
            .unwrap_or(code)
            .parse()
            .ok()
    });
    std::iter::once(ALWAYS_EXCLUDED).chain(codes).collect()
}

fn report(script: &ShellScript, comment: &Comment, sink: &mut Sink) {
    let severity = match comment.level.as_str() {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        _ => Severity::Info,
    };
    let message = format!("SC{}: {}", comment.code, comment.message);
    sink.report_as(
        RuleId::Shellcheck,
        severity,
        locate(script, comment.line, comment.column),
        message,
    );
}

/// Where shellcheck's 1-based `line` and `column` of the checked file are in the YAML script.
fn locate(script: &ShellScript, line: usize, column: usize) -> Location {
    match line.saturating_sub(1).checked_sub(script.added_lines) {
        Some(line) => Location::InScalar {
            path: script.path.clone(),
            line,
            column: column.saturating_sub(1),
        },
        // On the preamble: the script as a whole.
        None => Location::Field(script.path.clone()),
    }
}

fn report_unchecked(why: Unchecked, settings: &ShellcheckOptions, scripts: usize, sink: &mut Sink) {
    let program = settings.path.display();
    let message = match why {
        Unchecked::NotFound => format!(
            "shellcheck was not found ({program}), so {scripts} shell script(s) were not checked; install \
             shellcheck (e.g. apt-get install shellcheck) or pass --no-shellcheck"
        ),
        Unchecked::Failed(why) => format!(
            "shellcheck ({program}) could not check the {scripts} shell script(s): {why}; fix the shellcheck \
             installation or pass --no-shellcheck"
        ),
    };
    sink.report(RuleId::ShellcheckMissing, Location::File, message);
}

#[cfg(test)]
mod tests {
    use super::super::super::finding::Finding;
    use super::super::super::Config;
    use super::*;

    fn lint(yaml: &str, configure: impl FnOnce(&mut Config)) -> Vec<Finding> {
        crate::lint::testing::lint_at("t.yaml", yaml, configure)
    }

    fn task(script: &str) -> String {
        let indented: String = script.lines().map(|l| format!("        {l}\n")).collect();
        format!(
            "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  params:\n    - name: dir\n  \
             steps:\n    - name: build\n      image: registry.example.com/tools:1.0\n      script: |\n{indented}"
        )
    }

    /// The first script line is YAML line 12.
    const FIRST_SCRIPT_LINE: usize = 12;

    fn hits<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
        findings.iter().filter(|f| f.rule == rule).collect()
    }

    #[test]
    fn placeholders_keep_width_and_look_like_variables() {
        let text = "cd $(params.dir) && echo \"$(params[\"a.b\"])\" $(date)";
        let (replaced, placeholders) = with_placeholders(text);
        assert_eq!(replaced.chars().count(), text.chars().count());
        assert!(!replaced.contains("$(params"), "{replaced}");
        assert!(
            replaced.starts_with("cd ${_TKN") && replaced.ends_with(" $(date)"),
            "{replaced}"
        );
        assert_eq!(placeholders, [(0, 3, 13), (0, 26, 16)]);
        let cd_target = &replaced[3..3 + 13];
        assert!(
            cd_target.starts_with("${") && cd_target.ends_with('}'),
            "{cd_target}"
        );
        // Neighbouring widths differ in every padding letter.
        assert_eq!(placeholder(9), "${_TKNJJ}");
        assert_eq!(placeholder(10), "${_TKNKKK}");
        // Non-ASCII text keeps character columns.
        let (replaced, placeholders) = with_placeholders("é\né $(params.x) é");
        assert_eq!(
            replaced.chars().count(),
            "é\né $(params.x) é".chars().count()
        );
        assert_eq!(placeholders, [(1, 2, 11)]);
    }

    fn script(added_lines: usize) -> ShellScript {
        ShellScript {
            file: 0,
            doc: 0,
            path: FieldPath::parse("spec.steps[0].script"),
            source: String::new(),
            dialect: "sh",
            added_lines,
            placeholders: Vec::new(),
        }
    }

    #[test]
    fn findings_map_back_past_the_added_preamble() {
        let Location::InScalar { line, column, .. } = locate(&script(1), 3, 5) else {
            panic!()
        };
        assert_eq!((line, column), (1, 4));
        let Location::InScalar { line, column, .. } = locate(&script(0), 1, 1) else {
            panic!()
        };
        assert_eq!((line, column), (0, 0));
        assert!(matches!(locate(&script(1), 1, 1), Location::Field(_)));
    }

    #[test]
    fn exclusions_accept_both_spellings() {
        assert_eq!(
            excluded_codes(&["SC2086".into(), "2034".into(), "x".into()]),
            [2187, 2086, 2034]
        );
    }

    #[test]
    fn only_the_chosen_levels_and_no_artifacts_are_reported() {
        let comment = |code, level: &str, line, column, end_column| Comment {
            file: "0.sh".into(),
            line,
            end_line: line,
            column,
            end_column,
            level: level.into(),
            code,
            message: String::new(),
        };
        let mut quoted = script(0);
        quoted.placeholders = vec![Span {
            line: 3,
            column: 9,
            end_line: 3,
            end_column: 20,
        }];
        let comments = [
            comment(2016, "info", 3, 8, 21),
            comment(2157, "error", 3, 8, 21),
            comment(2050, "warning", 4, 9, 11),
            comment(2086, "info", 5, 6, 17),
            comment(2187, "warning", 1, 1, 10),
        ];
        let mut settings = ShellcheckOptions::default();
        let codes = |settings: &ShellcheckOptions| -> Vec<u32> {
            reported(&quoted, &comments, settings)
                .map(|c| c.code)
                .collect()
        };
        assert_eq!(codes(&settings), [2050]);
        settings.min_level = "style".into();
        assert_eq!(codes(&settings), [2050, 2086]);
        settings.exclude = vec!["SC2086".into()];
        assert_eq!(codes(&settings), [2050]);
    }

    #[test]
    fn a_warning_points_at_its_yaml_line_and_column() {
        let findings = lint(&task("#!/bin/bash\nset -e\nunused=1\necho ok"), |_| {});
        let found = hits(&findings, "shellcheck");
        assert_eq!(found.len(), 1, "{findings:?}");
        assert!(
            found[0]
                .message
                .starts_with("SC2034: unused appears unused"),
            "{}",
            found[0].message
        );
        assert_eq!(
            (found[0].line, found[0].column, found[0].severity),
            (FIRST_SCRIPT_LINE + 2, 9, Severity::Warning)
        );
    }

    #[test]
    fn a_script_without_shebang_is_checked_as_tekton_runs_it() {
        // `cd` without `|| exit` is fine under Tekton's set -e; the unused variable is not.
        let findings = lint(&task("cd /workspace\nleftover=$(params.dir)"), |_| {});
        let found = hits(&findings, "shellcheck");
        assert_eq!(found.len(), 1, "{findings:?}");
        assert!(
            found[0].message.starts_with("SC2034"),
            "{}",
            found[0].message
        );
        assert_eq!((found[0].line, found[0].column), (FIRST_SCRIPT_LINE + 1, 9));
    }

    #[test]
    fn tekton_expressions_are_not_command_substitutions() {
        let script = "#!/bin/sh\nset -e\nif [ -n \"$(params.dir)\" ]; then\n  cd \"$(params.dir)\"\nfi\necho $(params.dir)";
        let findings = lint(&task(script), |_| {});
        assert!(hits(&findings, "shellcheck").is_empty(), "{findings:?}");
        // At info level the unquoted use is reported like any unquoted variable.
        let findings = lint(&task(script), |config| {
            config.options.shellcheck.min_level = "info".into()
        });
        let found = hits(&findings, "shellcheck");
        assert_eq!(found.len(), 1, "{findings:?}");
        assert!(
            found[0].message.starts_with("SC2086"),
            "{}",
            found[0].message
        );
        assert_eq!(
            (found[0].line, found[0].column, found[0].severity),
            (FIRST_SCRIPT_LINE + 5, 14, Severity::Info)
        );
    }

    #[test]
    fn tekton_expressions_in_single_quotes_are_not_constants() {
        let script = "#!/bin/bash\nset -e\nif [ -n '$(params.dir)' ]; then echo set; fi\n[[ dashboard == \"false\" ]] && echo constant";
        for level in ["warning", "style"] {
            let findings = lint(&task(script), |c| {
                c.options.shellcheck.min_level = level.into()
            });
            let found = hits(&findings, "shellcheck");
            assert_eq!(found.len(), 1, "{level}: {findings:?}");
            assert!(
                found[0].message.starts_with("SC2050"),
                "{}",
                found[0].message
            );
            assert_eq!(found[0].line, FIRST_SCRIPT_LINE + 3);
        }
    }

    #[test]
    fn directives_exclusions_and_other_interpreters() {
        let disabled = "#!/bin/bash\nset -e\n# shellcheck disable=SC2034\nunused=1";
        assert!(hits(&lint(&task(disabled), |_| {}), "shellcheck").is_empty());
        let excluded = lint(&task("#!/bin/bash\nset -e\nunused=1"), |c| {
            c.options.shellcheck.exclude = vec!["SC2034".into()]
        });
        assert!(hits(&excluded, "shellcheck").is_empty(), "{excluded:?}");
        let python = lint(
            &task("#!/usr/bin/env python3\nunused = $(params.dir)"),
            |_| {},
        );
        assert!(hits(&python, "shellcheck").is_empty(), "{python:?}");
        let errors = lint(&task("#!/bin/sh\nset -e\nif true; then echo; "), |_| {});
        assert_eq!(
            hits(&errors, "shellcheck")[0].severity,
            Severity::Error,
            "{errors:?}"
        );
    }

    #[test]
    fn a_missing_shellcheck_is_one_info_for_the_run() {
        let yaml = format!(
            "{}---\n{}",
            task("echo a"),
            task("echo b").replace("name: t\n", "name: u\n")
        );
        let findings = lint(&yaml, |c| {
            c.options.shellcheck.path = "/nonexistent/shellcheck".into()
        });
        let missing = hits(&findings, "shellcheck-missing");
        assert_eq!(missing.len(), 1, "{findings:?}");
        assert_eq!((missing[0].line, missing[0].severity), (1, Severity::Info));
        assert!(
            missing[0]
                .message
                .contains("2 shell script(s) were not checked"),
            "{}",
            missing[0].message
        );
        assert!(
            missing[0].message.contains("--no-shellcheck"),
            "{}",
            missing[0].message
        );
        assert!(hits(&findings, "shellcheck").is_empty());

        let off = lint(&task("echo a"), |c| {
            c.options.shellcheck.path = "/nonexistent/shellcheck".into();
            c.options.shellcheck.enabled = false;
        });
        assert!(hits(&off, "shellcheck-missing").is_empty(), "{off:?}");
    }

    #[test]
    fn a_failing_shellcheck_is_reported_not_a_panic() {
        // `false` runs, prints nothing and exits 1.
        let findings = lint(&task("echo a"), |c| {
            c.options.shellcheck.path = "false".into()
        });
        let missing = hits(&findings, "shellcheck-missing");
        assert_eq!(missing.len(), 1, "{findings:?}");
        assert!(
            missing[0].message.contains("could not check"),
            "{}",
            missing[0].message
        );
    }

    #[test]
    fn ash_and_busybox_scripts_are_checked_as_a_shell_with_double_brackets() {
        for shebang in ["#!/usr/bin/env ash", "#!/bin/busybox sh", "#!/bin/ash"] {
            let script = format!("{shebang}\nset -e\nif [[ -n \"$HOME\" ]]; then echo home; fi");
            let findings = lint(&task(&script), |_| {});
            let shellcheck = hits(&findings, "shellcheck");
            assert!(shellcheck.is_empty(), "{shebang}: {shellcheck:?}");
        }
        // sh means POSIX sh, where [[ is a real portability bug.
        let findings = lint(
            &task("#!/bin/sh\nset -e\nif [[ -n \"$HOME\" ]]; then echo home; fi"),
            |_| {},
        );
        assert!(
            hits(&findings, "shellcheck")
                .iter()
                .any(|f| f.message.starts_with("SC3010")),
            "{findings:?}"
        );
    }

    #[test]
    fn dialects_follow_the_interpreter_and_the_shellcheck_version() {
        let dialect_of = |script: &str| dialect(shebang(script).as_ref());
        assert_eq!(dialect_of("echo"), Some("sh"));
        assert_eq!(dialect_of("#!/usr/bin/env ash\n"), Some("ash"));
        assert_eq!(dialect_of("#!/bin/busybox sh\n"), Some("ash"));
        assert_eq!(dialect_of("#!/bin/bash\n"), Some("bash"));
        assert_eq!(dialect_of("#!/usr/bin/env python3\n"), None);
        assert_eq!(shellcheck_dialect("ash", "0.9.0"), "bash");
        assert_eq!(shellcheck_dialect("ash", "0.10.0"), "busybox");
        assert_eq!(shellcheck_dialect("dash", "0.10.0"), "dash");
    }

    #[test]
    fn a_warm_cache_answers_without_running_shellcheck() {
        let cache = tempfile::tempdir().unwrap();
        let yaml = task("#!/bin/bash\nset -e\nunused=1\necho $1");
        let cold = lint(&yaml, |c| {
            c.options.shellcheck.cache_dir = Some(cache.path().to_path_buf())
        });
        assert!(!hits(&cold, "shellcheck").is_empty(), "{cold:?}");
        // A shellcheck that can only tell its version: every verdict has to come from the cache.
        let version = shellcheck_version(Path::new("shellcheck")).unwrap();
        let bin = tempfile::tempdir().unwrap();
        let fake = bin.path().join("shellcheck");
        let body = format!(
            "#!/bin/sh\n[ \"$1\" = --version ] && echo 'version: {version}' && exit 0\nexit 3\n"
        );
        std::fs::write(&fake, body).unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let warm = lint(&yaml, |c| {
            c.options.shellcheck.cache_dir = Some(cache.path().to_path_buf());
            c.options.shellcheck.path = fake.clone();
        });
        assert_eq!(cold, warm);
        // Without the cache, the fake fails.
        let uncached = lint(&yaml, |c| c.options.shellcheck.path = fake.clone());
        assert_eq!(
            hits(&uncached, "shellcheck-missing").len(),
            1,
            "{uncached:?}"
        );
    }
}
