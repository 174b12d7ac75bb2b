//! How one attempt of a test ended: the [`Outcome`] every report shows, with its label and the
//! sentence that says why a test did not pass.

use serde::Serialize;

/// How one attempt of a test ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    /// libtest reported a failure (exit code 101), or a whole-binary harness exited non-zero.
    Failed {
        exit_code: i32,
    },
    /// Killed by a signal.
    Crashed {
        signal: String,
    },
    /// The process called `exit` with a code libtest never uses.
    Exited {
        exit_code: i32,
    },
    /// `--exact NAME` matched nothing: the binary ran zero tests.
    NoTestRan,
    /// Ran past `--timeout` and was terminated.
    TimedOut,
    /// The test could not be started at all.
    SpawnFailed {
        message: String,
    },
    /// Stopped by a cancelled run (Ctrl-C, SIGTERM, SIGHUP) before it could finish.
    Cancelled,
    /// The runner itself failed while running this test (a bug in the runner).
    InternalError {
        message: String,
    },
    /// Not run: a setup script it needs did not pass (`reason` says how it ended).
    SetupFailed {
        script: String,
        reason: String,
    },
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Passed)
    }

    /// A short upper-case label for line-oriented output.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "PASS",
            Outcome::Failed { .. } => "FAIL",
            Outcome::Crashed { .. } => "CRASH",
            Outcome::Exited { .. } => "EXIT",
            Outcome::NoTestRan => "NOTEST",
            Outcome::TimedOut => "TIMEOUT",
            Outcome::SpawnFailed { .. } => "ERROR",
            Outcome::Cancelled => "CANCEL",
            Outcome::InternalError { .. } => "ERROR",
            Outcome::SetupFailed { .. } => "SETUP",
        }
    }

    /// One sentence on why a non-passing test did not pass.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Passed => "passed".into(),
            Outcome::Failed { exit_code } => format!("failed (exit code {exit_code})"),
            Outcome::Crashed { signal } => format!("crashed: killed by {signal}"),
            Outcome::Exited { exit_code } => {
                format!("the test process exited with code {exit_code}")
            }
            Outcome::NoTestRan => {
                "ran no test: `--exact` matched nothing in the binary (was it renamed?)".into()
            }
            Outcome::TimedOut => "timed out".into(),
            Outcome::SpawnFailed { message } => format!("could not be started: {message}"),
            Outcome::Cancelled => "cancelled: the run was interrupted while it ran".into(),
            Outcome::InternalError { message } => format!("runner internal error: {message}"),
            Outcome::SetupFailed { script, reason } => {
                format!("not run: its setup script '{script}' {reason}")
            }
        }
    }
}
