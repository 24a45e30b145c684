//! Benchmarks at world-trade scale: a deterministic generator of the canonical `trade` table
//! (and of Comtrade API responses for the normalizer), and what the benchmark runner needs to
//! measure a step: wall time and the peak memory of the process that ran it.
//!
//! The runner itself (`reeflow bench run`) lives in the command line: it runs each step as its
//! own `reeflow` process, and the same SQL with DuckDB, and prints the comparison.

pub mod generate;
pub mod rng;

use std::path::{Path, PathBuf};

pub use generate::{Generated, TradeShape, generate_trade, write_comtrade_json};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("writing {path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Write(#[from] reeflow_files::WriteError),
    #[error("{0}")]
    Options(String),
}

impl BenchError {
    pub fn write(path: &Path, error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Io { path: path.to_path_buf(), source: error.into() }
    }
}

/// The peak resident memory of this process so far, in bytes (Linux `VmHWM`); None elsewhere.
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(super::peak_memory_bytes().unwrap() > 1_000_000);
        }
    }
}
