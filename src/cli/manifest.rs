//! What runner reads from cargo manifests itself: the `harness = false` keys, which
//! `cargo metadata` does not report.

use std::collections::HashSet;
use std::path::Path;

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
