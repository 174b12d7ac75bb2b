//! Splits one selection across N CI machines (`--partition`), so that each machine runs its
//! shard and the union of the shards is exactly the selection, each test once.
//!
//! - `hash:K/N`: by a stable hash of the test id; a new test never moves the others.
//! - `count:K/N`: round robin over the sorted ids; shards differ by at most one test.
//! - `time:K/N`: greedy longest-first over the timing history, so shards take about the same
//!   time; tests without history are spread by count. Every shard must see the same history.
//! - `auto`: K and N from the CI's own variables (GitLab, CircleCI, Buildkite, Bazel), with the
//!   `hash` scheme, which needs no shared state between machines.

use std::hash::Hasher;
use std::time::Duration;

use crate::model::TestId;
use crate::plan::history::History;

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
            return from_ci_env(env);
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

    /// Which of `ids` (any order) belong to this shard, as a keep/drop mask.
    pub fn select(&self, ids: &[TestId], history: &History) -> Vec<bool> {
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
            Scheme::Time => self.select_by_time(ids, history),
        }
    }

    fn select_by_time(&self, ids: &[TestId], history: &History) -> Vec<bool> {
        let shard = self.index - 1;
        let mut keep = vec![false; ids.len()];
        let mut timed: Vec<(usize, Duration)> = Vec::new();
        let mut untimed: Vec<usize> = Vec::new();
        for i in sorted_indices(ids) {
            match history.expected(&ids[i]) {
                Some(expected) => timed.push((i, expected)),
                None => untimed.push(i),
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
        for (rank, i) in untimed.into_iter().enumerate() {
            keep[i] = rank % self.total == shard;
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
fn stable_hash(id: &TestId) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(id.binary_id.as_bytes());
    hasher.write(b" ");
    hasher.write(id.name.as_bytes());
    hasher.finish()
}

/// The CI systems we know, as (index variable, total variable, index is 1-based).
const CI_VARIABLES: [(&str, &str, bool); 4] = [
    ("CI_NODE_INDEX", "CI_NODE_TOTAL", true),
    ("CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", false),
    (
        "BUILDKITE_PARALLEL_JOB",
        "BUILDKITE_PARALLEL_JOB_COUNT",
        false,
    ),
    ("TEST_SHARD_INDEX", "TEST_TOTAL_SHARDS", false),
];

fn from_ci_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Partition, String> {
    for (index_var, total_var, one_based) in CI_VARIABLES {
        let (Some(index), Some(total)) = (env(index_var), env(total_var)) else {
            continue;
        };
        let parse = |name: &str, value: &str| {
            value
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("--partition auto: {name}={value} is not a whole number"))
        };
        let index = parse(index_var, &index)? + usize::from(!one_based);
        let total = parse(total_var, &total)?;
        if total == 0 || index == 0 || index > total {
            return Err(format!(
                "--partition auto: {index_var}/{total_var} give shard {index} of {total}, which does not exist"
            ));
        }
        return Ok(Partition {
            scheme: Scheme::Hash,
            index,
            total,
        });
    }
    Err(
        "--partition auto: no CI shard variables found (CI_NODE_INDEX/CI_NODE_TOTAL, \
         CIRCLE_NODE_INDEX/CIRCLE_NODE_TOTAL, BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT, \
         TEST_SHARD_INDEX/TEST_TOTAL_SHARDS); give --partition hash:K/N instead"
            .to_string(),
    )
}

/// Bazel asks test runners that understand sharding to touch this file.
pub fn acknowledge_bazel_sharding() {
    if let Some(path) = std::env::var_os("TEST_SHARD_STATUS_FILE") {
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::history::Observation;
    use std::collections::HashSet;

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

    #[test]
    fn auto_reads_each_ci() {
        let cases = [
            ("CI_NODE_INDEX", "CI_NODE_TOTAL", "2", 2),
            ("CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", "1", 2),
            (
                "BUILDKITE_PARALLEL_JOB",
                "BUILDKITE_PARALLEL_JOB_COUNT",
                "0",
                1,
            ),
            ("TEST_SHARD_INDEX", "TEST_TOTAL_SHARDS", "2", 3),
        ];
        for (index_var, total_var, value, expected) in cases {
            let env = |name: &str| match name {
                n if n == index_var => Some(value.to_string()),
                n if n == total_var => Some("3".to_string()),
                _ => None,
            };
            let p = Partition::parse("auto", &env).unwrap();
            assert_eq!((p.index, p.total), (expected, 3), "{index_var}");
        }
    }

    /// For every scheme, the shards together hold each test exactly once.
    #[test]
    fn shards_cover_the_selection_exactly_once() {
        let all = ids(100);
        let mut history = History::default();
        let observations: Vec<_> = all
            .iter()
            .take(60)
            .enumerate()
            .map(|(i, id)| Observation {
                id: id.clone(),
                duration: Duration::from_millis((i as u64 * 37) % 500 + 1),
                failed: false,
                batched: false,
                cpu: None,
            })
            .collect();
        history.record(&observations, &HashSet::new());
        for scheme in ["hash", "count", "time"] {
            let mut seen = vec![0; all.len()];
            for k in 1..=3 {
                let p = Partition::parse(&format!("{scheme}:{k}/3"), &no_env).unwrap();
                for (i, keep) in p.select(&all, &history).into_iter().enumerate() {
                    seen[i] += usize::from(keep);
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{scheme}: {seen:?}");
        }
    }

    #[test]
    fn time_shards_are_balanced() {
        let all = ids(200);
        let observations: Vec<_> = all
            .iter()
            .enumerate()
            .map(|(i, id)| Observation {
                id: id.clone(),
                duration: Duration::from_millis((i as u64 * 7919) % 2000 + 5),
                failed: false,
                batched: false,
                cpu: None,
            })
            .collect();
        let mut history = History::default();
        history.record(&observations, &HashSet::new());
        let longest = observations.iter().map(|o| o.duration).max().unwrap();
        let sums: Vec<Duration> = (1..=3)
            .map(|k| {
                let p = Partition::parse(&format!("time:{k}/3"), &no_env).unwrap();
                p.select(&all, &history)
                    .into_iter()
                    .zip(&observations)
                    .filter(|(keep, _)| *keep)
                    .map(|(_, o)| o.duration)
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
        let history = History::default();
        let before = p.select(&small, &history);
        let after = p.select(&big, &history);
        assert_eq!(before[..], after[..50]);
    }
}
