//! Copying folders by hard link. Every reeflow writer replaces a file by writing a new one and
//! renaming it into place (a new inode), never by rewriting it, so a file shared by two versions
//! through a hard link can never change under either of them.

use std::fs;
use std::io;
use std::path::Path;

/// Recreates `from` under `to`: folders are created, files hard-linked (copied where the file
/// system refuses links). Entries whose names start with `.` (temporary and staging files) are
/// left out. A missing `from` copies nothing.
pub fn link_tree(from: &Path, to: &Path) -> io::Result<()> {
    if !from.exists() {
        return Ok(());
    }
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        // Follows symlinks: a version holds real files only.
        let metadata = fs::metadata(&source)?;
        if metadata.is_dir() {
            link_tree(&source, &target)?;
        } else {
            link_file(&source, &target)?;
        }
    }
    Ok(())
}

/// Hard-links one file (replacing `to`), copying when a link is impossible (another device).
pub fn link_file(from: &Path, to: &Path) -> io::Result<()> {
    match fs::remove_file(to) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_files_and_folders_but_not_hidden_entries() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        fs::create_dir_all(from.join("stage")).unwrap();
        fs::write(from.join("stage/part-0.parquet"), "rows").unwrap();
        fs::write(from.join(".stage.tmp-1"), "half").unwrap();
        let to = dir.path().join("to");
        link_tree(&from, &to).unwrap();
        assert_eq!(fs::read_to_string(to.join("stage/part-0.parquet")).unwrap(), "rows");
        assert!(!to.join(".stage.tmp-1").exists());
        // Replacing the copy by rename leaves the original alone.
        fs::write(to.join("new"), "changed").unwrap();
        fs::rename(to.join("new"), to.join("stage/part-0.parquet")).unwrap();
        assert_eq!(fs::read_to_string(from.join("stage/part-0.parquet")).unwrap(), "rows");
    }
}
