//! Timing history: each test's recent durations, CPU times and last outcome, kept between runs
//! in the target directory, so the scheduler can start long tests first, `--lf`/`--ff` know
//! what failed, and `-n auto` and `runner predict` know which tests compute and which wait.
//!
//! The file is replaced atomically (a temporary file in the same directory, then a rename), so a
//! crash never leaves it half-written, and each run folds its results in under a lock on
//! `history.lock`, re-reading the file first, so runs side by side all count. A file that
//! cannot be read or parsed costs one warning and a run without history, never the run itself.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::files;
use crate::model::TestId;

const FORMAT_VERSION: u32 = 2;
/// Durations kept per test: enough to smooth out noise, few enough to follow real changes.
const DURATIONS_KEPT: usize = 5;
/// A test not seen for this many runs is forgotten.
const RUNS_KEPT: u64 = 30;
/// No test takes a week: a recorded duration beyond this (or negative, or not a number) is
/// damage, and is dropped rather than trusted.
const LONGEST_CREDIBLE_SECS: f64 = 7.0 * 24.0 * 3600.0;

/// The tests' records, by binary id, then by test name.
type Records = BTreeMap<String, BTreeMap<String, TestRecord>>;

#[derive(Debug, Clone, Default, Serialize)]
pub struct History {
    version: u32,
    /// How many runs have been recorded.
    runs: u64,
    binaries: Records,
}

/// The file as written by any version: version 1 kept `tests` keyed by `binary-id test-name`,
/// which cannot be split back where a binary id holds a space; version 2 nests the names under
/// their binary.
#[derive(Deserialize)]
struct StoredHistory {
    version: u32,
    runs: u64,
    #[serde(default)]
    binaries: Records,
    #[serde(default)]
    tests: BTreeMap<String, TestRecord>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TestRecord {
    /// Most recent last, in seconds, each in its own process.
    durations: Vec<f64>,
    /// The same, run inside a batch: no process start-up, so much shorter for tiny tests.
    #[serde(default)]
    batched: Vec<f64>,
    /// (wall, CPU) seconds of recent runs in its own process that had a core to itself (see
    /// [`Observation::cpu`]), most recent last. Files written before CPU times were kept have
    /// none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    cpu: Vec<(f64, f64)>,
    failed: bool,
    /// The run number that last ran this test.
    last_run: u64,
}

impl TestRecord {
    /// Drop durations no test could have had; returns how many were dropped.
    fn drop_incredible(&mut self) -> usize {
        let credible =
            |secs: &f64| secs.is_finite() && (0.0..=LONGEST_CREDIBLE_SECS).contains(secs);
        let before = self.durations.len() + self.batched.len() + self.cpu.len();
        self.durations.retain(credible);
        self.batched.retain(credible);
        self.cpu
            .retain(|(wall, cpu)| credible(wall) && credible(cpu));
        before - self.durations.len() - self.batched.len() - self.cpu.len()
    }
}

/// What a test costs when it has a core to itself: its wall time, and the part of it spent on
/// a CPU (the rest it waits: on a sleep, a socket, a file, a child).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    pub wall: Duration,
    pub cpu: Duration,
}

/// What one run contributes: every test that ran, its duration and whether it failed.
#[derive(Debug, Clone)]
pub struct Observation {
    pub id: TestId,
    pub duration: Duration,
    pub failed: bool,
    /// Measured inside a batch rather than in its own process.
    pub batched: bool,
    /// The test's CPU time, when it ran in its own process with a core to itself; `None` in a
    /// batch (the process's CPU time is the whole chunk's) and in a run that oversubscribed
    /// the cores (its wall time includes waiting for a core, which would look like I/O).
    pub cpu: Option<Duration>,
}

impl History {
    /// `<target>/runner/history.json`.
    pub fn path_in(target_dir: &Path) -> PathBuf {
        target_dir.join("runner").join("history.json")
    }

    /// Load the history; a missing file is an empty history, an unreadable one is an error
    /// the caller shows as a warning. Durations no test could have had are dropped, with a
    /// warning, so that no state file can stop a run.
    pub fn load(path: &Path) -> Result<History> {
        let (history, dropped) = History::read(path)?;
        if dropped > 0 {
            eprintln!(
                "warning: {} held {dropped} duration(s) that are not a number of seconds a test \
                 could take; they were dropped",
                path.display()
            );
        }
        Ok(history)
    }

    /// Fold one run into the file at `path`, under a lock, reading the file afresh: runs side
    /// by side each add their run and their results, none overwrites another's.
    /// Returns the history as saved.
    pub fn update(
        path: &Path,
        observations: &[Observation],
        listed: &HashSet<TestId>,
    ) -> Result<History> {
        let dir = path.parent().context("history path has no directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let lock_path = dir.join("history.lock");
        let lock_file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        let _locked = Flock::lock(lock_file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| errno)
            .with_context(|| format!("locking {}", lock_path.display()))?;
        // Whatever was wrong with the file was said when the run started; start afresh.
        let mut history = History::read(path).map_or_else(|_| History::default(), |(h, _)| h);
        history.record(observations, listed);
        history.save(path)?;
        Ok(history)
    }

    /// The file's history, and how many incredible durations were dropped from it.
    fn read(path: &Path) -> Result<(History, usize)> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((History::default(), 0))
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let stored: StoredHistory = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid history file", path.display()))?;
        let mut history = match stored.version {
            1 => History::from_version_1(stored),
            FORMAT_VERSION => History {
                version: FORMAT_VERSION,
                runs: stored.runs,
                binaries: stored.binaries,
            },
            other => anyhow::bail!(
                "{} has format version {other}, expected {FORMAT_VERSION}",
                path.display()
            ),
        };
        let dropped: usize = history
            .binaries
            .values_mut()
            .flat_map(BTreeMap::values_mut)
            .map(TestRecord::drop_incredible)
            .sum();
        Ok((history, dropped))
    }

    /// Version 1 keys were `binary-id test-name`: split at the first space, which is right
    /// for every binary id cargo gives.
    fn from_version_1(stored: StoredHistory) -> History {
        let mut binaries = Records::new();
        for (key, record) in stored.tests {
            let (binary, name) = key.split_once(' ').unwrap_or(("", key.as_str()));
            binaries
                .entry(binary.to_string())
                .or_default()
                .insert(name.to_string(), record);
        }
        History {
            version: FORMAT_VERSION,
            runs: stored.runs,
            binaries,
        }
    }

    /// Write atomically: readers see the old file or the new one, never a mix.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().context("history path has no directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        // The directory is runner's own: what a killed write of any version left goes too.
        files::remove_stale_temporaries_of_earlier_versions(dir);
        files::write_atomically(path, |out| {
            serde_json::to_writer(out, self).context("serialising the history")
        })
    }

    fn record_of(&self, id: &TestId) -> Option<&TestRecord> {
        self.binaries.get(&id.binary_id)?.get(&id.name)
    }

    /// The expected duration of a test in its own process: the mean of its recent runs (or of
    /// its batched runs when it never ran alone).
    pub fn expected(&self, id: &TestId) -> Option<Duration> {
        let record = self.record_of(id)?;
        mean(&record.durations).or_else(|| mean(&record.batched))
    }

    /// Every test's expected duration in its own process ([`History::expected`]), by id.
    pub fn expected_all(&self) -> Vec<(TestId, Duration)> {
        let mut all = Vec::new();
        for (binary_id, tests) in &self.binaries {
            for name in tests.keys() {
                let id = TestId {
                    binary_id: binary_id.clone(),
                    name: name.clone(),
                };
                if let Some(expected) = self.expected(&id) {
                    all.push((id, expected));
                }
            }
        }
        all
    }

    /// What the test costs with a core to itself: the means of its recent (wall, CPU) pairs;
    /// `None` when no run measured its CPU time.
    pub fn cost(&self, id: &TestId) -> Option<Cost> {
        let pairs = &self.record_of(id)?.cpu;
        let walls: Vec<f64> = pairs.iter().map(|(wall, _)| *wall).collect();
        let cpus: Vec<f64> = pairs.iter().map(|(_, cpu)| *cpu).collect();
        Some(Cost {
            wall: mean(&walls)?,
            cpu: mean(&cpus)?,
        })
    }

    /// The expected duration of a test inside a batch, falling back to its own-process time.
    pub fn expected_batched(&self, id: &TestId) -> Option<Duration> {
        let record = self.record_of(id)?;
        mean(&record.batched).or_else(|| mean(&record.durations))
    }

    /// Whether the test failed the last time it ran.
    pub fn failed_last_time(&self, id: &TestId) -> bool {
        self.record_of(id).is_some_and(|r| r.failed)
    }

    /// Fold one run in. `listed` holds every test that exists now, in the binaries that were
    /// listed, so that tests deleted from those binaries are pruned.
    pub fn record(&mut self, observations: &[Observation], listed: &HashSet<TestId>) {
        self.version = FORMAT_VERSION;
        self.runs += 1;
        let run = self.runs;
        for observation in observations {
            let id = &observation.id;
            let binary = self.binaries.entry(id.binary_id.clone()).or_default();
            let record = binary.entry(id.name.clone()).or_default();
            let list = if observation.batched {
                &mut record.batched
            } else {
                &mut record.durations
            };
            let wall = observation.duration.as_secs_f64();
            keep_recent(list, wall);
            if let Some(cpu) = observation.cpu.filter(|_| !observation.batched) {
                keep_recent(&mut record.cpu, (wall, cpu.as_secs_f64()));
            }
            record.failed = observation.failed;
            record.last_run = run;
        }
        let listed_binaries: HashSet<&str> =
            listed.iter().map(|id| id.binary_id.as_str()).collect();
        for (binary_id, tests) in &mut self.binaries {
            let was_listed = listed_binaries.contains(binary_id.as_str());
            tests.retain(|name, record| {
                let id = TestId {
                    binary_id: binary_id.clone(),
                    name: name.clone(),
                };
                let deleted = was_listed && !listed.contains(&id);
                !deleted && run - record.last_run < RUNS_KEPT
            });
        }
        self.binaries.retain(|_, tests| !tests.is_empty());
    }
}

/// Add `value` as the most recent, keeping the last [`DURATIONS_KEPT`].
fn keep_recent<T>(list: &mut Vec<T>, value: T) {
    list.push(value);
    let excess = list.len().saturating_sub(DURATIONS_KEPT);
    list.drain(..excess);
}

/// The mean of credible durations (see [`LONGEST_CREDIBLE_SECS`]).
fn mean(values: &[f64]) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    Some(Duration::from_secs_f64(
        mean.clamp(0.0, LONGEST_CREDIBLE_SECS),
    ))
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
            cpu: None,
        }
    }

    #[test]
    fn round_trip_and_expectations() {
        let dir = tempfile::tempdir().unwrap();
        let path = History::path_in(dir.path());
        let mut history = History::load(&path).unwrap();
        let listed: HashSet<TestId> = [id("a"), id("b")].into();
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
        let both: HashSet<TestId> = [id("a"), id("b")].into();
        for _ in 0..10 {
            history.record(&[observe("a", 10, false), observe("b", 10, false)], &both);
        }
        assert_eq!(history.binaries["bin"]["a"].durations.len(), DURATIONS_KEPT);
        let only_a: HashSet<TestId> = [id("a")].into();
        history.record(&[observe("a", 10, false)], &only_a);
        assert!(!history.binaries["bin"].contains_key("b"));
    }

    #[test]
    fn cpu_times_are_kept_beside_their_walls_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = History::path_in(dir.path());
        let mut history = History::default();
        let listed = HashSet::new();
        let with_cpu = |name: &str, wall_ms, cpu_ms| Observation {
            cpu: Some(Duration::from_millis(cpu_ms)),
            ..observe(name, wall_ms, false)
        };
        history.record(&[observe("a", 100, false)], &listed);
        assert_eq!(
            history.cost(&id("a")),
            None,
            "a wall alone says nothing of CPU"
        );
        history.record(&[with_cpu("a", 200, 20)], &listed);
        history.record(&[with_cpu("a", 400, 60)], &listed);
        // A batched run's CPU time is its chunk's: not kept.
        let batched = Observation {
            batched: true,
            ..with_cpu("a", 1, 1)
        };
        history.record(&[batched], &listed);
        history.save(&path).unwrap();
        let loaded = History::load(&path).unwrap();
        let cost = loaded.cost(&id("a")).unwrap();
        assert_eq!(cost.wall, Duration::from_millis(300));
        assert_eq!(cost.cpu, Duration::from_millis(40));
        for _ in 0..10 {
            history.record(&[with_cpu("a", 10, 1)], &listed);
        }
        assert_eq!(history.binaries["bin"]["a"].cpu.len(), DURATIONS_KEPT);
    }

    #[test]
    fn corrupt_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.json");
        std::fs::write(&path, "{ not json").unwrap();
        let err = History::load(&path).unwrap_err();
        assert!(format!("{err:#}").contains("not a valid history file"));
    }

    #[test]
    fn a_binary_id_with_a_space_keeps_its_tests() {
        // A prebuilt binary's id is its file name, which may hold a space.
        let spaced = TestId {
            binary_id: "my tests".into(),
            name: "a".into(),
        };
        let observation = Observation {
            id: spaced.clone(),
            duration: Duration::from_millis(5),
            failed: true,
            batched: false,
            cpu: None,
        };
        let mut history = History::default();
        history.record(&[observation], &[spaced.clone()].into());
        history.record(&[], &[spaced.clone()].into());
        assert!(history.failed_last_time(&spaced), "pruned: {history:?}");
    }

    #[test]
    fn version_1_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.json");
        let v1 = r#"{"version":1,"runs":3,"tests":{"bin a":{"durations":[0.5],"failed":true,"last_run":3}}}"#;
        std::fs::write(&path, v1).unwrap();
        let history = History::load(&path).unwrap();
        assert!(history.failed_last_time(&id("a")));
        assert_eq!(history.expected(&id("a")), Some(Duration::from_millis(500)));
    }

    #[test]
    fn incredible_durations_are_dropped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.json");
        let text = r#"{"version":2,"runs":1,"binaries":{"bin":{
            "a":{"durations":[1e300,1.7e308,-4,0.25],"batched":[1e19],"failed":false,"last_run":1,
                 "cpu":[[0.5,0.1],[1e300,0.1],[0.5,-1]]},
            "b":{"durations":[1e300],"failed":false,"last_run":1}}}}"#;
        std::fs::write(&path, text).unwrap();
        let history = History::load(&path).unwrap();
        assert_eq!(history.expected(&id("a")), Some(Duration::from_millis(250)));
        assert_eq!(
            history.expected_batched(&id("a")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(history.expected(&id("b")), None);
        let cost = history.cost(&id("a")).unwrap();
        assert_eq!(
            (cost.wall, cost.cpu),
            (Duration::from_millis(500), Duration::from_millis(100))
        );
        assert_eq!(
            history.cost(&id("b")),
            None,
            "no CPU times: files of earlier runners"
        );
    }

    #[test]
    fn runs_side_by_side_all_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = History::path_in(dir.path());
        let names: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
        std::thread::scope(|scope| {
            for name in &names {
                let path = &path;
                scope.spawn(move || {
                    let observation = observe(name, 10, true);
                    History::update(path, &[observation], &HashSet::new()).unwrap();
                });
            }
        });
        let history = History::load(&path).unwrap();
        assert_eq!(history.runs, 6);
        for name in &names {
            assert!(history.failed_last_time(&id(name)), "{name} was lost");
        }
    }
}
