//! Where the real public files live for tests: `$REEFLOW_SHARED_DATA`, else `../shared/data`
//! beside the repository.

use std::path::PathBuf;

/// The shared data folder, or None when it is absent. Under CI (`CI` set) absence is a failure:
/// tests must not pass by skipping the real data.
pub fn shared_data_dir() -> Option<PathBuf> {
    let folder = std::env::var_os("REEFLOW_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    if folder.is_dir() {
        return Some(folder);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the shared data folder {} is missing: set REEFLOW_SHARED_DATA or place shared/ beside the repository",
        folder.display()
    );
    eprintln!("skipping: shared data folder {} not found (set REEFLOW_SHARED_DATA)", folder.display());
    None
}
