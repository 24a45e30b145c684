//! What makes a stage up to date: a hash of its file and of its inputs' contents, kept in a small
//! manifest beside each output (`data/out/<stage>/_stage.json`). No database: the manifest is the
//! state, and it is swapped in together with the output it describes.

use std::collections::BTreeMap;
use std::path::Path;

use crate::stage::Stage;

/// Changes when the engine's behaviour changes, so outputs of an older engine are rebuilt.
pub const ENGINE_VERSION: &str = concat!("reeflow-pipeline ", env!("CARGO_PKG_VERSION"), ", one partition per query");

/// The file name of a stage's manifest inside its output folder.
pub const MANIFEST_FILE: &str = "_stage.json";

/// Written beside each stage output.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageManifest {
    pub stage: String,
    /// Hash of the definition and the input hashes: equal means up to date.
    pub key: String,
    /// Hash of the engine version and the stage file.
    pub definition: String,
    /// Input table → content hash, as read when the output was built.
    pub inputs: BTreeMap<String, String>,
    /// SHA-256 of the output Parquet file: the content hash downstream stages see.
    pub output_sha256: String,
    pub rows: usize,
    /// Partition columns and their Arrow types (empty: one file).
    #[serde(default)]
    pub partitions: Vec<(String, String)>,
}

pub use reeflow_files::{file_sha256, sha256_hex};

/// Hash of the engine version and the whole stage file (header and SQL).
pub fn definition_hash(stage: &Stage) -> String {
    sha256_hex(format!("{ENGINE_VERSION}\0{}", stage.text).as_bytes())
}

/// The key a stage output is built from.
pub fn stage_key(definition: &str, inputs: &BTreeMap<String, String>) -> String {
    let mut text = definition.to_string();
    for (name, hash) in inputs {
        text.push_str(&format!("\n{name}={hash}"));
    }
    sha256_hex(text.as_bytes())
}

/// The manifest of a published stage output, if there is one.
pub fn read_manifest(out_dir: &Path, stage: &str) -> Option<StageManifest> {
    let text = std::fs::read_to_string(out_dir.join(stage).join(MANIFEST_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}
