//! The runner's own resources: its usage (CPU time and peak memory) for the overhead figures
//! of a run, its open-file limit, and the memory the system has left for tests.

use std::time::Duration;

/// Raise the soft limit on open files to the hard limit: every running test holds several
/// descriptors (two pipes, a pidfd, spill files), and a shell's usual soft limit of 1024 (or a
/// CI's lower one) would fail tests that never ran.
pub fn raise_open_file_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}

/// CPU time this process had used when [`mark_start`] ran: resource usage is kept across
/// `execve`, so a runner started by `cargo run` would otherwise be billed for cargo's time.
static CPU_AT_START: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

/// Call first thing in `main`.
pub fn mark_start() {
    let _ = CPU_AT_START.set(cpu_time());
}

fn cpu_time() -> Duration {
    use nix::sys::resource::{getrusage, UsageWho};
    let to_duration = |t: nix::sys::time::TimeVal| {
        Duration::new(t.tv_sec().max(0) as u64, (t.tv_usec().max(0) as u32) * 1000)
    };
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| to_duration(u.user_time()) + to_duration(u.system_time()))
        .unwrap_or_default()
}

/// The runner's own CPU time since start (user + system, all threads, children excluded) and
/// its peak resident memory in KiB, for the overhead figures of a run.
pub fn own_usage() -> (Duration, u64) {
    let cpu = cpu_time().saturating_sub(CPU_AT_START.get().copied().unwrap_or_default());
    (cpu, peak_rss_kib())
}

/// `MemAvailable` of `/proc/meminfo`, in KiB: what the kernel estimates new processes can use
/// without swapping. `None` where it cannot be read.
pub fn available_memory_kib() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo_field(&meminfo, "MemAvailable:")
}

/// A `Name:   1234 kB` field of a `/proc` status file, in KiB.
fn meminfo_field(text: &str, name: &str) -> Option<u64> {
    let rest = text.lines().find_map(|line| line.strip_prefix(name))?;
    rest.trim().trim_end_matches("kB").trim().parse().ok()
}

/// `VmHWM` of this process image: unlike `ru_maxrss`, it starts afresh at `execve`.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    meminfo_field(&status, "VmHWM:").unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_usage_is_measured() {
        mark_start();
        let (_, peak) = own_usage();
        assert!(peak > 0);
    }

    #[test]
    fn memory_fields_are_read_in_kib() {
        let text = "MemTotal:       24000000 kB\nMemAvailable:   22000000 kB\n";
        assert_eq!(meminfo_field(text, "MemAvailable:"), Some(22_000_000));
        assert_eq!(meminfo_field(text, "SwapFree:"), None);
        assert!(available_memory_kib().is_some_and(|kib| kib > 0));
    }
}
