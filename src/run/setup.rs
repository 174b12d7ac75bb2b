//! Setup scripts during a run: each runs once, when the first test that needs it is about to
//! start (never when no selected test needs it), while the other workers that need it wait;
//! the variables it exports go to the tests it applies to, and when it does not pass, those
//! tests fail without running, with the reason, while every other test runs as usual.
//!
//! A script exports variables by writing `KEY=VALUE` lines to the file named by `RUNNER_ENV`.
//! What a script leaves running (a server) lives until [`SetupRun::end`], at the end of the run.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::cli::{SetupConfig, SetupScript};
use crate::files;
use crate::filter::TestFacts;
use crate::model::{TestBinary, TestCase};
use crate::process::control::RunControl;
use crate::process::{self, Exit, Leftovers, Limits};
use crate::report::event::{Outcome, OutputLogs, ScriptReport, ScriptStatus, TestEvent};

/// The variable naming the file a script writes its exports to.
pub const ENV_VARIABLE: &str = "RUNNER_ENV";

/// How much of the end of each stream a script's report carries.
const SHOWN_BYTES: u64 = 16 * 1024;

/// The setup scripts of one run, shared by its workers (and its passes, under a comparison).
#[derive(Debug)]
pub struct SetupRun {
    config: SetupConfig,
    /// Where each script's output and exports are written.
    dir: PathBuf,
    grace: Duration,
    states: Mutex<Vec<State>>,
    changed: Condvar,
    leftovers: Mutex<Vec<Leftovers>>,
}

/// Where one script stands.
#[derive(Debug, Clone)]
enum State {
    Pending,
    Running,
    /// Its exports, or the outcome of the tests that need it.
    Done(Result<Vec<(String, String)>, Outcome>),
}

impl SetupRun {
    /// `dir` holds the scripts' logs; `grace` is the time between SIGTERM and SIGKILL.
    pub fn new(config: &SetupConfig, dir: &Path, grace: Duration) -> Self {
        SetupRun {
            states: Mutex::new(vec![State::Pending; config.scripts.len()]),
            config: config.clone(),
            dir: dir.join("setup-scripts"),
            grace,
            changed: Condvar::new(),
            leftovers: Mutex::new(Vec::new()),
        }
    }

    /// Run the scripts `case` needs that have not run yet, waiting for those another worker
    /// is running; returns the variables they exported, or the outcome that fails the test.
    pub fn prepare(
        &self,
        case: &TestCase,
        control: &RunControl,
        emit: &dyn Fn(TestEvent),
    ) -> Result<Vec<(String, String)>, Outcome> {
        let mut env = Vec::new();
        for script in self.config.scripts_for(&TestFacts::of(case, None)) {
            env.extend(self.ensure(script, control, emit)?);
        }
        Ok(env)
    }

    /// The result of script `index`, running it if no one has.
    fn ensure(
        &self,
        index: usize,
        control: &RunControl,
        emit: &dyn Fn(TestEvent),
    ) -> Result<Vec<(String, String)>, Outcome> {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match &states[index] {
                State::Done(result) => return result.clone(),
                State::Running => {
                    states = self.changed.wait(states).unwrap_or_else(|e| e.into_inner());
                }
                State::Pending => break,
            }
        }
        states[index] = State::Running;
        drop(states);
        let mut settled = Settle {
            run: self,
            index,
            result: None,
        };
        let result = self.run(&self.config.scripts[index], control, emit);
        settled.result = Some(result.clone());
        result
    }

    /// Run one script, reporting its start and end.
    fn run(
        &self,
        script: &SetupScript,
        control: &RunControl,
        emit: &dyn Fn(TestEvent),
    ) -> Result<Vec<(String, String)>, Outcome> {
        emit(TestEvent::SetupScriptStarted {
            name: script.name.clone(),
            command: shell_words::join(&script.command),
        });
        let paths = ScriptFiles::new(&self.dir, &script.name);
        let (status, duration, exported) = match control.cancelled() {
            Some(_) => (ScriptStatus::Cancelled, Duration::ZERO, Vec::new()),
            None => self.execute(script, control, &paths),
        };
        let names = exported.iter().map(|(key, _)| key.clone()).collect();
        emit(TestEvent::SetupScriptFinished(ScriptReport {
            name: script.name.clone(),
            status: status.clone(),
            duration,
            exported: names,
            stdout: tail(&paths.stdout),
            stderr: tail(&paths.stderr),
            logs: OutputLogs {
                stdout: Some(paths.stdout.clone()),
                stderr: Some(paths.stderr.clone()),
            },
        }));
        match status {
            ScriptStatus::Passed => Ok(exported),
            ScriptStatus::Cancelled => Err(Outcome::Cancelled),
            failed => Err(Outcome::SetupFailed {
                script: script.name.clone(),
                reason: failed.describe(),
            }),
        }
    }

    /// Start the script in the config's directory with `RUNNER_ENV` set, wait for its end,
    /// and read its exports.
    fn execute(
        &self,
        script: &SetupScript,
        control: &RunControl,
        paths: &ScriptFiles,
    ) -> (ScriptStatus, Duration, Vec<(String, String)>) {
        let streams = match paths.create() {
            Ok(streams) => streams,
            Err(e) => {
                let message = format!("cannot create its files in {}: {e}", self.dir.display());
                return (
                    ScriptStatus::SpawnFailed { message },
                    Duration::ZERO,
                    Vec::new(),
                );
            }
        };
        let mut command = Command::new(&script.command[0]);
        command
            .args(&script.command[1..])
            .current_dir(&self.config.dir)
            .env(ENV_VARIABLE, &paths.env)
            .env("RUNNER", "1");
        let limits = Limits {
            timeout: script.timeout,
            grace: self.grace,
            ..Limits::default()
        };
        let end = match process::run_script(&mut command, &limits, control, streams) {
            Ok(end) => end,
            Err(e) => {
                let message = format!("{}: {e}", script.command[0]);
                return (
                    ScriptStatus::SpawnFailed { message },
                    Duration::ZERO,
                    Vec::new(),
                );
            }
        };
        self.leftovers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(end.leftovers.clone());
        let status = match (end.exit, end.timed_out) {
            _ if control.cancelled().is_some() => ScriptStatus::Cancelled,
            (_, true) => ScriptStatus::TimedOut {
                timeout: humantime::format_duration(script.timeout.unwrap_or_default()).to_string(),
            },
            (Exit::Code(0), false) => ScriptStatus::Passed,
            (Exit::Code(exit_code), false) => ScriptStatus::Failed { exit_code },
            (Exit::Signal(signal), false) => ScriptStatus::Crashed {
                signal: process::signal_name(signal),
            },
        };
        if status != ScriptStatus::Passed {
            return (status, end.duration, Vec::new());
        }
        let text = std::fs::read(&paths.env).unwrap_or_default();
        match parse_exports(&String::from_utf8_lossy(&text)) {
            Ok(exported) => (status, end.duration, exported),
            Err(message) => (ScriptStatus::BadEnv { message }, end.duration, Vec::new()),
        }
    }

    /// End what the scripts left running; returns how many processes that was.
    pub fn end(&self) -> usize {
        let leftovers =
            std::mem::take(&mut *self.leftovers.lock().unwrap_or_else(|e| e.into_inner()));
        process::end_leftovers(&leftovers, self.grace)
    }
}

/// Records a script's result for the workers waiting on it when dropped, also when running
/// it panicked (the pool turns the panic into results for its own job's tests): no waiting
/// worker is left blocked.
struct Settle<'a> {
    run: &'a SetupRun,
    index: usize,
    result: Option<Result<Vec<(String, String)>, Outcome>>,
}

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        let result = self.result.take().unwrap_or_else(|| {
            Err(Outcome::InternalError {
                message: "running the setup script panicked".into(),
            })
        });
        let mut states = self.run.states.lock().unwrap_or_else(|e| e.into_inner());
        states[self.index] = State::Done(result);
        self.run.changed.notify_all();
    }
}

/// `case`, with the variables its scripts exported added to its environment.
pub fn with_exports(case: &TestCase, exports: Vec<(String, String)>) -> Cow<'_, TestCase> {
    if exports.is_empty() {
        return Cow::Borrowed(case);
    }
    let mut binary = TestBinary::clone(&case.binary);
    binary.env.extend(exports);
    Cow::Owned(TestCase {
        binary: Arc::new(binary),
        ..case.clone()
    })
}

/// A script's output files and its exports file.
struct ScriptFiles {
    stdout: PathBuf,
    stderr: PathBuf,
    env: PathBuf,
}

impl ScriptFiles {
    fn new(dir: &Path, name: &str) -> Self {
        let stem = dir.join(files::file_name_for(name));
        let with = |ext: &str| PathBuf::from(format!("{}.{ext}", stem.display()));
        ScriptFiles {
            stdout: with("stdout"),
            stderr: with("stderr"),
            env: with("env"),
        }
    }

    /// The two output files, created empty, and the exports file, empty.
    fn create(&self) -> std::io::Result<(std::fs::File, std::fs::File)> {
        if let Some(dir) = self.env.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::File::create(&self.env)?;
        Ok((
            std::fs::File::create(&self.stdout)?,
            std::fs::File::create(&self.stderr)?,
        ))
    }
}

/// The last [`SHOWN_BYTES`] of a file, as text.
fn tail(path: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(SHOWN_BYTES)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The `KEY=VALUE` lines a script wrote to `RUNNER_ENV`: blank lines are skipped; a key is a
/// letter or `_` followed by letters, digits and `_`, and not one of the runner's own
/// (`RUNNER*`); the value is the rest of the line, as written.
pub fn parse_exports(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut exports = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("line {}, {line:?}", number + 1);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("{}: not KEY=VALUE", at()));
        };
        let mut chars = key.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "{}: {key:?} is not a variable name (letters, digits and _, not starting with a digit)",
                at()
            ));
        }
        if key.starts_with("RUNNER") {
            return Err(format!(
                "{}: variables named RUNNER* are the runner's own",
                at()
            ));
        }
        exports.push((key.to_string(), value.to_string()));
    }
    Ok(exports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::ScriptScope;
    use crate::filter::Filter;
    use crate::model::{Invocation, TargetKind};

    fn case(name: &str) -> TestCase {
        let binary = TestBinary {
            id: "p".into(),
            path: "/bin/true".into(),
            package: Some("p".into()),
            target_name: "p".into(),
            kind: TargetKind::Lib,
            cwd: "/".into(),
            env: Default::default(),
            custom_harness: false,
        };
        TestCase {
            binary: Arc::new(binary),
            name: name.into(),
            ignored: false,
            invocation: Invocation::Libtest,
        }
    }

    #[test]
    fn a_script_runs_once_for_every_worker_that_needs_it() {
        let dir = tempfile::tempdir().unwrap();
        let script = SetupScript {
            name: "count".into(),
            command: vec![
                "sh".into(),
                "-c".into(),
                "echo ran >> runs; echo TOKEN=42 >> \"$RUNNER_ENV\"".into(),
            ],
            timeout: None,
        };
        let config = SetupConfig {
            scripts: vec![script],
            scopes: vec![ScriptScope {
                filter: Filter::parse_config("test(~needs)").unwrap(),
                scripts: vec![0],
            }],
            dir: dir.path().to_path_buf(),
        };
        let setup = SetupRun::new(&config, dir.path(), Duration::from_secs(1));
        let control = RunControl::new();
        let events = Mutex::new(Vec::new());
        let emit = |event: TestEvent| events.lock().unwrap().push(event);
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    let exports = setup.prepare(&case("needs_it"), &control, &emit).unwrap();
                    assert_eq!(exports, [("TOKEN".to_string(), "42".to_string())]);
                });
            }
        });
        assert_eq!(
            setup.prepare(&case("other"), &control, &emit),
            Ok(Vec::new())
        );
        let runs = std::fs::read_to_string(dir.path().join("runs")).unwrap();
        assert_eq!(runs, "ran\n");
        let events = events.into_inner().unwrap();
        assert_eq!(events.len(), 2, "one start and one end: {events:?}");
        let needs = case("needs_it");
        let with = with_exports(&needs, vec![("TOKEN".into(), "42".into())]);
        assert_eq!(with.binary.env.get("TOKEN").map(String::as_str), Some("42"));
        assert_eq!(setup.end(), 0);
    }

    #[test]
    fn a_script_that_cannot_start_fails_its_tests_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let config = SetupConfig {
            scripts: vec![SetupScript {
                name: "missing".into(),
                command: vec!["/no/such/program".into()],
                timeout: None,
            }],
            scopes: vec![ScriptScope {
                filter: Filter::parse_config("all()").unwrap(),
                scripts: vec![0],
            }],
            dir: dir.path().to_path_buf(),
        };
        let setup = SetupRun::new(&config, dir.path(), Duration::from_secs(1));
        let outcome = setup
            .prepare(&case("t"), &RunControl::new(), &|_| {})
            .unwrap_err();
        let Outcome::SetupFailed { script, reason } = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(script, "missing");
        assert!(
            reason.starts_with("could not be started: /no/such/program: "),
            "{reason}"
        );
    }

    #[test]
    fn exports_are_checked_key_value_lines() {
        let parsed = parse_exports("ADDR=127.0.0.1:8000\n\nURL=http://x/?a=b\r\n_X1=\n").unwrap();
        let expected = [
            ("ADDR", "127.0.0.1:8000"),
            ("URL", "http://x/?a=b"),
            ("_X1", ""),
        ];
        assert_eq!(
            parsed,
            expected.map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let cases = [
            ("ADDR\n", "line 1, \"ADDR\": not KEY=VALUE"),
            (
                "A=1\n1X=2\n",
                "line 2, \"1X=2\": \"1X\" is not a variable name",
            ),
            (
                "MY VAR=1\n",
                "line 1, \"MY VAR=1\": \"MY VAR\" is not a variable name",
            ),
            ("=1\n", "line 1, \"=1\": \"\" is not a variable name"),
            (
                "RUNNER_ATTEMPT=3\n",
                "variables named RUNNER* are the runner's own",
            ),
        ];
        for (text, expected) in cases {
            let err = parse_exports(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
