//! One adapter per source layout. Each reads one file into canonical rows and reports what it
//! deliberately left out.

pub mod compiled;
pub mod comtrade;
pub mod comtrade_ref;
pub mod ds140;
pub mod mcs_long;
pub mod mcs_salient;
pub mod mcs_world;
pub mod myb;
pub mod quotas;
pub mod usitc;

use reeflow_model::Provenance;

use crate::discover::{Format, RawFile};
use crate::error::Result;
use crate::{NormalizeOptions, Tables};

/// What an adapter read from one file.
#[derive(Debug, Default)]
pub struct AdapterOutput {
    pub tables: Tables,
    /// (reason, count) for content left out on purpose.
    pub skipped: Vec<(String, usize)>,
}

impl AdapterOutput {
    /// Counts one skipped row or cell under `reason`.
    pub fn skip(&mut self, reason: &str) {
        match self.skipped.iter_mut().find(|(r, _)| r == reason) {
            Some((_, count)) => *count += 1,
            None => self.skipped.push((reason.to_string(), 1)),
        }
    }
}

/// Reads one file with the adapter for its format.
/// Reads one file with the adapter of its format; `bytes` are the file's contents (read once to
/// hash them; the Comtrade JSON adapter parses them in place, the others read their file).
pub fn read(format: Format, file: &RawFile, bytes: &[u8], options: &NormalizeOptions) -> Result<AdapterOutput> {
    match format {
        Format::McsWorld => mcs_world::read(file),
        Format::McsSalient => mcs_salient::read(file),
        Format::McsLong => mcs_long::read(file),
        Format::MybWorkbook => myb::read(file),
        Format::Ds140Workbook => ds140::read(file),
        Format::UsitcWorkbook => usitc::read(file, options),
        Format::ComtradeJson => comtrade::read_json_bytes(file, bytes, options),
        Format::ComtradeCsv => comtrade::read_csv(file, options),
        Format::ComtradeReference => comtrade_ref::read(file),
        Format::CompiledProduction => compiled::read(file),
        Format::ChinaQuotas => quotas::read(file),
    }
}

pub(crate) fn provenance(file: &RawFile, source: &str, edition: &str) -> Provenance {
    Provenance { source: source.to_string(), source_file: file.relative.clone(), edition: edition.to_string() }
}

/// Joins the flags that apply to one figure (`e`, `r`, `W`, …) in a stable order, or None.
pub(crate) fn join_flags<'a>(flags: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut unique: Vec<&str> = Vec::new();
    for flag in flags {
        if !flag.is_empty() && !unique.contains(&flag) {
            unique.push(flag);
        }
    }
    (!unique.is_empty()).then(|| unique.join(","))
}

/// The raw text of a cell worth keeping: anything that is not a plain integer or decimal.
pub(crate) fn raw_if_not_plain(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let plain = !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.');
    (!plain && !trimmed.is_empty()).then(|| trimmed.to_string())
}

/// A lower-case identifier from a label: `Cerium oxide` → `cerium_oxide`.
pub(crate) fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// Parses a four-digit year from text such as `2022` or `2022.0`.
pub(crate) fn parse_year(text: &str) -> Option<i32> {
    let trimmed = text.trim();
    let number = trimmed.strip_suffix(".0").unwrap_or(trimmed);
    number.parse::<i32>().ok().filter(|y| (1800..=2200).contains(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(join_flags(["e", "", "e", "NA"]), Some("e,NA".into()));
        assert_eq!(join_flags([]), None);
        assert_eq!(raw_if_not_plain("45,500"), Some("45,500".into()));
        assert_eq!(raw_if_not_plain("300000"), None);
        assert_eq!(slug("Neodymium-praseodymium (NdPr) oxide"), "neodymium_praseodymium_ndpr_oxide");
        assert_eq!(parse_year("2022.0"), Some(2022));
        assert_eq!(parse_year("2021–24"), None);
    }
}
