//! Query results as text: an aligned table for people, CSV and JSON for programs.

use arrow::array::RecordBatch;

/// How `reeflow sql` prints results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects, nulls kept as `null`.
    Json,
}

/// Renders batches in the given format.
pub fn format_batches(batches: &[RecordBatch], format: OutputFormat) -> Result<String, arrow::error::ArrowError> {
    match format {
        OutputFormat::Table => Ok(arrow::util::pretty::pretty_format_batches(batches)?.to_string()),
        OutputFormat::Csv => {
            let mut buffer = Vec::new();
            {
                let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut buffer);
                for batch in batches {
                    writer.write(batch)?;
                }
            }
            Ok(String::from_utf8_lossy(&buffer).into_owned())
        }
        OutputFormat::Json => {
            let mut buffer = Vec::new();
            {
                let mut writer = arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow::json::writer::JsonArray>(&mut buffer);
                for batch in batches {
                    writer.write(batch)?;
                }
                writer.finish()?;
            }
            if buffer.is_empty() {
                buffer.extend_from_slice(b"[]");
            }
            Ok(String::from_utf8_lossy(&buffer).into_owned())
        }
    }
}

/// Writes one batch as a Parquet file, atomically, with the project's one writer configuration.
pub fn write_parquet_file(path: &std::path::Path, batch: &RecordBatch) -> crate::error::Result<()> {
    Ok(reeflow_files::parquet::write_parquet(path, batch)?)
}
