//! One pass over the planned tests: the jobs, the worker pool, and the events it produces,
//! handed to the summary and the reporters in the order they happen.
//!
//! Worker threads only run tests and emit events. What a result needs beyond that (the command
//! that reruns a failure, the history's observation) is added here, in the one loop that
//! receives the events, so the workers never do presentation work.
//!
//! The history keeps a test's CPU time only where its wall time is its own: where waiting for a
//! core, which would pass for I/O and lead `-n auto` to add still more workers, cannot have
//! made up much of it. The kernel's CPU pressure says how long some task waited for a CPU while
//! the test ran (see `uncontended`); on a kernel that does not report it, the pass decides:
//! no more workers than cores, or cores left mostly idle.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::backtraces;
use super::batch;
use super::doctest;
use super::early::Early;
use super::jobs::{self, BatchChoice, Job};
use super::pool::{self, PoolJob, PoolOptions};
use super::setup;
use super::single::{self, Placer, TestSettings};
use crate::cli::{self, RunConfig, Source};
use crate::model::TestCase;
use crate::phases::{self, Phase};
use crate::plan::history::{History, Observation};
use crate::plan::Plan;
use crate::process::{self, control::RunControl};
use crate::report::event::{
    AutoWorkers, PassLabel, SkipReason, TestEvent, TestId, TestResult, Verdict, FORMAT_VERSION,
};
use crate::report::isolation;
use crate::report::rerun;
use crate::report::summary::Summary;
use crate::report::{Reporter, Reporters};

/// One run of the pool: how many workers (and why, when `-n auto` chose them), what it is
/// called under a comparison, and whether binaries are batched.
#[derive(Debug, Clone, Copy)]
pub struct Pass {
    pub workers: usize,
    pub auto: Option<AutoWorkers>,
    pub label: Option<PassLabel>,
    pub batch: BatchChoice,
}

/// What a pass leaves behind: its summary, and the observations for the timing history.
pub type PassOutcome = (Summary, Vec<Observation>);

/// What every pass of one run shares.
pub struct PassContext<'a> {
    pub config: &'a RunConfig,
    pub plan: &'a Plan,
    pub settings: &'a TestSettings,
    pub control: &'a RunControl,
    /// The tests that ran while cargo was still building.
    pub early: &'a Early,
}

/// Run every planned test once, feeding events to the reporters. The tests `early` ran
/// while cargo was still building are not run again: their events are handed on in its place.
pub fn run_pass(
    context: &PassContext,
    pass: Pass,
    earlier: &[&Summary],
    reporters: &mut Reporters,
) -> PassOutcome {
    let PassContext {
        config,
        plan,
        settings,
        control,
        early,
    } = *context;
    let done = early.finished_in(plan);
    let jobs = jobs::make_jobs(config, plan, pass.batch, pass.workers);
    let mode = jobs::run_mode(&jobs);
    let jobs: Vec<Job> = (jobs.into_iter())
        .filter_map(|job| job.without(&done))
        .collect();
    let mut receiver = Receiver::new(config, plan, pass, reporters);
    receiver.summary.stats.usable_workers =
        usable_workers(&jobs, pass.workers, &config.groups.limits());
    receiver.receive(TestEvent::RunStarted {
        format_version: FORMAT_VERSION,
        tests: plan.to_run.len(),
        binaries: plan.binaries_to_run(),
        ignored: plan.ignored.len(),
        workers: pass.workers,
        label: pass.label,
        mode,
        auto: pass.auto,
        partition: plan.shard.clone(),
    });
    for event in planned_events(plan).chain(early.replay(&done)) {
        receiver.receive(event);
    }
    let options = PoolOptions {
        workers: pass.workers,
        max_failures: early.failures_left(config.max_failures),
        group_limits: config.groups.limits(),
    };
    let started = early.started().unwrap_or_else(Instant::now);
    let mut receive = |event| receiver.receive(event);
    let job_costs = run_jobs(&jobs, &options, (settings, control), started, &mut receive);
    receiver.observations.extend(job_costs);
    receiver.finish(started, control, earlier)
}

/// Run the jobs on the pool, handing every event to `receive` as it comes; returns the
/// doctest jobs' own costs, for the history (no test event carries them).
pub(super) fn run_jobs(
    jobs: &[Job],
    options: &PoolOptions,
    (settings, control): (&TestSettings, &RunControl),
    started: Instant,
    receive: &mut dyn FnMut(TestEvent),
) -> Vec<Observation> {
    let (sender, events) = crossbeam_channel::unbounded();
    let job_costs = Mutex::new(Vec::new());
    let job_costs_ref = &job_costs;
    let run_pool = move || {
        let run_one = |job: &Job, slot: pool::Slot, emit: &dyn Fn(TestEvent)| {
            phases::mark_once(Phase::FirstTest);
            let placer = Placer {
                worker: slot.worker,
                chunk: matches!(job, Job::Batch(_)).then_some(slot.job),
                pass_start: started,
            };
            match job {
                Job::Single(case, _) => run_single(case, (settings, control), placer, emit),
                Job::Batch(chunk) => batch::run_chunk(chunk, settings, control, placer, emit),
                Job::Doctests(job) => {
                    let cost = doctest::run_doc_job(job, settings, control, emit);
                    let mut costs = job_costs_ref.lock().unwrap_or_else(|e| e.into_inner());
                    costs.extend(cost);
                }
            }
        };
        let cancelled = || control.cancelled().is_some();
        pool::run_pool(jobs, options, run_one, &cancelled, &sender);
        // A pass left nothing to run by the tests run early did not end the last one.
        if !jobs.is_empty() {
            phases::mark(Phase::LastTest);
        }
    };
    // Taken by whichever thread runs the pool: its own, or this one if no thread can start.
    let pool_job = Mutex::new(Some(run_pool));
    let take_and_run = || {
        let job = pool_job.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(job) = job {
            job();
        }
    };
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("pool".into())
            .spawn_scoped(scope, take_and_run);
        if spawned.is_err() {
            // The events wait in the channel until the pool is done; the reports still get
            // every one of them.
            take_and_run();
        }
        for event in events.iter() {
            receive(event);
        }
    });
    job_costs.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// One test in its own process, once the setup scripts it needs have run; a test whose
/// script did not pass fails without running.
fn run_single(
    case: &TestCase,
    (settings, control): (&TestSettings, &RunControl),
    placer: Placer,
    emit: &dyn Fn(TestEvent),
) {
    let prepared = match &settings.setup {
        Some(setup) => setup.prepare(case, control, emit),
        None => Ok(Vec::new()),
    };
    emit(TestEvent::TestStarted {
        id: case.id(),
        placement: Some(placer.place(Instant::now())),
    });
    let result = match prepared {
        Ok(exports) => {
            let case = setup::with_exports(case, exports);
            single::run_test(&case, settings, control, placer, emit)
        }
        Err(outcome) => TestResult::bare(case.id(), outcome, Duration::ZERO),
    };
    emit(TestEvent::TestFinished(result));
}

/// The workers these jobs can keep busy at once: no more than there are jobs, and no more
/// than each test group's `max-threads` lets its jobs run side by side.
fn usable_workers(jobs: &[Job], workers: usize, group_limits: &[Option<usize>]) -> usize {
    let mut in_group = vec![0usize; group_limits.len()];
    let mut free = 0;
    for job in jobs {
        match job.constraint().group {
            Some(group) => in_group[group] += 1,
            None => free += job.parallelism(),
        }
    }
    let grouped: usize = in_group
        .iter()
        .zip(group_limits)
        .map(|(&count, limit)| limit.map_or(count, |max| count.min(max)))
        .sum();
    (free + grouped).clamp(1, workers.max(1))
}

/// What the plan already says before any test runs: its notes, the binaries that could not
/// be listed, and the ignored tests.
fn planned_events(plan: &Plan) -> impl Iterator<Item = TestEvent> + '_ {
    let notes = plan.notes.iter().map(|message| TestEvent::Note {
        message: message.clone(),
    });
    let list_failures = plan
        .list_failures
        .iter()
        .cloned()
        .map(TestEvent::ListFailed);
    let ignored = plan.ignored.iter().map(|case| TestEvent::TestSkipped {
        id: case.id(),
        reason: SkipReason::Ignored,
    });
    notes.chain(list_failures).chain(ignored)
}

/// The one place a pass's events arrive, in order.
struct Receiver<'a> {
    source: &'a Source,
    /// The profile named for the run, repeated in rerun commands.
    profile: Option<&'a str>,
    /// The tests of the plan by id, for the rerun commands of failures.
    cases: HashMap<TestId, &'a TestCase>,
    summary: Summary,
    observations: Vec<Observation>,
    /// Observations with a CPU time but no pressure figure: the pass as a whole decides.
    judged_by_pass: Vec<usize>,
    workers: usize,
    /// The history as the run started: the tests' durations alone.
    history: &'a History,
    reporters: &'a mut Reporters,
}

impl<'a> Receiver<'a> {
    fn new(
        config: &'a RunConfig,
        plan: &'a Plan,
        pass: Pass,
        reporters: &'a mut Reporters,
    ) -> Self {
        let mut summary = Summary::new(pass.workers);
        summary.label = pass.label;
        Receiver {
            source: &config.source,
            profile: config.profile.as_deref(),
            cases: plan.to_run.iter().map(|case| (case.id(), case)).collect(),
            summary,
            observations: Vec::new(),
            judged_by_pass: Vec::new(),
            workers: pass.workers,
            history: &plan.history,
            reporters,
        }
    }

    fn receive(&mut self, mut event: TestEvent) {
        match &mut event {
            TestEvent::RunStarted { mode, .. } => self.summary.mode = *mode,
            TestEvent::TestFinished(result) => {
                if result.is_failure() {
                    if let Some(case) = self.cases.get(&result.id) {
                        result.rerun = Some(rerun::command_for(self.source, self.profile, case));
                    }
                }
                if result.verdict() != Verdict::Cancelled {
                    self.record(result);
                    self.compare_with_alone(result);
                }
            }
            _ => {}
        }
        self.summary.observe(&event);
        self.reporters.on_event(&event);
    }

    /// Add a test's duration, and its duration alone if the history has it, to the run's
    /// contention figure. Batched durations have no process start to compare with.
    fn compare_with_alone(&mut self, result: &TestResult) {
        let Some(cost) = self.history.cost(&result.id).filter(|_| !result.batched) else {
            return;
        };
        let contention = self.summary.stats.contention.get_or_insert_default();
        contention.tests += 1;
        contention.measured += result.duration();
        contention.alone += cost.wall;
    }

    /// The history's observation of a finished test, with its CPU time where its wall time
    /// was its own (see `uncontended`).
    fn record(&mut self, result: &TestResult) {
        let last = result.last();
        let cpu = match last.cpu_pressure {
            Some(pressure) => last
                .cpu
                .filter(|cpu| uncontended(pressure, *cpu, last.duration)),
            None if last.cpu.is_some() => {
                self.judged_by_pass.push(self.observations.len());
                last.cpu
            }
            None => None,
        };
        self.observations.push(Observation {
            id: result.id.clone(),
            duration: result.duration(),
            failed: result.is_failure(),
            batched: result.batched,
            cpu,
            // Inside a batch, libtest keeps a passing test's output to itself.
            panicked: (!result.batched || result.is_failure())
                .then(|| backtraces::shows_a_panic(&last.stdout, &last.stderr)),
        });
    }

    fn finish(
        mut self,
        started: Instant,
        control: &RunControl,
        earlier: &[&Summary],
    ) -> PassOutcome {
        let wall = started.elapsed();
        let cpu: Duration = self.observations.iter().filter_map(|o| o.cpu).sum();
        if !had_a_core_each(self.workers, cli::available_cpus(), cpu, wall) {
            for &index in &self.judged_by_pass {
                self.observations[index].cpu = None;
            }
        }
        self.summary.finish(wall, process::own_usage());
        self.summary.cancelled_by = control.cancelled();
        if !earlier.is_empty() {
            isolation::check(&mut self.summary, earlier);
        }
        phases::mark(Phase::RunFinished);
        self.summary.stats.phases = phases::so_far();
        let stats = self.summary.stats.clone();
        self.reporters.on_event(&TestEvent::RunFinished(stats));
        (self.summary, self.observations)
    }
}

/// Whether a test's wall time less its CPU time is time it waited on something other than a
/// core, given that some task on the machine waited for a CPU during `pressure` of it: when
/// that is under a tenth of its wall time, or when the test spent under 5% of its time on CPU
/// (a sleeping test on a busy machine: a test that computes gets that little of a CPU only
/// when twenty tasks per core compete for them).
fn uncontended(pressure: Duration, cpu: Duration, wall: Duration) -> bool {
    pressure.as_secs_f64() <= 0.1 * wall.as_secs_f64()
        || cpu.as_secs_f64() <= 0.05 * wall.as_secs_f64()
}

/// Without pressure figures: whether the tests of a pass each had a core to themselves, as far
/// as the pass can tell: no more workers than cores, or tests that used under three quarters of
/// the cores' time.
fn had_a_core_each(workers: usize, cores: usize, cpu: Duration, wall: Duration) -> bool {
    let available = wall.as_secs_f64() * cores.max(1) as f64;
    workers <= cores || cpu.as_secs_f64() < 0.75 * available
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_times_count_where_tests_had_a_core_each() {
        let secs = Duration::from_secs;
        let ms = Duration::from_millis;
        // A test that computed for 900 ms of its second, while something waited 100 ms or more.
        assert!(uncontended(ms(100), ms(900), secs(1)));
        assert!(!uncontended(ms(101), ms(900), secs(1)));
        // A test that slept for nearly all of its second, however busy the machine was.
        assert!(uncontended(secs(1), ms(50), secs(1)));
        assert!(!uncontended(secs(1), ms(51), secs(1)));
        // As many workers as cores, however busy.
        assert!(had_a_core_each(2, 2, secs(20), secs(10)));
        // Eight workers on two cores, mostly waiting: the cores were free.
        assert!(had_a_core_each(8, 2, secs(3), secs(10)));
        // Eight workers on two busy cores: walls include waiting for a core.
        assert!(!had_a_core_each(8, 2, secs(19), secs(10)));
    }
}
