//! Turns the real public statistics in a raw folder into reeflow's canonical tables.
//!
//! It owns one adapter per source layout (UN Comtrade API JSON and CSV exports, Comtrade reference
//! lists, USGS MCS world-production and salient CSVs of each year's layout, the MCS 2026 long
//! release, the Minerals Yearbook and DS-140 workbooks, USITC DataWeb workbooks, and the compiled
//! 2000-2017 production file), the discovery that routes each file to its adapter, and the atomic
//! Parquet writer for the `production`, `trade`, `salient` and `countries` tables. It does no
//! analysis: every figure is kept as printed, every edition is kept, unknown stays null, and a
//! layout it does not know is an error naming the file, the place and what was expected.

pub mod adapters;
pub mod discover;
pub mod error;
pub mod text;
pub mod write;
pub mod xlsx;

use std::path::{Path, PathBuf};

use reeflow_model::{CountryRow, ProductionRow, SalientRow, TradeRow};

pub use discover::{Format, RawFile, discover};
pub use error::{NormalizeError, Result};
pub use write::{WrittenTable, normalize_into, write_tables};

/// Choices a user can make about what normalize keeps (from `config/reeflow.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// HS headings (4 digits) whose trade rows are kept; rows of other headings are counted as
    /// out of scope in the file report.
    pub hs4_scope: Vec<String>,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        Self { hs4_scope: reeflow_model::REE_HS4_HEADINGS.iter().map(|h| (*h).to_string()).collect() }
    }
}

impl NormalizeOptions {
    /// Whether a reported code (`2846`, `280530`, `2846.90.2005`) falls under a heading in scope.
    pub fn keeps_hs_code(&self, code: &str) -> bool {
        let mut head = [0u8; 4];
        let mut digits = code.bytes().filter(u8::is_ascii_digit);
        for slot in &mut head {
            match digits.next() {
                Some(digit) => *slot = digit,
                None => return false,
            }
        }
        self.hs4_scope.iter().any(|h| h.as_bytes() == head)
    }

    /// The skip reason for codes out of scope, naming the scope.
    pub fn out_of_scope_reason(&self) -> String {
        format!("HS headings outside the configured scope ({})", self.hs4_scope.join(", "))
    }
}

/// Rows of every canonical table, as read from one or more files.
#[derive(Debug, Default, Clone)]
pub struct Tables {
    pub production: Vec<ProductionRow>,
    pub trade: Vec<TradeRow>,
    pub salient: Vec<SalientRow>,
    pub countries: Vec<CountryRow>,
}

impl Tables {
    pub fn extend(&mut self, other: Tables) {
        self.production.extend(other.production);
        self.trade.extend(other.trade);
        self.salient.extend(other.salient);
        self.countries.extend(other.countries);
    }

    pub fn row_count(&self) -> usize {
        self.production.len() + self.trade.len() + self.salient.len() + self.countries.len()
    }
}

/// What one file gave, and what it held that reeflow deliberately did not read (with why).
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub file: String,
    pub format: Option<Format>,
    pub production: usize,
    pub trade: usize,
    pub salient: usize,
    pub countries: usize,
    /// (reason, row or cell count) for content left out on purpose, e.g. out-of-scope HS codes.
    pub skipped: Vec<(String, usize)>,
    /// Why the whole file was not read (no adapter: metadata, licences, text-only tables).
    pub ignored: Option<String>,
    /// Size and SHA-256 of the file as read, so a normalized table can be traced to exact bytes.
    pub bytes: u64,
    pub sha256: String,
}

/// The result of normalizing a raw folder.
#[derive(Debug, Clone)]
pub struct Normalized {
    pub tables: Tables,
    pub files: Vec<FileReport>,
}

/// Reads every file under `raw` that has an adapter. The first file that fails stops the run with
/// its error: a half-read folder never produces tables.
pub fn normalize_folder(raw: &Path, options: &NormalizeOptions) -> Result<Normalized> {
    let mut trade = Vec::new();
    let mut normalized = normalize_folder_with(
        raw,
        options,
        |rows| {
            trade.extend(rows);
            Ok(())
        },
        |_| {},
    )?;
    normalized.tables.trade = trade;
    Ok(normalized)
}

/// One file read, for progress displays: its report, and how many files of how many are done.
#[derive(Debug, Clone, Copy)]
pub struct FileDone<'a> {
    pub report: &'a FileReport,
    pub done: usize,
    pub total: usize,
}

/// Like [`normalize_folder`], but hands each file's trade rows to `trade` as soon as the file is
/// read instead of keeping them (the returned tables hold no trade rows), so that a writer can
/// stream them to disk: memory then holds one file's rows, not the folder's. `on_file` hears of
/// each file as it is done.
pub fn normalize_folder_with(
    raw: &Path,
    options: &NormalizeOptions,
    mut trade: impl FnMut(Vec<TradeRow>) -> Result<()>,
    mut on_file: impl FnMut(FileDone),
) -> Result<Normalized> {
    let raw_files = discover(raw)?;
    if raw_files.iter().all(|f| f.format.is_none()) {
        return Err(NormalizeError::RawFolder {
            folder: raw.to_path_buf(),
            problem: "holds no file reeflow can read (expected USGS CSV/XLSX, Comtrade JSON/CSV or USITC XLSX files)"
                .into(),
        });
    }
    let mut tables = Tables::default();
    let mut files = Vec::new();
    let total = raw_files.len();
    // Files are read and parsed on every core; their rows are taken in file order (so the tables
    // come out the same whatever the timing), with at most `window` parsed files waiting.
    read_in_parallel(&raw_files, options, |index, read| {
        let (report, output) = read?;
        if let Some(mut output) = output {
            trade(std::mem::take(&mut output.tables.trade))?;
            tables.extend(output.tables);
        }
        on_file(FileDone { report: &report, done: index + 1, total });
        files.push(report);
        Ok(())
    })?;
    adapters::compiled::drop_rows_read_from_primary_files(&mut tables, &mut files);
    adapters::comtrade_ref::merge_countries(&mut tables.countries);
    Ok(Normalized { tables, files })
}

/// What reading one raw file gave: its report, and its rows (None for a file without an adapter).
type FileRead = Result<(FileReport, Option<adapters::AdapterOutput>)>;

/// Reads and parses one raw file: hashes its bytes and runs its adapter.
fn read_one(raw_file: &RawFile, options: &NormalizeOptions) -> FileRead {
    let span = tracing::info_span!("normalize_file", file = %raw_file.relative, rows = tracing::field::Empty);
    let _entered = span.enter();
    let bytes = std::fs::read(&raw_file.path).map_err(|e| NormalizeError::read(&raw_file.path, e))?;
    let mut report = FileReport {
        file: raw_file.relative.clone(),
        format: raw_file.format,
        bytes: bytes.len() as u64,
        sha256: reeflow_files::sha256_hex(&bytes),
        ..Default::default()
    };
    let Some(format) = raw_file.format else {
        report.ignored = raw_file.ignore_reason.clone();
        return Ok((report, None));
    };
    let output = adapters::read(format, raw_file, &bytes, options)?;
    report.production = output.tables.production.len();
    report.trade = output.tables.trade.len();
    report.salient = output.tables.salient.len();
    report.countries = output.tables.countries.len();
    report.skipped = output.skipped.clone();
    span.record("rows", report.production + report.trade + report.salient + report.countries);
    Ok((report, Some(output)))
}

/// Runs [`read_one`] over `raw_files` on up to one thread per core and hands each result to
/// `consume` in file order. The first error in file order stops everything and is returned.
fn read_in_parallel(
    raw_files: &[RawFile],
    options: &NormalizeOptions,
    mut consume: impl FnMut(usize, FileRead) -> Result<()>,
) -> Result<()> {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex};

    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(raw_files.len().max(1));
    let window = 2 * workers;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // (results waiting, index the consumer wants next)
    let state = Mutex::new((BTreeMap::<usize, FileRead>::new(), 0usize));
    let changed = Condvar::new();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= raw_files.len() || stop.load(Ordering::SeqCst) {
                        return;
                    }
                    // Bounded memory: wait while this file is too far ahead of the consumer.
                    {
                        let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
                        while index >= guard.1 + window && !stop.load(Ordering::SeqCst) {
                            guard = changed.wait(guard).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    let read = read_one(&raw_files[index], options);
                    let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
                    guard.0.insert(index, read);
                    changed.notify_all();
                }
            });
        }
        let mut outcome = Ok(());
        for index in 0..raw_files.len() {
            let read = {
                let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if let Some(read) = guard.0.remove(&index) {
                        guard.1 = index + 1;
                        changed.notify_all();
                        break read;
                    }
                    guard = changed.wait(guard).unwrap_or_else(|e| e.into_inner());
                }
            };
            if let Err(error) = consume(index, read) {
                outcome = Err(error);
                break;
            }
        }
        stop.store(true, Ordering::SeqCst);
        changed.notify_all();
        outcome
    })
}

/// The default raw folder of a data directory.
pub fn default_raw_folder(data_dir: &Path) -> PathBuf {
    data_dir.join("raw")
}
