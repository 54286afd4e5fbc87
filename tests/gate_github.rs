//! The gate's GitHub client against a stateful fake of GitHub (tests/support/github.rs):
//! reads, conditional reads, pagination, permissions, rate limits, retries, creates whose
//! answer is lost, GHES path prefixes, a real TLS handshake, and a canary token that must never
//! show in an error.

#[path = "support/github.rs"]
mod github_fake;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use github_fake::{FakeGitHub, Fault, Role, TlsIdentity};
use stepkit::core::error::exit_code;
use stepkit::core::secret::Secret;
use stepkit::gate::github::{
    CreateOutcome, Fetched, GitHub, GitHubConfig, Issue, NewIssue, PermissionLevel, StateReason,
};

const REPO: &str = "acme/platform";
const ARCHIVE: &str = "acme/archive";
/// The gate's own token; it authenticates as `gate-bot`, with write access.
const TOKEN: &str = "gate-bot-token-00000000000000000000000000";
/// A token that must never appear in any error text.
const CANARY: &str = "canary-token-CANARYcanary0123456789abcdef01";
const READER_TOKEN: &str = "reader-token-0000000000000000000000000000";
const GATE_LABEL: &str = "approval gate";

/// The certificate every TLS fake in this process serves, trusted through `SSL_CERT_FILE`
/// (octocrab reads the platform's roots, which honour it). Set once, before any client is
/// built, so no test changes the environment while another reads it.
fn test_identity() -> &'static TlsIdentity {
    static IDENTITY: OnceLock<TlsIdentity> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let identity = TlsIdentity::self_signed();
        let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
        std::io::Write::write_all(&mut file, identity.cert_pem.as_bytes()).expect("write the PEM");
        // Kept for the whole process: every client built later reads it.
        let path = file.into_temp_path().keep().expect("keep the PEM file");
        std::env::set_var("SSL_CERT_FILE", &path);
        identity
    })
}

/// A repository with people in every role, an archive to transfer into, and the gate's token.
fn populate(fake: &FakeGitHub) {
    fake.add_repo(ARCHIVE).set_role("gate-bot", Role::Write);
    let repo = fake.add_repo(REPO);
    repo.set_role("gate-bot", Role::Write)
        .set_role("alice", Role::Maintain)
        .set_role("wendy", Role::Write)
        .set_role("tom", Role::Triage)
        .set_role("rita", Role::Read)
        .set_custom_role("sam", "release-approver", Role::Write);
    fake.add_user("outsider");
    fake.add_bot("deploy-bot[bot]");
    fake.add_token(TOKEN, "gate-bot");
    fake.add_token(READER_TOKEN, "rita");
}

async fn fake() -> FakeGitHub {
    let fake = FakeGitHub::start().await;
    populate(&fake);
    fake
}

fn config(api_url: String, token: &str) -> GitHubConfig {
    let mut config = GitHubConfig::new(api_url, Secret::new(token), REPO.parse().expect("repo"));
    config.request_timeout = Duration::from_secs(2);
    config.deadline = Duration::from_secs(10);
    config.mutation_spacing = Duration::ZERO;
    config.retry_base_delay = Duration::from_millis(20);
    // Two retries: the tests of the budget count on it (the default retries until the deadline).
    config.retries = Some(2);
    config
}

fn client_with(config: GitHubConfig) -> GitHub {
    test_identity();
    GitHub::new(config).expect("a GitHub client")
}

fn client(fake: &FakeGitHub) -> GitHub {
    client_with(config(fake.url(), TOKEN))
}

fn new_issue(title: &str) -> NewIssue {
    NewIssue {
        title: title.to_owned(),
        body: format!("<!-- stepkit-gate: {title} -->\nPlease approve."),
        labels: vec![GATE_LABEL.to_owned()],
        assignees: Vec::new(),
    }
}

async fn create(github: &GitHub, issue: &NewIssue) -> Issue {
    match github.create_issue(issue).await.expect("create") {
        CreateOutcome::Created(issue) => issue,
        CreateOutcome::Ambiguous(error) => panic!("ambiguous create: {error:#}"),
    }
}

fn found(fetched: Fetched<Issue>) -> (Issue, Option<String>) {
    match fetched {
        Fetched::Found { value, etag } => (value, etag),
        other => panic!("expected Found, got {other:?}"),
    }
}

fn text(error: &anyhow::Error) -> String {
    format!("{error:#} / {error:?}")
}

#[tokio::test]
async fn creates_an_issue_then_reads_it_back_with_the_headers_github_asks_for() {
    let fake = fake().await;
    let github = client(&fake);
    let mut request = new_issue("Deploy payments to prod");
    request.assignees = vec!["alice".into()];
    let created = create(&github, &request).await;

    assert_eq!(created.number, 1);
    assert!(created.open);
    assert_eq!(created.labels, vec![GATE_LABEL]);
    assert_eq!(created.user.login, "gate-bot");
    assert!(!created.user.is_bot);
    assert!(
        created.html_url.ends_with("/acme/platform/issues/1"),
        "{}",
        created.html_url
    );
    assert_eq!(created.body.as_deref(), Some(request.body.as_str()));
    assert!(!created.is_pull_request);
    assert_eq!(fake.repo(REPO).issue(1).unwrap().assignees, vec!["alice"]);

    let (read, etag) = found(github.issue(1, None).await.expect("get"));
    assert_eq!(read, created);
    assert!(etag.is_some_and(|etag| etag.starts_with("W/\"")));

    let version_agent = format!("stepkit/{}", env!("CARGO_PKG_VERSION"));
    for request in fake.requests() {
        assert_eq!(
            request.api_version.as_deref(),
            Some("2022-11-28"),
            "{request:?}"
        );
        assert_eq!(
            request.accept.as_deref(),
            Some("application/vnd.github+json")
        );
        assert_eq!(
            request.auth,
            github_fake::AuthSeen::Valid("gate-bot".into())
        );
        assert_eq!(
            request.user_agents.first(),
            Some(&version_agent),
            "{request:?}"
        );
    }
}

#[tokio::test]
async fn labelled_issues_follow_link_pages_past_100_and_never_touch_search() {
    let fake = fake().await;
    let repo = fake.repo(REPO);
    for n in 0..150 {
        repo.create_issue("someone", &format!("gate {n}"), "", &[GATE_LABEL]);
    }
    for n in 0..5 {
        repo.create_issue("someone", &format!("unrelated {n}"), "", &["bug"]);
    }
    for n in 0..3 {
        repo.create_pull_request("someone", &format!("pr {n}"), &[GATE_LABEL]);
    }
    for number in 1..=10 {
        repo.close(number, "alice", "completed");
    }
    let github = client(&fake);

    let issues = github.labelled_issues(GATE_LABEL).await.expect("list");

    assert_eq!(issues.len(), 150, "pull requests and other labels left out");
    assert!(issues.iter().all(|issue| !issue.is_pull_request));
    assert!(
        issues
            .windows(2)
            .all(|pair| pair[0].number > pair[1].number),
        "newest first"
    );
    assert_eq!(
        issues.iter().filter(|issue| !issue.open).count(),
        10,
        "state=all"
    );
    let requests = fake.requests();
    let first = &requests[0];
    assert_eq!(first.path, "/repos/acme/platform/issues");
    let query = first.query.as_deref().unwrap_or_default();
    for part in [
        "state=all",
        "labels=approval+gate",
        "sort=created",
        "direction=desc",
        "per_page=100",
    ] {
        assert!(query.contains(part), "{query} has {part}");
    }
    let second = &requests[1];
    assert_eq!(
        second.path,
        format!("/repositories/{}/issues", repo.id()),
        "GitHub's own link"
    );
    assert!(second
        .query
        .as_deref()
        .unwrap_or_default()
        .contains("page=2"));
    assert_eq!(requests.len(), 2);
    assert_eq!(fake.search_calls(), 0);
}

#[tokio::test]
async fn the_fakes_search_index_lags_which_is_why_the_client_lists_instead() {
    let fake = fake().await;
    fake.set_search_lag(Duration::from_secs(60));
    fake.repo(REPO)
        .create_issue("someone", "fresh", "marker-123", &[GATE_LABEL]);
    let search = |fake: &FakeGitHub| {
        let url = format!("{}/search/issues?q=repo:{REPO}+marker-123", fake.url());
        async move {
            let answer: serde_json::Value = reqwest::Client::new()
                .get(url)
                .bearer_auth(TOKEN)
                .header("user-agent", "test")
                .send()
                .await
                .expect("search")
                .json()
                .await
                .expect("JSON");
            answer["total_count"].as_u64()
        }
    };
    assert_eq!(search(&fake).await, Some(0), "not indexed yet");
    fake.advance_clock(Duration::from_secs(61));
    assert_eq!(search(&fake).await, Some(1));
    let listed = client(&fake)
        .labelled_issues(GATE_LABEL)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1, "the issues list is consistent at once");
}

#[tokio::test]
async fn a_matching_etag_answers_not_modified_and_costs_no_quota() {
    let fake = fake().await;
    let github = client(&fake);
    let created = create(&github, &new_issue("etag")).await;
    let (_, etag) = found(github.issue(created.number, None).await.expect("get"));
    let etag = etag.expect("an etag");
    let before = fake.bucket(TOKEN).remaining;

    for _ in 0..3 {
        let again = github
            .issue(created.number, Some(&etag))
            .await
            .expect("get");
        assert_eq!(again, Fetched::NotModified);
    }
    assert_eq!(fake.bucket(TOKEN).remaining, before, "304s are free");
    let last = fake.requests().pop().expect("a request");
    assert!(last.not_modified);
    assert_eq!(last.if_none_match.as_deref(), Some(etag.as_str()));

    fake.repo(REPO).close(created.number, "alice", "completed");
    let (closed, new_etag) = found(
        github
            .issue(created.number, Some(&etag))
            .await
            .expect("get"),
    );
    assert!(!closed.open);
    assert_eq!(
        closed.closed_by.map(|user| user.login),
        Some("alice".into())
    );
    assert_eq!(closed.state_reason, Some(StateReason::Completed));
    assert_ne!(new_etag.as_deref(), Some(etag.as_str()));
    assert_eq!(fake.bucket(TOKEN).remaining, before - 1);
}

#[tokio::test]
async fn a_transferred_issue_is_followed_to_its_new_place() {
    let fake = fake().await;
    let github = client(&fake);
    let created = create(&github, &new_issue("to move")).await;
    let (_, etag) = found(github.issue(created.number, None).await.expect("get"));
    let new_number = fake.repo(REPO).transfer(created.number, ARCHIVE);

    let moved = github
        .issue(created.number, etag.as_deref())
        .await
        .expect("get");
    let Fetched::Moved { value, etag } = moved else {
        panic!("expected Moved, got {moved:?}");
    };
    assert_eq!(value.number, new_number);
    assert!(
        value.html_url.contains("/acme/archive/issues/"),
        "{}",
        value.html_url
    );
    assert!(etag.is_some());
    let requests = fake.requests();
    let redirect = &requests[requests.len() - 2];
    assert_eq!(redirect.status, Some(301));
    let followed = requests.last().expect("followed");
    let archive_id = fake.repo(ARCHIVE).id();
    assert_eq!(
        followed.path,
        format!("/repositories/{archive_id}/issues/{new_number}")
    );
    assert_eq!(
        followed.if_none_match, None,
        "the old ETag is not sent to the new place"
    );
}

#[tokio::test]
async fn an_issue_transferred_where_the_token_cannot_look_is_gone() {
    let fake = fake().await;
    fake.add_repo("acme/vault");
    let github = client(&fake);
    let created = create(&github, &new_issue("to the vault")).await;
    fake.repo(REPO).transfer(created.number, "acme/vault");
    assert_eq!(
        github.issue(created.number, None).await.expect("get"),
        Fetched::Gone
    );
    assert_eq!(fake.requests().last().unwrap().status, Some(404));
}

#[tokio::test]
async fn deleted_and_missing_issues_are_gone() {
    let fake = fake().await;
    let github = client(&fake);
    let created = create(&github, &new_issue("to delete")).await;
    fake.repo(REPO).delete(created.number);
    assert_eq!(
        github.issue(created.number, None).await.expect("get"),
        Fetched::Gone
    );
    assert_eq!(github.issue(999, None).await.expect("get"), Fetched::Gone);
    assert!(github
        .labelled_issues(GATE_LABEL)
        .await
        .expect("list")
        .is_empty());
}

#[tokio::test]
async fn issue_urls_must_be_in_this_repository() {
    let fake = fake().await;
    let github = client(&fake);
    let created = create(&github, &new_issue("by url")).await;
    let (read, _) = found(
        github
            .issue_by_url(&created.html_url, None)
            .await
            .expect("get"),
    );
    assert_eq!(read.number, created.number);

    let error = github
        .issue_by_url("https://github.com/elsewhere/repo/issues/1", None)
        .await
        .unwrap_err();
    assert_eq!(exit_code(&error), 2);
    assert!(text(&error).contains("elsewhere/repo"), "{}", text(&error));
}

#[tokio::test]
async fn permissions_map_roles_custom_roles_and_strangers() {
    let fake = fake().await;
    let github = client(&fake);
    let cases = [
        ("acme", PermissionLevel::Admin, "admin"),
        ("alice", PermissionLevel::Maintain, "maintain"),
        ("wendy", PermissionLevel::Write, "write"),
        ("tom", PermissionLevel::Triage, "triage"),
        ("rita", PermissionLevel::Read, "read"),
        ("sam", PermissionLevel::Write, "release-approver"),
        ("outsider", PermissionLevel::None, "none"),
        ("no-such-user", PermissionLevel::None, "none"),
    ];
    for (login, level, role_name) in cases {
        let permission = github.permission(login).await.expect("permission");
        assert_eq!(permission.level, level, "{login}");
        assert_eq!(permission.role_name, role_name, "{login}");
    }
}

#[tokio::test]
async fn team_membership_counts_only_active_members() {
    let fake = fake().await;
    fake.add_team_member("acme", "release-approvers", "alice", true);
    fake.add_team_member("acme", "release-approvers", "bob", false);
    fake.add_team("acme", "empty-team");
    let github = client(&fake);
    assert!(github
        .team_member("acme", "release-approvers", "alice")
        .await
        .unwrap());
    assert!(
        !github
            .team_member("acme", "release-approvers", "bob")
            .await
            .unwrap(),
        "pending"
    );
    assert!(!github
        .team_member("acme", "release-approvers", "carol")
        .await
        .unwrap());
    assert!(!github
        .team_member("acme", "empty-team", "alice")
        .await
        .unwrap());
    assert!(!github
        .team_member("acme", "no-such-team", "alice")
        .await
        .unwrap());
}

#[tokio::test]
async fn a_ghes_path_prefix_is_kept_on_every_request_and_followed_link() {
    let fake = fake().await;
    for n in 0..101 {
        fake.repo(REPO)
            .create_issue("someone", &format!("gate {n}"), "", &[GATE_LABEL]);
    }
    let github = client_with(config(fake.url_with_prefix("/api/v3"), TOKEN));
    let created = create(&github, &new_issue("on ghes")).await;
    found(github.issue(created.number, None).await.expect("get"));
    assert_eq!(
        github
            .labelled_issues(GATE_LABEL)
            .await
            .expect("list")
            .len(),
        102
    );

    let requests = fake.requests();
    assert_eq!(requests.len(), 4);
    for request in &requests {
        assert_eq!(request.prefix, "/api/v3", "{request:?}");
    }
    assert!(
        !created.html_url.contains("/api/v3"),
        "html URLs are not API URLs"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let fake = fake().await;
    fake.repo(REPO).create_issue("someone", "limited", "", &[]);
    let github = client(&fake);
    for status in [429, 403] {
        fake.inject(
            "GET",
            "/repos/acme/platform/issues/1",
            Fault::RetryAfter { status, seconds: 1 },
        );
    }
    let started = Instant::now();
    found(github.issue(1, None).await.expect("get after waiting"));
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.count("GET", "/repos/acme/platform/issues/1"), 3);
}

#[tokio::test]
async fn a_spent_quota_resetting_past_the_deadline_fails_at_once_with_exit_3() {
    let fake = fake().await;
    fake.repo(REPO).create_issue("someone", "limited", "", &[]);
    fake.set_bucket(TOKEN, 0, Duration::from_secs(3600));
    let github = client(&fake);
    let started = Instant::now();
    let error = github.issue(1, None).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(exit_code(&error), 3);
    let message = text(&error);
    assert!(message.contains("rate limited until"), "{message}");
    assert!(message.contains("x-ratelimit-remaining: 0"), "{message}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_spent_quota_resetting_within_the_deadline_is_waited_for() {
    let fake = fake().await;
    fake.repo(REPO).create_issue("someone", "limited", "", &[]);
    // The fake's clock has whole seconds, so a reset 1 s away can pass before the first
    // request arrives; 2 s leaves at least one second of spent quota.
    fake.set_bucket(TOKEN, 0, Duration::from_secs(2));
    let github = client(&fake);
    let started = Instant::now();
    found(github.issue(1, None).await.expect("get after the reset"));
    let elapsed = started.elapsed();
    let statuses: Vec<Option<u16>> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![Some(403), Some(200)]);
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
}

#[tokio::test]
async fn a_secondary_limit_without_retry_after_waits_a_minute_so_a_short_deadline_gives_up() {
    let fake = fake().await;
    fake.repo(REPO).create_issue("someone", "limited", "", &[]);
    fake.inject(
        "GET",
        "/repos/acme/platform/issues/1",
        Fault::SecondaryRateLimit,
    );
    let github = client(&fake);
    let started = Instant::now();
    let error = github.issue(1, None).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(exit_code(&error), 3);
    assert!(
        text(&error).contains("secondary rate limit"),
        "{}",
        text(&error)
    );
}

#[tokio::test]
async fn a_get_is_retried_on_5xx_dropped_connections_and_slow_answers() {
    let fake = fake().await;
    fake.repo(REPO).create_issue("someone", "flaky", "", &[]);
    let path = "/repos/acme/platform/issues/1";
    let mut config = config(fake.url(), TOKEN);
    config.request_timeout = Duration::from_millis(500);
    let github = client_with(config);

    fake.inject("GET", path, Fault::Status(502));
    fake.inject("GET", path, Fault::Status(503));
    found(github.issue(1, None).await.expect("third try succeeds"));
    assert_eq!(fake.count("GET", path), 3);

    fake.clear_log();
    fake.inject("GET", path, Fault::ConnectionReset);
    fake.inject("GET", path, Fault::Slow(Duration::from_secs(1)));
    found(github.issue(1, None).await.expect("third try succeeds"));
    assert_eq!(fake.count("GET", path), 3);

    fake.clear_log();
    fake.inject_times("GET", path, Fault::Status(500), 3);
    let error = github.issue(1, None).await.unwrap_err();
    assert_eq!(exit_code(&error), 3);
    assert!(
        text(&error).contains("gave up after 3 attempts"),
        "{}",
        text(&error)
    );
    assert_eq!(fake.count("GET", path), 3, "3 tries, no more");
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_ambiguous_and_never_sent_twice() {
    let faults = [
        Fault::CommitThenStatus(502),
        Fault::CommitThenDrop,
        Fault::Slow(Duration::from_secs(2)),
    ];
    for fault in faults {
        let fake = fake().await;
        let mut config = config(fake.url(), TOKEN);
        config.request_timeout = Duration::from_millis(700);
        let github = client_with(config);
        fake.inject("POST", "/repos/acme/platform/issues", fault.clone());

        let outcome = github
            .create_issue(&new_issue("lost answer"))
            .await
            .expect("an outcome");
        let CreateOutcome::Ambiguous(error) = outcome else {
            panic!("{fault:?}: expected Ambiguous, got {outcome:?}");
        };
        assert_eq!(exit_code(&error), 3, "{fault:?}");
        assert!(text(&error).contains("taken effect"), "{}", text(&error));
        assert_eq!(
            fake.count("POST", "/repos/acme/platform/issues"),
            1,
            "{fault:?}"
        );
        assert_eq!(
            fake.repo(REPO).issues().len(),
            1,
            "{fault:?}: exactly one issue"
        );
        // What the caller does next: look before creating again.
        let found = github.labelled_issues(GATE_LABEL).await.expect("list");
        assert_eq!(found.len(), 1, "{fault:?}");
    }
}

#[tokio::test]
async fn a_create_refused_before_sending_anything_is_an_error_not_ambiguous() {
    let fake = fake().await;
    let github = client(&fake);
    fake.inject(
        "POST",
        "/repos/acme/platform/issues",
        Fault::SecondaryRateLimit,
    );
    let error = github
        .create_issue(&new_issue("limited"))
        .await
        .expect_err("a secondary limit past the deadline");
    assert_eq!(exit_code(&error), 3);
    assert_eq!(fake.repo(REPO).issues().len(), 0);
}

#[tokio::test]
async fn an_unknown_assignee_is_dropped_and_the_issue_created_once() {
    let fake = fake().await;
    let github = client(&fake);
    let mut request = new_issue("assign");
    request.assignees = vec!["alice".into(), "no-such-user".into()];
    let created = create(&github, &request).await;

    let posts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.is("POST", "/repos/acme/platform/issues"))
        .collect();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].status, Some(422));
    assert_eq!(posts[1].status, Some(201));
    assert!(posts[1].body.as_ref().unwrap().get("assignees").is_none());
    assert_eq!(fake.repo(REPO).issues().len(), 1);
    assert!(fake
        .repo(REPO)
        .issue(created.number)
        .unwrap()
        .assignees
        .is_empty());
    assert_eq!(created.labels, vec![GATE_LABEL]);
}

#[tokio::test]
async fn without_push_access_labels_and_assignees_are_silently_dropped() {
    let fake = fake().await;
    let github = client_with(config(fake.url(), READER_TOKEN));
    let mut request = new_issue("from a reader");
    request.assignees = vec!["alice".into()];
    let created = create(&github, &request).await;
    assert!(created.labels.is_empty());
    assert_eq!(created.user.login, "rita");
    assert!(fake
        .repo(REPO)
        .issue(created.number)
        .unwrap()
        .assignees
        .is_empty());
}

#[tokio::test]
async fn unknown_state_reasons_and_bot_closers_are_read() {
    let fake = fake().await;
    let github = client(&fake);
    let created = create(&github, &new_issue("odd close")).await;
    fake.repo(REPO)
        .close(created.number, "deploy-bot[bot]", "resolved_elsewhere");
    let (closed, _) = found(github.issue(created.number, None).await.expect("get"));
    assert_eq!(
        closed.state_reason,
        Some(StateReason::Other("resolved_elsewhere".into()))
    );
    let closer = closed.closed_by.expect("a closer");
    assert_eq!(closer.login, "deploy-bot[bot]");
    assert!(closer.is_bot);
    assert!(closed.closed_at.is_some());
}

#[tokio::test]
async fn the_last_closer_comes_from_events_when_closed_by_is_null() {
    let fake = fake().await;
    let github = client(&fake);
    let created = create(&github, &new_issue("events")).await;
    let repo = fake.repo(REPO);
    repo.close(created.number, "tom", "completed");
    repo.reopen(created.number, "gate-bot");
    repo.close_hiding_closer(created.number, "alice", "completed");

    let (closed, _) = found(github.issue(created.number, None).await.expect("get"));
    assert_eq!(closed.closed_by, None);
    let closer = github
        .last_closer_from_events(created.number)
        .await
        .expect("events");
    assert_eq!(closer.map(|user| user.login), Some("alice".into()));

    let open = create(&github, &new_issue("never closed")).await;
    assert_eq!(
        github.last_closer_from_events(open.number).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn comments_are_paginated_oldest_first_and_filtered_by_since() {
    let fake = fake().await;
    let github = client(&fake);
    let created = create(&github, &new_issue("discussion")).await;
    let repo = fake.repo(REPO);
    for n in 0..130 {
        let by = if n % 2 == 0 { "alice" } else { "tom" };
        repo.comment(created.number, by, &format!("comment {n}"));
    }
    fake.clear_log();

    let comments = github
        .comments(created.number, None)
        .await
        .expect("comments");
    assert_eq!(comments.len(), 130);
    assert_eq!(comments[0].body, "comment 0");
    assert_eq!(comments[129].body, "comment 129");
    assert!(comments.windows(2).all(|pair| pair[0].id < pair[1].id));
    assert_eq!(comments[1].user.login, "tom");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "two pages of 100");
    assert!(requests[0]
        .query
        .as_deref()
        .unwrap()
        .contains("per_page=100"));

    fake.advance_clock(Duration::from_secs(3600));
    let since = fake.now();
    repo.comment(created.number, "wendy", "/approve");
    let recent = github
        .comments(created.number, Some(since))
        .await
        .expect("recent comments");
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].body, "/approve");
    assert_eq!(recent[0].created_at, since);
}

#[tokio::test]
async fn updates_and_comments_are_sent_once_even_when_the_answer_is_a_5xx() {
    let fake = fake().await;
    let github = client(&fake);
    let created = create(&github, &new_issue("patch")).await;
    let path = format!("/repos/acme/platform/issues/{}", created.number);
    fake.inject("PATCH", &path, Fault::CommitThenStatus(502));

    let error = github
        .update_issue(created.number, false, Some("not_planned"), None)
        .await
        .unwrap_err();
    assert_eq!(exit_code(&error), 3);
    assert!(text(&error).contains("read it back"), "{}", text(&error));
    assert_eq!(fake.count("PATCH", &path), 1);
    // It did take effect: the caller finds that out by reading.
    let (issue, _) = found(github.issue(created.number, None).await.unwrap());
    assert!(!issue.open);
    assert_eq!(issue.state_reason, Some(StateReason::NotPlanned));

    let comments_path = format!("{path}/comments");
    fake.inject("POST", &comments_path, Fault::Status(503));
    let error = github.comment(created.number, "expired").await.unwrap_err();
    assert_eq!(exit_code(&error), 3);
    assert_eq!(fake.count("POST", &comments_path), 1);

    let reopened = github
        .update_issue(created.number, true, None, Some("new body"))
        .await
        .expect("reopen");
    assert!(reopened.open);
    assert_eq!(reopened.body.as_deref(), Some("new body"));
    assert_eq!(reopened.state_reason, Some(StateReason::Reopened));
    github
        .comment(created.number, "reopened by the gate")
        .await
        .expect("comment");
    assert_eq!(
        fake.repo(REPO)
            .issue(created.number)
            .unwrap()
            .comments
            .len(),
        1
    );
}

#[tokio::test]
async fn mutations_are_spaced() {
    let fake = fake().await;
    let mut config = config(fake.url(), TOKEN);
    config.mutation_spacing = Duration::from_millis(300);
    let github = client_with(config);
    let created = create(&github, &new_issue("spaced")).await;
    github.comment(created.number, "one").await.unwrap();
    github
        .update_issue(created.number, false, Some("completed"), None)
        .await
        .unwrap();
    github.comment(created.number, "two").await.unwrap();

    let times = fake.mutation_times();
    assert_eq!(times.len(), 4);
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(290), "{gap:?}");
    }
}

#[tokio::test]
async fn ensure_label_creates_once_and_accepts_a_concurrent_create() {
    let fake = fake().await;
    let github = client(&fake);
    let name = "stepkit: approval gate";
    github
        .ensure_label(name, "#0e8a16", "Approval gates")
        .await
        .expect("create");
    github
        .ensure_label(name, "0e8a16", "Approval gates")
        .await
        .expect("exists");
    assert_eq!(fake.count("POST", "/repos/acme/platform/labels"), 1);
    let label = fake
        .repo(REPO)
        .labels()
        .into_iter()
        .find(|label| label.name == name)
        .expect("the label");
    assert_eq!(label.color, "0e8a16");
    assert_eq!(label.description.as_deref(), Some("Approval gates"));

    // Someone else creates it between our read and our create.
    fake.repo(REPO).add_label("race", "ededed");
    fake.inject(
        "GET",
        "/repos/acme/platform/labels/race",
        Fault::Status(404),
    );
    github
        .ensure_label("race", "ededed", "")
        .await
        .expect("422 already_exists is fine");
    assert_eq!(fake.count("POST", "/repos/acme/platform/labels"), 2);
}

#[tokio::test]
async fn refusals_exit_5() {
    let fake = fake().await;
    let reader = client_with(config(fake.url(), READER_TOKEN));
    let github = client(&fake);
    let created = create(&github, &new_issue("not yours")).await;

    let error = reader
        .update_issue(created.number, false, Some("completed"), None)
        .await
        .unwrap_err();
    assert_eq!(exit_code(&error), 5, "{}", text(&error));
    assert!(text(&error).contains("403"), "{}", text(&error));
    let error = reader.ensure_label("new", "ededed", "").await.unwrap_err();
    assert_eq!(exit_code(&error), 5);

    let mut elsewhere = config(fake.url(), TOKEN);
    elsewhere.repo = "acme/secret".parse().unwrap();
    let error = client_with(elsewhere)
        .create_issue(&new_issue("x"))
        .await
        .unwrap_err();
    assert_eq!(exit_code(&error), 5);
    assert!(text(&error).contains("acme/secret"), "{}", text(&error));

    fake.repo(REPO).disable_issues();
    let error = github.create_issue(&new_issue("x")).await.unwrap_err();
    assert_eq!(exit_code(&error), 5);
    assert!(text(&error).contains("disabled"), "{}", text(&error));
    let error = github.issue(created.number, None).await.unwrap_err();
    assert_eq!(exit_code(&error), 5, "issues disabled is not 'gone'");
}

#[tokio::test]
async fn a_bad_token_exits_5_and_never_shows_in_any_error() {
    let fake = fake().await;
    fake.repo(REPO).create_issue("someone", "x", "", &[]);
    let github = client_with(config(fake.url(), CANARY));
    assert!(!format!("{github:?}").contains(CANARY));

    let mut errors = vec![
        github.issue(1, None).await.unwrap_err(),
        github.labelled_issues(GATE_LABEL).await.unwrap_err(),
        github.update_issue(1, false, None, None).await.unwrap_err(),
        github.comment(1, "x").await.unwrap_err(),
        github.comments(1, None).await.unwrap_err(),
        github.permission("alice").await.unwrap_err(),
        github.team_member("acme", "t", "alice").await.unwrap_err(),
        github.ensure_label("l", "ededed", "").await.unwrap_err(),
    ];
    errors.push(github.create_issue(&new_issue("x")).await.unwrap_err());
    for error in &errors {
        assert_eq!(exit_code(error), 5, "{}", text(error));
        let shown = text(error);
        assert!(shown.contains("401"), "{shown}");
        assert!(shown.contains("Bad credentials"), "{shown}");
        assert!(!shown.contains(CANARY), "{shown}");
    }
    assert!(fake
        .requests()
        .iter()
        .all(|r| r.auth == github_fake::AuthSeen::Invalid));

    // Nor in a transport error, nor in a rate-limit one.
    fake.add_token(CANARY, "gate-bot");
    fake.inject_times(
        "GET",
        "/repos/acme/platform/issues/1",
        Fault::Status(500),
        3,
    );
    let error = github.issue(1, None).await.unwrap_err();
    assert!(!text(&error).contains(CANARY));
    fake.set_bucket(CANARY, 0, Duration::from_secs(3600));
    let error = github.issue(1, None).await.unwrap_err();
    assert!(!text(&error).contains(CANARY));
}

#[tokio::test]
async fn a_real_tls_handshake_through_octocrab() {
    let fake = FakeGitHub::start_tls(test_identity()).await;
    populate(&fake);
    let github = client(&fake);
    assert!(fake.url().starts_with("https://127.0.0.1:"));

    let created = create(&github, &new_issue("over tls")).await;
    assert!(created.html_url.starts_with("https://"));
    found(
        github
            .issue(created.number, None)
            .await
            .expect("get over TLS"),
    );
    assert!(fake.handshakes() >= 1);

    // A server whose certificate nobody trusts is refused, and not retried.
    let stranger = FakeGitHub::start_tls(&TlsIdentity::self_signed()).await;
    populate(&stranger);
    let error = client(&stranger).issue(1, None).await.unwrap_err();
    assert_eq!(exit_code(&error), 3);
    assert!(text(&error).contains("not trusted"), "{}", text(&error));
    assert_eq!(stranger.handshakes(), 0);
    assert!(stranger.requests().is_empty());
}

#[tokio::test]
async fn bad_configuration_is_a_usage_error() {
    test_identity();
    for url in ["not a url", "ftp://x/api", "https://u:p@x/api/v3"] {
        let error = GitHub::new(config(url.to_owned(), TOKEN)).unwrap_err();
        assert_eq!(exit_code(&error), 2, "{url}");
    }
    let error = GitHub::new(config("https://api.github.com".into(), "")).unwrap_err();
    assert_eq!(exit_code(&error), 2);
    let two_lines = format!("{CANARY}\nsecond-line");
    let error = GitHub::new(config("https://api.github.com".into(), &two_lines)).unwrap_err();
    assert_eq!(exit_code(&error), 2);
    assert!(!text(&error).contains(CANARY), "{}", text(&error));
}
