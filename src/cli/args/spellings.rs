//! Options a cargo or nextest user types that have no field of their own otherwise: the other
//! spellings of existing options (`-j`, `--test-threads`, `--fail-fast`, `--max-fail`) are
//! aliases on those options' own fields.

use clap::{Args, ValueEnum};

/// nextest's `--run-ignored`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunIgnored {
    /// Only ignored tests (`--ignored`).
    Only,
    /// Tests that are not ignored.
    Default,
    /// Both (`--include-ignored`).
    All,
}

#[derive(Debug, Clone, Default, Args)]
pub struct Spellings {
    /// Run every test whatever fails (the default; overrides `fail-fast` in the profile).
    #[arg(long, conflicts_with_all = ["exitfirst", "maxfail"])]
    pub no_fail_fast: bool,
}
