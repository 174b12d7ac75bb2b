//! The plan of a run: which tests exist (listing), which the user selected, which shard this
//! machine runs, and in what order they start; plus the timing history those decisions use.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::cli::{IgnoredPolicy, LastFailed, Mode, RunConfig, Source};
use crate::filter::TestFacts;
use crate::model::{ListFailure, TargetKind, TestBinary, TestCase, TestId};
use crate::phases::{self, Phase};
use crate::plan::discover::Discovered;
use crate::plan::history::{History, Observation};
use crate::plan::list::{self, BinaryListing};
use crate::plan::list_cache;
use crate::plan::notes_seen::NotesSeen;
use crate::plan::order::{self, Order};
use crate::plan::partition::{self, Partition, Scheme, Shard, Timings};
use crate::plan::select::Verdict;
use crate::process::control::RunControl;
use crate::rustdoc;

/// What listing and selection produced.
pub struct Plan {
    pub target_dir: Option<PathBuf>,
    pub history: History,
    /// History keys of every test listed, selected or not: what exists now.
    pub listed: HashSet<TestId>,
    pub to_run: Vec<TestCase>,
    pub ignored: Vec<TestCase>,
    pub notes: Vec<String>,
    pub list_failures: Vec<ListFailure>,
    /// The shard this machine runs, under `--partition`: what its reports record.
    pub shard: Option<Shard>,
    /// The temporary directory an archive was unpacked into: the binaries run from it, so it
    /// lives as long as the plan.
    _unpacked: Option<tempfile::TempDir>,
}

impl Plan {
    /// List every binary, select, partition and order: everything decided before a test runs.
    pub fn build(config: &RunConfig, discovered: Discovered, control: &RunControl) -> Plan {
        let doc = match &config.source {
            Source::Cargo(cargo) => Some(list::DocListing {
                cargo,
                with_ignored: matches!(config.mode, Mode::List | Mode::NoRun)
                    || config.selection.ignored == IgnoredPolicy::Only,
            }),
            Source::Binaries(_) | Source::Archive(_) => None,
        };
        let how = list::ListOptions {
            timeout: config.list_timeout,
            launcher: &config.launcher,
        };
        let listings = list_cache::list_all(
            &discovered.binaries,
            discovered.target_dir.as_deref(),
            (how, control),
            (doc, &discovered.failed_listings),
        );
        phases::mark(Phase::Listed);
        let history = load_history(discovered.target_dir.as_deref());
        let mut plan = Plan {
            target_dir: discovered.target_dir,
            history,
            listed: HashSet::new(),
            to_run: Vec::new(),
            ignored: Vec::new(),
            notes: Vec::new(),
            list_failures: Vec::new(),
            shard: None,
            _unpacked: discovered.unpacked,
        };
        let mut seen = NotesSeen::load(plan.target_dir.as_deref());
        for (binary, listing) in discovered.binaries.iter().zip(listings) {
            if let Some(cases) = plan.take_listing(binary, listing, &mut seen, control) {
                plan.select(config, binary, cases);
            }
        }
        seen.save();
        plan.narrow_and_order(config);
        plan
    }

    /// The tests a binary's listing gave, or `None` when it gave none (its failure noted).
    fn take_listing(
        &mut self,
        binary: &TestBinary,
        listing: BinaryListing,
        seen: &mut NotesSeen,
        control: &RunControl,
    ) -> Option<Vec<TestCase>> {
        match listing {
            BinaryListing::Tests(cases) => Some(cases),
            BinaryListing::Whole(case, note) => {
                // Said once per workspace, until the target changes.
                if seen.first_time(binary) {
                    self.notes.push(note);
                }
                Some(vec![case])
            }
            // A listing we interrupted ourselves (Ctrl-C) says nothing about the binary.
            BinaryListing::Failed(_) if control.cancelled().is_some() => {
                self.notes
                    .push(format!("listing {} was interrupted", binary.id));
                None
            }
            BinaryListing::Failed(why) => {
                self.list_failures.push(ListFailure {
                    binary_id: binary.id.clone(),
                    message: why,
                });
                None
            }
        }
    }

    /// Record a binary's tests as existing, and keep those the user selected.
    fn select(&mut self, config: &RunConfig, binary: &TestBinary, cases: Vec<TestCase>) {
        if binary.kind == TargetKind::Doc {
            // The doctest job's own cost is kept in the history as long as the job exists.
            self.listed.insert(TestId {
                binary_id: binary.id.clone(),
                name: rustdoc::JOB_COST_NAME.to_string(),
            });
        }
        let groups = config.selection.uses_group();
        for case in cases {
            self.listed.insert(case.id());
            let group = groups.then(|| config.group_name(&case));
            let facts = TestFacts::of(&case, group);
            match config.selection.verdict(&facts, case.ignored) {
                Verdict::Run => self.to_run.push(case),
                Verdict::SkipIgnored => self.ignored.push(case),
                Verdict::Exclude => {}
            }
        }
    }

    /// This machine's shard, `--lf`, and the order tests start in.
    fn narrow_and_order(&mut self, config: &RunConfig) {
        if let Some(partition) = &config.partition {
            apply_partition(partition, config.partition_timings.as_ref(), self);
        }
        if config.last_failed == LastFailed::RunOnly {
            order::keep_last_failed(&mut self.to_run, &self.history);
        }
        order::arrange(
            &mut self.to_run,
            config.order,
            &self.history,
            config.last_failed == LastFailed::RunFirst,
        );
        if let Order::Random(seed) = config.order {
            self.notes.push(format!(
                "random order with seed {seed} (replay it with --seed {seed})"
            ));
        }
    }
}

impl Plan {
    /// A plan of `to_run` alone, in the order given: one wave of an overlapped run (see
    /// `plan::wave`), whose notes and listing failures the whole plan reports.
    pub fn of_wave(target_dir: Option<PathBuf>, history: History, to_run: Vec<TestCase>) -> Plan {
        Plan {
            target_dir,
            history,
            listed: HashSet::new(),
            to_run,
            ignored: Vec::new(),
            notes: Vec::new(),
            list_failures: Vec::new(),
            shard: None,
            _unpacked: None,
        }
    }

    /// How many binaries the tests to run come from: what the run's header and `runner list`
    /// both count.
    pub fn binaries_to_run(&self) -> usize {
        let ids: HashSet<&str> = self.to_run.iter().map(|c| c.binary.id.as_str()).collect();
        ids.len()
    }
}

/// Keep only this machine's shard, of the tests to run and the skipped ones alike. The shard is
/// computed over both lists together, so every machine sees the same whole. A `time:` scheme
/// reads the `--timings` file, else the snapshot that only unpartitioned runs write.
fn apply_partition(partition: &Partition, given: Option<&Timings>, plan: &mut Plan) {
    let before = plan.to_run.len() + plan.ignored.len();
    let ids: Vec<_> = plan
        .to_run
        .iter()
        .chain(&plan.ignored)
        .map(TestCase::id)
        .collect();
    let snapshot;
    let timings = match (partition.scheme, given) {
        (Scheme::Time, Some(given)) => Some(given),
        (Scheme::Time, None) => {
            snapshot = Timings::load_snapshot(plan.target_dir.as_deref());
            Some(&snapshot)
        }
        (Scheme::Hash | Scheme::Count, _) => None,
    };
    let none = Timings::default();
    let mut keep = partition.select(&ids, timings.unwrap_or(&none)).into_iter();
    plan.to_run.retain(|_| keep.next().unwrap_or(false));
    plan.ignored.retain(|_| keep.next().unwrap_or(false));
    partition::acknowledge_bazel_sharding();
    let shard = Shard::new(partition, &ids, timings);
    let timed = match timings {
        Some(timings) => {
            let known = ids
                .iter()
                .filter(|id| timings.expected(id).is_some())
                .count();
            format!(" ({known} of them timed, the others spread by hash)")
        }
        None => String::new(),
    };
    plan.notes.push(format!(
        "partition {}:{}/{}: {} of {before} selected tests in this shard{timed}",
        shard.scheme,
        partition.index,
        partition.total,
        plan.to_run.len() + plan.ignored.len()
    ));
    plan.shard = Some(shard);
}

/// The history of earlier runs; without a target directory, or with a bad file, none.
pub fn load_history(target_dir: Option<&Path>) -> History {
    let Some(dir) = target_dir else {
        return History::default();
    };
    History::load(&History::path_in(dir)).unwrap_or_else(|e| {
        eprintln!("warning: {e:#}; running without timing history (it will be rewritten)");
        History::default()
    })
}

/// Fold this run into the history file; failing to save is a warning, not a failed run. A run
/// that is not partitioned also rewrites the timings snapshot `time:` partitions read; a
/// partitioned one leaves it alone, so that its sibling shards compute the same partition.
pub fn save_history(plan: &Plan, observations: &[Observation]) {
    let Some(dir) = &plan.target_dir else { return };
    let path = History::path_in(dir);
    let mut snapshot = Ok(());
    let saved = History::update(
        &path,
        &plan.history,
        observations,
        &plan.listed,
        |history| {
            if plan.shard.is_none() {
                snapshot = save_snapshot(dir, history);
            }
        },
    );
    if let Err(e) = saved.and(snapshot) {
        eprintln!("warning: could not save the timing history: {e:#}");
    }
}

/// Make the timings snapshot in `dir` equal to `history` (this run folded in), and mark the
/// history so. While the snapshot was equal to the history before this run, only what this run
/// changed is computed again; else all of it.
fn save_snapshot(dir: &Path, history: &mut History) -> anyhow::Result<()> {
    let path = Timings::snapshot_path(dir);
    let saved = Timings::load(&path).ok();
    let timings = match &saved {
        Some(saved) if history.snapshot_was_current() => Timings::refreshed(saved, history),
        _ => Timings::from_history(history),
    };
    // Whole milliseconds change seldom; a rename that replaces a file costs a millisecond or
    // more (the file system starts writing the new data out).
    if saved.as_ref() != Some(&timings) {
        timings.save(&path)?;
    }
    history.mark_snapshot();
    Ok(())
}
