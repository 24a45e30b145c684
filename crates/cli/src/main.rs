//! `reeflow`: the command line over the normalize and pipeline crates.
//!
//! It owns argument parsing, configuration (`config/reeflow.toml`), where data lives
//! (`--data-dir`, `--raw`), choosing between freshly normalized tables and the bundled snapshot,
//! progress and summaries, and exit codes (0 ok, 1 a check failed, 2 error). Everything else is a
//! call into a library crate.

mod config;
mod fetch;
mod normalize;
mod sql;
mod stages;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use config::Config;

#[derive(Parser)]
#[command(
    name = "reeflow",
    version,
    about = "Trace rare-earth flows from public statistics: normalize USGS, UN Comtrade and USITC files into Parquet, run SQL stages, query the results.",
    long_about = "reeflow turns public rare-earth statistics (USGS Mineral Commodity Summaries, Minerals Yearbook and DS-140; UN Comtrade; USITC DataWeb) into typed Parquet tables with provenance on every row, runs the SQL stages in pipelines/ over them with Apache DataFusion, and answers ad hoc SQL.\n\nA fresh clone runs offline on the bundled snapshot:\n  reeflow run\n  reeflow sql \"SELECT year, t_reo FROM production WHERE country_iso3='CHN' AND edition='MCS2023' ORDER BY year\"\n\nTo rebuild the tables from the public files:\n  reeflow normalize --raw ../shared/data",
    after_help = "Tables: production, trade, salient, countries (normalized), ref_* (config/model.toml) and one table per stage in pipelines/ (the flow model: trade_reo, trade_flows, mirror_gaps, stage_balance, indicators, coverage, us_china_flows, …). Exit codes: 0 ok, 1 a check failed, 2 error. Logging: RUST_LOG=debug."
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
    /// The flow model's reference data: HS-code stages and REO factors, regions, lane rules,
    /// edition dates, assumptions [default: config/model.toml].
    #[arg(long, global = true, env = "REEFLOW_MODEL")]
    model: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Download raw statistics (UN Comtrade, USGS) into <data-dir>/raw/<source>/, once each.
    ///
    /// Polite: a rate limit per source, retries with backoff on 429/5xx/timeouts honouring
    /// Retry-After, a clean stop on "quota exceeded" (the next run resumes). Every file is written
    /// atomically and recorded in <source>/manifest.json (URL, parameters, time, status, bytes,
    /// sha256, rows); cached files are not requested again unless --refresh. With
    /// COMTRADE_API_KEY set, the keyed Comtrade endpoint is used. Example:
    ///   reeflow fetch comtrade --reporters 156 --codes 2846 --flows M --years 2018-2022 --dry-run
    Fetch {
        #[arg(value_enum, default_value_t = fetch::Which::All)]
        source: fetch::Which,
        #[command(flatten)]
        comtrade: fetch::ComtradeArgs,
        /// Fetch again even what is cached.
        #[arg(long)]
        refresh: bool,
        /// Print the planned requests and stop.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
        format: SummaryFormat,
    },
    /// Read every raw file with an adapter and write the canonical tables as Parquet.
    ///
    /// Files are routed by name to one adapter per layout; a file whose layout changed is an error
    /// naming the file, the line or cell and what was expected. Files without statistics
    /// (licences, metadata) are listed as not read. Example: reeflow normalize --raw ../shared/data
    Normalize {
        /// The raw folder [default: <data-dir>/raw, where `reeflow fetch` writes].
        #[arg(long)]
        raw: Option<PathBuf>,
        /// Write into <data-dir>/snapshot, the offline default a fresh clone runs on, instead of
        /// <data-dir>/normalized. Commit the result to refresh the bundled snapshot.
        #[arg(long)]
        snapshot: bool,
    },
    /// Normalize if needed, then run the stages in pipelines/ in dependency order, skipping those
    /// whose SQL and inputs are unchanged, checking each result before it is published.
    ///
    /// Input tables come from <data-dir>/normalized when present (normalized again first when a
    /// raw file is newer), else from the bundled <data-dir>/snapshot. Outputs go to
    /// <data-dir>/out/<stage>/; violating rows of failed checks to <data-dir>/out/_checks/; a run
    /// record to <data-dir>/out/_runs/. Exit 1 when a blocking check fails.
    Run {
        /// The raw folder to normalize from when tables are missing or stale.
        #[arg(long)]
        raw: Option<PathBuf>,
        #[command(flatten)]
        selection: Selection,
        /// Rebuild the selected stages even when up to date.
        #[arg(long)]
        force: bool,
        /// Print the run record as JSON (for schedulers) instead of text.
        #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
        format: SummaryFormat,
    },
    /// Show the stages in run order with their inputs, and whether each will run or is up to
    /// date, and why.
    Plan {
        #[command(flatten)]
        selection: Selection,
        /// Plan as if --force were given to `run`.
        #[arg(long)]
        force: bool,
        /// Print the plan as JSON instead of text.
        #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
        format: SummaryFormat,
    },
    /// Run every stage's checks on its published output, without rebuilding. Exit 1 when a
    /// blocking check fails.
    Check {
        #[command(flatten)]
        selection: Selection,
        /// Print the check record as JSON instead of text.
        #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
        format: SummaryFormat,
    },
    /// Run SQL over every normalized table and stage output: one query, or an interactive prompt
    /// (with history) when no query is given.
    ///
    /// Read-only unless --allow-write. Examples:
    ///   reeflow sql --format csv "SELECT year, t_reo FROM production WHERE country_iso3='CHN' AND edition='MCS2023' ORDER BY year"
    ///   reeflow sql --format parquet --output china.parquet "SELECT * FROM production WHERE country_iso3='CHN'"
    Sql {
        /// The query (DataFusion SQL). Without it, an interactive prompt starts.
        query: Option<String>,
        #[arg(long, value_enum, default_value_t = sql::QueryFormat::Table)]
        format: sql::QueryFormat,
        /// Write the result to this file instead of printing it (required for parquet).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Allow COPY, CREATE and INSERT statements.
        #[arg(long)]
        allow_write: bool,
    },
    /// List the tables a query can read, with where each comes from.
    Tables,
    /// Write the stage catalogue (Markdown, from the stage headers) to docs/stages.md.
    Docs {
        #[arg(long, default_value = "docs/stages.md")]
        output: PathBuf,
        /// Do not write: exit 1 if the file differs from what would be written (for CI).
        #[arg(long)]
        check: bool,
    },
}

/// `--select`: which stages a command touches.
#[derive(clap::Args)]
struct Selection {
    /// Stages to touch: `name`, `name+` (with descendants), `+name` (with ancestors), comma-separated.
    #[arg(long, short = 's')]
    select: Option<String>,
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
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Settings resolved from flags, then the config file, then defaults.
pub struct Settings {
    pub layout: Layout,
    pub pipelines: PathBuf,
    pub options: reeflow_normalize::NormalizeOptions,
}

async fn dispatch(cli: Cli) -> Result<u8> {
    let config_path = cli.config.clone().unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG));
    let config = Config::load(&config_path, cli.config.is_some())?;
    let data_dir = cli.data_dir.or_else(|| config.paths.data_dir.clone()).unwrap_or_else(|| PathBuf::from("data"));
    let settings = Settings {
        pipelines: cli
            .pipelines
            .or_else(|| config.paths.pipelines.clone())
            .unwrap_or_else(|| PathBuf::from("pipelines")),
        layout: Layout::new(
            &data_dir,
            config.paths.raw.clone(),
            cli.model.clone().or_else(|| config.paths.model.clone()),
        ),
        options: config.normalize_options(),
    };
    let layout = &settings.layout;
    // Commands that write under the data folder hold its lock; queries do not need it.
    let writer = match &cli.command {
        Command::Fetch { .. } => Some("reeflow fetch"),
        Command::Normalize { .. } => Some("reeflow normalize"),
        Command::Run { .. } => Some("reeflow run"),
        Command::Check { .. } => Some("reeflow check"),
        _ => None,
    };
    let _lock = writer.map(|command| lock_data_dir(layout, command)).transpose()?;
    match cli.command {
        Command::Fetch { source, comtrade, refresh, dry_run, format } => {
            fetch::fetch(&settings, &config, source, &comtrade, refresh, dry_run, format).await
        }
        Command::Normalize { raw, snapshot } => {
            let raw = raw.unwrap_or_else(|| layout.raw.clone());
            let out = if snapshot { layout.snapshot.clone() } else { layout.normalized.clone() };
            normalize::normalize(&raw, &out, &settings.options)?;
            Ok(0)
        }
        Command::Run { raw, selection, force, format } => {
            let raw = raw.unwrap_or_else(|| layout.raw.clone());
            if raw.is_dir() && normalize::needs_normalize(&raw, &layout.normalized)? {
                normalize::normalize(&raw, &layout.normalized, &settings.options)?;
            }
            stages::run(&settings, selection.select.as_deref(), force, format).await
        }
        Command::Plan { selection, force, format } => {
            stages::plan(&settings, selection.select.as_deref(), force, format).await
        }
        Command::Check { selection, format } => stages::check(&settings, selection.select.as_deref(), format).await,
        Command::Sql { query, format, output, allow_write } => {
            sql::sql(&settings, query.as_deref(), format, output.as_deref(), allow_write).await
        }
        Command::Tables => sql::tables(&settings).await,
        Command::Docs { output, check } => stages::docs(&settings, &output, check),
    }
}

/// Takes the data folder's one-writer lock, saying so when it clears one left by a dead process.
fn lock_data_dir(layout: &Layout, command: &str) -> Result<reeflow_versions::DataLock> {
    let lock = reeflow_versions::DataLock::acquire(&layout.data_dir, command)?;
    if let Some(stale) = &lock.cleared_stale {
        eprintln!(
            "note: cleared a stale lock of pid {} (`{}`, started {}): that process is gone",
            stale.pid, stale.command, stale.started_at
        );
    }
    Ok(lock)
}

/// Where each kind of data lives under the data folder.
pub struct Layout {
    pub data_dir: PathBuf,
    pub raw: PathBuf,
    pub normalized: PathBuf,
    pub snapshot: PathBuf,
    pub out: PathBuf,
    /// The flow model's reference data; `explicit` when the user named it.
    pub model: PathBuf,
    pub model_explicit: bool,
}

impl Layout {
    fn new(data_dir: &Path, raw: Option<PathBuf>, model: Option<PathBuf>) -> Self {
        Self {
            model_explicit: model.is_some(),
            model: model.unwrap_or_else(|| PathBuf::from(reeflow_reference::DEFAULT_MODEL_FILE)),
            data_dir: data_dir.to_path_buf(),
            raw: raw.unwrap_or_else(|| data_dir.join("raw")),
            normalized: data_dir.join("normalized"),
            snapshot: data_dir.join("snapshot"),
            out: data_dir.join("out"),
        }
    }

    /// Normalized tables when present, else the bundled snapshot.
    pub fn input_tables(&self) -> Result<PathBuf> {
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

    /// A session over the input tables, the model's reference tables (`ref_*`, from the model
    /// file) and the published stage outputs. Without a model file (and none named), stages that
    /// read `ref_*` tables fail naming the missing table.
    pub async fn engine(&self) -> Result<reeflow_pipeline::Engine> {
        let mut engine = reeflow_pipeline::Engine::open(&self.input_tables()?, &self.out).await?;
        if self.model.exists() || self.model_explicit {
            let model = reeflow_reference::ModelConfig::load(&self.model)?;
            for (name, batch) in model.tables(&self.model.display().to_string())? {
                engine.register_batch(name, batch, &self.model)?;
            }
        } else {
            eprintln!(
                "note: no model file {} here: the ref_* tables the flow model reads are missing \
                 (run from the repository, or pass --model FILE)",
                self.model.display()
            );
        }
        Ok(engine)
    }
}
