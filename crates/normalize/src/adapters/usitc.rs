//! USITC DataWeb export workbooks (US imports for consumption, US domestic exports, by HTS4 and
//! country, years as columns).
//!
//! Sheets: `Query Parameters` (trade flow, download date), a value sheet (`Customs Value` for
//! imports, `FAS Value` for exports), `First Unit of Quantity` (with `YYYY_Suppressed` columns),
//! and the same again for year-to-date and the second unit. Each value row `Value for: <unit>`
//! pairs with the quantity row of that unit. A `Data Row Count` above each table is checked
//! against the rows found, so a truncated sheet is an error. The download year is partial
//! (year to date) and is skipped; so are HS headings outside the rare-earth scope and the
//! year-to-date and second-unit sheets. Zeros are DataWeb's own: no trade was recorded, except
//! where the year's `YYYY_Suppressed` column counts records whose quantity US customs withheld:
//! there the printed quantity (often 0) is not the quantity, so it becomes null with the flag
//! `suppressed`.

use std::collections::HashMap;

use reeflow_model::{CountryLookup, TradeRow};

use super::{AdapterOutput, parse_year, provenance};
use crate::NormalizeOptions;
use crate::discover::RawFile;
use crate::error::{NormalizeError, Result};
use crate::xlsx::{Cell, Sheet, Workbook, excel_serial_to_date};

const HEADER: [&str; 5] = ["Data Type", "Country", "HTS Number", "Description", "Quantity Description"];
const HEADER_ROW: usize = 2;
const NO_UNITS: &str = "no units collected";

struct Flow {
    code: &'static str,
    value_sheet: &'static str,
    value_basis: &'static str,
}

pub fn read(file: &RawFile, options: &NormalizeOptions) -> Result<AdapterOutput> {
    let mut workbook = Workbook::open(&file.path)?;
    let parameters = workbook.sheet("Query Parameters")?;
    let flow_name = parameter(&parameters, "Trade Flow", file)?;
    let flow = match flow_name.as_str() {
        "Imports For Consumption" => Flow { code: "M", value_sheet: "Customs Value", value_basis: "CUSTOMS" },
        "Domestic Exports" => Flow { code: "DX", value_sheet: "FAS Value", value_basis: "FAS" },
        "Total Exports" => Flow { code: "X", value_sheet: "FAS Value", value_basis: "FAS" },
        other => {
            return Err(NormalizeError::layout(
                &file.path,
                "sheet \"Query Parameters\", row \"Trade Flow\"",
                format!(
                    "unknown trade flow {other:?}; expected Imports For Consumption, Domestic Exports or Total Exports"
                ),
            ));
        }
    };
    let download_year = download_date(&parameters, file)?;
    let edition = format!("usitc:{:04}-{:02}-{:02}", download_year.0, download_year.1, download_year.2);

    let values = DataTable::read(&workbook.sheet(flow.value_sheet)?, file)?;
    let quantities = DataTable::read(&workbook.sheet("First Unit of Quantity")?, file)?;
    let quantity_by_key: HashMap<(&str, &str, &str), &DataRow> =
        quantities.rows.iter().map(|r| ((r.country.as_str(), r.hts.as_str(), r.unit.as_str()), r)).collect();

    let mut output = AdapterOutput::default();
    for _ in workbook.sheet_names().iter().filter(|n| n.ends_with("YTD") || n.starts_with("Second Unit")) {
        output.skip("year-to-date and second-unit-of-quantity sheets");
    }
    for row in &values.rows {
        if !options.keeps_hs_code(&row.hts) {
            output.skip(&options.out_of_scope_reason());
            continue;
        }
        let unit = row.unit.strip_prefix("Value for: ").ok_or_else(|| {
            NormalizeError::layout(
                &file.path,
                values.sheet_address(row.row, 4),
                format!("expected \"Value for: <unit>\", found {:?}", row.unit),
            )
        })?;
        let quantity = quantity_by_key.get(&(row.country.as_str(), row.hts.as_str(), unit)).copied();
        let partner = CountryLookup::by_name(&row.country)
            .map_err(|e| NormalizeError::layout(&file.path, values.sheet_address(row.row, 1), e.to_string()))?;
        for (index, year) in values.years.iter().enumerate() {
            if *year >= download_year.0 {
                output.skip("the download year (year to date, not a full year)");
                continue;
            }
            // "no units collected" rows carry 0 in the quantity sheet: unknown, not zero; so does a
            // year in which customs suppressed the quantity of some records.
            let suppressed = quantity.is_some_and(|q| q.suppressed_in(&quantities.years, *year));
            let qty = quantity
                .filter(|_| unit != NO_UNITS && !suppressed)
                .and_then(|q| q.value_for_year(&quantities.years, *year));
            let net_weight_kg = match unit {
                "kilograms" => qty,
                "metric tons" => qty.map(|t| t * 1000.0),
                _ => None,
            };
            output.tables.trade.push(TradeRow {
                year: *year,
                reporter_code: 842,
                reporter_iso3: Some("USA".into()),
                partner_code: partner.comtrade_code,
                partner_iso3: Some(partner.iso3.to_string()),
                partner_name: Some(row.country.clone()),
                flow: flow.code.to_string(),
                hs_code: row.hts.clone(),
                hs_edition: Some("HTS".into()),
                net_weight_kg,
                qty,
                qty_unit: Some(unit.to_string()).filter(|u| u != NO_UNITS),
                value_usd: row.values[index],
                value_basis: Some(flow.value_basis.to_string()),
                is_estimated: false,
                is_aggregate: false,
                flag: suppressed.then(|| "suppressed".to_string()),
                provenance: provenance(file, "usitc_dataweb", &edition),
            });
        }
    }
    Ok(output)
}

fn parameter(sheet: &Sheet, key: &str, file: &RawFile) -> Result<String> {
    (0..sheet.height())
        .find(|r| sheet.text(*r, 0) == key)
        .map(|r| sheet.text(r, 1))
        .ok_or_else(|| NormalizeError::layout(&file.path, format!("sheet {:?}", sheet.name), format!("no {key:?} row")))
}

fn download_date(sheet: &Sheet, file: &RawFile) -> Result<(i32, u32, u32)> {
    let row = (0..sheet.height()).find(|r| sheet.text(*r, 0) == "Download Date").ok_or_else(|| {
        NormalizeError::layout(&file.path, format!("sheet {:?}", sheet.name), "no \"Download Date\" row")
    })?;
    match sheet.cell(row, 1) {
        Cell::Number(serial) => Ok(excel_serial_to_date(serial)),
        other => {
            Err(NormalizeError::layout(&file.path, sheet.address(row, 1), format!("expected a date, found {other:?}")))
        }
    }
}

/// One data row of a DataWeb sheet.
struct DataRow {
    row: usize,
    country: String,
    hts: String,
    unit: String,
    values: Vec<Option<f64>>,
    /// Per year: records whose figure customs suppressed (`YYYY_Suppressed` > 0).
    suppressed: Vec<bool>,
}

impl DataRow {
    fn value_for_year(&self, years: &[i32], year: i32) -> Option<f64> {
        years.iter().position(|y| *y == year).and_then(|i| self.values[i])
    }

    fn suppressed_in(&self, years: &[i32], year: i32) -> bool {
        years.iter().position(|y| *y == year).is_some_and(|i| self.suppressed[i])
    }
}

/// A DataWeb sheet: the year columns and the data rows, checked against `Data Row Count`.
struct DataTable {
    name: String,
    years: Vec<i32>,
    rows: Vec<DataRow>,
}

impl DataTable {
    fn read(sheet: &Sheet, file: &RawFile) -> Result<Self> {
        for (col, expected) in HEADER.iter().enumerate() {
            let found = sheet.text(HEADER_ROW, col);
            if found != *expected {
                return Err(NormalizeError::layout(
                    &file.path,
                    sheet.address(HEADER_ROW, col),
                    format!("expected column {expected:?}, found {found:?}"),
                ));
            }
        }
        // Year columns come first, then (on quantity sheets) one `YYYY_Suppressed` column per year.
        let mut years = Vec::new();
        for col in HEADER.len()..sheet.width() {
            match parse_year(&sheet.text(HEADER_ROW, col)) {
                Some(year) => years.push(year),
                None => break,
            }
        }
        let suppressed_columns: Vec<Option<usize>> = years
            .iter()
            .map(|year| {
                let name = format!("{year}_Suppressed");
                (HEADER.len() + years.len()..sheet.width()).find(|col| sheet.text(HEADER_ROW, *col) == name)
            })
            .collect();
        if years.is_empty() {
            return Err(NormalizeError::layout(
                &file.path,
                sheet.address(HEADER_ROW, HEADER.len()),
                "no year columns after \"Quantity Description\"",
            ));
        }
        let data_type = sheet.text(HEADER_ROW + 1, 0);
        let mut rows = Vec::new();
        for row in HEADER_ROW + 1..sheet.height() {
            let kind = sheet.text(row, 0);
            if kind.starts_with("Total") || kind.is_empty() {
                continue;
            }
            if kind != data_type {
                return Err(NormalizeError::layout(
                    &file.path,
                    sheet.address(row, 0),
                    format!("expected data type {data_type:?}, found {kind:?}"),
                ));
            }
            let mut values = Vec::with_capacity(years.len());
            for index in 0..years.len() {
                let col = HEADER.len() + index;
                values.push(match sheet.cell(row, col) {
                    Cell::Number(n) => Some(n),
                    Cell::Empty => None,
                    Cell::Text(text) => {
                        return Err(NormalizeError::layout(
                            &file.path,
                            sheet.address(row, col),
                            format!("expected a number, found {text:?}"),
                        ));
                    }
                });
            }
            let mut suppressed = Vec::with_capacity(years.len());
            for column in &suppressed_columns {
                suppressed.push(match column.map(|col| (col, sheet.cell(row, col))) {
                    None | Some((_, Cell::Empty)) => false,
                    Some((_, Cell::Number(records))) => records > 0.0,
                    Some((col, Cell::Text(text))) => {
                        return Err(NormalizeError::layout(
                            &file.path,
                            sheet.address(row, col),
                            format!("expected a count of suppressed records, found {text:?}"),
                        ));
                    }
                });
            }
            rows.push(DataRow {
                row,
                country: sheet.text(row, 1),
                hts: sheet.text(row, 2),
                unit: sheet.text(row, 4),
                values,
                suppressed,
            });
        }
        let declared = (0..HEADER_ROW).find(|r| sheet.text(*r, 0) == "Data Row Count").map(|r| sheet.cell(r, 1));
        if let Some(Cell::Number(count)) = declared
            && count as usize != rows.len()
        {
            return Err(NormalizeError::layout(
                &file.path,
                format!("sheet {:?}", sheet.name),
                format!(
                    "\"Data Row Count\" says {count} rows but {} were found: the sheet is truncated or edited",
                    rows.len()
                ),
            ));
        }
        Ok(Self { name: sheet.name.clone(), years, rows })
    }

    fn sheet_address(&self, row: usize, col: usize) -> String {
        crate::xlsx::cell_address(&self.name, row, col)
    }
}
