//! The commands of builds made once and run elsewhere, each through the stages it needs:
//! `runner archive` (discover, then pack) and `runner timings export` (the history or a JUnit
//! report, then a timings file).

use std::path::Path;

use anyhow::Result;

use crate::cli::{CargoOptions, TimingsFrom};
use crate::exit_code;
use crate::plan::discover;
use crate::plan::history::History;
use crate::plan::partition::Timings;
use crate::plan::{archive, discover::DiscoverError};
use crate::{report, session};

/// `runner archive --archive-file FILE [cargo options]`: build, then pack.
pub fn archive(file: &Path, cargo: &CargoOptions) -> Result<i32> {
    let discovered = match discover::from_cargo(cargo) {
        Ok(discovered) => discovered,
        Err(error) => return session::say_discover_error(error),
    };
    match archive::pack(&discovered, file) {
        Ok(packed) => {
            eprintln!(
                "archived {} test binaries ({} files and directories) into {}: {:.1} MiB",
                packed.binaries,
                packed.files,
                file.display(),
                packed.bytes as f64 / (1024.0 * 1024.0)
            );
            Ok(exit_code::OK)
        }
        Err(error) => session::say_discover_error(DiscoverError::Archive(
            error.context(format!("the archive {} was not made", file.display())),
        )),
    }
}

/// `runner timings export FILE`: the durations a `time:` partition reads, from the history
/// (as that partition would read them) or from a JUnit report.
pub fn export_timings(output: &Path, from: &TimingsFrom) -> Result<i32> {
    let (timings, source) = match from {
        TimingsFrom::Junit(report) => {
            let durations = match report::junit_durations(report) {
                Ok(durations) => durations,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    return Ok(exit_code::USAGE);
                }
            };
            (Timings::from_durations(durations), report.clone())
        }
        TimingsFrom::History(cargo) => {
            let path = History::path_in(&discover::target_dir(cargo)?);
            let history = match History::load(&path) {
                Ok(history) => history,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    return Ok(exit_code::USAGE);
                }
            };
            (Timings::from_history(&history), path)
        }
    };
    if timings.len() == 0 {
        eprintln!(
            "warning: {} holds no test durations: a time: partition will spread every test by \
             hash (run the tests once, or export from a JUnit report with --from-junit)",
            source.display()
        );
    }
    timings.save(output)?;
    eprintln!(
        "wrote the durations of {} tests from {} to {}",
        timings.len(),
        source.display(),
        output.display()
    );
    Ok(exit_code::OK)
}
