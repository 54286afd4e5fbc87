//! unused-param and unused-workspace: declarations nothing in their scope uses.

use super::*;

impl<'a> Model<'a> {
    pub(super) fn report_unused(&self, uses: &Uses, sink: &mut Sink) {
        for (index, scope) in self.scopes.iter().enumerate() {
            for (i, param) in scope.params.iter().enumerate() {
                if param.name.is_empty() || uses.params.contains(&(index, param.name.as_str())) {
                    continue;
                }
                sink.report(
                    RuleId::UnusedParam,
                    Location::Field(scope.path.item("params", i).field("name")),
                    format!(
                        "param \"{}\" is declared but nothing in this {} uses it; \
                         reference it as {} or remove it",
                        param.name,
                        scope.label,
                        param_syntax(&param.name)
                    ),
                );
            }
            for (i, workspace) in scope.workspaces.iter().enumerate() {
                if uses.workspaces.contains(&(index, workspace.name))
                    || workspace.mounted_explicitly
                    || (scope.kind == ScopeKind::Task && self.mentions(index, workspace.name))
                {
                    continue;
                }
                let how = match scope.kind {
                    ScopeKind::Pipeline => "no pipeline task binds it",
                    _ => "no step references it or mounts it, and no script names its path",
                };
                sink.report(
                    RuleId::UnusedWorkspace,
                    Location::Field(scope.path.item("workspaces", i).field("name")),
                    format!(
                        "workspace \"{}\" is declared but {how}; use it or remove it",
                        workspace.name
                    ),
                );
            }
        }
    }

    /// Whether any substituted string of `scope` contains `text` (a script may use a workspace's
    /// default mount path, `/workspace/<name>`, literally).
    pub(super) fn mentions(&self, scope: usize, text: &str) -> bool {
        self.sites
            .iter()
            .any(|s| s.scope == scope && s.slot != Slot::Unsubstituted && s.text.contains(text))
    }
}
