//! Pictures of a run (issue 12), end to end: `--timeline` and `--chrome-trace` checked against
//! the run's own JSON events, batched chunks, a comparison's two passes on one axis with the
//! tests that are not isolated marked, an interrupted run, `runner timeline` on a saved stream,
//! and the page rendered by headless Chromium when it is installed.
//!
//! Every attempt the events report (`test-finished` and its `failed_attempts`, each with its
//! `worker` and `start`) must be exactly one bar: same pass, lane, start and duration, its `x`
//! and `width` the axis's origin and scale applied to them, and no two bars of a lane
//! overlapping. Nothing here judges speed; waits synchronise on files.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use regex::Regex;
use serde_json::Value;

/// One attempt as the events report it: (pass, binary, name, attempt, worker, start µs,
/// duration µs).
type Attempt = (usize, String, String, u64, u64, u64, u64);

fn micros(seconds: &Value) -> u64 {
    (seconds.as_f64().expect("seconds") * 1e6).round() as u64
}

/// Every placed attempt of every pass, from the JSON events.
fn attempts(events: &[Value]) -> Vec<Attempt> {
    let mut pass = 0;
    let mut found = Vec::new();
    for event in events {
        match event_type(event) {
            "run-started" => pass += 1,
            "test-finished" => {
                let (binary, name) = key_of(event);
                let earlier = event["failed_attempts"].as_array().cloned();
                for attempt in earlier.unwrap_or_default().iter().chain([event]) {
                    found.push((
                        pass - 1,
                        binary.clone(),
                        name.clone(),
                        attempt["attempt"].as_u64().expect("attempt"),
                        attempt["worker"]
                            .as_u64()
                            .expect("a worker on every attempt"),
                        micros(&attempt["start"]),
                        micros(&attempt["duration"]),
                    ));
                }
            }
            _ => {}
        }
    }
    found.sort();
    found
}

/// A bar as drawn: its classes, geometry and index into the page's table.
#[derive(Debug)]
struct Rect {
    classes: Vec<String>,
    x: f64,
    y: f64,
    width: f64,
    index: usize,
}

/// What a timeline page holds.
struct Page {
    html: String,
    rects: Vec<Rect>,
    /// `(x, y, width)` of each batch chunk's outline.
    chunks: Vec<(f64, f64, f64)>,
    data: Value,
}

impl Page {
    fn read(path: &Path) -> Page {
        let html = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("no timeline at {}: {e}", path.display()));
        let number = |s: &str| s.parse::<f64>().expect("a number");
        let bar = Regex::new(
            r#"<rect class="([^"]*)" x="([^"]*)" y="([^"]*)" width="([^"]*)" height="[^"]*" data-i="(\d+)"/>"#,
        )
        .unwrap();
        let rects = bar
            .captures_iter(&html)
            .map(|c| Rect {
                classes: c[1].split(' ').map(String::from).collect(),
                x: number(&c[2]),
                y: number(&c[3]),
                width: number(&c[4]),
                index: c[5].parse().unwrap(),
            })
            .collect();
        let chunk =
            Regex::new(r#"<rect class="chunk" x="([^"]*)" y="([^"]*)" width="([^"]*)""#).unwrap();
        let chunks = chunk
            .captures_iter(&html)
            .map(|c| (number(&c[1]), number(&c[2]), number(&c[3])))
            .collect();
        let script = Regex::new(r#"(?s)<script type="application/json" id="data">(.*?)</script>"#);
        let blob = script.unwrap().captures(&html).expect("the data table")[1].to_string();
        let data = serde_json::from_str(&blob).expect("the data table is JSON");
        Page {
            html,
            rects,
            chunks,
            data,
        }
    }

    /// The table row of each bar, as an attempt.
    fn attempts(&self) -> Vec<Attempt> {
        let tests = self.data["tests"].as_array().expect("tests");
        let binaries = self.data["binaries"].as_array().expect("binaries");
        let mut found: Vec<Attempt> = self.data["bars"]
            .as_array()
            .expect("bars")
            .iter()
            .map(|bar| {
                let test = &tests[bar[0].as_u64().unwrap() as usize];
                let binary = binaries[test[0].as_u64().unwrap() as usize]
                    .as_str()
                    .unwrap();
                (
                    bar[1].as_u64().unwrap() as usize,
                    binary.to_string(),
                    test[1].as_str().unwrap().to_string(),
                    bar[2].as_u64().unwrap(),
                    bar[3].as_u64().unwrap(),
                    bar[4].as_u64().unwrap(),
                    bar[5].as_u64().unwrap(),
                )
            })
            .collect();
        found.sort();
        found
    }

    /// Each bar's geometry is its row's start and duration on the page's scale.
    fn assert_geometry(&self) {
        let px_per_s = self.data["pxPerS"].as_f64().unwrap();
        let x0 = self.data["x0"].as_f64().unwrap();
        let bars = self.data["bars"].as_array().unwrap();
        assert_eq!(self.rects.len(), bars.len(), "one rect per table row");
        for rect in &self.rects {
            let row = &bars[rect.index];
            let start = row[4].as_f64().unwrap() / 1e6;
            let duration = row[5].as_f64().unwrap() / 1e6;
            assert!(
                (rect.x - (x0 + start * px_per_s)).abs() < 0.002,
                "{rect:?} {row}"
            );
            assert!(
                (rect.width - duration * px_per_s).abs() < 0.002,
                "{rect:?} {row}"
            );
        }
    }

    /// The bars of one lane follow each other: one attempt at a time per worker slot.
    fn assert_no_overlap(&self) {
        let mut lanes: BTreeMap<(u64, u64), Vec<(u64, u64)>> = BTreeMap::new();
        for bar in self.data["bars"].as_array().unwrap() {
            let lane = (bar[1].as_u64().unwrap(), bar[3].as_u64().unwrap());
            let (start, duration) = (bar[4].as_u64().unwrap(), bar[5].as_u64().unwrap());
            lanes
                .entry(lane)
                .or_default()
                .push((start, start + duration));
        }
        for (lane, mut spans) in lanes {
            spans.sort();
            for pair in spans.windows(2) {
                // Starts and durations are rounded to microseconds, each by half of one.
                assert!(
                    pair[1].0 + 1 >= pair[0].1,
                    "overlap in lane {lane:?}: {pair:?}"
                );
            }
        }
    }

    /// Every outcome has its colour in the legend, the colour its bars are filled with.
    fn assert_legend(&self) {
        let fills: BTreeMap<String, String> =
            Regex::new(r"#plot \.([a-z]+) \{ fill: (#[0-9a-f]{6}); \}")
                .unwrap()
                .captures_iter(&self.html)
                .map(|c| (c[1].to_string(), c[2].to_string()))
                .collect();
        let legend: BTreeMap<String, String> = Regex::new(
            r#"data-class="([a-z]+)"[^>]*><span class="sw" style="background:(#[0-9a-f]{6})""#,
        )
        .unwrap()
        .captures_iter(&self.html)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect();
        let outcomes = [
            "pass",
            "flaky",
            "leaky",
            "fail",
            "crash",
            "exit",
            "timeout",
            "error",
            "cancelled",
            "unfinished",
        ];
        for outcome in outcomes {
            assert!(
                legend.contains_key(outcome),
                "{outcome} is not in the legend"
            );
            assert_eq!(
                fills.get(outcome),
                legend.get(outcome),
                "{outcome}'s colour"
            );
        }
        for rect in &self.rects {
            assert!(legend.contains_key(&rect.classes[0]), "{rect:?}");
        }
    }

    /// Nothing is loaded from anywhere.
    fn assert_self_contained(&self) {
        for external in [
            "http://", "https://", " src=", " href=", "url(", "@import", "<link",
        ] {
            assert!(!self.html.contains(external), "the page holds {external:?}");
        }
    }

    fn classes_of(&self, name: &str) -> Vec<&Vec<String>> {
        let tests = self.data["tests"].as_array().unwrap();
        let bars = self.data["bars"].as_array().unwrap();
        self.rects
            .iter()
            .filter(|r| tests[bars[r.index][0].as_u64().unwrap() as usize][1] == name)
            .map(|r| &r.classes)
            .collect()
    }
}

/// The workers of each pass, from its `run-started`.
fn workers(events: &[Value]) -> Vec<u64> {
    events_of(events, "run-started")
        .iter()
        .map(|e| e["workers"].as_u64().unwrap())
        .collect()
}

/// The trace's test events as attempts, checked for shape on the way; and the threads of each
/// process.
fn trace(path: &Path) -> (Vec<Attempt>, BTreeMap<u64, BTreeSet<u64>>) {
    let text = std::fs::read_to_string(path).expect("the Chrome trace");
    let trace: Value = serde_json::from_str(&text).expect("the trace is JSON");
    let mut attempts = Vec::new();
    let mut threads: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for event in trace["traceEvents"].as_array().expect("traceEvents") {
        let (pid, tid) = (
            event["pid"].as_u64().unwrap(),
            event["tid"].as_u64().unwrap(),
        );
        if event["ph"] == "M" {
            continue;
        }
        assert_eq!(event["ph"], "X", "{event}");
        threads.entry(pid).or_default().insert(tid);
        if event["cat"] == "test" {
            attempts.push((
                pid as usize - 1,
                event["args"]["binary"].as_str().unwrap().to_string(),
                event["name"].as_str().unwrap().to_string(),
                event["args"]["attempt"].as_u64().unwrap(),
                tid - 1,
                event["ts"].as_u64().unwrap(),
                event["dur"].as_u64().unwrap(),
            ));
        }
    }
    attempts.sort();
    (attempts, threads)
}

fn pictures(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("timeline.html"), dir.join("trace.json"))
}

fn run_with_pictures(fixture: &str, dir: &Path, args: &[&str]) -> Run {
    let (html, trace) = pictures(dir);
    let mut all: Vec<&str> = args.to_vec();
    let (html, trace) = (html.to_str().unwrap(), trace.to_str().unwrap());
    all.extend([
        "--message-format",
        "json",
        "--timeline",
        html,
        "--chrome-trace",
        trace,
    ]);
    run_fixture(fixture, &all)
}

#[test]
fn every_attempt_is_one_bar_and_one_trace_event_where_and_when_it_ran() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_with_pictures("outcomes", dir.path(), &["-n3", "--retries", "1"]);
    run.assert_code(100);
    let events = run.events();
    let expected = attempts(&events);
    assert!(
        expected.iter().any(|a| a.3 == 2),
        "retries make second attempts"
    );
    for started in events_of(&events, "test-started") {
        let placed = started["worker"].is_u64() && started["start"].is_f64();
        assert!(placed, "a start without its worker and time: {started}");
    }
    for retry in events_of(&events, "test-retry") {
        assert!(
            retry["worker"].is_u64() && retry["start"].is_f64(),
            "{retry}"
        );
    }
    let page = Page::read(&pictures(dir.path()).0);
    assert_eq!(page.attempts(), expected, "{}", run.context());
    page.assert_geometry();
    page.assert_no_overlap();
    page.assert_legend();
    page.assert_self_contained();
    let workers = workers(&events);
    assert!(
        expected.iter().all(|a| a.4 < workers[0]),
        "a lane per worker"
    );
    for class in ["pass", "fail", "crash", "exit"] {
        assert!(
            page.rects.iter().any(|r| r.classes[0] == class),
            "no {class} bar"
        );
    }
    let (traced, threads) = trace(&pictures(dir.path()).1);
    assert_eq!(traced, expected);
    assert!(threads[&1].len() as u64 <= workers[0], "{threads:?}");
}

#[test]
fn batched_tests_are_drawn_inside_their_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--batch", "-n2", "--skip", "isolation"];
    let run = run_with_pictures("outcomes", dir.path(), &args);
    run.assert_code(100);
    let events = run.events();
    let page = Page::read(&pictures(dir.path()).0);
    assert_eq!(page.attempts(), attempts(&events), "{}", run.context());
    page.assert_geometry();
    page.assert_no_overlap();
    let bars = page.data["bars"].as_array().unwrap();
    let in_chunks: Vec<&Rect> = page
        .rects
        .iter()
        .filter(|r| !bars[r.index][6].is_null())
        .collect();
    assert!(in_chunks.len() > 2, "{}", run.context());
    for rect in in_chunks {
        let inside = page.chunks.iter().any(|&(x, y, width)| {
            rect.y > y
                && rect.y < y + 4.0
                && rect.x >= x - 0.002
                && rect.x + rect.width <= x + width + 0.002
        });
        assert!(inside, "{rect:?} is in no chunk outline: {:?}", page.chunks);
    }
}

#[test]
fn a_comparison_shares_one_axis_and_marks_the_tests_that_are_not_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let (html, trace_path) = pictures(dir.path());
    let rendezvous = tempfile::tempdir().unwrap();
    let args = [
        "--compare",
        "-n2",
        "--order",
        "name",
        "--message-format",
        "json",
        "--timeline",
        html.to_str().unwrap(),
        "--chrome-trace",
        trace_path.to_str().unwrap(),
    ];
    let run = run_fixture_with("rendezvous", &args, |command| {
        command
            .env("RENDEZVOUS_DIR", rendezvous.path())
            .env("RENDEZVOUS_TIMEOUT_MS", "500");
    });
    run.assert_code(100);
    let events = run.events();
    let page = Page::read(&html);
    assert_eq!(page.attempts(), attempts(&events), "{}", run.context());
    page.assert_no_overlap();
    assert_eq!(
        page.data["passes"],
        serde_json::json!(["pass 1: serial", "pass 2: parallel"])
    );
    // Both passes start at the axis's origin.
    let x0 = page.data["x0"].as_f64().unwrap();
    for pass in [0, 1] {
        let first = page
            .rects
            .iter()
            .filter(|r| page.data["bars"][r.index][1] == pass)
            .map(|r| r.x)
            .fold(f64::MAX, f64::min);
        let slack = 0.05 * page.data["pxPerS"].as_f64().unwrap();
        assert!(
            first >= x0 && first < x0 + slack,
            "pass {pass} starts at {first}"
        );
    }
    for classes in page.classes_of("meet_a") {
        assert!(
            classes.contains(&"ni".to_string()),
            "meet_a is not marked: {classes:?}"
        );
    }
    for classes in page.classes_of("meet_b") {
        assert!(!classes.contains(&"ni".to_string()), "{classes:?}");
    }
    assert!(page
        .html
        .contains("not isolated: rendezvous meet_a: passed in parallel, failed alone (serial)"));
    let workers = workers(&events);
    let (traced, threads) = trace(&trace_path);
    assert_eq!(traced, attempts(&events));
    assert_eq!(threads.keys().copied().collect::<Vec<_>>(), [1, 2]);
    for (pid, tids) in threads {
        assert!(
            tids.len() as u64 <= workers[pid as usize - 1],
            "{pid}: {tids:?}"
        );
    }
}

#[test]
fn runner_timeline_draws_a_saved_stream_as_the_run_drew_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_with_pictures("ordering", dir.path(), &["-n2"]);
    run.assert_code(0);
    // As kept in a CI log: other lines around the events, a timestamp before each.
    let saved = dir.path().join("events.log");
    let mut log = String::from("   Compiling ordering v0.1.0\n");
    for line in run.stdout.lines() {
        log += &format!("2026-01-01T00:00:00.000Z {line}\n");
    }
    std::fs::write(&saved, log).unwrap();
    let (html, trace_path) = (dir.path().join("again.html"), dir.path().join("again.json"));
    let args: Vec<OsString> = vec![
        "timeline".into(),
        saved.clone().into(),
        "-o".into(),
        html.clone().into(),
        "--chrome-trace".into(),
        trace_path.clone().into(),
    ];
    let again = common::run(&args);
    again.assert_code(0);
    assert!(again.stderr.contains("1 line(s)"), "{}", again.context());
    let live = Page::read(&pictures(dir.path()).0);
    let redrawn = Page::read(&html);
    assert_eq!(redrawn.attempts(), live.attempts());
    assert_eq!(redrawn.rects.len(), live.rects.len());
    redrawn.assert_geometry();
    assert_eq!(trace(&trace_path).0, trace(&pictures(dir.path()).1).0);

    // Nothing to draw, or nothing to write: one line each, with the documented exit codes.
    let missing = common::run(["timeline", "/nonexistent/events.jsonl", "-o", "x.html"]);
    missing.assert_code(1);
    assert_eq!(missing.stderr_lines().len(), 1, "{}", missing.context());
    let no_output = common::run(["timeline", saved.to_str().unwrap()]);
    no_output.assert_code(2);
}

#[test]
fn an_interrupted_run_still_writes_its_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let faults = tempfile::tempdir().unwrap();
    let html = dir.path().join("timeline.html");
    let mut args: Vec<OsString> = ["-n2", "--exact", "waits_for_signal", "passes_quickly"]
        .iter()
        .map(OsString::from)
        .collect();
    args.extend([
        "--message-format".into(),
        "json".into(),
        "--timeline".into(),
        html.clone().into(),
    ]);
    args.extend(cargo_args(&fixture_manifest("faults")));
    let mut command = runner_command();
    command
        .args(&args)
        .env("FAULTS_DIR", faults.path())
        .stdin(Stdio::null());
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().expect("start the runner");
    // Interrupt once the test that waits for it has started.
    let deadline = Instant::now() + Duration::from_secs(120);
    let started = || {
        std::fs::read_dir(faults.path())
            .map(|entries| {
                entries.flatten().any(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("started-waits_for_signal-")
                })
            })
            .unwrap_or(false)
    };
    while !started() {
        assert!(
            Instant::now() < deadline,
            "waits_for_signal never started (hang guard)"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("interrupt the runner");
    let output = child.wait_with_output().expect("the runner's exit");
    assert_eq!(output.status.code(), Some(130));
    let page = Page::read(&html);
    let cancelled = page.classes_of("waits_for_signal");
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0][0], "cancelled");
    page.assert_geometry();
}

/// `chromium` (or `chromium-browser`) on PATH, if any.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| [dir.join("chromium"), dir.join("chromium-browser")])
        .find(|candidate| candidate.is_file())
}

/// Run headless Chromium on `page` with `args`; its stdout.
fn headless(browser: &Path, page: &Path, args: &[&str]) -> Vec<u8> {
    let profile = tempfile::tempdir().unwrap();
    let mut command = Command::new(browser);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]);
    command.arg(format!("--user-data-dir={}", profile.path().display()));
    command.args(args).arg(format!("file://{}", page.display()));
    command
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .stdout(Stdio::piped());
    let output = command.output().expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed: {:?}",
        output.status
    );
    output.stdout
}

#[test]
fn headless_chromium_renders_the_timeline() {
    let Some(browser) = chromium() else {
        eprintln!(
            "note: chromium is not on PATH; the rendering check is skipped (.ci/run installs it)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = run_with_pictures("ordering", dir.path(), &["--compare", "-n2"]);
    run.assert_code(0);
    let html = pictures(dir.path()).0;
    // The script ran to its end, zoomed in and with a bar's details pinned as the address
    // asks: it marks the page ready with the number of bars.
    let page = Page::read(&html);
    let linked = PathBuf::from(format!("{}#zoom=4&bar=1", html.display()));
    let dom = String::from_utf8_lossy(&headless(&browser, &linked, &["--dump-dom"])).into_owned();
    let bars = page.rects.len();
    assert!(
        dom.contains(&format!("data-ready=\"{bars}\"")),
        "the page's script did not finish"
    );
    let width = Regex::new(r#"<svg id="plot" width="([0-9.]+)""#).unwrap();
    let width = |html: &str| -> f64 { width.captures(html).expect("the plot")[1].parse().unwrap() };
    let x0 = page.data["x0"].as_f64().unwrap();
    let zoomed = x0 + (width(&page.html) - x0) * 4.0;
    assert!(
        (width(&dom) - zoomed).abs() < 1.0,
        "not zoomed: {}",
        width(&dom)
    );
    assert!(dom.contains("class=\"pinned\""), "no details pinned");
    let png = dir.path().join("timeline.png");
    let shot = format!("--screenshot={}", png.display());
    headless(&browser, &html, &[&shot, "--window-size=1400,900"]);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut pixels).expect("its pixels");
    let channels = info.color_type.samples();
    let pixels = &pixels[..info.buffer_size()];
    let white = pixels
        .chunks(channels)
        .filter(|p| p[..3] == [255, 255, 255])
        .count();
    let total = pixels.len() / channels;
    assert!(white < total * 99 / 100, "the screenshot is blank");
    // The passing tests' green is on screen: bars were painted.
    let green = pixels
        .chunks(channels)
        .filter(|p| p[0].abs_diff(0x3a) < 6 && p[1].abs_diff(0x9e) < 6 && p[2].abs_diff(0x4f) < 6)
        .count();
    assert!(
        green > 100,
        "no passing bar on screen ({green} green pixels)"
    );
}
