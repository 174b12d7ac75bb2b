//! Processes that escaped their test: descendants that left the test's process group (a daemon
//! started with `setsid`) are re-parented to the runner, found in `/proc` and killed at the end.

use std::process::Child;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::tracking::{all_pids, is_alive, parent_of};
use super::watchdog;

/// Make orphaned descendants ours: a test's daemon that left its process group with `setsid`
/// is re-parented to the runner instead of init, so [`kill_orphans`] can find it.
pub fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// Children that have done their work but may still be exiting, each waited for by a thread.
static EXITING: Mutex<Vec<(u32, JoinHandle<()>)>> = Mutex::new(Vec::new());

/// How long the end of a run gives such a child to finish exiting before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Reap `child` once it exits, without waiting for it here; [`kill_orphans`] waits for it
/// first (killing it if it still has not exited after [`EXIT_GRACE`]), so it is never taken
/// for an escaped process and never holds the run's end.
pub fn reap_in_background(mut child: Child) {
    let pid = child.id();
    let waiter = std::thread::Builder::new()
        .name("reaper".into())
        .spawn(move || {
            let _ = child.wait();
        });
    if let Ok(waiter) = waiter {
        EXITING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((pid, waiter));
    }
}

/// Wait for the children given to [`reap_in_background`] to be reaped.
fn reap_exiting() {
    let exiting = std::mem::take(&mut *EXITING.lock().unwrap_or_else(|e| e.into_inner()));
    let deadline = Instant::now() + EXIT_GRACE;
    for (pid, waiter) in exiting {
        while !waiter.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if !waiter.is_finished() {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        let _ = waiter.join();
    }
}

/// Kill and reap every child of ours that is not in `keep`: once no test runs, these are
/// descendants of tests that escaped their process group. Returns them as `name (pid)`.
pub fn kill_orphans(keep: &[u32]) -> Vec<String> {
    reap_exiting();
    let mut killed = Vec::new();
    for pid in our_children() {
        if keep.contains(&pid) || watchdog::is_watchdog(pid) {
            continue;
        }
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        // A zombie already died (killed with its group): it only needs reaping; one that is
        // gone by now needs nothing.
        let alive = is_alive(pid as i32);
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

/// The runner's children: from `/proc/self/task/*/children` (each thread's own, as an
/// orphan goes to any thread of its subreaper), a few reads; where the kernel has no such
/// files, from the parent of every process in `/proc`, a read per process.
fn our_children() -> Vec<u32> {
    let mut children = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    for task in tasks.flatten() {
        let Ok(listed) = std::fs::read_to_string(task.path().join("children")) else {
            return children_by_parent();
        };
        children.extend(
            listed
                .split_whitespace()
                .filter_map(|pid| pid.parse::<u32>().ok()),
        );
    }
    children.sort_unstable();
    children.dedup();
    children
}

fn children_by_parent() -> Vec<u32> {
    let me = std::process::id() as i32;
    (all_pids().into_iter())
        .filter(|&pid| parent_of(pid) == Some(me))
        .map(|pid| pid as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_child_reaped_in_the_background_is_waited_for_then_killed() {
        let quick = Command::new("true").spawn().unwrap();
        let stuck = Command::new("sleep").arg("30").spawn().unwrap();
        let pids = [quick.id(), stuck.id()];
        reap_in_background(quick);
        reap_in_background(stuck);
        let started = Instant::now();
        reap_exiting();
        // Killed after the grace, not waited out: the sleep alone would take 30 s.
        assert!(started.elapsed() < Duration::from_secs(20));
        let children = our_children();
        assert!(
            !pids.iter().any(|pid| children.contains(pid)),
            "{children:?}"
        );
    }

    #[test]
    fn a_child_is_ours_by_either_reading() {
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        assert!(our_children().contains(&child.id()));
        assert!(children_by_parent().contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
    }

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
