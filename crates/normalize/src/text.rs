//! Reading text files as the agencies ship them: UTF-8 with or without a BOM, or Windows-1252,
//! CRLF line endings, quoted fields with embedded newlines, trailing empty columns, blank rows.

use std::path::Path;

use crate::error::{NormalizeError, Result};

/// The text encodings reeflow reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8; a leading BOM is dropped. Invalid UTF-8 is an error naming the byte offset.
    Utf8,
    /// Windows-1252 (the MCS 2026 combined release).
    Windows1252,
}

/// Reads a whole file and decodes it.
pub fn read_text(path: &Path, encoding: Encoding) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| NormalizeError::read(path, e))?;
    decode(path, &bytes, encoding)
}

fn decode(path: &Path, bytes: &[u8], encoding: Encoding) -> Result<String> {
    match encoding {
        Encoding::Utf8 => {
            let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            String::from_utf8(body.to_vec()).map_err(|e| {
                NormalizeError::layout(
                    path,
                    format!("byte {}", e.utf8_error().valid_up_to()),
                    "not valid UTF-8 (expected a UTF-8 CSV; is it Windows-1252?)",
                )
            })
        }
        Encoding::Windows1252 => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            Ok(text.into_owned())
        }
    }
}

/// A CSV record with the line it started on (1-based, header is line 1).
#[derive(Debug, Clone)]
pub struct CsvRecord {
    pub line: u64,
    pub fields: Vec<String>,
}

impl CsvRecord {
    /// True for rows with no content at all (`,,,,` rows some USGS files end with).
    pub fn is_blank(&self) -> bool {
        self.fields.iter().all(|f| f.trim().is_empty())
    }
}

/// A parsed CSV: the header (trailing empty columns dropped) and the records.
#[derive(Debug, Clone)]
pub struct CsvTable {
    pub header: Vec<String>,
    pub records: Vec<CsvRecord>,
}

impl CsvTable {
    /// Parses CSV text. Rows may be shorter or longer than the header (trailing commas); extra
    /// fields must be empty.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
        let mut row = csv::StringRecord::new();
        if !reader.read_record(&mut row).map_err(|e| csv_error(path, &e))? {
            return Err(NormalizeError::layout(path, "line 1", "the file is empty; expected a header row"));
        }
        let mut header: Vec<String> = row.iter().map(|h| h.trim().to_string()).collect();
        while header.last().is_some_and(|h| h.is_empty()) {
            header.pop();
        }
        let mut records = Vec::new();
        // Newlines before byte `counted` have been counted into `line` (1-based).
        let (mut line, mut counted) = (1u64, 0usize);
        loop {
            if !reader.read_record(&mut row).map_err(|e| csv_error(path, &e))? {
                break;
            }
            // The line the record starts on, counted from its byte offset: the reader's own line
            // count lags by one after a CRLF (it consumes the LF lazily) and not after an LF.
            let offset = row.position().map_or(text.len(), |p| p.byte() as usize);
            let start = offset
                + text.as_bytes()[offset.min(text.len())..].iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
            line += text.as_bytes()[counted..start].iter().filter(|b| **b == b'\n').count() as u64;
            counted = start;
            let fields: Vec<String> = row.iter().map(str::to_string).collect();
            if let Some((index, extra)) =
                fields.iter().enumerate().skip(header.len()).find(|(_, f)| !f.trim().is_empty())
            {
                return Err(NormalizeError::layout(
                    path,
                    format!("line {line}, field {}", index + 1),
                    format!("value {extra:?} beyond the {} header columns", header.len()),
                ));
            }
            records.push(CsvRecord { line, fields });
        }
        Ok(Self { header, records })
    }

    /// The index of a required column, or an error naming the column and the header found.
    pub fn column(&self, path: &Path, name: &str) -> Result<usize> {
        self.header.iter().position(|h| h == name).ok_or_else(|| {
            NormalizeError::layout(path, "header", format!("missing column {name:?}; found columns {:?}", self.header))
        })
    }

    /// Checks the header is exactly the expected columns, in order.
    pub fn expect_header(&self, path: &Path, expected: &[&str]) -> Result<()> {
        for (index, name) in expected.iter().enumerate() {
            match self.header.get(index) {
                Some(found) if found == name => {}
                found => {
                    return Err(NormalizeError::layout(
                        path,
                        format!("header, column {}", index + 1),
                        format!("expected column {name:?}, found {:?}", found.map(String::as_str).unwrap_or("<none>")),
                    ));
                }
            }
        }
        if self.header.len() > expected.len() {
            return Err(NormalizeError::layout(
                path,
                format!("header, column {}", expected.len() + 1),
                format!("unexpected extra column {:?}", self.header[expected.len()]),
            ));
        }
        Ok(())
    }
}

impl CsvRecord {
    /// The field at `index` (empty when the row is short).
    pub fn get(&self, index: usize) -> &str {
        self.fields.get(index).map_or("", String::as_str)
    }
}

fn csv_error(path: &Path, error: &csv::Error) -> NormalizeError {
    let line = error.position().map_or_else(|| "unknown line".to_string(), |p| format!("line {}", p.line()));
    NormalizeError::layout(path, line, format!("malformed CSV: {error}"))
}

/// Collapses whitespace (including non-breaking spaces and newlines) in a note to single spaces.
pub fn clean_note(note: &str) -> Option<String> {
    let cleaned = note
        .split(|c: char| c.is_whitespace() || c == '\u{a0}')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!cleaned.is_empty()).then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_crlf_trailing_columns_and_blank_rows() {
        let text = "\u{feff}A,B,,\r\n1,2,,\r\n,,,\r\n";
        let decoded = decode(Path::new("x.csv"), text.as_bytes(), Encoding::Utf8).unwrap();
        let table = CsvTable::parse(Path::new("x.csv"), &decoded).unwrap();
        assert_eq!(table.header, vec!["A", "B"]);
        assert_eq!(table.records.len(), 2);
        assert!(table.records[1].is_blank());
        assert_eq!(table.records[0].line, 2);
        // LF endings and a quoted field over two lines: each record keeps the line it starts on.
        let table = CsvTable::parse(Path::new("x.csv"), "A,B\n1,\"two\nlines\"\n3,4\n").unwrap();
        assert_eq!(table.records.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 4]);
    }

    #[test]
    fn windows_1252_em_dash() {
        let decoded = decode(Path::new("x.csv"), b"a,\x97\r\n", Encoding::Windows1252).unwrap();
        assert_eq!(decoded, "a,\u{2014}\r\n");
        let err = decode(Path::new("x.csv"), b"a,\x97\r\n", Encoding::Utf8).unwrap_err();
        assert!(err.to_string().contains("x.csv: byte 2: not valid UTF-8"));
    }

    #[test]
    fn missing_column_names_the_column() {
        let table = CsvTable::parse(Path::new("w.csv"), "A,B\n1,2\n").unwrap();
        let err = table.column(Path::new("w.csv"), "Country").unwrap_err().to_string();
        assert!(err.contains("w.csv: header: missing column \"Country\""), "{err}");
    }
}
