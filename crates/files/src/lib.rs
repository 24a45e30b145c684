//! How reeflow puts bytes on disk, in one place: every file it writes (raw downloads, manifests,
//! Parquet tables, stage outputs, reports, run records, benchmark data) goes through
//! [`AtomicFile`] or [`write_atomically`], which write a temporary file in the target's folder,
//! fsync it, rename it over the target and fsync the folder, so a reader or a crash sees the old
//! file or the new one, never half of one. [`rename_durably`] does the same for folders and
//! symlinks. It also owns the one Parquet writer configuration ([`parquet`]), the one content hash
//! ([`sha256_hex`], [`file_sha256`]) and the named points where crash-safety tests stop the
//! process ([`failpoint`]).

pub mod failpoint;
pub mod hash_cache;
#[cfg(feature = "parquet")]
pub mod parquet;

pub use hash_cache::HashCache;

/// SHA-256 of bytes, as lowercase hex (the one hash of manifests, caches and stage keys).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

/// SHA-256 of a file's contents, read in a stream, as lowercase hex.
pub fn file_sha256(path: &Path) -> io::Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    io::copy(&mut File::open(path)?, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Which step of a write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStep {
    Create,
    Write,
    Sync,
    Rename,
}

impl std::fmt::Display for WriteStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WriteStep::Create => "cannot create a temporary file beside it",
            WriteStep::Write => "cannot write",
            WriteStep::Sync => "cannot flush to disk",
            WriteStep::Rename => "cannot rename into place",
        })
    }
}

/// A failed write: the target path, the step, and the cause (an `io::Error`, or the error of the
/// code that produced the bytes, such as a Parquet encoder).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {step}: {source}", path = path.display())]
pub struct WriteError {
    pub path: PathBuf,
    pub step: WriteStep,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl WriteError {
    fn new(path: &Path, step: WriteStep, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { path: path.to_path_buf(), step, source: source.into() }
    }

    /// The `io::ErrorKind` of the cause, when the cause is an `io::Error`.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.source.downcast_ref::<io::Error>().map(io::Error::kind)
    }
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// The temporary name of `target`: hidden, in the same folder (so the rename stays on one file
/// system), unique per process and write: `.<name>.<pid>-<n>.tmp`. Readers skip dot files.
pub fn temporary_path(target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    target.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

/// Whether a file name is one of [`temporary_path`]'s (a leftover of a killed writer).
pub fn is_temporary_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// A file being written under a temporary name; [`AtomicFile::commit`] puts it in place. Dropped
/// without a commit, the temporary file is removed and the target is untouched.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<File>,
    temporary: PathBuf,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates the temporary file beside `target`.
    pub fn create(target: &Path) -> Result<Self, WriteError> {
        let temporary = temporary_path(target);
        let file = File::create(&temporary).map_err(|e| WriteError::new(target, WriteStep::Create, e))?;
        Ok(Self { file: Some(file), temporary, target: target.to_path_buf() })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// A write error about this file's target.
    pub fn error(&self, step: WriteStep, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> WriteError {
        WriteError::new(&self.target, step, source)
    }

    /// Flushes the file to disk, renames it over the target, and flushes the folder, so the new
    /// name survives a crash.
    pub fn commit(mut self) -> Result<(), WriteError> {
        let file = self.file.take().expect("an uncommitted file is open");
        file.sync_all().map_err(|e| self.error(WriteStep::Sync, e))?;
        drop(file);
        rename_durably(&self.temporary, &self.target).inspect_err(|_| {
            let _ = std::fs::remove_file(&self.temporary);
        })
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("an uncommitted file is open").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("an uncommitted file is open").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

/// Writes `path` through `write` atomically (see [`AtomicFile`]). An error of `write` is kept as
/// the cause.
pub fn write_atomically<E>(path: &Path, write: impl FnOnce(&mut AtomicFile) -> Result<(), E>) -> Result<(), WriteError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut file = AtomicFile::create(path)?;
    write(&mut file).map_err(|e| WriteError::new(path, WriteStep::Write, e))?;
    file.commit()
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_atomically(path, |file| file.write_all(bytes))
}

/// Renames `from` to `to` (a file, a folder or a symlink; `to` is replaced when it is a file or
/// symlink) and fsyncs the folders involved, so the rename survives a crash.
pub fn rename_durably(from: &Path, to: &Path) -> Result<(), WriteError> {
    std::fs::rename(from, to).map_err(|e| WriteError::new(to, WriteStep::Rename, e))?;
    let to_parent = parent_of(to);
    sync_dir(&to_parent).map_err(|e| WriteError::new(to, WriteStep::Sync, e))?;
    let from_parent = parent_of(from);
    if from_parent != to_parent {
        sync_dir(&from_parent).map_err(|e| WriteError::new(to, WriteStep::Sync, e))?;
    }
    Ok(())
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Flushes a folder's entries (new names, removed names) to disk. A no-op where the platform
/// cannot open folders as files.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_write_replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("table.parquet");
        std::fs::write(&path, "old").unwrap();
        write_bytes_atomically(&path, b"new contents").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
        assert_eq!(names(dir.path()), ["table.parquet"]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        std::fs::write(&path, "old").unwrap();
        let error = write_atomically(&path, |file| {
            file.write_all(b"half")?;
            Err(io::Error::new(io::ErrorKind::InvalidData, "encoder gave up"))
        })
        .unwrap_err();
        assert_eq!(error.step, WriteStep::Write);
        assert_eq!(error.io_kind(), Some(io::ErrorKind::InvalidData));
        assert!(error.to_string().contains("manifest.json") && error.to_string().contains("encoder gave up"));
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["manifest.json"]);
    }

    #[test]
    fn an_uncommitted_file_is_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = AtomicFile::create(&dir.path().join("out.svg")).unwrap();
        file.write_all(b"<svg").unwrap();
        assert_eq!(names(dir.path()).len(), 1);
        assert!(is_temporary_name(&names(dir.path())[0]));
        drop(file);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_missing_folder_is_a_create_error_naming_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/folder/file.json");
        let error = write_bytes_atomically(&path, b"{}").unwrap_err();
        assert_eq!(error.step, WriteStep::Create);
        assert_eq!(error.io_kind(), Some(io::ErrorKind::NotFound));
        assert!(error.to_string().contains("no/such/folder/file.json"));
    }

    #[test]
    fn temporary_names_are_unique_and_hidden() {
        let target = Path::new("/data/out/trade.parquet");
        let (a, b) = (temporary_path(target), temporary_path(target));
        assert_ne!(a, b);
        assert_eq!(a.parent(), target.parent());
        assert!(is_temporary_name(&a.file_name().unwrap().to_string_lossy()));
    }

    #[test]
    fn a_folder_is_renamed_durably() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("staging")).unwrap();
        std::fs::write(dir.path().join("staging/part-0.parquet"), "x").unwrap();
        rename_durably(&dir.path().join("staging"), &dir.path().join("stage")).unwrap();
        assert_eq!(std::fs::read(dir.path().join("stage/part-0.parquet")).unwrap(), b"x");
    }
}
