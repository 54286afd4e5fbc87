//! Where a workspace lives in a registry: the references `workspace push` and `workspace pull`
//! take, parsed once at the edge.
//!
//! Three spellings are accepted:
//!
//! - `oci:REGISTRY/REPO@sha256:<hex>`: the form Konflux Trusted Artifacts writes to its
//!   `*_ARTIFACT` results. There the digest names a *blob* (the gzip tarball); stepkit writes
//!   the same form with a *manifest* digest. Which one it is is found out at the registry
//!   ([`Registry::resolve`](super::registry::Registry::resolve)), not here.
//! - `REGISTRY/REPO@sha256:<hex>`: the same without the prefix.
//! - `REGISTRY/REPO:TAG`: a tag, resolved to a manifest when pulled.
//!
//! Repository names follow [`ImageReference`] (registry ports, nested paths, `docker.io`
//! defaults). A reference with both a tag and a digest (`REPO:TAG@sha256:…`, which
//! Trusted Artifacts documents) is a digest reference: the digest is what gets pulled, the tag
//! is dropped. Digests must be `sha256`, as both Trusted Artifacts and stepkit write them.

use std::fmt;
use std::str::FromStr;

use crate::core::error::Error;
use crate::core::image_ref::ImageReference;

/// The prefix Trusted Artifacts puts before its references.
pub const OCI_PREFIX: &str = "oci:";

/// The placeholder [`fill_placeholder`] replaces with the workspace name.
pub const WORKSPACE_PLACEHOLDER: &str = "{{workspace}}";

/// A parsed workspace reference. Its [`Display`](fmt::Display) prints a reference that parses
/// back to an equal value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WorkspaceRef {
    /// `[oci:]REGISTRY/REPO@sha256:<hex>`: a manifest or a blob, by content digest.
    Digest {
        /// The repository, with neither tag nor digest.
        repository: ImageReference,
        /// `sha256:<64 lowercase hex>`.
        digest: String,
        /// Whether the input was written with the Trusted Artifacts `oci:` prefix (kept so
        /// that the reference prints the way it was given).
        oci_prefix: bool,
    },
    /// `REGISTRY/REPO:TAG`: a manifest, by tag.
    Tag {
        /// The repository, with neither tag nor digest.
        repository: ImageReference,
        tag: String,
    },
}

impl WorkspaceRef {
    /// The repository (registry and path, no tag or digest).
    pub fn repository(&self) -> &ImageReference {
        match self {
            WorkspaceRef::Digest { repository, .. } | WorkspaceRef::Tag { repository, .. } => {
                repository
            }
        }
    }

    /// The registry host, with its port if it has one (`quay.io`, `127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        &self.repository().registry
    }

    /// The digest, for a digest reference.
    pub fn digest(&self) -> Option<&str> {
        match self {
            WorkspaceRef::Digest { digest, .. } => Some(digest),
            WorkspaceRef::Tag { .. } => None,
        }
    }

    /// The reference as Trusted Artifacts writes it: `oci:REGISTRY/REPO@sha256:…`, for a
    /// repository and a digest.
    pub fn trusted_artifact(repository: &ImageReference, digest: &str) -> String {
        format!(
            "{OCI_PREFIX}{}/{}@{digest}",
            repository.registry, repository.repository
        )
    }
}

impl fmt::Display for WorkspaceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkspaceRef::Digest {
                repository,
                digest,
                oci_prefix,
            } => {
                if *oci_prefix {
                    f.write_str(OCI_PREFIX)?;
                }
                write!(
                    f,
                    "{}/{}@{digest}",
                    repository.registry, repository.repository
                )
            }
            WorkspaceRef::Tag { repository, tag } => {
                write!(f, "{}/{}:{tag}", repository.registry, repository.repository)
            }
        }
    }
}

impl FromStr for WorkspaceRef {
    /// Always [`Kind::Usage`](crate::core::error::Kind::Usage) (exit 2); the message quotes
    /// the input and says what to write instead.
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        parse(input)
            .map_err(|problem| Error::usage(format!("workspace reference {input:?}: {problem}")))
    }
}

fn parse(input: &str) -> Result<WorkspaceRef, String> {
    let (rest, oci_prefix) = split_oci_prefix(input);
    if oci_prefix && rest.is_empty() {
        return Err(
            "has nothing after \"oci:\"; expected oci:REGISTRY/REPO@sha256:<digest>".into(),
        );
    }
    if oci_prefix && rest.starts_with("//") {
        return Err(
            "is written like a URL; Trusted Artifacts references are oci:REGISTRY/REPO@sha256:<digest>, without //"
                .into(),
        );
    }
    let parsed: ImageReference = rest.parse()?;
    let repository = ImageReference {
        registry: parsed.registry.clone(),
        repository: parsed.repository.clone(),
        tag: None,
        digest: None,
    };
    match (parsed.digest, parsed.tag) {
        (Some(digest), _) => {
            if !digest.starts_with("sha256:") {
                return Err(format!(
                    "has the digest {digest:?}; workspaces are addressed by sha256 digests (sha256:<64 hex digits>)"
                ));
            }
            Ok(WorkspaceRef::Digest {
                repository,
                digest,
                oci_prefix,
            })
        }
        (None, Some(tag)) if !oci_prefix => Ok(WorkspaceRef::Tag { repository, tag }),
        (None, Some(_)) => Err(
            "names a tag after the oci: prefix; an oci: reference names content by digest (oci:REGISTRY/REPO@sha256:<digest>); for a tag, drop the oci: prefix"
                .into(),
        ),
        (None, None) => Err(
            "names no tag and no digest; write REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:<digest>"
                .into(),
        ),
    }
}

/// Splits off the Trusted Artifacts prefix. `oci:5000/repo` is not one: that is a registry
/// host named `oci` with a port, the way `ImageReference` reads it.
fn split_oci_prefix(input: &str) -> (&str, bool) {
    match input.strip_prefix(OCI_PREFIX) {
        Some(rest) if !looks_like_port(rest) => (rest, true),
        _ => (input, false),
    }
}

/// `5000/…` or `5000` alone: digits up to the first `/` or the end.
fn looks_like_port(rest: &str) -> bool {
    let port = rest.split('/').next().unwrap_or_default();
    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && rest.contains('/')
}

/// Replaces every `{{workspace}}` in `template` with `workspace`
/// (`quay.io/org/{{workspace}}` → `quay.io/org/source`). Other text is kept as it is.
pub fn fill_placeholder(template: &str, workspace: &str) -> String {
    template.replace(WORKSPACE_PLACEHOLDER, workspace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::Kind;

    const HEX: &str = "3f1c0c9f2b7a4e8d9c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d";

    fn ok(input: &str) -> WorkspaceRef {
        input
            .parse()
            .unwrap_or_else(|error| panic!("{input}: {error}"))
    }

    fn err(input: &str) -> String {
        match input.parse::<WorkspaceRef>() {
            Ok(parsed) => panic!("{input} parsed as {parsed:?}"),
            Err(error) => {
                assert_eq!(error.kind(), Kind::Usage, "{error}");
                error.to_string()
            }
        }
    }

    fn repo(registry: &str, repository: &str) -> ImageReference {
        ImageReference {
            registry: registry.into(),
            repository: repository.into(),
            tag: None,
            digest: None,
        }
    }

    #[test]
    fn trusted_artifacts_references_keep_their_prefix() {
        let input = format!("oci:quay.io/redhat-user-workloads/tenant/comp@sha256:{HEX}");
        let parsed = ok(&input);
        assert_eq!(
            parsed,
            WorkspaceRef::Digest {
                repository: repo("quay.io", "redhat-user-workloads/tenant/comp"),
                digest: format!("sha256:{HEX}"),
                oci_prefix: true,
            }
        );
        assert_eq!(parsed.registry(), "quay.io");
        assert_eq!(parsed.digest(), Some(format!("sha256:{HEX}").as_str()));
        assert_eq!(parsed.to_string(), input);
        assert_eq!(
            WorkspaceRef::trusted_artifact(parsed.repository(), parsed.digest().unwrap()),
            input
        );
    }

    #[test]
    fn digest_references_without_prefix() {
        let input = format!("registry.local:5000/a/b/c@sha256:{HEX}");
        let parsed = ok(&input);
        assert_eq!(
            parsed,
            WorkspaceRef::Digest {
                repository: repo("registry.local:5000", "a/b/c"),
                digest: format!("sha256:{HEX}"),
                oci_prefix: false,
            }
        );
        assert_eq!(parsed.to_string(), input);
    }

    #[test]
    fn tag_references_with_ports_and_nested_paths() {
        let parsed = ok("registry:5000/a/b:tag");
        assert_eq!(
            parsed,
            WorkspaceRef::Tag {
                repository: repo("registry:5000", "a/b"),
                tag: "tag".into(),
            }
        );
        assert_eq!(parsed.registry(), "registry:5000");
        assert_eq!(parsed.digest(), None);
        assert_eq!(parsed.to_string(), "registry:5000/a/b:tag");
        let ipv6 = ok("[::1]:5000/ws/x:run-1-task");
        assert_eq!(ipv6.registry(), "[::1]:5000");
        assert_eq!(ipv6.to_string(), "[::1]:5000/ws/x:run-1-task");
    }

    #[test]
    fn a_tag_next_to_a_digest_is_dropped() {
        let parsed = ok(&format!("oci:quay.io/org/repo:latest@sha256:{HEX}"));
        assert_eq!(parsed.repository().tag, None);
        assert_eq!(
            parsed.to_string(),
            format!("oci:quay.io/org/repo@sha256:{HEX}")
        );
    }

    #[test]
    fn docker_hub_names_are_spelled_out() {
        let parsed = ok("ubuntu:24.04");
        assert_eq!(parsed.to_string(), "docker.io/library/ubuntu:24.04");
        assert_eq!(ok(&parsed.to_string()), parsed);
    }

    #[test]
    fn a_registry_called_oci_with_a_port_is_not_a_prefix() {
        let parsed = ok("oci:5000/ws/repo:v1");
        assert_eq!(
            parsed,
            WorkspaceRef::Tag {
                repository: repo("oci:5000", "ws/repo"),
                tag: "v1".into(),
            }
        );
        assert_eq!(ok(&parsed.to_string()), parsed);
    }

    #[test]
    fn display_round_trips() {
        for input in [
            format!("oci:quay.io/org/repo@sha256:{HEX}"),
            format!("quay.io/org/repo@sha256:{HEX}"),
            "localhost:5000/x:y".to_owned(),
            format!("oci:127.0.0.1:5000/a/b@sha256:{HEX}"),
        ] {
            let parsed = ok(&input);
            assert_eq!(parsed.to_string(), input);
            assert_eq!(ok(&parsed.to_string()), parsed);
        }
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        let message = err("quay.io/org/repo");
        assert!(message.contains("no tag and no digest"), "{message}");
        assert!(message.contains("\"quay.io/org/repo\""), "{message}");

        let message = err("quay.io/org/repo@sha256:abc");
        assert!(message.contains("3 hex digits"), "{message}");

        let message = err(&format!("quay.io/org/repo@sha256:{}", HEX.to_uppercase()));
        assert!(message.contains("lowercase"), "{message}");

        let message = err(&format!("quay.io/org/repo@sha512:{HEX}{HEX}"));
        assert!(message.contains("sha256"), "{message}");

        let message = err("oci:quay.io/org/repo:tag");
        assert!(message.contains("drop the oci: prefix"), "{message}");

        let message = err("oci:");
        assert!(message.contains("nothing after"), "{message}");

        let message = err(&format!("oci://quay.io/org/repo@sha256:{HEX}"));
        assert!(message.contains("without //"), "{message}");

        let message = err("https://quay.io/org/repo:tag");
        assert!(message.contains("URL"), "{message}");

        let message = err("quay.io/Org/repo:tag");
        assert!(message.contains("uppercase"), "{message}");

        let message = err("quay.io/org/repo:tag\n");
        assert!(message.contains("newline"), "{message}");

        let message = err("");
        assert!(message.contains("empty"), "{message}");
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            fill_placeholder("quay.io/org/{{workspace}}:{{workspace}}-x", "source"),
            "quay.io/org/source:source-x"
        );
        assert_eq!(
            fill_placeholder("quay.io/org/repo", "source"),
            "quay.io/org/repo"
        );
        assert_eq!(
            fill_placeholder("quay.io/{{other}}", "source"),
            "quay.io/{{other}}"
        );
    }
}
