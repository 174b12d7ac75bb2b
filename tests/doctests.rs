//! Doctests end to end, on the `doctests` fixture (an edition 2021 library with an example of
//! every kind, and `merged`, an edition 2024 member whose doctests rustdoc merges): `runner
//! --doc` gives each doctest the outcome `cargo test --doc` gives it (read from cargo's own
//! output, here), in JSON, JUnit and human output; `--doc-only`; a filter choosing one doctest;
//! the rerun command of a failed doctest; `--lf`; the GitHub annotation at the example.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use quick_junit::{NonSuccessKind, Report, TestCaseStatus};

const FIXTURE: &str = "doctests";
const LIB: &str = "doctests::doc/doctests";
const MERGED: &str = "merged::doc/merged";

/// The binary id of a doctest of the fixture, from its name's file.
fn doc_binary(name: &str) -> &'static str {
    match name.starts_with("merged/") {
        true => MERGED,
        false => LIB,
    }
}

/// `test NAME - compile fail ... ok` → (NAME, PASS); `None` for any other line.
fn cargo_result_line(line: &str) -> Option<(String, &'static str)> {
    let (left, result) = line.strip_prefix("test ")?.rsplit_once(" ... ")?;
    let label = match result {
        "ok" => "PASS",
        "FAILED" => "FAIL",
        "ignored" => "SKIP",
        _ => return None,
    };
    let name = [" - compile fail", " - should panic", " - compile"]
        .iter()
        .find_map(|suffix| left.strip_suffix(suffix))
        .unwrap_or(left);
    Some((name.to_string(), label))
}

/// What `cargo test --doc` gives each doctest of the fixture's two libraries, read from its own
/// output: the result lines of each libtest run, not what its failures' sections hold (where a
/// doctest prints a forged result line).
fn cargo_outcomes() -> &'static BTreeMap<TestKey, &'static str> {
    static OUTCOMES: OnceLock<BTreeMap<TestKey, &'static str>> = OnceLock::new();
    OUTCOMES.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        clean_environment(&mut command);
        command
            .args(["test", "--doc", "--workspace", "--no-fail-fast"])
            .args(cargo_args(&fixture_manifest(FIXTURE)));
        let run = execute(command, vec!["(cargo test --doc)".into()]);
        run.assert_code(101);
        let mut outcomes = BTreeMap::new();
        let mut in_summary = false;
        for line in run.stdout_lines() {
            if line == "failures:" {
                in_summary = true;
            } else if line.starts_with("test result: ") {
                in_summary = false;
            } else if let Some((name, label)) = cargo_result_line(line).filter(|_| !in_summary) {
                let key = key(doc_binary(&name), &name);
                assert!(outcomes.insert(key, label).is_none(), "{line}");
            }
        }
        assert!(outcomes.len() >= 18, "{outcomes:?}{}", run.context());
        outcomes
    })
}

/// The doctests of one of the two libraries, as cargo gives them.
fn cargo_outcomes_of(binary: &str) -> BTreeMap<TestKey, &'static str> {
    let mut outcomes = cargo_outcomes().clone();
    outcomes.retain(|(b, _), _| b == binary);
    outcomes
}

/// The one `runner --doc --workspace` run (JSON, and a JUnit report) the tests below read.
struct JsonRun {
    run: Run,
    junit: String,
}

fn json_run() -> &'static JsonRun {
    static RUN: OnceLock<JsonRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let junit = dir.path().join("junit.xml");
        let junit_arg = junit.to_str().expect("utf-8 path").to_string();
        let args = ["--doc", "--workspace", "-n2", "--message-format", "json"];
        let mut args = args.to_vec();
        args.extend(["--junit", &junit_arg]);
        let run = run_fixture(FIXTURE, &args);
        let junit = std::fs::read_to_string(&junit).unwrap_or_default();
        JsonRun { run, junit }
    })
}

/// Each test's final event as a PASS/FAIL/SKIP label.
fn labels(events: &[serde_json::Value]) -> BTreeMap<TestKey, String> {
    final_events(events)
        .into_iter()
        .map(|(key, event)| (key, label_of(event)))
        .collect()
}

fn doctests_only(mut labels: BTreeMap<TestKey, String>) -> BTreeMap<TestKey, String> {
    labels.retain(|(binary, _), _| binary.contains("::doc/"));
    labels
}

fn as_strings(table: &BTreeMap<TestKey, &str>) -> BTreeMap<TestKey, String> {
    table
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

/// In JSON, every doctest of both editions ends as under `cargo test --doc`, and the other
/// tests of the workspace run beside them.
#[test]
fn doc_outcomes_in_json_equal_cargo_test_doc() {
    let JsonRun { run, .. } = json_run();
    run.assert_code(100);
    let events = run.events();
    let got = labels(&events);
    assert_eq!(
        doctests_only(got.clone()),
        as_strings(cargo_outcomes()),
        "{}",
        run.context()
    );
    assert_eq!(got[&key("doctests", "tests::unit_passes")], "PASS");
    assert_eq!(got[&key("doctests::it", "integration_passes")], "PASS");
    // A doctest that does not compile fails with the compiler's error as its output.
    let finals = final_events(&events);
    let broken = finals
        .iter()
        .find(|((_, name), _)| name.contains("does_not_compile"))
        .map(|(_, event)| event)
        .expect("the doctest that does not compile");
    let stdout = broken["stdout"].as_str().unwrap_or("");
    assert!(
        stdout.contains("error[E0308]: mismatched types"),
        "{broken}"
    );
    // The failure's forged line in its output changed nothing (`add` passed above); each
    // doctest has a duration of its own, and the JSON says they ran together.
    for event in events_of(&events, "test-finished") {
        if doc_binary_of(event) {
            assert!(event["duration"].as_f64().unwrap_or(-1.0) >= 0.0, "{event}");
            assert_eq!(event["batched"], true, "{event}");
        }
    }
}

fn doc_binary_of(event: &serde_json::Value) -> bool {
    event["binary_id"]
        .as_str()
        .is_some_and(|b| b.contains("::doc/"))
}

/// In JUnit, each doctest is a test case of its library's suite, with the same outcome.
#[test]
fn doc_outcomes_in_junit_equal_cargo_test_doc() {
    let JsonRun { run, junit } = json_run();
    let report = Report::deserialize_from_str(junit)
        .unwrap_or_else(|e| panic!("not JUnit XML ({e}): {junit}{}", run.context()));
    let mut got = BTreeMap::new();
    for suite in report.test_suites.iter() {
        for case in &suite.test_cases {
            let label = match &case.status {
                TestCaseStatus::Success { .. } => "PASS",
                TestCaseStatus::Skipped { .. } => "SKIP",
                TestCaseStatus::NonSuccess {
                    kind: NonSuccessKind::Failure,
                    ..
                } => "FAIL",
                TestCaseStatus::NonSuccess { .. } => "ERROR",
            };
            got.insert(key(suite.name.as_str(), case.name.as_str()), label);
        }
    }
    got.retain(|(binary, _), _| binary.contains("::doc/"));
    assert_eq!(&got, cargo_outcomes(), "{junit}");
}

/// The human report of `--doc-only` as GitHub Actions sees it: its status lines are cargo's
/// outcomes, no other test runs, and each failure is annotated at its example.
fn github_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        run_fixture_with(FIXTURE, &["--doc-only", "-v", "-n2"], |c| {
            c.env("GITHUB_ACTIONS", "true");
        })
    })
}

#[test]
fn doc_only_runs_the_doctests_alone_and_reports_them_in_human_output() {
    let run = github_run();
    run.assert_code(100);
    let mut got = BTreeMap::new();
    // The first status line of each test (the closing list of failures repeats some).
    for status in run
        .stdout_lines()
        .iter()
        .filter_map(|l| parse_status_line(l))
    {
        got.entry(status.key).or_insert(status.label);
    }
    let expected = as_strings(&cargo_outcomes_of(LIB));
    assert_eq!(got, expected, "{}", run.context());
    let (passed, failed, skipped) = counts(&expected);
    assert_eq!(
        run.last_stdout_line(),
        summary_line(passed, failed, skipped)
    );
}

#[test]
fn a_failed_doctest_is_annotated_at_its_example() {
    let run = github_run();
    let failed: BTreeSet<String> = cargo_outcomes_of(LIB)
        .into_iter()
        .filter(|(_, label)| *label == "FAIL")
        .map(|((_, name), _)| name)
        .collect();
    let mut annotated = BTreeSet::new();
    for line in run.stdout_lines() {
        let Some(rest) = line.strip_prefix("::error ") else {
            continue;
        };
        let (properties, message) = rest.split_once("::").expect("properties::message");
        let title = properties.split("title=").nth(1).expect("a title");
        let name = title
            .split_once(' ')
            .map(|(_, name)| name.replace("%3A", ":").replace("%2C", ","))
            .expect("`binary name`");
        // `src/lib.rs - fails (line 19)` → file=src/lib.rs,line=19
        let line_number = name.rsplit_once("(line ").unwrap().1.trim_end_matches(')');
        let place = format!("file=src/lib.rs,line={line_number},");
        assert!(properties.starts_with(&place), "{line}");
        if name.contains(" - fails ") {
            assert!(message.contains("add is not broken"), "{line}");
        }
        annotated.insert(name);
    }
    assert_eq!(annotated, failed, "{}", run.context());
}

/// A filter runs one doctest, even beside another of the same item whose name differs only
/// in its line.
#[test]
fn a_filter_selects_one_doctest() {
    let twice: Vec<String> = cargo_outcomes_of(LIB)
        .into_keys()
        .map(|(_, name)| name)
        .filter(|name| name.contains(" - twice "))
        .collect();
    assert_eq!(twice.len(), 2, "{twice:?}");
    for name in &twice {
        let run = run_fixture(
            FIXTURE,
            &["--doc-only", "--exact", name, "--message-format", "json"],
        );
        run.assert_code(0);
        let finished = finished(&run.events());
        let expected = BTreeMap::from([(key(LIB, name), "passed".to_string())]);
        assert_eq!(finished, expected, "{}", run.context());
    }
}

/// The rerun command of a failed doctest runs just it, and it fails again.
#[test]
fn the_rerun_command_of_a_failed_doctest_reruns_just_it() {
    let JsonRun { run, .. } = json_run();
    let events = run.events();
    let failed = events_of(&events, "test-finished")
        .into_iter()
        .find(|e| e["name"].as_str().is_some_and(|n| n.contains(" - fails ")))
        .expect("the failing doctest");
    let rerun = failed["rerun"].as_str().expect("a rerun command");
    let words = shlex::split(rerun).expect("a shell command");
    assert_eq!(words[0], "runner", "{rerun}");
    assert!(words.iter().any(|w| w == "--doc-only"), "{rerun}");
    let mut args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    args.extend(["--message-format", "json"]);
    let again = run_with(&args, |_| {});
    again.assert_code(100);
    let finished = finished(&again.events());
    let expected = BTreeMap::from([(key_of(failed), "failed".to_string())]);
    assert_eq!(finished, expected, "{}", again.context());
}

/// `--lf` runs the doctests that failed last time, and only those.
#[test]
fn last_failed_runs_the_failed_doctests() {
    github_run().assert_code(100);
    let run = run_fixture(
        FIXTURE,
        &[
            "--doc-only",
            "-p",
            "doctests",
            "--lf",
            "--message-format",
            "json",
        ],
    );
    run.assert_code(100);
    let ran: BTreeSet<TestKey> = finished(&run.events()).into_keys().collect();
    let failed: BTreeSet<TestKey> = cargo_outcomes_of(LIB)
        .into_iter()
        .filter(|(_, label)| *label == "FAIL")
        .map(|(key, _)| key)
        .collect();
    assert_eq!(ran, failed, "{}", run.context());
}

/// `runner list --doc` lists every doctest cargo has, the ignored ones marked; without `--doc`
/// no doctest is listed, and rustdoc is not run.
#[test]
fn doctests_are_listed_only_with_doc() {
    let listed = |args: &[&str]| -> BTreeMap<TestKey, bool> {
        let mut all = vec!["list", "--format", "json", "--workspace"];
        all.extend(args);
        let run = run_fixture(FIXTURE, &all);
        run.assert_code(0);
        let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON listing");
        let mut tests = BTreeMap::new();
        for binary in json["binaries"].as_array().expect("binaries") {
            for test in binary["tests"].as_array().expect("tests") {
                let name = test["name"].as_str().unwrap_or("");
                let id = binary["binary_id"].as_str().unwrap_or("");
                tests.insert(key(id, name), test["ignored"] == true);
            }
        }
        tests
    };
    let plain = listed(&[]);
    assert!(plain.keys().all(|(binary, _)| !binary.contains("::doc/")));
    let with_doc = listed(&["--doc"]);
    let doctests: BTreeMap<TestKey, bool> = with_doc
        .into_iter()
        .filter(|((binary, _), _)| binary.contains("::doc/"))
        .collect();
    let expected: BTreeMap<TestKey, bool> = cargo_outcomes()
        .iter()
        .map(|(key, label)| (key.clone(), *label == "SKIP"))
        .collect();
    assert_eq!(doctests, expected);
}

/// `--doc-only` with a target of cargo's chooses nothing, and `--doc` with prebuilt binaries
/// has no cargo to ask: both are usage errors.
#[test]
fn doc_flags_refuse_what_they_cannot_do() {
    let only = run_fixture(FIXTURE, &["--doc-only", "--test", "it"]);
    only.assert_code(2);
    assert!(only.stderr.contains("--doc-only"), "{}", only.context());
    let prebuilt = run(["--doc", "--binary", "/bin/true"]);
    prebuilt.assert_code(2);
    assert!(
        prebuilt.stderr.contains("--binary"),
        "{}",
        prebuilt.context()
    );
}

/// `--ignored` runs only the ignored doctest, as `cargo test --doc -- --ignored` would: its
/// text is not Rust, so it fails to compile.
#[test]
fn ignored_runs_only_the_ignored_doctest() {
    let run = run_fixture(
        FIXTURE,
        &["--doc-only", "--ignored", "--message-format", "json"],
    );
    run.assert_code(100);
    let ignored: Vec<TestKey> = cargo_outcomes_of(LIB)
        .into_iter()
        .filter(|(_, label)| *label == "SKIP")
        .map(|(key, _)| key)
        .collect();
    let expected: BTreeMap<TestKey, String> = ignored
        .into_iter()
        .map(|key| (key, "failed".to_string()))
        .collect();
    assert_eq!(finished(&run.events()), expected, "{}", run.context());
}

/// Two shards run every doctest exactly once between them, each only its own.
#[test]
fn partitions_share_the_doctests_out() {
    let shard = |spec: &str| -> BTreeSet<TestKey> {
        let args = [
            "--doc-only",
            "--partition",
            spec,
            "--message-format",
            "json",
        ];
        let run = run_fixture(FIXTURE, &args);
        assert!(matches!(run.code, 0 | 100), "{}", run.context());
        final_events(&run.events()).into_keys().collect()
    };
    let (first, second) = (shard("hash:1/2"), shard("hash:2/2"));
    assert!(first.is_disjoint(&second), "{first:?} {second:?}");
    let all: BTreeSet<TestKey> = first.union(&second).cloned().collect();
    let expected: BTreeSet<TestKey> = cargo_outcomes_of(LIB).into_keys().collect();
    assert_eq!(all, expected);
}
