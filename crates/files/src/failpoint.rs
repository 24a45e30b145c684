//! Named points where a test can stop the process to kill it there (crash-safety tests).
//!
//! With `REEFLOW_FAILPOINT=name` (or `name:n`, the n-th time), the process that reaches that
//! point writes its pid to the file named by `REEFLOW_FAILPOINT_FILE` (when set), says so on
//! stderr, and waits forever, so the test can send SIGKILL at exactly that moment. Without the
//! variable, [`reached`] costs one environment lookup and does nothing.

use std::sync::atomic::{AtomicUsize, Ordering};

static HITS: AtomicUsize = AtomicUsize::new(0);

/// Marks that the process reached `name`; pauses forever when `REEFLOW_FAILPOINT` names it.
pub fn reached(name: &str) {
    let Ok(setting) = std::env::var("REEFLOW_FAILPOINT") else { return };
    let (point, nth) = match setting.rsplit_once(':') {
        Some((point, n)) if n.chars().all(|c| c.is_ascii_digit()) => (point, n.parse::<usize>().unwrap_or(1)),
        _ => (setting.as_str(), 1),
    };
    if point != name || HITS.fetch_add(1, Ordering::SeqCst) + 1 != nth {
        return;
    }
    if let Ok(file) = std::env::var("REEFLOW_FAILPOINT_FILE") {
        let _ = std::fs::write(file, std::process::id().to_string());
    }
    eprintln!("failpoint {name} reached: waiting to be killed");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
