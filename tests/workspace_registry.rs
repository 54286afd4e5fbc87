//! The workspace registry client against a real registry (Debian's `docker-registry`, one per
//! test, on 127.0.0.1): references, credentials, blob and manifest pushes, resolution of
//! stepkit and Trusted Artifacts references, verified pulls, auth failures and a registry
//! that goes away in the middle of a push.

#[path = "support/registry.rs"]
mod registry_harness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use oci_client::secrets::RegistryAuth;
use registry_harness::{sha256_digest, CuttingProxy, TestRegistry};
use stepkit::core::error::exit_code;
use stepkit::core::image_ref::ImageReference;
use stepkit::workspace::auth::{credentials_for, AuthEnv};
use stepkit::workspace::reference::WorkspaceRef;
use stepkit::workspace::registry::{
    created_annotation, parse_source_date_epoch, workspace_manifest, LayerInfo, Registry,
    RegistryOptions, Resolved, ANNOTATION_CREATED, ANNOTATION_TITLE,
    ANNOTATION_UNCOMPRESSED_DIGEST, EMPTY_CONFIG_DIGEST, WORKSPACE_ARTIFACT_TYPE,
};

const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const ZSTD_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const USER: &str = "stepkit-user";
const PASSWORD: &str = "canary-PASSWORD-7f3a9c";

fn options(registry: &TestRegistry) -> RegistryOptions {
    RegistryOptions {
        insecure_registries: vec![registry.host()],
        ca_file: None,
        retries: Some(2),
        timeout: Duration::from_secs(10),
        retry_delay: Duration::from_millis(50),
        ..RegistryOptions::default()
    }
}

fn repository(registry: &TestRegistry, repo: &str) -> ImageReference {
    format!("{}/{repo}", registry.host())
        .parse()
        .expect("a valid repository")
}

fn client(registry: &TestRegistry, repo: &str, auth: RegistryAuth) -> Registry {
    Registry::new(&repository(registry, repo), auth, &options(registry)).expect("a client")
}

fn workspace_ref(text: &str) -> WorkspaceRef {
    text.parse()
        .unwrap_or_else(|error| panic!("{text}: {error}"))
}

/// A blob file with `content`; returns its path, digest and size.
fn blob_file(dir: &Path, name: &str, content: &[u8]) -> (PathBuf, String, u64) {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    (path, sha256_digest(content), content.len() as u64)
}

/// Bytes that do not compress and differ between tests.
fn random_bytes(length: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::new();
    (0..length).map(|_| rng.u8(..)).collect()
}

fn error_text(error: &anyhow::Error) -> String {
    format!("{error:#}")
}

/// Pushes `content` as a workspace layer and its manifest, tagged `tags`; returns the
/// manifest bytes and digest and the layer.
async fn push_workspace(
    client: &Registry,
    dir: &Path,
    content: &[u8],
    tags: &[String],
) -> (Vec<u8>, String, LayerInfo) {
    let (path, digest, size) = blob_file(dir, "layer.tar.zst", content);
    client.push_blob_file(&path, &digest, size).await.unwrap();
    let layer = LayerInfo::workspace_layer(
        digest,
        size,
        ZSTD_LAYER,
        "source",
        &sha256_digest(b"uncompressed tar"),
    );
    let manifest = workspace_manifest(
        std::slice::from_ref(&layer),
        &created_annotation(parse_source_date_epoch(Some("1767225600")).unwrap()),
        &BTreeMap::from([("stepkit.dev/test".to_owned(), "yes".to_owned())]),
    );
    let manifest_digest = client.push_manifest(&manifest, tags).await.unwrap();
    (manifest, manifest_digest, layer)
}

#[test]
fn every_reference_form_parses_against_a_registry_host() {
    let hex = "a".repeat(64);
    let host = "127.0.0.1:5055";
    let cases = [
        format!("oci:{host}/test/ws@sha256:{hex}"),
        format!("{host}/test/ws@sha256:{hex}"),
        format!("{host}/test/nested/ws:run-1-task"),
        format!("oci:quay.io/org/repo@sha256:{hex}"),
    ];
    for text in &cases {
        let parsed = workspace_ref(text);
        assert_eq!(&parsed.to_string(), text, "Display round-trips");
        assert_eq!(workspace_ref(&parsed.to_string()), parsed);
    }
    assert_eq!(workspace_ref(&cases[0]).registry(), host);
    assert!(matches!(
        workspace_ref(&cases[0]),
        WorkspaceRef::Digest {
            oci_prefix: true,
            ..
        }
    ));
    assert!(matches!(
        workspace_ref(&cases[2]),
        WorkspaceRef::Tag { ref tag, .. } if tag == "run-1-task"
    ));
    for bad in [
        format!("{host}/test/ws"),
        format!("{host}/test/ws@sha256:{}", &hex[..10]),
        format!("oci:{host}/test/ws:tag"),
    ] {
        let error = bad.parse::<WorkspaceRef>().unwrap_err();
        assert_eq!(
            exit_code(&anyhow::Error::new(error)),
            2,
            "{bad} is bad usage"
        );
    }
}

#[tokio::test]
async fn a_second_push_of_the_same_blob_uploads_nothing() {
    let registry = TestRegistry::start();
    let repo = registry.unique_repo("blob-twice");
    let client = client(&registry, &repo, RegistryAuth::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    let (path, digest, size) = blob_file(dir.path(), "blob", &random_bytes(10_000));

    assert!(client.push_blob_file(&path, &digest, size).await.unwrap());
    assert_eq!(registry.blob_upload_count(&repo), 1);
    assert!(registry.blob_data_path(&digest).is_file());

    assert!(!client.push_blob_file(&path, &digest, size).await.unwrap());
    assert_eq!(
        registry.blob_upload_count(&repo),
        1,
        "the second push only asked (HEAD) and uploaded nothing"
    );
}

#[tokio::test]
async fn a_large_blob_streams_up_and_down_byte_for_byte() {
    let registry = TestRegistry::start();
    let repo = registry.unique_repo("large");
    let client = client(&registry, &repo, RegistryAuth::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    // Several upload chunks, and not a multiple of the chunk size.
    let content = random_bytes(5 * 1024 * 1024 + 123);
    let (path, digest, size) = blob_file(dir.path(), "big", &content);
    assert!(client.push_blob_file(&path, &digest, size).await.unwrap());
    assert_eq!(
        std::fs::read(registry.blob_data_path(&digest)).unwrap(),
        content
    );

    let dest = dir.path().join("pulled");
    assert_eq!(
        client.pull_blob_to_file(&digest, &dest).await.unwrap(),
        size
    );
    assert_eq!(std::fs::read(&dest).unwrap(), content);
}

/// Pulls `digest` through a proxy that drops the connection after 2 MiB of answers.
async fn pull_through_cut(registry: &TestRegistry, repo: &str, hide_ranges: bool) {
    let direct = client(registry, repo, RegistryAuth::Anonymous);
    let content = random_bytes(5 * 1024 * 1024 + 77);
    let dir = tempfile::tempdir().unwrap();
    let (path, digest, size) = blob_file(dir.path(), "blob", &content);
    direct.push_blob_file(&path, &digest, size).await.unwrap();

    let cut_after = 2 * 1024 * 1024;
    let proxy = CuttingProxy::start(registry.port(), cut_after, hide_ranges);
    let through_proxy = Registry::new(
        &format!("{}/{repo}", proxy.host()).parse().unwrap(),
        RegistryAuth::Anonymous,
        &RegistryOptions {
            insecure_registries: vec![proxy.host()],
            ..options(registry)
        },
    )
    .unwrap();
    let mut received = Vec::new();
    let pulled = through_proxy
        .pull_blob_into(&digest, &mut received)
        .await
        .unwrap();
    assert_eq!(pulled.size, size);
    assert!(pulled.sink_error.is_none());
    assert!(received == content, "every byte once, in order");

    // The first request asks for everything, the second for what was missing.
    let ranges = proxy.ranges();
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    assert_eq!(ranges[0], "bytes=0-");
    let resumed_at: usize = ranges[1]
        .strip_prefix("bytes=")
        .and_then(|rest| rest.strip_suffix('-'))
        .and_then(|offset| offset.parse().ok())
        .unwrap_or_else(|| panic!("{ranges:?}"));
    assert!(
        resumed_at > 0 && resumed_at < cut_after,
        "resumed where it stopped, not from the start: {ranges:?}"
    );
}

#[tokio::test]
async fn a_download_cut_in_the_middle_resumes_where_it_stopped() {
    let registry = TestRegistry::start();
    let repo = registry.unique_repo("resume");
    pull_through_cut(&registry, &repo, false).await;
}

#[tokio::test]
async fn a_registry_that_ignores_ranges_is_read_past_what_was_received() {
    let registry = TestRegistry::start();
    let repo = registry.unique_repo("no-ranges");
    pull_through_cut(&registry, &repo, true).await;
}

#[tokio::test]
async fn a_sink_that_stops_early_still_gets_the_digest_checked() {
    let registry = TestRegistry::start();
    let repo = registry.unique_repo("sink");
    let client = client(&registry, &repo, RegistryAuth::Anonymous);
    let content = random_bytes(3 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let (path, digest, size) = blob_file(dir.path(), "blob", &content);
    client.push_blob_file(&path, &digest, size).await.unwrap();

    // A reader that takes 100 bytes and goes away, as an unpacker refusing an archive does.
    let (mut writer, mut reader) = tokio::io::duplex(64);
    let early_reader = tokio::spawn(async move {
        let mut first = [0u8; 100];
        tokio::io::AsyncReadExt::read_exact(&mut reader, &mut first)
            .await
            .unwrap();
        first
    });
    let pulled = client.pull_blob_into(&digest, &mut writer).await.unwrap();
    assert_eq!(early_reader.await.unwrap(), content[..100]);
    assert_eq!(pulled.size, size, "read to the end all the same");
    assert!(pulled.sink_error.is_some());

    // Tampered bytes: the mismatch is found although the sink stopped after 100 bytes.
    let mut corrupted = content.clone();
    corrupted[content.len() - 1] ^= 0xff;
    std::fs::write(registry.blob_data_path(&digest), &corrupted).unwrap();
    let (mut writer, reader) = tokio::io::duplex(64);
    drop(reader);
    let error = client
        .pull_blob_into(&digest, &mut writer)
        .await
        .unwrap_err();
    assert_eq!(exit_code(&error), 5, "{}", error_text(&error));
    assert!(error_text(&error).contains("digest mismatch"));
}

#[tokio::test]
async fn a_blob_whose_size_is_not_the_descriptors_is_not_pushed() {
    let registry = TestRegistry::start();
    let repo = registry.unique_repo("size");
    let client = client(&registry, &repo, RegistryAuth::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    let (path, digest, size) = blob_file(dir.path(), "blob", b"twelve bytes");
    let error = client
        .push_blob_file(&path, &digest, size + 1)
        .await
        .unwrap_err();
    assert_eq!(exit_code(&error), 6, "{}", error_text(&error));
    assert!(
        error_text(&error).contains("12 bytes"),
        "{}",
        error_text(&error)
    );
    assert_eq!(registry.blob_upload_count(&repo), 0);
}

#[tokio::test]
async fn a_pushed_manifest_is_the_artifact_skopeo_sees() {
    let registry = TestRegistry::start();
    let repo = registry.unique_repo("manifest");
    let client = client(&registry, &repo, RegistryAuth::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    let tags = vec!["run-1-task".to_owned(), "latest".to_owned()];
    let (manifest, digest, layer) =
        push_workspace(&client, dir.path(), b"layer bytes", &tags).await;

    assert_eq!(digest, sha256_digest(&manifest));
    assert!(registry.has_manifest_on_disk(&repo, &digest));
    assert_eq!(registry.tags_on_disk(&repo), vec!["latest", "run-1-task"]);
    assert!(
        registry.blob_data_path(EMPTY_CONFIG_DIGEST).is_file(),
        "the empty config blob was pushed"
    );

    let output = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--no-creds",
            "--raw",
            &format!("docker://{}/{repo}@{digest}", registry.host()),
        ])
        .output()
        .expect("run skopeo (apt-get install skopeo, or ./scripts/test.sh)");
    assert!(
        output.status.success(),
        "skopeo inspect failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        output.stdout.trim_ascii_end(),
        manifest.as_slice(),
        "the registry keeps the exact bytes"
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(seen["artifactType"], WORKSPACE_ARTIFACT_TYPE);
    assert_eq!(
        seen["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        seen["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(seen["config"]["digest"], EMPTY_CONFIG_DIGEST);
    assert_eq!(seen["config"]["size"], 2);
    assert_eq!(
        seen["annotations"][ANNOTATION_CREATED],
        "2026-01-01T00:00:00Z"
    );
    assert_eq!(seen["annotations"]["stepkit.dev/test"], "yes");
    assert_eq!(seen["layers"][0]["digest"], layer.digest.as_str());
    assert_eq!(seen["layers"][0]["mediaType"], ZSTD_LAYER);
    assert_eq!(seen["layers"][0]["annotations"][ANNOTATION_TITLE], "source");
    assert_eq!(
        seen["layers"][0]["annotations"][ANNOTATION_UNCOMPRESSED_DIGEST],
        sha256_digest(b"uncompressed tar")
    );

    // The same tree again: the same digest, and not one more upload.
    let uploads = registry.blob_upload_count(&repo);
    let (_, again, _) = push_workspace(&client, dir.path(), b"layer bytes", &tags).await;
    assert_eq!(again, digest);
    assert_eq!(registry.blob_upload_count(&repo), uploads);
}

#[tokio::test]
async fn tags_digests_and_trusted_artifact_blobs_resolve() {
    let registry = TestRegistry::start();
    let repo = registry.unique_repo("resolve");
    let client = client(&registry, &repo, RegistryAuth::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    let (manifest, digest, layer) =
        push_workspace(&client, dir.path(), b"resolve me", &["v1".to_owned()]).await;
    let host = registry.host();

    for text in [
        format!("{host}/{repo}:v1"),
        format!("{host}/{repo}@{digest}"),
        format!("oci:{host}/{repo}@{digest}"),
    ] {
        let resolved = client.resolve(&workspace_ref(&text)).await.unwrap();
        let Resolved::Manifest {
            digest: resolved_digest,
            artifact_type,
            layers,
            annotations,
            raw,
            ..
        } = resolved
        else {
            panic!("{text} resolved to {resolved:?}");
        };
        assert_eq!(resolved_digest, digest, "{text}");
        assert_eq!(artifact_type.as_deref(), Some(WORKSPACE_ARTIFACT_TYPE));
        assert_eq!(layers, vec![layer.clone()], "{text}");
        assert_eq!(annotations[ANNOTATION_CREATED], "2026-01-01T00:00:00Z");
        assert_eq!(raw, manifest);
    }

    // Trusted Artifacts' references name the layer blob itself.
    let blob_ref = workspace_ref(&WorkspaceRef::trusted_artifact(
        client.repository(),
        &layer.digest,
    ));
    assert_eq!(
        client.resolve(&blob_ref).await.unwrap(),
        Resolved::Blob {
            digest: layer.digest.clone()
        }
    );

    let missing_digest = sha256_digest(b"never pushed");
    for text in [
        format!("{host}/{repo}:no-such-tag"),
        format!("oci:{host}/{repo}@{missing_digest}"),
    ] {
        let error = client.resolve(&workspace_ref(&text)).await.unwrap_err();
        assert_eq!(exit_code(&error), 5, "{text}: {}", error_text(&error));
    }
    let error = client
        .resolve(&workspace_ref(&format!(
            "oci:{host}/{repo}@{missing_digest}"
        )))
        .await
        .unwrap_err();
    assert!(
        error_text(&error).contains("neither a manifest nor a blob"),
        "{}",
        error_text(&error)
    );

    let elsewhere = workspace_ref(&format!("{host}/other/repo:v1"));
    let error = client.resolve(&elsewhere).await.unwrap_err();
    assert_eq!(exit_code(&error), 2, "{}", error_text(&error));
}

#[tokio::test]
async fn an_artifact_pushed_the_trusted_artifacts_way_pulls() {
    let registry = TestRegistry::start();
    let repo = registry.unique_repo("ta");
    let tarball = random_bytes(4096);
    let (manifest_digest, layer_digest) = registry
        .push_raw_artifact(
            &repo,
            "ta-tag",
            "application/vnd.oci.image.config.v1+json",
            GZIP_LAYER,
            &tarball,
        )
        .await;
    let client = client(&registry, &repo, RegistryAuth::Anonymous);
    let reference = workspace_ref(&format!("oci:{}/{repo}@{layer_digest}", registry.host()));
    let resolved = client.resolve(&reference).await.unwrap();
    assert_eq!(
        resolved,
        Resolved::Blob {
            digest: layer_digest.clone()
        }
    );
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("artifact.tar.gz");
    assert_eq!(
        client
            .pull_blob_to_file(resolved.digest(), &dest)
            .await
            .unwrap(),
        tarball.len() as u64
    );
    assert_eq!(std::fs::read(&dest).unwrap(), tarball);

    let by_tag = workspace_ref(&format!("{}/{repo}:ta-tag", registry.host()));
    let Resolved::Manifest { digest, layers, .. } = client.resolve(&by_tag).await.unwrap() else {
        panic!("the tag names a manifest");
    };
    assert_eq!(digest, manifest_digest);
    assert_eq!(layers[0].digest, layer_digest);
    assert_eq!(layers[0].media_type, GZIP_LAYER);
    assert_eq!(layers[0].title(), Some("workspace"));
}

#[tokio::test]
async fn an_image_index_is_not_a_workspace() {
    let registry = TestRegistry::start();
    let repo = registry.unique_repo("index");
    let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    let digest = registry
        .push_raw_manifest(
            &repo,
            "multi",
            index,
            "application/vnd.oci.image.index.v1+json",
        )
        .await;
    let client = client(&registry, &repo, RegistryAuth::Anonymous);
    let error = client
        .resolve(&workspace_ref(&format!(
            "{}/{repo}@{digest}",
            registry.host()
        )))
        .await
        .unwrap_err();
    assert_eq!(exit_code(&error), 2, "{}", error_text(&error));
    assert!(
        error_text(&error).contains("image index"),
        "{}",
        error_text(&error)
    );
}

#[tokio::test]
async fn a_corrupted_blob_fails_with_exit_5_and_leaves_no_file() {
    let registry = TestRegistry::start();
    let repo = registry.unique_repo("corrupt");
    let client = client(&registry, &repo, RegistryAuth::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    let content = random_bytes(64 * 1024);
    let (path, digest, size) = blob_file(dir.path(), "blob", &content);
    client.push_blob_file(&path, &digest, size).await.unwrap();

    // Same length, different bytes, behind the registry's back.
    let mut corrupted = content.clone();
    corrupted[1000] ^= 0xff;
    std::fs::write(registry.blob_data_path(&digest), &corrupted).unwrap();

    let dest = dir.path().join("pulled");
    let error = client.pull_blob_to_file(&digest, &dest).await.unwrap_err();
    let text = error_text(&error);
    assert_eq!(exit_code(&error), 5, "{text}");
    assert!(text.contains("digest mismatch"), "{text}");
    assert!(text.contains(&digest), "{text}");
    assert!(!dest.exists(), "the unverified download was removed");

    // A file that was there before is not left half-written either.
    std::fs::write(&dest, b"old").unwrap();
    client.pull_blob_to_file(&digest, &dest).await.unwrap_err();
    assert!(!dest.exists());
}

#[tokio::test]
async fn a_missing_blob_is_exit_5() {
    let registry = TestRegistry::start();
    let repo = registry.unique_repo("missing");
    let client = client(&registry, &repo, RegistryAuth::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("pulled");
    let error = client
        .pull_blob_to_file(&sha256_digest(b"nothing"), &dest)
        .await
        .unwrap_err();
    assert_eq!(exit_code(&error), 5, "{}", error_text(&error));
    assert!(!dest.exists());
}

#[tokio::test]
async fn basic_auth_right_wrong_and_missing_credentials() {
    let registry = TestRegistry::start_with_htpasswd(USER, PASSWORD);
    let repo = registry.unique_repo("basic");
    let dir = tempfile::tempdir().unwrap();
    let (path, digest, size) = blob_file(dir.path(), "blob", &random_bytes(2048));

    let right = client(
        &registry,
        &repo,
        RegistryAuth::Basic(USER.into(), PASSWORD.into()),
    );
    assert!(right.push_blob_file(&path, &digest, size).await.unwrap());
    let (_, manifest_digest, _) =
        push_workspace(&right, dir.path(), b"authenticated", &["v1".to_owned()]).await;
    let resolved = right
        .resolve(&workspace_ref(&format!(
            "{}/{repo}@{manifest_digest}",
            registry.host()
        )))
        .await
        .unwrap();
    assert_eq!(resolved.digest(), manifest_digest);
    let dest = dir.path().join("pulled");
    assert_eq!(right.pull_blob_to_file(&digest, &dest).await.unwrap(), size);

    let wrong_password = "wrong-canary-SECRET-41d2";
    let wrong = client(
        &registry,
        &repo,
        RegistryAuth::Basic(USER.into(), wrong_password.into()),
    );
    let anonymous = client(&registry, &repo, RegistryAuth::Anonymous);
    for (label, client, hint) in [
        ("wrong", &wrong, "check the password"),
        ("missing", &anonymous, "no credentials were found"),
    ] {
        let errors = [
            client
                .push_blob_file(&path, &digest, size)
                .await
                .unwrap_err(),
            client
                .pull_blob_to_file(&digest, &dir.path().join("denied"))
                .await
                .unwrap_err(),
            client
                .resolve(&workspace_ref(&format!("{}/{repo}:v1", registry.host())))
                .await
                .unwrap_err(),
        ];
        for error in errors {
            let text = error_text(&error);
            assert_eq!(exit_code(&error), 5, "{label}: {text}");
            assert!(text.contains(hint), "{label}: {text}");
            assert!(!text.contains(wrong_password), "{label}: {text}");
            assert!(!text.contains(PASSWORD), "{label}: {text}");
            let debug = format!("{error:?} {client:?}");
            assert!(
                !debug.contains(wrong_password) && !debug.contains(PASSWORD),
                "{debug}"
            );
        }
    }
    assert!(!dir.path().join("denied").exists());
}

#[tokio::test]
async fn credentials_come_from_the_longest_matching_auth_entry() {
    let registry = TestRegistry::start_with_htpasswd(USER, PASSWORD);
    let host = registry.host();
    // The registry-wide entry is wrong; the one for test/ is right.
    let docker_config = registry.docker_config(
        "docker",
        &[
            (&host, USER, "wrong-for-the-registry"),
            (&format!("{host}/test"), USER, PASSWORD),
        ],
    );
    let env = AuthEnv {
        docker_config_dir: Some(docker_config.clone()),
        ..AuthEnv::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let (path, digest, size) = blob_file(dir.path(), "blob", b"longest prefix");

    let repo = registry.unique_repo("prefix");
    let auth = credentials_for(&repository(&registry, &repo), &env).unwrap();
    let chosen = client(&registry, &repo, auth);
    assert!(chosen.push_blob_file(&path, &digest, size).await.unwrap());

    let outside = "elsewhere/prefix";
    let auth = credentials_for(&repository(&registry, outside), &env).unwrap();
    let error = client(&registry, outside, auth)
        .push_blob_file(&path, &digest, size)
        .await
        .unwrap_err();
    assert_eq!(exit_code(&error), 5, "{}", error_text(&error));
    assert!(!error_text(&error).contains("wrong-for-the-registry"));

    // REGISTRY_AUTH_FILE comes first, even with a shorter key.
    let podman = registry.docker_config("podman", &[(&host, USER, PASSWORD)]);
    let wrong_docker = registry.docker_config(
        "wrong-docker",
        &[(&format!("{host}/test"), USER, "wrong-docker-password")],
    );
    let env = AuthEnv {
        registry_auth_file: Some(podman.join("config.json")),
        docker_config_dir: Some(wrong_docker),
        ..AuthEnv::default()
    };
    let repo = registry.unique_repo("precedence");
    let auth = credentials_for(&repository(&registry, &repo), &env).unwrap();
    assert!(client(&registry, &repo, auth)
        .push_blob_file(&path, &digest, size)
        .await
        .unwrap());
}

#[tokio::test]
async fn a_registry_gone_mid_push_fails_with_exit_3_and_leaves_no_manifest() {
    let mut registry = TestRegistry::start();
    let repo = registry.unique_repo("gone");
    let client = client(&registry, &repo, RegistryAuth::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    let (path, digest, size) = blob_file(dir.path(), "layer", &random_bytes(4096));
    assert!(client.push_blob_file(&path, &digest, size).await.unwrap());
    let layer = LayerInfo::workspace_layer(
        digest.clone(),
        size,
        ZSTD_LAYER,
        "source",
        &sha256_digest(b"tar"),
    );
    let manifest = workspace_manifest(
        std::slice::from_ref(&layer),
        "1970-01-01T00:00:00Z",
        &BTreeMap::new(),
    );

    registry.stop();
    let error = client
        .push_manifest(&manifest, &["run-1".to_owned()])
        .await
        .unwrap_err();
    let text = error_text(&error);
    assert_eq!(exit_code(&error), 3, "{text}");
    assert!(text.contains("gave up after 3 attempts"), "{text}");
    assert!(text.contains(&registry.host()), "{text}");

    registry.restart();
    let manifest_digest = sha256_digest(&manifest);
    assert!(!registry.has_manifest_on_disk(&repo, &manifest_digest));
    assert!(registry.tags_on_disk(&repo).is_empty());
    // The blob that made it is still there, and the push can simply run again.
    assert!(!client.push_blob_file(&path, &digest, size).await.unwrap());
    assert_eq!(
        client
            .push_manifest(&manifest, &["run-1".to_owned()])
            .await
            .unwrap(),
        manifest_digest
    );
    assert!(registry.has_manifest_on_disk(&repo, &manifest_digest));
    assert_eq!(registry.tags_on_disk(&repo), vec!["run-1"]);
}

#[tokio::test]
async fn a_registry_that_restarts_during_the_retries_gets_the_push() {
    let mut registry = TestRegistry::start();
    let repo = registry.unique_repo("restart");
    let host = registry.host();
    let mut options = options(&registry);
    options.retries = Some(8);
    options.retry_delay = Duration::from_millis(200);
    let client = Registry::new(
        &repository(&registry, &repo),
        RegistryAuth::Anonymous,
        &options,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, digest, size) = blob_file(dir.path(), "layer", &random_bytes(300_000));

    registry.stop();
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        registry.restart();
        registry
    });
    assert!(client.push_blob_file(&path, &digest, size).await.unwrap());
    let registry = restarter.join().unwrap();
    assert_eq!(registry.host(), host);
    assert_eq!(
        std::fs::read(registry.blob_data_path(&digest)).unwrap(),
        std::fs::read(&path).unwrap()
    );
}

#[tokio::test]
async fn tls_registries_need_their_ca_and_plain_http_needs_insecure_registry() {
    let registry = TestRegistry::start_with_tls();
    let repo = registry.unique_repo("tls");
    let dir = tempfile::tempdir().unwrap();
    let (path, digest, size) = blob_file(dir.path(), "blob", b"over tls");
    let secure = RegistryOptions {
        insecure_registries: Vec::new(),
        ca_file: Some(registry.ca_pem_path()),
        retries: Some(0),
        ..RegistryOptions::default()
    };
    let client = Registry::new(
        &repository(&registry, &repo),
        RegistryAuth::Anonymous,
        &secure,
    )
    .unwrap();
    assert!(client.push_blob_file(&path, &digest, size).await.unwrap());
    let (_, manifest_digest, _) = push_workspace(&client, dir.path(), b"tls", &[]).await;
    let resolved = client
        .resolve(&workspace_ref(&format!(
            "{}/{repo}@{manifest_digest}",
            registry.host()
        )))
        .await
        .unwrap();
    assert_eq!(resolved.digest(), manifest_digest);

    // Without the CA: refused at the handshake, not retried, and the message says what to do.
    let untrusted = RegistryOptions {
        ca_file: None,
        ..secure.clone()
    };
    let error = Registry::new(
        &repository(&registry, &repo),
        RegistryAuth::Anonymous,
        &untrusted,
    )
    .unwrap()
    .push_blob_file(&path, &digest, size)
    .await
    .unwrap_err();
    let text = error_text(&error);
    assert_eq!(exit_code(&error), 3, "{text}");
    assert!(text.contains("--ca-file"), "{text}");

    // A plain-HTTP registry spoken to over HTTPS.
    let plain = TestRegistry::start();
    let error = Registry::new(
        &repository(&plain, "test/plain"),
        RegistryAuth::Anonymous,
        &RegistryOptions {
            retries: Some(0),
            ..RegistryOptions::default()
        },
    )
    .unwrap()
    .push_blob_file(&path, &digest, size)
    .await
    .unwrap_err();
    let text = error_text(&error);
    assert_eq!(exit_code(&error), 3, "{text}");
    assert!(text.contains("--insecure-registry"), "{text}");
}
