//! The polite HTTP client: a minimum interval between requests per source, retries with
//! exponential backoff and jitter on 429, 5xx, timeouts, resets and truncated bodies, honouring
//! `Retry-After`; a 403 that says "quota" stops the source. Secrets travel only in headers and are
//! never part of a URL, a log line or an error.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::error::{FetchError, Result};

/// Politeness and fault settings of one source.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Requests per second at most (0 = unlimited).
    pub requests_per_second: f64,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled each time, with ±50% jitter.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            requests_per_second: 1.0,
            max_attempts: 5,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(120),
            timeout: Duration::from_secs(120),
        }
    }
}

/// Why one attempt did not produce a body.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptError {
    /// Worth retrying (429, 5xx, timeout, reset, truncated body); `retry_after` from the server.
    Retryable { reason: String, retry_after: Option<Duration> },
    /// The server says the quota is used up: stop this source, resume on the next run.
    Quota(String),
    /// Retrying will not help (404, 401, …).
    Fatal(String),
}

/// A successful response.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A header whose value must never be printed.
#[derive(Clone)]
pub struct SecretHeader {
    pub name: &'static str,
    pub value: String,
}

impl std::fmt::Debug for SecretHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: <redacted>", self.name)
    }
}

pub struct HttpClient {
    inner: reqwest::Client,
    config: ClientConfig,
    next_start: Mutex<Instant>,
    jitter_state: std::sync::Mutex<u64>,
}

impl HttpClient {
    pub fn new(config: ClientConfig) -> Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let inner = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("reeflow/", env!("CARGO_PKG_VERSION"), " (+rare-earth statistics pipeline)"))
            .build()
            .map_err(FetchError::Client)?;
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1;
        Ok(Self { inner, config, next_start: Mutex::new(Instant::now()), jitter_state: std::sync::Mutex::new(seed) })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Waits for the rate limiter's next slot, telling `on_wait` how long first.
    async fn wait_for_slot(&self, on_wait: impl Fn(Duration)) {
        if self.config.requests_per_second <= 0.0 {
            return;
        }
        let interval = Duration::from_secs_f64(1.0 / self.config.requests_per_second);
        let mut next = self.next_start.lock().await;
        let now = Instant::now();
        if *next > now {
            on_wait(*next - now);
            tokio::time::sleep_until(*next).await;
        }
        *next = Instant::now().max(*next) + interval;
    }

    /// One GET attempt, rate-limited.
    pub async fn attempt(&self, url: &str, headers: &[SecretHeader]) -> std::result::Result<Fetched, AttemptError> {
        self.attempt_observed(url, headers, |_| {}).await
    }

    /// One GET attempt, rate-limited; `on_wait` hears how long the limiter makes it wait.
    pub async fn attempt_observed(
        &self,
        url: &str,
        headers: &[SecretHeader],
        on_wait: impl Fn(Duration),
    ) -> std::result::Result<Fetched, AttemptError> {
        self.wait_for_slot(on_wait).await;
        let mut request = self.inner.get(url);
        for header in headers {
            request = request.header(header.name, &header.value);
        }
        let response = request.send().await.map_err(|e| AttemptError::Retryable {
            reason: format!("request failed: {}", describe(&e)),
            retry_after: None,
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(|e| AttemptError::Retryable {
            reason: format!("HTTP {status}: body cut short: {}", describe(&e)),
            retry_after: None,
        })?;
        match status {
            200..=299 => Ok(Fetched { status, body: body.to_vec() }),
            429 => Err(AttemptError::Retryable { reason: "HTTP 429 too many requests".into(), retry_after }),
            500..=599 => Err(AttemptError::Retryable { reason: format!("HTTP {status}"), retry_after }),
            403 if String::from_utf8_lossy(&body).to_lowercase().contains("quota") => {
                Err(AttemptError::Quota(format!("HTTP 403: {}", snippet(&body))))
            }
            _ => Err(AttemptError::Fatal(format!("HTTP {status}: {}", snippet(&body)))),
        }
    }

    /// The wait before attempt `attempt + 1` (1-based `attempt` just failed).
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.config.max_backoff);
        }
        let base = self.config.base_backoff.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1) as i32);
        let jitter = 0.5 + self.jitter();
        Duration::from_secs_f64((base * jitter).min(self.config.max_backoff.as_secs_f64()))
    }

    /// A number in [0, 1) from a xorshift generator (no dependency needed for jitter).
    fn jitter(&self) -> f64 {
        let mut state = self.jitter_state.lock().unwrap_or_else(|e| e.into_inner());
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What went wrong with a request, without the URL reqwest's own message would include.
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "reading the body failed"
    } else {
        "transport error"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    text
}

/// The first 200 characters of a body, on one line.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(200).collect()
}
