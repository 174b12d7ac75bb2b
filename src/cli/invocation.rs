//! What one command line asks for: parsed by clap, help and usage errors answered with their
//! documented exit codes, and the rest resolved into an [`Invocation`] that holds no clap type.

use std::path::PathBuf;

use clap::Parser;

use super::args::{self, Cli};
use super::config::RunConfig;
use super::settings::UsageError;
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
    /// `runner completions SHELL`.
    Completions(Completions),
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
    let cli = Cli::try_parse().map_err(usage_error)?;
    match cli.command {
        Some(args::Command::Completions { shell }) => {
            Ok(Invocation::Completions(Completions(shell)))
        }
        Some(args::Command::JunitMerge { output, inputs }) => {
            Ok(Invocation::JunitMerge { output, inputs })
        }
        command => match RunConfig::from_cli(command, cli.run) {
            Ok(config) => Ok(Invocation::Run(Box::new(config))),
            Err(UsageError(message)) => {
                eprintln!("error: {message}");
                Err(exit_code::USAGE)
            }
        },
    }
}

/// Help and version go to stdout with code 0; a real usage error is one line, code 2.
fn usage_error(err: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            exit_code::OK
        }
        _ => {
            let text = err.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("{first} (see `runner --help`)");
            exit_code::USAGE
        }
    }
}
