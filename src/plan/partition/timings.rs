//! The durations a `time:` partition balances on: a small, stable file (sorted, whole
//! milliseconds, one test a line) to commit or to pass between CI jobs as an artifact.
//!
//! `runner timings export FILE` writes one from the history or from a JUnit report, and
//! `--timings FILE` makes a `time:` partition use it and nothing else. Without `--timings`, a
//! `time:` partition reads the snapshot in the target directory, which only runs that are not
//! partitioned rewrite: a shard never changes what its sibling shards compute.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::files;
use crate::model::TestId;
use crate::plan::history::History;

/// What the file says it is, so that another JSON file given by mistake is named as such.
const FORMAT: &str = "runner-timings";
const VERSION: u32 = 1;

/// Milliseconds by binary id, then test name.
type ByBinary = BTreeMap<String, BTreeMap<String, u64>>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timings {
    tests: ByBinary,
}

#[derive(Serialize, Deserialize)]
struct TimingsFile {
    format: String,
    version: u32,
    /// Always `ms`: said in the file so that a reader need not guess.
    unit: String,
    tests: ByBinary,
}

impl Timings {
    /// Durations rounded to whole milliseconds; a test given twice keeps its last.
    pub fn from_durations(durations: impl IntoIterator<Item = (TestId, Duration)>) -> Timings {
        let mut timings = Timings::default();
        timings.insert(durations);
        timings
    }

    fn insert(&mut self, durations: impl IntoIterator<Item = (TestId, Duration)>) {
        for (id, duration) in durations {
            let ms = (duration.as_secs_f64() * 1000.0).round() as u64;
            self.tests
                .entry(id.binary_id)
                .or_default()
                .insert(id.name, ms);
        }
    }

    /// What the `time:` scheme would read from this history.
    pub fn from_history(history: &History) -> Timings {
        Timings::from_durations(history.expected_all())
    }

    /// The same as [`Timings::from_history`], made from `earlier`, which was that of the
    /// history before the changes `history` holds: only the binaries it changed are computed
    /// again (the others' records need not even be parsed), and those it no longer holds go.
    pub fn refreshed(earlier: &Timings, history: &History) -> Timings {
        let held: HashSet<&str> = history.binary_ids().collect();
        let mut timings = earlier.clone();
        timings
            .tests
            .retain(|binary, _| held.contains(binary.as_str()));
        for binary in history.changed_binaries() {
            timings.tests.remove(binary);
            timings.insert(history.expected_in(binary));
        }
        timings
    }

    /// The snapshot a `time:` partition reads when no `--timings` file is given.
    pub fn snapshot_path(target_dir: &Path) -> PathBuf {
        target_dir.join("runner").join("timings.json")
    }

    /// The snapshot in `target_dir`: none yet is no timings (every test spread by hash); a bad
    /// one costs a warning and the same.
    pub fn load_snapshot(target_dir: Option<&Path>) -> Timings {
        let Some(path) = target_dir.map(Timings::snapshot_path) else {
            return Timings::default();
        };
        if !path.exists() {
            return Timings::default();
        }
        Timings::load(&path).unwrap_or_else(|e| {
            eprintln!("warning: {e:#}; the time: partition spreads every test by hash");
            Timings::default()
        })
    }

    pub fn load(path: &Path) -> Result<Timings> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read the timings file {shown}: {e}; write one with `runner timings \
                 export {shown}`"
            )
        })?;
        let file: TimingsFile = serde_json::from_str(&text).with_context(|| {
            format!("{shown} is not a timings file (write one with `runner timings export`)")
        })?;
        if file.format != FORMAT || file.version != VERSION || file.unit != "ms" {
            anyhow::bail!(
                "{shown} is a timings file of another version ({} {} in {}); write it again \
                 with this runner's `runner timings export`",
                file.format,
                file.version,
                file.unit
            );
        }
        Ok(Timings { tests: file.tests })
    }

    /// Write the file whole or not at all; pretty-printed, so that a change diffs as lines.
    pub fn save(&self, path: &Path) -> Result<()> {
        let file = TimingsFile {
            format: FORMAT.into(),
            version: VERSION,
            unit: "ms".into(),
            tests: self.tests.clone(),
        };
        files::write_atomically(path, |out| {
            serde_json::to_writer_pretty(&mut *out, &file).context("serialising the timings")?;
            out.write_all(b"\n").context("writing the timings")
        })
    }

    pub fn expected(&self, id: &TestId) -> Option<Duration> {
        let ms = self.tests.get(&id.binary_id)?.get(&id.name)?;
        Some(Duration::from_millis(*ms))
    }

    /// How many tests the timings know.
    pub fn len(&self) -> usize {
        self.tests.values().map(BTreeMap::len).sum()
    }

    /// FNV-1a over the sorted entries: equal timings give equal digests on every machine,
    /// whatever the file's whitespace.
    pub fn digest(&self) -> u64 {
        let mut hasher = fnv::FnvHasher::default();
        for (binary, tests) in &self.tests {
            for (name, ms) in tests {
                hasher.write(binary.as_bytes());
                hasher.write(&[0]);
                hasher.write(name.as_bytes());
                hasher.write(&[0]);
                hasher.write(&ms.to_le_bytes());
            }
        }
        hasher.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_sorted_rounded_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timings.json");
        let timings = Timings::from_durations([
            (TestId::new("b", "z"), Duration::from_micros(1_499)),
            (TestId::new("a", "y"), Duration::from_micros(2_500)),
        ]);
        timings.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.find("\"a\"").unwrap() < text.find("\"b\"").unwrap(),
            "{text}"
        );
        let loaded = Timings::load(&path).unwrap();
        assert_eq!(loaded, timings);
        assert_eq!(
            loaded.expected(&TestId::new("b", "z")),
            Some(Duration::from_millis(1))
        );
        assert_eq!(
            loaded.expected(&TestId::new("a", "y")),
            Some(Duration::from_millis(3))
        );
        assert_eq!(loaded.digest(), timings.digest());
        loaded.save(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn another_json_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.json");
        std::fs::write(&path, r#"{"version":2,"runs":1,"binaries":{}}"#).unwrap();
        let err = format!("{:#}", Timings::load(&path).unwrap_err());
        assert!(err.contains("history.json is not a timings file"), "{err}");
    }

    #[test]
    fn digest_changes_with_any_duration() {
        let a = Timings::from_durations([(TestId::new("b", "t"), Duration::from_millis(5))]);
        let b = Timings::from_durations([(TestId::new("b", "t"), Duration::from_millis(6))]);
        assert_ne!(a.digest(), b.digest());
        assert_ne!(Timings::default().digest(), a.digest());
    }
}
