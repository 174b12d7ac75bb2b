//! The worker pool: N threads take tests from one queue, in order, and stream events.
//!
//! Each worker thread runs one test at a time through the `run_one` function it is given (a
//! real process in production, a stub in tests), so N threads mean at most N test processes.
//! `-x`/`--maxfail` stop the queue under the same lock that hands out tests: once the failure
//! that reaches the limit is recorded, no further test starts; running ones finish. Test groups
//! (`max-threads`) and multi-slot tests (`threads-required`) are honoured by taking the first
//! pending test that fits, so a waiting test never leaves a slot idle when other work could run.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashSet;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::report::event::{Outcome, SkipReason, TestEvent, TestId, TestResult};
use crate::run::groups::Constraint;

/// How the pool is shaped.
#[derive(Debug, Clone, Default)]
pub struct PoolOptions {
    pub workers: usize,
    pub max_failures: Option<usize>,
    /// `max-threads` of each test group (see [`Constraint::group`]).
    pub group_limits: Vec<Option<usize>>,
}

struct Queue {
    /// Indices of tests not yet started, in start order.
    pending: VecDeque<usize>,
    running_in_group: Vec<usize>,
    free_slots: usize,
    failures: usize,
    stopped: bool,
}

impl Queue {
    /// The first pending test whose group has room and whose slots are free. Taking a later
    /// test when the first one must wait keeps slots busy instead of idle.
    fn take_eligible(
        &mut self,
        constraints: &[Constraint],
        limits: &[Option<usize>],
    ) -> Option<(usize, Constraint)> {
        let position = self.pending.iter().position(|&index| {
            let c = constraints[index];
            let group_ok = c.group.is_none_or(|g| {
                limits
                    .get(g)
                    .copied()
                    .flatten()
                    .is_none_or(|max| self.running_in_group[g] < max)
            });
            group_ok && c.slots <= self.free_slots
        })?;
        let index = self.pending.remove(position)?;
        let c = constraints[index];
        self.free_slots -= c.slots;
        if let Some(g) = c.group {
            self.running_in_group[g] += 1;
        }
        Some((index, c))
    }

    fn release(&mut self, c: Constraint) {
        self.free_slots += c.slots;
        if let Some(g) = c.group {
            self.running_in_group[g] -= 1;
        }
    }
}

/// Run `items` (jobs of one or more tests) in order on `options.workers` threads; returns when
/// every test is finished or reported as not started.
///
/// `run_one` runs a job and reports through the `emit` function it is given: TestStarted and
/// TestFinished for each of its tests, plus any other event. `ids_of` names a job's tests.
/// `constraint_of` gives each job's group and slot count (at most `workers` slots).
/// `cancelled` is asked before each test starts; once it says yes, no further test starts.
/// A panic while running one test becomes that test's `InternalError` result: the other
/// results are kept and the run goes on.
#[allow(clippy::too_many_arguments)]
pub fn run_pool<T, Ids, Run>(
    items: &[T],
    options: &PoolOptions,
    ids_of: Ids,
    constraint_of: &(dyn Fn(&T) -> Constraint + Sync),
    run_one: Run,
    cancelled: &(dyn Fn() -> bool + Sync),
    events: &Sender<TestEvent>,
) where
    T: Sync,
    Ids: Fn(&T) -> Vec<TestId> + Sync,
    Run: Fn(&T, &dyn Fn(TestEvent)) + Sync,
{
    let workers = options.workers.clamp(1, items.len().max(1));
    // Asked once per job: the queue scans them under its lock on every hand-out.
    let constraints: Vec<Constraint> = items
        .iter()
        .map(|item| {
            let c = constraint_of(item);
            Constraint {
                group: c.group,
                slots: c.slots.clamp(1, workers),
            }
        })
        .collect();
    let queue = Mutex::new(Queue {
        pending: (0..items.len()).collect(),
        running_in_group: vec![0; options.group_limits.len()],
        free_slots: workers,
        failures: 0,
        stopped: false,
    });
    let changed = Condvar::new();
    let take_next = || -> Option<(usize, Constraint)> {
        let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if queue.stopped || queue.pending.is_empty() || cancelled() {
                return None;
            }
            if let Some(next) = queue.take_eligible(&constraints, &options.group_limits) {
                return Some(next);
            }
            // Everything left waits for a group or for slots: sleep until a test ends. The
            // timeout only bounds how late a cancellation is noticed.
            queue = changed
                .wait_timeout(queue, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    };
    // Every TestFinished passes through here: failures count towards --maxfail at once, even
    // in the middle of a batch, and the ids that got a result are known if the job panics.
    let record = |event: &TestEvent, finished: &RefCell<HashSet<TestId>>| {
        if let TestEvent::TestFinished(result) = event {
            finished.borrow_mut().insert(result.id.clone());
            if result.is_failure {
                let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
                queue.failures += 1;
                if options
                    .max_failures
                    .is_some_and(|max| queue.failures >= max)
                {
                    queue.stopped = true;
                }
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some((index, taken)) = take_next() {
                    let item = &items[index];
                    let finished = RefCell::new(HashSet::new());
                    let emit = |event: TestEvent| {
                        record(&event, &finished);
                        // A send only fails when the reporter is gone; the run still completes.
                        let _ = events.send(event);
                    };
                    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run_one(item, &emit))) {
                        let message = panic_message(panic.as_ref());
                        for id in ids_of(item) {
                            if !finished.borrow().contains(&id) {
                                let outcome = Outcome::InternalError {
                                    message: message.clone(),
                                };
                                emit(TestEvent::TestFinished(TestResult::bare(
                                    id,
                                    outcome,
                                    Duration::ZERO,
                                )));
                            }
                        }
                    }
                    queue
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .release(taken);
                    changed.notify_all();
                }
            });
        }
    });
    let not_started: Vec<usize> = queue
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pending
        .iter()
        .copied()
        .collect();
    for index in not_started {
        for id in ids_of(&items[index]) {
            let _ = events.send(TestEvent::TestSkipped {
                id,
                reason: SkipReason::NotStarted,
            });
        }
    }
}

/// The text a panic carried, if it was a string.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    fn id(name: &str) -> TestId {
        TestId {
            binary_id: "b".into(),
            name: name.into(),
        }
    }

    fn result(name: &str, passed: bool) -> TestResult {
        let outcome = if passed {
            Outcome::Passed
        } else {
            Outcome::Failed { exit_code: 101 }
        };
        TestResult::bare(id(name), outcome, Duration::ZERO)
    }

    /// A job of one test: started, run, finished.
    fn single(
        run: impl Fn(&&'static str) -> TestResult + Sync,
    ) -> impl Fn(&&'static str, &dyn Fn(TestEvent)) + Sync {
        move |s, emit| {
            emit(TestEvent::TestStarted { id: id(s) });
            emit(TestEvent::TestFinished(run(s)));
        }
    }

    fn ids(s: &&'static str) -> Vec<TestId> {
        vec![id(s)]
    }

    fn collect(
        items: &[&'static str],
        options: PoolOptions,
        run: impl Fn(&&'static str) -> TestResult + Sync,
    ) -> Vec<TestEvent> {
        let (tx, rx) = crossbeam_channel::unbounded();
        run_pool(
            items,
            &options,
            ids,
            &|_| Constraint::default(),
            single(run),
            &|| false,
            &tx,
        );
        drop(tx);
        rx.iter().collect()
    }

    #[test]
    fn every_item_gets_exactly_one_final_event() {
        let items: Vec<&'static str> = vec!["a", "b", "c", "d", "e"];
        let events = collect(
            &items,
            PoolOptions {
                workers: 3,
                ..Default::default()
            },
            |s| result(s, *s != "c"),
        );
        let finished: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                TestEvent::TestFinished(r) => Some(r.id.name.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(finished.len(), 5);
        for name in &items {
            assert_eq!(finished.iter().filter(|n| n == name).count(), 1);
        }
    }

    #[test]
    fn workers_really_run_at_once() {
        // Both tests wait for each other: this only returns if two run concurrently.
        let barrier = Barrier::new(2);
        let events = collect(
            &["x", "y"],
            PoolOptions {
                workers: 2,
                ..Default::default()
            },
            |s| {
                barrier.wait();
                result(s, true)
            },
        );
        assert_eq!(events.len(), 4);
    }

    #[test]
    fn maxfail_stops_starting_new_tests() {
        let items = ["a", "b", "c", "d"];
        let events = collect(
            &items,
            PoolOptions {
                workers: 1,
                max_failures: Some(1),
                ..Default::default()
            },
            |s| result(s, *s != "b"),
        );
        let skipped: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                TestEvent::TestSkipped { id, reason } => {
                    assert_eq!(*reason, SkipReason::NotStarted);
                    Some(id.name.clone())
                }
                _ => None,
            })
            .collect();
        assert_eq!(skipped, ["c", "d"]);
    }

    #[test]
    fn a_panicking_test_becomes_an_internal_error_and_the_run_goes_on() {
        let events = collect(
            &["a", "boom", "c"],
            PoolOptions {
                workers: 1,
                ..Default::default()
            },
            |s| {
                if *s == "boom" {
                    panic!("worker bug");
                }
                result(s, true)
            },
        );
        let outcomes: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                TestEvent::TestFinished(r) => Some((r.id.name.clone(), r.outcome.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(outcomes.len(), 3);
        assert_eq!(
            outcomes[1].1,
            Outcome::InternalError {
                message: "worker bug".into()
            }
        );
    }

    #[test]
    fn cancellation_stops_the_queue() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let started = std::sync::atomic::AtomicUsize::new(0);
        let cancelled = || started.load(std::sync::atomic::Ordering::SeqCst) >= 1;
        let options = PoolOptions {
            workers: 1,
            ..Default::default()
        };
        let run = |s: &&'static str| {
            started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            result(s, true)
        };
        run_pool(
            &["a", "b", "c"],
            &options,
            ids,
            &|_| Constraint::default(),
            single(run),
            &cancelled,
            &tx,
        );
        drop(tx);
        let skipped = rx
            .iter()
            .filter(|e| matches!(e, TestEvent::TestSkipped { .. }))
            .count();
        assert_eq!(skipped, 2);
    }

    #[test]
    fn group_limit_holds_while_other_tests_fill_the_slots() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        // "g*" tests form a group of max-threads 1; the others are free. With 3 workers, at most
        // one g-test may run at a time, and free tests must still run beside it.
        let items = ["g1", "g2", "g3", "f1", "f2", "f3"];
        let in_group = AtomicUsize::new(0);
        let max_seen = AtomicUsize::new(0);
        let free_beside_group = AtomicUsize::new(0);
        let barrier = Barrier::new(2);
        let (tx, rx) = crossbeam_channel::unbounded();
        let options = PoolOptions {
            workers: 3,
            group_limits: vec![Some(1)],
            ..Default::default()
        };
        let constraint = |s: &&str| Constraint {
            group: s.starts_with('g').then_some(0),
            slots: 1,
        };
        let run = |s: &&'static str| {
            if s.starts_with('g') {
                let now = in_group.fetch_add(1, SeqCst) + 1;
                max_seen.fetch_max(now, SeqCst);
                if *s == "g1" {
                    // Meet f1: proves a free test runs while the group is busy.
                    barrier.wait();
                }
                in_group.fetch_sub(1, SeqCst);
            } else if *s == "f1" {
                barrier.wait();
                free_beside_group.fetch_add(1, SeqCst);
            }
            result(s, true)
        };
        run_pool(
            &items,
            &options,
            ids,
            &constraint,
            single(run),
            &|| false,
            &tx,
        );
        drop(tx);
        assert_eq!(max_seen.load(SeqCst), 1);
        assert_eq!(free_beside_group.load(SeqCst), 1);
        let finished = rx
            .iter()
            .filter(|e| matches!(e, TestEvent::TestFinished(_)))
            .count();
        assert_eq!(finished, 6);
    }

    #[test]
    fn multi_slot_test_runs_alone() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let items = ["big", "a", "b", "c"];
        let running = AtomicUsize::new(0);
        let overlap_with_big = AtomicUsize::new(0);
        let big_running = std::sync::atomic::AtomicBool::new(false);
        let (tx, rx) = crossbeam_channel::unbounded();
        let options = PoolOptions {
            workers: 2,
            ..Default::default()
        };
        let constraint = |s: &&str| Constraint {
            group: None,
            slots: if *s == "big" { 2 } else { 1 },
        };
        let run = |s: &&'static str| {
            running.fetch_add(1, SeqCst);
            if *s == "big" {
                big_running.store(true, SeqCst);
                std::thread::yield_now();
                big_running.store(false, SeqCst);
            } else if big_running.load(SeqCst) {
                overlap_with_big.fetch_add(1, SeqCst);
            }
            running.fetch_sub(1, SeqCst);
            result(s, true)
        };
        run_pool(
            &items,
            &options,
            ids,
            &constraint,
            single(run),
            &|| false,
            &tx,
        );
        drop(tx);
        assert_eq!(overlap_with_big.load(SeqCst), 0);
        assert_eq!(rx.iter().count(), 8);
    }

    #[test]
    fn order_is_kept_with_one_worker() {
        let items = ["c", "a", "b"];
        let events = collect(
            &items,
            PoolOptions {
                workers: 1,
                ..Default::default()
            },
            |s| result(s, true),
        );
        let started: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                TestEvent::TestStarted { id } => Some(id.name.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(started, ["c", "a", "b"]);
    }
}
