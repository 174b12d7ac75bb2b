//! Runs one child process to completion: its own process group, both pipes drained at once,
//! a timeout with a grace period, and no process of its group left alive afterwards.
//!
//! Every test process and every listing runs through here (cargo itself is started by
//! discovery with plain `std::process`). Every wait is a `poll` on the two pipes and a pidfd,
//! so a child that prints nothing costs no CPU, and a child whose pipes are held open by
//! something it spawned cannot stall us. Reaping it, with the CPU time it used, is `reap`'s.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::capture::{CaptureLimit, Captured};
use super::control::RunControl;
use super::deadlines::Deadlines;
use super::reap::{cpu_pressure, cpu_pressure_at_start, has_exited, reap, Exit};
use super::spawn::{spawn_patiently, OutputMode};
use super::tracking::{self, Tracked};

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
    /// Where the child's output goes: captured, or straight through (`--no-capture`).
    pub output: OutputMode,
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
            output: OutputMode::Capture,
        }
    }
}

#[derive(Debug)]
pub struct Finished {
    pub exit: Exit,
    pub stdout: Captured,
    pub stderr: Captured,
    pub duration: Duration,
    /// CPU time (user + system) of the child and of the descendants it waited for.
    pub cpu: Duration,
    /// How long, while the child ran, some task on the machine waited for a CPU (Linux's
    /// pressure stall information); `None` where the kernel does not say.
    pub cpu_pressure: Option<Duration>,
    /// The timeout ran out and the child was terminated.
    pub timed_out: bool,
    /// The child exited but something it spawned kept its output pipes open.
    pub leaked: bool,
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
    let mut clock = Deadlines::new(limits, control);
    let pressure_at_start = cpu_pressure_at_start();
    let tag = tracking::tag(command);
    let (mut child, _running) = spawn_patiently(command, limits.output)?;
    let leader = child.id() as i32;
    // The child leads its own process group (see `spawn`).
    let tracked = Tracked {
        leader,
        group: leader,
        tag,
    };
    control.register(tracked.clone());
    let mut pipes = Pipes::new(&mut child, limits.capture, spill.as_deref());
    let mut exited = false;
    let leaked = loop {
        let now = Instant::now();
        if !exited && !pipes.has_pidfd() {
            // No pidfd on this kernel: check by polling the child (without reaping it).
            exited = has_exited(leader)?;
        }
        if exited && !pipes.open() {
            break false;
        }
        if clock.leak_expired(now, exited) {
            break true;
        }
        clock.enforce(now, exited, &tracked, &mut hooks);
        let timeout = clock.poll_timeout(now, exited, !pipes.has_pidfd());
        // Once the child has exited, what is left in its pipes is read straight to the end.
        let coalesce = limits.coalesce.filter(|_| !exited);
        exited |= pipes.wait(timeout, &mut hooks, coalesce)?;
    };
    // Whatever the test left behind in its group goes with it. The leader is still a zombie
    // (not yet reaped), so its pid cannot have been reused for another group. A test that was
    // stopped, or that left something holding its pipes, may have left processes elsewhere
    // too: those are looked for wherever they went.
    let _ = killpg(Pid::from_raw(leader), Signal::SIGKILL);
    if leaked || clock.timed_out() || control.cancelled().is_some() {
        tracking::signal_trees(&[&tracked], Signal::SIGKILL);
    }
    control.unregister(leader);
    let duration = clock.active(Instant::now());
    let (status, cpu) = reap(leader)?;
    let pressure = cpu_pressure()
        .zip(pressure_at_start)
        .map(|(end, start)| end.saturating_sub(start));
    let (stdout, stderr) = pipes.into_captured();
    Ok(Finished {
        exit: Exit::from(status),
        stdout,
        stderr,
        duration,
        cpu,
        cpu_pressure: pressure,
        timed_out: clock.timed_out(),
        leaked,
    })
}

/// The child's two output pipes, captured as they become readable, and its pidfd, which
/// becomes readable when it exits.
struct Pipes {
    stdout: Option<File>,
    stderr: Option<File>,
    pidfd: Option<OwnedFd>,
    out: Captured,
    err: Captured,
    buf: Vec<u8>,
}

impl Pipes {
    fn new(child: &mut Child, capture: CaptureLimit, spill: Option<&Path>) -> Self {
        let spill_to =
            |ext: &str| spill.map(|stem| PathBuf::from(format!("{}.{ext}", stem.display())));
        Pipes {
            stdout: child.stdout.take().map(|p| File::from(OwnedFd::from(p))),
            stderr: child.stderr.take().map(|p| File::from(OwnedFd::from(p))),
            pidfd: open_pidfd(child.id()),
            out: Captured::new(capture, spill_to("stdout")),
            err: Captured::new(capture, spill_to("stderr")),
            buf: vec![0u8; 64 * 1024],
        }
    }

    fn has_pidfd(&self) -> bool {
        self.pidfd.is_some()
    }

    /// Whether either output pipe is still open.
    fn open(&self) -> bool {
        self.stdout.is_some() || self.stderr.is_some()
    }

    /// Wait up to `timeout` for output or the child's exit, and read what is ready. Returns
    /// whether the child exited (as its pidfd said).
    fn wait(
        &mut self,
        timeout: PollTimeout,
        hooks: &mut Hooks,
        coalesce: Option<Duration>,
    ) -> io::Result<bool> {
        let Some([out_ready, err_ready, exited]) = self.poll(timeout)? else {
            return Ok(false);
        };
        let mut read = 0;
        if out_ready {
            read = drain_once(&mut self.stdout, &mut self.out, &mut self.buf)?;
            if let Some(on_stdout) = hooks.on_stdout.as_mut().filter(|_| read > 0) {
                on_stdout(&self.buf[..read]);
            }
        }
        if err_ready {
            drain_once(&mut self.stderr, &mut self.err, &mut self.buf)?;
        }
        // A read that filled the buffer left more waiting: pausing would only hold up a child
        // that prints faster than the pauses let it (a flood of output would crawl).
        let full = read == self.buf.len();
        let mut exited = exited;
        if let Some(pause) = coalesce.filter(|_| out_ready && self.stdout.is_some() && !full) {
            exited |= self.pause(pause)?;
        }
        if exited {
            self.pidfd = None;
        }
        Ok(exited)
    }

    /// Let output pile up for `pause`, but no longer than the child lives: the pause ends at
    /// its exit (a batch's last lines come just before it), which it returns. Without a
    /// pidfd, a plain sleep.
    fn pause(&self, pause: Duration) -> io::Result<bool> {
        let Some(pidfd) = self.pidfd.as_ref() else {
            std::thread::sleep(pause);
            return Ok(false);
        };
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(pause).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, timeout) {
            Ok(n) => Ok(n > 0),
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Which of stdout, stderr and the pidfd are ready; `None` when a signal interrupted the
    /// wait.
    fn poll(&self, timeout: PollTimeout) -> io::Result<Option<[bool; 3]>> {
        let sources = [
            self.stdout.as_ref().map(|f| f.as_fd()),
            self.stderr.as_ref().map(|f| f.as_fd()),
            self.pidfd.as_ref().map(|f| f.as_fd()),
        ];
        let mut fds = Vec::with_capacity(3);
        let mut slots = [None; 3];
        for (slot, fd) in sources.into_iter().enumerate() {
            if let Some(fd) = fd {
                slots[slot] = Some(fds.len());
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let readable = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
        let ready = |slot: Option<usize>| {
            slot.is_some_and(|i| fds[i].revents().is_some_and(|r| r.intersects(readable)))
        };
        Ok(Some(slots.map(ready)))
    }

    fn into_captured(self) -> (Captured, Captured) {
        (self.out, self.err)
    }
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
pub(super) fn open_pidfd(pid: u32) -> Option<OwnedFd> {
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
    use crate::process::reap::signal_name;

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
    fn cpu_time_of_the_child_and_its_waited_for_descendants() {
        // The work is done by a grandchild that the child waits for: it counts too.
        let script = "sh -c 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done'";
        let done = run(
            &mut sh(script),
            &Limits::default(),
            &RunControl::new(),
            None,
            Hooks::default(),
        )
        .unwrap();
        assert_eq!(done.exit, Exit::Code(0));
        assert!(done.cpu > Duration::ZERO, "{done:?}");
        // One thread at a time: no more CPU than time (rusage rounds to microseconds).
        assert!(
            done.cpu <= done.duration + Duration::from_millis(5),
            "{done:?}"
        );
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
