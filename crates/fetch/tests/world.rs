//! Fetching the world's rare-earth trade from a local Comtrade stand-in: a server on 127.0.0.1
//! (wiremock) that answers all-reporter and listed-reporter queries from generated records in
//! Comtrade's real JSON layout (the 47 fields of a real record, the World row beside partner rows),
//! cuts answers at a row cap, throttles with 429 + Retry-After, and stops with a quota 403. The
//! world is scaled down (fewer records per reporter, a proportionally lower keyed cap) so the test
//! stays fast; the planner does not depend on the scale.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reeflow_fetch::comtrade::{Comtrade, ComtradeQuery, Density, KEYED_ROW_CAP, Reporters};
use reeflow_fetch::{ClientConfig, FetchOptions, HttpClient, RawCache, Source, Summary, fetch};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CODES: [&str; 7] = ["2805", "280530", "2846", "284610", "284690", "253090", "850511"];
const KEY: &str = "test-key-world";

/// Reporter codes and ISO3 of the first `n` countries of the real Comtrade reporter list.
fn reporters(n: usize) -> Vec<(u32, String)> {
    let text = String::from_utf8(reeflow_testdata::read_public("xippios-comtrade-ref/Reporters.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let iso3 = fields.get(6)?.to_string();
            let group = fields.last()? == &"true";
            let code = fields[2].parse().ok()?;
            (!group && iso3.len() == 3).then_some((code, iso3))
        })
        .take(n)
        .collect()
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The generated world: which partners each reporter reports, per year, code and flow.
struct World {
    reporters: Vec<(u32, String)>,
    template: serde_json::Map<String, serde_json::Value>,
    cap_keyed: usize,
    calls: AtomicUsize,
    /// Calls answered before the quota 403 (None: no quota).
    quota: Option<usize>,
    /// Every `throttle_every`-th call is answered 429 with Retry-After: 0.
    throttle_every: usize,
}

impl World {
    fn new(reporters: usize, cap_keyed: usize) -> Self {
        let real: serde_json::Value =
            serde_json::from_slice(&reeflow_testdata::read_public("cmrs-v3/un_comtrade_china_2846/2022.json")).unwrap();
        let template = real["data"][0].as_object().unwrap().clone();
        assert_eq!(template.len(), 47, "the real layout");
        Self {
            reporters: self::reporters(reporters),
            template,
            cap_keyed,
            calls: AtomicUsize::new(0),
            quota: None,
            throttle_every: 0,
        }
    }

    /// Partner codes of one report: a tenth of reporters trade a code in a year, with 1-3 partners.
    fn partners(&self, reporter: u32, year: i32, code: &str, flow: &str) -> Vec<u32> {
        let code_index = CODES.iter().position(|c| *c == code).unwrap_or(9) as u64;
        let seed = mix(u64::from(reporter) << 32 ^ (year as u64) << 8 ^ code_index << 2 ^ u64::from(flow == "X"));
        if !seed.is_multiple_of(10) {
            return Vec::new();
        }
        let n = 1 + (seed >> 8) % 3;
        let mut partners: BTreeSet<u32> = BTreeSet::new();
        for i in 0..n {
            let pick = self.reporters[(mix(seed + i) % self.reporters.len() as u64) as usize].0;
            if pick != reporter {
                partners.insert(pick);
            }
        }
        partners.into_iter().collect()
    }

    fn record(
        &self,
        reporter: &(u32, String),
        partner: Option<&(u32, String)>,
        year: i32,
        code: &str,
        flow: &str,
        kg: f64,
    ) -> serde_json::Value {
        let mut record = self.template.clone();
        let set = |record: &mut serde_json::Map<String, serde_json::Value>, key: &str, value: serde_json::Value| {
            assert!(record.contains_key(key), "{key} is a field of the real layout");
            record.insert(key.to_string(), value);
        };
        set(&mut record, "refPeriodId", (year * 10000 + 101).into());
        set(&mut record, "refYear", year.into());
        set(&mut record, "period", year.to_string().into());
        set(&mut record, "reporterCode", reporter.0.into());
        set(&mut record, "reporterISO", reporter.1.clone().into());
        set(&mut record, "reporterDesc", reporter.1.clone().into());
        set(&mut record, "flowCode", flow.into());
        set(&mut record, "flowDesc", if flow == "M" { "Import" } else { "Export" }.into());
        let (code_p, iso, aggregate) = match partner {
            Some(p) => (p.0, p.1.clone(), false),
            None => (0, "W00".to_string(), true),
        };
        set(&mut record, "partnerCode", code_p.into());
        set(&mut record, "partnerISO", iso.clone().into());
        set(&mut record, "partnerDesc", iso.into());
        set(&mut record, "cmdCode", code.into());
        set(&mut record, "aggrLevel", (code.len() as i64).into());
        set(&mut record, "qty", kg.into());
        set(&mut record, "netWgt", kg.into());
        set(&mut record, "isQtyEstimated", false.into());
        set(&mut record, "isNetWgtEstimated", false.into());
        set(&mut record, "cifvalue", if flow == "M" { (kg * 20.0).into() } else { serde_json::Value::Null });
        set(&mut record, "fobvalue", if flow == "X" { (kg * 19.0).into() } else { serde_json::Value::Null });
        set(&mut record, "primaryValue", (kg * 20.0).into());
        set(&mut record, "isAggregate", aggregate.into());
        set(&mut record, "isReported", true.into());
        serde_json::Value::Object(record)
    }

    /// Every record answering one query: partner rows and each report's World row.
    fn records(
        &self,
        reporters: &[(u32, String)],
        years: &[i32],
        codes: &[String],
        flows: &[String],
    ) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for reporter in reporters {
            for &year in years {
                for code in codes {
                    for flow in flows {
                        let partners = self.partners(reporter.0, year, code, flow);
                        if partners.is_empty() {
                            continue;
                        }
                        let mut total = 0.0;
                        for partner in &partners {
                            let kg = 1000.0 + (mix(u64::from(*partner) ^ u64::from(reporter.0)) % 9000) as f64;
                            total += kg;
                            let partner = self.reporters.iter().find(|r| r.0 == *partner).unwrap();
                            out.push(self.record(reporter, Some(partner), year, code, flow, kg));
                        }
                        out.push(self.record(reporter, None, year, code, flow, total));
                    }
                }
            }
        }
        out
    }

    /// How many records the world holds for these years, codes and flows, all reporters.
    fn total(&self, years: &[i32], flows: &[&str]) -> usize {
        let mut n = 0;
        for reporter in &self.reporters {
            for &year in years {
                for code in CODES {
                    for flow in flows {
                        let partners = self.partners(reporter.0, year, code, flow).len();
                        n += if partners > 0 { partners + 1 } else { 0 };
                    }
                }
            }
        }
        n
    }
}

impl Respond for World {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.quota.is_some_and(|quota| call > quota) {
            return ResponseTemplate::new(403).set_body_string(
                r#"{"statusCode":403,"message":"Out of call volume quota. Quota will be replenished in 05:00:00."}"#,
            );
        }
        if self.throttle_every > 0 && call.is_multiple_of(self.throttle_every) {
            return ResponseTemplate::new(429).insert_header("Retry-After", "0").set_body_string("Too many requests");
        }
        let params: BTreeMap<String, String> =
            request.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let keyed = request.url.path() == "/data/v1/get/C/A/HS";
        if keyed && request.headers.get("Ocp-Apim-Subscription-Key").and_then(|v| v.to_str().ok()) != Some(KEY) {
            return ResponseTemplate::new(401).set_body_string("missing key");
        }
        let list = |key: &str| -> Vec<String> {
            params.get(key).map(|v| v.split(',').map(String::from).collect()).unwrap_or_default()
        };
        let reporters: Vec<(u32, String)> = match params.get("reporterCode") {
            Some(codes) => {
                codes.split(',').filter_map(|c| self.reporters.iter().find(|r| r.0.to_string() == c).cloned()).collect()
            }
            None if keyed => self.reporters.clone(),
            None => return ResponseTemplate::new(400).set_body_string(r#"{"error":"reporterCode is required"}"#),
        };
        let years: Vec<i32> = list("period").iter().filter_map(|y| y.parse().ok()).collect();
        let mut records = self.records(&reporters, &years, &list("cmdCode"), &list("flowCode"));
        let cap =
            if keyed { self.cap_keyed } else { params.get("maxRecords").and_then(|m| m.parse().ok()).unwrap_or(500) };
        records.truncate(cap);
        let body =
            serde_json::json!({"elapsedTime": "0.01 secs", "count": records.len(), "data": records, "error": ""});
        ResponseTemplate::new(200).set_body_json(body)
    }
}

fn client() -> Arc<HttpClient> {
    Arc::new(
        HttpClient::new(ClientConfig {
            requests_per_second: 0.0,
            max_attempts: 3,
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            timeout: Duration::from_secs(30),
        })
        .unwrap(),
    )
}

async fn serve(world: World) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("GET")).respond_with(world).mount(&server).await;
    server
}

async fn run(source: &Comtrade, raw: &std::path::Path) -> Summary {
    let mut cache = RawCache::open(raw, "comtrade").unwrap();
    fetch(Arc::new(source.clone()), client(), &mut cache, &FetchOptions::default(), |_| {}).await.unwrap()
}

fn world_query(years: std::ops::RangeInclusive<i32>) -> ComtradeQuery {
    ComtradeQuery {
        reporters: Reporters::All,
        codes: CODES.map(String::from).to_vec(),
        years: years.collect(),
        ..ComtradeQuery::default_for(vec![], 2022)
    }
}

/// The trade rows the raw folder normalizes to, as (year, reporter, partner, flow, code) keys.
fn normalized_keys(raw: &std::path::Path) -> Vec<(i32, i32, Option<i32>, String, String)> {
    let normalized = reeflow_normalize::normalize_folder(raw, &Default::default()).unwrap();
    normalized
        .tables
        .trade
        .iter()
        .map(|r| (r.year, r.reporter_code, r.partner_code, r.flow.clone(), r.hs_code.clone()))
        .collect()
}

/// The plan for 200 reporters × 7 codes × 23 years (2000-2022) at the real caps: with a key, 12
/// packed calls of about 61,600 records each (the default density, 11 records per reporter, code,
/// year and flow); without one, 2,000 calls (a reporter, a flow and five years each).
#[test]
fn the_world_plan_fits_a_days_free_quota_with_a_key() {
    let keyed = Comtrade::new("http://x", Some(KEY.into()), world_query(2000..=2022));
    let plan = keyed.plan();
    assert_eq!(plan.len(), 12);
    assert!(plan.iter().all(|r| keyed.estimate(r) <= 0.8 * KEYED_ROW_CAP as f64));
    let records: f64 = plan.iter().map(|r| keyed.estimate(r)).sum();
    assert_eq!(records.round(), 200.0 * 7.0 * 23.0 * 2.0 * 11.0);

    let codes: Vec<u32> = reporters(200).into_iter().map(|r| r.0).collect();
    assert_eq!(codes.len(), 200);
    let keyless = Comtrade::new(
        "http://x",
        None,
        ComtradeQuery { reporters: Reporters::Only(codes), ..world_query(2000..=2022) },
    );
    assert_eq!(keyless.plan().len(), 2000, "200 reporters × 2 flows × 5 blocks of years");
}

/// Against the stand-in at a scaled cap, with a density guessed too low (so answers hit the cap
/// and are split): at most 100 calls, every record stored exactly once, 429s retried, and a rerun
/// makes no call at all.
#[tokio::test]
async fn the_world_is_fetched_packed_split_once_and_a_rerun_makes_no_call() {
    let mut world = World::new(200, 2000);
    world.throttle_every = 9;
    let expected = world.total(&(2000..=2022).collect::<Vec<_>>(), &["M", "X"]);
    let server = serve(world).await;
    let low = Density { records_per_unit: 0.1, reporters_in_all: 200.0, basis: "test" };
    let source =
        Comtrade::new(&server.uri(), Some(KEY.into()), world_query(2000..=2022)).with_density(low).with_row_cap(2000);
    let raw = tempfile::tempdir().unwrap();
    let summary = run(&source, raw.path()).await;
    assert_eq!(summary.failed, 0, "{:?}", summary.failures);
    assert!(summary.split > 0, "a low estimate makes some answers reach the cap: {summary:?}");
    assert!(summary.retried > 0, "the 429s were retried");
    let calls = server.received_requests().await.unwrap().len();
    eprintln!(
        "world: {expected} records in {calls} calls ({} answers stored, {} split, {} retried)",
        summary.fetched, summary.split, summary.retried
    );
    assert!(calls <= 100, "{calls} calls");
    assert_eq!(summary.calls, calls);

    let keys = normalized_keys(raw.path());
    let unique: BTreeSet<_> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), expected, "every generated record stored");
    assert_eq!(unique.len(), keys.len(), "and none twice");

    let again = run(&source, raw.path()).await;
    assert_eq!((again.fetched, again.calls), (0, 0));
    assert_eq!(server.received_requests().await.unwrap().len(), calls, "the rerun made no call");
    // What the cache now holds sizes the next plan: the density it learns is the real one.
    let learnt = Density::from_manifest(RawCache::open(raw.path(), "comtrade").unwrap().manifest(), low);
    assert_eq!(learnt.basis, "cache");
    assert!((learnt.records_per_unit - expected as f64 / (200.0 * 7.0 * 23.0 * 2.0)).abs() < 1e-9);
}

/// A quota 403 stops the source after one call; the next run (tomorrow) resumes where it stopped,
/// and the two runs together store every record once.
#[tokio::test]
async fn a_quota_stop_resumes_on_the_next_run() {
    let mut world = World::new(50, 2000);
    world.quota = Some(1);
    let years: Vec<i32> = (2010..=2022).collect();
    let expected = world.total(&years, &["M", "X"]);
    let server = serve(world).await;
    let density = Density { records_per_unit: 0.3, reporters_in_all: 50.0, basis: "test" };
    let source = Comtrade::new(&server.uri(), Some(KEY.into()), world_query(2010..=2022))
        .with_density(density)
        .with_row_cap(2000);
    let raw = tempfile::tempdir().unwrap();
    let first = run(&source, raw.path()).await;
    assert!(first.quota_exceeded && first.deferred > 0, "{first:?}");
    assert_eq!(first.fetched, 1, "one call answered, then the quota");

    // The next day the quota is back: a fresh server answers what is left.
    let mut world = World::new(50, 2000);
    world.quota = None;
    let tomorrow = serve(world).await;
    let source = Comtrade::new(&tomorrow.uri(), Some(KEY.into()), world_query(2010..=2022))
        .with_density(density)
        .with_row_cap(2000);
    let second = run(&source, raw.path()).await;
    assert!(!second.quota_exceeded && second.failed == 0, "{second:?}");
    assert_eq!(second.cached, 1, "the stored answer is not asked for again");
    let keys = normalized_keys(raw.path());
    assert_eq!(keys.len(), expected);
    assert_eq!(keys.iter().cloned().collect::<BTreeSet<_>>().len(), expected);
}

/// Without a key: the preview endpoint, one reporter per request, 500-row answers.
#[tokio::test]
async fn keyless_requests_go_reporter_by_reporter() {
    let world = World::new(30, 2000);
    let chosen: Vec<u32> = world.reporters.iter().take(5).map(|r| r.0).collect();
    let server = serve(world).await;
    let query = ComtradeQuery { reporters: Reporters::Only(chosen.clone()), ..world_query(2018..=2022) };
    let source = Comtrade::new(&server.uri(), None, query);
    let raw = tempfile::tempdir().unwrap();
    let summary = run(&source, raw.path()).await;
    assert_eq!(summary.fetched, 5 * 2, "5 reporters × 2 flows × one block of 5 years");
    let requests = server.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| r.url.path() == "/public/v1/preview/C/A/HS"));
    let reporters: BTreeSet<i32> = normalized_keys(raw.path()).iter().map(|k| k.1).collect();
    assert!(reporters.iter().all(|r| chosen.contains(&(*r as u32))));
}
