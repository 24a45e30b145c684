//! Thresholds: how large a change to a table may be before it needs a person.

/// Whether a breach stops publishing (`block`) or is only reported (`warn`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Block,
    Warn,
}

/// One `[[diff.thresholds]]` entry. A value change breaches when it is larger than
/// `max_relative_change` (relative to the old value) and larger than `min_absolute_change`
/// (a noise floor), or larger than `max_absolute_change`; a value that disappears (becomes null)
/// always breaches a value threshold. `max_removed_rows` limits rows that vanish.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub table: String,
    /// The numeric column value thresholds apply to.
    #[serde(default)]
    pub column: Option<String>,
    #[serde(default)]
    pub max_relative_change: Option<f64>,
    #[serde(default)]
    pub min_absolute_change: Option<f64>,
    #[serde(default)]
    pub max_absolute_change: Option<f64>,
    #[serde(default)]
    pub max_removed_rows: Option<usize>,
    #[serde(default)]
    pub severity: Severity,
    /// What the threshold protects, shown with a breach.
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("diff threshold for table {table}: {problem}")]
pub struct ThresholdError {
    pub table: String,
    pub problem: String,
}

impl Threshold {
    /// Checks the entry is complete and consistent.
    pub fn validate(&self) -> Result<(), ThresholdError> {
        let problem = |problem: &str| Err(ThresholdError { table: self.table.clone(), problem: problem.to_string() });
        let value_limit = self.max_relative_change.is_some() || self.max_absolute_change.is_some();
        if !value_limit && self.max_removed_rows.is_none() {
            return problem("set max_relative_change, max_absolute_change or max_removed_rows");
        }
        if value_limit && self.column.is_none() {
            return problem("a value limit needs `column`, the numeric column it applies to");
        }
        if self.min_absolute_change.is_some() && self.max_relative_change.is_none() {
            return problem("min_absolute_change is the noise floor of max_relative_change: set both");
        }
        let limits = [self.max_relative_change, self.min_absolute_change, self.max_absolute_change];
        if limits.iter().flatten().any(|v| !v.is_finite() || *v < 0.0) {
            return problem("limits must be finite and not negative");
        }
        Ok(())
    }

    /// The threshold in words, for reports.
    pub fn rule(&self) -> String {
        let mut parts = Vec::new();
        let column = self.column.as_deref().unwrap_or("?");
        if let Some(limit) = self.max_relative_change {
            let floor = self.min_absolute_change.map(|f| format!(" (and by more than {f})")).unwrap_or_default();
            parts.push(format!("{column} moves more than {}%{floor} or disappears", limit * 100.0));
        }
        if let Some(limit) = self.max_absolute_change {
            parts.push(format!("{column} moves by more than {limit} or disappears"));
        }
        if let Some(limit) = self.max_removed_rows {
            parts.push(format!("more than {limit} rows removed"));
        }
        let rule = parts.join("; ");
        match &self.description {
            Some(description) => format!("{description}: {rule}"),
            None => rule,
        }
    }

    /// The SQL condition (over `o` old and `n` new values, as DOUBLE) a breaching change meets.
    pub(crate) fn value_condition(&self, old: &str, new: &str) -> Option<String> {
        let delta = format!("abs({new} - {old})");
        let mut alternatives = Vec::new();
        if let Some(limit) = self.max_relative_change {
            let floor = self.min_absolute_change.unwrap_or(0.0);
            alternatives.push(format!("({delta} > {floor:?} AND ({old} = 0 OR {delta} / abs({old}) > {limit:?}))"));
        }
        if let Some(limit) = self.max_absolute_change {
            alternatives.push(format!("{delta} > {limit:?}"));
        }
        if alternatives.is_empty() {
            return None;
        }
        Some(format!("({old} IS NOT NULL AND ({new} IS NULL OR {}))", alternatives.join(" OR ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threshold(text: &str) -> Threshold {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn incomplete_thresholds_are_refused_with_the_reason() {
        let no_limit = threshold("table = \"production\"\ncolumn = \"t_reo\"");
        assert!(no_limit.validate().unwrap_err().to_string().contains("set max_relative_change"));
        let no_column = threshold("table = \"production\"\nmax_relative_change = 0.05");
        assert!(no_column.validate().unwrap_err().to_string().contains("needs `column`"));
        let negative = threshold("table = \"production\"\ncolumn = \"t_reo\"\nmax_relative_change = -1.0");
        assert!(negative.validate().is_err());
        assert!(toml::from_str::<Threshold>("table = \"p\"\nmax_relative = 1.0").is_err(), "unknown keys");
    }

    #[test]
    fn the_rule_reads_as_words() {
        let t = threshold(
            "table = \"production\"\ncolumn = \"t_reo\"\nmax_relative_change = 0.05\nmin_absolute_change = 1.0\nmax_removed_rows = 0\ndescription = \"USGS figures\"",
        );
        t.validate().unwrap();
        assert_eq!(
            t.rule(),
            "USGS figures: t_reo moves more than 5% (and by more than 1) or disappears; more than 0 rows removed"
        );
    }
}
