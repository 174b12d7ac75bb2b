//! What a pass's bars add up to, beyond each bar: how busy each worker slot was, the batch
//! chunks, and the long poles, the tests the end of the run waited for.
//!
//! A long pole is the test that ended last, and any test still running once the first busy
//! worker had nothing left to do: from then on the run waits for them with idle workers, so
//! they are where a better order (or a split test) would shorten the run.

use std::collections::{BTreeMap, HashMap};

use super::recording::{Bar, Pass, Place};

/// How one worker slot was used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaneUse {
    /// Summed length of its bars.
    pub busy_us: u64,
    /// Where its last bar ends; 0 for a slot that ran nothing.
    pub end_us: u64,
}

/// A batch chunk: one process that ran several tests in a row on one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub worker: usize,
    pub start_us: u64,
    pub end_us: u64,
    /// Tests whose result it gave.
    pub tests: usize,
    /// Tests that started in it and got their result from running again alone.
    pub superseded: usize,
}

/// A pass's bars taken together.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub lanes: Vec<LaneUse>,
    /// Indices into the pass's bars, latest end first.
    pub poles: Vec<usize>,
    /// When the first busy slot ran dry for good, if any other was still busy then.
    pub idle_from_us: Option<u64>,
    pub chunks: Vec<Chunk>,
}

impl Shape {
    pub fn of(pass: &Pass) -> Shape {
        let mut lanes = vec![LaneUse::default(); pass.lanes()];
        for bar in &pass.bars {
            let lane = &mut lanes[bar.place.worker];
            lane.busy_us += bar.duration_us;
            lane.end_us = lane.end_us.max(bar.end_us());
        }
        let end = lanes.iter().map(|l| l.end_us).max().unwrap_or(0);
        let idle_from_us = lanes
            .iter()
            .filter(|l| l.end_us > 0)
            .map(|l| l.end_us)
            .min()
            .filter(|&first_dry| first_dry < end);
        Shape {
            poles: poles(&pass.bars, idle_from_us, end),
            chunks: chunks(pass),
            lanes,
            idle_from_us,
        }
    }
}

/// The bars ending last: the very last, and those still running at `idle_from`.
fn poles(bars: &[Bar], idle_from: Option<u64>, end: u64) -> Vec<usize> {
    let mut poles: Vec<usize> = (0..bars.len())
        .filter(|&i| {
            let bar_end = bars[i].end_us();
            bar_end == end && end > 0 || idle_from.is_some_and(|idle| bar_end > idle)
        })
        .collect();
    poles.sort_by_key(|&i| std::cmp::Reverse(bars[i].end_us()));
    poles
}

/// Each chunk's span: from the first start to the last end of the tests it ran, those it gave
/// a result for and those that ran again alone. The events give no end for a test of the
/// second kind inside the chunk, but its worker runs it again alone as soon as the chunk's
/// process has ended: the first of those runs dates the chunk's end.
fn chunks(pass: &Pass) -> Vec<Chunk> {
    let mut chunks: BTreeMap<usize, Chunk> = BTreeMap::new();
    let spans = pass.bars.iter().map(|bar| (bar.place, bar.end_us(), true));
    let mut alone: HashMap<usize, Vec<Place>> = HashMap::new();
    for bar in pass.bars.iter().filter(|bar| bar.place.chunk.is_none()) {
        alone.entry(bar.test).or_default().push(bar.place);
    }
    let alone_after = |test: usize, started: Place| {
        let again =
            alone.get(&test).into_iter().flatten().filter(|place| {
                place.worker == started.worker && place.start_us >= started.start_us
            });
        again
            .map(|place| place.start_us)
            .min()
            .unwrap_or(started.start_us)
    };
    let superseded = pass
        .superseded
        .iter()
        .map(|&(test, place)| (place, alone_after(test, place), false));
    for (place, end_us, reported) in spans.chain(superseded) {
        let Some(id) = place.chunk else { continue };
        let chunk = chunks.entry(id).or_insert(Chunk {
            worker: place.worker,
            start_us: place.start_us,
            end_us,
            tests: 0,
            superseded: 0,
        });
        chunk.start_us = chunk.start_us.min(place.start_us);
        chunk.end_us = chunk.end_us.max(end_us);
        match reported {
            true => chunk.tests += 1,
            false => chunk.superseded += 1,
        }
    }
    chunks.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::timeline::recording::Class;

    fn bar(worker: usize, start_us: u64, duration_us: u64, chunk: Option<usize>) -> Bar {
        Bar {
            test: 0,
            attempt: 1,
            place: Place {
                worker,
                start_us,
                chunk,
            },
            duration_us,
            class: Class::Pass,
            outcome: String::new(),
        }
    }

    #[test]
    fn poles_are_what_runs_after_the_first_worker_ran_dry() {
        let pass = Pass {
            workers: 3,
            bars: vec![
                bar(0, 0, 10, None),
                bar(1, 0, 4, None),
                bar(1, 4, 3, None), // slot 1 is dry at 7
                bar(2, 0, 6, None),
                bar(2, 6, 2, None),  // running at 7: a pole
                bar(0, 10, 5, None), // ends last
            ],
            ..Pass::default()
        };
        let shape = Shape::of(&pass);
        assert_eq!(shape.idle_from_us, Some(7));
        assert_eq!(shape.poles, [5, 0, 4]);
        assert_eq!(
            shape.lanes[0],
            LaneUse {
                busy_us: 15,
                end_us: 15
            }
        );
        assert_eq!(shape.lanes[1].busy_us, 7);
    }

    #[test]
    fn one_slot_has_one_pole_and_chunks_span_their_tests() {
        let pass = Pass {
            workers: 1,
            bars: vec![
                bar(0, 0, 5, Some(3)),
                bar(0, 5, 5, Some(3)),
                bar(0, 12, 1, None),
            ],
            ..Pass::default()
        };
        let shape = Shape::of(&pass);
        assert_eq!(shape.idle_from_us, None);
        assert_eq!(shape.poles, [2]);
        let chunk = Chunk {
            worker: 0,
            start_us: 0,
            end_us: 10,
            tests: 2,
            superseded: 0,
        };
        assert_eq!(shape.chunks, [chunk]);
    }
}
