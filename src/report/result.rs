//! What became of one test: how each attempt ended ([`Outcome`], [`Attempt`]), and the one
//! [`Verdict`] derived from all its attempts and the run's [`ResultPolicy`].
//!
//! The verdict is computed here and nowhere else: reporters ask a [`TestResult`] whether it
//! failed, is flaky or leaky, and never re-derive it from the outcome and flags.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::event::{optional_seconds, seconds, TestId};
pub use super::outcome::Outcome;

/// One attempt of a test: a process of its own, or its share of a batch.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// 1-based.
    pub attempt: u32,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
    /// CPU time of the test's process (and the processes it waited for); none inside a batch,
    /// whose process's CPU time is the whole chunk's.
    #[serde(
        serialize_with = "optional_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu: Option<Duration>,
    /// How long, while the test ran, some task on the machine waited for a CPU; `None` where
    /// the kernel does not say. Tells whether `duration - cpu` is the test's own waiting.
    #[serde(skip)]
    pub cpu_pressure: Option<Duration>,
    pub stdout: String,
    pub stderr: String,
    /// The test exited but something it spawned held its output open.
    #[serde(skip)]
    pub leaked: bool,
    /// Ran with `RUST_BACKTRACE=0` because it passed with a panic last time (see
    /// `run::backtraces`): a failure's panic then has no backtrace.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub backtrace_quieted: bool,
    /// Where and when it ran; `None` where no worker ran it (a test the runner failed on).
    #[serde(flatten)]
    pub placement: Option<Placement>,
    /// Where the whole of each stream was saved, when it was.
    #[serde(skip)]
    pub logs: OutputLogs,
}

/// Where and when an attempt ran, for pictures of a run: its worker slot and its start, so that
/// a reporter can lay attempts out in time without trusting the moment an event reached it
/// (batched tests' events arrive in bursts). Its end is `start + duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// The worker slot (0-based) that ran it; one attempt at a time per slot.
    pub worker: usize,
    /// Since its pass's workers started (the clock `wall` is measured on).
    #[serde(serialize_with = "seconds")]
    pub start: Duration,
    /// The batch chunk it ran in, numbered within its pass; `None` in a process of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk: Option<usize>,
}

/// The files holding the whole of an attempt's stdout and stderr: written when a stream
/// outgrew what is kept in memory, and for every failed attempt, so a report that shows only
/// the end of the output can point at all of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputLogs {
    pub stdout: Option<PathBuf>,
    pub stderr: Option<PathBuf>,
}

impl Attempt {
    /// An attempt with no output: where no process ran, or in tests.
    pub fn bare(attempt: u32, outcome: Outcome, duration: Duration) -> Self {
        Attempt {
            attempt,
            outcome,
            duration,
            cpu: None,
            cpu_pressure: None,
            stdout: String::new(),
            stderr: String::new(),
            leaked: false,
            backtrace_quieted: false,
            placement: None,
            logs: OutputLogs::default(),
        }
    }
}

/// What the user said about questionable passes (`--leak-result`, `--flaky-result`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResultPolicy {
    /// A pass that leaked fails (`--leak-result fail`).
    pub leak_fails: bool,
    /// A pass after failed attempts fails the run (`--flaky-result fail`).
    pub flaky_fails: bool,
}

impl ResultPolicy {
    /// Whether this attempt, on its own, calls for another (with `--retries`).
    pub fn attempt_fails(&self, attempt: &Attempt) -> bool {
        match attempt.outcome {
            Outcome::Passed => attempt.leaked && self.leak_fails,
            Outcome::Cancelled => false,
            _ => true,
        }
    }
}

/// The one judgement of a test, from all its attempts and the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Passed on its first attempt, nothing left behind.
    Passed,
    /// Passed, but something it started held its output open; `fails` under
    /// `--leak-result fail`.
    Leaky { fails: bool },
    /// Passed after failing; `fails` under `--flaky-result fail`.
    Flaky { fails: bool },
    /// Did not pass.
    Failed,
    /// Interrupted by the run's cancellation: fails nothing, the exit code says why.
    Cancelled,
}

impl Verdict {
    fn of(attempts: &[Attempt], policy: ResultPolicy) -> Verdict {
        let last = attempts.last().expect("a result has at least one attempt");
        match last.outcome {
            Outcome::Cancelled => Verdict::Cancelled,
            Outcome::Passed if policy.attempt_fails(last) => Verdict::Leaky { fails: true },
            Outcome::Passed if attempts.len() > 1 => Verdict::Flaky {
                fails: policy.flaky_fails,
            },
            Outcome::Passed if last.leaked => Verdict::Leaky { fails: false },
            Outcome::Passed => Verdict::Passed,
            _ => Verdict::Failed,
        }
    }

    /// Whether this test fails the run.
    pub fn fails(self) -> bool {
        match self {
            Verdict::Passed | Verdict::Cancelled => false,
            Verdict::Leaky { fails } | Verdict::Flaky { fails } => fails,
            Verdict::Failed => true,
        }
    }
}

/// The final result of one test: its attempts (never empty, the last one final) and verdict.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub id: TestId,
    attempts: Vec<Attempt>,
    verdict: Verdict,
    /// Ran inside a batch (many tests per process) rather than in its own process.
    pub batched: bool,
    /// Command line that reruns just this test (given for tests that fail the run).
    pub rerun: Option<String>,
}

impl TestResult {
    /// The result of `attempts` (at least one, in order) under `policy`.
    pub fn new(id: TestId, attempts: Vec<Attempt>, policy: ResultPolicy, batched: bool) -> Self {
        assert!(!attempts.is_empty(), "a result has at least one attempt");
        TestResult {
            verdict: Verdict::of(&attempts, policy),
            id,
            attempts,
            batched,
            rerun: None,
        }
    }

    /// A single-attempt result with no output: used where no process ran, or in tests.
    pub fn bare(id: TestId, outcome: Outcome, duration: Duration) -> Self {
        let attempt = Attempt::bare(1, outcome, duration);
        TestResult::new(id, vec![attempt], ResultPolicy::default(), false)
    }

    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// The attempt that decided the result.
    pub fn last(&self) -> &Attempt {
        self.attempts
            .last()
            .expect("a result has at least one attempt")
    }

    /// Earlier attempts that failed (with `--retries`).
    pub fn failed_attempts(&self) -> &[Attempt] {
        &self.attempts[..self.attempts.len() - 1]
    }

    pub fn outcome(&self) -> &Outcome {
        &self.last().outcome
    }

    pub fn duration(&self) -> Duration {
        self.last().duration
    }

    /// Every attempt's time: what a serial run would spend on this test.
    pub fn total_duration(&self) -> Duration {
        self.attempts.iter().map(|a| a.duration).sum()
    }

    pub fn stdout(&self) -> &str {
        &self.last().stdout
    }

    pub fn stderr(&self) -> &str {
        &self.last().stderr
    }

    /// Whether this result fails the run.
    pub fn is_failure(&self) -> bool {
        self.verdict.fails()
    }

    /// Passed after failing at least once.
    pub fn is_flaky(&self) -> bool {
        matches!(self.verdict, Verdict::Flaky { .. })
    }

    /// The label a line about this result shows: FLAKY and LEAKY qualify a pass.
    pub fn label(&self) -> &'static str {
        match self.verdict {
            Verdict::Flaky { .. } => "FLAKY",
            Verdict::Leaky { .. } => "LEAKY",
            _ => self.outcome().label(),
        }
    }

    /// One sentence on why this result fails the run (or, for a pass, `passed`).
    pub fn describe(&self) -> String {
        match self.verdict {
            Verdict::Flaky { fails: true } => format!(
                "flaky: passed on attempt {} after failing (--flaky-result fail)",
                self.last().attempt
            ),
            Verdict::Leaky { fails: true } => "leaked: something it started kept its output \
                                               open after it exited (--leak-result fail)"
                .into(),
            _ => self.outcome().describe(),
        }
    }
}

/// An earlier attempt in a result's JSON: how it ended, without its output, which its
/// `test-retry` event carried already (a test printing megabytes would otherwise send them
/// twice, in one line).
#[derive(Serialize)]
struct EarlierAttempt<'a> {
    attempt: u32,
    #[serde(flatten)]
    outcome: &'a Outcome,
    #[serde(serialize_with = "seconds")]
    duration: Duration,
    #[serde(flatten)]
    placement: &'a Option<Placement>,
}

/// The JSON form of a result: the final attempt's fields at the top, earlier attempts (without
/// their output) under `failed_attempts`, and the verdict as `is_failure` (a leaky pass that
/// fails the run shows the status `leaked`).
impl Serialize for TestResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "status", rename_all = "kebab-case")]
        enum LeakedStatus {
            Leaked,
        }
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Status<'a> {
            Attempt(&'a Outcome),
            Leaked(LeakedStatus),
        }
        #[derive(Serialize)]
        struct View<'a> {
            #[serde(flatten)]
            id: &'a TestId,
            #[serde(flatten)]
            status: Status<'a>,
            #[serde(serialize_with = "seconds")]
            duration: Duration,
            #[serde(
                serialize_with = "optional_seconds",
                skip_serializing_if = "Option::is_none"
            )]
            cpu: Option<Duration>,
            stdout: &'a str,
            stderr: &'a str,
            leaked: bool,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            backtrace_quieted: bool,
            attempt: u32,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            failed_attempts: Vec<EarlierAttempt<'a>>,
            batched: bool,
            is_failure: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            rerun: &'a Option<String>,
            #[serde(flatten)]
            placement: Option<&'a Placement>,
        }
        let last = self.last();
        let status = match self.verdict {
            Verdict::Leaky { fails: true } => Status::Leaked(LeakedStatus::Leaked),
            _ => Status::Attempt(&last.outcome),
        };
        View {
            id: &self.id,
            status,
            duration: last.duration,
            cpu: last.cpu,
            stdout: &last.stdout,
            stderr: &last.stderr,
            leaked: last.leaked,
            backtrace_quieted: last.backtrace_quieted,
            attempt: last.attempt,
            failed_attempts: self
                .failed_attempts()
                .iter()
                .map(|a| EarlierAttempt {
                    attempt: a.attempt,
                    outcome: &a.outcome,
                    duration: a.duration,
                    placement: &a.placement,
                })
                .collect(),
            batched: self.batched,
            is_failure: self.is_failure(),
            rerun: &self.rerun,
            placement: last.placement.as_ref(),
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> TestId {
        TestId {
            binary_id: "b".into(),
            name: "t".into(),
        }
    }

    fn leaky_pass(attempt: u32) -> Attempt {
        Attempt {
            leaked: true,
            ..Attempt::bare(attempt, Outcome::Passed, Duration::ZERO)
        }
    }

    fn failed(attempt: u32) -> Attempt {
        Attempt::bare(attempt, Outcome::Failed { exit_code: 101 }, Duration::ZERO)
    }

    #[test]
    fn verdicts_follow_attempts_and_policy() {
        let lenient = ResultPolicy::default();
        let strict = ResultPolicy {
            leak_fails: true,
            flaky_fails: true,
        };
        let pass = || Attempt::bare(1, Outcome::Passed, Duration::ZERO);
        let verdict = |attempts: Vec<Attempt>, policy| {
            TestResult::new(id(), attempts, policy, false).verdict()
        };
        assert_eq!(verdict(vec![pass()], strict), Verdict::Passed);
        assert_eq!(verdict(vec![failed(1)], lenient), Verdict::Failed);
        let flaky = || vec![failed(1), Attempt::bare(2, Outcome::Passed, Duration::ZERO)];
        assert_eq!(verdict(flaky(), lenient), Verdict::Flaky { fails: false });
        assert_eq!(verdict(flaky(), strict), Verdict::Flaky { fails: true });
        assert_eq!(
            verdict(vec![leaky_pass(1)], lenient),
            Verdict::Leaky { fails: false }
        );
        assert_eq!(
            verdict(vec![leaky_pass(1)], strict),
            Verdict::Leaky { fails: true }
        );
        let cancelled = Attempt::bare(1, Outcome::Cancelled, Duration::ZERO);
        assert_eq!(verdict(vec![cancelled], strict), Verdict::Cancelled);
    }

    #[test]
    fn json_keeps_the_stream_format() {
        let strict = ResultPolicy {
            leak_fails: true,
            flaky_fails: false,
        };
        let result = TestResult::new(id(), vec![failed(1), leaky_pass(2)], strict, false);
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["status"], "leaked");
        assert_eq!(json["leaked"], true);
        assert_eq!(json["attempt"], 2);
        assert_eq!(json["is_failure"], true);
        assert_eq!(json["failed_attempts"][0]["status"], "failed");
        assert_eq!(json["failed_attempts"][0]["exit_code"], 101);
        assert!(json["failed_attempts"][0].get("leaked").is_none());
        // Its output went out with its test-retry event: it is not sent twice.
        assert!(json["failed_attempts"][0].get("stdout").is_none());
        assert!(json["failed_attempts"][0].get("stderr").is_none());
        let plain = serde_json::to_value(TestResult::bare(id(), Outcome::Passed, Duration::ZERO));
        let plain = plain.unwrap();
        assert_eq!(plain["status"], "passed");
        assert!(plain.get("failed_attempts").is_none() && plain.get("rerun").is_none());
        assert!(plain.get("cpu").is_none(), "no CPU time, no field: {plain}");
    }

    #[test]
    fn cpu_time_is_in_seconds_beside_the_duration() {
        let mut attempt = Attempt::bare(1, Outcome::Passed, Duration::from_millis(400));
        attempt.cpu = Some(Duration::from_millis(25));
        let result = TestResult::new(id(), vec![attempt], ResultPolicy::default(), false);
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["cpu"], 0.025);
        assert_eq!(json["duration"], 0.4);
    }
}
