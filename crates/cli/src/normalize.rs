//! `reeflow normalize`, and the staleness test `reeflow run` uses to normalize only when needed.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use reeflow_normalize::write::WrittenTable;
use reeflow_normalize::{NormalizeOptions, RawFile};

/// Normalizes `raw` into `out`, with a line per raw file on stderr.
pub fn normalize(raw: &Path, out: &Path, options: &NormalizeOptions) -> Result<Vec<WrittenTable>> {
    eprintln!("normalizing {} → {}", raw.display(), out.display());
    // Trade rows stream to disk file by file; the other tables are small.
    let (normalized, written) = reeflow_normalize::normalize_into(raw, options, out)?;
    for file in &normalized.files {
        match (&file.format, &file.ignored) {
            (Some(format), _) => {
                let mut counts = Vec::new();
                for (table, rows) in [
                    ("production", file.production),
                    ("trade", file.trade),
                    ("salient", file.salient),
                    ("countries", file.countries),
                ] {
                    if rows > 0 {
                        counts.push(format!("{rows} {table}"));
                    }
                }
                eprintln!(
                    "  read    {} [{}]: {}",
                    file.file,
                    format.name(),
                    if counts.is_empty() { "no rows".into() } else { counts.join(", ") }
                );
                for (reason, count) in &file.skipped {
                    eprintln!("          skipped {count}: {reason}");
                }
            }
            (None, reason) => eprintln!("  ignored {}: {}", file.file, reason.as_deref().unwrap_or("no adapter")),
        }
    }
    Ok(written)
}

/// The tables `reeflow normalize` wrote, on stdout.
pub fn print_written(written: &[WrittenTable]) {
    for table in written {
        println!("{:<12} {:>6} rows  {}", table.table, table.rows, table.path.display());
    }
}

/// True when the normalized tables are missing or were not made from exactly `raw_files`: the
/// set of (file, sha256) differs from their manifest's (another raw folder, a file added, removed
/// or edited). Contents decide, not sizes or times: an edit restored to the same size with an
/// older modification time (a restored CI cache) is still seen.
pub fn needs_normalize(raw_files: &[RawFile], normalized: &Path) -> Result<bool> {
    let manifest = normalized.join("_manifest.json");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return Ok(true);
    };
    let listed: BTreeSet<(String, String)> = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|value| value["files"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|file| Some((file["file"].as_str()?.to_string(), file["sha256"].as_str()?.to_string())))
        .collect();
    let mut present = BTreeSet::new();
    for file in raw_files {
        let hash = reeflow_files::file_sha256(&file.path)
            .with_context(|| format!("reading {} to see whether it changed", file.path.display()))?;
        present.insert((file.relative.clone(), hash));
    }
    Ok(present != listed)
}
