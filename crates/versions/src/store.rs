//! Versions of the published tables, the staging folder a writer builds the next one in, and the
//! atomic switch of `<data>/current`.
//!
//! Ids are `v<seq>-<UTC time>` (`v0007-20261128T153012Z`): the sequence number orders them, so
//! their names sort in the order they were made. The legacy adoption gets `v0000-legacy`.

use std::fs;
use std::path::{Path, PathBuf};

use reeflow_files::{failpoint, rename_durably};

use crate::tree::link_tree;

/// The folder of versions inside the data folder.
pub const VERSIONS_DIR: &str = "versions";
/// The symlink naming the published version.
pub const CURRENT_LINK: &str = "current";
/// Published versions kept when the configuration does not say: the current and the previous.
pub const DEFAULT_KEEP: usize = 2;
/// Each version's description.
pub const VERSION_FILE: &str = "version.json";
const STAGING_PREFIX: &str = ".staging-";
/// A copy of a remote root's version being made by a reader (`reeflow_publish`), which holds no
/// lock: one untouched for an hour was left by a killed reader.
const PULL_PREFIX: &str = ".pull-";
const PULL_ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);
const TRASH_PREFIX: &str = ".trash-";
/// Symlinks through `current` for tools that read files directly.
const STABLE_LINKS: [&str; 2] = ["out", "normalized"];

#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error("{path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a reeflow version ({source})", path = path.display())]
    BadVersion {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Write(#[from] reeflow_files::WriteError),
    #[error("no version {name:?} in {dir}{hint}")]
    NotFound { name: String, dir: PathBuf, hint: String },
}

type Result<T> = std::result::Result<T, VersionError>;

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> VersionError + '_ {
    move |source| VersionError::Io { path: path.to_path_buf(), source }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionStatus {
    /// Was made current (it may since have been replaced).
    Published,
    /// Built but not published: a check or a diff threshold failed. Kept for inspection.
    Rejected,
}

/// Where a version's input tables (`normalized/`) came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Inputs {
    /// Normalized from raw files (`reeflow normalize`, `fetch` + `refresh`).
    Raw,
    /// Copied from the bundled snapshot.
    Snapshot,
}

/// `version.json`: what a version is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VersionInfo {
    pub id: String,
    pub seq: u64,
    /// The command that built it (`reeflow run`, `reeflow refresh`, …).
    pub command: String,
    pub created_at: String,
    pub status: VersionStatus,
    pub inputs: Inputs,
    /// The version that was current when this one was built: what it replaces.
    pub previous: Option<String>,
    /// Why a rejected version was not published.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A version on disk.
#[derive(Debug, Clone)]
pub struct Version {
    pub info: VersionInfo,
    pub dir: PathBuf,
}

impl Version {
    pub fn normalized(&self) -> PathBuf {
        self.dir.join("normalized")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    /// Reads the version in `dir` (its `version.json`).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(VERSION_FILE);
        let text = fs::read_to_string(&path).map_err(io_error(&path))?;
        let info =
            serde_json::from_str(&text).map_err(|source| VersionError::BadVersion { path: path.clone(), source })?;
        Ok(Self { info, dir: dir.to_path_buf() })
    }
}

/// What a writer starts from: the current version, or the plain folders of a data folder made
/// before versions existed.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The current version's id; None for legacy folders or an empty data folder.
    pub id: Option<String>,
    /// The input tables, when they came from raw files (None: the bundled snapshot, or nothing):
    /// what a new version may carry over.
    pub normalized: Option<PathBuf>,
    /// The published input tables whatever their origin: what a new version is compared with.
    pub tables: Option<PathBuf>,
    pub out: Option<PathBuf>,
}

/// The next version, being built in `<data>/versions/.staging-<id>/`. Dropped without
/// [`VersionStore::publish`] or [`VersionStore::reject`], it is deleted.
#[derive(Debug)]
pub struct Staging {
    pub id: String,
    pub seq: u64,
    pub dir: PathBuf,
    pub command: String,
    pub created_at: String,
    pub baseline: Baseline,
    /// Plain `out/` and `normalized/` folders to adopt as a version at publish.
    legacy: bool,
    finished: bool,
}

impl Staging {
    pub fn normalized(&self) -> PathBuf {
        self.dir.join("normalized")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    /// Hard-links the baseline's stage outputs into this version, so unchanged stages are skipped.
    pub fn link_baseline_out(&self) -> Result<()> {
        match &self.baseline.out {
            Some(out) => link_tree(out, &self.out()).map_err(io_error(out)),
            None => Ok(()),
        }
    }

    /// Hard-links a folder of input tables (`*.parquet` and their manifest) into this version.
    pub fn link_normalized_from(&self, folder: &Path) -> Result<()> {
        link_tree(folder, &self.normalized()).map_err(io_error(folder))
    }

    /// Removes the staging folder.
    pub fn discard(mut self) {
        self.finished = true;
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// True for a reader's copy in progress that nothing has touched for [`PULL_ABANDONED_AFTER`].
fn abandoned_copy(path: &Path, name: &str) -> bool {
    name.starts_with(PULL_PREFIX)
        && fs::metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > PULL_ABANDONED_AFTER))
}

/// A version sealed as published but not yet current (see [`VersionStore::seal_for_publish`]).
#[derive(Debug)]
pub struct Sealed {
    pub version: Version,
    legacy: bool,
}

/// The versions of one data folder.
#[derive(Debug, Clone)]
pub struct VersionStore {
    data_dir: PathBuf,
    keep: usize,
}

impl VersionStore {
    /// The store of `data_dir`, keeping the current and the previous published version.
    pub fn new(data_dir: &Path) -> Self {
        Self { data_dir: data_dir.to_path_buf(), keep: DEFAULT_KEEP }
    }

    /// Keeps this many published versions (at least 1, the current one).
    pub fn keep(mut self, keep: usize) -> Self {
        self.keep = keep.max(1);
        self
    }

    pub fn versions_dir(&self) -> PathBuf {
        self.data_dir.join(VERSIONS_DIR)
    }

    /// The published version, resolved once: a reader that keeps this path sees one version even
    /// if another is published meanwhile. None before the first publish.
    pub fn current(&self) -> Result<Option<Version>> {
        let link = self.data_dir.join(CURRENT_LINK);
        let target = match fs::read_link(&link) {
            Ok(target) => target,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&link)(e)),
        };
        let id = target.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        Version::load(&self.versions_dir().join(id)).map(Some)
    }

    /// Every version, oldest first (staging folders excluded).
    pub fn list(&self) -> Result<Vec<Version>> {
        let dir = self.versions_dir();
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut versions = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_error(&dir))? {
            let path = entry.map_err(io_error(&dir))?.path();
            let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if !hidden && path.join(VERSION_FILE).exists() {
                versions.push(Version::load(&path)?);
            }
        }
        versions.sort_by_key(|v| v.info.seq);
        Ok(versions)
    }

    /// A version by id, or `current`, or `previous` (the one the current version replaced).
    pub fn get(&self, name: &str) -> Result<Version> {
        let not_found = |hint: &str| VersionError::NotFound {
            name: name.to_string(),
            dir: self.versions_dir(),
            hint: hint.to_string(),
        };
        let current = self.current()?;
        let id = match name {
            "current" => return current.ok_or_else(|| not_found(": nothing is published yet (run `reeflow run`)")),
            "previous" => {
                current.and_then(|c| c.info.previous).ok_or_else(|| not_found(": the current version replaced none"))?
            }
            id => id.to_string(),
        };
        let dir = self.versions_dir().join(&id);
        if !dir.join(VERSION_FILE).exists() {
            let ids: Vec<String> = self.list()?.into_iter().map(|v| v.info.id).collect();
            return Err(not_found(&format!(" (versions: {})", ids.join(", "))));
        }
        Version::load(&dir)
    }

    /// What the next version starts from.
    pub fn baseline(&self) -> Result<Baseline> {
        if let Some(current) = self.current()? {
            let normalized = (current.info.inputs == Inputs::Raw).then(|| current.normalized());
            return Ok(Baseline {
                id: Some(current.info.id.clone()),
                normalized,
                tables: Some(current.normalized()),
                out: Some(current.out()),
            });
        }
        let (out, normalized) = (self.legacy_dir("out"), self.legacy_dir("normalized"));
        let normalized = normalized.filter(|n| n.join("production.parquet").exists());
        Ok(Baseline { id: None, tables: normalized.clone(), normalized, out })
    }

    /// `<data>/<name>` when it is a plain folder (a data folder from before versions).
    fn legacy_dir(&self, name: &str) -> Option<PathBuf> {
        let path = self.data_dir.join(name);
        let metadata = fs::symlink_metadata(&path).ok()?;
        metadata.is_dir().then_some(path)
    }

    /// Starts the next version. The caller must hold the data folder's lock: staging folders and
    /// unpublished versions left by killed writers are removed first.
    pub fn begin(&self, command: &str) -> Result<Staging> {
        self.repair()?;
        self.remove_leftovers()?;
        let baseline = self.baseline()?;
        let seq = self.list()?.last().map(|v| v.info.seq).unwrap_or(0) + 1;
        let created_at = reeflow_model::date::utc_now_iso();
        let stamp: String = created_at.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let id = format!("v{seq:04}-{stamp}");
        let dir = self.versions_dir().join(format!("{STAGING_PREFIX}{id}"));
        for folder in [dir.join("normalized"), dir.join("out")] {
            fs::create_dir_all(&folder).map_err(io_error(&folder))?;
        }
        let legacy =
            baseline.id.is_none() && (self.legacy_dir("out").is_some() || self.legacy_dir("normalized").is_some());
        Ok(Staging { id, seq, dir, command: command.to_string(), created_at, baseline, legacy, finished: false })
    }

    /// Publishes a staged version: writes its `version.json`, moves it into place and switches
    /// `current` to it in one rename. Older versions beyond `keep` are then removed.
    pub fn publish(&self, staging: Staging, inputs: Inputs) -> Result<Version> {
        let sealed = self.seal_for_publish(staging, inputs)?;
        self.switch_to(sealed)
    }

    /// The first half of [`VersionStore::publish`]: the version is complete in
    /// `versions/<id>/` but not current, so something else can be done before the switch (a
    /// remote root uploads it and swaps its pointer there first). Dropped without
    /// [`VersionStore::switch_to`], the version is removed by the next writer as a leftover.
    pub fn seal_for_publish(&self, mut staging: Staging, inputs: Inputs) -> Result<Sealed> {
        let version = self.seal(&mut staging, inputs, VersionStatus::Published, None)?;
        Ok(Sealed { version, legacy: staging.legacy })
    }

    /// The second half of [`VersionStore::publish`]: makes a sealed version current.
    pub fn switch_to(&self, sealed: Sealed) -> Result<Version> {
        let Sealed { version, legacy } = sealed;
        failpoint::reached("publish:switch");
        self.switch_current(&version.info.id)?;
        failpoint::reached("publish:cleanup");
        if legacy {
            self.adopt_legacy()?;
        }
        self.ensure_stable_links()?;
        self.prune()?;
        Ok(version)
    }

    /// Makes the complete version folder `versions/<id>/` (one copied from elsewhere, such as a
    /// remote root's published version) current. The caller holds the lock.
    pub fn point_current_at(&self, id: &str) -> Result<Version> {
        let version = Version::load(&self.versions_dir().join(id))?;
        if self.current()?.is_some_and(|c| c.info.id == id) {
            return Ok(version);
        }
        self.switch_current(id)?;
        self.ensure_stable_links()?;
        self.prune()?;
        Ok(version)
    }

    /// Keeps a staged version that must not be published, with the reason, for inspection.
    pub fn reject(&self, mut staging: Staging, inputs: Inputs, reason: &str) -> Result<Version> {
        let version = self.seal(&mut staging, inputs, VersionStatus::Rejected, Some(reason.to_string()))?;
        self.prune()?;
        Ok(version)
    }

    fn seal(
        &self,
        staging: &mut Staging,
        inputs: Inputs,
        status: VersionStatus,
        reason: Option<String>,
    ) -> Result<Version> {
        let info = VersionInfo {
            id: staging.id.clone(),
            seq: staging.seq,
            command: staging.command.clone(),
            created_at: staging.created_at.clone(),
            status,
            inputs,
            previous: staging.baseline.id.clone().or_else(|| staging.legacy.then(legacy_id)),
            reason,
        };
        write_json(&staging.dir.join(VERSION_FILE), &info)?;
        let target = self.versions_dir().join(&staging.id);
        rename_durably(&staging.dir, &target)?;
        staging.finished = true;
        Ok(Version { info, dir: target })
    }

    /// Points `current` at `versions/<id>` with one rename of a fresh symlink over the old one.
    fn switch_current(&self, id: &str) -> Result<()> {
        let link = self.data_dir.join(CURRENT_LINK);
        let fresh = reeflow_files::temporary_path(&link);
        symlink(Path::new(VERSIONS_DIR).join(id), &fresh)?;
        Ok(rename_durably(&fresh, &link)?)
    }

    /// Makes `<data>/out` and `<data>/normalized` symlinks through `current` (once).
    fn ensure_stable_links(&self) -> Result<()> {
        for name in STABLE_LINKS {
            let path = self.data_dir.join(name);
            if fs::symlink_metadata(&path).is_ok() {
                continue;
            }
            let fresh = reeflow_files::temporary_path(&path);
            symlink(Path::new(CURRENT_LINK).join(name), &fresh)?;
            rename_durably(&fresh, &path)?;
        }
        Ok(())
    }

    /// Moves plain `out/` and `normalized/` folders into the version `v0000-legacy`.
    fn adopt_legacy(&self) -> Result<()> {
        let target = self.versions_dir().join(legacy_id());
        let mut inputs = Inputs::Snapshot;
        for name in STABLE_LINKS {
            let Some(folder) = self.legacy_dir(name) else { continue };
            if target.join(name).exists() {
                continue;
            }
            if name == "normalized" {
                inputs = Inputs::Raw;
            }
            fs::create_dir_all(&target).map_err(io_error(&target))?;
            rename_durably(&folder, &target.join(name))?;
        }
        if target.exists() && !target.join(VERSION_FILE).exists() {
            let info = VersionInfo {
                id: legacy_id(),
                seq: 0,
                command: "before versions".into(),
                created_at: reeflow_model::date::utc_now_iso(),
                status: VersionStatus::Published,
                inputs,
                previous: None,
                reason: None,
            };
            write_json(&target.join(VERSION_FILE), &info)?;
        }
        Ok(())
    }

    /// Puts back what a crash or a careless copy can leave half done, before anything else:
    /// `current` missing while published versions exist (a copy by `rsync -r` skips symlinks)
    /// points again at the newest published version; plain `out/` and `normalized/` folders beside
    /// a `current` (a crash between the switch and the adoption of a pre-versions folder) are
    /// adopted; the stable links through `current` are made.
    fn repair(&self) -> Result<()> {
        if self.current()?.is_none() {
            let newest = self.list()?.into_iter().rev().find(|v| v.info.status == VersionStatus::Published);
            let Some(newest) = newest else { return Ok(()) };
            tracing::warn!(version = %newest.info.id, "`current` was missing: it points at the newest published version again");
            self.switch_current(&newest.info.id)?;
        }
        if self.current()?.is_none() {
            // A folder from before versions: its plain folders are the baseline of the first version.
            return Ok(());
        }
        if self.legacy_dir("out").is_some() || self.legacy_dir("normalized").is_some() {
            self.adopt_legacy()?;
        }
        self.ensure_stable_links()
    }

    /// Removes what a killed writer left: staging folders, half-deleted versions, and versions
    /// sealed as published after the current one but never switched to. Without a current
    /// version no published version is removed.
    fn remove_leftovers(&self) -> Result<()> {
        let dir = self.versions_dir();
        if !dir.exists() {
            return Ok(());
        }
        for entry in fs::read_dir(&dir).map_err(io_error(&dir))? {
            let path = entry.map_err(io_error(&dir))?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if name.starts_with(STAGING_PREFIX) || name.starts_with(TRASH_PREFIX) || abandoned_copy(&path, &name) {
                fs::remove_dir_all(&path).map_err(io_error(&path))?;
            }
        }
        let Some(current) = self.current()? else { return Ok(()) };
        for version in self.list()? {
            if version.info.status == VersionStatus::Published && version.info.seq > current.info.seq {
                self.remove_version(&version)?;
            }
        }
        Ok(())
    }

    /// Keeps the newest `keep` published versions (the current one always) and the newest
    /// rejected one. Without a current version nothing is removed.
    fn prune(&self) -> Result<()> {
        let Some(current) = self.current()?.map(|c| c.info.id) else { return Ok(()) };
        let current = Some(current);
        let versions = self.list()?;
        let mut published = 0;
        let mut rejected = 0;
        for version in versions.iter().rev() {
            let keep = match version.info.status {
                VersionStatus::Published => {
                    published += 1;
                    published <= self.keep || current.as_deref() == Some(version.info.id.as_str())
                }
                VersionStatus::Rejected => {
                    rejected += 1;
                    rejected <= 1
                }
            };
            if !keep {
                self.remove_version(version)?;
            }
        }
        Ok(())
    }

    /// Renames a version out of sight first, so a crash mid-delete leaves no half version.
    fn remove_version(&self, version: &Version) -> Result<()> {
        let trash = self.versions_dir().join(format!("{TRASH_PREFIX}{}", version.info.id));
        rename_durably(&version.dir, &trash)?;
        fs::remove_dir_all(&trash).map_err(io_error(&trash))
    }
}

fn legacy_id() -> String {
    "v0000-legacy".to_string()
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("version files serialize");
    Ok(reeflow_files::write_bytes_atomically(path, text.as_bytes())?)
}

#[cfg(unix)]
fn symlink(target: PathBuf, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(&target, link).map_err(io_error(link))
}

#[cfg(not(unix))]
fn symlink(_target: PathBuf, link: &Path) -> Result<()> {
    Err(VersionError::Io {
        path: link.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::Unsupported, "versions need symlinks (Unix)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage_output(dir: &Path, stage: &str, content: &str) {
        fs::create_dir_all(dir.join(stage)).unwrap();
        fs::write(dir.join(stage).join("part-0.parquet"), content).unwrap();
    }

    fn read(path: PathBuf) -> String {
        fs::read_to_string(path).unwrap()
    }

    #[test]
    fn publish_switches_current_and_keeps_the_previous_version() {
        let data = tempfile::tempdir().unwrap();
        let store = VersionStore::new(data.path());
        assert!(store.current().unwrap().is_none());

        let first = store.begin("reeflow run").unwrap();
        stage_output(&first.out(), "trade_flows", "one");
        let first = store.publish(first, Inputs::Snapshot).unwrap();
        assert_eq!(first.info.id.get(..6), Some("v0001-"));
        assert_eq!(store.current().unwrap().unwrap().info.id, first.info.id);
        assert_eq!(read(data.path().join("out/trade_flows/part-0.parquet")), "one", "stable link through current");

        let second = store.begin("reeflow run").unwrap();
        second.link_baseline_out().unwrap();
        assert_eq!(read(second.out().join("trade_flows/part-0.parquet")), "one");
        stage_output(&second.out(), "indicators", "two");
        let second = store.publish(second, Inputs::Snapshot).unwrap();
        assert_eq!(second.info.previous.as_deref(), Some(first.info.id.as_str()));
        assert_eq!(store.get("previous").unwrap().info.id, first.info.id);
        assert!(!first.out().join("indicators").exists(), "the previous version is unchanged");

        // A third publish drops the first: current and previous are kept.
        let third = store.begin("reeflow run").unwrap();
        let third = store.publish(third, Inputs::Snapshot).unwrap();
        let ids: Vec<String> = store.list().unwrap().into_iter().map(|v| v.info.id).collect();
        assert_eq!(ids, vec![second.info.id.clone(), third.info.id.clone()]);
    }

    #[test]
    fn a_rejected_version_is_kept_but_not_current() {
        let data = tempfile::tempdir().unwrap();
        let store = VersionStore::new(data.path());
        let first = store.publish(store.begin("reeflow run").unwrap(), Inputs::Raw).unwrap();
        let rejected = store.reject(store.begin("reeflow refresh").unwrap(), Inputs::Raw, "threshold").unwrap();
        assert_eq!(store.current().unwrap().unwrap().info.id, first.info.id);
        assert_eq!(store.get(&rejected.info.id).unwrap().info.reason.as_deref(), Some("threshold"));
        assert!(store.get("nope").unwrap_err().to_string().contains(&first.info.id), "lists the versions");
    }

    #[test]
    fn leftovers_of_a_killed_writer_are_removed_by_the_next() {
        let data = tempfile::tempdir().unwrap();
        let store = VersionStore::new(data.path());
        let first = store.publish(store.begin("reeflow run").unwrap(), Inputs::Snapshot).unwrap();
        // Killed while staging: the folder stays (no destructor runs on SIGKILL).
        let staging = store.begin("reeflow run").unwrap();
        let half_written = staging.out().join("half-written");
        fs::write(&half_written, "x").unwrap();
        std::mem::forget(staging);
        // Killed after sealing, before the switch.
        let mut sealed = store.begin("reeflow run").unwrap();
        let orphan = store.seal(&mut sealed, Inputs::Snapshot, VersionStatus::Published, None).unwrap();
        assert_eq!(store.current().unwrap().unwrap().info.id, first.info.id);

        // A reader killed while copying a remote version an hour ago, and one copying now.
        let (abandoned, copying) =
            (store.versions_dir().join(".pull-v0009-1"), store.versions_dir().join(".pull-v0009-2"));
        for dir in [&abandoned, &copying] {
            fs::create_dir_all(dir).unwrap();
        }
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        fs::File::open(&abandoned).unwrap().set_modified(two_hours_ago).unwrap();

        let next = store.begin("reeflow run").unwrap();
        assert!(!abandoned.exists() && copying.exists());
        assert!(!half_written.exists());
        assert!(!orphan.dir.exists(), "a sealed version never switched to is not a published one");
        assert_eq!(next.baseline.id.as_deref(), Some(first.info.id.as_str()));
    }

    #[test]
    fn plain_folders_from_before_versions_are_adopted() {
        let data = tempfile::tempdir().unwrap();
        stage_output(&data.path().join("out"), "trade_flows", "old");
        fs::create_dir_all(data.path().join("normalized")).unwrap();
        fs::write(data.path().join("normalized/production.parquet"), "p").unwrap();
        let store = VersionStore::new(data.path());
        let staging = store.begin("reeflow run").unwrap();
        assert_eq!(staging.baseline.normalized, Some(data.path().join("normalized")));
        staging.link_baseline_out().unwrap();
        staging.link_normalized_from(&data.path().join("normalized")).unwrap();
        let version = store.publish(staging, Inputs::Raw).unwrap();
        assert_eq!(version.info.previous.as_deref(), Some("v0000-legacy"));
        let legacy = store.get("previous").unwrap();
        assert_eq!(read(legacy.out().join("trade_flows/part-0.parquet")), "old");
        assert_eq!(legacy.info.inputs, Inputs::Raw);
        assert!(fs::symlink_metadata(data.path().join("out")).unwrap().file_type().is_symlink());
        assert_eq!(read(data.path().join("normalized/production.parquet")), "p");
    }

    /// A copy made with `rsync -r` has no `current` (symlinks are skipped): the next writer must not
    /// take every version for a leftover and delete it.
    #[test]
    fn a_missing_current_is_pointed_again_and_no_version_is_deleted() {
        let data = tempfile::tempdir().unwrap();
        let store = VersionStore::new(data.path()).keep(3);
        let mut ids = Vec::new();
        for content in ["one", "two", "three"] {
            let staging = store.begin("reeflow run").unwrap();
            stage_output(&staging.out(), "trade_flows", content);
            ids.push(store.publish(staging, Inputs::Snapshot).unwrap().info.id);
        }
        fs::remove_file(data.path().join(CURRENT_LINK)).unwrap();
        let staging = store.begin("reeflow run").unwrap();
        let listed: Vec<String> = store.list().unwrap().into_iter().map(|v| v.info.id).collect();
        assert_eq!(listed, ids, "every version is still there");
        assert_eq!(staging.baseline.id.as_deref(), Some(ids[2].as_str()), "current points at the newest again");
        assert_eq!(read(data.path().join("out/trade_flows/part-0.parquet")), "three");
        drop(staging);
        // Without any way to repair it (no published version), nothing is pruned either.
        let empty = tempfile::tempdir().unwrap();
        let store = VersionStore::new(empty.path());
        let rejected = store.reject(store.begin("reeflow run").unwrap(), Inputs::Snapshot, "checks").unwrap();
        assert!(rejected.dir.exists());
    }

    /// Killed after the switch, before a pre-versions folder was adopted: the next writer adopts it,
    /// so `data/out` follows `current` instead of staying a stale plain folder.
    #[test]
    fn a_crash_between_the_switch_and_the_adoption_is_repaired() {
        let data = tempfile::tempdir().unwrap();
        stage_output(&data.path().join("out"), "trade_flows", "legacy");
        let store = VersionStore::new(data.path());
        let mut staging = store.begin("reeflow run").unwrap();
        stage_output(&staging.out(), "trade_flows", "new");
        let sealed = store.seal(&mut staging, Inputs::Snapshot, VersionStatus::Published, None).unwrap();
        store.switch_current(&sealed.info.id).unwrap();
        // (killed here: data/out is still the plain legacy folder)
        assert_eq!(read(data.path().join("out/trade_flows/part-0.parquet")), "legacy");
        let next = store.begin("reeflow run").unwrap();
        assert!(fs::symlink_metadata(data.path().join("out")).unwrap().file_type().is_symlink());
        assert_eq!(read(data.path().join("out/trade_flows/part-0.parquet")), "new");
        assert_eq!(read(store.get("v0000-legacy").unwrap().out().join("trade_flows/part-0.parquet")), "legacy");
        assert_eq!(next.baseline.id.as_deref(), Some(sealed.info.id.as_str()));
    }
}
