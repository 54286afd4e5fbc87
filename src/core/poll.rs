//! Waiting until something remote is ready: a check repeated at an interval (with jitter), bounded
//! by a deadline, stopped at once by SIGTERM or SIGINT, with progress shown while it waits.
//!
//! Both ways of stopping early are [`Kind::Deadline`] (exit 4): Tekton sends SIGTERM when a
//! Task's own timeout passes, so for the step it is the same event as our deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::core::error::{Error, Kind};
use crate::core::progress::{human_duration, Waiter};

/// A cloneable handle that says "stop now". Every clone sees the same cancellation.
#[derive(Clone, Debug)]
pub struct Cancel {
    /// `None` until cancelled; then why (e.g. "SIGTERM"). The first reason wins.
    reason: Arc<watch::Sender<Option<String>>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel::new()
    }
}

impl Cancel {
    /// A handle that is cancelled only by calling [`Cancel::cancel`].
    pub fn new() -> Cancel {
        Cancel {
            reason: Arc::new(watch::channel(None).0),
        }
    }

    /// A handle cancelled by the first SIGTERM or SIGINT the process receives.
    ///
    /// Installing the handlers replaces the default "terminate" action for the whole process, so
    /// a second signal exits at once (exit 4): a person pressing Ctrl-C twice is never ignored,
    /// even while the program is somewhere that does not watch this handle.
    ///
    /// Call it inside a Tokio runtime; outside one (or if the handlers cannot be installed) it
    /// logs a warning and returns a handle that only [`Cancel::cancel`] triggers.
    pub fn on_termination_signals() -> Cancel {
        use tokio::signal::unix::{signal, SignalKind};

        let cancel = Cancel::new();
        // `signal` needs a runtime; without one it would panic.
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::warn!("no async runtime: SIGTERM and SIGINT will not stop waits cleanly");
            return cancel;
        }
        // Registered here, before returning, so a signal sent right after this call is caught.
        let (mut terminate, mut interrupt) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(terminate), Ok(interrupt)) => (terminate, interrupt),
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!("cannot install SIGTERM/SIGINT handlers: {error}");
                return cancel;
            }
        };
        let handle = cancel.clone();
        tokio::spawn(async move {
            let mut received = 0u32;
            loop {
                let name = tokio::select! {
                    Some(()) = terminate.recv() => "SIGTERM",
                    Some(()) = interrupt.recv() => "SIGINT",
                    else => return,
                };
                received += 1;
                if received > 1 {
                    tracing::warn!("{name} again: exiting now");
                    std::process::exit(i32::from(Kind::Deadline.exit_code()));
                }
                tracing::warn!("{name} received: stopping (send it again to exit at once)");
                handle.cancel_because(name);
            }
        });
        cancel
    }

    /// Cancels with a generic reason.
    pub fn cancel(&self) {
        self.cancel_because("a cancellation request");
    }

    /// Cancels, recording why (e.g. "SIGTERM"); a later reason does not replace the first.
    pub fn cancel_because(&self, reason: &str) {
        self.reason.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(reason.to_owned());
            true
        });
    }

    pub fn is_cancelled(&self) -> bool {
        self.reason.borrow().is_some()
    }

    /// Why it was cancelled ("SIGTERM", "SIGINT", ...), or `None` while it is not.
    pub fn reason(&self) -> Option<String> {
        self.reason.borrow().clone()
    }

    /// Completes when cancelled (at once if it already is).
    pub async fn cancelled(&self) {
        let mut receiver = self.reason.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail; if it somehow did, never
        // completing is the safe answer ("not cancelled").
        if receiver.wait_for(Option::is_some).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// How to poll.
#[derive(Debug, Clone)]
pub struct PollOptions {
    /// Time between checks, before jitter.
    pub interval: Duration,
    /// Fraction of `interval` by which each pause may randomly be shorter or longer (0.1 = ±10%),
    /// so many steps polling one service do not hit it in lockstep.
    pub jitter: f64,
    /// How long to wait in total before giving up.
    pub timeout: Duration,
    /// What is being waited for, for progress and errors (e.g. "Prow job periodic-e2e").
    pub what: String,
}

impl PollOptions {
    /// Options with the default jitter of 10%.
    pub fn new(what: impl Into<String>, interval: Duration, timeout: Duration) -> PollOptions {
        PollOptions {
            interval,
            jitter: 0.1,
            timeout,
            what: what.into(),
        }
    }
}

/// The answer of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll<T> {
    /// Done, with the value waited for.
    Ready(T),
    /// Not yet; a short description of the current state for progress (e.g. "state PENDING").
    Pending(String),
}

/// The pause before the next check: `interval` moved by up to `jitter` (a fraction, clamped to
/// 0..=1) in either direction. `unit_random` is a random number in 0..1.
pub fn jittered_interval(interval: Duration, jitter: f64, unit_random: f64) -> Duration {
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let unit_random = if unit_random.is_finite() {
        unit_random.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let factor = 1.0 + jitter * (2.0 * unit_random - 1.0);
    interval.mul_f64(factor.max(0.0))
}

/// Calls `check` now and then every `options.interval` (± jitter) until it is ready, it fails,
/// the timeout passes, or `cancel` fires. The deadline is absolute: a check still running then
/// (a request to a frozen server, its retries) is abandoned, not awaited.
///
/// A timeout or a cancellation is a [`Kind::Deadline`] error naming what was awaited and the
/// last state seen; an error from `check` is returned as it is.
pub async fn poll_until<T, F, Fut>(
    options: &PollOptions,
    cancel: &Cancel,
    mut check: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Poll<T>>>,
{
    let deadline = Instant::now() + options.timeout;
    let what = &options.what;
    let mut waiter = Waiter::new(what);
    let mut last_state = String::from("not checked yet");

    let stopped = |waiter: Waiter, cancel: &Cancel, last_state: &str| {
        let reason = cancel
            .reason()
            .unwrap_or_else(|| "a cancellation request".to_owned());
        waiter.finish(&format!("stopped by {reason}"));
        anyhow::Error::new(Error::deadline(format!(
            "stopped by {reason} while waiting for {what}; last state: {last_state}"
        )))
    };

    let timed_out = |waiter: Waiter, last_state: &str| {
        waiter.finish("timed out");
        anyhow::Error::new(Error::deadline(format!(
            "timed out after {} waiting for {what}; last state: {last_state}",
            human_duration(options.timeout)
        )))
    };

    loop {
        if cancel.is_cancelled() {
            return Err(stopped(waiter, cancel, &last_state));
        }
        // A check may be a slow HTTP call: neither a signal nor the deadline waits for it.
        let answer = tokio::select! {
            answer = check() => answer,
            () = cancel.cancelled() => return Err(stopped(waiter, cancel, &last_state)),
            () = tokio::time::sleep_until(deadline) => {
                let state = format!("{last_state} (a check was still running, and was abandoned)");
                return Err(timed_out(waiter, &state));
            }
        };
        match answer {
            Ok(Poll::Ready(value)) => {
                waiter.finish("ready");
                return Ok(value);
            }
            Ok(Poll::Pending(state)) => {
                waiter.set_state(&state);
                last_state = state;
            }
            Err(error) => {
                waiter.finish("failed");
                return Err(error);
            }
        }

        let now = Instant::now();
        let pause = jittered_interval(options.interval, options.jitter, fastrand::f64());
        let wake = now + pause;
        if wake >= deadline {
            // No check could finish in time: wait out the deadline, then say so.
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = cancel.cancelled() => return Err(stopped(waiter, cancel, &last_state)),
            }
            return Err(timed_out(waiter, &last_state));
        }
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = cancel.cancelled() => return Err(stopped(waiter, cancel, &last_state)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::kind_of;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn options(interval: Duration, timeout: Duration) -> PollOptions {
        PollOptions::new("the test job", interval, timeout)
    }

    #[tokio::test(start_paused = true)]
    async fn returns_the_value_of_the_third_check_after_two_intervals() {
        let checks = AtomicU32::new(0);
        let started = Instant::now();
        let opts = options(Duration::from_secs(10), Duration::from_secs(600));
        let value = poll_until(&opts, &Cancel::new(), || async {
            let n = checks.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(if n == 3 {
                Poll::Ready("done")
            } else {
                Poll::Pending(format!("check {n}"))
            })
        })
        .await
        .expect("ready on the third check");
        assert_eq!(value, "done");
        assert_eq!(checks.load(Ordering::SeqCst), 3);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(18) && waited <= Duration::from_secs(22),
            "two intervals of 10s ± 10%: {waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_at_the_deadline_with_the_last_state_and_exit_code_4() {
        let checks = AtomicU32::new(0);
        let started = Instant::now();
        let opts = options(Duration::from_secs(60), Duration::from_secs(600));
        let error = poll_until(&opts, &Cancel::new(), || async {
            checks.fetch_add(1, Ordering::SeqCst);
            Ok(Poll::<()>::Pending("state PENDING".into()))
        })
        .await
        .expect_err("never ready");
        assert_eq!(kind_of(&error), Some(Kind::Deadline));
        assert_eq!(crate::core::error::exit_code(&error), 4);
        assert_eq!(
            error.to_string(),
            "timed out after 10m waiting for the test job; last state: state PENDING"
        );
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(600),
            "it ends at the deadline"
        );
        assert!(
            checks.load(Ordering::SeqCst) >= 9,
            "checked about every minute"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_still_running_at_the_deadline_is_abandoned() {
        let started = Instant::now();
        let opts = options(Duration::from_secs(1), Duration::from_secs(5));
        let error = poll_until(&opts, &Cancel::new(), || async {
            // A request to a frozen server, retried for five minutes.
            tokio::time::sleep(Duration::from_secs(300)).await;
            Ok(Poll::<()>::Pending("state PENDING".into()))
        })
        .await
        .expect_err("the deadline comes first");
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(crate::core::error::exit_code(&error), 4);
        assert!(
            error.to_string().starts_with("timed out after 5s"),
            "{error}"
        );
        assert!(error.to_string().contains("abandoned"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_manual_cancel_stops_the_wait_at_once_with_exit_code_4() {
        let cancel = Cancel::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            trigger.cancel();
        });
        let started = Instant::now();
        let opts = options(Duration::from_secs(60), Duration::from_secs(3600));
        let error = poll_until(&opts, &cancel, || async {
            Ok(Poll::<()>::Pending("state RUNNING".into()))
        })
        .await
        .expect_err("cancelled");
        assert_eq!(crate::core::error::exit_code(&error), 4);
        let message = error.to_string();
        assert!(message.starts_with("stopped by"), "{message}");
        assert!(message.contains("the test job"), "{message}");
        assert!(message.contains("last state: state RUNNING"), "{message}");
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(5),
            "it stopped mid-sleep, not at the next check"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancel_interrupts_a_slow_check() {
        let cancel = Cancel::new();
        cancel.cancel_because("SIGTERM");
        cancel.cancel_because("SIGINT");
        assert_eq!(
            cancel.reason().as_deref(),
            Some("SIGTERM"),
            "the first reason wins"
        );
        let opts = options(Duration::from_secs(1), Duration::from_secs(60));
        let error = poll_until(&opts, &cancel, || async {
            std::future::pending::<anyhow::Result<Poll<()>>>().await
        })
        .await
        .expect_err("cancelled");
        assert!(error.to_string().contains("stopped by SIGTERM"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_from_the_check_is_returned_unchanged() {
        let opts = options(Duration::from_secs(1), Duration::from_secs(60));
        let error = poll_until(&opts, &Cancel::new(), || async {
            Err::<Poll<()>, _>(anyhow::Error::new(Error::refused("job not found")))
        })
        .await
        .expect_err("the check failed");
        assert_eq!(kind_of(&error), Some(Kind::Refused));
        assert_eq!(error.to_string(), "job not found");
    }

    #[test]
    fn jitter_stays_within_its_fraction_of_the_interval() {
        let interval = Duration::from_secs(10);
        assert_eq!(
            jittered_interval(interval, 0.1, 0.0),
            Duration::from_secs(9)
        );
        assert_eq!(jittered_interval(interval, 0.1, 0.5), interval);
        assert_eq!(
            jittered_interval(interval, 0.1, 1.0),
            Duration::from_secs(11)
        );
        for _ in 0..1000 {
            let pause = jittered_interval(interval, 0.1, fastrand::f64());
            assert!(
                pause >= Duration::from_secs(9) && pause <= Duration::from_secs(11),
                "{pause:?}"
            );
        }
        // Out-of-range inputs are clamped rather than producing a negative or huge pause.
        assert_eq!(jittered_interval(interval, 5.0, 0.0), Duration::ZERO);
        assert_eq!(jittered_interval(interval, -1.0, 1.0), interval);
        assert_eq!(jittered_interval(interval, f64::NAN, 1.0), interval);
    }

    #[test]
    fn cancel_reports_its_state() {
        let cancel = Cancel::new();
        assert!(!cancel.is_cancelled());
        assert_eq!(cancel.reason(), None);
        cancel.clone().cancel();
        assert!(cancel.is_cancelled(), "clones share the cancellation");
        assert!(cancel.reason().is_some());
    }
}
