//! A version's files uploaded before the version is published: a cluster whose executors read the
//! data root from the store needs a stage's input files there while the version is still being
//! built. They go where the version will be published (`versions/<id>/…`), put-if-absent as at
//! publish, and stay invisible to readers (no manifest yet). [`Root::push`] then uploads only what
//! is not there with the same bytes; a version that is not published is [`Upload::discard`]ed (a
//! killed writer's files are pruned like any unfinished upload).

use std::collections::BTreeMap;
use std::path::{Path as LocalPath, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use object_store::PutMode;

use crate::{ManifestFile, PublishError, Result, Root, sha256};

/// The files of version `version` (built in the local folder `dir`) uploaded so far.
#[derive(Debug)]
pub struct Upload {
    root: Root,
    version: String,
    dir: PathBuf,
    /// By path inside the version, as uploaded.
    files: Mutex<BTreeMap<String, ManifestFile>>,
}

impl Upload {
    pub fn new(root: &Root, version: &str, dir: &LocalPath) -> Self {
        Self { root: root.clone(), version: version.into(), dir: dir.to_path_buf(), files: Mutex::default() }
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Uploads the file or folder `path` (inside the version's folder): each file not uploaded yet
    /// with these bytes (put-if-absent; a file this writer uploaded before with other bytes is
    /// replaced, since nothing reads an unpublished version but this writer's cluster), and removes
    /// files uploaded before under the folder that are no longer in it. Returns where `path` is
    /// relative to the root: `versions/<id>/<path>`, a folder's ending in `/`.
    pub async fn share(&self, path: &LocalPath) -> Result<String> {
        let relative = path.strip_prefix(&self.dir).map_err(|_| PublishError::Local {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("not inside the folder of version {} ({})", self.version, self.dir.display()),
            ),
        })?;
        let relative: Vec<String> =
            relative.components().map(|c| c.as_os_str().to_string_lossy().to_string()).collect();
        let relative = relative.join("/");
        let is_dir =
            std::fs::metadata(path).map_err(|source| PublishError::Local { path: path.into(), source })?.is_dir();
        let mut names = Vec::new();
        if is_dir {
            crate::mirror::list_files(path, "", &mut names)?;
            names = names.into_iter().map(|name| format!("{relative}/{name}")).collect();
        } else {
            names.push(relative.clone());
        }
        names.sort();
        for name in &names {
            let local = crate::mirror::local_path(&self.dir, name);
            let bytes = std::fs::read(&local).map_err(|source| PublishError::Local { path: local.clone(), source })?;
            self.put(name, Bytes::from(bytes)).await?;
        }
        if is_dir {
            let inside = format!("{relative}/");
            let gone: Vec<String> = self
                .files()
                .into_keys()
                .filter(|name| name.starts_with(&inside) && names.binary_search(name).is_err())
                .collect();
            for name in gone {
                self.root.delete(&self.path(&name)).await?;
                self.lock().remove(&name);
            }
        }
        let place = format!("versions/{}/{relative}", self.version);
        Ok(if is_dir { format!("{place}/") } else { place })
    }

    fn path(&self, name: &str) -> object_store::path::Path {
        self.root.path(&format!("versions/{}/{name}", self.version))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ManifestFile>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The files uploaded so far, by path inside the version.
    pub fn files(&self) -> BTreeMap<String, ManifestFile> {
        self.lock().clone()
    }

    async fn put(&self, name: &str, bytes: Bytes) -> Result<()> {
        let file = ManifestFile { path: name.into(), size: bytes.len() as u64, sha256: sha256(&bytes) };
        let mode = match self.lock().get(name) {
            Some(uploaded) if *uploaded == file => return Ok(()),
            Some(_) => PutMode::Overwrite,
            None => PutMode::Create,
        };
        let path = self.path(name);
        self.root.put(&path, bytes, mode).await.map_err(|error| match error {
            object_store::Error::AlreadyExists { .. } => {
                PublishError::VersionExists { version: self.version.clone(), store: self.root.store.to_string() }
            }
            source => self.root.store_error("upload", &path, source),
        })?;
        self.lock().insert(name.into(), file);
        Ok(())
    }

    /// Removes every file uploaded (best effort): the version will not be published.
    pub async fn discard(&self) {
        let names: Vec<String> = std::mem::take(&mut *self.lock()).into_keys().collect();
        let paths: Vec<_> = names.iter().map(|name| self.path(name)).collect();
        self.root.remove(&paths).await;
    }
}
