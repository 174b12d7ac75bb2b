//! A saved JSON event stream (`--message-format json` output, kept from a CI job) read back
//! into a [`Recording`], field by field as the README documents them.
//!
//! A CI log holds more than events: lines that are not a JSON event are skipped and counted,
//! and a line with a prefix before its `{` (a log's timestamp) is read from the `{`. Fields this
//! reader does not know are ignored, so a stream from a newer runner still draws.

use std::io::BufRead;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;

use super::recording::{AttemptSeen, Place, Recording};
use crate::report::event::{LongestTest, NotIsolated, PassLabel, RunStats, TestId};

/// What reading a stream found.
#[derive(Debug, Default)]
pub struct Read {
    pub recording: Recording,
    /// Lines that were not a JSON event.
    pub skipped_lines: usize,
    /// JSON events read.
    pub events: usize,
}

/// Read a whole stream.
pub fn read(input: impl BufRead) -> Result<Read> {
    let mut read = Read::default();
    for (number, line) in input.split(b'\n').enumerate() {
        let line = line.context("reading the event stream")?;
        let Some((event, kind)) = event_in(&line) else {
            read.skipped_lines += usize::from(!line.trim_ascii().is_empty());
            continue;
        };
        read.events += 1;
        add(&mut read.recording, event, &kind)
            .with_context(|| format!("line {}: not an event runner writes", number + 1))?;
    }
    read.recording.close();
    Ok(read)
}

/// Only the `type` of an event: the rest of the line is skipped over, not kept.
#[derive(Deserialize)]
struct Kind {
    #[serde(rename = "type")]
    kind: String,
}

/// The JSON object on this line (from its first `{`) and its `type`, if it has one.
fn event_in(line: &[u8]) -> Option<(&[u8], String)> {
    let json = &line[line.iter().position(|&b| b == b'{')?..];
    let kind: Kind = serde_json::from_slice(json).ok()?;
    Some((json, kind.kind))
}

/// Each event is read straight into the fields it needs: the output a test printed, which
/// makes most of a stream, is skipped over, never kept.
fn add(recording: &mut Recording, event: &[u8], kind: &str) -> Result<()> {
    match kind {
        "run-started" => {
            let started: RunStarted = serde_json::from_slice(event)?;
            recording.pass_started(started.label.as_deref(), &started.mode, started.workers);
        }
        "test-started" => {
            let started: Saved = serde_json::from_slice(event)?;
            recording.test_started(&started.id()?, started.place());
        }
        "test-finished" => {
            let finished: Saved = serde_json::from_slice(event)?;
            let failed: Vec<_> = finished.failed_attempts.iter().map(Saved::seen).collect();
            recording.test_finished(
                &finished.id()?,
                finished.rerun.as_deref(),
                &failed,
                &finished.seen(),
            );
        }
        "run-finished" => {
            let finished: RunFinished = serde_json::from_slice(event)?;
            recording.pass_finished(finished.stats());
        }
        _ => {}
    }
    Ok(())
}

#[derive(Deserialize)]
struct RunStarted {
    label: Option<String>,
    #[serde(default = "process")]
    mode: String,
    #[serde(default)]
    workers: usize,
}

fn process() -> String {
    "process".into()
}

/// A test's event, or one of its attempts: `test-started` (an id and a place),
/// `test-finished` (the final attempt's fields at the top, earlier attempts below), or an
/// entry of its `failed_attempts`.
#[derive(Deserialize)]
struct Saved {
    binary_id: Option<String>,
    name: Option<String>,
    #[serde(default = "first")]
    attempt: u32,
    #[serde(default)]
    status: String,
    #[serde(default)]
    duration: f64,
    exit_code: Option<i64>,
    signal: Option<String>,
    message: Option<String>,
    #[serde(default)]
    leaked: bool,
    /// `worker`, `start`, `chunk`: absent from streams of runners before they existed.
    worker: Option<usize>,
    start: Option<f64>,
    chunk: Option<usize>,
    #[serde(default)]
    failed_attempts: Vec<Saved>,
    rerun: Option<String>,
}

fn first() -> u32 {
    1
}

impl Saved {
    fn id(&self) -> Result<TestId> {
        match (&self.binary_id, &self.name) {
            (Some(binary_id), Some(name)) => Ok(TestId {
                binary_id: binary_id.clone(),
                name: name.clone(),
            }),
            _ => anyhow::bail!("a test event without binary_id and name"),
        }
    }

    fn place(&self) -> Option<Place> {
        Some(Place {
            worker: self.worker?,
            start_us: micros(self.start?),
            chunk: self.chunk,
        })
    }

    fn seen(&self) -> AttemptSeen<'_> {
        let detail = match (&self.exit_code, &self.signal, &self.message) {
            (Some(code), _, _) => Some(format!("exit code {code}")),
            (_, Some(signal), _) => Some(signal.clone()),
            (_, _, Some(message)) => Some(message.clone()),
            _ => None,
        };
        AttemptSeen {
            attempt: self.attempt,
            status: &self.status,
            detail,
            duration: Duration::from_micros(micros(self.duration)),
            place: self.place(),
            leaked: self.leaked,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RunFinished {
    passed: usize,
    failed: usize,
    skipped: usize,
    flaky: usize,
    cancelled: usize,
    workers: usize,
    usable_workers: usize,
    wall: f64,
    summed: f64,
    longest: Option<SavedLongest>,
    runner_cpu: f64,
    peak_rss_kib: u64,
    not_isolated: Vec<SavedDifference>,
}

#[derive(Deserialize)]
struct SavedLongest {
    binary_id: String,
    name: String,
    duration: f64,
}

#[derive(Deserialize)]
struct SavedDifference {
    binary_id: String,
    name: String,
    passed_in: Vec<PassLabel>,
    failed_in: Vec<PassLabel>,
}

impl RunFinished {
    fn stats(self) -> RunStats {
        let seconds = |s: f64| Duration::from_micros(micros(s));
        RunStats {
            passed: self.passed,
            failed: self.failed,
            skipped: self.skipped,
            flaky: self.flaky,
            cancelled: self.cancelled,
            workers: self.workers,
            usable_workers: self.usable_workers,
            wall: seconds(self.wall),
            summed: seconds(self.summed),
            longest: self.longest.map(|l| LongestTest {
                id: TestId {
                    binary_id: l.binary_id,
                    name: l.name,
                },
                duration: seconds(l.duration),
            }),
            runner_cpu: seconds(self.runner_cpu),
            peak_rss_kib: self.peak_rss_kib,
            // A saved stream's ideal bound is drawn from its own durations.
            contention: None,
            not_isolated: self
                .not_isolated
                .into_iter()
                .map(|d| NotIsolated {
                    id: TestId {
                        binary_id: d.binary_id,
                        name: d.name,
                    },
                    passed_in: d.passed_in,
                    failed_in: d.failed_in,
                })
                .collect(),
            // The timeline draws the tests, not the runner's phases.
            phases: Default::default(),
        }
    }
}

/// Seconds as the stream writes them, in whole microseconds.
fn micros(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1e6).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_around_events_are_skipped_and_prefixes_dropped() {
        let stream = concat!(
            "   Compiling x v0.1.0\n",
            "2026-01-01T00:00:00Z {\"type\":\"run-started\",\"workers\":2,\"mode\":\"process\"}\n",
            "{\"type\":\"test-finished\",\"binary_id\":\"b\",\"name\":\"t\",\"status\":\"failed\",",
            "\"exit_code\":101,\"duration\":0.5,\"attempt\":1,\"worker\":1,\"start\":0.25}\n",
            "{\"type\":\"run-finished\",\"wall\":1.0,\"summed\":0.5,\"workers\":2}\n",
        );
        let read = read(stream.as_bytes()).unwrap();
        assert_eq!((read.events, read.skipped_lines), (3, 1));
        let pass = &read.recording.passes[0];
        assert_eq!(pass.workers, 2);
        let bar = &pass.bars[0];
        assert_eq!((bar.place.worker, bar.place.start_us), (1, 250_000));
        assert_eq!(bar.duration_us, 500_000);
        assert_eq!(bar.outcome, "failed (exit code 101)");
        assert_eq!(pass.span_us(), 1_000_000);
    }

    #[test]
    fn a_stream_cut_short_leaves_its_running_tests_unfinished() {
        let stream = concat!(
            "{\"type\":\"run-started\",\"workers\":1,\"mode\":\"process\"}\n",
            "{\"type\":\"test-started\",\"binary_id\":\"b\",\"name\":\"t\",\"worker\":0,\"start\":0.1}\n",
        );
        let read = read(stream.as_bytes()).unwrap();
        let bars = &read.recording.passes[0].bars;
        assert_eq!(bars.len(), 1);
        assert_eq!(bars[0].class.name(), "unfinished");
    }
}
