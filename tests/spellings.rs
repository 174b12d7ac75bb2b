//! What a cargo or nextest user types, and what they are told: output levels, the cargo and
//! nextest spellings of options, usage errors with clap's help, errors shown once with the
//! right exit code, counts that agree between the run and `runner list`, `runner list`'s own
//! options, `junit-merge` on other tools' reports, and the custom-harness note.

mod common;

use common::*;

/// `runner ARGS --exact NAMES... ` on the outcomes fixture.
fn outcomes(args: &[&str], names: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.push("--exact");
    all.extend_from_slice(names);
    run_fixture("outcomes", &all)
}

/// The index of the first line equal to `line`, or a failure showing the run.
fn line_at(run: &Run, line: &str) -> usize {
    run.stdout_lines()
        .iter()
        .position(|l| *l == line)
        .unwrap_or_else(|| panic!("no line {line:?}{}", run.context()))
}

#[test]
fn output_levels_choose_what_each_status_shows() {
    let names = ["passes", "prints_both", "fails_assert"];
    // Passes and their output as they end; failures' output only at the end.
    let run = outcomes(
        &[
            "-n1",
            "--status-level",
            "pass",
            "--success-output",
            "immediate",
            "--failure-output",
            "final",
        ],
        &names,
    );
    run.assert_code(100);
    let pass = run
        .stdout_lines()
        .iter()
        .position(|l| l.starts_with("    PASS [") && l.ends_with(" outcomes prints_both"))
        .unwrap_or_else(|| panic!("no PASS line{}", run.context()));
    assert_eq!(
        run.stdout_lines()[pass + 1],
        "--- STDOUT: outcomes prints_both ---"
    );
    let list = line_at(&run, "1 test did not pass:");
    let output = line_at(&run, "--- STDERR: outcomes fails_assert ---");
    assert!(
        output > list,
        "failure output after the list{}",
        run.context()
    );

    // Nothing per test, no list: the figures and the Summary line.
    let run = outcomes(
        &["--status-level", "none", "--final-status-level", "none"],
        &names,
    );
    run.assert_code(100);
    assert!(
        !run.stdout.contains("FAIL") && !run.stdout.contains("--- STD"),
        "{}",
        run.context()
    );
    assert_eq!(run.last_stdout_line(), summary_line(2, 1, 0));

    // The closing report lists every pass, sorted, at `--final-status-level pass`.
    let run = outcomes(&["--final-status-level", "pass"], &names);
    let passes = run
        .stdout_lines()
        .iter()
        .filter(|l| l.starts_with("    PASS ["))
        .map(|l| l.rsplit(' ').next().unwrap_or("").to_string())
        .collect::<Vec<_>>();
    assert_eq!(passes, ["passes", "prints_both"], "{}", run.context());
}

#[test]
fn the_failure_list_shows_where_each_test_panicked() {
    let run = outcomes(&[], &["fails_assert", "passes"]);
    run.assert_code(100);
    let fail = line_at(&run, "    FAIL             outcomes fails_assert");
    let panic = run.stdout_lines()[fail + 1];
    assert!(
        panic.starts_with(
            "                     panicked at src/lib.rs:20:5: assertion `left == right` failed"
        ),
        "{panic:?}{}",
        run.context()
    );
    assert!(
        run.stdout_lines()[fail + 2].contains("rerun: "),
        "{}",
        run.context()
    );
}

#[test]
fn no_capture_passes_output_through_one_test_at_a_time() {
    for spelling in ["--no-capture", "--nocapture"] {
        let run = outcomes(&[spelling, "-n4"], &["prints_both", "passes"]);
        run.assert_code(0);
        assert!(
            run.stdout.contains(" with 1 worker (one process per test)"),
            "{}",
            run.context()
        );
        assert!(
            run.stdout
                .contains("note: --no-capture: the tests' output goes straight"),
            "{}",
            run.context()
        );
        // The test's own lines, as it printed them, not under a header of the report.
        assert!(
            run.stdout.lines().any(|l| l == "hello stdout"),
            "{}",
            run.context()
        );
        assert!(
            run.stderr.lines().any(|l| l == "hello stderr"),
            "{}",
            run.context()
        );
        assert!(!run.stdout.contains("--- STDOUT"), "{}", run.context());
    }
    let run = outcomes(&["--no-capture", "--batch"], &["passes"]);
    run.assert_code(2);
}

/// The workers a run's header says it has.
fn workers_of(run: &Run) -> String {
    let header = run
        .stdout_lines()
        .into_iter()
        .find(|l| l.starts_with("Running "))
        .unwrap_or_else(|| panic!("no header{}", run.context()))
        .to_string();
    header
        .split(" with ")
        .nth(1)
        .and_then(|rest| rest.split(" (").next())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn cargo_and_nextest_spellings_of_existing_options() {
    for jobs in [
        &["-j2"][..],
        &["-j", "2"],
        &["--test-threads", "2"],
        &["--test-threads=2"],
    ] {
        let run = outcomes(jobs, &["passes", "prints_both"]);
        run.assert_code(0);
        assert_eq!(workers_of(&run), "2 workers", "{}", run.context());
    }
    // Stop after the first failure, or the Nth; or run everything whatever the profile says.
    let failing = ["fails_assert", "fails_result", "passes"];
    for stop in [
        &["--fail-fast"][..],
        &["--max-fail", "1"],
        &["--max-fail=1"],
    ] {
        let mut args = vec!["-n1", "--order", "name", "--message-format", "json"];
        args.extend_from_slice(stop);
        let run = outcomes(&args, &failing);
        run.assert_code(100);
        let not_started = events_of(&run.events(), "test-skipped").len();
        assert_eq!(not_started, 2, "{stop:?}{}", run.context());
    }
    let run = outcomes(&["-n1", "--no-fail-fast"], &failing);
    assert_eq!(run.last_stdout_line(), summary_line(1, 2, 0));
    let run = outcomes(&["--no-fail-fast", "-x"], &failing);
    run.assert_code(2);

    // nextest's --run-ignored.
    let names = ["passes", "ignored_test"];
    for (which, expected) in [
        ("only", (1, 0, 0)),
        ("all", (2, 0, 0)),
        ("default", (1, 0, 1)),
    ] {
        let run = outcomes(&["--run-ignored", which], &names);
        let (passed, failed, skipped) = expected;
        assert_eq!(
            run.last_stdout_line(),
            summary_line(passed, failed, skipped),
            "--run-ignored {which}{}",
            run.context()
        );
    }
    let run = outcomes(&["--run-ignored", "all", "--ignored"], &names);
    run.assert_code(2);
}

#[test]
fn usage_errors_keep_clap_help() {
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["--color", "sometimes"],
            &[
                "error: invalid value 'sometimes' for '--color <WHEN>'",
                "[possible values: auto, always, never]",
            ],
        ),
        (
            &["--jbos", "2"],
            &["tip: a similar argument exists: '--jobs'"],
        ),
        (
            &["completions"],
            &[
                "the following required arguments were not provided:",
                "  <SHELL>",
                "Usage: runner completions <SHELL>",
            ],
        ),
        (
            &["--run-ignored", "some"],
            &["[possible values: only, default, all]"],
        ),
    ];
    for (args, expected) in cases {
        let run = run(args);
        run.assert_code(2);
        for text in expected {
            assert!(run.stderr.contains(text), "{text:?}{}", run.context());
        }
        assert!(run.stdout.is_empty(), "{}", run.context());
    }
}

#[test]
fn values_that_cannot_mean_anything_are_usage_errors() {
    let run = run_with(["--no-tests", "pass", "--binary", "/bin/true"], |c| {
        c.env("RUNNER_JOBS", "abc");
    });
    run.assert_code(2);
    assert_eq!(
        run.stderr,
        "error: invalid value 'abc' in the environment variable RUNNER_JOBS: expected a whole \
         number of workers or 'auto' (e.g. RUNNER_JOBS=4)\n",
        "{}",
        run.context()
    );
    for (args, expected) in [
        (&["--timeout", "0"][..], "invalid value '0' for '--timeout'"),
        (
            &["--slow-timeout", "0s"],
            "invalid value '0' for '--slow-timeout'",
        ),
        (&["--seed", "7"], "'--seed' replays a random order"),
        (
            &["--seed", "7", "--order", "name"],
            "'--seed' replays a random order",
        ),
        (
            &["--lf", "--ff"],
            "the argument '--lf' cannot be used with '--ff'",
        ),
    ] {
        let refused = common::run(args);
        refused.assert_code(2);
        assert!(
            refused.stderr.contains(expected),
            "{args:?}{}",
            refused.context()
        );
    }
}

/// Each error cargo reports about the command line, said once, exit 2; not a failed build.
#[test]
fn cargo_errors_about_the_command_line_are_said_once() {
    let empty = tempfile::tempdir().expect("tempdir");
    let ordering = fixture_dir("ordering");
    let cases: [(Vec<std::ffi::OsString>, &str); 3] = [
        (vec![], "could not find `Cargo.toml`"),
        (
            vec!["--manifest-path".into(), ordering.clone().into()],
            "is a directory but expected a file",
        ),
        (
            vec![
                "-p".into(),
                "nosuchpkg".into(),
                "--manifest-path".into(),
                fixture_manifest("ordering").into(),
                "--target-dir".into(),
                shared_target_dir().into(),
            ],
            "`nosuchpkg` did not match any packages",
        ),
    ];
    for (args, message) in cases {
        for command in [vec![], vec!["list".into()]] {
            let mut all: Vec<std::ffi::OsString> = command;
            all.extend(args.iter().cloned());
            let run = run_with(&all, |c| {
                c.current_dir(empty.path());
            });
            run.assert_code(2);
            assert_eq!(
                run.stderr.matches(message).count(),
                1,
                "{message:?} once{}",
                run.context()
            );
            assert!(
                !run.stderr.contains("the build failed"),
                "{}",
                run.context()
            );
            assert!(!run.stdout.contains("Summary:"), "{}", run.context());
        }
    }
}

/// The last line of `runner list`: `N tests to run from B binaries (I ignored, not run)`.
fn list_counts(run: &Run) -> (usize, usize, usize) {
    let line = run.last_stdout_line();
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers[..] {
        [tests, binaries, ignored] => (tests, binaries, ignored),
        _ => panic!("not a count line: {line:?}{}", run.context()),
    }
}

/// The run's header and `runner list` count the same: the tests that will run, the binaries
/// they come from, the ignored tests apart; and the run-started event says the same.
#[test]
fn the_run_and_the_listing_count_the_same_tests_and_binaries() {
    for filters in [
        &["passes", "ignored_test", "fails_assert"][..],
        &[],
        &["integration"],
    ] {
        let mut list_args = vec!["list"];
        list_args.extend_from_slice(filters);
        let listed = run_fixture("outcomes", &list_args);
        let (tests, binaries, ignored) = list_counts(&listed);
        let mut run_args = vec!["-n2"];
        run_args.extend_from_slice(filters);
        let ran = run_fixture("outcomes", &run_args);
        let suffix = match ignored {
            0 => String::new(),
            n => format!(", {n} ignored"),
        };
        let header = format!(
            "Running {tests} test{} from {binaries} binar{} with 2 workers (one process per test){suffix}",
            if tests == 1 { "" } else { "s" },
            if binaries == 1 { "y" } else { "ies" },
        );
        assert!(
            ran.stdout_lines().contains(&header.as_str()),
            "{header:?}{}{}",
            listed.context(),
            ran.context()
        );
    }
    // Four tests of one binary are four tests from one binary, whatever else the crate builds.
    let listed = run_fixture(
        "outcomes",
        &[
            "list",
            "--exact",
            "passes",
            "fails_assert",
            "exits_3",
            "aborts",
        ],
    );
    assert_eq!(list_counts(&listed), (4, 1, 0), "{}", listed.context());
}

/// A flaky test is counted visibly above the Summary line, which keeps its format.
#[test]
fn flaky_tests_are_counted_above_the_summary_line() {
    let run = run_fixture(
        "faults",
        &[
            "--retries",
            "1",
            "--exact",
            "flaky_first_attempt",
            "passes_quickly",
        ],
    );
    run.assert_code(0);
    let lines = run.stdout_lines();
    assert_eq!(
        lines[lines.len() - 2],
        "Flaky: 1 test passed only on a retry (counted as passed)",
        "{}",
        run.context()
    );
    assert_eq!(run.last_stdout_line(), summary_line(2, 0, 0));
}

/// `runner list` takes the options that choose tests; an option of a run is an error there,
/// and `--format` (the listing's) is an error for a run.
#[test]
fn list_rejects_the_options_of_a_run() {
    let run_only: [&[&str]; 9] = [
        &["-n4"],
        &["--jobs", "2"],
        &["-x"],
        &["--timeout", "1s"],
        &["--junit", "x.xml"],
        // `--message-format` is `list`'s own `--format` (see wrappers.rs).
        &["--compare"],
        &["--retries", "1"],
        &["-v"],
        &["--no-capture"],
    ];
    for flag in run_only {
        let mut args = vec!["list"];
        args.extend_from_slice(flag);
        let refused = run_fixture("ordering", &args);
        refused.assert_code(2);
        // `-n4` is refused as `-n`.
        let named = match flag[0].starts_with("--") {
            true => flag[0],
            false => &flag[0][..2],
        };
        let said = format!("error: '{named}' is an option of a run;");
        assert!(refused.stderr.starts_with(&said), "{}", refused.context());
        assert!(refused.stdout.is_empty(), "{}", refused.context());
    }
    let refused = run_fixture("ordering", &["--format", "json"]);
    refused.assert_code(2);
    // The listing's own options work.
    let listed = run_fixture(
        "ordering",
        &["list", "--lf", "--run-ignored", "all", "--skip", "x"],
    );
    listed.assert_code(0);
}

/// A pytest report, as pytest writes it: no `name` on `<testsuites>`, a timestamp without a
/// time zone.
const PYTEST_REPORT: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="1" skipped="0" tests="2" time="0.052" timestamp="2024-05-01T10:00:00.000000" hostname="ci"><testcase classname="test_x" name="test_a" time="0.001" /><testcase classname="test_x" name="test_b" time="0.002"><failure message="assert 1 == 2">E       assert 1 == 2</failure></testcase></testsuite></testsuites>
"#;

#[test]
fn junit_merge_reads_other_tools_reports_and_names_a_truncated_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pytest = dir.path().join("pytest.xml");
    std::fs::write(&pytest, PYTEST_REPORT).expect("write");
    let ours = dir.path().join("ours.xml");
    let shard = run_fixture("ordering", &["--junit", ours.to_str().expect("UTF-8")]);
    shard.assert_code(0);
    let merged = dir.path().join("merged.xml");
    let run = common::run([
        "junit-merge".as_ref(),
        merged.as_os_str(),
        pytest.as_os_str(),
        ours.as_os_str(),
    ]);
    run.assert_code(0);
    let xml = std::fs::read_to_string(&merged).expect("merged report");
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("JUnit");
    assert_eq!((report.tests, report.failures), (6, 1), "{xml}");

    let cut = dir.path().join("shard-2.xml");
    std::fs::write(&cut, &PYTEST_REPORT[..PYTEST_REPORT.len() / 2]).expect("write");
    let run = common::run([
        "junit-merge".as_ref(),
        merged.as_os_str(),
        pytest.as_os_str(),
        cut.as_os_str(),
    ]);
    run.assert_code(2);
    assert_eq!(
        run.stderr,
        format!(
            "error: {} is truncated: it ends before its closing tag (was the run that wrote it \
             interrupted?)\n",
            cut.display()
        ),
        "{}",
        run.context()
    );
    // Bad input is a usage error, one line saying what to pass, and nothing is written.
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "hi\n").expect("write");
    let missing = dir.path().join("missing.xml");
    let out = dir.path().join("never.xml");
    for (input, problem) in [
        (&notes, "is not a JUnit report ("),
        (&missing, ": No such file or directory"),
    ] {
        let run = common::run(["junit-merge".as_ref(), out.as_os_str(), input.as_os_str()]);
        run.assert_code(2);
        let lines = run.stderr_lines();
        assert_eq!(lines.len(), 1, "{}", run.context());
        assert!(
            lines[0].starts_with("error: ")
                && lines[0].contains(problem)
                && lines[0].ends_with(
                    "; pass the reports that `runner --junit FILE` (or another JUnit writer) wrote"
                ),
            "{}",
            run.context()
        );
        assert!(!out.exists());
    }
}

/// A workspace of its own with one `harness = false` test target, `checks`.
fn custom_harness_crate() -> tempfile::TempDir {
    let dir = temp_crate("notes_once", "");
    let manifest = dir.path().join("Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).expect("read Cargo.toml");
    text.push_str("\n[[test]]\nname = \"checks\"\npath = \"tests/checks.rs\"\nharness = false\n");
    std::fs::write(&manifest, text).expect("write Cargo.toml");
    std::fs::create_dir(dir.path().join("tests")).expect("mkdir tests");
    write_checks(dir.path(), 1);
    dir
}

fn write_checks(dir: &std::path::Path, n: usize) {
    let body = format!("fn main() {{ println!(\"{n} checks\"); }}\n");
    std::fs::write(dir.join("tests").join("checks.rs"), body).expect("write checks.rs");
}

/// The note that a custom harness runs whole: said once per workspace, again when the target
/// changes.
#[test]
fn the_custom_harness_note_is_said_once_until_the_target_changes() {
    let krate = custom_harness_crate();
    let args = cargo_args_in(krate.path());
    let says = |run: &Run| {
        run.stdout
            .lines()
            .chain(run.stderr.lines())
            .filter(|l| l.starts_with("note: notes_once::checks does not list its tests"))
            .count()
    };
    let first = run(&args);
    first.assert_code(0);
    assert_eq!(says(&first), 1, "{}", first.context());
    let again = run(&args);
    assert_eq!(says(&again), 0, "{}", again.context());
    let mut list = vec!["list".into()];
    list.extend(args.iter().cloned());
    let listed = run(&list);
    assert_eq!(says(&listed), 0, "{}", listed.context());
    // The target changes: it is rebuilt, and what it does may have changed with it.
    write_checks(krate.path(), 2);
    let rebuilt = run(&args);
    assert_eq!(says(&rebuilt), 1, "{}", rebuilt.context());
}

/// `--manifest-path DIR/Cargo.toml --target-dir DIR/target`.
fn cargo_args_in(dir: &std::path::Path) -> Vec<std::ffi::OsString> {
    vec![
        "--manifest-path".into(),
        dir.join("Cargo.toml").into(),
        "--target-dir".into(),
        dir.join("target").into(),
    ]
}
