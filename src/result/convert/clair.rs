//! clair: a quay-format report or the clair policy's conftest output, as SCAN_OUTPUT counts.

use super::conftest::{conftest_entries, shared_namespace, CheckResult};
use super::*;

pub(super) fn summarize_clair(input: &[u8]) -> Result<Summary, String> {
    let value = parse_json(input)?;
    let (scan, namespace) = match &value {
        Value::Array(_) => {
            let entries = conftest_entries(&value)?;
            (
                scan_from_clair_policy_output(&entries)?,
                shared_namespace(&entries),
            )
        }
        Value::Object(map) if map.contains_key("data") => (scan_from_quay_report(map)?, None),
        Value::Object(_) => {
            return Err(format!("{CLAIR_EXPECTED}, got an object without \"data\""))
        }
        other => return Err(format!("{CLAIR_EXPECTED}, got {}", describe(other))),
    };
    Ok(Summary {
        // ADR 30: a scan reports what it found in SCAN_OUTPUT and never indicates a failure.
        result: Some(Outcome::Success),
        note: Some(clair_note(&scan)),
        namespace,
        scan: Some(scan),
        ..Summary::default()
    })
}

const CLAIR_EXPECTED: &str = "expected a quay-format clair report (an object with \"data\") \
     or the conftest output of the clair policy (an array)";

/// konflux-test's policies/clair/vulnerabilities-check.rego, on `data.*.Features[]`: per package
/// the set of unique vulnerability names, patched when `FixedBy` is set and `Link` names an
/// RHSA, unpatched when neither; any other combination is counted in neither.
fn scan_from_quay_report(report: &Map<String, Value>) -> Result<ScanOutput, String> {
    let report = Fields {
        map: report,
        at: Place::default(),
    };
    let layers: Vec<Fields<'_>> = match report.present("data") {
        // The rego iterates `data[_]`, so any key (clair-action writes `Layer`) and arrays work.
        Some(Value::Object(layers)) => layers
            .iter()
            .map(|(key, layer)| Fields::of(layer, Place::path(format!("data.{key}"))))
            .collect::<Result<_, _>>()?,
        Some(Value::Array(_)) => report.objects("data")?,
        Some(other) => {
            return Err(format!(
                "\"data\" must be an object of layers, got {}",
                describe(other)
            ))
        }
        None => Vec::new(),
    };
    let mut scan = ScanOutput::default();
    for layer in &layers {
        for package in layer.objects("Features")? {
            add_package_vulnerabilities(&package, &mut scan)?;
        }
    }
    Ok(scan)
}

fn add_package_vulnerabilities(package: &Fields<'_>, scan: &mut ScanOutput) -> Result<(), String> {
    // Keyed by the severity as written: the rego builds separate sets for Low and Negligible.
    let mut seen: HashSet<(bool, String, String)> = HashSet::new();
    for vulnerability in package.objects("Vulnerabilities")? {
        let name = vulnerability
            .string("Name")?
            .ok_or_else(|| format!("{}: \"Name\" is missing", vulnerability.at))?;
        let severity = vulnerability.string("Severity")?.unwrap_or_default();
        let fixed_by = vulnerability.string("FixedBy")?.unwrap_or_default();
        let link = vulnerability.string("Link")?.unwrap_or_default();
        let patched = match (!fixed_by.is_empty(), link.contains("RHSA")) {
            (true, true) => true,
            (false, false) => false,
            _ => continue,
        };
        let severity = severity.to_ascii_lowercase();
        if !seen.insert((patched, severity.clone(), name)) {
            continue;
        }
        let counts = if patched {
            &mut scan.vulnerabilities
        } else {
            &mut scan.unpatched_vulnerabilities
        };
        *severity_slot(counts, &severity) += 1;
    }
    Ok(())
}

/// Critical, High and Medium as themselves; Low and Negligible as low; anything else unknown.
fn severity_slot<'c>(counts: &'c mut SeverityCounts, severity: &str) -> &'c mut u64 {
    match severity.to_ascii_lowercase().as_str() {
        "critical" => &mut counts.critical,
        "high" => &mut counts.high,
        "medium" => &mut counts.medium,
        "low" | "negligible" => &mut counts.low,
        _ => &mut counts.unknown,
    }
}

/// The conftest output of the clair policy, summed as clair-scan builds SCAN_OUTPUT: each
/// `vulnerabilities_number` goes to the severity its `details.name` names
/// (`clair_high_vulnerabilities`, `clair_unpatched_medium_vulnerabilities`, ...). Older policy
/// versions reported them as failures (`violation_*`), so both lists are read.
fn scan_from_clair_policy_output(entries: &[CheckResult<'_>]) -> Result<ScanOutput, String> {
    let mut scan = ScanOutput::default();
    for item in entries
        .iter()
        .flat_map(|entry| entry.warnings.iter().chain(&entry.failures))
    {
        let Some((unpatched, severity)) = clair_rule_target(item.rule_name()) else {
            continue;
        };
        let number = match &item.metadata {
            Some(metadata) => metadata.typed::<u64>("vulnerabilities_number", "an integer")?,
            None => None,
        };
        let number = number.ok_or_else(|| {
            let at = item.at.key("metadata");
            format!("{at}: \"vulnerabilities_number\" is missing")
        })?;
        let counts = if unpatched {
            &mut scan.unpatched_vulnerabilities
        } else {
            &mut scan.vulnerabilities
        };
        let slot = severity_slot(counts, severity);
        *slot = slot.saturating_add(number);
    }
    Ok(scan)
}

/// `clair_[unpatched_]<severity>_vulnerabilities` → (unpatched, severity).
fn clair_rule_target(rule: &str) -> Option<(bool, &str)> {
    let severity = rule
        .strip_prefix("clair_")?
        .strip_suffix("_vulnerabilities")?;
    let (unpatched, severity) = match severity.strip_prefix("unpatched_") {
        Some(severity) => (true, severity),
        None => (false, severity),
    };
    matches!(severity, "critical" | "high" | "medium" | "low" | "unknown")
        .then_some((unpatched, severity))
}

/// `clair found 6 vulnerabilities (2 critical, 1 high, ...) and 3 unpatched (...); see SCAN_OUTPUT`.
fn clair_note(scan: &ScanOutput) -> String {
    let patched = scan.vulnerabilities.total();
    format!(
        "clair found {}{} and {} unpatched{}; see SCAN_OUTPUT",
        counted(patched, "vulnerability", "vulnerabilities"),
        severity_breakdown(&scan.vulnerabilities),
        scan.unpatched_vulnerabilities.total(),
        severity_breakdown(&scan.unpatched_vulnerabilities),
    )
}

/// ` (2 critical, 1 low)`, listing the non-zero severities; empty when all are zero.
fn severity_breakdown(counts: &SeverityCounts) -> String {
    let parts: Vec<String> = [
        (counts.critical, "critical"),
        (counts.high, "high"),
        (counts.medium, "medium"),
        (counts.low, "low"),
        (counts.unknown, "unknown"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, severity)| format!("{count} {severity}"))
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::convert::testing::*;
    use crate::result::test_output::{validate, Document};

    #[test]
    fn clair_quay_report_follows_the_policy_semantics() {
        let summary = clair(fixture!("clair/quay-report.json"));
        // By hand, per package (unique names), patched = FixedBy set and an RHSA link,
        // unpatched = neither:
        //   openssl-libs: CVE-2024-5535 Critical patched; CVE-2024-6119 High patched (listed twice,
        //                 counted once); CVE-2024-4741 Medium unpatched
        //   glibc:        CVE-2024-2961 Low patched; CVE-2023-4806 Negligible patched (low);
        //                 CVE-2023-4813 Negligible unpatched (low); CVE-2024-33599 Medium has a
        //                 fix but no RHSA link: neither
        //   pip:          PVE-2021-42218 Unknown unpatched; PVE-2021-42219 Unknown patched;
        //                 CVE-2021-3572 High has an RHSA link but no fix: neither
        //   openssl:      CVE-2024-5535 Critical patched (same name, another package: counted)
        //   bash, ca-certificates: no vulnerabilities
        let want = ScanOutput {
            vulnerabilities: severities(2, 1, 0, 2, 1),
            unpatched_vulnerabilities: severities(0, 0, 1, 1, 1),
        };
        assert_eq!(summary.scan, Some(want));
        assert_eq!(summary.result, Some(Outcome::Success));
        assert_eq!(counts(&summary), (0, 0, 0, 0));
        assert!(!summary.empty);
        assert_eq!(summary.namespace, None);
        assert_eq!(
            summary.note.as_deref(),
            Some(
                "clair found 6 vulnerabilities (2 critical, 1 high, 2 low, 1 unknown) \
                 and 3 unpatched (1 medium, 1 low, 1 unknown); see SCAN_OUTPUT"
            )
        );
        assert_eq!(
            validate(
                Document::ScanOutput,
                &crate::result::test_output::to_compact_json(&want)
            ),
            vec![]
        );
    }

    #[test]
    fn clair_policy_output_sums_vulnerabilities_number_by_rule_name() {
        let summary = clair(fixture!("conftest/warn-clair.json"));
        let want = ScanOutput {
            vulnerabilities: severities(0, 3, 0, 0, 0),
            unpatched_vulnerabilities: severities(0, 0, 1, 0, 0),
        };
        assert_eq!(summary.scan, Some(want));
        assert_eq!(summary.result, Some(Outcome::Success));
        assert_eq!(counts(&summary), (0, 0, 0, 0));
        assert_eq!(summary.namespace.as_deref(), Some("required_checks"));
        assert_eq!(
            summary.note.as_deref(),
            Some("clair found 3 vulnerabilities (3 high) and 1 unpatched (1 medium); see SCAN_OUTPUT")
        );
    }

    #[test]
    fn clair_severity_is_case_insensitive_and_unrecognized_is_unknown() {
        let input = br#"{"data": {"Layer": {"Features": [{"Name": "p", "Vulnerabilities": [
            {"Name": "a", "Severity": "HIGH", "FixedBy": "1", "Link": "RHSA-1"},
            {"Name": "b", "Severity": "Important", "FixedBy": "1", "Link": "RHSA-2"},
            {"Name": "c", "FixedBy": null, "Link": null},
            {"Name": "d", "Severity": "Low"},
            {"Name": "d", "Severity": "Negligible"}]}]}}}"#;
        let scan = clair(input).scan.expect("scan");
        assert_eq!(scan.vulnerabilities, severities(0, 1, 0, 0, 1));
        // Missing FixedBy and Link read as empty; Low and Negligible are separate sets, as in
        // the rego.
        assert_eq!(scan.unpatched_vulnerabilities, severities(0, 0, 0, 2, 1));
    }

    #[test]
    fn clair_with_nothing_found() {
        let summary = clair(br#"{"data": {"Layer": {"Features": null}}}"#);
        assert_eq!(summary.scan, Some(ScanOutput::default()));
        assert_eq!(
            summary.note.as_deref(),
            Some("clair found 0 vulnerabilities and 0 unpatched; see SCAN_OUTPUT")
        );
        let summary = clair(b"[]");
        assert_eq!(summary.scan, Some(ScanOutput::default()));
        assert_eq!(summary.result, Some(Outcome::Success));
    }

    #[test]
    fn clair_refusals() {
        let cases: [(&[u8], &str); 5] = [
            (br#"{"vulnerabilities": {}}"#,
             "expected a quay-format clair report (an object with \"data\") or the conftest output of the clair policy (an array), got an object without \"data\""),
            (b"\"report\"",
             "expected a quay-format clair report (an object with \"data\") or the conftest output of the clair policy (an array), got a string"),
            (br#"{"data": {"Layer": {"Features": [{"Vulnerabilities": [{"Severity": "High"}]}]}}}"#,
             "data.Layer.Features[0].Vulnerabilities[0]: \"Name\" is missing"),
            (br#"[{"warnings": [{"msg": "m", "metadata": {"details": {"name": "clair_low_vulnerabilities"}, "vulnerabilities_number": "2"}}]}]"#,
             "entry 0: warnings[0].metadata: \"vulnerabilities_number\" must be an integer, got a string"),
            (br#"[{"warnings": [{"msg": "m", "metadata": {"details": {"name": "clair_low_vulnerabilities"}}}]}]"#,
             "entry 0: warnings[0].metadata: \"vulnerabilities_number\" is missing"),
        ];
        for (input, want) in cases {
            assert_eq!(refusal(InputKind::Clair, input), want);
        }
    }

    // --- appstudio ---------------------------------------------------------------------------
}
