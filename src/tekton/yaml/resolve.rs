//! Typing of scalars as go-yaml v2 does it (sigs.k8s.io/yaml, so `kubectl apply` and the API
//! server): plain `yes`, `on`, `y` are booleans; `0777` is octal and `0x1F` hex; underscores in
//! numbers are dropped; quoted scalars and `!!str` are always strings. Timestamps stay strings,
//! as they reach JSON as strings anyway.

use serde_json::Value as Json;

use super::ScalarStyle;

pub(super) fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn boolean(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

/// The JSON value of a scalar.
pub(super) fn scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Json {
    let is_str_tag = tag.is_some_and(|t| t.ends_with(":str") || t == "!!str");
    if style != ScalarStyle::Plain || is_str_tag {
        return Json::String(text.to_string());
    }
    if is_null(text) {
        return Json::Null;
    }
    if let Some(b) = boolean(text) {
        return Json::Bool(b);
    }
    match text.as_bytes()[0] {
        b'+' | b'-' | b'0'..=b'9' => number(text),
        b'.' => float(text),
        _ => None,
    }
    .unwrap_or_else(|| Json::String(text.to_string()))
}

/// Go's `strconv.ParseInt(s, 0, 64)` after go-yaml drops underscores, then `ParseUint`, then
/// the YAML float syntax, then `0b` binary.
fn number(text: &str) -> Option<Json> {
    let plain: String = text.chars().filter(|c| *c != '_').collect();
    let (negative, digits) = match plain.as_bytes().first() {
        Some(b'-') => (true, &plain[1..]),
        Some(b'+') => (false, &plain[1..]),
        _ => (false, plain.as_str()),
    };
    let (radix, body) = if let Some(rest) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        if let Ok(magnitude) = u64::from_str_radix(body, radix) {
            if negative {
                if magnitude <= i64::MAX as u64 + 1 {
                    return Some(Json::from((magnitude as i128).wrapping_neg() as i64));
                }
            } else if let Ok(small) = i64::try_from(magnitude) {
                return Some(Json::from(small));
            } else {
                return Some(Json::from(magnitude));
            }
        }
    }
    if is_yaml_float(&plain) {
        return float(&plain);
    }
    None
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => digits(fraction),
        Some((whole, fraction)) => digits(whole) && (fraction.is_empty() || digits(fraction)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

fn float(text: &str) -> Option<Json> {
    // Go's ParseFloat also takes "inf" and "nan", which JSON cannot carry: those stay strings.
    if !is_yaml_float(text) {
        return None;
    }
    let f: f64 = text.parse().ok()?;
    serde_json::Number::from_f64(f).map(Json::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plain(text: &str) -> Json {
        scalar(text, ScalarStyle::Plain, None)
    }

    #[test]
    fn yaml_1_1_booleans_and_nulls() {
        for t in ["yes", "Yes", "on", "ON", "y", "true", "True"] {
            assert_eq!(plain(t), json!(true), "{t}");
        }
        for t in ["no", "off", "n", "N", "false"] {
            assert_eq!(plain(t), json!(false), "{t}");
        }
        for t in ["", "~", "null", "NULL"] {
            assert_eq!(plain(t), Json::Null, "{t}");
        }
        assert_eq!(plain("yess"), json!("yess"));
        assert_eq!(scalar("yes", ScalarStyle::DoubleQuoted, None), json!("yes"));
        assert_eq!(
            scalar("5", ScalarStyle::Plain, Some("tag:yaml.org,2002:str")),
            json!("5")
        );
    }

    #[test]
    fn numbers_as_go_parses_them() {
        assert_eq!(plain("5"), json!(5));
        assert_eq!(plain("-5"), json!(-5));
        assert_eq!(plain("+5"), json!(5));
        assert_eq!(plain("0777"), json!(511));
        assert_eq!(plain("0o17"), json!(15));
        assert_eq!(plain("0x1F"), json!(31));
        assert_eq!(plain("0b101"), json!(5));
        assert_eq!(plain("1_000"), json!(1000));
        assert_eq!(
            plain("18446744073709551615"),
            json!(18446744073709551615u64)
        );
        assert_eq!(plain("-9223372036854775808"), json!(i64::MIN));
        assert_eq!(plain("1.5"), json!(1.5));
        assert_eq!(plain(".5"), json!(0.5));
        assert_eq!(plain("1e3"), json!(1000.0));
        assert_eq!(plain("08"), json!(8.0));
        assert_eq!(plain("0.1.0"), json!("0.1.0"));
        assert_eq!(plain("1.2.3-rc"), json!("1.2.3-rc"));
        assert_eq!(plain("5s"), json!("5s"));
        assert_eq!(plain("-"), json!("-"));
        assert_eq!(plain(".inf"), json!(".inf"));
        assert_eq!(plain("1."), json!(1.0));
        assert_eq!(plain("2001-12-14"), json!("2001-12-14"));
    }
}
