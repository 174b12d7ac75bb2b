//! The events a run produces: the only contract between running tests and reporting them.
//!
//! Events are plain data and derive `Serialize`, so the JSON reporter writes each as one line.

use std::time::Duration;

use serde::Serialize;

/// Version of the JSON event stream; bumped when a field changes meaning or disappears.
pub const FORMAT_VERSION: u32 = 1;

/// Identifies one test across the run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TestId {
    pub binary_id: String,
    pub name: String,
}

impl TestResult {
    /// A single-attempt result with no output: used where no process ran, or in tests.
    pub fn bare(id: TestId, outcome: Outcome, duration: Duration) -> Self {
        TestResult {
            id,
            is_failure: outcome.is_failure(),
            outcome,
            duration,
            stdout: String::new(),
            stderr: String::new(),
            leaked: false,
            attempt: 1,
            failed_attempts: Vec::new(),
            batched: false,
            rerun: None,
        }
    }

    /// The label a line about this result shows: FLAKY and LEAKY qualify a pass.
    pub fn label(&self) -> &'static str {
        if self.is_flaky() {
            "FLAKY"
        } else if self.outcome.is_success() && self.leaked {
            "LEAKY"
        } else {
            self.outcome.label()
        }
    }

    /// One sentence on why this result fails the run (or, for a pass, `passed`).
    pub fn describe(&self) -> String {
        if self.is_flaky() && self.is_failure {
            format!(
                "flaky: passed on attempt {} after failing (--flaky-result fail)",
                self.attempt
            )
        } else {
            self.outcome.describe()
        }
    }

    /// Passed after failing at least once.
    pub fn is_flaky(&self) -> bool {
        self.outcome.is_success() && self.attempt > 1
    }
}

impl std::fmt::Display for TestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.binary_id, self.name)
    }
}

/// How one test ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    /// libtest reported a failure (exit code 101), or a whole-binary harness exited non-zero.
    Failed {
        exit_code: i32,
    },
    /// Killed by a signal.
    Crashed {
        signal: String,
    },
    /// The process called `exit` with a code libtest never uses.
    Exited {
        exit_code: i32,
    },
    /// `--exact NAME` matched nothing: the binary ran zero tests.
    NoTestRan,
    /// Ran past `--timeout` and was terminated.
    TimedOut,
    /// The test could not be started at all.
    SpawnFailed {
        message: String,
    },
    /// Passed, but something it spawned held its output open past the leak timeout, and
    /// `--leak-result fail` makes that a failure.
    Leaked,
    /// Stopped by a cancelled run (Ctrl-C, SIGTERM, SIGHUP) before it could finish.
    Cancelled,
    /// The runner itself failed while running this test (a bug in the runner).
    InternalError {
        message: String,
    },
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Passed)
    }

    /// Whether this outcome, on its own, fails the run.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Outcome::Passed | Outcome::Cancelled)
    }

    /// A short upper-case label for line-oriented output.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "PASS",
            Outcome::Failed { .. } => "FAIL",
            Outcome::Crashed { .. } => "CRASH",
            Outcome::Exited { .. } => "EXIT",
            Outcome::NoTestRan => "NOTEST",
            Outcome::TimedOut => "TIMEOUT",
            Outcome::SpawnFailed { .. } => "ERROR",
            Outcome::Leaked => "LEAKY",
            Outcome::Cancelled => "CANCEL",
            Outcome::InternalError { .. } => "ERROR",
        }
    }

    /// One sentence on why a non-passing test did not pass.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Passed => "passed".into(),
            Outcome::Failed { exit_code } => format!("failed (exit code {exit_code})"),
            Outcome::Crashed { signal } => format!("crashed: killed by {signal}"),
            Outcome::Exited { exit_code } => {
                format!("the test process exited with code {exit_code}")
            }
            Outcome::NoTestRan => {
                "ran no test: `--exact` matched nothing in the binary (was it renamed?)".into()
            }
            Outcome::TimedOut => "timed out".into(),
            Outcome::SpawnFailed { message } => format!("could not be started: {message}"),
            Outcome::Leaked => "leaked: something it started kept its output open after it \
                                exited (--leak-result fail)"
                .into(),
            Outcome::Cancelled => "cancelled: the run was interrupted while it ran".into(),
            Outcome::InternalError { message } => format!("runner internal error: {message}"),
        }
    }
}

/// One failed attempt of a test that was retried.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub attempt: u32,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
    pub stdout: String,
    pub stderr: String,
}

/// The final result of one test.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    #[serde(flatten)]
    pub id: TestId,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
    pub stdout: String,
    pub stderr: String,
    /// The test exited but something it spawned held its output open (reported as LEAKY).
    pub leaked: bool,
    /// 1-based number of the attempt this result comes from.
    pub attempt: u32,
    /// Earlier attempts that failed (with `--retries`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_attempts: Vec<Attempt>,
    /// Ran inside a batch (many tests per process) rather than in its own process.
    pub batched: bool,
    /// Whether this result fails the run: any non-pass, and a flaky pass under
    /// `--flaky-result fail`. A cancelled test fails nothing: the run's exit code says why.
    pub is_failure: bool,
    /// Command line that reruns just this test (given for tests that did not pass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerun: Option<String>,
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
    #[serde(serialize_with = "seconds")]
    pub wall: Duration,
    /// Sum of every test's own duration: what a serial run would take.
    #[serde(serialize_with = "seconds")]
    pub summed: Duration,
    pub longest: Option<LongestTest>,
    /// The runner's own CPU time so far (children excluded): its overhead.
    #[serde(serialize_with = "seconds")]
    pub runner_cpu: Duration,
    /// The runner's peak resident memory, in KiB.
    pub peak_rss_kib: u64,
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
    /// summed / wall: how many tests ran at once on average.
    pub fn speedup(&self) -> f64 {
        ratio(self.summed, self.wall)
    }

    /// speedup / workers, between 0 and 1 when workers are never oversubscribed.
    pub fn efficiency(&self) -> f64 {
        self.speedup() / self.workers.max(1) as f64
    }

    /// The wall time no scheduler can beat: max(longest test, summed / workers).
    pub fn ideal_wall(&self) -> Duration {
        let spread = self.summed / self.workers.max(1) as u32;
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
        tests: usize,
        binaries: usize,
        workers: usize,
        /// `serial`/`parallel` under `--compare`, `process`/`batch` under `--compare-modes`.
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        /// `process` (one process per test), `batch` (many tests per process) or `mixed`.
        mode: String,
    },
    /// Something the user should know that is not a test result.
    Note {
        message: String,
    },
    /// A binary whose tests could not be listed; none of its tests run.
    ListFailed {
        binary_id: String,
        message: String,
    },
    TestStarted {
        #[serde(flatten)]
        id: TestId,
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

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_event_is_flat_json() {
        let event = TestEvent::TestFinished(TestResult {
            id: TestId {
                binary_id: "pkg::it".into(),
                name: "a::b".into(),
            },
            outcome: Outcome::Crashed {
                signal: "SIGSEGV".into(),
            },
            duration: Duration::from_millis(1500),
            stdout: String::new(),
            stderr: "x".into(),
            leaked: false,
            attempt: 1,
            failed_attempts: Vec::new(),
            batched: false,
            is_failure: true,
            rerun: Some("runner".into()),
        });
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "test-finished");
        assert_eq!(json["status"], "crashed");
        assert_eq!(json["signal"], "SIGSEGV");
        assert_eq!(json["binary_id"], "pkg::it");
        assert_eq!(json["duration"], 1.5);
    }

    #[test]
    fn speedup_and_ideal() {
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
        assert_eq!(stats.speedup(), 3.0);
        assert_eq!(stats.efficiency(), 0.75);
        assert_eq!(stats.ideal_wall(), Duration::from_millis(1500));
    }
}
