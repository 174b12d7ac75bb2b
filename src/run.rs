//! One invocation from start to end: discover → list → select → run (once, or twice under
//! `--compare`) → report, returning the exit code.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::batch;
use crate::config::{Mode, NoTests, RunConfig, Source, Verbosity};
use crate::control::RunControl;
use crate::discover::{self, DiscoverError, Discovered};
use crate::event::{Outcome, SkipReason, TestEvent, TestResult, FORMAT_VERSION};
use crate::exit_code;
use crate::groups::Constraint;
use crate::history::Observation;
use crate::jobs::{self, BatchChoice, Job};
use crate::model::TestCase;
use crate::plan::{self, Plan};
use crate::process::{self, Limits};
use crate::report::{
    self, GithubReporter, HumanOptions, HumanReporter, JsonReporter, JunitReporter, Reporter,
    Reporters,
};
use crate::rerun;
use crate::schedule::{self, PoolOptions};
use crate::signals;
use crate::summary::Summary;
use crate::worker::{self, TestSettings};

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

/// One run of the pool: how many workers, what it is called under `--compare`, and whether
/// binaries are batched.
#[derive(Debug, Clone, Copy)]
struct Pass {
    workers: usize,
    label: Option<&'static str>,
    batch: BatchChoice,
}

/// How long the logs of a finished run stay for the user to read before a later run removes
/// them.
const LOGS_KEPT_FOR: Duration = Duration::from_secs(60);

/// `<target>/runner/logs/run-<pid>`: one directory per run, so that runs side by side never
/// touch each other's logs. Directories of runs that ended over [`LOGS_KEPT_FOR`] ago are
/// removed (each run touches its directory as it ends).
fn log_dir(target_dir: Option<&Path>) -> PathBuf {
    let root = match target_dir {
        Some(dir) => dir.join("runner").join("logs"),
        None => std::env::temp_dir().join("runner-logs"),
    };
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let pid = name.to_str().and_then(|n| n.strip_prefix("run-"));
            let alive = pid.is_some_and(|pid| Path::new("/proc").join(pid).exists());
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|at| at.elapsed().ok())
                .is_none_or(|age| age > LOGS_KEPT_FOR);
            if !alive && stale {
                // A failure to clear an old log is harmless.
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    root.join(format!("run-{}", std::process::id()))
}

/// Mark a run's log directory as just finished, which starts its [`LOGS_KEPT_FOR`].
fn touch(dir: &Path) {
    if let Ok(file) = std::fs::File::open(dir) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

fn run_plan(config: &RunConfig, plan: &Plan, control: &RunControl) -> Result<i32> {
    let log_dir = log_dir(plan.target_dir.as_deref());
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
        touch(dir);
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

/// Run every planned test once with `workers` workers, feeding events to the reporters.
fn run_pass(
    config: &RunConfig,
    plan: &Plan,
    settings: &TestSettings,
    control: &RunControl,
    pass: Pass,
    reporters: &mut Reporters,
) -> (Summary, Vec<Observation>) {
    let Pass {
        workers,
        label,
        batch,
    } = pass;
    let jobs = jobs::make_jobs(config, plan, batch, workers);
    let mode = jobs::run_mode(&jobs);
    let mut summary = Summary::new(workers);
    summary.label = label.map(str::to_string);
    summary.mode = mode.to_string();
    let mut observations = Vec::new();
    let mut emit = |event: TestEvent, summary: &mut Summary| {
        if let TestEvent::TestFinished(result) = &event {
            if result.outcome != Outcome::Cancelled {
                observations.push(Observation {
                    id: result.id.clone(),
                    duration: result.duration,
                    failed: result.is_failure,
                    batched: result.batched,
                });
            }
        }
        summary.observe(&event);
        reporters.on_event(&event);
    };
    emit(
        TestEvent::RunStarted {
            format_version: FORMAT_VERSION,
            tests: plan.to_run.len() + plan.ignored.len(),
            binaries: plan.binaries.len(),
            workers,
            label: label.map(str::to_string),
            mode: mode.to_string(),
        },
        &mut summary,
    );
    for message in &plan.notes {
        emit(
            TestEvent::Note {
                message: message.clone(),
            },
            &mut summary,
        );
    }
    for (binary_id, message) in &plan.list_failures {
        emit(
            TestEvent::ListFailed {
                binary_id: binary_id.clone(),
                message: message.clone(),
            },
            &mut summary,
        );
    }
    for case in &plan.ignored {
        emit(
            TestEvent::TestSkipped {
                id: case.id(),
                reason: SkipReason::Ignored,
            },
            &mut summary,
        );
    }

    let options = PoolOptions {
        workers,
        max_failures: config.max_failures,
        group_limits: config.groups.limits(),
    };
    let constraint_of = |job: &Job| match job {
        Job::Single(case) => config.groups.constraint(&case.binary.id, &case.name),
        // Tests with a group never go into a batch.
        Job::Batch(_) => Constraint::default(),
    };
    let (sender, receiver) = crossbeam_channel::unbounded();
    let started = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            // Failed results learn the command that reruns them on their way out.
            let finish = |case: &TestCase, mut result: TestResult| {
                if result.is_failure {
                    result.rerun = Some(rerun::command_for(&config.source, case));
                }
                result
            };
            let run_one = |job: &Job, emit: &dyn Fn(TestEvent)| match job {
                Job::Single(case) => {
                    emit(TestEvent::TestStarted { id: case.id() });
                    let result = worker::run_test(case, settings, control, emit);
                    emit(TestEvent::TestFinished(finish(case, result)));
                }
                Job::Batch(chunk) => batch::run_chunk(chunk, settings, control, emit, &finish),
            };
            let cancelled = || control.cancelled().is_some();
            schedule::run_pool(
                &jobs,
                &options,
                Job::ids,
                &constraint_of,
                run_one,
                &cancelled,
                &sender,
            );
        });
        for event in receiver.iter() {
            emit(event, &mut summary);
        }
    });
    summary.finish(started.elapsed());
    summary.cancelled_by = control.cancelled();
    reporters.on_event(&TestEvent::RunFinished(summary.stats.clone()));
    (summary, observations)
}
