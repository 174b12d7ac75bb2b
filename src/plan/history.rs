//! Timing history: each test's recent durations, CPU times and last outcome, kept between runs
//! in the target directory, so the scheduler can start long tests first, `--lf`/`--ff` know
//! what failed, and `-n auto` and `runner predict` know which tests compute and which wait.
//!
//! Reading and writing the file (atomically, under a lock, any version) is `file`'s part; each
//! binary's records are parsed only when a run looks into them (`lazy`).

mod file;
mod lazy;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::TestId;

const FORMAT_VERSION: u32 = 2;
/// Durations kept per test: enough to smooth out noise, few enough to follow real changes.
const DURATIONS_KEPT: usize = 5;
/// A test not seen for this many runs that listed its binary is forgotten.
const RUNS_KEPT: u64 = 30;
/// A binary none of whose tests ran for this many runs of any workspace is forgotten: one
/// target directory may serve many workspaces (a global `CARGO_TARGET_DIR`), whose runs must
/// not push each other's tests out, but a binary deleted for good must go some day.
const BINARY_RUNS_KEPT: u64 = 1000;
/// No test takes a week: a recorded duration beyond this (or negative, or not a number) is
/// damage, and is dropped rather than trusted.
const LONGEST_CREDIBLE_SECS: f64 = 7.0 * 24.0 * 3600.0;

/// One binary's records, by test name.
type Tests = BTreeMap<String, TestRecord>;

/// The tests' records, by binary id.
type Records = BTreeMap<String, lazy::Binary>;

/// A binary none of whose tests this run listed is checked for age (which parses it) only on
/// every this many runs: the check costs what the lazy records save.
const AGE_CHECK_EVERY: u64 = 50;

#[derive(Debug, Clone, Default, Serialize)]
pub struct History {
    version: u32,
    /// How many runs have been recorded.
    runs: u64,
    binaries: Records,
    /// The run after which the timings snapshot (`partition::timings`) was last made equal to
    /// this history: while it is the run before this one's, only the binaries this run
    /// changed need computing again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snapshot_run: Option<u64>,
    /// The version of the file this was read from, if it was: while the file is unchanged,
    /// the end of the run folds its results into this copy instead of reading it again.
    #[serde(skip)]
    source: Option<crate::files::Identity>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TestRecord {
    /// Most recent last, in seconds, each in its own process.
    durations: Vec<f64>,
    /// The same, run inside a batch: no process start-up, so much shorter for tiny tests.
    #[serde(default)]
    batched: Vec<f64>,
    /// (wall, CPU) seconds of recent runs in its own process that had a core to itself (see
    /// [`Observation::cpu`]), most recent last. Files written before CPU times were kept have
    /// none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    cpu: Vec<(f64, f64)>,
    failed: bool,
    /// It panicked on its way to passing in a run since its last failure (a panic caught by
    /// `#[should_panic]`, a joined thread, `catch_unwind`): see `run::backtraces`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    panicked: bool,
    /// The run number that last ran this test.
    last_run: u64,
}

impl TestRecord {
    /// See [`History::expected`].
    fn expected(&self) -> Option<Duration> {
        mean(&self.durations).or_else(|| mean(&self.batched))
    }

    /// Drop durations no test could have had; returns how many were dropped.
    fn drop_incredible(&mut self) -> usize {
        let credible =
            |secs: &f64| secs.is_finite() && (0.0..=LONGEST_CREDIBLE_SECS).contains(secs);
        let before = self.durations.len() + self.batched.len() + self.cpu.len();
        self.durations.retain(credible);
        self.batched.retain(credible);
        self.cpu
            .retain(|(wall, cpu)| credible(wall) && credible(cpu));
        before - self.durations.len() - self.batched.len() - self.cpu.len()
    }
}

/// What a test costs when it has a core to itself: its wall time, and the part of it spent on
/// a CPU (the rest it waits: on a sleep, a socket, a file, a child).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    pub wall: Duration,
    pub cpu: Duration,
}

/// What one run contributes: every test that ran, its duration and whether it failed.
#[derive(Debug, Clone)]
pub struct Observation {
    pub id: TestId,
    pub duration: Duration,
    pub failed: bool,
    /// Measured inside a batch rather than in its own process.
    pub batched: bool,
    /// The test's CPU time, when it ran in its own process with a core to itself; `None` in a
    /// batch (the process's CPU time is the whole chunk's) and in a run that oversubscribed
    /// the cores (its wall time includes waiting for a core, which would look like I/O).
    pub cpu: Option<Duration>,
    /// Whether its output showed a panic; `None` where the output was not seen (a passing
    /// test inside a batch: libtest keeps it).
    pub panicked: Option<bool>,
}

impl History {
    fn record_of(&self, id: &TestId) -> Option<&TestRecord> {
        self.tests_of(&id.binary_id)?.get(&id.name)
    }

    fn tests_of(&self, binary_id: &str) -> Option<&Tests> {
        Some(self.binaries.get(binary_id)?.tests(binary_id))
    }

    /// The expected duration of a test in its own process: the mean of its recent runs (or of
    /// its batched runs when it never ran alone).
    pub fn expected(&self, id: &TestId) -> Option<Duration> {
        self.record_of(id)?.expected()
    }

    /// Every test's expected duration in its own process ([`History::expected`]), by id.
    pub fn expected_all(&self) -> Vec<(TestId, Duration)> {
        (self.binaries.keys())
            .flat_map(|binary_id| self.expected_in(binary_id))
            .collect()
    }

    /// The expected duration of each test of one binary that has one.
    pub fn expected_in(&self, binary_id: &str) -> Vec<(TestId, Duration)> {
        let tests = self.tests_of(binary_id).into_iter().flatten();
        tests
            .filter_map(|(name, record)| Some((TestId::new(binary_id, name), record.expected()?)))
            .collect()
    }

    /// The binaries the history holds.
    pub fn binary_ids(&self) -> impl Iterator<Item = &str> {
        self.binaries.keys().map(String::as_str)
    }

    /// The binaries whose records this history changed since it was read.
    pub fn changed_binaries(&self) -> impl Iterator<Item = &str> {
        (self.binaries.iter())
            .filter(|(_, binary)| binary.changed())
            .map(|(id, _)| id.as_str())
    }

    /// Whether the timings snapshot was equal to this history before its last run was folded
    /// in: then only the binaries that run changed need computing again.
    pub fn snapshot_was_current(&self) -> bool {
        self.snapshot_run.map(|run| run + 1) == Some(self.runs)
    }

    /// The timings snapshot is now equal to this history.
    pub fn mark_snapshot(&mut self) {
        self.snapshot_run = Some(self.runs);
    }

    /// What the test costs with a core to itself: the means of its recent (wall, CPU) pairs;
    /// `None` when no run measured its CPU time.
    pub fn cost(&self, id: &TestId) -> Option<Cost> {
        let pairs = &self.record_of(id)?.cpu;
        let walls: Vec<f64> = pairs.iter().map(|(wall, _)| *wall).collect();
        let cpus: Vec<f64> = pairs.iter().map(|(_, cpu)| *cpu).collect();
        Some(Cost {
            wall: mean(&walls)?,
            cpu: mean(&cpus)?,
        })
    }

    /// The expected duration of a test inside a batch, falling back to its own-process time.
    pub fn expected_batched(&self, id: &TestId) -> Option<Duration> {
        let record = self.record_of(id)?;
        mean(&record.batched).or_else(|| mean(&record.durations))
    }

    /// Whether the test failed the last time it ran.
    pub fn failed_last_time(&self, id: &TestId) -> bool {
        self.record_of(id).is_some_and(|r| r.failed)
    }

    /// `Some(panicked)` when the test `name` of `binary_id` passed the last time it ran:
    /// whether it panicked on its way then or in a passing run since its last failure (as far
    /// as its output was seen); `None` when it failed or never ran.
    pub fn last_pass(&self, binary_id: &str, name: &str) -> Option<bool> {
        let record = self.tests_of(binary_id)?.get(name)?;
        (!record.failed).then_some(record.panicked)
    }

    /// Fold one run in. `listed` holds every test that exists now, in the binaries that were
    /// listed, so that tests deleted from those binaries are pruned.
    pub fn record(&mut self, observations: &[Observation], listed: &HashSet<TestId>) {
        self.version = FORMAT_VERSION;
        self.runs += 1;
        let run = self.runs;
        for observation in observations {
            let id = &observation.id;
            let binary = self.binaries.entry(id.binary_id.clone()).or_default();
            let record = (binary.tests_mut(&id.binary_id))
                .entry(id.name.clone())
                .or_default();
            let list = if observation.batched {
                &mut record.batched
            } else {
                &mut record.durations
            };
            let wall = observation.duration.as_secs_f64();
            keep_recent(list, wall);
            if let Some(cpu) = observation.cpu.filter(|_| !observation.batched) {
                keep_recent(&mut record.cpu, (wall, cpu.as_secs_f64()));
            }
            record.failed = observation.failed;
            // Sticky until a failure: a property test panics on some inputs and not others.
            if let Some(panicked) = observation.panicked {
                record.panicked |= panicked;
            }
            if observation.failed {
                record.panicked = false;
            }
            record.last_run = run;
        }
        let listed_binaries: HashSet<&str> =
            listed.iter().map(|id| id.binary_id.as_str()).collect();
        let check_age = run % AGE_CHECK_EVERY == 0;
        for (binary_id, binary) in &mut self.binaries {
            // Only a run that listed the binary says anything about its tests.
            if !listed_binaries.contains(binary_id.as_str()) {
                continue;
            }
            binary.tests_mut(binary_id).retain(|name, record| {
                let id = TestId {
                    binary_id: binary_id.clone(),
                    name: name.clone(),
                };
                listed.contains(&id) && run - record.last_run < RUNS_KEPT
            });
        }
        self.binaries.retain(|binary_id, binary| {
            if !(check_age || binary.changed()) {
                return true;
            }
            let tests = binary.tests(binary_id);
            let latest = tests.values().map(|record| record.last_run).max();
            latest.is_some_and(|latest| run - latest < BINARY_RUNS_KEPT)
        });
    }
}

#[cfg(test)]
impl Observation {
    /// A run of `id` in its own process that took `duration`, without a CPU time or output.
    pub fn alone(id: TestId, duration: Duration, failed: bool) -> Observation {
        Observation {
            id,
            duration,
            failed,
            batched: false,
            cpu: None,
            panicked: None,
        }
    }
}

#[cfg(test)]
impl History {
    /// The history of one run that saw `observations`.
    pub fn of(observations: &[Observation]) -> History {
        let mut history = History::default();
        history.record(observations, &HashSet::new());
        history
    }
}

/// Add `value` as the most recent, keeping the last [`DURATIONS_KEPT`].
fn keep_recent<T>(list: &mut Vec<T>, value: T) {
    list.push(value);
    let excess = list.len().saturating_sub(DURATIONS_KEPT);
    list.drain(..excess);
}

/// The mean of credible durations (see [`LONGEST_CREDIBLE_SECS`]).
fn mean(values: &[f64]) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    Some(Duration::from_secs_f64(
        mean.clamp(0.0, LONGEST_CREDIBLE_SECS),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn id(name: &str) -> TestId {
        TestId::new("bin", name)
    }

    pub(super) fn observe(name: &str, ms: u64, failed: bool) -> Observation {
        Observation::alone(id(name), Duration::from_millis(ms), failed)
    }

    #[test]
    fn batched_and_alone_durations_are_kept_apart() {
        let mut history = History::default();
        let listed = HashSet::new();
        let mut batched = observe("a", 1, false);
        batched.batched = true;
        history.record(&[batched], &listed);
        assert_eq!(history.expected(&id("a")), Some(Duration::from_millis(1)));
        history.record(&[observe("a", 9, false)], &listed);
        assert_eq!(history.expected(&id("a")), Some(Duration::from_millis(9)));
        assert_eq!(
            history.expected_batched(&id("a")),
            Some(Duration::from_millis(1))
        );
    }

    #[test]
    fn deleted_tests_are_pruned_and_durations_bounded() {
        let mut history = History::default();
        let both: HashSet<TestId> = [id("a"), id("b")].into();
        for _ in 0..10 {
            history.record(&[observe("a", 10, false), observe("b", 10, false)], &both);
        }
        assert_eq!(
            history.tests_of("bin").unwrap()["a"].durations.len(),
            DURATIONS_KEPT
        );
        let only_a: HashSet<TestId> = [id("a")].into();
        history.record(&[observe("a", 10, false)], &only_a);
        assert!(!history.tests_of("bin").unwrap().contains_key("b"));
    }

    #[test]
    fn a_panic_while_passing_is_remembered_until_a_failure() {
        let mut history = History::default();
        let panicked = |failed, panicked| Observation {
            panicked,
            ..observe("a", 5, failed)
        };
        history.record(&[panicked(false, Some(true))], &HashSet::new());
        // A pass that did not panic (a property test's other inputs), or whose output was
        // not seen (a batch), keeps it.
        history.record(&[panicked(false, Some(false))], &HashSet::new());
        history.record(&[panicked(false, None)], &HashSet::new());
        assert_eq!(history.last_pass("bin", "a"), Some(true));
        history.record(&[panicked(true, Some(true))], &HashSet::new());
        assert_eq!(history.last_pass("bin", "a"), None);
        history.record(&[panicked(false, Some(false))], &HashSet::new());
        assert_eq!(history.last_pass("bin", "a"), Some(false));
    }

    #[test]
    fn runs_of_other_workspaces_do_not_age_a_binary_out() {
        let mut history = History::default();
        let mine: HashSet<TestId> = [id("a")].into();
        history.record(&[observe("a", 10, false)], &mine);
        let other = TestId::new("elsewhere", "x");
        let theirs: HashSet<TestId> = [other.clone()].into();
        let their_run = Observation {
            id: other,
            ..observe("x", 1, false)
        };
        // Another workspace sharing the target directory runs many times.
        for _ in 0..2 * RUNS_KEPT {
            history.record(std::slice::from_ref(&their_run), &theirs);
        }
        assert!(history.expected(&id("a")).is_some(), "{history:?}");
        // A run of its own binary that does not run it for long enough does forget it.
        for _ in 0..RUNS_KEPT {
            history.record(&[], &mine);
        }
        assert!(history.expected(&id("a")).is_none());
        // A binary no run lists any more goes in the end.
        let mut history = History::default();
        history.record(&[observe("a", 10, false)], &mine);
        for _ in 0..BINARY_RUNS_KEPT {
            history.record(std::slice::from_ref(&their_run), &theirs);
        }
        assert!(!history.binaries.contains_key("bin"));
    }

    #[test]
    fn a_binary_id_with_a_space_keeps_its_tests() {
        // A prebuilt binary's id is its file name, which may hold a space.
        let spaced = TestId {
            binary_id: "my tests".into(),
            name: "a".into(),
        };
        let observation = Observation {
            id: spaced.clone(),
            duration: Duration::from_millis(5),
            failed: true,
            batched: false,
            cpu: None,
            panicked: None,
        };
        let mut history = History::default();
        history.record(&[observation], &[spaced.clone()].into());
        history.record(&[], &[spaced.clone()].into());
        assert!(history.failed_last_time(&spaced), "pruned: {history:?}");
    }
}
