//! The worker pool: N threads take tests from one queue, in order, and stream events.
//!
//! Each worker thread runs one test at a time through the `run_one` function it is given (a
//! real process in production, a stub in tests), so N threads mean at most N test processes.
//! `-x`/`--maxfail` stop the queue under the same lock that hands out tests: once the failure
//! that reaches the limit is recorded, no further test starts; running ones finish.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::event::{Outcome, SkipReason, TestEvent, TestId, TestResult};

/// How the pool is shaped.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub workers: usize,
    pub max_failures: Option<usize>,
}

struct Queue {
    next: usize,
    failures: usize,
    stopped: bool,
}

/// Run `items` in order on `options.workers` threads; returns when every item is finished or
/// reported as not started.
///
/// `cancelled` is asked before each test starts; once it says yes, no further test starts.
/// A panic while running one test becomes that test's `InternalError` result: the other
/// results are kept and the run goes on.
pub fn run_pool<T, Id, Run>(
    items: &[T],
    options: PoolOptions,
    id_of: Id,
    run_one: Run,
    cancelled: &(dyn Fn() -> bool + Sync),
    events: &Sender<TestEvent>,
) where
    T: Sync,
    Id: Fn(&T) -> TestId + Sync,
    Run: Fn(&T, &Sender<TestEvent>) -> TestResult + Sync,
{
    let queue = Mutex::new(Queue {
        next: 0,
        failures: 0,
        stopped: false,
    });
    let workers = options.workers.clamp(1, items.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(index) = take_next(&queue, items.len(), cancelled) {
                    let item = &items[index];
                    // A send only fails when the reporter is gone; the run still completes.
                    let _ = events.send(TestEvent::TestStarted { id: id_of(item) });
                    let result = catch_unwind(AssertUnwindSafe(|| run_one(item, events)))
                        .unwrap_or_else(|panic| {
                            let message = panic_message(panic.as_ref());
                            let outcome = Outcome::InternalError { message };
                            TestResult::bare(id_of(item), outcome, Duration::ZERO)
                        });
                    if result.is_failure {
                        record_failure(&queue, options.max_failures);
                    }
                    let _ = events.send(TestEvent::TestFinished(result));
                }
            });
        }
    });
    let first_not_started = queue.lock().unwrap_or_else(|e| e.into_inner()).next;
    for item in &items[first_not_started.min(items.len())..] {
        let _ = events.send(TestEvent::TestSkipped {
            id: id_of(item),
            reason: SkipReason::NotStarted,
        });
    }
}

fn take_next(
    queue: &Mutex<Queue>,
    len: usize,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Option<usize> {
    let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
    if queue.stopped || queue.next >= len || cancelled() {
        return None;
    }
    queue.next += 1;
    Some(queue.next - 1)
}

/// The text a panic carried, if it was a string.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".to_string())
}

fn record_failure(queue: &Mutex<Queue>, max_failures: Option<usize>) {
    let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
    queue.failures += 1;
    if max_failures.is_some_and(|max| queue.failures >= max) {
        queue.stopped = true;
    }
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

    fn collect(
        items: &[&'static str],
        options: PoolOptions,
        run: impl Fn(&&'static str) -> TestResult + Sync,
    ) -> Vec<TestEvent> {
        let (tx, rx) = crossbeam_channel::unbounded();
        run_pool(items, options, |s| id(s), |s, _| run(s), &|| false, &tx);
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
                max_failures: None,
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
                max_failures: None,
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
                max_failures: None,
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
            max_failures: None,
        };
        let run = |s: &&str, _: &Sender<TestEvent>| {
            started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            result(s, true)
        };
        run_pool(&["a", "b", "c"], options, |s| id(s), run, &cancelled, &tx);
        drop(tx);
        let skipped = rx
            .iter()
            .filter(|e| matches!(e, TestEvent::TestSkipped { .. }))
            .count();
        assert_eq!(skipped, 2);
    }

    #[test]
    fn order_is_kept_with_one_worker() {
        let items = ["c", "a", "b"];
        let events = collect(
            &items,
            PoolOptions {
                workers: 1,
                max_failures: None,
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
