//! The command that lists a package's doctests: `cargo test --doc -p PKG <build flags> --
//! --list --format terse`. rustdoc reads the crate and prints the names; it compiles no
//! example, in any edition (about 0.2 s for a small crate, most of it cargo's check).
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
