//! Incremental pushes and layer stacks against a real registry process: a pull records what it
//! restored, a push of that directory sends only what changed (whiteouts for deletions) as one
//! layer on the pulled layers, and a pull of the stack restores the tree exactly.

#[path = "support/registry.rs"]
mod registry_harness;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use registry_harness::TestRegistry;
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

fn ok(out: Run) -> Run {
    assert_eq!(out.code, 0, "{out:?}");
    out
}

fn push(registry: &TestRegistry, tree: &Path, repo: &str, extra: &[&str]) -> Run {
    let to = format!("{}/{repo}", registry.host());
    let mut args = vec!["push", tree.to_str().unwrap(), "--to", &to];
    args.extend_from_slice(extra);
    ok(stepkit_ws(registry, &args))
}

fn pull(registry: &TestRegistry, reference: &str, dest: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["pull", reference, dest.to_str().unwrap()];
    args.extend_from_slice(extra);
    ok(stepkit_ws(registry, &args))
}

fn write(path: &Path, content: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A checkout with a bit of everything.
fn base_tree(root: &Path) {
    let mut rng = fastrand::Rng::with_seed(11);
    write(
        &root.join("blob.bin"),
        &(0..300_000).map(|_| rng.u8(..)).collect::<Vec<u8>>(),
    );
    for index in 0..30 {
        write(
            &root.join(format!("src/mod{index}.rs")),
            format!("pub fn f{index}() {{}}\n").as_bytes(),
        );
    }
    write(&root.join("gone/inner/a.txt"), b"a");
    write(&root.join("gone/b.txt"), b"b");
    write(&root.join("del.txt"), b"delete me");
    write(&root.join("f2d"), b"a file that becomes a directory");
    write(
        &root.join("d2f/child.txt"),
        b"a directory that becomes a file",
    );
    write(&root.join("run.sh"), b"#!/bin/sh\n");
    std::os::unix::fs::symlink("src/mod1.rs", root.join("link")).unwrap();
}

/// What a build step does to it.
fn build_changes(root: &Path) {
    write(&root.join("out/app"), b"\x7fELF built");
    write(&root.join("src/mod3.rs"), b"pub fn changed() {}\n");
    std::fs::remove_file(root.join("del.txt")).unwrap();
    std::fs::remove_dir_all(root.join("gone")).unwrap();
    std::fs::remove_file(root.join("f2d")).unwrap();
    write(&root.join("f2d/now-a-dir.txt"), b"inside");
    std::fs::remove_dir_all(root.join("d2f")).unwrap();
    write(&root.join("d2f"), b"now a file");
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_file(root.join("link")).unwrap();
    std::os::unix::fs::symlink("src/mod2.rs", root.join("link")).unwrap();
}

fn assert_same_tree(expected: &Path, actual: &Path) {
    let out = Command::new("diff")
        .args(["-r", "--no-dereference"])
        .arg(expected)
        .arg(actual)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "trees differ:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mode = |root: &Path| {
        std::fs::metadata(root.join("run.sh"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(expected), mode(actual), "run.sh mode");
}

/// The manifest a pinned reference names, as the registry serves it.
fn manifest(registry: &TestRegistry, pinned: &str) -> serde_json::Value {
    let (repo_path, digest) = pinned.rsplit_once('@').unwrap();
    let repo = repo_path.split_once('/').unwrap().1;
    let out = Command::new("curl")
        .args([
            "-fsS",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
        ])
        .arg(format!("{}/v2/{repo}/manifests/{digest}", registry.url()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn layer_digests(registry: &TestRegistry, pinned: &str) -> Vec<String> {
    manifest(registry, pinned)["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layer["digest"].as_str().unwrap().to_owned())
        .collect()
}

/// The state file a pull of `dest` writes by default.
fn state_file(dest: &Path) -> PathBuf {
    dest.parent().unwrap().join(format!(
        ".{}.stepkit-state.json",
        dest.file_name().unwrap().to_str().unwrap()
    ))
}

#[test]
fn a_build_step_pushes_one_small_layer_and_a_fresh_pull_restores_the_tree_exactly() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let clone = work.path().join("clone");
    base_tree(&clone);
    let repo = registry.unique_repo("build");
    let base = push(&registry, &clone, &repo, &[]).stdout.trim().to_owned();
    let base_layers = layer_digests(&registry, &base);
    assert_eq!(base_layers.len(), 1);

    let build = work.path().join("build");
    pull(&registry, &base, &build, &[]);
    assert!(state_file(&build).is_file(), "the pull left a state record");
    assert!(
        std::fs::read_dir(&build).unwrap().all(|entry| !entry
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("state")),
        "the record is not inside the tree"
    );
    build_changes(&build);
    let uploads = registry.blob_upload_count(&repo);
    let out = push(&registry, &build, &repo, &[]);
    let stacked = out.stdout.trim().to_owned();
    assert!(
        out.stderr
            .contains("pushing them as one layer on its 1 layers"),
        "{}",
        out.stderr
    );
    assert_eq!(
        registry.blob_upload_count(&repo),
        uploads + 1,
        "only the new layer was uploaded"
    );
    let layers = layer_digests(&registry, &stacked);
    assert_eq!(layers.len(), 2);
    assert_eq!(
        layers[0], base_layers[0],
        "the base layer is reused as it is"
    );
    let delta = &manifest(&registry, &stacked)["layers"][1];
    assert!(
        delta["size"].as_u64().unwrap() < 5_000,
        "the delta is small: {delta}"
    );
    assert_eq!(
        manifest(&registry, &stacked)["annotations"]["org.opencontainers.image.base.digest"],
        base.rsplit_once('@').unwrap().1
    );

    // A fresh pull of the stack equals the built tree: content, modes, deletions, retyped paths.
    let test = work.path().join("test");
    pull(&registry, &stacked, &test, &[]);
    assert_same_tree(&build, &test);
    assert!(!test.join("gone").exists() && !test.join("del.txt").exists());
    assert!(test.join("f2d").is_dir() && test.join("d2f").is_file());

    // And back: the directory becomes a file again, the file a directory.
    std::fs::remove_dir_all(test.join("f2d")).unwrap();
    write(&test.join("f2d"), b"a file again");
    std::fs::remove_file(test.join("d2f")).unwrap();
    write(&test.join("d2f/child.txt"), b"a directory again");
    let again = push(&registry, &test, &repo, &[]).stdout.trim().to_owned();
    assert_eq!(layer_digests(&registry, &again).len(), 3);
    let last = work.path().join("last");
    pull(&registry, &again, &last, &[]);
    assert_same_tree(&test, &last);

    // Each layer is a plain tarball the system tar reads; the delta carries OCI whiteouts.
    for (index, digest) in layer_digests(&registry, &again).iter().enumerate() {
        let blob = work.path().join(format!("layer-{index}.tar.zst"));
        let status = Command::new("curl")
            .args(["-fsS", "-o"])
            .arg(&blob)
            .arg(format!("{}/v2/{repo}/blobs/{digest}", registry.url()))
            .status()
            .unwrap();
        assert!(status.success());
        let listed = Command::new("tar")
            .arg("--zstd")
            .arg("-tf")
            .arg(&blob)
            .output()
            .unwrap();
        assert!(listed.status.success(), "{listed:?}");
        let names = String::from_utf8_lossy(&listed.stdout).into_owned();
        if index == 1 {
            for whiteout in ["./.wh.del.txt", "./.wh.gone", "./.wh.f2d", "./.wh.d2f"] {
                assert!(
                    names.lines().any(|line| line == whiteout),
                    "{whiteout}: {names}"
                );
            }
            assert!(
                !names.contains("mod1.rs"),
                "unchanged files stay out: {names}"
            );
        }
        let into = work.path().join(format!("tar-{index}"));
        std::fs::create_dir_all(&into).unwrap();
        let status = Command::new("tar")
            .arg("--zstd")
            .arg("-xf")
            .arg(&blob)
            .arg("-C")
            .arg(&into)
            .status()
            .unwrap();
        assert!(status.success(), "layer {index} restores with tar");
    }
}

#[test]
fn an_unchanged_tree_pushes_no_blob_and_state_files_stay_outside_the_tree() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    base_tree(&tree);
    let repo = registry.unique_repo("unchanged");
    let base = push(&registry, &tree, &repo, &[]).stdout.trim().to_owned();
    let ws = work.path().join("ws");
    pull(&registry, &base, &ws, &[]);
    let uploads = registry.blob_upload_count(&repo);
    let out = push(&registry, &ws, &repo, &[]);
    assert!(
        out.stderr.contains("unchanged since it was pulled"),
        "{}",
        out.stderr
    );
    assert_eq!(registry.blob_upload_count(&repo), uploads);
    assert_eq!(
        layer_digests(&registry, out.stdout.trim()),
        layer_digests(&registry, &base)
    );

    // A state file inside the tree is refused; --no-state writes none.
    let inside = work.path().join("inside");
    let file = inside.join("state.json");
    let out = stepkit_ws(
        &registry,
        &[
            "pull",
            &base,
            inside.to_str().unwrap(),
            "--state-file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("inside the workspace"),
        "{}",
        out.stderr
    );
    let plain = work.path().join("plain");
    pull(&registry, &base, &plain, &["--no-state"]);
    assert!(!state_file(&plain).exists());
    // A named one elsewhere works for both.
    let named = work.path().join("records/named.json");
    std::fs::create_dir_all(named.parent().unwrap()).unwrap();
    let ws2 = work.path().join("ws2");
    pull(
        &registry,
        &base,
        &ws2,
        &["--state-file", named.to_str().unwrap()],
    );
    assert!(named.is_file() && !state_file(&ws2).exists());
    write(&ws2.join("added.txt"), b"new");
    let out = push(
        &registry,
        &ws2,
        &repo,
        &["--state-file", named.to_str().unwrap()],
    );
    assert_eq!(layer_digests(&registry, out.stdout.trim()).len(), 2);
}

/// Rewrites the record of `name` in a state file as if `name` had been restored with its
/// current stat, and the record made `after_ns` after that: a change the stat cannot see.
fn forge_record(state: &Path, tree: &Path, name: &str, after_ns: i64) {
    use std::os::unix::fs::MetadataExt;
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    let meta = std::fs::symlink_metadata(tree.join(name)).unwrap();
    let ctime = meta.ctime() * 1_000_000_000 + meta.ctime_nsec();
    let entry = &mut record["entries"][name];
    entry["mtime_ns"] = (meta.mtime() * 1_000_000_000 + meta.mtime_nsec()).into();
    entry["ctime_ns"] = ctime.into();
    entry["ino"] = meta.ino().into();
    record["recorded_at_ns"] = (ctime + after_ns).into();
    std::fs::write(state, serde_json::to_vec(&record).unwrap()).unwrap();
}

#[test]
fn a_racy_change_is_hashed_and_found_and_verify_hashes_everything() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    base_tree(&tree);
    let repo = registry.unique_repo("racy");
    let base = push(&registry, &tree, &repo, &[]).stdout.trim().to_owned();
    let ws = work.path().join("ws");
    pull(&registry, &base, &ws, &[]);
    // Same size, new content: only the content tells.
    write(&ws.join("src/mod5.rs"), b"pub fn XX() {}\n");

    // Recorded in the same tick as the change: racy, so hashed, so found.
    forge_record(&state_file(&ws), &ws, "src/mod5.rs", 1_000_000);
    let out = push(&registry, &ws, &repo, &[]);
    assert!(
        out.stderr.contains("1 paths added or changed"),
        "{}",
        out.stderr
    );
    let fresh = work.path().join("fresh");
    pull(&registry, out.stdout.trim(), &fresh, &[]);
    assert_eq!(
        std::fs::read(fresh.join("src/mod5.rs")).unwrap(),
        b"pub fn XX() {}\n"
    );

    // Recorded long after: the stat is trusted, unless --verify.
    forge_record(&state_file(&ws), &ws, "src/mod5.rs", 10_000_000_000);
    let trusted = push(&registry, &ws, &repo, &[]);
    assert!(
        trusted.stderr.contains("unchanged since it was pulled"),
        "{}",
        trusted.stderr
    );
    let verified = push(&registry, &ws, &repo, &["--verify"]);
    assert!(
        verified.stderr.contains("1 paths added or changed"),
        "{}",
        verified.stderr
    );
    assert!(
        verified.stderr.contains("files hashed"),
        "{}",
        verified.stderr
    );
}

#[test]
fn a_garbage_collected_base_falls_back_to_a_full_push_and_a_full_stack_is_squashed() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    base_tree(&tree);
    let repo = registry.unique_repo("gc");
    let base = push(&registry, &tree, &repo, &[]).stdout.trim().to_owned();
    let ws = work.path().join("ws");
    pull(&registry, &base, &ws, &[]);
    let layer = layer_digests(&registry, &base).remove(0);
    let status = Command::new("curl")
        .args(["-fsS", "-X", "DELETE"])
        .arg(format!("{}/v2/{repo}/blobs/{layer}", registry.url()))
        .status()
        .unwrap();
    assert!(status.success(), "delete the base layer");
    build_changes(&ws);
    let out = push(&registry, &ws, &repo, &[]);
    assert!(
        out.stderr.contains("is no longer complete") && out.stderr.contains("garbage-collected"),
        "{}",
        out.stderr
    );
    let full = out.stdout.trim().to_owned();
    assert_eq!(layer_digests(&registry, &full).len(), 1);
    let fresh = work.path().join("fresh");
    pull(&registry, &full, &fresh, &[]);
    assert_same_tree(&ws, &fresh);

    // Squash: a stack of 2 with --max-layers 2 is pushed as one layer.
    let one = work.path().join("one");
    pull(&registry, &full, &one, &[]);
    write(&one.join("more.txt"), b"more");
    let two = push(&registry, &one, &repo, &[]).stdout.trim().to_owned();
    assert_eq!(layer_digests(&registry, &two).len(), 2);
    let stack = work.path().join("stack");
    pull(&registry, &two, &stack, &[]);
    write(&stack.join("even-more.txt"), b"even more");
    let out = push(&registry, &stack, &repo, &["--max-layers", "2"]);
    assert!(out.stderr.contains("squashing"), "{}", out.stderr);
    let squashed = out.stdout.trim().to_owned();
    assert_eq!(layer_digests(&registry, &squashed).len(), 1);
    let fresh = work.path().join("fresh-squashed");
    pull(&registry, &squashed, &fresh, &[]);
    assert_same_tree(&stack, &fresh);
}

#[test]
fn a_base_in_another_repository_is_mounted_and_skopeo_copies_the_stack() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    base_tree(&tree);
    let source_repo = registry.unique_repo("source");
    let base = push(&registry, &tree, &source_repo, &[])
        .stdout
        .trim()
        .to_owned();
    let ws = work.path().join("ws");
    pull(&registry, &base, &ws, &[]);
    build_changes(&ws);
    let target_repo = registry.unique_repo("target");
    let out = push(&registry, &ws, &target_repo, &[]);
    assert!(out.stderr.contains("mounted"), "{}", out.stderr);
    let stacked = out.stdout.trim().to_owned();
    let base_layer = layer_digests(&registry, &base).remove(0);
    let sent = |digest: &str| {
        registry.access_log().lines().any(|line| {
            line.contains(&format!("PUT /v2/{target_repo}/blobs/uploads/"))
                && line.contains(&digest.replace(':', "%3A"))
        })
    };
    assert!(!sent(&base_layer), "the base layer was mounted, not sent");
    assert!(
        sent(&layer_digests(&registry, &stacked)[1]),
        "the delta was sent"
    );
    assert_eq!(layer_digests(&registry, &stacked).len(), 2);

    // skopeo copies the stacked artifact as it is; a pull of the copy restores the tree.
    let copy_repo = registry.unique_repo("copy");
    let digest = stacked.rsplit_once('@').unwrap().1;
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--preserve-digests",
        ])
        .arg(format!("docker://{stacked}"))
        .arg(format!("docker://{}/{copy_repo}:copied", registry.host()))
        .output()
        .unwrap();
    assert!(out.status.success(), "skopeo copy: {out:?}");
    let copied = format!("{}/{copy_repo}@{digest}", registry.host());
    let fresh = work.path().join("fresh");
    pull(&registry, &copied, &fresh, &[]);
    assert_same_tree(&ws, &fresh);
}

#[test]
fn preserve_mtime_keeps_mtimes_and_the_default_stays_deterministic() {
    use std::os::unix::fs::MetadataExt;
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    write(&tree.join("src/old.c"), b"int main;\n");
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_577_836_800);
    std::fs::File::options()
        .write(true)
        .open(tree.join("src/old.c"))
        .unwrap()
        .set_modified(when)
        .unwrap();
    let repo = registry.unique_repo("mtime");
    let mtime = |root: &Path| std::fs::metadata(root.join("src/old.c")).unwrap().mtime();

    let kept = push(&registry, &tree, &repo, &["--preserve-mtime"])
        .stdout
        .trim()
        .to_owned();
    let dest = work.path().join("kept");
    pull(&registry, &kept, &dest, &[]);
    assert_eq!(mtime(&dest), 1_577_836_800);

    let plain = push(&registry, &tree, &repo, &[]).stdout.trim().to_owned();
    let dest = work.path().join("plain");
    pull(&registry, &plain, &dest, &[]);
    assert_eq!(mtime(&dest), 1, "deterministic: 1970");
    // The default digest does not depend on mtimes; the preserving one does.
    std::fs::File::options()
        .write(true)
        .open(tree.join("src/old.c"))
        .unwrap()
        .set_modified(when + std::time::Duration::from_secs(60))
        .unwrap();
    assert_eq!(push(&registry, &tree, &repo, &[]).stdout.trim(), plain);
    assert_ne!(
        push(&registry, &tree, &repo, &["--preserve-mtime"])
            .stdout
            .trim(),
        kept
    );
}
