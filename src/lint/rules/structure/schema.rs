//! The field names Tekton accepts in each object of the five kinds, per API version, and the
//! types of their values, and the walk over a document's positioned YAML that reports the others.
//! Tekton's webhook decodes with unknown fields disallowed, so a typo (`Name:`,
//! `computeResource:`) is rejected on apply; Go's JSON decoder rejects a value of the wrong type
//! (`command: [true]`, `timeout: 5`) — after go-yaml typed it, so `yes` is a boolean there.
//! Field names are case-sensitive where the CRDs' structural schemas describe them: the API server
//! prunes (or, with strict field validation, rejects) `mountpath` before Tekton's Go decoder could
//! see it. An embedded `taskSpec` or `pipelineSpec` is kept as written
//! (`x-kubernetes-preserve-unknown-fields`), and there Go's decoder, which matches names without
//! regard to case, reads `mountpath` as `mountPath`: a `field-case` warning, and a
//! [`FieldRename`] the lint applies to the spec so that the typed model reads it the same way.
//!
//! Long (about 800 lines of code) because most of it is one flat table of like rows, a field
//! list per object; split, the table would be harder to compare with Tekton's types.
//!
//! Taken from tektoncd/pipeline `pkg/apis/pipeline/{v1,v1beta1}` (the Go types' json tags).
//! Free-form Kubernetes objects (securityContext, computeResources, pod templates, volume
//! sources, probes) are not descended into.

use crate::lint::finding::{FieldPath, Location};
use crate::lint::rules::{RuleId, Sink};
use crate::lint::{Profile, TektonDoc};
use crate::tekton::model::Kind;
use crate::tekton::yaml::Node;

/// The schema a document is checked against: v1, or v1beta1 (also used for v1alpha1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V1beta1,
}

impl Version {
    pub fn of(doc: &TektonDoc) -> Version {
        if doc.version() == "v1" {
            Version::V1
        } else {
            Version::V1beta1
        }
    }
}

/// Which versions have a field. The text says what the other version uses instead.
#[derive(Debug, Clone, Copy)]
enum Since {
    Both,
    /// Only in v1; the text is the v1beta1 spelling.
    V1(&'static str),
    /// Removed in v1; the text is what v1 has instead.
    V1beta1(&'static str),
}

/// What a field holds, as far as the walk descends.
#[derive(Debug, Clone, Copy)]
enum Value {
    /// A scalar, or an object this schema does not describe.
    Any,
    /// A scalar of a Go type.
    Scalar(Type),
    /// A mapping from free names to scalars (`labels`).
    Dict(Type),
    Map(Object),
    List(Object),
    /// A mapping from free names to objects (`properties`).
    MapOf(Object),
}

/// The Go type of a scalar field, as the JSON decoder checks it. Null is accepted everywhere
/// (it leaves the field empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Str,
    /// A list of strings (`command`, `args`, `runAfter`).
    Strings,
    Bool,
    Int,
    /// A `metav1.Duration`: a string Go's `time.ParseDuration` reads (`1h30m`, `90s`).
    Duration,
}

#[derive(Debug, Clone, Copy)]
struct Field {
    name: &'static str,
    value: Value,
    since: Since,
}

const fn any(name: &'static str) -> Field {
    Field {
        name,
        value: Value::Any,
        since: Since::Both,
    }
}

const fn typed(name: &'static str, scalar: Type) -> Field {
    Field {
        name,
        value: Value::Scalar(scalar),
        since: Since::Both,
    }
}

const fn string(name: &'static str) -> Field {
    typed(name, Type::Str)
}

const fn strings(name: &'static str) -> Field {
    typed(name, Type::Strings)
}

const fn boolean(name: &'static str) -> Field {
    typed(name, Type::Bool)
}

const fn int(name: &'static str) -> Field {
    typed(name, Type::Int)
}

const fn duration(name: &'static str) -> Field {
    typed(name, Type::Duration)
}

const fn dict(name: &'static str) -> Field {
    Field {
        name,
        value: Value::Dict(Type::Str),
        since: Since::Both,
    }
}

const fn map(name: &'static str, object: Object) -> Field {
    Field {
        name,
        value: Value::Map(object),
        since: Since::Both,
    }
}

const fn list(name: &'static str, object: Object) -> Field {
    Field {
        name,
        value: Value::List(object),
        since: Since::Both,
    }
}

const fn v1(field: Field, v1beta1_spelling: &'static str) -> Field {
    Field {
        since: Since::V1(v1beta1_spelling),
        ..field
    }
}

const fn removed(field: Field, instead: &'static str) -> Field {
    Field {
        since: Since::V1beta1(instead),
        ..field
    }
}

/// The objects whose field names are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    Document(Kind),
    Metadata,
    EmbeddedMetadata,
    TaskSpec,
    EmbeddedTask,
    Step,
    StepTemplate,
    Sidecar,
    StepRef,
    StepOutput,
    EnvVar,
    EnvSource,
    EnvFrom,
    VolumeMount,
    VolumeDevice,
    Volume,
    ParamSpec,
    Property,
    Param,
    TaskResult,
    StepResult,
    PipelineResult,
    WorkspaceDecl,
    WorkspaceUsage,
    PipelineWorkspaceDecl,
    PipelineWorkspaceBinding,
    RunWorkspaceBinding,
    StepActionSpec,
    PipelineSpec,
    PipelineTask,
    TaskRef,
    PipelineRef,
    When,
    Matrix,
    MatrixInclude,
    TaskRunSpec,
    PipelineRunSpec,
    Timeouts,
    TaskRunTemplate,
    PipelineTaskRunSpec,
    ContainerResources,
    ContainerOverride,
}

/// A `'static` list of field groups: calls of the `const fn`s above are not promoted to
/// statics unless they sit in a `const`.
macro_rules! groups {
    ($($group:expr),* $(,)?) => {{
        const GROUPS: &[&[Field]] = &[$($group),*];
        GROUPS
    }};
}

impl Object {
    /// The field lists that make up the object.
    fn groups(self) -> &'static [&'static [Field]] {
        match self {
            Object::Document(Kind::Task) => groups![DOCUMENT, &[map("spec", Object::TaskSpec)]],
            Object::Document(Kind::Pipeline) => {
                groups![DOCUMENT, &[map("spec", Object::PipelineSpec)]]
            }
            Object::Document(Kind::StepAction) => {
                groups![DOCUMENT, &[map("spec", Object::StepActionSpec)]]
            }
            Object::Document(Kind::TaskRun) => {
                groups![DOCUMENT, &[map("spec", Object::TaskRunSpec), any("status")]]
            }
            Object::Document(Kind::PipelineRun) => groups![
                DOCUMENT,
                &[map("spec", Object::PipelineRunSpec), any("status")]
            ],
            Object::Metadata => groups![OBJECT_META],
            Object::EmbeddedMetadata => groups![&[dict("labels"), dict("annotations")]],
            Object::TaskSpec => groups![TASK_SPEC],
            Object::EmbeddedTask => groups![TASK_SPEC, EMBEDDED_TASK],
            Object::Step => groups![CONTAINER, STEP, STEP_CONTAINER_V1BETA1],
            Object::StepTemplate => groups![CONTAINER, STEP_TEMPLATE, STEP_CONTAINER_V1BETA1],
            Object::Sidecar => groups![CONTAINER, SIDECAR, POD_CONTAINER],
            Object::StepRef => {
                groups![&[
                    string("name"),
                    string("resolver"),
                    list("params", Object::Param)
                ]]
            }
            Object::StepOutput => groups![&[string("path")]],
            Object::EnvVar => groups![&[
                string("name"),
                string("value"),
                map("valueFrom", Object::EnvSource)
            ]],
            Object::EnvSource => groups![ENV_SOURCE],
            Object::EnvFrom => groups![&[string("prefix"), any("configMapRef"), any("secretRef")]],
            Object::VolumeMount => groups![VOLUME_MOUNT],
            Object::VolumeDevice => groups![&[string("name"), string("devicePath")]],
            Object::Volume => groups![&[string("name")], VOLUME_SOURCES],
            Object::ParamSpec => groups![PARAM_SPEC],
            Object::Property => groups![&[string("type")]],
            Object::Param => groups![&[string("name"), any("value")]],
            Object::TaskResult => groups![RESULT, &[any("value")]],
            Object::StepResult => groups![RESULT],
            Object::PipelineResult => {
                groups![&[
                    string("name"),
                    string("type"),
                    string("description"),
                    any("value")
                ]]
            }
            Object::WorkspaceDecl => groups![&[
                string("name"),
                string("description"),
                string("mountPath"),
                boolean("readOnly"),
                boolean("optional")
            ]],
            Object::WorkspaceUsage => groups![&[string("name"), string("mountPath")]],
            Object::PipelineWorkspaceDecl => {
                groups![&[string("name"), string("description"), boolean("optional")]]
            }
            Object::PipelineWorkspaceBinding => {
                groups![&[string("name"), string("workspace"), string("subPath")]]
            }
            Object::RunWorkspaceBinding => groups![RUN_WORKSPACE_BINDING],
            Object::StepActionSpec => groups![STEP_ACTION_SPEC],
            Object::PipelineSpec => groups![PIPELINE_SPEC],
            Object::PipelineTask => groups![PIPELINE_TASK],
            Object::TaskRef => groups![REF, &[string("kind")]],
            Object::PipelineRef => groups![REF],
            Object::When => groups![&[
                string("input"),
                string("operator"),
                strings("values"),
                string("cel")
            ]],
            Object::Matrix => groups![&[
                list("params", Object::Param),
                list("include", Object::MatrixInclude)
            ]],
            Object::MatrixInclude => groups![&[string("name"), list("params", Object::Param)]],
            Object::TaskRunSpec => groups![TASK_RUN_SPEC],
            Object::PipelineRunSpec => groups![PIPELINE_RUN_SPEC],
            Object::Timeouts => {
                groups![&[duration("pipeline"), duration("tasks"), duration("finally")]]
            }
            Object::TaskRunTemplate => groups![&[any("podTemplate"), string("serviceAccountName")]],
            Object::PipelineTaskRunSpec => groups![PIPELINE_TASK_RUN_SPEC],
            Object::ContainerResources => groups![&[string("name"), any("computeResources")]],
            Object::ContainerOverride => groups![&[any("name"), any("resources")]],
        }
    }

    fn field(self, name: &str) -> Option<&'static Field> {
        self.groups()
            .iter()
            .flat_map(|group| group.iter())
            .find(|field| field.name == name)
    }

    /// The field of `version` whose name equals `name` but for case (ASCII, as Tekton's names).
    fn field_ignoring_case(self, name: &str, version: Version) -> Option<&'static Field> {
        self.groups()
            .iter()
            .flat_map(|group| group.iter())
            .find(|field| field.exists_in(version) && field.name.eq_ignore_ascii_case(name))
    }

    /// The names a document of `version` may use here.
    fn names(self, version: Version) -> impl Iterator<Item = &'static str> {
        self.groups()
            .iter()
            .flat_map(|group| group.iter())
            .filter(move |field| field.exists_in(version))
            .map(|f| f.name)
    }
}

impl Field {
    fn exists_in(&self, version: Version) -> bool {
        matches!(
            (self.since, version),
            (Since::Both, _) | (Since::V1(_), Version::V1) | (Since::V1beta1(_), Version::V1beta1)
        )
    }
}

const DOCUMENT: &[Field] = &[
    string("apiVersion"),
    string("kind"),
    map("metadata", Object::Metadata),
];

const OBJECT_META: &[Field] = &[
    string("name"),
    string("generateName"),
    string("namespace"),
    any("selfLink"),
    any("uid"),
    any("resourceVersion"),
    any("generation"),
    any("creationTimestamp"),
    any("deletionTimestamp"),
    any("deletionGracePeriodSeconds"),
    dict("labels"),
    dict("annotations"),
    any("ownerReferences"),
    any("finalizers"),
    any("managedFields"),
];

const PIPELINE_RESOURCES_GONE: &str =
    "PipelineResources are gone; pass inputs through params and workspaces";

const TASK_SPEC: &[Field] = &[
    string("description"),
    string("displayName"),
    list("params", Object::ParamSpec),
    list("results", Object::TaskResult),
    list("workspaces", Object::WorkspaceDecl),
    list("steps", Object::Step),
    map("stepTemplate", Object::StepTemplate),
    list("sidecars", Object::Sidecar),
    list("volumes", Object::Volume),
    removed(any("resources"), PIPELINE_RESOURCES_GONE),
];

/// A Task inlined in a Pipeline may also be a custom task (`apiVersion`, `kind`, `spec`).
const EMBEDDED_TASK: &[Field] = &[
    any("apiVersion"),
    any("kind"),
    any("spec"),
    map("metadata", Object::EmbeddedMetadata),
];

/// What steps, the step template and sidecars share, in both versions.
const CONTAINER: &[Field] = &[
    string("image"),
    strings("command"),
    strings("args"),
    string("workingDir"),
    list("env", Object::EnvVar),
    list("envFrom", Object::EnvFrom),
    list("volumeMounts", Object::VolumeMount),
    list("volumeDevices", Object::VolumeDevice),
    string("imagePullPolicy"),
    any("securityContext"),
    v1(any("computeResources"), "resources"),
    removed(any("resources"), "rename it to computeResources"),
];

const STEP: &[Field] = &[
    string("name"),
    string("displayName"),
    string("script"),
    duration("timeout"),
    list("workspaces", Object::WorkspaceUsage),
    string("onError"),
    map("stdoutConfig", Object::StepOutput),
    map("stderrConfig", Object::StepOutput),
    map("ref", Object::StepRef),
    list("params", Object::Param),
    list("results", Object::StepResult),
    list("when", Object::When),
];

const STEP_TEMPLATE: &[Field] = &[removed(
    any("name"),
    "a v1 step template has no name; remove it",
)];

const SIDECAR: &[Field] = &[
    string("name"),
    string("script"),
    list("workspaces", Object::WorkspaceUsage),
    string("restartPolicy"),
];

const NOT_IN_V1_STEPS: &str =
    "v1 steps do not have it; remove it (a sidecar can hold ports, probes and a lifecycle)";

/// Kubernetes container fields v1beta1 steps inherited and v1 dropped.
const STEP_CONTAINER_V1BETA1: &[Field] = &[
    removed(any("ports"), NOT_IN_V1_STEPS),
    removed(any("livenessProbe"), NOT_IN_V1_STEPS),
    removed(any("readinessProbe"), NOT_IN_V1_STEPS),
    removed(any("startupProbe"), NOT_IN_V1_STEPS),
    removed(any("lifecycle"), NOT_IN_V1_STEPS),
    removed(any("terminationMessagePath"), NOT_IN_V1_STEPS),
    removed(any("terminationMessagePolicy"), NOT_IN_V1_STEPS),
    removed(any("stdin"), NOT_IN_V1_STEPS),
    removed(any("stdinOnce"), NOT_IN_V1_STEPS),
    removed(any("tty"), NOT_IN_V1_STEPS),
];

/// The same fields, which sidecars keep in both versions.
const POD_CONTAINER: &[Field] = &[
    any("ports"),
    any("livenessProbe"),
    any("readinessProbe"),
    any("startupProbe"),
    any("lifecycle"),
    any("terminationMessagePath"),
    any("terminationMessagePolicy"),
    any("stdin"),
    any("stdinOnce"),
    any("tty"),
];

const ENV_SOURCE: &[Field] = &[
    any("configMapKeyRef"),
    any("secretKeyRef"),
    any("fieldRef"),
    any("resourceFieldRef"),
    any("fileKeyRef"),
];

const VOLUME_MOUNT: &[Field] = &[
    string("name"),
    string("mountPath"),
    string("subPath"),
    string("subPathExpr"),
    boolean("readOnly"),
    string("mountPropagation"),
    any("recursiveReadOnly"),
];

/// Kubernetes volume sources (`core/v1.VolumeSource`).
const VOLUME_SOURCES: &[Field] = &[
    any("awsElasticBlockStore"),
    any("azureDisk"),
    any("azureFile"),
    any("cephfs"),
    any("cinder"),
    any("configMap"),
    any("csi"),
    any("downwardAPI"),
    any("emptyDir"),
    any("ephemeral"),
    any("fc"),
    any("flexVolume"),
    any("flocker"),
    any("gcePersistentDisk"),
    any("gitRepo"),
    any("glusterfs"),
    any("hostPath"),
    any("image"),
    any("iscsi"),
    any("nfs"),
    any("persistentVolumeClaim"),
    any("photonPersistentDisk"),
    any("portworxVolume"),
    any("projected"),
    any("quobyte"),
    any("rbd"),
    any("scaleIO"),
    any("secret"),
    any("storageos"),
    any("vsphereVolume"),
];

const PARAM_SPEC: &[Field] = &[
    string("name"),
    string("type"),
    string("description"),
    any("default"),
    Field {
        name: "properties",
        value: Value::MapOf(Object::Property),
        since: Since::Both,
    },
    strings("enum"),
];

const RESULT: &[Field] = &[
    string("name"),
    string("type"),
    string("description"),
    Field {
        name: "properties",
        value: Value::MapOf(Object::Property),
        since: Since::Both,
    },
];

const RUN_WORKSPACE_BINDING: &[Field] = &[
    string("name"),
    string("subPath"),
    any("volumeClaimTemplate"),
    any("persistentVolumeClaim"),
    any("emptyDir"),
    any("configMap"),
    any("secret"),
    any("projected"),
    any("csi"),
];

const STEP_ACTION_SPEC: &[Field] = &[
    string("description"),
    string("image"),
    strings("command"),
    strings("args"),
    list("env", Object::EnvVar),
    string("script"),
    string("workingDir"),
    list("params", Object::ParamSpec),
    list("results", Object::StepResult),
    any("securityContext"),
    list("volumeMounts", Object::VolumeMount),
];

const PIPELINE_SPEC: &[Field] = &[
    string("description"),
    string("displayName"),
    list("tasks", Object::PipelineTask),
    list("finally", Object::PipelineTask),
    list("params", Object::ParamSpec),
    list("workspaces", Object::PipelineWorkspaceDecl),
    list("results", Object::PipelineResult),
    removed(any("resources"), PIPELINE_RESOURCES_GONE),
];

const PIPELINE_TASK: &[Field] = &[
    string("name"),
    string("displayName"),
    string("description"),
    map("taskRef", Object::TaskRef),
    map("taskSpec", Object::EmbeddedTask),
    map("pipelineRef", Object::PipelineRef),
    map("pipelineSpec", Object::PipelineSpec),
    list("params", Object::Param),
    list("workspaces", Object::PipelineWorkspaceBinding),
    strings("runAfter"),
    list("when", Object::When),
    map("matrix", Object::Matrix),
    int("retries"),
    duration("timeout"),
    string("onError"),
    removed(any("resources"), PIPELINE_RESOURCES_GONE),
];

const REF: &[Field] = &[
    string("name"),
    string("apiVersion"),
    string("resolver"),
    list("params", Object::Param),
    removed(
        any("bundle"),
        "use the bundles resolver: resolver: bundles, with params bundle, name and kind",
    ),
];

const TASK_RUN_SPEC: &[Field] = &[
    any("debug"),
    list("params", Object::Param),
    string("serviceAccountName"),
    map("taskRef", Object::TaskRef),
    map("taskSpec", Object::TaskSpec),
    any("status"),
    any("statusMessage"),
    int("retries"),
    duration("timeout"),
    any("podTemplate"),
    list("workspaces", Object::RunWorkspaceBinding),
    any("computeResources"),
    any("managedBy"),
    v1(
        list("stepSpecs", Object::ContainerResources),
        "stepOverrides",
    ),
    v1(
        list("sidecarSpecs", Object::ContainerResources),
        "sidecarOverrides",
    ),
    removed(any("resources"), PIPELINE_RESOURCES_GONE),
    removed(
        any("stepOverrides"),
        "rename it to stepSpecs, with computeResources in each",
    ),
    removed(
        any("sidecarOverrides"),
        "rename it to sidecarSpecs, with computeResources in each",
    ),
];

const PIPELINE_RUN_SPEC: &[Field] = &[
    map("pipelineRef", Object::PipelineRef),
    map("pipelineSpec", Object::PipelineSpec),
    list("params", Object::Param),
    any("status"),
    map("timeouts", Object::Timeouts),
    list("workspaces", Object::RunWorkspaceBinding),
    list("taskRunSpecs", Object::PipelineTaskRunSpec),
    any("managedBy"),
    v1(
        map("taskRunTemplate", Object::TaskRunTemplate),
        "serviceAccountName and podTemplate directly under spec",
    ),
    removed(any("resources"), PIPELINE_RESOURCES_GONE),
    removed(any("timeout"), "use timeouts.pipeline"),
    removed(
        string("serviceAccountName"),
        "use taskRunTemplate.serviceAccountName",
    ),
    removed(any("podTemplate"), "use taskRunTemplate.podTemplate"),
];

const PIPELINE_TASK_RUN_SPEC: &[Field] = &[
    string("pipelineTaskName"),
    map("metadata", Object::EmbeddedMetadata),
    any("computeResources"),
    any("timeout"),
    v1(any("serviceAccountName"), "taskServiceAccountName"),
    v1(any("podTemplate"), "taskPodTemplate"),
    v1(
        list("stepSpecs", Object::ContainerResources),
        "stepOverrides",
    ),
    v1(
        list("sidecarSpecs", Object::ContainerResources),
        "sidecarOverrides",
    ),
    removed(
        any("taskServiceAccountName"),
        "rename it to serviceAccountName",
    ),
    removed(any("taskPodTemplate"), "rename it to podTemplate"),
    removed(
        list("stepOverrides", Object::ContainerOverride),
        "rename it to stepSpecs, with computeResources in each",
    ),
    removed(
        list("sidecarOverrides", Object::ContainerOverride),
        "rename it to sidecarSpecs, with computeResources in each",
    ),
];

/// A key Tekton reads under another name: `path` ends in the key as written
/// (`spec.taskSpec.steps[0].volumeMounts[0].mountpath`), `to` is the field it is read as
/// (`mountPath`).
#[derive(Debug, Clone)]
pub struct FieldRename {
    pub path: FieldPath,
    pub to: &'static str,
}

/// Reports every mapping key of `doc` that its kind and version do not have, and returns the
/// keys Tekton reads under another name, parents before their children, so that the typed
/// model can read them the same way. It walks whichever rules are enabled: the model needs that.
pub fn check_field_names(doc: &TektonDoc, profile: Profile, sink: &mut Sink) -> Vec<FieldRename> {
    let konflux_sources = matches!(profile, Profile::Konflux | Profile::Partner);
    let mut walk = Walk {
        version: Version::of(doc),
        api_version: &doc.api_version,
        konflux_sources,
        embedded: false,
        sink,
        renames: Vec::new(),
    };
    walk.object(&doc.root, Object::Document(doc.kind), &FieldPath::root());
    walk.renames
}

/// A spec embedded in another object, which the CRDs keep as written.
fn is_embedded_spec(field: &str) -> bool {
    matches!(field, "taskSpec" | "pipelineSpec")
}

struct Walk<'a, 's> {
    version: Version,
    api_version: &'a str,
    /// konflux-ci/build-definitions writes `taskRef: {name, version}` in its Pipeline sources and
    /// its build strips `version` before applying: the Konflux profiles accept it.
    konflux_sources: bool,
    /// Inside an embedded taskSpec or pipelineSpec (see the module docs).
    embedded: bool,
    sink: &'a mut Sink<'s>,
    /// The `field-case` keys found so far, in the order the walk met them.
    renames: Vec<FieldRename>,
}

impl Walk<'_, '_> {
    fn object(&mut self, node: &Node, object: Object, path: &FieldPath) {
        let Some(entries) = node.as_map() else { return };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            let here = path.field(name);
            match object.field(name) {
                None => match self.case_folded(name, object, entries) {
                    Some(field) => {
                        let message = format!(
                            "{name:?} in {} is read by Tekton as {:?}: in an embedded spec, which \
                             the API server keeps as written, Go matches field names without \
                             regard to case; spell it {:?}",
                            describe(path),
                            field.name,
                            field.name
                        );
                        self.sink
                            .report(RuleId::FieldCase, Location::Key(here.clone()), message);
                        self.renames.push(FieldRename {
                            path: here,
                            to: field.name,
                        });
                        self.field_value(value, field, &path.field(field.name));
                    }
                    None => self.unknown(name, object, path),
                },
                Some(Field {
                    since: Since::V1(spelling),
                    ..
                }) if self.version == Version::V1beta1 => {
                    let message = format!(
                        "unknown field {name:?} in {} for {}: v1beta1 spells it {spelling} (or move the document to tekton.dev/v1)",
                        describe(path),
                        self.api_version
                    );
                    self.sink
                        .report(RuleId::UnknownField, Location::Key(here), message);
                }
                Some(Field {
                    since: Since::V1beta1(instead),
                    ..
                }) if self.version == Version::V1 => {
                    let message = format!(
                        "{name:?} in {} was removed in tekton.dev/v1: {instead}",
                        describe(path)
                    );
                    self.sink
                        .report(RuleId::V1beta1RemovedField, Location::Key(here), message);
                }
                Some(field) => self.field_value(value, field, &here),
            }
        }
    }

    /// The field an unknown `name` stands for where Go's case-insensitive decoder reads it.
    fn case_folded(
        &self,
        name: &str,
        object: Object,
        entries: &[(Node, Node)],
    ) -> Option<&'static Field> {
        if !self.embedded {
            return None;
        }
        let field = object.field_ignoring_case(name, self.version)?;
        let exact_too = entries
            .iter()
            .any(|(key, _)| key.as_str() == Some(field.name));
        (!exact_too).then_some(field)
    }

    fn field_value(&mut self, node: &Node, field: &Field, path: &FieldPath) {
        let outer = self.embedded;
        self.embedded = outer || is_embedded_spec(field.name);
        self.value(node, field.value, path);
        self.embedded = outer;
    }

    fn value(&mut self, node: &Node, value: Value, path: &FieldPath) {
        if node.is_null() {
            return; // null leaves any field empty
        }
        match value {
            Value::Any => {}
            Value::Scalar(scalar) => self.scalar(node, scalar, path),
            Value::Map(object) if node.as_map().is_some() => self.object(node, object, path),
            Value::List(object) if node.as_seq().is_some() => {
                for (i, item) in node.as_seq().unwrap_or_default().iter().enumerate() {
                    self.object(item, object, &path.index(i));
                }
            }
            Value::MapOf(object) if node.as_map().is_some() => {
                for (key, item) in node.as_map().unwrap_or_default() {
                    if let Some(name) = key.as_str() {
                        self.object(item, object, &path.field(name));
                    }
                }
            }
            Value::Dict(scalar) if node.as_map().is_some() => {
                for (key, item) in node.as_map().unwrap_or_default() {
                    if let Some(name) = key.as_str() {
                        self.scalar(item, scalar, &path.field(name));
                    }
                }
            }
            Value::List(_) => self.wrong_type(node, "a list", path),
            Value::Map(_) | Value::MapOf(_) | Value::Dict(_) => {
                self.wrong_type(node, "a mapping", path)
            }
        }
    }

    /// Checks a scalar the way Go's JSON decoder does after go-yaml typed it.
    fn scalar(&mut self, node: &Node, scalar: Type, path: &FieldPath) {
        if node.is_null() {
            return;
        }
        let text = node.as_str().filter(|_| node.to_json().is_string());
        let expected = match scalar {
            Type::Strings => {
                let Some(items) = node.as_seq() else {
                    return self.wrong_type(node, "a list of strings", path);
                };
                for (i, item) in items.iter().enumerate() {
                    self.scalar(item, Type::Str, &path.index(i));
                }
                return;
            }
            Type::Str if text.is_none() => "a string",
            Type::Bool if !node.to_json().is_boolean() => "true or false",
            Type::Int if !(node.as_str().is_some() && node.to_json().is_i64()) => "a whole number",
            Type::Duration if !text.is_some_and(is_go_duration) => {
                "a duration such as \"90s\" or \"1h30m\""
            }
            _ => return,
        };
        self.wrong_type(node, expected, path);
    }

    fn wrong_type(&mut self, node: &Node, expected: &str, path: &FieldPath) {
        let got = match (&node.value, node.to_json()) {
            (crate::tekton::yaml::Value::Seq(_), _) => "a list".to_string(),
            (crate::tekton::yaml::Value::Map(_), _) => "a mapping".to_string(),
            (_, serde_json::Value::Bool(b)) => format!(
                "the boolean {b} (YAML reads unquoted {:?} as a boolean; quote it if it is text)",
                node.as_str().unwrap_or_default()
            ),
            (_, serde_json::Value::Number(n)) => format!(
                "the number {n} (quote it if it is text: \"{}\")",
                node.as_str().unwrap_or_default()
            ),
            (_, value) => format!("{value}"),
        };
        let message = format!("{path}: expected {expected}, got {got}; the API server rejects it");
        self.sink
            .report(RuleId::UnknownField, Location::Field(path.clone()), message);
    }

    fn unknown(&mut self, name: &str, object: Object, path: &FieldPath) {
        let task_version = object == Object::TaskRef && name == "version";
        if task_version && self.konflux_sources {
            return;
        }

        let message = match suggestion(name, object.names(self.version)) {
            Some(known) => format!("unknown field {name:?} in {}; did you mean {known:?}?", describe(path)),
            None if task_version => format!(
                "unknown field \"version\" in {}: Tekton has no taskRef.version (konflux-ci/build-definitions \
                 strips it before applying; lint such sources with --profile konflux)",
                describe(path)
            ),
            None => format!(
                "unknown field {name:?} in {}: Tekton rejects fields it does not know; remove it or correct its name",
                describe(path)
            ),
        };
        self.sink.report(
            RuleId::UnknownField,
            Location::Key(path.field(name)),
            message,
        );
    }
}

/// Go's `time.ParseDuration`: `0`, or signed decimal numbers each with a unit (ns, us, µs, ms,
/// s, m, h), such as `1h30m` or `1.5s`.
fn is_go_duration(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    if body == "0" {
        return true;
    }
    let mut rest = body;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let number = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let digits = &rest[..number];
        if digits.is_empty() || digits == "." || digits.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[number..];
        let unit = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"]
            .into_iter()
            .filter(|u| rest.starts_with(u))
            .max_by_key(|u| u.len());
        let Some(unit) = unit else { return false };
        rest = &rest[unit.len()..];
    }
    true
}

fn describe(path: &FieldPath) -> String {
    if path.is_root() {
        "the document".to_string()
    } else {
        path.to_string()
    }
}

/// The known name `name` most likely misspells: the same but for case, or at most two edits away
/// (one for short names).
fn suggestion(name: &str, known: impl Iterator<Item = &'static str>) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let budget = if name.len() <= 4 { 1 } else { 2 };
    known
        .map(|candidate| {
            (
                edit_distance(&lower, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(distance, _)| *distance <= budget)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_parses_them() {
        for ok in [
            "0", "90s", "1h30m", "1.5h", "-2m", "300ms", "10us", "1h0m0s",
        ] {
            assert!(is_go_duration(ok), "{ok}");
        }
        for bad in ["", "5", "1 h", "1d", "h", "1.2.3s", "s5"] {
            assert!(!is_go_duration(bad), "{bad}");
        }
    }

    #[test]
    fn suggestions_ignore_case_and_allow_small_typos() {
        let known = || ["name", "image", "computeResources", "workingDir"].into_iter();
        assert_eq!(suggestion("Name", known()), Some("name"));
        assert_eq!(
            suggestion("computeResource", known()),
            Some("computeResources")
        );
        assert_eq!(suggestion("workdir", known()), None);
        assert_eq!(suggestion("imgae", known()), Some("image"));
        assert_eq!(suggestion("frobnicate", known()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn every_object_lists_each_name_once_per_version() {
        let objects = [
            Object::Step,
            Object::StepTemplate,
            Object::Sidecar,
            Object::TaskSpec,
            Object::EmbeddedTask,
            Object::PipelineTask,
            Object::TaskRunSpec,
            Object::PipelineRunSpec,
            Object::PipelineTaskRunSpec,
            Object::TaskRef,
            Object::Volume,
        ];
        for object in objects {
            for version in [Version::V1, Version::V1beta1] {
                let mut names: Vec<_> = object.names(version).collect();
                let count = names.len();
                names.sort();
                names.dedup();
                assert_eq!(names.len(), count, "{object:?} {version:?}");
            }
        }
    }
}
