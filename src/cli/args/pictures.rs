//! The flags that ask for pictures of a run (`--timeline`, `--chrome-trace`), and the
//! arguments of `runner timeline`, which draws them from a saved event stream.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Reports")]
pub struct PictureArgs {
    /// Write the run as an HTML timeline to PATH: workers, tests, idle time (also when the run
    /// fails or is interrupted).
    #[arg(long, value_name = "PATH")]
    pub timeline: Option<PathBuf>,

    /// Write the run as a Chrome trace to PATH, for Perfetto or chrome://tracing.
    #[arg(long, value_name = "PATH")]
    pub chrome_trace: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct TimelineArgs {
    /// The saved event stream (`-` for stdin); lines that are not events are skipped.
    pub events: PathBuf,

    /// The HTML timeline to write.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "PATH",
        required_unless_present = "chrome_trace"
    )]
    pub timeline: Option<PathBuf>,

    /// The Chrome trace (Perfetto, chrome://tracing) to write.
    #[arg(long, value_name = "PATH")]
    pub chrome_trace: Option<PathBuf>,
}
