//! Reporters: they consume [`TestEvent`]s and never drive the run.

mod human;
mod json;

pub use human::{HumanOptions, HumanReporter};
pub use json::JsonReporter;

use crate::event::TestEvent;
use crate::summary::Summary;

/// Something that shows a run to the user or to a tool.
pub trait Reporter {
    /// Called for every event, in the order the run produced them.
    fn on_event(&mut self, event: &TestEvent);

    /// Called once at the very end, with the final run's summary and, under `--compare`, the
    /// serial run's; this is where the closing report is printed.
    fn finish(&mut self, summary: &Summary, serial: Option<&Summary>);
}

/// Several reporters fed the same events, in order.
#[derive(Default)]
pub struct Reporters(pub Vec<Box<dyn Reporter>>);

impl Reporter for Reporters {
    fn on_event(&mut self, event: &TestEvent) {
        for reporter in &mut self.0 {
            reporter.on_event(event);
        }
    }

    fn finish(&mut self, summary: &Summary, serial: Option<&Summary>) {
        for reporter in &mut self.0 {
            reporter.finish(summary, serial);
        }
    }
}
