//! Shards that agree and prove it: `time:` shards run one after another in one checkout, or on
//! "machines" with different histories given one `--timings` file, cover their selection
//! exactly once; `runner timings export` writes that file; `junit-merge` rejects a missing shard
//! and shards of different selections, naming the tests.
//!
//! The `time:` tests use crates of their own (their history is theirs alone); the merge tests
//! run the shared `outcomes` fixture. No assertion depends on wall-clock time: durations only
//! decide which shard a test lands in, and every check is of coverage.

mod common;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// Twelve tests sleeping 5 to 60 ms, all different, so that a `time:` partition depends on
/// the durations it reads.
fn sleepy_crate() -> tempfile::TempDir {
    let mut lib = String::from(
        "#[cfg(test)]\nfn nap(ms: u64) {\n    std::thread::sleep(std::time::Duration::from_millis(ms));\n}\n",
    );
    for i in 0..12u64 {
        let ms = 5 + (i * 23) % 56;
        lib += &format!("\n#[test]\nfn t{i:02}_sleeps_{ms}ms() {{\n    nap({ms});\n}}\n");
    }
    temp_crate("sleepy", &lib)
}

/// `args` then `--manifest-path dir/Cargo.toml --target-dir dir/target`.
fn in_crate(dir: &Path, args: &[&str]) -> Vec<OsString> {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    all.extend([
        "--manifest-path".into(),
        dir.join("Cargo.toml").into(),
        "--target-dir".into(),
        dir.join("target").into(),
    ]);
    all
}

/// The tests of a `--message-format json` run with their final events, and its run-started
/// event's partition fingerprint.
fn shard_run(dir: &Path, args: &[&str]) -> (Vec<TestKey>, Value) {
    let run = run_with(in_crate(dir, args), |_| {});
    run.assert_code(0);
    let events = run.events();
    let started = events_of(&events, "run-started")[0].clone();
    let keys = final_events(&events).into_keys().collect();
    (keys, started["partition"].clone())
}

/// The tests `runner list --format json` printed.
fn listed(run: &Run) -> Vec<TestKey> {
    run.assert_code(0);
    let value: Value = serde_json::from_str(run.stdout.trim()).expect("list JSON");
    let mut keys = Vec::new();
    for binary in value["binaries"].as_array().expect("binaries") {
        let id = binary["binary_id"].as_str().expect("binary_id");
        for test in binary["tests"].as_array().expect("tests") {
            keys.push(key(id, test["name"].as_str().expect("name")));
        }
    }
    keys
}

#[test]
fn time_shards_run_one_after_another_in_one_checkout_cover_the_selection_once() {
    let krate = sleepy_crate();
    let dir = krate.path();
    // A run that is not partitioned writes the history and the snapshot the shards read.
    let (all, _) = shard_run(dir, &["-n4", "--message-format", "json"]);
    assert_eq!(all.len(), 12);
    let mut shards = Vec::new();
    let mut fingerprints = BTreeSet::new();
    for k in 1..=3 {
        let spec = format!("time:{k}/3");
        let args = ["-n4", "--message-format", "json", "--partition", &spec];
        let (keys, partition) = shard_run(dir, &args);
        assert_eq!(partition["index"], k, "{partition}");
        assert_eq!(partition["tests"], 12, "{partition}");
        assert!(partition["timings"].is_string(), "{partition}");
        fingerprints.insert(
            partition["fingerprint"]
                .as_str()
                .expect("fingerprint")
                .to_string(),
        );
        shards.push(keys);
    }
    let all: BTreeSet<TestKey> = all.into_iter().collect();
    assert_exact_cover(&all, &shards, "time shards run one after another");
    assert_eq!(fingerprints.len(), 1, "{fingerprints:?}");
    // Each shard's run added to the history, and no shard changed the snapshot.
    let history = std::fs::read_to_string(dir.join("target/runner/history.json")).unwrap();
    assert!(history.contains("\"runs\":4"), "{history}");
}

/// A history file as another machine's runs would have left it: these durations, in seconds.
fn write_machine_state(dir: &Path, tests: &[TestKey], seconds: impl Fn(usize) -> f64) {
    let mut binaries = serde_json::Map::new();
    let mut timings = serde_json::Map::new();
    for (i, (binary, name)) in tests.iter().enumerate() {
        let record =
            serde_json::json!({ "durations": [seconds(i)], "failed": false, "last_run": 1 });
        let entry = binaries
            .entry(binary.clone())
            .or_insert_with(|| serde_json::json!({}));
        entry[name] = record;
        let ms = (seconds(i) * 1000.0).round() as u64;
        let entry = timings
            .entry(binary.clone())
            .or_insert_with(|| serde_json::json!({}));
        entry[name] = ms.into();
    }
    let state = dir.join("target/runner");
    let history = serde_json::json!({ "version": 2, "runs": 1, "binaries": binaries });
    std::fs::write(state.join("history.json"), history.to_string()).unwrap();
    let snapshot = serde_json::json!({ "format": "runner-timings", "version": 1, "unit": "ms", "tests": timings });
    std::fs::write(state.join("timings.json"), snapshot.to_string()).unwrap();
}

#[test]
fn shards_given_one_timings_file_cover_the_selection_whatever_their_histories() {
    let krate = sleepy_crate();
    let dir = krate.path();
    let (all, _) = shard_run(dir, &["-n4", "--message-format", "json"]);
    let timings = dir.join("ci-timings.json");
    let target = dir.join("target");
    let export = run([
        "timings".as_ref(),
        "export".as_ref(),
        timings.as_os_str(),
        "--target-dir".as_ref(),
        target.as_os_str(),
    ]);
    export.assert_code(0);
    let text = std::fs::read_to_string(&timings).expect("timings file");
    assert!(text.contains("\"format\": \"runner-timings\""), "{text}");
    let names: Vec<&str> = all.iter().map(|(_, name)| name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    let positions: Vec<usize> = sorted.iter().map(|n| text.find(*n).expect(n)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "not sorted: {text}"
    );

    // Three machines, three histories: each lists its shard with the one timings file.
    let mut shards = Vec::new();
    for k in 1..=3usize {
        write_machine_state(dir, &all, |i| ((i * 7 + k * 13) % 17 + 1) as f64 / 10.0);
        let spec = format!("time:{k}/3");
        let timings = timings.to_str().unwrap();
        let args = [
            "list",
            "--format",
            "json",
            "--partition",
            &spec,
            "--timings",
            timings,
        ];
        shards.push(listed(&run_with(in_crate(dir, &args), |_| {})));
    }
    let all: BTreeSet<TestKey> = all.into_iter().collect();
    assert_exact_cover(&all, &shards, "time shards with one --timings file");
}

#[test]
fn timings_with_a_scheme_that_reads_none_is_one_usage_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let timings = dir.path().join("t.json");
    std::fs::write(
        &timings,
        r#"{"format":"runner-timings","version":1,"unit":"ms","tests":{}}"#,
    )
    .unwrap();
    let run = run_fixture(
        "outcomes",
        &[
            "list",
            "--partition",
            "hash:1/2",
            "--timings",
            timings.to_str().unwrap(),
        ],
    );
    run.assert_code(2);
    assert_eq!(run.stderr_lines().len(), 1, "{}", run.context());
    assert!(run.stderr.contains("time:1/2"), "{}", run.context());
    let missing = dir.path().join("missing.json");
    let args = [
        "list",
        "--partition",
        "time:1/2",
        "--timings",
        missing.to_str().unwrap(),
    ];
    let run = run_fixture("outcomes", &args);
    run.assert_code(2);
    assert_eq!(run.stderr_lines().len(), 1, "{}", run.context());
    let advice = format!(
        "; write one with `runner timings export {}`",
        missing.display()
    );
    assert!(
        run.stderr.trim_end().ends_with(&advice),
        "{}",
        run.context()
    );
}

/// The JUnit reports of `count:K/3` shards of the outcomes fixture, `extra` added to shard 2's
/// arguments; returns the paths by K.
fn junit_shards(dir: &Path, extra: &[&str]) -> Vec<PathBuf> {
    (1..=3)
        .map(|k| {
            let path = dir.join(format!("shard{k}{}.xml", extra.len()));
            let spec = format!("count:{k}/3");
            let mut args = vec![
                "-n2",
                "-q",
                "--partition",
                &spec,
                "--junit",
                path.to_str().unwrap(),
            ];
            if k == 2 {
                args.extend_from_slice(extra);
            }
            let run = run_fixture("outcomes", &args);
            assert!([0, 100].contains(&run.code), "{}", run.context());
            path
        })
        .collect()
}

fn merge(output: &Path, inputs: &[&PathBuf]) -> Run {
    let mut args: Vec<OsString> = vec!["junit-merge".into(), output.into()];
    args.extend(inputs.iter().map(|p| p.as_os_str().to_owned()));
    run_with(args, |_| {})
}

#[test]
fn junit_merge_rejects_a_missing_shard_naming_its_tests() {
    let dir = tempfile::tempdir().unwrap();
    let shards = junit_shards(dir.path(), &[]);
    let merged = dir.path().join("merged.xml");
    merge(&merged, &[&shards[0], &shards[1], &shards[2]]).assert_code(0);

    let run = merge(&merged, &[&shards[0], &shards[2]]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("shard 2/3 missing"),
        "{}",
        run.context()
    );
    let second = listed(&run_fixture(
        "outcomes",
        &["list", "--format", "json", "--partition", "count:2/3"],
    ));
    assert!(!second.is_empty());
    for (binary, name) in &second {
        let line = format!("with no result: {binary} {name}");
        assert!(
            run.stderr.contains(&line),
            "{line} not named{}",
            run.context()
        );
    }
    assert!(merged.is_file(), "the merged report is still written");
}

#[test]
fn junit_merge_rejects_shards_of_different_selections_naming_the_tests() {
    let dir = tempfile::tempdir().unwrap();
    let shards = junit_shards(dir.path(), &[]);
    // Shard 2 of a run whose selection skipped the `fails` tests.
    let other = junit_shards(dir.path(), &["--skip", "fails"]);
    let merged = dir.path().join("merged.xml");
    let run = merge(&merged, &[&shards[0], &other[1], &shards[2]]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("different partitions"),
        "{}",
        run.context()
    );
    let skipped: Vec<TestKey> = expected_outcomes()
        .into_keys()
        .filter(|(_, name)| name.contains("fails"))
        .collect();
    assert!(!skipped.is_empty());
    for (binary, name) in &skipped {
        let line = format!("selected in some shards only: {binary} {name}");
        assert!(
            run.stderr.contains(&line),
            "{line} not named{}",
            run.context()
        );
    }
}
