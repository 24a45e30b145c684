//! The one Parquet writer configuration of reeflow's tables and stage outputs (zstd level 3, no
//! wall-clock metadata, so the same rows always give the same bytes), and Parquet files written
//! atomically.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::{AtomicFile, WriteError, WriteStep};

/// zstd level 3 (level 9 took a quarter of normalization time for a few per cent smaller files),
/// `created_by = reeflow`, nothing that depends on the time of writing.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("3 is a valid zstd level")))
        .set_created_by("reeflow".to_string())
        .build()
}

/// A Parquet file written batch by batch under a temporary name, put in place by
/// [`ParquetFile::finish`]; dropped unfinished, nothing is left behind.
pub struct ParquetFile {
    writer: ArrowWriter<AtomicFile>,
    rows: usize,
}

impl ParquetFile {
    /// Starts `path` with [`writer_properties`].
    pub fn create(path: &std::path::Path, schema: SchemaRef) -> Result<Self, WriteError> {
        Self::create_with(path, schema, writer_properties())
    }

    /// Starts `path` with other writer properties (benchmark data trades size for speed).
    pub fn create_with(
        path: &std::path::Path,
        schema: SchemaRef,
        properties: WriterProperties,
    ) -> Result<Self, WriteError> {
        let file = AtomicFile::create(path)?;
        let target = file.target().to_path_buf();
        let writer = ArrowWriter::try_new(file, schema, Some(properties)).map_err(|e| WriteError {
            path: target,
            step: WriteStep::Write,
            source: e.into(),
        })?;
        Ok(Self { writer, rows: 0 })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), WriteError> {
        self.writer.write(batch).map_err(|e| self.writer.inner().error(WriteStep::Write, e))?;
        self.rows += batch.num_rows();
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Writes the footer and puts the file in place. Returns the rows written.
    pub fn finish(self) -> Result<usize, WriteError> {
        let target = self.writer.inner().target().to_path_buf();
        let file = self.writer.into_inner().map_err(|e| WriteError {
            path: target,
            step: WriteStep::Write,
            source: e.into(),
        })?;
        file.commit()?;
        Ok(self.rows)
    }
}

/// One batch as a Parquet file at `path`, atomically, with [`writer_properties`].
pub fn write_parquet(path: &std::path::Path, batch: &RecordBatch) -> Result<(), WriteError> {
    let mut file = ParquetFile::create(path, batch.schema())?;
    file.write(batch)?;
    file.finish().map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("year", DataType::Int32, false),
            Field::new("iso3", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(Int32Array::from(vec![2021, 2022])), Arc::new(StringArray::from(vec![Some("CHN"), None]))],
        )
        .unwrap()
    }

    #[test]
    fn the_same_rows_give_the_same_bytes_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        write_parquet(&a, &batch()).unwrap();
        write_parquet(&b, &batch()).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&a).unwrap())
                .unwrap()
                .build()
                .unwrap();
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 2);
    }

    #[test]
    fn an_unfinished_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = ParquetFile::create(&dir.path().join("trade.parquet"), batch().schema()).unwrap();
        file.write(&batch()).unwrap();
        drop(file);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
