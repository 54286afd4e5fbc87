//! Packs and unpacks together: round trips, the format, determinism, hostile archives and
//! the system tools.

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

#[test]
fn the_tar_digest_is_left_out_on_request_and_the_blob_is_the_same() {
    let source = tempfile::tempdir().unwrap();
    fs::write(source.path().join("file"), b"content\n").unwrap();
    let spool = tempfile::tempdir().unwrap();
    let hashed = pack(source.path(), spool.path(), &options(Compression::Gzip)).unwrap();
    let unhashed = pack(
        source.path(),
        spool.path(),
        &PackOptions {
            tar_digest: false,
            ..options(Compression::Gzip)
        },
    )
    .unwrap();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(File::open(&hashed.path).unwrap())
        .read_to_end(&mut tar)
        .unwrap();
    let tar_digest = format!("sha256:{:x}", Sha256::digest(&tar));
    assert_eq!(hashed.uncompressed_digest, Some(tar_digest));
    assert_eq!(unhashed.uncompressed_digest, None);
    assert_eq!(unhashed.digest, hashed.digest);
    assert_eq!(unhashed.uncompressed_size, hashed.uncompressed_size);
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

// ---- format ---------------------------------------------------------------------------

#[test]
fn compression_names_media_types_and_magic_bytes() {
    assert_eq!(
        "zstd".parse::<Compression>().unwrap(),
        Compression::Zstd { level: 3 }
    );
    assert_eq!("GZIP".parse::<Compression>().unwrap(), Compression::Gzip);
    let error = "xz".parse::<Compression>().unwrap_err();
    assert!(
        error.to_string().contains("expected zstd or gzip"),
        "{error}"
    );
    assert_eq!(error.kind(), Kind::Usage);
    assert_eq!(
        Compression::default().media_type(),
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    assert_eq!(
        Compression::Gzip.media_type(),
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    for compression in BOTH {
        assert_eq!(
            Compression::from_media_type(compression.media_type()),
            Some(compression)
        );
        assert_eq!(
            compression.to_string().parse::<Compression>().unwrap(),
            compression
        );
    }
    assert_eq!(
        Compression::from_media_type("application/vnd.oci.image.layer.v1.tar"),
        None
    );
    assert_eq!(
        detect_compression(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
        Some(Compression::default())
    );
    assert_eq!(
        detect_compression(&[0x5e, 0x2a, 0x4d, 0x18]),
        Some(Compression::default())
    );
    assert_eq!(
        detect_compression(&[0x1f, 0x8b, 8]),
        Some(Compression::Gzip)
    );
    assert_eq!(detect_compression(b"./\0\0"), None);
    assert_eq!(detect_compression(b""), None);
}

#[test]
fn member_names_match_what_trusted_artifacts_writes() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    write(&source.join("a"), b"a");
    fs::hard_link(source.join("a"), source.join("hl")).unwrap();
    symlink("a", source.join("sl")).unwrap();
    write(&source.join("sub/x"), b"x");
    fs::create_dir(source.join("empty")).unwrap();
    let packed = pack(&source, dir.path(), &options(Compression::Gzip)).unwrap();
    let members = members(&packed.path);
    let expected = [
        ("./", tar::EntryType::Directory, ""),
        ("./a", tar::EntryType::Regular, ""),
        ("./empty/", tar::EntryType::Directory, ""),
        ("./hl", tar::EntryType::Link, "./a"),
        ("./sl", tar::EntryType::Symlink, "a"),
        ("./sub/", tar::EntryType::Directory, ""),
        ("./sub/x", tar::EntryType::Regular, ""),
    ];
    let got: Vec<_> = members
        .iter()
        .map(|(name, kind, _, link)| (name.as_str(), *kind, link.as_str()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(packed.files, 4);

    // A single file is one member named after it, as `tar -C parent name`.
    let single = pack(
        &source.join("sub/x"),
        dir.path(),
        &options(Compression::Gzip),
    )
    .unwrap();
    assert_eq!(names(&single.path), ["x"]);
    assert_eq!(single.files, 1);
}

#[test]
fn gzip_header_is_the_one_gzip_n_writes() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("src/a"), b"a");
    let packed = pack(
        &dir.path().join("src"),
        dir.path(),
        &options(Compression::Gzip),
    )
    .unwrap();
    let ours = fs::read(&packed.path).unwrap();
    let mut gzip = Command::new("gzip")
        .arg("-n")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip is needed for this test: apt-get install -y gzip");
    gzip.stdin.take().unwrap().write_all(b"x").unwrap();
    let theirs = gzip.wait_with_output().unwrap().stdout;
    assert_eq!(ours[..10], theirs[..10], "no name, mtime 0, XFL 0, OS Unix");
    run(Command::new("gzip").arg("-t").arg(&packed.path));
}

// ---- round trips ----------------------------------------------------------------------

#[test]
fn round_trip_keeps_files_dirs_links_and_modes() {
    for compression in BOTH {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        sample_tree(&source);
        let packed = pack(&source, dir.path(), &options(compression)).unwrap();
        assert!(packed.digest.starts_with("sha256:") && packed.digest.len() == 71);
        assert_eq!(packed.size, fs::metadata(&packed.path).unwrap().len());
        let sha = format!(
            "sha256:{:x}",
            Sha256::digest(fs::read(&packed.path).unwrap())
        );
        assert_eq!(packed.digest, sha);

        let dest = dir.path().join("restored");
        let unpacked = unpack(&packed.path, &dest, &UnpackOptions::default()).unwrap();
        assert_eq!(unpacked.files, packed.files);
        // Content of every regular file once (the hard link adds none).
        assert_eq!(unpacked.bytes, 300_000 + 6 + 13 + 18 + 3 + 4 + 11 + 6 + 9);

        let mut expected = snapshot(&source);
        for line in &mut expected {
            // Set-user-ID is dropped unless asked for.
            *line = line.replace("F bin/setuid 4755", "F bin/setuid 755");
        }
        assert_eq!(snapshot(&dest), expected, "{compression}");
        assert_eq!(mode_of(&dest.join("bin/tool")), 0o755);
        assert_eq!(mode_of(&dest.join("secret.key")), 0o600);
        assert_eq!(
            fs::read_link(dest.join("link-absolute")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(
            fs::read_link(dest.join("link-dangling")).unwrap(),
            Path::new("does/not/exist")
        );
        assert_eq!(
            fs::metadata(dest.join("README.md")).unwrap().ino(),
            fs::metadata(dest.join("src/hardlink-to-readme"))
                .unwrap()
                .ino(),
            "hard links stay linked"
        );
        assert!(dest.join("empty/dir").is_dir());

        let kept = dir.path().join("kept");
        unpack(
            &packed.path,
            &kept,
            &UnpackOptions {
                preserve_special_bits: true,
                ..UnpackOptions::default()
            },
        )
        .unwrap();
        assert_eq!(mode_of(&kept.join("bin/setuid")), 0o4755);
    }
}

#[test]
fn unpack_merges_into_an_existing_dest_like_tar() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    write(&source.join("replaced.txt"), b"new");
    write(&source.join("sub/new.txt"), b"new");
    write(&source.join("was-a-link"), b"file now");
    fs::create_dir_all(source.join("was-a-file")).unwrap();
    write(&source.join("was-a-file/inside"), b"in");
    let packed = pack(&source, dir.path(), &options(Compression::Gzip)).unwrap();

    let dest = dir.path().join("dest");
    let outside = dir.path().join("outside.txt");
    write(&outside, b"untouched");
    write(&dest.join("replaced.txt"), b"old");
    write(&dest.join("kept.txt"), b"kept");
    write(&dest.join("sub/kept.txt"), b"kept");
    write(&dest.join("was-a-file"), b"file");
    symlink(&outside, dest.join("was-a-link")).unwrap();
    unpack(&packed.path, &dest, &UnpackOptions::default()).unwrap();

    assert_eq!(fs::read(dest.join("replaced.txt")).unwrap(), b"new");
    assert_eq!(fs::read(dest.join("kept.txt")).unwrap(), b"kept");
    assert_eq!(fs::read(dest.join("sub/kept.txt")).unwrap(), b"kept");
    assert_eq!(fs::read(dest.join("sub/new.txt")).unwrap(), b"new");
    assert!(!fs::symlink_metadata(dest.join("was-a-link"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(dest.join("was-a-link")).unwrap(), b"file now");
    assert_eq!(fs::read(dest.join("was-a-file/inside")).unwrap(), b"in");
    assert_eq!(
        fs::read(&outside).unwrap(),
        b"untouched",
        "the old symlink was not followed"
    );
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".stepkit-unpack"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn later_entries_of_the_same_name_replace_earlier_ones_as_tar_does() {
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("repeated.tar.gz");
    RawTar::new()
        .dir("./")
        .file("./a.txt", b"first")
        .file("./a.txt", b"second")
        .dir("./d/")
        .file("./d", b"a file where an empty directory was")
        .file("./l", b"a file")
        .symlink("./l", "a.txt")
        .dir("./sub/")
        .file("./sub/x", b"x")
        .write_to(&blob);
    let dest = dir.path().join("dest");
    unpack(&blob, &dest, &UnpackOptions::default()).unwrap();
    assert_eq!(fs::read(dest.join("a.txt")).unwrap(), b"second");
    assert_eq!(
        fs::read(dest.join("d")).unwrap(),
        b"a file where an empty directory was"
    );
    assert_eq!(fs::read_link(dest.join("l")).unwrap(), Path::new("a.txt"));
    assert_eq!(fs::read(dest.join("sub/x")).unwrap(), b"x");

    // A directory that already holds something is not replaced, whatever comes after.
    let filled = dir.path().join("filled.tar.gz");
    RawTar::new()
        .dir("./")
        .file("./sub/x", b"x")
        .file("./sub", b"over a filled directory")
        .write_to(&filled);
    let error = unpack(
        &filled,
        &dir.path().join("other"),
        &UnpackOptions::default(),
    )
    .unwrap_err();
    assert!(
        format!("{error:#}").contains("replaces a directory"),
        "{error:#}"
    );
    assert!(!dir.path().join("other").exists());
}

#[test]
fn a_staged_archive_reaches_dest_only_when_committed() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    write(&source.join("new.txt"), b"new");
    let packed = pack(&source, dir.path(), &options(Compression::default())).unwrap();
    let dest = dir.path().join("dest");
    write(&dest.join("kept.txt"), b"kept");
    let staging_dirs = || {
        fs::read_dir(dir.path())
            .unwrap()
            .filter(|entry| {
                let name = entry.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with(".stepkit-unpack")
            })
            .count()
    };
    let stage_blob = || {
        stage(
            File::open(&packed.path).unwrap(),
            "the blob",
            None,
            &dest,
            &UnpackOptions::default(),
        )
        .unwrap()
    };

    let staged = stage_blob();
    assert!(!dest.join("new.txt").exists(), "not in DEST before commit");
    assert_eq!(staging_dirs(), 1);
    drop(staged);
    assert_eq!(
        staging_dirs(),
        0,
        "dropping it removes the staging directory"
    );
    assert!(!dest.join("new.txt").exists());

    let staged = stage_blob();
    assert_eq!(staged.commit().unwrap().files, 1);
    assert_eq!(fs::read(dest.join("new.txt")).unwrap(), b"new");
    assert_eq!(fs::read(dest.join("kept.txt")).unwrap(), b"kept");
    assert_eq!(staging_dirs(), 0);
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_dest_that_is_a_mount_point_is_staged_inside_it() {
    // A Tekton workspace volume is mounted at DEST: its parent is another file system, so
    // a staging directory beside it could not be renamed into it.
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("workspace");
    fs::create_dir(&dest).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "stepkit-test"])
        .arg(&dest)
        .output()
        .is_ok_and(|output| output.status.success());
    if !mounted {
        eprintln!(
            "NOTE: mount point case not exercised: mounting a tmpfs needs root with \
             CAP_SYS_ADMIN"
        );
        return;
    }
    let _mount = Mount(dest.clone());
    assert!(!same_device(dir.path(), &dest).unwrap());
    write(&dir.path().join("src/a"), b"a");
    write(&dir.path().join("src/sub/b"), b"b");
    write(&dest.join("existing"), b"kept");
    let packed = pack(
        &dir.path().join("src"),
        dir.path(),
        &options(Compression::Gzip),
    )
    .unwrap();
    unpack(&packed.path, &dest, &UnpackOptions::default()).unwrap();
    assert_eq!(fs::read(dest.join("a")).unwrap(), b"a");
    assert_eq!(fs::read(dest.join("sub/b")).unwrap(), b"b");
    assert_eq!(fs::read(dest.join("existing")).unwrap(), b"kept");
    let mut names: Vec<_> = fs::read_dir(&dest)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["a", "existing", "sub"],
        "no staging directory left behind"
    );
}

// ---- determinism ----------------------------------------------------------------------

#[test]
fn identical_trees_give_identical_digests_whatever_mtimes_owners_and_threads() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let second = dir.path().join("second-with-another-name");
    sample_tree(&first);
    sample_tree(&second);
    let old = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for path in [
        "README.md",
        "src/main.rs",
        "bin/tool",
        "src/deep/er/file.txt",
    ] {
        File::options()
            .write(true)
            .open(second.join(path))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let running_as_root = fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if running_as_root {
        std::os::unix::fs::lchown(second.join("README.md"), Some(1234), Some(5678)).unwrap();
        std::os::unix::fs::lchown(second.join("link-relative"), Some(1234), Some(5678)).unwrap();
    }
    for compression in BOTH {
        let a = pack(&first, dir.path(), &options(compression)).unwrap();
        let again = pack(&first, dir.path(), &options(compression)).unwrap();
        assert_eq!(fs::read(&a.path).unwrap(), fs::read(&again.path).unwrap());
        let b = pack(&second, dir.path(), &options(compression)).unwrap();
        assert_eq!(a.digest, b.digest, "{compression}");
        assert_eq!(a.uncompressed_digest, b.uncompressed_digest);
        assert_eq!((a.size, a.uncompressed_size), (b.size, b.uncompressed_size));
        for threads in [1, 3, 4] {
            let other = pack(
                &first,
                dir.path(),
                &PackOptions {
                    threads,
                    ..options(compression)
                },
            )
            .unwrap();
            assert_eq!(
                other.digest, a.digest,
                "{compression} with {threads} threads"
            );
        }
    }
}

// ---- excludes and the skip marker -----------------------------------------------------

#[test]
fn excludes_follow_gitignore_rules() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    for path in [
        "keep.c",
        "main.o",
        "lib/util.o",
        "lib/util.c",
        "node_modules/x/index.js",
        "app/node_modules/y.js",
        "build/out",
        "app/build/out",
        "cache",
        "tmp/cache/z",
        "docs/a.tmp",
        "docs/deep/b.tmp",
        "docs/keep.md",
        "vendor/a/b",
        "[x].txt",
        ".stepkit-unpack-abc123/left-behind",
    ] {
        write(&source.join(path), b"x");
    }
    let excludes = [
        "*.o",
        "node_modules/",
        "/build",
        "cache/",
        "docs/**/*.tmp",
        "vendor/**",
        "\\[x\\].txt",
    ];
    let packed = pack(
        &source,
        dir.path(),
        &PackOptions {
            excludes: excludes.iter().map(|s| s.to_string()).collect(),
            ..options(Compression::Gzip)
        },
    )
    .unwrap();
    let got = names(&packed.path);
    let expected = [
        "./",
        "./app/",
        "./app/build/",
        "./app/build/out",
        "./cache",
        "./docs/",
        "./docs/deep/",
        "./docs/keep.md",
        "./keep.c",
        "./lib/",
        "./lib/util.c",
        "./tmp/",
        "./vendor/",
    ];
    assert_eq!(got, expected);
}

#[test]
fn skip_marker_skips_pack_and_unpack_like_trusted_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    write(&source.join("a"), b"a");
    let packed = pack(&source, dir.path(), &options(Compression::Gzip)).unwrap();

    write(&source.join(SKIP_MARKER), b"");
    let error = pack(&source, dir.path(), &options(Compression::Gzip)).unwrap_err();
    let skipped = error.downcast_ref::<Skipped>().expect("a Skipped error");
    assert_eq!(skipped.marker, source.join(SKIP_MARKER));
    assert!(skip_requested(&source));

    let dest = dir.path().join("dest");
    write(&dest.join(SKIP_MARKER), b"");
    let error = unpack(&packed.path, &dest, &UnpackOptions::default()).unwrap_err();
    assert!(error.downcast_ref::<Skipped>().is_some(), "{error:#}");
    assert!(!dest.join("a").exists());
}

#[test]
fn temp_dir_inside_the_workspace_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a"), b"a");
    let error = pack(dir.path(), dir.path(), &options(Compression::Gzip)).unwrap_err();
    assert_eq!(exit_code(&error), 2);
    assert!(format!("{error:#}").contains("--tmp-dir"), "{error:#}");
}

#[test]
fn bad_inputs_have_clear_errors_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let missing = pack(
        &dir.path().join("nope"),
        dir.path(),
        &options(Compression::Gzip),
    )
    .unwrap_err();
    assert_eq!(exit_code(&missing), 6, "{missing:#}");
    let level = pack(
        dir.path(),
        dir.path(),
        &options(Compression::Zstd { level: 99 }),
    )
    .unwrap_err();
    assert_eq!(exit_code(&level), 2, "{level:#}");

    let junk = dir.path().join("junk");
    fs::write(&junk, b"this is not an archive at all").unwrap();
    let error = unpack(&junk, &dir.path().join("d"), &UnpackOptions::default()).unwrap_err();
    assert_eq!(exit_code(&error), 2);
    assert!(
        format!("{error:#}").contains("not a zstd, gzip or tar archive"),
        "{error:#}"
    );

    let truncated = dir.path().join("truncated.tar.gz");
    write(&dir.path().join("src/big"), &vec![7u8; 100_000]);
    let packed = pack(
        &dir.path().join("src"),
        dir.path(),
        &options(Compression::Gzip),
    )
    .unwrap();
    let bytes = fs::read(&packed.path).unwrap();
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let dest = dir.path().join("d2");
    let error = unpack(&truncated, &dest, &UnpackOptions::default()).unwrap_err();
    assert_eq!(exit_code(&error), 2, "{error:#}");
    assert!(!dest.exists(), "a failed unpack leaves no DEST behind");

    let error = unpack(&packed.path, Path::new("/"), &UnpackOptions::default()).unwrap_err();
    assert_eq!(exit_code(&error), 2, "{error:#}");
    let error = unpack(&packed.path, &junk, &UnpackOptions::default()).unwrap_err();
    assert!(
        format!("{error:#}").contains("not a directory"),
        "{error:#}"
    );
}

// ---- hostile archives -----------------------------------------------------------------

#[test]
fn names_that_leave_dest_are_rejected() {
    let scene = Scene::new();
    scene.expect_rejected(
        RawTar::new().file("ok", b"ok").file("../evil", b"x"),
        "../evil",
    );
    scene.expect_rejected(RawTar::new().file("./a/../../evil", b"x"), "./a/../../evil");
    scene.expect_rejected(
        RawTar::new().file("/tmp/stepkit-escape", b"x"),
        "/tmp/stepkit-escape",
    );
    scene.expect_rejected(RawTar::new().dir("../outside/"), "../outside/");
    let mut pax = RawTar::new();
    pax.builder
        .append_pax_extensions([("path", &b"a\0/../../evil"[..])])
        .unwrap();
    scene.expect_rejected(pax.file("placeholder", b"x"), "NUL");
}

#[test]
fn writes_through_symlinks_are_rejected() {
    let scene = Scene::new();
    let outside = scene.outside.display().to_string();
    scene.expect_rejected(
        RawTar::new()
            .symlink("lnk", &outside)
            .file("lnk/evil", b"x"),
        "lnk/evil",
    );
    scene.expect_rejected(
        RawTar::new()
            .symlink("a", "../outside")
            .dir("a/b/")
            .file("a/b/evil", b"x"),
        "a/b/",
    );
    // A symlink already in DEST: entries below it are refused, nothing is followed.
    symlink(&scene.outside, scene.dest.join("planted")).unwrap();
    scene.expect_rejected(RawTar::new().file("planted/evil", b"x"), "planted");
    assert!(!scene.outside.join("evil").exists());
}

#[test]
fn hard_links_outside_and_special_files_are_rejected() {
    let scene = Scene::new();
    scene.expect_rejected(RawTar::new().hardlink("h", "../outside/secret"), "\"h\"");
    scene.expect_rejected(
        RawTar::new().hardlink("h", "/etc/hostname"),
        "/etc/hostname",
    );
    scene.expect_rejected(
        RawTar::new().hardlink("h", "existing.txt"),
        "not earlier in the archive",
    );
    let outside = scene.outside.display().to_string();
    scene.expect_rejected(
        RawTar::new()
            .symlink("lnk", &outside)
            .hardlink("h", "lnk/secret"),
        "goes through the symlink",
    );
    for (kind, what) in [
        (tar::EntryType::Char, "character device"),
        (tar::EntryType::Block, "block device"),
        (tar::EntryType::Fifo, "FIFO"),
    ] {
        scene.expect_rejected(
            RawTar::new()
                .file("fine", b"fine")
                .entry(kind, b"dev/thing", b"", 0o644, b""),
            what,
        );
    }
}

#[test]
fn a_symlink_then_a_directory_entry_never_changes_the_target() {
    let scene = Scene::new();
    set_mode(&scene.outside, 0o700);
    let outside = scene.outside.display().to_string();
    RawTar::new()
        .symlink("d", &outside)
        .entry(tar::EntryType::Directory, b"d/", b"", 0o777, b"")
        .file("d/inside", b"in")
        .write_to(&scene.blob);
    unpack(&scene.blob, &scene.dest, &UnpackOptions::default()).unwrap();
    assert_eq!(
        mode_of(&scene.outside),
        0o700,
        "no chmod through the symlink"
    );
    assert!(fs::symlink_metadata(scene.dest.join("d")).unwrap().is_dir());
    assert_eq!(fs::read(scene.dest.join("d/inside")).unwrap(), b"in");
    assert_eq!(fs::read_dir(&scene.outside).unwrap().count(), 1);
}

// ---- interoperability with the system tools -------------------------------------------

#[test]
fn system_tar_restores_what_we_pack() {
    for compression in BOTH {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        sample_tree(&source);
        let packed = pack(&source, dir.path(), &options(compression)).unwrap();
        let dest = dir.path().join("by-tar");
        fs::create_dir(&dest).unwrap();
        match compression {
            // Exactly the Trusted Artifacts `use` step: tar -C DEST -zxpf -.
            Compression::Gzip => run(Command::new("tar")
                .arg("-C")
                .arg(&dest)
                .arg("-zxpf")
                .arg(&packed.path)),
            Compression::Zstd { .. } => {
                run(Command::new("zstd").arg("-t").arg("-q").arg(&packed.path));
                run(Command::new("tar")
                    .arg("--zstd")
                    .arg("-C")
                    .arg(&dest)
                    .arg("-xpf")
                    .arg(&packed.path))
            }
        };
        assert_eq!(snapshot(&dest), snapshot(&source), "{compression}");
        let listing = match compression {
            Compression::Gzip => run(Command::new("tar").arg("-tzf").arg(&packed.path)),
            Compression::Zstd { .. } => run(Command::new("tar")
                .arg("--zstd")
                .arg("-tf")
                .arg(&packed.path)),
        };
        assert!(listing.starts_with("./\n./README.md\n"), "{listing}");
    }
}

#[test]
fn we_restore_what_trusted_artifacts_create_packs() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    sample_tree(&source);
    // Exactly the Trusted Artifacts `create` step for a directory.
    let blob = dir.path().join("ta.tar.gz");
    run(Command::new("tar")
        .arg("--create")
        .arg("--use-compress-program=gzip -n")
        .arg("--file")
        .arg(&blob)
        .arg(format!("--directory={}", source.display()))
        .arg("."));
    let dest = dir.path().join("dest");
    let unpacked = unpack(&blob, &dest, &UnpackOptions::default()).unwrap();
    let expected: Vec<_> = snapshot(&source)
        .into_iter()
        .map(|line| line.replace("F bin/setuid 4755", "F bin/setuid 755"))
        .collect();
    assert_eq!(snapshot(&dest), expected);
    assert!(unpacked.files > 10);

    // ... for a single file, a missing path (an empty archive), and with zstd or no
    // compression at all.
    let single = dir.path().join("single.tar.gz");
    run(Command::new("tar")
        .arg("--create")
        .arg("--use-compress-program=gzip -n")
        .arg("--file")
        .arg(&single)
        .arg(format!("--directory={}", source.display()))
        .arg("README.md"));
    let one = dir.path().join("one");
    unpack(&single, &one, &UnpackOptions::default()).unwrap();
    assert_eq!(fs::read(one.join("README.md")).unwrap(), b"hello\n");

    let empty = dir.path().join("empty.tar.gz");
    run(Command::new("tar")
        .arg("--create")
        .arg("--use-compress-program=gzip -n")
        .arg("--file")
        .arg(&empty)
        .arg("--files-from")
        .arg("/dev/null"));
    let nothing = dir.path().join("nothing");
    assert_eq!(
        unpack(&empty, &nothing, &UnpackOptions::default()).unwrap(),
        Unpacked::default()
    );
    assert!(nothing.is_dir());

    for (flag, name) in [("--zstd", "sys.tar.zst"), ("--no-auto-compress", "sys.tar")] {
        let blob = dir.path().join(name);
        run(Command::new("tar")
            .arg(flag)
            .arg("-cf")
            .arg(&blob)
            .arg("-C")
            .arg(&source)
            .arg("."));
        let dest = dir.path().join(format!("from-{name}"));
        unpack(&blob, &dest, &UnpackOptions::default()).unwrap();
        assert_eq!(snapshot(&dest), expected, "{name}");
    }
}

// ---- bounded memory -------------------------------------------------------------------

const MEMORY_PROBE_ENV: &str = "STEPKIT_ARCHIVE_MEMORY_PROBE";

fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn file_digest(path: &Path) -> String {
    let mut hasher = Sha256::new();
    io::copy(&mut File::open(path).unwrap(), &mut hasher).unwrap();
    format!("{:x}", hasher.finalize())
}

/// A workspace holding one sparse-ish file of `size` bytes: holes, with 1 MiB of noise
/// every 8 MiB.
fn sparse_workspace(root: &Path, size: u64) -> PathBuf {
    fs::create_dir_all(root).unwrap();
    let path = root.join("large.bin");
    let file = File::create(&path).unwrap();
    file.set_len(size).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ size;
    let mut noise = vec![0u8; 1 << 20];
    for offset in (0..size).step_by(8 << 20) {
        for byte in noise.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        let len = noise.len().min(usize::try_from(size - offset).unwrap());
        std::os::unix::fs::FileExt::write_all_at(&file, &noise[..len], offset).unwrap();
    }
    path
}

/// Run alone in a child process by the test below, so the peak RSS it prints is its own.
/// For each codec it packs and unpacks a small workspace, then one several times larger:
/// if anything held a layer in memory, the peak would grow with the size.
#[test]
#[ignore = "run by large_sparse_file_packs_and_unpacks_in_bounded_memory in a child process"]
fn memory_probe_child() {
    let Some(dir) = std::env::var_os(MEMORY_PROBE_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    println!("\nprobe baseline peak_rss_kib={}", peak_rss_kib());
    // gzip first: its footprint is far below zstd's, whose peak would hide it.
    // (The sizes are small because tests run unoptimized, where zlib-rs does ~5 MB/s.)
    for (compression, sizes) in [
        (Compression::Gzip, [4u64 << 20, 20 << 20]),
        (Compression::default(), [32 << 20, 96 << 20]),
    ] {
        for size in sizes {
            let source = dir.join(format!("{compression}-{size}"));
            let large = sparse_workspace(&source, size);
            let started = std::time::Instant::now();
            let packed = pack(&source, &dir, &options(compression)).unwrap();
            let packed_in = started.elapsed();
            let dest = dir.join(format!("dest-{compression}-{size}"));
            let started = std::time::Instant::now();
            unpack(&packed.path, &dest, &UnpackOptions::default()).unwrap();
            let unpacked_in = started.elapsed();
            assert_eq!(file_digest(&dest.join("large.bin")), file_digest(&large));
            println!(
                "probe {compression}-{}MiB peak_rss_kib={} blob={} pack_ms={} unpack_ms={}",
                size >> 20,
                peak_rss_kib(),
                packed.size,
                packed_in.as_millis(),
                unpacked_in.as_millis()
            );
            fs::remove_dir_all(&source).unwrap();
            fs::remove_dir_all(&dest).unwrap();
        }
    }
}

#[test]
fn large_sparse_file_packs_and_unpacks_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "workspace::archive::tests::memory_probe_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MEMORY_PROBE_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let peaks: Vec<(String, u64)> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("probe "))
        .map(|line| {
            let label = line.split_whitespace().next().unwrap().to_owned();
            let peak = line
                .split_whitespace()
                .find_map(|field| field.strip_prefix("peak_rss_kib="))
                .unwrap()
                .parse()
                .unwrap();
            (label, peak)
        })
        .collect();
    assert_eq!(peaks.len(), 5, "{stdout}");
    eprintln!("{stdout}");
    // 16 MiB more gzip input, 64 MiB more zstd input: the peak may not follow.
    let (gzip_small, gzip_large) = (peaks[1].1, peaks[2].1);
    assert!(
        gzip_large < gzip_small + 8 * 1024,
        "gzip peak grew with the input\n{stdout}"
    );
    let (zstd_small, zstd_large) = (peaks[3].1, peaks[4].1);
    assert!(
        zstd_large < zstd_small + 24 * 1024,
        "zstd peak grew with the input\n{stdout}"
    );
    assert!(
        zstd_large < 96 * 1024,
        "zstd peak {zstd_large} KiB\n{stdout}"
    );
}

// ---- layer stacks -------------------------------------------------------------------------

#[test]
fn whiteouts_hide_what_lower_layers_staged_and_nothing_of_their_own_layer_or_dest() {
    let dir = tempfile::tempdir().unwrap();
    let lower = dir.path().join("lower.tgz");
    RawTar::new()
        .file("./keep.txt", b"keep")
        .file("./gone.txt", b"gone")
        .file("./tree/a/deep.txt", b"deep")
        .file("./opaque/old.txt", b"old")
        .file("./retyped", b"a file")
        .write_to(&lower);
    let upper = dir.path().join("upper.tgz");
    RawTar::new()
        .file("./.wh.gone.txt", b"")
        .file("./.wh.tree", b"")
        .file("./opaque/new.txt", b"new")
        .file("./opaque/.wh..wh..opq", b"")
        .file("./.wh.retyped", b"")
        .file("./retyped/inside.txt", b"now a directory")
        // A whiteout after its own layer's entry does not hide it.
        .file("./late.txt", b"late")
        .file("./.wh.late.txt", b"")
        .write_to(&upper);
    let dest = dir.path().join("dest");
    fs::create_dir_all(&dest).unwrap();
    // DEST's own files are not a lower layer: whiteouts leave them.
    write(&dest.join("gone.txt"), b"was in DEST before");
    let options = UnpackOptions {
        record: true,
        ..UnpackOptions::default()
    };
    let mut staged = Staged::start(&dest, &options).unwrap();
    for blob in [&lower, &upper] {
        staged
            .add(File::open(blob).unwrap(), &blob.display().to_string(), None)
            .unwrap();
    }
    let (unpacked, entries) = staged.commit_recorded().unwrap();
    assert!(unpacked.files >= 7, "{unpacked:?}");
    let listed: Vec<String> = entries
        .iter()
        .map(|entry| entry.path.display().to_string())
        .collect();
    assert_eq!(
        listed,
        [
            "keep.txt",
            "late.txt",
            "opaque",
            "opaque/new.txt",
            "retyped",
            "retyped/inside.txt"
        ]
    );
    let keep = entries
        .iter()
        .find(|e| e.path == Path::new("keep.txt"))
        .unwrap();
    assert_eq!(
        keep.kind,
        StagedKind::File {
            digest: format!("sha256:{:x}", Sha256::digest(b"keep"))
        }
    );
    assert_eq!(
        fs::read(dest.join("gone.txt")).unwrap(),
        b"was in DEST before"
    );
    assert!(!dest.join("tree").exists() && !dest.join("opaque/old.txt").exists());
    assert_eq!(
        fs::read(dest.join("retyped/inside.txt")).unwrap(),
        b"now a directory"
    );
    assert!(!dest.join(".wh.late.txt").exists() && dest.join("late.txt").is_file());
}

/// The size of the uncompressed tar stream `pack` writes.
fn tar_stream_size(packed: &Packed) -> u64 {
    let mut decoder = zstd::stream::read::Decoder::new(File::open(&packed.path).unwrap()).unwrap();
    io::copy(&mut decoder, &mut io::sink()).unwrap()
}

#[test]
fn the_progress_total_is_the_tar_stream_size_from_a_stat_only_walk() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("ws");
    let long = "n".repeat(150);
    let deep = source.join(format!("{long}/{long}"));
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("file"), vec![7u8; 1000]).unwrap();
    fs::write(source.join("small"), b"abc").unwrap();
    fs::write(source.join("empty"), b"").unwrap();
    fs::write(source.join("exactly-512"), vec![1u8; 512]).unwrap();
    fs::hard_link(source.join("small"), source.join(format!("link-{long}"))).unwrap();
    symlink(format!("{long}/{long}/file"), source.join("to-file")).unwrap();
    fs::create_dir(source.join("cache")).unwrap();
    fs::write(source.join("cache/big"), vec![0u8; 100_000]).unwrap();
    let spool = tempfile::tempdir().unwrap();
    let zstd = Compression::Zstd { level: 3 };

    let whole = PackOptions {
        excludes: vec!["cache/".to_owned()],
        ..options(zstd)
    };
    let delta = PackOptions {
        delta: Some(Delta {
            include: [
                b"small".to_vec(),
                format!("{long}/{long}/file").into_bytes(),
            ]
            .into_iter()
            .collect(),
            whiteouts: vec![b"gone".to_vec(), format!("{long}/gone-too").into_bytes()],
        }),
        ..options(zstd)
    };
    let file = options(zstd);
    for (case, path, options) in [
        ("whole tree with excludes", source.clone(), whole),
        ("delta", source.clone(), delta),
        ("single file", source.join("exactly-512"), file),
    ] {
        let meta = fs::metadata(&path).unwrap();
        let include = options
            .delta
            .as_ref()
            .map(|delta| super::walk::Included::new(&delta.include));
        let estimate =
            super::pack::estimate_tar_size(&path, &meta, &options, include.as_ref()).unwrap();
        let packed = pack(&path, spool.path(), &options).unwrap();
        assert_eq!(estimate, tar_stream_size(&packed), "{case}");
        assert_eq!(estimate, packed.uncompressed_size, "{case}");
    }
}

#[test]
fn a_delta_packs_exactly_its_listed_paths_in_walk_order() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("ws");
    for sub in ["a/b/c", "new/inner", "untouched/deep/er"] {
        fs::create_dir_all(source.join(sub)).unwrap();
    }
    fs::write(source.join("a/b/c/changed"), b"new").unwrap();
    fs::write(source.join("a/b/same"), b"old").unwrap();
    fs::write(source.join("new/inner/file"), b"added").unwrap();
    fs::write(source.join("untouched/deep/er/file"), b"old").unwrap();
    fs::write(source.join("top"), b"changed").unwrap();
    let spool = tempfile::tempdir().unwrap();
    let include = ["a/b/c/changed", "new", "new/inner", "new/inner/file", "top"];
    let options = PackOptions {
        delta: Some(Delta {
            include: include.iter().map(|p| p.as_bytes().to_vec()).collect(),
            whiteouts: vec![b"gone".to_vec()],
        }),
        ..options(Compression::Zstd { level: 3 })
    };

    let packed = pack(&source, spool.path(), &options).unwrap();
    let names: Vec<String> = members(&packed.path)
        .into_iter()
        .map(|(name, ..)| name)
        .collect();
    assert_eq!(
        names,
        [
            "./",
            "./.wh.gone",
            "./a/b/c/changed",
            "./new/",
            "./new/inner/",
            "./new/inner/file",
            "./top"
        ]
    );
    assert_eq!(packed.files, 3);
}

#[test]
fn a_delta_walk_lists_only_the_directories_that_hold_a_listed_path() {
    let paths = ["a/b/c/changed", "new", "top"]
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    let included = super::walk::Included::new(&paths);
    for dir in ["a/", "a/b/", "a/b/c/"] {
        assert!(included.leads_into(dir.as_bytes()), "{dir}");
    }
    // `new` itself is packed, but nothing below it is listed: its children are not walked.
    for dir in ["new/", "untouched/", "a/b/c/changed/", "ab/", "a/b/d/"] {
        assert!(!included.leads_into(dir.as_bytes()), "{dir}");
    }
}
