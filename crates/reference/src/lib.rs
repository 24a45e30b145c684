//! The flow model's reference data, read from `config/model.toml`: which supply-chain stage each
//! HS code belongs to and its rare-earth-oxide (REO) content (low/mid/high, with its source), the
//! CIF/FOB factor and other settings, the model regions and the countries in each, the trade lanes
//! whose reports belong to another stage than their code says (and the REO factors of the goods
//! they carry, e.g. mixed carbonate under 2846), when each statistical edition was published, the
//! assumptions that fill terms no statistic covers, production figures that come from outside the
//! raw files (e.g. China's separation quotas), and the end uses of separated rare earths with each
//! region's shares.
//!
//! It owns parsing that file strictly (an unknown key, an unknown stage or a malformed date is an
//! error naming the file and the entry) and turning each section into a `ref_*` table the SQL stages
//! read. Value rules that are about the numbers (factor low <= mid <= high, shares within 0..1) are
//! checks of the `reo_factors` stage, so a bad factor fails a run visibly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::error::ArrowError;
use reeflow_model::table::Column;
use reeflow_model::{ProductionRow, Provenance, Stage, Table};

/// The default model file, relative to the working directory.
pub const DEFAULT_MODEL_FILE: &str = "config/model.toml";

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("cannot read model file {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("model file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("model file {path}, {entry}: {message}")]
    Invalid { path: PathBuf, entry: String, message: String },
    #[error("building table {table}: {source}")]
    Arrow { table: String, source: ArrowError },
}

pub type Result<T> = std::result::Result<T, ReferenceError>;

/// Everything in `config/model.toml`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub settings: Settings,
    #[serde(rename = "hs_code")]
    pub hs_codes: Vec<HsCode>,
    #[serde(rename = "region")]
    pub regions: Vec<Region>,
    #[serde(rename = "lane", default)]
    pub lanes: Vec<Lane>,
    #[serde(rename = "edition", default)]
    pub editions: Vec<Edition>,
    #[serde(rename = "assumption", default)]
    pub assumptions: Vec<Assumption>,
    #[serde(rename = "production", default)]
    pub production: Vec<ProductionEntry>,
    #[serde(rename = "goods", default)]
    pub goods: Vec<Goods>,
    #[serde(rename = "end_use", default)]
    pub end_uses: Vec<EndUse>,
    #[serde(rename = "end_use_shares", default)]
    pub end_use_shares: Vec<EndUseShares>,
    #[serde(rename = "uncertainty", default)]
    pub uncertainty: Vec<UncertaintyRule>,
}

/// The relative standard deviation of one kind of input, with the reason for it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UncertaintyRule {
    /// `trade_weight` (a report's weight) or `production` (a production figure).
    pub input: String,
    /// Which figures: for trade_weight `reported` or `estimated`; for production `reported`,
    /// `estimated` (USGS `e`) or `quota`.
    pub figures: String,
    /// One standard deviation as a fraction of the figure.
    pub relative_sd: f64,
    pub reason: String,
}

/// Model-wide settings (one row of `ref_settings`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// CIF value / FOB value: an importer's CIF value divided by this is compared with FOB values.
    pub cif_fob_factor: f64,
    /// Relative tolerance for an itemised list's countries summing to its own world total (USGS
    /// rounds world totals, e.g. to two significant digits in the MCS).
    pub world_total_tolerance: f64,
    /// Relative tolerance for partner rows summing to the World row of one report.
    pub partner_sum_tolerance: f64,
    /// Sources in order of preference when two report the same side of one flow.
    pub source_precedence: Vec<String>,
    /// Seed of the Monte Carlo draws (the same seed gives the same bytes).
    pub monte_carlo_seed: i32,
    /// Number of Monte Carlo draws.
    pub monte_carlo_draws: i32,
    /// A compound report priced below this fraction of its reporter's average unit value for the
    /// heading that year is listed in unit_value_flags (concentrate or carbonate prices).
    pub unit_value_flag_ratio: f64,
    /// Reports lighter than this (t) are not listed.
    pub unit_value_flag_min_t: f64,
}

/// One HS code: its stage and REO content per kg of product.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HsCode {
    pub code: String,
    pub stage: String,
    pub description: String,
    /// t REO per t of product; absent where the share of rare earths in the code is unknown.
    pub reo_low: Option<f64>,
    pub reo_mid: Option<f64>,
    pub reo_high: Option<f64>,
    /// Where the factor (or the reason there is none) comes from.
    pub factor_source: String,
}

/// A model region and the ISO3 countries in it; countries in no region belong to `ROW`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub code: String,
    pub name: String,
    pub members: Vec<String>,
}

/// Reports of one lane and code that belong to another stage than the code's.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lane {
    pub exporter: String,
    pub importer: String,
    pub hs_code: String,
    /// `exporter`, `importer` or `both`: whose reports the rule applies to.
    pub reported_by: String,
    pub first_year: i32,
    pub last_year: Option<i32>,
    pub stage: String,
    /// The HS code whose REO factor applies instead (e.g. 253090 for concentrate declared as 2846).
    pub factor_code: String,
    pub reason: String,
}

/// Goods a lane rule converts with their own REO factor (not an HS code's).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goods {
    /// Lower-case name a lane's `factor_code` refers to (e.g. `mixed_carbonate`).
    pub name: String,
    pub stage: String,
    pub description: String,
    pub reo_low: f64,
    pub reo_mid: f64,
    pub reo_high: f64,
    pub factor_source: String,
}

/// An end use of separated rare earths and the route it takes.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndUse {
    pub name: String,
    /// `direct` (compounds used as they are), `metal` (alloys) or `magnet` (via metal to magnets).
    pub route: String,
    pub description: String,
}

/// One region's end-use shares for a span of years, from one source.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndUseShares {
    /// A model region, or `WLD` for the fallback.
    pub region: String,
    pub first_year: i32,
    pub last_year: i32,
    /// End use → share of the region's separated REO.
    pub shares: BTreeMap<String, f64>,
    /// Each share's low/high is share ∓ spread (not below 0).
    pub spread: f64,
    pub source: String,
}

/// When a statistical edition was published: "newest edition" means latest `published`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edition {
    pub name: String,
    /// `YYYY-MM`.
    pub published: String,
    #[serde(default)]
    pub note: String,
}

/// A balance term no statistic covers, filled with a stated value for a span of years.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assumption {
    /// A model region, or `*` for every region.
    pub region: String,
    /// A stage, or `*` for every stage.
    pub stage: String,
    /// `production`, `imports`, `exports` or `stock_change`.
    pub term: String,
    pub first_year: i32,
    pub last_year: Option<i32>,
    pub t_reo: f64,
    pub reason: String,
}

/// A production figure from outside the raw files, with where it was published.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductionEntry {
    pub country_iso3: String,
    pub country: String,
    pub stage: String,
    pub year: i32,
    pub t_reo: f64,
    /// Flag carried to the model (e.g. `quota`).
    pub flag: Option<String>,
    /// The publication (URL or citation) the figure was taken from.
    pub source: String,
    /// Edition label used to pick among editions (needs an `[[edition]]` entry).
    pub edition: String,
    #[serde(default)]
    pub note: String,
}

const TERMS: [&str; 4] = ["production", "imports", "exports", "stock_change"];
const ROUTES: [&str; 3] = ["direct", "metal", "magnet"];
const UNCERTAINTY_CASES: [(&str, &[&str]); 2] =
    [("trade_weight", &["reported", "estimated"]), ("production", &["reported", "estimated", "quota"])];
const REPORTED_BY: [&str; 3] = ["exporter", "importer", "both"];

impl ModelConfig {
    /// Reads and validates the model file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ReferenceError::Read { path: path.to_path_buf(), message: e.to_string() })?;
        Self::parse(&text, path)
    }

    /// Parses model-file text; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let config: Self = toml::from_str(text)
            .map_err(|e| ReferenceError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let invalid =
            |entry: String, message: String| ReferenceError::Invalid { path: path.to_path_buf(), entry, message };
        let stage_ok = |stage: &str| stage.parse::<Stage>().is_ok();
        let stage_names = || Stage::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        let unknown_stage = |stage: &str| format!("stage {stage:?} is not one of {}", stage_names());
        if self.settings.cif_fob_factor <= 0.0 {
            return Err(invalid("[settings] cif_fob_factor".into(), "must be > 0 (CIF value / FOB value)".into()));
        }
        let mut codes = BTreeMap::new();
        for (i, hs) in self.hs_codes.iter().enumerate() {
            let entry = format!("[[hs_code]] #{} ({})", i + 1, hs.code);
            if hs.code.len() < 4 || !hs.code.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid(entry, "code must be an HS heading or subheading of 4 or more digits".into()));
            }
            if !stage_ok(&hs.stage) {
                return Err(invalid(entry, unknown_stage(&hs.stage)));
            }
            let given = [hs.reo_low, hs.reo_mid, hs.reo_high].iter().filter(|f| f.is_some()).count();
            if given != 0 && given != 3 {
                return Err(invalid(entry, "give reo_low, reo_mid and reo_high together, or none (unknown)".into()));
            }
            if codes.insert(hs.code.clone(), i).is_some() {
                return Err(invalid(entry, "code listed twice".into()));
            }
        }
        let mut member_of: BTreeMap<&str, &str> = BTreeMap::new();
        for region in &self.regions {
            let entry = format!("[[region]] {}", region.code);
            if !is_code3(&region.code) || region.code == "ROW" {
                return Err(invalid(
                    entry,
                    "code must be three capital letters other than ROW (the implicit rest)".into(),
                ));
            }
            for member in &region.members {
                if !is_code3(member) {
                    return Err(invalid(entry, format!("member {member:?} is not an ISO3 code")));
                }
                if let Some(other) = member_of.insert(member, &region.code) {
                    return Err(invalid(
                        entry,
                        format!("{member} is already a member of {other}; regions must not overlap"),
                    ));
                }
            }
        }
        for goods in &self.goods {
            let entry = format!("[[goods]] {}", goods.name);
            if goods.name.is_empty() || !goods.name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                return Err(invalid(entry, "name must be lower-case letters and _ (it is not an HS code)".into()));
            }
            if codes.contains_key(&goods.name) || self.goods.iter().filter(|g| g.name == goods.name).count() > 1 {
                return Err(invalid(entry, "name listed twice".into()));
            }
            if !stage_ok(&goods.stage) {
                return Err(invalid(entry, unknown_stage(&goods.stage)));
            }
        }
        for (i, lane) in self.lanes.iter().enumerate() {
            let entry = format!("[[lane]] #{} ({}→{} {})", i + 1, lane.exporter, lane.importer, lane.hs_code);
            if !REPORTED_BY.contains(&lane.reported_by.as_str()) {
                return Err(invalid(entry, format!("reported_by must be one of {}", REPORTED_BY.join(", "))));
            }
            if !stage_ok(&lane.stage) {
                return Err(invalid(entry, unknown_stage(&lane.stage)));
            }
            if !codes.contains_key(&lane.factor_code) && !self.goods.iter().any(|g| g.name == lane.factor_code) {
                return Err(invalid(
                    entry,
                    format!("factor_code {} has no [[hs_code]] or [[goods]] entry", lane.factor_code),
                ));
            }
            check_years(lane.first_year, lane.last_year).map_err(|m| invalid(entry.clone(), m))?;
        }
        for edition in &self.editions {
            parse_year_month(&edition.published).map_err(|m| invalid(format!("[[edition]] {}", edition.name), m))?;
        }
        for (i, assumption) in self.assumptions.iter().enumerate() {
            let entry =
                format!("[[assumption]] #{} ({} {} {})", i + 1, assumption.region, assumption.stage, assumption.term);
            if !TERMS.contains(&assumption.term.as_str()) {
                return Err(invalid(entry, format!("term must be one of {}", TERMS.join(", "))));
            }
            if assumption.stage != "*" && !stage_ok(&assumption.stage) {
                return Err(invalid(entry, format!("stage must be * or one of {}", stage_names())));
            }
            check_years(assumption.first_year, assumption.last_year).map_err(|m| invalid(entry.clone(), m))?;
        }
        for (i, end_use) in self.end_uses.iter().enumerate() {
            let entry = format!("[[end_use]] {}", end_use.name);
            if !ROUTES.contains(&end_use.route.as_str()) {
                return Err(invalid(entry, format!("route must be one of {}", ROUTES.join(", "))));
            }
            if self.end_uses[..i].iter().any(|e| e.name == end_use.name) {
                return Err(invalid(entry, "end use listed twice".into()));
            }
        }
        for (i, shares) in self.end_use_shares.iter().enumerate() {
            let entry =
                format!("[[end_use_shares]] #{} ({} {}-{})", i + 1, shares.region, shares.first_year, shares.last_year);
            if shares.region != "WLD" && !self.regions.iter().any(|r| r.code == shares.region) {
                return Err(invalid(entry, "region must be a [[region]] code or WLD (the fallback)".into()));
            }
            check_years(shares.first_year, Some(shares.last_year)).map_err(|m| invalid(entry.clone(), m))?;
            if !(0.0..=1.0).contains(&shares.spread) {
                return Err(invalid(entry, "spread must be between 0 and 1".into()));
            }
            for (name, share) in &shares.shares {
                if !self.end_uses.iter().any(|e| &e.name == name) {
                    return Err(invalid(entry, format!("{name} has no [[end_use]] entry")));
                }
                if !(0.0..=1.0).contains(share) {
                    return Err(invalid(entry, format!("share of {name} must be between 0 and 1")));
                }
            }
            let overlapping = self.end_use_shares[..i].iter().any(|o| {
                o.region == shares.region && o.first_year <= shares.last_year && shares.first_year <= o.last_year
            });
            if overlapping {
                return Err(invalid(entry, "overlaps another entry's years for the same region".into()));
            }
        }
        if self.settings.monte_carlo_draws < 100 {
            return Err(invalid(
                "[settings] monte_carlo_draws".into(),
                "must be at least 100 (the 5th and 95th percentiles need draws beyond them)".into(),
            ));
        }
        for (input, cases) in UNCERTAINTY_CASES {
            for case in cases {
                let rules = self.uncertainty.iter().filter(|r| r.input == input && r.figures == *case).count();
                if rules != 1 {
                    return Err(invalid(
                        format!("[[uncertainty]] {input} {case}"),
                        format!("needs exactly one entry, found {rules}"),
                    ));
                }
            }
        }
        for rule in &self.uncertainty {
            let entry = format!("[[uncertainty]] {} {}", rule.input, rule.figures);
            if !UNCERTAINTY_CASES
                .iter()
                .any(|(input, cases)| *input == rule.input && cases.contains(&rule.figures.as_str()))
            {
                return Err(invalid(
                    entry,
                    "input and figures must be trade_weight reported|estimated or production reported|estimated|quota"
                        .into(),
                ));
            }
            if !(0.0..1.0).contains(&rule.relative_sd) {
                return Err(invalid(entry, "relative_sd must be at least 0 and below 1".into()));
            }
        }
        for entry in &self.production {
            let name = format!("[[production]] {} {} {}", entry.country_iso3, entry.stage, entry.year);
            if !stage_ok(&entry.stage) {
                return Err(invalid(name, unknown_stage(&entry.stage)));
            }
            if !self.editions.iter().any(|e| e.name == entry.edition) {
                return Err(invalid(name, format!("edition {} has no [[edition]] entry", entry.edition)));
            }
        }
        Ok(())
    }

    /// Every reference table, by the name SQL stages read it under.
    pub fn tables(&self, model_file: &str) -> Result<Vec<(&'static str, RecordBatch)>> {
        fn batch<T: Table>(name: &'static str, rows: &[T]) -> Result<(&'static str, RecordBatch)> {
            T::to_batch(rows).map(|b| (name, b)).map_err(|source| ReferenceError::Arrow { table: name.into(), source })
        }
        let region_list: Vec<RegionRow> = self
            .regions
            .iter()
            .map(|r| (r.code.clone(), r.name.clone()))
            .chain(std::iter::once(("ROW".to_string(), "Rest of the world".to_string())))
            .enumerate()
            .map(|(i, (region, region_name))| RegionRow { region, region_name, region_order: i as i32 + 1 })
            .collect();
        let region_rows: Vec<RegionMember> = self
            .regions
            .iter()
            .zip(&region_list)
            .flat_map(|(region, row)| {
                region.members.iter().map(move |member| RegionMember { iso3: member.clone(), region: row.clone() })
            })
            .collect();
        let editions: Vec<EditionRow> = self
            .editions
            .iter()
            .map(|e| {
                let (year, month) = parse_year_month(&e.published).expect("validated on load");
                EditionRow { edition: e.name.clone(), published: year * 100 + month as i32, note: e.note.clone() }
            })
            .collect();
        let production: Vec<ProductionRow> = self
            .production
            .iter()
            .map(|p| ProductionRow {
                year: p.year,
                country_iso3: p.country_iso3.clone(),
                country: p.country.clone(),
                stage: p.stage.clone(),
                t_reo: Some(p.t_reo),
                flag: p.flag.clone(),
                raw_value: None,
                notes: (!p.note.is_empty()).then(|| p.note.clone()),
                provenance: Provenance {
                    source: p.source.clone(),
                    source_file: model_file.to_string(),
                    edition: p.edition.clone(),
                },
            })
            .collect();
        Ok(vec![
            batch("ref_settings", &[SettingsRow::from(&self.settings)])?,
            batch("ref_hs_codes", &self.hs_codes)?,
            batch("ref_regions", &region_rows)?,
            batch("ref_region_list", &region_list)?,
            batch("ref_lanes", &self.lanes)?,
            batch("ref_editions", &editions)?,
            batch("ref_assumptions", &self.assumptions)?,
            batch("ref_production", &production)?,
            batch("ref_goods", &self.goods)?,
            batch("ref_end_use_shares", &self.end_use_share_rows())?,
            batch("ref_uncertainty", &self.uncertainty)?,
        ])
    }
}

impl ModelConfig {
    /// One row per region, year and end use of every `[[end_use_shares]]` entry.
    fn end_use_share_rows(&self) -> Vec<EndUseShareRow> {
        let mut rows = Vec::new();
        for entry in &self.end_use_shares {
            for year in entry.first_year..=entry.last_year {
                for (end_use, share) in &entry.shares {
                    let Some(definition) = self.end_uses.iter().find(|e| &e.name == end_use) else { continue };
                    rows.push(EndUseShareRow {
                        region: entry.region.clone(),
                        year,
                        end_use: end_use.clone(),
                        route: definition.route.clone(),
                        share: *share,
                        share_low: (share - entry.spread).max(0.0),
                        share_high: share + entry.spread,
                        source: entry.source.clone(),
                    });
                }
            }
        }
        rows
    }
}

/// One row of `ref_end_use_shares`.
pub struct EndUseShareRow {
    pub region: String,
    pub year: i32,
    pub end_use: String,
    pub route: String,
    pub share: f64,
    pub share_low: f64,
    pub share_high: f64,
    pub source: String,
}

impl Table for EndUseShareRow {
    const NAME: &'static str = "ref_end_use_shares";
    const GRAIN: &'static [&'static str] = &["region", "year", "end_use"];
    fn columns() -> Vec<Column<Self>> {
        vec![
            Column::text("region", false, |r| Some(r.region.as_str())),
            Column::int("year", false, |r| Some(r.year)),
            Column::text("end_use", false, |r| Some(r.end_use.as_str())),
            Column::text("route", false, |r| Some(r.route.as_str())),
            Column::float("share", |r| Some(r.share)),
            Column::float("share_low", |r| Some(r.share_low)),
            Column::float("share_high", |r| Some(r.share_high)),
            Column::text("source", false, |r| Some(r.source.as_str())),
        ]
    }
}

impl Table for Goods {
    const NAME: &'static str = "ref_goods";
    const GRAIN: &'static [&'static str] = &["name"];
    fn columns() -> Vec<Column<Self>> {
        vec![
            Column::text("name", false, |g| Some(g.name.as_str())),
            Column::text("stage", false, |g| Some(g.stage.as_str())),
            Column::text("description", false, |g| Some(g.description.as_str())),
            Column::float("reo_low", |g| Some(g.reo_low)),
            Column::float("reo_mid", |g| Some(g.reo_mid)),
            Column::float("reo_high", |g| Some(g.reo_high)),
            Column::text("factor_source", false, |g| Some(g.factor_source.as_str())),
        ]
    }
}

fn is_code3(code: &str) -> bool {
    code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase())
}

fn check_years(first: i32, last: Option<i32>) -> std::result::Result<(), String> {
    match last {
        Some(last) if last < first => Err(format!("last_year {last} is before first_year {first}")),
        _ => Ok(()),
    }
}

fn parse_year_month(text: &str) -> std::result::Result<(i32, u32), String> {
    let bad = || format!("published {text:?} is not YYYY-MM");
    let (year, month) = text.split_once('-').ok_or_else(bad)?;
    let year: i32 = year.parse().map_err(|_| bad())?;
    let month: u32 = month.parse().map_err(|_| bad())?;
    if year.to_string().len() != 4 || !(1..=12).contains(&month) {
        return Err(bad());
    }
    Ok((year, month))
}

/// One row of `ref_region_list`: a model region in config order, ROW last.
#[derive(Debug, Clone)]
pub struct RegionRow {
    pub region: String,
    pub region_name: String,
    pub region_order: i32,
}

/// One row of `ref_regions`: a member country and its region.
pub struct RegionMember {
    pub iso3: String,
    pub region: RegionRow,
}

/// One row of `ref_editions`; `published` as YYYYMM so editions order by it.
pub struct EditionRow {
    pub edition: String,
    pub published: i32,
    pub note: String,
}

/// The one row of `ref_settings`; `source_precedence` comma-joined, first preferred.
pub struct SettingsRow {
    pub cif_fob_factor: f64,
    pub world_total_tolerance: f64,
    pub partner_sum_tolerance: f64,
    pub source_precedence: String,
    pub monte_carlo_seed: i32,
    pub monte_carlo_draws: i32,
    pub unit_value_flag_ratio: f64,
    pub unit_value_flag_min_t: f64,
}

impl From<&Settings> for SettingsRow {
    fn from(s: &Settings) -> Self {
        Self {
            cif_fob_factor: s.cif_fob_factor,
            world_total_tolerance: s.world_total_tolerance,
            partner_sum_tolerance: s.partner_sum_tolerance,
            source_precedence: s.source_precedence.join(","),
            monte_carlo_seed: s.monte_carlo_seed,
            monte_carlo_draws: s.monte_carlo_draws,
            unit_value_flag_ratio: s.unit_value_flag_ratio,
            unit_value_flag_min_t: s.unit_value_flag_min_t,
        }
    }
}

impl Table for UncertaintyRule {
    const NAME: &'static str = "ref_uncertainty";
    const GRAIN: &'static [&'static str] = &["input", "figures"];
    fn columns() -> Vec<Column<Self>> {
        vec![
            Column::text("input", false, |r| Some(r.input.as_str())),
            Column::text("figures", false, |r| Some(r.figures.as_str())),
            Column::float("relative_sd", |r| Some(r.relative_sd)),
            Column::text("reason", false, |r| Some(r.reason.as_str())),
        ]
    }
}

impl Table for SettingsRow {
    const NAME: &'static str = "ref_settings";
    const GRAIN: &'static [&'static str] = &[];
    fn columns() -> Vec<Column<Self>> {
        vec![
            Column::float("cif_fob_factor", |s| Some(s.cif_fob_factor)),
            Column::float("world_total_tolerance", |s| Some(s.world_total_tolerance)),
            Column::float("partner_sum_tolerance", |s| Some(s.partner_sum_tolerance)),
            Column::text("source_precedence", false, |s| Some(s.source_precedence.as_str())),
            Column::int("monte_carlo_seed", false, |s| Some(s.monte_carlo_seed)),
            Column::int("monte_carlo_draws", false, |s| Some(s.monte_carlo_draws)),
            Column::float("unit_value_flag_ratio", |s| Some(s.unit_value_flag_ratio)),
            Column::float("unit_value_flag_min_t", |s| Some(s.unit_value_flag_min_t)),
        ]
    }
}

impl Table for HsCode {
    const NAME: &'static str = "ref_hs_codes";
    const GRAIN: &'static [&'static str] = &["hs_code"];
    fn columns() -> Vec<Column<Self>> {
        vec![
            Column::text("hs_code", false, |h| Some(h.code.as_str())),
            Column::text("stage", false, |h| Some(h.stage.as_str())),
            Column::text("description", false, |h| Some(h.description.as_str())),
            Column::float("reo_low", |h| h.reo_low),
            Column::float("reo_mid", |h| h.reo_mid),
            Column::float("reo_high", |h| h.reo_high),
            Column::text("factor_source", false, |h| Some(h.factor_source.as_str())),
        ]
    }
}

impl Table for RegionRow {
    const NAME: &'static str = "ref_region_list";
    const GRAIN: &'static [&'static str] = &["region"];
    fn columns() -> Vec<Column<Self>> {
        vec![
            Column::text("region", false, |r| Some(r.region.as_str())),
            Column::text("region_name", false, |r| Some(r.region_name.as_str())),
            Column::int("region_order", false, |r| Some(r.region_order)),
        ]
    }
}

impl Table for RegionMember {
    const NAME: &'static str = "ref_regions";
    const GRAIN: &'static [&'static str] = &["iso3"];
    fn columns() -> Vec<Column<Self>> {
        vec![
            Column::text("iso3", false, |m| Some(m.iso3.as_str())),
            Column::text("region", false, |m| Some(m.region.region.as_str())),
            Column::text("region_name", false, |m| Some(m.region.region_name.as_str())),
            Column::int("region_order", false, |m| Some(m.region.region_order)),
        ]
    }
}

impl Table for Lane {
    const NAME: &'static str = "ref_lanes";
    const GRAIN: &'static [&'static str] = &["exporter", "importer", "hs_code", "reported_by", "first_year"];
    fn columns() -> Vec<Column<Self>> {
        vec![
            Column::text("exporter", false, |l| Some(l.exporter.as_str())),
            Column::text("importer", false, |l| Some(l.importer.as_str())),
            Column::text("hs_code", false, |l| Some(l.hs_code.as_str())),
            Column::text("reported_by", false, |l| Some(l.reported_by.as_str())),
            Column::int("first_year", false, |l| Some(l.first_year)),
            Column::int("last_year", true, |l| l.last_year),
            Column::text("stage", false, |l| Some(l.stage.as_str())),
            Column::text("factor_code", false, |l| Some(l.factor_code.as_str())),
            Column::text("reason", false, |l| Some(l.reason.as_str())),
        ]
    }
}

impl Table for EditionRow {
    const NAME: &'static str = "ref_editions";
    const GRAIN: &'static [&'static str] = &["edition"];
    fn columns() -> Vec<Column<Self>> {
        vec![
            Column::text("edition", false, |e| Some(e.edition.as_str())),
            Column::int("published", false, |e| Some(e.published)),
            Column::text("note", false, |e| Some(e.note.as_str())),
        ]
    }
}

impl Table for Assumption {
    const NAME: &'static str = "ref_assumptions";
    const GRAIN: &'static [&'static str] = &["region", "stage", "term", "first_year"];
    fn columns() -> Vec<Column<Self>> {
        vec![
            Column::text("region", false, |a| Some(a.region.as_str())),
            Column::text("stage", false, |a| Some(a.stage.as_str())),
            Column::text("term", false, |a| Some(a.term.as_str())),
            Column::int("first_year", false, |a| Some(a.first_year)),
            Column::int("last_year", true, |a| a.last_year),
            Column::float("t_reo", |a| Some(a.t_reo)),
            Column::text("reason", false, |a| Some(a.reason.as_str())),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[settings]
cif_fob_factor = 1.06
world_total_tolerance = 0.03
partner_sum_tolerance = 0.001
source_precedence = ["usitc_dataweb", "comtrade"]
monte_carlo_seed = 1
monte_carlo_draws = 1000
unit_value_flag_ratio = 0.25
unit_value_flag_min_t = 100

[[uncertainty]]
input = "trade_weight"
figures = "reported"
relative_sd = 0.05
reason = "test"

[[uncertainty]]
input = "trade_weight"
figures = "estimated"
relative_sd = 0.15
reason = "test"

[[uncertainty]]
input = "production"
figures = "reported"
relative_sd = 0.05
reason = "test"

[[uncertainty]]
input = "production"
figures = "estimated"
relative_sd = 0.1
reason = "test"

[[uncertainty]]
input = "production"
figures = "quota"
relative_sd = 0.1
reason = "test"

[[hs_code]]
code = "2846"
stage = "separation"
description = "compounds"
reo_low = 0.45
reo_mid = 0.85
reo_high = 0.99
factor_source = "METHOD.md"

[[region]]
code = "USA"
name = "United States"
members = ["USA"]
"#;

    fn parse(text: &str) -> Result<ModelConfig> {
        ModelConfig::parse(text, Path::new("config/model.toml"))
    }

    #[test]
    fn shipped_model_file_parses_and_builds_every_table() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/model.toml");
        let config = ModelConfig::load(&path).unwrap();
        let tables = config.tables("config/model.toml").unwrap();
        let names: Vec<_> = tables.iter().map(|(n, _)| *n).collect();
        assert!(names.contains(&"ref_hs_codes") && names.contains(&"ref_production"));
        let compounds = config.hs_codes.iter().find(|h| h.code == "2846").unwrap();
        assert_eq!((compounds.reo_low, compounds.reo_mid, compounds.reo_high), (Some(0.45), Some(0.85), Some(0.99)));
        let list = tables.iter().find(|(n, _)| *n == "ref_region_list").unwrap();
        assert_eq!(list.1.num_rows(), config.regions.len() + 1, "every region plus ROW");
    }

    #[test]
    fn unknown_key_names_the_file() {
        let err = parse(&MINIMAL.replace("cif_fob_factor", "cif_fob")).unwrap_err().to_string();
        assert!(err.contains("config/model.toml") && err.contains("cif_fob"), "{err}");
    }

    #[test]
    fn unknown_stage_is_refused_with_the_entry() {
        let err = parse(&MINIMAL.replace("stage = \"separation\"", "stage = \"refining\"")).unwrap_err().to_string();
        assert!(err.contains("[[hs_code]] #1 (2846)") && err.contains("refining"), "{err}");
    }

    #[test]
    fn partial_factor_ranges_are_refused() {
        let err = parse(&MINIMAL.replace("reo_high = 0.99\n", "")).unwrap_err().to_string();
        assert!(err.contains("reo_low, reo_mid and reo_high together"), "{err}");
    }

    #[test]
    fn overlapping_regions_are_refused() {
        let text =
            format!("{MINIMAL}\n[[region]]\ncode = \"NAM\"\nname = \"North America\"\nmembers = [\"CAN\", \"USA\"]\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("USA is already a member of USA"), "{err}");
    }

    #[test]
    fn malformed_publication_month_is_refused() {
        let text = format!("{MINIMAL}\n[[edition]]\nname = \"MCS2023\"\npublished = \"January 2023\"\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("[[edition]] MCS2023") && err.contains("YYYY-MM"), "{err}");
    }

    const END_USES: &str = r#"
[[end_use]]
name = "catalysts"
route = "direct"
description = "catalysts"

[[end_use]]
name = "magnets"
route = "magnet"
description = "magnets"

[[end_use_shares]]
region = "USA"
first_year = 2020
last_year = 2021
shares = { catalysts = 0.7, magnets = 0.3 }
spread = 0.05
source = "test"
"#;

    #[test]
    fn end_use_shares_become_one_row_per_region_year_and_use() {
        let config = parse(&format!("{MINIMAL}{END_USES}")).unwrap();
        let rows = config.end_use_share_rows();
        assert_eq!(rows.len(), 4, "two years × two uses");
        let magnets = rows.iter().find(|r| r.year == 2021 && r.end_use == "magnets").unwrap();
        assert_eq!((magnets.route.as_str(), magnets.share_low, magnets.share_high), ("magnet", 0.25, 0.35));
        let catalysts = rows.iter().find(|r| r.end_use == "catalysts").unwrap();
        assert!((catalysts.share_high - 0.75).abs() < 1e-12 && (catalysts.share_low - 0.65).abs() < 1e-12);
    }

    #[test]
    fn end_use_entries_are_checked_against_the_uses_and_regions() {
        let unknown_use = format!("{MINIMAL}{}", END_USES.replace("magnets = 0.3", "phosphors = 0.3"));
        let err = parse(&unknown_use).unwrap_err().to_string();
        assert!(
            err.contains("[[end_use_shares]] #1 (USA 2020-2021)") && err.contains("phosphors has no [[end_use]]"),
            "{err}"
        );
        let unknown_region = format!("{MINIMAL}{}", END_USES.replace("region = \"USA\"", "region = \"XYZ\""));
        assert!(parse(&unknown_region).unwrap_err().to_string().contains("WLD (the fallback)"));
        let bad_route = format!("{MINIMAL}{}", END_USES.replace("route = \"direct\"", "route = \"smelter\""));
        assert!(parse(&bad_route).unwrap_err().to_string().contains("route must be one of direct, metal, magnet"));
        let overlap = format!("{MINIMAL}{END_USES}{}", &END_USES[END_USES.find("[[end_use_shares]]").unwrap()..]);
        assert!(parse(&overlap).unwrap_err().to_string().contains("overlaps another entry"));
    }

    #[test]
    fn a_lane_may_convert_with_named_goods_but_not_an_unknown_factor() {
        let goods = r#"
[[goods]]
name = "mixed_carbonate"
stage = "mining"
description = "carbonate"
reo_low = 0.4
reo_mid = 0.5
reo_high = 0.6
factor_source = "test"

[[lane]]
exporter = "MMR"
importer = "CHN"
hs_code = "2846"
reported_by = "both"
first_year = 2000
stage = "mining"
factor_code = "mixed_carbonate"
reason = "test"
"#;
        let config = parse(&format!("{MINIMAL}{goods}")).unwrap();
        let tables = config.tables("config/model.toml").unwrap();
        assert_eq!(tables.iter().find(|(n, _)| *n == "ref_goods").unwrap().1.num_rows(), 1);
        let err = parse(&format!(
            "{MINIMAL}{}",
            goods.replace("factor_code = \"mixed_carbonate\"", "factor_code = \"slag\"")
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("factor_code slag has no [[hs_code]] or [[goods]] entry"), "{err}");
    }
}
