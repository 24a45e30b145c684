//! The USGS MCS combined long-format data release (`MCS2026_Commodities_Data.csv`).
//!
//! Windows-1252, CRLF, no BOM, one row per figure:
//! `MCS chapter,Section,Commodity,Country,Statistics,Statistics_detail,Unit,Year,Value,Notes,…`.
//! Notes cells hold embedded line breaks. Only the rare-earth chapters (RARE EARTHS, RARE EARTHS
//! (Heavy), SCANDIUM, YTTRIUM) are read: world mine production goes to `production`, the US
//! salient statistics to `salient`. Reserves and the multi-year import-source shares are counted
//! as skipped; other chapters are out of scope and counted too.

use reeflow_model::{CountryLookup, ProductionRow, SalientRow, Stage, parse_number_token};

use super::mcs_salient::commodity_id;
use super::mcs_world::edition_from_file_name;
use super::{AdapterOutput, join_flags, parse_year, provenance, raw_if_not_plain, slug};
use crate::discover::RawFile;
use crate::error::{NormalizeError, Result};
use crate::text::{CsvRecord, CsvTable, Encoding, clean_note, read_text};

const HEADER: [&str; 12] = [
    "MCS chapter",
    "Section",
    "Commodity",
    "Country",
    "Statistics",
    "Statistics_detail",
    "Unit",
    "Year",
    "Value",
    "Notes",
    "Is critical mineral 2025",
    "Other notes",
];

/// Statistics_detail labels whose statistic names must match the per-year salient CSVs.
const DETAILS: &[(&str, &str)] = &[
    ("Production: Mineral concentrates", "production_concentrate"),
    ("Production: Compounds and metals", "production_compounds_metals"),
    ("Imports: Compounds", "imports_compounds"),
    ("Imports: Metals: Ferrocerium, alloys", "imports_ferrocerium_alloys"),
    ("Imports: Metals: Rare-earth metals and alloys", "imports_metals_alloys"),
    ("Exports: Ores and compounds", "exports_ores_compounds"),
    ("Exports: Metals: Ferrocerium, alloys", "exports_ferrocerium_alloys"),
    ("Exports: Metals: Rare-earth metals and alloys", "exports_metals_alloys"),
    ("Consumption, apparent, compounds and metals", "consumption_apparent_compounds_metals"),
    ("Employment, mine and mill, annual average, number", "employment"),
    ("Net import reliance as a percentage of apparent consumption: Compounds and metals", "nir_compounds_metals"),
    ("Net import reliance as a percentage of apparent consumption: Mineral concentrates", "nir_concentrate"),
];

const COL_CHAPTER: usize = 0;
const COL_SECTION: usize = 1;
const COL_COUNTRY: usize = 3;
const COL_STATISTICS: usize = 4;
const COL_DETAIL: usize = 5;
const COL_UNIT: usize = 6;
const COL_YEAR: usize = 7;
const COL_VALUE: usize = 8;
const COL_NOTES: usize = 9;

pub fn read(file: &RawFile) -> Result<AdapterOutput> {
    let path = file.path.as_path();
    let table = CsvTable::parse(path, &read_text(path, Encoding::Windows1252)?)?;
    table.expect_header(path, &HEADER)?;
    let edition = edition_from_file_name(path).ok_or_else(|| {
        NormalizeError::layout(
            path,
            "file name",
            "expected the edition in the file name, e.g. usgs_mcs2026_commodities_data.csv",
        )
    })?;
    let mut output = AdapterOutput::default();
    for record in table.records.iter().filter(|r| !r.is_blank()) {
        let Some(commodity) = commodity_id(record.get(COL_CHAPTER)) else {
            output.skip("chapters other than rare earths, scandium and yttrium (out of scope)");
            continue;
        };
        let section = record.get(COL_SECTION);
        let statistics = record.get(COL_STATISTICS);
        if section.starts_with("World") && statistics == "Production" {
            if commodity != "rare_earths" {
                output.skip("scandium and yttrium world production (not in t REO)");
                continue;
            }
            output.tables.production.push(production_row(file, record, &edition)?);
        } else if section.starts_with("Salient Statistics") {
            output.tables.salient.push(salient_row(file, record, commodity, &edition)?);
        } else if section.starts_with("World") && statistics == "Reserves" {
            output.skip("reserves (not part of the production table)");
        } else if section == "Import Sources" {
            output.skip("import-source shares over several years");
        } else {
            output.skip("other sections of the rare-earth chapters");
        }
    }
    if output.tables.production.is_empty() {
        return Err(NormalizeError::layout(
            path,
            "body",
            "no RARE EARTHS world mine production rows; expected Section \"World Mine Production and Reserves\"",
        ));
    }
    Ok(output)
}

struct Figure {
    year: i32,
    value: Option<f64>,
    flag: Option<String>,
    raw_value: Option<String>,
    notes: Option<String>,
}

fn figure(file: &RawFile, record: &CsvRecord) -> Result<Figure> {
    let path = file.path.as_path();
    let at = |column: &str| format!("line {}, column {column:?}", record.line);
    let year = parse_year(record.get(COL_YEAR)).ok_or_else(|| {
        NormalizeError::layout(path, at("Year"), format!("expected a year, found {:?}", record.get(COL_YEAR)))
    })?;
    let raw = record.get(COL_VALUE);
    let parsed = parse_number_token(raw).map_err(|e| NormalizeError::layout(path, at("Value"), e.to_string()))?;
    let notes = clean_note(record.get(COL_NOTES));
    let estimated = notes.as_deref().is_some_and(|n| n.starts_with("Estimated"));
    let token_flag = parsed.as_ref().and_then(|p| p.flag).unwrap_or(if parsed.is_none() { "blank" } else { "" });
    Ok(Figure {
        year,
        value: parsed.and_then(|p| p.value),
        flag: join_flags([if estimated { "e" } else { "" }, token_flag]),
        raw_value: raw_if_not_plain(raw),
        notes,
    })
}

fn production_row(file: &RawFile, record: &CsvRecord, edition: &str) -> Result<ProductionRow> {
    let path = file.path.as_path();
    let country_name = record.get(COL_COUNTRY).trim();
    let country = CountryLookup::by_name(country_name).map_err(|e| {
        NormalizeError::layout(path, format!("line {}, column \"Country\"", record.line), e.to_string())
    })?;
    let unit = record.get(COL_UNIT);
    if unit != "metric tons" {
        return Err(NormalizeError::layout(
            path,
            format!("line {}, column \"Unit\"", record.line),
            format!("expected \"metric tons\" for mine production, found {unit:?}"),
        ));
    }
    let figure = figure(file, record)?;
    Ok(ProductionRow {
        year: figure.year,
        country_iso3: country.iso3.to_string(),
        country: country_name.to_string(),
        stage: Stage::Mining.as_str().to_string(),
        t_reo: figure.value,
        flag: figure.flag,
        raw_value: figure.raw_value,
        notes: figure.notes,
        provenance: provenance(file, "usgs_mcs", edition),
    })
}

fn salient_row(file: &RawFile, record: &CsvRecord, commodity: &str, edition: &str) -> Result<SalientRow> {
    let path = file.path.as_path();
    let detail = record.get(COL_DETAIL).trim();
    let unit = match record.get(COL_UNIT) {
        "metric tons" if commodity.starts_with("rare_earths") => "t_reo",
        "metric tons" if commodity == "yttrium" => "t_y2o3",
        "metric tons" => "t",
        "kilograms" => "kg",
        "dollars per kilogram" => "usd_per_kg",
        "dollars per gram" => "usd_per_g",
        "percent" => "percent",
        "number" => "number",
        other => {
            return Err(NormalizeError::layout(
                path,
                format!("line {}, column \"Unit\"", record.line),
                format!(
                    "unknown unit {other:?}; expected metric tons, kilograms, dollars per kilogram, dollars per gram, percent or number"
                ),
            ));
        }
    };
    let figure = figure(file, record)?;
    Ok(SalientRow {
        year: figure.year,
        commodity: commodity.to_string(),
        statistic: statistic_name(detail),
        statistic_label: detail.to_string(),
        value: figure.value,
        raw_value: figure.raw_value,
        unit: unit.to_string(),
        flag: figure.flag,
        notes: figure.notes,
        provenance: provenance(file, "usgs_mcs", edition),
    })
}

/// The stable statistic name for a Statistics_detail label: the shared names for the quantities
/// the per-year CSVs also carry, `price_<product>` for prices, a slug of the label otherwise.
fn statistic_name(detail: &str) -> String {
    if let Some((_, name)) = DETAILS.iter().find(|(label, _)| *label == detail) {
        return (*name).to_string();
    }
    if detail.starts_with("Net import reliance") {
        // Scandium, yttrium and heavy rare earths print one reliance figure (and once "relianceas").
        return if detail.contains("ompounds and metals") { "nir_compounds_metals" } else { "nir" }.to_string();
    }
    if let Some((head, product)) = detail.split_once(": ")
        && head.starts_with("Price")
    {
        let product = product.split(',').next().unwrap_or(product);
        return format!("price_{}", slug(product));
    }
    slug(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistic_names() {
        assert_eq!(statistic_name("Imports: Compounds"), "imports_compounds");
        assert_eq!(
            statistic_name("Price, average, dollars per kilogram: Cerium oxide, 99.5% minimum"),
            "price_cerium_oxide"
        );
        assert_eq!(statistic_name("Imports, compounds and metals"), "imports_compounds_and_metals");
        assert_eq!(
            statistic_name("Net import relianceas a percentage of apparent consumption"),
            "nir",
            "the yttrium label's typo"
        );
    }
}
