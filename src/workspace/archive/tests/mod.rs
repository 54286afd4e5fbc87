//! Packs and unpacks together, by concern: `pack` (the format, determinism, excludes, deltas
//! and the progress total), `unpack` (round trips, staging, hostile archives, layer stacks),
//! `interop` (the system's tar and Trusted Artifacts) and `memory` (bounded memory). The
//! helpers they share are here.

mod interop;
mod memory;
mod pack;
mod unpack;

use std::fs::{self, File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::symlink;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::commit::same_device;
use super::unpack::read_head;
use super::walk::copy_truncated;
use super::*;
use crate::core::error::{exit_code, Kind};

// ---- helpers --------------------------------------------------------------------------

fn write(path: &Path, content: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, content).unwrap();
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, Permissions::from_mode(mode)).unwrap();
}

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// A tree with every kind of entry the archive keeps.
fn sample_tree(root: &Path) {
    fs::create_dir_all(root).unwrap();
    write(&root.join("README.md"), b"hello\n");
    write(&root.join("src/main.rs"), b"fn main() {}\n");
    write(&root.join("src/deep/er/file.txt"), &vec![b'x'; 300_000]);
    fs::create_dir_all(root.join("empty/dir")).unwrap();
    write(&root.join("bin/tool"), b"#!/bin/sh\necho hi\n");
    set_mode(&root.join("bin/tool"), 0o755);
    write(&root.join("secret.key"), b"key");
    set_mode(&root.join("secret.key"), 0o600);
    write(&root.join("bin/setuid"), b"suid");
    set_mode(&root.join("bin/setuid"), 0o4755);
    write(&root.join("ünïcødé-文件.txt"), "ünïcødé".as_bytes());
    write(&root.join("a file with spaces.txt"), b"spaces");
    symlink("src/main.rs", root.join("link-relative")).unwrap();
    symlink("/etc/passwd", root.join("link-absolute")).unwrap();
    symlink("does/not/exist", root.join("link-dangling")).unwrap();
    symlink("src", root.join("link-to-dir")).unwrap();
    fs::hard_link(root.join("README.md"), root.join("src/hardlink-to-readme")).unwrap();
    let long_dir = "d".repeat(90);
    write(
        &root.join(&long_dir).join(format!("{}.txt", "n".repeat(60))),
        b"long name",
    );
    symlink("t".repeat(150), root.join("long-target")).unwrap();
}

/// Every path below `root` with its kind, mode, content or target: two trees that agree
/// here are the same workspace.
fn snapshot(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = fs::symlink_metadata(&path).unwrap();
            let mode = meta.mode() & 0o7777;
            if meta.file_type().is_symlink() {
                out.push(format!(
                    "L {rel} -> {}",
                    fs::read_link(&path).unwrap().display()
                ));
            } else if meta.is_dir() {
                out.push(format!("D {rel} {mode:o}"));
                stack.push(path);
            } else {
                let digest = format!("{:x}", Sha256::digest(fs::read(&path).unwrap()));
                out.push(format!("F {rel} {mode:o} {}", &digest[..16]));
            }
        }
    }
    out.sort();
    out
}

fn options(compression: Compression) -> PackOptions {
    PackOptions {
        excludes: Vec::new(),
        compression,
        threads: 2,
        delta: None,
        preserve_mtime: false,
        tar_digest: true,
    }
}

const BOTH: [Compression; 2] = [
    Compression::Zstd {
        level: DEFAULT_ZSTD_LEVEL,
    },
    Compression::Gzip,
];

/// Member names and headers of an uncompressed or compressed archive, via the tar crate.
fn members(blob: &Path) -> Vec<(String, tar::EntryType, u32, String)> {
    let mut file = File::open(blob).unwrap();
    let head = read_head(&mut file).unwrap();
    let compression = detect_compression(&head);
    let file = io::Cursor::new(head).chain(file);
    let reader: Box<dyn Read> = match compression {
        Some(Compression::Zstd { .. }) => Box::new(zstd::stream::read::Decoder::new(file).unwrap()),
        Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(file)),
        None => Box::new(file),
    };
    let mut archive = tar::Archive::new(reader);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let header = entry.header();
            assert_eq!(header.uid().unwrap(), 0);
            assert_eq!(header.gid().unwrap(), 0);
            assert_eq!(header.mtime().unwrap(), 0);
            assert_eq!(header.username_bytes().unwrap_or_default(), b"");
            (
                String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
                header.entry_type(),
                header.mode().unwrap(),
                entry
                    .link_name_bytes()
                    .map(|link| String::from_utf8_lossy(&link).into_owned())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn names(blob: &Path) -> Vec<String> {
    members(blob).into_iter().map(|(name, ..)| name).collect()
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|error| {
        panic!("cannot run {command:?}: {error} (install it: apt-get install -y tar gzip zstd)")
    });
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Hostile archives: raw tar headers, so names the builder would refuse get through.
struct RawTar {
    builder: tar::Builder<Vec<u8>>,
}

impl RawTar {
    fn new() -> RawTar {
        RawTar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn entry(
        mut self,
        kind: tar::EntryType,
        name: &[u8],
        link: &[u8],
        mode: u32,
        data: &[u8],
    ) -> Self {
        let mut header = tar::Header::new_gnu();
        copy_truncated(&mut header.as_old_mut().name, name);
        copy_truncated(&mut header.as_old_mut().linkname, link);
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        self.builder.append(&header, data).unwrap();
        self
    }

    fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(tar::EntryType::Regular, name.as_bytes(), b"", 0o644, data)
    }

    fn dir(self, name: &str) -> Self {
        self.entry(tar::EntryType::Directory, name.as_bytes(), b"", 0o755, b"")
    }

    fn symlink(self, name: &str, target: &str) -> Self {
        self.entry(
            tar::EntryType::Symlink,
            name.as_bytes(),
            target.as_bytes(),
            0o777,
            b"",
        )
    }

    fn hardlink(self, name: &str, target: &str) -> Self {
        self.entry(
            tar::EntryType::Link,
            name.as_bytes(),
            target.as_bytes(),
            0o644,
            b"",
        )
    }

    /// Written as a gzip blob, the Trusted Artifacts form.
    fn write_to(self, path: &Path) {
        let bytes = self.builder.into_inner().unwrap();
        let mut encoder =
            flate2::write::GzEncoder::new(File::create(path).unwrap(), flate2::Compression::fast());
        encoder.write_all(&bytes).unwrap();
        encoder.finish().unwrap();
    }
}

/// A scratch area: DEST with a file in it, and an "outside" directory next to it that no
/// archive may touch.
struct Scene {
    _dir: tempfile::TempDir,
    root: PathBuf,
    dest: PathBuf,
    outside: PathBuf,
    blob: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let dest = root.join("work/dest");
        let outside = root.join("work/outside");
        write(&dest.join("existing.txt"), b"before");
        write(&outside.join("secret"), b"secret");
        Scene {
            blob: root.join("blob.tar.gz"),
            _dir: dir,
            root,
            dest,
            outside,
        }
    }

    /// Everything under the scratch root except the blob: nothing may change on rejection.
    fn state(&self) -> Vec<String> {
        snapshot(&self.root.join("work"))
    }

    fn expect_rejected(&self, archive: RawTar, needle: &str) {
        archive.write_to(&self.blob);
        let before = self.state();
        let error = unpack(&self.blob, &self.dest, &UnpackOptions::default())
            .expect_err("a hostile archive must be rejected");
        let text = format!("{error:#}");
        assert!(
            text.contains(needle),
            "error should name {needle:?}: {text}"
        );
        assert_eq!(exit_code(&error), 2, "{text}");
        assert_eq!(
            self.state(),
            before,
            "DEST and its surroundings are unchanged: {text}"
        );
        assert!(!Path::new("/tmp/stepkit-escape").exists());
        let leftovers: Vec<_> = fs::read_dir(self.root.join("work"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .filter(|name| name.to_string_lossy().starts_with(".stepkit"))
            .collect();
        assert!(leftovers.is_empty(), "staging removed: {leftovers:?}");
    }
}
