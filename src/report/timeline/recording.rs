//! What a picture of a run is drawn from: every pass, each test attempt placed on its worker
//! slot from its start to its end, with its outcome, and each pass's figures.
//!
//! A recording is filled the same way from a live run's events ([`Recording::observe`]) and
//! from a saved JSON stream (`saved`): both go through the same few methods, and times are kept
//! in whole microseconds, the precision the JSON stream has, so that a timeline drawn from a CI
//! log is the one the run itself would have drawn.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::report::event::{
    Attempt, NotIsolated, Outcome, Placement, RunStats, TestEvent, TestId, TestResult, Verdict,
};

/// How an attempt ended, as the pictures colour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Pass,
    Flaky,
    Leaky,
    Fail,
    Crash,
    Exit,
    Timeout,
    Error,
    Cancelled,
    /// Started, and the stream ended before it finished (a run killed outright).
    Unfinished,
}

impl Class {
    pub const ALL: [Class; 10] = [
        Class::Pass,
        Class::Flaky,
        Class::Leaky,
        Class::Fail,
        Class::Crash,
        Class::Exit,
        Class::Timeout,
        Class::Error,
        Class::Cancelled,
        Class::Unfinished,
    ];

    /// The CSS class and legend key.
    pub fn name(self) -> &'static str {
        match self {
            Class::Pass => "pass",
            Class::Flaky => "flaky",
            Class::Leaky => "leaky",
            Class::Fail => "fail",
            Class::Crash => "crash",
            Class::Exit => "exit",
            Class::Timeout => "timeout",
            Class::Error => "error",
            Class::Cancelled => "cancelled",
            Class::Unfinished => "unfinished",
        }
    }

    /// What the legend says it means.
    pub fn meaning(self) -> &'static str {
        match self {
            Class::Pass => "passed",
            Class::Flaky => "passed after failing",
            Class::Leaky => "passed, left processes holding its output",
            Class::Fail => "failed",
            Class::Crash => "crashed (killed by a signal)",
            Class::Exit => "exited with a code libtest never uses",
            Class::Timeout => "timed out",
            Class::Error => "did not run (no test matched, could not start, runner error)",
            Class::Cancelled => "cancelled by an interruption",
            Class::Unfinished => "no result: the event stream ends before it",
        }
    }

    /// The class of an attempt whose JSON `status` is `status`. `last` is the attempt that
    /// decided the result, `retried` whether attempts failed before it.
    fn of(status: &str, last: bool, retried: bool, leaked: bool) -> Class {
        match status {
            "passed" if last && retried => Class::Flaky,
            // A pass that was retried can only have failed by leaking (`--leak-result fail`).
            "passed" if leaked || !last => Class::Leaky,
            "passed" => Class::Pass,
            "leaked" => Class::Leaky,
            "failed" => Class::Fail,
            "crashed" => Class::Crash,
            "exited" => Class::Exit,
            "timed-out" => Class::Timeout,
            "cancelled" => Class::Cancelled,
            _ => Class::Error,
        }
    }
}

/// Where and when an attempt ran, in microseconds since its pass started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub worker: usize,
    pub start_us: u64,
    pub chunk: Option<usize>,
}

impl From<&Placement> for Place {
    fn from(placement: &Placement) -> Self {
        Place {
            worker: placement.worker,
            start_us: micros(placement.start),
            chunk: placement.chunk,
        }
    }
}

/// One attempt of a test, as drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// Index into [`Recording::tests`].
    pub test: usize,
    pub attempt: u32,
    pub place: Place,
    pub duration_us: u64,
    pub class: Class,
    /// `failed (exit code 101)`, `crashed (SIGSEGV)`, `flaky: passed on attempt 2`.
    pub outcome: String,
}

impl Bar {
    pub fn end_us(&self) -> u64 {
        self.place.start_us + self.duration_us
    }
}

/// One test of the run, as every pass's bars point to it.
#[derive(Debug, Clone)]
pub struct Test {
    pub id: TestId,
    /// The command that reruns it alone, when known.
    pub rerun: Option<String>,
}

/// One pass of the run: a `run-started` … `run-finished`.
#[derive(Debug, Clone, Default)]
pub struct Pass {
    /// `serial`, `parallel`, `process`, `batch` under a comparison.
    pub label: Option<String>,
    pub mode: String,
    pub workers: usize,
    pub bars: Vec<Bar>,
    /// Tests started and not finished yet, by test index.
    pub(super) open: BTreeMap<usize, Place>,
    /// Attempts that came with no placement (the runner failed on them), not drawn.
    pub unplaced: usize,
    /// Where tests started in a batch chunk whose result came from running again alone (a
    /// failure with `--retries`, the tests after a crash): their time is part of the chunk's.
    pub superseded: Vec<(usize, Place)>,
    /// Its figures, once it finished; times rounded to microseconds.
    pub stats: Option<RunStats>,
}

impl Pass {
    /// Where its time axis ends: its wall time, else its last bar's end.
    pub fn span_us(&self) -> u64 {
        let last = self.bars.iter().map(Bar::end_us).max().unwrap_or(0);
        self.stats
            .as_ref()
            .map_or(last, |s| micros(s.wall).max(last))
    }

    /// How many lanes it needs: the workers it could keep busy (`-n64` on 4 tests draws 4),
    /// and any slot a bar names.
    pub fn lanes(&self) -> usize {
        let used = self.bars.iter().map(|b| b.place.worker + 1).max();
        let usable = self.stats.as_ref().map_or(self.workers, RunStats::usable);
        used.unwrap_or(0).max(usable).max(1)
    }

    /// What its final name is in a heading.
    pub fn name(&self, index: usize) -> String {
        match &self.label {
            Some(label) => format!("pass {}: {label}", index + 1),
            None => format!("pass {}", index + 1),
        }
    }
}

/// A test that passed in one pass of a comparison and failed in another.
#[derive(Debug, Clone)]
pub struct Difference {
    pub test: usize,
    /// `passed in parallel, failed alone (serial)`.
    pub description: String,
}

/// Everything the timeline and the trace are drawn from.
#[derive(Debug, Default)]
pub struct Recording {
    pub passes: Vec<Pass>,
    pub tests: Vec<Test>,
    index: HashMap<TestId, usize>,
    /// From the last `run-finished` that names any.
    pub not_isolated: Vec<Difference>,
    /// Rerun commands known beforehand (for tests that passed too, which events do not carry).
    reruns: HashMap<TestId, String>,
}

/// What an attempt says, whichever way it was read.
pub(super) struct AttemptSeen<'a> {
    pub attempt: u32,
    pub status: &'a str,
    /// `exit code 101`, `SIGSEGV`, a message.
    pub detail: Option<String>,
    pub duration: Duration,
    pub place: Option<Place>,
    pub leaked: bool,
}

impl Recording {
    /// A recording that knows the rerun command of each test beforehand.
    pub fn with_reruns(reruns: HashMap<TestId, String>) -> Self {
        Recording {
            reruns,
            ..Recording::default()
        }
    }

    /// Record one event of a live run.
    pub fn observe(&mut self, event: &TestEvent) {
        match event {
            TestEvent::RunStarted {
                workers,
                label,
                mode,
                ..
            } => self.pass_started(label.map(|l| l.name()), mode.name(), *workers),
            TestEvent::TestStarted { id, placement } => {
                self.test_started(id, placement.as_ref().map(Place::from))
            }
            TestEvent::TestFinished(result) => self.live_result(result),
            TestEvent::RunFinished(stats) => {
                let mut stats = stats.clone();
                // The precision of the JSON stream, so both ways of drawing agree.
                stats.wall = round(stats.wall);
                stats.summed = round(stats.summed);
                if let Some(longest) = &mut stats.longest {
                    longest.duration = round(longest.duration);
                }
                self.pass_finished(stats);
            }
            _ => {}
        }
    }

    fn live_result(&mut self, result: &TestResult) {
        let seen = |attempt: &Attempt, leaked: bool| {
            let (status, detail) = status_of(&attempt.outcome);
            AttemptSeen {
                attempt: attempt.attempt,
                status,
                detail,
                duration: attempt.duration,
                place: attempt.placement.as_ref().map(Place::from),
                leaked,
            }
        };
        let failed: Vec<_> = result
            .failed_attempts()
            .iter()
            .map(|a| seen(a, false))
            .collect();
        let mut last = seen(result.last(), result.last().leaked);
        // As the JSON stream says it: a leak that fails the run has its own status.
        if result.verdict() == (Verdict::Leaky { fails: true }) {
            last.status = "leaked";
        }
        self.test_finished(&result.id, result.rerun.as_deref(), &failed, &last);
    }

    pub(super) fn pass_started(&mut self, label: Option<&str>, mode: &str, workers: usize) {
        self.passes.push(Pass {
            label: label.map(str::to_string),
            mode: mode.to_string(),
            workers,
            ..Pass::default()
        });
    }

    /// The pass events belong to; one is made up if a stream starts without `run-started`.
    fn pass(&mut self) -> &mut Pass {
        if self.passes.is_empty() {
            self.pass_started(None, "process", 0);
        }
        self.passes.last_mut().expect("a pass exists")
    }

    fn test_index(&mut self, id: &TestId) -> usize {
        if let Some(&index) = self.index.get(id) {
            return index;
        }
        let index = self.tests.len();
        let rerun = self.reruns.get(id).cloned();
        self.tests.push(Test {
            id: id.clone(),
            rerun,
        });
        self.index.insert(id.clone(), index);
        index
    }

    pub(super) fn test_started(&mut self, id: &TestId, place: Option<Place>) {
        let test = self.test_index(id);
        if let Some(place) = place {
            self.pass().open.insert(test, place);
        }
    }

    /// A test's final result: its earlier attempts, then the one that decided it.
    pub(super) fn test_finished(
        &mut self,
        id: &TestId,
        rerun: Option<&str>,
        failed: &[AttemptSeen],
        last: &AttemptSeen,
    ) {
        let test = self.test_index(id);
        if let Some(rerun) = rerun {
            self.tests[test].rerun = Some(rerun.to_string());
        }
        let retried = !failed.is_empty();
        let pass = self.pass();
        if let Some(started) = pass.open.remove(&test) {
            let in_chunk =
                |seen: &AttemptSeen| seen.place.is_some_and(|p| p.chunk == started.chunk);
            if started.chunk.is_some() && !failed.iter().chain([last]).any(in_chunk) {
                pass.superseded.push((test, started));
            }
        }
        let attempts = failed.iter().map(|a| (a, false)).chain([(last, true)]);
        for (seen, is_last) in attempts {
            let Some(place) = seen.place else {
                pass.unplaced += 1;
                continue;
            };
            let class = Class::of(seen.status, is_last, retried, seen.leaked);
            pass.bars.push(Bar {
                test,
                attempt: seen.attempt,
                place,
                duration_us: micros(seen.duration),
                class,
                outcome: describe(class, seen),
            });
        }
    }

    /// The end of a pass: its figures, the tests left open drawn as unfinished, and the
    /// isolation differences, if it names any.
    pub(super) fn pass_finished(&mut self, stats: RunStats) {
        let differences: Vec<(TestId, String)> = stats
            .not_isolated
            .iter()
            .map(|d| (d.id.clone(), NotIsolated::describe(d)))
            .collect();
        if !differences.is_empty() {
            self.not_isolated = differences
                .into_iter()
                .map(|(id, description)| Difference {
                    test: self.test_index(&id),
                    description,
                })
                .collect();
        }
        let pass = self.pass();
        pass.stats = Some(stats);
        pass.close_open();
    }

    /// Close what the stream left open (it ended before a `run-finished`).
    pub fn close(&mut self) {
        for pass in &mut self.passes {
            pass.close_open();
        }
    }
}

impl Pass {
    /// Tests that started and have no result run to the end of the pass, as unfinished.
    fn close_open(&mut self) {
        let end = self.span_us();
        for (test, place) in std::mem::take(&mut self.open) {
            self.bars.push(Bar {
                test,
                attempt: 0,
                place,
                duration_us: end.saturating_sub(place.start_us),
                class: Class::Unfinished,
                outcome: "no result: the event stream ends before it".into(),
            });
        }
    }
}

/// The tooltip's outcome line.
fn describe(class: Class, seen: &AttemptSeen) -> String {
    let status = match &seen.detail {
        Some(detail) => format!("{} ({detail})", seen.status),
        None => seen.status.to_string(),
    };
    match class {
        Class::Flaky => format!("flaky: passed on attempt {}", seen.attempt),
        Class::Leaky if seen.status == "passed" => "leaky: passed, leaked".into(),
        _ => status,
    }
}

/// An outcome's JSON `status`, and what else it says.
pub(super) fn status_of(outcome: &Outcome) -> (&'static str, Option<String>) {
    match outcome {
        Outcome::Passed => ("passed", None),
        Outcome::Failed { exit_code } => ("failed", Some(format!("exit code {exit_code}"))),
        Outcome::Crashed { signal } => ("crashed", Some(signal.clone())),
        Outcome::Exited { exit_code } => ("exited", Some(format!("exit code {exit_code}"))),
        Outcome::NoTestRan => ("no-test-ran", None),
        Outcome::TimedOut => ("timed-out", None),
        Outcome::SpawnFailed { message } => ("spawn-failed", Some(message.clone())),
        Outcome::Cancelled => ("cancelled", None),
        Outcome::InternalError { message } => ("internal-error", Some(message.clone())),
        Outcome::SetupFailed { script, reason } => (
            "setup-failed",
            Some(format!("setup script '{script}' {reason}")),
        ),
    }
}

/// Whole microseconds, as the JSON stream writes durations.
pub fn micros(d: Duration) -> u64 {
    (d.as_secs_f64() * 1e6).round() as u64
}

fn round(d: Duration) -> Duration {
    Duration::from_micros(micros(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_the_json_ones() {
        let outcomes = [
            Outcome::Passed,
            Outcome::Failed { exit_code: 101 },
            Outcome::Crashed {
                signal: "SIGSEGV".into(),
            },
            Outcome::Exited { exit_code: 3 },
            Outcome::NoTestRan,
            Outcome::TimedOut,
            Outcome::SpawnFailed {
                message: "x".into(),
            },
            Outcome::Cancelled,
            Outcome::InternalError {
                message: "x".into(),
            },
        ];
        for outcome in outcomes {
            let json = serde_json::to_value(&outcome).unwrap();
            assert_eq!(json["status"], status_of(&outcome).0, "{outcome:?}");
        }
    }

    #[test]
    fn classes_follow_attempts() {
        assert_eq!(Class::of("passed", true, false, false), Class::Pass);
        assert_eq!(Class::of("passed", true, true, false), Class::Flaky);
        assert_eq!(Class::of("passed", true, false, true), Class::Leaky);
        assert_eq!(Class::of("passed", false, true, false), Class::Leaky);
        assert_eq!(Class::of("failed", false, true, false), Class::Fail);
        assert_eq!(Class::of("spawn-failed", true, false, false), Class::Error);
    }
}
