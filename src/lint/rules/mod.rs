//! The rule catalogue: every rule with its id, default severity per profile and the source it
//! comes from, and the checks that report them. A check is a small function over one typed
//! document (or, for rules that compare documents, over the whole corpus).

mod images;
mod konflux;
mod metadata;
mod pipeline;
mod references;
mod scripts;
mod security;
mod shellcheck;
mod structure;

use super::finding::{Diagnostic, FieldPath, Location, Severity};
use super::{Corpus, Profile, RuleOptions, SourceFile, TektonDoc};
use crate::tekton::model::{PipelineSpec, Resource, TaskSpec};

/// One row of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub number: u16,
    pub id: RuleId,
    pub summary: &'static str,
    /// Where the rule comes from: W webhook, CAT catalog, CL catlin, TL tekton-lint, EC Conforma,
    /// A21/A30 Konflux ADRs, K Konflux CI, PSS Pod Security Standards, KL kube-linter.
    pub anchor: &'static str,
    /// Default severity in the core, catalog, konflux and partner profiles (None = off).
    pub defaults: [Option<Severity>; 4],
}

impl Rule {
    pub fn default_in(&self, profile: Profile) -> Option<Severity> {
        self.defaults[profile as usize]
    }
}

const E: Option<Severity> = Some(Severity::Error);
const W: Option<Severity> = Some(Severity::Warning);
const I: Option<Severity> = Some(Severity::Info);
const OFF: Option<Severity> = None;

const fn rule(
    number: u16,
    id: RuleId,
    defaults: [Option<Severity>; 4],
    anchor: &'static str,
    summary: &'static str,
) -> Rule {
    Rule {
        number,
        id,
        summary,
        anchor,
        defaults,
    }
}

/// Declares [`RuleId`] and [`CATALOGUE`] from one list of rows:
/// `number Variant "id" [core, catalog, konflux, partner] "anchor" "summary";`.
macro_rules! catalogue {
    ($($number:literal $variant:ident $id:literal [$($default:ident),*] $anchor:literal $summary:literal;)*) => {
        /// A rule's id, typed: a rule reports through its variant, never through a string.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RuleId {
            $($variant,)*
        }

        impl RuleId {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$variant => $id,)*
                }
            }
        }

        #[rustfmt::skip]
        pub const CATALOGUE: &[Rule] = &[
            $(rule($number, RuleId::$variant, [$($default),*], $anchor, $summary),)*
        ];
    };
}

// The catalogue: one row per rule, which also defines its typed id, so an id cannot drift.
catalogue! {
    1 YamlSyntax "yaml-syntax" [E, E, E, E] "CAT" "YAML that does not parse, or a key given twice";
    2 UnknownField "unknown-field" [E, E, E, E] "W" "a field Tekton does not know for this kind, or a value of the wrong shape";
    3 ApiVersion "api-version" [W, W, W, W] "W TL" "an old apiVersion: v1beta1 Task/Pipeline (use v1), v1alpha1 (error)";
    4 V1beta1RemovedField "v1beta1-removed-field" [E, E, E, E] "W" "a field v1 removed: step resources, spec.resources, taskRef.bundle, ClusterTask";
    5 MetadataName "metadata-name" [E, E, E, E] "W" "metadata.name missing or not a DNS-1123 subdomain";
    6 StepsRequired "steps-required" [E, E, E, E] "W" "a Task without steps";
    7 StepNameFormat "step-name-format" [E, E, E, E] "W" "a step name that is not a DNS-1123 label, or used twice";
    8 StepImageRequired "step-image-required" [E, E, E, E] "W" "a step without image (and without ref), or ref mixed with container fields";
    9 ScriptWithCommand "script-with-command" [E, E, E, E] "W" "script and command in the same step, sidecar or StepAction";
    10 StepOnerrorValue "step-onerror-value" [E, E, E, E] "W" "onError other than continue, stopAndFail or a param reference";
    11 ReservedMount "reserved-mount" [E, E, E, E] "W" "a volume mount under /tekton/ or named tekton-internal-*, or a duplicate volume";
    12 ParamNameFormat "param-name-format" [E, E, E, E] "W" "a param name Tekton rejects, or declared twice";
    13 ParamType "param-type" [E, E, E, E] "W" "a param type other than string/array/object, or a default of another type";
    14 ParamEnum "param-enum" [E, E, E, E] "W" "an enum on a non-string param, with duplicates, or not containing the default";
    15 ResultNameFormat "result-name-format" [E, E, E, E] "W" "a result name or type Tekton rejects";
    16 WorkspaceDecl "workspace-decl" [E, E, E, E] "W" "workspaces with the same name or mount path";
    17 UndefinedParamRef "undefined-param-ref" [E, E, E, E] "W TL" "a $(params...) reference to a param (or object key) that is not declared";
    18 UndefinedResultRef "undefined-result-ref" [E, E, E, E] "W" "a $(results...) or $(step.results...) reference to an undeclared result";
    19 UndefinedWorkspaceRef "undefined-workspace-ref" [E, E, E, E] "W" "a $(workspaces...) reference or step workspace to an undeclared workspace";
    20 UndefinedContextRef "undefined-context-ref" [E, E, E, E] "W" "a $(context...) variable Tekton does not provide here";
    21 ArrayParamMisuse "array-param-misuse" [E, E, E, E] "W" "an array or object param used whole where only a string fits";
    22 SubstitutionInUnsupportedField "substitution-in-unsupported-field" [W, W, W, W] "W" "a $(...) in a field Tekton never substitutes";
    23 UnusedParam "unused-param" [W, W, W, W] "TL" "a declared param that nothing uses";
    24 UnusedWorkspace "unused-workspace" [I, I, I, I] "" "a declared workspace that nothing uses";
    25 UndefinedVolume "undefined-volume" [E, E, E, E] "TL" "a volumeMount naming a volume the Task does not declare";
    26 DuplicateEnv "duplicate-env" [E, E, E, E] "TL" "an env var set twice in one step or the step template";
    27 ParamsInScript "params-in-script" [W, W, E, E] "CAT CL K" "$(params...) inside a script (code injection): pass it through env";
    28 ImageDigestPin "image-digest-pin" [W, W, E, E] "CAT K" "an image not pinned by @sha256 digest";
    29 ImageLatestTag "image-latest-tag" [W, E, E, E] "CL TL KL" "an image with the latest tag, or no tag and no digest (policy: a warning in core)";
    30 ImageTagWithDigest "image-tag-with-digest" [I, I, I, I] "CL" "a digest without a human-readable tag";
    31 ImageFullyQualified "image-fully-qualified" [W, W, W, W] "CL" "an image without a registry host";
    32 ImageVariable "image-variable" [I, I, I, I] "CL" "an image built from $(...): its pinning cannot be checked";
    33 ImageRegistryAllowlist "image-registry-allowlist" [OFF, OFF, E, E] "EC" "a step image from a registry not on the allow-list";
    34 Privileged "privileged" [E, E, E, E] "A21 PSS KL" "securityContext.privileged: true";
    35 AllowPrivilegeEscalation "allow-privilege-escalation" [E, E, E, E] "A21 PSS KL" "securityContext.allowPrivilegeEscalation: true";
    36 RunAsRoot "run-as-root" [W, W, W, W] "CAT PSS KL" "runAsUser: 0 or runAsNonRoot: false";
    37 CapabilitiesAdd "capabilities-add" [W, W, W, W] "PSS" "added capabilities beyond NET_BIND_SERVICE (error for SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE, ALL)";
    38 HostPathVolume "host-path-volume" [E, E, E, E] "PSS KL" "a hostPath volume, or the docker socket";
    39 RestrictedVolumeType "restricted-volume-type" [I, I, I, I] "PSS" "a volume type outside the restricted Pod Security Standard";
    40 PodTemplateHostNs "pod-template-host-ns" [E, E, E, E] "PSS KL" "a run's pod template with hostNetwork, hostPID or hostIPC";
    41 SecretInEnv "secret-in-env" [I, I, I, I] "CL KL" "a Secret read into an env var (prefer a mounted file)";
    42 SecretLikeParam "secret-like-param" [W, W, W, W] "A21" "a param that looks like a secret value and flows into env, args or script";
    43 XtraceWithSecrets "xtrace-with-secrets" [W, W, W, W] "" "set -x in a script of a step that has secrets (it prints them)";
    44 ScriptShebang "script-shebang" [I, I, I, I] "TL CL" "a script without #! (Tekton runs it with /bin/sh and set -e)";
    45 ScriptErrexit "script-errexit" [W, W, W, W] "CAT" "a sh/bash script with its own shebang but without set -e";
    46 Shellcheck "shellcheck" [W, W, W, W] "CL K" "shellcheck findings in sh/bash scripts";
    47 ScriptTooLong "script-too-long" [OFF, OFF, OFF, OFF] "CAT" "a script longer than script-too-long.max-lines (default 100)";
    48 DescriptionMissing "description-missing" [W, W, W, W] "CAT CL" "spec, a param or a result without a description";
    49 ParamDefaultMissing "param-default-missing" [I, I, I, W] "A21 CAT" "a param without a default that a pipeline does not provide";
    50 CatalogLayout "catalog-layout" [OFF, E, OFF, E] "CL A21" "a file not at <kind>/<name>/<version>/<name>.yaml";
    51 VersionLabel "version-label" [OFF, E, E, E] "CL K" "app.kubernetes.io/version missing, malformed or not matching the version directory";
    52 MinPipelinesVersion "min-pipelines-version" [OFF, E, W, W] "CL CAT" "tekton.dev/pipelines.minVersion missing or not a version";
    53 Categories "categories" [OFF, E, OFF, OFF] "CL" "tekton.dev/categories missing or naming a category the Hub does not have";
    54 TagsDisplayName "tags-display-name" [OFF, I, OFF, OFF] "CL" "tekton.dev/tags or tekton.dev/displayName missing";
    55 Platforms "platforms" [OFF, I, OFF, OFF] "CL CAT" "tekton.dev/platforms missing (info), malformed (error) or unknown (warning)";
    56 ReadmePresent "readme-present" [OFF, W, OFF, W] "CAT A21" "no README.md beside the definition";
    57 OwnersPresent "owners-present" [OFF, W, OFF, E] "A21 CAT K" "no OWNERS file for the task";
    58 TestsPresent "tests-present" [OFF, I, I, I] "CAT K" "no tests/ beside the definition";
    59 Changelog "changelog" [OFF, OFF, W, W] "K" "no CHANGELOG.md in the task directory";
    60 TestOutputResult "test-output-result" [OFF, OFF, E, E] "A30 EC" "a test or scan task without a TEST_OUTPUT (and SCAN_OUTPUT) result";
    61 RequiredResults "required-results" [OFF, OFF, E, E] "EC" "a task without a result Conforma requires of it";
    62 TrustedArtifactsNaming "trusted-artifacts-naming" [OFF, OFF, E, E] "EC" "Trusted Artifacts params/results not ending in _ARTIFACT, or other workspaces";
    63 ExpiresOnFormat "expires-on-format" [OFF, OFF, E, E] "EC" "build.appstudio.redhat.com/expires-on not RFC 3339";
    64 PartnerIntegratable "partner-integratable" [OFF, OFF, OFF, W] "A21" "a required param or workspace a Konflux pipeline cannot provide";
    65 PartnerSkippable "partner-skippable" [OFF, OFF, OFF, W] "A21" "a secret the task cannot run without";
    66 PipelineRefs "pipeline-refs" [E, E, E, E] "W TL" "a Pipeline task graph problem: unknown runAfter, cycle, unknown task result, missing params";
    67 PipelineTaskrefPinned "pipeline-taskref-pinned" [W, W, E, E] "EC" "a bundle or git resolver reference not pinned to a digest or commit";
    68 DeprecatedResource "deprecated-resource" [I, I, I, I] "CAT TL" "a resource marked tekton.dev/deprecated";
    69 DuplicateResource "duplicate-resource" [W, E, E, E] "TL" "the same kind and name twice in one file (error), or in two files of one directory (policy: a warning in core)";
    70 NotTekton "not-tekton" [I, I, I, I] "K" "a YAML document that is not a Tekton object (shown with --verbose)";
    71 ShellcheckMissing "shellcheck-missing" [I, I, I, I] "" "shellcheck is not installed, so scripts were not checked";
    72 YamlLimits "yaml-limits" [E, E, E, E] "" "a file past a reading budget: size (--max-file-size), nesting depth or alias expansion";
    73 NotRegularFile "not-regular-file" [E, E, E, E] "" "a path that is not a regular file (FIFO, device, socket) or a dangling or looping symlink";
    74 FieldCase "field-case" [W, E, E, E] "W" "a field name in an embedded spec that Tekton reads as another one's, differing only in case";
}

pub fn find(id: &str) -> Option<&'static Rule> {
    CATALOGUE.iter().find(|r| r.id.as_str() == id)
}

impl RuleId {
    /// The catalogue row of this rule.
    pub fn rule(self) -> &'static Rule {
        &CATALOGUE[self as usize]
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a per-document check sees.
pub struct Check<'a> {
    pub doc: &'a TektonDoc,
    pub file: &'a SourceFile,
    pub corpus: &'a Corpus,
    pub options: &'a RuleOptions,
}

/// Collects diagnostics, dropping rules that are off before any message is formatted.
pub struct Sink<'a> {
    enabled: &'a dyn Fn(&str) -> bool,
    pub(crate) out: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    pub fn new(enabled: &'a dyn Fn(&str) -> bool) -> Sink<'a> {
        Sink {
            enabled,
            out: Vec::new(),
        }
    }

    pub fn enabled(&self, rule: RuleId) -> bool {
        (self.enabled)(rule.as_str())
    }

    pub fn report(&mut self, rule: RuleId, location: Location, message: impl Into<String>) {
        if self.enabled(rule) {
            self.out.push(Diagnostic {
                rule,
                message: message.into(),
                location,
                severity: None,
            });
        }
    }

    /// Reports with a severity of its own (a dangerous capability is worse than any other).
    pub fn report_as(
        &mut self,
        rule: RuleId,
        severity: Severity,
        location: Location,
        message: impl Into<String>,
    ) {
        if self.enabled(rule) {
            self.out.push(Diagnostic {
                rule,
                message: message.into(),
                location,
                severity: Some(severity),
            });
        }
    }

    /// Reports diagnostics found earlier, those of enabled rules.
    pub fn replay(&mut self, diagnostics: &[Diagnostic]) {
        for diagnostic in diagnostics {
            if self.enabled(diagnostic.rule) {
                self.out.push(diagnostic.clone());
            }
        }
    }

    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.out
    }
}

pub type CheckFn = fn(&Check, &mut Sink);

/// A Kubernetes DNS-1123 label: what Tekton requires of step and pipeline task names.
pub(crate) fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(allowed)
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

pub(crate) use structure::{check_schema, FieldRename};

/// A Task body: a Task's spec, or one inlined in a Pipeline, TaskRun or PipelineRun.
pub(crate) struct TaskBody<'a> {
    pub spec: &'a TaskSpec,
    pub path: FieldPath,
    /// The Pipeline task the body is inlined in.
    pub pipeline_task: Option<&'a str>,
}

/// Every Task body of the document, where Task-body rules apply.
pub(crate) fn task_bodies(doc: &TektonDoc) -> Vec<TaskBody<'_>> {
    let spec = FieldPath::root().field("spec");
    match &doc.resource {
        Some(Resource::Task(task)) => vec![TaskBody {
            spec: task,
            path: spec,
            pipeline_task: None,
        }],
        Some(Resource::TaskRun(run)) => run
            .task_spec
            .iter()
            .map(|task| TaskBody {
                spec: task,
                path: spec.field("taskSpec"),
                pipeline_task: None,
            })
            .collect(),
        Some(Resource::Pipeline(pipeline)) => inline_bodies(pipeline, &spec),
        Some(Resource::PipelineRun(run)) => run
            .pipeline_spec
            .as_ref()
            .map(|pipeline| inline_bodies(pipeline, &spec.field("pipelineSpec")))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn inline_bodies<'a>(pipeline: &'a PipelineSpec, path: &FieldPath) -> Vec<TaskBody<'a>> {
    let sections = [("tasks", &pipeline.tasks), ("finally", &pipeline.finally)];
    let mut bodies = Vec::new();
    for (section, tasks) in sections {
        for (i, task) in tasks.iter().enumerate() {
            if let Some(embedded) = &task.task_spec {
                bodies.push(TaskBody {
                    spec: &embedded.spec,
                    path: path.item(section, i).field("taskSpec"),
                    pipeline_task: Some(task.name.as_str()),
                });
            }
        }
    }
    bodies
}

/// The per-document checks, in catalogue order.
pub const CHECKS: &[CheckFn] = &[
    structure::check,
    references::check,
    images::check,
    security::check,
    scripts::check,
    metadata::check,
    konflux::check,
    pipeline::check,
];

/// A diagnostic from a corpus-wide check: (file index, document index if it belongs to one).
pub type Located = (usize, Option<usize>, Diagnostic);

/// A check over every document at once (duplicates across files, one shellcheck run for all scripts).
pub type CorpusCheckFn = fn(&Corpus, &RuleOptions, &dyn Fn(&str) -> bool) -> Vec<Located>;

pub const CORPUS_CHECKS: &[CorpusCheckFn] = &[structure::duplicates, shellcheck::run];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_and_numbers_are_unique_and_in_order() {
        for (i, rule) in CATALOGUE.iter().enumerate() {
            assert_eq!(rule.number as usize, i + 1, "{}", rule.id);
            assert_eq!(rule.id as usize, i, "{}", rule.id);
            assert_eq!(
                CATALOGUE
                    .iter()
                    .filter(|r| r.id.as_str() == rule.id.as_str())
                    .count(),
                1,
                "{}",
                rule.id
            );
        }
    }
}
