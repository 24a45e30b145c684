//! Between a remote root and a local folder of versions: a published version is copied down into
//! `<versions>/<id>/` (every file checked against the manifest's size and sha256, written into a
//! hidden folder and renamed into place, so a half copy is never seen), a locally built version is
//! published from its folder, the publish history is read back, and versions no pointer or recent
//! history entry names are removed.
//!
//! A local copy carries the manifest it was checked against as [`LOCAL_MANIFEST`]; a version is
//! immutable, so a copy with the same manifest is complete and is never downloaded again.

use std::collections::BTreeSet;
use std::path::{Path as LocalPath, PathBuf};
use std::time::Duration;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode};

use crate::{Content, Manifest, Pointer, PublishError, Result, Root, Transferred};

/// The manifest a local copy of a version was checked against (not part of the version).
pub const LOCAL_MANIFEST: &str = ".remote-manifest.json";
const PULL_PREFIX: &str = ".pull-";
/// An upload without a manifest younger than this may still be going on: pruning leaves it.
const UNFINISHED_GRACE: Duration = Duration::from_secs(3600);

/// A version that was uploaded but not published, as `rejected/<id>.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rejection {
    pub version: String,
    /// The version that was current when it was built.
    pub based_on: Option<String>,
    /// Why it was not published.
    pub reason: String,
}

/// One publish, as `history/<id>.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    pub version: String,
    /// The version it replaced as current.
    pub replaced: Option<String>,
}

fn local_error(path: &LocalPath) -> impl Fn(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Local { path: path.to_path_buf(), source }
}

impl Root {
    /// Makes `<versions_dir>/<id>/` a checked copy of published version `id`, downloading it
    /// unless a copy with the same manifest is already there. Returns the folder.
    pub async fn pull(&self, id: &str, versions_dir: &LocalPath) -> Result<PathBuf> {
        let manifest = self.manifest(id).await?;
        let target = versions_dir.join(id);
        if local_manifest(&target).as_ref() == Some(&manifest) {
            return Ok(target);
        }
        let partial = versions_dir.join(format!("{PULL_PREFIX}{id}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(local_error(&partial))?;
        let result = self.download(&manifest, &partial, versions_dir).await;
        if let Err(error) = result {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(error);
        }
        // Another reader may have finished the same copy first: then its copy is used.
        if local_manifest(&target).as_ref() == Some(&manifest) {
            let _ = std::fs::remove_dir_all(&partial);
            return Ok(target);
        }
        if target.exists() {
            // A local folder of that name that is not this version's copy (a build that lost
            // its publish, say): the published bytes replace it.
            let aside = versions_dir.join(format!("{PULL_PREFIX}replaced-{id}-{}", std::process::id()));
            std::fs::rename(&target, &aside).map_err(local_error(&target))?;
            let _ = std::fs::remove_dir_all(&aside);
        }
        reeflow_files::rename_durably(&partial, &target)?;
        Ok(target)
    }

    /// Copies `manifest`'s files into `into`: a file another local copy in `versions_dir` holds
    /// with the same size and sha256 (an unchanged table) is linked from there once its bytes are
    /// checked again; the others are downloaded.
    async fn download(&self, manifest: &Manifest, into: &LocalPath, versions_dir: &LocalPath) -> Result<()> {
        let local = local_copies(versions_dir);
        for file in &manifest.files {
            let path = local_path(into, &file.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(local_error(parent))?;
            }
            let expected = Transferred { size: file.size, sha256: file.sha256.clone() };
            let reused = local.get(&(file.path.clone(), file.sha256.clone())).is_some_and(|copy| {
                crate::transfer::file_digest(copy).is_ok_and(|digest| digest == expected)
                    && (std::fs::hard_link(copy, &path).is_ok() || std::fs::copy(copy, &path).is_ok())
            });
            if !reused {
                let remote = self.path(&format!("versions/{}/{}", manifest.version, file.path));
                self.download_to(&remote, &path, &expected).await?;
            }
        }
        record_manifest(into, manifest)
    }

    /// Publishes the local folder `dir` (every file under it, links followed) as version `id`
    /// built on `base`; see [`Root::publish`]. Files `uploaded` before (by this writer, for a
    /// cluster) are not uploaded again when their bytes are the same. The folder then records the
    /// manifest, so pulling the version again downloads nothing.
    pub async fn push(
        &self,
        id: &str,
        dir: &LocalPath,
        base: Option<&Pointer>,
        uploaded: Option<&crate::Upload>,
    ) -> Result<Manifest> {
        let (manifest, written) = self.upload_local(id, dir, base, uploaded).await?;
        self.make_current(&manifest, written, base).await?;
        record_manifest(dir, &manifest)?;
        Ok(manifest)
    }

    /// Uploads the local folder `dir` of a version that was not published (its checks failed or
    /// its diff breached a threshold) as version `id` with its manifest, without making it
    /// current, and records why in `rejected/<id>.json`: anyone can then read it (`reeflow diff`,
    /// `versions`) from the bucket. The newest rejected version is kept by pruning.
    pub async fn push_rejected(
        &self,
        id: &str,
        dir: &LocalPath,
        base: Option<&Pointer>,
        uploaded: Option<&crate::Upload>,
        reason: &str,
    ) -> Result<Manifest> {
        let (manifest, _) = self.upload_local(id, dir, base, uploaded).await?;
        record_manifest(dir, &manifest)?;
        let path = self.path(&format!("rejected/{id}.json"));
        let entry = Rejection { version: id.into(), based_on: manifest.parent.clone(), reason: reason.into() };
        let bytes = bytes::Bytes::from(serde_json::to_vec_pretty(&entry).expect("an entry serialises"));
        self.put(&path, bytes, PutMode::Create).await.map_err(|source| self.store_error("record", &path, source))?;
        Ok(manifest)
    }

    /// Uploads the local folder `dir` as version `id` (every file under it but the local manifest,
    /// read from disk as it is sent) without making it current; files this writer `uploaded`
    /// before for a cluster are reused. See [`Root::upload_version`].
    async fn upload_local(
        &self,
        id: &str,
        dir: &LocalPath,
        base: Option<&Pointer>,
        uploaded: Option<&crate::Upload>,
    ) -> Result<(Manifest, Vec<Path>)> {
        let mut names = Vec::new();
        list_files(dir, "", &mut names)?;
        names.retain(|name| name != LOCAL_MANIFEST);
        names.sort();
        let load = |name: &str| Ok(Content::File(local_path(dir, name)));
        let uploaded = uploaded.filter(|upload| upload.version() == id).and_then(crate::Upload::claimed_files);
        self.upload_version(id, names, load, base, uploaded).await
    }

    /// Every rejected version recorded in `rejected/`, oldest first.
    pub async fn rejections(&self) -> Result<Vec<Rejection>> {
        let mut entries: Vec<Rejection> = self.read_entries("rejected", "rejection record").await?;
        entries.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(entries)
    }

    /// Every publish recorded in `history/`, oldest first (ids sort in the order they were made).
    pub async fn history(&self) -> Result<Vec<HistoryEntry>> {
        let mut entries: Vec<HistoryEntry> = self.read_entries("history", "history entry").await?;
        entries.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(entries)
    }

    /// The JSON records under `folder` (history entries, rejection records).
    async fn read_entries<T: serde::de::DeserializeOwned>(&self, folder: &str, what: &'static str) -> Result<Vec<T>> {
        let prefix = self.path(folder);
        let objects: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|source| self.store_error("list", &prefix, source))?;
        let mut entries = Vec::with_capacity(objects.len());
        for object in objects {
            let bytes = self
                .store
                .get(&object.location)
                .await
                .map_err(|source| self.store_error("read", &object.location, source))?
                .bytes()
                .await
                .map_err(|source| self.store_error("read", &object.location, source))?;
            let entry = serde_json::from_slice(&bytes).map_err(|e| PublishError::Invalid {
                path: object.location.to_string(),
                store: self.store.to_string(),
                what,
                message: e.to_string(),
            })?;
            entries.push(entry);
        }
        Ok(entries)
    }

    /// The version folders under `versions/`, by id.
    pub async fn version_ids(&self) -> Result<Vec<String>> {
        self.folders_in("versions").await
    }

    /// The names of the folders directly under `folder` of the root, sorted.
    pub(crate) async fn folders_in(&self, folder: &str) -> Result<Vec<String>> {
        let prefix = self.path(folder);
        let listing = self
            .store
            .list_with_delimiter(Some(&prefix))
            .await
            .map_err(|source| self.store_error("list", &prefix, source))?;
        let mut names: Vec<String> =
            listing.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_string)).collect();
        names.sort();
        Ok(names)
    }

    /// Removes the versions that neither the current pointer nor the newest `keep` history
    /// entries name (as published or as replaced), manifest first so a reader sees them as gone,
    /// and uploads without a manifest older than an hour (a killed writer's). Returns the ids
    /// removed. History entries stay: they are the record of what was published.
    pub async fn prune(&self, keep: usize) -> Result<Vec<String>> {
        let history = self.history().await?;
        let mut named: BTreeSet<String> = BTreeSet::new();
        if let Some(current) = self.current().await? {
            named.insert(current.version);
        }
        for entry in history.iter().rev().take(keep.max(1)) {
            named.insert(entry.version.clone());
            named.extend(entry.replaced.clone());
        }
        // The newest rejected version stays for inspection, as in a local data folder.
        named.extend(self.rejections().await?.pop().map(|r| r.version));
        let mut removed = Vec::new();
        for id in self.version_ids().await? {
            if named.contains(&id) {
                continue;
            }
            let prefix = self.path(&format!("versions/{id}"));
            let mut objects: Vec<_> = self
                .store
                .list(Some(&prefix))
                .try_collect()
                .await
                .map_err(|source| self.store_error("list", &prefix, source))?;
            let manifest = self.path(&format!("versions/{id}/manifest.json"));
            let finished = objects.iter().any(|o| o.location == manifest);
            let newest = objects.iter().map(|o| o.last_modified.timestamp()).max();
            let stale = newest.is_some_and(|t| unix_now().saturating_sub(t) > UNFINISHED_GRACE.as_secs() as i64);
            if !finished && !stale {
                continue;
            }
            objects.sort_by_key(|o| o.location != manifest);
            for object in objects {
                self.delete(&object.location).await?;
            }
            removed.push(id);
        }
        Ok(removed)
    }

    pub(crate) async fn delete(&self, path: &Path) -> Result<()> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(self.store_error("delete", path, source)),
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A manifest path (`/`-separated) inside the local folder `dir`.
pub(crate) fn local_path(dir: &LocalPath, relative: &str) -> PathBuf {
    relative.split('/').fold(dir.to_path_buf(), |path, part| path.join(part))
}

/// Records in `dir` the manifest its files match ([`LOCAL_MANIFEST`]).
fn record_manifest(dir: &LocalPath, manifest: &Manifest) -> Result<()> {
    let json = serde_json::to_vec_pretty(manifest).expect("a manifest serialises");
    Ok(reeflow_files::write_bytes_atomically(&dir.join(LOCAL_MANIFEST), &json)?)
}

/// The files of the checked local copies in `versions_dir`, by (path in the version, sha256).
fn local_copies(versions_dir: &LocalPath) -> std::collections::BTreeMap<(String, String), PathBuf> {
    let mut files = std::collections::BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(versions_dir) else { return files };
    for entry in entries.filter_map(|e| e.ok()) {
        let dir = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for file in local_manifest(&dir).map(|m| m.files).unwrap_or_default() {
            let path = local_path(&dir, &file.path);
            files.entry((file.path, file.sha256)).or_insert(path);
        }
    }
    files
}

/// The manifest a local copy was checked against, when it has one.
fn local_manifest(dir: &LocalPath) -> Option<Manifest> {
    let bytes = std::fs::read(dir.join(LOCAL_MANIFEST)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Every file under `dir`, `/`-separated and relative to it, following links.
pub(crate) fn list_files(dir: &LocalPath, relative: &str, names: &mut Vec<String>) -> Result<()> {
    let here = if relative.is_empty() { dir.to_path_buf() } else { dir.join(relative) };
    for entry in std::fs::read_dir(&here).map_err(local_error(&here))? {
        let entry = entry.map_err(local_error(&here))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        let child = if relative.is_empty() { name } else { format!("{relative}/{name}") };
        let metadata = std::fs::metadata(&path).map_err(local_error(&path))?;
        if metadata.is_dir() {
            list_files(dir, &child, names)?;
        } else {
            names.push(child);
        }
    }
    Ok(())
}
