//! What a shard records of the partition it ran: the scheme, the number of shards, the whole
//! selection it was cut from and the timings' digest. Shards of one partition have equal
//! fingerprints; `junit-merge` checks them, and names the tests of a missing shard from the
//! selection.

use std::hash::Hasher;

use serde::Serialize;

use super::scheme::{Partition, Scheme};
use super::timings::Timings;
use crate::model::TestId;

/// One shard of a partition, as its reports record it.
#[derive(Debug, Clone, Serialize)]
pub struct Shard {
    pub scheme: &'static str,
    /// 1-based, as users write it.
    pub index: usize,
    pub total: usize,
    /// How many tests the whole selection holds, in every shard together.
    pub tests: usize,
    /// The digest of the whole selection (hex).
    pub selection: String,
    /// The digest of the timings a `time:` partition read (hex); absent for other schemes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<String>,
    /// Everything above but the index: equal in every shard of one partition.
    pub fingerprint: String,
    /// The whole selection, sorted: what the shards must cover together.
    #[serde(skip)]
    pub selected: Vec<TestId>,
}

impl Shard {
    /// The shard `partition` cut from `selection`, with the timings a `time:` scheme read.
    pub fn new(partition: &Partition, selection: &[TestId], timings: Option<&Timings>) -> Shard {
        let mut selected = selection.to_vec();
        selected.sort();
        selected.dedup();
        let mut hasher = fnv::FnvHasher::default();
        for id in &selected {
            hasher.write(id.binary_id.as_bytes());
            hasher.write(&[0]);
            hasher.write(id.name.as_bytes());
            hasher.write(&[0]);
        }
        let selection = format!("{:016x}", hasher.finish());
        let timings = match partition.scheme {
            Scheme::Time => timings.map(|t| format!("{:016x}", t.digest())),
            Scheme::Hash | Scheme::Count => None,
        };
        let scheme = partition.scheme_name();
        let fingerprint = format!(
            "{scheme}/{} tests={} selection={selection} timings={}",
            partition.total,
            selected.len(),
            timings.as_deref().unwrap_or("none")
        );
        Shard {
            scheme,
            index: partition.index,
            total: partition.total,
            tests: selected.len(),
            selection,
            timings,
            fingerprint,
            selected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ids(names: &[&str]) -> Vec<TestId> {
        names
            .iter()
            .map(|n| TestId {
                binary_id: "b".into(),
                name: n.to_string(),
            })
            .collect()
    }

    fn partition(spec: &str) -> Partition {
        Partition::parse(spec, &|_| None).unwrap()
    }

    #[test]
    fn shards_of_one_partition_agree_and_others_do_not() {
        let selection = ids(&["b", "a", "c"]);
        let one = Shard::new(&partition("hash:1/2"), &selection, None);
        let two = Shard::new(&partition("hash:2/2"), &ids(&["c", "b", "a"]), None);
        assert_eq!(one.fingerprint, two.fingerprint);
        assert_eq!((one.index, two.index, one.tests), (1, 2, 3));
        let fewer = Shard::new(&partition("hash:2/2"), &ids(&["a", "b"]), None);
        assert_ne!(one.fingerprint, fewer.fingerprint);
        let three = Shard::new(&partition("hash:1/3"), &selection, None);
        assert_ne!(one.fingerprint, three.fingerprint);
        let slow = Timings::from_durations([(selection[0].clone(), Duration::from_secs(1))]);
        let timed = Shard::new(&partition("time:1/2"), &selection, Some(&slow));
        let untimed = Shard::new(
            &partition("time:1/2"),
            &selection,
            Some(&Timings::default()),
        );
        assert_ne!(timed.fingerprint, untimed.fingerprint);
        assert!(
            timed.fingerprint.starts_with("time/2 tests=3"),
            "{}",
            timed.fingerprint
        );
    }
}
