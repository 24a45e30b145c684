//! UN Comtrade annual HS data: the keyless preview endpoint (500 rows a call) or, with a key, the
//! keyed endpoint (key sent only as the `Ocp-Apim-Subscription-Key` header).
//!
//! Requests are planned per reporter × flow × block of years, all codes at once, with totals
//! pinned (`partner2Code=0`, `customsCode=C00`, `motCode=0`, `breakdownMode=classic`) so no row is
//! duplicated. An answer whose `count` reaches the cap is split — years first, then codes — and
//! never stored truncated. An answer with an `error`, an HTML page, or JSON whose `count` differs
//! from its records is a failed attempt.

use std::collections::BTreeMap;

use crate::client::SecretHeader;
use crate::{Request, Source, Validation};

/// What to ask Comtrade for.
#[derive(Debug, Clone)]
pub struct ComtradeQuery {
    pub reporters: Vec<u32>,
    /// Partner codes; None asks for every partner (and the World row).
    pub partners: Option<Vec<u32>>,
    pub codes: Vec<String>,
    pub flows: Vec<String>,
    pub years: Vec<i32>,
    /// Years per request before any split.
    pub years_per_request: usize,
}

impl ComtradeQuery {
    /// Defaults: the rare-earth codes, imports and exports, 2000 to the latest full year.
    pub fn default_for(reporters: Vec<u32>, latest_year: i32) -> Self {
        Self {
            reporters,
            partners: None,
            codes: ["2805", "280530", "2846", "284610", "284690", "253090", "850511"].map(String::from).to_vec(),
            flows: vec!["M".into(), "X".into()],
            years: (2000..=latest_year).collect(),
            years_per_request: 5,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Comtrade {
    base_url: String,
    key: Option<String>,
    query: ComtradeQuery,
}

impl Comtrade {
    /// `key` from `COMTRADE_API_KEY`: with it the keyed endpoint, without it the preview one.
    pub fn new(base_url: &str, key: Option<String>, query: ComtradeQuery) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_string(), key: key.filter(|k| !k.is_empty()), query }
    }

    /// Rows one answer may hold: 500 on the preview endpoint, 100,000 with a key.
    pub fn row_cap(&self) -> usize {
        if self.key.is_some() { 100_000 } else { 500 }
    }

    fn request(&self, reporter: u32, flow: &str, years: &[i32], codes: &[String]) -> Request {
        let join = |items: Vec<String>| items.join(",");
        let period = join(years.iter().map(i32::to_string).collect());
        let cmd = codes.join(",");
        let mut params = BTreeMap::from([
            ("reporterCode".to_string(), reporter.to_string()),
            ("period".to_string(), period.clone()),
            ("cmdCode".to_string(), cmd.clone()),
            ("flowCode".to_string(), flow.to_string()),
            ("partner2Code".to_string(), "0".to_string()),
            ("customsCode".to_string(), "C00".to_string()),
            ("motCode".to_string(), "0".to_string()),
            ("breakdownMode".to_string(), "classic".to_string()),
            ("includeDesc".to_string(), "true".to_string()),
        ]);
        if let Some(partners) = &self.query.partners {
            params.insert("partnerCode".into(), join(partners.iter().map(u32::to_string).collect()));
        }
        if self.key.is_none() {
            params.insert("maxRecords".into(), self.row_cap().to_string());
        }
        let path = if self.key.is_some() { "/data/v1/get/C/A/HS" } else { "/public/v1/preview/C/A/HS" };
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let span = match (years.first(), years.last()) {
            (Some(a), Some(b)) if a != b => format!("{a}-{b}"),
            (Some(a), _) => a.to_string(),
            _ => "none".into(),
        };
        let codes_part =
            if codes.len() == 1 { codes[0].clone() } else { format!("{}codes-{}", codes.len(), codes.join("_")) };
        Request {
            file: format!("{reporter}_{flow}_{span}_{codes_part}.json"),
            url: format!("{}{path}?{}", self.base_url, query.join("&")),
            params,
        }
    }

    fn years_and_codes(request: &Request) -> (Vec<i32>, Vec<String>) {
        let years = request.params["period"].split(',').filter_map(|y| y.parse().ok()).collect();
        let codes = request.params["cmdCode"].split(',').map(String::from).collect();
        (years, codes)
    }
}

impl Source for Comtrade {
    fn name(&self) -> &str {
        "comtrade"
    }

    fn plan(&self) -> Vec<Request> {
        let mut requests = Vec::new();
        let chunk = self.query.years_per_request.max(1);
        for reporter in &self.query.reporters {
            for flow in &self.query.flows {
                for years in self.query.years.chunks(chunk) {
                    requests.push(self.request(*reporter, flow, years, &self.query.codes));
                }
            }
        }
        requests
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
        let (years, codes) = Self::years_and_codes(request);
        let reporter: u32 = request.params["reporterCode"].parse().ok()?;
        let flow = &request.params["flowCode"];
        if years.len() > 1 {
            let (a, b) = years.split_at(years.len() / 2);
            Some(vec![self.request(reporter, flow, a, &codes), self.request(reporter, flow, b, &codes)])
        } else if codes.len() > 1 {
            let (a, b) = codes.split_at(codes.len() / 2);
            Some(vec![self.request(reporter, flow, &years, a), self.request(reporter, flow, &years, b)])
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_chunks_and_splits_years_then_codes() {
        let query = ComtradeQuery { years_per_request: 2, ..ComtradeQuery::default_for(vec![156], 2003) };
        let source = Comtrade::new("http://x/", None, query);
        let plan = source.plan();
        assert_eq!(plan.len(), 4, "2 flows × 2 blocks of 2 years");
        assert!(plan[0].url.starts_with("http://x/public/v1/preview/C/A/HS?"));
        assert!(plan[0].url.contains("partner2Code=0") && plan[0].url.contains("breakdownMode=classic"));
        assert_eq!(plan[0].params["period"], "2000,2001");
        let halves = source.split(&plan[0]).unwrap();
        assert_eq!(halves[0].params["period"], "2000");
        let codes = source.split(&halves[0]).unwrap();
        assert_eq!(codes[0].params["cmdCode"], "2805,280530,2846");
        assert!(source.headers().is_empty());
        let keyed = Comtrade::new("http://x", Some("k".into()), ComtradeQuery::default_for(vec![156], 2001));
        assert!(keyed.plan()[0].url.contains("/data/v1/get/C/A/HS") && !keyed.plan()[0].url.contains("k="));
        assert_eq!(format!("{:?}", keyed.headers()), "[Ocp-Apim-Subscription-Key: <redacted>]");
    }
}
