//! What a run of the selection would take with N workers, predicted from the timing history
//! (`runner predict`), so that a user can choose `-n` without running the suite ten times.
//!
//! The pool is simulated as it runs: tests start in the plan's order (failed first, unknown
//! next, then longest first by default), each as soon as a worker is free. Each test is its
//! cost with a core to itself, from history (wall w and CPU c; for the rest of w it waits),
//! plus a start-up cost per test (starting its process and the runner's own work, on CPU).
//! While tests run side by side their CPU demand is the sum of their shares c/w. When it
//! exceeds the cores, the kernel shares the cores among them: each test's CPU part stretches by
//! a common factor, chosen so that together they use exactly the cores, and its waiting does
//! not stretch. So CPU-bound tests gain nothing from more workers than cores, and tests that
//! wait gain until the waiting is all overlapped. The simulation steps from one test's end to
//! the next.

use std::time::Duration;

use serde::Serialize;

use crate::model::TestId;
use crate::plan::history::History;
use crate::plan::sizing::MAX_PER_CORE;

/// What the history does not see, per test, on CPU: the runner's work between one test's end
/// and the next one's start on a worker (a test's duration already includes starting its
/// process). Measured in serial runs of the benchmark's workloads: 0.1 to 0.3 ms.
pub const START_COST: Duration = Duration::from_micros(300);
/// A test with no history, in a selection where no test has any.
const UNKNOWN_WALL: Duration = Duration::from_millis(100);

/// One test as the simulation sees it: seconds with a core to itself, and the part on CPU.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub wall: f64,
    pub cpu: f64,
}

/// The predicted wall time with one worker count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    pub workers: usize,
    /// Seconds from the first test started to the last finished.
    pub wall: f64,
    /// The one-worker prediction over this one.
    pub speedup: f64,
}

/// The predictions for a selection, and what they rest on.
#[derive(Debug, Clone, Serialize)]
pub struct Forecast {
    pub cores: usize,
    pub tests: usize,
    /// Tests with no history at all: counted at [`Forecast::default`].
    pub without_history: usize,
    /// Tests with durations but no CPU time: counted at the selection's CPU share.
    pub without_cpu: usize,
    /// What a test without history is counted at: the mean of the others, or 100 ms of CPU
    /// when no test has history.
    pub default: Estimate,
    pub predictions: Vec<Prediction>,
}

/// Predict the wall time of `tests` (in the order they would start) for 1, 2, 4, ... up to
/// [`MAX_PER_CORE`] x `cores` workers, plus the counts in `also` (e.g. what `-n auto` picks).
pub fn forecast(history: &History, tests: &[TestId], cores: usize, also: &[usize]) -> Forecast {
    let share = cpu_share(history, tests);
    let known: Vec<Option<Estimate>> = tests
        .iter()
        .map(|id| measured(history, id, share))
        .collect();
    let count = known.iter().flatten().count();
    let default = match count {
        0 => Estimate {
            wall: UNKNOWN_WALL.as_secs_f64(),
            cpu: UNKNOWN_WALL.as_secs_f64(),
        },
        n => {
            let wall = known.iter().flatten().map(|e| e.wall).sum::<f64>() / n as f64;
            Estimate {
                wall,
                cpu: wall * share,
            }
        }
    };
    let estimates: Vec<Estimate> = known
        .iter()
        .map(|known| with_start_cost(known.unwrap_or(default)))
        .collect();
    let with_cpu = tests.iter().filter(|id| history.cost(id).is_some()).count();
    let serial = simulate(&estimates, 1, cores);
    let predictions = worker_counts(cores, tests.len(), also)
        .into_iter()
        .map(|workers| {
            let wall = simulate(&estimates, workers, cores);
            Prediction {
                workers,
                wall,
                speedup: if wall > 0.0 { serial / wall } else { 1.0 },
            }
        })
        .collect();
    Forecast {
        cores,
        tests: tests.len(),
        without_history: tests.len() - count,
        without_cpu: count - with_cpu,
        default,
        predictions,
    }
}

/// What the history knows of a test: its cost with a core to itself, or else its recent
/// durations, with `share` of them taken to be on CPU.
fn measured(history: &History, id: &TestId, share: f64) -> Option<Estimate> {
    if let Some(cost) = history.cost(id) {
        return Some(Estimate {
            wall: cost.wall.as_secs_f64(),
            cpu: cost.cpu.as_secs_f64(),
        });
    }
    history.expected(id).map(|wall| Estimate {
        wall: wall.as_secs_f64(),
        cpu: wall.as_secs_f64() * share,
    })
}

/// Summed CPU / summed wall of the tests with CPU history; all CPU when none has it (the
/// cautious guess: it predicts no gain beyond the cores).
fn cpu_share(history: &History, tests: &[TestId]) -> f64 {
    let (wall, cpu) = tests
        .iter()
        .filter_map(|id| history.cost(id))
        .fold((0.0, 0.0), |(w, c), cost| {
            (w + cost.wall.as_secs_f64(), c + cost.cpu.as_secs_f64())
        });
    if wall > 0.0 {
        (cpu / wall).min(1.0)
    } else {
        1.0
    }
}

fn with_start_cost(estimate: Estimate) -> Estimate {
    let start = START_COST.as_secs_f64();
    Estimate {
        wall: estimate.wall + start,
        cpu: estimate.cpu.min(estimate.wall) + start,
    }
}

/// 1, 2, 4, ... up to [`MAX_PER_CORE`] x cores, the cores themselves and `also`, none beyond
/// the number of tests (the pool never runs more workers than jobs).
fn worker_counts(cores: usize, tests: usize, also: &[usize]) -> Vec<usize> {
    let top = MAX_PER_CORE * cores.max(1);
    let powers = std::iter::successors(Some(1usize), |n| Some(n * 2)).take_while(|n| *n <= top);
    let mut counts: Vec<usize> = powers
        .chain([cores.max(1), top])
        .chain(also.iter().copied())
        .filter(|n| *n >= 1 && *n <= tests.max(1))
        .collect();
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// Seconds the pool takes to run `tests` in order on `workers` workers and `cores` cores.
pub fn simulate(tests: &[Estimate], workers: usize, cores: usize) -> f64 {
    /// One running test: uncontended seconds left, and the share of them on CPU.
    struct Running {
        left: f64,
        share: f64,
    }
    let mut queue = tests.iter();
    let mut running: Vec<Running> = Vec::with_capacity(workers);
    let mut clock = 0.0;
    loop {
        while running.len() < workers.max(1) {
            let Some(test) = queue.next() else { break };
            let share = if test.wall > 0.0 {
                (test.cpu / test.wall).clamp(0.0, 1.0)
            } else {
                1.0
            };
            running.push(Running {
                left: test.wall,
                share,
            });
        }
        if running.is_empty() {
            return clock;
        }
        let shares: Vec<f64> = running.iter().map(|r| r.share).collect();
        let stretch = cpu_stretch(&shares, cores.max(1) as f64);
        // How much slower than alone a test runs: its CPU part stretched, its waiting not.
        let slowdown = |r: &Running| 1.0 + r.share * (stretch - 1.0);
        let step = running
            .iter()
            .map(|r| r.left * slowdown(r))
            .fold(f64::INFINITY, f64::min);
        clock += step;
        for test in &mut running {
            test.left -= step / slowdown(test);
        }
        running.retain(|r| r.left > 1e-12);
    }
}

/// The factor by which the CPU part of every running test stretches: 1 while their shares sum
/// to no more than the cores; beyond that the s for which the tests' CPU rates, each
/// share / (1 + share x (s - 1)), sum to exactly the cores (found by bisection: the sum falls
/// as s grows).
fn cpu_stretch(shares: &[f64], cores: f64) -> f64 {
    let demand: f64 = shares.iter().sum();
    if demand <= cores {
        return 1.0;
    }
    let used = |extra: f64| -> f64 { shares.iter().map(|f| f / (1.0 + f * extra)).sum() };
    // At extra = tests / cores every rate is below 1 / extra, so the sum is below the cores.
    let (mut low, mut high) = (0.0, shares.len() as f64 / cores);
    for _ in 0..60 {
        let mid = (low + high) / 2.0;
        if used(mid) > cores {
            low = mid;
        } else {
            high = mid;
        }
    }
    1.0 + (low + high) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::history::Observation;
    use std::collections::HashSet;

    fn cpu_bound(secs: f64) -> Estimate {
        Estimate {
            wall: secs,
            cpu: secs,
        }
    }

    fn sleeping(secs: f64) -> Estimate {
        Estimate {
            wall: secs,
            cpu: 0.0,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn cpu_bound_tests_gain_nothing_beyond_the_cores() {
        let tests = [cpu_bound(1.0); 4];
        assert!(close(simulate(&tests, 1, 2), 4.0));
        assert!(close(simulate(&tests, 2, 2), 2.0));
        assert!(close(simulate(&tests, 4, 2), 2.0));
        assert!(close(simulate(&tests, 8, 2), 2.0));
    }

    #[test]
    fn sleeping_tests_scale_with_workers() {
        let tests = [sleeping(1.0); 8];
        assert!(close(simulate(&tests, 1, 2), 8.0));
        assert!(close(simulate(&tests, 2, 2), 4.0));
        assert!(close(simulate(&tests, 4, 2), 2.0));
        assert!(close(simulate(&tests, 8, 2), 1.0));
        assert!(close(simulate(&tests, 16, 2), 1.0));
    }

    #[test]
    fn the_cores_are_shared_and_never_overused() {
        // Four tests of 1 s, half on CPU, all at once on one core: 2 s of CPU needs 2 s.
        let half = Estimate {
            wall: 1.0,
            cpu: 0.5,
        };
        assert!(close(simulate(&[half; 4], 4, 1), 2.0));
        // Two of them fit on two cores untouched.
        assert!(close(simulate(&[half; 2], 2, 2), 1.0));
        // A sleeper beside a CPU-bound test on one core: neither slows the other.
        assert!(close(simulate(&[cpu_bound(1.0), sleeping(1.0)], 2, 1), 1.0));
    }

    #[test]
    fn tests_start_in_order_as_workers_free_up() {
        // Longest first: 3 | 1+1+1 on two workers.
        let lpt = [sleeping(3.0), sleeping(1.0), sleeping(1.0), sleeping(1.0)];
        assert!(close(simulate(&lpt, 2, 2), 3.0));
        // Longest last: 1+1 | 1+3.
        let late = [sleeping(1.0), sleeping(1.0), sleeping(1.0), sleeping(3.0)];
        assert!(close(simulate(&late, 2, 2), 4.0));
        assert!(close(simulate(&[], 4, 2), 0.0));
    }

    fn id(name: &str) -> TestId {
        TestId {
            binary_id: "b".into(),
            name: name.into(),
        }
    }

    fn history(entries: &[(&str, u64, Option<u64>)]) -> History {
        let observations: Vec<Observation> = entries
            .iter()
            .map(|(name, wall_ms, cpu_ms)| Observation {
                id: id(name),
                duration: Duration::from_millis(*wall_ms),
                failed: false,
                batched: false,
                cpu: cpu_ms.map(Duration::from_millis),
                panicked: None,
            })
            .collect();
        let mut history = History::default();
        history.record(&observations, &HashSet::new());
        history
    }

    #[test]
    fn forecast_rows_defaults_and_counts() {
        let h = history(&[
            ("a", 1000, Some(0)),
            ("b", 1000, Some(0)),
            ("c", 1000, None),
        ]);
        let ids = [id("a"), id("b"), id("c"), id("new")];
        let forecast = forecast(&h, &ids, 1, &[3]);
        assert_eq!((forecast.without_history, forecast.without_cpu), (1, 1));
        // "new" is counted at the mean of the others; "c" at their CPU share (none).
        assert!(close(forecast.default.wall, 1.0) && close(forecast.default.cpu, 0.0));
        let rows: Vec<usize> = forecast.predictions.iter().map(|p| p.workers).collect();
        assert_eq!(rows, [1, 2, 3, 4], "1, 2, 4 = 4 x 1 core, and 3 as asked");
        let start = START_COST.as_secs_f64();
        let one = forecast.predictions[0];
        assert!(close(one.wall, 4.0 * (1.0 + start)) && close(one.speedup, 1.0));
        let four = forecast.predictions[3];
        assert!(close(four.wall, 1.0 + start), "{four:?}");
        assert!(close(four.speedup, 4.0));
    }

    #[test]
    fn no_history_at_all_is_counted_as_short_cpu_bound_tests() {
        let ids = [id("x"), id("y")];
        let forecast = forecast(&History::default(), &ids, 2, &[]);
        assert_eq!(forecast.without_history, 2);
        assert!(close(forecast.default.cpu, forecast.default.wall));
        let rows: Vec<usize> = forecast.predictions.iter().map(|p| p.workers).collect();
        assert_eq!(rows, [1, 2], "no more workers than tests");
    }
}
