//! The raw cache: `data/raw/<source>/<file>`, one file per request, each written to a temporary
//! name and renamed, and a `manifest.json` per source recording for every file its URL (never a
//! secret), parameters, retrieval time, HTTP status, bytes, sha256 and rows. A file counts as
//! cached only when it is present *and* listed, so a run killed between the two refetches it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub source: String,
    pub files: Vec<CachedFile>,
}

/// The cache folder of one source.
pub struct RawCache {
    folder: PathBuf,
    manifest: Manifest,
}

impl RawCache {
    /// Opens `<raw>/<source>/`, reading its manifest if there is one.
    pub fn open(raw: &Path, source: &str) -> Result<Self> {
        let folder = raw.join(source);
        std::fs::create_dir_all(&folder).map_err(|e| cache_error(&folder, e))?;
        let path = folder.join("manifest.json");
        let manifest = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| FetchError::Cache {
                path: path.clone(),
                message: format!("not a reeflow fetch manifest: {e}"),
            })?,
            Err(_) => Manifest { source: source.to_string(), files: Vec::new() },
        };
        Ok(Self { folder, manifest })
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Whether `file` was fetched before (listed and present).
    pub fn has(&self, file: &str) -> bool {
        self.manifest.files.iter().any(|f| f.file == file) && self.folder.join(file).is_file()
    }

    /// Stores a validated body and records it in the manifest, both atomically.
    pub fn store(&mut self, mut entry: CachedFile, body: &[u8]) -> Result<()> {
        let path = self.folder.join(&entry.file);
        write_atomically(&path, body)?;
        entry.bytes = body.len() as u64;
        entry.sha256 = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
        self.manifest.files.retain(|f| f.file != entry.file);
        self.manifest.files.push(entry);
        self.manifest.files.sort_by(|a, b| a.file.cmp(&b.file));
        let text = serde_json::to_string_pretty(&self.manifest).expect("manifest serializes");
        write_atomically(&self.folder.join("manifest.json"), text.as_bytes())
    }
}

fn cache_error(path: &Path, error: std::io::Error) -> FetchError {
    FetchError::Cache { path: path.to_path_buf(), message: error.to_string() }
}

/// Writes `<path>.<pid>.part`, syncs it, renames it over `path`. Normalize never reads `.part`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let temporary = path.with_extension(format!("{}.part", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(|e| cache_error(path, e))
}
