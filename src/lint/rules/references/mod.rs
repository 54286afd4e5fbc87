//! Variable references, rules 17–24 and 27: every `$(params…)`, `$(results…)`,
//! `$(step.results…)`, `$(steps…)`, `$(workspaces…)` and `$(context…)` in a Task, StepAction,
//! Pipeline or a run's inline spec must name something declared and fit the field it is in
//! (undefined-param-ref, undefined-result-ref, undefined-workspace-ref, undefined-context-ref,
//! array-param-misuse); a reference in a field Tekton never substitutes is flagged
//! (substitution-in-unsupported-field); declared params and workspaces should be used
//! (unused-param, unused-workspace); params must not be pasted into scripts (params-in-script).
//!
//! The check first collects every string of the spec as a [`Site`]: where it is, what the field
//! accepts ([`Slot`]) and whose declarations it sees ([`Scope`]). The fields and their slots follow
//! Tekton's substitution code (`ApplyReplacements` for Tasks and Pipelines). Inline specs see their
//! enclosing Pipeline's and run's params and workspaces, because Tekton propagates those. Then every
//! reference is looked at once.

use std::collections::HashSet;

use crate::lint::finding::{FieldPath, Location, Severity};
use crate::lint::Corpus;
use crate::tekton::expr::{references, walk_strings, Reference};
use crate::tekton::model::{
    Kind, ParamSpec, PipelineSpec, PipelineTask, Resource, Step, StepActionSpec, StepRef, TaskSpec,
};
use crate::tekton::yaml::Node;

use super::RuleId;
use super::{Check, Sink};

mod context;
mod model;
mod params;
mod results;
mod unsubstituted;
mod unused;
mod workspaces;

use params::*;
use unsubstituted::*;

/// The rules this module reports.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const RULES: &[RuleId] = &[
    RuleId::UndefinedParamRef,
    RuleId::UndefinedResultRef,
    RuleId::UndefinedWorkspaceRef,
    RuleId::UndefinedContextRef,
    RuleId::ArrayParamMisuse,
    RuleId::SubstitutionInUnsupportedField,
    RuleId::UnusedParam,
    RuleId::UnusedWorkspace,
    RuleId::ParamsInScript,
];

pub fn check(check: &Check, sink: &mut Sink) {
    report_metadata_references(&check.doc.root, sink);
    let Some(resource) = &check.doc.resource else {
        return;
    };
    let model = Model::build(resource, &check.doc.root, check.corpus);
    let mut uses = Uses::default();
    for site in &model.sites {
        for reference in references(site.text) {
            model.check_reference(site, &reference, &mut uses, sink);
        }
    }
    model.check_workspace_names(&mut uses, sink);
    model.report_unused(&uses, sink);
}

/// What Tekton does with a string, as far as references go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The `script` of a step, sidecar, step template or StepAction.
    Script,
    /// One element of `command` or `args`: an array param may fill it whole.
    Argv,
    /// The element after `-c` of a `sh -c` command line: a script too.
    ShellScript,
    /// A param or `when` value: an array or object param may be passed whole.
    Value,
    /// Any other substituted field: only a string fits.
    Text,
    /// A field Tekton never substitutes (securityContext, computeResources, a Task's displayName).
    /// Descriptions are not collected at all: they mention variables to document them.
    Unsubstituted,
    /// A field this check does not model: its references count as uses, nothing more.
    Opaque,
}

impl Slot {
    /// Whether references here are substituted, so must name something that exists.
    fn is_checked(self) -> bool {
        !matches!(self, Slot::Unsubstituted | Slot::Opaque)
    }

    fn is_script(self) -> bool {
        matches!(self, Slot::Script | Slot::ShellScript)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    Task,
    StepAction,
    Pipeline,
}

/// A spec whose declarations references resolve against.
struct Scope<'a> {
    kind: ScopeKind,
    /// How messages name it: `Task`, `StepAction`, `Pipeline`, `taskSpec`, `pipelineSpec`.
    label: &'static str,
    /// Path of the spec (`spec`, `spec.tasks[2].taskSpec`).
    path: FieldPath,
    /// The scope this one is nested in (an inline taskSpec's Pipeline): its declarations are
    /// visible here.
    parent: Option<usize>,
    params: &'a [ParamSpec],
    /// Params a run or pipeline task passes in without a declaration here (Tekton propagates them).
    passed_params: Vec<&'a str>,
    workspaces: Vec<DeclaredWorkspace<'a>>,
    /// Workspaces a run or pipeline task binds without a declaration here.
    passed_workspaces: Vec<&'a str>,
    results: Vec<&'a str>,
    /// The steps, in order (a StepAction is one step).
    steps: Vec<DeclaredStep<'a>>,
}

/// A step as references to it see it.
struct DeclaredStep<'a> {
    /// None for an unnamed step.
    name: Option<&'a str>,
    /// The results it declares: its own, or for a `ref` step its StepAction's; None when they are
    /// unknown (a StepAction from a resolver or not among the linted files).
    results: Option<Vec<&'a str>>,
    /// A `ref` step: `$(step.results…)` in it are its StepAction's business.
    is_ref: bool,
}

impl DeclaredStep<'_> {
    /// How `$(steps.<id>.results…)` names the step: its name, or `unnamed-<index>` (Tekton's
    /// container is `step-<id>`, which `$(steps.step-<id>.exitCode.path)` names).
    fn id(&self, index: usize) -> String {
        match self.name {
            Some(name) => name.to_string(),
            None => format!("unnamed-{index}"),
        }
    }

    /// `step "build"`, or `steps[2]` for an unnamed one.
    fn describe(&self, index: usize) -> String {
        match self.name {
            Some(name) => format!("step \"{name}\""),
            None => format!("steps[{index}]"),
        }
    }
}

struct DeclaredWorkspace<'a> {
    name: &'a str,
    /// A Task workspace with its own `mountPath`: mounted where a tool expects it, used implicitly.
    mounted_explicitly: bool,
}

/// One string of a spec.
struct Site<'a> {
    scope: usize,
    path: FieldPath,
    text: &'a str,
    slot: Slot,
    /// Index of the step the string belongs to, for `$(step.results…)`.
    step: Option<usize>,
    /// A pipeline task's param value: it becomes a TaskRun param, where Task context resolves.
    feeds_task_run: bool,
    /// Who runs a script, for messages: `step "build"`, `the step template`.
    owner: String,
}

/// What a spec sees besides its own declarations.
#[derive(Default)]
struct Received<'a> {
    /// The enclosing scope whose declarations are visible too (an inline taskSpec's Pipeline).
    parent: Option<usize>,
    /// Params a run or pipeline task passes in without a declaration (Tekton propagates them).
    params: Vec<&'a str>,
    /// Workspaces a run or pipeline task binds without a declaration.
    workspaces: Vec<&'a str>,
}

/// Where the walk is: the scope and container the next strings belong to.
#[derive(Clone)]
struct At {
    scope: usize,
    step: Option<usize>,
    feeds_task_run: bool,
    owner: String,
}

impl At {
    fn scope(scope: usize) -> At {
        At {
            scope,
            step: None,
            feeds_task_run: false,
            owner: String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WorkspaceUse {
    /// A step's or sidecar's `workspaces[].name`.
    Mount,
    /// A pipeline task's `workspaces[].workspace` (or its `name` when `workspace` is omitted).
    Binding,
    /// An inline taskSpec declaring a workspace its Pipeline has: Tekton binds it implicitly.
    Propagated,
}

/// A workspace named outside `$(…)`.
struct WorkspaceName<'a> {
    scope: usize,
    path: FieldPath,
    name: &'a str,
    how: WorkspaceUse,
    /// The step, sidecar or pipeline task, for messages.
    owner: String,
}

/// Every string and workspace name of one document, and the scopes they resolve in.
struct Model<'a> {
    /// The linted files, where StepActions that `ref` steps run may be found.
    corpus: &'a Corpus,
    scopes: Vec<Scope<'a>>,
    sites: Vec<Site<'a>>,
    workspace_names: Vec<WorkspaceName<'a>>,
}

/// The declarations references reached: (scope, name).
#[derive(Default)]
struct Uses<'a> {
    params: HashSet<(usize, &'a str)>,
    workspaces: HashSet<(usize, &'a str)>,
}

/// A param a reference reached: the scope that declares or receives it, and its declaration
/// (None for a param a run or pipeline task passes in undeclared: its type is unknown).
struct Resolved<'a> {
    scope: usize,
    spec: Option<&'a ParamSpec>,
}

impl<'a> Model<'a> {
    pub(super) fn check_reference(
        &self,
        site: &Site<'a>,
        reference: &Reference,
        uses: &mut Uses<'a>,
        sink: &mut Sink,
    ) {
        let param_segments = param_segments(reference);
        if site.slot == Slot::Unsubstituted {
            if param_segments.is_some() || reference.root() == "context" {
                report_unsubstituted(&site.path, site.text, reference, sink);
            }
            return;
        }
        if let Some(segments) = param_segments {
            self.check_param(site, reference, segments, uses, sink);
            if site.slot.is_script() {
                self.report_param_in_script(site, reference, segments, sink);
            }
            return;
        }
        match reference.root() {
            "workspaces" => self.check_workspace_variable(site, reference, uses, sink),
            _ if !site.slot.is_checked() => {}
            "results" => self.check_task_result(site, reference, sink),
            "step" if reference.segment(1) == Some("results") => {
                self.check_step_result(site, reference, sink)
            }
            "steps" => self.check_other_step_reference(site, reference, sink),
            "context" => self.check_context(site, reference, sink),
            _ => {}
        }
    }

    /// The param `segments` (after `params`) names and the keys after it. A dotted name may be
    /// written with dots (`params.a.b` for param `a.b`), so longer prefixes are tried too.
    pub(super) fn resolve_param<'s>(
        &self,
        scope: usize,
        segments: &'s [String],
    ) -> Option<(Resolved<'a>, &'s [String])> {
        (1..=segments.len()).find_map(|n| {
            let name = segments[..n].join(".");
            self.find_param(scope, &name)
                .map(|resolved| (resolved, &segments[n..]))
        })
    }

    pub(super) fn for_each_scope(&self, mut scope: usize, mut visit: impl FnMut(&Scope<'a>)) {
        loop {
            visit(&self.scopes[scope]);
            match self.scopes[scope].parent {
                Some(parent) => scope = parent,
                None => return,
            }
        }
    }
}

/// Whether `segments` (after `results` or `step.results`) name a declared result: `X.path`, or a
/// dotted name written with dots (`a.b.path`).
pub(super) fn names_declared(segments: &[String], declared: &[&str]) -> bool {
    let Some(first) = segments.first() else {
        return true;
    };
    let dotted = match segments.split_last() {
        Some((last, name)) if last == "path" && !name.is_empty() => name.join("."),
        _ => String::new(),
    };
    declared.iter().any(|d| *d == first || *d == dotted)
}

pub(super) fn declared_list(mut names: Vec<&str>) -> String {
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        "none are declared".to_string()
    } else {
        format!("declared: {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests;
