//! Where each setting comes from, for `runner show-config`: the command line, an override of
//! the profile (which one, at which line), the profile (or the one it inherits from), a
//! `[[group]]` or `[[batch]]` table, or the built-in default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::args::RunArgs;
use super::config_file::{BatchSpec, GroupSpec};
use super::loading::Loaded;
use super::RunConfig;
use crate::filter::{TestFacts, GLOBAL_GROUP};
use crate::model::TestCase;

/// The settings a test can get per test: their config-file keys, and the flag that sets each.
pub const PER_TEST: [(&str, Option<&str>); 10] = [
    ("retries", Some("--retries")),
    ("timeout", Some("--timeout")),
    ("slow-timeout", Some("--slow-timeout")),
    ("timeout-grace", Some("--timeout-grace")),
    ("leak-timeout", Some("--leak-timeout")),
    ("leak-result", Some("--leak-result")),
    ("flaky-result", Some("--flaky-result")),
    ("threads-required", None),
    ("test-group", None),
    ("batch", Some("--batch")),
];

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    CommandLine(&'static str),
    /// The 0-based index of the override in the profile's list, and `file:line`.
    Override(usize, String),
    /// The profile that sets it, and the chosen profile that inherits it.
    Profile(String, String),
    /// A `[[group]]` or `[[batch]]` table whose filter matches, and `file:line`.
    Table(String, String),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::CommandLine(flag) => write!(f, "command line ({flag})"),
            Source::Override(i, at) => write!(f, "override {} at {at}", i + 1),
            Source::Profile(name, chosen) if name == chosen => write!(f, "profile {name}"),
            Source::Profile(name, chosen) => {
                write!(f, "profile {name} (inherited by {chosen})")
            }
            Source::Table(table, at) if at.is_empty() => f.write_str(table),
            Source::Table(table, at) => write!(f, "{table} at {at}"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// Which file and profile a run reads, and what they hold, for `show-config`.
#[derive(Debug, Clone, Default)]
pub struct Explain {
    pub file: Option<PathBuf>,
    pub profile: Option<String>,
    /// The chosen profile, then those it inherits from.
    pub chain: Vec<String>,
    pub groups: Vec<GroupSpec>,
    pub batches: Vec<BatchSpec>,
    /// The profile that sets `wrapper` (the chosen one or one it inherits from).
    pub wrapper_from: Option<String>,
    /// The profile whose `[[scripts]]` tables scope the setup scripts.
    pub scripts_from: Option<String>,
    /// Where cargo's target runner was set: a variable's name or `FILE: target.KEY.runner`.
    pub runner_from: Option<String>,
    /// Where the host's runner was set, for tests built for the host (a proc-macro's).
    pub host_runner_from: Option<String>,
    /// The source of each per-test setting's run-wide value, by key.
    base: BTreeMap<&'static str, Source>,
}

impl Explain {
    pub fn new(args: &RunArgs, loaded: &Loaded) -> Explain {
        let given = |key: &str| match key {
            "retries" => args.retries.is_some(),
            "timeout" => args.timeout.is_some(),
            "slow-timeout" => args.slow_timeout.is_some(),
            "timeout-grace" => args.timeout_grace.is_some(),
            "leak-timeout" => args.leak_timeout.is_some(),
            "leak-result" => args.leak_result.is_some(),
            "flaky-result" => args.flaky_result.is_some(),
            "batch" => args.batch,
            _ => false,
        };
        let chosen = loaded.name.clone().unwrap_or_default();
        let base = PER_TEST
            .iter()
            .map(|&(key, flag)| {
                let source = match (flag, loaded.profile.source_of(key)) {
                    (Some(flag), _) if given(key) => Source::CommandLine(flag),
                    (_, Some(name)) => Source::Profile(name.to_string(), chosen.clone()),
                    _ => Source::Default,
                };
                (key, source)
            })
            .collect();
        Explain {
            file: loaded.path.clone(),
            profile: loaded.name.clone(),
            chain: loaded.profile.chain.clone(),
            groups: loaded.file.group.clone(),
            batches: loaded.file.batch.clone(),
            wrapper_from: loaded.profile.source_of("wrapper").map(str::to_string),
            scripts_from: loaded.profile.source_of("scripts").map(str::to_string),
            runner_from: None,
            host_runner_from: None,
            base,
        }
    }

    fn base(&self, key: &str) -> Source {
        self.base.get(key).cloned().unwrap_or(Source::Default)
    }
}

/// One setting as `show-config` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: &'static str,
    pub value: String,
    pub source: Source,
}

pub fn duration(value: Option<Duration>) -> String {
    value.map_or("none".into(), |d| humantime::format_duration(d).to_string())
}

fn pass_fail(fails: bool) -> String {
    if fails { "fail" } else { "pass" }.into()
}

impl RunConfig {
    /// The run-wide value of every per-test setting, and where it comes from.
    pub fn explain_run(&self) -> Vec<Row> {
        PER_TEST
            .iter()
            .map(|&(key, _)| Row {
                key,
                value: self.base_value(key),
                source: self.explain.base(key),
            })
            .collect()
    }

    fn base_value(&self, key: &str) -> String {
        match key {
            "retries" => self.retries.to_string(),
            "timeout" => duration(self.timeout),
            "slow-timeout" => duration(self.slow_timeout),
            "timeout-grace" => duration(Some(self.timeout_grace)),
            "leak-timeout" => duration(Some(self.leak_timeout)),
            "leak-result" => pass_fail(self.policy.leak_fails),
            "flaky-result" => pass_fail(self.policy.flaky_fails),
            "threads-required" => "1".into(),
            "test-group" => GLOBAL_GROUP.into(),
            "batch" => self.batch_all.to_string(),
            _ => String::new(),
        }
    }

    /// The settings `case` gets, each with where it comes from: the first override that sets
    /// it, else the group or batch table that matches, else the run-wide value.
    pub fn explain_test(&self, case: &TestCase) -> Vec<Row> {
        let matched = self.overrides.matching(&TestFacts::of(case, None));
        let constraint = self.constraint(case);
        let overridden = |key: &str| {
            let found = match key {
                "retries" => matched.first(|s| s.retries.map(|v| v.to_string())),
                "timeout" => matched.first(|s| s.timeout.map(|v| duration(Some(v)))),
                "slow-timeout" => matched.first(|s| s.slow_timeout.map(|v| duration(Some(v)))),
                "timeout-grace" => matched.first(|s| s.timeout_grace.map(|v| duration(Some(v)))),
                "leak-timeout" => matched.first(|s| s.leak_timeout.map(|v| duration(Some(v)))),
                "leak-result" => matched.first(|s| s.leak_fails.map(pass_fail)),
                "flaky-result" => matched.first(|s| s.flaky_fails.map(pass_fail)),
                "threads-required" => matched.first(|s| s.threads_required.map(|v| v.to_string())),
                "test-group" => matched.first(|s| {
                    s.test_group
                        .map(|g| g.map_or(GLOBAL_GROUP, |g| self.groups.name(g)).to_string())
                }),
                "batch" => matched.first(|s| s.batch.map(|b| b.to_string())),
                _ => None,
            };
            found.map(|(value, i)| {
                (
                    value,
                    Source::Override(i, self.overrides.list()[i].origin.clone()),
                )
            })
        };
        PER_TEST
            .iter()
            .map(|&(key, _)| {
                let (value, source) = overridden(key)
                    .or_else(|| self.table_value(key, case, constraint.group))
                    .unwrap_or_else(|| (self.base_value(key), self.explain.base(key)));
                Row { key, value, source }
            })
            .collect()
    }

    /// A value that a `[[group]]` or `[[batch]]` table gives the test.
    fn table_value(
        &self,
        key: &str,
        case: &TestCase,
        group: Option<usize>,
    ) -> Option<(String, Source)> {
        let facts = TestFacts::of(case, None);
        match key {
            "test-group" | "threads-required" => {
                let g = group?;
                let spec = &self.explain.groups[g];
                let origin = spec
                    .filter
                    .as_ref()
                    .map_or(String::new(), |f| f.origin.clone());
                let value = match key {
                    "test-group" => spec.name.clone(),
                    _ => self.groups.threads_required(g).to_string(),
                };
                // A group chosen by an override's test-group is that override's doing.
                let by_filter =
                    key != "test-group" || self.groups.constraint(case).group == Some(g);
                by_filter.then(|| {
                    (
                        value,
                        Source::Table(format!("[[group]] '{}'", spec.name), origin),
                    )
                })
            }
            "batch" => self
                .explain
                .batches
                .iter()
                .find(|b| b.filter.filter.matches(&facts))
                .map(|b| {
                    (
                        b.batch.to_string(),
                        Source::Table("[[batch]]".into(), b.filter.origin.clone()),
                    )
                }),
            _ => None,
        }
    }
}
