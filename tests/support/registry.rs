//! A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution 2.8) on
//! 127.0.0.1, one per test, with its storage in a temporary directory.
//!
//! Include it with `#[path = "support/registry.rs"] mod registry_harness;`.
//!
//! - [`TestRegistry::start`] writes a config (`http.addr: 127.0.0.1:0`, log level info,
//!   access log on), spawns `docker-registry serve`, reads the port from the
//!   `listening on 127.0.0.1:<port>` log line and waits until `GET /v2/` answers.
//!   [`TestRegistry::start_with_htpasswd`] adds HTTP Basic auth (bcrypt, `htpasswd -Bbn`).
//! - [`TestRegistry::stop`] and [`TestRegistry::restart`] (same port, same storage) simulate a
//!   registry going away in the middle of a push; [`TestRegistry::freeze`] and
//!   [`TestRegistry::thaw`] (SIGSTOP, SIGCONT) one that accepts connections and never answers;
//!   [`TestRegistry::kill`] (SIGKILL) one that dies at once. Signals go to *that child's* PID
//!   only. Drop sends SIGTERM (after SIGCONT) and waits for it.
//! - [`TestRegistry::push_raw_blob`] and [`TestRegistry::push_raw_manifest`] put arbitrary
//!   bytes in the registry (hostile archives, hand-made manifests);
//!   [`TestRegistry::blob_upload_count`] counts upload sessions from the access log;
//!   [`TestRegistry::blob_data_path`] is where a blob's bytes lie on disk (to corrupt them).
//!
//! A missing binary is a failure that says how to install it, never a skipped test.

#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

const INSTALL_HINT: &str =
    "install docker-registry (apt-get install docker-registry) or run ./scripts/test.sh";
const HTPASSWD_HINT: &str =
    "install htpasswd (apt-get install apache2-utils) or run ./scripts/test.sh";
/// How long a start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running (or stopped) registry and its files.
pub struct TestRegistry {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    credentials: Option<(String, String)>,
    /// Whether it serves HTTPS with a fresh self-signed certificate (`ca.pem` in its dir).
    tls: bool,
    /// How many times the process was started, to tell log files apart.
    generation: u32,
}

impl TestRegistry {
    /// An anonymous registry.
    pub fn start() -> TestRegistry {
        TestRegistry::launch(None, false)
    }

    /// A registry that wants HTTP Basic `user:password` for everything.
    pub fn start_with_htpasswd(user: &str, password: &str) -> TestRegistry {
        TestRegistry::launch(Some((user.to_owned(), password.to_owned())), false)
    }

    /// An anonymous registry serving HTTPS with a self-signed certificate for 127.0.0.1 and
    /// localhost; [`ca_pem_path`](Self::ca_pem_path) is the certificate to trust.
    pub fn start_with_tls() -> TestRegistry {
        TestRegistry::launch(None, true)
    }

    fn launch(credentials: Option<(String, String)>, tls: bool) -> TestRegistry {
        let binary = find_binary("docker-registry").unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        let dir = tempfile::tempdir().expect("create a temporary directory for the registry");
        if let Some((user, password)) = &credentials {
            let htpasswd = find_binary("htpasswd").unwrap_or_else(|| panic!("{HTPASSWD_HINT}"));
            let output = Command::new(htpasswd)
                .args(["-Bbn", user, password])
                .output()
                .expect("run htpasswd");
            assert!(output.status.success(), "htpasswd failed: {output:?}");
            fs::write(dir.path().join("htpasswd"), &output.stdout).expect("write htpasswd");
        }
        if tls {
            let certified = rcgen::generate_simple_self_signed(vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
            ])
            .expect("generate a self-signed certificate");
            fs::write(dir.path().join("ca.pem"), certified.cert.pem()).expect("write ca.pem");
            fs::write(
                dir.path().join("key.pem"),
                certified.signing_key.serialize_pem(),
            )
            .expect("write key.pem");
        }
        let mut registry = TestRegistry {
            child: None,
            port: 0,
            dir,
            credentials,
            tls,
            generation: 0,
        };
        registry.spawn(&binary);
        registry
    }

    /// Writes the config for `self.port` (0: any free port) and starts the process.
    fn spawn(&mut self, binary: &Path) {
        assert!(self.child.is_none(), "the registry is already running");
        self.generation += 1;
        let dir = self.dir.path();
        let auth = if self.credentials.is_some() {
            format!(
                "auth:\n  htpasswd:\n    realm: test-registry\n    path: {}\n",
                dir.join("htpasswd").display()
            )
        } else {
            String::new()
        };
        let tls = if self.tls {
            format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.join("ca.pem").display(),
                dir.join("key.pem").display()
            )
        } else {
            String::new()
        };
        let config = format!(
            "version: 0.1\n\
             log:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: test-only\n{tls}\
             {auth}",
            data = dir.join("data").display(),
            port = self.port,
        );
        let config_path = dir.join("config.yml");
        fs::write(&config_path, config).expect("write the registry config");
        let stdout = fs::File::create(self.access_log_path()).expect("create the access log");
        let stderr = fs::File::create(self.log_path()).expect("create the registry log");
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            // Nothing from the developer's environment (REGISTRY_* overrides) reaches it.
            .env_clear()
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run docker-registry: {error}; {INSTALL_HINT}"));
        self.child = Some(child);

        let started = Instant::now();
        if self.port == 0 {
            self.port = loop {
                if let Some(port) = self.listening_port() {
                    break port;
                }
                self.fail_if_exited_or_late(started);
                std::thread::sleep(Duration::from_millis(10));
            };
        }
        loop {
            // An HTTPS registry is up once it accepts connections (it listens before it logs
            // the port); a plain one once it answers.
            if self.tls && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                break;
            }
            if let Some(status) = self.probe_status() {
                // 401 is the answer of a registry with auth: it is up.
                if status == 200 || status == 401 {
                    break;
                }
            }
            self.fail_if_exited_or_late(started);
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn fail_if_exited_or_late(&mut self, started: Instant) {
        let child = self.child.as_mut().expect("a child");
        if let Ok(Some(status)) = child.try_wait() {
            self.child = None;
            panic!(
                "docker-registry exited with {status} while starting; its log:\n{}",
                self.log()
            );
        }
        if started.elapsed() > START_TIMEOUT {
            let log = self.log();
            self.stop();
            panic!("docker-registry did not answer within {START_TIMEOUT:?}; its log:\n{log}");
        }
    }

    /// The port from this generation's `listening on 127.0.0.1:<port>` line.
    fn listening_port(&self) -> Option<u16> {
        let log = fs::read_to_string(self.log_path()).ok()?;
        let rest = &log[log.find("listening on 127.0.0.1:")? + "listening on 127.0.0.1:".len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }

    /// The status of `GET /v2/`, or None when nothing answers.
    fn probe_status(&self) -> Option<u16> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        write!(
            stream,
            "GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n",
            self.port
        )
        .ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).ok()?;
        std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
    }

    /// `127.0.0.1:<port>`: the registry part of a reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>` (`https://` for a TLS registry).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// The PEM certificate a client must trust to talk to a TLS registry.
    pub fn ca_pem_path(&self) -> PathBuf {
        assert!(
            self.tls,
            "only a registry started with start_with_tls has a CA"
        );
        self.dir.path().join("ca.pem")
    }

    /// A repository path no other test uses: `test/<name>-<random>`.
    pub fn unique_repo(&self, name: &str) -> String {
        let name: String = name
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("test/{}-{:08x}", name.trim_matches('-'), fastrand::u32(..))
    }

    /// The temporary directory (config, logs, htpasswd, `data/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The storage root.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Where the filesystem driver keeps the bytes of blob `sha256:<hex>`.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.storage_dir()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Whether repository `repo` has a revision link for manifest `digest` on disk.
    pub fn has_manifest_on_disk(&self, repo: &str, digest: &str) -> bool {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.storage_dir()
            .join("docker/registry/v2/repositories")
            .join(repo)
            .join("_manifests/revisions/sha256")
            .join(hex)
            .join("link")
            .is_file()
    }

    /// The tags of `repo` on disk.
    pub fn tags_on_disk(&self, repo: &str) -> Vec<String> {
        let dir = self
            .storage_dir()
            .join("docker/registry/v2/repositories")
            .join(repo)
            .join("_manifests/tags");
        let mut tags: Vec<String> = fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok())
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        tags
    }

    fn log_path(&self) -> PathBuf {
        self.dir
            .path()
            .join(format!("registry-{}.log", self.generation))
    }

    fn access_log_path(&self) -> PathBuf {
        self.dir
            .path()
            .join(format!("access-{}.log", self.generation))
    }

    /// The registry's log (stderr) of the current process.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Every access-log line (one per request) of every process so far.
    pub fn access_log(&self) -> String {
        (1..=self.generation)
            .map(|generation| {
                fs::read_to_string(self.dir.path().join(format!("access-{generation}.log")))
                    .unwrap_or_default()
            })
            .collect()
    }

    /// How many blob upload sessions (`POST /v2/<repo>/blobs/uploads/`) the registry opened
    /// for `repo`. The access log is written after each response: this waits until the count
    /// holds still for 100 ms.
    pub fn blob_upload_count(&self, repo: &str) -> usize {
        let needle = format!("\"POST /v2/{repo}/blobs/uploads/");
        let count = || {
            self.access_log()
                .lines()
                .filter(|line| line.contains(&needle))
                .count()
        };
        let mut last = count();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let now = count();
            if now == last {
                return now;
            }
            last = now;
        }
    }

    /// Sends `signal` (`STOP`, `CONT`, `KILL`...) to the registry's own PID; whether it was
    /// delivered.
    fn signal(&self, signal: &str) -> bool {
        let Some(child) = self.child.as_ref() else {
            return false;
        };
        Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Freezes the registry (SIGSTOP): the kernel still accepts connections on its port, and
    /// nothing answers them, until [`thaw`](Self::thaw).
    pub fn freeze(&mut self) {
        assert!(self.signal("STOP"), "kill -STOP the registry");
    }

    /// Lets a frozen registry run again (SIGCONT).
    pub fn thaw(&mut self) {
        assert!(self.signal("CONT"), "kill -CONT the registry");
    }

    /// Kills the registry at once (SIGKILL), in the middle of whatever it was doing. Its
    /// storage and port stay for [`restart`](Self::restart).
    pub fn kill(&mut self) {
        assert!(self.signal("KILL"), "kill -KILL the registry");
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// Stops the registry: SIGTERM to its PID, then waits (SIGKILL after 10 s). Its storage
    /// and port stay for [`restart`](Self::restart).
    pub fn stop(&mut self) {
        // A frozen process would not handle SIGTERM.
        self.signal("CONT");
        let Some(mut child) = self.child.take() else {
            return;
        };
        let terminated = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|status| status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while terminated && Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the registry again on the same port, with the same storage.
    pub fn restart(&mut self) {
        self.stop();
        let binary = find_binary("docker-registry").unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        self.spawn(&binary);
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// A reqwest client, and a request with this registry's credentials if it has any.
    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        stepkit::core::http::install_crypto_provider();
        let mut builder = reqwest::Client::builder();
        if self.tls {
            let pem = fs::read(self.ca_pem_path()).expect("read ca.pem");
            builder = builder.tls_certs_merge(
                reqwest::Certificate::from_pem_bundle(&pem).expect("a PEM certificate"),
            );
        }
        let request = builder
            .build()
            .expect("build a reqwest client")
            .request(method, url);
        match &self.credentials {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        }
    }

    /// Uploads `data` as a blob of `repo` (monolithic POST + PUT), whatever it holds; returns
    /// its digest.
    pub async fn push_raw_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256_digest(data);
        let start = self
            .request(
                reqwest::Method::POST,
                &format!("{}/v2/{repo}/blobs/uploads/", self.url()),
            )
            .header("Content-Length", "0")
            .send()
            .await
            .expect("start a blob upload");
        assert_eq!(start.status(), 202, "start a blob upload: {start:?}");
        let location = start
            .headers()
            .get("Location")
            .expect("an upload Location")
            .to_str()
            .unwrap()
            .to_owned();
        let location = if location.starts_with('/') {
            format!("{}{location}", self.url())
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = self
            .request(
                reqwest::Method::PUT,
                &format!("{location}{separator}digest={digest}"),
            )
            .header("Content-Type", "application/octet-stream")
            .body(data.to_vec())
            .send()
            .await
            .expect("finish a blob upload");
        assert_eq!(put.status(), 201, "finish a blob upload: {put:?}");
        digest
    }

    /// Puts `manifest` under `reference` (a tag or its digest) in `repo` with `media_type`;
    /// returns the manifest's digest. The blobs it names must be there already.
    pub async fn push_raw_manifest(
        &self,
        repo: &str,
        reference: &str,
        manifest: &[u8],
        media_type: &str,
    ) -> String {
        let response = self
            .request(
                reqwest::Method::PUT,
                &format!("{}/v2/{repo}/manifests/{reference}", self.url()),
            )
            .header("Content-Type", media_type)
            .body(manifest.to_vec())
            .send()
            .await
            .expect("put a manifest");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, 201, "put a manifest: {body}");
        sha256_digest(manifest)
    }

    /// Uploads `layer` and a manifest for it the way stepkit and oras do (OCI 1.1 manifest,
    /// empty config, the given artifact type and layer media type), tagged `tag`. Returns
    /// `(manifest digest, layer digest)`.
    pub async fn push_raw_artifact(
        &self,
        repo: &str,
        tag: &str,
        artifact_type: &str,
        layer_media_type: &str,
        layer: &[u8],
    ) -> (String, String) {
        let empty = self.push_raw_blob(repo, b"{}").await;
        let layer_digest = self.push_raw_blob(repo, layer).await;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": layer_media_type, "digest": layer_digest, "size": layer.len(),
                        "annotations": {"org.opencontainers.image.title": "workspace"}}],
        });
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let digest = self
            .push_raw_manifest(
                repo,
                tag,
                &bytes,
                "application/vnd.oci.image.manifest.v1+json",
            )
            .await;
        (digest, layer_digest)
    }

    /// A docker config directory holding `config.json` with `auths` entries
    /// (`key` → `user:password`), for `DOCKER_CONFIG` or `AuthEnv::docker_config_dir`.
    pub fn docker_config(&self, name: &str, entries: &[(&str, &str, &str)]) -> PathBuf {
        let dir = self.dir.path().join(name);
        fs::create_dir_all(&dir).expect("create a docker config directory");
        let auths: serde_json::Map<String, serde_json::Value> = entries
            .iter()
            .map(|(key, user, password)| {
                (
                    (*key).to_owned(),
                    serde_json::json!({"auth": base64(&format!("{user}:{password}"))}),
                )
            })
            .collect();
        fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(&serde_json::json!({ "auths": auths })).unwrap(),
        )
        .expect("write config.json");
        dir
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A TCP proxy in front of a registry that cuts the connection once, after it passed
/// `cut_after` bytes of answers on it: a network failure in the middle of a download. It
/// records each request's `Range` header and, with `hide_ranges`, removes it, so the registry
/// answers as one that ignores ranges would (200 and the whole blob).
pub struct CuttingProxy {
    port: u16,
    ranges: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl CuttingProxy {
    pub fn start(upstream: u16, cut_after: usize, hide_ranges: bool) -> CuttingProxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let ranges = Arc::new(Mutex::new(Vec::new()));
        let cut = Arc::new(AtomicBool::new(false));
        let recorded = Arc::clone(&ranges);
        let port = start_proxy(upstream, move |client, server| {
            let recorded = Arc::clone(&recorded);
            relay(
                client.try_clone().unwrap(),
                server.try_clone().unwrap(),
                move |request| Some(rewrite_request(request, hide_ranges, &recorded)),
            );
            let cut = Arc::clone(&cut);
            let (mut server_in, mut client_out) = (server, client);
            std::thread::spawn(move || {
                let mut buf = vec![0; 64 * 1024];
                let mut passed = 0;
                while let Ok(read) = server_in.read(&mut buf) {
                    if read == 0 {
                        break;
                    }
                    let mut end = read;
                    let cutting = !cut.load(Ordering::SeqCst) && passed + read > cut_after;
                    if cutting {
                        end = cut_after - passed;
                    }
                    if client_out.write_all(&buf[..end]).is_err() {
                        break;
                    }
                    passed += end;
                    if cutting {
                        cut.store(true, Ordering::SeqCst);
                        let _ = client_out.shutdown(std::net::Shutdown::Both);
                        let _ = server_in.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                }
                let _ = client_out.shutdown(std::net::Shutdown::Write);
            });
        });
        CuttingProxy { port, ranges }
    }

    /// `127.0.0.1:<port>`, to use as the registry host.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The `Range` header of each request that had one, in order.
    pub fn ranges(&self) -> Vec<String> {
        self.ranges.lock().unwrap().clone()
    }
}

/// A proxy in front of the registry that answers every request with one method (`PATCH`:
/// a registry without chunked uploads) with 405 and closes the connection; everything else
/// passes through.
pub struct RefusingProxy {
    port: u16,
}

impl RefusingProxy {
    pub fn start(upstream: u16, method: &'static str) -> RefusingProxy {
        let request_start = format!("{method} ");
        let port = start_proxy(upstream, move |client, server| {
            let mut refusal_out = client.try_clone().unwrap();
            let upstream_end = server.try_clone().unwrap();
            let request_start = request_start.clone();
            relay(
                client.try_clone().unwrap(),
                server.try_clone().unwrap(),
                move |request| {
                    if !request.starts_with(request_start.as_bytes()) {
                        return Some(request.to_vec());
                    }
                    let _ = refusal_out.write_all(
                    b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                    let _ = refusal_out.shutdown(std::net::Shutdown::Both);
                    let _ = upstream_end.shutdown(std::net::Shutdown::Both);
                    None
                },
            );
            relay(server, client, |answer| Some(answer.to_vec()));
        });
        RefusingProxy { port }
    }

    /// `127.0.0.1:<port>`, to use as the registry host.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A proxy in front of the registry that holds every read for `delay` before passing it on,
/// both ways: a registry some round trips away.
pub struct DelayingProxy {
    port: u16,
}

impl DelayingProxy {
    pub fn start(upstream: u16, delay: Duration) -> DelayingProxy {
        let delayed = move |bytes: &[u8]| {
            std::thread::sleep(delay);
            Some(bytes.to_vec())
        };
        let port = start_proxy(upstream, move |client, server| {
            relay(
                client.try_clone().unwrap(),
                server.try_clone().unwrap(),
                delayed,
            );
            relay(server, client, delayed);
        });
        DelayingProxy { port }
    }

    /// `127.0.0.1:<port>`, to use as the registry host.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Listens on a free port of 127.0.0.1 and, for each client, opens a connection to `upstream`
/// and hands both to `serve` (client, then server). Returns the port.
fn start_proxy(upstream: u16, serve: impl Fn(TcpStream, TcpStream) + Send + 'static) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            serve(client, server);
        }
    });
    port
}

/// On a thread of its own, passes what `from` sends to `to` a read at a time, each through
/// `pass` (`None` stops), then closes `to` for writing.
fn relay(
    mut from: TcpStream,
    mut to: TcpStream,
    mut pass: impl FnMut(&[u8]) -> Option<Vec<u8>> + Send + 'static,
) {
    std::thread::spawn(move || {
        let mut buf = vec![0; 256 * 1024];
        while let Ok(read) = from.read(&mut buf) {
            if read == 0 {
                break;
            }
            let Some(bytes) = pass(&buf[..read]) else {
                return;
            };
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

/// Records (and with `hide`, drops) the `Range` header lines of a request head.
fn rewrite_request(data: &[u8], hide: bool, recorded: &std::sync::Mutex<Vec<String>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for line in data.split_inclusive(|&byte| byte == b'\n') {
        let text = String::from_utf8_lossy(line);
        if let Some((name, value)) = text.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                recorded.lock().unwrap().push(value.trim().to_owned());
                if hide {
                    continue;
                }
            }
        }
        out.extend_from_slice(line);
    }
    out
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    let hex: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256:{hex}")
}

/// Standard base64 with padding.
pub fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let mut buf = [0u8; 3];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = (u32::from(buf[0]) << 16) | (u32::from(buf[1]) << 8) | u32::from(buf[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `name` on PATH, or in /usr/sbin and /usr/bin (Debian's places) when PATH misses them.
fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
