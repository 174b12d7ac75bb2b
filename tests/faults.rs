//! Fault tolerance, end to end: the built `runner` binary against the `faults` and `badlist`
//! fixture crates (timeouts, leaked processes, retries, huge output, Ctrl-C/SIGTERM/SIGHUP,
//! broken listings, missing binaries).
//!
//! Every test checks the exit code, each selected test's one final event (JSON events on
//! stdout; the human report then goes to stderr), the closing `Summary:` line, and that no
//! process of the run is left alive: each run gets its own `$FAULTS_DIR`, which every process
//! it starts inherits, so after the runner exits a scan of `/proc` for that variable finds any
//! survivor, in addition to the pids the fixtures write.
//!
//! The tests run one at a time: their runner invocations share the fixtures' target directory
//! (and the timing history the runner keeps there; tests whose schedule matters pass
//! `--order name`), the peak-RSS measurement is cleaner without another of these runs beside
//! it, and on 2 cores the whole file still takes a few seconds. Under `cargo test`, where the
//! tests are threads of one process, the in-process lock [`serial`] does that. Under the runner
//! itself (`cargo run -- -nauto`), which starts one process per test, that lock cannot reach
//! from one test to the next; there the `faults` test group (`max-threads = 1`) of the
//! repository's `.config/runner.toml` serialises them. Nothing here judges wall-clock time;
//! waits synchronise on files, and time limits only guard hangs.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

mod common;

use common::{cargo_args, clean_environment, fixture_manifest, summary_line, Run, Running};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;

/// How long a fixture may take to announce that it started.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the kernel gets to reap a killed process before it counts as a survivor.
const REAP_TIMEOUT: Duration = Duration::from_secs(3);
const MIB: u64 = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Running the runner
// ---------------------------------------------------------------------------------------------

/// One runner at a time under `cargo test`, where every test of this file is a thread of one
/// process. Under the runner each test is a process of its own and this lock serialises
/// nothing; the `faults` group in `.config/runner.toml` does it there (see the module docs).
/// A failed test poisons the lock; later tests still run.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `args` followed by the fixture's cargo arguments.
fn with_fixture(fixture: &str, args: &[&str]) -> Vec<OsString> {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    all.extend(cargo_args(&fixture_manifest(fixture)));
    all
}

/// The runner with the suites' clean environment (see `common::clean_environment`) and no core
/// files from the crashing fixtures. With a `wrapper`
/// (`["/usr/bin/time", "-v"]`), the runner runs under it.
fn runner_command(wrapper: &[&str]) -> Command {
    let runner = env!("CARGO_BIN_EXE_runner");
    let mut command = match wrapper.split_first() {
        None => Command::new(runner),
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(runner);
            c
        }
    };
    clean_environment(&mut command);
    // SAFETY: getrlimit and setrlimit are async-signal-safe system calls; the closure touches
    // nothing else between fork and exec.
    unsafe {
        command.pre_exec(|| {
            use nix::libc;
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
                limit.rlim_cur = 0;
                libc::setrlimit(libc::RLIMIT_CORE, &limit);
            }
            Ok(())
        });
    }
    command
}

/// The path of the `faults` library's test binary. Listing it also builds the fixture, so
/// later runs only pay for a no-op `cargo test --no-run`.
fn faults_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let args = with_fixture(
            "faults",
            &["list", "--format", "json", "--exact", "passes_quickly"],
        );
        let run = Running::start(runner_command(&[]), args).wait();
        run.assert_code(0);
        let listing: Value = serde_json::from_str(run.stdout.trim())
            .unwrap_or_else(|e| panic!("`runner list --format json`: {e}{}", run.context()));
        let binaries = listing["binaries"].as_array().expect("binaries array");
        assert_eq!(binaries.len(), 1, "{}", run.context());
        assert_eq!(binaries[0]["binary_id"], "faults", "{}", run.context());
        PathBuf::from(binaries[0]["path"].as_str().expect("binary path"))
    })
}

// ---------------------------------------------------------------------------------------------
// Processes: every run has its own FAULTS_DIR, inherited by everything it starts
// ---------------------------------------------------------------------------------------------

/// A fresh `$FAULTS_DIR` for one runner invocation. Its `FAULTS_DIR=<dir>` variable marks
/// every process of the run; dropping the sandbox SIGKILLs any such process still alive, so a
/// failed assertion does not leave fixtures running.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::Builder::new()
                .prefix("runner-faults-")
                .tempdir()
                .expect("temporary FAULTS_DIR"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The environment entry every process of this run carries.
    fn marker(&self) -> Vec<u8> {
        format!("FAULTS_DIR={}", self.path().display()).into_bytes()
    }

    fn command(&self, wrapper: &[&str]) -> Command {
        let mut command = runner_command(wrapper);
        command.env("FAULTS_DIR", self.path());
        command
    }

    fn start(&self, args: Vec<OsString>) -> Running {
        Running::start(self.command(&[]), args)
    }

    fn run(&self, args: Vec<OsString>) -> Run {
        self.start(args).wait()
    }

    /// The pid a fixture wrote to `$FAULTS_DIR/<name>`.
    fn pid_file(&self, name: &str) -> i32 {
        let path = self.path().join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the fixture did not write {} ({e}); files present: {:?}",
                path.display(),
                self.files()
            )
        });
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{} holds {text:?}, not a pid: {e}", path.display()))
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path())
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Wait for a file whose name starts with `prefix` (polling every 10 ms); `None` if the
    /// runner exits first.
    fn wait_for_file(&self, prefix: &str, runner: &mut Running) -> Option<String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(name) = self.files().into_iter().find(|n| n.starts_with(prefix)) {
                return Some(name);
            }
            if runner.has_exited() {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "no {prefix}* file in {} after {START_TIMEOUT:?}; files: {:?}",
                self.path().display(),
                self.files()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Live processes (not zombies) that carry this run's marker.
    fn survivors(&self) -> Vec<i32> {
        let marker = self.marker();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&pid| is_running(pid) && carries(pid, &marker) == Some(true))
            .collect()
    }

    /// After the runner exited: every pid in `pids`, and every process of the run, is gone
    /// (zombies count as gone). The kernel gets [`REAP_TIMEOUT`] to finish the job.
    fn assert_nothing_survives(&self, pids: &[i32]) {
        let described = self.still_alive(pids);
        assert!(
            described.is_empty(),
            "processes of the run survived it (checked pids {pids:?}): {described:#?}"
        );
    }

    /// The processes among `pids` and of the run that are still alive once the kernel had
    /// [`REAP_TIMEOUT`] to reap them, described; empty when all are gone.
    fn still_alive(&self, pids: &[i32]) -> Vec<String> {
        let marker = self.marker();
        // A pid that no longer carries the marker was reused by an unrelated process.
        let alive = |pid: i32| is_running(pid) && carries(pid, &marker) != Some(false);
        let deadline = Instant::now() + REAP_TIMEOUT;
        loop {
            let mut left: Vec<i32> = pids.iter().copied().filter(|&p| alive(p)).collect();
            left.extend(self.survivors());
            left.sort_unstable();
            left.dedup();
            if left.is_empty() || Instant::now() >= deadline {
                return left.iter().map(|&p| describe(p)).collect();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for pid in self.survivors() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// `/proc/<pid>` exists and is neither a zombie nor dead.
fn is_running(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) S ...`: the state follows the last `)`, as comm may hold anything.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X' | 'x') | None)
}

/// Whether the process's environment holds `marker` (`None`: it could not be read).
fn carries(pid: i32, marker: &[u8]) -> Option<bool> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    Some(environ.split(|&b| b == 0).any(|entry| entry == marker))
}

fn describe(pid: i32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_else(|_| "<gone>".into());
    format!("pid {pid}: {}", cmdline.trim())
}

// ---------------------------------------------------------------------------------------------
// Reading a run's report
// ---------------------------------------------------------------------------------------------

/// The human report's last line is exactly the Summary line.
fn assert_summary_last(run: &Run, human: &str, counts: (usize, usize, usize)) {
    let expected = summary_line(counts.0, counts.1, counts.2);
    let last = human.lines().last().unwrap_or("");
    assert_eq!(
        last,
        expected,
        "the human report must end with the Summary line{}",
        run.context()
    );
}

/// How a test ended, as compared here: the JSON status of its `test-finished` event, or
/// `skipped:<reason>` for a `test-skipped` one.
fn final_status(event: &Value) -> String {
    match event["type"].as_str() {
        Some("test-skipped") => format!("skipped:{}", event["reason"].as_str().unwrap_or("?")),
        _ => event["status"]
            .as_str()
            .unwrap_or("<no status>")
            .to_string(),
    }
}

/// Checks that every selected test has exactly one final event (`test-finished` or
/// `test-skipped`), that no other test has one, and that each ended as `expected` says
/// (`(binary_id, name, status)`). Returns the final events by test name, and checks the
/// `run-finished` counts against the finals.
fn assert_finals<'a>(
    run: &Run,
    events: &'a [Value],
    expected: &[(&str, &str, &str)],
) -> BTreeMap<String, &'a Value> {
    let mut counts: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for event in events {
        if matches!(
            event["type"].as_str(),
            Some("test-finished" | "test-skipped")
        ) {
            let field = |f: &str| event[f].as_str().unwrap_or("<missing>").to_string();
            counts
                .entry((field("binary_id"), field("name")))
                .or_default()
                .push(event);
        }
    }
    for (key, finals) in &counts {
        assert_eq!(
            finals.len(),
            1,
            "{key:?} must have exactly one final event, got {finals:#?}{}",
            run.context()
        );
    }
    let got: BTreeMap<(String, String), String> = counts
        .iter()
        .map(|(key, finals)| (key.clone(), final_status(finals[0])))
        .collect();
    let want: BTreeMap<(String, String), String> = expected
        .iter()
        .map(|(binary, name, status)| ((binary.to_string(), name.to_string()), status.to_string()))
        .collect();
    assert_eq!(
        got,
        want,
        "final outcomes ((binary_id, name) -> status){}",
        run.context()
    );

    let finished: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "run-finished")
        .collect();
    assert_eq!(finished.len(), 1, "one run-finished event{}", run.context());
    let stat = |name: &str| finished[0][name].as_u64().unwrap_or(u64::MAX) as usize;
    let skipped = counts
        .values()
        .filter(|f| f[0]["type"] == "test-skipped" || f[0]["status"] == "cancelled")
        .count();
    let failed = counts
        .values()
        .filter(|f| f[0]["is_failure"] == true)
        .count();
    assert_eq!(
        (stat("passed"), stat("failed"), stat("skipped")),
        (counts.len() - skipped - failed, failed, skipped),
        "run-finished counts vs final events{}",
        run.context()
    );

    counts
        .into_iter()
        .map(|((_, name), finals)| (name, finals[0]))
        .collect()
}

/// The `-v`/failure status lines of the human report with this label and test.
fn status_lines<'a>(human: &'a str, label: &str, id: &str) -> Vec<&'a str> {
    human
        .lines()
        .filter(|line| {
            line.get(..8).map(str::trim_start) == Some(label) && line.ends_with(&format!(" {id}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Timeouts
// ---------------------------------------------------------------------------------------------

#[test]
fn timeout_terminates_tests_and_what_they_started() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let run = sandbox.run(with_fixture(
        "faults",
        &[
            "-n2",
            "--timeout",
            "1s",
            "--timeout-grace",
            "500ms",
            "--message-format",
            "json",
            "--exact",
            "sleeps_past_timeout",
            "ignores_sigterm",
        ],
    ));
    run.assert_code(100);
    let events = run.events();
    assert_finals(
        &run,
        &events,
        &[
            ("faults", "ignores_sigterm", "timed-out"),
            ("faults", "sleeps_past_timeout", "timed-out"),
        ],
    );
    for name in ["ignores_sigterm", "sleeps_past_timeout"] {
        assert_eq!(
            status_lines(&run.stderr, "TIMEOUT", &format!("faults {name}")).len(),
            2,
            "a TIMEOUT line as {name} ends and one in the closing list{}",
            run.context()
        );
    }
    assert_summary_last(&run, &run.stderr, (0, 2, 0));
    // The shell that ignores SIGTERM (and its sleep) went with the test.
    let shell = sandbox.pid_file("ignores_sigterm.pid");
    sandbox.assert_nothing_survives(&[shell]);
}

// ---------------------------------------------------------------------------------------------
// 2. Leaked processes
// ---------------------------------------------------------------------------------------------

#[test]
fn leaky_test_passes_with_a_warning_and_its_leftover_is_killed() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let run = sandbox.run(with_fixture(
        "faults",
        &["-v", "--message-format", "json", "--exact", "leaks_pipe"],
    ));
    run.assert_code(0);
    let events = run.events();
    let finals = assert_finals(&run, &events, &[("faults", "leaks_pipe", "passed")]);
    let result = finals["leaks_pipe"];
    assert_eq!(result["leaked"], true, "{result}{}", run.context());
    assert_eq!(result["is_failure"], false, "{result}{}", run.context());
    assert_eq!(
        status_lines(&run.stderr, "LEAKY", "faults leaks_pipe").len(),
        1,
        "one LEAKY line under -v{}",
        run.context()
    );
    assert_summary_last(&run, &run.stderr, (1, 0, 0));
    let sleeper = sandbox.pid_file("leaks_pipe.pid");
    sandbox.assert_nothing_survives(&[sleeper]);
}

#[test]
fn leaky_test_fails_with_leak_result_fail() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let run = sandbox.run(with_fixture(
        "faults",
        &[
            "--leak-result",
            "fail",
            "--message-format",
            "json",
            "--exact",
            "leaks_pipe",
        ],
    ));
    run.assert_code(100);
    let events = run.events();
    let finals = assert_finals(&run, &events, &[("faults", "leaks_pipe", "leaked")]);
    let result = finals["leaks_pipe"];
    assert_eq!(result["leaked"], true, "{result}{}", run.context());
    assert_eq!(result["is_failure"], true, "{result}{}", run.context());
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("faults leaks_pipe: leaked")),
        "the failure says why{}",
        run.context()
    );
    assert_summary_last(&run, &run.stderr, (0, 1, 0));
    let sleeper = sandbox.pid_file("leaks_pipe.pid");
    sandbox.assert_nothing_survives(&[sleeper]);
}

// ---------------------------------------------------------------------------------------------
// 3. Retries and flaky tests
// ---------------------------------------------------------------------------------------------

#[test]
fn flaky_test_passes_on_retry() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let run = sandbox.run(with_fixture(
        "faults",
        &[
            "--retries",
            "2",
            "--message-format",
            "json",
            "--exact",
            "flaky_first_attempt",
        ],
    ));
    run.assert_code(0);
    let events = run.events();
    let finals = assert_finals(
        &run,
        &events,
        &[("faults", "flaky_first_attempt", "passed")],
    );
    let result = finals["flaky_first_attempt"];
    assert_eq!(result["attempt"], 2, "{result}{}", run.context());
    assert_eq!(result["is_failure"], false, "{result}{}", run.context());
    let retries: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "test-retry")
        .collect();
    assert_eq!(retries.len(), 1, "one test-retry event{}", run.context());
    assert_eq!(retries[0]["name"], "flaky_first_attempt");
    assert_eq!(retries[0]["attempt"], 1, "{}", retries[0]);
    assert_eq!(retries[0]["status"], "failed", "{}", retries[0]);
    let failed_attempts = result["failed_attempts"].as_array();
    assert_eq!(
        failed_attempts.map(Vec::len),
        Some(1),
        "the first attempt is kept with the result: {result}"
    );
    // Its output went out once, with its test-retry event.
    assert!(retries[0]["stderr"]
        .as_str()
        .is_some_and(|e| e.contains("failing on purpose")));
    assert!(
        result["failed_attempts"][0].get("stderr").is_none(),
        "{result}"
    );
    let run_finished = events.iter().find(|e| e["type"] == "run-finished");
    assert_eq!(run_finished.map(|e| e["flaky"].clone()), Some(1.into()));
    assert_summary_last(&run, &run.stderr, (1, 0, 0));
    sandbox.assert_nothing_survives(&[]);

    // The human report lists it as flaky, above the Summary line.
    let sandbox = Sandbox::new();
    let run = sandbox.run(with_fixture(
        "faults",
        &["--retries", "2", "--exact", "flaky_first_attempt"],
    ));
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let flaky = lines
        .iter()
        .position(|l| *l == "1 flaky:")
        .unwrap_or_else(|| panic!("no `1 flaky:` line{}", run.context()));
    assert_eq!(
        lines.get(flaky + 1).map(|l| l.trim()),
        Some("faults flaky_first_attempt (passed on attempt 2)"),
        "{}",
        run.context()
    );
    assert!(flaky + 1 < lines.len() - 1, "{}", run.context());
    assert_summary_last(&run, &run.stdout, (1, 0, 0));
    sandbox.assert_nothing_survives(&[]);
}

#[test]
fn flaky_test_fails_the_run_with_flaky_result_fail() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let run = sandbox.run(with_fixture(
        "faults",
        &[
            "--retries",
            "2",
            "--flaky-result",
            "fail",
            "--message-format",
            "json",
            "--exact",
            "flaky_first_attempt",
        ],
    ));
    run.assert_code(100);
    let events = run.events();
    let finals = assert_finals(
        &run,
        &events,
        &[("faults", "flaky_first_attempt", "passed")],
    );
    let result = finals["flaky_first_attempt"];
    assert_eq!(result["attempt"], 2, "{result}{}", run.context());
    assert_eq!(result["is_failure"], true, "{result}{}", run.context());
    // The closing list names it FLAKY: it passed, yet it fails the run.
    let lines: Vec<&str> = run.stderr.lines().collect();
    let title = lines
        .iter()
        .position(|l| *l == "1 test did not pass:")
        .unwrap_or_else(|| panic!("no closing failure list{}", run.context()));
    let entry = lines.get(title + 1).copied().unwrap_or("");
    assert!(
        entry.ends_with(" faults flaky_first_attempt"),
        "{entry:?}{}",
        run.context()
    );
    assert_eq!(entry.get(..8).unwrap_or("").trim(), "FLAKY", "{entry:?}");
    assert_summary_last(&run, &run.stderr, (0, 1, 0));
    sandbox.assert_nothing_survives(&[]);
}

#[test]
fn flaky_test_fails_without_retries() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let run = sandbox.run(with_fixture(
        "faults",
        &["--message-format", "json", "--exact", "flaky_first_attempt"],
    ));
    run.assert_code(100);
    let events = run.events();
    let finals = assert_finals(
        &run,
        &events,
        &[("faults", "flaky_first_attempt", "failed")],
    );
    assert_eq!(finals["flaky_first_attempt"]["attempt"], 1);
    assert!(
        !events.iter().any(|e| e["type"] == "test-retry"),
        "no retry without --retries{}",
        run.context()
    );
    assert_summary_last(&run, &run.stderr, (0, 1, 0));
    sandbox.assert_nothing_survives(&[]);
}

// ---------------------------------------------------------------------------------------------
// 4. Huge output
// ---------------------------------------------------------------------------------------------

/// `[... N bytes omitted; full output in PATH ...]` in a captured stream.
fn omission_note(text: &str) -> Option<(u64, PathBuf, usize)> {
    const START: &str = "\n[... ";
    const PATH: &str = " bytes omitted; full output in ";
    const END: &str = " ...]\n";
    let start = text.find(START)?;
    let rest = &text[start + START.len()..];
    let (count, rest) = rest.split_once(PATH)?;
    let (path, _) = rest.split_once(END)?;
    let note_len = START.len() + count.len() + PATH.len() + path.len() + END.len();
    Some((count.parse().ok()?, PathBuf::from(path), note_len))
}

/// `Maximum resident set size (kbytes): N` from GNU time's `-v` report.
fn max_rss_kib(stderr: &str) -> Option<u64> {
    stderr.lines().find_map(|line| {
        line.trim()
            .strip_prefix("Maximum resident set size (kbytes):")?
            .trim()
            .parse()
            .ok()
    })
}

/// The one run of `huge_output` (120 MiB on stdout, then a panic) that the tests below read,
/// under GNU time when it is installed. What needs the full log or the sandbox is read here,
/// before both are removed.
struct HugeRun {
    run: Run,
    /// Whether `/usr/bin/time -v` wrapped the runner (its report then follows the runner's).
    measured: bool,
    /// The size of the full log the captured stdout names, or why it could not be read.
    log_size: Result<u64, String>,
    /// Processes of the run still alive after it (see [`Sandbox::still_alive`]).
    survivors: Vec<String>,
}

/// Runs `huge_output` once per test process; takes the [`serial`] lock only for the run.
fn huge_run() -> &'static HugeRun {
    static HUGE: OnceLock<HugeRun> = OnceLock::new();
    HUGE.get_or_init(|| {
        let _serial = serial();
        // Build first, so that the measured run's cargo is a no-op.
        faults_binary();
        let sandbox = Sandbox::new();
        let time = "/usr/bin/time";
        let measured = Path::new(time).exists();
        let wrapper: &[&str] = if measured { &[time, "-v"] } else { &[] };
        let args = with_fixture(
            "faults",
            &["--message-format", "json", "--exact", "huge_output"],
        );
        let run = Running::start(sandbox.command(wrapper), args).wait();
        let log_size = full_log_size(&run);
        let survivors = sandbox.still_alive(&[]);
        HugeRun {
            run,
            measured,
            log_size,
            survivors,
        }
    })
}

/// The size of the full log named in the captured stdout of a run's `test-finished` event;
/// the log (120 MiB) is removed once measured.
fn full_log_size(run: &Run) -> Result<u64, String> {
    let stdout = run
        .stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|event| event["type"] == "test-finished")
        .and_then(|event| event["stdout"].as_str().map(str::to_string))
        .ok_or("no test-finished event with a stdout field")?;
    let (_, path, _) = omission_note(&stdout).ok_or("no omission note in the captured stdout")?;
    let size = std::fs::metadata(&path)
        .map(|meta| meta.len())
        .map_err(|e| format!("full log {}: {e}", path.display()));
    let _ = std::fs::remove_file(&path);
    size
}

/// huge_output's one final event (a failure), after checking the exit code and the finals.
fn huge_result(huge: &HugeRun) -> Value {
    huge.run.assert_code(100);
    let events = huge.run.events();
    let finals = assert_finals(&huge.run, &events, &[("faults", "huge_output", "failed")]);
    finals["huge_output"].clone()
}

/// The runner's human report: its stderr without GNU time's report, which follows the Summary
/// line (and nothing else may).
fn huge_human(huge: &HugeRun) -> String {
    let run = &huge.run;
    if !huge.measured {
        return run.stderr.clone();
    }
    let lines: Vec<&str> = run.stderr.lines().collect();
    let end = lines
        .iter()
        .rposition(|l| l.starts_with("Summary: "))
        .unwrap_or_else(|| panic!("no Summary line{}", run.context()));
    assert!(
        lines[end + 1..]
            .iter()
            .all(|l| l.starts_with('\t') || l.starts_with("Command exited with")),
        "only time's report follows the Summary line{}",
        run.context()
    );
    lines[..=end].join("\n")
}

/// The captured stdout and stderr of huge_output, and the omission note of the stdout.
fn huge_streams(huge: &HugeRun) -> (String, String, (u64, PathBuf, usize)) {
    let result = huge_result(huge);
    let stdout = result["stdout"].as_str().expect("stdout field").to_string();
    let stderr = result["stderr"].as_str().expect("stderr field").to_string();
    let note = omission_note(&stdout).unwrap_or_else(|| {
        panic!(
            "no `[... N bytes omitted; full output in PATH ...]` note in the captured stdout \
             ({} bytes){}",
            stdout.len(),
            huge.run.context()
        )
    });
    (stdout, stderr, note)
}

#[test]
fn huge_output_report_ends_with_the_summary_line() {
    let huge = huge_run();
    huge.run.assert_code(100);
    assert_summary_last(&huge.run, &huge_human(huge), (0, 1, 0));
}

#[test]
fn huge_output_keeps_the_panic_and_the_end_of_the_stream() {
    let (stdout, stderr, _) = huge_streams(huge_run());
    assert!(
        stderr.contains("huge-output-panic-marker"),
        "the panic is kept: {stderr:.2000}"
    );
    let tail_start = stdout.len() - stdout.len().min(4096);
    assert!(
        stdout[tail_start..].contains("huge-output-tail-marker"),
        "the end of the stream is kept: {:?}",
        &stdout[tail_start..]
    );
}

#[test]
fn huge_output_report_shows_the_panic_and_the_full_logs_path() {
    let huge = huge_run();
    let (_, _, (_, path, _)) = huge_streams(huge);
    let human = huge_human(huge);
    assert!(
        human.contains("huge-output-panic-marker") && human.contains(&path.display().to_string()),
        "the failure report shows the panic and the log's path{}",
        huge.run.context()
    );
}

#[test]
fn huge_output_full_log_holds_the_whole_stream() {
    let huge = huge_run();
    let (stdout, _, (omitted, path, note_len)) = huge_streams(huge);
    let size = huge.log_size.clone().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        size >= 120 * MIB,
        "the full log {} holds {size} bytes, less than the 120 MiB written",
        path.display()
    );
    // What is kept plus what is omitted is exactly the whole stream (the output is ASCII).
    let kept = (stdout.len() - note_len) as u64;
    assert_eq!(
        kept + omitted,
        size,
        "kept {kept} + omitted {omitted} bytes vs the full log's {size}"
    );
}

#[test]
fn huge_output_keeps_the_runners_memory_bounded() {
    let huge = huge_run();
    huge.run.assert_code(100);
    if !huge.measured {
        eprintln!("huge_output: /usr/bin/time is missing; peak RSS not checked");
        return;
    }
    let rss = max_rss_kib(&huge.run.stderr)
        .unwrap_or_else(|| panic!("no maximum RSS in time's report{}", huge.run.context()));
    eprintln!(
        "huge_output: peak RSS {rss} KiB ({:.1} MiB) for 120 MiB of output",
        rss as f64 / 1024.0
    );
    assert!(
        rss < 200 * 1024,
        "the runner's peak RSS was {rss} KiB, not bounded below 200 MiB"
    );
}

#[test]
fn huge_output_leaves_no_process_behind() {
    let huge = huge_run();
    huge.run.assert_code(100);
    assert!(
        huge.survivors.is_empty(),
        "processes of the run survived it (checked pids []): {:#?}",
        huge.survivors
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Ctrl-C, SIGTERM, SIGHUP
// ---------------------------------------------------------------------------------------------

/// Start the runner on `names` with `-n<jobs>`, wait until `waits_for_signal` runs, send
/// `signal`, then check the cancelled run's report and that nothing it started survived.
/// `expected`: (name, final status); `interrupted`/`not_started`: the cancelled line's counts.
fn cancel_run(
    signal: Signal,
    jobs: &str,
    names: &[&str],
    expected: &[(&str, &str)],
    (interrupted, not_started): (usize, usize),
) {
    let _serial = serial();
    let sandbox = Sandbox::new();
    // Name order: the default order follows the timing history other runs leave behind.
    let mut args = vec![
        jobs,
        "--order",
        "name",
        "--message-format",
        "json",
        "--exact",
    ];
    args.extend_from_slice(names);
    let mut runner = sandbox.start(with_fixture("faults", &args));

    let Some(started) = sandbox.wait_for_file("started-waits_for_signal-", &mut runner) else {
        let run = runner.wait();
        panic!(
            "the runner exited before waits_for_signal started{}",
            run.context()
        );
    };
    let test_pid: i32 = started
        .rsplit('-')
        .next()
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {started:?}"));
    let sleeper = sandbox.pid_file(&format!("sleeper-{test_pid}.pid"));

    let sent = Instant::now();
    kill(runner.pid(), signal).expect("signal the runner");
    let run = runner.wait();
    eprintln!(
        "{signal}: the runner exited {:?} after the signal",
        sent.elapsed()
    );

    run.assert_code(128 + signal as i32);
    let events = run.events();
    let expected: Vec<(&str, &str, &str)> = expected
        .iter()
        .map(|(name, status)| ("faults", *name, *status))
        .collect();
    assert_finals(&run, &events, &expected);
    let cancelled = interrupted + not_started;
    let line = format!(
        "{cancelled} test{} cancelled ({interrupted} interrupted while running, {not_started} not started)",
        if cancelled == 1 { "" } else { "s" }
    );
    assert!(
        run.stderr.lines().any(|l| l == line),
        "expected the line {line:?}{}",
        run.context()
    );
    let passed = expected.iter().filter(|e| e.2 == "passed").count();
    assert_summary_last(&run, &run.stderr, (passed, 0, expected.len() - passed));
    sandbox.assert_nothing_survives(&[test_pid, sleeper]);
}

#[test]
fn sigint_cancels_the_run() {
    cancel_run(
        Signal::SIGINT,
        "-n2",
        &["hangs_forever", "passes_quickly", "waits_for_signal"],
        &[
            ("hangs_forever", "cancelled"),
            ("passes_quickly", "passed"),
            ("waits_for_signal", "cancelled"),
        ],
        (2, 0),
    );
}

#[test]
fn sigterm_cancels_the_run_and_queued_tests_do_not_start() {
    cancel_run(
        Signal::SIGTERM,
        "-n1",
        &["passes_quickly", "waits_for_signal", "zz_queued_last"],
        &[
            ("passes_quickly", "passed"),
            ("waits_for_signal", "cancelled"),
            ("zz_queued_last", "skipped:not-started"),
        ],
        (1, 1),
    );
}

#[test]
fn sighup_cancels_the_run() {
    cancel_run(
        Signal::SIGHUP,
        "-n2",
        &[
            "hangs_forever",
            "passes_quickly",
            "waits_for_signal",
            "zz_queued_last",
        ],
        &[
            ("hangs_forever", "cancelled"),
            ("passes_quickly", "passed"),
            ("waits_for_signal", "cancelled"),
            ("zz_queued_last", "skipped:not-started"),
        ],
        (2, 1),
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Listing faults
// ---------------------------------------------------------------------------------------------

#[test]
fn binaries_that_hang_or_crash_while_listing_are_reported_and_the_rest_runs() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let run = sandbox.run(with_fixture(
        "badlist",
        &["--list-timeout", "2s", "--message-format", "json"],
    ));
    run.assert_code(104);
    let events = run.events();
    assert_finals(&run, &events, &[("badlist", "good", "passed")]);

    let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in events.iter().filter(|e| e["type"] == "list-failed") {
        failures
            .entry(event["binary_id"].as_str().unwrap_or("?").to_string())
            .or_default()
            .push(event["message"].as_str().unwrap_or("?").to_string());
    }
    let ids: Vec<&str> = failures.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        ["badlist::list_crashes", "badlist::list_hangs"],
        "{}",
        run.context()
    );
    for (id, messages) in &failures {
        assert_eq!(messages.len(), 1, "{id}: {messages:?}");
    }
    let hang = &failures["badlist::list_hangs"][0];
    assert!(
        hang.contains("longer than 2s"),
        "the hang is named as one: {hang}"
    );
    let crash = &failures["badlist::list_crashes"][0];
    assert!(
        crash.contains("SIGABRT"),
        "the crash is named as one: {crash}"
    );
    for id in ["badlist::list_hangs", "badlist::list_crashes"] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with("error: ") && l.contains(id)),
            "an error line names {id}{}",
            run.context()
        );
    }
    assert_summary_last(&run, &run.stderr, (1, 0, 0));
    // The hanging `--list` process (it writes its pid) was stopped.
    let listing: Vec<i32> = sandbox
        .files()
        .iter()
        .filter(|name| name.starts_with("list_hangs-listing-"))
        .map(|name| sandbox.pid_file(name))
        .collect();
    assert_eq!(listing.len(), 1, "files: {:?}", sandbox.files());
    sandbox.assert_nothing_survives(&listing);
}

// ---------------------------------------------------------------------------------------------
// 7. A missing --binary
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_binary_is_one_clear_usage_error() {
    let _serial = serial();
    let good = faults_binary();
    let sandbox = Sandbox::new();
    let mut command = sandbox.command(&[]);
    command.current_dir(sandbox.path());
    let args: Vec<OsString> = vec![
        "--binary".into(),
        "/nonexistent".into(),
        "--binary".into(),
        good.into(),
        "--message-format".into(),
        "json".into(),
        "--exact".into(),
        "passes_quickly".into(),
    ];
    let run = Running::start(command, args).wait();
    // A path that cannot run is a mistake on the command line: one error, exit 2, nothing runs
    // (it was a listing failure, exit 104, reported twice).
    run.assert_code(2);
    assert!(run.stdout.is_empty(), "no event{}", run.context());
    let mentions: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("/nonexistent"))
        .collect();
    assert!(
        mentions.len() == 1 && mentions[0].starts_with("error: "),
        "the path appears in one one-line error: {mentions:#?}{}",
        run.context()
    );
    sandbox.assert_nothing_survives(&[]);
}

// ---------------------------------------------------------------------------------------------
// Interruptions before any test runs
// ---------------------------------------------------------------------------------------------

#[test]
fn ctrl_c_during_the_build_cancels_the_run() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    // A throwaway crate whose build script announces itself, then blocks until interrupted.
    // Built into the sandbox: it must build (and block) on every run, so nothing is shared.
    let krate = sandbox.path().join("slow_build");
    std::fs::create_dir_all(krate.join("src")).expect("mkdir slow_build/src");
    std::fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"slow_build\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
         publish = false\nbuild = \"build.rs\"\n\n[workspace]\n",
    )
    .expect("write Cargo.toml");
    std::fs::write(
        krate.join("build.rs"),
        "fn main() {\n    let dir = std::env::var(\"FAULTS_DIR\").expect(\"FAULTS_DIR\");\n    \
         std::fs::write(format!(\"{dir}/building\"), \"\").unwrap();\n    \
         std::thread::sleep(std::time::Duration::from_secs(600));\n}\n",
    )
    .expect("write build.rs");
    std::fs::write(krate.join("src/lib.rs"), "#[test]\nfn never_built() {}\n").expect("lib.rs");

    let mut command = sandbox.command(&[]);
    // Its own group, so that the whole group can be interrupted the way a terminal does.
    command.process_group(0);
    let args: Vec<OsString> = vec![
        "--message-format".into(),
        "json".into(),
        "--manifest-path".into(),
        krate.join("Cargo.toml").into(),
        "--target-dir".into(),
        sandbox.path().join("target").into(),
    ];
    let mut runner = Running::start(command, args);
    let Some(_) = sandbox.wait_for_file("building", &mut runner) else {
        let run = runner.wait();
        panic!(
            "the runner exited before the build script ran{}",
            run.context()
        );
    };
    killpg(runner.pid(), Signal::SIGINT).expect("interrupt the runner's group");
    let run = runner.wait();
    assert!(
        !run.stderr.contains("the build failed"),
        "an interrupted build is not a failed build{}",
        run.context()
    );
    run.assert_code(130);
    let events = run.events();
    assert_finals(&run, &events, &[]);
    assert_summary_last(&run, &run.stderr, (0, 0, 0));
    sandbox.assert_nothing_survives(&[]);
}

#[test]
fn a_listing_interrupted_by_ctrl_c_is_not_blamed_on_the_binary() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let mut runner = sandbox.start(with_fixture(
        "badlist",
        &["--list-timeout", "60s", "--message-format", "json"],
    ));
    let Some(listing) = sandbox.wait_for_file("list_hangs-listing-", &mut runner) else {
        let run = runner.wait();
        panic!(
            "the runner exited before list_hangs was listed{}",
            run.context()
        );
    };
    let listing = sandbox.pid_file(&listing);
    kill(runner.pid(), Signal::SIGINT).expect("signal the runner");
    let run = runner.wait();
    run.assert_code(130);
    let events = run.events();
    // `good` is listed before or after the signal, depending on the listing threads; on a cold
    // build it may even have run while cargo was still building `list_hangs`.
    let good_reported = events
        .iter()
        .any(|e| e["type"] == "test-skipped" && e["name"] == "good");
    let good_ran = events
        .iter()
        .any(|e| e["type"] == "test-finished" && e["name"] == "good");
    let expected: &[(&str, &str, &str)] = match (good_reported, good_ran) {
        (true, _) => &[("badlist", "good", "skipped:not-started")],
        (false, true) => &[("badlist", "good", "passed")],
        (false, false) => &[],
    };
    assert_finals(&run, &events, expected);
    let blamed: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["type"] == "list-failed" && e["message"].as_str().unwrap_or("").contains("SIGINT")
        })
        .collect();
    assert!(
        blamed.is_empty(),
        "listings stopped by the cancellation are reported as broken binaries: {blamed:#?}"
    );
    let counts = (usize::from(good_ran), 0, usize::from(good_reported));
    assert_summary_last(&run, &run.stderr, counts);
    sandbox.assert_nothing_survives(&[listing]);
}

// ---------------------------------------------------------------------------------------------
// Processes that leave their group, and Ctrl-Z
// ---------------------------------------------------------------------------------------------

#[test]
fn a_daemon_that_leaves_its_process_group_is_killed_at_the_end() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let run = sandbox.run(with_fixture(
        "faults",
        &["--message-format", "json", "--exact", "escapes_with_setsid"],
    ));
    run.assert_code(0);
    let events = run.events();
    assert_finals(
        &run,
        &events,
        &[("faults", "escapes_with_setsid", "passed")],
    );
    assert!(
        run.stderr
            .contains("warning: killed 1 process(es) that tests had left running"),
        "{}",
        run.context()
    );
    let daemon = sandbox.pid_file("escapes_with_setsid.pid");
    sandbox.assert_nothing_survives(&[daemon]);
}

/// The state letter of `/proc/<pid>/stat` (`T` when stopped).
fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Poll until `pid` is (or is no longer) stopped; false if that never happens.
fn wait_for_state(pid: i32, stopped: bool) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if process_state(pid).is_some_and(|s| (s == 'T') == stopped) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn ctrl_z_stops_the_tests_with_the_runner_and_fg_resumes_them() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let mut runner = sandbox.start(with_fixture(
        "faults",
        &["--message-format", "json", "--exact", "waits_for_signal"],
    ));
    let Some(started) = sandbox.wait_for_file("started-waits_for_signal-", &mut runner) else {
        let run = runner.wait();
        panic!("the runner exited before the test started{}", run.context());
    };
    let test_pid: i32 = started
        .rsplit('-')
        .next()
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {started:?}"));
    let sleeper = sandbox.pid_file(&format!("sleeper-{test_pid}.pid"));
    let runner_pid = runner.pid().as_raw();

    // Ctrl-Z: the terminal sends SIGTSTP to the runner's group; the test runs in its own.
    kill(runner.pid(), Signal::SIGTSTP).expect("stop the runner");
    assert!(wait_for_state(runner_pid, true), "the runner did not stop");
    assert!(
        wait_for_state(test_pid, true),
        "the test did not stop with the runner"
    );
    assert!(
        wait_for_state(sleeper, true),
        "what the test started did not stop"
    );

    // `fg`: the shell sends SIGCONT.
    kill(runner.pid(), Signal::SIGCONT).expect("resume the runner");
    assert!(
        wait_for_state(runner_pid, false),
        "the runner did not resume"
    );
    assert!(wait_for_state(test_pid, false), "the test did not resume");

    kill(runner.pid(), Signal::SIGINT).expect("interrupt the runner");
    let run = runner.wait();
    run.assert_code(130);
    let events = run.events();
    assert_finals(
        &run,
        &events,
        &[("faults", "waits_for_signal", "cancelled")],
    );
    sandbox.assert_nothing_survives(&[test_pid, sleeper]);
}
