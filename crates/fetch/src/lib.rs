//! Downloads the raw statistics reeflow normalizes, exactly once each, politely, with an audit
//! trail.
//!
//! It owns the [`Source`] abstraction (what to request, how to tell a real answer from an error
//! page, how to split a request whose answer hit the row cap), the polite HTTP client (rate limit,
//! retries with backoff and jitter, `Retry-After`, quota stop), and the raw cache with its
//! per-source manifest. Sources: UN Comtrade annual HS data ([`comtrade`]) and USGS data-release
//! files ([`usgs`]). It parses responses only as far as validation and paging need.

pub mod cache;
pub mod client;
pub mod comtrade;
pub mod error;
pub mod usgs;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use tokio::task::JoinSet;

pub use cache::{CachedFile, RawCache};
pub use client::{AttemptError, ClientConfig, HttpClient, SecretHeader};
pub use error::{FetchError, Result};

/// One planned request: the cache file it fills and the URL (without secrets).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Request {
    /// File name inside the source's cache folder.
    pub file: String,
    pub url: String,
    pub params: BTreeMap<String, String>,
}

/// What a body turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Validation {
    /// Real data with this many rows (None where rows are not countable, e.g. XLSX).
    Data { rows: Option<usize> },
    /// Real data that reached the row cap: split the request, never store a truncated answer.
    AtCap,
    /// Not data (an error body, an HTML page, a body that does not parse): a failed attempt.
    Invalid(String),
}

/// A place reeflow downloads from.
pub trait Source {
    /// The cache folder name (`comtrade`, `usgs`).
    fn name(&self) -> &str;
    /// The requests a full fetch makes.
    fn plan(&self) -> Vec<Request>;
    /// Headers to send with every request; values are secret.
    fn headers(&self) -> Vec<SecretHeader> {
        Vec::new()
    }
    /// Tells data from everything else.
    fn validate(&self, request: &Request, body: &[u8]) -> Validation;
    /// Smaller requests covering the same ground, when an answer hit the row cap.
    fn split(&self, _request: &Request) -> Option<Vec<Request>> {
        None
    }
    /// How many rows the answer to `request` is expected to hold, where the source can say.
    fn estimated_rows(&self, _request: &Request) -> Option<f64> {
        None
    }
}

/// Why a download is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// The source's rate limit spaces requests.
    RateLimit,
    /// The server asked for a pause (`Retry-After`).
    RetryAfter,
    /// Backing off before retrying a failed attempt.
    Backoff,
}

/// A wait before a request, as it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    pub file: String,
    pub seconds: f64,
    pub reason: WaitReason,
}

/// Called from the download tasks whenever one of them starts to wait (for progress displays).
#[derive(Clone)]
pub struct WaitObserver(pub Arc<dyn Fn(&Wait) + Send + Sync>);

impl std::fmt::Debug for WaitObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WaitObserver")
    }
}

/// One settled request, reported to the caller of [`fetch`] in completion order.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    /// Requests settled so far, and planned in all (splits add to the plan as they happen).
    pub done: usize,
    pub total: usize,
    pub file: &'a str,
    pub outcome: &'a Outcome,
    /// Rows of a fetched answer, where countable.
    pub rows: Option<usize>,
}

/// Options of one fetch run.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Fetch again even what is cached.
    pub refresh: bool,
    /// Requests in flight at once; the client's rate limit still spaces their starts.
    pub concurrency: usize,
    /// Told about every wait (rate limit, Retry-After, backoff) as it starts.
    pub on_wait: Option<WaitObserver>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self { refresh: false, concurrency: 1, on_wait: None }
    }
}

/// What happened to one request.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Fetched,
    Cached,
    Split,
    Failed,
    /// Not attempted: the source's quota ran out earlier in this run.
    Deferred,
}

/// Counts for the closing summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub source: String,
    pub planned: usize,
    pub fetched: usize,
    pub cached: usize,
    pub split: usize,
    pub retried: usize,
    /// HTTP calls made (every attempt counts against a daily quota).
    pub calls: usize,
    /// Rows of the answers stored in this run.
    pub rows: usize,
    pub failed: usize,
    pub deferred: usize,
    pub quota_exceeded: bool,
    /// (file, reason) of each failure.
    pub failures: Vec<(String, String)>,
}

/// Fetches every planned request of `source` into `cache`, up to `options.concurrency` at once
/// through the client's rate limiter. `progress` is called after each request settles. Bodies are
/// stored (and the manifest updated) one at a time, in completion order; the calls made are
/// counted in the manifest by UTC day (what a daily quota counts).
pub async fn fetch(
    source: Arc<dyn Source + Send + Sync>,
    client: Arc<HttpClient>,
    cache: &mut RawCache,
    options: &FetchOptions,
    mut progress: impl FnMut(&Progress),
) -> Result<Summary> {
    let headers = Arc::new(source.headers());
    let mut queue: VecDeque<Request> = source.plan().into();
    let mut summary = Summary { source: source.name().to_string(), planned: queue.len(), ..Summary::default() };
    let mut in_flight: JoinSet<(Request, u32, std::result::Result<Fetched, Step>)> = JoinSet::new();
    let mut done = 0;
    loop {
        // Start what may start; cached and deferred requests are settled at once.
        while in_flight.len() < options.concurrency.max(1) {
            let Some(request) = queue.pop_front() else { break };
            let settled = if summary.quota_exceeded {
                summary.deferred += 1;
                Some(Outcome::Deferred)
            } else if !options.refresh && cache.has(&request.file) {
                summary.cached += 1;
                Some(Outcome::Cached)
            } else if let Some(parts) = cache.split_of(&request.file).filter(|_| !options.refresh) {
                // Split on an earlier run: ask for the parts, not the parent again.
                summary.split += 1;
                summary.planned += parts.len();
                for part in parts.iter().rev() {
                    queue.push_front(part.clone());
                }
                Some(Outcome::Split)
            } else {
                None
            };
            match settled {
                Some(outcome) => {
                    done += 1;
                    let total = summary.planned;
                    progress(&Progress { done, total, file: &request.file, outcome: &outcome, rows: None });
                }
                None => {
                    let (source, client, headers) = (source.clone(), client.clone(), headers.clone());
                    let on_wait = options.on_wait.clone();
                    let span = tracing::info_span!(
                        "fetch_call",
                        source = source.name(),
                        file = %request.file,
                        rows = tracing::field::Empty,
                        retries = tracing::field::Empty
                    );
                    in_flight.spawn(tracing::Instrument::instrument(
                        async move {
                            let (retries, result) =
                                fetch_one(source.as_ref(), &client, &request, &headers, on_wait.as_ref()).await;
                            let span = tracing::Span::current();
                            span.record("retries", retries);
                            if let Ok(fetched) = &result {
                                span.record("rows", fetched.rows.unwrap_or(0));
                            }
                            (request, retries, result)
                        },
                        span,
                    ));
                }
            }
        }
        let Some(joined) = in_flight.join_next().await else { break };
        let (request, retries, result) = joined.map_err(FetchError::Task)?;
        summary.retried += retries as usize;
        summary.calls += retries as usize + 1;
        cache.count_calls(retries as u64 + 1);
        let mut rows = None;
        let outcome = match result {
            Ok(fetched) => {
                let entry = CachedFile {
                    file: request.file.clone(),
                    url: request.url.clone(),
                    params: request.params.clone(),
                    retrieved_at: reeflow_model::date::utc_now_iso(),
                    status: fetched.status,
                    bytes: 0,
                    sha256: String::new(),
                    rows: fetched.rows,
                };
                cache.store(entry, &fetched.body)?;
                reeflow_files::failpoint::reached("fetch:stored");
                summary.fetched += 1;
                summary.rows += fetched.rows.unwrap_or(0);
                rows = fetched.rows;
                Outcome::Fetched
            }
            Err(Step::Split(parts)) => {
                cache.record_split(&request, &parts)?;
                summary.split += 1;
                summary.planned += parts.len();
                for part in parts.into_iter().rev() {
                    queue.push_front(part);
                }
                Outcome::Split
            }
            Err(Step::Quota(reason)) => {
                summary.quota_exceeded = true;
                summary.failures.push((request.file.clone(), reason));
                summary.deferred += 1;
                Outcome::Deferred
            }
            Err(Step::Failed(reason)) => {
                summary.failed += 1;
                summary.failures.push((request.file.clone(), reason));
                Outcome::Failed
            }
        };
        done += 1;
        progress(&Progress { done, total: summary.planned, file: &request.file, outcome: &outcome, rows });
    }
    cache.save()?;
    Ok(summary)
}

/// A validated body.
struct Fetched {
    status: u16,
    body: Vec<u8>,
    rows: Option<usize>,
}

enum Step {
    Split(Vec<Request>),
    Quota(String),
    Failed(String),
}

/// Attempts one request until it yields data, needs splitting, or runs out of attempts; returns
/// the number of retries made too.
async fn fetch_one(
    source: &(dyn Source + Send + Sync),
    client: &HttpClient,
    request: &Request,
    headers: &[SecretHeader],
    on_wait: Option<&WaitObserver>,
) -> (u32, std::result::Result<Fetched, Step>) {
    let attempts = client.config().max_attempts.max(1);
    let mut last = String::new();
    let tell = |seconds: f64, reason: WaitReason| {
        if let Some(observer) = on_wait {
            (observer.0)(&Wait { file: request.file.clone(), seconds, reason });
        }
    };
    for attempt in 1..=attempts {
        let response =
            client.attempt_observed(&request.url, headers, |wait| tell(wait.as_secs_f64(), WaitReason::RateLimit));
        let retry_after = match response.await {
            Ok(response) => match source.validate(request, &response.body) {
                Validation::Data { rows } => {
                    return (attempt - 1, Ok(Fetched { status: response.status, body: response.body, rows }));
                }
                Validation::AtCap => {
                    let step = match source.split(request) {
                        Some(parts) => Step::Split(parts),
                        None => Step::Failed(format!(
                            "{}: the answer reached the row cap and cannot be split further",
                            request.url
                        )),
                    };
                    return (attempt - 1, Err(step));
                }
                Validation::Invalid(reason) => {
                    last = format!("{}: HTTP {} but not data: {reason}", request.url, response.status);
                    None
                }
            },
            Err(AttemptError::Retryable { reason, retry_after }) => {
                last = format!("{}: {reason}", request.url);
                retry_after
            }
            Err(AttemptError::Quota(reason)) => {
                return (attempt - 1, Err(Step::Quota(format!("{}: {reason}", request.url))));
            }
            Err(AttemptError::Fatal(reason)) => {
                return (attempt - 1, Err(Step::Failed(format!("{}: {reason}", request.url))));
            }
        };
        tracing::warn!("attempt {attempt}/{attempts} failed: {last}");
        if attempt < attempts {
            let wait = client.backoff(attempt, retry_after);
            tell(wait.as_secs_f64(), if retry_after.is_some() { WaitReason::RetryAfter } else { WaitReason::Backoff });
            tokio::time::sleep(wait).await;
        }
    }
    (attempts - 1, Err(Step::Failed(format!("{last} (after {attempts} attempts)"))))
}
