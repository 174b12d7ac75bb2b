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

use crate::libtest::{self, Step, StreamParser, Verdict};
use crate::model::TestCase;
use crate::process::control::RunControl;
use crate::process::{self, Exit, Hooks};
use crate::report::event::{Attempt, Outcome, SkipReason, TestEvent, TestResult};
use crate::run::single::{self, TestSettings};

/// How long to let a chunk's output pile up between reads (see `Limits::coalesce`).
const READ_PAUSE: Duration = Duration::from_millis(2);

/// Run one chunk, emitting TestStarted/TestFinished for each of its tests.
pub fn run_chunk(
    chunk: &[TestCase],
    settings: &TestSettings,
    control: &RunControl,
    emit: &dyn Fn(TestEvent),
) {
    let Some(first) = chunk.first() else { return };
    let binary = &first.binary;
    let mut command = Command::new(&binary.path);
    command
        .args(libtest::batch_args(chunk.iter().any(|case| case.ignored)))
        .current_dir(&binary.cwd)
        .envs(&binary.env)
        .env("RUNNER", "1")
        .env("RUNNER_ATTEMPT", "1")
        .env("RUNNER_TOTAL_ATTEMPTS", (settings.retries + 1).to_string());
    command.args(chunk.iter().map(|case| case.name.as_str()));
    // The timeout is per test; the chunk gets the sum, and the test running when it runs out
    // is the one marked.
    let mut limits = settings.limits.clone();
    limits.timeout = limits.timeout.map(|t| t * chunk.len() as u32);
    limits.slow_period = None;
    limits.coalesce = Some(READ_PAUSE);

    let by_name: HashMap<&str, &TestCase> = chunk.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut parser = StreamParser::new(Instant::now());
    let mut pending = Pending::default();
    let mut on_stdout = |bytes: &[u8]| {
        let now = Instant::now();
        for step in parser.feed(bytes, now) {
            match step {
                Step::Started(name) => {
                    if let Some(case) = by_name.get(name.as_str()) {
                        pending.push(TestEvent::TestStarted { id: case.id() });
                    }
                }
                Step::Passed(name, duration) => {
                    if let Some(case) = by_name.get(name.as_str()) {
                        let attempt = Attempt::bare(1, Outcome::Passed, duration);
                        let result = batched(case, attempt, settings);
                        pending.push(TestEvent::TestFinished(result));
                    }
                }
            }
        }
        pending.flush_if_due(now, emit);
    };
    let hooks = Hooks {
        on_slow: None,
        on_stdout: Some(&mut on_stdout),
    };
    let finished = process::run(&mut command, &limits, control, None, hooks);
    pending.flush(emit);
    let (exit, timed_out) = match &finished {
        Ok(done) => (Some(done.exit), done.timed_out),
        Err(_) => (None, false),
    };
    let sections = parser.sections();

    for case in chunk {
        let id = case.id();
        let verdict = parser.verdict(&case.name).cloned();
        match verdict {
            Some(Verdict::Passed) => {} // Already reported as it happened.
            Some(Verdict::Failed(duration)) => {
                if settings.retries > 0 {
                    // Retries run one process per test, like any other retry.
                    rerun_alone(case, settings, control, emit, false);
                } else {
                    let outcome = Outcome::Failed {
                        exit_code: libtest::FAILURE_EXIT_CODE,
                    };
                    let mut attempt = Attempt::bare(1, outcome, duration);
                    attempt.stdout = sections.get(&case.name).cloned().unwrap_or_default();
                    emit(TestEvent::TestFinished(batched(case, attempt, settings)));
                }
            }
            None if parser.running().is_some_and(|(name, _)| name == case.name) => {
                // The process ended while this test ran: its death is this test's outcome.
                let outcome = match exit {
                    _ if control.cancelled().is_some() => Outcome::Cancelled,
                    _ if timed_out => Outcome::TimedOut,
                    Some(Exit::Signal(signal)) => Outcome::Crashed {
                        signal: process::signal_name(signal),
                    },
                    Some(Exit::Code(code)) if code != 0 && code != libtest::FAILURE_EXIT_CODE => {
                        Outcome::Exited { exit_code: code }
                    }
                    // Ended cleanly without a verdict: the output was unreadable.
                    _ => {
                        let announce = !parser.was_started(&case.name);
                        rerun_alone(case, settings, control, emit, announce);
                        continue;
                    }
                };
                let duration = parser
                    .running()
                    .map_or(Duration::ZERO, |(_, since)| since.elapsed());
                let mut attempt = Attempt::bare(1, outcome, duration);
                if let Ok(done) = &finished {
                    attempt.stdout = done.stdout.to_text();
                    attempt.stderr = done.stderr.to_text();
                }
                emit(TestEvent::TestFinished(batched(case, attempt, settings)));
            }
            None => {
                let announce = !parser.was_started(&case.name);
                if control.cancelled().is_some() && announce {
                    emit(TestEvent::TestSkipped {
                        id,
                        reason: SkipReason::NotStarted,
                    });
                } else if control.cancelled().is_some() {
                    let result = TestResult::bare(id, Outcome::Cancelled, Duration::ZERO);
                    emit(TestEvent::TestFinished(result));
                } else {
                    rerun_alone(case, settings, control, emit, announce);
                }
            }
        }
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

/// Run a test the chunk could not settle in its own process, with the usual retries.
fn rerun_alone(
    case: &TestCase,
    settings: &TestSettings,
    control: &RunControl,
    emit: &dyn Fn(TestEvent),
    announce: bool,
) {
    if announce {
        emit(TestEvent::TestStarted { id: case.id() });
    }
    let result = single::run_test(case, settings, control, emit);
    emit(TestEvent::TestFinished(result));
}

/// The result of a test's one attempt inside a batch.
fn batched(case: &TestCase, attempt: Attempt, settings: &TestSettings) -> TestResult {
    TestResult::new(case.id(), vec![attempt], settings.policy, true)
}
