//! `reeflow fetch`: downloads into <data-dir>/raw/<source>/ with a progress line per request and
//! a closing summary. Base URLs come from config, overridable by REEFLOW_COMTRADE_URL and
//! REEFLOW_USGS_URL; the Comtrade key only from COMTRADE_API_KEY.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use reeflow_fetch::comtrade::{Comtrade, ComtradeQuery, Density, Reporters};
use reeflow_fetch::usgs::Usgs;
use reeflow_fetch::{
    ClientConfig, FetchOptions, HttpClient, Outcome, RawCache, Source, Summary, Wait, WaitObserver, WaitReason,
};

use crate::config::Config;
use crate::progress::{Display, Progress};
use crate::{Settings, SummaryFormat};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    Comtrade,
    Usgs,
    All,
    /// Fetch nothing (for `refresh`: use the raw files already there).
    None,
}

/// Command-line choices for the Comtrade query.
#[derive(clap::Args, Default)]
pub struct ComtradeArgs {
    /// Reporter codes, comma-separated (156 China, 842 USA) [default: config].
    #[arg(long, value_delimiter = ',')]
    reporters: Option<Vec<u32>>,
    /// Partner codes, comma-separated [default: every partner and the World].
    #[arg(long, value_delimiter = ',')]
    partners: Option<Vec<u32>>,
    /// HS codes, comma-separated [default: config].
    #[arg(long, value_delimiter = ',')]
    codes: Option<Vec<String>>,
    /// Flow codes, comma-separated (M, X) [default: config].
    #[arg(long, value_delimiter = ',')]
    flows: Option<Vec<String>>,
    /// Years, e.g. 2000-2022 or 2022 [default: config first_year to the last full year].
    #[arg(long)]
    years: Option<String>,
    /// Every reporter of the world: with COMTRADE_API_KEY, packed calls that leave reporterCode
    /// out; without, one request per country of the Comtrade reference list. See --dry-run.
    #[arg(long, conflicts_with = "reporters")]
    all_reporters: bool,
}

fn parse_years(text: &str) -> Result<Vec<i32>> {
    let (first, last) = match text.split_once('-') {
        Some((a, b)) => (a.trim().parse::<i32>()?, b.trim().parse::<i32>()?),
        None => {
            let year = text.trim().parse::<i32>()?;
            (year, year)
        }
    };
    if first > last || first < 1962 {
        bail!("--years {text}: expected FIRST-LAST with 1962 <= FIRST <= LAST");
    }
    Ok((first..=last).collect())
}

fn last_full_year() -> i32 {
    let today = reeflow_model::date::utc_now_iso();
    today[..4].parse::<i32>().unwrap_or(2025) - 1
}

fn client(requests_per_second: Option<f64>, max_attempts: Option<u32>) -> Result<Arc<HttpClient>> {
    let defaults = ClientConfig::default();
    Ok(Arc::new(HttpClient::new(ClientConfig {
        requests_per_second: requests_per_second.unwrap_or(defaults.requests_per_second),
        max_attempts: max_attempts.unwrap_or(defaults.max_attempts),
        timeout: Duration::from_secs(120),
        ..defaults
    })?))
}

/// `reeflow fetch`'s closing report: the summaries as JSON (text was printed as it went; a dry
/// run printed its plan), and the exit code: 2 when the raw folder is incomplete.
pub fn report(summaries: &[Summary], format: SummaryFormat, dry_run: bool) -> Result<u8> {
    if format == SummaryFormat::Json && !dry_run {
        println!("{}", serde_json::to_string_pretty(&summaries)?);
    }
    Ok(if any_failed(summaries) { 2 } else { 0 })
}

/// True when a request failed or the quota stopped a source: the raw folder is incomplete.
pub fn any_failed(summaries: &[Summary]) -> bool {
    summaries.iter().any(|s| s.failed > 0 || s.quota_exceeded)
}

/// Fetches the chosen sources, with progress (see [`crate::progress`]) unless `format` is JSON.
pub async fn fetch_sources(
    settings: &Settings,
    config: &Config,
    which: Which,
    args: &ComtradeArgs,
    refresh: bool,
    dry_run: bool,
    format: SummaryFormat,
) -> Result<Vec<Summary>> {
    let mut summaries = Vec::new();
    let mut plans = Vec::new();
    let display = Display::choose(settings.quiet, format == SummaryFormat::Json);
    if matches!(which, Which::Comtrade | Which::All) {
        let section = &config.fetch.comtrade;
        let base = std::env::var("REEFLOW_COMTRADE_URL")
            .ok()
            .or_else(|| section.base_url.clone())
            .unwrap_or_else(|| "https://comtradeapi.un.org".into());
        let key = std::env::var("COMTRADE_API_KEY").ok().filter(|k| !k.is_empty());
        let query = comtrade_query(settings, section, args, key.is_some()).await?;
        let cache = RawCache::open(&settings.layout.raw, "comtrade")?;
        let prior = Density {
            records_per_unit: section.records_per_reporter_code_year.unwrap_or(Density::default().records_per_unit),
            reporters_in_all: section.reporters_in_all.unwrap_or(Density::default().reporters_in_all),
            basis: "default",
        };
        let density = Density::from_manifest(cache.manifest(), prior);
        let source = Comtrade::new(&base, key, query).with_density(density);
        let quota = source.has_key().then(|| Quota {
            daily: section.daily_quota.unwrap_or(reeflow_fetch::comtrade::FREE_DAILY_QUOTA),
            used_today: cache.manifest().calls_on(&reeflow_model::date::utc_now_iso()[..10]),
        });
        let client = client(section.requests_per_second, section.max_attempts)?;
        let options = FetchOptions { refresh, concurrency: section.concurrency.unwrap_or(1), on_wait: None };
        let rate = client.config().requests_per_second;
        let run = SourceRun { source: Arc::new(source), client, options, quota, rate };
        let (summary, plan) = run_source(settings, run, dry_run, format, display).await?;
        summaries.push(summary);
        plans.extend(plan);
    }
    if matches!(which, Which::Usgs | Which::All) {
        let section = &config.fetch.usgs;
        if section.files.is_empty() {
            eprintln!("usgs: no files configured ([fetch.usgs] files in config/reeflow.toml); nothing to fetch");
        } else {
            let mirror = std::env::var("REEFLOW_USGS_URL").ok().or_else(|| section.mirror.clone());
            let source = Arc::new(Usgs::new(mirror.as_deref(), section.files.clone()));
            let client = client(section.requests_per_second, None)?;
            let rate = client.config().requests_per_second;
            let options = FetchOptions { refresh, concurrency: 1, on_wait: None };
            let run = SourceRun { source, client, options, quota: None, rate };
            let (summary, plan) = run_source(settings, run, dry_run, format, display).await?;
            summaries.push(summary);
            plans.extend(plan);
        }
    }
    if dry_run && format == SummaryFormat::Json {
        println!("{}", serde_json::to_string_pretty(&plans)?);
    }
    Ok(summaries)
}

/// The Comtrade query from the command line, then the config, then the defaults: the flow model's
/// HS codes, 2000 to the last full year, the configured reporters or every reporter.
async fn comtrade_query(
    settings: &Settings,
    section: &crate::config::ComtradeSection,
    args: &ComtradeArgs,
    keyed: bool,
) -> Result<ComtradeQuery> {
    let mut query =
        ComtradeQuery::default_for(section.reporters.clone().unwrap_or_else(|| vec![156, 842]), last_full_year());
    if let Some(first) = section.first_year {
        query.years = (first..=last_full_year()).collect();
    }
    let model_codes = model_codes(settings)?;
    query.codes = args.codes.clone().or_else(|| section.codes.clone()).or(model_codes).unwrap_or(query.codes);
    query.flows = args.flows.clone().or_else(|| section.flows.clone()).unwrap_or(query.flows);
    if let Some(reporters) = &args.reporters {
        query.reporters = Reporters::Only(reporters.clone());
    }
    if args.all_reporters || (args.reporters.is_none() && section.all_reporters.unwrap_or(false)) {
        query.reporters = if keyed { Reporters::All } else { Reporters::Only(reference_reporters(settings).await?) };
    }
    query.partners = args.partners.clone();
    query.years_per_request = section.years_per_request.unwrap_or(query.years_per_request);
    if let Some(years) = &args.years {
        query.years = parse_years(years)?;
    }
    Ok(query)
}

/// The HS codes of the flow model (`[[hs_code]]` in the model file), when there is one.
fn model_codes(settings: &Settings) -> Result<Option<Vec<String>>> {
    let model = &settings.layout.model;
    if !model.exists() {
        return Ok(None);
    }
    let config = reeflow_reference::ModelConfig::load(model)?;
    Ok(Some(config.hs_codes.iter().map(|h| h.code.clone()).collect()))
}

/// Every country of the Comtrade reference list (the published `countries` table): the keyless
/// endpoint cannot leave `reporterCode` out, so the world is asked for country by country.
async fn reference_reporters(settings: &Settings) -> Result<Vec<u32>> {
    let engine = settings.engine().await?;
    let batches = engine
        .query(
            "SELECT DISTINCT CAST(code AS BIGINT) AS code FROM countries WHERE NOT is_group AND code > 0 ORDER BY 1",
            false,
        )
        .await?;
    let mut codes = Vec::new();
    for batch in &batches {
        let column = batch.column(0).as_any().downcast_ref::<arrow::array::Int64Array>().expect("an Int64 column");
        codes.extend(column.iter().flatten().map(|c| c as u32));
    }
    if codes.is_empty() {
        bail!(
            "--all-reporters without COMTRADE_API_KEY needs the Comtrade reference list (the countries table): none is published"
        );
    }
    Ok(codes)
}

/// What a key may still do today.
#[derive(Debug, Clone, Copy)]
struct Quota {
    daily: u64,
    used_today: u64,
}

struct SourceRun {
    source: Arc<dyn Source + Send + Sync>,
    client: Arc<HttpClient>,
    options: FetchOptions,
    quota: Option<Quota>,
    /// Requests per second (0: unlimited).
    rate: f64,
}

/// A plan as `--dry-run` prints it.
#[derive(Debug, serde::Serialize)]
struct PlanSummary {
    source: String,
    calls: usize,
    cached: usize,
    estimated_records: Option<u64>,
    seconds_at_rate_limit: Option<f64>,
    daily_quota: Option<u64>,
    used_today: Option<u64>,
    fits_today: Option<bool>,
    requests: Vec<PlannedRequest>,
}

#[derive(Debug, serde::Serialize)]
struct PlannedRequest {
    file: String,
    url: String,
    cached: bool,
    estimated_records: Option<u64>,
}

fn plan_summary(run: &SourceRun, cache: &RawCache, refresh: bool) -> PlanSummary {
    let plan = run.source.plan();
    let requests: Vec<PlannedRequest> = plan
        .iter()
        .map(|r| PlannedRequest {
            file: r.file.clone(),
            url: r.url.clone(),
            cached: !refresh && (cache.has(&r.file) || cache.split_of(&r.file).is_some()),
            estimated_records: run.source.estimated_rows(r).map(|e| e.round() as u64),
        })
        .collect();
    let calls = requests.iter().filter(|r| !r.cached).count();
    let estimated_records = requests.iter().filter(|r| !r.cached).map(|r| r.estimated_records).sum::<Option<u64>>();
    PlanSummary {
        source: run.source.name().to_string(),
        calls,
        cached: requests.len() - calls,
        estimated_records,
        seconds_at_rate_limit: (run.rate > 0.0).then(|| calls as f64 / run.rate),
        daily_quota: run.quota.map(|q| q.daily),
        used_today: run.quota.map(|q| q.used_today),
        fits_today: run.quota.map(|q| q.used_today + calls as u64 <= q.daily),
        requests,
    }
}

fn print_plan(plan: &PlanSummary) {
    let records = plan.estimated_records.map(|r| format!(", about {r} records")).unwrap_or_default();
    println!("{}: {} calls{records} ({} already cached)", plan.source, plan.calls, plan.cached);
    if let Some(seconds) = plan.seconds_at_rate_limit {
        println!("  time at the rate limit: {}", human_duration(seconds));
    }
    match (plan.daily_quota, plan.used_today, plan.fits_today) {
        (Some(quota), Some(used), Some(true)) => {
            println!(
                "  quota: fits today ({used} of {quota} calls used today, {} left after)",
                quota - used - plan.calls as u64
            )
        }
        (Some(quota), Some(used), Some(false)) => println!(
            "  quota: does not fit today ({used} of {quota} calls used): fetch stops at the quota and the next run \
             (tomorrow, UTC) resumes where it stopped; about {} days",
            (used + plan.calls as u64).div_ceil(quota.max(1))
        ),
        _ => println!("  quota: no daily quota counted for the keyless preview endpoint (500 rows a call)"),
    }
    let shown = 20;
    for request in plan.requests.iter().filter(|r| !r.cached).take(shown) {
        let estimate = request.estimated_records.map(|e| format!("  ~{e} records")).unwrap_or_default();
        println!("  GET {}  → {}{estimate}", request.url, request.file);
    }
    if plan.calls > shown {
        println!("  … {} more (--format json lists every request)", plan.calls - shown);
    }
}

fn human_duration(seconds: f64) -> String {
    let seconds = seconds.round() as u64;
    match seconds {
        0..=89 => format!("{seconds} s"),
        90..=5399 => format!("{} min", seconds.div_ceil(60)),
        _ => format!("{:.1} h", seconds as f64 / 3600.0),
    }
}

async fn run_source(
    settings: &Settings,
    mut run: SourceRun,
    dry_run: bool,
    format: SummaryFormat,
    display: Display,
) -> Result<(Summary, Option<PlanSummary>)> {
    let mut cache = RawCache::open(&settings.layout.raw, run.source.name())?;
    if dry_run {
        let plan = plan_summary(&run, &cache, run.options.refresh);
        if format == SummaryFormat::Text {
            print_plan(&plan);
        }
        let summary = Summary { source: plan.source.clone(), planned: plan.calls, ..Summary::default() };
        return Ok((summary, Some(plan)));
    }
    let name = run.source.name().to_string();
    let bar = Progress::new(display, &format!("fetch {name}"), "calls", run.source.plan().len() as u64);
    let waiting = bar.clone();
    run.options.on_wait = Some(WaitObserver(Arc::new(move |wait: &Wait| {
        let why = match wait.reason {
            WaitReason::RateLimit => "rate limit",
            WaitReason::RetryAfter => "Retry-After",
            WaitReason::Backoff => "backoff",
        };
        waiting.message(format!("· waiting {:.1} s ({why})", wait.seconds));
    })));
    let mut records = 0;
    let summary = reeflow_fetch::fetch(run.source, run.client, &mut cache, &run.options, |p| {
        records += p.rows.unwrap_or(0);
        bar.set_total(p.total as u64);
        bar.set_position(p.done as u64);
        bar.message(format!("· {records} records"));
        let word = match p.outcome {
            Outcome::Fetched => "fetched",
            Outcome::Cached => "cached",
            Outcome::Split => "split (row cap reached)",
            Outcome::Failed => "FAILED",
            Outcome::Deferred => "deferred (quota)",
        };
        let rows = p.rows.map(|r| format!(" ({r} records)")).unwrap_or_default();
        bar.line(
            &format!("  [{:>4}/{:<4}] {name}/{}: {word}{rows}", p.done, p.total, p.file),
            *p.outcome == Outcome::Failed,
        );
    })
    .await?;
    bar.finish(format!("· {} records · done", summary.rows));
    if format == SummaryFormat::Text && display != Display::Silent {
        println!(
            "{}: {} requests made ({} calls), {} records, {} cached, {} split, {} retried, {} failed{}",
            summary.source,
            summary.fetched,
            summary.calls,
            summary.rows,
            summary.cached,
            summary.split,
            summary.retried,
            summary.failed,
            if summary.quota_exceeded { "; quota exceeded: the next run resumes where this one stopped" } else { "" }
        );
    }
    if format == SummaryFormat::Text {
        for (file, reason) in &summary.failures {
            eprintln!("  {file}: {reason}");
        }
    }
    Ok((summary, None))
}
