//! Fetch errors: they name the URL (never with a secret) and what went wrong.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The raw cache could not be read or written.
    #[error("{path}: {message}", path = path.display())]
    Cache { path: PathBuf, message: String },
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
    /// A source's configuration is not usable.
    #[error("{0}")]
    Config(String),
}

pub type Result<T, E = FetchError> = std::result::Result<T, E>;
