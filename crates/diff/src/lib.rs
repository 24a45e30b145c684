//! What changed between two versions of reeflow's tables, and whether a change is too large to
//! publish without a person looking.
//!
//! It owns the comparison of two sets of Parquet tables, table by table: rows are matched by the
//! table's grain (its key columns), and each table reports rows added, removed and changed, the
//! largest changes of every numeric column (absolute and relative), and schema changes.
//! Configured thresholds (`[[diff.thresholds]]`) turn changes into breaches, e.g. a published
//! USGS figure moving more than 5 %, so that a refresh which would silently rewrite history fails
//! instead. Reports render as a text table for people and as JSON or Markdown for CI.

mod compare;
mod render;
mod threshold;

use std::path::PathBuf;

pub use compare::diff;
pub use threshold::{Severity, Threshold, ThresholdError};

/// One table of the two versions; a side is None where the table does not exist.
#[derive(Debug, Clone)]
pub struct TableInput {
    pub name: String,
    /// The key columns rows are matched by (empty: whole rows are compared).
    pub grain: Vec<String>,
    pub old: Option<TableSide>,
    pub new: Option<TableSide>,
}

/// Where one side of a table lives: a Parquet file, or a stage output folder with its partition
/// columns (name, Arrow type name).
#[derive(Debug, Clone)]
pub struct TableSide {
    pub path: PathBuf,
    pub partitions: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("diff of table {table}: {source}{query}", query = query.as_ref().map(|q| format!("\n  in: {q}")).unwrap_or_default())]
    Query {
        table: String,
        /// The SQL that failed, when a query failed.
        query: Option<String>,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Threshold(#[from] ThresholdError),
}

/// Everything that differs between the two versions.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DiffReport {
    pub old: String,
    pub new: String,
    pub tables: Vec<TableDiff>,
    pub breaches: Vec<Breach>,
}

impl DiffReport {
    /// True when a blocking threshold was breached: the new version must not be published.
    pub fn blocks(&self) -> bool {
        self.breaches.iter().any(|b| b.severity == Severity::Block)
    }

    /// True when any table differs.
    pub fn has_changes(&self) -> bool {
        self.tables.iter().any(TableDiff::has_changes)
    }

    pub fn table(&self, name: &str) -> Option<&TableDiff> {
        self.tables.iter().find(|t| t.table == name)
    }

    pub fn to_text(&self) -> String {
        render::text(self)
    }

    pub fn to_markdown(&self) -> String {
        render::markdown(self)
    }
}

/// How one table differs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableDiff {
    pub table: String,
    pub grain: Vec<String>,
    /// None where the table does not exist on that side.
    pub old_rows: Option<usize>,
    pub new_rows: Option<usize>,
    pub added: usize,
    pub removed: usize,
    /// Rows present on both sides (same grain) with a different value in some column.
    pub changed: usize,
    /// `added column x (Utf8)`, `removed column y (Float64)`, `z: Int32 → Int64`.
    pub schema_changes: Vec<String>,
    /// Per column with changes: how many rows and the largest changes.
    pub columns: Vec<ColumnDiff>,
    /// Grain keys (`year=2022 country_iso3=CHN`) of added, removed and changed rows, in key order,
    /// up to the report's limit.
    pub added_keys: Vec<String>,
    pub removed_keys: Vec<String>,
    pub changed_keys: Vec<String>,
    /// Why rows could not be matched by grain, when they could not.
    pub note: Option<String>,
}

impl TableDiff {
    pub fn has_changes(&self) -> bool {
        self.added + self.removed + self.changed > 0
            || !self.schema_changes.is_empty()
            || self.old_rows.is_none() != self.new_rows.is_none()
    }
}

/// Changes of one column.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColumnDiff {
    pub column: String,
    pub changed: usize,
    pub numeric: bool,
    /// Largest changes by absolute difference (numeric columns; nulls appearing or vanishing
    /// first), or the first changes in key order (other columns).
    pub largest_absolute: Vec<ValueChange>,
    /// Largest changes relative to the old value (numeric columns with a non-zero old value).
    pub largest_relative: Vec<ValueChange>,
}

/// One changed value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ValueChange {
    pub key: String,
    pub old: serde_json::Value,
    pub new: serde_json::Value,
    /// new − old, for numbers.
    pub absolute: Option<f64>,
    /// (new − old) / |old|, for numbers with a non-zero old value.
    pub relative: Option<f64>,
}

/// A threshold a change crossed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Breach {
    pub table: String,
    pub column: Option<String>,
    pub severity: Severity,
    /// The threshold, in words.
    pub rule: String,
    /// Rows that crossed it.
    pub rows: usize,
    pub examples: Vec<ValueChange>,
}
