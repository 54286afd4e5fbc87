//! The one retry loop every remote call goes through: Gangway, GitHub, registries and plain
//! downloads. As in cargo's `util/network/retry.rs` and oras-go's `registry/remote/retry`, the
//! caller classifies each attempt ([`Step`]) and the loop does the waiting, so no client can
//! forget a deadline:
//!
//! - **attempt budget**: at most `retries` attempts after the first (`None`: as many as the
//!   retry deadline allows). Waits a server asks for (`Retry-After`, a rate-limit reset) do not
//!   use up the budget; they are bounded by the deadlines only.
//! - **retry deadline**: one call, its attempts and the pauses between them, ends within it. An
//!   attempt still running then is cut, and no pause is started that would end past it.
//! - **overall deadline**: the end of a whole wait the call is part of (`prowjob report
//!   --timeout`, say). At it the attempt in flight is abandoned, whatever the remote does, and
//!   the call fails with [`Kind::Deadline`] (exit 4).
//! - **what the caller decides**: whether an attempt is worth repeating, how long the server
//!   asked to wait, and whether a failed attempt may have taken effect ([`Effect`]); the next
//!   attempt is told so ([`Attempt::maybe_done`]), so that a request that creates something
//!   looks for it before sending again.
//!
//! Pauses are exponential backoff with full jitter from `base_delay` to `max_delay`, or what the
//! server asked for (never less than `base_delay`).

use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::core::error::Error;
use crate::core::plural::counted;
use crate::core::progress::human_duration;

/// How patient one call is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first, at most; `None`: as many as the retry deadline allows.
    pub retries: Option<u32>,
    /// The whole call, every attempt and pause included, ends within this.
    pub retry_deadline: Duration,
    /// Each attempt is cut after this; `None` when the transport bounds attempts itself (a
    /// streamed transfer with an idle timeout).
    pub attempt_timeout: Option<Duration>,
    /// The smallest pause between attempts; backoff doubles from here.
    pub base_delay: Duration,
    /// The largest pause backoff chooses (a server's `Retry-After` may ask for more).
    pub max_delay: Duration,
    /// The end of the wait this call is part of: an attempt in flight then is abandoned.
    pub overall_deadline: Option<Instant>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: None,
            retry_deadline: Duration::from_secs(5 * 60),
            attempt_timeout: Some(Duration::from_secs(30)),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            overall_deadline: None,
        }
    }
}

impl RetryPolicy {
    /// The same policy, ending at `deadline` at the latest (the earlier of the two wins).
    pub fn ending_by(&self, deadline: Option<Instant>) -> RetryPolicy {
        let overall_deadline = match (self.overall_deadline, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        RetryPolicy {
            overall_deadline,
            ..self.clone()
        }
    }
}

/// A wait the server asked for (`Retry-After`, a rate-limit reset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerWait {
    /// How long from now.
    pub wait: Duration,
    /// Until when.
    pub until: SystemTime,
    /// Whether it is a rate limit (as opposed to, say, a 503 with `Retry-After`).
    pub rate_limited: bool,
}

/// Whether a failed attempt may have changed something on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Certainly not: nothing was sent, or the server said it did nothing.
    None,
    /// Perhaps: the answer was lost after the request was sent.
    Maybe,
}

/// One failed attempt that another attempt may fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retryable {
    /// What went wrong, for the log and the final message. Never a secret.
    pub problem: String,
    /// What the server asked us to wait, if it did.
    pub server_wait: Option<ServerWait>,
    pub effect: Effect,
}

impl Retryable {
    /// A failure that changed nothing, with no wait asked for.
    pub fn new(problem: impl Into<String>) -> Retryable {
        Retryable {
            problem: problem.into(),
            server_wait: None,
            effect: Effect::None,
        }
    }

    /// Waits what the server asked for before the next attempt.
    pub fn waiting(mut self, server_wait: Option<ServerWait>) -> Retryable {
        self.server_wait = server_wait;
        self
    }

    /// The attempt may have taken effect: the next one is told so.
    pub fn maybe_done(mut self) -> Retryable {
        self.effect = Effect::Maybe;
        self
    }
}

/// How the caller judges one attempt.
#[derive(Debug)]
pub enum Step<T> {
    Done(T),
    /// Worth another attempt.
    Retry(Retryable),
    /// No attempt will change this: give up with this error.
    Fail(anyhow::Error),
}

/// What the loop tells each attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// An earlier attempt of this call may have taken effect: look before acting again.
    pub maybe_done: bool,
    /// How many waits the server asked for so far (GitHub's secondary limits double each time).
    pub server_waits: u32,
    /// The time this attempt has, when it is bounded: a client can give it to the transport
    /// so its own error says "timed out".
    pub time_left: Option<Duration>,
}

/// Runs `attempt` until it is done, fails, or the policy says to stop (see the module doc).
/// `what` names the call in log lines and errors (`GET https://host/path`); `advice` is added
/// to the final message when retries ran out (what to check, what to do).
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    advice: &str,
    mut attempt: F,
) -> anyhow::Result<T>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Step<T>>,
{
    let started = Instant::now();
    let call_deadline = instant_after(started, policy.retry_deadline);
    let mut info = Attempt {
        number: 0,
        maybe_done: false,
        server_waits: 0,
        time_left: None,
    };
    let mut failures: u32 = 0;
    loop {
        info.number += 1;
        let now = Instant::now();
        if policy.overall_deadline.is_some_and(|end| now >= end) {
            return Err(overall_deadline_error(what, info.number - 1));
        }
        let mut cut = call_deadline;
        if let Some(timeout) = policy.attempt_timeout {
            cut = cut.min(instant_after(now, timeout));
        }
        if let Some(end) = policy.overall_deadline {
            cut = cut.min(end);
        }
        info.time_left = Some(
            cut.saturating_duration_since(now)
                .max(Duration::from_millis(1)),
        );

        let step = tokio::select! {
            step = attempt(info) => step,
            () = tokio::time::sleep_until(cut) => {
                let waited = human_duration(Instant::now() - now);
                if policy.overall_deadline.is_some_and(|end| Instant::now() >= end) {
                    return Err(overall_deadline_error(what, info.number));
                }
                // Sent, perhaps acted on, and never answered.
                Step::Retry(Retryable::new(format!("no answer within {waited}")).maybe_done())
            }
        };
        let failure = match step {
            Step::Done(value) => return Ok(value),
            Step::Fail(error) => return Err(error),
            Step::Retry(failure) => failure,
        };
        info.maybe_done |= failure.effect == Effect::Maybe;

        let wait = match &failure.server_wait {
            Some(server) => {
                info.server_waits += 1;
                server.wait.max(policy.base_delay)
            }
            None => {
                failures += 1;
                if policy.retries.is_some_and(|retries| failures > retries) {
                    return Err(Error::remote(format!(
                        "{what}: gave up after {} ({}); last: {}{}",
                        counted(info.number, "attempt", "attempts"),
                        allowed_retries(policy.retries.unwrap_or(0)),
                        failure.problem,
                        advice_suffix(advice),
                    ))
                    .into());
                }
                backoff_delay(
                    failures,
                    policy.base_delay,
                    policy.max_delay,
                    fastrand::f64(),
                )
            }
        };
        let wake = Instant::now() + wait;
        if policy.overall_deadline.is_some_and(|end| wake > end) {
            return Err(Error::deadline(format!(
                "{what}: the wait's deadline comes before the next attempt could (last: {}); gave up after {}",
                failure.problem,
                counted(info.number, "attempt", "attempts")
            ))
            .into());
        }
        if wake > call_deadline {
            return Err(out_of_time(policy, what, advice, &failure, info.number).into());
        }
        tracing::warn!(
            problem = %failure.problem,
            attempt = info.number,
            wait = %human_duration(wait),
            "{what}: {}; retrying in {}",
            failure.problem,
            human_duration(wait)
        );
        tokio::time::sleep_until(wake).await;
    }
}

/// The error when the next attempt would start past the retry deadline.
fn out_of_time(
    policy: &RetryPolicy,
    what: &str,
    advice: &str,
    failure: &Retryable,
    attempts: u32,
) -> Error {
    let deadline = human_duration(policy.retry_deadline);
    let attempts = counted(attempts, "attempt", "attempts");
    let problem = &failure.problem;
    let advice = advice_suffix(advice);
    Error::remote(match &failure.server_wait {
        Some(server) if server.rate_limited => format!(
            "{what}: rate limited until {}, past the retry deadline ({deadline}); gave up after {attempts}, last answer: {problem}. Try again later or allow a longer --retry-deadline",
            format_time(server.until)
        ),
        Some(server) => format!(
            "{what}: the server asked to retry at {}, past the retry deadline ({deadline}); gave up after {attempts}, last answer: {problem}{advice}",
            format_time(server.until)
        ),
        None => format!(
            "{what}: failed after {attempts}, and the retry deadline ({deadline}) leaves no time for another; last: {problem}{advice}"
        ),
    })
}

fn overall_deadline_error(what: &str, attempts: u32) -> anyhow::Error {
    let state = if attempts == 0 {
        "before it could be sent".to_owned()
    } else {
        format!(
            "with a request in flight, which was abandoned ({} made)",
            counted(attempts, "attempt", "attempts")
        )
    };
    Error::deadline(format!("{what}: the deadline passed {state}")).into()
}

fn advice_suffix(advice: &str) -> String {
    if advice.is_empty() {
        String::new()
    } else {
        format!(" ({advice})")
    }
}

fn allowed_retries(retries: u32) -> String {
    match retries {
        0 => "--retries 0: no retry".to_owned(),
        n => format!("--retries {n}"),
    }
}

/// `start + duration`, or a day from `start` when that cannot be represented.
fn instant_after(start: Instant, duration: Duration) -> Instant {
    start
        .checked_add(duration)
        .unwrap_or_else(|| start + Duration::from_secs(24 * 60 * 60))
}

/// The pause before attempt `failures + 1` after `failures` failures (1-based): random ("full
/// jitter") between `base` and `base * 2^failures`, the latter capped at `max`. `unit_random`
/// is a random number in 0..1.
pub fn backoff_delay(failures: u32, base: Duration, max: Duration, unit_random: f64) -> Duration {
    let ceiling = base
        .saturating_mul(2u32.saturating_pow(failures))
        .min(max)
        .max(base);
    let unit_random = if unit_random.is_finite() {
        unit_random.clamp(0.0, 1.0)
    } else {
        0.5
    };
    base + (ceiling - base).mul_f64(unit_random)
}

fn format_time(at: SystemTime) -> String {
    crate::core::timestamp::format(
        time::OffsetDateTime::from(at),
        crate::core::timestamp::TimestampFormat::Rfc3339,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::{kind_of, Kind};
    use std::sync::atomic::{AtomicU32, Ordering};

    const BASE: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(30);

    fn policy(retries: Option<u32>, deadline: Duration) -> RetryPolicy {
        RetryPolicy {
            retries,
            retry_deadline: deadline,
            attempt_timeout: Some(Duration::from_secs(10)),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(4),
            overall_deadline: None,
        }
    }

    #[test]
    fn backoff_grows_from_the_base_and_stays_under_the_maximum() {
        assert_eq!(backoff_delay(1, BASE, MAX, 0.0), BASE);
        assert_eq!(backoff_delay(1, BASE, MAX, 1.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(3, BASE, MAX, 1.0), Duration::from_secs(4));
        assert_eq!(backoff_delay(10, BASE, MAX, 1.0), MAX, "capped");
        assert_eq!(backoff_delay(u32::MAX, BASE, MAX, 1.0), MAX, "no overflow");
        let delay = backoff_delay(5, Duration::from_secs(2), Duration::from_secs(1), 0.7);
        assert_eq!(delay, Duration::from_secs(2), "never below the base");
    }

    #[tokio::test(start_paused = true)]
    async fn retries_n_means_n_attempts_after_the_first() {
        for (retries, attempts) in [(0, 1), (1, 2), (3, 4)] {
            let calls = AtomicU32::new(0);
            let error = retry(
                &policy(Some(retries), Duration::from_secs(600)),
                "GET x",
                "",
                |_| async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Step::<()>::Retry(Retryable::new("502 Bad Gateway"))
                },
            )
            .await
            .expect_err("never succeeds");
            assert_eq!(
                calls.load(Ordering::SeqCst),
                attempts,
                "--retries {retries}"
            );
            assert_eq!(kind_of(&error), Some(Kind::Remote));
            let message = error.to_string();
            assert!(
                message.contains(&format!(
                    "gave up after {}",
                    counted(attempts, "attempt", "attempts")
                )),
                "{message}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_budget_it_rides_out_an_outage_until_the_retry_deadline() {
        let started = Instant::now();
        let calls = &AtomicU32::new(0);
        let value = retry(
            &policy(None, Duration::from_secs(60)),
            "GET x",
            "",
            |attempt| async move {
                calls.fetch_add(1, Ordering::SeqCst);
                // A 20-second outage.
                if started.elapsed() < Duration::from_secs(20) {
                    Step::Retry(Retryable::new("502 Bad Gateway"))
                } else {
                    Step::Done(attempt.number)
                }
            },
        )
        .await
        .expect("the outage ends before the deadline");
        assert!(value > 3, "{value} attempts");
        assert!(started.elapsed() >= Duration::from_secs(20));
        assert!(started.elapsed() < Duration::from_secs(25));
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_that_never_answers_is_cut_and_the_call_ends_at_its_retry_deadline() {
        let started = Instant::now();
        let seen = std::sync::Mutex::new(Vec::new());
        let error = retry(
            &policy(None, Duration::from_secs(30)),
            "GET frozen",
            "is it up?",
            |attempt| {
                seen.lock().unwrap().push(attempt);
                std::future::pending::<Step<()>>()
            },
        )
        .await
        .expect_err("a frozen server never answers");
        assert_eq!(kind_of(&error), Some(Kind::Remote));
        assert!(
            started.elapsed() <= Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
        let seen = seen.lock().unwrap();
        assert!(seen.len() >= 2, "cut after 10s, then tried again: {seen:?}");
        assert!(
            seen[1].maybe_done,
            "an unanswered attempt may have taken effect"
        );
        assert!(error.to_string().contains("no answer within"), "{error}");
        assert!(error.to_string().contains("(is it up?)"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_overall_deadline_abandons_the_attempt_in_flight_with_exit_code_4() {
        let started = Instant::now();
        let mut policy = policy(None, Duration::from_secs(300));
        policy.attempt_timeout = Some(Duration::from_secs(60));
        policy.overall_deadline = Some(started + Duration::from_secs(5));
        let error = retry(&policy, "GET frozen", "", |_| {
            std::future::pending::<Step<()>>()
        })
        .await
        .expect_err("abandoned");
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(kind_of(&error), Some(Kind::Deadline));
        assert!(error.to_string().contains("abandoned"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_wait_is_honoured_and_one_past_the_deadline_gives_up_at_once() {
        let started = Instant::now();
        let calls = AtomicU32::new(0);
        let value = retry(
            &policy(Some(0), Duration::from_secs(60)),
            "GET x",
            "",
            |attempt| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if attempt.number == 1 {
                        Step::Retry(Retryable::new("429").waiting(Some(ServerWait {
                            wait: Duration::from_secs(7),
                            until: SystemTime::now() + Duration::from_secs(7),
                            rate_limited: true,
                        })))
                    } else {
                        Step::Done(attempt.server_waits)
                    }
                }
            },
        )
        .await
        .expect("a server wait does not use up --retries 0");
        assert_eq!(value, 1);
        assert_eq!(started.elapsed(), Duration::from_secs(7));

        let error = retry(
            &policy(None, Duration::from_secs(60)),
            "GET x",
            "",
            |_| async {
                Step::<()>::Retry(Retryable::new("403").waiting(Some(ServerWait {
                    wait: Duration::from_secs(3600),
                    until: SystemTime::now() + Duration::from_secs(3600),
                    rate_limited: true,
                })))
            },
        )
        .await
        .expect_err("an hour is past the deadline");
        assert!(error.to_string().contains("rate limited until"), "{error}");
        assert_eq!(started.elapsed(), Duration::from_secs(7), "no time wasted");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_step_stops_at_once_and_keeps_its_error() {
        let error = retry(
            &policy(None, Duration::from_secs(60)),
            "GET x",
            "",
            |_| async { Step::<()>::Fail(Error::refused("401 Unauthorized").into()) },
        )
        .await
        .expect_err("refused");
        assert_eq!(kind_of(&error), Some(Kind::Refused));
        assert_eq!(error.to_string(), "401 Unauthorized");
    }

    #[test]
    fn ending_by_keeps_the_earlier_deadline() {
        let now = Instant::now();
        let early = now + Duration::from_secs(1);
        let late = now + Duration::from_secs(9);
        let policy = RetryPolicy::default().ending_by(Some(late));
        assert_eq!(policy.overall_deadline, Some(late));
        assert_eq!(policy.ending_by(Some(early)).overall_deadline, Some(early));
        assert_eq!(policy.ending_by(None).overall_deadline, Some(late));
    }
}
