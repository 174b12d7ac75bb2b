//! libtest's pretty output of a batch (one test thread), read as it streams in: the lines where
//! tests start (`test NAME ... `), and the closing `failures:` summary, cut into each failed
//! test's captured output (its `---- NAME stdout ----` section).
//!
//! Tests write to this stream too and may print anything, so nothing read here decides a
//! result: each line is handed to the caller, who checks it against the log, and the summary is
//! only read once the log says every test has ended. Every byte is looked at once (linear time)
//! and only the start of a line is held, up to the longest line libtest itself writes; a
//! longer line can only be test output. A section is kept within bounds like any test output.

use std::collections::HashMap;

use super::bounded::Bounded;
use super::find_newline;

/// What the stream needs to know of the batch's progress, from the log.
pub(super) trait Progress {
    /// A line of the part where tests run (or the start of the unfinished one): it may say
    /// that the test due next has started.
    fn running_line(&mut self, head: &[u8]);
    /// Every test has its record in the log, so libtest's summary may follow.
    fn all_recorded(&self) -> bool;
    /// The position in the run of `name` if it is a test that failed.
    fn failed_position(&self, name: &[u8]) -> Option<usize>;
}

/// One failed test's output, as its section of the summary is received.
#[derive(Debug)]
struct Section {
    position: usize,
    output: Bounded,
    /// Where the last `failures:` line in it began: the summary's closing list of names follows
    /// the last section after such a line.
    last_failures_line: Option<u64>,
}

#[derive(Debug)]
pub(super) struct PrettyStream {
    /// The first bytes of the line being received, up to `cap`.
    head: Vec<u8>,
    line_len: usize,
    /// The longest line libtest writes for this batch (a start line or a section header).
    cap: usize,
    /// The line being received outgrew `cap` inside a section: its bytes go straight there.
    streaming: bool,
    in_summary: bool,
    current: Option<Section>,
    /// Finished sections, by the test's position in the run.
    sections: HashMap<usize, Bounded>,
    /// Bytes kept of each section at its start and end.
    limits: (usize, usize),
}

impl PrettyStream {
    pub(super) fn new(longest_name: usize, limits: (usize, usize)) -> Self {
        PrettyStream {
            head: Vec::new(),
            line_len: 0,
            cap: longest_name + " - should panic ... ".len() + "test ".len(),
            streaming: false,
            in_summary: false,
            current: None,
            sections: HashMap::new(),
            limits,
        }
    }

    pub(super) fn feed(&mut self, mut bytes: &[u8], progress: &mut dyn Progress) {
        while let Some(newline) = find_newline(bytes) {
            self.take(&bytes[..newline]);
            self.end_line(progress);
            bytes = &bytes[newline + 1..];
        }
        self.take(bytes);
        // A start line stays unfinished while its test runs.
        if !self.in_summary && !self.head.is_empty() {
            progress.running_line(&self.head);
        }
    }

    /// The end of the stream: the last line, and the last section, are complete.
    pub(super) fn finish(&mut self, progress: &mut dyn Progress) {
        if self.line_len > 0 {
            self.end_line(progress);
        }
        if let Some(mut section) = self.current.take() {
            if let Some(at) = section.last_failures_line {
                section.output.truncate(at);
            }
            self.sections.insert(section.position, section.output);
        }
    }

    /// Whether libtest's closing summary was read.
    pub(super) fn summary_read(&self) -> bool {
        self.in_summary
    }

    /// The output of the failed test at `position`, if its section was received.
    pub(super) fn section(&self, position: usize) -> Option<&Bounded> {
        self.sections.get(&position)
    }

    fn take(&mut self, bytes: &[u8]) {
        self.line_len += bytes.len();
        let keep = bytes.len().min(self.cap.saturating_sub(self.head.len()));
        self.head.extend_from_slice(&bytes[..keep]);
        if self.line_len <= self.cap {
            return;
        }
        // Too long to be libtest's own line: inside a section it is test output, kept as it
        // comes; elsewhere nothing more of it is needed.
        if let Some(section) = self.current.as_mut() {
            if !self.streaming {
                self.streaming = true;
                section.output.push(&self.head);
            }
            section.output.push(&bytes[keep..]);
        }
    }

    fn end_line(&mut self, progress: &mut dyn Progress) {
        if self.streaming {
            if let Some(section) = self.current.as_mut() {
                section.output.push(b"\n");
            }
        } else if self.in_summary {
            self.summary_line(progress);
        } else if self.head == b"failures:" && progress.all_recorded() {
            self.in_summary = true;
        } else {
            progress.running_line(&self.head);
        }
        self.head.clear();
        self.line_len = 0;
        self.streaming = false;
    }

    /// A whole line of the summary, no longer than `cap`.
    fn summary_line(&mut self, progress: &dyn Progress) {
        let line = self.head.as_slice();
        let header = line
            .strip_prefix(b"---- ")
            .and_then(|rest| rest.strip_suffix(b" stdout ----"))
            .and_then(|name| progress.failed_position(name));
        // Sections come in the order the tests ran; a header out of that order is a test's
        // captured output.
        let current = self.current.as_ref().map(|s| s.position);
        if let Some(position) = header.filter(|&p| current.is_none_or(|c| p > c)) {
            if let Some(done) = self.current.take() {
                self.sections.insert(done.position, done.output);
            }
            self.current = Some(Section {
                position,
                output: Bounded::new(self.limits.0, self.limits.1),
                last_failures_line: None,
            });
            return;
        }
        if let Some(section) = self.current.as_mut() {
            if line == b"failures:" {
                section.last_failures_line = Some(section.output.total());
            }
            section.output.push(line);
            section.output.push(b"\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch of tests `a`, `b`, `c`, all ended, `b` failed.
    #[derive(Default)]
    struct Ended {
        lines: Vec<String>,
    }

    impl Progress for Ended {
        fn running_line(&mut self, head: &[u8]) {
            self.lines.push(String::from_utf8_lossy(head).into_owned());
        }
        fn all_recorded(&self) -> bool {
            true
        }
        fn failed_position(&self, name: &[u8]) -> Option<usize> {
            (name == b"b").then_some(1)
        }
    }

    fn read(pieces: &[&[u8]], limits: (usize, usize)) -> (PrettyStream, Ended) {
        let mut stream = PrettyStream::new(1, limits);
        let mut progress = Ended::default();
        for piece in pieces {
            stream.feed(piece, &mut progress);
        }
        stream.finish(&mut progress);
        (stream, progress)
    }

    fn text(stream: &PrettyStream, position: usize) -> String {
        stream.section(position).unwrap().to_text(None)
    }

    #[test]
    fn summary_sections_are_cut_from_the_stream() {
        let summary = b"test b ... FAILED\n\nfailures:\n\n---- b stdout ----\nboom\nfailures:\n\
            more\n\nfailures:\n    b\n\ntest result: FAILED. 2 passed; 1 failed\n\n";
        let (stream, progress) = read(&[summary], (1024, 1024));
        // The test's own `failures:` line stays in its output; the closing list does not.
        assert_eq!(text(&stream, 1), "boom\nfailures:\nmore\n\n");
        assert_eq!(progress.lines, ["test b ... FAILED", ""]);
        // Split anywhere, the stream reads the same.
        for size in 1..summary.len() {
            let pieces: Vec<&[u8]> = summary.chunks(size).collect();
            let (split, _) = read(&pieces, (1024, 1024));
            assert_eq!(
                text(&split, 1),
                "boom\nfailures:\nmore\n\n",
                "pieces of {size}"
            );
        }
    }

    #[test]
    fn a_header_of_a_test_that_passed_is_output() {
        let summary =
            b"failures:\n\n---- b stdout ----\n---- a stdout ----\nx\n\nfailures:\n    b\n";
        let (stream, _) = read(&[summary], (1024, 1024));
        assert_eq!(text(&stream, 1), "---- a stdout ----\nx\n\n");
        assert!(stream.section(0).is_none());
    }

    #[test]
    fn long_lines_are_not_held_and_sections_stay_bounded() {
        let mut stream = PrettyStream::new(1, (10, 20));
        let mut progress = Ended::default();
        let block = vec![b'y'; 4096];
        stream.feed(b"test a ... ", &mut progress);
        for _ in 0..100 {
            stream.feed(&block, &mut progress);
            assert!(stream.head.len() <= stream.cap);
        }
        stream.feed(b"ok\nfailures:\n\n---- b stdout ----\n", &mut progress);
        for _ in 0..100 {
            stream.feed(&block, &mut progress);
            stream.feed(b"\nshort line\n", &mut progress);
        }
        stream.feed(b"end\n\nfailures:\n    b\n", &mut progress);
        stream.finish(&mut progress);
        let section = stream.section(1).unwrap();
        assert_eq!(section.total(), 100 * (4096 + 12) + 5);
        assert!(section.to_text(None).ends_with("line\nend\n\n"));
        assert!(section.omitted() > 0);
    }
}
