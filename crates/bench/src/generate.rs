//! A deterministic world-trade table in the canonical `trade` schema, shaped like BACI-sized
//! customs data: 200 reporters whose activity and attractiveness as partners follow a Zipf law,
//! 5,000 HS6 products (the rare-earth codes among them) with skewed frequencies, each flow
//! reported by its exporter (FOB) and its importer (CIF, with mirror discrepancies in value and
//! weight), one side missing for a share of flows, and a World row per exporter, product and year.
//! The same options always give the same rows.

use std::collections::HashSet;
use std::path::Path;

use arrow::array::RecordBatch;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use reeflow_files::parquet::ParquetFile;
use reeflow_model::{Provenance, Table, TradeRow};

use crate::BenchError;
use crate::rng::{Rng, Zipf};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeShape {
    pub rows: u64,
    pub first_year: i32,
    pub last_year: i32,
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Generated {
    pub rows: u64,
    pub exporter_reports: u64,
    pub importer_reports: u64,
    pub world_rows: u64,
    pub flows_one_side_only: u64,
    pub bytes: u64,
}

/// Real countries first (the model's regions and large traders), then synthetic ones.
const NAMED: [(i32, &str); 16] = [
    (156, "CHN"),
    (842, "USA"),
    (276, "DEU"),
    (392, "JPN"),
    (410, "KOR"),
    (250, "FRA"),
    (356, "IND"),
    (458, "MYS"),
    (704, "VNM"),
    (36, "AUS"),
    (104, "MMR"),
    (233, "EST"),
    (76, "BRA"),
    (124, "CAN"),
    (643, "RUS"),
    (528, "NLD"),
];
const COUNTRIES: usize = 200;
const PRODUCTS: usize = 5_000;
/// The rare-earth codes, placed at these ranks of product frequency (1 = most traded).
const RARE_EARTH_CODES: [(&str, usize); 5] =
    [("850511", 180), ("284690", 900), ("253090", 1_400), ("280530", 2_600), ("284610", 3_300)];
const BATCH_ROWS: usize = 262_144;

fn countries() -> Vec<(i32, String)> {
    let mut list: Vec<(i32, String)> = NAMED.iter().map(|(c, i)| (*c, i.to_string())).collect();
    for index in 0..COUNTRIES - NAMED.len() {
        let letters = [b'A' + (index / 26) as u8, b'A' + (index % 26) as u8];
        list.push((1000 + index as i32, format!("X{}", String::from_utf8_lossy(&letters))));
    }
    list
}

fn products() -> Vec<String> {
    let mut list: Vec<String> = (0..PRODUCTS).map(|k| format!("{:02}{:04}", 1 + k % 97, 1000 + k)).collect();
    for (code, rank) in RARE_EARTH_CODES {
        list[rank - 1] = code.to_string();
    }
    list
}

struct Writer<'a> {
    writer: ParquetFile,
    rows: Vec<TradeRow>,
    provenance: &'a Provenance,
    path: &'a Path,
}

impl Writer<'_> {
    fn push(&mut self, row: TradeRow) -> Result<(), BenchError> {
        self.rows.push(row);
        if self.rows.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BenchError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let batch: RecordBatch = TradeRow::to_batch(&self.rows).map_err(|e| BenchError::write(self.path, e))?;
        self.writer.write(&batch)?;
        self.rows.clear();
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        year: i32,
        reporter: &(i32, String),
        partner: &(i32, String),
        flow: &str,
        hs: &str,
        kg: f64,
        value: f64,
        aggregate: bool,
    ) -> Result<(), BenchError> {
        self.push(TradeRow {
            year,
            reporter_code: reporter.0,
            reporter_iso3: Some(reporter.1.clone()),
            partner_code: Some(partner.0),
            partner_iso3: Some(partner.1.clone()),
            partner_name: Some(partner.1.clone()),
            flow: flow.to_string(),
            hs_code: hs.to_string(),
            hs_edition: Some("H5".into()),
            net_weight_kg: Some(kg.round()),
            qty: Some(kg.round()),
            qty_unit: Some("kg".into()),
            value_usd: Some(value.round()),
            value_basis: Some(if flow == "X" { "FOB" } else { "CIF" }.into()),
            is_estimated: false,
            is_aggregate: aggregate,
            flag: None,
            provenance: self.provenance.clone(),
        })
    }
}

/// Writes the table to `path` (Parquet, zstd level 1, row groups of about a million rows),
/// atomically.
pub fn generate_trade(path: &Path, shape: &TradeShape) -> Result<Generated, BenchError> {
    if shape.first_year > shape.last_year {
        return Err(BenchError::Options(format!(
            "years {}-{}: the first is after the last",
            shape.first_year, shape.last_year
        )));
    }
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).map_err(|e| BenchError::write(path, e))?))
        .set_max_row_group_row_count(Some(1 << 20))
        .set_created_by("reeflow bench gen".into())
        .build();
    let writer = ParquetFile::create_with(path, TradeRow::schema(), properties)?;
    let provenance = Provenance {
        source: "bench".into(),
        source_file: format!("bench/trade-seed{}.parquet", shape.seed),
        edition: format!("bench:seed{}", shape.seed),
    };
    let mut out = Writer { writer, rows: Vec::with_capacity(BATCH_ROWS), provenance: &provenance, path };
    let (countries, products) = (countries(), products());
    let world = (0, "W00".to_string());
    let (country_zipf, product_zipf, partner_count) =
        (Zipf::new(COUNTRIES, 1.1), Zipf::new(PRODUCTS, 1.0), Zipf::new(40, 0.8));
    let mut rng = Rng::new(shape.seed);
    // A product's price (USD/kg), fixed per product so that weights and values agree across reports.
    let prices: Vec<f64> = (0..PRODUCTS).map(|_| rng.log_normal(1.0, 1.2)).collect();
    let years = (shape.last_year - shape.first_year + 1) as u64;
    let mut summary = Generated::default();
    let mut cells: HashSet<u64> = HashSet::new();
    let mut partners: Vec<usize> = Vec::new();
    while summary.rows < shape.rows {
        let year = shape.first_year + (rng.next_u64() % years) as i32;
        let (exporter, product) = (country_zipf.sample(&mut rng), product_zipf.sample(&mut rng));
        let cell = (year as u64) << 32 | (exporter as u64) << 16 | product as u64;
        if !cells.insert(cell) {
            continue;
        }
        partners.clear();
        let wanted = 1 + partner_count.sample(&mut rng);
        for _ in 0..wanted * 3 {
            let partner = country_zipf.sample(&mut rng);
            if partner != exporter && !partners.contains(&partner) {
                partners.push(partner);
            }
            if partners.len() == wanted {
                break;
            }
        }
        let mut exported = (0.0, 0.0);
        for &importer in &partners {
            let value = rng.log_normal(10.0, 2.2);
            let kg = value / prices[product];
            let (by_exporter, by_importer) = match rng.unit() {
                u if u < 0.015 => (false, false),
                u if u < 0.115 => (false, true),
                u if u < 0.265 => (true, false),
                _ => (true, true),
            };
            if by_exporter != by_importer {
                summary.flows_one_side_only += 1;
            }
            if by_exporter {
                let kg = kg * rng.between(0.97, 1.03);
                out.report(
                    year,
                    &countries[exporter],
                    &countries[importer],
                    "X",
                    &products[product],
                    kg,
                    value,
                    false,
                )?;
                exported = (exported.0 + kg.round(), exported.1 + value.round());
                summary.exporter_reports += 1;
            }
            if by_importer {
                let (kg, value) = (kg * rng.between(0.8, 1.25), value * 1.06 * rng.between(0.85, 1.25));
                out.report(
                    year,
                    &countries[importer],
                    &countries[exporter],
                    "M",
                    &products[product],
                    kg,
                    value,
                    false,
                )?;
                summary.importer_reports += 1;
            }
        }
        if exported.1 > 0.0 {
            out.report(year, &countries[exporter], &world, "X", &products[product], exported.0, exported.1, true)?;
            summary.world_rows += 1;
        }
        summary.rows = summary.exporter_reports + summary.importer_reports + summary.world_rows;
    }
    out.flush()?;
    out.writer.finish()?;
    summary.bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or_default();
    Ok(summary)
}

/// Writes `rows` rare-earth trade records as Comtrade API responses (`{elapsedTime, count,
/// data, error}`, 100,000 records a file) into `dir`: the input of the normalization benchmark.
pub fn write_comtrade_json(dir: &Path, rows: u64, seed: u64) -> Result<u64, BenchError> {
    std::fs::create_dir_all(dir).map_err(|e| BenchError::write(dir, e))?;
    let countries = countries();
    let mut rng = Rng::new(seed);
    let zipf = Zipf::new(COUNTRIES, 1.1);
    let (mut written, mut file_index) = (0u64, 0);
    let mut seen: HashSet<(i32, usize, usize, usize, bool)> = HashSet::new();
    while written < rows {
        let count = (rows - written).min(100_000);
        let mut records = Vec::with_capacity(count as usize);
        while (records.len() as u64) < count {
            let year = 1995 + (rng.next_u64() % 30) as i32;
            let (reporter, partner) = (zipf.sample(&mut rng), zipf.sample(&mut rng));
            let code = (rng.next_u64() % RARE_EARTH_CODES.len() as u64) as usize;
            let import = rng.chance(0.5);
            if reporter == partner || !seen.insert((year, reporter, partner, code, import)) {
                continue;
            }
            let kg = rng.log_normal(9.0, 2.0).round();
            let value = (kg * rng.log_normal(2.5, 0.8)).round();
            records.push(serde_json::json!({
                "typeCode": "C", "freqCode": "A", "refYear": year, "period": year.to_string(),
                "reporterCode": countries[reporter].0, "reporterISO": countries[reporter].1,
                "flowCode": if import { "M" } else { "X" },
                "partnerCode": countries[partner].0, "partnerISO": countries[partner].1, "partnerDesc": countries[partner].1,
                "partner2Code": 0, "customsCode": "C00", "motCode": 0, "classificationCode": "H5",
                "cmdCode": RARE_EARTH_CODES[code].0, "qtyUnitCode": 8, "qtyUnitAbbr": "kg", "qty": kg,
                "isQtyEstimated": false, "netWgt": kg, "isNetWgtEstimated": false, "primaryValue": value,
                "isAggregate": false,
            }));
        }
        file_index += 1;
        let body = serde_json::json!({"elapsedTime": "0 secs", "count": records.len(), "data": records, "error": ""});
        let path = dir.join(format!("bench-{file_index:04}.json"));
        std::fs::write(&path, serde_json::to_vec(&body).map_err(|e| BenchError::write(&path, e))?)
            .map_err(|e| BenchError::write(&path, e))?;
        written += count;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_shape_gives_the_same_bytes_and_mirror_reports() {
        let dir = tempfile::tempdir().unwrap();
        let shape = TradeShape { rows: 20_000, first_year: 2015, last_year: 2020, seed: 42 };
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        let summary = generate_trade(&a, &shape).unwrap();
        generate_trade(&b, &shape).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "deterministic");
        assert!(summary.rows >= 20_000 && summary.rows < 20_200);
        let share = |n: u64| n as f64 / summary.rows as f64;
        assert!(share(summary.importer_reports) > 0.35 && share(summary.exporter_reports) > 0.35, "{summary:?}");
        assert!(summary.world_rows > 0 && summary.flows_one_side_only > 0);
    }
}
