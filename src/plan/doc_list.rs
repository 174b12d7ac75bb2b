//! The command that lists a package's doctests: `cargo test --doc -p PKG <build flags> --
//! --list --format terse`. rustdoc reads the crate and prints the names. In edition 2021 it
//! compiles no example (about 0.2 s for a small crate, most of it cargo's check); in edition
//! 2024 it compiles the doctests it can merge into one binary and asks that binary for its
//! list, then lists the others, and may close with a line of its own timings (`all doctests
//! ran in 1.36s; merged doctests compilation took 1.33s`), which is not a listing line. No
//! stable option lists merged doctests without compiling them.
//!
//! It runs in the runner's own directory, not the package's, so that a relative
//! `--manifest-path` or `--target-dir` among the build flags means what it meant to the build.

use std::process::Command;

use crate::cli::CargoOptions;
use crate::model::TestBinary;
use crate::plan::discover::cargo_command;
use crate::rustdoc;

/// The listing command of `binary`'s doctests (`ignored`: only the ignored ones).
pub(super) fn command(binary: &TestBinary, cargo: &CargoOptions, ignored: bool) -> Command {
    let package = binary.package.as_deref().unwrap_or(&binary.target_name);
    let mut command = Command::new(cargo_command());
    command.args(rustdoc::list_args(package, &cargo.build, ignored));
    command
}
