//! One DataFusion session with every table registered by name: stage execution (schema contract,
//! checks on the candidate result, atomic publication with its manifest), checks on published
//! outputs, content hashes of inputs, and read-only ad hoc queries.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::options::ParquetReadOptions;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::prelude::{DataFrame, SQLOptions, SessionConfig, SessionContext};

use crate::checks::{Check, Severity, checks_of, parse_data_type, type_satisfies};
use crate::error::{Cause, PipelineError, Result};
use crate::output::{OutputFormat, format_batches, write_parquet_file};
use crate::stage::Stage;
use crate::state::{MANIFEST_FILE, StageManifest, file_sha256, read_manifest};

/// Where a registered table comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableSource {
    /// A canonical table written by `reeflow normalize` (or the bundled snapshot).
    Normalized,
    /// The output of a stage in `pipelines/`.
    Stage,
    /// A reference table built from configuration (`config/model.toml`), held in memory.
    Reference,
}

/// A registered table.
#[derive(Debug, Clone)]
pub struct RegisteredTable {
    pub name: String,
    /// The Parquet file or folder, or for a table held in memory the file it was built from.
    pub path: PathBuf,
    pub source: TableSource,
    /// Held in memory (a reference table built from the model file), not read from `path`.
    pub in_memory: bool,
}

/// The outcome of one check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckResult {
    pub check: String,
    pub severity: Severity,
    pub passed: bool,
    pub violations: usize,
    /// Where the violating rows were saved (Parquet), when there were any.
    pub failing_rows: Option<PathBuf>,
    /// The first violating rows, as a text table.
    pub sample: Option<String>,
}

impl CheckResult {
    pub fn blocks(&self) -> bool {
        !self.passed && self.severity == Severity::Block
    }
}

/// What building one stage did.
#[derive(Debug, Clone)]
pub struct StageBuild {
    pub rows: usize,
    pub seconds: f64,
    pub checks: Vec<CheckResult>,
    /// False when a blocking check failed: the previous output (if any) stays published.
    pub published: bool,
}

/// The part file inside each stage's output folder.
pub const PART_FILE: &str = "part-0.parquet";
/// The folder (under the output folder) where violating rows are saved.
pub const CHECKS_DIR: &str = "_checks";
const SAMPLE_ROWS: usize = 5;

/// How the session executes queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// Partitions a query is split into [default: four per core, see [`default_partitions`]];
    /// the partitions share one thread per core. Outputs are byte-identical at any number: float
    /// sums are exact (see [`crate::exact_sum`]) and a stage's rows are in a fixed order (its
    /// `ORDER BY`, else every column).
    pub target_partitions: usize,
    /// A cap on the memory queries may hold (bytes); sorts, aggregations and (sort-merge) joins
    /// beyond it spill to temporary files. None: no cap (hash joins, faster).
    pub memory_limit: Option<usize>,
    /// Evaluate filters inside the Parquet reader, before the other columns of a row are decoded
    /// (late materialization) [default: on]. It pays where a filter keeps few rows (the stages'
    /// one scan of the trade table keeps 0.2 % of it: 1.9 s instead of 2.9 s at 50M rows) and
    /// costs where it keeps many (a filter on the flow keeps every other row of the benchmark
    /// table: 16.3 s instead of 12.8 s), so `reeflow sql` turns it off unless asked.
    pub filter_pushdown: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self { target_partitions: default_partitions(), memory_limit: None, filter_pushdown: true }
    }
}

impl EngineOptions {
    /// A DataFusion session with these options (and `information_schema`, for `SHOW TABLES`).
    pub fn session(&self) -> SessionContext {
        let config = self.session_config();
        let mut runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new();
        if let Some(limit) = self.memory_limit {
            // A fair pool: every spilling operator (sorts, aggregations) gets its share, where the
            // greedy default let one sort take everything and the next fail to reserve a buffer.
            runtime = runtime.with_memory_pool(Arc::new(datafusion::execution::memory_pool::FairSpillPool::new(limit)));
        }
        let ctx = match runtime.build_arc() {
            Ok(runtime) => SessionContext::new_with_config_rt(config, runtime),
            // Only a bad temporary-folder setting fails here; fall back to the defaults.
            Err(_) => SessionContext::new_with_config(config),
        };
        // Order-independent float sums, `hs_heading` and the seeded draws.
        crate::functions::register_functions(&ctx);
        ctx
    }

    /// The session settings of these options (a cluster's client session starts from them too).
    pub fn session_config(&self) -> SessionConfig {
        let mut config = SessionConfig::new()
            .with_target_partitions(self.target_partitions.max(1))
            .with_batch_size(BATCH_ROWS)
            .with_information_schema(true);
        // Late materialization (see `filter_pushdown`): a stage that keeps 0.2 % of a 50M-row
        // table decodes the rest of each row only where the filter holds.
        config.options_mut().execution.parquet.pushdown_filters = self.filter_pushdown;
        config.options_mut().execution.parquet.reorder_filters = self.filter_pushdown;
        if self.memory_limit.is_some() {
            // Hash joins cannot spill; sort-merge joins can, so under a cap joins sort and spill.
            config.options_mut().optimizer.prefer_hash_join = false;
        }
        config
    }
}

/// Partitions per core by default. Each partition of a hash aggregation or hash join holds its
/// own hash table, so more partitions than cores keep each table smaller and more of it in the
/// cache. Measured on 2 cores at 50M trade rows (BENCHMARKS.md): the mirror SQL took 13.8 s at 2
/// partitions, 11.9 s at 8 and 11.4 s at 16; all stages 4.35 s at 2, 4.18 s at 8 and 4.35 s at 16,
/// with peak memory rising with the count (mirror 3.7, 4.0 and 4.4 GB).
pub const PARTITIONS_PER_CORE: usize = 4;

/// Rows per batch: four times DataFusion's 8,192, which cut the benchmark SQL's time at 50M rows
/// by 6 % (fewer calls per row into aggregation and join code) for the same peak memory.
pub const BATCH_ROWS: usize = 32 * 1024;

/// The default partitions: [`PARTITIONS_PER_CORE`] per core of the machine.
pub fn default_partitions() -> usize {
    cores() * PARTITIONS_PER_CORE
}

/// The machine's cores (1 where they cannot be read).
fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// The session every command queries through.
pub struct Engine {
    ctx: SessionContext,
    /// Where stage queries run when not in `ctx`: a cluster (see [`Engine::run_stages_on`]).
    /// Checks, ad hoc queries and output writing stay in `ctx`.
    cluster: Option<StageCluster>,
    tables: Vec<RegisteredTable>,
    out_dir: PathBuf,
    runs_dir: PathBuf,
    checks_dir: PathBuf,
    hashes: HashMap<String, String>,
    hash_cache: Option<Arc<std::sync::Mutex<reeflow_files::HashCache>>>,
}

impl Engine {
    /// Registers `<normalized>/<table>.parquet` files and the published stage outputs in `out_dir`,
    /// with the default options.
    pub async fn open(normalized_dir: &Path, out_dir: &Path) -> Result<Self> {
        Self::open_with(normalized_dir, out_dir, &EngineOptions::default()).await
    }

    /// Like [`Engine::open`], with explicit options.
    pub async fn open_with(normalized_dir: &Path, out_dir: &Path, options: &EngineOptions) -> Result<Self> {
        let mut engine = Self {
            ctx: options.session(),
            cluster: None,
            tables: Vec::new(),
            out_dir: out_dir.to_path_buf(),
            runs_dir: out_dir.join(crate::runner::RUNS_DIR),
            checks_dir: out_dir.join(CHECKS_DIR),
            hashes: HashMap::new(),
            hash_cache: None,
        };
        for path in sorted_entries(normalized_dir)? {
            if path.extension().is_some_and(|e| e == "parquet") {
                let name = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
                engine.register(&name, &path, TableSource::Normalized).await?;
            }
        }
        for (name, path) in stage_outputs(out_dir)? {
            engine.register(&name, &path, TableSource::Stage).await?;
        }
        Ok(engine)
    }

    /// The tables a query can read, normalized tables first.
    pub fn tables(&self) -> &[RegisteredTable] {
        &self.tables
    }

    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// Where run records go [default: `<out_dir>/_runs`].
    pub fn runs_dir(&self) -> &Path {
        &self.runs_dir
    }

    pub fn set_runs_dir(&mut self, runs_dir: &Path) {
        self.runs_dir = runs_dir.to_path_buf();
    }

    /// Where violating rows of failed checks are saved [default: `<out_dir>/_checks`, inside the
    /// version being built]. Checks of a published version write elsewhere (beside the run
    /// record), so a published version is never modified.
    pub fn checks_dir(&self) -> &Path {
        &self.checks_dir
    }

    pub fn set_checks_dir(&mut self, checks_dir: &Path) {
        self.checks_dir = checks_dir.to_path_buf();
    }

    /// Hashes input files through this cache (an unchanged file is not read again).
    pub fn set_hash_cache(&mut self, cache: Arc<std::sync::Mutex<reeflow_files::HashCache>>) {
        self.hash_cache = Some(cache);
    }

    /// Runs stage queries in `session` from now on (a Ballista client session, whose executors
    /// read the tables' files themselves). A table is registered there when a stage first reads
    /// it, at the location `files` gives its file or folder (which may first copy it where the
    /// executors can read it), and again after it is rebuilt. Tables held in memory cannot travel
    /// to executors: a session over them is refused, naming the table. A stage query without a
    /// result within `timeout` fails (a cluster whose executors are gone or crashed keeps a job
    /// waiting rather than failing it).
    pub async fn run_stages_on(
        &mut self,
        session: SessionContext,
        timeout: Option<std::time::Duration>,
        files: Arc<dyn ClusterFiles>,
    ) -> Result<()> {
        if let Some(table) = self.tables.iter().find(|t| t.in_memory) {
            return Err(held_in_memory(table));
        }
        self.cluster = Some(StageCluster { session, timeout, files, registered: BTreeSet::new() });
        Ok(())
    }

    /// Registers on the cluster the tables `stage` reads that are not registered there yet.
    async fn share_inputs(&mut self, stage: &Stage) -> Result<()> {
        let Some(cluster) = &self.cluster else { return Ok(()) };
        let missing: Vec<(RegisteredTable, Vec<(String, String)>)> = self
            .tables
            .iter()
            .filter(|t| stage.inputs.contains(&t.name) && !cluster.registered.contains(&t.name))
            .map(|t| (t.clone(), self.partition_columns(&t.name, t.source)))
            .collect();
        for (table, partitions) in missing {
            if table.in_memory {
                return Err(held_in_memory(&table));
            }
            let cluster = self.cluster.as_mut().expect("checked above");
            let location = cluster.files.share(&table.path).await.map_err(|source| PipelineError::Table {
                table: table.name.clone(),
                path: table.path.clone(),
                problem: "cannot make it readable by the cluster".into(),
                source: Some(source),
            })?;
            register_location(&cluster.session, &table.name, &location, &table.path, &partitions).await?;
            cluster.registered.insert(table.name);
        }
        Ok(())
    }

    /// The partition columns (name, Arrow type name) of a table's files: a stage output's, as its
    /// manifest lists them; none for other tables.
    fn partition_columns(&self, name: &str, source: TableSource) -> Vec<(String, String)> {
        match source {
            TableSource::Stage => read_manifest(&self.out_dir, name).map(|m| m.partitions).unwrap_or_default(),
            TableSource::Normalized | TableSource::Reference => Vec::new(),
        }
    }

    async fn register(&mut self, name: &str, path: &Path, source: TableSource) -> Result<()> {
        let _ = self.ctx.deregister_table(name);
        let partitions = self.partition_columns(name, source);
        register_parquet(&self.ctx, name, path, &partitions).await?;
        if let Some(cluster) = &mut self.cluster {
            // Rebuilt: the cluster reads the new files when a stage next asks for it.
            let _ = cluster.session.deregister_table(name);
            cluster.registered.remove(name);
        }
        self.tables.retain(|t| t.name != name);
        self.tables.push(RegisteredTable {
            name: name.to_string(),
            path: path.to_path_buf(),
            source,
            in_memory: false,
        });
        self.hashes.remove(name);
        Ok(())
    }

    /// Registers an in-memory table (a reference table built from `origin`, a config file). Its
    /// content hash is the SHA-256 of its CSV rendering, so stages reading it re-run exactly when
    /// its rows change (not when a comment in the file does).
    pub fn register_batch(&mut self, name: &str, batch: RecordBatch, origin: &Path) -> Result<()> {
        let table_error = |source: Cause| PipelineError::Table {
            table: name.to_string(),
            path: origin.to_path_buf(),
            problem: "cannot register the reference table".into(),
            source: Some(source),
        };
        let hash = csv_sha256(&batch).map_err(|e| table_error(e.into()))?;
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(|e| table_error(e.into()))?;
        let _ = self.ctx.deregister_table(name);
        self.ctx.register_table(name, Arc::new(table)).map_err(|e| table_error(e.into()))?;
        self.tables.retain(|t| t.name != name);
        self.tables.push(RegisteredTable {
            name: name.to_string(),
            path: origin.to_path_buf(),
            source: TableSource::Reference,
            in_memory: true,
        });
        self.hashes.insert(name.to_string(), hash);
        Ok(())
    }

    /// Registers a reference table stored as Parquet in a version (`<version>/ref/<name>.parquet`,
    /// written from the model file the version was built with), held in memory here and read
    /// from the file on a cluster. Its content hash is the one
    /// [`Engine::register_batch`] gives the same rows, so reading the model from a version's
    /// Parquet or from the file it came from never makes a stage stale.
    pub async fn register_reference_parquet(&mut self, name: &str, path: &Path) -> Result<()> {
        let table_error = |source: Cause| PipelineError::Table {
            table: name.to_string(),
            path: path.to_path_buf(),
            problem: "cannot read the reference table".into(),
            source: Some(source),
        };
        self.register(name, path, TableSource::Reference).await?;
        let frame = self.ctx.table(name).await.map_err(|e| table_error(e.into()))?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(|e| table_error(e.into()))?;
        let batch = arrow::compute::concat_batches(&schema, &batches).map_err(|e| table_error(e.into()))?;
        let hash = csv_sha256(&batch).map_err(|e| table_error(e.into()))?;
        self.hashes.insert(name.to_string(), hash);
        // This session reads the rows from memory (a cluster reads the file): as a Parquet listing,
        // DataFusion 55 planned the flow model's left joins on these small tables with the large
        // side as the hash table, and trade_reo took 12.5 s instead of 0.8 s at 50M trade rows.
        let table = MemTable::try_new(schema, vec![vec![batch]]).map_err(|e| table_error(e.into()))?;
        let _ = self.ctx.deregister_table(name);
        self.ctx.register_table(name, Arc::new(table)).map_err(|e| table_error(e.into()))?;
        Ok(())
    }

    /// The content hash of a registered table: SHA-256 of a normalized file, or the output hash
    /// recorded in a stage's manifest. None for a table that is not registered.
    pub fn content_hash(&mut self, name: &str) -> Result<Option<String>> {
        if let Some(hash) = self.hashes.get(name) {
            return Ok(Some(hash.clone()));
        }
        let Some(table) = self.tables.iter().find(|t| t.name == name) else {
            return Ok(None);
        };
        let hash = match table.source {
            TableSource::Reference => {
                return Err(PipelineError::Table {
                    table: name.to_string(),
                    path: table.path.clone(),
                    problem: "reference table registered without its content hash".into(),
                    source: None,
                });
            }
            TableSource::Normalized => match &self.hash_cache {
                Some(cache) => cache.lock().unwrap_or_else(|e| e.into_inner()).sha256(&table.path),
                None => file_sha256(&table.path),
            }
            .map_err(PipelineError::io(&table.path))?,
            TableSource::Stage => match read_manifest(&self.out_dir, name) {
                Some(manifest) => manifest.output_sha256,
                None => {
                    return Err(PipelineError::Table {
                        table: name.to_string(),
                        path: table.path.clone(),
                        problem: format!("no {MANIFEST_FILE} beside the output"),
                        source: None,
                    });
                }
            },
        };
        self.hashes.insert(name.to_string(), hash.clone());
        Ok(Some(hash))
    }

    /// Builds one stage: runs its SQL, checks the schema contract, runs its checks on the result
    /// and, unless a blocking check fails, publishes output and manifest atomically to
    /// `out_dir/<stage>/` and registers it for the stages after it.
    pub async fn build_stage(
        &mut self,
        stage: &Stage,
        key: &str,
        inputs: &BTreeMap<String, String>,
    ) -> Result<StageBuild> {
        let started = Instant::now();
        let failed = |source: DataFusionError| PipelineError::StageFailed {
            stage: stage.name.clone(),
            file: stage.file.clone(),
            check: None,
            source,
        };
        self.share_inputs(stage).await?;
        let session = self.cluster.as_ref().map_or(&self.ctx, |cluster| &cluster.session);
        let frame = session.sql_with_options(&stage.sql, read_only()).await.map_err(failed)?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        check_contract(stage, &schema)?;
        let frame = in_a_fixed_order(frame).map_err(failed)?;
        let batches = match self.cluster.as_ref().and_then(|cluster| cluster.timeout) {
            None => frame.collect().await.map_err(failed)?,
            Some(limit) => tokio::time::timeout(limit, frame.collect())
                .await
                .map_err(|_| {
                    failed(DataFusionError::Execution(format!(
                        "no result from the cluster within {} s: are its executors running? (a task that \
                         failed is in their stderr)",
                        limit.as_secs()
                    )))
                })?
                .map_err(failed)?,
        };
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        // The executed batches carry the physical schema (nullability can differ from the plan's).
        let schema = batches.first().map(RecordBatch::schema).unwrap_or(schema);

        // Checks see the candidate under the stage's own name; the published table is restored
        // if a blocking check fails.
        let candidate = MemTable::try_new(schema.clone(), vec![batches.clone()]).map_err(failed)?;
        let previous = self.swap_table(&stage.name, Arc::new(candidate))?;
        let checks = self.run_checks(stage).await;
        let checks = match checks {
            Ok(checks) => checks,
            Err(error) => {
                self.restore_table(&stage.name, previous)?;
                return Err(error);
            }
        };
        if checks.iter().any(CheckResult::blocks) {
            self.restore_table(&stage.name, previous)?;
            return Ok(StageBuild { rows, seconds: started.elapsed().as_secs_f64(), checks, published: false });
        }
        let output = self.out_dir.join(&stage.name);
        publish_stage_output(&self.out_dir, stage, key, inputs, schema, &batches).await?;
        self.register(&stage.name, &output, TableSource::Stage).await?;
        Ok(StageBuild { rows, seconds: started.elapsed().as_secs_f64(), checks, published: true })
    }

    fn swap_table(&self, name: &str, table: Arc<dyn TableProvider>) -> Result<Option<Arc<dyn TableProvider>>> {
        let previous = self.ctx.deregister_table(name).map_err(PipelineError::Engine)?;
        self.ctx.register_table(name, table).map_err(PipelineError::Engine)?;
        Ok(previous)
    }

    fn restore_table(&self, name: &str, previous: Option<Arc<dyn TableProvider>>) -> Result<()> {
        self.ctx.deregister_table(name).map_err(PipelineError::Engine)?;
        if let Some(previous) = previous {
            self.ctx.register_table(name, previous).map_err(PipelineError::Engine)?;
        }
        Ok(())
    }

    /// Runs a stage's checks against the table registered under its name. Violating rows are
    /// saved to `<checks_dir>/<stage>/<check>.parquet`; a passing check removes a stale file.
    pub async fn run_checks(&self, stage: &Stage) -> Result<Vec<CheckResult>> {
        let mut results = Vec::new();
        for check in checks_of(&stage.header) {
            results.push(self.run_check(stage, &check).await?);
        }
        Ok(results)
    }

    async fn run_check(&self, stage: &Stage, check: &Check) -> Result<CheckResult> {
        let sql = check.sql(&stage.name);
        let failed = |e: DataFusionError| PipelineError::StageFailed {
            stage: stage.name.clone(),
            file: stage.file.clone(),
            check: Some(check.name.clone()),
            source: e,
        };
        let frame = self.ctx.sql_with_options(&sql, read_only()).await.map_err(failed)?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        // Violating rows in a fixed order, so the sample shown and the file saved are the same
        // every run.
        let batches = in_a_fixed_order(frame).map_err(failed)?.collect().await.map_err(failed)?;
        let violations: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let file_name = check.name.replace([':', ','], "_");
        let path = self.checks_dir.join(&stage.name).join(format!("{file_name}.parquet"));
        if violations == 0 {
            let _ = std::fs::remove_file(&path);
            return Ok(CheckResult {
                check: check.name.clone(),
                severity: check.severity,
                passed: true,
                violations,
                failing_rows: None,
                sample: None,
            });
        }
        let all = arrow::compute::concat_batches(&schema, &batches).map_err(|e| failed(e.into()))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(PipelineError::io(parent))?;
        }
        write_parquet_file(&path, &all)?;
        let sample = format_batches(&[all.slice(0, violations.min(SAMPLE_ROWS))], OutputFormat::Table).ok();
        Ok(CheckResult {
            check: check.name.clone(),
            severity: check.severity,
            passed: false,
            violations,
            failing_rows: Some(path),
            sample,
        })
    }

    /// The number of rows of a registered table.
    pub async fn row_count(&self, table: &str) -> Result<usize> {
        let frame = self.ctx.table(table).await.map_err(query_error)?;
        frame.count().await.map_err(query_error)
    }

    /// Runs one query and returns its batches: read-only (no DDL, DML or COPY) unless `allow_write`.
    pub async fn query(&self, sql: &str, allow_write: bool) -> Result<Vec<RecordBatch>> {
        let options = if allow_write { SQLOptions::new() } else { read_only() };
        let frame = self.ctx.sql_with_options(sql, options).await.map_err(query_error)?;
        frame.collect().await.map_err(query_error)
    }
}

/// A stage's (or check's) rows in the order its `ORDER BY` gives, or, without one, sorted by every column:
/// the rows of an unordered query come out of the partitions in whatever order they finish, and
/// an output whose bytes changed from run to run would be republished every time.
fn in_a_fixed_order(frame: DataFrame) -> std::result::Result<DataFrame, DataFusionError> {
    fn ordered(plan: &LogicalPlan) -> bool {
        match plan {
            LogicalPlan::Sort(_) => true,
            LogicalPlan::Projection(projection) => ordered(&projection.input),
            LogicalPlan::Limit(limit) => ordered(&limit.input),
            LogicalPlan::SubqueryAlias(alias) => ordered(&alias.input),
            _ => false,
        }
    }
    if ordered(frame.logical_plan()) {
        return Ok(frame);
    }
    let every_column =
        frame.schema().columns().into_iter().map(|column| Expr::Column(column).sort(true, false)).collect();
    frame.sort(every_column)
}

/// A query error with a hint for the two mistakes people make most.
fn query_error(error: DataFusionError) -> PipelineError {
    let message = error.to_string();
    let hint = if message.contains("not supported") && (message.contains("DML") || message.contains("DDL")) {
        " (ad hoc SQL is read-only: use SELECT, WITH, EXPLAIN or SHOW, or pass --allow-write)"
    } else if message.contains("not found") && message.contains("table") {
        " (run `reeflow tables` to list the tables)"
    } else {
        ""
    };
    PipelineError::Query { source: error, hint: hint.to_string() }
}

fn read_only() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// Checks the output schema against the stage's `[schema]` contract.
fn check_contract(stage: &Stage, schema: &SchemaRef) -> Result<()> {
    for (column, declared) in &stage.header.schema {
        let declared_type = parse_data_type(declared)
            .map_err(|problem| PipelineError::StageFile { file: stage.file.clone(), problem })?;
        let problem = match schema.field_with_name(column) {
            Err(_) => format!("schema contract: column {column:?} ({declared}) is not in the output"),
            Ok(field) if !type_satisfies(field.data_type(), &declared_type) => format!(
                "schema contract: column {column:?} is {}, the header declares {declared}; an upstream type changed? cast explicitly in the SQL",
                field.data_type()
            ),
            Ok(_) => continue,
        };
        return Err(PipelineError::StageFile { file: stage.file.clone(), problem });
    }
    Ok(())
}

/// Writes a stage's output and manifest to a fresh hidden folder, then swaps it in for
/// `out_dir/<name>`. Readers see the old folder or the new one; a failure leaves the old one.
async fn publish_stage_output(
    out_dir: &Path,
    stage: &Stage,
    key: &str,
    inputs: &BTreeMap<String, String>,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<()> {
    let name = &stage.name;
    std::fs::create_dir_all(out_dir).map_err(PipelineError::io(out_dir))?;
    let target = out_dir.join(name);
    let staging = reeflow_files::temporary_path(&target);
    let retired = reeflow_files::temporary_path(&target);
    std::fs::create_dir_all(&staging).map_err(PipelineError::io(&staging))?;
    let written = async {
        let batch = arrow::compute::concat_batches(&schema, batches).map_err(|e| PipelineError::StageFailed {
            stage: name.clone(),
            file: stage.file.clone(),
            check: None,
            source: e.into(),
        })?;
        let (files, partitions) = if stage.header.partition_by.is_empty() {
            let part = staging.join(PART_FILE);
            write_parquet_file(&part, &batch)?;
            (vec![part], Vec::new())
        } else {
            write_partitions(&staging, stage, schema.clone(), batch.clone()).await?
        };
        // The content hash covers every file and its place, in a stable order.
        let mut listing = String::new();
        for file in &files {
            let relative = file.strip_prefix(&staging).unwrap_or(file).display().to_string();
            listing.push_str(&format!("{relative}={}\n", file_sha256(file).map_err(PipelineError::io(file))?));
        }
        let manifest = StageManifest {
            stage: name.clone(),
            key: key.to_string(),
            definition: crate::state::definition_hash(stage),
            inputs: inputs.clone(),
            output_sha256: crate::state::sha256_hex(listing.as_bytes()),
            rows: batch.num_rows(),
            partitions,
        };
        let text = serde_json::to_string_pretty(&manifest).expect("a stage manifest serializes");
        reeflow_files::write_bytes_atomically(&staging.join(MANIFEST_FILE), text.as_bytes())?;
        Ok::<_, PipelineError>(())
    }
    .await;
    if let Err(error) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    reeflow_files::failpoint::reached("stage:written");
    if target.exists() {
        reeflow_files::rename_durably(&target, &retired)?;
    }
    reeflow_files::rename_durably(&staging, &target)?;
    let _ = std::fs::remove_dir_all(&retired);
    Ok(())
}

/// Writes one file per distinct value of the partition columns to `column=value/part-0.parquet`
/// (nulls to `column=__null__`), without the partition columns, in value order.
async fn write_partitions(
    staging: &Path,
    stage: &Stage,
    schema: SchemaRef,
    batch: RecordBatch,
) -> Result<(Vec<PathBuf>, Vec<(String, String)>)> {
    let failed = |message: String| PipelineError::StageFile { file: stage.file.clone(), problem: message };
    let engine_failed = |source: DataFusionError| PipelineError::StageFailed {
        stage: stage.name.clone(),
        file: stage.file.clone(),
        check: None,
        source,
    };
    let mut types = Vec::new();
    for column in &stage.header.partition_by {
        let field = schema
            .field_with_name(column)
            .map_err(|_| failed(format!("partition_by column {column:?} is not in the output")))?;
        let name = match field.data_type() {
            DataType::Int32 => "Int32",
            DataType::Int64 => "Int64",
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "Utf8",
            other => {
                return Err(failed(format!("partition_by column {column:?} is {other}; integer or text columns only")));
            }
        };
        types.push((column.clone(), name.to_string()));
    }
    let ctx = EngineOptions::default().session();
    let table = MemTable::try_new(schema, vec![vec![batch]]).map_err(engine_failed)?;
    ctx.register_table("candidate", Arc::new(table)).map_err(engine_failed)?;
    let keys = stage.header.partition_by.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    let distinct =
        ctx.sql(&format!("SELECT DISTINCT {keys} FROM candidate ORDER BY {keys}")).await.map_err(engine_failed)?;
    let mut files = Vec::new();
    for key_batch in distinct.collect().await.map_err(engine_failed)? {
        for row in 0..key_batch.num_rows() {
            let mut folder = staging.to_path_buf();
            let mut conditions = Vec::new();
            for (index, column) in stage.header.partition_by.iter().enumerate() {
                let array = key_batch.column(index);
                if array.is_null(row) {
                    folder.push(format!("{column}=__null__"));
                    conditions.push(format!("\"{column}\" IS NULL"));
                    continue;
                }
                let value =
                    arrow::util::display::array_value_to_string(array, row).map_err(|e| engine_failed(e.into()))?;
                folder.push(format!("{column}={}", value.replace(['/', '\\'], "_")));
                let literal = if types[index].1 == "Utf8" { format!("'{}'", value.replace('\'', "''")) } else { value };
                conditions.push(format!("\"{column}\" = {literal}"));
            }
            let frame = ctx
                .sql(&format!("SELECT * EXCLUDE ({keys}) FROM candidate WHERE {}", conditions.join(" AND ")))
                .await
                .map_err(engine_failed)?;
            let part_schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
            let parts = frame.collect().await.map_err(engine_failed)?;
            let part = arrow::compute::concat_batches(&part_schema, &parts).map_err(|e| engine_failed(e.into()))?;
            std::fs::create_dir_all(&folder).map_err(PipelineError::io(&folder))?;
            let path = folder.join(PART_FILE);
            write_parquet_file(&path, &part)?;
            files.push(path);
        }
    }
    Ok((files, types))
}

/// SHA-256 of a batch's CSV rendering (with its header): a reference table's content hash.
fn csv_sha256(batch: &RecordBatch) -> std::result::Result<String, arrow::error::ArrowError> {
    let mut csv = Vec::new();
    {
        let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut csv);
        writer.write(batch)?;
    }
    Ok(crate::state::sha256_hex(&csv))
}

/// Registers a Parquet file, or a stage output folder with its partition columns (name, Arrow
/// type name, as its manifest lists them), as table `name` of `ctx`.
pub async fn register_parquet(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
    partitions: &[(String, String)],
) -> Result<()> {
    register_location(ctx, name, &folder_location(path, path.is_dir()), path, partitions).await
}

/// A local file's location for DataFusion; a folder's ends in `/` (every Parquet file under it).
fn folder_location(path: &Path, is_dir: bool) -> String {
    if is_dir { format!("{}/", path.display()) } else { path.display().to_string() }
}

/// [`register_parquet`] at a location (a path, or a URL of a registered object store) that holds
/// the files of `origin`.
async fn register_location(
    ctx: &SessionContext,
    name: &str,
    location: &str,
    origin: &Path,
    partitions: &[(String, String)],
) -> Result<()> {
    let table_error = |problem: String, source: Option<Cause>| PipelineError::Table {
        table: name.to_string(),
        path: origin.to_path_buf(),
        problem,
        source,
    };
    let mut partition_cols = Vec::new();
    for (column, data_type) in partitions {
        let data_type = parse_data_type(data_type)
            .map_err(|message| table_error(format!("partition column {column}: {message}"), None))?;
        partition_cols.push((column.clone(), data_type));
    }
    let options = ParquetReadOptions::default().table_partition_cols(partition_cols);
    ctx.register_parquet(name, location, options)
        .await
        .map_err(|e| table_error(format!("cannot read it as Parquet at {location}"), Some(e.into())))
}

/// Why a table held in memory cannot be read on a cluster.
fn held_in_memory(table: &RegisteredTable) -> PipelineError {
    PipelineError::Table {
        table: table.name.clone(),
        path: table.path.clone(),
        problem: "is held in memory, and stages on a cluster read only files (a version's ref/ tables are Parquet: \
                  build the version with `run` or `refresh`)"
            .into(),
        source: None,
    }
}

/// A cluster the stage queries run on.
struct StageCluster {
    session: SessionContext,
    timeout: Option<std::time::Duration>,
    files: Arc<dyn ClusterFiles>,
    /// Tables registered in `session`, at their current files.
    registered: BTreeSet<String>,
}

/// Where a cluster's executors read the files of the tables a stage uses.
#[async_trait::async_trait]
pub trait ClusterFiles: Send + Sync {
    /// Makes the Parquet file or folder `path` readable by the executors and returns where they
    /// read it (a path or an object store URL; a folder's ends in `/`).
    async fn share(&self, path: &Path) -> std::result::Result<String, Cause>;
}

/// Executors that see this machine's files at the same absolute paths (the same machine, or a
/// shared filesystem mounted at the same place).
#[derive(Debug, Clone, Copy, Default)]
pub struct SameFilesystem;

#[async_trait::async_trait]
impl ClusterFiles for SameFilesystem {
    async fn share(&self, path: &Path) -> std::result::Result<String, Cause> {
        let absolute = std::path::absolute(path)?;
        Ok(folder_location(&absolute, absolute.is_dir()))
    }
}

/// The stage output folders (with a manifest) under `out_dir`, by name, in name order.
pub fn stage_outputs(out_dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut outputs = Vec::new();
    for path in sorted_entries(out_dir)? {
        let name = path.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        if path.is_dir() && !name.starts_with(['.', '_']) && path.join(MANIFEST_FILE).exists() {
            outputs.push((name, path));
        }
    }
    Ok(outputs)
}

fn sorted_entries(folder: &Path) -> Result<Vec<PathBuf>> {
    if !folder.exists() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(PipelineError::io(folder))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    Ok(paths)
}
