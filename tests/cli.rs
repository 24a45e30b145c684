//! End-to-end: the `reeflow` binary on the real files and on the bundled snapshot.

mod common;

use common::{reeflow, repo, stdout};

const CHINA_MCS2023: &str =
    "SELECT year, t_reo FROM production WHERE country_iso3='CHN' AND edition='MCS2023' ORDER BY year";

#[test]
fn normalize_run_and_query_the_real_files() {
    let public = reeflow_testdata::public_data();
    let data = tempfile::tempdir().unwrap();
    // normalize publishes the tables together with stage outputs built from them.
    let normalized = reeflow(data.path(), &["normalize", "--raw", public.to_str().unwrap()]);
    assert!(stdout(&normalized).contains("production"));
    let stderr = String::from_utf8_lossy(&normalized.stderr);
    assert!(stderr.contains("published version v0001-"), "{stderr}");
    let run = reeflow(data.path(), &["run", "--force", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
    let stages = summary["stages"].as_array().unwrap();
    let share = stages.iter().find(|s| s["stage"] == "mine_production_share").unwrap();
    assert_eq!(share["status"], "run");
    assert!(share["rows"].as_u64().unwrap() > 100);
    // Every stage ran and no blocking check failed (warnings allowed).
    for stage in stages {
        assert_eq!(stage["status"], "run", "{stage}");
        let checks = stage["checks"].as_array().unwrap();
        assert!(checks.iter().all(|c| c["passed"] == true || c["severity"] == "warn"), "{stage}");
    }
    // Nothing changed: the second run runs no stage, in well under a second of pipeline time.
    let again: serde_json::Value =
        serde_json::from_str(&stdout(&reeflow(data.path(), &["run", "--format", "json"]))).unwrap();
    assert!(again["stages"].as_array().unwrap().iter().all(|s| s["status"] == "skipped"), "{again}");
    assert!(again["pipeline_seconds"].as_f64().unwrap() < 1.0, "{again}");
    let record = std::fs::read_to_string(again["record"].as_str().unwrap()).unwrap();
    assert!(record.contains("\"pipeline_seconds\""));
    assert_eq!(reeflow(data.path(), &["check"]).status.code(), Some(0));
    let query = reeflow(data.path(), &["sql", "--format", "csv", CHINA_MCS2023]);
    assert_eq!(stdout(&query), "year,t_reo\n2021,168000.0\n2022,210000.0\n");
    // China's share of world mine production, as USGS publishes it.
    let share = reeflow(
        data.path(),
        &[
            "sql",
            "--format",
            "json",
            "SELECT year, edition, round(share_of_world * 100) AS pct FROM mine_production_share \
             WHERE country_iso3 = 'CHN' AND (year, edition) IN ((2021, 'MCS2022'), (2022, 'MCS2023'), (2023, 'MCS2024')) ORDER BY year",
        ],
    );
    let rows: serde_json::Value = serde_json::from_str(&stdout(&share)).unwrap();
    let pct: Vec<f64> = rows.as_array().unwrap().iter().map(|r| r["pct"].as_f64().unwrap()).collect();
    assert_eq!(pct, vec![60.0, 70.0, 69.0]);
}

#[test]
fn a_fresh_clone_runs_on_the_bundled_snapshot() {
    let data = common::bundled_snapshot_data_dir();
    let run = reeflow(data.path(), &["run"]);
    let summary = format!("ok: {} ran, 0 skipped", common::stage_count());
    assert!(stdout(&run).contains(&summary), "{}", String::from_utf8_lossy(&run.stdout));
    assert!(data.path().join("out/mine_production_share/part-0.parquet").exists());
    let versions: serde_json::Value =
        serde_json::from_str(&stdout(&reeflow(data.path(), &["versions", "--format", "json"]))).unwrap();
    assert_eq!(versions[0]["inputs"], "snapshot", "no raw folder: the bundled tables are the inputs");
    let query = reeflow(data.path(), &["sql", "--format", "csv", CHINA_MCS2023]);
    assert_eq!(stdout(&query), "year,t_reo\n2021,168000.0\n2022,210000.0\n");
    // The filter evaluated inside the Parquet reader gives the same answer.
    let pushed = reeflow(data.path(), &["sql", "--pushdown-filters", "--format", "csv", CHINA_MCS2023]);
    assert_eq!(stdout(&pushed), stdout(&query));
}

#[test]
fn the_bundled_snapshot_is_what_normalize_makes_today() {
    let public = reeflow_testdata::public_data();
    let data = tempfile::tempdir().unwrap();
    stdout(&reeflow(data.path(), &["normalize", "--snapshot", "--raw", public.to_str().unwrap()]));
    for table in ["production", "trade", "salient", "countries"] {
        let file = format!("{table}.parquet");
        let fresh = std::fs::read(data.path().join("snapshot").join(&file)).unwrap();
        let bundled = std::fs::read(repo().join("data/snapshot").join(&file)).unwrap();
        assert!(
            fresh == bundled,
            "data/snapshot/{file} is stale: run `cargo run -- normalize --raw tests/data --snapshot` and commit it"
        );
    }
}

#[test]
fn ad_hoc_sql_is_read_only_and_errors_exit_2() {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("snapshot")).unwrap();
    std::fs::copy(repo().join("data/snapshot/production.parquet"), data.path().join("snapshot/production.parquet"))
        .unwrap();
    let write = reeflow(data.path(), &["sql", "COPY production TO '/tmp/reeflow-should-not-exist.csv'"]);
    assert_eq!(write.status.code(), Some(2));
    let missing = reeflow(data.path(), &["sql", "SELECT * FROM no_such_table"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no_such_table"));
    let nothing = tempfile::tempdir().unwrap();
    let empty = reeflow(nothing.path(), &["sql", "SELECT 1"]);
    assert_eq!(empty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("reeflow normalize --raw"));
}

#[test]
fn the_stage_catalogue_is_current() {
    let data = tempfile::tempdir().unwrap();
    let catalogue = repo().join("docs/stages.md");
    let output = reeflow(data.path(), &["docs", "--check", "--output", catalogue.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "docs/stages.md is stale: run `cargo run -- docs` and commit it ({})",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn snapshot_data_dir() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("snapshot")).unwrap();
    std::fs::copy(repo().join("data/snapshot/production.parquet"), data.path().join("snapshot/production.parquet"))
        .unwrap();
    data
}

#[test]
fn the_prompt_reads_statements_from_standard_input() {
    use std::io::Write;
    let data = snapshot_data_dir();
    let mut child = common::command(data.path())
        .arg("sql")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = ".format csv\nSELECT year, t_reo FROM production\nWHERE country_iso3 = 'CHN' AND edition = 'MCS2023'\nORDER BY year;\n.quit\n";
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(stdout(&output), "year,t_reo\n2021,168000.0\n2022,210000.0\n");
}

#[test]
fn query_results_can_be_written_as_parquet() {
    let data = snapshot_data_dir();
    let file = data.path().join("china.parquet");
    let written = reeflow(
        data.path(),
        &[
            "sql",
            "--format",
            "parquet",
            "--output",
            file.to_str().unwrap(),
            "SELECT * FROM production WHERE country_iso3 = 'CHN'",
        ],
    );
    stdout(&written);
    let reader = parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    use parquet::file::reader::FileReader;
    assert!(reader.metadata().file_metadata().num_rows() > 20);
    let missing = reeflow(data.path(), &["sql", "--format", "parquet", "SELECT 1"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--output FILE"));
}

#[test]
fn fetch_dry_run_plans_against_the_configured_mirror_without_the_key() {
    let data = tempfile::tempdir().unwrap();
    let output = common::command(data.path())
        .current_dir(repo())
        .env("REEFLOW_COMTRADE_URL", "http://127.0.0.1:9/mirror")
        .env("COMTRADE_API_KEY", "reeflow-secret-test-key")
        .args([
            "fetch",
            "comtrade",
            "--reporters",
            "156,842",
            "--codes",
            "2846",
            "--flows",
            "M",
            "--years",
            "2018-2022",
            "--dry-run",
        ])
        .output()
        .unwrap();
    let text = stdout(&output);
    let requests: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("GET ")).collect();
    assert_eq!(requests.len(), 1, "with a key, both reporters and five years in one packed call: {text}");
    assert!(requests[0].trim_start().starts_with("GET http://127.0.0.1:9/mirror/data/v1/get/C/A/HS?"), "{text}");
    assert!(requests[0].contains("reporterCode=156,842") && requests[0].contains("period=2018,2019,2020,2021,2022"));
    assert!(text.contains("quota: fits today"), "{text}");
    assert!(!text.contains("reeflow-secret-test-key"));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("reeflow-secret-test-key"));
    assert!(!data.path().join("raw").exists(), "a dry run writes nothing");
}

/// Starts `reeflow run` on `data`, paused while it holds the lock (at the first stage written).
fn paused_writer(data: &std::path::Path) -> std::process::Child {
    common::command(data)
        .arg("run")
        .env("REEFLOW_FAILPOINT", "stage:written")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until a paused writer says it reached its failpoint.
fn wait_until_paused(child: &mut std::process::Child) {
    use std::io::BufRead;
    let stderr = child.stderr.take().unwrap();
    for line in std::io::BufReader::new(stderr).lines() {
        if line.unwrap().contains("failpoint stage:written reached") {
            return;
        }
    }
    panic!("the writer ended before holding the lock");
}

#[test]
fn a_second_writer_is_refused_and_a_killed_holder_leaves_no_lock() {
    let data = common::bundled_snapshot_data_dir();
    let mut holder = paused_writer(data.path());
    wait_until_paused(&mut holder);
    let refused = reeflow(data.path(), &["run"]);
    assert_eq!(refused.status.code(), Some(2));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains(&format!("in use by pid {} (`reeflow run`", holder.id())), "{message}");
    // SIGKILL: no destructor runs, but the kernel releases the lock; the next run reports the
    // record the dead holder left, runs, publishes and lets go.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let recovered = reeflow(data.path(), &["run"]);
    assert!(String::from_utf8_lossy(&recovered.stderr).contains("cleared a stale lock"));
    stdout(&recovered);
    let lock = data.path().join(".reeflow.lock");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), "", "released when the run ended");
}

/// Eight writers start at once on a data folder whose lock record names a dead process (the case
/// where two could each clear the record and both go on): exactly one holds the lock, the other
/// seven are refused naming it.
#[test]
fn many_writers_racing_for_a_stale_lock_give_one_holder() {
    let data = common::bundled_snapshot_data_dir();
    let dead = r#"{"pid":999999,"command":"reeflow run","started_at":"2026-01-01T00:00:00Z"}"#;
    std::fs::write(data.path().join(".reeflow.lock"), dead).unwrap();
    let mut writers: Vec<std::process::Child> = (0..8).map(|_| paused_writer(data.path())).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut refused = 0;
    let mut holders = Vec::new();
    for writer in &mut writers {
        loop {
            if let Some(status) = writer.try_wait().unwrap() {
                let mut message = String::new();
                std::io::Read::read_to_string(writer.stderr.as_mut().unwrap(), &mut message).unwrap();
                assert_eq!(status.code(), Some(2), "{message}");
                assert!(message.contains("is in use by pid"), "{message}");
                refused += 1;
                break;
            }
            // Alive: it either waits at its failpoint holding the lock, or is still starting.
            let pid = writer.id();
            let record = std::fs::read_to_string(data.path().join(".reeflow.lock")).unwrap();
            if record.contains(&format!("\"pid\":{pid},")) {
                holders.push(pid);
                break;
            }
            assert!(std::time::Instant::now() < deadline, "writer {pid} neither holds the lock nor ended");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    for writer in &mut writers {
        let _ = writer.kill();
        let _ = writer.wait();
    }
    assert_eq!(holders.len(), 1, "holders: {holders:?}");
    assert_eq!(refused, 7);
}

#[test]
fn the_benchmark_runs_end_to_end_on_a_small_generated_table() {
    let data = common::bundled_snapshot_data_dir();
    let work = data.path().join("bench");
    let results = data.path().join("results.json");
    let output = reeflow(
        data.path(),
        &[
            "bench",
            "run",
            "--rows",
            "20000",
            "--json-rows",
            "3000",
            "--years",
            "2018-2022",
            "--work",
            work.to_str().unwrap(),
            "--output",
            results.to_str().unwrap(),
        ],
    );
    let table = stdout(&output);
    assert!(table.contains("| 20000 | mirror reconciliation SQL |"), "{table}");
    let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let steps: Vec<&str> = results.as_array().unwrap().iter().map(|r| r["step"].as_str().unwrap()).collect();
    assert!(
        steps.contains(&"all stages of pipelines/, end to end")
            && steps.contains(&"no-op rerun (everything up to date)")
    );
    for result in results.as_array().unwrap() {
        assert!(result["reeflow_seconds"].as_f64().unwrap() > 0.0);
        assert!(result["reeflow_peak_bytes"].as_u64().unwrap() > 1_000_000, "peak memory measured: {result}");
    }
    let normalize =
        results.as_array().unwrap().iter().find(|r| r["step"].as_str().unwrap().starts_with("normalize")).unwrap();
    assert!(normalize["rows_per_second"].as_f64().unwrap() > 0.0);
}
