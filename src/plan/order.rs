//! The order tests start in.
//!
//! No schedule can finish before max(longest test, summed time / workers), and the usual way to
//! miss that bound is a long test that starts last. By default (`auto`) tests that failed last
//! time start first (fast feedback), then tests with no history (their cost is unknown, so learn
//! it early), then the rest longest-expected-first (LPT, Graham's longest processing time rule).

use crate::model::TestCase;
use crate::plan::history::History;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Failed first, unknown next, then longest first.
    Auto,
    /// Binary id, then test name: the same every time.
    Name,
    /// Shuffled with this seed, so the order can be replayed.
    Random(u64),
}

/// A fresh seed for `--order random` when none was given.
pub fn random_seed() -> u64 {
    fastrand::u64(..)
}

/// Put `cases` in the order they should start. `failed_first` (`--ff`) moves tests that failed
/// last time to the front whatever the order.
pub fn arrange(cases: &mut [TestCase], order: Order, history: &History, failed_first: bool) {
    cases.sort_by(|a, b| (&a.binary.id, &a.name).cmp(&(&b.binary.id, &b.name)));
    match order {
        Order::Name => {}
        Order::Random(seed) => fastrand::Rng::with_seed(seed).shuffle(cases),
        Order::Auto => {
            // Stable sort: equal keys keep name order.
            cases.sort_by_cached_key(|case| {
                let id = case.id();
                match history.expected(&id) {
                    _ if history.failed_last_time(&id) => (0, 0),
                    None => (1, 0),
                    Some(expected) => (2, u128::MAX - expected.as_micros()),
                }
            });
        }
    }
    if failed_first {
        cases.sort_by_cached_key(|case| !history.failed_last_time(&case.id()));
    }
}

/// `--lf`: keep only the tests that failed last time, or all of them if none did.
pub fn keep_last_failed(cases: &mut Vec<TestCase>, history: &History) {
    if cases.iter().any(|c| history.failed_last_time(&c.id())) {
        cases.retain(|c| history.failed_last_time(&c.id()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TestId;
    use crate::model::{Invocation, TargetKind, TestBinary};
    use crate::plan::history::Observation;
    use std::sync::Arc;
    use std::time::Duration;

    fn cases(names: &[&str]) -> Vec<TestCase> {
        let binary = Arc::new(TestBinary {
            id: "b".into(),
            path: "/b".into(),
            package: None,
            target_name: "b".into(),
            kind: TargetKind::Lib,
            cwd: "/".into(),
            env: Default::default(),
            custom_harness: false,
        });
        names
            .iter()
            .map(|n| TestCase {
                binary: Arc::clone(&binary),
                name: n.to_string(),
                ignored: false,
                invocation: Invocation::Libtest,
            })
            .collect()
    }

    fn history(entries: &[(&str, u64, bool)]) -> History {
        let observations: Vec<_> = entries
            .iter()
            .map(|(name, ms, failed)| {
                Observation::alone(TestId::new("b", name), Duration::from_millis(*ms), *failed)
            })
            .collect();
        History::of(&observations)
    }

    fn names(cases: &[TestCase]) -> Vec<&str> {
        cases.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn auto_is_failed_then_unknown_then_longest_first() {
        let mut list = cases(&["short", "long", "new", "broken", "mid"]);
        let h = history(&[
            ("short", 10, false),
            ("long", 900, false),
            ("mid", 300, false),
            ("broken", 5, true),
        ]);
        arrange(&mut list, Order::Auto, &h, false);
        assert_eq!(names(&list), ["broken", "new", "long", "mid", "short"]);
    }

    #[test]
    fn name_order_and_failed_first() {
        let mut list = cases(&["c", "a", "b"]);
        let h = history(&[("b", 1, true)]);
        arrange(&mut list, Order::Name, &h, false);
        assert_eq!(names(&list), ["a", "b", "c"]);
        arrange(&mut list, Order::Name, &h, true);
        assert_eq!(names(&list), ["b", "a", "c"]);
    }

    #[test]
    fn random_order_replays_with_the_same_seed() {
        let mut one = cases(&["a", "b", "c", "d", "e", "f", "g"]);
        let mut two = one.clone();
        arrange(&mut one, Order::Random(7), &History::default(), false);
        arrange(&mut two, Order::Random(7), &History::default(), false);
        assert_eq!(names(&one), names(&two));
    }

    #[test]
    fn last_failed_keeps_failures_or_everything() {
        let mut list = cases(&["a", "b"]);
        keep_last_failed(&mut list, &history(&[("a", 1, false)]));
        assert_eq!(list.len(), 2);
        keep_last_failed(&mut list, &history(&[("b", 1, true)]));
        assert_eq!(names(&list), ["b"]);
    }
}
