//! Reports as text (for a terminal) and Markdown (for a CI comment); JSON is the serde form.

use std::fmt::Write;

use crate::{Breach, DiffReport, Severity, TableDiff, ValueChange};

/// Changes listed per column in text and Markdown (JSON has the report's full lists).
const SHOWN: usize = 5;

fn rows(value: Option<usize>) -> String {
    value.map_or_else(|| "—".to_string(), |v| v.to_string())
}

fn value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::String(text) => text.clone(),
        // Whole numbers without a trailing `.0` (years, months, counts, tonnes), other numbers to four decimals at most (JSON keeps them exact).
        serde_json::Value::Number(number) => match number.as_f64() {
            Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
            Some(v) => format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_string(),
            None => number.to_string(),
        },
        other => other.to_string(),
    }
}

fn change(change: &ValueChange) -> String {
    let mut text = format!("{}: {} → {}", change.key, value(&change.old), value(&change.new));
    if let Some(relative) = change.relative {
        let percent = relative * 100.0;
        let digits = if percent.abs() < 1.0 { 3 } else { 1 };
        let _ = write!(text, " ({percent:+.digits$}%)");
    }
    text
}

fn status(table: &TableDiff) -> &'static str {
    match (table.old_rows, table.new_rows) {
        (None, Some(_)) => "new table",
        (Some(_), None) => "table removed",
        _ if table.has_changes() => "changed",
        _ => "unchanged",
    }
}

const HEADER: [&str; 7] = ["table", "old rows", "new rows", "added", "removed", "changed", "status"];

/// One table's summary row: the cells under [`HEADER`].
fn summary_cells(table: &TableDiff) -> [String; 7] {
    [
        table.table.clone(),
        rows(table.old_rows),
        rows(table.new_rows),
        table.added.to_string(),
        table.removed.to_string(),
        table.changed.to_string(),
        status(table).to_string(),
    ]
}

fn breach_line(breach: &Breach) -> String {
    let column = breach.column.as_deref().map(|c| format!(".{c}")).unwrap_or_default();
    let word = match breach.severity {
        Severity::Block => "BLOCK",
        Severity::Warn => "warn",
    };
    format!("{word} {}{column}: {} rows: {}", breach.table, breach.rows, breach.rule)
}

pub fn text(report: &DiffReport) -> String {
    let mut out = format!("diff {} → {}\n\n", report.old, report.new);
    let line = |c: &[String; 7]| {
        format!("{:<28} {:>9} {:>9} {:>8} {:>8} {:>8}  {}\n", c[0], c[1], c[2], c[3], c[4], c[5], c[6])
    };
    out.push_str(&line(&HEADER.map(String::from)));
    for table in &report.tables {
        out.push_str(&line(&summary_cells(table)));
    }
    for table in report.tables.iter().filter(|t| t.has_changes() && t.old_rows.is_some() && t.new_rows.is_some()) {
        let _ = writeln!(out, "\n{}", table.table);
        if let Some(note) = &table.note {
            let _ = writeln!(out, "  note: {note}");
        }
        for schema_change in &table.schema_changes {
            let _ = writeln!(out, "  schema: {schema_change}");
        }
        for (label, keys, count) in
            [("added", &table.added_keys, table.added), ("removed", &table.removed_keys, table.removed)]
        {
            if count > 0 {
                let more = if count > keys.len().min(SHOWN) { ", …" } else { "" };
                let shown: Vec<&str> = keys.iter().take(SHOWN).map(String::as_str).collect();
                let _ = writeln!(out, "  {label} {count}: {}{more}", shown.join("; "));
            }
        }
        for column in &table.columns {
            let _ = writeln!(out, "  {} changed in {} rows", column.column, column.changed);
            for item in column.largest_absolute.iter().take(SHOWN) {
                let _ = writeln!(out, "    {}", change(item));
            }
            let fresh: Vec<&ValueChange> = column
                .largest_relative
                .iter()
                .filter(|c| !column.largest_absolute.iter().take(SHOWN).any(|a| a.key == c.key))
                .take(SHOWN)
                .collect();
            if !fresh.is_empty() {
                let _ = writeln!(out, "    largest relative changes not listed above:");
                for item in fresh {
                    let _ = writeln!(out, "    {}", change(item));
                }
            }
        }
    }
    if report.breaches.is_empty() {
        let _ = writeln!(out, "\nno threshold breached");
    } else {
        let _ = writeln!(out, "\nthresholds breached:");
        for breach in &report.breaches {
            let _ = writeln!(out, "  {}", breach_line(breach));
            for example in breach.examples.iter().take(SHOWN) {
                let _ = writeln!(out, "    {}", change(example));
            }
        }
    }
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

pub fn markdown(report: &DiffReport) -> String {
    let mut out = format!("### reeflow diff `{}` → `{}`\n\n", report.old, report.new);
    if report.breaches.is_empty() {
        out.push_str("No threshold breached.\n\n");
    } else {
        out.push_str("**Thresholds breached:**\n\n");
        for breach in &report.breaches {
            let _ = writeln!(out, "- {}", cell(&breach_line(breach)));
            for example in breach.examples.iter().take(SHOWN) {
                let _ = writeln!(out, "  - `{}`", change(example));
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    out.push_str("|---|---:|---:|---:|---:|---:|---|\n");
    for table in &report.tables {
        let _ = writeln!(out, "| {} |", summary_cells(table).join(" | "));
    }
    for table in report.tables.iter().filter(|t| !t.columns.is_empty() || !t.schema_changes.is_empty()) {
        let _ = writeln!(out, "\n<details><summary>{}</summary>\n", table.table);
        for schema_change in &table.schema_changes {
            let _ = writeln!(out, "- schema: {}", cell(schema_change));
        }
        for column in &table.columns {
            let _ = writeln!(out, "- `{}` changed in {} rows", column.column, column.changed);
            for item in column.largest_absolute.iter().take(SHOWN) {
                let _ = writeln!(out, "  - `{}`", change(item));
            }
        }
        out.push_str("\n</details>\n");
    }
    out
}
