//! The Tekton types the rules read: Task, Pipeline, StepAction, TaskRun and PipelineRun, in
//! `tekton.dev/v1` shape (v1beta1 documents decode into the same types; the few fields v1 renamed
//! are kept so rules can name them).
//!
//! Decoding is lenient about which fields exist (unknown ones are the `unknown-field` rule's job,
//! which walks the positioned YAML) and strict only about shapes the rules depend on.

use serde::Deserialize;
use serde_json::Value as Json;

/// What a document declares itself to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Task,
    Pipeline,
    StepAction,
    TaskRun,
    PipelineRun,
}

impl Kind {
    pub fn parse(kind: &str) -> Option<Kind> {
        Some(match kind {
            "Task" | "ClusterTask" => Kind::Task,
            "Pipeline" => Kind::Pipeline,
            "StepAction" => Kind::StepAction,
            "TaskRun" => Kind::TaskRun,
            "PipelineRun" => Kind::PipelineRun,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Task => "Task",
            Kind::Pipeline => "Pipeline",
            Kind::StepAction => "StepAction",
            Kind::TaskRun => "TaskRun",
            Kind::PipelineRun => "PipelineRun",
        }
    }

    /// The lowercase directory a catalog keeps this kind in (`task/`, `pipeline/`, `stepaction/`).
    pub fn catalog_dir(self) -> &'static str {
        match self {
            Kind::Task => "task",
            Kind::Pipeline => "pipeline",
            Kind::StepAction => "stepaction",
            Kind::TaskRun => "taskrun",
            Kind::PipelineRun => "pipelinerun",
        }
    }
}

/// The typed body of one Tekton document.
// One per document, never moved around in bulk: boxing the larger specs would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Resource {
    Task(TaskSpec),
    Pipeline(PipelineSpec),
    StepAction(StepActionSpec),
    TaskRun(TaskRunSpec),
    PipelineRun(PipelineRunSpec),
}

impl Resource {
    pub fn decode(kind: Kind, spec: Json) -> Result<Resource, String> {
        fn typed<T: serde::de::DeserializeOwned>(spec: Json) -> Result<T, String> {
            let spec = if spec.is_null() {
                Json::Object(Default::default())
            } else {
                spec
            };
            serde_path_to_error::deserialize(spec).map_err(|e| {
                let path = e.path().to_string();
                if path == "." {
                    format!("spec: {}", e.inner())
                } else {
                    format!("spec.{path}: {}", e.inner())
                }
            })
        }
        Ok(match kind {
            Kind::Task => Resource::Task(typed(spec)?),
            Kind::Pipeline => Resource::Pipeline(typed(spec)?),
            Kind::StepAction => Resource::StepAction(typed(spec)?),
            Kind::TaskRun => Resource::TaskRun(typed(spec)?),
            Kind::PipelineRun => Resource::PipelineRun(typed(spec)?),
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Metadata {
    pub name: Option<String>,
    #[serde(rename = "generateName")]
    pub generate_name: Option<String>,
    pub namespace: Option<String>,
    pub labels: std::collections::BTreeMap<String, Json>,
    pub annotations: std::collections::BTreeMap<String, Json>,
    #[serde(rename = "resourceVersion")]
    pub resource_version: Option<Json>,
}

impl Metadata {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).and_then(Json::as_str)
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).and_then(Json::as_str)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ParamSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub description: Option<String>,
    pub default: Option<Json>,
    pub properties: Option<std::collections::BTreeMap<String, PropertySpec>>,
    #[serde(rename = "enum")]
    pub enum_: Option<Vec<Json>>,
}

impl ParamSpec {
    /// The type Tekton's defaulting gives the param: explicit, else inferred from
    /// `properties` or the default's shape, else string.
    pub fn effective_type(&self) -> &str {
        if let Some(t) = self.type_.as_deref().filter(|t| !t.is_empty()) {
            return t;
        }
        if self.properties.is_some() {
            return "object";
        }
        match &self.default {
            Some(Json::Array(_)) => "array",
            Some(Json::Object(_)) => "object",
            _ => "string",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PropertySpec {
    #[serde(rename = "type")]
    pub type_: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ResultSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub description: Option<String>,
    pub properties: Option<std::collections::BTreeMap<String, PropertySpec>>,
    pub value: Option<Json>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkspaceDecl {
    pub name: String,
    pub description: Option<String>,
    pub mount_path: Option<String>,
    pub read_only: Option<bool>,
    pub optional: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    pub value: Option<Json>,
    pub value_from: Option<EnvSource>,
}

impl EnvVar {
    /// The Secret key this variable is read from, if it is.
    pub fn secret_key_ref(&self) -> Option<&KeyRef> {
        self.value_from.as_ref()?.secret_key_ref.as_ref()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvSource {
    pub secret_key_ref: Option<KeyRef>,
    pub config_map_key_ref: Option<KeyRef>,
    pub field_ref: Option<Json>,
    pub resource_field_ref: Option<Json>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct KeyRef {
    pub name: Option<String>,
    pub key: Option<String>,
    pub optional: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvFromSource {
    pub prefix: Option<String>,
    pub secret_ref: Option<NamedRef>,
    pub config_map_ref: Option<NamedRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NamedRef {
    pub name: Option<String>,
    pub optional: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: String,
    pub sub_path: Option<String>,
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SecurityContext {
    pub privileged: Option<bool>,
    pub allow_privilege_escalation: Option<bool>,
    pub run_as_user: Option<Json>,
    pub run_as_non_root: Option<bool>,
    pub capabilities: Option<Capabilities>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    pub add: Vec<String>,
    pub drop: Vec<String>,
}

/// The container fields steps, the step template, sidecars and StepActions share.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Container {
    pub name: Option<String>,
    pub image: Option<String>,
    pub command: Option<Vec<Json>>,
    pub args: Option<Vec<Json>>,
    pub working_dir: Option<String>,
    pub env: Vec<EnvVar>,
    pub env_from: Vec<EnvFromSource>,
    pub volume_mounts: Vec<VolumeMount>,
    pub security_context: Option<SecurityContext>,
    pub script: Option<String>,
    pub image_pull_policy: Option<String>,
    /// v1beta1 name of `computeResources`.
    pub resources: Option<Json>,
    pub compute_resources: Option<Json>,
    pub workspaces: Vec<WorkspaceUsage>,
    /// A sidecar's readiness probe (steps wait for it).
    pub readiness_probe: Option<Json>,
}

/// A step: a container, or a reference to a StepAction.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Step {
    #[serde(flatten)]
    pub container: Container,
    pub on_error: Option<String>,
    pub timeout: Option<String>,
    #[serde(rename = "ref")]
    pub ref_: Option<StepRef>,
    pub params: Vec<ParamBinding>,
    pub results: Vec<ResultSpec>,
    pub when: Vec<WhenExpression>,
    /// Alpha: where the step's stdout and stderr also go.
    pub stdout_config: Option<Json>,
    pub stderr_config: Option<Json>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StepRef {
    pub name: Option<String>,
    pub resolver: Option<String>,
    pub params: Vec<ParamBinding>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WorkspaceUsage {
    pub name: String,
    #[serde(rename = "mountPath")]
    pub mount_path: Option<String>,
}

/// `name: x, value: ...` as Pipelines, runs and refs pass params.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ParamBinding {
    pub name: String,
    pub value: Option<Json>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Volume {
    pub name: String,
    #[serde(flatten)]
    pub source: serde_json::Map<String, Json>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TaskSpec {
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub params: Vec<ParamSpec>,
    pub results: Vec<ResultSpec>,
    pub workspaces: Vec<WorkspaceDecl>,
    pub steps: Vec<Step>,
    pub step_template: Option<Container>,
    pub sidecars: Vec<Container>,
    pub volumes: Vec<Volume>,
    /// v1beta1 PipelineResources; removed in v1.
    pub resources: Option<Json>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StepActionSpec {
    pub description: Option<String>,
    pub params: Vec<ParamSpec>,
    pub results: Vec<ResultSpec>,
    #[serde(flatten)]
    pub container: Container,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TaskRef {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub api_version: Option<String>,
    pub bundle: Option<String>,
    pub resolver: Option<String>,
    pub params: Vec<ParamBinding>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WhenExpression {
    pub input: Option<Json>,
    pub operator: Option<String>,
    pub values: Option<Vec<Json>>,
    pub cel: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkspaceBinding {
    pub name: String,
    pub workspace: Option<String>,
    pub sub_path: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Matrix {
    pub params: Vec<ParamBinding>,
    pub include: Vec<MatrixInclude>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MatrixInclude {
    pub name: Option<String>,
    pub params: Vec<ParamBinding>,
}

/// A Task embedded in a Pipeline: a TaskSpec plus optional metadata.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EmbeddedTask {
    #[serde(flatten)]
    pub spec: TaskSpec,
    pub metadata: Option<Json>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PipelineTask {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub task_ref: Option<TaskRef>,
    pub task_spec: Option<EmbeddedTask>,
    pub pipeline_ref: Option<TaskRef>,
    /// A Pipeline in a Pipeline (alpha); read so that a runner can refuse it by name.
    pub pipeline_spec: Option<Json>,
    pub params: Vec<ParamBinding>,
    pub workspaces: Vec<WorkspaceBinding>,
    pub run_after: Vec<String>,
    pub when: Vec<WhenExpression>,
    pub matrix: Option<Matrix>,
    pub retries: Option<Json>,
    pub timeout: Option<String>,
    pub on_error: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PipelineWorkspaceDecl {
    pub name: String,
    pub description: Option<String>,
    pub optional: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PipelineSpec {
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub params: Vec<ParamSpec>,
    pub workspaces: Vec<PipelineWorkspaceDecl>,
    pub results: Vec<ResultSpec>,
    pub tasks: Vec<PipelineTask>,
    pub finally: Vec<PipelineTask>,
    /// v1beta1 PipelineResources; removed in v1.
    pub resources: Option<Json>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TaskRunSpec {
    pub task_ref: Option<TaskRef>,
    pub task_spec: Option<TaskSpec>,
    pub params: Vec<ParamBinding>,
    pub workspaces: Vec<Json>,
    pub pod_template: Option<PodTemplate>,
    pub service_account_name: Option<String>,
    /// How long the TaskRun may take (a Go duration, `1h30m`).
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PipelineRunSpec {
    pub pipeline_ref: Option<TaskRef>,
    pub pipeline_spec: Option<PipelineSpec>,
    pub params: Vec<ParamBinding>,
    pub workspaces: Vec<Json>,
    pub task_run_template: Option<TaskRunTemplate>,
    pub task_run_specs: Vec<TaskRunSpecOverride>,
    /// v1beta1 location of the pod template.
    pub pod_template: Option<PodTemplate>,
    pub timeouts: Option<PipelineRunTimeouts>,
    /// v1beta1: the whole PipelineRun's timeout.
    pub timeout: Option<String>,
}

/// How long a PipelineRun, its tasks and its finally tasks may take (Go durations).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PipelineRunTimeouts {
    pub pipeline: Option<String>,
    pub tasks: Option<String>,
    pub finally: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TaskRunTemplate {
    pub pod_template: Option<PodTemplate>,
    pub service_account_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TaskRunSpecOverride {
    pub pipeline_task_name: Option<String>,
    pub service_account_name: Option<String>,
    pub pod_template: Option<PodTemplate>,
    /// v1beta1 name.
    pub task_pod_template: Option<PodTemplate>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodTemplate {
    pub host_network: Option<bool>,
    #[serde(rename = "hostPID")]
    pub host_pid: Option<bool>,
    #[serde(rename = "hostIPC")]
    pub host_ipc: Option<bool>,
    pub volumes: Vec<Volume>,
}

/// Where a volume or a run's workspace binding gets its files: the Kubernetes volume sources
/// Tekton accepts. Unknown kinds stay in `other`, so a caller can name what it does not support.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VolumeSource {
    pub empty_dir: Option<Json>,
    pub config_map: Option<ConfigMapVolume>,
    pub secret: Option<SecretVolume>,
    pub persistent_volume_claim: Option<ClaimVolume>,
    pub volume_claim_template: Option<Json>,
    pub projected: Option<ProjectedVolume>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, Json>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct KeyToPath {
    pub key: String,
    pub path: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConfigMapVolume {
    pub name: String,
    pub items: Vec<KeyToPath>,
    pub optional: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SecretVolume {
    /// `secretName` in a volume; projected sources call it `name`.
    pub secret_name: String,
    pub name: String,
    pub items: Vec<KeyToPath>,
    pub optional: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClaimVolume {
    pub claim_name: String,
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProjectedVolume {
    pub sources: Vec<VolumeSource>,
}

impl Volume {
    /// The volume's source in typed form.
    pub fn typed_source(&self) -> Result<VolumeSource, String> {
        serde_json::from_value(Json::Object(self.source.clone()))
            .map_err(|e| format!("volume {:?}: {e}", self.name))
    }
}

/// A TaskRun's or PipelineRun's `workspaces` entry: a name and where its files come from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RunWorkspaceBinding {
    pub name: String,
    pub sub_path: Option<String>,
    #[serde(flatten)]
    pub source: VolumeSource,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_modern_task_decodes() {
        let spec = json!({
            "params": [{"name": "o", "properties": {"k": {"type": "string"}}}],
            "steps": [
                {"name": "a", "image": "alpine", "script": "echo", "env": [{"name": "X", "value": "1"}]},
                {"name": "b", "ref": {"name": "sa"}, "params": [{"name": "p", "value": ["x"]}]}
            ]
        });
        let Resource::Task(task) = Resource::decode(Kind::Task, spec).unwrap() else {
            panic!()
        };
        assert_eq!(task.params[0].effective_type(), "object");
        assert_eq!(task.steps[0].container.image.as_deref(), Some("alpine"));
        assert_eq!(
            task.steps[1].ref_.as_ref().unwrap().name.as_deref(),
            Some("sa")
        );
    }

    #[test]
    fn a_wrong_shape_names_its_path() {
        let error = Resource::decode(Kind::Task, json!({"steps": [{"name": "a", "env": "X=1"}]}))
            .unwrap_err();
        assert!(error.starts_with("spec.steps[0]"), "{error}");
    }
}
