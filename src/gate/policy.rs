//! Who may decide a gate, and what an issue's state and comments say, as pure functions.
//!
//! The caller gathers the facts from GitHub (who closed the issue and why, the comments, each
//! candidate's permission and team membership) and asks here: is this person allowed to decide
//! ([`authorize`]), and what did the issue decide ([`close_verdict`], [`tally_comments`])?
//! The sign-off scripts let anyone who could close the issue approve it, Triage role and the
//! requester included; here a decision needs write access (by default), a listed approver when
//! there is a list, a human, and someone other than the requester.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::core::plural::plural;

/// Words that approve when they open a comment.
pub const DEFAULT_APPROVE_WORDS: &[&str] = &["/approve", "approve", "approved", "lgtm"];
/// Words that reject when they open a comment.
pub const DEFAULT_REJECT_WORDS: &[&str] = &["/reject", "reject", "denied", "deny"];

/// How a decision is made on the issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApproveBy {
    /// Closing the issue: as completed approves, as not planned (or duplicate) rejects.
    Close,
    /// Comments starting with an approve or reject word.
    Comments,
    /// Either of the above.
    Either,
}

impl ApproveBy {
    fn counts_close(self) -> bool {
        matches!(self, ApproveBy::Close | ApproveBy::Either)
    }

    fn counts_comments(self) -> bool {
        matches!(self, ApproveBy::Comments | ApproveBy::Either)
    }
}

impl FromStr for ApproveBy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "close" => Ok(ApproveBy::Close),
            "comments" | "comment" => Ok(ApproveBy::Comments),
            "either" => Ok(ApproveBy::Either),
            _ => Err(format!(
                "unknown --approve-by {text:?}: expected close, comments or either"
            )),
        }
    }
}

/// A person's access to the repository, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PermissionLevel {
    None,
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

impl PermissionLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionLevel::None => "none",
            PermissionLevel::Read => "read",
            PermissionLevel::Triage => "triage",
            PermissionLevel::Write => "write",
            PermissionLevel::Maintain => "maintain",
            PermissionLevel::Admin => "admin",
        }
    }
}

impl fmt::Display for PermissionLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads GitHub's role names (`role_name`: read, triage, write, maintain, admin) and the legacy
/// names (`permission`, team APIs: pull, push). A custom repository role is an error: the
/// caller then falls back to the legacy `permission`, which maps every role to a base one.
impl FromStr for PermissionLevel {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" | "" => Ok(PermissionLevel::None),
            "read" | "pull" => Ok(PermissionLevel::Read),
            "triage" => Ok(PermissionLevel::Triage),
            "write" | "push" => Ok(PermissionLevel::Write),
            "maintain" => Ok(PermissionLevel::Maintain),
            "admin" => Ok(PermissionLevel::Admin),
            _ => Err(format!(
                "unknown permission {text:?}: expected read, triage, write, maintain or admin"
            )),
        }
    }
}

/// Someone allowed to decide when `--approvers` is given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Approver {
    User(String),
    Team { org: String, slug: String },
}

impl Approver {
    /// Whether `login` is this user (GitHub logins are case-insensitive). Teams need the
    /// caller's membership lookup.
    pub fn is_user(&self, login: &str) -> bool {
        matches!(self, Approver::User(user) if same_login(user, login))
    }
}

impl fmt::Display for Approver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Approver::User(login) => f.write_str(login),
            Approver::Team { org, slug } => write!(f, "@{org}/{slug}"),
        }
    }
}

/// `alice`, `@alice`, `team:org/slug`, `@org/slug` or `org/slug`. A team's slug is lower-cased
/// with `.` turned into `-`, as GitHub derives slugs from team names.
impl FromStr for Approver {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let spec = trimmed
            .strip_prefix("team:")
            .or_else(|| trimmed.strip_prefix('@'))
            .unwrap_or(trimmed);
        let invalid = |why: &str| {
            format!(
                "invalid approver {text:?}: {why} (expected a login such as alice, or a team such as @org/team or team:org/team)"
            )
        };
        match spec.split_once('/') {
            Some((org, slug)) => {
                let slug = slug.to_ascii_lowercase().replace('.', "-");
                if !is_github_name(org) {
                    return Err(invalid("the organization is not a GitHub name"));
                }
                if slug.is_empty()
                    || !slug
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(invalid("the team slug is not a GitHub team slug"));
                }
                Ok(Approver::Team {
                    org: org.to_string(),
                    slug,
                })
            }
            None if trimmed.starts_with("team:") => Err(invalid("a team needs org/slug")),
            None if is_github_name(spec) || is_bot_login(spec) => {
                Ok(Approver::User(spec.to_string()))
            }
            None => Err(invalid("not a GitHub login")),
        }
    }
}

/// Parses a comma- or whitespace-separated list of approvers (`--approvers`), dropping
/// duplicates.
pub fn parse_approvers(list: &str) -> Result<Vec<Approver>, String> {
    let mut approvers: Vec<Approver> = Vec::new();
    for item in list
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|i| !i.is_empty())
    {
        let approver: Approver = item.parse()?;
        let duplicate = approvers.iter().any(|known| match (known, &approver) {
            (Approver::User(a), Approver::User(b)) => same_login(a, b),
            (a, b) => a == b,
        });
        if !duplicate {
            approvers.push(approver);
        }
    }
    Ok(approvers)
}

/// GitHub user and organization names: ASCII letters, digits and single inner hyphens.
fn is_github_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 39
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn is_bot_login(login: &str) -> bool {
    login
        .strip_suffix("[bot]")
        .is_some_and(|app| !app.is_empty())
}

fn same_login(a: &str, b: &str) -> bool {
    a.trim_start_matches('@')
        .eq_ignore_ascii_case(b.trim_start_matches('@'))
}

/// Everything that decides who may approve or reject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub approve_by: ApproveBy,
    pub min_permission: PermissionLevel,
    /// Empty: anyone with `min_permission`.
    pub approvers: Vec<Approver>,
    pub allow_self_approval: bool,
    /// Distinct authorized approvers needed in comments (at least 1).
    pub min_approvals: u32,
    pub approve_words: Vec<String>,
    pub reject_words: Vec<String>,
    /// Whether an issue closed with no `state_reason` (old GHES) counts as completed.
    pub accept_null_reason: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            approve_by: ApproveBy::Close,
            min_permission: PermissionLevel::Write,
            approvers: Vec::new(),
            allow_self_approval: false,
            min_approvals: 1,
            approve_words: DEFAULT_APPROVE_WORDS
                .iter()
                .map(|w| w.to_string())
                .collect(),
            reject_words: DEFAULT_REJECT_WORDS.iter().map(|w| w.to_string()).collect(),
            accept_null_reason: true,
        }
    }
}

impl Policy {
    fn required_approvals(&self) -> usize {
        self.min_approvals.max(1) as usize
    }

    fn approver_list(&self) -> String {
        let names: Vec<String> = self.approvers.iter().map(Approver::to_string).collect();
        names.join(", ")
    }
}

/// What GitHub says about one person who closed the issue or commented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub login: String,
    /// The account's `type` is `Bot` (its login ending in `[bot]` counts too).
    pub is_bot: bool,
    /// Their permission on the repository.
    pub level: PermissionLevel,
    /// They are a listed approver or in a listed team; true when the list is empty.
    pub in_approvers: bool,
}

/// Why someone may not decide, naming the rule they do not meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unauthorized {
    Bot,
    Requester,
    Permission {
        have: PermissionLevel,
        need: PermissionLevel,
    },
    NotAnApprover {
        /// The approvers as the policy lists them (`alice, @org/team`).
        approvers: String,
    },
}

impl fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unauthorized::Bot => f.write_str("bots cannot decide approvals; a person must"),
            Unauthorized::Requester => f.write_str(
                "the requester cannot approve their own request (the gate allows it only with --allow-self-approval)",
            ),
            Unauthorized::Permission { have, need } => write!(
                f,
                "deciding needs {need} access to the repository or higher; this account has {have}"
            ),
            Unauthorized::NotAnApprover { approvers } => {
                write!(f, "the decision must come from one of {approvers}")
            }
        }
    }
}

impl std::error::Error for Unauthorized {}

/// Whether `auth` may decide under `policy` for a request made by `requester`. Checked in this
/// order, so the message names the most basic rule broken: bot, requester, permission, list.
pub fn authorize(
    policy: &Policy,
    auth: &Authorization,
    requester: Option<&str>,
) -> Result<(), Unauthorized> {
    if auth.is_bot || is_bot_login(&auth.login) {
        return Err(Unauthorized::Bot);
    }
    let is_requester = requester.is_some_and(|requester| same_login(requester, &auth.login));
    if is_requester && !policy.allow_self_approval {
        return Err(Unauthorized::Requester);
    }
    if auth.level < policy.min_permission {
        return Err(Unauthorized::Permission {
            have: auth.level,
            need: policy.min_permission,
        });
    }
    if !policy.approvers.is_empty() && !auth.in_approvers {
        return Err(Unauthorized::NotAnApprover {
            approvers: policy.approver_list(),
        });
    }
    Ok(())
}

/// The issue's state as GitHub reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueFacts {
    pub open: bool,
    /// `completed`, `not_planned`, `reopened`, `duplicate`, or anything newer; `None` when null.
    pub state_reason: Option<String>,
    /// Login of whoever closed it.
    pub closer: Option<String>,
}

/// One comment on the issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentFacts {
    pub author: String,
    pub body: String,
}

/// What a close or a comment says, before asking who said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Reject,
    None,
}

/// What closing the issue says: completed (or no reason, with `accept_null_reason`) approves;
/// not planned or duplicate rejects; open, reopened and reasons GitHub may add later decide
/// nothing. With `--approve-by comments`, closing decides nothing.
pub fn close_verdict(policy: &Policy, issue: &IssueFacts) -> Verdict {
    if issue.open || !policy.approve_by.counts_close() {
        return Verdict::None;
    }
    let reason = issue
        .state_reason
        .as_deref()
        .map(|r| r.trim().to_ascii_lowercase())
        .filter(|r| !r.is_empty() && r != "null");
    match reason.as_deref() {
        Some("completed") => Verdict::Approve,
        Some("not_planned" | "duplicate") => Verdict::Reject,
        None if policy.accept_null_reason => Verdict::Approve,
        _ => Verdict::None,
    }
}

/// What a comment says: its first non-empty line, trimmed, compared case-insensitively with
/// the words (trailing `.` and `!` allowed, as in "LGTM!"). A reject word wins over an approve
/// word listed in both. With `--approve-by close`, comments decide nothing.
pub fn comment_verdict(policy: &Policy, body: &str) -> Verdict {
    if !policy.approve_by.counts_comments() {
        return Verdict::None;
    }
    let Some(line) = body.lines().map(str::trim).find(|line| !line.is_empty()) else {
        return Verdict::None;
    };
    let word = line.trim_end_matches(['.', '!']).trim_end();
    let matches = |words: &[String]| {
        words
            .iter()
            .map(|w| w.trim())
            .any(|w| !w.is_empty() && w.eq_ignore_ascii_case(word))
    };
    if matches(&policy.reject_words) {
        Verdict::Reject
    } else if matches(&policy.approve_words) {
        Verdict::Approve
    } else {
        Verdict::None
    }
}

/// Who approved and who rejected, one entry per person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommentTally {
    pub approvals: Vec<String>,
    pub rejections: Vec<String>,
}

impl CommentTally {
    /// Any authorized rejection rejects; otherwise `min_approvals` approvals approve.
    pub fn verdict(&self, policy: &Policy) -> Verdict {
        if !self.rejections.is_empty() {
            Verdict::Reject
        } else if self.approvals.len() >= policy.required_approvals() {
            Verdict::Approve
        } else {
            Verdict::None
        }
    }
}

/// Counts the comments (oldest first) of authorized authors: each person's latest approve or
/// reject comment is their vote; comments saying neither do not change it. `authorized` is
/// asked once per distinct author.
pub fn tally_comments(
    policy: &Policy,
    comments: &[CommentFacts],
    authorized: impl Fn(&str) -> bool,
) -> CommentTally {
    let mut allowed: HashMap<String, bool> = HashMap::new();
    // Lower-cased login → (login as first written, latest vote, position of that vote).
    let mut votes: HashMap<String, (String, Verdict, usize)> = HashMap::new();
    for (position, comment) in comments.iter().enumerate() {
        let verdict = comment_verdict(policy, &comment.body);
        if verdict == Verdict::None {
            continue;
        }
        let id = comment.author.to_ascii_lowercase();
        let is_allowed = *allowed
            .entry(id.clone())
            .or_insert_with(|| authorized(&comment.author));
        if !is_allowed {
            continue;
        }
        votes
            .entry(id)
            .and_modify(|vote| {
                vote.1 = verdict;
                vote.2 = position;
            })
            .or_insert_with(|| (comment.author.clone(), verdict, position));
    }
    let mut ordered: Vec<(String, Verdict, usize)> = votes.into_values().collect();
    ordered.sort_by_key(|(_, _, position)| *position);
    let mut tally = CommentTally::default();
    for (login, verdict, _) in ordered {
        match verdict {
            Verdict::Approve => tally.approvals.push(login),
            Verdict::Reject => tally.rejections.push(login),
            Verdict::None => {}
        }
    }
    tally
}

/// The "How to decide" paragraph of the issue body. Logins and teams are shown as code, so the
/// body does not notify them (use `--mention` for that).
pub fn policy_text(policy: &Policy) -> String {
    let mut parts = Vec::new();
    let close = "close this issue as **completed** to approve, or as **not planned** to reject";
    let approve_words = word_list(&policy.approve_words);
    let reject_words = word_list(&policy.reject_words);
    let comments = format!(
        "comment {approve_words} to approve or {reject_words} to reject, as the first line of the comment"
    );
    parts.push(match policy.approve_by {
        ApproveBy::Close => format!("{}.", capitalize(close)),
        ApproveBy::Comments => format!("{}.", capitalize(&comments)),
        ApproveBy::Either => format!("{}; or {comments}.", capitalize(close)),
    });
    if policy.approve_by.counts_comments() {
        let needed = policy.required_approvals();
        parts.push(format!(
            "{needed} {} from different people {} needed; a single rejection rejects. Each person's latest such comment counts.",
            plural(needed, "approval", "approvals"),
            plural(needed, "is", "are"),
        ));
    }
    let mut who = format!(
        "Only people with **{}** access to this repository or higher",
        policy.min_permission
    );
    if !policy.approvers.is_empty() {
        let listed: Vec<String> = policy.approvers.iter().map(|a| format!("`{a}`")).collect();
        who.push_str(&format!(" who are one of {}", listed.join(", ")));
    }
    who.push_str(" can decide");
    if !policy.allow_self_approval {
        who.push_str("; the requester cannot approve their own request");
    }
    who.push_str(". Decisions by anyone else, and by bots, do not count.");
    parts.push(who);
    parts.join(" ")
}

fn word_list(words: &[String]) -> String {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| w.trim())
        .filter(|w| !w.is_empty())
        .map(|w| format!("`{w}`"))
        .collect();
    match quoted.as_slice() {
        [] => "(no words configured)".to_string(),
        [only] => only.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(login: &str, level: PermissionLevel) -> Authorization {
        Authorization {
            login: login.to_string(),
            is_bot: false,
            level,
            in_approvers: true,
        }
    }

    fn closed(reason: Option<&str>) -> IssueFacts {
        IssueFacts {
            open: false,
            state_reason: reason.map(str::to_string),
            closer: Some("bob".to_string()),
        }
    }

    fn comments_policy(min_approvals: u32) -> Policy {
        Policy {
            approve_by: ApproveBy::Comments,
            min_approvals,
            ..Policy::default()
        }
    }

    fn comment(author: &str, body: &str) -> CommentFacts {
        CommentFacts {
            author: author.to_string(),
            body: body.to_string(),
        }
    }

    #[test]
    fn a_triage_user_cannot_approve_by_closing() {
        let policy = Policy::default();
        let err = authorize(&policy, &person("tina", PermissionLevel::Triage), None).unwrap_err();
        assert_eq!(
            err,
            Unauthorized::Permission {
                have: PermissionLevel::Triage,
                need: PermissionLevel::Write
            }
        );
        assert_eq!(
            err.to_string(),
            "deciding needs write access to the repository or higher; this account has triage"
        );
        assert_eq!(
            authorize(&policy, &person("wes", PermissionLevel::Write), None),
            Ok(())
        );
        assert_eq!(
            authorize(&policy, &person("ada", PermissionLevel::Admin), None),
            Ok(())
        );
        let admins_only = Policy {
            min_permission: PermissionLevel::Admin,
            ..Policy::default()
        };
        assert!(authorize(
            &admins_only,
            &person("mia", PermissionLevel::Maintain),
            None
        )
        .is_err());
    }

    #[test]
    fn bots_cannot_decide_whatever_their_access() {
        let policy = Policy::default();
        let mut bot = person("ci", PermissionLevel::Admin);
        bot.is_bot = true;
        assert_eq!(authorize(&policy, &bot, None), Err(Unauthorized::Bot));
        let app = person("renovate[bot]", PermissionLevel::Admin);
        assert_eq!(authorize(&policy, &app, None), Err(Unauthorized::Bot));
    }

    #[test]
    fn the_requester_is_blocked_unless_self_approval_is_allowed() {
        let policy = Policy::default();
        let alice = person("Alice", PermissionLevel::Admin);
        assert_eq!(
            authorize(&policy, &alice, Some("@alice")),
            Err(Unauthorized::Requester)
        );
        assert!(Unauthorized::Requester
            .to_string()
            .contains("--allow-self-approval"));
        assert_eq!(authorize(&policy, &alice, Some("bob")), Ok(()));
        let allowed = Policy {
            allow_self_approval: true,
            ..Policy::default()
        };
        assert_eq!(authorize(&allowed, &alice, Some("alice")), Ok(()));
    }

    #[test]
    fn with_an_approvers_list_only_listed_users_and_team_members_decide() {
        let policy = Policy {
            approvers: parse_approvers("alice, @acme/db-admins").unwrap(),
            ..Policy::default()
        };
        let member = person("carol", PermissionLevel::Write); // in_approvers: found in the team
        assert_eq!(authorize(&policy, &member, None), Ok(()));
        let outsider = Authorization {
            in_approvers: false,
            ..person("dave", PermissionLevel::Admin)
        };
        let err = authorize(&policy, &outsider, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the decision must come from one of alice, @acme/db-admins"
        );
        assert!(policy.approvers[0].is_user("ALICE"));
        // The permission floor still applies to listed approvers.
        let weak = person("alice", PermissionLevel::Read);
        assert!(matches!(
            authorize(&policy, &weak, None),
            Err(Unauthorized::Permission { .. })
        ));
    }

    #[test]
    fn approvers_parse_users_and_teams_in_every_spelling() {
        let team = |org: &str, slug: &str| Approver::Team {
            org: org.into(),
            slug: slug.into(),
        };
        assert_eq!("alice".parse(), Ok(Approver::User("alice".into())));
        assert_eq!("@alice".parse(), Ok(Approver::User("alice".into())));
        assert_eq!("team:acme/db-admins".parse(), Ok(team("acme", "db-admins")));
        assert_eq!("@acme/DB.Admins".parse(), Ok(team("acme", "db-admins")));
        assert_eq!(" acme/ops ".parse(), Ok(team("acme", "ops")));
        for bad in [
            "",
            "team:acme",
            "a b",
            "acme/",
            "/slug",
            "-alice",
            "acme/sl ug",
        ] {
            let err = bad.parse::<Approver>().unwrap_err();
            assert!(err.contains("invalid approver"), "{bad}: {err}");
        }
        assert_eq!(
            Approver::Team {
                org: "acme".into(),
                slug: "ops".into()
            }
            .to_string(),
            "@acme/ops"
        );
        let list = parse_approvers("alice,ALICE @acme/ops team:acme/ops\nbob").unwrap();
        assert_eq!(list.len(), 3, "{list:?}");
    }

    #[test]
    fn permission_levels_order_and_read_role_and_legacy_names() {
        use PermissionLevel::*;
        assert!(
            None < Read && Read < Triage && Triage < Write && Write < Maintain && Maintain < Admin
        );
        for (text, level) in [
            ("admin", Admin),
            ("MAINTAIN", Maintain),
            ("write", Write),
            ("push", Write),
            ("triage", Triage),
            ("read", Read),
            ("pull", Read),
            ("none", None),
        ] {
            assert_eq!(text.parse::<PermissionLevel>(), Ok(level), "{text}");
        }
        assert!("security-reviewer".parse::<PermissionLevel>().is_err());
    }

    #[test]
    fn approve_by_parses() {
        assert_eq!("close".parse(), Ok(ApproveBy::Close));
        assert_eq!("Comments".parse(), Ok(ApproveBy::Comments));
        assert_eq!("either".parse(), Ok(ApproveBy::Either));
        assert!("vote"
            .parse::<ApproveBy>()
            .unwrap_err()
            .contains("close, comments or either"));
    }

    #[test]
    fn close_reasons_map_to_verdicts() {
        let policy = Policy::default();
        assert_eq!(
            close_verdict(&policy, &closed(Some("completed"))),
            Verdict::Approve
        );
        assert_eq!(
            close_verdict(&policy, &closed(Some("not_planned"))),
            Verdict::Reject
        );
        assert_eq!(
            close_verdict(&policy, &closed(Some("duplicate"))),
            Verdict::Reject
        );
        assert_eq!(
            close_verdict(&policy, &closed(Some("some_future_reason"))),
            Verdict::None
        );
        assert_eq!(
            close_verdict(&policy, &closed(Some("reopened"))),
            Verdict::None
        );
        let reopened = IssueFacts {
            open: true,
            state_reason: Some("reopened".into()),
            closer: None,
        };
        assert_eq!(close_verdict(&policy, &reopened), Verdict::None);
        let open = IssueFacts {
            open: true,
            state_reason: None,
            closer: None,
        };
        assert_eq!(close_verdict(&policy, &open), Verdict::None);
    }

    #[test]
    fn a_null_close_reason_approves_only_with_accept_null_reason() {
        let accepting = Policy::default();
        assert_eq!(close_verdict(&accepting, &closed(None)), Verdict::Approve);
        assert_eq!(
            close_verdict(&accepting, &closed(Some(""))),
            Verdict::Approve
        );
        let strict = Policy {
            accept_null_reason: false,
            ..Policy::default()
        };
        assert_eq!(close_verdict(&strict, &closed(None)), Verdict::None);
    }

    #[test]
    fn closing_decides_nothing_when_only_comments_count() {
        assert_eq!(
            close_verdict(&comments_policy(1), &closed(Some("completed"))),
            Verdict::None
        );
        let either = Policy {
            approve_by: ApproveBy::Either,
            ..Policy::default()
        };
        assert_eq!(
            close_verdict(&either, &closed(Some("completed"))),
            Verdict::Approve
        );
        assert_eq!(
            comment_verdict(&Policy::default(), "approve"),
            Verdict::None
        );
        assert_eq!(comment_verdict(&either, "approve"), Verdict::Approve);
    }

    #[test]
    fn comment_words_match_the_first_non_empty_line_exactly() {
        let policy = comments_policy(1);
        assert_eq!(
            comment_verdict(&policy, "\n\n  LGTM!  \nship it"),
            Verdict::Approve
        );
        assert_eq!(comment_verdict(&policy, "/approve"), Verdict::Approve);
        assert_eq!(comment_verdict(&policy, "Approved."), Verdict::Approve);
        assert_eq!(comment_verdict(&policy, "Denied\nbudget"), Verdict::Reject);
        assert_eq!(comment_verdict(&policy, "/REJECT"), Verdict::Reject);
        assert_eq!(comment_verdict(&policy, "I approve of this"), Verdict::None);
        assert_eq!(
            comment_verdict(&policy, "> approve\n\nwhy?"),
            Verdict::None,
            "a quote is not a vote"
        );
        assert_eq!(
            comment_verdict(&policy, "question first\napprove"),
            Verdict::None
        );
        assert_eq!(comment_verdict(&policy, "   "), Verdict::None);
        let both = Policy {
            approve_words: vec!["ok".into()],
            reject_words: vec!["OK".into()],
            ..comments_policy(1)
        };
        assert_eq!(
            comment_verdict(&both, "ok"),
            Verdict::Reject,
            "reject wins a tie"
        );
    }

    #[test]
    fn two_of_three_approvals_count_each_authors_latest_vote() {
        let policy = comments_policy(2);
        let comments = [
            comment("alice", "approve"),
            comment("bob", "lgtm"),
            comment("carol", "approve"),
            comment("bob", "reject\nwrong region"),
        ];
        let everyone = |_: &str| true;
        let tally = tally_comments(&policy, &comments, everyone);
        assert_eq!(tally.approvals, vec!["alice", "carol"]);
        assert_eq!(tally.rejections, vec!["bob"]);
        assert_eq!(
            tally.verdict(&policy),
            Verdict::Reject,
            "any authorized rejection rejects"
        );

        let changed_mind = [
            comment("bob", "reject"),
            comment("alice", "approve"),
            comment("Bob", "approve"),
            comment("bob", "thanks!"),
        ];
        let tally = tally_comments(&policy, &changed_mind, everyone);
        assert_eq!(
            tally.approvals,
            vec!["alice", "bob"],
            "latest vote, one per person, chatter ignored"
        );
        assert!(tally.rejections.is_empty());
        assert_eq!(tally.verdict(&policy), Verdict::Approve);
    }

    #[test]
    fn only_authorized_distinct_authors_count() {
        let policy = comments_policy(2);
        let comments = [
            comment("alice", "approve"),
            comment("alice", "approve"),
            comment("mallory", "approve"),
            comment("mallory", "reject"),
        ];
        let asked = std::cell::RefCell::new(Vec::new());
        let tally = tally_comments(&policy, &comments, |login| {
            asked.borrow_mut().push(login.to_string());
            login != "mallory"
        });
        assert_eq!(tally.approvals, vec!["alice"]);
        assert!(
            tally.rejections.is_empty(),
            "an unauthorized reject is ignored"
        );
        assert_eq!(
            tally.verdict(&policy),
            Verdict::None,
            "one of two approvals"
        );
        assert_eq!(
            asked.into_inner(),
            vec!["alice", "mallory"],
            "asked once per author"
        );
    }

    #[test]
    fn reject_words_can_be_configured() {
        let policy = Policy {
            reject_words: vec!["nope".into()],
            ..comments_policy(1)
        };
        assert_eq!(comment_verdict(&policy, "Nope"), Verdict::Reject);
        assert_eq!(comment_verdict(&policy, "deny"), Verdict::None);
        let tally = tally_comments(&policy, &[comment("alice", "nope")], |_| true);
        assert_eq!(tally.verdict(&policy), Verdict::Reject);
    }

    #[test]
    fn policy_text_says_how_and_who() {
        let text = policy_text(&Policy::default());
        assert_eq!(
            text,
            "Close this issue as **completed** to approve, or as **not planned** to reject. Only \
             people with **write** access to this repository or higher can decide; the requester \
             cannot approve their own request. Decisions by anyone else, and by bots, do not count."
        );
        let policy = Policy {
            approve_by: ApproveBy::Either,
            approvers: parse_approvers("alice,@acme/dba").unwrap(),
            min_approvals: 2,
            allow_self_approval: true,
            ..Policy::default()
        };
        let text = policy_text(&policy);
        for expected in [
            "or as **not planned** to reject; or comment `/approve`, `approve`, `approved` or `lgtm` to approve",
            "`/reject`, `reject`, `denied` or `deny` to reject",
            "2 approvals from different people are needed",
            "who are one of `alice`, `@acme/dba` can decide.",
        ] {
            assert!(text.contains(expected), "{expected:?} not in {text}");
        }
        assert!(!text.contains("requester"));
    }
}
