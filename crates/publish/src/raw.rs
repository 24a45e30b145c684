//! The raw cache kept in a root beside its versions, so a writer on a fresh machine (a CI runner)
//! starts from every answer fetched before and an audit can read each one back:
//!
//! - `raw/<source>/<sha256>/<file>`: a fetched body, stored under its content hash, so an object
//!   never changes once written (put-if-absent) and a refetched file is a new object;
//! - `raw/<source>/manifest.json`: the source's index (its fetch manifest), replaced only by
//!   compare-and-swap on the index it was merged with, so two writers never lose each other's
//!   entries.
//!
//! This module moves bytes; what an index says is the fetch crate's business.

use bytes::Bytes;
use object_store::{ObjectStoreExt, PutMode, UpdateVersion};

use crate::{PublishError, Result, Root};

/// The tag of an index as read: what a compare-and-swap of it names.
#[derive(Debug, Clone)]
pub struct IndexTag(UpdateVersion);

impl Root {
    /// The sources with a raw cache in the root (`raw/<source>/`), by name.
    pub async fn raw_sources(&self) -> Result<Vec<String>> {
        self.folders_in("raw").await
    }

    /// A source's index and its tag, or None when the source has none yet.
    pub async fn raw_index(&self, source: &str) -> Result<Option<(Bytes, IndexTag)>> {
        let path = self.path(&format!("raw/{source}/manifest.json"));
        let result = match self.store.get(&path).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(self.store_error("read", &path, error)),
        };
        let tag = UpdateVersion { e_tag: result.meta.e_tag.clone(), version: result.meta.version.clone() };
        let bytes = result.bytes().await.map_err(|error| self.store_error("read", &path, error))?;
        Ok(Some((bytes, IndexTag(tag))))
    }

    /// Replaces a source's index with `bytes` if it is still the one `read` (None: there was
    /// none). False when another writer changed it first: read it again and merge.
    pub async fn swap_raw_index(&self, source: &str, bytes: Bytes, read: Option<&IndexTag>) -> Result<bool> {
        let path = self.path(&format!("raw/{source}/manifest.json"));
        let mode = match read {
            None => PutMode::Create,
            Some(IndexTag(tag)) => PutMode::Update(tag.clone()),
        };
        match self.put(&path, bytes, mode).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Ok(false),
            Err(error) => Err(self.store_error("swap the raw index", &path, error)),
        }
    }

    /// Stores a fetched body under its hash (`raw/<source>/<sha256>/<file>`), unless it is there.
    pub async fn put_raw_body(&self, source: &str, file: &str, bytes: Bytes) -> Result<()> {
        let path = self.path(&format!("raw/{source}/{}/{file}", reeflow_files::sha256_hex(&bytes)));
        match self.put(&path, bytes, PutMode::Create).await {
            Ok(()) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            Err(error) => Err(self.store_error("upload", &path, error)),
        }
    }

    /// A fetched body by its hash, checked against it and the size its index records.
    pub async fn raw_body(&self, source: &str, file: &str, sha256_hex: &str, size: u64) -> Result<Bytes> {
        let path = self.path(&format!("raw/{source}/{sha256_hex}/{file}"));
        let result = self.store.get(&path).await.map_err(|error| self.store_error("read", &path, error))?;
        let bytes = result.bytes().await.map_err(|error| self.store_error("read", &path, error))?;
        let actual = reeflow_files::sha256_hex(&bytes);
        if actual != sha256_hex || bytes.len() as u64 != size {
            return Err(PublishError::Corrupt {
                path: path.to_string(),
                store: self.store.to_string(),
                expected_size: size,
                expected_sha256: sha256_hex.into(),
                actual_size: bytes.len() as u64,
                actual_sha256: actual,
            });
        }
        Ok(bytes)
    }
}
