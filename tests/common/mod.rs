//! Helpers for driving the built `runner` binary the way a user would.
//!
//! Every run gets a clean, deterministic environment (no inherited `RUNNER*` settings,
//! `NO_COLOR`, rendezvous settings or cargo colours; `RUST_BACKTRACE=0`), and fixture runs always
//! build into one shared target directory under `CARGO_TARGET_TMPDIR`, so each fixture crate is
//! compiled once per checkout and the repository stays clean.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use serde_json::Value;

/// A hang guard only: a run that takes this long is killed and the test fails. It is never
/// used to judge speed.
const HANG_GUARD: Duration = Duration::from_secs(300);

/// `(binary_id, test name)`.
pub type TestKey = (String, String);

pub fn runner_exe() -> &'static str {
    env!("CARGO_BIN_EXE_runner")
}

/// The one target directory every fixture build shares.
pub fn shared_target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures")
}

pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

pub fn fixture_manifest(name: &str) -> PathBuf {
    fixture_dir(name).join("Cargo.toml")
}

/// Variables of CI systems the runner reacts to; every run starts without them so that a CI
/// machine running these suites does not change what the tests see (or receive our
/// annotations for the fixtures' deliberate failures).
pub const CI_VARIABLES: [&str; 21] = [
    "GITHUB_ACTIONS",
    "GITHUB_STEP_SUMMARY",
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "CIRCLE_NODE_INDEX",
    "CIRCLE_NODE_TOTAL",
    "BUILDKITE_PARALLEL_JOB",
    "BUILDKITE_PARALLEL_JOB_COUNT",
    "TEST_SHARD_INDEX",
    "TEST_TOTAL_SHARDS",
    "TEST_SHARD_STATUS_FILE",
    "SEMAPHORE_JOB_INDEX",
    "SEMAPHORE_JOB_COUNT",
    "SYSTEM_JOBPOSITIONINPHASE",
    "SYSTEM_TOTALJOBSINPHASE",
    "BITBUCKET_PARALLEL_STEP",
    "BITBUCKET_PARALLEL_STEP_COUNT",
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "AWS_BATCH_JOB_ARRAY_SIZE",
    "JOB_COMPLETION_INDEX",
    "JOB_COMPLETIONS",
];

/// Remove every inherited setting that would change what the runner prints, and ask for
/// short panics (`RUST_BACKTRACE=0`).
pub fn clean_environment(command: &mut Command) {
    // Any setting of the runner's own (RUNNER_JOBS, RUNNER_PROFILE, ...) in the caller's
    // environment would change what these tests see.
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("RUNNER") {
            command.env_remove(var);
        }
    }
    let others = [
        "NO_COLOR",
        "CLICOLOR_FORCE",
        "CARGO_TERM_COLOR",
        "RENDEZVOUS_DIR",
        "RENDEZVOUS_TIMEOUT_MS",
        "CARGO_TARGET_DIR",
        "FAULTS_DIR",
    ];
    for var in others.iter().chain(CI_VARIABLES.iter()) {
        command.env_remove(var);
    }
    command.env("RUST_BACKTRACE", "0");
}

/// `runner` with a controlled environment and no arguments yet.
pub fn runner_command() -> Command {
    let mut command = Command::new(runner_exe());
    clean_environment(&mut command);
    command
}

/// `--manifest-path <fixture> --target-dir <shared>` for a manifest.
pub fn cargo_args(manifest: &Path) -> Vec<OsString> {
    vec![
        "--manifest-path".into(),
        manifest.into(),
        "--target-dir".into(),
        shared_target_dir().into(),
    ]
}

/// What one `runner` invocation did.
pub struct Run {
    pub args: Vec<OsString>,
    pub code: i32,
    pub raw_stdout: Vec<u8>,
    pub raw_stderr: Vec<u8>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Everything needed to understand a failed assertion.
    pub fn context(&self) -> String {
        fn clip(text: &str) -> String {
            const MAX: usize = 6000;
            if text.len() <= MAX {
                return text.to_string();
            }
            let mut start = text.len() - MAX;
            while !text.is_char_boundary(start) {
                start += 1;
            }
            format!("[...]{}", &text[start..])
        }
        format!(
            "\n--- runner {:?}\n--- exit code {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args,
            self.code,
            clip(&self.stdout),
            clip(&self.stderr)
        )
    }

    pub fn assert_code(&self, expected: i32) {
        assert_eq!(
            self.code,
            expected,
            "unexpected exit code{}",
            self.context()
        );
    }

    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    pub fn last_stdout_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or("")
    }

    /// Every stdout line parsed as one JSON object (`--message-format json`).
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                let value: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!("stdout line is not JSON ({e}): {line:?}{}", self.context())
                });
                assert!(
                    value.get("type").and_then(Value::as_str).is_some(),
                    "event without a string \"type\": {line}{}",
                    self.context()
                );
                value
            })
            .collect()
    }
}

/// Run `runner` with `args`, after letting `configure` adjust the command (env, cwd).
pub fn run_with<I, S>(args: I, configure: impl FnOnce(&mut Command)) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let mut command = runner_command();
    command.args(&args);
    configure(&mut command);
    execute(command, args)
}

pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_with(args, |_| {})
}

/// Run `runner <args> --manifest-path <fixture> --target-dir <shared>`.
pub fn run_fixture_with(fixture: &str, args: &[&str], configure: impl FnOnce(&mut Command)) -> Run {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    all.extend(cargo_args(&fixture_manifest(fixture)));
    run_with(all, configure)
}

pub fn run_fixture(fixture: &str, args: &[&str]) -> Run {
    run_fixture_with(fixture, args, |_| {})
}

/// Run a fully prepared command (program and arguments set), with the hang guard.
pub fn execute(command: Command, args: Vec<OsString>) -> Run {
    Running::spawn(command, args).wait()
}

/// The exact closing line of every human report.
pub fn summary_line(passed: usize, failed: usize, skipped: usize) -> String {
    format!("Summary: {passed} passed, {failed} failed, {skipped} skipped")
}

/// `tests/fixtures/outcomes/expected.txt` as `(binary_id, name) -> PASS|FAIL|CRASH|EXIT|SKIP`.
pub fn expected_outcomes() -> BTreeMap<TestKey, String> {
    let path = fixture_dir("outcomes").join("expected.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut table = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [binary, name, outcome] = fields[..] else {
            panic!("malformed line in expected.txt: {line:?}");
        };
        assert!(
            ["PASS", "FAIL", "CRASH", "EXIT", "SKIP"].contains(&outcome),
            "unknown outcome in expected.txt: {line:?}"
        );
        let previous = table.insert((binary.to_string(), name.to_string()), outcome.to_string());
        assert!(
            previous.is_none(),
            "duplicate line in expected.txt: {line:?}"
        );
    }
    table
}

/// (passed, failed, skipped) as the Summary line should count them for a table of labels.
pub fn counts(table: &BTreeMap<TestKey, String>) -> (usize, usize, usize) {
    let passed = table.values().filter(|l| *l == "PASS").count();
    let skipped = table.values().filter(|l| *l == "SKIP").count();
    (passed, table.len() - passed - skipped, skipped)
}

pub fn event_type(event: &Value) -> &str {
    event["type"].as_str().unwrap_or("")
}

pub fn events_of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| event_type(e) == kind).collect()
}

pub fn key_of(event: &Value) -> TestKey {
    let field = |name: &str| {
        event[name]
            .as_str()
            .unwrap_or_else(|| panic!("event without a string {name:?}: {event}"))
            .to_string()
    };
    (field("binary_id"), field("name"))
}

/// Map a final event to the label expected.txt uses; anything unexpected keeps its raw status
/// so that a mismatch shows what happened.
pub fn label_of(event: &Value) -> String {
    match event_type(event) {
        "test-skipped" => "SKIP".to_string(),
        "test-finished" => match event["status"].as_str().unwrap_or("<no status>") {
            "passed" => "PASS".to_string(),
            "failed" => "FAIL".to_string(),
            "crashed" => "CRASH".to_string(),
            "exited" => "EXIT".to_string(),
            other => other.to_string(),
        },
        other => panic!("not a final event: {other}"),
    }
}

/// Every test's one final event (test-finished or test-skipped); panics on a duplicate.
pub fn final_events(events: &[Value]) -> BTreeMap<TestKey, &Value> {
    let mut finals = BTreeMap::new();
    for event in events {
        if matches!(event_type(event), "test-finished" | "test-skipped") {
            let key = key_of(event);
            if let Some(first) = finals.insert(key.clone(), event) {
                panic!("{key:?} has more than one final event:\n{first}\n{event}");
            }
        }
    }
    finals
}

/// Names of the tests that finished (ran), by key, with their status.
pub fn finished(events: &[Value]) -> BTreeMap<TestKey, String> {
    events_of(events, "test-finished")
        .into_iter()
        .map(|e| (key_of(e), e["status"].as_str().unwrap_or("").to_string()))
        .collect()
}

pub fn key(binary_id: &str, name: &str) -> TestKey {
    (binary_id.to_string(), name.to_string())
}

/// One `-v` status line: `{LABEL:>8} [{secs:>8.3}s] {binary_id} {test_name}`, or eleven blanks
/// instead of the bracketed time for skipped tests and the closing failure list.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusLine {
    pub label: String,
    pub secs: Option<f64>,
    pub key: TestKey,
}

pub const LABELS: [&str; 10] = [
    "PASS", "FAIL", "CRASH", "EXIT", "NOTEST", "TIMEOUT", "ERROR", "LEAKY", "SKIP", "NOTRUN",
];

pub fn parse_status_line(line: &str) -> Option<StatusLine> {
    let label_field = line.get(..8)?;
    let label = label_field.trim_start();
    if !LABELS.contains(&label) || label_field != format!("{label:>8}") {
        return None;
    }
    let rest = line.get(8..)?.strip_prefix(' ')?;
    let time_field = rest.get(..11)?;
    let secs = if time_field.bytes().all(|b| b == b' ') {
        None
    } else {
        let inner = time_field.strip_prefix('[')?.strip_suffix("s]")?;
        let value: f64 = inner.trim_start().parse().ok()?;
        // `{:>8.3}`: right-aligned in eight columns, three decimals.
        if inner != format!("{value:>8.3}") {
            return None;
        }
        Some(value)
    };
    let id = rest.get(11..)?.strip_prefix(' ')?;
    let (binary_id, name) = id.split_once(' ')?;
    if binary_id.is_empty() || name.is_empty() {
        return None;
    }
    Some(StatusLine {
        label: label.to_string(),
        secs,
        key: key(binary_id, name),
    })
}

/// An executable shell script in `dir`, used as a fake test binary.
pub fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
    path
}

/// A throwaway crate (its own workspace root) with `lib_rs` as its library.
pub fn temp_crate(name: &str, lib_rs: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("src")).expect("mkdir src");
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             publish = false\n\n[workspace]\n"
        ),
    )
    .expect("write Cargo.toml");
    std::fs::write(dir.path().join("src").join("lib.rs"), lib_rs).expect("write lib.rs");
    dir
}

/// A runner started in the background, its output read as it comes.
pub struct Running {
    child: Child,
    args: Vec<OsString>,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Running {
    /// Start `command` with `args` added.
    pub fn start(mut command: Command, args: Vec<OsString>) -> Running {
        command.args(&args);
        Running::spawn(command, args)
    }

    /// Start a command whose arguments are already set; `args` only names it in messages.
    pub fn spawn(mut command: Command, args: Vec<OsString>) -> Running {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start runner {args:?}: {e}"));
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                buf
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("stdout is piped")));
        let stderr = drain(Box::new(child.stderr.take().expect("stderr is piped")));
        Running {
            child,
            args,
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    pub fn has_exited(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("waiting for the runner")
            .is_some()
    }

    /// Wait for the runner's exit (bounded by the hang guard) and collect its output.
    pub fn wait(mut self) -> Run {
        let deadline = Instant::now() + HANG_GUARD;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the runner") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "runner {:?} did not finish within {HANG_GUARD:?} (hang guard)",
                    self.args
                );
            }
            // Fine-grained, so the time to exit after a signal can be read off.
            std::thread::sleep(Duration::from_millis(1));
        };
        let collect = |handle: Option<JoinHandle<Vec<u8>>>| {
            handle.expect("collected once").join().expect("pipe reader")
        };
        let raw_stdout = collect(self.stdout.take());
        let raw_stderr = collect(self.stderr.take());
        let stderr = String::from_utf8_lossy(&raw_stderr).into_owned();
        // A runner killed by a signal reports it as a shell does: 128 + the signal.
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        Run {
            args: self.args,
            code,
            stdout: String::from_utf8_lossy(&raw_stdout).into_owned(),
            stderr,
            raw_stdout,
            raw_stderr,
        }
    }
}

/// The shards hold every test of `all` exactly once, and nothing else.
pub fn assert_exact_cover(all: &BTreeSet<TestKey>, shards: &[Vec<TestKey>], what: &str) {
    let mut seen: BTreeMap<&TestKey, usize> = BTreeMap::new();
    for shard in shards {
        for key in shard {
            *seen.entry(key).or_default() += 1;
        }
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{what}: tests in several shards: {twice:?}"
    );
    let union: BTreeSet<TestKey> = seen.keys().map(|k| (*k).clone()).collect();
    let missing: Vec<_> = all.difference(&union).collect();
    let extra: Vec<_> = union.difference(all).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing from every shard: {missing:?}; not in the selection: {extra:?}"
    );
}

/// Copy a workspace's sources (everything but `target`) from `from` to `to`.
pub fn copy_sources(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    for entry in entries.map(|e| e.expect("directory entry")) {
        let (source, name) = (entry.path(), entry.file_name());
        if name == "target" {
            continue;
        }
        if source.is_dir() {
            copy_sources(&source, &to.join(&name));
        } else {
            std::fs::copy(&source, to.join(&name))
                .unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
        }
    }
}
