//! One writer per data folder: `<data>/.reeflow.lock` names the process that holds it (pid,
//! command, start time). A second writer is refused with the holder's name; a lock whose process
//! is gone (killed, crashed) is detected and cleared. The lock file is created with
//! `create_new`, so two processes can never both believe they hold it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The lock file's name inside the data folder.
pub const LOCK_FILE: &str = ".reeflow.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "data folder {dir} is in use by pid {pid} (`{command}`, started {started_at}); wait for it to finish, \
         or remove {lock} if that process is gone"
    )]
    Held { dir: PathBuf, lock: PathBuf, pid: u32, command: String, started_at: String },
    #[error("cannot take the lock {path}: {message}")]
    Io { path: PathBuf, message: String },
}

/// Who holds a lock: written to the lock file as JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    pub command: String,
    pub started_at: String,
}

/// A held lock; released (the file removed) when dropped.
#[derive(Debug)]
pub struct DataLock {
    path: PathBuf,
    /// The holder this lock replaced because its process was gone, if any.
    pub cleared_stale: Option<LockHolder>,
}

impl DataLock {
    /// Takes the lock on `dir` for `command`, clearing a stale lock left by a dead process.
    pub fn acquire(dir: &Path, command: &str) -> Result<Self, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |e: std::io::Error| LockError::Io { path: path.clone(), message: e.to_string() };
        fs::create_dir_all(dir).map_err(io)?;
        let me = LockHolder {
            pid: std::process::id(),
            command: command.to_string(),
            started_at: reeflow_model::date::utc_now_iso(),
        };
        let mut cleared_stale = None;
        // Two attempts: the second follows clearing a stale lock (another process may win it).
        for _ in 0..2 {
            match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    let text = serde_json::to_string(&me).expect("a lock holder serializes");
                    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
                    return Ok(Self { path, cleared_stale });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = read_holder(&path);
                    match holder {
                        Some(holder) if process_is_alive(holder.pid) => {
                            return Err(LockError::Held {
                                dir: dir.to_path_buf(),
                                lock: path.clone(),
                                pid: holder.pid,
                                command: holder.command,
                                started_at: holder.started_at,
                            });
                        }
                        // Dead holder, or a file cut short by a crash while it was written.
                        stale => {
                            fs::remove_file(&path)
                                .or_else(|e| match e.kind() {
                                    std::io::ErrorKind::NotFound => Ok(()),
                                    _ => Err(e),
                                })
                                .map_err(io)?;
                            cleared_stale = stale;
                        }
                    }
                }
                Err(e) => return Err(io(e)),
            }
        }
        Err(LockError::Io { path, message: "another process took the lock while a stale one was cleared".into() })
    }
}

impl Drop for DataLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn read_holder(path: &Path) -> Option<LockHolder> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

/// Whether `pid` is a running reeflow process. On Linux this reads /proc (a recycled pid running
/// another program counts as gone); elsewhere every holder is presumed alive.
fn process_is_alive(pid: u32) -> bool {
    let proc_dir = Path::new("/proc");
    if !proc_dir.exists() {
        return true;
    }
    let Ok(cmdline) = fs::read(proc_dir.join(pid.to_string()).join("cmdline")) else {
        return false;
    };
    let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(program).contains("reeflow")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Refusing a live holder needs a second reeflow process: crates/cli/tests/cli.rs tests it.
    #[test]
    fn the_lock_file_names_its_holder_and_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let lock = DataLock::acquire(dir.path(), "reeflow run").unwrap();
        let holder = read_holder(&dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.command, "reeflow run");
        drop(lock);
        assert!(!dir.path().join(LOCK_FILE).exists(), "released on drop");
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_cleared() {
        let dir = tempfile::tempdir().unwrap();
        // pid 0 is never a user process.
        let dead = LockHolder { pid: 0, command: "reeflow run".into(), started_at: "2026-01-01T00:00:00Z".into() };
        fs::write(dir.path().join(LOCK_FILE), serde_json::to_string(&dead).unwrap()).unwrap();
        let lock = DataLock::acquire(dir.path(), "reeflow run").unwrap();
        assert_eq!(lock.cleared_stale, Some(dead));
    }

    #[test]
    fn a_torn_lock_file_is_cleared() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(LOCK_FILE), "{\"pid\": 12").unwrap();
        assert!(DataLock::acquire(dir.path(), "reeflow run").is_ok());
    }
}
