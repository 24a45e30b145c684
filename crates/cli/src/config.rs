//! `config/reeflow.toml`: settings a user changes without recompiling. Every key is optional and
//! documented in the shipped file; an unknown key or a bad value is an error naming the file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use reeflow_normalize::NormalizeOptions;

/// The default configuration file, relative to the working directory.
pub const DEFAULT_CONFIG: &str = "config/reeflow.toml";

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub paths: Paths,
    #[serde(default)]
    pub normalize: NormalizeSection,
    #[serde(default)]
    pub fetch: FetchSection,
    #[serde(default)]
    pub engine: EngineSection,
    #[serde(default)]
    pub versions: VersionsSection,
    #[serde(default)]
    pub diff: DiffSection,
    #[serde(default)]
    pub storage: StorageSection,
}

/// `[storage]`: data roots in object stores (`--data-dir s3://bucket/prefix`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// The local folder holding checked copies of remote versions [default: REEFLOW_CACHE_DIR,
    /// else ~/.cache/reeflow/roots].
    pub cache: Option<PathBuf>,
    /// Store settings over the standard AWS_* / GOOGLE_* / AZURE_* variables: endpoint, region,
    /// allow_http, … (object_store's configuration keys).
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    /// Partitions a query is split into [default: four per core]; outputs are the same at any.
    pub target_partitions: Option<usize>,
    /// Memory queries may hold, in MiB; beyond it sorts and aggregations spill to disk.
    pub memory_limit_mib: Option<usize>,
    /// Where stage queries run: "local" (default) or "ballista" (a build with `cluster`).
    pub mode: Option<String>,
    /// The Ballista scheduler, df://host:port [default: one started inside the process].
    pub scheduler: Option<String>,
    /// Seconds a stage query on a cluster may take before it fails [default: 3600].
    pub stage_timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionsSection {
    /// Published versions kept (the current one included).
    pub keep: Option<usize>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffSection {
    /// Keys and changes listed per table and column.
    pub limit: Option<usize>,
    #[serde(default)]
    pub thresholds: Vec<reeflow_diff::Threshold>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchSection {
    #[serde(default)]
    pub comtrade: ComtradeSection,
    #[serde(default)]
    pub usgs: UsgsSection,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComtradeSection {
    /// Base URL (env REEFLOW_COMTRADE_URL overrides it).
    pub base_url: Option<String>,
    pub requests_per_second: Option<f64>,
    /// Requests in flight at once (the rate limit still spaces their starts).
    pub concurrency: Option<usize>,
    pub max_attempts: Option<u32>,
    /// Reporter codes fetched when --reporters is not given.
    pub reporters: Option<Vec<u32>>,
    pub codes: Option<Vec<String>>,
    pub flows: Option<Vec<String>>,
    pub first_year: Option<i32>,
    pub years_per_request: Option<usize>,
    /// Ask for every reporter (with a key: `reporterCode` left out; without one: one request per
    /// country of the Comtrade reference list) instead of `reporters`.
    pub all_reporters: Option<bool>,
    /// Calls the key may make in a UTC day [default: 500, the free tier].
    pub daily_quota: Option<u64>,
    /// Packing prior: records per reporter, code, year and flow before the cache can tell.
    pub records_per_reporter_code_year: Option<f64>,
    /// Packing prior: how many reporters "all reporters" stands for.
    pub reporters_in_all: Option<f64>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsgsSection {
    /// A mirror serving the same paths as the file URLs (env REEFLOW_USGS_URL overrides it).
    pub mirror: Option<String>,
    pub requests_per_second: Option<f64>,
    #[serde(default)]
    pub files: Vec<reeflow_fetch::usgs::UsgsFile>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    /// The data root: a folder (raw/, normalized/, snapshot/, out/ under it) or a bucket URL.
    pub data_dir: Option<String>,
    /// The folder of SQL stage files.
    pub pipelines: Option<PathBuf>,
    /// The raw folder normalize reads (default `<data_dir>/raw`).
    pub raw: Option<PathBuf>,
    /// The flow model's reference data (default `config/model.toml`).
    pub model: Option<PathBuf>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizeSection {
    /// HS headings (4 digits) whose trade rows are kept.
    pub hs4_scope: Option<Vec<String>>,
}

impl Config {
    /// Reads `path`. A missing file is an error only when the user named it (`explicit`).
    pub fn load(path: &Path, explicit: bool) -> Result<Self> {
        if !path.exists() {
            if explicit {
                bail!("config file {} does not exist", path.display());
            }
            return Ok(Self::default());
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        let config: Config = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("config file {}: {}", path.display(), e.to_string().trim()))?;
        if let Some(scope) = &config.normalize.hs4_scope
            && let Some(bad) = scope.iter().find(|h| h.len() != 4 || !h.chars().all(|c| c.is_ascii_digit()))
        {
            bail!("config file {}: [normalize] hs4_scope: {bad:?} is not a 4-digit HS heading", path.display());
        }
        for threshold in &config.diff.thresholds {
            threshold
                .validate()
                .map_err(|e| anyhow::anyhow!("config file {}: [[diff.thresholds]]: {e}", path.display()))?;
        }
        if config.engine.target_partitions == Some(0) || config.versions.keep == Some(0) {
            bail!("config file {}: [engine] target_partitions and [versions] keep must be at least 1", path.display());
        }
        Ok(config)
    }

    pub fn engine_options(&self) -> reeflow_pipeline::EngineOptions {
        // The environment overrides the file, for one-off runs (`reeflow bench` compares settings).
        let from_env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<usize>().ok()).filter(|v| *v > 0);
        let defaults = reeflow_pipeline::EngineOptions::default();
        reeflow_pipeline::EngineOptions {
            target_partitions: from_env("REEFLOW_TARGET_PARTITIONS")
                .or(self.engine.target_partitions)
                .unwrap_or(defaults.target_partitions),
            memory_limit: from_env("REEFLOW_MEMORY_LIMIT_MIB").or(self.engine.memory_limit_mib).map(|mib| mib << 20),
            ..defaults
        }
    }

    /// Where stage queries run: `[engine] mode`/`scheduler`, or REEFLOW_ENGINE_MODE/REEFLOW_SCHEDULER.
    pub fn stage_engine(&self) -> Result<crate::cluster::StageEngine> {
        crate::cluster::StageEngine::resolve(
            self.engine.mode.as_deref(),
            self.engine.scheduler.as_deref(),
            self.engine.stage_timeout_seconds,
        )
    }

    pub fn normalize_options(&self) -> NormalizeOptions {
        match &self.normalize.hs4_scope {
            Some(scope) => NormalizeOptions { hs4_scope: scope.clone() },
            None => NormalizeOptions::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_parses_and_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../").join(DEFAULT_CONFIG);
        let config = Config::load(&path, true).unwrap();
        assert_eq!(config.normalize_options(), NormalizeOptions::default());
        assert_eq!(config.paths.data_dir.as_deref(), Some("data"));
        assert_eq!(config.engine_options(), reeflow_pipeline::EngineOptions::default());
        let production = config.diff.thresholds.iter().find(|t| t.table == "production").unwrap();
        assert_eq!(production.max_relative_change, Some(0.05));
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reeflow.toml");
        std::fs::write(&path, "[normalize]\nhs_scope = [\"2846\"]\n").unwrap();
        let error = Config::load(&path, true).unwrap_err().to_string();
        assert!(error.contains("reeflow.toml") && error.contains("hs_scope"), "{error}");
        std::fs::write(&path, "[normalize]\nhs4_scope = [\"28\"]\n").unwrap();
        let error = Config::load(&path, true).unwrap_err().to_string();
        assert!(error.contains("\"28\" is not a 4-digit HS heading"), "{error}");
        assert!(Config::load(&dir.path().join("missing.toml"), true).is_err());
        assert!(Config::load(&dir.path().join("missing.toml"), false).is_ok());
    }
}
