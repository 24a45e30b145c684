//! Number cells as statistical agencies print them.
//!
//! USGS and Comtrade cells hold more than numbers: withheld data (`W`), not available (`NA`), not
//! applicable (`XX`), net exporter (`E`), bounds (`>95`, `<1`), thousands separators (`"7,900"`)
//! dashes that the tables' legends define as zero (`—`, `--`) and ranges (`890–1,000`, `10,000 - 15,000`,
//! kept as their midpoint with flag `range`; the printed text stays in `raw_value`).
//! [`parse_number_token`] turns one cell into a value and a flag; a token outside this list is an
//! error, never a silent zero.

use std::fmt;

/// One parsed number cell: the value (None when the source gives none) and the flag that says why.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedValue {
    pub value: Option<f64>,
    /// `W` withheld, `NA` not available, `XX` not applicable, `E` net exporter, `>`/`<` bound,
    /// `zero` a dash the legend defines as zero, `range` the midpoint of a printed range; None for
    /// a plain number.
    pub flag: Option<&'static str>,
}

impl ParsedValue {
    fn number(value: f64) -> Self {
        Self { value: Some(value), flag: None }
    }
    fn flagged(value: Option<f64>, flag: &'static str) -> Self {
        Self { value, flag: Some(flag) }
    }
}

/// A cell whose text is not a number nor a known token.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "unknown value token {token:?}: expected a number (\"7,900\", 2.5), a range (890–1,000) or one of W, NA, XX, E, >N, <N, —, --, -"
)]
pub struct TokenError {
    pub token: String,
}

/// Parses one number cell. Blank cells are `Ok(None)`: the caller decides whether blank is allowed.
pub fn parse_number_token(raw: &str) -> Result<Option<ParsedValue>, TokenError> {
    let text = raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{a0}');
    if text.is_empty() {
        return Ok(None);
    }
    let parsed = match text {
        "W" => ParsedValue::flagged(None, "W"),
        "NA" | "N/A" => ParsedValue::flagged(None, "NA"),
        "XX" => ParsedValue::flagged(None, "XX"),
        "E" => ParsedValue::flagged(None, "E"),
        "—" | "–" | "--" | "-" => ParsedValue::flagged(Some(0.0), "zero"),
        _ => {
            if let Some(rest) = text.strip_prefix('>') {
                ParsedValue::flagged(Some(plain_number(rest, raw)?), ">")
            } else if let Some(rest) = text.strip_prefix('<') {
                ParsedValue::flagged(Some(plain_number(rest, raw)?), "<")
            } else if let Some((low, high)) = text.split_once('–').or_else(|| text.split_once(" - ")) {
                let (low, high) = (plain_number(low, raw)?, plain_number(high, raw)?);
                ParsedValue::flagged(Some((low + high) / 2.0), "range")
            } else {
                ParsedValue::number(plain_number(text, raw)?)
            }
        }
    };
    Ok(Some(parsed))
}

/// A number with optional thousands separators: `45,500`, `2.5`, `-3`.
fn plain_number(text: &str, raw: &str) -> Result<f64, TokenError> {
    let error = || TokenError { token: raw.to_string() };
    let text = text.trim();
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | '-')) {
        return Err(error());
    }
    if text.contains(',') && !thousands_grouping_is_valid(text) {
        return Err(error());
    }
    text.replace(',', "").parse::<f64>().map_err(|_| error())
}

/// `1,234,567.5` is valid; `1,23` or `12,3456` are not (they are more likely a decimal comma).
fn thousands_grouping_is_valid(text: &str) -> bool {
    let integer = text.trim_start_matches('-').split('.').next().unwrap_or("");
    let mut groups = integer.split(',');
    let first = groups.next().unwrap_or("");
    (1..=3).contains(&first.len()) && groups.all(|g| g.len() == 3)
}

impl fmt::Display for ParsedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({:?})", self.value, self.flag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> ParsedValue {
        parse_number_token(raw).unwrap().unwrap()
    }

    #[test]
    fn numbers_and_thousands() {
        assert_eq!(parse("45,500").value, Some(45_500.0));
        assert_eq!(parse("10,200").flag, None);
        assert_eq!(parse("2.5").value, Some(2.5));
        assert_eq!(parse(" 300000 ").value, Some(300_000.0));
        assert_eq!(parse(">85,000,000").value, Some(85_000_000.0));
    }

    #[test]
    fn tokens_are_flags_not_zeros() {
        assert_eq!(parse("W"), ParsedValue { value: None, flag: Some("W") });
        assert_eq!(parse("NA").value, None);
        assert_eq!(parse("XX").flag, Some("XX"));
        assert_eq!(parse("E"), ParsedValue { value: None, flag: Some("E") });
        assert_eq!(parse(">95"), ParsedValue { value: Some(95.0), flag: Some(">") });
        assert_eq!(parse("<1").flag, Some("<"));
        assert_eq!(parse("—"), ParsedValue { value: Some(0.0), flag: Some("zero") });
        assert_eq!(parse("--").value, Some(0.0));
        assert_eq!(parse("890–1,000"), ParsedValue { value: Some(945.0), flag: Some("range") });
        assert_eq!(parse("10,000 - 15,000").value, Some(12_500.0));
    }

    #[test]
    fn blank_is_none_and_garbage_is_error() {
        assert_eq!(parse_number_token("  ").unwrap(), None);
        assert_eq!(parse_number_token("\u{a0}").unwrap(), None);
        for bad in ["Large", "12,34", "?1", "1.2.3x", "e", "5–", "Moderate to large"] {
            let err = parse_number_token(bad).unwrap_err();
            assert_eq!(err.token, bad);
            assert!(err.to_string().contains("expected a number"));
        }
    }
}
