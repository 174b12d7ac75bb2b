//! Collecting an exited child: how it ended and the CPU time it used, both from one `wait4`;
//! and the machine's CPU pressure, read around a child's life to tell whether its wall time was
//! its own.
//!
//! A test's wall time less its CPU time is what it waited for: a sleep, a socket, a file, a
//! child, or a CPU. Only the last is not the test's own doing, and Linux counts it: the
//! pressure stall information (`/proc/pressure/cpu`) keeps the total time in which some task
//! waited for a CPU. Little of it during a test means the test had a core whenever it wanted
//! one.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

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

/// Whether the child `pid` has exited, leaving it a zombie: only [`reap`] collects it, so that
/// its resource usage is read once, there.
pub(super) fn has_exited(pid: i32) -> io::Result<bool> {
    use nix::libc;
    // SAFETY: siginfo_t is plain data; all zeroes is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: `info` is a valid siginfo_t the kernel may write to.
    let result = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
    if result < 0 {
        let error = io::Error::last_os_error();
        return match error.kind() {
            io::ErrorKind::Interrupted => Ok(false),
            _ => Err(error),
        };
    }
    // With WNOHANG, a child that has not changed state leaves si_pid at 0.
    // SAFETY: waitid filled `info` (or left it zeroed), so si_pid reads initialised memory.
    Ok(unsafe { info.si_pid() } != 0)
}

/// Collect the exited child `pid`: its exit status, and the CPU time (user + system) it and the
/// descendants it waited for used, as the kernel counted it.
pub(super) fn reap(pid: i32) -> io::Result<(ExitStatus, Duration)> {
    use nix::libc;
    let mut status = 0;
    // SAFETY: rusage is plain data; all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are valid for the kernel to write to.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    let time =
        |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000);
    let cpu = time(usage.ru_utime) + time(usage.ru_stime);
    Ok((ExitStatus::from_raw(status), cpu))
}

/// Time in which some task on the machine waited for a CPU, since boot: `some total` (in
/// microseconds) of `/proc/pressure/cpu`. `None` on a kernel without pressure information.
///
/// Each thread keeps the file open and reads it again from its start: one `pread`, where
/// opening and reading it afresh takes seven calls.
pub(super) fn cpu_pressure() -> Option<Duration> {
    PRESSURE.with(|cell| cell.borrow_mut().read())
}

/// [`cpu_pressure`], or this thread's reading of a moment ago (the end of its previous child)
/// if there is one: for the start of a child, so that a child of a millisecond pays for one
/// reading, not two.
pub(super) fn cpu_pressure_at_start() -> Option<Duration> {
    PRESSURE.with(|cell| {
        let mut pressure = cell.borrow_mut();
        match pressure.last {
            Some((at, total)) if at.elapsed() <= RECENT => Some(total),
            _ => pressure.read(),
        }
    })
}

/// How old a reading may be and still count as now.
const RECENT: Duration = Duration::from_micros(500);

/// A thread's pressure file, and its last reading.
#[derive(Default)]
struct Pressure {
    file: Option<std::fs::File>,
    /// The kernel has no pressure file: never ask again.
    missing: bool,
    last: Option<(Instant, Duration)>,
}

impl Pressure {
    fn read(&mut self) -> Option<Duration> {
        use std::os::unix::fs::FileExt;
        if self.missing {
            return None;
        }
        if self.file.is_none() {
            self.file = std::fs::File::open("/proc/pressure/cpu").ok();
            self.missing = self.file.is_none();
        }
        let mut buf = [0u8; 512];
        let len = self.file.as_ref()?.read_at(&mut buf, 0).ok()?;
        let total = some_total(std::str::from_utf8(&buf[..len]).ok()?)?;
        self.last = Some((Instant::now(), total));
        Some(total)
    }
}

thread_local! {
    static PRESSURE: std::cell::RefCell<Pressure> = std::cell::RefCell::default();
}

/// `total=N` of the `some` line of a pressure file, as a duration.
fn some_total(text: &str) -> Option<Duration> {
    let line = text.lines().find(|line| line.starts_with("some "))?;
    let total = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("total="))?;
    total.parse().ok().map(Duration::from_micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn pressure_is_read_again_from_the_open_file_and_reused_only_at_a_start() {
        let Some(first) = cpu_pressure() else {
            return; // A kernel without pressure information.
        };
        // What the start of the next child takes: the reading just made.
        assert_eq!(cpu_pressure_at_start(), Some(first));
        let mut later = first;
        // The same open file, read again: the total only grows.
        for _ in 0..3 {
            later = cpu_pressure().expect("read again");
            assert!(later >= first);
        }
        let text = std::fs::read_to_string("/proc/pressure/cpu").unwrap();
        assert!(some_total(&text).unwrap() >= later);
    }

    #[test]
    fn an_exit_seen_without_reaping_is_reaped_once_with_its_status() {
        // Reaped by `reap` below, which is what this test is about.
        #[allow(clippy::zombie_processes)]
        let child = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
        let pid = child.id() as i32;
        // Waits for the exit itself, however long the machine takes to get there.
        while !has_exited(pid).unwrap() {
            std::thread::yield_now();
        }
        assert!(has_exited(pid).unwrap(), "looking does not reap");
        let (status, _) = reap(pid).unwrap();
        assert_eq!(status.code(), Some(7));
        assert!(reap(pid).is_err(), "reaped only once");
    }

    #[test]
    fn pressure_is_read_from_the_some_line() {
        let text = "some avg10=8.00 avg60=30.76 avg300=51.85 total=1269352171\n\
                    full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(some_total(text), Some(Duration::from_micros(1_269_352_171)));
        assert_eq!(some_total("full total=3\n"), None);
    }
}
