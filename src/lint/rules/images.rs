//! Image rules (28–33): every image a document runs — in steps, the step template, sidecars,
//! StepActions, and the Task bodies inlined in Pipelines, TaskRuns and PipelineRuns — is pinned by
//! a sha256 digest, carries a tag a person can read, names its registry, is not built from a
//! `$(...)` variable, and comes from an allowed registry.
//!
//! This file also holds the walk over those containers, which the security rules share.

use super::RuleId;
use super::{task_bodies, Check, Sink, TaskBody};
use crate::core::image_ref::ImageReference;
use crate::lint::finding::{FieldPath, Location, Severity};
use crate::lint::TektonDoc;
use crate::tekton::model::{Container, Resource, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Step,
    StepTemplate,
    Sidecar,
    StepAction,
}

/// One container of a document, with where it is.
pub(super) struct ContainerSite<'a> {
    pub role: Role,
    pub container: &'a Container,
    /// The step, for steps: a step with `ref` runs a StepAction's container instead.
    pub step: Option<&'a Step>,
    pub path: FieldPath,
    /// Position among its siblings, to name unnamed steps the way Tekton does.
    pub index: usize,
    pub pipeline_task: Option<&'a str>,
}

impl ContainerSite<'_> {
    /// `step "build"`, `step "unnamed-1"`, `sidecar "docker"`, `the step template`, `the StepAction`,
    /// followed by ` of pipeline task "x"` in an inlined Task body.
    pub fn describe(&self) -> String {
        let name = self.container.name.as_deref().filter(|n| !n.is_empty());
        let unnamed = format!("unnamed-{}", self.index);
        let mut text = match self.role {
            Role::Step => format!("step {:?}", name.unwrap_or(&unnamed)),
            Role::Sidecar => format!("sidecar {:?}", name.unwrap_or(&unnamed)),
            Role::StepTemplate => "the step template".to_string(),
            Role::StepAction => "the StepAction".to_string(),
        };
        if let Some(task) = self.pipeline_task {
            text.push_str(&format!(" of pipeline task {task:?}"));
        }
        text
    }

    pub fn is_step_ref(&self) -> bool {
        self.step.is_some_and(|step| step.ref_.is_some())
    }
}

impl<'a> TaskBody<'a> {
    /// Steps, the step template and sidecars, in that order.
    pub(super) fn containers(&self) -> Vec<ContainerSite<'a>> {
        let site = |role, container, step, path, index| ContainerSite {
            role,
            container,
            step,
            path,
            index,
            pipeline_task: self.pipeline_task,
        };
        let mut sites: Vec<ContainerSite<'a>> = Vec::new();
        for (i, step) in self.spec.steps.iter().enumerate() {
            sites.push(site(
                Role::Step,
                &step.container,
                Some(step),
                self.path.item("steps", i),
                i,
            ));
        }
        if let Some(template) = &self.spec.step_template {
            sites.push(site(
                Role::StepTemplate,
                template,
                None,
                self.path.field("stepTemplate"),
                0,
            ));
        }
        for (i, sidecar) in self.spec.sidecars.iter().enumerate() {
            sites.push(site(
                Role::Sidecar,
                sidecar,
                None,
                self.path.item("sidecars", i),
                i,
            ));
        }
        sites
    }
}

/// The StepAction's own container, when the document is one.
pub(super) fn step_action_site(doc: &TektonDoc) -> Option<ContainerSite<'_>> {
    let Some(Resource::StepAction(action)) = &doc.resource else {
        return None;
    };
    Some(ContainerSite {
        role: Role::StepAction,
        container: &action.container,
        step: None,
        path: FieldPath::root().field("spec"),
        index: 0,
        pipeline_task: None,
    })
}

/// Every container of the document.
pub(super) fn containers(doc: &TektonDoc) -> Vec<ContainerSite<'_>> {
    let mut sites: Vec<ContainerSite<'_>> = task_bodies(doc)
        .iter()
        .flat_map(TaskBody::containers)
        .collect();
    sites.extend(step_action_site(doc));
    sites
}

pub fn check(check: &Check, sink: &mut Sink) {
    for site in containers(check.doc) {
        if site.is_step_ref() {
            continue;
        }
        let Some(image) = site
            .container
            .image
            .as_deref()
            .filter(|i| !i.trim().is_empty())
        else {
            continue;
        };
        let image = Image {
            text: image,
            path: site.path.field("image"),
            who: site.describe(),
        };
        if allowlist_applies(site.role) {
            check_allowlist(&image, &check.options.allowed_registries, sink);
        }
        if image.text.contains("$(") {
            sink.report(
                RuleId::ImageVariable,
                image.location(),
                format!(
                    "{} takes its image from {:?}, so its tag, digest and registry cannot be checked here; \
                     make sure what fills it in is a fully qualified reference pinned by @sha256 digest",
                    image.who, image.text
                ),
            );
            continue;
        }
        match image.text.parse::<ImageReference>() {
            Ok(reference) => check_reference(&image, &reference, sink),
            Err(problem) => sink.report_as(
                RuleId::ImageDigestPin,
                Severity::Error,
                image.location(),
                format!(
                    "{} has an image that cannot be pulled: {problem}",
                    image.who
                ),
            ),
        }
    }
}

/// The image of one container, with what the messages need.
struct Image<'a> {
    text: &'a str,
    path: FieldPath,
    who: String,
}

impl Image<'_> {
    fn location(&self) -> Location {
        Location::Field(self.path.clone())
    }
}

fn check_reference(image: &Image, reference: &ImageReference, sink: &mut Sink) {
    let (who, text) = (&image.who, image.text);
    let qualified = names_registry(text);
    // A digest pins what runs, whatever the tag says (Konflux writes `:latest@sha256:...`).
    let floating = match (&reference.digest, reference.tag.as_deref()) {
        (None, Some(tag)) if tag.eq_ignore_ascii_case("latest") => Some(format!("the {tag:?} tag")),
        (None, None) => Some("no tag, which means latest,".to_string()),
        _ => None,
    };
    // One finding per spot: a floating reference is also unpinned (and maybe unqualified);
    // its one finding says all of it.
    if let Some(floating) = floating.filter(|_| sink.enabled(RuleId::ImageLatestTag)) {
        let registry = if qualified {
            String::new()
        } else {
            format!(" and no registry host (it resolves to {reference})")
        };
        sink.report(
            RuleId::ImageLatestTag,
            image.location(),
            format!(
                "{who} uses {text:?} with {floating}{registry}, so what runs changes with every push; \
                 use a version tag and pin its digest: <registry>/<repository>:<version>@sha256:<digest>"
            ),
        );
        return;
    }
    match reference.digest_parts() {
        Some(("sha256", _)) => {}
        Some((algorithm, _)) => sink.report(
            RuleId::ImageDigestPin,
            image.location(),
            format!("{who} pins {text:?} by a {algorithm} digest; pin it by its @sha256 digest, which policy tools expect"),
        ),
        None => sink.report(
            RuleId::ImageDigestPin,
            image.location(),
            format!(
                "{who} uses {text:?} without a digest, so what runs can change under the same name; \
                 pin it as {text}@sha256:<digest> (`skopeo inspect docker://{reference}` prints the digest)"
            ),
        ),
    }
    if reference.digest.is_some() && reference.tag.is_none() {
        sink.report(
            RuleId::ImageTagWithDigest,
            image.location(),
            format!(
                "{who} pins {text:?} by digest without a tag, so a reader cannot tell which version runs; \
                 write it as <repository>:<version>@<digest>"
            ),
        );
    }
    if !qualified {
        sink.report(
            RuleId::ImageFullyQualified,
            image.location(),
            format!(
                "{who} uses {text:?} without a registry host, which each container runtime resolves its own way; write it in full: {reference}"
            ),
        );
    }
}

/// Whether the reference names its registry: a first path component with `.` or `:`, or
/// `localhost` (the rule distribution/reference applies).
fn names_registry(image: &str) -> bool {
    image
        .split_once('/')
        .is_some_and(|(first, _)| first.contains(['.', ':']) || first == "localhost")
}

/// Conforma permits step images by registry; sidecars and the step template are not steps.
fn allowlist_applies(role: Role) -> bool {
    matches!(role, Role::Step | Role::StepAction)
}

fn check_allowlist(image: &Image, allowed: &[String], sink: &mut Sink) {
    if allowed.is_empty()
        || !sink.enabled(RuleId::ImageRegistryAllowlist)
        || is_allowed(image.text, allowed)
    {
        return;
    }
    sink.report(
        RuleId::ImageRegistryAllowlist,
        image.location(),
        format!(
            "{} uses {:?}, which is not from an allowed registry ({}); use an image from one of them, or add its \
             registry to rules.image-registry-allowlist.allowed-registries in .stepkit-lint.yaml",
            image.who,
            image.text,
            allowed.join(", ")
        ),
    );
}

/// Whether `image` starts with an allowed prefix. For an image built from a variable only the
/// text before the first `$(` is known: it passes when it could still become an allowed image.
fn is_allowed(image: &str, allowed: &[String]) -> bool {
    match image.find("$(") {
        Some(variable) => {
            let known = &image[..variable];
            allowed
                .iter()
                .any(|prefix| known.starts_with(prefix.as_str()) || prefix.starts_with(known))
        }
        None => allowed
            .iter()
            .any(|prefix| image.starts_with(prefix.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::finding::Finding;
    use crate::lint::Profile;

    const DIGEST: &str = "sha256:121ccc64ade7c25fa85e9476d6a318d0020afb159cfc0217c082c04261b3bfdf";

    fn lint(yaml: &str, profile: Profile) -> Vec<Finding> {
        crate::lint::testing::lint_in(profile, yaml)
    }

    fn task_with_image(image: &str) -> String {
        format!(
            "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  steps:\n    - name: build\n      image: {image}\n      script: echo\n"
        )
    }

    /// The ids of the image rules that fire for `image` in a step, in the given profile.
    fn image_rules(image: &str, profile: Profile) -> Vec<String> {
        let mut rules: Vec<String> = lint(&task_with_image(image), profile)
            .into_iter()
            .filter(|f| f.rule.starts_with("image-"))
            .map(|f| f.rule)
            .collect();
        rules.sort();
        rules
    }

    #[test]
    fn a_pinned_fully_qualified_tagged_image_passes_every_rule() {
        assert!(image_rules(
            &format!("quay.io/konflux-ci/buildah-task:1.2@{DIGEST}"),
            Profile::Konflux
        )
        .is_empty());
        // Konflux's own style: the digest pins it, the latest tag is only a label.
        assert!(image_rules(
            &format!("quay.io/konflux-ci/buildah-task:latest@{DIGEST}"),
            Profile::Konflux
        )
        .is_empty());
    }

    #[test]
    fn an_unqualified_untagged_image_is_one_finding_that_says_all() {
        assert_eq!(image_rules("alpine", Profile::Core), ["image-latest-tag"]);
        let findings = lint(&task_with_image("alpine"), Profile::Core);
        let latest = findings
            .iter()
            .find(|f| f.rule == "image-latest-tag")
            .unwrap();
        for part in [
            "docker.io/library/alpine",
            "step \"build\"",
            "no tag",
            "digest",
        ] {
            assert!(latest.message.contains(part), "{part}: {}", latest.message);
        }
        assert_eq!(latest.severity, Severity::Warning, "policy in core");
        assert_eq!(
            (latest.line, latest.field.as_str()),
            (8, "spec.steps[0].image")
        );
        assert_eq!(
            image_rules("alpine", Profile::Catalog),
            ["image-latest-tag"],
            "one finding in every profile"
        );
        // A tagged but unpinned, unqualified image: two problems, two findings.
        assert_eq!(
            image_rules("alpine:3.20", Profile::Core),
            ["image-digest-pin", "image-fully-qualified"]
        );
        // With image-latest-tag off, the other rules still say what is wrong.
        let mut config = crate::lint::Config::default();
        config.set_rule("image-latest-tag", "off").unwrap();
        let findings =
            crate::lint::testing::lint_at("t.yaml", &task_with_image("alpine"), |c| *c = config);
        let mut rules: Vec<_> = findings
            .iter()
            .map(|f| f.rule.as_str())
            .filter(|r| r.starts_with("image-"))
            .collect();
        rules.sort();
        assert_eq!(rules, ["image-digest-pin", "image-fully-qualified"]);
    }

    #[test]
    fn latest_is_caught_in_any_case_and_a_version_tag_is_not() {
        assert!(
            image_rules("docker.io/library/alpine:LATEST", Profile::Core)
                .contains(&"image-latest-tag".to_string())
        );
        assert!(!image_rules("docker.io/library/alpine:3.20", Profile::Core)
            .contains(&"image-latest-tag".to_string()));
    }

    #[test]
    fn a_digest_without_tag_is_info_and_registry_with_port_counts_as_qualified() {
        assert_eq!(
            image_rules(&format!("localhost:5000/img@{DIGEST}"), Profile::Core),
            ["image-tag-with-digest"]
        );
        let findings = lint(
            &task_with_image(&format!("registry.example.com:5000/img@{DIGEST}")),
            Profile::Core,
        );
        assert_eq!(
            findings
                .iter()
                .filter(|f| f.rule.starts_with("image-"))
                .map(|f| (f.rule.as_str(), f.severity))
                .collect::<Vec<_>>(),
            [("image-tag-with-digest", Severity::Info)]
        );
    }

    #[test]
    fn an_invalid_digest_is_an_error_even_where_pinning_is_a_warning() {
        let findings = lint(
            &task_with_image("quay.io/org/img:v1@sha256:abc123"),
            Profile::Core,
        );
        let pin = findings
            .iter()
            .find(|f| f.rule == "image-digest-pin")
            .unwrap();
        assert_eq!(pin.severity, Severity::Error);
        assert!(pin.message.contains("64"), "{}", pin.message);
        let unpinned = lint(&task_with_image("quay.io/org/img:v1"), Profile::Core);
        assert_eq!(
            unpinned
                .iter()
                .find(|f| f.rule == "image-digest-pin")
                .unwrap()
                .severity,
            Severity::Warning
        );
    }

    #[test]
    fn a_variable_image_is_only_reported_as_variable() {
        assert_eq!(
            image_rules("$(params.builder-image)", Profile::Konflux),
            ["image-variable"]
        );
    }

    #[test]
    fn the_allowlist_applies_in_konflux_to_steps_and_respects_variables() {
        assert_eq!(
            image_rules(
                &format!("docker.io/library/alpine:3.20@{DIGEST}"),
                Profile::Konflux
            ),
            ["image-registry-allowlist"]
        );
        assert!(image_rules(
            &format!("docker.io/library/alpine:3.20@{DIGEST}"),
            Profile::Core
        )
        .is_empty());
        assert!(is_allowed(
            "quay.io/konflux-ci/$(params.name):1",
            &["quay.io/konflux-ci/".into()]
        ));
        assert!(is_allowed(
            "quay.io/$(params.org)/x",
            &["quay.io/konflux-ci/".into()]
        ));
        assert!(!is_allowed(
            "docker.io/$(params.org)/x",
            &["quay.io/konflux-ci/".into()]
        ));
        let sidecar = format!(
            "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  steps:\n    - name: a\n      image: quay.io/konflux-ci/x:1@{DIGEST}\n  sidecars:\n    - name: db\n      image: docker.io/library/postgres:16@{DIGEST}\n"
        );
        assert!(lint(&sidecar, Profile::Konflux)
            .iter()
            .all(|f| f.rule != "image-registry-allowlist"));
    }

    #[test]
    fn steps_with_ref_are_skipped_and_inline_bodies_are_checked() {
        let pipeline = "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n  tasks:\n    - name: build\n      taskSpec:\n        steps:\n          - name: act\n            ref:\n              name: my-action\n  finally:\n    - name: notify\n      taskSpec:\n        steps:\n          - image: ubuntu\n            script: echo\n";
        let findings = lint(pipeline, Profile::Core);
        let latest: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "image-latest-tag")
            .collect();
        assert_eq!(latest.len(), 1, "{findings:#?}");
        assert_eq!(latest[0].field, "spec.finally[0].taskSpec.steps[0].image");
        assert!(
            latest[0]
                .message
                .starts_with("step \"unnamed-0\" of pipeline task \"notify\""),
            "{}",
            latest[0].message
        );
    }

    #[test]
    fn step_actions_step_templates_and_runs_are_covered() {
        let action = "apiVersion: tekton.dev/v1beta1\nkind: StepAction\nmetadata:\n  name: a\nspec:\n  image: alpine:3\n  script: echo\n";
        assert!(lint(action, Profile::Core)
            .iter()
            .any(|f| f.rule == "image-fully-qualified" && f.field == "spec.image"));
        let run = "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: r\nspec:\n  taskSpec:\n    stepTemplate:\n      image: quay.io/a/b:latest\n    steps:\n      - name: s\n        script: echo\n";
        let findings = lint(run, Profile::Core);
        assert!(
            findings
                .iter()
                .any(|f| f.rule == "image-latest-tag"
                    && f.field == "spec.taskSpec.stepTemplate.image"),
            "{findings:#?}"
        );
        let pipeline_run = "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: r\nspec:\n  pipelineSpec:\n    tasks:\n      - name: t\n        taskSpec:\n          steps:\n            - name: s\n              image: quay.io/a/b:1\n";
        let findings = lint(pipeline_run, Profile::Core);
        assert!(findings.iter().any(|f| f.rule == "image-digest-pin"
            && f.field == "spec.pipelineSpec.tasks[0].taskSpec.steps[0].image"));
    }
}
