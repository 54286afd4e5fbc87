//! `stepkit task lint` and `stepkit task run`.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Subcommand};

use super::GlobalArgs;
use crate::core::error::{Error, Verdict};
use crate::lint::config::{parse_rule_id, parse_rule_setting};
use crate::lint::report::Format;
use crate::lint::{FailOn, LintOptions, Profile, Versioning};
use crate::run::results::ResultsFrom;
use crate::run::runtime::{ImageMap, RuntimeKind};
use crate::run::{Ending, RunOptions};

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Validate Tekton Task, Pipeline, StepAction, TaskRun and PipelineRun YAML
    #[command(
        after_help = "Exit status: 0 no finding at the --fail-on level, 1 findings at that level, \
2 bad flags, config or no input.\n\nSuppress a finding in the YAML itself:\n  \
# stepkit-lint-disable-next-line RULE[,RULE] -- reason\n  \
VALUE  # stepkit-lint-disable-line RULE\n  \
# stepkit-lint-disable-file RULE"
    )]
    Lint(LintArgs),
    /// Run a Task, TaskRun, StepAction, Pipeline or PipelineRun on this machine, as Tekton would
    #[command(
        after_help = "Steps run on the host, with Tekton's paths (/tekton/..., /workspace/..., \
volume and workspace mount paths) mapped into a run directory, or in podman containers. Map \
images with --image PATTERN=host|podman; the stepkit image runs the running binary.\n\n\
Exit status: 0 the run succeeded, 1 it failed, 2 invalid definitions, params or flags, 4 it \
timed out (or SIGTERM arrived)."
    )]
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The YAML file with what to run (its TaskRun or PipelineRun, else its Pipeline, Task or StepAction)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// A param: NAME=VALUE (arrays as a JSON array or a comma list, objects as a JSON object)
    #[arg(
        short = 'p',
        long = "param",
        env = "STEPKIT_PARAM",
        value_name = "NAME=VALUE",
        value_delimiter = '\n'
    )]
    pub params: Vec<String>,

    /// Bind a workspace to a directory that outlives the run: NAME=DIR [default: an emptyDir]
    #[arg(
        short = 'w',
        long = "workspace",
        env = "STEPKIT_WORKSPACE",
        value_name = "NAME=DIR",
        value_delimiter = ','
    )]
    pub workspaces: Vec<String>,

    /// A directory of Tasks, Pipelines and StepActions that references resolve from (repeatable)
    #[arg(
        long = "tasks",
        env = "STEPKIT_TASKS",
        value_name = "DIR",
        value_delimiter = ','
    )]
    pub tasks: Vec<PathBuf>,

    /// A Secret from a directory whose files are its keys: NAME=DIR (repeatable)
    #[arg(
        long = "secret",
        env = "STEPKIT_SECRET",
        value_name = "NAME=DIR",
        value_delimiter = ','
    )]
    pub secrets: Vec<String>,

    /// Where images run: PATTERN=host or PATTERN=podman, PATTERN a glob (repeatable; first match wins)
    #[arg(
        long = "image",
        env = "STEPKIT_IMAGE_MAP",
        value_name = "PATTERN=RUNTIME",
        value_delimiter = ','
    )]
    pub images: Vec<String>,

    /// Runtime for images no --image maps: host (refuses them) or podman
    #[arg(
        long,
        env = "STEPKIT_RUNTIME",
        default_value = "host",
        value_name = "RUNTIME"
    )]
    pub runtime: String,

    /// The most TaskRuns running at once
    #[arg(long, env = "STEPKIT_PARALLEL", default_value_t = 4, value_name = "N")]
    pub parallel: usize,

    /// An environment variable for every step and sidecar, under what the Task sets: NAME=VALUE
    #[arg(
        long = "env",
        env = "STEPKIT_STEP_ENV",
        value_name = "NAME=VALUE",
        value_delimiter = '\n'
    )]
    pub env: Vec<String>,

    /// Keep the run's directories (results, scripts, emptyDirs) here instead of a temporary directory
    #[arg(long, env = "STEPKIT_RUN_DIR", value_name = "DIR")]
    pub run_dir: Option<PathBuf>,

    /// Overrides the run's timeout (Tekton's default is 1h; 0 for none)
    #[arg(long, env = "STEPKIT_TIMEOUT", value_parser = crate::core::duration::parse_duration, value_name = "DURATION")]
    pub timeout: Option<std::time::Duration>,

    /// How results reach the TaskRun, as Tekton's results-from flag: termination-message (4096 bytes per step) or sidecar-logs
    #[arg(
        long,
        env = "STEPKIT_RESULTS_FROM",
        default_value = "termination-message",
        value_name = "METHOD"
    )]
    pub results_from: String,

    /// With --results-from sidecar-logs, the most bytes one result may take (Tekton's max-result-size)
    #[arg(
        long,
        env = "STEPKIT_MAX_RESULT_SIZE",
        default_value_t = 4096,
        value_name = "BYTES"
    )]
    pub max_result_size: usize,

    /// Output format of the final report: human or json
    #[arg(
        long,
        env = "STEPKIT_FORMAT",
        default_value = "human",
        value_name = "FORMAT"
    )]
    pub format: crate::run::Format,
}

/// `NAME=VALUE` pairs of a flag, split once.
fn pairs(flag: &str, entries: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    entries
        .iter()
        .map(|entry| {
            entry
                .split_once('=')
                .filter(|(name, _)| !name.is_empty())
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .ok_or_else(|| {
                    Error::usage(format!("{flag} {entry:?}: expected NAME=VALUE")).into()
                })
        })
        .collect()
}

impl RunArgs {
    fn options(self, global: &GlobalArgs) -> anyhow::Result<RunOptions> {
        let runtime: RuntimeKind = self.runtime.parse().map_err(Error::usage)?;
        let images = ImageMap::parse(&self.images, runtime).map_err(Error::usage)?;
        let results_from = match self.results_from.as_str() {
            "termination-message" => ResultsFrom::TerminationMessage,
            "sidecar-logs" => ResultsFrom::SidecarLogs {
                max_result_size: self.max_result_size,
            },
            other => {
                return Err(Error::usage(format!(
                    "--results-from {other:?}: expected termination-message or sidecar-logs"
                ))
                .into())
            }
        };
        let dirs = |flag, entries: &[String]| -> anyhow::Result<Vec<(String, PathBuf)>> {
            Ok(pairs(flag, entries)?
                .into_iter()
                .map(|(n, v)| (n, PathBuf::from(v)))
                .collect())
        };
        Ok(RunOptions {
            file: self.file,
            params: pairs("-p", &self.params)?,
            workspaces: dirs("-w", &self.workspaces)?,
            tasks: self.tasks,
            secrets: dirs("--secret", &self.secrets)?,
            images,
            results_dir: global.results_dir.clone(),
            parallel: self.parallel.max(1),
            format: self.format,
            env: pairs("--env", &self.env)?,
            run_dir: self.run_dir,
            timeout: self.timeout,
            quiet: global.quiet,
            results_from,
        })
    }
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Files and directories to lint (directories recursively, *.yaml and *.yml); - reads stdin
    #[arg(value_name = "PATH", required_unless_present = "list_rules")]
    pub paths: Vec<PathBuf>,

    /// Rule set: core (any Tekton YAML), catalog (tektoncd/catalog), konflux, partner
    #[arg(long, env = "STEPKIT_PROFILE", value_name = "PROFILE")]
    pub profile: Option<Profile>,

    /// Config file [default: .stepkit-lint.yaml in the working directory or above]
    #[arg(long, env = "STEPKIT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Set a rule's severity: error, warning, info or off (repeatable)
    #[arg(
        long = "rule",
        env = "STEPKIT_RULE",
        value_name = "ID=SEVERITY",
        value_delimiter = ','
    )]
    pub rules: Vec<String>,

    /// Turn a rule off (repeatable)
    #[arg(
        long = "disable",
        env = "STEPKIT_DISABLE",
        value_name = "ID",
        value_delimiter = ','
    )]
    pub disable: Vec<String>,

    /// Exit 1 when a finding at this level or above is reported: error, warning, info, never
    #[arg(long, env = "STEPKIT_FAIL_ON", value_name = "LEVEL")]
    pub fail_on: Option<FailOn>,

    /// Output format [default: github under GitHub Actions, else human]
    #[arg(long, env = "STEPKIT_FORMAT", value_name = "FORMAT")]
    pub format: Option<Format>,

    /// Layout of versions: directory (<kind>/<name>/<version>/<name>.yaml) or git (<kind>/<name>/<name>.yaml)
    #[arg(long, env = "STEPKIT_VERSIONING", value_name = "LAYOUT")]
    pub versioning: Option<Versioning>,

    /// Skip files and directories matching this glob (repeatable)
    #[arg(
        long,
        env = "STEPKIT_EXCLUDE",
        value_name = "GLOB",
        value_delimiter = ','
    )]
    pub exclude: Vec<String>,

    /// Do not run shellcheck on scripts
    #[arg(long, env = "STEPKIT_NO_SHELLCHECK", value_parser = BoolishValueParser::new())]
    pub no_shellcheck: bool,

    /// Also write the Konflux TEST_OUTPUT result (to the results dir, or this file)
    #[arg(long, env = "STEPKIT_TEST_OUTPUT", value_parser = BoolishValueParser::new())]
    pub test_output: bool,

    /// Where TEST_OUTPUT goes [default: RESULTS_DIR/TEST_OUTPUT]
    #[arg(long, env = "STEPKIT_TEST_OUTPUT_PATH", value_name = "FILE")]
    pub test_output_path: Option<PathBuf>,

    /// Files larger than this are a yaml-limits finding and not read (bytes, or KiB/MiB/GiB)
    #[arg(long, env = "STEPKIT_MAX_FILE_SIZE", value_name = "SIZE", value_parser = crate::lint::inputs::parse_size)]
    pub max_file_size: Option<u64>,

    /// Leave out the findings recorded in this baseline (see --write-baseline): only new ones are reported and fail
    #[arg(long, env = "STEPKIT_BASELINE", value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Record this run's findings in FILE, to pass later as --baseline
    #[arg(long, env = "STEPKIT_WRITE_BASELINE", value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Also exit 1 when more than N warnings are reported
    #[arg(long, env = "STEPKIT_MAX_WARNINGS", value_name = "N")]
    pub max_warnings: Option<usize>,

    /// Print the rule catalogue and exit
    #[arg(long)]
    pub list_rules: bool,
}

pub fn run(command: TaskCommand, global: &GlobalArgs) -> anyhow::Result<Verdict> {
    match command {
        TaskCommand::Lint(args) => {
            let format = args.format.unwrap_or_else(|| {
                if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
                    Format::Github
                } else {
                    Format::Human
                }
            });
            // Rule ids and severities are checked here, before the config file or any input is read.
            let rules = args
                .rules
                .iter()
                .map(|setting| parse_rule_setting(setting))
                .collect::<anyhow::Result<_>>()?;
            let disable = args
                .disable
                .iter()
                .map(|id| parse_rule_id(id.trim()))
                .collect::<anyhow::Result<_>>()?;
            let options = LintOptions {
                paths: args.paths,
                profile: args.profile,
                config: args.config,
                rules,
                disable,
                fail_on: args.fail_on,
                format,
                versioning: args.versioning,
                exclude: args.exclude,
                shellcheck: !args.no_shellcheck,
                test_output: args.test_output || args.test_output_path.is_some(),
                test_output_path: args.test_output_path,
                results_dir: global.results_dir.clone(),
                list_rules: args.list_rules,
                verbose: global.verbose,
                max_file_size: args.max_file_size,
                baseline: args.baseline,
                write_baseline: args.write_baseline,
                max_warnings: args.max_warnings,
            };
            let (output, verdict) = crate::lint::run(&options)?;
            super::print_text(&output)?;
            Ok(verdict)
        }
        TaskCommand::Run(args) => {
            let options = args.options(global)?;
            let (output, ending) = super::block_on(crate::run::run(&options))?;
            super::print_text(&output)?;
            match ending {
                Ending::Succeeded => Ok(Verdict::Pass),
                Ending::Failed => Ok(Verdict::Fail),
                Ending::TimedOut => Err(Error::deadline("the run timed out or was stopped").into()),
            }
        }
    }
}
