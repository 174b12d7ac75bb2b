//! The [`Reporter`] trait and [`Reporters`], which feeds one run's events to several of them
//! and keeps the run's results safe from a reporter's bug.

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::event::TestEvent;
use super::summary::{Passes, Summary};

/// Something that shows a run to the user or to a tool.
pub trait Reporter {
    /// Called for every event, in the order the run produced them.
    fn on_event(&mut self, event: &TestEvent);

    /// Called once at the very end, with the final pass's summary and, under a comparison,
    /// every pass; this is where the closing report is printed or the report file written.
    fn finish(&mut self, summary: &Summary, passes: Option<&Passes>) -> anyhow::Result<()>;
}

/// Several reporters fed the same events, in order.
///
/// A reporter that panics is dropped, and the others go on: the run's results are never lost
/// to a bug in one way of showing them. [`Reporters::panicked`] tells the caller, which ends
/// with exit code 1; if the reporter that died was the closing one (the one whose last line is
/// the Summary line), a plain Summary line is written to its stream in its place, and only
/// then: the JSON stream on stdout stays pure JSON whatever reporter dies.
#[derive(Default)]
pub struct Reporters {
    list: Vec<Option<Box<dyn Reporter>>>,
    panics: Vec<String>,
    /// The closing reporter's index, and the stream its Summary line goes to.
    closing: Option<(usize, Box<dyn Write + Send>)>,
}

impl Reporters {
    pub fn add(&mut self, reporter: Box<dyn Reporter>) {
        self.list.push(Some(reporter));
    }

    /// Add the reporter that writes the closing Summary line to `out`; add it last, so that
    /// the others' errors come before that line.
    pub fn add_closing(&mut self, reporter: Box<dyn Reporter>, out: Box<dyn Write + Send>) {
        self.closing = Some((self.list.len(), out));
        self.add(reporter);
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
                let message = crate::panics::panic_message(panic.as_ref());
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
    fn finish(&mut self, summary: &Summary, passes: Option<&Passes>) -> anyhow::Result<()> {
        let mut failed = 0;
        self.each(|reporter| {
            if let Err(e) = reporter.finish(summary, passes) {
                eprintln!("error: {e:#}");
                failed += 1;
            }
        });
        if let Some((index, out)) = &mut self.closing {
            if self.list[*index].is_none() {
                // The closing reporter died: keep the promised last line, on its stream.
                let _ = out.write_all(summary.summary_line().as_bytes());
                let _ = out.flush();
            }
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
        fn finish(&mut self, _: &Summary, _: Option<&Passes>) -> anyhow::Result<()> {
            Ok(())
        }
    }

    struct Panicking;
    impl Reporter for Panicking {
        fn on_event(&mut self, _: &TestEvent) {
            panic!("reporter bug");
        }
        fn finish(&mut self, _: &Summary, _: Option<&Passes>) -> anyhow::Result<()> {
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

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(bytes)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn summary_lines_after(first_panics: bool, closing_panics: bool) -> String {
        let out = Shared::default();
        let seen = Arc::new(Mutex::new(0));
        let mut reporters = Reporters::default();
        let reporter = |panics: bool| -> Box<dyn Reporter> {
            if panics {
                Box::new(Panicking)
            } else {
                Box::new(Counting(Arc::clone(&seen)))
            }
        };
        reporters.add(reporter(first_panics));
        reporters.add_closing(reporter(closing_panics), Box::new(out.clone()));
        reporters.on_event(&TestEvent::Note {
            message: "x".into(),
        });
        reporters.finish(&Summary::default(), None).unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text
    }

    #[test]
    fn a_fallback_summary_only_replaces_a_dead_closing_reporter() {
        // Another reporter's death must not add a line to the closing reporter's stream
        // (which is stdout, the JSON stream, in JSON mode).
        assert_eq!(summary_lines_after(true, false), "");
        assert_eq!(
            summary_lines_after(false, true),
            "Summary: 0 passed, 0 failed, 0 skipped\n"
        );
    }
}
