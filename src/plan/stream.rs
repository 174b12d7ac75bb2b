//! Discovery as cargo goes: `cargo test --no-run` is read on a thread of its own, and each
//! test binary is handed over as soon as cargo reports it built, so that its tests can start
//! while cargo still builds the others (see `session::overlap`). When cargo exits, the whole
//! discovery follows, exactly as [`discover::from_cargo`] would have said it.
//!
//! A binary needs the workspace's metadata for its environment (`CARGO_PKG_*`); it is asked
//! for (or read from the kept answer) when the first test binary arrives, and again only for
//! a binary of a package that answer does not know. A binary is handed over once its whole
//! environment is known: cargo may report an integration test before the package's binaries
//! whose paths it gives as `CARGO_BIN_EXE_<name>`.

use std::collections::HashMap;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::Child;
use std::sync::Arc;

use anyhow::Context;
use cargo_metadata::{Message, Metadata};
use crossbeam_channel::{Receiver, Sender};

use super::discover::{self, Build, DiscoverError, Discovered};
use crate::cli::CargoOptions;
use crate::filter::KnownNames;
use crate::model::TestBinary;

/// What the build has to say, in the order it happens.
pub enum Built {
    /// The workspace's package and target names, once its metadata is known (before the
    /// first binary), for checking filter expressions before any test runs.
    Names(KnownNames),
    /// A test binary cargo has just built (or found up to date), and cargo's target directory.
    Binary(Arc<TestBinary>, PathBuf),
    /// cargo exited: every binary (the doctests' too) sorted by id, or why there are none;
    /// then `partial` has what is known besides the binaries reported (names, directories,
    /// libraries) if a binary was.
    Finished {
        result: Result<Discovered, DiscoverError>,
        partial: Option<Box<Discovered>>,
    },
}

/// Start `cargo test --no-run`; its binaries arrive on the receiver, then `Built::Finished`
/// (always the last message).
pub fn start(args: &CargoOptions) -> Result<Receiver<Built>, DiscoverError> {
    let cargo = discover::cargo_command();
    let (child, stdout) = discover::spawn_build(&cargo, args)?;
    let (sender, receiver) = crossbeam_channel::unbounded();
    let args = args.clone();
    std::thread::Builder::new()
        .name("cargo-build".into())
        .spawn(move || follow(&cargo, &args, child, stdout, &sender))
        .context("starting the thread that reads cargo's messages")?;
    Ok(receiver)
}

/// Read cargo's messages until it says the build succeeded (or exits), sending each test
/// binary as it comes.
fn follow(
    cargo: &str,
    args: &CargoOptions,
    mut child: Child,
    stdout: impl std::io::Read,
    sender: &Sender<Built>,
) {
    let mut build = Build::default();
    let mut metadata: Option<Metadata> = None;
    let mut harness_cache = HashMap::new();
    let mut trouble = None;
    // Test binaries reported but not sent yet (by index in `build.tests()`): their
    // environment is not complete yet (see `Build::env_complete`).
    let mut held: Vec<usize> = Vec::new();
    for message in Message::parse_stream(BufReader::new(stdout)) {
        let message = match message.context("reading cargo's output") {
            Ok(message) => message,
            Err(e) => {
                // Nobody reads cargo's messages any more: it must not wait on the pipe.
                let _ = child.kill();
                trouble = Some(e);
                break;
            }
        };
        if build.take(message) {
            held.push(build.tests().len() - 1);
            let artifact = build.tests().last().expect("a test binary was just noted");
            let known = |m: &Metadata| m.packages.iter().any(|p| p.id == artifact.package_id);
            if !metadata.as_ref().is_some_and(known) {
                // Without metadata the binary waits for the end of the build, like every other.
                metadata = build.metadata(cargo, args).ok();
                if let Some(metadata) = &metadata {
                    let _ = sender.send(Built::Names(discover::workspace_names(metadata)));
                }
            }
        }
        if let Some(metadata) = &metadata {
            held.retain(|&index| {
                let artifact = &build.tests()[index];
                if !build.env_complete(artifact, metadata) {
                    return true;
                }
                if let Some(binary) = build.binary(cargo, metadata, artifact, &mut harness_cache) {
                    // The receiver only goes away when the run is over.
                    let target_dir = metadata.target_directory.clone().into_std_path_buf();
                    let _ = sender.send(Built::Binary(binary, target_dir));
                }
                false
            });
        }
        if build.succeeded() {
            break;
        }
    }
    let partial = (metadata.as_ref()).map(|metadata| Box::new(discover::partial(&build, metadata)));
    let result = match (trouble, build.exit_status(child)) {
        (Some(e), _) => Err(DiscoverError::Other(e)),
        (None, Err(e)) => Err(DiscoverError::Other(e)),
        (None, Ok(status)) => discover::conclude(cargo, args, status, build),
    };
    let partial = partial.filter(|_| result.is_err());
    let _ = sender.send(Built::Finished { result, partial });
}
