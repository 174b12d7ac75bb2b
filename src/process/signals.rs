//! The runner's own signal handling (the one home of `signal-hook`).
//!
//! Tests run in their own process groups, so a Ctrl-C at the terminal reaches only us; we pass
//! it on. First SIGINT/SIGTERM/SIGHUP: cancel the run (no new test starts), forward the signal
//! to every running test and what it started, and SIGKILL what remains after the grace period;
//! the normal report follows. A second one kills every test at once, and the reports are still
//! written as the killed tests end. Signals that arrive within [`SAME_INTERRUPTION`] of each
//! other are one interruption: a wrapper that forwards signals (`timeout 60 runner` in a
//! terminal) delivers one key press twice. Ctrl-Z stops the tests with us, and `fg` resumes
//! them, with the pause kept out of their timeouts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGCONT, SIGHUP, SIGINT, SIGTERM, SIGTSTP};
use signal_hook::iterator::Signals;

use crate::process::control::RunControl;

/// The exit code for a run ended by `signal`: 128 + its number, as shells report it.
pub fn exit_code_for(signal: i32) -> i32 {
    128 + signal
}

/// Start the thread that turns signals into run control; it lives until the process exits.
pub fn install(control: Arc<RunControl>, grace: Duration) -> Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGTSTP, SIGCONT])
        .context("installing signal handlers")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut last_interruption: Option<Instant> = None;
            for signal in signals.forever() {
                match signal {
                    SIGTSTP => stop(&control),
                    SIGCONT => {
                        control.signal_all(SIGCONT);
                        control.pause_ended();
                    }
                    _ => {
                        let now = Instant::now();
                        let repeated = last_interruption
                            .is_some_and(|at| now.duration_since(at) < SAME_INTERRUPTION);
                        last_interruption = Some(now);
                        if !repeated {
                            cancel(&control, signal, grace);
                        }
                    }
                }
            }
        })
        .context("starting the signal thread")?;
    Ok(())
}

/// Whether a failed build is really a cancelled run. Cargo died of `signal` (if a signal
/// killed it); if that is one of the signals that cancel a run, the same signal was almost
/// surely sent to us too (Ctrl-C goes to the whole foreground group), but our handler thread
/// may not have seen it yet: give it a moment, then treat the run as cancelled by that signal
/// either way.
pub fn build_was_cancelled(control: &RunControl, signal: Option<i32>) -> bool {
    let Some(signal) = signal.filter(|s| [SIGINT, SIGTERM, SIGHUP].contains(s)) else {
        return control.cancelled().is_some();
    };
    let deadline = std::time::Instant::now() + Duration::from_millis(200);
    while control.cancelled().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    control.cancel(signal);
    true
}

/// Signals this close together are one interruption, delivered twice.
const SAME_INTERRUPTION: Duration = Duration::from_millis(300);
/// After a second interruption, how long the killed tests get to be reported before the
/// runner gives up on its reports and exits.
const LAST_CHANCE: Duration = Duration::from_secs(10);

fn cancel(control: &Arc<RunControl>, signal: i32, grace: Duration) {
    control.cancel(signal);
    if control.signal_received() > 1 {
        // Second request: no more patience, but the results so far are still reported. The
        // killed tests end at once; their workers see that and the run winds up normally.
        eprintln!("runner: interrupted twice; killing every running test");
        control.signal_all(nix::libc::SIGKILL);
        let first = control.cancelled().unwrap_or(signal);
        let _ = after(LAST_CHANCE, move || {
            eprintln!("runner: the run did not wind up after being interrupted twice; exiting");
            std::process::exit(exit_code_for(first));
        });
        return;
    }
    control.signal_all(signal);
    let killer = Arc::clone(control);
    if !after(grace, move || killer.signal_all(nix::libc::SIGKILL)) {
        // No thread for the grace period: no grace.
        control.signal_all(nix::libc::SIGKILL);
    }
}

/// Run `f` after `delay` on a thread of its own; false if no thread could be started.
fn after(delay: Duration, f: impl FnOnce() + Send + 'static) -> bool {
    std::thread::Builder::new()
        .name("signals-timer".into())
        .spawn(move || {
            std::thread::sleep(delay);
            f();
        })
        .is_ok()
}

/// Stop the tests' groups, then ourselves; SIGCONT (from `fg`) resumes both.
fn stop(control: &RunControl) {
    control.pause_started();
    control.signal_all(nix::libc::SIGSTOP);
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(exit_code_for(SIGINT), 130);
        assert_eq!(exit_code_for(SIGTERM), 143);
        assert_eq!(exit_code_for(SIGHUP), 129);
    }
}
