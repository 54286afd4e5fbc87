//! The ci-operator configuration of the component's repository: where it lives in
//! openshift/release, fetching it, and patching it so that the Prow job tests the Konflux
//! build instead of building the repository itself.
//!
//! The config is kept as a YAML tree and patched in place, so every field stepkit does not
//! know about passes through unchanged, and values (quotes, `=`, newlines) are never
//! interpolated into an expression. It is sent to Gangway as JSON (`UNRESOLVED_CONFIG`), which
//! ci-operator reads without YAML's scalar guessing.
//!
//! The patches are those of konflux-tasks' provide-prowjob, with its weaknesses fixed: image
//! references are parsed rather than cut at ':', digest references survive ci-operator's
//! `registry/namespace/name:tag` join, the rules ci-operator will apply to `external_images`
//! are checked before the job is triggered, `build_root` is only changed when a replacement is
//! given, both shapes of `images` are handled, sharded job names select their test, a job name
//! that matches no test is an error instead of a config without tests, and environment values
//! reach only multi-stage tests.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use reqwest::Method;
use serde_yaml::{Mapping, Value};

use crate::core::error::Error;
use crate::core::http::{read_body, status_error, url_without_query, HttpClient};
use crate::core::image_ref::ImageReference;

/// The largest ci-operator config downloaded (the biggest in openshift/release are ~100 KiB).
const MAX_CONFIG_BYTES: usize = 8 * 1024 * 1024;
/// The job-name prefixes prowgen generates (`pkg/api/metadata.go` in ci-tools).
const JOB_PREFIXES: [&str; 3] = ["pull", "branch", "periodic"];
/// The gangway env prefix ci-operator copies into every multi-stage test's env.
pub const MULTISTAGE_PARAM_OVERRIDE_PREFIX: &str = "MULTISTAGE_PARAM_OVERRIDE_";
/// What ci-operator imports external images from (an unanchored match in ci-tools).
const EXTERNAL_IMAGE_REGISTRY: &str = "quay.io";

/// Where a ci-operator config lives in openshift/release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigLocation {
    pub org: String,
    pub repo: String,
    pub branch: String,
    pub variant: Option<String>,
}

impl ConfigLocation {
    /// `<org>-<repo>-<branch>[__<variant>].yaml`, as ci-tools names config files.
    pub fn file_name(&self) -> String {
        match self.variant() {
            Some(variant) => format!("{}-{}-{}__{variant}.yaml", self.org, self.repo, self.branch),
            None => format!("{}-{}-{}.yaml", self.org, self.repo, self.branch),
        }
    }

    /// `<release_repo_url>/<ref>/ci-operator/config/<org>/<repo>/<file>`: the raw-file URL of
    /// the config in a checkout of openshift/release served like raw.githubusercontent.com.
    pub fn url(&self, release_repo_url: &str, release_ref: &str) -> String {
        format!(
            "{}/{}/ci-operator/config/{}/{}/{}",
            release_repo_url.trim_end_matches('/'),
            release_ref.trim_matches('/'),
            self.org,
            self.repo,
            self.file_name()
        )
    }

    /// The variant, with an empty one counting as none.
    fn variant(&self) -> Option<&str> {
        self.variant
            .as_deref()
            .filter(|variant| !variant.is_empty())
    }
}

impl fmt::Display for ConfigLocation {
    /// `openshift/konflux-tasks@main`, with ` [variant]` when there is one (ci-tools' style).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.org, self.repo, self.branch)?;
        if let Some(variant) = self.variant() {
            write!(f, " [{variant}]")?;
        }
        Ok(())
    }
}

/// Downloads a ci-operator config (retrying as [`HttpClient::send_idempotent`] does). A 404 is
/// a refusal (exit 5) that says which part of the location to check; other unexpected answers
/// are judged by [`status_error`]; an empty file is an error too.
/// `--release-repo-url`: an http(s) URL with a host. It may hold credentials or a query for a
/// private mirror; messages show it without them.
pub fn parse_release_repo_url(text: &str) -> anyhow::Result<reqwest::Url> {
    let shown = crate::core::http::shown_url(text.trim());
    let invalid = |why: String| {
        anyhow::Error::new(Error::usage(format!(
            "--release-repo-url {shown:?} {why} (expected https://HOST, such as https://raw.githubusercontent.com/openshift/release)"
        )))
    };
    let url = reqwest::Url::parse(text.trim())
        .map_err(|error| invalid(format!("is not a URL: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must be an http(s) URL with a host".into()));
    }
    Ok(url)
}

pub async fn fetch_config(http: &HttpClient, url: &str) -> anyhow::Result<String> {
    let response = http.send_idempotent(http.inner().get(url)).await?;
    let status = response.status();
    // Messages name the URL as the HTTP client does: without a query that may hold a token.
    let url = url_without_query(response.url());
    if status.as_u16() == 404 {
        return Err(Error::refused(config_not_found_message(&url)).into());
    }
    if !status.is_success() {
        return Err(status_error(&Method::GET, response, &[])
            .await
            .context(format!("cannot fetch the ci-operator config {url}")));
    }
    let mut response = response;
    let bytes = read_body(&mut response, MAX_CONFIG_BYTES)
        .await
        .map_err(|problem| {
            Error::remote(format!(
                "cannot read the ci-operator config {url}: {problem}"
            ))
        })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::remote(format!("the ci-operator config {url} is not UTF-8 text")))?;
    if text.trim().is_empty() {
        return Err(Error::remote(format!(
            "the ci-operator config {url} came back empty (HTTP {status}); check the URL, or retry later"
        ))
        .into());
    }
    Ok(text)
}

/// Says what was looked for and which inputs decide it.
fn config_not_found_message(url: &str) -> String {
    let parts = config_url_parts(url)
        .map(|(org, repo, file)| format!(" (org {org:?}, repo {repo:?}, file {file})"))
        .unwrap_or_default();
    format!(
        "no ci-operator config at {url}{parts}: 404 Not Found. Check the org and repo (--config-org/PROWJOB_ORG, \
         --config-repo/PROWJOB_REPO: where the job's config is hosted, not necessarily the component's repo), \
         the branch (--config-branch/TARGET_BRANCH) and the variant (--variant/VARIANT: configs with a variant \
         are named <org>-<repo>-<branch>__<variant>.yaml), and --release-ref if you changed it"
    )
}

/// `(org, repo, file)` from a `.../ci-operator/config/<org>/<repo>/<file>` URL.
fn config_url_parts(url: &str) -> Option<(&str, &str, &str)> {
    let (_, tail) = url.split_once("/ci-operator/config/")?;
    let mut parts = tail.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(org), Some(repo), Some(file), None) => Some((org, repo, file)),
        _ => None,
    }
}

/// A ci-operator config as a YAML tree, with the place it came from for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct CiOperatorConfig {
    root: Mapping,
    source: String,
}

/// How stepkit should change a config. Built once from the command line; [`Default`] changes
/// nothing but dropping `images` and `operator`, as provide-prowjob does by default.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    /// `external_images.<alias>` entries to write: the config's image name → the Konflux image.
    pub external_images: Vec<(String, ImageReference)>,
    /// A build root to build the artifacts image from, replacing the config's `build_root`.
    pub build_root: Option<ArtifactsBuildRoot>,
    /// Keep the `images` stanza (built by ci-operator) instead of deleting it.
    pub include_images: bool,
    /// Keep the `operator` stanza instead of deleting it.
    pub include_operator: bool,
    /// Keep only the test the job runs, when its name can be derived.
    pub test_filter: Option<TestFilter>,
    /// Parameters for the tests' steps.
    pub envs: Vec<(String, String)>,
    pub env_mode: EnvMode,
}

/// The artifacts image provide-prowjob builds: the source at a revision, unpacked on top of a
/// build root image, followed by the user's Dockerfile lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactsBuildRoot {
    /// The `FROM` image (ARTIFACTS_BUILD_ROOT).
    pub image: String,
    /// Dockerfile lines added after the source is unpacked (DOCKERFILE_ADDITIONS), verbatim.
    pub dockerfile_additions: Option<String>,
    /// The GitHub org and repo whose archive is unpacked.
    pub source_org: String,
    pub source_repo: String,
    /// The commit whose archive is unpacked.
    pub source_revision: String,
}

/// What the test filter needs: the job name and the config location it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFilter {
    pub job_name: String,
    pub org: String,
    pub repo: String,
    pub branch: String,
    pub variant: Option<String>,
}

/// Where environment values go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnvMode {
    /// Into `tests[].steps.env` of the patched config (provide-prowjob's way).
    #[default]
    Config,
    /// Into Gangway envs named `MULTISTAGE_PARAM_OVERRIDE_<KEY>`, which ci-operator applies to
    /// every multi-stage test after resolving the config.
    Override,
}

impl FromStr for EnvMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "config" => Ok(EnvMode::Config),
            "override" => Ok(EnvMode::Override),
            _ => Err(format!(
                "unknown env mode {text:?}: expected config (write into the tests' steps.env) or override (send MULTISTAGE_PARAM_OVERRIDE_* envs)"
            )),
        }
    }
}

/// What [`CiOperatorConfig::apply`] did that the caller should know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchReport {
    /// Things a person should read: removed collisions, skipped tests, an unfiltered config.
    pub warnings: Vec<String>,
    /// The one test kept by the filter.
    pub selected_test: Option<String>,
    /// Envs for Gangway's `pod_spec_options.envs` ([`EnvMode::Override`]).
    pub gangway_envs: Vec<(String, String)>,
}

impl CiOperatorConfig {
    /// Parses a config; `source` (a URL or path) names it in errors. It must be a YAML mapping.
    /// YAML merge keys (`<<`) are applied, as ci-operator's YAML reader does.
    pub fn parse(text: &str, source: &str) -> anyhow::Result<CiOperatorConfig> {
        if text.trim().is_empty() {
            return Err(
                Error::usage(format!("the ci-operator config from {source} is empty")).into(),
            );
        }
        let mut value: Value = serde_yaml::from_str(text).map_err(|error| {
            Error::usage(format!(
                "cannot parse the ci-operator config from {source} as YAML: {error}"
            ))
        })?;
        value.apply_merge().map_err(|error| {
            Error::usage(format!(
                "cannot apply the YAML merge keys (<<) of the ci-operator config from {source}: {error}"
            ))
        })?;
        match value {
            Value::Mapping(root) => Ok(CiOperatorConfig {
                root,
                source: source.to_owned(),
            }),
            other => Err(Error::usage(format!(
                "the ci-operator config from {source} is {}, not a YAML mapping of ci-operator fields{}",
                yaml_kind(&other),
                if text.trim_start().starts_with('<') {
                    " (it looks like an HTML page: check the URL)"
                } else {
                    ""
                }
            ))
            .into()),
        }
    }

    /// Where the config came from (URL or path).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The `as` of every test, in order.
    pub fn test_names(&self) -> Vec<String> {
        test_names(&self.root)
    }

    /// Applies `patch`. All or nothing: on error the config is unchanged. Every error is bad
    /// input (exit 2) and says which input to change.
    pub fn apply(&mut self, patch: &Patch) -> anyhow::Result<PatchReport> {
        let envs = checked_envs(&patch.envs)?;
        let mut root = self.root.clone();
        let mut report = PatchReport {
            warnings: envs.warnings,
            ..PatchReport::default()
        };

        if let Some(filter) = &patch.test_filter {
            report.selected_test =
                filter_tests(&mut root, filter, &self.source, &mut report.warnings)?;
        }
        set_external_images(&mut root, &patch.external_images, &mut report.warnings)?;
        if let Some(build_root) = &patch.build_root {
            replace_build_root(&mut root, build_root)?;
        }
        if !patch.include_images {
            drop_images(&mut root);
        }
        if !patch.include_operator && root.shift_remove("operator").is_some() {
            tracing::debug!("removed the operator stanza");
        }
        match patch.env_mode {
            EnvMode::Config => set_test_envs(
                &mut root,
                &envs.pairs,
                report.selected_test.as_deref(),
                &mut report.warnings,
            )?,
            EnvMode::Override => {
                report.gangway_envs = envs
                    .pairs
                    .iter()
                    .map(|(key, value)| {
                        (
                            format!("{MULTISTAGE_PARAM_OVERRIDE_PREFIX}{key}"),
                            value.clone(),
                        )
                    })
                    .collect();
            }
        }

        self.root = root;
        Ok(report)
    }

    /// The config as compact JSON, keys sorted: what is sent as `UNRESOLVED_CONFIG`.
    pub fn to_json(&self) -> String {
        json_object(&self.root).to_string()
    }

    /// The config as YAML, for `--dry-run`.
    pub fn to_yaml(&self) -> String {
        // JSON is YAML too: the fallback keeps --dry-run useful should the YAML writer refuse.
        serde_yaml::to_string(&self.root).unwrap_or_else(|_| self.to_json())
    }
}

// ---------------------------------------------------------------------------------------------
// Test filter

/// The test a job runs, derived like ci-tools' `TestNameFromJobName`: drop a shard suffix
/// (`-2of3`), then the prefix `<pull|branch|periodic>-ci-<org>-<repo>-<branch>-[<variant>-]`.
/// `None` when the job name does not have that shape (or names no test).
pub fn test_name_from_job_name(
    job_name: &str,
    org: &str,
    repo: &str,
    branch: &str,
    variant: Option<&str>,
) -> Option<String> {
    if org.is_empty() || repo.is_empty() || branch.is_empty() {
        return None;
    }
    let unsharded = strip_shard_suffix(job_name.trim());
    let variant_part = match variant.filter(|variant| !variant.is_empty()) {
        Some(variant) => format!("{variant}-"),
        None => String::new(),
    };
    JOB_PREFIXES.iter().find_map(|prefix| {
        let expected = format!("{prefix}-ci-{org}-{repo}-{branch}-{variant_part}");
        unsharded
            .strip_prefix(&expected)
            .filter(|test| !test.is_empty())
            .map(str::to_owned)
    })
}

/// `e2e-2of3` → `e2e`: the suffix `-<digits>of<digits>` that sharded jobs carry.
fn strip_shard_suffix(job_name: &str) -> &str {
    let Some((head, suffix)) = job_name.rsplit_once('-') else {
        return job_name;
    };
    let is_number = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match suffix.split_once("of") {
        Some((shard, count)) if is_number(shard) && is_number(count) => head,
        _ => job_name,
    }
}

/// Keeps only the job's test; returns its name, or `None` (with a warning) when the job name
/// does not say which test it runs.
fn filter_tests(
    root: &mut Mapping,
    filter: &TestFilter,
    source: &str,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Option<String>> {
    let names = test_names(root);
    let variant = filter
        .variant
        .as_deref()
        .filter(|variant| !variant.is_empty());
    let Some(test) = test_name_from_job_name(
        &filter.job_name,
        &filter.org,
        &filter.repo,
        &filter.branch,
        variant,
    ) else {
        warnings.push(format!(
            "job name {:?} does not follow ci-operator naming for {} (<pull|branch|periodic>-ci-{}-{}-{}-{}<test>); keeping all {} tests",
            filter.job_name,
            location_text(filter),
            filter.org,
            filter.repo,
            filter.branch,
            variant.map(|variant| format!("{variant}-")).unwrap_or_default(),
            names.len()
        ));
        return Ok(None);
    };
    if !names.contains(&test) {
        return Err(no_such_test(filter, &test, &names, source).into());
    }
    if let Some(Value::Sequence(tests)) = root.get_mut("tests") {
        tests.retain(|entry| test_name(entry) == Some(test.as_str()));
    }
    tracing::debug!(test = %test, "kept only the job's test");
    Ok(Some(test))
}

fn no_such_test(filter: &TestFilter, test: &str, names: &[String], source: &str) -> Error {
    let listed = if names.is_empty() {
        "it has no tests".to_owned()
    } else {
        format!("its tests are: {}", names.join(", "))
    };
    let variant_hint = match filter.variant.as_deref().filter(|variant| !variant.is_empty()) {
        Some(_) => String::new(),
        None => names
            .iter()
            .find_map(|name| test.strip_suffix(&format!("-{name}")))
            .map(|variant| {
                format!(" If the job belongs to the variant {variant:?}, set --variant/VARIANT to {variant}.")
            })
            .unwrap_or_default(),
    };
    Error::usage(format!(
        "job {:?} runs test {test:?} (its name after the prefix for {}), but the ci-operator config from {source} \
         has no test with `as: {test}`; {listed}. Check --job-name/PROWJOB_NAME and the config's org, repo, \
         branch and variant, or turn the filter off (--filter-tests off).{variant_hint}",
        filter.job_name,
        location_text(filter)
    ))
}

/// `openshift/konflux-tasks@main [variant]`.
fn location_text(filter: &TestFilter) -> String {
    ConfigLocation {
        org: filter.org.clone(),
        repo: filter.repo.clone(),
        branch: filter.branch.clone(),
        variant: filter.variant.clone(),
    }
    .to_string()
}

fn test_names(root: &Mapping) -> Vec<String> {
    match root.get("tests") {
        Some(Value::Sequence(tests)) => tests
            .iter()
            .filter_map(test_name)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn test_name(test: &Value) -> Option<&str> {
    test.get("as").and_then(Value::as_str)
}

// ---------------------------------------------------------------------------------------------
// External images

/// The four fields of an `external_images` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ExternalImageFields {
    registry: String,
    namespace: String,
    name: String,
    tag: String,
}

impl ExternalImageFields {
    /// ci-operator's pull spec for the entry (`pkg/steps/input_image_tag.go`).
    #[cfg(test)]
    fn pull_spec(&self) -> String {
        format!(
            "{}/{}/{}:{}",
            self.registry, self.namespace, self.name, self.tag
        )
    }
}

fn set_external_images(
    root: &mut Mapping,
    images: &[(String, ImageReference)],
    warnings: &mut Vec<String>,
) -> anyhow::Result<()> {
    let mut seen = BTreeSet::new();
    for (alias, reference) in images {
        if !seen.insert(alias.as_str()) {
            return Err(Error::usage(format!(
                "IMAGE_IN_CONFIG names the image {alias:?} twice; name each config image once"
            ))
            .into());
        }
        check_alias(alias)?;
        let fields = external_image_fields(alias, reference, warnings)?;
        remove_colliding_base_image(root, alias, reference, warnings);
        write_external_image(root, alias, fields, warnings)?;
    }
    Ok(())
}

/// The names ci-tools refuses as `external_images` keys (`validateImageStreamTagReferenceMap`).
fn check_alias(alias: &str) -> anyhow::Result<()> {
    let problem = if alias.is_empty() {
        Some("is empty".to_owned())
    } else if alias == "root" {
        Some("is reserved by ci-operator for the build root image".to_owned())
    } else if alias == "src-bundle" {
        Some("is reserved by ci-operator for the operator bundle source image".to_owned())
    } else if alias.starts_with("ci-bundle") {
        Some("starts with ci-bundle, reserved by ci-operator for operator bundle images".to_owned())
    } else if alias.starts_with("ci-index") {
        Some("starts with ci-index, reserved by ci-operator for operator index images".to_owned())
    } else if !is_image_tag_name(alias) {
        Some("is not a valid image name in ci-operator's pipeline (letters, digits, '_', '.', '-'; up to 128)".to_owned())
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::usage(format!(
            "IMAGE_IN_CONFIG {alias:?} {problem}; use the name under which the config's tests use the image (a base_images or external_images key)"
        ))
        .into()),
        None => Ok(()),
    }
}

/// An image stream tag name: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_image_tag_name(name: &str) -> bool {
    name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Splits `reference` so that ci-operator's join `registry/namespace/name:tag` gives it back.
///
/// ci-operator has no digest field, and joins the four fields with '/' and ':'. For a digest
/// reference `quay.io/ns/comp@sha256:HEX` the name is `comp@sha256` and the tag `HEX`, which
/// joins to exactly the original; with a tag as well, the name is `comp:v1@sha256`. ci-tools
/// only requires the fields to be non-empty, and the image import parses the joined string as
/// an ordinary (digest) reference. provide-prowjob got this split by accident of `cut -d:`;
/// here it is deliberate, and also right for registries with a port and nested namespaces.
fn external_image_fields(
    alias: &str,
    reference: &ImageReference,
    warnings: &mut Vec<String>,
) -> anyhow::Result<ExternalImageFields> {
    if !reference.registry.contains(EXTERNAL_IMAGE_REGISTRY) {
        return Err(Error::usage(format!(
            "cannot use {reference} for IMAGE_IN_CONFIG {alias:?}: ci-operator only imports external images from \
             quay.io (registry {:?} is not), and would reject the config inside the Prow job. Mirror or push the \
             image to quay.io (Konflux pushes to quay.io/redhat-user-workloads by default) and use that reference",
            reference.registry
        ))
        .into());
    }
    let namespace = reference.namespace();
    if namespace.is_empty() {
        return Err(Error::usage(format!(
            "cannot use {reference} for IMAGE_IN_CONFIG {alias:?}: ci-operator's external_images need a namespace \
             (registry/namespace/name), and this repository has a single component"
        ))
        .into());
    }
    let (name, tag) = match (reference.digest_parts(), &reference.tag) {
        (Some((algorithm, hex)), Some(tag)) => (
            format!("{}:{tag}@{algorithm}", reference.name()),
            hex.to_owned(),
        ),
        (Some((algorithm, hex)), None) => {
            (format!("{}@{algorithm}", reference.name()), hex.to_owned())
        }
        (None, Some(tag)) => (reference.name().to_owned(), tag.clone()),
        (None, None) => {
            warnings.push(format!(
                "{reference} for IMAGE_IN_CONFIG {alias:?} has neither tag nor digest; using the tag latest, which \
                 may change before the job pulls it (Konflux snapshots use digests)"
            ));
            (reference.name().to_owned(), "latest".to_owned())
        }
    };
    Ok(ExternalImageFields {
        registry: reference.registry.clone(),
        namespace: namespace.to_owned(),
        name,
        tag,
    })
}

/// ci-tools rejects an `external_images` key that is also a `base_images` key; the external
/// image is meant to replace it, so the base image goes.
fn remove_colliding_base_image(
    root: &mut Mapping,
    alias: &str,
    reference: &ImageReference,
    warnings: &mut Vec<String>,
) {
    let Some(Value::Mapping(base_images)) = root.get_mut("base_images") else {
        return;
    };
    if let Some(removed) = base_images.shift_remove(alias) {
        warnings.push(format!(
            "removed base_images.{alias} ({}) so that {reference} provides pipeline:{alias}: ci-operator refuses an \
             external image with the same name as a base image",
            describe_image_stream_tag(&removed)
        ));
    }
}

/// `ocp/4.18:cli` for an image stream tag reference.
fn describe_image_stream_tag(value: &Value) -> String {
    let field = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or("?");
    format!("{}/{}:{}", field("namespace"), field("name"), field("tag"))
}

fn write_external_image(
    root: &mut Mapping,
    alias: &str,
    fields: ExternalImageFields,
    warnings: &mut Vec<String>,
) -> anyhow::Result<()> {
    let external_images = child_mapping(root, "external_images", "external_images")?;
    let entry = child_mapping(external_images, alias, &format!("external_images.{alias}"))?;
    // ci-tools only lets ci-operator itself set pull_spec; other fields (pull_secret) stay.
    if entry.shift_remove("pull_spec").is_some() {
        warnings.push(format!(
            "removed external_images.{alias}.pull_spec: ci-operator refuses it in a config, and registry, namespace, name and tag now say where the image is"
        ));
    }
    entry.insert("registry".into(), fields.registry.into());
    entry.insert("namespace".into(), fields.namespace.into());
    entry.insert("name".into(), fields.name.into());
    entry.insert("tag".into(), fields.tag.into());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Build root, images, operator

/// Replaces whichever kind of build root the config has (ci-tools allows exactly one) with a
/// `project_image` built from the artifacts Dockerfile. Other build_root fields stay.
fn replace_build_root(root: &mut Mapping, build_root: &ArtifactsBuildRoot) -> anyhow::Result<()> {
    let dockerfile = artifacts_dockerfile(build_root)?;
    let section = child_mapping(root, "build_root", "build_root")?;
    for kind in ["project_image", "from_repository", "image_stream_tag"] {
        if section.shift_remove(kind).is_some() {
            tracing::debug!(kind, "replaced the build root");
        }
    }
    let mut project_image = Mapping::new();
    project_image.insert("dockerfile_literal".into(), dockerfile.into());
    section.insert("project_image".into(), Value::Mapping(project_image));
    Ok(())
}

/// The Dockerfile provide-prowjob generates: the build root, the source archive of the
/// revision unpacked under /workspace, the additions, and permissions opened up because CI
/// runs the image under an arbitrary user id.
fn artifacts_dockerfile(build_root: &ArtifactsBuildRoot) -> anyhow::Result<String> {
    check_build_root_inputs(build_root)?;
    let ArtifactsBuildRoot {
        image,
        source_org: org,
        source_repo: repo,
        source_revision: revision,
        ..
    } = build_root;
    let mut lines = vec![
        format!("FROM {}", image.trim()),
        // Kept from provide-prowjob so that DOCKERFILE_ADDITIONS written for it behave the same.
        "RUN umask 0002".to_owned(),
        "WORKDIR /workspace".to_owned(),
        // -f: a missing revision fails here, not later as a confusing unzip error.
        format!("RUN curl -fsSL --retry 3 -o repo.zip \"https://github.com/{org}/{repo}/archive/{revision}.zip\" && unzip -q repo.zip && rm repo.zip"),
        // GitHub names the archive's top directory <repo>-<commit>.
        format!("WORKDIR /workspace/{repo}-{revision}"),
    ];
    if let Some(additions) = build_root.dockerfile_additions.as_deref() {
        let additions = additions.trim_end_matches(['\n', '\r']);
        if !additions.trim().is_empty() {
            lines.push(additions.to_owned());
        }
    }
    for (directory, kind) in [
        ("/workspace", "d"),
        ("/workspace", "f"),
        ("/go", "d"),
        ("/go", "f"),
    ] {
        lines.push(format!(
            "RUN find {directory} -type {kind} -not -perm -0777 | xargs --max-procs 10 --max-args 100 --no-run-if-empty chmod 777"
        ));
    }
    Ok(lines.join("\n") + "\n")
}

/// The values that end up inside Dockerfile lines: they must not break out of them.
fn check_build_root_inputs(build_root: &ArtifactsBuildRoot) -> anyhow::Result<()> {
    build_root
        .image
        .trim()
        .parse::<ImageReference>()
        .map_err(|problem| {
            Error::usage(format!(
                "invalid ARTIFACTS_BUILD_ROOT (--artifacts-build-root): {problem}"
            ))
        })?;
    let safe = |text: &str| {
        !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    for (what, value, fix) in [
        (
            "source org",
            &build_root.source_org,
            "--source-url or the component's source.git.url",
        ),
        (
            "source repo",
            &build_root.source_repo,
            "--source-url or the component's source.git.url",
        ),
        (
            "source revision",
            &build_root.source_revision,
            "--source-revision or the component's source.git.revision",
        ),
    ] {
        if !safe(value) {
            return Err(Error::usage(format!(
                "cannot build the artifacts image: the {what} {value:?} is empty or has characters other than letters, digits, '-', '_' and '.'; check {fix}"
            ))
            .into());
        }
    }
    Ok(())
}

/// Deletes `images`, in either shape: the legacy list or `{items: [...], ...}` (ci-tools
/// since 2026-03).
fn drop_images(root: &mut Mapping) {
    match root.shift_remove("images") {
        Some(Value::Sequence(items)) => {
            tracing::debug!(
                shape = "list",
                items = items.len(),
                "removed the images stanza"
            )
        }
        Some(Value::Mapping(images)) => {
            let items = images
                .get("items")
                .and_then(Value::as_sequence)
                .map_or(0, Vec::len);
            tracing::debug!(shape = "{items: [...]}", items, "removed the images stanza")
        }
        Some(_) => tracing::debug!(shape = "other", "removed the images stanza"),
        None => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Environment

/// Validated envs, and warnings about duplicates.
struct CheckedEnvs {
    pairs: Vec<(String, String)>,
    warnings: Vec<String>,
}

/// Keys must be environment variable names and values non-empty (Gangway rejects empty env
/// values). A repeated key keeps its last value, as a shell would.
fn checked_envs(envs: &[(String, String)]) -> anyhow::Result<CheckedEnvs> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut warnings = Vec::new();
    for (key, value) in envs {
        if !is_env_name(key) {
            return Err(Error::usage(format!(
                "invalid env name {key:?} in ENVS/--env: names are letters, digits, '_', '-' and '.', and do not start with a digit"
            ))
            .into());
        }
        if value.is_empty() {
            return Err(Error::usage(format!(
                "env {key} in ENVS/--env has an empty value; Gangway rejects empty values: give it a value or leave it out"
            ))
            .into());
        }
        match pairs.iter_mut().find(|(seen, _)| seen == key) {
            Some(existing) => {
                warnings.push(format!(
                    "env {key} is given more than once; using the last value"
                ));
                existing.1 = value.clone();
            }
            None => pairs.push((key.clone(), value.clone())),
        }
    }
    Ok(CheckedEnvs { pairs, warnings })
}

/// Kubernetes' env var name rule: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
fn is_env_name(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '_' | '-' | '.'))
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Writes `envs` into the env of the selected test, or of every test; only multi-stage tests
/// (`steps` or `literal_steps`) have one, container tests are skipped with a warning.
fn set_test_envs(
    root: &mut Mapping,
    envs: &[(String, String)],
    selected: Option<&str>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<()> {
    if envs.is_empty() {
        return Ok(());
    }
    let mut skipped = Vec::new();
    let mut written = 0;
    if let Some(Value::Sequence(tests)) = root.get_mut("tests") {
        for (index, test) in tests.iter_mut().enumerate() {
            let name = test_name(test).unwrap_or("<unnamed>").to_owned();
            if selected.is_some_and(|selected| selected != name) {
                continue;
            }
            match multi_stage_section(test) {
                Some((section, steps)) => {
                    let path = format!("tests[{index}].{section}.env");
                    let env = child_mapping(steps, "env", &path)?;
                    for (key, value) in envs {
                        env.insert(key.as_str().into(), value.as_str().into());
                    }
                    written += 1;
                }
                None => skipped.push(name),
            }
        }
    }
    let keys: Vec<&str> = envs.iter().map(|(key, _)| key.as_str()).collect();
    if written == 0 {
        return Err(Error::usage(format!(
            "ENVS/--env ({}) can only be set on multi-stage tests (with steps:), and {}; drop the envs or pick a job that runs a multi-stage test",
            keys.join(", "),
            if skipped.is_empty() {
                "the config has no tests".to_owned()
            } else {
                format!("none of the tests is one ({})", skipped.join(", "))
            }
        ))
        .into());
    }
    if !skipped.is_empty() {
        warnings.push(format!(
            "did not set {} on {}: not multi-stage tests (container tests have no steps env)",
            keys.join(", "),
            skipped.join(", ")
        ));
    }
    Ok(())
}

/// The `steps` (or resolved `literal_steps`) mapping of a multi-stage test, and its key.
fn multi_stage_section(test: &mut Value) -> Option<(&'static str, &mut Mapping)> {
    let test = test.as_mapping_mut()?;
    let key = ["steps", "literal_steps"]
        .into_iter()
        .find(|key| test.get(*key).is_some_and(Value::is_mapping))?;
    Some((key, test.get_mut(key)?.as_mapping_mut()?))
}

// ---------------------------------------------------------------------------------------------
// The tree

/// `parent[key]` as a mapping, created when missing or null. A value of another type is a
/// broken config, reported (at `path`, for the message) rather than overwritten.
fn child_mapping<'a>(
    parent: &'a mut Mapping,
    key: &str,
    path: &str,
) -> anyhow::Result<&'a mut Mapping> {
    let entry = parent
        .entry(Value::from(key))
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if entry.is_null() {
        *entry = Value::Mapping(Mapping::new());
    }
    let kind = yaml_kind(entry);
    entry.as_mapping_mut().ok_or_else(|| {
        Error::usage(format!(
            "the ci-operator config has {kind} at {path} where a mapping belongs; fix the config"
        ))
        .into()
    })
}

fn yaml_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// The YAML tree as JSON. Infallible: keys that are not strings are written as text (as
/// Go's YAML-to-JSON conversion does), tags are dropped, and numbers JSON cannot hold
/// (`.nan`, `.inf`) become strings.
fn yaml_to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(flag) => serde_json::Value::Bool(*flag),
        Value::Number(number) => json_number(number),
        Value::String(text) => serde_json::Value::String(text.clone()),
        Value::Sequence(items) => {
            serde_json::Value::Array(items.iter().map(yaml_to_json).collect())
        }
        Value::Mapping(mapping) => json_object(mapping),
        Value::Tagged(tagged) => yaml_to_json(&tagged.value),
    }
}

fn json_object(mapping: &Mapping) -> serde_json::Value {
    serde_json::Value::Object(
        mapping
            .iter()
            .map(|(key, value)| (json_key(key), yaml_to_json(value)))
            .collect(),
    )
}

fn json_number(number: &serde_yaml::Number) -> serde_json::Value {
    if let Some(integer) = number.as_i64() {
        return integer.into();
    }
    if let Some(integer) = number.as_u64() {
        return integer.into();
    }
    number
        .as_f64()
        .and_then(serde_json::Number::from_f64)
        .map_or_else(
            || serde_json::Value::String(number.to_string()),
            serde_json::Value::Number,
        )
}

fn json_key(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        other => yaml_to_json(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::exit_code;
    use proptest::prelude::*;
    use serde_json::json;

    const MULTIARCH: &str = include_str!(
        "../../tests/fixtures/prowjob/config/openshift-multiarch-tuning-operator-main__ocp418.yaml"
    );
    const KONFLUX_TASKS: &str =
        include_str!("../../tests/fixtures/prowjob/config/openshift-konflux-tasks-main.yaml");
    const SANDBOXED: &str = include_str!(
        "../../tests/fixtures/prowjob/config/openshift-sandboxed-containers-operator-devel__downstream-candidate.yaml"
    );
    const HEX: &str = "3f1c0c9f2b7a4e8d9c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d";
    const REVISION: &str = "9b2e4c1d7a3f5e6b8c0d2f4a6b8c0e2f4a6b8c0d";

    fn config(text: &str) -> CiOperatorConfig {
        CiOperatorConfig::parse(text, "fixture.yaml").expect("fixture parses")
    }

    fn tree(config: &CiOperatorConfig) -> serde_json::Value {
        serde_json::from_str(&config.to_json()).expect("to_json is JSON")
    }

    fn image(text: &str) -> ImageReference {
        text.parse().expect("valid reference")
    }

    /// A patch that keeps images and operator, so a test sees only the change it makes.
    fn keep_all() -> Patch {
        Patch {
            include_images: true,
            include_operator: true,
            ..Patch::default()
        }
    }

    fn apply_err(config: &mut CiOperatorConfig, patch: &Patch) -> String {
        let before = config.clone();
        let error = config.apply(patch).expect_err("patch should fail");
        assert_eq!(exit_code(&error), 2, "bad input: {error:#}");
        assert_eq!(
            *config, before,
            "a failed patch leaves the config unchanged"
        );
        format!("{error:#}")
    }

    fn external(config: &CiOperatorConfig, alias: &str) -> serde_json::Value {
        tree(config)["external_images"][alias].clone()
    }

    fn join(entry: &serde_json::Value) -> String {
        let field = |key: &str| entry[key].as_str().expect("string field").to_owned();
        format!(
            "{}/{}/{}:{}",
            field("registry"),
            field("namespace"),
            field("name"),
            field("tag")
        )
    }

    fn filter(
        job_name: &str,
        org: &str,
        repo: &str,
        branch: &str,
        variant: Option<&str>,
    ) -> TestFilter {
        TestFilter {
            job_name: job_name.to_owned(),
            org: org.to_owned(),
            repo: repo.to_owned(),
            branch: branch.to_owned(),
            variant: variant.map(str::to_owned),
        }
    }

    fn artifacts(additions: Option<&str>) -> ArtifactsBuildRoot {
        ArtifactsBuildRoot {
            image: "quay-proxy.ci.openshift.org/openshift/ci:openshift_release_golang-1.22"
                .to_owned(),
            dockerfile_additions: additions.map(str::to_owned),
            source_org: "openshift".to_owned(),
            source_repo: "multiarch-tuning-operator".to_owned(),
            source_revision: REVISION.to_owned(),
        }
    }

    // --- location -----------------------------------------------------------------------

    #[test]
    fn file_names_and_urls_follow_ci_tools() {
        let plain = ConfigLocation {
            org: "openshift".into(),
            repo: "konflux-tasks".into(),
            branch: "main".into(),
            variant: None,
        };
        assert_eq!(plain.file_name(), "openshift-konflux-tasks-main.yaml");
        assert_eq!(
            plain.url("https://raw.githubusercontent.com/openshift/release/", "master"),
            "https://raw.githubusercontent.com/openshift/release/master/ci-operator/config/openshift/konflux-tasks/openshift-konflux-tasks-main.yaml"
        );
        assert_eq!(plain.to_string(), "openshift/konflux-tasks@main");

        let variant = ConfigLocation {
            org: "openshift".into(),
            repo: "sandboxed-containers-operator".into(),
            branch: "release-4.18".into(),
            variant: Some("downstream-1.10-candidate-4.16".into()),
        };
        assert_eq!(
            variant.file_name(),
            "openshift-sandboxed-containers-operator-release-4.18__downstream-1.10-candidate-4.16.yaml"
        );
        assert_eq!(
            variant.url("http://127.0.0.1:8080", "abc123"),
            "http://127.0.0.1:8080/abc123/ci-operator/config/openshift/sandboxed-containers-operator/openshift-sandboxed-containers-operator-release-4.18__downstream-1.10-candidate-4.16.yaml"
        );
        assert_eq!(
            variant.to_string(),
            "openshift/sandboxed-containers-operator@release-4.18 [downstream-1.10-candidate-4.16]"
        );

        let empty_variant = ConfigLocation {
            variant: Some(String::new()),
            ..plain
        };
        assert_eq!(
            empty_variant.file_name(),
            "openshift-konflux-tasks-main.yaml"
        );
    }

    // --- parsing and output -------------------------------------------------------------

    #[test]
    fn the_fixtures_parse_and_survive_json_unchanged() {
        for text in [MULTIARCH, KONFLUX_TASKS, SANDBOXED] {
            let parsed = config(text);
            let original: serde_json::Value =
                serde_json::to_value(serde_yaml::from_str::<Value>(text).unwrap()).unwrap();
            assert_eq!(tree(&parsed), original);
            let again = CiOperatorConfig::parse(&parsed.to_yaml(), "again").unwrap();
            assert_eq!(
                tree(&again),
                original,
                "to_yaml parses back to the same tree"
            );
        }
        let multiarch = tree(&config(MULTIARCH));
        // Quoted numbers stay strings: ci-operator's fields are strings.
        assert_eq!(
            multiarch["releases"]["initial"]["integration"]["name"],
            json!("4.18")
        );
        assert_eq!(
            multiarch["base_images"]["operator-sdk"]["name"],
            json!("4.18")
        );
        assert_eq!(
            tree(&config(SANDBOXED))["base_images"]["ubi-minimal"]["tag"],
            json!("9")
        );
    }

    #[test]
    fn json_output_handles_what_yaml_allows_and_json_does_not() {
        let parsed = config("a: &x {b: 1}\nc:\n  <<: *x\n  d: 2\n1: one\ntrue: yes\nn: .nan\ntagged: !custom value\nf: 1.5\n");
        assert_eq!(
            tree(&parsed),
            json!({"a": {"b": 1}, "c": {"b": 1, "d": 2}, "1": "one", "true": "yes", "n": ".nan", "tagged": "value", "f": 1.5})
        );
    }

    #[test]
    fn configs_that_are_not_mappings_are_refused_with_their_source() {
        for (text, expected) in [
            ("", "is empty"),
            ("- a\n- b\n", "is a list, not a YAML mapping"),
            ("just text", "is a string"),
            (
                "<html><body>Sign in</body></html>",
                "looks like an HTML page",
            ),
            ("a: [\n", "cannot parse"),
            ("a: 1\na: 2\n", "duplicate"),
        ] {
            let error =
                CiOperatorConfig::parse(text, "https://example.com/x.yaml").expect_err(text);
            let message = format!("{error:#}");
            assert_eq!(exit_code(&error), 2);
            assert!(message.contains("https://example.com/x.yaml"), "{message}");
            assert!(message.contains(expected), "{text}: {message}");
        }
    }

    #[test]
    fn test_names_are_listed_in_order() {
        assert_eq!(
            config(MULTIARCH).test_names(),
            [
                "unit",
                "e2e-gcp-ovn",
                "e2e-aws-ovn-proxy-mto-origin",
                "e2e-aws-ovn-mto-origin-post"
            ]
        );
        assert_eq!(config(MULTIARCH).source(), "fixture.yaml");
    }

    // --- external images ----------------------------------------------------------------

    #[test]
    fn a_digest_reference_survives_ci_operators_join() {
        let mut config = config(MULTIARCH);
        let reference = format!("quay.io/redhat-user-workloads/mto-tenant/multiarch-tuning-operator-bundle@sha256:{HEX}");
        let patch = Patch {
            external_images: vec![("multiarch-tuning-operator-bundle".into(), image(&reference))],
            ..keep_all()
        };
        let report = config.apply(&patch).unwrap();
        assert_eq!(report.warnings, Vec::<String>::new());
        let entry = external(&config, "multiarch-tuning-operator-bundle");
        assert_eq!(
            entry,
            json!({
                "registry": "quay.io",
                "namespace": "redhat-user-workloads/mto-tenant",
                "name": "multiarch-tuning-operator-bundle@sha256",
                "tag": HEX,
            })
        );
        assert_eq!(join(&entry), reference);
    }

    #[test]
    fn a_tag_and_digest_reference_survives_the_join() {
        let mut config = config(MULTIARCH);
        let reference = format!("quay.io/acme/comp:v1.2@sha256:{HEX}");
        let patch = Patch {
            external_images: vec![("comp".into(), image(&reference))],
            ..keep_all()
        };
        config.apply(&patch).unwrap();
        let entry = external(&config, "comp");
        assert_eq!(entry["name"], json!("comp:v1.2@sha256"));
        assert_eq!(entry["tag"], json!(HEX));
        assert_eq!(join(&entry), reference);
    }

    #[test]
    fn a_tag_reference_is_split_plainly_and_an_untagged_one_gets_latest() {
        let mut config = config(MULTIARCH);
        let patch = Patch {
            external_images: vec![
                ("tagged".into(), image("quay.io/org/team/img:v1")),
                ("untagged".into(), image("quay.io/org/img")),
            ],
            ..keep_all()
        };
        let report = config.apply(&patch).unwrap();
        assert_eq!(
            external(&config, "tagged"),
            json!({"registry": "quay.io", "namespace": "org/team", "name": "img", "tag": "v1"})
        );
        assert_eq!(
            join(&external(&config, "untagged")),
            "quay.io/org/img:latest"
        );
        assert_eq!(report.warnings.len(), 1);
        assert!(
            report.warnings[0].contains("neither tag nor digest"),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn the_split_reproduces_any_quay_reference() {
        let mut warnings = Vec::new();
        for text in [
            format!("quay.io/a/b/c/d@sha256:{HEX}"),
            format!("quay.io:443/a/b:t@sha256:{HEX}"),
            format!("quay.io/a/b@sha512:{}", "e".repeat(128)),
            "quay.io/a/b:1.0".to_owned(),
        ] {
            let fields = external_image_fields("x", &image(&text), &mut warnings).unwrap();
            assert_eq!(fields.pull_spec(), text);
        }
    }

    #[test]
    fn images_outside_quay_are_refused_before_the_job_runs() {
        for reference in [
            "registry.example.com:5000/ns/img:v1".to_owned(),
            format!("localhost:5000/ns/img@sha256:{HEX}"),
            "quay-proxy.ci.openshift.org/openshift/ci:tag".to_owned(),
            "docker.io/library/busybox:1".to_owned(),
        ] {
            let mut config = config(KONFLUX_TASKS);
            let patch = Patch {
                external_images: vec![("konflux-test-runner".into(), image(&reference))],
                ..keep_all()
            };
            let message = apply_err(&mut config, &patch);
            assert!(
                message.contains("only imports external images from quay.io"),
                "{message}"
            );
            assert!(
                message.contains("Mirror or push the image to quay.io"),
                "{message}"
            );
            assert!(message.contains(&reference), "{message}");
        }
    }

    #[test]
    fn an_image_without_a_namespace_is_refused() {
        let mut config = config(KONFLUX_TASKS);
        let patch = Patch {
            external_images: vec![("x".into(), image("quay.io/img:v1"))],
            ..keep_all()
        };
        assert!(apply_err(&mut config, &patch).contains("need a namespace"));
    }

    #[test]
    fn reserved_and_invalid_aliases_are_refused() {
        for (alias, expected) in [
            ("root", "build root"),
            ("src-bundle", "bundle source"),
            ("ci-bundle0", "starts with ci-bundle"),
            ("ci-index-my-bundle", "starts with ci-index"),
            ("", "is empty"),
            ("my image", "not a valid image name"),
            ("-x", "not a valid image name"),
        ] {
            let mut config = config(KONFLUX_TASKS);
            let patch = Patch {
                external_images: vec![(alias.to_owned(), image("quay.io/org/img:v1"))],
                ..keep_all()
            };
            let message = apply_err(&mut config, &patch);
            assert!(message.contains(expected), "{alias}: {message}");
            assert!(message.contains("IMAGE_IN_CONFIG"), "{message}");
        }
        let mut config = config(KONFLUX_TASKS);
        let twice = Patch {
            external_images: vec![
                ("a".into(), image("quay.io/org/img:v1")),
                ("a".into(), image("quay.io/org/img:v2")),
            ],
            ..keep_all()
        };
        assert!(apply_err(&mut config, &twice).contains("twice"));
    }

    #[test]
    fn a_colliding_base_image_is_removed_with_a_warning() {
        let mut config = config(KONFLUX_TASKS);
        let reference =
            format!("quay.io/redhat-user-workloads/konflux-tenant/test-runner@sha256:{HEX}");
        let patch = Patch {
            external_images: vec![("konflux-test-runner".into(), image(&reference))],
            ..keep_all()
        };
        let report = config.apply(&patch).unwrap();
        let result = tree(&config);
        assert_eq!(
            result["base_images"],
            json!({"cli": {"name": "4.18", "namespace": "ocp", "tag": "cli"}}),
            "only the colliding base image goes"
        );
        assert_eq!(
            join(&result["external_images"]["konflux-test-runner"]),
            reference
        );
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        let warning = &report.warnings[0];
        assert!(
            warning.contains(
                "removed base_images.konflux-test-runner (ci/konflux-test-runner:latest)"
            ),
            "{warning}"
        );
        assert!(
            warning.contains("collides") || warning.contains("same name as a base image"),
            "{warning}"
        );
    }

    #[test]
    fn an_existing_external_image_is_updated_keeping_its_pull_secret() {
        let mut config = config(
            "external_images:\n  comp:\n    registry: quay.io\n    namespace: old\n    name: comp\n    tag: old\n    pull_secret: quay-pull\n    pull_spec: quay.io/old/comp:old\ntests: []\n",
        );
        let patch = Patch {
            external_images: vec![("comp".into(), image("quay.io/new/comp:v2"))],
            ..keep_all()
        };
        let report = config.apply(&patch).unwrap();
        assert_eq!(
            external(&config, "comp"),
            json!({"registry": "quay.io", "namespace": "new", "name": "comp", "tag": "v2", "pull_secret": "quay-pull"})
        );
        assert!(
            report.warnings.iter().any(|w| w.contains("pull_spec")),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn a_broken_external_images_section_is_reported_not_overwritten() {
        let mut config = config("external_images: [a]\ntests: []\n");
        let patch = Patch {
            external_images: vec![("comp".into(), image("quay.io/new/comp:v2"))],
            ..keep_all()
        };
        let message = apply_err(&mut config, &patch);
        assert!(
            message.contains("a list at external_images where"),
            "{message}"
        );
        let mut config = self::config("external_images:\n  comp: quay.io/x/y:1\ntests: []\n");
        let message = apply_err(&mut config, &patch);
        assert!(
            message.contains("a string at external_images.comp where"),
            "{message}"
        );
        let mut config = self::config("tests:\n- as: e2e\n  steps:\n    env: [A]\n");
        let patch = Patch {
            envs: vec![("A".into(), "1".into())],
            ..keep_all()
        };
        let message = apply_err(&mut config, &patch);
        assert!(
            message.contains("a list at tests[0].steps.env where"),
            "{message}"
        );
    }

    // --- build root ---------------------------------------------------------------------

    const EXPECTED_DOCKERFILE: &str = "\
FROM quay-proxy.ci.openshift.org/openshift/ci:openshift_release_golang-1.22
RUN umask 0002
WORKDIR /workspace
RUN curl -fsSL --retry 3 -o repo.zip \"https://github.com/openshift/multiarch-tuning-operator/archive/9b2e4c1d7a3f5e6b8c0d2f4a6b8c0e2f4a6b8c0d.zip\" && unzip -q repo.zip && rm repo.zip
WORKDIR /workspace/multiarch-tuning-operator-9b2e4c1d7a3f5e6b8c0d2f4a6b8c0e2f4a6b8c0d
RUN make build
RUN echo \"a=b\" > /tmp/x
RUN find /workspace -type d -not -perm -0777 | xargs --max-procs 10 --max-args 100 --no-run-if-empty chmod 777
RUN find /workspace -type f -not -perm -0777 | xargs --max-procs 10 --max-args 100 --no-run-if-empty chmod 777
RUN find /go -type d -not -perm -0777 | xargs --max-procs 10 --max-args 100 --no-run-if-empty chmod 777
RUN find /go -type f -not -perm -0777 | xargs --max-procs 10 --max-args 100 --no-run-if-empty chmod 777
";

    #[test]
    fn every_kind_of_build_root_is_replaced_by_the_artifacts_image() {
        for (text, kept) in [
            (MULTIARCH, json!({})),
            (KONFLUX_TASKS, json!({})),
            (SANDBOXED, json!({"use_build_cache": true})),
        ] {
            let mut config = config(text);
            let patch = Patch {
                build_root: Some(artifacts(Some(
                    "RUN make build\nRUN echo \"a=b\" > /tmp/x\n",
                ))),
                ..keep_all()
            };
            config.apply(&patch).unwrap();
            let mut expected = kept;
            expected["project_image"] = json!({"dockerfile_literal": EXPECTED_DOCKERFILE});
            assert_eq!(tree(&config)["build_root"], expected);
        }
    }

    #[test]
    fn without_additions_the_dockerfile_goes_straight_to_the_permissions() {
        let dockerfile = artifacts_dockerfile(&artifacts(Some("  \n"))).unwrap();
        assert!(!dockerfile.contains("make build"));
        assert_eq!(dockerfile.lines().count(), 9);
        assert_eq!(artifacts_dockerfile(&artifacts(None)).unwrap(), dockerfile);
    }

    #[test]
    fn without_a_replacement_the_build_root_is_never_touched() {
        for text in [MULTIARCH, KONFLUX_TASKS, SANDBOXED] {
            let original = tree(&config(text));
            let mut config = config(text);
            config.apply(&Patch::default()).unwrap();
            assert_eq!(tree(&config)["build_root"], original["build_root"]);
        }
    }

    #[test]
    fn a_config_without_a_build_root_gets_one() {
        let mut config = config("tests: []\n");
        let patch = Patch {
            build_root: Some(artifacts(None)),
            ..keep_all()
        };
        config.apply(&patch).unwrap();
        assert!(
            tree(&config)["build_root"]["project_image"]["dockerfile_literal"]
                .as_str()
                .unwrap()
                .starts_with("FROM quay-proxy")
        );
    }

    #[test]
    fn build_root_inputs_that_would_break_the_dockerfile_are_refused() {
        let cases = [
            (
                ArtifactsBuildRoot {
                    image: "Not An Image".into(),
                    ..artifacts(None)
                },
                "ARTIFACTS_BUILD_ROOT",
            ),
            (
                ArtifactsBuildRoot {
                    source_revision: "main\"; rm -rf /".into(),
                    ..artifacts(None)
                },
                "source revision",
            ),
            (
                ArtifactsBuildRoot {
                    source_revision: String::new(),
                    ..artifacts(None)
                },
                "source revision",
            ),
            (
                ArtifactsBuildRoot {
                    source_org: "a/b".into(),
                    ..artifacts(None)
                },
                "source org",
            ),
            (
                ArtifactsBuildRoot {
                    source_repo: "r\nRUN x".into(),
                    ..artifacts(None)
                },
                "source repo",
            ),
        ];
        for (build_root, expected) in cases {
            let mut config = config(MULTIARCH);
            let patch = Patch {
                build_root: Some(build_root),
                ..keep_all()
            };
            let message = apply_err(&mut config, &patch);
            assert!(message.contains(expected), "{message}");
        }
    }

    // --- images and operator ------------------------------------------------------------

    #[test]
    fn images_and_operator_are_dropped_by_default_in_both_shapes() {
        for text in [MULTIARCH, SANDBOXED] {
            let original = tree(&config(text));
            assert!(original.get("images").is_some());
            let mut dropped = config(text);
            dropped.apply(&Patch::default()).unwrap();
            let dropped = tree(&dropped);
            assert_eq!(dropped.get("images"), None);
            assert_eq!(dropped.get("operator"), None);

            let mut kept = config(text);
            kept.apply(&keep_all()).unwrap();
            assert_eq!(tree(&kept), original, "keeping both changes nothing");
        }
        assert!(
            tree(&config(SANDBOXED))["images"]["items"].is_array(),
            "the fixture has the new shape"
        );
        assert!(
            tree(&config(MULTIARCH))["images"].is_array(),
            "the fixture has the list shape"
        );
    }

    #[test]
    fn images_and_operator_are_chosen_separately() {
        let mut config = config(MULTIARCH);
        let patch = Patch {
            include_images: true,
            ..Patch::default()
        };
        config.apply(&patch).unwrap();
        let result = tree(&config);
        assert!(result["images"].is_array());
        assert_eq!(result.get("operator"), None);

        let mut config = self::config(MULTIARCH);
        let patch = Patch {
            include_operator: true,
            ..Patch::default()
        };
        config.apply(&patch).unwrap();
        let result = tree(&config);
        assert_eq!(result.get("images"), None);
        assert_eq!(
            result["operator"]["substitutions"][0]["with"],
            json!("pipeline:multiarch-tuning-operator")
        );
    }

    // --- test filter --------------------------------------------------------------------

    #[test]
    fn the_job_name_selects_its_test_in_a_variant_config() {
        let mut config = config(MULTIARCH);
        let job = "periodic-ci-openshift-multiarch-tuning-operator-main-ocp418-e2e-aws-ovn-proxy-mto-origin";
        let patch = Patch {
            test_filter: Some(filter(
                job,
                "openshift",
                "multiarch-tuning-operator",
                "main",
                Some("ocp418"),
            )),
            ..keep_all()
        };
        let report = config.apply(&patch).unwrap();
        assert_eq!(
            report.selected_test.as_deref(),
            Some("e2e-aws-ovn-proxy-mto-origin")
        );
        assert_eq!(report.warnings, Vec::<String>::new());
        let tests = tree(&config)["tests"].clone();
        assert_eq!(tests.as_array().unwrap().len(), 1);
        assert_eq!(tests[0]["as"], json!("e2e-aws-ovn-proxy-mto-origin"));
        assert_eq!(
            tests[0]["cron"],
            json!("15 6 * * 3"),
            "the test itself is untouched"
        );
    }

    #[test]
    fn a_sharded_job_selects_its_test() {
        let mut config = config(SANDBOXED);
        let job = "periodic-ci-openshift-sandboxed-containers-operator-devel-downstream-candidate-aws-ipi-peerpods-2of3";
        let patch = Patch {
            test_filter: Some(filter(
                job,
                "openshift",
                "sandboxed-containers-operator",
                "devel",
                Some("downstream-candidate"),
            )),
            ..keep_all()
        };
        let report = config.apply(&patch).unwrap();
        assert_eq!(report.selected_test.as_deref(), Some("aws-ipi-peerpods"));
        let tests = tree(&config)["tests"].clone();
        assert_eq!(tests.as_array().unwrap().len(), 1);
        assert_eq!(tests[0]["shard_count"], json!(3));
    }

    #[test]
    fn a_job_name_of_another_shape_keeps_all_tests_with_a_warning() {
        let mut config = config(KONFLUX_TASKS);
        let patch = Patch {
            test_filter: Some(filter(
                "my-custom-konflux-job",
                "openshift",
                "konflux-tasks",
                "main",
                None,
            )),
            ..keep_all()
        };
        let report = config.apply(&patch).unwrap();
        assert_eq!(report.selected_test, None);
        assert_eq!(tree(&config)["tests"].as_array().unwrap().len(), 3);
        assert_eq!(report.warnings.len(), 1);
        let warning = &report.warnings[0];
        assert!(
            warning.contains("does not follow ci-operator naming"),
            "{warning}"
        );
        assert!(warning.contains("keeping all 3 tests"), "{warning}");
    }

    #[test]
    fn a_job_for_a_test_the_config_lacks_is_an_error_listing_the_tests() {
        let mut config = config(KONFLUX_TASKS);
        let patch = Patch {
            test_filter: Some(filter(
                "periodic-ci-openshift-konflux-tasks-main-konflux-test-azure",
                "openshift",
                "konflux-tasks",
                "main",
                None,
            )),
            ..keep_all()
        };
        let message = apply_err(&mut config, &patch);
        assert!(
            message.contains("runs test \"konflux-test-azure\""),
            "{message}"
        );
        assert!(
            message.contains("konflux-test-aws, konflux-test-gcp, konflux-test-bundle"),
            "{message}"
        );
        assert!(message.contains("fixture.yaml"), "{message}");
        assert!(message.contains("--filter-tests off"), "{message}");
    }

    #[test]
    fn a_missing_variant_is_suggested() {
        let mut config = config(MULTIARCH);
        let patch = Patch {
            test_filter: Some(filter(
                "periodic-ci-openshift-multiarch-tuning-operator-main-ocp418-e2e-gcp-ovn",
                "openshift",
                "multiarch-tuning-operator",
                "main",
                None,
            )),
            ..keep_all()
        };
        let message = apply_err(&mut config, &patch);
        assert!(
            message.contains("set --variant/VARIANT to ocp418"),
            "{message}"
        );
    }

    #[test]
    fn test_names_come_from_job_names_like_ci_tools_derives_them() {
        /// Job name, org, repo, branch, variant, and the test it runs.
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: [Case; 12] = [
            ("periodic-ci-openshift-konflux-tasks-main-konflux-test-aws", "openshift", "konflux-tasks", "main", None, Some("konflux-test-aws")),
            ("pull-ci-openshift-konflux-tasks-main-konflux-test-aws", "openshift", "konflux-tasks", "main", None, Some("konflux-test-aws")),
            ("branch-ci-openshift-konflux-tasks-main-images", "openshift", "konflux-tasks", "main", None, Some("images")),
            ("periodic-ci-openshift-origin-release-4.18-e2e-aws", "openshift", "origin", "release-4.18", None, Some("e2e-aws")),
            (
                "periodic-ci-openshift-sandboxed-containers-operator-devel-downstream-1.10-candidate-4.16-azure-ipi-kata",
                "openshift", "sandboxed-containers-operator", "devel", Some("downstream-1.10-candidate-4.16"), Some("azure-ipi-kata"),
            ),
            ("periodic-ci-o-r-main-e2e-3of10", "o", "r", "main", None, Some("e2e")),
            ("periodic-ci-o-r-main-e2e-of10", "o", "r", "main", None, Some("e2e-of10")),
            ("periodic-ci-o-r-main-v1-e2e-1of2", "o", "r", "main", Some("v1"), Some("e2e")),
            ("periodic-ci-o-r-main-e2e", "o", "r", "master", None, None),
            ("presubmit-ci-o-r-main-e2e", "o", "r", "main", None, None),
            ("periodic-ci-o-r-main-", "o", "r", "main", None, None),
            ("periodic-ci-o-r-main-1of2", "o", "r", "main", None, None),
        ];
        for (job, org, repo, branch, variant, expected) in cases {
            assert_eq!(
                test_name_from_job_name(job, org, repo, branch, variant).as_deref(),
                expected,
                "{job}"
            );
        }
        assert_eq!(
            test_name_from_job_name("periodic-ci---main-x", "", "", "main", None),
            None
        );
        // provide-prowjob's bug #29: the variant joins with '-', never "__".
        assert_eq!(
            test_name_from_job_name("periodic-ci-o-r-main__v1-e2e", "o", "r", "main", Some("v1")),
            None
        );
    }

    // --- envs ---------------------------------------------------------------------------

    #[test]
    fn env_values_are_written_exactly_into_the_selected_test() {
        let mut config = config(MULTIARCH);
        let awkward = [
            ("WITH_EQUALS", "a=b=c"),
            ("WITH_QUOTES", "say \"hi\" and 'bye'"),
            ("WITH_NEWLINES", "line one\nline two\n"),
            ("WITH_YAML", "yes"),
            ("WITH_NUMBER", "0123"),
            ("OCP_ARCH", "arm64"),
        ];
        let patch = Patch {
            test_filter: Some(filter(
                "periodic-ci-openshift-multiarch-tuning-operator-main-ocp418-e2e-gcp-ovn",
                "openshift",
                "multiarch-tuning-operator",
                "main",
                Some("ocp418"),
            )),
            envs: awkward
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..keep_all()
        };
        let report = config.apply(&patch).unwrap();
        assert_eq!(report.warnings, Vec::<String>::new());
        assert_eq!(report.gangway_envs, Vec::new());
        let env = tree(&config)["tests"][0]["steps"]["env"].clone();
        assert_eq!(
            env,
            json!({
                "COMPUTE_NODE_REPLICAS": "2",
                "OCP_ARCH": "arm64",
                "WITH_EQUALS": "a=b=c",
                "WITH_QUOTES": "say \"hi\" and 'bye'",
                "WITH_NEWLINES": "line one\nline two\n",
                "WITH_YAML": "yes",
                "WITH_NUMBER": "0123",
            })
        );
        let yaml = CiOperatorConfig::parse(&config.to_yaml(), "dry-run").unwrap();
        assert_eq!(
            tree(&yaml),
            tree(&config),
            "the YAML shown by --dry-run means the same"
        );
    }

    #[test]
    fn without_a_filter_envs_go_to_every_multi_stage_test_and_skip_container_tests() {
        let mut config = config(MULTIARCH);
        let patch = Patch {
            envs: vec![("TEST_ENV".into(), "example".into())],
            ..keep_all()
        };
        let report = config.apply(&patch).unwrap();
        let tests = tree(&config)["tests"].clone();
        assert_eq!(tests[0]["as"], json!("unit"));
        assert_eq!(
            tests[0].get("steps"),
            None,
            "no bogus steps block on the container test"
        );
        for index in 1..4 {
            assert_eq!(
                tests[index]["steps"]["env"]["TEST_ENV"],
                json!("example"),
                "test {index}"
            );
        }
        assert_eq!(report.warnings.len(), 1);
        assert!(
            report.warnings[0].contains("did not set TEST_ENV on unit"),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn a_test_without_env_gets_one() {
        let mut config = config(KONFLUX_TASKS);
        let patch = Patch {
            test_filter: Some(filter(
                "periodic-ci-openshift-konflux-tasks-main-konflux-test-bundle",
                "openshift",
                "konflux-tasks",
                "main",
                None,
            )),
            envs: vec![("OPERATOR".into(), "pipeline:konflux".into())],
            ..keep_all()
        };
        config.apply(&patch).unwrap();
        assert_eq!(
            tree(&config)["tests"][0]["steps"]["env"],
            json!({"OPERATOR": "pipeline:konflux"})
        );
    }

    #[test]
    fn literal_steps_count_as_multi_stage() {
        let mut config = config("tests:\n- as: e2e\n  literal_steps:\n    cluster_profile: aws\n");
        let patch = Patch {
            envs: vec![("A".into(), "1".into())],
            ..keep_all()
        };
        config.apply(&patch).unwrap();
        assert_eq!(
            tree(&config)["tests"][0]["literal_steps"]["env"],
            json!({"A": "1"})
        );
    }

    #[test]
    fn envs_only_for_container_tests_are_an_error() {
        let mut config = config(MULTIARCH);
        let patch = Patch {
            test_filter: Some(filter(
                "pull-ci-openshift-multiarch-tuning-operator-main-ocp418-unit",
                "openshift",
                "multiarch-tuning-operator",
                "main",
                Some("ocp418"),
            )),
            envs: vec![("A".into(), "1".into())],
            ..keep_all()
        };
        let message = apply_err(&mut config, &patch);
        assert!(
            message.contains("only be set on multi-stage tests") && message.contains("unit"),
            "{message}"
        );
    }

    #[test]
    fn empty_values_and_bad_names_are_refused() {
        for (key, value, expected) in [
            ("EMPTY", "", "env EMPTY in ENVS/--env has an empty value"),
            ("", "x", "invalid env name \"\""),
            ("1ST", "x", "invalid env name \"1ST\""),
            ("A B", "x", "invalid env name \"A B\""),
            ("A=B", "x", "invalid env name \"A=B\""),
        ] {
            for env_mode in [EnvMode::Config, EnvMode::Override] {
                let mut config = config(KONFLUX_TASKS);
                let patch = Patch {
                    envs: vec![(key.to_owned(), value.to_owned())],
                    env_mode,
                    ..keep_all()
                };
                let message = apply_err(&mut config, &patch);
                assert!(message.contains(expected), "{message}");
            }
        }
    }

    #[test]
    fn a_repeated_env_keeps_its_last_value() {
        let mut config = config(KONFLUX_TASKS);
        let patch = Patch {
            envs: vec![("A".into(), "1".into()), ("A".into(), "2".into())],
            ..keep_all()
        };
        let report = config.apply(&patch).unwrap();
        assert_eq!(tree(&config)["tests"][2]["steps"]["env"]["A"], json!("2"));
        assert!(report.warnings.iter().any(|w| w.contains("more than once")));
    }

    #[test]
    fn override_mode_leaves_the_tests_alone_and_returns_gangway_envs() {
        let original = tree(&config(KONFLUX_TASKS));
        let mut config = config(KONFLUX_TASKS);
        let patch = Patch {
            envs: vec![
                ("TEST_ENV".into(), "a=b".into()),
                ("OTHER".into(), "line\nbreak".into()),
            ],
            env_mode: EnvMode::Override,
            ..keep_all()
        };
        let report = config.apply(&patch).unwrap();
        assert_eq!(tree(&config), original);
        assert_eq!(
            report.gangway_envs,
            vec![
                (
                    "MULTISTAGE_PARAM_OVERRIDE_TEST_ENV".to_owned(),
                    "a=b".to_owned()
                ),
                (
                    "MULTISTAGE_PARAM_OVERRIDE_OTHER".to_owned(),
                    "line\nbreak".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn env_modes_parse_from_their_names() {
        assert_eq!("config".parse::<EnvMode>(), Ok(EnvMode::Config));
        assert_eq!(" Override ".parse::<EnvMode>(), Ok(EnvMode::Override));
        assert!("env".parse::<EnvMode>().unwrap_err().contains("config"));
        assert_eq!(EnvMode::default(), EnvMode::Config);
    }

    // --- everything together ------------------------------------------------------------

    #[test]
    fn a_full_patch_leaves_everything_else_as_it_was() {
        let original = tree(&config(MULTIARCH));
        let mut config = config(MULTIARCH);
        let patch = Patch {
            external_images: vec![(
                "multiarch-tuning-operator-bundle".into(),
                image(&format!("quay.io/redhat-user-workloads/mto/bundle@sha256:{HEX}")),
            )],
            build_root: Some(artifacts(Some("RUN make build"))),
            include_images: false,
            include_operator: true,
            test_filter: Some(filter(
                "periodic-ci-openshift-multiarch-tuning-operator-main-ocp418-e2e-aws-ovn-proxy-mto-origin",
                "openshift",
                "multiarch-tuning-operator",
                "main",
                Some("ocp418"),
            )),
            envs: vec![("TEST_ENV".into(), "example".into()), ("ANOTHER_ENV".into(), "example2".into())],
            env_mode: EnvMode::Config,
        };
        let report = config.apply(&patch).unwrap();
        assert_eq!(
            report.selected_test.as_deref(),
            Some("e2e-aws-ovn-proxy-mto-origin")
        );
        let result = tree(&config);
        for untouched in [
            "base_images",
            "binary_build_commands",
            "operator",
            "releases",
            "resources",
            "zz_generated_metadata",
        ] {
            assert_eq!(result[untouched], original[untouched], "{untouched}");
        }
        let keys: Vec<&String> = result.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "base_images",
                "binary_build_commands",
                "build_root",
                "external_images",
                "operator",
                "releases",
                "resources",
                "tests",
                "zz_generated_metadata",
            ],
            "images is gone, external_images is added, nothing else comes or goes"
        );
        let test = &result["tests"][0];
        assert_eq!(test["steps"]["env"]["TEST_ENV"], json!("example"));
        assert_eq!(test["steps"]["env"]["ANOTHER_ENV"], json!("example2"));
        assert_eq!(
            test["steps"]["env"]["MTO_OPERATOR_INSTALL_METHOD"],
            json!("catalog")
        );
    }

    // --- fetching -----------------------------------------------------------------------

    async fn serve(routes: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, routes).await });
        format!("http://{address}")
    }

    fn quick_client() -> HttpClient {
        HttpClient::new(crate::core::http::HttpConfig {
            deadline: std::time::Duration::from_millis(300),
            base_delay: std::time::Duration::from_millis(10),
            max_delay: std::time::Duration::from_millis(20),
            ..crate::core::http::HttpConfig::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn fetching_judges_each_answer() {
        use axum::http::StatusCode;
        use axum::routing::get;
        let routes = axum::Router::new()
            .route("/master/ci-operator/config/openshift/konflux-tasks/openshift-konflux-tasks-main.yaml", get(|| async { KONFLUX_TASKS }))
            .route("/empty.yaml", get(|| async { "  \n" }))
            .route("/down.yaml", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "maintenance") }))
            .route("/private.yaml", get(|| async { (StatusCode::FORBIDDEN, "no") }));
        let base = serve(routes).await;
        let http = quick_client();
        let location = ConfigLocation {
            org: "openshift".into(),
            repo: "konflux-tasks".into(),
            branch: "main".into(),
            variant: None,
        };

        let text = fetch_config(&http, &location.url(&base, "master"))
            .await
            .unwrap();
        assert_eq!(text, KONFLUX_TASKS);

        let missing = ConfigLocation {
            variant: Some("ocp418".into()),
            ..location
        };
        let url = missing.url(&base, "master");
        let error = fetch_config(&http, &url).await.unwrap_err();
        let message = format!("{error:#}");
        assert_eq!(exit_code(&error), 5, "{message}");
        assert!(message.contains(&url), "{message}");
        assert!(
            message.contains("file openshift-konflux-tasks-main__ocp418.yaml"),
            "{message}"
        );
        assert!(
            message.contains("--variant/VARIANT")
                && message.contains("--config-branch/TARGET_BRANCH"),
            "{message}"
        );

        let error = fetch_config(&http, &format!("{base}/missing.yaml?token=s3cret"))
            .await
            .unwrap_err();
        let message = format!("{error:#}");
        assert_eq!(exit_code(&error), 5, "{message}");
        assert!(!message.contains("s3cret"), "{message}");

        let error = fetch_config(&http, &format!("{base}/empty.yaml"))
            .await
            .unwrap_err();
        assert_eq!(exit_code(&error), 3);
        assert!(format!("{error:#}").contains("came back empty"));

        let error = fetch_config(&http, &format!("{base}/down.yaml"))
            .await
            .unwrap_err();
        assert_eq!(exit_code(&error), 3, "{error:#}");

        let error = fetch_config(&http, &format!("{base}/private.yaml"))
            .await
            .unwrap_err();
        assert_eq!(exit_code(&error), 5, "{error:#}");
        assert!(format!("{error:#}").contains("403"), "{error:#}");
    }

    // --- properties ---------------------------------------------------------------------

    fn name_part(regex: &'static str) -> impl Strategy<Value = String> {
        proptest::string::string_regex(regex).expect("valid regex")
    }

    proptest! {
        #[test]
        fn the_test_name_comes_back_from_any_generated_job_name(
            prefix in prop_oneof![Just("pull"), Just("branch"), Just("periodic")],
            org in name_part("[a-z0-9][a-z0-9-]{0,12}"),
            repo in name_part("[a-z0-9][a-z0-9._-]{0,16}"),
            branch in name_part("[a-z0-9][a-z0-9.-]{0,12}"),
            variant in proptest::option::of(name_part("[a-z0-9][a-z0-9.-]{0,12}")),
            test in name_part("[a-z][a-z0-9-]{0,20}[a-z]"),
            shard in proptest::option::of((1u32..20, 1u32..20)),
        ) {
            let mut job = format!("{prefix}-ci-{org}-{repo}-{branch}-");
            if let Some(variant) = &variant {
                job.push_str(variant);
                job.push('-');
            }
            job.push_str(&test);
            if let Some((index, count)) = shard {
                job.push_str(&format!("-{index}of{count}"));
            }
            prop_assert_eq!(
                test_name_from_job_name(&job, &org, &repo, &branch, variant.as_deref()),
                Some(test)
            );
        }
    }
}
