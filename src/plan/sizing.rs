//! How many workers `-n auto` runs: as many as CPUs when the selected tests compute, more when
//! their history shows they mostly wait.
//!
//! The idea is pytest-xdist's: processes run in parallel only up to the number of cores, so
//! tests that burn CPU (CPU-bound) gain nothing from more workers than cores; tests that wait on
//! a sleep, a socket or a file (I/O-bound) leave their core idle, and more of them can run at
//! once than there are cores, up to what memory allows. From the history of the selection,
//! measured with a core per test: cpu_fraction = summed CPU / summed wall, and
//! workers = clamp(round(cores / cpu_fraction), cores, 4 x cores), then no more than memory
//! allows or than there are tests. It stays at the CPU count without CPU history for at least
//! half of the selection, and when the tests wait less than a second in all: too little waiting
//! to pay for the extra processes.

use std::time::Duration;

use serde::Serialize;

use crate::model::TestId;
use crate::plan::history::History;

/// At most this many workers per core, however little the tests compute.
pub const MAX_PER_CORE: usize = 4;
/// What one test process is assumed to need: conservative, so that the bound from free memory
/// errs on the side of fewer workers.
pub const MEMORY_PER_TEST_KIB: u64 = 512 * 1024;
/// Extra workers only overlap waiting: below this much of it in all, they cannot pay for
/// their process starts.
const MIN_WAITING: Duration = Duration::from_secs(1);

/// The choice `-n auto` made, and why; the run's header and its `run-started` event show it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AutoWorkers {
    /// The event has its own `workers` field.
    #[serde(skip)]
    pub workers: usize,
    /// The CPUs this process may use.
    pub cores: usize,
    /// Summed CPU / summed wall of the selected tests with CPU history; `None` when too few of
    /// them have it.
    pub cpu_fraction: Option<f64>,
    /// Seconds those tests spend waiting in all (wall − CPU).
    pub waiting: f64,
    pub tests_with_history: usize,
    pub tests: usize,
    /// What kept the count below round(cores / cpu_fraction), if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<AutoLimit>,
}

/// What bounded the workers of `-n auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AutoLimit {
    /// The tests wait too little in all for workers beyond the cores to pay.
    LittleWaiting,
    /// [`MAX_PER_CORE`] workers per core.
    PerCore,
    /// Free memory, at [`MEMORY_PER_TEST_KIB`] per test.
    Memory,
    /// No more workers than tests.
    Tests,
}

/// What the machine offers: its CPUs, and the memory left for new processes (KiB).
#[derive(Debug, Clone, Copy)]
pub struct Machine {
    pub cores: usize,
    pub memory_kib: Option<u64>,
}

impl Machine {
    /// This machine as it is now.
    pub fn detect() -> Machine {
        Machine {
            cores: crate::cli::available_cpus(),
            memory_kib: crate::process::available_memory_kib(),
        }
    }
}

/// The workers `-n auto` runs `tests` with, on `machine`, from their `history`.
pub fn auto_workers(history: &History, tests: &[TestId], machine: Machine) -> AutoWorkers {
    let cores = machine.cores.max(1);
    let costs: Vec<_> = tests.iter().filter_map(|id| history.cost(id)).collect();
    let wall: Duration = costs.iter().map(|c| c.wall).sum();
    let cpu: Duration = costs.iter().map(|c| c.cpu).sum();
    let waiting: Duration = costs.iter().map(|c| c.wall.saturating_sub(c.cpu)).sum();
    let mut choice = AutoWorkers {
        workers: cores,
        cores,
        cpu_fraction: None,
        waiting: waiting.as_secs_f64(),
        tests_with_history: costs.len(),
        tests: tests.len(),
        limit: None,
    };
    if costs.is_empty() || costs.len() * 2 < tests.len() || wall.is_zero() {
        return choice;
    }
    // A test with threads of its own can use more than one core: CPU-bound all the same.
    let fraction = (cpu.as_secs_f64() / wall.as_secs_f64()).min(1.0);
    choice.cpu_fraction = Some(fraction);
    let wanted = (cores as f64 / fraction.max(1e-3)).round() as usize;
    if wanted <= cores {
        return choice;
    }
    if waiting < MIN_WAITING {
        choice.limit = Some(AutoLimit::LittleWaiting);
        return choice;
    }
    let memory = machine
        .memory_kib
        .map(|kib| (kib / MEMORY_PER_TEST_KIB) as usize);
    let caps = [
        (Some(MAX_PER_CORE * cores), AutoLimit::PerCore),
        (memory, AutoLimit::Memory),
        (Some(tests.len()), AutoLimit::Tests),
    ];
    let tightest = caps
        .into_iter()
        .filter_map(|(cap, why)| Some((cap?, why)))
        .min_by_key(|(cap, _)| *cap);
    choice.workers = match tightest {
        Some((cap, why)) if cap < wanted => {
            choice.limit = Some(why);
            cap.max(cores)
        }
        _ => wanted,
    };
    choice
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::history::Observation;
    use std::collections::HashSet;

    fn id(i: usize) -> TestId {
        TestId {
            binary_id: "b".into(),
            name: format!("t{i}"),
        }
    }

    /// `n` tests of `wall_ms` each, `cpu_ms` of it on CPU; the first `without` have no history.
    fn selection(n: usize, without: usize, wall_ms: u64, cpu_ms: u64) -> (History, Vec<TestId>) {
        let ids: Vec<TestId> = (0..n).map(id).collect();
        let observations: Vec<Observation> = ids[without..]
            .iter()
            .map(|id| Observation {
                id: id.clone(),
                duration: Duration::from_millis(wall_ms),
                failed: false,
                batched: false,
                cpu: Some(Duration::from_millis(cpu_ms)),
                panicked: None,
            })
            .collect();
        let mut history = History::default();
        history.record(&observations, &HashSet::new());
        (history, ids)
    }

    fn machine(cores: usize) -> Machine {
        Machine {
            cores,
            memory_kib: None,
        }
    }

    #[test]
    fn cpu_bound_tests_get_one_worker_per_core() {
        let (history, ids) = selection(40, 0, 200, 190);
        let choice = auto_workers(&history, &ids, machine(2));
        assert_eq!((choice.workers, choice.limit), (2, None));
        assert!((choice.cpu_fraction.unwrap() - 0.95).abs() < 1e-9);
    }

    #[test]
    fn waiting_tests_get_cores_over_the_cpu_fraction_at_most_four_per_core() {
        // 25% CPU: round(2 / 0.25) = 8.
        let (history, ids) = selection(40, 0, 400, 100);
        assert_eq!(auto_workers(&history, &ids, machine(2)).workers, 8);
        // 40% CPU: round(2 / 0.4) = 5.
        let (history, ids) = selection(40, 0, 500, 200);
        let choice = auto_workers(&history, &ids, machine(2));
        assert_eq!((choice.workers, choice.limit), (5, None));
        // 5% CPU would be 40 workers: four per core.
        let (history, ids) = selection(40, 0, 1000, 50);
        let choice = auto_workers(&history, &ids, machine(2));
        assert_eq!(
            (choice.workers, choice.limit),
            (8, Some(AutoLimit::PerCore))
        );
    }

    #[test]
    fn memory_and_the_number_of_tests_bound_it_but_never_below_the_cores() {
        let (history, ids) = selection(40, 0, 1000, 50);
        let tight = Machine {
            cores: 2,
            memory_kib: Some(3 * MEMORY_PER_TEST_KIB),
        };
        let choice = auto_workers(&history, &ids, tight);
        assert_eq!((choice.workers, choice.limit), (3, Some(AutoLimit::Memory)));
        let starved = Machine {
            memory_kib: Some(MEMORY_PER_TEST_KIB / 2),
            ..tight
        };
        assert_eq!(auto_workers(&history, &ids, starved).workers, 2);
        let (history, ids) = selection(5, 0, 1000, 50);
        let choice = auto_workers(&history, &ids, machine(2));
        assert_eq!((choice.workers, choice.limit), (5, Some(AutoLimit::Tests)));
    }

    #[test]
    fn too_little_history_or_waiting_stays_at_the_cores() {
        // 11 of 24 tests with history: fewer than half.
        let (history, ids) = selection(24, 13, 1000, 50);
        let choice = auto_workers(&history, &ids, machine(2));
        assert_eq!((choice.workers, choice.cpu_fraction), (2, None));
        assert_eq!((choice.tests_with_history, choice.tests), (11, 24));
        let (history, ids) = selection(24, 12, 1000, 50);
        assert_eq!(auto_workers(&history, &ids, machine(2)).workers, 8);
        // No history at all.
        let none = auto_workers(&History::default(), &ids, machine(3));
        assert_eq!((none.workers, none.cpu_fraction), (3, None));
        // Four 2 ms tests that wait half the time: 4 ms of waiting is nothing to overlap.
        let (history, ids) = selection(4, 0, 2, 1);
        let choice = auto_workers(&history, &ids, machine(2));
        assert_eq!(
            (choice.workers, choice.limit),
            (2, Some(AutoLimit::LittleWaiting))
        );
    }

    #[test]
    fn the_event_form_names_the_reason() {
        let (history, ids) = selection(40, 0, 1000, 50);
        let json = serde_json::to_value(auto_workers(&history, &ids, machine(2))).unwrap();
        assert_eq!(json["cores"], 2);
        assert_eq!(json["limit"], "per-core");
        assert_eq!(json["tests_with_history"], 40);
        assert!(json.get("workers").is_none());
    }
}
