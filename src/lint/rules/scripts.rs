//! Script hygiene for the `script:` of steps, the step template, sidecars and StepActions,
//! including Pipelines' and runs' inline `taskSpec`s: a script without `#!` (script-shebang), a
//! shell script with its own shebang but without errexit (script-errexit), a script too long to
//! review (script-too-long). Deprecated resources are skipped, as catalog CI skips them.
//!
//! Tekton decides by the first non-blank line: without `#!` it prepends `#!/bin/sh` and `set -e`;
//! with one it runs the script as written, so errexit is the script's own business.
//! The script enumeration and shebang parsing here are shared with the shellcheck run.

use super::super::finding::{FieldPath, Location};
use super::super::TektonDoc;
use super::RuleId;
use super::{Check, Sink};
use crate::tekton::model::{Container, Resource, TaskSpec};

/// One non-empty `script:` and who runs it.
pub struct Script<'a> {
    /// Path of the `script` field.
    pub path: FieldPath,
    /// `step "build"`, `sidecar #1 of task "test"`, `StepAction "git-clone"`: for messages.
    pub owner: String,
    pub text: &'a str,
}

/// A script's `#!` line, read the way the kernel and `env` read it.
#[derive(Debug, PartialEq, Eq)]
pub struct Shebang<'a> {
    /// 0-based line of the shebang within the script (the first non-blank line).
    pub line: usize,
    /// The program's base name: `bash` for `#!/usr/bin/env bash`, `sh` for `#!/bin/busybox sh`.
    pub interpreter: &'a str,
    /// The words after the interpreter (`-e` in `#!/bin/sh -e`).
    pub args: Vec<&'a str>,
    /// Run through busybox (`#!/bin/busybox sh`): its ash, whatever the name.
    pub busybox: bool,
}

/// Shells whose `set -e` is the errexit script-errexit asks for.
const ERREXIT_SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "ksh", "zsh"];

pub fn check(check: &Check, sink: &mut Sink) {
    if check.doc.is_deprecated() {
        return;
    }
    for script in scripts(check.doc) {
        match shebang(script.text) {
            None => report_missing_shebang(&script, sink),
            Some(shebang) => check_errexit(&script, &shebang, sink),
        }
        check_length(&script, check.options.script_max_lines, sink);
    }
}

fn report_missing_shebang(script: &Script, sink: &mut Sink) {
    sink.report(
        RuleId::ScriptShebang,
        Location::Field(script.path.clone()),
        format!(
            "the script of {} has no #! line, so Tekton runs it with #!/bin/sh and set -e; \
             start it with the interpreter it needs (e.g. #!/bin/sh and set -e) to make that explicit",
            script.owner
        ),
    );
}

fn check_errexit(script: &Script, shebang: &Shebang, sink: &mut Sink) {
    if !ERREXIT_SHELLS.contains(&shebang.interpreter)
        || sets_option(shebang.args.iter().copied(), 'e', "errexit")
        || has_set_errexit(script.text)
        || is_single_command(script.text, shebang.line)
    {
        return;
    }
    sink.report(
        RuleId::ScriptErrexit,
        Location::InScalar { path: script.path.clone(), line: shebang.line, column: 0 },
        format!(
            "the script of {} starts with its own #! line ({}), so Tekton does not add set -e and a \
             failing command goes unnoticed; add `set -e` (or `set -euo pipefail` for bash) after the shebang",
            script.owner, shebang.interpreter
        ),
    );
}

fn check_length(script: &Script, max_lines: usize, sink: &mut Sink) {
    let lines = script.text.lines().count();
    if lines > max_lines {
        sink.report(
            RuleId::ScriptTooLong,
            Location::Field(script.path.clone()),
            format!(
                "the script of {} has {lines} lines (more than {max_lines}); move the logic into a \
                 program in the image or split the step",
                script.owner
            ),
        );
    }
}

/// The shebang of `text`, if its first non-blank line is one (Tekton's own test).
pub fn shebang(text: &str) -> Option<Shebang<'_>> {
    let (line, first) = text
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty())?;
    let mut words = first.trim_start().strip_prefix("#!")?.split_whitespace();
    let mut interpreter = base_name(words.next()?);
    if interpreter == "env" {
        // `env [-S] [NAME=value]... program`
        interpreter = base_name(
            words
                .by_ref()
                .find(|w| !w.starts_with('-') && !w.contains('='))?,
        );
    }
    let busybox = interpreter == "busybox";
    if busybox {
        interpreter = base_name(words.next()?);
    }
    Some(Shebang {
        line,
        interpreter,
        args: words.collect(),
        busybox,
    })
}

fn base_name(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

/// Whether a `set` command anywhere in the script turns errexit on.
fn has_set_errexit(text: &str) -> bool {
    set_commands(text)
        .iter()
        .any(|set| sets_option(set.arguments(), 'e', "errexit"))
}

/// Whether `set`-style options (or a shebang's) turn on the shell option `letter`, long name
/// `name`: for errexit `-e`, `-eux`, `-euo pipefail`, `-o errexit`.
pub(super) fn sets_option<'a>(
    words: impl IntoIterator<Item = &'a str>,
    letter: char,
    name: &str,
) -> bool {
    // After `-o` (sets) or `+o` (unsets) comes an option name.
    let mut named_option_sets = None;
    for word in words {
        if let Some(sets) = named_option_sets.take() {
            if sets && word == name {
                return true;
            }
            continue;
        }
        let (sets, flags) = match (word.strip_prefix('-'), word.strip_prefix('+')) {
            (Some(flags), _) => (true, flags),
            (None, Some(flags)) => (false, flags),
            // A positional argument: no options follow.
            _ => return false,
        };
        // `-` and `--` end the options.
        if flags.is_empty() || flags.starts_with('-') {
            return false;
        }
        if sets && flags.contains(letter) {
            return true;
        }
        if flags.ends_with('o') {
            named_option_sets = Some(sets);
        }
    }
    false
}

/// A `set` command in a script.
pub(super) struct SetCommand<'a> {
    /// 0-based line and column (in characters) where `set` starts.
    pub line: usize,
    pub column: usize,
    /// The command from `set` to the end of its simple command.
    pub command: &'a str,
}

impl<'a> SetCommand<'a> {
    pub fn arguments(&self) -> impl Iterator<Item = &'a str> {
        self.command["set".len()..].split_whitespace()
    }
}

/// Every `set` command of a script, also after `;`, `&`, `|`, `then`, `do`, `else`, `{` and `(`,
/// but not in comments.
pub(super) fn set_commands(script: &str) -> Vec<SetCommand<'_>> {
    let mut found = Vec::new();
    for (number, line) in script.lines().enumerate() {
        for (offset, command) in simple_commands(strip_comment(line)) {
            let trimmed = command.trim_start();
            let start = offset + command.len() - trimmed.len();
            let (skipped, rest) = skip_keywords(trimmed);
            if rest.starts_with("set ") {
                found.push(SetCommand {
                    line: number,
                    column: line[..start + skipped].chars().count(),
                    command: rest.trim_end(),
                });
            }
        }
    }
    found
}

/// The line up to a `#` that starts a word.
fn strip_comment(line: &str) -> &str {
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        if c == '#' && previous.is_whitespace() {
            return &line[..i];
        }
        previous = c;
    }
    line
}

/// The pieces of a line between `;`, `&` and `|`, with their byte offsets.
fn simple_commands(line: &str) -> Vec<(usize, &str)> {
    let mut commands = Vec::new();
    let mut start = 0;
    for (i, c) in line.char_indices() {
        if matches!(c, ';' | '&' | '|') {
            commands.push((start, &line[start..i]));
            start = i + 1;
        }
    }
    commands.push((start, &line[start..]));
    commands
}

/// Skips `then`, `do`, `else`, `{` and `(` before a command: (bytes skipped, the rest).
fn skip_keywords(command: &str) -> (usize, &str) {
    let mut rest = command;
    loop {
        let next = ["then ", "do ", "else ", "{ ", "( ", "("]
            .iter()
            .find_map(|k| rest.strip_prefix(k));
        match next {
            Some(after) => rest = after.trim_start(),
            None => return (command.len() - rest.len(), rest),
        }
    }
}

/// A script that is one command (and no `;` list) exits with that command's status anyway, so
/// errexit would change nothing. Backslash continuations join lines; comments do not count.
fn is_single_command(text: &str, shebang_line: usize) -> bool {
    let joined = text.replace("\\\n", " ");
    let mut commands = joined
        .lines()
        .skip(shebang_line + 1)
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'));
    match (commands.next(), commands.next()) {
        (None, _) => true,
        (Some(only), None) => !only.contains(';'),
        _ => false,
    }
}

/// Every non-empty script of the document, with its field path.
pub fn scripts(doc: &TektonDoc) -> Vec<Script<'_>> {
    let mut out = Vec::new();
    if let Some(Resource::StepAction(action)) = &doc.resource {
        let owner = format!("StepAction {:?}", doc.name());
        push_script(
            &action.container,
            FieldPath::root().field("spec"),
            owner,
            &mut out,
        );
    }
    for body in super::task_bodies(doc) {
        let context = body
            .pipeline_task
            .map(|task| format!(" of task {task:?}"))
            .unwrap_or_default();
        task_scripts(body.spec, &body.path, &context, &mut out);
    }
    out
}

/// `context` names the pipeline task the spec is embedded in (empty for a Task's own spec).
fn task_scripts<'a>(
    task: &'a TaskSpec,
    path: &FieldPath,
    context: &str,
    out: &mut Vec<Script<'a>>,
) {
    for (i, step) in task.steps.iter().enumerate() {
        let owner = format!("{}{context}", container_name("step", &step.container, i));
        push_script(&step.container, path.item("steps", i), owner, out);
    }
    if let Some(template) = &task.step_template {
        push_script(
            template,
            path.field("stepTemplate"),
            format!("the stepTemplate{context}"),
            out,
        );
    }
    for (i, sidecar) in task.sidecars.iter().enumerate() {
        let owner = format!("{}{context}", container_name("sidecar", sidecar, i));
        push_script(sidecar, path.item("sidecars", i), owner, out);
    }
}

fn container_name(what: &str, container: &Container, index: usize) -> String {
    match container.name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => format!("{what} {name:?}"),
        None => format!("{what} #{}", index + 1),
    }
}

fn push_script<'a>(
    container: &'a Container,
    path: FieldPath,
    owner: String,
    out: &mut Vec<Script<'a>>,
) {
    if let Some(text) = container.script.as_deref().filter(|t| !t.trim().is_empty()) {
        out.push(Script {
            path: path.field("script"),
            owner,
            text,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::finding::{Finding, Severity};
    use super::super::super::Config;
    use super::*;

    fn lint(yaml: &str, configure: impl FnOnce(&mut Config)) -> Vec<Finding> {
        crate::lint::testing::lint_at("t.yaml", yaml, |config: &mut Config| {
            config.options.shellcheck.enabled = false;
            configure(config);
        })
    }

    fn task(script: &str) -> String {
        let indented: String = script.lines().map(|l| format!("        {l}\n")).collect();
        format!(
            "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  steps:\n    - name: build\n      \
             image: registry.example.com/tools:1.0\n      script: |\n{indented}"
        )
    }

    fn hits<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
        findings.iter().filter(|f| f.rule == rule).collect()
    }

    #[test]
    fn shebangs_name_their_interpreter() {
        let bash = shebang("#!/usr/bin/env bash\necho").unwrap();
        assert_eq!((bash.line, bash.interpreter), (0, "bash"));
        assert_eq!(shebang("#!/usr/bin/env -S bash -e\n").unwrap().args, ["-e"]);
        assert_eq!(shebang("#!/bin/busybox sh").unwrap().interpreter, "sh");
        assert!(shebang("#!/bin/busybox sh").unwrap().busybox);
        assert_eq!(
            shebang("\n  #!/bin/sh -e\n").unwrap(),
            Shebang {
                line: 1,
                interpreter: "sh",
                args: vec!["-e"],
                busybox: false,
            }
        );
        assert_eq!(
            shebang("#!/usr/bin/env python3").unwrap().interpreter,
            "python3"
        );
        assert!(shebang("echo #!/bin/sh").is_none());
    }

    #[test]
    fn errexit_in_every_spelling() {
        for on in [
            "-e",
            "-eu",
            "-euo pipefail",
            "-o errexit",
            "-Eeuo pipefail",
            "-x -e",
            "-o nounset -o errexit",
        ] {
            assert!(sets_option(on.split_whitespace(), 'e', "errexit"), "{on}");
        }
        for off in [
            "+e",
            "-u",
            "-o pipefail",
            "-x",
            "-- -e",
            "foo -e",
            "+o errexit",
        ] {
            assert!(
                !sets_option(off.split_whitespace(), 'e', "errexit"),
                "{off}"
            );
        }
        assert!(has_set_errexit("#!/bin/bash\ncd x && set -e\n"));
        assert!(!has_set_errexit("#!/bin/bash\n# set -e\necho set -e\n"));
    }

    #[test]
    fn script_without_shebang_is_info_and_explicit_bash_needs_errexit() {
        let findings = lint(&task("echo one\necho two"), |_| {});
        let shebang = hits(&findings, "script-shebang");
        assert_eq!(shebang.len(), 1, "{findings:?}");
        assert_eq!((shebang[0].line, shebang[0].severity), (10, Severity::Info));
        assert!(hits(&findings, "script-errexit").is_empty());

        let findings = lint(&task("#!/bin/bash\necho one\necho two"), |_| {});
        let errexit = hits(&findings, "script-errexit");
        assert_eq!(errexit.len(), 1, "{findings:?}");
        assert_eq!(
            (errexit[0].line, errexit[0].severity),
            (10, Severity::Warning)
        );
        assert!(
            errexit[0].message.contains("step \"build\""),
            "{}",
            errexit[0].message
        );
        assert!(hits(&findings, "script-shebang").is_empty());
    }

    #[test]
    fn errexit_is_satisfied_or_not_needed() {
        for script in [
            "#!/bin/bash\nset -euo pipefail\necho a\necho b",
            "#!/bin/sh -e\necho a\necho b",
            "#!/usr/bin/env python3\nprint(1)\nprint(2)",
            "#!/bin/bash\n# one command\nexec tool \\\n  --flag\n",
        ] {
            let findings = lint(&task(script), |_| {});
            assert!(
                hits(&findings, "script-errexit").is_empty(),
                "{script}: {findings:?}"
            );
        }
        let findings = lint(&task("#!/bin/sh\ncd /x; make"), |_| {});
        assert_eq!(hits(&findings, "script-errexit").len(), 1, "{findings:?}");
    }

    #[test]
    fn long_scripts_are_reported_when_the_rule_is_on() {
        let script = (0..5)
            .map(|i| format!("echo {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(hits(&lint(&task(&script), |_| {}), "script-too-long").is_empty());
        let findings = lint(&task(&script), |config| {
            config.set_rule("script-too-long", "info").unwrap();
            config.options.script_max_lines = 4;
        });
        let long = hits(&findings, "script-too-long");
        assert_eq!(long.len(), 1, "{findings:?}");
        assert!(long[0].message.contains("5 lines"), "{}", long[0].message);
    }

    #[test]
    fn inline_task_specs_sidecars_and_step_actions_are_covered() {
        let pipeline = "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n  tasks:\n    - name: build\n      taskSpec:\n        steps:\n          - image: registry.example.com/a:1\n            script: |\n              #!/bin/bash\n              a\n              b\n        sidecars:\n          - name: db\n            image: registry.example.com/db:1\n            script: echo db\n";
        let findings = lint(pipeline, |_| {});
        let errexit = hits(&findings, "script-errexit");
        assert_eq!(errexit.len(), 1, "{findings:?}");
        assert_eq!(errexit[0].field, "spec.tasks[0].taskSpec.steps[0].script");
        assert!(
            errexit[0].message.contains("step #1 of task \"build\""),
            "{}",
            errexit[0].message
        );
        let shebang = hits(&findings, "script-shebang");
        assert_eq!(shebang.len(), 1, "{findings:?}");
        assert_eq!(shebang[0].line, 18);

        let action = "apiVersion: tekton.dev/v1beta1\nkind: StepAction\nmetadata:\n  name: sa\nspec:\n  image: registry.example.com/a:1\n  script: |\n    #!/bin/sh\n    a\n    b\n";
        assert_eq!(hits(&lint(action, |_| {}), "script-errexit").len(), 1);
    }

    #[test]
    fn deprecated_resources_are_skipped() {
        let yaml = task("echo a").replace(
            "  name: t\n",
            "  name: t\n  annotations:\n    tekton.dev/deprecated: \"true\"\n",
        );
        let findings = lint(&yaml, |_| {});
        assert!(hits(&findings, "script-shebang").is_empty(), "{findings:?}");
    }
}
