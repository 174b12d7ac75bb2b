//! Pictures of a run: the HTML timeline (`--timeline PATH`) and the Chrome trace
//! (`--chrome-trace PATH`), written at the end of every run, also a failed or interrupted one,
//! through [`files::write_atomically`] like the JUnit report; and `runner timeline`, which draws
//! them afterwards from a saved JSON event stream.
//!
//! Both pictures are drawn from a [`recording::Recording`] of the run's events: each attempt's
//! worker slot and start come with the events (`worker`, `start` in JSON), so the pictures do
//! not depend on when an event reached the reporter.

mod html;
mod plot;
pub(super) mod recording;
mod saved;
pub(super) mod shape;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::chrome_trace;
use super::event::{TestEvent, TestId};
use super::summary::{Passes, Summary};
use super::Reporter;
use crate::files;
use recording::Recording;

/// Where the pictures of a run go.
#[derive(Debug, Clone, Default)]
pub struct Pictures {
    pub timeline: Option<PathBuf>,
    pub chrome_trace: Option<PathBuf>,
}

impl Pictures {
    pub fn any(&self) -> bool {
        self.timeline.is_some() || self.chrome_trace.is_some()
    }

    /// Write every picture asked for; each error names its file, and one failing does not
    /// keep the other from being written.
    fn write(&self, recording: &Recording) -> Result<()> {
        let timeline = self.timeline.as_deref().map(|path| {
            files::write_atomically(path, |out| html::write(recording, out))
                .context("the timeline was not written")
        });
        let trace = self.chrome_trace.as_deref().map(|path| {
            files::write_atomically(path, |out| chrome_trace::write(recording, out))
                .context("the Chrome trace was not written")
        });
        match (timeline, trace) {
            (Some(Err(e)), Some(Err(other))) => Err(e.context(format!("{other:#}"))),
            (Some(Err(e)), _) | (_, Some(Err(e))) => Err(e),
            _ => Ok(()),
        }
    }
}

/// Records every pass of a run and draws it at the end.
pub struct TimelineReporter {
    pictures: Pictures,
    recording: Recording,
}

impl TimelineReporter {
    /// `reruns` gives the command that reruns each test, for the tooltips of tests that
    /// passed (the events carry one only for failures).
    pub fn new(pictures: Pictures, reruns: HashMap<TestId, String>) -> Self {
        TimelineReporter {
            pictures,
            recording: Recording::with_reruns(reruns),
        }
    }
}

impl Reporter for TimelineReporter {
    fn on_event(&mut self, event: &TestEvent) {
        self.recording.observe(event);
    }

    fn finish(&mut self, _summary: &Summary, _passes: Option<&Passes>) -> Result<()> {
        self.recording.close();
        self.pictures.write(&self.recording)
    }
}

/// `runner timeline EVENTS`: the pictures of a run from its saved JSON event stream (`-` reads
/// stdin). Returns a note for the user about lines that were not events, if any.
pub fn from_saved_stream(events: &Path, pictures: &Pictures) -> Result<Option<String>> {
    let read = if events == Path::new("-") {
        saved::read(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(events)
            .with_context(|| format!("cannot read the event stream {}", events.display()))?;
        saved::read(std::io::BufReader::new(file))
    }
    .with_context(|| format!("cannot read the event stream {}", events.display()))?;
    anyhow::ensure!(
        !read.recording.passes.is_empty(),
        "{} holds no run: write it with `runner --message-format json`",
        events.display()
    );
    pictures.write(&read.recording)?;
    Ok((read.skipped_lines > 0).then(|| {
        format!(
            "note: {} line(s) of {} were not JSON events and were skipped",
            read.skipped_lines,
            events.display()
        )
    }))
}
