//! Deck's public view of a ProwJob (`/prowjob?prowjob=<id>`), for the job's URL when Gangway
//! does not say it, and the job's history page.

use reqwest::{Method, StatusCode, Url};

use super::client::{join_segments, parse_base_url};
use crate::core::error::Error;
use crate::core::http::{read_body, status_error, HttpClient};
use crate::core::secret::redact_url_credentials;

/// The largest ProwJob document read from Deck.
const MAX_DECK_BYTES: usize = 4 * 1024 * 1024;

/// Deck's public view of a ProwJob.
#[derive(Debug, Clone)]
pub struct DeckClient {
    http: HttpClient,
    base: Url,
}

/// What Deck says about a ProwJob.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeckJob {
    /// `status.state`: triggered, pending, success, ...
    pub state: Option<String>,
    /// `status.url`: the Spyglass link, set once the job is scheduled.
    pub url: Option<String>,
    /// `status.build_id`: the number in the job's artifact paths (not the Gangway id).
    pub build_id: Option<String>,
    /// `spec.job`.
    pub job: Option<String>,
    /// The names (never the values) of the env variables of the job's first container, to spot
    /// settings such as CONFIG_SPEC that take precedence over ours.
    pub env_names: Vec<String>,
}

impl DeckClient {
    /// A client for the Deck at `base_url` (e.g. `https://prow.ci.openshift.org`).
    pub fn new(http: HttpClient, base_url: &str) -> anyhow::Result<DeckClient> {
        Ok(DeckClient::at(http, parse_base_url(base_url, "Deck")?))
    }

    /// A client for the Deck at `base`, a URL [`parse_base_url`] accepted.
    pub fn at(http: HttpClient, base: Url) -> DeckClient {
        DeckClient { http, base }
    }

    /// The ProwJob `id` as Deck serves it, or `None` when Deck does not know it (yet).
    pub async fn prowjob(&self, id: &str) -> anyhow::Result<Option<DeckJob>> {
        let id = id.trim();
        if id.is_empty() {
            return Err(Error::usage("the ProwJob id is empty").into());
        }
        let mut url = join_segments(&self.base, &["prowjob"]);
        url.query_pairs_mut().append_pair("prowjob", id);
        let response = self
            .http
            .send_idempotent(self.http.inner().get(url))
            .await
            .map_err(|error| error.context(format!("reading ProwJob {id} from Deck")))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(status_error(&Method::GET, response, &[])
                .await
                .context(format!("reading ProwJob {id} from Deck")));
        }
        let mut response = response;
        let bytes = read_body(&mut response, MAX_DECK_BYTES)
            .await
            .map_err(|problem| {
                Error::remote(format!("reading ProwJob {id} from Deck: {problem}"))
            })?;
        parse_deck_prowjob(&String::from_utf8_lossy(&bytes), id).map(Some)
    }
}

/// Reads Deck's ProwJob YAML. Deck may send several documents; the one named `id` wins, else
/// the first that looks like a ProwJob.
fn parse_deck_prowjob(text: &str, id: &str) -> anyhow::Result<DeckJob> {
    let mut candidates = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value =
            <serde_yaml::Value as serde::Deserialize>::deserialize(document).map_err(|error| {
                Error::remote(format!(
                    "reading ProwJob {id} from Deck: the answer is not YAML: {error}"
                ))
            })?;
        if value.get("status").is_some() || value.get("spec").is_some() {
            candidates.push(value);
        }
    }
    let named = candidates.iter().position(|document| {
        document
            .get("metadata")
            .and_then(|metadata| metadata.get("name"))
            .and_then(serde_yaml::Value::as_str)
            == Some(id)
    });
    let Some(document) = named
        .map(|index| &candidates[index])
        .or_else(|| candidates.first())
    else {
        return Err(Error::remote(format!(
            "reading ProwJob {id} from Deck: the answer holds no ProwJob (no spec or status)"
        ))
        .into());
    };
    let status = document.get("status");
    let spec = document.get("spec");
    let field = |parent: Option<&serde_yaml::Value>, key: &str| -> Option<String> {
        let text = match parent?.get(key)? {
            serde_yaml::Value::String(text) => text.trim().to_owned(),
            serde_yaml::Value::Number(number) => number.to_string(),
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    };
    let env_names = spec
        .and_then(|spec| spec.get("pod_spec"))
        .and_then(|pod| pod.get("containers"))
        .and_then(serde_yaml::Value::as_sequence)
        .and_then(|containers| containers.first())
        .and_then(|container| container.get("env"))
        .and_then(serde_yaml::Value::as_sequence)
        .map(|env| {
            env.iter()
                .filter_map(|entry| entry.get("name").and_then(serde_yaml::Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(DeckJob {
        state: field(status, "state"),
        url: field(status, "url"),
        build_id: field(status, "build_id"),
        job: field(spec, "job"),
        env_names,
    })
}

/// The job's history page in Deck: `<deck>/?job=<name>`, the name percent-encoded; a user or
/// password in `deck_url` is left out, since the link is logged.
pub fn history_url(deck_url: &str, job_name: &str) -> String {
    let shown = redact_url_credentials(deck_url.trim());
    let base = shown.trim_end_matches('/');
    let mut encoded = String::with_capacity(job_name.len());
    for byte in job_name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{base}/?job={encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_urls_are_encoded() {
        assert_eq!(
            history_url(
                "https://prow.ci.openshift.org/",
                "periodic-ci-org-repo-main-e2e"
            ),
            "https://prow.ci.openshift.org/?job=periodic-ci-org-repo-main-e2e"
        );
        assert_eq!(
            history_url("https://deck.example/prow", "a b&c/d+é"),
            "https://deck.example/prow/?job=a%20b%26c%2Fd%2B%C3%A9"
        );
        assert_eq!(
            history_url("https://u:CANARY@deck.example", "j"),
            "https://[redacted]@deck.example/?job=j"
        );
    }

    #[test]
    fn deck_yaml_is_read_from_the_named_document() {
        let yaml = "kind: Status\nmessage: hi\n---\nkind: ProwJob\nmetadata:\n  name: other\n\
                    spec:\n  job: j\nstatus:\n  state: pending\n---\nkind: ProwJob\nmetadata:\n  \
                    name: the-id\nspec:\n  job: j\n  type: periodic\n  pod_spec:\n    containers:\n    \
                    - env:\n      - name: CONFIG_SPEC\n        value: secret-ish\nstatus:\n  state: \
                    success\n  url: https://prow/view/1\n  build_id: 1234567890\n";
        let job = parse_deck_prowjob(yaml, "the-id").unwrap();
        assert_eq!(job.state.as_deref(), Some("success"));
        assert_eq!(job.url.as_deref(), Some("https://prow/view/1"));
        assert_eq!(
            job.build_id.as_deref(),
            Some("1234567890"),
            "numbers read as text"
        );
        assert_eq!(job.job.as_deref(), Some("j"));
        assert_eq!(job.env_names, vec!["CONFIG_SPEC".to_owned()]);

        let first = parse_deck_prowjob(yaml, "unknown").unwrap();
        assert_eq!(first.state.as_deref(), Some("pending"));
        assert!(parse_deck_prowjob("kind: Status\n", "x").is_err());
        assert!(parse_deck_prowjob("{ not yaml", "x").is_err());
    }
}
