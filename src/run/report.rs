//! What a run tells people: a line per Task and step state change and every log line prefixed
//! with `task/step` on stderr (secret values a step was given are masked), and at the end a
//! table of Tasks (status, duration, results) or the same as JSON on stdout. On a terminal each
//! running TaskRun and step also has a spinner with its elapsed time below the lines (indicatif,
//! as `core::progress` shows waits); in a pod there are only the lines.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value as Json};

use super::params::ParamValue;
use crate::core::progress::human_duration;

/// Where progress and logs go; cheap to clone, shared by every task of a run.
#[derive(Clone, Default)]
pub struct Reporter {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    quiet: bool,
    secrets: Mutex<Vec<String>>,
    /// On a terminal: the bars, and the spinner of each running TaskRun or step.
    bars: Option<(MultiProgress, Mutex<BTreeMap<String, ProgressBar>>)>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some((_, running)) = &self.bars {
            let running = running.lock().unwrap_or_else(|e| e.into_inner());
            for bar in running.values() {
                bar.finish_and_clear();
            }
        }
    }
}

impl Reporter {
    /// Lines on stderr, with spinners when stderr is a terminal; nothing when `quiet`.
    pub fn new(quiet: bool) -> Reporter {
        let terminal = !quiet && std::io::stderr().is_terminal();
        Reporter::with_target(quiet, terminal.then(ProgressDrawTarget::stderr))
    }

    /// Lines and, with a draw target, spinners drawn there.
    pub fn with_target(quiet: bool, target: Option<ProgressDrawTarget>) -> Reporter {
        Reporter {
            inner: Arc::new(Inner {
                quiet,
                secrets: Mutex::default(),
                bars: target.map(|t| (MultiProgress::with_draw_target(t), Mutex::default())),
            }),
        }
    }

    /// A value that must never be printed (a Secret's data given to a step).
    pub fn add_secret(&self, value: &str) {
        if value.len() >= 4 {
            let mut secrets = self.inner.secrets.lock().unwrap_or_else(|e| e.into_inner());
            if !secrets.iter().any(|s| s == value) {
                secrets.push(value.to_string());
            }
        }
    }

    /// Masks every known secret in `text`.
    pub fn mask(&self, text: &str) -> String {
        let secrets = self.inner.secrets.lock().unwrap_or_else(|e| e.into_inner());
        let values: Vec<&str> = secrets.iter().map(String::as_str).collect();
        crate::core::secret::redact_values(text, &values)
    }

    /// `what` started (a TaskRun, a step, the PipelineRun): its line, and on a terminal a
    /// spinner until its next state.
    pub fn start(&self, what: &str, state: &str) {
        self.state(what, state);
        if let (false, Some((multi, running))) = (self.inner.quiet, &self.inner.bars) {
            let spinner = ProgressBar::hidden();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix}: {msg} {elapsed}") {
                spinner.set_style(style);
            }
            spinner.set_prefix(what.to_string());
            spinner.set_message("running");
            let spinner = multi.add(spinner);
            spinner.enable_steady_tick(Duration::from_millis(120));
            let mut running = running.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = running.insert(what.to_string(), spinner) {
                old.finish_and_clear();
            }
        }
    }

    /// A state change: `build/compile: succeeded in 0.3s`; it ends the spinner of `what`.
    pub fn state(&self, what: &str, state: &str) {
        if let Some((_, running)) = &self.inner.bars {
            let ended = running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(what);
            if let Some(spinner) = ended {
                spinner.finish_and_clear();
            }
        }
        if !self.inner.quiet {
            self.print(&format!("{what}: {state}"));
        }
    }

    /// One line a step or sidecar printed.
    pub fn log(&self, label: &str, line: &str) {
        if !self.inner.quiet {
            let line = line.strip_suffix('\r').unwrap_or(line);
            self.print(&format!("{label} | {line}"));
        }
    }

    fn print(&self, line: &str) {
        let masked = self.mask(line);
        match &self.inner.bars {
            // Above the spinners, which are drawn again below it.
            Some((multi, _)) => {
                let _ = multi.println(masked);
            }
            None => {
                let mut stderr = std::io::stderr().lock();
                let _ = writeln!(stderr, "{masked}");
            }
        }
    }
}

/// How a Task, step or run ended, in Tekton's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed,
    /// Failed, but `onError: continue` let the Pipeline go on.
    FailureIgnored,
    Skipped,
    TimedOut,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "Succeeded",
            Status::Failed => "Failed",
            Status::FailureIgnored => "FailureIgnored",
            Status::Skipped => "Skipped",
            Status::TimedOut => "TimedOut",
            Status::Cancelled => "Cancelled",
        }
    }

    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::TimedOut | Status::Cancelled)
    }
}

/// One step's end.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub name: String,
    pub status: Status,
    pub exit_code: Option<i32>,
    pub duration: Duration,
}

/// One Pipeline task (or the single Task of a TaskRun), as the table shows it.
#[derive(Debug, Clone)]
pub struct TaskReport {
    pub name: String,
    /// The TaskRuns it ran (several for a matrix, the last attempt of each).
    pub task_runs: Vec<String>,
    pub status: Status,
    pub reason: String,
    pub message: String,
    pub duration: Option<Duration>,
    pub results: BTreeMap<String, ParamValue>,
    pub steps: Vec<StepReport>,
    pub attempts: usize,
}

/// The whole run's end.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub kind: &'static str,
    pub name: String,
    pub status: Status,
    pub message: String,
    pub duration: Duration,
    pub tasks: Vec<TaskReport>,
    pub results: BTreeMap<String, ParamValue>,
}

fn short(value: &ParamValue) -> String {
    let text = match value {
        ParamValue::String(s) => s.trim_end().to_string(),
        other => other.to_file_text(),
    };
    let mut shown: String = text
        .chars()
        .take(40)
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    if shown.chars().count() < text.chars().count() {
        shown.push('…');
    }
    shown
}

fn results_cell(results: &BTreeMap<String, ParamValue>) -> String {
    results
        .iter()
        .map(|(name, value)| format!("{name}={}", short(value)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RunReport {
    /// The table people read.
    pub fn table(&self, reporter: &Reporter) -> String {
        let rows: Vec<[String; 4]> = self
            .tasks
            .iter()
            .map(|task| {
                let duration = task.duration.map_or("-".to_string(), human_duration);
                let mut status = task.status.as_str().to_string();
                if task.attempts > 1 {
                    status.push_str(&format!(" ({} attempts)", task.attempts));
                }
                let detail = if task.results.is_empty() && task.status != Status::Succeeded {
                    task.reason.clone()
                } else {
                    results_cell(&task.results)
                };
                [task.name.clone(), status, duration, detail]
            })
            .collect();
        let header = ["TASK", "STATUS", "DURATION", "RESULTS"].map(str::to_string);
        let widths: Vec<usize> = (0..3)
            .map(|i| {
                rows.iter()
                    .chain(std::iter::once(&header))
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(rows.iter()) {
            let line = format!(
                "{:w0$}  {:w1$}  {:w2$}  {}",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push_str(&format!(
            "{} {}: {} in {}",
            self.kind,
            self.name,
            self.status.as_str(),
            human_duration(self.duration)
        ));
        if !self.message.is_empty() {
            out.push_str(&format!(" ({})", self.message));
        }
        out.push('\n');
        if !self.results.is_empty() {
            out.push_str(&format!("results: {}\n", results_cell(&self.results)));
        }
        reporter.mask(&out)
    }

    pub fn to_json(&self) -> Json {
        let results = |r: &BTreeMap<String, ParamValue>| -> Json {
            r.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()
        };
        json!({
            "kind": self.kind,
            "name": self.name,
            "status": self.status.as_str(),
            "message": self.message,
            "durationMs": self.duration.as_millis() as u64,
            "results": results(&self.results),
            "tasks": self.tasks.iter().map(|t| json!({
                "name": t.name,
                "taskRuns": t.task_runs,
                "status": t.status.as_str(),
                "reason": t.reason,
                "message": t.message,
                "attempts": t.attempts,
                "durationMs": t.duration.map(|d| d.as_millis() as u64),
                "results": results(&t.results),
                "steps": t.steps.iter().map(|s| json!({
                    "name": s.name,
                    "status": s.status.as_str(),
                    "exitCode": s.exit_code,
                    "durationMs": s.duration.as_millis() as u64,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A terminal that keeps everything written to it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            80
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(&format!("{s}\n"));
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_terminal_shows_a_spinner_per_running_step_below_the_lines() {
        let screen = Screen::default();
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        let reporter = Reporter::with_target(false, Some(target));
        reporter.add_secret("hunter22");
        reporter.start("build/compile", "started");
        reporter.log("build/compile", "token hunter22");
        std::thread::sleep(Duration::from_millis(300));
        let running = screen.0.lock().unwrap().clone();
        assert!(running.contains("build/compile: started"), "{running}");
        assert!(
            running.contains("build/compile | token [redacted]"),
            "{running}"
        );
        assert!(running.contains("build/compile: running"), "{running}");
        assert!(!running.contains("hunter22"), "{running}");

        reporter.state("build/compile", "succeeded in 1s");
        let bars = reporter.inner.bars.as_ref().unwrap();
        assert!(bars.1.lock().unwrap().is_empty(), "the spinner ended");
        assert!(screen
            .0
            .lock()
            .unwrap()
            .contains("build/compile: succeeded in 1s"));
    }
}
