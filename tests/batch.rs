//! Batched mode end to end: many tests per process, every test still gets its own true result,
//! a crash inside a batch is pinned on the test that was running, and `--compare-modes`.

mod common;

use common::*;

/// With `--batch` the outcomes fixture gives every test the same outcome as one process per
/// test; crashes and exits in the middle of a chunk fall on the right test, and the tests after
/// them still run (alone). The isolation pair is left out: in one process, one of them fails on
/// purpose (see `batching_shares_a_process`).
#[test]
fn batch_mode_keeps_every_outcome() {
    let run = run_fixture(
        "outcomes",
        &[
            "--batch",
            "-n2",
            "--skip",
            "isolation",
            "--message-format",
            "json",
        ],
    );
    let mut expected = expected_outcomes();
    expected.retain(|(_, name), _| !name.contains("isolation"));
    run.assert_code(100);
    let events = run.events();
    let finals = final_events(&events);
    let got: std::collections::BTreeMap<TestKey, String> = finals
        .iter()
        .map(|(key, event)| (key.clone(), label_of(event)))
        .collect();
    assert_eq!(got, expected, "{}", run.context());

    let started = events_of(&events, "run-started");
    assert_eq!(
        started[0]["mode"], "mixed",
        "custom harnesses run whole, the rest batched"
    );
    let crashed = &finals[&key("outcomes", "aborts")];
    assert_eq!(crashed["signal"], "SIGABRT");
    let exited = &finals[&key("outcomes", "exits_3")];
    assert_eq!(exited["exit_code"], 3);
    // A failure carries its output, whether libtest captured it in the batch or the test
    // ran alone after a crash earlier in its chunk: the panic message is in it.
    let failed = &finals[&key("outcomes", "prints_then_fails")];
    let output = format!("{}{}", failed["stdout"], failed["stderr"]);
    assert!(output.contains("boom"), "{failed}");
    let (passed, failed, skipped) = counts(&expected);
    let summary = events_of(&events, "run-finished");
    assert_eq!(summary[0]["passed"], passed);
    assert_eq!(summary[0]["failed"], failed);
    assert_eq!(summary[0]["skipped"], skipped);
}

/// The proof that a batch really shares one process: the isolation pair, which passes one
/// process per test, has exactly one failure when both run in one batch.
#[test]
fn batching_shares_a_process() {
    let args = [
        "--exact",
        "isolation_first",
        "isolation_second",
        "-n1",
        "--message-format",
        "json",
    ];
    let alone = run_fixture("outcomes", &args);
    alone.assert_code(0);

    let mut batched_args = args.to_vec();
    batched_args.push("--batch");
    let batched = run_fixture("outcomes", &batched_args);
    batched.assert_code(100);
    let statuses = finished(&batched.events());
    let failures = statuses.values().filter(|s| *s == "failed").count();
    assert_eq!((statuses.len(), failures), (2, 1), "{}", batched.context());
}

/// The human report says which mode ran, and `--compare-modes` prints both runs side by side.
#[test]
fn compare_modes_prints_both_runs() {
    let run = run_fixture("ordering", &["--compare-modes", "-n2"]);
    run.assert_code(0);
    let lines = run.stdout_lines();
    for prefix in [
        "process run: Running 4 tests from 2 binaries with 2 workers (one process per test)",
        "batch run: Running 4 tests from 2 binaries with 2 workers (batched",
        "process vs batch:",
        "Run (batch mode):",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(prefix)),
            "no line starting {prefix:?}{}",
            run.context()
        );
    }
    assert_eq!(run.last_stdout_line(), summary_line(4, 0, 0));
}

/// `[[batch]]` in the config file batches the matching binaries only.
#[test]
fn config_file_batches_chosen_binaries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = dir.path().join("ordering");
    copy_dir(&fixture_dir("ordering"), &fixture);
    std::fs::create_dir_all(fixture.join(".config")).unwrap();
    std::fs::write(
        fixture.join(".config/runner.toml"),
        "[[batch]]\nfilter = \"binary_id(ordering::second)\"\n",
    )
    .unwrap();
    let manifest = fixture.join("Cargo.toml");
    let mut args = cargo_args(&manifest);
    args.extend(["--message-format".into(), "json".into()]);
    let run = run_with(args, |_| {});
    run.assert_code(0);
    let events = run.events();
    assert_eq!(events_of(&events, "run-started")[0]["mode"], "mixed");
    assert_eq!(final_events(&events).len(), 4);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if entry.file_name() == "target" {
            continue;
        }
        let dest = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// A chunk of one test would only add a log file and its reading to the test's process: the
/// test runs as process mode runs it (no chunk, not batched), with the same outcome and output.
#[test]
fn a_chunk_of_one_test_runs_alone() {
    for (name, status) in [("prints_then_fails", "failed"), ("aborts", "crashed")] {
        let args = [
            "--batch",
            "--exact",
            name,
            "-n2",
            "--message-format",
            "json",
        ];
        let run = run_fixture("outcomes", &args);
        run.assert_code(100);
        let events = run.events();
        let finals = final_events(&events);
        assert_eq!(finals.len(), 1, "{}", run.context());
        let result = &finals[&key("outcomes", name)];
        assert_eq!(result["status"], status, "{}", run.context());
        assert_eq!(result["batched"], false, "{result}");
        assert!(result.get("chunk").is_none(), "{result}");
    }
}
