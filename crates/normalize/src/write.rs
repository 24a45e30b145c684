//! Writes canonical tables as Parquet, one file per table, each through `reeflow-files` (temporary
//! name, fsync, rename, fsync of the folder), so a reader sees the old table or the new one, never
//! half of one. A `_manifest.json` lists each table's rows and the files it came from.

use std::fs;
use std::path::{Path, PathBuf};

use reeflow_files::failpoint;
use reeflow_files::parquet::{ParquetFile, write_parquet};
use reeflow_files::{WriteError, WriteStep, write_bytes_atomically};
use reeflow_model::{CountryRow, ProductionRow, SalientRow, Table, TradeRow};

use crate::error::{NormalizeError, Result};
use crate::{FileReport, Tables};

/// A table written to disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WrittenTable {
    pub table: String,
    pub path: PathBuf,
    pub rows: usize,
}

/// Writes every canonical table to `out_dir/<table>.parquet` and `out_dir/_manifest.json`.
pub fn write_tables(tables: &Tables, files: &[FileReport], out_dir: &Path) -> Result<Vec<WrittenTable>> {
    fs::create_dir_all(out_dir).map_err(|e| NormalizeError::read(out_dir, e))?;
    let mut trade = TradeSink::create(out_dir)?;
    trade.write(&tables.trade)?;
    finish_tables(tables, trade, files, out_dir)
}

/// Normalizes `raw` into `out_dir`, streaming trade rows to disk file by file (memory holds one
/// raw file's rows at a time), then writes the other tables and the manifest. `on_file` hears of
/// each raw file as it is read.
pub fn normalize_into(
    raw: &Path,
    options: &crate::NormalizeOptions,
    out_dir: &Path,
    on_file: impl FnMut(crate::FileDone),
) -> Result<(crate::Normalized, Vec<WrittenTable>)> {
    fs::create_dir_all(out_dir).map_err(|e| NormalizeError::read(out_dir, e))?;
    let mut trade = TradeSink::create(out_dir)?;
    let normalized = crate::normalize_folder_with(raw, options, |rows| trade.write(&rows), on_file)?;
    let written = finish_tables(&normalized.tables, trade, &normalized.files, out_dir)?;
    Ok((normalized, written))
}

/// Writes production, salient and countries, closes the trade file, and writes the manifest.
fn finish_tables(tables: &Tables, trade: TradeSink, files: &[FileReport], out_dir: &Path) -> Result<Vec<WrittenTable>> {
    let written = vec![
        write_one::<ProductionRow>(&tables.production, out_dir)?,
        trade.finish()?,
        write_one::<SalientRow>(&tables.salient, out_dir)?,
        write_one::<CountryRow>(&tables.countries, out_dir)?,
    ];
    let manifest = serde_json::json!({
        "tables": written.iter().map(|w| serde_json::json!({"table": w.table, "rows": w.rows})).collect::<Vec<_>>(),
        "files": files.iter().map(|f| serde_json::json!({
            "file": f.file,
            "bytes": f.bytes,
            "sha256": f.sha256,
            "format": f.format.map(|x| x.name()),
            "rows": {"production": f.production, "trade": f.trade, "salient": f.salient, "countries": f.countries},
            "skipped": f.skipped.iter().map(|(reason, count)| serde_json::json!({"reason": reason, "count": count})).collect::<Vec<_>>(),
            "ignored": f.ignored,
        })).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
    write_bytes_atomically(&out_dir.join("_manifest.json"), text.as_bytes())
        .map_err(|source| NormalizeError::Write { table: "_manifest".into(), source })?;
    Ok(written)
}

fn write_error(table: &str) -> impl Fn(WriteError) -> NormalizeError + '_ {
    move |source| NormalizeError::Write { table: table.to_string(), source }
}

/// The trade table written as rows arrive: batches into one Parquet file under a temporary name,
/// put in place by [`TradeSink::finish`] (dropped unfinished, nothing is left behind).
struct TradeSink {
    file: ParquetFile,
    path: PathBuf,
}

impl TradeSink {
    fn create(out_dir: &Path) -> Result<Self> {
        let path = out_dir.join(format!("{}.parquet", TradeRow::NAME));
        let file = ParquetFile::create(&path, TradeRow::schema()).map_err(write_error(TradeRow::NAME))?;
        Ok(Self { file, path })
    }

    fn write(&mut self, rows: &[TradeRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let batch = TradeRow::to_batch(rows).map_err(|e| NormalizeError::Write {
            table: TradeRow::NAME.into(),
            source: WriteError { path: self.path.clone(), step: WriteStep::Write, source: e.into() },
        })?;
        self.file.write(&batch).map_err(write_error(TradeRow::NAME))
    }

    fn finish(self) -> Result<WrittenTable> {
        let rows = self.file.finish().map_err(write_error(TradeRow::NAME))?;
        failpoint::reached("normalize:table");
        Ok(WrittenTable { table: TradeRow::NAME.to_string(), path: self.path, rows })
    }
}

fn write_one<T: Table>(rows: &[T], out_dir: &Path) -> Result<WrittenTable> {
    let path = out_dir.join(format!("{}.parquet", T::NAME));
    let batch = T::to_batch(rows).map_err(|e| NormalizeError::Write {
        table: T::NAME.into(),
        source: WriteError { path: path.clone(), step: WriteStep::Write, source: e.into() },
    })?;
    write_parquet(&path, &batch).map_err(write_error(T::NAME))?;
    failpoint::reached("normalize:table");
    Ok(WrittenTable { table: T::NAME.to_string(), path, rows: rows.len() })
}
