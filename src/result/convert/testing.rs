//! What the format tests share: fixtures, one call per format, and count tuples.

use super::*;

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/result/", $path)).as_slice()
    };
}

pub(super) fn conftest(input: &[u8]) -> Summary {
    summarize(InputKind::Conftest, input, SarifMode::default()).expect("conftest input")
}

pub(super) fn sarif(input: &[u8], mode: SarifMode) -> Summary {
    summarize(InputKind::Sarif, input, mode).expect("SARIF input")
}

pub(super) fn junit(input: &[u8]) -> Summary {
    summarize(InputKind::Junit, input, SarifMode::default()).expect("JUnit input")
}

pub(super) fn clair(input: &[u8]) -> Summary {
    summarize(InputKind::Clair, input, SarifMode::default()).expect("clair input")
}

pub(super) fn appstudio(input: &[u8]) -> Summary {
    summarize(InputKind::Appstudio, input, SarifMode::default()).expect("appstudio input")
}

pub(super) fn refusal(kind: InputKind, input: &[u8]) -> String {
    summarize(kind, input, SarifMode::default()).expect_err("input must be refused")
}

/// (successes, failures, warnings, skipped)
pub(super) fn counts(summary: &Summary) -> (u64, u64, u64, u64) {
    (
        summary.successes,
        summary.failures,
        summary.warnings,
        summary.skipped,
    )
}

pub(super) fn severities(
    critical: u64,
    high: u64,
    medium: u64,
    low: u64,
    unknown: u64,
) -> SeverityCounts {
    SeverityCounts {
        critical,
        high,
        medium,
        low,
        unknown,
    }
}

pub(super) fn at(epoch: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(epoch).expect("valid epoch")
}
