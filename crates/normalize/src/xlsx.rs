//! Reading XLSX workbooks (USGS Minerals Yearbook, DS-140, USITC DataWeb) into plain cell grids,
//! with Excel-style cell addresses for error messages. Formula cells yield their cached values.

use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};

use reeflow_model::date::civil_from_days;

use crate::error::{NormalizeError, Result};

/// One worksheet as a grid addressed from A1 = (0, 0).
#[derive(Debug, Clone)]
pub struct Sheet {
    pub name: String,
    rows: Vec<Vec<Data>>,
}

/// A cell's content reduced to what adapters need.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Empty,
    Number(f64),
    Text(&'a str),
}

impl Sheet {
    pub fn height(&self) -> usize {
        self.rows.len()
    }

    pub fn width(&self) -> usize {
        self.rows.iter().map(Vec::len).max().unwrap_or(0)
    }

    pub fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        match self.rows.get(row).and_then(|r| r.get(col)) {
            None | Some(Data::Empty) => Cell::Empty,
            Some(Data::Int(i)) => Cell::Number(*i as f64),
            Some(Data::Float(f)) => Cell::Number(*f),
            Some(Data::DateTime(d)) => Cell::Number(d.as_f64()),
            Some(Data::String(s)) | Some(Data::DateTimeIso(s)) | Some(Data::DurationIso(s)) => {
                if s.trim().is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(s.as_str())
                }
            }
            Some(Data::Bool(b)) => Cell::Text(if *b { "TRUE" } else { "FALSE" }),
            Some(Data::Error(_)) => Cell::Text("#ERROR"),
        }
    }

    /// The cell as trimmed text ("" when empty; numbers in their shortest form).
    pub fn text(&self, row: usize, col: usize) -> String {
        match self.cell(row, col) {
            Cell::Empty => String::new(),
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", n as i64),
            Cell::Number(n) => n.to_string(),
            Cell::Text(t) => t.trim().to_string(),
        }
    }

    /// `T8!C11` style address of a 0-based cell.
    pub fn address(&self, row: usize, col: usize) -> String {
        cell_address(&self.name, row, col)
    }
}

/// `sheet "T8", cell C11` for a 0-based cell of a named sheet.
pub fn cell_address(sheet: &str, row: usize, col: usize) -> String {
    format!("sheet {sheet:?}, cell {}{}", column_letters(col), row + 1)
}

/// `0` → `A`, `25` → `Z`, `26` → `AA`.
pub fn column_letters(mut col: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

/// An open workbook's sheets, read on demand.
pub struct Workbook {
    path: std::path::PathBuf,
    inner: calamine::Sheets<std::io::BufReader<std::fs::File>>,
}

impl Workbook {
    pub fn open(path: &Path) -> Result<Self> {
        let inner = open_workbook_auto(path)
            .map_err(|e| NormalizeError::layout(path, "workbook", format!("cannot open as XLSX: {e}")))?;
        Ok(Self { path: path.to_path_buf(), inner })
    }

    pub fn sheet_names(&self) -> Vec<String> {
        self.inner.sheet_names()
    }

    /// A sheet by exact name, or an error naming the sheets the workbook has.
    pub fn sheet(&mut self, name: &str) -> Result<Sheet> {
        let names = self.sheet_names();
        if !names.iter().any(|n| n == name) {
            return Err(NormalizeError::layout(
                &self.path,
                format!("sheet {name:?}"),
                format!("sheet not found; the workbook has sheets {names:?}"),
            ));
        }
        let range = self.inner.worksheet_range(name).map_err(|e| {
            NormalizeError::layout(&self.path, format!("sheet {name:?}"), format!("cannot read sheet: {e}"))
        })?;
        let (row0, col0) = range.start().map_or((0, 0), |(r, c)| (r as usize, c as usize));
        let mut rows: Vec<Vec<Data>> = vec![Vec::new(); row0 + range.height()];
        for (r, c, data) in range.cells() {
            let row = &mut rows[row0 + r];
            if row.len() <= col0 + c {
                row.resize(col0 + c + 1, Data::Empty);
            }
            row[col0 + c] = data.clone();
        }
        Ok(Sheet { name: name.to_string(), rows })
    }
}

/// The civil date (y, m, d) of an Excel serial date (days since 1899-12-30).
pub fn excel_serial_to_date(serial: f64) -> (i32, u32, u32) {
    let days_since_epoch = serial.floor() as i64 - 25_569; // 1970-01-01 is serial 25569
    civil_from_days(days_since_epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_and_dates() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(11), "L");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(excel_serial_to_date(46_213.7), (2026, 7, 10));
    }
}
