//! Setup scripts, on the `served` fixture: `http-server` starts a Python HTTP server on an
//! ephemeral port and exports its address to the tests of `tests/http.rs`, which fetch from it
//! with std::net; `broken` exits 3, and only its tests (`tests/broken.rs`) fail, without
//! running; a script runs once, not at all when no selected test needs it, and what it left
//! running ends with the run.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const FIXTURE: &str = "served";

fn json_run(args: &[&str]) -> (Run, Vec<Value>) {
    let mut all = vec!["--message-format", "json"];
    all.extend_from_slice(args);
    let run = run_fixture(FIXTURE, &all);
    let events = run.events();
    (run, events)
}

/// The setup-script events about `name`, in order.
fn script_events<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| event_type(e).starts_with("setup-script-") && e["name"] == name)
        .collect()
}

/// Wait (bounded by a hang guard, never to judge speed) until process `pid` is gone.
fn wait_until_gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Path::new(&format!("/proc/{pid}")).exists() {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if state
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'))
        {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

#[test]
fn a_setup_script_exports_the_servers_address_to_its_tests_and_a_failing_one_fails_only_its_scope()
{
    let (run, events) = json_run(&["-n2"]);
    run.assert_code(100);
    let finals = final_events(&events);
    assert_eq!(finals.len(), 5, "{}", run.context());
    let status = |binary: &str, name: &str| {
        finals[&key(binary, name)]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // The server's tests reached it at the address the script exported.
    assert_eq!(
        status("served::http", "fetches_the_file_it_serves"),
        "passed"
    );
    assert_eq!(
        status("served::http", "a_missing_file_is_not_found"),
        "passed"
    );
    assert_eq!(status("served", "tests::plain"), "passed");
    // The broken script's tests fail without running, with the reason; nothing else does.
    for name in ["would_pass", "would_pass_too"] {
        let event = finals[&key("served::broken", name)];
        assert_eq!(event["status"], "setup-failed", "{event}");
        assert_eq!(event["script"], "broken");
        assert_eq!(event["reason"], "exited with code 3");
        assert!(event["rerun"]
            .as_str()
            .unwrap()
            .ends_with(&format!("--exact {name}")));
    }
    // Each script ran once, before the first of its tests started.
    let server = script_events(&events, "http-server");
    let types: Vec<&str> = server.iter().map(|e| event_type(e)).collect();
    assert_eq!(types, ["setup-script-started", "setup-script-finished"]);
    assert_eq!(server[0]["command"], "sh scripts/start-server.sh");
    let finished = server[1];
    assert_eq!(finished["status"], "passed", "{finished}");
    assert_eq!(finished["exported"], serde_json::json!(["ADDR"]));
    let position = |pred: &dyn Fn(&Value) -> bool| events.iter().position(pred).unwrap();
    let ready = position(&|e| std::ptr::eq(e, finished));
    let first_http_start =
        position(&|e| event_type(e) == "test-started" && e["binary_id"] == "served::http");
    assert!(ready < first_http_start, "{}", run.context());
    let broken = script_events(&events, "broken");
    assert_eq!(broken.len(), 2);
    assert_eq!(broken[1]["status"], "failed");
    assert_eq!(broken[1]["exit_code"], 3);
    assert_eq!(broken[1]["stdout"], "preparing the database\n");
    assert_eq!(broken[1]["stderr"], "the database is missing\n");
    // The server it left running ended with the run, quietly: it was expected to live.
    let stdout = finished["stdout"].as_str().unwrap();
    let pid: u32 = stdout
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {stdout:?}"));
    assert!(wait_until_gone(pid), "the server {pid} outlived the run");
    assert!(!run.stderr.contains("warning: killed"), "{}", run.context());
}

#[test]
fn a_failed_scripts_output_and_reason_are_shown_to_people() {
    let run = run_fixture(FIXTURE, &["-n2", "-E", "binary(broken)"]);
    run.assert_code(100);
    let out = &run.stdout;
    for expected in [
        "   SETUP             broken: sh -c 'echo preparing the database; echo the database is missing >&2; exit 3'\n",
        "broken: exited with code 3\n--- STDOUT: setup script broken ---\npreparing the database\n--- STDERR: setup script broken ---\nthe database is missing\n",
        "    the tests that need broken fail without running\n",
        "                     not run: its setup script 'broken' exited with code 3\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?}{}", run.context());
    }
    assert_eq!(run.last_stdout_line(), summary_line(0, 2, 0));
    // The server was not needed by the tests selected: it never started.
    assert!(!out.contains("http-server"), "{}", run.context());
}

#[test]
fn no_script_runs_for_a_selection_that_needs_none_nor_under_no_run() {
    let (run, events) = json_run(&["plain"]);
    run.assert_code(0);
    let scripts = events
        .iter()
        .filter(|e| event_type(e).starts_with("setup-script-"));
    assert_eq!(scripts.count(), 0, "{}", run.context());
    let no_run = run_fixture(FIXTURE, &["--no-run"]);
    no_run.assert_code(0);
    assert!(!no_run.stdout.contains("SETUP"), "{}", no_run.context());
    assert_eq!(
        no_run.last_stdout_line(),
        "setup scripts a run would start: broken (for 2 tests), http-server (for 2 tests)",
        "{}",
        no_run.context()
    );
}

#[test]
fn a_timed_out_script_and_bad_exports_fail_their_scopes_with_their_reasons() {
    let (run, events) = json_run(&["--profile", "flawed", "-n2"]);
    run.assert_code(100);
    let finals = final_events(&events);
    assert_eq!(finals[&key("served", "tests::plain")]["status"], "passed");
    for name in ["fetches_the_file_it_serves", "a_missing_file_is_not_found"] {
        let event = finals[&key("served::http", name)];
        assert_eq!(event["status"], "setup-failed");
        assert_eq!(event["reason"], "timed out after 300ms");
    }
    let bad = finals[&key("served::broken", "would_pass")];
    assert_eq!(bad["script"], "bad-env");
    assert_eq!(
        bad["reason"],
        "wrote a bad RUNNER_ENV file: line 2, \"not an assignment\": not KEY=VALUE"
    );
    let slow = script_events(&events, "slow");
    assert_eq!(slow[1]["status"], "timed-out");
}

#[test]
fn tests_that_need_a_script_are_not_batched_and_get_its_exports() {
    let (run, events) = json_run(&["--batch", "-E", "not binary(broken)"]);
    run.assert_code(0);
    let finished = events_of(&events, "test-finished");
    assert_eq!(finished.len(), 3, "{}", run.context());
    // The two tests of `served::http` would share a chunk if they were batched; the library's
    // one test is a chunk of one, which runs alone too.
    for event in finished {
        assert_eq!(event["batched"], false, "{event}");
        assert!(event.get("chunk").is_none(), "{event}");
        assert_eq!(event["status"], "passed", "{event}");
    }
}

/// A runner of the `hang` profile, whose script records its pid in a file and waits; returns
/// the runner and the script's pid, once it is known.
fn start_hanging(args: &[&str]) -> (Running, u32, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("hang-pid");
    let mut command = runner_command();
    command.env("HANG_MARK", &mark);
    let mut all: Vec<std::ffi::OsString> = ["--profile", "hang", "--message-format", "json"]
        .iter()
        .chain(args)
        .map(Into::into)
        .collect();
    all.extend(cargo_args(&fixture_manifest(FIXTURE)));
    let runner = Running::start(command, all);
    // A hang guard, not a measure: the script starts as soon as the build is done.
    let deadline = Instant::now() + Duration::from_secs(120);
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&mark)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the hang script never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    (runner, pid, dir)
}

#[test]
fn ctrl_c_while_a_script_runs_cancels_its_tests_and_ends_it() {
    let (runner, pid, _dir) = start_hanging(&["-E", "binary(http)", "--timeout-grace", "1s"]);
    nix::sys::signal::kill(runner.pid(), nix::sys::signal::Signal::SIGINT).unwrap();
    let run = runner.wait();
    run.assert_code(130);
    let events = run.events();
    let finals = final_events(&events);
    assert_eq!(finals.len(), 2, "{}", run.context());
    for event in finals.values() {
        assert_eq!(event["status"], "cancelled", "{event}");
    }
    let hang = script_events(&events, "hang");
    assert_eq!(hang[1]["status"], "cancelled", "{}", run.context());
    assert!(wait_until_gone(pid), "the script {pid} outlived the run");
}

#[test]
fn a_script_outlives_no_runner_killed_with_sigkill() {
    let (runner, pid, _dir) = start_hanging(&["-E", "binary(http)"]);
    nix::sys::signal::kill(runner.pid(), nix::sys::signal::Signal::SIGKILL).unwrap();
    let run = runner.wait();
    assert_eq!(run.code, 128 + 9, "{}", run.context());
    // The watchdog ends everything that carries the run's token.
    assert!(wait_until_gone(pid), "the script {pid} outlived the runner");
}

/// `show-config` lists the scripts and the profile's scopes; `show-config test NAME` the
/// scripts that test gets, as a run gives them (see above).
#[test]
fn show_config_shows_the_scripts_and_which_a_test_gets() {
    let run = run_fixture(FIXTURE, &["show-config"]);
    run.assert_code(0);
    let lines = run.stdout_lines();
    for line in [
        "  http-server       sh scripts/start-server.sh  (timeout 1m)",
        "  slow              sleep 30  (timeout 300ms)",
        "Scopes ([[profile.default.scripts]]: a test gets every matching table's scripts, in \
         order; doctests none):",
        "  filter binary(http)  ->  http-server",
        "  filter binary(broken)  ->  broken",
    ] {
        assert!(lines.contains(&line), "no {line:?}{}", run.context());
    }
    for (profile, scripts) in [("default", "broken"), ("flawed", "bad-env")] {
        let args = ["show-config", "test", "would_pass", "--profile", profile];
        let run = run_fixture(FIXTURE, &args);
        run.assert_code(0);
        let line = format!("  setup scripts     {scripts}");
        assert!(
            run.stdout_lines().contains(&line.as_str()),
            "no {line:?}{}",
            run.context()
        );
    }
    let run = run_fixture(FIXTURE, &["show-config", "test", "tests::plain"]);
    run.assert_code(0);
    assert!(
        run.stdout_lines().contains(&"  setup scripts     none"),
        "{}",
        run.context()
    );
}
