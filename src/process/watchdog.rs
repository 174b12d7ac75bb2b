//! Nothing outlives the runner: a tiny watchdog process, forked before any thread starts, holds
//! the read end of a pipe whose write end only the runner has. However the runner ends (an
//! exit, a panic, `kill -9`), the kernel closes its end; the watchdog then kills every process
//! that carries the run's token (see `tracking`) and exits. One process per run, nothing per
//! test.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::signal::{signal, SigHandler, Signal};
use nix::unistd::{fork, ForkResult};

use super::tracking;

/// The watchdog's pid, and the runner's end of the pipe (kept open for the whole run).
static WATCHDOG: OnceLock<(u32, OwnedFd)> = OnceLock::new();

/// How many times the watchdog sweeps: a process being forked during one sweep is caught by
/// the next.
const SWEEPS: usize = 3;
const BETWEEN_SWEEPS: Duration = Duration::from_millis(50);

/// Start the watchdog. Must be called while the runner has only one thread: `fork` copies
/// only the calling thread. Without it (fork failed), runs still work; only a killed runner
/// can leave tests behind.
pub fn start() {
    let token = tracking::run_token();
    // Close-on-exec: a child that inherited the write end would keep the pipe open after the
    // runner died.
    let Ok((read_end, write_end)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
        return;
    };
    // SAFETY: called at the start of `main`, before any other thread exists, so the child is a
    // complete copy of a single-threaded process; it then only calls async-signal-safe
    // functions and plain system calls before `_exit`.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(write_end);
            watch(read_end.as_raw_fd(), token);
        }
        Ok(ForkResult::Parent { child }) => {
            drop(read_end);
            let _ = WATCHDOG.set((child.as_raw() as u32, write_end));
        }
        Err(_) => {}
    }
}

/// Close every descriptor from 3 up but `keep`: one `close_range` on each side of it (Linux
/// 5.9 on), else one `close` per descriptor below 1024. A thousand closes were a millisecond of
/// CPU taken from the runner's start on a small machine.
fn close_all_but(keep: i32) {
    use nix::libc::{c_uint, syscall, SYS_close_range};
    let keep = keep.max(3) as c_uint;
    for (first, last) in [(3, keep - 1), (keep + 1, c_uint::MAX)] {
        if first > last {
            continue;
        }
        // SAFETY: a plain system call on integers; closes descriptors only.
        if unsafe { syscall(SYS_close_range, first, last, 0 as c_uint) } == 0 {
            continue;
        }
        for fd in first..=last.min(1023) {
            let _ = nix::unistd::close(fd as i32);
        }
    }
}

/// Whether `pid` is this run's watchdog, which must outlive the run's own clean-up.
pub fn is_watchdog(pid: u32) -> bool {
    WATCHDOG.get().is_some_and(|(watchdog, _)| *watchdog == pid)
}

/// The watchdog's life: detach from the terminal's signals and from the runner's output, wait
/// for the runner's end of the pipe to close, sweep, exit.
fn watch(pipe: i32, token: &str) -> ! {
    let _ = nix::unistd::setsid();
    for ignored in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGTSTP,
    ] {
        // SAFETY: installs the "ignore" disposition, no handler code runs.
        let _ = unsafe { signal(ignored, SigHandler::SigIgn) };
    }
    // Keep nothing of the runner's open but the pipe: a reader of the runner's output must see
    // its end when the runner ends, not when the watchdog does.
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            let _ = nix::unistd::dup2(null.as_raw_fd(), fd);
        }
    }
    close_all_but(pipe);
    let mut byte = [0u8; 1];
    // Until end of file (the runner is gone) or an error other than an interruption: either
    // way, sweep.
    while let Err(nix::errno::Errno::EINTR) = nix::unistd::read(pipe, &mut byte) {}
    for _ in 0..SWEEPS {
        if tracking::kill_run(token) == 0 {
            break;
        }
        std::thread::sleep(BETWEEN_SWEEPS);
    }
    // SAFETY: ends this forked copy at once, without running the runner's exit handlers.
    unsafe { nix::libc::_exit(0) }
}
