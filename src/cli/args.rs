//! Command-line surface: clap types and nothing else.
//!
//! The rest of the program never sees clap; [`crate::cli`] turns [`Cli`] into a checked,
//! clap-free `RunConfig`.

use clap::{Args, Parser, Subcommand, ValueEnum};

mod list;
mod output;
mod pictures;
mod reuse;
mod select;
mod spellings;

pub use list::{ListArgs, PredictArgs};
pub use output::{OutputArgs, OutputWhen, StatusLevelArg};
pub use pictures::{PictureArgs, TimelineArgs};
pub use reuse::{ArchiveArgs, FromArchiveArgs, TimingsCommand};
pub use select::{ProfileArgs, SelectArgs};
pub use spellings::{RunIgnored, Spellings};

/// Parallel test runner for Rust workspaces: every test in its own process.
#[derive(Debug, Parser)]
#[command(
    name = "runner",
    version,
    about,
    args_conflicts_with_subcommands = true,
    after_help = "Exit codes: 0 all passed, 100 a test failed, 101 the build failed, \
                  104 a binary could not be listed, 4 no test selected, 2 usage error, 1 internal error, \
                  3 junit-merge: the shards do not add up, 102 the archive could not be made or read."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

// Parsed once per process and moved out at once: the size of a variant costs nothing here.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build, list and run the selected tests (the default).
    Run(RunArgs),
    /// Print the selected tests grouped by binary, without running them.
    List(ListArgs),
    /// Predict the selection's wall time for 1, 2, 4... workers from the timing history,
    /// without running it.
    Predict(PredictArgs),
    /// Print the effective settings: which file and profile, the groups, the overrides, the
    /// wrapper, target runner and setup scripts; with `test NAME`, the settings that test gets
    /// and where each comes from, its setup scripts and command line. Takes a run's options,
    /// so that their effect shows.
    #[command(override_usage = "runner show-config [test NAME] [OPTIONS]")]
    ShowConfig(RunArgs),
    /// Combine the JUnit reports of several shards into one file with correct totals; the shards
    /// of a partitioned run must add up to their selection (exit 3 names what does not).
    JunitMerge {
        /// The merged report to write.
        output: std::path::PathBuf,
        /// The shard reports to read.
        #[arg(required = true)]
        inputs: Vec<std::path::PathBuf>,
    },
    /// Build the tests (or take the built ones) and pack them, with what they need to run, into
    /// one file that `runner --archive-file FILE` runs on a machine without cargo.
    Archive(ArchiveArgs),
    /// Timings files for `--partition time:K/N --timings FILE`.
    Timings {
        #[command(subcommand)]
        command: TimingsCommand,
    },
    /// Draw a run's timeline (and Chrome trace) from its saved `--message-format json` output.
    #[command(arg_required_else_help = true)]
    Timeline(TimelineArgs),
    /// Print a shell completion script (e.g. `runner completions bash > /etc/bash_completion.d/runner`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Write the completion script for `shell` to `out`.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "runner", out);
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum NoTestsChoice {
    Pass,
    Warn,
    #[default]
    Fail,
}

/// Whether a questionable pass (leaky, flaky) counts as a pass or a failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum PassOrFail {
    #[default]
    Pass,
    Fail,
}

/// The order tests start in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OrderChoice {
    /// Failed last time first, then tests with no history, then longest first.
    #[default]
    Auto,
    /// Binary, then test name.
    Name,
    /// Shuffled; `--seed` replays an order.
    Random,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Run only tests whose name contains one of these substrings.
    #[arg(value_name = "FILTER")]
    pub filters: Vec<String>,

    /// Number of worker processes: a number, or `auto` (as many as CPUs, more when the timing
    /// history shows the tests mostly wait).
    #[arg(
        short = 'n',
        long = "jobs",
        short_alias = 'j',
        alias = "test-threads",
        value_name = "N|auto",
        env = "RUNNER_JOBS",
        allow_negative_numbers = true
    )]
    pub jobs: Option<String>,

    #[command(flatten)]
    pub select: SelectArgs,

    /// Stop starting tests after the first failure.
    #[arg(short = 'x', long = "exitfirst", alias = "fail-fast")]
    pub exitfirst: bool,

    /// Stop starting tests after N failures.
    #[arg(
        long,
        value_name = "N",
        alias = "max-fail",
        conflicts_with = "exitfirst"
    )]
    pub maxfail: Option<usize>,

    /// One line per finished test.
    #[arg(short, long, conflicts_with = "quiet")]
    pub verbose: bool,

    /// Only failures and the summary.
    #[arg(short, long)]
    pub quiet: bool,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub spellings: Spellings,

    /// Set when `jobs` came from `RUNNER_JOBS`, so that an error names the variable.
    #[arg(skip)]
    pub jobs_from_env: bool,

    /// When to use colours (NO_COLOR is honoured with `auto`).
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: ColorChoice,

    /// What to do when no test is selected [default: fail].
    #[arg(long, value_enum, value_name = "ACTION")]
    pub no_tests: Option<NoTestsChoice>,

    /// Output format of the run: human text, or JSON events on stdout (one per line).
    #[arg(long, value_enum, default_value = "human", value_name = "FMT")]
    pub message_format: MessageFormat,

    /// `runner list`'s `--format` (see [`ListArgs`]); a run has none.
    #[arg(skip)]
    pub list_format: ListFormat,

    #[command(flatten)]
    pub settings: ProfileArgs,

    /// Print a SLOW line for a test still running after this long, and again each period
    /// (`off` for never) [default: 60s].
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts and retries")]
    pub slow_timeout: Option<String>,

    /// End a test that runs longer than this (SIGTERM, then SIGKILL): outcome TIMEOUT.
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts and retries")]
    pub timeout: Option<String>,

    /// Time between SIGTERM and SIGKILL for a timed-out or cancelled test [default: 5s].
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts and retries")]
    pub timeout_grace: Option<String>,

    /// How long a test's leftover processes may hold its output open after it exits
    /// [default: 200ms].
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts and retries")]
    pub leak_timeout: Option<String>,

    /// Whether a LEAKY test passes or fails [default: pass].
    #[arg(
        long,
        value_enum,
        value_name = "RESULT",
        help_heading = "Timeouts and retries"
    )]
    pub leak_result: Option<PassOrFail>,

    /// Run a failed test again up to N times; a later pass makes it FLAKY [default: 0].
    #[arg(long, value_name = "N", help_heading = "Timeouts and retries")]
    pub retries: Option<u32>,

    /// Whether a FLAKY test passes or fails the run [default: pass].
    #[arg(
        long,
        value_enum,
        value_name = "RESULT",
        help_heading = "Timeouts and retries"
    )]
    pub flaky_result: Option<PassOrFail>,

    /// How long a binary may take to list its tests [default: 60s].
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts and retries")]
    pub list_timeout: Option<String>,

    /// The order tests start in [default: auto].
    #[arg(long, value_enum, value_name = "ORDER", help_heading = "Order")]
    pub order: Option<OrderChoice>,

    /// Seed for `--order random` (printed when not given).
    #[arg(long, value_name = "N", help_heading = "Order")]
    pub seed: Option<u64>,

    /// Run only the tests that failed last time (all of them if none did).
    #[arg(
        long = "lf",
        visible_alias = "last-failed",
        conflicts_with = "failed_first",
        help_heading = "Order"
    )]
    pub last_failed: bool,

    /// Run the tests that failed last time first, then the rest.
    #[arg(long = "ff", visible_alias = "failed-first", help_heading = "Order")]
    pub failed_first: bool,

    /// Run one shard of the selection: hash:K/N, count:K/N, time:K/N, or auto (from the CI's
    /// own variables).
    #[arg(long, value_name = "SPEC", help_heading = "Reports")]
    pub partition: Option<String>,

    /// The durations a time: partition balances on (from `runner timings export`), and
    /// nothing else; with `--partition auto`, the time scheme.
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub timings: Option<std::path::PathBuf>,

    /// Write a JUnit XML report to PATH (also when the run fails or is interrupted).
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub junit: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub pictures: PictureArgs,

    /// Run the selection once serially and once in parallel, and compare the two runs.
    #[arg(long, conflicts_with = "compare_modes")]
    pub compare: bool,

    /// Run many tests of a binary per process (for suites of tiny tests that share no state).
    #[arg(long, help_heading = "Threads or processes")]
    pub batch: bool,

    /// Run the selection one process per test and batched, and compare the two runs.
    #[arg(long, help_heading = "Threads or processes")]
    pub compare_modes: bool,

    /// With --compare or --compare-modes: run each pass N times, taking turns, and compare
    /// the median wall times with their spread [default: 1].
    #[arg(long, value_name = "N")]
    pub runs: Option<usize>,

    /// Also run the doctests of every selected library (compiled by rustdoc on every run).
    #[arg(long, help_heading = "Doctests")]
    pub doc: bool,

    /// Run only the doctests of the selected libraries.
    #[arg(long, conflicts_with = "doc", help_heading = "Doctests")]
    pub doc_only: bool,

    /// Build and list the selected tests and say what would run, but run nothing (no test,
    /// no setup script). Exit codes as a run's: 0, 101 build failed, 104 a binary could not
    /// be listed, 4 no test selected.
    #[arg(long, conflicts_with_all = ["compare", "compare_modes"])]
    pub no_run: bool,

    /// Run these prebuilt test binaries instead of building with cargo. Repeatable.
    #[arg(long = "binary", value_name = "PATH")]
    pub binaries: Vec<std::path::PathBuf>,

    #[command(flatten)]
    pub archive: FromArchiveArgs,

    #[command(flatten)]
    pub cargo: CargoArgs,
}

/// Flags passed through to `cargo test --no-run`.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Cargo options")]
pub struct CargoArgs {
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<std::path::PathBuf>,

    /// Package to test. Repeatable.
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub packages: Vec<String>,

    /// Test all packages in the workspace.
    #[arg(long)]
    pub workspace: bool,

    /// Exclude packages from the test. Repeatable.
    #[arg(long, value_name = "SPEC")]
    pub exclude: Vec<String>,

    /// Test only this package's library.
    #[arg(long)]
    pub lib: bool,

    /// Test all binaries.
    #[arg(long)]
    pub bins: bool,

    /// Test only this binary. Repeatable.
    #[arg(long = "bin", value_name = "NAME")]
    pub bin: Vec<String>,

    /// Test all integration tests.
    #[arg(long)]
    pub tests: bool,

    /// Test only this integration test. Repeatable.
    #[arg(long = "test", value_name = "NAME")]
    pub test: Vec<String>,

    /// Features to activate (space or comma separated). Repeatable.
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub features: Vec<String>,

    /// Activate all available features.
    #[arg(long)]
    pub all_features: bool,

    /// Do not activate the `default` feature.
    #[arg(long)]
    pub no_default_features: bool,

    /// Build in release mode.
    #[arg(long)]
    pub release: bool,

    /// Build with this cargo profile.
    #[arg(long, value_name = "NAME", conflicts_with = "release")]
    pub cargo_profile: Option<String>,

    /// Directory for all generated artifacts.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<std::path::PathBuf>,

    /// Build for this target triple; its target runner from cargo's config runs the tests.
    #[arg(long, value_name = "TRIPLE")]
    pub target: Option<String>,

    /// Require Cargo.lock to be up to date.
    #[arg(long)]
    pub locked: bool,

    /// Run without accessing the network.
    #[arg(long)]
    pub offline: bool,

    /// Build every test binary before the first test starts (by default the tests of built
    /// binaries start while cargo is still building the others).
    #[arg(long)]
    pub no_overlap: bool,
}

impl CargoArgs {
    /// Flags choosing which packages and targets to test, as cargo spells them.
    pub fn selection_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        for package in &self.packages {
            out.extend(["--package".to_string(), package.clone()]);
        }
        if self.workspace {
            out.push("--workspace".into());
        }
        for package in &self.exclude {
            out.extend(["--exclude".to_string(), package.clone()]);
        }
        let switches = [
            (self.lib, "--lib"),
            (self.bins, "--bins"),
            (self.tests, "--tests"),
        ];
        out.extend(
            switches
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, f)| f.to_string()),
        );
        for bin in &self.bin {
            out.extend(["--bin".to_string(), bin.clone()]);
        }
        for test in &self.test {
            out.extend(["--test".to_string(), test.clone()]);
        }
        out
    }

    /// Flags deciding how the workspace is built, as cargo spells them; a rerun repeats them.
    pub fn build_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(path) = &self.manifest_path {
            out.extend(["--manifest-path".to_string(), path.display().to_string()]);
        }
        for features in &self.features {
            out.extend(["--features".to_string(), features.clone()]);
        }
        let switches = [
            (self.all_features, "--all-features"),
            (self.no_default_features, "--no-default-features"),
            (self.release, "--release"),
            (self.locked, "--locked"),
            (self.offline, "--offline"),
        ];
        out.extend(
            switches
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, f)| f.to_string()),
        );
        if let Some(profile) = &self.cargo_profile {
            out.extend(["--profile".to_string(), profile.clone()]);
        }
        if let Some(dir) = &self.target_dir {
            out.extend(["--target-dir".to_string(), dir.display().to_string()]);
        }
        if let Some(target) = &self.target {
            out.extend(["--target".to_string(), target.clone()]);
        }
        out
    }
}

#[cfg(test)]
mod tests;
