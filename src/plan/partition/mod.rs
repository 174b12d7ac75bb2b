//! Splits one selection across N machines (`--partition`): the schemes, the CI variables
//! `auto` reads, the timings `time:` balances on, and the fingerprint each shard records so
//! that `junit-merge` can prove the shards add up.

mod ci;
mod fingerprint;
mod scheme;
mod timings;

pub use ci::acknowledge_bazel_sharding;
pub use fingerprint::Shard;
pub use scheme::{Partition, Scheme};
pub use timings::Timings;
