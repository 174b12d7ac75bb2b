//! The clocks of one child: its active time (the run's pauses left out), and the deadlines set
//! as it runs: the timeout with its SIGTERM, the SIGKILL after the grace period, the leak timeout
//! once it exited, and the slow reports.

use std::time::{Duration, Instant};

use nix::poll::PollTimeout;
use nix::sys::signal::Signal;

use super::child::{Hooks, Limits};
use super::control::RunControl;
use super::tracking::{self, Tracked};

/// The clocks of one child: its active time (pauses left out), and the deadlines set as it
/// runs: the timeout, the SIGKILL after the grace period, the leak timeout, the slow reports.
pub(super) struct Deadlines<'a> {
    limits: &'a Limits,
    control: &'a RunControl,
    started: Instant,
    paused_at_start: Duration,
    timed_out: bool,
    leak: Option<Instant>,
    kill: Option<Instant>,
    next_slow: Option<Duration>,
}

impl<'a> Deadlines<'a> {
    pub(super) fn new(limits: &'a Limits, control: &'a RunControl) -> Self {
        Deadlines {
            limits,
            control,
            started: Instant::now(),
            paused_at_start: control.paused(),
            timed_out: false,
            leak: None,
            kill: None,
            next_slow: limits.slow_period,
        }
    }

    /// Time since the start, minus the time the run spent stopped since then.
    pub(super) fn active(&self, now: Instant) -> Duration {
        let paused = self.control.paused().saturating_sub(self.paused_at_start);
        (now - self.started).saturating_sub(paused)
    }

    pub(super) fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// Once the child has exited, its pipes get the leak timeout to close; true when it ran
    /// out.
    pub(super) fn leak_expired(&mut self, now: Instant, exited: bool) -> bool {
        if exited && self.leak.is_none() {
            self.leak = Some(now + self.limits.leak_timeout);
        }
        self.leak.is_some_and(|deadline| now >= deadline)
    }

    /// Do what is due: terminate on timeout, kill after the grace period, report slowness.
    pub(super) fn enforce(
        &mut self,
        now: Instant,
        exited: bool,
        tracked: &Tracked,
        hooks: &mut Hooks,
    ) {
        let elapsed = self.active(now);
        let timeout_due = self.limits.timeout.is_some_and(|t| elapsed >= t);
        if timeout_due && !exited && !self.timed_out {
            self.timed_out = true;
            tracking::signal_trees(&[tracked], Signal::SIGTERM);
            self.kill = Some(now + self.limits.grace);
        }
        if self.kill.is_some_and(|deadline| now >= deadline) {
            tracking::signal_trees(&[tracked], Signal::SIGKILL);
            self.kill = None;
        }
        if let Some(at) = self.next_slow.filter(|at| elapsed >= *at) {
            if let Some(on_slow) = hooks.on_slow.as_mut() {
                on_slow(elapsed);
            }
            self.next_slow = self.limits.slow_period.map(|period| at + period);
        }
    }

    /// How long a wait for the pipes may last before a deadline is due.
    pub(super) fn poll_timeout(
        &self,
        now: Instant,
        exited: bool,
        polling_child: bool,
    ) -> PollTimeout {
        let elapsed = self.active(now);
        // Active-time deadlines, mapped to the clock; a pause only makes us wake early.
        let to_clock = |at: Duration| now + at.saturating_sub(elapsed);
        let timeout = self.limits.timeout.filter(|_| !self.timed_out && !exited);
        let poll_child = (!exited && polling_child).then(|| now + Duration::from_millis(20));
        let wake = [
            self.leak,
            self.kill,
            self.next_slow.map(to_clock),
            timeout.map(to_clock),
            poll_child,
        ]
        .into_iter()
        .flatten()
        .min();
        match wake {
            None => PollTimeout::NONE,
            Some(at) => {
                let ms = at.saturating_duration_since(now).as_millis().min(60_000) as u16;
                PollTimeout::from(ms.max(1))
            }
        }
    }
}
