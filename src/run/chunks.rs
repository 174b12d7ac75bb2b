//! How batched tests are cut into chunks, one process each: the chunk sizes are decided here,
//! from the timing history and the number of workers.

use std::time::Duration;

use crate::model::TestCase;
use crate::plan::history::History;

/// Assumed cost of a test with no history: tiny, since batching is for tiny tests.
const DEFAULT_COST: Duration = Duration::from_millis(2);
/// Chunks never shrink below this many tests (unless fewer are left).
const MIN_CHUNK: usize = 4;
/// What starting one chunk's process costs (exec, libtest's set-up): a chunk worth less than a
/// few of these would spend more on starting than on testing.
const PROCESS_COST: Duration = Duration::from_millis(5);
const MIN_CHUNK_COST: Duration = Duration::from_millis(40);
/// Bounded so the command line stays far below the kernel's limit (2 MiB on Linux, arguments
/// and environment together), in tests and in bytes of test names.
const MAX_CHUNK: usize = 1000;
const MAX_CHUNK_NAME_BYTES: usize = 256 * 1024;

/// Split each binary's tests into chunks, guided self-scheduling style: a chunk takes about
/// 1/(2·workers) of the work still left, so chunks start large (few processes) and shrink
/// towards the end, where small chunks keep every worker busy to the last moment. A chunk is
/// never worth less than [`MIN_CHUNK_COST`], since each one pays [`PROCESS_COST`] to start.
/// `cases` keeps its order within a binary; chunks come out largest first.
pub fn chunk(cases: Vec<TestCase>, workers: usize, history: &History) -> Vec<Vec<TestCase>> {
    let cost = |case: &TestCase| history.expected_batched(&case.id()).unwrap_or(DEFAULT_COST);
    let mut by_binary: Vec<(String, Vec<TestCase>)> = Vec::new();
    for case in cases {
        match by_binary.iter_mut().find(|(id, _)| *id == case.binary.id) {
            Some((_, list)) => list.push(case),
            None => by_binary.push((case.binary.id.clone(), vec![case])),
        }
    }
    let mut remaining: Duration = by_binary
        .iter()
        .flat_map(|(_, l)| l)
        .map(cost)
        .sum::<Duration>()
        + PROCESS_COST * by_binary.len() as u32;
    let divisor = 2 * workers.max(1) as u32;
    let long_test = (remaining / divisor).max(MIN_CHUNK_COST);
    let mut chunks: Vec<(Duration, Vec<TestCase>)> = Vec::new();
    // Biggest binaries first, so the large early chunks come from where the work is.
    by_binary.sort_by_key(|(_, list)| std::cmp::Reverse(list.iter().map(cost).sum::<Duration>()));
    for (_, mut list) in by_binary {
        // A test as long as the first chunks (a share of the whole run's critical path) is a
        // chunk of its own wherever it sits in its binary: its own process starts it at once,
        // beside the binary's other tests (as libtest's threads would), instead of after the
        // tests named before it.
        if list.len() > 1 {
            let (long, short): (Vec<TestCase>, Vec<TestCase>) =
                list.into_iter().partition(|case| cost(case) >= long_test);
            for case in long {
                let case_cost = cost(&case) + PROCESS_COST;
                remaining = remaining.saturating_sub(case_cost);
                chunks.push((case_cost, vec![case]));
            }
            list = short;
        }
        let mut current: Vec<TestCase> = Vec::new();
        let mut current_cost = PROCESS_COST;
        let mut current_bytes = 0;
        let mut rest_cost: Duration = list.iter().map(cost).sum();
        let total = list.len();
        for (i, case) in list.into_iter().enumerate() {
            let case_cost = cost(&case);
            rest_cost = rest_cost.saturating_sub(case_cost);
            current_cost += case_cost;
            current_bytes += case.name.len() + 1;
            current.push(case);
            let target = (remaining / divisor).max(MIN_CHUNK_COST);
            let rest_len = total - i - 1;
            // A long test may be a chunk on its own; cheap ones only come in groups, and the
            // tests left behind must be worth a process of their own too.
            let worth_a_process = current.len() >= MIN_CHUNK || current_cost >= MIN_CHUNK_COST;
            let rest_worth_a_process = rest_len >= MIN_CHUNK || rest_cost >= MIN_CHUNK_COST;
            let cut = current_cost >= target && worth_a_process && rest_worth_a_process;
            let full = current.len() >= MAX_CHUNK || current_bytes >= MAX_CHUNK_NAME_BYTES;
            if (cut && rest_len > 0) || full {
                remaining = remaining.saturating_sub(current_cost);
                chunks.push((current_cost, std::mem::take(&mut current)));
                current_cost = PROCESS_COST;
                current_bytes = 0;
            }
        }
        if !current.is_empty() {
            remaining = remaining.saturating_sub(current_cost);
            chunks.push((current_cost, current));
        }
    }
    chunks.sort_by_key(|(cost, _)| std::cmp::Reverse(*cost));
    chunks.into_iter().map(|(_, chunk)| chunk).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Invocation, TargetKind, TestBinary};
    use crate::plan::history::Observation;
    use crate::report::event::TestId;
    use std::collections::HashSet;
    use std::sync::Arc;

    fn cases(binary: &str, n: usize) -> Vec<TestCase> {
        let binary = Arc::new(TestBinary {
            id: binary.into(),
            path: "/b".into(),
            package: None,
            target_name: binary.into(),
            kind: TargetKind::Lib,
            cwd: "/".into(),
            env: Default::default(),
            custom_harness: false,
        });
        (0..n)
            .map(|i| TestCase {
                binary: Arc::clone(&binary),
                name: format!("t{i:04}"),
                ignored: false,
                invocation: Invocation::Libtest,
            })
            .collect()
    }

    /// A history in which each of `all` passed once (in a batch or alone) in `duration(name)`.
    fn history_of(all: &[TestCase], batched: bool, duration: fn(&str) -> Duration) -> History {
        let observations: Vec<_> = all
            .iter()
            .map(|c| Observation {
                batched,
                ..Observation::alone(c.id(), duration(&c.name), false)
            })
            .collect();
        History::of(&observations)
    }

    #[test]
    fn chunks_cover_every_test_once_shrink_and_stay_per_binary() {
        let mut all = cases("a", 500);
        all.extend(cases("b", 300));
        let chunks = chunk(all, 2, &History::default());
        let mut seen = HashSet::new();
        for chunk in &chunks {
            assert!(chunk.iter().all(|c| c.binary.id == chunk[0].binary.id));
            for case in chunk {
                assert!(seen.insert(case.id()));
            }
        }
        assert_eq!(seen.len(), 800);
        assert!(chunks.len() > 8 && chunks.len() < 200, "{}", chunks.len());
        assert!(chunks.first().unwrap().len() > chunks.last().unwrap().len());
    }

    #[test]
    fn a_long_test_runs_alone_from_the_start_wherever_it_sits() {
        let all = cases("a", 3);
        let history = history_of(&all, true, |name| match name {
            "t0001" => Duration::from_millis(90),
            _ => Duration::from_millis(2),
        });
        let chunks = chunk(all, 2, &history);
        let names: Vec<Vec<&str>> = chunks
            .iter()
            .map(|c| c.iter().map(|t| t.name.as_str()).collect())
            .collect();
        assert_eq!(names, [vec!["t0001"], vec!["t0000", "t0002"]]);
    }

    #[test]
    fn long_names_make_smaller_chunks() {
        let mut all = cases("a", 1300);
        for case in &mut all {
            case.name = format!("{}_{}", case.name, "x".repeat(2000));
        }
        let chunks = chunk(all, 1, &History::default());
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 1300);
        for chunk in &chunks {
            let bytes: usize = chunk.iter().map(|c| c.name.len() + 1).sum();
            assert!(
                bytes < MAX_CHUNK_NAME_BYTES + 4096,
                "{bytes} bytes of names"
            );
        }
    }

    #[test]
    fn history_makes_long_tests_their_own_chunks() {
        let all = cases("a", 40);
        let history = history_of(&all, false, |name| match name {
            "t0000" | "t0001" => Duration::from_secs(5),
            _ => Duration::from_millis(1),
        });
        let chunks = chunk(all, 2, &history);
        let with_long = chunks
            .iter()
            .find(|c| {
                c.iter().any(|t| {
                    t.id()
                        == TestId {
                            binary_id: "a".into(),
                            name: "t0000".into(),
                        }
                })
            })
            .unwrap();
        assert_eq!(with_long.len(), 1);
        // Two long tests never share a chunk, where they would run one after the other.
        assert!(chunks.iter().any(|c| c.len() == 1 && c[0].name == "t0001"));
    }
}
