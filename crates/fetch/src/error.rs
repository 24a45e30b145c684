//! Fetch errors: they name the URL or file (never with a secret) and keep their cause.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A raw-cache folder or file could not be read or created.
    #[error("{path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A source's `manifest.json` is not one reeflow wrote.
    #[error("{path}: not a reeflow fetch manifest: {source}", path = path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A copy of a cached file (from another copy of the cache) is not the file its entry records.
    #[error("{file}: expected sha256 {expected} as its manifest entry records, got {actual}: the copy is corrupt and was not stored", file = file.display())]
    Corrupt { file: PathBuf, expected: String, actual: String },
    /// A downloaded file or a manifest could not be stored.
    #[error(transparent)]
    Write(#[from] reeflow_files::WriteError),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// A download task ended abnormally (a panic in the task).
    #[error("a download task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
    /// A source's configuration is not usable.
    #[error("{0}")]
    Config(String),
}

pub type Result<T, E = FetchError> = std::result::Result<T, E>;
