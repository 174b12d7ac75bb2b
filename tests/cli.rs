//! End-to-end tests of the `runner` binary, driven as a user would drive it.
//!
//! Fixture crates live in `tests/fixtures/`; every run builds them into one shared target
//! directory under `CARGO_TARGET_TMPDIR` (see `common`). No assertion depends on wall-clock
//! time: parallelism is proven with the rendezvous fixture, whose two tests only pass when they
//! run at the same time.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::sync::OnceLock;

use common::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// 1. Every outcome the runner classifies, against the fixture's table.
// ---------------------------------------------------------------------------------------------

/// The one JSON run of the outcomes fixture with two workers that this section reads.
fn outcomes_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| run_fixture("outcomes", &["-n2", "--message-format", "json"]))
}

/// The shared run's events, after checking its exit code (the fixture has failures).
fn outcomes_events() -> (&'static Run, Vec<Value>) {
    let run = outcomes_run();
    run.assert_code(100);
    (run, run.events())
}

/// The stream is framed by run-started ... run-finished.
#[test]
fn event_stream_is_framed_by_run_started_and_run_finished() {
    let expected = expected_outcomes();
    let (run, events) = outcomes_events();
    let first = events.first().expect("no events");
    let last = events.last().expect("no events");
    assert_eq!(event_type(first), "run-started", "{}", run.context());
    assert_eq!(event_type(last), "run-finished", "{}", run.context());
    assert_eq!(first["format_version"], 2);
    assert_eq!(first["workers"], 2);
    // The tests that will run: ignored ones are counted apart.
    let ignored = expected.values().filter(|l| *l == "SKIP").count();
    assert_eq!(
        first["tests"],
        expected.len() - ignored,
        "{}",
        run.context()
    );
    assert_eq!(first["ignored"], ignored, "{}", run.context());
    assert_eq!(events_of(&events, "run-started").len(), 1);
    assert_eq!(events_of(&events, "run-finished").len(), 1);
    assert!(events_of(&events, "list-failed").is_empty());
}

/// What differs between the expected table and the actual labels, one line per test.
fn table_diff(expected: &BTreeMap<TestKey, String>, actual: &BTreeMap<TestKey, String>) -> String {
    let mut diff = String::new();
    for (key, want) in expected {
        match actual.get(key) {
            Some(got) if got == want => {}
            Some(got) => diff += &format!("  {key:?}: expected {want}, got {got}\n"),
            None => diff += &format!("  {key:?}: expected {want}, missing\n"),
        }
    }
    for (key, got) in actual {
        if !expected.contains_key(key) {
            diff += &format!("  {key:?}: unexpected test, got {got}\n");
        }
    }
    diff
}

/// Exactly one final event per expected test, and nothing else.
#[test]
fn outcomes_match_expected_table() {
    let expected = expected_outcomes();
    let (run, events) = outcomes_events();
    let actual: BTreeMap<TestKey, String> = final_events(&events)
        .iter()
        .map(|(key, event)| (key.clone(), label_of(event)))
        .collect();
    if actual != expected {
        panic!(
            "outcomes differ from expected.txt:\n{}{}",
            table_diff(&expected, &actual),
            run.context()
        );
    }
}

#[test]
fn ignored_tests_are_skipped_as_ignored() {
    let (_, events) = outcomes_events();
    for event in events_of(&events, "test-skipped") {
        assert_eq!(event["reason"], "ignored", "{event}");
    }
}

/// Every test that finished was started exactly once; skipped tests never started.
#[test]
fn every_finished_test_started_exactly_once() {
    let (_, events) = outcomes_events();
    let started: Vec<TestKey> = events_of(&events, "test-started")
        .into_iter()
        .map(key_of)
        .collect();
    let started_set: BTreeSet<TestKey> = started.iter().cloned().collect();
    assert_eq!(started.len(), started_set.len(), "a test started twice");
    let finished_set: BTreeSet<TestKey> = finished(&events).into_keys().collect();
    assert_eq!(started_set, finished_set);
}

/// Crashes name their signal; unusual exits their code; failures their exit code.
#[test]
fn crashes_name_their_signal_and_exits_their_code() {
    let (_, events) = outcomes_events();
    for (key, event) in &final_events(&events) {
        match event["status"].as_str() {
            Some("crashed") => {
                let signal = event["signal"].as_str().unwrap_or("");
                let want = match key.1.as_str() {
                    "aborts" => "SIGABRT",
                    "segfaults" => "SIGSEGV",
                    other => panic!("unexpected crash of {other}: {event}"),
                };
                assert_eq!(signal, want, "{event}");
            }
            Some("exited") => assert_eq!(event["exit_code"], 3, "{event}"),
            Some("failed") => assert!(event["exit_code"].is_i64(), "{event}"),
            _ => {}
        }
    }
}

#[test]
fn finished_tests_carry_duration_output_and_leak_flag() {
    let (_, events) = outcomes_events();
    for event in final_events(&events).values() {
        if event["status"].is_string() {
            assert!(event["duration"].as_f64().is_some_and(|d| d >= 0.0));
            assert!(event["stdout"].is_string() && event["stderr"].is_string());
            assert!(event["leaked"].is_boolean());
        }
    }
}

#[test]
fn rerun_command_is_given_iff_a_test_did_not_pass() {
    let (_, events) = outcomes_events();
    for event in final_events(&events).values() {
        if event["status"].is_string() {
            let passed = event["status"] == "passed";
            let rerun = event["rerun"].as_str().unwrap_or("");
            assert_eq!(
                !passed,
                rerun.starts_with("runner "),
                "rerun given iff the test did not pass: {event}"
            );
        }
    }
}

/// The closing counts agree with the table, in the event and in the human summary.
#[test]
fn closing_counts_agree_with_the_table() {
    let (passed, failed, skipped) = counts(&expected_outcomes());
    let (run, events) = outcomes_events();
    let last = events.last().expect("no events");
    assert_eq!(last["passed"], passed, "{last}");
    assert_eq!(last["failed"], failed, "{last}");
    assert_eq!(last["skipped"], skipped, "{last}");
    assert_eq!(last["workers"], 2);
    // With JSON on stdout the human text moves to stderr, still ending with the Summary line.
    assert_eq!(
        run.stderr.lines().last().unwrap_or(""),
        summary_line(passed, failed, skipped),
        "{}",
        run.context()
    );
}

// ---------------------------------------------------------------------------------------------
// 2. The human report with -v, and a printed rerun command actually rerunning one test.
// ---------------------------------------------------------------------------------------------

/// Status lines printed while the run goes (before the closing list of failures), and the
/// closing list as (status line, rerun command), past each failure's panic line.
fn split_human_report(run: &Run) -> (Vec<StatusLine>, Vec<(StatusLine, String)>) {
    let lines = run.stdout_lines();
    let closing = lines
        .iter()
        .position(|l| l.ends_with(" did not pass:"))
        .unwrap_or(lines.len());
    let live = lines[..closing]
        .iter()
        .filter_map(|l| parse_status_line(l))
        .collect();
    let mut failures = Vec::new();
    let mut rest = lines[closing..].iter().skip(1).peekable();
    while let Some(line) = rest.next() {
        let Some(status) = parse_status_line(line) else {
            continue;
        };
        // The line of its panic, when it panicked, comes first.
        if rest
            .peek()
            .is_some_and(|next| next.trim_start().starts_with("panicked at "))
        {
            rest.next();
        }
        let rerun = rest
            .peek()
            .and_then(|next| next.trim_start().strip_prefix("rerun: "))
            .unwrap_or_else(|| panic!("no rerun line after {line:?}{}", run.context()))
            .to_string();
        failures.push((status, rerun));
    }
    (live, failures)
}

/// The lines of the block printed for one failed test: its status line up to its reason line.
fn failure_block(run: &Run, key: &TestKey) -> String {
    let id = format!("{} {}", key.0, key.1);
    let lines = run.stdout_lines();
    let start = lines
        .iter()
        .position(|l| parse_status_line(l).is_some_and(|s| s.key == *key && s.secs.is_some()))
        .unwrap_or_else(|| panic!("no status line for {id}{}", run.context()));
    let reason = format!("    {id}: ");
    let end = lines[start..]
        .iter()
        .position(|l| l.starts_with(&reason))
        .unwrap_or_else(|| panic!("no reason line for {id}{}", run.context()));
    lines[start..=start + end].join("\n")
}

/// Run a printed rerun command: `runner` becomes the built binary, and the shared target dir is
/// kept (added if the command lacks it, so nothing is built inside the repository).
fn run_rerun(command: &str) -> Run {
    let words = shlex::split(command).unwrap_or_else(|| panic!("cannot split {command:?}"));
    assert_eq!(
        words.first().map(String::as_str),
        Some("runner"),
        "{command}"
    );
    let mut args: Vec<OsString> = words[1..].iter().map(OsString::from).collect();
    if !words.iter().any(|w| w == "--target-dir") {
        args.extend(["--target-dir".into(), shared_target_dir().into()]);
    }
    run(args)
}

/// The one `-v -n2` run of the outcomes fixture that the tests below read.
fn verbose_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    let run = RUN.get_or_init(|| run_fixture("outcomes", &["-v", "-n2"]));
    run.assert_code(100);
    run
}

/// Not a terminal: no colour, no progress bar, anywhere.
#[test]
fn verbose_report_off_a_terminal_has_no_escape_codes() {
    let run = verbose_run();
    assert!(
        !run.raw_stdout.contains(&0x1b) && !run.raw_stderr.contains(&0x1b),
        "escape byte in output{}",
        run.context()
    );
}

/// The non-UTF-8 bytes a test printed come out as replacement characters: stdout stays valid
/// UTF-8 and the rest of the report is intact.
#[test]
fn non_utf8_test_output_keeps_the_report_valid_utf8() {
    let run = verbose_run();
    assert!(
        std::str::from_utf8(&run.raw_stdout).is_ok(),
        "stdout is not UTF-8{}",
        run.context()
    );
}

/// One status line per test while the run goes.
#[test]
fn verbose_report_has_one_status_line_per_test() {
    let run = verbose_run();
    let (live, _) = split_human_report(run);
    let mut seen: BTreeMap<TestKey, String> = BTreeMap::new();
    for status in &live {
        let label = match status.label.as_str() {
            // A passing test whose pipes stayed open a moment after it exited: still a pass.
            "LEAKY" => "PASS".to_string(),
            other => other.to_string(),
        };
        assert_eq!(
            status.secs.is_none(),
            label == "SKIP",
            "only skipped tests have no time: {status:?}"
        );
        if seen.insert(status.key.clone(), label).is_some() {
            panic!("two status lines for {:?}{}", status.key, run.context());
        }
    }
    assert_eq!(
        seen,
        expected_outcomes(),
        "status lines differ{}",
        run.context()
    );
}

/// The last stdout line is exactly the Summary line.
#[test]
fn verbose_report_ends_with_the_summary_line() {
    let (passed, failed, skipped) = counts(&expected_outcomes());
    let run = verbose_run();
    assert_eq!(
        run.last_stdout_line(),
        summary_line(passed, failed, skipped),
        "{}",
        run.context()
    );
}

/// The failure of prints_then_fails shows what it printed on both streams and the panic.
#[test]
fn failure_report_shows_both_streams_and_the_panic() {
    let block = failure_block(verbose_run(), &key("outcomes", "prints_then_fails"));
    for needle in [
        "--- STDOUT: outcomes prints_then_fails ---",
        "marker-before-failure",
        "--- STDERR: outcomes prints_then_fails ---",
        "marker-before-failure-stderr",
        "boom",
    ] {
        assert!(block.contains(needle), "{needle:?} not in:\n{block}");
    }
}

#[test]
fn failure_report_shows_non_utf8_bytes_as_replacement_characters() {
    let block = failure_block(verbose_run(), &key("outcomes", "non_utf8_output"));
    assert!(block.contains("<\u{fffd}\u{fffd}\u{fffd}>"), "{block}");
}

#[test]
fn failure_report_of_a_crash_names_the_signal() {
    let block = failure_block(verbose_run(), &key("outcomes", "aborts"));
    assert!(block.contains("SIGABRT"), "{block}");
}

/// The closing list: every failed test once, each followed by its rerun command.
#[test]
fn closing_list_names_every_failed_test_with_a_rerun_command() {
    let expected = expected_outcomes();
    let (_, failed, _) = counts(&expected);
    let run = verbose_run();
    let header = format!("{failed} tests did not pass:");
    assert!(
        run.stdout_lines().contains(&header.as_str()),
        "no {header:?}{}",
        run.context()
    );
    // split_human_report checks that a rerun line follows each entry.
    let (_, closing) = split_human_report(run);
    let listed: BTreeMap<TestKey, String> = closing
        .iter()
        .map(|(status, _)| (status.key.clone(), status.label.clone()))
        .collect();
    let failed_expected: BTreeMap<TestKey, String> = expected
        .into_iter()
        .filter(|(_, label)| !matches!(label.as_str(), "PASS" | "SKIP"))
        .collect();
    assert_eq!(closing.len(), failed, "{}", run.context());
    assert_eq!(listed, failed_expected, "{}", run.context());
}

/// Paste the rerun command printed for `target`: it runs exactly that one test.
fn assert_rerun_command_runs_only(target: TestKey) {
    let (_, closing) = split_human_report(verbose_run());
    let reruns: BTreeMap<TestKey, String> = closing
        .into_iter()
        .map(|(status, rerun)| (status.key, rerun))
        .collect();
    let again = run_rerun(&reruns[&target]);
    again.assert_code(100);
    let (live, closing) = split_human_report(&again);
    let ran: Vec<(TestKey, String)> = live.into_iter().map(|s| (s.key, s.label)).collect();
    assert_eq!(
        ran,
        [(target.clone(), "FAIL".to_string())],
        "{}",
        again.context()
    );
    assert_eq!(closing.len(), 1, "{}", again.context());
    assert_eq!(again.last_stdout_line(), summary_line(0, 1, 0));
}

#[test]
fn rerun_command_of_a_unit_test_runs_only_that_test() {
    assert_rerun_command_runs_only(key("outcomes", "prints_then_fails"));
}

#[test]
fn rerun_command_of_an_integration_test_runs_only_that_test() {
    assert_rerun_command_runs_only(key("outcomes::integration", "integration_fails"));
}

// ---------------------------------------------------------------------------------------------
// 3. One process per test.
// ---------------------------------------------------------------------------------------------

#[test]
fn isolation() {
    // Each test fails if another test already ran in its process. With one worker they run
    // one after the other, so only separate processes let both pass.
    let run = run_fixture(
        "outcomes",
        &["-n1", "--message-format", "json", "isolation"],
    );
    run.assert_code(0);
    let events = run.events();
    let expected: BTreeMap<TestKey, String> = [
        (key("outcomes", "isolation_first"), "passed".to_string()),
        (key("outcomes", "isolation_second"), "passed".to_string()),
    ]
    .into();
    assert_eq!(finished(&events), expected, "{}", run.context());
    let last = events.last().expect("events");
    assert_eq!(
        (&last["passed"], &last["failed"], &last["skipped"]),
        (&Value::from(2), &Value::from(0), &Value::from(0))
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Tests really run at the same time.
// ---------------------------------------------------------------------------------------------

#[test]
fn parallel_rendezvous() {
    // meet_a and meet_b each wait for the other's marker file: with two workers they meet.
    // The generous timeout only bounds a broken runner; it is not a speed requirement.
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_fixture_with("rendezvous", &["-n2", "-v"], |c| {
        c.env("RENDEZVOUS_DIR", dir.path())
            .env("RENDEZVOUS_TIMEOUT_MS", "120000");
    });
    run.assert_code(0);
    assert_eq!(
        run.last_stdout_line(),
        summary_line(2, 0, 0),
        "{}",
        run.context()
    );

    // With one worker the first of the two runs alone and gives up after its short timeout;
    // the second then finds the first one's marker at once. Which one goes first is the
    // scheduler's business, so the check follows the order the events report.
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_fixture_with("rendezvous", &["-n1", "--message-format", "json"], |c| {
        c.env("RENDEZVOUS_DIR", dir.path())
            .env("RENDEZVOUS_TIMEOUT_MS", "200");
    });
    run.assert_code(100);
    let events = run.events();
    let order: Vec<TestKey> = events_of(&events, "test-started")
        .into_iter()
        .map(key_of)
        .collect();
    let both: BTreeSet<TestKey> = [key("rendezvous", "meet_a"), key("rendezvous", "meet_b")].into();
    assert_eq!(order.len(), 2, "{}", run.context());
    assert_eq!(order.iter().cloned().collect::<BTreeSet<_>>(), both);
    let expected: BTreeMap<TestKey, String> = [
        (order[0].clone(), "failed".to_string()),
        (order[1].clone(), "passed".to_string()),
    ]
    .into();
    assert_eq!(finished(&events), expected, "{}", run.context());
}

// ---------------------------------------------------------------------------------------------
// 5. Choosing tests: filters, --skip, --exact, cargo target flags, list, --ignored.
// ---------------------------------------------------------------------------------------------

/// The tests a JSON run on the ordering fixture ran (all must pass).
fn ordering_ran(args: &[&str]) -> BTreeSet<String> {
    let mut all = vec!["--message-format", "json"];
    all.extend_from_slice(args);
    let run = run_fixture("ordering", &all);
    run.assert_code(0);
    let events = run.events();
    assert!(
        events_of(&events, "test-skipped").is_empty(),
        "{}",
        run.context()
    );
    finished(&events)
        .into_iter()
        .map(|((binary, name), status)| {
            assert_eq!(status, "passed", "{}", run.context());
            let expected_binary = if name == "delta" {
                "ordering::second"
            } else {
                "ordering"
            };
            assert_eq!(binary, expected_binary);
            name
        })
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn no_filter_runs_every_test() {
    assert_eq!(
        ordering_ran(&[]),
        names(&["alpha", "beta", "gamma", "delta"])
    );
}

/// Positional filters: substrings, any of them.
#[test]
fn positional_filters_select_tests_containing_any_of_them() {
    assert_eq!(ordering_ran(&["alp", "elt"]), names(&["alpha", "delta"]));
}

/// --skip is repeatable and wins over filters.
#[test]
fn skip_is_repeatable_and_wins_over_filters() {
    assert_eq!(
        ordering_ran(&["--skip", "alpha", "--skip", "delt"]),
        names(&["beta", "gamma"])
    );
    assert_eq!(
        ordering_ran(&["a", "--skip", "gamma"]),
        names(&["alpha", "beta", "delta"])
    );
}

/// --exact: whole names only.
#[test]
fn exact_matches_whole_names_only() {
    assert_eq!(ordering_ran(&["--exact", "alpha"]), names(&["alpha"]));
    let run = run_fixture("ordering", &["--exact", "alph"]);
    run.assert_code(4);
}

/// Cargo target selection.
#[test]
fn cargo_target_flags_select_binaries() {
    assert_eq!(ordering_ran(&["--test", "second"]), names(&["delta"]));
    assert_eq!(ordering_ran(&["--lib"]), names(&["alpha", "beta", "gamma"]));
    assert_eq!(
        ordering_ran(&["-p", "ordering"]),
        names(&["alpha", "beta", "gamma", "delta"])
    );
}

/// `runner list`, human.
#[test]
fn list_prints_the_tests_grouped_by_binary() {
    let run = run_fixture("ordering", &["list"]);
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "ordering:\n    alpha\n    beta\n    gamma\nordering::second:\n    delta\n\
         4 tests to run from 2 binaries (0 ignored, not run)\n",
        "{}",
        run.context()
    );
}

#[test]
fn list_honours_filters() {
    let run = run_fixture("ordering", &["list", "--skip", "a"]);
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "0 tests to run from 0 binaries (0 ignored, not run)\n",
        "{}",
        run.context()
    );
    let run = run_fixture("ordering", &["list", "gamma", "delta"]);
    assert_eq!(
        run.stdout,
        "ordering:\n    gamma\nordering::second:\n    delta\n2 tests to run from 2 binaries \
         (0 ignored, not run)\n",
        "{}",
        run.context()
    );
}

/// One binary of a `runner list --format json` listing as (binary_id, kind, test names), after
/// checking its path (built in the shared target dir), its cwd and its tests' flags.
fn listed_ordering_binary(b: &Value) -> (String, String, Vec<String>) {
    let tests = b["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| {
            assert_eq!(t["ignored"], false, "{t}");
            assert_eq!(t["whole_binary"], false, "{t}");
            t["name"].as_str().expect("name").to_string()
        })
        .collect();
    let path = std::path::Path::new(b["path"].as_str().expect("path"));
    assert!(path.is_absolute() && path.is_file(), "{b}");
    assert!(
        path.starts_with(shared_target_dir()),
        "built outside the shared target dir: {b}"
    );
    assert_eq!(
        std::path::Path::new(b["cwd"].as_str().expect("cwd")),
        fixture_dir("ordering"),
        "{b}"
    );
    (
        b["binary_id"].as_str().expect("binary_id").to_string(),
        b["kind"].as_str().expect("kind").to_string(),
        tests,
    )
}

/// `runner list --format json`.
#[test]
fn list_json_describes_each_binary_and_its_tests() {
    let run = run_fixture("ordering", &["list", "--format", "json"]);
    run.assert_code(0);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.context());
    let listing: Value = serde_json::from_str(&run.stdout).expect("list JSON");
    let binaries = listing["binaries"].as_array().expect("binaries array");
    let summary: Vec<(String, String, Vec<String>)> =
        binaries.iter().map(listed_ordering_binary).collect();
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        summary,
        vec![
            (
                "ordering".to_string(),
                "lib".to_string(),
                strings(&["alpha", "beta", "gamma"])
            ),
            (
                "ordering::second".to_string(),
                "test".to_string(),
                strings(&["delta"])
            ),
        ]
    );
}

/// --ignored runs only the ignored tests, and nothing is reported for the others.
#[test]
fn ignored_flag_runs_only_the_ignored_tests() {
    let run = run_fixture(
        "outcomes",
        &["--ignored", "-n2", "--message-format", "json"],
    );
    run.assert_code(100);
    let events = run.events();
    let expected: BTreeMap<TestKey, String> = [
        (key("outcomes", "ignored_fails"), "failed".to_string()),
        (key("outcomes", "ignored_test"), "passed".to_string()),
    ]
    .into();
    assert_eq!(finished(&events), expected, "{}", run.context());
    assert!(
        events_of(&events, "test-skipped").is_empty(),
        "{}",
        run.context()
    );
    let ignored_fails = events
        .iter()
        .find(|e| event_type(e) == "test-finished" && e["name"] == "ignored_fails")
        .expect("ignored_fails");
    assert!(
        ignored_fails["stderr"]
            .as_str()
            .unwrap_or("")
            .contains("ignored_fails was run and fails"),
        "{ignored_fails}"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. -x and --maxfail.
// ---------------------------------------------------------------------------------------------

/// Run outcomes with one worker and a failure limit; check the stream and return the number
/// of tests that did not pass.
fn stop_after(flags: &[&str], limit: usize) -> usize {
    let expected = expected_outcomes();
    let mut args = vec!["-n1", "--message-format", "json"];
    args.extend_from_slice(flags);
    let run = run_fixture("outcomes", &args);
    run.assert_code(100);
    let events = run.events();

    // Every selected test still gets exactly one final event.
    let finals = final_events(&events);
    let keys: BTreeSet<&TestKey> = finals.keys().collect();
    let expected_keys: BTreeSet<&TestKey> = expected.keys().collect();
    assert_eq!(keys, expected_keys, "{}", run.context());

    let ran = finished(&events);
    let failed: Vec<&TestKey> = ran
        .iter()
        .filter(|(_, status)| *status != "passed")
        .map(|(k, _)| k)
        .collect();
    assert_eq!(failed.len(), limit, "failed: {failed:?}{}", run.context());
    // Whatever ran got the outcome the table gives it.
    for (key, status) in &ran {
        let want = &expected[key];
        assert_eq!(*want == "PASS", status == "passed", "{key:?}: {status}");
    }

    // The rest are reported as not started, and were never started.
    let started: BTreeSet<TestKey> = events_of(&events, "test-started")
        .into_iter()
        .map(key_of)
        .collect();
    let mut not_started = 0;
    for event in events_of(&events, "test-skipped") {
        let key = key_of(event);
        match event["reason"].as_str() {
            Some("ignored") => assert_eq!(expected[&key], "SKIP", "{event}"),
            Some("not-started") => {
                not_started += 1;
                assert!(!started.contains(&key), "{key:?} started yet not-started");
            }
            _ => panic!("unexpected skip: {event}"),
        }
    }
    assert!(not_started > 0, "nothing was stopped{}", run.context());
    let ignored = expected.values().filter(|l| *l == "SKIP").count();
    assert_eq!(ran.len() + not_started + ignored, expected.len());

    let last = events.last().expect("events");
    assert_eq!(event_type(last), "run-finished");
    assert_eq!(last["failed"], limit);
    assert_eq!(last["skipped"], not_started + ignored);
    let stopped = format!(
        "{not_started} tests not started: the run stopped after {limit} failure{}",
        if limit == 1 { "" } else { "s" }
    );
    assert!(
        run.stderr.contains(&stopped),
        "no {stopped:?}{}",
        run.context()
    );
    failed.len()
}

#[test]
fn stop_early() {
    assert_eq!(stop_after(&["-x"], 1), 1);
    assert_eq!(stop_after(&["--maxfail", "2"], 2), 2);
    // The long spelling of -x.
    stop_after(&["--exitfirst"], 1);
}

// ---------------------------------------------------------------------------------------------
// 7. --jobs spellings.
// ---------------------------------------------------------------------------------------------

fn workers_of(args: &[&str], env: Option<(&str, &str)>) -> u64 {
    let mut all = vec!["--message-format", "json"];
    all.extend_from_slice(args);
    let run = run_fixture_with("ordering", &all, |c| {
        if let Some((k, v)) = env {
            c.env(k, v);
        }
    });
    run.assert_code(0);
    let events = run.events();
    let started = events_of(&events, "run-started");
    assert_eq!(started.len(), 1, "{}", run.context());
    assert_eq!(finished(&events).len(), 4, "{}", run.context());
    started[0]["workers"].as_u64().expect("workers")
}

fn assert_jobs_usage_error(args: &[&str], env: Option<(&str, &str)>) {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    all.extend(cargo_args(&fixture_manifest("ordering")));
    let run = run_with(all, |c| {
        if let Some((k, v)) = env {
            c.env(k, v);
        }
    });
    run.assert_code(2);
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "one stderr line expected{}", run.context());
    // A value from the environment is named by its variable, one from the flag by the flag.
    let named = if env.is_some() {
        "RUNNER_JOBS"
    } else {
        "--jobs"
    };
    assert!(lines[0].contains(named), "{}", run.context());
    assert!(run.stdout.is_empty(), "{}", run.context());
}

#[test]
fn jobs_flag_spellings() {
    // Four tests, so a count of up to 4 is what the run-started event reports either way.
    for spelling in [&["-n4"][..], &["-n", "4"], &["--jobs=4"], &["--jobs", "4"]] {
        assert_eq!(workers_of(spelling, None), 4, "{spelling:?}");
    }
    let auto = workers_of(&["-nauto"], None);
    assert!(auto >= 1);
    assert_eq!(workers_of(&["-n", "auto"], None), auto);
    assert_eq!(workers_of(&["--jobs=auto"], None), auto);
    // The environment variable, and the flag winning over it.
    assert_eq!(workers_of(&[], Some(("RUNNER_JOBS", "3"))), 3);
    assert_eq!(workers_of(&["-n1"], Some(("RUNNER_JOBS", "3"))), 1);
    // 0 means one at a time.
    assert_eq!(workers_of(&["-n0"], None), 1);

    assert_jobs_usage_error(&["-n", "x"], None);
    assert_jobs_usage_error(&["-n", "-3"], None);
    assert_jobs_usage_error(&["-n-3"], None);
    assert_jobs_usage_error(&["--jobs=2.5"], None);
    assert_jobs_usage_error(&[], Some(("RUNNER_JOBS", "many")));
}

// ---------------------------------------------------------------------------------------------
// 8. Nothing selected.
// ---------------------------------------------------------------------------------------------

#[test]
fn no_tests() {
    let run = run_fixture("ordering", &["no_such_test"]);
    run.assert_code(4);
    assert_eq!(
        run.last_stdout_line(),
        summary_line(0, 0, 0),
        "{}",
        run.context()
    );
    assert!(
        run.stderr_lines()
            .iter()
            .any(|l| l.starts_with("error: no test was selected")),
        "{}",
        run.context()
    );
    let run = run_fixture("ordering", &["no_such_test", "--no-tests", "fail"]);
    run.assert_code(4);

    let run = run_fixture("ordering", &["no_such_test", "--no-tests", "pass"]);
    run.assert_code(0);
    assert_eq!(
        run.last_stdout_line(),
        summary_line(0, 0, 0),
        "{}",
        run.context()
    );
    assert!(
        !run.stderr_lines()
            .iter()
            .any(|l| l.starts_with("warning:") || l.starts_with("error:")),
        "{}",
        run.context()
    );

    let run = run_fixture("ordering", &["no_such_test", "--no-tests=warn"]);
    run.assert_code(0);
    assert!(
        run.stderr_lines()
            .iter()
            .any(|l| l.starts_with("warning: no test was selected")),
        "{}",
        run.context()
    );

    // clap's whole message: the error, the possible values, and where to read more.
    let run = run_fixture("ordering", &["--no-tests", "sometimes"]);
    run.assert_code(2);
    assert!(
        run.stderr
            .starts_with("error: invalid value 'sometimes' for '--no-tests <ACTION>'\n"),
        "{}",
        run.context()
    );
    assert!(
        run.stderr.contains("[possible values: pass, warn, fail]"),
        "{}",
        run.context()
    );
}

// ---------------------------------------------------------------------------------------------
// 9. A build that fails.
// ---------------------------------------------------------------------------------------------

#[test]
fn build_failure() {
    let krate = temp_crate(
        "broken_fixture",
        "#[test]\nfn does_not_compile() {\n    let x = ;\n}\n",
    );
    let run = run(cargo_args(&krate.path().join("Cargo.toml")));
    run.assert_code(101);
    assert!(
        run.stderr_lines()
            .iter()
            .any(|l| l.starts_with("error: the build failed")),
        "{}",
        run.context()
    );
    assert!(!run.stdout.contains("Summary:"), "{}", run.context());
}

// ---------------------------------------------------------------------------------------------
// 10. Prebuilt binaries, including broken and fake ones.
// ---------------------------------------------------------------------------------------------

/// The path of the ordering fixture's library test binary, from `runner list --format json`.
fn ordering_lib_binary() -> std::path::PathBuf {
    let run = run_fixture("ordering", &["list", "--format", "json", "--lib"]);
    run.assert_code(0);
    let listing: Value = serde_json::from_str(&run.stdout).expect("list JSON");
    let path = listing["binaries"][0]["path"]
        .as_str()
        .unwrap_or_else(|| panic!("no path{}", run.context()));
    assert_eq!(listing["binaries"][0]["binary_id"], "ordering");
    path.into()
}

/// A scratch directory for runs of prebuilt binaries, which have no target directory: the runs
/// use it as working directory and temp dir, so the runner's own files (and any core dump)
/// stay out of shared places.
fn in_scratch(scratch: &std::path::Path) -> impl FnOnce(&mut std::process::Command) + '_ {
    move |c| {
        c.current_dir(scratch).env("TMPDIR", scratch);
    }
}

/// The file name of a binary, which is its binary id when given with `--binary`.
fn file_name_of(binary: &std::path::Path) -> String {
    binary
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

/// The binary alone: its three tests, no cargo involved.
#[test]
fn prebuilt_binary_runs_its_tests_without_cargo() {
    let binary = ordering_lib_binary();
    let file_name = file_name_of(&binary);
    let scratch = tempfile::tempdir().expect("tempdir");
    let args = [OsString::from("--binary"), binary.into(), "-v".into()];
    let run = run_with(args, in_scratch(scratch.path()));
    run.assert_code(0);
    let (live, closing) = split_human_report(&run);
    let ran: BTreeSet<(TestKey, String)> = live.into_iter().map(|s| (s.key, s.label)).collect();
    let want: BTreeSet<(TestKey, String)> = ["alpha", "beta", "gamma"]
        .iter()
        .map(|n| (key(&file_name, n), "PASS".to_string()))
        .collect();
    assert_eq!(ran, want, "{}", run.context());
    assert!(closing.is_empty());
    assert_eq!(run.last_stdout_line(), summary_line(3, 0, 0));
}

/// `--binary <ordering's> --binary <a path in scratch that does not exist>`, and that path.
fn with_a_missing_binary(scratch: &std::path::Path) -> (Vec<OsString>, String) {
    let missing = scratch.join("no-such-test-binary");
    let missing_text = missing.display().to_string();
    let args = vec![
        OsString::from("--binary"),
        ordering_lib_binary().into(),
        "--binary".into(),
        missing.into(),
    ];
    (args, missing_text)
}

/// Plus a path that does not exist: a mistake on the command line. One error naming it,
/// exit 2, and nothing runs (it used to be a listing failure, 104, reported twice).
#[test]
fn missing_prebuilt_binary_is_one_usage_error() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let (args, missing_text) = with_a_missing_binary(scratch.path());
    let run = run_with(args, in_scratch(scratch.path()));
    run.assert_code(2);
    assert!(run.stdout.is_empty(), "{}", run.context());
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", run.context());
    assert!(lines[0].starts_with("error: "), "{}", run.context());
    assert!(lines[0].contains(&missing_text), "{}", run.context());
    assert!(lines[0].contains("cannot be read"), "{}", run.context());
}

/// In JSON too: no event, the error on stderr, exit 2.
#[test]
fn missing_prebuilt_binary_in_json_is_a_usage_error() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let (mut args, missing_text) = with_a_missing_binary(scratch.path());
    args.extend(["--message-format".into(), "json".into()]);
    let run = run_with(args, in_scratch(scratch.path()));
    run.assert_code(2);
    assert!(run.stdout.is_empty(), "{}", run.context());
    assert!(run.stderr.contains(&missing_text), "{}", run.context());
}

/// A fake binary that lists a test but then runs none of it: no-test-ran, a failure.
#[test]
fn prebuilt_binary_that_runs_no_test_is_a_notest_failure() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let no_test = write_script(
        scratch.path(),
        "lists-but-runs-nothing",
        "#!/bin/sh\n\
         if [ \"$1\" = --list ]; then\n\
           for arg in \"$@\"; do [ \"$arg\" = --ignored ] && exit 0; done\n\
           echo 'foo: test'\n\
           exit 0\n\
         fi\n\
         echo 'running 0 tests'\n\
         exit 0\n",
    );
    let args = [
        OsString::from("--binary"),
        no_test.into(),
        "--message-format".into(),
        "json".into(),
    ];
    let run = run_with(args, in_scratch(scratch.path()));
    run.assert_code(100);
    let expected: BTreeMap<TestKey, String> = [(
        key("lists-but-runs-nothing", "foo"),
        "no-test-ran".to_string(),
    )]
    .into();
    assert_eq!(finished(&run.events()), expected, "{}", run.context());
    assert!(
        run.stderr.lines().any(|l| l.starts_with("  NOTEST ")),
        "{}",
        run.context()
    );
}

/// A fake binary killed by a signal while listing: list-failed, 104, the others still run.
#[test]
fn prebuilt_binary_crashing_while_listing_is_list_failed_and_the_others_run() {
    let binary = ordering_lib_binary();
    let file_name = file_name_of(&binary);
    let scratch = tempfile::tempdir().expect("tempdir");
    let crashes = write_script(
        scratch.path(),
        "crashes-when-listing",
        "#!/bin/sh\n\
         if [ \"$1\" = --list ]; then\n\
           ulimit -c 0\n\
           kill -SEGV $$\n\
         fi\n\
         exit 0\n",
    );
    let args = [
        OsString::from("--binary"),
        crashes.into(),
        "--binary".into(),
        binary.into(),
        "--message-format".into(),
        "json".into(),
    ];
    let run = run_with(args, in_scratch(scratch.path()));
    run.assert_code(104);
    let events = run.events();
    let failures = events_of(&events, "list-failed");
    assert_eq!(failures.len(), 1, "{}", run.context());
    assert_eq!(failures[0]["binary_id"], "crashes-when-listing");
    let message = failures[0]["message"].as_str().unwrap_or("");
    assert!(message.contains("SIGSEGV"), "{}", failures[0]);
    let ran = finished(&events);
    assert_eq!(ran.len(), 3, "{}", run.context());
    assert!(ran
        .iter()
        .all(|((b, _), s)| *b == file_name && s == "passed"));
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("error: ") && l.contains("crashes-when-listing")),
        "{}",
        run.context()
    );
}

// ---------------------------------------------------------------------------------------------
// 11. harness = false targets run whole.
// ---------------------------------------------------------------------------------------------

#[test]
fn custom_harness() {
    let run = run_fixture("outcomes", &["list", "--exact", "custom"]);
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "outcomes::custom:\n    custom (whole binary)\n1 test to run from 1 binary (0 ignored, \
         not run)\n",
        "{}",
        run.context()
    );
    // The note that it runs whole is said once per workspace (the shared target directory
    // here), so whether this run says it depends on the runs before it: see
    // tests/spellings.rs, which checks it in a workspace of its own.

    let run = run_fixture(
        "outcomes",
        &["--exact", "custom", "--message-format", "json"],
    );
    run.assert_code(0);
    let events = run.events();
    let expected: BTreeMap<TestKey, String> =
        [(key("outcomes::custom", "custom"), "passed".to_string())].into();
    assert_eq!(finished(&events), expected, "{}", run.context());
    let notes: Vec<&str> = events_of(&events, "note")
        .into_iter()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.starts_with("outcomes::custom "))
        .collect();
    assert!(notes.len() <= 1, "{}", run.context());
    // The whole binary ran: its own output is the test's output.
    let custom = events_of(&events, "test-finished")[0];
    assert_eq!(custom["stdout"], "custom harness ran 3 checks\n");

    let run = run_fixture("outcomes", &["list", "--format", "json", "custom"]);
    let listing: Value = serde_json::from_str(&run.stdout).expect("list JSON");
    for binary in listing["binaries"].as_array().expect("binaries") {
        for test in binary["tests"].as_array().expect("tests") {
            assert_eq!(test["whole_binary"], true, "{binary}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 12. --compare.
// ---------------------------------------------------------------------------------------------

#[test]
fn compare() {
    let run = run_fixture("ordering", &["--compare", "-n2"]);
    run.assert_code(0);
    let lines = run.stdout_lines();
    for prefix in [
        "serial run: Running 4 tests from 2 binaries with 1 worker",
        "parallel run: Running 4 tests from 2 binaries with 2 workers",
        "serial vs parallel:",
        "  wall time",
        "  speedup",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(prefix)),
            "no line starting {prefix:?}{}",
            run.context()
        );
    }
    let serial = lines
        .iter()
        .position(|l| l.starts_with("serial run: Running"))
        .expect("serial");
    let parallel = lines
        .iter()
        .position(|l| l.starts_with("parallel run: Running"))
        .expect("parallel");
    assert!(serial < parallel);
    assert_eq!(
        run.last_stdout_line(),
        summary_line(4, 0, 0),
        "{}",
        run.context()
    );

    // In JSON: two framed passes, serial with one worker, then parallel, each running all.
    let run = run_fixture(
        "ordering",
        &["--compare", "-n2", "--message-format", "json"],
    );
    run.assert_code(0);
    let events = run.events();
    let passes: Vec<(String, u64)> = events_of(&events, "run-started")
        .into_iter()
        .map(|e| {
            (
                e["label"].as_str().unwrap_or("").to_string(),
                e["workers"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        passes,
        [("serial".to_string(), 1), ("parallel".to_string(), 2)],
        "{}",
        run.context()
    );
    assert_eq!(events_of(&events, "test-finished").len(), 8);
    assert_eq!(events_of(&events, "run-finished").len(), 2);
    assert_eq!(
        run.stderr.lines().last(),
        Some(summary_line(4, 0, 0).as_str())
    );
}

// ---------------------------------------------------------------------------------------------
// Bugs found in src/ (kept failing on purpose; see the ignore reasons).
// ---------------------------------------------------------------------------------------------

#[test]
fn test_printing_running_0_tests_is_reported_passed() {
    let krate = temp_crate(
        "prints_libtest_banner",
        "#[test]\nfn prints_banner() {\n    println!(\"running 0 tests\");\n}\n",
    );
    let mut args = vec!["--message-format".into(), "json".into()];
    args.extend(cargo_args(&krate.path().join("Cargo.toml")));
    let run = run(args);
    let expected: BTreeMap<TestKey, String> = [(
        key("prints_libtest_banner", "prints_banner"),
        "passed".to_string(),
    )]
    .into();
    assert_eq!(finished(&run.events()), expected, "{}", run.context());
    run.assert_code(0);
}

#[test]
fn color_always_keeps_summary_line_plain() {
    let run = run_fixture(
        "ordering",
        &["--color", "always", "--no-tests", "pass", "no_such_test"],
    );
    run.assert_code(0);
    // Colour is on (the run-started line is bold) ...
    assert!(run.raw_stdout.contains(&0x1b), "{}", run.context());
    // ... but the closing line stays exactly the plain Summary line.
    assert_eq!(
        run.last_stdout_line(),
        summary_line(0, 0, 0),
        "{:?}",
        run.last_stdout_line()
    );
}

/// Under `--ignored` the ignored tests are the ones that run: marked, and counted as running.
#[test]
fn list_ignored_tests_run_under_ignored() {
    let run = run_fixture("outcomes", &["list", "--ignored"]);
    run.assert_code(0);
    let marked = run
        .stdout
        .lines()
        .filter(|l| l.ends_with(" (ignored)"))
        .count();
    assert_eq!(marked, 2, "{}", run.context());
    assert_eq!(
        run.last_stdout_line(),
        "2 tests to run from 1 binary (0 ignored, not run)",
        "{}",
        run.context()
    );
}

#[test]
fn concurrent_run_keeps_spilled_output_of_a_running_one() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let temp = scratch.path().join("tmp");
    let markers = scratch.path().join("markers");
    std::fs::create_dir_all(&temp).expect("mkdir");
    std::fs::create_dir_all(&markers).expect("mkdir");
    // Prints more than the runner keeps in memory (so the whole stream is spilled to a log
    // file), says so, then waits for the go-ahead and fails so that its output is reported.
    let big = write_script(
        scratch.path(),
        "big-output",
        "#!/bin/sh\n\
         if [ \"$1\" = --list ]; then\n\
           for arg in \"$@\"; do [ \"$arg\" = --ignored ] && exit 0; done\n\
           echo 'big: test'\n\
           exit 0\n\
         fi\n\
         head -c 3000000 /dev/zero | tr '\\000' x\n\
         touch \"$MARKERS/spilled\"\n\
         i=0\n\
         while [ ! -e \"$MARKERS/go\" ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i+1)); done\n\
         exit 1\n",
    );
    let configure = |c: &mut std::process::Command| {
        c.env("TMPDIR", &temp)
            .env("MARKERS", &markers)
            .current_dir(scratch.path());
    };
    let first = std::thread::scope(|scope| {
        let args = [
            OsString::from("--binary"),
            big.into(),
            "--message-format".into(),
            "json".into(),
        ];
        let first = scope.spawn(|| run_with(args, configure));
        // Once the first run's test has spilled its output, start and finish a second run.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !markers.join("spilled").exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the big test never ran"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let second = run_with(
            [OsString::from("--binary"), ordering_lib_binary().into()],
            configure,
        );
        std::fs::write(markers.join("go"), "").expect("go marker");
        second.assert_code(0);
        first.join().expect("first run")
    });
    first.assert_code(100);
    let events = first.events();
    let result = events_of(&events, "test-finished")[0];
    let stdout = result["stdout"].as_str().unwrap_or("");
    let path = stdout
        .split("full output in ")
        .nth(1)
        .and_then(|rest| rest.split(" ...]").next())
        .unwrap_or_else(|| panic!("no spill file named in the output{}", first.context()));
    let kept = std::fs::metadata(path).map(|m| m.len());
    assert_eq!(
        kept.ok(),
        Some(3_000_000),
        "the report points to {path}, which the second run deleted"
    );
}
