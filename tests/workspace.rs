//! `stepkit workspace push | pull` end to end: the binary against a real registry process
//! (Debian's docker-registry) on 127.0.0.1, with the system's tar, curl and skopeo as the other
//! clients a workspace meets.

#[path = "support/registry.rs"]
mod registry_harness;
mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use registry_harness::{CuttingProxy, DelayingProxy, RefusingProxy, TestRegistry};
use support::{run, stepkit, Run};

fn stepkit_ws(registry: &TestRegistry, args: &[&str]) -> Run {
    let mut command = stepkit();
    command
        .arg("workspace")
        .args(args)
        .args(["--insecure-registry", &registry.host()])
        .env("HOME", "/nonexistent")
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("AUTHFILE");
    run(&mut command, None)
}

/// Pushes `tree` to `repo` on `registry` (with `extra` flags), asserts it worked and returns
/// the pinned reference it printed.
fn push_tree(registry: &TestRegistry, tree: &Path, repo: &str, extra: &[&str]) -> String {
    let to = format!("{}/{repo}", registry.host());
    let mut args = vec!["push", tree.to_str().unwrap(), "--to", &to];
    args.extend_from_slice(extra);
    let out = stepkit_ws(registry, &args);
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout.trim().to_owned()
}

/// A workspace with what a build leaves behind.
fn sample_tree(root: &Path) {
    std::fs::create_dir_all(root.join("src/nested/deeper")).unwrap();
    std::fs::create_dir_all(root.join("empty-dir")).unwrap();
    std::fs::write(root.join("src/main.go"), "package main\n").unwrap();
    std::fs::write(
        root.join("src/nested/deeper/data.bin"),
        (0..=255u8).cycle().take(100_000).collect::<Vec<u8>>(),
    )
    .unwrap();
    std::fs::write(root.join("with space.txt"), "spaces\n").unwrap();
    std::fs::write(root.join("ünïcödé ✓.txt"), "unicode\n").unwrap();
    std::fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(root.join("private.key"), "not really\n").unwrap();
    std::fs::set_permissions(
        root.join("private.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::os::unix::fs::symlink("src/main.go", root.join("link-to-main")).unwrap();
    std::os::unix::fs::symlink("does/not/exist", root.join("dangling")).unwrap();
    std::fs::hard_link(root.join("src/main.go"), root.join("hardlink-to-main")).unwrap();
}

/// Asserts `restored` holds what `original` holds: names, types, content, modes, link targets.
fn assert_same_tree(original: &Path, restored: &Path) {
    let out = Command::new("diff")
        .arg("-r")
        .arg("--no-dereference")
        .arg(original)
        .arg(restored)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "trees differ:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for name in ["run.sh", "private.key", "src/main.go"] {
        let mode = |root: &Path| {
            std::fs::metadata(root.join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode(original), mode(restored), "{name} mode");
    }
    assert_eq!(
        std::fs::read_link(restored.join("dangling")).unwrap(),
        Path::new("does/not/exist")
    );
    assert!(restored.join("empty-dir").is_dir());
    let inode = |p: &Path| std::fs::metadata(p).unwrap().ino();
    assert_eq!(
        inode(&restored.join("src/main.go")),
        inode(&restored.join("hardlink-to-main")),
        "hardlinks stay links"
    );
}

#[test]
fn a_tree_round_trips_and_the_reference_is_pinned() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("source");
    sample_tree(&tree);
    let results = work.path().join("results");
    let repo = registry.unique_repo("round-trip");
    let to = format!("{}/{repo}/{{{{workspace}}}}:run-1", registry.host());
    let result_file = work.path().join("ref");
    let out = stepkit_ws(
        &registry,
        &[
            "push",
            tree.to_str().unwrap(),
            "--to",
            &to,
            "--result",
            result_file.to_str().unwrap(),
            "--result-name",
            "SOURCE_ARTIFACT",
            "--results-dir",
            results.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let reference = out.stdout.trim().to_owned();
    assert!(
        reference.starts_with(&format!("{}/{repo}/source@sha256:", registry.host())),
        "{reference}"
    );
    assert_eq!(
        std::fs::read_to_string(&result_file).unwrap(),
        reference,
        "no newline"
    );
    assert_eq!(
        std::fs::read_to_string(results.join("SOURCE_ARTIFACT")).unwrap(),
        reference
    );

    let dest = work.path().join("restored");
    let out = stepkit_ws(&registry, &["pull", &reference, dest.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_same_tree(&tree, &dest);

    // The tag works as well as the digest.
    let by_tag = work.path().join("by-tag");
    let tagged = format!("{}/{repo}/source:run-1", registry.host());
    assert_eq!(
        stepkit_ws(
            &registry,
            &["pull", &format!("{tagged}={}", by_tag.display())]
        )
        .code,
        0
    );
    assert_same_tree(&tree, &by_tag);
}

#[test]
fn the_same_tree_gives_the_same_digest_and_uploads_nothing_twice() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    sample_tree(&tree);
    let repo = registry.unique_repo("determinism");
    let to = format!("{}/{repo}", registry.host());
    let first = stepkit_ws(&registry, &["push", tree.to_str().unwrap(), "--to", &to]);
    assert_eq!(first.code, 0, "{first:?}");
    let uploads = registry.blob_upload_count(&repo);
    // Touch everything: times are not part of the artifact.
    Command::new("touch")
        .arg("-h")
        .arg("-d")
        .arg("2001-01-01")
        .args(std::fs::read_dir(&tree).unwrap().map(|e| e.unwrap().path()))
        .status()
        .unwrap();
    let second = stepkit_ws(&registry, &["push", tree.to_str().unwrap(), "--to", &to]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(
        first.stdout, second.stdout,
        "same tree, same manifest digest"
    );
    assert_eq!(
        registry.blob_upload_count(&repo),
        uploads,
        "the second push uploaded no blob"
    );
}

#[test]
fn the_trusted_artifacts_form_restores_with_plain_curl_and_tar_and_inspects_with_skopeo() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("source");
    sample_tree(&tree);
    // Random bytes, as in an already compressed file, go into the gzip as stored blocks.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..400_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(tree.join("vendor.tar.zst"), noise).unwrap();
    let repo = registry.unique_repo("trusted-artifacts");
    let to = format!("{}/{repo}:ta-1", registry.host());
    let result = work.path().join("SOURCE_ARTIFACT");
    let out = stepkit_ws(
        &registry,
        &[
            "push",
            "--to",
            &to,
            "--trusted-artifacts",
            "--expires-after",
            "1d",
            &format!("{}={}", result.display(), tree.display()),
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let reference = std::fs::read_to_string(&result).unwrap();
    let prefix = format!("oci:{}/{repo}@sha256:", registry.host());
    assert!(reference.starts_with(&prefix), "{reference}");
    let digest = reference.trim_start_matches(&format!("oci:{}/{repo}@", registry.host()));

    // What Trusted Artifacts' `use` does: fetch the blob by digest, `tar -xzpf -`.
    let dest = work.path().join("ta-restored");
    std::fs::create_dir_all(&dest).unwrap();
    let script = format!(
        "curl -fsS {}/v2/{repo}/blobs/{digest} | tar -xzpf - -C {}",
        registry.url(),
        dest.display()
    );
    assert!(Command::new("sh")
        .args(["-c", &script])
        .status()
        .unwrap()
        .success());
    assert_same_tree(&tree, &dest);

    // skopeo sees an OCI 1.1 artifact with our type and annotations.
    let raw = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{to}"),
        ])
        .output()
        .unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let manifest: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.stepkit.workspace.v1"
    );
    assert_eq!(manifest["layers"][0]["digest"], digest);
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(
        manifest["layers"][0]["annotations"]["org.opencontainers.image.title"],
        "source"
    );
    // Trusted Artifacts' layers have no digest of the uncompressed tar; stepkit's own do.
    assert!(manifest["layers"][0]["annotations"]["stepkit.dev/uncompressed-digest"].is_null());
    assert!(manifest["annotations"]["org.opencontainers.image.created"].is_string());
    assert_eq!(manifest["annotations"]["quay.expires-after"], "1d");

    // And stepkit restores its own Trusted Artifacts reference.
    let again = work.path().join("stepkit-restored");
    assert_eq!(
        stepkit_ws(&registry, &["pull", &reference, again.to_str().unwrap()]).code,
        0
    );
    assert_same_tree(&tree, &again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_an_artifact_that_trusted_artifacts_created() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("source");
    sample_tree(&tree);
    // What Trusted Artifacts' `create` does: a `gzip -n` tarball of the directory's contents.
    let tarball = work.path().join("source.tgz");
    let status = Command::new("tar")
        .args(["--use-compress-program=gzip -n", "-cf"])
        .arg(&tarball)
        .arg("-C")
        .arg(&tree)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let repo = registry.unique_repo("from-trusted-artifacts");
    let (_, layer) = registry
        .push_raw_artifact(
            &repo,
            "ta",
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
            &std::fs::read(&tarball).unwrap(),
        )
        .await;
    let reference = format!("oci:{}/{repo}@{layer}", registry.host());
    let dest = work.path().join("restored");
    let out = tokio::task::block_in_place(|| {
        stepkit_ws(
            &registry,
            &["pull", &format!("{reference}={}", dest.display())],
        )
    });
    assert_eq!(out.code, 0, "{out:?}");
    assert_same_tree(&tree, &dest);
}

/// A gzip tarball whose single entry is built by hand, so names tar would refuse get through.
fn hostile_tarball(kind: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header =
        |path: &str, entry_type: tar::EntryType, link: Option<&str>, data: &[u8], mode: u32| {
            let mut header = tar::Header::new_gnu();
            header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_entry_type(entry_type);
            header.set_size(data.len() as u64);
            header.set_mode(mode);
            if let Some(link) = link {
                header.set_link_name(link).unwrap();
            }
            header.set_cksum();
            builder.append(&header, data).unwrap();
        };
    match kind {
        "dotdot" => header(
            "../escaped.txt",
            tar::EntryType::Regular,
            None,
            b"owned",
            0o644,
        ),
        "absolute" => header(
            "/tmp/stepkit-absolute-escape.txt",
            tar::EntryType::Regular,
            None,
            b"owned",
            0o644,
        ),
        "through-symlink" => {
            header("outside", tar::EntryType::Symlink, Some("/tmp"), b"", 0o777);
            header(
                "outside/stepkit-through-symlink.txt",
                tar::EntryType::Regular,
                None,
                b"owned",
                0o644,
            );
        }
        "hardlink-out" => header(
            "passwd",
            tar::EntryType::Link,
            Some("/etc/passwd"),
            b"",
            0o644,
        ),
        "fifo" => header("pipe", tar::EntryType::Fifo, None, b"", 0o644),
        "device" => header("null", tar::EntryType::Char, None, b"", 0o666),
        _ => unreachable!(),
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_archives_are_refused_and_nothing_is_written() {
    let registry = TestRegistry::start();
    let repo = registry.unique_repo("hostile");
    for kind in [
        "dotdot",
        "absolute",
        "through-symlink",
        "hardlink-out",
        "fifo",
        "device",
    ] {
        let blob = registry.push_raw_blob(&repo, &hostile_tarball(kind)).await;
        let work = tempfile::tempdir().unwrap();
        let dest = work.path().join("ws");
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::write(dest.join("keep.txt"), "before").unwrap();
        let reference = format!("oci:{}/{repo}@{blob}", registry.host());
        let out = tokio::task::block_in_place(|| {
            stepkit_ws(&registry, &["pull", &reference, dest.to_str().unwrap()])
        });
        assert_eq!(out.code, 2, "{kind}: {out:?}");
        assert_eq!(
            std::fs::read_dir(&dest).unwrap().count(),
            1,
            "{kind}: DEST unchanged"
        );
        assert_eq!(
            std::fs::read_to_string(dest.join("keep.txt")).unwrap(),
            "before"
        );
        assert!(!work.path().join("escaped.txt").exists(), "{kind}");
        assert!(
            !Path::new("/tmp/stepkit-absolute-escape.txt").exists(),
            "{kind}"
        );
        assert!(
            !Path::new("/tmp/stepkit-through-symlink.txt").exists(),
            "{kind}"
        );
    }
}

#[test]
fn a_corrupted_blob_fails_with_exit_5_and_leaves_the_destination_alone() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    sample_tree(&tree);
    let repo = registry.unique_repo("corrupt");
    let reference = push_tree(&registry, &tree, &repo, &["--trusted-artifacts"]);
    let digest = reference.rsplit('@').next().unwrap();
    std::fs::write(registry.blob_data_path(digest), b"tampered").unwrap();
    let dest = work.path().join("dest");
    let out = stepkit_ws(&registry, &["pull", &reference, dest.to_str().unwrap()]);
    assert_eq!(out.code, 5, "{out:?}");
    assert!(out.stderr.contains("digest"), "{}", out.stderr);
    assert!(!dest.exists() || std::fs::read_dir(&dest).unwrap().count() == 0);
}

#[test]
fn a_pull_cut_off_in_the_middle_resumes_and_restores_the_tree() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    sample_tree(&tree);
    // Incompressible, so the blob is several MiB and the cut lands inside it.
    let mut rng = fastrand::Rng::with_seed(7);
    let noise: Vec<u8> = (0..3 * 1024 * 1024).map(|_| rng.u8(..)).collect();
    std::fs::write(tree.join("noise.bin"), noise).unwrap();
    let repo = registry.unique_repo("cut");
    let pinned = push_tree(&registry, &tree, &repo, &[]);

    let proxy = CuttingProxy::start(registry.port(), 1024 * 1024, false);
    let through_proxy = pinned.replacen(&registry.host(), &proxy.host(), 1);
    let dest = work.path().join("restored");
    let out = stepkit_ws(
        &registry,
        &[
            "pull",
            &through_proxy,
            dest.to_str().unwrap(),
            "--insecure-registry",
            &proxy.host(),
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("retrying"), "{}", out.stderr);
    let ranges = proxy.ranges();
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    assert_ne!(ranges[1], "bytes=0-", "resumed, not started again");
    assert_same_tree(&tree, &dest);
}

/// A tree whose blob takes several upload parts: incompressible bytes beside the sample.
fn tree_of_several_parts(root: &Path) {
    sample_tree(root);
    let mut rng = fastrand::Rng::with_seed(11);
    let noise: Vec<u8> = (0..10 * 1024 * 1024).map(|_| rng.u8(..)).collect();
    std::fs::write(root.join("noise.bin"), noise).unwrap();
}

/// Requests of `method` to the blob uploads of `repo` in the registry's access log.
fn upload_requests(registry: &TestRegistry, repo: &str, method: &str) -> usize {
    let needle = format!("\"{method} /v2/{repo}/blobs/uploads/");
    registry.blob_upload_count(repo); // waits for the log to settle
    registry
        .access_log()
        .lines()
        .filter(|line| line.contains(&needle))
        .count()
}

#[test]
fn a_large_blob_is_uploaded_in_parts_while_it_is_packed() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    tree_of_several_parts(&tree);
    for (form, flags) in [("zstd", &[][..]), ("ta", &["--trusted-artifacts"][..])] {
        let repo = registry.unique_repo(&format!("parts-{form}"));
        let to = format!("{}/{repo}", registry.host());
        let mut args = vec!["push", tree.to_str().unwrap(), "--to", &to, "-v"];
        args.extend_from_slice(flags);
        let out = stepkit_ws(&registry, &args);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stderr.contains("while packing"), "{}", out.stderr);
        // 10 MiB in 4 MiB chunks, then the PUT that commits them (the empty config is a
        // blob of its own, sent whole).
        assert!(upload_requests(&registry, &repo, "PATCH") >= 3, "{form}");
        let commits = upload_requests(&registry, &repo, "PUT");
        let dest = work.path().join(format!("restored-{form}"));
        let pulled = stepkit_ws(
            &registry,
            &["pull", out.stdout.trim(), dest.to_str().unwrap()],
        );
        assert_eq!(pulled.code, 0, "{pulled:?}");
        assert_same_tree(&tree, &dest);

        // The same blob again: found once packed, and never committed a second time.
        let again = stepkit_ws(&registry, &args);
        assert_eq!(again.code, 0, "{again:?}");
        assert_eq!(again.stdout, out.stdout);
        assert!(again.stderr.contains("already in"), "{}", again.stderr);
        assert_eq!(upload_requests(&registry, &repo, "PUT"), commits, "{form}");
    }
}

/// Pushes `tree` to `repo` through the proxy at `proxy_host`; asserts it worked.
fn push_through(registry: &TestRegistry, proxy_host: &str, tree: &Path, repo: &str) -> Run {
    let to = format!("{proxy_host}/{repo}");
    let args = [
        "push",
        tree.to_str().unwrap(),
        "--to",
        &to,
        "--insecure-registry",
        proxy_host,
    ];
    let out = stepkit_ws(registry, &args);
    assert_eq!(out.code, 0, "{out:?}");
    out
}

/// Asserts that the reference a push through `proxy_host` printed, pulled straight from the
/// registry into a directory of `work`, restores `tree`.
fn assert_restores_from_registry(
    registry: &TestRegistry,
    pushed: &Run,
    proxy_host: &str,
    tree: &Path,
    work: &Path,
) {
    let pinned = pushed
        .stdout
        .trim()
        .replacen(proxy_host, &registry.host(), 1);
    let dest = work.join("restored");
    let pulled = stepkit_ws(registry, &["pull", &pinned, dest.to_str().unwrap()]);
    assert_eq!(pulled.code, 0, "{pulled:?}");
    assert_same_tree(tree, &dest);
}

#[test]
fn a_registry_without_chunked_uploads_gets_the_finished_file() {
    let registry = TestRegistry::start();
    let proxy = RefusingProxy::start(registry.port(), "PATCH");
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    tree_of_several_parts(&tree);
    let repo = registry.unique_repo("no-chunks");
    let out = push_through(&registry, &proxy.host(), &tree, &repo);
    assert!(
        out.stderr.contains("uploading while packing failed"),
        "{}",
        out.stderr
    );
    assert_eq!(upload_requests(&registry, &repo, "PATCH"), 0);
    assert_restores_from_registry(&registry, &out, &proxy.host(), &tree, work.path());
}

#[test]
fn a_distant_registry_gets_the_finished_blob_in_one_request() {
    let registry = TestRegistry::start();
    // 20 ms each way: a 40 ms round trip, past what uploading in parts pays for.
    let proxy = DelayingProxy::start(registry.port(), std::time::Duration::from_millis(20));
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    tree_of_several_parts(&tree);
    let repo = registry.unique_repo("distant");
    let out = push_through(&registry, &proxy.host(), &tree, &repo);
    assert!(out.stderr.contains("in one request"), "{}", out.stderr);
    assert_eq!(upload_requests(&registry, &repo, "PATCH"), 0);
    assert_restores_from_registry(&registry, &out, &proxy.host(), &tree, work.path());
}

#[test]
fn credentials_come_from_the_docker_config_and_are_never_printed() {
    let registry =
        TestRegistry::start_with_htpasswd("ci-robot", "CANARY-registry-password-0123456789");
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    sample_tree(&tree);
    let repo = registry.unique_repo("auth");
    let to = format!("{}/{repo}", registry.host());
    for (config, want) in [
        (
            Some(registry.docker_config(
                "right",
                &[(
                    &registry.host(),
                    "ci-robot",
                    "CANARY-registry-password-0123456789",
                )],
            )),
            0,
        ),
        (
            Some(registry.docker_config(
                "wrong",
                &[(&registry.host(), "ci-robot", "CANARY-wrong-password")],
            )),
            5,
        ),
        (None, 5),
    ] {
        let mut command = stepkit();
        command
            .args([
                "workspace",
                "push",
                tree.to_str().unwrap(),
                "--to",
                &to,
                "--insecure-registry",
                &registry.host(),
            ])
            .env("HOME", "/nonexistent")
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("AUTHFILE");
        match &config {
            Some(dir) => command.env("DOCKER_CONFIG", dir),
            None => command.env_remove("DOCKER_CONFIG"),
        };
        let out = run(&mut command, None);
        assert_eq!(out.code, want, "{config:?}: {out:?}");
        assert!(
            !out.all_output().contains("CANARY"),
            "a password leaked: {}",
            out.all_output()
        );
    }
}

#[test]
fn a_registry_that_is_down_is_a_remote_failure_and_no_manifest_appears() {
    let mut registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    sample_tree(&tree);
    let repo = registry.unique_repo("down");
    registry.stop();
    let out = stepkit_ws(
        &registry,
        &[
            "push",
            tree.to_str().unwrap(),
            "--to",
            &format!("{}/{repo}:t", registry.host()),
            "--retries",
            "2",
        ],
    );
    assert_eq!(out.code, 3, "{out:?}");
    registry.restart();
    assert!(registry.tags_on_disk(&repo).is_empty());
}

/// Every bad value is refused (exit 2) before anything is packed or any registry is asked:
/// the registry here is unreachable, so reaching it would be exit 3.
#[test]
fn bad_push_and_pull_values_are_usage_errors_before_any_network_call() {
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    sample_tree(&tree);
    let spool = work.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let result = work.path().join("result");
    let state = work.path().join("state.json");
    let digest = format!("sha256:{}", "a".repeat(64));
    let bad_to_digest = format!("127.0.0.1:1/repo@{digest}");
    let cases: [(&str, &[&str], Option<&str>, &str); 4] = [
        ("--to", &["--to", "127.0.0.1:1/Not A Repo"], None, "--to"),
        (
            "--to digest",
            &["--to", &bad_to_digest],
            None,
            "not a digest",
        ),
        (
            "SOURCE_DATE_EPOCH",
            &["--to", "127.0.0.1:1/repo"],
            Some("yesterday"),
            "SOURCE_DATE_EPOCH \"yesterday\"",
        ),
        (
            "--expires-after",
            &["--to", "127.0.0.1:1/repo", "--expires-after", "1y"],
            None,
            "\"1y\"",
        ),
    ];
    for (case, flags, epoch, expected) in cases {
        let mut command = stepkit();
        command
            .args(["workspace", "push", tree.to_str().unwrap()])
            .args(flags)
            .args(["--result", result.to_str().unwrap()])
            .args(["--state-file", state.to_str().unwrap()])
            .args(["--tmp-dir", spool.to_str().unwrap(), "--retries", "0"])
            .args(["--insecure-registry", "127.0.0.1:1"])
            .env("HOME", "/nonexistent")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("IMAGE_EXPIRES_AFTER");
        if let Some(epoch) = epoch {
            command.env("SOURCE_DATE_EPOCH", epoch);
        }
        let out = run(&mut command, None);
        assert_eq!(out.code, 2, "{case}: {out:?}");
        assert!(out.stderr.contains(expected), "{case}: {out:?}");
        assert!(!result.exists(), "{case}: a result was written");
        assert!(!state.exists(), "{case}: a state record was written");
        assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0, "{case}");
    }

    let dest = work.path().join("restored");
    for bad in ["127.0.0.1:1/Not A Repo:t", "127.0.0.1:1/repo@sha256:short"] {
        let mut command = stepkit();
        command
            .args(["workspace", "pull", "--retries", "0"])
            // The good reference first: had it been fetched, the exit would be 3.
            .arg(format!("127.0.0.1:1/repo:fine={}", dest.display()))
            .arg(format!("{bad}={}", dest.display()))
            .args(["--insecure-registry", "127.0.0.1:1"])
            .env("HOME", "/nonexistent");
        let out = run(&mut command, None);
        assert_eq!(out.code, 2, "{bad}: {out:?}");
        assert!(out.stderr.contains(bad), "{bad}: {out:?}");
        assert!(!dest.exists(), "{bad}: the destination was created");
    }
}

#[test]
fn skip_markers_are_honoured_as_trusted_artifacts_does() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    sample_tree(&tree);
    let repo = registry.unique_repo("skip");
    let reference = push_tree(&registry, &tree, &repo, &[]);
    let dest = work.path().join("dest");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join(".skip-trusted-artifacts"), "").unwrap();
    let out = stepkit_ws(&registry, &["pull", &reference, dest.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        std::fs::read_dir(&dest).unwrap().count(),
        1,
        "nothing restored"
    );
}

#[test]
fn a_200_mb_file_round_trips() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("big");
    std::fs::create_dir_all(&tree).unwrap();
    let file = std::fs::File::create(tree.join("disk.img")).unwrap();
    file.set_len(200 * 1024 * 1024).unwrap();
    std::fs::write(tree.join("tail.txt"), "after the big one\n").unwrap();
    let repo = registry.unique_repo("big");
    let reference = push_tree(&registry, &tree, &repo, &[]);
    let dest = work.path().join("restored");
    let out = stepkit_ws(&registry, &["pull", &reference, dest.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        std::fs::metadata(dest.join("disk.img")).unwrap().len(),
        200 * 1024 * 1024
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("tail.txt")).unwrap(),
        "after the big one\n"
    );
}
