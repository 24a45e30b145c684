//! The command line's side of versions: choosing a new version's input tables, `reeflow
//! normalize` into a new version, and `reeflow versions`.

use std::path::Path;

use anyhow::{Result, bail};
use reeflow_versions::{Inputs, Staging, VersionStatus};

use crate::{Settings, SummaryFormat, normalize};

/// Where a new version's input tables came from.
pub struct PreparedInputs {
    pub origin: Inputs,
    /// True when the raw files were normalized for this version (the inputs may have changed).
    pub normalized_now: bool,
}

/// When [`prepare_inputs`] normalizes the raw files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renormalize {
    /// Only when the raw files differ from those the current tables were made from (`run`).
    WhenRawChanged,
    /// Always, and the raw folder must hold files (`refresh`: adapter changes are picked up too).
    Always,
}

/// Fills the staging version's `normalized/`: normalized from `raw` when it holds raw files (with
/// `WhenRawChanged`, only when they differ from those the current tables were made from), else
/// carried over from the current version, else linked from the bundled snapshot.
pub fn prepare_inputs(
    settings: &Settings,
    staging: &Staging,
    raw: &Path,
    mode: Renormalize,
    display: crate::progress::Display,
) -> Result<PreparedInputs> {
    let raw_files = if raw.is_dir() { reeflow_normalize::discover(raw)? } else { Vec::new() };
    if raw_files.is_empty() && mode == Renormalize::Always {
        bail!(
            "no raw files in {}: fetch them (--fetch all, the default) or name a folder with --raw DIR",
            raw.display()
        );
    }
    let baseline = staging.baseline.normalized.as_deref();
    // Verified before they are linked into the new version (our links move their ctime).
    if let Some(tables) = staging.baseline.tables.as_deref() {
        settings.layout.trust_unchanged(tables);
    }
    if !raw_files.is_empty() {
        let carried = match baseline {
            Some(tables)
                if mode == Renormalize::WhenRawChanged
                    && !normalize::needs_normalize(&settings.layout, &raw_files, tables)? =>
            {
                Some(tables)
            }
            _ => None,
        };
        if let Some(tables) = carried {
            staging.link_normalized_from(tables)?;
            return Ok(PreparedInputs { origin: Inputs::Raw, normalized_now: false });
        }
        normalize::normalize(raw, &staging.normalized(), &settings.options, display)?;
        return Ok(PreparedInputs { origin: Inputs::Raw, normalized_now: true });
    }
    if let Some(tables) = baseline {
        staging.link_normalized_from(tables)?;
        return Ok(PreparedInputs { origin: Inputs::Raw, normalized_now: false });
    }
    let snapshot = &settings.layout.snapshot;
    if snapshot.join("production.parquet").exists() {
        staging.link_normalized_from(snapshot)?;
        return Ok(PreparedInputs { origin: Inputs::Snapshot, normalized_now: false });
    }
    bail!(
        "no input tables: no raw files in {} and no bundled snapshot in {}: fetch first (`reeflow fetch`), or pass \
         --raw DIR (e.g. --raw tests/data)",
        raw.display(),
        snapshot.display()
    )
}

/// `reeflow normalize`: the raw files' tables in a new version, with every stage whose inputs
/// changed rebuilt, published only when consistent (see [`crate::stages::build_version`]).
pub async fn normalize_into_new_version(settings: &Settings, raw: &Path) -> Result<u8> {
    let staging = settings.layout.versions.begin("reeflow normalize")?;
    normalize::print_written(&normalize::normalize(
        raw,
        &staging.normalized(),
        &settings.options,
        settings.display(false),
    )?);
    let inputs = PreparedInputs { origin: Inputs::Raw, normalized_now: true };
    crate::stages::build_version(settings, staging, inputs, None, false, SummaryFormat::Text).await
}

/// `reeflow versions`.
pub fn list(settings: &Settings, format: SummaryFormat) -> Result<u8> {
    let versions = &settings.layout.versions;
    let current = versions.current()?.map(|v| v.info.id);
    let all = versions.list()?;
    if format == SummaryFormat::Json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|v| {
                let mut value = serde_json::to_value(&v.info).unwrap_or_default();
                value["current"] = serde_json::Value::Bool(current.as_deref() == Some(v.info.id.as_str()));
                value["dir"] = serde_json::Value::String(v.dir.display().to_string());
                value
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if all.is_empty() {
        println!("no versions in {} yet: `reeflow run` makes the first", versions.versions_dir().display());
        return Ok(0);
    }
    println!(
        "{:<2}{:<26} {:<10} {:<18} {:<9} {:<21} previous",
        "", "version", "status", "command", "inputs", "created"
    );
    for version in &all {
        let info = &version.info;
        let marker = if current.as_deref() == Some(info.id.as_str()) { "*" } else { "" };
        let status = match info.status {
            VersionStatus::Published => "published",
            VersionStatus::Rejected => "rejected",
        };
        let inputs = match info.inputs {
            Inputs::Raw => "raw",
            Inputs::Snapshot => "snapshot",
        };
        println!(
            "{marker:<2}{:<26} {status:<10} {:<18} {inputs:<9} {:<21} {}",
            info.id,
            info.command,
            info.created_at,
            info.previous.as_deref().unwrap_or("—")
        );
        if let Some(reason) = &info.reason {
            println!("{:<28}not published: {reason}", "");
        }
    }
    println!("(* current; the folder of each is {}/<version>)", versions.versions_dir().display());
    Ok(0)
}
