//! OCI image references (`registry/repository[:tag][@digest]`), parsed once at the edge.
//!
//! Follows the grammar of distribution/reference (the one docker, podman and skopeo use):
//!
//! - the first path component is a registry when it contains `.` or `:` or is `localhost`
//!   (`host:5000/ns/img`, `[::1]:5000/img`, `10.0.0.1:5000/img`); otherwise the registry is
//!   `docker.io`, and a one-component repository there is an official image under `library/`;
//! - repository path components are lowercase `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`;
//! - a tag is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`;
//! - a digest is `algorithm:hex`; `sha256` needs 64 and `sha512` 128 lowercase hex digits,
//!   other algorithms at least 32 hex digits;
//! - tag and digest may both be present (`img:v1@sha256:...`; the digest is what gets pulled).
//!
//! Errors are sentences for a person: they quote the input and say what is wrong with it.

use std::fmt;
use std::str::FromStr;

/// The registry of references that name none (`ubuntu`, `org/img`).
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// Where docker.io keeps its official one-component images (`ubuntu` is `library/ubuntu`).
const OFFICIAL_NAMESPACE: &str = "library";
/// distribution/reference's limit on registry plus repository.
const MAX_NAME_LENGTH: usize = 255;
/// distribution/reference's limit on a tag.
const MAX_TAG_LENGTH: usize = 128;

/// A parsed, valid image reference. The registry is always explicit (`docker.io` when the
/// input named none), so [`Display`](fmt::Display) prints a reference that means the same to
/// every tool and parses back to an equal value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    /// `quay.io`, `localhost:5000`, `10.0.0.1:5000`, `[::1]:5000`.
    pub registry: String,
    /// `redhat-user-workloads/tenant/component`: every path component after the registry.
    pub repository: String,
    /// `v1.2`, if the reference has one.
    pub tag: Option<String>,
    /// `sha256:<64 hex>`, if the reference has one.
    pub digest: Option<String>,
}

impl ImageReference {
    /// The repository before its last `/` (`redhat-user-workloads/tenant` for
    /// `quay.io/redhat-user-workloads/tenant/comp`), or `""` when it has a single component.
    pub fn namespace(&self) -> &str {
        match self.repository.rsplit_once('/') {
            Some((namespace, _)) => namespace,
            None => "",
        }
    }

    /// The last path component of the repository (`comp`).
    pub fn name(&self) -> &str {
        match self.repository.rsplit_once('/') {
            Some((_, name)) => name,
            None => &self.repository,
        }
    }

    /// The digest's algorithm (`sha256`) and hex value, if there is a digest.
    pub fn digest_parts(&self) -> Option<(&str, &str)> {
        self.digest
            .as_deref()
            .and_then(|digest| digest.split_once(':'))
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageReference {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        parse(input).map_err(|problem| format!("image reference {input:?}: {problem}"))
    }
}

/// Parses `input`; the error says what is wrong, without repeating the input.
fn parse(input: &str) -> Result<ImageReference, String> {
    if input.is_empty() {
        return Err("is empty".to_owned());
    }
    if let Some(bad) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "contains {bad:?}; a reference has no spaces or control characters (check for a stray newline or quote)"
        ));
    }
    if input.contains("://") {
        return Err(
            "looks like a URL; write the reference without a scheme (registry/repository:tag)"
                .to_owned(),
        );
    }
    // The digest is everything after the first '@': neither names nor tags may contain one.
    let (name_and_tag, digest) = match input.split_once('@') {
        Some((before, digest)) => (before, Some(parse_digest(digest)?)),
        None => (input, None),
    };
    // A ':' after the last '/' starts the tag; an earlier one belongs to a registry's port.
    let last_slash = name_and_tag.rfind('/');
    let (name, tag) = match name_and_tag.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => (
            &name_and_tag[..colon],
            Some(parse_tag(&name_and_tag[colon + 1..])?),
        ),
        _ => (name_and_tag, None),
    };
    if name.is_empty() {
        return Err("has no repository name".to_owned());
    }
    let (registry, repository) = split_registry(name);
    if let Some(registry) = registry {
        check_registry(registry)?;
    }
    check_repository(repository)?;
    let registry = registry.unwrap_or(DEFAULT_REGISTRY).to_owned();
    let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
        format!("{OFFICIAL_NAMESPACE}/{repository}")
    } else {
        repository.to_owned()
    };
    // Measured as printed, registry and library/ included, so that what parses also prints.
    let full_length = registry.len() + 1 + repository.len();
    if full_length > MAX_NAME_LENGTH {
        return Err(format!(
            "the name is {full_length} characters long (as {registry}/...); registry plus repository may have at most {MAX_NAME_LENGTH}"
        ));
    }
    Ok(ImageReference {
        registry,
        repository,
        tag,
        digest,
    })
}

/// Splits off the registry: the first component when it can only be a host name.
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// `host[:port]`, where host is a DNS name, an IPv4 address or a bracketed IPv6 address.
fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = split_host_port(registry)?;
    if let Some(port) = port {
        check_port(registry, port)?;
    }
    if let Some(ipv6) = host.strip_prefix('[') {
        return check_ipv6(registry, ipv6);
    }
    if host.is_empty() {
        return Err(format!("registry {registry:?} has no host name"));
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(format!(
                "registry {registry:?} has an empty part between dots"
            ));
        }
        let valid = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err(format!(
                "registry {registry:?}: {label:?} is not a valid host name part (letters, digits and inner '-' only)"
            ));
        }
    }
    Ok(())
}

/// Splits `host:port` and `[v6]:port`; the host keeps its opening bracket.
fn split_host_port(registry: &str) -> Result<(&str, Option<&str>), String> {
    if registry.starts_with('[') {
        let Some(close) = registry.find(']') else {
            return Err(format!(
                "registry {registry:?} opens an IPv6 address with '[' but never closes it"
            ));
        };
        let host = &registry[..close];
        return match &registry[close + 1..] {
            "" => Ok((host, None)),
            rest => match rest.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!(
                    "registry {registry:?} has {rest:?} after the IPv6 address; expected ':' and a port"
                )),
            },
        };
    }
    Ok(match registry.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    })
}

fn check_port(registry: &str, port: &str) -> Result<(), String> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "registry {registry:?} has port {port:?}; a port is a number (host:5000)"
        ));
    }
    match port.parse::<u32>() {
        Ok(1..=65535) => Ok(()),
        _ => Err(format!(
            "registry {registry:?} has port {port}, outside 1-65535"
        )),
    }
}

/// The inside of `[...]`: hex digits, colons and (for a mapped IPv4 tail) dots.
fn check_ipv6(registry: &str, inside_brackets: &str) -> Result<(), String> {
    let address = inside_brackets.trim_end_matches(']');
    let plausible = address.contains(':')
        && address
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    if plausible {
        Ok(())
    } else {
        Err(format!(
            "registry {registry:?} does not hold a valid IPv6 address between the brackets"
        ))
    }
}

fn check_repository(repository: &str) -> Result<(), String> {
    for (index, component) in repository.split('/').enumerate() {
        check_path_component(index, component)?;
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn check_path_component(index: usize, component: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err(format!(
            "repository path component {} is empty (two slashes in a row, or a trailing slash?)",
            index + 1
        ));
    }
    if component.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "repository path component {component:?} has uppercase letters; repository names must be lowercase"
        ));
    }
    if let Some(bad) = component
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "repository path component {component:?} contains {bad:?}; allowed are a-z, 0-9 and the separators '.', '_', '__', '-'"
        ));
    }
    let bytes = component.as_bytes();
    let is_separator = |b: u8| matches!(b, b'.' | b'_' | b'-');
    if is_separator(bytes[0]) || is_separator(bytes[bytes.len() - 1]) {
        return Err(format!(
            "repository path component {component:?} must start and end with a letter or digit"
        ));
    }
    // Runs of separators: any number of '-', or exactly one '.', '_' or the pair "__".
    let mut start = 0;
    while start < bytes.len() {
        if !is_separator(bytes[start]) {
            start += 1;
            continue;
        }
        let end = (start..bytes.len())
            .find(|&i| !is_separator(bytes[i]))
            .unwrap_or(bytes.len());
        let run = &component[start..end];
        let allowed = run == "." || run == "_" || run == "__" || run.bytes().all(|b| b == b'-');
        if !allowed {
            return Err(format!(
                "repository path component {component:?} has the separator {run:?}; use one '.', one '_', '__' or dashes"
            ));
        }
        start = end;
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn parse_tag(tag: &str) -> Result<String, String> {
    if tag.is_empty() {
        return Err("has an empty tag after ':'".to_owned());
    }
    if tag.len() > MAX_TAG_LENGTH {
        return Err(format!(
            "tag is {} characters long; at most {MAX_TAG_LENGTH} are allowed",
            tag.len()
        ));
    }
    if tag.starts_with(['.', '-']) {
        return Err(format!(
            "tag {tag:?} starts with {:?}; a tag starts with a letter, digit or '_'",
            &tag[..1]
        ));
    }
    if let Some(bad) = tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "tag {tag:?} contains {bad:?}; allowed are letters, digits, '_', '.' and '-'"
        ));
    }
    Ok(tag.to_owned())
}

/// `algorithm:hex`, with the exact lengths for the registered algorithms.
fn parse_digest(digest: &str) -> Result<String, String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!(
            "digest {digest:?} has no ':'; expected algorithm:hex, like sha256:<64 hex digits>"
        ));
    };
    check_digest_algorithm(digest, algorithm)?;
    if hex.is_empty() {
        return Err(format!("digest {digest:?} has no hex value after ':'"));
    }
    if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "digest {digest:?} contains {bad:?}; the value after ':' is hexadecimal"
        ));
    }
    let registered_length = match algorithm {
        "sha256" => Some(64),
        "sha512" => Some(128),
        _ => None,
    };
    match registered_length {
        Some(length) if hex.len() != length => Err(format!(
            "digest {digest:?} has {} hex digits; {algorithm} needs exactly {length}",
            hex.len()
        )),
        Some(_) if hex.bytes().any(|b| b.is_ascii_uppercase()) => Err(format!(
            "digest {digest:?} has uppercase hex digits; {algorithm} digests are lowercase"
        )),
        None if hex.len() < 32 => Err(format!(
            "digest {digest:?} has {} hex digits; a digest has at least 32",
            hex.len()
        )),
        _ => Ok(digest.to_owned()),
    }
}

/// `[A-Za-z][A-Za-z0-9]*([+._-][A-Za-z][A-Za-z0-9]*)*`.
fn check_digest_algorithm(digest: &str, algorithm: &str) -> Result<(), String> {
    let valid = !algorithm.is_empty()
        && algorithm.split(['+', '.', '_', '-']).all(|component| {
            component.starts_with(|c: char| c.is_ascii_alphabetic())
                && component.bytes().all(|b| b.is_ascii_alphanumeric())
        });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "digest {digest:?} has the algorithm {algorithm:?}; expected a name like sha256"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEX64: &str = "3f1c0c9f2b7a4e8d9c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d";

    fn parse_ok(input: &str) -> ImageReference {
        input
            .parse()
            .unwrap_or_else(|error| panic!("{input}: {error}"))
    }

    fn parse_err(input: &str) -> String {
        match input.parse::<ImageReference>() {
            Ok(reference) => panic!("{input} parsed as {reference:?}"),
            Err(error) => error,
        }
    }

    fn reference(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> ImageReference {
        ImageReference {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        }
    }

    #[test]
    fn a_registry_with_a_port_is_not_a_tag() {
        let parsed = parse_ok("registry.example.com:5000/ns/img:v1");
        assert_eq!(
            parsed,
            reference("registry.example.com:5000", "ns/img", Some("v1"), None)
        );
        let untagged = parse_ok("registry.example.com:5000/ns/img");
        assert_eq!(untagged.tag, None);
        assert_eq!(untagged.registry, "registry.example.com:5000");
    }

    #[test]
    fn nested_paths_keep_every_component_in_the_repository() {
        let parsed = parse_ok(&format!(
            "quay.io/redhat-user-workloads/tenant/comp@sha256:{HEX64}"
        ));
        assert_eq!(parsed.registry, "quay.io");
        assert_eq!(parsed.repository, "redhat-user-workloads/tenant/comp");
        assert_eq!(parsed.namespace(), "redhat-user-workloads/tenant");
        assert_eq!(parsed.name(), "comp");
        assert_eq!(parsed.tag, None);
        assert_eq!(parsed.digest, Some(format!("sha256:{HEX64}")));
        assert_eq!(parsed.digest_parts(), Some(("sha256", HEX64)));
    }

    #[test]
    fn tag_and_digest_may_both_be_present() {
        let input = format!("quay.io/org/img:v1.2.3@sha256:{HEX64}");
        let parsed = parse_ok(&input);
        assert_eq!(parsed.tag.as_deref(), Some("v1.2.3"));
        assert_eq!(parsed.digest, Some(format!("sha256:{HEX64}")));
        assert_eq!(parsed.to_string(), input);
    }

    #[test]
    fn localhost_is_a_registry_with_or_without_a_port() {
        assert_eq!(
            parse_ok("localhost/img"),
            reference("localhost", "img", None, None)
        );
        assert_eq!(
            parse_ok("localhost:5000/a/b:latest"),
            reference("localhost:5000", "a/b", Some("latest"), None)
        );
    }

    #[test]
    fn references_without_a_registry_default_to_docker_io() {
        assert_eq!(
            parse_ok("ubuntu"),
            reference("docker.io", "library/ubuntu", None, None)
        );
        assert_eq!(
            parse_ok("ubuntu:24.04"),
            reference("docker.io", "library/ubuntu", Some("24.04"), None)
        );
        assert_eq!(
            parse_ok("bitnami/redis:7"),
            reference("docker.io", "bitnami/redis", Some("7"), None)
        );
        assert_eq!(
            parse_ok("docker.io/nginx"),
            reference("docker.io", "library/nginx", None, None)
        );
        assert_eq!(parse_ok("ubuntu").to_string(), "docker.io/library/ubuntu");
    }

    #[test]
    fn ip_hosts_with_ports_are_registries() {
        assert_eq!(
            parse_ok("10.0.0.1:5000/ns/img:tag"),
            reference("10.0.0.1:5000", "ns/img", Some("tag"), None)
        );
        assert_eq!(
            parse_ok("[::1]:5000/img:tag"),
            reference("[::1]:5000", "img", Some("tag"), None)
        );
        assert_eq!(
            parse_ok("[fe80::1]/img"),
            reference("[fe80::1]", "img", None, None)
        );
    }

    #[test]
    fn namespace_and_name_of_short_repositories() {
        let single = parse_ok("localhost:5000/img");
        assert_eq!(single.namespace(), "");
        assert_eq!(single.name(), "img");
        let two = parse_ok("quay.io/org/img");
        assert_eq!(two.namespace(), "org");
        assert_eq!(two.name(), "img");
    }

    #[test]
    fn separators_follow_the_grammar() {
        for valid in [
            "quay.io/a/b.c",
            "quay.io/a/b_c",
            "quay.io/a/b__c",
            "quay.io/a/b---c",
        ] {
            parse_ok(valid);
        }
        for invalid in [
            "quay.io/a/b..c",
            "quay.io/a/b___c",
            "quay.io/a/b._c",
            "quay.io/a/-b",
            "quay.io/a/b-",
        ] {
            parse_err(invalid);
        }
    }

    #[test]
    fn errors_name_the_input_and_the_problem() {
        let error = parse_err("quay.io/MyOrg/img:v1");
        assert!(
            error.starts_with("image reference \"quay.io/MyOrg/img:v1\": "),
            "{error}"
        );
        assert!(error.contains("uppercase"), "{error}");

        let error = parse_err("quay.io//img");
        assert!(error.contains("empty"), "{error}");
        let error = parse_err("quay.io/org/img/");
        assert!(error.contains("empty"), "{error}");

        let error = parse_err("quay.io/org/img@sha256:abc123");
        assert!(
            error.contains("6 hex digits") && error.contains("64"),
            "{error}"
        );

        let error = parse_err(&format!("quay.io/org/img@sha256:{}", HEX64.to_uppercase()));
        assert!(error.contains("lowercase"), "{error}");

        let error = parse_err("quay.io/org/img@sha256");
        assert!(error.contains("no ':'"), "{error}");

        let error = parse_err("quay.io/org/img:");
        assert!(error.contains("empty tag"), "{error}");

        let error = parse_err("quay.io/org/img:-bad");
        assert!(error.contains("starts with"), "{error}");

        let error = parse_err(&format!("quay.io/org/img:{}", "a".repeat(129)));
        assert!(error.contains("128"), "{error}");

        let error = parse_err("host:port/img");
        assert!(error.contains("port"), "{error}");

        let error = parse_err("host:99999/img");
        assert!(error.contains("1-65535"), "{error}");

        let error = parse_err("quay.io/org/img:v1\n");
        assert!(error.contains("newline"), "{error}");

        let error = parse_err("https://quay.io/org/img");
        assert!(error.contains("URL"), "{error}");

        assert!(parse_err("").contains("is empty"));
        assert!(parse_err(":tag").contains("no repository"));
        assert!(parse_err("[::1/img").contains("never closes"));
        assert!(parse_err("my_host.com/img").contains("host name"));
    }

    #[test]
    fn unregistered_digest_algorithms_need_32_hex_digits() {
        parse_ok(&format!("quay.io/org/img@sha384:{}", "a".repeat(96)));
        parse_ok(&format!(
            "quay.io/org/img@multihash+base58:{}",
            "A".repeat(32)
        ));
        assert!(
            parse_err(&format!("quay.io/org/img@md5:{}", "a".repeat(31))).contains("at least 32")
        );
        assert!(
            parse_err(&format!("quay.io/org/img@1sha:{}", "a".repeat(64))).contains("algorithm")
        );
        assert!(parse_err(&format!("quay.io/org/img@sha512:{HEX64}")).contains("128"));
    }

    #[test]
    fn overlong_names_are_refused() {
        let long = format!("quay.io/{}", "a".repeat(250));
        assert!(parse_err(&long).contains("255"));
    }

    fn alphanumeric(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!("[a-z0-9]{{1,{max}}}")).expect("valid regex")
    }

    fn path_component() -> impl Strategy<Value = String> {
        (
            alphanumeric(6),
            proptest::collection::vec(
                (
                    prop_oneof![Just("."), Just("_"), Just("__"), Just("-"), Just("--")],
                    alphanumeric(5),
                ),
                0..3,
            ),
        )
            .prop_map(|(first, rest)| {
                rest.into_iter()
                    .fold(first, |mut component, (separator, part)| {
                        component.push_str(separator);
                        component.push_str(&part);
                        component
                    })
            })
    }

    fn registry() -> impl Strategy<Value = String> {
        let label = || {
            proptest::string::string_regex("[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?")
                .expect("valid regex")
        };
        let port = || (1u32..=65535).prop_map(|port| format!(":{port}"));
        prop_oneof![
            (
                label(),
                proptest::collection::vec(label(), 1..3),
                proptest::option::of(port())
            )
                .prop_map(|(first, rest, port)| format!(
                    "{first}.{}{}",
                    rest.join("."),
                    port.unwrap_or_default()
                )),
            (label(), port()).prop_map(|(host, port)| format!("{host}{port}")),
            proptest::option::of(port())
                .prop_map(|port| format!("localhost{}", port.unwrap_or_default())),
            (any::<[u8; 4]>(), port())
                .prop_map(|(ip, port)| format!("{}.{}.{}.{}{port}", ip[0], ip[1], ip[2], ip[3])),
            Just("[::1]:5000".to_owned()),
            Just("docker.io".to_owned()),
            Just("quay.io".to_owned()),
        ]
    }

    fn tag() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}").expect("valid regex")
    }

    fn digest() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::string::string_regex("[0-9a-f]{64}")
                .expect("valid regex")
                .prop_map(|hex| format!("sha256:{hex}")),
            proptest::string::string_regex("[0-9a-f]{128}")
                .expect("valid regex")
                .prop_map(|hex| format!("sha512:{hex}")),
            proptest::string::string_regex("[0-9a-fA-F]{32,80}")
                .expect("valid regex")
                .prop_map(|hex| format!("sha384:{hex}")),
        ]
    }

    fn valid_reference() -> impl Strategy<Value = ImageReference> {
        (
            registry(),
            proptest::collection::vec(path_component(), 1..5),
            proptest::option::of(tag()),
            proptest::option::of(digest()),
        )
            .prop_map(|(registry, mut components, tag, digest)| {
                // docker.io spells one-component repositories with library/ (see parse).
                if registry == DEFAULT_REGISTRY && components.len() == 1 {
                    components.insert(0, OFFICIAL_NAMESPACE.to_owned());
                }
                ImageReference {
                    registry,
                    repository: components.join("/"),
                    tag,
                    digest,
                }
            })
            .prop_filter("within the name length limit", |reference| {
                reference.registry.len() + 1 + reference.repository.len() <= MAX_NAME_LENGTH
            })
    }

    proptest! {
        #[test]
        fn valid_references_round_trip_through_display(reference in valid_reference()) {
            let text = reference.to_string();
            let parsed: ImageReference = text.parse().map_err(TestCaseError::fail)?;
            prop_assert_eq!(&parsed, &reference);
            prop_assert_eq!(parsed.to_string(), text);
            let expected_name = reference.repository.rsplit('/').next().unwrap_or_default();
            prop_assert_eq!(parsed.name(), expected_name);
        }

        #[test]
        fn any_string_is_parsed_or_refused_without_panicking(input in any::<String>()) {
            if let Ok(parsed) = input.parse::<ImageReference>() {
                // Whatever parses prints as a reference that parses back to the same value.
                prop_assert_eq!(parsed.to_string().parse::<ImageReference>(), Ok(parsed));
            }
        }

        #[test]
        fn reference_like_strings_are_parsed_or_refused_without_panicking(
            input in "[a-zA-Z0-9:/@._\\-\\[\\]+]{0,80}"
        ) {
            match input.parse::<ImageReference>() {
                Ok(parsed) => prop_assert_eq!(parsed.to_string().parse::<ImageReference>(), Ok(parsed)),
                Err(error) => prop_assert!(error.starts_with("image reference "), "{}", error),
            }
        }
    }
}
