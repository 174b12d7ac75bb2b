//! Timing history: each test's recent durations and last outcome, kept between runs in the
//! target directory, so the scheduler can start long tests first and `--lf`/`--ff` know what
//! failed.
//!
//! The file is replaced atomically (a temporary file in the same directory, then a rename), so a
//! crash or two runs at once never leave it half-written. A file that cannot be read or parsed
//! costs one warning and a run without history, never the run itself.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::model::TestId;

const FORMAT_VERSION: u32 = 1;
/// Durations kept per test: enough to smooth out noise, few enough to follow real changes.
const DURATIONS_KEPT: usize = 5;
/// A test not seen for this many runs is forgotten.
const RUNS_KEPT: u64 = 30;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    version: u32,
    /// How many runs have been recorded.
    runs: u64,
    /// Keyed by `binary-id test-name`.
    tests: BTreeMap<String, TestRecord>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TestRecord {
    /// Most recent last, in seconds, each in its own process.
    durations: Vec<f64>,
    /// The same, run inside a batch: no process start-up, so much shorter for tiny tests.
    #[serde(default)]
    batched: Vec<f64>,
    failed: bool,
    /// The run number that last ran this test.
    last_run: u64,
}

/// What one run contributes: every test that ran, its duration and whether it failed.
#[derive(Debug, Clone)]
pub struct Observation {
    pub id: TestId,
    pub duration: Duration,
    pub failed: bool,
    /// Measured inside a batch rather than in its own process.
    pub batched: bool,
}

impl History {
    /// `<target>/runner/history.json`.
    pub fn path_in(target_dir: &Path) -> PathBuf {
        target_dir.join("runner").join("history.json")
    }

    /// Load the history; a missing file is an empty history, an unreadable one is an error
    /// the caller shows as a warning.
    pub fn load(path: &Path) -> Result<History> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(History::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let history: History = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid history file", path.display()))?;
        anyhow::ensure!(
            history.version == FORMAT_VERSION,
            "{} has format version {}, expected {FORMAT_VERSION}",
            path.display(),
            history.version
        );
        Ok(history)
    }

    /// Write atomically: readers see the old file or the new one, never a mix.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().context("history path has no directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut file = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        // Buffered: unbuffered, serde_json would make a system call per token.
        let mut writer = std::io::BufWriter::new(&mut file);
        serde_json::to_writer(&mut writer, self).context("serialising the history")?;
        writer.flush()?;
        drop(writer);
        file.persist(path)
            .with_context(|| format!("replacing {}", path.display()))?;
        Ok(())
    }

    /// The expected duration of a test in its own process: the mean of its recent runs (or of
    /// its batched runs when it never ran alone).
    pub fn expected(&self, id: &TestId) -> Option<Duration> {
        let record = self.tests.get(&key(id))?;
        mean(&record.durations).or_else(|| mean(&record.batched))
    }

    /// The expected duration of a test inside a batch, falling back to its own-process time.
    pub fn expected_batched(&self, id: &TestId) -> Option<Duration> {
        let record = self.tests.get(&key(id))?;
        mean(&record.batched).or_else(|| mean(&record.durations))
    }

    /// Whether the test failed the last time it ran.
    pub fn failed_last_time(&self, id: &TestId) -> bool {
        self.tests.get(&key(id)).is_some_and(|r| r.failed)
    }

    /// Fold one run in. `listed` holds every test id that exists now, per binary listed, so
    /// that tests deleted from those binaries are pruned.
    pub fn record(&mut self, observations: &[Observation], listed: &HashSet<String>) {
        self.version = FORMAT_VERSION;
        self.runs += 1;
        let run = self.runs;
        for observation in observations {
            let record = self.tests.entry(key(&observation.id)).or_default();
            let list = if observation.batched {
                &mut record.batched
            } else {
                &mut record.durations
            };
            list.push(observation.duration.as_secs_f64());
            let excess = list.len().saturating_sub(DURATIONS_KEPT);
            list.drain(..excess);
            record.failed = observation.failed;
            record.last_run = run;
        }
        let listed_binaries: HashSet<&str> = listed
            .iter()
            .filter_map(|k| k.split_once(' ').map(|(b, _)| b))
            .collect();
        self.tests.retain(|k, record| {
            let binary = k.split_once(' ').map_or("", |(b, _)| b);
            let deleted = listed_binaries.contains(binary) && !listed.contains(k);
            !deleted && run - record.last_run < RUNS_KEPT
        });
    }
}

fn mean(values: &[f64]) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    Some(Duration::from_secs_f64(mean.max(0.0)))
}

/// The history key of a test.
pub fn key(id: &TestId) -> String {
    format!("{} {}", id.binary_id, id.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> TestId {
        TestId {
            binary_id: "bin".into(),
            name: name.into(),
        }
    }

    fn observe(name: &str, ms: u64, failed: bool) -> Observation {
        Observation {
            id: id(name),
            duration: Duration::from_millis(ms),
            failed,
            batched: false,
        }
    }

    #[test]
    fn round_trip_and_expectations() {
        let dir = tempfile::tempdir().unwrap();
        let path = History::path_in(dir.path());
        let mut history = History::load(&path).unwrap();
        let listed: HashSet<String> = ["bin a", "bin b"].iter().map(|s| s.to_string()).collect();
        history.record(
            &[observe("a", 100, false), observe("b", 300, true)],
            &listed,
        );
        history.record(&[observe("a", 300, false)], &listed);
        history.save(&path).unwrap();
        let loaded = History::load(&path).unwrap();
        assert_eq!(loaded.expected(&id("a")), Some(Duration::from_millis(200)));
        assert!(loaded.failed_last_time(&id("b")));
        assert!(!loaded.failed_last_time(&id("a")));
        assert_eq!(loaded.expected(&id("zzz")), None);
    }

    #[test]
    fn batched_and_alone_durations_are_kept_apart() {
        let mut history = History::default();
        let listed = HashSet::new();
        let mut batched = observe("a", 1, false);
        batched.batched = true;
        history.record(&[batched], &listed);
        assert_eq!(history.expected(&id("a")), Some(Duration::from_millis(1)));
        history.record(&[observe("a", 9, false)], &listed);
        assert_eq!(history.expected(&id("a")), Some(Duration::from_millis(9)));
        assert_eq!(
            history.expected_batched(&id("a")),
            Some(Duration::from_millis(1))
        );
    }

    #[test]
    fn deleted_tests_are_pruned_and_durations_bounded() {
        let mut history = History::default();
        let both: HashSet<String> = ["bin a", "bin b"].iter().map(|s| s.to_string()).collect();
        for _ in 0..10 {
            history.record(&[observe("a", 10, false), observe("b", 10, false)], &both);
        }
        assert_eq!(history.tests["bin a"].durations.len(), DURATIONS_KEPT);
        let only_a: HashSet<String> = ["bin a".to_string()].into();
        history.record(&[observe("a", 10, false)], &only_a);
        assert!(!history.tests.contains_key("bin b"));
    }

    #[test]
    fn corrupt_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.json");
        std::fs::write(&path, "{ not json").unwrap();
        let err = History::load(&path).unwrap_err();
        assert!(format!("{err:#}").contains("not a valid history file"));
    }
}
