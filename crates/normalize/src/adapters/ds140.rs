//! USGS Data Series 140, rare-earth historical statistics (`ds140-rare-earths` workbook).
//!
//! One sheet, 1900-2020, columns `Year, Production, Imports, Exports, Apparent consumption,
//! Unit value ($/t), Unit value (98$/t), World production`, all in t REO. US production and world
//! production go to `production` (edition `DS140`, stage `mining`); the other US series to
//! `salient`. Cells hold numbers, `NA`, `W`, and six formulas whose cached values are read.

use reeflow_model::{ProductionRow, SalientRow, Stage, country::WORLD, parse_number_token};

use super::{AdapterOutput, join_flags, provenance, raw_if_not_plain};
use crate::discover::RawFile;
use crate::error::{NormalizeError, Result};
use crate::xlsx::{Cell, Sheet, Workbook};

const EDITION: &str = "DS140";

/// Expected header → what the column becomes.
enum Target {
    Year,
    Production(&'static str, &'static str),
    Salient(&'static str, &'static str),
}

const COLUMNS: [(&str, Target); 8] = [
    ("Year", Target::Year),
    ("Production", Target::Production("USA", "United States")),
    ("Imports", Target::Salient("imports", "t_reo")),
    ("Exports", Target::Salient("exports", "t_reo")),
    ("Apparent consumption", Target::Salient("consumption_apparent", "t_reo")),
    ("Unit value ($/t)", Target::Salient("unit_value", "usd_per_t")),
    ("Unit value (98$/t)", Target::Salient("unit_value_1998_dollars", "usd1998_per_t")),
    ("World production", Target::Production(WORLD, "World")),
];

pub fn read(file: &RawFile) -> Result<AdapterOutput> {
    let mut workbook = Workbook::open(&file.path)?;
    let sheet_name = workbook
        .sheet_names()
        .into_iter()
        .next()
        .ok_or_else(|| NormalizeError::layout(&file.path, "workbook", "no sheets"))?;
    let sheet = workbook.sheet(&sheet_name)?;
    let header_row = (0..sheet.height()).find(|r| sheet.text(*r, 0) == "Year").ok_or_else(|| {
        NormalizeError::layout(
            &file.path,
            format!("sheet {sheet_name:?}, column A"),
            "no header row starting with \"Year\"",
        )
    })?;
    for (col, (name, _)) in COLUMNS.iter().enumerate() {
        let found = sheet.text(header_row, col);
        if found != *name {
            return Err(NormalizeError::layout(
                &file.path,
                sheet.address(header_row, col),
                format!("expected column {name:?}, found {found:?}"),
            ));
        }
    }
    let mut output = AdapterOutput::default();
    let mut row = header_row + 1;
    while let Cell::Number(year) = sheet.cell(row, 0) {
        let year = year as i32;
        for (col, (name, target)) in COLUMNS.iter().enumerate().skip(1) {
            read_cell(file, &sheet, row, col, year, name, target, &mut output)?;
        }
        row += 1;
    }
    if output.tables.production.is_empty() {
        return Err(NormalizeError::layout(
            &file.path,
            sheet.address(header_row + 1, 0),
            "no year rows under the header",
        ));
    }
    Ok(output)
}

#[allow(clippy::too_many_arguments)]
fn read_cell(
    file: &RawFile,
    sheet: &Sheet,
    row: usize,
    col: usize,
    year: i32,
    label: &str,
    target: &Target,
    output: &mut AdapterOutput,
) -> Result<()> {
    let (value, flag, raw) = match sheet.cell(row, col) {
        Cell::Number(n) => (Some(n), None, None),
        Cell::Empty => {
            return Err(NormalizeError::layout(
                &file.path,
                sheet.address(row, col),
                "empty cell; expected a number, NA or W",
            ));
        }
        Cell::Text(text) => {
            let parsed = parse_number_token(text)
                .map_err(|e| NormalizeError::layout(&file.path, sheet.address(row, col), e.to_string()))?
                .expect("non-empty text");
            (parsed.value, parsed.flag, raw_if_not_plain(text))
        }
    };
    match target {
        Target::Year => {}
        Target::Production(iso3, country) => output.tables.production.push(ProductionRow {
            year,
            country_iso3: (*iso3).to_string(),
            country: (*country).to_string(),
            stage: Stage::Mining.as_str().to_string(),
            t_reo: value,
            flag: join_flags(flag),
            raw_value: raw,
            notes: None,
            provenance: provenance(file, "usgs_ds140", EDITION),
        }),
        Target::Salient(statistic, unit) => output.tables.salient.push(SalientRow {
            year,
            commodity: "rare_earths".into(),
            statistic: (*statistic).to_string(),
            statistic_label: label.to_string(),
            value,
            raw_value: raw,
            unit: (*unit).to_string(),
            flag: join_flags(flag),
            notes: None,
            provenance: provenance(file, "usgs_ds140", EDITION),
        }),
    }
    Ok(())
}
