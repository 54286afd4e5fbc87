//! The `stepkit` binary: parse the command line, set up logging, run, and turn the outcome into
//! an exit code. Everything else lives in the library.

use std::process::ExitCode;

use stepkit::cli::{self, Cli};
use stepkit::core::{error, logging, progress};

fn main() -> ExitCode {
    let cli = Cli::parse_with_env();
    logging::init(cli.global.log_options());
    progress::set_enabled(!cli.global.quiet);
    match cli::run(cli) {
        Ok(verdict) => ExitCode::from(verdict.exit_code()),
        Err(err) => {
            // One place decides how errors look: the whole context chain, outermost first.
            tracing::error!("{err:#}");
            ExitCode::from(error::exit_code(&err))
        }
    }
}
