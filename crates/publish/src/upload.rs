//! A version's files uploaded before the version is published: a cluster whose executors read the
//! data root from the store needs a stage's input files there while the version is still being
//! built. They go where the version will be published (`versions/<id>/…`), in a prefix this
//! writer claims with put-if-absent before its first upload (as a publish does), and stay
//! invisible to readers (no manifest yet). [`Root::push`] then uploads only what is not there
//! with the same bytes; a version that is not published is [`Upload::discard`]ed (a killed
//! writer's files are pruned like any unfinished upload).

use std::collections::BTreeMap;
use std::path::{Path as LocalPath, PathBuf};
use std::sync::Mutex;

use crate::{CLAIM, Content, ManifestFile, PublishError, Result, Root};

/// The files of version `version` (built in the local folder `dir`) uploaded so far.
#[derive(Debug)]
pub struct Upload {
    root: Root,
    version: String,
    dir: PathBuf,
    /// Whether this writer claimed the version's prefix (on its first upload).
    claimed: futures::lock::Mutex<bool>,
    /// By path inside the version, as uploaded.
    files: Mutex<BTreeMap<String, ManifestFile>>,
}

impl Upload {
    pub fn new(root: &Root, version: &str, dir: &LocalPath) -> Self {
        Self {
            root: root.clone(),
            version: version.into(),
            dir: dir.to_path_buf(),
            claimed: futures::lock::Mutex::new(false),
            files: Mutex::default(),
        }
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Uploads the file or folder `path` (inside the version's folder): each file not uploaded yet
    /// with these bytes (the prefix claimed first; a file this writer uploaded before with other bytes is
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
        self.claim().await?;
        for name in &names {
            let local = crate::mirror::local_path(&self.dir, name);
            let before = self.lock().get(name).cloned();
            let sent = self.root.upload_unless_there(&self.version, name, Content::File(local), before, None).await?;
            let file = ManifestFile { path: name.clone(), size: sent.size, sha256: sent.sha256 };
            self.lock().insert(name.clone(), file);
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

    /// The files uploaded so far (the claim among them), by path inside the version.
    fn files(&self) -> BTreeMap<String, ManifestFile> {
        self.lock().clone()
    }

    /// Claims the version's prefix once, before the first upload.
    async fn claim(&self) -> Result<()> {
        let mut claimed = self.claimed.lock().await;
        if !*claimed {
            let path = self.root.claim(&self.version).await?;
            self.lock().insert(CLAIM.into(), ManifestFile { path: path.to_string(), size: 0, sha256: String::new() });
            *claimed = true;
        }
        Ok(())
    }

    /// The files uploaded, when this writer claimed the version (None: it uploaded nothing, and
    /// the publish claims the version itself).
    pub fn claimed_files(&self) -> Option<BTreeMap<String, ManifestFile>> {
        let mut files = self.files();
        files.remove(CLAIM).map(|_| files)
    }

    /// Removes every file uploaded and the claim (best effort): the version will not be published.
    pub async fn discard(&self) {
        let names: Vec<String> = std::mem::take(&mut *self.lock()).into_keys().collect();
        let paths: Vec<_> = names.iter().map(|name| self.path(name)).collect();
        self.root.remove(&paths).await;
    }
}
