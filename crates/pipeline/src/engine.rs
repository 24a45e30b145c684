//! One DataFusion session with every table registered by name, stage execution with the grain
//! check, atomic stage outputs, and read-only ad hoc queries.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::execution::options::ParquetReadOptions;
use datafusion::prelude::{SQLOptions, SessionContext};

use crate::error::{PipelineError, Result};
use crate::output::{OutputFormat, format_batches};
use crate::stage::Stage;

/// Where a registered table comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableSource {
    /// A canonical table written by `reeflow normalize` (or the bundled snapshot).
    Normalized,
    /// The output of a stage in `pipelines/`.
    Stage,
}

/// A registered table.
#[derive(Debug, Clone)]
pub struct RegisteredTable {
    pub name: String,
    pub path: PathBuf,
    pub source: TableSource,
}

/// What running one stage did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageRun {
    pub stage: String,
    pub rows: usize,
    pub seconds: f64,
    pub output: PathBuf,
}

/// The session every command queries through.
pub struct Engine {
    ctx: SessionContext,
    tables: Vec<RegisteredTable>,
    out_dir: PathBuf,
}

impl Engine {
    /// Registers `<normalized>/<table>.parquet` files and the stage outputs found in `out_dir`.
    pub async fn open(normalized_dir: &Path, out_dir: &Path) -> Result<Self> {
        let mut engine = Self { ctx: SessionContext::new(), tables: Vec::new(), out_dir: out_dir.to_path_buf() };
        for path in sorted_entries(normalized_dir)? {
            if path.extension().is_some_and(|e| e == "parquet") {
                let name = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
                engine.register(&name, &path, TableSource::Normalized).await?;
            }
        }
        for path in sorted_entries(out_dir)? {
            let name = path.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            if path.is_dir() && !name.starts_with(['.', '_']) && path.join(PART_FILE).exists() {
                engine.register(&name, &path, TableSource::Stage).await?;
            }
        }
        Ok(engine)
    }

    /// The tables a query can read, normalized tables first.
    pub fn tables(&self) -> &[RegisteredTable] {
        &self.tables
    }

    async fn register(&mut self, name: &str, path: &Path, source: TableSource) -> Result<()> {
        let location = if path.is_dir() { format!("{}/", path.display()) } else { path.display().to_string() };
        let _ = self.ctx.deregister_table(name);
        self.ctx.register_parquet(name, &location, ParquetReadOptions::default()).await.map_err(|e| {
            PipelineError::Table { table: name.to_string(), path: path.to_path_buf(), message: e.to_string() }
        })?;
        self.tables.retain(|t| t.name != name);
        self.tables.push(RegisteredTable { name: name.to_string(), path: path.to_path_buf(), source });
        Ok(())
    }

    /// Runs one stage: plans and executes its SQL, checks its grain, writes the result to
    /// `out_dir/<stage>/part-0.parquet` atomically, and registers it for the stages after it.
    pub async fn run_stage(&mut self, stage: &Stage) -> Result<StageRun> {
        let started = Instant::now();
        let failed = |message: String| PipelineError::StageFailed {
            stage: stage.name.clone(),
            file: stage.file.clone(),
            message,
        };
        let frame = self.ctx.sql_with_options(&stage.sql, read_only()).await.map_err(|e| failed(e.to_string()))?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(|e| failed(e.to_string()))?;
        self.check_grain(stage, schema.clone(), &batches).await?;
        let output = self.out_dir.join(&stage.name);
        write_stage_output(&self.out_dir, &stage.name, schema, &batches)?;
        self.register(&stage.name, &output, TableSource::Stage).await?;
        Ok(StageRun {
            stage: stage.name.clone(),
            rows: batches.iter().map(RecordBatch::num_rows).sum(),
            seconds: started.elapsed().as_secs_f64(),
            output,
        })
    }

    async fn check_grain(
        &self,
        stage: &Stage,
        schema: arrow::datatypes::SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<()> {
        let grain = &stage.header.grain;
        if grain.is_empty() {
            return Ok(());
        }
        for column in grain {
            if schema.field_with_name(column).is_err() {
                return Err(PipelineError::StageFile {
                    file: stage.file.clone(),
                    problem: format!("grain column {column:?} is not in the output"),
                });
            }
        }
        let ctx = SessionContext::new();
        let table =
            MemTable::try_new(schema, vec![batches.to_vec()]).map_err(|e| PipelineError::Query(e.to_string()))?;
        ctx.register_table("candidate", Arc::new(table)).map_err(|e| PipelineError::Query(e.to_string()))?;
        let keys = grain.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
        let nulls = grain.iter().map(|c| format!("\"{c}\" IS NULL")).collect::<Vec<_>>().join(" OR ");
        let sql = format!(
            "SELECT {keys}, count(*) AS rows FROM candidate GROUP BY {keys} HAVING count(*) > 1 OR {nulls} ORDER BY rows DESC"
        );
        let frame = ctx.sql(&sql).await.map_err(|e| PipelineError::Query(e.to_string()))?;
        let violations = frame.collect().await.map_err(|e| PipelineError::Query(e.to_string()))?;
        let count: usize = violations.iter().map(RecordBatch::num_rows).sum();
        if count > 0 {
            let first =
                format_batches(&[violations[0].slice(0, 1)], OutputFormat::Csv).unwrap_or_default().replace('\n', " ");
            return Err(PipelineError::GrainViolated {
                stage: stage.name.clone(),
                grain: grain.clone(),
                violations: count,
                first,
            });
        }
        Ok(())
    }

    /// The number of rows of a registered table.
    pub async fn row_count(&self, table: &str) -> Result<usize> {
        let frame = self.ctx.table(table).await.map_err(|e| query_error(&e))?;
        frame.count().await.map_err(|e| query_error(&e))
    }

    /// Runs one read-only query (no DDL, DML or COPY) and returns its batches.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let frame = self.ctx.sql_with_options(sql, read_only()).await.map_err(|e| query_error(&e))?;
        frame.collect().await.map_err(|e| query_error(&e))
    }
}

/// A query error with a hint for the two mistakes people make most.
fn query_error(error: &datafusion::error::DataFusionError) -> PipelineError {
    let message = error.to_string();
    let hint = if message.contains("not supported") && (message.contains("DML") || message.contains("DDL")) {
        " (ad hoc SQL is read-only: use SELECT, WITH, EXPLAIN or SHOW)"
    } else if message.contains("not found") && message.contains("table") {
        " (run `reeflow tables` to list the tables)"
    } else {
        ""
    };
    PipelineError::Query(format!("{message}{hint}"))
}

fn read_only() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// The single Parquet file inside each stage's output folder.
pub const PART_FILE: &str = "part-0.parquet";

/// Writes a stage's batches to a fresh hidden folder, then swaps it in for `out_dir/<name>`.
/// Readers see the old folder or the new one; a failed write leaves the old one untouched.
fn write_stage_output(
    out_dir: &Path,
    name: &str,
    schema: arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
) -> Result<()> {
    let io =
        |path: &Path, e: &dyn std::fmt::Display| PipelineError::Io { path: path.to_path_buf(), message: e.to_string() };
    std::fs::create_dir_all(out_dir).map_err(|e| io(out_dir, &e))?;
    let pid = std::process::id();
    let staging = out_dir.join(format!(".{name}.tmp-{pid}"));
    let retired = out_dir.join(format!(".{name}.old-{pid}"));
    let target = out_dir.join(name);
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| io(&staging, &e))?;
    let batch = arrow::compute::concat_batches(&schema, batches).map_err(|e| io(&staging, &e))?;
    let part = staging.join(PART_FILE);
    reeflow_normalize::write::write_atomically(&part, name, |file| {
        reeflow_normalize::write::write_parquet(file, &batch)
    })
    .map_err(|e| io(&part, &e))?;
    if target.exists() {
        std::fs::rename(&target, &retired).map_err(|e| io(&target, &e))?;
    }
    std::fs::rename(&staging, &target).map_err(|e| io(&target, &e))?;
    let _ = std::fs::remove_dir_all(&retired);
    Ok(())
}

fn sorted_entries(folder: &Path) -> Result<Vec<PathBuf>> {
    if !folder.exists() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| PipelineError::Io { path: folder.to_path_buf(), message: e.to_string() })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    Ok(paths)
}
