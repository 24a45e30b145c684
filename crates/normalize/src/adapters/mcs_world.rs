//! USGS MCS rare-earth world mine production CSVs (`mcsYYYY-raree_world.csv`).
//!
//! Layouts seen: MCS2022 `Source,Country,Type,Prod_t_2020,Prod_t_Est_2021`; MCS2023 adds
//! `Prod_notes,Reserves_t,Reserves_notes` and writes `Prod_t_est_2022`; MCS2024 has two `est`
//! columns, 36 empty trailing columns and 22 all-comma rows. A `Prod_notes` of "Estimated in 2021
//! also." marks the non-`est` year as estimated too. Reserves are not part of `production`; they
//! are counted as skipped.

use std::path::Path;

use reeflow_model::{CountryLookup, ProductionRow, Stage, parse_number_token};

use super::{AdapterOutput, join_flags, provenance, raw_if_not_plain};
use crate::discover::RawFile;
use crate::error::{NormalizeError, Result};
use crate::text::{CsvTable, Encoding, clean_note, read_text};

/// A `Prod_t_[est_]YYYY` column.
struct ProductionColumn {
    index: usize,
    name: String,
    year: i32,
    estimated: bool,
}

pub fn read(file: &RawFile) -> Result<AdapterOutput> {
    let path = file.path.as_path();
    let table = CsvTable::parse(path, &read_text(path, Encoding::Utf8)?)?;
    let source_col = table.column(path, "Source")?;
    let country_col = table.column(path, "Country")?;
    let type_col = table.column(path, "Type")?;
    let notes_col = table.header.iter().position(|h| h == "Prod_notes");
    let mut production_columns = Vec::new();
    for (index, name) in table.header.iter().enumerate() {
        if let Some(column) = production_column(index, name) {
            production_columns.push(column);
        } else if !["Source", "Country", "Type", "Prod_notes", "Reserves_t", "Reserves_notes"].contains(&name.as_str())
        {
            return Err(NormalizeError::layout(
                path,
                format!("header, column {}", index + 1),
                format!(
                    "unexpected column {name:?}; expected Source, Country, Type, Prod_t_[est_]YYYY, Prod_notes, Reserves_t, Reserves_notes"
                ),
            ));
        }
    }
    if production_columns.is_empty() {
        return Err(NormalizeError::layout(
            path,
            "header",
            format!("no production column (Prod_t_YYYY or Prod_t_est_YYYY); found {:?}", table.header),
        ));
    }

    let has_reserves = table.header.iter().any(|h| h == "Reserves_t");
    let mut output = AdapterOutput::default();
    for record in table.records.iter().filter(|r| !r.is_blank()) {
        let at = |column: &str| format!("line {}, column {column:?}", record.line);
        let edition = record.get(source_col).trim();
        if !is_mcs_edition(edition) {
            return Err(NormalizeError::layout(
                path,
                at("Source"),
                format!("expected an edition like MCS2023, found {edition:?}"),
            ));
        }
        let kind = record.get(type_col).to_lowercase();
        if !kind.contains("mine production") {
            return Err(NormalizeError::layout(
                path,
                at("Type"),
                format!("expected a mine production series, found {:?}", record.get(type_col)),
            ));
        }
        let country_name = record.get(country_col).trim();
        let country = CountryLookup::by_name(country_name)
            .map_err(|e| NormalizeError::layout(path, at("Country"), e.to_string()))?;
        let notes = notes_col.and_then(|c| clean_note(record.get(c)));
        if has_reserves {
            output.skip("reserves (not part of the production table)");
        }
        for column in &production_columns {
            let raw = record.get(column.index);
            let parsed =
                parse_number_token(raw).map_err(|e| NormalizeError::layout(path, at(&column.name), e.to_string()))?;
            let Some(parsed) = parsed else {
                return Err(NormalizeError::layout(
                    path,
                    at(&column.name),
                    "empty production cell; expected a number or a USGS token (NA, W, —)",
                ));
            };
            let estimated = column.estimated
                || notes.as_deref().is_some_and(|n| n.contains(&format!("Estimated in {} also", column.year)));
            output.tables.production.push(ProductionRow {
                year: column.year,
                country_iso3: country.iso3.to_string(),
                country: country_name.to_string(),
                stage: Stage::Mining.as_str().to_string(),
                t_reo: parsed.value,
                flag: join_flags([if estimated { "e" } else { "" }, parsed.flag.unwrap_or("")]),
                raw_value: raw_if_not_plain(raw),
                notes: notes.clone(),
                provenance: provenance(file, "usgs_mcs", edition),
            });
        }
    }
    if output.tables.production.is_empty() {
        return Err(NormalizeError::layout(path, "body", "no data rows; expected one row per country"));
    }
    Ok(output)
}

fn production_column(index: usize, name: &str) -> Option<ProductionColumn> {
    let rest = name.strip_prefix("Prod_t_")?;
    let (estimated, year_text) = match rest.to_lowercase().strip_prefix("est_") {
        Some(year) => (true, year.to_string()),
        None => (false, rest.to_string()),
    };
    let year = year_text.parse().ok().filter(|y| (1900..=2200).contains(y))?;
    Some(ProductionColumn { index, name: name.to_string(), year, estimated })
}

pub(crate) fn is_mcs_edition(text: &str) -> bool {
    text.len() == 7 && text.starts_with("MCS") && text[3..].chars().all(|c| c.is_ascii_digit())
}

/// The MCS edition a file name carries (`mcs2026` → `MCS2026`), if any.
pub(crate) fn edition_from_file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().to_lowercase();
    let start = name.find("mcs")?;
    let digits: String = name[start + 3..].chars().take_while(char::is_ascii_digit).collect();
    (digits.len() == 4).then(|| format!("MCS{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_column_names() {
        let c = production_column(3, "Prod_t_Est_2021").unwrap();
        assert_eq!((c.year, c.estimated), (2021, true));
        let c = production_column(3, "Prod_t_2020").unwrap();
        assert_eq!((c.year, c.estimated), (2020, false));
        assert!(production_column(3, "Prod_notes").is_none());
        assert_eq!(edition_from_file_name(Path::new("usgs_mcs2026_commodities_data.csv")).as_deref(), Some("MCS2026"));
    }
}
