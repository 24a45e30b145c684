//! China's rare-earth quotas as compiled from their announcements (`china_ree_quotas.csv`): one
//! figure per row, `year,quota_type,scope,value_t_REO,basis,source_url,note`, each with the page it
//! was read from.
//!
//! What becomes production: the yearly **smelting and separation** quota (`scope = total`), China's
//! registered separation output, as a `production` row of stage `separation` with flag `quota`,
//! edition `MIIT<year>` and the page's URL as its source. Left out, each with its reason in the
//! file report: first-batch figures (part of a year's quota, not its total: using one would
//! understate the year), mining quotas (USGS's China mine production already rests on them and
//! comes from the USGS editions), export quotas (not production), and the light / medium+heavy
//! splits of a total.

use reeflow_model::{ProductionRow, Stage, parse_number_token};

use super::{AdapterOutput, parse_year};
use crate::discover::RawFile;
use crate::error::{NormalizeError, Result};
use crate::text::{CsvTable, Encoding, read_text};

const HEADER: [&str; 7] = ["year", "quota_type", "scope", "value_t_REO", "basis", "source_url", "note"];
const QUOTA_TYPES: [&str; 3] = ["mining", "smelting_separation", "export"];

pub fn read(file: &RawFile) -> Result<AdapterOutput> {
    let path = file.path.as_path();
    let table = CsvTable::parse(path, &read_text(path, Encoding::Utf8)?)?;
    table.expect_header(path, &HEADER)?;
    let mut output = AdapterOutput::default();
    for record in table.records.iter().filter(|r| !r.is_blank()) {
        let at = |column: &str| format!("line {}, column {column:?}", record.line);
        let year = parse_year(record.get(0)).ok_or_else(|| {
            NormalizeError::layout(path, at("year"), format!("expected a year, found {:?}", record.get(0)))
        })?;
        let quota_type = record.get(1).trim();
        if !QUOTA_TYPES.contains(&quota_type) {
            return Err(NormalizeError::layout(
                path,
                at("quota_type"),
                format!("expected one of {}, found {quota_type:?}", QUOTA_TYPES.join(", ")),
            ));
        }
        let scope = record.get(2).trim();
        let value = parse_number_token(record.get(3))
            .map_err(|e| NormalizeError::layout(path, at("value_t_REO"), e.to_string()))?
            .and_then(|parsed| parsed.value)
            .ok_or_else(|| NormalizeError::layout(path, at("value_t_REO"), "expected a quantity in t REO"))?;
        let url = record.get(5).trim();
        if !url.starts_with("http") {
            return Err(NormalizeError::layout(path, at("source_url"), format!("expected a URL, found {url:?}")));
        }
        match (quota_type, scope) {
            ("smelting_separation", "total") => {}
            (_, scope) if scope.contains("first batch") => {
                output.skip("first batch of a year's quota: not the yearly total");
                continue;
            }
            ("mining", _) => {
                output.skip("mining quota: China's mine production comes from the USGS editions (quota-based)");
                continue;
            }
            ("export", _) => {
                output.skip("export quota: not production");
                continue;
            }
            _ => {
                output.skip("part of a quota (light or medium+heavy split), not the total");
                continue;
            }
        }
        let basis = record.get(4).trim();
        let note = record.get(6).trim();
        let notes = [format!("basis: {basis}"), note.to_string()].into_iter().filter(|n| !n.is_empty());
        output.tables.production.push(ProductionRow {
            year,
            country_iso3: "CHN".to_string(),
            country: "China".to_string(),
            stage: Stage::Separation.as_str().to_string(),
            t_reo: Some(value),
            flag: Some("quota".to_string()),
            raw_value: None,
            notes: Some(notes.collect::<Vec<_>>().join("; ")),
            provenance: reeflow_model::Provenance {
                source: url.to_string(),
                source_file: file.relative.clone(),
                edition: format!("MIIT{year}"),
            },
        });
    }
    Ok(output)
}
