//! The reeflow stage engine: SQL stage files in, checked Parquet tables out, with Apache DataFusion.
//!
//! It owns stage discovery (`pipelines/**/*.sql`, one stage per file, name = file stem), the TOML
//! header in each file's leading block comment (description, grain, checks, schema contract), the
//! run order derived from the tables each query reads (CTE names excluded), `--select`
//! expressions, execution in one DataFusion session with every normalized table and stage output
//! registered by name, checks run on each result before it is published, atomic outputs under
//! `data/out/<stage>/` with a manifest of content hashes that makes unchanged stages skip, run
//! records, the stage catalogue and read-only ad hoc SQL. Domain formulas live in the SQL files,
//! never here; the engine only adds SQL functions plain SQL lacks: an order-independent `sum`
//! ([`exact_sum`]), `hs_heading` ([`hs_heading`]) and seeded draws for Monte Carlo stages
//! ([`random_draw`]).

pub mod checks;
pub mod docs;
pub mod engine;
pub mod error;
pub mod exact_sum;
pub mod functions;
pub mod hs_heading;
pub mod output;
pub mod random_draw;
pub mod runner;
pub mod stage;
pub mod state;

pub use checks::Severity;
pub use engine::{
    CheckResult, ClusterFiles, Engine, EngineOptions, RegisteredTable, SameFilesystem, TableSource, register_parquet,
    stage_outputs,
};
pub use error::{PipelineError, Result};
pub use output::{OutputFormat, format_batches};
pub use runner::{PlanEntry, RunRecord, StageRecord, StageStatus, check, plan, run};
pub use stage::{Stage, StageHeader, discover_stages, order_stages, select_stages};
