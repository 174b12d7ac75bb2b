//! Where the full output of tests that print more than is kept in memory goes: one directory
//! per run under the target directory, kept a while after the run for the user to read.
//!
//! Each run holds a lock on `run-<token>.lock` beside its directory for as long as it lives.
//! A later run removes a directory only if it can take that lock (its run is over) and the
//! logs have been kept long enough. A lock says "alive" in every pid namespace that shares the
//! directory, which a pid in `/proc` cannot (containers sharing a workspace).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use crate::process::tracking;

/// How long the logs of a finished run stay for the user to read before a later run removes
/// them.
const LOGS_KEPT_FOR: Duration = Duration::from_secs(60);

/// This run's log directory and the lock that says the run is alive.
pub struct RunLogs {
    dir: PathBuf,
    /// Held until the run ends (dropped with the process at the latest).
    _alive: Option<Flock<File>>,
}

impl RunLogs {
    /// The directory for this run's logs; created only when a test needs it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Mark the logs as just finished, which starts their [`LOGS_KEPT_FOR`].
    pub fn mark_finished(&self) {
        if let Ok(file) = File::open(&self.dir) {
            let _ = file.set_modified(std::time::SystemTime::now());
        }
    }
}

/// This run's logs, `<target>/runner/logs/run-<token>` (one per run, so that runs side by side
/// never touch each other's logs), after removing the logs of runs that are over and were
/// kept [`LOGS_KEPT_FOR`].
pub fn prepare(target_dir: Option<&Path>) -> RunLogs {
    let root = match target_dir {
        Some(dir) => dir.join("runner").join("logs"),
        None => std::env::temp_dir().join("runner-logs"),
    };
    remove_old_logs(&root);
    let name = format!("run-{}", tracking::run_token());
    let _ = std::fs::create_dir_all(&root);
    // Without the lock (a read-only directory) the logs may be removed early; the run is fine.
    let alive = File::create(root.join(format!("{name}.lock")))
        .ok()
        .and_then(|file| Flock::lock(file, FlockArg::LockExclusiveNonblock).ok());
    RunLogs {
        dir: root.join(name),
        _alive: alive,
    }
}

/// Remove the logs (and lock files) of runs that are over and whose logs were kept long
/// enough.
fn remove_old_logs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(run) = name.strip_prefix("run-") else {
            continue;
        };
        let run = run.strip_suffix(".lock").unwrap_or(run);
        if is_stale(&path) && !is_alive(root, run) {
            // A failure to clear an old log is harmless.
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
}

/// Whether the run named `run` still holds its lock. Directories of runners that took no lock
/// are judged by their pid, as those runners did.
fn is_alive(root: &Path, run: &str) -> bool {
    match File::open(root.join(format!("run-{run}.lock"))) {
        Ok(file) => Flock::lock(file, FlockArg::LockSharedNonblock).is_err(),
        Err(_) => {
            let pid = run.split('-').next().unwrap_or(run);
            !pid.is_empty() && Path::new("/proc").join(pid).exists()
        }
    }
}

fn is_stale(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|at| at.elapsed().ok())
        .is_none_or(|age| age > LOGS_KEPT_FOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(path: &Path) {
        let old = std::time::SystemTime::now() - 2 * LOGS_KEPT_FOR;
        let file = File::open(path).unwrap();
        file.set_modified(old).unwrap();
    }

    #[test]
    fn logs_of_a_live_run_stay_whatever_its_pid_says() {
        let root = tempfile::tempdir().unwrap();
        // A run in another pid namespace: its pid means nothing here, its lock is held.
        let live = root.path().join("run-999999999-1");
        std::fs::create_dir(&live).unwrap();
        let lock = File::create(root.path().join("run-999999999-1.lock")).unwrap();
        let _held = Flock::lock(lock, FlockArg::LockExclusive).unwrap();
        // A run that is over: its lock file is free.
        let over = root.path().join("run-999999998-1");
        std::fs::create_dir(&over).unwrap();
        File::create(root.path().join("run-999999998-1.lock")).unwrap();
        for path in [&live, &over] {
            age(path);
        }
        age(&root.path().join("run-999999998-1.lock"));
        remove_old_logs(root.path());
        assert!(live.exists(), "the live run's logs were removed");
        assert!(!over.exists(), "the finished run's logs were kept");
        assert!(!root.path().join("run-999999998-1.lock").exists());
    }

    #[test]
    fn fresh_logs_of_a_finished_run_stay() {
        let root = tempfile::tempdir().unwrap();
        let recent = root.path().join("run-999999997-1");
        std::fs::create_dir(&recent).unwrap();
        File::create(root.path().join("run-999999997-1.lock")).unwrap();
        remove_old_logs(root.path());
        assert!(recent.exists());
    }

    #[test]
    fn a_run_holds_its_lock() {
        let root = tempfile::tempdir().unwrap();
        let logs = prepare(Some(root.path()));
        let name = logs
            .dir()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let logs_root = logs.dir().parent().unwrap().to_path_buf();
        assert!(is_alive(&logs_root, name.strip_prefix("run-").unwrap()));
        drop(logs);
        assert!(!is_alive(&logs_root, name.strip_prefix("run-").unwrap()));
    }
}
