//! `reeflow`: the command line over the normalize and pipeline crates.
//!
//! It owns argument parsing, configuration (`config/reeflow.toml`), where data lives
//! (`--data-dir`, `--raw`), choosing between freshly normalized tables and the bundled snapshot,
//! progress and summaries, and exit codes (0 ok, 1 a check failed, 2 error). Everything else is a
//! call into a library crate.

mod bench;
mod cluster;
mod config;
mod diff;
mod fetch;
mod normalize;
mod progress;
mod refresh;
mod remote;
mod sql;
mod stages;
mod versioned;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use config::Config;

#[derive(Parser)]
#[command(
    name = "reeflow",
    version = VERSION,
    about = "Trace rare-earth flows from public statistics: normalize USGS, UN Comtrade and USITC files into Parquet, run SQL stages, query the results.",
    long_about = "reeflow turns public rare-earth statistics (USGS Mineral Commodity Summaries, Minerals Yearbook and DS-140; UN Comtrade; USITC DataWeb) into typed Parquet tables with provenance on every row, runs the SQL stages in pipelines/ over them with Apache DataFusion, and answers ad hoc SQL.\n\nA fresh clone runs offline on the bundled snapshot:\n  reeflow run\n  reeflow sql \"SELECT year, t_reo FROM production WHERE country_iso3='CHN' AND edition='MCS2023' ORDER BY year\"\n\nTo rebuild the tables from the public files:\n  reeflow normalize --raw tests/data\n\nFor schedulers and CI, one command that publishes all or nothing:\n  reeflow refresh --format json",
    after_help = "Tables: production, trade, salient, countries (normalized), ref_* (config/model.toml) and one table per stage in pipelines/ (the flow model: trade_reo, trade_flows, mirror_gaps, stage_balance, indicators, coverage, us_china_flows, …). Exit codes: 0 ok, 1 a check failed, 2 error. Logging: RUST_LOG=debug."
)]
struct Cli {
    /// The configuration file [default: config/reeflow.toml, when it exists].
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The data root [default: data]: a folder (raw/, snapshot/, versions/ and current live under
    /// it), or with the `cloud` feature a bucket, `s3://bucket/prefix`, `gs://bucket/prefix` or
    /// `az://container/prefix` (credentials from the standard AWS_*, GOOGLE_*, AZURE_* variables;
    /// endpoint and other settings in [storage] of the config).
    #[arg(long, global = true, env = "REEFLOW_DATA_DIR")]
    data_dir: Option<String>,
    /// The folder of SQL stage files [default: pipelines].
    #[arg(long, global = true)]
    pipelines: Option<PathBuf>,
    /// The flow model's reference data: HS-code stages and REO factors, regions, lane rules,
    /// edition dates, assumptions [default: config/model.toml].
    #[arg(long, global = true, env = "REEFLOW_MODEL")]
    model: Option<PathBuf>,
    /// No progress bars or per-item lines on stderr (warnings and errors still show).
    #[arg(long, short = 'q', global = true)]
    quiet: bool,
    /// Log lines (RUST_LOG=info shows a span per command, stage, fetch call and normalized file
    /// with its duration and rows): `text` for people, `json` for log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "REEFLOW_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// A version's folder of reference tables (`ref_*` as Parquet, and the model file).
const REFERENCE_DIR: &str = "ref";

/// Where a session's `ref_*` tables come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    /// The version's own `ref/` folder when it has one (versions record their model).
    Version,
    /// The model file as it is now.
    ModelFile,
}

/// The hash cache's file inside the data folder.
const HASH_CACHE_FILE: &str = ".hash-cache";

/// The version and the commit it was built from (`reeflow --version`).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("REEFLOW_GIT_COMMIT"), ")");

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
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
    /// Read every raw file with an adapter into canonical Parquet tables, rebuild the stages whose
    /// inputs changed, and publish them together as a new version.
    ///
    /// A version is published only whole: new tables with stage outputs built from them and
    /// checked (exit 1 and nothing published when a blocking check fails, as with `run`).
    /// Files are routed by name to one adapter per layout; a file whose layout changed is an error
    /// naming the file, the line or cell and what was expected. Files without statistics
    /// (licences, metadata) are listed as not read. Example: reeflow normalize --raw tests/data
    Normalize {
        /// The raw folder [default: <data-dir>/raw, where `reeflow fetch` writes].
        #[arg(long)]
        raw: Option<PathBuf>,
        /// Write into <data-dir>/snapshot, the offline default a fresh clone runs on, instead of
        /// a new version. Commit the result to refresh the bundled snapshot.
        #[arg(long)]
        snapshot: bool,
    },
    /// Normalize if needed, then run the stages in pipelines/ in dependency order, skipping those
    /// whose SQL and inputs are unchanged, checking each result before it is published.
    ///
    /// The run builds a new version (<data-dir>/versions/<id>/) and publishes it by switching
    /// <data-dir>/current in one rename; readers see the old version or the new, never a mix, and
    /// a run killed at any point leaves the published version as it was. Input tables are those
    /// normalized from the raw folder (again when a raw file is newer), else the bundled
    /// <data-dir>/snapshot. Outputs: <data-dir>/out/<stage>/ (through `current`); violating rows of
    /// failed checks: out/_checks/ of the rejected version; a run record: <data-dir>/runs/. When
    /// nothing changed, nothing is published.
    ///
    /// A version is published only when it is consistent: every stage ran or was up to date, no
    /// blocking check failed, and no stage left out by --select is stale. Otherwise it is kept as
    /// rejected (`reeflow versions` shows why), the published version stays current, and the exit
    /// code is 1 (2 when a stage's query failed).
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
    /// Fetch, normalize, run, check and diff against the published version, then publish, all or
    /// nothing: for schedulers and CI.
    ///
    /// Builds the new version beside the published one; publishes it (one atomic rename, the
    /// previous version kept) only when every check passes and no blocking diff threshold
    /// ([[diff.thresholds]] in config) is breached. A rejected version is kept under
    /// <data-dir>/versions/ for inspection with its diff (diff.md, diff.json). Exit 0 published
    /// (or nothing changed), 1 checks or thresholds failed (nothing published), 2 error. Example:
    ///   reeflow refresh --fetch none --raw tests/data --format json
    Refresh(refresh::RefreshArgs),
    /// What changed between two versions: per table, rows added, removed and changed (matched by
    /// the table's grain), the largest changes of each numeric column, schema changes, and the
    /// thresholds breached.
    ///
    /// OLD and NEW are version ids (`reeflow versions` lists them), `current`, `previous`, or
    /// paths to a version folder or a stage output folder. Exit 1 when a blocking threshold is
    /// breached. Examples:
    ///   reeflow diff                       # what the last publish changed (previous → current)
    ///   reeflow diff v0003-20261128T101500Z current --format markdown --output diff.md
    Diff(diff::DiffArgs),
    /// List the versions in the data folder: which is current, what made each, and why a
    /// rejected one was not published.
    Versions {
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
    ///
    /// The published version is only read: violating rows are saved beside the run record, in
    /// <data-dir>/runs/<record>.failing-rows/.
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
        /// Evaluate WHERE filters inside the Parquet reader, before the other columns are decoded
        /// (late materialization). Faster when a filter keeps few rows of a large table (the
        /// stages always use it), slower when it keeps many: off by default here. `SET
        /// datafusion.execution.parquet.pushdown_filters` does not reach the tables registered at
        /// start; this flag does.
        #[arg(long)]
        pushdown_filters: bool,
    },
    /// List the tables a query can read, with where each comes from.
    Tables,
    /// Draw the report: a Sankey diagram of the flows per year (regions × stages, trade, and the
    /// unregistered flows as signed nodes), time-series charts, and the coverage and provenance
    /// of every figure, as one self-contained HTML page plus each figure as an SVG file.
    ///
    /// Reads the published stage outputs (run `reeflow run` first). The page needs no network and
    /// no JavaScript; hover a link for its value and range. Example:
    ///   reeflow report --year 2018,2022 && xdg-open data/reports/index.html
    Report {
        /// Sankey years, comma-separated [default: the latest year with an unregistered flow].
        #[arg(long, value_delimiter = ',')]
        year: Vec<i32>,
        /// The output folder [default: <data-dir>/reports].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Benchmarks at world-trade scale, beside DuckDB: `bench gen` writes generated data,
    /// `bench run` measures (see BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
    /// The processes of an Apache DataFusion Ballista cluster that runs the stages' queries
    /// (`[engine] mode = "ballista"` in the config). One scheduler, any number of executors; the
    /// executors read a local data root's files at the same paths as the client, and a bucket
    /// root's from the bucket. Needs a build with the `cluster` feature. Example, all on one
    /// machine:
    ///   reeflow cluster scheduler &
    ///   reeflow cluster executor --flight-port 50051 --grpc-port 50052 &
    ///   reeflow cluster executor --flight-port 50061 --grpc-port 50062 &
    ///   REEFLOW_ENGINE_MODE=ballista REEFLOW_SCHEDULER=df://127.0.0.1:50050 reeflow run
    Cluster {
        #[command(subcommand)]
        command: cluster::ClusterCommand,
    },
    /// Print a shell completion script: `reeflow completions bash > /etc/bash_completion.d/reeflow`,
    /// `reeflow completions zsh > "${fpath[1]}/_reeflow"`, `reeflow completions fish >
    /// ~/.config/fish/completions/reeflow.fish`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `reeflow man > reeflow.1 && man ./reeflow.1`.
    Man,
    /// Write the stage catalogue (Markdown, from the stage headers) to docs/stages.md.
    Docs {
        #[arg(long, default_value = "docs/stages.md")]
        output: PathBuf,
        /// Do not write: exit 1 if the file differs from what would be written (for CI).
        #[arg(long)]
        check: bool,
    },
}

impl Command {
    /// The subcommand's name, for the command's tracing span.
    fn name(&self) -> &'static str {
        match self {
            Command::Fetch { .. } => "fetch",
            Command::Normalize { .. } => "normalize",
            Command::Run { .. } => "run",
            Command::Refresh(_) => "refresh",
            Command::Diff(_) => "diff",
            Command::Versions { .. } => "versions",
            Command::Plan { .. } => "plan",
            Command::Check { .. } => "check",
            Command::Sql { .. } => "sql",
            Command::Tables => "tables",
            Command::Report { .. } => "report",
            Command::Bench { .. } => "bench",
            Command::Cluster { .. } => "cluster",
            Command::Completions { .. } => "completions",
            Command::Man => "man",
            Command::Docs { .. } => "docs",
        }
    }
}

/// `--select`: which stages a command touches.
#[derive(clap::Args)]
struct Selection {
    /// Stages to touch: `name`, `name+` (with descendants), `+name` (with ancestors), comma-separated.
    #[arg(long, short = 's')]
    select: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    Text,
    Json,
}

/// Writes generated text to stdout; a reader that stops early (`| head`) is not an error.
fn print_generated(bytes: &[u8]) -> Result<u8> {
    use std::io::Write;
    match std::io::stdout().write_all(bytes).and_then(|()| std::io::stdout().flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}

/// Tracing to stderr, filtered by RUST_LOG (default: warnings; for the long-running cluster
/// processes, what Ballista reports at info: registrations, tasks), as text or JSON lines. Spans
/// log when they close, with their duration (`time.busy`, `time.idle`) and the fields they carry.
fn init_logging(format: LogFormat, default_filter: &str) {
    use tracing_subscriber::fmt::format::FmtSpan;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_span_events(FmtSpan::CLOSE);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(true).init(),
    }
}

/// The error and its causes on one line, `outer: cause: root`. Library errors print their
/// direct cause in their own message too (`file: cannot read: No such file`), so a cause whose text
/// the message already holds is not repeated.
fn describe(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = if matches!(cli.command, Command::Cluster { .. }) {
        "warn,ballista_scheduler=info,ballista_executor=info"
    } else {
        "warn"
    };
    init_logging(cli.log_format, default_filter);
    // Deep query plans (the flow model's stages join a dozen CTEs) are walked recursively: by the
    // optimizers, and on a cluster by the plan's protobuf encoding and decoding. 32 MiB stacks,
    // as Ballista's own binaries use (only the pages a recursion touches are ever allocated).
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(32 << 20).build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let span = tracing::info_span!("command", command = cli.command.name());
    let code = match runtime.block_on(tracing::Instrument::instrument(dispatch(cli), span)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            2
        }
    };
    // For `reeflow bench`, which runs each step as its own process and reads its peak memory.
    if let (Some(path), Some(peak)) = (std::env::var_os(bench::PEAK_MEMORY_FILE), reeflow_bench::peak_memory_bytes()) {
        let _ = std::fs::write(path, peak.to_string());
    }
    ExitCode::from(code)
}

/// Settings resolved from flags, then the config file, then defaults.
pub struct Settings {
    pub layout: Layout,
    pub engine_options: reeflow_pipeline::EngineOptions,
    /// Where stage queries run (`[engine] mode`).
    pub stage_engine: cluster::StageEngine,
    /// `[storage]` options: how buckets are opened (the data root's, and a cluster client's).
    pub storage: std::collections::BTreeMap<String, String>,
    pub pipelines: PathBuf,
    pub options: reeflow_normalize::NormalizeOptions,
    /// `--quiet`: no progress on stderr.
    pub quiet: bool,
}

impl Settings {
    /// How progress shows for a command whose stdout is `machine_output` (JSON) or not.
    pub fn display(&self, machine_output: bool) -> progress::Display {
        progress::Display::choose(self.quiet, machine_output)
    }

    /// A session over the published tables.
    pub async fn engine(&self) -> Result<reeflow_pipeline::Engine> {
        self.layout.engine(&self.engine_options).await
    }
}

/// `--config`, else the default file when it exists.
fn load_config(given: Option<&Path>) -> Result<Config> {
    let path = given.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG));
    Config::load(&path, given.is_some())
}

async fn dispatch(cli: Cli) -> Result<u8> {
    // Generated from the command definitions; they need no configuration or data folder.
    match cli.command {
        Command::Cluster { command } => {
            let storage = load_config(cli.config.as_deref())?.storage.options;
            return cluster::serve(command, &storage).await;
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "reeflow", &mut script);
            return print_generated(&script);
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut page)?;
            return print_generated(&page);
        }
        _ => {}
    }
    let config = load_config(cli.config.as_deref())?;
    let root = cli.data_dir.or_else(|| config.paths.data_dir.clone()).unwrap_or_else(|| "data".to_string());
    let (data_dir, remote) = match reeflow_publish::location::parse(&root, &config.storage.options)? {
        reeflow_publish::Location::Local(path) => (path, None),
        reeflow_publish::Location::Remote(remote) => {
            let mirror = remote::Remote::mirror_dir(&remote.url, config.storage.cache.as_deref());
            let keep = config.versions.keep.unwrap_or(reeflow_versions::store::DEFAULT_KEEP);
            (mirror, Some(remote::Remote::new(remote, keep, cli.quiet)))
        }
    };
    let settings = Settings {
        engine_options: config.engine_options(),
        stage_engine: config.stage_engine()?,
        storage: config.storage.options.clone(),
        pipelines: cli
            .pipelines
            .or_else(|| config.paths.pipelines.clone())
            .unwrap_or_else(|| PathBuf::from("pipelines")),
        layout: Layout::new(
            &data_dir,
            config.paths.raw.clone(),
            cli.model.clone().or_else(|| config.paths.model.clone()),
            config.versions.keep,
            remote,
        ),
        options: config.normalize_options(),
        quiet: cli.quiet,
    };
    let layout = &settings.layout;
    // Commands that write under the data folder hold its lock; queries do not need it.
    let writer = match &cli.command {
        Command::Fetch { .. } => Some("reeflow fetch"),
        Command::Normalize { .. } => Some("reeflow normalize"),
        Command::Run { .. } => Some("reeflow run"),
        Command::Check { .. } => Some("reeflow check"),
        Command::Refresh(_) => Some("reeflow refresh"),
        _ => None,
    };
    let _lock = writer.map(|command| lock_data_dir(layout, command)).transpose()?;
    // A remote root: its published version, resolved once, copied into the local mirror.
    let needs_data = !matches!(cli.command, Command::Fetch { .. } | Command::Docs { .. } | Command::Bench { .. });
    if let Some(remote) = &layout.remote
        && needs_data
    {
        remote.sync(&layout.versions, writer.is_some()).await?;
    }
    // A remote root keeps the raw cache in the bucket (unless the raw folder is one of the user's):
    // commands that read it copy what the mirror lacks; those that fetch upload what they got.
    let bucket_raw = layout.remote.as_ref().filter(|_| config.paths.raw.is_none()).filter(|_| match &cli.command {
        Command::Fetch { .. } => true,
        Command::Normalize { raw, .. } | Command::Run { raw, .. } => raw.is_none(),
        Command::Refresh(args) => args.raw.is_none(),
        _ => false,
    });
    let fetches = matches!(&cli.command, Command::Fetch { dry_run: false, .. } | Command::Refresh(_));
    if let Some(remote) = bucket_raw {
        remote.pull_raw(&layout.raw).await?;
    }
    let code = match cli.command {
        Command::Fetch { source, comtrade, refresh, dry_run, format } => {
            let summaries =
                fetch::fetch_sources(&settings, &config, source, &comtrade, refresh, dry_run, format).await?;
            fetch::report(&summaries, format, dry_run)
        }
        Command::Normalize { raw, snapshot } => {
            let raw = raw.unwrap_or_else(|| layout.raw.clone());
            if snapshot {
                normalize::print_written(&normalize::normalize(
                    &raw,
                    &layout.snapshot,
                    &settings.options,
                    settings.display(false),
                )?);
                Ok(0)
            } else {
                versioned::normalize_into_new_version(&settings, &raw).await
            }
        }
        Command::Run { raw, selection, force, format } => {
            let raw = raw.unwrap_or_else(|| layout.raw.clone());
            stages::run(&settings, &raw, selection.select.as_deref(), force, format).await
        }
        Command::Refresh(args) => refresh::refresh(&settings, &config, args).await,
        Command::Diff(args) => diff::diff(&settings, &config, args).await,
        Command::Versions { format } => match &layout.remote {
            Some(remote) => remote.list(format).await,
            None => versioned::list(&settings, format),
        },
        Command::Plan { selection, force, format } => {
            stages::plan(&settings, selection.select.as_deref(), force, format).await
        }
        Command::Check { selection, format } => stages::check(&settings, selection.select.as_deref(), format).await,
        Command::Sql { query, format, output, allow_write, pushdown_filters } => {
            let options = reeflow_pipeline::EngineOptions {
                filter_pushdown: pushdown_filters,
                ..settings.engine_options.clone()
            };
            sql::sql(&settings, &options, query.as_deref(), format, output.as_deref(), allow_write).await
        }
        Command::Tables => sql::tables(&settings).await,
        Command::Report { year, out } => {
            let out = out.unwrap_or_else(|| layout.data_dir.join("reports"));
            report(&settings, &year, &out).await
        }
        Command::Docs { output, check } => stages::docs(&settings, &output, check),
        Command::Bench { command } => bench::dispatch(&settings, command),
        Command::Cluster { .. } | Command::Completions { .. } | Command::Man => {
            unreachable!("answered before the configuration is read")
        }
    };
    // Files a cluster read from the bucket for a version that was not published go.
    if let Some(remote) = &layout.remote {
        remote.discard_unpublished().await;
    }
    // What was fetched goes to the bucket's raw cache, also after a failure (answers already
    // fetched count against a quota); if the upload fails they stay in the mirror for the next.
    if let Some(remote) = bucket_raw.filter(|_| fetches)
        && let Err(error) = remote.push_raw(&layout.raw).await
    {
        let error = error.context(format!(
            "the new raw files stay in {} and are uploaded by the next fetch or refresh",
            layout.raw.display()
        ));
        match code {
            Ok(_) => return Err(error),
            Err(_) => eprintln!("error: {error:#}"),
        }
    }
    // Writers leave the hash cache as their links and unlinks left the files, under the lock.
    if writer.is_some() {
        layout.save_hashes();
    }
    code
}

/// `reeflow report`: draws the published version's outputs into `out`.
async fn report(settings: &Settings, years: &[i32], out: &Path) -> Result<u8> {
    // One resolution of `current` for both the engine and what the page says it shows.
    let published = settings.layout.published()?;
    let engine = settings.layout.engine_over(&published.inputs, &published.out, &settings.engine_options).await?;
    let context = reeflow_report::ReportContext {
        version: published.version.as_ref().map(|v| v.info.id.clone()),
        inputs: published.version.as_ref().map(|v| format!("{:?}", v.info.inputs).to_lowercase()),
        generated_at: reeflow_model::date::utc_now_iso(),
    };
    let report = reeflow_report::build(&engine, years, &context).await?;
    let written = report.write(out)?;
    for path in &written {
        println!("{}", path.display());
    }
    eprintln!(
        "report of {} ({} files)",
        report.years.iter().map(i32::to_string).collect::<Vec<_>>().join(", "),
        written.len()
    );
    Ok(0)
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
    pub snapshot: PathBuf,
    /// Run records (`reeflow run`, `check`, `refresh`), across versions.
    pub runs: PathBuf,
    /// The published versions (`versions/`, `current`).
    pub versions: reeflow_versions::VersionStore,
    /// The flow model's reference data; `explicit` when the user named it.
    pub model: PathBuf,
    pub model_explicit: bool,
    /// SHA-256 of input files by inode, size, mtime and ctime (`<data>/.hash-cache`), so an
    /// unchanged file is not read again; writers save it when they finish.
    pub hashes: std::sync::Arc<std::sync::Mutex<reeflow_files::HashCache>>,
    /// The bucket when the data root is remote (`data_dir` is then its local mirror).
    pub remote: Option<remote::Remote>,
}

/// The tables a reader sees, resolved once: the current version's, or (before the first
/// version) the plain `normalized/` or bundled `snapshot/` tables and `out/`.
pub struct Published {
    pub inputs: PathBuf,
    pub out: PathBuf,
    pub version: Option<reeflow_versions::Version>,
}

impl Layout {
    fn new(
        data_dir: &Path,
        raw: Option<PathBuf>,
        model: Option<PathBuf>,
        keep: Option<usize>,
        remote: Option<remote::Remote>,
    ) -> Self {
        let mut versions = reeflow_versions::VersionStore::new(data_dir);
        if let Some(keep) = keep {
            versions = versions.keep(keep);
        }
        Self {
            model_explicit: model.is_some(),
            model: model.unwrap_or_else(|| PathBuf::from(reeflow_reference::DEFAULT_MODEL_FILE)),
            data_dir: data_dir.to_path_buf(),
            raw: raw.unwrap_or_else(|| data_dir.join("raw")),
            snapshot: data_dir.join("snapshot"),
            runs: data_dir.join("runs"),
            versions,
            hashes: std::sync::Arc::new(std::sync::Mutex::new(reeflow_files::HashCache::load(
                &data_dir.join(HASH_CACHE_FILE),
            ))),
            remote,
        }
    }

    /// Publishes a staged version: in the data folder by switching `current`; on a remote root by
    /// uploading it and swapping the bucket's pointer first (see [`remote::Remote::publish`]).
    pub async fn publish(
        &self,
        staging: reeflow_versions::Staging,
        inputs: reeflow_versions::Inputs,
    ) -> Result<reeflow_versions::Version> {
        match &self.remote {
            None => Ok(self.versions.publish(staging, inputs)?),
            Some(remote) => {
                let sealed = self.versions.seal_for_publish(staging, inputs)?;
                remote.publish(&self.versions, sealed).await
            }
        }
    }

    /// Keeps a staged version as rejected (with why): in the data folder, and on a remote root in
    /// the bucket too (uploaded, never current), so it can be inspected from any machine.
    pub async fn reject(
        &self,
        staging: reeflow_versions::Staging,
        inputs: reeflow_versions::Inputs,
        reason: &str,
    ) -> Result<reeflow_versions::Version> {
        let version = self.versions.reject(staging, inputs, reason)?;
        if let Some(remote) = &self.remote {
            remote.keep_rejected(&version, reason).await;
        }
        Ok(version)
    }

    /// A version by name (`current`, `previous`, an id), from the bucket on a remote root.
    pub async fn version(&self, name: &str) -> Result<reeflow_versions::Version> {
        match &self.remote {
            None => Ok(self.versions.get(name)?),
            Some(remote) => remote.version(&self.versions, name).await,
        }
    }

    /// The sha256 of a file through the hash cache.
    pub fn sha256(&self, path: &Path) -> std::io::Result<String> {
        self.hashes.lock().unwrap_or_else(|e| e.into_inner()).sha256(path)
    }

    /// Marks files as verified before this command links them (see `reeflow_files::hash_cache`).
    pub fn trust_unchanged(&self, folder: &Path) {
        let Ok(entries) = std::fs::read_dir(folder) else { return };
        let files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
        self.hashes.lock().unwrap_or_else(|e| e.into_inner()).trust_unchanged(files.iter().map(PathBuf::as_path));
    }

    /// Writes the hash cache (a failure only costs a rehash next time, so it is a warning).
    pub fn save_hashes(&self) {
        let mut cache = self.hashes.lock().unwrap_or_else(|e| e.into_inner());
        // Files hashed through a staging version's links live on in the published version.
        if let Ok(Some(version)) = self.versions.current()
            && let Ok(entries) = std::fs::read_dir(version.normalized())
        {
            let files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            cache.meet(files.iter().map(PathBuf::as_path));
        }
        if let Err(error) = cache.save() {
            tracing::warn!("could not save the hash cache: {error}");
        }
    }

    /// What readers see now.
    pub fn published(&self) -> Result<Published> {
        if let Some(remote) = &self.remote {
            let Some(version) = remote.published() else { bail!(remote.nothing_published()) };
            return Ok(Published { inputs: version.normalized(), out: version.out(), version: Some(version.clone()) });
        }
        if let Some(version) = self.versions.current()? {
            return Ok(Published { inputs: version.normalized(), out: version.out(), version: Some(version) });
        }
        let legacy = self.data_dir.join("normalized");
        for folder in [&legacy, &self.snapshot] {
            if folder.join("production.parquet").exists() {
                return Ok(Published { inputs: folder.clone(), out: self.data_dir.join("out"), version: None });
            }
        }
        bail!(
            "no tables in {}: run `reeflow normalize --raw DIR` (e.g. --raw tests/data), or `reeflow run` \
             where the bundled snapshot ({}) is",
            self.data_dir.display(),
            self.snapshot.display()
        )
    }

    /// Writes the model's reference tables into a version being built (`<version>/ref/<name>.parquet`,
    /// beside them the model file itself as `ref/model.toml`): the version then records the model
    /// it was built with, any tool can read it, and its stages read only Parquet.
    pub fn write_reference(&self, version_dir: &Path) -> Result<()> {
        if !(self.model.exists() || self.model_explicit) {
            return Ok(());
        }
        let dir = version_dir.join(REFERENCE_DIR);
        std::fs::create_dir_all(&dir)?;
        let model = reeflow_reference::ModelConfig::load(&self.model)?;
        for (name, batch) in model.tables(&self.model.display().to_string())? {
            reeflow_files::parquet::write_parquet(&dir.join(format!("{name}.parquet")), &batch)?;
        }
        let text = std::fs::read(&self.model)
            .map_err(|e| anyhow::anyhow!("cannot read the model file {}: {e}", self.model.display()))?;
        reeflow_files::write_bytes_atomically(&dir.join("model.toml"), &text)?;
        Ok(())
    }

    /// A session over the published tables.
    pub async fn engine(&self, options: &reeflow_pipeline::EngineOptions) -> Result<reeflow_pipeline::Engine> {
        let published = self.published()?;
        self.engine_over(&published.inputs, &published.out, options).await
    }

    /// A session over the input tables in `inputs`, the model's reference tables (`ref_*`, from
    /// the model file) and the stage outputs in `out`; run records go to `runs/`. Without a model
    /// file (and none named), stages that read `ref_*` tables fail naming the missing table.
    pub async fn engine_over(
        &self,
        inputs: &Path,
        out: &Path,
        options: &reeflow_pipeline::EngineOptions,
    ) -> Result<reeflow_pipeline::Engine> {
        self.engine_with(inputs, out, options, ModelSource::Version).await
    }

    /// [`Layout::engine_over`] with the `ref_*` tables from the version (its `ref/` folder, when
    /// it has one) or from the model file as it is now (`plan`: what a run would rebuild).
    pub async fn engine_with(
        &self,
        inputs: &Path,
        out: &Path,
        options: &reeflow_pipeline::EngineOptions,
        model_source: ModelSource,
    ) -> Result<reeflow_pipeline::Engine> {
        let mut engine = reeflow_pipeline::Engine::open_with(inputs, out, options).await?;
        engine.set_runs_dir(&self.runs);
        engine.set_hash_cache(self.hashes.clone());
        // A version carries the reference tables it was built with (`<version>/ref/`).
        let reference = out.parent().map(|version| version.join(REFERENCE_DIR)).filter(|dir| dir.is_dir());
        if let Some(dir) = reference
            && model_source == ModelSource::Version
        {
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "parquet") {
                    let name = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
                    engine.register_reference_parquet(&name, &path).await?;
                }
            }
            return Ok(engine);
        }
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
