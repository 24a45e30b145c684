//! UN Comtrade annual HS data: the keyless preview endpoint (500 rows a call) or, with a key, the
//! keyed endpoint (100,000 rows a call; key sent only as the `Ocp-Apim-Subscription-Key` header).
//!
//! Without a key, requests are planned per reporter × flow × block of years, all codes at once.
//! With a key, calls are packed: every reporter (or all of them, `reporterCode` left out), both
//! flows and all codes go into one call, and years are grouped so that each call's estimated rows
//! stay under the cap ([`Density`], learnt from what the cache already holds). Totals are pinned
//! (`partner2Code=0`, `customsCode=C00`, `motCode=0`, `breakdownMode=classic`) so no row is
//! duplicated. An answer whose `count` reaches the cap is split — years, then codes, then flows,
//! then reporters — and never stored truncated. An answer with an `error`, an HTML page, or JSON
//! whose `count` differs from its records is a failed attempt.

use std::collections::BTreeMap;

use crate::cache::Manifest;
use crate::client::SecretHeader;
use crate::{Request, Source, Validation};

/// Rows one preview (keyless) answer may hold.
pub const PREVIEW_ROW_CAP: usize = 500;
/// Rows one keyed answer may hold.
pub const KEYED_ROW_CAP: usize = 100_000;
/// Calls a free key may make in a UTC day.
pub const FREE_DAILY_QUOTA: u64 = 500;
/// Packed calls aim at this share of the cap, so an estimate that is a little low rarely splits.
const FILL: f64 = 0.8;

/// Whose reports to ask for.
#[derive(Debug, Clone, PartialEq)]
pub enum Reporters {
    /// Every reporter: `reporterCode` is left out (keyed endpoint).
    All,
    /// These Comtrade reporter codes.
    Only(Vec<u32>),
}

/// What to ask Comtrade for.
#[derive(Debug, Clone)]
pub struct ComtradeQuery {
    pub reporters: Reporters,
    /// Partner codes; None asks for every partner (and the World row).
    pub partners: Option<Vec<u32>>,
    pub codes: Vec<String>,
    pub flows: Vec<String>,
    pub years: Vec<i32>,
    /// Years per request of the keyless plan, before any split.
    pub years_per_request: usize,
}

impl ComtradeQuery {
    /// Defaults: the rare-earth codes, imports and exports, 2000 to the latest full year.
    pub fn default_for(reporters: Vec<u32>, latest_year: i32) -> Self {
        Self {
            reporters: Reporters::Only(reporters),
            partners: None,
            codes: ["2805", "280530", "2846", "284610", "284690", "253090", "850511"].map(String::from).to_vec(),
            flows: vec!["M".into(), "X".into()],
            years: (2000..=latest_year).collect(),
            years_per_request: 5,
        }
    }
}

/// How many records an answer holds, per reporter × code × year × flow: the basis of packing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Density {
    /// Records per reporter, code, year and flow (partner rows and the World row).
    pub records_per_unit: f64,
    /// How many reporters "all reporters" stands for.
    pub reporters_in_all: f64,
    /// Where the figures come from: `cache` (learnt from stored answers) or `default`.
    pub basis: &'static str,
}

impl Default for Density {
    /// A world-trade prior for the rare-earth codes: about ten partner rows and the World row per
    /// reporter that trades a code in a year; about 200 reporters.
    fn default() -> Self {
        Self { records_per_unit: 11.0, reporters_in_all: 200.0, basis: "default" }
    }
}

impl Density {
    /// Learns the records per unit from the answers already in the cache (their rows and what
    /// they asked for); keeps `prior` where the cache holds no answer.
    pub fn from_manifest(manifest: &Manifest, prior: Density) -> Self {
        let (mut rows, mut units) = (0.0, 0.0);
        for file in &manifest.files {
            let Some(count) = file.rows else { continue };
            let list = |key: &str| file.params.get(key).map(|v| v.split(',').count() as f64);
            let reporters = list("reporterCode").unwrap_or(prior.reporters_in_all);
            let (Some(years), Some(codes), Some(flows)) = (list("period"), list("cmdCode"), list("flowCode")) else {
                continue;
            };
            rows += count as f64;
            units += reporters * years * codes * flows;
        }
        if units == 0.0 || rows == 0.0 {
            return prior;
        }
        Self { records_per_unit: rows / units, basis: "cache", ..prior }
    }
}

#[derive(Debug, Clone)]
pub struct Comtrade {
    base_url: String,
    key: Option<String>,
    query: ComtradeQuery,
    density: Density,
    row_cap: Option<usize>,
}

impl Comtrade {
    /// `key` from `COMTRADE_API_KEY`: with it the keyed endpoint, without it the preview one.
    pub fn new(base_url: &str, key: Option<String>, query: ComtradeQuery) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            key: key.filter(|k| !k.is_empty()),
            query,
            density: Density::default(),
            row_cap: None,
        }
    }

    /// Packs calls by this density instead of the default.
    pub fn with_density(mut self, density: Density) -> Self {
        self.density = density;
        self
    }

    /// Another row cap than the API's (a test server that scales the world down).
    pub fn with_row_cap(mut self, cap: usize) -> Self {
        self.row_cap = Some(cap);
        self
    }

    pub fn query(&self) -> &ComtradeQuery {
        &self.query
    }

    pub fn density(&self) -> Density {
        self.density
    }

    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// Rows one answer may hold: 500 on the preview endpoint, 100,000 with a key.
    pub fn row_cap(&self) -> usize {
        self.row_cap.unwrap_or(if self.key.is_some() { KEYED_ROW_CAP } else { PREVIEW_ROW_CAP })
    }

    fn reporter_count(&self, reporters: &Reporters) -> f64 {
        match reporters {
            Reporters::All => self.density.reporters_in_all,
            Reporters::Only(list) => list.len() as f64,
        }
    }

    /// Estimated rows of an answer to `request`.
    pub fn estimate(&self, request: &Request) -> f64 {
        let parts = Parts::of(request);
        self.reporter_count(&parts.reporters)
            * (parts.years.len() * parts.codes.len() * parts.flows.len()) as f64
            * self.density.records_per_unit
    }

    fn request(&self, parts: &Parts) -> Request {
        let join = |items: Vec<String>| items.join(",");
        let period = join(parts.years.iter().map(i32::to_string).collect());
        let mut params = BTreeMap::from([
            ("period".to_string(), period),
            ("cmdCode".to_string(), parts.codes.join(",")),
            ("flowCode".to_string(), parts.flows.join(",")),
            ("partner2Code".to_string(), "0".to_string()),
            ("customsCode".to_string(), "C00".to_string()),
            ("motCode".to_string(), "0".to_string()),
            ("breakdownMode".to_string(), "classic".to_string()),
            ("includeDesc".to_string(), "true".to_string()),
        ]);
        if let Reporters::Only(list) = &parts.reporters {
            params.insert("reporterCode".into(), join(list.iter().map(u32::to_string).collect()));
        }
        if let Some(partners) = &self.query.partners {
            params.insert("partnerCode".into(), join(partners.iter().map(u32::to_string).collect()));
        }
        if self.key.is_none() {
            params.insert("maxRecords".into(), self.row_cap().to_string());
        }
        let path = if self.key.is_some() { "/data/v1/get/C/A/HS" } else { "/public/v1/preview/C/A/HS" };
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Request { file: parts.file_name(), url: format!("{}{path}?{}", self.base_url, query.join("&")), params }
    }

    /// Keyless: per reporter × flow × block of years, all codes at once (the preview endpoint's
    /// 500 rows hold about one reporter's few years).
    fn blocked_plan(&self) -> Vec<Request> {
        let reporters = match &self.query.reporters {
            Reporters::Only(list) => list.clone(),
            // The preview endpoint cannot serve the world in 500-row answers by year and code alone.
            Reporters::All => Vec::new(),
        };
        let mut requests = Vec::new();
        let chunk = self.query.years_per_request.max(1);
        for reporter in reporters {
            for flow in &self.query.flows {
                for years in self.query.years.chunks(chunk) {
                    requests.push(self.request(&Parts {
                        reporters: Reporters::Only(vec![reporter]),
                        flows: vec![flow.clone()],
                        years: years.to_vec(),
                        codes: self.query.codes.clone(),
                    }));
                }
            }
        }
        requests
    }

    /// Keyed: every reporter, flow and code in each call, years grouped so each call's estimated
    /// rows stay under the cap; where one year alone would not fit, codes (then flows) are grouped.
    fn packed_plan(&self) -> Vec<Request> {
        let target = self.row_cap() as f64 * FILL;
        let reporters = self.reporter_count(&self.query.reporters);
        let per_unit = reporters * self.density.records_per_unit;
        let flows_per_call = fit(target, per_unit, self.query.flows.len());
        let codes_per_call = fit(target, per_unit * flows_per_call as f64, self.query.codes.len());
        let years_per_call =
            fit(target, per_unit * (flows_per_call * codes_per_call) as f64, self.query.years.len().max(1));
        let mut requests = Vec::new();
        for flows in self.query.flows.chunks(flows_per_call) {
            for codes in self.query.codes.chunks(codes_per_call) {
                for years in self.query.years.chunks(years_per_call) {
                    requests.push(self.request(&Parts {
                        reporters: self.query.reporters.clone(),
                        flows: flows.to_vec(),
                        years: years.to_vec(),
                        codes: codes.to_vec(),
                    }));
                }
            }
        }
        requests
    }
}

/// How many items of `size` rows each fit under `target` (at least one, at most `available`).
fn fit(target: f64, size: f64, available: usize) -> usize {
    if size <= 0.0 {
        return available.max(1);
    }
    ((target / size).floor() as usize).clamp(1, available.max(1))
}

/// What one request asks for.
#[derive(Debug, Clone)]
struct Parts {
    reporters: Reporters,
    flows: Vec<String>,
    years: Vec<i32>,
    codes: Vec<String>,
}

impl Parts {
    fn of(request: &Request) -> Self {
        let list = |key: &str| -> Vec<String> {
            request.params.get(key).map(|v| v.split(',').map(String::from).collect()).unwrap_or_default()
        };
        let reporters = match request.params.get("reporterCode") {
            Some(codes) => Reporters::Only(codes.split(',').filter_map(|c| c.parse().ok()).collect()),
            None => Reporters::All,
        };
        Self {
            reporters,
            flows: list("flowCode"),
            years: list("period").iter().filter_map(|y| y.parse().ok()).collect(),
            codes: list("cmdCode"),
        }
    }

    /// A stable cache name: `156_M_2021-2022_2846.json` for one reporter and flow (the names of
    /// earlier versions), `all_M-X_2000-2007_7codes-….json` for packed calls; a long reporter list
    /// is named by its count and a hash of its codes.
    fn file_name(&self) -> String {
        let reporters = match &self.reporters {
            Reporters::All => "all".to_string(),
            Reporters::Only(list) if list.len() <= 3 => list.iter().map(u32::to_string).collect::<Vec<_>>().join("-"),
            Reporters::Only(list) => {
                let text = list.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
                format!("{}reporters-{}", list.len(), &reeflow_files::sha256_hex(text.as_bytes())[..8])
            }
        };
        let span = match (self.years.first(), self.years.last()) {
            (Some(a), Some(b)) if a != b => format!("{a}-{b}"),
            (Some(a), _) => a.to_string(),
            _ => "none".into(),
        };
        let codes = if self.codes.len() == 1 {
            self.codes[0].clone()
        } else {
            format!("{}codes-{}", self.codes.len(), self.codes.join("_"))
        };
        format!("{reporters}_{}_{span}_{codes}.json", self.flows.join("-"))
    }

    /// Two halves covering the same ground: years first, then codes, flows, reporters.
    fn halves(&self) -> Option<(Parts, Parts)> {
        let split = |mut a: Parts, mut b: Parts, field: Field| {
            match field {
                Field::Years => {
                    let (x, y) = self.years.split_at(self.years.len() / 2);
                    (a.years, b.years) = (x.to_vec(), y.to_vec());
                }
                Field::Codes => {
                    let (x, y) = self.codes.split_at(self.codes.len() / 2);
                    (a.codes, b.codes) = (x.to_vec(), y.to_vec());
                }
                Field::Flows => {
                    let (x, y) = self.flows.split_at(self.flows.len() / 2);
                    (a.flows, b.flows) = (x.to_vec(), y.to_vec());
                }
                Field::Reporters(list) => {
                    let (x, y) = list.split_at(list.len() / 2);
                    (a.reporters, b.reporters) = (Reporters::Only(x.to_vec()), Reporters::Only(y.to_vec()));
                }
            }
            (a, b)
        };
        let field = if self.years.len() > 1 {
            Field::Years
        } else if self.codes.len() > 1 {
            Field::Codes
        } else if self.flows.len() > 1 {
            Field::Flows
        } else {
            match &self.reporters {
                Reporters::Only(list) if list.len() > 1 => Field::Reporters(list.clone()),
                _ => return None,
            }
        };
        Some(split(self.clone(), self.clone(), field))
    }
}

enum Field {
    Years,
    Codes,
    Flows,
    Reporters(Vec<u32>),
}

impl Source for Comtrade {
    fn name(&self) -> &str {
        "comtrade"
    }

    fn plan(&self) -> Vec<Request> {
        if self.key.is_some() { self.packed_plan() } else { self.blocked_plan() }
    }

    fn estimated_rows(&self, request: &Request) -> Option<f64> {
        Some(self.estimate(request))
    }

    fn headers(&self) -> Vec<SecretHeader> {
        self.key.iter().map(|key| SecretHeader { name: "Ocp-Apim-Subscription-Key", value: key.clone() }).collect()
    }

    fn validate(&self, _request: &Request, body: &[u8]) -> Validation {
        if body.first().is_some_and(|b| *b == b'<') {
            return Validation::Invalid("an HTML page, not a JSON response".into());
        }
        let envelope: serde_json::Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(e) => return Validation::Invalid(format!("not valid JSON ({e})")),
        };
        if let Some(error) = envelope.get("error").filter(|e| !e.is_null() && e.as_str() != Some("")) {
            return Validation::Invalid(format!("the API reported an error: {error}"));
        }
        let (Some(count), Some(data)) =
            (envelope.get("count").and_then(|c| c.as_u64()), envelope.get("data").and_then(|d| d.as_array()))
        else {
            return Validation::Invalid("missing count or data; expected {elapsedTime, count, data, error}".into());
        };
        if count as usize != data.len() {
            return Validation::Invalid(format!("count is {count} but {} records are present", data.len()));
        }
        if data.len() >= self.row_cap() {
            return Validation::AtCap;
        }
        Validation::Data { rows: Some(data.len()) }
    }

    fn split(&self, request: &Request) -> Option<Vec<Request>> {
        let (a, b) = Parts::of(request).halves()?;
        Some(vec![self.request(&a), self.request(&b)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyless_plans_chunks_and_splits_years_then_codes() {
        let query = ComtradeQuery { years_per_request: 2, ..ComtradeQuery::default_for(vec![156], 2003) };
        let source = Comtrade::new("http://x/", None, query);
        let plan = source.plan();
        assert_eq!(plan.len(), 4, "2 flows × 2 blocks of 2 years");
        assert_eq!(plan[0].file, "156_M_2000-2001_7codes-2805_280530_2846_284610_284690_253090_850511.json");
        assert!(plan[0].url.starts_with("http://x/public/v1/preview/C/A/HS?"));
        assert!(plan[0].url.contains("partner2Code=0") && plan[0].url.contains("breakdownMode=classic"));
        assert_eq!(plan[0].params["period"], "2000,2001");
        let halves = source.split(&plan[0]).unwrap();
        assert_eq!(halves[0].params["period"], "2000");
        let codes = source.split(&halves[0]).unwrap();
        assert_eq!(codes[0].params["cmdCode"], "2805,280530,2846");
        assert!(source.headers().is_empty());
    }

    #[test]
    fn keyed_plans_pack_the_world_into_calls_under_the_cap() {
        let query = ComtradeQuery { reporters: Reporters::All, ..ComtradeQuery::default_for(vec![], 2022) };
        let keyed = Comtrade::new("http://x", Some("k".into()), query);
        let plan = keyed.plan();
        assert!(plan[0].url.contains("/data/v1/get/C/A/HS") && !plan[0].url.contains("k="));
        assert!(!plan[0].params.contains_key("reporterCode"), "all reporters: reporterCode left out");
        assert_eq!(format!("{:?}", keyed.headers()), "[Ocp-Apim-Subscription-Key: <redacted>]");
        // 200 reporters × 7 codes × 2 flows × 11 records = 30,800 rows a year: 2 years a call.
        assert_eq!(plan[0].params["flowCode"], "M,X");
        assert_eq!(plan[0].params["period"], "2000,2001");
        assert_eq!(plan.len(), 12, "23 years in calls of two");
        assert!(plan.iter().all(|r| keyed.estimate(r) <= KEYED_ROW_CAP as f64 * FILL));
        let years: usize = plan.iter().map(|r| r.params["period"].split(',').count()).sum();
        assert_eq!(years, 23, "every year once");
    }

    #[test]
    fn a_dense_year_groups_codes_and_splits_go_down_to_one_reporter() {
        let query = ComtradeQuery { reporters: Reporters::All, ..ComtradeQuery::default_for(vec![], 2001) };
        let dense = Density { records_per_unit: 100.0, reporters_in_all: 200.0, basis: "test" };
        let source = Comtrade::new("http://x", Some("k".into()), query).with_density(dense);
        // 200 × 100 = 20,000 rows per code, year and flow: 4 fit in a call (2 flows × 2 codes).
        let plan = source.plan();
        assert_eq!(plan[0].params["cmdCode"], "2805,280530");
        assert_eq!(plan[0].params["period"], "2000");
        let listed = Request {
            params: BTreeMap::from([
                ("reporterCode".into(), "4,8".into()),
                ("period".into(), "2000".into()),
                ("cmdCode".into(), "2846".into()),
                ("flowCode".into(), "M".into()),
            ]),
            ..plan[0].clone()
        };
        let halves = source.split(&listed).unwrap();
        assert_eq!((halves[0].params["reporterCode"].as_str(), halves[1].params["reporterCode"].as_str()), ("4", "8"));
        assert!(source.split(&halves[0]).is_none(), "one reporter, year, code and flow cannot be split");
    }

    #[test]
    fn density_is_learnt_from_the_cache() {
        let mut manifest = Manifest::default();
        manifest.files.push(crate::CachedFile {
            file: "156_M_2021-2022_2846.json".into(),
            url: String::new(),
            params: BTreeMap::from([
                ("reporterCode".into(), "156".into()),
                ("period".into(), "2021,2022".into()),
                ("cmdCode".into(), "2846".into()),
                ("flowCode".into(), "M".into()),
            ]),
            retrieved_at: String::new(),
            status: 200,
            bytes: 0,
            sha256: String::new(),
            rows: Some(56),
        });
        let density = Density::from_manifest(&manifest, Density::default());
        assert_eq!((density.records_per_unit, density.basis), (28.0, "cache"));
        assert_eq!(Density::from_manifest(&Manifest::default(), Density::default()).basis, "default");
    }
}
