//! What an unpack restores: round trips, staging and commit, hostile archives, layer stacks.

use super::*;

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
