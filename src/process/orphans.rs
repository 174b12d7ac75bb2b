//! Processes that escaped their test: descendants that left the test's process group (a daemon
//! started with `setsid`) are re-parented to the runner, found in `/proc` and killed at the end.

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::tracking::{parent_of, state_of};
use super::watchdog;

/// Make orphaned descendants ours: a test's daemon that left its process group with `setsid`
/// is re-parented to the runner instead of init, so [`kill_orphans`] can find it.
pub fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// Kill and reap every child of ours that is not in `keep`: once no test runs, these are
/// descendants of tests that escaped their process group. Returns them as `name (pid)`.
pub fn kill_orphans(keep: &[u32]) -> Vec<String> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut killed = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if keep.contains(&pid) || watchdog::is_watchdog(pid) || parent_of(pid as i32) != Some(me) {
            continue;
        }
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        // A zombie already died (killed with its group): it only needs reaping.
        let alive = state_of(pid as i32) != Some('Z');
        let pid = Pid::from_raw(pid as i32);
        if alive {
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
        }
        // Reap just this pid: a wait for any child could take a test's status from its worker.
        let _ = nix::sys::wait::waitpid(pid, None);
        if alive {
            killed.push(format!("{} ({pid})", name.trim()));
        }
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn parent_of_a_child_is_us() {
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        assert_eq!(
            parent_of(child.id() as i32),
            Some(std::process::id() as i32)
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
