//! The run in the Chrome Trace Event format (`--chrome-trace PATH`), which Perfetto
//! (ui.perfetto.dev) and `chrome://tracing` open: a process per pass, a thread per worker slot,
//! one complete event (`"ph":"X"`) per test attempt, and one per batch chunk around its tests.
//!
//! Times are microseconds since the pass started, so the passes of a comparison line up on one
//! axis, one above the other, as in the HTML timeline.

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use super::timeline::recording::{Pass, Recording};
use super::timeline::shape::Shape;

/// One trace event; the fields the format defines, nothing else.
#[derive(Serialize)]
struct Event<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cat: Option<&'static str>,
    ph: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<u64>,
    pid: usize,
    tid: usize,
    args: Args<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Args<'a> {
    /// Of a metadata event: the process's or thread's name, or its place in the list.
    Name {
        name: String,
    },
    Sort {
        sort_index: usize,
    },
    Attempt {
        binary: &'a str,
        attempt: u32,
        outcome: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        rerun: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        chunk: Option<usize>,
    },
    Chunk {
        tests: usize,
        superseded: usize,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Trace<'a> {
    trace_events: Vec<Event<'a>>,
    display_time_unit: &'static str,
}

/// Write the trace of `recording`.
pub fn write(recording: &Recording, out: &mut dyn Write) -> Result<()> {
    let mut events = Vec::new();
    for (index, pass) in recording.passes.iter().enumerate() {
        pass_events(recording, index, pass, &mut events);
    }
    let trace = Trace {
        trace_events: events,
        display_time_unit: "ms",
    };
    serde_json::to_writer(&mut *out, &trace)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A pass's process (pid: its number, from 1), its threads (tid: worker slot + 1), its
/// chunks and its attempts.
fn pass_events<'a>(
    recording: &'a Recording,
    index: usize,
    pass: &'a Pass,
    events: &mut Vec<Event<'a>>,
) {
    let pid = index + 1;
    let metadata = |name: &'static str, tid: usize, args: Args<'a>| Event {
        name,
        cat: None,
        ph: "M",
        ts: None,
        dur: None,
        pid,
        tid,
        args,
    };
    let workers = pass.workers.max(1);
    let title = format!(
        "{} ({} worker{})",
        pass.name(index),
        workers,
        if workers == 1 { "" } else { "s" }
    );
    events.push(metadata("process_name", 0, Args::Name { name: title }));
    events.push(metadata(
        "process_sort_index",
        0,
        Args::Sort { sort_index: index },
    ));
    // A thread for each slot that ran something: never more than the pass's workers.
    let used: BTreeSet<usize> = pass.bars.iter().map(|bar| bar.place.worker).collect();
    for worker in used {
        let name = format!("worker {worker}");
        events.push(metadata("thread_name", worker + 1, Args::Name { name }));
    }
    let shape = Shape::of(pass);
    for chunk in &shape.chunks {
        events.push(Event {
            name: "batch chunk",
            cat: Some("batch"),
            ph: "X",
            ts: Some(chunk.start_us),
            dur: Some(chunk.end_us - chunk.start_us),
            pid,
            tid: chunk.worker + 1,
            args: Args::Chunk {
                tests: chunk.tests,
                superseded: chunk.superseded,
            },
        });
    }
    for bar in &pass.bars {
        let test = &recording.tests[bar.test];
        events.push(Event {
            name: &test.id.name,
            cat: Some("test"),
            ph: "X",
            ts: Some(bar.place.start_us),
            dur: Some(bar.duration_us),
            pid,
            tid: bar.place.worker + 1,
            args: Args::Attempt {
                binary: &test.id.binary_id,
                attempt: bar.attempt,
                outcome: &bar.outcome,
                rerun: test.rerun.as_deref(),
                chunk: bar.place.chunk,
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::event::TestId;
    use crate::report::timeline::recording::{Bar, Class, Place, Test};

    #[test]
    fn a_chunk_encloses_its_tests_on_their_worker_thread() {
        let mut recording = Recording::default();
        recording.tests.push(Test {
            id: TestId {
                binary_id: "b".into(),
                name: "t".into(),
            },
            rerun: None,
        });
        let bar = |start_us| Bar {
            test: 0,
            attempt: 1,
            place: Place {
                worker: 2,
                start_us,
                chunk: Some(0),
            },
            duration_us: 10,
            class: Class::Pass,
            outcome: "passed".into(),
        };
        let mut pass = Pass::default();
        pass.workers = 3;
        pass.bars = vec![bar(100), bar(110)];
        recording.passes.push(pass);
        let mut out = Vec::new();
        write(&recording, &mut out).unwrap();
        let trace: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let complete: Vec<_> = trace["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["ph"] == "X")
            .map(|e| {
                (
                    e["cat"].as_str().unwrap(),
                    e["ts"].as_u64().unwrap(),
                    e["dur"].as_u64().unwrap(),
                    e["tid"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            complete,
            [
                ("batch", 100, 20, 3),
                ("test", 100, 10, 3),
                ("test", 110, 10, 3)
            ]
        );
    }
}
