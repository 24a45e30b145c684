//! Moving one file between a local disk and the store with bounded memory: a file smaller than
//! the part size goes in one conditional put; a larger one in a multipart upload of part-size
//! parts read from disk as they are sent (a few parts in memory at once, and no limit on the
//! object's size beyond the store's). Downloads stream to a temporary file beside the target and
//! are renamed into place only when size and sha256 match. Every byte is hashed on the way.
//!
//! A multipart upload cannot be made conditional with object_store, so it always overwrites: it is
//! used only inside a version prefix its writer has claimed with put-if-absent ([`Root::claim`]).

use std::io::{Read, Write};
use std::path::{Path as LocalPath, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutMultipartOptions, WriteMultipart};
use sha2::{Digest, Sha256};

use crate::{PublishError, Result, Root};

/// The part size of multipart uploads, and the size from which a file is sent in parts.
pub const DEFAULT_PART_SIZE: usize = 64 << 20;
/// Parts in flight at once during a multipart upload.
const PARTS_IN_FLIGHT: usize = 4;
/// The name of a version's claim, written first with put-if-absent (not part of the version).
pub const CLAIM: &str = ".claim";

/// What to upload: bytes in memory, or a local file read as it is sent.
#[derive(Debug)]
pub enum Content {
    Bytes(Bytes),
    File(PathBuf),
}

/// A transferred file's size and sha256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    pub size: u64,
    pub sha256: String,
}

impl Transferred {
    /// The size and sha256 of bytes in memory.
    pub fn of(bytes: &[u8]) -> Self {
        Self { size: bytes.len() as u64, sha256: reeflow_files::sha256_hex(bytes) }
    }
}

/// Size and sha256 of a file's bytes, taken block by block as they go by.
#[derive(Default)]
struct Digesting {
    hasher: Sha256,
    size: u64,
}

impl Digesting {
    fn update(&mut self, block: &[u8]) {
        self.hasher.update(block);
        self.size += block.len() as u64;
    }

    fn finish(self) -> Transferred {
        let sha256 = self.hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Transferred { size: self.size, sha256 }
    }
}

fn local_error(path: &LocalPath) -> impl Fn(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Local { path: path.to_path_buf(), source }
}

/// The size and sha256 of a local file, read in blocks.
pub fn file_digest(path: &LocalPath) -> Result<Transferred> {
    let mut file = std::fs::File::open(path).map_err(local_error(path))?;
    let mut digest = Digesting::default();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(local_error(path))?;
        if read == 0 {
            return Ok(digest.finish());
        }
        digest.update(&buffer[..read]);
    }
}

impl Root {
    /// The same root, sending files of `bytes` or more in parts of `bytes` (default
    /// [`DEFAULT_PART_SIZE`]; S3 needs at least 5 MiB per part but the last).
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(1);
        self
    }

    /// Claims version `version`'s prefix for this writer: put-if-absent of its claim object. A
    /// writer that finds it there stops ([`PublishError::VersionExists`]) before writing anything.
    pub(crate) async fn claim(&self, version: &str) -> Result<Path> {
        let path = self.path(&format!("versions/{version}/{CLAIM}"));
        match self.put(&path, Bytes::from(version.to_string()), PutMode::Create).await {
            Ok(()) => Ok(path),
            Err(object_store::Error::AlreadyExists { .. }) => {
                Err(PublishError::VersionExists { version: version.into(), store: self.store.to_string() })
            }
            Err(source) => Err(self.store_error("claim", &path, source)),
        }
    }

    /// Uploads `content` as file `name` of version `version` (a prefix this writer claimed): in
    /// one put with `mode` when it is smaller than the part size, else in parts (overwriting).
    pub(crate) async fn upload(
        &self,
        version: &str,
        name: &str,
        content: Content,
        mode: PutMode,
    ) -> Result<Transferred> {
        let path = self.path(&format!("versions/{version}/{name}"));
        let path = &path;
        let local = match content {
            Content::Bytes(bytes) => return self.upload_bytes(version, path, bytes, mode).await,
            Content::File(local) => local,
        };
        let size = std::fs::metadata(&local).map_err(local_error(&local))?.len();
        if size < self.part_size as u64 {
            let bytes = std::fs::read(&local).map_err(local_error(&local))?;
            return self.upload_bytes(version, path, Bytes::from(bytes), mode).await;
        }
        let upload = self
            .store
            .put_multipart_opts(path, PutMultipartOptions::default())
            .await
            .map_err(|source| self.store_error("start a multipart upload of", path, source))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
        let result = self.send_parts(&local, path, &mut writer).await;
        match result {
            Ok(sent) => {
                writer
                    .finish()
                    .await
                    .map_err(|source| self.store_error("finish the multipart upload of", path, source))?;
                Ok(sent)
            }
            Err(error) => {
                let _ = writer.abort().await;
                Err(error)
            }
        }
    }

    async fn send_parts(&self, local: &LocalPath, path: &Path, writer: &mut WriteMultipart) -> Result<Transferred> {
        let mut file = std::fs::File::open(local).map_err(local_error(local))?;
        let mut digest = Digesting::default();
        let mut buffer = vec![0; self.part_size.min(8 << 20)];
        loop {
            let read = file.read(&mut buffer).map_err(local_error(local))?;
            if read == 0 {
                return Ok(digest.finish());
            }
            digest.update(&buffer[..read]);
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(|source| self.store_error("upload a part of", path, source))?;
            writer.write(&buffer[..read]);
        }
    }

    async fn upload_bytes(&self, version: &str, path: &Path, bytes: Bytes, mode: PutMode) -> Result<Transferred> {
        let sent = Transferred::of(&bytes);
        match self.put(path, bytes, mode).await {
            Ok(()) => Ok(sent),
            Err(object_store::Error::AlreadyExists { .. }) => {
                Err(PublishError::VersionExists { version: version.into(), store: self.store.to_string() })
            }
            Err(source) => Err(self.store_error("upload", path, source)),
        }
    }

    /// Downloads `path` into the local file `into`, streamed through a temporary file that is
    /// renamed into place only when it has `expected`'s size and sha256.
    pub(crate) async fn download_to(&self, path: &Path, into: &LocalPath, expected: &Transferred) -> Result<()> {
        let result = self.store.get(path).await.map_err(|source| self.store_error("read", path, source))?;
        let mut stream = result.into_stream();
        let mut file = reeflow_files::AtomicFile::create(into)?;
        let mut digest = Digesting::default();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|source| self.store_error("read", path, source))?;
            digest.update(&chunk);
            file.write_all(&chunk).map_err(local_error(into))?;
        }
        let actual = digest.finish();
        if actual != *expected {
            return Err(PublishError::Corrupt {
                path: path.to_string(),
                store: self.store.to_string(),
                expected_size: expected.size,
                expected_sha256: expected.sha256.clone(),
                actual_size: actual.size,
                actual_sha256: actual.sha256,
            });
        }
        Ok(file.commit()?)
    }
}
