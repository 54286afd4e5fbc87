//! Bounded memory: a large sparse workspace packs and unpacks within a fixed peak RSS.

use super::*;

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
            "workspace::archive::tests::memory::memory_probe_child",
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
