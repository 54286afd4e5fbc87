//! `prowjob report`: wait for a Prow job to finish and report how it ended, as Tekton results
//! and as the Konflux TEST_OUTPUT.
//!
//! Unlike the loop it replaces, it has a deadline, logs state changes only, tolerates transient
//! errors without polling an expired token forever, gives up on a job that stays not-found, and
//! on SIGTERM says that the Prow job keeps running.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::core::error::{kind_of, Error, Kind, ResultExt, Verdict};
use crate::core::http::{HttpClient, HttpConfig};
use crate::core::input::read_input_text;
use crate::core::poll::{poll_until, Cancel, Poll, PollOptions};
use crate::core::progress::human_duration;
use crate::core::secret::Secret;
use crate::core::tekton::{self, Budget};
use crate::prowjob::gangway::{DeckClient, GangwayClient, JobExecution, JobStatus};
use crate::result::emit::{EmitOptions, OutputPaths};
use crate::result::test_output::Outcome;

/// Everything `prowjob report` needs, validated at the command line.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub id: String,
    /// Base URLs [`crate::prowjob::gangway::parse_base_url`] accepted.
    pub gangway_url: reqwest::Url,
    pub deck_url: reqwest::Url,
    pub token: Secret,
    pub poll_interval: Duration,
    /// `None`: wait as long as Tekton lets the step run.
    pub timeout: Option<Duration>,
    /// How long a job may stay not-found before it is declared missing (Gangway's list and
    /// the ProwJob cache can lag right after creation).
    pub not_found_grace: Duration,
    /// How many polls in a row may fail (network, 5xx) before giving up.
    pub max_consecutive_errors: u32,
    pub test_output: bool,
    pub results_dir: Option<PathBuf>,
    pub budget: Budget,
    pub http: HttpConfig,
}

/// How the wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// SUCCESS, FAILURE, ABORTED, ERROR, TIMEOUT or UNKNOWN, as written to PROWJOB_STATUS.
    pub status: String,
    pub url: Option<String>,
    pub verdict: Verdict,
}

/// Reads a job id from a file (the trigger step's PROWJOB_ID result), trimmed.
pub fn read_id_file(path: &std::path::Path) -> anyhow::Result<String> {
    // A job id is a UUID; the budget only guards against the wrong file.
    let id = read_input_text(Some(path), 64 * 1024).or_kind(Kind::Usage, || {
        format!("cannot read --id-file {}", path.display())
    })?;
    let id = id.trim().to_owned();
    if id.is_empty() {
        return Err(Error::usage(format!(
            "--id-file {} is empty: did the trigger step write PROWJOB_ID?",
            path.display()
        ))
        .into());
    }
    Ok(id)
}

pub async fn report(options: &ReportOptions) -> anyhow::Result<Reported> {
    let http = HttpClient::new(options.http.clone())?;
    let gangway = GangwayClient::at(
        http.clone(),
        options.gangway_url.clone(),
        options.token.clone(),
    )?;
    let deck = DeckClient::at(http, options.deck_url.clone());
    let cancel = Cancel::on_termination_signals();
    // Each check needs the watch mutably, and the futures poll_until awaits are made one at a
    // time, so a lock that is never contended is all it takes to share it.
    let watch = tokio::sync::Mutex::new(Watch::new(options));

    let poll = PollOptions::new(
        format!("Prow job {}", options.id),
        options.poll_interval,
        // Without a timeout, Tekton's own timeout (SIGTERM) ends the wait.
        options
            .timeout
            .unwrap_or(Duration::from_secs(365 * 24 * 3600)),
    );
    let outcome = poll_until(&poll, &cancel, || async {
        watch.lock().await.observe(&gangway, &deck).await
    })
    .await;
    let watch = watch.into_inner();

    match outcome {
        Ok(execution) => {
            let status = execution.status.as_str().to_owned();
            let url = watch.url.clone();
            let (outcome, verdict) = match execution.status {
                JobStatus::Success => (Outcome::Success, Verdict::Pass),
                JobStatus::Failure => (Outcome::Failure, Verdict::Fail),
                _ => (Outcome::Error, Verdict::Fail),
            };
            let note = format!(
                "prowjob {} {status}{}",
                watch.job_name(),
                url_suffix(url.as_deref())
            );
            tracing::info!("{note}");
            finish(options, &status, url.as_deref(), outcome, note)?;
            Ok(Reported {
                status,
                url,
                verdict,
            })
        }
        Err(err) if kind_of(&err) == Some(Kind::Deadline) => {
            let (status, why) = match cancel.reason() {
                Some(signal) => ("UNKNOWN", format!("stopped by {signal}")),
                None => (
                    "TIMEOUT",
                    format!(
                        "still {} after {}",
                        watch.state(),
                        human_duration(poll.timeout)
                    ),
                ),
            };
            let note = format!(
                "prowjob {} {why}; the Prow job keeps running{}",
                watch.job_name(),
                url_suffix(watch.url.as_deref())
            );
            finish(options, status, watch.url.as_deref(), Outcome::Error, note)?;
            Err(err)
        }
        Err(err) => {
            let note = format!("prowjob {}: {err:#}", watch.job_name());
            finish(
                options,
                "UNKNOWN",
                watch.url.as_deref(),
                Outcome::Error,
                note,
            )?;
            Err(err)
        }
    }
}

fn url_suffix(url: Option<&str>) -> String {
    url.map(|url| format!(": {url}")).unwrap_or_default()
}

/// What the polls have seen so far.
struct Watch<'a> {
    options: &'a ReportOptions,
    job_name: Option<String>,
    url: Option<String>,
    last_status: Option<JobStatus>,
    not_found_since: Option<Instant>,
    consecutive_errors: u32,
    unknown_logged: bool,
}

impl<'a> Watch<'a> {
    fn new(options: &'a ReportOptions) -> Watch<'a> {
        Watch {
            options,
            job_name: None,
            url: None,
            last_status: None,
            not_found_since: None,
            consecutive_errors: 0,
            unknown_logged: false,
        }
    }

    fn job_name(&self) -> String {
        self.job_name
            .clone()
            .unwrap_or_else(|| self.options.id.clone())
    }

    fn state(&self) -> String {
        self.last_status
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|| "not found".to_owned())
    }

    /// One poll: the job's state, or why it is not known yet.
    async fn observe(
        &mut self,
        gangway: &GangwayClient,
        deck: &DeckClient,
    ) -> anyhow::Result<Poll<JobExecution>> {
        match gangway.get(&self.options.id).await {
            Ok(Some(execution)) => {
                self.consecutive_errors = 0;
                self.not_found_since = None;
                self.seen(&execution, deck).await;
                Ok(if execution.status.is_terminal() {
                    Poll::Ready(execution)
                } else {
                    Poll::Pending(format!("state {}", execution.status.as_str()))
                })
            }
            Ok(None) => {
                self.consecutive_errors = 0;
                let since = *self.not_found_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= self.options.not_found_grace {
                    return Err(Error::refused(format!(
                        "Prow job {} was not found for {}: check PROWJOB_ID and GANGWAY_URL",
                        self.options.id,
                        human_duration(self.options.not_found_grace)
                    ))
                    .into());
                }
                Ok(Poll::Pending("not found yet".to_owned()))
            }
            // A refusal (expired token) will not heal by waiting.
            Err(err) if kind_of(&err) == Some(Kind::Refused) => Err(err),
            Err(err) => {
                self.consecutive_errors += 1;
                if self.consecutive_errors >= self.options.max_consecutive_errors {
                    return Err(err.context(format!(
                        "giving up after {} failed polls in a row",
                        self.consecutive_errors
                    )));
                }
                tracing::warn!("poll {} failed: {err:#}", self.consecutive_errors);
                Ok(Poll::Pending(format!("{} (poll failed)", self.state())))
            }
        }
    }

    async fn seen(&mut self, execution: &JobExecution, deck: &DeckClient) {
        if !execution.job_name.is_empty() {
            self.job_name = Some(execution.job_name.clone());
        }
        if let JobStatus::Unknown(name) = &execution.status {
            if !self.unknown_logged {
                tracing::warn!(
                    "Prow job state {name} is new to stepkit: treating it as still running"
                );
                self.unknown_logged = true;
            }
        }
        if execution.job_url.is_some() {
            self.url = execution.job_url.clone();
        } else if self.url.is_none() {
            // Older Gangways have no job_url; Deck knows it once the job is scheduled.
            match deck.prowjob(&self.options.id).await {
                Ok(Some(job)) => self.url = job.url,
                Ok(None) => {}
                Err(err) => tracing::debug!("Deck lookup failed: {err:#}"),
            }
        }
        self.last_status = Some(execution.status.clone());
    }
}

/// Writes PROWJOB_STATUS, PROWJOB_URL and TEST_OUTPUT.
fn finish(
    options: &ReportOptions,
    status: &str,
    url: Option<&str>,
    outcome: Outcome,
    note: String,
) -> anyhow::Result<()> {
    tekton::write_named_results(
        options.results_dir.as_deref(),
        options.budget,
        &[
            ("PROWJOB_STATUS", status),
            ("PROWJOB_URL", url.unwrap_or("")),
        ],
    )?;
    let results_dir = tekton::results_dir(options.results_dir.as_deref());
    if !options.test_output {
        return Ok(());
    }
    let emit = EmitOptions {
        result: Some(outcome),
        successes: Some(u64::from(outcome == Outcome::Success)),
        failures: Some(u64::from(outcome == Outcome::Failure)),
        warnings: Some(0),
        note: Some(note),
        outputs: OutputPaths::resolve(results_dir.as_deref(), None, None, None, false),
        budget: options.budget,
        ..EmitOptions::default()
    };
    crate::result::emit(&emit)?;
    Ok(())
}
