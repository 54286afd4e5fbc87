//! GitHub's JSON, as much of it as we read, and the URLs we parse: the API base, issue links
//! and `Link` headers.

use reqwest::Url;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use super::{
    level_from_name, Comment, Issue, Permission, PermissionLevel, RepoName, StateReason, User,
    DEFAULT_API_URL,
};
use crate::core::error::Error;
use crate::core::secret::redact_url_credentials;

#[derive(Deserialize)]
pub(super) struct WireUser {
    login: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

impl From<WireUser> for User {
    fn from(wire: WireUser) -> User {
        let is_bot = wire.kind.as_deref() == Some("Bot") || wire.login.ends_with("[bot]");
        User {
            login: wire.login,
            is_bot,
        }
    }
}

/// Issue labels come as objects; some payloads carry plain names.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum WireLabel {
    Name(String),
    Object { name: String },
}

#[derive(Deserialize)]
pub(super) struct WireIssue {
    number: u64,
    html_url: String,
    state: String,
    #[serde(default)]
    state_reason: Option<StateReason>,
    #[serde(default)]
    closed_by: Option<WireUser>,
    #[serde(default)]
    user: Option<WireUser>,
    #[serde(default)]
    labels: Vec<WireLabel>,
    #[serde(default)]
    body: Option<String>,
    #[serde(deserialize_with = "timestamp")]
    created_at: OffsetDateTime,
    #[serde(default, deserialize_with = "optional_timestamp")]
    closed_at: Option<OffsetDateTime>,
    #[serde(default)]
    pull_request: Option<IgnoredAny>,
}

impl From<WireIssue> for Issue {
    fn from(wire: WireIssue) -> Issue {
        Issue {
            number: wire.number,
            html_url: wire.html_url,
            open: wire.state == "open",
            state_reason: wire.state_reason,
            closed_by: wire.closed_by.map(User::from),
            user: wire.user.map(User::from).unwrap_or_else(User::ghost),
            labels: wire
                .labels
                .into_iter()
                .map(|label| match label {
                    WireLabel::Name(name) | WireLabel::Object { name } => name,
                })
                .collect(),
            body: wire.body,
            created_at: wire.created_at,
            closed_at: wire.closed_at,
            is_pull_request: wire.pull_request.is_some(),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct WireComment {
    id: u64,
    #[serde(default)]
    user: Option<WireUser>,
    #[serde(default)]
    body: Option<String>,
    #[serde(deserialize_with = "timestamp")]
    created_at: OffsetDateTime,
}

impl From<WireComment> for Comment {
    fn from(wire: WireComment) -> Comment {
        Comment {
            id: wire.id,
            user: wire.user.map(User::from).unwrap_or_else(User::ghost),
            body: wire.body.unwrap_or_default(),
            created_at: wire.created_at,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct WireEvent {
    pub event: String,
    #[serde(default)]
    pub actor: Option<WireUser>,
}

#[derive(Deserialize)]
pub(super) struct WirePermission {
    pub permission: String,
    #[serde(default)]
    pub role_name: Option<String>,
}

impl From<WirePermission> for Permission {
    fn from(wire: WirePermission) -> Permission {
        let legacy = level_from_name(&wire.permission).unwrap_or(PermissionLevel::None);
        let role_name = wire.role_name.unwrap_or_else(|| wire.permission.clone());
        // A custom role's name says nothing we can rank; its legacy permission does.
        let level = level_from_name(&role_name).unwrap_or(legacy);
        Permission { level, role_name }
    }
}

#[derive(Deserialize)]
pub(super) struct WireMembership {
    pub state: String,
}

pub(super) fn timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<OffsetDateTime, D::Error> {
    let text = String::deserialize(deserializer)?;
    OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
}

pub(super) fn optional_timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<OffsetDateTime>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => OffsetDateTime::parse(&text, &Rfc3339)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// The API base URL: http(s), a host, no credentials, query or fragment.
pub fn parse_api_url(text: &str) -> anyhow::Result<Url> {
    // The message shows the URL without any password in it.
    let shown = redact_url_credentials(text);
    let invalid = |why: &str| {
        anyhow::Error::new(Error::usage(format!(
            "invalid GitHub API URL {shown:?}: {why} (expected {DEFAULT_API_URL} or https://HOST/api/v3)"
        )))
    };
    let url = Url::parse(text.trim()).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be https or http"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("there is no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials do not belong in the URL; pass a token",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment"));
    }
    Ok(url)
}

/// `--issue`: an issue number in the gate's repository, or an issue's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueRef {
    Number(u64),
    /// The URL as given, with the repository and number read from it.
    Link {
        url: String,
        repo: RepoName,
        number: u64,
    },
}

impl IssueRef {
    /// The issue's URL, when it was given as one.
    pub fn link(&self) -> Option<&str> {
        match self {
            IssueRef::Number(_) => None,
            IssueRef::Link { url, .. } => Some(url),
        }
    }
}

impl std::str::FromStr for IssueRef {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<IssueRef> {
        let text = text.trim();
        if let Ok(number) = text.parse::<u64>() {
            return Ok(IssueRef::Number(number));
        }
        let (repo, number) = parse_issue_url(text).map_err(|_| {
            Error::usage(format!(
                "--issue {text:?}: expected an issue number or https://github.com/OWNER/NAME/issues/NUMBER"
            ))
        })?;
        Ok(IssueRef::Link {
            url: text.to_owned(),
            repo,
            number,
        })
    }
}

/// `(repo, number)` from `https://HOST/OWNER/NAME/issues/N` (or an API URL
/// `.../repos/OWNER/NAME/issues/N`), with any fragment or trailing slash ignored.
pub fn parse_issue_url(text: &str) -> anyhow::Result<(RepoName, u64)> {
    let invalid = || {
        anyhow::Error::new(Error::usage(format!(
            "invalid issue URL {text:?}: expected https://github.com/OWNER/NAME/issues/NUMBER"
        )))
    };
    let url = Url::parse(text.trim()).map_err(|_| invalid())?;
    let segments: Vec<&str> = url
        .path_segments()
        .ok_or_else(invalid)?
        .filter(|segment| !segment.is_empty())
        .collect();
    let [.., owner, name, "issues", number] = segments.as_slice() else {
        return Err(invalid());
    };
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let repo: RepoName = format!("{owner}/{name}").parse().map_err(|_| invalid())?;
    Ok((repo, number))
}

/// The `rel="next"` target of one `Link` header value, if it has one. Targets are read between
/// `<` and `>`, so commas inside them do not split entries.
pub(super) fn next_link(header: &str) -> Option<&str> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after_open = &rest[open + 1..];
        let close = after_open.find('>')?;
        let target = &after_open[..close];
        let params_and_more = &after_open[close + 1..];
        let params = &params_and_more[..params_and_more.find('<').unwrap_or(params_and_more.len())];
        let is_next = params.split(';').any(|param| {
            let Some((key, value)) = param.split_once('=') else {
                return false;
            };
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.trim());
        }
        rest = params_and_more;
    }
    None
}

/// `2026-01-01T00:00:00Z`, as GitHub writes and reads timestamps.
pub(super) fn iso8601(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// A login as a path segment: GitHub logins are letters, digits and dashes (apps add `[bot]`).
pub(super) fn checked_login(login: &str) -> anyhow::Result<&str> {
    let login = login.trim().trim_start_matches('@');
    if login.is_empty() || login.contains('/') || login.starts_with('.') {
        return Err(Error::usage(format!("invalid GitHub login {login:?}")).into());
    }
    Ok(login)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::exit_code;
    use serde_json::json;
    #[test]
    fn api_urls_must_be_http_with_a_host_and_nothing_secret() {
        assert!(parse_api_url("https://api.github.com").is_ok());
        assert_eq!(
            parse_api_url("https://ghe.example.com/api/v3")
                .unwrap()
                .path(),
            "/api/v3"
        );
        for bad in [
            "api.github.com",
            "ftp://x/api",
            "https://user:pw@ghe.example/api/v3",
            "https://x/api?token=1",
        ] {
            let error = parse_api_url(bad).unwrap_err();
            assert_eq!(exit_code(&error), 2, "{bad}");
            assert!(!format!("{error}").contains("pw@"), "{error}");
        }
    }

    #[test]
    fn issue_urls_give_repo_and_number() {
        let (repo, number) = parse_issue_url("https://github.com/o/r/issues/42").unwrap();
        assert_eq!((repo.to_string(), number), ("o/r".to_owned(), 42));
        let (repo, number) =
            parse_issue_url("https://ghe.example/o/r/issues/7/#issuecomment-1").unwrap();
        assert_eq!((repo.to_string(), number), ("o/r".to_owned(), 7));
        let (repo, number) =
            parse_issue_url("https://ghe.example/api/v3/repos/o/r/issues/9").unwrap();
        assert_eq!((repo.to_string(), number), ("o/r".to_owned(), 9));
        for bad in [
            "https://github.com/o/r/pull/4",
            "https://github.com/o/r/issues/x",
            "not a url",
            "https://github.com/issues/4",
        ] {
            assert!(parse_issue_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn next_links_are_found_among_others_and_commas_inside_targets_do_not_split() {
        let header = r#"<https://api.github.com/repositories/1/issues?labels=a,b&page=1>; rel="prev", <https://api.github.com/repositories/1/issues?labels=a,b&page=3>; rel="next", <https://api.github.com/repositories/1/issues?page=9>; rel="last""#;
        assert_eq!(
            next_link(header),
            Some("https://api.github.com/repositories/1/issues?labels=a,b&page=3")
        );
        assert_eq!(next_link(r#"<https://x/a?page=1>; rel="first""#), None);
        assert_eq!(
            next_link(r#"<https://x/a?page=2>; rel=next"#),
            Some("https://x/a?page=2")
        );
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("<broken"), None);
    }

    #[test]
    fn issues_read_labels_users_and_pull_requests() {
        let issue: WireIssue = serde_json::from_value(json!({
            "number": 3,
            "html_url": "https://github.com/o/r/issues/3",
            "state": "closed",
            "state_reason": "something_new",
            "closed_by": {"login": "deploy-bot[bot]", "type": "Bot"},
            "user": null,
            "labels": [{"name": "gate", "color": "ededed"}, "plain"],
            "body": null,
            "created_at": "2026-01-01T00:00:00Z",
            "closed_at": "2026-01-02T00:00:00Z",
            "pull_request": {"url": "https://api.github.com/repos/o/r/pulls/3"},
            "unknown_field": {"ignored": true}
        }))
        .unwrap();
        let issue = Issue::from(issue);
        assert!(!issue.open);
        assert_eq!(
            issue.state_reason,
            Some(StateReason::Other("something_new".into()))
        );
        assert_eq!(
            issue.closed_by,
            Some(User {
                login: "deploy-bot[bot]".into(),
                is_bot: true
            })
        );
        assert_eq!(issue.user.login, "ghost");
        assert_eq!(issue.labels, vec!["gate", "plain"]);
        assert!(issue.is_pull_request);
        assert_eq!(issue.closed_at.unwrap().unix_timestamp(), 1_767_312_000);
    }

    #[test]
    fn timestamps_are_written_the_way_github_writes_them() {
        let at = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        assert_eq!(iso8601(at), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn logins_are_checked_before_they_become_path_segments() {
        assert_eq!(checked_login("@octocat").unwrap(), "octocat");
        assert_eq!(checked_login("app[bot]").unwrap(), "app[bot]");
        assert!(checked_login("").is_err());
        assert!(checked_login("../../orgs").is_err());
    }
}
