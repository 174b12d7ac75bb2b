//! Listings kept from earlier runs. A libtest binary's tests, and which of them are ignored, are
//! fixed when it is compiled, so while a binary is the same file (its path, size, modification
//! time and inode) its listing is read back instead of asked of it again: a warm run of a
//! workspace of many binaries starts its tests without starting two listing processes per
//! binary first.
//!
//! The listings live in `target/runner/listings.json`, beside the history. Only libtest
//! binaries are kept: a custom harness may list differently from run to run, and doctests are
//! listed through cargo. Nothing is kept or read when a wrapper or target runner starts the
//! binaries. A file that cannot be read or written only means listing again.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::list::{self, BinaryListing, DocListing, ListOptions};
use crate::files::{self, Identity};
use crate::model::{Invocation, TargetKind, TestBinary};
use crate::process::control::RunControl;

/// Bumped when what an entry means changes: an older file is then ignored and rewritten.
const VERSION: u32 = 1;

/// One binary's listing: every test's name, and the names of the ignored ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    identity: Identity,
    tests: Vec<String>,
    ignored: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    version: u32,
    binaries: BTreeMap<PathBuf, Entry>,
}

/// The listings of a target directory.
pub struct ListingCache {
    path: Option<PathBuf>,
    stored: Stored,
    changed: bool,
}

impl ListingCache {
    pub fn path_in(target_dir: &Path) -> PathBuf {
        target_dir.join("runner").join("listings.json")
    }

    /// What `target_dir` keeps; without one (`--binary`), nothing, and nothing is kept.
    pub fn load(target_dir: Option<&Path>) -> ListingCache {
        let path = target_dir.map(ListingCache::path_in);
        let stored = path
            .as_deref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| serde_json::from_slice::<Stored>(&bytes).ok())
            .filter(|stored| stored.version == VERSION)
            .unwrap_or_default();
        ListingCache {
            path,
            stored,
            changed: false,
        }
    }

    /// The kept listing of `binary`, if it is still the same file.
    fn get(&self, binary: &Arc<TestBinary>) -> Option<BinaryListing> {
        if !keeps(binary) {
            return None;
        }
        let entry = self.stored.binaries.get(&binary.path)?;
        if Identity::of(&binary.path)? != entry.identity {
            return None;
        }
        Some(list::tests_of(
            binary,
            &entry.tests,
            &entry.ignored,
            Invocation::Libtest,
        ))
    }

    /// Keep a fresh listing of `binary`.
    fn put(&mut self, binary: &TestBinary, listing: &BinaryListing) {
        let BinaryListing::Tests(cases) = listing else {
            return;
        };
        let Some(identity) = Identity::of(&binary.path).filter(|_| keeps(binary)) else {
            return;
        };
        let entry = Entry {
            identity,
            tests: cases.iter().map(|case| case.name.clone()).collect(),
            ignored: cases
                .iter()
                .filter(|case| case.ignored)
                .map(|case| case.name.clone())
                .collect(),
        };
        self.stored.binaries.insert(binary.path.clone(), entry);
        self.changed = true;
    }

    /// Write what changed; entries of binaries that are gone are dropped.
    fn save(mut self) {
        let Some(path) = self.path.take().filter(|_| self.changed) else {
            return;
        };
        self.stored.version = VERSION;
        self.stored.binaries.retain(|binary, _| binary.exists());
        let _ = files::write_atomically(&path, |out| {
            serde_json::to_writer(out, &self.stored)?;
            Ok(())
        });
    }
}

/// Whether a binary's listing is kept: libtest binaries built by cargo.
fn keeps(binary: &TestBinary) -> bool {
    !binary.custom_harness && !matches!(binary.kind, TargetKind::Doc | TargetKind::Prebuilt)
}

/// Every binary's listing, in order: kept ones read back, the others listed (in parallel, see
/// [`list::list_all`]) and kept for the next run.
pub fn list_all(
    binaries: &[Arc<TestBinary>],
    target_dir: Option<&Path>,
    (how, control): (ListOptions, &RunControl),
    (doc, failed): (Option<DocListing>, &HashMap<PathBuf, String>),
) -> Vec<BinaryListing> {
    // A wrapper or target runner stands between the runner and the binary (an emulator, a
    // recorder): the binaries are listed through it every run.
    let launched = !how.launcher.wrapper.is_empty()
        || !how.launcher.runner.is_empty()
        || !how.launcher.host_runner.is_empty();
    let mut cache = ListingCache::load(target_dir.filter(|_| !launched));
    let known = |binary: &Arc<TestBinary>| {
        let failed = failed.get(&binary.path).cloned().map(BinaryListing::Failed);
        failed.or_else(|| cache.get(binary))
    };
    let mut listings: Vec<Option<BinaryListing>> = binaries.iter().map(known).collect();
    let missing: Vec<Arc<TestBinary>> = binaries
        .iter()
        .zip(&listings)
        .filter(|(_, kept)| kept.is_none())
        .map(|(binary, _)| Arc::clone(binary))
        .collect();
    if missing.is_empty() {
        return listings.into_iter().flatten().collect();
    }
    let mut fresh = list::list_all(&missing, how, control, doc).into_iter();
    for (binary, slot) in binaries.iter().zip(&mut listings) {
        if slot.is_none() {
            let listing = fresh.next().expect("one listing per binary listed");
            cache.put(binary, &listing);
            *slot = Some(listing);
        }
    }
    cache.save();
    listings.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(path: &Path, custom_harness: bool) -> Arc<TestBinary> {
        Arc::new(TestBinary {
            id: "p::t".into(),
            path: path.to_path_buf(),
            package: Some("p".into()),
            target_name: "t".into(),
            kind: TargetKind::Test,
            cwd: "/".into(),
            env: Default::default(),
            custom_harness,
        })
    }

    fn names(listing: &BinaryListing) -> Vec<(String, bool)> {
        match listing {
            BinaryListing::Tests(cases) => {
                cases.iter().map(|c| (c.name.clone(), c.ignored)).collect()
            }
            other => panic!("not a listing of tests: {other:?}"),
        }
    }

    #[test]
    fn a_listing_is_read_back_until_the_binary_changes() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("t-1234");
        std::fs::write(&exe, b"first build").unwrap();
        let target = dir.path().join("target");
        let bin = binary(&exe, false);
        let listing = list::tests_of(
            &bin,
            &["a".into(), "b".into()],
            &["b".into()],
            Invocation::Libtest,
        );
        let mut cache = ListingCache::load(Some(&target));
        assert!(cache.get(&bin).is_none());
        cache.put(&bin, &listing);
        cache.save();
        let cache = ListingCache::load(Some(&target));
        let kept = cache.get(&bin).expect("kept");
        assert_eq!(names(&kept), [("a".into(), false), ("b".into(), true)]);
        // Rebuilt: another size (and file); the listing is asked again.
        std::fs::remove_file(&exe).unwrap();
        std::fs::write(&exe, b"second, longer build").unwrap();
        assert!(ListingCache::load(Some(&target)).get(&bin).is_none());
    }

    #[test]
    fn custom_harnesses_and_unreadable_files_keep_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("custom");
        std::fs::write(&exe, b"x").unwrap();
        let target = dir.path().join("target");
        let bin = binary(&exe, true);
        let listing = list::tests_of(&bin, &["a".into()], &[], Invocation::Libtest);
        let mut cache = ListingCache::load(Some(&target));
        cache.put(&bin, &listing);
        assert!(!cache.changed);
        std::fs::create_dir_all(target.join("runner")).unwrap();
        std::fs::write(ListingCache::path_in(&target), b"{not json").unwrap();
        assert!(ListingCache::load(Some(&target)).stored.binaries.is_empty());
    }
}
