//! Builds made once and run elsewhere: `runner archive` packs the built tests with what they
//! need (`pack`), and `--archive-file` unpacks them as the binaries of a run on a machine with
//! no cargo (`unpack`); the manifest between the two keeps every path relative. The one home of
//! the `tar` and `zstd` crates.

mod manifest;
mod pack;
mod unpack;

pub use pack::pack;
pub use unpack::unpack;
