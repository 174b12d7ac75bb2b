//! libtest's `--logfile PATH`: the harness writes one record per finished test to a file of
//! its own (`ok NAME`, `failed NAME`, `failed: MESSAGE NAME`, `ignored NAME`,
//! `ignored: MESSAGE NAME`) just before it prints the result on stdout. Tests cannot reach that
//! file through their output, so batched mode takes every verdict from it.
//!
//! A record's message may span lines (a `should_panic` test whose panic did not match), so a
//! record is complete at the first line that ends with the name of a test due a record, which
//! the caller knows: with one test thread libtest runs a batch in name order, so one test is due;
//! with several threads, any test of the run that has no record yet.

use super::find_newline;

/// How a test ended, as its record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Record {
    Ok,
    Failed,
    /// Not run (`ignored`), which batched mode does not expect: the test runs again alone.
    Ignored,
}

/// What the log is read against: the run's progress.
pub(super) trait Records {
    /// `line` is a line of an open record of `kind` (its first, or a later line of its
    /// message): if it ends with the name of a test due a record, that test gets the record,
    /// and the answer is true.
    fn complete(&mut self, line: &[u8], kind: Record) -> bool;
}

/// Reads the log as it grows, one complete line at a time.
#[derive(Debug)]
pub(super) struct LogParser {
    /// The unfinished last line, up to `cap` bytes.
    partial: Vec<u8>,
    overlong: bool,
    /// A longer line cannot end a record of this batch; it can only be part of a message.
    cap: usize,
    /// The record whose first line came, waiting for the line that names its test.
    open: Option<Record>,
}

impl LogParser {
    pub(super) fn new(longest_name: usize) -> Self {
        LogParser {
            partial: Vec::new(),
            overlong: false,
            // Room for an `ignored` or `should_panic` message from the test's source.
            cap: longest_name + 64 * 1024,
            open: None,
        }
    }

    /// Feed bytes the log grew by.
    pub(super) fn feed(&mut self, mut bytes: &[u8], records: &mut dyn Records) {
        while let Some(newline) = find_newline(bytes) {
            self.take(&bytes[..newline]);
            let line = std::mem::take(&mut self.partial);
            self.line(&line, records);
            self.partial = line;
            self.partial.clear();
            self.overlong = false;
            bytes = &bytes[newline + 1..];
        }
        self.take(bytes);
    }

    fn take(&mut self, bytes: &[u8]) {
        let room = self.cap.saturating_sub(self.partial.len());
        self.overlong |= bytes.len() > room;
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn line(&mut self, line: &[u8], records: &mut dyn Records) {
        // Only a record's first line starts with its verdict (the lines of a message are
        // indented); any other line is the rest of a message.
        if let Some(kind) = record_kind(line) {
            self.open = Some(kind);
        }
        let Some(kind) = self.open else { return };
        if !self.overlong && records.complete(line, kind) {
            self.open = None;
        }
    }
}

fn record_kind(line: &[u8]) -> Option<Record> {
    let word_end = line.iter().position(|&b| matches!(b, b' ' | b':'))?;
    match &line[..word_end] {
        b"ok" => Some(Record::Ok),
        b"failed" => Some(Record::Failed),
        b"ignored" => Some(Record::Ignored),
        _ => None,
    }
}

/// Whether `line` ends with ` NAME`, or ` NAME <TIME>` (`--report-time`).
pub(super) fn names(line: &[u8], name: &str) -> bool {
    let ends_with_name = |line: &[u8]| {
        line.strip_suffix(name.as_bytes())
            .is_some_and(|rest| rest.ends_with(b" "))
    };
    let without_time = line
        .strip_suffix(b">")
        .and_then(|rest| rest.iter().rposition(|&b| b == b'<'))
        .and_then(|open| line[..open].strip_suffix(b" "));
    ends_with_name(line) || without_time.is_some_and(ends_with_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tests due in this order, and the records received.
    struct Batch {
        order: Vec<&'static str>,
        got: Vec<(&'static str, Record)>,
    }

    impl Records for Batch {
        fn complete(&mut self, line: &[u8], record: Record) -> bool {
            let Some(&name) = self.order.get(self.got.len()) else {
                return false;
            };
            let ends = names(line, name);
            if ends {
                self.got.push((name, record));
            }
            ends
        }
    }

    /// What libtest 1.95 wrote for a batch of these tests (read from a real test binary).
    const LOG: &str = "ok a\nfailed b\nignored c\nignored: why c2\n\
        failed: panic did not contain expected string\n      panic message: \"other\"\n \
        expected substring: \"zzz\" d\nok e\n\
        failed: test did not panic as expected at src/lib.rs:8:28 e2\nfailed g <0.001s>\n";

    fn batch() -> Batch {
        Batch {
            order: vec!["a", "b", "c", "c2", "d", "e", "e2", "g"],
            got: Vec::new(),
        }
    }

    #[test]
    fn records_of_every_kind_in_pieces_of_any_size() {
        use Record::*;
        let expected = [
            ("a", Ok),
            ("b", Failed),
            ("c", Ignored),
            ("c2", Ignored),
            ("d", Failed),
            ("e", Ok),
            ("e2", Failed),
            ("g", Failed),
        ];
        for size in 1..=LOG.len() {
            let mut parser = LogParser::new(2);
            let mut batch = batch();
            for piece in LOG.as_bytes().chunks(size) {
                parser.feed(piece, &mut batch);
            }
            assert_eq!(batch.got, expected, "pieces of {size} bytes");
        }
    }

    #[test]
    fn a_record_counts_only_for_the_test_due_and_only_when_whole() {
        let mut parser = LogParser::new(2);
        let mut batch = batch();
        // `b` is not due: its record settles nothing; `a`'s is read once its line is whole.
        parser.feed(b"failed b\nok a", &mut batch);
        assert!(batch.got.is_empty());
        parser.feed(b"\n", &mut batch);
        assert_eq!(batch.got, [("a", Record::Ok)]);
    }

    #[test]
    fn a_message_line_that_ends_like_the_name_settles_the_test_due() {
        // A test named `string` whose should_panic message did not match: its record ends on
        // its first line, with the right verdict, and the rest of the message is skipped.
        let mut parser = LogParser::new(6);
        let mut batch = Batch {
            order: vec!["string", "z"],
            got: Vec::new(),
        };
        let log = "failed: panic did not contain expected string\n      panic message: \"x\"\n \
            expected substring: \"y\" string\nok z\n";
        parser.feed(log.as_bytes(), &mut batch);
        assert_eq!(batch.got, [("string", Record::Failed), ("z", Record::Ok)]);
    }
}
