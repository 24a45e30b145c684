//! Publishing a version to an object store (S3, GCS, Azure Blob, memory) where there is no rename:
//! the building block of remote data roots. It owns the layout of a published root and the order
//! of writes that keeps it consistent for any reader at any moment:
//!
//! - `versions/<id>/.claim`: written first with put-if-absent: the writer that creates it owns
//!   the prefix (another writer that chose the same id stops before writing anything);
//! - `versions/<id>/<file>`: a version's files, never changed once its manifest is written (small
//!   ones put-if-absent, large ones in parts with bounded memory, see `transfer`);
//! - `versions/<id>/manifest.json`: the list of those files with size and sha256, written **last**
//!   (put-if-absent), so a version without a manifest is an unfinished upload, never read;
//! - `current`: a small pointer object naming the published version, replaced only by
//!   compare-and-swap on the version it replaces (its ETag): of two writers that read the same
//!   pointer, exactly one publishes; the other gets [`PublishError::LostRace`], its uploaded files
//!   are removed and the pointer is left as the winner wrote it;
//! - `history/<id>.json`: one entry per publish (put-if-absent) naming the version it replaced;
//! - `rejected/<id>.json`: a version uploaded with its manifest but never made current (its checks
//!   or diff thresholds failed), and why ([`Root::push_rejected`]);
//! - `raw/<source>/…`: the raw cache of `fetch` (see `raw`).
//!
//! Readers resolve `current` once and read that version's manifest, so they stay on one version
//! while a writer publishes the next. Before relying on a store, [`Root::self_test`] writes one
//! probe object twice and updates it with a stale tag: a store that accepts either would overwrite
//! the pointer silently, and is refused with [`PublishError::ConditionsIgnored`].

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

pub mod location;
mod mirror;
mod raw;
mod transfer;
mod upload;

pub use location::{Cloud, Location, LocationError, RemoteRoot};
pub use mirror::{HistoryEntry, LOCAL_MANIFEST, Rejection};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
pub use raw::IndexTag;
pub use transfer::{CLAIM, Content, DEFAULT_PART_SIZE, Transferred};
pub use upload::Upload;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{operation} {path} on {store}: {source}")]
    Store {
        operation: &'static str,
        path: String,
        store: String,
        #[source]
        source: Box<object_store::Error>,
    },
    #[error(
        "version {version} was not published: another writer published {current} first (the pointer changed after this run read it); its files were removed, run again to build on {current}"
    )]
    LostRace { version: String, current: String },
    #[error("version {version} already exists in {store}: versions are immutable, choose a new id")]
    VersionExists { version: String, store: String },
    #[error(
        "{store} ignores conditional writes ({detail}): publishing there could overwrite the current pointer silently, so reeflow refuses it"
    )]
    ConditionsIgnored { store: String, detail: String },
    #[error("{path} in {store} is not a valid {what}: {message}")]
    Invalid { path: String, store: String, what: &'static str, message: String },
    #[error(
        "{path} in {store} does not match its manifest (expected {expected_size} bytes with sha256 {expected_sha256}, got {actual_size} bytes with sha256 {actual_sha256}): the download was truncated or the object was changed"
    )]
    Corrupt {
        path: String,
        store: String,
        expected_size: u64,
        expected_sha256: String,
        actual_size: u64,
        actual_sha256: String,
    },
    #[error("{path}: {source}", path = path.display())]
    Local {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] reeflow_files::WriteError),
}

pub type Result<T> = std::result::Result<T, PublishError>;

/// One file of a published version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManifestFile {
    /// Path under the version's prefix, `/`-separated (e.g. `out/stage_balance/part-0.parquet`).
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// What a version holds; written last, so its presence means the upload is complete.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub version: String,
    /// The version that was current when this one was built on it.
    pub parent: Option<String>,
    pub files: Vec<ManifestFile>,
}

/// The `current` pointer as read, with the tags a compare-and-swap needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    pub version: String,
    e_tag: Option<String>,
    object_version: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PointerBody {
    version: String,
    manifest: String,
}

/// A published root: a store and the prefix under which versions live.
#[derive(Debug, Clone)]
pub struct Root {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// Files of this size or more are uploaded in parts of this size.
    part_size: usize,
}

impl Root {
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        Self { store, prefix: Path::from(prefix), part_size: DEFAULT_PART_SIZE }
    }

    /// The prefix inside the store (`""` for the bucket's top).
    pub fn prefix(&self) -> &str {
        self.prefix.as_ref()
    }

    fn path(&self, relative: &str) -> Path {
        relative.split('/').fold(self.prefix.clone(), |path, part| path.join(part))
    }

    fn store_error(&self, operation: &'static str, path: &Path, source: object_store::Error) -> PublishError {
        PublishError::Store {
            operation,
            path: path.to_string(),
            store: self.store.to_string(),
            source: Box::new(source),
        }
    }

    async fn put(&self, path: &Path, bytes: Bytes, mode: PutMode) -> std::result::Result<(), object_store::Error> {
        let options = PutOptions { mode, ..PutOptions::default() };
        self.store.put_opts(path, PutPayload::from_bytes(bytes), options).await.map(|_| ())
    }

    /// Refuses a store that does not honour put-if-absent and compare-and-swap.
    pub async fn self_test(&self) -> Result<()> {
        let probe = self.path("_selftest/probe");
        let refused =
            |detail: &str| PublishError::ConditionsIgnored { store: self.store.to_string(), detail: detail.into() };
        match self.put(&probe, Bytes::from_static(b"1"), PutMode::Overwrite).await {
            Ok(()) => {}
            Err(source) => return Err(self.store_error("write probe", &probe, source)),
        }
        match self.put(&probe, Bytes::from_static(b"2"), PutMode::Create).await {
            Err(object_store::Error::AlreadyExists { .. }) => {}
            Ok(()) => return Err(refused("a put-if-absent over an existing object succeeded")),
            Err(source) => return Err(self.store_error("put-if-absent probe", &probe, source)),
        }
        let stale = UpdateVersion { e_tag: Some("\"reeflow-stale-tag\"".into()), version: None };
        match self.put(&probe, Bytes::from_static(b"3"), PutMode::Update(stale)).await {
            Err(object_store::Error::Precondition { .. }) => {}
            Ok(()) => return Err(refused("an update with a stale tag succeeded")),
            Err(source) => return Err(self.store_error("compare-and-swap probe", &probe, source)),
        }
        self.store.delete(&probe).await.map_err(|source| self.store_error("delete probe", &probe, source))
    }

    /// The published version, or None before the first publish.
    pub async fn current(&self) -> Result<Option<Pointer>> {
        let path = self.path("current");
        let result = match self.store.get(&path).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(source) => return Err(self.store_error("read", &path, source)),
        };
        let (e_tag, object_version) = (result.meta.e_tag.clone(), result.meta.version.clone());
        let bytes = result.bytes().await.map_err(|source| self.store_error("read", &path, source))?;
        let body: PointerBody = serde_json::from_slice(&bytes).map_err(|e| PublishError::Invalid {
            path: path.to_string(),
            store: self.store.to_string(),
            what: "pointer",
            message: e.to_string(),
        })?;
        Ok(Some(Pointer { version: body.version, e_tag, object_version }))
    }

    /// The manifest of a version (an error when the version is absent or unfinished).
    pub async fn manifest(&self, version: &str) -> Result<Manifest> {
        let path = self.path(&format!("versions/{version}/manifest.json"));
        let result = self.store.get(&path).await.map_err(|source| self.store_error("read", &path, source))?;
        let bytes = result.bytes().await.map_err(|source| self.store_error("read", &path, source))?;
        serde_json::from_slice(&bytes).map_err(|e| PublishError::Invalid {
            path: path.to_string(),
            store: self.store.to_string(),
            what: "manifest",
            message: e.to_string(),
        })
    }

    /// One file of a version, as listed in its manifest.
    pub async fn read(&self, version: &str, file: &str) -> Result<Bytes> {
        let path = self.path(&format!("versions/{version}/{file}"));
        let result = self.store.get(&path).await.map_err(|source| self.store_error("read", &path, source))?;
        result.bytes().await.map_err(|source| self.store_error("read", &path, source))
    }

    /// Uploads `files` as version `version`, its manifest last, then swaps `current` from `base`
    /// (the pointer this version was built on; None for the first publish) to it, and records the
    /// publish in `history/`. A lost swap removes the upload and reports [`PublishError::LostRace`].
    pub async fn publish(
        &self,
        version: &str,
        files: Vec<(String, Bytes)>,
        base: Option<&Pointer>,
    ) -> Result<Manifest> {
        let (names, mut contents): (Vec<String>, Vec<Bytes>) = files.into_iter().unzip();
        contents.reverse();
        let load = |_: &str| Ok(Content::Bytes(contents.pop().expect("one content per name")));
        self.publish_with(version, names, load, base).await
    }

    /// [`Root::publish`] with each file's content given only when it is uploaded (`load` gets the
    /// file's name): a local file is read as it is sent (in parts when it is large), so a version
    /// larger than memory is published file by file.
    pub async fn publish_with(
        &self,
        version: &str,
        names: Vec<String>,
        load: impl FnMut(&str) -> Result<Content>,
        base: Option<&Pointer>,
    ) -> Result<Manifest> {
        let (manifest, written) = self.upload_version(version, names, load, base, None).await?;
        self.make_current(&manifest, written, base).await?;
        Ok(manifest)
    }

    /// Swaps `current` from `base` (None: there is none yet) to the uploaded version `manifest`
    /// and records the publish in `history/`. A lost swap removes `written` (the version's upload)
    /// and reports [`PublishError::LostRace`].
    async fn make_current(&self, manifest: &Manifest, written: Vec<Path>, base: Option<&Pointer>) -> Result<()> {
        let version = manifest.version.as_str();
        let pointer_path = self.path("current");
        let body = PointerBody { version: version.into(), manifest: format!("versions/{version}/manifest.json") };
        let pointer_bytes = Bytes::from(serde_json::to_vec(&body).expect("a pointer serialises"));
        let mode = match base {
            None => PutMode::Create,
            Some(pointer) => {
                PutMode::Update(UpdateVersion { e_tag: pointer.e_tag.clone(), version: pointer.object_version.clone() })
            }
        };
        match self.put(&pointer_path, pointer_bytes, mode).await {
            Ok(()) => {}
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {
                self.remove(&written).await;
                let current = self.current().await?.map(|p| p.version).unwrap_or_else(|| "nothing".into());
                return Err(PublishError::LostRace { version: version.into(), current });
            }
            Err(source) => {
                self.remove(&written).await;
                return Err(self.store_error("swap the current pointer", &pointer_path, source));
            }
        }
        let history_path = self.path(&format!("history/{version}.json"));
        let entry = serde_json::json!({ "version": version, "replaced": manifest.parent });
        self.put(&history_path, Bytes::from(entry.to_string()), PutMode::Create)
            .await
            .map_err(|source| self.store_error("record history", &history_path, source))
    }

    /// Uploads a complete version (claim, files, manifest last) without making it current.
    /// Returns its manifest and every object written (for removal when it is not published). The
    /// version's prefix is claimed first, unless this writer claimed it when it uploaded the files
    /// in `uploaded` (see [`Upload`]): of those, one with the same bytes is listed without
    /// uploading it again, one with other bytes is replaced, one no longer among `names` is
    /// removed.
    async fn upload_version(
        &self,
        version: &str,
        names: Vec<String>,
        mut load: impl FnMut(&str) -> Result<Content>,
        base: Option<&Pointer>,
        uploaded: Option<BTreeMap<String, ManifestFile>>,
    ) -> Result<(Manifest, Vec<Path>)> {
        let mut listed = Vec::with_capacity(names.len());
        let mut written = Vec::with_capacity(names.len() + 2);
        let mut uploaded = match uploaded {
            Some(files) => files,
            None => {
                written.push(self.claim(version).await?);
                BTreeMap::new()
            }
        };
        // Files the version it replaces holds with the same bytes are copied inside the store
        // rather than uploaded again (an unchanged input table, say).
        let previous: BTreeMap<String, ManifestFile> = match base {
            Some(pointer) => self.manifest(&pointer.version).await.map(|m| m.files).unwrap_or_default(),
            None => Vec::new(),
        }
        .into_iter()
        .map(|file| (file.path.clone(), file))
        .collect();
        let previous = base.map(|pointer| (pointer.version.as_str(), &previous));
        let listing: std::collections::BTreeSet<&String> = names.iter().collect();
        let leftover: Vec<Path> = uploaded
            .keys()
            .filter(|name| !listing.contains(name))
            .map(|name| self.path(&format!("versions/{version}/{name}")))
            .collect();
        self.remove(&leftover).await;
        for name in names {
            let path = self.path(&format!("versions/{version}/{name}"));
            let sent = match load(&name) {
                Ok(content) => {
                    let reusable = previous.and_then(|(id, files)| Some((id, files.get(&name)?)));
                    self.upload_unless_there(version, &name, content, uploaded.remove(&name), reusable).await
                }
                Err(error) => Err(error),
            };
            let sent = match sent {
                Ok(sent) => sent,
                Err(error) => {
                    self.remove(&written).await;
                    return Err(error);
                }
            };
            listed.push(ManifestFile { path: name, size: sent.size, sha256: sent.sha256 });
            written.push(path);
            // A crash test stops the process here (`REEFLOW_FAILPOINT=remote:upload:<n>`).
            reeflow_files::failpoint::reached("remote:upload");
        }
        let manifest = Manifest { version: version.into(), parent: base.map(|p| p.version.clone()), files: listed };
        let manifest_path = self.path(&format!("versions/{version}/manifest.json"));
        let manifest_bytes = Bytes::from(serde_json::to_vec_pretty(&manifest).expect("a manifest serialises"));
        if let Err(source) = self.put(&manifest_path, manifest_bytes, PutMode::Create).await {
            self.remove(&written).await;
            return Err(self.store_error("write manifest", &manifest_path, source));
        }
        written.push(manifest_path);
        Ok((manifest, written))
    }

    /// Uploads `content` as file `name` of `version`, unless `before` (this writer's earlier upload
    /// of it) has the same bytes, or `previous` (the file of that name in another version) does:
    /// then it is copied inside the store. An earlier upload with other bytes is replaced.
    async fn upload_unless_there(
        &self,
        version: &str,
        name: &str,
        content: Content,
        before: Option<ManifestFile>,
        previous: Option<(&str, &ManifestFile)>,
    ) -> Result<Transferred> {
        if before.is_none() && previous.is_none() {
            return self.upload(version, name, content, PutMode::Create).await;
        }
        let digest = match &content {
            Content::Bytes(bytes) => Transferred::of(bytes),
            Content::File(path) => transfer::file_digest(path)?,
        };
        let same = |file: &ManifestFile| digest.size == file.size && digest.sha256 == file.sha256;
        if before.as_ref().is_some_and(same) {
            return Ok(digest);
        }
        let to = self.path(&format!("versions/{version}/{name}"));
        if let Some((id, file)) = previous.filter(|(_, file)| same(file)) {
            let from = self.path(&format!("versions/{id}/{name}"));
            // The prefix is this writer's (claimed), so a plain copy is safe; one that fails
            // (the old version pruned meanwhile, a store's copy size limit) falls back to upload.
            if self.store.copy(&from, &to).await.is_ok() {
                return Ok(Transferred { size: file.size, sha256: file.sha256.clone() });
            }
        }
        let mode = if before.is_some() { PutMode::Overwrite } else { PutMode::Create };
        self.upload(version, name, content, mode).await
    }

    /// Best-effort removal of an upload that will not be published.
    async fn remove(&self, paths: &[Path]) {
        for path in paths {
            let _ = self.store.delete(path).await;
        }
    }
}
