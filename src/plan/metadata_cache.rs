//! `cargo metadata`'s answer kept from an earlier run. `cargo test` never asks for the
//! workspace's metadata; the runner needs it for the environment of each test (`CARGO_PKG_*`),
//! the target directory and the doctests' packages. With `--no-deps` the answer depends only
//! on the workspace's manifests, so while each of them is the same file (size, modification
//! time, inode) and the command line asks the same (manifest, target directory, `--locked`,
//! `--offline`, working directory), the kept answer is used and no second cargo runs beside
//! the build.
//!
//! It is kept in `target/runner/metadata-<hash>.json`, one file per command line (workspaces
//! may share a target directory through `CARGO_TARGET_DIR`). The target directory is where the build put the
//! test binaries (or the one `--target-dir` names), so the kept answer is found after the build
//! and checked to name that directory; a test binary of a package the answer does not know (a
//! new member of the workspace) means asking cargo again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use cargo_metadata::camino::Utf8PathBuf;
use cargo_metadata::{Metadata, PackageId};
use serde::{Deserialize, Serialize};

use crate::cli::CargoOptions;
use crate::files;
use crate::files::Identity;

/// Bumped when what the file holds changes meaning.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Kept {
    version: u32,
    /// What the command line asked, as [`invocation`] says it.
    invocation: String,
    /// Every manifest the answer came from, as it was then.
    manifests: Vec<(PathBuf, Identity)>,
    metadata: Metadata,
}

/// The workspace's metadata: the kept answer when it still holds for the test binaries the
/// build reported (`built`: each one's path and package), else `ask`'s (cargo's), kept for
/// the next run. `ask` is called at most once.
pub fn metadata(
    args: &CargoOptions,
    built: &[(&Utf8PathBuf, &PackageId)],
    ask: impl FnOnce() -> Result<Metadata>,
) -> Result<Metadata> {
    let invocation = invocation(args);
    for dir in target_dirs(args, built) {
        let path = path_in(&dir, &invocation);
        if let Some(kept) = load(&path).filter(|kept| holds(kept, &invocation, &dir, built)) {
            return Ok(kept.metadata);
        }
    }
    let metadata = ask()?;
    save(&metadata, invocation);
    Ok(metadata)
}

/// The file of one command line's answer. The hash only spreads command lines over files: the
/// file says whose answer it holds.
fn path_in(target_dir: &Path, invocation: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    invocation.hash(&mut hasher);
    let name = format!("metadata-{:016x}.json", hasher.finish());
    target_dir.join("runner").join(name)
}

/// What of the command line changes the answer, or where it is looked for.
fn invocation(args: &CargoOptions) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    format!(
        "{:?} {:?} {} {} {cwd:?}",
        args.manifest_path, args.target_dir, args.locked, args.offline
    )
}

/// Where the kept answer may be: the directory `--target-dir` names, else the target directory
/// above a test binary (`<target>/<profile>/deps/<exe>`, or `<target>/<triple>/<profile>/...`).
fn target_dirs(args: &CargoOptions, built: &[(&Utf8PathBuf, &PackageId)]) -> Vec<PathBuf> {
    if let Some(dir) = &args.target_dir {
        return vec![std::path::absolute(dir).unwrap_or_else(|_| dir.clone())];
    }
    let Some((exe, _)) = built.first() else {
        return Vec::new();
    };
    let ancestors: Vec<&Path> = exe.as_std_path().ancestors().collect();
    [3, 4]
        .iter()
        .filter_map(|&n| ancestors.get(n).map(|dir| dir.to_path_buf()))
        .collect()
}

fn load(path: &Path) -> Option<Kept> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice::<Kept>(&bytes)
        .ok()
        .filter(|kept| kept.version == VERSION)
}

/// Whether a kept answer holds now, for binaries found under `dir`.
fn holds(kept: &Kept, invocation: &str, dir: &Path, built: &[(&Utf8PathBuf, &PackageId)]) -> bool {
    let known: HashSet<&PackageId> = kept.metadata.packages.iter().map(|p| &p.id).collect();
    kept.invocation == invocation
        && kept.metadata.target_directory.as_std_path() == dir
        && kept
            .manifests
            .iter()
            .all(|(path, identity)| Identity::of(path).as_ref() == Some(identity))
        && built.iter().all(|(_, package)| known.contains(package))
}

/// Keep cargo's answer; failing to only means asking again next time.
fn save(metadata: &Metadata, invocation: String) {
    let root = metadata.workspace_root.join("Cargo.toml");
    let mut paths: Vec<PathBuf> = metadata
        .packages
        .iter()
        .map(|p| p.manifest_path.clone().into_std_path_buf())
        .collect();
    paths.push(root.into_std_path_buf());
    paths.sort();
    paths.dedup();
    let manifests: Option<Vec<(PathBuf, Identity)>> = paths
        .into_iter()
        .map(|path| Identity::of(&path).map(|identity| (path, identity)))
        .collect();
    let Some(manifests) = manifests else { return };
    let kept = Kept {
        version: VERSION,
        invocation,
        manifests,
        metadata: metadata.clone(),
    };
    let path = path_in(metadata.target_directory.as_std_path(), &kept.invocation);
    let _ = files::write_atomically(&path, |out| {
        serde_json::to_writer(out, &kept)?;
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workspace of one package, `p`, in `dir`, and what `cargo metadata` would say of it.
    fn workspace(dir: &Path) -> Metadata {
        let manifest = dir.join("Cargo.toml");
        std::fs::write(&manifest, "[package]\nname = \"p\"\n").unwrap();
        let json = serde_json::json!({
            "packages": [{
                "name": "p", "version": "0.1.0", "id": "path+file:///p#0.1.0",
                "dependencies": [], "targets": [], "features": {},
                "manifest_path": manifest, "authors": [], "categories": [], "keywords": [],
                "edition": "2021", "source": null, "license": null, "license_file": null,
                "description": null, "publish": null, "readme": null, "repository": null,
                "homepage": null, "documentation": null, "links": null, "rust_version": null,
                "metadata": null
            }],
            "workspace_members": ["path+file:///p#0.1.0"],
            "workspace_default_members": ["path+file:///p#0.1.0"],
            "resolve": null,
            "target_directory": dir.join("target"),
            "version": 1,
            "workspace_root": dir,
            "metadata": null
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn cargo_is_asked_once_until_a_manifest_changes() {
        let dir = tempfile::tempdir().unwrap();
        let answer = workspace(dir.path());
        let args = CargoOptions {
            target_dir: Some(dir.path().join("target")),
            ..CargoOptions::default()
        };
        let package = answer.packages[0].id.clone();
        let exe = Utf8PathBuf::from_path_buf(dir.path().join("target/debug/deps/p-1")).unwrap();
        let built = [(&exe, &package)];
        let asked = std::cell::Cell::new(0);
        let ask = || {
            asked.set(asked.get() + 1);
            Ok(answer.clone())
        };
        metadata(&args, &built, ask).unwrap();
        metadata(&args, &built, ask).unwrap();
        assert_eq!(asked.get(), 1, "the second run uses the kept answer");
        // Another package's binary: a member the kept answer does not know.
        let other = PackageId {
            repr: "path+file:///q#0.1.0".into(),
        };
        metadata(&args, &[(&exe, &other)], ask).unwrap();
        assert_eq!(asked.get(), 2);
        // An edited manifest.
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "[package]\nname = \"p\"\nversion = \"0.2.0\"\n").unwrap();
        metadata(&args, &built, ask).unwrap();
        assert_eq!(asked.get(), 3);
    }
}
