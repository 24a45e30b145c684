//! `reeflow refresh`: fetch → normalize → run → checks → diff → publish, all or nothing, with one
//! summary (text or JSON) and an exit code a scheduler can act on.

use std::path::PathBuf;

use anyhow::Result;
use reeflow_versions::{Staging, Version};

use crate::config::Config;
use crate::diff::{DiffFormat, Side};
use crate::versioned::Renormalize;
use crate::{Settings, SummaryFormat, diff, fetch, stages, versioned};

#[derive(clap::Args)]
pub struct RefreshArgs {
    /// Sources to fetch first; `none` uses the raw files already in the raw folder.
    #[arg(long, value_enum, default_value_t = fetch::Which::All)]
    fetch: fetch::Which,
    /// Fetch again what is cached (trade data for recent years gets revised).
    #[arg(long)]
    refetch: bool,
    /// The raw folder [default: <data-dir>/raw, where fetch writes].
    #[arg(long)]
    pub raw: Option<PathBuf>,
    /// Publish even when a blocking diff threshold is breached: for after a person has read the
    /// rejected version's diff and accepts the revision.
    #[arg(long)]
    accept_breaches: bool,
    /// Print the summary as JSON (for schedulers and CI) instead of text.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    format: SummaryFormat,
}

/// What a refresh did; printed as JSON with `--format json`.
#[derive(Debug, Default, serde::Serialize)]
struct RefreshSummary {
    /// `published`, `unchanged` (nothing differs from the published version), `rejected`
    /// (checks or thresholds failed; kept for inspection, not published) or `error`.
    status: &'static str,
    exit_code: u8,
    /// The version built (published or rejected).
    version: Option<String>,
    version_dir: Option<PathBuf>,
    /// The version that was published before.
    previous: Option<String>,
    reason: Option<String>,
    fetch: Vec<reeflow_fetch::Summary>,
    run: Option<RunSummary>,
    diff: Option<DiffSummary>,
}

#[derive(Debug, serde::Serialize)]
struct RunSummary {
    status: String,
    ran: usize,
    skipped: usize,
    failed: Vec<String>,
    /// `stage: check` of every blocking check that failed.
    failed_checks: Vec<String>,
    record: Option<PathBuf>,
}

#[derive(Debug, serde::Serialize)]
struct DiffSummary {
    tables_changed: Vec<String>,
    breaches: Vec<reeflow_diff::Breach>,
    blocks: bool,
    report_json: PathBuf,
    report_markdown: PathBuf,
}

const DIFF_JSON: &str = "diff.json";
const DIFF_MARKDOWN: &str = "diff.md";

pub async fn refresh(settings: &Settings, config: &Config, args: RefreshArgs) -> Result<u8> {
    let mut summary = RefreshSummary::default();
    let outcome = build(settings, config, &args, &mut summary).await;
    if let Err(error) = outcome {
        summary.status = "error";
        summary.exit_code = 2;
        summary.reason = Some(format!("{error:#}"));
    }
    match args.format {
        SummaryFormat::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        SummaryFormat::Text => print_text(&summary),
    }
    Ok(summary.exit_code)
}

async fn build(settings: &Settings, config: &Config, args: &RefreshArgs, summary: &mut RefreshSummary) -> Result<()> {
    let layout = &settings.layout;
    let text = args.format == SummaryFormat::Text;
    if args.fetch != fetch::Which::None {
        let default_query = fetch::ComtradeArgs::default();
        summary.fetch =
            fetch::fetch_sources(settings, config, args.fetch, &default_query, args.refetch, false, args.format)
                .await?;
        if fetch::any_failed(&summary.fetch) {
            return reject_early(
                summary,
                2,
                "a download failed or the quota ran out, so the raw folder is incomplete: nothing published (run \
                 again to resume)",
            );
        }
    }
    let raw = args.raw.clone().unwrap_or_else(|| layout.raw.clone());

    let staging = layout.versions.begin("reeflow refresh")?;
    summary.previous = staging.baseline.id.clone();
    let display = settings.display(args.format == SummaryFormat::Json);
    let inputs = versioned::prepare_inputs(settings, &staging, &raw, Renormalize::Always, display)?;
    staging.link_baseline_out()?;
    let stage_list = stages::load_stages(settings)?;
    let everything = reeflow_pipeline::select_stages(&stage_list, None)?;
    let mut engine = stages::build_engine(settings, &staging).await?;
    let record = stages::run_stages(&mut engine, &stage_list, &everything, false, display).await?;
    let run = RunSummary::of(&record);
    if record.status != "ok" {
        let reason = format!(
            "the run did not pass: failed stages [{}], failed checks [{}]",
            run.failed.join(", "),
            run.failed_checks.join(", ")
        );
        summary.run = Some(run);
        let version = layout.reject(staging, inputs.origin, &reason).await?;
        return finish(summary, "rejected", record.exit_code(), Some(version), Some(reason));
    }
    summary.run = Some(run);

    let old = published_side(&staging);
    let new = Side { label: staging.id.clone(), normalized: Some(staging.normalized()), out: Some(staging.out()) };
    let limit = config.diff.limit.unwrap_or(diff::DEFAULT_LIMIT);
    let report = diff::compare(settings, config, &old, &new, limit).await?;
    let diff_summary = write_diff(&staging, &report)?;
    if text {
        eprint!("{}", report.to_text());
    }
    let blocks = report.blocks() && !args.accept_breaches;
    let changed = report.has_changes();
    summary.diff = Some(diff_summary);
    if blocks {
        let breached: Vec<String> = report
            .breaches
            .iter()
            .filter(|b| b.severity == reeflow_diff::Severity::Block)
            .map(|b| {
                format!(
                    "{}{} ({} rows)",
                    b.table,
                    b.column.as_deref().map(|c| format!(".{c}")).unwrap_or_default(),
                    b.rows
                )
            })
            .collect();
        let reason = format!(
            "diff thresholds breached: {}; read the diff, then rerun with --accept-breaches to publish",
            breached.join(", ")
        );
        let version = layout.reject(staging, inputs.origin, &reason).await?;
        return finish(summary, "rejected", 1, Some(version), Some(reason));
    }
    if !changed && summary.previous.is_some() {
        staging.discard();
        summary.diff = None;
        return finish(summary, "unchanged", 0, None, Some("no table differs from the published version".into()));
    }
    let version = layout.publish(staging, inputs.origin).await?;
    finish(summary, "published", 0, Some(version), None)
}

/// The published tables as the old side, as the staging version found them when it began (under
/// the lock): the current version, the plain folders of a data folder from before versions, or
/// nothing.
fn published_side(staging: &Staging) -> Side {
    let baseline = &staging.baseline;
    Side {
        label: baseline.id.clone().unwrap_or_else(|| "nothing published".into()),
        normalized: baseline.tables.clone(),
        out: baseline.out.clone(),
    }
}

/// Writes the diff as JSON and Markdown into the version (a CI job uploads them).
fn write_diff(staging: &Staging, report: &reeflow_diff::DiffReport) -> Result<DiffSummary> {
    let report_json = staging.dir.join(DIFF_JSON);
    let report_markdown = staging.dir.join(DIFF_MARKDOWN);
    reeflow_files::write_bytes_atomically(&report_json, diff::render(report, DiffFormat::Json)?.as_bytes())?;
    reeflow_files::write_bytes_atomically(&report_markdown, diff::render(report, DiffFormat::Markdown)?.as_bytes())?;
    let final_dir = staging.dir.with_file_name(&staging.id);
    Ok(DiffSummary {
        tables_changed: report.tables.iter().filter(|t| t.has_changes()).map(|t| t.table.clone()).collect(),
        breaches: report.breaches.clone(),
        blocks: report.blocks(),
        report_json: final_dir.join(DIFF_JSON),
        report_markdown: final_dir.join(DIFF_MARKDOWN),
    })
}

fn finish(
    summary: &mut RefreshSummary,
    status: &'static str,
    exit_code: u8,
    version: Option<Version>,
    reason: Option<String>,
) -> Result<()> {
    summary.status = status;
    summary.exit_code = exit_code;
    summary.reason = reason;
    if let Some(version) = version {
        summary.version = Some(version.info.id);
        summary.version_dir = Some(version.dir);
    }
    Ok(())
}

fn reject_early(summary: &mut RefreshSummary, exit_code: u8, reason: &str) -> Result<()> {
    finish(summary, if exit_code == 2 { "error" } else { "rejected" }, exit_code, None, Some(reason.to_string()))
}

impl RunSummary {
    fn of(record: &reeflow_pipeline::RunRecord) -> Self {
        use reeflow_pipeline::StageStatus;
        let count = |status| record.stages.iter().filter(|s| s.status == status).count();
        Self {
            status: record.status.clone(),
            ran: count(StageStatus::Run),
            skipped: count(StageStatus::Skipped),
            failed: record
                .stages
                .iter()
                .filter(|s| matches!(s.status, StageStatus::Failed | StageStatus::Blocked))
                .map(|s| s.stage.clone())
                .collect(),
            failed_checks: record
                .stages
                .iter()
                .flat_map(|s| s.checks.iter().filter(|c| c.blocks()).map(move |c| format!("{}: {}", s.stage, c.check)))
                .collect(),
            record: record.record.clone(),
        }
    }
}

fn print_text(summary: &RefreshSummary) {
    let version = summary.version.as_deref().unwrap_or("—");
    let stays = match &summary.previous {
        Some(previous) => format!("{previous} stays current"),
        None => "nothing was published before".to_string(),
    };
    match summary.status {
        "published" => println!("published {version} (replaces {})", summary.previous.as_deref().unwrap_or("nothing")),
        "unchanged" => println!("unchanged: nothing differs from the published version; nothing published"),
        "rejected" => println!("REJECTED {version}: not published; {stays}"),
        _ => println!("ERROR: nothing published; {stays}"),
    }
    if let Some(reason) = &summary.reason {
        println!("  {reason}");
    }
    if let Some(diff) = &summary.diff {
        println!(
            "  tables changed: {}",
            if diff.tables_changed.is_empty() { "none".into() } else { diff.tables_changed.join(", ") }
        );
        println!("  diff: {}", diff.report_markdown.display());
    }
}
