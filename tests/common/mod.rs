//! Helpers shared by the end-to-end tests: run the `reeflow` binary against a data folder with the
//! repository's pipelines and model file.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[allow(unused_imports)]
pub use reeflow_testdata::{copy_tree, public_data, repo};

/// The `reeflow` command with a data folder, the repository's pipelines and its model file.
pub fn command(data_dir: &Path) -> Command {
    command_with_model(data_dir, &repo().join("config/model.toml"))
}

/// The `reeflow` command with a data folder, the repository's pipelines and config, and another
/// model file.
pub fn command_with_model(data_dir: &Path, model: &Path) -> Command {
    command_with(data_dir, model, &repo().join("config/reeflow.toml"))
}

/// The `reeflow` command with a data folder, the repository's pipelines, and the given model and
/// config files.
pub fn command_with(data_dir: &Path, model: &Path, config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reeflow"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--pipelines")
        .arg(repo().join("pipelines"))
        .arg("--model")
        .arg(model)
        .arg("--config")
        .arg(config);
    command
}

/// Runs `reeflow` with a data folder, the repository's pipelines and its model file.
pub fn reeflow(data_dir: &Path, args: &[&str]) -> Output {
    command(data_dir).args(args).output().expect("reeflow runs")
}

/// Runs `reeflow` with another model file.
pub fn reeflow_with_model(data_dir: &Path, model: &Path, args: &[&str]) -> Output {
    command_with_model(data_dir, model).args(args).output().expect("reeflow runs")
}

/// How many stages `pipelines/` holds (its `.sql` files, subfolders included).
pub fn stage_count() -> usize {
    fn count(folder: &Path) -> usize {
        std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .map(
                |path| {
                    if path.is_dir() { count(&path) } else { usize::from(path.extension().is_some_and(|x| x == "sql")) }
                },
            )
            .sum()
    }
    count(&repo().join("pipelines"))
}

pub fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A data folder holding a copy of the bundled snapshot (the offline default input).
pub fn bundled_snapshot_data_dir() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let snapshot = data.path().join("snapshot");
    std::fs::create_dir_all(&snapshot).unwrap();
    for entry in std::fs::read_dir(repo().join("data/snapshot")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, snapshot.join(path.file_name().unwrap())).unwrap();
    }
    data
}

/// Runs a query and returns its rows as JSON objects.
pub fn query(data_dir: &Path, sql: &str) -> Vec<serde_json::Value> {
    let output = reeflow(data_dir, &["sql", "--format", "json", sql]);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    rows.as_array().unwrap().clone()
}

/// Every file of the published version's tables (normalized/ and out/), by relative path, with
/// its bytes. The normalized manifest is left out: it lists the raw folder's files, including a
/// fetch manifest holding download times.
pub fn published_files(data_dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let current = data_dir.join("current").canonicalize().expect("a published version");
    version_files(&current)
}

/// Every file of a version folder's tables (normalized/, out/ and the reference tables in ref/),
/// as [`published_files`] lists them.
pub fn version_files(version: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, folder: &Path, files: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(folder) else { return };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else if !path.ends_with("normalized/_manifest.json") {
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = std::collections::BTreeMap::new();
    for folder in ["normalized", "out", "ref"] {
        walk(version, &version.join(folder), &mut files);
    }
    files
}

/// A minimal HTTP/1.1 server on 127.0.0.1 answering each GET with what `answer` gives for the
/// request path (without the leading `/`): 200 with the body, or 404. Returns its base URL.
pub fn serve(answer: impl Fn(&str) -> Option<Vec<u8>> + Send + 'static) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Headers up to the blank line.
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/');
            let response = match answer(path) {
                Some(body) => {
                    let mut head =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
                            .into_bytes();
                    head.extend(body);
                    head
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    base
}

/// Serves the files of `root` by name (`GET /<name>`).
pub fn serve_files(root: PathBuf) -> String {
    serve(move |name| std::fs::read(root.join(name)).ok())
}

/// Answers every GET with `body` (a real Comtrade answer, say).
pub fn serve_body(body: Vec<u8>) -> String {
    serve(move |_| Some(body.clone()))
}

/// One trade report for planted data: `reporter` reports `flow` of `hs_code` with `partner` (code,
/// ISO3; code 0 is the World), `kg` net weight and `value_usd` (CIF for imports, FOB otherwise), from
/// the Comtrade file `source_file`.
#[allow(clippy::too_many_arguments)]
pub fn trade_row(
    year: i32,
    reporter: (i32, &str),
    partner: (i32, &str),
    flow: &str,
    hs_code: &str,
    kg: f64,
    value_usd: f64,
    source_file: &str,
) -> reeflow_model::TradeRow {
    reeflow_model::TradeRow {
        year,
        reporter_code: reporter.0,
        reporter_iso3: Some(reporter.1.into()),
        partner_code: Some(partner.0),
        partner_iso3: Some(partner.1.into()),
        partner_name: Some(partner.1.into()),
        flow: flow.into(),
        hs_code: hs_code.into(),
        hs_edition: Some("H6".into()),
        net_weight_kg: Some(kg),
        qty: Some(kg),
        qty_unit: Some("kg".into()),
        value_usd: Some(value_usd),
        value_basis: Some(if flow == "M" { "CIF" } else { "FOB" }.into()),
        is_estimated: false,
        is_aggregate: partner.0 == 0,
        flag: None,
        provenance: reeflow_model::Provenance {
            source: "comtrade".into(),
            source_file: source_file.into(),
            edition: "comtrade:2026-11-30".into(),
        },
    }
}

/// Rewrites the table `T` of `<data>/snapshot/` (the inputs `reeflow run` uses when there is no raw
/// folder): drops the rows `drop(batch, row)` picks and appends `planted`. For tests that plant a
/// figure in, or take one out of, the real data and follow it through the stages.
pub fn plant<T: reeflow_model::Table>(
    data_dir: &Path,
    planted: &[T],
    drop: impl Fn(&arrow::array::RecordBatch, usize) -> bool,
) {
    use arrow::array::BooleanArray;
    let path = data_dir.join("snapshot").join(format!("{}.parquet", T::NAME));
    let file = std::fs::File::open(&path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut batches = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let keep: BooleanArray = (0..batch.num_rows()).map(|row| Some(!drop(&batch, row))).collect();
        batches.push(arrow::compute::filter_record_batch(&batch, &keep).unwrap());
    }
    batches.push(T::to_batch(planted).unwrap());
    let all = arrow::compute::concat_batches(&T::schema(), &batches).unwrap();
    reeflow_files::parquet::write_parquet(&path, &all).unwrap();
}

/// The text of column `name` in `row` of `batch` (None for null).
pub fn text(batch: &arrow::array::RecordBatch, name: &str, row: usize) -> Option<String> {
    let column = batch.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"));
    let column = arrow::compute::cast(column, &arrow::datatypes::DataType::Utf8).unwrap();
    let strings = column.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
    (!arrow::array::Array::is_null(strings, row)).then(|| strings.value(row).to_string())
}

/// Starts `reeflow` paused at `failpoint`, checks what a reader sees meanwhile, and kills it.
pub fn kill_at(data: &Path, mut command: Command, failpoint: &str) {
    let marker = data.with_extension("paused");
    let _ = std::fs::remove_file(&marker);
    let mut child = command
        .env("REEFLOW_FAILPOINT", failpoint)
        .env("REEFLOW_FAILPOINT_FILE", &marker)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !marker.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("reeflow ended ({status}) before reaching failpoint {failpoint}");
        }
        assert!(std::time::Instant::now() < deadline, "failpoint {failpoint} not reached");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// The MCS 2024 world table: left out of one raw folder, a new edition arrives with it.
pub const MCS2024_WORLD: &str = "pnnl-cmm-data/usgs_mcs/mcs2024-raree_world.csv";

/// Raw folders under `root`: every public file but the MCS 2024 world table (A), and every public
/// file (B).
pub fn raw_folders(public: &Path, root: &Path) -> (PathBuf, PathBuf) {
    let (a, b) = (root.join("raw-a"), root.join("raw-b"));
    copy_tree(public, &a, &[MCS2024_WORLD]);
    copy_tree(public, &b, &[]);
    (a, b)
}

/// `refresh` from the raw folder `raw` without fetching, its summary as JSON.
pub fn refresh_args(raw: &Path) -> Vec<&str> {
    vec!["refresh", "--fetch", "none", "--raw", raw.to_str().unwrap(), "--format", "json"]
}

/// The JSON summary a `refresh --format json` printed.
pub fn refresh_summary(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("JSON summary; stderr: {}", String::from_utf8_lossy(&output.stderr)))
}

/// Every stage's output hash (from its manifest) after `reeflow run` with `env` set; asserts that
/// every stage of pipelines/ published an output.
pub fn output_hashes(data: &Path, env: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    let mut command = command(data);
    command.envs(env.iter().copied()).args(["--quiet", "run"]);
    stdout(&command.output().unwrap());
    let out = data.join("current/out");
    let mut hashes = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        let manifest = entry.unwrap().path().join("_stage.json");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            hashes.insert(
                value["stage"].as_str().unwrap().to_string(),
                value["output_sha256"].as_str().unwrap().to_string(),
            );
        }
    }
    assert_eq!(hashes.len(), stage_count(), "{hashes:?}");
    hashes
}

/// Generates `rows` world-trade rows (the rare-earth codes among 5,000 products, 2015-2022) with
/// `reeflow bench gen` into `<dir>/trade.parquet`.
pub fn generated_trade(dir: &Path, rows: usize) -> PathBuf {
    let trade = dir.join("trade.parquet");
    stdout(&reeflow(
        dir,
        &[
            "bench",
            "gen",
            "--rows",
            &rows.to_string(),
            "--years",
            "2015-2022",
            "--seed",
            "7",
            "--out",
            trade.to_str().unwrap(),
        ],
    ));
    trade
}
