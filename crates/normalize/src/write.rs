//! Writes canonical tables as Parquet, one file per table, atomically: each file is written to a
//! temporary name beside its target and renamed over it, so a reader sees the old table or the new
//! one, never half of one. A `_manifest.json` lists each table's rows and the files it came from.

use std::fs;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
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
/// raw file's rows at a time), then writes the other tables and the manifest.
pub fn normalize_into(
    raw: &Path,
    options: &crate::NormalizeOptions,
    out_dir: &Path,
) -> Result<(crate::Normalized, Vec<WrittenTable>)> {
    fs::create_dir_all(out_dir).map_err(|e| NormalizeError::read(out_dir, e))?;
    let mut trade = TradeSink::create(out_dir)?;
    let normalized = crate::normalize_folder_with(raw, options, |rows| trade.write(&rows))?;
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
    write_atomically(&out_dir.join("_manifest.json"), "_manifest", |mut file| {
        use std::io::Write;
        file.write_all(text.as_bytes()).map_err(|e| e.to_string())
    })?;
    Ok(written)
}

/// The trade table written as rows arrive: batches into one Parquet file under a temporary name,
/// renamed into place by [`TradeSink::finish`] (dropped unfinished, the temporary file is removed).
struct TradeSink {
    writer: Option<ArrowWriter<fs::File>>,
    temporary: PathBuf,
    path: PathBuf,
    rows: usize,
}

impl TradeSink {
    fn create(out_dir: &Path) -> Result<Self> {
        let path = out_dir.join(format!("{}.parquet", TradeRow::NAME));
        let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
        let error =
            |message: String| NormalizeError::Write { file: path.clone(), table: TradeRow::NAME.into(), message };
        let file = fs::File::create(&temporary).map_err(|e| error(e.to_string()))?;
        let writer = ArrowWriter::try_new(file, TradeRow::schema(), Some(writer_properties()?))
            .map_err(|e| error(e.to_string()))?;
        Ok(Self { writer: Some(writer), temporary, path, rows: 0 })
    }

    fn error(&self, message: impl ToString) -> NormalizeError {
        NormalizeError::Write { file: self.path.clone(), table: TradeRow::NAME.into(), message: message.to_string() }
    }

    fn write(&mut self, rows: &[TradeRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let batch = TradeRow::to_batch(rows).map_err(|e| self.error(e))?;
        let Some(writer) = self.writer.as_mut() else { return Err(self.error("already finished")) };
        if let Err(e) = writer.write(&batch) {
            return Err(self.error(e));
        }
        self.rows += rows.len();
        Ok(())
    }

    fn finish(mut self) -> Result<WrittenTable> {
        let writer = self.writer.take().ok_or_else(|| self.error("already finished"))?;
        let file = writer.into_inner().map_err(|e| self.error(e))?;
        file.sync_all().map_err(|e| self.error(e))?;
        fs::rename(&self.temporary, &self.path).map_err(|e| self.error(e))?;
        reeflow_model::failpoint::reached("normalize:table");
        Ok(WrittenTable { table: TradeRow::NAME.to_string(), path: self.path.clone(), rows: self.rows })
    }
}

impl Drop for TradeSink {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = fs::remove_file(&self.temporary);
        }
    }
}

fn write_one<T: Table>(rows: &[T], out_dir: &Path) -> Result<WrittenTable> {
    let path = out_dir.join(format!("{}.parquet", T::NAME));
    let batch = T::to_batch(rows).map_err(|e| NormalizeError::Write {
        file: path.clone(),
        table: T::NAME.into(),
        message: e.to_string(),
    })?;
    write_atomically(&path, T::NAME, |file| write_parquet(file, &batch))?;
    reeflow_model::failpoint::reached("normalize:table");
    Ok(WrittenTable { table: T::NAME.to_string(), path, rows: rows.len() })
}

/// zstd compression and no wall-clock metadata, so the same rows give the same bytes.
fn writer_properties() -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(9).map_err(|e| NormalizeError::Write {
        file: PathBuf::new(),
        table: String::new(),
        message: e.to_string(),
    })?;
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_created_by("reeflow".to_string())
        .build())
}

/// One batch as a Parquet file, with [`writer_properties`].
pub fn write_parquet(file: fs::File, batch: &RecordBatch) -> std::result::Result<(), String> {
    let properties = writer_properties().map_err(|e| e.to_string())?;
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties)).map_err(|e| e.to_string())?;
    writer.write(batch).map_err(|e| e.to_string())?;
    writer.close().map_err(|e| e.to_string())?;
    Ok(())
}

/// Writes through `write` to `<path>.<pid>.tmp`, syncs it, then renames it over `path`.
pub fn write_atomically(
    path: &Path,
    table: &str,
    write: impl FnOnce(fs::File) -> std::result::Result<(), String>,
) -> Result<()> {
    let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
    let error = |message: String| NormalizeError::Write { file: path.to_path_buf(), table: table.to_string(), message };
    let result = (|| {
        let file = fs::File::create(&temporary).map_err(|e| e.to_string())?;
        write(file.try_clone().map_err(|e| e.to_string())?)?;
        file.sync_all().map_err(|e| e.to_string())?;
        fs::rename(&temporary, path).map_err(|e| e.to_string())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result.map_err(error)
}
