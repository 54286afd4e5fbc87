//! What to trigger: Gangway's `CreateJobExecutionRequest`, checked as Gangway (kubernetes-sigs/prow
//! `pkg/gangway`) and Kubernetes would check it, so that a bad request fails here with the
//! field named instead of after a round trip.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::JobExecutionType;
use crate::core::error::Error;

/// The git refs a presubmit or postsubmit runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refs {
    pub org: String,
    pub repo: String,
    pub base_ref: String,
    pub base_sha: String,
    pub pulls: Vec<Pull>,
}

/// A pull request of [`Refs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub number: u32,
    pub sha: String,
    pub author: Option<String>,
}

/// What to trigger: Gangway's `CreateJobExecutionRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    pub job_name: String,
    pub job_type: JobExecutionType,
    /// Appended to every container of the job. Public: Deck serves them to anyone.
    pub envs: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub refs: Option<Refs>,
}

impl CreateRequest {
    /// Checks the rules Gangway enforces (kubernetes-sigs/prow `pkg/gangway`), plus the metadata
    /// key syntax Kubernetes enforces when the ProwJob is created, so that a bad request fails
    /// here with the field named instead of after a round trip.
    pub fn validate(&self) -> anyhow::Result<()> {
        let job = &self.job_name;
        if job.trim().is_empty() {
            return Err(invalid(
                "job_name is empty: give the name of a Prow job defined in openshift/release",
            ));
        }
        match (self.job_type, &self.refs) {
            (JobExecutionType::Periodic, Some(_)) => {
                return Err(invalid(format!(
                    "refs are set for the periodic job {job}: Gangway refuses them \
                     (\"periodic jobs cannot also have gitRefs\"); trigger it as presubmit or \
                     postsubmit, or leave the refs out"
                )));
            }
            (JobExecutionType::Periodic, None) => {}
            (job_type, None) => {
                return Err(invalid(format!(
                    "refs are missing: a {job_type} job ({job}) needs org, repo, base_ref and \
                     base_sha to run against"
                )));
            }
            (job_type, Some(refs)) => validate_refs(job_type, refs)?,
        }
        for (key, value) in &self.envs {
            if key.is_empty() {
                return Err(invalid(
                    "pod_spec_options.envs has an empty variable name: Gangway refuses it",
                ));
            }
            if key.contains('=') {
                return Err(invalid(format!(
                    "pod_spec_options.envs: the variable name {key:?} contains '='"
                )));
            }
            if value.is_empty() {
                return Err(invalid(format!(
                    "pod_spec_options.envs.{key} is empty: Gangway refuses empty values; \
                     leave the variable out instead"
                )));
            }
        }
        for (key, value) in &self.labels {
            check_metadata_key("labels", key)?;
            if value.is_empty() {
                return Err(invalid(format!(
                    "pod_spec_options.labels.{key} is empty: Gangway refuses empty values"
                )));
            }
            if let Some(problem) = label_value_problem(value) {
                return Err(invalid(format!(
                    "pod_spec_options.labels.{key}: the value {value:?} is not a valid \
                     Kubernetes label value: it {problem}"
                )));
            }
        }
        for (key, value) in &self.annotations {
            check_metadata_key("annotations", key)?;
            if value.is_empty() {
                return Err(invalid(format!(
                    "pod_spec_options.annotations.{key} is empty: Gangway refuses empty values"
                )));
            }
        }
        Ok(())
    }

    /// The request body, in the shape the ci-docs examples use: snake_case keys and
    /// `job_execution_type` as a numeric string. Empty maps are left out.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("job_name".into(), json!(self.job_name));
        body.insert(
            "job_execution_type".into(),
            json!(self.job_type.wire_value()),
        );
        let mut options = Map::new();
        for (name, map) in [
            ("envs", &self.envs),
            ("labels", &self.labels),
            ("annotations", &self.annotations),
        ] {
            if !map.is_empty() {
                options.insert(name.into(), json!(map));
            }
        }
        if !options.is_empty() {
            body.insert("pod_spec_options".into(), Value::Object(options));
        }
        if let Some(refs) = &self.refs {
            let pulls: Vec<Value> = refs
                .pulls
                .iter()
                .map(|pull| {
                    let mut entry = Map::new();
                    entry.insert("number".into(), json!(pull.number));
                    entry.insert("sha".into(), json!(pull.sha));
                    if let Some(author) = &pull.author {
                        entry.insert("author".into(), json!(author));
                    }
                    Value::Object(entry)
                })
                .collect();
            let mut refs_json = Map::new();
            refs_json.insert("org".into(), json!(refs.org));
            refs_json.insert("repo".into(), json!(refs.repo));
            refs_json.insert("base_ref".into(), json!(refs.base_ref));
            refs_json.insert("base_sha".into(), json!(refs.base_sha));
            if !pulls.is_empty() {
                refs_json.insert("pulls".into(), Value::Array(pulls));
            }
            body.insert("refs".into(), Value::Object(refs_json));
        }
        Value::Object(body)
    }
}

fn invalid(message: impl Into<String>) -> anyhow::Error {
    Error::usage(message).into()
}

fn validate_refs(job_type: JobExecutionType, refs: &Refs) -> anyhow::Result<()> {
    for (field, value) in [
        ("org", &refs.org),
        ("repo", &refs.repo),
        ("base_ref", &refs.base_ref),
        ("base_sha", &refs.base_sha),
    ] {
        if value.trim().is_empty() {
            return Err(invalid(format!(
                "refs.{field} is empty: a {job_type} job needs org, repo, base_ref and base_sha"
            )));
        }
    }
    // Gangway's presubmit handler asks for at least one pull ("at least 1 Pulls is required").
    if job_type == JobExecutionType::Presubmit && refs.pulls.is_empty() {
        return Err(invalid(
            "refs.pulls is empty: a presubmit job runs against at least one pull request",
        ));
    }
    for (index, pull) in refs.pulls.iter().enumerate() {
        if !is_commit_sha(&pull.sha) {
            return Err(invalid(format!(
                "refs.pulls[{index}].sha {:?} is not a commit SHA: Gangway wants 40 lowercase \
                 hexadecimal characters",
                pull.sha
            )));
        }
    }
    Ok(())
}

fn is_commit_sha(sha: &str) -> bool {
    sha.len() == 40
        && sha
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

/// Why `value` is not a Kubernetes label value, if it is not. Empty is valid here (callers
/// that refuse empty values say so themselves).
fn label_value_problem(value: &str) -> Option<String> {
    if value.len() > 63 {
        return Some(format!("is {} characters long (at most 63)", value.len()));
    }
    name_part_problem(value)
}

/// The rule shared by label values and the name part of label and annotation keys.
fn name_part_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if !value
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
    {
        return Some("may hold only letters, digits, '-', '_' and '.'".into());
    }
    let bytes = value.as_bytes();
    let starts = bytes.first().is_some_and(u8::is_ascii_alphanumeric);
    let ends = bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    if !starts || !ends {
        return Some("must begin and end with a letter or digit".into());
    }
    None
}

/// Kubernetes checks label and annotation keys when the ProwJob is created; Gangway does not.
fn check_metadata_key(map: &str, key: &str) -> anyhow::Result<()> {
    if key.is_empty() {
        return Err(invalid(format!(
            "pod_spec_options.{map} has an empty key: Gangway refuses it"
        )));
    }
    if let Some(problem) = qualified_name_problem(key) {
        return Err(invalid(format!(
            "pod_spec_options.{map}: the key {key:?} is not a valid Kubernetes key: {problem}"
        )));
    }
    Ok(())
}

/// Why `key` is not a Kubernetes qualified name (`[prefix/]name`), if it is not.
fn qualified_name_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if name.is_empty() {
        return Some("the name after the prefix is empty".into());
    }
    if name.len() > 63 {
        return Some(format!(
            "the name part is {} characters long (at most 63)",
            name.len()
        ));
    }
    if let Some(problem) = name_part_problem(name) {
        return Some(format!("the name part {problem}"));
    }
    if let Some(prefix) = prefix {
        let valid_prefix = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|label| {
                !label.is_empty()
                    && label.bytes().all(|byte| {
                        byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-'
                    })
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !valid_prefix {
            return Some(format!(
                "the prefix {prefix:?} must be a lowercase DNS name (like example.com)"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::exit_code;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn periodic(name: &str) -> CreateRequest {
        CreateRequest {
            job_name: name.into(),
            job_type: JobExecutionType::Periodic,
            envs: BTreeMap::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            refs: None,
        }
    }

    fn refs() -> Refs {
        Refs {
            org: "openshift".into(),
            repo: "origin".into(),
            base_ref: "main".into(),
            base_sha: SHA.into(),
            pulls: vec![Pull {
                number: 7,
                sha: SHA.into(),
                author: Some("someone".into()),
            }],
        }
    }

    fn usage_message(request: &CreateRequest) -> String {
        let error = request.validate().expect_err("invalid");
        assert_eq!(exit_code(&error), 2, "{error:#}");
        format!("{error:#}")
    }

    #[test]
    fn the_body_has_the_documented_shape() {
        let mut request = periodic("periodic-ci-x");
        request.envs.insert("UNRESOLVED_CONFIG".into(), "{}".into());
        request
            .annotations
            .insert("ci.openshift.io/konflux-repo".into(), "o/r".into());
        assert_eq!(
            request.to_json(),
            json!({"job_name": "periodic-ci-x", "job_execution_type": "1",
                   "pod_spec_options": {"envs": {"UNRESOLVED_CONFIG": "{}"},
                                        "annotations": {"ci.openshift.io/konflux-repo": "o/r"}}})
        );
        assert_eq!(
            periodic("p").to_json(),
            json!({"job_name": "p", "job_execution_type": "1"})
        );
        let mut presubmit = periodic("pull-ci-x");
        presubmit.job_type = JobExecutionType::Presubmit;
        presubmit.refs = Some(refs());
        let body = presubmit.to_json();
        assert_eq!(body["job_execution_type"], "3");
        assert_eq!(body["refs"]["base_sha"], SHA);
        assert_eq!(
            body["refs"]["pulls"][0],
            json!({"number": 7, "sha": SHA, "author": "someone"})
        );
        presubmit.validate().expect("valid presubmit");
    }

    #[test]
    fn validation_mirrors_gangway_and_names_the_field() {
        assert!(usage_message(&periodic(" ")).contains("job_name is empty"));

        let mut with_refs = periodic("p");
        with_refs.refs = Some(refs());
        assert!(usage_message(&with_refs).contains("periodic jobs cannot also have gitRefs"));

        let mut presubmit = periodic("pull");
        presubmit.job_type = JobExecutionType::Presubmit;
        assert!(usage_message(&presubmit).contains("refs are missing"));

        let mut missing = refs();
        missing.base_sha.clear();
        presubmit.refs = Some(missing);
        assert!(usage_message(&presubmit).contains("refs.base_sha is empty"));

        let mut no_pulls = refs();
        no_pulls.pulls.clear();
        presubmit.refs = Some(no_pulls.clone());
        assert!(usage_message(&presubmit).contains("refs.pulls is empty"));
        let mut postsubmit = presubmit.clone();
        postsubmit.job_type = JobExecutionType::Postsubmit;
        postsubmit.refs = Some(no_pulls);
        postsubmit.validate().expect("a postsubmit needs no pulls");

        for bad_sha in [
            "ABCDEF0123456789abcdef0123456789abcdef01",
            "abc",
            &format!("{SHA}0"),
        ] {
            let mut bad = refs();
            bad.pulls[0].sha = bad_sha.to_owned();
            presubmit.refs = Some(bad);
            assert!(
                usage_message(&presubmit).contains("refs.pulls[0].sha"),
                "{bad_sha}"
            );
        }

        let mut env = periodic("p");
        env.envs.insert("EMPTY".into(), String::new());
        assert!(usage_message(&env).contains("pod_spec_options.envs.EMPTY is empty"));
        let mut env = periodic("p");
        env.envs.insert(String::new(), "v".into());
        assert!(usage_message(&env).contains("empty variable name"));

        let mut label = periodic("p");
        label.labels.insert("team".into(), "has space".into());
        assert!(usage_message(&label).contains("pod_spec_options.labels.team"));
        let mut label = periodic("p");
        label.labels.insert("team".into(), "x".repeat(64));
        assert!(usage_message(&label).contains("at most 63"));
        let mut label = periodic("p");
        label.labels.insert("team".into(), "-dash".into());
        assert!(usage_message(&label).contains("begin and end"));
        let mut label = periodic("p");
        label.labels.insert("team".into(), String::new());
        assert!(usage_message(&label).contains("labels.team is empty"));
        let mut label = periodic("p");
        label.labels.insert("Bad_Prefix.io/name".into(), "v".into());
        assert!(usage_message(&label).contains("prefix"));

        let mut annotation = periodic("p");
        annotation.annotations.insert("note".into(), String::new());
        assert!(usage_message(&annotation).contains("annotations.note is empty"));
        let mut annotation = periodic("p");
        annotation.annotations.insert(String::new(), "v".into());
        assert!(usage_message(&annotation).contains("empty key"));

        let mut good = periodic("p");
        good.labels
            .insert("app.kubernetes.io/part-of".into(), "a.b_c-d".into());
        good.annotations.insert(
            "ci.openshift.io/note".into(),
            "any text, even spaces".into(),
        );
        good.envs.insert("A".into(), "a=b,c".into());
        good.validate().expect("valid");
    }
}
