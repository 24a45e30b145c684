//! The raw cache: `data/raw/<source>/<file>`, one file per request, each written atomically
//! (`reeflow-files`), and a `manifest.json` per source recording for every file its URL (never a
//! secret), parameters, retrieval time, HTTP status, bytes, sha256 and rows. A file counts as
//! cached only when it is present *and* listed, so a run killed between the two refetches it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reeflow_files::{sha256_hex, write_bytes_atomically};

use crate::error::{FetchError, Result};

/// One manifest entry (the shape `reeflow normalize` reads retrieval dates from).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CachedFile {
    pub file: String,
    pub url: String,
    pub params: BTreeMap<String, String>,
    pub retrieved_at: String,
    pub status: u16,
    pub bytes: u64,
    pub sha256: String,
    pub rows: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub source: String,
    pub files: Vec<CachedFile>,
    /// Requests whose answer reached the row cap, and the smaller requests that replaced them:
    /// a rerun asks for the parts directly instead of spending a call on the parent again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub splits: Vec<SplitRequest>,
    /// HTTP calls made per UTC day (`YYYY-MM-DD`): what a daily quota counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub calls_by_day: BTreeMap<String, u64>,
}

impl Manifest {
    /// Calls made on the UTC day `day` (`YYYY-MM-DD`).
    pub fn calls_on(&self, day: &str) -> u64 {
        self.calls_by_day.get(day).copied().unwrap_or(0)
    }

    /// The entries of `other` this manifest lacks or holds an older answer for (by retrieval
    /// time): what a copy of `other`'s cache adds here.
    pub fn newer_in<'a>(&self, other: &'a Manifest) -> Vec<&'a CachedFile> {
        other
            .files
            .iter()
            .filter(|theirs| match self.files.iter().find(|mine| mine.file == theirs.file) {
                None => true,
                Some(mine) => mine.sha256 != theirs.sha256 && mine.retrieved_at < theirs.retrieved_at,
            })
            .collect()
    }

    /// Takes in `other`'s record of another copy of the same cache: for each file the newer
    /// answer, for each split the later one, for each day the larger call count (two copies
    /// counted the same calls, or each its own on a day both fetched: the larger is a lower bound).
    pub fn merge(&mut self, other: &Manifest) {
        let newer: Vec<CachedFile> = self.newer_in(other).into_iter().cloned().collect();
        for entry in newer {
            self.files.retain(|f| f.file != entry.file);
            self.files.push(entry);
        }
        self.files.sort_by(|a, b| a.file.cmp(&b.file));
        for split in &other.splits {
            match self.splits.iter_mut().find(|s| s.file == split.file) {
                Some(mine) if mine.split_at >= split.split_at => {}
                Some(mine) => *mine = split.clone(),
                None => self.splits.push(split.clone()),
            }
        }
        self.splits.sort_by(|a, b| a.file.cmp(&b.file));
        for (day, calls) in &other.calls_by_day {
            let mine = self.calls_by_day.entry(day.clone()).or_default();
            *mine = (*mine).max(*calls);
        }
    }
}

/// A request that was split (never stored: its answer was truncated at the row cap).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SplitRequest {
    pub file: String,
    pub url: String,
    pub split_at: String,
    pub parts: Vec<crate::Request>,
}

/// The cache folder of one source.
pub struct RawCache {
    folder: PathBuf,
    manifest: Manifest,
}

impl RawCache {
    /// Opens `<raw>/<source>/`, reading its manifest if there is one. Nothing is created until
    /// something is stored (a dry run writes nothing).
    pub fn open(raw: &Path, source: &str) -> Result<Self> {
        let folder = raw.join(source);
        let path = folder.join("manifest.json");
        let manifest = match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).map_err(|source| FetchError::Manifest { path: path.clone(), source })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Manifest { source: source.to_string(), ..Manifest::default() }
            }
            Err(source) => return Err(FetchError::Io { path, source }),
        };
        Ok(Self { folder, manifest })
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn ensure_folder(&self) -> Result<()> {
        std::fs::create_dir_all(&self.folder).map_err(|source| FetchError::Io { path: self.folder.clone(), source })
    }

    /// Whether `file` was fetched before (listed and present).
    pub fn has(&self, file: &str) -> bool {
        self.manifest.files.iter().any(|f| f.file == file) && self.folder.join(file).is_file()
    }

    /// Counts HTTP calls against today (UTC); written with the next manifest write or [`save`].
    ///
    /// [`save`]: RawCache::save
    pub fn count_calls(&mut self, calls: u64) {
        let today = reeflow_model::date::utc_now_iso()[..10].to_string();
        *self.manifest.calls_by_day.entry(today).or_default() += calls;
    }

    /// Writes the manifest (atomically).
    pub fn save(&self) -> Result<()> {
        self.write_manifest()
    }

    /// Takes in another copy of this cache (see [`Manifest::merge`]): `bodies` are the bodies of
    /// the files [`Manifest::newer_in`] named, each checked against its entry's sha256 (a body
    /// that does not match is an error naming the file, and nothing is stored for it). The
    /// manifest is written only when the merge changed it.
    pub fn merge(&mut self, other: &Manifest, bodies: Vec<(CachedFile, Vec<u8>)>) -> Result<()> {
        for (entry, body) in bodies {
            let actual = sha256_hex(&body);
            if actual != entry.sha256 {
                return Err(FetchError::Corrupt {
                    file: self.folder.join(&entry.file),
                    expected: entry.sha256,
                    actual,
                });
            }
            self.ensure_folder()?;
            write_bytes_atomically(&self.folder.join(&entry.file), &body)?;
        }
        let before = self.manifest.clone();
        self.manifest.merge(other);
        if self.manifest == before {
            return Ok(());
        }
        self.write_manifest()
    }

    /// The parts a request was split into on an earlier run, if it was.
    pub fn split_of(&self, file: &str) -> Option<&[crate::Request]> {
        self.manifest.splits.iter().find(|s| s.file == file).map(|s| s.parts.as_slice())
    }

    /// Records that `request` reached the row cap and was replaced by `parts` (atomically).
    pub fn record_split(&mut self, request: &crate::Request, parts: &[crate::Request]) -> Result<()> {
        self.manifest.splits.retain(|s| s.file != request.file);
        self.manifest.splits.push(SplitRequest {
            file: request.file.clone(),
            url: request.url.clone(),
            split_at: reeflow_model::date::utc_now_iso(),
            parts: parts.to_vec(),
        });
        self.manifest.splits.sort_by(|a, b| a.file.cmp(&b.file));
        self.write_manifest()
    }

    /// Stores a validated body and records it in the manifest, both atomically.
    pub fn store(&mut self, mut entry: CachedFile, body: &[u8]) -> Result<()> {
        self.ensure_folder()?;
        let path = self.folder.join(&entry.file);
        write_bytes_atomically(&path, body)?;
        entry.bytes = body.len() as u64;
        entry.sha256 = sha256_hex(body);
        self.manifest.files.retain(|f| f.file != entry.file);
        self.manifest.files.push(entry);
        self.manifest.files.sort_by(|a, b| a.file.cmp(&b.file));
        self.write_manifest()
    }

    fn write_manifest(&self) -> Result<()> {
        self.ensure_folder()?;
        let text = serde_json::to_string_pretty(&self.manifest).expect("manifest serializes");
        Ok(write_bytes_atomically(&self.folder.join("manifest.json"), text.as_bytes())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(file: &str, body: &str, retrieved_at: &str) -> CachedFile {
        CachedFile {
            file: file.into(),
            url: format!("https://example.invalid/{file}"),
            params: BTreeMap::new(),
            retrieved_at: retrieved_at.into(),
            status: 200,
            bytes: body.len() as u64,
            sha256: sha256_hex(body.as_bytes()),
            rows: None,
        }
    }

    #[test]
    fn two_copies_merge_to_the_newer_answers_and_the_larger_call_counts() {
        let mut mine = Manifest { source: "usgs".into(), ..Manifest::default() };
        mine.files = vec![entry("a.csv", "a old", "2026-01-01T00:00:00Z"), entry("c.csv", "c", "2026-01-03T00:00:00Z")];
        mine.calls_by_day = BTreeMap::from([("2026-01-01".into(), 5), ("2026-01-03".into(), 1)]);
        let mut theirs = Manifest { source: "usgs".into(), ..Manifest::default() };
        theirs.files = vec![
            entry("a.csv", "a new", "2026-01-02T00:00:00Z"),
            entry("b.csv", "b", "2026-01-02T00:00:00Z"),
            entry("c.csv", "c older", "2026-01-01T00:00:00Z"),
        ];
        theirs.calls_by_day = BTreeMap::from([("2026-01-01".into(), 3), ("2026-01-02".into(), 2)]);
        let newer: Vec<&str> = mine.newer_in(&theirs).iter().map(|f| f.file.as_str()).collect();
        assert_eq!(newer, ["a.csv", "b.csv"]);
        mine.merge(&theirs);
        let files: Vec<(&str, &str)> = mine.files.iter().map(|f| (f.file.as_str(), f.retrieved_at.as_str())).collect();
        assert_eq!(
            files,
            [("a.csv", "2026-01-02T00:00:00Z"), ("b.csv", "2026-01-02T00:00:00Z"), ("c.csv", "2026-01-03T00:00:00Z")]
        );
        assert_eq!(
            mine.calls_by_day,
            BTreeMap::from([("2026-01-01".into(), 5), ("2026-01-02".into(), 2), ("2026-01-03".into(), 1)])
        );
        assert!(mine.newer_in(&theirs).is_empty(), "merged: nothing newer left");
    }

    #[test]
    fn a_copied_body_that_is_not_its_entrys_is_refused_and_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = RawCache::open(dir.path(), "usgs").unwrap();
        let mut theirs = Manifest { source: "usgs".into(), ..Manifest::default() };
        theirs.files = vec![entry("a.csv", "a", "2026-01-02T00:00:00Z")];
        let error = cache.merge(&theirs, vec![(theirs.files[0].clone(), b"truncated".to_vec())]).unwrap_err();
        assert!(error.to_string().contains("a.csv") && error.to_string().contains("corrupt"), "{error}");
        assert!(!cache.has("a.csv") && !dir.path().join("usgs/a.csv").exists());
        cache.merge(&theirs, vec![(theirs.files[0].clone(), b"a".to_vec())]).unwrap();
        assert!(RawCache::open(dir.path(), "usgs").unwrap().has("a.csv"));
    }
}
