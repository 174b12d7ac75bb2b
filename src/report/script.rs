//! What the events say of a setup script: how it ended, what it exported, what it printed.

use std::time::Duration;

use serde::Serialize;

use super::event::{seconds, OutputLogs};

/// A setup script that ended.
#[derive(Debug, Clone, Serialize)]
pub struct ScriptReport {
    pub name: String,
    #[serde(flatten)]
    pub status: ScriptStatus,
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
    /// The names of the variables it exported to its tests (through `RUNNER_ENV`).
    pub exported: Vec<String>,
    /// The end of what it printed (the whole is in its log files).
    pub stdout: String,
    pub stderr: String,
    /// The files holding the whole of each stream.
    #[serde(skip)]
    pub logs: OutputLogs,
}

/// How a setup script ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ScriptStatus {
    Passed,
    /// Exited with a code other than 0.
    Failed {
        exit_code: i32,
    },
    /// Killed by a signal.
    Crashed {
        signal: String,
    },
    /// Ran past its `timeout` and was ended.
    TimedOut {
        timeout: String,
    },
    /// Could not be started.
    SpawnFailed {
        message: String,
    },
    /// Exited 0, but wrote something to `RUNNER_ENV` that is not a `KEY=VALUE` line.
    BadEnv {
        message: String,
    },
    /// The run was cancelled while it ran (or before it could).
    Cancelled,
}

impl ScriptStatus {
    pub fn is_success(&self) -> bool {
        *self == ScriptStatus::Passed
    }

    /// What became of it, as the end of a sentence starting with its name.
    pub fn describe(&self) -> String {
        match self {
            ScriptStatus::Passed => "passed".into(),
            ScriptStatus::Failed { exit_code } => format!("exited with code {exit_code}"),
            ScriptStatus::Crashed { signal } => format!("was killed by {signal}"),
            ScriptStatus::TimedOut { timeout } => format!("timed out after {timeout}"),
            ScriptStatus::SpawnFailed { message } => format!("could not be started: {message}"),
            ScriptStatus::BadEnv { message } => format!("wrote a bad RUNNER_ENV file: {message}"),
            ScriptStatus::Cancelled => "was cancelled".into(),
        }
    }
}
