//! Starting a child: in its own process group, stdin from /dev/null, both outputs piped (or
//! passed through, under `--no-capture`), and patient when the system is short of descriptors
//! or processes.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Where a child's stdout and stderr go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutputMode {
    /// Each on a pipe of its own, captured within bounds.
    #[default]
    Capture,
    /// The runner's own stdout and stderr: nothing is captured.
    PassThrough,
    /// Both to the runner's stderr, when its stdout carries the JSON stream.
    PassThroughToStderr,
}

/// Start `command` in a new process group with stdin from /dev/null and both outputs piped,
/// or passed through as `output` says.
fn spawn(command: &mut Command, output: OutputMode) -> io::Result<Child> {
    let (stdout, stderr) = match output {
        OutputMode::Capture => (Stdio::piped(), Stdio::piped()),
        OutputMode::PassThrough => (Stdio::inherit(), Stdio::inherit()),
        OutputMode::PassThroughToStderr => (
            Stdio::from(io::stderr().as_fd().try_clone_to_owned()?),
            Stdio::inherit(),
        ),
    };
    command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()
}

/// How long a child that cannot start for want of descriptors or processes keeps trying.
const SPAWN_PATIENCE: Duration = Duration::from_secs(30);

/// Our children running now, and the condition that one of them ended: a child that could
/// not start for want of resources waits for another to end and give its resources back,
/// which lowers the number running at once instead of failing tests that never ran.
static RUNNING: Mutex<usize> = Mutex::new(0);
static ONE_ENDED: Condvar = Condvar::new();

/// A running child counted in [`RUNNING`] until dropped.
pub(super) struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *running = running.saturating_sub(1);
        ONE_ENDED.notify_all();
    }
}

/// [`spawn`], waiting out a shortage of descriptors or processes (EMFILE, ENFILE, EAGAIN,
/// ENOMEM) rather than failing at once.
pub(super) fn spawn_patiently(
    command: &mut Command,
    output: OutputMode,
) -> io::Result<(Child, Running)> {
    let deadline = Instant::now() + SPAWN_PATIENCE;
    let mut pause = Duration::from_millis(10);
    loop {
        let error = match spawn(command, output) {
            Ok(child) => {
                *RUNNING.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                return Ok((child, Running));
            }
            Err(error) => error,
        };
        let transient = matches!(
            error.raw_os_error(),
            Some(nix::libc::EMFILE | nix::libc::ENFILE | nix::libc::EAGAIN | nix::libc::ENOMEM)
        );
        if !transient || Instant::now() >= deadline {
            return Err(error);
        }
        let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        if *running > 0 {
            let _ = ONE_ENDED.wait_timeout(running, pause);
        } else {
            drop(running);
            std::thread::sleep(pause);
        }
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}
