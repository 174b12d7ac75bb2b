//! Cost of drawing a large run: the HTML timeline and the Chrome trace of a synthetic run of
//! 20 000 tests, drawn by `runner timeline` from its JSON event stream.
//!
//! ```sh
//! cargo bench --bench timeline -- [--tests N] [--runs K]
//! ```
//!
//! The stream is made up (seeded, so every run draws the same one) the way the runner writes
//! it: 8 workers, tests of 1-40 ms back to back, one in a hundred failing and retried (half
//! of them flaky), a quarter of the binaries batched. The time is the whole `runner timeline`
//! process, reading and parsing the stream included, so it bounds what `--timeline` adds at
//! the end of a run (which has the events in memory already). Medians of K runs.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: cargo bench --bench timeline -- [--tests N] [--runs K]";

fn main() {
    let (tests, runs) = options();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, stream(tests, 8)).expect("write the stream");
    let html = dir.path().join("timeline.html");
    let trace = dir.path().join("trace.json");
    let html_only = time(runs, &events, &["-o".as_ref(), html.as_os_str()]);
    let trace_only = time(
        runs,
        &events,
        &["--chrome-trace".as_ref(), trace.as_os_str()],
    );
    let size = |path: &Path| std::fs::metadata(path).expect("a file").len() as f64 / 1e6;
    println!(
        "{tests} tests, 8 workers: event stream {:.1} MB",
        size(&events)
    );
    println!(
        "runner timeline -o:             {:.3} s (median of {runs}), HTML {:.1} MB",
        html_only.as_secs_f64(),
        size(&html)
    );
    println!(
        "runner timeline --chrome-trace: {:.3} s (median of {runs}), trace {:.1} MB",
        trace_only.as_secs_f64(),
        size(&trace)
    );
}

fn options() -> (usize, usize) {
    let mut tests = 20_000;
    let mut runs = 5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> usize {
            let text = args
                .next()
                .unwrap_or_else(|| panic!("{name} needs a value\n{USAGE}"));
            text.parse()
                .unwrap_or_else(|_| panic!("{name}: not a number\n{USAGE}"))
        };
        match arg.as_str() {
            "--tests" => tests = value("--tests"),
            "--runs" => runs = value("--runs").max(1),
            // `cargo bench` passes `--bench` to every bench target.
            "--bench" => {}
            other => panic!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    (tests, runs)
}

/// The median wall time of `runner timeline EVENTS ARGS`, run `runs` times.
fn time(runs: usize, events: &Path, args: &[&std::ffi::OsStr]) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let status = Command::new(env!("CARGO_BIN_EXE_runner"))
                .arg("timeline")
                .arg(events)
                .args(args)
                .status()
                .expect("run runner timeline");
            assert!(status.success(), "runner timeline failed: {status}");
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// A run of `tests` tests on `workers` workers, as `--message-format json` writes it.
fn stream(tests: usize, workers: usize) -> String {
    let mut rng = fastrand::Rng::with_seed(12);
    let mut out = String::with_capacity(tests * 700);
    let _ = writeln!(
        out,
        r#"{{"type":"run-started","format_version":1,"tests":{tests},"binaries":8,"workers":{workers},"mode":"mixed"}}"#
    );
    let mut free_at = vec![0u64; workers];
    let (mut summed, mut failed, mut flaky) = (0u64, 0usize, 0usize);
    for test in 0..tests {
        let worker = (0..workers).min_by_key(|&w| free_at[w]).expect("a worker");
        let binary = test % 8;
        let fails = rng.u32(0..100) == 0;
        // Binaries 0 and 1 run batched, 50 tests a chunk, back to back; with retries, a test
        // that fails runs alone.
        let chunk = (binary < 2 && !fails).then_some(test / 400);
        let gap = if chunk.is_some() { 0 } else { 150 };
        let start = free_at[worker] + gap;
        let name = format!("module_{}::case_{test:05}_checks_something", test % 97);
        let id = format!(r#""binary_id":"crate_{binary}::tests","name":"{name}""#);
        let place = |start: u64| match chunk {
            Some(c) => format!(r#""worker":{worker},"start":{},"chunk":{c}"#, secs(start)),
            None => format!(r#""worker":{worker},"start":{}"#, secs(start)),
        };
        let _ = writeln!(out, r#"{{"type":"test-started",{id},{}}}"#, place(start));
        let duration = rng.u64(1_000..40_000);
        let stdout = format!(
            r#"\nrunning 1 test\ntest {name} ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\n"#
        );
        let mut end = start + duration;
        let mut failed_attempts = String::new();
        let mut attempt = 1;
        if fails {
            let again = end + 200;
            let _ = write!(
                failed_attempts,
                r#","failed_attempts":[{{"attempt":1,"status":"failed","exit_code":101,"duration":{},"stdout":"{stdout}","stderr":"thread panicked","worker":{worker},"start":{}}}]"#,
                secs(duration),
                secs(start)
            );
            attempt = 2;
            end = again + duration;
        }
        let status = if fails && rng.bool() {
            failed += 1;
            r#""status":"failed","exit_code":101"#
        } else {
            flaky += usize::from(fails);
            r#""status":"passed""#
        };
        let last_start = end - duration;
        let place = place(last_start);
        let _ = writeln!(
            out,
            r#"{{"type":"test-finished",{id},{status},"duration":{},"stdout":"{stdout}","stderr":"","leaked":false,"attempt":{attempt}{failed_attempts},"batched":{},"is_failure":false,{place}}}"#,
            secs(duration),
            chunk.is_some()
        );
        summed += end - start;
        free_at[worker] = end;
    }
    let wall = free_at.iter().max().copied().unwrap_or(0);
    let _ = writeln!(
        out,
        r#"{{"type":"run-finished","passed":{},"failed":{failed},"skipped":0,"flaky":{flaky},"cancelled":0,"workers":{workers},"usable_workers":{workers},"wall":{},"summed":{},"longest":null,"runner_cpu":1.0,"peak_rss_kib":12000}}"#,
        tests - failed,
        secs(wall),
        secs(summed)
    );
    out
}

/// Microseconds as the stream writes durations: seconds.
fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}
