//! A package's selected doctests as one job of the pool, and what the history says it costs,
//! so that the scheduler starts it early: rustdoc compiles every example on every run, which
//! makes the doctests of a package the longest job of most runs.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cli::{IgnoredPolicy, RunConfig, Source};
use crate::model::{TestCase, TestId};
use crate::plan::history::History;
use crate::plan::Plan;
use crate::rustdoc;

/// The doctests of one package that this run selected, run by one `cargo test --doc`.
#[derive(Debug)]
pub struct DocJob {
    /// In name order.
    pub cases: Vec<TestCase>,
    /// Every doctest the package has: what rustdoc runs when no argument narrows it down.
    pub listed: Vec<String>,
    /// The test threads rustdoc is given: the pass's workers, as `cargo test` would use.
    pub threads: usize,
    /// cargo's build flags, repeated so that cargo finds the library the build made.
    pub build: Vec<String>,
    /// Ignored doctests run too (`--include-ignored`, `--ignored`). Otherwise an ignored
    /// doctest, which a run's listing does not tell apart, is reported as rustdoc reports it.
    pub include_ignored: bool,
}

impl DocJob {
    /// The package whose doctests these are.
    pub fn package(&self) -> &str {
        self.cases.first().map_or("", |case| {
            case.binary
                .package
                .as_deref()
                .unwrap_or(&case.binary.target_name)
        })
    }

    /// The binary id of the package's doctests.
    pub fn binary_id(&self) -> &str {
        self.cases
            .first()
            .map_or("", |case| case.binary.id.as_str())
    }

    /// What the history expects the job to take: its own cost, and the doctests' time shared
    /// among the threads; `None` while any of it is unknown.
    pub fn expected_cost(&self, history: &History) -> Option<Duration> {
        let own = history.expected(&job_cost_id(self.binary_id()))?;
        let tests: Option<Duration> = self
            .cases
            .iter()
            .map(|case| history.expected(&case.id()))
            .sum();
        Some(own + tests? / self.threads.max(1) as u32)
    }
}

/// The history key of a doctest job's own cost (see `rustdoc::JOB_COST_NAME`).
pub fn job_cost_id(binary_id: &str) -> TestId {
    TestId {
        binary_id: binary_id.to_string(),
        name: rustdoc::JOB_COST_NAME.to_string(),
    }
}

/// One job per package of the selected doctests `cases`, on `threads` threads.
pub fn doc_jobs(
    cases: Vec<TestCase>,
    config: &RunConfig,
    plan: &Plan,
    threads: usize,
) -> Vec<DocJob> {
    let build = match &config.source {
        Source::Cargo(cargo) => cargo.build.clone(),
        Source::Binaries(_) | Source::Archive(_) => Vec::new(),
    };
    let mut by_binary: BTreeMap<String, Vec<TestCase>> = BTreeMap::new();
    for case in cases {
        by_binary
            .entry(case.binary.id.clone())
            .or_default()
            .push(case);
    }
    by_binary
        .into_iter()
        .map(|(binary_id, mut cases)| {
            cases.sort_by(|a, b| a.name.cmp(&b.name));
            let mut listed: Vec<String> = plan
                .listed
                .iter()
                .filter(|id| id.binary_id == binary_id && id.name != rustdoc::JOB_COST_NAME)
                .map(|id| id.name.clone())
                .collect();
            listed.sort_unstable();
            let include_ignored = config.selection.ignored != IgnoredPolicy::Skip
                || cases.iter().any(|case| case.ignored);
            DocJob {
                cases,
                listed,
                threads: threads.max(1),
                build: build.clone(),
                include_ignored,
            }
        })
        .collect()
}
