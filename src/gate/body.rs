//! The issue a gate opens: its title, its body, and the hidden marker that finds it again.
//!
//! The marker is an HTML comment on a line of its own at the end of the body,
//! `<!-- stepkit-gate v1 key=<key> hash=<hash> -->`. GitHub does not render it; the gate reads it
//! back to find the issue for a request after its status was lost. A re-opened request rewrites
//! the body, and text a person pastes above it may contain an old marker, so the *last* marker
//! in a body is the one that counts.
//!
//! The body never shows anything that looks like a secret: fields with secret-like names, and
//! the `data` / `stringData` of any Kubernetes Secret inside the request, are shown as `[hidden]`.

use serde_json::{Map, Value};

use crate::core::plural::plural;
use crate::core::secret::redact_url_credentials_with;
use crate::gate::request::{parse_path, value_at, Request};

/// The title used when the caller gives none.
pub const DEFAULT_TITLE_TEMPLATE: &str = "Approval: {kind} {namespace}/{name}";
/// The default cap on a body; GitHub refuses bodies over 65 536 characters.
pub const DEFAULT_MAX_BODY_CHARS: usize = 60_000;
/// GitHub's limit on an issue title, in characters.
pub const MAX_TITLE_CHARS: usize = 256;
/// What a hidden value is replaced with.
pub const HIDDEN: &str = "[hidden]";

const MARKER_TAG: &str = "stepkit-gate";
const MARKER_VERSION: &str = "v1";

/// What the marker records: which request (key) and which version of it (hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub key: String,
    pub hash: String,
}

/// `<!-- stepkit-gate v1 key=<key> hash=<hash> -->`, with anything that could end the comment or
/// split the fields (`>`, `<`, `!`, whitespace, `%`, non-ASCII) percent-encoded.
pub fn render_marker(marker: &Marker) -> String {
    format!(
        "<!-- {MARKER_TAG} {MARKER_VERSION} key={} hash={} -->",
        encode_field(&marker.key),
        encode_field(&marker.hash)
    )
}

/// The last well-formed marker in `body`, wherever it is and whatever surrounds it.
pub fn find_marker(body: &str) -> Option<Marker> {
    let mut found = None;
    let mut rest = body;
    while let Some(start) = rest.find("<!--") {
        let after_open = &rest[start + 4..];
        let Some(end) = after_open.find("-->") else {
            break;
        };
        if let Some(marker) = parse_marker(&after_open[..end]) {
            found = Some(marker);
        }
        rest = &after_open[end + 3..];
    }
    found
}

/// The issue title from `template` (the default when blank), with `{kind}`, `{name}`,
/// `{namespace}` and `{key}` filled in. A cluster-scoped request drops `{namespace}/` so the title
/// does not show a stray slash. Values are substituted once (a name containing `{key}` stays as
/// it is), line breaks become spaces, and the title is cut to GitHub's 256 characters.
pub fn render_title(template: &str, request: &Request) -> String {
    let template = if template.trim().is_empty() {
        DEFAULT_TITLE_TEMPLATE
    } else {
        template
    };
    let template = match &request.namespace {
        Some(_) => template.to_string(),
        None => template.replace("{namespace}/", ""),
    };
    let title = fill_placeholders(&template, |name| match name {
        "kind" => Some(request.kind.clone()),
        "name" => Some(request.name.clone()),
        "namespace" => Some(request.namespace.clone().unwrap_or_default()),
        "key" => Some(request.key.clone()),
        _ => None,
    });
    let single_line: String = title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate_chars(single_line.trim(), MAX_TITLE_CHARS)
}

/// The issue body: what is requested, the fields in `show` (dotted paths such as `.spec.size`;
/// `.spec`, or none, for the whole spec) as fenced YAML with secrets hidden, how to decide
/// (`policy_text`), then the marker. At most `max_chars` characters: an over-long request is cut,
/// and the body says so.
pub fn render_body(
    request: &Request,
    show: &[String],
    policy_text: &str,
    max_chars: usize,
) -> String {
    let shown = shown_fields(request, show);
    let content = to_yaml(&shown.value);
    let body = compose_body(request, &shown, &content, None, policy_text);
    let length = body.chars().count();
    if length <= max_chars {
        return body;
    }
    // The notice, its two line breaks, and a line break the fence may add after a mid-line cut.
    let notice_room = truncation_notice(usize::MAX, usize::MAX).chars().count() + 3;
    let content_chars = content.chars().count();
    let budget = content_chars.saturating_sub(length - max_chars + notice_room);
    let cut = cut_at_line(&content, budget);
    let notice = truncation_notice(cut.chars().count(), content_chars);
    let body = compose_body(request, &shown, &cut, Some(&notice), policy_text);
    if body.chars().count() <= max_chars {
        return body;
    }
    // Only a huge policy text gets here; the marker must survive whatever else is cut.
    last_resort_cut(&body, &render_marker(&marker_of(request)), max_chars)
}

fn marker_of(request: &Request) -> Marker {
    Marker {
        key: request.key.clone(),
        hash: request.hash.clone(),
    }
}

/// The fields a body shows, with what was hidden or could not be found.
struct Shown {
    value: Value,
    hidden: usize,
    missing: Vec<String>,
}

/// Projects the spec onto `show` (paths under `.spec`, which may be left off), then hides
/// secrets. A request that is itself a Secret shows nothing of its spec.
fn shown_fields(request: &Request, show: &[String]) -> Shown {
    if request.kind.eq_ignore_ascii_case("secret") {
        return Shown {
            value: Value::String(HIDDEN.to_string()),
            hidden: 1,
            missing: Vec::new(),
        };
    }
    let mut missing = Vec::new();
    let mut projection: Option<Value> = None;
    for path in show.iter().filter(|p| !p.trim().is_empty()) {
        let segments = match parse_path(path) {
            Ok(segments) => spec_relative(segments),
            Err(_) => {
                missing.push(path.trim().to_string());
                continue;
            }
        };
        match value_at(&request.spec, &segments) {
            Some(value) => insert_at(&mut projection, &segments, value.clone()),
            None => missing.push(path.trim().to_string()),
        }
    }
    let all_missing = !missing.is_empty() && projection.is_none();
    let mut value = match projection {
        Some(value) => value,
        None if all_missing => Value::Null,
        None => request.spec.clone(),
    };
    let hidden = hide_secrets(&mut value);
    Shown {
        value,
        hidden,
        missing,
    }
}

/// `.spec.size` and `.size` both name the spec's `size`; `.spec` names the whole spec.
fn spec_relative(mut segments: Vec<String>) -> Vec<String> {
    if segments.first().is_some_and(|s| s == "spec") {
        segments.remove(0);
    }
    segments
}

/// Puts `value` at `segments` inside `target`, creating mappings on the way (array indexes
/// become mapping keys, which YAML shows just as clearly).
fn insert_at(target: &mut Option<Value>, segments: &[String], value: Value) {
    let Some((last, parents)) = segments.split_last() else {
        *target = Some(value);
        return;
    };
    let mut current = target.get_or_insert_with(|| Value::Object(Map::new()));
    for segment in parents {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        let Value::Object(map) = current else { return };
        current = map
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !current.is_object() {
        *current = Value::Object(Map::new());
    }
    if let Value::Object(map) = current {
        map.insert(last.clone(), value);
    }
}

/// Replaces secret-looking values with `[hidden]`, at any depth; returns how many. Besides
/// fields with secret-like names, that is the `value` of an env-style `{name, value}` pair whose
/// name looks secret (`{name: AWS_SECRET_ACCESS_KEY, value: ...}`), and the user information of
/// any URL in a string (`postgres://admin:PW@db` shows as `postgres://[hidden]@db`).
fn hide_secrets(value: &mut Value) -> usize {
    match value {
        Value::String(text) => {
            let shown = redact_url_credentials_with(text, HIDDEN);
            if shown == *text {
                return 0;
            }
            *text = shown;
            1
        }
        Value::Object(map) => {
            let is_secret_object = map
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|kind| kind.eq_ignore_ascii_case("secret"));
            let names_a_secret = map
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(is_secret_like_key);
            let mut hidden = 0;
            for (key, item) in map.iter_mut() {
                let secret_data = is_secret_object && (key == "data" || key == "stringData");
                let secret_pair_value = names_a_secret && key == "value";
                if secret_data
                    || secret_pair_value
                    || is_secret_like_key(key)
                    || is_secret_like_value(item)
                {
                    *item = Value::String(HIDDEN.to_string());
                    hidden += 1;
                } else {
                    hidden += hide_secrets(item);
                }
            }
            hidden
        }
        Value::Array(items) => items
            .iter_mut()
            .map(|item| {
                if is_secret_like_value(item) {
                    *item = Value::String(HIDDEN.to_string());
                    1
                } else {
                    hide_secrets(item)
                }
            })
            .sum(),
        _ => 0,
    }
}

/// Words that make a field name secret-like, matched against the name's words
/// (`privateKey`, `DB_PASSWORD`, `tls.key`, `apiKey`...), case-insensitively. Erring towards
/// hiding: `keyName` is hidden too, `monkey` is not.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "pwd",
    "passphrase",
    "token",
    "tokens",
    "secret",
    "secrets",
    "key",
    "keys",
    "credential",
    "credentials",
    "creds",
    "private",
    "privatekey",
    "apikey",
    "auth",
    "auths",
    "authorization",
    "bearer",
    "cookie",
    "kubeconfig",
    "dockerconfigjson",
    "dockercfg",
    "certificate",
    "pem",
    "p12",
    "pfx",
    "jks",
    "keystore",
    "truststore",
    "dsn",
    "sas",
];

/// Names that only look secret once their words are joined (`connection_string`, `client-secret`).
const SECRET_COMPOUNDS: &[&str] = &["connectionstring", "accesskey", "secretkey", "sessionid"];

/// Whether a field name looks like it holds a secret.
pub fn is_secret_like_key(key: &str) -> bool {
    let words = split_words(key);
    let joined: String = words.concat();
    words
        .iter()
        .any(|word| SECRET_WORDS.contains(&word.as_str()))
        || SECRET_COMPOUNDS
            .iter()
            .any(|compound| joined.contains(compound))
}

/// Values that are secrets whatever their field is called: PEM private keys and tokens with a
/// well-known prefix.
fn is_secret_like_value(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let text = text.trim_start();
    (text.contains("-----BEGIN") && text.contains("PRIVATE KEY"))
        || [
            "ghp_",
            "gho_",
            "ghu_",
            "ghs_",
            "ghr_",
            "github_pat_",
            "glpat-",
            "xoxb-",
            "xoxp-",
        ]
        .iter()
        .any(|prefix| text.starts_with(prefix))
}

/// Splits `privateKey`, `PRIVATE_KEY`, `tls.key`, `APIKey` into lower-case words.
fn split_words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let camel_start = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if camel_start && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn to_yaml(value: &Value) -> String {
    serde_yaml::to_string(value)
        .or_else(|_| serde_json::to_string_pretty(value))
        .unwrap_or_default()
}

/// Assembles the body from its parts; `notice` says the content was cut.
fn compose_body(
    request: &Request,
    shown: &Shown,
    content: &str,
    notice: Option<&str>,
    policy_text: &str,
) -> String {
    let mut body = String::new();
    body.push_str("## Approval requested\n\n");
    body.push_str(&request_summary(request));
    body.push_str("\n### What is requested\n\n");
    body.push_str(&fenced(content, "yaml"));
    if let Some(notice) = notice {
        body.push_str(&format!("\n{notice}\n"));
    }
    if shown.hidden > 0 {
        body.push_str(&format!(
            "\n{} {} hidden because {} like {}; an approval issue never shows secrets.\n",
            shown.hidden,
            plural(shown.hidden, "value is", "values are"),
            plural(shown.hidden, "it looks", "they look"),
            plural(shown.hidden, "a secret", "secrets"),
        ));
    }
    if !shown.missing.is_empty() {
        let list: Vec<String> = shown.missing.iter().map(|p| inline_code(p)).collect();
        body.push_str(&format!("\nNot set in the request: {}.\n", list.join(", ")));
    }
    body.push_str("\n### How to decide\n\n");
    body.push_str(policy_text.trim());
    body.push_str("\n\n");
    body.push_str(&render_marker(&marker_of(request)));
    body.push('\n');
    body
}

/// The lines naming the request.
fn request_summary(request: &Request) -> String {
    let mut lines = vec![
        format!("- **Kind:** {}", inline_code(&request.kind)),
        format!("- **Name:** {}", inline_code(&request.name)),
        format!(
            "- **Namespace:** {}",
            request
                .namespace
                .as_deref()
                .map(inline_code)
                .unwrap_or_else(|| "(cluster-scoped)".to_string())
        ),
    ];
    if let Some(requester) = &request.requester {
        lines.push(format!("- **Requested by:** {}", inline_code(requester)));
    }
    lines.push(format!(
        "- **Request:** {} (hash {})",
        inline_code(&request.key),
        inline_code(&request.hash)
    ));
    lines.join("\n") + "\n"
}

fn truncation_notice(shown: usize, total: usize) -> String {
    format!(
        "**The request is too large to show in full: the first {shown} of its {total} characters are \
         shown above.** Read the rest where the request was made (e.g. `kubectl get -o yaml`)."
    )
}

/// A fenced code block whose fence is a backtick run longer than any inside `content`, so
/// nothing in the content can close it early.
pub fn fenced(content: &str, language: &str) -> String {
    let fence = "`".repeat((longest_backtick_run(content) + 1).max(3));
    let newline = if content.ends_with('\n') || content.is_empty() {
        ""
    } else {
        "\n"
    };
    format!("{fence}{language}\n{content}{newline}{fence}\n")
}

/// An inline code span that survives backticks in `text` (CommonMark: a longer delimiter run,
/// padded with spaces when the text starts or ends with a backtick).
fn inline_code(text: &str) -> String {
    let single_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let ticks = "`".repeat(longest_backtick_run(&single_line) + 1);
    let pad = if single_line.starts_with('`') || single_line.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{single_line}{pad}{ticks}")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// The longest prefix of `text` of at most `max_chars` characters that ends at a line end
/// (or mid-line when a single line is longer than that).
fn cut_at_line(text: &str, max_chars: usize) -> String {
    let prefix = truncate_chars_raw(text, max_chars);
    if prefix.len() == text.len() {
        return prefix.to_string();
    }
    match prefix.rfind('\n') {
        Some(end) => prefix[..=end].to_string(),
        None => prefix.to_string(),
    }
}

fn truncate_chars_raw(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// `text` cut to `max_chars` characters, ending in `…` when cut.
fn truncate_chars(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut cut = truncate_chars_raw(text, max_chars.saturating_sub(1)).to_string();
    cut.push('…');
    cut
}

fn last_resort_cut(body: &str, marker: &str, max_chars: usize) -> String {
    let tail = format!("\n\n…\n\n{marker}\n");
    let room = max_chars.saturating_sub(tail.chars().count());
    format!("{}{tail}", truncate_chars_raw(body, room))
}

/// Replaces `{name}` with `value(name)`; unknown placeholders stay as written.
fn fill_placeholders(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after
            .find('}')
            .and_then(|close| Some((close, value(&after[..close])?)))
        {
            Some((close, filled)) => {
                out.push_str(&filled);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Percent-encodes what could end the comment (`>`), split the fields (whitespace) or be
/// misread (`%`, `<`, `!`, controls, non-ASCII).
fn encode_field(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let safe = byte.is_ascii_graphic() && !matches!(byte, b'%' | b'<' | b'>' | b'!' | b'=');
        if safe {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn decode_field(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Reads the inside of one HTML comment as a marker: our tag, version 1, `key=` and `hash=` in
/// any order; other fields (added by later versions) are ignored.
fn parse_marker(comment: &str) -> Option<Marker> {
    let mut words = comment.split_whitespace();
    if words.next()? != MARKER_TAG || words.next()? != MARKER_VERSION {
        return None;
    }
    let (mut key, mut hash) = (None, None);
    for word in words {
        if let Some(value) = word.strip_prefix("key=") {
            key = decode_field(value);
        } else if let Some(value) = word.strip_prefix("hash=") {
            hash = decode_field(value);
        }
    }
    Some(Marker {
        key: key.filter(|k| !k.is_empty())?,
        hash: hash.filter(|h| !h.is_empty())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::request::{request_from_kratix_object, PreviousApproval};
    use serde_json::json;

    const OBJECT: &str = include_str!("../../tests/fixtures/gate/object.yaml");
    const POLICY: &str = "Close this issue as completed to approve, or as not planned to reject.";

    fn request(spec: Value) -> Request {
        Request {
            key: "postgresql/team-a/acid/uid-1".to_string(),
            hash: "sha256:abc".to_string(),
            kind: "postgresql".to_string(),
            name: "acid".to_string(),
            namespace: Some("team-a".to_string()),
            uid: Some("uid-1".to_string()),
            spec,
            requester: Some("alice".to_string()),
            previous: PreviousApproval::default(),
        }
    }

    fn body(spec: Value) -> String {
        render_body(&request(spec), &[], POLICY, DEFAULT_MAX_BODY_CHARS)
    }

    #[test]
    fn the_marker_round_trips_through_a_body() {
        let marker = Marker {
            key: "postgresql/team-a/acid/6f1c2a9e".to_string(),
            hash: "sha256:00ff".to_string(),
        };
        let text = render_marker(&marker);
        assert_eq!(
            text,
            "<!-- stepkit-gate v1 key=postgresql/team-a/acid/6f1c2a9e hash=sha256:00ff -->"
        );
        assert_eq!(
            find_marker(&format!("Some text\r\n\r\n{text}\r\nmore")),
            Some(marker)
        );
    }

    #[test]
    fn keys_that_could_end_the_comment_are_encoded_and_still_round_trip() {
        for key in [
            "a-->b",
            "with space",
            "--!>",
            "100%",
            "ünï/cødé",
            "k=v",
            "<!--x",
        ] {
            let marker = Marker {
                key: key.to_string(),
                hash: "sha256:1".to_string(),
            };
            let text = render_marker(&marker);
            let inside = &text[4..text.len() - 3];
            assert!(!inside.contains("-->") && !inside.contains('>'), "{text}");
            assert_eq!(text.split_whitespace().count(), 6, "{text}");
            assert_eq!(find_marker(&text), Some(marker), "{key}");
        }
    }

    #[test]
    fn the_last_marker_wins_and_foreign_comments_are_ignored() {
        let old = render_marker(&Marker {
            key: "k".into(),
            hash: "sha256:old".into(),
        });
        let new = render_marker(&Marker {
            key: "k".into(),
            hash: "sha256:new".into(),
        });
        let body = format!(
            "{old}\n<!-- a note -->\n<!-- stepkit-gate v2 key=k hash=x -->\n{new}\n<!-- other -->"
        );
        assert_eq!(
            find_marker(&body).map(|m| m.hash),
            Some("sha256:new".to_string())
        );
        assert_eq!(
            find_marker("no marker here <!-- stepkit-gate v1 key=k -->"),
            None
        );
        assert_eq!(
            find_marker("<!-- stepkit-gate v1 key=k hash=h"),
            None,
            "unterminated"
        );
        assert_eq!(
            find_marker("<!-- stepkit-gate v1 key=%zz hash=h -->"),
            None,
            "bad encoding"
        );
        assert_eq!(
            find_marker("<!-- stepkit-gate v1 key=%+1 hash=h -->"),
            None,
            "a sign is not a hex digit"
        );
    }

    #[test]
    fn the_marker_is_an_html_comment_block_that_markdown_does_not_render() {
        let text = body(json!({"size": 1}));
        let marker = render_marker(&marker_of(&request(json!({}))));
        // An HTML block (CommonMark type 2): a line starting with `<!--`, after a blank line,
        // ending at the first `-->`, which is the end of the marker.
        let line = format!("\n\n{marker}\n");
        assert!(text.ends_with(&line), "{text}");
        assert!(marker.starts_with("<!--") && marker.ends_with("-->"));
        assert_eq!(marker.matches("-->").count(), 1);
        assert_eq!(find_marker(&text), Some(marker_of(&request(json!({})))));
    }

    #[test]
    fn a_marker_inside_the_content_does_not_beat_ours() {
        let spec = json!({"note": "<!-- stepkit-gate v1 key=evil hash=sha256:old -->"});
        let text = body(spec);
        assert_eq!(
            find_marker(&text).map(|m| m.key),
            Some("postgresql/team-a/acid/uid-1".into())
        );
    }

    #[test]
    fn the_body_names_the_request_shows_the_spec_and_how_to_decide() {
        let text = body(json!({"env": "dev", "instances": 2}));
        for expected in [
            "- **Kind:** `postgresql`",
            "- **Name:** `acid`",
            "- **Namespace:** `team-a`",
            "- **Requested by:** `alice`",
            "```yaml\nenv: dev\ninstances: 2\n```\n",
            "### How to decide\n\nClose this issue as completed",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(text.find("What is requested") < text.find("How to decide"));
    }

    #[test]
    fn fences_are_longer_than_any_backtick_run_in_the_content() {
        let text = body(json!({"readme": "```\ncode\n```", "more": "````four````"}));
        let fence_line = text.lines().find(|l| l.starts_with("`````")).unwrap();
        assert_eq!(fence_line, "`````yaml");
        assert!(text.contains("\n`````\n"));
        assert_eq!(fenced("plain", "yaml"), "```yaml\nplain\n```\n");
        assert_eq!(fenced("a ``` b", ""), "````\na ``` b\n````\n");
        assert_eq!(inline_code("a`b"), "``a`b``");
        assert_eq!(inline_code("`x"), "`` `x ``");
    }

    #[test]
    fn show_paths_project_the_spec_and_name_what_is_missing() {
        let spec =
            json!({"env": "dev", "instances": 2, "db": {"version": 16, "extensions": ["pg"]}});
        let show = [
            ".spec.instances".to_string(),
            ".db.version".to_string(),
            ".spec.nope".to_string(),
        ];
        let text = render_body(
            &request(spec.clone()),
            &show,
            POLICY,
            DEFAULT_MAX_BODY_CHARS,
        );
        assert!(
            text.contains("```yaml\ndb:\n  version: 16\ninstances: 2\n```"),
            "{text}"
        );
        assert!(!text.contains("env: dev"));
        assert!(
            text.contains("Not set in the request: `.spec.nope`."),
            "{text}"
        );
        let whole = render_body(
            &request(spec),
            &[".spec".to_string()],
            POLICY,
            DEFAULT_MAX_BODY_CHARS,
        );
        assert!(
            whole.contains("env: dev") && whole.contains("- pg"),
            "{whole}"
        );
    }

    #[test]
    fn secret_like_fields_are_hidden_at_any_depth() {
        let spec = json!({
            "password": "hunter2",
            "db": {"users": [{"name": "app", "DB_PASSWORD": "p1", "apiKey": "k1"}]},
            "tls": {"tls.key": "PEMDATA", "crt": "public"},
            "PrivateKey": "pk", "accessToken": "t", "clientSecret": "s", "connection_string": "cs",
            "monkey": "banana", "keyboardLayout": "us",
            "note": "-----BEGIN RSA PRIVATE KEY-----\nMII...",
            "list": ["ghp_abcdefghijklmnop", "fine"]
        });
        let text = body(spec);
        for secret in [
            "hunter2", "p1", "k1", "PEMDATA", ": pk\n", "MII", "ghp_abc", ": t\n", ": s\n",
            ": cs\n",
        ] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
        for kept in [
            "name: app",
            "crt: public",
            "monkey: banana",
            "keyboardLayout: us",
            "- fine",
        ] {
            assert!(text.contains(kept), "{kept} missing:\n{text}");
        }
        assert!(text.contains("password: '[hidden]'"), "{text}");
        assert!(
            text.contains("10 values are hidden because they look like secrets"),
            "{text}"
        );
    }

    #[test]
    fn credentials_in_urls_and_secret_env_values_are_hidden() {
        let spec = json!({
            "repo": "https://user:CANARY1@git.example/org/repo.git",
            "note": "connect with postgres://admin:CANARY2@db:5432/app please",
            "env": [
                {"name": "AWS_SECRET_ACCESS_KEY", "value": "CANARY3"},
                {"name": "REGION", "value": "eu-west-1"},
                {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "t"}}}
            ],
            "links": ["http://u:CANARY4@h/x", "https://public.example/doc"]
        });
        let text = body(spec);
        for canary in [
            "CANARY1", "CANARY2", "CANARY3", "CANARY4", "user:", "admin:",
        ] {
            assert!(!text.contains(canary), "{canary} leaked:\n{text}");
        }
        for kept in [
            "https://[hidden]@git.example/org/repo.git",
            "postgres://[hidden]@db:5432/app",
            "value: eu-west-1",
            "name: AWS_SECRET_ACCESS_KEY",
            "https://public.example/doc",
        ] {
            assert!(text.contains(kept), "{kept} missing:\n{text}");
        }
    }

    #[test]
    fn the_data_of_an_embedded_secret_is_hidden_and_a_secret_request_shows_nothing() {
        let spec = json!({"extraObjects": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"user": "YWRtaW4="}, "stringData": {"config": "admin"}}]});
        let text = body(spec);
        assert!(
            !text.contains("YWRtaW4=") && !text.contains("config: admin"),
            "{text}"
        );
        assert!(text.contains("name: s"));
        let mut secret = request(json!({"anything": "visible?"}));
        secret.kind = "Secret".to_string();
        let text = render_body(&secret, &[], POLICY, DEFAULT_MAX_BODY_CHARS);
        assert!(
            !text.contains("visible?") && text.contains(HIDDEN),
            "{text}"
        );
    }

    #[test]
    fn the_fixture_body_hides_the_s3_credentials() {
        let request = request_from_kratix_object(
            OBJECT,
            Some("postgresql"),
            &[".spec".into()],
            Some("stepkit.dev/requester"),
        )
        .unwrap();
        let text = render_body(&request, &[], POLICY, DEFAULT_MAX_BODY_CHARS);
        assert!(
            !text.contains("AKIAIOSFODNN7EXAMPLE") && !text.contains("wJalrXUtnFEMI"),
            "{text}"
        );
        assert!(text.contains("bucket: acid-backups"), "{text}");
    }

    #[test]
    fn an_over_long_request_is_cut_and_says_so_and_keeps_its_marker() {
        let lines: Vec<String> = (0..5000)
            .map(|i| format!("line {i:05} of a long value"))
            .collect();
        let spec = json!({"script": lines.join("\n")});
        let max = 20_000;
        let text = render_body(&request(spec), &[], POLICY, max);
        assert!(
            text.chars().count() <= max,
            "{} chars",
            text.chars().count()
        );
        assert!(text.contains("too large to show in full"), "{text}");
        assert!(text.contains("### How to decide"));
        assert!(find_marker(&text).is_some());
        let fences = text.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(fences, 2, "the cut content is still fenced");
        let small = body(json!({"a": 1}));
        assert!(!small.contains("too large"));
    }

    #[test]
    fn even_a_huge_policy_text_keeps_the_body_under_the_cap_with_its_marker() {
        let policy = "x".repeat(10_000);
        let text = render_body(&request(json!({"a": 1})), &[], &policy, 2_000);
        assert!(text.chars().count() <= 2_000);
        assert!(find_marker(&text).is_some());
    }

    #[test]
    fn titles_fill_placeholders_once_and_drop_the_slash_when_cluster_scoped() {
        let mut req = request(json!({}));
        assert_eq!(render_title("", &req), "Approval: postgresql team-a/acid");
        assert_eq!(
            render_title("{kind}: {key} {unknown} {", &req),
            "postgresql: postgresql/team-a/acid/uid-1 {unknown} {"
        );
        req.namespace = None;
        req.name = "a{key}\nb".to_string();
        assert_eq!(
            render_title(DEFAULT_TITLE_TEMPLATE, &req),
            "Approval: postgresql a{key} b"
        );
        req.name = "n".repeat(400);
        let long = render_title(DEFAULT_TITLE_TEMPLATE, &req);
        assert_eq!(long.chars().count(), MAX_TITLE_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn secret_like_names_are_matched_by_word() {
        for name in [
            "password",
            "dbPassword",
            "PRIVATE_KEY",
            "privateKey",
            "APIKey",
            "tls.key",
            "x-auth-token",
            "sshKeys",
            "credentials",
            "AccessKeyId",
            "kubeconfig",
        ] {
            assert!(is_secret_like_key(name), "{name}");
        }
        for name in [
            "monkey",
            "keyboard",
            "tokenizer",
            "author",
            "secretary",
            "name",
            "passage",
        ] {
            assert!(!is_secret_like_key(name), "{name}");
        }
    }
}
