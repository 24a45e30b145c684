//! Normalizes the real public files (the repository's copies in `tests/data/`) and checks
//! published figures.

use std::sync::OnceLock;

use reeflow_model::{ProductionRow, SalientRow, TradeRow};
use reeflow_normalize::{Normalized, normalize_folder};

fn normalized() -> &'static Normalized {
    static NORMALIZED: OnceLock<Normalized> = OnceLock::new();
    NORMALIZED.get_or_init(|| {
        normalize_folder(&reeflow_testdata::public_data(), &Default::default()).expect("the real files normalize")
    })
}

fn production<'a>(n: &'a Normalized, edition: &str, iso3: &str, year: i32) -> Vec<&'a ProductionRow> {
    n.tables
        .production
        .iter()
        .filter(|r| r.provenance.edition == edition && r.country_iso3 == iso3 && r.year == year)
        .collect()
}

fn one_production<'a>(n: &'a Normalized, edition: &str, iso3: &str, year: i32) -> &'a ProductionRow {
    let rows = production(n, edition, iso3, year);
    assert_eq!(rows.len(), 1, "{edition} {iso3} {year}: {rows:?}");
    rows[0]
}

fn salient<'a>(n: &'a Normalized, edition: &str, statistic: &str, year: i32) -> &'a SalientRow {
    let rows: Vec<&SalientRow> = n
        .tables
        .salient
        .iter()
        .filter(|r| {
            r.provenance.edition == edition
                && r.statistic == statistic
                && r.year == year
                && r.commodity == "rare_earths"
        })
        .collect();
    assert_eq!(rows.len(), 1, "{edition} {statistic} {year}: {rows:?}");
    rows[0]
}

#[test]
fn mcs2023_world_production_2022() {
    let n = normalized();
    assert_eq!(one_production(n, "MCS2023", "WLD", 2022).t_reo, Some(300_000.0));
    let china = one_production(n, "MCS2023", "CHN", 2022);
    assert_eq!(china.t_reo, Some(210_000.0));
    assert_eq!(china.flag.as_deref(), Some("e"), "Prod_t_est_2022 is an estimate");
    assert!(china.notes.as_deref().unwrap().starts_with("Production quota"));
    assert_eq!(one_production(n, "MCS2023", "USA", 2022).t_reo, Some(43_000.0));
    assert_eq!(one_production(n, "MCS2023", "CHN", 2021).t_reo, Some(168_000.0));
    // "Estimated in 2021 also." marks Australia's non-est 2021 column as estimated.
    assert_eq!(one_production(n, "MCS2023", "AUS", 2021).flag.as_deref(), Some("e"));
    assert_eq!(one_production(n, "MCS2023", "USA", 2021).flag, None);
}

#[test]
fn later_editions_revise_and_every_edition_is_kept() {
    let n = normalized();
    assert_eq!(one_production(n, "MCS2024", "USA", 2022).t_reo, Some(42_000.0));
    assert_eq!(one_production(n, "MCS2024", "WLD", 2023).t_reo, Some(350_000.0));
    assert_eq!(one_production(n, "MCS2024", "CHN", 2023).t_reo, Some(240_000.0));
    assert_eq!(one_production(n, "MCS2022", "CHN", 2021).t_reo, Some(168_000.0));
    assert_eq!(one_production(n, "MCS2022", "WLD", 2020).t_reo, Some(240_000.0));
    // The MCS2024 file's 22 all-comma rows add nothing: 16 countries × 2 years.
    assert_eq!(n.tables.production.iter().filter(|r| r.provenance.edition == "MCS2024").count(), 32);
    // Minerals Yearbook 2022, table 8.
    assert_eq!(one_production(n, "MYB2022", "WLD", 2022).t_reo, Some(297_000.0));
    let us = one_production(n, "MYB2022", "USA", 2022);
    assert_eq!(us.t_reo, Some(42_500.0));
    assert!(us.notes.as_deref().unwrap().contains("Includes bastnaesite only"), "{us:?}");
    assert_eq!(one_production(n, "MYB2022", "AUS", 2019).flag.as_deref(), Some("e"), "Australiae");
    assert_eq!(one_production(n, "MYB2022", "BDI", 2022).t_reo, Some(0.0), "-- is zero");
    assert_eq!(one_production(n, "MYB2022", "MDG", 2021).flag.as_deref(), Some("e,r"));
}

#[test]
fn mcs2026_long_release_and_ds140_history() {
    let n = normalized();
    assert_eq!(one_production(n, "MCS2026", "WLD", 2025).t_reo, Some(390_000.0));
    assert_eq!(one_production(n, "MCS2026", "CHN", 2025).t_reo, Some(270_000.0));
    assert_eq!(one_production(n, "MCS2026", "USA", 2024).t_reo, Some(45_500.0));
    let canada = one_production(n, "MCS2026", "CAN", 2024);
    assert_eq!((canada.t_reo, canada.raw_value.as_deref()), (Some(0.0), Some("—")), "cp1252 em dash is zero");
    assert_eq!(one_production(n, "DS140", "WLD", 2020).t_reo, Some(243_000.0));
    assert_eq!(one_production(n, "DS140", "WLD", 1900).t_reo, Some(1_040.0));
    assert_eq!(one_production(n, "DS140", "USA", 2001).t_reo, Some(0.0));
    // The compiled 2000-2017 file's DS-140 copies are dropped in favour of the workbook.
    assert_eq!(production(n, "DS140", "WLD", 2000).len(), 1);
    assert_eq!(one_production(n, "MCS2012", "CHN", 2010).provenance.source, "compiled_usgs");
    // A formula cell (apparent consumption = imports - exports) yields its cached value.
    assert_eq!(salient(n, "DS140", "consumption_apparent", 2001).value, Some(10_100.0));
}

#[test]
fn chinas_separation_quotas_are_production_with_their_pages() {
    let n = normalized();
    // The compiled quota announcements: yearly smelting-and-separation totals become separation
    // output with the page they were read from; first batches and mining or export quotas do not.
    let quota = |year: i32| production(n, &format!("MIIT{year}"), "CHN", year);
    let y2021 = quota(2021);
    assert_eq!(y2021.len(), 1);
    assert_eq!(
        (y2021[0].stage.as_str(), y2021[0].t_reo, y2021[0].flag.as_deref()),
        ("separation", Some(162_000.0), Some("quota"))
    );
    assert!(y2021[0].provenance.source.starts_with("https://nationalpost.com/"), "{:?}", y2021[0].provenance);
    assert_eq!(quota(2011)[0].t_reo, Some(90_400.0));
    assert_eq!(quota(2024)[0].t_reo, Some(254_000.0));
    assert!(quota(2022).is_empty(), "2022 has only a first batch (97,200 t), not the year's total");
    let file = n.files.iter().find(|f| f.file.ends_with("china_ree_quotas.csv")).unwrap();
    assert_eq!(file.production, 3);
    assert!(
        file.skipped.iter().any(|(reason, count)| reason.starts_with("first batch") && *count == 6),
        "{:?}",
        file.skipped
    );
}

#[test]
fn salient_tokens_become_flags() {
    let n = normalized();
    assert_eq!(salient(n, "MCS2023", "exports_ores_compounds", 2018).value, Some(17_900.0));
    assert_eq!(salient(n, "MCS2023", "imports_compounds", 2018).value, Some(10_800.0));
    let nir = salient(n, "MCS2023", "nir_concentrate", 2018);
    assert_eq!((nir.value, nir.flag.as_deref(), nir.raw_value.as_deref()), (None, Some("E"), Some("E")));
    let bound = salient(n, "MCS2023", "nir_compounds_metals", 2022);
    assert_eq!((bound.value, bound.flag.as_deref()), (Some(95.0), Some(">")));
    let quoted = salient(n, "MCS2024", "consumption_apparent_compounds_metals", 2021);
    assert_eq!((quoted.value, quoted.raw_value.as_deref()), (Some(7_900.0), Some("7,900")));
    assert_eq!(salient(n, "MCS2026", "production_concentrate", 2022).value, Some(42_500.0));
    assert_eq!(salient(n, "MYB2022", "world_production", 2021).flag.as_deref(), Some("r"));
    let yttrium =
        n.tables.salient.iter().find(|r| r.commodity == "yttrium" && r.statistic == "production_mine").unwrap();
    assert_eq!((yttrium.value, yttrium.flag.as_deref()), (None, Some("NA")));
}

fn china_2846_imports(n: &Normalized) -> impl Iterator<Item = &TradeRow> {
    n.tables.trade.iter().filter(|r| {
        r.provenance.source_file.ends_with(".json") && r.reporter_code == 156 && r.flow == "M" && r.hs_code == "2846"
    })
}

#[test]
fn comtrade_china_2846_imports() {
    let n = normalized();
    let world_2022: Vec<_> = china_2846_imports(n).filter(|r| r.year == 2022 && r.partner_code == Some(0)).collect();
    assert_eq!(world_2022.len(), 1);
    let world = world_2022[0];
    assert_eq!(world.net_weight_kg.map(f64::round), Some(44_748_358.0));
    assert_eq!(world.value_usd, Some(1_063_610_537.0));
    assert_eq!(world.value_basis.as_deref(), Some("CIF"));
    assert!(world.is_aggregate && world.is_estimated);
    assert_eq!(world.hs_edition.as_deref(), Some("H6"));
    assert_eq!(world.provenance.edition, "comtrade:2026-07-10");
    let myanmar: f64 = china_2846_imports(n)
        .filter(|r| r.year == 2022 && r.partner_iso3.as_deref() == Some("MMR"))
        .filter_map(|r| r.value_usd)
        .sum();
    assert!((myanmar - 604.3e6).abs() < 0.1e6, "{myanmar}");
    // In every year 1993-2024, the partner rows (countries and areas) sum to the World row.
    for year in 1993..=2024 {
        let rows: Vec<_> = china_2846_imports(n).filter(|r| r.year == year).collect();
        let world: f64 = rows.iter().filter(|r| r.partner_code == Some(0)).filter_map(|r| r.value_usd).sum();
        let partners: f64 = rows.iter().filter(|r| r.partner_code != Some(0)).filter_map(|r| r.value_usd).sum();
        assert!(world > 0.0 && (world - partners).abs() <= 1.0, "{year}: world {world} vs partners {partners}");
    }
    // 1993-1999 report no weights: unknown, never zero.
    assert!(china_2846_imports(n).filter(|r| r.year == 1995).all(|r| r.net_weight_kg.is_none() && r.qty.is_none()));
}

#[test]
fn comtrade_csv_export_and_usitc_workbooks() {
    let n = normalized();
    let csv_row: Vec<_> = n
        .tables
        .trade
        .iter()
        .filter(|r| r.provenance.source == "comtrade" && r.provenance.source_file.ends_with(".csv"))
        .filter(|r| {
            r.reporter_code == 842
                && r.flow == "M"
                && r.partner_code == Some(156)
                && r.hs_code == "280530"
                && r.year == 2020
        })
        .collect();
    assert_eq!(csv_row.len(), 1);
    assert_eq!(csv_row[0].value_usd, Some(6_675_957.0));
    assert_eq!(
        csv_row[0].reporter_iso3.as_deref(),
        Some("USA"),
        "ISO3 filled from the code when the export left it blank"
    );
    assert_eq!(csv_row[0].provenance.edition, "comtrade:2025-12-28");

    let usitc = |flow: &str, iso3: &str, hs: &str, year: i32| -> Vec<&TradeRow> {
        n.tables
            .trade
            .iter()
            .filter(|r| {
                r.provenance.source == "usitc_dataweb"
                    && r.flow == flow
                    && r.partner_iso3.as_deref() == Some(iso3)
                    && r.hs_code == hs
                    && r.year == year
            })
            .collect()
    };
    let imports = usitc("M", "CHN", "2846", 2022);
    assert_eq!(imports.len(), 1);
    assert_eq!(imports[0].net_weight_kg, Some(12_126_266.0));
    assert_eq!(imports[0].value_usd, Some(118_758_037.0));
    assert_eq!(imports[0].value_basis.as_deref(), Some("CUSTOMS"));
    assert_eq!(imports[0].provenance.edition, "usitc:2026-07-10");
    let exports = usitc("DX", "CHN", "2846", 2022);
    assert_eq!((exports[0].net_weight_kg, exports[0].value_usd), (Some(74_884_581.0), Some(523_273_456.0)));
    assert!(usitc("M", "CHN", "2846", 2026).is_empty(), "the year-to-date download year is not a full year");
    let scope = reeflow_normalize::NormalizeOptions::default();
    assert!(n.tables.trade.iter().all(|r| scope.keeps_hs_code(&r.hs_code)));
}

#[test]
fn countries_and_file_report() {
    let n = normalized();
    let usa = n.tables.countries.iter().find(|c| c.code == 842).unwrap();
    assert_eq!((usa.iso3.as_deref(), usa.name.as_str()), (Some("USA"), "USA"));
    let world = n.tables.countries.iter().find(|c| c.code == 0).unwrap();
    assert!(world.is_group);
    let mut codes: Vec<i32> = n.tables.countries.iter().map(|c| c.code).collect();
    codes.dedup();
    assert_eq!(codes.len(), n.tables.countries.len(), "one row per code");
    // Every file is either read or listed with the reason it is not.
    assert!(n.files.iter().all(|f| f.format.is_some() || f.ignored.is_some()));
    let usitc = n.files.iter().find(|f| f.file.ends_with("us_imports_for_consumption_1993-2026.xlsx")).unwrap();
    assert!(
        usitc.skipped.iter().any(|(reason, count)| reason.contains("outside the configured scope") && *count > 300)
    );
}

/// DataWeb counts, per year, the records whose quantity customs suppressed: US imports of HS 8505
/// from China in 2019 print 15,248,142 kg beside one suppressed record. That printed figure is not
/// the quantity, so it is null and flagged; the value (never suppressed) stays.
#[test]
fn usitc_quantities_with_suppressed_records_are_unknown_not_printed_figures() {
    let n = normalized();
    let rows: Vec<&TradeRow> = n
        .tables
        .trade
        .iter()
        .filter(|r| {
            r.provenance.source == "usitc_dataweb"
                && r.flow == "M"
                && r.hs_code == "8505"
                && r.partner_iso3.as_deref() == Some("CHN")
                && r.qty_unit.as_deref() == Some("kilograms")
        })
        .collect();
    let year = |y: i32| *rows.iter().find(|r| r.year == y).unwrap();
    let suppressed = year(2019);
    assert_eq!((suppressed.qty, suppressed.net_weight_kg), (None, None));
    assert_eq!(suppressed.flag.as_deref(), Some("suppressed"));
    assert!(suppressed.value_usd.unwrap() > 0.0);
    let plain = year(2020);
    assert!(plain.qty.unwrap() > 0.0 && plain.flag.is_none());
    // In the rare-earth headings: that cell, and the 1993-1994 US exports of 8505 to 14 partners.
    let flagged: Vec<&TradeRow> = n.tables.trade.iter().filter(|r| r.flag.as_deref() == Some("suppressed")).collect();
    assert_eq!(flagged.len(), 28);
    assert!(flagged.iter().all(|r| r.hs_code == "8505" && r.qty.is_none()));
    assert_eq!(flagged.iter().filter(|r| r.flow == "DX" && r.year <= 1994).count(), 27);
}
