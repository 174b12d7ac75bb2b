//! The [`Reporter`] trait and [`Reporters`], which feeds one run's events to several of them
//! and keeps the run's results safe from a reporter's bug.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::event::TestEvent;
use super::summary::Summary;

/// Something that shows a run to the user or to a tool.
pub trait Reporter {
    /// Called for every event, in the order the run produced them.
    fn on_event(&mut self, event: &TestEvent);

    /// Called once at the very end, with the final run's summary and, under `--compare`, the
    /// serial run's; this is where the closing report is printed or the report file written.
    fn finish(&mut self, summary: &Summary, serial: Option<&Summary>) -> anyhow::Result<()>;
}

/// Several reporters fed the same events, in order.
///
/// A reporter that panics is dropped, and the others go on: the run's results are never lost
/// to a bug in one way of showing them. [`Reporters::panicked`] tells the caller, which ends
/// with exit code 1; if the reporter that died was the one printing the closing Summary line,
/// a plain one is printed in its place.
#[derive(Default)]
pub struct Reporters {
    list: Vec<Option<Box<dyn Reporter>>>,
    panics: Vec<String>,
}

impl Reporters {
    pub fn add(&mut self, reporter: Box<dyn Reporter>) {
        self.list.push(Some(reporter));
    }

    /// The panic messages of reporters that died.
    pub fn panicked(&self) -> &[String] {
        &self.panics
    }

    /// Call `f` on every live reporter, retiring any that panics.
    fn each(&mut self, mut f: impl FnMut(&mut dyn Reporter)) {
        for slot in &mut self.list {
            let Some(reporter) = slot.as_mut() else {
                continue;
            };
            let outcome = catch_unwind(AssertUnwindSafe(|| f(reporter.as_mut())));
            if let Err(panic) = outcome {
                let message = crate::run::pool::panic_message(panic.as_ref());
                eprintln!("error: internal error in a reporter (it stops here, the run goes on): {message}");
                self.panics.push(message);
                *slot = None;
            }
        }
    }
}

impl Reporter for Reporters {
    fn on_event(&mut self, event: &TestEvent) {
        self.each(|reporter| reporter.on_event(event));
    }

    /// Every reporter finishes, even when an earlier one failed. Each error is printed as one
    /// `error:` line as it happens (so it comes before the human report's closing lines when
    /// that reporter is last); the result says whether any occurred.
    fn finish(&mut self, summary: &Summary, serial: Option<&Summary>) -> anyhow::Result<()> {
        let mut failed = 0;
        self.each(|reporter| {
            if let Err(e) = reporter.finish(summary, serial) {
                eprintln!("error: {e:#}");
                failed += 1;
            }
        });
        if !self.panics.is_empty() {
            // The human reporter may be the one that died: keep the promised last line.
            let stats = &summary.stats;
            println!(
                "Summary: {} passed, {} failed, {} skipped",
                stats.passed, stats.failed, stats.skipped
            );
        }
        match failed {
            0 => Ok(()),
            n => Err(anyhow::anyhow!("{n} report(s) could not be written")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    struct Counting(Arc<Mutex<usize>>);
    impl Reporter for Counting {
        fn on_event(&mut self, _: &TestEvent) {
            *self.0.lock().unwrap() += 1;
        }
        fn finish(&mut self, _: &Summary, _: Option<&Summary>) -> anyhow::Result<()> {
            Ok(())
        }
    }

    struct Panicking;
    impl Reporter for Panicking {
        fn on_event(&mut self, _: &TestEvent) {
            panic!("reporter bug");
        }
        fn finish(&mut self, _: &Summary, _: Option<&Summary>) -> anyhow::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_panicking_reporter_is_dropped_and_the_others_go_on() {
        let seen = Arc::new(Mutex::new(0));
        let mut reporters = Reporters::default();
        reporters.add(Box::new(Panicking));
        reporters.add(Box::new(Counting(Arc::clone(&seen))));
        for _ in 0..3 {
            reporters.on_event(&TestEvent::Note {
                message: "x".into(),
            });
        }
        assert_eq!(*seen.lock().unwrap(), 3);
        assert_eq!(reporters.panicked(), ["reporter bug"]);
        assert!(reporters.finish(&Summary::default(), None).is_ok());
    }
}
