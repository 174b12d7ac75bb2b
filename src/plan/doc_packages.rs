//! Which packages' doctests a run holds: the workspace members cargo selects (`-p`,
//! `--workspace` and `--exclude`, or by default the package of the current directory or the
//! workspace's default members) whose library cargo would doctest. Each becomes a test
//! "binary" of kind `doc` (`pkg::doc/lib`), whose tests rustdoc lists and runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use cargo_metadata::{Metadata, Package, Target, TargetKind as CargoKind};

use crate::cli::CargoOptions;
use crate::model::{binary_id, TargetKind, TestBinary};

/// The doctest binaries of the packages `options` selects, sorted by id.
pub fn binaries(metadata: &Metadata, options: &CargoOptions) -> Vec<Arc<TestBinary>> {
    let chosen = Chosen::from_selection(&options.selection);
    let members = metadata.workspace_packages();
    let mut binaries: Vec<Arc<TestBinary>> = members
        .into_iter()
        .filter(|package| chosen.selects(package, metadata))
        .filter_map(|package| {
            let lib = package.targets.iter().find(|t| doctested(t))?;
            let manifest = package.manifest_path.as_std_path();
            Some(Arc::new(TestBinary {
                id: binary_id(&package.name, &TargetKind::Doc, &lib.name),
                path: manifest.to_path_buf(),
                package: Some(package.name.to_string()),
                target_name: lib.name.clone(),
                kind: TargetKind::Doc,
                cwd: manifest
                    .parent()
                    .map(|p| p.to_path_buf())
                    .unwrap_or_default(),
                env: BTreeMap::new(),
                custom_harness: false,
            }))
        })
        .collect();
    binaries.sort_by(|a, b| a.id.cmp(&b.id));
    binaries
}

/// A library cargo runs the doctests of: `doctest` not turned off, and a crate type rustdoc
/// can test (not only a `cdylib` or a `staticlib`).
fn doctested(target: &Target) -> bool {
    let testable = [CargoKind::Lib, CargoKind::RLib, CargoKind::ProcMacro];
    target.doctest && testable.iter().any(|kind| target.is_kind(kind.clone()))
}

/// The package selection of the command line, as cargo reads it.
#[derive(Debug, Default)]
struct Chosen {
    packages: Vec<String>,
    workspace: bool,
    excluded: Vec<String>,
}

impl Chosen {
    /// From cargo's own spelling of the flags (`--package A --workspace --exclude B`).
    fn from_selection(selection: &[String]) -> Self {
        let mut chosen = Chosen::default();
        let mut args = selection.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--package" | "-p" => chosen.packages.extend(args.next().cloned()),
                "--workspace" => chosen.workspace = true,
                "--exclude" => chosen.excluded.extend(args.next().cloned()),
                _ => {}
            }
        }
        chosen
    }

    fn selects(&self, package: &Package, metadata: &Metadata) -> bool {
        let named = |specs: &[String]| specs.iter().any(|spec| spec_matches(spec, &package.name));
        if self.workspace {
            !named(&self.excluded)
        } else if !self.packages.is_empty() {
            named(&self.packages)
        } else if metadata.workspace_default_members.is_available() {
            metadata.workspace_default_members.contains(&package.id)
        } else {
            true
        }
    }
}

/// Whether a package spec (`name`, `name@1.0`, `name:1.0`, a `path+file://...#name@1.0` URL,
/// or a glob such as `serde_*`) names the package called `name`.
fn spec_matches(spec: &str, name: &str) -> bool {
    if spec.contains(['*', '?']) {
        return glob_matches(spec.as_bytes(), name.as_bytes());
    }
    let spec_name = match spec.rsplit_once('#') {
        // `URL#name@version`, `URL#name`, or `URL#version` (the name is the URL's last part).
        Some((url, fragment)) => {
            let fragment_name = fragment.split(['@', ':']).next().unwrap_or(fragment);
            if fragment_name.starts_with(|c: char| c.is_ascii_digit()) {
                url.rsplit('/').next().unwrap_or(url)
            } else {
                fragment_name
            }
        }
        None => spec.split(['@', ':']).next().unwrap_or(spec),
    };
    spec_name == name
}

/// `*` and `?` globbing, as cargo's package patterns.
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob_matches(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob_matches(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob_matches(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_specs() {
        assert!(spec_matches("core", "core"));
        assert!(!spec_matches("core", "core2"));
        assert!(spec_matches("core@0.1.0", "core"));
        assert!(spec_matches("core:0.1.0", "core"));
        assert!(spec_matches("path+file:///ws/crates/core#0.1.0", "core"));
        assert!(spec_matches("path+file:///ws/crates/x#core@0.1.0", "core"));
        assert!(spec_matches("co*", "core"));
        assert!(spec_matches("c?re", "core"));
        assert!(!spec_matches("c?", "core"));
    }

    #[test]
    fn selection_flags() {
        let args: Vec<String> = ["--package", "a", "--workspace", "--exclude", "b", "--lib"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let chosen = Chosen::from_selection(&args);
        assert_eq!(chosen.packages, ["a"]);
        assert!(chosen.workspace);
        assert_eq!(chosen.excluded, ["b"]);
    }
}
