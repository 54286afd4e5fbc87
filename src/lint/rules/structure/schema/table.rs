//! The schema's table: the fields of each object Tekton decodes, per API version, with the type
//! of each value. Long because it is one flat list of like rows, a field list per object; kept
//! whole so that it reads side by side with Tekton's types.
//!
//! Taken from tektoncd/pipeline `pkg/apis/pipeline/{v1,v1beta1}` (the Go types' json tags).

use crate::lint::TektonDoc;
use crate::tekton::model::Kind;

/// The schema a document is checked against: v1, or v1beta1 (also used for v1alpha1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    V1,
    V1beta1,
}

impl Version {
    pub(super) fn of(doc: &TektonDoc) -> Version {
        if doc.version() == "v1" {
            Version::V1
        } else {
            Version::V1beta1
        }
    }
}

/// Which versions have a field. The text says what the other version uses instead.
#[derive(Debug, Clone, Copy)]
pub(super) enum Since {
    Both,
    /// Only in v1; the text is the v1beta1 spelling.
    V1(&'static str),
    /// Removed in v1; the text is what v1 has instead.
    V1beta1(&'static str),
}

/// What a field holds, as far as the walk descends.
#[derive(Debug, Clone, Copy)]
pub(super) enum Value {
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
pub(super) enum Type {
    Str,
    /// A list of strings (`command`, `args`, `runAfter`).
    Strings,
    Bool,
    Int,
    /// A `metav1.Duration`: a string Go's `time.ParseDuration` reads (`1h30m`, `90s`).
    Duration,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    pub(super) name: &'static str,
    pub(super) value: Value,
    pub(super) since: Since,
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
pub(super) enum Object {
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

    pub(super) fn field(self, name: &str) -> Option<&'static Field> {
        self.groups()
            .iter()
            .flat_map(|group| group.iter())
            .find(|field| field.name == name)
    }

    /// The field of `version` whose name equals `name` but for case (ASCII, as Tekton's names).
    pub(super) fn field_ignoring_case(
        self,
        name: &str,
        version: Version,
    ) -> Option<&'static Field> {
        self.groups()
            .iter()
            .flat_map(|group| group.iter())
            .find(|field| field.exists_in(version) && field.name.eq_ignore_ascii_case(name))
    }

    /// The names a document of `version` may use here.
    pub(super) fn names(self, version: Version) -> impl Iterator<Item = &'static str> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
