//! The events a run produces: the only contract between running tests and reporting them.
//!
//! Events are plain data and derive `Serialize`, so the JSON reporter writes each as one line.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::ListFailure;
pub use crate::model::TestId;
pub use crate::phases::Phases;
pub use crate::plan::partition::Shard;
pub use crate::plan::sizing::AutoWorkers;

pub use super::result::{
    Attempt, Outcome, OutputLogs, Placement, ResultPolicy, TestResult, Verdict,
};
pub use super::script::{ScriptReport, ScriptStatus};

/// Version of the JSON event stream; bumped when a field changes meaning or disappears.
pub const FORMAT_VERSION: u32 = 2;

/// What a pass is called when a run compares two: `serial` then `parallel` under `--compare`,
/// `process` then `batch` under `--compare-modes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PassLabel {
    Serial,
    Parallel,
    Process,
    Batch,
}

impl PassLabel {
    pub fn name(self) -> &'static str {
        match self {
            PassLabel::Serial => "serial",
            PassLabel::Parallel => "parallel",
            PassLabel::Process => "process",
            PassLabel::Batch => "batch",
        }
    }

    /// The first pass of a comparison: the one the second is measured against.
    pub fn is_baseline(self) -> bool {
        matches!(self, PassLabel::Serial | PassLabel::Process)
    }

    /// How a sentence says "in this pass": `alone (serial)`, `in parallel`.
    pub fn describe(self) -> &'static str {
        match self {
            PassLabel::Serial => "alone (serial)",
            PassLabel::Parallel => "in parallel",
            PassLabel::Process => "in its own process",
            PassLabel::Batch => "in a batch",
        }
    }
}

/// How a pass runs its tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunMode {
    /// One process per test.
    #[default]
    Process,
    /// Many tests of a binary per process.
    Batch,
    /// Some binaries batched, the others one process per test.
    Mixed,
}

impl RunMode {
    pub fn name(self) -> &'static str {
        match self {
            RunMode::Process => "process",
            RunMode::Batch => "batch",
            RunMode::Mixed => "mixed",
        }
    }

    /// How the human report says it.
    pub fn describe(self) -> &'static str {
        match self {
            RunMode::Process => "one process per test",
            RunMode::Batch => "batched, many tests per process",
            RunMode::Mixed => "some binaries batched",
        }
    }
}

/// Why a selected test was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    Ignored,
    /// Not started because `-x`/`--maxfail` stopped the run.
    NotStarted,
}

/// Counts and timings of a finished run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunStats {
    pub passed: usize,
    pub failed: usize,
    /// Not run: ignored, not started (-x, --maxfail, cancellation) or cancelled while running.
    pub skipped: usize,
    pub flaky: usize,
    pub cancelled: usize,
    pub workers: usize,
    /// The workers this run could keep busy: no more than its tests, and no more than its test
    /// groups' limits allow at once.
    pub usable_workers: usize,
    #[serde(serialize_with = "seconds")]
    pub wall: Duration,
    /// Sum of every test's own duration, as measured in this run (stretched when tests compete
    /// for the CPU, so it is not what a serial run would take).
    #[serde(serialize_with = "seconds")]
    pub summed: Duration,
    pub longest: Option<LongestTest>,
    /// The runner's own CPU time so far (children excluded): its overhead.
    #[serde(serialize_with = "seconds")]
    pub runner_cpu: Duration,
    /// The runner's peak resident memory, in KiB.
    pub peak_rss_kib: u64,
    /// This run's durations against the same tests' durations alone, where the history has
    /// them: how much the tests slowed each other down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contention: Option<Contention>,
    /// Tests whose outcome differed between the passes of a comparison (`--compare`,
    /// `--compare-modes`): they are not isolated from what runs beside them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_isolated: Vec<NotIsolated>,
    /// When the runner's own phases ended, since it started: where its fixed costs go.
    pub phases: Phases,
}

/// The tests of a run whose duration alone (with a core to itself) the history knows: their
/// summed durations in this run, and alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Contention {
    pub tests: usize,
    #[serde(serialize_with = "seconds")]
    pub measured: Duration,
    #[serde(serialize_with = "seconds")]
    pub alone: Duration,
}

impl Contention {
    /// How many times slower than alone the tests ran (1.0: no contention).
    pub fn factor(&self) -> f64 {
        ratio(self.measured, self.alone)
    }
}

/// A test that passed in one pass of a comparison and failed in another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotIsolated {
    #[serde(flatten)]
    pub id: TestId,
    /// The passes it passed in, and those it failed in.
    pub passed_in: Vec<PassLabel>,
    pub failed_in: Vec<PassLabel>,
}

impl NotIsolated {
    /// `passed alone (serial), failed in parallel`.
    pub fn describe(&self) -> String {
        let names = |labels: &[PassLabel]| {
            let mut names: Vec<&str> = labels.iter().map(|l| l.describe()).collect();
            names.dedup();
            names.join(" and ")
        };
        format!(
            "passed {}, failed {}",
            names(&self.passed_in),
            names(&self.failed_in)
        )
    }
}

/// The slowest test: the floor no amount of parallelism removes.
#[derive(Debug, Clone, Serialize)]
pub struct LongestTest {
    #[serde(flatten)]
    pub id: TestId,
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
}

impl RunStats {
    /// summed / wall: how many tests were in flight on average. Not a speedup: when tests
    /// compete for the CPU each one takes longer, and this grows with them.
    pub fn concurrency(&self) -> f64 {
        ratio(self.summed, self.wall)
    }

    /// The workers the figures are measured against: those the run could keep busy.
    pub fn usable(&self) -> usize {
        match self.usable_workers {
            0 => self.workers.max(1),
            n => n,
        }
    }

    /// concurrency / usable workers: how busy the workers that could be busy were.
    pub fn efficiency(&self) -> f64 {
        self.concurrency() / self.usable() as f64
    }

    /// The wall time no scheduler can beat: max(longest test, summed / usable workers), with
    /// the durations the tests take alone where the history has them (a congested run must
    /// not look ideal because its own stretched durations are the yardstick).
    pub fn ideal_wall(&self) -> Duration {
        let summed = match &self.contention {
            Some(c) => self.summed.saturating_sub(c.measured) + c.alone,
            None => self.summed,
        };
        let spread = summed / self.usable() as u32;
        let longest = self.longest.as_ref().map_or(Duration::ZERO, |l| l.duration);
        spread.max(longest)
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() {
        0.0
    } else {
        a.as_secs_f64() / b.as_secs_f64()
    }
}

/// Everything a reporter is told, in order.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum TestEvent {
    RunStarted {
        format_version: u32,
        /// The tests that will run (ignored ones left out), and the binaries they come from.
        tests: usize,
        binaries: usize,
        /// Selected tests skipped because they are ignored.
        ignored: usize,
        workers: usize,
        /// Which pass of a comparison this is (`--compare`, `--compare-modes`).
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<PassLabel>,
        mode: RunMode,
        /// Why `-n auto` chose `workers` (absent when the count was given).
        #[serde(skip_serializing_if = "Option::is_none")]
        auto: Option<AutoWorkers>,
        /// The shard this run is, under `--partition`, with the fingerprint of its partition.
        #[serde(skip_serializing_if = "Option::is_none")]
        partition: Option<Shard>,
    },
    /// Something the user should know that is not a test result.
    Note {
        message: String,
    },
    /// A binary whose tests could not be listed; none of its tests run.
    ListFailed(ListFailure),
    /// A setup script starts, before the first test that needs it.
    SetupScriptStarted {
        name: String,
        /// Its command line, shell-quoted.
        command: String,
    },
    /// A setup script ended; when it did not pass, the tests that need it fail without running.
    SetupScriptFinished(ScriptReport),
    TestStarted {
        #[serde(flatten)]
        id: TestId,
        /// Its worker slot and when it started (`worker`, `start`, `chunk` in JSON).
        #[serde(flatten)]
        placement: Option<Placement>,
    },
    TestSlow {
        #[serde(flatten)]
        id: TestId,
        #[serde(serialize_with = "seconds")]
        elapsed: Duration,
    },
    /// An attempt failed and the test will run again.
    TestRetry {
        #[serde(flatten)]
        id: TestId,
        #[serde(flatten)]
        failed: Attempt,
    },
    TestFinished(TestResult),
    TestSkipped {
        #[serde(flatten)]
        id: TestId,
        reason: SkipReason,
    },
    RunFinished(RunStats),
}

pub(super) fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e6)
}

/// [`seconds`] for a duration that may be missing (the field is skipped when it is).
pub(super) fn optional_seconds<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => seconds(d, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_event_is_flat_json() {
        let id = TestId {
            binary_id: "pkg::it".into(),
            name: "a::b".into(),
        };
        let outcome = Outcome::Crashed {
            signal: "SIGSEGV".into(),
        };
        let mut attempt = Attempt::bare(1, outcome, Duration::from_millis(1500));
        attempt.stderr = "x".into();
        let mut result = TestResult::new(id, vec![attempt], ResultPolicy::default(), false);
        result.rerun = Some("runner".into());
        let event = TestEvent::TestFinished(result);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "test-finished");
        assert_eq!(json["status"], "crashed");
        assert_eq!(json["signal"], "SIGSEGV");
        assert_eq!(json["binary_id"], "pkg::it");
        assert_eq!(json["duration"], 1.5);
    }

    #[test]
    fn run_started_says_why_auto_chose_its_workers_and_only_then() {
        let started = |auto| TestEvent::RunStarted {
            format_version: FORMAT_VERSION,
            tests: 24,
            binaries: 2,
            ignored: 0,
            workers: 8,
            label: None,
            mode: RunMode::Process,
            auto,
            partition: None,
        };
        let json = serde_json::to_value(started(None)).unwrap();
        assert!(json.get("auto").is_none(), "{json}");
        let auto = AutoWorkers {
            workers: 8,
            cores: 2,
            cpu_fraction: Some(0.12),
            waiting: 20.0,
            tests_with_history: 24,
            tests: 24,
            limit: None,
        };
        let json = serde_json::to_value(started(Some(auto))).unwrap();
        assert_eq!(json["workers"], 8);
        assert_eq!(json["auto"]["cpu_fraction"], 0.12);
        assert_eq!(json["auto"]["cores"], 2);
    }

    #[test]
    fn concurrency_efficiency_and_ideal() {
        let stats = RunStats {
            workers: 4,
            wall: Duration::from_secs(2),
            summed: Duration::from_secs(6),
            longest: Some(LongestTest {
                id: TestId {
                    binary_id: "b".into(),
                    name: "t".into(),
                },
                duration: Duration::from_secs(1),
            }),
            ..Default::default()
        };
        assert_eq!(stats.concurrency(), 3.0);
        assert_eq!(stats.efficiency(), 0.75);
        assert_eq!(stats.ideal_wall(), Duration::from_millis(1500));
        // Efficiency counts only the workers that could be busy: 4 workers, 2 tests.
        let few = RunStats {
            usable_workers: 2,
            ..stats
        };
        assert_eq!(few.efficiency(), 1.5);
        assert_eq!(few.ideal_wall(), Duration::from_secs(3));
        // Tests that took 4 s here but 2 s alone: the ideal is drawn from 2 s, not 4.
        let congested = RunStats {
            contention: Some(Contention {
                tests: 3,
                measured: Duration::from_secs(4),
                alone: Duration::from_secs(2),
            }),
            ..few.clone()
        };
        assert_eq!(congested.contention.unwrap().factor(), 2.0);
        assert_eq!(congested.ideal_wall(), Duration::from_secs(2));
    }
}
