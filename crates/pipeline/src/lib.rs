//! The reeflow stage engine: SQL stage files in, Parquet tables out, with Apache DataFusion.
//!
//! It owns stage discovery (`pipelines/**/*.sql`, one stage per file, name = file stem), the TOML
//! header in each file's leading block comment, the run order derived from the tables each query
//! reads (CTE names excluded), execution in one DataFusion session with every normalized table and
//! stage output registered by name, the grain check each header declares, atomic stage outputs
//! under `data/out/<stage>/`, and read-only ad hoc SQL with table, CSV and JSON output. Domain
//! formulas live in the SQL files, never here.

pub mod engine;
pub mod error;
pub mod output;
pub mod stage;

pub use engine::{Engine, StageRun, TableSource};
pub use error::{PipelineError, Result};
pub use output::{OutputFormat, format_batches};
pub use stage::{Stage, StageHeader, discover_stages, order_stages};
