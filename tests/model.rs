//! The flow model (pipelines/model) on the bundled snapshot: the published figures docs/method.md names
//! reproduced from the real statistics, the checks that guard the model, and traceability.

mod common;

use std::sync::OnceLock;

use common::{bundled_snapshot_data_dir, query, reeflow, reeflow_with_model, repo};

/// One model run on the bundled snapshot, public by the tests that only read its outputs.
fn model() -> &'static std::path::Path {
    static DATA: OnceLock<tempfile::TempDir> = OnceLock::new();
    DATA.get_or_init(|| {
        let data = bundled_snapshot_data_dir();
        let run = reeflow(data.path(), &["run", "--format", "json"]);
        assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
        data
    })
    .path()
}

fn f64_of(row: &serde_json::Value, column: &str) -> f64 {
    row[column].as_f64().unwrap_or_else(|| panic!("{column} in {row}"))
}

#[test]
fn the_us_is_a_net_exporter_of_concentrate_and_compounds_from_2018() {
    // From trade: US net exports at the mining and separation stages together (t REO), with the
    // low factors as well as the central ones.
    let rows = query(
        model(),
        "SELECT year, sum(value) AS net, sum(value_low) AS net_low FROM indicators \
         WHERE region = 'USA' AND indicator = 'net_exports_t_reo' AND stage IN ('mining', 'separation') \
         AND year BETWEEN 2018 AND 2023 GROUP BY year ORDER BY year",
    );
    assert_eq!(rows.len(), 6, "{rows:?}");
    for row in &rows {
        assert!(f64_of(row, "net") > 0.0 && f64_of(row, "net_low") > 0.0, "{row}");
    }
    // Before 2018 (Mountain Pass idle) the US was a net importer.
    let before = query(
        model(),
        "SELECT sum(value) AS net FROM indicators WHERE region = 'USA' AND indicator = 'net_exports_t_reo' \
         AND stage IN ('mining', 'separation') AND year = 2017",
    );
    assert!(f64_of(&before[0], "net") < 0.0, "{before:?}");
    // From USGS's own statistics (MCS2023): exports of ores and compounds 17,900 t REO in 2018
    // against imports of compounds of 10,800 t; net import reliance for concentrate "E".
    let salient = query(
        model(),
        "SELECT statistic, value, flag FROM salient WHERE edition = 'MCS2023' AND year = 2018 \
         AND statistic IN ('exports_ores_compounds', 'imports_compounds', 'nir_concentrate') ORDER BY statistic",
    );
    assert_eq!(salient[0]["value"], 17900.0);
    assert_eq!(salient[1]["value"], 10800.0);
    assert_eq!(salient[2]["flag"], "E");
}

#[test]
fn chinas_share_of_world_mine_production_per_edition_used() {
    // As first published (MCS2022, MCS2023, MCS2024): 60, 70 and 69 %.
    let first = query(
        model(),
        "SELECT r.year, round(r.first_t_reo / w.first_t_reo * 100) AS pct, r.first_edition FROM production_revisions AS r \
         JOIN production_revisions AS w ON w.year = r.year AND w.stage = 'mining' AND w.country_iso3 = 'WLD' \
         AND w.edition = w.first_edition \
         WHERE r.country_iso3 = 'CHN' AND r.stage = 'mining' AND r.edition = r.first_edition \
         AND r.year BETWEEN 2021 AND 2023 AND r.first_edition = w.first_edition ORDER BY r.year",
    );
    let pct: Vec<f64> = first.iter().map(|r| f64_of(r, "pct")).collect();
    assert_eq!(pct, vec![60.0, 70.0, 69.0], "{first:?}");
    // The model's indicator uses the newest edition printing both: MYB2022 for 2021-2022
    // (168,000 of 290,000; 210,000 of 297,000), MCS2024 for 2023 (240,000 of 350,000).
    let newest = query(
        model(),
        "SELECT year, value, note FROM indicators WHERE region = 'CHN' AND indicator = 'mine_share_world' \
         AND year BETWEEN 2021 AND 2023 ORDER BY year",
    );
    let expected =
        [(168_000.0 / 290_000.0, "MYB2022"), (210_000.0 / 297_000.0, "MYB2022"), (240_000.0 / 350_000.0, "MCS2024")];
    for (row, (share, edition)) in newest.iter().zip(expected) {
        assert!((f64_of(row, "value") - share).abs() < 1e-9, "{row}");
        assert!(row["note"].as_str().unwrap().ends_with(edition), "{row}");
    }
}

#[test]
fn the_concentrate_factor_cross_check_lands_in_range_for_2018_to_2020() {
    let rows = query(
        model(),
        "SELECT year, implied_factor, shipments_basis FROM concentrate_factor_check WHERE year BETWEEN 2018 AND 2020 ORDER BY year",
    );
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let factor = f64_of(row, "implied_factor");
        assert!((0.53..=0.65).contains(&factor), "{row}");
    }
    // 2018: 17,900 t REO (MCS2023) over 32,657,416 kg shipped (USITC domestic exports to China).
    assert!((f64_of(&rows[0], "implied_factor") - 17_900.0 / 32_657.416).abs() < 1e-9);
    assert_eq!(rows[0]["shipments_basis"], "us_reported_exports");
}

#[test]
fn chinas_2022_compound_imports_are_44748_tonnes_and_partners_sum_to_world() {
    let world = query(
        model(),
        "SELECT world_kg, world_value_usd, partners_complete FROM trade_partner_coverage \
         WHERE year = 2022 AND reporter = 'CHN' AND flow = 'M' AND hs_code = '2846' AND source_file LIKE '%2022.json'",
    );
    assert_eq!((f64_of(&world[0], "world_kg") / 1000.0).round(), 44_748.0);
    assert_eq!(world[0]["world_value_usd"], 1_063_610_537.0);
    assert_eq!(world[0]["partners_complete"], true);
    // Every year of China's 2846 imports has a complete partner breakdown.
    let years = query(
        model(),
        "SELECT count(*) AS n FROM trade_partner_coverage WHERE reporter = 'CHN' AND flow = 'M' AND hs_code = '2846' \
         AND source_file LIKE 'cmrs-v3/%' AND partners_complete",
    );
    assert_eq!(years[0]["n"], 32);
    // The bilateral rows the model uses carry the same tonnage (areas n.e.s. excluded).
    let bilateral = query(
        model(),
        "SELECT sum(gross_kg) AS kg FROM trade_reo WHERE year = 2022 AND importer = 'CHN' AND reported_by = 'importer' \
         AND hs_code = '2846' AND used_in_model",
    );
    assert!((f64_of(&bilateral[0], "kg") / 1000.0 - 44_748.358).abs() < 1.0, "{bilateral:?}");
}

#[test]
fn us_to_china_flows_are_reconciled_by_a_recorded_rule_and_traceable() {
    // 2018: both sides booked the Mountain Pass concentrate under 2846; China reported no ore
    // heading that year, so its side is partial and the US report (32,657,416 kg) is used.
    let flow = query(
        model(),
        "SELECT rule, importer_gap, gross_kg, t_reo, t_reo_low, t_reo_high, sources FROM trade_flows \
         WHERE year = 2018 AND exporter = 'USA' AND importer = 'CHN' AND stage = 'mining'",
    );
    assert_eq!(flow[0]["rule"], "exporter_fallback");
    assert_eq!(flow[0]["gross_kg"], 32_657_416.0);
    assert!((f64_of(&flow[0], "t_reo") - 32_657.416 * 0.60).abs() < 1e-6);
    assert!((f64_of(&flow[0], "t_reo_low") - 32_657.416 * 0.53).abs() < 1e-6);
    assert!((f64_of(&flow[0], "t_reo_high") - 32_657.416 * 0.70).abs() < 1e-6);
    assert!(flow[0]["sources"].as_str().unwrap().contains("us_domestic_exports"), "{flow:?}");
    // The mirror table keeps both reports and the gap.
    let mirror = query(
        model(),
        "SELECT status, exporter_kg, importer_kg, round(kg_gap_pct) AS gap FROM mirror_gaps \
         WHERE year = 2018 AND exporter = 'USA' AND importer = 'CHN' AND stage = 'mining' AND hs_code = '2846'",
    );
    assert_eq!(mirror[0]["status"], "both");
    assert_eq!(mirror[0]["gap"], -22.0);
    // Every flow and every model trade row names the files it came from.
    let untraced = query(
        model(),
        "SELECT (SELECT count(*) FROM trade_flows WHERE sources IS NULL OR editions IS NULL) \
              + (SELECT count(*) FROM trade_reo WHERE source_file IS NULL OR edition IS NULL) \
              + (SELECT count(*) FROM production_by_stage WHERE source_file IS NULL OR edition IS NULL) AS n",
    );
    assert_eq!(untraced[0]["n"], 0);
}

#[test]
fn the_mass_balance_names_its_inputs_and_stays_null_on_gaps() {
    // US mining 2019: P 28,000 (MYB2022) + M 0 (assumption) against separation input 0 (MCS2024)
    // + X 27,361 (45,601,328 kg × 0.60): U = -639 t REO.
    let row = query(
        model(),
        "SELECT production_t_reo, imports_t_reo, exports_t_reo, next_stage_input_t_reo, unregistered_t_reo, \
         unregistered_t_reo_low, unregistered_t_reo_high, imports_basis, assumptions, inputs FROM stage_balance \
         WHERE region = 'USA' AND year = 2019 AND stage = 'mining'",
    );
    let row = &row[0];
    assert_eq!(row["production_t_reo"], 28_000.0);
    assert_eq!(row["imports_basis"], "assumption");
    assert!((f64_of(row, "unregistered_t_reo") - (45_601.328 * 0.60 - 28_000.0)).abs() < 1e-6, "{row}");
    assert!(f64_of(row, "unregistered_t_reo_low") < f64_of(row, "unregistered_t_reo"));
    assert!(row["assumptions"].as_str().unwrap().contains("imports: The US imports no rare-earth concentrate"));
    assert!(row["inputs"].as_str().unwrap().contains("MYB2022"), "{row}");
    // No metal production statistic exists for China: its metal-stage U is null, and coverage
    // says so rather than showing a zero.
    let gap = query(
        model(),
        "SELECT b.unregistered_t_reo, c.status FROM stage_balance AS b JOIN coverage AS c \
         ON c.table_name = 'stage_balance' AND c.region = b.region AND c.year = b.year AND c.stage = b.stage \
         AND c.item = 'unregistered' WHERE b.region = 'CHN' AND b.year = 2022 AND b.stage = 'metal'",
    );
    assert!(gap[0]["unregistered_t_reo"].is_null());
    assert_eq!(gap[0]["status"], "gap");
}

#[test]
fn a_disordered_factor_range_fails_the_run_and_blocks_the_model() {
    let (_dir, model_file) =
        model_file_with(|text| text.replacen("reo_low = 0.53\nreo_mid = 0.60", "reo_low = 0.65\nreo_mid = 0.60", 1));
    let data = bundled_snapshot_data_dir();
    let run = reeflow_with_model(data.path(), &model_file, &["run", "--format", "json"]);
    assert_eq!(run.status.code(), Some(1), "{}", String::from_utf8_lossy(&run.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let factors = summary["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "reo_factors").unwrap();
    let failed: Vec<_> = factors["checks"].as_array().unwrap().iter().filter(|c| c["passed"] == false).collect();
    assert_eq!(failed.len(), 1, "{factors}");
    assert_eq!(failed[0]["check"], "sql:factor_low_mid_high_ordered");
    assert!(!data.path().join("out/stage_balance").exists(), "downstream stages are blocked");
}

#[test]
fn myanmars_carbonate_feeds_chinas_separation_and_leaves_a_mining_balance() {
    // China's customs: 23,705 t of HS 2846 from Myanmar in 2022 (mixed carbonate): a mining-stage
    // lane with the mixed-carbonate factor (0.40 / 0.50 / 0.60), not a separated compound.
    let rows = query(
        model(),
        "SELECT stage, factor_code, gross_kg, t_reo_low, t_reo, t_reo_high, stage_rule FROM trade_reo \
         WHERE year = 2022 AND exporter = 'MMR' AND importer = 'CHN' AND used_in_model",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!((row["stage"].as_str(), row["factor_code"].as_str()), (Some("mining"), Some("mixed_carbonate")));
    let tonnes = f64_of(row, "gross_kg") / 1000.0;
    assert!((tonnes - 23_705.0).abs() < 1.0, "{row}");
    assert!((f64_of(row, "t_reo") - tonnes * 0.50).abs() < 1e-6);
    assert!((f64_of(row, "t_reo_low") - tonnes * 0.40).abs() < 1e-6);
    assert!(row["stage_rule"].as_str().unwrap().contains("Myanmar has no separation plant"));
    // Myanmar's mining stage: USGS mine production (12,000 t in 2022, MYB2022) against what it
    // ships, with U and its range; the shipments count as China's mining-stage imports.
    let balance = query(
        model(),
        "SELECT region, production_t_reo, exports_t_reo, imports_t_reo, unregistered_t_reo, \
         unregistered_t_reo_low, unregistered_t_reo_high FROM stage_balance \
         WHERE year = 2022 AND stage = 'mining' AND region IN ('MMR', 'CHN') ORDER BY region",
    );
    let (china, myanmar) = (&balance[0], &balance[1]);
    assert_eq!(myanmar["production_t_reo"], 12_000.0);
    assert!((f64_of(myanmar, "exports_t_reo") - tonnes * 0.50).abs() < 1.0, "{myanmar}");
    let u = f64_of(myanmar, "unregistered_t_reo");
    assert!((u - (tonnes * 0.50 - 12_000.0)).abs() < 1.0, "U = exports - production: {myanmar}");
    assert!(f64_of(myanmar, "unregistered_t_reo_low") < u && u < f64_of(myanmar, "unregistered_t_reo_high"));
    assert!(f64_of(china, "imports_t_reo") >= tonnes * 0.50, "{china}");
}

#[test]
fn separated_rare_earths_are_split_by_end_use_and_us_demand_meets_usgs() {
    // China 2022: each end use takes its configured share of the separated REO China uses, so
    // its metal and magnet routes hold 35 %, not all it separates.
    let china = query(
        model(),
        "SELECT end_use, route, share, shares_basis, separated_used_t_reo, t_reo FROM demand_by_end_use \
         WHERE region = 'CHN' AND year = 2022 ORDER BY end_use",
    );
    let used = f64_of(&china[0], "separated_used_t_reo");
    let terms = query(
        model(),
        "SELECT stage, production_t_reo, imports_t_reo, exports_t_reo FROM stage_balance \
         WHERE region = 'CHN' AND year = 2022 AND stage IN ('separation', 'metal') ORDER BY stage",
    );
    let (metal, separation) = (&terms[0], &terms[1]);
    let expected = f64_of(separation, "production_t_reo") + f64_of(separation, "imports_t_reo")
        - f64_of(separation, "exports_t_reo")
        + f64_of(metal, "imports_t_reo")
        - f64_of(metal, "exports_t_reo");
    assert!((used - expected).abs() < 1e-6, "{used} vs {expected}");
    let total: f64 = china.iter().map(|r| f64_of(r, "t_reo")).sum();
    assert!((total - used).abs() < 1e-6, "the end uses add up to the separated REO used");
    let metal_routes: f64 = china.iter().filter(|r| r["route"] != "direct").map(|r| f64_of(r, "t_reo")).sum();
    assert!((metal_routes / used - 0.35).abs() < 1e-9, "{china:?}");
    assert!(china.iter().all(|r| r["shares_basis"] == "data"));
    // The US beside USGS apparent consumption (MCS2024: 11,800 t in 2019), the difference its own
    // table; the model's figure leaves out US metal trade, which is reported under 2805 (no factor).
    let us = query(
        model(),
        "SELECT year, model_t_reo, published_t_reo, published_edition, difference_t_reo, model_includes_metal_trade \
         FROM demand_vs_usgs WHERE region = 'USA' AND year BETWEEN 2018 AND 2022 ORDER BY year",
    );
    assert_eq!(us.len(), 5);
    let y2019 = &us[1];
    assert_eq!(
        (y2019["published_t_reo"].as_f64(), y2019["published_edition"].as_str()),
        (Some(11_800.0), Some("MCS2024"))
    );
    let d = f64_of(y2019, "model_t_reo") - f64_of(y2019, "published_t_reo");
    assert!((f64_of(y2019, "difference_t_reo") - d).abs() < 1e-9);
    assert_eq!(y2019["model_includes_metal_trade"], false);
}

#[test]
fn end_use_shares_that_do_not_add_up_fail_the_run_naming_the_region_and_year() {
    let (_dir, model_file) = model_file_with(|text| {
        text.replacen(
            "shares = { catalysts = 0.75, ceramics_glass = 0.06",
            "shares = { catalysts = 0.80, ceramics_glass = 0.06",
            1,
        )
    });
    let data = bundled_snapshot_data_dir();
    let run = reeflow_with_model(data.path(), &model_file, &["run"]);
    assert_eq!(run.status.code(), Some(1), "{}", String::from_utf8_lossy(&run.stderr));
    let out = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    let line = out.lines().find(|l| l.contains("shares_add_up_to_one")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("failed"), "{line}");
    // The failing rows name the region and the years: 2020 to 2025, at 1.05.
    assert!(out.contains("| USA    | 2020 | 1.05"), "{out}");
    assert!(out.contains("NOT PUBLISHED"), "{out}");
}

#[test]
fn chinas_mining_stage_has_a_balance_in_every_year_with_a_separation_quota() {
    // Every year with a smelting-and-separation quota (tests/data/compiled-china-quotas, or a
    // config entry that cites its page) gives China's mining stage a U, with the quota's page in
    // the row's provenance.
    let quota_years = query(
        model(),
        "SELECT year, source FROM production_by_stage WHERE country_iso3 = 'CHN' AND stage = 'separation' \
         AND flag = 'quota' ORDER BY year",
    );
    let years: Vec<i64> = quota_years.iter().map(|r| r["year"].as_i64().unwrap()).collect();
    assert_eq!(years, vec![2011, 2017, 2018, 2019, 2020, 2021, 2022, 2023, 2024]);
    let rows = query(
        model(),
        "SELECT year, next_stage_input_t_reo, unregistered_t_reo, next_stage_sources FROM stage_balance \
         WHERE region = 'CHN' AND stage = 'mining' AND year IN (SELECT year FROM production_by_stage \
         WHERE country_iso3 = 'CHN' AND stage = 'separation' AND flag = 'quota') ORDER BY year",
    );
    assert_eq!(rows.len(), years.len());
    for (row, quota) in rows.iter().zip(&quota_years) {
        assert!(row["unregistered_t_reo"].is_f64(), "{row}");
        let source = quota["source"].as_str().unwrap();
        assert!(source.contains("http"), "{quota}");
        assert_eq!(row["next_stage_sources"].as_str(), Some(source), "{row}");
    }
    // 2011 from the compiled list: 90,400 t (MIIT, as reported by Business Standard).
    assert_eq!(rows[0]["next_stage_input_t_reo"], 90_400.0);
    assert!(rows[0]["next_stage_sources"].as_str().unwrap().contains("business-standard.com"));
}

/// The shipped model file with `edit` applied, written to a temporary folder.
fn model_file_with(edit: impl FnOnce(String) -> String) -> (tempfile::TempDir, std::path::PathBuf) {
    let text = std::fs::read_to_string(repo().join("config/model.toml")).unwrap();
    let changed = edit(text.clone());
    assert_ne!(changed, text, "the edit changed nothing: the shipped file moved; update this test");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.toml");
    std::fs::write(&path, changed).unwrap();
    (dir, path)
}

#[test]
fn u_has_a_90_percent_interval_narrower_than_the_extremes_for_the_us_mining_stage() {
    let rows = query(
        model(),
        "SELECT year, unregistered_t_reo, u_p05_t_reo, u_p95_t_reo, p_positive, stage_balance_low_high_width \
         FROM unregistered_uncertainty WHERE region = 'USA' AND stage = 'mining' AND year BETWEEN 2018 AND 2022 \
         ORDER BY year",
    );
    assert_eq!(rows.len(), 5);
    for row in &rows {
        let (u, p05, p95) = (f64_of(row, "unregistered_t_reo"), f64_of(row, "u_p05_t_reo"), f64_of(row, "u_p95_t_reo"));
        assert!(p05 <= u && u <= p95, "the central U lies in the interval: {row}");
        assert!(
            p95 - p05 < f64_of(row, "stage_balance_low_high_width"),
            "narrower than all inputs at their extremes: {row}"
        );
    }
    // 2018: the US mined 14,000 t and shipped 19,594 t (central factor): more left than was mined.
    assert!(f64_of(&rows[0], "p_positive") > 0.95, "{}", rows[0]);
    // What drives it: the concentrate factor of the shipments, far ahead of the mine figure; the
    // shares of one U add up to 1.
    let drivers = query(
        model(),
        "SELECT input, variance_share, u_input_low_t_reo, u_input_high_t_reo FROM unregistered_drivers \
         WHERE region = 'USA' AND year = 2022 AND stage = 'mining' ORDER BY variance_share DESC",
    );
    assert_eq!(drivers[0]["input"], "exports 253090", "{drivers:?}");
    assert!(f64_of(&drivers[0], "variance_share") > 0.8, "{drivers:?}");
    let total: f64 = drivers.iter().map(|d| f64_of(d, "variance_share")).sum();
    assert!((total - 1.0).abs() < 1e-6, "{total}");
    assert!(f64_of(&drivers[0], "u_input_low_t_reo") < f64_of(&drivers[0], "u_input_high_t_reo"));
}

#[test]
fn exact_inputs_give_a_zero_width_interval() {
    // Every rule's sd 0 and every factor range closed on its middle: U has no spread.
    let (_dir, model_file) = model_file_with(|text| {
        let mut blocks: Vec<String> = Vec::new();
        for block in text.split("\n\n") {
            let mid = block.lines().find_map(|l| l.strip_prefix("reo_mid = ")).map(str::to_string);
            let lines: Vec<String> = block
                .lines()
                .map(|line| match (&mid, line) {
                    (Some(mid), l) if l.starts_with("reo_low = ") => format!("reo_low = {mid}"),
                    (Some(mid), l) if l.starts_with("reo_high = ") => format!("reo_high = {mid}"),
                    (_, l) if l.starts_with("relative_sd = ") => "relative_sd = 0.0".to_string(),
                    (_, l) => l.to_string(),
                })
                .collect();
            blocks.push(lines.join("\n"));
        }
        blocks.join("\n\n")
    });
    let data = bundled_snapshot_data_dir();
    let run = reeflow_with_model(data.path(), &model_file, &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let rows = query(data.path(), "SELECT * FROM unregistered_uncertainty");
    assert!(rows.len() > 20);
    for row in &rows {
        let u = f64_of(row, "unregistered_t_reo");
        assert!(
            (f64_of(row, "u_p05_t_reo") - u).abs() < 1e-6 && (f64_of(row, "u_p95_t_reo") - u).abs() < 1e-6,
            "{row}"
        );
        assert_eq!(row["significant"], u != 0.0, "{row}");
    }
}

#[test]
fn a_planted_20_kt_imbalance_is_significant_and_a_50_t_one_is_not() {
    // Myanmar's 2022 mining balance is near zero (U = -147 t, mine output against shipments). A
    // planted unregistered use of 20,000 t stands out of its noise; one of 50 t does not.
    let significant = |tonnes: u32| -> bool {
        let (_dir, model_file) = model_file_with(|text| {
            format!(
                "{text}\n[[assumption]]\nregion = \"MMR\"\nstage = \"mining\"\nterm = \"stock_change\"\nfirst_year = 2022\n\
                 last_year = 2022\nt_reo = {tonnes}\nreason = \"planted by a test\"\n"
            )
        });
        let data = bundled_snapshot_data_dir();
        let run = reeflow_with_model(data.path(), &model_file, &["run"]);
        assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
        let row = &query(
            data.path(),
            "SELECT unregistered_t_reo, significant FROM unregistered_uncertainty \
             WHERE region = 'MMR' AND year = 2022 AND stage = 'mining'",
        )[0];
        assert!((f64_of(row, "unregistered_t_reo") - (f64::from(tonnes) - 147.0)).abs() < 1.0, "{row}");
        row["significant"].as_bool().unwrap()
    };
    assert!(significant(20_000));
    assert!(!significant(50));
}

#[test]
fn compounds_priced_like_concentrate_are_listed_not_moved() {
    // China's 2022 HS 2846 imports from the US: 7,862 t at about $2.8/kg FOB against China's
    // average of about $22/kg for the heading that year; listed, still booked as compounds.
    let rows = query(
        model(),
        "SELECT year, exporter, stage, stage_rule, gross_t, usd_per_kg, reference_usd_per_kg, ratio FROM unit_value_flags \
         WHERE importer = 'CHN' AND reported_by = 'importer' AND year IN (2017, 2022) ORDER BY year, exporter",
    );
    let us = rows.iter().find(|r| r["year"] == 2022 && r["exporter"] == "USA").unwrap_or_else(|| panic!("{rows:?}"));
    assert!((f64_of(us, "gross_t") - 7_862.0).abs() < 1.0, "{us}");
    assert!(f64_of(us, "ratio") < 0.25 && f64_of(us, "reference_usd_per_kg") > 20.0, "{us}");
    assert_eq!(us["stage"], "separation", "a list, not a rule: {us}");
    // Myanmar's 2017 carbonate ($0.59/kg) is listed too, and shows the lane that already moved it.
    let myanmar =
        rows.iter().find(|r| r["year"] == 2017 && r["exporter"] == "MMR").unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(myanmar["stage"], "mining");
    assert!(myanmar["stage_rule"].as_str().unwrap().contains("Myanmar has no separation plant"));
}

/// A version records the model it was built with (`ref/`: the `ref_*` tables as Parquet and the
/// model file): queries of that version read them, whatever the model file says later, while
/// `plan` compares with the model file as it is now.
#[test]
fn a_version_keeps_the_model_it_was_built_with() {
    let data = bundled_snapshot_data_dir();
    let output = reeflow(data.path(), &["run", "-q"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let version = data.path().join("current").canonicalize().unwrap();
    let shipped = std::fs::read(repo().join("config/model.toml")).unwrap();
    assert_eq!(std::fs::read(version.join("ref/model.toml")).unwrap(), shipped);
    assert!(version.join("ref/ref_hs_codes.parquet").is_file());

    let (_dir, edited) = model_file_with(|text| text.replacen("reo_mid = 0.60", "reo_mid = 0.65", 1));
    let factor = "SELECT reo_mid FROM ref_hs_codes WHERE hs_code = '253090'";
    let output = reeflow_with_model(data.path(), &edited, &["sql", "--format", "csv", factor]);
    assert_eq!(common::stdout(&output), "reo_mid\n0.6\n", "the published version's own factor");
    let output = reeflow_with_model(data.path(), &edited, &["plan", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&common::stdout(&output)).unwrap();
    let will_run: Vec<&str> = plan
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "run")
        .map(|e| e["stage"].as_str().unwrap())
        .collect();
    assert!(will_run.contains(&"reo_factors") && will_run.contains(&"trade_reo"), "{will_run:?}");
    let output = reeflow(data.path(), &["plan", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&common::stdout(&output)).unwrap();
    assert!(plan.as_array().unwrap().iter().all(|e| e["status"] != "run"), "unchanged model: nothing to run");
}
