//! Stage outputs are byte-identical at any number of partitions (threads): float sums are exact
//! fixed-point sums (crates/pipeline/src/exact_sum.rs) and every stage orders its rows. Checked on
//! the real bundled snapshot and on a generated world-trade table with the rare-earth codes among
//! 5,000 products.

mod common;

use std::collections::BTreeMap;

fn same_at_1_2_and_8_partitions(make: impl Fn() -> tempfile::TempDir) {
    let runs: Vec<BTreeMap<String, String>> = [1, 2, 8]
        .iter()
        .map(|p| common::output_hashes(make().path(), &[("REEFLOW_TARGET_PARTITIONS", &p.to_string())]))
        .collect();
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
    let trade = common::generated_trade(work.path(), 300_000);
    same_at_1_2_and_8_partitions(|| {
        let data = common::bundled_snapshot_data_dir();
        std::fs::copy(&trade, data.path().join("snapshot/trade.parquet")).unwrap();
        data
    });
}
