//! Interoperability with the system's tar and with Trusted Artifacts' `create`.

use super::*;

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
