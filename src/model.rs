//! What gets run: test binaries, the tests inside them, and how a test is named; the types
//! every stage shares.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::libtest;

/// Identifies one test across the run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TestId {
    pub binary_id: String,
    pub name: String,
}

impl TestId {
    pub fn new(binary_id: &str, name: &str) -> TestId {
        TestId {
            binary_id: binary_id.to_string(),
            name: name.to_string(),
        }
    }
}

impl std::fmt::Display for TestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.binary_id, self.name)
    }
}

/// The kind of cargo target a test binary was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    Lib,
    /// A proc-macro crate's unit tests.
    ProcMacro,
    Bin,
    Test,
    Bench,
    Example,
    /// A binary given with `--binary`: no cargo metadata.
    Prebuilt,
    /// A library's documentation examples, which rustdoc compiles and runs through
    /// `cargo test --doc`: no executable of their own (`path` is the package's manifest).
    Doc,
}

/// One test executable and everything needed to run a test from it as `cargo test` would.
#[derive(Debug, Clone, Serialize)]
pub struct TestBinary {
    /// Stable, human-readable id in cargo-nextest's style: `pkg`, `pkg::bin/name`, `pkg::itest`.
    pub id: String,
    pub path: PathBuf,
    pub package: Option<String>,
    pub target_name: String,
    pub kind: TargetKind,
    /// Working directory for its tests: the package root.
    pub cwd: PathBuf,
    /// Environment added on top of the runner's own.
    #[serde(skip)]
    pub env: BTreeMap<String, String>,
    /// Declared `harness = false` in the manifest.
    pub custom_harness: bool,
}

/// How a test is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invocation {
    /// `<bin> --exact NAME --nocapture`, a libtest test.
    Libtest,
    /// `<bin>` with no arguments: a `harness = false` binary run whole.
    WholeBinary,
    /// A documentation example: run with the other doctests of its package by one
    /// `cargo test --doc` (see `rustdoc`), never in a process of its own.
    Doctest,
}

/// One selected test.
#[derive(Debug, Clone)]
pub struct TestCase {
    pub binary: Arc<TestBinary>,
    pub name: String,
    pub ignored: bool,
    pub invocation: Invocation,
}

impl TestCase {
    /// `binary-id test-name`, unique across a run.
    pub fn id(&self) -> TestId {
        TestId {
            binary_id: self.binary.id.clone(),
            name: self.name.clone(),
        }
    }

    /// Arguments for running only this test.
    pub fn args(&self) -> Vec<&str> {
        match self.invocation {
            Invocation::WholeBinary | Invocation::Doctest => Vec::new(),
            Invocation::Libtest => libtest::single_test_args(&self.name, self.ignored),
        }
    }
}

/// A test binary whose tests could not be known (not listable, or not a usable file): none of
/// its tests run, the others still do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ListFailure {
    pub binary_id: String,
    pub message: String,
}

/// The binary id cargo-nextest would give a target. A package's doctests are `pkg::doc/lib`,
/// in the style of the other kinds that are not integration tests: a bare `pkg::doc` would be
/// the id of an integration test named `doc`.
pub fn binary_id(package: &str, kind: &TargetKind, target_name: &str) -> String {
    match kind {
        TargetKind::Lib | TargetKind::ProcMacro => package.to_string(),
        TargetKind::Test => format!("{package}::{target_name}"),
        TargetKind::Bin => format!("{package}::bin/{target_name}"),
        TargetKind::Bench => format!("{package}::bench/{target_name}"),
        TargetKind::Example => format!("{package}::example/{target_name}"),
        TargetKind::Prebuilt => target_name.to_string(),
        TargetKind::Doc => format!("{package}::doc/{target_name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_nextest() {
        assert_eq!(binary_id("core", &TargetKind::Lib, "core"), "core");
        assert_eq!(binary_id("core", &TargetKind::Test, "api"), "core::api");
        assert_eq!(binary_id("core", &TargetKind::Bin, "cli"), "core::bin/cli");
        assert_eq!(
            binary_id("core", &TargetKind::Doc, "core"),
            "core::doc/core"
        );
    }

    #[test]
    fn args_for_ignored_and_whole_binaries() {
        let binary = Arc::new(TestBinary {
            id: "p".into(),
            path: "/x".into(),
            package: None,
            target_name: "p".into(),
            kind: TargetKind::Lib,
            cwd: "/".into(),
            env: BTreeMap::new(),
            custom_harness: false,
        });
        let mut case = TestCase {
            binary,
            name: "a::b".into(),
            ignored: true,
            invocation: Invocation::Libtest,
        };
        assert_eq!(case.args(), ["--exact", "a::b", "--nocapture", "--ignored"]);
        case.invocation = Invocation::WholeBinary;
        assert!(case.args().is_empty());
    }
}
