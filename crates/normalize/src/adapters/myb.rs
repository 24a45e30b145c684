//! USGS Minerals Yearbook rare-earth tables (`myb1-YYYY-raree` advance release workbook).
//!
//! Sheet T8 (world mine production by country, five years) goes to `production`; sheet T1 (US
//! salient statistics) to `salient`. Quirks: footnote markers are glued to labels (`Australiae`,
//! `Indiae, 4`, `China3`) and sit in the cell right of each value (`e`, `r`, footnote numbers);
//! `--` means zero; footnote texts follow the table (`3Official production quota. …`) and are
//! attached to the figures that cite them. Prices (T3) and the by-country HTS trade tables (T4-T7)
//! are not read yet and are reported as skipped.

use std::collections::BTreeMap;

use reeflow_model::{CountryLookup, ProductionRow, SalientRow, Stage, parse_number_token};

use super::{AdapterOutput, join_flags, provenance};
use crate::discover::RawFile;
use crate::error::{NormalizeError, Result};
use crate::xlsx::{Cell, Sheet, Workbook};

/// T1 rows: (section, label prefix) → (statistic, unit). Section "" is the top level, outside the
/// Exports, Imports and Prices headings.
const SALIENT_ROWS: &[(&str, &str, &str, &str)] = &[
    ("", "Production of rare-earth concentrates", "production_concentrate", "t_reo"),
    ("Exports", "Rare-earth concentrates, monazite", "exports_monazite_concentrate", "t_reo"),
    ("Exports", "Cerium compounds", "exports_cerium_compounds", "t_reo"),
    ("Exports", "Other rare-earth compounds", "exports_other_compounds", "t_reo"),
    ("Exports", "Ferrocerium and pyrophoric alloys", "exports_ferrocerium_alloys", "t_reo"),
    ("Exports", "Rare-earth metals and alloys", "exports_metals_alloys", "t_reo"),
    ("Imports", "Cerium compounds", "imports_cerium_compounds", "t_reo"),
    ("Imports", "Other rare-earth compounds", "imports_other_compounds", "t_reo"),
    ("Imports", "Ferrocerium and pyrophoric alloys", "imports_ferrocerium_alloys", "t_reo"),
    ("Imports", "Rare-earth metals and alloys", "imports_metals_alloys", "t_reo"),
    ("", "World production", "world_production", "t_reo"),
    ("Prices", "Monazite concentrate, gross basis", "price_monazite_concentrate", "usd_per_kg"),
    ("Prices", "Mischmetal", "price_mischmetal", "usd_per_kg"),
];

/// Rows that stand outside any section heading, though they follow one.
const TOP_LEVEL_ROWS: [&str; 2] = ["Production of", "World production"];

pub fn read(file: &RawFile) -> Result<AdapterOutput> {
    let mut workbook = Workbook::open(&file.path)?;
    let edition = edition(&mut workbook, file)?;
    let mut output = AdapterOutput::default();
    read_world_production(file, &workbook.sheet("T8")?, &edition, &mut output)?;
    read_salient(file, &workbook.sheet("T1")?, &edition, &mut output)?;
    for name in workbook.sheet_names() {
        if !["Note", "T1", "T8"].contains(&name.as_str()) {
            output.skip(
                "Minerals Yearbook sheets not read yet (T2 ore compositions, T3 prices, T4-T7 trade by HTS code)",
            );
        }
    }
    Ok(output)
}

/// `MYB2022` from the Note sheet ("2022 Annual Tables"), else from the file name.
fn edition(workbook: &mut Workbook, file: &RawFile) -> Result<String> {
    if workbook.sheet_names().iter().any(|n| n == "Note") {
        let note = workbook.sheet("Note")?;
        for row in 0..note.height() {
            let text = note.text(row, 0);
            if let Some(year) = text.strip_suffix("Annual Tables").map(str::trim)
                && year.len() == 4
                && year.chars().all(|c| c.is_ascii_digit())
            {
                return Ok(format!("MYB{year}"));
            }
        }
    }
    let name = file.relative.to_lowercase();
    let start = name.find("myb").ok_or_else(|| {
        NormalizeError::layout(
            &file.path,
            "sheet \"Note\"",
            "no \"YYYY Annual Tables\" line and no year in the file name",
        )
    })?;
    let year: String = name[start..].chars().filter(char::is_ascii_digit).skip_while(|c| *c == '1').take(4).collect();
    if year.len() == 4 {
        Ok(format!("MYB{year}"))
    } else {
        Err(NormalizeError::layout(&file.path, "file name", "expected a year after \"myb\""))
    }
}

/// Finds the header row whose first cell starts with `label` and returns (row, [(col, year)]).
fn year_header(sheet: &Sheet, label_start: Option<&str>, file: &RawFile) -> Result<(usize, Vec<(usize, i32)>)> {
    for row in 0..sheet.height() {
        if let Some(label) = label_start
            && !sheet.text(row, 0).starts_with(label)
        {
            continue;
        }
        let years: Vec<(usize, i32)> = (1..sheet.width())
            .filter_map(|col| {
                let text = sheet.text(row, col);
                text.parse::<i32>().ok().filter(|y| (1900..=2200).contains(y)).map(|y| (col, y))
            })
            .collect();
        if years.len() >= 2 {
            return Ok((row, years));
        }
    }
    Err(NormalizeError::layout(
        &file.path,
        format!("sheet {:?}", sheet.name),
        format!(
            "no header row with year columns{}",
            label_start.map(|l| format!(" starting with {l:?}")).unwrap_or_default()
        ),
    ))
}

/// Footnote texts under a table: `3Official production quota…` → {"3": "Official production quota…"}.
fn footnotes(sheet: &Sheet, from_row: usize) -> BTreeMap<String, String> {
    let mut notes = BTreeMap::new();
    for row in from_row..sheet.height() {
        let text = sheet.text(row, 0);
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() && text.len() > digits.len() {
            notes.insert(digits.clone(), text[digits.len()..].trim().to_string());
        }
    }
    notes
}

/// A value cell and its marker cell: value, flags (`e`, `r`, token flags) and cited footnotes.
struct MarkedValue {
    value: Option<f64>,
    raw: Option<String>,
    flags: Vec<String>,
    footnotes: Vec<String>,
}

fn marked_value(sheet: &Sheet, row: usize, col: usize, file: &RawFile) -> Result<Option<MarkedValue>> {
    let (value, raw, mut flags) = match sheet.cell(row, col) {
        Cell::Empty => return Ok(None),
        Cell::Number(n) => (Some(n), None, Vec::new()),
        Cell::Text(text) => {
            let parsed = parse_number_token(text)
                .map_err(|e| NormalizeError::layout(&file.path, sheet.address(row, col), e.to_string()))?;
            let parsed = parsed.expect("non-empty text");
            (parsed.value, Some(text.trim().to_string()), parsed.flag.map(|f| vec![f.to_string()]).unwrap_or_default())
        }
    };
    let mut footnotes = Vec::new();
    for marker in sheet.text(row, col + 1).split([',', ' ']).filter(|m| !m.is_empty()) {
        if marker.chars().all(|c| c.is_ascii_digit()) {
            footnotes.push(marker.to_string());
        } else if ["e", "r", "p"].contains(&marker) {
            flags.push(marker.to_string());
        } else {
            return Err(NormalizeError::layout(
                &file.path,
                sheet.address(row, col + 1),
                format!("unknown footnote marker {marker:?}; expected e, r, p or a footnote number"),
            ));
        }
    }
    Ok(Some(MarkedValue { value, raw, flags, footnotes }))
}

fn cite(footnotes: &BTreeMap<String, String>, cited: &[String]) -> Option<String> {
    let texts: Vec<String> = cited.iter().filter_map(|n| footnotes.get(n).map(|t| format!("[{n}] {t}"))).collect();
    (!texts.is_empty()).then(|| texts.join(" "))
}

fn read_world_production(file: &RawFile, sheet: &Sheet, edition: &str, output: &mut AdapterOutput) -> Result<()> {
    let (header_row, years) = year_header(sheet, Some("Country or locality"), file)?;
    let mut row = header_row + 1;
    while row < sheet.height() && years.iter().any(|(col, _)| sheet.cell(row, *col) != Cell::Empty) {
        row += 1;
    }
    let notes = footnotes(sheet, row);
    for data_row in header_row + 1..row {
        let label = sheet.text(data_row, 0);
        let (country, label_markers) = CountryLookup::split_footnotes(&label)
            .map_err(|e| NormalizeError::layout(&file.path, sheet.address(data_row, 0), e.to_string()))?;
        let label_estimated = label_markers.split([',', ' ']).any(|m| m == "e");
        let label_notes: Vec<String> = label_markers
            .split([',', ' '])
            .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit()))
            .map(str::to_string)
            .collect();
        for (col, year) in &years {
            let Some(mut value) = marked_value(sheet, data_row, *col, file)? else {
                return Err(NormalizeError::layout(
                    &file.path,
                    sheet.address(data_row, *col),
                    "empty production cell; expected a number or --",
                ));
            };
            if label_estimated {
                value.flags.insert(0, "e".into());
            }
            value.footnotes.extend(label_notes.iter().cloned());
            output.tables.production.push(ProductionRow {
                year: *year,
                country_iso3: country.iso3.to_string(),
                country: country.names[0].to_string(),
                stage: Stage::Mining.as_str().to_string(),
                t_reo: value.value,
                flag: join_flags(value.flags.iter().map(String::as_str)),
                raw_value: value.raw,
                notes: cite(&notes, &value.footnotes),
                provenance: provenance(file, "usgs_myb", edition),
            });
        }
    }
    if output.tables.production.is_empty() {
        return Err(NormalizeError::layout(
            &file.path,
            format!("sheet {:?}", sheet.name),
            "no country rows under the header",
        ));
    }
    Ok(())
}

fn read_salient(file: &RawFile, sheet: &Sheet, edition: &str, output: &mut AdapterOutput) -> Result<()> {
    let (header_row, years) = year_header(sheet, None, file)?;
    let notes = footnotes(sheet, header_row + 1);
    let mut section = String::new();
    let mut section_estimated = false;
    for row in header_row + 1..sheet.height() {
        let label = sheet.text(row, 0);
        let has_values = years.iter().any(|(col, _)| sheet.cell(row, *col) != Cell::Empty);
        if !has_values {
            if let Some(heading) = ["Exports", "Imports", "Prices"].iter().find(|h| label.starts_with(**h)) {
                section = (*heading).to_string();
                section_estimated = label.trim_end().ends_with(":e");
            }
            continue;
        }
        if TOP_LEVEL_ROWS.iter().any(|prefix| label.starts_with(prefix)) {
            section.clear();
            section_estimated = false;
        }
        let Some((_, label_prefix, statistic, unit)) =
            SALIENT_ROWS.iter().find(|(s, l, _, _)| *s == section && label.starts_with(l))
        else {
            return Err(NormalizeError::layout(
                &file.path,
                sheet.address(row, 0),
                format!("unknown salient row {label:?} in section {section:?}"),
            ));
        };
        let tail = &label[label_prefix.len()..];
        let label_estimated = tail.starts_with('e') || tail.contains(", e");
        for (col, year) in &years {
            let Some(mut value) = marked_value(sheet, row, *col, file)? else {
                output.skip("blank cells in the salient table");
                continue;
            };
            if section_estimated || label_estimated {
                value.flags.insert(0, "e".into());
            }
            output.tables.salient.push(SalientRow {
                year: *year,
                commodity: "rare_earths".into(),
                statistic: (*statistic).to_string(),
                statistic_label: format!(
                    "{}{}",
                    if section.is_empty() { String::new() } else { format!("{section}: ") },
                    label
                ),
                value: value.value,
                raw_value: value.raw,
                unit: (*unit).to_string(),
                flag: join_flags(value.flags.iter().map(String::as_str)),
                notes: cite(&notes, &value.footnotes),
                provenance: provenance(file, "usgs_myb", edition),
            });
        }
    }
    Ok(())
}
