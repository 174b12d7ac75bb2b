//! Runs one child process to completion: its own process group, both pipes drained at once,
//! a timeout with a grace period, and no process of its group left alive afterwards.
//!
//! This is the only module that talks to the operating system's process API (through `nix`).
//! Every wait is a `poll` on the two pipes and a pidfd, so a child that prints nothing costs no
//! CPU, and a child whose pipes are held open by something it spawned cannot stall us.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::control::RunControl;

/// Bounds on how long a child may take.
#[derive(Debug, Clone)]
pub struct Limits {
    /// End the child after this long: SIGTERM, then SIGKILL after `grace`.
    pub timeout: Option<Duration>,
    pub grace: Duration,
    /// How long to keep reading after the child exited while its pipes stay open.
    pub leak_timeout: Duration,
    /// Call the `on_slow` callback every such period while the child runs.
    pub slow_period: Option<Duration>,
    /// Bytes of each stream kept in memory at each end.
    pub capture: CaptureLimit,
    /// After reading output, wait this long before looking again, so that a child printing
    /// many short lines (a batch) is read in a few large pieces instead of one wake-up per
    /// line. The pipe's buffer holds what arrives meanwhile, so the child is not slowed.
    pub coalesce: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: None,
            grace: Duration::from_secs(5),
            leak_timeout: Duration::from_millis(200),
            slow_period: None,
            capture: CaptureLimit::default(),
            coalesce: None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct CaptureLimit {
    pub head: usize,
    pub tail: usize,
}

impl Default for CaptureLimit {
    fn default() -> Self {
        CaptureLimit {
            head: 256 * 1024,
            tail: 2 * 1024 * 1024,
        }
    }
}

/// How the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl From<ExitStatus> for Exit {
    fn from(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        }
    }
}

/// The conventional name of a signal number (`SIGSEGV`), or `signal N`.
pub fn signal_name(signal: i32) -> String {
    match Signal::try_from(signal) {
        Ok(sig) => sig.as_str().to_string(),
        Err(_) => format!("signal {signal}"),
    }
}

#[derive(Debug)]
pub struct Finished {
    pub exit: Exit,
    pub stdout: Captured,
    pub stderr: Captured,
    pub duration: Duration,
    /// The timeout ran out and the child was terminated.
    pub timed_out: bool,
    /// The child exited but something it spawned kept its output pipes open.
    pub leaked: bool,
}

/// A stream's bytes, bounded: the first `head` bytes and the last `tail` bytes.
///
/// When the stream outgrows what is kept, the whole of it goes to a spill file (if a path was
/// given), so nothing is lost while memory stays bounded.
#[derive(Debug, Default)]
pub struct Captured {
    head: Vec<u8>,
    tail: Vec<u8>,
    total: u64,
    limit: Option<CaptureLimit>,
    spill_path: Option<PathBuf>,
    spill: Option<File>,
    /// Set when the spill file could not be written; the report says so.
    spill_error: Option<String>,
}

impl Captured {
    fn new(limit: CaptureLimit, spill_path: Option<PathBuf>) -> Self {
        Captured {
            limit: Some(limit),
            spill_path,
            ..Default::default()
        }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        let limit = self.limit.unwrap_or_default();
        let budget = (limit.head + limit.tail) as u64;
        if self.spill.is_none()
            && self.spill_error.is_none()
            && self.total + bytes.len() as u64 > budget
        {
            self.start_spill();
        }
        if let Some(file) = &mut self.spill {
            if let Err(e) = file.write_all(bytes) {
                self.spill_error = Some(e.to_string());
                self.spill = None;
            }
        }
        self.total += bytes.len() as u64;
        if self.head.len() < limit.head {
            let take = bytes.len().min(limit.head - self.head.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        self.tail.extend_from_slice(bytes);
        // Compact only when the tail doubles, so each byte is moved O(1) times on average.
        if self.tail.len() > 2 * limit.tail.max(1) {
            let excess = self.tail.len() - limit.tail;
            self.tail.drain(..excess);
        }
    }

    /// Nothing has been dropped yet (the tail is only trimmed past twice its size), so what is
    /// held now is the whole stream so far.
    fn start_spill(&mut self) {
        let Some(path) = &self.spill_path else { return };
        let opened = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| File::create(path))
            .and_then(|mut file| {
                file.write_all(&self.head)?;
                file.write_all(&self.tail)?;
                Ok(file)
            });
        match opened {
            Ok(file) => self.spill = Some(file),
            Err(e) => self.spill_error = Some(format!("{}: {e}", path.display())),
        }
    }

    /// Where the full stream was written, if it was too large to keep.
    pub fn spill_path(&self) -> Option<&Path> {
        self.spill_path.as_deref().filter(|_| self.spill.is_some())
    }

    /// The first bytes of the stream (up to the head limit), without copying.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Total bytes the stream carried.
    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes dropped from the middle.
    pub fn omitted(&self) -> u64 {
        let tail_kept = self.tail.len().min(self.limit.unwrap_or_default().tail);
        self.total - (self.head.len() + tail_kept) as u64
    }

    /// The kept bytes as text (lossy), with a note where the middle was dropped.
    pub fn to_text(&self) -> String {
        let tail_limit = self.limit.unwrap_or_default().tail;
        let tail = &self.tail[self.tail.len().saturating_sub(tail_limit)..];
        let omitted = self.omitted();
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if omitted > 0 {
            let whole = match (self.spill_path(), &self.spill_error) {
                (Some(path), _) => format!("; full output in {}", path.display()),
                (None, Some(error)) => format!("; could not save full output: {error}"),
                (None, None) => String::new(),
            };
            text.push_str(&format!("\n[... {omitted} bytes omitted{whole} ...]\n"));
        }
        text.push_str(&String::from_utf8_lossy(tail));
        text
    }

    #[cfg(test)]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut captured = Captured::new(CaptureLimit::default(), None);
        captured.push(bytes);
        captured
    }
}

/// Start `command` in a new process group with stdin from /dev/null and both outputs piped.
pub fn spawn(command: &mut Command) -> io::Result<Child> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
}

/// Where to save a stream that outgrows memory: `<stem>.stdout` and `<stem>.stderr`.
pub type SpillStem = Option<PathBuf>;

/// Receives each piece of a child's stdout as it arrives.
pub type OutputSink<'a> = &'a mut dyn FnMut(&[u8]);

/// Callbacks into a running child's life; both optional.
#[derive(Default)]
pub struct Hooks<'a> {
    /// Called each slow period with the active time so far.
    pub on_slow: Option<&'a mut dyn FnMut(Duration)>,
    /// Called with each piece of stdout as it arrives, for readers that parse it live.
    pub on_stdout: Option<OutputSink<'a>>,
}

/// Run the child to its end under `limits`. Time the run spends stopped (Ctrl-Z) does not count
/// towards the timeout.
pub fn run(
    command: &mut Command,
    limits: &Limits,
    control: &RunControl,
    spill: SpillStem,
    mut hooks: Hooks,
) -> io::Result<Finished> {
    let started = Instant::now();
    let paused_at_start = control.paused();
    let active = |now: Instant| {
        (now - started).saturating_sub(control.paused().saturating_sub(paused_at_start))
    };
    let mut child = spawn(command)?;
    let group = Pid::from_raw(child.id() as i32);
    control.register(group.as_raw());
    let mut stdout = child.stdout.take().map(|p| File::from(OwnedFd::from(p)));
    let mut stderr = child.stderr.take().map(|p| File::from(OwnedFd::from(p)));
    let spill_to = |ext: &str| {
        spill
            .as_ref()
            .map(|stem| PathBuf::from(format!("{}.{ext}", stem.display())))
    };
    let mut out = Captured::new(limits.capture, spill_to("stdout"));
    let mut err = Captured::new(limits.capture, spill_to("stderr"));
    let mut pidfd = open_pidfd(child.id());
    let mut exited = false;
    let mut timed_out = false;
    let mut leaked = false;
    let mut leak_deadline: Option<Instant> = None;
    let mut kill_deadline: Option<Instant> = None;
    let mut next_slow = limits.slow_period;
    let mut buf = vec![0u8; 64 * 1024];

    loop {
        let now = Instant::now();
        if !exited && pidfd.is_none() {
            // No pidfd on this kernel: check by polling the child.
            exited = child.try_wait()?.is_some();
        }
        if exited && stdout.is_none() && stderr.is_none() {
            break;
        }
        if exited && leak_deadline.is_none() {
            leak_deadline = Some(now + limits.leak_timeout);
        }
        if leak_deadline.is_some_and(|d| now >= d) {
            leaked = true;
            break;
        }
        let elapsed = active(now);
        if let Some(timeout) = limits.timeout {
            if !exited && !timed_out && elapsed >= timeout {
                timed_out = true;
                let _ = killpg(group, Signal::SIGTERM);
                kill_deadline = Some(now + limits.grace);
            }
        }
        if kill_deadline.is_some_and(|d| now >= d) {
            let _ = killpg(group, Signal::SIGKILL);
            kill_deadline = None;
        }
        if let Some(at) = next_slow {
            if elapsed >= at {
                if let Some(on_slow) = hooks.on_slow.as_mut() {
                    on_slow(elapsed);
                }
                next_slow = limits.slow_period.map(|p| at + p);
            }
        }

        let mut wake: Option<Instant> = None;
        let mut wake_at = |at: Option<Instant>| {
            if let Some(at) = at {
                wake = Some(wake.map_or(at, |w: Instant| w.min(at)));
            }
        };
        wake_at(leak_deadline);
        wake_at(kill_deadline);
        // Active-time deadlines, mapped to the clock; a pause only makes us wake early.
        let to_clock = |at: Duration| now + at.saturating_sub(elapsed);
        wake_at(next_slow.map(to_clock));
        if !timed_out && !exited {
            wake_at(limits.timeout.map(to_clock));
        }
        if !exited && pidfd.is_none() {
            wake_at(Some(now + Duration::from_millis(20)));
        }
        let timeout = match wake {
            None => PollTimeout::NONE,
            Some(at) => {
                let ms = at.saturating_duration_since(now).as_millis().min(60_000) as u16;
                PollTimeout::from(ms.max(1))
            }
        };

        let (out_ready, err_ready, pid_ready) = {
            let mut fds = Vec::with_capacity(3);
            let mut slots = [None; 3];
            let sources = [
                stdout.as_ref().map(|f| f.as_fd()),
                stderr.as_ref().map(|f| f.as_fd()),
                pidfd.as_ref().map(|f| f.as_fd()),
            ];
            for (slot, fd) in sources.into_iter().enumerate() {
                if let Some(fd) = fd {
                    slots[slot] = Some(fds.len());
                    fds.push(PollFd::new(fd, PollFlags::POLLIN));
                }
            }
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            let ready = |slot: usize| {
                slots[slot].is_some_and(|i: usize| {
                    fds[i].revents().is_some_and(|r| {
                        r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
                    })
                })
            };
            (ready(0), ready(1), ready(2))
        };
        if out_ready {
            let read = drain_once(&mut stdout, &mut out, &mut buf)?;
            if let Some(on_stdout) = hooks.on_stdout.as_mut() {
                if read > 0 {
                    on_stdout(&buf[..read]);
                }
            }
        }
        if err_ready {
            drain_once(&mut stderr, &mut err, &mut buf)?;
        }
        if let Some(pause) = limits.coalesce {
            if out_ready && stdout.is_some() {
                std::thread::sleep(pause);
            }
        }
        if pid_ready {
            exited = true;
            pidfd = None;
        }
    }

    // Whatever the test left behind in its group goes with it. The leader is still a zombie
    // (not yet reaped), so its pid cannot have been reused for another group.
    let _ = killpg(group, Signal::SIGKILL);
    control.unregister(group.as_raw());
    let duration = active(Instant::now());
    let status = child.wait()?;
    Ok(Finished {
        exit: Exit::from(status),
        stdout: out,
        stderr: err,
        duration,
        timed_out,
        leaked,
    })
}

/// Make orphaned descendants ours: a test's daemon that left its process group with `setsid`
/// is re-parented to the runner instead of init, so [`kill_orphans`] can find it.
pub fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// Kill and reap every child of ours that is not in `keep`: once no test runs, these are
/// descendants of tests that escaped their process group. Returns them as `name (pid)`.
pub fn kill_orphans(keep: &[u32]) -> Vec<String> {
    let me = std::process::id();
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
        if keep.contains(&pid) || parent_of(pid) != Some(me) {
            continue;
        }
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        // A zombie already died (killed with its group): it only needs reaping.
        let alive = state_of(pid) != Some('Z');
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

/// The fields of `/proc/<pid>/stat` after the parenthesised command name: state, ppid, ...
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    Some(after_name.split_whitespace().map(str::to_string).collect())
}

fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

fn state_of(pid: u32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
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

/// `VmHWM` of this process image: unlike `ru_maxrss`, it starts afresh at `execve`.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One read from a ready pipe; closes it on end of file. Returns the bytes read into `buf`.
fn drain_once(pipe: &mut Option<File>, sink: &mut Captured, buf: &mut [u8]) -> io::Result<usize> {
    let Some(file) = pipe else { return Ok(0) };
    match file.read(buf) {
        Ok(0) => *pipe = None,
        Ok(n) => {
            sink.push(&buf[..n]);
            return Ok(n);
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
        Err(_) => *pipe = None,
    }
    Ok(0)
}

/// A pidfd becomes readable when the process exits, without reaping it.
fn open_pidfd(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid as i32, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just handed us this descriptor and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    debug_assert!(fd.as_raw_fd() >= 0);
    Some(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn captures_both_streams_and_exit_code() {
        let done = run(
            &mut sh("echo out; echo err >&2; exit 3"),
            &Limits::default(),
            &RunControl::new(),
            None,
            Hooks::default(),
        )
        .unwrap();
        assert_eq!(done.exit, Exit::Code(3));
        assert_eq!(done.stdout.to_text(), "out\n");
        assert_eq!(done.stderr.to_text(), "err\n");
        assert!(!done.timed_out && !done.leaked);
    }

    #[test]
    fn signal_death_is_reported() {
        let done = run(
            &mut sh("kill -SEGV $$"),
            &Limits::default(),
            &RunControl::new(),
            None,
            Hooks::default(),
        )
        .unwrap();
        assert_eq!(done.exit, Exit::Signal(11));
        assert_eq!(signal_name(11), "SIGSEGV");
    }

    #[test]
    fn large_output_on_both_pipes_does_not_deadlock() {
        let script = "head -c 3000000 /dev/zero; head -c 3000000 /dev/zero >&2";
        let limits = Limits {
            capture: CaptureLimit {
                head: 1000,
                tail: 1000,
            },
            ..Limits::default()
        };
        let done = run(
            &mut sh(script),
            &limits,
            &RunControl::new(),
            None,
            Hooks::default(),
        )
        .unwrap();
        assert_eq!(done.stdout.total(), 3_000_000);
        assert_eq!(done.stderr.total(), 3_000_000);
        assert_eq!(done.stdout.omitted(), 3_000_000 - 2000);
    }

    #[test]
    fn timeout_terminates_the_group() {
        let limits = Limits {
            timeout: Some(Duration::from_millis(100)),
            grace: Duration::from_millis(100),
            ..Limits::default()
        };
        let done = run(
            &mut sh("sleep 30"),
            &limits,
            &RunControl::new(),
            None,
            Hooks::default(),
        )
        .unwrap();
        assert!(done.timed_out);
        assert!(matches!(done.exit, Exit::Signal(_)));
    }

    #[test]
    fn leaked_pipe_does_not_stall() {
        let limits = Limits {
            leak_timeout: Duration::from_millis(50),
            ..Limits::default()
        };
        // The background sleep holds stdout open after the shell exits.
        let done = run(
            &mut sh("sleep 30 & echo started"),
            &limits,
            &RunControl::new(),
            None,
            Hooks::default(),
        )
        .unwrap();
        assert!(done.leaked);
        assert_eq!(done.exit, Exit::Code(0));
        assert_eq!(done.stdout.to_text(), "started\n");
    }

    #[test]
    fn oversized_stream_spills_whole_to_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/t.stdout");
        let mut captured = Captured::new(CaptureLimit { head: 2, tail: 2 }, Some(path.clone()));
        for chunk in [&b"ab"[..], b"cd", b"ef", b"gh", b"ij"] {
            captured.push(chunk);
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdefghij");
        let text = captured.to_text();
        assert!(text.starts_with("ab\n[... 6 bytes omitted; full output in "));
        assert!(text.ends_with("ij"));
    }

    #[test]
    fn parent_of_a_child_is_us() {
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        assert_eq!(parent_of(child.id()), Some(std::process::id()));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn own_usage_is_measured() {
        mark_start();
        let (_, peak) = own_usage();
        assert!(peak > 0);
    }

    #[test]
    fn captured_keeps_head_and_tail() {
        let mut captured = Captured::new(CaptureLimit { head: 3, tail: 4 }, None);
        for chunk in [&b"abc"[..], b"defgh", b"ijklmnop"] {
            captured.push(chunk);
        }
        assert_eq!(captured.total(), 16);
        assert_eq!(captured.omitted(), 9);
        assert_eq!(captured.to_text(), "abc\n[... 9 bytes omitted ...]\nmnop");
    }
}
