//! Stage files: discovery, the TOML header in the leading block comment, the tables each query
//! reads, the run order, and `--select` expressions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use datafusion::sql::parser::DFParser;
use datafusion::sql::resolve::resolve_table_references;

use crate::error::{PipelineError, Result};

/// The header of a stage file, e.g.
/// ```sql
/// /*
/// description = "China's share of world mine production by year and edition."
/// grain = ["year", "edition", "country_iso3"]
/// [checks]
/// not_null = ["t_reo"]
/// accepted_range = { share_of_world = { min = 0, max = 1 } }
/// [checks.sql]
/// shares_sum_to_one = "SELECT year, edition FROM … HAVING sum(share_of_world) > 1.05"
/// */
/// ```
/// Unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageHeader {
    /// One sentence saying what a row of the output is.
    pub description: String,
    /// Columns that identify a row: checked to be not null and unique on every run.
    #[serde(default)]
    pub grain: Vec<String>,
    /// Tables this stage needs that its query does not name (e.g. read only by a check).
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Columns whose values split the output into `column=value/` folders (integer or text
    /// columns). In queries they come after the other columns.
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// Column documentation: name → meaning, with units.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Schema contract: column → Arrow type (`Int32`, `Float64`, `Utf8`, `Boolean`, `Date32`).
    /// A different type in the output is an error, never a silent cast.
    #[serde(default)]
    pub schema: BTreeMap<String, String>,
    #[serde(default)]
    pub checks: ChecksSpec,
}

/// The `[checks]` table of a header. Each check yields the rows that violate it.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksSpec {
    /// Columns that must not be null.
    #[serde(default)]
    pub not_null: Vec<String>,
    /// Keys that must be unique: a column name or a list of columns.
    #[serde(default)]
    pub unique: Vec<UniqueKey>,
    /// Column → the values it may take (nulls are left to `not_null`).
    #[serde(default)]
    pub accepted_values: BTreeMap<String, Vec<toml::Value>>,
    /// Column → inclusive bounds.
    #[serde(default)]
    pub accepted_range: BTreeMap<String, Range>,
    /// Column → `table.column` every non-null value must appear in.
    #[serde(default)]
    pub relationships: BTreeMap<String, String>,
    /// Name → a query returning violating rows; none returned means the check passes.
    #[serde(default)]
    pub sql: BTreeMap<String, String>,
    /// Names of checks that only warn (e.g. `accepted_range:share_of_world`, `sql:my_check`).
    #[serde(default)]
    pub warn: Vec<String>,
}

/// A unique key: one column or several.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum UniqueKey {
    Column(String),
    Columns(Vec<String>),
}

impl UniqueKey {
    pub fn columns(&self) -> Vec<String> {
        match self {
            UniqueKey::Column(c) => vec![c.clone()],
            UniqueKey::Columns(cs) => cs.clone(),
        }
    }
}

/// Inclusive bounds; either may be omitted.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// One stage: its name (the file stem, and its output table), file, header, SQL and inputs.
#[derive(Debug, Clone)]
pub struct Stage {
    pub name: String,
    pub file: PathBuf,
    /// The whole file: what the stage's definition hash covers.
    pub text: String,
    pub header: StageHeader,
    /// The SQL after the header comment.
    pub sql: String,
    /// Tables the stage reads: query references (CTE names excluded), relationship targets and
    /// `depends_on`, lower-cased.
    pub inputs: BTreeSet<String>,
}

/// Finds every `*.sql` under `folder` (sorted) and parses it; two files with one stem are an error.
pub fn discover_stages(folder: &Path) -> Result<Vec<Stage>> {
    let mut files = Vec::new();
    collect_sql_files(folder, &mut files)?;
    files.sort();
    let stages = files.iter().map(|f| parse_stage(f)).collect::<Result<Vec<_>>>()?;
    let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
    for stage in &stages {
        if let Some(other) = seen.insert(&stage.name, &stage.file) {
            return Err(PipelineError::Graph(format!(
                "two stage files define stage {:?}: {} and {}",
                stage.name,
                other.display(),
                stage.file.display()
            )));
        }
    }
    Ok(stages)
}

fn collect_sql_files(folder: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !folder.exists() {
        return Ok(());
    }
    let io = PipelineError::io(folder);
    for entry in std::fs::read_dir(folder).map_err(&io)? {
        let path = entry.map_err(&io)?.path();
        if path.is_dir() {
            collect_sql_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "sql") {
            out.push(path);
        }
    }
    Ok(())
}

/// 1-based (line, column) of a byte offset in `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parses one stage file: header comment, SQL, and the tables it reads.
pub fn parse_stage(file: &Path) -> Result<Stage> {
    let error = |problem: String| PipelineError::StageFile { file: file.to_path_buf(), problem };
    let text = std::fs::read_to_string(file).map_err(|e| error(format!("cannot read: {e}")))?;
    let name = file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(error(format!(
            "stage name {name:?} (the file stem) must be lower_snake_case, as it becomes a table name"
        )));
    }
    let header_start = text.len() - text.trim_start().len();
    let Some(after_open) = text[header_start..].strip_prefix("/*") else {
        return Err(error(
            "line 1: expected a leading /* … */ comment holding the TOML header (description = \"…\")".into(),
        ));
    };
    let body_start = header_start + 2;
    let Some(close) = after_open.find("*/") else {
        return Err(error("the header comment is not closed with */".into()));
    };
    let header: StageHeader = toml::from_str(&after_open[..close]).map_err(|e| {
        let (line, column) = position(&text, body_start + e.span().map_or(0, |s| s.start));
        error(format!("line {line}, column {column}: header: {}", e.message().trim()))
    })?;
    validate_header(&header).map_err(|p| error(format!("header: {p}")))?;
    let sql = after_open[close + 2..].trim().trim_end_matches(';').trim_end().to_string();
    // Parse the whole file (the header is a comment to SQL) so positions are the file's own.
    let statements = DFParser::parse_sql(&text).map_err(|e| error(format!("SQL: {e}")))?;
    if statements.len() != 1 {
        return Err(error(format!("expected exactly one SQL statement, found {}", statements.len())));
    }
    let (tables, _ctes) = resolve_table_references(&statements[0], true).map_err(|e| error(format!("SQL: {e}")))?;
    let mut inputs: BTreeSet<String> = tables.iter().map(|t| t.table().to_lowercase()).collect();
    for target in header.checks.relationships.values() {
        inputs.insert(target.split('.').next().unwrap_or_default().to_lowercase());
    }
    inputs.extend(header.depends_on.iter().map(|d| d.to_lowercase()));
    inputs.remove(&name);
    Ok(Stage { name, file: file.to_path_buf(), text, header, sql, inputs })
}

fn validate_header(header: &StageHeader) -> std::result::Result<(), String> {
    if header.description.trim().is_empty() {
        return Err("description is empty; say what one row of the output is".into());
    }
    for (column, target) in &header.checks.relationships {
        if target.split('.').count() != 2 {
            return Err(format!("relationships.{column} = {target:?}: expected \"table.column\""));
        }
    }
    for (column, range) in &header.checks.accepted_range {
        if range.min.is_none() && range.max.is_none() {
            return Err(format!("accepted_range.{column}: give min, max or both"));
        }
    }
    let names: Vec<String> = crate::checks::checks_of(header).into_iter().map(|c| c.name).collect();
    for warn in &header.checks.warn {
        if !names.contains(warn) {
            return Err(format!(
                "checks.warn names {warn:?}, which is not a check of this stage; checks are {names:?}"
            ));
        }
    }
    for (column, data_type) in &header.schema {
        crate::checks::parse_data_type(data_type).map_err(|e| format!("schema.{column}: {e}"))?;
    }
    Ok(())
}

/// Orders stages so each runs after the stages it reads; a cycle is an error naming its stages.
pub fn order_stages(stages: Vec<Stage>) -> Result<Vec<Stage>> {
    let names: BTreeSet<String> = stages.iter().map(|s| s.name.clone()).collect();
    let mut remaining = stages;
    let mut ordered: Vec<Stage> = Vec::new();
    while !remaining.is_empty() {
        let done: BTreeSet<&str> = ordered.iter().map(|s| s.name.as_str()).collect();
        let ready =
            remaining.iter().position(|s| s.inputs.iter().all(|i| !names.contains(i) || done.contains(i.as_str())));
        match ready {
            Some(index) => ordered.push(remaining.remove(index)),
            None => {
                let cycle: Vec<&str> = remaining.iter().map(|s| s.name.as_str()).collect();
                return Err(PipelineError::Graph(format!(
                    "stages depend on each other in a cycle: {}",
                    cycle.join(", ")
                )));
            }
        }
    }
    Ok(ordered)
}

/// The stages a `--select` expression names: `name`, `name+` (with descendants), `+name` (with
/// ancestors), `+name+`; several separated by commas. None selects every stage.
pub fn select_stages(ordered: &[Stage], expression: Option<&str>) -> Result<BTreeSet<String>> {
    let Some(expression) = expression else {
        return Ok(ordered.iter().map(|s| s.name.clone()).collect());
    };
    let mut selected = BTreeSet::new();
    for term in expression.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let ancestors = term.starts_with('+');
        let descendants = term.ends_with('+') && term.len() > 1;
        let name = term.trim_matches('+');
        if !ordered.iter().any(|s| s.name == name) {
            let known: Vec<&str> = ordered.iter().map(|s| s.name.as_str()).collect();
            return Err(PipelineError::Graph(format!("--select: no stage named {name:?}; stages are {known:?}")));
        }
        selected.insert(name.to_string());
        if descendants {
            // `ordered` is topological, so one pass collects every stage downstream of `name`.
            let mut downstream = BTreeSet::from([name.to_string()]);
            for stage in ordered {
                if stage.inputs.iter().any(|i| downstream.contains(i)) {
                    downstream.insert(stage.name.clone());
                }
            }
            selected.extend(downstream);
        }
        if ancestors {
            let mut frontier = vec![name.to_string()];
            while let Some(current) = frontier.pop() {
                if let Some(stage) = ordered.iter().find(|s| s.name == current) {
                    for input in &stage.inputs {
                        if ordered.iter().any(|s| &s.name == input) && selected.insert(input.clone()) {
                            frontier.push(input.clone());
                        }
                    }
                }
            }
        }
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn names(stages: &[Stage]) -> Vec<&str> {
        stages.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn header_sql_and_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "b.sql",
            "/*\ndescription = \"x\"\ngrain = [\"year\"]\n[checks.relationships]\ncountry = \"countries.iso3\"\n*/\nWITH w AS (SELECT * FROM a) SELECT * FROM w JOIN production p USING (year);",
        );
        let stage = parse_stage(&path).unwrap();
        assert_eq!(stage.name, "b");
        assert_eq!(stage.header.grain, vec!["year"]);
        assert_eq!(stage.inputs, BTreeSet::from(["a".into(), "countries".into(), "production".into()]));
        assert!(stage.sql.starts_with("WITH w AS"));
    }

    #[test]
    fn order_follows_references_and_cycles_fail() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.sql", "/* description = \"a\" */ SELECT * FROM b");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        write(&dir.path().join("sub"), "b.sql", "/* description = \"b\" */ SELECT * FROM production");
        write(dir.path(), "c.sql", "/* description = \"c\" */ SELECT * FROM production");
        let ordered = order_stages(discover_stages(dir.path()).unwrap()).unwrap();
        assert_eq!(names(&ordered), ["c", "b", "a"]);
        write(&dir.path().join("sub"), "b.sql", "/* description = \"b\" */ SELECT * FROM a");
        let err = order_stages(discover_stages(dir.path()).unwrap()).unwrap_err().to_string();
        assert!(err.contains("cycle: a, b"), "{err}");
    }

    #[test]
    fn duplicate_names_fail() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.sql", "/* description = \"a\" */ SELECT 1");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        write(&dir.path().join("sub"), "a.sql", "/* description = \"a\" */ SELECT 2");
        let err = discover_stages(dir.path()).unwrap_err().to_string();
        assert!(err.contains("two stage files define stage \"a\""), "{err}");
    }

    #[test]
    fn header_and_sql_errors_name_the_file_and_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "c.sql", "/*\ndescription = \"c\"\nmaterialise = true\n*/\nSELECT 1");
        let err = parse_stage(&path).unwrap_err().to_string();
        assert!(err.contains("c.sql: line 3, column 1: header: unknown field `materialise`"), "{err}");
        let path = write(dir.path(), "d.sql", "/*\ndescription = \"d\"\n*/\nSELECT *\nFROM t\nWHERE x = = 1");
        let err = parse_stage(&path).unwrap_err().to_string();
        assert!(err.contains("d.sql: SQL") && err.contains("Line: 6"), "{err}");
        let path = write(dir.path(), "e.sql", "/*\ndescription = \"e\"\n[checks]\nwarn = [\"sql:nope\"]\n*/\nSELECT 1");
        let err = parse_stage(&path).unwrap_err().to_string();
        assert!(err.contains("checks.warn names \"sql:nope\""), "{err}");
        let path = write(dir.path(), "f.sql", "/*\ndescription = \"f\"\n[schema]\nx = \"Integer\"\n*/\nSELECT 1 AS x");
        let err = parse_stage(&path).unwrap_err().to_string();
        assert!(err.contains("schema.x"), "{err}");
    }

    #[test]
    fn select_expressions() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.sql", "/* description = \"a\" */ SELECT * FROM production");
        write(dir.path(), "b.sql", "/* description = \"b\" */ SELECT * FROM a");
        write(dir.path(), "c.sql", "/* description = \"c\" */ SELECT * FROM b");
        write(dir.path(), "d.sql", "/* description = \"d\" */ SELECT * FROM trade");
        let ordered = order_stages(discover_stages(dir.path()).unwrap()).unwrap();
        let set = |e| select_stages(&ordered, Some(e)).unwrap().into_iter().collect::<Vec<_>>();
        assert_eq!(set("b"), ["b"]);
        assert_eq!(set("b+"), ["b", "c"]);
        assert_eq!(set("+b"), ["a", "b"]);
        assert_eq!(set("a+,d"), ["a", "b", "c", "d"]);
        assert!(select_stages(&ordered, Some("zz")).is_err());
        assert_eq!(select_stages(&ordered, None).unwrap().len(), 4);
    }
}
