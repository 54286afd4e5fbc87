//! `stepkit result emit | validate`.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Subcommand};

use super::{print_line, print_message, GlobalArgs};
use crate::core::error::{Error, Verdict};
use crate::core::tekton::{self, Budget, ResultsFrom};
use crate::core::timestamp::TimestampFormat;
use crate::result::convert::{InputKind, SarifMode};
use crate::result::emit::{processed_image, EmitOptions, FailOn, Input, OnEmpty, OutputPaths};
use crate::result::test_output::{Document, Outcome};

#[derive(Debug, Subcommand)]
pub enum ResultCommand {
    /// Write TEST_OUTPUT (and SCAN_OUTPUT, IMAGES_PROCESSED) from counts or tool output
    #[command(after_help = EMIT_EXAMPLES)]
    Emit(Box<EmitArgs>),
    /// Check a TEST_OUTPUT-like JSON document and list every problem with its JSON path
    Validate(ValidateArgs),
}

const EMIT_EXAMPLES: &str = "\
Examples:
  stepkit result emit --failures 2 --note 'two policies failed'
  conftest test -o json image.json | stepkit result emit --from conftest -
  stepkit result emit --from sarif snyk.sarif --from junit report.xml --fail-on failure
  stepkit result emit --from clair quay-report.json --image-url quay.io/org/app --image-digest sha256:…
  stepkit result emit --from conftest out.json --legacy-alias --detail-file /workspace/policy_output.json

Exit codes: 0 written (whatever the result, ADR 14), 1 written and the result is in --fail-on,
2 bad usage (or a bad input with --strict-input, after writing an ERROR result), 6 cannot write
or the result does not fit Tekton's size budget (nothing written).";

#[derive(Debug, Args)]
pub struct EmitArgs {
    /// SUCCESS, FAILURE, WARNING, SKIPPED or ERROR [default: derived from the counts]
    #[arg(long, env = "STEPKIT_RESULT", value_name = "RESULT")]
    result: Option<Outcome>,

    /// Number of passed checks
    #[arg(
        long,
        env = "STEPKIT_SUCCESSES",
        value_name = "N",
        allow_negative_numbers = true
    )]
    successes: Option<u64>,

    /// Number of failed checks
    #[arg(
        long,
        env = "STEPKIT_FAILURES",
        value_name = "N",
        allow_negative_numbers = true
    )]
    failures: Option<u64>,

    /// Number of checks that passed with a warning
    #[arg(
        long,
        env = "STEPKIT_WARNINGS",
        value_name = "N",
        allow_negative_numbers = true
    )]
    warnings: Option<u64>,

    /// Note shown in the integration test report [default: a summary of the inputs]
    #[arg(long, env = "STEPKIT_NOTE")]
    note: Option<String>,

    /// Policy namespace [default: the inputs' namespace, else "default"]
    #[arg(long, env = "STEPKIT_NAMESPACE")]
    namespace: Option<String>,

    /// Summarize a tool's output: KIND FILE or KIND=FILE, KIND one of conftest, sarif, junit,
    /// clair, appstudio; FILE '-' reads stdin. Repeatable; inputs are added up.
    #[arg(
        long = "from",
        env = "STEPKIT_FROM",
        value_name = "KIND FILE",
        num_args = 1..=2,
        value_delimiter = ','
    )]
    from: Vec<String>,

    /// SARIF counting: konflux (every result is a failure, as konflux-test does) or levels
    /// (error = failure, warning and note = warning, suppressed results ignored)
    #[arg(
        long,
        env = "STEPKIT_SARIF_MODE",
        default_value = "konflux",
        value_name = "MODE"
    )]
    sarif_mode: SarifMode,

    /// Result for an input with no checks at all: success, skipped or error
    #[arg(
        long,
        env = "STEPKIT_ON_EMPTY",
        default_value = "success",
        value_name = "RESULT"
    )]
    on_empty: OnEmpty,

    /// Write a --result that contradicts the counts (SUCCESS with failures, say)
    #[arg(long, env = "STEPKIT_ALLOW_INCONSISTENT", value_parser = BoolishValueParser::new())]
    allow_inconsistent: bool,

    /// rfc3339 (ADR 30) or epoch (10 digits, ADR 13)
    #[arg(
        long,
        env = "STEPKIT_TIMESTAMP_FORMAT",
        default_value = "rfc3339",
        value_name = "FORMAT"
    )]
    timestamp_format: TimestampFormat,

    /// Use this timestamp instead of the current time
    #[arg(long, env = "STEPKIT_TIMESTAMP", value_name = "TIME")]
    timestamp: Option<String>,

    /// Image the task processed; writes IMAGES_PROCESSED with the --image-digest values
    #[arg(long, env = "STEPKIT_IMAGE_URL", value_name = "PULLSPEC")]
    image_url: Option<String>,

    /// Digest of the image (or of each of its platform manifests); repeatable
    #[arg(
        long,
        env = "STEPKIT_IMAGE_DIGEST",
        value_name = "DIGEST",
        value_delimiter = ','
    )]
    image_digest: Vec<String>,

    /// Write TEST_OUTPUT here, e.g. $(step.results.TEST_OUTPUT.path) [default: RESULTS_DIR/TEST_OUTPUT]
    #[arg(long, env = "STEPKIT_TEST_OUTPUT_PATH", value_name = "PATH")]
    test_output_path: Option<PathBuf>,

    /// Write SCAN_OUTPUT here [default: RESULTS_DIR/SCAN_OUTPUT]
    #[arg(long, env = "STEPKIT_SCAN_OUTPUT_PATH", value_name = "PATH")]
    scan_output_path: Option<PathBuf>,

    /// Write IMAGES_PROCESSED here [default: RESULTS_DIR/IMAGES_PROCESSED]
    #[arg(long, env = "STEPKIT_IMAGES_PROCESSED_PATH", value_name = "PATH")]
    images_processed_path: Option<PathBuf>,

    /// Also write ADR 13's names for consumers that still read them: HACBS_TEST_OUTPUT
    /// (identical bytes) and, from clair input, CLAIR_SCAN_RESULT beside SCAN_OUTPUT
    #[arg(long, env = "STEPKIT_LEGACY_ALIAS", value_parser = BoolishValueParser::new())]
    legacy_alias: bool,

    /// Write ADR 13's detail file here (e.g. $(workspaces.output.path)/TEST_NAME_output.json):
    /// the --from conftest inputs' check results in conftest's JSON format
    #[arg(long, env = "STEPKIT_DETAIL_FILE", value_name = "PATH")]
    detail_file: Option<PathBuf>,

    /// Tekton's result budget: the termination-message size, or max-result-size with sidecar-logs
    #[arg(long, env = "STEPKIT_MAX_RESULT_BYTES", default_value_t = tekton::TERMINATION_MESSAGE_LIMIT, value_name = "BYTES")]
    max_result_bytes: usize,

    /// Bytes of the budget left for Tekton's own entries
    #[arg(long, env = "STEPKIT_RESULT_RESERVE_BYTES", default_value_t = tekton::DEFAULT_RESERVE, value_name = "BYTES")]
    result_reserve_bytes: usize,

    /// How the cluster collects results: termination-message or sidecar-logs
    #[arg(
        long,
        env = "STEPKIT_RESULTS_FROM",
        default_value = "termination-message",
        value_name = "MODE"
    )]
    results_from: ResultsFrom,

    /// Exit 2 (after writing an ERROR result) when an input cannot be read or parsed
    #[arg(long, env = "STEPKIT_STRICT_INPUT", value_parser = BoolishValueParser::new())]
    strict_input: bool,

    /// Exit 1 after writing when the result is in this set: none, error, failure (FAILURE and
    /// ERROR), warning (adds WARNING), strict (adds SKIPPED), or a comma list of results
    #[arg(
        long,
        env = "STEPKIT_FAIL_ON",
        default_value = "none",
        value_name = "SET"
    )]
    fail_on: FailOn,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The JSON document, or '-' for stdin
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Which result the document is: test-output, scan-output, images-processed,
    /// clair-scan-result or conftest-detail [default: from the file name (TEST_OUTPUT,
    /// SCAN_OUTPUT, CLAIR_SCAN_RESULT, IMAGES_PROCESSED, *_output.json), else test-output]
    #[arg(long, env = "STEPKIT_DOCUMENT", value_name = "KIND")]
    document: Option<Document>,
}

pub fn run(command: ResultCommand, global: &GlobalArgs) -> anyhow::Result<Verdict> {
    match command {
        ResultCommand::Emit(args) => emit(*args, global),
        ResultCommand::Validate(args) => validate(args),
    }
}

fn emit(args: EmitArgs, global: &GlobalArgs) -> anyhow::Result<Verdict> {
    // Every value is checked here, before any input is read or result written.
    let timestamp = args.timestamp.as_deref().map(str::parse).transpose()?;
    let image = processed_image(args.image_url, args.image_digest)?;
    let options = EmitOptions {
        result: args.result,
        successes: args.successes,
        failures: args.failures,
        warnings: args.warnings,
        note: args.note,
        namespace: args.namespace,
        inputs: parse_inputs(&args.from)?,
        sarif_mode: args.sarif_mode,
        on_empty: args.on_empty,
        allow_inconsistent: args.allow_inconsistent,
        timestamp_format: args.timestamp_format,
        timestamp,
        image,
        outputs: OutputPaths::resolve(
            tekton::results_dir(global.results_dir.as_deref()).as_deref(),
            args.test_output_path,
            args.scan_output_path,
            args.images_processed_path,
            args.legacy_alias,
        ),
        detail_file: args.detail_file,
        budget: Budget {
            max_bytes: args.max_result_bytes,
            reserve: args.result_reserve_bytes,
            results_from: args.results_from,
        },
        strict_input: args.strict_input,
        fail_on: args.fail_on,
    };
    let emitted = crate::result::emit(&options)?;
    if let Some(full) = &emitted.full_note {
        tracing::warn!(
            "the note was shortened from {} to {} bytes to fit Tekton's result budget; the full note follows",
            full.len(),
            emitted.test_output.note.len()
        );
        print_message(full)?;
    }
    print_line(&emitted.json)?;
    emitted.verdict()
}

fn validate(args: ValidateArgs) -> anyhow::Result<Verdict> {
    let path = (args.file.as_os_str() != "-").then_some(args.file.as_path());
    let document = args.document.unwrap_or_else(|| {
        args.file
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(Document::for_file_name)
            .unwrap_or(Document::TestOutput)
    });
    let validation = crate::result::validate(document, path)?;
    for problem in &validation.problems {
        print_line(&format!("error: {problem}"))?;
    }
    for warning in &validation.warnings {
        print_line(&format!("warning: {warning}"))?;
    }
    if validation.problems.is_empty() {
        tracing::info!("{} is valid", args.file.display());
    }
    Ok(validation.verdict())
}

/// `--from KIND FILE` or `--from KIND=FILE` (the form the environment variable takes). clap
/// hands over the values of all occurrences in one list; kinds are a closed set, so a value that
/// is a bare kind takes the next value as its file.
fn parse_inputs(values: &[String]) -> anyhow::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    let mut values = values.iter();
    while let Some(value) = values.next() {
        let (kind, file) = match value.split_once('=') {
            Some((kind, file)) if kind.parse::<InputKind>().is_ok() => (kind, file.to_owned()),
            _ => {
                let file = values.next().ok_or_else(|| {
                    Error::usage(format!(
                        "--from {value:?}: expected KIND FILE or KIND=FILE, such as --from conftest report.json"
                    ))
                })?;
                (value.as_str(), file.clone())
            }
        };
        let kind: InputKind = kind
            .parse()
            .map_err(|err: String| Error::usage(format!("--from: {err}")))?;
        if file.is_empty() {
            return Err(Error::usage(format!("--from {kind}: the file name is empty")).into());
        }
        let path = (file != "-").then(|| PathBuf::from(file));
        inputs.push(Input { kind, path });
    }
    Ok(inputs)
}
