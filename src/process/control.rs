//! Run-wide control shared by the scheduler, the process runner and the signal handler:
//! whether the run was cancelled, which test process groups are alive, and how long the run
//! was stopped (Ctrl-Z) so that timeouts do not count the pause.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::tracking::{self, Tracked};

#[derive(Debug, Default)]
pub struct RunControl {
    /// The signal that cancelled the run, or 0.
    cancelled_by: AtomicI32,
    /// Cancelling signals the handler has received: the second one means "now".
    signals_received: std::sync::atomic::AtomicUsize,
    /// The children alive now, by leader pid.
    children: Mutex<HashMap<i32, Tracked>>,
    pause: Mutex<PauseClock>,
}

#[derive(Debug, Default)]
struct PauseClock {
    total: Duration,
    since: Option<Instant>,
}

impl RunControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// The signal number that cancelled the run, if it was cancelled.
    pub fn cancelled(&self) -> Option<i32> {
        match self.cancelled_by.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal),
        }
    }

    /// Record the first cancelling signal; returns false if the run was already cancelled.
    pub fn cancel(&self, signal: i32) -> bool {
        self.cancelled_by
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Count a cancelling signal the handler received; returns how many so far (1 = first).
    /// Kept apart from [`RunControl::cancel`], which the runner may also call when it infers a
    /// Ctrl-C from a child's death before the handler has seen it.
    pub fn signal_received(&self) -> usize {
        self.signals_received.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Track a started child; if the run is already cancelled, signal it at once so a test
    /// started in the same instant as Ctrl-C does not outlive it.
    pub fn register(&self, child: Tracked) {
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(signal) = self.cancelled().and_then(|s| Signal::try_from(s).ok()) {
            tracking::signal_trees(&[&child], signal);
        }
        children.insert(child.leader, child);
    }

    pub fn unregister(&self, leader: i32) {
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        children.remove(&leader);
    }

    /// Send `signal` to every live child and everything each one started.
    pub fn signal_all(&self, signal: i32) {
        let Ok(signal) = Signal::try_from(signal) else {
            return;
        };
        // Copied out, so that reading /proc does not hold up tests starting and ending.
        let children: Vec<Tracked> = {
            let children = self.children.lock().unwrap_or_else(|e| e.into_inner());
            children.values().cloned().collect()
        };
        tracking::signal_trees(&children.iter().collect::<Vec<_>>(), signal);
    }

    pub fn pause_started(&self) {
        let mut pause = self.pause.lock().unwrap_or_else(|e| e.into_inner());
        pause.since.get_or_insert_with(Instant::now);
    }

    pub fn pause_ended(&self) {
        let mut pause = self.pause.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(since) = pause.since.take() {
            pause.total += since.elapsed();
        }
    }

    /// Total time the run has spent stopped so far.
    pub fn paused(&self) -> Duration {
        let pause = self.pause.lock().unwrap_or_else(|e| e.into_inner());
        pause.total + pause.since.map_or(Duration::ZERO, |s| s.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_cancel_wins() {
        let control = RunControl::new();
        assert_eq!(control.cancelled(), None);
        assert!(control.cancel(15));
        assert!(!control.cancel(2));
        assert_eq!(control.cancelled(), Some(15));
    }

    #[test]
    fn pauses_add_up() {
        let control = RunControl::new();
        control.pause_started();
        std::thread::sleep(Duration::from_millis(5));
        control.pause_ended();
        let first = control.paused();
        assert!(first >= Duration::from_millis(5));
        control.pause_ended();
        assert_eq!(control.paused(), first);
    }
}
