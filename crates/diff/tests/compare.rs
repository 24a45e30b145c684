//! The comparison on small tables written here, where every expected count is known by hand.
//! (The end-to-end diff of two real runs is in crates/cli/tests/refresh.rs.)

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use reeflow_diff::{Severity, TableInput, TableSide, Threshold, diff};

fn write(path: &Path, columns: Vec<(&str, ArrayRef)>) -> TableSide {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    TableSide { path: path.to_path_buf(), partitions: Vec::new() }
}

fn ints(values: &[i32]) -> ArrayRef {
    Arc::new(Int32Array::from(values.to_vec()))
}

fn texts(values: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn floats(values: &[Option<f64>]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

fn production(dir: &Path) -> TableInput {
    let old = write(
        &dir.join("old.parquet"),
        vec![
            ("year", ints(&[2021, 2022, 2022, 2022])),
            ("country", texts(&["CHN", "CHN", "USA", "MMR"])),
            ("t_reo", floats(&[Some(168_000.0), Some(210_000.0), Some(43_000.0), Some(12_000.0)])),
            ("edition", texts(&["MCS2023", "MCS2023", "MCS2023", "MCS2023"])),
        ],
    );
    let new = write(
        &dir.join("new.parquet"),
        vec![
            ("year", ints(&[2021, 2022, 2022, 2023])),
            ("country", texts(&["CHN", "CHN", "USA", "CHN"])),
            ("t_reo", floats(&[Some(168_000.0), Some(240_000.0), None, Some(240_000.0)])),
            ("edition", texts(&["MCS2023", "MCS2024", "MCS2023", "MCS2024"])),
            ("flag", texts(&["", "e", "W", "e"])),
        ],
    );
    TableInput {
        name: "production".into(),
        grain: vec!["year".into(), "country".into()],
        old: Some(old),
        new: Some(new),
    }
}

#[tokio::test]
async fn rows_are_matched_by_grain_and_changes_ranked() {
    let dir = tempfile::tempdir().unwrap();
    let report = diff("a", "b", &[production(dir.path())], &[], 10).await.unwrap();
    let table = report.table("production").unwrap();
    assert_eq!((table.old_rows, table.new_rows), (Some(4), Some(4)));
    assert_eq!((table.added, table.removed, table.changed), (1, 1, 2));
    assert_eq!(table.added_keys, vec!["year=2023 country=CHN"]);
    assert_eq!(table.removed_keys, vec!["year=2022 country=MMR"]);
    assert_eq!(table.changed_keys, vec!["year=2022 country=CHN", "year=2022 country=USA"]);
    assert_eq!(table.schema_changes, vec!["added column flag (Utf8View)".to_string()]);

    let t_reo = table.columns.iter().find(|c| c.column == "t_reo").unwrap();
    assert_eq!(t_reo.changed, 2);
    // A figure that vanished (USA 43,000 → null) ranks first; then the largest move.
    assert_eq!(t_reo.largest_absolute[0].key, "year=2022 country=USA");
    assert_eq!(t_reo.largest_absolute[0].new, serde_json::Value::Null);
    assert_eq!(t_reo.largest_absolute[1].absolute, Some(30_000.0));
    assert_eq!(t_reo.largest_relative.len(), 1, "only changes with both values have a relative size");
    assert!((t_reo.largest_relative[0].relative.unwrap() - 30_000.0 / 210_000.0).abs() < 1e-12);
    let edition = table.columns.iter().find(|c| c.column == "edition").unwrap();
    assert_eq!(edition.changed, 1);
    assert_eq!(edition.largest_absolute[0].new, serde_json::json!("MCS2024"));
    assert!(report.breaches.is_empty() && !report.blocks() && report.has_changes());

    let text = report.to_text();
    assert!(text.contains("year=2022 country=CHN: 210000 → 240000 (+14.3%)"), "{text}");
    assert!(report.to_markdown().contains("| production | 4 | 4 | 1 | 1 | 2 | changed |"));
}

#[tokio::test]
async fn thresholds_flag_large_moves_vanished_figures_and_removed_rows() {
    let dir = tempfile::tempdir().unwrap();
    let thresholds: Vec<Threshold> = toml::from_str::<toml::Table>(
        r#"
        [[t]]
        table = "production"
        column = "t_reo"
        max_relative_change = 0.05
        min_absolute_change = 1.0
        description = "published figures"
        [[t]]
        table = "production"
        max_removed_rows = 0
        severity = "warn"
        "#,
    )
    .unwrap()["t"]
        .clone()
        .try_into()
        .unwrap();
    let report = diff("a", "b", &[production(dir.path())], &thresholds, 10).await.unwrap();
    assert_eq!(report.breaches.len(), 2);
    let removed = &report.breaches[0];
    assert_eq!((removed.rows, removed.severity), (1, Severity::Warn));
    let moved = &report.breaches[1];
    assert_eq!((moved.rows, moved.severity, moved.column.as_deref()), (2, Severity::Block, Some("t_reo")));
    assert!(report.blocks());

    // 14 % is within a 20 % limit; the vanished figure still breaches.
    let mut loose = thresholds[0].clone();
    loose.max_relative_change = Some(0.2);
    let report = diff("a", "b", &[production(dir.path())], &[loose], 10).await.unwrap();
    assert_eq!(report.breaches[0].rows, 1);
    assert_eq!(report.breaches[0].examples[0].key, "year=2022 country=USA");

    let mut typo = thresholds[0].clone();
    typo.table = "prodution".into();
    let error = diff("a", "b", &[production(dir.path())], &[typo], 10).await.unwrap_err();
    assert!(error.to_string().contains("prodution"), "{error}");
}

#[tokio::test]
async fn duplicate_grain_keys_fall_back_to_whole_rows_and_one_sided_tables_count_all_rows() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(&dir.path().join("o.parquet"), vec![("year", ints(&[2020, 2020])), ("v", texts(&["a", "b"]))]);
    let new = write(&dir.path().join("n.parquet"), vec![("year", ints(&[2020, 2020])), ("v", texts(&["a", "c"]))]);
    let duplicated =
        TableInput { name: "t".into(), grain: vec!["year".into()], old: Some(old.clone()), new: Some(new) };
    let only_old = TableInput { name: "gone".into(), grain: vec!["year".into()], old: Some(old), new: None };
    let report = diff("a", "b", &[duplicated, only_old], &[], 10).await.unwrap();
    let t = report.table("t").unwrap();
    assert_eq!((t.added, t.removed, t.changed), (1, 1, 0));
    assert!(t.note.as_deref().unwrap().contains("more than once"));
    let gone = report.table("gone").unwrap();
    assert_eq!((gone.removed, gone.new_rows), (2, None));
    assert!(report.to_text().contains("table removed"));
}
