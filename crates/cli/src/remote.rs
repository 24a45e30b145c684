//! Remote data roots (`--data-dir s3://bucket/prefix`, `gs://…`, `az://…`): every command works on
//! a local folder of checked copies (the *mirror*, one per root under `[storage] cache`), and the
//! bucket is the one place versions are published.
//!
//! - A command resolves the bucket's `current` pointer once and copies that version into the
//!   mirror (each file checked against the manifest's sha256; a version is immutable, so a copy is
//!   made once). Readers (`sql`, `tables`, `report`, `diff`, `versions`) read the copy; writers
//!   (`run`, `refresh`, `normalize`, `check`) build on it under the mirror's lock.
//! - A writer's new version is sealed locally, uploaded under `versions/<id>/` with its manifest
//!   last, and published by swapping the bucket's pointer from the version it read; only then does
//!   the mirror switch to it. A writer that loses the swap publishes nothing and says who won.
//! - After a publish, versions outside the `[versions] keep` window are removed from the bucket.
//! - The raw cache of `fetch` lives in the bucket too (`raw/<source>/`, see reeflow_publish's
//!   `raw`): commands that read the default raw folder copy what it lacks from the bucket first,
//!   and `fetch` and `refresh` upload their new answers when they end (also when they fail).
//! - Stages on a cluster read the version being built from the bucket: its files are uploaded
//!   under `versions/<id>/` as stages first read them (no manifest yet, so no reader sees them),
//!   and the publish uploads only the rest.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result, bail};
use reeflow_fetch::RawCache;
use reeflow_publish::{IndexTag, Pointer, PublishError, RemoteRoot, Root, Upload};
use reeflow_versions::{Sealed, Staging, Version, VersionStore};

/// A remote root and what this command read from it.
pub struct Remote {
    /// The URL as given, without credentials.
    pub url: String,
    root: Root,
    keep: usize,
    /// `--quiet`: no status line on publishing.
    quiet: bool,
    /// The pointer and the local copy of its version, resolved once by [`Remote::sync`].
    read: OnceLock<Option<(Pointer, Version)>>,
    /// Files of the version being built already uploaded for a cluster ([`Remote::cluster_files`]);
    /// taken by the publish, discarded by [`Remote::discard_unpublished`] otherwise.
    upload: Mutex<Option<Arc<Upload>>>,
}

/// The files of the version being built, shared with a cluster through the bucket: uploaded
/// under the version's prefix (unpublished until its manifest is written) and read by URL.
struct BucketFiles {
    url: String,
    upload: Arc<Upload>,
}

#[async_trait::async_trait]
impl reeflow_pipeline::ClusterFiles for BucketFiles {
    async fn share(&self, path: &Path) -> std::result::Result<String, Box<dyn std::error::Error + Send + Sync>> {
        let place = self.upload.share(path).await?;
        Ok(format!("{}/{place}", self.url))
    }
}

impl Remote {
    pub fn new(remote: RemoteRoot, keep: usize, quiet: bool) -> Self {
        Self { url: remote.url, root: remote.root, keep, quiet, read: OnceLock::new(), upload: Mutex::default() }
    }

    /// Where a cluster reads the files of `staging`, the version being built: in the bucket, under
    /// the prefix the version will be published at (uploaded as stages first read them).
    pub fn cluster_files(&self, staging: &Staging) -> Arc<dyn reeflow_pipeline::ClusterFiles> {
        let upload = Arc::new(Upload::new(&self.root, &staging.id, &staging.dir));
        *self.upload_slot() = Some(upload.clone());
        Arc::new(BucketFiles { url: self.url.clone(), upload })
    }

    /// Removes what was uploaded for a cluster of a version that was not published (a failed or
    /// rejected run); a killed writer's files are pruned later like any unfinished upload.
    pub async fn discard_unpublished(&self) {
        let upload = self.upload_slot().take();
        if let Some(upload) = upload {
            upload.discard().await;
        }
    }

    /// The mirror folder of `url` under `cache` (default: REEFLOW_CACHE_DIR, else
    /// ~/.cache/reeflow/roots): the URL made a folder name, with a short hash against collisions.
    pub fn mirror_dir(url: &str, cache: Option<&Path>) -> PathBuf {
        let cache = cache.map(Path::to_path_buf).unwrap_or_else(default_cache);
        let readable: String = url.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let hash = reeflow_files::sha256_hex(url.as_bytes());
        cache.join(format!("{}-{}", readable.trim_matches('-'), &hash[..12]))
    }

    /// Resolves the bucket's pointer once and copies its version into the mirror; a writer (which
    /// holds the mirror's lock) also makes it the mirror's current version, so the next version
    /// builds on it.
    pub async fn sync(&self, versions: &VersionStore, writer: bool) -> Result<()> {
        let pointer =
            self.root.current().await.with_context(|| format!("reading the current version of {}", self.url))?;
        let read = match pointer {
            None => None,
            Some(pointer) => {
                let dir = versions.versions_dir();
                std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                let copy = self
                    .root
                    .pull(&pointer.version, &dir)
                    .await
                    .with_context(|| format!("copying version {} of {}", pointer.version, self.url))?;
                let version = if writer { versions.point_current_at(&pointer.version)? } else { Version::load(&copy)? };
                Some((pointer, version))
            }
        };
        let _ = self.read.set(read);
        Ok(())
    }

    /// What a reader of an empty bucket is told.
    pub fn nothing_published(&self) -> String {
        format!(
            "nothing is published in {url} yet: `reeflow refresh --data-dir {url}` (or `run`) publishes the first",
            url = self.url
        )
    }

    /// The pointer this command read: what a version it publishes replaces.
    fn base(&self) -> Option<&Pointer> {
        self.read.get().and_then(|read| read.as_ref()).map(|(pointer, _)| pointer)
    }

    /// The files of the version being built that were uploaded for a cluster, if any.
    fn upload_slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<Upload>>> {
        self.upload.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The published version this command read (None: nothing is published in the bucket yet).
    pub fn published(&self) -> Option<&Version> {
        self.read.get().and_then(|read| read.as_ref()).map(|(_, version)| version)
    }

    /// Publishes a sealed local version: the store's self-test, the upload, the pointer swap from
    /// the version this command read; then the mirror switches to it and old versions are pruned
    /// from the bucket. On a lost swap the version stays unpublished everywhere.
    pub async fn publish(&self, versions: &VersionStore, sealed: Sealed) -> Result<Version> {
        let base = self.base();
        self.root.self_test().await.with_context(|| format!("checking that {} can publish safely", self.url))?;
        let id = sealed.version.info.id.clone();
        let uploaded = self.upload_slot().take();
        let pushed = self.root.push(&id, &sealed.version.dir, base, uploaded.as_deref()).await;
        match pushed {
            Ok(manifest) => {
                if !self.quiet {
                    let bytes: u64 = manifest.files.iter().map(|f| f.size).sum();
                    eprintln!(
                        "uploaded version {id} to {} ({} files, {:.1} MB) and made it current there",
                        self.url,
                        manifest.files.len(),
                        bytes as f64 / 1e6
                    );
                }
            }
            Err(error @ PublishError::LostRace { .. }) => bail!("{} (in {})", error, self.url),
            // Two writers that built on the same version in the same second chose the same id:
            // the first to upload a file owns it, the other stops before writing anything.
            Err(PublishError::VersionExists { .. }) => bail!(
                "version {id} was not published: another writer is publishing a version of the same id (built on the \
                 same version in the same second) to {}; nothing of this run was uploaded, run again to build on it",
                self.url
            ),
            Err(error) => {
                return Err(anyhow::Error::new(error).context(format!("publishing version {id} to {}", self.url)));
            }
        }
        let version = versions.switch_to(sealed)?;
        match self.root.prune(self.keep).await {
            Ok(removed) if !removed.is_empty() => {
                tracing::info!(removed = %removed.join(", "), "removed versions outside the keep window from {}", self.url);
            }
            Ok(_) => {}
            Err(error) => eprintln!("warning: could not prune old versions of {}: {error}", self.url),
        }
        Ok(version)
    }

    /// Uploads a rejected version (see [`Root::push_rejected`]) so the team can read it from the
    /// bucket; a failed upload is a warning (the version stays in the mirror), not a second error.
    pub async fn keep_rejected(&self, version: &Version, reason: &str) {
        let (base, uploaded) = (self.base(), self.upload_slot().take());
        let id = &version.info.id;
        match self.root.push_rejected(id, &version.dir, base, uploaded.as_deref(), reason).await {
            Ok(_) if !self.quiet => eprintln!(
                "uploaded rejected version {id} to {url}/versions/{id}/ for inspection (never current; \
                 `reeflow diff --data-dir {url} current {id}`)",
                url = self.url
            ),
            Ok(_) => {}
            Err(error) => {
                eprintln!("warning: could not upload rejected version {id} to {}: {error}", self.url);
                if let Some(upload) = uploaded {
                    upload.discard().await;
                }
            }
        }
    }

    /// A version by name (`current`, `previous`, or an id), copied into the mirror.
    pub async fn version(&self, versions: &VersionStore, name: &str) -> Result<Version> {
        let current = self.published().cloned();
        let id = match name {
            "current" => match current {
                Some(version) => return Ok(version),
                None => bail!(self.nothing_published()),
            },
            "previous" => match current.and_then(|c| c.info.previous) {
                Some(id) => id,
                None => bail!("the current version of {} replaced none", self.url),
            },
            id => id.to_string(),
        };
        let copy = self.root.pull(&id, &versions.versions_dir()).await.with_context(|| {
            format!("version {id} of {} (`reeflow versions --data-dir {}` lists them)", self.url, self.url)
        })?;
        Ok(Version::load(&copy)?)
    }

    /// Copies the bucket's raw cache (`raw/<source>/`) into the local raw folder `raw`: each answer
    /// the local copy lacks or holds an older one of, checked against its sha256, and each
    /// source's manifest merged. Returns how many files were copied.
    pub async fn pull_raw(&self, raw: &Path) -> Result<usize> {
        let mut copied = 0;
        let sources =
            self.root.raw_sources().await.with_context(|| format!("listing the raw cache of {}", self.url))?;
        for source in sources {
            let Some(theirs) = self.raw_index(&source).await? else { continue };
            let mut cache = RawCache::open(raw, &source)?;
            let mut bodies = Vec::new();
            for entry in cache.manifest().newer_in(&theirs.0) {
                let body = self
                    .root
                    .raw_body(&source, &entry.file, &entry.sha256, entry.bytes)
                    .await
                    .with_context(|| format!("copying raw file {source}/{} from {}", entry.file, self.url))?;
                bodies.push((entry.clone(), body.to_vec()));
            }
            copied += bodies.len();
            cache.merge(&theirs.0, bodies)?;
        }
        if copied > 0 && !self.quiet {
            eprintln!("copied {copied} raw files from {}/raw", self.url);
        }
        Ok(copied)
    }

    /// Uploads the answers of the local raw folder `raw` that the bucket's raw cache lacks (each
    /// stored under its hash, never overwritten), then merges each source's manifest into the
    /// bucket's by compare-and-swap (merging again when another writer swapped first). Only
    /// answers whose file is present are uploaded or listed. Returns how many files were uploaded.
    pub async fn push_raw(&self, raw: &Path) -> Result<usize> {
        let mut uploaded = 0;
        let Ok(entries) = std::fs::read_dir(raw) else { return Ok(0) };
        let mut sources: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("manifest.json").is_file())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        sources.sort();
        for source in sources {
            let cache = RawCache::open(raw, &source)?;
            let mut mine = cache.manifest().clone();
            mine.files.retain(|f| cache.has(&f.file));
            let mut stored = std::collections::BTreeSet::new();
            loop {
                let read = self.raw_index(&source).await?;
                let (mut merged, tag) = match read {
                    Some((manifest, tag)) => (manifest, Some(tag)),
                    None => (reeflow_fetch::cache::Manifest { source: source.clone(), ..Default::default() }, None),
                };
                for entry in merged.newer_in(&mine) {
                    if !stored.insert((entry.file.clone(), entry.sha256.clone())) {
                        continue;
                    }
                    let path = cache.folder().join(&entry.file);
                    let body = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                    if reeflow_files::sha256_hex(&body) != entry.sha256 {
                        bail!(
                            "{} is not the file its raw manifest records (sha256 {}): it was changed after it was \
                             fetched; fetch it again with `reeflow fetch --refresh`",
                            path.display(),
                            entry.sha256
                        );
                    }
                    self.root
                        .put_raw_body(&source, &entry.file, body.into())
                        .await
                        .with_context(|| format!("uploading raw file {source}/{} to {}", entry.file, self.url))?;
                    uploaded += 1;
                }
                let before = merged.clone();
                merged.merge(&mine);
                if merged == before {
                    break;
                }
                let bytes = serde_json::to_vec_pretty(&merged)?;
                let swapped = self.root.swap_raw_index(&source, bytes.into(), tag.as_ref()).await?;
                if swapped {
                    break;
                }
            }
        }
        if uploaded > 0 && !self.quiet {
            eprintln!("uploaded {uploaded} raw files to {}/raw", self.url);
        }
        Ok(uploaded)
    }

    /// A source's manifest in the bucket's raw cache, parsed, with its tag.
    async fn raw_index(&self, source: &str) -> Result<Option<(reeflow_fetch::cache::Manifest, IndexTag)>> {
        let Some((bytes, tag)) = self.root.raw_index(source).await? else { return Ok(None) };
        let manifest = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}/raw/{source}/manifest.json is not a reeflow fetch manifest", self.url))?;
        Ok(Some((manifest, tag)))
    }

    /// `reeflow versions` of the bucket: its publish history, newest last, and which versions
    /// still have their files.
    pub async fn list(&self, format: crate::SummaryFormat) -> Result<u8> {
        let history = self.root.history().await?;
        let rejections = self.root.rejections().await?;
        let present = self.root.version_ids().await?;
        let current = self.published().map(|v| v.info.id.clone());
        // Publishes and rejections in the order they were made (ids sort by time).
        let mut rows: Vec<serde_json::Value> = history
            .iter()
            .map(|entry| {
                serde_json::json!({
                    "id": entry.version,
                    "status": "published",
                    "replaced": entry.replaced,
                    "current": current.as_deref() == Some(entry.version.as_str()),
                    "files_kept": present.contains(&entry.version),
                })
            })
            .chain(rejections.iter().map(|entry| {
                serde_json::json!({
                    "id": entry.version,
                    "status": "rejected",
                    "based_on": entry.based_on,
                    "reason": entry.reason,
                    "current": false,
                    "files_kept": present.contains(&entry.version),
                })
            }))
            .collect();
        rows.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        if format == crate::SummaryFormat::Json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
            return Ok(0);
        }
        if rows.is_empty() {
            println!("{}", self.nothing_published());
            return Ok(0);
        }
        println!("{:<2}{:<26} {:<26} files", "", "version", "replaced");
        for row in &rows {
            let marker = if row["current"] == true { "*" } else { "" };
            let kept = if row["files_kept"] == true { "kept" } else { "removed (outside the keep window)" };
            let id = row["id"].as_str().unwrap_or_default();
            if row["status"] == "rejected" {
                let reason = row["reason"].as_str().unwrap_or_default();
                println!("{marker:<2}{id:<26} {:<26} {kept}; REJECTED: {reason}", "(not published)");
            } else {
                println!("{marker:<2}{id:<26} {:<26} {kept}", row["replaced"].as_str().unwrap_or("—"));
            }
        }
        println!("(* current; published in {}, manifest of each: versions/<version>/manifest.json)", self.url);
        Ok(0)
    }
}

fn default_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("REEFLOW_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache/reeflow/roots")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_root_gets_its_own_mirror_folder() {
        let cache = Path::new("/cache");
        let a = Remote::mirror_dir("s3://team/reeflow", Some(cache));
        let b = Remote::mirror_dir("s3://team/reeflow-test", Some(cache));
        assert_ne!(a, b);
        assert!(a.starts_with(cache));
        assert!(a.file_name().unwrap().to_string_lossy().starts_with("s3---team-reeflow-"), "{}", a.display());
        assert_eq!(a, Remote::mirror_dir("s3://team/reeflow", Some(cache)));
    }
}
