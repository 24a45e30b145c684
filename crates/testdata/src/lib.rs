//! Test support, used only as a dev-dependency: the repository's byte copies of the real public
//! files (`tests/data/`, listed with their sha256 in `tests/data/SHA256SUMS`) and small folder
//! helpers. Every test that reads real data reads it from here, so a fresh clone runs every test
//! with nothing beside it; a missing file is a failure, never a skip.

use std::path::{Path, PathBuf};

pub mod moto;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root exists")
}

/// `tests/data/`: the real public files the tests and the bundled snapshot are made from.
pub fn public_data() -> PathBuf {
    let folder = repo().join("tests/data");
    assert!(
        folder.join("SHA256SUMS").is_file(),
        "{} is missing its files: the real public files are part of the repository (see tests/data/PROVENANCE.md)",
        folder.display()
    );
    folder
}

/// One file of [`public_data`], by its path inside it.
pub fn public_file(relative: &str) -> PathBuf {
    let path = public_data().join(relative);
    assert!(path.is_file(), "{} is not in tests/data (see tests/data/SHA256SUMS)", path.display());
    path
}

/// The bytes of one file of [`public_data`].
pub fn read_public(relative: &str) -> Vec<u8> {
    std::fs::read(public_file(relative)).unwrap()
}

/// The entries of `tests/data/SHA256SUMS`: (sha256, path inside tests/data).
pub fn listed_files() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(public_data().join("SHA256SUMS")).unwrap();
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (hash, path) = line.split_once("  ").expect("SHA256SUMS lines are `<sha256>  <path>`");
            (hash.to_string(), path.to_string())
        })
        .collect()
}

/// Copies a folder tree (symlinks as symlinks), leaving out paths that end with one of `skip`.
pub fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if skip.iter().any(|s| path.to_string_lossy().ends_with(s)) {
            continue;
        }
        let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
        if kind.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(std::fs::read_link(&path).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            copy_tree(&path, &target, skip);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_under(root: &Path, folder: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files_under(root, &path, found);
            } else {
                found.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }

    /// The copies are the bytes that were published: each file's sha256 is the listed one, and
    /// every file in tests/data is listed (or is the list or the provenance text itself).
    #[test]
    fn every_public_file_is_listed_with_its_sha256() {
        let root = public_data();
        let listed = listed_files();
        assert!(listed.len() > 40, "{} files listed", listed.len());
        for (hash, relative) in &listed {
            let bytes = std::fs::read(root.join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
            let actual = reeflow_files::sha256_hex(&bytes);
            assert_eq!(&actual, hash, "{relative} differs from the copy recorded in SHA256SUMS");
        }
        let mut found = Vec::new();
        files_under(&root, &root, &mut found);
        found.sort();
        let mut expected: Vec<String> = listed.into_iter().map(|(_, path)| path).collect();
        expected.extend(["PROVENANCE.md".to_string(), "SHA256SUMS".to_string()]);
        expected.sort();
        assert_eq!(found, expected, "tests/data and SHA256SUMS disagree");
    }

    /// A known figure, read straight from the copy: MCS2023 gives the 2022 world total 300,000 t.
    #[test]
    fn the_copies_hold_the_published_figures() {
        let text = String::from_utf8_lossy(&read_public("pnnl-cmm-data/usgs_mcs/mcs2023-raree_world.csv")).into_owned();
        let world = text.lines().find(|l| l.contains("World total")).unwrap();
        assert!(world.contains("300000") || world.contains("300,000"), "{world}");
    }
}
