//! Finds test binaries: builds them with `cargo test --no-run` and reads cargo's JSON messages
//! (with `doc_packages`, the home of `cargo_metadata`), or takes prebuilt paths given with
//! `--binary`. With `--doc`, the selected libraries' doctests join them as binaries of their own
//! (`--doc-only`: alone); the build has made the libraries they need.
//!
//! For each binary it also gathers the environment `cargo test` would give its tests, so that a
//! test run by us sees the same `CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, `CARGO_BIN_EXE_*` and
//! `OUT_DIR` as under cargo.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, ExitStatus, Stdio};
use std::sync::Arc;

use anyhow::{Context, Result};
use cargo_metadata::camino::Utf8PathBuf;
use cargo_metadata::{
    Artifact, Message, Metadata, MetadataCommand, Package, PackageId, TargetKind as CargoKind,
};

use crate::cli;
use crate::cli::{CargoOptions, DocTests};
use crate::filter::KnownNames;
use crate::model::{binary_id, TargetKind, TestBinary};
use crate::phases::{self, Phase};
use crate::plan::{doc_packages, metadata_cache};

mod environment;
mod prebuilt;
mod rustup;

use environment::package_env;
pub(super) use environment::{is_dynamic_library, library_path};
pub use prebuilt::from_paths;
pub use rustup::toolchain;

/// Why discovery failed; the caller picks the exit code from it.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("the build failed (cargo exited with {status}); fix the errors above and run again")]
    BuildFailed {
        status: String,
        /// The signal that killed cargo, if one did (Ctrl-C reaches cargo too).
        signal: Option<i32>,
    },
    /// The command line asked for something that is not there: a manifest cargo cannot read,
    /// a package not in the workspace (cargo has said which, once), or a `--binary` that cannot
    /// run (the message says why).
    #[error("{}", .0.as_deref().unwrap_or("cargo could not do what the command line asked (see above)"))]
    Usage(Option<String>),
    /// An archive (`--archive-file`) that cannot be read or unpacked.
    #[error("{0:#}")]
    Archive(anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

#[derive(Debug, Default)]
pub struct Discovered {
    pub binaries: Vec<Arc<TestBinary>>,
    /// The workspace's package and target names, against which filter expressions are checked.
    pub names: KnownNames,
    /// Cargo's target directory, where the runner keeps its own files.
    pub target_dir: Option<PathBuf>,
    /// The workspace's root, when cargo built the binaries: what an archive's paths are
    /// relative to.
    pub workspace_root: Option<PathBuf>,
    /// The directory an archive was unpacked into, when it is a temporary one: removed when
    /// the run (which holds it) ends.
    pub unpacked: Option<tempfile::TempDir>,
    /// What the tests may load at run time besides their binaries: the dynamic libraries cargo
    /// built (`dylib`, `cdylib`; not proc-macros, which only the compiler loads) and the
    /// directories build scripts asked to link from (`cargo:rustc-link-search`). What an
    /// archive packs of them is what lies in the target directory.
    pub libraries: Vec<PathBuf>,
    /// Binaries (by path) whose listing already failed in this run, and why: tests that ran
    /// while cargo built (`session::overlap`) listed them; listing again would wait out a
    /// hanging binary's timeout a second time.
    pub failed_listings: HashMap<PathBuf, String>,
}

/// Build with cargo and return the test binaries it produced, sorted by id.
pub fn from_cargo(args: &CargoOptions) -> Result<Discovered, DiscoverError> {
    let cargo = cargo_command();
    let (child, stdout) = spawn_build(&cargo, args)?;
    let build = Build::read(BufReader::new(stdout))?;
    let status = build.exit_status(child)?;
    conclude(&cargo, args, status, build)
}

/// `cargo test --no-run`, and its JSON messages (on a pipe). rustup's proxy is skipped when
/// it is known where it leads (see `rustup`).
pub(super) fn spawn_build(
    cargo: &str,
    args: &CargoOptions,
) -> Result<(Child, rustup::Watched<ChildStdout>), DiscoverError> {
    let launch = rustup::Launch::of(cargo);
    let start = |launch: &rustup::Launch| {
        launch
            .command()
            .args([
                "test",
                "--no-run",
                "--message-format=json-render-diagnostics",
            ])
            .args(&args.selection)
            .args(&args.build)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
    };
    let (launch, started) = match (start(&launch), launch.through_proxy()) {
        (Err(_), Some(proxy)) => {
            let started = start(&proxy);
            (proxy, started)
        }
        (started, _) => (launch, started),
    };
    let mut child = started
        .with_context(|| format!("could not start `{cargo}`; is cargo installed and on PATH?"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stdout = launch.watch(child.id(), stdout);
    Ok((child, stdout))
}

/// What a build that exited with `status` found: its binaries, or why there are none.
pub(super) fn conclude(
    cargo: &str,
    args: &CargoOptions,
    status: ExitStatus,
    mut build: Build,
) -> Result<Discovered, DiscoverError> {
    phases::mark(Phase::Build);
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        let signal = status.signal();
        let metadata = cargo_metadata(cargo, args);
        // cargo has said what is wrong, once. A manifest it cannot read, or a package that is
        // not in the workspace, is the command line's mistake, not a broken build.
        let usage = match &metadata {
            Err(_) => true,
            Ok(metadata) => unknown_package(&args.selection, metadata),
        };
        if signal.is_none() && usage {
            return Err(DiscoverError::Usage(None));
        }
        return Err(DiscoverError::BuildFailed {
            status: status.to_string(),
            signal,
        });
    }
    let metadata = build.metadata(cargo, args)?;
    phases::mark(Phase::Metadata);
    let libraries = std::mem::take(&mut build.libraries);
    let mut binaries = build.test_binaries(cargo, &metadata);
    match args.doc {
        DocTests::Off => {}
        DocTests::Also => binaries.extend(doc_packages::binaries(&metadata, args)),
        DocTests::Only => binaries = doc_packages::binaries(&metadata, args),
    }
    binaries.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Discovered {
        binaries,
        names: workspace_names(&metadata),
        target_dir: Some(metadata.target_directory.into_std_path_buf()),
        workspace_root: Some(metadata.workspace_root.into_std_path_buf()),
        unpacked: None,
        libraries,
        failed_listings: HashMap::new(),
    })
}

/// What is known of a build that has not ended well, once `metadata` is: everything but the
/// binaries, which the caller knows from cargo's messages.
pub(super) fn partial(build: &Build, metadata: &Metadata) -> Discovered {
    Discovered {
        names: workspace_names(metadata),
        target_dir: Some(metadata.target_directory.clone().into_std_path_buf()),
        workspace_root: Some(metadata.workspace_root.clone().into_std_path_buf()),
        libraries: build.libraries.clone(),
        ..Discovered::default()
    }
}

/// Whether a `--package` of `selection` (cargo's spelling) names no package of the workspace:
/// `name`, `name@1.2`, `path+file:///ws#name@1.2` are matched by name.
fn unknown_package(selection: &[String], metadata: &Metadata) -> bool {
    selection
        .windows(2)
        .filter(|pair| pair[0] == "--package")
        .map(|pair| {
            let spec = pair[1].rsplit('#').next().unwrap_or(&pair[1]);
            spec.split(['@', ':']).next().unwrap_or(spec)
        })
        .any(|name| !metadata.packages.iter().any(|p| p.name.as_str() == name))
}

/// What `cargo test --no-run` reported: the test executables, and what their environment
/// needs from the rest of the build.
#[derive(Default)]
pub(super) struct Build {
    tests: Vec<Artifact>,
    /// The binaries of each package, for `CARGO_BIN_EXE_<name>`.
    bin_exes: HashMap<PackageId, Vec<(String, Utf8PathBuf)>>,
    /// Each package's build-script output directory, for `OUT_DIR`.
    out_dirs: HashMap<PackageId, Utf8PathBuf>,
    /// See [`Discovered::libraries`].
    libraries: Vec<PathBuf>,
    /// cargo said the build succeeded (its `build-finished` message): nothing more is to come.
    succeeded: bool,
}

impl Build {
    fn read(stdout: impl BufRead) -> Result<Build> {
        let mut build = Build::default();
        for message in Message::parse_stream(stdout) {
            build.take(message.context("reading cargo's output")?);
            if build.succeeded {
                break;
            }
        }
        Ok(build)
    }

    /// Whether cargo has said that the build succeeded: it has nothing more to say.
    pub(super) fn succeeded(&self) -> bool {
        self.succeeded
    }

    /// How cargo's build ended. After a successful `build-finished` message that is known:
    /// cargo takes milliseconds more to exit (freeing what it built its plan in), which the
    /// tests need not wait for, so it is reaped in the background. Otherwise, its exit status.
    pub(super) fn exit_status(&self, mut cargo: Child) -> Result<ExitStatus> {
        if self.succeeded {
            use std::os::unix::process::ExitStatusExt;
            crate::process::reap_in_background(cargo);
            return Ok(ExitStatus::from_raw(0));
        }
        cargo.wait().context("waiting for cargo")
    }

    /// Note one of cargo's messages; true when it reported a test binary (now the last of
    /// `tests`).
    pub(super) fn take(&mut self, message: Message) -> bool {
        match message {
            Message::CompilerArtifact(artifact) if artifact.executable.is_some() => {
                if artifact.profile.test {
                    self.tests.push(artifact);
                    return true;
                } else if artifact.target.kind.contains(&CargoKind::Bin) {
                    let exe = artifact.executable.clone().unwrap_or_default();
                    let binaries = self.bin_exes.entry(artifact.package_id.clone());
                    binaries
                        .or_default()
                        .push((artifact.target.name.clone(), exe));
                }
            }
            Message::CompilerArtifact(artifact) => {
                let kinds = &artifact.target.kind;
                if kinds.contains(&CargoKind::DyLib) || kinds.contains(&CargoKind::CDyLib) {
                    let files = artifact
                        .filenames
                        .into_iter()
                        .map(|f| f.into_std_path_buf());
                    self.libraries
                        .extend(files.filter(|f| is_dynamic_library(f)));
                }
            }
            Message::BuildScriptExecuted(script) => {
                // `native=/path`, `all=/path` or a bare path.
                for linked in &script.linked_paths {
                    let path = linked.as_str();
                    let path = path.split_once('=').map_or(path, |(_, path)| path);
                    self.libraries.push(PathBuf::from(path));
                }
                self.out_dirs.insert(script.package_id, script.out_dir);
            }
            Message::BuildFinished(finished) => self.succeeded = finished.success,
            _ => {}
        }
        false
    }

    /// The workspace's metadata for the test binaries reported so far: kept from an earlier
    /// run while the manifests are unchanged (`cargo test` runs no `cargo metadata`, and a
    /// warm run need not either), else cargo's.
    pub(super) fn metadata(&self, cargo: &str, args: &CargoOptions) -> Result<Metadata> {
        let built: Vec<_> = (self.tests.iter())
            .filter_map(|a| Some((a.executable.as_ref()?, &a.package_id)))
            .collect();
        metadata_cache::metadata(args, &built, || cargo_metadata(cargo, args))
    }

    fn test_binaries(&self, cargo: &str, metadata: &Metadata) -> Vec<Arc<TestBinary>> {
        let mut harness_cache = HashMap::new();
        (self.tests.iter())
            .filter_map(|artifact| self.binary(cargo, metadata, artifact, &mut harness_cache))
            .collect()
    }

    /// The test binary of one test artifact (`None` without an executable).
    pub(super) fn binary(
        &self,
        cargo: &str,
        metadata: &Metadata,
        artifact: &Artifact,
        harness_cache: &mut HashMap<Utf8PathBuf, HashSet<String>>,
    ) -> Option<Arc<TestBinary>> {
        let exe = artifact.executable.as_ref()?;
        let manifest = &artifact.manifest_path;
        let no_harness = harness_cache
            .entry(manifest.clone())
            .or_insert_with(|| cli::targets_without_harness(manifest.as_std_path()));
        let package = (metadata.packages.iter()).find(|p| p.id == artifact.package_id);
        let target = &artifact.target;
        let package_name = package.map_or_else(|| target.name.clone(), |p| p.name.clone());
        let kind = target_kind(&target.kind);
        let cwd = manifest.parent().map(|p| p.as_std_path().to_path_buf());
        Some(Arc::new(TestBinary {
            id: binary_id(&package_name, &kind, &target.name),
            custom_harness: no_harness.contains(&target.name),
            env: self.test_env(cargo, metadata, artifact, package),
            path: exe.clone().into_std_path_buf(),
            package: Some(package_name),
            target_name: target.name.clone(),
            kind,
            cwd: cwd.unwrap_or_default(),
        }))
    }

    /// Whether the environment of `artifact`'s tests is complete: every binary target of its
    /// package (their `CARGO_BIN_EXE_<name>`) has been reported built, if the package has
    /// integration tests or benchmarks, for which cargo builds them.
    pub(super) fn env_complete(&self, artifact: &Artifact, metadata: &Metadata) -> bool {
        let Some(package) = (metadata.packages.iter()).find(|p| p.id == artifact.package_id) else {
            return false;
        };
        let has = |target: &cargo_metadata::Target, kind: CargoKind| target.kind.contains(&kind);
        let builds_bins =
            (package.targets.iter()).any(|t| has(t, CargoKind::Test) || has(t, CargoKind::Bench));
        let built = self.bin_exes.get(&artifact.package_id);
        let reported = |name: &str| built.is_some_and(|bins| bins.iter().any(|(n, _)| n == name));
        !builds_bins
            || (package.targets.iter())
                .filter(|t| has(t, CargoKind::Bin))
                .all(|t| reported(&t.name))
    }

    /// The test artifacts reported so far.
    pub(super) fn tests(&self) -> &[Artifact] {
        &self.tests
    }

    /// The environment `cargo test` gives the tests of `artifact`.
    fn test_env(
        &self,
        cargo: &str,
        metadata: &Metadata,
        artifact: &Artifact,
        package: Option<&Package>,
    ) -> BTreeMap<String, String> {
        let manifest = &artifact.manifest_path;
        let mut env = BTreeMap::new();
        let mut set = |key: &str, value: &str| env.insert(key.to_string(), value.to_string());
        set("CARGO", cargo);
        set(
            "CARGO_MANIFEST_DIR",
            manifest.parent().map_or("", |p| p.as_str()),
        );
        set("CARGO_MANIFEST_PATH", manifest.as_str());
        set("CARGO_CRATE_NAME", &artifact.target.name.replace('-', "_"));
        set(
            "CARGO_TARGET_TMPDIR",
            metadata.target_directory.join("tmp").as_str(),
        );
        if let Some(out_dir) = self.out_dirs.get(&artifact.package_id) {
            set("OUT_DIR", out_dir.as_str());
        }
        for (name, path) in self
            .bin_exes
            .get(&artifact.package_id)
            .into_iter()
            .flatten()
        {
            set(&format!("CARGO_BIN_EXE_{name}"), path.as_str());
        }
        if let Some(dir) = artifact.executable.as_ref().and_then(|exe| exe.parent()) {
            // A proc-macro crate links the standard library dynamically, as the compiler does.
            let proc_macro = artifact.target.kind.contains(&CargoKind::ProcMacro);
            set(
                "LD_LIBRARY_PATH",
                &library_path(dir.as_std_path(), proc_macro),
            );
        }
        if let Some(package) = package {
            package_env(package, &mut env);
        }
        env
    }
}

/// The cargo to call: the one that ran us (`cargo run`) or `cargo` on PATH.
pub fn cargo_command() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// The target directory of the workspace `args` name (`--target-dir`, else cargo's), without
/// building: where the runner keeps its history.
pub fn target_dir(args: &CargoOptions) -> Result<PathBuf> {
    if let Some(dir) = &args.target_dir {
        return Ok(dir.clone());
    }
    let metadata = cargo_metadata(&cargo_command(), args)?;
    Ok(metadata.target_directory.into_std_path_buf())
}

fn cargo_metadata(cargo: &str, args: &CargoOptions) -> Result<Metadata> {
    let mut command = MetadataCommand::new();
    command.cargo_path(cargo).no_deps();
    if let Some(path) = &args.manifest_path {
        command.manifest_path(path);
    }
    let mut options = Vec::new();
    if args.locked {
        options.push("--locked".to_string());
    }
    if args.offline {
        options.push("--offline".to_string());
    }
    command.other_options(options);
    let mut metadata = command.exec().context("running `cargo metadata`")?;
    if let Some(dir) = &args.target_dir {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
        metadata.target_directory = Utf8PathBuf::from_path_buf(dir).map_err(|dir| {
            anyhow::anyhow!("the target directory {} is not UTF-8", dir.display())
        })?;
    }
    Ok(metadata)
}

/// Every workspace member and the names of its targets, built for this run or not: `-p a -E
/// 'package(b)'` selects nothing, but it names a package that exists.
pub(super) fn workspace_names(metadata: &Metadata) -> KnownNames {
    let members = metadata.workspace_packages();
    KnownNames {
        packages: members.iter().map(|p| p.name.to_string()).collect(),
        binaries: members
            .iter()
            .flat_map(|p| p.targets.iter().map(|t| t.name.clone()))
            .collect(),
    }
}

fn target_kind(kinds: &[CargoKind]) -> TargetKind {
    let has = |kind: CargoKind| kinds.contains(&kind);
    if has(CargoKind::Test) {
        TargetKind::Test
    } else if has(CargoKind::Bin) {
        TargetKind::Bin
    } else if has(CargoKind::Bench) {
        TargetKind::Bench
    } else if has(CargoKind::Example) {
        TargetKind::Example
    } else if has(CargoKind::ProcMacro) {
        TargetKind::ProcMacro
    } else {
        TargetKind::Lib
    }
}
