//! Broken copies of real files: each error names the file and the problem.

use std::path::{Path, PathBuf};

use reeflow_normalize::normalize_folder;

/// Copies one real file into a fresh raw folder under `name`, changed by `edit`.
fn broken_copy(relative: &str, name: &str, edit: impl FnOnce(Vec<u8>) -> Vec<u8>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = reeflow_testdata::read_public(relative);
    let path = dir.path().join(name);
    std::fs::write(&path, edit(bytes)).unwrap();
    (dir, path)
}

fn error_for(dir: &Path) -> String {
    normalize_folder(dir, &Default::default()).expect_err("a broken file must fail").to_string()
}

#[test]
fn truncated_comtrade_json() {
    let (dir, path) =
        broken_copy("cmrs-v3/un_comtrade_china_2846/2022.json", "2022.json", |b| b[..b.len() / 2].to_vec());
    let error = error_for(dir.path());
    assert!(error.starts_with(&path.display().to_string()), "{error}");
    assert!(error.contains("not valid JSON") && error.contains("expected a Comtrade API response"), "{error}");
}

#[test]
fn comtrade_count_that_does_not_match_the_records() {
    let (dir, _) = broken_copy("cmrs-v3/un_comtrade_china_2846/2022.json", "2022.json", |b| {
        String::from_utf8(b).unwrap().replacen("\"count\":27", "\"count\":28", 1).into_bytes()
    });
    let error = error_for(dir.path());
    assert!(error.contains("2022.json: key \"count\": count is Some(28) but 27 records are present"), "{error}");
}

#[test]
fn mcs_world_csv_with_a_renamed_column() {
    let (dir, path) = broken_copy("pnnl-cmm-data/usgs_mcs/mcs2023-raree_world.csv", "mcs2023-raree_world.csv", |b| {
        String::from_utf8(b).unwrap().replacen("Country", "Nation", 1).into_bytes()
    });
    let error = error_for(dir.path());
    assert!(error.starts_with(&path.display().to_string()), "{error}");
    assert!(error.contains("missing column \"Country\""), "{error}");
}

#[test]
fn mcs_world_csv_with_an_unknown_token() {
    let (dir, _) = broken_copy("pnnl-cmm-data/usgs_mcs/mcs2023-raree_world.csv", "mcs2023-raree_world.csv", |b| {
        String::from_utf8(b).unwrap().replacen(",168000,210000,", ",168000,about 210k,", 1).into_bytes()
    });
    let error = error_for(dir.path());
    assert!(error.contains("line 8, column \"Prod_t_est_2022\": unknown value token \"about 210k\""), "{error}");
}

#[test]
fn workbook_without_the_expected_sheet() {
    // A USITC workbook named like a Minerals Yearbook release has no sheet T8.
    let (dir, path) = broken_copy(
        "cmrs-v3/usitc_dataweb/us_imports_for_consumption_1993-2026.xlsx",
        "usgs_myb2022_rare_earths_tables.xlsx",
        |b| b,
    );
    let error = error_for(dir.path());
    assert!(error.starts_with(&path.display().to_string()), "{error}");
    assert!(error.contains("sheet \"T8\": sheet not found; the workbook has sheets"), "{error}");
}

#[test]
fn salient_csv_with_a_new_column() {
    let (dir, _) = broken_copy("pnnl-cmm-data/usgs_mcs/mcs2023-raree_salient.csv", "mcs2023-raree_salient.csv", |b| {
        String::from_utf8(b).unwrap().replacen("Employment_num", "Employment_total", 1).into_bytes()
    });
    let error = error_for(dir.path());
    assert!(error.contains("unknown Rare Earths salient column \"Employment_total\""), "{error}");
}

#[test]
fn empty_raw_folder_says_what_it_expected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "notes").unwrap();
    let error = error_for(dir.path());
    assert!(error.contains("holds no file reeflow can read"), "{error}");
}

#[test]
fn quota_list_with_an_unknown_quota_type() {
    let (dir, path) = broken_copy("compiled-china-quotas/china_ree_quotas.csv", "china_ree_quotas.csv", |b| {
        String::from_utf8(b).unwrap().replacen("2011,smelting_separation,", "2011,refining,", 1).into_bytes()
    });
    let error = error_for(dir.path());
    assert!(error.starts_with(&path.display().to_string()), "{error}");
    assert!(
        error.contains(
            "line 7, column \"quota_type\": expected one of mining, smelting_separation, export, found \"refining\""
        ),
        "{error}"
    );
}
