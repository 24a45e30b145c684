//! The compiled USGS production figures for 2000-2017 (`production_by_country.csv`): one figure
//! per row as printed in one edition, `edition,year,country,reo_t,flag,source`.
//!
//! Its `DS140-2023` rows were copied from the DS-140 workbook; when that workbook is read too,
//! [`drop_rows_read_from_primary_files`] removes the copies and reports how many, so each DS-140
//! figure appears once, from its primary file.

use reeflow_model::{CountryLookup, ProductionRow, Stage, parse_number_token};

use super::{AdapterOutput, join_flags, parse_year, provenance};
use crate::discover::{Format, RawFile};
use crate::error::{NormalizeError, Result};
use crate::text::{CsvTable, Encoding, read_text};
use crate::{FileReport, Tables};

const HEADER: [&str; 6] = ["edition", "year", "country", "reo_t", "flag", "source"];
const COMPILED_DS140: &str = "DS140-2023";

pub fn read(file: &RawFile) -> Result<AdapterOutput> {
    let path = file.path.as_path();
    let table = CsvTable::parse(path, &read_text(path, Encoding::Utf8)?)?;
    table.expect_header(path, &HEADER)?;
    let mut output = AdapterOutput::default();
    for record in table.records.iter().filter(|r| !r.is_blank()) {
        let at = |column: &str| format!("line {}, column {column:?}", record.line);
        let edition = record.get(0).trim();
        let edition = if edition == COMPILED_DS140 { "DS140" } else { edition };
        let year = parse_year(record.get(1)).ok_or_else(|| {
            NormalizeError::layout(path, at("year"), format!("expected a year, found {:?}", record.get(1)))
        })?;
        let country_name = record.get(2).trim();
        let country = CountryLookup::by_name(country_name)
            .map_err(|e| NormalizeError::layout(path, at("country"), e.to_string()))?;
        let parsed =
            parse_number_token(record.get(3)).map_err(|e| NormalizeError::layout(path, at("reo_t"), e.to_string()))?;
        let flag = record.get(4).trim();
        if !["", "e", "r"].contains(&flag) {
            return Err(NormalizeError::layout(path, at("flag"), format!("expected e, r or blank, found {flag:?}")));
        }
        output.tables.production.push(ProductionRow {
            year,
            country_iso3: country.iso3.to_string(),
            country: country_name.to_string(),
            stage: Stage::Mining.as_str().to_string(),
            t_reo: parsed.as_ref().and_then(|p| p.value),
            flag: join_flags([
                flag,
                parsed.as_ref().and_then(|p| p.flag).unwrap_or(if parsed.is_none() { "blank" } else { "" }),
            ]),
            raw_value: None,
            notes: Some(record.get(5).trim().to_string()).filter(|s| !s.is_empty()),
            provenance: provenance(file, "compiled_usgs", edition),
        });
    }
    Ok(output)
}

/// Removes compiled copies of DS-140 figures when the DS-140 workbook itself was read.
pub fn drop_rows_read_from_primary_files(tables: &mut Tables, files: &mut [FileReport]) {
    let ds140_read = files.iter().any(|f| f.format == Some(Format::Ds140Workbook));
    if !ds140_read {
        return;
    }
    for report in files.iter_mut().filter(|f| f.format == Some(Format::CompiledProduction)) {
        let before = tables.production.len();
        tables.production.retain(|r| !(r.provenance.source_file == report.file && r.provenance.edition == "DS140"));
        let dropped = before - tables.production.len();
        if dropped > 0 {
            report.production -= dropped;
            report.skipped.push((
                "DS-140 figures also read from the DS-140 workbook itself (kept from the primary file)".into(),
                dropped,
            ));
        }
    }
}
