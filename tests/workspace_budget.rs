//! `workspace pull` has an unpack budget: small blobs that expand to gigabytes (a GNU sparse
//! entry, a gzip of zeros) are refused with exit 6 before anything is written, and DEST stays
//! as it was; a tree under the limit restores. Against a real registry process.

#[path = "support/registry.rs"]
mod registry_harness;
mod support;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use registry_harness::TestRegistry;
use support::{run, stepkit, Run};

const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

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

/// A DEST that already holds a file, and the names in it and beside it, to prove a refused
/// pull changed nothing (no staging directory left either).
fn prepared_dest(work: &Path) -> std::path::PathBuf {
    let dest = work.join("dest");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("keep.txt"), "kept\n").unwrap();
    dest
}

fn assert_unchanged(work: &Path, dest: &Path, out: &Run) {
    let names = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(dest), ["keep.txt"], "{out:?}");
    assert_eq!(
        std::fs::read_to_string(dest.join("keep.txt")).unwrap(),
        "kept\n"
    );
    assert!(
        names(work)
            .iter()
            .all(|name| !name.starts_with(".stepkit-")),
        "a staging directory was left: {:?}",
        names(work)
    );
}

/// What GNU tar makes of a 10 GiB file that is one hole: a sparse entry, gzipped.
fn sparse_bomb(work: &Path) -> Vec<u8> {
    let source = work.join("sparse-source");
    std::fs::create_dir_all(&source).unwrap();
    let file = std::fs::File::create(source.join("huge.img")).unwrap();
    file.set_len(10 << 30).unwrap();
    drop(file);
    let blob = work.join("sparse.tgz");
    let status = Command::new("tar")
        .args(["--sparse", "--use-compress-program=gzip -n -9", "-cf"])
        .arg(&blob)
        .arg("-C")
        .arg(&source)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_dir_all(&source).unwrap();
    std::fs::read(blob).unwrap()
}

fn gzip_member(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A tar of one regular file of `mib` MiB of zeros, as gzip members one after another (one
/// valid gzip stream, as `tar -xz` reads it): about 1 KiB per MiB.
fn zero_bomb(mib: u64) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_path("./zeros.bin").unwrap();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(mib << 20);
    header.set_mode(0o644);
    header.set_cksum();
    let mut blob = gzip_member(header.as_bytes());
    let chunk = gzip_member(&vec![0u8; 1 << 20]);
    for _ in 0..mib {
        blob.extend_from_slice(&chunk);
    }
    blob.extend_from_slice(&gzip_member(&[0u8; 1024]));
    blob
}

/// Pushes `layer` in a stepkit-like manifest whose layer annotates `uncompressed_size`.
async fn push_annotated(
    registry: &TestRegistry,
    repo: &str,
    layer: &[u8],
    uncompressed_size: u64,
) -> String {
    let empty = registry.push_raw_blob(repo, b"{}").await;
    let digest = registry.push_raw_blob(repo, layer).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": "application/vnd.stepkit.workspace.v1",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": GZIP_LAYER, "digest": digest, "size": layer.len(),
                    "annotations": {"stepkit.dev/uncompressed-size": uncompressed_size.to_string()}}],
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let manifest_digest = registry
        .push_raw_manifest(repo, "bomb", &bytes, MANIFEST)
        .await;
    format!("{}/{repo}@{manifest_digest}", registry.host())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sparse_10_gib_entry_in_a_tiny_blob_is_refused_by_the_default_limit() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let blob = sparse_bomb(work.path());
    assert!(blob.len() < 1024, "the bomb is {} bytes", blob.len());
    let repo = registry.unique_repo("sparse-bomb");
    let digest = registry.push_raw_blob(&repo, &blob).await;
    let dest = prepared_dest(work.path());
    let reference = format!("oci:{}/{repo}@{digest}", registry.host());
    let out = tokio::task::block_in_place(|| {
        stepkit_ws(&registry, &["pull", &reference, dest.to_str().unwrap()])
    });
    assert_eq!(out.code, 6, "{out:?}");
    for expected in [
        "huge.img",
        "10.0 GiB (10737418240 bytes)",
        "sparse",
        "the default --max-size",
        "nothing was written",
    ] {
        assert!(out.stderr.contains(expected), "{expected}: {}", out.stderr);
    }
    assert_unchanged(work.path(), &dest, &out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_of_1_gib_of_zeros_is_refused_by_its_annotated_size_and_by_the_flags() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let blob = zero_bomb(1024);
    assert!(blob.len() < 2 << 20, "the bomb is {} bytes", blob.len());
    let repo = registry.unique_repo("zero-bomb");
    // The manifest claims 64 KiB: the default limit comes from it.
    let pinned = push_annotated(&registry, &repo, &blob, 64 << 10).await;
    let digest = registry_harness::sha256_digest(&blob);
    let by_blob = format!("oci:{}/{repo}@{digest}", registry.host());
    let dest = prepared_dest(work.path());
    let dest_arg = dest.to_str().unwrap();
    let cases: [(&str, Vec<&str>, &str); 3] = [
        (
            "annotated",
            vec!["pull", &pinned, dest_arg],
            "the uncompressed size the manifest annotates",
        ),
        (
            "--max-size",
            vec!["pull", &by_blob, dest_arg, "--max-size", "100Mi"],
            "over the limit of 100.0 MiB (104857600 bytes), set by --max-size",
        ),
        (
            "--max-file-size",
            vec!["pull", &by_blob, dest_arg, "--max-file-size", "1M"],
            "over --max-file-size 976.6 KiB (1000000 bytes)",
        ),
    ];
    for (name, args, expected) in cases {
        let out = tokio::task::block_in_place(|| stepkit_ws(&registry, &args));
        assert_eq!(out.code, 6, "{name}: {out:?}");
        assert!(out.stderr.contains(expected), "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains("zeros.bin") && out.stderr.contains("1.0 GiB (1073741824 bytes)"),
            "{name}: {}",
            out.stderr
        );
        assert_unchanged(work.path(), &dest, &out);
    }
}

#[test]
fn a_tree_under_the_limits_restores_and_one_byte_over_is_refused() {
    let registry = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("ws");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("sub/big.bin"), vec![7u8; 100_000]).unwrap();
    std::fs::write(tree.join("small.txt"), vec![b'x'; 1_000]).unwrap();
    let repo = registry.unique_repo("under");
    let to = format!("{}/{repo}", registry.host());
    let out = stepkit_ws(&registry, &["push", tree.to_str().unwrap(), "--to", &to]);
    assert_eq!(out.code, 0, "{out:?}");
    let pinned = out.stdout.trim().to_owned();

    // The largest file exactly, and the whole exactly: both fit.
    let fits = work.path().join("fits");
    let out = stepkit_ws(
        &registry,
        &[
            "pull",
            &pinned,
            fits.to_str().unwrap(),
            "--max-file-size",
            "100000",
            "--max-size",
            "101000",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        std::fs::read(fits.join("sub/big.bin")).unwrap(),
        vec![7u8; 100_000]
    );
    // The default, from the manifest's annotation, fits too.
    let annotated = work.path().join("annotated");
    let out = stepkit_ws(&registry, &["pull", &pinned, annotated.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");

    for (flag, value) in [("--max-file-size", "99999"), ("--max-size", "100999")] {
        let dest = prepared_dest(&work.path().join(flag));
        let out = stepkit_ws(
            &registry,
            &["pull", &pinned, dest.to_str().unwrap(), flag, value],
        );
        assert_eq!(out.code, 6, "{flag}: {out:?}");
        assert!(out.stderr.contains(flag), "{flag}: {}", out.stderr);
        assert_unchanged(&work.path().join(flag), &dest, &out);
    }

    let out = stepkit_ws(
        &registry,
        &["pull", &pinned, "elsewhere", "--max-size", "lots"],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("\"lots\" is not a size"),
        "{}",
        out.stderr
    );
}
