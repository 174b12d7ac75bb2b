//! Batched mode: many tests of one binary in one process, for suites of tiny tests where
//! starting a process per test costs more than the tests.
//!
//! A chunk runs as `<bin> --exact --test-threads=1 NAME...`. With one test thread libtest
//! prints `test NAME ... ` when a test starts and `ok`/`FAILED` when it ends, so reading its
//! output as it streams gives each test its own result and duration, and tells which test was
//! running if the process dies. Failed tests' captured output comes in the `---- NAME stdout
//! ----` sections at the end. Whatever a chunk could not give a true result for (tests after a
//! crash, a hang, unreadable output) runs again one process per test, so nothing is lost.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use super::single::{self, TestSettings};
use crate::libtest::{self, Step, StreamParser, Verdict};
use crate::model::TestCase;
use crate::process::control::RunControl;
use crate::process::{self, Exit, Finished, Hooks};
use crate::report::event::{Attempt, Outcome, SkipReason, TestEvent, TestResult};

/// How long to let a chunk's output pile up between reads (see `Limits::coalesce`).
const READ_PAUSE: Duration = Duration::from_millis(2);

/// Run one chunk, emitting TestStarted/TestFinished for each of its tests.
pub fn run_chunk(
    chunk: &[TestCase],
    settings: &TestSettings,
    control: &RunControl,
    emit: &dyn Fn(TestEvent),
) {
    let run = ChunkRun {
        settings,
        control,
        emit,
    };
    let Some(mut command) = chunk_command(chunk, settings) else {
        return;
    };
    let mut parser = StreamParser::new(Instant::now());
    let finished = run.read_live(&mut command, chunk, &mut parser);
    let end = ChunkEnd {
        exit: finished.as_ref().ok().map(|done| done.exit),
        timed_out: finished.as_ref().is_ok_and(|done| done.timed_out),
        output: finished
            .as_ref()
            .map(|done| (done.stdout.to_text(), done.stderr.to_text()))
            .unwrap_or_default(),
        sections: parser.sections(),
    };
    for case in chunk {
        run.settle(case, &parser, &end);
    }
}

/// `<bin> --exact --test-threads=1 NAME...` for one chunk, in the package's directory with
/// cargo's environment; `None` for an empty chunk.
fn chunk_command(chunk: &[TestCase], settings: &TestSettings) -> Option<Command> {
    let binary = &chunk.first()?.binary;
    let mut command = Command::new(&binary.path);
    command
        .args(libtest::batch_args(chunk.iter().any(|case| case.ignored)))
        .current_dir(&binary.cwd)
        .envs(&binary.env)
        .env("RUNNER", "1")
        .env("RUNNER_ATTEMPT", "1")
        .env("RUNNER_TOTAL_ATTEMPTS", (settings.retries + 1).to_string());
    command.args(chunk.iter().map(|case| case.name.as_str()));
    Some(command)
}

/// How the chunk's process ended, for the tests it left without a verdict.
struct ChunkEnd {
    exit: Option<Exit>,
    timed_out: bool,
    /// The whole process's stdout and stderr, as kept.
    output: (String, String),
    /// The captured output of each failed test, by name.
    sections: HashMap<String, String>,
}

/// What every step of a chunk needs.
struct ChunkRun<'a> {
    settings: &'a TestSettings,
    control: &'a RunControl,
    emit: &'a dyn Fn(TestEvent),
}

impl ChunkRun<'_> {
    /// Run the chunk's process, reporting each test as libtest's output says it started and
    /// passed.
    fn read_live(
        &self,
        command: &mut Command,
        chunk: &[TestCase],
        parser: &mut StreamParser,
    ) -> std::io::Result<Finished> {
        // The timeout is per test; the chunk gets the sum, and the test running when it runs
        // out is the one marked.
        let mut limits = self.settings.limits.clone();
        limits.timeout = limits.timeout.map(|t| t * chunk.len() as u32);
        limits.slow_period = None;
        limits.coalesce = Some(READ_PAUSE);
        let by_name: HashMap<&str, &TestCase> =
            chunk.iter().map(|c| (c.name.as_str(), c)).collect();
        let mut pending = Pending::default();
        let mut on_stdout = |bytes: &[u8]| {
            let now = Instant::now();
            for step in parser.feed(bytes, now) {
                let (Step::Started(name) | Step::Passed(name, _)) = &step;
                let Some(case) = by_name.get(name.as_str()) else {
                    continue;
                };
                pending.push(match step {
                    Step::Started(_) => TestEvent::TestStarted { id: case.id() },
                    Step::Passed(_, duration) => {
                        let attempt = Attempt::bare(1, Outcome::Passed, duration);
                        TestEvent::TestFinished(batched(case, attempt, self.settings))
                    }
                });
            }
            pending.flush_if_due(now, self.emit);
        };
        let hooks = Hooks {
            on_slow: None,
            on_stdout: Some(&mut on_stdout),
        };
        let finished = process::run(command, &limits, self.control, None, hooks);
        pending.flush(self.emit);
        finished
    }

    /// Give `case` its one final event, from what the chunk said about it.
    fn settle(&self, case: &TestCase, parser: &StreamParser, end: &ChunkEnd) {
        let cancelled = self.control.cancelled().is_some();
        let announce = !parser.was_started(&case.name);
        match parser.verdict(&case.name) {
            Some(Verdict::Passed) => {} // Already reported as it happened.
            // Retries run one process per test, like any other retry.
            Some(Verdict::Failed(_)) if self.settings.retries > 0 => self.rerun_alone(case, false),
            Some(Verdict::Failed(duration)) => {
                let outcome = Outcome::Failed {
                    exit_code: libtest::FAILURE_EXIT_CODE,
                };
                let mut attempt = Attempt::bare(1, outcome, *duration);
                attempt.stdout = end.sections.get(&case.name).cloned().unwrap_or_default();
                (self.emit)(TestEvent::TestFinished(batched(
                    case,
                    attempt,
                    self.settings,
                )));
            }
            None if parser.running().is_some_and(|(name, _)| name == case.name) => {
                self.settle_the_running_test(case, parser, end)
            }
            None if cancelled && announce => (self.emit)(TestEvent::TestSkipped {
                id: case.id(),
                reason: SkipReason::NotStarted,
            }),
            None if cancelled => {
                let result = TestResult::bare(case.id(), Outcome::Cancelled, Duration::ZERO);
                (self.emit)(TestEvent::TestFinished(result));
            }
            None => self.rerun_alone(case, announce),
        }
    }

    /// The process ended while `case` ran: its death is this test's outcome.
    fn settle_the_running_test(&self, case: &TestCase, parser: &StreamParser, end: &ChunkEnd) {
        let outcome = match end.exit {
            _ if self.control.cancelled().is_some() => Outcome::Cancelled,
            _ if end.timed_out => Outcome::TimedOut,
            Some(Exit::Signal(signal)) => Outcome::Crashed {
                signal: process::signal_name(signal),
            },
            Some(Exit::Code(code)) if code != 0 && code != libtest::FAILURE_EXIT_CODE => {
                Outcome::Exited { exit_code: code }
            }
            // Ended cleanly without a verdict: the output was unreadable.
            _ => return self.rerun_alone(case, !parser.was_started(&case.name)),
        };
        let duration = parser
            .running()
            .map_or(Duration::ZERO, |(_, since)| since.elapsed());
        let mut attempt = Attempt::bare(1, outcome, duration);
        (attempt.stdout, attempt.stderr) = end.output.clone();
        (self.emit)(TestEvent::TestFinished(batched(
            case,
            attempt,
            self.settings,
        )));
    }

    /// Run a test the chunk could not settle in its own process, with the usual retries.
    fn rerun_alone(&self, case: &TestCase, announce: bool) {
        if announce {
            (self.emit)(TestEvent::TestStarted { id: case.id() });
        }
        let result = single::run_test(case, self.settings, self.control, self.emit);
        (self.emit)(TestEvent::TestFinished(result));
    }
}

/// Events of a chunk's passing tests, handed on in bursts: a test every few microseconds would
/// otherwise wake the reporter thread for each one, and on a small machine that thread's
/// wake-ups compete with the tests for the CPU.
#[derive(Default)]
struct Pending {
    events: Vec<TestEvent>,
    last_flush: Option<Instant>,
}

impl Pending {
    /// How stale a live event may get before it is passed on.
    const INTERVAL: Duration = Duration::from_millis(20);

    fn push(&mut self, event: TestEvent) {
        self.events.push(event);
    }

    fn flush_if_due(&mut self, now: Instant, emit: &dyn Fn(TestEvent)) {
        let last = *self.last_flush.get_or_insert(now);
        if now.duration_since(last) >= Self::INTERVAL {
            self.flush(emit);
            self.last_flush = Some(now);
        }
    }

    fn flush(&mut self, emit: &dyn Fn(TestEvent)) {
        for event in self.events.drain(..) {
            emit(event);
        }
    }
}

/// The result of a test's one attempt inside a batch.
fn batched(case: &TestCase, attempt: Attempt, settings: &TestSettings) -> TestResult {
    TestResult::new(case.id(), vec![attempt], settings.policy, true)
}
