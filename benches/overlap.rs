//! Wall-clock benchmark of a cold build with its tests: `runner` overlapping the tests of built
//! binaries with the rest of the build, against `runner --no-overlap` (build, then test),
//! `cargo test` and `cargo nextest run`, every run from an empty target directory.
//!
//! ```sh
//! cargo bench --bench overlap -- [--crates C] [--functions F] [--tests T] [--jobs N] [--runs K] [--keep DIR]
//! ```
//!
//! It generates a workspace of C crates in a chain (each depends on the one before, as the
//! layers of a real workspace do, so cargo builds them mostly one after another), each with F
//! generated functions to compile and T tests in its library and T in an integration-test file,
//! each test sleeping 40-200 ms (a test waiting on I/O) or computing for 20-100 ms. Then K
//! rounds: each tool runs once per round from a target directory of its own, created empty and
//! removed afterwards, the first tool rotating from round to round. Nothing is built before a
//! timed run, so each includes the whole build. Progress goes to stderr, results to stdout,
//! ending with a Markdown table for the README and the command that reproduces it.

mod harness;
// This bench uses the generator's random numbers and CPU calibration only.
#[allow(dead_code)]
mod workload;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use harness::{clean_command, median, timed, Machine};
use workload::{Rng, SPIN_ITERS_PER_MS};

const USAGE: &str = "\
usage: cargo bench --bench overlap -- [--crates C] [--functions F] [--tests T] [--jobs N] [--runs K] [--keep DIR]

  --crates C      crates in the workspace, each depending on the one before (default 6)
  --functions F   generated functions per crate, what makes a crate slow to compile (default 300)
  --tests T       tests per test binary; two binaries per crate (default 12)
  --jobs N        workers / test threads (default 2)
  --runs K        timed cold runs per tool (default 3)
  --keep DIR      generate the workspace into DIR and keep it (default: a temporary directory)";

struct Options {
    crates: usize,
    functions: usize,
    tests: usize,
    jobs: usize,
    runs: usize,
    keep: Option<PathBuf>,
}

impl Options {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Options> {
        let mut options = Options {
            crates: 6,
            functions: 300,
            tests: 12,
            jobs: 2,
            runs: 3,
            keep: None,
        };
        harness::parse_flags(args, USAGE, |flag| {
            match flag.name.as_str() {
                "--crates" => options.crates = flag.count()?,
                "--functions" => options.functions = flag.count()?,
                "--tests" => options.tests = flag.count()?,
                "--jobs" | "-n" => options.jobs = flag.count()?,
                "--runs" => options.runs = flag.count()?,
                "--keep" => options.keep = Some(flag.path()?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(options)
    }

    fn command_line(&self) -> String {
        format!(
            "cargo bench --bench overlap -- --crates {} --functions {} --tests {} --jobs {} --runs {}",
            self.crates, self.functions, self.tests, self.jobs, self.runs
        )
    }
}

/// One of the ways to build and test the workspace.
#[derive(Clone, Copy, PartialEq)]
enum Tool {
    CargoTest,
    Nextest,
    BuildThenTest,
    Overlapped,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::CargoTest => "cargo test",
            Tool::Nextest => "cargo nextest run",
            Tool::BuildThenTest => "runner --no-overlap",
            Tool::Overlapped => "runner",
        }
    }

    fn command(self, machine: &Machine, manifest: &Path, target: &Path, jobs: usize) -> Command {
        let jobs = jobs.to_string();
        let manifest = manifest.as_os_str();
        let mut command = match self {
            Tool::CargoTest | Tool::Nextest => clean_command(&machine.cargo, target),
            Tool::BuildThenTest | Tool::Overlapped => clean_command(&machine.runner, target),
        };
        match self {
            Tool::CargoTest => command
                .args(["test", "-q", "--manifest-path"])
                .arg(manifest)
                .args(["--", "--test-threads", &jobs]),
            Tool::Nextest => command
                .args(["nextest", "run", "--manifest-path"])
                .arg(manifest)
                .args(["-j", &jobs]),
            Tool::BuildThenTest => command
                .args(["-q", "--no-overlap", "-n", &jobs, "--manifest-path"])
                .arg(manifest),
            Tool::Overlapped => command
                .args(["-q", "-n", &jobs, "--manifest-path"])
                .arg(manifest),
        };
        command
    }
}

fn main() -> Result<()> {
    let options = Options::parse(std::env::args().skip(1))?;
    let machine = Machine::detect();
    let scratch = tempfile::tempdir()?;
    let root = options
        .keep
        .clone()
        .unwrap_or_else(|| scratch.path().join("ws"));
    let manifest = write_workspace(&root, &options)?;
    let mut tools = vec![Tool::CargoTest, Tool::BuildThenTest, Tool::Overlapped];
    match &machine.nextest {
        Ok(_) => tools.insert(1, Tool::Nextest),
        Err(why) => eprintln!("note: {why}; cargo nextest run is left out"),
    }
    eprintln!(
        "{} crates x {} functions, {} tests in {} binaries; {} cores, {}",
        options.crates,
        options.functions,
        options.crates * options.tests * 2,
        options.crates * 2,
        machine.cores,
        machine.rustc
    );
    let mut walls: Vec<Vec<f64>> = vec![Vec::new(); tools.len()];
    for round in 0..options.runs {
        for turn in 0..tools.len() {
            let index = (round + turn) % tools.len();
            let tool = tools[index];
            // An empty target directory of its own: the whole build is timed, every time.
            let target = scratch.path().join(format!("target-{round}-{index}"));
            let mut command = tool.command(&machine, &manifest, &target, options.jobs);
            let (secs, _) = timed(&mut command, tool.name())?;
            eprintln!("round {}: {:<20} {secs:.2} s", round + 1, tool.name());
            walls[index].push(secs);
            std::fs::remove_dir_all(&target).context("removing a run's target directory")?;
        }
    }
    println!("{}", table(&tools, &walls, &options));
    Ok(())
}

/// The results as a Markdown table, each tool's median cold wall time (build and tests), its
/// range, and its ratio to build-then-test.
fn table(tools: &[Tool], walls: &[Vec<f64>], options: &Options) -> String {
    let of = |tool: Tool| {
        let index = tools.iter().position(|t| *t == tool)?;
        median(&walls[index])
    };
    let base = of(Tool::BuildThenTest).unwrap_or(f64::NAN);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n| tool (cold build + tests) | median wall | min-max | / runner --no-overlap |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for (tool, runs) in tools.iter().zip(walls) {
        let (min, max) = runs
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), &w| (lo.min(w), hi.max(w)));
        let mid = median(runs).unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "| `{}` | {mid:.2} s | {min:.2}-{max:.2} s | {:.2}x |",
            tool.name(),
            mid / base
        );
    }
    let _ = writeln!(out, "\nReproduce: `{}`", options.command_line());
    out
}

/// The workspace: crates `c00`, `c01`, ... each depending on the one before.
fn write_workspace(root: &Path, options: &Options) -> Result<PathBuf> {
    std::fs::create_dir_all(root)?;
    let names: Vec<String> = (0..options.crates).map(|i| format!("c{i:02}")).collect();
    let members: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let manifest = root.join("Cargo.toml");
    std::fs::write(
        &manifest,
        format!(
            "[workspace]\nmembers = [{}]\nresolver = \"2\"\n",
            members.join(", ")
        ),
    )?;
    let mut rng = Rng::new(7);
    for (i, name) in names.iter().enumerate() {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("src"))?;
        std::fs::create_dir_all(dir.join("tests"))?;
        let dependency = match i {
            0 => String::new(),
            _ => format!("{0} = {{ path = \"../{0}\" }}\n", names[i - 1]),
        };
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
                 publish = false\n\n[dependencies]\n{dependency}"
            ),
        )?;
        let previous = (i > 0).then(|| names[i - 1].as_str());
        let lib = library(options.functions, previous)
            + &format!(
                "\n#[cfg(test)]\nmod tests {{\n    use super::*;\n{}}}\n",
                tests(&mut rng, options.tests, "f0")
            );
        std::fs::write(dir.join("src/lib.rs"), lib)?;
        let it = format!("use {name}::*;\n{}", tests(&mut rng, options.tests, "f1"));
        std::fs::write(dir.join("tests/it.rs"), it)?;
    }
    Ok(manifest)
}

/// `functions` functions that take the compiler some time (iterator chains, formatting, a
/// match), and the helpers the tests use.
fn library(functions: usize, previous: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "//! Generated by benches/overlap.rs.\n");
    let _ = writeln!(
        out,
        "pub fn spin(ms: u64) -> u64 {{\n    let mut x = ms;\n    for i in 0..ms * {SPIN_ITERS_PER_MS} {{\n        x = x.wrapping_mul(6364136223846793005).wrapping_add(i);\n    }}\n    std::hint::black_box(x)\n}}\n"
    );
    let base = previous.map_or("0".to_string(), |p| format!("{p}::f0(1).len() as u64"));
    let _ = writeln!(out, "pub fn base() -> u64 {{\n    {base}\n}}\n");
    for f in 0..functions {
        let _ = writeln!(
            out,
            "pub fn f{f}(x: u64) -> String {{\n    let v: Vec<u64> = (0..x % 64).map(|n| n.wrapping_mul({f}) ^ {f}).filter(|n| n % 3 != 0).collect();\n    match v.len() % 4 {{\n        0 => format!(\"{{:?}}\", v),\n        1 => format!(\"{{}}-{{}}\", v.iter().sum::<u64>(), {f}),\n        2 => v.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(\",\"),\n        _ => format!(\"{{:>8}}\", v.len() + {f}),\n    }}\n}}\n"
        );
    }
    out
}

/// `count` tests, each calling `function` and then sleeping 40-200 ms or computing 20-100 ms.
fn tests(rng: &mut Rng, count: usize, function: &str) -> String {
    let mut out = String::new();
    for t in 0..count {
        let body = match rng.range(0, 3) {
            0 => format!("spin({});", rng.range(20, 100)),
            _ => format!(
                "std::thread::sleep(std::time::Duration::from_millis({}));",
                rng.range(40, 200)
            ),
        };
        let _ = writeln!(
            out,
            "    #[test]\n    fn t{t:02}() {{\n        std::hint::black_box({function}(base() + {t}));\n        {body}\n    }}\n"
        );
    }
    out
}
