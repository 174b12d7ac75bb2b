//! Wall-clock benchmark: runner (one process per test, and `--batch`) against `cargo test` and
//! cargo-nextest on generated workspaces.
//!
//! ```sh
//! cargo bench --bench compare -- [--profile NAME]... [--jobs N]... [--runs K] [--seed S] [--keep DIR]
//! ```
//!
//! For each profile (see `workload.rs` and `benches/README.md`): generate a workspace, build it
//! once, measure every test with one serial runner run, then time the four tools (`cargo test`,
//! `cargo nextest`, `runner`, `runner --batch`) K times each, taking turns, and print medians,
//! ranges, ratios, and a Markdown table for the README.
//! Progress goes to stderr, results to stdout.

mod harness;
mod workload;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use harness::{timed, Machine};
use workload::{Kind, Profile, Workload};

const USAGE: &str = "\
usage: cargo bench --bench compare -- [--profile NAME]... [--jobs N]... [--runs K] [--seed S] [--keep DIR]

  --profile NAME  mixed, tiny, skewed or wide (repeatable; default: all four)
  --jobs N        worker counts to measure (repeatable; default: 2 and 8 for mixed, 2 otherwise)
  --runs K        timed runs per tool and worker count (default 3)
  --seed S        workload seed (default 1)
  --keep DIR      generate into DIR/<profile> and keep it (default: a temporary directory)";

const DEFAULT_RUNS: usize = 3;
const DEFAULT_SEED: u64 = 1;

#[derive(Debug)]
struct Options {
    /// As given; empty means the defaults.
    profiles: Vec<Profile>,
    /// As given; empty means each profile's defaults.
    jobs: Vec<usize>,
    runs: usize,
    seed: u64,
    keep: Option<PathBuf>,
}

impl Options {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Options> {
        let mut options = Options {
            profiles: Vec::new(),
            jobs: Vec::new(),
            runs: DEFAULT_RUNS,
            seed: DEFAULT_SEED,
            keep: None,
        };
        harness::parse_flags(args, USAGE, |flag| {
            match flag.name.as_str() {
                "--profile" => {
                    let name = flag.text()?;
                    let profile = Profile::parse(&name).with_context(|| {
                        format!("unknown profile {name:?} (mixed, tiny, skewed, wide)")
                    })?;
                    if !options.profiles.contains(&profile) {
                        options.profiles.push(profile);
                    }
                }
                "--jobs" | "-n" | "-j" => {
                    let n = flag.count()?;
                    if !options.jobs.contains(&n) {
                        options.jobs.push(n);
                    }
                }
                "--runs" => options.runs = flag.count()?,
                "--seed" => options.seed = flag.number()?,
                "--keep" => options.keep = Some(flag.path()?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(options)
    }

    /// Each profile to run, with its worker counts.
    fn plan(&self) -> Vec<(Profile, Vec<usize>)> {
        let profiles = if self.profiles.is_empty() {
            Profile::COMPARE.to_vec()
        } else {
            self.profiles.clone()
        };
        profiles
            .into_iter()
            .map(|profile| {
                let jobs = match (&self.jobs[..], profile) {
                    ([], Profile::Mixed) => vec![2, 8],
                    ([], _) => vec![2],
                    (given, _) => given.to_vec(),
                };
                (profile, jobs)
            })
            .collect()
    }

    /// The command line that reproduces this benchmark (without `--keep`).
    fn command_line(&self) -> String {
        let mut out = String::from("cargo bench --bench compare --");
        for profile in &self.profiles {
            let _ = write!(out, " --profile {}", profile.name());
        }
        for jobs in &self.jobs {
            let _ = write!(out, " --jobs {jobs}");
        }
        let _ = write!(out, " --runs {} --seed {}", self.runs, self.seed);
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    CargoTest,
    Nextest,
    Runner,
    /// The runner in batched mode: many tests of a binary per process.
    RunnerBatch,
}

const TOOLS: [Tool; 4] = [
    Tool::CargoTest,
    Tool::Nextest,
    Tool::Runner,
    Tool::RunnerBatch,
];

impl Tool {
    fn label(self) -> &'static str {
        match self {
            Tool::CargoTest => "cargo test",
            Tool::Nextest => "cargo nextest",
            Tool::Runner => "runner",
            Tool::RunnerBatch => "runner --batch",
        }
    }

    fn index(self) -> usize {
        match self {
            Tool::CargoTest => 0,
            Tool::Nextest => 1,
            Tool::Runner => 2,
            Tool::RunnerBatch => 3,
        }
    }
}

fn tools(machine: &Machine) -> Vec<Tool> {
    TOOLS
        .into_iter()
        .filter(|t| *t != Tool::Nextest || machine.nextest.is_ok())
        .collect()
}

/// A generated workspace on disk.
struct Space {
    manifest: PathBuf,
    target_dir: PathBuf,
}

impl Space {
    /// A command with an environment that does not leak this bench's cargo variables (or a
    /// user's RUNNER_*/NEXTEST_* settings) into the tools, and a target directory of its own.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        harness::clean_command(program, &self.target_dir)
    }

    fn tool(&self, machine: &Machine, tool: Tool, workers: usize) -> Command {
        let manifest = self.manifest.as_os_str();
        let n = workers.to_string();
        match tool {
            Tool::CargoTest => {
                let mut c = self.command(&machine.cargo);
                c.args(["test", "--manifest-path"]).arg(manifest);
                c.args(["-q", "--", "--test-threads", &n]);
                c
            }
            Tool::Nextest => {
                let mut c = self.command(&machine.cargo);
                c.args(["nextest", "run", "--manifest-path"]).arg(manifest);
                c.args(["-j", &n]);
                c
            }
            Tool::Runner => {
                let mut c = self.command(&machine.runner);
                c.args(["-n", &n, "--manifest-path"])
                    .arg(manifest)
                    .arg("-q");
                c
            }
            Tool::RunnerBatch => {
                let mut c = self.command(&machine.runner);
                c.args(["-n", &n, "--batch", "--manifest-path"])
                    .arg(manifest)
                    .arg("-q");
                c
            }
        }
    }

    /// The runner (`Tool::Runner` or `Tool::RunnerBatch`) with JSON events on stdout.
    fn runner_json(&self, machine: &Machine, tool: Tool, workers: usize) -> Command {
        debug_assert!(matches!(tool, Tool::Runner | Tool::RunnerBatch));
        let mut c = self.tool(machine, tool, workers);
        c.args(["--message-format", "json"]);
        c
    }
}

/// What one `runner --message-format json` run reported.
#[derive(Debug, Default)]
struct RunnerReport {
    /// (binary id, test name, duration in seconds) of every finished test.
    tests: Vec<(String, String, f64)>,
    failed: usize,
    /// The runner's own CPU seconds and peak RSS, when this build reports them.
    runner_cpu: Option<f64>,
    peak_rss_kib: Option<u64>,
    finished: bool,
}

impl RunnerReport {
    fn parse(stdout: &[u8]) -> Result<RunnerReport> {
        let mut report = RunnerReport::default();
        for line in String::from_utf8_lossy(stdout).lines() {
            let Ok(event) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            match event["type"].as_str() {
                Some("test-finished") => {
                    let text = |key: &str| event[key].as_str().unwrap_or("").to_string();
                    let duration = event["duration"].as_f64().unwrap_or(0.0);
                    report
                        .tests
                        .push((text("binary_id"), text("name"), duration));
                    if event["status"].as_str() != Some("passed") {
                        report.failed += 1;
                    }
                }
                Some("run-finished") => {
                    report.finished = true;
                    report.runner_cpu = event.get("runner_cpu").and_then(Value::as_f64);
                    report.peak_rss_kib = event.get("peak_rss_kib").and_then(Value::as_u64);
                }
                _ => {}
            }
        }
        ensure!(
            report.finished,
            "the runner's JSON has no run-finished event"
        );
        ensure!(
            report.failed == 0,
            "{} test(s) did not pass in the runner",
            report.failed
        );
        Ok(report)
    }
}

/// Per-test figures from the serial run.
#[derive(Debug, Clone)]
struct Serial {
    summed: f64,
    /// The part of `summed` spent in CPU-bound tests.
    cpu: f64,
    longest: f64,
    longest_name: String,
}

impl Serial {
    fn from_report(report: &RunnerReport, workload: &Workload) -> Serial {
        let kinds = workload.kinds();
        let mut serial = Serial {
            summed: 0.0,
            cpu: 0.0,
            longest: 0.0,
            longest_name: String::new(),
        };
        for (binary, name, duration) in &report.tests {
            serial.summed += duration;
            if Workload::kind_of(&kinds, name).is_some_and(Kind::is_cpu) {
                serial.cpu += duration;
            }
            if *duration > serial.longest {
                serial.longest = *duration;
                serial.longest_name = format!("{binary} {name}");
            }
        }
        serial
    }

    /// The wall time no scheduler can beat with `workers` workers on `cores` cores:
    /// max(longest, summed / workers, cpu / min(workers, cores)).
    fn ideal(&self, workers: usize, cores: usize) -> f64 {
        let spread = self.summed / workers as f64;
        let cpu = self.cpu / workers.min(cores).max(1) as f64;
        self.longest.max(spread).max(cpu)
    }
}

/// Timings of one profile at one worker count.
struct Row {
    profile: Profile,
    workers: usize,
    tests: usize,
    binaries: usize,
    serial: Serial,
    ideal: f64,
    /// Wall seconds per tool (indexed by `Tool::index`); empty when the tool was skipped.
    walls: [Vec<f64>; TOOLS.len()],
    runner_cpu: Option<f64>,
    peak_rss_kib: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(values: &[f64]) -> Option<Stats> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 0 {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    };
    Some(Stats {
        median,
        min: sorted[0],
        max: sorted[sorted.len() - 1],
    })
}

impl Row {
    fn median(&self, tool: Tool) -> Option<f64> {
        stats(&self.walls[tool.index()]).map(|s| s.median)
    }

    /// wall × workers / tests, in milliseconds: what starting one test costs.
    fn overhead_ms(&self, tool: Tool) -> Option<f64> {
        self.median(tool)
            .map(|wall| wall * self.workers as f64 / self.tests as f64 * 1000.0)
    }

    fn ratio(&self, a: Tool, b: Tool) -> Option<f64> {
        Some(self.median(a)? / self.median(b)?)
    }

    fn print(&self, machine: &Machine) {
        let s = &self.serial;
        println!(
            "\n{} -n{}: {} tests in {} binaries; serial run: summed {:.2} s (CPU-bound {:.2} s), \
             longest {:.2} s ({})",
            self.profile.name(),
            self.workers,
            self.tests,
            self.binaries,
            s.summed,
            s.cpu,
            s.longest,
            s.longest_name
        );
        println!(
            "  ideal {:.2} s = max(longest {:.2}, summed/{} {:.2}, CPU-bound/min({}, {} cores) {:.2})",
            self.ideal,
            s.longest,
            self.workers,
            s.summed / self.workers as f64,
            self.workers,
            machine.cores,
            s.cpu / self.workers.min(machine.cores) as f64
        );
        println!(
            "  {:<14} {:>9}  {:>17}  {:>7}",
            "tool", "median", "min - max", "/ideal"
        );
        for tool in TOOLS {
            match stats(&self.walls[tool.index()]) {
                Some(st) => println!(
                    "  {:<14} {:>7.2} s  {:>7.2} - {:>5.2} s  {:>6.2}x",
                    tool.label(),
                    st.median,
                    st.min,
                    st.max,
                    st.median / self.ideal
                ),
                None => println!("  {:<14} skipped", tool.label()),
            }
        }
        let ratio = |a: Tool, b: Tool| {
            self.ratio(a, b)
                .map_or("n/a".to_string(), |r| format!("{r:.2}x"))
        };
        println!(
            "  runner / cargo test: {}   runner / nextest: {}",
            ratio(Tool::Runner, Tool::CargoTest),
            ratio(Tool::Runner, Tool::Nextest)
        );
        println!(
            "  runner --batch / cargo test: {}   runner --batch / nextest: {}   \
             runner --batch / runner: {}",
            ratio(Tool::RunnerBatch, Tool::CargoTest),
            ratio(Tool::RunnerBatch, Tool::Nextest),
            ratio(Tool::RunnerBatch, Tool::Runner)
        );
        if self.profile == Profile::Tiny {
            let parts: Vec<String> = TOOLS
                .into_iter()
                .filter_map(|t| Some(format!("{} {:.2} ms", t.label(), self.overhead_ms(t)?)))
                .collect();
            println!(
                "  per-test overhead (wall x workers / tests): {}",
                parts.join(", ")
            );
        }
        match (self.runner_cpu, self.peak_rss_kib) {
            (None, None) => println!(
                "  runner itself: not reported (its run-finished event has no runner_cpu / \
                 peak_rss_kib)"
            ),
            (cpu, rss) => println!(
                "  runner itself (warm-up run): CPU {}, peak RSS {}",
                cpu.map_or("n/a".into(), |c| format!(
                    "{c:.2} s ({:.2} ms/test)",
                    c * 1000.0 / self.tests as f64
                )),
                rss.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
            ),
        }
    }
}

fn bench_profile(
    machine: &Machine,
    options: &Options,
    profile: Profile,
    jobs: &[usize],
) -> Result<Vec<Row>> {
    let workload = Workload::generate(profile, options.seed);
    let (_temp, dir) = match &options.keep {
        Some(keep) => (None, keep.join(profile.name())),
        None => {
            let temp = tempfile::Builder::new()
                .prefix(&format!("runner-bench-{}-", profile.name()))
                .tempdir()
                .context("creating a temporary directory")?;
            let dir = temp.path().to_path_buf();
            (Some(temp), dir)
        }
    };
    eprintln!(
        "\n== {} ({}): {} tests in {} binaries, nominal serial {:.1} s ({:.1} s CPU-bound), in {}",
        profile.name(),
        profile.describe(),
        workload.test_count(),
        workload.binary_count(),
        workload.nominal_serial_ms() as f64 / 1000.0,
        workload.nominal_cpu_ms() as f64 / 1000.0,
        dir.display()
    );
    let manifest = workload.write(&dir)?;
    let space = Space {
        manifest,
        target_dir: dir.join("target"),
    };

    let mut build = space.command(&machine.cargo);
    build
        .args(["test", "--no-run", "-q", "--manifest-path"])
        .arg(&space.manifest);
    let (secs, _) = timed(&mut build, "cargo test --no-run")?;
    eprintln!("built with `cargo test --no-run` in {secs:.1} s");
    if machine.nextest.is_ok() {
        let mut build = space.command(&machine.cargo);
        build
            .args(["nextest", "run", "--no-run", "--manifest-path"])
            .arg(&space.manifest);
        timed(&mut build, "cargo nextest run --no-run")?;
    }

    let (secs, output) = timed(
        &mut space.runner_json(machine, Tool::Runner, 1),
        "runner -n1 (serial)",
    )?;
    let report = RunnerReport::parse(&output.stdout)?;
    ensure!(
        report.tests.len() == workload.test_count(),
        "the serial run finished {} tests, the workload has {}",
        report.tests.len(),
        workload.test_count()
    );
    let serial = Serial::from_report(&report, &workload);
    eprintln!(
        "serial runner run: {secs:.1} s wall, summed {:.2} s, CPU-bound {:.2} s, longest {:.2} s",
        serial.summed, serial.cpu, serial.longest
    );

    let tools = tools(machine);
    let mut rows = Vec::new();
    for &workers in jobs {
        // Warm-up: leaves a timing history for -nN (the serial run already left one) and
        // reports the runner's own CPU and memory.
        let (secs, output) = timed(
            &mut space.runner_json(machine, Tool::Runner, workers),
            "runner warm-up",
        )?;
        let warm = RunnerReport::parse(&output.stdout)?;
        eprintln!("runner warm-up -n{workers}: {secs:.2} s");
        // The batched mode gets a warm-up of its own: the history sizes its chunks, and the
        // first batched run is not timed. Also checks that batching ran every test.
        let (secs, output) = timed(
            &mut space.runner_json(machine, Tool::RunnerBatch, workers),
            "runner --batch warm-up",
        )?;
        let warm_batch = RunnerReport::parse(&output.stdout)?;
        ensure!(
            warm_batch.tests.len() == workload.test_count(),
            "the runner --batch warm-up finished {} tests, the workload has {}",
            warm_batch.tests.len(),
            workload.test_count()
        );
        eprintln!("runner --batch warm-up -n{workers}: {secs:.2} s");

        let mut walls: [Vec<f64>; TOOLS.len()] = Default::default();
        for round in 0..options.runs {
            // Take turns, and rotate who goes first so no tool always follows the same one.
            for i in 0..tools.len() {
                let tool = tools[(round + i) % tools.len()];
                let what = format!("{} -n{workers}", tool.label());
                let (secs, _) = timed(&mut space.tool(machine, tool, workers), &what)?;
                eprintln!("  run {}/{}: {what}: {secs:.2} s", round + 1, options.runs);
                walls[tool.index()].push(secs);
            }
        }
        let row = Row {
            profile,
            workers,
            tests: workload.test_count(),
            binaries: workload.binary_count(),
            ideal: serial.ideal(workers, machine.cores),
            serial: serial.clone(),
            walls,
            runner_cpu: warm.runner_cpu,
            peak_rss_kib: warm.peak_rss_kib,
        };
        row.print(machine);
        rows.push(row);
    }
    Ok(rows)
}

fn secs_cell(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |v| format!("{v:.2} s"))
}

fn ratio_cell(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |v| format!("{v:.2}"))
}

fn markdown(machine: &Machine, options: &Options, rows: &[Row]) -> String {
    let mut out = String::new();
    let nextest = match &machine.nextest {
        Ok(version) => version.clone(),
        Err(_) => "cargo-nextest not installed".into(),
    };
    let _ = writeln!(
        out,
        "Median wall time of {} per tool ({} {}, {} cores, {}, {}; workload seed {}). \
         *ideal* = max(longest test, summed / workers, CPU-bound time / min(workers, cores)), \
         from a serial run. *batch* = `runner --batch`; ratios are of medians (below 1: the \
         first is faster).\n",
        if options.runs == 1 {
            "1 run".to_string()
        } else {
            format!("{} runs", options.runs)
        },
        std::env::consts::OS,
        std::env::consts::ARCH,
        machine.cores,
        machine.rustc,
        nextest,
        options.seed
    );
    out.push_str(
        "| profile | tests (binaries) | -n | ideal | cargo test | cargo nextest | runner \
         | runner --batch | runner / cargo test | runner / nextest | runner / ideal \
         | batch / cargo test | batch / nextest | batch / runner |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} ({}) | {} | {:.2} s | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.profile.name(),
            row.tests,
            row.binaries,
            row.workers,
            row.ideal,
            secs_cell(row.median(Tool::CargoTest)),
            secs_cell(row.median(Tool::Nextest)),
            secs_cell(row.median(Tool::Runner)),
            secs_cell(row.median(Tool::RunnerBatch)),
            ratio_cell(row.ratio(Tool::Runner, Tool::CargoTest)),
            ratio_cell(row.ratio(Tool::Runner, Tool::Nextest)),
            ratio_cell(row.median(Tool::Runner).map(|r| r / row.ideal)),
            ratio_cell(row.ratio(Tool::RunnerBatch, Tool::CargoTest)),
            ratio_cell(row.ratio(Tool::RunnerBatch, Tool::Nextest)),
            ratio_cell(row.ratio(Tool::RunnerBatch, Tool::Runner)),
        );
    }
    let tiny: Vec<&Row> = rows.iter().filter(|r| r.profile == Profile::Tiny).collect();
    if !tiny.is_empty() {
        out.push_str(
            "\nPer-test overhead on `tiny` (2000 trivial tests; median wall × workers / tests):\n\n\
             | -n | cargo test | cargo nextest | runner | runner --batch |\n\
             |---:|---:|---:|---:|---:|\n",
        );
        for row in tiny {
            let cell = |t| {
                row.overhead_ms(t)
                    .map_or("n/a".into(), |ms| format!("{ms:.2} ms"))
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                row.workers,
                cell(Tool::CargoTest),
                cell(Tool::Nextest),
                cell(Tool::Runner),
                cell(Tool::RunnerBatch)
            );
        }
    }
    if rows
        .iter()
        .any(|r| r.runner_cpu.is_some() || r.peak_rss_kib.is_some())
    {
        out.push_str(
            "\nThe runner's own cost (from its JSON `run-finished` event, one run):\n\n\
             | profile | -n | runner CPU | per test | peak RSS |\n|---|---:|---:|---:|---:|\n",
        );
        for row in rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                row.profile.name(),
                row.workers,
                secs_cell(row.runner_cpu),
                row.runner_cpu.map_or("n/a".into(), |c| format!(
                    "{:.2} ms",
                    c * 1000.0 / row.tests as f64
                )),
                row.peak_rss_kib
                    .map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
            );
        }
    }
    out
}

fn main() {
    harness::exit_with(run());
}

fn run() -> Result<i32> {
    let options = Options::parse(std::env::args().skip(1))?;
    let machine = Machine::detect();
    machine.announce("benchmark");

    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (profile, jobs) in options.plan() {
        match bench_profile(&machine, &options, profile, &jobs) {
            Ok(mut done) => rows.append(&mut done),
            Err(e) => {
                eprintln!("error: profile {}: {e:#}", profile.name());
                failures.push(profile.name());
            }
        }
    }

    if !rows.is_empty() {
        println!("\n--- Markdown for README.md (Performance) ---\n");
        print!("{}", markdown(&machine, &options, &rows));
        println!("\nReproduce with:\n\n    {}", options.command_line());
    }
    if failures.is_empty() {
        Ok(0)
    } else {
        eprintln!("\nfailed profiles: {}", failures.join(", "));
        Ok(1)
    }
}
