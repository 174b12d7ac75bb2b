//! `runner list`'s own options: those that choose the tests and how they are printed. The
//! options of a run (workers, timeouts, reports...) are not among them, so giving one to
//! `list` is an error rather than silently meaningless.

use clap::Args;

use super::{CargoArgs, FromArchiveArgs, ListFormat, ProfileArgs, RunArgs, SelectArgs};

#[derive(Debug, Clone, Default, Args)]
pub struct ListArgs {
    /// List only tests whose name contains one of these substrings.
    #[arg(value_name = "FILTER")]
    pub filters: Vec<String>,

    #[command(flatten)]
    pub select: SelectArgs,

    /// Only the tests that failed last time (all of them if none did).
    #[arg(long = "lf", visible_alias = "last-failed")]
    pub last_failed: bool,

    /// One shard of the selection: hash:K/N, count:K/N, time:K/N, or auto.
    #[arg(long, value_name = "SPEC")]
    pub partition: Option<String>,

    /// The durations a time: partition balances on (from `runner timings export`).
    #[arg(long, value_name = "FILE")]
    pub timings: Option<std::path::PathBuf>,

    /// Output format (`--message-format` is the same option, as a run spells it).
    #[arg(
        long,
        visible_alias = "message-format",
        value_enum,
        default_value = "human",
        value_name = "FMT"
    )]
    pub format: ListFormat,

    #[command(flatten)]
    pub settings: ProfileArgs,

    /// How long a binary may take to list its tests [default: 60s].
    #[arg(long, value_name = "DURATION")]
    pub list_timeout: Option<String>,

    /// Also list the doctests of every selected library.
    #[arg(long)]
    pub doc: bool,

    /// List only the doctests of the selected libraries.
    #[arg(long, conflicts_with = "doc")]
    pub doc_only: bool,

    /// List the tests of these prebuilt test binaries instead of building with cargo.
    #[arg(long = "binary", value_name = "PATH")]
    pub binaries: Vec<std::path::PathBuf>,

    #[command(flatten)]
    pub archive: FromArchiveArgs,

    #[command(flatten)]
    pub cargo: CargoArgs,
}

impl ListArgs {
    /// The same choices as a run's arguments, every run-only option at its default.
    pub fn into_run_args(self) -> RunArgs {
        RunArgs {
            filters: self.filters,
            select: self.select,
            last_failed: self.last_failed,
            partition: self.partition,
            timings: self.timings,
            archive: self.archive,
            list_format: self.format,
            settings: self.settings,
            list_timeout: self.list_timeout,
            binaries: self.binaries,
            doc: self.doc,
            doc_only: self.doc_only,
            cargo: self.cargo,
            ..RunArgs::default()
        }
    }
}

/// `runner predict`'s options: the selection, as for `runner list`, and the worker count to
/// predict beside the usual ones.
#[derive(Debug, Clone, Default, Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub list: ListArgs,

    /// Also predict this many workers: a number, or `auto` for what `-n auto` would choose.
    #[arg(
        short = 'n',
        long = "jobs",
        value_name = "N|auto",
        env = "RUNNER_JOBS",
        allow_negative_numbers = true
    )]
    pub jobs: Option<String>,
}

impl PredictArgs {
    /// The same choices as a run's arguments, with the worker count given.
    pub fn into_run_args(self) -> RunArgs {
        RunArgs {
            jobs: self.jobs,
            ..self.list.into_run_args()
        }
    }
}
