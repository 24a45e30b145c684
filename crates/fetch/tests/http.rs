//! The real client against a local server (wiremock on 127.0.0.1) serving the real Comtrade and
//! USGS files from tests/data: what is requested, what is stored, what is refused.

use std::sync::Arc;
use std::time::Duration;

use reeflow_fetch::comtrade::{Comtrade, ComtradeQuery, Reporters};
use reeflow_fetch::usgs::{Usgs, UsgsFile};
use reeflow_fetch::{ClientConfig, FetchOptions, HttpClient, Outcome, RawCache, Summary, fetch};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request as Received, ResponseTemplate};

fn fast_client() -> HttpClient {
    HttpClient::new(ClientConfig {
        requests_per_second: 0.0,
        max_attempts: 3,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(2),
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

/// China's imports of HS 2846 in the given years, one year a request.
fn china_2846_query(years: Vec<i32>) -> ComtradeQuery {
    ComtradeQuery {
        reporters: Reporters::Only(vec![156]),
        partners: None,
        codes: vec!["2846".into()],
        flows: vec!["M".into()],
        years,
        years_per_request: 1,
    }
}

fn china_2846(server: &MockServer, key: Option<&str>) -> Comtrade {
    Comtrade::new(&server.uri(), key.map(String::from), china_2846_query(vec![2021, 2022]))
}

/// China's verbatim Comtrade answer for HS 2846 imports in `year` (the repository's copy).
fn real_year(year: i32) -> Vec<u8> {
    reeflow_testdata::read_public(&format!("cmrs-v3/un_comtrade_china_2846/{year}.json"))
}

async fn run(source: &Comtrade, raw: &std::path::Path, refresh: bool) -> (Summary, Vec<Outcome>) {
    let mut cache = RawCache::open(raw, "comtrade").unwrap();
    let mut outcomes = Vec::new();
    let summary = fetch(
        Arc::new(source.clone()),
        Arc::new(fast_client()),
        &mut cache,
        &FetchOptions { refresh, ..FetchOptions::default() },
        |p| outcomes.push(p.outcome.clone()),
    )
    .await
    .unwrap();
    (summary, outcomes)
}

async fn serve_years(server: &MockServer) {
    for year in [2021, 2022] {
        Mock::given(method("GET"))
            .and(path("/public/v1/preview/C/A/HS"))
            .and(query_param("period", year.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(real_year(year)))
            .mount(server)
            .await;
    }
}

#[tokio::test]
async fn fetches_real_responses_once_and_a_rerun_makes_no_request() {
    let server = MockServer::start().await;
    serve_years(&server).await;
    let raw = tempfile::tempdir().unwrap();
    let source = china_2846(&server, None);
    let (summary, _) = run(&source, raw.path(), false).await;
    assert_eq!((summary.fetched, summary.failed), (2, 0));
    let stored = std::fs::read(raw.path().join("comtrade/156_M_2022_2846.json")).unwrap();
    assert_eq!(stored, real_year(2022), "stored byte for byte");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(raw.path().join("comtrade/manifest.json")).unwrap()).unwrap();
    let entry = &manifest["files"][1];
    assert_eq!(entry["rows"], 27);
    assert_eq!(entry["sha256"].as_str().unwrap().len(), 64);
    assert!(entry["url"].as_str().unwrap().contains("period=2022&"));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.url.query().unwrap().contains("partner2Code=0")));

    let (again, outcomes) = run(&source, raw.path(), false).await;
    assert_eq!((again.fetched, again.cached), (0, 2));
    assert_eq!(outcomes, [Outcome::Cached, Outcome::Cached]);
    assert_eq!(server.received_requests().await.unwrap().len(), 2, "the rerun made zero requests");
    let (refreshed, _) = run(&source, raw.path(), true).await;
    assert_eq!(refreshed.fetched, 2);
}

#[tokio::test]
async fn fetched_files_normalize_like_the_repository_copies() {
    let server = MockServer::start().await;
    serve_years(&server).await;
    let raw = tempfile::tempdir().unwrap();
    run(&china_2846(&server, None), raw.path(), false).await;
    let fetched = reeflow_normalize_rows(raw.path());
    let copies = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(copies.path().join("comtrade")).unwrap();
    for year in [2021, 2022] {
        std::fs::write(copies.path().join(format!("comtrade/{year}.json")), real_year(year)).unwrap();
    }
    let direct = reeflow_normalize_rows(copies.path());
    assert_eq!(fetched, direct);
    assert_eq!(fetched.len(), 28 + 27);
}

/// The trade rows of a raw folder, without provenance (file names and editions differ).
fn reeflow_normalize_rows(raw: &std::path::Path) -> Vec<String> {
    let normalized = reeflow_normalize::normalize_folder(raw, &Default::default()).unwrap();
    let mut rows: Vec<String> = normalized
        .tables
        .trade
        .iter()
        .map(|r| {
            format!(
                "{} {} {:?} {} {} {:?} {:?}",
                r.year, r.reporter_code, r.partner_code, r.flow, r.hs_code, r.net_weight_kg, r.value_usd
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn retries_429_with_retry_after_and_500_then_succeeds() {
    let body = real_year(2022);
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(500)).up_to_n_times(1).mount(&server).await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200).set_body_bytes(body)).mount(&server).await;
    let raw = tempfile::tempdir().unwrap();
    let source = Comtrade::new(&server.uri(), None, china_2846_query(vec![2022]));
    let started = std::time::Instant::now();
    let (summary, _) = run(&source, raw.path(), false).await;
    assert_eq!((summary.fetched, summary.retried, summary.failed), (1, 2, 0));
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was honoured");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn truncated_bodies_html_pages_and_error_bodies_are_never_stored() {
    let body = real_year(2022);
    let cases: Vec<(&str, ResponseTemplate)> = vec![
        ("truncated", ResponseTemplate::new(200).set_body_bytes(body[..body.len() / 2].to_vec())),
        ("html", ResponseTemplate::new(200).set_body_string("<html><body>Service Unavailable</body></html>")),
        (
            "error body",
            ResponseTemplate::new(200)
                .set_body_string(r#"{"elapsedTime":"0","count":0,"data":[],"error":"rate limit"}"#),
        ),
    ];
    for (name, response) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(response).mount(&server).await;
        let raw = tempfile::tempdir().unwrap();
        let source = Comtrade::new(&server.uri(), None, china_2846_query(vec![2022]));
        let (summary, outcomes) = run(&source, raw.path(), false).await;
        assert_eq!(outcomes, [Outcome::Failed], "{name}");
        assert_eq!(server.received_requests().await.unwrap().len(), 3, "{name}: retried to the limit");
        // Nothing stored; the manifest only counts the three calls against today's quota.
        let stored: Vec<String> = std::fs::read_dir(raw.path().join("comtrade"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(stored, ["manifest.json"], "{name}");
        let manifest = RawCache::open(raw.path(), "comtrade").unwrap();
        assert!(manifest.manifest().files.is_empty(), "{name}");
        assert_eq!(manifest.manifest().calls_by_day.values().sum::<u64>(), 3, "{name}: every attempt counted");
        assert_eq!(summary.calls, 3);
        assert!(summary.failures[0].1.contains("not data"), "{name}: {:?}", summary.failures);
    }
}

#[tokio::test]
async fn quota_exceeded_stops_the_source_and_the_next_run_resumes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("period", "2021"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(real_year(2021)))
        .mount(&server)
        .await;
    let quota = Mock::given(method("GET"))
        .and(query_param("period", "2022"))
        .respond_with(
            ResponseTemplate::new(403).set_body_string(r#"{"statusCode":403,"message":"Out of call volume quota."}"#),
        )
        .mount_as_scoped(&server)
        .await;
    let raw = tempfile::tempdir().unwrap();
    let query = china_2846_query(vec![2021, 2022, 2023]);
    let source = Comtrade::new(&server.uri(), None, query);
    let (first, outcomes) = run(&source, raw.path(), false).await;
    assert!(first.quota_exceeded);
    assert_eq!(outcomes, [Outcome::Fetched, Outcome::Deferred, Outcome::Deferred]);
    assert_eq!(server.received_requests().await.unwrap().len(), 2, "2023 was not even tried");
    drop(quota);
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(real_year(2022)))
        .mount(&server)
        .await;
    let (second, outcomes) = run(&source, raw.path(), false).await;
    assert_eq!(outcomes, [Outcome::Cached, Outcome::Fetched, Outcome::Fetched]);
    assert!(!second.quota_exceeded);
}

#[tokio::test]
async fn an_answer_at_the_row_cap_is_split_not_truncated() {
    let body = real_year(2022);
    let mut envelope: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let record = envelope["data"][0].clone();
    envelope["data"] = serde_json::Value::Array(vec![record; 500]);
    envelope["count"] = 500.into();
    let full = serde_json::to_vec(&envelope).unwrap();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("period", "2021,2022"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(full))
        .mount(&server)
        .await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200).set_body_bytes(body)).mount(&server).await;
    let raw = tempfile::tempdir().unwrap();
    let query = ComtradeQuery { years_per_request: 2, ..china_2846_query(vec![2021, 2022]) };
    let (summary, outcomes) = run(&Comtrade::new(&server.uri(), None, query), raw.path(), false).await;
    assert_eq!(outcomes, [Outcome::Split, Outcome::Fetched, Outcome::Fetched]);
    assert_eq!(summary.split, 1);
    assert!(!raw.path().join("comtrade/156_M_2021-2022_2846.json").exists());
    assert!(raw.path().join("comtrade/156_M_2021_2846.json").exists());
    let periods: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r: &Received| r.url.query_pairs().find(|(k, _)| k == "period").unwrap().1.to_string())
        .collect();
    assert_eq!(periods, ["2021,2022", "2021", "2022"]);
    // The split parent is in the manifest with its parts: a rerun asks for nothing at all (not
    // even the parent, whose answer would hit the cap again and spend a call of the quota).
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(raw.path().join("comtrade/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["splits"][0]["file"], "156_M_2021-2022_2846.json");
    assert_eq!(manifest["splits"][0]["parts"].as_array().unwrap().len(), 2);
    let (again, outcomes) = run(&Comtrade::new(&server.uri(), None, query_again()), raw.path(), false).await;
    assert_eq!(outcomes, [Outcome::Split, Outcome::Cached, Outcome::Cached]);
    assert_eq!((again.fetched, again.cached), (0, 2));
    assert_eq!(server.received_requests().await.unwrap().len(), 3, "the rerun made no request");
}

fn query_again() -> ComtradeQuery {
    ComtradeQuery { years_per_request: 2, ..china_2846_query(vec![2021, 2022]) }
}

#[tokio::test]
async fn the_api_key_travels_only_in_its_header() {
    let body = real_year(2022);
    const KEY: &str = "reeflow-test-key-7f3a9c";
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/data/v1/get/C/A/HS"))
        .and(header("Ocp-Apim-Subscription-Key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
        .mount(&server)
        .await;
    let raw = tempfile::tempdir().unwrap();
    let source = Comtrade::new(&server.uri(), Some(KEY.into()), china_2846_query(vec![2022]));
    let (summary, _) = run(&source, raw.path(), false).await;
    assert_eq!(summary.fetched, 1);
    let request = &server.received_requests().await.unwrap()[0];
    assert!(!request.url.to_string().contains(KEY));
    for entry in walk(raw.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).to_string();
        assert!(!text.contains(KEY), "{} holds the key", entry.display());
    }
    assert!(!format!("{summary:?}").contains(KEY));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

#[tokio::test]
async fn usgs_files_are_checked_for_what_they_claim_to_be() {
    let csv = reeflow_testdata::read_public("pnnl-cmm-data/usgs_mcs/mcs2023-raree_world.csv");
    let xlsx = reeflow_testdata::read_public("cmrs-v3/usgs/usgs_myb2022_rare_earths_tables.xlsx");
    let server = MockServer::start().await;
    Mock::given(path("/mcs2023-raree_world.csv"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(csv.clone()))
        .mount(&server)
        .await;
    Mock::given(path("/myb.xlsx")).respond_with(ResponseTemplate::new(200).set_body_bytes(xlsx)).mount(&server).await;
    Mock::given(path("/moved.csv"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<!DOCTYPE html><html>Page moved</html>"))
        .mount(&server)
        .await;
    let files = vec![
        UsgsFile { url: "https://usgs.example/mcs2023-raree_world.csv".into(), file: "mcs2023-raree_world.csv".into() },
        UsgsFile { url: "https://usgs.example/myb.xlsx".into(), file: "usgs_myb2022_rare_earths_tables.xlsx".into() },
        UsgsFile { url: "moved.csv".into(), file: "mcs2024-raree_world.csv".into() },
    ];
    let raw = tempfile::tempdir().unwrap();
    let mut cache = RawCache::open(raw.path(), "usgs").unwrap();
    let mut outcomes = Vec::new();
    let summary = fetch(
        Arc::new(Usgs::new(Some(&server.uri()), files)),
        Arc::new(fast_client()),
        &mut cache,
        &FetchOptions::default(),
        |p| outcomes.push(p.outcome.clone()),
    )
    .await
    .unwrap();
    assert_eq!(outcomes, [Outcome::Fetched, Outcome::Fetched, Outcome::Failed]);
    assert!(summary.failures[0].1.contains("HTML page"));
    assert_eq!(std::fs::read(raw.path().join("usgs/mcs2023-raree_world.csv")).unwrap(), csv);
    assert!(!raw.path().join("usgs/mcs2024-raree_world.csv").exists());
    // What fetch wrote, normalize reads.
    let normalized = reeflow_normalize::normalize_folder(raw.path(), &Default::default()).unwrap();
    assert!(normalized.tables.production.iter().any(|r| r.provenance.edition == "MCS2023"
        && r.country_iso3 == "CHN"
        && r.year == 2022
        && r.t_reo == Some(210_000.0)));
}

#[tokio::test]
async fn concurrent_downloads_store_every_file_once() {
    let body = real_year(2022);
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body).set_delay(Duration::from_millis(50)))
        .mount(&server)
        .await;
    let raw = tempfile::tempdir().unwrap();
    let query = china_2846_query((2000..2012).collect());
    let source = Comtrade::new(&server.uri(), None, query);
    let mut cache = RawCache::open(raw.path(), "comtrade").unwrap();
    let started = std::time::Instant::now();
    let options = FetchOptions { refresh: false, concurrency: 4, ..FetchOptions::default() };
    let summary = fetch(Arc::new(source), Arc::new(fast_client()), &mut cache, &options, |_| {}).await.unwrap();
    assert_eq!(summary.fetched, 12);
    assert!(started.elapsed() < Duration::from_millis(12 * 50), "requests overlapped: {:?}", started.elapsed());
    assert_eq!(cache.manifest().files.len(), 12);
    assert_eq!(server.received_requests().await.unwrap().len(), 12);
}
