//! The data folder's published state: one writer at a time, and immutable versions switched
//! atomically.
//!
//! It owns the one-writer lock (`<data>/.reeflow.lock`) and the version store. A version
//! (`<data>/versions/<id>/`) holds the input tables a run read (`normalized/`) and every stage
//! output built from them (`out/`), plus `version.json` saying which command made it, when, from
//! which inputs and what it replaced. Writers build a new version in a hidden staging folder
//! (unchanged files are hard links to the current version's, so this is cheap), then publish it by
//! renaming one symlink, `<data>/current`: readers resolve `current` once and see one whole
//! version, the old or the new, never a mix. `<data>/out` and `<data>/normalized` are fixed
//! symlinks through `current` for tools outside reeflow. The previous version is kept, so
//! `reeflow diff` can say what a publish changed; a staging folder left by a killed process is
//! removed by the next writer. A data folder from before versions (`out/` and `normalized/` as
//! plain folders) is adopted as the version `legacy` at the first publish.

pub mod lock;
pub mod store;
mod tree;

pub use lock::{DataLock, LockError, LockHolder};
pub use store::{Baseline, Inputs, Sealed, Staging, Version, VersionError, VersionInfo, VersionStatus, VersionStore};
