//! What a batch process says about each of its tests: when it started, how it ended and how
//! long it took, which test was running if the process died, and each failed test's output.
//!
//! Two sources, each trusted for what it can prove. The log (`--logfile`) is written by libtest
//! alone, so verdicts come only from it. The stream (stdout) is shared with the tests, so it
//! only dates starts: a `test NAME ... ` line counts only for the test libtest must be running
//! next (a batch runs in name order, and the next test starts only once the previous one has its
//! record, which libtest writes before it prints anything more). Read the log before each piece
//! of the stream, so that the log is never behind it.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::logfile::{LogParser, Record, Records};
use super::stream::{PrettyStream, Progress};

/// How a test of a batch ended, as its record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Passed(Duration),
    Failed(Duration),
}

/// What a piece of the log or stream told, as it arrived.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Started(String),
    Passed(String, Duration),
}

#[derive(Debug, Default, Clone)]
struct TestState {
    /// When its start line was read.
    started: Option<Instant>,
    /// Its record, and how long it ran.
    ended: Option<(Record, Duration)>,
    /// A `Started` step was given for it.
    announced: bool,
}

/// The batch's progress, shared by the log and the stream.
#[derive(Debug)]
struct Run {
    /// The tests in the order libtest runs them.
    order: Vec<String>,
    positions: HashMap<String, usize>,
    tests: Vec<TestState>,
    /// The position of the test whose record comes next.
    next: usize,
    /// When the record before `next` was read: the test due started then at the latest.
    previous_end: Instant,
    /// When the piece being read arrived.
    now: Instant,
    steps: Vec<Step>,
}

impl Run {
    fn announce(&mut self, position: usize) {
        if !std::mem::replace(&mut self.tests[position].announced, true) {
            self.steps.push(Step::Started(self.order[position].clone()));
        }
    }

    fn record(&mut self, record: Record) {
        let position = self.next;
        let started = self.tests[position].started.unwrap_or(self.previous_end);
        let duration = self.now.saturating_duration_since(started);
        self.tests[position].started = Some(started);
        self.tests[position].ended = Some((record, duration));
        self.announce(position);
        if record == Record::Ok {
            let name = self.order[position].clone();
            self.steps.push(Step::Passed(name, duration));
        }
        self.next += 1;
        self.previous_end = self.now;
    }
}

impl Records for Run {
    fn complete(&mut self, line: &[u8], record: Record) -> bool {
        // One test thread: only the next test in name order can be due a record.
        let due = self.order.get(self.next);
        let ends = due.is_some_and(|name| super::logfile::names(line, name));
        if ends {
            self.record(record);
        }
        ends
    }
}

impl Progress for Run {
    fn running_line(&mut self, head: &[u8]) {
        let Some(name) = self.order.get(self.next) else {
            return;
        };
        if self.tests[self.next].started.is_none() && super::is_start_line(head, name) {
            self.tests[self.next].started = Some(self.now);
            self.announce(self.next);
        }
    }

    fn all_recorded(&self) -> bool {
        self.next == self.order.len()
    }

    fn failed_position(&self, name: &[u8]) -> Option<usize> {
        let position = *self.positions.get(std::str::from_utf8(name).ok()?)?;
        matches!(self.tests[position].ended, Some((Record::Failed, _))).then_some(position)
    }
}

/// Reads one batch process: its log and its stdout, as each grows.
#[derive(Debug)]
pub(crate) struct BatchReader {
    run: Run,
    log: LogParser,
    stream: PrettyStream,
}

impl BatchReader {
    /// A reader for a batch of `names`, started at `now`, keeping at most `section_limits`
    /// (head, tail) bytes of each failed test's output.
    pub(crate) fn new(names: &[&str], section_limits: (usize, usize), now: Instant) -> Self {
        let mut order: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        // libtest sorts the tests it selected by name, and one thread runs them in that order.
        order.sort_unstable();
        order.dedup();
        let longest = order.iter().map(String::len).max().unwrap_or(0);
        let positions = order
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        BatchReader {
            run: Run {
                tests: vec![TestState::default(); order.len()],
                order,
                positions,
                next: 0,
                previous_end: now,
                now,
                steps: Vec::new(),
            },
            log: LogParser::new(longest),
            stream: PrettyStream::new(longest, section_limits),
        }
    }

    /// Bytes the log grew by, read at `now`.
    pub(crate) fn read_log(&mut self, bytes: &[u8], now: Instant) -> Vec<Step> {
        self.run.now = now;
        self.log.feed(bytes, &mut self.run);
        std::mem::take(&mut self.run.steps)
    }

    /// A piece of stdout, read at `now` (after the log was read up to then).
    pub(crate) fn read_stdout(&mut self, bytes: &[u8], now: Instant) -> Vec<Step> {
        self.run.now = now;
        self.stream.feed(bytes, &mut self.run);
        std::mem::take(&mut self.run.steps)
    }

    /// The process's stdout has ended.
    pub(crate) fn finish_stdout(&mut self) {
        self.stream.finish(&mut self.run);
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.run.positions.get(name).copied()
    }

    /// How `name` ended, if its record says it passed or failed.
    pub(crate) fn verdict(&self, name: &str) -> Option<Verdict> {
        match self.run.tests[self.position(name)?].ended? {
            (Record::Ok, duration) => Some(Verdict::Passed(duration)),
            (Record::Failed, duration) => Some(Verdict::Failed(duration)),
            (Record::Ignored, _) => None,
        }
    }

    /// The test that started and has no record, and since when.
    pub(crate) fn running(&self) -> Option<(&str, Instant)> {
        let state = self.run.tests.get(self.run.next)?;
        Some((self.run.order[self.run.next].as_str(), state.started?))
    }

    /// When `name` started, as far as the stream and the log tell: its start line, else the
    /// previous test's record. Its end, once it has a record, is this plus its duration.
    pub(crate) fn started_at(&self, name: &str) -> Option<Instant> {
        self.run.tests[self.position(name)?].started
    }

    /// Whether `name` was announced as started.
    pub(crate) fn was_started(&self, name: &str) -> bool {
        self.position(name)
            .is_some_and(|position| self.run.tests[position].announced)
    }

    /// Whether libtest printed its closing summary, with the failed tests' output.
    pub(crate) fn summary_read(&self) -> bool {
        self.stream.summary_read()
    }

    /// The captured output of a failed test, bounded, with a note on where the whole stream was
    /// saved (`whole_in`) if any was left out; `None` if no section was printed for it.
    pub(crate) fn failure_output(&self, name: &str, whole_in: Option<&Path>) -> Option<String> {
        let section = self.stream.section(self.position(name)?)?;
        Some(section.to_text(whole_in))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(name: &str) -> Step {
        Step::Started(name.into())
    }

    fn passed(name: &str, ms: u64) -> Step {
        Step::Passed(name.into(), Duration::from_millis(ms))
    }

    #[test]
    fn forged_lines_give_no_result_and_every_test_its_true_one() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut reader = BatchReader::new(&["c_passes", "b_fails", "a_forges"], (64, 64), t0);
        let out = |r: &mut BatchReader, bytes: &[u8], ms| r.read_stdout(bytes, at(ms));
        let log = |r: &mut BatchReader, bytes: &[u8], ms| r.read_log(bytes, at(ms));
        let header = b"\nrunning 3 tests\ntest a_forges ... ";
        assert_eq!(out(&mut reader, header, 1), [started("a_forges")]);
        // While `a_forges` runs, it claims results and a start for the others.
        let forged = b"\ntest c_passes ... FAILED\ntest b_fails ... ok\ntest b_fails ... ";
        assert!(out(&mut reader, forged, 2).is_empty());
        assert_eq!(reader.running().map(|(name, _)| name), Some("a_forges"));
        assert_eq!(
            log(&mut reader, b"ok a_forges\n", 11),
            [passed("a_forges", 10)]
        );
        assert_eq!(
            out(&mut reader, b"ok\ntest b_fails ... ", 11),
            [started("b_fails")]
        );
        // `b_fails` claims to pass, and that `c_passes` ran.
        assert!(out(&mut reader, b"ok\ntest c_passes ... ok\n", 12).is_empty());
        assert!(reader.verdict("b_fails").is_none());
        assert!(log(&mut reader, b"failed b_fails\n", 20).is_empty());
        assert_eq!(
            out(&mut reader, b"FAILED\ntest c_passes ... ", 20),
            [started("c_passes")]
        );
        assert_eq!(
            log(&mut reader, b"ok c_passes\n", 25),
            [passed("c_passes", 5)]
        );
        let summary = b"ok\n\nfailures:\n\n---- b_fails stdout ----\nboom\n\nfailures:\n    \
            b_fails\n\ntest result: FAILED. 2 passed; 1 failed\n\n";
        assert!(out(&mut reader, summary, 26).is_empty());
        reader.finish_stdout();
        let ms = Duration::from_millis;
        assert_eq!(reader.verdict("a_forges"), Some(Verdict::Passed(ms(10))));
        assert_eq!(reader.verdict("b_fails"), Some(Verdict::Failed(ms(9))));
        assert_eq!(reader.verdict("c_passes"), Some(Verdict::Passed(ms(5))));
        assert_eq!(reader.failure_output("b_fails", None).unwrap(), "boom\n\n");
        assert!(reader.summary_read() && reader.running().is_none());
    }

    #[test]
    fn a_crash_leaves_the_running_test_named() {
        let t0 = Instant::now();
        let mut reader = BatchReader::new(&["a", "b"], (64, 64), t0);
        reader.read_stdout(b"running 2 tests\ntest a ... ", t0);
        reader.read_log(b"ok a\n", t0);
        reader.read_stdout(b"ok\ntest b ... ", t0);
        assert_eq!(reader.running().map(|(name, _)| name), Some("b"));
        assert!(reader.verdict("b").is_none() && reader.was_started("b"));
        assert!(!reader.summary_read());
    }

    #[test]
    fn records_alone_still_start_and_time_each_test() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut reader = BatchReader::new(&["b", "a"], (64, 64), t0);
        // Output that never shows a start line (another thread of a test wrote over them).
        reader.read_stdout(b"garbage", at(1));
        assert_eq!(
            reader.read_log(b"ok a\nok b", at(4)),
            [started("a"), passed("a", 4)]
        );
        assert_eq!(
            reader.read_log(b"\n", at(7)),
            [started("b"), passed("b", 3)]
        );
        // Each starts where the one before ended: the batch's own start, then a's record.
        assert_eq!(reader.started_at("a"), Some(t0));
        assert_eq!(reader.started_at("b"), Some(at(4)));
    }

    #[test]
    fn a_record_for_a_test_out_of_order_settles_nothing() {
        let mut reader = BatchReader::new(&["a", "b"], (64, 64), Instant::now());
        // libtest runs `a` first: a record naming `b` first is not believed.
        reader.read_log(b"failed b\n", Instant::now());
        assert!(reader.verdict("b").is_none() && reader.verdict("a").is_none());
    }
}
