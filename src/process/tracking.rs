//! Finding every process a test started, wherever it went.
//!
//! A test's process group is not enough: a test (or anything it starts) can move to another
//! group or session, even the runner's own. So every child runner starts carries two
//! environment variables, inherited by all it starts in turn: the run's token and its own tag.
//! Killing a test signals its group, its leader, every live descendant of the leader (by
//! parent links) and every process carrying its tag (which survives re-parenting). Reading
//! `/proc` costs a few milliseconds, so it is done only when something must be killed, never
//! for a test that simply ended.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// The variable that names the run every child of runner belongs to.
pub const RUN_VARIABLE: &str = "RUNNER_RUN_TOKEN";
/// The variable that names one child (a test attempt, a listing) and all it starts.
const CHILD_VARIABLE: &str = "RUNNER_CHILD_TOKEN";

static RUN_TOKEN: OnceLock<String> = OnceLock::new();
static NEXT_CHILD: AtomicU64 = AtomicU64::new(1);

/// This run's token: the runner's pid and start time, unique on the machine.
pub fn run_token() -> &'static str {
    RUN_TOKEN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{nanos}", std::process::id())
    })
}

/// Mark `command` as one of this run's children; returns its own tag.
pub fn tag(command: &mut Command) -> String {
    let tag = format!(
        "{}.{}",
        run_token(),
        NEXT_CHILD.fetch_add(1, Ordering::Relaxed)
    );
    command
        .env(RUN_VARIABLE, run_token())
        .env(CHILD_VARIABLE, &tag);
    tag
}

/// One started child, as needed to end it and everything it started.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tracked {
    pub leader: i32,
    pub group: i32,
    pub tag: String,
}

/// Send `signal` to every process of each tracked child: group, leader, descendants, and
/// whatever carries its tag.
pub fn signal_trees(tracked: &[&Tracked], signal: Signal) {
    if tracked.is_empty() {
        return;
    }
    for child in tracked {
        // The group or leader may be gone already; that is fine. Zero and negative numbers
        // mean "every process" to kill(2): never pass them on.
        if child.group > 1 {
            let _ = killpg(Pid::from_raw(child.group), signal);
        }
        if child.leader > 1 {
            let _ = kill(Pid::from_raw(child.leader), signal);
        }
    }
    let table = ProcessTable::read();
    let tags: HashSet<String> = tracked
        .iter()
        .map(|c| format!("{CHILD_VARIABLE}={}", c.tag))
        .collect();
    let mut targets: HashSet<i32> = HashSet::new();
    for child in tracked.iter().filter(|c| c.leader > 1) {
        targets.extend(table.descendants_of(child.leader));
    }
    targets.extend(pids_with_any(&tags));
    signal_each(targets, signal);
}

/// Send SIGKILL to every process that carries this run's token (but not to ourselves);
/// returns how many there were.
pub fn kill_run(token: &str) -> usize {
    let marker: HashSet<String> = [format!("{RUN_VARIABLE}={token}")].into();
    let targets = pids_with_any(&marker);
    let count = targets.len();
    signal_each(targets, Signal::SIGKILL);
    count
}

/// The live processes (zombies left out: their environment cannot be read) carrying one of
/// these child tags.
pub(super) fn tagged(tags: &[&str]) -> Vec<i32> {
    let entries: HashSet<String> = tags
        .iter()
        .map(|tag| format!("{CHILD_VARIABLE}={tag}"))
        .collect();
    let mut pids: Vec<i32> = pids_with_any(&entries).into_iter().collect();
    pids.sort_unstable();
    pids
}

fn signal_each(targets: HashSet<i32>, signal: Signal) {
    let me = std::process::id() as i32;
    for pid in targets.into_iter().filter(|&pid| pid > 1 && pid != me) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

/// The processes of the machine that we can see, with their parents.
pub(super) struct ProcessTable {
    parents: HashMap<i32, i32>,
}

impl ProcessTable {
    pub(super) fn read() -> Self {
        let mut parents = HashMap::new();
        for pid in all_pids() {
            if let Some(parent) = parent_of(pid) {
                parents.insert(pid, parent);
            }
        }
        ProcessTable { parents }
    }

    /// Every live process below `root` in the parent tree.
    fn descendants_of(&self, root: i32) -> Vec<i32> {
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        for (&pid, &parent) in &self.parents {
            children.entry(parent).or_default().push(pid);
        }
        let mut found = Vec::new();
        let mut stack = vec![root];
        while let Some(pid) = stack.pop() {
            for &child in children.get(&pid).into_iter().flatten() {
                found.push(child);
                stack.push(child);
            }
        }
        found
    }
}

/// The processes whose environment holds one of `entries` (`NAME=value`): only environments
/// are read, one file per process (no process table: its parents would cost a second read
/// per process, on every sweep of the watchdog too).
fn pids_with_any(entries: &HashSet<String>) -> HashSet<i32> {
    all_pids()
        .into_iter()
        .filter(|&pid| {
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            environ
                .split(|&b| b == 0)
                .any(|entry| std::str::from_utf8(entry).is_ok_and(|e| entries.contains(e)))
        })
        .collect()
}

pub(super) fn all_pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect()
}

/// The fields of `/proc/<pid>/stat` after the parenthesised command name: state, ppid, ...
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    Some(after_name.split_whitespace().map(str::to_string).collect())
}

pub(super) fn parent_of(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

pub(super) fn state_of(pid: i32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

/// Whether `pid` is a live process: neither gone nor dead (a zombie waiting to be reaped, or
/// one being torn down).
pub(super) fn is_alive(pid: i32) -> bool {
    matches!(state_of(pid), Some(state) if state != 'Z' && state != 'X')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tagged_process_is_found_after_leaving_its_parent() {
        // `sh` starts a sleep in the background and exits: the sleep is re-parented, out of
        // reach of the parent links, but still carries the tag.
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 30 >/dev/null 2>&1 & echo $!"]);
        let tag = tag(&mut command);
        let output = command.output().unwrap();
        let pid: i32 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap();
        // No leader or group to signal: only the tag can find it.
        let tracked = Tracked {
            leader: 0,
            group: 0,
            tag,
        };
        signal_trees(&[&tracked], Signal::SIGKILL);
        // Killed: it is a zombie (a child of a subreaper, or of init) or gone.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while state_of(pid).is_some_and(|s| s != 'Z') {
            assert!(std::time::Instant::now() < deadline, "{pid} survived");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn descendants_follow_parent_links() {
        let table = ProcessTable {
            parents: [(2, 1), (3, 2), (4, 3), (5, 1), (6, 99)].into(),
        };
        let mut found = table.descendants_of(2);
        found.sort();
        assert_eq!(found, [3, 4]);
    }
}
