//! What the benchmarks share: the machine they measure on (cargo, the runner, nextest, rustc,
//! its cores), commands whose environment leaks nothing of the bench into the tools, timing a
//! command, and the median of a few runs.

// Each bench uses its own subset of these helpers.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The tools and the machine a benchmark measures.
pub struct Machine {
    pub cargo: OsString,
    pub runner: PathBuf,
    pub cores: usize,
    /// First line of `cargo nextest --version`, or why it is unusable.
    pub nextest: Result<String, String>,
    pub rustc: String,
}

impl Machine {
    /// Say what is measured: the cores, rustc, which runner, and nextest or why it is left out.
    pub fn announce(&self, bench: &str) {
        println!(
            "runner {bench}: {} cores, {}, runner at {}",
            self.cores,
            self.rustc,
            self.runner.display()
        );
        match &self.nextest {
            Ok(version) => println!("nextest: {version}"),
            Err(why) => println!("nextest: skipped ({why})"),
        }
        println!("tests see {}", backtrace_setting());
        match as_typed() {
            true => println!(
                "tools started as typed at a terminal: `cargo` from PATH, `runner` without $CARGO"
            ),
            false => println!("tools started through $CARGO (no `cargo` on PATH)"),
        }
    }

    pub fn detect() -> Machine {
        // The cargo a person types (see `as_typed`), else the one that runs this bench.
        let cargo = match as_typed() {
            true => "cargo".into(),
            false => std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
        };
        let version = |program: &OsStr, args: &[&str]| {
            let out = Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("could not start: {e}"))?;
            match out.status.success() {
                true => Ok(first_line(&out.stdout)),
                false => Err(format!("{}: {}", out.status, first_line(&out.stderr))),
            }
        };
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        Machine {
            nextest: version(&cargo, &["nextest", "--version"])
                .map_err(|e| format!("`cargo nextest --version` failed ({e})")),
            rustc: version(&rustc, &["--version"])
                .unwrap_or_else(|_| "rustc (unknown version)".into()),
            cargo,
            runner: PathBuf::from(env!("CARGO_BIN_EXE_runner")),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// `program` with a target directory of its own and an environment that does not leak this
/// bench's cargo variables (or a user's RUNNER_*/NEXTEST_* settings) into the tools.
pub fn clean_command(program: impl AsRef<OsStr>, target_dir: &Path) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let leak = ["CARGO_PKG_", "CARGO_BIN_EXE_", "RUNNER_", "NEXTEST_"]
            .iter()
            .any(|prefix| key.starts_with(prefix))
            || matches!(
                key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_MAKEFLAGS"
                    | "OUT_DIR"
                    | "RUST_TEST_THREADS"
            );
        if leak {
            command.env_remove(key);
        }
    }
    if as_typed() {
        undo_rustup(&mut command);
    }
    command
        .env("CARGO_TARGET_DIR", target_dir)
        .env("CARGO_TERM_COLOR", "never")
        .stdin(Stdio::null());
    command
}

/// Whether the tools are started as a person at a terminal starts them: `cargo test` and
/// `cargo nextest` through the `cargo` on PATH (rustup's proxy, on most machines), `runner`
/// finding cargo itself. So whenever `cargo` is on PATH; else through `$CARGO`.
fn as_typed() -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| dir.join("cargo").is_file())
}

/// Take out of `command`'s environment what `cargo bench` (through rustup) put in it for this
/// bench and a terminal does not have: `$CARGO`, and what rustup sets for the one cargo it
/// starts (the toolchain it chose, unless a person chose it with `+toolchain` or
/// `RUSTUP_TOOLCHAIN`; the toolchain's library directory; its recursion count).
fn undo_rustup(command: &mut Command) {
    command
        .env_remove("CARGO")
        .env_remove("RUST_RECURSION_COUNT");
    let var = |name: &str| std::env::var(name).ok();
    let source = var("RUSTUP_TOOLCHAIN_SOURCE");
    let chosen = matches!(source.as_deref(), Some("cli" | "env") | None);
    command.env_remove("RUSTUP_TOOLCHAIN_SOURCE");
    let (Some(toolchain), Some(home)) = (var("RUSTUP_TOOLCHAIN"), var("RUSTUP_HOME")) else {
        return;
    };
    if !chosen {
        command.env_remove("RUSTUP_TOOLCHAIN");
    }
    let library = Path::new(&home)
        .join("toolchains")
        .join(toolchain)
        .join("lib");
    if let Some(paths) = std::env::var_os("LD_LIBRARY_PATH") {
        let kept: Vec<PathBuf> = std::env::split_paths(&paths)
            .filter(|dir| *dir != library)
            .collect();
        match kept.is_empty() {
            true => command.env_remove("LD_LIBRARY_PATH"),
            false => command.env(
                "LD_LIBRARY_PATH",
                std::env::join_paths(kept).unwrap_or_default(),
            ),
        };
    }
}

/// Run `command` to its end; its wall time in seconds, or an error with the end of its output.
pub fn timed(command: &mut Command, what: &str) -> Result<(f64, Output)> {
    let start = Instant::now();
    let output = command
        .output()
        .with_context(|| format!("{what}: could not start {:?}", command.get_program()))?;
    let secs = start.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "{what} failed ({})\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}",
            output.status,
            tail(&output.stdout, 15),
            tail(&output.stderr, 25)
        );
    }
    Ok((secs, output))
}

/// The last `lines` lines of some output.
pub fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines().next().unwrap_or("").trim().to_string()
}

/// The median of some runs' figures; `None` for no runs.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 0 => Some((sorted[mid - 1] + sorted[mid]) / 2.0),
        _ => Some(sorted[mid]),
    }
}

/// Copy a directory tree; the copies are writable (a registry's sources are read-only, and
/// tests may write beside their sources).
pub fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
            let mut permissions = std::fs::metadata(&dest)?.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            permissions.set_readonly(false);
            std::fs::set_permissions(&dest, permissions)?;
        }
    }
    Ok(())
}

/// One flag of a bench's command line, and the means to take its value (`--flag value` or
/// `--flag=value`).
pub struct Flag<'a> {
    pub name: String,
    inline: Option<String>,
    rest: &'a mut dyn Iterator<Item = String>,
    usage: &'a str,
}

impl Flag<'_> {
    /// The flag's value as given.
    pub fn text(&mut self) -> Result<String> {
        match self.inline.take() {
            Some(value) => Ok(value),
            None => (self.rest.next())
                .with_context(|| format!("{} needs a value\n{}", self.name, self.usage)),
        }
    }

    /// A count of at least one (runs, workers, functions...).
    pub fn count(&mut self) -> Result<usize> {
        let text = self.text()?;
        match text.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("{} takes a number of at least 1, not {text:?}", self.name),
        }
    }

    /// Any number (a seed).
    pub fn number<T: std::str::FromStr>(&mut self) -> Result<T> {
        let text = self.text()?;
        (text.parse()).map_err(|_| anyhow::anyhow!("{} takes a number, not {text:?}", self.name))
    }

    /// A path, made absolute: `cargo bench` runs a bench from the package root, so a relative
    /// path would not be where the user meant.
    pub fn path(&mut self) -> Result<PathBuf> {
        let path = PathBuf::from(self.text()?);
        Ok(std::path::absolute(&path).unwrap_or(path))
    }
}

/// Read a bench's command line: `--bench` (which `cargo bench` passes to every bench binary) is
/// skipped, `-h`/`--help` prints `usage` and exits, and every other flag goes to `on_flag`,
/// which returns whether it knows the flag.
pub fn parse_flags(
    args: impl IntoIterator<Item = String>,
    usage: &str,
    mut on_flag: impl FnMut(&mut Flag) -> Result<bool>,
) -> Result<()> {
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value.into())),
            _ => (arg, None),
        };
        match name.as_str() {
            "--bench" => continue,
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            _ => {}
        }
        let mut flag = Flag {
            name,
            inline,
            rest: &mut args,
            usage,
        };
        if !on_flag(&mut flag)? {
            bail!("unexpected argument {:?}\n{usage}", flag.name);
        }
    }
    Ok(())
}

/// End a bench with `run`'s exit code, or with 1 and its error and causes on one line.
pub fn exit_with(result: Result<i32>) -> ! {
    let code = result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        1
    });
    std::process::exit(code)
}

/// `RUST_BACKTRACE` as every tool's tests see it: with it set, each panic costs a debug test
/// binary its symbolising (once per process), which moves every figure.
pub fn backtrace_setting() -> String {
    match std::env::var("RUST_BACKTRACE") {
        Ok(value) => format!("RUST_BACKTRACE={value}"),
        Err(_) => "RUST_BACKTRACE unset".to_string(),
    }
}
