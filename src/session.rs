//! One invocation from start to end: discover → list → select → run (once, or twice under
//! `--compare`) → report, returning the exit code; or, for `runner list` and `runner predict`,
//! discover → list → select → print. An overlapped run (`overlap`) starts tests while cargo
//! still builds.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;

use crate::cli::{Comparison, Mode, NoTests, RunConfig, Source, Verbosity, Workers};
use crate::exit_code;
use crate::model::{TestCase, TestId};
use crate::plan::discover::{self, DiscoverError, Discovered};
use crate::plan::history::Observation;
use crate::plan::sizing::{self, Machine};
use crate::plan::{self, predict, Plan};
use crate::process::control::RunControl;
use crate::process::signals;
use crate::process::{self, Limits, OutputMode};
use crate::report::event::PassLabel;
use crate::report::summary::{Passes, Summary};
use crate::report::{
    self, GithubReporter, HumanOptions, HumanReporter, JsonReporter, JunitReporter, OutputBounds,
    Pictures, Reporter, Reporters, TimelineReporter,
};
use crate::run::logs;
use crate::run::BatchChoice;
use crate::run::Early;
use crate::run::{run_pass, Pass, PassContext, PassOutcome};
use crate::run::{QuietBacktraces, SetupRun, TestSettings};

mod overlap;

pub fn execute(config: &RunConfig) -> Result<i32> {
    let control = Arc::new(RunControl::new());
    if config.mode == Mode::Run {
        // Without the signal thread a run still runs; only Ctrl-C loses its report.
        if let Err(e) = signals::install(Arc::clone(&control), config.timeout_grace) {
            eprintln!("warning: {e:#}; an interruption will stop the runner without a report");
        }
        process::become_subreaper();
    }
    if config.mode == Mode::ShowConfig(None) {
        return report::print_config(config);
    }
    if overlap::applies(config) {
        return overlap::execute(config, &control);
    }
    let discovered = match discover(config, &control)? {
        Ok(discovered) => discovered,
        Err(code) => return Ok(code),
    };
    // A filter naming a package or binary that does not exist is a mistake, not an empty run.
    if let Err(message) = plan::check_filter_names(config, &discovered.names) {
        eprintln!("error: {message}");
        return Ok(exit_code::USAGE);
    }
    let mut plan = Plan::build(config, discovered, &control);
    if config.no_capture && config.mode == Mode::Run {
        plan.notes.push(
            "--no-capture: the tests' output goes straight to the terminal, so the tests run \
             one at a time (their output would interleave)"
                .into(),
        );
    }
    match &config.mode {
        Mode::List => report::print_listing(config, &plan),
        Mode::NoRun => report::print_no_run(config, &plan, &config.launcher.prefix()),
        Mode::Predict => predict_plan(config, &plan),
        Mode::Run => run_plan(config, &plan, &control, &Early::default()),
        Mode::ShowConfig(test) => report::print_test_config(config, &plan, test.as_deref()),
    }
}

/// The tests the plan runs, in the order they start.
fn selected(plan: &Plan) -> Vec<TestId> {
    plan.to_run.iter().map(TestCase::id).collect()
}

/// `runner predict`: the wall time of the selection for several worker counts, and what
/// `-n auto` would choose.
fn predict_plan(config: &RunConfig, plan: &Plan) -> Result<i32> {
    let machine = Machine::detect();
    let tests = selected(plan);
    let auto = sizing::auto_workers(&plan.history, &tests, machine);
    let mut also = vec![auto.workers];
    if let Workers::Count(n) = config.jobs {
        also.push(n);
    }
    let forecast = predict::forecast(&plan.history, &tests, machine.cores, &also);
    report::print_prediction(config, plan, &forecast, &auto)
}

/// The test binaries, or the exit code when the build failed or the command line asked for
/// something that is not there (said once, on stderr).
fn discover(config: &RunConfig, control: &RunControl) -> Result<Result<Discovered, i32>> {
    let discovered = match &config.source {
        Source::Cargo(cargo) => discover::from_cargo(cargo),
        Source::Binaries(paths) => discover::from_paths(paths),
        Source::Archive(archive) => plan::archive::unpack(archive),
    };
    settle(discovered, control)
}

/// A discovery's binaries, or the exit code of one that failed (said once, on stderr).
fn settle(
    discovered: Result<Discovered, DiscoverError>,
    control: &RunControl,
) -> Result<Result<Discovered, i32>> {
    match discovered {
        Ok(found) => Ok(Ok(found)),
        // Ctrl-C reaches cargo too: a cargo killed by a cancelling signal means the run was
        // cancelled, not that the build is broken. The normal (empty) report follows, with the
        // cancellation's exit code.
        Err(DiscoverError::BuildFailed { signal, .. })
            if signals::build_was_cancelled(control, signal) =>
        {
            Ok(Ok(Discovered::default()))
        }
        Err(error) => say_discover_error(error).map(Err),
    }
}

/// Say why discovery failed (once: cargo may have said it already) and give the exit code.
pub fn say_discover_error(error: DiscoverError) -> Result<i32> {
    match error {
        error @ DiscoverError::BuildFailed { .. } => {
            eprintln!("error: {error}");
            Ok(exit_code::BUILD_FAILED)
        }
        // cargo has printed its own message; only ours is left to print.
        DiscoverError::Usage(None) => Ok(exit_code::USAGE),
        error @ DiscoverError::Usage(Some(_)) => {
            eprintln!("error: {error}");
            Ok(exit_code::USAGE)
        }
        error @ DiscoverError::Archive(_) => {
            eprintln!("error: {error}");
            Ok(exit_code::ARCHIVE_FAILED)
        }
        DiscoverError::Other(e) => Err(e),
    }
}

/// The passes of a run: a baseline first under a comparison, then the pass whose results
/// count. `-n auto` is resolved here, once the selection and its history are known.
fn passes(config: &RunConfig, plan: &Plan) -> (Option<Pass>, Pass) {
    // Output passing straight through would interleave: one test at a time, never batched.
    let (batch, jobs, auto) = match (config.no_capture, config.jobs) {
        (true, _) => (BatchChoice::Never, 1, None),
        (false, Workers::Count(n)) => (BatchChoice::from_config(config), n, None),
        (false, Workers::Auto) => {
            let auto = sizing::auto_workers(&plan.history, &selected(plan), Machine::detect());
            (BatchChoice::from_config(config), auto.workers, Some(auto))
        }
    };
    // Every pass runs `jobs` workers, but the serial pass of `--compare`.
    let pass = |label, batch| Pass {
        workers: jobs,
        auto,
        label,
        batch,
    };
    match config.comparison {
        None => (None, pass(None, batch)),
        Some(Comparison::SerialParallel) => (
            Some(Pass {
                workers: 1,
                auto: None,
                label: Some(PassLabel::Serial),
                batch,
            }),
            pass(Some(PassLabel::Parallel), batch),
        ),
        Some(Comparison::ProcessBatch) => (
            Some(pass(Some(PassLabel::Process), BatchChoice::Never)),
            pass(Some(PassLabel::Batch), BatchChoice::Always),
        ),
    }
}

fn test_settings(config: &RunConfig, log_dir: PathBuf) -> TestSettings {
    let setup = (!config.setup.scopes.is_empty())
        .then(|| Arc::new(SetupRun::new(&config.setup, &log_dir, config.timeout_grace)));
    TestSettings {
        setup,
        limits: Limits {
            timeout: config.timeout,
            grace: config.timeout_grace,
            leak_timeout: config.leak_timeout,
            slow_period: config.slow_timeout,
            output: match (config.no_capture, config.json) {
                (false, _) => OutputMode::Capture,
                (true, false) => OutputMode::PassThrough,
                (true, true) => OutputMode::PassThroughToStderr,
            },
            ..Limits::default()
        },
        retries: config.retries,
        policy: config.policy,
        log_dir: Some(log_dir),
        launcher: config.launcher.clone(),
        overrides: config.overrides.clone(),
        backtraces: None,
    }
}

/// The tests of `plan` that leave their panics' backtraces out (see `run::backtraces`).
fn quiet_backtraces(config: &RunConfig, plan: &Plan) -> Option<Arc<QuietBacktraces>> {
    if config.keep_backtraces {
        return None;
    }
    QuietBacktraces::plan(&plan.history, &plan.to_run, |name| std::env::var_os(name)).map(Arc::new)
}

fn run_plan(config: &RunConfig, plan: &Plan, control: &RunControl, early: &Early) -> Result<i32> {
    let logs = logs::prepare(plan.target_dir.as_deref());
    let mut settings = test_settings(config, logs.dir().to_path_buf());
    settings.backtraces = quiet_backtraces(config, plan);
    let mut reporters = reporters(config, plan);
    let context = PassContext {
        config,
        plan,
        settings: &settings,
        control,
        early,
    };
    let mut run = |pass, earlier: &[&Summary]| run_pass(&context, pass, earlier, &mut reporters);
    let (summary, observations, passes) = match passes(config, plan) {
        (None, only) => {
            let (summary, observations) = run(only, &[]);
            (summary, observations, None)
        }
        (Some(baseline), compared) => {
            let (passes, observations) = compare(config.runs, baseline, compared, control, run);
            // The last pass that ran: the compared one, unless an interruption ended a baseline.
            let last = match passes.baselines.len() > passes.compared.len() {
                true => passes.baselines.last(),
                false => passes.compared.last(),
            };
            let summary = last.cloned();
            (summary.unwrap_or_default(), observations, Some(passes))
        }
    };
    // Saving the history (an atomic rename, which the file system may make wait for the
    // data) and the sweep for escaped processes both take a millisecond or so at the end of
    // every run and need nothing of each other: they overlap.
    std::thread::scope(|scope| {
        let saving = scope.spawn(|| plan::save_history(plan, &observations));
        logs.mark_finished();
        // What setup scripts left running (servers) ends with the tests that used it, before
        // the sweep for processes that escaped their tests.
        if let Some(setup) = &settings.setup {
            setup.end();
        }
        kill_escaped_processes();
        if saving.join().is_err() {
            eprintln!("warning: saving the timing history failed unexpectedly");
        }
    });
    say_if_nothing_ran(config, &summary, control);
    // Reporters print their own errors, before the closing Summary line.
    let written = reporters.finish(&summary, passes.as_ref());
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

/// The passes of a comparison, `runs` of each, taking turns; the last pass run is the one
/// whose results count, checked against every earlier pass for tests that are not isolated.
/// An interruption ends the comparison after the pass it interrupted.
fn compare(
    runs: usize,
    baseline: Pass,
    compared: Pass,
    control: &RunControl,
    mut run: impl FnMut(Pass, &[&Summary]) -> PassOutcome,
) -> (Passes, Vec<Observation>) {
    let mut passes = Passes::default();
    let mut observations = Vec::new();
    for round in 1..=runs {
        let (summary, seen) = run(baseline, &[]);
        passes.baselines.push(summary);
        observations = seen;
        if control.cancelled().is_some() {
            break;
        }
        // Only the last pass is checked for isolation, against every pass before it.
        let earlier: Vec<&Summary> = match round == runs {
            true => passes.baselines.iter().chain(&passes.compared).collect(),
            false => Vec::new(),
        };
        let (summary, seen) = run(compared, &earlier);
        passes.compared.push(summary);
        observations = seen;
        if control.cancelled().is_some() {
            break;
        }
    }
    (passes, observations)
}

/// Processes that tests left running outside their process groups (e.g. with `setsid`) end
/// with the run.
fn kill_escaped_processes() {
    let escaped = process::kill_orphans(&[]);
    if !escaped.is_empty() {
        eprintln!(
            "warning: killed {} process(es) that tests had left running outside their \
             process groups (e.g. with setsid): {}",
            escaped.len(),
            escaped.join(", ")
        );
    }
}

/// An empty run is an error, a warning or fine, as `--no-tests` says.
fn say_if_nothing_ran(config: &RunConfig, summary: &Summary, control: &RunControl) {
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
}

/// How much of a test's output the human report shows: as asked, else what fits the screen
/// the report goes to (its height less room for the headers and the bar, its width times
/// that), else 100 lines and 16 KiB.
fn output_bounds(config: &RunConfig) -> OutputBounds {
    let screen = human_term(config).size_checked().map(|(rows, cols)| {
        (
            usize::from(rows).saturating_sub(8).max(10),
            usize::from(cols),
        )
    });
    let lines = config.output.lines.or(screen.map(|(rows, _)| rows));
    let lines = lines.unwrap_or(100);
    let bytes = config.output.bytes.or(screen.map(|(_, cols)| lines * cols));
    OutputBounds {
        lines,
        bytes: bytes.unwrap_or(16 * 1024),
    }
}

/// The terminal the human report goes to (stdout, or stderr beside JSON).
fn human_term(config: &RunConfig) -> console::Term {
    match config.json {
        true => console::Term::stderr(),
        false => console::Term::stdout(),
    }
}

fn reporters(config: &RunConfig, plan: &Plan) -> Reporters {
    let mut reporters = Reporters::default();
    // In JSON mode stdout carries the event stream, and the human report goes to stderr.
    let human_out = || -> Box<dyn Write + Send> {
        if config.json {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }
    };
    if config.json {
        reporters.add(Box::new(JsonReporter::new(std::io::stdout())));
    }
    // Annotations would corrupt the JSON stream, so in JSON mode only the step summary is
    // written.
    let annotations: Option<Box<dyn Write + Send>> =
        (!config.json).then(|| Box::new(std::io::stdout()) as Box<dyn Write + Send>);
    if let Some(github) = GithubReporter::from_env(annotations) {
        reporters.add(Box::new(github));
    }
    if let Some(path) = &config.junit {
        reporters.add(Box::new(JunitReporter::new(
            path.clone(),
            plan.shard.clone(),
        )));
    }
    let pictures = Pictures {
        timeline: config.timeline.clone(),
        chrome_trace: config.chrome_trace.clone(),
    };
    if pictures.any() {
        // Every test's rerun command, for the tooltips of tests that pass too.
        let reruns = plan
            .to_run
            .iter()
            .map(|case| {
                (
                    case.id(),
                    report::rerun::command_for(&config.source, config.profile.as_deref(), case),
                )
            })
            .collect();
        reporters.add(Box::new(TimelineReporter::new(pictures, reruns)));
    }
    let options = HumanOptions {
        verbosity: config.verbosity,
        color: config.color,
        // Output passing through would be drawn over by the bar.
        progress: std::io::stderr().is_terminal()
            && config.verbosity != Verbosity::Quiet
            && !config.no_capture,
        output: output_bounds(config),
        levels: config.levels,
        flaky_fails: config.policy.flaky_fails,
        width: human_term(config)
            .size_checked()
            .map(|(_, cols)| usize::from(cols)),
    };
    // Last, so that its closing Summary line comes after any error the others report.
    reporters.add_closing(
        Box::new(HumanReporter::new(options, human_out())),
        human_out(),
    );
    reporters
}
