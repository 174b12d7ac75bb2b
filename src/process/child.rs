//! Runs one child process to completion: its own process group, both pipes drained at once,
//! a timeout with a grace period, and no process of its group left alive afterwards.
//!
//! This is the only module that talks to the operating system's process API (through `nix`).
//! Every wait is a `poll` on the two pipes and a pidfd, so a child that prints nothing costs no
//! CPU, and a child whose pipes are held open by something it spawned cannot stall us.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::capture::{CaptureLimit, Captured};
use super::control::RunControl;

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
}
