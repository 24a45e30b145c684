//! One writer per data folder. The writer holds an exclusive advisory lock of the operating system
//! (`flock` on Unix, `LockFileEx` on Windows) on `<data>/.reeflow.lock` for as long as it works;
//! the kernel releases it when the process ends, however it ends, so a killed writer never leaves
//! a lock behind and two processes can never hold it at once. The file itself is never deleted
//! (deleting a lock file lets a second process lock a new file of the same name while a third still
//! holds the old one); it only carries, as JSON, who holds it now (pid, command, start time) for
//! the message a refused writer prints, and is emptied when the holder lets go. A holder's record
//! found by a new holder means the previous one ended without letting go: it is reported as a
//! cleared stale lock.

use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data folder.
pub const LOCK_FILE: &str = ".reeflow.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "data folder {dir} is in use by {holder}; wait for it to finish (the lock is released when that process ends)",
        dir = dir.display(),
        holder = holder.as_ref().map(|h| format!("pid {} (`{}`, started {})", h.pid, h.command, h.started_at))
            .unwrap_or_else(|| "another process".into())
    )]
    Held { dir: PathBuf, lock: PathBuf, holder: Option<LockHolder> },
    #[error("cannot take the lock {path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Who holds a lock: written to the lock file as JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    pub command: String,
    pub started_at: String,
}

/// A held lock; released when dropped (and by the kernel if the process dies first).
#[derive(Debug)]
pub struct DataLock {
    file: fs::File,
    /// The record of a previous holder that ended without releasing (killed, crashed), if any.
    pub cleared_stale: Option<LockHolder>,
}

impl DataLock {
    /// Takes the lock on `dir` for `command`, or says who holds it.
    pub fn acquire(dir: &Path, command: &str) -> Result<Self, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source: std::io::Error| LockError::Io { path: path.clone(), source };
        fs::create_dir_all(dir).map_err(io)?;
        let mut file =
            fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(LockError::Held { dir: dir.to_path_buf(), lock: path.clone(), holder: read_holder(&path) });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // Ours now: a record left in the file belongs to a holder that died without letting go.
        let mut previous = String::new();
        file.read_to_string(&mut previous).map_err(io)?;
        let cleared_stale = (!previous.trim().is_empty()).then(|| {
            serde_json::from_str(&previous).unwrap_or(LockHolder {
                pid: 0,
                command: "unknown (the lock record was cut short)".into(),
                started_at: String::new(),
            })
        });
        let me = LockHolder {
            pid: std::process::id(),
            command: command.to_string(),
            started_at: reeflow_model::date::utc_now_iso(),
        };
        let text = serde_json::to_string(&me).expect("a lock holder serializes");
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(text.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(io)?;
        Ok(Self { file, cleared_stale })
    }
}

impl Drop for DataLock {
    fn drop(&mut self) {
        // Empty the record while still holding the lock, then let go.
        let _ = self.file.set_len(0).and_then(|()| self.file.sync_all());
        let _ = self.file.unlock();
    }
}

fn read_holder(path: &Path) -> Option<LockHolder> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_names_its_holder_and_is_emptied_on_release() {
        let dir = tempfile::tempdir().unwrap();
        let lock = DataLock::acquire(dir.path(), "reeflow run").unwrap();
        let holder = read_holder(&dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.command, "reeflow run");
        assert!(lock.cleared_stale.is_none());
        drop(lock);
        assert_eq!(fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap(), "", "emptied, never deleted");
        let again = DataLock::acquire(dir.path(), "reeflow run").unwrap();
        assert!(again.cleared_stale.is_none(), "a released lock is not stale");
    }

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_name() {
        let dir = tempfile::tempdir().unwrap();
        let _first = DataLock::acquire(dir.path(), "reeflow refresh").unwrap();
        let error = DataLock::acquire(dir.path(), "reeflow run").unwrap_err();
        let message = error.to_string();
        assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
        assert!(message.contains("reeflow refresh"), "{message}");
    }

    #[test]
    fn the_record_of_a_holder_that_died_is_reported_as_stale() {
        let dir = tempfile::tempdir().unwrap();
        let dead = LockHolder { pid: 0, command: "reeflow run".into(), started_at: "2026-01-01T00:00:00Z".into() };
        fs::write(dir.path().join(LOCK_FILE), serde_json::to_string(&dead).unwrap()).unwrap();
        let lock = DataLock::acquire(dir.path(), "reeflow run").unwrap();
        assert_eq!(lock.cleared_stale, Some(dead));
    }

    #[test]
    fn a_torn_record_is_reported_as_stale_too() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(LOCK_FILE), "{\"pid\": 12").unwrap();
        let lock = DataLock::acquire(dir.path(), "reeflow run").unwrap();
        assert!(lock.cleared_stale.is_some());
    }
}
