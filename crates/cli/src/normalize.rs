//! `reeflow normalize`, and the staleness test `reeflow run` uses to normalize only when needed.

use std::path::Path;

use anyhow::Result;
use reeflow_normalize::NormalizeOptions;

pub fn normalize(raw: &Path, out: &Path, options: &NormalizeOptions) -> Result<()> {
    eprintln!("normalizing {} → {}", raw.display(), out.display());
    let normalized = reeflow_normalize::normalize_folder(raw, options)?;
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
    let written = reeflow_normalize::write_tables(&normalized.tables, &normalized.files, out)?;
    for table in &written {
        println!("{:<12} {:>6} rows  {}", table.table, table.rows, table.path.display());
    }
    Ok(())
}

/// True when the normalized tables are missing or older than a file in the raw folder.
pub fn needs_normalize(raw: &Path, normalized: &Path) -> Result<bool> {
    let manifest = normalized.join("_manifest.json");
    let Ok(written) = std::fs::metadata(&manifest).and_then(|m| m.modified()) else {
        return Ok(true);
    };
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    for file in reeflow_normalize::discover(raw)? {
        if let Ok(modified) = std::fs::metadata(&file.path).and_then(|m| m.modified()) {
            newest = newest.max(modified);
        }
    }
    Ok(newest > written)
}
