//! Benchmark (not a test): requests per second of the real client against a local server on
//! 127.0.0.1 serving a real Comtrade response, with the rate limit lifted, and the rate the limiter
//! actually holds when it is on.
//!
//!     cargo run -p reeflow-fetch --example client_bench [REQUESTS] [LIMIT_PER_SECOND]
//!
//! Defaults: 400 requests unlimited, then 20 requests at 10 per second. Reads the response body
//! from the repository's copy in tests/data.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reeflow_fetch::comtrade::{Comtrade, ComtradeQuery};
use reeflow_fetch::{ClientConfig, FetchOptions, HttpClient, RawCache, fetch};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn query(years: usize) -> ComtradeQuery {
    ComtradeQuery {
        reporters: reeflow_fetch::comtrade::Reporters::Only(vec![156]),
        partners: None,
        codes: vec!["2846".into()],
        flows: vec!["M".into()],
        years: (1000..1000 + years as i32).collect(),
        years_per_request: 1,
    }
}

async fn measure(server: &MockServer, requests: usize, limit: f64, concurrency: usize) -> (usize, Duration) {
    let client = HttpClient::new(ClientConfig {
        requests_per_second: limit,
        max_attempts: 1,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(1),
        timeout: Duration::from_secs(10),
    })
    .expect("client");
    let raw = tempfile::tempdir().expect("temp dir");
    let mut cache = RawCache::open(raw.path(), "comtrade").expect("cache");
    let source = Comtrade::new(&server.uri(), None, query(requests));
    let started = Instant::now();
    let options = FetchOptions { refresh: false, concurrency, ..FetchOptions::default() };
    let summary = fetch(Arc::new(source), Arc::new(client), &mut cache, &options, |_| {}).await.expect("fetch");
    (summary.fetched, started.elapsed())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let requests: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(400);
    let limit: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10.0);
    let body = reeflow_testdata::read_public("cmrs-v3/un_comtrade_china_2846/2022.json");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body.clone()))
        .mount(&server)
        .await;

    for concurrency in [1, 4] {
        let (fetched, elapsed) = measure(&server, requests, 0.0, concurrency).await;
        println!(
            "unlimited, {concurrency} in flight: {fetched} requests ({} bytes each, validated, hashed and stored) in {:.3} s = {:.0} requests/s",
            body.len(),
            elapsed.as_secs_f64(),
            fetched as f64 / elapsed.as_secs_f64()
        );
    }
    let limited_requests = 20;
    let (fetched, elapsed) = measure(&server, limited_requests, limit, 4).await;
    // n requests at rate r start over (n - 1) / r seconds.
    let held = (fetched as f64 - 1.0) / elapsed.as_secs_f64();
    println!(
        "limited to {limit}/s, 4 in flight: {fetched} requests in {:.3} s = {held:.2} requests/s (limit holds: {})",
        elapsed.as_secs_f64(),
        held <= limit * 1.02
    );
}
