//! The tests run before the pass that reports them: in an overlapped run (see
//! `session::overlap`), each wave of binaries cargo has built runs while cargo builds the
//! rest, and its events are kept here. The pass over the whole plan then hands them on in
//! place of running those tests again, so that every test still gets exactly one result, in
//! one report, with `-x`/`--maxfail` counting the failures already seen.

use std::collections::HashSet;
use std::time::Instant;

use super::jobs::{self, Job};
use super::pass::{self, Pass};
use super::pool::PoolOptions;
use super::single::TestSettings;
use crate::cli::RunConfig;
use crate::model::TestCase;
use crate::plan::Plan;
use crate::process::control::RunControl;
use crate::report::event::{TestEvent, TestId};

/// What the waves of an overlapped run did; empty for a run that built first.
#[derive(Debug, Default)]
pub struct Early {
    events: Vec<TestEvent>,
    /// When the first wave's workers started: the pass's clock starts there too.
    started: Option<Instant>,
    failures: usize,
}

impl Early {
    /// When the first test started early, if one did.
    pub fn started(&self) -> Option<Instant> {
        self.started
    }

    /// What is left of `--maxfail` after the failures seen early.
    pub fn failures_left(&self, max_failures: Option<usize>) -> Option<usize> {
        max_failures.map(|max| max.saturating_sub(self.failures))
    }

    /// Whether `--maxfail` is reached: no further test may start.
    pub fn stopped(&self, config: &RunConfig) -> bool {
        self.failures_left(config.max_failures) == Some(0)
    }

    /// Run the tests of `plan` (one wave) on the pool, keeping their events.
    pub fn run_wave(
        &mut self,
        config: &RunConfig,
        plan: &Plan,
        (settings, control): (&TestSettings, &RunControl),
        pass: Pass,
    ) {
        let jobs: Vec<Job> = jobs::make_jobs(config, plan, pass.batch, pass.workers);
        if jobs.is_empty() {
            return;
        }
        let options = PoolOptions {
            workers: pass.workers,
            max_failures: self.failures_left(config.max_failures),
            group_limits: config.groups.limits(),
        };
        let started = *self.started.get_or_insert_with(Instant::now);
        let mut events = Vec::new();
        let mut keep = |event| events.push(event);
        // Doctests never run early, so there are no job costs to keep.
        pass::run_jobs(&jobs, &options, (settings, control), started, &mut keep);
        self.failures += (events.iter())
            .filter(|e| matches!(e, TestEvent::TestFinished(r) if r.is_failure()))
            .count();
        self.events.extend(events);
    }

    fn finished_ids(&self) -> impl Iterator<Item = &TestId> {
        self.events.iter().filter_map(|event| match event {
            TestEvent::TestFinished(result) => Some(&result.id),
            _ => None,
        })
    }

    /// The tests of `plan` that finished early: the pass does not run them again.
    pub(super) fn finished_in(&self, plan: &Plan) -> HashSet<TestId> {
        let planned: HashSet<TestId> = plan.to_run.iter().map(TestCase::id).collect();
        (self.finished_ids())
            .filter(|id| planned.contains(id))
            .cloned()
            .collect()
    }

    /// The kept events of the tests in `done`, and the notes, in the order they happened. A
    /// test that did not start early (a wave stopped by `-x` or Ctrl-C) gets its one result
    /// from the pass instead.
    pub(super) fn replay<'a>(
        &'a self,
        done: &'a HashSet<TestId>,
    ) -> impl Iterator<Item = TestEvent> + 'a {
        let kept = move |event: &&TestEvent| match event {
            TestEvent::TestStarted { id, .. }
            | TestEvent::TestSlow { id, .. }
            | TestEvent::TestRetry { id, .. } => done.contains(id),
            TestEvent::TestFinished(result) => done.contains(&result.id),
            TestEvent::Note { .. } => true,
            _ => false,
        };
        self.events.iter().filter(kept).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Invocation, TargetKind, TestBinary};
    use crate::report::event::{Outcome, SkipReason, TestResult};
    use std::sync::Arc;
    use std::time::Duration;

    fn case(name: &str) -> TestCase {
        TestCase {
            binary: Arc::new(TestBinary {
                id: "b".into(),
                path: "/b".into(),
                package: Some("p".into()),
                target_name: "b".into(),
                kind: TargetKind::Lib,
                cwd: "/".into(),
                env: Default::default(),
                custom_harness: false,
            }),
            name: name.into(),
            ignored: false,
            invocation: Invocation::Libtest,
        }
    }

    fn plan(names: &[&str]) -> Plan {
        let to_run = names.iter().map(|n| case(n)).collect();
        Plan::of_wave(None, Default::default(), to_run)
    }

    fn finished(name: &str, outcome: Outcome) -> TestEvent {
        let id = case(name).id();
        TestEvent::TestFinished(TestResult::bare(id, outcome, Duration::ZERO))
    }

    fn started(name: &str) -> TestEvent {
        TestEvent::TestStarted {
            id: case(name).id(),
            placement: None,
        }
    }

    /// Two waves: `a` passed, `b` failed, `c` was never started (the limit), `gone` ran but is
    /// not in the whole plan (its listing changed).
    fn early() -> Early {
        let failed = Outcome::Failed { exit_code: 101 };
        let events = vec![
            started("a"),
            finished("a", Outcome::Passed),
            TestEvent::Note {
                message: "n".into(),
            },
            started("b"),
            finished("b", failed),
            TestEvent::TestSkipped {
                id: case("c").id(),
                reason: SkipReason::NotStarted,
            },
            started("gone"),
            finished("gone", Outcome::Passed),
        ];
        Early {
            events,
            started: Some(Instant::now()),
            failures: 1,
        }
    }

    #[test]
    fn only_tests_that_finished_early_and_are_planned_are_handed_on() {
        let early = early();
        let done = early.finished_in(&plan(&["a", "b", "c", "d"]));
        let mut names: Vec<&str> = done.iter().map(|id| id.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["a", "b"]);
        let replayed: Vec<String> = (early.replay(&done))
            .map(|event| match event {
                TestEvent::TestStarted { id, .. } => format!("start {}", id.name),
                TestEvent::TestFinished(result) => format!("end {}", result.id.name),
                TestEvent::Note { message } => format!("note {message}"),
                other => panic!("not handed on: {other:?}"),
            })
            .collect();
        assert_eq!(replayed, ["start a", "end a", "note n", "start b", "end b"]);
    }

    #[test]
    fn maxfail_counts_the_failures_seen_early() {
        let early = early();
        assert_eq!(early.failures_left(Some(3)), Some(2));
        assert_eq!(early.failures_left(Some(1)), Some(0));
        assert_eq!(early.failures_left(None), None);
        assert_eq!(Early::default().started(), None);
    }
}
