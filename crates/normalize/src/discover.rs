//! Finds the files of a raw folder and routes each to the adapter for its layout.
//!
//! Routing is by file name, then the adapter checks the header or sheets strictly: a file that is
//! named like an MCS world table but has a renamed column is an error, not silently skipped.

use std::path::{Path, PathBuf};

use crate::error::{NormalizeError, Result};

/// The source layouts reeflow reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// USGS MCS rare-earth world production CSV (2022, 2023, 2024 layouts).
    McsWorld,
    /// USGS MCS salient-statistics CSV (rare earths, scandium, yttrium).
    McsSalient,
    /// USGS MCS combined long-format release (MCS 2026, Windows-1252).
    McsLong,
    /// USGS Minerals Yearbook rare-earth tables workbook.
    MybWorkbook,
    /// USGS Data Series 140 historical statistics workbook.
    Ds140Workbook,
    /// USITC DataWeb export workbook.
    UsitcWorkbook,
    /// UN Comtrade API JSON response.
    ComtradeJson,
    /// UN Comtrade API records exported to CSV.
    ComtradeCsv,
    /// Comtrade reporter or partner-area reference list.
    ComtradeReference,
    /// The compiled USGS 2000-2017 production figures.
    CompiledProduction,
    /// China's quota announcements, compiled with their URLs.
    ChinaQuotas,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::McsWorld => "usgs-mcs-world-csv",
            Format::McsSalient => "usgs-mcs-salient-csv",
            Format::McsLong => "usgs-mcs-long-csv",
            Format::MybWorkbook => "usgs-myb-xlsx",
            Format::Ds140Workbook => "usgs-ds140-xlsx",
            Format::UsitcWorkbook => "usitc-dataweb-xlsx",
            Format::ComtradeJson => "comtrade-json",
            Format::ComtradeCsv => "comtrade-csv",
            Format::ComtradeReference => "comtrade-reference-csv",
            Format::CompiledProduction => "compiled-production-csv",
            Format::ChinaQuotas => "compiled-china-quotas-csv",
        }
    }
}

/// One file of the raw folder, with its adapter or the reason it is not read.
#[derive(Debug, Clone)]
pub struct RawFile {
    pub path: PathBuf,
    /// Path relative to the raw folder, `/`-separated: the `source_file` of its rows.
    pub relative: String,
    pub format: Option<Format>,
    pub ignore_reason: Option<String>,
}

/// Lists every file under `raw` (sorted, so runs are deterministic) with its format.
pub fn discover(raw: &Path) -> Result<Vec<RawFile>> {
    if !raw.is_dir() {
        return Err(NormalizeError::RawFolder {
            folder: raw.to_path_buf(),
            problem: "is not a folder (pass --raw DIR, e.g. --raw tests/data, or run `reeflow fetch` first)".into(),
        });
    }
    let mut paths = Vec::new();
    walk(raw, &mut paths)?;
    paths.sort();
    Ok(paths
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(raw)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let (format, ignore_reason) = match classify(&path) {
                Ok(format) => (Some(format), None),
                Err(reason) => (None, Some(reason.to_string())),
            };
            RawFile { path, relative, format, ignore_reason }
        })
        .collect())
}

fn walk(folder: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(folder).map_err(|e| NormalizeError::read(folder, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| NormalizeError::read(folder, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".part") {
            continue; // hidden files and in-flight downloads are never data
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Routes a file by its name. The error is the reason a file is not read.
fn classify(path: &Path) -> std::result::Result<Format, &'static str> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let extension = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "csv" => classify_csv(&name),
        "xlsx" => classify_xlsx(&name),
        "json" => classify_json(&name),
        "xml" => Err("FGDC metadata (no statistics)"),
        "md" | "txt" => Err("documentation or revision notes (no statistics)"),
        _ => Err("not a CSV, XLSX or JSON statistics file"),
    }
}

fn classify_csv(name: &str) -> std::result::Result<Format, &'static str> {
    if name.starts_with("mcs") && name.contains("raree_world") {
        Ok(Format::McsWorld)
    } else if name.starts_with("mcs") && name.ends_with("_salient.csv") && !name.contains("critical_minerals") {
        Ok(Format::McsSalient)
    } else if name.contains("commodities_data") {
        Ok(Format::McsLong)
    } else if name == "reporters.csv" || name == "partnerareas.csv" {
        Ok(Format::ComtradeReference)
    } else if name.contains("comtrade") {
        Ok(Format::ComtradeCsv)
    } else if name == "production_by_country.csv" {
        Ok(Format::CompiledProduction)
    } else if name == "china_ree_quotas.csv" {
        Ok(Format::ChinaQuotas)
    } else if name == "country_area_code_iso.csv" {
        Err("Comtrade code-to-ISO3 list: the same codes as the ISO3 columns of Reporters.csv and partnerAreas.csv")
    } else if name == "tradedataitems.csv" {
        Err("Comtrade data-item definitions (no statistics)")
    } else if name.contains("end_use") {
        Err("MCS end-use table: text, not quantities")
    } else if name.contains("fig3_major_import_sources") {
        Err("MCS figure data: counts of commodities per country, not rare-earth specific")
    } else if name.contains("fig2_net_import_reliance") || name.contains("critical_minerals_salient") {
        Err("MCS all-commodity summary: its rare-earth figures repeat the rare-earth salient tables")
    } else {
        Err("CSV without a known statistics layout")
    }
}

fn classify_xlsx(name: &str) -> std::result::Result<Format, &'static str> {
    if name.contains("myb") {
        Ok(Format::MybWorkbook)
    } else if name.contains("ds140") {
        Ok(Format::Ds140Workbook)
    } else if name.contains("usitc")
        || name.starts_with("us_imports")
        || name.starts_with("us_domestic_exports")
        || name.starts_with("us_exports")
    {
        Ok(Format::UsitcWorkbook)
    } else {
        Err("workbook without a known statistics layout")
    }
}

fn classify_json(name: &str) -> std::result::Result<Format, &'static str> {
    match name {
        "manifest.json" => Err("download manifest (read for retrieval dates, holds no statistics)"),
        "publication_metadata.json" => Err("Comtrade publication metadata (no statistics)"),
        "collection_summary.json" => Err("collection log (read for retrieval dates, holds no statistics)"),
        "tables.json" | "flowcode.json" | "qtyunitcode.json" | "customscode.json" | "motcode.json" => {
            Err("Comtrade code list (no statistics)")
        }
        _ => Ok(Format::ComtradeJson),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_real_file_names() {
        let cases = [
            ("mcs2024-raree_world.csv", Some(Format::McsWorld)),
            ("mcs2023-yttri_salient.csv", Some(Format::McsSalient)),
            ("MCS2024_T5_Critical_Minerals_Salient.csv", None),
            ("usgs_mcs2026_commodities_data.csv", Some(Format::McsLong)),
            ("usgs_myb2022_rare_earths_tables.xlsx", Some(Format::MybWorkbook)),
            ("us_domestic_exports_1993-2026.xlsx", Some(Format::UsitcWorkbook)),
            ("2022.json", Some(Format::ComtradeJson)),
            ("manifest.json", None),
            ("comtrade_hs2846_280530_usa_chn_2020_2024.csv", Some(Format::ComtradeCsv)),
            ("partnerAreas.csv", Some(Format::ComtradeReference)),
            ("LICENSE.txt", None),
        ];
        for (name, expected) in cases {
            assert_eq!(classify(Path::new(name)).ok(), expected, "{name}");
        }
    }
}
