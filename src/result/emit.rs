//! `result emit`: turn counts or tool outputs into TEST_OUTPUT (and SCAN_OUTPUT,
//! IMAGES_PROCESSED; ADR 13's HACBS_TEST_OUTPUT, CLAIR_SCAN_RESULT and detail file on request),
//! validate them, fit them into Tekton's result budget, and write them.
//!
//! Scanners and linters in Konflux let pipelines proceed (ADR 14): an input that cannot be read
//! becomes an ERROR result rather than a failed step, unless the caller asks otherwise with
//! `--strict-input` or `--fail-on`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use time::OffsetDateTime;

use crate::core::error::{Error, Verdict};
use crate::core::input::{read_input as read_file_or_stdin, MIB};
use crate::core::tekton::{self, Budget, BudgetCheck, ResultFile};
use crate::core::timestamp::{self, TimestampFormat};
use crate::result::convert::{self, InputKind, SarifMode, Summary};
use crate::result::test_output::{
    self, count_problem, ClairScanResult, Document, ImagesProcessed, Outcome, ProcessedImage,
    ScanOutput, TestOutput,
};

pub const DEFAULT_NOTE: &str = "For details, check Tekton task log.";
pub const DEFAULT_NAMESPACE: &str = "default";
/// A shortened note keeps at least this many bytes, so it still says something.
pub const MIN_NOTE_BYTES: usize = 64;
const ELLIPSIS: &str = "…";
/// The largest tool output read (SARIF of a big scan is the largest, tens of MiB).
const MAX_INPUT_BYTES: u64 = 256 * MIB;

/// One `--from KIND FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub kind: InputKind,
    /// `None` reads standard input (`-` on the command line).
    pub path: Option<PathBuf>,
}

impl Input {
    fn display_name(&self) -> String {
        match &self.path {
            Some(path) => path.display().to_string(),
            None => "stdin".to_owned(),
        }
    }
}

/// What a parsed input with no checks at all becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnEmpty {
    #[default]
    Success,
    Skipped,
    Error,
}

impl FromStr for OnEmpty {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "success" => Ok(OnEmpty::Success),
            "skipped" => Ok(OnEmpty::Skipped),
            "error" => Ok(OnEmpty::Error),
            _ => Err(format!(
                "unknown --on-empty value {text:?}: expected success, skipped or error"
            )),
        }
    }
}

/// The results that make the command exit 1 after writing (`--fail-on`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FailOn(pub BTreeSet<OutcomeKey>);

/// `Outcome` ordered by severity, for sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OutcomeKey(u8);

impl From<Outcome> for OutcomeKey {
    fn from(outcome: Outcome) -> Self {
        OutcomeKey(outcome.severity())
    }
}

impl FailOn {
    pub fn contains(&self, outcome: Outcome) -> bool {
        self.0.contains(&outcome.into())
    }
}

impl FromStr for FailOn {
    type Err = String;

    /// A preset (`none`, `error`, `failure`, `warning`, `strict`) or a comma list of results.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        use Outcome::*;
        let preset: Option<&[Outcome]> = match text.trim().to_ascii_lowercase().as_str() {
            "none" | "" => Some(&[]),
            "error" => Some(&[Error]),
            // What integration-service fails a scenario for.
            "failure" => Some(&[Failure, Error]),
            "warning" => Some(&[Failure, Error, Warning]),
            // What Conforma denies or warns about.
            "strict" => Some(&[Failure, Error, Warning, Skipped]),
            _ => None,
        };
        let outcomes: Vec<Outcome> = match preset {
            Some(outcomes) => outcomes.to_vec(),
            None => text
                .split(',')
                .map(|part| {
                    part.parse::<Outcome>().map_err(|_| {
                        format!("unknown --fail-on value {part:?}: expected none, error, failure, warning, strict, or a comma list of SUCCESS, FAILURE, WARNING, SKIPPED, ERROR")
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(FailOn(outcomes.into_iter().map(OutcomeKey::from).collect()))
    }
}

/// Where each result goes; `None` means print only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputPaths {
    pub test_output: Option<PathBuf>,
    pub scan_output: Option<PathBuf>,
    pub images_processed: Option<PathBuf>,
    /// ADR 13's names too: `HACBS_TEST_OUTPUT` beside TEST_OUTPUT, byte for byte the same, and
    /// `CLAIR_SCAN_RESULT` beside SCAN_OUTPUT.
    pub legacy_alias: bool,
}

impl OutputPaths {
    /// Each result in `results_dir` under its own name, unless given a path of its own.
    pub fn resolve(
        results_dir: Option<&Path>,
        test_output: Option<PathBuf>,
        scan_output: Option<PathBuf>,
        images_processed: Option<PathBuf>,
        legacy_alias: bool,
    ) -> OutputPaths {
        let in_dir = |name: &str| results_dir.map(|dir| dir.join(name));
        OutputPaths {
            test_output: test_output.or_else(|| in_dir("TEST_OUTPUT")),
            scan_output: scan_output.or_else(|| in_dir("SCAN_OUTPUT")),
            images_processed: images_processed.or_else(|| in_dir("IMAGES_PROCESSED")),
            legacy_alias,
        }
    }
}

/// Everything `result emit` needs, validated at the command line.
#[derive(Debug, Clone, Default)]
pub struct EmitOptions {
    pub result: Option<Outcome>,
    pub successes: Option<u64>,
    pub failures: Option<u64>,
    pub warnings: Option<u64>,
    pub note: Option<String>,
    pub namespace: Option<String>,
    pub inputs: Vec<Input>,
    pub sarif_mode: SarifMode,
    pub on_empty: OnEmpty,
    pub allow_inconsistent: bool,
    pub timestamp_format: TimestampFormat,
    /// A fixed timestamp instead of the time of writing.
    pub timestamp: Option<FixedTimestamp>,
    /// The image IMAGES_PROCESSED names, from [`processed_image`].
    pub image: Option<ProcessedImage>,
    pub outputs: OutputPaths,
    /// ADR 13's detail file (`<test_name>_output.json`): the conftest inputs' check results.
    pub detail_file: Option<PathBuf>,
    pub budget: Budget,
    pub strict_input: bool,
    pub fail_on: FailOn,
}

/// What `result emit` wrote.
#[derive(Debug, Clone)]
pub struct Emitted {
    pub test_output: TestOutput,
    /// The TEST_OUTPUT JSON exactly as written (and to be printed).
    pub json: String,
    pub scan_output: Option<String>,
    pub clair_scan_result: Option<String>,
    pub images_processed: Option<String>,
    /// The files written, in order.
    pub written: Vec<PathBuf>,
    /// Inputs that could not be read or parsed, with the reason.
    pub input_errors: Vec<String>,
    /// The note before it was shortened to fit, when it was: the caller shows it, as the
    /// written one is cut.
    pub full_note: Option<String>,
    strict_input: bool,
    failed_on: bool,
    /// Counts past what Konflux reads: the command fails as bad input (exit 2).
    count_overflow: Option<String>,
}

impl Emitted {
    /// The command's outcome once the results are out: an error for `--strict-input` with a bad
    /// input (exit 2), `Fail` for a result listed in `--fail-on` (exit 1), else `Pass`.
    pub fn verdict(&self) -> anyhow::Result<Verdict> {
        if let Some(problem) = &self.count_overflow {
            return Err(Error::usage(format!("{problem} (an ERROR result was written)")).into());
        }
        if self.strict_input && !self.input_errors.is_empty() {
            return Err(Error::usage(format!(
                "--strict-input: {} (an ERROR result was written)",
                self.input_errors.join("; ")
            ))
            .into());
        }
        Ok(if self.failed_on {
            Verdict::Fail
        } else {
            Verdict::Pass
        })
    }
}

/// Builds, validates, fits and writes the results.
pub fn emit(options: &EmitOptions) -> anyhow::Result<Emitted> {
    check_usage(options)?;
    let images = options.image.clone().map(|image| ImagesProcessed { image });
    let timestamp_override = options.timestamp.clone().map(|fixed| fixed.0);

    let mut parsed: Vec<(Input, Result<Summary, String>)> = Vec::new();
    let mut detail: Vec<convert::DetailEntry> = Vec::new();
    for input in &options.inputs {
        let bytes = read_input(input);
        if options.detail_file.is_some() && input.kind == InputKind::Conftest {
            if let Ok(entries) = bytes.as_deref().map(convert::conftest_detail) {
                detail.extend(entries.unwrap_or_default());
            }
        }
        let summary =
            bytes.and_then(|bytes| convert::summarize(input.kind, &bytes, options.sarif_mode));
        parsed.push((input.clone(), summary));
    }
    let tally = Tally::new(&parsed, options.on_empty);
    for error in &tally.input_errors {
        tracing::warn!("{error}");
    }

    let mut successes = options.successes.unwrap_or(tally.successes);
    let mut failures = options.failures.unwrap_or(tally.failures);
    let mut warnings = options.warnings.unwrap_or(tally.warnings);
    // Counts that Konflux cannot read are bad input: an ERROR result that names them, exit 2.
    let count_overflow = [
        ("successes", successes),
        ("failures", failures),
        ("warnings", warnings),
    ]
    .iter()
    .filter_map(|(name, count)| count_problem(&format!("the sum of the inputs' {name}"), *count))
    .chain(tally.scan.iter().flat_map(|scan| {
        scan.count_problems()
            .into_iter()
            .map(|problem| format!("SCAN_OUTPUT {problem}"))
    }))
    .collect::<Vec<_>>();
    let count_overflow = (!count_overflow.is_empty()).then(|| count_overflow.join("; "));
    if let Some(problem) = &count_overflow {
        tracing::error!("{problem}");
        (successes, failures, warnings) = (0, 0, 0);
    }
    let derived = Outcome::from_counts(failures, warnings);
    let stated = tally
        .stated
        .iter()
        .max_by_key(|(outcome, _)| outcome.severity());
    let result = match (&count_overflow, options.result) {
        (Some(_), _) => Outcome::Error,
        (None, Some(result)) => result,
        (None, None) => match stated {
            Some((outcome, _)) if outcome.severity() > derived.severity() => *outcome,
            _ => derived,
        },
    };
    if count_overflow.is_none() && options.result.is_some() && !options.allow_inconsistent {
        check_consistency(result, failures, warnings)?;
    }

    let note = count_overflow
        .clone()
        .or_else(|| options.note.clone())
        .unwrap_or_else(|| {
            tally
                .stated
                .iter()
                .find(|(outcome, _)| *outcome == result)
                .map(|(_, note)| note.clone())
                .or_else(|| tally.summary_note())
                .unwrap_or_else(|| DEFAULT_NOTE.to_owned())
        });
    let namespace = options
        .namespace
        .clone()
        .or_else(|| tally.namespace())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    let timestamp = timestamp_override.unwrap_or_else(|| {
        timestamp::format(
            tally.latest.unwrap_or_else(OffsetDateTime::now_utc),
            options.timestamp_format,
        )
    });

    let mut test_output = TestOutput {
        result,
        timestamp,
        note,
        namespace,
        successes,
        failures,
        warnings,
    };
    // Counts Konflux cannot read are not written (nor in ADR 13's documents); the ERROR result
    // says why.
    let scan = tally.scan.filter(|_| count_overflow.is_none());
    let scan_output = scan.map(|scan| checked_json(Document::ScanOutput, &scan));
    let clair_scan_result = scan
        .filter(|_| options.outputs.legacy_alias)
        .map(|scan| checked_json(Document::ClairScanResult, &ClairScanResult::from(&scan)));
    let images_processed = images.map(|images| checked_json(Document::ImagesProcessed, &images));

    let mut files = Vec::new();
    let others = |files: &mut Vec<ResultFile>| {
        if let (Some(path), Some(json)) = (&options.outputs.scan_output, &scan_output) {
            files.push(ResultFile::new(path.clone(), json.clone()));
            if let Some(legacy) = &clair_scan_result {
                files.push(ResultFile::new(
                    path.with_file_name("CLAIR_SCAN_RESULT"),
                    legacy.clone(),
                ));
            }
        }
        if let (Some(path), Some(json)) = (&options.outputs.images_processed, &images_processed) {
            files.push(ResultFile::new(path.clone(), json.clone()));
        }
    };
    others(&mut files);
    let test_output_paths = test_output_paths(&options.outputs);
    let full_note = fit_note(&mut test_output, &test_output_paths, &files, options.budget)?;
    let json = checked_json(Document::TestOutput, &test_output);
    let mut all: Vec<ResultFile> = test_output_paths
        .iter()
        .map(|path| ResultFile::new(path.clone(), json.clone()))
        .collect();
    all.extend(files);
    tekton::write_results(options.budget, &all)?;
    let mut written: Vec<PathBuf> = all.into_iter().map(|file| file.path).collect();
    match (&options.detail_file, &count_overflow) {
        (Some(path), None) => {
            write_detail(path, &detail)?;
            written.push(path.clone());
        }
        (Some(path), Some(_)) => tracing::warn!(
            "--detail-file {} not written: its counts are past what Konflux reads",
            path.display()
        ),
        (None, _) => {}
    }
    if written.is_empty() {
        tracing::info!(
            "no results directory (--results-dir, RESULTS_DIR or /tekton/results): printing only"
        );
    }
    if let Some(scan) = &scan_output {
        tracing::info!("SCAN_OUTPUT {scan}");
    }

    Ok(Emitted {
        failed_on: options.fail_on.contains(test_output.result),
        test_output,
        json,
        scan_output,
        clair_scan_result,
        images_processed,
        written,
        input_errors: tally.input_errors,
        full_note,
        strict_input: options.strict_input,
        count_overflow,
    })
}

fn check_usage(options: &EmitOptions) -> anyhow::Result<()> {
    let counts_given =
        options.successes.is_some() || options.failures.is_some() || options.warnings.is_some();
    if counts_given && !options.inputs.is_empty() {
        return Err(Error::usage(
            "--successes/--failures/--warnings cannot be combined with --from: the counts come from the inputs (use --result, --note and --namespace to override what they give)",
        )
        .into());
    }
    for (flag, count) in [
        ("--successes", options.successes),
        ("--failures", options.failures),
        ("--warnings", options.warnings),
    ] {
        if let Some(problem) = count.and_then(|count| count_problem(flag, count)) {
            return Err(Error::usage(problem).into());
        }
    }
    let stdin_inputs = options.inputs.iter().filter(|i| i.path.is_none()).count();
    if stdin_inputs > 1 {
        return Err(Error::usage(format!(
            "--from reads standard input ('-') {stdin_inputs} times; it can be read once"
        ))
        .into());
    }
    if options.detail_file.is_some()
        && !options.inputs.iter().any(|i| i.kind == InputKind::Conftest)
    {
        return Err(Error::usage(
            "--detail-file needs a --from conftest input: the detail file is conftest's check \
             results, in its JSON format",
        )
        .into());
    }
    Ok(())
}

/// A SUCCESS with failures, or a WARNING with failures, is denied by Conforma whatever it says.
fn check_consistency(result: Outcome, failures: u64, warnings: u64) -> anyhow::Result<()> {
    let contradiction = match result {
        Outcome::Success if failures > 0 => Some(format!("failures is {failures}")),
        Outcome::Success if warnings > 0 => Some(format!("warnings is {warnings}")),
        Outcome::Warning if failures > 0 => Some(format!("failures is {failures}")),
        _ => None,
    };
    match contradiction {
        Some(what) => Err(Error::usage(format!(
            "--result {result} contradicts the counts: {what}, so consumers would judge it {}. Fix the counts, drop --result to derive it, or pass --allow-inconsistent",
            Outcome::from_counts(failures, warnings)
        ))
        .into()),
        None => Ok(()),
    }
}

/// `--image-url` and `--image-digest`, checked: the image IMAGES_PROCESSED names, if any.
pub fn processed_image(
    url: Option<String>,
    digests: Vec<String>,
) -> anyhow::Result<Option<ProcessedImage>> {
    let Some(url) = url else {
        if !digests.is_empty() {
            return Err(Error::usage(
                "--image-digest needs --image-url: IMAGES_PROCESSED names the image and its digests",
            )
            .into());
        }
        return Ok(None);
    };
    if url.trim().is_empty() {
        return Err(Error::usage("--image-url is empty").into());
    }
    for digest in &digests {
        let valid = digest.split_once(':').is_some_and(|(algorithm, hex)| {
            !algorithm.is_empty() && !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())
        });
        if !valid {
            return Err(Error::usage(format!(
                "--image-digest {digest:?} is not a digest: expected ALGORITHM:HEX, such as sha256:0123abcd…"
            ))
            .into());
        }
    }
    Ok(Some(ProcessedImage {
        pullspec: url,
        digests,
    }))
}

/// `--timestamp`: a timestamp TEST_OUTPUT's consumers accept, written as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedTimestamp(String);

impl std::str::FromStr for FixedTimestamp {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<FixedTimestamp> {
        let probe = format!(
            r#"{{"result":"SUCCESS","timestamp":{},"successes":0,"failures":0,"warnings":0}}"#,
            serde_json::to_string(text).expect("a string serializes")
        );
        if test_output::validate(Document::TestOutput, &probe).is_empty() {
            Ok(FixedTimestamp(text.to_owned()))
        } else {
            Err(Error::usage(format!(
                "--timestamp {text:?} is not a timestamp consumers accept: use 10 epoch digits or RFC 3339 (2026-01-01T00:00:00+00:00)"
            ))
            .into())
        }
    }
}

fn read_input(input: &Input) -> Result<Vec<u8>, String> {
    read_file_or_stdin(input.path.as_deref(), MAX_INPUT_BYTES).map_err(|err| match input.path {
        Some(_) => format!("cannot read it: {err}"),
        None => format!("cannot read standard input: {err}"),
    })
}

/// The inputs, added up.
#[derive(Debug, Default)]
struct Tally {
    successes: u64,
    failures: u64,
    warnings: u64,
    /// Results the inputs stated themselves (or that their state implies), with the note that
    /// goes with each.
    stated: Vec<(Outcome, String)>,
    namespaces: Vec<String>,
    latest: Option<OffsetDateTime>,
    scan: Option<ScanOutput>,
    descriptions: Vec<String>,
    input_errors: Vec<String>,
}

impl Tally {
    fn new(parsed: &[(Input, Result<Summary, String>)], on_empty: OnEmpty) -> Tally {
        let mut tally = Tally::default();
        for (input, summary) in parsed {
            let name = input.display_name();
            let summary = match summary {
                Ok(summary) => summary,
                Err(reason) => {
                    let message =
                        format!("{} output {name} could not be parsed: {reason}", input.kind);
                    tally.stated.push((Outcome::Error, message.clone()));
                    tally.input_errors.push(message);
                    continue;
                }
            };
            // Saturating: a sum past MAX_COUNT is refused once the inputs are added up.
            tally.successes = tally.successes.saturating_add(summary.successes);
            tally.failures = tally.failures.saturating_add(summary.failures);
            tally.warnings = tally.warnings.saturating_add(summary.warnings);
            if let Some(outcome) = summary.result {
                let note = summary
                    .note
                    .clone()
                    .unwrap_or_else(|| DEFAULT_NOTE.to_owned());
                tally.stated.push((outcome, note));
            }
            if summary.empty {
                let note = format!("{} output {name} holds no checks", input.kind);
                match on_empty {
                    OnEmpty::Success => {}
                    OnEmpty::Skipped => tally.stated.push((Outcome::Skipped, note)),
                    OnEmpty::Error => tally.stated.push((Outcome::Error, note)),
                }
            } else if [summary.successes, summary.failures, summary.warnings] == [0, 0, 0]
                && summary.skipped > 0
            {
                let note = format!("all {} checks in {name} were skipped", summary.skipped);
                tally.stated.push((Outcome::Skipped, note));
            }
            if let Some(namespace) = summary.namespace.as_ref().filter(|ns| !ns.is_empty()) {
                if !tally.namespaces.contains(namespace) {
                    tally.namespaces.push(namespace.clone());
                }
            }
            if let Some(at) = summary.timestamp {
                tally.latest = Some(tally.latest.map_or(at, |latest| latest.max(at)));
            }
            if let Some(scan) = &summary.scan {
                tally.scan.get_or_insert_with(ScanOutput::default).add(scan);
            }
            if summary.result.is_none() {
                let mut description = format!(
                    "{name}: {} passed, {} failed, {} warned",
                    summary.successes, summary.failures, summary.warnings
                );
                if let Some(note) = &summary.note {
                    description.push_str(&format!(" ({note})"));
                }
                tally.descriptions.push(description);
            }
        }
        tally
    }

    fn summary_note(&self) -> Option<String> {
        (!self.descriptions.is_empty()).then(|| self.descriptions.join("; "))
    }

    fn namespace(&self) -> Option<String> {
        (!self.namespaces.is_empty()).then(|| self.namespaces.join(","))
    }
}

fn test_output_paths(outputs: &OutputPaths) -> Vec<PathBuf> {
    let Some(path) = &outputs.test_output else {
        return Vec::new();
    };
    let mut paths = vec![path.clone()];
    if outputs.legacy_alias {
        paths.push(path.with_file_name("HACBS_TEST_OUTPUT"));
    }
    paths
}

/// Shortens the note until every result fits the budget. Returns the full note when it had to
/// be shortened (for the caller to print); fails (exit 6) when even the shortest note does not fit.
fn fit_note(
    test_output: &mut TestOutput,
    test_output_paths: &[PathBuf],
    others: &[ResultFile],
    budget: Budget,
) -> anyhow::Result<Option<String>> {
    let names: Vec<String> = if test_output_paths.is_empty() {
        vec!["TEST_OUTPUT".to_owned()]
    } else {
        test_output_paths
            .iter()
            .map(|p| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    };
    let planned: Vec<ResultFile> = test_output_paths
        .iter()
        .map(|path| ResultFile::new(path.clone(), String::new()))
        .chain(others.iter().cloned())
        .collect();
    let check = BudgetCheck::new(budget, &planned)?;
    let pairs = |test_output: &TestOutput| -> Vec<(String, String)> {
        let json = test_output::to_compact_json(test_output);
        names
            .iter()
            .map(|name| (name.clone(), json.clone()))
            .chain(others.iter().map(|f| (f.name.clone(), f.value.clone())))
            .collect()
    };
    let fits = |test_output: &TestOutput| {
        let pairs = pairs(test_output);
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        check.fits(&borrowed)
    };
    if fits(test_output) {
        return Ok(None);
    }
    let full = test_output.note.clone();
    let boundaries: Vec<usize> = full
        .char_indices()
        .map(|(i, _)| i)
        .filter(|i| *i + ELLIPSIS.len() >= MIN_NOTE_BYTES)
        .collect();
    // The longest prefix that fits: fitting is monotonic in the prefix length.
    let (mut low, mut high) = (0usize, boundaries.len());
    let shortened = |end: usize| format!("{}{ELLIPSIS}", &full[..end]);
    while low < high {
        let mid = (low + high) / 2;
        test_output.note = shortened(boundaries[mid]);
        if fits(test_output) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    if low == 0 {
        test_output.note = full;
        let pairs = pairs(test_output);
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let mut error = check.overflow_error(&borrowed).to_string();
        error.push_str(&format!(
            " (even with the note shortened to {MIN_NOTE_BYTES} bytes)"
        ));
        return Err(Error::local_io(error).into());
    }
    test_output.note = shortened(boundaries[low - 1]);
    Ok(Some(full))
}

/// Writes ADR 13's detail file: the conftest check results, tab-indented as conftest prints
/// them, checked against their schema first.
fn write_detail(path: &Path, entries: &[convert::DetailEntry]) -> anyhow::Result<()> {
    use serde::Serialize;
    let mut bytes = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, formatter);
    entries
        .serialize(&mut serializer)
        .expect("the detail entries serialize");
    bytes.push(b'\n');
    let json = String::from_utf8(bytes).expect("JSON is UTF-8");
    let problems = test_output::validate(Document::ConftestDetail, &json);
    assert!(
        problems.is_empty(),
        "stepkit wrote an invalid conftest detail file: {problems:?}"
    );
    tekton::write_atomic(path, json.as_bytes())
        .map_err(|err| err.context(format!("cannot write --detail-file {}", path.display())))
}

/// Serializes a result and checks it against its schema: our own output must always be valid,
/// so a failure here is a bug, not bad input.
fn checked_json<T: serde::Serialize>(document: Document, value: &T) -> String {
    let json = test_output::to_compact_json(value);
    let problems = test_output::validate(document, &json);
    assert!(
        problems.is_empty(),
        "stepkit wrote an invalid {document:?}: {problems:?}"
    );
    json
}
