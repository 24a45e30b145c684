//! The report people look at: Sankey diagrams of the flow model, time-series charts, and a
//! coverage and provenance section, as one self-contained HTML page plus each figure as its own
//! SVG file.
//!
//! It owns reading what the figures need from the stage outputs (SQL through the pipeline's
//! engine), laying out and drawing the figures (its own SVG code: no JavaScript is needed to read
//! the report), and writing the files atomically. It computes no model quantity: every number
//! drawn is a stage output's, so the report can be checked against the tables.

pub mod chart;
pub mod data;
mod html;
pub mod sankey;
pub mod svg;
pub mod tornado;

use std::path::{Path, PathBuf};

use reeflow_pipeline::Engine;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("report query failed: {source}\n  query: {sql}")]
    Query {
        sql: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the stage outputs hold no balance to draw: run `reeflow run` first")]
    NoData,
    #[error("year {year} is outside the data ({first}-{last})")]
    YearOutOfRange { year: i32, first: i32, last: i32 },
    #[error("cannot create the report folder {path}: {source}", path = path.display())]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] reeflow_files::WriteError),
}

/// What the report says about where it comes from.
#[derive(Debug, Clone, Default)]
pub struct ReportContext {
    /// The published version the report was drawn from.
    pub version: Option<String>,
    /// Where its input tables came from (`raw`, `snapshot`).
    pub inputs: Option<String>,
    pub generated_at: String,
}

impl ReportContext {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(version) = &self.version {
            parts.push(format!("version {version}"));
        }
        if let Some(inputs) = &self.inputs {
            parts.push(format!("inputs: {inputs}"));
        }
        parts.push(format!("generated {}", self.generated_at));
        parts.join(" · ")
    }
}

/// One figure: its file name (without `.svg`), the SVG, and notes on what it leaves out.
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub svg: String,
    pub notes: Vec<String>,
}

/// The whole report, in memory.
#[derive(Debug, Clone)]
pub struct Report {
    pub html: String,
    pub figures: Vec<Figure>,
    /// The Sankey years drawn (each with its tornado chart).
    pub years: Vec<i32>,
}

/// Draws the report from the engine's stage outputs. `years`: the Sankey years (empty: the latest
/// year with an unregistered flow estimated).
pub async fn build(engine: &Engine, years: &[i32], context: &ReportContext) -> Result<Report, ReportError> {
    let span = data::year_span(engine).await?;
    let years = if years.is_empty() { vec![data::default_year(engine).await?] } else { years.to_vec() };
    if let Some(year) = years.iter().find(|y| **y < span.0 || **y > span.1) {
        return Err(ReportError::YearOutOfRange { year: *year, first: span.0, last: span.1 });
    }
    let regions = data::regions(engine).await?;
    let mut sankeys = Vec::new();
    for year in &years {
        let sankey = data::sankey(engine, &regions, *year).await?;
        sankeys.push(Figure { name: format!("sankey-{year}"), svg: sankey.to_svg(), notes: sankey.notes.clone() });
        // Beside each Sankey, what drives its significant unregistered flows.
        let (balances, notes) = data::tornado(engine, *year).await?;
        sankeys.push(Figure { name: format!("tornado-{year}"), svg: tornado::to_svg(*year, &balances), notes });
    }
    let charts: Vec<Figure> = data::charts(engine, &regions, span)
        .await?
        .into_iter()
        .map(|chart| Figure { name: chart.id.clone(), svg: chart.to_svg(), notes: Vec::new() })
        .collect();
    let strip = data::coverage_strip(engine, span).await?;
    let coverage =
        Figure { name: "coverage".into(), svg: chart::coverage_strip(&strip, span.0, span.1), notes: Vec::new() };
    let provenance = data::provenance(engine, &years).await?;
    let html = html::page(context, &sankeys, &charts, &coverage, &provenance);
    let figures = sankeys.into_iter().chain(charts).chain(std::iter::once(coverage)).collect();
    Ok(Report { html, figures, years })
}

impl Report {
    /// Writes `index.html` and `<figure>.svg` into `dir`, each file atomically. Returns the files written.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Folder { path: dir.to_path_buf(), source })?;
        let mut files = vec![("index.html".to_string(), &self.html)];
        files.extend(self.figures.iter().map(|f| (format!("{}.svg", f.name), &f.svg)));
        let mut written = Vec::new();
        for (name, text) in files {
            let path = dir.join(name);
            reeflow_files::write_bytes_atomically(&path, text.as_bytes())?;
            written.push(path);
        }
        Ok(written)
    }
}
