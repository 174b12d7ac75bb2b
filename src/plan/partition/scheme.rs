//! The partition schemes: which tests of one selection a shard keeps, so that the union of the
//! shards is exactly the selection, each test once.
//!
//! - `hash:K/N`: by a stable hash of the test id; a new test never moves the others.
//! - `count:K/N`: round robin over the sorted ids; shards differ by at most one test.
//! - `time:K/N`: greedy longest-first over a [`Timings`], so shards take about the same time;
//!   tests the timings do not know are spread by hash. Every shard must read the same timings.
//! - `auto`: K and N from the CI's own variables (see the `ci` module), with the `hash`
//!   scheme, which needs no shared state between machines (`time` when a timings file is given).

use std::hash::Hasher;
use std::time::Duration;

use super::ci;
use super::timings::Timings;
use crate::model::TestId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Hash,
    Count,
    Time,
}

/// This machine's shard: `index` is 1-based, as users write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub scheme: Scheme,
    pub index: usize,
    pub total: usize,
}

impl Partition {
    /// Parse `hash:K/N`, `count:K/N`, `time:K/N` or `auto` (read from `env`).
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Partition, String> {
        if text == "auto" {
            return ci::from_ci_env(env);
        }
        let bad = || {
            format!(
                "invalid value '{text}' for '--partition': expected hash:K/N, count:K/N, time:K/N or auto (K from 1 to N)"
            )
        };
        let (scheme, shard) = text.split_once(':').ok_or_else(bad)?;
        let scheme = match scheme {
            "hash" => Scheme::Hash,
            "count" => Scheme::Count,
            "time" => Scheme::Time,
            _ => return Err(bad()),
        };
        let (index, total) = shard.split_once('/').ok_or_else(bad)?;
        let index: usize = index.trim().parse().map_err(|_| bad())?;
        let total: usize = total.trim().parse().map_err(|_| bad())?;
        if total == 0 || index == 0 || index > total {
            return Err(bad());
        }
        Ok(Partition {
            scheme,
            index,
            total,
        })
    }

    /// The scheme's name, as the command line spells it.
    pub fn scheme_name(&self) -> &'static str {
        match self.scheme {
            Scheme::Hash => "hash",
            Scheme::Count => "count",
            Scheme::Time => "time",
        }
    }

    /// Which of `ids` (any order) belong to this shard, as a keep/drop mask. Only `time:` reads
    /// `timings`.
    pub fn select(&self, ids: &[TestId], timings: &Timings) -> Vec<bool> {
        let shard = self.index - 1;
        match self.scheme {
            Scheme::Hash => ids
                .iter()
                .map(|id| stable_hash(id) % self.total as u64 == shard as u64)
                .collect(),
            Scheme::Count => {
                let mut keep = vec![false; ids.len()];
                for (rank, &i) in sorted_indices(ids).iter().enumerate() {
                    keep[i] = rank % self.total == shard;
                }
                keep
            }
            Scheme::Time => self.select_by_time(ids, timings),
        }
    }

    fn select_by_time(&self, ids: &[TestId], timings: &Timings) -> Vec<bool> {
        let shard = self.index - 1;
        let mut keep = vec![false; ids.len()];
        let mut timed: Vec<(usize, Duration)> = Vec::new();
        for i in sorted_indices(ids) {
            match timings.expected(&ids[i]) {
                Some(expected) => timed.push((i, expected)),
                // A test the timings do not know: by hash, so that it moves no other test.
                None => keep[i] = stable_hash(&ids[i]) % self.total as u64 == shard as u64,
            }
        }
        // Longest first, ties by id: every machine computes the same assignment.
        timed.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| ids[a.0].cmp(&ids[b.0])));
        let mut load = vec![Duration::ZERO; self.total];
        for (i, expected) in timed {
            let lightest = (0..self.total).min_by_key(|&s| (load[s], s)).unwrap_or(0);
            load[lightest] += expected;
            keep[i] = lightest == shard;
        }
        keep
    }
}

fn sorted_indices(ids: &[TestId]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| ids[a].cmp(&ids[b]));
    order
}

/// FNV-1a of `binary-id test-name`: the same on every machine and every Rust version.
pub(super) fn stable_hash(id: &TestId) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(id.binary_id.as_bytes());
    hasher.write(b" ");
    hasher.write(id.name.as_bytes());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<TestId> {
        (0..n)
            .map(|i| TestId {
                binary_id: format!("bin{}", i % 7),
                name: format!("mod{}::test_{i}", i % 3),
            })
            .collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn timings_of(ids: &[TestId], ms: impl Fn(usize) -> u64) -> Timings {
        Timings::from_durations(
            ids.iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), Duration::from_millis(ms(i)))),
        )
    }

    #[test]
    fn parse_forms_and_errors() {
        let p = Partition::parse("count:2/3", &no_env).unwrap();
        assert_eq!((p.scheme, p.index, p.total), (Scheme::Count, 2, 3));
        for bad in [
            "hash:0/3",
            "hash:4/3",
            "hash:1/0",
            "slice:1/2",
            "hash:1",
            "x",
        ] {
            let err = Partition::parse(bad, &no_env).unwrap_err();
            assert!(err.contains("--partition") && !err.contains('\n'), "{err}");
        }
        assert!(Partition::parse("auto", &no_env).is_err());
    }

    /// For every scheme, the shards together hold each test exactly once.
    #[test]
    fn shards_cover_the_selection_exactly_once() {
        let all = ids(100);
        let timings = timings_of(&all[..60], |i| (i as u64 * 37) % 500 + 1);
        for scheme in ["hash", "count", "time"] {
            let mut seen = vec![0; all.len()];
            for k in 1..=3 {
                let p = Partition::parse(&format!("{scheme}:{k}/3"), &no_env).unwrap();
                for (i, keep) in p.select(&all, &timings).into_iter().enumerate() {
                    seen[i] += usize::from(keep);
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{scheme}: {seen:?}");
        }
    }

    #[test]
    fn time_shards_are_balanced() {
        let all = ids(200);
        let ms = |i: usize| (i as u64 * 7919) % 2000 + 5;
        let timings = timings_of(&all, ms);
        let longest = (0..all.len()).map(ms).max().unwrap();
        let sums: Vec<u64> = (1..=3)
            .map(|k| {
                let p = Partition::parse(&format!("time:{k}/3"), &no_env).unwrap();
                p.select(&all, &timings)
                    .into_iter()
                    .enumerate()
                    .filter(|(_, keep)| *keep)
                    .map(|(i, _)| ms(i))
                    .sum()
            })
            .collect();
        let (min, max) = (sums.iter().min().unwrap(), sums.iter().max().unwrap());
        assert!(*max - *min <= *max / 10 + longest, "{sums:?}");
    }

    #[test]
    fn hash_shard_of_a_test_does_not_move_when_tests_are_added() {
        let p = Partition::parse("hash:1/4", &no_env).unwrap();
        let small = ids(50);
        let big = ids(80);
        let none = Timings::default();
        let before = p.select(&small, &none);
        let after = p.select(&big, &none);
        assert_eq!(before[..], after[..50]);
    }

    /// Untimed tests go by hash: the same shard as `hash:` gives them, whatever else is timed.
    #[test]
    fn untimed_tests_of_a_time_partition_go_by_hash() {
        let all = ids(40);
        let timings = timings_of(&all[..10], |i| i as u64 + 1);
        for k in 1..=3 {
            let time = Partition::parse(&format!("time:{k}/3"), &no_env).unwrap();
            let hash = Partition::parse(&format!("hash:{k}/3"), &no_env).unwrap();
            let by_time = time.select(&all, &timings);
            let by_hash = hash.select(&all, &timings);
            assert_eq!(by_time[10..], by_hash[10..]);
        }
    }
}
