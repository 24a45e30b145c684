//! `reeflow diff`: resolves two versions (ids, `current`, `previous`, or folders), lists their
//! tables with each table's grain (normalized tables from the model crate, stage outputs from
//! their headers), and reports the comparison.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use reeflow_diff::{DiffReport, TableInput, TableSide};

use crate::config::Config;
use crate::{Settings, stages};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
    Markdown,
}

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The old side: a version id, `current`, `previous`, or a folder [default: previous].
    old: Option<String>,
    /// The new side [default: current].
    new: Option<String>,
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    /// Keys and changes listed per table and column [default: [diff] limit in config, else 20].
    #[arg(long)]
    limit: Option<usize>,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// One side of a comparison: its input tables and its stage outputs.
pub struct Side {
    pub label: String,
    pub normalized: Option<PathBuf>,
    pub out: Option<PathBuf>,
}

pub async fn diff(settings: &Settings, config: &Config, args: DiffArgs) -> Result<u8> {
    let old = resolve(settings, args.old.as_deref().unwrap_or("previous")).await?;
    let new = resolve(settings, args.new.as_deref().unwrap_or("current")).await?;
    let limit = args.limit.or(config.diff.limit).unwrap_or(DEFAULT_LIMIT);
    let report = compare(settings, config, &old, &new, limit).await?;
    let text = render(&report, args.format)?;
    match &args.output {
        Some(path) => {
            reeflow_files::write_bytes_atomically(path, text.as_bytes())?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(if report.blocks() { 1 } else { 0 })
}

/// Keys and changes listed per table and column when config does not say.
pub const DEFAULT_LIMIT: usize = 20;

pub fn render(report: &DiffReport, format: DiffFormat) -> Result<String> {
    Ok(match format {
        DiffFormat::Text => report.to_text(),
        DiffFormat::Markdown => report.to_markdown(),
        DiffFormat::Json => serde_json::to_string_pretty(report)? + "\n",
    })
}

/// A version by name, or a folder: a version folder (with `out/`), a stage output folder, or a
/// folder of normalized tables.
async fn resolve(settings: &Settings, name: &str) -> Result<Side> {
    let path = Path::new(name);
    if path.is_dir() {
        let label = path.display().to_string();
        if path.join("out").is_dir() || path.join(reeflow_versions::store::VERSION_FILE).exists() {
            let normalized = Some(path.join("normalized")).filter(|p| p.is_dir());
            return Ok(Side { label, normalized, out: Some(path.join("out")) });
        }
        if !reeflow_pipeline::stage_outputs(path)?.is_empty() {
            return Ok(Side { label, normalized: None, out: Some(path.to_path_buf()) });
        }
        if path.join("production.parquet").exists() {
            return Ok(Side { label, normalized: Some(path.to_path_buf()), out: None });
        }
        bail!("{label}: not a version folder, a stage output folder or a folder of normalized tables");
    }
    let version = settings.layout.version(name).await?;
    Ok(Side { label: version.info.id.clone(), normalized: Some(version.normalized()), out: Some(version.out()) })
}

/// Compares two sides with the thresholds in config.
pub async fn compare(settings: &Settings, config: &Config, old: &Side, new: &Side, limit: usize) -> Result<DiffReport> {
    let tables = table_inputs(settings, old, new)?;
    Ok(reeflow_diff::diff(&old.label, &new.label, &tables, &config.diff.thresholds, limit).await?)
}

/// Every table on either side, normalized tables first, each with its grain.
fn table_inputs(settings: &Settings, old: &Side, new: &Side) -> Result<Vec<TableInput>> {
    // Stage grains from the stage headers; without readable stages, stage tables compare whole rows.
    let stage_grains: BTreeMap<String, Vec<String>> = stages::load_stages(settings)
        .map(|stages| stages.into_iter().map(|s| (s.name, s.header.grain)).collect())
        .unwrap_or_default();
    let mut normalized: BTreeMap<String, TableInput> = BTreeMap::new();
    let mut outputs: BTreeMap<String, TableInput> = BTreeMap::new();
    for (is_new, side) in [(false, old), (true, new)] {
        if let Some(folder) = &side.normalized {
            for entry in std::fs::read_dir(folder).with_context(|| format!("reading {}", folder.display()))? {
                let path = entry?.path();
                if path.extension().is_none_or(|e| e != "parquet") {
                    continue;
                }
                let name = path.file_stem().unwrap_or_default().to_string_lossy().to_string();
                let grain = reeflow_model::grain_of(&name).unwrap_or_default().iter().map(|g| g.to_string()).collect();
                let input = normalized.entry(name.clone()).or_insert_with(|| empty(&name, grain));
                set_side(input, is_new, TableSide { path, partitions: Vec::new() });
            }
        }
        if let Some(out) = &side.out {
            for (name, path) in reeflow_pipeline::stage_outputs(out)? {
                let partitions =
                    reeflow_pipeline::state::read_manifest(out, &name).map(|m| m.partitions).unwrap_or_default();
                let grain = stage_grains.get(&name).cloned().unwrap_or_default();
                let input = outputs.entry(name.clone()).or_insert_with(|| empty(&name, grain));
                set_side(input, is_new, TableSide { path, partitions });
            }
        }
    }
    Ok(normalized.into_values().chain(outputs.into_values()).collect())
}

fn empty(name: &str, grain: Vec<String>) -> TableInput {
    TableInput { name: name.to_string(), grain, old: None, new: None }
}

fn set_side(input: &mut TableInput, is_new: bool, side: TableSide) {
    if is_new {
        input.new = Some(side);
    } else {
        input.old = Some(side);
    }
}
