//! What to check and how strictly: the profile, per-rule severities and options, from
//! `.stepkit-lint.yaml` (found upward from the working directory, or `--config`) and then the
//! command line, which wins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

use super::finding::Severity;
use super::rules::{self, RuleId};
use crate::core::error::{Error, Kind};
use crate::core::glob::{Anchor, GlobSet};
use crate::core::input::{read_input_text, MIB};

pub const CONFIG_FILE_NAME: &str = ".stepkit-lint.yaml";

/// Which rule set applies; the order is the column order of [`rules::Rule::defaults`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Webhook validation, security and hygiene: for any Tekton definitions.
    #[default]
    Core = 0,
    /// core + tektoncd/catalog layout, labels and annotations.
    Catalog = 1,
    /// core + Konflux build-definitions and Conforma expectations.
    Konflux = 2,
    /// konflux + partner-task rules (integratable, skippable, OWNERS).
    Partner = 3,
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        <Profile as clap::ValueEnum>::from_str(s, false).map_err(|_| {
            format!("unknown profile {s:?}: expected core, catalog, konflux or partner")
        })
    }
}

/// How versions are laid out on disk: `<kind>/<name>/<version>/<name>.yaml`, or one file per
/// name with versions in git history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Versioning {
    #[default]
    Directory,
    Git,
}

/// The lowest severity that makes the command exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    #[default]
    Error,
    Warning,
    Info,
    Never,
}

impl FailOn {
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Info => Some(Severity::Info),
            FailOn::Never => None,
        }
    }
}

/// shellcheck settings.
#[derive(Debug, Clone)]
pub struct ShellcheckOptions {
    pub enabled: bool,
    pub path: PathBuf,
    /// The lowest shellcheck level reported: error, warning, info or style.
    pub min_level: String,
    /// SC codes never reported (`SC2086` or `2086`).
    pub exclude: Vec<String>,
    /// Where verdicts are cached between runs (None: not cached).
    pub cache_dir: Option<PathBuf>,
}

impl Default for ShellcheckOptions {
    fn default() -> Self {
        ShellcheckOptions {
            enabled: true,
            path: PathBuf::from("shellcheck"),
            min_level: "warning".into(),
            exclude: Vec::new(),
            cache_dir: None,
        }
    }
}

/// What rules may read besides the document.
#[derive(Debug, Clone)]
pub struct RuleOptions {
    pub profile: Profile,
    pub versioning: Versioning,
    /// image-registry-allowlist: allowed image prefixes.
    pub allowed_registries: Vec<String>,
    /// required-results: task name → results it must declare.
    pub required_results: BTreeMap<String, Vec<String>>,
    /// categories: the Tekton Hub category list.
    pub categories: Vec<String>,
    /// script-too-long: the longest script allowed.
    pub script_max_lines: usize,
    pub shellcheck: ShellcheckOptions,
}

/// Conforma's `allowed_step_image_registry_prefixes` rule data.
pub const KONFLUX_REGISTRIES: &[&str] = &[
    "quay.io/redhat-appstudio/",
    "quay.io/konflux-ci/",
    "registry.access.redhat.com/",
    "registry.redhat.io/",
    "quay.io/opdev/preflight",
];

/// The Tekton Hub category list (tektoncd/hub config.yaml), bundled so lint needs no network.
pub const HUB_CATEGORIES: &[&str] = &[
    "Automation",
    "Build Tools",
    "CLI",
    "Cloud",
    "Code Quality",
    "Continuous Integration",
    "Deployment",
    "Developer Tools",
    "Image Build",
    "Integration & Delivery",
    "Git",
    "Kubernetes",
    "Messaging",
    "Monitoring",
    "Networking",
    "Openshift",
    "Publishing",
    "Security",
    "Storage",
    "Testing",
];

impl Default for RuleOptions {
    fn default() -> Self {
        RuleOptions {
            profile: Profile::Core,
            versioning: Versioning::Directory,
            allowed_registries: KONFLUX_REGISTRIES.iter().map(|s| s.to_string()).collect(),
            required_results: BTreeMap::from([
                ("clair-scan".to_string(), vec!["SCAN_OUTPUT".to_string()]),
                (
                    "rpms-signature-scan".to_string(),
                    vec!["RPMS_DATA".to_string()],
                ),
            ]),
            categories: HUB_CATEGORIES.iter().map(|s| s.to_string()).collect(),
            script_max_lines: 100,
            shellcheck: ShellcheckOptions::default(),
        }
    }
}

/// Rule severities for the files matching some globs (examples are not catalog entries). A
/// glob with `/` matches from any directory of the path as given (`examples/**` covers
/// `/repo/examples/a.yaml`), and a matched directory covers the files inside.
#[derive(Debug, Clone, Default)]
pub struct PathOverride {
    pub files: GlobSet,
    pub rules: BTreeMap<String, Option<Severity>>,
}

/// The validated configuration of one run.
#[derive(Debug, Clone)]
pub struct Config {
    pub options: RuleOptions,
    /// Rule id → severity the user chose (None = off).
    pub overrides: BTreeMap<String, Option<Severity>>,
    /// Per-path severities from the config file; later entries win.
    pub path_overrides: Vec<PathOverride>,
    pub exclude: Vec<String>,
    pub fail_on: FailOn,
    pub verbose: bool,
    /// Files larger than this many bytes are a `yaml-limits` finding, not read.
    pub max_file_size: u64,
}

/// Generous for real catalogs (the largest Tekton CRD is under 0.5 MiB) and above what a
/// cluster can store (etcd takes requests up to 1.5 MiB).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 2 << 20;

impl Default for Config {
    fn default() -> Config {
        Config {
            options: RuleOptions::default(),
            overrides: BTreeMap::new(),
            path_overrides: Vec::new(),
            exclude: Vec::new(),
            fail_on: FailOn::default(),
            verbose: false,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
        }
    }
}

impl Config {
    /// The severity `rule` reports at, or None when it is off.
    pub fn severity_of(&self, rule: &str) -> Option<Severity> {
        self.effective_severity(rule, None)
    }

    /// Whether `rule` can report anywhere (in some file, by a per-path setting).
    pub fn is_enabled(&self, rule: &str) -> bool {
        self.severity_of(rule).is_some()
            || self
                .path_overrides
                .iter()
                .any(|o| o.rules.get(rule).is_some_and(Option::is_some))
    }

    /// [`Config::effective_severity`] for a finding in the file at `path`: a per-path setting
    /// for the rule wins over everything else.
    pub fn severity_at(
        &self,
        path: &str,
        rule: &str,
        instance: Option<Severity>,
    ) -> Option<Severity> {
        let path = path.replace('\\', "/");
        let per_path = self
            .path_overrides
            .iter()
            .rev()
            .filter(|o| o.files.matches_within(path.as_bytes(), false))
            .find_map(|o| o.rules.get(rule));
        match per_path {
            Some(chosen) => *chosen,
            None => self.effective_severity(rule, instance),
        }
    }

    /// A diagnostic's severity: the user's choice, else the instance's own, else the default.
    pub fn effective_severity(&self, rule: &str, instance: Option<Severity>) -> Option<Severity> {
        match self.overrides.get(rule) {
            Some(chosen) => *chosen,
            None => {
                let default = rules::find(rule).and_then(|r| r.default_in(self.options.profile))?;
                Some(instance.unwrap_or(default))
            }
        }
    }

    /// `--exclude` and `exclude:` compiled: a glob with `/` matches from any directory of the
    /// path as the user gave it (relative or absolute), a bare name at any depth.
    pub fn exclude_set(&self) -> anyhow::Result<GlobSet> {
        GlobSet::new(&self.exclude, Anchor::AnyDirectory)
            .map_err(|e| Error::usage(format!("--exclude / exclude: {e}")).into())
    }

    /// Sets a rule's severity (`off` turns it off), refusing unknown rule ids.
    pub fn set_rule(&mut self, id: &str, severity: &str) -> anyhow::Result<()> {
        let rule = parse_rule_id(id)?;
        let severity = parse_rule_severity(rule, severity)?;
        self.override_rule(rule, severity);
        Ok(())
    }

    /// Sets a rule's severity; `None` turns it off.
    pub fn override_rule(&mut self, rule: RuleId, severity: Option<Severity>) {
        self.overrides.insert(rule.as_str().to_owned(), severity);
    }

    /// Applies a config file on top of this configuration.
    pub fn apply_file(&mut self, path: &Path) -> anyhow::Result<()> {
        // A config is a page of settings; a FIFO or a runaway file must not hang the lint.
        let text = read_input_text(Some(path), MIB).map_err(|problem| {
            let kind = if problem.is_bad_input() {
                Kind::Usage
            } else {
                Kind::LocalIo
            };
            Error::new(
                kind,
                format!("cannot read lint config {}: {problem}", path.display()),
            )
        })?;
        let file: ConfigFile = crate::tekton::yaml::from_str(&text)
            .map_err(|e| Error::usage(format!("lint config {}: {e}", path.display())))?;
        if let Some(profile) = file.profile {
            self.options.profile = profile;
        }
        if let Some(versioning) = file.versioning {
            self.options.versioning = versioning;
        }
        if let Some(fail_on) = file.fail_on {
            self.fail_on = fail_on;
        }
        match file.max_file_size {
            Some(SizeSetting::Bytes(bytes)) => self.max_file_size = bytes,
            Some(SizeSetting::Text(text)) => {
                self.max_file_size = super::inputs::parse_size(&text).map_err(|e| {
                    Error::usage(format!("lint config {}: max-file-size {e}", path.display()))
                })?
            }
            None => {}
        }
        self.exclude.extend(file.exclude);
        for entry in file.overrides {
            let mut rules = BTreeMap::new();
            for (id, severity) in entry.rules {
                let severity = severity.into_text();
                if rules::find(&id).is_none() {
                    return Err(Error::usage(format!(
                        "lint config {}: overrides: unknown rule {id:?}",
                        path.display()
                    ))
                    .into());
                }
                let severity = match severity.as_str() {
                    "off" => None,
                    other => Some(other.parse::<Severity>().map_err(|e| {
                        Error::usage(format!(
                            "lint config {}: overrides: rule {id}: {e} or off",
                            path.display()
                        ))
                    })?),
                };
                rules.insert(id, severity);
            }
            let files = GlobSet::new(&entry.files, Anchor::AnyDirectory).map_err(|e| {
                Error::usage(format!("lint config {}: overrides: {e}", path.display()))
            })?;
            self.path_overrides.push(PathOverride { files, rules });
        }
        for (id, setting) in file.rules {
            let (severity, options) = match setting {
                RuleSetting::Severity(s) => (Some(s.into_text()), RuleSettingOptions::default()),
                RuleSetting::Detailed { severity, options } => {
                    (severity.map(SeverityText::into_text), options)
                }
            };
            if let Some(severity) = severity {
                self.set_rule(&id, &severity)
                    .with_context(|| format!("lint config {}", path.display()))?;
            } else if rules::find(&id).is_none() {
                return Err(Error::usage(format!(
                    "lint config {}: unknown rule {id:?}",
                    path.display()
                ))
                .into());
            }
            if let Some(registries) = options.allowed_registries {
                self.options.allowed_registries = registries;
            }
            if let Some(categories) = options.categories {
                self.options.categories = categories;
            }
            if let Some(required) = options.required_results {
                self.options.required_results = required;
            }
            if let Some(max) = options.max_lines {
                self.options.script_max_lines = max;
            }
        }
        if let Some(shellcheck) = file.shellcheck {
            let options = &mut self.options.shellcheck;
            options.enabled = shellcheck.enabled.unwrap_or(options.enabled);
            if let Some(path) = shellcheck.path {
                options.path = path;
            }
            if let Some(level) = shellcheck.severity {
                if !matches!(level.as_str(), "error" | "warning" | "info" | "style") {
                    return Err(Error::usage(format!(
                        "lint config {}: shellcheck.severity {level:?}: expected error, warning, info or style",
                        path.display()
                    ))
                    .into());
                }
                options.min_level = level;
            }
            options.exclude.extend(shellcheck.exclude);
        }
        Ok(())
    }
}

/// stepkit's directory in the user's cache: `STEPKIT_CACHE_DIR` (empty: no cache), else
/// `XDG_CACHE_HOME/stepkit`, else `~/.cache/stepkit`.
pub fn user_cache_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = std::env::var_os("STEPKIT_CACHE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .map(|dir| dir.join("stepkit"))
}

/// The nearest `.stepkit-lint.yaml` in `dir` or above it.
pub fn find_config_file(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join(CONFIG_FILE_NAME))
        .find(|p| p.is_file())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ConfigFile {
    profile: Option<Profile>,
    versioning: Option<Versioning>,
    fail_on: Option<FailOn>,
    max_file_size: Option<SizeSetting>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    rules: BTreeMap<String, RuleSetting>,
    #[serde(default)]
    overrides: Vec<OverrideSetting>,
    shellcheck: Option<ShellcheckSetting>,
}

/// `max-file-size: 4194304` or `max-file-size: 4MiB`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeSetting {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideSetting {
    files: Vec<String>,
    rules: BTreeMap<String, SeverityText>,
}

/// A severity as written: `error`, `warning`, `info` or `off`. YAML as Kubernetes reads it
/// (YAML 1.1) takes a bare `off` for the boolean false, so that means off too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SeverityText {
    Text(String),
    Switch(bool),
}

impl SeverityText {
    fn into_text(self) -> String {
        match self {
            SeverityText::Text(text) => text,
            SeverityText::Switch(false) => "off".to_string(),
            SeverityText::Switch(true) => "true".to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RuleSetting {
    Severity(SeverityText),
    Detailed {
        severity: Option<SeverityText>,
        #[serde(flatten)]
        options: RuleSettingOptions,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RuleSettingOptions {
    allowed_registries: Option<Vec<String>>,
    categories: Option<Vec<String>>,
    required_results: Option<BTreeMap<String, Vec<String>>>,
    max_lines: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShellcheckSetting {
    enabled: Option<bool>,
    path: Option<PathBuf>,
    severity: Option<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

/// A rule id from the command line or a config file, refusing unknown ones.
pub fn parse_rule_id(id: &str) -> anyhow::Result<RuleId> {
    rules::find(id).map(|rule| rule.id).ok_or_else(|| {
        Error::usage(format!(
            "unknown rule {id:?}; `stepkit task lint --list-rules` lists them"
        ))
        .into()
    })
}

/// A severity for `rule`, or `off` (`None`).
pub fn parse_rule_severity(rule: RuleId, severity: &str) -> anyhow::Result<Option<Severity>> {
    match severity {
        "off" => Ok(None),
        other => other
            .parse::<Severity>()
            .map(Some)
            .map_err(|e| Error::usage(format!("rule {rule}: {e} or off")).into()),
    }
}

/// `--rule ID=SEVERITY`.
pub fn parse_rule_setting(setting: &str) -> anyhow::Result<(RuleId, Option<Severity>)> {
    let (id, severity) = setting.split_once('=').ok_or_else(|| {
        Error::usage(format!(
            "--rule {setting:?}: expected ID=SEVERITY, e.g. run-as-root=error"
        ))
    })?;
    let rule = parse_rule_id(id.trim())?;
    Ok((rule, parse_rule_severity(rule, severity.trim())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_cover_directories_from_any_depth() {
        let mut config = Config {
            exclude: vec!["vendor".into(), "examples/**".into()],
            ..Config::default()
        };
        let set = config.exclude_set().unwrap();
        assert!(set.matches_within(b"./a/vendor/x.yaml", false));
        assert!(set.matches_within(b"/repo/examples/kratix/promise.yaml", false));
        assert!(!set.matches_within(b"tasks/a/0.1/a.yaml", false));
        config.exclude.push("[oops".into());
        assert!(config.exclude_set().is_err());
    }

    #[test]
    fn per_path_settings_win_for_matching_files_only() {
        let mut config = Config::default();
        config.options.profile = Profile::Catalog;
        config.path_overrides.push(PathOverride {
            files: GlobSet::new(&["examples/**"], Anchor::AnyDirectory).unwrap(),
            rules: BTreeMap::from([("categories".to_string(), None)]),
        });
        assert_eq!(
            config.severity_at("examples/a/pipeline.yaml", "categories", None),
            None
        );
        assert_eq!(
            config.severity_at("tasks/a/0.1/a.yaml", "categories", None),
            Some(Severity::Error)
        );
    }

    #[test]
    fn user_severity_beats_instance_and_default() {
        let mut config = Config::default();
        assert_eq!(
            config.effective_severity("capabilities-add", Some(Severity::Error)),
            Some(Severity::Error)
        );
        assert_eq!(
            config.effective_severity("capabilities-add", None),
            Some(Severity::Warning)
        );
        config.set_rule("capabilities-add", "info").unwrap();
        assert_eq!(
            config.effective_severity("capabilities-add", Some(Severity::Error)),
            Some(Severity::Info)
        );
        config.set_rule("capabilities-add", "off").unwrap();
        assert_eq!(config.effective_severity("capabilities-add", None), None);
        assert!(config.set_rule("no-such-rule", "error").is_err());
    }

    #[test]
    fn a_bare_off_reads_as_off_though_yaml_makes_it_false() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE_NAME);
        std::fs::write(
            &path,
            "rules:\n  unused-param: off\n  run-as-root: {severity: off}\noverrides:\n  - files: [examples/**]\n    rules: {categories: off}\n",
        )
        .unwrap();
        let mut config = Config::default();
        config.apply_file(&path).unwrap();
        assert_eq!(config.severity_of("unused-param"), None);
        assert_eq!(config.severity_of("run-as-root"), None);
        assert_eq!(config.path_overrides[0].rules["categories"], None);
    }

    #[test]
    fn profiles_switch_rules_on() {
        let mut config = Config::default();
        assert_eq!(config.severity_of("categories"), None);
        config.options.profile = Profile::Catalog;
        assert_eq!(config.severity_of("categories"), Some(Severity::Error));
    }
}
