//! `stepkit completions`: shell completions and man pages come from the same definitions the
//! binary parses with, so they name every command and flag it has.

mod support;

use std::process::Command;

use support::{files_in, run, stepkit_run};

#[test]
fn every_shell_gets_a_script_naming_the_commands_and_flags() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = stepkit_run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {out:?}");
        // fish names long flags without their dashes (`-l wait-for-url`).
        for word in ["wait-approval", "workspace", "completions", "wait-for-url"] {
            assert!(out.stdout.contains(word), "{shell} lacks {word}");
        }
    }
    let unknown = stepkit_run(&["completions", "tcsh"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(
        unknown.stderr.contains("bash, zsh, fish, powershell"),
        "{unknown:?}"
    );
}

#[test]
fn the_bash_script_completes_subcommands_and_flags_in_bash() {
    let script = stepkit_run(&["completions", "bash"]).stdout;
    let check = |line: &str, words: &str, current: usize| {
        let program = format!(
            "{script}\nCOMP_LINE='{line}'; COMP_WORDS=({words}); COMP_CWORD={current}; \
             _stepkit stepkit; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let out = run(Command::new("bash").args(["-c", &program]), None);
        assert_eq!(out.code, 0, "{out:?}");
        out.stdout
    };
    let groups = check("stepkit ", "stepkit ''", 1);
    for group in [
        "gate",
        "prowjob",
        "result",
        "task",
        "workspace",
        "completions",
    ] {
        assert!(groups.lines().any(|l| l == group), "{group}: {groups}");
    }
    let flags = check(
        "stepkit prowjob trigger --wait",
        "stepkit prowjob trigger --wait",
        3,
    );
    assert!(flags.lines().any(|l| l == "--wait-for-url"), "{flags}");
}

#[test]
fn scripts_and_man_pages_are_written_under_their_usual_names() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = stepkit_run(&["completions", shell, "--out-dir", out_dir]);
        assert_eq!(out.code, 0, "{out:?}");
    }
    assert_eq!(
        files_in(dir.path()),
        ["_stepkit", "stepkit", "stepkit.fish"]
    );

    let man = tempfile::tempdir().unwrap();
    let out = stepkit_run(&[
        "completions",
        "man",
        "--out-dir",
        man.path().to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let pages = files_in(man.path());
    for page in [
        "stepkit.1",
        "stepkit-gate-wait-approval.1",
        "stepkit-prowjob-trigger.1",
        "stepkit-result-emit.1",
        "stepkit-task-lint.1",
        "stepkit-workspace-push.1",
        "stepkit-completions.1",
    ] {
        assert!(pages.iter().any(|p| p == page), "{page}: {pages:?}");
    }
    let trigger = std::fs::read_to_string(man.path().join("stepkit-prowjob-trigger.1")).unwrap();
    assert!(
        trigger.starts_with(".ie") || trigger.contains(".TH"),
        "{trigger}"
    );
    assert!(trigger.contains("wait\\-for\\-url"), "{trigger}");

    let printed = stepkit_run(&["completions", "man"]);
    assert_eq!(printed.code, 0);
    assert!(
        printed.stdout.contains(".TH stepkit 1"),
        "{}",
        printed.stdout
    );
}
