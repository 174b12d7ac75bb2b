//! Where the full output of tests that print more than is kept in memory goes: one directory
//! per run under the target directory, kept a while after the run for the user to read.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the logs of a finished run stay for the user to read before a later run removes
/// them.
const LOGS_KEPT_FOR: Duration = Duration::from_secs(60);

/// This run's log directory, `<target>/runner/logs/run-<pid>` (one per run, so that runs side
/// by side never touch each other's logs), after removing the directories of runs that ended
/// over [`LOGS_KEPT_FOR`] ago. The directory itself is created only when a test needs it.
pub fn prepare(target_dir: Option<&Path>) -> PathBuf {
    let root = match target_dir {
        Some(dir) => dir.join("runner").join("logs"),
        None => std::env::temp_dir().join("runner-logs"),
    };
    remove_old_logs(&root);
    root.join(format!("run-{}", std::process::id()))
}

/// Remove the log directories of finished runs whose logs have been kept long enough (each
/// run touches its directory as it ends).
fn remove_old_logs(root: &Path) {
    if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let pid = name.to_str().and_then(|n| n.strip_prefix("run-"));
            let alive = pid.is_some_and(|pid| Path::new("/proc").join(pid).exists());
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|at| at.elapsed().ok())
                .is_none_or(|age| age > LOGS_KEPT_FOR);
            if !alive && stale {
                // A failure to clear an old log is harmless.
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Mark a run's log directory as just finished, which starts its [`LOGS_KEPT_FOR`].
pub fn mark_finished(dir: &Path) {
    if let Ok(file) = std::fs::File::open(dir) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}
