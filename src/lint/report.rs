//! How findings look: `human` (a line per finding and a summary), `json` (stable, for golden
//! tests and tools), `sarif` (code scanning) and `github` (workflow annotations).

use super::finding::Severity;
use super::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Sarif,
    Github,
}

/// The whole output of a run in `format`, ending with a newline.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(&serde_json::json!({
            "version": 1,
            "findings": report.findings,
        }))
        .expect("findings serialize")
            + "\n",
        _ => {
            let mut out = String::new();
            for f in &report.findings {
                out.push_str(&format!("{}:{}:{}: {}[{}] {}\n", f.path, f.line, f.column, f.severity, f.rule, f.message));
            }
            out.push_str(&format!(
                "{} errors, {} warnings, {} infos in {} files\n",
                report.count(Severity::Error),
                report.count(Severity::Warning),
                report.count(Severity::Info),
                report.files
            ));
            out
        }
    }
}

/// `--list-rules`: the catalogue, a line per rule with its default severity in each profile.
pub fn rule_list() -> String {
    let mut out = format!("{:<4} {:<34} {:<8} {:<8} {:<8} {:<8} {}\n", "#", "RULE", "CORE", "CATALOG", "KONFLUX", "PARTNER", "CHECKS");
    for rule in super::rules::CATALOGUE {
        let level = |s: Option<Severity>| s.map_or("off", Severity::as_str);
        out.push_str(&format!(
            "{:<4} {:<34} {:<8} {:<8} {:<8} {:<8} {}\n",
            rule.number,
            rule.id,
            level(rule.defaults[0]),
            level(rule.defaults[1]),
            level(rule.defaults[2]),
            level(rule.defaults[3]),
            rule.summary
        ));
    }
    out
}
