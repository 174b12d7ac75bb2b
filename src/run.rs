//! One invocation from start to end: discover → list → select → run (once, or twice under
//! `--compare`) → report, returning the exit code.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::batch;
use crate::config::{Mode, NoTests, RunConfig, Source, Verbosity};
use crate::control::RunControl;
use crate::discover::{self, DiscoverError, Discovered};
use crate::event::{Outcome, SkipReason, TestEvent, TestId, TestResult, FORMAT_VERSION};
use crate::exit_code;
use crate::groups::Constraint;
use crate::history::{self, History, Observation};
use crate::list::{self, BinaryListing};
use crate::model::{Invocation, TestBinary, TestCase};
use crate::order::{self, Order};
use crate::partition::{self, Partition};
use crate::process::{self, Limits};
use crate::report::{
    GithubReporter, HumanOptions, HumanReporter, JsonReporter, JunitReporter, Reporter, Reporters,
};
use crate::rerun;
use crate::schedule::{self, PoolOptions};
use crate::select::Verdict;
use crate::signals;
use crate::summary::Summary;
use crate::worker::{self, TestSettings};

/// What listing and selection produced.
struct Plan {
    binaries: Vec<Arc<TestBinary>>,
    target_dir: Option<PathBuf>,
    history: History,
    /// History keys of every test listed, selected or not: what exists now.
    listed: HashSet<String>,
    to_run: Vec<TestCase>,
    ignored: Vec<TestCase>,
    notes: Vec<String>,
    list_failures: Vec<(String, String)>,
}

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
        // Ctrl-C reaches cargo too; its death is our cancellation, not a broken build. The
        // normal (empty) report follows, with the cancellation's exit code.
        Err(DiscoverError::BuildFailed(_)) if control.cancelled().is_some() => Discovered {
            binaries: Vec::new(),
            unusable: Vec::new(),
            target_dir: None,
        },
        Err(DiscoverError::BuildFailed(status)) => {
            eprintln!("error: {}", DiscoverError::BuildFailed(status));
            return Ok(exit_code::BUILD_FAILED);
        }
        Err(DiscoverError::Other(e)) => return Err(e),
    };
    let plan = plan(config, discovered, &control);
    match config.mode {
        Mode::List => print_listing(config, &plan),
        Mode::Run => run_plan(config, &plan, &control),
    }
}

fn plan(config: &RunConfig, discovered: Discovered, control: &RunControl) -> Plan {
    let listings = list::list_all(&discovered.binaries, config.list_timeout, control);
    let history = load_history(discovered.target_dir.as_deref());
    let mut plan = Plan {
        binaries: discovered.binaries.clone(),
        target_dir: discovered.target_dir,
        history,
        listed: HashSet::new(),
        to_run: Vec::new(),
        ignored: Vec::new(),
        notes: Vec::new(),
        list_failures: discovered.unusable,
    };
    for (binary, listing) in discovered.binaries.iter().zip(listings) {
        let cases = match listing {
            BinaryListing::Tests(cases) => cases,
            BinaryListing::Whole(case, note) => {
                plan.notes.push(note);
                vec![case]
            }
            // A listing we interrupted ourselves (Ctrl-C) says nothing about the binary.
            BinaryListing::Failed(_) if control.cancelled().is_some() => {
                plan.notes
                    .push(format!("listing {} was interrupted", binary.id));
                continue;
            }
            BinaryListing::Failed(why) => {
                plan.list_failures.push((binary.id.clone(), why));
                continue;
            }
        };
        for case in cases {
            plan.listed.insert(history::key(&case.id()));
            match config.selection.verdict(&case.name, case.ignored) {
                Verdict::Run => plan.to_run.push(case),
                Verdict::SkipIgnored => plan.ignored.push(case),
                Verdict::Exclude => {}
            }
        }
    }
    if let Some(partition) = &config.partition {
        apply_partition(partition, &mut plan);
    }
    if config.last_failed {
        order::keep_last_failed(&mut plan.to_run, &plan.history);
    }
    order::arrange(
        &mut plan.to_run,
        config.order,
        &plan.history,
        config.failed_first,
    );
    if let Order::Random(seed) = config.order {
        plan.notes.push(format!(
            "random order with seed {seed} (replay it with --seed {seed})"
        ));
    }
    plan
}

/// One run of the pool: how many workers, what it is called under `--compare`, and whether
/// binaries are batched.
#[derive(Debug, Clone, Copy)]
struct Pass {
    workers: usize,
    label: Option<&'static str>,
    batch: BatchChoice,
}

/// Which binaries run batched in a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchChoice {
    /// As the flags and config file say.
    Configured,
    Always,
    Never,
}

impl BatchChoice {
    fn from_config(config: &RunConfig) -> Self {
        if config.batch_all || !config.batch_binaries.is_empty() {
            BatchChoice::Configured
        } else {
            BatchChoice::Never
        }
    }

    fn batches(self, config: &RunConfig, binary_id: &str) -> bool {
        // A `batch = false` table opts a binary out even under `--batch`.
        let table = config
            .batch_binaries
            .iter()
            .find(|(filter, _)| binary_id.contains(filter.as_str()))
            .map(|(_, batched)| *batched);
        match self {
            BatchChoice::Never => false,
            BatchChoice::Always => table != Some(false),
            BatchChoice::Configured => table.unwrap_or(config.batch_all),
        }
    }
}

/// What the pool runs: one test in its own process, or a chunk of one binary's tests.
#[derive(Debug)]
enum Job {
    Single(TestCase),
    Batch(Vec<TestCase>),
}

impl Job {
    fn ids(&self) -> Vec<TestId> {
        match self {
            Job::Single(case) => vec![case.id()],
            Job::Batch(chunk) => chunk.iter().map(TestCase::id).collect(),
        }
    }

    fn cases(&self) -> &[TestCase] {
        match self {
            Job::Single(case) => std::slice::from_ref(case),
            Job::Batch(chunk) => chunk,
        }
    }
}

/// Turn the ordered selection into jobs. Tests of batched binaries go into chunks, except
/// whole-binary harnesses and tests in a config group (their limits are per test). Under the
/// default order every job is placed by its expected cost, longest first, with unknown singles
/// first of all, as in the process-per-test order.
fn make_jobs(config: &RunConfig, plan: &Plan, batch: BatchChoice, workers: usize) -> Vec<Job> {
    let (batched, single): (Vec<&TestCase>, Vec<&TestCase>) =
        plan.to_run.iter().partition(|case| {
            case.invocation == Invocation::Libtest
                && config
                    .groups
                    .constraint(&case.binary.id, &case.name)
                    .group
                    .is_none()
                && batch.batches(config, &case.binary.id)
        });
    let chunks = batch::chunk(
        batched.into_iter().cloned().collect(),
        workers,
        &plan.history,
    );
    let mut jobs: Vec<Job> = chunks.into_iter().map(Job::Batch).collect();
    jobs.extend(single.into_iter().cloned().map(Job::Single));
    if config.order == Order::Auto && jobs.iter().any(|j| matches!(j, Job::Batch(_))) {
        let cost = |job: &Job| -> Option<Duration> {
            match job {
                Job::Single(case) => plan.history.expected(&case.id()),
                Job::Batch(chunk) => chunk
                    .iter()
                    .map(|case| plan.history.expected_batched(&case.id()))
                    .sum(),
            }
        };
        let failed = |job: &Job| {
            job.cases()
                .iter()
                .any(|case| plan.history.failed_last_time(&case.id()))
        };
        // Stable: singles keep their order among equals.
        jobs.sort_by_cached_key(|job| match (failed(job), cost(job), job) {
            (true, _, _) => (0, Duration::ZERO),
            (false, None, Job::Single(_)) => (1, Duration::ZERO),
            (false, None, Job::Batch(_)) => (2, Duration::ZERO),
            (false, Some(cost), _) => (2, Duration::MAX - cost),
        });
    }
    jobs
}

/// `process`, `batch`, or `mixed`, for the report.
fn run_mode(jobs: &[Job]) -> &'static str {
    let batched = jobs.iter().any(|j| matches!(j, Job::Batch(_)));
    let single = jobs.iter().any(|j| matches!(j, Job::Single(_)));
    match (batched, single) {
        (true, true) => "mixed",
        (true, false) => "batch",
        _ => "process",
    }
}

/// `<target>/runner/logs/run-<pid>`: one directory per run, so that runs side by side never
/// touch each other's logs. Directories of runs that are no longer alive are removed.
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
            if !alive {
                // A failure to clear an old log is harmless.
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    root.join(format!("run-{}", std::process::id()))
}

/// Keep only this machine's shard, of the tests to run and the skipped ones alike. The shard is
/// computed over both lists together, so every machine sees the same whole.
fn apply_partition(partition: &Partition, plan: &mut Plan) {
    let before = plan.to_run.len() + plan.ignored.len();
    let ids: Vec<_> = plan
        .to_run
        .iter()
        .chain(&plan.ignored)
        .map(TestCase::id)
        .collect();
    let mut keep = partition.select(&ids, &plan.history).into_iter();
    plan.to_run.retain(|_| keep.next().unwrap_or(false));
    plan.ignored.retain(|_| keep.next().unwrap_or(false));
    partition::acknowledge_bazel_sharding();
    plan.notes.push(format!(
        "partition {}/{}: {} of {before} selected tests in this shard",
        partition.index,
        partition.total,
        plan.to_run.len() + plan.ignored.len()
    ));
}

/// The history of earlier runs; without a target directory, or with a bad file, none.
fn load_history(target_dir: Option<&Path>) -> History {
    let Some(dir) = target_dir else {
        return History::default();
    };
    History::load(&History::path_in(dir)).unwrap_or_else(|e| {
        eprintln!("warning: {e:#}; running without timing history (it will be rewritten)");
        History::default()
    })
}

/// Fold this run into the history file; failing to save is a warning, not a failed run.
fn save_history(plan: &Plan, observations: &[Observation]) {
    let Some(dir) = &plan.target_dir else { return };
    let mut history = plan.history.clone();
    history.record(observations, &plan.listed);
    if let Err(e) = history.save(&History::path_in(dir)) {
        eprintln!("warning: could not save the timing history: {e:#}");
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
    save_history(plan, &observations);
    let escaped = process::kill_orphans(&[]);
    if escaped > 0 {
        eprintln!(
            "warning: killed {escaped} process(es) that tests had left running outside their \
             process groups (e.g. with setsid)"
        );
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
    let ran = summary.stats.passed + summary.stats.failed;
    if ran == 0 && summary.list_failures.is_empty() {
        match config.no_tests {
            NoTests::Fail => eprintln!(
                "error: no test was selected; check the filters, or pass --no-tests=pass to allow an empty run"
            ),
            NoTests::Warn => eprintln!("warning: no test was selected"),
            NoTests::Pass => {}
        }
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
    let jobs = make_jobs(config, plan, batch, workers);
    let mode = run_mode(&jobs);
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

#[derive(Serialize)]
struct ListedBinary<'a> {
    binary_id: &'a str,
    path: String,
    kind: &'a crate::model::TargetKind,
    cwd: String,
    tests: Vec<ListedTest<'a>>,
}

#[derive(Serialize)]
struct ListedTest<'a> {
    name: &'a str,
    ignored: bool,
    whole_binary: bool,
}

/// `runner list`: the selected tests grouped by binary.
fn print_listing(config: &RunConfig, plan: &Plan) -> Result<i32> {
    let mut grouped: Vec<ListedBinary> = Vec::new();
    let mut cases: Vec<&TestCase> = plan.to_run.iter().chain(&plan.ignored).collect();
    cases.sort_by(|a, b| (&a.binary.id, &a.name).cmp(&(&b.binary.id, &b.name)));
    for case in cases {
        if grouped.last().is_none_or(|g| g.binary_id != case.binary.id) {
            grouped.push(ListedBinary {
                binary_id: &case.binary.id,
                path: case.binary.path.display().to_string(),
                kind: &case.binary.kind,
                cwd: case.binary.cwd.display().to_string(),
                tests: Vec::new(),
            });
        }
        if let Some(group) = grouped.last_mut() {
            group.tests.push(ListedTest {
                name: &case.name,
                ignored: case.ignored,
                whole_binary: case.invocation == Invocation::WholeBinary,
            });
        }
    }
    let mut out = std::io::stdout().lock();
    if config.list_json {
        serde_json::to_writer(&mut out, &serde_json::json!({ "binaries": grouped }))?;
        writeln!(out)?;
    } else {
        for message in &plan.notes {
            eprintln!("note: {message}");
        }
        for group in &grouped {
            writeln!(out, "{}:", group.binary_id)?;
            for test in &group.tests {
                let mark = match (test.ignored, test.whole_binary) {
                    (true, _) => " (ignored)",
                    (false, true) => " (whole binary)",
                    _ => "",
                };
                writeln!(out, "    {}{mark}", test.name)?;
            }
        }
        let total: usize = grouped.iter().map(|g| g.tests.len()).sum();
        writeln!(
            out,
            "{total} test{} in {} binar{} ({} ignored)",
            if total == 1 { "" } else { "s" },
            grouped.len(),
            if grouped.len() == 1 { "y" } else { "ies" },
            grouped
                .iter()
                .flat_map(|g| &g.tests)
                .filter(|t| t.ignored)
                .count()
        )?;
    }
    for (binary, message) in &plan.list_failures {
        eprintln!("error: could not list the tests of {binary}: {message}");
    }
    Ok(if plan.list_failures.is_empty() {
        exit_code::OK
    } else {
        exit_code::LIST_FAILED
    })
}
