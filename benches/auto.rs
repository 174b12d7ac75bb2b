//! Benchmark of `-n auto` and `runner predict`: on a suite of tests that wait (`io`) and one of
//! tests that compute (`cpu`), in the same run, the wall time of `cargo test`, `cargo nextest
//! run` (both with their default parallelism), `runner -n <cores>` and `runner -n auto`; and
//! `runner predict`'s predictions for 1, 2 and 4 workers against measured `runner -n1/-n2/-n4`.
//!
//! ```sh
//! cargo bench --bench auto -- [--profile io|cpu]... [--runs K] [--seed S] [--keep DIR]
//! ```
//!
//! For each profile (see `workload.rs`): generate a workspace, build it once, run `runner -n
//! auto` once untimed (with no history yet it runs one worker per core, and leaves the history
//! every later run reads), ask `runner predict` once, then K rounds in which every tool runs
//! once, the first tool rotating. Every measured run waits for a quiet machine first, and one
//! during which other processes used more than a tenth of the CPUs is run again (up to three
//! times): the CPU-bound figures mean nothing on a machine someone else is using. Progress goes
//! to stderr, results to stdout; the end of stdout is Markdown for the README and the command
//! that reproduces it.

mod harness;
// Each bench uses its own part of the generator.
#[allow(dead_code)]
mod workload;

use harness::{median, timed, Machine};

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output};

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use workload::{Profile, Workload};

const USAGE: &str = "\
usage: cargo bench --bench auto -- [--profile io|cpu]... [--runs K] [--seed S] [--keep DIR]

  --profile NAME  io or cpu (repeatable; default: both)
  --runs K        timed runs per tool (default 3)
  --seed S        workload seed (default 1)
  --keep DIR      generate into DIR/<profile> and keep it (default: a temporary directory)";

/// The profiles made for this benchmark: one I/O-bound suite, one CPU-bound.
const PROFILES: [Profile; 2] = [Profile::Io, Profile::Cpu];

/// The worker counts whose predictions are checked against measured runs.
const PREDICTED: [usize; 3] = [1, 2, 4];

struct Options {
    profiles: Vec<Profile>,
    runs: usize,
    seed: u64,
    keep: Option<PathBuf>,
}

impl Options {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Options> {
        let mut options = Options {
            profiles: Vec::new(),
            runs: 3,
            seed: 1,
            keep: None,
        };
        harness::parse_flags(args, USAGE, |flag| {
            match flag.name.as_str() {
                "--profile" => {
                    let name = flag.text()?;
                    let profile = Profile::parse(&name)
                        .filter(|p| PROFILES.contains(p))
                        .with_context(|| format!("unknown profile {name:?} (io, cpu)"))?;
                    if !options.profiles.contains(&profile) {
                        options.profiles.push(profile);
                    }
                }
                "--runs" => options.runs = flag.count()?,
                "--seed" => options.seed = flag.number()?,
                "--keep" => options.keep = Some(flag.path()?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if options.profiles.is_empty() {
            options.profiles = PROFILES.to_vec();
        }
        Ok(options)
    }

    fn command_line(&self) -> String {
        let mut out = String::from("cargo bench --bench auto --");
        for profile in &self.profiles {
            let _ = write!(out, " --profile {}", profile.name());
        }
        let _ = write!(out, " --runs {} --seed {}", self.runs, self.seed);
        out
    }
}

/// What is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    /// `cargo test`, default test threads (one per core), binaries one after another.
    CargoTest,
    /// `cargo nextest run`, default jobs (one per core).
    Nextest,
    /// `runner -n N`.
    Runner(usize),
    /// `runner -n auto`.
    Auto,
}

impl Tool {
    fn label(self) -> String {
        match self {
            Tool::CargoTest => "cargo test".into(),
            Tool::Nextest => "cargo nextest".into(),
            Tool::Runner(n) => format!("runner -n{n}"),
            Tool::Auto => "runner -n auto".into(),
        }
    }
}

/// Every tool, each worker count once: `-n <cores>` doubles as one of the predicted ones.
fn tools(machine: &Machine) -> Vec<Tool> {
    let mut tools = vec![Tool::CargoTest];
    if machine.nextest.is_ok() {
        tools.push(Tool::Nextest);
    }
    tools.push(Tool::Auto);
    for n in std::iter::once(machine.cores).chain(PREDICTED) {
        if !tools.contains(&Tool::Runner(n)) {
            tools.push(Tool::Runner(n));
        }
    }
    tools
}

/// A generated workspace, and commands that run in it with a clean environment.
struct Space {
    manifest: PathBuf,
    target_dir: PathBuf,
}

impl Space {
    /// `program` without this bench's cargo variables or a user's RUNNER_*/NEXTEST_* settings.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        harness::clean_command(program, &self.target_dir)
    }

    fn runner(&self, machine: &Machine, args: &[&str]) -> Command {
        let mut c = self.command(&machine.runner);
        c.args(args).arg("--manifest-path").arg(&self.manifest);
        c
    }

    fn tool(&self, machine: &Machine, tool: Tool) -> Command {
        let json = ["-q", "--message-format", "json"];
        match tool {
            Tool::CargoTest => {
                let mut c = self.command(&machine.cargo);
                c.args(["test", "-q", "--manifest-path"])
                    .arg(&self.manifest);
                c
            }
            Tool::Nextest => {
                let mut c = self.command(&machine.cargo);
                c.args(["nextest", "run", "--manifest-path"])
                    .arg(&self.manifest);
                c
            }
            Tool::Runner(n) => {
                let mut c = self.runner(machine, &["-n", &n.to_string()]);
                c.args(json);
                c
            }
            Tool::Auto => {
                let mut c = self.runner(machine, &["-n", "auto"]);
                c.args(json);
                c
            }
        }
    }
}

/// Of other processes' use of the CPUs, the share that spoils a measurement.
const NOISE: f64 = 0.10;
/// Measured runs of a tool per timed run, at most: the first with little noise counts.
const ATTEMPTS: usize = 3;

/// CPU seconds the machine has been busy (all CPUs; the hypervisor's steal counts, since the
/// machine could not use that time), and CPU seconds used by this process and its reaped
/// descendants: the difference is everybody else's.
fn cpu_clocks() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait, at 100 per second.
    let busy: f64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t / 100.0)
        .sum();
    use nix::sys::resource::{getrusage, UsageWho};
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let ours: f64 = [UsageWho::RUSAGE_SELF, UsageWho::RUSAGE_CHILDREN]
        .into_iter()
        .filter_map(|who| getrusage(who).ok())
        .map(|u| secs(u.user_time()) + secs(u.system_time()))
        .sum();
    (busy, ours)
}

/// The share of the CPUs other processes used between two [`cpu_clocks`] readings `wall`
/// seconds apart.
fn others_share(before: (f64, f64), after: (f64, f64), wall: f64, cores: usize) -> f64 {
    let others = (after.0 - before.0) - (after.1 - before.1);
    others.max(0.0) / (wall * cores as f64).max(1e-9)
}

/// Seconds the whole benchmark may spend waiting for a quiet machine; once they are spent, runs
/// start at once (and are still thrown away when they were spoiled, up to [`ATTEMPTS`]).
static QUIET_BUDGET: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(600);

/// Wait until other processes leave the CPUs nearly idle for a second, within
/// [`QUIET_BUDGET`].
fn wait_for_quiet(cores: usize) {
    use std::sync::atomic::Ordering;
    let mut waited = 0;
    while QUIET_BUDGET.load(Ordering::Relaxed) > 0 {
        let before = cpu_clocks();
        std::thread::sleep(std::time::Duration::from_secs(1));
        if others_share(before, cpu_clocks(), 1.0, cores) < NOISE / 2.0 {
            break;
        }
        QUIET_BUDGET.fetch_sub(1, Ordering::Relaxed);
        waited += 1;
    }
    if waited > 0 {
        eprintln!("  (waited {waited} s for other processes to leave the CPUs)");
    }
}

/// [`timed`] on a quiet machine: run again while other processes used more than [`NOISE`] of
/// the CPUs meanwhile, calling `prepare` before every attempt. Also returns how many runs were
/// thrown away.
fn quiet_run(
    command: &mut Command,
    what: &str,
    cores: usize,
    mut prepare: impl FnMut() -> Result<()>,
) -> Result<(f64, Output, usize)> {
    let mut spoiled = 0;
    loop {
        prepare()?;
        wait_for_quiet(cores);
        let before = cpu_clocks();
        let (secs, output) = timed(command, what)?;
        let share = others_share(before, cpu_clocks(), secs, cores);
        if share <= NOISE || spoiled + 1 == ATTEMPTS {
            return Ok((secs, output, spoiled));
        }
        spoiled += 1;
        eprintln!(
            "  ({what}: other processes used {:.0}% of the CPUs: again)",
            share * 100.0
        );
    }
}

/// What a `runner --message-format json` run said: its workers, why (under `-n auto`), and
/// the wall time of its tests (first started to last finished).
struct RunnerRun {
    workers: u64,
    cpu_fraction: Option<f64>,
    wall: f64,
    tests: usize,
}

impl RunnerRun {
    fn parse(stdout: &[u8]) -> Result<RunnerRun> {
        let mut run = RunnerRun {
            workers: 0,
            cpu_fraction: None,
            wall: f64::NAN,
            tests: 0,
        };
        for line in String::from_utf8_lossy(stdout).lines() {
            let Ok(event) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            match event["type"].as_str() {
                Some("run-started") => {
                    run.workers = event["workers"].as_u64().unwrap_or(0);
                    run.cpu_fraction = event["auto"]["cpu_fraction"].as_f64();
                }
                Some("test-finished") => {
                    ensure!(event["status"] == "passed", "a test did not pass: {event}");
                    run.tests += 1;
                }
                Some("run-finished") => run.wall = event["wall"].as_f64().unwrap_or(f64::NAN),
                _ => {}
            }
        }
        ensure!(
            run.wall.is_finite(),
            "the runner's JSON has no run-finished"
        );
        Ok(run)
    }
}

/// Everything measured on one profile.
struct Measured {
    profile: Profile,
    tests: usize,
    binaries: usize,
    /// Process wall times (spawn to exit) per tool, in `Machine::tools` order.
    walls: Vec<(Tool, Vec<f64>)>,
    /// The tests' wall per runner worker count, as the run reported it.
    test_walls: Vec<(usize, Vec<f64>)>,
    /// What `-n auto` chose in each timed run, and the CPU share it saw.
    auto: Vec<(u64, Option<f64>)>,
    /// `runner predict`: (workers, predicted seconds), and tests it had no history for.
    predicted: Vec<(usize, f64)>,
    without_history: u64,
    /// Runs thrown away because other processes used the CPUs meanwhile.
    spoiled: usize,
}

impl Measured {
    fn wall(&self, tool: Tool) -> Option<f64> {
        let (_, walls) = self.walls.iter().find(|(t, _)| *t == tool)?;
        median(walls)
    }

    fn test_wall(&self, workers: usize) -> Option<f64> {
        let (_, walls) = self.test_walls.iter().find(|(n, _)| *n == workers)?;
        median(walls)
    }

    fn predicted(&self, workers: usize) -> Option<f64> {
        let (_, secs) = self.predicted.iter().find(|(n, _)| *n == workers)?;
        Some(*secs)
    }

    fn auto_workers(&self) -> String {
        let mut counts: Vec<u64> = self.auto.iter().map(|(n, _)| *n).collect();
        counts.dedup();
        let shown: Vec<String> = counts.iter().map(u64::to_string).collect();
        let share = self.auto.iter().find_map(|(_, f)| *f);
        match share {
            Some(f) => format!("{} ({:.0}% CPU)", shown.join(", "), f * 100.0),
            None => shown.join(", "),
        }
    }
}

/// Generate and build the workspace of `profile`; the directory guard and the space.
fn prepare(
    machine: &Machine,
    options: &Options,
    workload: &Workload,
) -> Result<(Option<tempfile::TempDir>, Space)> {
    let name = workload.profile.name();
    let (temp, dir) = match &options.keep {
        Some(keep) => (None, keep.join(name)),
        None => {
            let temp = tempfile::Builder::new()
                .prefix(&format!("runner-bench-auto-{name}-"))
                .tempdir()?;
            let dir = temp.path().to_path_buf();
            (Some(temp), dir)
        }
    };
    let space = Space {
        manifest: workload.write(&dir)?,
        target_dir: dir.join("target"),
    };

    let mut build = space.command(&machine.cargo);
    build
        .args(["test", "--no-run", "-q", "--manifest-path"])
        .arg(&space.manifest);
    let (secs, _) = timed(&mut build, "cargo test --no-run")?;
    eprintln!("built {name} in {secs:.1} s, in {}", dir.display());
    if machine.nextest.is_ok() {
        let mut build = space.command(&machine.cargo);
        build
            .args(["nextest", "run", "--no-run", "--manifest-path"])
            .arg(&space.manifest);
        timed(&mut build, "cargo nextest run --no-run")?;
    }
    Ok((temp, space))
}

/// `runner predict --format json`: (workers, seconds) per row, and tests without history.
fn predict(machine: &Machine, space: &Space) -> Result<(Vec<(usize, f64)>, u64)> {
    let mut command = space.runner(machine, &["predict", "--format", "json"]);
    let (_, output) = timed(&mut command, "runner predict")?;
    let json: Value = serde_json::from_slice(&output.stdout).context("runner predict's JSON")?;
    let rows = json["predictions"]
        .as_array()
        .context("no predictions")?
        .iter()
        .filter_map(|row| Some((row["workers"].as_u64()? as usize, row["wall"].as_f64()?)))
        .collect();
    Ok((rows, json["without_history"].as_u64().unwrap_or(0)))
}

fn bench_profile(machine: &Machine, options: &Options, profile: Profile) -> Result<Measured> {
    let workload = Workload::generate(profile, options.seed);
    eprintln!(
        "\n== {} ({}): nominal serial {:.1} s",
        profile.name(),
        profile.describe(),
        workload.nominal_serial_ms() as f64 / 1000.0
    );
    let (_temp, space) = prepare(machine, options, &workload)?;
    let (warm, secs, mut spoiled) = warm_up(machine, &space)?;
    ensure!(
        warm.tests == workload.test_count(),
        "the warm-up ran {} tests of {}",
        warm.tests,
        workload.test_count()
    );
    eprintln!(
        "warm-up runner -n auto: {secs:.2} s, {} workers",
        warm.workers
    );
    let (predicted, without_history) = predict(machine, &space)?;
    eprintln!("runner predict: {predicted:?}");
    let tools = tools(machine);
    let cores = machine.cores;
    let mut measured = Measured {
        profile,
        tests: workload.test_count(),
        binaries: workload.binary_count(),
        walls: tools.iter().map(|t| (*t, Vec::new())).collect(),
        test_walls: Vec::new(),
        auto: Vec::new(),
        predicted,
        without_history,
        spoiled: 0,
    };
    for round in 0..options.runs {
        for i in 0..tools.len() {
            let tool = tools[(round + i) % tools.len()];
            let what = tool.label();
            let mut command = space.tool(machine, tool);
            let (secs, output, noisy) = quiet_run(&mut command, &what, cores, || Ok(()))?;
            spoiled += noisy;
            eprintln!("  run {}/{}: {what}: {secs:.2} s", round + 1, options.runs);
            if let Some((_, walls)) = measured.walls.iter_mut().find(|(t, _)| *t == tool) {
                walls.push(secs);
            }
            match tool {
                Tool::Auto => {
                    let run = RunnerRun::parse(&output.stdout)?;
                    measured.auto.push((run.workers, run.cpu_fraction));
                }
                Tool::Runner(n) => {
                    let run = RunnerRun::parse(&output.stdout)?;
                    match measured.test_walls.iter_mut().find(|(w, _)| *w == n) {
                        Some((_, walls)) => walls.push(run.wall),
                        None => measured.test_walls.push((n, vec![run.wall])),
                    }
                }
                _ => {}
            }
        }
    }
    measured.spoiled = spoiled;
    Ok(measured)
}

/// The untimed first `runner -n auto`, on a quiet machine: a run that other processes slowed
/// down would leave their contention in the history, so it runs again without history.
fn warm_up(machine: &Machine, space: &Space) -> Result<(RunnerRun, f64, usize)> {
    let history = space.target_dir.join("runner").join("history.json");
    let forget = || -> Result<()> {
        if history.exists() {
            std::fs::remove_file(&history).context("removing the history")?;
        }
        Ok(())
    };
    let mut command = space.tool(machine, Tool::Auto);
    let (secs, output, spoiled) = quiet_run(&mut command, "warm-up", machine.cores, forget)?;
    Ok((RunnerRun::parse(&output.stdout)?, secs, spoiled))
}

fn secs(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |v| format!("{v:.2} s"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "n/a".into(),
    }
}

fn markdown(machine: &Machine, options: &Options, all: &[Measured]) -> String {
    let cores = machine.cores;
    let nextest = machine
        .nextest
        .as_deref()
        .unwrap_or("cargo-nextest not installed");
    let mut out = format!(
        "Median wall time of {} runs per tool, spawn to exit ({} {}, {cores} cores, {}, \
         {nextest}; workload seed {}). `cargo test` and `cargo nextest run` use their default \
         parallelism (one thread or process per core); `-n auto` runs after one warm-up run \
         that wrote the history.\n\n",
        options.runs,
        std::env::consts::OS,
        std::env::consts::ARCH,
        machine.rustc,
        options.seed,
    );
    out += &format!(
        "| profile | tests (binaries) | cargo test | cargo nextest | runner -n{cores} | runner -n \
         auto | auto's workers | nextest / auto | auto / -n{cores} |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for m in all {
        let auto = m.wall(Tool::Auto);
        let _ = writeln!(
            out,
            "| {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} |",
            m.profile.name(),
            m.tests,
            m.binaries,
            secs(m.wall(Tool::CargoTest)),
            secs(m.wall(Tool::Nextest)),
            secs(m.wall(Tool::Runner(cores))),
            secs(auto),
            m.auto_workers(),
            ratio(m.wall(Tool::Nextest), auto),
            ratio(auto, m.wall(Tool::Runner(cores))),
        );
    }
    out += "\n`runner predict` (asked once, after the warm-up) against the tests' wall time \
            that `runner -nN` reported (`run-finished` `wall`, first test started to last \
            finished; median of the runs above):\n\n\
            | profile | -n | predicted | measured | error |\n|---|---:|---:|---:|---:|\n";
    for m in all {
        for n in PREDICTED {
            let (predicted, measured) = (m.predicted(n), m.test_wall(n));
            let error = match (predicted, measured) {
                (Some(p), Some(w)) if w > 0.0 => format!("{:+.1}%", (p - w) / w * 100.0),
                _ => "n/a".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {n} | {} | {} | {error} |",
                m.profile.name(),
                secs(predicted),
                secs(measured)
            );
        }
    }
    let spoiled: usize = all.iter().map(|m| m.spoiled).sum();
    let _ = writeln!(
        out,
        "\nEach run waited for a quiet machine; {spoiled} run(s) during which other processes \
         used more than {:.0}% of the CPUs were thrown away and run again.",
        NOISE * 100.0
    );
    let unknown: u64 = all.iter().map(|m| m.without_history).sum();
    if unknown > 0 {
        let _ = writeln!(out, "\n({unknown} tests had no history when predicted.)");
    }
    out
}

fn main() {
    harness::exit_with(run().map(|()| 0));
}

fn run() -> Result<()> {
    let options = Options::parse(std::env::args().skip(1))?;
    let machine = Machine::detect();
    machine.announce("auto benchmark");
    let mut all = Vec::new();
    for &profile in &options.profiles {
        all.push(bench_profile(&machine, &options, profile)?);
    }
    println!("\n--- Markdown for README.md (Performance) ---\n");
    print!("{}", markdown(&machine, &options, &all));
    println!("\nReproduce with:\n\n    {}", options.command_line());
    Ok(())
}
