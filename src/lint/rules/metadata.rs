//! Catalog hygiene: descriptions and defaults, where a definition lives on disk
//! (`<kind>/<name>/<version>/<name>.yaml`), the labels and annotations the Tekton catalog, catlin
//! and Konflux CI require (version, minVersion, categories, tags, displayName, platforms), the
//! files beside a definition (README.md, OWNERS or CODEOWNERS, tests/) and deprecation.
//!
//! The catalog rules apply to Task, Pipeline and StepAction documents that are catalog
//! resources: files under a `tests/`, `samples/` or `examples/` directory, or deeper than
//! `<kind>/<name>/<version>/`, are not (catalog CI applies them as fixtures or ignores them).
//! The file-system rules need a file on disk inside a kind directory (`task/`, `tasks/`,
//! `pipeline/`, `stepaction/`, `partners/`...).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::super::config::{Profile, Versioning};
use super::super::finding::{FieldPath, Location, Severity};
use super::super::{SourceFile, TektonDoc};
use super::RuleId;
use super::{Check, Sink};
use crate::core::glob::{Anchor, GlobSet};
use crate::tekton::expr;
use crate::tekton::model::{Kind, ParamSpec, Resource, ResultSpec};

/// Directories a catalog keeps definitions in. stepkit keeps Tasks and StepActions together in
/// `tasks/`, so any of them is accepted for any kind.
const KIND_DIRS: &[&str] = &[
    "task",
    "tasks",
    "pipeline",
    "pipelines",
    "stepaction",
    "stepactions",
    "partners",
];

/// Directories whose YAML is test input or documentation, not catalog resources.
const SAMPLE_DIRS: &[&str] = &["tests", "samples", "examples"];

/// How far above a file a kind directory is looked for (`task/x/0.1/tests/fixtures/a.yaml`).
const MAX_KIND_DIR_DEPTH: usize = 5;

/// Params a Konflux pipeline passes to every task it runs, so they need no default.
pub(super) const PIPELINE_PROVIDED_PARAMS: &[&str] = &[
    "image-url",
    "image-digest",
    "IMAGE_URL",
    "IMAGE_DIGEST",
    "SOURCE_ARTIFACT",
    "CACHI2_ARTIFACT",
];

/// The catalog rules that need to know where the file is.
const PLACEMENT_RULES: &[RuleId] = &[
    RuleId::CatalogLayout,
    RuleId::VersionLabel,
    RuleId::MinPipelinesVersion,
    RuleId::Categories,
    RuleId::TagsDisplayName,
    RuleId::Platforms,
    RuleId::ReadmePresent,
    RuleId::OwnersPresent,
    RuleId::TestsPresent,
    RuleId::Changelog,
];

const VERSION_LABEL: &str = "app.kubernetes.io/version";
const MIN_VERSION: &str = "tekton.dev/pipelines.minVersion";
const CATEGORIES: &str = "tekton.dev/categories";
const PLATFORMS: &str = "tekton.dev/platforms";
const DEPRECATED: &str = "tekton.dev/deprecated";

/// GOOS values (`go tool dist list`, plus the ones Go reserves).
#[rustfmt::skip]
const KNOWN_OS: &[&str] = &[
    "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "netbsd",
    "openbsd", "plan9", "solaris", "wasip1", "windows", "zos",
];

/// GOARCH values (`go tool dist list`, plus the ones Go reserves).
#[rustfmt::skip]
const KNOWN_ARCH: &[&str] = &[
    "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64", "mips", "mipsle", "mips64",
    "mips64le", "mips64p32", "mips64p32le", "ppc", "ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x", "sparc",
    "sparc64", "wasm",
];

pub fn check(check: &Check, sink: &mut Sink) {
    deprecation(check.doc, sink);
    param_defaults(check.doc, sink);
    if !is_definition(check.doc) {
        return;
    }
    let needs_placement = PLACEMENT_RULES.iter().any(|rule| sink.enabled(*rule))
        || (check.options.profile == Profile::Catalog && sink.enabled(RuleId::DescriptionMissing));
    let placement = if needs_placement {
        Placement::of(check.file)
    } else {
        Placement::Stdin
    };
    descriptions(check, &placement, sink);
    if matches!(placement, Placement::Supporting) {
        return;
    }
    layout(check, &placement, sink);
    version_label(check, &placement, sink);
    min_pipelines_version(check.doc, sink);
    categories(check, sink);
    tags_and_display_name(check.doc, sink);
    platforms(check.doc, sink);
    if let Placement::Tree(tree) = &placement {
        readme(check, tree, sink);
        owners(tree, sink);
        tests_dir(check, tree, sink);
        changelog(check, tree, sink);
    }
}

/// Tasks, Pipelines and StepActions are published; runs are not.
fn is_definition(doc: &TektonDoc) -> bool {
    matches!(doc.kind, Kind::Task | Kind::Pipeline | Kind::StepAction)
}

// ---------------------------------------------------------------------------------------------
// Where the file is

/// Where a definition's file sits relative to a catalog tree.
#[derive(Debug)]
enum Placement {
    /// Read from stdin (or not looked up): no path to check.
    Stdin,
    /// Test input, a sample, an example, or a file deeper than a version directory: supporting
    /// material, not a catalog resource.
    Supporting,
    /// On disk, but not inside a kind directory.
    Outside,
    Tree(Tree),
}

/// A file inside a kind directory: `<kind_dir>/<dirs...>/<file_name>`.
#[derive(Debug)]
struct Tree {
    kind_dir: PathBuf,
    dirs: Vec<String>,
    file_name: String,
}

impl Placement {
    fn of(file: &SourceFile) -> Placement {
        if file.dir().is_none() {
            return Placement::Stdin;
        }
        let path = std::fs::canonicalize(&file.path)
            .or_else(|_| std::path::absolute(&file.path))
            .unwrap_or_else(|_| file.path.clone());
        let file_name = dir_name(&path).to_string();
        let ancestors: Vec<&Path> = path.ancestors().skip(1).take(MAX_KIND_DIR_DEPTH).collect();
        let Some(depth) = ancestors
            .iter()
            .position(|dir| KIND_DIRS.contains(&dir_name(dir)))
        else {
            // `examples/x/pipeline.yaml` or `samples/run.yaml`.
            let in_samples = ancestors
                .iter()
                .take(2)
                .any(|dir| SAMPLE_DIRS.contains(&dir_name(dir)));
            return if in_samples {
                Placement::Supporting
            } else {
                Placement::Outside
            };
        };
        let kind_dir = ancestors[depth];
        let dirs: Vec<String> = ancestors[..depth]
            .iter()
            .rev()
            .map(|dir| dir_name(dir).to_string())
            .collect();
        // Catalog CI validates only `<kind>/<name>/<version>/<name>.yaml`: anything deeper, or in
        // a `tasks/` inside a version directory (a Pipeline's own Tasks), is supporting material.
        // The first directory is the resource's name, which may be anything.
        let supporting = dirs.len() > 2
            || dirs
                .iter()
                .skip(1)
                .any(|dir| SAMPLE_DIRS.contains(&dir.as_str()))
            || kind_dir
                .parent()
                .is_some_and(|parent| is_version_dir(dir_name(parent)));
        if supporting {
            Placement::Supporting
        } else {
            Placement::Tree(Tree {
                kind_dir: kind_dir.to_path_buf(),
                dirs,
                file_name,
            })
        }
    }
}

/// Whether the file is test input, a sample or other supporting material of a catalog resource
/// (`task/x/0.1/tests/run.yaml`), rather than a definition of its own.
pub(super) fn is_supporting_file(file: &SourceFile) -> bool {
    matches!(Placement::of(file), Placement::Supporting)
}

fn dir_name(path: &Path) -> &str {
    path.file_name().and_then(OsStr::to_str).unwrap_or("")
}

impl Tree {
    fn kind_dir_name(&self) -> &str {
        dir_name(&self.kind_dir)
    }

    /// Whether this kind directory is where a catalog keeps `kind`: `task/` Tasks, `pipeline/`
    /// Pipelines, `stepaction/` StepActions (plurals alike); `tasks/` and `partners/` also keep
    /// StepActions beside the Tasks that use them.
    fn holds(&self, kind: Kind) -> bool {
        match self.kind_dir_name() {
            "task" => kind == Kind::Task,
            "tasks" | "partners" => matches!(kind, Kind::Task | Kind::StepAction),
            "pipeline" | "pipelines" => kind == Kind::Pipeline,
            "stepaction" | "stepactions" => kind == Kind::StepAction,
            _ => true,
        }
    }

    /// The kind directory `kind` belongs in, spelled like this tree's (`pipelines/` next to
    /// `tasks/`).
    fn dir_for(&self, kind: Kind) -> String {
        let here = self.kind_dir_name();
        if self.holds(kind) {
            here.to_string()
        } else if here.ends_with('s') && here != "partners" {
            format!("{}s", kind.catalog_dir())
        } else {
            kind.catalog_dir().to_string()
        }
    }

    fn is_partner(&self) -> bool {
        self.kind_dir_name() == "partners"
    }

    /// Partner tasks always use version directories; others follow the versioning option.
    fn versioning(&self, versioning: Versioning) -> Versioning {
        if self.is_partner() {
            Versioning::Directory
        } else {
            versioning
        }
    }

    /// The version directory, when the file is at `<kind>/<name>/<x.y>/<file>`.
    fn version_dir(&self) -> Option<&str> {
        match self.dirs.as_slice() {
            [_, version] if is_version_dir(version) => Some(version),
            _ => None,
        }
    }

    fn file_dir(&self) -> PathBuf {
        self.dirs
            .iter()
            .fold(self.kind_dir.clone(), |dir, name| dir.join(name))
    }

    /// The file's directory and those above it, up to (not including) the kind directory.
    fn dirs_up_to_kind_dir(&self) -> Vec<PathBuf> {
        let mut dir = self.file_dir();
        let mut found = Vec::new();
        while dir != self.kind_dir && dir.starts_with(&self.kind_dir) {
            found.push(dir.clone());
            dir.pop();
        }
        found
    }

    fn relative_path(&self) -> String {
        let mut parts = vec![self.kind_dir_name()];
        parts.extend(self.dirs.iter().map(String::as_str));
        parts.push(&self.file_name);
        parts.join("/")
    }

    fn fits(&self, name: &str, versioning: Versioning) -> bool {
        let file_fits =
            self.file_name == format!("{name}.yaml") || self.file_name == format!("{name}.yml");
        let dirs_fit = match (self.versioning(versioning), self.dirs.as_slice()) {
            (Versioning::Directory, [dir, version]) => dir == name && is_version_dir(version),
            (Versioning::Git, [dir]) => dir == name,
            _ => false,
        };
        file_fits && dirs_fit
    }
}

/// `0.1`, `1.12`: a catalog version directory.
fn is_version_dir(name: &str) -> bool {
    matches!(name.split('.').collect::<Vec<_>>().as_slice(), [major, minor] if is_number(major) && is_number(minor))
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

// ---------------------------------------------------------------------------------------------
// Labels and annotations

/// A label or annotation value.
enum MetaValue<'a> {
    Missing,
    /// A number or boolean: Kubernetes accepts only strings here.
    NotString,
    Text(&'a str),
}

fn label<'a>(doc: &'a TektonDoc, key: &str) -> (FieldPath, MetaValue<'a>) {
    meta_value(doc, "labels", key)
}

fn annotation<'a>(doc: &'a TektonDoc, key: &str) -> (FieldPath, MetaValue<'a>) {
    meta_value(doc, "annotations", key)
}

fn meta_value<'a>(doc: &'a TektonDoc, section: &str, key: &str) -> (FieldPath, MetaValue<'a>) {
    let path = FieldPath::root()
        .field("metadata")
        .field(section)
        .field(key);
    let values = if section == "labels" {
        &doc.metadata.labels
    } else {
        &doc.metadata.annotations
    };
    let value = match values.get(key) {
        None => MetaValue::Missing,
        Some(serde_json::Value::String(text)) => MetaValue::Text(text),
        Some(_) => MetaValue::NotString,
    };
    (path, value)
}

fn not_string_message(section: &str, key: &str) -> String {
    format!("{section} {key:?} must be a string; quote its value")
}

/// An annotation's path and its non-empty value; None when it is not a string (reported under
/// `rule`, so there is nothing more to check).
fn annotation_text<'a>(
    doc: &'a TektonDoc,
    key: &str,
    rule: RuleId,
    sink: &mut Sink,
) -> Option<(FieldPath, Option<&'a str>)> {
    let (path, value) = annotation(doc, key);
    match value {
        MetaValue::NotString => {
            sink.report(
                rule,
                Location::Field(path),
                not_string_message("annotation", key),
            );
            None
        }
        MetaValue::Text(text) if !text.trim().is_empty() => Some((path, Some(text))),
        _ => Some((path, None)),
    }
}

/// The comma-separated items of an annotation, trimmed, with their byte offsets.
fn list_items(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split(',').filter_map(move |raw| {
        let start = offset + (raw.len() - raw.trim_start().len());
        offset += raw.len() + 1;
        let item = raw.trim();
        (!item.is_empty()).then_some((start, item))
    })
}

fn in_annotation(path: &FieldPath, text: &str, offset: usize) -> Location {
    let (line, column) = expr::line_col(text, offset);
    Location::InScalar {
        path: path.clone(),
        line,
        column,
    }
}

// ---------------------------------------------------------------------------------------------
// description-missing, param-default-missing, deprecated-resource

fn descriptions(check: &Check, placement: &Placement, sink: &mut Sink) {
    if !sink.enabled(RuleId::DescriptionMissing) {
        return;
    }
    let spec = FieldPath::root().field("spec");
    let (description, params, results): (&Option<String>, &[ParamSpec], &[ResultSpec]) =
        match &check.doc.resource {
            Some(Resource::Task(task)) => (&task.description, &task.params, &task.results),
            Some(Resource::Pipeline(pipeline)) => {
                (&pipeline.description, &pipeline.params, &pipeline.results)
            }
            Some(Resource::StepAction(action)) => {
                (&action.description, &action.params, &action.results)
            }
            _ => return,
        };
    if is_blank(description) {
        let message = format!(
            "{} {:?} has no spec.description; add a one-line summary, a blank line and a paragraph on what it does",
            check.doc.raw_kind,
            check.doc.name()
        );
        // catlin rejects a catalog resource without one.
        let catalog_resource = check.options.profile == Profile::Catalog
            && !matches!(placement, Placement::Supporting);
        let location = Location::Field(spec.field("description"));
        if catalog_resource {
            sink.report_as(
                RuleId::DescriptionMissing,
                Severity::Error,
                location,
                message,
            );
        } else {
            sink.report(RuleId::DescriptionMissing, location, message);
        }
    }
    for (i, param) in params.iter().enumerate() {
        if is_blank(&param.description) {
            let path = spec.item("params", i).field("name");
            let message = format!(
                "param {:?} has no description; say what it is for and its format",
                param.name
            );
            sink.report(RuleId::DescriptionMissing, Location::Field(path), message);
        }
    }
    for (i, result) in results.iter().enumerate() {
        if is_blank(&result.description) {
            let path = spec.item("results", i).field("name");
            let message = format!(
                "result {:?} has no description; say what it holds and its format",
                result.name
            );
            sink.report(RuleId::DescriptionMissing, Location::Field(path), message);
        }
    }
}

fn is_blank(text: &Option<String>) -> bool {
    text.as_deref().is_none_or(|t| t.trim().is_empty())
}

/// A Task's params should have defaults, except the ones every Konflux pipeline passes.
fn param_defaults(doc: &TektonDoc, sink: &mut Sink) {
    let Some(Resource::Task(task)) = &doc.resource else {
        return;
    };
    for (i, param) in task.params.iter().enumerate() {
        if param.default.is_some() || PIPELINE_PROVIDED_PARAMS.contains(&param.name.as_str()) {
            continue;
        }
        let path = FieldPath::root()
            .field("spec")
            .item("params", i)
            .field("name");
        let message = format!(
            "param {:?} has no default, so every pipeline must pass it; give it a reasonable default if there is one",
            param.name
        );
        sink.report(RuleId::ParamDefaultMissing, Location::Field(path), message);
    }
}

fn deprecation(doc: &TektonDoc, sink: &mut Sink) {
    if !doc.is_deprecated() {
        return;
    }
    let section = if doc.metadata.annotations.contains_key(DEPRECATED) {
        "annotations"
    } else {
        "labels"
    };
    let path = FieldPath::root()
        .field("metadata")
        .field(section)
        .field(DEPRECATED);
    let message = format!(
        "{} {:?} is marked deprecated; use its replacement, or drop the marker if it is maintained again",
        doc.raw_kind,
        doc.name()
    );
    sink.report(RuleId::DeprecatedResource, Location::Field(path), message);
}

// ---------------------------------------------------------------------------------------------
// catalog-layout, version-label

fn layout(check: &Check, placement: &Placement, sink: &mut Sink) {
    let name = check.doc.name();
    if name.is_empty() || !sink.enabled(RuleId::CatalogLayout) {
        return;
    }
    let versioning = check.options.versioning;
    let (found, expected) = match placement {
        Placement::Stdin | Placement::Supporting => return,
        Placement::Tree(tree) if tree.fits(name, versioning) && tree.holds(check.doc.kind) => {
            return
        }
        Placement::Tree(tree) => {
            let version = tree
                .version_dir()
                .map(str::to_string)
                .or_else(|| label_version(check.doc));
            let expected = expected_path(
                &tree.dir_for(check.doc.kind),
                name,
                tree.versioning(versioning),
                version.as_deref(),
            );
            (tree.relative_path(), expected)
        }
        Placement::Outside => {
            let partner = check.options.profile == Profile::Partner && check.doc.kind == Kind::Task;
            let kind_dir = if partner {
                "partners"
            } else {
                check.doc.kind.catalog_dir()
            };
            let versioning = if partner {
                Versioning::Directory
            } else {
                versioning
            };
            let expected = expected_path(
                kind_dir,
                name,
                versioning,
                label_version(check.doc).as_deref(),
            );
            (check.file.display_path(), expected)
        }
    };
    let message = format!(
        "{} {name:?} is at {found}; a catalog keeps it at {expected} (the file named after metadata.name)",
        check.doc.raw_kind
    );
    sink.report(
        RuleId::CatalogLayout,
        Location::Field(FieldPath::root().field("metadata").field("name")),
        message,
    );
}

fn expected_path(
    kind_dir: &str,
    name: &str,
    versioning: Versioning,
    version: Option<&str>,
) -> String {
    match versioning {
        Versioning::Directory => format!(
            "{kind_dir}/{name}/{}/{name}.yaml",
            version.unwrap_or("<version>")
        ),
        Versioning::Git => format!("{kind_dir}/{name}/{name}.yaml"),
    }
}

/// The `x.y` of a well-formed version label.
fn label_version(doc: &TektonDoc) -> Option<String> {
    match label(doc, VERSION_LABEL).1 {
        MetaValue::Text(version) if is_version_label(version) => {
            Some(major_minor(version).to_string())
        }
        _ => None,
    }
}

/// `0.1`, `0.2.1`.
fn is_version_label(version: &str) -> bool {
    let parts: Vec<&str> = version.split('.').collect();
    (2..=3).contains(&parts.len()) && parts.iter().all(|p| is_number(p))
}

fn major_minor(version: &str) -> &str {
    match version.match_indices('.').nth(1) {
        Some((at, _)) => &version[..at],
        None => version,
    }
}

fn version_label(check: &Check, placement: &Placement, sink: &mut Sink) {
    let doc = check.doc;
    // catlin checks every catalog resource; Konflux CI checks the Tasks in its task tree.
    let konflux = matches!(check.options.profile, Profile::Konflux | Profile::Partner);
    if konflux && (doc.kind != Kind::Task || matches!(placement, Placement::Outside)) {
        return;
    }
    let (path, value) = label(doc, VERSION_LABEL);
    let location = Location::Field(path);
    let version = match value {
        MetaValue::Missing => {
            let message =
                format!("no {VERSION_LABEL} label; add one with the version, e.g. \"0.1\"");
            return sink.report(RuleId::VersionLabel, location, message);
        }
        MetaValue::NotString => {
            return sink.report(
                RuleId::VersionLabel,
                location,
                not_string_message("label", VERSION_LABEL),
            )
        }
        MetaValue::Text(version) => version,
    };
    if !is_version_label(version) {
        let message =
            format!("{VERSION_LABEL} {version:?} is not a version like \"0.1\" or \"0.2.1\"; use x.y or x.y.z");
        return sink.report(RuleId::VersionLabel, location, message);
    }
    let Placement::Tree(tree) = placement else {
        return;
    };
    if tree.versioning(check.options.versioning) != Versioning::Directory {
        return;
    }
    if let Some(dir) = tree
        .version_dir()
        .filter(|dir| *dir != major_minor(version))
    {
        let message = format!(
            "{VERSION_LABEL} {version:?} does not match the version directory {dir:?}; set it to \"{dir}\" (or a {dir}.z patch version), or move the file"
        );
        sink.report(RuleId::VersionLabel, location, message);
    }
}

// ---------------------------------------------------------------------------------------------
// min-pipelines-version, categories, tags-display-name, platforms

fn min_pipelines_version(doc: &TektonDoc, sink: &mut Sink) {
    let Some((path, text)) = annotation_text(doc, MIN_VERSION, RuleId::MinPipelinesVersion, sink)
    else {
        return;
    };
    match text {
        None => sink.report(
            RuleId::MinPipelinesVersion,
            Location::Field(path),
            format!(
                "no {MIN_VERSION} annotation; add the oldest Tekton Pipelines release this works with, e.g. \"0.50.0\""
            ),
        ),
        Some(version) if !is_semver(version) => sink.report(
            RuleId::MinPipelinesVersion,
            Location::Field(path),
            format!("{MIN_VERSION} {version:?} is not a version; use a Tekton Pipelines release like \"0.50.0\""),
        ),
        Some(_) => {}
    }
}

/// `0.50.0`, `v0.50`, `0.50.0-rc1`.
fn is_semver(version: &str) -> bool {
    let version = version.strip_prefix('v').unwrap_or(version);
    let (core, pre_release) = match version.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (version, None),
    };
    let pre_release_ok = pre_release.is_none_or(|pre| {
        !pre.is_empty()
            && pre
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    });
    is_version_label(core) && pre_release_ok
}

fn categories(check: &Check, sink: &mut Sink) {
    let Some((path, text)) = annotation_text(check.doc, CATEGORIES, RuleId::Categories, sink)
    else {
        return;
    };
    let Some(text) = text else {
        let message = format!(
            "no {CATEGORIES} annotation; add one or more Tekton Hub categories, comma-separated (e.g. \"Build Tools\")"
        );
        return sink.report(RuleId::Categories, Location::Field(path), message);
    };
    let known = &check.options.categories;
    for (offset, item) in list_items(text) {
        if known.iter().any(|k| k == item) {
            continue;
        }
        let message = match known.iter().find(|k| k.eq_ignore_ascii_case(item)) {
            Some(spelled) => format!(
                "category {item:?} is spelled {spelled:?} in the Tekton Hub list; categories are case-sensitive"
            ),
            None => format!("category {item:?} is not a Tekton Hub category; use one of: {}", known.join(", ")),
        };
        sink.report(
            RuleId::Categories,
            in_annotation(&path, text, offset),
            message,
        );
    }
}

fn tags_and_display_name(doc: &TektonDoc, sink: &mut Sink) {
    for (key, what) in [
        ("tekton.dev/tags", "comma-separated search keywords"),
        ("tekton.dev/displayName", "a human-readable name"),
    ] {
        if let Some((path, None)) = annotation_text(doc, key, RuleId::TagsDisplayName, sink) {
            let message = format!("no {key} annotation; add {what} for the Tekton Hub");
            sink.report(RuleId::TagsDisplayName, Location::Field(path), message);
        }
    }
}

fn platforms(doc: &TektonDoc, sink: &mut Sink) {
    let Some((path, text)) = annotation_text(doc, PLATFORMS, RuleId::Platforms, sink) else {
        return;
    };
    let Some(text) = text else {
        let message =
            format!("no {PLATFORMS} annotation; list the platforms this runs on, e.g. \"linux/amd64,linux/arm64\"");
        return sink.report(RuleId::Platforms, Location::Field(path), message);
    };
    for (offset, item) in list_items(text) {
        let location = in_annotation(&path, text, offset);
        let parts: Vec<&str> = item.split('/').collect();
        let well_formed = (2..=3).contains(&parts.len())
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !well_formed {
            let message =
                format!("platform {item:?} is not os/arch or os/arch/variant (e.g. linux/amd64, linux/arm/v7)");
            sink.report_as(RuleId::Platforms, Severity::Error, location, message);
        } else if !KNOWN_OS.contains(&parts[0]) {
            let message = format!(
                "platform {item:?}: {:?} is not an operating system Go knows (linux, windows, darwin...)",
                parts[0]
            );
            sink.report_as(RuleId::Platforms, Severity::Warning, location, message);
        } else if !KNOWN_ARCH.contains(&parts[1]) {
            let suggestion = closest_arch(parts[1])
                .map(|arch| format!("; did you mean {arch}?"))
                .unwrap_or_default();
            let message = format!(
                "platform {item:?}: {:?} is not an architecture Go knows (amd64, arm64, s390x, ppc64le...){suggestion}",
                parts[1]
            );
            sink.report_as(RuleId::Platforms, Severity::Warning, location, message);
        }
    }
}

/// The one known architecture that contains a misspelled one (`390x` → `s390x`).
fn closest_arch(arch: &str) -> Option<&'static str> {
    let mut candidates = KNOWN_ARCH.iter().filter(|known| known.contains(arch));
    match (candidates.next(), candidates.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// readme-present, owners-present, tests-present

fn readme(check: &Check, tree: &Tree, sink: &mut Sink) {
    if !sink.enabled(RuleId::ReadmePresent) {
        return;
    }
    let path = tree.file_dir().join("README.md");
    let Ok(text) = std::fs::read_to_string(&path) else {
        let message = format!(
            "no README.md beside {}; document what it does, its params, results and workspaces, and an example",
            tree.relative_path()
        );
        return sink.report(RuleId::ReadmePresent, Location::File, message);
    };
    // The catalog recommends a Platforms section; a recommendation, so only info.
    if check.options.profile == Profile::Catalog && !has_platforms_heading(&text) {
        let message = "README.md has no \"Platforms\" section; add one listing the platforms the resource runs on";
        sink.report_as(
            RuleId::ReadmePresent,
            Severity::Info,
            Location::File,
            message,
        );
    }
}

fn has_platforms_heading(markdown: &str) -> bool {
    markdown
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix('#'))
        .any(|heading| heading.to_ascii_lowercase().contains("platforms"))
}

fn owners(tree: &Tree, sink: &mut Sink) {
    if !sink.enabled(RuleId::OwnersPresent) {
        return;
    }
    if tree.is_partner() {
        let name = tree.dirs.first().map_or("<name>", String::as_str);
        if !tree.kind_dir.join(name).join("OWNERS").is_file() {
            let message = format!(
                "no partners/{name}/OWNERS; add one with the approvers and reviewers of this task"
            );
            sink.report(RuleId::OwnersPresent, Location::File, message);
        }
        return;
    }
    let has_owners = tree
        .dirs_up_to_kind_dir()
        .iter()
        .any(|dir| dir.join("OWNERS").is_file());
    if !has_owners && !covered_by_codeowners(&tree.file_dir().join(&tree.file_name)) {
        let message = format!(
            "no OWNERS file for {} and no CODEOWNERS entry covering it; add OWNERS in its directory or a CODEOWNERS line",
            tree.relative_path()
        );
        sink.report(RuleId::OwnersPresent, Location::File, message);
    }
}

/// Whether the repository's CODEOWNERS (root, `.github/` or `docs/`, found upward from the file
/// until a `.git`) gives the file an owner.
fn covered_by_codeowners(file: &Path) -> bool {
    for dir in file.ancestors().skip(1) {
        let found = ["CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS"]
            .iter()
            .find_map(|candidate| std::fs::read_to_string(dir.join(candidate)).ok());
        if let Some(codeowners) = found {
            let relative = file.strip_prefix(dir).unwrap_or(file);
            let relative: Vec<&str> = relative.iter().filter_map(OsStr::to_str).collect();
            return codeowners_owns(&codeowners, &relative.join("/"));
        }
        if dir.join(".git").exists() {
            return false;
        }
    }
    false
}

/// CODEOWNERS semantics: the last matching pattern wins, and a pattern without owners unowns.
fn codeowners_owns(codeowners: &str, path: &str) -> bool {
    let mut owned = false;
    for line in codeowners.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut fields = line.split_whitespace();
        let Some(pattern) = fields.next() else {
            continue;
        };
        // gitignore's rules, from the repository root; a matched directory owns its files.
        let matches = GlobSet::new(&[pattern], Anchor::Root)
            .is_ok_and(|set| set.matches_within(path.as_bytes(), false));
        if matches {
            owned = fields.next().is_some();
        }
    }
    owned
}

fn tests_dir(check: &Check, tree: &Tree, sink: &mut Sink) {
    if !sink.enabled(RuleId::TestsPresent) {
        return;
    }
    // The catalog keeps tests per version; Konflux also per task.
    let candidates = if check.options.profile == Profile::Catalog {
        vec![tree.file_dir()]
    } else {
        tree.dirs_up_to_kind_dir()
    };
    if !candidates.iter().any(|dir| dir.join("tests").is_dir()) {
        let message = format!(
            "no tests/ directory beside {}; add runs (TaskRun/PipelineRun YAML) that exercise it",
            tree.relative_path()
        );
        sink.report(RuleId::TestsPresent, Location::File, message);
    }
}

/// Konflux ADR 54: a task keeps `<kind>/<name>/CHANGELOG.md`, with an entry for every version.
fn changelog(check: &Check, tree: &Tree, sink: &mut Sink) {
    if !sink.enabled(RuleId::Changelog) || check.doc.kind != Kind::Task || tree.is_partner() {
        return;
    }
    let Some(task_dir_name) = tree.dirs.first() else {
        return;
    };
    if !tree
        .kind_dir
        .join(task_dir_name)
        .join("CHANGELOG.md")
        .is_file()
    {
        let message = format!(
            "no CHANGELOG.md in {}/{task_dir_name}/; add one with an entry for every version of the task",
            tree.kind_dir_name()
        );
        sink.report(RuleId::Changelog, Location::File, message);
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::finding::Finding;
    use super::super::super::{Config, Profile, SourceFile, Versioning};
    use super::*;

    fn lint_at(path: PathBuf, yaml: &str, profile: Profile) -> Vec<Finding> {
        let mut config = Config::default();
        config.options.profile = profile;
        crate::lint::lint_files(vec![SourceFile::parse(path, yaml.into())], &config).findings
    }

    fn lint(yaml: &str, profile: Profile) -> Vec<Finding> {
        lint_at("-".into(), yaml, profile)
    }

    fn of_rule<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
        findings.iter().filter(|f| f.rule == rule).collect()
    }

    /// A scratch directory tree, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(test: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!(
                "stepkit-lint-metadata-{test}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn write(&self, relative: &str, text: &str) -> PathBuf {
            let path = self.0.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const CATALOG_TASK: &str = r#"apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: hello
  labels:
    app.kubernetes.io/version: "0.1"
  annotations:
    tekton.dev/pipelines.minVersion: "0.50.0"
    tekton.dev/categories: Developer Tools
    tekton.dev/tags: greeting
    tekton.dev/displayName: Hello
    tekton.dev/platforms: "linux/amd64,linux/arm64"
spec:
  description: Says hello.
  params:
    - name: who
      description: Whom to greet.
      default: world
  steps:
    - name: greet
      image: registry.access.redhat.com/ubi9/ubi-minimal:9.4
      script: echo hello
"#;

    #[test]
    fn a_complete_catalog_task_passes_the_content_rules() {
        let findings = lint(CATALOG_TASK, Profile::Catalog);
        let ours: Vec<_> = findings
            .iter()
            .filter(|f| PLACEMENT_RULES.iter().any(|r| r.as_str() == f.rule))
            .collect();
        assert!(ours.is_empty(), "{ours:#?}");
        assert!(of_rule(&findings, "description-missing").is_empty());
    }

    #[test]
    fn spec_description_is_an_error_only_in_the_catalog_profile() {
        let yaml = CATALOG_TASK.replace("  description: Says hello.\n", "");
        let catalog = lint(&yaml, Profile::Catalog);
        assert_eq!(
            of_rule(&catalog, "description-missing")[0].severity,
            Severity::Error
        );
        let core = lint(&yaml, Profile::Core);
        assert_eq!(
            of_rule(&core, "description-missing")[0].severity,
            Severity::Warning
        );
        let undocumented_param = CATALOG_TASK.replace("      description: Whom to greet.\n", "");
        let hits = lint(&undocumented_param, Profile::Core);
        let hits = of_rule(&hits, "description-missing");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].line, 16);
    }

    #[test]
    fn params_without_defaults_except_pipeline_inputs() {
        let yaml = CATALOG_TASK.replace(
            "      default: world\n",
            "    - name: IMAGE_URL\n      description: The image.\n",
        );
        let findings = lint(&yaml, Profile::Partner);
        let hits = of_rule(&findings, "param-default-missing");
        assert_eq!(hits.len(), 1, "{hits:#?}");
        assert!(hits[0].message.contains("\"who\""));
        assert_eq!(hits[0].severity, Severity::Warning);
    }

    #[test]
    fn version_label_format_and_quoting() {
        let unquoted = CATALOG_TASK.replace("\"0.1\"", "0.1");
        let hits = lint(&unquoted, Profile::Catalog);
        assert!(of_rule(&hits, "version-label")[0].message.contains("quote"));
        let bad = CATALOG_TASK.replace("\"0.1\"", "\"v1\"");
        let hits = lint(&bad, Profile::Catalog);
        assert_eq!(of_rule(&hits, "version-label")[0].line, 6);
        assert!(
            is_version_label("0.2.1") && !is_version_label("0.2.1.4") && !is_version_label("1")
        );
    }

    #[test]
    fn min_version_must_be_a_version() {
        assert!(is_semver("0.50.0") && is_semver("v0.50") && is_semver("1.0.0-rc.1"));
        assert!(!is_semver("latest") && !is_semver("0.50.x") && !is_semver("0.50.0-"));
        let bad = CATALOG_TASK.replace("\"0.50.0\"", "latest");
        assert_eq!(
            of_rule(&lint(&bad, Profile::Catalog), "min-pipelines-version").len(),
            1
        );
    }

    #[test]
    fn categories_are_case_sensitive_with_a_suggestion() {
        let yaml = CATALOG_TASK.replace("Developer Tools", "developer tools, Git, Nope");
        let findings = lint(&yaml, Profile::Catalog);
        let hits = of_rule(&findings, "categories");
        assert_eq!(hits.len(), 2, "{hits:#?}");
        assert!(hits[0].message.contains("spelled \"Developer Tools\""));
        assert!(hits[1].message.contains("\"Nope\""));
        assert!(hits[1].column > hits[0].column);
    }

    #[test]
    fn platforms_malformed_is_an_error_and_unknown_a_warning() {
        let yaml = CATALOG_TASK.replace(
            "linux/amd64,linux/arm64",
            "linux/amd64, linux/390x,linux,linux/arm/v7",
        );
        let findings = lint(&yaml, Profile::Catalog);
        let hits = of_rule(&findings, "platforms");
        assert_eq!(hits.len(), 2, "{hits:#?}");
        assert_eq!(hits[0].severity, Severity::Warning);
        assert!(hits[0].message.contains("did you mean s390x"));
        assert_eq!(hits[1].severity, Severity::Error);
        let missing = CATALOG_TASK.replace(
            "    tekton.dev/platforms: \"linux/amd64,linux/arm64\"\n",
            "",
        );
        let findings = lint(&missing, Profile::Catalog);
        assert_eq!(of_rule(&findings, "platforms")[0].severity, Severity::Info);
    }

    #[test]
    fn tags_and_display_name_each_reported() {
        let yaml = CATALOG_TASK.replace(
            "    tekton.dev/tags: greeting\n    tekton.dev/displayName: Hello\n",
            "",
        );
        assert_eq!(
            of_rule(&lint(&yaml, Profile::Catalog), "tags-display-name").len(),
            2
        );
    }

    #[test]
    fn deprecated_resources_are_noted() {
        let yaml = CATALOG_TASK.replace(
            "  annotations:\n",
            "  annotations:\n    tekton.dev/deprecated: \"true\"\n",
        );
        let findings = lint(&yaml, Profile::Core);
        assert_eq!(of_rule(&findings, "deprecated-resource")[0].line, 8);
        assert!(of_rule(&lint(CATALOG_TASK, Profile::Core), "deprecated-resource").is_empty());
    }

    #[test]
    fn layout_accepts_directory_git_and_partner_layouts() {
        let scratch = Scratch::new("layout");
        let good = scratch.write("task/hello/0.1/hello.yaml", CATALOG_TASK);
        assert!(of_rule(
            &lint_at(good, CATALOG_TASK, Profile::Catalog),
            "catalog-layout"
        )
        .is_empty());
        let partner = scratch.write("partners/hello/0.1/hello.yaml", CATALOG_TASK);
        assert!(of_rule(
            &lint_at(partner, CATALOG_TASK, Profile::Partner),
            "catalog-layout"
        )
        .is_empty());

        let misnamed = scratch.write("tasks/hello/0.1/greeting.yaml", CATALOG_TASK);
        let findings = lint_at(misnamed, CATALOG_TASK, Profile::Catalog);
        let hits = of_rule(&findings, "catalog-layout");
        assert!(
            hits[0].message.contains("tasks/hello/0.1/hello.yaml"),
            "{hits:#?}"
        );

        let flat = scratch.write("task/hello/hello.yaml", CATALOG_TASK);
        let mut config = Config::default();
        config.options.profile = Profile::Catalog;
        let report = crate::lint::lint_files(
            vec![SourceFile::parse(flat.clone(), CATALOG_TASK.into())],
            &config,
        );
        assert!(of_rule(&report.findings, "catalog-layout")[0]
            .message
            .contains("task/hello/0.1/hello.yaml"));
        config.options.versioning = Versioning::Git;
        let report =
            crate::lint::lint_files(vec![SourceFile::parse(flat, CATALOG_TASK.into())], &config);
        assert!(of_rule(&report.findings, "catalog-layout").is_empty());
    }

    #[test]
    fn tests_samples_and_examples_are_not_catalog_resources() {
        let scratch = Scratch::new("samples");
        let bare =
            "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n  tasks: []\n";
        for relative in [
            "task/hello/0.1/tests/run.yaml",
            "task/hello/0.1/samples/p.yaml",
            "examples/demo/pipeline.yaml",
        ] {
            let path = scratch.write(relative, bare);
            let findings = lint_at(path, bare, Profile::Catalog);
            let catalog: Vec<_> = findings
                .iter()
                .filter(|f| PLACEMENT_RULES.iter().any(|r| r.as_str() == f.rule))
                .collect();
            assert!(catalog.is_empty(), "{relative}: {catalog:#?}");
            assert_eq!(
                of_rule(&findings, "description-missing")[0].severity,
                Severity::Warning
            );
        }
    }

    #[test]
    fn files_deeper_than_the_version_directory_are_supporting_material() {
        let scratch = Scratch::new("supporting");
        // openwhisk keeps its own Tasks in pipeline/openwhisk/0.1/tasks/.
        for relative in [
            "pipeline/openwhisk/0.1/tasks/clone.yaml",
            "task/hello/0.1/extra/nested/hello.yaml",
        ] {
            let path = scratch.write(relative, CATALOG_TASK);
            let findings = lint_at(path, CATALOG_TASK, Profile::Catalog);
            let catalog: Vec<_> = findings
                .iter()
                .filter(|f| PLACEMENT_RULES.iter().any(|r| r.as_str() == f.rule))
                .collect();
            assert!(catalog.is_empty(), "{relative}: {catalog:#?}");
        }
    }

    #[test]
    fn konflux_requires_version_labels_on_tasks_in_its_task_tree() {
        let scratch = Scratch::new("konflux-version");
        let unlabeled =
            CATALOG_TASK.replace("  labels:\n    app.kubernetes.io/version: \"0.1\"\n", "");
        let in_tree = scratch.write("task/hello/0.1/hello.yaml", &unlabeled);
        assert_eq!(
            of_rule(
                &lint_at(in_tree, &unlabeled, Profile::Konflux),
                "version-label"
            )
            .len(),
            1
        );
        let elsewhere = scratch.write("ci/hello.yaml", &unlabeled);
        assert!(of_rule(
            &lint_at(elsewhere, &unlabeled, Profile::Konflux),
            "version-label"
        )
        .is_empty());
        let pipeline = "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: hello\nspec:\n  tasks: []\n";
        let in_tree = scratch.write("pipelines/hello/0.1/hello.yaml", pipeline);
        assert!(of_rule(
            &lint_at(in_tree, pipeline, Profile::Konflux),
            "version-label"
        )
        .is_empty());
    }

    #[test]
    fn version_label_matches_the_version_directory() {
        let scratch = Scratch::new("version");
        let patch = CATALOG_TASK.replace("\"0.1\"", "\"0.1.3\"");
        let path = scratch.write("task/hello/0.1/hello.yaml", &patch);
        assert!(of_rule(&lint_at(path, &patch, Profile::Konflux), "version-label").is_empty());
        let other = CATALOG_TASK.replace("\"0.1\"", "\"0.2\"");
        let path = scratch.write("task/hello/0.1/hello.yaml", &other);
        let findings = lint_at(path, &other, Profile::Konflux);
        assert!(of_rule(&findings, "version-label")[0]
            .message
            .contains("\"0.1\""));
    }

    #[test]
    fn readme_owners_and_tests_beside_the_definition() {
        let scratch = Scratch::new("files");
        let path = scratch.write("task/hello/0.1/hello.yaml", CATALOG_TASK);
        let findings = lint_at(path.clone(), CATALOG_TASK, Profile::Catalog);
        for rule in ["readme-present", "owners-present", "tests-present"] {
            assert_eq!(of_rule(&findings, rule).len(), 1, "{rule}: {findings:#?}");
        }
        scratch.write(
            "task/hello/0.1/README.md",
            "# hello\n## Platforms\nlinux/amd64\n",
        );
        scratch.write("task/hello/OWNERS", "approvers:\n  - someone\n");
        scratch.write("task/hello/0.1/tests/run.yaml", "");
        let findings = lint_at(path, CATALOG_TASK, Profile::Catalog);
        for rule in ["readme-present", "owners-present", "tests-present"] {
            assert!(of_rule(&findings, rule).is_empty(), "{rule}: {findings:#?}");
        }
    }

    #[test]
    fn readme_without_platforms_is_info_in_the_catalog_profile() {
        let scratch = Scratch::new("platforms-readme");
        let path = scratch.write("task/hello/0.1/hello.yaml", CATALOG_TASK);
        scratch.write("task/hello/0.1/README.md", "# hello\n");
        let findings = lint_at(path, CATALOG_TASK, Profile::Catalog);
        assert_eq!(
            of_rule(&findings, "readme-present")[0].severity,
            Severity::Info
        );
    }

    #[test]
    fn partner_owners_must_be_in_the_name_directory() {
        let scratch = Scratch::new("partner-owners");
        let path = scratch.write("partners/hello/0.1/hello.yaml", CATALOG_TASK);
        scratch.write("partners/hello/0.1/OWNERS", "approvers: [someone]\n");
        let findings = lint_at(path, CATALOG_TASK, Profile::Partner);
        let hits = of_rule(&findings, "owners-present");
        assert_eq!(hits[0].severity, Severity::Error);
        assert!(hits[0].message.contains("partners/hello/OWNERS"));
    }

    #[test]
    fn codeowners_coverage() {
        assert!(codeowners_owns("* @team\n", "task/a/0.1/a.yaml"));
        assert!(codeowners_owns("/task/a/ @team\n", "task/a/0.1/a.yaml"));
        assert!(!codeowners_owns("/task/b/ @team\n", "task/a/0.1/a.yaml"));
        assert!(!codeowners_owns("* @team\n/task/a/\n", "task/a/0.1/a.yaml"));
        let scratch = Scratch::new("codeowners");
        std::fs::create_dir_all(scratch.0.join(".git")).unwrap();
        scratch.write(".github/CODEOWNERS", "/task/hello @team\n");
        let path = scratch.write("task/hello/0.1/hello.yaml", CATALOG_TASK);
        assert!(covered_by_codeowners(&path));
        let other = scratch.write("task/other/0.1/other.yaml", CATALOG_TASK);
        assert!(!covered_by_codeowners(&other));
    }
}
