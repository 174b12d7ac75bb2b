//! `--compare` and `--compare-modes` told truthfully (issue 11): a test whose outcome depends
//! on the pass is named as not isolated and fails the run, repeated passes report medians and
//! their spread, and efficiency counts only the workers a run could use.
//!
//! Isolation failures by construction: the `rendezvous` fixture's `meet_a` passes only when
//! `meet_b` runs at the same time (it waits for b's marker file), so it passes in parallel and
//! fails alone; the `isolation` fixture's two tests share a process-wide flag, so in one batch
//! the second fails, while each passes in a process of its own.

use std::process::Command;

mod common;

use common::{events_of, run_fixture, run_fixture_with, summary_line, Run};
use serde_json::Value;

/// The rendezvous fixture, each test giving up on the other after a short wait; in name order,
/// so that alone, `meet_a` (first) fails and `meet_b` (which finds a's marker) passes.
fn rendezvous(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let configure = |command: &mut Command| {
        command
            .env("RENDEZVOUS_DIR", dir.path())
            .env("RENDEZVOUS_TIMEOUT_MS", "500");
    };
    run_fixture_with("rendezvous", args, configure)
}

fn last_run_finished(run: &Run) -> Value {
    let events = run.events();
    let finished = events_of(&events, "run-finished");
    (*finished.last().expect("a run-finished event")).clone()
}

#[test]
fn tests_that_pass_only_in_parallel_are_not_isolated_and_fail_the_run() {
    let run = rendezvous(&["--compare", "-n2", "--order", "name"]);
    run.assert_code(100);
    assert!(
        run.stdout.contains("1 test not isolated"),
        "{}",
        run.context()
    );
    let line = run
        .stdout_lines()
        .into_iter()
        .find(|l| l.contains("rendezvous meet_a:"))
        .unwrap_or_else(|| panic!("meet_a is not named{}", run.context()));
    assert!(
        line.ends_with("passed in parallel, failed alone (serial)"),
        "{line}"
    );
    // meet_a passed in the pass whose results count, and still counts as failed.
    assert_eq!(
        run.last_stdout_line(),
        summary_line(1, 1, 0),
        "{}",
        run.context()
    );
}

#[test]
fn not_isolated_tests_are_in_the_json_run_finished_event() {
    let run = rendezvous(&[
        "--compare",
        "-n2",
        "--order",
        "name",
        "--message-format",
        "json",
    ]);
    run.assert_code(100);
    let finished = last_run_finished(&run);
    assert_eq!(finished["failed"], 1, "{finished}");
    let differences = finished["not_isolated"].as_array().expect("not_isolated");
    let names: Vec<&str> = differences
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, ["meet_a"], "{finished}");
    assert_eq!(differences[0]["passed_in"], serde_json::json!(["parallel"]));
    assert_eq!(differences[0]["failed_in"], serde_json::json!(["serial"]));
}

#[test]
fn tests_that_fail_in_a_batch_are_not_isolated() {
    let run = run_fixture("isolation", &["--compare-modes", "-n2", "--order", "name"]);
    run.assert_code(100);
    let named: Vec<&str> = run
        .stdout_lines()
        .into_iter()
        .filter(|l| l.ends_with("passed in its own process, failed in a batch"))
        .collect();
    assert_eq!(named.len(), 1, "{}", run.context());
    assert!(
        named[0].contains("isolation claims_the_flag_b"),
        "{}",
        run.context()
    );
}

#[test]
fn runs_repeats_both_passes_and_shows_the_spread() {
    let run = run_fixture("ordering", &["--compare", "--runs", "2", "-n2"]);
    run.assert_code(0);
    let lines = run.stdout_lines();
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("serial run: Running"), 2, "{}", run.context());
    assert_eq!(count("parallel run: Running"), 2, "{}", run.context());
    assert_eq!(count("  wall time (median)"), 1, "{}", run.context());
    assert_eq!(run.last_stdout_line(), summary_line(4, 0, 0));
}

#[test]
fn runs_without_a_comparison_is_one_usage_error() {
    let run = run_fixture("ordering", &["--runs", "3"]);
    run.assert_code(2);
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", run.context());
    assert!(lines[0].contains("--compare"), "{}", run.context());
}

#[test]
fn efficiency_counts_only_the_workers_a_run_can_use() {
    let run = run_fixture("ordering", &["-n64"]);
    run.assert_code(0);
    let figures = run
        .stdout_lines()
        .into_iter()
        .find(|l| l.starts_with("Run (process mode):"))
        .unwrap_or_else(|| panic!("no figures line{}", run.context()));
    assert!(figures.contains("64 workers (4 usable)"), "{figures}");
    assert!(figures.contains("concurrency"), "{figures}");
    assert!(!figures.contains("speedup"), "{figures}");
    let run = run_fixture("ordering", &["-n64", "--message-format", "json"]);
    assert_eq!(last_run_finished(&run)["usable_workers"], 4);
}
