//! Attacks on the runner's hold over processes and state (issue 10), end to end: tests that
//! move into the runner's own process group to escape `--timeout` and Ctrl-C, a runner killed
//! with SIGKILL, interruptions delivered twice, a low open-file limit, a history file with
//! durations no test could take, and runs side by side sharing one history.
//!
//! Each run gets its own `$ESCAPES_DIR`, where the `escapes` fixture writes the pids of what it
//! started; after the run every one of them must be gone (dead or a zombie). Waits synchronise
//! on those files; time limits only guard against hangs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::{cargo_args, fixture_manifest, runner_command, Run, Running};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

/// How long anything may take before the test counts it as hung.
const HANG_GUARD: Duration = Duration::from_secs(120);
/// How long killed processes get to die: "about a second" is the promise.
const DEATH_GUARD: Duration = Duration::from_secs(3);

/// A directory for one run's pid files.
struct Pids {
    dir: tempfile::TempDir,
}

impl Pids {
    fn new() -> Pids {
        Pids {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The pids recorded so far, by name.
    fn recorded(&self) -> Vec<(String, i32)> {
        let mut pids = Vec::new();
        for entry in std::fs::read_dir(self.path())
            .expect("read pid dir")
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".pid") else {
                continue;
            };
            let text = std::fs::read_to_string(entry.path()).expect("read pid");
            pids.push((stem.to_string(), text.trim().parse().expect("pid")));
        }
        pids.sort();
        pids
    }

    /// Wait until `count` pid files exist.
    fn wait_for(&self, count: usize) {
        let deadline = Instant::now() + HANG_GUARD;
        while self.recorded().len() < count {
            assert!(Instant::now() < deadline, "only {:?}", self.recorded());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every recorded process ends within [`DEATH_GUARD`].
    fn assert_all_gone(&self) {
        let pids = self.recorded();
        assert!(!pids.is_empty(), "no process was recorded");
        let deadline = Instant::now() + DEATH_GUARD;
        loop {
            let alive: Vec<_> = pids.iter().filter(|(_, pid)| is_alive(*pid)).collect();
            if alive.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                for (_, pid) in &alive {
                    let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
                }
                panic!("still running after the runner ended: {alive:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Alive and not a zombie.
fn is_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.get(stat.rfind(')')? + 2..)?.chars().next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}

fn escapes_args(args: &[&str]) -> Vec<OsString> {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    all.extend(cargo_args(&fixture_manifest("escapes")));
    all
}

fn start(pids: &Pids, args: &[&str]) -> Running {
    let mut command = runner_command();
    command.env("ESCAPES_DIR", pids.path());
    Running::start(command, escapes_args(args))
}

fn final_statuses(run: &Run) -> Vec<(String, String)> {
    let mut statuses: Vec<(String, String)> = run
        .events()
        .iter()
        .filter(|e| e["type"] == "test-finished" || e["type"] == "test-skipped")
        .map(|e| {
            let status = e["status"].as_str().or(e["reason"].as_str()).unwrap_or("?");
            (
                e["name"].as_str().unwrap_or("?").to_string(),
                status.to_string(),
            )
        })
        .collect();
    statuses.sort();
    statuses
}

// ---------------------------------------------------------------------------------------------
// Fault 2: a test moves into the runner's process group.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_test_in_the_runners_group_is_still_timed_out_with_what_it_started() {
    let pids = Pids::new();
    let run = start(
        &pids,
        &[
            "--exact",
            "moves_into_the_runners_group",
            "child_moves_into_the_runners_group",
            "--timeout",
            "1s",
            "--timeout-grace",
            "1s",
            "-n2",
            "--message-format",
            "json",
        ],
    )
    .wait();
    run.assert_code(100);
    let expected = [
        ("child_moves_into_the_runners_group", "timed-out"),
        ("moves_into_the_runners_group", "timed-out"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
    assert_eq!(final_statuses(&run), expected, "{}", run.context());
    assert_eq!(pids.recorded().len(), 3, "{:?}", pids.recorded());
    pids.assert_all_gone();
}

#[test]
fn ctrl_c_ends_tests_that_moved_into_the_runners_group() {
    let pids = Pids::new();
    let runner = start(
        &pids,
        &[
            "--exact",
            "moves_into_the_runners_group",
            "child_moves_into_the_runners_group",
            "--timeout-grace",
            "1s",
            "-n2",
            "--message-format",
            "json",
        ],
    );
    pids.wait_for(3);
    kill(runner.pid(), Signal::SIGINT).expect("signal the runner");
    let run = runner.wait();
    run.assert_code(130);
    pids.assert_all_gone();
}

// ---------------------------------------------------------------------------------------------
// Fault 7: the runner dies by SIGKILL.
// ---------------------------------------------------------------------------------------------

#[test]
fn nothing_outlives_a_runner_killed_with_sigkill() {
    let pids = Pids::new();
    let runner = start(
        &pids,
        &[
            "--exact",
            "waits_forever_with_children",
            "moves_into_the_runners_group",
            "-n2",
        ],
    );
    // The waiter, its child, its daemon in a new session, and the test that moved group.
    pids.wait_for(4);
    kill(runner.pid(), Signal::SIGKILL).expect("signal the runner");
    let _ = runner.wait();
    pids.assert_all_gone();
}

// ---------------------------------------------------------------------------------------------
// Fault 9: interruptions delivered twice.
// ---------------------------------------------------------------------------------------------

fn stubborn_run(pids: &Pids, junit: &Path) -> Running {
    let junit = junit.to_str().expect("utf-8 path");
    start(
        pids,
        &[
            "--exact",
            "ignores_interruptions",
            "passes",
            // Only a second interruption can end the stubborn test in time.
            "--timeout-grace",
            "100s",
            "-n2",
            "--message-format",
            "json",
            "--junit",
            junit,
        ],
    )
}

fn assert_every_report(run: &Run, junit: &Path) {
    let events = run.events();
    let last = events.last().expect("events");
    assert_eq!(last["type"], "run-finished", "{}", run.context());
    let statuses = final_statuses(run);
    let names: Vec<&str> = statuses.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["ignores_interruptions", "passes"],
        "{}",
        run.context()
    );
    let summary = run.stderr.lines().last().unwrap_or("");
    assert!(summary.starts_with("Summary: "), "{}", run.context());
    let xml = std::fs::read_to_string(junit).expect("the JUnit report was written");
    assert!(xml.contains("ignores_interruptions"), "{xml}");
}

#[test]
fn a_second_ctrl_c_kills_at_once_and_every_report_is_still_written() {
    let pids = Pids::new();
    let junit = pids.path().join("junit.xml");
    let runner = stubborn_run(&pids, &junit);
    pids.wait_for(1);
    kill(runner.pid(), Signal::SIGINT).expect("signal the runner");
    // Far enough apart to be two interruptions, not one delivered twice.
    std::thread::sleep(Duration::from_millis(600));
    kill(runner.pid(), Signal::SIGINT).expect("signal the runner");
    let run = runner.wait();
    run.assert_code(130);
    assert!(
        run.stderr.contains("interrupted twice"),
        "{}",
        run.context()
    );
    assert!(
        !run.stderr.contains("No child processes"),
        "{}",
        run.context()
    );
    assert_every_report(&run, &junit);
    pids.assert_all_gone();
}

#[test]
fn one_key_press_delivered_twice_is_one_interruption() {
    let pids = Pids::new();
    let junit = pids.path().join("junit.xml");
    let junit_arg = junit.to_str().expect("utf-8").to_string();
    // A short grace period: the one interruption ends the stubborn test through it.
    let runner = start(
        &pids,
        &[
            "--exact",
            "ignores_interruptions",
            "passes",
            "--timeout-grace",
            "1s",
            "-n2",
            "--message-format",
            "json",
            "--junit",
            &junit_arg,
        ],
    );
    pids.wait_for(1);
    // Two deliveries a moment apart, as from the terminal and from a wrapper forwarding it
    // (back to back, the kernel would merge them into one pending signal).
    kill(runner.pid(), Signal::SIGINT).expect("signal the runner");
    std::thread::sleep(Duration::from_millis(50));
    kill(runner.pid(), Signal::SIGINT).expect("signal the runner");
    let run = runner.wait();
    run.assert_code(130);
    assert!(
        !run.stderr.contains("interrupted twice"),
        "{}",
        run.context()
    );
    assert_every_report(&run, &junit);
    pids.assert_all_gone();
}

// ---------------------------------------------------------------------------------------------
// Fault 10: a low open-file limit.
// ---------------------------------------------------------------------------------------------

fn with_file_limit(ulimit: &str) -> Run {
    let pids = Pids::new();
    let mut command = Command::new("sh");
    command.env("ESCAPES_DIR", pids.path());
    common::clean_environment(&mut command);
    let script = format!("ulimit {ulimit} 64 && exec \"$0\" \"$@\"");
    command.args(["-c", &script, common::runner_exe()]);
    Running::start(
        command,
        escapes_args(&["-n16", "q", "--message-format", "json"]),
    )
    .wait()
}

#[test]
fn a_low_soft_file_limit_is_raised_and_every_test_runs() {
    let run = with_file_limit("-Sn");
    run.assert_code(0);
    assert_eq!(final_statuses(&run).len(), 48, "{}", run.context());
}

#[test]
fn a_low_hard_file_limit_slows_the_run_but_fails_no_test() {
    let run = with_file_limit("-n");
    run.assert_code(0);
    let statuses = final_statuses(&run);
    assert_eq!(statuses.len(), 48, "{}", run.context());
    assert!(statuses.iter().all(|(_, s)| s == "passed"), "{statuses:?}");
}

// ---------------------------------------------------------------------------------------------
// Faults 4 and 8: the history file.
// ---------------------------------------------------------------------------------------------

/// A target directory of its own, so that no other test's runs touch its history.
fn private_target(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn private_args(target: &Path, args: &[&str]) -> Vec<OsString> {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    all.extend([
        "--manifest-path".into(),
        fixture_manifest("escapes").into_os_string(),
        "--target-dir".into(),
        target.as_os_str().to_os_string(),
    ]);
    all
}

fn history_of(target: &Path) -> Value {
    let text = std::fs::read_to_string(target.join("runner/history.json")).expect("history");
    serde_json::from_str(&text).expect("history is JSON")
}

#[test]
fn incredible_durations_in_the_history_cost_one_warning_not_the_run() {
    let target = private_target("attack-history-values");
    let history = target.join("runner/history.json");
    std::fs::create_dir_all(history.parent().expect("dir")).expect("mkdir");
    let text = r#"{"version":2,"runs":1,"binaries":{"escapes":{
        "passes":{"durations":[1e300,1.7e308,-1],"batched":[1e19],"failed":false,"last_run":1}}}}"#;
    std::fs::write(&history, text).expect("write history");
    let run = common::run_with(private_args(&target, &["--exact", "passes"]), |_| {});
    run.assert_code(0);
    let warnings: Vec<_> = run
        .stderr_lines()
        .into_iter()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.context());
    let durations = &history_of(&target)["binaries"]["escapes"]["passes"]["durations"];
    let values: Vec<f64> = durations
        .as_array()
        .expect("durations")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert!(values.len() == 1 && values[0] < 60.0, "{values:?}");
}

#[test]
fn runs_side_by_side_all_reach_the_history() {
    const RUNS: usize = 4;
    let target = private_target("attack-history-concurrent");
    // Build once, and know the run counter before.
    let run = common::run_with(private_args(&target, &["--exact", "passes"]), |_| {});
    run.assert_code(0);
    let before = history_of(&target)["runs"].as_u64().expect("runs");
    let pids = Pids::new();
    let started: Vec<Running> = (0..RUNS)
        .map(|i| {
            let mut command = runner_command();
            command
                .env("ESCAPES_DIR", pids.path())
                .env("MEETING_SIZE", RUNS.to_string())
                .env("MEETING_NAME", format!("run{i}"));
            // Every run meets the others inside its test; the first also fails a test.
            let mut args = vec!["--exact", "meets_the_others"];
            if i == 0 {
                args.push("fails_on_purpose");
            }
            Running::start(command, private_args(&target, &args))
        })
        .collect();
    let codes: Vec<i32> = started.into_iter().map(|s| s.wait().code).collect();
    assert_eq!(codes, [100, 0, 0, 0]);
    let history = history_of(&target);
    assert_eq!(history["runs"].as_u64(), Some(before + RUNS as u64));
    let failed = &history["binaries"]["escapes"]["fails_on_purpose"]["failed"];
    assert_eq!(failed, true, "the failing run's result was lost: {history}");
}
