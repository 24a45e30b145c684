//! USGS MCS salient-statistics CSVs (`mcsYYYY-raree_salient.csv`, `…-scandi_`/`scand_`, `…-yttri_`).
//!
//! One row per year, one column per statistic. Column names change between editions
//! (`NIR_Concentrate_t` became `NIR_Concentrate_pct` in MCS2023 and back in MCS2024;
//! `Employment_num` became `Employment_m`), so each known column maps to one stable statistic
//! name; a column not in the map is an error, so a new statistic is added knowingly.

use reeflow_model::{SalientRow, parse_number_token};

use super::{AdapterOutput, join_flags, parse_year, provenance, raw_if_not_plain};
use crate::discover::RawFile;
use crate::error::{NormalizeError, Result};
use crate::text::{CsvTable, Encoding, read_text};

/// (commodity as printed, column) → (statistic, unit).
const COLUMNS: &[(&str, &str, &str, &str)] = &[
    ("Rare Earths", "USprod_Concentrate_t", "production_concentrate", "t_reo"),
    ("Rare Earths", "USprod_Compounds-Metals_t", "production_compounds_metals", "t_reo"),
    ("Rare Earths", "Imports_Compounds_t", "imports_compounds", "t_reo"),
    ("Rare Earths", "Imports_Alloys_t", "imports_ferrocerium_alloys", "t_reo"),
    ("Rare Earths", "Imports_Metals_t", "imports_metals_alloys", "t_reo"),
    ("Rare Earths", "Exports_Ores-Compounds_t", "exports_ores_compounds", "t_reo"),
    ("Rare Earths", "Exports_Alloys_t", "exports_ferrocerium_alloys", "t_reo"),
    ("Rare Earths", "Exports_Metals_t", "exports_metals_alloys", "t_reo"),
    ("Rare Earths", "Consump_Compounds-Metals_t", "consumption_apparent_compounds_metals", "t_reo"),
    ("Rare Earths", "Price_CeO2_dkg", "price_cerium_oxide", "usd_per_kg"),
    ("Rare Earths", "Price_Dy2O3_dkg", "price_dysprosium_oxide", "usd_per_kg"),
    ("Rare Earths", "Price_Eu2O3_dkg", "price_europium_oxide", "usd_per_kg"),
    ("Rare Earths", "Price_La2O3_dkg", "price_lanthanum_oxide", "usd_per_kg"),
    ("Rare Earths", "Price_Mischmetal_dkg", "price_mischmetal", "usd_per_kg"),
    ("Rare Earths", "Price_Nd2O3_dkg", "price_neodymium_oxide", "usd_per_kg"),
    ("Rare Earths", "Price_TbO2_dkg", "price_terbium_oxide", "usd_per_kg"),
    ("Rare Earths", "Employment_num", "employment", "number"),
    ("Rare Earths", "Employment_m", "employment", "number"),
    ("Rare Earths", "NIR_Compounds-Metals_t", "nir_compounds_metals", "percent"),
    ("Rare Earths", "NIR_Compounds-Metals_pct", "nir_compounds_metals", "percent"),
    ("Rare Earths", "NIR_Concentrate_t", "nir_concentrate", "percent"),
    ("Rare Earths", "NIR_Concentrate_pct", "nir_concentrate", "percent"),
    ("Scandium", "Price_Cmpds_Acetate_dg", "price_scandium_acetate", "usd_per_g"),
    ("Scandium", "Price_Cmpds_Chloride_dg", "price_scandium_chloride", "usd_per_g"),
    ("Scandium", "Price_Cmpds_Fluoride_dg", "price_scandium_fluoride", "usd_per_g"),
    ("Scandium", "Price_Cmpds_Iodide_dg", "price_scandium_iodide", "usd_per_g"),
    ("Scandium", "Price_Cmpds_Oxide_dg", "price_scandium_oxide", "usd_per_g"),
    ("Scandium", "Price_Mtl_Dendritic_dg", "price_scandium_metal_dendritic", "usd_per_g"),
    ("Scandium", "Price_Mtl_Ingot_dg", "price_scandium_metal_ingot", "usd_per_g"),
    ("Scandium", "Price_ScAl_kglot_dkg", "price_scandium_aluminum_alloy_kg_lot", "usd_per_kg"),
    ("Scandium", "Price_ScAl_mtlot_dkg", "price_scandium_aluminum_alloy_tonne_lot", "usd_per_kg"),
    ("Scandium", "Price_ScAl_1000kglot_dkg", "price_scandium_aluminum_alloy_tonne_lot", "usd_per_kg"),
    ("Scandium", "NIR_pct", "nir", "percent"),
    ("Yttrium", "USprod_Mine_t", "production_mine", "t_y2o3"),
    ("Yttrium", "Imports_All_t", "imports", "t_y2o3"),
    ("Yttrium", "Exports_Compounds_t", "exports_compounds", "t_y2o3"),
    ("Yttrium", "Consump_t", "consumption", "t_y2o3"),
    ("Yttrium", "Price_Y2O3_dkg", "price_yttrium_oxide", "usd_per_kg"),
    ("Yttrium", "Price_Metal_dkg", "price_yttrium_metal", "usd_per_kg"),
    ("Yttrium", "NIR_pct", "nir", "percent"),
];

pub(crate) fn commodity_id(printed: &str) -> Option<&'static str> {
    match printed.trim().to_uppercase().as_str() {
        "RARE EARTHS" => Some("rare_earths"),
        "RARE EARTHS (HEAVY)" => Some("rare_earths_heavy"),
        "SCANDIUM" => Some("scandium"),
        "YTTRIUM" => Some("yttrium"),
        _ => None,
    }
}

pub fn read(file: &RawFile) -> Result<AdapterOutput> {
    let path = file.path.as_path();
    let table = CsvTable::parse(path, &read_text(path, Encoding::Utf8)?)?;
    let source_col = table.column(path, "DataSource")?;
    let commodity_col = table.column(path, "Commodity")?;
    let year_col = table.column(path, "Year")?;
    let mut output = AdapterOutput::default();
    for record in table.records.iter().filter(|r| !r.is_blank()) {
        let at = |column: &str| format!("line {}, column {column:?}", record.line);
        let edition = record.get(source_col).trim();
        if !super::mcs_world::is_mcs_edition(edition) {
            return Err(NormalizeError::layout(
                path,
                at("DataSource"),
                format!("expected an edition like MCS2023, found {edition:?}"),
            ));
        }
        let printed_commodity = record.get(commodity_col).trim();
        let commodity = commodity_id(printed_commodity).ok_or_else(|| {
            NormalizeError::layout(
                path,
                at("Commodity"),
                format!("expected Rare Earths, Scandium or Yttrium, found {printed_commodity:?}"),
            )
        })?;
        let year = parse_year(record.get(year_col)).ok_or_else(|| {
            NormalizeError::layout(path, at("Year"), format!("expected a year, found {:?}", record.get(year_col)))
        })?;
        for (index, column) in table.header.iter().enumerate() {
            if [source_col, commodity_col, year_col].contains(&index) {
                continue;
            }
            let (_, _, statistic, unit) = COLUMNS.iter().find(|(c, name, _, _)| c.eq_ignore_ascii_case(printed_commodity) && name == column).ok_or_else(|| {
                NormalizeError::layout(path, format!("header, column {}", index + 1), format!("unknown {printed_commodity} salient column {column:?}; known columns are listed in reeflow-normalize's mcs_salient adapter"))
            })?;
            let raw = record.get(index);
            let Some(parsed) =
                parse_number_token(raw).map_err(|e| NormalizeError::layout(path, at(column), e.to_string()))?
            else {
                return Err(NormalizeError::layout(
                    path,
                    at(column),
                    "empty cell; expected a number or a USGS token (NA, W, E, XX, >95)",
                ));
            };
            output.tables.salient.push(SalientRow {
                year,
                commodity: commodity.to_string(),
                statistic: statistic.to_string(),
                statistic_label: column.clone(),
                value: parsed.value,
                raw_value: raw_if_not_plain(raw),
                unit: unit.to_string(),
                flag: join_flags(parsed.flag),
                notes: None,
                provenance: provenance(file, "usgs_mcs", edition),
            });
        }
    }
    if output.tables.salient.is_empty() {
        return Err(NormalizeError::layout(path, "body", "no data rows; expected one row per year"));
    }
    Ok(output)
}
