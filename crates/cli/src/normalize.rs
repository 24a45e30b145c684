//! `reeflow normalize`, and the staleness test `reeflow run` uses to normalize only when needed.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use reeflow_normalize::write::WrittenTable;
use reeflow_normalize::{NormalizeOptions, RawFile};

use crate::progress::{Display, Progress};

/// Normalizes `raw` into `out`, with progress per raw file (a bar on a terminal, a line per file
/// in a log).
pub fn normalize(raw: &Path, out: &Path, options: &NormalizeOptions, display: Display) -> Result<Vec<WrittenTable>> {
    let files = reeflow_normalize::discover(raw)?.len() as u64;
    let bar = Progress::new(display, "normalize", "files", files);
    bar.line(&format!("normalizing {} → {}", raw.display(), out.display()), false);
    let mut records = 0;
    // Trade rows stream to disk file by file; the other tables are small.
    let (_, written) = reeflow_normalize::normalize_into(raw, options, out, |done| {
        let file = done.report;
        records += file.production + file.trade + file.salient + file.countries;
        bar.set_position(done.done as u64);
        bar.message(format!("· {records} records · {}", file.file));
        bar.line(&describe_file(file), false);
    })?;
    bar.finish(format!("· {records} records · done"));
    Ok(written)
}

/// What one raw file gave, as the per-file line says it.
fn describe_file(file: &reeflow_normalize::FileReport) -> String {
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
            let mut line = format!(
                "  read    {} [{}]: {}",
                file.file,
                format.name(),
                if counts.is_empty() { "no rows".into() } else { counts.join(", ") }
            );
            for (reason, count) in &file.skipped {
                line.push_str(&format!("\n          skipped {count}: {reason}"));
            }
            line
        }
        (None, reason) => format!("  ignored {}: {}", file.file, reason.as_deref().unwrap_or("no adapter")),
    }
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
/// older modification time (a restored CI cache) is still seen; unchanged files are not read
/// again (the hash cache checks inode, size, mtime and ctime).
pub fn needs_normalize(layout: &crate::Layout, raw_files: &[RawFile], normalized: &Path) -> Result<bool> {
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
        let hash = layout
            .sha256(&file.path)
            .with_context(|| format!("reading {} to see whether it changed", file.path.display()))?;
        present.insert((file.relative.clone(), hash));
    }
    Ok(present != listed)
}
