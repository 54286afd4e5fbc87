//! What a pack writes: the format, determinism, excludes and the skip marker, the progress
//! total and deltas.

use super::*;

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
            .map(|delta| crate::workspace::archive::walk::Included::new(&delta.include));
        let estimate = crate::workspace::archive::pack::estimate_tar_size(
            &path,
            &meta,
            &options,
            include.as_ref(),
        )
        .unwrap();
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
    let included = crate::workspace::archive::walk::Included::new(&paths);
    for dir in ["a/", "a/b/", "a/b/c/"] {
        assert!(included.leads_into(dir.as_bytes()), "{dir}");
    }
    // `new` itself is packed, but nothing below it is listed: its children are not walked.
    for dir in ["new/", "untouched/", "a/b/c/changed/", "ab/", "a/b/d/"] {
        assert!(!included.leads_into(dir.as_bytes()), "{dir}");
    }
}
