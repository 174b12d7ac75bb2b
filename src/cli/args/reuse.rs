//! The options of builds made once and run elsewhere: `runner archive`, the run and list
//! options that read an archive, and `runner timings export`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::CargoArgs;

/// Where the test binaries of a run or a listing come from, when not from cargo.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Archives")]
pub struct FromArchiveArgs {
    /// Run (or list) the tests packed by `runner archive` instead of building: no cargo and no
    /// rustc needed.
    #[arg(long, value_name = "FILE", conflicts_with = "binaries")]
    pub archive_file: Option<PathBuf>,

    /// The workspace's sources (a checkout of the archived revision): each test runs in its
    /// package's directory under DIR [default: the current directory].
    #[arg(long, value_name = "DIR", requires = "archive_file")]
    pub workspace_remap: Option<PathBuf>,

    /// Unpack the archive into DIR and keep it there [default: a temporary directory, removed
    /// at the end].
    #[arg(long, value_name = "DIR", requires = "archive_file")]
    pub extract_to: Option<PathBuf>,
}

/// `runner archive`: build the tests (or take the built ones) and pack what a run needs.
#[derive(Debug, Clone, Args)]
pub struct ArchiveArgs {
    /// The archive to write (a zstd-compressed tar, e.g. tests.tar.zst).
    #[arg(long, value_name = "FILE")]
    pub archive_file: PathBuf,

    #[command(flatten)]
    pub cargo: CargoArgs,
}

/// `runner timings ...`.
#[derive(Debug, Subcommand)]
pub enum TimingsCommand {
    /// Write the durations a time: partition balances on to FILE, sorted and in whole
    /// milliseconds, to commit or to pass to the shards with --timings FILE.
    Export(TimingsExportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TimingsExportArgs {
    /// The timings file to write.
    pub output: PathBuf,

    /// Read the durations from this JUnit report (e.g. the merged report of the last CI run)
    /// instead of the timing history.
    #[arg(long, value_name = "REPORT.xml")]
    pub from_junit: Option<PathBuf>,

    /// Path to Cargo.toml, whose target directory holds the history.
    #[arg(long, value_name = "PATH", conflicts_with = "from_junit")]
    pub manifest_path: Option<PathBuf>,

    /// The target directory that holds the history.
    #[arg(long, value_name = "DIR", conflicts_with = "from_junit")]
    pub target_dir: Option<PathBuf>,
}
