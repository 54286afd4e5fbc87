//! `prowjob trigger`: from a Konflux Snapshot to a running Prow job.
//!
//! The component's image goes into its ci-operator config (fetched from openshift/release, or a
//! local file), the patched config is sent to Gangway as `UNRESOLVED_CONFIG`, and the job's id
//! and URL become Tekton results. A job is never triggered twice: see `GangwayClient::create`.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use crate::core::error::{Error, Kind, ResultExt};
use crate::core::http::{shown_url, HttpClient, HttpConfig};
use crate::core::image_ref::ImageReference;
use crate::core::input::{read_input_text, MIB};
use crate::core::poll::{poll_until, Cancel, Poll, PollOptions};
use crate::core::secret::Secret;
use crate::core::tekton::{self, Budget};
use crate::prowjob::ci_operator::{
    fetch_config, ArtifactsBuildRoot, CiOperatorConfig, ConfigLocation, EnvMode, Patch, TestFilter,
};
use crate::prowjob::gangway::{
    history_url, CreateRequest, DeckClient, GangwayClient, JobExecution, JobExecutionType, Refs,
};
use crate::prowjob::snapshot::{github_org_repo, Component, Snapshot};

/// The annotation that tells OpenShift CI which Konflux repository asked for the job.
const KONFLUX_REPO_ANNOTATION: &str = "ci.openshift.io/konflux-repo";

/// Everything `prowjob trigger` needs, validated at the command line: the snapshot is parsed
/// and the URLs are checked before any of it reaches here.
#[derive(Debug, Clone)]
pub struct TriggerOptions {
    pub snapshot: Snapshot,
    pub component: Option<String>,
    pub job_name: String,
    pub job_type: JobExecutionType,
    pub variant: Option<String>,
    /// `ALIAS` (the chosen component's image) or `ALIAS=COMPONENT`.
    pub images_in_config: Vec<String>,
    pub artifacts_build_root: Option<String>,
    pub dockerfile_additions: Option<String>,
    pub include_images: bool,
    pub include_operator: bool,
    pub envs: Vec<(String, String)>,
    pub env_mode: EnvMode,
    /// Where the config lives when not in the component's own repository (PROWJOB_ORG/REPO).
    pub config_org: Option<String>,
    pub config_repo: Option<String>,
    /// Pipelines-as-Code's `ORG`/`REPO`/`COMMIT`, used when the component has no git source.
    pub fallback_org: Option<String>,
    pub fallback_repo: Option<String>,
    pub fallback_revision: Option<String>,
    pub target_branch: Option<String>,
    pub filter_tests: bool,
    pub config_file: Option<PathBuf>,
    /// [`crate::prowjob::ci_operator::parse_release_repo_url`] accepted it.
    pub release_repo_url: Url,
    pub release_ref: String,
    /// Base URLs [`crate::prowjob::gangway::parse_base_url`] accepted.
    pub gangway_url: Url,
    pub deck_url: Url,
    pub token: Option<Secret>,
    pub annotations: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub wait_for_url: bool,
    pub url_timeout: Duration,
    pub url_poll_interval: Duration,
    pub dry_run: bool,
    pub results_dir: Option<PathBuf>,
    pub budget: Budget,
    pub http: HttpConfig,
    /// Sends of the trigger request at most (provide-prowjob 0.1's MAX_RETRIES), in place of
    /// `http.retries` for that request alone; `None`: as `http.retries` says.
    pub trigger_attempts: Option<u32>,
    /// A fixed pause between Gangway's attempts, instead of backoff.
    pub trigger_retry_delay: Option<Duration>,
}

/// The HTTP settings of the Gangway client: with a fixed retry delay (provide-prowjob 0.1's
/// RETRY_DELAY), every pause is that long and, when the trigger's attempts are counted, the
/// retry deadline is at least long enough for all of them and the pauses between them.
fn gangway_http(options: &TriggerOptions) -> HttpConfig {
    let mut http = options.http.clone();
    if let Some(delay) = options.trigger_retry_delay {
        http.base_delay = delay;
        http.max_delay = delay;
        let attempts = options
            .trigger_attempts
            .or(http.retries.map(|retries| retries.saturating_add(1)));
        if let Some(attempts) = attempts.map(|attempts| attempts.max(1)) {
            let needed =
                delay.saturating_mul(attempts - 1) + http.request_timeout.saturating_mul(attempts);
            http.deadline = http.deadline.max(needed);
        }
    }
    http
}

/// What `prowjob trigger` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triggered {
    /// `--dry-run`: the patched config and a summary of the request that would have been sent.
    DryRun {
        config_yaml: String,
        summary: String,
    },
    Job {
        id: String,
        job_name: String,
        url: Option<String>,
        history_url: String,
    },
}

pub async fn trigger(options: &TriggerOptions) -> anyhow::Result<Triggered> {
    // A token that cannot be a header fails now, before any network work (exit 2).
    if let Some(token) = &options.token {
        token.bearer_token()?;
    }
    let snapshot = &options.snapshot;
    let component = snapshot.component(options.component.as_deref())?;
    let source = Source::of(component, options);
    let location = config_location(options, &source)?;
    let http = HttpClient::new(options.http.clone())?;

    let (config_text, config_source) = match &options.config_file {
        Some(path) => {
            let text = read_input_text(Some(path), 8 * MIB).or_kind(Kind::Usage, || {
                format!("cannot read --config-file {}", path.display())
            })?;
            (text, path.display().to_string())
        }
        None => {
            let url = location.url(options.release_repo_url.as_str(), &options.release_ref);
            // Logs, messages and PROWJOB_CONFIG_URL show it without credentials or query.
            let shown = shown_url(&url);
            tracing::info!("fetching ci-operator config {shown}");
            (fetch_config(&http, &url).await?, shown)
        }
    };
    let mut config = CiOperatorConfig::parse(&config_text, &config_source)?;
    let report = config.apply(&patch(options, snapshot, component, &source, &location)?)?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    if let Some(test) = &report.selected_test {
        tracing::info!("kept test {test} of {}", location.file_name());
    }

    let request = create_request(options, &config, &report.gangway_envs, &source)?;
    request.validate()?;
    if options.dry_run {
        return Ok(Triggered::DryRun {
            config_yaml: config.to_yaml(),
            summary: summarize(&request, &config_source),
        });
    }

    let token = options.token.clone().ok_or_else(|| {
        Error::usage("no Gangway token: set GANGWAY_TOKEN, or --token-file (GANGWAY_TOKEN_FILE) to a mounted Secret's token file")
    })?;
    let mut gangway = GangwayClient::at(
        HttpClient::new(gangway_http(options))?,
        options.gangway_url.clone(),
        token,
    )?;
    if let Some(attempts) = options.trigger_attempts {
        gangway = gangway.with_create_attempts(attempts);
    }
    let execution = gangway.create(&request).await?;
    let history = history_url(options.deck_url.as_str(), &options.job_name);
    tracing::info!(
        "triggered {} as {}; history: {history}",
        options.job_name,
        execution.id
    );

    // The id first: if the wait below is cut short, the report step can still find the job.
    write_results(
        options,
        &[
            ("PROWJOB_ID", execution.id.as_str()),
            ("PROWJOB_NAME", options.job_name.as_str()),
            ("PROWJOB_CONFIG_URL", config_source.as_str()),
        ],
    )?;
    let url = if options.wait_for_url {
        let deck = DeckClient::at(http, options.deck_url.clone());
        wait_for_url(options, &gangway, &deck, &execution).await?
    } else {
        execution.job_url.clone()
    };
    write_results(options, &[("PROWJOB_URL", url.as_deref().unwrap_or(""))])?;
    Ok(Triggered::Job {
        id: execution.id,
        job_name: options.job_name.clone(),
        url,
        history_url: history,
    })
}

/// The repository and commit the component was built from.
struct Source {
    org: Option<String>,
    repo: Option<String>,
    revision: Option<String>,
}

impl Source {
    fn of(component: &Component, options: &TriggerOptions) -> Source {
        let git = component.source.as_ref();
        let (org, repo) = git
            .and_then(|git| github_org_repo(&git.url))
            .map(|(org, repo)| (Some(org), Some(repo)))
            .unwrap_or_else(|| (options.fallback_org.clone(), options.fallback_repo.clone()));
        let revision = git
            .and_then(|git| git.revision.clone())
            .or_else(|| options.fallback_revision.clone());
        Source {
            org,
            repo,
            revision,
        }
    }

    fn org_repo(&self) -> Option<String> {
        Some(format!("{}/{}", self.org.as_ref()?, self.repo.as_ref()?))
    }
}

fn config_location(options: &TriggerOptions, source: &Source) -> anyhow::Result<ConfigLocation> {
    let (org, repo) = match (&options.config_org, &options.config_repo) {
        (Some(org), Some(repo)) => (org.clone(), repo.clone()),
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::usage(
                "PROWJOB_ORG and PROWJOB_REPO go together: set both to use a config from another repository, or neither",
            )
            .into())
        }
        (None, None) => match (&source.org, &source.repo) {
            (Some(org), Some(repo)) => (org.clone(), repo.clone()),
            _ => {
                return Err(Error::usage(
                    "cannot tell which ci-operator config to use: the component has no source.git.url and ORG/REPO are not set; set PROWJOB_ORG and PROWJOB_REPO",
                )
                .into())
            }
        },
    };
    let branch = options.target_branch.clone().ok_or_else(|| {
        Error::usage(format!(
            "TARGET_BRANCH is not set: the ci-operator config of {org}/{repo} is chosen by branch (Konflux passes it as the pac.test.appstudio.openshift.io/branch annotation)"
        ))
    })?;
    Ok(ConfigLocation {
        org,
        repo,
        branch,
        variant: options.variant.clone(),
    })
}

fn patch(
    options: &TriggerOptions,
    snapshot: &Snapshot,
    component: &Component,
    source: &Source,
    location: &ConfigLocation,
) -> anyhow::Result<Patch> {
    let mut external_images = Vec::new();
    for entry in &options.images_in_config {
        let (alias, image) = match entry.split_once('=') {
            Some((alias, name)) => (alias, &snapshot.component(Some(name))?.container_image),
            None => (entry.as_str(), &component.container_image),
        };
        let reference: ImageReference = image.parse().map_err(|reason: String| {
            Error::usage(format!(
                "cannot use the image of IMAGE_IN_CONFIG {alias}: {reason}"
            ))
        })?;
        external_images.push((alias.to_owned(), reference));
    }
    let build_root = match &options.artifacts_build_root {
        None => None,
        Some(image) => {
            let missing = || {
                Error::usage(format!(
                    "ARTIFACTS_BUILD_ROOT needs the component's source repository and commit to build from; component {} has no source.git url/revision and ORG/REPO/COMMIT are not set",
                    component.name
                ))
            };
            Some(ArtifactsBuildRoot {
                image: image.clone(),
                dockerfile_additions: options.dockerfile_additions.clone(),
                source_org: source.org.clone().ok_or_else(missing)?,
                source_repo: source.repo.clone().ok_or_else(missing)?,
                source_revision: source.revision.clone().ok_or_else(missing)?,
            })
        }
    };
    if build_root.is_none() && options.dockerfile_additions.is_some() {
        tracing::warn!("DOCKERFILE_ADDITIONS is ignored without ARTIFACTS_BUILD_ROOT");
    }
    Ok(Patch {
        external_images,
        build_root,
        include_images: options.include_images,
        include_operator: options.include_operator,
        test_filter: options.filter_tests.then(|| TestFilter {
            job_name: options.job_name.clone(),
            org: location.org.clone(),
            repo: location.repo.clone(),
            branch: location.branch.clone(),
            variant: location.variant.clone(),
        }),
        envs: options.envs.clone(),
        env_mode: options.env_mode,
    })
}

fn create_request(
    options: &TriggerOptions,
    config: &CiOperatorConfig,
    gangway_envs: &[(String, String)],
    source: &Source,
) -> anyhow::Result<CreateRequest> {
    let mut envs: std::collections::BTreeMap<String, String> =
        gangway_envs.iter().cloned().collect();
    envs.insert("UNRESOLVED_CONFIG".to_owned(), config.to_json());
    let mut annotations: std::collections::BTreeMap<String, String> =
        options.annotations.iter().cloned().collect();
    if let Some(org_repo) = source.org_repo() {
        annotations
            .entry(KONFLUX_REPO_ANNOTATION.to_owned())
            .or_insert(org_repo);
    }
    let refs = match options.job_type {
        JobExecutionType::Periodic => None,
        _ => {
            let missing = |what: &str| {
                Error::usage(format!(
                    "a {} job needs refs: the component's {what} is unknown (give it a source.git url and revision, or set ORG/REPO/COMMIT)",
                    options.job_type
                ))
            };
            Some(Refs {
                org: source.org.clone().ok_or_else(|| missing("repository"))?,
                repo: source.repo.clone().ok_or_else(|| missing("repository"))?,
                base_ref: options
                    .target_branch
                    .clone()
                    .ok_or_else(|| missing("branch"))?,
                base_sha: source.revision.clone().ok_or_else(|| missing("revision"))?,
                pulls: Vec::new(),
            })
        }
    };
    Ok(CreateRequest {
        job_name: options.job_name.clone(),
        job_type: options.job_type,
        envs,
        labels: options.labels.iter().cloned().collect(),
        annotations,
        refs,
    })
}

/// What would be sent, without the config text or env values (envs end up public on Deck).
fn summarize(request: &CreateRequest, config_source: &str) -> String {
    let names: Vec<&str> = request.envs.keys().map(String::as_str).collect();
    let pairs = |map: &std::collections::BTreeMap<String, String>| -> String {
        if map.is_empty() {
            return "none".to_owned();
        }
        map.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "POST /v1/executions\n  job_name: {}\n  job_execution_type: {} ({})\n  config: {config_source}\n  envs: {}\n  annotations: {}\n  labels: {}\n  refs: {}",
        request.job_name,
        request.job_type.wire_value(),
        request.job_type,
        names.join(", "),
        pairs(&request.annotations),
        pairs(&request.labels),
        request
            .refs
            .as_ref()
            .map(|r| format!("{}/{}@{} ({})", r.org, r.repo, r.base_sha, r.base_ref))
            .unwrap_or_else(|| "none".to_owned()),
    )
}

/// Waits for the job's Spyglass URL, from Gangway's `job_url` or else Deck. Timing out is not a
/// failure: the job exists and `prowjob report` will find it.
async fn wait_for_url(
    options: &TriggerOptions,
    gangway: &GangwayClient,
    deck: &DeckClient,
    created: &JobExecution,
) -> anyhow::Result<Option<String>> {
    if created.job_url.is_some() {
        return Ok(created.job_url.clone());
    }
    let poll = PollOptions::new(
        format!("the URL of Prow job {}", created.id),
        options.url_poll_interval,
        options.url_timeout,
    );
    let cancel = Cancel::on_termination_signals();
    let outcome = poll_until(&poll, &cancel, || async {
        let execution = gangway.get(&created.id).await?;
        if let Some(url) = execution.as_ref().and_then(|e| e.job_url.clone()) {
            return Ok(Poll::Ready(Some(url)));
        }
        if let Some(url) = deck.prowjob(&created.id).await?.and_then(|job| job.url) {
            return Ok(Poll::Ready(Some(url)));
        }
        Ok(match execution {
            Some(e) if e.status.is_terminal() => Poll::Ready(None),
            Some(e) => Poll::Pending(format!("state {}", e.status.as_str())),
            None => Poll::Pending("not visible yet".to_owned()),
        })
    })
    .await;
    match outcome {
        Ok(url) => Ok(url),
        Err(err) if cancel.is_cancelled() => Err(err),
        // The job exists and its id is written: neither a timeout nor Gangway or Deck failing
        // now makes the trigger fail (`prowjob report` finds the job and reports on it).
        Err(err) => {
            tracing::warn!("{err:#}; the job was created, PROWJOB_URL is left empty");
            Ok(None)
        }
    }
}

fn write_results(options: &TriggerOptions, results: &[(&str, &str)]) -> anyhow::Result<()> {
    tekton::write_named_results(options.results_dir.as_deref(), options.budget, results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(attempts: Option<u32>, delay: Option<Duration>) -> TriggerOptions {
        TriggerOptions {
            snapshot: Snapshot {
                application: String::new(),
                components: Vec::new(),
            },
            component: None,
            job_name: String::new(),
            job_type: JobExecutionType::Periodic,
            variant: None,
            images_in_config: Vec::new(),
            artifacts_build_root: None,
            dockerfile_additions: None,
            include_images: false,
            include_operator: false,
            envs: Vec::new(),
            env_mode: EnvMode::Config,
            config_org: None,
            config_repo: None,
            fallback_org: None,
            fallback_repo: None,
            fallback_revision: None,
            target_branch: None,
            filter_tests: true,
            config_file: None,
            release_repo_url: Url::parse("https://raw.example").unwrap(),
            release_ref: String::new(),
            gangway_url: Url::parse("https://gangway.example").unwrap(),
            deck_url: Url::parse("https://deck.example").unwrap(),
            token: None,
            annotations: Vec::new(),
            labels: Vec::new(),
            wait_for_url: false,
            url_timeout: Duration::ZERO,
            url_poll_interval: Duration::ZERO,
            dry_run: false,
            results_dir: None,
            budget: Budget::default(),
            http: HttpConfig {
                request_timeout: Duration::from_secs(60),
                deadline: Duration::from_secs(300),
                ..HttpConfig::default()
            },
            trigger_attempts: attempts,
            trigger_retry_delay: delay,
        }
    }

    #[test]
    fn a_retry_delay_is_every_pause_and_the_deadline_fits_every_attempt() {
        let plain = gangway_http(&options(Some(5), None));
        assert_eq!(plain.deadline, Duration::from_secs(300));
        assert!(
            plain.base_delay < Duration::from_secs(1),
            "backoff by default"
        );

        // provide-prowjob 0.1's defaults: 5 attempts, 60 s apart.
        let old = gangway_http(&options(Some(5), Some(Duration::from_secs(60))));
        assert_eq!(old.base_delay, Duration::from_secs(60));
        assert_eq!(old.max_delay, Duration::from_secs(60));
        assert_eq!(old.deadline, Duration::from_secs(4 * 60 + 5 * 60));

        // A short delay never shortens the configured deadline.
        let short = gangway_http(&options(Some(2), Some(Duration::from_secs(1))));
        assert_eq!(short.deadline, Duration::from_secs(300));
        assert_eq!(
            gangway_http(&options(Some(0), Some(Duration::from_secs(1)))).deadline,
            Duration::from_secs(300)
        );

        // Not counted, the attempts fit in the deadline as it is; counted by --retries alone,
        // the deadline grows to fit them as it does for --trigger-attempts.
        let uncounted = gangway_http(&options(None, Some(Duration::from_secs(60))));
        assert_eq!(uncounted.deadline, Duration::from_secs(300));
        let mut by_retries = options(None, Some(Duration::from_secs(60)));
        by_retries.http.retries = Some(3);
        assert_eq!(
            gangway_http(&by_retries).deadline,
            Duration::from_secs(3 * 60 + 4 * 60)
        );
    }
}
