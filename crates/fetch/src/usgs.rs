//! USGS data-release files (MCS CSVs and the yearly combined release, Minerals Yearbook and
//! DS-140 workbooks): a configured list of paths under a base URL, each with its expected file
//! name. A CSV must be text with a header row, a workbook must be a ZIP (XLSX) container; an HTML
//! page in their place is a failed attempt.

use std::collections::BTreeMap;

use crate::{Request, Source, Validation};

/// One file of a USGS release: the path under the base URL and the name to store it as.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsgsFile {
    pub path: String,
    pub file: String,
}

#[derive(Debug, Clone)]
pub struct Usgs {
    base_url: String,
    files: Vec<UsgsFile>,
}

impl Usgs {
    pub fn new(base_url: &str, files: Vec<UsgsFile>) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_string(), files }
    }
}

impl Source for Usgs {
    fn name(&self) -> &str {
        "usgs"
    }

    fn plan(&self) -> Vec<Request> {
        self.files
            .iter()
            .map(|f| Request {
                file: f.file.clone(),
                url: format!("{}/{}", self.base_url, f.path.trim_start_matches('/')),
                params: BTreeMap::new(),
            })
            .collect()
    }

    fn validate(&self, request: &Request, body: &[u8]) -> Validation {
        let start = String::from_utf8_lossy(&body[..body.len().min(512)]).trim_start().to_lowercase();
        if start.starts_with("<!doctype html") || start.starts_with("<html") || start.starts_with('<') {
            return Validation::Invalid("an HTML page, not the data file".into());
        }
        let name = request.file.to_lowercase();
        if name.ends_with(".xlsx") {
            return if body.starts_with(b"PK\x03\x04") {
                Validation::Data { rows: None }
            } else {
                Validation::Invalid("not an XLSX workbook (no ZIP signature)".into())
            };
        }
        if name.ends_with(".csv") {
            let lines = body.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count();
            let first = body.split(|b| *b == b'\n').next().unwrap_or_default();
            if lines < 2 || !first.contains(&b',') {
                return Validation::Invalid("not a CSV with a header row and data".into());
            }
            return Validation::Data { rows: Some(lines - 1) };
        }
        Validation::Data { rows: None }
    }
}
