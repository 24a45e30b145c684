//! The canonical tables of the normalized layer: one row struct each, its Arrow schema and the
//! conversion of rows to a `RecordBatch`. Column names here are the names users query; the README
//! documents them, so renaming one is a breaking change.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;

/// A canonical table: its name (the Parquet file and SQL table name) and its columns, each
/// declared once with its type and how to read it from a row; schema and batch follow from them.
pub trait Table: Sized + 'static {
    const NAME: &'static str;
    /// The columns that identify a row (unique in every normalized table): what `reeflow diff`
    /// matches old and new rows by.
    const GRAIN: &'static [&'static str];

    fn columns() -> Vec<Column<Self>>;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(Self::columns().into_iter().map(|c| c.field).collect::<Vec<_>>()))
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch, ArrowError> {
        let columns = Self::columns();
        let arrays = columns.iter().map(|c| (c.build)(rows)).collect();
        RecordBatch::try_new(Self::schema(), arrays)
    }
}

/// Builds one column's array from the rows.
type BuildColumn<T> = Box<dyn Fn(&[T]) -> ArrayRef>;

/// One column of a canonical table.
pub struct Column<T> {
    pub field: Field,
    build: BuildColumn<T>,
}

impl<T: 'static> Column<T> {
    fn new(name: &str, data_type: DataType, nullable: bool, build: impl Fn(&[T]) -> ArrayRef + 'static) -> Self {
        Self { field: Field::new(name, data_type, nullable), build: Box::new(build) }
    }

    pub fn text(name: &str, nullable: bool, get: fn(&T) -> Option<&str>) -> Self {
        Self::new(name, DataType::Utf8, nullable, move |rows| Arc::new(rows.iter().map(get).collect::<StringArray>()))
    }

    pub fn float(name: &str, get: fn(&T) -> Option<f64>) -> Self {
        Self::new(name, DataType::Float64, true, move |rows| Arc::new(rows.iter().map(get).collect::<Float64Array>()))
    }

    pub fn int(name: &str, nullable: bool, get: fn(&T) -> Option<i32>) -> Self {
        Self::new(name, DataType::Int32, nullable, move |rows| Arc::new(rows.iter().map(get).collect::<Int32Array>()))
    }

    pub fn boolean(name: &str, get: fn(&T) -> bool) -> Self {
        Self::new(name, DataType::Boolean, false, move |rows| {
            Arc::new(rows.iter().map(|r| Some(get(r))).collect::<BooleanArray>())
        })
    }

    pub fn date(name: &str, get: fn(&T) -> Option<i32>) -> Self {
        Self::new(name, DataType::Date32, true, move |rows| Arc::new(rows.iter().map(get).collect::<Date32Array>()))
    }
}

/// Rows that carry provenance get the same three trailing columns: source, source_file, edition.
trait HasProvenance {
    fn provenance(&self) -> &Provenance;
}

fn provenance_columns<T: HasProvenance + 'static>() -> [Column<T>; 3] {
    [
        Column::text("source", false, |r| Some(r.provenance().source.as_str())),
        Column::text("source_file", false, |r| Some(r.provenance().source_file.as_str())),
        Column::text("edition", false, |r| Some(r.provenance().edition.as_str())),
    ]
}

macro_rules! has_provenance {
    ($($row:ty),*) => {$(
        impl HasProvenance for $row {
            fn provenance(&self) -> &Provenance {
                &self.provenance
            }
        }
    )*};
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
    const GRAIN: &'static [&'static str] = &["year", "country_iso3", "stage", "edition"];

    fn columns() -> Vec<Column<Self>> {
        type C = Column<ProductionRow>;
        let mut columns = vec![
            C::int("year", false, |r| Some(r.year)),
            C::text("country_iso3", false, |r| Some(r.country_iso3.as_str())),
            C::text("country", false, |r| Some(r.country.as_str())),
            C::text("stage", false, |r| Some(r.stage.as_str())),
            C::float("t_reo", |r| r.t_reo),
            C::text("flag", true, |r| r.flag.as_deref()),
            C::text("raw_value", true, |r| r.raw_value.as_deref()),
            C::text("notes", true, |r| r.notes.as_deref()),
        ];
        columns.extend(provenance_columns());
        columns
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
    /// `suppressed`: customs withheld the quantity of some records, so quantity and weight are
    /// null (the printed figure is not the quantity). None for a plain figure.
    pub flag: Option<String>,
    pub provenance: Provenance,
}

impl Table for TradeRow {
    const NAME: &'static str = "trade";
    const GRAIN: &'static [&'static str] =
        &["year", "reporter_code", "partner_code", "flow", "hs_code", "qty_unit", "value_basis", "source_file"];

    fn columns() -> Vec<Column<Self>> {
        type C = Column<TradeRow>;
        let mut columns = vec![
            C::int("year", false, |r| Some(r.year)),
            C::int("reporter_code", false, |r| Some(r.reporter_code)),
            C::text("reporter_iso3", true, |r| r.reporter_iso3.as_deref()),
            C::int("partner_code", true, |r| r.partner_code),
            C::text("partner_iso3", true, |r| r.partner_iso3.as_deref()),
            C::text("partner_name", true, |r| r.partner_name.as_deref()),
            C::text("flow", false, |r| Some(r.flow.as_str())),
            C::text("hs_code", false, |r| Some(r.hs_code.as_str())),
            // The code's heading, written beside it so a world-trade table can be filtered on a
            // plain column (trade_in_scope) rather than a function of one.
            C::text("hs_heading", false, |r| Some(crate::commodity::hs_heading(&r.hs_code))),
            C::text("hs_edition", true, |r| r.hs_edition.as_deref()),
            C::float("net_weight_kg", |r| r.net_weight_kg),
            C::float("qty", |r| r.qty),
            C::text("qty_unit", true, |r| r.qty_unit.as_deref()),
            C::float("value_usd", |r| r.value_usd),
            C::text("value_basis", true, |r| r.value_basis.as_deref()),
            C::boolean("is_estimated", |r| r.is_estimated),
            C::boolean("is_aggregate", |r| r.is_aggregate),
            C::text("flag", true, |r| r.flag.as_deref()),
        ];
        columns.extend(provenance_columns());
        columns
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
    const GRAIN: &'static [&'static str] = &["year", "commodity", "statistic", "unit", "edition"];

    fn columns() -> Vec<Column<Self>> {
        type C = Column<SalientRow>;
        let mut columns = vec![
            C::int("year", false, |r| Some(r.year)),
            C::text("commodity", false, |r| Some(r.commodity.as_str())),
            C::text("statistic", false, |r| Some(r.statistic.as_str())),
            C::text("statistic_label", false, |r| Some(r.statistic_label.as_str())),
            C::float("value", |r| r.value),
            C::text("raw_value", true, |r| r.raw_value.as_deref()),
            C::text("unit", false, |r| Some(r.unit.as_str())),
            C::text("flag", true, |r| r.flag.as_deref()),
            C::text("notes", true, |r| r.notes.as_deref()),
        ];
        columns.extend(provenance_columns());
        columns
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
    const GRAIN: &'static [&'static str] = &["code", "valid_from"];

    fn columns() -> Vec<Column<Self>> {
        type C = Column<CountryRow>;
        let mut columns = vec![
            C::int("code", false, |r| Some(r.code)),
            C::text("iso3", true, |r| r.iso3.as_deref()),
            C::text("name", false, |r| Some(r.name.as_str())),
            C::boolean("is_group", |r| r.is_group),
            C::date("valid_from", |r| r.valid_from),
            C::date("valid_to", |r| r.valid_to),
        ];
        columns.extend(provenance_columns());
        columns
    }
}

has_provenance!(ProductionRow, TradeRow, SalientRow, CountryRow);

/// The names of every canonical table, in the order `normalize` writes them.
pub const TABLE_NAMES: [&str; 4] = [ProductionRow::NAME, TradeRow::NAME, SalientRow::NAME, CountryRow::NAME];

/// The grain of a canonical table, by name.
pub fn grain_of(table: &str) -> Option<&'static [&'static str]> {
    match table {
        ProductionRow::NAME => Some(ProductionRow::GRAIN),
        TradeRow::NAME => Some(TradeRow::GRAIN),
        SalientRow::NAME => Some(SalientRow::GRAIN),
        CountryRow::NAME => Some(CountryRow::GRAIN),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grain_names_columns_of_its_table() {
        fn columns_of<T: Table>() -> Vec<String> {
            T::columns().into_iter().map(|c| c.field.name().clone()).collect()
        }
        for (name, columns) in [
            (ProductionRow::NAME, columns_of::<ProductionRow>()),
            (TradeRow::NAME, columns_of::<TradeRow>()),
            (SalientRow::NAME, columns_of::<SalientRow>()),
            (CountryRow::NAME, columns_of::<CountryRow>()),
        ] {
            for column in grain_of(name).unwrap() {
                assert!(columns.iter().any(|c| c == column), "{name}.{column}");
            }
        }
    }

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
        assert_eq!(batch.schema().field(10).name(), "edition");
        assert_eq!(batch.column(4).null_count(), 1);
    }
}
