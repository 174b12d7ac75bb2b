//! Machine-readable output: one JSON object per event and line, flushed as it happens.

use std::io::Write;

use super::Reporter;
use crate::report::event::TestEvent;
use crate::report::summary::{Passes, Summary};

pub struct JsonReporter<W: Write> {
    out: W,
    /// The first write error; later events are dropped rather than failing the run.
    pub error: Option<std::io::Error>,
}

impl<W: Write> JsonReporter<W> {
    pub fn new(out: W) -> Self {
        JsonReporter { out, error: None }
    }
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn on_event(&mut self, event: &TestEvent) {
        if self.error.is_some() {
            return;
        }
        let written = serde_json::to_writer(&mut self.out, event)
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| self.out.flush());
        if let Err(e) = written {
            self.error = Some(e);
        }
    }

    fn finish(&mut self, _summary: &Summary, _passes: Option<&Passes>) -> anyhow::Result<()> {
        match self.error.take() {
            Some(e) => Err(anyhow::anyhow!("cannot write JSON events to stdout: {e}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_event() {
        let mut reporter = JsonReporter::new(Vec::new());
        reporter.on_event(&TestEvent::Note {
            message: "a".into(),
        });
        reporter.on_event(&TestEvent::Note {
            message: "b".into(),
        });
        let text = String::from_utf8(reporter.out).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], r#"{"type":"note","message":"a"}"#);
    }
}
