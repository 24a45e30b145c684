//! `reeflow`: the command line over the normalize and pipeline crates.
//!
//! It owns argument parsing, where data lives (`--data-dir`, `--raw`), choosing between freshly
//! normalized tables and the bundled snapshot, printing progress and summaries, and exit codes
//! (0 ok, 1 a check failed, 2 error). Everything else is a call into a library crate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod config;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use config::Config;
use reeflow_normalize::NormalizeOptions;
use reeflow_pipeline::{
    Engine, OutputFormat, PipelineError, TableSource, discover_stages, format_batches, order_stages,
};

#[derive(Parser)]
#[command(
    name = "reeflow",
    version,
    about = "Trace rare-earth flows from public statistics: normalize USGS, UN Comtrade and USITC files into Parquet, run SQL stages, query the results.",
    long_about = "reeflow turns public rare-earth statistics (USGS Mineral Commodity Summaries, Minerals Yearbook and DS-140; UN Comtrade; USITC DataWeb) into typed Parquet tables with provenance on every row, runs the SQL stages in pipelines/ over them with Apache DataFusion, and answers ad hoc SQL.\n\nA fresh clone runs offline on the bundled snapshot:\n  reeflow run\n  reeflow sql \"SELECT year, t_reo FROM production WHERE country_iso3='CHN' AND edition='MCS2023' ORDER BY year\"\n\nTo rebuild the tables from the public files:\n  reeflow normalize --raw ../shared/data",
    after_help = "Tables: production, trade, salient, countries (normalized) and one table per stage in pipelines/. Exit codes: 0 ok, 1 a check failed, 2 error. Logging: RUST_LOG=debug."
)]
struct Cli {
    /// The configuration file [default: config/reeflow.toml, when it exists].
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The data folder: raw/, normalized/, snapshot/ and out/ live under it [default: data].
    #[arg(long, global = true, env = "REEFLOW_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The folder of SQL stage files [default: pipelines].
    #[arg(long, global = true)]
    pipelines: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read every raw file with an adapter and write the canonical tables as Parquet.
    ///
    /// Files are routed by name to one adapter per layout; a file whose layout changed is an error
    /// naming the file, the line or cell and what was expected. Files without statistics
    /// (licences, metadata) are listed as not read. Example: reeflow normalize --raw ../shared/data
    Normalize {
        /// The raw folder (default: <data-dir>/raw, where `reeflow fetch` writes).
        #[arg(long)]
        raw: Option<PathBuf>,
        /// Write into <data-dir>/snapshot, the offline default a fresh clone runs on, instead of
        /// <data-dir>/normalized. Commit the result to refresh the bundled snapshot.
        #[arg(long)]
        snapshot: bool,
    },
    /// Normalize if needed, run every stage in pipelines/ in dependency order, print a summary.
    ///
    /// Input tables come from <data-dir>/normalized when present (normalized again first when a
    /// raw file is newer), else from the bundled <data-dir>/snapshot. Stage outputs go to
    /// <data-dir>/out/<stage>/.
    Run {
        /// The raw folder to normalize from when tables are missing or stale.
        #[arg(long)]
        raw: Option<PathBuf>,
        /// Print the summary as JSON for schedulers.
        #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
        format: SummaryFormat,
    },
    /// Run one read-only SQL query over every normalized table and stage output.
    ///
    /// Example: reeflow sql --format csv "SELECT year, t_reo FROM production WHERE country_iso3='CHN' AND edition='MCS2023' ORDER BY year"
    Sql {
        /// The query (DataFusion SQL; quote table names that clash with keywords).
        query: String,
        #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
        format: QueryFormat,
    },
    /// List the tables a query can read, with where each comes from.
    Tables,
}

#[derive(Clone, Copy, ValueEnum)]
enum QueryFormat {
    Table,
    Csv,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SummaryFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            let check_failed =
                error.downcast_ref::<PipelineError>().is_some_and(|e| matches!(e, PipelineError::GrainViolated { .. }));
            ExitCode::from(if check_failed { 1 } else { 2 })
        }
    }
}

async fn dispatch(cli: Cli) -> Result<()> {
    let config_path = cli.config.clone().unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG));
    let config = Config::load(&config_path, cli.config.is_some())?;
    let data_dir = cli.data_dir.or_else(|| config.paths.data_dir.clone()).unwrap_or_else(|| PathBuf::from("data"));
    let pipelines =
        cli.pipelines.or_else(|| config.paths.pipelines.clone()).unwrap_or_else(|| PathBuf::from("pipelines"));
    let layout = Layout::new(&data_dir, config.paths.raw.clone());
    let options = config.normalize_options();
    match cli.command {
        Command::Normalize { raw, snapshot } => {
            let raw = raw.unwrap_or_else(|| layout.raw.clone());
            let out = if snapshot { layout.snapshot.clone() } else { layout.normalized.clone() };
            normalize(&raw, &out, &options)
        }
        Command::Run { raw, format } => run(&layout, raw.as_deref(), &pipelines, &options, format).await,
        Command::Sql { query, format } => {
            let engine = Engine::open(&layout.input_tables()?, &layout.out).await?;
            let batches = engine.query(&query).await?;
            let format = match format {
                QueryFormat::Table => OutputFormat::Table,
                QueryFormat::Csv => OutputFormat::Csv,
                QueryFormat::Json => OutputFormat::Json,
            };
            println!("{}", format_batches(&batches, format)?.trim_end());
            Ok(())
        }
        Command::Tables => {
            let engine = Engine::open(&layout.input_tables()?, &layout.out).await?;
            for table in engine.tables() {
                let kind = match table.source {
                    TableSource::Normalized => "normalized",
                    TableSource::Stage => "stage",
                };
                println!("{:<28} {:<10} {}", table.name, kind, table.path.display());
            }
            Ok(())
        }
    }
}

/// Where each kind of data lives under the data folder.
struct Layout {
    raw: PathBuf,
    normalized: PathBuf,
    snapshot: PathBuf,
    out: PathBuf,
}

impl Layout {
    fn new(data_dir: &Path, raw: Option<PathBuf>) -> Self {
        Self {
            raw: raw.unwrap_or_else(|| data_dir.join("raw")),
            normalized: data_dir.join("normalized"),
            snapshot: data_dir.join("snapshot"),
            out: data_dir.join("out"),
        }
    }

    /// Normalized tables when present, else the bundled snapshot.
    fn input_tables(&self) -> Result<PathBuf> {
        for folder in [&self.normalized, &self.snapshot] {
            if folder.join("production.parquet").exists() {
                return Ok(folder.clone());
            }
        }
        bail!(
            "no tables in {} or {}: run `reeflow normalize --raw DIR` (e.g. --raw ../shared/data) first",
            self.normalized.display(),
            self.snapshot.display()
        )
    }
}

fn normalize(raw: &Path, out: &Path, options: &NormalizeOptions) -> Result<()> {
    eprintln!("normalizing {} → {}", raw.display(), out.display());
    let normalized = reeflow_normalize::normalize_folder(raw, options)?;
    for file in &normalized.files {
        match (&file.format, &file.ignored) {
            (Some(format), _) => {
                let mut counts = Vec::new();
                for (table, rows) in [
                    ("production", file.production),
                    ("trade", file.trade),
                    ("salient", file.salient),
                    ("countries", file.countries),
                ] {
                    if rows > 0 {
                        counts.push(format!("{rows} {table}"));
                    }
                }
                eprintln!(
                    "  read    {} [{}]: {}",
                    file.file,
                    format.name(),
                    if counts.is_empty() { "no rows".into() } else { counts.join(", ") }
                );
                for (reason, count) in &file.skipped {
                    eprintln!("          skipped {count}: {reason}");
                }
            }
            (None, reason) => eprintln!("  ignored {}: {}", file.file, reason.as_deref().unwrap_or("no adapter")),
        }
    }
    let written = reeflow_normalize::write_tables(&normalized.tables, &normalized.files, out)?;
    for table in &written {
        println!("{:<12} {:>6} rows  {}", table.table, table.rows, table.path.display());
    }
    Ok(())
}

/// True when the normalized tables are missing or older than a file in the raw folder.
fn needs_normalize(raw: &Path, normalized: &Path) -> Result<bool> {
    let manifest = normalized.join("_manifest.json");
    let Ok(written) = std::fs::metadata(&manifest).and_then(|m| m.modified()) else {
        return Ok(true);
    };
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    for file in reeflow_normalize::discover(raw)? {
        if let Ok(modified) = std::fs::metadata(&file.path).and_then(|m| m.modified()) {
            newest = newest.max(modified);
        }
    }
    Ok(newest > written)
}

async fn run(
    layout: &Layout,
    raw: Option<&Path>,
    pipelines: &Path,
    options: &NormalizeOptions,
    format: SummaryFormat,
) -> Result<()> {
    let raw = raw.map_or_else(|| layout.raw.clone(), Path::to_path_buf);
    if raw.is_dir() && needs_normalize(&raw, &layout.normalized)? {
        normalize(&raw, &layout.normalized, options)?;
    }
    let input = layout.input_tables()?;
    if format == SummaryFormat::Text {
        eprintln!("input tables: {}", input.display());
    }
    let stages = order_stages(discover_stages(pipelines)?)?;
    if stages.is_empty() {
        bail!("no stage files (*.sql) in {}", pipelines.display());
    }
    let mut engine = Engine::open(&input, &layout.out).await.context("opening the input tables")?;
    let mut inputs = serde_json::Map::new();
    for table in engine.tables().iter().filter(|t| t.source == TableSource::Normalized) {
        let rows = engine.row_count(&table.name).await?;
        if format == SummaryFormat::Text {
            eprintln!("  input {:<32} {rows:>6} rows", table.name);
        }
        inputs.insert(table.name.clone(), rows.into());
    }
    let mut runs = Vec::new();
    for stage in &stages {
        let run = engine.run_stage(stage).await?;
        if format == SummaryFormat::Text {
            eprintln!("  stage {:<32} {:>6} rows  {:>6.3} s", run.stage, run.rows, run.seconds);
        }
        runs.push(run);
    }
    match format {
        SummaryFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"input": input, "tables": inputs, "stages": runs}))?
            )
        }
        SummaryFormat::Text => {
            println!("ran {} stages on {}; outputs in {}", runs.len(), input.display(), layout.out.display());
            println!("query them, e.g.: reeflow sql \"SELECT * FROM {} LIMIT 10\"", runs[0].stage);
        }
    }
    Ok(())
}
