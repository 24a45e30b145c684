//! `reeflow fetch`: downloads into <data-dir>/raw/<source>/ with a progress line per request and
//! a closing summary. Base URLs come from config, overridable by REEFLOW_COMTRADE_URL and
//! REEFLOW_USGS_URL; the Comtrade key only from COMTRADE_API_KEY.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use reeflow_fetch::comtrade::{Comtrade, ComtradeQuery};
use reeflow_fetch::usgs::Usgs;
use reeflow_fetch::{ClientConfig, FetchOptions, HttpClient, Outcome, RawCache, Source, Summary};

use crate::config::Config;
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

/// `reeflow fetch`'s closing report: the summaries as JSON (text was printed as it went), and the
/// exit code: 2 when the raw folder is incomplete.
pub fn report(summaries: &[Summary], format: SummaryFormat) -> Result<u8> {
    if format == SummaryFormat::Json {
        println!("{}", serde_json::to_string_pretty(&summaries)?);
    }
    Ok(if any_failed(summaries) { 2 } else { 0 })
}

/// True when a request failed or the quota stopped a source: the raw folder is incomplete.
pub fn any_failed(summaries: &[Summary]) -> bool {
    summaries.iter().any(|s| s.failed > 0 || s.quota_exceeded)
}

/// Fetches the chosen sources, printing progress unless `format` is JSON.
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
    if matches!(which, Which::Comtrade | Which::All) {
        let section = &config.fetch.comtrade;
        let base = std::env::var("REEFLOW_COMTRADE_URL")
            .ok()
            .or_else(|| section.base_url.clone())
            .unwrap_or_else(|| "https://comtradeapi.un.org".into());
        let mut query =
            ComtradeQuery::default_for(section.reporters.clone().unwrap_or_else(|| vec![156, 842]), last_full_year());
        if let Some(first) = section.first_year {
            query.years = (first..=last_full_year()).collect();
        }
        query.codes = args.codes.clone().or_else(|| section.codes.clone()).unwrap_or(query.codes);
        query.flows = args.flows.clone().or_else(|| section.flows.clone()).unwrap_or(query.flows);
        query.reporters = args.reporters.clone().unwrap_or(query.reporters);
        query.partners = args.partners.clone();
        query.years_per_request = section.years_per_request.unwrap_or(query.years_per_request);
        if let Some(years) = &args.years {
            query.years = parse_years(years)?;
        }
        let key = std::env::var("COMTRADE_API_KEY").ok();
        let source = Arc::new(Comtrade::new(&base, key, query));
        let client = client(section.requests_per_second, section.max_attempts)?;
        let options = FetchOptions { refresh, concurrency: section.concurrency.unwrap_or(1) };
        summaries.push(run_source(settings, source, client, &options, dry_run, format).await?);
    }
    if matches!(which, Which::Usgs | Which::All) {
        let section = &config.fetch.usgs;
        if section.files.is_empty() {
            eprintln!("usgs: no files configured ([fetch.usgs] files in config/reeflow.toml); nothing to fetch");
        } else {
            let mirror = std::env::var("REEFLOW_USGS_URL").ok().or_else(|| section.mirror.clone());
            let source = Arc::new(Usgs::new(mirror.as_deref(), section.files.clone()));
            let client = client(section.requests_per_second, None)?;
            let options = FetchOptions { refresh, concurrency: 1 };
            summaries.push(run_source(settings, source, client, &options, dry_run, format).await?);
        }
    }
    Ok(summaries)
}

async fn run_source(
    settings: &Settings,
    source: Arc<dyn Source + Send + Sync>,
    client: Arc<HttpClient>,
    options: &FetchOptions,
    dry_run: bool,
    format: SummaryFormat,
) -> Result<Summary> {
    if dry_run {
        let plan = source.plan();
        for request in &plan {
            println!("GET {}  → {}/{}", request.url, source.name(), request.file);
        }
        return Ok(Summary { source: source.name().to_string(), planned: plan.len(), ..Summary::default() });
    }
    let mut cache = RawCache::open(&settings.layout.raw, source.name())?;
    let text = format == SummaryFormat::Text;
    let name = source.name().to_string();
    let summary = reeflow_fetch::fetch(source, client, &mut cache, options, |done, total, file, outcome| {
        if text {
            let word = match outcome {
                Outcome::Fetched => "fetched",
                Outcome::Cached => "cached",
                Outcome::Split => "split (row cap reached)",
                Outcome::Failed => "FAILED",
                Outcome::Deferred => "deferred (quota)",
            };
            eprintln!("  [{done:>4}/{total:<4}] {name}/{file}: {word}");
        }
    })
    .await?;
    if text {
        println!(
            "{}: {} requests made, {} cached, {} split, {} retried, {} failed{}",
            summary.source,
            summary.fetched,
            summary.cached,
            summary.split,
            summary.retried,
            summary.failed,
            if summary.quota_exceeded { "; quota exceeded: run again later to resume" } else { "" }
        );
        for (file, reason) in &summary.failures {
            eprintln!("  {file}: {reason}");
        }
    }
    Ok(summary)
}
