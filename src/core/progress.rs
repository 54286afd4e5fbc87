//! Progress for people and for pods.
//!
//! At a terminal (stderr is a TTY) waits show an `indicatif` spinner and transfers a byte bar. In a
//! pod nobody watches a spinner and the log keeps every redraw, so there progress is plain
//! `tracing::info!` lines: one per state change, or one every [`PLAIN_LOG_INTERVAL`] at most while
//! nothing changes. `--quiet` turns all of it off through [`set_enabled`].

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The longest a plain (non-TTY) progress reporter stays silent while the state does not change.
pub const PLAIN_LOG_INTERVAL: Duration = Duration::from_secs(30);

/// How often a spinner redraws itself on a terminal.
const SPINNER_TICK: Duration = Duration::from_millis(120);

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns all progress output on or off for the whole process (`--quiet` turns it off).
/// Errors and results are not progress: they are printed either way.
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether progress output is on (see [`set_enabled`]).
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Not at all (`--quiet`).
    Hidden,
    /// Spinners and bars redrawn in place on a terminal.
    Terminal,
    /// Log lines, throttled, for pods and CI logs.
    Plain,
}

impl Mode {
    /// The mode for this process: from the `--quiet` switch and whether stderr is a terminal.
    pub fn current() -> Mode {
        Mode::choose(is_enabled(), std::io::stderr().is_terminal())
    }

    /// The mode for the given switch and terminal state.
    pub fn choose(enabled: bool, stderr_is_terminal: bool) -> Mode {
        match (enabled, stderr_is_terminal) {
            (false, _) => Mode::Hidden,
            (true, true) => Mode::Terminal,
            (true, false) => Mode::Plain,
        }
    }
}

/// Decides when a plain progress line is worth printing: whenever the state changes, and
/// otherwise at most once per interval. Takes the time as an argument so it is testable.
#[derive(Debug, Clone)]
pub struct LogThrottle {
    interval: Duration,
    last: Option<(String, Instant)>,
}

impl LogThrottle {
    pub fn new(interval: Duration) -> LogThrottle {
        LogThrottle {
            interval,
            last: None,
        }
    }

    /// Whether to print `state` at `now`; if so, remembers it as the last printed line.
    pub fn should_log(&mut self, state: &str, now: Instant) -> bool {
        let due = match &self.last {
            None => true,
            Some((last_state, _)) if last_state != state => true,
            Some((_, last_at)) => now.saturating_duration_since(*last_at) >= self.interval,
        };
        if due {
            self.last = Some((state.to_owned(), now));
        }
        due
    }
}

/// Formats a duration the way people write it: `300ms`, `1.5s`, `45s`, `1m30s`, `10m`, `2h5m`.
pub fn human_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        return format!("{}ms", duration.as_millis());
    }
    let tenths = (duration.as_millis() + 50) / 100;
    if tenths < 600 {
        return if tenths % 10 == 0 {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        };
    }
    let total = (duration.as_millis() + 500) / 1000;
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    let mut text = String::new();
    for (value, unit) in [(hours, "h"), (minutes, "m"), (seconds, "s")] {
        if value > 0 {
            text.push_str(&format!("{value}{unit}"));
        }
    }
    text
}

enum Output {
    Hidden,
    Bar(ProgressBar),
    Plain(LogThrottle),
}

fn terminal_bar(len: Option<u64>, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    // The templates are constants; a bad one would show in every test run, not in a pod.
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Progress of a wait for something remote (a job to finish, an approval to arrive).
pub struct Waiter {
    what: String,
    started: Instant,
    output: Output,
}

impl Waiter {
    /// Starts showing a wait for `what` (e.g. "Prow job periodic-e2e").
    pub fn new(what: &str) -> Waiter {
        let output = match Mode::current() {
            Mode::Hidden => Output::Hidden,
            Mode::Terminal => {
                let spinner = terminal_bar(None, "{spinner} {msg} ({elapsed})");
                spinner.set_message(format!("waiting for {what}"));
                spinner.enable_steady_tick(SPINNER_TICK);
                Output::Bar(spinner)
            }
            Mode::Plain => {
                tracing::info!("waiting for {what}");
                Output::Plain(LogThrottle::new(PLAIN_LOG_INTERVAL))
            }
        };
        Waiter {
            what: what.to_owned(),
            started: Instant::now(),
            output,
        }
    }

    /// Reports the current state (e.g. "state PENDING"); printed in a pod only when it changed
    /// or when the last line is [`PLAIN_LOG_INTERVAL`] old.
    pub fn set_state(&mut self, state: &str) {
        match &mut self.output {
            Output::Hidden => {}
            Output::Bar(spinner) => spinner.set_message(format!("{}: {state}", self.what)),
            Output::Plain(throttle) => {
                if throttle.should_log(state, Instant::now()) {
                    tracing::info!(
                        "waiting for {}: {state} ({} so far)",
                        self.what,
                        human_duration(self.started.elapsed())
                    );
                }
            }
        }
    }

    /// Ends the wait with a closing line (e.g. "succeeded", "timed out").
    pub fn finish(self, message: &str) {
        let elapsed = human_duration(self.started.elapsed());
        match &self.output {
            Output::Hidden => {}
            Output::Bar(spinner) => {
                spinner.finish_with_message(format!("{}: {message} after {elapsed}", self.what))
            }
            Output::Plain(_) => tracing::info!("{}: {message} after {elapsed}", self.what),
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        // A wait abandoned by an error or a panic must not leave a spinner ticking on the screen.
        if let Output::Bar(spinner) = &self.output {
            if !spinner.is_finished() {
                spinner.finish_and_clear();
            }
        }
    }
}

/// Progress of moving bytes (pushing or pulling a workspace).
pub struct Transfer {
    what: String,
    total: Option<u64>,
    done: u64,
    started: Instant,
    output: Output,
}

impl Transfer {
    /// Starts showing a transfer of `total` bytes (when known) described by `what`.
    pub fn new(what: &str, total: Option<u64>) -> Transfer {
        let started = Instant::now();
        let output = match Mode::current() {
            Mode::Hidden => Output::Hidden,
            Mode::Terminal => {
                let template = if total.is_some() {
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {percent}% {bytes_per_sec} eta {eta}"
                } else {
                    "{spinner} {msg} {bytes} {bytes_per_sec}"
                };
                let bar = terminal_bar(total, template);
                bar.set_message(what.to_owned());
                if total.is_none() {
                    bar.enable_steady_tick(SPINNER_TICK);
                }
                Output::Bar(bar)
            }
            Mode::Plain => {
                let size =
                    total.map_or_else(|| "size unknown".to_owned(), |t| HumanBytes(t).to_string());
                tracing::info!("{what}: started ({size})");
                let mut throttle = LogThrottle::new(PLAIN_LOG_INTERVAL);
                // The "started" line counts: the next one is due an interval later.
                throttle.should_log("", started);
                Output::Plain(throttle)
            }
        };
        Transfer {
            what: what.to_owned(),
            total,
            done: 0,
            started,
            output,
        }
    }

    /// Counts `bytes` more as transferred.
    pub fn inc(&mut self, bytes: u64) {
        self.done = self.done.saturating_add(bytes);
        match &mut self.output {
            Output::Hidden => {}
            Output::Bar(bar) => bar.inc(bytes),
            Output::Plain(throttle) => {
                if throttle.should_log("", Instant::now()) {
                    tracing::info!("{}: {}", self.what, plain_amount(self.done, self.total));
                }
            }
        }
    }

    /// Bytes counted so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Ends the transfer with a closing line.
    pub fn finish(self) {
        let elapsed = human_duration(self.started.elapsed());
        match &self.output {
            Output::Hidden => {}
            Output::Bar(bar) => bar.finish_with_message(format!("{} done in {elapsed}", self.what)),
            Output::Plain(_) => {
                tracing::info!(
                    "{}: done, {} in {elapsed}",
                    self.what,
                    HumanBytes(self.done)
                )
            }
        }
    }
}

/// A plain progress line's amount: `12.00 MiB of 48.00 MiB (25%)`, or the bytes alone without
/// a total. The percentage stops at 100 should a total prove an underestimate.
fn plain_amount(done: u64, total: Option<u64>) -> String {
    match total {
        Some(total) => {
            let percent = (u128::from(done) * 100 / u128::from(total.max(1))).min(100);
            format!("{} of {} ({percent}%)", HumanBytes(done), HumanBytes(total))
        }
        None => HumanBytes(done).to_string(),
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        if let Output::Bar(bar) = &self.output {
            if !bar.is_finished() {
                bar.finish_and_clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_prints_a_new_state_at_once() {
        let start = Instant::now();
        let mut throttle = LogThrottle::new(PLAIN_LOG_INTERVAL);
        assert!(
            throttle.should_log("state PENDING", start),
            "the first state"
        );
        assert!(
            throttle.should_log("state RUNNING", start + Duration::from_secs(1)),
            "a changed state, one second later"
        );
    }

    #[test]
    fn throttle_holds_back_an_unchanged_state_until_the_interval_passed() {
        let start = Instant::now();
        let mut throttle = LogThrottle::new(PLAIN_LOG_INTERVAL);
        assert!(throttle.should_log("state PENDING", start));
        assert!(!throttle.should_log("state PENDING", start + Duration::from_secs(29)));
        assert!(throttle.should_log("state PENDING", start + Duration::from_secs(30)));
        // The interval counts from the last printed line, not from the first one.
        assert!(!throttle.should_log("state PENDING", start + Duration::from_secs(45)));
        assert!(throttle.should_log("state PENDING", start + Duration::from_secs(60)));
    }

    #[test]
    fn throttle_treats_a_return_to_an_earlier_state_as_a_change() {
        let start = Instant::now();
        let mut throttle = LogThrottle::new(PLAIN_LOG_INTERVAL);
        assert!(throttle.should_log("A", start));
        assert!(throttle.should_log("B", start));
        assert!(throttle.should_log("A", start));
    }

    #[test]
    fn mode_follows_the_quiet_switch_and_the_terminal() {
        assert_eq!(Mode::choose(false, true), Mode::Hidden);
        assert_eq!(Mode::choose(false, false), Mode::Hidden);
        assert_eq!(Mode::choose(true, true), Mode::Terminal);
        assert_eq!(Mode::choose(true, false), Mode::Plain);
    }

    #[test]
    fn durations_read_the_way_people_write_them() {
        assert_eq!(human_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human_duration(Duration::from_secs(2)), "2s");
        assert_eq!(human_duration(Duration::from_secs(45)), "45s");
        assert_eq!(human_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(human_duration(Duration::from_secs(600)), "10m");
        assert_eq!(human_duration(Duration::from_secs(3600 + 300)), "1h5m");
        assert_eq!(human_duration(Duration::from_secs(3600 + 5)), "1h5s");
    }

    #[test]
    fn plain_lines_give_the_amount_the_total_and_the_percentage() {
        assert_eq!(
            plain_amount(12 << 20, Some(48 << 20)),
            "12.00 MiB of 48.00 MiB (25%)"
        );
        assert_eq!(plain_amount(0, Some(0)), "0 B of 0 B (0%)");
        assert_eq!(plain_amount(300, Some(200)), "300 B of 200 B (100%)");
        assert_eq!(plain_amount(1536, None), "1.50 KiB");
    }

    #[test]
    fn transfer_counts_bytes_whatever_the_output() {
        let mut transfer = Transfer::new("pushing workspace", Some(10));
        transfer.inc(4);
        transfer.inc(6);
        assert_eq!(transfer.done(), 10);
        transfer.finish();
    }
}
