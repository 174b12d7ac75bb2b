//! The shard fingerprint in a JUnit report, and `junit-merge`'s proof that shards add up.
//!
//! Every suite of a shard's report carries `runner.shard` (`K/N`), `runner.partition` (the
//! fingerprint: scheme, N, the selection's size and digest, the timings' digest) and one
//! `runner.selected` property per test of its binary in the whole selection. The merge checks
//! that the shards share one fingerprint, that each of 1..=N is there once, and that every
//! selected test has exactly one result; otherwise it names the tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use quick_junit::{Property, Report, TestSuite};

use super::visible;
use crate::plan::partition::Shard;

const SHARD: &str = "runner.shard";
const PARTITION: &str = "runner.partition";
const SELECTED: &str = "runner.selected";
/// Tests named per problem; the rest are counted.
const NAMED: usize = 20;

/// `(binary id, test name)` as the report spells them.
type Key = (String, String);

/// Record `shard` in the suite of `binary_id`.
pub(super) fn record(suite: &mut TestSuite, shard: &Shard, binary_id: &str) {
    suite.add_property(Property::new(
        SHARD,
        format!("{}/{}", shard.index, shard.total),
    ));
    suite.add_property(Property::new(PARTITION, shard.fingerprint.as_str()));
    let first = shard
        .selected
        .partition_point(|id| id.binary_id.as_str() < binary_id);
    let of_binary = shard.selected[first..]
        .iter()
        .take_while(|id| id.binary_id == binary_id);
    for id in of_binary {
        suite.add_property(Property::new(SELECTED, visible(&id.name)));
    }
}

/// What one shard's report says of its partition, and the tests it has results for.
struct ShardReport<'a> {
    path: &'a Path,
    index: usize,
    total: usize,
    fingerprint: String,
    selected: BTreeSet<Key>,
    ran: Vec<Key>,
}

fn read_shard<'a>(path: &'a Path, report: &Report) -> Option<ShardReport<'a>> {
    let property = |name: &str| {
        report.test_suites.iter().find_map(|suite| {
            let found = suite.properties.iter().find(|p| p.name.as_str() == name);
            found.map(|p| p.value.as_str().to_string())
        })
    };
    let shard = property(SHARD)?;
    let (index, total) = shard.split_once('/')?;
    let mut selected = BTreeSet::new();
    let mut ran = Vec::new();
    for suite in &report.test_suites {
        let binary = suite.name.as_str();
        for p in suite
            .properties
            .iter()
            .filter(|p| p.name.as_str() == SELECTED)
        {
            selected.insert((binary.to_string(), p.value.as_str().to_string()));
        }
        for case in &suite.test_cases {
            let class = case.classname.as_ref().map_or(binary, |c| c.as_str());
            ran.push((class.to_string(), case.name.as_str().to_string()));
        }
    }
    Some(ShardReport {
        path,
        index: index.parse().ok()?,
        total: total.parse().ok()?,
        fingerprint: property(PARTITION)?,
        selected,
        ran,
    })
}

/// What does not add up among the shard reports of `reports` (reports without a fingerprint,
/// such as other tools', are merged unchecked), as a message naming the tests; `None` when
/// the shards cover their selection exactly once.
pub(super) fn check(reports: &[(&Path, Report)]) -> Option<String> {
    let shards: Vec<ShardReport> = reports
        .iter()
        .filter_map(|(path, report)| read_shard(path, report))
        .collect();
    if shards.is_empty() {
        return None;
    }
    if let Some(problem) = different_partitions(&shards) {
        return Some(problem);
    }
    let mut problems = Vec::new();
    let total = shards[0].total;
    let mut given: BTreeMap<usize, Vec<&Path>> = BTreeMap::new();
    for shard in &shards {
        given.entry(shard.index).or_default().push(shard.path);
    }
    let missing: Vec<String> = (1..=total)
        .filter(|k| !given.contains_key(k))
        .map(|k| format!("{k}/{total}"))
        .collect();
    if !missing.is_empty() {
        problems.push(format!("shard {} missing", missing.join(", ")));
    }
    for (k, paths) in given.iter().filter(|(_, paths)| paths.len() > 1) {
        problems.push(format!(
            "shard {k}/{total} given {} times ({})",
            paths.len(),
            shown(paths)
        ));
    }
    let mut lines = Vec::new();
    let mut counts: BTreeMap<&Key, usize> = BTreeMap::new();
    for key in shards.iter().flat_map(|s| &s.ran) {
        *counts.entry(key).or_default() += 1;
    }
    let selected = &shards[0].selected;
    let none: Vec<&Key> = selected
        .iter()
        .filter(|k| !counts.contains_key(k))
        .collect();
    let twice: Vec<&Key> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| *k)
        .collect();
    let unselected: Vec<&Key> = counts
        .keys()
        .filter(|k| !selected.contains(**k))
        .copied()
        .collect();
    for (what, keys) in [
        ("with no result", none),
        ("with more than one result", twice),
        ("not in the selection", unselected),
    ] {
        if !keys.is_empty() {
            problems.push(format!("{} tests {what}", keys.len()));
            lines.extend(named(what, &keys));
        }
    }
    if problems.is_empty() {
        return None;
    }
    Some(format!(
        "the shards do not add up ({}): {}; merge the reports of every shard of one partitioned run{}",
        shards[0].fingerprint,
        problems.join("; "),
        lines.concat()
    ))
}

/// Shards of different partitions (another scheme, N, selection or timings): named by file,
/// with the tests selected in some and not in others.
fn different_partitions(shards: &[ShardReport]) -> Option<String> {
    let mut by_fingerprint: BTreeMap<&str, Vec<&Path>> = BTreeMap::new();
    for shard in shards {
        by_fingerprint
            .entry(&shard.fingerprint)
            .or_default()
            .push(shard.path);
    }
    if by_fingerprint.len() < 2 {
        return None;
    }
    let groups: Vec<String> = by_fingerprint
        .iter()
        .map(|(fingerprint, paths)| format!("{} has {fingerprint}", shown(paths)))
        .collect();
    let everywhere: BTreeSet<&Key> = shards[0]
        .selected
        .iter()
        .filter(|k| shards.iter().all(|s| s.selected.contains(*k)))
        .collect();
    let differing: BTreeSet<&Key> = shards
        .iter()
        .flat_map(|s| &s.selected)
        .filter(|k| !everywhere.contains(k))
        .collect();
    let differing: Vec<&Key> = differing.into_iter().collect();
    Some(format!(
        "the shards are of different partitions: {}; {} tests are selected in some shards and \
         not in others; run every shard from one build, with one selection and one timings file{}",
        groups.join("; "),
        differing.len(),
        named("selected in some shards only", &differing).concat()
    ))
}

fn shown(paths: &[&Path]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}

/// One indented line per test, at most [`NAMED`] of them.
fn named(what: &str, keys: &[&Key]) -> Vec<String> {
    let mut lines: Vec<String> = keys
        .iter()
        .take(NAMED)
        .map(|(binary, name)| format!("\n  {what}: {binary} {name}"))
        .collect();
    if keys.len() > NAMED {
        lines.push(format!("\n  ... and {} more {what}", keys.len() - NAMED));
    }
    lines
}
