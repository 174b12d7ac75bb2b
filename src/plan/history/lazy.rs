//! One binary's records in the history, read only when a run needs them.
//!
//! One target directory may hold the history of many workspaces (a shared `CARGO_TARGET_DIR`)
//! or of a large one of which a run selects a few binaries; parsing every record and writing
//! every number back out cost each run milliseconds per 100 KB. So the file's text of each
//! binary is kept as it was read: parsed the first time a run looks into that binary, and
//! written back byte for byte unless the run changed it.

use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use super::{TestRecord, Tests};

#[derive(Debug, Clone, Default)]
pub(super) struct Binary {
    /// The records as the file had them, while this run has not changed them.
    raw: Option<Box<RawValue>>,
    parsed: OnceLock<Tests>,
}

impl Binary {
    /// Records that start out parsed (made by this run, or converted from an old file).
    pub(super) fn parsed(tests: Tests) -> Binary {
        Binary {
            raw: None,
            parsed: OnceLock::from(tests),
        }
    }

    /// The records, parsed on first use; `binary_id` names them in a warning about damage.
    pub(super) fn tests(&self, binary_id: &str) -> &Tests {
        self.parsed.get_or_init(|| match &self.raw {
            Some(raw) => parse(raw, binary_id),
            None => Tests::new(),
        })
    }

    /// The records, to change: from now on they are written as they are, not as read.
    pub(super) fn tests_mut(&mut self, binary_id: &str) -> &mut Tests {
        self.tests(binary_id);
        self.raw = None;
        self.parsed.get_mut().expect("parsed just above")
    }

    /// Whether this run changed the records (or made them).
    pub(super) fn changed(&self) -> bool {
        self.raw.is_none()
    }
}

/// A binary's records from the file's text. Damage costs a warning and that binary's records,
/// never the run: durations no test could have had are dropped, and records that cannot be
/// read at all are forgotten.
fn parse(raw: &RawValue, binary_id: &str) -> Tests {
    let mut tests: Tests = match serde_json::from_str(raw.get()) {
        Ok(tests) => tests,
        Err(e) => {
            eprintln!(
                "warning: the timing history of {binary_id} cannot be read ({e}); it starts afresh"
            );
            return Tests::new();
        }
    };
    let dropped: usize = tests.values_mut().map(TestRecord::drop_incredible).sum();
    if dropped > 0 {
        eprintln!(
            "warning: the timing history of {binary_id} held {dropped} duration(s) that are not \
             a number of seconds a test could take; they were dropped"
        );
    }
    tests
}

impl Serialize for Binary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (&self.raw, self.parsed.get()) {
            (Some(raw), _) => raw.serialize(serializer),
            (None, Some(tests)) => tests.serialize(serializer),
            (None, None) => Tests::new().serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Binary {
            raw: Some(Box::<RawValue>::deserialize(deserializer)?),
            parsed: OnceLock::new(),
        })
    }
}
