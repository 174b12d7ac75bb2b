//! Entry point: parse arguments, run the invocation, print a top-level error, exit with a
//! documented code (see [`exit_code`]).

mod cli;
mod closest;
mod exit_code;
mod files;
mod filter;
mod launch;
mod libtest;
mod model;
mod panics;
mod phases;
mod plan;
mod process;
mod report;
mod reuse;
mod run;
mod rustdoc;
mod session;

use cli::Invocation;

fn main() {
    phases::mark_start();
    process::mark_start();
    process::raise_open_file_limit();
    // Before any thread exists: the watchdog is forked.
    process::start_watchdog();
    let code = match cli::parse() {
        Err(code) => code,
        Ok(Invocation::Completions(script)) => {
            script.write(&mut std::io::stdout());
            exit_code::OK
        }
        Ok(Invocation::JunitMerge { output, inputs }) => {
            match report::merge_junit(&output, &inputs) {
                Ok(()) => exit_code::OK,
                Err(err @ report::MergeError::ShardsDoNotAddUp(_)) => {
                    eprintln!("error: {err}");
                    exit_code::SHARDS_DO_NOT_ADD_UP
                }
                Err(err @ report::MergeError::BadInput(_)) => {
                    eprintln!("error: {err}");
                    exit_code::USAGE
                }
                Err(report::MergeError::Other(err)) => {
                    eprintln!("error: {err:#}");
                    exit_code::INTERNAL
                }
            }
        }
        Ok(Invocation::Archive { file, cargo }) => or_internal(reuse::archive(&file, &cargo)),
        Ok(Invocation::TimingsExport { output, from }) => {
            or_internal(reuse::export_timings(&output, &from))
        }
        Ok(Invocation::Timeline {
            events,
            timeline,
            chrome_trace,
        }) => draw_saved_run(
            &events,
            &report::Pictures {
                timeline,
                chrome_trace,
            },
        ),
        Ok(Invocation::Run(config)) => run(&config),
    };
    std::process::exit(code);
}

/// The exit code of a command, or the internal error's after saying it.
fn or_internal(code: anyhow::Result<i32>) -> i32 {
    code.unwrap_or_else(|err| {
        eprintln!("error: {err:#}");
        exit_code::INTERNAL
    })
}

/// `runner timeline`: the pictures of a run from its saved JSON events.
fn draw_saved_run(events: &std::path::Path, pictures: &report::Pictures) -> i32 {
    match report::timeline_from_saved_stream(events, pictures) {
        Ok(note) => {
            if let Some(note) = note {
                eprintln!("{note}");
            }
            exit_code::OK
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            exit_code::INTERNAL
        }
    }
}

/// Run or list tests. A bug of ours must end in a documented exit code, not in Rust's 101
/// (which means "build failed" here).
fn run(config: &cli::RunConfig) -> i32 {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| session::execute(config))) {
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
    }
}
