//! Timestamps as Konflux results carry them: RFC 3339 in UTC (ADR 30) or a 10-digit epoch
//! string (ADR 13, still read by integration-service).

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// How a timestamp is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampFormat {
    /// `2026-01-01T00:00:00+00:00`, seconds precision, as `date -u --iso-8601=seconds` writes it.
    #[default]
    Rfc3339,
    /// `1767225600`, seconds since the epoch.
    Epoch,
}

impl std::str::FromStr for TimestampFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "rfc3339" => Ok(TimestampFormat::Rfc3339),
            "epoch" => Ok(TimestampFormat::Epoch),
            _ => Err(format!(
                "unknown timestamp format {text:?}: expected rfc3339 or epoch"
            )),
        }
    }
}

/// Formats `at` in UTC with the given format.
pub fn format(at: OffsetDateTime, fmt: TimestampFormat) -> String {
    let utc = at.to_offset(UtcOffset::UTC);
    match fmt {
        TimestampFormat::Epoch => utc.unix_timestamp().to_string(),
        TimestampFormat::Rfc3339 => utc
            .format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]+00:00"
            ))
            .expect("a UTC time always formats"),
    }
}

/// Reads a timestamp in either form a TEST_OUTPUT may carry: a 10-digit epoch string, RFC 3339,
/// or RFC 3339 without a zone (read as UTC, as integration-service's pattern allows it).
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if !text.is_empty() && text.len() <= 10 && text.bytes().all(|b| b.is_ascii_digit()) {
        return OffsetDateTime::from_unix_timestamp(text.parse().ok()?).ok();
    }
    // The `time` crate also takes a space for the `T`; integration-service's pattern does not.
    if text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(at);
    }
    let zoned = format!("{text}Z");
    OffsetDateTime::parse(&zoned, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_with_explicit_utc_offset_and_epoch_as_ten_digits() {
        let at = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        assert_eq!(
            format(at, TimestampFormat::Rfc3339),
            "2026-01-01T00:00:00+00:00"
        );
        assert_eq!(format(at, TimestampFormat::Epoch), "1767225600");
    }

    #[test]
    fn converts_other_offsets_to_utc() {
        let at = parse("2026-01-01T02:00:00+02:00").unwrap();
        assert_eq!(
            format(at, TimestampFormat::Rfc3339),
            "2026-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn parses_every_form_a_test_output_may_carry() {
        let want = OffsetDateTime::from_unix_timestamp(1_649_843_611).unwrap();
        assert_eq!(parse("1649843611"), Some(want));
        assert_eq!(parse("2022-04-13T09:53:31Z"), Some(want));
        assert_eq!(parse("2022-04-13T09:53:31+00:00"), Some(want));
        assert_eq!(parse("2022-04-13T09:53:31"), Some(want));
        assert!(parse("2022-04-13T09:53:31.5Z").is_some());
        assert_eq!(parse("2022-04-13 09:53:31Z"), None);
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse(""), None);
    }
}
