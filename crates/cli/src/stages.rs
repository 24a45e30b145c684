//! `reeflow run`, `plan`, `check` and `docs`: thin wrappers over the pipeline crate that print
//! progress and results for people, or the run record as JSON for schedulers.

use std::path::Path;

use anyhow::{Context, Result, bail};
use reeflow_pipeline::{
    CheckResult, RunRecord, Stage, StageRecord, StageStatus, TableSource, discover_stages, order_stages, select_stages,
};

use reeflow_versions::Staging;

use crate::progress::{Display, Progress};
use crate::{Settings, SummaryFormat, versioned};

pub fn load_stages(settings: &Settings) -> Result<Vec<Stage>> {
    let stages = order_stages(discover_stages(&settings.pipelines)?)?;
    if stages.is_empty() {
        bail!("no stage files (*.sql) in {}", settings.pipelines.display());
    }
    Ok(stages)
}

fn status_word(status: StageStatus) -> &'static str {
    match status {
        StageStatus::Run => "ran",
        StageStatus::Skipped => "skipped",
        StageStatus::NotSelected => "not selected",
        StageStatus::Blocked => "blocked",
        StageStatus::Failed => "FAILED",
        StageStatus::ChecksFailed => "CHECKS FAILED",
    }
}

fn check_lines(check: &CheckResult) -> Vec<String> {
    if check.passed {
        return Vec::new();
    }
    let kind = if check.blocks() { "failed" } else { "warning" };
    let mut lines = vec![format!("      check {} {kind}: {} violating rows", check.check, check.violations)];
    if let Some(path) = &check.failing_rows {
        lines.push(format!("        saved to {}", path.display()));
    }
    if let Some(sample) = &check.sample {
        lines.extend(sample.lines().map(|line| format!("        {line}")));
    }
    lines
}

/// A stage's line in a run, with its error and failed checks below it.
fn stage_lines(record: &StageRecord) -> Vec<String> {
    let rows = record.rows.map(|r| format!("{r:>7} rows")).unwrap_or_else(|| " ".repeat(12));
    let mut lines = vec![format!(
        "  {:<14} {:<32} {rows} {:>7.3} s  {}",
        status_word(record.status),
        record.stage,
        record.seconds,
        record.reason
    )];
    if let Some(error) = &record.error {
        lines.push(format!("      error: {error}"));
    }
    lines.extend(record.checks.iter().flat_map(check_lines));
    lines
}

/// Prints a run record: a summary line for people, or the record as JSON (with what happened to
/// the version, when the command built one).
pub fn print_record(record: &RunRecord, format: SummaryFormat, outcome: Option<&Outcome>) -> Result<u8> {
    match format {
        SummaryFormat::Json => {
            let mut value = serde_json::to_value(record)?;
            if let Some(outcome) = outcome {
                value["version"] = serde_json::to_value(outcome)?;
            }
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        SummaryFormat::Text if record.command == "check" => {
            let checks: Vec<&CheckResult> = record.stages.iter().flat_map(|s| &s.checks).collect();
            println!(
                "{}: {} stages, {} checks: {} passed, {} failed, {} warnings",
                record.status,
                record.stages.len(),
                checks.len(),
                checks.iter().filter(|c| c.passed).count(),
                checks.iter().filter(|c| c.blocks()).count(),
                checks.iter().filter(|c| !c.passed && !c.blocks()).count()
            );
        }
        SummaryFormat::Text => {
            let count = |status| record.stages.iter().filter(|s| s.status == status).count();
            println!(
                "{}: {} ran, {} skipped (up to date), {} failed, {} failed checks, {} blocked, in {:.3} s of pipeline time",
                record.status,
                count(StageStatus::Run),
                count(StageStatus::Skipped),
                count(StageStatus::Failed),
                count(StageStatus::ChecksFailed),
                count(StageStatus::Blocked),
                record.pipeline_seconds
            );
        }
    }
    if let (SummaryFormat::Text, Some(path)) = (format, &record.record) {
        println!("run record: {}", path.display());
    }
    Ok(record.exit_code())
}

/// Builds the next version: inputs (normalized from `raw` when it has newer files, else carried
/// over, else the bundled snapshot), the stage outputs carried over, the stages that are not up to
/// date run; publishes it when anything was rebuilt and the version is consistent.
pub async fn run(
    settings: &Settings,
    raw: &Path,
    select: Option<&str>,
    force: bool,
    format: SummaryFormat,
) -> Result<u8> {
    let staging = settings.layout.versions.begin("reeflow run")?;
    let display = settings.display(format == SummaryFormat::Json);
    let inputs = versioned::prepare_inputs(settings, &staging, raw, versioned::Renormalize::WhenRawChanged, display)?;
    build_version(settings, staging, inputs, select, force, format).await
}

/// The session a staging version's stages are built in: the version's inputs, its reference tables
/// (written into it as Parquet from the model file) and its outputs; stage queries run where
/// `[engine] mode` says.
pub async fn build_engine(settings: &Settings, staging: &Staging) -> Result<reeflow_pipeline::Engine> {
    let layout = &settings.layout;
    layout.write_reference(&staging.dir)?;
    let mut engine = layout
        .engine_over(&staging.normalized(), &staging.out(), &settings.engine_options)
        .await
        .context("opening the input tables")?;
    let files: std::sync::Arc<dyn reeflow_pipeline::ClusterFiles> = match &layout.remote {
        Some(remote) => remote.cluster_files(staging),
        None => std::sync::Arc::new(reeflow_pipeline::SameFilesystem),
    };
    crate::cluster::attach(&mut engine, settings, files).await?;
    Ok(engine)
}

/// Runs the stages in a staging version and publishes it only when it is consistent: every stage
/// ran or was up to date, no blocking check failed, and no stage left out by `--select` is stale.
/// Otherwise the version is kept as rejected, with the reason, and `current` does not move.
pub async fn build_version(
    settings: &Settings,
    staging: Staging,
    inputs: versioned::PreparedInputs,
    select: Option<&str>,
    force: bool,
    format: SummaryFormat,
) -> Result<u8> {
    let stages = load_stages(settings)?;
    let selected = select_stages(&stages, select)?;
    let layout = &settings.layout;
    staging.link_baseline_out()?;
    let mut engine = build_engine(settings, &staging).await?;
    let record =
        run_stages(&mut engine, &stages, &selected, force, settings.display(format == SummaryFormat::Json)).await?;
    // Status lines for people; --quiet keeps stderr to warnings (NOT PUBLISHED is one).
    let text = format == SummaryFormat::Text && !settings.quiet;
    let previous = staging.baseline.id.clone();
    let (code, outcome) = match unpublishable(&mut engine, &stages, &record)? {
        Some(reason) => {
            let version = layout.reject(staging, inputs.origin, &reason).await?;
            // On stderr in every format: stdout stays the machine-readable record.
            {
                eprintln!("NOT PUBLISHED: {reason}");
                eprintln!(
                    "  the rejected version is kept for inspection: {}; {}",
                    version.dir.display(),
                    match &previous {
                        Some(id) => format!("{id} stays current"),
                        None => "nothing is published yet".into(),
                    }
                );
            }
            (record.exit_code().max(1), Outcome::rejected(&version, reason))
        }
        None => {
            let rebuilt = record.stages.iter().any(|s| s.status == StageStatus::Run);
            if inputs.normalized_now || rebuilt {
                let version = layout.publish(staging, inputs.origin).await?;
                if text {
                    eprintln!("published version {} ({})", version.info.id, version.dir.display());
                }
                (0, Outcome::published(&version))
            } else {
                staging.discard();
                if text {
                    eprintln!("nothing rebuilt: the published version stays current");
                }
                (0, Outcome::unchanged(previous))
            }
        }
    };
    print_record(&record, format, Some(&outcome))?;
    Ok(code)
}

/// What a run did with its version (added to the JSON record for schedulers).
#[derive(Debug, serde::Serialize)]
pub struct Outcome {
    /// `published`, `unchanged` or `rejected`.
    pub status: &'static str,
    pub version: Option<String>,
    pub reason: Option<String>,
}

impl Outcome {
    fn published(version: &reeflow_versions::Version) -> Self {
        Self { status: "published", version: Some(version.info.id.clone()), reason: None }
    }

    fn rejected(version: &reeflow_versions::Version, reason: String) -> Self {
        Self { status: "rejected", version: Some(version.info.id.clone()), reason: Some(reason) }
    }

    fn unchanged(current: Option<String>) -> Self {
        Self { status: "unchanged", version: current, reason: None }
    }
}

/// Why the version a run built must not be published, or None when it is consistent: a stage
/// failed or failed a blocking check (and the stages it blocked), or a stage is stale: left out
/// by `--select` while an input of it changed, or without an output at all.
pub fn unpublishable(
    engine: &mut reeflow_pipeline::Engine,
    stages: &[Stage],
    record: &RunRecord,
) -> Result<Option<String>> {
    let named = |status: StageStatus| -> Vec<String> {
        record.stages.iter().filter(|s| s.status == status).map(|s| s.stage.clone()).collect()
    };
    let mut problems = Vec::new();
    let failed = named(StageStatus::Failed);
    if !failed.is_empty() {
        problems.push(format!("stages failed: {}", failed.join(", ")));
    }
    let checks: Vec<String> = record
        .stages
        .iter()
        .flat_map(|s| s.checks.iter().filter(|c| c.blocks()).map(move |c| format!("{}: {}", s.stage, c.check)))
        .collect();
    if !checks.is_empty() {
        problems.push(format!("blocking checks failed: {}", checks.join(", ")));
    }
    let blocked = named(StageStatus::Blocked);
    if !blocked.is_empty() {
        problems.push(format!("stages blocked by them: {}", blocked.join(", ")));
    }
    if problems.is_empty() {
        let everything = select_stages(stages, None)?;
        let stale: Vec<String> = reeflow_pipeline::plan(engine, stages, &everything, false)?
            .into_iter()
            .filter(|entry| entry.status == StageStatus::Run)
            .map(|entry| format!("{} ({})", entry.stage, entry.reason))
            .collect();
        if !stale.is_empty() {
            problems.push(format!(
                "stages left out by --select are stale: {}; run without --select, or select them too (`name+` \
                 selects a stage and everything downstream)",
                stale.join(", ")
            ));
        }
    }
    Ok((!problems.is_empty()).then(|| problems.join("; ")))
}

/// Runs the selected stages with progress: a bar of stages on a terminal with each stage's line
/// above it, the lines alone in a log, nothing when silent.
pub async fn run_stages(
    engine: &mut reeflow_pipeline::Engine,
    stages: &[Stage],
    selected: &std::collections::BTreeSet<String>,
    force: bool,
    display: Display,
) -> Result<RunRecord> {
    let bar = Progress::new(display, "run", "stages", stages.len() as u64);
    for table in engine.tables().iter().filter(|t| t.source == TableSource::Normalized) {
        let rows = if display == Display::Silent { 0 } else { engine.row_count(&table.name).await? };
        bar.always_line(&format!("  input          {:<32} {rows:>7} rows", table.name));
    }
    let record = reeflow_pipeline::run(engine, stages, selected, force, |stage| {
        bar.advance();
        bar.message(format!("· {}", stage.stage));
        for line in stage_lines(stage) {
            bar.always_line(&line);
        }
    })
    .await?;
    bar.finish(format!("· {}", record.status));
    Ok(record)
}

pub async fn plan(settings: &Settings, select: Option<&str>, force: bool, format: SummaryFormat) -> Result<u8> {
    let stages = load_stages(settings)?;
    let selected = select_stages(&stages, select)?;
    // What a run would rebuild: with the model file as it is now, not the version's.
    let published = settings.layout.published()?;
    let mut engine = settings
        .layout
        .engine_with(&published.inputs, &published.out, &settings.engine_options, crate::ModelSource::ModelFile)
        .await?;
    let entries = reeflow_pipeline::plan(&mut engine, &stages, &selected, force)?;
    match format {
        SummaryFormat::Json => println!("{}", serde_json::to_string_pretty(&entries)?),
        SummaryFormat::Text => {
            for (index, entry) in entries.iter().enumerate() {
                let action = match entry.status {
                    StageStatus::Run => "will run",
                    StageStatus::Skipped => "up to date",
                    _ => "not selected",
                };
                let reason = if entry.reason == action { "" } else { entry.reason.as_str() };
                println!("{:>3}. {:<32} {:<12} {reason}", index + 1, entry.stage, action);
                println!("     reads {}", entry.inputs.join(", "));
            }
        }
    }
    Ok(0)
}

pub async fn check(settings: &Settings, select: Option<&str>, format: SummaryFormat) -> Result<u8> {
    let stages = load_stages(settings)?;
    let selected = select_stages(&stages, select)?;
    let mut engine = settings.engine().await?;
    let record = reeflow_pipeline::check(&mut engine, &stages, &selected).await?;
    if format == SummaryFormat::Text && !settings.quiet {
        for stage in &record.stages {
            let passed = stage.checks.iter().filter(|c| c.passed).count();
            eprintln!("  {:<32} {passed}/{} checks passed", stage.stage, stage.checks.len());
            if let Some(error) = &stage.error {
                eprintln!("      error: {error}");
            }
            stage.checks.iter().flat_map(check_lines).for_each(|line| eprintln!("{line}"));
        }
    }
    print_record(&record, format, None)
}

pub fn docs(settings: &Settings, output: &Path, check: bool) -> Result<u8> {
    let stages = load_stages(settings)?;
    let root = settings.pipelines.parent().unwrap_or(Path::new("."));
    let text = reeflow_pipeline::docs::catalogue(&stages, root);
    if check {
        let current = std::fs::read_to_string(output).unwrap_or_default();
        if current != text {
            eprintln!("{} is not current: run `reeflow docs` and commit it", output.display());
            return Ok(1);
        }
        println!("{} is current", output.display());
        return Ok(0);
    }
    if let Some(parent) = output.parent() {
        std::fs::create_dir_all(parent)?;
    }
    reeflow_files::write_bytes_atomically(output, text.as_bytes())?;
    println!("wrote {} ({} stages)", output.display(), stages.len());
    Ok(0)
}
