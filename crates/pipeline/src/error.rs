//! Errors that name the stage file, the table or the query that failed.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A stage file's header, SQL or name is wrong.
    #[error("{file}: {problem}", file = file.display())]
    StageFile { file: PathBuf, problem: String },
    /// Two stage files define one stage name, or stages depend on each other in a cycle.
    #[error("{0}")]
    Graph(String),
    /// A stage's query failed to plan or run.
    #[error("stage {stage} ({file}): {message}", file = file.display())]
    StageFailed { stage: String, file: PathBuf, message: String },
    /// An input table could not be registered.
    #[error("table {table} ({path}): {message}", path = path.display())]
    Table { table: String, path: PathBuf, message: String },
    /// An ad hoc query failed.
    #[error("query failed: {0}")]
    Query(String),
    /// Writing an output failed.
    #[error("{path}: {message}", path = path.display())]
    Io { path: PathBuf, message: String },
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
