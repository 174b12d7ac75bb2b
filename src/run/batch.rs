//! Batched mode: many tests of one binary in one process, for suites of tiny tests where
//! starting a process per test costs more than the tests.
//!
//! A chunk runs as `<bin> --exact --test-threads=1 --logfile LOG NAME...`. libtest writes each
//! test's result to LOG, a file no test output can reach, and that is the only place a verdict
//! is read from; its stdout, which tests share, only dates starts and carries the failed tests'
//! output (see `libtest::BatchReader`). The log is read each time stdout arrives (libtest writes
//! a record before it prints anything more) and once more at the end, so each test gets its own
//! result and duration as it happens, and a process that dies is pinned on the test that was
//! running. Whatever a chunk could not give a true result for (tests after a crash, a hang, a
//! binary that writes no log) runs again one process per test, so nothing is lost.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::backtraces::QuietBacktraces;
use super::single::{self, Placer, TestSettings};
use crate::files;
use crate::libtest::{self, BatchReader, Step, Verdict};
use crate::model::TestCase;
use crate::process::control::RunControl;
use crate::process::{self, Exit, Finished, Hooks};
use crate::report::event::{
    Attempt, Outcome, Placement, ResultPolicy, SkipReason, TestEvent, TestResult,
};

/// How long to let a chunk's output pile up between reads (see `Limits::coalesce`).
const READ_PAUSE: Duration = Duration::from_millis(2);

/// Run one chunk, emitting TestStarted/TestFinished for each of its tests, each placed where
/// and when the chunk's process ran it.
pub fn run_chunk(
    chunk: &[TestCase],
    settings: &TestSettings,
    control: &RunControl,
    placer: Placer,
    emit: &dyn Fn(TestEvent),
) {
    let quiet = (settings.backtraces.as_deref()).filter(|quiet| quiet.quiets_chunk(chunk));
    let run = ChunkRun {
        settings,
        control,
        placer,
        emit,
        by_name: chunk.iter().map(|c| (c.name.as_str(), c)).collect(),
        quiet: quiet.is_some(),
    };
    // A chunk of one test would only add a log file and its reading to the test's own process
    // (a few milliseconds): it runs as process mode runs it, with its own exit status.
    if let [case] = chunk {
        run.rerun_alone(case, true);
        return;
    }
    // The log goes in a directory of its own, made for this chunk and removed after it.
    let Ok(log_dir) = tempfile::Builder::new().prefix("runner-batch-").tempdir() else {
        for case in chunk {
            run.rerun_alone(case, true);
        }
        return;
    };
    let mut log = LogTail::new(log_dir.path().join("results.log"));
    let Some(mut command) = chunk_command(chunk, settings, &log.path, quiet) else {
        return;
    };
    let names: Vec<&str> = chunk.iter().map(|case| case.name.as_str()).collect();
    let capture = &settings.limits.capture;
    let mut reader = BatchReader::new(&names, (capture.head, capture.tail), Instant::now());
    let finished = run.read_live(&mut command, chunk, &mut reader, &mut log);
    let ended = Instant::now();
    // Records written after the last piece of stdout, if any.
    let steps = reader.read_log(log.read_new(), Instant::now());
    for event in run.events(steps, &reader) {
        emit(event);
    }
    reader.finish_stdout();
    let end = ChunkEnd::new(finished.as_ref().ok(), log.file.is_some(), ended);
    for case in chunk {
        run.settle(case, &reader, &end);
    }
}

/// `<bin> --exact --test-threads=1 --logfile LOG NAME...` for one chunk, in the package's
/// directory with cargo's environment (`quiet`: with its panics' backtraces left out); `None`
/// for an empty chunk.
fn chunk_command(
    chunk: &[TestCase],
    settings: &TestSettings,
    log: &Path,
    quiet: Option<&QuietBacktraces>,
) -> Option<Command> {
    let binary = &chunk.first()?.binary;
    let mut command = settings.launcher.command(binary);
    command
        .args(libtest::batch_args(
            chunk.iter().any(|case| case.ignored),
            log,
        ))
        .env("RUNNER", "1")
        .env("RUNNER_ATTEMPT", "1")
        .env("RUNNER_TOTAL_ATTEMPTS", (settings.retries + 1).to_string());
    if let Some(quiet) = quiet {
        quiet.apply(&mut command);
    }
    command.args(chunk.iter().map(|case| case.name.as_str()));
    Some(command)
}

/// Where a chunk's whole stdout and stderr go when they outgrow what is kept in memory:
/// `<log dir>/<binary>/batch-<first test>.stdout|stderr`, beside process mode's logs.
fn spill_stem(chunk: &[TestCase], settings: &TestSettings) -> Option<PathBuf> {
    let first = chunk.first()?;
    let dir = settings.log_dir.as_ref()?;
    let binary = files::file_name_for(&first.binary.id);
    Some(
        dir.join(binary)
            .join(format!("batch-{}", files::file_name_for(&first.name))),
    )
}

/// The chunk's log file, read as it grows.
struct LogTail {
    path: PathBuf,
    /// Open once libtest has created it.
    file: Option<File>,
    buf: Vec<u8>,
}

impl LogTail {
    fn new(path: PathBuf) -> Self {
        LogTail {
            path,
            file: None,
            buf: Vec::new(),
        }
    }

    /// What was written since the last read (nothing while the file does not exist yet).
    fn read_new(&mut self) -> &[u8] {
        self.buf.clear();
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        if let Some(file) = self.file.as_mut() {
            // A failed read leaves the tests without records, and they run again alone.
            let _ = file.read_to_end(&mut self.buf);
        }
        &self.buf
    }
}

/// How the chunk's process ended, for the tests it left without a verdict.
struct ChunkEnd {
    /// When the process was seen to end: the test it was running ran until then.
    ended: Instant,
    exit: Option<Exit>,
    timed_out: bool,
    /// The whole process's stdout and stderr, as kept.
    output: (String, String),
    /// Where the whole stdout was saved, if it was too large to keep.
    stdout_saved: Option<PathBuf>,
    /// The binary wrote a log. Without one (a harness that ignores `--logfile`), no test is
    /// known to have ended, so none is known to have been running either.
    log_written: bool,
}

impl ChunkEnd {
    fn new(finished: Option<&Finished>, log_written: bool, ended: Instant) -> Self {
        ChunkEnd {
            ended,
            log_written,
            exit: finished.map(|done| done.exit),
            timed_out: finished.is_some_and(|done| done.timed_out),
            output: finished
                .map(|done| {
                    let stderr = libtest::without_logfile_warning(done.stderr.to_text());
                    (done.stdout.to_text(), stderr)
                })
                .unwrap_or_default(),
            stdout_saved: finished.and_then(|done| done.stdout.spill_path().map(Path::to_path_buf)),
        }
    }
}

/// What every step of a chunk needs.
struct ChunkRun<'a> {
    settings: &'a TestSettings,
    control: &'a RunControl,
    placer: Placer,
    emit: &'a dyn Fn(TestEvent),
    by_name: HashMap<&'a str, &'a TestCase>,
    /// The chunk runs with its panics' backtraces left out.
    quiet: bool,
}

impl ChunkRun<'_> {
    /// Run the chunk's process, reporting each test as the log says it passed, and as the
    /// stream says it started.
    fn read_live(
        &self,
        command: &mut Command,
        chunk: &[TestCase],
        reader: &mut BatchReader,
        log: &mut LogTail,
    ) -> std::io::Result<Finished> {
        // The timeout is per test; the chunk gets the sum, and the test running when it runs
        // out is the one marked.
        let mut limits = self.settings.limits.clone();
        limits.timeout = limits.timeout.map(|t| t * chunk.len() as u32);
        limits.slow_period = None;
        limits.coalesce = Some(READ_PAUSE);
        let mut pending = Pending::default();
        let mut on_stdout = |bytes: &[u8]| {
            let now = Instant::now();
            // The log first: libtest writes a test's record before it prints anything more,
            // so the log is then at least as far as this piece of the stream.
            let mut steps = reader.read_log(log.read_new(), now);
            steps.extend(reader.read_stdout(bytes, now));
            pending.events.extend(self.events(steps, reader));
            pending.flush_if_due(now, self.emit);
        };
        let hooks = Hooks {
            on_slow: None,
            on_stdout: Some(&mut on_stdout),
        };
        let spill = spill_stem(chunk, self.settings);
        let finished = process::run(command, &limits, self.control, spill, hooks);
        pending.flush(self.emit);
        finished
    }

    /// Where and when the reader says `name` started in this chunk.
    fn placement(&self, reader: &BatchReader, name: &str) -> Option<Placement> {
        reader.started_at(name).map(|at| self.placer.place(at))
    }

    /// The events of what the log and the stream told, placed when the reader dated them
    /// (events are passed on in bursts, later than they happened).
    fn events(&self, steps: Vec<Step>, reader: &BatchReader) -> Vec<TestEvent> {
        let event = |step: Step| {
            let (Step::Started(name) | Step::Passed(name, _)) = &step;
            let case = self.by_name.get(name.as_str())?;
            let placement = self.placement(reader, name);
            Some(match step {
                Step::Started(_) => TestEvent::TestStarted {
                    id: case.id(),
                    placement,
                },
                Step::Passed(_, duration) => {
                    let mut attempt = Attempt::bare(1, Outcome::Passed, duration);
                    attempt.placement = placement;
                    TestEvent::TestFinished(batched(case, attempt, self.settings))
                }
            })
        };
        steps.into_iter().filter_map(event).collect()
    }

    /// Give `case` its one final event, from what the chunk said about it.
    fn settle(&self, case: &TestCase, reader: &BatchReader, end: &ChunkEnd) {
        let cancelled = self.control.cancelled().is_some();
        let announce = !reader.was_started(&case.name);
        match reader.verdict(&case.name) {
            Some(Verdict::Passed(_)) => {} // Already reported as it happened.
            // Retries run one process per test, like any other retry.
            Some(Verdict::Failed(_)) if self.settings.for_case(case).retries > 0 => {
                self.rerun_alone(case, false)
            }
            Some(Verdict::Failed(duration)) => self.settle_failure(case, duration, reader, end),
            None if end.log_written && reader.running().is_some_and(|(n, _)| n == case.name) => {
                self.settle_the_running_test(case, reader, end)
            }
            None if cancelled && announce => (self.emit)(TestEvent::TestSkipped {
                id: case.id(),
                reason: SkipReason::NotStarted,
            }),
            None if cancelled => {
                let mut attempt = Attempt::bare(1, Outcome::Cancelled, Duration::ZERO);
                attempt.placement = self.placement(reader, &case.name);
                let result =
                    TestResult::new(case.id(), vec![attempt], ResultPolicy::default(), false);
                (self.emit)(TestEvent::TestFinished(result));
            }
            None => self.rerun_alone(case, announce),
        }
    }

    /// A test that failed in the chunk, with its captured output from libtest's summary. If
    /// the process ended before libtest printed that summary (a later test crashed), the output
    /// died with it: the test runs again alone, so that its failure comes with its output.
    fn settle_failure(
        &self,
        case: &TestCase,
        duration: Duration,
        reader: &BatchReader,
        end: &ChunkEnd,
    ) {
        let output = reader.failure_output(&case.name, end.stdout_saved.as_deref());
        let lost = output.is_none() && !reader.summary_read();
        let stdout = if lost && self.control.cancelled().is_none() {
            let placer = self.placer.alone();
            let alone = single::run_test(case, self.settings, self.control, placer, self.emit);
            if !alone.outcome().is_success() {
                (self.emit)(TestEvent::TestFinished(alone));
                return;
            }
            LOST_OUTPUT.to_string()
        } else {
            output.unwrap_or_default()
        };
        let outcome = Outcome::Failed {
            exit_code: libtest::FAILURE_EXIT_CODE,
        };
        let mut attempt = Attempt::bare(1, outcome, duration);
        attempt.placement = self.placement(reader, &case.name);
        attempt.stdout = stdout;
        attempt.backtrace_quieted = self.quiet;
        (self.emit)(TestEvent::TestFinished(batched(
            case,
            attempt,
            self.settings,
        )));
    }

    /// The process ended while `case` ran: its death is this test's outcome.
    fn settle_the_running_test(&self, case: &TestCase, reader: &BatchReader, end: &ChunkEnd) {
        let outcome = match end.exit {
            _ if self.control.cancelled().is_some() => Outcome::Cancelled,
            _ if end.timed_out => Outcome::TimedOut,
            Some(Exit::Signal(signal)) => Outcome::Crashed {
                signal: process::signal_name(signal),
            },
            Some(Exit::Code(code)) if code != 0 && code != libtest::FAILURE_EXIT_CODE => {
                Outcome::Exited { exit_code: code }
            }
            // Ended cleanly without a verdict: the log was lost or unreadable.
            _ => return self.rerun_alone(case, !reader.was_started(&case.name)),
        };
        // Until the process ended, not until now: tests settled before this one may have run
        // again alone in between.
        let duration = reader.running().map_or(Duration::ZERO, |(_, since)| {
            end.ended.saturating_duration_since(since)
        });
        let mut attempt = Attempt::bare(1, outcome, duration);
        attempt.placement = self.placement(reader, &case.name);
        (attempt.stdout, attempt.stderr) = end.output.clone();
        attempt.backtrace_quieted = self.quiet;
        (self.emit)(TestEvent::TestFinished(batched(
            case,
            attempt,
            self.settings,
        )));
    }

    /// Run a test the chunk could not settle in its own process, with the usual retries.
    fn rerun_alone(&self, case: &TestCase, announce: bool) {
        let placer = self.placer.alone();
        if announce {
            (self.emit)(TestEvent::TestStarted {
                id: case.id(),
                placement: Some(placer.place(Instant::now())),
            });
        }
        let result = single::run_test(case, self.settings, self.control, placer, self.emit);
        (self.emit)(TestEvent::TestFinished(result));
    }
}

/// The output of a test that failed in its batch, passed alone, and whose batch output is lost.
const LOST_OUTPUT: &str = "This test failed in its batch, and the batch's process ended \
    before libtest printed the test's output. Run again alone, it passed: it may depend on a \
    test that ran before it in the batch.\n";

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
    let policy = settings.for_case(case).policy;
    TestResult::new(case.id(), vec![attempt], policy, true)
}
