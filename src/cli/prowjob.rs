//! `stepkit prowjob trigger | report`. Env names follow the provide-prowjob Task's params.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, Subcommand};
use reqwest::Url;

use super::retry::RetryArgs;
use super::{block_on, print_line, print_message, GlobalArgs};
use crate::core::duration::parse_duration;
use crate::core::error::{Error, Verdict};
use crate::core::http::HttpConfig;
use crate::core::secret::Secret;
use crate::core::tekton::Budget;
use crate::prowjob::ci_operator::{parse_release_repo_url, EnvMode};
use crate::prowjob::gangway::{parse_base_url, JobExecutionType};
use crate::prowjob::report::{read_id_file, report, ReportOptions};
use crate::prowjob::snapshot::parse_snapshot;
use crate::prowjob::trigger::{trigger, TriggerOptions, Triggered};

const TOKEN_ENV: &str = "GANGWAY_TOKEN";

#[derive(Debug, Subcommand)]
pub enum ProwjobCommand {
    /// Patch the component's ci-operator config with the snapshot's image and trigger the job
    Trigger(Box<TriggerArgs>),
    /// Wait for a triggered job to finish; write PROWJOB_STATUS, PROWJOB_URL and TEST_OUTPUT
    #[command(
        after_help = "Exit codes: 0 SUCCESS, 1 FAILURE/ABORTED/ERROR, 4 --timeout or SIGTERM (the Prow job keeps running), 5 token refused or job not found."
    )]
    Report(Box<ReportArgs>),
}

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// Snapshot spec JSON (as Konflux passes it), or @FILE
    #[arg(long, env = "SNAPSHOT", value_name = "JSON")]
    snapshot: String,

    /// Component whose image is tested [default: the snapshot's only component]
    #[arg(long, env = "COMPONENT_NAME", value_name = "NAME")]
    component: Option<String>,

    /// The existing Prow job to run, e.g. periodic-ci-ORG-REPO-BRANCH-TEST
    #[arg(long, env = "PROWJOB_NAME", value_name = "NAME")]
    job_name: String,

    /// periodic, postsubmit or presubmit (refs are built from the component's source)
    #[arg(
        long,
        env = "PROWJOB_TYPE",
        default_value = "periodic",
        value_name = "TYPE"
    )]
    job_type: JobExecutionType,

    /// ci-operator config variant (the __VARIANT in the config file name)
    #[arg(long, env = "VARIANT")]
    variant: Option<String>,

    /// external_images alias to fill with the image: ALIAS or ALIAS=COMPONENT; repeatable or comma-separated
    #[arg(
        long,
        env = "IMAGE_IN_CONFIG",
        value_name = "ALIAS",
        value_delimiter = ','
    )]
    image_in_config: Vec<String>,

    /// Image to build the sources in; replaces the config's build_root
    #[arg(long, env = "ARTIFACTS_BUILD_ROOT", value_name = "IMAGE")]
    artifacts_build_root: Option<String>,

    /// Dockerfile lines appended to the artifacts build root (multi-line)
    #[arg(long, env = "DOCKERFILE_ADDITIONS", value_name = "LINES")]
    dockerfile_additions: Option<String>,

    /// Keep the config's images stanza (0/1, true/false, yes/no)
    #[arg(long, env = "INCLUDE_IMAGES", value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    include_images: bool,

    /// Keep the config's operator stanza (0/1, true/false, yes/no)
    #[arg(long, env = "INCLUDE_OPERATOR", value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    include_operator: bool,

    /// Test environment as K=V,K=V (values cannot hold commas: use --env for those)
    #[arg(long, env = "ENVS", value_name = "K=V,...")]
    envs: Option<String>,

    /// One test environment variable K=V; repeatable; the value may hold commas, quotes, newlines
    #[arg(long = "env", env = "STEPKIT_ENV", value_name = "K=V")]
    env: Vec<String>,

    /// config: set the env of the selected multi-stage test; override: send MULTISTAGE_PARAM_OVERRIDE_K
    #[arg(
        long,
        env = "STEPKIT_ENV_MODE",
        default_value = "config",
        value_name = "MODE"
    )]
    env_mode: EnvMode,

    /// Organization of the ci-operator config, when it is not the component's repository
    #[arg(long, env = "PROWJOB_ORG", value_name = "ORG")]
    prowjob_org: Option<String>,

    /// Repository of the ci-operator config, when it is not the component's repository
    #[arg(long, env = "PROWJOB_REPO", value_name = "REPO")]
    prowjob_repo: Option<String>,

    /// Source organization when the component has no source.git url (Pipelines-as-Code label)
    #[arg(long, env = "ORG")]
    org: Option<String>,

    /// Source repository when the component has no source.git url (Pipelines-as-Code label)
    #[arg(long, env = "REPO")]
    repo: Option<String>,

    /// Source commit when the component has no source.git revision (Pipelines-as-Code label)
    #[arg(long, env = "COMMIT", value_name = "SHA")]
    commit: Option<String>,

    /// Branch whose ci-operator config is used (Pipelines-as-Code annotation)
    #[arg(long, env = "TARGET_BRANCH", value_name = "BRANCH")]
    target_branch: Option<String>,

    /// auto: keep only the test the job runs (an error if none matches); off: keep every test
    #[arg(
        long,
        env = "STEPKIT_FILTER_TESTS",
        default_value = "auto",
        value_name = "MODE"
    )]
    filter_tests: FilterTests,

    /// Use this ci-operator config file instead of downloading it
    #[arg(long, env = "STEPKIT_CONFIG_FILE", value_name = "PATH")]
    config_file: Option<PathBuf>,

    /// Where ci-operator configs are downloaded from
    #[arg(
        long,
        env = "STEPKIT_RELEASE_REPO_URL",
        default_value = "https://raw.githubusercontent.com/openshift/release",
        value_name = "URL"
    )]
    release_repo_url: String,

    /// Git ref of the release repository
    #[arg(
        long,
        env = "STEPKIT_RELEASE_REF",
        default_value = "master",
        value_name = "REF"
    )]
    release_ref: String,

    #[command(flatten)]
    prow: ProwArgs,

    /// How many times the trigger request may be sent, in place of --retries for it alone
    /// (MAX_RETRIES counts attempts, as provide-prowjob 0.1 did). It is sent again only while
    /// Gangway's answers prove that nothing was created [default: --retries + 1]
    #[arg(long, env = "MAX_RETRIES", value_name = "N")]
    trigger_attempts: Option<u32>,

    /// Pause between Gangway's attempts, in seconds or as a duration (provide-prowjob 0.1's
    /// RETRY_DELAY); the retry deadline grows to fit the counted attempts [default: backoff from
    /// 0.5s]
    #[arg(long, env = "RETRY_DELAY", value_parser = parse_duration, value_name = "DURATION")]
    trigger_retry_delay: Option<Duration>,

    /// Annotation K=V for the ProwJob; repeatable or comma-separated
    #[arg(
        long,
        env = "STEPKIT_ANNOTATIONS",
        value_name = "K=V",
        value_delimiter = ','
    )]
    annotation: Vec<String>,

    /// Label K=V for the ProwJob; repeatable or comma-separated
    #[arg(
        long,
        env = "STEPKIT_LABELS",
        value_name = "K=V",
        value_delimiter = ','
    )]
    label: Vec<String>,

    /// Wait for the job's URL before finishing
    #[arg(long, env = "STEPKIT_WAIT_FOR_URL", value_parser = BoolishValueParser::new(), default_value = "true", value_name = "BOOL")]
    wait_for_url: bool,

    /// How long to wait for the job's URL (the job is created either way)
    #[arg(long, env = "STEPKIT_URL_TIMEOUT", default_value = "15m", value_parser = parse_duration, value_name = "DURATION")]
    url_timeout: Duration,

    /// How often to look for the job's URL
    #[arg(long, env = "STEPKIT_URL_POLL_INTERVAL", default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    url_poll_interval: Duration,

    /// Print the patched config and the request, and send nothing
    #[arg(long, env = "STEPKIT_DRY_RUN", value_parser = BoolishValueParser::new())]
    dry_run: bool,
}

/// Where Prow is and how to talk to it: shared by trigger and report.
#[derive(Debug, Args)]
#[command(mut_arg("request_timeout", |arg| arg
    .default_value("60s")
    .help("Time allowed for one attempt of a request (OpenShift's route cuts requests at 90s)")))]
pub struct ProwArgs {
    /// Gangway REST API
    #[arg(
        long,
        env = "GANGWAY_URL",
        default_value = "https://gangway-ci.apps.ci.l2s4.p1.openshiftapps.com",
        value_name = "URL"
    )]
    gangway_url: String,

    /// Deck, for job URLs
    #[arg(
        long,
        env = "DECK_URL",
        default_value = "https://prow.ci.openshift.org",
        value_name = "URL"
    )]
    deck_url: String,

    /// File holding the Gangway token [default: the GANGWAY_TOKEN environment variable]
    #[arg(long, env = "GANGWAY_TOKEN_FILE", value_name = "PATH")]
    token_file: Option<PathBuf>,

    #[command(flatten)]
    retry: RetryArgs,
}

impl ProwArgs {
    fn http(&self) -> HttpConfig {
        self.retry.http_config()
    }

    /// Gangway's and Deck's base URLs, checked.
    fn urls(&self) -> anyhow::Result<(Url, Url)> {
        Ok((
            parse_base_url(&self.gangway_url, "Gangway")?,
            parse_base_url(&self.deck_url, "Deck")?,
        ))
    }

    fn token(&self) -> anyhow::Result<Option<Secret>> {
        Secret::from_file_or_env(self.token_file.as_deref(), TOKEN_ENV)
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The job to wait for (the trigger step's PROWJOB_ID)
    #[arg(
        long,
        env = "PROWJOB_ID",
        value_name = "ID",
        conflicts_with = "id_file"
    )]
    id: Option<String>,

    /// File holding the job id, e.g. $(results.PROWJOB_ID.path)
    #[arg(long, env = "PROWJOB_ID_PATH", value_name = "PATH")]
    id_file: Option<PathBuf>,

    #[command(flatten)]
    prow: ProwArgs,

    /// Time between status checks (±10% jitter)
    #[arg(long, env = "STEPKIT_POLL_INTERVAL", default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    poll_interval: Duration,

    /// Give up waiting after this long (0: wait until Tekton's own timeout)
    #[arg(long, env = "STEPKIT_TIMEOUT", default_value = "0", value_parser = parse_duration, value_name = "DURATION")]
    timeout: Duration,

    /// How long the job may stay not-found before it is declared missing
    #[arg(long, env = "STEPKIT_NOT_FOUND_GRACE", default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    not_found_grace: Duration,

    /// Failed status checks in a row (network, 5xx) before giving up
    #[arg(
        long,
        env = "STEPKIT_MAX_CONSECUTIVE_ERRORS",
        default_value_t = 20,
        value_name = "N"
    )]
    max_consecutive_errors: u32,

    /// Also write TEST_OUTPUT for Konflux
    #[arg(long, env = "STEPKIT_TEST_OUTPUT", value_parser = BoolishValueParser::new(), default_value = "true", value_name = "BOOL")]
    test_output: bool,
}

pub fn run(command: ProwjobCommand, global: &GlobalArgs) -> anyhow::Result<Verdict> {
    match command {
        ProwjobCommand::Trigger(args) => run_trigger(*args, global),
        ProwjobCommand::Report(args) => run_report(*args, global),
    }
}

fn run_trigger(args: TriggerArgs, global: &GlobalArgs) -> anyhow::Result<Verdict> {
    // Every value is checked here, before the config is fetched or Gangway is called.
    let (gangway_url, deck_url) = args.prow.urls()?;
    let release_repo_url = parse_release_repo_url(&args.release_repo_url)?;
    let snapshot = parse_snapshot(&args.snapshot)?;
    let mut envs = match &args.envs {
        Some(list) => parse_pairs(list.split(',').filter(|p| !p.trim().is_empty()), "ENVS")?,
        None => Vec::new(),
    };
    envs.extend(parse_pairs(args.env.iter().map(String::as_str), "--env")?);
    let options = TriggerOptions {
        snapshot,
        component: args.component,
        job_name: args.job_name,
        job_type: args.job_type,
        variant: args.variant,
        images_in_config: args.image_in_config,
        artifacts_build_root: args.artifacts_build_root,
        dockerfile_additions: args.dockerfile_additions,
        include_images: args.include_images,
        include_operator: args.include_operator,
        envs,
        env_mode: args.env_mode,
        config_org: args.prowjob_org,
        config_repo: args.prowjob_repo,
        fallback_org: args.org,
        fallback_repo: args.repo,
        fallback_revision: args.commit,
        target_branch: args.target_branch,
        filter_tests: matches!(args.filter_tests, FilterTests::Auto),
        config_file: args.config_file,
        release_repo_url,
        release_ref: args.release_ref,
        gangway_url,
        deck_url,
        token: args.prow.token()?,
        annotations: parse_pairs(args.annotation.iter().map(String::as_str), "--annotation")?,
        labels: parse_pairs(args.label.iter().map(String::as_str), "--label")?,
        wait_for_url: args.wait_for_url,
        url_timeout: args.url_timeout,
        url_poll_interval: args.url_poll_interval,
        dry_run: args.dry_run,
        results_dir: global.results_dir.clone(),
        budget: Budget::default(),
        http: args.prow.http(),
        trigger_attempts: args.trigger_attempts,
        trigger_retry_delay: args.trigger_retry_delay,
    };
    match block_on(trigger(&options))? {
        Triggered::DryRun {
            config_yaml,
            summary,
        } => {
            print_line(config_yaml.trim_end())?;
            print_message(&summary)?;
        }
        Triggered::Job { id, .. } => print_line(&id)?,
    }
    Ok(Verdict::Pass)
}

fn run_report(args: ReportArgs, global: &GlobalArgs) -> anyhow::Result<Verdict> {
    let (gangway_url, deck_url) = args.prow.urls()?;
    let id = match (args.id, &args.id_file) {
        (Some(id), _) if !id.trim().is_empty() => id.trim().to_owned(),
        (_, Some(path)) => read_id_file(path)?,
        _ => {
            return Err(Error::usage(
                "which job? give --id (PROWJOB_ID) or --id-file (PROWJOB_ID_PATH)",
            )
            .into())
        }
    };
    let token = args.prow.token()?.ok_or_else(|| {
        Error::usage("no Gangway token: set GANGWAY_TOKEN, or --token-file (GANGWAY_TOKEN_FILE)")
    })?;
    let options = ReportOptions {
        id,
        gangway_url,
        deck_url,
        token,
        poll_interval: args.poll_interval,
        timeout: (!args.timeout.is_zero()).then_some(args.timeout),
        not_found_grace: args.not_found_grace,
        max_consecutive_errors: args.max_consecutive_errors.max(1),
        test_output: args.test_output,
        results_dir: global.results_dir.clone(),
        budget: Budget::default(),
        http: args.prow.http(),
    };
    let reported = block_on(report(&options))?;
    print_line(&reported.status)?;
    Ok(reported.verdict)
}

/// `K=V` items; the value may hold `=`. An empty key or value is refused here, before Gangway
/// refuses it.
fn parse_pairs<'a>(
    items: impl IntoIterator<Item = &'a str>,
    flag: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    items
        .into_iter()
        .map(|item| {
            let (key, value) = item.split_once('=').ok_or_else(|| {
                Error::usage(format!("{flag} {item:?}: expected KEY=VALUE"))
            })?;
            let key = key.trim();
            if key.is_empty() || value.is_empty() {
                return Err(Error::usage(format!(
                    "{flag} {item:?}: the key and the value must both be non-empty (Gangway refuses empty ones)"
                ))
                .into());
            }
            Ok((key.to_owned(), value.to_owned()))
        })
        .collect()
}

#[derive(Debug, Clone)]
enum FilterTests {
    Auto,
    Off,
}

impl std::str::FromStr for FilterTests {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Ok(FilterTests::Auto),
            "off" => Ok(FilterTests::Off),
            _ => Err(format!(
                "unknown --filter-tests {text:?}: expected auto or off"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_keep_equals_signs_in_values_and_refuse_empty_parts() {
        let pairs = parse_pairs(["A=b=c", "QUOTED=\"x y\""], "--env").unwrap();
        assert_eq!(pairs[0], ("A".into(), "b=c".into()));
        assert_eq!(pairs[1].1, "\"x y\"");
        for bad in ["NOVALUE=", "=value", "nokey"] {
            let err = parse_pairs([bad], "ENVS").unwrap_err().to_string();
            assert!(err.starts_with("ENVS"), "{err}");
        }
    }
}
