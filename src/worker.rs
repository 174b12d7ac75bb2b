//! Runs ONE test in its own process and classifies how it ended.
//!
//! The command is the one `cargo test` would use for a single test (`<bin> --exact NAME
//! --nocapture`), started directly with no shell in between, in the package root, with the
//! environment cargo gives tests plus `RUNNER=1`.

use std::process::Command;
use std::time::Duration;

use crate::event::{Outcome, TestResult};
use crate::model::{Invocation, TestCase};
use crate::process::{self, Exit, Finished, Limits};

/// libtest exits with this code when a test fails.
const LIBTEST_FAILURE_CODE: i32 = 101;

/// Run `case` to completion; never fails: a test that cannot even start is an outcome too.
pub fn run_test(case: &TestCase, limits: &Limits, on_slow: impl FnMut(Duration)) -> TestResult {
    let mut command = Command::new(&case.binary.path);
    command
        .args(case.args())
        .current_dir(&case.binary.cwd)
        .envs(&case.binary.env)
        .env("RUNNER", "1");
    let id = case.id();
    match process::run(&mut command, limits, on_slow) {
        Ok(finished) => TestResult {
            id,
            outcome: classify(case.invocation, &finished),
            duration: finished.duration,
            stdout: finished.stdout.to_text(),
            stderr: finished.stderr.to_text(),
            leaked: finished.leaked,
            rerun: None,
        },
        Err(e) => TestResult {
            id,
            outcome: Outcome::SpawnFailed {
                message: format!("{}: {e}", case.binary.path.display()),
            },
            duration: Duration::ZERO,
            stdout: String::new(),
            stderr: String::new(),
            leaked: false,
            rerun: None,
        },
    }
}

fn classify(invocation: Invocation, finished: &Finished) -> Outcome {
    if finished.timed_out {
        return Outcome::TimedOut;
    }
    match (finished.exit, invocation) {
        (Exit::Signal(signal), _) => Outcome::Crashed {
            signal: process::signal_name(signal),
        },
        (Exit::Code(0), Invocation::Libtest) if ran_no_test(&finished.stdout.to_text()) => {
            Outcome::NoTestRan
        }
        (Exit::Code(0), _) => Outcome::Passed,
        (Exit::Code(code), Invocation::WholeBinary) => Outcome::Failed { exit_code: code },
        (Exit::Code(LIBTEST_FAILURE_CODE), Invocation::Libtest) => Outcome::Failed {
            exit_code: LIBTEST_FAILURE_CODE,
        },
        (Exit::Code(code), Invocation::Libtest) => Outcome::Exited { exit_code: code },
    }
}

/// libtest prints `running 0 tests` when `--exact NAME` matched nothing, and still exits 0.
fn ran_no_test(stdout: &str) -> bool {
    stdout.lines().any(|line| line.trim() == "running 0 tests")
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
    fn classification() {
        let lib = Invocation::Libtest;
        let ok = "\nrunning 1 test\ntest a ... ok\n";
        assert_eq!(classify(lib, &finished(Exit::Code(0), ok)), Outcome::Passed);
        assert_eq!(
            classify(lib, &finished(Exit::Code(0), "\nrunning 0 tests\n")),
            Outcome::NoTestRan
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
