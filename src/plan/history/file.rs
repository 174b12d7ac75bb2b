//! The history file: replaced atomically (a temporary file in the same directory, then a
//! rename), so a crash never leaves it half-written; each run folds its results in under a lock
//! on `history.lock`, re-reading the file first, so runs side by side all count. A file that
//! cannot be read or parsed costs one warning and a run without history, never the run itself.
//! Files of every earlier format are read.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use serde::Deserialize;

use super::{lazy, History, Observation, Records, TestRecord, Tests, FORMAT_VERSION};
use crate::files::{self, Identity};
use crate::model::TestId;

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
    #[serde(default)]
    snapshot_run: Option<u64>,
}

impl History {
    /// `<target>/runner/history.json`.
    pub fn path_in(target_dir: &Path) -> PathBuf {
        target_dir.join("runner").join("history.json")
    }

    /// Load the history; a missing file is an empty history, an unreadable one is an error
    /// the caller shows as a warning. A binary's damaged records cost a warning when a run
    /// first looks into them (see `lazy`), so that no state file can stop a run.
    pub fn load(path: &Path) -> Result<History> {
        let (text, source) = match read_with_identity(path) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(History::default()),
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
                snapshot_run: stored.snapshot_run,
                source: None,
            },
            other => anyhow::bail!(
                "{} has format version {other}, expected {FORMAT_VERSION}",
                path.display()
            ),
        };
        history.source = Some(source);
        Ok(history)
    }

    /// Fold one run into the file at `path`, under a lock, reading the file afresh: runs side
    /// by side each add their run and their results, none overwrites another's.
    /// Returns the history as saved.
    /// `known` is the history as this run read it: while the file is still that version, it
    /// is not read and parsed again. `then` sees the history with this run folded in, still
    /// under the lock, before it is saved (the timings snapshot is made from it there).
    pub fn update(
        path: &Path,
        known: &History,
        observations: &[Observation],
        listed: &HashSet<TestId>,
        then: impl FnOnce(&mut History),
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
        let unchanged = known.source.is_some() && known.source == Identity::of(path);
        let mut history = match unchanged {
            true => known.clone(),
            // Whatever was wrong with the file was said when the run started; start afresh.
            false => History::load(path).unwrap_or_default(),
        };
        history.record(observations, listed);
        then(&mut history);
        history.save(path)?;
        Ok(history)
    }

    /// Version 1 keys were `binary-id test-name`: split at the first space, which is right
    /// for every binary id cargo gives.
    fn from_version_1(stored: StoredHistory) -> History {
        let mut binaries: BTreeMap<String, Tests> = BTreeMap::new();
        for (key, mut record) in stored.tests {
            let (binary, name) = key.split_once(' ').unwrap_or(("", key.as_str()));
            record.drop_incredible();
            binaries
                .entry(binary.to_string())
                .or_default()
                .insert(name.to_string(), record);
        }
        History {
            version: FORMAT_VERSION,
            runs: stored.runs,
            binaries: (binaries.into_iter())
                .map(|(id, tests)| (id, lazy::Binary::parsed(tests)))
                .collect(),
            snapshot_run: None,
            source: None,
        }
    }

    /// Write atomically: readers see the old file or the new one, never a mix.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().context("history path has no directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        // The directory is runner's own: what a killed write of any version left goes too.
        files::remove_stale_temporaries_of_earlier_versions(dir);
        // One write: the writer's buffer would split a large history into many.
        let bytes = serde_json::to_vec(self).context("serialising the history")?;
        files::write_atomically(path, |out| {
            out.write_all(&bytes).context("writing the history")
        })
    }
}

/// A file's text, and the identity of the version that text is (taken from the open file, so
/// the two always belong together).
fn read_with_identity(path: &Path) -> std::io::Result<(String, Identity)> {
    let mut file = std::fs::File::open(path)?;
    let identity = Identity::from(&file.metadata()?);
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok((text, identity))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{id, observe};
    use super::super::DURATIONS_KEPT;
    use super::*;
    use std::time::Duration;

    /// Fold a run in which test `name` passed in 10 ms into the file at `path`.
    fn fold(path: &Path, known: &History, name: &str) -> History {
        let observation = observe(name, 10, false);
        History::update(path, known, &[observation], &HashSet::new(), |_| {}).unwrap()
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
    fn corrupt_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.json");
        std::fs::write(&path, "{ not json").unwrap();
        let err = History::load(&path).unwrap_err();
        assert!(format!("{err:#}").contains("not a valid history file"));
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
                    // Each run read the file as it was before any of them saved.
                    let known = History::load(path).unwrap();
                    let observation = observe(name, 10, true);
                    History::update(path, &known, &[observation], &HashSet::new(), |_| {}).unwrap();
                });
            }
        });
        let history = History::load(&path).unwrap();
        assert_eq!(history.runs, 6);
        for name in &names {
            assert!(history.failed_last_time(&id(name)), "{name} was lost");
        }
    }

    #[test]
    fn an_unchanged_file_is_not_read_again_and_a_changed_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = History::path_in(dir.path());
        fold(&path, &History::default(), "a");
        let known = History::load(&path).unwrap();
        // Unchanged: what is saved is the known copy plus this run, even if the bytes on disk
        // were to say otherwise (here: a copy with the same identity is not re-read).
        let mut stale = known.clone();
        stale.binaries.clear();
        let saved = fold(&path, &stale, "b");
        assert!(
            saved.expected(&id("a")).is_none(),
            "the known copy was used"
        );
        // Another run saved in between: the file is read again, its results kept.
        let known = History::load(&path).unwrap();
        fold(&path, &known, "c");
        let saved = fold(&path, &known, "d");
        for name in ["b", "c", "d"] {
            assert!(saved.expected(&id(name)).is_some(), "{name} was lost");
        }
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
        assert_eq!(
            history.tests_of("bin").unwrap()["a"].cpu.len(),
            DURATIONS_KEPT
        );
    }

    #[test]
    fn records_a_run_does_not_touch_are_not_parsed_and_are_written_back_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let path = History::path_in(dir.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // Spelled as no serialiser would write it: the bytes show whether it was rewritten.
        let other = r#"{"x": {"durations": [0.50000], "failed": false, "last_run": 1}}"#;
        let text = format!(r#"{{"version":2,"runs":1,"binaries":{{"other":{other}}}}}"#);
        std::fs::write(&path, text).unwrap();
        let known = History::load(&path).unwrap();
        let saved = fold(&path, &known, "a");
        assert!(!saved.binaries["other"].changed());
        assert!(saved.changed_binaries().eq(["bin"]));
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.contains(other), "{written}");
        let loaded = History::load(&path).unwrap();
        assert_eq!(
            loaded.expected(&TestId::new("other", "x")),
            Some(Duration::from_millis(500))
        );
    }

    #[test]
    fn a_binary_whose_records_are_damaged_starts_afresh_and_the_others_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.json");
        let text = r#"{"version":2,"runs":1,"binaries":{
            "bin":{"a":{"durations":[0.25],"failed":false,"last_run":1}},
            "damaged":{"x":{"durations":"not a list"}}}}"#;
        std::fs::write(&path, text).unwrap();
        let history = History::load(&path).unwrap();
        assert_eq!(history.expected(&id("a")), Some(Duration::from_millis(250)));
        assert_eq!(history.expected(&TestId::new("damaged", "x")), None);
    }

    #[test]
    fn the_snapshot_made_from_the_changes_equals_the_one_made_from_everything() {
        use crate::plan::partition::Timings;
        let dir = tempfile::tempdir().unwrap();
        let path = History::path_in(dir.path());
        let other = TestId::new("other", "x");
        let of_other = Observation::alone(other.clone(), Duration::from_millis(7), false);
        let mut first = History::default();
        first.record(&[observe("a", 10, false), of_other], &HashSet::new());
        first.save(&path).unwrap();
        let known = History::load(&path).unwrap();
        let before = Timings::from_history(&known);
        // This run changes "bin" only, and lists "other" without its test: "other" goes.
        let listed: HashSet<TestId> = [id("a"), TestId::new("other", "y")].into();
        let saved =
            History::update(&path, &known, &[observe("a", 30, false)], &listed, |_| {}).unwrap();
        let refreshed = Timings::refreshed(&before, &saved);
        assert_eq!(refreshed, Timings::from_history(&saved));
        assert_eq!(
            refreshed,
            Timings::from_durations([(id("a"), Duration::from_millis(20))])
        );
    }
}
