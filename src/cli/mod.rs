//! Command-line definitions (clap derive) and nothing else: each subcommand turns its arguments
//! into the options struct of one library function and calls it.

mod gate;
mod prowjob;
mod result;
mod retry;
mod task;
mod workspace;

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Parser, Subcommand};

use crate::core::error::{Verdict, EXIT_CODE_TABLE};
use crate::core::logging::{LogFormat, LogOptions};

const GROUPS: &str = "\
Command groups:
  result     write the Konflux TEST_OUTPUT result from counts or tool output, and validate it
  prowjob    test a Konflux snapshot with an OpenShift CI Prow job, through Gangway
  gate       approval gates backed by a GitHub issue, for Kratix and Tekton
  workspace  carry a Tekton workspace between Tasks as an OCI artifact
  task       lint Tekton Task, Pipeline and StepAction YAML the way a catalog's CI must";

const ENVIRONMENT: &str = "\
Environment:
  Every flag can also be set through an environment variable, shown in each command's --help:
  the well-known Tekton or Kratix name where the flag mirrors one (RESULTS_DIR), else
  STEPKIT_<FLAG> (--fail-on is STEPKIT_FAIL_ON). Flags win over the environment.";

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
}

impl Cli {
    /// Parses the command line and the environment. An empty environment variable counts as
    /// unset: Tekton maps an unset param to an empty string, and `STEPKIT_FAILURES=""` must mean
    /// "not given", not "an invalid number".
    pub fn parse_with_env() -> Cli {
        use clap::CommandFactory;
        let mut names = Vec::new();
        collect_env_names(&Cli::command(), &mut names);
        for name in names {
            if std::env::var_os(&name).is_some_and(|value| value.is_empty()) {
                // Single-threaded at this point: nothing else reads the environment yet.
                std::env::remove_var(&name);
            }
        }
        Cli::parse()
    }
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
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{text}")
        .and_then(|_| stdout.flush())
        .or_else(|err| match err.kind() {
            std::io::ErrorKind::BrokenPipe => Ok(()),
            _ => Err(err),
        })?;
    Ok(())
}
