//! Helpers shared by the end-to-end tests: run the `reeflow` binary against a data folder with the
//! repository's pipelines and model file.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `reeflow` command with a data folder, the repository's pipelines and its model file.
pub fn command(data_dir: &Path) -> Command {
    command_with_model(data_dir, &repo().join("config/model.toml"))
}

/// The `reeflow` command with a data folder, the repository's pipelines and another model file.
pub fn command_with_model(data_dir: &Path, model: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reeflow"));
    command.arg("--data-dir").arg(data_dir).arg("--pipelines").arg(repo().join("pipelines")).arg("--model").arg(model);
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
