//! `-n auto` sized from the CPU times in the history, `runner predict`, and the CPU time each
//! test's JSON event carries, on the `auto_predict` fixture.
//!
//! What `-n auto` and `predict` decide comes from a history written here before each run, so
//! nothing depends on how fast the machine is. The runner is pinned to one CPU (its affinity,
//! which `auto` respects), so that "more workers than cores" means the same on any machine.
//! The fixture builds once into a target directory of this file's own, whose history the tests
//! take turns to write and read.

mod common;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use common::*;
use serde_json::{json, Value};

const BINARY: &str = "auto_predict";
const WAITING_TESTS: usize = 12;

/// This file's target directory; holding the guard, a test owns its history.
fn target() -> (MutexGuard<'static, ()>, PathBuf) {
    static TURN: Mutex<()> = Mutex::new(());
    let guard = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("auto-predict");
    (guard, dir)
}

fn history_path(target: &std::path::Path) -> PathBuf {
    target.join("runner").join("history.json")
}

/// A history in which the first `with_history` waiting tests each took 1 s, `cpu_share` of it
/// on CPU, measured with a core each (or none at all for `None`).
fn write_history(target: &std::path::Path, with_history: usize, cpu_share: f64) {
    let tests: serde_json::Map<String, Value> = (0..with_history)
        .map(|i| {
            let record = json!({
                "durations": [1.0],
                "cpu": [[1.0, cpu_share]],
                "failed": false,
                "last_run": 1
            });
            (format!("waits_{i:02}"), record)
        })
        .collect();
    let history = json!({ "version": 2, "runs": 1, "binaries": { BINARY: tests } });
    let path = history_path(target);
    std::fs::create_dir_all(path.parent().unwrap()).expect("mkdir runner");
    std::fs::write(&path, history.to_string()).expect("write history");
}

/// Make the command's process run on one CPU only: the first this process may use.
fn pin_to_one_cpu(command: &mut Command) {
    use nix::libc;
    // SAFETY: cpu_set_t is plain data, all zeroes an empty set; the calls only read and write
    // the sets given.
    let one = unsafe {
        let mut mine: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        assert_eq!(libc::sched_getaffinity(0, size, &mut mine), 0);
        let first = (0..libc::CPU_SETSIZE as usize)
            .find(|&cpu| libc::CPU_ISSET(cpu, &mine))
            .expect("a CPU to run on");
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(first, &mut one);
        one
    };
    // SAFETY: between fork and exec the child only calls sched_setaffinity, which is
    // async-signal-safe, on a set it owns.
    unsafe {
        command.pre_exec(move || {
            let size = std::mem::size_of::<libc::cpu_set_t>();
            match libc::sched_setaffinity(0, size, &one) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
}

/// `runner ARGS --manifest-path <fixture> --target-dir <target>` on one CPU.
fn runner(target: &std::path::Path, args: &[&str]) -> Run {
    let mut all: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    all.extend([
        "--manifest-path".into(),
        fixture_manifest("auto_predict").into(),
        "--target-dir".into(),
        target.into(),
    ]);
    run_with(all, pin_to_one_cpu)
}

/// A JSON run of the waiting tests under `-n auto`: its run-started event and human header.
fn auto_run(target: &std::path::Path) -> (Value, String) {
    let run = runner(
        target,
        &["-n", "auto", "--message-format", "json", "waits_"],
    );
    run.assert_code(0);
    let events = run.events();
    assert_eq!(finished(&events).len(), WAITING_TESTS, "{}", run.context());
    let started = events_of(&events, "run-started");
    assert_eq!(started.len(), 1, "{}", run.context());
    // In JSON mode the human report goes to stderr.
    let header = run
        .stderr_lines()
        .into_iter()
        .find(|line| line.starts_with("Running "))
        .unwrap_or_else(|| panic!("no header line{}", run.context()))
        .to_string();
    (started[0].clone(), header)
}

#[test]
fn auto_runs_more_workers_than_cores_for_tests_that_wait_and_says_why() {
    let (_turn, target) = target();
    write_history(&target, WAITING_TESTS, 0.02);
    let (started, header) = auto_run(&target);
    assert_eq!(started["auto"]["cores"], 1, "{started}");
    // round(1 core / 2% CPU) = 50, at most 4 per core.
    assert_eq!(started["workers"], 4, "{started}");
    let fraction = started["auto"]["cpu_fraction"]
        .as_f64()
        .expect("a CPU fraction");
    assert!((fraction - 0.02).abs() < 1e-9, "{started}");
    assert_eq!(started["auto"]["limit"], "per-core", "{started}");
    assert_eq!(
        header,
        "Running 12 tests from 1 binary with 4 workers (one process per test; auto: tests \
         spent 2% of their time on CPU; at most 4 per CPU)"
    );
}

#[test]
fn auto_runs_one_worker_per_core_for_tests_that_compute() {
    let (_turn, target) = target();
    write_history(&target, WAITING_TESTS, 0.95);
    let (started, header) = auto_run(&target);
    assert_eq!(started["workers"], 1, "{started}");
    assert_eq!(started["auto"]["cores"], 1, "{started}");
    assert!(started["auto"].get("limit").is_none(), "{started}");
    assert_eq!(
        header,
        "Running 12 tests from 1 binary with 1 worker (one process per test; auto: tests \
         spent 95% of their time on CPU)"
    );
}

#[test]
fn auto_without_history_runs_one_worker_per_core_and_a_count_says_nothing_more() {
    let (_turn, target) = target();
    let _ = std::fs::remove_file(history_path(&target));
    let (started, header) = auto_run(&target);
    assert_eq!(started["workers"], 1, "{started}");
    assert_eq!(started["auto"]["cpu_fraction"], Value::Null, "{started}");
    assert!(
        header.ends_with(
            "(one process per test; auto: one worker per CPU, no CPU times in the history yet)"
        ),
        "{header}"
    );
    // A count given with -n is not explained.
    let run = runner(&target, &["-n3", "--message-format", "json", "waits_"]);
    run.assert_code(0);
    let started = events_of(&run.events(), "run-started")[0].clone();
    assert_eq!(started["workers"], 3, "{started}");
    assert!(started.get("auto").is_none(), "{started}");
}

#[test]
fn predict_prints_a_row_per_worker_count_and_counts_tests_without_history() {
    let (_turn, target) = target();
    // Nine of the twelve waiting tests have history: 1 s each, 2% on CPU.
    write_history(&target, 9, 0.02);
    let run = runner(&target, &["predict", "waits_"]);
    run.assert_code(0);
    let lines = run.stdout_lines();
    let header = "workers | predicted wall | speedup vs 1 worker";
    let at = lines
        .iter()
        .position(|l| *l == header)
        .unwrap_or_else(|| panic!("no table{}", run.context()));
    let rows: Vec<(usize, f64)> = lines[at + 1..]
        .iter()
        .take_while(|line| !line.is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let secs = cells[1].trim_end_matches(" s").parse().expect("seconds");
            (cells[0].parse().expect("workers"), secs)
        })
        .collect();
    // One CPU: 1, 2 and 4 (= 4 x 1) workers. The three tests without history count as the
    // mean of the others (1 s), so one worker takes about 12 s and four about 3 s.
    let workers: Vec<usize> = rows.iter().map(|(n, _)| *n).collect();
    assert_eq!(workers, [1, 2, 4], "{}", run.context());
    assert!((12.0..12.1).contains(&rows[0].1), "{}", run.context());
    assert!((3.0..3.1).contains(&rows[2].1), "{}", run.context());
    assert!(
        run.stdout
            .contains("note: 3 of 12 selected tests have no history"),
        "{}",
        run.context()
    );
    assert!(
        run.stdout
            .contains("-n auto would run 4 workers (tests spent 2% of their time on CPU"),
        "{}",
        run.context()
    );
    // The same as JSON, with -n 3 asked for as well; predicting runs nothing.
    let run = runner(&target, &["predict", "--format", "json", "-n3", "waits_"]);
    run.assert_code(0);
    let json: Value = serde_json::from_str(&run.stdout).expect("one JSON object");
    assert_eq!(json["without_history"], 3, "{json}");
    let workers: Vec<u64> = json["predictions"]
        .as_array()
        .expect("predictions")
        .iter()
        .map(|row| row["workers"].as_u64().expect("workers"))
        .collect();
    assert_eq!(workers, [1, 2, 3, 4], "{json}");
    let history: Value =
        serde_json::from_str(&std::fs::read_to_string(history_path(&target)).unwrap()).unwrap();
    assert_eq!(history["runs"], 1, "predict ran nothing: {history}");
}

#[test]
fn json_events_carry_each_tests_cpu_time_but_not_in_a_batch() {
    let (_turn, target) = target();
    let run = runner(&target, &["-n1", "--message-format", "json"]);
    run.assert_code(0);
    let events = run.events();
    let finished = events_of(&events, "test-finished");
    assert_eq!(finished.len(), WAITING_TESTS + 1, "{}", run.context());
    let cpu = |event: &Value| {
        event["cpu"]
            .as_f64()
            .unwrap_or_else(|| panic!("no cpu in {event}"))
    };
    let burner = finished
        .iter()
        .find(|e| e["name"] == "burns_cpu")
        .expect("burns_cpu finished");
    // It computed until the kernel counted 100 ms (to the tick).
    assert!(cpu(burner) >= 0.09, "{burner}");
    for event in &finished {
        assert!(cpu(event) >= 0.0, "{event}");
        if event["name"] != "burns_cpu" {
            assert!(cpu(event) < cpu(burner), "{event}");
        }
    }

    // Batched, a process's CPU time is its whole chunk's: no test gets one. A test that the
    // history cuts off into a chunk of its own runs alone, as in process mode, with its own.
    let run = runner(&target, &["-n1", "--batch", "--message-format", "json"]);
    run.assert_code(0);
    let events = run.events();
    let finished = events_of(&events, "test-finished");
    assert_eq!(finished.len(), WAITING_TESTS + 1, "{}", run.context());
    let in_chunk = |e: &&&Value| e["batched"] == true && e.get("chunk").is_some();
    assert!(
        finished.iter().all(|e| match in_chunk(&e) {
            true => e.get("cpu").is_none(),
            false => e["batched"] == false && e.get("chunk").is_none() && cpu(e) >= 0.0,
        }),
        "{}",
        run.context()
    );
    assert!(
        finished.iter().filter(in_chunk).count() > WAITING_TESTS / 2,
        "{}",
        run.context()
    );
}
