//! shellcheck's verdicts, remembered between runs: one small JSON file per script, named by the
//! SHA-256 of everything the verdict depends on (shellcheck's version, the dialect, the
//! arguments and the script text), so an entry can never be stale, only unused.
//!
//! Safe under concurrent runs: an entry is written to a temporary file in the same directory and
//! renamed into place, so a reader sees a whole entry or none; two runs writing the same entry
//! write the same bytes. Bounded: when the directory grows past its budget, the entries least
//! recently written go first. Every failure here only costs a shellcheck run, never a finding.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::Comment;

/// Bytes the cache may hold before its oldest entries are removed.
const MAX_BYTES: u64 = 64 << 20;

/// Bumped when the entry format changes.
const FORMAT: &str = "shellcheck-v1";

pub(super) struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache under `root` (the user's cache directory for stepkit).
    pub fn new(root: &Path) -> Cache {
        Cache {
            dir: root.join(FORMAT),
        }
    }

    pub fn key(version: &str, dialect: &str, args: &[&str], source: &str) -> String {
        let mut hash = Sha256::new();
        for part in [version, dialect, &args.join(" ")] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        hash.update(source.as_bytes());
        format!("{:x}", hash.finalize())
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    pub fn get(&self, key: &str) -> Option<Vec<Comment>> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn put(&self, key: &str, comments: &[Comment]) {
        let path = self.path(key);
        let Some(dir) = path.parent() else { return };
        let written = std::fs::create_dir_all(dir).and_then(|()| {
            let mut file = tempfile::NamedTempFile::new_in(dir)?;
            file.write_all(&serde_json::to_vec(comments).unwrap_or_default())?;
            file.persist(&path).map_err(|e| e.error)?;
            Ok(())
        });
        if let Err(error) = written {
            tracing::debug!("shellcheck cache: cannot write {}: {error}", path.display());
        }
    }

    /// Removes the oldest entries while the cache holds more than its budget.
    pub fn trim(&self) {
        self.trim_to(MAX_BYTES);
    }

    fn trim_to(&self, max_bytes: u64) {
        let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = Vec::new();
        let Ok(shards) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for shard in shards.flatten() {
            let Ok(files) = std::fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                if let Ok(meta) = file.metadata() {
                    let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                    entries.push((modified, meta.len(), file.path()));
                }
            }
        }
        let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
        if total <= max_bytes {
            return;
        }
        entries.sort();
        // Down to three quarters, so the next runs do not trim again straight away.
        for (_, len, path) in entries {
            if total <= max_bytes / 4 * 3 {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(code: u32) -> Comment {
        Comment {
            file: String::new(),
            line: 1,
            end_line: 1,
            column: 1,
            end_column: 2,
            level: "warning".into(),
            code,
            message: "m".into(),
        }
    }

    #[test]
    fn entries_round_trip_and_keys_cover_every_input() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let key = Cache::key("0.9.0", "sh", &["--norc"], "echo $x\n");
        assert!(cache.get(&key).is_none());
        cache.put(&key, &[comment(2086)]);
        assert_eq!(cache.get(&key).unwrap()[0].code, 2086);
        for other in [
            Cache::key("0.10.0", "sh", &["--norc"], "echo $x\n"),
            Cache::key("0.9.0", "bash", &["--norc"], "echo $x\n"),
            Cache::key("0.9.0", "sh", &[], "echo $x\n"),
            Cache::key("0.9.0", "sh", &["--norc"], "echo $y\n"),
        ] {
            assert_ne!(other, key);
        }
    }

    #[test]
    fn trimming_removes_the_oldest_entries_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let keys: Vec<String> = (0..10)
            .map(|i| Cache::key("v", "sh", &[], &i.to_string()))
            .collect();
        for (i, key) in keys.iter().enumerate() {
            cache.put(key, &[comment(i as u32)]);
            let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000 + i as u64);
            std::fs::File::options()
                .write(true)
                .open(cache.path(key))
                .unwrap()
                .set_modified(time)
                .unwrap();
        }
        let size = std::fs::metadata(cache.path(&keys[0])).unwrap().len();
        cache.trim_to(size * 4);
        let kept: Vec<bool> = keys.iter().map(|k| cache.get(k).is_some()).collect();
        assert!(!kept[0] && kept[9], "{kept:?}");
        assert!(kept.iter().filter(|k| **k).count() <= 3, "{kept:?}");
    }
}
