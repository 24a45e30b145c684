//! Errors that name the file, the place in it, and what was expected.

use std::path::PathBuf;

/// Everything that can go wrong turning a raw file into canonical rows, or rows into Parquet.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// The file's layout or content is not what its adapter expects.
    #[error("{file}: {location}: {problem}", file = file.display())]
    Layout {
        file: PathBuf,
        /// `line 3, column "Prod_t_2021"`, `sheet T8, cell C11`, `record 4`, or `header`.
        location: String,
        problem: String,
    },
    /// The file could not be read at all.
    #[error("{file}: cannot read: {source}", file = file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A Parquet output or the manifest could not be written.
    #[error("cannot write table {table}: {source}")]
    Write {
        table: String,
        #[source]
        source: reeflow_files::WriteError,
    },
    /// The raw folder does not exist or holds nothing reeflow reads.
    #[error("{folder}: {problem}", folder = folder.display())]
    RawFolder { folder: PathBuf, problem: String },
}

impl NormalizeError {
    pub fn layout(file: impl Into<PathBuf>, location: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Layout { file: file.into(), location: location.into(), problem: problem.into() }
    }

    pub fn read(file: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Read { file: file.into(), source }
    }
}

pub type Result<T, E = NormalizeError> = std::result::Result<T, E>;
