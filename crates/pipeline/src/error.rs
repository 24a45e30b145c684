//! Errors that name the stage file, the table or the query that failed, and keep their cause
//! (`source()`), so the `io::ErrorKind` or the DataFusion error reaches the caller.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// A cause of any kind (an Arrow error, a DataFusion error, an I/O error).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A stage file's header, SQL or name is wrong.
    #[error("{file}: {problem}", file = file.display())]
    StageFile { file: PathBuf, problem: String },
    /// Two stage files define one stage name, or stages depend on each other in a cycle.
    #[error("{0}")]
    Graph(String),
    /// A stage's query, or one of its checks, failed to plan or run.
    #[error("stage {stage} ({file}){check}: {source}", file = file.display(), check = check.as_ref().map(|c| format!(", check {c}")).unwrap_or_default())]
    StageFailed {
        stage: String,
        file: PathBuf,
        /// The check that failed to run, when it was a check.
        check: Option<String>,
        #[source]
        source: DataFusionError,
    },
    /// An input table could not be registered or hashed.
    #[error("table {table} ({path}): {problem}", path = path.display())]
    Table {
        table: String,
        path: PathBuf,
        problem: String,
        #[source]
        source: Option<Cause>,
    },
    /// An ad hoc query failed.
    #[error("query failed: {source}{hint}")]
    Query {
        #[source]
        source: DataFusionError,
        /// What to try instead, for the mistakes people make most (may be empty).
        hint: String,
    },
    /// The query engine refused a table registration (an engine state problem, not user input).
    #[error("query engine: {0}")]
    Engine(#[source] DataFusionError),
    /// A file or folder could not be read, listed or created.
    #[error("{path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An output, a check's failing rows or a run record could not be written.
    #[error(transparent)]
    Write(#[from] reeflow_files::WriteError),
}

impl PipelineError {
    /// Wraps an I/O error with the path it concerns (for `map_err`).
    pub fn io(path: impl Into<PathBuf>) -> impl Fn(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path: path.clone(), source }
    }
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
