//! What a published version promises, tested by planting bad or missing data in the real bundled
//! tables and following it through the stages: a version is published whole or not at all, an
//! unknown figure stays unknown to `coverage`, checks fail on the data they guard, regional
//! production comes from one edition, and a heading is never dropped for another source's
//! subheading.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{plant, published_files, query, reeflow, reeflow_with_model, stdout, text, trade_row};
use reeflow_model::{ProductionRow, Provenance, TradeRow};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn current_version(data: &Path) -> std::path::PathBuf {
    std::fs::read_link(data.join("current")).unwrap()
}

/// A rejected run leaves `current` and every published file as they were, and says why.
fn assert_rejected_and_unchanged(
    data: &Path,
    output: &std::process::Output,
    before: &std::collections::BTreeMap<String, Vec<u8>>,
    current: &Path,
) {
    assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
    assert!(stderr(output).contains("NOT PUBLISHED"), "{}", stderr(output));
    assert_eq!(current_version(data), current, "current did not move");
    let after = published_files(data);
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());
    for (file, bytes) in before {
        assert!(after[file] == *bytes, "{file} changed although nothing was published");
    }
}

/// A factor edit changes trade_reo and trade_flows, while a stage_balance check fails on the new
/// run: nothing is published (not the new trade tables beside the old balance), the version is
/// kept as rejected with the failed check and the blocked stages, and the exit code is 1.
#[test]
fn a_failed_check_publishes_nothing() {
    let data = common::bundled_snapshot_data_dir();
    stdout(&reeflow(data.path(), &["run"]));
    let (before, current) = (published_files(data.path()), current_version(data.path()));

    let model = std::fs::read_to_string(common::repo().join("config/model.toml")).unwrap();
    let edited = model.replacen("reo_mid = 0.60", "reo_mid = 0.62", 1)
        + "\n[[assumption]]\nregion = \"JPN\"\nstage = \"separation\"\nterm = \"production\"\nfirst_year = 2000\n\
           t_reo = -1\nreason = \"planted: a negative production the no_negative_terms check must refuse\"\n";
    assert_ne!(edited, model);
    let model_file = data.path().join("model.toml");
    std::fs::write(&model_file, edited).unwrap();
    let run = reeflow_with_model(data.path(), &model_file, &["run", "--format", "json"]);
    assert_rejected_and_unchanged(data.path(), &run, &before, &current);
    let message = stderr(&run);
    assert!(message.contains("stage_balance: sql:no_negative_terms"), "{message}");
    assert!(message.contains("stages blocked by them:") && message.contains("indicators"), "{message}");
    let record: serde_json::Value = serde_json::from_str(&stdout_any(&run)).unwrap();
    assert_eq!(record["version"]["status"], "rejected");
    let trade_reo = record["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "trade_reo").unwrap();
    assert_eq!(trade_reo["status"], "run", "trade_reo was rebuilt with the new factor, in the rejected version only");

    let versions: serde_json::Value =
        serde_json::from_str(&stdout(&reeflow(data.path(), &["versions", "--format", "json"]))).unwrap();
    let rejected = versions.as_array().unwrap().iter().find(|v| v["status"] == "rejected").unwrap();
    assert!(rejected["reason"].as_str().unwrap().contains("no_negative_terms"), "{rejected}");
}

fn stdout_any(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// New raw files (an edit that keeps the size and is given an older modification time, as a CI
/// cache restore does) are noticed by their sha256; `run --select` of one stage then refuses to
/// publish the new tables beside stage outputs built from the old ones, and names them.
#[test]
fn run_select_never_publishes_stale_stages_and_raw_edits_are_seen_by_content() {
    let root = tempfile::tempdir().unwrap();
    let (raw, data) = (root.path().join("raw"), root.path().join("data"));
    common::copy_tree(&common::public_data(), &raw, &[]);
    let raw_text = raw.to_str().unwrap();
    stdout(&reeflow(&data, &["normalize", "--raw", raw_text]));
    let (before, current) = (published_files(&data), current_version(&data));

    let world = raw.join("pnnl-cmm-data/usgs_mcs/mcs2023-raree_world.csv");
    let original = std::fs::read_to_string(&world).unwrap();
    let edited = original.replacen(",168000,210000,", ",168000,210001,", 1);
    assert_eq!(edited.len(), original.len(), "the edit keeps the size");
    assert_ne!(edited, original);
    std::fs::write(&world, edited).unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(946_684_800);
    std::fs::File::options().write(true).open(&world).unwrap().set_modified(old).unwrap();

    let selected = reeflow(&data, &["run", "--raw", raw_text, "--select", "production_reported"]);
    assert_rejected_and_unchanged(&data, &selected, &before, &current);
    let message = stderr(&selected);
    assert!(message.contains("stale") && message.contains("production_by_stage (input production_reported changed)"));

    stdout(&reeflow(&data, &["run", "--raw", raw_text]));
    let china = query(
        &data,
        "SELECT t_reo FROM production_reported WHERE country_iso3 = 'CHN' AND edition = 'MCS2023' AND year = 2022",
    );
    assert_eq!(china[0]["t_reo"], 210001.0, "the edited figure reached the published stages");
}

/// `reeflow check` reads the published version and never writes into it: violating rows (here the
/// concentrate factor's warning for 2025) go beside the run record.
#[test]
fn check_writes_beside_the_run_record_not_into_the_version() {
    let data = common::bundled_snapshot_data_dir();
    stdout(&reeflow(data.path(), &["run"]));
    let before = published_files(data.path());
    stdout(&reeflow(data.path(), &["check"]));
    assert_eq!(published_files(data.path()), before);
    let runs: Vec<_> = std::fs::read_dir(data.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".failing-rows"))
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].join("concentrate_factor_check").read_dir().unwrap().next().is_some());
}

fn production(year: i32, iso3: &str, country: &str, t_reo: Option<f64>, flag: &str, edition: &str) -> ProductionRow {
    ProductionRow {
        year,
        country_iso3: iso3.into(),
        country: country.into(),
        stage: "mining".into(),
        t_reo,
        flag: Some(flag.to_string()).filter(|f| !f.is_empty()),
        raw_value: t_reo.is_none().then(|| flag.to_string()),
        notes: None,
        provenance: Provenance {
            source: "usgs_myb".into(),
            source_file: "cmrs-v3/usgs/usgs_myb2022_rare_earths_tables.xlsx".into(),
            edition: edition.into(),
        },
    }
}

fn is(batch: &arrow::array::RecordBatch, row: usize, column: &str, value: &str) -> bool {
    text(batch, column, row).as_deref() == Some(value)
}

/// A withheld figure (Australia 2022 printed as W) and a missing heading (China's 2022 report of
/// HS 2846, gone from every file) stay unknown through every stage: no region total, balance term,
/// share or indicator turns them into 0, and `coverage` says `gap` or `partial` and why.
#[test]
fn a_withheld_figure_and_a_missing_heading_stay_unknown_to_coverage() {
    let data = common::bundled_snapshot_data_dir();
    plant(data.path(), &[production(2022, "AUS", "Australia", None, "W", "MYB2022")], |b, r| {
        is(b, r, "edition", "MYB2022") && is(b, r, "country_iso3", "AUS") && is(b, r, "year", "2022")
    });
    plant::<TradeRow>(data.path(), &[], |b, r| {
        is(b, r, "reporter_iso3", "CHN")
            && is(b, r, "year", "2022")
            && text(b, "hs_code", r).unwrap().starts_with("2846")
    });
    stdout(&reeflow(data.path(), &["run"]));

    let aus = query(
        data.path(),
        "SELECT production_t_reo, unregistered_t_reo, inputs FROM stage_balance \
         WHERE region = 'AUS' AND year = 2022 AND stage = 'mining'",
    );
    assert!(aus[0]["production_t_reo"].is_null() && aus[0]["unregistered_t_reo"].is_null(), "{aus:?}");
    assert!(aus[0]["inputs"].as_str().unwrap().contains("withheld"), "{aus:?}");
    let cover = |region: &str, stage: &str, item: &str| {
        query(
            data.path(),
            &format!(
                "SELECT status, detail FROM coverage WHERE table_name = 'stage_balance' AND region = '{region}' \
                 AND year = 2022 AND stage = '{stage}' AND item = '{item}'"
            ),
        )[0]
        .clone()
    };
    let production = cover("AUS", "mining", "production");
    assert_eq!(production["status"], "gap");
    assert!(production["detail"].as_str().unwrap().contains("withheld"), "{production}");
    assert_eq!(cover("AUS", "mining", "unregistered")["status"], "gap");

    // China's compound imports are unknown now: no partner in the data reports compounds shipped
    // to China in 2022 (the US shipments are concentrate, at the mining stage), so the term is a
    // gap, not 0.
    let imports = cover("CHN", "separation", "imports");
    assert_eq!(imports["status"], "gap", "{imports}");
    let balance = query(
        data.path(),
        "SELECT imports_t_reo, unregistered_t_reo FROM stage_balance WHERE region = 'CHN' AND year = 2022 \
         AND stage = 'separation'",
    );
    assert!(balance[0]["imports_t_reo"].is_null() && balance[0]["unregistered_t_reo"].is_null(), "{balance:?}");
    let share = query(
        data.path(),
        "SELECT us_share_of_china_imports FROM us_china_flows WHERE year = 2022 AND stage = 'separation'",
    );
    assert!(share[0]["us_share_of_china_imports"].is_null(), "no complete denominator, no share: {share:?}");
    let flows = query(
        data.path(),
        "SELECT rule FROM trade_flows WHERE year = 2022 AND importer = 'CHN' AND stage = 'separation' \
         AND rule = 'importer_preferred'",
    );
    assert!(flows.is_empty(), "China reported no compounds for 2022: {flows:?}");

    // No zero anywhere that came from a null: every 0 production is an assumption or a printed 0,
    // every 0 bilateral direction is a complete report's.
    let zeros = query(
        data.path(),
        "SELECT b.region, b.year, b.stage, b.inputs FROM stage_balance AS b WHERE b.production_t_reo = 0 \
         AND b.inputs NOT LIKE 'production: assumption;%' AND NOT EXISTS (SELECT 1 FROM production_by_stage AS p \
         WHERE p.region = b.region AND p.year = b.year AND p.stage = b.stage AND p.t_reo = 0)",
    );
    assert!(zeros.is_empty(), "{zeros:?}");
    let bilateral = query(
        data.path(),
        "SELECT year, stage, value, note FROM indicators WHERE indicator = 'bilateral_balance_t_reo' AND year = 2022",
    );
    for row in &bilateral {
        let note = row["note"].as_str().unwrap();
        assert_eq!(row["value"].is_null(), note.contains("unknown"), "{row}");
    }
    let mining = bilateral.iter().find(|r| r["stage"] == "mining").unwrap();
    assert!(mining["value"].is_null(), "China→US ore (253090) is not in the data: {mining}");
}

/// For 2018-2022 every year's regional production comes from one itemised edition, its countries
/// add up to that edition's world total, and no other edition's figure or residual is added: the
/// expected sums are taken from the normalized `production` table here, not from the stage.
#[test]
fn each_years_production_comes_whole_from_one_edition() {
    let data = common::bundled_snapshot_data_dir();
    stdout(&reeflow(data.path(), &["run"]));
    for year in 2018..=2022 {
        let used = query(
            data.path(),
            &format!(
                "SELECT country_iso3, t_reo, edition FROM production_by_stage WHERE year = {year} AND stage = 'mining'"
            ),
        );
        let editions: BTreeSet<&str> = used.iter().map(|r| r["edition"].as_str().unwrap()).collect();
        assert_eq!(editions.len(), 1, "{year}: one edition, found {editions:?}");
        let edition = *editions.iter().next().unwrap();
        let printed = query(
            data.path(),
            &format!(
                "SELECT country_iso3, t_reo FROM production WHERE year = {year} AND stage = 'mining' \
                 AND edition = '{edition}'"
            ),
        );
        let sum = |rows: &[serde_json::Value]| -> f64 {
            rows.iter().filter(|r| r["country_iso3"] != "WLD").map(|r| r["t_reo"].as_f64().unwrap()).sum()
        };
        let world = printed.iter().find(|r| r["country_iso3"] == "WLD").unwrap()["t_reo"].as_f64().unwrap();
        assert_eq!(sum(&used), sum(&printed), "{year}: exactly {edition}'s list");
        assert!((sum(&printed) - world).abs() <= 0.03 * world, "{year}: {} vs world {world}", sum(&printed));
        let regions = query(
            data.path(),
            &format!("SELECT sum(production_t_reo) AS t FROM stage_balance WHERE year = {year} AND stage = 'mining'"),
        );
        let regional = regions[0]["t"].as_f64().unwrap();
        assert!((regional - sum(&printed)).abs() < 1e-6, "{year}: regions add up to {regional}");
    }
    let vietnam = query(
        data.path(),
        "SELECT t_reo, edition FROM production_by_stage WHERE year = 2022 AND country_iso3 = 'VNM' AND stage = 'mining'",
    );
    assert_eq!((vietnam[0]["t_reo"].as_f64(), vietnam[0]["edition"].as_str()), (Some(1200.0), Some("MYB2022")));
}

/// The checks fail on the data they guard: a country figure that breaks its edition's world total,
/// and a flow into China beyond China's own complete World row.
#[test]
fn the_new_checks_fail_on_planted_data() {
    let data = common::bundled_snapshot_data_dir();
    plant(data.path(), &[production(2021, "CHN", "China", Some(200_000.0), "", "MYB2022")], |b, r| {
        is(b, r, "edition", "MYB2022") && is(b, r, "country_iso3", "CHN") && is(b, r, "year", "2021")
    });
    let run = reeflow(data.path(), &["run"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(stderr(&run).contains("production_by_stage: sql:countries_add_up_to_the_world_total"), "{}", stderr(&run));

    let data = common::bundled_snapshot_data_dir();
    let iceland = trade_row(2022, (352, "ISL"), (156, "CHN"), "X", "2846", 30_000_000.0, 3.0e8, "planted/isl.json");
    plant(data.path(), &[iceland], |_, _| false);
    let run = reeflow(data.path(), &["run"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(stderr(&run).contains("trade_flows: sql:imports_within_the_importers_world_row"), "{}", stderr(&run));
}

/// A Comtrade report of 284690 alone does not drop USITC's complete 2846 heading for the same side
/// (USITC comes first, both carry factors); within one file, subheadings replace their heading only
/// when they add up to it.
#[test]
fn a_heading_is_kept_unless_its_own_subheadings_add_up_to_it() {
    let data = common::bundled_snapshot_data_dir();
    let usa_x = |hs: &str| trade_row(2022, (842, "USA"), (392, "JPN"), "X", hs, 50_000.0, 1.0e6, "planted/usa.json");
    let kor = |year: i32, hs: &str, value: f64| {
        trade_row(year, (410, "KOR"), (156, "CHN"), "M", hs, value / 100.0, value, "planted/kor.json")
    };
    let planted = [
        usa_x("284690"),
        kor(2022, "2846", 100_000.0),
        kor(2022, "284610", 40_000.0),
        kor(2022, "284690", 60_000.0),
        kor(2021, "2846", 100_000.0),
        kor(2021, "284690", 30_000.0),
    ];
    plant(data.path(), &planted, |_, _| false);
    stdout(&reeflow(data.path(), &["run"]));
    let reports = |filter: &str| {
        query(
            data.path(),
            &format!(
                "SELECT year, hs_code, source, used_in_model, not_used_reason FROM trade_reo WHERE {filter} \
                 ORDER BY year, hs_code, source"
            ),
        )
    };
    let japan = reports("year = 2022 AND exporter = 'USA' AND importer = 'JPN' AND hs_code LIKE '2846%'");
    let usitc = japan.iter().find(|r| r["source"] == "usitc_dataweb").unwrap();
    assert_eq!(usitc["used_in_model"], true, "{japan:?}");
    let comtrade = japan.iter().find(|r| r["source"] == "comtrade").unwrap();
    assert_eq!(comtrade["used_in_model"], false);
    assert!(comtrade["not_used_reason"].as_str().unwrap().contains("usitc_dataweb"), "{comtrade}");

    let korea = reports("importer = 'KOR' AND reported_by = 'importer' AND year IN (2021, 2022)");
    let used: Vec<(i64, &str)> = korea
        .iter()
        .filter(|r| r["used_in_model"] == true)
        .map(|r| (r["year"].as_i64().unwrap(), r["hs_code"].as_str().unwrap()))
        .collect();
    assert_eq!(used, [(2021, "2846"), (2022, "284610"), (2022, "284690")], "{korea:?}");
    let heading_2022 = korea.iter().find(|r| r["year"] == 2022 && r["hs_code"] == "2846").unwrap();
    assert!(heading_2022["not_used_reason"].as_str().unwrap().contains("add up to it"), "{heading_2022}");
}

/// Three countries report each other's flows: two agree with everyone they share a flow with,
/// the third books twice the weight it imports and half what it exports. The reliability weights
/// learnt from those discrepancies put the combined flow nearer the reliable reporter, and the
/// rule-based figure (importer preferred) stays beside it.
#[test]
fn a_flow_between_a_reliable_and_a_noisy_reporter_leans_to_the_reliable_one() {
    let data = common::bundled_snapshot_data_dir();
    let (korea, thailand, india) = ((410, "KOR"), (764, "THA"), (356, "IND"));
    let file = "planted/reliability.json";
    let report = |reporter: (i32, &str), partner: (i32, &str), flow: &str, tonnes: f64| {
        trade_row(2015, reporter, partner, flow, "2846", tonnes * 1000.0, tonnes * 10_000.0, file)
    };
    let mut rows = Vec::new();
    for (a, b) in [(korea, thailand), (thailand, korea)] {
        rows.push(report(a, b, "X", 100.0));
        rows.push(report(b, a, "M", 100.0));
    }
    for reliable in [korea, thailand] {
        // The reliable side's figure is 100 t; India's import reports double it, its export
        // reports halve it.
        rows.push(report(reliable, india, "X", 100.0));
        rows.push(report(india, reliable, "M", 200.0));
        rows.push(report(india, reliable, "X", 50.0));
        rows.push(report(reliable, india, "M", 100.0));
    }
    plant(data.path(), &rows, |_, _| false);
    let run = reeflow(data.path(), &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let flow = &query(
        data.path(),
        "SELECT rule_t_reo, importer_t_reo, exporter_t_reo, exporter_noise, importer_noise, exporter_weight, \
         weighted_t_reo, weighted_relative_sd FROM trade_flows_weighted \
         WHERE year = 2015 AND exporter = 'IND' AND importer = 'KOR'",
    )[0];
    let number = |name: &str| flow[name].as_f64().unwrap_or_else(|| panic!("{name}: {flow}"));
    let (india_says, korea_says) = (number("exporter_t_reo"), number("importer_t_reo"));
    assert!((korea_says - 2.0 * india_says).abs() < 1e-6, "{flow}");
    assert!(number("exporter_noise") > number("importer_noise"), "India is the noisy reporter: {flow}");
    let weighted = number("weighted_t_reo");
    assert!((weighted - korea_says).abs() < (weighted - india_says).abs(), "nearer Korea's report: {flow}");
    assert!((number("rule_t_reo") - korea_says).abs() < 1e-9, "the rule-based figure is kept beside it");
    assert!(number("weighted_relative_sd") > 0.0);
}
