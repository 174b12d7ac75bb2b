//! The plain types a resolved [`super::RunConfig`] is made of: what to run, how to select and
//! report, and the usage error that resolving can end in.

use std::path::PathBuf;

use super::args::CargoArgs;

/// A usage error: one line, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Run,
    List,
    /// `runner predict`: the wall time of the selection for several worker counts.
    Predict,
}

/// How many workers a run asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    /// `-n auto`, the default: chosen once the selection and its history are known (as many
    /// as CPUs, more when the tests mostly wait).
    Auto,
    /// `-n N`: exactly N, at least 1.
    Count(usize),
}

/// How test names are matched against the user's filters.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filters: Vec<String>,
    pub skip: Vec<String>,
    pub exact: bool,
    pub ignored: IgnoredPolicy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IgnoredPolicy {
    /// Ignored tests are reported as skipped.
    #[default]
    Skip,
    /// Only ignored tests run.
    Only,
    /// Ignored tests run along with the others.
    Include,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTests {
    Pass,
    Warn,
    Fail,
}

/// Where test binaries come from.
#[derive(Debug, Clone)]
pub enum Source {
    Cargo(CargoOptions),
    Binaries(Vec<PathBuf>),
}

/// The cargo flags of this run, already in cargo's spelling.
#[derive(Debug, Clone, Default)]
pub struct CargoOptions {
    /// Which packages and targets (`--package`, `--lib`, `--test NAME`...).
    pub selection: Vec<String>,
    /// How they are built (`--manifest-path`, `--features`, `--release`...).
    pub build: Vec<String>,
    pub manifest_path: Option<PathBuf>,
    pub target_dir: Option<PathBuf>,
    pub locked: bool,
    pub offline: bool,
}

impl From<CargoArgs> for CargoOptions {
    fn from(args: CargoArgs) -> Self {
        CargoOptions {
            selection: args.selection_args(),
            build: args.build_args(),
            manifest_path: args.manifest_path,
            target_dir: args.target_dir,
            locked: args.locked,
            offline: args.offline,
        }
    }
}

/// A run that runs the selection twice and compares the passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `--compare`: one worker, then `-n` workers.
    SerialParallel,
    /// `--compare-modes`: one process per test, then batched.
    ProcessBatch,
}

/// What `--lf` and `--ff` ask of the tests that failed last time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LastFailed {
    /// Run the selection as it is.
    #[default]
    Ignore,
    /// `--lf`: only the tests that failed (all of them if none did).
    RunOnly,
    /// `--ff`: the tests that failed first, then the rest.
    RunFirst,
}

/// One `[[batch]]` table: binaries whose id contains `filter` run batched, or never batched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRule {
    pub filter: String,
    pub batched: bool,
}
