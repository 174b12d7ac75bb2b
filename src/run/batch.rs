//! Batched mode: many tests of one binary in one process, for suites of tiny tests where
//! starting a process per test costs more than the tests.
//!
//! A chunk runs as `<bin> --exact --test-threads=1 NAME...`. With one test thread libtest
//! prints `test NAME ... ` when a test starts and `ok`/`FAILED` when it ends, so reading its
//! output as it streams gives each test its own result and duration, and tells which test was
//! running if the process dies. Failed tests' captured output comes in the `---- NAME stdout
//! ----` sections at the end. Whatever a chunk could not give a true result for (tests after a
//! crash, a hang, unreadable output) runs again one process per test, so nothing is lost.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::model::TestCase;
use crate::plan::history::History;
use crate::process::control::RunControl;
use crate::process::{self, Exit, Hooks};
use crate::report::event::{Outcome, SkipReason, TestEvent, TestResult};
use crate::run::single::{self, TestSettings};

/// Assumed cost of a test with no history: tiny, since batching is for tiny tests.
const DEFAULT_COST: Duration = Duration::from_millis(2);
/// Chunks never shrink below this many tests (unless fewer are left).
const MIN_CHUNK: usize = 4;
/// What starting one chunk's process costs (exec, libtest's set-up): a chunk worth less than a
/// few of these would spend more on starting than on testing.
const PROCESS_COST: Duration = Duration::from_millis(5);
const MIN_CHUNK_COST: Duration = Duration::from_millis(40);
/// How long to let a chunk's output pile up between reads (see `Limits::coalesce`).
const READ_PAUSE: Duration = Duration::from_millis(2);
/// Bounded so the command line stays far below the kernel's limit.
const MAX_CHUNK: usize = 1000;

/// Split each binary's tests into chunks, guided self-scheduling style: a chunk takes about
/// 1/(2·workers) of the work still left, so chunks start large (few processes) and shrink
/// towards the end, where small chunks keep every worker busy to the last moment. A chunk is
/// never worth less than [`MIN_CHUNK_COST`], since each one pays [`PROCESS_COST`] to start.
/// `cases` keeps its order within a binary; chunks come out largest first.
pub fn chunk(cases: Vec<TestCase>, workers: usize, history: &History) -> Vec<Vec<TestCase>> {
    let cost = |case: &TestCase| history.expected_batched(&case.id()).unwrap_or(DEFAULT_COST);
    let mut by_binary: Vec<(String, Vec<TestCase>)> = Vec::new();
    for case in cases {
        match by_binary.iter_mut().find(|(id, _)| *id == case.binary.id) {
            Some((_, list)) => list.push(case),
            None => by_binary.push((case.binary.id.clone(), vec![case])),
        }
    }
    let mut remaining: Duration = by_binary
        .iter()
        .flat_map(|(_, l)| l)
        .map(cost)
        .sum::<Duration>()
        + PROCESS_COST * by_binary.len() as u32;
    let divisor = 2 * workers.max(1) as u32;
    let mut chunks: Vec<(Duration, Vec<TestCase>)> = Vec::new();
    // Biggest binaries first, so the large early chunks come from where the work is.
    by_binary.sort_by_key(|(_, list)| std::cmp::Reverse(list.iter().map(cost).sum::<Duration>()));
    for (_, list) in by_binary {
        let mut current: Vec<TestCase> = Vec::new();
        let mut current_cost = PROCESS_COST;
        let mut rest_cost: Duration = list.iter().map(cost).sum();
        let total = list.len();
        for (i, case) in list.into_iter().enumerate() {
            let case_cost = cost(&case);
            rest_cost = rest_cost.saturating_sub(case_cost);
            current_cost += case_cost;
            current.push(case);
            let target = (remaining / divisor).max(MIN_CHUNK_COST);
            let rest_len = total - i - 1;
            // A long test may be a chunk on its own; cheap ones only come in groups, and the
            // tests left behind must be worth a process of their own too.
            let worth_a_process = current.len() >= MIN_CHUNK || current_cost >= MIN_CHUNK_COST;
            let rest_worth_a_process = rest_len >= MIN_CHUNK || rest_cost >= MIN_CHUNK_COST;
            let cut = current_cost >= target && worth_a_process && rest_worth_a_process;
            if (cut && rest_len > 0) || current.len() >= MAX_CHUNK {
                remaining = remaining.saturating_sub(current_cost);
                chunks.push((current_cost, std::mem::take(&mut current)));
                current_cost = PROCESS_COST;
            }
        }
        if !current.is_empty() {
            remaining = remaining.saturating_sub(current_cost);
            chunks.push((current_cost, current));
        }
    }
    chunks.sort_by_key(|(cost, _)| std::cmp::Reverse(*cost));
    chunks.into_iter().map(|(_, chunk)| chunk).collect()
}

/// Run one chunk, emitting TestStarted/TestFinished for each of its tests.
pub fn run_chunk(
    chunk: &[TestCase],
    settings: &TestSettings,
    control: &RunControl,
    emit: &dyn Fn(TestEvent),
    finish: &dyn Fn(&TestCase, TestResult) -> TestResult,
) {
    let Some(first) = chunk.first() else { return };
    let binary = &first.binary;
    let mut command = Command::new(&binary.path);
    command
        .args(["--exact", "--test-threads=1"])
        .current_dir(&binary.cwd)
        .envs(&binary.env)
        .env("RUNNER", "1")
        .env("RUNNER_ATTEMPT", "1")
        .env("RUNNER_TOTAL_ATTEMPTS", (settings.retries + 1).to_string());
    if chunk.iter().any(|case| case.ignored) {
        command.arg("--include-ignored");
    }
    command.args(chunk.iter().map(|case| case.name.as_str()));
    // The timeout is per test; the chunk gets the sum, and the test running when it runs out
    // is the one marked.
    let mut limits = settings.limits.clone();
    limits.timeout = limits.timeout.map(|t| t * chunk.len() as u32);
    limits.slow_period = None;
    limits.coalesce = Some(READ_PAUSE);

    let by_name: HashMap<&str, &TestCase> = chunk.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut parser = Parser::new(Instant::now());
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
                        let mut result = TestResult::bare(case.id(), Outcome::Passed, duration);
                        result.batched = true;
                        pending.push(TestEvent::TestFinished(finish(case, result)));
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
        let verdict = parser.results.get(&case.name).cloned();
        match verdict {
            Some(Verdict::Passed) => {} // Already reported as it happened.
            Some(Verdict::Failed(duration)) => {
                let mut result = TestResult::bare(id, Outcome::Failed { exit_code: 101 }, duration);
                result.stdout = sections.get(&case.name).cloned().unwrap_or_default();
                if settings.retries > 0 {
                    // Retries run one process per test, like any other retry.
                    rerun_alone(case, settings, control, emit, finish, false);
                } else {
                    emit(TestEvent::TestFinished(finish(case, result)));
                }
            }
            None if parser.running.as_deref() == Some(case.name.as_str()) => {
                // The process ended while this test ran: its death is this test's outcome.
                let outcome = match exit {
                    _ if control.cancelled().is_some() => Outcome::Cancelled,
                    _ if timed_out => Outcome::TimedOut,
                    Some(Exit::Signal(signal)) => Outcome::Crashed {
                        signal: process::signal_name(signal),
                    },
                    Some(Exit::Code(code)) if code != 0 && code != 101 => {
                        Outcome::Exited { exit_code: code }
                    }
                    // Ended cleanly without a verdict: the output was unreadable.
                    _ => {
                        let announce = !parser.started.contains(&case.name);
                        rerun_alone(case, settings, control, emit, finish, announce);
                        continue;
                    }
                };
                let duration = parser.running_since.elapsed();
                let mut result = TestResult::bare(id, outcome, duration);
                result.batched = true;
                result.stdout = finished
                    .as_ref()
                    .map(|d| d.stdout.to_text())
                    .unwrap_or_default();
                result.stderr = finished
                    .as_ref()
                    .map(|d| d.stderr.to_text())
                    .unwrap_or_default();
                emit(TestEvent::TestFinished(finish(case, result)));
            }
            None => {
                let announce = !parser.started.contains(&case.name);
                if control.cancelled().is_some() && announce {
                    emit(TestEvent::TestSkipped {
                        id,
                        reason: SkipReason::NotStarted,
                    });
                } else if control.cancelled().is_some() {
                    let result = TestResult::bare(id, Outcome::Cancelled, Duration::ZERO);
                    emit(TestEvent::TestFinished(finish(case, result)));
                } else {
                    rerun_alone(case, settings, control, emit, finish, announce);
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
    finish: &dyn Fn(&TestCase, TestResult) -> TestResult,
    announce: bool,
) {
    if announce {
        emit(TestEvent::TestStarted { id: case.id() });
    }
    let result = single::run_test(case, settings, control, emit);
    emit(TestEvent::TestFinished(finish(case, result)));
}

#[derive(Debug, Clone)]
enum Verdict {
    Passed,
    Failed(Duration),
}

#[derive(Debug, PartialEq, Eq)]
enum Step {
    Started(String),
    Passed(String, Duration),
}

/// Reads libtest's pretty output (one test thread) as it streams in.
struct Parser {
    partial: Vec<u8>,
    /// The test whose `test NAME ... ` line came without a verdict yet.
    running: Option<String>,
    /// Every test announced as started, so none is announced twice.
    started: HashSet<String>,
    running_since: Instant,
    last_event: Instant,
    results: HashMap<String, Verdict>,
    /// Everything from the first `failures:` line on, parsed at the end.
    tail: String,
    in_tail: bool,
}

impl Parser {
    fn new(now: Instant) -> Self {
        Parser {
            partial: Vec::new(),
            running: None,
            started: HashSet::new(),
            running_since: now,
            last_event: now,
            results: HashMap::new(),
            tail: String::new(),
            in_tail: false,
        }
    }

    fn feed(&mut self, bytes: &[u8], now: Instant) -> Vec<Step> {
        let mut steps = Vec::new();
        self.partial.extend_from_slice(bytes);
        while let Some(newline) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=newline).collect();
            let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            self.line(&line, now, &mut steps);
        }
        // A start line is written without its newline until the test ends.
        let pending = String::from_utf8_lossy(&self.partial).into_owned();
        if let Some(name) = start_line(&pending) {
            if self.running.as_deref() != Some(name) {
                self.start(name.to_string(), now, &mut steps);
            }
        }
        steps
    }

    fn start(&mut self, name: String, now: Instant, steps: &mut Vec<Step>) {
        self.running = Some(name.clone());
        self.running_since = now;
        if self.started.insert(name.clone()) {
            steps.push(Step::Started(name));
        }
    }

    fn line(&mut self, line: &str, now: Instant, steps: &mut Vec<Step>) {
        if self.in_tail || line == "failures:" {
            self.in_tail = true;
            self.tail.push_str(line);
            self.tail.push('\n');
            return;
        }
        let Some(rest) = line.strip_prefix("test ") else {
            return;
        };
        let Some((name, verdict)) = rest.split_once(" ... ") else {
            return;
        };
        let name = name.trim_end_matches(" - should panic").to_string();
        if self.running.as_deref() != Some(name.as_str()) {
            // Start and verdict arrived in one read.
            self.start(name.clone(), self.last_event, steps);
        }
        let duration = now.saturating_duration_since(self.running_since);
        self.last_event = now;
        self.running = None;
        match verdict.trim() {
            "ok" => {
                self.results.insert(name.clone(), Verdict::Passed);
                steps.push(Step::Passed(name, duration));
            }
            "FAILED" => {
                self.results.insert(name, Verdict::Failed(duration));
            }
            // Anything else (ignored, or output that is not libtest's) leaves the test without a
            // verdict, so it runs again alone.
            _ => {}
        }
    }

    /// The captured output of each failed test, from the `---- NAME stdout ----` sections.
    fn sections(&self) -> HashMap<String, String> {
        let mut sections = HashMap::new();
        let mut current: Option<(String, String)> = None;
        for line in self.tail.lines() {
            let header = line
                .strip_prefix("---- ")
                .and_then(|l| l.strip_suffix(" stdout ----"));
            if let Some(name) = header {
                if let Some((n, text)) = current.take() {
                    sections.insert(n, text);
                }
                current = Some((name.to_string(), String::new()));
            } else if line == "failures:" && current.is_some() {
                // The closing list of names follows; the last section ends here.
                if let Some((n, text)) = current.take() {
                    sections.insert(n, text);
                }
            } else if let Some((_, text)) = current.as_mut() {
                text.push_str(line);
                text.push('\n');
            }
        }
        if let Some((n, text)) = current {
            sections.insert(n, text);
        }
        sections
    }
}

/// `test NAME ... ` (no verdict yet) → NAME.
fn start_line(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("test ")?;
    let name = rest.strip_suffix(" ... ")?;
    Some(name.trim_end_matches(" - should panic"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Invocation, TargetKind, TestBinary};
    use crate::plan::history::Observation;
    use crate::report::event::TestId;
    use std::sync::Arc;

    #[test]
    fn parser_follows_a_streaming_chunk() {
        let t0 = Instant::now();
        let mut parser = Parser::new(t0);
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(parser.feed(b"\nrunning 3 tests\n", at(0)).is_empty());
        assert_eq!(
            parser.feed(b"test a ... ", at(1)),
            [Step::Started("a".into())]
        );
        assert_eq!(
            parser.feed(b"ok\ntest b - should panic ... ", at(11)),
            [
                Step::Passed("a".into(), Duration::from_millis(10)),
                Step::Started("b".into())
            ]
        );
        assert_eq!(
            parser.feed(b"ok\n", at(14)),
            [Step::Passed("b".into(), Duration::from_millis(3))]
        );
        parser.feed(
            b"test c ... FAILED\n\nfailures:\n\n---- c stdout ----\n",
            at(20),
        );
        parser.feed(
            b"boom\nmore\n\nfailures:\n    c\n\ntest result: FAILED.\n",
            at(21),
        );
        assert!(matches!(parser.results["c"], Verdict::Failed(_)));
        assert_eq!(parser.sections()["c"], "boom\nmore\n\n");
        assert_eq!(parser.running, None);
    }

    #[test]
    fn a_crash_leaves_the_running_test_named() {
        let mut parser = Parser::new(Instant::now());
        parser.feed(
            b"running 2 tests\ntest a ... ok\ntest b ... ",
            Instant::now(),
        );
        assert_eq!(parser.running.as_deref(), Some("b"));
        assert!(!parser.results.contains_key("b"));
    }

    #[test]
    fn unreadable_verdict_leaves_the_test_unsettled() {
        let mut parser = Parser::new(Instant::now());
        parser.feed(b"test a ... garbage from a child\n", Instant::now());
        assert!(!parser.results.contains_key("a"));
    }

    fn cases(binary: &str, n: usize) -> Vec<TestCase> {
        let binary = Arc::new(TestBinary {
            id: binary.into(),
            path: "/b".into(),
            package: None,
            target_name: binary.into(),
            kind: TargetKind::Lib,
            cwd: "/".into(),
            env: Default::default(),
            custom_harness: false,
        });
        (0..n)
            .map(|i| TestCase {
                binary: Arc::clone(&binary),
                name: format!("t{i:04}"),
                ignored: false,
                invocation: Invocation::Libtest,
            })
            .collect()
    }

    #[test]
    fn chunks_cover_every_test_once_shrink_and_stay_per_binary() {
        let mut all = cases("a", 500);
        all.extend(cases("b", 300));
        let chunks = chunk(all, 2, &History::default());
        let mut seen = HashSet::new();
        for chunk in &chunks {
            assert!(chunk.iter().all(|c| c.binary.id == chunk[0].binary.id));
            for case in chunk {
                assert!(seen.insert(case.id()));
            }
        }
        assert_eq!(seen.len(), 800);
        assert!(chunks.len() > 8 && chunks.len() < 200, "{}", chunks.len());
        assert!(chunks.first().unwrap().len() > chunks.last().unwrap().len());
    }

    #[test]
    fn history_makes_long_tests_their_own_chunks() {
        let all = cases("a", 40);
        let observations: Vec<_> = all
            .iter()
            .map(|c| Observation {
                id: c.id(),
                duration: if c.name == "t0000" || c.name == "t0001" {
                    Duration::from_secs(5)
                } else {
                    Duration::from_millis(1)
                },
                failed: false,
                batched: false,
            })
            .collect();
        let mut history = History::default();
        history.record(&observations, &HashSet::new());
        let chunks = chunk(all, 2, &history);
        let with_long = chunks
            .iter()
            .find(|c| {
                c.iter().any(|t| {
                    t.id()
                        == TestId {
                            binary_id: "a".into(),
                            name: "t0000".into(),
                        }
                })
            })
            .unwrap();
        assert_eq!(with_long.len(), 1);
        // Two long tests never share a chunk, where they would run one after the other.
        assert!(chunks.iter().any(|c| c.len() == 1 && c[0].name == "t0001"));
    }
}
