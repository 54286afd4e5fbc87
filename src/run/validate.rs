//! Validation before anything runs, with `task lint`'s own rules and messages: the rules that
//! stand for Tekton's admission webhook (anchor `W` in lint's catalogue) and YAML syntax, at the
//! severity the core profile gives them; an error among them refuses the run, as the webhook
//! would refuse to create the object. Hygiene and security rules (image pinning, root, ...) are
//! lint's business, not a reason not to run.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::core::error::Error;
use crate::core::plural::counted;
use crate::lint::finding::Severity;
use crate::lint::rules::{RuleId, CATALOGUE};
use crate::lint::{lint_files, Config, SourceFile};

/// Whether a lint rule checks what Tekton itself refuses, or a file that was not read whole.
/// Unknown fields are left out: Tekton's CRDs keep them and its webhook lets them pass, and a
/// value of the wrong shape is refused anyway when the run reads the definition.
fn is_validation_rule(id: RuleId, anchor: &str) -> bool {
    matches!(id, RuleId::YamlSyntax | RuleId::YamlLimits)
        || (id != RuleId::UnknownField && anchor.split_whitespace().any(|a| a == "W"))
}

/// Lints `files` with the validation rules; their errors, one per line, refuse the run.
pub fn validate(
    files: &BTreeSet<PathBuf>,
    texts: &dyn Fn(&PathBuf) -> Option<String>,
) -> anyhow::Result<()> {
    let mut config = Config::default();
    config.options.shellcheck.enabled = false;
    for rule in CATALOGUE {
        if !is_validation_rule(rule.id, rule.anchor) {
            config.set_rule(rule.id.as_str(), "off")?;
        }
    }
    let sources: Vec<SourceFile> = files
        .iter()
        .filter_map(|path| texts(path).map(|text| SourceFile::parse(path.clone(), text)))
        .collect();
    let report = lint_files(sources, &config);
    let errors: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| {
            format!(
                "{}:{}:{}: error[{}] {}",
                f.path, f.line, f.column, f.rule, f.message
            )
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    Err(Error::usage(format!(
        "the definitions are not valid Tekton, so nothing ran ({}):\n{}",
        counted(errors.len(), "error", "errors"),
        errors.join("\n")
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_rules_validate_and_hygiene_rules_do_not() {
        let is = |id: RuleId| is_validation_rule(id, id.rule().anchor);
        assert!(is(RuleId::StepsRequired));
        assert!(is(RuleId::PipelineRefs));
        assert!(is(RuleId::YamlSyntax));
        assert!(is(RuleId::YamlLimits));
        assert!(!is(RuleId::ImageLatestTag));
        assert!(!is(RuleId::Privileged));
        assert!(!is(RuleId::UnknownField));
    }
}
