//! TOML files the runner reads (the one home of `toml`): its own `.config/runner.toml`
//! (profiles, test groups, batched binaries), and the `harness = false` keys of cargo manifests,
//! which `cargo metadata` does not report.
//!
//! Values stay as written (strings, numbers); [`crate::cli`] checks and converts them with
//! the same parsers as the command line, so a setting means the same wherever it comes from.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// Where the runner looks for its config file, in each directory from the workspace up.
const CANDIDATES: [&str; 2] = [".config/runner.toml", "runner.toml"];

/// `.config/runner.toml`, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    /// `[profile.NAME]` tables, values as written: [`Profile`] checks them.
    #[serde(default)]
    profile: BTreeMap<String, BTreeMap<String, Spanned<toml::Value>>>,
    /// `[[group]]` tables: tests that share a concurrency limit.
    #[serde(default)]
    pub group: Vec<GroupSpec>,
    /// `[[batch]]` tables: binaries whose tests run many per process.
    #[serde(default)]
    pub batch: Vec<BatchSpec>,
    /// Where it was read from, to name places in errors and to resolve relative paths.
    #[serde(skip)]
    source: Option<(PathBuf, String)>,
}

/// The keys a `[profile.NAME]` table may hold.
const PROFILE_KEYS: [&str; 14] = [
    "jobs",
    "retries",
    "timeout",
    "slow-timeout",
    "timeout-grace",
    "leak-timeout",
    "leak-result",
    "flaky-result",
    "list-timeout",
    "fail-fast",
    "junit",
    "order",
    "no-tests",
    "batch",
];

/// One profile's settings, each with the place it was written, so that a bad value is reported
/// as `file:line:column: ... 'key' in [profile.NAME]`.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    name: String,
    values: BTreeMap<String, (toml::Value, String)>,
    /// The workspace root the file belongs to: relative paths are resolved against it.
    root: Option<PathBuf>,
}

impl Profile {
    fn error(&self, key: &str, place: &str, why: &str) -> FileConfigError {
        FileConfigError(format!(
            "{place}: invalid value for '{key}' in [profile.{}]: {why}",
            self.name
        ))
    }

    /// A string setting (durations, choices).
    pub fn text(&self, key: &str) -> Result<Option<Located>, FileConfigError> {
        match self.values.get(key) {
            None => Ok(None),
            Some((toml::Value::String(s), place)) => Ok(Some(self.located(key, s, place))),
            Some((other, place)) => Err(self.error(
                key,
                place,
                &format!("expected a string, found {}", other.type_str()),
            )),
        }
    }

    /// A whole number of 0 or more.
    pub fn count(&self, key: &str) -> Result<Option<u32>, FileConfigError> {
        match self.values.get(key) {
            None => Ok(None),
            Some((toml::Value::Integer(n), place)) => u32::try_from(*n)
                .map(Some)
                .map_err(|_| self.error(key, place, &format!("{n} is not a count of 0 or more"))),
            Some((other, place)) => Err(self.error(
                key,
                place,
                &format!("expected a whole number, found {}", other.type_str()),
            )),
        }
    }

    pub fn flag(&self, key: &str) -> Result<Option<bool>, FileConfigError> {
        match self.values.get(key) {
            None => Ok(None),
            Some((toml::Value::Boolean(b), _)) => Ok(Some(*b)),
            Some((other, place)) => Err(self.error(
                key,
                place,
                &format!("expected true or false, found {}", other.type_str()),
            )),
        }
    }

    /// `jobs = 4` or `jobs = "auto"`, as the text `-n` would take.
    pub fn jobs(&self) -> Result<Option<Located>, FileConfigError> {
        match self.values.get("jobs") {
            Some((toml::Value::Integer(n), place)) => {
                Ok(Some(self.located("jobs", &n.to_string(), place)))
            }
            _ => self.text("jobs"),
        }
    }

    /// `fail-fast = true` (stop after 1 failure), `false`, or a number N (after N failures).
    pub fn fail_fast(&self) -> Result<Option<usize>, FileConfigError> {
        match self.values.get("fail-fast") {
            None | Some((toml::Value::Boolean(false), _)) => Ok(None),
            Some((toml::Value::Boolean(true), _)) => Ok(Some(1)),
            Some((toml::Value::Integer(n), place)) if *n >= 1 => usize::try_from(*n)
                .map(Some)
                .map_err(|_| self.error("fail-fast", place, "too large")),
            Some((other, place)) => Err(self.error(
                "fail-fast",
                place,
                &format!(
                    "expected true, false or a number of failures of 1 or more, found {other}"
                ),
            )),
        }
    }

    /// A path, relative to the workspace root when not absolute.
    pub fn path(&self, key: &str) -> Result<Option<PathBuf>, FileConfigError> {
        Ok(self.text(key)?.map(|located| match &self.root {
            Some(root) => root.join(&located.value),
            None => PathBuf::from(&located.value),
        }))
    }

    fn located(&self, key: &str, value: &str, place: &str) -> Located {
        Located {
            value: value.to_string(),
            describe: format!("{place}: '{key}' in [profile.{}]", self.name),
        }
    }
}

/// A profile value with the words that say where it came from.
#[derive(Debug, Clone)]
pub struct Located {
    pub value: String,
    /// `file:line:col: 'key' in [profile.NAME]`.
    pub describe: String,
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

    fn parse(text: &str, path: &Path) -> Result<FileConfig, FileConfigError> {
        let mut config: FileConfig = toml::from_str(text).map_err(|e| {
            let place = place(path, text, e.span().map_or(usize::MAX, |s| s.start));
            let message = e.message().trim().replace('\n', " ");
            FileConfigError(format!("{place}: {message}"))
        })?;
        for (name, values) in &config.profile {
            if let Some((key, value)) = values
                .iter()
                .find(|(key, _)| !PROFILE_KEYS.contains(&key.as_str()))
            {
                return Err(FileConfigError(format!(
                    "{}: unknown key '{key}' in [profile.{name}]; known keys: {}",
                    place(path, text, value.span().start),
                    PROFILE_KEYS.join(", ")
                )));
            }
        }
        config.source = Some((path.to_path_buf(), text.to_string()));
        Ok(config)
    }

    /// The names of the profiles the file defines.
    pub fn profile_names(&self) -> Vec<&str> {
        self.profile.keys().map(String::as_str).collect()
    }

    /// The profile called `name`, if the file defines it.
    pub fn profile(&self, name: &str) -> Option<Profile> {
        let values = self.profile.get(name)?;
        let (path, text) = self.source.clone().unwrap_or_default();
        // `.config/runner.toml` belongs to the directory above `.config`.
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let root = if dir.file_name().is_some_and(|n| n == ".config") {
            dir.parent().map(Path::to_path_buf)
        } else {
            Some(dir)
        };
        Some(Profile {
            name: name.to_string(),
            values: values
                .iter()
                .map(|(key, value)| {
                    let at = place(&path, &text, value.span().start);
                    (key.clone(), (value.get_ref().clone(), at))
                })
                .collect(),
            root,
        })
    }
}

/// `file:line:column` of a byte offset.
fn place(path: &Path, text: &str, offset: usize) -> String {
    if offset > text.len() {
        return path.display().to_string();
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{}:{line}:{column}", path.display())
}

fn is_workspace_root(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|manifest| manifest.contains_key("workspace"))
}

/// Names of the targets a cargo manifest declares with `harness = false`.
pub fn targets_without_harness(manifest_path: &Path) -> HashSet<String> {
    let Ok(text) = std::fs::read_to_string(manifest_path) else {
        return HashSet::new();
    };
    let Ok(manifest) = text.parse::<toml::Table>() else {
        return HashSet::new();
    };
    let mut names = HashSet::new();
    for section in ["test", "bench", "bin", "example"] {
        let Some(targets) = manifest.get(section).and_then(|t| t.as_array()) else {
            continue;
        };
        for target in targets {
            let harness = target.get("harness").and_then(|h| h.as_bool());
            if harness == Some(false) {
                if let Some(name) = target.get("name").and_then(|n| n.as_str()) {
                    names.insert(name.to_string());
                }
            }
        }
    }
    if let Some(lib) = manifest.get("lib") {
        if lib.get("harness").and_then(|h| h.as_bool()) == Some(false) {
            let package_name = manifest
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str())
                .unwrap_or_default();
            let name = lib
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| package_name.replace('-', "_"));
            names.insert(name);
        }
    }
    names
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

[profile.ci]
jobs = 4
fail-fast = 2
timeout = "2m"
junit = "target/junit.xml"

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
        let ci = config.profile("ci").unwrap();
        assert_eq!(ci.count("retries").unwrap(), None);
        assert_eq!(ci.jobs().unwrap().unwrap().value, "4");
        assert_eq!(ci.fail_fast().unwrap(), Some(2));
        assert_eq!(
            ci.path("junit").unwrap(),
            Some(PathBuf::from("/ws/target/junit.xml"))
        );
        let default = config.profile("default").unwrap();
        assert_eq!(default.jobs().unwrap().unwrap().value, "auto");
        assert_eq!(config.group.len(), 2);
        assert!(config.group[1].regex);
        assert!(config.batch[0].batch);
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "[profile.ci]\nretries = 1\nretires = 2\n";
        let err = FileConfig::parse(text, Path::new(".config/runner.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with(".config/runner.toml:3:"), "{msg}");
        assert!(
            msg.contains("unknown key 'retires' in [profile.ci]"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn wrong_type_names_place_key_and_profile() {
        let text = "[profile.ci]\nretries = \"many\"\nfail-fast = \"yes\"\n";
        let config = FileConfig::parse(text, Path::new("runner.toml")).unwrap();
        let ci = config.profile("ci").unwrap();
        let err = ci.count("retries").unwrap_err().to_string();
        assert_eq!(
            err,
            "runner.toml:2:11: invalid value for 'retries' in [profile.ci]: expected a whole number, found string"
        );
        let err = ci.fail_fast().unwrap_err().to_string();
        assert!(
            err.starts_with("runner.toml:3:13: invalid value for 'fail-fast'"),
            "{err}"
        );
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

    #[test]
    fn harness_false_targets_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(
            &manifest,
            "[package]\nname = \"a-b\"\n[[test]]\nname = \"custom\"\nharness = false\n\
             [[test]]\nname = \"normal\"\n[lib]\nharness = false\n",
        )
        .unwrap();
        let names = targets_without_harness(&manifest);
        assert!(names.contains("custom"));
        assert!(names.contains("a_b"));
        assert!(!names.contains("normal"));
    }
}
