//! How findings look: `human` (a line per finding and a summary), `json` (stable, for golden
//! tests and tools), `sarif` (SARIF 2.1.0 for code scanning) and `github` (workflow commands that
//! GitHub shows as annotations on the pull request).
//!
//! Every format renders the findings in the order the engine sorted them, so the same input gives
//! byte-identical output.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use serde::Serialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::finding::{Finding, Severity};
use super::rules::{Rule, CATALOGUE};
use super::Report;
use crate::core::plural::counted;

const TOOL_NAME: &str = "stepkit";
const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The key of our fingerprint in `partialFingerprints`; bump the version if its inputs change.
const FINGERPRINT_KEY: &str = "stepkit/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Sarif,
    Github,
}

/// The whole output of a run in `format`, ending with a newline, without colour.
pub fn render(report: &Report, format: Format) -> String {
    render_with(report, format, false)
}

/// [`render`], with ANSI colour in the human format when `color` is set.
pub fn render_with(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Human => human(report, color),
        Format::Json => json(report),
        Format::Sarif => sarif(report),
        Format::Github => github(report),
    }
}

/// Colour for a terminal, unless the user opted out with `NO_COLOR` (no-color.org).
pub fn stdout_wants_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `--list-rules`: the catalogue, a line per rule with its default severity in each profile.
pub fn rule_list() -> String {
    let mut out = format!(
        "{:<4} {:<34} {:<8} {:<8} {:<8} {:<8} {}\n",
        "#", "RULE", "CORE", "CATALOG", "KONFLUX", "PARTNER", "CHECKS"
    );
    for rule in CATALOGUE {
        let level = |s: Option<Severity>| s.map_or("off", Severity::as_str);
        let _ = writeln!(
            out,
            "{:<4} {:<34} {:<8} {:<8} {:<8} {:<8} {}",
            rule.number,
            rule.id,
            level(rule.defaults[0]),
            level(rule.defaults[1]),
            level(rule.defaults[2]),
            level(rule.defaults[3]),
            rule.summary
        );
    }
    out
}

/// `path:line:col: severity[rule-id] message`, one per line, grep- and editor-friendly.
fn human(report: &Report, color: bool) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let label = format!("{}[{}]", f.severity, f.rule);
        if color {
            let paint = severity_color(f.severity);
            let _ = writeln!(
                out,
                "\x1b[1m{}:{}:{}:\x1b[0m {paint}{label}\x1b[0m {}",
                f.path, f.line, f.column, f.message
            );
        } else {
            let _ = writeln!(
                out,
                "{}:{}:{}: {label} {}",
                f.path, f.line, f.column, f.message
            );
        }
    }
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

fn severity_color(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "\x1b[1;31m",
        Severity::Warning => "\x1b[1;33m",
        Severity::Info => "\x1b[1;36m",
    }
}

/// `2 errors, 1 warning, 0 infos in 3 files`, or `no problems in 3 files`.
fn summary_line(report: &Report) -> String {
    let files = counted(report.files, "file", "files");
    let known = match report.baselined {
        Some(known) => format!(" ({known} more in the baseline)"),
        None => String::new(),
    };
    if report.findings.is_empty() {
        return format!("no problems in {files}{known}");
    }
    format!(
        "{}, {}, {} in {files}{known}",
        counted(report.count(Severity::Error), "error", "errors"),
        counted(report.count(Severity::Warning), "warning", "warnings"),
        counted(report.count(Severity::Info), "info", "infos"),
    )
}

/// The JSON report; a struct rather than `json!` so the keys keep this order.
#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    tool: Tool,
    findings: &'a [Finding],
    summary: Summary,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Summary {
    errors: usize,
    warnings: usize,
    infos: usize,
    files: usize,
    documents: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    baselined: Option<usize>,
}

fn json(report: &Report) -> String {
    let document = JsonReport {
        version: 1,
        tool: Tool {
            name: TOOL_NAME,
            version: TOOL_VERSION,
        },
        findings: &report.findings,
        summary: Summary {
            errors: report.count(Severity::Error),
            warnings: report.count(Severity::Warning),
            infos: report.count(Severity::Info),
            files: report.files,
            documents: report.documents,
            baselined: report.baselined,
        },
    };
    serde_json::to_string_pretty(&document).expect("a report serializes") + "\n"
}

/// SARIF 2.1.0 with one run; `tool.driver.rules` lists the whole catalogue so `ruleIndex` is the
/// catalogue position and code scanning can show every rule's description.
fn sarif(report: &Report) -> String {
    let rules: Vec<serde_json::Value> = CATALOGUE.iter().map(sarif_rule).collect();
    let results: Vec<serde_json::Value> = report.findings.iter().map(sarif_result).collect();
    let document = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": TOOL_NAME,
                    "version": TOOL_VERSION,
                    "informationUri": env!("CARGO_PKG_REPOSITORY"),
                    "rules": rules,
                }
            },
            // The YAML parser counts characters, not UTF-16 units (SARIF's default).
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    serde_json::to_string_pretty(&document).expect("a SARIF log serializes") + "\n"
}

/// A catalogue rule as a SARIF reportingDescriptor; its level is the core profile's default.
fn sarif_rule(rule: &Rule) -> serde_json::Value {
    json!({
        "id": rule.id.as_str(),
        "name": pascal_case(rule.id.as_str()),
        "shortDescription": { "text": rule.summary },
        "defaultConfiguration": { "level": rule.defaults[0].map_or("none", sarif_level) },
    })
}

fn sarif_result(finding: &Finding) -> serde_json::Value {
    let rule_index = CATALOGUE.iter().position(|r| r.id.as_str() == finding.rule);
    json!({
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": sarif_level(finding.severity),
        "message": { "text": finding.message },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": artifact_uri(&finding.path) },
                "region": { "startLine": finding.line, "startColumn": finding.column },
            }
        }],
        "partialFingerprints": { (FINGERPRINT_KEY): fingerprint(finding) },
    })
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// `image-latest-tag` → `ImageLatestTag`: SARIF's readable rule name.
fn pascal_case(id: &str) -> String {
    id.split('-')
        .flat_map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
        })
        .collect()
}

/// The path as a relative URI reference: forward slashes, and anything outside the unreserved
/// characters percent-encoded (a space or `#` would otherwise break the URI).
fn artifact_uri(path: &str) -> String {
    let mut uri = String::with_capacity(path.len());
    for byte in path.replace('\\', "/").bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            uri.push(byte as char);
        } else {
            let _ = write!(uri, "%{byte:02X}");
        }
    }
    uri
}

/// Stable across line moves (no line or column in it), so code scanning keeps an alert's
/// identity when lines are inserted above it. Fields are NUL-separated so they cannot run together.
fn fingerprint(finding: &Finding) -> String {
    let input = [
        finding.rule.as_str(),
        &finding.path,
        &finding.field,
        &finding.message,
    ]
    .join("\0");
    Sha256::digest(input.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// `::error file=…,line=…,col=…,title=RULE::MESSAGE` per finding, then the summary in plain text.
fn github(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let _ = writeln!(
            out,
            "::{command} file={},line={},col={},title={}::{}",
            escape_property(&f.path),
            f.line,
            f.column,
            escape_property(&f.rule),
            escape_data(&f.message)
        );
    }
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

/// The escaping of the Actions toolkit's `escapeData`.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The escaping of the Actions toolkit's `escapeProperty`: data escaping plus `:` and `,`.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn finding(rule: &str, severity: Severity, path: &str, line: usize, message: &str) -> Finding {
        Finding {
            rule: rule.into(),
            severity,
            message: message.into(),
            path: path.into(),
            line,
            column: 7,
            kind: Some("Task".into()),
            name: Some("build".into()),
            field: "spec.steps[0].image".into(),
        }
    }

    fn sample() -> Report {
        Report {
            findings: vec![
                finding(
                    "image-latest-tag",
                    Severity::Error,
                    "task/build.yaml",
                    12,
                    "image uses the latest tag",
                ),
                finding(
                    "unused-param",
                    Severity::Warning,
                    "task/build.yaml",
                    20,
                    "param \"x\" is unused",
                ),
                finding(
                    "script-shebang",
                    Severity::Info,
                    "task/build.yaml",
                    30,
                    "script has no #!",
                ),
                finding(
                    "script-shebang",
                    Severity::Info,
                    "task/test.yaml",
                    5,
                    "script has no #!",
                ),
            ],
            files: 2,
            documents: 2,
            skipped: Vec::new(),
            baselined: None,
        }
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).expect("output is JSON")
    }

    #[test]
    fn human_prints_a_line_per_finding_and_a_summary() {
        let out = render(&sample(), Format::Human);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "task/build.yaml:12:7: error[image-latest-tag] image uses the latest tag"
        );
        assert_eq!(
            lines[1],
            "task/build.yaml:20:7: warning[unused-param] param \"x\" is unused"
        );
        assert_eq!(lines[4], "1 error, 1 warning, 2 infos in 2 files");
        assert_eq!(lines.len(), 5);
        assert!(out.ends_with('\n'));
        assert!(!out.contains('\x1b'), "no colour unless asked");
    }

    #[test]
    fn summary_counts_in_singular_and_plural() {
        let mut report = sample();
        report.findings.truncate(1);
        report.files = 1;
        assert_eq!(
            summary_line(&report),
            "1 error, 0 warnings, 0 infos in 1 file"
        );
        report.findings.clear();
        assert_eq!(summary_line(&report), "no problems in 1 file");
        report.files = 3;
        assert_eq!(summary_line(&report), "no problems in 3 files");
    }

    #[test]
    fn colour_marks_location_and_severity_only_when_asked() {
        let out = render_with(&sample(), Format::Human, true);
        let first = out.lines().next().unwrap();
        assert_eq!(
            first,
            "\x1b[1mtask/build.yaml:12:7:\x1b[0m \x1b[1;31merror[image-latest-tag]\x1b[0m image uses the latest tag"
        );
        assert!(out.contains("\x1b[1;33mwarning[unused-param]"));
        assert!(
            out.ends_with("1 error, 1 warning, 2 infos in 2 files\n"),
            "the summary stays plain"
        );
        assert_eq!(
            render_with(&sample(), Format::Json, true),
            render(&sample(), Format::Json)
        );
    }

    #[test]
    fn json_has_tool_findings_and_summary_in_a_fixed_order() {
        let out = render(&sample(), Format::Json);
        let keys: Vec<usize> = ["\"version\"", "\"tool\"", "\"findings\"", "\"summary\""]
            .iter()
            .map(|k| out.find(k).unwrap())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{out}");
        let value = parse(&out);
        assert_eq!(value["version"], 1);
        assert_eq!(
            value["tool"],
            json!({ "name": "stepkit", "version": TOOL_VERSION })
        );
        assert_eq!(value["findings"].as_array().unwrap().len(), 4);
        assert_eq!(value["findings"][0]["rule"], "image-latest-tag");
        assert_eq!(value["findings"][0]["severity"], "error");
        assert_eq!(value["findings"][0]["field"], "spec.steps[0].image");
        assert_eq!(
            value["summary"],
            json!({ "errors": 1, "warnings": 1, "infos": 2, "files": 2, "documents": 2 })
        );
        assert_eq!(out, render(&sample(), Format::Json), "deterministic");
    }

    #[test]
    fn sarif_is_a_2_1_0_log_with_the_whole_catalogue() {
        let value = parse(&render(&sample(), Format::Sarif));
        assert_eq!(value["version"], "2.1.0");
        assert_eq!(value["$schema"], SARIF_SCHEMA);
        let runs = value["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1);
        let driver = &runs[0]["tool"]["driver"];
        assert_eq!(driver["name"], "stepkit");
        assert_eq!(driver["version"], TOOL_VERSION);
        assert!(driver["informationUri"]
            .as_str()
            .unwrap()
            .starts_with("https://"));
        let rules = driver["rules"].as_array().unwrap();
        assert_eq!(rules.len(), CATALOGUE.len());
        assert_eq!(rules[0]["id"], "yaml-syntax");
        assert_eq!(rules[0]["name"], "YamlSyntax");
        assert_eq!(rules[0]["shortDescription"]["text"], CATALOGUE[0].summary);
        let level = |id: &str| {
            rules.iter().find(|r| r["id"] == id).unwrap()["defaultConfiguration"]["level"].clone()
        };
        assert_eq!(level("privileged"), "error");
        assert_eq!(
            level("image-latest-tag"),
            "warning",
            "policy: a warning in core"
        );
        assert_eq!(level("unused-param"), "warning");
        assert_eq!(level("script-shebang"), "note");
        assert_eq!(level("categories"), "none", "off in the core profile");
    }

    #[test]
    fn sarif_results_point_at_their_rule_and_region() {
        let value = parse(&render(&sample(), Format::Sarif));
        let results = value["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 4);
        let first = &results[0];
        assert_eq!(first["ruleId"], "image-latest-tag");
        let index = first["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(CATALOGUE[index].id.as_str(), "image-latest-tag");
        assert_eq!(first["level"], "error");
        assert_eq!(results[2]["level"], "note");
        assert_eq!(first["message"]["text"], "image uses the latest tag");
        let location = &first["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "task/build.yaml");
        assert_eq!(
            location["region"],
            json!({ "startLine": 12, "startColumn": 7 })
        );
        let fingerprint = first["partialFingerprints"][FINGERPRINT_KEY]
            .as_str()
            .unwrap();
        assert_eq!(fingerprint.len(), 64);
        assert!(fingerprint
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn fingerprints_ignore_line_moves_but_not_content() {
        let base = finding(
            "privileged",
            Severity::Error,
            "t.yaml",
            3,
            "step \"a\" runs privileged",
        );
        let moved = Finding {
            line: 40,
            column: 1,
            ..base.clone()
        };
        assert_eq!(fingerprint(&base), fingerprint(&moved));
        let other_message = Finding {
            message: "step \"b\" runs privileged".into(),
            ..base.clone()
        };
        assert_ne!(fingerprint(&base), fingerprint(&other_message));
        let other_field = Finding {
            field: "spec.steps[1]".into(),
            ..base.clone()
        };
        assert_ne!(fingerprint(&base), fingerprint(&other_field));
    }

    #[test]
    fn artifact_uris_use_forward_slashes_and_percent_encoding() {
        assert_eq!(
            artifact_uri("task/git-clone/0.9/git-clone.yaml"),
            "task/git-clone/0.9/git-clone.yaml"
        );
        assert_eq!(artifact_uri("task\\build.yaml"), "task/build.yaml");
        assert_eq!(artifact_uri("my tasks/a#1.yaml"), "my%20tasks/a%231.yaml");
    }

    #[test]
    fn github_writes_workflow_commands_per_severity() {
        let out = render(&sample(), Format::Github);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "::error file=task/build.yaml,line=12,col=7,title=image-latest-tag::image uses the latest tag");
        assert!(lines[1].starts_with("::warning file=task/build.yaml,line=20,"));
        assert!(lines[2].starts_with("::notice file=task/build.yaml,line=30,"));
        assert_eq!(lines[4], "1 error, 1 warning, 2 infos in 2 files");
    }

    #[test]
    fn github_escapes_messages_and_properties() {
        let mut report = sample();
        report.findings = vec![finding(
            "shellcheck",
            Severity::Warning,
            "a,b:c.yaml",
            1,
            "100% wrong:\r\nsee, SC2086",
        )];
        let out = render(&report, Format::Github);
        assert_eq!(
            out.lines().next().unwrap(),
            "::warning file=a%2Cb%3Ac.yaml,line=1,col=7,title=shellcheck::100%25 wrong:%0D%0Asee, SC2086"
        );
    }

    #[test]
    fn rule_list_has_a_header_and_a_line_per_rule() {
        let out = rule_list();
        assert_eq!(out.lines().count(), CATALOGUE.len() + 1);
        assert!(out.lines().next().unwrap().starts_with("#    RULE"));
        let categories = out.lines().find(|l| l.contains(" categories ")).unwrap();
        assert!(
            categories.contains("off      error    off      off"),
            "{categories}"
        );
    }
}
