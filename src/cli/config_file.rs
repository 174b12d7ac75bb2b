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

/// One `[[group]]`: the tests whose `binary-id test-name` matches `filter` (a substring, or a
/// regular expression with `regex = true`) run at most `max-threads` at a time, and each needs
/// `threads-required` worker slots.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GroupSpec {
    pub name: String,
    pub filter: String,
    #[serde(default)]
    pub regex: bool,
    pub max_threads: Option<usize>,
    pub threads_required: Option<usize>,
}

/// One `[[batch]]`: binaries whose id contains `filter` run batched (`batch = true`, the
/// default) or never batched (`batch = false`, which wins over `--batch`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BatchSpec {
    pub filter: String,
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
        config.root = root;
        Ok(config)
    }

    /// The names of the profiles the file defines.
    pub fn profile_names(&self) -> Vec<&str> {
        self.profile.keys().map(String::as_str).collect()
    }

    /// The profile called `name`, if the file defines it.
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
mod tests {
    use super::*;

    #[test]
    fn profiles_groups_and_batches_parse() {
        let text = r#"
[profile.default]
jobs = "auto"
retries = 1
leak-result = "FAIL"

[profile.ci]
jobs = 4
fail-fast = 2
timeout = "2m"
slow-timeout = "1m 30s"
junit = "target/junit.xml"
timeline = "target/timeline.html"
order = "random"
no-tests = "warn"
batch = true

[[group]]
name = "db"
filter = "db::"
max-threads = 1

[[group]]
name = "heavy"
filter = "^heavy_"
regex = true
threads-required = 2

[[batch]]
filter = "tiny"
"#;
        let config = FileConfig::parse(text, Path::new("/ws/.config/runner.toml")).unwrap();
        assert_eq!(config.profile_names(), ["ci", "default"]);
        let ci = config.profile("ci").unwrap();
        assert_eq!(ci.retries, None);
        assert_eq!(ci.jobs.as_ref().unwrap().get_ref(), &Jobs::Count(4));
        assert_eq!(ci.fail_fast, Some(2));
        assert_eq!(ci.timeout, Some(Duration::from_secs(120)));
        assert_eq!(ci.slow_timeout, Some(Duration::from_secs(90)));
        assert_eq!(ci.leak_timeout, None);
        assert_eq!(ci.junit, Some(PathBuf::from("/ws/target/junit.xml")));
        assert_eq!(ci.timeline, Some(PathBuf::from("/ws/target/timeline.html")));
        assert_eq!(ci.order, Some(OrderChoice::Random));
        assert_eq!(ci.no_tests, Some(NoTestsChoice::Warn));
        assert_eq!(ci.batch, Some(true));
        let default = config.profile("default").unwrap();
        let jobs = default.jobs.as_ref().unwrap();
        assert_eq!(jobs.get_ref(), &Jobs::Named("auto".into()));
        assert_eq!(
            default.describe("jobs", jobs),
            "/ws/.config/runner.toml:3:8: 'jobs' in [profile.default]"
        );
        assert_eq!(default.retries, Some(1));
        // Choices take the flags' names in any case, as they did before serde.
        assert_eq!(default.leak_result, Some(PassOrFail::Fail));
        assert_eq!(config.group.len(), 2);
        assert!(config.group[1].regex);
        assert!(config.batch[0].batch);
    }

    #[test]
    fn fail_fast_forms() {
        let parse = |value: &str| {
            let text = format!("[profile.p]\nfail-fast = {value}\n");
            FileConfig::parse(&text, Path::new("runner.toml"))
                .map(|config| config.profile("p").unwrap().fail_fast)
                .map_err(|e| e.to_string())
        };
        assert_eq!(parse("false"), Ok(None));
        assert_eq!(parse("true"), Ok(Some(1)));
        assert_eq!(parse("1"), Ok(Some(1)));
        assert_eq!(parse("7"), Ok(Some(7)));
        for bad in ["0", "-2", "\"yes\"", "1.5"] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.starts_with("runner.toml:2:13: invalid value for 'fail-fast' in [profile.p]: "),
                "{err}"
            );
            assert!(err.ends_with("expected true, false or a number of failures of 1 or more"));
        }
    }

    fn parse_error(text: &str) -> String {
        let err = FileConfig::parse(text, Path::new("runner.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains('\n'), "{msg}");
        msg
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let msg = parse_error("[profile.ci]\nretries = 1\nretires = 2\n");
        assert!(
            msg.starts_with("runner.toml:3:1: unknown key 'retires' in [profile.ci]; expected one of jobs, retries,"),
            "{msg}"
        );
        let msg = parse_error("[profiles.ci]\njobs = 5\n");
        assert!(
            msg.starts_with(
                "runner.toml:1:2: unknown key 'profiles'; expected one of profile, group, batch"
            ),
            "{msg}"
        );
        let msg = parse_error("[profile.ci.extra]\njobs = 5\n");
        assert!(
            msg.starts_with("runner.toml:1:13: unknown key 'extra' in [profile.ci];"),
            "{msg}"
        );
        let msg = parse_error("[[group]]\nname = \"a\"\nfilter = \"b\"\nmax-thread = 1\n");
        assert!(
            msg.starts_with("runner.toml:4:1: unknown key 'max-thread' in [[group]];"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_value_names_place_key_and_profile() {
        let cases = [
            (
                "[profile.ci]\nretries = \"many\"\n",
                "runner.toml:2:11: invalid value for 'retries' in [profile.ci]: invalid type: string \"many\", expected u32",
            ),
            (
                "[profile.ci]\njobs = true\n",
                "runner.toml:2:8: invalid value for 'jobs' in [profile.ci]: invalid type: boolean `true`, expected a number of workers or \"auto\"",
            ),
            (
                "[profile.ci]\ntimeout = \"soon\"\n",
                "runner.toml:2:11: invalid value for 'timeout' in [profile.ci]: invalid value: string \"soon\", expected a duration",
            ),
            (
                "[profile.ci]\n  leak-result = \"maybe\" # comment\n",
                "runner.toml:2:17: invalid value for 'leak-result' in [profile.ci]: invalid value: string \"maybe\", expected one of pass, fail",
            ),
            // The profile is the table above the key, not the first one in the file.
            (
                "[profile.a]\nretries = 1\n[profile.b]\nretries = -1\n",
                "runner.toml:4:11: invalid value for 'retries' in [profile.b]: invalid value: integer `-1`, expected u32",
            ),
            // Dotted keys and inline tables.
            (
                "[profile]\nci.order = 3\n",
                "runner.toml:2:12: invalid value for 'order' in [profile.ci]: invalid type: integer `3`, expected a string",
            ),
            (
                "profile.ci = { batch = 1 }\n",
                "runner.toml:1:24: invalid value for 'batch' in [profile.ci]: invalid type: integer `1`, expected a boolean",
            ),
            (
                "[[batch]]\nfilter = \"x\"\nbatch = \"no\"\n",
                "runner.toml:3:9: invalid value for 'batch' in [[batch]]: invalid type: string \"no\", expected a boolean",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_error(text), expected, "{text}");
        }
    }

    #[test]
    fn syntax_and_missing_key_errors_are_one_line_with_a_place() {
        for (text, start) in [
            ("[profile.ci\n", "runner.toml:1:"),
            ("[profile.ci]\nretries = \n", "runner.toml:2:"),
        ] {
            let msg = parse_error(text);
            assert!(msg.starts_with(start), "{text:?}: {msg}");
        }
        let msg = parse_error("[[batch]]\nfilter = \"a\"\n[[group]]\nname = \"a\"\n");
        assert_eq!(msg, "runner.toml:3:1: missing key 'filter' in [[group]]");
    }

    #[test]
    fn search_stops_at_the_workspace_root() {
        let outer = tempfile::tempdir().unwrap();
        let inner = outer.path().join("crate");
        std::fs::create_dir_all(inner.join("src")).unwrap();
        std::fs::write(outer.path().join("runner.toml"), "").unwrap();
        std::fs::write(inner.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
        // Not a workspace root: the search goes up and finds the outer file.
        assert_eq!(
            FileConfig::find(&inner.join("src")),
            Some(outer.path().join("runner.toml"))
        );
        std::fs::write(
            inner.join("Cargo.toml"),
            "[package]\nname = \"x\"\n[workspace]\n",
        )
        .unwrap();
        assert_eq!(FileConfig::find(&inner.join("src")), None);
        std::fs::create_dir_all(inner.join(".config")).unwrap();
        std::fs::write(inner.join(".config/runner.toml"), "").unwrap();
        assert_eq!(
            FileConfig::find(&inner),
            Some(inner.join(".config/runner.toml"))
        );
    }
}
