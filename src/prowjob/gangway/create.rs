//! Triggering a job: the one request that creates something, so it is never blindly repeated.
//!
//! Before sending, the client remembers which runs of the job already exist. Each answer is
//! classified ([`PostOutcome`]): when it proves that nothing was created (no connection, 429, a
//! 503 from the proxy) the retry loop may send again; when it may hide a created job (a timeout,
//! a dropped connection, a 5xx from behind the proxy) the loop is told so, and the next attempt
//! first lists the runs again and adopts the one new run instead of sending a second request.
//! Where the token may trigger but not list, the request goes out once: an ambiguous answer then
//! ends the command, since nothing could tell a lost run from no run.

use std::collections::BTreeSet;
use std::time::SystemTime;

use serde_json::Value;

use super::answer::{kind_for_status, Answer};
use super::{CreateRequest, GangwayClient, JobExecution, Listing};
use crate::core::error::Error;
use crate::core::http::requested_wait;
use crate::core::retry::{retry, Retryable, Step};

/// How one POST ended.
enum PostOutcome {
    Created(JobExecution),
    /// Nothing was created: safe to send again (the retry is told the server's wait, if any).
    NotCreated(Retryable),
    /// The job may have been created: look for it before sending again.
    MaybeCreated {
        problem: String,
    },
    /// A success answer without a usable id: look for the job, but do not send again.
    UnusableSuccess {
        problem: String,
    },
    Failed(anyhow::Error),
}

impl GangwayClient {
    /// Triggers a run of `request.job_name` and returns it, as Gangway answered (TRIGGERED) or,
    /// after an answer was lost, as found by listing the job's runs.
    ///
    /// The POST is sent again only when the answer proves nothing was created or a look at the
    /// job's runs found no new one, within the retry policy of the HTTP client.
    pub async fn create(&self, request: &CreateRequest) -> anyhow::Result<JobExecution> {
        request.validate()?;
        let job = request.job_name.as_str();
        let body = request.to_json();

        // The runs that exist before ours, to recognise ours if the answer is lost. Some
        // deployments let a token trigger but not list (403), or predate listing (404, 405):
        // then the request still goes out once, and an ambiguous failure ends the command
        // instead of risking a second run.
        let known: Option<BTreeSet<String>> = match self.listing(job).await.map_err(|error| {
            error.context(format!(
                "cannot list the existing runs of {job} before triggering it (they are needed \
                 to recognise our run if Gangway's answer is lost)"
            ))
        })? {
            Listing::Runs(runs) => Some(runs.into_iter().map(|execution| execution.id).collect()),
            Listing::Unavailable(status) => {
                tracing::warn!(
                    job = %job,
                    "Gangway does not let this token list the runs of {job} (HTTP {status}): \
                     triggering it with one request, which is not sent again if its answer is lost"
                );
                None
            }
        };

        tracing::info!(
            job = %job,
            job_type = %request.job_type,
            "triggering {job} through Gangway"
        );
        let what = format!("triggering {job}");
        let advice = format!(
            "no run of {job} was found from these attempts; check the job's history in Deck before triggering it again"
        );
        let mut policy = self.http.retry_policy();
        if let Some(attempts) = self.create_attempts {
            policy.retries = Some(attempts - 1);
        }
        let known = known.as_ref();
        let body = &body;
        retry(&policy, &what, &advice, |attempt| async move {
            // Once an attempt may have created the job, every later one looks first: a
            // request that timed out here can still be working its way through the proxy.
            if attempt.maybe_done {
                let problem = "an earlier attempt got no answer";
                match self.adopt_new_run(job, known, problem).await {
                    Ok(Some(found)) => return Step::Done(found),
                    Ok(None) => {}
                    Err(error) => return Step::Fail(error),
                }
            }
            match self.post_once(body, job, attempt.time_left).await {
                PostOutcome::Created(execution) => {
                    tracing::info!(
                        job = %job,
                        id = %execution.id,
                        status = %execution.status,
                        "triggered {job}: execution {}",
                        execution.id
                    );
                    Step::Done(execution)
                }
                PostOutcome::Failed(error) => Step::Fail(error),
                PostOutcome::NotCreated(failure) => Step::Retry(failure),
                PostOutcome::MaybeCreated { problem } => {
                    tracing::warn!(
                        job = %job,
                        problem = %problem,
                        "triggering {job}: {problem}; looking for the run it may have created \
                         before trying again"
                    );
                    match self.adopt_new_run(job, known, &problem).await {
                        Ok(Some(found)) => Step::Done(found),
                        Ok(None) => Step::Retry(
                            Retryable::new(format!("{problem}; no new run appeared")).maybe_done(),
                        ),
                        Err(error) => Step::Fail(error),
                    }
                }
                PostOutcome::UnusableSuccess { problem } => {
                    tracing::warn!(
                        job = %job,
                        problem = %problem,
                        "triggering {job}: {problem}; looking for the run it created"
                    );
                    match self.adopt_new_run(job, known, &problem).await {
                        Ok(Some(found)) => Step::Done(found),
                        Ok(None) => Step::Fail(
                            Error::remote(format!(
                                "triggering {job}: {problem}, and no new run of {job} appeared; \
                                 not retried, since Gangway claimed success. Check the job's \
                                 history in Deck before triggering it again"
                            ))
                            .into(),
                        ),
                        Err(error) => Step::Fail(error),
                    }
                }
            }
        })
        .await
    }

    /// Sends the create POST once and sorts the answer.
    async fn post_once(
        &self,
        body: &Value,
        job: &str,
        time_left: Option<std::time::Duration>,
    ) -> PostOutcome {
        let url = self.endpoint(&["v1", "executions"]);
        let mut request = self.authorized(self.http.inner().post(url).json(body));
        if let Some(time_left) = time_left {
            request = request.timeout(time_left);
        }
        let response = match self.http.send_once(request).await {
            Ok(response) => response,
            Err(error) => {
                let problem = self.token.redact(&error.to_string());
                return if error.is_ambiguous() {
                    PostOutcome::MaybeCreated { problem }
                } else {
                    PostOutcome::NotCreated(Retryable::new(problem))
                };
            }
        };
        let status = response.status();
        let answer = match Answer::read(response).await {
            Ok(answer) => answer,
            Err(error) => {
                let problem = format!(
                    "HTTP {}, then the answer broke off: {}",
                    status.as_u16(),
                    self.token.redact(&error)
                );
                return match status.as_u16() {
                    429 | 503 => PostOutcome::NotCreated(Retryable::new(problem)),
                    400..=499 => PostOutcome::Failed(
                        Error::new(
                            kind_for_status(status),
                            format!("triggering {job}: {problem}"),
                        )
                        .into(),
                    ),
                    _ => PostOutcome::MaybeCreated { problem },
                };
            }
        };
        self.judge_create_answer(answer, job)
    }

    fn judge_create_answer(&self, answer: Answer, job: &str) -> PostOutcome {
        let status = answer.status;
        if answer.is_login_page() {
            return PostOutcome::Failed(self.refusal(&answer, &format!("trigger this job {job}")));
        }
        let gangway_error = answer.gangway_error();
        let message = gangway_error
            .as_ref()
            .map(|error| self.token.redact(&error.message));
        if let Some(message) = &message {
            // A plain Go error from the job lookup; transcoded as 500 (gRPC Unknown) upstream,
            // some deployments map it to 404.
            if message.contains("failed to find associated") {
                return PostOutcome::Failed(
                    Error::refused(format!(
                        "Gangway does not know the job {job}: {message} (HTTP {}). Check that \
                         the job name exists in openshift/release (ci-operator/jobs) with this \
                         job type; a newly merged job takes a minute to appear",
                        status.as_u16()
                    ))
                    .into(),
                );
            }
            if message.contains("unsupported JobExecutionType")
                || message.contains("matches multiple prow jobs")
            {
                return PostOutcome::Failed(
                    Error::usage(format!(
                        "Gangway rejected the request to trigger {job}: {message} (HTTP {})",
                        status.as_u16()
                    ))
                    .into(),
                );
            }
        }
        match status.as_u16() {
            200..=299 => created_or_unusable(&answer, job),
            401 | 403 => {
                PostOutcome::Failed(self.refusal(&answer, &format!("trigger this job {job}")))
            }
            400 => {
                let detail = message.unwrap_or_else(|| self.snippet(&answer));
                PostOutcome::Failed(
                    Error::usage(format!(
                        "Gangway rejected the request to trigger {job}: {detail} (HTTP 400)"
                    ))
                    .into(),
                )
            }
            404 => PostOutcome::Failed(
                Error::refused(format!(
                    "Gangway answered HTTP 404 to the request to trigger {job}{}: check that \
                     the job name exists in openshift/release and that the Gangway URL ({}) is \
                     right",
                    message.map(|m| format!(" ({m})")).unwrap_or_default(),
                    self.base
                ))
                .into(),
            ),
            429 => PostOutcome::NotCreated(
                Retryable::new(self.problem_text(&answer, message.as_deref()))
                    .waiting(requested_wait(status, &answer.headers, SystemTime::now())),
            ),
            // The proxy had no backend to give the request to.
            503 if gangway_error.is_none() => PostOutcome::NotCreated(
                Retryable::new(self.problem_text(&answer, None)).waiting(requested_wait(
                    status,
                    &answer.headers,
                    SystemTime::now(),
                )),
            ),
            // A 500 from Gangway may come from creating the ProwJob; a 502/504 from the proxy
            // may come after Gangway created it (the route times out at 90 s).
            500..=599 => PostOutcome::MaybeCreated {
                problem: self.problem_text(&answer, message.as_deref()),
            },
            _ => PostOutcome::Failed(self.answer_error(&answer, &format!("triggering {job}"))),
        }
    }

    /// After an answer that may hide a created run (`problem`): the one run of `job` that is
    /// not in `known`, read in full; `None` when there is no new run. Several new runs mean
    /// someone else triggered the job at the same time, and we cannot tell which is ours; no
    /// `known` (the runs could not be listed) means we cannot look at all.
    async fn adopt_new_run(
        &self,
        job: &str,
        known: Option<&BTreeSet<String>>,
        problem: &str,
    ) -> anyhow::Result<Option<JobExecution>> {
        let Some(known) = known else {
            return Err(unverifiable(job, problem));
        };
        let runs = self.list(job).await.map_err(|error| {
            error.context(format!(
                "the request to trigger {job} may have reached Gangway, and looking for the run \
                 it created failed: check the job's history in Deck before triggering it again"
            ))
        })?;
        let new: Vec<JobExecution> = runs
            .into_iter()
            .filter(|run| !run.id.is_empty() && !known.contains(&run.id))
            .collect();
        match new.as_slice() {
            [] => Ok(None),
            [run] => {
                tracing::info!(
                    job = %job,
                    id = %run.id,
                    "the answer was lost, but {job} has one new run, {}: that is ours",
                    run.id
                );
                let mut found = match self.get(&run.id).await {
                    Ok(Some(execution)) => execution,
                    // The list already told us enough to go on.
                    Ok(None) | Err(_) => run.clone(),
                };
                if found.job_name.is_empty() {
                    found.job_name = job.to_owned();
                }
                if found.id.is_empty() {
                    found.id = run.id.clone();
                }
                Ok(Some(found))
            }
            several => {
                let ids: Vec<&str> = several.iter().map(|run| run.id.as_str()).collect();
                Err(Error::remote(format!(
                    "cannot tell which run of {job} our request created: {} new runs appeared \
                     while it was in flight ({}), so someone else triggered the same job at the \
                     same time. Not retrying, to avoid yet another run; check these runs in Deck",
                    several.len(),
                    ids.join(", ")
                ))
                .into())
            }
        }
    }
}

/// The error after an answer that may hide a created run, when the runs cannot be listed to
/// find out: never sent again, since that could start a second run.
fn unverifiable(job: &str, problem: &str) -> anyhow::Error {
    Error::remote(format!(
        "triggering {job}: {problem}. The request may have started a run, and this token cannot \
         list the job's runs to find out, so it is not sent again: check the job's history in \
         Deck before triggering it again"
    ))
    .into()
}

/// A 2xx answer to the create: the new run, or why it cannot be used.
fn created_or_unusable(answer: &Answer, job: &str) -> PostOutcome {
    let problem = if answer.body.trim().is_empty() {
        "Gangway answered HTTP 200 with an empty body".to_owned()
    } else {
        match serde_json::from_str::<Value>(&answer.body) {
            Ok(value) => match JobExecution::from_wire(&value) {
                Ok(mut execution) if !execution.id.is_empty() => {
                    if execution.job_name.is_empty() {
                        execution.job_name = job.to_owned();
                    }
                    return PostOutcome::Created(execution);
                }
                _ => "Gangway answered HTTP 200 without a job id".to_owned(),
            },
            // Never quote it: a create answer echoes every env.
            Err(_) => {
                "Gangway answered HTTP 200 with a body that is not JSON (cut short?)".to_owned()
            }
        }
    };
    PostOutcome::UnusableSuccess { problem }
}
