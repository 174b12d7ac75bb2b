//! The plain types a resolved [`super::RunConfig`] is made of: what to run, how to select and
//! report, and the usage error that resolving can end in.

use std::path::PathBuf;

use super::args::CargoArgs;
use crate::filter::Filter;

/// A usage error: one line, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Run,
    List,
    /// `runner predict`: the wall time of the selection for several worker counts.
    Predict,
    /// `runner --no-run`: build, list and select as a run would, say what would run, run
    /// nothing.
    NoRun,
    /// `runner show-config`: the effective settings; with a test name, that test's.
    ShowConfig(Option<String>),
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

/// How tests are matched against the user's filters.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filters: Vec<String>,
    pub skip: Vec<String>,
    pub exact: bool,
    /// `-E`: a test in any of them is selected (when there are some).
    pub exprs: Vec<Filter>,
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

/// When a test's captured output is shown: as it ends, in the closing report, both or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShowOutput {
    pub immediate: bool,
    pub at_end: bool,
}

/// Which test statuses get a line: each level includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatusLevel {
    None,
    Fail,
    /// Retries as they happen; flaky tests in the closing report.
    Retry,
    Slow,
    Leak,
    Pass,
    Skip,
    All,
}

/// What the human report shows of each test (`--status-level`, `--failure-output`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Levels {
    pub status: StatusLevel,
    pub final_status: StatusLevel,
    pub success_output: ShowOutput,
    pub failure_output: ShowOutput,
}

/// How much of each stream of a test's output the human report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputShown {
    /// The last lines, and at most this many bytes; `None`: what fits the terminal.
    pub lines: Option<usize>,
    pub bytes: Option<usize>,
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
    /// An archive made by `runner archive`, run against a checkout of the workspace.
    Archive(ArchiveSource),
}

/// `--archive-file FILE [--workspace-remap DIR] [--extract-to DIR]`, with absolute paths.
#[derive(Debug, Clone)]
pub struct ArchiveSource {
    pub file: PathBuf,
    /// The workspace's sources: each test's working directory is its package's under it.
    pub workspace: PathBuf,
    /// Where to unpack and keep the archive; `None`: a temporary directory.
    pub extract_to: Option<PathBuf>,
}

impl ArchiveSource {
    pub fn new(
        file: PathBuf,
        workspace: Option<PathBuf>,
        extract_to: Option<PathBuf>,
    ) -> Result<Self, UsageError> {
        let absolute = |path: PathBuf| {
            std::path::absolute(&path)
                .map_err(|e| UsageError(format!("cannot resolve the path {}: {e}", path.display())))
        };
        let workspace = absolute(workspace.unwrap_or_else(|| PathBuf::from(".")))?;
        if !workspace.is_dir() {
            return Err(UsageError(format!(
                "--workspace-remap {}: no such directory; give the checkout of the archived \
                 workspace",
                workspace.display()
            )));
        }
        Ok(ArchiveSource {
            file: absolute(file)?,
            workspace,
            extract_to: extract_to.map(absolute).transpose()?,
        })
    }
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
    /// Whether the selected libraries' doctests run (`--doc`, `--doc-only`, `doc = true`).
    pub doc: DocTests,
    /// `--no-overlap`: build every test binary before the first test starts.
    pub no_overlap: bool,
}

/// Which tests of the selected packages run, as to doctests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DocTests {
    /// The test binaries only: rustdoc is not run.
    #[default]
    Off,
    /// The test binaries and the doctests (`--doc`).
    Also,
    /// The doctests only (`--doc-only`).
    Only,
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
            doc: DocTests::Off,
            no_overlap: args.no_overlap,
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

/// One `[[batch]]` table: the tests `filter` matches run batched, or never batched.
#[derive(Debug, Clone)]
pub struct BatchRule {
    pub filter: Filter,
    pub batched: bool,
}

impl BatchRule {
    pub(super) fn from_spec(spec: &super::config_file::BatchSpec) -> BatchRule {
        BatchRule {
            filter: spec.filter.filter.clone(),
            batched: spec.batch,
        }
    }
}
