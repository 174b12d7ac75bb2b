//! What one command line asks for: parsed by clap, help and usage errors answered with their
//! documented exit codes, and the rest resolved into an [`Invocation`] that holds no clap type.

use std::path::PathBuf;

use super::args::{self, Cli};
use super::config::RunConfig;
use super::settings::{CargoOptions, UsageError};
use crate::exit_code;

/// What the user asked runner to do.
pub enum Invocation {
    /// Run, list or predict tests.
    Run(Box<RunConfig>),
    /// `runner junit-merge OUTPUT INPUTS...`.
    JunitMerge {
        output: PathBuf,
        inputs: Vec<PathBuf>,
    },
    /// `runner archive --archive-file FILE [cargo options]`.
    Archive { file: PathBuf, cargo: CargoOptions },
    /// `runner timings export FILE [--from-junit REPORT]`.
    TimingsExport { output: PathBuf, from: TimingsFrom },
    /// `runner timeline EVENTS -o HTML [--chrome-trace JSON]`.
    Timeline {
        events: PathBuf,
        timeline: Option<PathBuf>,
        chrome_trace: Option<PathBuf>,
    },
    /// `runner completions SHELL`.
    Completions(Completions),
}

/// Where `runner timings export` reads durations.
pub enum TimingsFrom {
    /// The timing history in the target directory of this workspace.
    History(CargoOptions),
    /// A JUnit report's test case times.
    Junit(PathBuf),
}

/// A shell completion script to print.
pub struct Completions(clap_complete::Shell);

impl Completions {
    pub fn write(&self, out: &mut dyn std::io::Write) {
        args::write_completions(self.0, out);
    }
}

/// The invocation this process's arguments ask for, or the exit code to end with once help,
/// the version or a usage error has been printed.
pub fn parse() -> Result<Invocation, i32> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().try_get_matches().map_err(usage_error)?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(usage_error)?;
    let (run_matches, run) = match (matches.subcommand(), &mut cli.command) {
        (Some((_, sub)), Some(args::Command::Run(run))) => (sub, run),
        _ => (&matches, &mut cli.run),
    };
    run.jobs_from_env =
        run_matches.value_source("jobs") == Some(clap::parser::ValueSource::EnvVariable);
    match cli.command {
        Some(args::Command::Completions { shell }) => {
            Ok(Invocation::Completions(Completions(shell)))
        }
        Some(args::Command::JunitMerge { output, inputs }) => {
            Ok(Invocation::JunitMerge { output, inputs })
        }
        Some(args::Command::Archive(archive)) => Ok(Invocation::Archive {
            file: archive.archive_file,
            cargo: CargoOptions::from(archive.cargo),
        }),
        Some(args::Command::Timings {
            command: args::TimingsCommand::Export(export),
        }) => Ok(Invocation::TimingsExport {
            output: export.output,
            from: match export.from_junit {
                Some(report) => TimingsFrom::Junit(report),
                None => TimingsFrom::History(CargoOptions {
                    manifest_path: export.manifest_path,
                    target_dir: export.target_dir,
                    ..CargoOptions::default()
                }),
            },
        }),
        Some(args::Command::Timeline(timeline)) => Ok(Invocation::Timeline {
            events: timeline.events,
            timeline: timeline.timeline,
            chrome_trace: timeline.chrome_trace,
        }),
        command => match RunConfig::from_cli(command, cli.run) {
            Ok(config) => Ok(Invocation::Run(Box::new(config))),
            Err(UsageError(message)) => {
                eprintln!("error: {message}");
                Err(exit_code::USAGE)
            }
        },
    }
}

/// Help and version go to stdout with code 0; a usage error goes to stderr whole, with
/// clap's help (the possible values, a similar argument, the missing arguments' names and the
/// usage line), code 2.
fn usage_error(err: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if let Some(flag) = run_option_given_to_list(&err) {
        eprintln!(
            "error: '{flag}' is an option of a run; `runner list` lists tests without running \
             them and takes only the options that choose them (see `runner list --help`)"
        );
        return exit_code::USAGE;
    }
    let _ = err.print();
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => exit_code::OK,
        _ => exit_code::USAGE,
    }
}

/// The flag of a run that `runner list` was given, if that is what clap refused: clap's own
/// tip (pass it after `--`) would mislead.
fn run_option_given_to_list(err: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    use clap::CommandFactory;
    if err.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let subcommand = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if subcommand.as_deref() != Some("list") {
        return None;
    }
    let Some(ContextValue::String(given)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let flag = given.split('=').next().unwrap_or(given);
    let command = Cli::command();
    let run = command.find_subcommand("run")?;
    let known = run.get_arguments().any(|arg| {
        let long = flag.strip_prefix("--");
        let short = flag.strip_prefix('-').filter(|s| s.len() == 1);
        long.is_some_and(|l| {
            arg.get_long() == Some(l) || arg.get_all_aliases().is_some_and(|a| a.contains(&l))
        }) || short.and_then(|s| s.chars().next()).is_some_and(|c| {
            arg.get_short() == Some(c)
                || arg.get_all_short_aliases().is_some_and(|a| a.contains(&c))
        })
    });
    known.then(|| flag.to_string())
}
