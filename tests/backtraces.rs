//! Panic backtraces left out where nobody reads them: a test that passed with a panic last
//! time runs with `RUST_BACKTRACE=0` (the user's value in `RUST_LIB_BACKTRACE`), and gets its
//! backtraces back once it fails, or with `--keep-backtraces`.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// Each test prints the two variables as it sees them; `expected_panic` panics as its
/// `should_panic` expects, unless a file `fail-now` is in its directory.
const LIB: &str = r#"
fn report() {
    eprintln!(
        "seen: RUST_BACKTRACE={:?} RUST_LIB_BACKTRACE={:?}",
        std::env::var("RUST_BACKTRACE").ok(),
        std::env::var("RUST_LIB_BACKTRACE").ok()
    );
}

#[test]
#[should_panic(expected = "boom")]
fn expected_panic() {
    report();
    if std::path::Path::new("fail-now").exists() {
        panic!("a different message");
    }
    panic!("boom");
}

#[test]
fn plain() {
    report();
}
"#;

/// `runner ARGS` on the crate in `dir`, with `RUST_BACKTRACE=1` as a user would have it.
fn run_in(dir: &Path, args: &[&str]) -> Run {
    let manifest = dir.join("Cargo.toml");
    let mut all = vec!["--manifest-path", manifest.to_str().unwrap()];
    all.extend(args);
    run_with(all, |command| {
        command.env("RUST_BACKTRACE", "1");
    })
}

/// The run's report shows `text`.
fn assert_shows(run: &Run, text: &str) {
    assert!(run.stdout.contains(text), "{}", run.context());
}

/// The stderr each test's final event carries, by test name.
fn stderr_by_test(run: &Run) -> Vec<(String, String, bool)> {
    let events = run.events();
    let mut seen: Vec<(String, String, bool)> = events_of(&events, "test-finished")
        .iter()
        .map(|event| {
            let name = event["name"].as_str().unwrap_or_default().to_string();
            let stderr = event["stderr"].as_str().unwrap_or_default().to_string();
            let quieted = event.get("backtrace_quieted") == Some(&Value::Bool(true));
            (name, stderr, quieted)
        })
        .collect();
    seen.sort();
    seen
}

#[test]
fn a_test_that_passed_with_a_panic_runs_without_its_backtrace_until_it_fails() {
    let dir = temp_crate("quiet_panics", LIB);
    let json = ["--message-format", "json"];

    // No history yet: both get the user's setting, and the panic prints its backtrace.
    let first = run_in(dir.path(), &json);
    first.assert_code(0);
    let seen = stderr_by_test(&first);
    assert_eq!(seen.len(), 2, "{}", first.context());
    for (name, stderr, quieted) in &seen {
        assert!(stderr.contains(r#"RUST_BACKTRACE=Some("1") RUST_LIB_BACKTRACE=None"#));
        assert!(!quieted, "{name}{}", first.context());
    }
    assert!(
        seen[0].1.contains("stack backtrace:"),
        "{}",
        first.context()
    );

    // It passed with a panic: now only its backtrace is left out, and only for it.
    let second = run_in(dir.path(), &json);
    second.assert_code(0);
    let seen = stderr_by_test(&second);
    let (name, stderr, quieted) = &seen[0];
    assert_eq!(name, "expected_panic");
    assert!(
        stderr.contains(r#"RUST_BACKTRACE=Some("0") RUST_LIB_BACKTRACE=Some("1")"#),
        "{}",
        second.context()
    );
    assert!(!stderr.contains("stack backtrace:") && *quieted);
    assert!(seen[1].1.contains(r#"RUST_BACKTRACE=Some("1")"#) && !seen[1].2);

    // --keep-backtraces: everything as the user set it.
    let kept = run_in(
        dir.path(),
        &["--keep-backtraces", "--message-format", "json"],
    );
    kept.assert_code(0);
    let seen = stderr_by_test(&kept);
    assert!(seen[0].1.contains("stack backtrace:"), "{}", kept.context());
    assert!(!seen[0].2);

    // It fails now: the failure says why it has no backtrace...
    std::fs::write(dir.path().join("fail-now"), "").unwrap();
    let failing = run_in(dir.path(), &[]);
    failing.assert_code(100);
    assert_shows(&failing, "a different message");
    assert!(!failing.stdout.contains("stack backtrace:"));
    assert_shows(&failing, "note: this test passed with a panic last time");
    // ...and the next run, of a test that failed last time, has it.
    let again = run_in(dir.path(), &[]);
    again.assert_code(100);
    assert_shows(&again, "stack backtrace:");
    assert!(!again.stdout.contains("note: this test passed with a panic"));
}

#[test]
fn a_batch_with_a_test_that_passed_with_a_panic_runs_quiet() {
    let dir = temp_crate("quiet_batches", LIB);
    // Process mode sees the passing test's output and records its panic.
    run_in(dir.path(), &[]).assert_code(0);
    std::fs::write(dir.path().join("fail-now"), "").unwrap();
    let batched = run_in(dir.path(), &["--batch", "-n1"]);
    batched.assert_code(100);
    assert_shows(&batched, "batched");
    assert!(
        batched
            .stdout
            .contains(r#"RUST_BACKTRACE=Some("0") RUST_LIB_BACKTRACE=Some("1")"#),
        "{}",
        batched.context()
    );
    assert!(batched
        .stdout
        .contains("note: this test passed with a panic last time"));
}
