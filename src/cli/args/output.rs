//! The flags of what the human report shows of each test: its status lines, its output and
//! how much of it, and whether output is captured at all.

use clap::{Args, ValueEnum};

/// When a test's captured output is shown (nextest's spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputWhen {
    Never,
    /// As the test ends.
    Immediate,
    /// In the closing report.
    Final,
    /// Both.
    ImmediateFinal,
}

/// Which statuses get a line (nextest's levels, each including those before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum StatusLevelArg {
    None,
    Fail,
    #[value(alias = "flaky")]
    Retry,
    Slow,
    Leak,
    Pass,
    Skip,
    All,
}

/// What the human report shows of each test.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Let the tests' output pass straight through to the terminal (tests then run one at a
    /// time, so that their output does not interleave).
    #[arg(
        long,
        alias = "nocapture",
        conflicts_with_all = ["batch", "compare", "compare_modes"]
    )]
    pub no_capture: bool,

    /// When to show the output of tests that pass [default: never].
    #[arg(long, value_enum, value_name = "WHEN")]
    pub success_output: Option<OutputWhen>,

    /// Give every test `RUST_BACKTRACE` as set. Without it, a test that passed with a panic
    /// last time (`#[should_panic]`, a poisoned lock) runs with `RUST_BACKTRACE=0`: the
    /// backtrace nobody reads costs each such process ~0.1 s.
    #[arg(long)]
    pub keep_backtraces: bool,

    /// When to show the output of tests that fail [default: immediate].
    #[arg(long, value_enum, value_name = "WHEN")]
    pub failure_output: Option<OutputWhen>,

    /// Which test statuses get a line as they happen [default: slow; -v: all; -q: fail].
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub status_level: Option<StatusLevelArg>,

    /// Which test statuses are listed in the closing report [default: flaky; -q: fail].
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub final_status_level: Option<StatusLevelArg>,

    /// Show at most the last N lines of each stream of a test's output [default: what fits
    /// the terminal's height, 100 lines elsewhere].
    #[arg(long, value_name = "N")]
    pub output_lines: Option<usize>,

    /// Show at most the last N bytes of each stream of a test's output [default: what fits
    /// the terminal, 16384 elsewhere].
    #[arg(long, value_name = "N")]
    pub output_bytes: Option<usize>,
}
