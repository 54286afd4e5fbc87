//! undefined-workspace-ref: `$(workspaces…)` variables and the workspaces steps, sidecars and
//! pipeline tasks name must be declared where they are used.

use super::*;

const WORKSPACE_VARIABLES: &[&str] = &["path", "bound", "claim", "volume"];

impl<'a> Model<'a> {
    pub(super) fn check_workspace_variable(
        &self,
        site: &Site,
        reference: &Reference,
        uses: &mut Uses<'a>,
        sink: &mut Sink,
    ) {
        let (Some(name), Some(variable)) = (reference.segment(1), reference.segment(2)) else {
            return;
        };
        if self.scopes[site.scope].kind == ScopeKind::StepAction {
            return; // a StepAction sees the workspaces of whichever Task uses it
        }
        let found = self.find_workspace(site.scope, name, uses);
        // A pipeline task's param value is substituted again in its TaskRun, where
        // `$(workspaces.X…)` names the Task's own workspace.
        if !site.slot.is_checked() || site.feeds_task_run {
            return;
        }
        let location = reference.location(&site.path, site.text);
        if !found {
            let message = format!(
                "$({}) names workspace \"{name}\", which this {} does not declare; {}",
                reference.expression,
                self.scopes[site.scope].label,
                self.declare_workspace_hint(site.scope)
            );
            sink.report(RuleId::UndefinedWorkspaceRef, location, message);
        } else if !WORKSPACE_VARIABLES.contains(&variable) {
            let message = format!(
                "$({}) is not a workspace variable; a workspace has {}",
                reference.expression,
                WORKSPACE_VARIABLES
                    .iter()
                    .map(|v| format!("$(workspaces.{name}.{v})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            sink.report(RuleId::UndefinedWorkspaceRef, location, message);
        }
    }

    /// Whether `name` is a workspace `scope` sees; marks the declaration it reaches as used.
    pub(super) fn find_workspace(&self, mut scope: usize, name: &str, uses: &mut Uses<'a>) -> bool {
        loop {
            let current = &self.scopes[scope];
            if let Some(declared) = current.workspaces.iter().find(|w| w.name == name) {
                uses.workspaces.insert((scope, declared.name));
                return true;
            }
            if current.passed_workspaces.contains(&name) {
                return true;
            }
            let Some(parent) = current.parent else {
                return false;
            };
            scope = parent;
        }
    }

    pub(super) fn check_workspace_names(&self, uses: &mut Uses<'a>, sink: &mut Sink) {
        for used in &self.workspace_names {
            // A propagated name only marks the Pipeline's workspace as used.
            if self.find_workspace(used.scope, used.name, uses)
                || used.how == WorkspaceUse::Propagated
            {
                continue;
            }
            let scope = &self.scopes[used.scope];
            let verb = if used.how == WorkspaceUse::Mount {
                "mounts"
            } else {
                "binds"
            };
            sink.report(
                RuleId::UndefinedWorkspaceRef,
                Location::Field(used.path.clone()),
                format!(
                    "{} {verb} workspace \"{}\", which this {} does not declare; {}",
                    used.owner,
                    used.name,
                    scope.label,
                    self.declare_workspace_hint(used.scope)
                ),
            );
        }
    }

    pub(super) fn declare_workspace_hint(&self, scope: usize) -> String {
        let mut names = Vec::new();
        self.for_each_scope(scope, |s| {
            names.extend(s.workspaces.iter().map(|w| w.name));
            names.extend(s.passed_workspaces.iter().copied());
        });
        format!(
            "declare it under {}.workspaces or fix the name ({})",
            self.scopes[scope].path,
            declared_list(names)
        )
    }
}
