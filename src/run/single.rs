//! Runs ONE test in its own process and classifies how it ended.
//!
//! The command is the one `cargo test` would use for a single test (`<bin> --exact NAME
//! --nocapture`), started directly with no shell in between, in the package root, with the
//! environment cargo gives tests plus `RUNNER=1`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::backtraces::QuietBacktraces;
use super::setup::SetupRun;
use crate::cli::{Overrides, PerTest};
use crate::files;
use crate::launch::Launcher;
use crate::libtest;
use crate::model::{Invocation, TestCase};
use crate::process::control::RunControl;
use crate::process::{self, Exit, Finished, Hooks, Limits};
use crate::report::event::{
    Attempt, Outcome, OutputLogs, Placement, ResultPolicy, TestEvent, TestResult,
};
use std::sync::Arc;

/// How every test of a run is executed.
#[derive(Debug, Clone)]
pub struct TestSettings {
    pub limits: Limits,
    /// Extra attempts for a failed test.
    pub retries: u32,
    /// Whether leaky and flaky passes fail the run.
    pub policy: ResultPolicy,
    /// Directory for the full output of tests that print more than is kept in memory.
    pub log_dir: Option<PathBuf>,
    /// What test binaries start through (wrapper, target runner).
    pub launcher: Launcher,
    /// The run's setup scripts, when the profile scopes any to tests.
    pub setup: Option<Arc<SetupRun>>,
    /// Per-test settings that replace the ones above for the tests they match.
    pub overrides: Overrides,
    /// The tests whose first attempt leaves its panics' backtraces out.
    pub backtraces: Option<Arc<QuietBacktraces>>,
}

impl TestSettings {
    /// The settings `case` runs with: these, with what the overrides set for it.
    pub fn for_case(&self, case: &TestCase) -> Cow<'_, TestSettings> {
        if self.overrides.is_empty() {
            return Cow::Borrowed(self);
        }
        let own = self.overrides.for_case(case);
        if *own == PerTest::default() {
            return Cow::Borrowed(self);
        }
        let mut settings = self.clone();
        let limits = &mut settings.limits;
        limits.timeout = own.timeout.or(limits.timeout);
        limits.slow_period = own.slow_timeout.or(limits.slow_period);
        limits.grace = own.timeout_grace.unwrap_or(limits.grace);
        limits.leak_timeout = own.leak_timeout.unwrap_or(limits.leak_timeout);
        settings.retries = own.retries.unwrap_or(settings.retries);
        settings.policy.leak_fails = own.leak_fails.unwrap_or(settings.policy.leak_fails);
        settings.policy.flaky_fails = own.flaky_fails.unwrap_or(settings.policy.flaky_fails);
        Cow::Owned(settings)
    }
}

/// Where a job's attempts run and the clock of their pass: what each attempt's [`Placement`]
/// is made of.
#[derive(Debug, Clone, Copy)]
pub struct Placer {
    pub worker: usize,
    /// The batch chunk being run, if any (its job's index).
    pub chunk: Option<usize>,
    /// When the pass's workers started: starts are measured from here, like its wall time.
    pub pass_start: Instant,
}

impl Placer {
    /// The placement of an attempt that started at `at`.
    pub fn place(&self, at: Instant) -> Placement {
        Placement {
            worker: self.worker,
            start: at.saturating_duration_since(self.pass_start),
            chunk: self.chunk,
        }
    }

    /// The same worker, for a test run in a process of its own (a batch's rerun).
    pub fn alone(self) -> Placer {
        Placer {
            chunk: None,
            ..self
        }
    }
}

/// Run `case` to its final result, retrying failures; never fails: a test that cannot even
/// start is an outcome too. `emit` receives the slow and retry events as they happen.
pub fn run_test(
    case: &TestCase,
    settings: &TestSettings,
    control: &RunControl,
    placer: Placer,
    emit: &dyn Fn(TestEvent),
) -> TestResult {
    let settings = &*settings.for_case(case);
    let total_attempts = settings.retries + 1;
    let mut attempts = Vec::new();
    loop {
        let number = attempts.len() as u32 + 1;
        let began = Instant::now();
        let mut attempt = run_attempt(case, settings, control, number, total_attempts, emit);
        attempt.placement = Some(placer.place(began));
        let retry = settings.policy.attempt_fails(&attempt)
            && number < total_attempts
            && control.cancelled().is_none();
        if retry {
            emit(TestEvent::TestRetry {
                id: case.id(),
                failed: attempt.clone(),
            });
        }
        attempts.push(attempt);
        if !retry {
            return TestResult::new(case.id(), attempts, settings.policy, false);
        }
    }
}

fn run_attempt(
    case: &TestCase,
    settings: &TestSettings,
    control: &RunControl,
    attempt: u32,
    total_attempts: u32,
    emit: &dyn Fn(TestEvent),
) -> Attempt {
    let mut command = settings.launcher.command(&case.binary);
    command
        .args(case.args())
        .env("RUNNER", "1")
        .env("RUNNER_ATTEMPT", attempt.to_string())
        .env("RUNNER_TOTAL_ATTEMPTS", total_attempts.to_string());
    // A retry is of a failure: that one shows its backtrace.
    let quiet = (settings.backtraces.as_deref()).filter(|b| attempt == 1 && b.quiets(case));
    if let Some(quiet) = quiet {
        quiet.apply(&mut command);
    }
    let id = case.id();
    let spill = settings
        .log_dir
        .as_ref()
        .map(|dir| log_stem(dir, case, attempt));
    let mut on_slow = |elapsed| {
        emit(TestEvent::TestSlow {
            id: id.clone(),
            elapsed,
        })
    };
    let hooks = Hooks {
        on_slow: Some(&mut on_slow),
        on_stdout: None,
    };
    let finished = match process::run(
        &mut command,
        &settings.limits,
        control,
        spill.clone(),
        hooks,
    ) {
        Ok(finished) => finished,
        Err(e) => {
            let message = format!("{}: {e}", case.binary.path.display());
            return Attempt::bare(attempt, Outcome::SpawnFailed { message }, Duration::ZERO);
        }
    };
    let mut result = Attempt {
        attempt,
        outcome: classify(case.invocation, &finished),
        duration: finished.duration,
        cpu: Some(finished.cpu),
        cpu_pressure: finished.cpu_pressure,
        stdout: finished.stdout.to_text(),
        stderr: finished.stderr.to_text(),
        leaked: finished.leaked,
        backtrace_quieted: quiet.is_some(),
        // Set by `run_test`, which places every attempt, started or not, the same way.
        placement: None,
        logs: OutputLogs {
            stdout: finished.stdout.spill_path().map(Path::to_path_buf),
            stderr: finished.stderr.spill_path().map(Path::to_path_buf),
        },
    };
    // A test that failed while the run was being cancelled was most likely ended by the
    // cancellation: its failure says nothing about the test.
    if settings.policy.attempt_fails(&result) && control.cancelled().is_some() {
        result.outcome = Outcome::Cancelled;
    }
    if let Some(stem) = spill.filter(|_| settings.policy.attempt_fails(&result)) {
        save_failure_output(&mut result, &stem);
    }
    result
}

/// A failed attempt's output is saved whole, beside the logs of streams that outgrew memory,
/// so that a report showing only its last lines can point at all of it. Failures are few,
/// and their output is in memory already; a log that cannot be written is only not pointed at.
fn save_failure_output(attempt: &mut Attempt, stem: &Path) {
    let streams = [
        (&attempt.stdout, &mut attempt.logs.stdout, "stdout"),
        (&attempt.stderr, &mut attempt.logs.stderr, "stderr"),
    ];
    for (text, log, ext) in streams {
        if log.is_some() || text.is_empty() {
            continue;
        }
        let path = PathBuf::from(format!("{}.{ext}", stem.display()));
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        if written.is_ok() {
            *log = Some(path);
        }
    }
}

/// Where an attempt's full output goes if it outgrows memory (`.stdout`/`.stderr` are added):
/// named after the binary and the test, each with a hash of its exact text, so that names that
/// differ only in characters a file name cannot show (`m::x`, `m__x`) never share a log.
fn log_stem(dir: &Path, case: &TestCase, attempt: u32) -> PathBuf {
    dir.join(files::file_name_for(&case.binary.id))
        .join(format!(
            "{}-attempt{attempt}",
            files::file_name_for(&case.name)
        ))
}

fn classify(invocation: Invocation, finished: &Finished) -> Outcome {
    if finished.timed_out {
        return Outcome::TimedOut;
    }
    match (finished.exit, invocation) {
        (Exit::Signal(signal), _) => Outcome::Crashed {
            signal: process::signal_name(signal),
        },
        // A doctest never runs alone (see `doctest`); were it to, libtest would judge it.
        (Exit::Code(0), Invocation::Libtest | Invocation::Doctest)
            if libtest::ran_no_test(finished.stdout.head()) =>
        {
            Outcome::NoTestRan
        }
        (Exit::Code(code), Invocation::Libtest | Invocation::Doctest) => {
            libtest::outcome_of_exit_code(code)
        }
        (Exit::Code(0), Invocation::WholeBinary) => Outcome::Passed,
        (Exit::Code(code), Invocation::WholeBinary) => Outcome::Failed { exit_code: code },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::Captured;

    fn finished(exit: Exit, stdout: &str) -> Finished {
        Finished {
            exit,
            stdout: Captured::from_bytes(stdout.as_bytes()),
            stderr: Captured::default(),
            duration: Duration::ZERO,
            cpu: Duration::ZERO,
            cpu_pressure: None,
            timed_out: false,
            leaked: false,
        }
    }

    #[test]
    fn every_test_and_attempt_gets_its_own_log() {
        let binary = |id: &str| {
            std::sync::Arc::new(crate::model::TestBinary {
                id: id.into(),
                path: "/t/bin".into(),
                package: None,
                target_name: "bin".into(),
                kind: crate::model::TargetKind::Prebuilt,
                cwd: "/".into(),
                env: Default::default(),
                custom_harness: false,
            })
        };
        let case = |binary_id: &str, name: &str| TestCase {
            binary: binary(binary_id),
            name: name.into(),
            ignored: false,
            invocation: Invocation::Libtest,
        };
        let dir = Path::new("/logs");
        let stems = [
            log_stem(dir, &case("pkg", "m::x"), 1),
            log_stem(dir, &case("pkg", "m__x"), 1),
            log_stem(dir, &case("pkg", "r#match"), 1),
            log_stem(dir, &case("pkg", "r_match"), 1),
            log_stem(dir, &case("pkg", "m::x"), 2),
            log_stem(dir, &case("a b", "t"), 1),
            log_stem(dir, &case("a_b", "t"), 1),
        ];
        let distinct: std::collections::HashSet<_> = stems.iter().collect();
        assert_eq!(distinct.len(), stems.len(), "{stems:#?}");
        assert_eq!(log_stem(dir, &case("pkg", "m::x"), 1), stems[0]);
    }

    #[test]
    fn classification() {
        let lib = Invocation::Libtest;
        let ok = "\nrunning 1 test\ntest a ... ok\n";
        assert_eq!(classify(lib, &finished(Exit::Code(0), ok)), Outcome::Passed);
        assert_eq!(
            classify(lib, &finished(Exit::Code(0), "\nrunning 0 tests\n")),
            Outcome::NoTestRan
        );
        let banner = "\nrunning 1 test\nrunning 0 tests\ntest a ... ok\n";
        assert_eq!(
            classify(lib, &finished(Exit::Code(0), banner)),
            Outcome::Passed
        );
        assert_eq!(
            classify(lib, &finished(Exit::Code(101), ok)),
            Outcome::Failed { exit_code: 101 }
        );
        assert_eq!(
            classify(lib, &finished(Exit::Code(3), "")),
            Outcome::Exited { exit_code: 3 }
        );
        assert_eq!(
            classify(lib, &finished(Exit::Signal(6), "")),
            Outcome::Crashed {
                signal: "SIGABRT".into()
            }
        );
        let whole = Invocation::WholeBinary;
        assert_eq!(
            classify(whole, &finished(Exit::Code(1), "")),
            Outcome::Failed { exit_code: 1 }
        );
        assert_eq!(
            classify(whole, &finished(Exit::Code(0), "running 0 tests")),
            Outcome::Passed
        );
    }
}
