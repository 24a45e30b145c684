//! Comtrade reference lists (`Reporters.csv`, `partnerAreas.csv`, converted from the API's
//! `Reporters.json` and `partnerAreas.json`) → the `countries` table.
//!
//! The two lists overlap; [`merge_countries`] keeps one row per code, preferring the partner list
//! (it is the superset) and marking a code as a group when either list does.

use reeflow_model::CountryRow;
use serde_json::Value;

use super::{AdapterOutput, provenance};
use crate::discover::RawFile;
use crate::error::{NormalizeError, Result};
use crate::text::{CsvTable, Encoding, read_text};
use reeflow_model::date::days_from_civil;

pub fn read(file: &RawFile) -> Result<AdapterOutput> {
    let path = file.path.as_path();
    let table = CsvTable::parse(path, &read_text(path, Encoding::Utf8)?)?;
    // Reporters.csv and partnerAreas.csv name the same keys with different capitalisation.
    let column = |names: [&str; 2]| -> Result<usize> {
        names
            .iter()
            .find_map(|n| table.header.iter().position(|h| h == n))
            .map_or_else(|| table.column(path, names[0]), Ok)
    };
    let code_col = column(["reporterCode", "PartnerCode"])?;
    let name_col = column(["reporterDesc", "PartnerDesc"])?;
    let iso3_col = column(["reporterCodeIsoAlpha3", "PartnerCodeIsoAlpha3"])?;
    let from_col = table.column(path, "entryEffectiveDate")?;
    let to_col = table.column(path, "entryExpiredDate")?;
    let group_col = table.column(path, "isGroup")?;
    let edition = reference_edition(path);
    let mut output = AdapterOutput::default();
    for record in table.records.iter().filter(|r| !r.is_blank()) {
        let at = |column: usize| format!("line {}, column {:?}", record.line, table.header[column]);
        let code = record.get(code_col).trim().parse::<i32>().map_err(|_| {
            NormalizeError::layout(
                path,
                at(code_col),
                format!("expected a numeric code, found {:?}", record.get(code_col)),
            )
        })?;
        let is_group = match record.get(group_col).trim() {
            "true" | "True" => true,
            "false" | "False" | "" => false,
            other => {
                return Err(NormalizeError::layout(
                    path,
                    at(group_col),
                    format!("expected true or false, found {other:?}"),
                ));
            }
        };
        output.tables.countries.push(CountryRow {
            code,
            iso3: Some(record.get(iso3_col).trim().to_string()).filter(|s| !s.is_empty()),
            name: record.get(name_col).trim().to_string(),
            is_group,
            valid_from: date(record.get(from_col)).map_err(|p| NormalizeError::layout(path, at(from_col), p))?,
            valid_to: date(record.get(to_col)).map_err(|p| NormalizeError::layout(path, at(to_col), p))?,
            provenance: provenance(file, "comtrade_reference", &edition),
        });
    }
    Ok(output)
}

/// `1900-01-01T00:00:00` → days since 1970-01-01; blank → None.
fn date(text: &str) -> std::result::Result<Option<i32>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let day = text.get(..10).ok_or_else(|| format!("expected a date like 1900-01-01T00:00:00, found {text:?}"))?;
    let parts: Vec<&str> = day.split('-').collect();
    match parts.as_slice() {
        [y, m, d] => match (y.parse(), m.parse(), d.parse()) {
            (Ok(y), Ok(m), Ok(d)) if (1..=12).contains(&m) && (1..=31).contains(&d) => {
                Ok(Some(days_from_civil(y, m, d)))
            }
            _ => Err(format!("expected a date like 1900-01-01T00:00:00, found {text:?}")),
        },
        _ => Err(format!("expected a date like 1900-01-01T00:00:00, found {text:?}")),
    }
}

/// `comtrade-ref:<fetch date>` from a code list beside the file that records `fetched`.
fn reference_edition(path: &std::path::Path) -> String {
    let folder = path.parent().unwrap_or(std::path::Path::new("."));
    for name in ["flowCode.json", "tables.json", "qtyUnitCode.json"] {
        if let Some(date) = std::fs::read_to_string(folder.join(name))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v.get("fetched").and_then(Value::as_str).map(str::to_string))
        {
            return format!("comtrade-ref:{date}");
        }
    }
    "comtrade-ref:undated".to_string()
}

/// One row per code: the partner list's row where both lists have the code (reporter rows are
/// read first, since files are read in name order), `is_group` true when either list says so.
pub fn merge_countries(countries: &mut Vec<CountryRow>) {
    let mut merged: Vec<CountryRow> = Vec::new();
    for row in countries.drain(..) {
        match merged.iter_mut().find(|m| m.code == row.code) {
            Some(existing) => {
                let is_group = existing.is_group || row.is_group;
                if row.provenance.source_file.to_lowercase().contains("partner") {
                    *existing = row;
                }
                existing.is_group = is_group;
            }
            None => merged.push(row),
        }
    }
    merged.sort_by_key(|r| r.code);
    *countries = merged;
}
