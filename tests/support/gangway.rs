//! A stateful fake of Prow as OpenShift CI serves it, on 127.0.0.1: Gangway's REST API behind
//! oauth-proxy and the envoy transcoder, Deck's `/prowjob` YAML, raw GitHub's openshift/release
//! files and the ci-operator config resolver, all on one port.
//!
//! It behaves like the real services where our client depends on it: upstream Gangway's
//! validation messages verbatim (kubernetes-sigs/prow `pkg/gangway/gangway.go`), a missing
//! ProwJob as the raw Kubernetes error in a 500, oauth-proxy's HTML pages for a bad token,
//! scripted job states that advance with each GET, and faults injected into the next matching
//! requests (rate limits, proxy errors, dropped connections, answers lost after the job was
//! created), and switchable outages (`outage`: N seconds of 502; `freeze`: connections
//! accepted and never answered). Every request is recorded for assertions.
//!
//! Include it from a test file with `#[path = "support/gangway.rs"] mod gangway_fake;`.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Map, Value};

/// The token the fake accepts unless a test sets another.
pub const VALID_TOKEN: &str = "sha256~fake-gangway-valid-token";

/// Which endpoint a request was for, to aim faults and filter the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/executions` or `POST /v1/executions/{job}`.
    Create,
    /// `GET /v1/executions/{id}`.
    Get,
    /// `GET /v1/executions?job_name=&status=`.
    List,
    /// `POST /v1/bulk-job-status-update`.
    Bulk,
    /// Deck's `GET /prowjob?prowjob=<id>`.
    Deck,
    /// raw.githubusercontent.com-style `GET /<ref>/<path>`.
    RawGithub,
    /// The config resolver's `POST /resolve`.
    Resolve,
    /// oauth-proxy's sign-in page, where its redirects lead.
    Login,
    /// As a fault target: any request.
    Any,
}

/// What the `Authorization` header held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Missing,
    /// `Bearer <the valid token>`.
    Valid,
    /// Something else: an expired or foreign token.
    Rejected,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub route: Route,
    pub auth: Auth,
    /// The body, when it parsed as JSON.
    pub body: Option<Value>,
    /// The fault applied to this request, if any (its `Debug` text).
    pub fault: Option<String>,
}

/// How oauth-proxy answers a token it does not accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// 403 with its HTML "Forbidden" page.
    Html403,
    /// 302 to the sign-in page with an empty body (the page itself answers 200 HTML).
    LoginRedirect,
}

/// How the transcoder prints messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireStyle {
    /// snake_case keys, enum names, defaults printed: the ci-docs sample.
    SnakeCaseNames,
    /// camelCase keys, enum numbers, defaults left out.
    CamelCaseNumbers,
}

/// One state of a scripted job, as returned by one GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Unspecified,
    Triggered,
    Pending,
    Scheduling,
    Success,
    Failure,
    Aborted,
    Error,
    /// A state name this client does not know (a future upstream addition).
    Unknown(String),
    /// The ProwJob is gone: GETs answer the Kubernetes not-found error.
    Vanished,
}

impl Step {
    fn number(&self) -> Option<i64> {
        Some(match self {
            Step::Unspecified => 0,
            Step::Triggered => 1,
            Step::Pending => 2,
            Step::Success => 3,
            Step::Failure => 4,
            Step::Aborted => 5,
            Step::Error => 6,
            Step::Scheduling => 7,
            Step::Unknown(_) | Step::Vanished => return None,
        })
    }

    fn name(&self) -> String {
        match self {
            Step::Unspecified => "JOB_EXECUTION_STATUS_UNSPECIFIED".into(),
            Step::Triggered => "TRIGGERED".into(),
            Step::Pending => "PENDING".into(),
            Step::Success => "SUCCESS".into(),
            Step::Failure => "FAILURE".into(),
            Step::Aborted => "ABORTED".into(),
            Step::Error => "ERROR".into(),
            Step::Scheduling => "SCHEDULING".into(),
            Step::Unknown(name) => name.clone(),
            Step::Vanished => "VANISHED".into(),
        }
    }

    /// The ProwJob `status.state` Deck shows.
    fn prow_state(&self) -> String {
        match self {
            Step::Unspecified => String::new(),
            Step::Unknown(name) => name.to_ascii_lowercase(),
            other => other.name().to_ascii_lowercase(),
        }
    }

    /// Whether Prow has scheduled the pod by this state (so `status.url` and the build id are
    /// set).
    fn is_scheduled(&self) -> bool {
        matches!(
            self,
            Step::Pending | Step::Success | Step::Failure | Step::Aborted | Step::Error
        )
    }

    fn matches_filter(&self, filter: &str) -> bool {
        let filter = filter.trim().to_ascii_uppercase();
        let filter = filter
            .strip_prefix("JOB_EXECUTION_STATUS_")
            .unwrap_or(&filter);
        match self.number() {
            Some(number) if filter == number.to_string() => true,
            _ => self.name().trim_start_matches("JOB_EXECUTION_STATUS_") == filter,
        }
    }
}

/// The states a job goes through, one per GET; the last one stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    steps: Vec<Step>,
}

impl Script {
    pub fn new(steps: impl IntoIterator<Item = Step>) -> Script {
        let steps: Vec<Step> = steps.into_iter().collect();
        assert!(!steps.is_empty(), "a script needs at least one step");
        Script { steps }
    }

    /// TRIGGERED, PENDING, SUCCESS: the default.
    pub fn succeeding() -> Script {
        Script::new([Step::Triggered, Step::Pending, Step::Success])
    }

    /// Never leaves `step`.
    pub fn stuck(step: Step) -> Script {
        Script::new([step])
    }

    /// TRIGGERED once, then gone.
    pub fn vanishing() -> Script {
        Script::new([Step::Triggered, Step::Vanished])
    }
}

/// A misbehaviour applied to the next request of a [`Route`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: <seconds>`, before anything is done.
    TooManyRequests { retry_after_secs: u64 },
    /// The router's or proxy's HTML error page with this status (502, 503, 504), before
    /// anything is done.
    GatewayHtml { status: u16 },
    /// A google.rpc.Status error from behind the proxy, before anything is done.
    GangwayError {
        status: u16,
        code: i64,
        message: String,
    },
    /// The connection is dropped without an answer, before anything is done.
    ConnectionReset,
    /// The request is handled (a job is created), then the answer waits this long: past a
    /// client's timeout, the answer is lost.
    SlowResponse(Duration),
    /// The request is handled (a job is created), then the connection is dropped.
    HandledThenReset,
    /// The request is handled, and the answer is cut in half.
    TruncatedBody,
    /// 200 with an empty body, nothing done.
    EmptyOk,
    /// While this request is in flight, someone else triggers the same job `count` times;
    /// then `then` applies (use [`Fault::Handled`] for a normal answer).
    ForeignTriggers { count: usize, then: Box<Fault> },
    /// No fault: answered normally (for [`Fault::ForeignTriggers`]).
    Handled,
}

/// The kind of a configured job and where it belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobKind {
    Periodic,
    Presubmit { org_repo: String },
    Postsubmit { org_repo: String },
}

/// A job the fake Prow config defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDef {
    pub name: String,
    pub kind: JobKind,
    /// Whether the job's tenant is one our token's client may trigger.
    pub tenant_allowed: bool,
    /// Env the job's container already has (e.g. CONFIG_SPEC), shown by Deck.
    pub static_env: Vec<(String, String)>,
}

impl JobDef {
    pub fn periodic(name: &str) -> JobDef {
        JobDef {
            name: name.into(),
            kind: JobKind::Periodic,
            tenant_allowed: true,
            static_env: Vec::new(),
        }
    }

    pub fn presubmit(name: &str, org_repo: &str) -> JobDef {
        JobDef {
            kind: JobKind::Presubmit {
                org_repo: org_repo.into(),
            },
            ..JobDef::periodic(name)
        }
    }

    pub fn postsubmit(name: &str, org_repo: &str) -> JobDef {
        JobDef {
            kind: JobKind::Postsubmit {
                org_repo: org_repo.into(),
            },
            ..JobDef::periodic(name)
        }
    }

    /// A job of a tenant our client is not allowed to trigger.
    pub fn other_tenant(mut self) -> JobDef {
        self.tenant_allowed = false;
        self
    }

    pub fn with_env(mut self, name: &str, value: &str) -> JobDef {
        self.static_env.push((name.into(), value.into()));
        self
    }
}

/// How the fake resolver answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolver {
    /// Returns the posted config (when it is JSON).
    Echo,
    /// 400 with this message.
    Reject(String),
}

/// A job execution the fake holds.
#[derive(Debug, Clone)]
pub struct Execution {
    pub id: String,
    pub job_name: String,
    /// The JobExecutionType number.
    pub job_type: i64,
    /// Triggered by "someone else", not through a request.
    pub foreign: bool,
    /// The create request as received (after the path's job name was applied).
    pub request: Value,
    /// How many GETs it has answered.
    pub polls: usize,
    pub build_id: String,
    script: Script,
    /// The state the last GET returned (TRIGGERED before any).
    current: Step,
    scheduled: bool,
}

struct FakeState {
    valid_token: String,
    rejection: Rejection,
    wire: WireStyle,
    /// Whether errors carry a JSON body (else only `grpc-status`/`grpc-message` headers).
    error_bodies: bool,
    jobs: Vec<JobDef>,
    executions: Vec<Execution>,
    next_scripts: VecDeque<Script>,
    default_script: Script,
    faults: VecDeque<(Route, Fault)>,
    /// Every request meets the router's 502 page until then (a switchable outage).
    outage_until: Option<std::time::Instant>,
    /// Requests are accepted and never answered while set (a frozen Gangway).
    frozen: bool,
    requests: Vec<RecordedRequest>,
    raw_files: BTreeMap<String, String>,
    resolver: Resolver,
    deck_multi_document: bool,
    next_number: u64,
    /// The status every listing of runs gets, when the deployment does not allow it.
    list_refusal: Option<u16>,
}

/// The fake, serving until dropped.
pub struct FakeProw {
    address: SocketAddr,
    state: Arc<Mutex<FakeState>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeProw {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeProw {
    /// Starts the fake on 127.0.0.1 with a random port. No jobs are defined yet.
    pub async fn start() -> FakeProw {
        let state = Arc::new(Mutex::new(FakeState {
            valid_token: VALID_TOKEN.into(),
            rejection: Rejection::Html403,
            wire: WireStyle::SnakeCaseNames,
            error_bodies: true,
            jobs: Vec::new(),
            executions: Vec::new(),
            next_scripts: VecDeque::new(),
            default_script: Script::succeeding(),
            faults: VecDeque::new(),
            outage_until: None,
            frozen: false,
            requests: Vec::new(),
            raw_files: BTreeMap::new(),
            resolver: Resolver::Echo,
            deck_multi_document: false,
            next_number: 0,
            list_refusal: None,
        }));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeProw {
            address,
            state,
            server,
        }
    }

    /// `http://127.0.0.1:<port>`: the Gangway, Deck, raw GitHub and resolver URL alike.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().expect("fake state lock")
    }

    pub fn set_valid_token(&self, token: &str) {
        self.state().valid_token = token.into();
    }

    /// How any other token (an expired one) is refused.
    pub fn set_rejection(&self, rejection: Rejection) {
        self.state().rejection = rejection;
    }

    pub fn set_wire_style(&self, wire: WireStyle) {
        self.state().wire = wire;
    }

    /// With `false`, errors have an empty body and only `grpc-status`/`grpc-message` headers.
    pub fn set_error_bodies(&self, bodies: bool) {
        self.state().error_bodies = bodies;
    }

    /// Every listing of runs is refused with `status` (403: the deployment's RBAC lets the
    /// token trigger but not list; 404 or 405: a Gangway without ListJobExecutions), the way
    /// that deployment answers: a google.rpc.Status (403, 404) or a plain 405.
    pub fn refuse_listing(&self, status: u16) {
        self.state().list_refusal = Some(status);
    }

    pub fn add_job(&self, job: JobDef) {
        self.state().jobs.push(job);
    }

    pub fn add_periodic(&self, name: &str) {
        self.add_job(JobDef::periodic(name));
    }

    /// The script of the next job created through a request (queued, first in first out).
    pub fn script_next(&self, script: Script) {
        self.state().next_scripts.push_back(script);
    }

    /// The script of jobs created when none is queued.
    pub fn set_default_script(&self, script: Script) {
        self.state().default_script = script;
    }

    /// Replaces the script of an existing job, from its next GET on.
    pub fn set_script(&self, id: &str, script: Script) {
        let mut state = self.state();
        let execution = state
            .executions
            .iter_mut()
            .find(|execution| execution.id == id)
            .expect("no such execution");
        execution.script = script;
        execution.polls = 0;
    }

    /// Queues `fault` for the next request of `route` (faults apply in the order queued).
    pub fn inject(&self, route: Route, fault: Fault) {
        self.state().faults.push_back((route, fault));
    }

    /// From now on, for `duration`, every request meets the router's HTML 502 page before
    /// anything is done: Gangway, or the route in front of it, having an outage.
    pub fn outage(&self, duration: Duration) {
        self.state().outage_until = Some(std::time::Instant::now() + duration);
    }

    /// From now on, requests are accepted and never answered (a server stopped with
    /// SIGSTOP), until [`thaw`](Self::thaw).
    pub fn freeze(&self) {
        self.state().frozen = true;
    }

    /// Requests held by [`freeze`](Self::freeze) are answered, and new ones too.
    pub fn thaw(&self) {
        self.state().frozen = false;
    }

    /// Someone else triggers `job_name` now. Returns the new id.
    pub fn trigger_foreign(&self, job_name: &str) -> String {
        let mut state = self.state();
        let request = json!({"job_name": job_name, "job_execution_type": "1"});
        state.create_execution(job_name, 1, request, true)
    }

    /// Serves `content` at `path` (e.g. `/master/ci-operator/config/o/r/o-r-main.yaml`).
    pub fn add_raw_file(&self, path: &str, content: &str) {
        let path = format!("/{}", path.trim_start_matches('/'));
        self.state().raw_files.insert(path, content.into());
    }

    /// Serves a ci-operator config as raw.githubusercontent.com/openshift/release would.
    pub fn add_ci_operator_config(
        &self,
        git_ref: &str,
        org: &str,
        repo: &str,
        file: &str,
        content: &str,
    ) {
        self.add_raw_file(
            &format!("/{git_ref}/ci-operator/config/{org}/{repo}/{file}"),
            content,
        );
    }

    pub fn set_resolver(&self, resolver: Resolver) {
        self.state().resolver = resolver;
    }

    /// Deck answers with an extra YAML document before the ProwJob.
    pub fn set_deck_multi_document(&self, multi: bool) {
        self.state().deck_multi_document = multi;
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    pub fn requests_to(&self, route: Route) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|request| route == Route::Any || request.route == route)
            .collect()
    }

    /// The bodies of the create requests, in order.
    pub fn create_bodies(&self) -> Vec<Value> {
        self.requests_to(Route::Create)
            .into_iter()
            .filter_map(|request| request.body)
            .collect()
    }

    /// Every job execution the fake holds, foreign ones included.
    pub fn executions(&self) -> Vec<Execution> {
        self.state().executions.clone()
    }

    /// The executions created through requests (not foreign).
    pub fn created_executions(&self) -> Vec<Execution> {
        self.executions()
            .into_iter()
            .filter(|execution| !execution.foreign)
            .collect()
    }

    /// Faults queued but not applied yet.
    pub fn pending_faults(&self) -> usize {
        self.state().faults.len()
    }
}

impl FakeState {
    fn create_execution(
        &mut self,
        job_name: &str,
        job_type: i64,
        request: Value,
        foreign: bool,
    ) -> String {
        self.next_number += 1;
        let number = self.next_number;
        let id = format!("6f1c{number:04x}-2b1e-4c57-9a3f-{number:012x}");
        let script = if foreign {
            self.default_script.clone()
        } else {
            self.next_scripts
                .pop_front()
                .unwrap_or_else(|| self.default_script.clone())
        };
        self.executions.push(Execution {
            id: id.clone(),
            job_name: job_name.into(),
            job_type,
            foreign,
            request,
            polls: 0,
            build_id: format!("{}", 1_900_000_000_000_000_000u64 + number),
            script,
            current: Step::Triggered,
            scheduled: false,
        });
        id
    }

    fn take_fault(&mut self, route: Route) -> Option<Fault> {
        let index = self
            .faults
            .iter()
            .position(|(target, _)| *target == Route::Any || *target == route)?;
        self.faults.remove(index).map(|(_, fault)| fault)
    }

    fn job_url(&self, base: &str, execution: &Execution) -> String {
        format!(
            "{base}/view/gs/test-platform-results/logs/{}/{}",
            execution.job_name, execution.build_id
        )
    }
}

/// An answer before it becomes an axum response, so faults can change it.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", content_type.into())],
            body: body.into(),
        }
    }

    fn json(status: u16, value: &Value) -> Reply {
        Reply::new(status, "application/json", value.to_string())
    }

    fn text(status: u16, text: &str) -> Reply {
        Reply::new(status, "text/plain; charset=utf-8", text)
    }

    fn html(status: u16, html: &str) -> Reply {
        Reply::new(status, "text/html; charset=utf-8", html)
    }

    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = StatusCode::from_u16(self.status).expect("valid status");
        for (name, value) in self.headers {
            response.headers_mut().insert(
                name,
                HeaderValue::from_str(&value).expect("valid header value"),
            );
        }
        response
    }
}

const FORBIDDEN_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\" charset=\"utf-8\">\n<head>\
<title>Forbidden</title></head>\n<body><h2>Forbidden</h2>\n<p>You do not have permission to \
access this resource.</p><hr><p>Secured with OAuth2 Proxy</p></body>\n</html>\n";

const SIGN_IN_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\" charset=\"utf-8\">\n<head>\
<title>Log In</title></head>\n<body><form method=\"GET\" action=\"/oauth/start\">\
<button type=\"submit\">Log in with OpenShift</button></form></body>\n</html>\n";

fn gateway_page(status: u16) -> String {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Error");
    format!(
        "<html><body><h1>{status} {reason}</h1>\nThe server returned an invalid or incomplete \
         response.\n</body></html>\n"
    )
}

/// A google.rpc.Status error as the transcoder prints it (and its gRPC headers).
fn rpc_error(state: &FakeState, status: u16, code: i64, message: &str) -> Reply {
    let mut reply = if state.error_bodies {
        Reply::json(
            status,
            &json!({"code": code, "message": message, "details": []}),
        )
    } else {
        Reply::new(status, "application/json", Vec::new())
    };
    reply.headers.push(("grpc-status", code.to_string()));
    reply
        .headers
        .push(("grpc-message", percent_encode(message)));
    reply
}

fn percent_encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b' ') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                match u8::from_str_radix(&text[index + 1..index + 3], 16) {
                    Ok(byte) => {
                        decoded.push(byte);
                        index += 2;
                    }
                    Err(_) => decoded.push(b'%'),
                }
            }
            other => decoded.push(other),
        }
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn query_params(query: Option<&str>) -> BTreeMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn route_of(method: &Method, path: &str) -> Route {
    let is_post = method == Method::POST;
    match path {
        "/v1/executions" if is_post => Route::Create,
        "/v1/executions" => Route::List,
        "/v1/bulk-job-status-update" => Route::Bulk,
        "/prowjob" => Route::Deck,
        "/resolve" => Route::Resolve,
        "/oauth/start" | "/oauth/sign_in" => Route::Login,
        _ if path.starts_with("/v1/executions/") && is_post => Route::Create,
        _ if path.starts_with("/v1/executions/") => Route::Get,
        _ => Route::RawGithub,
    }
}

fn auth_of(headers: &HeaderMap, valid_token: &str) -> Auth {
    match headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
    {
        None => Auth::Missing,
        Some(value) if value.strip_prefix("Bearer ") == Some(valid_token) => Auth::Valid,
        Some(_) => Auth::Rejected,
    }
}

async fn handle(
    State(shared): State<Arc<Mutex<FakeState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    while shared.lock().expect("fake state lock").frozen {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let path = uri.path().to_owned();
    let query = uri.query().map(str::to_owned);
    let route = route_of(&method, &path);
    let base = format!(
        "http://{}",
        headers
            .get("host")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("127.0.0.1")
    );

    let mut fault = {
        let mut state = shared.lock().expect("fake state lock");
        let auth = auth_of(&headers, &state.valid_token);
        let in_outage = state
            .outage_until
            .is_some_and(|until| std::time::Instant::now() < until);
        let fault = if in_outage {
            Some(Fault::GatewayHtml { status: 502 })
        } else {
            state.take_fault(route)
        };
        state.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            route,
            auth,
            body: serde_json::from_slice(&body).ok(),
            fault: fault.as_ref().map(|fault| format!("{fault:?}")),
        });
        fault
    };

    // Someone else's triggers land while ours is in flight.
    while let Some(Fault::ForeignTriggers { count, then }) = fault {
        let mut state = shared.lock().expect("fake state lock");
        let job_name = foreign_job_name(&path, &body);
        for _ in 0..count {
            let request = json!({"job_name": job_name, "job_execution_type": "1"});
            state.create_execution(&job_name, 1, request, true);
        }
        fault = match *then {
            Fault::Handled => None,
            other => Some(other),
        };
    }

    let answer = |shared: &Arc<Mutex<FakeState>>| {
        let mut state = shared.lock().expect("fake state lock");
        serve(
            &mut state,
            &base,
            &method,
            route,
            &path,
            query.as_deref(),
            &headers,
            &body,
        )
    };

    let reply = match fault {
        None | Some(Fault::Handled) => answer(&shared),
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut reply = Reply::text(429, "Too Many Requests\n");
            reply
                .headers
                .push(("retry-after", retry_after_secs.to_string()));
            reply
        }
        Some(Fault::GatewayHtml { status }) => Reply::html(status, &gateway_page(status)),
        Some(Fault::GangwayError {
            status,
            code,
            message,
        }) => {
            let state = shared.lock().expect("fake state lock");
            rpc_error(&state, status, code, &message)
        }
        Some(Fault::EmptyOk) => Reply::new(200, "application/json", Vec::new()),
        Some(Fault::ConnectionReset) => drop_connection(),
        Some(Fault::HandledThenReset) => {
            let _ = answer(&shared);
            drop_connection()
        }
        Some(Fault::SlowResponse(delay)) => {
            let reply = answer(&shared);
            tokio::time::sleep(delay).await;
            reply
        }
        Some(Fault::TruncatedBody) => {
            let mut reply = answer(&shared);
            let half = reply.body.len() / 2;
            reply.body.truncate(half);
            reply
        }
        Some(Fault::ForeignTriggers { .. }) => unreachable!("unwrapped above"),
    };
    reply.into_response()
}

/// Ends the connection without an answer. Unwinding the connection's task makes hyper close
/// the socket; `resume_unwind` skips the panic hook, so nothing is printed.
fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("fake prow: connection dropped on purpose"))
}

fn foreign_job_name(path: &str, body: &[u8]) -> String {
    if let Some(job) = path.strip_prefix("/v1/executions/") {
        return job.to_owned();
    }
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|body| {
            body.get("job_name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn serve(
    state: &mut FakeState,
    base: &str,
    method: &Method,
    route: Route,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    match route {
        Route::Create | Route::Get | Route::List | Route::Bulk => {
            if auth_of(headers, &state.valid_token) != Auth::Valid {
                return rejected(state, path);
            }
            match route {
                Route::Create => create(state, path, body),
                Route::Get => get(state, base, path.trim_start_matches("/v1/executions/")),
                Route::List => match state.list_refusal {
                    Some(403) => rpc_error(state, 403, 7, "permission denied"),
                    Some(404) => rpc_error(state, 404, 5, "Not Found"),
                    Some(status) => Reply::text(status, "Method Not Allowed\n"),
                    None => list(state, query),
                },
                // oauth-proxy delegates this path to "impersonate systemusers", which ordinary
                // tokens lack.
                _ => Reply::html(403, FORBIDDEN_PAGE),
            }
        }
        Route::Deck if method == Method::GET => deck(state, base, query),
        Route::Resolve if method == Method::POST => resolve(state, body),
        Route::Login => Reply::html(200, SIGN_IN_PAGE),
        Route::RawGithub if method == Method::GET => match state.raw_files.get(path) {
            Some(content) => Reply::text(200, content),
            None => Reply::text(404, "404: Not Found"),
        },
        _ => Reply::text(404, "404 page not found\n"),
    }
}

fn rejected(state: &FakeState, path: &str) -> Reply {
    match state.rejection {
        Rejection::Html403 => Reply::html(403, FORBIDDEN_PAGE),
        Rejection::LoginRedirect => {
            let mut reply = Reply::new(302, "text/html; charset=utf-8", Vec::new());
            reply.headers.push((
                "location",
                format!("/oauth/start?rd={}", percent_encode(path)),
            ));
            reply
        }
    }
}

/// The job type number from `"1"`, `1`, `"PERIODIC"` or `"JOB_EXECUTION_TYPE_PERIODIC"`.
fn parse_job_type(value: Option<&Value>) -> Result<i64, String> {
    let names = [
        "JOB_EXECUTION_TYPE_UNSPECIFIED",
        "PERIODIC",
        "POSTSUBMIT",
        "PRESUBMIT",
        "BATCH",
    ];
    match value {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(number)) => number
            .as_i64()
            .filter(|number| (0..=4).contains(number))
            .ok_or_else(|| format!("invalid value {number} for enum type JobExecutionType")),
        Some(Value::String(text)) => {
            if let Ok(number) = text.parse::<i64>() {
                if (0..=4).contains(&number) {
                    return Ok(number);
                }
            }
            let bare = text
                .strip_prefix("JOB_EXECUTION_TYPE_")
                .filter(|rest| *rest != "UNSPECIFIED")
                .unwrap_or(text);
            names
                .iter()
                .position(|name| *name == bare)
                .map(|index| index as i64)
                .ok_or_else(|| format!("invalid value {text:?} for enum type JobExecutionType"))
        }
        Some(other) => Err(format!(
            "invalid value {other} for enum type JobExecutionType"
        )),
    }
}

fn type_name(number: i64) -> &'static str {
    match number {
        1 => "PERIODIC",
        2 => "POSTSUBMIT",
        3 => "PRESUBMIT",
        4 => "BATCH",
        _ => "JOB_EXECUTION_TYPE_UNSPECIFIED",
    }
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(key, value)| (key.clone(), value.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn field<'a>(object: &'a Value, snake: &str, camel: &str) -> Option<&'a Value> {
    object.get(snake).or_else(|| object.get(camel))
}

fn text_field(object: &Value, snake: &str, camel: &str) -> String {
    field(object, snake, camel)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Kubernetes' IsValidLabelValue, returning its error strings.
fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push("must be no more than 63 characters".to_owned());
    }
    let bytes = value.as_bytes();
    let allowed = bytes
        .iter()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
    let edges = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    if !value.is_empty() && (!allowed || !edges) {
        errors.push(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', \
             '_' or '.', and must start and end with an alphanumeric character (e.g. \
             'MyValue',  or 'my_value',  or '12345', regex used for validation is \
             '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
                .to_owned(),
        );
    }
    errors
}

/// Gangway's `CreateJobExecutionRequest.Validate`, messages verbatim.
fn validate(job_name: &str, job_type: i64, request: &Value) -> Result<(), String> {
    if job_name.is_empty() {
        return Err("job_name field cannot be empty".into());
    }
    if job_type == 0 {
        return Err("unsupported JobExecutionType: JOB_EXECUTION_TYPE_UNSPECIFIED".into());
    }
    let refs = field(request, "refs", "refs").filter(|refs| !refs.is_null());
    if job_type == 1 && refs.is_some() {
        return Err("periodic jobs cannot also have gitRefs".into());
    }
    if job_type != 1 {
        let Some(refs) = refs else {
            return Err(format!(
                "gitRefs must be defined for {:?}",
                type_name(job_type)
            ));
        };
        let refs_error = (|| {
            for (snake, camel, name) in [
                ("org", "org", "Org"),
                ("repo", "repo", "Repo"),
                ("base_ref", "baseRef", "BaseRef"),
                ("base_sha", "baseSha", "BaseSha"),
            ] {
                if text_field(refs, snake, camel).is_empty() {
                    return Err(format!("gitRefs: {name} cannot be empty"));
                }
            }
            for pull in field(refs, "pulls", "pulls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let sha = text_field(pull, "sha", "sha");
                let valid = sha.len() == 40
                    && sha
                        .bytes()
                        .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
                if !valid {
                    return Err(format!("pull: invalid SHA: {sha:?}"));
                }
            }
            Ok(())
        })();
        if let Err(error) = refs_error {
            return Err(format!("gitRefs: failed to validate: {error}"));
        }
    }
    let Some(options) = field(request, "pod_spec_options", "podSpecOptions") else {
        return Ok(());
    };
    for (key, value) in string_map(options.get("envs")) {
        if key.is_empty() || value.is_empty() {
            return Err(format!(
                "invalid environment variable key/value pair: {key:?}, {value:?}"
            ));
        }
    }
    for (key, value) in string_map(options.get("labels")) {
        if key.is_empty() || value.is_empty() {
            return Err(format!("invalid label key/value pair: {key:?}, {value:?}"));
        }
        let errors = label_value_errors(&value);
        if !errors.is_empty() {
            return Err(format!(
                "invalid label: the following errors found: {errors:?}"
            ));
        }
    }
    for (key, value) in string_map(options.get("annotations")) {
        if key.is_empty() || value.is_empty() {
            return Err(format!(
                "invalid annotation key/value pair: {key:?}, {value:?}"
            ));
        }
    }
    Ok(())
}

fn create(state: &mut FakeState, path: &str, body: &[u8]) -> Reply {
    let Ok(mut request) = serde_json::from_slice::<Value>(body) else {
        return rpc_error(state, 400, 3, "Unexpected token.");
    };
    if !request.is_object() {
        return rpc_error(state, 400, 3, "Unexpected token.");
    }
    // OpenShift's proxy also takes the job name from the path (gangway-cli does this).
    if let Some(job) = path.strip_prefix("/v1/executions/") {
        request["job_name"] = json!(percent_decode(job));
    }
    let job_name = text_field(&request, "job_name", "jobName");
    let job_type = match parse_job_type(field(&request, "job_execution_type", "jobExecutionType")) {
        Ok(job_type) => job_type,
        Err(message) => return rpc_error(state, 400, 3, &message),
    };
    if let Err(message) = validate(&job_name, job_type, &request) {
        return rpc_error(state, 400, 3, &message);
    }

    // The handler: plain Go errors, which the transcoder turns into 500 (gRPC Unknown).
    let refs = field(&request, "refs", "refs")
        .cloned()
        .unwrap_or(Value::Null);
    let org_repo = format!(
        "{}/{}",
        text_field(&refs, "org", "org"),
        text_field(&refs, "repo", "repo")
    );
    let definition = match job_type {
        1 => state
            .jobs
            .iter()
            .find(|job| job.name == job_name && job.kind == JobKind::Periodic)
            .ok_or_else(|| format!("failed to find associated periodic job {job_name:?}")),
        2 | 3 => {
            let pulls = field(&refs, "pulls", "pulls")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if job_type == 3 && pulls == 0 {
                Err("at least 1 Pulls is required".to_owned())
            } else {
                let (kind, wanted) = if job_type == 3 {
                    (
                        "presubmit",
                        JobKind::Presubmit {
                            org_repo: org_repo.clone(),
                        },
                    )
                } else {
                    (
                        "postsubmit",
                        JobKind::Postsubmit {
                            org_repo: org_repo.clone(),
                        },
                    )
                };
                state
                    .jobs
                    .iter()
                    .find(|job| job.name == job_name && job.kind == wanted)
                    .ok_or_else(|| {
                        format!(
                            "failed to find associated {kind} job {job_name:?} from orgRepo {org_repo:?}"
                        )
                    })
            }
        }
        _ => Err(format!(
            "unsupported JobExecutionType type: {}",
            type_name(job_type)
        )),
    };
    let definition = match definition {
        Ok(definition) => definition.clone(),
        Err(message) => return rpc_error(state, 500, 2, &message),
    };
    if !definition.tenant_allowed {
        return rpc_error(
            state,
            403,
            7,
            "client is not authorized to execute the given job",
        );
    }

    let id = state.create_execution(&job_name, job_type, request.clone(), false);
    let mut answer = Map::new();
    let camel = state.wire == WireStyle::CamelCaseNumbers;
    answer.insert("id".into(), json!(id));
    insert_named(&mut answer, camel, "job_name", json!(job_name));
    insert_named(&mut answer, camel, "job_type", type_value(camel, job_type));
    insert_named(
        &mut answer,
        camel,
        "job_status",
        status_value(camel, &Step::Triggered),
    );
    if !refs.is_null() {
        insert_named(&mut answer, camel, "refs", refs);
    }
    // Gangway echoes the options, envs and all (tests check we never log them).
    if let Some(options) = field(&request, "pod_spec_options", "podSpecOptions") {
        insert_named(&mut answer, camel, "pod_spec_options", options.clone());
    }
    if !camel {
        answer.insert("gcs_path".into(), json!(""));
        answer.insert("job_url".into(), json!(""));
    }
    Reply::json(200, &Value::Object(answer))
}

fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for character in snake.chars() {
        if character == '_' {
            upper = true;
        } else if upper {
            out.push(character.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(character);
        }
    }
    out
}

fn insert_named(map: &mut Map<String, Value>, camel: bool, snake: &str, value: Value) {
    let key = if camel {
        camel_case(snake)
    } else {
        snake.to_owned()
    };
    map.insert(key, value);
}

fn type_value(camel: bool, job_type: i64) -> Value {
    if camel {
        json!(job_type)
    } else {
        json!(type_name(job_type))
    }
}

fn status_value(camel: bool, step: &Step) -> Value {
    match (camel, step.number()) {
        (true, Some(number)) => json!(number),
        _ => json!(step.name()),
    }
}

fn not_found(state: &FakeState, id: &str) -> Reply {
    // Gangway returns the client-go error as it is; the transcoder makes it a 500 Unknown.
    rpc_error(
        state,
        500,
        2,
        &format!("prowjobs.prow.k8s.io {id:?} not found"),
    )
}

fn get(state: &mut FakeState, base: &str, id: &str) -> Reply {
    let id = percent_decode(id);
    let Some(index) = state
        .executions
        .iter()
        .position(|execution| execution.id == id)
    else {
        return not_found(state, &id);
    };
    let execution = &mut state.executions[index];
    let step =
        execution.script.steps[execution.polls.min(execution.script.steps.len() - 1)].clone();
    execution.polls += 1;
    if step == Step::Vanished {
        execution.current = Step::Vanished;
        return not_found(state, &id);
    }
    execution.current = step.clone();
    execution.scheduled |= step.is_scheduled();
    let execution = state.executions[index].clone();
    let camel = state.wire == WireStyle::CamelCaseNumbers;
    let job_url = if execution.scheduled {
        state.job_url(base, &execution)
    } else {
        String::new()
    };
    let mut answer = Map::new();
    answer.insert("id".into(), json!(execution.id));
    insert_named(&mut answer, camel, "job_name", json!(execution.job_name));
    insert_named(
        &mut answer,
        camel,
        "job_type",
        type_value(camel, execution.job_type),
    );
    insert_named(&mut answer, camel, "job_status", status_value(camel, &step));
    if !camel || !job_url.is_empty() {
        insert_named(&mut answer, camel, "job_url", json!(job_url));
    }
    if !camel {
        answer.insert("gcs_path".into(), json!(""));
    }
    insert_named(
        &mut answer,
        camel,
        "create_time",
        json!("2026-01-01T00:00:00Z"),
    );
    Reply::json(200, &Value::Object(answer))
}

fn list(state: &FakeState, query: Option<&str>) -> Reply {
    let params = query_params(query);
    let job_name = params.get("job_name").cloned().unwrap_or_default();
    let status = params.get("status").cloned();
    let camel = state.wire == WireStyle::CamelCaseNumbers;
    let items: Vec<Value> = state
        .executions
        .iter()
        .filter(|execution| execution.current != Step::Vanished)
        .filter(|execution| job_name.is_empty() || execution.job_name == job_name)
        .filter(|execution| {
            status
                .as_deref()
                .is_none_or(|status| execution.current.matches_filter(status))
        })
        .map(|execution| {
            let mut item = Map::new();
            item.insert("id".into(), json!(execution.id));
            insert_named(&mut item, camel, "job_name", json!(execution.job_name));
            insert_named(
                &mut item,
                camel,
                "job_type",
                type_value(camel, execution.job_type),
            );
            insert_named(
                &mut item,
                camel,
                "job_status",
                status_value(camel, &execution.current),
            );
            Value::Object(item)
        })
        .collect();
    if camel && items.is_empty() {
        // proto3 JSON leaves out an empty repeated field.
        return Reply::json(200, &json!({}));
    }
    let key = if camel {
        "jobExecution"
    } else {
        "job_execution"
    };
    Reply::json(200, &json!({ key: items }))
}

fn deck(state: &FakeState, base: &str, query: Option<&str>) -> Reply {
    let id = query_params(query)
        .get("prowjob")
        .cloned()
        .unwrap_or_default();
    let Some(execution) = state
        .executions
        .iter()
        .find(|execution| execution.id == id && execution.current != Step::Vanished)
    else {
        return Reply::text(
            404,
            &format!("ProwJob not found: prowjobs.prow.k8s.io {id:?} not found\n"),
        );
    };
    let type_label = type_name(execution.job_type).to_ascii_lowercase();
    let definition = state.jobs.iter().find(|job| job.name == execution.job_name);
    let mut env: Vec<Value> = definition
        .map(|job| {
            job.static_env
                .iter()
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect()
        })
        .unwrap_or_default();
    // Gangway appends the request's envs to every container.
    let request_options = field(&execution.request, "pod_spec_options", "podSpecOptions");
    for (name, value) in string_map(request_options.and_then(|options| options.get("envs"))) {
        env.push(json!({"name": name, "value": value}));
    }
    let mut annotations = json!({"prow.k8s.io/job": execution.job_name});
    for (key, value) in string_map(request_options.and_then(|options| options.get("annotations"))) {
        annotations[key] = json!(value);
    }
    let mut status = json!({
        "startTime": "2026-01-01T00:00:00Z",
        "state": execution.current.prow_state(),
    });
    if execution.scheduled {
        status["url"] = json!(state.job_url(base, execution));
        status["build_id"] = json!(execution.build_id);
        status["pod_name"] = json!(execution.id);
    }
    let prowjob = json!({
        "apiVersion": "prow.k8s.io/v1",
        "kind": "ProwJob",
        "metadata": {
            "name": execution.id,
            "namespace": "ci",
            "labels": {
                "created-by-prow": "true",
                "prow.k8s.io/job": execution.job_name,
                "prow.k8s.io/type": type_label,
            },
            "annotations": annotations,
        },
        "spec": {
            "type": type_label,
            "agent": "kubernetes",
            "cluster": "build01",
            "namespace": "ci",
            "job": execution.job_name,
            "pod_spec": {"containers": [{
                "name": "",
                "image": "ci-operator:latest",
                "command": ["ci-operator"],
                "env": env,
            }]},
        },
        "status": status,
    });
    let mut yaml = serde_yaml::to_string(&prowjob).expect("YAML of a JSON value");
    if state.deck_multi_document {
        yaml = format!("kind: Status\nmetadata: {{}}\n---\n{yaml}");
    }
    Reply::text(200, &yaml)
}

fn resolve(state: &FakeState, body: &[u8]) -> Reply {
    match &state.resolver {
        Resolver::Reject(message) => Reply::text(400, message),
        Resolver::Echo => match serde_json::from_slice::<Value>(body) {
            Ok(config) => Reply::json(200, &config),
            Err(error) => Reply::text(400, &format!("failed to unmarshal the config: {error}")),
        },
    }
}
