//! `--request-timeout`, `--retry-deadline` and `--retries`: how patient a command is with a
//! remote service. Every group that talks to one flattens this struct (as cargo's
//! `command_prelude` shares its flags), so the three flags mean the same everywhere; a group
//! only changes their defaults, with `mut_arg` on its own arguments struct.

use std::time::Duration;

use clap::Args;

use crate::core::duration::parse_duration;
use crate::core::http::HttpConfig;

#[derive(Debug, Clone, Args)]
pub struct RetryArgs {
    /// Time allowed for one attempt of a request
    #[arg(long, env = "STEPKIT_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub request_timeout: Duration,

    /// Time allowed for one request with all its retries and the pauses between them
    #[arg(long, env = "STEPKIT_RETRY_DEADLINE", default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub retry_deadline: Duration,

    /// Retries of a failed request after its first attempt, within --retry-deadline (0: none;
    /// unset: as many as the deadline allows). Waits a server asks for do not count
    #[arg(long, env = "STEPKIT_RETRIES", value_name = "N")]
    pub retries: Option<u32>,
}

impl RetryArgs {
    /// The HTTP client's timeouts and retry policy.
    pub fn http_config(&self) -> HttpConfig {
        HttpConfig {
            request_timeout: self.request_timeout,
            deadline: self.retry_deadline,
            retries: self.retries,
            ..HttpConfig::default()
        }
    }
}
