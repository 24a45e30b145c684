//! USGS data-release files (MCS CSVs and the yearly combined release, Minerals Yearbook and
//! DS-140 workbooks): a configured list of URLs, each with its expected file name. A mirror (or a
//! test server) given as the base URL serves the same paths: `https://host/a/b.xlsx?x=1` is fetched
//! as `<mirror>/a/b.xlsx?x=1`; a relative path is always fetched from the base URL. A CSV must be text with a header row, a workbook must be a ZIP (XLSX) container; an HTML
//! page in their place is a failed attempt.

use std::collections::BTreeMap;

use crate::{Request, Source, Validation};

/// One file of a USGS release: its URL (or a path under the base URL) and the name to store it as
/// (the name decides which normalize adapter reads it).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsgsFile {
    pub url: String,
    pub file: String,
}

#[derive(Debug, Clone)]
pub struct Usgs {
    mirror: Option<String>,
    files: Vec<UsgsFile>,
}

impl Usgs {
    /// `mirror`: a base URL that replaces the scheme and host of every file URL.
    pub fn new(mirror: Option<&str>, files: Vec<UsgsFile>) -> Self {
        Self { mirror: mirror.map(|m| m.trim_end_matches('/').to_string()), files }
    }

    fn url_of(&self, file: &UsgsFile) -> String {
        let absolute = file.url.split_once("://").map(|(_, rest)| rest);
        match (&self.mirror, absolute) {
            (Some(mirror), Some(rest)) => {
                let path = rest.find('/').map_or("", |slash| &rest[slash..]);
                format!("{mirror}{path}")
            }
            (None, Some(_)) => file.url.clone(),
            (Some(mirror), None) => format!("{mirror}/{}", file.url.trim_start_matches('/')),
            (None, None) => file.url.clone(),
        }
    }
}

impl Source for Usgs {
    fn name(&self) -> &str {
        "usgs"
    }

    fn plan(&self) -> Vec<Request> {
        self.files
            .iter()
            .map(|f| Request { file: f.file.clone(), url: self.url_of(f), params: BTreeMap::new() })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mirror_serves_the_same_paths() {
        let file = UsgsFile { url: "https://example.org/assets/ds140.xlsx?v=2".into(), file: "ds140.xlsx".into() };
        assert_eq!(Usgs::new(None, vec![file.clone()]).plan()[0].url, "https://example.org/assets/ds140.xlsx?v=2");
        assert_eq!(
            Usgs::new(Some("http://127.0.0.1:9/"), vec![file]).plan()[0].url,
            "http://127.0.0.1:9/assets/ds140.xlsx?v=2"
        );
        let relative = UsgsFile { url: "a/b.csv".into(), file: "b.csv".into() };
        assert_eq!(Usgs::new(Some("http://m"), vec![relative]).plan()[0].url, "http://m/a/b.csv");
    }
}
