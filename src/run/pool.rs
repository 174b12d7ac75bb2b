//! The worker pool: N threads take jobs from one queue, in order, and stream events.
//!
//! Each worker thread runs one job at a time through the `run_one` function it is given (real
//! processes in production, a stub in tests), so N threads mean at most N test processes. The
//! queue (see `queue`) decides what starts next: `-x`/`--maxfail` stop it under the same lock
//! that hands out jobs, so once the failure that reaches the limit is recorded no further job
//! starts; running ones finish. Test groups (`max-threads`) and multi-slot tests
//! (`threads-required`) are honoured by taking the first pending job that fits.

use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use crossbeam_channel::Sender;

use super::groups::Constraint;
use super::queue::{Queue, SharedQueue};
use crate::report::event::{Outcome, SkipReason, TestEvent, TestId, TestResult};

/// How the pool is shaped.
#[derive(Debug, Clone, Default)]
pub struct PoolOptions {
    pub workers: usize,
    pub max_failures: Option<usize>,
    /// `max-threads` of each test group (see [`Constraint::group`]).
    pub group_limits: Vec<Option<usize>>,
}

/// Where a job runs: the worker slot (0-based; each runs one job at a time, so a slot is a
/// lane of the run's timeline) and the job's index in the pass's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub worker: usize,
    pub job: usize,
}

/// Something the pool runs: it names its tests, and says what it needs of the pool.
pub trait PoolJob: Sync {
    /// The tests the job reports on; each gets exactly one final event.
    fn test_ids(&self) -> Vec<TestId>;
    /// Its test group and worker slots.
    fn constraint(&self) -> Constraint;
}

/// Run `jobs` in order on `options.workers` threads; returns when every test is finished or
/// reported as not started.
///
/// `run_one` runs a job on the [`Slot`] it is given and reports through the `emit` function it
/// is given: TestStarted and TestFinished for each of its tests, plus any other event. `cancelled` is asked before each
/// job starts; once it says yes, no further job starts. A panic while running a job becomes an
/// `InternalError` result for each of its tests that had none yet: the other results are kept
/// and the run goes on.
pub fn run_pool<T: PoolJob>(
    jobs: &[T],
    options: &PoolOptions,
    run_one: impl Fn(&T, Slot, &dyn Fn(TestEvent)) + Sync,
    cancelled: &(dyn Fn() -> bool + Sync),
    events: &Sender<TestEvent>,
) {
    let workers = options.workers.clamp(1, jobs.len().max(1));
    // Asked once per job: the queue scans them under its lock on every hand-out.
    let constraints = jobs.iter().map(PoolJob::constraint).collect();
    let queue = SharedQueue::new(Queue::new(
        constraints,
        workers,
        options.group_limits.clone(),
        options.max_failures,
    ));
    let work = |worker| {
        let (queue, run_one) = (&queue, &run_one);
        move || {
            while let Some(job) = queue.take_next(cancelled) {
                run_guarded(&jobs[job], Slot { worker, job }, run_one, queue, events);
                queue.release(job);
            }
        }
    };
    std::thread::scope(|scope| {
        // A system out of threads must not lose the run: it goes on with the workers that
        // could start, or on this thread if none could.
        let started = (0..workers)
            .take_while(|&worker| spawn_worker(scope, work(worker)).is_ok())
            .count();
        if started < workers {
            let _ = events.send(TestEvent::Note {
                message: format!(
                    "only {started} of {workers} worker threads could be started (the system \
                     is out of threads); the run goes on with {}",
                    started.max(1)
                ),
            });
        }
        if started == 0 {
            work(0)();
        }
    });
    for index in queue.not_started() {
        for id in jobs[index].test_ids() {
            let _ = events.send(TestEvent::TestSkipped {
                id,
                reason: SkipReason::NotStarted,
            });
        }
    }
}

/// Start one worker thread in `scope`.
fn spawn_worker<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    work: impl FnOnce() + Send + 'scope,
) -> std::io::Result<()> {
    #[cfg(test)]
    if tests::THREADS_LEFT.with(|left| left.get().is_some_and(|n| n == 0)) {
        return Err(std::io::Error::other("no thread left (test)"));
    }
    #[cfg(test)]
    tests::THREADS_LEFT.with(|left| left.set(left.get().map(|n| n - 1)));
    std::thread::Builder::new()
        .name("worker".into())
        .spawn_scoped(scope, work)
        .map(drop)
}

/// Run one job, counting its failures towards `--maxfail` as they happen (even in the middle
/// of a batch), and turning a panic into results for the tests it left without one.
fn run_guarded<T: PoolJob>(
    job: &T,
    slot: Slot,
    run_one: &(impl Fn(&T, Slot, &dyn Fn(TestEvent)) + Sync),
    queue: &SharedQueue,
    events: &Sender<TestEvent>,
) {
    let finished = RefCell::new(HashSet::new());
    let emit = |event: TestEvent| {
        if let TestEvent::TestFinished(result) = &event {
            finished.borrow_mut().insert(result.id.clone());
            if result.is_failure() {
                queue.record_failure();
            }
        }
        // A send only fails when the reporter is gone; the run still completes.
        let _ = events.send(event);
    };
    let Err(panic) = catch_unwind(AssertUnwindSafe(|| run_one(job, slot, &emit))) else {
        return;
    };
    let message = crate::panics::panic_message(panic.as_ref());
    for id in job.test_ids() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::sync::Barrier;

    thread_local! {
        /// How many more worker threads may start, when a test limits them.
        pub(super) static THREADS_LEFT: Cell<Option<usize>> = const { Cell::new(None) };
    }

    #[test]
    fn a_run_goes_on_with_the_threads_that_could_start() {
        for threads in [0, 1] {
            THREADS_LEFT.with(|left| left.set(Some(threads)));
            let items = ["a", "b", "c", "d"];
            let options = PoolOptions {
                workers: 3,
                ..Default::default()
            };
            let events = collect(&items, options, |s| result(s, true));
            THREADS_LEFT.with(|left| left.set(None));
            let finished = events
                .iter()
                .filter(|e| matches!(e, TestEvent::TestFinished(_)))
                .count();
            assert_eq!(finished, 4, "with {threads} thread(s)");
            let note = events.iter().find_map(|e| match e {
                TestEvent::Note { message } => Some(message.clone()),
                _ => None,
            });
            assert!(note.is_some_and(|n| n.contains(&format!("only {threads} of 3"))));
        }
    }

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
    ) -> impl Fn(&&'static str, Slot, &dyn Fn(TestEvent)) + Sync {
        move |s, _, emit| {
            emit(TestEvent::TestStarted {
                id: id(s),
                placement: None,
            });
            emit(TestEvent::TestFinished(run(s)));
        }
    }

    /// Test jobs are names: `g…` belong to group 0, `big` takes two slots.
    impl PoolJob for &'static str {
        fn test_ids(&self) -> Vec<TestId> {
            vec![id(self)]
        }
        fn constraint(&self) -> Constraint {
            Constraint {
                group: self.starts_with('g').then_some(0),
                slots: if *self == "big" { 2 } else { 1 },
            }
        }
    }

    fn collect(
        items: &[&'static str],
        options: PoolOptions,
        run: impl Fn(&&'static str) -> TestResult + Sync,
    ) -> Vec<TestEvent> {
        let (tx, rx) = crossbeam_channel::unbounded();
        run_pool(items, &options, single(run), &|| false, &tx);
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
    fn jobs_running_at_once_hold_different_slots() {
        // Both jobs wait for each other, so they run at once, each on a worker of its own; the
        // pool has no more workers than jobs.
        let barrier = Barrier::new(2);
        let slots = std::sync::Mutex::new(Vec::new());
        let (tx, _rx) = crossbeam_channel::unbounded();
        let options = PoolOptions {
            workers: 5,
            ..Default::default()
        };
        let run = |s: &&'static str, slot: Slot, emit: &dyn Fn(TestEvent)| {
            barrier.wait();
            slots.lock().unwrap().push((*s, slot));
            emit(TestEvent::TestFinished(result(s, true)));
        };
        run_pool(&["x", "y"], &options, run, &|| false, &tx);
        let mut slots = slots.into_inner().unwrap();
        slots.sort_by_key(|(s, _)| *s);
        let jobs: Vec<_> = slots.iter().map(|(s, slot)| (*s, slot.job)).collect();
        assert_eq!(jobs, [("x", 0), ("y", 1)]);
        let mut workers: Vec<_> = slots.iter().map(|(_, slot)| slot.worker).collect();
        workers.sort();
        assert_eq!(workers, [0, 1]);
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
                TestEvent::TestFinished(r) => Some((r.id.name.clone(), r.outcome().clone())),
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
        run_pool(&["a", "b", "c"], &options, single(run), &cancelled, &tx);
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
        run_pool(&items, &options, single(run), &|| false, &tx);
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
                TestEvent::TestStarted { id, .. } => Some(id.name.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(started, ["c", "a", "b"]);
    }
}
