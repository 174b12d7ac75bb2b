//! Wall-clock benchmark on real crates: runner (one process per test, and `--batch`) against
//! `cargo test --tests` and `cargo nextest run` on published crates whose packages include their
//! tests, plus the runner's own phases (start-up, tests, wrap-up) in each mode.
//!
//! ```sh
//! cargo bench --bench real_crates -- [--crate NAME@VERSION]... [--runs K] [--jobs N] [--keep DIR]
//!     [--runner PATH]
//! ```
//!
//! The sources come from the registry through cargo (a scratch package depending on each crate
//! at its exact version, then `cargo metadata` says where cargo unpacked it); nothing of theirs
//! is checked in. Each crate is copied into a directory of its own (all share one target
//! directory, so common dependencies build once), built once, run once by
//! every tool untimed (the runner's history; and its passed, failed and ignored counts must
//! equal `cargo test`'s), then timed K times per tool, taking turns.
//! Progress goes to stderr, results to stdout.

mod harness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use harness::{median, timed, Machine};

/// The default crates, one per shape of suite (each builds in well under a minute, and its
/// tests pass here).
const DEFAULT_CRATES: [(&str, &str); 5] = [
    ("semver@1.0.28", "many tiny tests in 5 binaries"),
    (
        "indexmap@2.14.2",
        "quickcheck properties (CPU) beside tiny tests",
    ),
    (
        "tempfile@3.27.0",
        "tests that create, write and read files; a few long ones",
    ),
    (
        "crossbeam-utils@0.8.23",
        "7 binaries, threads, short sleeps",
    ),
    (
        "utf8parse@0.2.2",
        "one test, which reads a data file: the fixed costs",
    ),
];

const USAGE: &str = "\
usage: cargo bench --bench real_crates -- [--crate NAME@VERSION]... [--runs K] [--jobs N] [--keep DIR]

  --crate NAME@VERSION  a published crate whose package includes its tests (repeatable;
                        default: semver, indexmap, tempfile, crossbeam-utils, utf8parse)
  --runs K              timed runs per tool (default 5)
  --jobs N              test threads / workers for every tool (default: the cores)
  --keep DIR            fetch and build into DIR and keep it (default: a temporary directory)
  --runner PATH         the runner binary to time (default: this build's), e.g. an older one";

/// The runner's phases, in the order a run reaches them.
const PHASES: [&str; 6] = [
    "build",
    "metadata",
    "listed",
    "first_test",
    "last_test",
    "run_finished",
];

struct Options {
    crates: Vec<String>,
    runs: usize,
    jobs: Option<usize>,
    keep: Option<PathBuf>,
    runner: Option<PathBuf>,
}

impl Options {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Options> {
        let mut options = Options {
            crates: Vec::new(),
            runs: 5,
            jobs: None,
            keep: None,
            runner: None,
        };
        harness::parse_flags(args, USAGE, |flag| {
            match flag.name.as_str() {
                "--crate" => {
                    let spec = flag.text()?;
                    ensure!(
                        spec.contains('@'),
                        "--crate takes NAME@VERSION, not {spec:?}"
                    );
                    options.crates.push(spec);
                }
                "--runs" => options.runs = flag.count()?,
                "--jobs" | "-n" | "-j" => options.jobs = Some(flag.count()?),
                "--keep" => options.keep = Some(flag.path()?),
                "--runner" => options.runner = Some(flag.path()?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if options.crates.is_empty() {
            options.crates = DEFAULT_CRATES.iter().map(|(c, _)| c.to_string()).collect();
        }
        Ok(options)
    }
}

/// Get every crate's published sources through cargo and copy each into `dir/NAME-VERSION`,
/// a workspace of its own. Returns the manifests, in the order given.
fn fetch(machine: &Machine, crates: &[String], dir: &Path) -> Result<Vec<PathBuf>> {
    let scratch = dir.join("fetch");
    std::fs::create_dir_all(scratch.join("src"))?;
    std::fs::write(scratch.join("src/lib.rs"), "")?;
    let mut manifest = String::from(
        "[package]\nname = \"fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [workspace]\n\n[dependencies]\n",
    );
    for spec in crates {
        let (name, version) = spec.split_once('@').context("NAME@VERSION")?;
        manifest += &format!("{name} = \"={version}\"\n");
    }
    std::fs::write(scratch.join("Cargo.toml"), manifest)?;
    let mut metadata = harness::clean_command(&machine.cargo, &dir.join("target"));
    metadata
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(scratch.join("Cargo.toml"));
    let (_, out) = timed(&mut metadata, "cargo metadata (fetching the crates)")?;
    let metadata: Value = serde_json::from_slice(&out.stdout)?;
    let packages = metadata["packages"].as_array().context("no packages")?;
    let mut manifests = Vec::new();
    for spec in crates {
        let (name, version) = spec.split_once('@').context("NAME@VERSION")?;
        let package = packages
            .iter()
            .find(|p| p["name"] == name && p["version"] == version)
            .with_context(|| format!("cargo did not fetch {spec}"))?;
        let source = Path::new(package["manifest_path"].as_str().unwrap_or_default())
            .parent()
            .context("manifest path")?
            .to_path_buf();
        let copy = dir.join(format!("{name}-{version}"));
        if !copy.exists() {
            harness::copy_dir(&source, &copy)?;
            let manifest = copy.join("Cargo.toml");
            let text = std::fs::read_to_string(&manifest)?;
            if !text.lines().any(|l| l.trim() == "[workspace]") {
                std::fs::write(&manifest, text + "\n[workspace]\n")?;
            }
        }
        manifests.push(copy.join("Cargo.toml"));
    }
    Ok(manifests)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    CargoTest,
    Nextest,
    Runner,
    RunnerBatch,
}

impl Tool {
    const ALL: [Tool; 4] = [
        Tool::CargoTest,
        Tool::Nextest,
        Tool::Runner,
        Tool::RunnerBatch,
    ];

    fn name(self) -> &'static str {
        match self {
            Tool::CargoTest => "cargo test --tests",
            Tool::Nextest => "cargo nextest run",
            Tool::Runner => "runner",
            Tool::RunnerBatch => "runner --batch",
        }
    }

    fn command(self, machine: &Machine, manifest: &Path, target: &Path, jobs: usize) -> Command {
        let n = jobs.to_string();
        let program = match self {
            Tool::CargoTest | Tool::Nextest => machine.cargo.as_os_str(),
            Tool::Runner | Tool::RunnerBatch => machine.runner.as_os_str(),
        };
        let mut c = harness::clean_command(program, target);
        match self {
            Tool::CargoTest => c.args(["test", "--tests", "-q"]),
            Tool::Nextest => c.args(["nextest", "run", "--tests", "-j", &n]),
            Tool::Runner => c.args(["-n", &n, "--tests", "--message-format", "json"]),
            Tool::RunnerBatch => {
                c.args(["-n", &n, "--batch", "--tests", "--message-format", "json"])
            }
        };
        c.arg("--manifest-path").arg(manifest);
        if self == Tool::CargoTest {
            c.args(["--", "--test-threads", &n]);
        }
        c
    }
}

/// Passed, failed and ignored tests as `cargo test` counts them (its `test result:` lines).
fn cargo_counts(stdout: &[u8]) -> (u64, u64, u64) {
    let text = String::from_utf8_lossy(stdout);
    let count = |word: &str| -> u64 {
        let parts = (text.lines())
            .filter_map(|line| line.strip_prefix("test result: "))
            .flat_map(|rest| rest.split(';'));
        parts
            .filter_map(|part| part.trim().strip_suffix(word)?.split_whitespace().last())
            .filter_map(|n| n.parse::<u64>().ok())
            .sum()
    };
    (count(" passed"), count(" failed"), count(" ignored"))
}

/// A runner run's `run-started` and `run-finished` events.
fn runner_events(stdout: &[u8]) -> Result<(Value, Value)> {
    let (mut started, mut finished) = (None, None);
    for line in String::from_utf8_lossy(stdout).lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        match event["type"].as_str() {
            Some("run-started") => started = Some(event),
            Some("run-finished") => finished = Some(event),
            _ => {}
        }
    }
    Ok((
        started.context("the runner's JSON has no run-started event")?,
        finished.context("the runner's JSON has no run-finished event")?,
    ))
}

/// One crate's figures.
struct Row {
    spec: String,
    tests: u64,
    binaries: u64,
    walls: BTreeMap<&'static str, Vec<f64>>,
    /// Each runner mode's phases, every run's.
    phases: BTreeMap<&'static str, Vec<Value>>,
}

impl Row {
    fn wall(&self, tool: Tool) -> Option<f64> {
        median(self.walls.get(tool.name())?)
    }

    fn ratio(&self, a: Tool, b: Tool) -> Option<f64> {
        Some(self.wall(a)? / self.wall(b)?)
    }

    /// The phases of the mode's run whose wall time was the median (each phase's own median
    /// would mix runs): `build 0.081 · listed 0.120 · ...`.
    fn phases(&self, tool: Tool) -> String {
        let (Some(walls), Some(runs)) = (self.walls.get(tool.name()), self.phases.get(tool.name()))
        else {
            return String::new();
        };
        let mid = median(walls).unwrap_or_default();
        let distance = |i: &usize| (walls[*i] - mid).abs();
        let Some(run) = (0..walls.len()).min_by(|a, b| distance(a).total_cmp(&distance(b))) else {
            return String::new();
        };
        let at = |phase: &&str| Some(format!("{phase} {:.3}", runs.get(run)?[*phase].as_f64()?));
        PHASES.iter().filter_map(at).collect::<Vec<_>>().join(" · ")
    }
}

fn bench_crate(
    machine: &Machine,
    tools: &[Tool],
    manifest: &Path,
    options: &Options,
    jobs: usize,
) -> Result<Row> {
    // One target directory for all: the crates share dependencies, built once.
    let dir = manifest
        .parent()
        .and_then(Path::parent)
        .context("crate dir")?;
    let target = dir.join("target");
    let spec = manifest
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    eprintln!("== {spec}: building its tests");
    let mut build = harness::clean_command(&machine.cargo, &target);
    build
        .args(["test", "--tests", "--no-run", "--manifest-path"])
        .arg(manifest);
    timed(&mut build, "cargo test --no-run")?;
    if tools.contains(&Tool::Nextest) {
        let mut build = harness::clean_command(&machine.cargo, &target);
        build
            .args(["nextest", "run", "--tests", "--no-run", "--manifest-path"])
            .arg(manifest);
        timed(&mut build, "cargo nextest run --no-run")?;
    }
    // Untimed: the runner's history, and the outcomes checked against cargo test's.
    let (_, cargo) = timed(
        &mut Tool::CargoTest.command(machine, manifest, &target, jobs),
        "cargo test (warm-up)",
    )?;
    let (passed, failed, ignored) = cargo_counts(&cargo.stdout);
    let mut row = Row {
        spec: spec.clone(),
        tests: 0,
        binaries: 0,
        walls: BTreeMap::new(),
        phases: BTreeMap::new(),
    };
    for tool in [Tool::Runner, Tool::RunnerBatch] {
        let (_, out) = timed(
            &mut tool.command(machine, manifest, &target, jobs),
            "runner (warm-up)",
        )?;
        let (started, finished) = runner_events(&out.stdout)?;
        let got = (
            finished["passed"].as_u64(),
            finished["failed"].as_u64(),
            started["ignored"].as_u64(),
        );
        ensure!(
            got == (Some(passed), Some(failed), Some(ignored)),
            "{spec}: {} counted (passed, failed, ignored) = {got:?}, cargo test ({passed}, {failed}, {ignored})",
            tool.name()
        );
        row.tests = started["tests"].as_u64().unwrap_or(0);
        row.binaries = started["binaries"].as_u64().unwrap_or(0);
    }
    for round in 0..options.runs {
        for i in 0..tools.len() {
            let tool = tools[(i + round) % tools.len()];
            let (secs, out) = timed(
                &mut tool.command(machine, manifest, &target, jobs),
                tool.name(),
            )?;
            eprintln!(
                "   {spec} round {} {:<20} {secs:.3}s",
                round + 1,
                tool.name()
            );
            row.walls.entry(tool.name()).or_default().push(secs);
            if matches!(tool, Tool::Runner | Tool::RunnerBatch) {
                let (_, finished) = runner_events(&out.stdout)?;
                row.phases
                    .entry(tool.name())
                    .or_default()
                    .push(finished["phases"].clone());
            }
        }
    }
    Ok(row)
}

/// What a default crate's suite is like (`-` for another crate).
fn shape(dir_name: &str) -> &'static str {
    DEFAULT_CRATES
        .iter()
        .find(|(spec, _)| spec.replace('@', "-") == dir_name)
        .map_or("-", |(_, shape)| shape)
}

fn cell(value: Option<f64>, unit: &str) -> String {
    value.map_or("-".into(), |v| match unit {
        "s" => format!("{v:.3} s"),
        _ => format!("{v:.2}"),
    })
}

fn markdown(machine: &Machine, options: &Options, jobs: usize, rows: &[Row]) -> String {
    let mut out = format!(
        "Median wall time of {} runs per tool ({}, {} cores, {}, {}; -n/-j/--test-threads {jobs}; \
         {}; build excluded). *batch* = `runner --batch`; ratios are of medians (below 1: the first is faster).\n\n",
        options.runs,
        std::env::consts::ARCH,
        machine.cores,
        machine.rustc,
        machine.nextest.as_deref().unwrap_or("no nextest"),
        harness::backtrace_setting(),
    );
    out += "| crate | shape | tests (binaries) | cargo test --tests | cargo nextest | runner | runner --batch | batch / cargo test | runner / nextest |\n";
    out += "|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for row in rows {
        out += &format!(
            "| {} | {} | {} ({}) | {} | {} | {} | {} | {} | {} |\n",
            row.spec,
            shape(&row.spec),
            row.tests,
            row.binaries,
            cell(row.wall(Tool::CargoTest), "s"),
            cell(row.wall(Tool::Nextest), "s"),
            cell(row.wall(Tool::Runner), "s"),
            cell(row.wall(Tool::RunnerBatch), "s"),
            cell(row.ratio(Tool::RunnerBatch, Tool::CargoTest), ""),
            cell(row.ratio(Tool::Runner, Tool::Nextest), ""),
        );
    }
    out += "\nThe runner's phases, seconds since it started (its run of median wall time):\n\n";
    out += "| crate | mode | phases |\n|---|---|---|\n";
    for row in rows {
        for tool in [Tool::Runner, Tool::RunnerBatch] {
            out += &format!(
                "| {} | {} | {} |\n",
                row.spec,
                tool.name(),
                row.phases(tool)
            );
        }
    }
    out
}

fn run() -> Result<()> {
    let options = Options::parse(std::env::args().skip(1))?;
    let mut machine = Machine::detect();
    if let Some(runner) = &options.runner {
        machine.runner = runner.clone();
    }
    let jobs = options.jobs.unwrap_or(machine.cores);
    let tools: Vec<Tool> = Tool::ALL
        .into_iter()
        .filter(|t| *t != Tool::Nextest || machine.nextest.is_ok())
        .collect();
    if let Err(why) = &machine.nextest {
        eprintln!("note: {why}; nextest is left out");
    }
    let temp;
    let dir = match &options.keep {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let manifests = fetch(&machine, &options.crates, &dir)?;
    let mut rows = Vec::new();
    for manifest in &manifests {
        rows.push(bench_crate(&machine, &tools, manifest, &options, jobs)?);
    }
    print!("{}", markdown(&machine, &options, jobs, &rows));
    let mut command = String::from("cargo bench --bench real_crates --");
    let defaults = DEFAULT_CRATES.iter().map(|(c, _)| *c);
    if !options.crates.iter().map(String::as_str).eq(defaults) {
        for spec in &options.crates {
            command += &format!(" --crate {spec}");
        }
    }
    println!("\nReproduce with: {command} --runs {}", options.runs);
    Ok(())
}

fn main() {
    harness::exit_with(run().map(|()| 0));
}
