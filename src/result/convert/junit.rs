//! JUnit XML: test cases counted by how they ended; suites' aggregate attributes are ignored.

use super::*;

/// How one `<testcase>` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaseOutcome {
    Passed,
    Failed,
    Skipped,
}

pub(super) fn summarize_junit(input: &[u8]) -> Result<Summary, String> {
    let text =
        std::str::from_utf8(strip_bom(input)).map_err(|err| format!("not UTF-8 text: {err}"))?;
    if text.trim().is_empty() {
        return Err(EMPTY_FILE.to_string());
    }
    let document =
        roxmltree::Document::parse(text).map_err(|err| format!("not valid XML: {err}"))?;
    let root = document.root_element();
    let root_name = root.tag_name().name();
    if !matches!(root_name, "testsuites" | "testsuite") {
        return Err(format!(
            "not a JUnit report: the root element is <{root_name}>, expected <testsuites> or <testsuite>"
        ));
    }
    let mut summary = Summary::default();
    let mut failed = Names::default();
    // Every <testcase> at any depth (suites nest); the aggregate attributes of <testsuite> are
    // often missing or wrong, so they are never read.
    for case in root
        .descendants()
        .filter(|node| node.has_tag_name("testcase"))
    {
        match case_outcome(case) {
            CaseOutcome::Passed => summary.successes += 1,
            CaseOutcome::Skipped => summary.skipped += 1,
            CaseOutcome::Failed => {
                summary.failures += 1;
                failed.add(&case_label(case));
            }
        }
    }
    summary.empty = summary.successes + summary.failures + summary.skipped == 0;
    summary.note = join_note([
        failed.labelled("failed"),
        (summary.skipped > 0).then(|| format!("{} skipped", summary.skipped)),
    ]);
    Ok(summary)
}

/// A test error is a test failure, not TEST_OUTPUT's ERROR, which means the tool could not run.
fn case_outcome(case: roxmltree::Node<'_, '_>) -> CaseOutcome {
    let has_child = |name: &str| case.children().any(|child| child.has_tag_name(name));
    if has_child("failure") || has_child("error") {
        CaseOutcome::Failed
    } else if has_child("skipped") {
        CaseOutcome::Skipped
    } else {
        CaseOutcome::Passed
    }
}

/// `classname.name`, as most JUnit viewers show a case.
fn case_label(case: roxmltree::Node<'_, '_>) -> String {
    let name = case.attribute("name").unwrap_or("(unnamed)");
    match case
        .attribute("classname")
        .filter(|class| !class.is_empty())
    {
        Some(class) => format!("{class}.{name}"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::convert::testing::*;

    #[test]
    fn junit_counts_cases_and_treats_errors_as_failures() {
        let summary = junit(fixture!("junit/testsuites.xml"));
        assert_eq!(counts(&summary), (6, 3, 0, 1));
        assert!(!summary.empty);
        assert_eq!(
            summary.note.as_deref(),
            Some(
                "failed: api.tests.test_users.test_update_user, api.tests.test_orders.test_cancel_order, \
                 api.tests.test_orders.test_refund_order; 1 skipped"
            )
        );
    }

    #[test]
    fn junit_bare_testsuite_root() {
        let summary = junit(fixture!("junit/bare-testsuite.xml"));
        assert_eq!(counts(&summary), (2, 1, 0, 0));
        assert_eq!(
            summary.note.as_deref(),
            Some("failed: controllers.TestReconcileUpdatesStatus")
        );
    }

    #[test]
    fn junit_nested_suites_ignore_aggregate_attributes() {
        let summary = junit(fixture!("junit/nested.xml"));
        assert_eq!(counts(&summary), (3, 1, 0, 1));
        assert_eq!(
            summary.note.as_deref(),
            Some("failed: integration.storage.test_download; 1 skipped")
        );
    }

    #[test]
    fn junit_all_skipped_is_not_empty() {
        let summary = junit(fixture!("junit/all-skipped.xml"));
        assert_eq!(counts(&summary), (0, 0, 0, 3));
        assert!(!summary.empty);
        assert_eq!(summary.note.as_deref(), Some("3 skipped"));
    }

    #[test]
    fn junit_without_testcases_is_empty() {
        let summary = junit(fixture!("junit/no-testcases.xml"));
        assert_eq!(counts(&summary), (0, 0, 0, 0));
        assert!(summary.empty);
        assert_eq!(summary.note, None);
    }

    #[test]
    fn junit_refusals() {
        let err = refusal(InputKind::Junit, b"<testsuite><testcase name=\"a\">");
        assert!(err.starts_with("not valid XML: "), "{err}");
        let err = refusal(InputKind::Junit, b"\xff\xfe<testsuite/>");
        assert!(err.starts_with("not UTF-8 text: "), "{err}");
        let err = refusal(InputKind::Junit, fixture!("conftest/pass-single.json"));
        assert!(err.starts_with("not valid XML: "), "{err}");
    }

    #[test]
    fn junit_case_without_classname_is_named_alone() {
        let summary =
            junit(b"<testsuite><testcase name=\"lonely\"><failure/></testcase></testsuite>");
        assert_eq!(summary.note.as_deref(), Some("failed: lonely"));
    }

    // --- clair -------------------------------------------------------------------------------
}
