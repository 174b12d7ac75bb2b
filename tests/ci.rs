//! End-to-end tests of the features meant for CI: the JSON event stream, JUnit reports and
//! `junit-merge`, profiles from `.config/runner.toml`, `--partition` (hash, count, time, auto),
//! GitHub Actions annotations and step summary, and shell completions.
//!
//! Fixture runs share one target directory (see `common`), so each fixture builds once. Runs
//! that depend on the timing history use a target directory of their own: other tests running
//! at the same time rewrite the shared history, and `time:` shards are only consistent when
//! every shard sees the same one. No assertion depends on wall-clock time.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/// `args` followed by `--manifest-path <manifest> --target-dir <target>`.
fn args_for(args: &[&str], manifest: &Path, target: &Path) -> Vec<OsString> {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    all.extend([
        "--manifest-path".into(),
        manifest.as_os_str().to_owned(),
        "--target-dir".into(),
        target.as_os_str().to_owned(),
    ]);
    all
}

/// `args` for a crate in `dir`, built into `dir/target`.
fn crate_args(dir: &Path, args: &[&str]) -> Vec<OsString> {
    args_for(args, &dir.join("Cargo.toml"), &dir.join("target"))
}

/// A failure that must be exactly one `error:` line on stderr, nothing on stdout, and the
/// given exit code; returns the line.
fn assert_one_error_line(run: &Run, code: i32, needles: &[&str]) -> String {
    run.assert_code(code);
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "one stderr line expected{}", run.context());
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "the error line does not mention {needle:?}{}",
            run.context()
        );
    }
    assert!(run.stdout.is_empty(), "nothing on stdout{}", run.context());
    lines[0].to_string()
}

/// The tests a `runner list --format json` printed, in order, with (ignored, whole_binary).
fn listed(run: &Run) -> Vec<(TestKey, bool, bool)> {
    run.assert_code(0);
    let lines = run.stdout_lines();
    assert_eq!(lines.len(), 1, "one JSON line expected{}", run.context());
    let value: Value = serde_json::from_str(lines[0])
        .unwrap_or_else(|e| panic!("list output is not JSON ({e}){}", run.context()));
    let mut tests = Vec::new();
    for binary in value["binaries"].as_array().expect("binaries array") {
        let id = binary["binary_id"].as_str().expect("binary_id");
        assert!(binary["path"].is_string(), "{binary}");
        assert!(binary["kind"].is_string(), "{binary}");
        assert!(binary["cwd"].is_string(), "{binary}");
        for test in binary["tests"].as_array().expect("tests array") {
            tests.push((
                key(id, test["name"].as_str().expect("name")),
                test["ignored"].as_bool().expect("ignored"),
                test["whole_binary"].as_bool().expect("whole_binary"),
            ));
        }
    }
    tests
}

fn listed_keys(run: &Run) -> Vec<TestKey> {
    listed(run).into_iter().map(|(k, _, _)| k).collect()
}

fn expected_keys() -> BTreeSet<TestKey> {
    expected_outcomes().into_keys().collect()
}

fn is_failure_label(label: &str) -> bool {
    matches!(label, "FAIL" | "CRASH" | "EXIT")
}

fn parse_junit(path: &Path) -> (String, Report) {
    let xml = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the JUnit report {}: {e}", path.display()));
    let report = Report::deserialize_from_str(&xml)
        .unwrap_or_else(|e| panic!("{} is not valid JUnit XML: {e}\n{xml}", path.display()));
    (xml, report)
}

/// Every test case by (suite name, case name); a duplicate is an error. Also checks that each
/// case's classname is its suite's name.
fn junit_cases(report: &Report) -> BTreeMap<TestKey, &TestCase> {
    let mut cases = BTreeMap::new();
    for suite in &report.test_suites {
        for case in &suite.test_cases {
            assert_eq!(
                case.classname.as_ref().map(|c| c.as_str()),
                Some(suite.name.as_str()),
                "classname of {}",
                case.name.as_str()
            );
            let key = key(suite.name.as_str(), case.name.as_str());
            assert!(
                cases.insert(key.clone(), case).is_none(),
                "{key:?} appears twice in the report"
            );
        }
    }
    cases
}

/// PASS, SKIP, FAIL (failure) or ERROR (error) for a test case.
fn junit_label(case: &TestCase) -> &'static str {
    match &case.status {
        TestCaseStatus::Success { .. } => "PASS",
        TestCaseStatus::Skipped { .. } => "SKIP",
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Failure,
            ..
        } => "FAIL",
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Error,
            ..
        } => "ERROR",
    }
}

/// Per suite: (tests, failures, errors, skipped) as the attributes say.
fn suite_totals(report: &Report) -> BTreeMap<String, (usize, usize, usize, usize)> {
    report
        .test_suites
        .iter()
        .map(|s| {
            (
                s.name.as_str().to_string(),
                (s.tests, s.failures, s.errors, s.disabled),
            )
        })
        .collect()
}

/// The 1-based number of the one line of `path` containing `needle`.
fn line_of(path: &Path, needle: &str) -> u32 {
    let text = std::fs::read_to_string(path).expect("read fixture source");
    let found: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(found.len(), 1, "{needle:?} in {}", path.display());
    found[0] as u32
}

/// The one full run of the outcomes fixture that several tests read: JSON events, two
/// workers, and a JUnit report.
struct FullRun {
    run: Run,
    junit_path_existed: bool,
    junit_xml_path: PathBuf,
    _dir: tempfile::TempDir,
}

fn full_outcomes_run() -> &'static FullRun {
    static FULL: OnceLock<FullRun> = OnceLock::new();
    FULL.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        // A directory that does not exist yet: the runner creates it.
        let junit = dir.path().join("reports").join("junit.xml");
        let junit_arg = junit.to_str().expect("utf-8 temp path").to_string();
        let run = run_fixture_with(
            "outcomes",
            &["-n2", "--message-format", "json", "--junit", &junit_arg],
            |_| {},
        );
        FullRun {
            run,
            junit_path_existed: junit.is_file(),
            junit_xml_path: junit,
            _dir: dir,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// 1. The JSON event stream.
// ---------------------------------------------------------------------------------------------

const EVENT_TYPES: [&str; 9] = [
    "run-started",
    "note",
    "list-failed",
    "test-started",
    "test-slow",
    "test-retry",
    "test-finished",
    "test-skipped",
    "run-finished",
];

/// The shared full run's events, after checking its exit code (the fixture has failures).
fn full_run_events() -> (&'static Run, Vec<Value>) {
    let run = &full_outcomes_run().run;
    run.assert_code(100);
    (run, run.events())
}

/// Each test's final label (PASS, FAIL, ...), from its final event.
fn final_labels(events: &[Value]) -> BTreeMap<TestKey, String> {
    final_events(events)
        .iter()
        .map(|(k, e)| (k.clone(), label_of(e)))
        .collect()
}

#[test]
fn json_stdout_holds_only_event_lines_of_documented_types() {
    let (run, events) = full_run_events();
    assert!(run.stdout.ends_with('\n'), "{}", run.context());
    for line in run.stdout_lines() {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "not a JSON object line on stdout: {line:?}{}",
            run.context()
        );
    }
    for event in &events {
        assert!(
            EVENT_TYPES.contains(&event_type(event)),
            "undocumented event type: {event}"
        );
    }
}

#[test]
fn json_stream_is_framed_by_one_run_started_and_one_run_finished() {
    let expected = expected_outcomes();
    let (run, events) = full_run_events();
    assert_eq!(events_of(&events, "run-started").len(), 1);
    assert_eq!(events_of(&events, "run-finished").len(), 1);
    let first = &events[0];
    let last = events.last().expect("events");
    assert_eq!(event_type(first), "run-started", "{}", run.context());
    assert_eq!(event_type(last), "run-finished", "{}", run.context());
    assert_eq!(first["format_version"], 2, "{first}");
    // The tests that will run (ignored ones left out), from the binaries that hold them.
    let to_run: Vec<&TestKey> = expected
        .iter()
        .filter(|(_, l)| *l != "SKIP")
        .map(|(k, _)| k)
        .collect();
    assert_eq!(first["tests"], to_run.len(), "{first}");
    assert_eq!(first["ignored"], expected.len() - to_run.len(), "{first}");
    assert_eq!(first["workers"], 2, "{first}");
    let binaries: BTreeSet<&String> = to_run.iter().map(|k| &k.0).collect();
    assert_eq!(first["binaries"], binaries.len(), "{first}");
    assert!(events_of(&events, "list-failed").is_empty());
}

/// Exactly one test-started before each test-finished; skipped tests never start.
#[test]
fn json_each_finished_test_started_once_before_and_skipped_tests_never_start() {
    let (_, events) = full_run_events();
    let mut started_at: BTreeMap<TestKey, usize> = BTreeMap::new();
    let mut finished_at: BTreeMap<TestKey, usize> = BTreeMap::new();
    for (index, event) in events.iter().enumerate() {
        match event_type(event) {
            "test-started" => {
                let key = key_of(event);
                assert!(
                    !finished_at.contains_key(&key),
                    "{key:?} started after it finished"
                );
                let previous = started_at.insert(key.clone(), index);
                assert!(previous.is_none(), "{key:?} started twice");
            }
            "test-finished" => {
                let key = key_of(event);
                assert!(
                    started_at.get(&key).is_some_and(|&s| s < index),
                    "{key:?} finished without starting first"
                );
                assert!(finished_at.insert(key.clone(), index).is_none());
            }
            _ => {}
        }
    }
    assert_eq!(
        started_at.keys().collect::<Vec<_>>(),
        finished_at.keys().collect::<Vec<_>>()
    );
    for event in events_of(&events, "test-skipped") {
        let key = key_of(event);
        assert!(!started_at.contains_key(&key), "skipped {key:?} started");
        assert_eq!(event["reason"], "ignored", "{event}");
    }
}

#[test]
fn json_final_events_match_the_expected_table() {
    let expected = expected_outcomes();
    let (run, events) = full_run_events();
    let actual = final_labels(&events);
    assert_eq!(actual, expected, "{}", run.context());
    assert_eq!(counts(&expected), counts(&actual));
}

#[test]
fn json_run_finished_counts_the_final_events() {
    let (_, events) = full_run_events();
    let (passed, failed, skipped) = counts(&final_labels(&events));
    let last = events.last().expect("events");
    assert_eq!(last["passed"], passed, "{last}");
    assert_eq!(last["failed"], failed, "{last}");
    assert_eq!(last["skipped"], skipped, "{last}");
    assert_eq!(last["flaky"], 0, "{last}");
    assert_eq!(last["cancelled"], 0, "{last}");
    assert_eq!(last["workers"], 2, "{last}");
    for field in ["wall", "summed"] {
        assert!(last[field].as_f64().is_some_and(|s| s >= 0.0), "{last}");
    }
}

/// The human report went to stderr and still ends with the Summary line.
#[test]
fn json_moves_the_human_report_to_stderr() {
    let (run, events) = full_run_events();
    let (passed, failed, skipped) = counts(&final_labels(&events));
    assert_eq!(
        run.stderr.lines().last().unwrap_or(""),
        summary_line(passed, failed, skipped),
        "{}",
        run.context()
    );
    assert!(!run.stdout.contains("Summary:"), "{}", run.context());
}

/// `runner list --format json` of the outcomes fixture: the run and the tests it lists.
fn outcomes_listing() -> (Run, Vec<(TestKey, bool, bool)>) {
    let list = run_fixture_with("outcomes", &["list", "--format", "json"], |_| {});
    let tests = listed(&list);
    (list, tests)
}

/// `runner list --format json` lists the tests the run ran, each once.
#[test]
fn json_listing_lists_each_test_of_the_run_once() {
    let (list, tests) = outcomes_listing();
    let keys: Vec<TestKey> = tests.iter().map(|(k, _, _)| k.clone()).collect();
    let unique: BTreeSet<TestKey> = keys.iter().cloned().collect();
    assert_eq!(
        keys.len(),
        unique.len(),
        "a test is listed twice{}",
        list.context()
    );
    assert_eq!(unique, expected_keys(), "{}", list.context());
}

#[test]
fn json_listing_marks_ignored_tests_and_whole_binaries() {
    let expected = expected_outcomes();
    let (_, tests) = outcomes_listing();
    for (key, ignored, whole) in &tests {
        assert_eq!(*ignored, expected[key] == "SKIP", "ignored flag of {key:?}");
        let custom = key.0.starts_with("outcomes::custom");
        assert_eq!(*whole, custom, "whole_binary flag of {key:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. JUnit XML.
// ---------------------------------------------------------------------------------------------

/// The shared full run and its JUnit report, which must exist although the run failed.
fn full_junit() -> (&'static FullRun, String, Report) {
    let full = full_outcomes_run();
    full.run.assert_code(100);
    assert!(
        full.junit_path_existed,
        "no JUnit report at {}{}",
        full.junit_xml_path.display(),
        full.run.context()
    );
    let (xml, report) = parse_junit(&full.junit_xml_path);
    (full, xml, report)
}

/// Text of an optional JUnit string, "" when absent.
fn text_of(value: Option<&quick_junit::XmlString>) -> &str {
    value.map(|s| s.as_str()).unwrap_or("")
}

#[test]
fn junit_report_is_written_although_the_run_failed() {
    full_junit();
}

/// Totals: every selected test, failures = FAIL + CRASH + EXIT, no errors.
#[test]
fn junit_totals_count_every_test_and_failure() {
    let expected = expected_outcomes();
    let (_, xml, report) = full_junit();
    let (_, failed, _) = counts(&expected);
    assert_eq!(report.tests, expected.len(), "{xml}");
    assert_eq!(report.failures, failed, "{xml}");
    assert_eq!(report.errors, 0, "{xml}");
}

#[test]
fn junit_has_one_suite_per_binary_with_its_own_counts() {
    let expected = expected_outcomes();
    let (_, xml, report) = full_junit();
    let mut want: BTreeMap<String, (usize, usize, usize, usize)> = BTreeMap::new();
    for ((binary, _), label) in &expected {
        let entry = want.entry(binary.clone()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(is_failure_label(label));
        entry.3 += usize::from(label == "SKIP");
    }
    assert_eq!(suite_totals(&report), want, "{xml}");
    for suite in &report.test_suites {
        assert_eq!(suite.tests, suite.test_cases.len(), "{xml}");
    }
}

#[test]
fn junit_records_every_test_once_with_its_status() {
    let expected = expected_outcomes();
    let (_, xml, report) = full_junit();
    let cases = junit_cases(&report);
    assert_eq!(
        cases.keys().cloned().collect::<BTreeSet<_>>(),
        expected_keys(),
        "{xml}"
    );
    for (key, case) in &cases {
        let label = expected[key].as_str();
        let want = if is_failure_label(label) {
            "FAIL"
        } else {
            label
        };
        assert_eq!(junit_label(case), want, "{key:?}: {:?}", case.status);
    }
}

#[test]
fn junit_skipped_tests_say_they_are_ignored() {
    let (_, _, report) = full_junit();
    for (key, case) in &junit_cases(&report) {
        if let TestCaseStatus::Skipped { message, .. } = &case.status {
            let message = text_of(message.as_ref());
            assert!(message.contains("ignored"), "{key:?}: {message:?}");
        }
    }
}

#[test]
fn junit_failures_have_a_message_and_both_outputs() {
    let (_, _, report) = full_junit();
    for (key, case) in &junit_cases(&report) {
        if let TestCaseStatus::NonSuccess { message, .. } = &case.status {
            let message = text_of(message.as_ref());
            assert!(!message.trim().is_empty(), "{key:?} has no message");
            assert!(case.system_out.is_some(), "{key:?} has no system-out");
            assert!(case.system_err.is_some(), "{key:?} has no system-err");
        }
    }
}

#[test]
fn junit_passes_without_retries_have_no_flaky_runs() {
    let (_, _, report) = full_junit();
    for (key, case) in &junit_cases(&report) {
        if let TestCaseStatus::Success { flaky_runs } = &case.status {
            assert!(flaky_runs.is_empty(), "{key:?} is not flaky");
        }
    }
}

/// A failure carries its panic message and its output.
#[test]
fn junit_failure_carries_its_panic_message_and_output() {
    let (_, _, report) = full_junit();
    let cases = junit_cases(&report);
    let failing = cases[&key("outcomes", "prints_then_fails")];
    let TestCaseStatus::NonSuccess { message, .. } = &failing.status else {
        panic!("prints_then_fails did not fail: {:?}", failing.status);
    };
    let message = text_of(message.as_ref());
    assert!(message.contains("boom"), "{message:?}");
    let out = text_of(failing.system_out.as_ref());
    let err = text_of(failing.system_err.as_ref());
    assert!(out.contains("marker-before-failure"), "system-out: {out:?}");
    assert!(
        err.contains("marker-before-failure-stderr"),
        "system-err: {err:?}"
    );
}

#[test]
fn junit_message_of_a_failed_assertion_names_the_assertion() {
    let (_, _, report) = full_junit();
    let cases = junit_cases(&report);
    let assert_case = cases[&key("outcomes", "fails_assert")];
    let TestCaseStatus::NonSuccess { message, .. } = &assert_case.status else {
        panic!("fails_assert did not fail");
    };
    assert!(
        message
            .as_ref()
            .is_some_and(|m| m.as_str().contains("assertion")),
        "{message:?}"
    );
}

/// Run `test` of `fixture` alone with one retry and a JUnit report; the run and its report.
fn junit_with_one_retry(fixture: &str, test: &str, code: i32) -> (String, Report) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("junit.xml");
    let arg = path.to_str().expect("utf-8 path");
    let args = [test, "--exact", "--retries", "1", "--junit", arg];
    let run = run_fixture_with(fixture, &args, |_| {});
    run.assert_code(code);
    parse_junit(&path)
}

/// A test that fails once and passes on its retry: a passing case with a flakyFailure.
#[test]
fn junit_records_flaky_runs_as_flaky_failures() {
    let (xml, report) = junit_with_one_retry("faults", "flaky_first_attempt", 0);
    assert_eq!((report.tests, report.failures), (1, 0), "{xml}");
    let cases = junit_cases(&report);
    let case = cases[&key("faults", "flaky_first_attempt")];
    let TestCaseStatus::Success { flaky_runs } = &case.status else {
        panic!("flaky test not reported as a pass: {xml}");
    };
    assert_eq!(flaky_runs.len(), 1, "{xml}");
    assert!(xml.contains("<flakyFailure"), "{xml}");
    let rerun_err = flaky_runs[0].system_err.as_ref().map(|s| s.as_str());
    assert!(
        rerun_err.is_some_and(|e| e.contains("failing on purpose on attempt 1")),
        "{xml}"
    );
}

/// A test that fails every attempt: a failure with the earlier attempt as rerunFailure.
#[test]
fn junit_records_earlier_failed_attempts_as_rerun_failures() {
    let (xml, report) = junit_with_one_retry("outcomes", "fails_assert", 100);
    assert_eq!((report.tests, report.failures), (1, 1), "{xml}");
    let cases = junit_cases(&report);
    let TestCaseStatus::NonSuccess { reruns, .. } = &cases[&key("outcomes", "fails_assert")].status
    else {
        panic!("fails_assert passed: {xml}");
    };
    assert_eq!(reruns.len(), 1, "{xml}");
    assert!(xml.contains("<rerunFailure"), "{xml}");
}

/// A report that cannot be written: one error line naming it, exit `code`, no panic, and the
/// run itself still reported with `summary`.
fn assert_unwritable_junit_reported(filter: &str, code: i32, summary: String) {
    let run = run_fixture_with(
        "outcomes",
        &[filter, "--exact", "--junit", "/proc/x/junit.xml"],
        |_| {},
    );
    run.assert_code(code);
    let errors: Vec<&str> = run
        .stderr_lines()
        .into_iter()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected{}", run.context());
    assert!(errors[0].contains("/proc/x/junit.xml"), "{}", run.context());
    assert!(!run.stderr.contains("panicked"), "{}", run.context());
    assert!(run.stdout.contains(&summary), "{}", run.context());
}

#[test]
fn unwritable_junit_report_fails_a_passing_run_with_exit_1() {
    assert_unwritable_junit_reported("passes", 1, summary_line(1, 0, 0));
}

#[test]
fn unwritable_junit_report_keeps_exit_100_of_a_failing_run() {
    assert_unwritable_junit_reported("fails_assert", 100, summary_line(0, 1, 0));
}

// ---------------------------------------------------------------------------------------------
// 3. Profiles from .config/runner.toml.
// ---------------------------------------------------------------------------------------------

/// One failing test first by name, then nine passing ones.
fn profile_crate() -> tempfile::TempDir {
    let mut lib =
        String::from("#[test]\nfn a_fails() {\n    panic!(\"a_fails fails on purpose\");\n}\n");
    for name in ["b", "c", "d", "e", "f", "g", "h", "i", "j"] {
        lib += &format!("\n#[test]\nfn {name}_passes() {{}}\n");
    }
    temp_crate("ciprofile", &lib)
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let config = dir.join(".config");
    std::fs::create_dir_all(&config).expect("mkdir .config");
    let path = config.join("runner.toml");
    std::fs::write(&path, text).expect("write runner.toml");
    path
}

// Worker counts that `-nauto` is unlikely to give, so that each source is told apart.
const PROFILES: &str = r#"[profile.default]
jobs = 7

[profile.ci]
jobs = 5
fail-fast = true
order = "name"
junit = "target/ci-junit.xml"
"#;

/// A JSON run of the profile crate (cwd: the crate), its events and run-started workers.
fn profile_run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Run, Vec<Value>, u64) {
    let mut all = vec!["--message-format", "json"];
    all.extend_from_slice(args);
    let run = run_with(crate_args(dir, &all), |c| {
        c.current_dir(dir);
        for (k, v) in env {
            c.env(k, v);
        }
    });
    run.assert_code(100);
    let events = run.events();
    let started = events_of(&events, "run-started");
    assert_eq!(started.len(), 1, "{}", run.context());
    let workers = started[0]["workers"].as_u64().expect("workers");
    (run, events, workers)
}

/// The profile crate with [`PROFILES`] as its config, and where the ci profile's report goes.
fn profile_crate_with_config() -> (tempfile::TempDir, PathBuf) {
    let krate = profile_crate();
    write_config(krate.path(), PROFILES);
    let profile_junit = krate.path().join("target").join("ci-junit.xml");
    (krate, profile_junit)
}

/// No --profile: [profile.default] applies, and writes no JUnit report.
#[test]
fn default_profile_applies_without_a_profile_flag() {
    let (krate, profile_junit) = profile_crate_with_config();
    let (run, events, workers) = profile_run(krate.path(), &[], &[]);
    assert_eq!(workers, 7, "{}", run.context());
    assert_eq!(finished(&events).len(), 10, "{}", run.context());
    assert!(!profile_junit.exists());
}

/// The ci profile, selected by `args` and `env`, applies: 5 workers, the report at its path, and
/// a stop after the first failure (only a_fails can fail).
fn assert_ci_profile_applies(args: &[&str], env: &[(&str, &str)]) {
    let (krate, profile_junit) = profile_crate_with_config();
    let (run, events, workers) = profile_run(krate.path(), args, env);
    assert_eq!(workers, 5, "{}", run.context());
    let failed: Vec<TestKey> = finished(&events)
        .into_iter()
        .filter(|(_, status)| status != "passed")
        .map(|(k, _)| k)
        .collect();
    assert_eq!(failed, [key("ciprofile", "a_fails")], "{}", run.context());
    assert_eq!(final_events(&events).len(), 10, "{}", run.context());
    let (xml, report) = parse_junit(&profile_junit);
    assert_eq!((report.tests, report.failures), (10, 1), "{xml}");
}

#[test]
fn profile_flag_selects_a_profile() {
    assert_ci_profile_applies(&["--profile", "ci"], &[]);
}

#[test]
fn runner_profile_variable_selects_a_profile() {
    assert_ci_profile_applies(&[], &[("RUNNER_PROFILE", "ci")]);
}

/// The command line beats the profile: -n1 over jobs = 5, --junit over its junit. With one
/// worker, fail-fast leaves everything after a_fails (first by name) not started.
#[test]
fn command_line_beats_the_profile() {
    let (krate, profile_junit) = profile_crate_with_config();
    let scratch = tempfile::tempdir().expect("tempdir");
    let cli_junit = scratch.path().join("cli.xml");
    let cli_junit_arg = cli_junit.to_str().expect("utf-8 path");
    let (run, events, workers) = profile_run(
        krate.path(),
        &["--profile", "ci", "-n1", "--junit", cli_junit_arg],
        &[],
    );
    assert_eq!(workers, 1, "{}", run.context());
    let ran: Vec<TestKey> = finished(&events).into_keys().collect();
    assert_eq!(ran, [key("ciprofile", "a_fails")], "{}", run.context());
    let not_started = events_of(&events, "test-skipped");
    assert_eq!(not_started.len(), 9, "{}", run.context());
    for event in &not_started {
        assert_eq!(event["reason"], "not-started", "{event}");
    }
    assert!(cli_junit.is_file(), "{}", run.context());
    assert!(!profile_junit.exists(), "the profile's junit path was used");
}

/// The environment beats the profile: RUNNER_JOBS over jobs = 5.
#[test]
fn runner_jobs_variable_beats_the_profile() {
    let (krate, _) = profile_crate_with_config();
    let env = [("RUNNER_JOBS", "2")];
    let (run, _, workers) = profile_run(krate.path(), &["--profile", "ci"], &env);
    assert_eq!(workers, 2, "{}", run.context());
}

/// The command line beats the environment in choosing the profile.
#[test]
fn profile_flag_beats_runner_profile_variable() {
    let (krate, _) = profile_crate_with_config();
    let env = [("RUNNER_PROFILE", "ci")];
    let (run, _, workers) = profile_run(krate.path(), &["--profile", "default"], &env);
    assert_eq!(workers, 7, "{}", run.context());
}

/// An unknown profile, by flag or variable: one line, exit 2.
#[test]
fn unknown_profile_flag_is_one_usage_error_line() {
    let (krate, _) = profile_crate_with_config();
    let run = run_with(crate_args(krate.path(), &["--profile", "nope"]), |_| {});
    assert_one_error_line(&run, 2, &["nope"]);
}

/// A likely typo of a profile's name is named.
#[test]
fn unknown_profile_names_the_closest() {
    let (krate, _) = profile_crate_with("[profile.ci]\njobs = 5\n[profile.nightly]\n");
    let run = run_with(crate_args(krate.path(), &["--profile", "nigthly"]), |_| {});
    assert_one_error_line(
        &run,
        2,
        &["unknown profile 'nigthly': did you mean 'nightly'? the config file defines ci, nightly"],
    );
}

#[test]
fn unknown_runner_profile_variable_is_one_usage_error_line() {
    let (krate, _) = profile_crate_with_config();
    let run = run_with(crate_args(krate.path(), &[]), |c| {
        c.env("RUNNER_PROFILE", "nope");
    });
    assert_one_error_line(&run, 2, &["nope"]);
}

/// The profile crate with `text` as its config, and the config's path.
fn profile_crate_with(text: &str) -> (tempfile::TempDir, PathBuf) {
    let krate = profile_crate();
    let config = write_config(krate.path(), text);
    (krate, config)
}

/// An unknown key: one line naming the file, the line and the key.
#[test]
fn unknown_profile_key_names_file_line_and_key() {
    let (krate, config) = profile_crate_with("[profile.ci]\njobs = 5\nretires = 1\n");
    let run = run_with(crate_args(krate.path(), &["--profile", "ci"]), |_| {});
    let place = format!("{}:3:", config.display());
    assert_one_error_line(&run, 2, &[&place, "retires"]);
}

/// Also when the profile is not the one selected: the file is wrong.
#[test]
fn unknown_key_in_an_unselected_profile_is_an_error_too() {
    let (krate, config) = profile_crate_with("[profile.ci]\njobs = 5\nretires = 1\n");
    let run = run_with(crate_args(krate.path(), &[]), |_| {});
    let place = format!("{}:3:", config.display());
    assert_one_error_line(&run, 2, &[&place, "retires"]);
}

/// A value of the wrong type: one line naming the file and the line (the key: see
/// profile_value_errors_name_file_line_and_key).
#[test]
fn profile_value_of_the_wrong_type_names_file_and_line() {
    let (krate, config) = profile_crate_with("[profile.ci]\nretries = \"many\"\n");
    let run = run_with(crate_args(krate.path(), &["--profile", "ci"]), |_| {});
    let place = format!("{}:2:", config.display());
    assert_one_error_line(&run, 2, &[&place]);
}

#[test]
fn misspelt_config_table_names_file_line_and_table() {
    let (krate, config) = profile_crate_with("[profiles.ci]\njobs = 5\n");
    let run = run_with(crate_args(krate.path(), &[]), |_| {});
    let place = format!("{}:1:", config.display());
    assert_one_error_line(&run, 2, &[&place, "profiles"]);
}

/// Values of the wrong type or form in a profile must be reported like unknown keys: one line
/// with the file, the line and the key.
#[test]
fn profile_value_errors_name_file_line_and_key() {
    let krate = temp_crate("ciprofilevalues", "#[test]\nfn t() {}\n");
    let dir = krate.path();
    let mut wrong = Vec::new();
    for (line, key) in [
        ("retries = \"many\"", "retries"),
        ("jobs = true", "jobs"),
        ("fail-fast = \"yes\"", "fail-fast"),
        ("jobs = \"lots\"", "jobs"),
        ("timeout = \"soon\"", "timeout"),
        ("leak-result = \"maybe\"", "leak-result"),
    ] {
        let config = write_config(dir, &format!("[profile.ci]\n{line}\n"));
        let run = run_with(crate_args(dir, &["--profile", "ci"]), |_| {});
        let place = format!("{}:2:", config.display());
        let lines = run.stderr_lines();
        let good = run.code == 2
            && lines.len() == 1
            && lines[0].contains(&place)
            && lines[0].contains(key);
        if !good {
            wrong.push(format!(
                "{line:?} -> exit {}: {}",
                run.code,
                run.stderr.trim()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "errors without the file, line and key:\n{}",
        wrong.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Partitions.
// ---------------------------------------------------------------------------------------------

fn list_outcomes(args: &[&str], configure: impl FnOnce(&mut Command)) -> Vec<TestKey> {
    let mut all = vec!["list", "--format", "json"];
    all.extend_from_slice(args);
    let run = run_fixture_with("outcomes", &all, configure);
    listed_keys(&run)
}

/// A target directory of its own for the `time:` listings of the outcomes fixture, with a
/// history written by the test: some tests timed, the others not.
fn outcomes_with_history() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ci-time-partition");
    let mut tests = serde_json::Map::new();
    for (i, (binary, name)) in expected_keys().into_iter().enumerate() {
        if i % 3 == 2 {
            continue; // no history: spread by count
        }
        let seconds = ((i * 37) % 300 + 5) as f64 / 1000.0;
        tests.insert(
            format!("{binary} {name}"),
            serde_json::json!({ "durations": [seconds], "failed": false, "last_run": 1 }),
        );
    }
    let history = serde_json::json!({ "version": 1, "runs": 1, "tests": tests });
    let dir = target.join("runner");
    std::fs::create_dir_all(&dir).expect("mkdir runner");
    std::fs::write(dir.join("history.json"), history.to_string()).expect("write history");
    target
}

/// The listings of `scheme:1/3` to `scheme:3/3` of the outcomes fixture.
fn listed_shards(scheme: &str) -> Vec<Vec<TestKey>> {
    (1..=3)
        .map(|k| list_outcomes(&["--partition", &format!("{scheme}:{k}/3")], |_| {}))
        .collect()
}

/// The hash shards as listed, which the runs and `auto` below must reproduce.
fn hash_shards() -> &'static [Vec<TestKey>] {
    static SHARDS: OnceLock<Vec<Vec<TestKey>>> = OnceLock::new();
    SHARDS.get_or_init(|| listed_shards("hash"))
}

#[test]
fn listing_without_a_partition_selects_every_test() {
    assert_eq!(
        list_outcomes(&[], |_| {})
            .into_iter()
            .collect::<BTreeSet<_>>(),
        expected_keys()
    );
}

#[test]
fn hash_partition_listings_cover_the_selection() {
    assert_exact_cover(&expected_keys(), hash_shards(), "hash");
}

#[test]
fn count_partition_listings_cover_the_selection_evenly() {
    let shards = listed_shards("count");
    assert_exact_cover(&expected_keys(), &shards, "count");
    let sizes: Vec<usize> = shards.iter().map(Vec::len).collect();
    let (min, max) = (sizes.iter().min(), sizes.iter().max());
    assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1), "{sizes:?}");
}

#[test]
fn time_partition_listings_cover_the_selection() {
    let target = outcomes_with_history();
    let manifest = fixture_manifest("outcomes");
    let time_shards: Vec<Vec<TestKey>> = (1..=3)
        .map(|k| {
            let spec = format!("time:{k}/3");
            let args = args_for(
                &["list", "--format", "json", "--partition", &spec],
                &manifest,
                &target,
            );
            listed_keys(&run_with(args, |_| {}))
        })
        .collect();
    assert_exact_cover(&expected_keys(), &time_shards, "time");
}

/// Real runs of the hash shards: each runs its listed tests, with the expected outcomes.
#[test]
fn hash_shard_runs_run_their_listed_tests_with_the_expected_outcomes() {
    let expected = expected_outcomes();
    let mut ran = Vec::new();
    for (k, listed_shard) in (1..=3).zip(hash_shards()) {
        let spec = format!("hash:{k}/3");
        let run = run_fixture_with(
            "outcomes",
            &["-n2", "--message-format", "json", "--partition", &spec],
            |_| {},
        );
        let events = run.events();
        let finals = final_events(&events);
        let keys: Vec<TestKey> = finals.keys().cloned().collect();
        let listed_set: BTreeSet<&TestKey> = listed_shard.iter().collect();
        assert_eq!(
            keys.iter().collect::<BTreeSet<_>>(),
            listed_set,
            "{}",
            run.context()
        );
        let started = events_of(&events, "run-started");
        let ignored = finals.values().filter(|e| e["reason"] == "ignored").count();
        assert_eq!(
            started[0]["tests"],
            keys.len() - ignored,
            "{}",
            run.context()
        );
        assert_eq!(started[0]["ignored"], ignored, "{}", run.context());
        let mut any_failure = false;
        for (key, event) in &finals {
            assert_eq!(label_of(event), expected[key], "{key:?}{}", run.context());
            any_failure |= is_failure_label(&expected[key]);
        }
        run.assert_code(if any_failure { 100 } else { 0 });
        ran.push(keys);
    }
    assert_exact_cover(&expected_keys(), &ran, "hash runs");
}

/// `auto` reads one CI's variables (`index_var` counting from `base`) and gives the hash
/// shards; with `TEST_SHARD_INDEX` it also creates `TEST_SHARD_STATUS_FILE`.
fn assert_auto_gives_hash_shards(index_var: &str, total_var: &str, base: usize) {
    let scratch = tempfile::tempdir().expect("tempdir");
    for (k, hash_shard) in (1..=3).zip(hash_shards()) {
        let status = scratch.path().join(format!("status-{index_var}-{k}"));
        let index = (k - 1 + base).to_string();
        let shard = list_outcomes(&["--partition", "auto"], |c| {
            c.env(index_var, &index).env(total_var, "3");
            if index_var == "TEST_SHARD_INDEX" {
                c.env("TEST_SHARD_STATUS_FILE", &status);
            }
        });
        assert_eq!(&shard, hash_shard, "{index_var}={index} {total_var}=3");
        if index_var == "TEST_SHARD_INDEX" {
            assert!(status.is_file(), "TEST_SHARD_STATUS_FILE was not created");
        }
    }
}

#[test]
fn auto_partition_reads_ci_node_index_from_one() {
    assert_auto_gives_hash_shards("CI_NODE_INDEX", "CI_NODE_TOTAL", 1);
}

#[test]
fn auto_partition_reads_circle_node_index() {
    assert_auto_gives_hash_shards("CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", 0);
}

#[test]
fn auto_partition_reads_buildkite_parallel_job() {
    assert_auto_gives_hash_shards("BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT", 0);
}

#[test]
fn auto_partition_reads_test_shard_index_and_touches_the_status_file() {
    assert_auto_gives_hash_shards("TEST_SHARD_INDEX", "TEST_TOTAL_SHARDS", 0);
}

#[test]
fn auto_partition_reads_a_kubernetes_indexed_job() {
    assert_auto_gives_hash_shards("JOB_COMPLETION_INDEX", "JOB_COMPLETIONS", 0);
}

#[test]
fn auto_partition_reads_semaphore_from_one() {
    assert_auto_gives_hash_shards("SEMAPHORE_JOB_INDEX", "SEMAPHORE_JOB_COUNT", 1);
}

/// Kubernetes sets the index only: without the documented total, one line naming it.
#[test]
fn auto_partition_with_a_kubernetes_index_and_no_total_names_the_variable() {
    let run = run_fixture_with("outcomes", &["list", "--partition", "auto"], |c| {
        c.env("JOB_COMPLETION_INDEX", "0");
    });
    assert_one_error_line(&run, 2, &["JOB_COMPLETION_INDEX", "JOB_COMPLETIONS"]);
}

/// Without variables: one clear line, exit 2.
#[test]
fn auto_partition_without_ci_variables_is_one_usage_error_line() {
    let run = run_fixture_with("outcomes", &["list", "--partition", "auto"], |_| {});
    assert_one_error_line(&run, 2, &["--partition", "CI_NODE_INDEX", "hash:K/N"]);
}

/// A shard that does not exist: one clear line, exit 2.
#[test]
fn partition_shard_beyond_the_count_is_one_usage_error_line() {
    let run = run_fixture_with("outcomes", &["--partition", "hash:4/3"], |_| {});
    assert_one_error_line(&run, 2, &["--partition", "hash:4/3"]);
}

#[test]
fn auto_partition_with_an_index_beyond_the_total_is_one_usage_error_line() {
    let run = run_fixture_with("outcomes", &["list", "--partition", "auto"], |c| {
        c.env("CIRCLE_NODE_INDEX", "3")
            .env("CIRCLE_NODE_TOTAL", "3");
    });
    assert_one_error_line(&run, 2, &["CIRCLE_NODE_INDEX"]);
}

// ---------------------------------------------------------------------------------------------
// 5. time: partitions balance the recorded durations.
// ---------------------------------------------------------------------------------------------

/// Thirty tests sleeping 10 to 300 ms, all different.
fn sleepy_durations() -> Vec<u64> {
    (0..30u64).map(|i| 10 + (i * 37) % 291).collect()
}

#[test]
fn time_partition_balances() {
    let mut lib = String::from(
        "#[cfg(test)]\nfn nap(ms: u64) {\n    std::thread::sleep(std::time::Duration::from_millis(ms));\n}\n",
    );
    for (i, ms) in sleepy_durations().into_iter().enumerate() {
        lib += &format!("\n#[test]\nfn t{i:02}_sleeps_{ms}ms() {{\n    nap({ms});\n}}\n");
    }
    let krate = temp_crate("sleepy", &lib);
    let dir = krate.path();

    // Record the history: the tests only sleep, so many workers are fine on few CPUs.
    let run = run_with(
        crate_args(dir, &["-n8", "--message-format", "json"]),
        |_| {},
    );
    run.assert_code(0);
    let events = run.events();
    assert_eq!(finished(&events).len(), 30, "{}", run.context());

    let history_path = dir.join("target").join("runner").join("history.json");
    let history: Value = serde_json::from_str(
        &std::fs::read_to_string(&history_path).expect("history.json after a run"),
    )
    .expect("history.json is JSON");
    let expected_secs = |key: &TestKey| -> f64 {
        let record = &history["binaries"][&key.0][&key.1];
        let durations = record["durations"]
            .as_array()
            .unwrap_or_else(|| panic!("no history for {key:?}: {history}"));
        let values: Vec<f64> = durations.iter().filter_map(Value::as_f64).collect();
        assert!(!values.is_empty(), "{key:?}: {history}");
        values.iter().sum::<f64>() / values.len() as f64
    };

    let all: BTreeSet<TestKey> = finished(&events).into_keys().collect();
    let shards: Vec<Vec<TestKey>> = (1..=3)
        .map(|k| {
            let spec = format!("time:{k}/3");
            let args = crate_args(dir, &["list", "--format", "json", "--partition", &spec]);
            listed_keys(&run_with(args, |_| {}))
        })
        .collect();
    assert_exact_cover(&all, &shards, "time");

    let longest = all.iter().map(expected_secs).fold(0.0, f64::max);
    let sums: Vec<f64> = shards
        .iter()
        .map(|shard| shard.iter().map(expected_secs).sum())
        .collect();
    let max = sums.iter().copied().fold(0.0, f64::max);
    let min = sums.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        max - min <= max / 10.0 + longest,
        "unbalanced time shards: {sums:?} (longest test {longest}s)"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. junit-merge.
// ---------------------------------------------------------------------------------------------

#[test]
fn junit_merge_combines_shards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut inputs: Vec<PathBuf> = Vec::new();
    for k in 1..=3 {
        let path = dir.path().join(format!("shard{k}.xml"));
        let spec = format!("count:{k}/3");
        let run = run_fixture_with(
            "outcomes",
            &[
                "-n2",
                "-q",
                "--partition",
                &spec,
                "--junit",
                path.to_str().expect("utf-8 path"),
            ],
            |_| {},
        );
        assert!([0, 100].contains(&run.code), "{}", run.context());
        assert!(path.is_file(), "no report for shard {k}{}", run.context());
        inputs.push(path);
    }
    let merged = dir.path().join("merged.xml");
    let mut args: Vec<OsString> = vec!["junit-merge".into(), merged.clone().into()];
    args.extend(inputs.iter().map(|p| p.clone().into_os_string()));
    let run = run_with(args, |_| {});
    run.assert_code(0);

    let (xml, report) = parse_junit(&merged);
    let full = full_outcomes_run();
    assert!(full.junit_path_existed, "{}", full.run.context());
    let (_, whole) = parse_junit(&full.junit_xml_path);
    assert_eq!(
        (report.tests, report.failures, report.errors),
        (whole.tests, whole.failures, whole.errors),
        "{xml}"
    );
    assert_eq!(suite_totals(&report), suite_totals(&whole), "{xml}");
    let merged_cases = junit_cases(&report);
    let whole_cases = junit_cases(&whole);
    assert_eq!(
        merged_cases.keys().collect::<Vec<_>>(),
        whole_cases.keys().collect::<Vec<_>>()
    );
    for (key, case) in &merged_cases {
        assert_eq!(junit_label(case), junit_label(whole_cases[key]), "{key:?}");
    }
    assert_eq!(
        merged_cases.keys().cloned().collect::<BTreeSet<_>>(),
        expected_keys()
    );

    // A missing input, or one that is not XML: one error line naming it, no output file.
    let garbage = dir.path().join("garbage.xml");
    std::fs::write(&garbage, "this is not xml").expect("write garbage");
    for bad in [dir.path().join("missing.xml"), garbage] {
        let out = dir.path().join("never.xml");
        let args: Vec<OsString> = vec![
            "junit-merge".into(),
            out.clone().into(),
            inputs[0].clone().into(),
            bad.clone().into(),
        ];
        let run = run_with(args, |_| {});
        assert_ne!(run.code, 0, "{}", run.context());
        let name = bad.file_name().and_then(|n| n.to_str()).expect("name");
        let line = assert_one_error_line(&run, run.code, &["error:", name]);
        assert!(line.starts_with("error:"), "{line}");
        assert!(!out.exists(), "a merged file was written from a bad input");
    }
}

// ---------------------------------------------------------------------------------------------
// 7. GitHub Actions.
// ---------------------------------------------------------------------------------------------

/// `::error k=v,k=v::message` → (properties, message), with properties unescaped.
fn parse_annotation(line: &str) -> Option<(BTreeMap<String, String>, String)> {
    let rest = line.strip_prefix("::error ")?;
    let (properties, message) = rest.split_once("::")?;
    let unescape = |s: &str| {
        s.replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%0D", "\r")
            .replace("%0A", "\n")
            .replace("%25", "%")
    };
    let properties = properties
        .split(',')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), unescape(v))
        })
        .collect();
    Some((properties, message.to_string()))
}

/// One annotation: its properties and its message.
type Annotation = (BTreeMap<String, String>, String);

/// The one run of the outcomes fixture as GitHub Actions, that the tests below read, and the
/// step summary it appended to.
struct GithubRun {
    run: Run,
    markdown: std::io::Result<String>,
}

fn github_run() -> &'static GithubRun {
    static GITHUB: OnceLock<GithubRun> = OnceLock::new();
    GITHUB.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let summary = dir.path().join("step-summary.md");
        std::fs::write(&summary, "# earlier step\n").expect("write summary");
        let run = run_fixture_with("outcomes", &["-n2"], |c| {
            c.env("GITHUB_ACTIONS", "true")
                .env("GITHUB_STEP_SUMMARY", &summary);
        });
        let markdown = std::fs::read_to_string(&summary);
        GithubRun { run, markdown }
    })
}

/// The shared GitHub run's annotations by test, after checking that each failed test has one,
/// on a line of its own.
fn github_annotations() -> (&'static Run, BTreeMap<TestKey, Annotation>) {
    let run = &github_run().run;
    run.assert_code(100);
    let mut annotations: BTreeMap<TestKey, Annotation> = BTreeMap::new();
    for line in run.stdout_lines() {
        if !line.starts_with("::") {
            continue;
        }
        let (properties, message) =
            parse_annotation(line).unwrap_or_else(|| panic!("malformed annotation: {line:?}"));
        let title = properties.get("title").expect("title property");
        let (binary, name) = title.split_once(' ').expect("title is `binary test`");
        let previous = annotations.insert(key(binary, name), (properties.clone(), message));
        assert!(
            previous.is_none(),
            "{title} annotated twice{}",
            run.context()
        );
    }
    assert_eq!(
        run.stdout.matches("::error").count(),
        annotations.len(),
        "an annotation does not start its own line{}",
        run.context()
    );
    (run, annotations)
}

/// The tests of the expected table that fail.
fn failed_keys() -> BTreeSet<TestKey> {
    expected_outcomes()
        .into_iter()
        .filter(|(_, label)| is_failure_label(label))
        .map(|(k, _)| k)
        .collect()
}

/// One annotation per failed test, each on a line of its own.
#[test]
fn github_annotates_each_failed_test_once() {
    let (run, annotations) = github_annotations();
    assert_eq!(
        annotations.keys().cloned().collect::<BTreeSet<_>>(),
        failed_keys(),
        "{}",
        run.context()
    );
}

/// Panicking tests point at their panic; fails_assert at the line of its assert_eq!.
#[test]
fn github_annotations_point_at_the_panic() {
    let (_, annotations) = github_annotations();
    let fixture = fixture_dir("outcomes");
    let panics = [
        (
            key("outcomes", "fails_assert"),
            "src/lib.rs",
            "assert_eq!(answer(), 41);",
        ),
        (
            key("outcomes", "prints_then_fails"),
            "src/lib.rs",
            "panic!(\"boom\");",
        ),
        (
            key("outcomes::integration", "integration_fails"),
            "tests/integration.rs",
            "assert_eq!(outcomes::answer(), 43",
        ),
        (
            key("outcomes::bin/outcomes-bin", "bin_unit_fails"),
            "src/main.rs",
            "assert_eq!(1 + 1, 3",
        ),
    ];
    for (key, file, needle) in panics {
        let (properties, message) = &annotations[&key];
        assert_eq!(
            properties.get("file").map(String::as_str),
            Some(file),
            "{key:?}"
        );
        let line = line_of(&fixture.join(file), needle).to_string();
        assert_eq!(properties.get("line"), Some(&line), "{key:?}");
        assert!(!message.is_empty(), "{key:?}");
    }
}

#[test]
fn github_annotation_messages_are_the_panic_messages() {
    let (_, annotations) = github_annotations();
    let (_, message) = &annotations[&key("outcomes", "fails_assert")];
    assert!(message.contains("assertion"), "{message:?}");
    let (_, message) = &annotations[&key("outcomes", "prints_then_fails")];
    assert_eq!(message, "boom");
}

/// Tests that died without a panic have no location, but still say why.
#[test]
fn github_annotation_of_a_crash_has_no_location_but_names_the_signal() {
    let (_, annotations) = github_annotations();
    let (properties, message) = &annotations[&key("outcomes", "segfaults")];
    assert!(!properties.contains_key("file"), "{properties:?}");
    assert!(message.contains("SIGSEGV"), "{message:?}");
}

/// The human report is unchanged around the annotations.
#[test]
fn github_annotations_leave_the_human_report_intact() {
    let run = &github_run().run;
    run.assert_code(100);
    let (passed, failed_count, skipped) = counts(&expected_outcomes());
    assert_eq!(
        run.last_stdout_line(),
        summary_line(passed, failed_count, skipped),
        "{}",
        run.context()
    );
}

/// The step summary the shared GitHub run appended to (after checking the run's exit code).
fn github_markdown() -> &'static str {
    let github = github_run();
    github.run.assert_code(100);
    github.markdown.as_deref().expect("read step summary")
}

/// The first Markdown table of `markdown` whose header mentions "passed": its column names
/// and its first row of values, after checking the separator row between them.
fn summary_table(markdown: &str) -> (Vec<String>, Vec<String>) {
    let mut lines = markdown.lines();
    let header = lines
        .find(|l| l.starts_with('|') && l.contains("passed"))
        .unwrap_or_else(|| panic!("no table: {markdown}"));
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let separator = lines.next().expect("separator row");
    assert!(separator.contains("---"), "{markdown}");
    let values = cells(lines.next().expect("value row"));
    (cells(header), values)
}

/// The step summary is appended: a table with the counts.
#[test]
fn github_step_summary_is_appended_with_a_table_of_counts() {
    let markdown = github_markdown();
    assert!(markdown.starts_with("# earlier step\n"), "{markdown}");
    let (columns, values) = summary_table(markdown);
    let column = |name: &str| {
        let at = columns.iter().position(|c| c == name);
        at.and_then(|i| values.get(i))
            .cloned()
            .unwrap_or_else(|| panic!("no {name} column: {markdown}"))
    };
    let (passed, failed_count, skipped) = counts(&expected_outcomes());
    assert_eq!(column("passed"), passed.to_string(), "{markdown}");
    assert_eq!(column("failed"), failed_count.to_string(), "{markdown}");
    assert_eq!(column("skipped"), skipped.to_string(), "{markdown}");
}

#[test]
fn github_step_summary_lists_the_failures() {
    let markdown = github_markdown();
    let failures_at = markdown
        .find("### Failures")
        .unwrap_or_else(|| panic!("no failures section: {markdown}"));
    let failures = &markdown[failures_at..];
    for (binary, name) in &failed_keys() {
        assert!(
            failures.contains(&format!("`{binary} {name}`")),
            "{binary} {name} missing from the failures section: {markdown}"
        );
    }
}

/// With JSON on stdout, no annotation may break the stream.
#[test]
fn github_annotations_do_not_break_the_json_stream() {
    let run = run_fixture_with(
        "outcomes",
        &["fails_assert", "--exact", "--message-format", "json"],
        |c| {
            c.env("GITHUB_ACTIONS", "true");
        },
    );
    run.assert_code(100);
    run.events();
}

/// Under `--flaky-result fail` a flaky pass fails the run; its annotation and its line in the
/// step summary must say so, not "passed".
#[test]
fn github_flaky_failure_is_not_annotated_as_passed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = dir.path().join("step-summary.md");
    let run = run_fixture_with(
        "faults",
        &[
            "flaky_first_attempt",
            "--exact",
            "--retries",
            "1",
            "--flaky-result",
            "fail",
        ],
        |c| {
            c.env("GITHUB_ACTIONS", "true")
                .env("GITHUB_STEP_SUMMARY", &summary);
        },
    );
    run.assert_code(100);
    let annotations: Vec<_> = run
        .stdout_lines()
        .into_iter()
        .filter_map(parse_annotation)
        .collect();
    assert_eq!(annotations.len(), 1, "{}", run.context());
    let (_, message) = &annotations[0];
    assert!(
        message.to_lowercase().contains("flaky"),
        "annotation message {message:?}{}",
        run.context()
    );
    let markdown = std::fs::read_to_string(&summary).expect("read step summary");
    let entry = markdown
        .lines()
        .find(|l| l.contains("`faults flaky_first_attempt`:"))
        .unwrap_or_else(|| panic!("not in the failures: {markdown}"));
    assert!(entry.to_lowercase().contains("flaky"), "{entry}");
}

// ---------------------------------------------------------------------------------------------
// 8. Shell completions.
// ---------------------------------------------------------------------------------------------

#[test]
fn completions() {
    for shell in ["bash", "zsh", "fish"] {
        let run = run_with(["completions", shell], |_| {});
        run.assert_code(0);
        let option = if shell == "fish" {
            "-l exitfirst"
        } else {
            "--exitfirst"
        };
        assert!(run.stdout.contains(option), "{shell}{}", run.context());
        assert!(
            run.stdout.contains("junit-merge"),
            "{shell}{}",
            run.context()
        );
        assert!(run.stderr.is_empty(), "{shell}{}", run.context());
        if shell == "bash" {
            // The script is valid bash, when bash is there to check it.
            let dir = tempfile::tempdir().expect("tempdir");
            let script = dir.path().join("runner.bash");
            std::fs::write(&script, &run.stdout).expect("write script");
            if let Ok(status) = Command::new("bash").arg("-n").arg(&script).status() {
                assert!(status.success(), "bash -n rejects the script");
            }
        }
    }
    // clap's message, whole: the bad value, and the shells there are.
    let run = run_with(["completions", "tcsh"], |_| {});
    run.assert_code(2);
    assert!(
        run.stderr.starts_with("error: invalid value 'tcsh'"),
        "{}",
        run.context()
    );
    assert!(
        run.stderr.contains("[possible values: bash"),
        "{}",
        run.context()
    );
}
