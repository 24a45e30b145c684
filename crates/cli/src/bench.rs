//! `reeflow bench`: generate world-trade-sized data and measure reeflow's steps on it, each in its
//! own process (wall time and peak memory), beside DuckDB running the same SQL on the same files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::Settings;
use crate::progress::Progress;

/// The benchmark's SQL (the same text runs in reeflow and DuckDB) and its DuckDB runner, built
/// into the binary so `reeflow bench run` works from any folder.
const MIRROR_SQL: &str = include_str!("../../../bench/sql/mirror.sql");
const BALANCE_SQL: &str = include_str!("../../../bench/sql/balance.sql");
const DUCKDB_STEP: &str = include_str!("../../../bench/duckdb_step.py");

/// The environment variable that makes a `reeflow` process write its peak memory (bytes) to a
/// file when it ends: how the runner measures a step.
pub const PEAK_MEMORY_FILE: &str = "REEFLOW_PEAK_MEMORY_FILE";

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Write a deterministic `trade` table (canonical schema, Parquet) shaped like world trade:
    /// ~200 reporters and 5,000 HS6 codes with skewed frequencies, both-sided reports with
    /// mirror discrepancies, one-sided flows, World rows.
    Gen {
        /// Rows to write (at least; a flow's reports are never split).
        #[arg(long)]
        rows: u64,
        /// Years, FIRST-LAST.
        #[arg(long, default_value = "2000-2022")]
        years: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The file [default: <data-dir>/bench/trade-<rows>-seed<seed>.parquet].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Measure, per size: every stage of pipelines/ end to end, a no-op rerun, the mirror and
    /// balance SQL of bench/sql/ (also in DuckDB), and normalization of Comtrade JSON (also in
    /// DuckDB). Prints a Markdown table of wall time, peak memory and the reeflow/DuckDB ratio.
    ///
    /// DuckDB runs with the Python named by --python (bench/run.sh makes a venv with duckdb);
    /// without it the DuckDB columns stay empty. Example:
    ///   bench/run.sh 1000000,10000000
    Run {
        /// Sizes in rows, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1000000")]
        rows: Vec<u64>,
        #[arg(long, default_value = "2000-2022")]
        years: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Comtrade JSON records normalized per size (at most the size).
        #[arg(long, default_value_t = 1_000_000)]
        json_rows: u64,
        /// A Python with the `duckdb` package.
        #[arg(long, env = "REEFLOW_BENCH_PYTHON")]
        python: Option<PathBuf>,
        /// Where generated data and scratch folders go [default: <data-dir>/bench].
        #[arg(long)]
        work: Option<PathBuf>,
        /// Also write the measurements as JSON here.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Also run every stage on this Ballista scheduler (df://host:port, with its executors on
        /// this machine; a build with the `cluster` feature), check that the outputs are
        /// byte-identical to the local run's, and report its time beside the local one.
        #[arg(long)]
        scheduler: Option<String>,
    },
}

/// One measured step.
#[derive(Debug, Clone, serde::Serialize)]
struct Measurement {
    rows: u64,
    step: String,
    reeflow_seconds: f64,
    reeflow_peak_bytes: Option<u64>,
    duckdb_seconds: Option<f64>,
    duckdb_peak_bytes: Option<u64>,
    /// Rows per second, for throughput steps.
    rows_per_second: Option<f64>,
}

fn parse_years(text: &str) -> Result<(i32, i32)> {
    let (first, last) = text.split_once('-').context("--years: expected FIRST-LAST, e.g. 2000-2022")?;
    Ok((first.trim().parse()?, last.trim().parse()?))
}

pub fn dispatch(settings: &Settings, command: BenchCommand) -> Result<u8> {
    let work_default = settings.layout.data_dir.join("bench");
    match command {
        BenchCommand::Gen { rows, years, seed, out } => {
            let (first_year, last_year) = parse_years(&years)?;
            let shape = reeflow_bench::TradeShape { rows, first_year, last_year, seed };
            let out = out.unwrap_or_else(|| work_default.join(format!("trade-{rows}-seed{seed}.parquet")));
            let summary = generate(&out, &shape)?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(0)
        }
        BenchCommand::Run { rows, years, seed, json_rows, python, work, output, scheduler } => {
            let work = work.unwrap_or(work_default);
            let (first_year, last_year) = parse_years(&years)?;
            let mut results = Vec::new();
            let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            let steps_per_size = 2 * if threads > 1 { 2 } else { 1 } + 3 + usize::from(scheduler.is_some());
            let bar = Progress::new(settings.display(false), "bench", "steps", (rows.len() * steps_per_size) as u64);
            for size in rows {
                let shape = reeflow_bench::TradeShape { rows: size, first_year, last_year, seed };
                let target = Target { python: python.as_deref(), scheduler: scheduler.as_deref() };
                results.extend(run_size(settings, &work, &shape, json_rows.min(size), target, &bar)?);
            }
            bar.finish("· done".into());
            println!("{}", markdown(&results));
            if let Some(path) = output {
                reeflow_files::write_bytes_atomically(&path, serde_json::to_string_pretty(&results)?.as_bytes())?;
            }
            Ok(0)
        }
    }
}

fn generate(out: &Path, shape: &reeflow_bench::TradeShape) -> Result<reeflow_bench::Generated> {
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let started = Instant::now();
    eprintln!("generating {} rows → {}", shape.rows, out.display());
    let summary = reeflow_bench::generate_trade(out, shape)?;
    eprintln!("  {} rows in {:.1} s ({} MB)", summary.rows, started.elapsed().as_secs_f64(), summary.bytes / 1_000_000);
    Ok(summary)
}

/// Runs this binary with the same pipelines and model, in `data_dir`, and measures it.
/// One reeflow step with the default settings (a partition per core).
fn reeflow_step(settings: &Settings, data_dir: &Path, args: &[&str]) -> Result<(f64, Option<u64>)> {
    reeflow_step_with(settings, data_dir, args, reeflow_pipeline::engine::default_partitions(), &[])
}

/// Like [`reeflow_step`], with `partitions` query partitions (threads).
fn reeflow_step_with(
    settings: &Settings,
    data_dir: &Path,
    args: &[&str],
    partitions: usize,
    env: &[(&str, &str)],
) -> Result<(f64, Option<u64>)> {
    let peak_file = data_dir.with_extension("peak");
    let _ = std::fs::remove_file(&peak_file);
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("--quiet")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--pipelines")
        .arg(&settings.pipelines)
        .arg("--model")
        .arg(&settings.layout.model)
        .args(args)
        .env(PEAK_MEMORY_FILE, &peak_file)
        .env("REEFLOW_TARGET_PARTITIONS", partitions.to_string())
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null());
    let started = Instant::now();
    let output = command.output()?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!("reeflow {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    }
    let peak = std::fs::read_to_string(&peak_file).ok().and_then(|t| t.trim().parse().ok());
    Ok((seconds, peak))
}

/// Runs bench/duckdb_step.py (written to `work`); None without a Python.
fn duckdb_step(python: Option<&Path>, work: &Path, args: &[&str]) -> Result<Option<(f64, u64)>> {
    let Some(python) = python else { return Ok(None) };
    let script = work.join("duckdb_step.py");
    std::fs::write(&script, DUCKDB_STEP)?;
    let output = Command::new(python).arg(&script).args(args).output()?;
    if !output.status.success() {
        bail!("duckdb {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    }
    let value: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    Ok(Some((value["seconds"].as_f64().unwrap_or_default(), value["peak_bytes"].as_u64().unwrap_or_default())))
}

/// What the steps are compared with: DuckDB (a Python with `duckdb`) and a Ballista scheduler.
#[derive(Clone, Copy)]
struct Target<'a> {
    python: Option<&'a Path>,
    scheduler: Option<&'a str>,
}

/// Every stage's output hash in the published version of `data`, from the stage manifests.
fn output_hashes(data: &Path) -> Result<std::collections::BTreeMap<String, String>> {
    let mut hashes = std::collections::BTreeMap::new();
    for (name, dir) in reeflow_pipeline::stage_outputs(&data.join("current/out"))? {
        let text = std::fs::read_to_string(dir.join(reeflow_pipeline::state::MANIFEST_FILE))?;
        let manifest: serde_json::Value = serde_json::from_str(&text)?;
        hashes.insert(name, manifest["output_sha256"].as_str().unwrap_or_default().to_string());
    }
    Ok(hashes)
}

/// A fresh data folder whose input tables are the generated `trade` (linked) and the bundled
/// snapshot's others.
fn bench_data_dir(settings: &Settings, data: &Path, trade: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(data);
    let normalized = data.join("normalized");
    std::fs::create_dir_all(&normalized)?;
    for table in ["production", "salient", "countries"] {
        let source = settings.layout.snapshot.join(format!("{table}.parquet"));
        std::fs::copy(&source, normalized.join(format!("{table}.parquet")))
            .with_context(|| format!("copying {} (the bundled snapshot)", source.display()))?;
    }
    std::fs::hard_link(trade, normalized.join("trade.parquet"))
        .or_else(|_| std::fs::copy(trade, normalized.join("trade.parquet")).map(|_| ()))?;
    Ok(())
}

fn run_size(
    settings: &Settings,
    work: &Path,
    shape: &reeflow_bench::TradeShape,
    json_rows: u64,
    target: Target,
    bar: &Progress,
) -> Result<Vec<Measurement>> {
    let python = target.python;
    let rows = shape.rows;
    let trade = work.join(format!("trade-{rows}-seed{}.parquet", shape.seed));
    if !trade.exists() {
        generate(&trade, shape)?;
    }
    let trade = trade.canonicalize()?;
    let data = work.join(format!("data-{rows}"));
    bench_data_dir(settings, &data, &trade)?;

    let mut results = Vec::new();
    let mut record = |step: &str, reeflow: (f64, Option<u64>), duckdb: Option<(f64, u64)>, throughput: Option<u64>| {
        bar.advance();
        bar.message(format!("· {rows} rows · {step}"));
        bar.always_line(&format!(
            "  {rows:>10} rows  {step:<34} {:>8.2} s  {:>6} MB{}",
            reeflow.0,
            reeflow.1.unwrap_or(0) / 1_000_000,
            duckdb.map(|d| format!("   duckdb {:.2} s {} MB", d.0, d.1 / 1_000_000)).unwrap_or_default()
        ));
        results.push(Measurement {
            rows,
            step: step.to_string(),
            reeflow_seconds: reeflow.0,
            reeflow_peak_bytes: reeflow.1,
            duckdb_seconds: duckdb.map(|d| d.0),
            duckdb_peak_bytes: duckdb.map(|d| d.1),
            rows_per_second: throughput.map(|n| n as f64 / reeflow.0),
        });
    };
    let trade_text = trade.display().to_string();
    for (step, name, sql) in
        [("mirror reconciliation SQL", "mirror", MIRROR_SQL), ("country balance SQL", "balance", BALANCE_SQL)]
    {
        let file = work.join(format!("{name}.sql"));
        std::fs::write(&file, sql)?;
        let duckdb = duckdb_step(python, work, &["sql", &trade_text, &file.display().to_string()])?;
        let reeflow = reeflow_step(settings, &data, &["sql", "--format", "csv", "--", sql])?;
        record(step, reeflow, duckdb, None);
        if reeflow_pipeline::engine::default_partitions() > 1 {
            let single = reeflow_step_with(settings, &data, &["sql", "--format", "csv", "--", sql], 1, &[])?;
            record(&format!("{step}, 1 partition"), single, duckdb, None);
        }
    }
    let stages = reeflow_step(settings, &data, &["run", "--force"])?;
    record("all stages of pipelines/, end to end", stages, None, None);
    if let Some(scheduler) = target.scheduler {
        // In a data folder of its own: a run whose outputs equal the published ones publishes nothing.
        let cluster_data = work.join(format!("data-{rows}-ballista"));
        bench_data_dir(settings, &cluster_data, &trade)?;
        let env = [("REEFLOW_ENGINE_MODE", "ballista"), ("REEFLOW_SCHEDULER", scheduler)];
        let partitions = reeflow_pipeline::engine::default_partitions();
        let cluster = reeflow_step_with(settings, &cluster_data, &["run", "--force"], partitions, &env)?;
        if output_hashes(&cluster_data)? != output_hashes(&data)? {
            bail!("the stages on the Ballista cluster at {scheduler} gave other outputs than the local run");
        }
        record("all stages on Ballista (outputs identical)", cluster, None, None);
    }
    let noop = reeflow_step(settings, &data, &["run"])?;
    record("no-op rerun (everything up to date)", noop, None, None);

    let json = work.join(format!("comtrade-json-{json_rows}"));
    if !json.exists() {
        let staging = json.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&staging);
        reeflow_bench::write_comtrade_json(&staging, json_rows, shape.seed)?;
        reeflow_files::rename_durably(&staging, &json)?;
    }
    let scratch = work.join(format!("normalize-{rows}"));
    let _ = std::fs::remove_dir_all(&scratch);
    let json_text = json.display().to_string();
    // Tables only (`--snapshot`), as DuckDB's COPY: `normalize` into a version also rebuilds the stages.
    let normalize = reeflow_step(settings, &scratch, &["normalize", "--snapshot", "--raw", &json_text])?;
    let parquet = scratch.with_extension("duckdb.parquet");
    let duckdb = duckdb_step(python, work, &["json", &json_text, &parquet.display().to_string()])?;
    record(&format!("normalize {json_rows} Comtrade JSON records"), normalize, duckdb, Some(json_rows));
    Ok(results)
}

fn megabytes(bytes: Option<u64>) -> String {
    bytes.map(|b| format!("{:.0}", b as f64 / 1e6)).unwrap_or_else(|| "—".into())
}

fn markdown(results: &[Measurement]) -> String {
    let mut out = String::from(
        "| rows | step | reeflow s | reeflow peak MB | DuckDB s | DuckDB peak MB | reeflow/DuckDB time | rows/s (reeflow) |\n|---:|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in results {
        let ratio = m.duckdb_seconds.map(|d| format!("{:.2}", m.reeflow_seconds / d)).unwrap_or_else(|| "—".into());
        out.push_str(&format!(
            "| {} | {} | {:.2} | {} | {} | {} | {} | {} |\n",
            m.rows,
            m.step,
            m.reeflow_seconds,
            megabytes(m.reeflow_peak_bytes),
            m.duckdb_seconds.map(|d| format!("{d:.2}")).unwrap_or_else(|| "—".into()),
            megabytes(m.duckdb_peak_bytes),
            ratio,
            m.rows_per_second.map(|r| format!("{r:.0}")).unwrap_or_else(|| "—".into())
        ));
    }
    out
}
