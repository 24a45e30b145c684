//! `reeflow sql` (one query, or an interactive prompt with history) and `reeflow tables`.

use std::path::Path;

use anyhow::{Result, bail};
use clap::ValueEnum;
use reeflow_pipeline::{Engine, EngineOptions, OutputFormat, TableSource, format_batches};

use crate::Settings;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

pub async fn sql(
    settings: &Settings,
    options: &EngineOptions,
    query: Option<&str>,
    format: QueryFormat,
    output: Option<&Path>,
    allow_write: bool,
) -> Result<u8> {
    if format == QueryFormat::Parquet && output.is_none() {
        bail!("--format parquet writes a file: add --output FILE");
    }
    let engine = settings.layout.engine(options).await?;
    match query {
        Some(query) => {
            answer(&engine, query, format, output, allow_write).await?;
            Ok(0)
        }
        None => prompt(&engine, settings, format, allow_write).await,
    }
}

async fn answer(
    engine: &Engine,
    query: &str,
    format: QueryFormat,
    output: Option<&Path>,
    allow_write: bool,
) -> Result<()> {
    let batches = engine.query(query, allow_write).await?;
    let text_format = match format {
        QueryFormat::Table => OutputFormat::Table,
        QueryFormat::Csv => OutputFormat::Csv,
        QueryFormat::Json => OutputFormat::Json,
        QueryFormat::Parquet => {
            let path = output.expect("checked above");
            let schema = match batches.first() {
                Some(batch) => batch.schema(),
                None => bail!("the query returned no batches; nothing to write to {}", path.display()),
            };
            let batch = arrow::compute::concat_batches(&schema, &batches)?;
            reeflow_pipeline::output::write_parquet_file(path, &batch)?;
            eprintln!("wrote {} rows to {}", batch.num_rows(), path.display());
            return Ok(());
        }
    };
    let text = format_batches(&batches, text_format)?;
    match output {
        Some(path) => {
            reeflow_files::write_bytes_atomically(path, text.as_bytes())?;
            eprintln!("wrote {}", path.display());
        }
        None => println!("{}", text.trim_end()),
    }
    Ok(())
}

/// The interactive prompt: statements end with `;`; `.tables`, `.format table|csv|json`, `.quit`.
async fn prompt(engine: &Engine, settings: &Settings, mut format: QueryFormat, allow_write: bool) -> Result<u8> {
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = settings.layout.data_dir.join(".reeflow_history");
    let _ = editor.load_history(&history);
    eprintln!(
        "reeflow SQL prompt: end statements with ';'. .tables lists tables, .format csv|json|table, .quit leaves."
    );
    let mut buffer = String::new();
    loop {
        let line = match editor.readline(if buffer.is_empty() { "reeflow> " } else { "     ..> " }) {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(_) => break,
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('.') {
            let _ = editor.add_history_entry(trimmed);
            match trimmed.split_whitespace().collect::<Vec<_>>().as_slice() {
                [".quit" | ".exit"] => break,
                [".tables"] => print_tables(engine).await?,
                [".format", name] => match QueryFormat::from_str(name, true) {
                    Ok(QueryFormat::Parquet) | Err(_) => eprintln!("formats here: table, csv, json"),
                    Ok(new) => format = new,
                },
                _ => eprintln!("unknown command {trimmed}; try .tables, .format csv, .quit"),
            }
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let statement = buffer.trim().trim_end_matches(';').to_string();
        buffer.clear();
        let _ = editor.add_history_entry(&statement);
        if let Err(error) = answer(engine, &statement, format, None, allow_write).await {
            eprintln!("error: {error:#}");
        }
    }
    let _ = editor.save_history(&history);
    Ok(0)
}

async fn print_tables(engine: &Engine) -> Result<()> {
    for table in engine.tables() {
        let kind = match table.source {
            TableSource::Normalized => "normalized",
            TableSource::Stage => "stage",
            TableSource::Reference => "reference",
        };
        println!(
            "{:<28} {:<10} {:>8} rows  {}",
            table.name,
            kind,
            engine.row_count(&table.name).await?,
            table.path.display()
        );
    }
    Ok(())
}

pub async fn tables(settings: &Settings) -> Result<u8> {
    print_tables(&settings.engine().await?).await?;
    Ok(0)
}
