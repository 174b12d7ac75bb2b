//! TOML files the runner reads (the one home of `toml`): its own `.config/runner.toml`
//! (profiles, test groups, batched binaries), and the `harness = false` keys of cargo manifests,
//! which `cargo metadata` does not report.
//!
//! The file is deserialised into typed structs that refuse unknown keys, so a wrong key or a
//! value of the wrong type or form stops the run with one line naming the file, line, column,
//! key and table. Choices are read with the flags' own clap names and durations with
//! humantime's grammar, as on the command line; `jobs` keeps its text and its place, because
//! `-n`'s parser checks it when [`crate::cli`] resolves the settings.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::Deserialize;
use toml::Spanned;

use super::args::{NoTestsChoice, OrderChoice, PassOrFail};
use super::config_errors::{describe_error, place};
use super::config_scripts::{CommandLine, ScriptRule, ScriptSpec};

mod filters;
mod profiles;

pub use filters::{suggest, ConfigFilter, OverrideSpec};
pub use profiles::ResolvedProfile;

/// Where the runner looks for its config file, in each directory from the workspace up.
const CANDIDATES: [&str; 2] = [".config/runner.toml", "runner.toml"];

/// `.config/runner.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    /// `[profile.NAME]` tables.
    #[serde(default)]
    profile: BTreeMap<String, Profile>,
    /// `[[group]]` tables: tests that share a concurrency limit.
    #[serde(default)]
    pub group: Vec<GroupSpec>,
    /// `[[batch]]` tables: binaries whose tests run many per process.
    #[serde(default)]
    pub batch: Vec<BatchSpec>,
    /// `[script.NAME]` tables: setup scripts, which profiles scope to tests.
    pub script: Option<BTreeMap<String, ScriptSpec>>,
    /// The directory the file belongs to (above `.config`): setup scripts run there.
    #[serde(skip)]
    pub root: PathBuf,
}

/// One `[profile.NAME]` table. A key left out is `None`: the command line, the environment or
/// the built-in default decides.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Profile {
    /// Spanned because `-n`'s parser checks it only when resolving, and its error must still
    /// name the place.
    pub jobs: Option<Spanned<Jobs>>,
    pub retries: Option<u32>,
    #[serde(default, with = "humantime_serde::option")]
    pub timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    pub slow_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    pub timeout_grace: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    pub leak_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    pub list_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "choice")]
    pub leak_result: Option<PassOrFail>,
    #[serde(default, deserialize_with = "choice")]
    pub flaky_result: Option<PassOrFail>,
    #[serde(default, deserialize_with = "choice")]
    pub order: Option<OrderChoice>,
    #[serde(default, deserialize_with = "choice")]
    pub no_tests: Option<NoTestsChoice>,
    /// Stop after this many failures: `true` is 1, `false` (like leaving it out) is never.
    #[serde(default, deserialize_with = "fail_fast")]
    pub fail_fast: Option<usize>,
    /// Already joined to the workspace root when written relative.
    pub junit: Option<PathBuf>,
    pub batch: Option<bool>,
    /// Already joined to the workspace root when written relative, like `junit`.
    pub timeline: Option<PathBuf>,
    /// Run the doctests too, as `--doc`.
    pub doc: Option<bool>,
    /// The profile whose keys this one takes where it leaves them out.
    pub inherits: Option<String>,
    /// `[[profile.NAME.overrides]]`: per-test settings, the first match winning per setting.
    #[serde(default)]
    pub overrides: Vec<OverrideSpec>,
    /// The program (and arguments) every test binary is started through.
    pub wrapper: Option<CommandLine>,
    /// `[[profile.NAME.scripts]]`: which setup scripts which tests need.
    pub scripts: Option<Vec<ScriptRule>>,
    #[serde(skip)]
    origin: Origin,
}

/// Where a profile was written, for the errors of values checked after reading.
#[derive(Debug, Clone, Default)]
struct Origin {
    path: PathBuf,
    text: Arc<str>,
    name: String,
}

impl Profile {
    /// `file: [profile.NAME]`, for the errors of tables inside it.
    pub fn table(&self) -> String {
        format!(
            "{}: [profile.{}]",
            self.origin.path.display(),
            self.origin.name
        )
    }

    /// `file:line:column: 'key' in [profile.NAME]`, to prefix the error of a value that only
    /// resolving finds wrong.
    pub fn describe<T>(&self, key: &str, value: &Spanned<T>) -> String {
        let Origin { path, text, name } = &self.origin;
        let at = place(path, text, value.span().start);
        format!("{at}: '{key}' in [profile.{name}]")
    }
}

/// `jobs = 4` or `jobs = "auto"`, shown as `-n` would take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jobs {
    Count(i64),
    Named(String),
}

impl fmt::Display for Jobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Jobs::Count(n) => write!(f, "{n}"),
            Jobs::Named(name) => f.write_str(name),
        }
    }
}

impl<'de> Deserialize<'de> for Jobs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct JobsVisitor;
        impl Visitor<'_> for JobsVisitor {
            type Value = Jobs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of workers or \"auto\"")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Jobs, E> {
                Ok(Jobs::Count(n))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Jobs, E> {
                Ok(Jobs::Named(text.to_string()))
            }
        }
        d.deserialize_any(JobsVisitor)
    }
}

/// `fail-fast = true | false | N` with N of 1 or more.
fn fail_fast<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    struct FailFastVisitor;
    impl Visitor<'_> for FailFastVisitor {
        type Value = Option<usize>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("true, false or a number of failures of 1 or more")
        }
        fn visit_bool<E: de::Error>(self, stop: bool) -> Result<Option<usize>, E> {
            Ok(stop.then_some(1))
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<Option<usize>, E> {
            match usize::try_from(n) {
                Ok(n) if n >= 1 => Ok(Some(n)),
                _ => Err(E::invalid_value(Unexpected::Signed(n), &self)),
            }
        }
    }
    d.deserialize_any(FailFastVisitor)
}

/// A choice spelt as its flag takes it: clap's own names (in any case, as before), so a
/// profile and the command line can never disagree on what a value is called.
fn choice<'de, D: Deserializer<'de>, T: ValueEnum>(d: D) -> Result<Option<T>, D::Error> {
    let text = String::deserialize(d)?;
    T::from_str(&text, true).map(Some).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
            .collect();
        let expected = format!("one of {}", names.join(", "));
        de::Error::invalid_value(Unexpected::Str(&text), &expected.as_str())
    })
}

/// One `[[group]]`: the tests `filter` (a filter expression) matches run at most `max-threads`
/// at a time, and each needs `threads-required` worker slots. Overrides' `test-group` can put
/// tests in it too.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GroupSpec {
    pub name: String,
    /// Optional: a group may be filled by overrides' `test-group` alone.
    pub filter: Option<ConfigFilter>,
    /// Gone since filters are expressions: kept only to say so (`test(/REGEX/)`).
    pub regex: Option<bool>,
    pub max_threads: Option<usize>,
    pub threads_required: Option<usize>,
}

/// One `[[batch]]`: the tests `filter` matches run batched (`batch = true`, the default) or
/// never batched (`batch = false`, which wins over `--batch`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BatchSpec {
    pub filter: ConfigFilter,
    #[serde(default = "yes")]
    pub batch: bool,
}

fn yes() -> bool {
    true
}

/// A config file that could not be used: one line naming the file, line and key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FileConfigError(pub String);

impl FileConfig {
    /// The config file of the workspace that `start` belongs to: looked for in `start` and its
    /// ancestors up to the workspace root (the first directory whose Cargo.toml has a
    /// `[workspace]` table), never beyond it, so one workspace never reads another's settings.
    pub fn find(start: &Path) -> Option<PathBuf> {
        for dir in start.ancestors() {
            let found = CANDIDATES
                .iter()
                .map(|name| dir.join(name))
                .find(|path| path.is_file());
            if found.is_some() {
                return found;
            }
            if is_workspace_root(dir) {
                return None;
            }
        }
        None
    }

    pub fn load(path: &Path) -> Result<FileConfig, FileConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| FileConfigError(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text, path)
    }

    /// The config in `text`, as read from `path`.
    pub(super) fn parse(text: &str, path: &Path) -> Result<FileConfig, FileConfigError> {
        let mut config: FileConfig =
            toml::from_str(text).map_err(|e| FileConfigError(describe_error(path, text, &e)))?;
        let root = workspace_root(path);
        let text: Arc<str> = Arc::from(text);
        for (name, profile) in &mut config.profile {
            profile.origin = Origin {
                path: path.to_path_buf(),
                text: Arc::clone(&text),
                name: name.clone(),
            };
            if let Some(junit) = &mut profile.junit {
                *junit = root.join(&*junit);
            }
            if let Some(timeline) = &mut profile.timeline {
                *timeline = root.join(&*timeline);
            }
        }
        config.place_filters(path, &text);
        config.root = root;
        Ok(config)
    }

    /// Give every filter of the file its `file:line`, for the messages that name it later.
    fn place_filters(&mut self, path: &Path, text: &str) {
        let at = |filter: &mut ConfigFilter| {
            let full = place(path, text, filter.span.start);
            // `file:line:column` -> `file:line`
            filter.origin = full
                .rsplit_once(':')
                .map_or(full.clone(), |(a, _)| a.into());
        };
        self.group
            .iter_mut()
            .filter_map(|g| g.filter.as_mut())
            .for_each(at);
        self.batch.iter_mut().map(|b| &mut b.filter).for_each(at);
        self.profile
            .values_mut()
            .flat_map(|p| p.overrides.iter_mut())
            .for_each(|o| at(&mut o.filter));
    }

    /// The names of the profiles the file defines.
    pub fn profile_names(&self) -> Vec<&str> {
        self.profile.keys().map(String::as_str).collect()
    }

    /// The profile called `name` as written (without what it inherits), if the file defines it.
    #[cfg(test)]
    pub fn profile(&self, name: &str) -> Option<Profile> {
        self.profile.get(name).cloned()
    }
}

/// The directory relative paths in the file are resolved against: `.config/runner.toml`
/// belongs to the directory above `.config`.
fn workspace_root(path: &Path) -> PathBuf {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    match dir.parent() {
        Some(parent) if dir.file_name().is_some_and(|n| n == ".config") => parent.to_path_buf(),
        _ => dir,
    }
}

fn is_workspace_root(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|manifest| manifest.contains_key("workspace"))
}

#[cfg(test)]
mod tests;
