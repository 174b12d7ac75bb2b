//! One pass over the planned tests: the jobs, the worker pool, and the events it produces,
//! handed to the reporters in the order they happen.

use std::time::Instant;

use super::batch;
use super::groups::Constraint;
use super::jobs::{self, BatchChoice, Job};
use super::pool::{self, PoolOptions};
use super::single::{self, TestSettings};
use crate::cli::RunConfig;
use crate::model::TestCase;
use crate::plan::history::Observation;
use crate::plan::Plan;
use crate::process::control::RunControl;
use crate::report::event::{Outcome, SkipReason, TestEvent, TestResult, FORMAT_VERSION};
use crate::report::rerun;
use crate::report::summary::Summary;
use crate::report::{Reporter, Reporters};

/// One run of the pool: how many workers, what it is called under `--compare`, and whether
/// binaries are batched.
#[derive(Debug, Clone, Copy)]
pub struct Pass {
    pub workers: usize,
    pub label: Option<&'static str>,
    pub batch: BatchChoice,
}

/// Run every planned test once with `workers` workers, feeding events to the reporters.
pub fn run_pass(
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
                    let result = single::run_test(case, settings, control, emit);
                    emit(TestEvent::TestFinished(finish(case, result)));
                }
                Job::Batch(chunk) => batch::run_chunk(chunk, settings, control, emit, &finish),
            };
            let cancelled = || control.cancelled().is_some();
            pool::run_pool(
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
