//! When the runner's own phases ended, in time since the process started: cargo's build check,
//! `cargo metadata`, listing the tests, the first test started, the last test finished, and the
//! reports written. The run's fixed costs are the gaps between them (shown under `-v` and in
//! the JSON `run-finished` event as `phases`).
//!
//! One clock for the whole process: the stages that reach a phase mark it here, and the pass
//! copies what is known into its figures.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;

static START: OnceLock<Instant> = OnceLock::new();
static MARKS: Mutex<Phases> = Mutex::new(Phases::NONE);

/// Each phase's end, since the process started; `None` for a phase the run did not have (no
/// cargo under `--binary`, no test started...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Phases {
    /// `cargo test --no-run` exited: the build is up to date.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "seconds")]
    pub build: Option<Duration>,
    /// `cargo metadata` answered (it runs beside the build).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "seconds")]
    pub metadata: Option<Duration>,
    /// Every binary's tests were known (from a listing, or from the listing cache).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "seconds")]
    pub listed: Option<Duration>,
    /// The first test (or chunk) was handed to a worker.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "seconds")]
    pub first_test: Option<Duration>,
    /// The last test finished: every worker was done.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "seconds")]
    pub last_test: Option<Duration>,
    /// The pass's results were complete and its `run-finished` event made.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "seconds")]
    pub run_finished: Option<Duration>,
    /// The history and every other report were written (known only to the closing report,
    /// which is written last).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "seconds")]
    pub reports: Option<Duration>,
}

/// A point a run reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Build,
    Metadata,
    Listed,
    FirstTest,
    LastTest,
    RunFinished,
    Reports,
}

impl Phases {
    const NONE: Phases = Phases {
        build: None,
        metadata: None,
        listed: None,
        first_test: None,
        last_test: None,
        run_finished: None,
        reports: None,
    };

    fn slot(&mut self, phase: Phase) -> &mut Option<Duration> {
        match phase {
            Phase::Build => &mut self.build,
            Phase::Metadata => &mut self.metadata,
            Phase::Listed => &mut self.listed,
            Phase::FirstTest => &mut self.first_test,
            Phase::LastTest => &mut self.last_test,
            Phase::RunFinished => &mut self.run_finished,
            Phase::Reports => &mut self.reports,
        }
    }

    /// These phases with `phase` ending `at`.
    pub fn with(mut self, phase: Phase, at: Duration) -> Phases {
        *self.slot(phase) = Some(at);
        self
    }

    /// How long from the start until the first test started: the run's start-up.
    pub fn start_up(&self) -> Option<Duration> {
        self.first_test
    }

    /// From the first test started to the last one finished.
    pub fn testing(&self) -> Option<Duration> {
        Some(self.last_test?.saturating_sub(self.first_test?))
    }

    /// From the last test finished to the end of the reports (or of the results).
    pub fn wrap_up(&self) -> Option<Duration> {
        let end = self.reports.or(self.run_finished)?;
        Some(end.saturating_sub(self.last_test?))
    }
}

/// Call first thing in `main`: the zero of every phase.
pub fn mark_start() {
    let _ = START.set(Instant::now());
}

/// Time since [`mark_start`] (since the first phase was asked for, if it never ran).
pub fn since_start() -> Duration {
    START.get_or_init(Instant::now).elapsed()
}

/// `phase` ends now (a later mark of the same phase replaces it: the last pass's end counts).
pub fn mark(phase: Phase) {
    let at = since_start();
    let mut marks = MARKS.lock().unwrap_or_else(|e| e.into_inner());
    *marks.slot(phase) = Some(at);
}

/// `phase` ends now, unless it has already been marked (the first test of the first pass).
pub fn mark_once(phase: Phase) {
    let mut marks = MARKS.lock().unwrap_or_else(|e| e.into_inner());
    let slot = marks.slot(phase);
    if slot.is_none() {
        *slot = Some(since_start());
    }
}

/// The phases marked so far.
pub fn so_far() -> Phases {
    *MARKS.lock().unwrap_or_else(|e| e.into_inner())
}

fn seconds<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e6),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_between_phases() {
        let ms = Duration::from_millis;
        let phases = Phases::default()
            .with(Phase::Build, ms(80))
            .with(Phase::Listed, ms(120))
            .with(Phase::FirstTest, ms(125))
            .with(Phase::LastTest, ms(900))
            .with(Phase::RunFinished, ms(905));
        assert_eq!(phases.start_up(), Some(ms(125)));
        assert_eq!(phases.testing(), Some(ms(775)));
        assert_eq!(phases.wrap_up(), Some(ms(5)));
        assert_eq!(phases.with(Phase::Reports, ms(930)).wrap_up(), Some(ms(30)));
        assert_eq!(Phases::default().testing(), None);
    }

    #[test]
    fn json_has_the_phases_reached_in_seconds() {
        let phases = Phases::default()
            .with(Phase::Build, Duration::from_micros(81_234))
            .with(Phase::FirstTest, Duration::from_millis(125));
        let json = serde_json::to_value(phases).unwrap();
        assert_eq!(json["build"], 0.081234);
        assert_eq!(json["first_test"], 0.125);
        assert!(json.get("metadata").is_none(), "{json}");
    }

    #[test]
    fn the_first_mark_once_stays() {
        mark_start();
        mark_once(Phase::FirstTest);
        let first = so_far().first_test;
        assert!(first.is_some());
        mark_once(Phase::FirstTest);
        assert_eq!(so_far().first_test, first);
    }
}
