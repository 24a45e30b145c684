//! The stage engine on small tables: order, checks, blocking vs warn, atomic outputs, skipping.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use reeflow_pipeline::{Engine, RunRecord, StageStatus, discover_stages, order_stages, select_stages};

/// A project folder: `normalized/production.parquet`, `pipelines/`, `out/`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        let project = Self { dir: tempfile::tempdir().unwrap() };
        std::fs::create_dir_all(project.path("normalized")).unwrap();
        std::fs::create_dir_all(project.path("pipelines")).unwrap();
        project.write_production(&[(2021, "CHN", 168_000.0), (2022, "CHN", 210_000.0), (2022, "USA", 43_000.0)]);
        project
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write_production(&self, rows: &[(i32, &str, f64)]) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("year", DataType::Int32, false),
            Field::new("country_iso3", DataType::Utf8, false),
            Field::new("t_reo", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(rows.iter().map(|r| r.0).collect::<Int32Array>()),
                Arc::new(rows.iter().map(|r| Some(r.1)).collect::<StringArray>()),
                Arc::new(rows.iter().map(|r| Some(r.2)).collect::<Float64Array>()),
            ],
        )
        .unwrap();
        reeflow_pipeline::output::write_parquet_file(&self.path("normalized/production.parquet"), &batch).unwrap();
    }

    fn stage(&self, name: &str, text: &str) {
        std::fs::write(self.path(&format!("pipelines/{name}.sql")), text).unwrap();
    }

    async fn run_selected(&self, select: Option<&str>, force: bool) -> RunRecord {
        let stages = order_stages(discover_stages(&self.path("pipelines")).unwrap()).unwrap();
        let selected = select_stages(&stages, select).unwrap();
        let mut engine = Engine::open(&self.path("normalized"), &self.path("out")).await.unwrap();
        reeflow_pipeline::run(&mut engine, &stages, &selected, force, |_| {}).await.unwrap()
    }

    async fn run(&self) -> RunRecord {
        self.run_selected(None, false).await
    }

    async fn query(&self, sql: &str) -> Vec<RecordBatch> {
        let engine = Engine::open(&self.path("normalized"), &self.path("out")).await.unwrap();
        engine.query(sql, false).await.unwrap()
    }
}

fn status_of(record: &RunRecord, stage: &str) -> StageStatus {
    record.stages.iter().find(|s| s.stage == stage).unwrap().status
}

fn ran(record: &RunRecord) -> BTreeSet<&str> {
    record.stages.iter().filter(|s| s.status == StageStatus::Run).map(|s| s.stage.as_str()).collect()
}

const TOTALS: &str = "/*\ndescription = \"World production by year.\"\ngrain = [\"year\"]\n*/\nSELECT year, sum(t_reo) AS t_reo FROM production GROUP BY year";
const SHARES: &str = "/*\ndescription = \"Country shares.\"\ngrain = [\"year\", \"country_iso3\"]\n[checks]\naccepted_range = { share = { min = 0, max = 1 } }\n*/\nSELECT p.year, p.country_iso3, p.t_reo / t.t_reo AS share FROM production p JOIN totals t USING (year)";
const OTHER: &str = "/*\ndescription = \"Countries.\"\n*/\nSELECT DISTINCT country_iso3 FROM production";

#[tokio::test]
async fn runs_in_dependency_order_then_skips_when_unchanged() {
    let project = Project::new();
    project.stage("a_shares", SHARES);
    project.stage("totals", TOTALS);
    let first = project.run().await;
    assert_eq!(first.status, "ok");
    let order: Vec<&str> = first.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(order, ["totals", "a_shares"], "order comes from table references, not file names");
    let shares = project.query("SELECT share FROM a_shares WHERE year = 2021").await;
    assert_eq!(shares[0].column(0).as_any().downcast_ref::<Float64Array>().unwrap().value(0), 1.0);

    let second = project.run().await;
    assert!(ran(&second).is_empty(), "nothing changed: {second:?}");
    assert!(second.stages.iter().all(|s| s.status == StageStatus::Skipped && s.reason == "up to date"));
    let path = second.record.clone().unwrap();
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(saved["status"], "ok");
    assert_eq!(saved["stages"][0]["status"], "skipped");
    assert!(saved["inputs"]["production"].as_str().unwrap().len() == 64);
}

#[tokio::test]
async fn editing_a_stage_reruns_it_and_its_descendants_only() {
    let project = Project::new();
    project.stage("totals", TOTALS);
    project.stage("shares", SHARES);
    project.stage("countries_seen", OTHER);
    project.run().await;
    // Same output bytes: the edit reruns totals, and shares sees an unchanged input.
    project.stage("totals", &TOTALS.replace("GROUP BY year", "GROUP BY year\n"));
    let cosmetic = project.run().await;
    assert_eq!(ran(&cosmetic), BTreeSet::from(["totals"]));
    assert_eq!(status_of(&cosmetic, "shares"), StageStatus::Skipped);
    // A different output: totals and shares rerun, the unrelated stage does not.
    project.stage("totals", &TOTALS.replace("sum(t_reo)", "sum(t_reo) * 2"));
    let edited = project.run().await;
    assert_eq!(ran(&edited), BTreeSet::from(["shares", "totals"]));
    assert_eq!(edited.stages.iter().find(|s| s.stage == "shares").unwrap().reason, "input totals changed");
    assert_eq!(status_of(&edited, "countries_seen"), StageStatus::Skipped);
    // A changed input table reruns everything that reads it.
    project.write_production(&[(2021, "CHN", 1.0)]);
    assert_eq!(ran(&project.run().await).len(), 3);
    // --select limits a forced run.
    assert_eq!(ran(&project.run_selected(Some("shares"), true).await), BTreeSet::from(["shares"]));
}

#[tokio::test]
async fn every_check_kind_passes_on_good_data() {
    let project = Project::new();
    project.stage("totals", TOTALS);
    project.stage(
        "checked",
        "/*\ndescription = \"All check kinds.\"\ngrain = [\"year\", \"country_iso3\"]\n[schema]\nyear = \"Int32\"\ncountry_iso3 = \"Utf8\"\n[checks]\nnot_null = [\"t_reo\"]\nunique = [[\"year\", \"country_iso3\"]]\naccepted_values = { country_iso3 = [\"CHN\", \"USA\"] }\naccepted_range = { t_reo = { min = 0 } }\nrelationships = { year = \"totals.year\" }\n[checks.sql]\npositive = \"SELECT * FROM checked WHERE t_reo <= 0\"\n*/\nSELECT * FROM production",
    );
    let record = project.run().await;
    let checks = &record.stages.iter().find(|s| s.stage == "checked").unwrap().checks;
    assert_eq!(checks.len(), 7);
    assert!(checks.iter().all(|c| c.passed), "{checks:?}");
}

#[tokio::test]
async fn each_check_kind_fails_with_its_violating_rows() {
    let cases = [
        ("grain = [\"year\"]", "grain", 1),
        ("[checks]\nnot_null = [\"nothing\"]", "not_null:nothing", 3),
        ("[checks]\nunique = [\"year\"]", "unique:year", 1),
        ("[checks]\naccepted_values = { country_iso3 = [\"CHN\"] }", "accepted_values:country_iso3", 1),
        ("[checks]\naccepted_range = { t_reo = { max = 100000 } }", "accepted_range:t_reo", 2),
        ("[checks]\nrelationships = { country_iso3 = \"known.iso3\" }", "relationships:country_iso3", 1),
        ("[checks.sql]\nbig = \"SELECT * FROM checked WHERE t_reo > 50000\"", "sql:big", 2),
    ];
    for (header, check, violations) in cases {
        let project = Project::new();
        project.stage("known", "/*\ndescription = \"Known codes.\"\n*/\nSELECT 'CHN' AS iso3");
        project.stage(
            "checked",
            &format!("/*\ndescription = \"A check.\"\n{header}\n*/\nSELECT *, CAST(NULL AS DOUBLE) AS nothing FROM production"),
        );
        project.stage("after", "/*\ndescription = \"Downstream.\"\n*/\nSELECT * FROM checked");
        let record = project.run().await;
        assert_eq!(record.status, "checks_failed", "{check}");
        assert_eq!(record.exit_code(), 1);
        let stage = record.stages.iter().find(|s| s.stage == "checked").unwrap();
        assert_eq!(stage.status, StageStatus::ChecksFailed, "{check}");
        let result = stage.checks.iter().find(|c| c.check == check).unwrap();
        assert_eq!(result.violations, violations, "{check}");
        assert!(result.failing_rows.as_ref().unwrap().exists(), "{check}: violating rows saved");
        assert!(result.sample.is_some());
        assert_eq!(status_of(&record, "after"), StageStatus::Blocked, "{check}: downstream stops");
        assert!(!project.path("out/checked").exists(), "{check}: a failing result is not published");
    }
}

#[tokio::test]
async fn warn_checks_report_and_publish() {
    let project = Project::new();
    project.stage(
        "warned",
        "/*\ndescription = \"Warns.\"\n[checks]\naccepted_range = { t_reo = { max = 100000 } }\nwarn = [\"accepted_range:t_reo\"]\n*/\nSELECT * FROM production",
    );
    let record = project.run().await;
    assert_eq!(record.status, "ok");
    let check = &record.stages[0].checks[0];
    assert!(!check.passed && !check.blocks());
    assert!(project.path("out/warned/part-0.parquet").exists());
}

#[tokio::test]
async fn a_failing_stage_keeps_the_previous_output_and_blocks_downstream() {
    let project = Project::new();
    project.stage("totals", TOTALS);
    project.stage("shares", SHARES);
    project.run().await;
    let before = std::fs::read(project.path("out/totals/part-0.parquet")).unwrap();
    // Fails while executing (after planning), as a stage killed mid-way would.
    project.stage(
        "totals",
        &TOTALS.replace("sum(t_reo) AS t_reo", "sum(t_reo) AS t_reo, CAST('x' || year AS INT) AS bad"),
    );
    let record = project.run().await;
    assert_eq!(record.status, "error");
    assert_eq!(record.exit_code(), 2);
    assert_eq!(status_of(&record, "totals"), StageStatus::Failed);
    assert!(record.stages[0].error.as_deref().unwrap().contains("totals"));
    assert_eq!(status_of(&record, "shares"), StageStatus::Blocked);
    assert_eq!(std::fs::read(project.path("out/totals/part-0.parquet")).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(project.path("out"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no staging folders left: {leftovers:?}");
}

#[tokio::test]
async fn a_schema_contract_catches_a_changed_type() {
    let project = Project::new();
    project.stage("typed", "/*\ndescription = \"Typed.\"\n[schema]\nt_reo = \"Float64\"\n*/\nSELECT year, CAST(t_reo AS BIGINT) AS t_reo FROM production");
    let record = project.run().await;
    let error = record.stages[0].error.clone().unwrap();
    assert!(error.contains("schema contract: column \"t_reo\" is Int64, the header declares Float64"), "{error}");
}

#[tokio::test]
async fn check_runs_checks_without_rebuilding() {
    let project = Project::new();
    project.stage("totals", "/*\ndescription = \"Totals.\"\n[checks]\naccepted_range = { t_reo = { max = 1000000 } }\n*/\nSELECT year, sum(t_reo) AS t_reo FROM production GROUP BY year");
    project.run().await;
    let stages = order_stages(discover_stages(&project.path("pipelines")).unwrap()).unwrap();
    let all = select_stages(&stages, None).unwrap();
    let mut engine = Engine::open(&project.path("normalized"), &project.path("out")).await.unwrap();
    let record = reeflow_pipeline::check(&mut engine, &stages, &all).await.unwrap();
    assert_eq!(record.status, "ok");
    // Tighten the check in the file: `check` reads the header anew but does not rebuild.
    project.stage("totals", "/*\ndescription = \"Totals.\"\n[checks]\naccepted_range = { t_reo = { max = 200000 } }\n*/\nSELECT year, sum(t_reo) AS t_reo FROM production GROUP BY year");
    let stages = order_stages(discover_stages(&project.path("pipelines")).unwrap()).unwrap();
    let record = reeflow_pipeline::check(&mut engine, &stages, &all).await.unwrap();
    assert_eq!(record.status, "checks_failed");
    assert_eq!(record.stages[0].checks[0].violations, 1);
}

#[tokio::test]
async fn plan_says_what_will_run_and_why() {
    let project = Project::new();
    project.stage("totals", TOTALS);
    project.stage("shares", SHARES);
    let stages = order_stages(discover_stages(&project.path("pipelines")).unwrap()).unwrap();
    let all = select_stages(&stages, None).unwrap();
    let mut engine = Engine::open(&project.path("normalized"), &project.path("out")).await.unwrap();
    let plan = reeflow_pipeline::plan(&mut engine, &stages, &all, false).unwrap();
    assert_eq!(plan[0].reason, "no output yet");
    project.run().await;
    project.stage("totals", &TOTALS.replace("sum(t_reo)", "max(t_reo)"));
    let stages = order_stages(discover_stages(&project.path("pipelines")).unwrap()).unwrap();
    let mut engine = Engine::open(&project.path("normalized"), &project.path("out")).await.unwrap();
    let plan = reeflow_pipeline::plan(&mut engine, &stages, &all, false).unwrap();
    let reasons: Vec<(&str, StageStatus, &str)> =
        plan.iter().map(|p| (p.stage.as_str(), p.status, p.reason.as_str())).collect();
    assert_eq!(
        reasons,
        [("totals", StageStatus::Run, "stage file changed"), ("shares", StageStatus::Run, "upstream totals runs")]
    );
}

#[tokio::test]
async fn partitioned_outputs_are_folders_per_value_and_read_back_whole() {
    let project = Project::new();
    project.stage(
        "by_year",
        "/*\ndescription = \"Production by year and country.\"\ngrain = [\"year\", \"country_iso3\"]\npartition_by = [\"year\"]\n*/\nSELECT year, country_iso3, t_reo FROM production",
    );
    project.stage(
        "from_partitions",
        "/*\ndescription = \"Reads the partitions.\"\n*/\nSELECT year, sum(t_reo) AS t_reo FROM by_year GROUP BY year",
    );
    let first = project.run().await;
    assert_eq!(first.status, "ok", "{first:?}");
    assert!(project.path("out/by_year/year=2021/part-0.parquet").exists());
    assert!(project.path("out/by_year/year=2022/part-0.parquet").exists());
    let rows = project.query("SELECT year, t_reo FROM from_partitions ORDER BY year").await;
    let years = rows[0].column(0).as_any().downcast_ref::<Int32Array>().unwrap();
    assert_eq!(years.values(), &[2021, 2022], "the partition column reads back as Int32");
    let totals = rows[0].column(1).as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(totals.value(1), 253_000.0);
    let again = project.run().await;
    assert!(ran(&again).is_empty(), "deterministic partitions: nothing reruns");
}

/// Stands in for a cluster's executors: a second session, and a record of what was shared.
#[derive(Default)]
struct RecordingFiles {
    shared: std::sync::Mutex<Vec<PathBuf>>,
}

#[async_trait::async_trait]
impl reeflow_pipeline::ClusterFiles for RecordingFiles {
    async fn share(&self, path: &std::path::Path) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        self.shared.lock().unwrap().push(path.to_path_buf());
        reeflow_pipeline::SameFilesystem.share(path).await
    }
}

#[tokio::test]
async fn on_a_cluster_a_table_is_shared_when_a_stage_first_reads_it_and_again_after_a_rebuild() {
    let project = Project::new();
    project.stage("totals", TOTALS);
    project.stage("shares", SHARES);
    let stages = order_stages(discover_stages(&project.path("pipelines")).unwrap()).unwrap();
    let selected = select_stages(&stages, None).unwrap();
    let mut engine = Engine::open(&project.path("normalized"), &project.path("out")).await.unwrap();
    let files = Arc::new(RecordingFiles::default());
    let cluster = datafusion::prelude::SessionContext::new();
    engine.run_stages_on(cluster.clone(), None, files.clone()).await.unwrap();
    assert!(files.shared.lock().unwrap().is_empty(), "nothing is shared before a stage reads it");

    let record = reeflow_pipeline::run(&mut engine, &stages, &selected, false, |_| {}).await.unwrap();
    assert_eq!(ran(&record), BTreeSet::from(["totals", "shares"]));
    let shared: Vec<String> = files.shared.lock().unwrap().iter().map(|p| p.display().to_string()).collect();
    assert_eq!(shared.len(), 2, "production once (both stages read it), then totals: {shared:?}");
    assert!(shared[0].ends_with("production.parquet") && shared[1].ends_with("totals"), "{shared:?}");
    assert!(cluster.table_exist("totals").unwrap() && cluster.table_exist("production").unwrap());

    // An unchanged rerun shares nothing; a forced one shares totals again after rebuilding it.
    reeflow_pipeline::run(&mut engine, &stages, &selected, false, |_| {}).await.unwrap();
    assert_eq!(files.shared.lock().unwrap().len(), 2);
    reeflow_pipeline::run(&mut engine, &stages, &selected, true, |_| {}).await.unwrap();
    let shared = files.shared.lock().unwrap().clone();
    assert_eq!(shared.len(), 3, "{shared:?}");
    assert!(shared[2].ends_with("totals"));
}

#[tokio::test]
async fn a_table_held_in_memory_cannot_go_to_a_cluster() {
    let project = Project::new();
    let mut engine = Engine::open(&project.path("normalized"), &project.path("out")).await.unwrap();
    let batch = project.query("SELECT * FROM production").await.remove(0);
    engine.register_batch("ref_regions", batch, &project.path("model.toml")).unwrap();
    let cluster = datafusion::prelude::SessionContext::new();
    let error = engine.run_stages_on(cluster, None, Arc::new(reeflow_pipeline::SameFilesystem)).await.unwrap_err();
    assert!(error.to_string().contains("ref_regions") && error.to_string().contains("held in memory"), "{error}");
}

#[tokio::test]
async fn filter_pushdown_moves_the_filter_into_the_parquet_reader_and_keeps_the_answer() {
    let project = Project::new();
    let query = "SELECT year, t_reo FROM production WHERE country_iso3 = 'CHN' ORDER BY year";
    let mut answers = Vec::new();
    for filter_pushdown in [true, false] {
        let options = reeflow_pipeline::EngineOptions { filter_pushdown, ..Default::default() };
        let engine = Engine::open_with(&project.path("normalized"), &project.path("out"), &options).await.unwrap();
        let plan = engine.query(&format!("EXPLAIN {query}"), false).await.unwrap();
        let plan = reeflow_pipeline::format_batches(&plan, reeflow_pipeline::OutputFormat::Csv).unwrap();
        // Evaluated inside the reader, the filter leaves no FilterExec above the scan.
        assert_eq!(plan.contains("FilterExec"), !filter_pushdown, "{plan}");
        let rows = engine.query(query, false).await.unwrap();
        answers.push(reeflow_pipeline::format_batches(&rows, reeflow_pipeline::OutputFormat::Csv).unwrap());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].lines().count(), 3, "a header and two years: {}", answers[0]);
}

#[tokio::test]
async fn a_stage_without_order_by_writes_the_same_bytes_at_any_partition_count() {
    let project = Project::new();
    let rows: Vec<(i32, &str, f64)> =
        (0..400).map(|i| (2000 + i % 23, ["CHN", "USA", "AUS", "MMR"][i as usize % 4], i as f64)).collect();
    project.write_production(&rows);
    // No ORDER BY: the engine fixes the order (every column, ascending).
    project.stage("by_country", "/*\ndescription = \"Totals.\"\n*/\nSELECT country_iso3, year, sum(t_reo) AS t_reo FROM production GROUP BY country_iso3, year");
    let stages = order_stages(discover_stages(&project.path("pipelines")).unwrap()).unwrap();
    let selected = select_stages(&stages, None).unwrap();
    let mut outputs = Vec::new();
    for target_partitions in [1, 16] {
        let options = reeflow_pipeline::EngineOptions { target_partitions, ..Default::default() };
        let mut engine = Engine::open_with(&project.path("normalized"), &project.path("out"), &options).await.unwrap();
        reeflow_pipeline::run(&mut engine, &stages, &selected, true, |_| {}).await.unwrap();
        let file = project.path("out/by_country").join(reeflow_pipeline::engine::PART_FILE);
        outputs.push(std::fs::read(file).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    let first = project.query("SELECT country_iso3, year FROM by_country LIMIT 1").await;
    let first = reeflow_pipeline::format_batches(&first, reeflow_pipeline::OutputFormat::Csv).unwrap();
    assert!(first.contains("AUS,2000"), "{first}");
}
