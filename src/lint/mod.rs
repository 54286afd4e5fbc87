//! `stepkit task lint`: validate Tekton Task, Pipeline, StepAction, TaskRun and PipelineRun
//! definitions the way a catalog's CI must, offline and with positions for every finding.
//!
//! The pipeline: find the files, parse each into positioned YAML (in parallel), classify the
//! documents and decode them into the typed model, run every check, resolve each diagnostic's
//! field path to a line and column, apply suppressions and severities, sort.

pub mod baseline;
pub mod config;
pub mod finding;
pub mod inputs;
pub mod report;
pub mod rules;
pub mod suppress;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::core::error::Error;
use crate::tekton::model::{Kind, Metadata, Resource};
use crate::tekton::yaml::{ErrorKind, Node, Pos};
pub use config::{Config, FailOn, Profile, RuleOptions, Versioning};
use finding::{Diagnostic, FieldPath, Finding, Location, Severity};
pub use inputs::read_inputs;
use rules::RuleId;

/// One input file, parsed.
#[derive(Debug)]
pub struct SourceFile {
    /// As the user named it (or found under a named directory); `-` for stdin.
    pub path: PathBuf,
    pub text: String,
    pub stream: crate::tekton::yaml::Stream,
    /// Why the file was not read (then `text` is empty).
    pub unread: Option<inputs::Unread>,
}

impl SourceFile {
    pub fn parse(path: PathBuf, text: String) -> SourceFile {
        let stream = crate::tekton::yaml::parse_stream(&text);
        SourceFile {
            path,
            text,
            stream,
            unread: None,
        }
    }

    /// A path that was not read, and why.
    pub fn unread(path: PathBuf, unread: inputs::Unread) -> SourceFile {
        SourceFile {
            path,
            text: String::new(),
            stream: Default::default(),
            unread: Some(unread),
        }
    }

    pub fn display_path(&self) -> String {
        self.path.display().to_string()
    }

    /// The directory the file is in, when it came from disk.
    pub fn dir(&self) -> Option<&Path> {
        if self.path.as_os_str() == "-" {
            None
        } else {
            self.path.parent()
        }
    }
}

/// One Tekton document.
#[derive(Debug)]
pub struct TektonDoc {
    /// Index into [`Corpus::files`].
    pub file: usize,
    /// Index of the document within its file.
    pub index: usize,
    pub api_version: String,
    pub kind: Kind,
    /// `kind` as written (`ClusterTask` decodes as a Task).
    pub raw_kind: String,
    pub metadata: Metadata,
    /// None when the spec has a shape the model cannot read (reported as unknown-field).
    /// Fields of the wrong type are left out of it, so the rest is still checked.
    pub resource: Option<Resource>,
    /// Shapes the model could not read and left out: `spec.steps[0]: invalid type...`.
    pub decode_errors: Vec<String>,
    /// What the schema walk found (unknown fields, wrong types), reported by the structure rules.
    pub schema_problems: Vec<Diagnostic>,
    pub root: Node,
}

impl TektonDoc {
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// `tekton.dev/v1beta1` → `v1beta1`.
    pub fn version(&self) -> &str {
        self.api_version.rsplit('/').next().unwrap_or("")
    }

    /// What Tekton's API server would refuse the document for and the typed model left out:
    /// values of the wrong type (the schema walk reports them at the field, unknown names at
    /// the key) and shapes the model could not read. Empty when `resource` holds the whole spec.
    pub fn shape_errors(&self) -> Vec<String> {
        let wrong_types = self
            .schema_problems
            .iter()
            .filter(|d| d.rule == RuleId::UnknownField && matches!(d.location, Location::Field(_)));
        wrong_types
            .map(|d| d.message.clone())
            .chain(self.decode_errors.iter().cloned())
            .collect()
    }

    pub fn is_deprecated(&self) -> bool {
        self.metadata
            .annotations
            .get("tekton.dev/deprecated")
            .or_else(|| self.metadata.labels.get("tekton.dev/deprecated"))
            .is_some_and(|v| v.as_str() == Some("true") || v.as_bool() == Some(true))
    }
}

/// Everything being linted together: cross-document rules (Pipeline → Task references,
/// duplicates) look things up here.
#[derive(Debug, Default)]
pub struct Corpus {
    pub files: Vec<SourceFile>,
    pub docs: Vec<TektonDoc>,
    /// Documents that are YAML but not Tekton.
    pub skipped: Vec<Skipped>,
}

/// A YAML document that is not a Tekton object.
#[derive(Debug)]
pub struct Skipped {
    pub file: usize,
    pub index: usize,
    /// `apiVersion kind`, or why it has none.
    pub what: String,
}

impl Corpus {
    pub fn build(files: Vec<SourceFile>, profile: Profile) -> Corpus {
        let classified: Vec<(Vec<TektonDoc>, Vec<Skipped>)> = files
            .par_iter()
            .enumerate()
            .map(|(i, file)| classify(i, file, profile))
            .collect();
        let mut corpus = Corpus {
            files,
            ..Default::default()
        };
        for (docs, skipped) in classified {
            corpus.docs.extend(docs);
            corpus.skipped.extend(skipped);
        }
        corpus
    }

    pub fn file(&self, doc: &TektonDoc) -> &SourceFile {
        &self.files[doc.file]
    }

    /// Documents of `kind` named `name`.
    pub fn find<'a>(
        &'a self,
        kind: Kind,
        name: &'a str,
    ) -> impl Iterator<Item = &'a TektonDoc> + 'a {
        self.docs
            .iter()
            .filter(move |d| d.kind == kind && d.name() == name)
    }
}

fn classify(
    file_index: usize,
    file: &SourceFile,
    profile: Profile,
) -> (Vec<TektonDoc>, Vec<Skipped>) {
    let mut docs = Vec::new();
    let mut skipped = Vec::new();
    for (index, document) in file.stream.documents.iter().enumerate() {
        let root = &document.root;
        if root.is_null() {
            continue;
        }
        let api_version = root.get("apiVersion").and_then(Node::as_str).unwrap_or("");
        let raw_kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
        let kind = Kind::parse(raw_kind);
        let (Some(kind), true) = (kind, api_version.starts_with("tekton.dev/")) else {
            let what = if raw_kind.is_empty() {
                "no kind".to_string()
            } else {
                format!("{api_version} {raw_kind}")
            };
            skipped.push(Skipped {
                file: file_index,
                index,
                what,
            });
            continue;
        };
        let metadata = root
            .get("metadata")
            .map(lenient_metadata)
            .unwrap_or_default();
        let mut doc = TektonDoc {
            file: file_index,
            index,
            api_version: api_version.to_string(),
            kind,
            raw_kind: raw_kind.to_string(),
            metadata,
            resource: None,
            decode_errors: Vec::new(),
            schema_problems: Vec::new(),
            root: root.clone(),
        };
        let everything = |_: &str| true;
        let mut sink = rules::Sink::new(&everything);
        let renames = rules::check_schema(&doc, profile, &mut sink);
        doc.schema_problems = sink.into_diagnostics();
        let wrong_types = doc
            .schema_problems
            .iter()
            .filter_map(|d| match &d.location {
                Location::Field(path) if d.rule == RuleId::UnknownField => Some(path),
                _ => None,
            });
        (doc.resource, doc.decode_errors) = decode(kind, spec_json(root), &renames, wrong_types);
        docs.push(doc);
    }
    (docs, skipped)
}

/// The metadata, less any field of the wrong type (reported by the schema walk).
fn lenient_metadata(node: &Node) -> Metadata {
    let mut json = node.to_json();
    for _ in 0..16 {
        match serde_path_to_error::deserialize::<_, Metadata>(json.clone()) {
            Ok(metadata) => return metadata,
            Err(error) => {
                let path = FieldPath::parse(&format!("spec.{}", error.path()));
                if !remove_field(&mut json, &path) {
                    break;
                }
            }
        }
    }
    Metadata::default()
}

/// The document's `spec` as JSON; the last one when it is written twice, as Kubernetes reads it.
fn spec_json(root: &Node) -> serde_json::Value {
    root.as_map()
        .unwrap_or_default()
        .iter()
        .rev()
        .find(|(key, _)| key.as_str() == Some("spec"))
        .map_or(serde_json::Value::Null, |(_, spec)| spec.to_json())
}

/// Decodes a spec into the typed model: the keys at `renames` first take the names Tekton reads
/// them by, the fields at `wrong_types` are left out, and then any field the model still cannot
/// read, so one bad value never hides the rest of the document.
fn decode<'a>(
    kind: Kind,
    mut spec: serde_json::Value,
    renames: &[rules::FieldRename],
    wrong_types: impl Iterator<Item = &'a FieldPath>,
) -> (Option<Resource>, Vec<String>) {
    // In the walk's order, parents first: a renamed key's children are found under its new name.
    for rename in renames {
        rename_field(&mut spec, &rename.path, rename.to);
    }
    for path in wrong_types {
        remove_field(&mut spec, path);
    }
    let mut problems = Vec::new();
    // Each round removes one field; a spec has far fewer bad ones.
    for _ in 0..64 {
        match Resource::decode(kind, spec.clone()) {
            Ok(resource) => return (Some(resource), problems),
            Err(problem) => {
                let path = FieldPath::parse(problem.split(':').next().unwrap_or("spec"));
                let removed = remove_field(&mut spec, &path);
                problems.push(problem);
                if !removed {
                    break;
                }
            }
        }
    }
    (None, problems)
}

/// Removes the mapping entry that holds the node at `path` (`spec.steps[0].command[1]` removes
/// `command` from the first step).
fn remove_field(spec: &mut serde_json::Value, path: &FieldPath) -> bool {
    holding_entry(spec, path).is_some_and(|(mapping, key)| mapping.remove(key).is_some())
}

/// Moves the mapping entry at `path` to the key `to` of the same mapping, replacing what is there.
fn rename_field(spec: &mut serde_json::Value, path: &FieldPath, to: &str) {
    if let Some((mapping, key)) = holding_entry(spec, path) {
        if let Some(value) = mapping.remove(key) {
            mapping.insert(to.to_string(), value);
        }
    }
}

/// The mapping whose entry holds the node at `path`, and that entry's key: for
/// `spec.steps[0].command[1]`, the first step and `command`. Paths start at the document root;
/// `spec` is the root here.
fn holding_entry<'v, 'p>(
    spec: &'v mut serde_json::Value,
    path: &'p FieldPath,
) -> Option<(&'v mut serde_json::Map<String, serde_json::Value>, &'p str)> {
    use finding::Segment;
    let segments = match path.segments().split_first() {
        Some((Segment::Field(root), rest)) if root == "spec" => rest,
        _ => return None,
    };
    let (last_field, key) =
        segments
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, segment)| match segment {
                Segment::Field(name) => Some((i, name.as_str())),
                Segment::Index(_) => None,
            })?;
    let mut node = spec;
    for segment in &segments[..last_field] {
        node = match segment {
            Segment::Field(name) => node.get_mut(name.as_str()),
            Segment::Index(i) => node.get_mut(*i),
        }?;
    }
    Some((node.as_object_mut()?, key))
}

/// What a lint run found.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub files: usize,
    pub documents: usize,
    /// Non-Tekton documents, as `path: what` (shown with --verbose).
    pub skipped: Vec<String>,
    /// With `--baseline`: how many findings it recorded and were left out.
    pub baselined: Option<usize>,
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// Whether findings reach the `--fail-on` level.
    pub fn fails(&self, fail_on: FailOn) -> bool {
        match fail_on.threshold() {
            None => false,
            Some(level) => self.findings.iter().any(|f| f.severity >= level),
        }
    }
}

/// Lints already-read files.
pub fn lint_files(files: Vec<SourceFile>, config: &Config) -> Report {
    let corpus = Corpus::build(files, config.options.profile);
    let enabled = |rule: &str| config.is_enabled(rule);

    // (file index, document index or None for file-level, diagnostic)
    let mut diagnostics: Vec<(usize, Option<usize>, Diagnostic)> = corpus
        .docs
        .par_iter()
        .enumerate()
        .flat_map_iter(|(doc_index, doc)| {
            let check = rules::Check {
                doc,
                file: corpus.file(doc),
                corpus: &corpus,
                options: &config.options,
            };
            let mut sink = rules::Sink::new(&enabled);
            decode_problems(doc, &mut sink);
            for run in rules::CHECKS {
                run(&check, &mut sink);
            }
            sink.into_diagnostics()
                .into_iter()
                .map(move |d| (doc.file, Some(doc_index), d))
        })
        .collect();

    let mut sink = rules::Sink::new(&enabled);
    for (file_index, file) in corpus.files.iter().enumerate() {
        syntax_problems(file, &mut sink);
        diagnostics.extend(sink.out.drain(..).map(|d| (file_index, None, d)));
    }
    for run in rules::CORPUS_CHECKS {
        for (file, doc, diagnostic) in run(&corpus, &config.options, &enabled) {
            diagnostics.push((file, doc, diagnostic));
        }
    }

    if config.verbose {
        for skipped in &corpus.skipped {
            let pos = corpus.files[skipped.file].stream.documents[skipped.index]
                .root
                .pos;
            let message = format!("not a Tekton object ({}); skipped", skipped.what);
            sink.report(RuleId::NotTekton, Location::Pos(pos), message);
            diagnostics.extend(sink.out.drain(..).map(|d| (skipped.file, None, d)));
        }
    }

    let suppressions: Vec<suppress::Suppressions> = corpus
        .files
        .par_iter()
        .map(|f| suppress::Suppressions::parse(&f.text))
        .collect();
    let mut findings: Vec<Finding> = diagnostics
        .into_iter()
        .filter_map(|(file_index, doc_index, diagnostic)| {
            let file = &corpus.files[file_index];
            let doc = doc_index.map(|i| &corpus.docs[i]);
            let severity = config.severity_at(
                &file.display_path(),
                diagnostic.rule.as_str(),
                diagnostic.severity,
            )?;
            let finding = resolve(file, doc, diagnostic, severity);
            (!suppressions[file_index].suppresses(&finding.rule, finding.line)).then_some(finding)
        })
        .collect();
    findings.sort_by(|a, b| {
        (&a.path, a.line, a.column, &a.rule, &a.message)
            .cmp(&(&b.path, b.line, b.column, &b.rule, &b.message))
    });
    findings.dedup();

    let skipped = corpus
        .skipped
        .iter()
        .map(|s| {
            format!(
                "{} (document {}): {}",
                corpus.files[s.file].display_path(),
                s.index + 1,
                s.what
            )
        })
        .collect();
    Report {
        findings,
        files: corpus.files.len(),
        documents: corpus.docs.len(),
        skipped,
        baselined: None,
    }
}

/// Fields the typed model could not read (and left out), unless the schema walk already said
/// what is wrong there.
fn decode_problems(doc: &TektonDoc, sink: &mut rules::Sink) {
    for problem in &doc.decode_errors {
        let path = FieldPath::parse(problem.split(':').next().unwrap_or("spec"));
        let covered = doc.schema_problems.iter().any(|d| match &d.location {
            Location::Field(bad) | Location::Key(bad) => {
                path.segments().starts_with(bad.segments())
            }
            _ => false,
        });
        if !covered {
            sink.report(
                RuleId::UnknownField,
                Location::Field(path),
                format!("{problem}; fix the shape of this field"),
            );
        }
    }
}

fn syntax_problems(file: &SourceFile, sink: &mut rules::Sink) {
    if let Some(unread) = &file.unread {
        sink.report(unread.rule, Location::File, unread.message.clone());
    }
    if let Some(error) = &file.stream.error {
        let (rule, what) = match error.kind {
            ErrorKind::Syntax => (RuleId::YamlSyntax, "YAML syntax error"),
            ErrorKind::Limit => (RuleId::YamlLimits, "not read to the end"),
        };
        sink.report(
            rule,
            Location::Pos(error.pos),
            format!("{what}: {}", error.message),
        );
    }
    for document in &file.stream.documents {
        for duplicate in &document.duplicate_keys {
            sink.report(
                RuleId::YamlSyntax,
                Location::Pos(duplicate.pos),
                format!("key {:?} appears twice in the same mapping; Kubernetes keeps only the last one", duplicate.key),
            );
        }
    }
}

/// Turns a diagnostic's location into a line and column.
fn resolve(
    file: &SourceFile,
    doc: Option<&TektonDoc>,
    diagnostic: Diagnostic,
    severity: Severity,
) -> Finding {
    let (pos, field) = match (&diagnostic.location, doc) {
        (Location::Pos(pos), _) => (*pos, String::new()),
        (Location::File, _) | (_, None) => (Pos { line: 1, column: 1 }, String::new()),
        (Location::Field(path), Some(doc)) => {
            let (node, key, found) = path.locate(&doc.root);
            // A collection is reported at its key (`steps:`), a scalar at its value.
            let pos = match (key, found, node.as_str()) {
                (Some(key), true, None) => key.pos,
                (Some(key), false, _) => key.pos,
                _ => node.pos,
            };
            (pos, path.to_string())
        }
        (Location::Key(path), Some(doc)) => {
            let (node, key, _) = path.locate(&doc.root);
            (key.map_or(node.pos, |k| k.pos), path.to_string())
        }
        (Location::InScalar { path, line, column }, Some(doc)) => {
            let (node, _, _) = path.locate(&doc.root);
            (
                node.position_in_scalar(&file.text, *line, *column),
                path.to_string(),
            )
        }
    };
    Finding {
        rule: diagnostic.rule.to_string(),
        severity,
        message: diagnostic.message,
        path: file.display_path(),
        line: pos.line,
        column: pos.column,
        kind: doc.map(|d| d.raw_kind.clone()),
        name: doc.and_then(|d| d.metadata.name.clone()),
        field,
    }
}

/// Lints `inputs` with `config`: the library entry point of `stepkit task lint`.
pub fn lint(inputs: &[PathBuf], config: &Config) -> anyhow::Result<Report> {
    let files = read_inputs(inputs, config)?;
    if files.is_empty() {
        return Err(Error::usage("no YAML files found in the inputs (*.yaml, *.yml)").into());
    }
    Ok(lint_files(files, config))
}

/// Everything `stepkit task lint` was asked, before the config file is read.
#[derive(Debug, Clone)]
pub struct LintOptions {
    pub paths: Vec<PathBuf>,
    pub profile: Option<Profile>,
    pub config: Option<PathBuf>,
    /// Severity overrides (`None`: off), applied after the config file.
    pub rules: Vec<(RuleId, Option<Severity>)>,
    pub disable: Vec<RuleId>,
    pub fail_on: Option<FailOn>,
    pub format: report::Format,
    pub versioning: Option<Versioning>,
    pub exclude: Vec<String>,
    pub shellcheck: bool,
    pub test_output: bool,
    pub test_output_path: Option<PathBuf>,
    pub results_dir: Option<PathBuf>,
    pub list_rules: bool,
    pub verbose: bool,
    /// Files larger than this are a finding, not read.
    pub max_file_size: Option<u64>,
    /// Leave out the findings this baseline recorded.
    pub baseline: Option<PathBuf>,
    /// Record the findings of this run here.
    pub write_baseline: Option<PathBuf>,
    /// Fail when more warnings than this are reported.
    pub max_warnings: Option<usize>,
}

impl LintOptions {
    /// The configuration: defaults, then the config file, then the command line.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::default();
        let file = match &self.config {
            Some(path) if std::fs::metadata(path).is_err() => {
                return Err(
                    Error::usage(format!("--config {}: no such file", path.display())).into(),
                )
            }
            Some(path) => Some(path.clone()),
            None => std::env::current_dir()
                .ok()
                .and_then(|dir| config::find_config_file(&dir)),
        };
        if let Some(file) = file {
            config.apply_file(&file)?;
        }
        if let Some(profile) = self.profile {
            config.options.profile = profile;
        }
        if let Some(versioning) = self.versioning {
            config.options.versioning = versioning;
        }
        if let Some(fail_on) = self.fail_on {
            config.fail_on = fail_on;
        }
        for (rule, severity) in &self.rules {
            config.override_rule(*rule, *severity);
        }
        for rule in &self.disable {
            config.override_rule(*rule, None);
        }
        config.exclude.extend(self.exclude.iter().cloned());
        config.options.shellcheck.enabled &= self.shellcheck;
        config.verbose = self.verbose;
        config.options.shellcheck.cache_dir = config::user_cache_dir();
        if let Some(size) = self.max_file_size {
            config.max_file_size = size;
        }
        Ok(config)
    }
}

/// `stepkit task lint`: lint, write TEST_OUTPUT, and return what to print on stdout with the
/// verdict (fail when findings reach `--fail-on`).
pub fn run(options: &LintOptions) -> anyhow::Result<(String, crate::core::error::Verdict)> {
    use crate::core::error::Verdict;
    let config = options.config()?;
    if options.list_rules {
        return Ok((report::rule_list(), Verdict::Pass));
    }
    let known = options
        .baseline
        .as_deref()
        .map(baseline::Baseline::read)
        .transpose()?;
    let mut report = lint(&options.paths, &config)?;
    for skipped in &report.skipped {
        tracing::debug!("skipped {skipped}");
    }
    if let Some(path) = &options.write_baseline {
        baseline::write(path, &report.findings)?;
    }
    if let Some(known) = known {
        let (new, count) = known.filter(std::mem::take(&mut report.findings));
        report.findings = new;
        report.baselined = Some(count);
    }
    if options.test_output {
        write_test_output(&report, options)?;
    }
    let too_many_warnings = options
        .max_warnings
        .is_some_and(|max| report.count(Severity::Warning) > max);
    let verdict = if report.fails(config.fail_on) || too_many_warnings {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    Ok((
        report::render_with(&report, options.format, report::stdout_wants_color()),
        verdict,
    ))
}

/// TEST_OUTPUT for a lint step: errors → FAILURE, only warnings → WARNING, else SUCCESS;
/// counts are files without findings, files with errors, files with only warnings.
fn write_test_output(report: &Report, options: &LintOptions) -> anyhow::Result<()> {
    use crate::result::emit::{EmitOptions, OutputPaths};
    use crate::result::test_output::Outcome;
    use std::collections::BTreeMap;

    let mut worst: BTreeMap<&str, Severity> = BTreeMap::new();
    for finding in &report.findings {
        let entry = worst
            .entry(finding.path.as_str())
            .or_insert(finding.severity);
        *entry = (*entry).max(finding.severity);
    }
    let failures = worst.values().filter(|s| **s == Severity::Error).count() as u64;
    let warnings = worst.values().filter(|s| **s == Severity::Warning).count() as u64;
    let successes = (report.files as u64).saturating_sub(failures + warnings);
    let outcome = if failures > 0 {
        Outcome::Failure
    } else if warnings > 0 {
        Outcome::Warning
    } else {
        Outcome::Success
    };
    let note = format!(
        "stepkit task lint: {} errors, {} warnings, {} infos in {} files",
        report.count(Severity::Error),
        report.count(Severity::Warning),
        report.count(Severity::Info),
        report.files
    );
    let results_dir = crate::core::tekton::results_dir(options.results_dir.as_deref());
    let emit = EmitOptions {
        result: Some(outcome),
        successes: Some(successes),
        failures: Some(failures),
        warnings: Some(warnings),
        note: Some(note),
        outputs: OutputPaths::resolve(
            results_dir.as_deref(),
            options.test_output_path.clone(),
            None,
            None,
            false,
        ),
        ..EmitOptions::default()
    };
    crate::result::emit(&emit)?;
    Ok(())
}

/// What the rule modules' unit tests share: lint one YAML text in memory.
#[cfg(test)]
pub(crate) mod testing {
    use super::finding::Finding;
    use super::{lint_files, Config, Profile, SourceFile};

    /// Lints `yaml` as the file at `path` (`-` for stdin, so no file-system rule looks around it)
    /// with the default configuration changed by `configure`.
    pub fn lint_at(path: &str, yaml: &str, configure: impl FnOnce(&mut Config)) -> Vec<Finding> {
        let mut config = Config::default();
        configure(&mut config);
        lint_files(vec![SourceFile::parse(path.into(), yaml.into())], &config).findings
    }

    /// Lints `yaml` as `t.yaml` in `profile`.
    pub fn lint_in(profile: Profile, yaml: &str) -> Vec<Finding> {
        lint_at("t.yaml", yaml, |config| config.options.profile = profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_reads_an_embedded_spec_as_tekton_does_without_regard_to_case() {
        // `Steps` is renamed before the keys inside it, which the walk found under `steps`.
        let yaml = "apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: t
spec:
  taskSpec:
    Steps:
      - name: read
        image: x
        WorkingDir: /tmp
        volumeMounts:
          - name: creds
            mountpath: /creds
";
        let file = SourceFile::parse("t.yaml".into(), yaml.into());
        let corpus = Corpus::build(vec![file], Profile::Core);
        let Some(Resource::TaskRun(run)) = &corpus.docs[0].resource else {
            panic!("{:?}", corpus.docs[0].decode_errors);
        };
        let step = &run.task_spec.as_ref().expect("taskSpec").steps[0].container;
        assert_eq!(step.working_dir.as_deref(), Some("/tmp"));
        assert_eq!(step.volume_mounts[0].mount_path, "/creds");
    }
}
