//! The comparison itself, in SQL: both sides of a table are registered in one DataFusion session,
//! full-outer-joined on the grain (nulls match nulls), and the joined rows are counted and ranked.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::{Breach, ColumnDiff, DiffError, DiffReport, TableDiff, TableInput, TableSide, Threshold, ValueChange};

const OLD: &str = "__diff_old";
const NEW: &str = "__diff_new";
const JOINED: &str = "__diff_joined";

/// Compares every table of `tables` (old → new), evaluates `thresholds`, and lists at most
/// `limit` keys and changes per list.
pub async fn diff(
    old_label: &str,
    new_label: &str,
    tables: &[TableInput],
    thresholds: &[Threshold],
    limit: usize,
) -> Result<DiffReport, DiffError> {
    for threshold in thresholds {
        threshold.validate()?;
        if !tables.iter().any(|t| t.name == threshold.table) {
            return Err(DiffError::Threshold(crate::ThresholdError {
                table: threshold.table.clone(),
                problem: "no such table in either version".into(),
            }));
        }
    }
    let ctx = reeflow_pipeline::EngineOptions::default().session();
    let mut report =
        DiffReport { old: old_label.to_string(), new: new_label.to_string(), tables: Vec::new(), breaches: Vec::new() };
    for input in tables {
        let applicable: Vec<&Threshold> = thresholds.iter().filter(|t| t.table == input.name).collect();
        let mut table = TableComparison { ctx: &ctx, input, limit };
        let (diff, breaches) = table.run(&applicable).await?;
        report.tables.push(diff);
        report.breaches.extend(breaches);
    }
    Ok(report)
}

struct TableComparison<'a> {
    ctx: &'a SessionContext,
    input: &'a TableInput,
    limit: usize,
}

/// A column compared on both sides, cast to one type.
struct ValueColumn {
    name: String,
    numeric: bool,
}

impl TableComparison<'_> {
    fn error(&self, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> DiffError {
        DiffError::Query { table: self.input.name.clone(), query: None, source: source.into() }
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, DiffError> {
        let frame = self.ctx.sql(sql).await.map_err(|e| DiffError::Query {
            table: self.input.name.clone(),
            query: Some(sql.to_string()),
            source: e.into(),
        })?;
        frame.collect().await.map_err(|e| self.error(e))
    }

    async fn count(&self, sql: &str) -> Result<usize, DiffError> {
        let batches = self.query(sql).await?;
        let value = batches
            .first()
            .filter(|b| b.num_rows() > 0)
            .and_then(|b| b.column(0).as_primitive_opt::<arrow::datatypes::Int64Type>().map(|a| a.value(0)))
            .unwrap_or(0);
        Ok(usize::try_from(value).unwrap_or(0))
    }

    /// The number of joined rows meeting each condition, in one query.
    async fn counts(&self, conditions: &[String]) -> Result<Vec<usize>, DiffError> {
        let columns: Vec<String> =
            conditions.iter().enumerate().map(|(i, c)| format!("count(*) FILTER (WHERE {c}) AS c{i}")).collect();
        let batches = self.query(&format!("SELECT {} FROM {JOINED}", columns.join(", "))).await?;
        let batch = batches.first().ok_or_else(|| self.error("no counts returned"))?;
        Ok((0..conditions.len())
            .map(|i| {
                let array = batch.column(i).as_primitive::<arrow::datatypes::Int64Type>();
                usize::try_from(array.value(0)).unwrap_or(0)
            })
            .collect())
    }

    async fn register(&self, name: &str, side: &Option<TableSide>) -> Result<Option<Schema>, DiffError> {
        let _ = self.ctx.deregister_table(name);
        let Some(side) = side else { return Ok(None) };
        reeflow_pipeline::register_parquet(self.ctx, name, &side.path, &side.partitions)
            .await
            .map_err(|e| self.error(e))?;
        let frame = self.ctx.table(name).await.map_err(|e| self.error(e))?;
        Ok(Some(frame.schema().as_arrow().clone()))
    }

    async fn run(&mut self, thresholds: &[&Threshold]) -> Result<(TableDiff, Vec<Breach>), DiffError> {
        let old = self.register(OLD, &self.input.old).await?;
        let new = self.register(NEW, &self.input.new).await?;
        let _ = self.ctx.deregister_table(JOINED);
        let mut diff = TableDiff {
            table: self.input.name.clone(),
            grain: self.input.grain.clone(),
            old_rows: None,
            new_rows: None,
            added: 0,
            removed: 0,
            changed: 0,
            schema_changes: Vec::new(),
            columns: Vec::new(),
            added_keys: Vec::new(),
            removed_keys: Vec::new(),
            changed_keys: Vec::new(),
            note: None,
        };
        if old.is_some() {
            diff.old_rows = Some(self.count(&format!("SELECT count(*) FROM {OLD}")).await?);
        }
        if new.is_some() {
            diff.new_rows = Some(self.count(&format!("SELECT count(*) FROM {NEW}")).await?);
        }
        let (old, new) = match (old, new) {
            (Some(old), Some(new)) => (old, new),
            (old, new) => {
                // A table on one side only: every row is added (or removed).
                diff.added = diff.new_rows.unwrap_or(0);
                diff.removed = diff.old_rows.unwrap_or(0);
                let (side, schema) = if let Some(new) = &new { (NEW, new) } else { (OLD, old.as_ref().unwrap()) };
                let keys = if self.grain_in(schema) { self.keys(side, "TRUE").await? } else { Vec::new() };
                if new.is_some() {
                    diff.added_keys = keys
                } else {
                    diff.removed_keys = keys
                }
                let breaches = self.removal_breaches(thresholds, diff.removed, &diff.removed_keys);
                return Ok((diff, breaches));
            }
        };
        diff.schema_changes = schema_changes(&old, &new);
        let common: Vec<ValueColumn> = new
            .fields()
            .iter()
            .filter_map(|field| {
                let before = old.field_with_name(field.name()).ok()?;
                let numeric = field.data_type().is_numeric() && before.data_type().is_numeric();
                Some(ValueColumn { name: field.name().clone(), numeric })
            })
            .collect();
        let grain_matches = self.input.grain.iter().all(|g| {
            matches!((old.field_with_name(g), new.field_with_name(g)), (Ok(a), Ok(b)) if a.data_type() == b.data_type())
        });
        let mut duplicates = 0;
        if grain_matches && !self.input.grain.is_empty() {
            let keys = self.grain_list("");
            for side in [OLD, NEW] {
                duplicates += self
                    .count(&format!(
                        "SELECT count(*) FROM (SELECT {keys} FROM {side} GROUP BY {keys} HAVING count(*) > 1)"
                    ))
                    .await?;
            }
        }
        if self.input.grain.is_empty() || !grain_matches || duplicates > 0 {
            diff.note = Some(if duplicates > 0 {
                format!("{duplicates} grain keys occur more than once: compared distinct whole rows")
            } else {
                "no usable grain: compared distinct whole rows".to_string()
            });
            let columns = common.iter().map(|c| cast(&quote(&c.name), c.numeric)).collect::<Vec<_>>().join(", ");
            let except = |a: &str, b: &str| {
                format!("SELECT count(*) FROM (SELECT {columns} FROM {a} EXCEPT SELECT {columns} FROM {b})")
            };
            diff.added = self.count(&except(NEW, OLD)).await?;
            diff.removed = self.count(&except(OLD, NEW)).await?;
            return Ok((diff, Vec::new()));
        }
        let values: Vec<&ValueColumn> = common.iter().filter(|c| !self.input.grain.contains(&c.name)).collect();
        self.join(&values).await?;
        let any_change = if values.is_empty() {
            "FALSE".to_string()
        } else {
            values.iter().map(|c| distinct(&c.name)).collect::<Vec<_>>().join(" OR ")
        };
        let both = "__in_old AND __in_new";
        // Every count in one pass over the joined rows: added, removed, changed, then per column.
        let mut counts =
            vec!["NOT __in_old".to_string(), "NOT __in_new".to_string(), format!("{both} AND ({any_change})")];
        counts.extend(values.iter().map(|c| format!("{both} AND {}", distinct(&c.name))));
        let counts = self.counts(&counts).await?;
        (diff.added, diff.removed, diff.changed) = (counts[0], counts[1], counts[2]);
        diff.added_keys = self.keys(JOINED, "NOT __in_old").await?;
        diff.removed_keys = self.keys(JOINED, "NOT __in_new").await?;
        diff.changed_keys = self.keys(JOINED, &format!("{both} AND ({any_change})")).await?;
        for (column, changed) in values.iter().zip(&counts[3..]) {
            if *changed > 0 {
                diff.columns.push(self.column_diff(column, *changed).await?);
            }
        }
        let mut breaches = self.removal_breaches(thresholds, diff.removed, &diff.removed_keys);
        for threshold in thresholds {
            if let Some(breach) = self.value_breach(threshold, &common).await? {
                breaches.push(breach);
            }
        }
        Ok((diff, breaches))
    }

    fn grain_in(&self, schema: &Schema) -> bool {
        !self.input.grain.is_empty() && self.input.grain.iter().all(|g| schema.field_with_name(g).is_ok())
    }

    /// The grain columns, quoted, each prefixed with `prefix`.
    fn grain_list(&self, prefix: &str) -> String {
        self.input.grain.iter().map(|g| format!("{prefix}{}", quote(g))).collect::<Vec<_>>().join(", ")
    }

    /// Builds the joined table: the grain, whether the row is on each side, and every value column
    /// of both sides as `__o_<c>` and `__n_<c>`, cast to DOUBLE (numbers) or text.
    async fn join(&self, values: &[&ValueColumn]) -> Result<(), DiffError> {
        let mut select: Vec<String> =
            self.input.grain.iter().map(|g| format!("COALESCE(n.{0}, o.{0}) AS {0}", quote(g))).collect();
        select.push("o.__present IS NOT NULL AS __in_old".into());
        select.push("n.__present IS NOT NULL AS __in_new".into());
        for column in values {
            let name = quote(&column.name);
            select.push(format!("{} AS {}", cast(&format!("o.{name}"), column.numeric), quote(&old_of(&column.name))));
            select.push(format!("{} AS {}", cast(&format!("n.{name}"), column.numeric), quote(&new_of(&column.name))));
        }
        let on = self
            .input
            .grain
            .iter()
            .map(|g| format!("(o.{0} IS NOT DISTINCT FROM n.{0})", quote(g)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = format!(
            "SELECT {} FROM (SELECT *, TRUE AS __present FROM {OLD}) AS o \
             FULL OUTER JOIN (SELECT *, TRUE AS __present FROM {NEW}) AS n ON {on}",
            select.join(", ")
        );
        let batches = self.query(&sql).await?;
        let schema = match batches.first() {
            Some(batch) => batch.schema(),
            None => Arc::new(self.ctx.sql(&sql).await.map_err(|e| self.error(e))?.schema().as_arrow().clone()),
        };
        let table = MemTable::try_new(schema, vec![batches]).map_err(|e| self.error(e))?;
        self.ctx.register_table(JOINED, Arc::new(table)).map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Grain keys of the rows of `table` meeting `condition`, in key order, up to the limit.
    async fn keys(&self, table: &str, condition: &str) -> Result<Vec<String>, DiffError> {
        let grain = self.grain_list("");
        let batches = self
            .query(&format!("SELECT {grain} FROM {table} WHERE {condition} ORDER BY {grain} LIMIT {}", self.limit))
            .await?;
        let mut keys = Vec::new();
        for batch in &batches {
            for row in 0..batch.num_rows() {
                keys.push(self.key_of(batch, row)?);
            }
        }
        Ok(keys)
    }

    /// `year=2022 country_iso3=CHN` from the grain columns at the start of `batch`.
    fn key_of(&self, batch: &RecordBatch, row: usize) -> Result<String, DiffError> {
        let options = FormatOptions::default().with_null("null");
        let mut parts = Vec::new();
        for (index, name) in self.input.grain.iter().enumerate() {
            let formatter = ArrayFormatter::try_new(batch.column(index), &options).map_err(|e| self.error(e))?;
            parts.push(format!("{name}={}", formatter.value(row)));
        }
        Ok(parts.join(" "))
    }

    /// Changes of rows meeting `condition` (both sides present), ordered by `order`: grain
    /// columns, then the old and new value of `column`.
    async fn changes(&self, column: &ValueColumn, condition: &str, order: &str) -> Result<Vec<ValueChange>, DiffError> {
        let grain = self.grain_list("");
        let (old, new) = (quote(&old_of(&column.name)), quote(&new_of(&column.name)));
        let sql = format!(
            "SELECT {grain}, {old}, {new} FROM {JOINED} WHERE __in_old AND __in_new AND {condition} \
             ORDER BY {order}{grain} LIMIT {}",
            self.limit
        );
        let width = self.input.grain.len();
        let mut changes = Vec::new();
        for batch in self.query(&sql).await? {
            for row in 0..batch.num_rows() {
                let key = self.key_of(&batch, row)?;
                let target = if column.numeric { DataType::Float64 } else { DataType::Utf8 };
                let as_target = |index: usize| arrow::compute::cast(batch.column(index), &target);
                let (old, new) =
                    (as_target(width).map_err(|e| self.error(e))?, as_target(width + 1).map_err(|e| self.error(e))?);
                changes.push(if column.numeric {
                    number_change(key, old.as_primitive::<Float64Type>(), new.as_primitive::<Float64Type>(), row)
                } else {
                    text_change(key, old.as_string::<i32>(), new.as_string::<i32>(), row)
                });
            }
        }
        Ok(changes)
    }

    async fn column_diff(&self, column: &ValueColumn, changed: usize) -> Result<ColumnDiff, DiffError> {
        let (old, new) = (quote(&old_of(&column.name)), quote(&new_of(&column.name)));
        let changed_here = distinct(&column.name);
        let (largest_absolute, largest_relative) = if column.numeric {
            let absolute = self
                .changes(
                    column,
                    &changed_here,
                    &format!("({old} IS NULL OR {new} IS NULL) DESC, abs({new} - {old}) DESC, "),
                )
                .await?;
            let relative = self
                .changes(
                    column,
                    &format!("{changed_here} AND {old} <> 0 AND {new} IS NOT NULL"),
                    &format!("abs({new} - {old}) / abs({old}) DESC, "),
                )
                .await?;
            (absolute, relative)
        } else {
            (self.changes(column, &changed_here, "").await?, Vec::new())
        };
        Ok(ColumnDiff {
            column: column.name.clone(),
            changed,
            numeric: column.numeric,
            largest_absolute,
            largest_relative,
        })
    }

    fn removal_breaches(&self, thresholds: &[&Threshold], removed: usize, keys: &[String]) -> Vec<Breach> {
        thresholds
            .iter()
            .filter(|t| t.max_removed_rows.is_some_and(|limit| removed > limit))
            .map(|t| Breach {
                table: self.input.name.clone(),
                column: None,
                severity: t.severity,
                rule: t.rule(),
                rows: removed,
                examples: keys
                    .iter()
                    .map(|key| ValueChange {
                        key: key.clone(),
                        old: serde_json::Value::String("row".into()),
                        new: serde_json::Value::Null,
                        absolute: None,
                        relative: None,
                    })
                    .collect(),
            })
            .collect()
    }

    async fn value_breach(&self, threshold: &Threshold, common: &[ValueColumn]) -> Result<Option<Breach>, DiffError> {
        let Some(column_name) = &threshold.column else { return Ok(None) };
        let invalid =
            |problem: String| DiffError::Threshold(crate::ThresholdError { table: threshold.table.clone(), problem });
        let column = common
            .iter()
            .find(|c| &c.name == column_name && !self.input.grain.contains(&c.name))
            .ok_or_else(|| invalid(format!("no value column {column_name:?} on both sides")))?;
        if !column.numeric {
            return Err(invalid(format!("column {column_name:?} is not numeric")));
        }
        let (old, new) = (quote(&old_of(&column.name)), quote(&new_of(&column.name)));
        let Some(condition) = threshold.value_condition(&old, &new) else { return Ok(None) };
        let rows =
            self.count(&format!("SELECT count(*) FROM {JOINED} WHERE __in_old AND __in_new AND {condition}")).await?;
        if rows == 0 {
            return Ok(None);
        }
        let examples =
            self.changes(column, &condition, &format!("({new} IS NULL) DESC, abs({new} - {old}) DESC, ")).await?;
        Ok(Some(Breach {
            table: self.input.name.clone(),
            column: Some(column.name.clone()),
            severity: threshold.severity,
            rule: threshold.rule(),
            rows,
            examples,
        }))
    }
}

fn number_change(
    key: String,
    old: &arrow::array::PrimitiveArray<Float64Type>,
    new: &arrow::array::PrimitiveArray<Float64Type>,
    row: usize,
) -> ValueChange {
    let value = |array: &arrow::array::PrimitiveArray<Float64Type>| array.is_valid(row).then(|| array.value(row));
    let (old, new) = (value(old), value(new));
    let json = |v: Option<f64>| v.and_then(serde_json::Number::from_f64).map_or(serde_json::Value::Null, Into::into);
    let absolute = old.zip(new).map(|(o, n)| n - o);
    let relative = old.zip(new).filter(|(o, _)| *o != 0.0).map(|(o, n)| (n - o) / o.abs());
    ValueChange { key, old: json(old), new: json(new), absolute, relative }
}

fn text_change(
    key: String,
    old: &arrow::array::StringArray,
    new: &arrow::array::StringArray,
    row: usize,
) -> ValueChange {
    let value = |array: &arrow::array::StringArray| {
        if array.is_valid(row) {
            serde_json::Value::String(array.value(row).to_string())
        } else {
            serde_json::Value::Null
        }
    };
    ValueChange { key, old: value(old), new: value(new), absolute: None, relative: None }
}

fn schema_changes(old: &Schema, new: &Schema) -> Vec<String> {
    let mut changes = Vec::new();
    for field in new.fields() {
        match old.field_with_name(field.name()) {
            Err(_) => changes.push(format!("added column {} ({})", field.name(), field.data_type())),
            Ok(before) if before.data_type() != field.data_type() => {
                changes.push(format!("{}: {} → {}", field.name(), before.data_type(), field.data_type()));
            }
            Ok(_) => {}
        }
    }
    for field in old.fields() {
        if new.field_with_name(field.name()).is_err() {
            changes.push(format!("removed column {} ({})", field.name(), field.data_type()));
        }
    }
    changes
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn old_of(column: &str) -> String {
    format!("__o_{column}")
}

fn new_of(column: &str) -> String {
    format!("__n_{column}")
}

fn cast(expression: &str, numeric: bool) -> String {
    format!("CAST({expression} AS {})", if numeric { "DOUBLE" } else { "VARCHAR" })
}

fn distinct(column: &str) -> String {
    // Parenthesised: the SQL parser binds IS DISTINCT FROM looser than AND.
    format!("({} IS DISTINCT FROM {})", quote(&old_of(column)), quote(&new_of(column)))
}
