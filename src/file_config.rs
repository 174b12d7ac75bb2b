//! TOML files the runner reads (the one home of `toml`): its own `.config/runner.toml`
//! (profiles, test groups, batched binaries), and the `harness = false` keys of cargo manifests,
//! which `cargo metadata` does not report.
//!
//! Values stay as written (strings, numbers); [`crate::config`] checks and converts them with
//! the same parsers as the command line, so a setting means the same wherever it comes from.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where the runner looks for its config file, in each directory from the workspace up.
const CANDIDATES: [&str; 2] = [".config/runner.toml", "runner.toml"];

/// `.config/runner.toml`, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    #[serde(default)]
    pub profile: BTreeMap<String, Profile>,
    /// `[[group]]` tables: tests that share a concurrency limit.
    #[serde(default)]
    pub group: Vec<GroupSpec>,
    /// `[[batch]]` tables: binaries whose tests run many per process.
    #[serde(default)]
    pub batch: Vec<BatchSpec>,
}

/// One `[profile.NAME]` table. Every key is optional; a missing key falls back to the
/// built-in default. Flags and environment variables override these.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Profile {
    pub jobs: Option<JobsValue>,
    pub retries: Option<u32>,
    pub timeout: Option<String>,
    pub slow_timeout: Option<String>,
    pub timeout_grace: Option<String>,
    pub leak_timeout: Option<String>,
    pub leak_result: Option<String>,
    pub flaky_result: Option<String>,
    pub list_timeout: Option<String>,
    /// `true` is `-x`; a number is `--maxfail N`.
    pub fail_fast: Option<FailFast>,
    pub junit: Option<PathBuf>,
    pub order: Option<String>,
    pub no_tests: Option<String>,
    /// Run every binary batched (`--batch`).
    pub batch: Option<bool>,
}

/// `jobs = 4` or `jobs = "auto"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum JobsValue {
    Number(i64),
    Text(String),
}

impl std::fmt::Display for JobsValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobsValue::Number(n) => write!(f, "{n}"),
            JobsValue::Text(s) => write!(f, "{s}"),
        }
    }
}

/// `fail-fast = true` or `fail-fast = 3`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum FailFast {
    Enabled(bool),
    After(usize),
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
        toml::from_str(text).map_err(|e| {
            let place = match e.span() {
                Some(span) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("{}:{line}:{column}", path.display())
                }
                None => path.display().to_string(),
            };
            let message = e.message().trim().replace('\n', " ");
            FileConfigError(format!("{place}: {message}"))
        })
    }
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
        let config = FileConfig::parse(text, Path::new("runner.toml")).unwrap();
        assert_eq!(config.profile["ci"].retries, None);
        assert!(matches!(
            config.profile["ci"].jobs,
            Some(JobsValue::Number(4))
        ));
        assert!(matches!(
            config.profile["ci"].fail_fast,
            Some(FailFast::After(2))
        ));
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
        assert!(msg.contains("retires"), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn wrong_type_is_reported() {
        let text = "[profile.ci]\nretries = \"many\"\n";
        let err = FileConfig::parse(text, Path::new("runner.toml")).unwrap_err();
        assert!(err.to_string().starts_with("runner.toml:2:"), "{err}");
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
