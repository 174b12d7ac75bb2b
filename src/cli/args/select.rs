//! The options a run, `runner list` and `runner predict` share word for word: which tests by
//! name, filter expression and ignored mark, and which config file and profile. Declared once
//! and flattened into each, so that their spelling and help cannot drift apart.

use clap::Args;

use super::RunIgnored;

/// Which tests, beside the positional name filters.
#[derive(Debug, Clone, Default, Args)]
pub struct SelectArgs {
    /// Filters must match test names exactly.
    #[arg(long)]
    pub exact: bool,

    /// Leave out tests whose name contains PAT (exactly PAT with --exact). Repeatable.
    #[arg(long, value_name = "PAT")]
    pub skip: Vec<String>,

    /// Only tests in this filter expression, e.g. 'package(core) & test(parse)'. Repeatable:
    /// a test in any of them is selected (and must match the name filters too).
    #[arg(
        short = 'E',
        long = "filter-expr",
        alias = "filterset",
        value_name = "EXPR"
    )]
    pub filter_exprs: Vec<String>,

    /// Only ignored tests.
    #[arg(long, conflicts_with = "include_ignored")]
    pub ignored: bool,

    /// Ignored tests as well as the others.
    #[arg(long)]
    pub include_ignored: bool,

    /// Which tests by their ignored mark (nextest's spelling of --ignored and
    /// --include-ignored).
    #[arg(
        long,
        value_enum,
        value_name = "WHICH",
        conflicts_with_all = ["ignored", "include_ignored"]
    )]
    pub run_ignored: Option<RunIgnored>,
}

/// Which settings: the profile, and the file it is read from.
#[derive(Debug, Clone, Default, Args)]
pub struct ProfileArgs {
    /// Settings profile from `.config/runner.toml` [default: `default` if the file has one].
    #[arg(long, value_name = "NAME", env = "RUNNER_PROFILE")]
    pub profile: Option<String>,

    /// Read the settings from this file instead of looking for `.config/runner.toml`.
    #[arg(long, value_name = "PATH")]
    pub config_file: Option<std::path::PathBuf>,
}
