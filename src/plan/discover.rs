//! Finds test binaries: builds them with `cargo test --no-run` and reads cargo's JSON messages,
//! or takes prebuilt paths given with `--binary`.
//!
//! For each binary it also gathers the environment `cargo test` would give its tests, so that a
//! test run by us sees the same `CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, `CARGO_BIN_EXE_*` and
//! `OUT_DIR` as under cargo.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::cli;
use crate::cli::CargoOptions;
use crate::model::{binary_id, ListFailure, TargetKind, TestBinary};

/// Why discovery failed; the caller picks the exit code from it.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("the build failed (cargo exited with {status}); fix the errors above and run again")]
    BuildFailed {
        status: String,
        /// The signal that killed cargo, if one did (Ctrl-C reaches cargo too).
        signal: Option<i32>,
    },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

#[derive(Debug, Default)]
pub struct Discovered {
    pub binaries: Vec<Arc<TestBinary>>,
    /// Given binaries that cannot be run, with why; the others still run.
    pub unusable: Vec<ListFailure>,
    /// Cargo's target directory, where the runner keeps its own files.
    pub target_dir: Option<PathBuf>,
}

/// Build with cargo and return the test binaries it produced, in build order.
pub fn from_cargo(args: &CargoOptions) -> Result<Discovered, DiscoverError> {
    let cargo = cargo_command();
    // `cargo metadata --no-deps` takes no build lock: ask it while the build runs.
    let metadata = {
        let (cargo, args) = (cargo.clone(), args.clone());
        std::thread::spawn(move || cargo_metadata(&cargo, &args))
    };
    let mut command = Command::new(&cargo);
    command
        .args([
            "test",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .args(&args.selection)
        .args(&args.build)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command
        .spawn()
        .with_context(|| format!("could not start `{cargo}`; is cargo installed and on PATH?"))?;
    let stdout = child.stdout.take().expect("stdout is piped");

    let mut test_artifacts = Vec::new();
    let mut bin_exes: HashMap<String, Vec<(String, PathBuf)>> = HashMap::new();
    let mut out_dirs: HashMap<String, PathBuf> = HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's output")?;
        let Ok(message) = serde_json::from_str::<CargoMessage>(&line) else {
            continue;
        };
        match message.reason.as_str() {
            "compiler-artifact" => {
                let (Some(target), Some(profile), Some(exe)) =
                    (&message.target, &message.profile, &message.executable)
                else {
                    continue;
                };
                let package_id = message.package_id.clone().unwrap_or_default();
                if profile.test {
                    test_artifacts.push(message);
                } else if target.kind.iter().any(|k| k == "bin") {
                    bin_exes
                        .entry(package_id)
                        .or_default()
                        .push((target.name.clone(), exe.clone()));
                }
            }
            "build-script-executed" => {
                if let (Some(id), Some(out_dir)) = (message.package_id, message.out_dir) {
                    out_dirs.insert(id, out_dir);
                }
            }
            _ => {}
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        return Err(DiscoverError::BuildFailed {
            status: status.to_string(),
            signal: status.signal(),
        });
    }

    let metadata = metadata
        .join()
        .map_err(|_| anyhow::anyhow!("the `cargo metadata` thread panicked"))??;
    let packages: HashMap<&str, &MetadataPackage> = metadata
        .packages
        .iter()
        .map(|p| (p.id.as_str(), p))
        .collect();
    let mut harness_cache: HashMap<PathBuf, HashSet<String>> = HashMap::new();

    let mut binaries = Vec::new();
    for artifact in test_artifacts {
        let (Some(target), Some(exe), Some(manifest_path)) =
            (artifact.target, artifact.executable, artifact.manifest_path)
        else {
            continue;
        };
        let package_id = artifact.package_id.unwrap_or_default();
        let package = packages.get(package_id.as_str()).copied();
        let package_name = package
            .map(|p| p.name.clone())
            .unwrap_or_else(|| target.name.clone());
        let kind = target_kind(&target.kind);
        let cwd = manifest_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let no_harness = harness_cache
            .entry(manifest_path.clone())
            .or_insert_with(|| cli::targets_without_harness(&manifest_path));

        let mut env = BTreeMap::new();
        env.insert("CARGO".into(), cargo.clone());
        env.insert("CARGO_MANIFEST_DIR".into(), display(&cwd));
        env.insert("CARGO_MANIFEST_PATH".into(), display(&manifest_path));
        env.insert("CARGO_CRATE_NAME".into(), target.name.replace('-', "_"));
        env.insert(
            "CARGO_TARGET_TMPDIR".into(),
            display(&metadata.target_directory.join("tmp")),
        );
        if let Some(package) = package {
            package.add_env(&mut env);
        }
        if let Some(out_dir) = out_dirs.get(&package_id) {
            env.insert("OUT_DIR".into(), display(out_dir));
        }
        for (name, path) in bin_exes.get(&package_id).into_iter().flatten() {
            env.insert(format!("CARGO_BIN_EXE_{name}"), display(path));
        }
        if let Some(dir) = exe.parent() {
            env.insert("LD_LIBRARY_PATH".into(), library_path(dir));
        }

        binaries.push(Arc::new(TestBinary {
            id: binary_id(&package_name, &kind, &target.name),
            custom_harness: no_harness.contains(&target.name),
            path: exe,
            package: Some(package_name),
            target_name: target.name,
            kind,
            cwd,
            env,
        }));
    }
    binaries.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Discovered {
        binaries,
        unusable: Vec::new(),
        target_dir: Some(metadata.target_directory),
    })
}

/// Prebuilt binaries: run from the current directory, with no cargo environment.
pub fn from_paths(paths: &[PathBuf]) -> Result<Discovered, DiscoverError> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let mut binaries = Vec::new();
    let mut unusable = Vec::new();
    let mut seen = HashSet::new();
    for given in paths {
        let path = match check_executable(given) {
            Ok(path) => path,
            Err(why) => {
                unusable.push(ListFailure {
                    binary_id: given.display().to_string(),
                    message: why,
                });
                continue;
            }
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut id = binary_id("", &TargetKind::Prebuilt, &name);
        let mut n = 2;
        while !seen.insert(id.clone()) {
            id = format!("{name}#{n}");
            n += 1;
        }
        binaries.push(Arc::new(TestBinary {
            id,
            path,
            package: None,
            target_name: name,
            kind: TargetKind::Prebuilt,
            cwd: cwd.clone(),
            env: BTreeMap::new(),
            custom_harness: false,
        }));
    }
    Ok(Discovered {
        binaries,
        unusable,
        target_dir: None,
    })
}

fn check_executable(path: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        format!("test binary '{shown}' cannot be read ({e}); check the path given to --binary")
    })?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(format!(
            "test binary '{shown}' is not an executable file; give --binary the path of a built test binary"
        ));
    }
    path.canonicalize()
        .map_err(|e| format!("test binary '{shown}' cannot be resolved: {e}"))
}

/// The cargo to call: the one that ran us (`cargo run`) or `cargo` on PATH.
fn cargo_command() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

fn cargo_metadata(cargo: &str, args: &CargoOptions) -> Result<Metadata> {
    let mut command = Command::new(cargo);
    command.args(["metadata", "--format-version=1", "--no-deps"]);
    if let Some(path) = &args.manifest_path {
        command.arg("--manifest-path").arg(path);
    }
    if args.locked {
        command.arg("--locked");
    }
    if args.offline {
        command.arg("--offline");
    }
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .context("running `cargo metadata`")?;
    anyhow::ensure!(
        output.status.success(),
        "`cargo metadata` failed ({})",
        output.status
    );
    let mut metadata: Metadata =
        serde_json::from_slice(&output.stdout).context("reading `cargo metadata` output")?;
    if let Some(dir) = &args.target_dir {
        metadata.target_directory = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
    }
    Ok(metadata)
}

fn target_kind(kinds: &[String]) -> TargetKind {
    let has = |k: &str| kinds.iter().any(|kind| kind == k);
    if has("test") {
        TargetKind::Test
    } else if has("bin") {
        TargetKind::Bin
    } else if has("bench") {
        TargetKind::Bench
    } else if has("example") {
        TargetKind::Example
    } else {
        TargetKind::Lib
    }
}

/// cargo puts the deps directory on the dynamic library path so dylib dependencies load.
fn library_path(exe_dir: &Path) -> String {
    let mut parts = vec![exe_dir.to_path_buf()];
    if let Some(parent) = exe_dir.parent() {
        parts.push(parent.to_path_buf());
    }
    if let Some(existing) = std::env::var_os("LD_LIBRARY_PATH") {
        parts.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(parts)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[derive(Debug, Deserialize)]
struct CargoMessage {
    reason: String,
    package_id: Option<String>,
    manifest_path: Option<PathBuf>,
    target: Option<CargoTarget>,
    profile: Option<CargoProfile>,
    executable: Option<PathBuf>,
    out_dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct CargoTarget {
    kind: Vec<String>,
    name: String,
}

#[derive(Debug, Deserialize)]
struct CargoProfile {
    test: bool,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    packages: Vec<MetadataPackage>,
    target_directory: PathBuf,
}

#[derive(Debug, Deserialize)]
struct MetadataPackage {
    id: String,
    name: String,
    version: String,
    #[serde(default)]
    authors: Vec<String>,
    description: Option<String>,
    homepage: Option<String>,
    repository: Option<String>,
    license: Option<String>,
    license_file: Option<String>,
    rust_version: Option<String>,
    readme: Option<String>,
}

impl MetadataPackage {
    /// The `CARGO_PKG_*` variables cargo sets for a package.
    fn add_env(&self, env: &mut BTreeMap<String, String>) {
        let (major, minor, patch, pre) = split_version(&self.version);
        let mut set = |key: &str, value: &str| {
            env.insert(format!("CARGO_PKG_{key}"), value.to_string());
        };
        set("NAME", &self.name);
        set("VERSION", &self.version);
        set("VERSION_MAJOR", major);
        set("VERSION_MINOR", minor);
        set("VERSION_PATCH", patch);
        set("VERSION_PRE", pre);
        set("AUTHORS", &self.authors.join(":"));
        let optional = [
            ("DESCRIPTION", &self.description),
            ("HOMEPAGE", &self.homepage),
            ("REPOSITORY", &self.repository),
            ("LICENSE", &self.license),
            ("LICENSE_FILE", &self.license_file),
            ("RUST_VERSION", &self.rust_version),
            ("README", &self.readme),
        ];
        for (key, value) in optional {
            set(key, value.as_deref().unwrap_or(""));
        }
    }
}

/// `1.2.3-beta.1+build` → ("1", "2", "3", "beta.1").
fn split_version(version: &str) -> (&str, &str, &str, &str) {
    let version = version.split('+').next().unwrap_or(version);
    let (core, pre) = version.split_once('-').unwrap_or((version, ""));
    let mut parts = core.splitn(3, '.');
    let major = parts.next().unwrap_or("");
    let minor = parts.next().unwrap_or("");
    let patch = parts.next().unwrap_or("");
    (major, minor, patch, pre)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parts() {
        assert_eq!(split_version("1.2.3"), ("1", "2", "3", ""));
        assert_eq!(
            split_version("0.10.0-beta.1+abc"),
            ("0", "10", "0", "beta.1")
        );
    }

    #[test]
    fn missing_binary_is_one_clear_line() {
        let found = from_paths(&["/nonexistent/test-bin".into(), "/bin/sh".into()]).unwrap();
        assert_eq!(found.binaries.len(), 1);
        let failure = &found.unusable[0];
        assert_eq!(failure.binary_id, "/nonexistent/test-bin");
        let why = &failure.message;
        assert!(why.contains("/nonexistent/test-bin") && !why.contains('\n'));
    }
}
