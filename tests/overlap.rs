//! Overlapped runs: tests of the binaries cargo has built start while it still builds the
//! others. The fixture's `late` crate has a build script that waits until a test of `early`
//! has run, so a build that finishes proves the overlap (it fails after a while otherwise).

mod common;

use std::process::Command;

use common::*;

/// A rendezvous file no earlier run has written: each run of the build script waits anew.
fn rendezvous() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("early-ran");
    (dir, path)
}

/// The fixture run with the rendezvous at `path`, cargo on two jobs (so that `early` builds
/// beside the waiting build script on any machine), and `extra` variables.
fn overlap_run(args: &[&str], path: &std::path::Path, extra: &[(&str, &str)]) -> Run {
    run_fixture_with("overlap", args, |command: &mut Command| {
        command
            .env("OVERLAP_RENDEZVOUS", path)
            .env("CARGO_BUILD_JOBS", "2");
        for (name, value) in extra {
            command.env(name, value);
        }
    })
}

#[test]
fn a_test_of_a_built_crate_runs_while_cargo_builds_another() {
    let (_dir, path) = rendezvous();
    let run = overlap_run(&["-n2", "--message-format", "json"], &path, &[]);
    run.assert_code(0);
    let events = run.events();
    let outcomes = finished(&events);
    let passed = |binary: &str, name: &str| outcomes.get(&key(binary, name)).map(String::as_str);
    assert_eq!(
        passed("early", "tests::signals_the_build"),
        Some("passed"),
        "{}",
        run.context()
    );
    assert_eq!(passed("early", "tests::answers"), Some("passed"));
    assert_eq!(passed("late", "tests::is_late"), Some("passed"));
    // Every test once, and the run's phases say the first test started before cargo was done.
    assert_eq!(final_events(&events).len(), 3, "{}", run.context());
    let phases = &events_of(&events, "run-finished")[0]["phases"];
    let at = |name: &str| phases[name].as_f64().unwrap();
    assert!(at("first_test") < at("build"), "{phases}");
    assert!(path.exists());
}

#[test]
fn a_build_failure_after_tests_ran_reports_them_and_exits_101() {
    let (_dir, path) = rendezvous();
    let run = overlap_run(
        &["-n2", "--message-format", "json"],
        &path,
        &[("OVERLAP_BREAK", "1")],
    );
    run.assert_code(101);
    let events = run.events();
    let outcomes = finished(&events);
    assert_eq!(
        outcomes.get(&key("early", "tests::signals_the_build")),
        Some(&"passed".to_string()),
        "{}",
        run.context()
    );
    assert_eq!(
        outcomes.get(&key("early", "tests::answers")).unwrap(),
        "passed"
    );
    assert!(!outcomes.keys().any(|(binary, _)| binary == "late"));
    assert_eq!(events_of(&events, "run-finished").len(), 1);
    let error = (run.stderr_lines().into_iter()).rfind(|l| l.starts_with("error: "));
    assert!(
        error.is_some_and(|l| l.contains("the build failed") && l.contains("ran")),
        "{}",
        run.context()
    );
}

#[test]
fn no_overlap_builds_everything_before_the_first_test() {
    let (_dir, path) = rendezvous();
    let run = overlap_run(
        &["-n2", "--no-overlap"],
        &path,
        &[("OVERLAP_WAIT_SECS", "2")],
    );
    // The build script waited in vain: no test ran while cargo was building.
    run.assert_code(101);
    assert!(
        run.stderr
            .contains("no test of `early` ran while cargo was building"),
        "{}",
        run.context()
    );
    assert!(!path.exists());
}

#[test]
fn fail_fast_stops_the_run_at_a_failure_during_the_build() {
    let (_dir, path) = rendezvous();
    let args = ["-n2", "-x", "--message-format", "json"];
    let run = overlap_run(&args, &path, &[("OVERLAP_FAIL", "1")]);
    run.assert_code(100);
    let events = run.events();
    let finals = final_events(&events);
    let status = |binary: &str, name: &str| {
        let event = finals.get(&key(binary, name)).copied();
        event.map(|e| {
            (
                event_type(e).to_string(),
                e["status"].as_str().map(str::to_string),
            )
        })
    };
    let failed = status("early", "tests::signals_the_build");
    assert_eq!(
        failed,
        Some(("test-finished".into(), Some("failed".into()))),
        "{}",
        run.context()
    );
    // Built after the failure: it never starts, and says so.
    let late = finals.get(&key("late", "tests::is_late")).copied();
    let late = late.unwrap_or_else(|| panic!("no result for late{}", run.context()));
    assert_eq!(late["reason"], "not-started", "{late}");
    assert_eq!(finals.len(), 3, "{}", run.context());
}
