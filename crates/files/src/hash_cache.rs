//! SHA-256 of files without reading them again when they have not changed: a cache keyed by the
//! file's device and inode that trusts a stored hash only while the size, the modification time
//! and the status-change time (ctime, nanoseconds) are all as they were. An edit that restores the
//! size and the modification time still moves ctime (no program can set it), so it is always
//! noticed.
//!
//! reeflow's own hard links (every version links the files it shares with the previous one) move
//! ctime too. So a command first [`HashCache::trust_unchanged`]s the files it is about to link
//! (verified against the cache before it touches them), and at its end [`HashCache::save`]
//! re-stamps the ctime of every file it verified or hashed, so the next command finds them as it
//! left them. Where the platform has no inode or ctime, every lookup hashes the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::WriteError;

/// What a file looked like when its hash was taken or last verified.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

#[derive(Debug, Clone)]
struct Entry {
    stamp: Stamp,
    sha256: String,
    /// Where this command met the file (a version's file and its links); the first that still
    /// exists is re-stamped and recorded.
    paths: Vec<PathBuf>,
    /// Verified or hashed by this command: its ctime may move by our own links.
    trusted: bool,
}

impl Entry {
    fn met_at(&mut self, path: &Path) {
        if !self.paths.iter().any(|p| p == path) {
            self.paths.push(path.to_path_buf());
        }
    }
}

/// The cache of one data folder (`<data>/.hash-cache`), loaded once per command.
#[derive(Debug)]
pub struct HashCache {
    file: PathBuf,
    entries: BTreeMap<(u64, u64), Entry>,
}

impl HashCache {
    /// Loads the cache kept in `file`; a missing or unreadable cache is an empty one.
    pub fn load(file: &Path) -> Self {
        let mut entries = BTreeMap::new();
        if let Ok(text) = std::fs::read_to_string(file) {
            for line in text.lines() {
                if let Some((key, entry)) = parse_line(line) {
                    entries.insert(key, entry);
                }
            }
        }
        Self { file: file.to_path_buf(), entries }
    }

    /// The file's sha256: from the cache when its size, mtime and ctime are as recorded (or it was
    /// verified by this command and only its ctime moved), else read and hashed.
    pub fn sha256(&mut self, path: &Path) -> std::io::Result<String> {
        let Some((key, stamp)) = stat(path)? else { return crate::file_sha256(path) };
        if let Some(entry) = self.entries.get_mut(&key) {
            let same = entry.stamp == stamp;
            let ours = entry.trusted && entry.stamp.size == stamp.size && entry.stamp.mtime_ns == stamp.mtime_ns;
            if same || ours {
                entry.met_at(path);
                return Ok(entry.sha256.clone());
            }
        }
        let sha256 = crate::file_sha256(path)?;
        let entry = Entry { stamp, sha256: sha256.clone(), paths: vec![path.to_path_buf()], trusted: true };
        self.entries.insert(key, entry);
        Ok(sha256)
    }

    /// Checks files against the cache before this command links or unlinks them: each one whose
    /// size, mtime and ctime are exactly as recorded is trusted for the rest of the command.
    pub fn trust_unchanged<'a>(&mut self, paths: impl IntoIterator<Item = &'a Path>) {
        for path in paths {
            let Ok(Some((key, stamp))) = stat(path) else { continue };
            if let Some(entry) = self.entries.get_mut(&key)
                && entry.stamp == stamp
            {
                entry.trusted = true;
                entry.met_at(path);
            }
        }
    }

    /// Tells the cache where files it knows live now (the published version's copies of files
    /// hashed through a link that is gone), so [`HashCache::save`] can re-stamp them.
    pub fn meet<'a>(&mut self, paths: impl IntoIterator<Item = &'a Path>) {
        for path in paths {
            if let Ok(Some((key, _))) = stat(path)
                && let Some(entry) = self.entries.get_mut(&key)
            {
                entry.met_at(path);
            }
        }
    }

    /// Re-stamps every file this command verified or hashed (their ctime moved by our own links)
    /// and writes the cache atomically; files that are gone are dropped.
    pub fn save(&mut self) -> Result<(), WriteError> {
        let mut kept = BTreeMap::new();
        for (key, mut entry) in std::mem::take(&mut self.entries) {
            if entry.trusted {
                let found = entry.paths.iter().find_map(|path| match stat(path) {
                    Ok(Some((now, stamp))) if now == key => Some((path.clone(), stamp)),
                    _ => None,
                });
                let Some((path, stamp)) = found else { continue };
                if stamp.size != entry.stamp.size || stamp.mtime_ns != entry.stamp.mtime_ns {
                    continue;
                }
                entry.stamp = stamp;
                entry.paths = vec![path];
            }
            entry.trusted = false;
            kept.insert(key, entry);
        }
        self.entries = kept;
        let mut text = String::new();
        for ((dev, ino), entry) in &self.entries {
            let Stamp { size, mtime_ns, ctime_ns } = &entry.stamp;
            let path = entry.paths.first().map(|p| p.display().to_string()).unwrap_or_default();
            text.push_str(&format!("{dev} {ino} {size} {mtime_ns} {ctime_ns} {} {path}\n", entry.sha256));
        }
        crate::write_bytes_atomically(&self.file, text.as_bytes())
    }
}

/// `dev ino size mtime_ns ctime_ns sha256 path` (the path may hold spaces: it is the rest).
fn parse_line(line: &str) -> Option<((u64, u64), Entry)> {
    let mut parts = line.splitn(7, ' ');
    let dev = parts.next()?.parse().ok()?;
    let ino = parts.next()?.parse().ok()?;
    let size = parts.next()?.parse().ok()?;
    let mtime_ns = parts.next()?.parse().ok()?;
    let ctime_ns = parts.next()?.parse().ok()?;
    let sha256 = parts.next()?.to_string();
    let path = PathBuf::from(parts.next()?);
    let entry = Entry { stamp: Stamp { size, mtime_ns, ctime_ns }, sha256, paths: vec![path], trusted: false };
    (entry.sha256.len() == 64).then_some(((dev, ino), entry))
}

#[cfg(unix)]
fn stat(path: &Path) -> std::io::Result<Option<((u64, u64), Stamp)>> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    Ok(Some((
        (meta.dev(), meta.ino()),
        Stamp {
            size: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        },
    )))
}

#[cfg(not(unix))]
fn stat(_path: &Path) -> std::io::Result<Option<((u64, u64), Stamp)>> {
    Ok(None)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_file_is_not_read_again_and_any_edit_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let (file, cache_file) = (dir.path().join("trade.parquet"), dir.path().join(".hash-cache"));
        std::fs::write(&file, b"rows-1").unwrap();
        let mut cache = HashCache::load(&cache_file);
        let first = cache.sha256(&file).unwrap();
        assert_eq!(first, crate::sha256_hex(b"rows-1"));
        cache.save().unwrap();

        // Unchanged: the hash comes from the cache (proved by a cache entry with a planted hash).
        let planted = std::fs::read_to_string(&cache_file).unwrap().replace(&first, &"a".repeat(64));
        std::fs::write(&cache_file, planted).unwrap();
        assert_eq!(HashCache::load(&cache_file).sha256(&file).unwrap(), "a".repeat(64), "served from the cache");

        // The same size, and the modification time put back: ctime still moved, so it is hashed.
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&file, b"rows-2").unwrap();
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(mtime).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), mtime);
        let again = HashCache::load(&cache_file).sha256(&file).unwrap();
        assert_eq!(again, crate::sha256_hex(b"rows-2"), "the edit is seen through ctime");
    }

    #[test]
    fn our_own_hard_links_keep_a_verified_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (file, cache_file) = (dir.path().join("trade.parquet"), dir.path().join(".hash-cache"));
        std::fs::write(&file, b"rows").unwrap();
        let mut cache = HashCache::load(&cache_file);
        let sha = cache.sha256(&file).unwrap();
        cache.save().unwrap();
        let planted = std::fs::read_to_string(&cache_file).unwrap().replace(&sha, &"b".repeat(64));
        std::fs::write(&cache_file, planted).unwrap();

        // The next command verifies the file, links it (ctime moves), and hashes the link.
        let mut cache = HashCache::load(&cache_file);
        cache.trust_unchanged([file.as_path()]);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let link = dir.path().join("link.parquet");
        std::fs::hard_link(&file, &link).unwrap();
        assert_eq!(cache.sha256(&link).unwrap(), "b".repeat(64), "our own link does not cost a rehash");
        std::fs::remove_file(&link).unwrap();
        cache.save().unwrap();
        // Saved with the ctime the links left: the next command finds the file as this one left it.
        assert_eq!(HashCache::load(&cache_file).sha256(&file).unwrap(), "b".repeat(64));
    }
}
