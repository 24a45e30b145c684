//! Checks declared in stage headers, each turned into a query that returns the violating rows.

use arrow::datatypes::DataType;

use crate::stage::StageHeader;

/// Whether a failing check stops the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Stops downstream stages, keeps the previous output, exit code 1.
    Block,
    /// Reported only.
    Warn,
}

/// One check of one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// `grain`, `not_null:<col>`, `unique:<a,b>`, `accepted_values:<col>`, `accepted_range:<col>`,
    /// `relationships:<col>`, `sql:<name>`.
    pub name: String,
    pub severity: Severity,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// Null in any key column, or a duplicated key.
    Key(Vec<String>),
    NotNull(String),
    Unique(Vec<String>),
    AcceptedValues(String, Vec<String>),
    AcceptedRange(String, Option<f64>, Option<f64>),
    Relationship(String, String, String),
    Sql(String),
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

fn literal(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        toml::Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// Every check a header declares, its grain first, with the severity `checks.warn` gives it.
pub fn checks_of(header: &StageHeader) -> Vec<Check> {
    let spec = &header.checks;
    let mut kinds: Vec<(String, Kind)> = Vec::new();
    if !header.grain.is_empty() {
        kinds.push(("grain".into(), Kind::Key(header.grain.clone())));
    }
    for column in &spec.not_null {
        kinds.push((format!("not_null:{column}"), Kind::NotNull(column.clone())));
    }
    for key in &spec.unique {
        let columns = key.columns();
        kinds.push((format!("unique:{}", columns.join(",")), Kind::Unique(columns)));
    }
    for (column, values) in &spec.accepted_values {
        kinds.push((
            format!("accepted_values:{column}"),
            Kind::AcceptedValues(column.clone(), values.iter().map(literal).collect()),
        ));
    }
    for (column, range) in &spec.accepted_range {
        kinds.push((format!("accepted_range:{column}"), Kind::AcceptedRange(column.clone(), range.min, range.max)));
    }
    for (column, target) in &spec.relationships {
        let (table, target_column) = target.split_once('.').unwrap_or((target, ""));
        kinds.push((
            format!("relationships:{column}"),
            Kind::Relationship(column.clone(), table.to_string(), target_column.to_string()),
        ));
    }
    for (name, sql) in &spec.sql {
        kinds.push((format!("sql:{name}"), Kind::Sql(sql.trim().trim_end_matches(';').to_string())));
    }
    kinds
        .into_iter()
        .map(|(name, kind)| {
            let severity = if spec.warn.contains(&name) { Severity::Warn } else { Severity::Block };
            Check { name, severity, kind }
        })
        .collect()
}

impl Check {
    /// The query returning the rows of `table` that violate this check.
    pub fn sql(&self, table: &str) -> String {
        let table = quote(table);
        match &self.kind {
            Kind::Key(columns) => {
                let keys = columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
                let nulls = columns.iter().map(|c| format!("{} IS NULL", quote(c))).collect::<Vec<_>>().join(" OR ");
                format!(
                    "SELECT {keys}, count(*) AS rows_with_key FROM {table} GROUP BY {keys} HAVING count(*) > 1 OR {nulls} ORDER BY rows_with_key DESC"
                )
            }
            Kind::NotNull(column) => format!("SELECT * FROM {table} WHERE {} IS NULL", quote(column)),
            Kind::Unique(columns) => {
                let keys = columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
                format!(
                    "SELECT {keys}, count(*) AS rows_with_key FROM {table} GROUP BY {keys} HAVING count(*) > 1 ORDER BY rows_with_key DESC"
                )
            }
            Kind::AcceptedValues(column, values) => {
                format!(
                    "SELECT * FROM {table} WHERE {0} IS NOT NULL AND {0} NOT IN ({1})",
                    quote(column),
                    values.join(", ")
                )
            }
            Kind::AcceptedRange(column, min, max) => {
                let mut outside = Vec::new();
                if let Some(min) = min {
                    outside.push(format!("{} < {min}", quote(column)));
                }
                if let Some(max) = max {
                    outside.push(format!("{} > {max}", quote(column)));
                }
                format!("SELECT * FROM {table} WHERE {}", outside.join(" OR "))
            }
            Kind::Relationship(column, other, other_column) => format!(
                "SELECT * FROM {table} WHERE {0} IS NOT NULL AND {0} NOT IN (SELECT {1} FROM {2} WHERE {1} IS NOT NULL)",
                quote(column),
                quote(other_column),
                quote(other)
            ),
            Kind::Sql(sql) => sql.clone(),
        }
    }
}

/// An Arrow type from its name in a `[schema]` contract.
pub fn parse_data_type(name: &str) -> Result<DataType, String> {
    Ok(match name {
        "Boolean" => DataType::Boolean,
        "Int8" => DataType::Int8,
        "Int16" => DataType::Int16,
        "Int32" => DataType::Int32,
        "Int64" => DataType::Int64,
        "UInt8" => DataType::UInt8,
        "UInt16" => DataType::UInt16,
        "UInt32" => DataType::UInt32,
        "UInt64" => DataType::UInt64,
        "Float32" => DataType::Float32,
        "Float64" => DataType::Float64,
        "Utf8" => DataType::Utf8,
        "Date32" => DataType::Date32,
        other => {
            return Err(format!(
                "unknown type {other:?}; expected Boolean, Int8…Int64, UInt8…UInt64, Float32, Float64, Utf8 or Date32"
            ));
        }
    })
}

/// Whether an output column's type satisfies a contract. Text compares as text whatever its Arrow
/// layout (`Utf8`, `LargeUtf8`, `Utf8View`); every other type must match exactly.
pub fn type_satisfies(actual: &DataType, declared: &DataType) -> bool {
    let is_text = |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    actual == declared || (is_text(actual) && is_text(declared))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_and_their_queries() {
        let header: StageHeader = toml::from_str(
            r#"
            description = "d"
            grain = ["year", "iso3"]
            [checks]
            not_null = ["t"]
            unique = ["iso3", ["year", "t"]]
            accepted_values = { stage = ["mining", "metal"] }
            accepted_range = { share = { min = 0, max = 1 } }
            relationships = { iso3 = "countries.iso3" }
            warn = ["accepted_range:share"]
            [checks.sql]
            positive = "SELECT * FROM s WHERE t <= 0;"
            "#,
        )
        .unwrap();
        let checks = checks_of(&header);
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "grain",
                "not_null:t",
                "unique:iso3",
                "unique:year,t",
                "accepted_values:stage",
                "accepted_range:share",
                "relationships:iso3",
                "sql:positive"
            ]
        );
        assert_eq!(checks[5].severity, Severity::Warn);
        assert_eq!(checks[0].severity, Severity::Block);
        assert!(checks[4].sql("s").ends_with("\"stage\" NOT IN ('mining', 'metal')"));
        assert!(checks[5].sql("s").ends_with("\"share\" < 0 OR \"share\" > 1"));
        assert_eq!(checks[7].sql("s"), "SELECT * FROM s WHERE t <= 0");
    }

    #[test]
    fn contracts() {
        assert_eq!(parse_data_type("Float64").unwrap(), DataType::Float64);
        assert!(parse_data_type("float").is_err());
        assert!(type_satisfies(&DataType::Utf8View, &DataType::Utf8));
        assert!(!type_satisfies(&DataType::Int64, &DataType::Int32));
    }
}
