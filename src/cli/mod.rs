//! Command-line definitions (clap derive) and nothing else: each subcommand turns its arguments
//! into the options struct of one library function and calls it.

mod completions;
mod gate;
mod prowjob;
mod result;
mod retry;
mod task;
mod workspace;
mod workspace_wrap;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::builder::BoolishValueParser;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::core::error::{Verdict, EXIT_CODE_TABLE};
use crate::core::logging::{LogFormat, LogOptions};

const GROUPS: &str = "\
Command groups:
  result     write the Konflux TEST_OUTPUT result from counts or tool output, and validate it
  prowjob    test a Konflux snapshot with an OpenShift CI Prow job, through Gangway
  gate       approval gates backed by a GitHub issue, for Kratix and Tekton
  workspace  carry a Tekton workspace between Tasks as an OCI artifact
  task       lint Tekton Task, Pipeline and StepAction YAML the way a catalog's CI must

Called as create-issue or wait-approval (a link to this binary), stepkit runs
`gate create-issue` or `gate wait-approval` with the Kratix GitHub sign-off image's contract.";

const ENVIRONMENT: &str = "\
Environment:
  Every flag can also be set through an environment variable, shown in each command's --help:
  the well-known Tekton or Kratix name where the flag mirrors one (RESULTS_DIR), else
  STEPKIT_<FLAG> (--fail-on is STEPKIT_FAIL_ON). Flags win over the environment. A switch
  takes a value both ways: --dry-run, --dry-run=true, --dry-run=false (also yes/no, 1/0).";

#[derive(Debug, Parser)]
#[command(
    name = "stepkit",
    version,
    about = "One binary for the steps of CI/CD pipelines: Tekton, Konflux and Kratix",
    after_help = format!("{GROUPS}\n\n{EXIT_CODE_TABLE}\n\n{ENVIRONMENT}"),
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Directory for Tekton result files [default: /tekton/results when it exists, else none]
    #[arg(long, global = true, env = "RESULTS_DIR", value_name = "DIR")]
    pub results_dir: Option<PathBuf>,

    /// Log what each step does
    #[arg(short, long, global = true, env = "STEPKIT_VERBOSE", value_parser = BoolishValueParser::new())]
    pub verbose: bool,

    /// Log errors only, and show no progress
    #[arg(short, long, global = true, env = "STEPKIT_QUIET", value_parser = BoolishValueParser::new())]
    pub quiet: bool,

    /// Log line format on stderr: text or json
    #[arg(
        long,
        global = true,
        env = "STEPKIT_LOG_FORMAT",
        default_value = "text",
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,
}

impl GlobalArgs {
    pub fn log_options(&self) -> LogOptions {
        LogOptions {
            verbose: self.verbose,
            quiet: self.quiet,
            format: self.log_format,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The Konflux TEST_OUTPUT result: write it from counts or tool output, validate it
    #[command(subcommand)]
    Result(result::ResultCommand),
    /// Test a Konflux snapshot with an OpenShift CI Prow job, through Gangway
    #[command(subcommand)]
    Prowjob(prowjob::ProwjobCommand),
    /// Approval gates backed by a GitHub issue, for Kratix and Tekton
    #[command(subcommand)]
    Gate(gate::GateCommand),
    /// Carry a Tekton workspace between Tasks as an OCI artifact
    #[command(subcommand)]
    Workspace(workspace::WorkspaceCommand),
    /// Lint Tekton Task, Pipeline and StepAction YAML
    #[command(subcommand)]
    Task(task::TaskCommand),
    /// Print shell completions, or write man pages, made from these same definitions
    Completions(completions::CompletionsArgs),
}

impl Cli {
    /// Parses the command line and the environment. An empty environment variable counts as
    /// unset: Tekton maps an unset param to an empty string, and `STEPKIT_FAILURES=""` must mean
    /// "not given", not "an invalid number". Called through a link named `create-issue` or
    /// `wait-approval`, the arguments are those of the sign-off image's command of that name.
    pub fn parse_with_env() -> Cli {
        let mut names = Vec::new();
        collect_env_names(&Cli::command(), &mut names);
        for name in names {
            if std::env::var_os(&name).is_some_and(|value| value.is_empty()) {
                // Single-threaded at this point: nothing else reads the environment yet.
                std::env::remove_var(&name);
            }
        }
        let matches = command().get_matches_from(expand_alias(std::env::args_os().collect()));
        Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
    }
}

/// The whole command line as clap parses it, with stepkit's conventions applied: what
/// `--help`, completions and man pages show is exactly what is parsed.
pub fn command() -> clap::Command {
    switches_take_values(Cli::command())
}

/// Every switch also takes an explicit value, so a default can be turned off on the command
/// line (`--wait-for-url=false`) and not only through its environment variable. The value must
/// follow `=`, so `--dry-run FILE` still reads FILE as an argument.
fn switches_take_values(command: clap::Command) -> clap::Command {
    let switches: Vec<clap::Id> = command
        .get_arguments()
        .filter(|arg| matches!(arg.get_action(), ArgAction::SetTrue))
        .map(|arg| arg.get_id().clone())
        .collect();
    let mut command = command;
    for id in switches {
        command = command.mut_arg(id, |arg| {
            let default: clap::builder::OsStr = arg
                .get_default_values()
                .first()
                .cloned()
                .unwrap_or_else(|| "false".into());
            arg.action(ArgAction::Set)
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .default_value(default)
                .value_parser(BoolishValueParser::new())
                .value_name("BOOL")
        });
    }
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in subcommands {
        command = command.mut_subcommand(name, switches_take_values);
    }
    command
}

/// The names of the Kratix GitHub sign-off image's commands, which this binary answers to.
pub const SIGN_OFF_COMMANDS: [&str; 2] = ["create-issue", "wait-approval"];

/// `argv` as stepkit parses it: called as `create-issue` or `wait-approval` (by a link of that
/// name, as the sign-off image's Promises do with `command: [create-issue]`), it becomes
/// `stepkit gate NAME` under the sign-off contract, where a bare first argument of
/// `wait-approval` is the issue, as the old script took it.
pub fn expand_alias(mut argv: Vec<OsString>) -> Vec<OsString> {
    let called_as = argv
        .first()
        .and_then(|first| Path::new(first).file_name())
        .and_then(|name| name.to_str())
        .unwrap_or_default()
        .to_owned();
    let Some(name) = SIGN_OFF_COMMANDS.iter().find(|name| **name == called_as) else {
        return argv;
    };
    let rest = argv.split_off(1.min(argv.len()));
    let mut expanded: Vec<OsString> = ["stepkit", "gate", name, "--sign-off-contract"]
        .iter()
        .map(OsString::from)
        .collect();
    let mut rest = rest.into_iter().peekable();
    if *name == "wait-approval" {
        if let Some(issue) = rest.next_if(|arg| !arg.to_string_lossy().starts_with('-')) {
            expanded.push("--issue".into());
            expanded.push(issue);
        }
    }
    expanded.extend(rest);
    expanded
}

fn collect_env_names(command: &clap::Command, names: &mut Vec<std::ffi::OsString>) {
    names.extend(
        command
            .get_arguments()
            .filter_map(|arg| arg.get_env().map(ToOwned::to_owned)),
    );
    for subcommand in command.get_subcommands() {
        collect_env_names(subcommand, names);
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Verdict> {
    match cli.command {
        Command::Result(command) => result::run(command, &cli.global),
        Command::Prowjob(command) => prowjob::run(command, &cli.global),
        Command::Gate(command) => gate::run(command, &cli.global),
        Command::Workspace(command) => workspace::run(command, &cli.global),
        Command::Task(command) => task::run(command, &cli.global),
        Command::Completions(args) => completions::run(args),
    }
}

/// Runs an async command to completion on a runtime made for it.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts")
        .block_on(future)
}

/// Machine-readable output goes to stdout; a closed pipe is not worth a panic.
fn print_line(line: &str) -> anyhow::Result<()> {
    print_text(&format!("{line}\n"))
}

/// Prints `text` as it is (it carries its own newlines).
fn print_text(text: &str) -> anyhow::Result<()> {
    write_ignoring_closed_pipe(&mut std::io::stdout().lock(), text)
}

/// Text for the person at the terminal that is not a log line (a dry run's summary, a note in
/// full): one line on stderr, beside the logs.
fn print_message(line: &str) -> anyhow::Result<()> {
    write_ignoring_closed_pipe(&mut std::io::stderr().lock(), &format!("{line}\n"))
}

fn write_ignoring_closed_pipe(out: &mut impl std::io::Write, text: &str) -> anyhow::Result<()> {
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .or_else(|err| match err.kind() {
            std::io::ErrorKind::BrokenPipe => Ok(()),
            _ => Err(err),
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        command()
            .try_get_matches_from(argv(args))
            .and_then(|matches| Cli::from_arg_matches(&matches))
    }

    #[test]
    fn the_sign_off_command_names_run_the_gate_under_its_contract() {
        assert_eq!(
            expand_alias(argv(&["/usr/local/bin/create-issue"])),
            argv(&["stepkit", "gate", "create-issue", "--sign-off-contract"])
        );
        assert_eq!(
            expand_alias(argv(&[
                "wait-approval",
                "https://github.com/o/r/issues/7",
                "--verbose"
            ])),
            argv(&[
                "stepkit",
                "gate",
                "wait-approval",
                "--sign-off-contract",
                "--issue",
                "https://github.com/o/r/issues/7",
                "--verbose"
            ])
        );
        assert_eq!(
            expand_alias(argv(&["wait-approval", "--mode", "once"]))[4..],
            argv(&["--mode", "once"])[..]
        );
        // Any other name (stepkit itself, a renamed copy) parses as usual.
        for name in ["stepkit", "/usr/bin/stepkit", "create-issues", "gate"] {
            assert_eq!(expand_alias(argv(&[name, "task"])), argv(&[name, "task"]));
        }
        assert!(expand_alias(Vec::new()).is_empty());
    }

    #[test]
    fn every_switch_can_be_turned_off_and_on_on_the_command_line() {
        const TRIGGER: [&str; 7] = [
            "stepkit",
            "prowjob",
            "trigger",
            "--job-name",
            "j",
            "--snapshot",
            "{}",
        ];
        let trigger = |extra: &[&str]| {
            let mut args = TRIGGER.to_vec();
            args.extend_from_slice(extra);
            let matches = command().try_get_matches_from(argv(&args)).unwrap();
            let trigger = matches
                .subcommand_matches("prowjob")
                .and_then(|m| m.subcommand_matches("trigger"))
                .unwrap()
                .clone();
            move |name: &str| *trigger.get_one::<bool>(name).unwrap()
        };
        assert!(trigger(&[])("wait_for_url"), "the default stays true");
        assert!(!trigger(&["--wait-for-url=false"])("wait_for_url"));
        assert!(!trigger(&["--wait-for-url=no"])("wait_for_url"));
        assert!(trigger(&["--wait-for-url"])("wait_for_url"));
        assert!(!trigger(&[])("dry_run"));
        assert!(trigger(&["--dry-run"])("dry_run"));
        assert!(trigger(&["--dry-run=1"])("dry_run"));
        assert!(parse(&[&TRIGGER[..], &["--dry-run=maybe"]].concat()).is_err());

        let global = parse(&["stepkit", "--verbose=false", "-q", "task", "lint", "x"]).unwrap();
        assert!(!global.global.verbose && global.global.quiet);
        // A value needs `=`: a word after a switch stays an argument.
        let lint = parse(&["stepkit", "task", "lint", "--no-shellcheck", "dir"]).unwrap();
        match lint.command {
            Command::Task(task::TaskCommand::Lint(args)) => {
                assert!(args.no_shellcheck);
                assert_eq!(args.paths, [PathBuf::from("dir")]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_switch_is_left_taking_no_value() {
        fn check(command: &clap::Command, path: &str) {
            for arg in command.get_arguments() {
                assert!(
                    !matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse),
                    "{path} --{}",
                    arg.get_id()
                );
            }
            for sub in command.get_subcommands() {
                check(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        check(&command(), "stepkit");
    }
}
