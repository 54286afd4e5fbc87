//! A stateful fake of the GitHub REST API on 127.0.0.1, for the approval-gate tests.
//!
//! It keeps a small world (users, tokens, repositories with labels, issues, comments, events
//! and collaborators, organizations with teams, a rate-limit bucket per token, a clock tests can
//! move) and answers the endpoints the gate uses the way github.com does where our client
//! depends on it: full user objects and URLs in payloads, an `etag` on every answer and a free
//! `304` for a matching `if-none-match`, `x-ratelimit-*` headers and a 403 when a bucket is
//! empty, `Link` headers (pointing at `/repositories/{id}/...`, as GitHub's do) for pages, 401
//! for a bad token, 403 for a missing permission, labels and assignees silently dropped on
//! create without push access, 422 for an unknown assignee, 410 when issues are disabled, 301
//! for a transferred issue, 410 for a deleted one, and `closed_by` only on single-issue reads.
//! The search endpoint is there too, with an index lag, so tests can show it is never used.
//!
//! Tests act as people through the control plane ([`FakeGitHub::repo`] gives close, reopen,
//! comment, transfer, delete...), inject faults into the next matching requests
//! ([`FakeGitHub::inject`]), switch on outages ([`FakeGitHub::outage`]: N seconds of 502;
//! [`FakeGitHub::freeze`]: connections accepted and never answered), move the clock, and read
//! every request back from the log.
//! The same API is served at the root and under any prefix asked for with
//! [`FakeGitHub::url_with_prefix`] (`/api/v3`, as GitHub Enterprise Server serves it), over
//! plain HTTP or, with [`FakeGitHub::start_tls`], over TLS.
//!
//! Include it from a test file with `#[path = "support/github.rs"] mod github_fake;`.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::Router;
use reqwest::Url;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::macros::format_description;
use time::OffsetDateTime;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Requests per hour a token's core bucket holds.
pub const CORE_LIMIT: u64 = 5000;
/// Requests per minute a token's search bucket holds.
pub const SEARCH_LIMIT: u64 = 30;
/// Requests per hour without a token.
pub const ANONYMOUS_LIMIT: u64 = 60;

const DOCS: &str = "https://docs.github.com/rest";
const API_VERSION: &str = "2022-11-28";

/// A built-in repository role, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Triage => "triage",
            Role::Write => "write",
            Role::Maintain => "maintain",
            Role::Admin => "admin",
        }
    }

    /// The legacy `permission` value: maintain reads as write, triage as read.
    pub fn legacy(self) -> &'static str {
        match self {
            Role::Read | Role::Triage => "read",
            Role::Write | Role::Maintain => "write",
            Role::Admin => "admin",
        }
    }

    fn can_push(self) -> bool {
        self >= Role::Write
    }
}

/// What a collaborator holds: a built-in role, or a custom role built on one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub base: Role,
    /// `role_name` as GitHub reports it: the built-in name, or the custom role's.
    pub role_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    User,
    Bot,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    pub login: String,
    pub id: u64,
    pub kind: UserKind,
}

/// A misbehaviour applied to the next request matching a method and a path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This status (500, 502, 503...) with GitHub's error body, nothing done.
    Status(u16),
    /// 429 or 403 with `retry-after: seconds` (a secondary rate limit), nothing done.
    RetryAfter { status: u16, seconds: u64 },
    /// 403 "You have exceeded a secondary rate limit" without `retry-after`, nothing done.
    SecondaryRateLimit,
    /// 403 with `x-ratelimit-remaining: 0` and a reset `reset_in` from the fake's clock,
    /// nothing done (the bucket itself is untouched: see [`FakeGitHub::set_bucket`]).
    PrimaryRateLimit { reset_in: Duration },
    /// The connection is dropped before anything is done.
    ConnectionReset,
    /// Handled, then the answer is held back this long (past a client's timeout, it is lost).
    Slow(Duration),
    /// Handled (an issue is created, say), then answered with this status instead.
    CommitThenStatus(u16),
    /// Handled, then the connection is dropped without an answer.
    CommitThenDrop,
}

/// What the `Authorization` header held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSeen {
    Missing,
    /// A known token, of this user.
    Valid(String),
    Invalid,
}

/// One request as the fake saw it. The token itself is never kept.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    /// The API path, without any prefix (`/repos/o/r/issues/1`).
    pub path: String,
    /// The prefix it came under: `""` or `/api/v3`.
    pub prefix: String,
    pub query: Option<String>,
    /// The status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
    pub not_modified: bool,
    pub auth: AuthSeen,
    pub api_version: Option<String>,
    pub accept: Option<String>,
    pub user_agents: Vec<String>,
    pub if_none_match: Option<String>,
    pub body: Option<Value>,
    /// The fault applied, as `Debug` text.
    pub fault: Option<String>,
    /// Real time of arrival, for spacing.
    pub received_at: Instant,
    /// The fake's clock at arrival.
    pub clock: OffsetDateTime,
}

impl LoggedRequest {
    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }
}

/// A rate-limit bucket as the fake holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub limit: u64,
    pub remaining: u64,
    pub reset: OffsetDateTime,
}

impl Bucket {
    fn used(&self) -> u64 {
        self.limit - self.remaining
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeLabel {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeComment {
    pub id: u64,
    pub user: String,
    pub body: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeEvent {
    pub id: u64,
    /// `closed`, `reopened`, `labeled`...
    pub event: String,
    pub actor: String,
    pub state_reason: Option<String>,
    pub created_at: OffsetDateTime,
}

/// Where an issue is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Here,
    /// Moved to another repository (by id) under a new number.
    Transferred {
        repo_id: u64,
        number: u64,
    },
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeIssue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub open: bool,
    pub state_reason: Option<String>,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub user: String,
    pub closed_by: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    pub events: Vec<FakeEvent>,
    pub comments: Vec<FakeComment>,
    pub pull_request: bool,
    pub fate: Fate,
}

#[derive(Debug, Clone)]
struct FakeRepo {
    id: u64,
    owner: String,
    name: String,
    public: bool,
    issues_enabled: bool,
    labels: Vec<FakeLabel>,
    issues: BTreeMap<u64, FakeIssue>,
    next_number: u64,
    collaborators: BTreeMap<String, Grant>,
}

impl FakeRepo {
    fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    fn role_of(&self, login: Option<&str>) -> Option<Role> {
        let Some(login) = login else {
            return self.public.then_some(Role::Read);
        };
        if login.eq_ignore_ascii_case(&self.owner) {
            return Some(Role::Admin);
        }
        match self.collaborators.get(&login.to_ascii_lowercase()) {
            Some(grant) => Some(grant.base),
            None => self.public.then_some(Role::Read),
        }
    }

    fn grant_of(&self, login: &str) -> Option<Grant> {
        if login.eq_ignore_ascii_case(&self.owner) {
            return Some(Grant {
                base: Role::Admin,
                role_name: "admin".into(),
            });
        }
        self.collaborators
            .get(&login.to_ascii_lowercase())
            .cloned()
            .or_else(|| {
                self.public.then(|| Grant {
                    base: Role::Read,
                    role_name: "read".into(),
                })
            })
    }

    fn label(&self, name: &str) -> Option<&FakeLabel> {
        self.labels
            .iter()
            .find(|label| label.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Membership {
    active: bool,
    maintainer: bool,
}

struct FaultRule {
    method: Method,
    path_prefix: String,
    fault: Fault,
}

struct World {
    /// `http` or `https`, for the URLs in payloads.
    scheme: &'static str,
    clock_offset: time::Duration,
    next_id: u64,
    users: BTreeMap<String, FakeUser>,
    tokens: HashMap<String, String>,
    core_buckets: HashMap<String, Bucket>,
    search_buckets: HashMap<String, Bucket>,
    repos: Vec<FakeRepo>,
    /// org → team slug → login (lowercase) → membership.
    orgs: BTreeMap<String, BTreeMap<String, BTreeMap<String, Membership>>>,
    faults: VecDeque<FaultRule>,
    /// Every request meets a 502 until then (a switchable outage).
    outage_until: Option<Instant>,
    /// Requests are accepted and never answered while set (a frozen server).
    frozen: bool,
    log: Vec<LoggedRequest>,
    prefixes: Vec<String>,
    search_lag: Duration,
}

impl World {
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc() + self.clock_offset;
        now.replace_nanosecond(0).unwrap_or(now)
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn user(&self, login: &str) -> Option<&FakeUser> {
        self.users.get(&login.to_ascii_lowercase())
    }

    fn ensure_user(&mut self, login: &str, kind: UserKind) -> FakeUser {
        if let Some(user) = self.user(login) {
            return user.clone();
        }
        let user = FakeUser {
            login: login.to_owned(),
            id: self.fresh_id(),
            kind,
        };
        self.users.insert(login.to_ascii_lowercase(), user.clone());
        user
    }

    fn repo_index(&self, full_name: &str) -> Option<usize> {
        let (owner, name) = full_name.split_once('/')?;
        self.repos.iter().position(|repo| {
            repo.owner.eq_ignore_ascii_case(owner) && repo.name.eq_ignore_ascii_case(name)
        })
    }

    fn repo_mut(&mut self, full_name: &str) -> &mut FakeRepo {
        let index = self
            .repo_index(full_name)
            .unwrap_or_else(|| panic!("the fake has no repository {full_name}: add_repo first"));
        &mut self.repos[index]
    }

    fn bucket(&mut self, key: &str, search: bool) -> &mut Bucket {
        let now = self.now();
        let (limit, period) = if search {
            (SEARCH_LIMIT, time::Duration::minutes(1))
        } else if key == "anonymous" {
            (ANONYMOUS_LIMIT, time::Duration::hours(1))
        } else {
            (CORE_LIMIT, time::Duration::hours(1))
        };
        let buckets = if search {
            &mut self.search_buckets
        } else {
            &mut self.core_buckets
        };
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            limit,
            remaining: limit,
            reset: now + period,
        });
        if now >= bucket.reset {
            bucket.remaining = bucket.limit;
            bucket.reset = now + period;
        }
        bucket
    }

    fn take_fault(&mut self, method: &Method, path: &str) -> Option<Fault> {
        let index = self
            .faults
            .iter()
            .position(|rule| rule.method == *method && path.starts_with(&rule.path_prefix))?;
        self.faults.remove(index).map(|rule| rule.fault)
    }

    /// The caller's core bucket as it stands, without charging it.
    fn current_bucket(&mut self, headers: &HeaderMap) -> (Bucket, &'static str) {
        let key = token_of(headers)
            .filter(|token| self.tokens.contains_key(token))
            .unwrap_or_else(|| "anonymous".to_owned());
        (*self.bucket(&key, false), "core")
    }

    fn split_prefix(&self, path: &str) -> (String, String) {
        for prefix in &self.prefixes {
            if let Some(rest) = path.strip_prefix(prefix.as_str()) {
                if rest.is_empty() || rest.starts_with('/') {
                    return (prefix.clone(), rest.to_owned());
                }
            }
        }
        (String::new(), path.to_owned())
    }

    fn close_issue(issue: &mut FakeIssue, by: &str, reason: &str, now: OffsetDateTime, id: u64) {
        issue.open = false;
        issue.state_reason = Some(reason.to_owned());
        issue.closed_by = Some(by.to_owned());
        issue.closed_at = Some(now);
        issue.updated_at = now;
        issue.events.push(FakeEvent {
            id,
            event: "closed".into(),
            actor: by.to_owned(),
            state_reason: Some(reason.to_owned()),
            created_at: now,
        });
    }

    fn reopen_issue(issue: &mut FakeIssue, by: &str, now: OffsetDateTime, id: u64) {
        issue.open = true;
        issue.state_reason = Some("reopened".into());
        issue.closed_by = None;
        issue.closed_at = None;
        issue.updated_at = now;
        issue.events.push(FakeEvent {
            id,
            event: "reopened".into(),
            actor: by.to_owned(),
            state_reason: Some("reopened".into()),
            created_at: now,
        });
    }
}

type Shared = Arc<Mutex<World>>;

/// TLS material for [`FakeGitHub::start_tls`]: a fresh self-signed certificate for
/// `127.0.0.1` and `localhost`.
#[derive(Clone)]
pub struct TlsIdentity {
    /// The certificate, PEM: what a client must trust.
    pub cert_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl TlsIdentity {
    pub fn self_signed() -> TlsIdentity {
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("generate a self-signed certificate");
        TlsIdentity {
            cert_pem: certified.cert.pem(),
            cert_der: certified.cert.der().to_vec(),
            key_der: certified.signing_key.serialize_der(),
        }
    }
}

/// Accepts TCP connections and completes the TLS handshake before axum sees them.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    handshakes: Arc<Mutex<usize>>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, address)) = self.tcp.accept().await else {
                continue;
            };
            // A client that rejects the certificate aborts the handshake: wait for the next.
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                *self.handshakes.lock().expect("handshake counter") += 1;
                return (tls, address);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// The fake, serving until dropped.
pub struct FakeGitHub {
    address: SocketAddr,
    scheme: &'static str,
    state: Shared,
    handshakes: Arc<Mutex<usize>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A repository of the fake, to act on as people would.
pub struct RepoHandle<'a> {
    fake: &'a FakeGitHub,
    name: String,
}

impl FakeGitHub {
    /// Starts an empty fake over plain HTTP on 127.0.0.1 with a random port.
    pub async fn start() -> FakeGitHub {
        let state = FakeGitHub::empty_world("http");
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeGitHub {
            address,
            scheme: "http",
            state,
            handshakes: Arc::new(Mutex::new(0)),
            server,
        }
    }

    /// Starts an empty fake over HTTPS with `identity` (rustls with ring, named explicitly so
    /// the server does not depend on the process-wide provider the client installs).
    pub async fn start_tls(identity: &TlsIdentity) -> FakeGitHub {
        let state = FakeGitHub::empty_world("https");
        let app = Router::new().fallback(handle).with_state(state.clone());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(identity.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key_der.clone())),
        )
        .expect("a valid certificate and key");
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let address = tcp.local_addr().expect("local address");
        let handshakes = Arc::new(Mutex::new(0));
        let listener = TlsListener {
            tcp,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            handshakes: handshakes.clone(),
        };
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeGitHub {
            address,
            scheme: "https",
            state,
            handshakes,
            server,
        }
    }

    fn empty_world(scheme: &'static str) -> Shared {
        Arc::new(Mutex::new(World {
            scheme,
            clock_offset: time::Duration::ZERO,
            next_id: 1000,
            users: BTreeMap::new(),
            tokens: HashMap::new(),
            core_buckets: HashMap::new(),
            search_buckets: HashMap::new(),
            repos: Vec::new(),
            orgs: BTreeMap::new(),
            faults: VecDeque::new(),
            outage_until: None,
            frozen: false,
            log: Vec::new(),
            prefixes: Vec::new(),
            search_lag: Duration::from_secs(60),
        }))
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.state.lock().expect("fake world lock")
    }

    /// `http://127.0.0.1:<port>` (or `https://`): the API at the root, as on github.com.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.address)
    }

    /// The API under `prefix` (`/api/v3`), as GitHub Enterprise Server serves it.
    pub fn url_with_prefix(&self, prefix: &str) -> String {
        let prefix = format!("/{}", prefix.trim_matches('/'));
        let mut world = self.world();
        if !world.prefixes.contains(&prefix) {
            world.prefixes.push(prefix.clone());
        }
        format!("{}{prefix}", self.url())
    }

    /// TLS handshakes completed (for [`FakeGitHub::start_tls`]).
    pub fn handshakes(&self) -> usize {
        *self.handshakes.lock().expect("handshake counter")
    }

    // ---- the world ----

    pub fn add_user(&self, login: &str) -> FakeUser {
        self.world().ensure_user(login, UserKind::User)
    }

    pub fn add_bot(&self, login: &str) -> FakeUser {
        self.world().ensure_user(login, UserKind::Bot)
    }

    /// Makes `token` authenticate as `login` (created as a user if new).
    pub fn add_token(&self, token: &str, login: &str) {
        let mut world = self.world();
        world.ensure_user(login, UserKind::User);
        world.tokens.insert(token.to_owned(), login.to_owned());
    }

    /// Adds a private repository `owner/name` with issues enabled; the owner is its admin.
    pub fn add_repo(&self, full_name: &str) -> RepoHandle<'_> {
        let (owner, name) = full_name
            .split_once('/')
            .expect("a repository is OWNER/NAME");
        let mut world = self.world();
        world.ensure_user(owner, UserKind::User);
        if world.repo_index(full_name).is_none() {
            let id = world.fresh_id();
            world.repos.push(FakeRepo {
                id,
                owner: owner.to_owned(),
                name: name.to_owned(),
                public: false,
                issues_enabled: true,
                labels: Vec::new(),
                issues: BTreeMap::new(),
                next_number: 1,
                collaborators: BTreeMap::new(),
            });
        }
        drop(world);
        self.repo(full_name)
    }

    pub fn repo(&self, full_name: &str) -> RepoHandle<'_> {
        assert!(
            self.world().repo_index(full_name).is_some(),
            "the fake has no repository {full_name}: add_repo first"
        );
        RepoHandle {
            fake: self,
            name: full_name.to_owned(),
        }
    }

    /// Puts `login` in team `org/team`: an active member, or a pending invitation.
    pub fn add_team_member(&self, org: &str, team: &str, login: &str, active: bool) {
        let mut world = self.world();
        world.ensure_user(login, UserKind::User);
        world
            .orgs
            .entry(org.to_ascii_lowercase())
            .or_default()
            .entry(team.to_ascii_lowercase())
            .or_default()
            .insert(
                login.to_ascii_lowercase(),
                Membership {
                    active,
                    maintainer: false,
                },
            );
    }

    /// Creates team `org/team` with no members (so a lookup answers 404 for anyone).
    pub fn add_team(&self, org: &str, team: &str) {
        self.world()
            .orgs
            .entry(org.to_ascii_lowercase())
            .or_default()
            .entry(team.to_ascii_lowercase())
            .or_default();
    }

    // ---- the clock ----

    /// The fake's current time.
    pub fn now(&self) -> OffsetDateTime {
        self.world().now()
    }

    /// Moves the clock to `at` (time keeps flowing from there).
    pub fn set_clock(&self, at: OffsetDateTime) {
        let mut world = self.world();
        world.clock_offset = at - OffsetDateTime::now_utc();
    }

    pub fn advance_clock(&self, by: Duration) {
        let mut world = self.world();
        world.clock_offset += time::Duration::try_from(by).expect("a representable duration");
    }

    // ---- rate limits ----

    /// Sets `token`'s core bucket: `remaining` requests until it refills `reset_in` from now.
    pub fn set_bucket(&self, token: &str, remaining: u64, reset_in: Duration) {
        let mut world = self.world();
        let reset = world.now() + time::Duration::try_from(reset_in).expect("a duration");
        let bucket = world.bucket(token, false);
        bucket.remaining = remaining.min(bucket.limit);
        bucket.reset = reset;
    }

    /// `token`'s core bucket as it is now.
    pub fn bucket(&self, token: &str) -> Bucket {
        *self.world().bucket(token, false)
    }

    /// How long a new or changed issue takes to show in search.
    pub fn set_search_lag(&self, lag: Duration) {
        self.world().search_lag = lag;
    }

    // ---- faults ----

    /// The next request with `method` whose API path starts with `path_prefix` meets `fault`.
    /// Faults queue: inject twice for two requests.
    pub fn inject(&self, method: &str, path_prefix: &str, fault: Fault) {
        self.inject_times(method, path_prefix, fault, 1);
    }

    pub fn inject_times(&self, method: &str, path_prefix: &str, fault: Fault, times: usize) {
        let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut world = self.world();
        for _ in 0..times {
            world.faults.push_back(FaultRule {
                method: method.clone(),
                path_prefix: path_prefix.to_owned(),
                fault: fault.clone(),
            });
        }
    }

    /// From now on, for `duration`, every request is answered 502 before anything is done:
    /// GitHub, or the network in front of it, having an outage.
    pub fn outage(&self, duration: Duration) {
        self.world().outage_until = Some(Instant::now() + duration);
    }

    /// From now on, requests are accepted and never answered (a server stopped with
    /// SIGSTOP), until [`thaw`](Self::thaw).
    pub fn freeze(&self) {
        self.world().frozen = true;
    }

    /// Requests held by [`freeze`](Self::freeze) are answered, and new ones too.
    pub fn thaw(&self) {
        self.world().frozen = false;
    }

    /// Faults injected and not yet met.
    pub fn pending_faults(&self) -> usize {
        self.world().faults.len()
    }

    // ---- the log ----

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.world().log.clone()
    }

    /// Requests with this method and exactly this API path.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.world()
            .log
            .iter()
            .filter(|request| request.is(method, path))
            .count()
    }

    /// GETs answered with something other than 304: what cost quota.
    pub fn non_304_gets(&self) -> usize {
        self.world()
            .log
            .iter()
            .filter(|request| request.method == "GET" && !request.not_modified)
            .count()
    }

    pub fn search_calls(&self) -> usize {
        self.world()
            .log
            .iter()
            .filter(|request| request.path.starts_with("/search/"))
            .count()
    }

    /// Arrival times of every POST, PATCH, PUT and DELETE.
    pub fn mutation_times(&self) -> Vec<Instant> {
        self.world()
            .log
            .iter()
            .filter(|request| {
                matches!(request.method.as_str(), "POST" | "PATCH" | "PUT" | "DELETE")
            })
            .map(|request| request.received_at)
            .collect()
    }

    pub fn clear_log(&self) {
        self.world().log.clear();
    }
}

impl RepoHandle<'_> {
    fn with<T>(&self, act: impl FnOnce(&mut World, usize) -> T) -> T {
        let mut world = self.fake.world();
        let index = world.repo_index(&self.name).expect("the repository exists");
        act(&mut world, index)
    }

    fn with_issue<T>(
        &self,
        number: u64,
        act: impl FnOnce(&mut FakeIssue, OffsetDateTime, u64) -> T,
    ) -> T {
        self.with(|world, index| {
            let now = world.now();
            let id = world.fresh_id();
            let issue = world.repos[index]
                .issues
                .get_mut(&number)
                .unwrap_or_else(|| panic!("no issue #{number}"));
            act(issue, now, id)
        })
    }

    pub fn id(&self) -> u64 {
        self.with(|world, index| world.repos[index].id)
    }

    /// Gives `login` a built-in role.
    pub fn set_role(&self, login: &str, role: Role) -> &Self {
        self.set_custom_role(login, role.name(), role)
    }

    /// Gives `login` a custom role named `role_name` that grants what `base` grants.
    pub fn set_custom_role(&self, login: &str, role_name: &str, base: Role) -> &Self {
        self.with(|world, index| {
            world.ensure_user(login, UserKind::User);
            world.repos[index].collaborators.insert(
                login.to_ascii_lowercase(),
                Grant {
                    base,
                    role_name: role_name.to_owned(),
                },
            );
        });
        self
    }

    pub fn remove_role(&self, login: &str) {
        self.with(|world, index| {
            world.repos[index]
                .collaborators
                .remove(&login.to_ascii_lowercase());
        });
    }

    /// A public repository: everyone may read it and open issues.
    pub fn set_public(&self, public: bool) {
        self.with(|world, index| world.repos[index].public = public);
    }

    pub fn disable_issues(&self) {
        self.with(|world, index| world.repos[index].issues_enabled = false);
    }

    pub fn add_label(&self, name: &str, color: &str) {
        self.with(|world, index| {
            if world.repos[index].label(name).is_none() {
                let id = world.fresh_id();
                world.repos[index].labels.push(FakeLabel {
                    id,
                    name: name.to_owned(),
                    color: color.to_owned(),
                    description: None,
                });
            }
        });
    }

    pub fn labels(&self) -> Vec<FakeLabel> {
        self.with(|world, index| world.repos[index].labels.clone())
    }

    /// `by` opens an issue (no permission checks: people do this through the web UI).
    pub fn create_issue(&self, by: &str, title: &str, body: &str, labels: &[&str]) -> u64 {
        self.create(by, title, body, labels, false)
    }

    /// `by` opens a pull request, which the issues API lists too.
    pub fn create_pull_request(&self, by: &str, title: &str, labels: &[&str]) -> u64 {
        self.create(by, title, "", labels, true)
    }

    fn create(&self, by: &str, title: &str, body: &str, labels: &[&str], pull: bool) -> u64 {
        let labels: Vec<String> = labels.iter().map(|label| (*label).to_owned()).collect();
        self.with(|world, index| {
            world.ensure_user(by, UserKind::User);
            for label in &labels {
                if world.repos[index].label(label).is_none() {
                    let id = world.fresh_id();
                    world.repos[index].labels.push(FakeLabel {
                        id,
                        name: label.clone(),
                        color: "ededed".into(),
                        description: None,
                    });
                }
            }
            new_issue(
                world,
                index,
                by,
                title,
                Some(body.to_owned()),
                labels,
                Vec::new(),
                pull,
            )
        })
    }

    /// `by` closes issue `number` with `reason` (any string: GitHub may add new ones).
    pub fn close(&self, number: u64, by: &str, reason: &str) {
        self.fake.world().ensure_user(by, UserKind::User);
        self.with_issue(number, |issue, now, id| {
            World::close_issue(issue, by, reason, now, id)
        });
    }

    /// Like [`RepoHandle::close`], but GitHub reports `closed_by: null` (it does, sometimes);
    /// the events still name `by`.
    pub fn close_hiding_closer(&self, number: u64, by: &str, reason: &str) {
        self.close(number, by, reason);
        self.with_issue(number, |issue, _, _| issue.closed_by = None);
    }

    pub fn reopen(&self, number: u64, by: &str) {
        self.fake.world().ensure_user(by, UserKind::User);
        self.with_issue(number, |issue, now, id| {
            World::reopen_issue(issue, by, now, id)
        });
    }

    /// `by` comments on issue `number`; returns the comment's id.
    pub fn comment(&self, number: u64, by: &str, text: &str) -> u64 {
        self.fake.world().ensure_user(by, UserKind::User);
        self.with_issue(number, |issue, now, id| {
            issue.comments.push(FakeComment {
                id,
                user: by.to_owned(),
                body: text.to_owned(),
                created_at: now,
                updated_at: now,
            });
            issue.updated_at = now;
            id
        })
    }

    pub fn edit_body(&self, number: u64, body: &str) {
        self.with_issue(number, |issue, now, _| {
            issue.body = Some(body.to_owned());
            issue.updated_at = now;
        });
    }

    /// Moves issue `number` to `to_repo` (which must exist); returns its new number there.
    /// The old address answers 301 from now on.
    pub fn transfer(&self, number: u64, to_repo: &str) -> u64 {
        self.with(|world, index| {
            let target = world
                .repo_index(to_repo)
                .unwrap_or_else(|| panic!("no repository {to_repo} to transfer to"));
            let mut moved = world.repos[index]
                .issues
                .get(&number)
                .cloned()
                .unwrap_or_else(|| panic!("no issue #{number}"));
            let new_number = world.repos[target].next_number;
            world.repos[target].next_number += 1;
            moved.number = new_number;
            moved.id = world.fresh_id();
            moved.updated_at = world.now();
            world.repos[target].issues.insert(new_number, moved);
            let repo_id = world.repos[target].id;
            if let Some(issue) = world.repos[index].issues.get_mut(&number) {
                issue.fate = Fate::Transferred {
                    repo_id,
                    number: new_number,
                };
            }
            new_number
        })
    }

    /// Deletes issue `number`: it answers 410 and leaves every listing.
    pub fn delete(&self, number: u64) {
        self.with_issue(number, |issue, _, _| issue.fate = Fate::Deleted);
    }

    pub fn issue(&self, number: u64) -> Option<FakeIssue> {
        self.with(|world, index| world.repos[index].issues.get(&number).cloned())
    }

    /// Every issue and pull request still here (not transferred or deleted).
    pub fn issues(&self) -> Vec<FakeIssue> {
        self.with(|world, index| {
            world.repos[index]
                .issues
                .values()
                .filter(|issue| issue.fate == Fate::Here)
                .cloned()
                .collect()
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn new_issue(
    world: &mut World,
    index: usize,
    by: &str,
    title: &str,
    body: Option<String>,
    labels: Vec<String>,
    assignees: Vec<String>,
    pull_request: bool,
) -> u64 {
    let now = world.now();
    let id = world.fresh_id();
    let repo = &mut world.repos[index];
    let number = repo.next_number;
    repo.next_number += 1;
    repo.issues.insert(
        number,
        FakeIssue {
            id,
            number,
            title: title.to_owned(),
            body,
            open: true,
            state_reason: None,
            labels,
            assignees,
            user: by.to_owned(),
            closed_by: None,
            created_at: now,
            updated_at: now,
            closed_at: None,
            events: Vec::new(),
            comments: Vec::new(),
            pull_request,
            fate: Fate::Here,
        },
    );
    number
}

// ---- serving ----

/// A request as the router sees it.
struct Incoming {
    method: Method,
    /// Percent-decoded segments of the API path.
    segments: Vec<String>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Option<Value>,
    /// Whose valid token came with it.
    login: Option<String>,
    /// `http://127.0.0.1:PORT` + the prefix: where API URLs in payloads point.
    api_base: String,
    /// `http://127.0.0.1:PORT`: where `html_url`s point.
    html_base: String,
}

impl Incoming {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// An answer before the fake's common headers are added.
struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    fn message(status: u16, message: &str) -> Reply {
        Reply::json(
            status,
            json!({"message": message, "documentation_url": DOCS, "status": status.to_string()}),
        )
    }

    fn not_found() -> Reply {
        Reply::message(404, "Not Found")
    }

    fn validation(errors: Value) -> Reply {
        Reply::json(
            422,
            json!({"message": "Validation Failed", "errors": errors, "documentation_url": DOCS, "status": "422"}),
        )
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    while shared.lock().expect("fake world lock").frozen {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received_at = Instant::now();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let (mut entry, fault, incoming) = {
        let mut world = shared.lock().expect("fake world lock");
        let (prefix, path) = world.split_prefix(uri.path());
        let in_outage = world
            .outage_until
            .is_some_and(|until| Instant::now() < until);
        let fault = if in_outage {
            Some(Fault::Status(502))
        } else {
            world.take_fault(&method, &path)
        };
        let host = headers
            .get("host")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("127.0.0.1")
            .to_owned();
        let html_base = format!("{}://{host}", world.scheme);
        let body_json: Option<Value> = serde_json::from_slice(&body).ok();
        let auth = world_auth(&world, &headers);
        let entry = LoggedRequest {
            method: method.to_string(),
            path: path.clone(),
            prefix: prefix.clone(),
            query: uri.query().map(str::to_owned),
            status: None,
            not_modified: false,
            auth: auth.clone(),
            api_version: header("x-github-api-version"),
            accept: header("accept"),
            user_agents: headers
                .get_all("user-agent")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .map(str::to_owned)
                .collect(),
            if_none_match: header("if-none-match"),
            body: body_json.clone(),
            fault: fault.as_ref().map(|fault| format!("{fault:?}")),
            received_at,
            clock: world.now(),
        };
        let incoming = Incoming {
            method: method.clone(),
            segments: path
                .split('/')
                .filter(|segment| !segment.is_empty())
                .map(percent_decode)
                .collect(),
            query: parse_query(uri.query()),
            headers: headers.clone(),
            body: body_json,
            login: match auth {
                AuthSeen::Valid(login) => Some(login),
                _ => None,
            },
            api_base: format!("{html_base}{prefix}"),
            html_base,
        };
        (entry, fault, incoming)
    };

    let log = |entry: LoggedRequest| {
        shared.lock().expect("fake world lock").log.push(entry);
    };

    // Faults that strike before anything is done.
    let early = match &fault {
        Some(Fault::ConnectionReset) => {
            log(entry);
            drop_connection();
        }
        Some(Fault::Status(status)) => Some(server_error(*status)),
        Some(Fault::RetryAfter { status, seconds }) => {
            Some(secondary_limit(*status).header("retry-after", seconds.to_string()))
        }
        Some(Fault::SecondaryRateLimit) => Some(secondary_limit(403)),
        Some(Fault::PrimaryRateLimit { reset_in }) => {
            let world = shared.lock().expect("fake world lock");
            let reset = world.now() + time::Duration::try_from(*reset_in).expect("a duration");
            Some(primary_limit(&world, &incoming, reset))
        }
        _ => None,
    };
    let (status, not_modified, response) = match early {
        Some(reply) => {
            let mut world = shared.lock().expect("fake world lock");
            let bucket = world.current_bucket(&incoming.headers);
            finish(&world, reply, Some(bucket))
        }
        None => {
            let mut world = shared.lock().expect("fake world lock");
            serve(&mut world, &incoming)
        }
    };
    entry.status = Some(status);
    entry.not_modified = not_modified;

    match fault {
        Some(Fault::Slow(delay)) => {
            log(entry);
            tokio::time::sleep(delay).await;
            response
        }
        Some(Fault::CommitThenStatus(code)) => {
            entry.status = Some(code);
            entry.not_modified = false;
            log(entry);
            let mut world = shared.lock().expect("fake world lock");
            let bucket = world.current_bucket(&incoming.headers);
            finish(&world, server_error(code), Some(bucket)).2
        }
        Some(Fault::CommitThenDrop) => {
            entry.status = None;
            entry.not_modified = false;
            log(entry);
            drop_connection();
        }
        _ => {
            log(entry);
            response
        }
    }
}

fn world_auth(world: &World, headers: &HeaderMap) -> AuthSeen {
    match token_of(headers) {
        None => AuthSeen::Missing,
        Some(token) => match world.tokens.get(&token) {
            Some(login) => AuthSeen::Valid(login.clone()),
            None => AuthSeen::Invalid,
        },
    }
}

/// The token of `Authorization: Bearer X` or `token X`.
fn token_of(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim().to_owned())
}

/// Ends the connection without an answer. Unwinding the connection's task makes hyper close
/// the socket; `resume_unwind` skips the panic hook, so nothing is printed.
fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("fake github: connection dropped on purpose"))
}

fn server_error(status: u16) -> Reply {
    let message = match status {
        502 => "Server Error",
        503 => "Service Unavailable",
        504 => "We couldn't respond to your request in time. Sorry about that. Please try resubmitting your request and contact us if the problem persists.",
        _ => "Internal Server Error",
    };
    Reply::json(status, json!({"message": message}))
}

fn secondary_limit(status: u16) -> Reply {
    Reply::message(
        status,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:FAKE.",
    )
}

fn primary_limit(world: &World, incoming: &Incoming, reset: OffsetDateTime) -> Reply {
    let id = match world_auth(world, &incoming.headers) {
        AuthSeen::Valid(login) => world.user(&login).map_or(0, |user| user.id),
        _ => 0,
    };
    Reply::message(
        403,
        &format!("API rate limit exceeded for user ID {id}. If you reach out to GitHub Support for help, please include the request ID 0000:FAKE."),
    )
    .header("x-ratelimit-limit", CORE_LIMIT.to_string())
    .header("x-ratelimit-remaining", "0")
    .header("x-ratelimit-used", CORE_LIMIT.to_string())
    .header("x-ratelimit-reset", reset.unix_timestamp().to_string())
    .header("x-ratelimit-resource", "core")
}

/// Authenticates, charges the bucket, routes, and applies `if-none-match`.
fn serve(world: &mut World, incoming: &Incoming) -> (u16, bool, Response) {
    let token = token_of(&incoming.headers);
    let login = match &token {
        None => None,
        Some(token) => match world.tokens.get(token) {
            Some(login) => Some(login.clone()),
            None => {
                // Failed logins count against the anonymous limit.
                let bucket = *world.bucket("anonymous", false);
                return finish(
                    world,
                    Reply::message(401, "Bad credentials"),
                    Some((bucket, "core")),
                );
            }
        },
    };
    let bucket_key = token.unwrap_or_else(|| "anonymous".to_owned());
    let segments: Vec<&str> = incoming.segments.iter().map(String::as_str).collect();
    if segments == ["rate_limit"] {
        // Free, as on GitHub.
        let reply = rate_limit_status(world, &bucket_key);
        let bucket = *world.bucket(&bucket_key, false);
        return finish(world, reply, Some((bucket, "core")));
    }
    let search = segments.first() == Some(&"search");
    let resource = if search { "search" } else { "core" };
    if world.bucket(&bucket_key, search).remaining == 0 {
        let reset = world.bucket(&bucket_key, search).reset;
        let reply = primary_limit(world, incoming, reset);
        let bucket = *world.bucket(&bucket_key, search);
        return finish(world, reply, Some((bucket, resource)));
    }

    let reply = route(world, incoming, login.as_deref(), &segments);

    // A conditional GET that matches costs nothing.
    if incoming.method == Method::GET && reply.status == 200 {
        let etag = etag_of(&reply);
        if let Some(wanted) = incoming.header("if-none-match") {
            if etag_matches(wanted, &etag) {
                let bucket = *world.bucket(&bucket_key, search);
                let not_modified = Reply {
                    status: 304,
                    body: None,
                    headers: reply.headers,
                }
                .header("etag", etag);
                return finish(world, not_modified, Some((bucket, resource)));
            }
        }
    }
    let bucket = {
        let bucket = world.bucket(&bucket_key, search);
        bucket.remaining -= 1;
        *bucket
    };
    finish(world, reply, Some((bucket, resource)))
}

/// The common headers, the body and the `etag`; `(status, was a 304, response)`.
fn finish(world: &World, reply: Reply, bucket: Option<(Bucket, &str)>) -> (u16, bool, Response) {
    let body = reply
        .body
        .as_ref()
        .map(|body| serde_json::to_vec_pretty(body).expect("JSON serializes"))
        .unwrap_or_default();
    let mut response = Response::builder().status(reply.status);
    let date = SystemTime::from(world.now());
    response = response
        .header("date", httpdate::fmt_http_date(date))
        .header("x-github-api-version-selected", API_VERSION)
        .header("x-github-media-type", "github.v3; format=json")
        .header("x-github-request-id", "0000:FAKE");
    if reply.body.is_some() {
        response = response.header("content-type", "application/json; charset=utf-8");
        let success = (200..300).contains(&reply.status);
        if success && !reply.headers.iter().any(|(name, _)| name == "etag") {
            response = response.header("etag", etag_of_bytes(&body));
        }
    }
    let has_rate_headers = reply
        .headers
        .iter()
        .any(|(name, _)| name == "x-ratelimit-remaining");
    if let (Some((bucket, resource)), false) = (bucket, has_rate_headers) {
        response = response
            .header("x-ratelimit-limit", bucket.limit.to_string())
            .header("x-ratelimit-remaining", bucket.remaining.to_string())
            .header("x-ratelimit-used", bucket.used().to_string())
            .header(
                "x-ratelimit-reset",
                bucket.reset.unix_timestamp().to_string(),
            )
            .header("x-ratelimit-resource", resource);
    }
    for (name, value) in &reply.headers {
        response = response.header(name.as_str(), value.as_str());
    }
    let status = reply.status;
    let response = response.body(Body::from(body)).expect("a valid response");
    (status, status == 304, response)
}

fn etag_of(reply: &Reply) -> String {
    let body = reply
        .body
        .as_ref()
        .map(|body| serde_json::to_vec_pretty(body).expect("JSON serializes"))
        .unwrap_or_default();
    etag_of_bytes(&body)
}

/// A weak ETag over the body, as GitHub sends for most JSON answers.
fn etag_of_bytes(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("W/\"{hex}\"")
}

/// `if-none-match` comparison: weak, over a list, with `*`.
fn etag_matches(wanted: &str, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    wanted
        .split(',')
        .any(|candidate| candidate.trim() == "*" || opaque(candidate) == opaque(etag))
}

fn route(world: &mut World, incoming: &Incoming, login: Option<&str>, segments: &[&str]) -> Reply {
    let method = &incoming.method;
    match segments {
        ["user"] if *method == Method::GET => match login {
            Some(login) => {
                let mut user = user_json(world, login, incoming);
                user["name"] = json!(login);
                Reply::json(200, user)
            }
            None => Reply::message(401, "Requires authentication"),
        },
        ["search", "issues"] if *method == Method::GET => search_issues(world, incoming, login),
        ["repos", owner, name, rest @ ..] => match world.repo_index(&format!("{owner}/{name}")) {
            Some(index) => repo_route(world, incoming, login, index, rest),
            None => Reply::not_found(),
        },
        ["repositories", id, rest @ ..] => {
            let index = id
                .parse::<u64>()
                .ok()
                .and_then(|id| world.repos.iter().position(|repo| repo.id == id));
            match index {
                Some(index) => repo_route(world, incoming, login, index, rest),
                None => Reply::not_found(),
            }
        }
        ["orgs", org, "teams", team, "memberships", member] if *method == Method::GET => {
            if login.is_none() {
                return Reply::message(401, "Requires authentication");
            }
            let membership = world
                .orgs
                .get(&org.to_ascii_lowercase())
                .and_then(|teams| teams.get(&team.to_ascii_lowercase()))
                .and_then(|members| members.get(&member.to_ascii_lowercase()));
            match membership {
                Some(membership) => Reply::json(
                    200,
                    json!({
                        "url": format!("{}/orgs/{org}/teams/{team}/memberships/{member}", incoming.api_base),
                        "role": if membership.maintainer { "maintainer" } else { "member" },
                        "state": if membership.active { "active" } else { "pending" },
                    }),
                ),
                None => Reply::not_found(),
            }
        }
        _ => Reply::not_found(),
    }
}

fn repo_route(
    world: &mut World,
    incoming: &Incoming,
    login: Option<&str>,
    index: usize,
    rest: &[&str],
) -> Reply {
    let method = &incoming.method;
    // A private repository the caller cannot see does not exist, as far as GitHub says.
    let Some(role) = world.repos[index].role_of(login) else {
        return Reply::not_found();
    };
    if *method != Method::GET && login.is_none() {
        return Reply::message(401, "Requires authentication");
    }
    let issues_endpoint = rest.first() == Some(&"issues");
    if issues_endpoint && !world.repos[index].issues_enabled {
        return Reply::message(410, "Issues are disabled for this repo");
    }
    let number = |text: &str| text.parse::<u64>().ok();
    match rest {
        [] if *method == Method::GET => Reply::json(200, repo_json(world, index, incoming)),
        ["issues"] if *method == Method::GET => list_issues(world, incoming, index),
        ["issues"] if *method == Method::POST => {
            create_issue(world, incoming, login.unwrap_or_default(), role, index)
        }
        ["issues", n] => match number(n) {
            Some(n) if *method == Method::GET => get_issue(world, incoming, index, n),
            Some(n) if *method == Method::PATCH => {
                edit_issue(world, incoming, login.unwrap_or_default(), role, index, n)
            }
            _ => Reply::not_found(),
        },
        ["issues", n, "comments"] => match number(n) {
            Some(n) if *method == Method::GET => list_comments(world, incoming, index, n),
            Some(n) if *method == Method::POST => {
                create_comment(world, incoming, login.unwrap_or_default(), index, n)
            }
            _ => Reply::not_found(),
        },
        ["issues", n, "events"] if *method == Method::GET => match number(n) {
            Some(n) => list_events(world, incoming, index, n),
            None => Reply::not_found(),
        },
        ["labels"] if *method == Method::GET => {
            let labels: Vec<Value> = world.repos[index]
                .labels
                .iter()
                .map(|label| label_json(&world.repos[index], label, incoming))
                .collect();
            paged(
                labels,
                incoming,
                &link_base(world, index, incoming, "labels"),
            )
        }
        ["labels"] if *method == Method::POST => create_label(world, incoming, role, index),
        ["labels", name] if *method == Method::GET => match world.repos[index].label(name) {
            Some(label) => Reply::json(200, label_json(&world.repos[index], label, incoming)),
            None => Reply::not_found(),
        },
        ["collaborators", user, "permission"] if *method == Method::GET => {
            collaborator_permission(world, incoming, index, user)
        }
        _ => Reply::not_found(),
    }
}

/// The issue numbered `number` here, or the answer for one that is not: 404 if it never was
/// (or moved where the caller cannot look), 301 to its new place, 410 if deleted.
fn present_issue(
    world: &World,
    incoming: &Incoming,
    index: usize,
    number: u64,
) -> Result<(), Reply> {
    let Some(issue) = world.repos[index].issues.get(&number) else {
        return Err(Reply::not_found());
    };
    match issue.fate {
        Fate::Here => Ok(()),
        Fate::Deleted => Err(Reply::message(410, "This issue was deleted")),
        Fate::Transferred { repo_id, number } => {
            let readable = world
                .repos
                .iter()
                .find(|repo| repo.id == repo_id)
                .is_some_and(|repo| repo.role_of(incoming.login.as_deref()).is_some());
            if !readable {
                return Err(Reply::not_found());
            }
            let location = format!(
                "{}/repositories/{repo_id}/issues/{number}",
                incoming.api_base
            );
            Err(Reply::json(
                301,
                json!({"message": "Moved Permanently", "url": location, "documentation_url": DOCS}),
            )
            .header("location", location))
        }
    }
}

fn get_issue(world: &World, incoming: &Incoming, index: usize, number: u64) -> Reply {
    if let Err(reply) = present_issue(world, incoming, index, number) {
        return reply;
    }
    let issue = &world.repos[index].issues[&number];
    Reply::json(200, issue_json(world, index, issue, incoming, true))
}

fn list_issues(world: &World, incoming: &Incoming, index: usize) -> Reply {
    let repo = &world.repos[index];
    let state = incoming.param("state").unwrap_or("open");
    let wanted_labels: Vec<String> = incoming
        .param("labels")
        .map(|labels| {
            labels
                .split(',')
                .map(|label| label.trim().to_ascii_lowercase())
                .filter(|label| !label.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let creator = incoming.param("creator");
    let since = incoming.param("since").and_then(parse_time);
    let mut issues: Vec<&FakeIssue> = repo
        .issues
        .values()
        .filter(|issue| issue.fate == Fate::Here)
        .filter(|issue| match state {
            "all" => true,
            "closed" => !issue.open,
            _ => issue.open,
        })
        .filter(|issue| {
            wanted_labels.iter().all(|wanted| {
                issue
                    .labels
                    .iter()
                    .any(|label| label.to_ascii_lowercase() == *wanted)
            })
        })
        .filter(|issue| creator.is_none_or(|creator| issue.user.eq_ignore_ascii_case(creator)))
        .filter(|issue| since.is_none_or(|since| issue.updated_at >= since))
        .collect();
    let key = |issue: &FakeIssue| match incoming.param("sort").unwrap_or("created") {
        "updated" => (issue.updated_at, issue.number),
        "comments" => (
            OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(issue.comments.len() as i64),
            issue.number,
        ),
        _ => (issue.created_at, issue.number),
    };
    issues.sort_by_key(|issue| key(issue));
    if incoming.param("direction").unwrap_or("desc") != "asc" {
        issues.reverse();
    }
    let items: Vec<Value> = issues
        .into_iter()
        .map(|issue| issue_json(world, index, issue, incoming, false))
        .collect();
    paged(
        items,
        incoming,
        &link_base(world, index, incoming, "issues"),
    )
}

fn create_issue(
    world: &mut World,
    incoming: &Incoming,
    login: &str,
    role: Role,
    index: usize,
) -> Reply {
    let body = incoming.body.clone().unwrap_or(Value::Null);
    let Some(title) = body
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
    else {
        return Reply::message(422, "Invalid request.\n\n\"title\" wasn't supplied.");
    };
    let strings = |key: &str| -> Vec<String> {
        body.get(key)
            .and_then(Value::as_array)
            .map(|values| {
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (mut labels, mut assignees) = (strings("labels"), strings("assignees"));
    if !role.can_push() {
        // GitHub drops them without a word for callers without push access.
        labels.clear();
        assignees.clear();
    }
    let unknown: Vec<Value> = assignees
        .iter()
        .filter(|assignee| {
            world.user(assignee).is_none() || world.repos[index].grant_of(assignee).is_none()
        })
        .map(|assignee| {
            json!({"value": assignee, "resource": "Issue", "field": "assignees", "code": "invalid"})
        })
        .collect();
    if !unknown.is_empty() {
        return Reply::validation(Value::Array(unknown));
    }
    // Labels that do not exist yet are created, as GitHub does for pushers.
    let mut names = Vec::new();
    for label in labels {
        match world.repos[index].label(&label) {
            Some(existing) => names.push(existing.name.clone()),
            None => {
                let id = world.fresh_id();
                world.repos[index].labels.push(FakeLabel {
                    id,
                    name: label.clone(),
                    color: "ededed".into(),
                    description: None,
                });
                names.push(label);
            }
        }
    }
    let issue_body = body.get("body").and_then(Value::as_str).map(str::to_owned);
    let number = new_issue(
        world, index, login, title, issue_body, names, assignees, false,
    );
    let issue = &world.repos[index].issues[&number];
    let json = issue_json(world, index, issue, incoming, true);
    let location = json["url"].as_str().unwrap_or_default().to_owned();
    Reply::json(201, json).header("location", location)
}

fn edit_issue(
    world: &mut World,
    incoming: &Incoming,
    login: &str,
    role: Role,
    index: usize,
    number: u64,
) -> Reply {
    if let Err(reply) = present_issue(world, incoming, index, number) {
        return reply;
    }
    let body = incoming.body.clone().unwrap_or(Value::Null);
    let author = world.repos[index].issues[&number]
        .user
        .eq_ignore_ascii_case(login);
    if !author && role < Role::Triage {
        return Reply::message(403, "Must have admin rights to Repository.");
    }
    let state = match body.get("state") {
        None | Some(Value::Null) => None,
        Some(Value::String(state)) if state == "open" || state == "closed" => Some(state.clone()),
        Some(_) => {
            return Reply::validation(
                json!([{"resource": "Issue", "field": "state", "code": "invalid"}]),
            )
        }
    };
    let reason = match body.get("state_reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(reason))
            if ["completed", "not_planned", "reopened", "duplicate"].contains(&reason.as_str()) =>
        {
            Some(reason.clone())
        }
        Some(_) => {
            return Reply::validation(
                json!([{"resource": "Issue", "field": "state_reason", "code": "invalid"}]),
            )
        }
    };
    let now = world.now();
    let event_id = world.fresh_id();
    let issue = world.repos[index]
        .issues
        .get_mut(&number)
        .expect("checked above");
    if let Some(title) = body.get("title").and_then(Value::as_str) {
        issue.title = title.to_owned();
    }
    if let Some(text) = body.get("body") {
        issue.body = text.as_str().map(str::to_owned);
    }
    if role >= Role::Triage {
        if let Some(labels) = body.get("labels").and_then(Value::as_array) {
            issue.labels = labels
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
        }
    }
    // state_reason is ignored unless the state changes, as GitHub documents.
    match state.as_deref() {
        Some("closed") if issue.open => World::close_issue(
            issue,
            login,
            reason.as_deref().unwrap_or("completed"),
            now,
            event_id,
        ),
        Some("open") if !issue.open => World::reopen_issue(issue, login, now, event_id),
        _ => {}
    }
    issue.updated_at = now;
    let issue = &world.repos[index].issues[&number];
    Reply::json(200, issue_json(world, index, issue, incoming, true))
}

fn list_comments(world: &World, incoming: &Incoming, index: usize, number: u64) -> Reply {
    if let Err(reply) = present_issue(world, incoming, index, number) {
        return reply;
    }
    let since = incoming.param("since").and_then(parse_time);
    let issue = &world.repos[index].issues[&number];
    let items: Vec<Value> = issue
        .comments
        .iter()
        .filter(|comment| since.is_none_or(|since| comment.updated_at >= since))
        .map(|comment| comment_json(world, index, issue, comment, incoming))
        .collect();
    let base = link_base(world, index, incoming, &format!("issues/{number}/comments"));
    paged(items, incoming, &base)
}

fn create_comment(
    world: &mut World,
    incoming: &Incoming,
    login: &str,
    index: usize,
    number: u64,
) -> Reply {
    if let Err(reply) = present_issue(world, incoming, index, number) {
        return reply;
    }
    let Some(text) = incoming
        .body
        .as_ref()
        .and_then(|body| body.get("body"))
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Reply::message(422, "Invalid request.\n\n\"body\" wasn't supplied.");
    };
    let now = world.now();
    let id = world.fresh_id();
    let issue = world.repos[index]
        .issues
        .get_mut(&number)
        .expect("checked above");
    issue.comments.push(FakeComment {
        id,
        user: login.to_owned(),
        body: text,
        created_at: now,
        updated_at: now,
    });
    issue.updated_at = now;
    let issue = &world.repos[index].issues[&number];
    let comment = issue.comments.last().expect("just pushed");
    let json = comment_json(world, index, issue, comment, incoming);
    let location = json["url"].as_str().unwrap_or_default().to_owned();
    Reply::json(201, json).header("location", location)
}

fn list_events(world: &World, incoming: &Incoming, index: usize, number: u64) -> Reply {
    if let Err(reply) = present_issue(world, incoming, index, number) {
        return reply;
    }
    let repo = &world.repos[index];
    let items: Vec<Value> = repo.issues[&number]
        .events
        .iter()
        .map(|event| {
            json!({
                "id": event.id,
                "node_id": format!("CE_fake{}", event.id),
                "url": format!("{}/repos/{}/issues/events/{}", incoming.api_base, repo.full_name(), event.id),
                "actor": user_json(world, &event.actor, incoming),
                "event": event.event,
                "commit_id": null,
                "commit_url": null,
                "created_at": format_time(event.created_at),
                "state_reason": event.state_reason,
                "performed_via_github_app": null,
            })
        })
        .collect();
    let base = link_base(world, index, incoming, &format!("issues/{number}/events"));
    paged(items, incoming, &base)
}

fn create_label(world: &mut World, incoming: &Incoming, role: Role, index: usize) -> Reply {
    if !role.can_push() {
        return Reply::message(403, "Must have push access to repository");
    }
    let body = incoming.body.clone().unwrap_or(Value::Null);
    let Some(name) = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return Reply::validation(
            json!([{"resource": "Label", "field": "name", "code": "missing_field"}]),
        );
    };
    let color = body
        .get("color")
        .and_then(Value::as_str)
        .unwrap_or("ededed")
        .trim_start_matches('#')
        .to_owned();
    if color.len() != 6 || !color.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Reply::validation(
            json!([{"resource": "Label", "field": "color", "code": "invalid"}]),
        );
    }
    if world.repos[index].label(name).is_some() {
        return Reply::validation(
            json!([{"resource": "Label", "code": "already_exists", "field": "name"}]),
        );
    }
    let id = world.fresh_id();
    let label = FakeLabel {
        id,
        name: name.to_owned(),
        color,
        description: body
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    let json = label_json(&world.repos[index], &label, incoming);
    world.repos[index].labels.push(label);
    Reply::json(201, json)
}

fn collaborator_permission(world: &World, incoming: &Incoming, index: usize, login: &str) -> Reply {
    if world.user(login).is_none() {
        return Reply::message(404, &format!("{login} is not a user"));
    }
    let grant = world.repos[index].grant_of(login);
    let (permission, role_name) = match &grant {
        Some(grant) => (grant.base.legacy(), grant.role_name.clone()),
        None => ("none", "none".to_owned()),
    };
    let mut user = user_json(world, login, incoming);
    let base = grant.as_ref().map(|grant| grant.base);
    user["permissions"] = json!({
        "admin": base >= Some(Role::Admin),
        "maintain": base >= Some(Role::Maintain),
        "push": base >= Some(Role::Write),
        "triage": base >= Some(Role::Triage),
        "pull": base >= Some(Role::Read),
    });
    user["role_name"] = json!(role_name);
    Reply::json(
        200,
        json!({"permission": permission, "role_name": role_name, "user": user}),
    )
}

fn search_issues(world: &World, incoming: &Incoming, login: Option<&str>) -> Reply {
    let query = incoming.param("q").unwrap_or_default().to_owned();
    let mut repo_filter = None;
    let mut labels = Vec::new();
    let mut state = None;
    let mut words = Vec::new();
    for term in split_search_terms(&query) {
        match term.split_once(':') {
            Some(("repo", repo)) => repo_filter = Some(repo.to_owned()),
            Some(("label", label)) => labels.push(label.trim_matches('"').to_ascii_lowercase()),
            Some(("state", value)) | Some(("is", value))
                if value == "open" || value == "closed" =>
            {
                state = Some(value == "open")
            }
            Some(("is", _)) | Some(("type", _)) | Some(("in", _)) => {}
            _ => words.push(term.trim_matches('"').to_ascii_lowercase()),
        }
    }
    let lag = time::Duration::try_from(world.search_lag).unwrap_or(time::Duration::ZERO);
    let indexed_before = world.now() - lag;
    let mut items = Vec::new();
    for (index, repo) in world.repos.iter().enumerate() {
        if repo_filter
            .as_deref()
            .is_some_and(|wanted| !wanted.eq_ignore_ascii_case(&repo.full_name()))
            || repo.role_of(login).is_none()
        {
            continue;
        }
        for issue in repo.issues.values() {
            let text = format!("{} {}", issue.title, issue.body.clone().unwrap_or_default())
                .to_ascii_lowercase();
            let visible = issue.fate == Fate::Here
                && issue.updated_at <= indexed_before
                && state.is_none_or(|open| issue.open == open)
                && labels.iter().all(|wanted| {
                    issue
                        .labels
                        .iter()
                        .any(|l| l.to_ascii_lowercase() == *wanted)
                })
                && words.iter().all(|word| text.contains(word.as_str()));
            if visible {
                let mut json = issue_json(world, index, issue, incoming, false);
                json["score"] = json!(1.0);
                items.push(json);
            }
        }
    }
    Reply::json(
        200,
        json!({"total_count": items.len(), "incomplete_results": false, "items": items}),
    )
}

/// Search terms, keeping `"quoted phrases"` and `label:"a b"` whole.
fn split_search_terms(query: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in query.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    terms.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        terms.push(current);
    }
    terms
}

fn rate_limit_status(world: &mut World, key: &str) -> Reply {
    let core = *world.bucket(key, false);
    let search = *world.bucket(key, true);
    let resource = |bucket: Bucket, name: &str| {
        json!({
            "limit": bucket.limit,
            "remaining": bucket.remaining,
            "reset": bucket.reset.unix_timestamp(),
            "used": bucket.used(),
            "resource": name,
        })
    };
    Reply::json(
        200,
        json!({
            "resources": {"core": resource(core, "core"), "search": resource(search, "search")},
            "rate": resource(core, "core"),
        }),
    )
}

/// `items` cut to the requested page, with GitHub's `Link` header (first/prev/next/last).
fn paged(items: Vec<Value>, incoming: &Incoming, link_base: &str) -> Reply {
    let per_page = incoming
        .param("per_page")
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = incoming
        .param("page")
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut reply = Reply::json(200, Value::Array(slice));
    let link_to = |target: usize| {
        let mut url = Url::parse(link_base).expect("a link base URL");
        {
            let mut query = url.query_pairs_mut();
            query.clear();
            for (key, value) in &incoming.query {
                if key != "page" {
                    query.append_pair(key, value);
                }
            }
            query.append_pair("page", &target.to_string());
        }
        url.to_string()
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", link_to(page - 1)));
    }
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", link_to(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", link_to(last)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"first\"", link_to(1)));
    }
    if !links.is_empty() {
        reply = reply.header("link", links.join(", "));
    }
    reply
}

/// Where GitHub's page links for a repository listing point: `/repositories/{id}/...`.
fn link_base(world: &World, index: usize, incoming: &Incoming, rest: &str) -> String {
    format!(
        "{}/repositories/{}/{rest}",
        incoming.api_base, world.repos[index].id
    )
}

// ---- payloads ----

fn user_json(world: &World, login: &str, incoming: &Incoming) -> Value {
    let (login, id, kind) = match world.user(login) {
        Some(user) => (user.login.clone(), user.id, user.kind),
        // GitHub shows a deleted account as "ghost".
        None => ("ghost".to_owned(), 10_137, UserKind::User),
    };
    let api = format!("{}/users/{login}", incoming.api_base);
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_fake{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{}/{login}", incoming.html_base),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": match kind { UserKind::User => "User", UserKind::Bot => "Bot" },
        "user_view_type": "public",
        "site_admin": false,
    })
}

fn label_json(repo: &FakeRepo, label: &FakeLabel, incoming: &Incoming) -> Value {
    json!({
        "id": label.id,
        "node_id": format!("LA_fake{}", label.id),
        "url": format!("{}/repos/{}/labels/{}", incoming.api_base, repo.full_name(), percent_encode(&label.name)),
        "name": label.name,
        "color": label.color,
        "default": false,
        "description": label.description,
    })
}

fn repo_json(world: &World, index: usize, incoming: &Incoming) -> Value {
    let repo = &world.repos[index];
    json!({
        "id": repo.id,
        "node_id": format!("R_fake{}", repo.id),
        "name": repo.name,
        "full_name": repo.full_name(),
        "private": !repo.public,
        "owner": user_json(world, &repo.owner, incoming),
        "html_url": format!("{}/{}", incoming.html_base, repo.full_name()),
        "url": format!("{}/repos/{}", incoming.api_base, repo.full_name()),
        "has_issues": repo.issues_enabled,
    })
}

fn author_association(repo: &FakeRepo, login: &str) -> &'static str {
    if login.eq_ignore_ascii_case(&repo.owner) {
        "OWNER"
    } else if repo.collaborators.contains_key(&login.to_ascii_lowercase()) {
        "COLLABORATOR"
    } else {
        "NONE"
    }
}

/// An issue as GitHub serves it. `closed_by` is only in single-issue answers, as on GitHub.
fn issue_json(
    world: &World,
    index: usize,
    issue: &FakeIssue,
    incoming: &Incoming,
    single: bool,
) -> Value {
    let repo = &world.repos[index];
    let repo_url = format!("{}/repos/{}", incoming.api_base, repo.full_name());
    let url = format!("{repo_url}/issues/{}", issue.number);
    let kind = if issue.pull_request { "pull" } else { "issues" };
    let html_url = format!(
        "{}/{}/{kind}/{}",
        incoming.html_base,
        repo.full_name(),
        issue.number
    );
    let labels: Vec<Value> = issue
        .labels
        .iter()
        .map(|name| match repo.label(name) {
            Some(label) => label_json(repo, label, incoming),
            None => json!({"name": name}),
        })
        .collect();
    let assignees: Vec<Value> = issue
        .assignees
        .iter()
        .map(|login| user_json(world, login, incoming))
        .collect();
    let mut json = json!({
        "url": url,
        "repository_url": repo_url,
        "labels_url": format!("{url}/labels{{/name}}"),
        "comments_url": format!("{url}/comments"),
        "events_url": format!("{url}/events"),
        "html_url": html_url,
        "id": issue.id,
        "node_id": format!("I_fake{}", issue.id),
        "number": issue.number,
        "title": issue.title,
        "user": user_json(world, &issue.user, incoming),
        "labels": labels,
        "state": if issue.open { "open" } else { "closed" },
        "locked": false,
        "assignee": assignees.first().cloned().unwrap_or(Value::Null),
        "assignees": assignees,
        "milestone": null,
        "comments": issue.comments.len(),
        "created_at": format_time(issue.created_at),
        "updated_at": format_time(issue.updated_at),
        "closed_at": issue.closed_at.map(format_time),
        "author_association": author_association(repo, &issue.user),
        "type": null,
        "active_lock_reason": null,
        "body": issue.body,
        "reactions": {
            "url": format!("{url}/reactions"),
            "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
            "confused": 0, "heart": 0, "rocket": 0, "eyes": 0,
        },
        "timeline_url": format!("{url}/timeline"),
        "performed_via_github_app": null,
        "state_reason": issue.state_reason,
    });
    if single {
        json["closed_by"] = match &issue.closed_by {
            Some(login) => user_json(world, login, incoming),
            None => Value::Null,
        };
    }
    if issue.pull_request {
        json["pull_request"] = json!({
            "url": format!("{repo_url}/pulls/{}", issue.number),
            "html_url": html_url,
            "diff_url": format!("{html_url}.diff"),
            "patch_url": format!("{html_url}.patch"),
            "merged_at": null,
        });
    }
    json
}

fn comment_json(
    world: &World,
    index: usize,
    issue: &FakeIssue,
    comment: &FakeComment,
    incoming: &Incoming,
) -> Value {
    let repo = &world.repos[index];
    let repo_url = format!("{}/repos/{}", incoming.api_base, repo.full_name());
    json!({
        "id": comment.id,
        "node_id": format!("IC_fake{}", comment.id),
        "url": format!("{repo_url}/issues/comments/{}", comment.id),
        "html_url": format!("{}/{}/issues/{}#issuecomment-{}", incoming.html_base, repo.full_name(), issue.number, comment.id),
        "body": comment.body,
        "user": user_json(world, &comment.user, incoming),
        "created_at": format_time(comment.created_at),
        "updated_at": format_time(comment.updated_at),
        "issue_url": format!("{repo_url}/issues/{}", issue.number),
        "author_association": author_association(repo, &comment.user),
        "performed_via_github_app": null,
        "reactions": {"url": format!("{repo_url}/issues/comments/{}/reactions", comment.id), "total_count": 0},
    })
}

// ---- small helpers ----

/// `2026-01-01T00:00:00Z`.
pub fn format_time(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .expect("a UTC time formats")
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    let Some(query) = query else {
        return Vec::new();
    };
    Url::parse(&format!("http://fake/?{query}"))
        .map(|url| {
            url.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}
