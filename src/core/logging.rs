//! Logging to stderr with `tracing`: plain text for people, JSON lines for log collectors.
//!
//! stdout is reserved for machine-readable output (a result, a reference), so every log line,
//! warning and progress message goes to stderr.

use std::str::FromStr;

use tracing::level_filters::LevelFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!(
                "unknown log format {text:?}: expected text or json"
            )),
        }
    }
}

/// How much to log: `--quiet` shows errors only, the default shows progress and warnings,
/// `--verbose` adds what each step does (requests, files, decisions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    pub verbose: bool,
    pub quiet: bool,
    pub format: LogFormat,
}

impl LogOptions {
    pub fn level(&self) -> LevelFilter {
        if self.quiet {
            LevelFilter::ERROR
        } else if self.verbose {
            LevelFilter::DEBUG
        } else {
            LevelFilter::INFO
        }
    }
}

/// Installs the global subscriber. Dependencies log only at warn and above, so `--verbose`
/// shows stepkit's own decisions rather than HTTP internals.
pub fn init(options: LogOptions) {
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(LevelFilter::WARN.min(options.level()))
        .with_target("stepkit", options.level())
        // octocrab logs every non-2xx answer as an ERROR, including the ones stepkit then retries
        // or expects (a 404 that means "not there yet"); stepkit reports what matters itself.
        .with_target("octocrab", LevelFilter::OFF);
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(options.level());
    // A second init (tests calling into the library) keeps the first subscriber.
    let _ = match options.format {
        LogFormat::Text => builder
            .with_target(false)
            .without_time()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .finish()
            .with_filter_layer(filter),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .finish()
            .with_filter_layer(filter),
    };
}

/// Small adapter so both subscriber flavours take the same filter and install the same way.
trait WithFilterLayer {
    fn with_filter_layer(
        self,
        filter: tracing_subscriber::filter::Targets,
    ) -> Result<(), tracing::subscriber::SetGlobalDefaultError>;
}

impl<S> WithFilterLayer for S
where
    S: tracing::Subscriber + Send + Sync + 'static,
    S: for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn with_filter_layer(
        self,
        filter: tracing_subscriber::filter::Targets,
    ) -> Result<(), tracing::subscriber::SetGlobalDefaultError> {
        use tracing_subscriber::layer::SubscriberExt;
        tracing::subscriber::set_global_default(self.with(filter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_wins_over_verbose() {
        let options = LogOptions {
            verbose: true,
            quiet: true,
            format: LogFormat::Text,
        };
        assert_eq!(options.level(), LevelFilter::ERROR);
        let verbose = LogOptions {
            quiet: false,
            ..options
        };
        assert_eq!(verbose.level(), LevelFilter::DEBUG);
    }

    #[test]
    fn parses_log_formats() {
        assert_eq!("JSON".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert!("xml"
            .parse::<LogFormat>()
            .unwrap_err()
            .contains("text or json"));
    }
}
