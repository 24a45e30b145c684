//! UN Comtrade annual trade records: verbatim API JSON responses and CSV exports of the same
//! 47 fields.
//!
//! The JSON envelope is `{elapsedTime, count, data, error}`; a non-empty `error`, a `count` that
//! differs from the records present, or a record missing a field is an error. Records with a
//! second partner, customs regime or transport mode other than the totals (`partner2Code` 0,
//! `customsCode` C00, `motCode` 0) are breakdowns of a total and are skipped, so nothing is
//! counted twice. World (`0`) and area partners (`_X` areas n.e.s., `X1`/`X2` free zones…) are
//! kept with `is_aggregate = true`. A quantity with unit code -1 ("N/A") is unknown, not zero, and
//! so is a net weight of 0 kg reported for a flow with a positive value. The edition is
//! `comtrade:<retrieval date>`, read from a `manifest.json` or `collection_summary.json` beside
//! the file.

use std::path::Path;

use reeflow_model::TradeRow;
use serde_json::Value;

use super::{AdapterOutput, provenance};
use crate::NormalizeOptions;
use crate::discover::RawFile;
use crate::error::{NormalizeError, Result};
use crate::text::{CsvTable, Encoding, read_text};

/// The Comtrade fields one trade row is made of.
#[derive(Debug, Default)]
struct ComtradeRecord {
    year: Option<i32>,
    reporter_code: Option<i32>,
    reporter_iso: Option<String>,
    flow_code: Option<String>,
    partner_code: Option<i32>,
    partner_iso: Option<String>,
    partner_desc: Option<String>,
    partner2_code: Option<i32>,
    customs_code: Option<String>,
    mot_code: Option<i32>,
    classification_code: Option<String>,
    cmd_code: Option<String>,
    qty_unit_code: Option<i32>,
    qty_unit_abbr: Option<String>,
    qty: Option<f64>,
    is_qty_estimated: Option<bool>,
    net_wgt: Option<f64>,
    is_net_wgt_estimated: Option<bool>,
    primary_value: Option<f64>,
}

/// Fields every record must carry (they may be null where Comtrade allows).
const REQUIRED_FIELDS: [&str; 14] = [
    "refYear",
    "reporterCode",
    "flowCode",
    "partnerCode",
    "partner2Code",
    "customsCode",
    "motCode",
    "classificationCode",
    "cmdCode",
    "qtyUnitCode",
    "qty",
    "netWgt",
    "primaryValue",
    "isAggregate",
];

pub fn read_json(file: &RawFile, options: &NormalizeOptions) -> Result<AdapterOutput> {
    let path = file.path.as_path();
    let text = read_text(path, Encoding::Utf8)?;
    let envelope: Value = serde_json::from_str(&text).map_err(|e| {
        NormalizeError::layout(
            path,
            format!("line {}, column {}", e.line(), e.column()),
            format!("not valid JSON ({e}); expected a Comtrade API response"),
        )
    })?;
    let object = envelope.as_object().ok_or_else(|| {
        NormalizeError::layout(path, "top level", "expected a JSON object with elapsedTime, count, data, error")
    })?;
    for key in ["count", "data", "error"] {
        if !object.contains_key(key) {
            return Err(NormalizeError::layout(
                path,
                "top level",
                format!("missing key {key:?}; expected a Comtrade API response {{elapsedTime, count, data, error}}"),
            ));
        }
    }
    if let Some(error) = object.get("error").filter(|e| !e.is_null() && e.as_str() != Some("")) {
        return Err(NormalizeError::layout(path, "key \"error\"", format!("the API reported an error: {error}")));
    }
    let data = object["data"]
        .as_array()
        .ok_or_else(|| NormalizeError::layout(path, "key \"data\"", "expected an array of records"))?;
    let count = object["count"].as_u64();
    if count != Some(data.len() as u64) {
        return Err(NormalizeError::layout(
            path,
            "key \"count\"",
            format!("count is {count:?} but {} records are present", data.len()),
        ));
    }
    let edition = comtrade_edition(path);
    let mut output = AdapterOutput::default();
    for (index, record) in data.iter().enumerate() {
        let location = format!("record {}", index + 1);
        let fields =
            record.as_object().ok_or_else(|| NormalizeError::layout(path, &location, "expected a JSON object"))?;
        if let Some(missing) = REQUIRED_FIELDS.iter().find(|f| !fields.contains_key(**f)) {
            return Err(NormalizeError::layout(path, &location, format!("missing field {missing:?}")));
        }
        let get = |key: &str| fields.get(key).unwrap_or(&Value::Null);
        let record = ComtradeRecord {
            year: json_int(get("refYear")),
            reporter_code: json_int(get("reporterCode")),
            reporter_iso: json_text(get("reporterISO")),
            flow_code: json_text(get("flowCode")),
            partner_code: json_int(get("partnerCode")),
            partner_iso: json_text(get("partnerISO")),
            partner_desc: json_text(get("partnerDesc")),
            partner2_code: json_int(get("partner2Code")),
            customs_code: json_text(get("customsCode")),
            mot_code: json_int(get("motCode")),
            classification_code: json_text(get("classificationCode")),
            cmd_code: json_text(get("cmdCode")),
            qty_unit_code: json_int(get("qtyUnitCode")),
            qty_unit_abbr: json_text(get("qtyUnitAbbr")),
            qty: get("qty").as_f64(),
            is_qty_estimated: get("isQtyEstimated").as_bool(),
            net_wgt: get("netWgt").as_f64(),
            is_net_wgt_estimated: get("isNetWgtEstimated").as_bool(),
            primary_value: get("primaryValue").as_f64(),
        };
        push_record(file, &location, record, &edition, options, &mut output)?;
    }
    Ok(output)
}

pub fn read_csv(file: &RawFile, options: &NormalizeOptions) -> Result<AdapterOutput> {
    let path = file.path.as_path();
    let table = CsvTable::parse(path, &read_text(path, Encoding::Utf8)?)?;
    let mut columns = std::collections::HashMap::new();
    for name in REQUIRED_FIELDS.iter().chain(
        ["reporterISO", "partnerISO", "partnerDesc", "qtyUnitAbbr", "isQtyEstimated", "isNetWgtEstimated"].iter(),
    ) {
        columns.insert(*name, table.column(path, name)?);
    }
    let edition = comtrade_edition(path);
    let mut output = AdapterOutput::default();
    for row in table.records.iter().filter(|r| !r.is_blank()) {
        let location = format!("line {}", row.line);
        let get = |key: &str| row.get(columns[key]).trim();
        let number = |key: &str| -> Result<Option<f64>> {
            let text = get(key);
            if text.is_empty() {
                return Ok(None);
            }
            text.parse::<f64>().map(Some).map_err(|_| {
                NormalizeError::layout(
                    path,
                    format!("{location}, column {key:?}"),
                    format!("expected a number, found {text:?}"),
                )
            })
        };
        let int = |key: &str| -> Result<Option<i32>> { Ok(number(key)?.map(|n| n as i32)) };
        let text = |key: &str| Some(get(key).to_string()).filter(|s| !s.is_empty());
        let flag = |key: &str| match get(key) {
            "True" | "true" => Some(true),
            "False" | "false" => Some(false),
            _ => None,
        };
        let record = ComtradeRecord {
            year: int("refYear")?,
            reporter_code: int("reporterCode")?,
            reporter_iso: text("reporterISO"),
            flow_code: text("flowCode"),
            partner_code: int("partnerCode")?,
            partner_iso: text("partnerISO"),
            partner_desc: text("partnerDesc"),
            partner2_code: int("partner2Code")?,
            customs_code: text("customsCode"),
            mot_code: int("motCode")?,
            classification_code: text("classificationCode"),
            cmd_code: text("cmdCode"),
            qty_unit_code: int("qtyUnitCode")?,
            qty_unit_abbr: text("qtyUnitAbbr"),
            qty: number("qty")?,
            is_qty_estimated: flag("isQtyEstimated"),
            net_wgt: number("netWgt")?,
            is_net_wgt_estimated: flag("isNetWgtEstimated"),
            primary_value: number("primaryValue")?,
        };
        push_record(file, &location, record, &edition, options, &mut output)?;
    }
    Ok(output)
}

fn json_int(value: &Value) -> Option<i32> {
    value.as_i64().map(|n| n as i32).or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn push_record(
    file: &RawFile,
    location: &str,
    record: ComtradeRecord,
    edition: &str,
    options: &NormalizeOptions,
    output: &mut AdapterOutput,
) -> Result<()> {
    let path = file.path.as_path();
    let required = |value: Option<i32>, field: &str| {
        value.ok_or_else(|| {
            NormalizeError::layout(path, location, format!("field {field:?} is null; expected a number"))
        })
    };
    let year = required(record.year, "refYear")?;
    let reporter_code = required(record.reporter_code, "reporterCode")?;
    let partner_code = required(record.partner_code, "partnerCode")?;
    let flow = record
        .flow_code
        .clone()
        .ok_or_else(|| NormalizeError::layout(path, location, "field \"flowCode\" is empty"))?;
    let hs_code =
        record.cmd_code.clone().ok_or_else(|| NormalizeError::layout(path, location, "field \"cmdCode\" is empty"))?;
    let is_total = record.partner2_code.unwrap_or(0) == 0
        && record.customs_code.as_deref().unwrap_or("C00") == "C00"
        && record.mot_code.unwrap_or(0) == 0;
    if !options.keeps_hs_code(&hs_code) {
        output.skip(&options.out_of_scope_reason());
        return Ok(());
    }
    if !is_total {
        output.skip("breakdowns by second partner, customs regime or transport mode (totals are read)");
        return Ok(());
    }
    let qty_known = record.qty_unit_code.is_some_and(|c| c != -1);
    let value = record.primary_value;
    // A weight of 0 kg beside a positive value is a weight nobody reported, not an empty shipment.
    let net_weight_kg = record.net_wgt.filter(|w| *w > 0.0 || value.is_none_or(|v| v <= 0.0));
    let partner_iso = record.partner_iso.clone().or_else(|| iso3_for_code(partner_code));
    output.tables.trade.push(TradeRow {
        year,
        reporter_code,
        reporter_iso3: record.reporter_iso.clone().or_else(|| iso3_for_code(reporter_code)),
        partner_code: Some(partner_code),
        is_aggregate: is_aggregate_partner(partner_code, partner_iso.as_deref()),
        partner_iso3: partner_iso,
        partner_name: record.partner_desc.clone(),
        value_basis: Some(if flow.starts_with('M') || flow == "RM" { "CIF" } else { "FOB" }.to_string()),
        flow,
        hs_code,
        hs_edition: record.classification_code.clone(),
        net_weight_kg,
        qty: if qty_known { record.qty } else { None },
        qty_unit: if qty_known { record.qty_unit_abbr.clone() } else { None },
        value_usd: value,
        is_estimated: record.is_qty_estimated.unwrap_or(false) || record.is_net_wgt_estimated.unwrap_or(false),
        flag: None,
        provenance: provenance(file, "comtrade", edition),
    });
    Ok(())
}

fn iso3_for_code(code: i32) -> Option<String> {
    if code == 0 {
        return Some("W00".into());
    }
    reeflow_model::country::KNOWN_COUNTRIES.iter().find(|c| c.comtrade_code == Some(code)).map(|c| c.iso3.to_string())
}

/// World (0, `W00`), areas n.e.s. (`_X`, `_AC`…) and special zones (`X1`, `X2`…) are not one
/// country; "Other Asia, nes" (490, `S19`) is Taiwan in practice and counts as a partner.
pub fn is_aggregate_partner(code: i32, iso: Option<&str>) -> bool {
    let iso = iso.unwrap_or("").trim();
    code == 0 || iso == "W00" || iso.starts_with('_') || (iso.len() == 2 && iso.starts_with('X'))
}

/// `comtrade:<date>` from the nearest retrieval record: a `manifest.json` beside the file with a
/// `files[].retrieved_at` (or `retrieved_at` at top level) for this file, or a
/// `collection_summary.json` with `collection_date`. `comtrade:undated` when neither exists.
pub fn comtrade_edition(path: &Path) -> String {
    let folder = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let read_json = |file: &str| {
        std::fs::read_to_string(folder.join(file)).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok())
    };
    if let Some(manifest) = read_json("manifest.json") {
        let from_files = manifest.get("files").and_then(Value::as_array).and_then(|files| {
            files
                .iter()
                .find(|f| f.get("file").and_then(Value::as_str) == Some(name.as_str()))
                .and_then(|f| f.get("retrieved_at"))
                .and_then(Value::as_str)
        });
        let from_top = manifest.get("retrieval").and_then(|r| r.get("started_at")).and_then(Value::as_str);
        if let Some(date) = from_files.or(from_top) {
            return format!("comtrade:{}", &date[..date.len().min(10)]);
        }
    }
    if let Some(summary) = read_json("collection_summary.json")
        && let Some(date) = summary.get("collection_date").and_then(Value::as_str)
    {
        return format!("comtrade:{}", &date[..date.len().min(10)]);
    }
    "comtrade:undated".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_partners() {
        assert!(is_aggregate_partner(0, Some("W00")));
        assert!(is_aggregate_partner(899, Some("_X ")));
        assert!(is_aggregate_partner(838, Some("X2 ")));
        assert!(!is_aggregate_partner(490, Some("S19")));
        assert!(!is_aggregate_partner(156, Some("CHN")));
    }
}
