//! Wall-clock benchmark of doctests: `runner --doc` against `cargo test` (every target,
//! doctests included) and against `cargo nextest run` followed by `cargo test --doc` (nextest
//! does not run doctests), on a generated library with a few hundred documented functions.
//!
//! ```sh
//! cargo bench --bench doctests -- [--edition 2021|2024]... [--functions F] [--jobs N] [--runs K] [--seed S] [--keep DIR]
//! ```
//!
//! For each edition: generate a workspace (one library: F functions, each with an example; unit
//! tests and an integration test file of trivial, sleeping and CPU-bound tests), build it once
//! (`cargo test --no-run`, `cargo nextest run --no-run`), run `runner --doc` once untimed (its
//! history), then time the three K times each, taking turns. rustdoc compiles the examples on
//! every run, for every tool: nothing is cached between runs. Progress goes to stderr, results
//! to stdout, ending with a Markdown table for the README and the command that reproduces it.

mod harness;
// This bench uses the generator's random numbers and CPU calibration only.
#[allow(dead_code)]
mod workload;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use harness::median;
use workload::{Rng, SPIN_ITERS_PER_MS};

const USAGE: &str = "\
usage: cargo bench --bench doctests -- [--edition 2021|2024]... [--functions F] [--jobs N] [--runs K] [--seed S] [--keep DIR]

  --edition E     2021 (each example compiled on its own) or 2024 (merged); repeatable, default both
  --functions F   documented functions, one example each (default 240)
  --jobs N        workers / test threads (default 2)
  --runs K        timed runs per tool (default 3)
  --seed S        workload seed (default 1)
  --keep DIR      generate into DIR/<edition> and keep it (default: a temporary directory)";

struct Options {
    editions: Vec<u32>,
    functions: usize,
    jobs: usize,
    runs: usize,
    seed: u64,
    keep: Option<PathBuf>,
}

impl Options {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Options> {
        let mut options = Options {
            editions: Vec::new(),
            functions: 240,
            jobs: 2,
            runs: 3,
            seed: 1,
            keep: None,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--bench" => {}
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                "--edition" => {
                    let edition: u32 = value()?.parse().context("--edition takes 2021 or 2024")?;
                    ensure!(
                        matches!(edition, 2021 | 2024),
                        "--edition takes 2021 or 2024"
                    );
                    options.editions.push(edition);
                }
                "--functions" => options.functions = value()?.parse()?,
                "--jobs" | "-n" => options.jobs = value()?.parse()?,
                "--runs" => options.runs = value()?.parse()?,
                "--seed" => options.seed = value()?.parse()?,
                "--keep" => {
                    let dir = PathBuf::from(value()?);
                    options.keep = Some(std::path::absolute(&dir).unwrap_or(dir));
                }
                other => bail!("unexpected argument {other:?}\n{USAGE}"),
            }
        }
        ensure!(
            options.runs > 0 && options.jobs > 0 && options.functions > 0,
            "{USAGE}"
        );
        if options.editions.is_empty() {
            options.editions = vec![2021, 2024];
        }
        Ok(options)
    }

    fn command_line(&self) -> String {
        let mut out = String::from("cargo bench --bench doctests --");
        for edition in &self.editions {
            let _ = write!(out, " --edition {edition}");
        }
        let _ = write!(
            out,
            " --functions {} --jobs {} --runs {} --seed {}",
            self.functions, self.jobs, self.runs, self.seed
        );
        out
    }
}

/// One `#[test]` function: trivial, a sleep, or a fixed amount of CPU work.
fn test_fn(out: &mut String, name: &str, kind: &str, ms: u64) {
    let body = match kind {
        "sleep" => format!("std::thread::sleep(std::time::Duration::from_millis({ms}));"),
        "cpu" => format!("assert_ne!(spin({ms} * {SPIN_ITERS_PER_MS}), 0);"),
        _ => "assert_eq!(std::hint::black_box(2) * 2, 4);".to_string(),
    };
    let _ = writeln!(out, "#[test]\nfn {name}() {{\n    {body}\n}}\n");
}

const SPIN: &str = "fn spin(iters: u64) -> u64 {\n    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;\n    \
    for _ in 0..iters {\n        x ^= x << 13;\n        x ^= x >> 7;\n        x ^= x << 17;\n    }\n    \
    std::hint::black_box(x)\n}\n\n";

/// The library: `functions` documented functions, one example each, and its unit tests.
fn lib_rs(options: &Options, edition: u32, rng: &mut Rng) -> String {
    let mut out = format!(
        "//! Generated by runner's benches/doctests.rs (edition {edition}, seed {}). Do not edit.\n\n",
        options.seed
    );
    for i in 0..options.functions {
        let k = rng.range(1, 1000);
        let _ = writeln!(
            out,
            "/// Adds {k} to `x`.\n///\n/// ```\n/// let y = docs::f{i:03}(1);\n/// \
             assert_eq!(y, {});\n/// ```\npub fn f{i:03}(x: u64) -> u64 {{\n    x + {k}\n}}\n",
            k + 1
        );
    }
    out.push_str("#[cfg(test)]\nmod tests {\n");
    let mut tests = String::from(SPIN);
    for i in 0..30 {
        test_fn(&mut tests, &format!("trivial_{i:02}"), "trivial", 0);
    }
    for i in 0..10 {
        let ms = rng.range(100, 400);
        test_fn(&mut tests, &format!("sleep_{i:02}"), "sleep", ms);
    }
    for i in 0..6 {
        let ms = rng.range(50, 200);
        test_fn(&mut tests, &format!("cpu_{i:02}"), "cpu", ms);
    }
    for line in tests.lines() {
        match line.is_empty() {
            true => out.push('\n'),
            false => {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    out.push_str("}\n");
    out
}

/// The integration test file: longer sleeps and a few trivial tests.
fn it_rs(rng: &mut Rng) -> String {
    let mut out = String::from("//! Generated by runner's benches/doctests.rs. Do not edit.\n\n");
    for i in 0..8 {
        let ms = rng.range(200, 700);
        test_fn(&mut out, &format!("it_sleep_{i:02}"), "sleep", ms);
    }
    for i in 0..4 {
        test_fn(&mut out, &format!("it_trivial_{i:02}"), "trivial", 0);
    }
    out
}

/// Write the workspace into `dir` (files already right are left alone, so that a kept
/// workspace is not rebuilt) and return its manifest.
fn write_workspace(options: &Options, edition: u32, dir: &Path) -> Result<PathBuf> {
    let mut rng = Rng::new(options.seed ^ u64::from(edition));
    let manifest = dir.join("Cargo.toml");
    let files = [
        (
            manifest.clone(),
            format!(
                "[package]\nname = \"docs\"\nversion = \"0.1.0\"\nedition = \"{edition}\"\n\
                 publish = false\n\n[workspace]\n"
            ),
        ),
        (dir.join("src/lib.rs"), lib_rs(options, edition, &mut rng)),
        (dir.join("tests/it.rs"), it_rs(&mut rng)),
    ];
    for (path, text) in files {
        if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
            continue;
        }
        std::fs::create_dir_all(path.parent().context("a parent")?)?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(manifest)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tool {
    CargoTest,
    NextestThenDoc,
    RunnerDoc,
}

const TOOLS: [Tool; 3] = [Tool::CargoTest, Tool::NextestThenDoc, Tool::RunnerDoc];

impl Tool {
    fn label(self) -> &'static str {
        match self {
            Tool::CargoTest => "cargo test",
            Tool::NextestThenDoc => "cargo nextest run + cargo test --doc",
            Tool::RunnerDoc => "runner --doc",
        }
    }
}

/// Where a generated workspace is built and how its tools are started.
struct Space {
    manifest: PathBuf,
    target_dir: PathBuf,
    cargo: String,
    runner: PathBuf,
    jobs: usize,
}

impl Space {
    /// A command without this bench's cargo variables (or the user's RUNNER_* and NEXTEST_*
    /// settings), with the workspace's own target directory.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        harness::clean_command(program, &self.target_dir)
    }

    fn cargo(&self, args: &[&str]) -> Command {
        let mut command = self.command(&self.cargo);
        command
            .args(args)
            .arg("--manifest-path")
            .arg(&self.manifest);
        command
    }

    /// The commands of one tool, run one after the other.
    fn commands(&self, tool: Tool) -> Vec<Command> {
        let n = self.jobs.to_string();
        let threads = ["-q", "--", "--test-threads", n.as_str()];
        match tool {
            Tool::CargoTest => {
                let mut test = self.cargo(&["test"]);
                test.args(threads);
                vec![test]
            }
            Tool::NextestThenDoc => {
                let nextest = self.cargo(&["nextest", "run", "-j", &n]);
                let mut doc = self.cargo(&["test", "--doc"]);
                doc.args(threads);
                vec![nextest, doc]
            }
            Tool::RunnerDoc => {
                let mut runner = self.command(&self.runner);
                runner.args(["--doc", "-q", "-n", &n, "--manifest-path"]);
                runner.arg(&self.manifest);
                vec![runner]
            }
        }
    }

    /// Run `tool` once; its wall time in seconds, from the first start to the last exit.
    fn time(&self, tool: Tool) -> Result<f64> {
        let start = Instant::now();
        for mut command in self.commands(tool) {
            let output = command.output().context("starting a tool")?;
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
                bail!(
                    "{} failed ({}):\n{}",
                    tool.label(),
                    output.status,
                    tail.join("\n")
                );
            }
        }
        Ok(start.elapsed().as_secs_f64())
    }
}

/// Build, warm up and time one edition; the README row.
fn measure(options: &Options, edition: u32, root: &Path) -> Result<String> {
    let dir = root.join(edition.to_string());
    let manifest = write_workspace(options, edition, &dir)?;
    let space = Space {
        target_dir: dir.join("target"),
        manifest,
        cargo: std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
        runner: PathBuf::from(env!("CARGO_BIN_EXE_runner")),
        jobs: options.jobs,
    };
    eprintln!("edition {edition}: building in {}", dir.display());
    for args in [&["test", "--no-run"][..], &["nextest", "run", "--no-run"]] {
        let status = space.cargo(args).stdout(Stdio::null()).status()?;
        ensure!(status.success(), "`cargo {}` failed", args.join(" "));
    }
    eprintln!("edition {edition}: warm-up run of runner --doc (its timing history)");
    space.time(Tool::RunnerDoc)?;
    let mut times = vec![Vec::new(); TOOLS.len()];
    for round in 0..options.runs {
        for offset in 0..TOOLS.len() {
            let index = (round + offset) % TOOLS.len();
            let secs = space.time(TOOLS[index])?;
            eprintln!(
                "  round {}: {:<38} {secs:.2} s",
                round + 1,
                TOOLS[index].label()
            );
            times[index].push(secs);
        }
    }
    let medians: Vec<f64> = times.iter().map(|t| median(t).unwrap_or(0.0)).collect();
    println!(
        "\nedition {edition}, {} documented functions, -n {}:",
        options.functions, options.jobs
    );
    for (tool, values) in TOOLS.iter().zip(&times) {
        let (lo, hi) = values
            .iter()
            .fold((f64::MAX, 0f64), |(l, h), &v| (l.min(v), h.max(v)));
        let label = tool.label();
        println!(
            "  {label:<38} median {:.2} s  [{lo:.2} - {hi:.2}]",
            median(values).unwrap_or(0.0)
        );
    }
    let (cargo, nextest, runner) = (medians[0], medians[1], medians[2]);
    Ok(format!(
        "| {edition} | {} | {} | {cargo:.2} s | {nextest:.2} s | {runner:.2} s | {:.2} | {:.2} |",
        options.functions,
        options.jobs,
        runner / cargo,
        runner / nextest
    ))
}

fn main() -> Result<()> {
    let options = Options::parse(std::env::args().skip(1))?;
    let temp;
    let root = match &options.keep {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let mut rows = Vec::new();
    for &edition in &options.editions {
        rows.push(measure(&options, edition, &root)?);
    }
    println!("\n| edition | doctests | -n | cargo test | cargo nextest run + cargo test --doc | runner --doc | runner / cargo test | runner / (nextest + doc) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    println!(
        "\nMedian wall time of {} runs per tool. Reproduce with:\n\n    {}",
        options.runs,
        options.command_line()
    );
    Ok(())
}
