//! A package's doctests as one job: one `cargo test --doc -p PKG` (cargo finds the library
//! built; rustdoc compiles and runs the selected examples on N threads), in which each doctest
//! is reported as it ends, with its own result, duration and output.
//!
//! Verdicts come only from libtest's log, which the job reads from a pipe (see `log_pipe`);
//! stdout gives each failure's output (see `libtest::ParallelReader`). Which doctests run is
//! chosen with words rustdoc passes on whole (see `rustdoc::subset`); a doctest that runs only
//! because words could not leave it out is not reported. A failed doctest with retries left,
//! and a doctest the process left without a record when it died, run again in a further
//! `cargo test --doc` of just those, so no result is lost; what the process was running when
//! it died, or what it never reached because cargo or rustdoc failed first, gets the process's
//! end as its outcome, with cargo's and rustdoc's output.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::doc_job::{job_cost_id, DocJob};
use super::log_pipe::LogPipe;
use super::single::TestSettings;
use crate::files;
use crate::libtest::{self, ParallelReader, Step, Verdict};
use crate::model::TestCase;
use crate::plan::discover::cargo_command;
use crate::plan::history::Observation;
use crate::process::control::RunControl;
use crate::process::{self, Exit, Finished, Hooks};
use crate::report::event::{Attempt, Outcome, SkipReason, TestEvent, TestResult};
use crate::rustdoc;

/// How long to let the job's output pile up between reads (see `Limits::coalesce`).
const READ_PAUSE: Duration = Duration::from_millis(2);

/// Run a package's doctests, giving each its events; returns the job's own cost (its time
/// outside libtest's runs) for the history, when its first round ran to its end.
pub fn run_doc_job(
    job: &DocJob,
    settings: &TestSettings,
    control: &RunControl,
    emit: &dyn Fn(TestEvent),
) -> Option<Observation> {
    let run = DocRun {
        job,
        settings,
        control,
        emit,
        attempts: RefCell::default(),
        announced: RefCell::default(),
    };
    let mut cases: Vec<&TestCase> = job.cases.iter().collect();
    let mut cost = None;
    let mut round = 1;
    while !cases.is_empty() {
        let end = match run.round(&cases, round) {
            Ok(end) => end,
            Err(message) => {
                for case in cases {
                    let outcome = Outcome::SpawnFailed {
                        message: message.clone(),
                    };
                    run.finish(
                        case,
                        Attempt::bare(run.attempt(case), outcome, Duration::ZERO),
                    );
                }
                break;
            }
        };
        if round == 1 && control.cancelled().is_none() {
            cost = end.own_cost();
        }
        cases.retain(|case| run.settle(case, &end));
        round += 1;
    }
    Some(Observation {
        id: job_cost_id(job.binary_id()),
        duration: cost?,
        failed: false,
        batched: false,
        // The job's own cost is cargo and rustdoc working, not a test's CPU share.
        cpu: None,
        panicked: None,
    })
}

/// How a round's process ended, and what it said.
struct RoundEnd {
    reader: ParallelReader,
    finished: Result<Finished, String>,
    wall: Duration,
    /// Some test got a record in this round, or is known to have been running when the
    /// process died: this round settles at least one test, so running again ends.
    progress: bool,
}

impl RoundEnd {
    /// The job's time outside libtest's runs, if the process ended as rustdoc ends.
    fn own_cost(&self) -> Option<Duration> {
        let done = self.finished.as_ref().ok()?;
        let clean = !done.timed_out && matches!(done.exit, Exit::Code(0 | 101));
        clean.then(|| self.wall.saturating_sub(self.reader.time_in_runs()))
    }

    /// The process's stdout and stderr, without libtest's warnings about the log.
    fn output(&self) -> (String, String) {
        match &self.finished {
            Ok(done) => (
                done.stdout.to_text(),
                libtest::without_logfile_warning(done.stderr.to_text()),
            ),
            Err(_) => Default::default(),
        }
    }
}

/// What every round of a job needs.
struct DocRun<'a> {
    job: &'a DocJob,
    settings: &'a TestSettings,
    control: &'a RunControl,
    emit: &'a dyn Fn(TestEvent),
    /// Failed attempts of each test so far, for its final result.
    attempts: RefCell<HashMap<String, Vec<Attempt>>>,
    announced: RefCell<HashSet<String>>,
}

impl DocRun<'_> {
    /// Run `cases` in one `cargo test --doc`, reporting passes as they come.
    fn round(&self, cases: &[&TestCase], round: u32) -> Result<RoundEnd, String> {
        let names: Vec<String> = cases.iter().map(|case| case.name.clone()).collect();
        let subset = rustdoc::subset(&self.job.listed, &names);
        let mut pipe = LogPipe::create().map_err(|e| format!("cannot create a log pipe: {e}"))?;
        let args = rustdoc::run_args(
            self.job.package(),
            &self.job.build,
            self.job.threads,
            self.job.include_ignored,
            pipe.path(),
            &subset,
        )
        .ok_or("the log pipe's path holds whitespace, which rustdoc would cut")?;
        let mut command = Command::new(cargo_command());
        command
            .args(args)
            .env("RUNNER", "1")
            .env("RUNNER_ATTEMPT", round.to_string())
            .env(
                "RUNNER_TOTAL_ATTEMPTS",
                (self.settings.retries + 1).to_string(),
            );
        let runs: Vec<&str> = subset.runs.iter().map(String::as_str).collect();
        let capture = &self.settings.limits.capture;
        let started = Instant::now();
        let threads = self.job.threads;
        let mut reader = ParallelReader::new(&runs, threads, (capture.head, capture.tail), started);
        let wanted: HashMap<&str, &TestCase> =
            cases.iter().map(|c| (c.name.as_str(), *c)).collect();
        let mut limits = self.settings.limits.clone();
        limits.timeout = limits.timeout.map(|t| t * runs.len().max(1) as u32);
        limits.slow_period = None;
        limits.coalesce = Some(READ_PAUSE);
        let mut on_stdout = |bytes: &[u8]| {
            let now = Instant::now();
            let mut steps = reader.read_log(pipe.read_new(), now);
            steps.extend(reader.read_stdout(bytes, now));
            self.give(steps, &wanted);
        };
        let hooks = Hooks {
            on_slow: None,
            on_stdout: Some(&mut on_stdout),
        };
        let spill = self.spill_stem(round);
        let finished = process::run(&mut command, &limits, self.control, spill, hooks)
            .map_err(|e| format!("could not run `{}`: {e}", cargo_command()));
        let steps = reader.read_log(pipe.read_new(), Instant::now());
        self.give(steps, &wanted);
        reader.finish_stdout();
        let progress = cases.iter().any(|case| {
            let name = case.name.as_str();
            reader.verdict(name).is_some() || reader.was_ignored(name) || reader.was_running(name)
        });
        Ok(RoundEnd {
            reader,
            finished,
            wall: started.elapsed(),
            progress,
        })
    }

    /// `<log dir>/<binary>/doctests-roundN.stdout|stderr`, beside the other tests' logs.
    fn spill_stem(&self, round: u32) -> Option<PathBuf> {
        let dir = self.settings.log_dir.as_ref()?;
        let binary = files::file_name_for(self.job.binary_id());
        Some(dir.join(binary).join(format!("doctests-round{round}")))
    }

    /// Give the events of what the log and the stream told.
    fn give(&self, steps: Vec<Step>, wanted: &HashMap<&str, &TestCase>) {
        for step in steps {
            let (Step::Started(name) | Step::Passed(name, _)) = &step;
            // A doctest that ran only because words could not leave it out is not reported.
            let Some(&case) = wanted.get(name.as_str()) else {
                continue;
            };
            match step {
                Step::Started(_) => self.announce(case),
                Step::Passed(_, duration) => {
                    let attempt = Attempt::bare(self.attempt(case), Outcome::Passed, duration);
                    self.finish(case, attempt);
                }
            }
        }
    }

    fn announce(&self, case: &TestCase) {
        if self.announced.borrow_mut().insert(case.name.clone()) {
            (self.emit)(TestEvent::TestStarted {
                id: case.id(),
                placement: None,
            });
        }
    }

    /// The number of the attempt `case` is on.
    fn attempt(&self, case: &TestCase) -> u32 {
        self.attempts.borrow().get(&case.name).map_or(0, Vec::len) as u32 + 1
    }

    /// Give `case` its final result: its earlier failed attempts, then `last`.
    fn finish(&self, case: &TestCase, last: Attempt) {
        self.announce(case);
        let mut attempts = self
            .attempts
            .borrow_mut()
            .remove(&case.name)
            .unwrap_or_default();
        attempts.push(last);
        let policy = self.settings.for_case(case).policy;
        let result = TestResult::new(case.id(), attempts, policy, true);
        (self.emit)(TestEvent::TestFinished(result));
    }

    /// Settle `case` after a round; true if it runs again in the next one.
    fn settle(&self, case: &TestCase, end: &RoundEnd) -> bool {
        let reader = &end.reader;
        let name = case.name.as_str();
        let cancelled = self.control.cancelled().is_some();
        let announced = self.announced.borrow().contains(name);
        match reader.verdict(name) {
            // Already reported as it happened.
            Some(Verdict::Passed(_)) => false,
            Some(Verdict::Failed(duration)) => self.failed(case, duration, end),
            None if reader.was_ignored(name) => {
                let (id, reason) = (case.id(), SkipReason::Ignored);
                (self.emit)(TestEvent::TestSkipped { id, reason });
                false
            }
            None if cancelled && !announced => {
                let (id, reason) = (case.id(), SkipReason::NotStarted);
                (self.emit)(TestEvent::TestSkipped { id, reason });
                false
            }
            None if cancelled => {
                let attempt = Attempt::bare(self.attempt(case), Outcome::Cancelled, Duration::ZERO);
                self.finish(case, attempt);
                false
            }
            None if self.runs_again(case, end) => true,
            None => {
                self.finish(case, self.cut_short(case, end));
                false
            }
        }
    }

    /// A failed doctest: run again if it has retries left, else its final result with the
    /// output libtest printed for it.
    fn failed(&self, case: &TestCase, duration: Duration, end: &RoundEnd) -> bool {
        let spilled = end.finished.as_ref().ok();
        let whole_in = spilled.and_then(|done| done.stdout.spill_path());
        let stdout = match end.reader.failure_output(&case.name, whole_in) {
            Some(output) => output,
            None if !end.reader.summary_read(&case.name) => LOST_OUTPUT.to_string(),
            None => String::new(),
        };
        let outcome = Outcome::Failed {
            exit_code: libtest::FAILURE_EXIT_CODE,
        };
        let mut attempt = Attempt::bare(self.attempt(case), outcome, duration);
        attempt.stdout = stdout;
        let retries_left = (attempt.attempt) <= self.settings.for_case(case).retries;
        if retries_left && self.control.cancelled().is_none() {
            let (id, failed) = (case.id(), attempt.clone());
            (self.emit)(TestEvent::TestRetry { id, failed });
            let mut attempts = self.attempts.borrow_mut();
            attempts.entry(case.name.clone()).or_default().push(attempt);
            return true;
        }
        self.finish(case, attempt);
        false
    }

    /// A doctest without a record runs again if the process died (or ran out of time) on
    /// other tests: it was not running this one, and the round settled some test, so that
    /// rounds end.
    fn runs_again(&self, case: &TestCase, end: &RoundEnd) -> bool {
        let died = match &end.finished {
            Ok(done) => done.timed_out || done.exit != Exit::Code(0),
            Err(_) => false,
        };
        died && end.progress && !end.reader.was_running(&case.name)
    }

    /// The attempt of a doctest the process ended without a record for: the process's end is
    /// its outcome, with the process's output.
    fn cut_short(&self, case: &TestCase, end: &RoundEnd) -> Attempt {
        let outcome = match &end.finished {
            Err(message) => Outcome::SpawnFailed {
                message: message.clone(),
            },
            Ok(done) if done.timed_out => Outcome::TimedOut,
            Ok(done) => match done.exit {
                Exit::Signal(signal) => Outcome::Crashed {
                    signal: process::signal_name(signal),
                },
                // rustdoc ended well and never ran it: the listing and the run disagree.
                Exit::Code(0) => Outcome::NoTestRan,
                Exit::Code(code) => libtest::outcome_of_exit_code(code),
            },
        };
        let duration = end.reader.running_for(&case.name).unwrap_or_default();
        let mut attempt = Attempt::bare(self.attempt(case), outcome, duration);
        (attempt.stdout, attempt.stderr) = end.output();
        attempt
    }
}

/// The output of a doctest that failed, when the process ended before libtest printed it.
const LOST_OUTPUT: &str = "This doctest failed, and its doctest job's process ended before \
    libtest printed the doctest's output.\n";
