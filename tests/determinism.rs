//! Stage outputs are byte-identical at any number of partitions (threads): float sums are exact
//! fixed-point sums (crates/pipeline/src/exact_sum.rs) and every stage orders its rows. Checked on
//! the real bundled snapshot and on a generated world-trade table with the rare-earth codes among
//! 5,000 products.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{reeflow, stdout};

/// Every stage's output hash, after a run at `partitions`.
fn output_hashes(data: &Path, partitions: usize) -> BTreeMap<String, String> {
    let run = common::command(data)
        .env("REEFLOW_TARGET_PARTITIONS", partitions.to_string())
        .args(["--quiet", "run"])
        .output()
        .unwrap();
    stdout(&run);
    let out = data.join("current/out");
    let mut hashes = BTreeMap::new();
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
    // Every stage of pipelines/ published an output.
    assert_eq!(hashes.len(), common::stage_count(), "{hashes:?}");
    hashes
}

fn same_at_1_2_and_8_partitions(make: impl Fn() -> tempfile::TempDir) {
    let runs: Vec<BTreeMap<String, String>> = [1, 2, 8].iter().map(|p| output_hashes(make().path(), *p)).collect();
    assert_eq!(runs[0], runs[1], "1 vs 2 partitions");
    assert_eq!(runs[0], runs[2], "1 vs 8 partitions");
}

#[test]
fn the_real_snapshot_gives_the_same_bytes_at_any_partitions() {
    same_at_1_2_and_8_partitions(common::bundled_snapshot_data_dir);
}

#[test]
fn generated_world_trade_gives_the_same_bytes_at_any_partitions() {
    let work = tempfile::tempdir().unwrap();
    let trade = work.path().join("trade.parquet");
    stdout(&reeflow(
        work.path(),
        &["bench", "gen", "--rows", "300000", "--years", "2015-2022", "--seed", "7", "--out", trade.to_str().unwrap()],
    ));
    same_at_1_2_and_8_partitions(|| {
        let data = common::bundled_snapshot_data_dir();
        std::fs::copy(&trade, data.path().join("snapshot/trade.parquet")).unwrap();
        data
    });
}
