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

use std::borrow::Cow;
use std::path::Path;

use serde::Deserialize;

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

/// The answer envelope, parsed straight into typed records that borrow their text from the file's
/// bytes (no JSON value tree): `count`, `data` and `error` must be present.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(deserialize_with = "present")]
    count: Option<u64>,
    #[serde(borrow)]
    data: Vec<JsonRecord<'a>>,
    #[serde(deserialize_with = "present")]
    error: Option<Value>,
}

/// One record: the fields a trade row is made of (the others of the 47 are skipped unread). The
/// fields of [`REQUIRED_FIELDS`] must be present (they may be null).
#[derive(serde::Deserialize)]
struct JsonRecord<'a> {
    #[serde(rename = "refYear", deserialize_with = "int")]
    year: Option<i32>,
    #[serde(rename = "reporterCode", deserialize_with = "int")]
    reporter_code: Option<i32>,
    #[serde(rename = "reporterISO", default, borrow, deserialize_with = "text")]
    reporter_iso: Option<Cow<'a, str>>,
    #[serde(rename = "flowCode", borrow, deserialize_with = "text")]
    flow_code: Option<Cow<'a, str>>,
    #[serde(rename = "partnerCode", deserialize_with = "int")]
    partner_code: Option<i32>,
    #[serde(rename = "partnerISO", default, borrow, deserialize_with = "text")]
    partner_iso: Option<Cow<'a, str>>,
    #[serde(rename = "partnerDesc", default, borrow, deserialize_with = "text")]
    partner_desc: Option<Cow<'a, str>>,
    #[serde(rename = "partner2Code", deserialize_with = "int")]
    partner2_code: Option<i32>,
    #[serde(rename = "customsCode", borrow, deserialize_with = "text")]
    customs_code: Option<Cow<'a, str>>,
    #[serde(rename = "motCode", deserialize_with = "int")]
    mot_code: Option<i32>,
    #[serde(rename = "classificationCode", borrow, deserialize_with = "text")]
    classification_code: Option<Cow<'a, str>>,
    #[serde(rename = "cmdCode", borrow, deserialize_with = "text")]
    cmd_code: Option<Cow<'a, str>>,
    #[serde(rename = "qtyUnitCode", deserialize_with = "int")]
    qty_unit_code: Option<i32>,
    #[serde(rename = "qtyUnitAbbr", default, borrow, deserialize_with = "text")]
    qty_unit_abbr: Option<Cow<'a, str>>,
    #[serde(deserialize_with = "present")]
    qty: Option<f64>,
    #[serde(rename = "isQtyEstimated", default)]
    is_qty_estimated: Option<bool>,
    #[serde(rename = "netWgt", deserialize_with = "present")]
    net_wgt: Option<f64>,
    #[serde(rename = "isNetWgtEstimated", default)]
    is_net_wgt_estimated: Option<bool>,
    #[serde(rename = "primaryValue", deserialize_with = "present")]
    primary_value: Option<f64>,
    #[serde(rename = "isAggregate", deserialize_with = "present")]
    _is_aggregate: Option<bool>,
}

/// A field that must be present but may be null (serde would take a missing `Option` as None).
fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// An integer written as a number or a string (`"156"`), or null.
fn int<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<i32>, D::Error> {
    struct IntVisitor;
    impl<'de> serde::de::Visitor<'de> for IntVisitor {
        type Value = Option<i32>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an integer, a string holding one, or null")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
            Ok(Some(v as i32))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
            Ok(Some(v as i32))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
            Ok(Some(v as i32))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
            Ok(v.trim().parse().ok())
        }
        fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_option(IntVisitor)
}

/// Text borrowed from the file where it has no escapes; a number as its digits; blank or null as
/// None.
fn text<'de: 'a, 'a, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Cow<'a, str>>, D::Error> {
    struct TextVisitor;
    impl<'de> serde::de::Visitor<'de> for TextVisitor {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string, a number or null")
        }
        fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
            let v = v.trim();
            Ok((!v.is_empty()).then_some(Cow::Borrowed(v)))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
            let v = v.trim();
            Ok((!v.is_empty()).then(|| Cow::Owned(v.to_string())))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_option(TextVisitor)
}

pub fn read_json(file: &RawFile, options: &NormalizeOptions) -> Result<AdapterOutput> {
    let bytes = std::fs::read(&file.path).map_err(|e| NormalizeError::read(&file.path, e))?;
    read_json_bytes(file, &bytes, options)
}

/// Reads one Comtrade API answer from its bytes (already read to hash them).
pub fn read_json_bytes(file: &RawFile, bytes: &[u8], options: &NormalizeOptions) -> Result<AdapterOutput> {
    let path = file.path.as_path();
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        let problem = if e.is_data() {
            format!(
                "{e}; expected a Comtrade API response {{elapsedTime, count, data, error}} of records with {}",
                REQUIRED_FIELDS.join(", ")
            )
        } else {
            format!("not valid JSON ({e}); expected a Comtrade API response")
        };
        NormalizeError::layout(path, format!("line {}, column {}", e.line(), e.column()), problem)
    })?;
    if let Some(error) = envelope.error.as_ref().filter(|e| !e.is_null() && e.as_str() != Some("")) {
        return Err(NormalizeError::layout(path, "key \"error\"", format!("the API reported an error: {error}")));
    }
    let count = envelope.count;
    if count != Some(envelope.data.len() as u64) {
        return Err(NormalizeError::layout(
            path,
            "key \"count\"",
            format!("count is {count:?} but {} records are present", envelope.data.len()),
        ));
    }
    let edition = comtrade_edition(path);
    let mut output = AdapterOutput::default();
    output.tables.trade.reserve(envelope.data.len());
    let owned = |text: Option<Cow<str>>| text.map(Cow::into_owned);
    for (index, record) in envelope.data.into_iter().enumerate() {
        let location = format!("record {}", index + 1);
        let record = ComtradeRecord {
            year: record.year,
            reporter_code: record.reporter_code,
            reporter_iso: owned(record.reporter_iso),
            flow_code: owned(record.flow_code),
            partner_code: record.partner_code,
            partner_iso: owned(record.partner_iso),
            partner_desc: owned(record.partner_desc),
            partner2_code: record.partner2_code,
            customs_code: owned(record.customs_code),
            mot_code: record.mot_code,
            classification_code: owned(record.classification_code),
            cmd_code: owned(record.cmd_code),
            qty_unit_code: record.qty_unit_code,
            qty_unit_abbr: owned(record.qty_unit_abbr),
            qty: record.qty,
            is_qty_estimated: record.is_qty_estimated,
            net_wgt: record.net_wgt,
            is_net_wgt_estimated: record.is_net_wgt_estimated,
            primary_value: record.primary_value,
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
    let flow = record.flow_code.ok_or_else(|| NormalizeError::layout(path, location, "field \"flowCode\" is empty"))?;
    let hs_code =
        record.cmd_code.ok_or_else(|| NormalizeError::layout(path, location, "field \"cmdCode\" is empty"))?;
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
    let partner_iso = record.partner_iso.or_else(|| iso3_for_code(partner_code));
    output.tables.trade.push(TradeRow {
        year,
        reporter_code,
        reporter_iso3: record.reporter_iso.or_else(|| iso3_for_code(reporter_code)),
        partner_code: Some(partner_code),
        is_aggregate: is_aggregate_partner(partner_code, partner_iso.as_deref()),
        partner_iso3: partner_iso,
        partner_name: record.partner_desc,
        value_basis: Some(if flow.starts_with('M') || flow == "RM" { "CIF" } else { "FOB" }.to_string()),
        flow,
        hs_code,
        hs_edition: record.classification_code,
        net_weight_kg,
        qty: if qty_known { record.qty } else { None },
        qty_unit: if qty_known { record.qty_unit_abbr } else { None },
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
