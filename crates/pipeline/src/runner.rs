//! Plans and runs: which stages are up to date and why, running the rest in order, running checks
//! alone, and the run record every run leaves in `data/out/_runs/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use crate::engine::{CheckResult, Engine};
use crate::error::{PipelineError, Result};
use crate::stage::Stage;
use crate::state::{definition_hash, read_manifest, stage_key};

/// The folder (under the output folder) holding run records, unless the engine names another.
pub const RUNS_DIR: &str = "_runs";

/// What a plan or run does with one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    /// Will run / ran.
    Run,
    /// Up to date: skipped.
    Skipped,
    /// Not in `--select`: its published output (if any) is used as it is.
    NotSelected,
    /// An upstream stage failed or failed a blocking check: not run.
    Blocked,
    /// Its query or a check query failed.
    Failed,
    /// Ran, but a blocking check failed: the previous output stays published.
    ChecksFailed,
}

/// One stage in a plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanEntry {
    pub stage: String,
    pub file: PathBuf,
    pub inputs: Vec<String>,
    pub status: StageStatus,
    pub reason: String,
}

/// One stage in a run record.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageRecord {
    pub stage: String,
    pub status: StageStatus,
    pub reason: String,
    pub rows: Option<usize>,
    pub seconds: f64,
    pub checks: Vec<CheckResult>,
    pub error: Option<String>,
}

/// The record of one run (`reeflow run` or `reeflow check`), written to `data/out/_runs/`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    pub command: String,
    pub started_at: String,
    pub finished_at: String,
    /// Seconds from the first hash to the last stage (excluding opening the session).
    pub pipeline_seconds: f64,
    /// `ok`, `checks_failed` or `error`.
    pub status: String,
    /// Input table → content hash, for every table a stage read.
    pub inputs: BTreeMap<String, String>,
    pub stages: Vec<StageRecord>,
    /// Where this record was written.
    pub record: Option<PathBuf>,
}

impl RunRecord {
    /// 0 ok, 1 a blocking check failed, 2 a stage failed.
    pub fn exit_code(&self) -> u8 {
        match self.status.as_str() {
            "ok" => 0,
            "checks_failed" => 1,
            _ => 2,
        }
    }
}

/// Why a stage must run, or None when its published output is up to date.
fn why_run(engine: &mut Engine, stage: &Stage, inputs: &BTreeMap<String, String>) -> Option<String> {
    let Some(manifest) = read_manifest(engine.out_dir(), &stage.name) else {
        return Some("no output yet".into());
    };
    if manifest.definition != definition_hash(stage) {
        return Some("stage file changed".into());
    }
    if let Some(changed) = inputs.iter().find(|(name, hash)| manifest.inputs.get(*name) != Some(*hash)) {
        return Some(format!("input {} changed", changed.0));
    }
    if let Some(dropped) = manifest.inputs.keys().find(|name| !inputs.contains_key(*name)) {
        return Some(format!("no longer reads {dropped}"));
    }
    if manifest.key != stage_key(&manifest.definition, inputs) {
        return Some("inputs changed".into());
    }
    None
}

/// The content hashes of a stage's inputs that are registered (missing ones fail at planning).
fn input_hashes(engine: &mut Engine, stage: &Stage) -> Result<BTreeMap<String, String>> {
    let mut hashes = BTreeMap::new();
    for input in &stage.inputs {
        if let Some(hash) = engine.content_hash(input)? {
            hashes.insert(input.clone(), hash);
        }
    }
    Ok(hashes)
}

/// What `run` would do, without running anything. A stage downstream of one that runs is shown
/// as running; at run time it is skipped if the upstream output comes out byte-identical.
pub fn plan(
    engine: &mut Engine,
    ordered: &[Stage],
    selected: &BTreeSet<String>,
    force: bool,
) -> Result<Vec<PlanEntry>> {
    let mut will_run: BTreeSet<String> = BTreeSet::new();
    let mut entries = Vec::new();
    for stage in ordered {
        let (status, reason) = if !selected.contains(&stage.name) {
            (StageStatus::NotSelected, "not selected".to_string())
        } else if force {
            (StageStatus::Run, "--force".to_string())
        } else if let Some(upstream) = stage.inputs.iter().find(|i| will_run.contains(*i)) {
            (StageStatus::Run, format!("upstream {upstream} runs"))
        } else {
            let inputs = input_hashes(engine, stage)?;
            match why_run(engine, stage, &inputs) {
                Some(reason) => (StageStatus::Run, reason),
                None => (StageStatus::Skipped, "up to date".to_string()),
            }
        };
        if status == StageStatus::Run {
            will_run.insert(stage.name.clone());
        }
        entries.push(PlanEntry {
            stage: stage.name.clone(),
            file: stage.file.clone(),
            inputs: stage.inputs.iter().cloned().collect(),
            status,
            reason,
        });
    }
    Ok(entries)
}

/// Runs the selected stages in order, skipping those up to date, and writes the run record.
/// `progress` is called after each stage.
pub async fn run(
    engine: &mut Engine,
    ordered: &[Stage],
    selected: &BTreeSet<String>,
    force: bool,
    mut progress: impl FnMut(&StageRecord),
) -> Result<RunRecord> {
    let started_at = reeflow_model::date::utc_now_iso();
    let clock = Instant::now();
    let mut all_inputs = BTreeMap::new();
    let mut records: Vec<StageRecord> = Vec::new();
    let mut stopped: BTreeSet<String> = BTreeSet::new();
    for stage in ordered {
        let record = if !selected.contains(&stage.name) {
            StageRecord::new(stage, StageStatus::NotSelected, "not selected")
        } else if let Some(upstream) = stage.inputs.iter().find(|i| stopped.contains(*i)) {
            StageRecord::new(stage, StageStatus::Blocked, &format!("upstream {upstream} did not publish"))
        } else {
            let inputs = input_hashes(engine, stage)?;
            all_inputs.extend(inputs.clone());
            let reason = if force { Some("--force".to_string()) } else { why_run(engine, stage, &inputs) };
            match reason {
                None => StageRecord::new(stage, StageStatus::Skipped, "up to date"),
                Some(reason) => {
                    let key = stage_key(&definition_hash(stage), &inputs);
                    build(engine, stage, &key, &inputs, reason).await
                }
            }
        };
        if matches!(record.status, StageStatus::Failed | StageStatus::ChecksFailed | StageStatus::Blocked) {
            stopped.insert(stage.name.clone());
        }
        progress(&record);
        records.push(record);
    }
    finish(engine, "run", started_at, clock, all_inputs, records)
}

async fn build(
    engine: &mut Engine,
    stage: &Stage,
    key: &str,
    inputs: &BTreeMap<String, String>,
    reason: String,
) -> StageRecord {
    let span = tracing::info_span!("stage", stage = %stage.name, rows = tracing::field::Empty);
    let built = tracing::Instrument::instrument(engine.build_stage(stage, key, inputs), span.clone()).await;
    if let Ok(build) = &built {
        span.record("rows", build.rows);
    }
    drop(span);
    match built {
        Ok(build) => StageRecord {
            stage: stage.name.clone(),
            status: if build.published { StageStatus::Run } else { StageStatus::ChecksFailed },
            reason,
            rows: Some(build.rows),
            seconds: build.seconds,
            checks: build.checks,
            error: None,
        },
        Err(error) => {
            let mut record = StageRecord::new(stage, StageStatus::Failed, &reason);
            record.error = Some(error.to_string());
            record
        }
    }
}

/// Runs every selected stage's checks on its published output, without rebuilding.
/// Violating rows go beside the run record (`<runs_dir>/<record>.failing-rows/`), never into the
/// published outputs the checks read.
pub async fn check(engine: &mut Engine, ordered: &[Stage], selected: &BTreeSet<String>) -> Result<RunRecord> {
    let started_at = reeflow_model::date::utc_now_iso();
    let clock = Instant::now();
    let failing_rows = engine.runs_dir().join(format!("{}.failing-rows", record_stem(&started_at, "check")));
    engine.set_checks_dir(&failing_rows);
    let mut records = Vec::new();
    for stage in ordered.iter().filter(|s| selected.contains(&s.name)) {
        let mut record = StageRecord::new(stage, StageStatus::Run, "checks only");
        if !engine.tables().iter().any(|t| t.name == stage.name) {
            record.status = StageStatus::Failed;
            record.error = Some(format!("stage {} has no output yet: run `reeflow run` first", stage.name));
        } else {
            let started = Instant::now();
            match engine.run_checks(stage).await {
                Ok(checks) => {
                    if checks.iter().any(CheckResult::blocks) {
                        record.status = StageStatus::ChecksFailed;
                    }
                    record.checks = checks;
                }
                Err(error) => {
                    record.status = StageStatus::Failed;
                    record.error = Some(error.to_string());
                }
            }
            record.seconds = started.elapsed().as_secs_f64();
        }
        records.push(record);
    }
    finish(engine, "check", started_at, clock, BTreeMap::new(), records)
}

impl StageRecord {
    fn new(stage: &Stage, status: StageStatus, reason: &str) -> Self {
        Self {
            stage: stage.name.clone(),
            status,
            reason: reason.to_string(),
            rows: None,
            seconds: 0.0,
            checks: Vec::new(),
            error: None,
        }
    }
}

fn finish(
    engine: &Engine,
    command: &str,
    started_at: String,
    clock: Instant,
    inputs: BTreeMap<String, String>,
    stages: Vec<StageRecord>,
) -> Result<RunRecord> {
    let status = if stages.iter().any(|s| s.status == StageStatus::Failed) {
        "error"
    } else if stages.iter().any(|s| s.status == StageStatus::ChecksFailed) {
        "checks_failed"
    } else {
        "ok"
    };
    let mut record = RunRecord {
        command: command.to_string(),
        finished_at: reeflow_model::date::utc_now_iso(),
        started_at,
        pipeline_seconds: clock.elapsed().as_secs_f64(),
        status: status.to_string(),
        inputs,
        stages,
        record: None,
    };
    let folder = engine.runs_dir().to_path_buf();
    std::fs::create_dir_all(&folder).map_err(PipelineError::io(&folder))?;
    let path = folder.join(format!("{}.json", record_stem(&record.started_at, command)));
    record.record = Some(path.clone());
    let text = serde_json::to_string_pretty(&record).expect("a run record serializes");
    reeflow_files::write_bytes_atomically(&path, text.as_bytes())?;
    Ok(record)
}

/// The name of a run record without its extension: `<start time>-<command>-<pid>`.
fn record_stem(started_at: &str, command: &str) -> String {
    format!("{}-{command}-{}", started_at.replace(':', ""), std::process::id())
}
