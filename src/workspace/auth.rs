//! Registry credentials for a repository, chosen from docker-style auth files the way
//! Konflux Trusted Artifacts' `select-oci-auth.sh` chooses them.
//!
//! Files, in order; the first one with an entry for the repository wins:
//!
//! 1. `$REGISTRY_AUTH_FILE` (podman, buildah and skopeo's auth file; Konflux build tasks set it),
//! 2. `$AUTHFILE` (the variable Trusted Artifacts reads instead of `~/.docker/config.json`),
//! 3. `$DOCKER_CONFIG/config.json`, or `$HOME/.docker/config.json` when `DOCKER_CONFIG` is unset
//!    (where Tekton writes the ServiceAccount's registry secrets).
//!
//! In a file, an `auths` key may name a registry or a path inside it (Kubernetes and buildah
//! write per-repository entries). The longest key that is a whole-component prefix of
//! `registry/repository` is chosen: for `quay.io/org/repo`, `quay.io/org/repo`, then
//! `quay.io/org`, then `quay.io`. Keys written as URLs (`https://index.docker.io/v1/`) stand
//! for their host, and `docker.io`, `index.docker.io` and `registry-1.docker.io` are one
//! registry; a port is part of the registry (`quay.io:443` is not `quay.io`), as in
//! select-oci-auth. `credHelpers[registry]` comes before `auths`, and `credsStore` after it,
//! as docker does; both run `docker-credential-<name>`, stopped at a timeout (`helper`).
//!
//! An entry's `auth` (base64 `user:password`) or `username`/`password` become HTTP Basic
//! credentials (which oci-client also trades for a bearer token where the registry asks for
//! one); a `registrytoken` is sent as a bearer token. An `identitytoken` (an OAuth refresh
//! token) cannot be used and is an error. Nothing found means anonymous access.
//!
//! The chosen file and key are logged; a secret never is, nor is it put in an error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use crate::core::error::{Error, Kind};
use crate::core::image_ref::ImageReference;
use crate::core::input::{read_input, InputError, MIB};
use crate::workspace::helper::{self, HelperCredential, DEFAULT_HELPER_TIMEOUT};

/// The largest auth file read (docker configs are a few KiB).
const MAX_AUTH_FILE_BYTES: u64 = 16 * MIB;

/// Where auth files are looked for. [`AuthEnv::from_env`] reads the process environment;
/// tests and callers with flags (`--docker-config`) fill it in themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthEnv {
    /// `REGISTRY_AUTH_FILE`: an auth file (podman/buildah format, same as docker's).
    pub registry_auth_file: Option<PathBuf>,
    /// `AUTHFILE`: the auth file Trusted Artifacts uses.
    pub authfile: Option<PathBuf>,
    /// `DOCKER_CONFIG`: a directory holding `config.json`.
    pub docker_config_dir: Option<PathBuf>,
    /// `HOME`: `~/.docker/config.json` is read when `DOCKER_CONFIG` is unset.
    pub home: Option<PathBuf>,
    /// How long a credential helper may take (`None`: [`DEFAULT_HELPER_TIMEOUT`]).
    pub helper_timeout: Option<Duration>,
}

/// One auth file to look in, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFile {
    pub path: PathBuf,
    /// What named it: `REGISTRY_AUTH_FILE`, `AUTHFILE`, `DOCKER_CONFIG` or `HOME`.
    pub source: &'static str,
}

impl AuthEnv {
    /// Reads `REGISTRY_AUTH_FILE`, `AUTHFILE`, `DOCKER_CONFIG` and `HOME`; empty values count
    /// as unset.
    pub fn from_env() -> AuthEnv {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        };
        AuthEnv {
            registry_auth_file: var("REGISTRY_AUTH_FILE"),
            authfile: var("AUTHFILE"),
            docker_config_dir: var("DOCKER_CONFIG"),
            home: var("HOME"),
            helper_timeout: None,
        }
    }

    /// How long a credential helper may take before it is stopped.
    pub fn helper_timeout(&self) -> Duration {
        self.helper_timeout.unwrap_or(DEFAULT_HELPER_TIMEOUT)
    }

    /// The files to look in, in order of precedence.
    pub fn files(&self) -> Vec<AuthFile> {
        let mut files = Vec::new();
        if let Some(path) = &self.registry_auth_file {
            files.push(AuthFile {
                path: path.clone(),
                source: "REGISTRY_AUTH_FILE",
            });
        }
        if let Some(path) = &self.authfile {
            files.push(AuthFile {
                path: path.clone(),
                source: "AUTHFILE",
            });
        }
        if let Some(dir) = &self.docker_config_dir {
            files.push(AuthFile {
                path: dir.join("config.json"),
                source: "DOCKER_CONFIG",
            });
        } else if let Some(home) = &self.home {
            files.push(AuthFile {
                path: home.join(".docker").join("config.json"),
                source: "HOME",
            });
        }
        files
    }
}

/// The credentials to use for `repository` (its tag and digest are ignored), or
/// [`RegistryAuth::Anonymous`] when no file has an entry for it.
///
/// Fails with exit 2 when a file exists but is not valid JSON, when the chosen entry cannot be
/// decoded or holds only an identity token, or when a credential helper fails; with exit 6
/// when a file exists but cannot be read. A file named by `REGISTRY_AUTH_FILE` or `AUTHFILE`
/// that does not exist is skipped with a warning.
pub fn credentials_for(repository: &ImageReference, env: &AuthEnv) -> anyhow::Result<RegistryAuth> {
    let target = format!("{}/{}", repository.registry, repository.repository);
    let files = env.files();
    for file in &files {
        let bytes = match read_input(Some(&file.path), MAX_AUTH_FILE_BYTES) {
            Ok(bytes) => bytes,
            Err(InputError::Io(error)) if error.kind() == std::io::ErrorKind::NotFound => {
                if matches!(file.source, "REGISTRY_AUTH_FILE" | "AUTHFILE") {
                    tracing::warn!(
                        "{} names {}, which does not exist; looking for credentials elsewhere",
                        file.source,
                        file.path.display()
                    );
                }
                continue;
            }
            Err(error) => {
                let kind = if error.is_bad_input() {
                    Kind::Usage
                } else {
                    Kind::LocalIo
                };
                return Err(Error::new(
                    kind,
                    format!(
                        "cannot read the registry auth file {} (from {}): {error}",
                        file.path.display(),
                        file.source
                    ),
                )
                .into());
            }
        };
        let config: AuthConfigFile = serde_json::from_slice(&bytes).map_err(|error| {
            // serde_json's message names a line and column, never the value read there.
            Error::usage(format!(
                "cannot read the registry auth file {} (from {}): not a docker config JSON file: {error}",
                file.path.display(),
                file.source
            ))
        })?;
        if let Some(auth) = select(&config, repository, file, env)? {
            return Ok(auth);
        }
    }
    if files.is_empty() {
        tracing::info!("no registry auth file configured; accessing {target} anonymously");
    } else {
        let looked_in: Vec<String> = files
            .iter()
            .map(|file| file.path.display().to_string())
            .collect();
        tracing::info!(
            "no credentials for {target} in {}; accessing it anonymously",
            looked_in.join(", ")
        );
    }
    Ok(RegistryAuth::Anonymous)
}

/// The parts of a docker `config.json` / containers `auth.json` that matter here. Not
/// `Debug`: it holds secrets.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

/// One `auths` entry. Not `Debug`: it holds secrets.
#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

impl AuthEntry {
    /// Whether the entry holds anything at all (docker leaves `{}` behind when a credential
    /// store holds the secret).
    fn is_empty(&self) -> bool {
        [
            &self.auth,
            &self.username,
            &self.password,
            &self.identitytoken,
            &self.registrytoken,
        ]
        .iter()
        .all(|field| field.as_deref().is_none_or(str::is_empty))
    }
}

/// Credentials for `repository` from one file, if it has any.
fn select(
    config: &AuthConfigFile,
    repository: &ImageReference,
    file: &AuthFile,
    env: &AuthEnv,
) -> anyhow::Result<Option<RegistryAuth>> {
    let registry = normalize_registry(&repository.registry);
    let where_ = || format!("{} (from {})", file.path.display(), file.source);

    if let Some((key, helper)) = config
        .cred_helpers
        .iter()
        .find(|(key, helper)| !helper.is_empty() && normalize_key(key) == registry)
    {
        tracing::info!(
            "using credential helper docker-credential-{helper} for {key:?} from {}",
            where_()
        );
        // A helper with nothing for the registry means anonymous access, as with docker.
        return from_helper(helper, key, env.helper_timeout(), &where_());
    }

    for candidate in candidates(repository) {
        let chosen = config
            .auths
            .iter()
            .filter(|(key, entry)| normalize_key(key) == candidate && !entry.is_empty())
            // Several keys may normalize alike (`docker.io` and `https://index.docker.io/v1/`):
            // take the one spelled exactly like the candidate, else the first in key order.
            .min_by_key(|(key, _)| (key.as_str() != candidate, key.as_str()));
        if let Some((key, entry)) = chosen {
            let auth = decode_entry(entry, key, &where_())?;
            tracing::info!(
                "using registry credentials {key:?} ({}) from {} for {}/{}",
                describe(&auth),
                where_(),
                repository.registry,
                repository.repository
            );
            return Ok(Some(auth));
        }
    }

    if let Some(store) = config.creds_store.as_deref().filter(|s| !s.is_empty()) {
        tracing::info!(
            "asking the credential store docker-credential-{store} for {} (from {})",
            repository.registry,
            where_()
        );
        return from_helper(store, &repository.registry, env.helper_timeout(), &where_());
    }
    Ok(None)
}

/// `registry/a/b/c`, `registry/a/b`, `registry/a`, `registry`, normalized like the keys.
fn candidates(repository: &ImageReference) -> Vec<String> {
    let registry = normalize_registry(&repository.registry);
    let components: Vec<&str> = repository.repository.split('/').collect();
    (0..=components.len())
        .rev()
        .map(|length| {
            if length == 0 {
                registry.clone()
            } else {
                format!("{registry}/{}", components[..length].join("/"))
            }
        })
        .collect()
}

/// An `auths` key as `registry[/path]`: a URL-style key (`https://host/v1/`) stands for its
/// host, trailing slashes go, the registry is lowercased and docker.io's aliases unified.
fn normalize_key(key: &str) -> String {
    let key = key.trim();
    let (key, was_url) = match key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
    {
        Some(rest) => (rest, true),
        None => (key, false),
    };
    let key = if was_url {
        key.split('/').next().unwrap_or_default()
    } else {
        key.trim_end_matches('/')
    };
    match key.split_once('/') {
        Some((registry, path)) => format!("{}/{path}", normalize_registry(registry)),
        None => normalize_registry(key),
    }
}

/// A registry host lowercased, with docker.io's aliases spelled `docker.io`.
fn normalize_registry(registry: &str) -> String {
    let registry = registry.to_ascii_lowercase();
    match registry.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        _ => registry,
    }
}

fn decode_entry(entry: &AuthEntry, key: &str, where_: &str) -> anyhow::Result<RegistryAuth> {
    if let Some(encoded) = entry.auth.as_deref().filter(|s| !s.is_empty()) {
        let decoded = decode_base64(encoded)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                Error::usage(format!(
                    "the \"auth\" value of {key:?} in {where_} is not base64 of \"user:password\""
                ))
            })?;
        let Some((user, password)) = decoded.split_once(':') else {
            return Err(Error::usage(format!(
                "the \"auth\" value of {key:?} in {where_} decodes to no \"user:password\" pair (no ':')"
            ))
            .into());
        };
        return Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()));
    }
    if let (Some(user), Some(password)) = (&entry.username, &entry.password) {
        return Ok(RegistryAuth::Basic(user.clone(), password.clone()));
    }
    if let Some(token) = entry.registrytoken.as_deref().filter(|s| !s.is_empty()) {
        return Ok(RegistryAuth::Bearer(token.to_owned()));
    }
    if entry
        .identitytoken
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        return Err(identity_token_error(key, where_));
    }
    Err(Error::usage(format!(
        "the entry {key:?} in {where_} has a username or a password but not both; write \"auth\" (base64 of user:password) or both fields"
    ))
    .into())
}

fn identity_token_error(key: &str, where_: &str) -> anyhow::Error {
    Error::usage(format!(
        "the entry {key:?} in {where_} holds only an identity token (an OAuth refresh token), which stepkit cannot use; give a username and password or token instead (\"auth\": base64 of user:token)"
    ))
    .into()
}

/// Asks `docker-credential-{helper}` for `server`'s credentials, within `timeout`. `Ok(None)`
/// when the helper has none.
fn from_helper(
    helper: &str,
    server: &str,
    timeout: Duration,
    where_: &str,
) -> anyhow::Result<Option<RegistryAuth>> {
    match helper::get(helper, server, timeout) {
        Ok(Some(HelperCredential::UsernamePassword(user, password))) => {
            Ok(Some(RegistryAuth::Basic(user, password)))
        }
        Ok(Some(HelperCredential::IdentityToken)) => Err(identity_token_error(server, where_)),
        Ok(None) => Ok(None),
        Err(failure) => Err(helper::failure_error(helper, server, &failure, where_)),
    }
}

/// What kind of credential this is, for log lines (never the secret).
fn describe(auth: &RegistryAuth) -> String {
    match auth {
        RegistryAuth::Anonymous => "anonymous".to_owned(),
        RegistryAuth::Basic(user, _) => format!("user {user:?}"),
        RegistryAuth::Bearer(_) => "registry token".to_owned(),
    }
}

/// Standard base64 (padding optional, surrounding whitespace ignored); `None` when invalid.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn value(byte: u8) -> Option<u32> {
        match byte {
            b'A'..=b'Z' => Some(u32::from(byte - b'A')),
            b'a'..=b'z' => Some(u32::from(byte - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(byte - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let text = text.trim().trim_end_matches('=');
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        let mut acc = 0u32;
        for (index, &byte) in chunk.iter().enumerate() {
            acc |= value(byte)? << (18 - 6 * index);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    fn b64(text: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let bytes = text.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
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

    fn repo(text: &str) -> ImageReference {
        text.parse().unwrap()
    }

    fn write(dir: &Path, name: &str, json: &str) -> PathBuf {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, json).unwrap();
        path
    }

    fn auths(entries: &[(&str, &str)]) -> String {
        let body: Vec<String> = entries
            .iter()
            .map(|(key, creds)| format!("{key:?}: {{\"auth\": \"{}\"}}", b64(creds)))
            .collect();
        format!("{{\"auths\": {{{}}}}}", body.join(", "))
    }

    fn basic(user: &str, password: &str) -> RegistryAuth {
        RegistryAuth::Basic(user.into(), password.into())
    }

    fn only_file(path: PathBuf) -> AuthEnv {
        AuthEnv {
            authfile: Some(path),
            ..AuthEnv::default()
        }
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(decode_base64("YTpi").unwrap(), b"a:b");
        assert_eq!(decode_base64("YTpiYw==").unwrap(), b"a:bc");
        assert_eq!(decode_base64("YTpiYw").unwrap(), b"a:bc");
        assert_eq!(decode_base64(&b64("x:y:z?")).unwrap(), b"x:y:z?");
        assert!(decode_base64("a").is_none());
        assert!(decode_base64("ab!d").is_none());
    }

    #[test]
    fn the_longest_matching_prefix_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "auth.json",
            &auths(&[
                ("quay.io", "registry:r"),
                ("quay.io/org", "org:o"),
                ("quay.io/org/repo", "repo:p"),
                ("quay.io/other", "other:x"),
            ]),
        );
        let env = only_file(path);
        let cases = [
            ("quay.io/org/repo", basic("repo", "p")),
            ("quay.io/org/repo/nested", basic("repo", "p")),
            ("quay.io/org/repository", basic("org", "o")),
            ("quay.io/org/other", basic("org", "o")),
            ("quay.io/team/repo", basic("registry", "r")),
            ("quay.io/organisation/x", basic("registry", "r")),
        ];
        for (reference, expected) in cases {
            assert_eq!(
                credentials_for(&repo(reference), &env).unwrap(),
                expected,
                "{reference}"
            );
        }
        assert_eq!(
            credentials_for(&repo("ghcr.io/org/repo"), &env).unwrap(),
            RegistryAuth::Anonymous
        );
    }

    #[test]
    fn ports_belong_to_the_registry_like_select_oci_auth() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "auth.json",
            &auths(&[
                ("quay.io", "plain:a"),
                ("quay.io:443/spam", "spam443:b"),
                ("quay.io:5000", "p5000:c"),
            ]),
        );
        let env = only_file(path);
        assert_eq!(
            credentials_for(&repo("quay.io:443/spam/bacon"), &env).unwrap(),
            basic("spam443", "b")
        );
        assert_eq!(
            credentials_for(&repo("quay.io:5000/spam/bacon"), &env).unwrap(),
            basic("p5000", "c")
        );
        assert_eq!(
            credentials_for(&repo("quay.io:8080/spam"), &env).unwrap(),
            RegistryAuth::Anonymous
        );
        assert_eq!(
            credentials_for(&repo("quay.local/spam"), &env).unwrap(),
            RegistryAuth::Anonymous
        );
    }

    #[test]
    fn url_keys_and_docker_hub_aliases_match() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "config.json",
            &auths(&[
                ("https://index.docker.io/v1/", "hub:h"),
                ("https://registry.example.com/v2/", "example:e"),
                ("Mixed.Example.com", "mixed:m"),
                ("Mixed.Example.com/Team", "never:n"),
            ]),
        );
        let env = only_file(path);
        assert_eq!(
            credentials_for(&repo("ubuntu"), &env).unwrap(),
            basic("hub", "h")
        );
        assert_eq!(
            credentials_for(&repo("registry-1.docker.io/org/img"), &env).unwrap(),
            basic("hub", "h")
        );
        assert_eq!(
            credentials_for(&repo("registry.example.com/a/b"), &env).unwrap(),
            basic("example", "e")
        );
        // Host names compare without case; repository paths are lowercase by grammar, so a
        // key with an uppercase path never matches and the host entry is used.
        assert_eq!(
            credentials_for(&repo("mixed.example.com/team/x"), &env).unwrap(),
            basic("mixed", "m")
        );
    }

    #[test]
    fn registry_auth_file_wins_then_authfile_then_docker_config() {
        let dir = tempfile::tempdir().unwrap();
        let registry_auth_file = write(
            dir.path(),
            "podman/auth.json",
            &auths(&[("quay.io/org", "podman:1")]),
        );
        let authfile = write(
            dir.path(),
            "ta/auth.json",
            &auths(&[("quay.io/org/repo", "ta:2"), ("ghcr.io", "ta-ghcr:2")]),
        );
        write(
            dir.path(),
            "docker/config.json",
            &auths(&[
                ("quay.io/org/repo", "docker:3"),
                ("registry.io", "docker-reg:3"),
            ]),
        );
        write(
            dir.path(),
            "home/.docker/config.json",
            &auths(&[("registry.io", "home:4"), ("home.io", "home:4")]),
        );
        let env = AuthEnv {
            registry_auth_file: Some(registry_auth_file),
            authfile: Some(authfile),
            docker_config_dir: Some(dir.path().join("docker")),
            home: Some(dir.path().join("home")),
            helper_timeout: None,
        };
        // REGISTRY_AUTH_FILE has an entry: it wins even over a longer key in a later file.
        assert_eq!(
            credentials_for(&repo("quay.io/org/repo"), &env).unwrap(),
            basic("podman", "1")
        );
        // Files without an entry are passed over.
        assert_eq!(
            credentials_for(&repo("ghcr.io/x/y"), &env).unwrap(),
            basic("ta-ghcr", "2")
        );
        assert_eq!(
            credentials_for(&repo("registry.io/x"), &env).unwrap(),
            basic("docker-reg", "3")
        );
        // DOCKER_CONFIG replaces ~/.docker, as in docker.
        assert_eq!(
            credentials_for(&repo("home.io/x"), &env).unwrap(),
            RegistryAuth::Anonymous
        );
        let home_only = AuthEnv {
            home: Some(dir.path().join("home")),
            ..AuthEnv::default()
        };
        assert_eq!(
            credentials_for(&repo("home.io/x"), &home_only).unwrap(),
            basic("home", "4")
        );
    }

    #[test]
    fn username_password_and_registry_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "auth.json",
            r#"{"auths": {
                "a.io": {"username": "u", "password": "p:with:colons"},
                "b.io": {"registrytoken": "tok"},
                "c.io": {},
                "c.io/x": {"auth": ""},
                "c.io/x/y": {"auth": "dTpw"}
            }}"#,
        );
        let env = only_file(path);
        assert_eq!(
            credentials_for(&repo("a.io/r"), &env).unwrap(),
            basic("u", "p:with:colons")
        );
        assert_eq!(
            credentials_for(&repo("b.io/r"), &env).unwrap(),
            RegistryAuth::Bearer("tok".into())
        );
        // Empty entries are passed over, to shorter keys and then to nothing.
        assert_eq!(
            credentials_for(&repo("c.io/x/y/z"), &env).unwrap(),
            basic("u", "p")
        );
        assert_eq!(
            credentials_for(&repo("c.io/x/z"), &env).unwrap(),
            RegistryAuth::Anonymous
        );
    }

    #[test]
    fn unusable_entries_are_errors_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "auth.json",
            r#"{"auths": {
                "id.io": {"identitytoken": "SECRET-REFRESH-TOKEN"},
                "bad.io": {"auth": "!!SECRET!!"},
                "nocolon.io": {"auth": "U0VDUkVUTk9DT0xPTg=="},
                "half.io": {"username": "u"}
            }}"#,
        );
        let env = only_file(path);
        for (reference, expected) in [
            ("id.io/r", "identity token"),
            ("bad.io/r", "not base64"),
            ("nocolon.io/r", "no ':'"),
            ("half.io/r", "not both"),
        ] {
            let error = credentials_for(&repo(reference), &env).unwrap_err();
            let text = format!("{error:#}");
            assert!(text.contains(expected), "{reference}: {text}");
            assert!(!text.contains("SECRET"), "{reference}: {text}");
            assert_eq!(crate::core::error::exit_code(&error), 2, "{text}");
        }
    }

    #[test]
    fn broken_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let broken = write(
            dir.path(),
            "broken.json",
            "{\"auths\": {\"q.io\": {\"auth\": \"SECRET\"",
        );
        let error = credentials_for(&repo("q.io/r"), &only_file(broken)).unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains("not a docker config JSON"), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
        assert_eq!(crate::core::error::exit_code(&error), 2);

        let missing = AuthEnv {
            registry_auth_file: Some(dir.path().join("nope.json")),
            docker_config_dir: Some(dir.path().join("nodir")),
            ..AuthEnv::default()
        };
        assert_eq!(
            credentials_for(&repo("q.io/r"), &missing).unwrap(),
            RegistryAuth::Anonymous
        );
        assert_eq!(
            credentials_for(&repo("q.io/r"), &AuthEnv::default()).unwrap(),
            RegistryAuth::Anonymous
        );
    }

    #[test]
    fn a_missing_credential_helper_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "config.json",
            r#"{"auths": {"helped.io": {"auth": "dTpw"}},
                "credHelpers": {"helped.io": "stepkit-test-no-such-helper"}}"#,
        );
        let error = credentials_for(&repo("helped.io/r"), &only_file(path)).unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.contains("docker-credential-stepkit-test-no-such-helper"),
            "{text}"
        );
        assert_eq!(crate::core::error::exit_code(&error), 2);
    }

    #[test]
    fn files_follow_the_documented_order() {
        let env = AuthEnv {
            registry_auth_file: Some("/r.json".into()),
            authfile: Some("/a.json".into()),
            docker_config_dir: None,
            home: Some("/home/u".into()),
            helper_timeout: None,
        };
        let files: Vec<(String, &str)> = env
            .files()
            .into_iter()
            .map(|f| (f.path.display().to_string(), f.source))
            .collect();
        assert_eq!(
            files,
            vec![
                ("/r.json".to_owned(), "REGISTRY_AUTH_FILE"),
                ("/a.json".to_owned(), "AUTHFILE"),
                ("/home/u/.docker/config.json".to_owned(), "HOME"),
            ]
        );
    }

    #[test]
    fn candidates_go_from_longest_to_registry() {
        assert_eq!(
            candidates(&repo("Quay.IO/org/repo:tag")),
            vec!["quay.io/org/repo", "quay.io/org", "quay.io"]
        );
        assert_eq!(
            candidates(&repo("ubuntu")),
            vec!["docker.io/library/ubuntu", "docker.io/library", "docker.io"]
        );
    }
}
