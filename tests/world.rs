//! The model for every region the data covers: when the trade table holds every reporter's own
//! complete reports (generated here: ten countries, each reporting its imports and exports of
//! compounds and metals with every partner and a World row), a region other than the US and China
//! gets a complete balance, indicators and Sankey links, and the figures equal what its own
//! reports say, summed here independently of the SQL.

mod common;

use std::collections::BTreeMap;

use common::{plant, query, reeflow, stdout};
use reeflow_model::TradeRow;

const COUNTRIES: [(i32, &str); 10] = [
    (156, "CHN"),
    (842, "USA"),
    (392, "JPN"),
    (458, "MYS"),
    (104, "MMR"),
    (36, "AUS"),
    (276, "DEU"),
    (410, "KOR"),
    (704, "VNM"),
    (233, "EST"),
];
const YEARS: std::ops::RangeInclusive<i32> = 2018..=2022;
const CODES: [&str; 2] = ["2846", "280530"];

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The true shipment from `exporter` to `importer` (kg), or None: two pairs in three trade.
fn shipment(exporter: i32, importer: i32, year: i32, code: &str) -> Option<f64> {
    let seed = mix((exporter as u64) << 40 ^ (importer as u64) << 20 ^ (year as u64) << 4 ^ code.len() as u64);
    (!seed.is_multiple_of(3)).then(|| 1000.0 * (1 + seed % 50) as f64)
}

/// A report by `reporter` (its own weights; importers' values are CIF, 6 % above FOB).
fn row(reporter: (i32, &str), partner: (i32, &str), flow: &str, code: &str, year: i32, kg: f64) -> TradeRow {
    let value = kg * if flow == "M" { 31.8 } else { 30.0 };
    common::trade_row(year, reporter, partner, flow, code, kg, value, "generated/all-reporters.json")
}

/// Every country's own reports: its exports (its own weights) and imports (2 % heavier, as
/// importers weigh), each partner row and a World row adding them up.
fn all_reporters() -> Vec<TradeRow> {
    let mut rows = Vec::new();
    for year in YEARS {
        for code in CODES {
            for reporter in COUNTRIES {
                for (flow, factor) in [("X", 1.0), ("M", 1.02)] {
                    let mut world = 0.0;
                    for partner in COUNTRIES.iter().filter(|p| p.0 != reporter.0) {
                        let (exporter, importer) =
                            if flow == "X" { (reporter.0, partner.0) } else { (partner.0, reporter.0) };
                        if let Some(kg) = shipment(exporter, importer, year, code) {
                            rows.push(row(reporter, *partner, flow, code, year, kg * factor));
                            world += kg * factor;
                        }
                    }
                    if world > 0.0 {
                        rows.push(row(reporter, (0, "W00"), flow, code, year, world));
                    }
                }
            }
        }
    }
    rows
}

#[test]
fn a_third_region_gets_its_balance_indicators_and_sankey_links() {
    let data = common::bundled_snapshot_data_dir();
    plant(data.path(), &all_reporters(), |_, _| true);
    stdout(&reeflow(data.path(), &["run"]));

    // Japan's compound imports and exports in 2022, from its own reports, in t REO (factor 0.85).
    let (mut imports, mut exports) = (0.0, 0.0);
    for partner in COUNTRIES.iter().filter(|p| p.1 != "JPN") {
        imports += shipment(partner.0, 392, 2022, "2846").map_or(0.0, |kg| kg * 1.02 / 1000.0 * 0.85);
        exports += shipment(392, partner.0, 2022, "2846").map_or(0.0, |kg| kg * 1.02 / 1000.0 * 0.85);
    }
    let balance = query(
        data.path(),
        "SELECT imports_t_reo, exports_t_reo, imports_complete, exports_complete FROM stage_balance \
         WHERE region = 'JPN' AND year = 2022 AND stage = 'separation'",
    );
    let japan = &balance[0];
    assert!((japan["imports_t_reo"].as_f64().unwrap() - imports).abs() < 1e-6, "{japan} vs {imports}");
    // Exports: each importer's own report is preferred, and importers weigh 2 % more.
    assert!((japan["exports_t_reo"].as_f64().unwrap() - exports).abs() < 1e-6, "{japan} vs {exports}");
    assert_eq!((japan["imports_complete"].as_bool(), japan["exports_complete"].as_bool()), (Some(true), Some(true)));
    let coverage = query(
        data.path(),
        "SELECT item, status FROM coverage WHERE table_name = 'stage_balance' AND region = 'JPN' AND year = 2022 \
         AND stage = 'separation' AND item IN ('imports', 'exports')",
    );
    assert!(coverage.iter().all(|c| c["status"] == "data"), "{coverage:?}");

    let indicators: BTreeMap<String, usize> = query(
        data.path(),
        "SELECT indicator, count(*) AS n FROM indicators WHERE region = 'JPN' AND year = 2022 AND stage = 'separation' \
         GROUP BY indicator",
    )
    .iter()
    .map(|r| (r["indicator"].as_str().unwrap().to_string(), r["n"].as_u64().unwrap() as usize))
    .collect();
    assert_eq!(indicators.get("net_exports_t_reo"), Some(&1), "{indicators:?}");
    // One share per partner region Japan imported from (Germany is in EUU, Korea in ROW).
    let partner_regions = COUNTRIES
        .iter()
        .filter(|p| p.1 != "JPN" && shipment(p.0, 392, 2022, "2846").is_some())
        .map(|p| match p.1 {
            "DEU" => "EUU",
            "KOR" => "ROW",
            other => other,
        })
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(indicators.get("import_partner_share"), Some(&partner_regions), "{indicators:?}");

    let out = data.path().join("report");
    stdout(&reeflow(data.path(), &["report", "--year", "2022", "--out", out.to_str().unwrap()]));
    let svg = std::fs::read_to_string(out.join("sankey-2022.svg")).unwrap();
    assert!(svg.contains("data-from=\"JPN:separation\"") && svg.contains("data-to=\"JPN:metal\""), "JPN links");
}
