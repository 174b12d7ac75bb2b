//! Hostile output: listings of megabytes, tests that print libtest's own status lines, and
//! tests that flood stdout. Every test must still get exactly one true result, and the runner's
//! own CPU and memory must stay bounded, in one process per test and in batched mode.
//!
//! Batched runs use the fixture's binary through `--binary`, where no timing history exists, so
//! every run cuts the same chunks (one, at `-n1`, for a handful of tests).

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// The unit-test binary of `tests/fixtures/hostile_output` (built by `runner list`).
fn hostile_binary() -> PathBuf {
    let run = run_fixture("hostile_output", &["list", "--format", "json"]);
    run.assert_code(0);
    let listing: Value = serde_json::from_str(&run.stdout).expect("list JSON");
    let path = listing["binaries"][0]["path"]
        .as_str()
        .unwrap_or_else(|| panic!("no path{}", run.context()));
    path.into()
}

/// Run `runner --binary BINARY ARGS... --message-format json` in a scratch directory, which is
/// also its temp dir (batch logs, spilled output).
fn run_binary(binary: &Path, args: &[&str]) -> (Run, tempfile::TempDir) {
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut all = vec![OsString::from("--binary"), binary.into()];
    all.extend(args.iter().map(OsString::from));
    all.extend(["--message-format".into(), "json".into()]);
    let run = run_with(all, |c| {
        c.current_dir(scratch.path()).env("TMPDIR", scratch.path());
    });
    (run, scratch)
}

/// A fake libtest binary that lists what `listing` (a shell command) prints and runs any
/// batch of those tests the way libtest does (one thread, `--logfile`), every test passing.
fn fake_libtest(dir: &Path, listing: &str) -> PathBuf {
    let script = format!(
        "#!/bin/sh\n\
         case \"$*\" in\n\
           '--list --format terse --ignored') exit 0 ;;\n\
           '--list --format terse') {listing}; exit 0 ;;\n\
         esac\n\
         if [ \"$1 $2 $3\" = '--exact --test-threads=1 --logfile' ]; then\n\
           exec 3>\"$4\"; shift 4\n\
           printf '\\nrunning %d tests\\n' $#\n\
           for name in \"$@\"; do\n\
             printf 'test %s ... ' \"$name\"; printf 'ok %s\\n' \"$name\" >&3; printf 'ok\\n'\n\
           done\n\
           exit 0\n\
         fi\n\
         echo \"unexpected arguments: $*\" >&2; exit 2\n"
    );
    write_script(dir, "fake-libtest", &script)
}

/// Every test of a run that passed, batched, each with exactly one final event.
fn passed_in_batches(run: &Run) -> Vec<String> {
    let events = run.events();
    let finals = final_events(&events);
    for (key, event) in &finals {
        assert_eq!(event["status"], "passed", "{key:?}: {event}");
        assert_eq!(event["batched"], true, "{key:?}: {event}");
    }
    finals.into_keys().map(|(_, name)| name).collect()
}

/// 70 000 tests, a 4.5 MB listing: every test is listed (none run whole), and every test runs.
#[test]
fn a_listing_of_megabytes_lists_and_runs_every_test() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let name = "some_module::inner_module::a_test_with_a_long_name_%06g";
    let fake = fake_libtest(scratch.path(), &format!("seq -f '{name}: test' 1 70000"));
    let list_args = [
        OsString::from("list"),
        "--binary".into(),
        fake.clone().into(),
        "--format".into(),
        "json".into(),
    ];
    let list = run_with(list_args, |c| {
        c.current_dir(scratch.path()).env("TMPDIR", scratch.path());
    });
    list.assert_code(0);
    let listing: Value = serde_json::from_str(&list.stdout).expect("list JSON");
    let tests = listing["binaries"][0]["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 70_000, "{}", list.context());
    assert!(tests.iter().all(|t| t["whole_binary"] == false));
    assert_eq!(
        tests[69_999]["name"],
        "some_module::inner_module::a_test_with_a_long_name_070000"
    );

    let (run, _dir) = run_binary(&fake, &["--batch"]);
    run.assert_code(0);
    let names = passed_in_batches(&run);
    assert_eq!(names.len(), 70_000, "{}", run.context());
}

/// 1 300 tests with 2 000-byte names (a 2.6 MB listing): all listed and all run, in batches
/// whose command lines stay within the kernel's limit.
#[test]
fn long_test_names_are_listed_and_run() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let listing = "awk 'BEGIN { pad = sprintf(\"%1990s\", \"\"); gsub(/ /, \"x\", pad); \
                   for (i = 1; i <= 1300; i++) printf \"t%04d_%s: test\\n\", i, pad }'";
    let fake = fake_libtest(scratch.path(), listing);
    let (run, _dir) = run_binary(&fake, &["--batch", "-n2"]);
    run.assert_code(0);
    let names = passed_in_batches(&run);
    assert_eq!(names.len(), 1300, "{}", run.context());
    assert!(names.iter().all(|name| name.len() == 1996), "{names:?}");
}

/// Tests that print libtest's status lines (`test other ... FAILED`, `... ok`, a start line,
/// a `failures:` section), themselves or through a child process, change no result: every test
/// gets exactly one final event with its true outcome, from the batch, in every output.
#[test]
fn forged_status_lines_change_no_result() {
    let binary = hostile_binary();
    let (run, scratch) = run_binary(
        &binary,
        &["--batch", "-n1", "--skip", "flood", "--skip", "lost_output"],
    );
    run.assert_code(100);
    let events = run.events();
    let got: BTreeMap<String, String> = final_events(&events)
        .into_iter()
        .map(|((_, name), event)| {
            assert_eq!(event["batched"], true, "{event}");
            (name, label_of(event))
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        ("a_forges_results", "PASS"),
        ("b_fails", "FAIL"),
        ("c_passes", "PASS"),
        ("d_passes", "PASS"),
        ("e_fails", "FAIL"),
        ("f_passes_last", "PASS"),
    ]
    .into_iter()
    .map(|(name, label)| (name.to_string(), label.to_string()))
    .collect();
    assert_eq!(got, expected, "{}", run.context());
    let finals = final_events(&events);
    let output_of = |name: &str| finals[&key(&file_name(&binary), name)]["stdout"].to_string();
    assert!(output_of("b_fails").contains("b_fails fails on purpose"));
    assert!(output_of("e_fails").contains("e_fails captured output"));
    assert_eq!(events_of(&events, "run-finished")[0]["failed"], 2);

    // The JUnit report has each test once too.
    let junit = scratch.path().join("junit.xml");
    let mut args = vec!["--batch", "-n1", "--skip", "flood", "--skip", "lost_output"];
    args.extend(["--junit", junit.to_str().expect("utf-8 path")]);
    let (again, _dir) = run_binary(&binary, &args);
    again.assert_code(100);
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert_eq!(xml.matches("<testcase").count(), 6, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
}

/// A test that failed in a batch whose process then crashed: libtest never printed its
/// output, so it runs again alone and its failure comes with its output.
#[test]
fn a_failure_before_a_crash_keeps_its_output() {
    let binary = hostile_binary();
    let args = [
        "--batch",
        "-n1",
        "--exact",
        "lost_output_fails",
        "lost_output_then_aborts",
    ];
    let (run, _dir) = run_binary(&binary, &args);
    run.assert_code(100);
    let events = run.events();
    let finals = final_events(&events);
    let id = file_name(&binary);
    let failed = finals[&key(&id, "lost_output_fails")];
    assert_eq!(failed["status"], "failed", "{failed}");
    let output = format!("{}{}", failed["stdout"], failed["stderr"]);
    assert!(
        output.contains("lost_output_fails fails on purpose"),
        "{failed}"
    );
    let crashed = finals[&key(&id, "lost_output_then_aborts")];
    assert_eq!(crashed["signal"], "SIGABRT", "{crashed}");
    assert_eq!(crashed["batched"], true, "{crashed}");
}

/// A harness that accepts `--logfile` but writes no log, and whose batch dies in its second
/// test: without a log nothing is known of the chunk, so every test runs again alone and gets
/// its true result (the crash goes to the test that crashes, not to the first one).
#[test]
fn a_harness_without_the_log_still_gets_true_results() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let fake = write_script(
        scratch.path(),
        "no-log",
        "#!/bin/sh\n\
         case \"$*\" in\n\
           '--list --format terse --ignored') exit 0 ;;\n\
           '--list --format terse') printf 'a: test\\nb: test\\nc: test\\n'; exit 0 ;;\n\
         esac\n\
         run() { if [ \"$1\" = b ]; then ulimit -c 0; kill -SEGV $$; fi; }\n\
         if [ \"$1 $2\" = '--exact --test-threads=1' ]; then\n\
           shift 2; [ \"$1\" = --logfile ] && shift 2\n\
           for name in \"$@\"; do printf 'test %s ... ' \"$name\"; run \"$name\"; echo ok; done\n\
           exit 0\n\
         fi\n\
         printf '\\nrunning 1 test\\ntest %s ... ' \"$2\"; run \"$2\"; echo ok\n",
    );
    let (run, _dir) = run_binary(&fake, &["--batch", "-n1"]);
    run.assert_code(100);
    let events = run.events();
    let got: BTreeMap<String, String> = final_events(&events)
        .into_iter()
        .map(|((_, name), event)| (name, label_of(event)))
        .collect();
    let want: BTreeMap<String, String> = [("a", "PASS"), ("b", "CRASH"), ("c", "PASS")]
        .into_iter()
        .map(|(name, label)| (name.to_string(), label.to_string()))
        .collect();
    assert_eq!(got, want, "{}", run.context());
}

/// The runner's own cost of one run, from its `run-finished` event: (CPU seconds, peak MiB).
fn runner_cost(run: &Run) -> (f64, f64) {
    let events = run.events();
    let finished = events_of(&events, "run-finished")[0];
    let cpu = finished["runner_cpu"].as_f64().expect("runner_cpu");
    let rss = finished["peak_rss_kib"].as_f64().expect("peak_rss_kib") / 1024.0;
    (cpu, rss)
}

/// Resource bounds, not timings: far above what the runner needs (about 0.1 s and 20 MiB in
/// a debug build), far below what reading output line by line in memory cost (minutes of CPU,
/// hundreds of MiB).
const MAX_RUNNER_CPU_SECS: f64 = 5.0;
const MAX_RUNNER_MIB: f64 = 100.0;

/// 50 MB on stdout without a newline, in a batch: bounded CPU and memory, and a true result.
/// (`d_passes` is there so that the chunk holds two tests: a chunk of one runs alone.)
#[test]
fn a_flood_without_newline_costs_the_batch_reader_little() {
    let binary = hostile_binary();
    let args = ["--batch", "--exact", "flood_without_newline", "d_passes"];
    let (run, _dir) = run_binary(&binary, &args);
    run.assert_code(0);
    assert_eq!(
        passed_in_batches(&run),
        ["d_passes", "flood_without_newline"]
    );
    let (cpu, mib) = runner_cost(&run);
    assert!(
        cpu < MAX_RUNNER_CPU_SECS,
        "runner CPU {cpu} s{}",
        run.context()
    );
    assert!(
        mib < MAX_RUNNER_MIB,
        "runner peak memory {mib} MiB{}",
        run.context()
    );
}

/// A batched test that prints 100 MB (captured by libtest) and fails: its output is kept
/// within bounds like process mode's (head, tail, a note on what was left out and where the
/// whole stream went), and the runner's CPU and memory stay bounded. (`d_passes` is there so
/// that the chunk holds two tests: a chunk of one runs alone.)
#[test]
fn a_failing_flood_is_bounded_in_a_batch() {
    let binary = hostile_binary();
    let args = ["--batch", "--exact", "flood_then_fail", "d_passes"];
    let (run, _dir) = run_binary(&binary, &args);
    run.assert_code(100);
    let line = run
        .stdout
        .lines()
        .find(|line| line.contains("\"test-finished\"") && line.contains("flood_then_fail"))
        .unwrap_or_else(|| panic!("no test-finished event{}", run.context()));
    assert!(
        line.len() < 4 << 20,
        "a test-finished event of {} bytes",
        line.len()
    );
    let event: Value = serde_json::from_str(line).expect("JSON event");
    assert_eq!(event["status"], "failed");
    assert_eq!(event["batched"], true);
    let stdout = event["stdout"].as_str().expect("stdout");
    assert!(stdout.starts_with("yyyy"), "{}", &stdout[..200]);
    assert!(stdout.contains("bytes omitted; full output in "), "no note");
    assert!(
        stdout.contains("flood_then_fail fails on purpose"),
        "the panic is in the tail"
    );
    let (cpu, mib) = runner_cost(&run);
    assert!(
        cpu < MAX_RUNNER_CPU_SECS,
        "runner CPU {cpu} s{}",
        run.context()
    );
    assert!(
        mib < MAX_RUNNER_MIB,
        "runner peak memory {mib} MiB{}",
        run.context()
    );
}

/// The binary id `--binary` gives: the file name.
fn file_name(binary: &Path) -> String {
    binary
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}
