//! Stage files: discovery, the TOML header in the leading block comment, and the run order.

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
/// */
/// ```
/// Unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageHeader {
    /// One sentence saying what a row of the output is.
    pub description: String,
    /// Columns that identify a row: checked to be not null and unique after every run.
    #[serde(default)]
    pub grain: Vec<String>,
    /// Column documentation: name → meaning, with units.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

/// One stage: its name (the file stem, and its output table), file, header, SQL and inputs.
#[derive(Debug, Clone)]
pub struct Stage {
    pub name: String,
    pub file: PathBuf,
    pub header: StageHeader,
    /// The SQL after the header comment.
    pub sql: String,
    /// Tables the query reads, CTE names excluded, lower-cased.
    pub inputs: BTreeSet<String>,
}

/// Finds every `*.sql` under `folder` (sorted) and parses it.
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
    let entries = std::fs::read_dir(folder)
        .map_err(|e| PipelineError::Io { path: folder.to_path_buf(), message: e.to_string() })?;
    for entry in entries {
        let path = entry.map_err(|e| PipelineError::Io { path: folder.to_path_buf(), message: e.to_string() })?.path();
        if path.is_dir() {
            collect_sql_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "sql") {
            out.push(path);
        }
    }
    Ok(())
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
    let trimmed = text.trim_start();
    let Some(after_open) = trimmed.strip_prefix("/*") else {
        return Err(error("expected a leading /* … */ comment holding the TOML header (description = \"…\")".into()));
    };
    let Some(close) = after_open.find("*/") else {
        return Err(error("the header comment is not closed with */".into()));
    };
    let header: StageHeader =
        toml::from_str(&after_open[..close]).map_err(|e| error(format!("header: {}", e.to_string().trim())))?;
    let sql = after_open[close + 2..].trim().trim_end_matches(';').to_string();
    let statements = DFParser::parse_sql(&sql).map_err(|e| error(format!("SQL: {e}")))?;
    if statements.len() != 1 {
        return Err(error(format!("expected exactly one SQL statement, found {}", statements.len())));
    }
    let (tables, _ctes) = resolve_table_references(&statements[0], true).map_err(|e| error(format!("SQL: {e}")))?;
    let inputs = tables.iter().map(|t| t.table().to_lowercase()).collect();
    Ok(Stage { name, file: file.to_path_buf(), header, sql, inputs })
}

/// Orders stages so each runs after the stages it reads; a cycle is an error naming its stages.
pub fn order_stages(stages: Vec<Stage>) -> Result<Vec<Stage>> {
    let names: BTreeSet<String> = stages.iter().map(|s| s.name.clone()).collect();
    let mut remaining = stages;
    let mut ordered: Vec<Stage> = Vec::new();
    while !remaining.is_empty() {
        let done: BTreeSet<&str> = ordered.iter().map(|s| s.name.as_str()).collect();
        let ready = remaining
            .iter()
            .position(|s| s.inputs.iter().all(|i| !names.contains(i) || done.contains(i.as_str()) || *i == s.name));
        match ready {
            Some(index) => {
                let stage = remaining.remove(index);
                if stage.inputs.contains(&stage.name) {
                    return Err(PipelineError::Graph(format!("stage {:?} reads its own output", stage.name)));
                }
                ordered.push(stage);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn header_sql_and_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "b.sql",
            "/*\ndescription = \"x\"\ngrain = [\"year\"]\n*/\nWITH w AS (SELECT * FROM a) SELECT * FROM w JOIN production p USING (year);",
        );
        let stage = parse_stage(&path).unwrap();
        assert_eq!(stage.name, "b");
        assert_eq!(stage.header.grain, vec!["year"]);
        assert_eq!(stage.inputs, BTreeSet::from(["a".to_string(), "production".to_string()]));
    }

    #[test]
    fn order_follows_references_and_cycles_fail() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.sql", "/* description = \"a\" */ SELECT * FROM b");
        write(dir.path(), "b.sql", "/* description = \"b\" */ SELECT * FROM production");
        let ordered = order_stages(discover_stages(dir.path()).unwrap()).unwrap();
        assert_eq!(ordered.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        write(dir.path(), "b.sql", "/* description = \"b\" */ SELECT * FROM a");
        let err = order_stages(discover_stages(dir.path()).unwrap()).unwrap_err().to_string();
        assert!(err.contains("cycle: a, b"), "{err}");
    }

    #[test]
    fn header_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "c.sql", "/* description = \"c\"\nmaterialise = true */ SELECT 1");
        let err = parse_stage(&path).unwrap_err().to_string();
        assert!(err.contains("c.sql: header") && err.contains("materialise"), "{err}");
        let path = write(dir.path(), "d.sql", "/* description = \"d\" */ SELEC 1");
        let err = parse_stage(&path).unwrap_err().to_string();
        assert!(err.contains("d.sql: SQL"), "{err}");
    }
}
