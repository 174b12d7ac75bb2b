//! Entry point: parse arguments, run the invocation, print a top-level error, exit with a
//! documented code (see [`exit_code`]).

mod cli;
mod exit_code;
mod libtest;
mod model;
mod panics;
mod plan;
mod process;
mod report;
mod run;
mod session;

use clap::Parser;

fn main() {
    process::mark_start();
    let code = match cli::Cli::try_parse() {
        Err(err) => usage_error(err),
        Ok(cli::Cli {
            command: Some(cli::Command::Completions { shell }),
            ..
        }) => {
            cli::write_completions(shell, &mut std::io::stdout());
            exit_code::OK
        }
        Ok(cli::Cli {
            command: Some(cli::Command::JunitMerge { output, inputs }),
            ..
        }) => match report::merge_junit(&output, &inputs) {
            Ok(()) => exit_code::OK,
            Err(err) => {
                eprintln!("error: {err:#}");
                exit_code::INTERNAL
            }
        },
        Ok(cli) => match cli::RunConfig::from_cli(cli.command, cli.run) {
            Err(err) => {
                eprintln!("error: {err}");
                exit_code::USAGE
            }
            // A bug of ours must end in a documented exit code, not in Rust's 101 (which
            // means "build failed" here).
            Ok(config) => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                session::execute(&config)
            })) {
                Ok(Ok(code)) => code,
                Ok(Err(err)) => {
                    eprintln!("error: {err:#}");
                    exit_code::INTERNAL
                }
                Err(panic) => {
                    let message = panics::panic_message(panic.as_ref());
                    eprintln!("error: internal error: {message}");
                    exit_code::INTERNAL
                }
            },
        },
    };
    std::process::exit(code);
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
