//! One invocation from start to end: discover → list → select → run (once, or twice under
//! `--compare`) → report, returning the exit code.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::Result;

use crate::cli::{Mode, NoTests, RunConfig, Source, Verbosity};
use crate::exit_code;
use crate::plan::discover::{self, DiscoverError, Discovered};
use crate::plan::{self, Plan};
use crate::process::control::RunControl;
use crate::process::signals;
use crate::process::{self, Limits};
use crate::report::{
    self, GithubReporter, HumanOptions, HumanReporter, JsonReporter, JunitReporter, Reporter,
    Reporters,
};
use crate::run::jobs::BatchChoice;
use crate::run::logs;
use crate::run::pass::{run_pass, Pass};
use crate::run::single::TestSettings;

pub fn execute(config: &RunConfig) -> Result<i32> {
    let control = Arc::new(RunControl::new());
    if config.mode == Mode::Run {
        signals::install(Arc::clone(&control), config.timeout_grace)?;
        process::become_subreaper();
    }
    let discovered = match &config.source {
        Source::Cargo(cargo) => discover::from_cargo(cargo),
        Source::Binaries(paths) => discover::from_paths(paths),
    };
    let discovered = match discovered {
        Ok(found) => found,
        // Ctrl-C reaches cargo too: a cargo killed by a cancelling signal means the run was
        // cancelled, not that the build is broken. The normal (empty) report follows, with the
        // cancellation's exit code.
        Err(DiscoverError::BuildFailed { signal, .. })
            if signals::build_was_cancelled(&control, signal) =>
        {
            Discovered {
                binaries: Vec::new(),
                unusable: Vec::new(),
                target_dir: None,
            }
        }
        Err(error @ DiscoverError::BuildFailed { .. }) => {
            eprintln!("error: {error}");
            return Ok(exit_code::BUILD_FAILED);
        }
        Err(DiscoverError::Other(e)) => return Err(e),
    };
    let plan = Plan::build(config, discovered, &control);
    match config.mode {
        Mode::List => report::print_listing(config, &plan),
        Mode::Run => run_plan(config, &plan, &control),
    }
}

fn run_plan(config: &RunConfig, plan: &Plan, control: &RunControl) -> Result<i32> {
    let log_dir = logs::log_dir(plan.target_dir.as_deref());
    let settings = TestSettings {
        limits: Limits {
            timeout: config.timeout,
            grace: config.timeout_grace,
            leak_timeout: config.leak_timeout,
            slow_period: config.slow_timeout,
            ..Limits::default()
        },
        retries: config.retries,
        leak_fails: config.leak_fails,
        flaky_fails: config.flaky_fails,
        log_dir: Some(log_dir),
    };
    let mut reporters = reporters(config);
    let pass = |pass: Pass, reporters: &mut Reporters| {
        run_pass(config, plan, &settings, control, pass, reporters)
    };
    let batch = BatchChoice::from_config(config);
    let parallel = Pass {
        workers: config.jobs,
        label: None,
        batch,
    };
    // `--compare` and `--compare-modes` run a baseline first; the second run is the one whose
    // results count.
    let baseline = if config.compare {
        Some(pass(
            Pass {
                workers: 1,
                label: Some("serial"),
                batch,
            },
            &mut reporters,
        ))
    } else if config.compare_modes {
        Some(pass(
            Pass {
                label: Some("process"),
                batch: BatchChoice::Never,
                ..parallel
            },
            &mut reporters,
        ))
    } else {
        None
    };
    let (summary, observations) = match &baseline {
        Some(baseline) if control.cancelled().is_some() => baseline.clone(),
        _ => {
            let label = if config.compare {
                Some("parallel")
            } else if config.compare_modes {
                Some("batch")
            } else {
                None
            };
            let batch = if config.compare_modes {
                BatchChoice::Always
            } else {
                batch
            };
            pass(
                Pass {
                    label,
                    batch,
                    ..parallel
                },
                &mut reporters,
            )
        }
    };
    let baseline = baseline.map(|(summary, _)| summary);
    plan::save_history(plan, &observations);
    if let Some(dir) = &settings.log_dir {
        logs::touch(dir);
    }
    let escaped = process::kill_orphans(&[]);
    if !escaped.is_empty() {
        eprintln!(
            "warning: killed {} process(es) that tests had left running outside their \
             process groups (e.g. with setsid): {}",
            escaped.len(),
            escaped.join(", ")
        );
    }
    let ran = summary.stats.passed + summary.stats.failed;
    if ran == 0 && summary.list_failures.is_empty() && control.cancelled().is_none() {
        match config.no_tests {
            NoTests::Fail => eprintln!(
                "error: no test was selected; check the filters, or pass --no-tests=pass to allow an empty run"
            ),
            NoTests::Warn => eprintln!("warning: no test was selected"),
            NoTests::Pass => {}
        }
    }
    // Reporters print their own errors, before the closing Summary line.
    let written = reporters.finish(&summary, baseline.as_ref());

    if let Some(signal) = control.cancelled() {
        return Ok(signals::exit_code_for(signal));
    }
    let mut code = summary.exit_code(config.no_tests);
    if written.is_err() && code == exit_code::OK {
        code = exit_code::INTERNAL;
    }
    if !reporters.panicked().is_empty() {
        code = exit_code::INTERNAL;
    }
    Ok(code)
}

fn reporters(config: &RunConfig) -> Reporters {
    let mut reporters = Reporters::default();
    let human_out: Box<dyn Write + Send> = if config.json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    if config.json {
        reporters.add(Box::new(JsonReporter::new(std::io::stdout())));
    }
    // In JSON mode stdout carries the event stream: annotations would corrupt it, so only the
    // step summary is written.
    let annotations: Option<Box<dyn Write + Send>> =
        (!config.json).then(|| Box::new(std::io::stdout()) as Box<dyn Write + Send>);
    if let Some(github) = GithubReporter::from_env(annotations) {
        reporters.add(Box::new(github));
    }
    if let Some(path) = &config.junit {
        reporters.add(Box::new(JunitReporter::new(path.clone())));
    }
    // Last, so that its closing Summary line comes after any error the others report.
    reporters.add(Box::new(HumanReporter::new(
        HumanOptions {
            verbosity: config.verbosity,
            color: config.color,
            progress: std::io::stderr().is_terminal() && config.verbosity != Verbosity::Quiet,
        },
        human_out,
    )));
    reporters
}
