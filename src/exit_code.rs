//! The process exit codes `runner` documents, in one place.
//!
//! They follow cargo-nextest where it has an equivalent, so CI scripts written for one read
//! the other.

/// Every selected test passed.
pub const OK: i32 = 0;
/// The runner itself failed (a bug, or an I/O error it cannot work around).
pub const INTERNAL: i32 = 1;
/// The command line was wrong.
pub const USAGE: i32 = 2;
/// No test was selected (see `--no-tests`).
pub const NO_TESTS: i32 = 4;
/// At least one test failed; takes precedence over the codes below.
pub const TEST_FAILED: i32 = 100;
/// The build failed.
pub const BUILD_FAILED: i32 = 101;
/// A test binary could not be listed or was not usable; the others still ran.
pub const LIST_FAILED: i32 = 104;
/// `junit-merge`: the shards' reports do not add up to their selection (a shard missing, a test
/// twice or nowhere, shards of different partitions); the merged report is still written.
pub const SHARDS_DO_NOT_ADD_UP: i32 = 3;
/// `runner archive` could not make the archive, or a run could not read one (cargo-nextest's
/// code for a failed archive).
pub const ARCHIVE_FAILED: i32 = 102;
