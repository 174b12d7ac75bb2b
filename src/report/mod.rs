//! Reporters: they consume [`TestEvent`]s and never drive the run.

mod github;
mod human;
mod json;
mod junit;

pub use github::GithubReporter;
pub use human::{HumanOptions, HumanReporter};
pub use json::JsonReporter;
pub use junit::{merge as merge_junit, JunitReporter};

use crate::event::TestEvent;
use crate::summary::Summary;

/// Something that shows a run to the user or to a tool.
pub trait Reporter {
    /// Called for every event, in the order the run produced them.
    fn on_event(&mut self, event: &TestEvent);

    /// Called once at the very end, with the final run's summary and, under `--compare`, the
    /// serial run's; this is where the closing report is printed or the report file written.
    fn finish(&mut self, summary: &Summary, serial: Option<&Summary>) -> anyhow::Result<()>;
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

    /// Every reporter finishes, even when an earlier one failed. Each error is printed as one
    /// `error:` line as it happens (so it comes before the human report's closing lines when
    /// that reporter is last); the result says whether any occurred.
    fn finish(&mut self, summary: &Summary, serial: Option<&Summary>) -> anyhow::Result<()> {
        let mut failed = 0;
        for reporter in &mut self.0 {
            if let Err(e) = reporter.finish(summary, serial) {
                eprintln!("error: {e:#}");
                failed += 1;
            }
        }
        match failed {
            0 => Ok(()),
            n => Err(anyhow::anyhow!("{n} report(s) could not be written")),
        }
    }
}
