//! The canonical tables of the normalized layer: one row struct each, its Arrow schema and the
//! conversion of rows to a `RecordBatch`. Column names here are the names users query; the README
//! documents them, so renaming one is a breaking change.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;

/// A canonical table: its name (the Parquet folder and SQL table name), schema and row conversion.
pub trait Table: Sized {
    const NAME: &'static str;
    fn schema() -> SchemaRef;
    fn to_batch(rows: &[Self]) -> Result<RecordBatch, ArrowError>;
}

fn field(name: &str, data_type: DataType, nullable: bool) -> Field {
    Field::new(name, data_type, nullable)
}

fn strings<'a, T: 'a>(rows: &'a [T], get: impl Fn(&'a T) -> Option<&'a str>) -> ArrayRef {
    Arc::new(rows.iter().map(get).collect::<StringArray>())
}

fn floats<T>(rows: &[T], get: impl Fn(&T) -> Option<f64>) -> ArrayRef {
    Arc::new(rows.iter().map(get).collect::<Float64Array>())
}

fn ints<T>(rows: &[T], get: impl Fn(&T) -> Option<i32>) -> ArrayRef {
    Arc::new(rows.iter().map(get).collect::<Int32Array>())
}

fn bools<T>(rows: &[T], get: impl Fn(&T) -> Option<bool>) -> ArrayRef {
    Arc::new(rows.iter().map(get).collect::<BooleanArray>())
}

/// The provenance every row carries: which publisher, which file, which edition.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// Publisher and series, e.g. `usgs_mcs`, `usgs_myb`, `usgs_ds140`, `comtrade`, `usitc_dataweb`.
    pub source: String,
    /// The raw file, relative to the raw folder.
    pub source_file: String,
    /// The publication (`MCS2023`, `MYB2022`, `DS140`) or, for API data, `comtrade:<retrieval date>`.
    pub edition: String,
}

/// One figure of mine (or other stage) production, in t REO, as printed in one edition.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductionRow {
    pub year: i32,
    /// ISO3, or `WLD` for world totals and `OTH` for "Other countries".
    pub country_iso3: String,
    /// The name as the source printed it (footnote markers removed).
    pub country: String,
    /// Supply-chain stage (`mining` for USGS mine production).
    pub stage: String,
    /// Tonnes of rare-earth oxide equivalent; None where the source gives no number.
    pub t_reo: Option<f64>,
    /// `e` estimated, `r` revised, `W` withheld, `NA`, `zero`, `>`/`<`; comma-joined when several.
    pub flag: Option<String>,
    /// The cell text as printed, where it was not a plain number (`—`, `NA`, `45,500`).
    pub raw_value: Option<String>,
    /// The source's note for this figure, if any.
    pub notes: Option<String>,
    pub provenance: Provenance,
}

impl Table for ProductionRow {
    const NAME: &'static str = "production";

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            field("year", DataType::Int32, false),
            field("country_iso3", DataType::Utf8, false),
            field("country", DataType::Utf8, false),
            field("stage", DataType::Utf8, false),
            field("t_reo", DataType::Float64, true),
            field("flag", DataType::Utf8, true),
            field("raw_value", DataType::Utf8, true),
            field("notes", DataType::Utf8, true),
            field("edition", DataType::Utf8, false),
            field("source", DataType::Utf8, false),
            field("source_file", DataType::Utf8, false),
        ]))
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            Self::schema(),
            vec![
                ints(rows, |r| Some(r.year)),
                strings(rows, |r| Some(r.country_iso3.as_str())),
                strings(rows, |r| Some(r.country.as_str())),
                strings(rows, |r| Some(r.stage.as_str())),
                floats(rows, |r| r.t_reo),
                strings(rows, |r| r.flag.as_deref()),
                strings(rows, |r| r.raw_value.as_deref()),
                strings(rows, |r| r.notes.as_deref()),
                strings(rows, |r| Some(r.provenance.edition.as_str())),
                strings(rows, |r| Some(r.provenance.source.as_str())),
                strings(rows, |r| Some(r.provenance.source_file.as_str())),
            ],
        )
    }
}

/// One reported trade flow: one reporter's report of one year, partner, flow and code.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeRow {
    pub year: i32,
    /// Comtrade numeric reporter code (842 USA, 156 China).
    pub reporter_code: i32,
    pub reporter_iso3: Option<String>,
    /// Comtrade numeric partner code (0 World); None where the source gives only a name Comtrade lacks.
    pub partner_code: Option<i32>,
    pub partner_iso3: Option<String>,
    /// The partner's name as the source printed it (or Comtrade's description).
    pub partner_name: Option<String>,
    /// `M` imports, `X` exports, `DX` domestic exports, `RM`/`RX` re-imports/re-exports: kept distinct.
    pub flow: String,
    /// The code as reported (`2846`, `280530`).
    pub hs_code: String,
    /// `H0`…`H6` for Comtrade; `HTS` for US national tariff lines.
    pub hs_edition: Option<String>,
    pub net_weight_kg: Option<f64>,
    pub qty: Option<f64>,
    pub qty_unit: Option<String>,
    pub value_usd: Option<f64>,
    /// `CIF`, `FOB`, `CUSTOMS` (US customs value), `FAS` (US free alongside ship).
    pub value_basis: Option<String>,
    /// Whether the source marks the quantity or weight as estimated.
    pub is_estimated: bool,
    /// Whether the partner is the World or a group or area rather than one country.
    pub is_aggregate: bool,
    pub provenance: Provenance,
}

impl Table for TradeRow {
    const NAME: &'static str = "trade";

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            field("year", DataType::Int32, false),
            field("reporter_code", DataType::Int32, false),
            field("reporter_iso3", DataType::Utf8, true),
            field("partner_code", DataType::Int32, true),
            field("partner_iso3", DataType::Utf8, true),
            field("partner_name", DataType::Utf8, true),
            field("flow", DataType::Utf8, false),
            field("hs_code", DataType::Utf8, false),
            field("hs_edition", DataType::Utf8, true),
            field("net_weight_kg", DataType::Float64, true),
            field("qty", DataType::Float64, true),
            field("qty_unit", DataType::Utf8, true),
            field("value_usd", DataType::Float64, true),
            field("value_basis", DataType::Utf8, true),
            field("is_estimated", DataType::Boolean, false),
            field("is_aggregate", DataType::Boolean, false),
            field("source", DataType::Utf8, false),
            field("source_file", DataType::Utf8, false),
            field("edition", DataType::Utf8, false),
        ]))
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            Self::schema(),
            vec![
                ints(rows, |r| Some(r.year)),
                ints(rows, |r| Some(r.reporter_code)),
                strings(rows, |r| r.reporter_iso3.as_deref()),
                ints(rows, |r| r.partner_code),
                strings(rows, |r| r.partner_iso3.as_deref()),
                strings(rows, |r| r.partner_name.as_deref()),
                strings(rows, |r| Some(r.flow.as_str())),
                strings(rows, |r| Some(r.hs_code.as_str())),
                strings(rows, |r| r.hs_edition.as_deref()),
                floats(rows, |r| r.net_weight_kg),
                floats(rows, |r| r.qty),
                strings(rows, |r| r.qty_unit.as_deref()),
                floats(rows, |r| r.value_usd),
                strings(rows, |r| r.value_basis.as_deref()),
                bools(rows, |r| Some(r.is_estimated)),
                bools(rows, |r| Some(r.is_aggregate)),
                strings(rows, |r| Some(r.provenance.source.as_str())),
                strings(rows, |r| Some(r.provenance.source_file.as_str())),
                strings(rows, |r| Some(r.provenance.edition.as_str())),
            ],
        )
    }
}

/// One US salient statistic (production, trade in t REO, consumption, prices, reliance) in long form.
#[derive(Debug, Clone, PartialEq)]
pub struct SalientRow {
    pub year: i32,
    /// `rare_earths`, `rare_earths_heavy`, `scandium`, `yttrium`.
    pub commodity: String,
    /// A stable name across editions, e.g. `production_concentrate`, `exports_ores_compounds`, `nir_concentrate`.
    pub statistic: String,
    /// The label or column name as the source printed it.
    pub statistic_label: String,
    pub value: Option<f64>,
    /// The cell text as printed where it was not a plain number (`>95`, `E`, `"7,900"`).
    pub raw_value: Option<String>,
    /// `t_reo`, `t`, `usd_per_kg`, `usd_per_g`, `usd_per_t`, `percent`, `number`.
    pub unit: String,
    pub flag: Option<String>,
    pub notes: Option<String>,
    pub provenance: Provenance,
}

impl Table for SalientRow {
    const NAME: &'static str = "salient";

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            field("year", DataType::Int32, false),
            field("commodity", DataType::Utf8, false),
            field("statistic", DataType::Utf8, false),
            field("statistic_label", DataType::Utf8, false),
            field("value", DataType::Float64, true),
            field("raw_value", DataType::Utf8, true),
            field("unit", DataType::Utf8, false),
            field("flag", DataType::Utf8, true),
            field("notes", DataType::Utf8, true),
            field("edition", DataType::Utf8, false),
            field("source", DataType::Utf8, false),
            field("source_file", DataType::Utf8, false),
        ]))
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            Self::schema(),
            vec![
                ints(rows, |r| Some(r.year)),
                strings(rows, |r| Some(r.commodity.as_str())),
                strings(rows, |r| Some(r.statistic.as_str())),
                strings(rows, |r| Some(r.statistic_label.as_str())),
                floats(rows, |r| r.value),
                strings(rows, |r| r.raw_value.as_deref()),
                strings(rows, |r| Some(r.unit.as_str())),
                strings(rows, |r| r.flag.as_deref()),
                strings(rows, |r| r.notes.as_deref()),
                strings(rows, |r| Some(r.provenance.edition.as_str())),
                strings(rows, |r| Some(r.provenance.source.as_str())),
                strings(rows, |r| Some(r.provenance.source_file.as_str())),
            ],
        )
    }
}

/// One Comtrade reporter or partner area with its ISO3 code and validity.
#[derive(Debug, Clone, PartialEq)]
pub struct CountryRow {
    /// Comtrade numeric code (M49-based; 0 World, 490 "Other Asia, nes").
    pub code: i32,
    /// ISO3, or Comtrade's own code for areas (`W00`, `S19`, `_X`).
    pub iso3: Option<String>,
    pub name: String,
    /// World, groups and areas that are not one country.
    pub is_group: bool,
    /// Days since 1970-01-01.
    pub valid_from: Option<i32>,
    pub valid_to: Option<i32>,
    pub provenance: Provenance,
}

impl Table for CountryRow {
    const NAME: &'static str = "countries";

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            field("code", DataType::Int32, false),
            field("iso3", DataType::Utf8, true),
            field("name", DataType::Utf8, false),
            field("is_group", DataType::Boolean, false),
            field("valid_from", DataType::Date32, true),
            field("valid_to", DataType::Date32, true),
            field("source", DataType::Utf8, false),
            field("source_file", DataType::Utf8, false),
            field("edition", DataType::Utf8, false),
        ]))
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            Self::schema(),
            vec![
                ints(rows, |r| Some(r.code)),
                strings(rows, |r| r.iso3.as_deref()),
                strings(rows, |r| Some(r.name.as_str())),
                bools(rows, |r| Some(r.is_group)),
                Arc::new(rows.iter().map(|r| r.valid_from).collect::<Date32Array>()),
                Arc::new(rows.iter().map(|r| r.valid_to).collect::<Date32Array>()),
                strings(rows, |r| Some(r.provenance.source.as_str())),
                strings(rows, |r| Some(r.provenance.source_file.as_str())),
                strings(rows, |r| Some(r.provenance.edition.as_str())),
            ],
        )
    }
}

/// The names of every canonical table, in the order `normalize` writes them.
pub const TABLE_NAMES: [&str; 4] = [ProductionRow::NAME, TradeRow::NAME, SalientRow::NAME, CountryRow::NAME];

#[cfg(test)]
mod tests {
    use super::*;

    fn provenance() -> Provenance {
        Provenance { source: "usgs_mcs".into(), source_file: "f.csv".into(), edition: "MCS2023".into() }
    }

    #[test]
    fn production_rows_become_a_batch_with_nulls_kept() {
        let rows = vec![
            ProductionRow {
                year: 2022,
                country_iso3: "CHN".into(),
                country: "China".into(),
                stage: "mining".into(),
                t_reo: Some(210_000.0),
                flag: Some("e".into()),
                raw_value: None,
                notes: None,
                provenance: provenance(),
            },
            ProductionRow {
                year: 2022,
                country_iso3: "MMR".into(),
                country: "Burma".into(),
                stage: "mining".into(),
                t_reo: None,
                flag: Some("NA".into()),
                raw_value: Some("NA".into()),
                notes: None,
                provenance: provenance(),
            },
        ];
        let batch = ProductionRow::to_batch(&rows).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema().field(4).name(), "t_reo");
        assert_eq!(batch.column(4).null_count(), 1);
    }
}
