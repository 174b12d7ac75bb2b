//! The pool's queue: which job starts next, given the worker slots that are free, each test
//! group's `max-threads`, and `-x`/`--maxfail`.
//!
//! [`Queue`] is the plain state, tested directly; [`SharedQueue`] puts it behind the one lock
//! the workers share, with a condition variable that wakes them when a job ends.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::groups::Constraint;

/// How often a worker with nothing it may start looks at the cancellation flag.
const CANCEL_CHECK: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub(super) struct Queue {
    /// Indices of jobs not yet started, in start order.
    pending: VecDeque<usize>,
    /// What each job needs, by index.
    constraints: Vec<Constraint>,
    /// `max-threads` of each group, by group index.
    limits: Vec<Option<usize>>,
    running_in_group: Vec<usize>,
    free_slots: usize,
    failures: usize,
    max_failures: Option<usize>,
    stopped: bool,
}

impl Queue {
    /// A queue of `constraints.len()` jobs in index order, on `slots` worker slots. A job
    /// never needs more slots than there are.
    pub(super) fn new(
        constraints: Vec<Constraint>,
        slots: usize,
        limits: Vec<Option<usize>>,
        max_failures: Option<usize>,
    ) -> Self {
        let constraints = constraints
            .into_iter()
            .map(|c| Constraint {
                group: c.group,
                slots: c.slots.clamp(1, slots.max(1)),
            })
            .collect::<Vec<_>>();
        Queue {
            pending: (0..constraints.len()).collect(),
            running_in_group: vec![0; limits.len()],
            constraints,
            limits,
            free_slots: slots.max(1),
            failures: 0,
            max_failures,
            // A limit already reached (by tests run before this queue) starts nothing.
            stopped: max_failures == Some(0),
        }
    }

    /// No job will start any more: all started, or `--maxfail` reached.
    pub(super) fn is_done(&self) -> bool {
        self.stopped || self.pending.is_empty()
    }

    /// The first pending job whose group has room and whose slots are free, now taken. Taking
    /// a later job when the first one must wait keeps slots busy instead of idle.
    pub(super) fn take_eligible(&mut self) -> Option<usize> {
        if self.stopped {
            return None;
        }
        let position = self.pending.iter().position(|&index| {
            let c = self.constraints[index];
            let group_ok = c.group.is_none_or(|g| {
                let limit = self.limits.get(g).copied().flatten();
                limit.is_none_or(|max| self.running_in_group[g] < max)
            });
            group_ok && c.slots <= self.free_slots
        })?;
        let index = self.pending.remove(position)?;
        let c = self.constraints[index];
        self.free_slots -= c.slots;
        if let Some(g) = c.group {
            self.running_in_group[g] += 1;
        }
        Some(index)
    }

    /// Job `index` ended: its slots and its group's place are free again.
    pub(super) fn release(&mut self, index: usize) {
        let c = self.constraints[index];
        self.free_slots += c.slots;
        if let Some(g) = c.group {
            self.running_in_group[g] -= 1;
        }
    }

    /// A test failed; at the `--maxfail` limit no further job starts.
    pub(super) fn record_failure(&mut self) {
        self.failures += 1;
        if self.max_failures.is_some_and(|max| self.failures >= max) {
            self.stopped = true;
        }
    }

    /// The jobs that never started, in order.
    pub(super) fn not_started(&self) -> Vec<usize> {
        self.pending.iter().copied().collect()
    }
}

/// The queue as the workers share it.
pub(super) struct SharedQueue {
    queue: Mutex<Queue>,
    changed: Condvar,
}

impl SharedQueue {
    pub(super) fn new(queue: Queue) -> Self {
        SharedQueue {
            queue: Mutex::new(queue),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic elsewhere while holding the lock leaves the queue consistent: every change is
        // a single step.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next job this worker may start, waiting while every pending job waits for a group
    /// or for slots; `None` once nothing more will start or `cancelled` says so.
    pub(super) fn take_next(&self, cancelled: &dyn Fn() -> bool) -> Option<usize> {
        let mut queue = self.lock();
        loop {
            if queue.is_done() || cancelled() {
                return None;
            }
            if let Some(index) = queue.take_eligible() {
                return Some(index);
            }
            // The timeout only bounds how late a cancellation is noticed.
            queue = self
                .changed
                .wait_timeout(queue, CANCEL_CHECK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Job `index` ended: wake the workers that wait for its slots or group.
    pub(super) fn release(&self, index: usize) {
        self.lock().release(index);
        self.changed.notify_all();
    }

    pub(super) fn record_failure(&self) {
        self.lock().record_failure();
    }

    pub(super) fn not_started(&self) -> Vec<usize> {
        self.lock().not_started()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free() -> Constraint {
        Constraint {
            group: None,
            slots: 1,
        }
    }

    fn in_group(group: usize) -> Constraint {
        Constraint {
            group: Some(group),
            slots: 1,
        }
    }

    fn taking(slots: usize) -> Constraint {
        Constraint { group: None, slots }
    }

    #[test]
    fn jobs_start_in_order_while_slots_are_free() {
        let mut queue = Queue::new(vec![free(); 3], 2, vec![], None);
        assert_eq!(queue.take_eligible(), Some(0));
        assert_eq!(queue.take_eligible(), Some(1));
        assert_eq!(queue.take_eligible(), None, "both slots are busy");
        queue.release(0);
        assert_eq!(queue.take_eligible(), Some(2));
        assert!(queue.is_done());
    }

    #[test]
    fn a_full_group_lets_later_free_jobs_start() {
        let jobs = vec![in_group(0), in_group(0), free(), in_group(0)];
        let mut queue = Queue::new(jobs, 3, vec![Some(1)], None);
        assert_eq!(queue.take_eligible(), Some(0));
        // Job 1 waits for the group; job 2 takes the free slot instead.
        assert_eq!(queue.take_eligible(), Some(2));
        assert_eq!(queue.take_eligible(), None, "the group is full");
        queue.release(0);
        assert_eq!(queue.take_eligible(), Some(1));
        assert_eq!(queue.take_eligible(), None);
        queue.release(1);
        assert_eq!(queue.take_eligible(), Some(3));
    }

    #[test]
    fn a_multi_slot_job_runs_alone() {
        let mut queue = Queue::new(vec![free(), taking(2), free()], 2, vec![], None);
        assert_eq!(queue.take_eligible(), Some(0));
        // The two-slot job cannot start beside job 0, but job 2 can.
        assert_eq!(queue.take_eligible(), Some(2));
        queue.release(0);
        assert_eq!(queue.take_eligible(), None, "one slot is still busy");
        queue.release(2);
        assert_eq!(queue.take_eligible(), Some(1));
        assert_eq!(queue.take_eligible(), None);
    }

    #[test]
    fn a_job_never_needs_more_slots_than_exist() {
        let mut queue = Queue::new(vec![taking(8)], 2, vec![], None);
        assert_eq!(queue.take_eligible(), Some(0));
    }

    #[test]
    fn maxfail_stops_the_queue() {
        let mut queue = Queue::new(vec![free(); 4], 1, vec![], Some(2));
        assert_eq!(queue.take_eligible(), Some(0));
        queue.record_failure();
        queue.release(0);
        assert_eq!(queue.take_eligible(), Some(1));
        queue.record_failure();
        queue.release(1);
        assert!(queue.is_done());
        assert_eq!(queue.take_eligible(), None);
        assert_eq!(queue.not_started(), [2, 3]);
    }

    #[test]
    fn a_limit_reached_before_the_queue_starts_nothing() {
        let queue = Queue::new(vec![free(); 2], 2, vec![], Some(0));
        assert!(queue.is_done());
        assert_eq!(queue.not_started(), [0, 1]);
    }
}
