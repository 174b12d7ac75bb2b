//! Runs ONE test in its own process and classifies how it ended.
//!
//! The command is the one `cargo test` would use for a single test (`<bin> --exact NAME
//! --nocapture`), started directly with no shell in between, in the package root, with the
//! environment cargo gives tests plus `RUNNER=1`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::libtest;
use crate::model::{Invocation, TestCase};
use crate::process::control::RunControl;
use crate::process::{self, Exit, Finished, Hooks, Limits};
use crate::report::event::{Attempt, Outcome, ResultPolicy, TestEvent, TestResult};

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
}

/// Run `case` to its final result, retrying failures; never fails: a test that cannot even
/// start is an outcome too. `emit` receives the slow and retry events as they happen.
pub fn run_test(
    case: &TestCase,
    settings: &TestSettings,
    control: &RunControl,
    emit: &dyn Fn(TestEvent),
) -> TestResult {
    let total_attempts = settings.retries + 1;
    let mut attempts = Vec::new();
    loop {
        let number = attempts.len() as u32 + 1;
        let attempt = run_attempt(case, settings, control, number, total_attempts, emit);
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
    let mut command = Command::new(&case.binary.path);
    command
        .args(case.args())
        .current_dir(&case.binary.cwd)
        .envs(&case.binary.env)
        .env("RUNNER", "1")
        .env("RUNNER_ATTEMPT", attempt.to_string())
        .env("RUNNER_TOTAL_ATTEMPTS", total_attempts.to_string());
    let id = case.id();
    let spill = settings.log_dir.as_ref().map(|dir| {
        dir.join(file_safe(&case.binary.id))
            .join(format!("{}-attempt{attempt}", file_safe(&case.name)))
    });
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
    let finished = match process::run(&mut command, &settings.limits, control, spill, hooks) {
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
        stdout: finished.stdout.to_text(),
        stderr: finished.stderr.to_text(),
        leaked: finished.leaked,
    };
    // A test that failed while the run was being cancelled was most likely ended by the
    // cancellation: its failure says nothing about the test.
    if settings.policy.attempt_fails(&result) && control.cancelled().is_some() {
        result.outcome = Outcome::Cancelled;
    }
    result
}

/// A test or binary name as a file name: path separators and odd characters become `_`.
pub(super) fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn classify(invocation: Invocation, finished: &Finished) -> Outcome {
    if finished.timed_out {
        return Outcome::TimedOut;
    }
    match (finished.exit, invocation) {
        (Exit::Signal(signal), _) => Outcome::Crashed {
            signal: process::signal_name(signal),
        },
        (Exit::Code(0), Invocation::Libtest) if libtest::ran_no_test(finished.stdout.head()) => {
            Outcome::NoTestRan
        }
        (Exit::Code(code), Invocation::Libtest) => libtest::outcome_of_exit_code(code),
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
            timed_out: false,
            leaked: false,
        }
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_safe("pkg::bin/x"), "pkg__bin_x");
        assert_eq!(file_safe("a::r#match"), "a__r_match");
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
