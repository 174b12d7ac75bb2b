//! What a libtest run with several test threads says about each of its tests, as when rustdoc
//! runs a package's doctests: verdicts from the log (`--logfile`), each test's start and
//! duration from the order libtest starts tests in, and each failed test's output from the
//! closing summary on stdout.
//!
//! libtest sorts the tests it runs by name and keeps N of them running: it starts the first N
//! at once and, each time a test ends, the next in name order. So the k-th test of a run starts
//! with the run if k < N, else when the (k-N)-th record of the run is written. That needs the
//! tests a run holds. rustdoc may run a package's doctests as two libtest runs, one after the
//! other (edition 2024 compiles into one binary the doctests it can, runs that, then runs the
//! others), each announced on stdout (`running N tests`), both logging into one file. A run
//! whose count is every test still without a record holds exactly those; otherwise (the merged
//! run of edition 2024) its tests are only known as their records come, and a test is taken to
//! have started when the record N places before its own came, which is right when tests end in
//! the order they started, and keeps the sum of the durations right in any case.
//!
//! Test output cannot reach the log, so verdicts come only from it. rustdoc captures each
//! doctest's output, so stdout is libtest's and rustdoc's own, yet it is only believed for what
//! it can prove: a run's header counts only once the run before it has every record and has
//! printed its closing list of failures, and a summary section only for a test that failed.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::batch_reader::{Step, Verdict};
use super::find_newline;
use super::logfile::{LogParser, Record, Records};
use super::stream::{PrettyStream, Progress};

#[derive(Debug, Default, Clone)]
struct TestState {
    record: Option<Record>,
    started: Option<Instant>,
    duration: Duration,
    /// The run that wrote its record.
    run: Option<usize>,
    /// A `Started` step was given for it.
    announced: bool,
}

/// One libtest run of the process.
#[derive(Debug)]
struct RunState {
    started: Instant,
    /// The tests it announced.
    count: usize,
    /// Its tests in the order they start, when known from its start.
    order: Option<Vec<usize>>,
    /// Its tests in the order their records came, with when.
    ended: Vec<(usize, Instant)>,
    /// Its failed tests, in name order: its closing list of failures.
    failed: Vec<usize>,
    /// How far the closing list has been read: lines matched after its `failures:` line.
    closing: Option<usize>,
}

impl RunState {
    fn all_recorded(&self) -> bool {
        self.ended.len() >= self.count
    }

    fn closed(&self) -> bool {
        self.all_recorded() && (self.failed.is_empty() || self.closing == Some(self.failed.len()))
    }
}

/// Everything but the streams, so that a stream can read it while it is fed.
#[derive(Debug)]
struct State {
    threads: usize,
    /// The tests of the process, in name order.
    names: Vec<String>,
    positions: HashMap<String, usize>,
    tests: Vec<TestState>,
    runs: Vec<RunState>,
    /// When the process started: a record before any run was announced is timed from it.
    began: Instant,
    now: Instant,
    steps: Vec<Step>,
}

impl State {
    fn announce(&mut self, position: usize) {
        if !std::mem::replace(&mut self.tests[position].announced, true) {
            self.steps.push(Step::Started(self.names[position].clone()));
        }
    }

    /// A run announced itself with `count` tests.
    fn start_run(&mut self, count: usize) {
        let waiting: Vec<usize> = (0..self.tests.len())
            .filter(|&p| self.tests[p].record.is_none())
            .collect();
        let order = (waiting.len() == count).then_some(waiting);
        let first: Vec<usize> = order.iter().flatten().take(self.threads).copied().collect();
        for position in first {
            self.tests[position].started = Some(self.now);
            self.announce(position);
        }
        self.runs.push(RunState {
            started: self.now,
            count,
            order,
            ended: Vec::new(),
            failed: Vec::new(),
            closing: None,
        });
    }

    /// The test without a record whose name ends `line`: the longest such name, since the
    /// name follows the verdict and any message.
    fn named(&self, line: &[u8]) -> Option<usize> {
        line.iter()
            .enumerate()
            .filter(|&(_, &byte)| byte == b' ')
            .find_map(|(space, _)| {
                let candidate = std::str::from_utf8(&line[space + 1..]).ok()?;
                let &position = self.positions.get(candidate)?;
                self.tests[position].record.is_none().then_some(position)
            })
    }

    fn record(&mut self, position: usize, record: Record) {
        if self.runs.is_empty() {
            // No header was read: a run of every test, from the process's start.
            let began = std::mem::replace(&mut self.now, self.began);
            self.start_run(usize::MAX);
            self.now = began;
        }
        let index = self.runs.len() - 1;
        let run = &mut self.runs[index];
        let k = run.ended.len();
        let started = match (&run.order, self.tests[position].started) {
            (Some(_), Some(started)) => started,
            _ if k < self.threads => run.started,
            _ => run.ended[k - self.threads].1,
        };
        run.ended.push((position, self.now));
        if record == Record::Failed {
            let at = run.failed.partition_point(|&p| p < position);
            run.failed.insert(at, position);
        }
        let next = run
            .order
            .as_ref()
            .and_then(|o| o.get(k + self.threads))
            .copied();
        let test = &mut self.tests[position];
        test.record = Some(record);
        test.run = Some(index);
        test.duration = self.now.saturating_duration_since(started);
        let duration = test.duration;
        self.announce(position);
        if record == Record::Ok {
            self.steps
                .push(Step::Passed(self.names[position].clone(), duration));
        }
        // A slot is free: libtest starts the next test of the run in name order.
        if let Some(next) = next {
            self.tests[next].started = Some(self.now);
            self.announce(next);
        }
    }

    /// A whole line of stdout; returns the test count if it is the header of the next run.
    fn stdout_line(&mut self, line: &[u8]) -> Option<usize> {
        let header = super::header_count(line);
        let Some(run) = self.runs.last_mut() else {
            return header;
        };
        if header.is_some() && run.closed() {
            return header;
        }
        run.closing = match run.closing {
            _ if !run.all_recorded() => None,
            _ if line == b"failures:" => Some(0),
            Some(n) if n == run.failed.len() => Some(n),
            Some(n) => {
                let name = self.names[run.failed[n]].as_bytes();
                (line.strip_prefix(b"    ") == Some(name)).then_some(n + 1)
            }
            None => None,
        };
        None
    }
}

impl Records for State {
    fn complete(&mut self, line: &[u8], record: Record) -> bool {
        let Some(position) = self.named(line) else {
            return false;
        };
        self.record(position, record);
        true
    }
}

/// One run's view of the state, for its stream.
struct RunProgress<'a> {
    state: &'a State,
    run: usize,
}

impl Progress for RunProgress<'_> {
    fn running_line(&mut self, _head: &[u8]) {}

    fn all_recorded(&self) -> bool {
        self.state.runs[self.run].all_recorded()
    }

    /// Sections come in the order the tests ended: a test's place is its record's.
    fn failed_position(&self, name: &[u8]) -> Option<usize> {
        let position = *self.state.positions.get(std::str::from_utf8(name).ok()?)?;
        let test = &self.state.tests[position];
        if test.record != Some(Record::Failed) || test.run != Some(self.run) {
            return None;
        }
        let ended = &self.state.runs[self.run].ended;
        ended.iter().position(|&(p, _)| p == position)
    }
}

/// Reads one process of libtest runs with `threads` test threads: its log and its stdout.
#[derive(Debug)]
pub(crate) struct ParallelReader {
    state: State,
    log: LogParser,
    /// One per run, fed the part of stdout after its header.
    streams: Vec<PrettyStream>,
    /// The start of the stdout line being received (a header or a line of a closing list).
    line: Vec<u8>,
    line_len: usize,
    longest: usize,
    section_limits: (usize, usize),
}

impl ParallelReader {
    /// A reader for a process that runs `names` on `threads` threads, started at `now`,
    /// keeping at most `section_limits` (head, tail) bytes of each failed test's output.
    pub(crate) fn new(
        names: &[&str],
        threads: usize,
        section_limits: (usize, usize),
        now: Instant,
    ) -> Self {
        let mut names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        names.sort_unstable();
        names.dedup();
        let longest = names.iter().map(String::len).max().unwrap_or(0);
        let positions = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        ParallelReader {
            state: State {
                threads: threads.max(1),
                tests: vec![TestState::default(); names.len()],
                names,
                positions,
                runs: Vec::new(),
                began: now,
                now,
                steps: Vec::new(),
            },
            log: LogParser::new(longest),
            streams: Vec::new(),
            line: Vec::new(),
            line_len: 0,
            longest,
            section_limits,
        }
    }

    /// Bytes the log grew by, read at `now`.
    pub(crate) fn read_log(&mut self, bytes: &[u8], now: Instant) -> Vec<Step> {
        self.state.now = now;
        self.log.feed(bytes, &mut self.state);
        std::mem::take(&mut self.state.steps)
    }

    /// A piece of stdout, read at `now` (after the log was read up to then).
    pub(crate) fn read_stdout(&mut self, mut bytes: &[u8], now: Instant) -> Vec<Step> {
        self.state.now = now;
        while let Some(newline) = find_newline(bytes) {
            self.take(&bytes[..=newline]);
            let line = std::mem::take(&mut self.line);
            let overlong = self.line_len > line.len();
            let header = match overlong {
                true => None,
                false => self.state.stdout_line(line.trim_ascii_end()),
            };
            self.line = line;
            self.line.clear();
            self.line_len = 0;
            if let Some(count) = header {
                self.finish_stream();
                self.state.start_run(count);
                self.streams
                    .push(PrettyStream::new(self.longest, self.section_limits));
            }
            bytes = &bytes[newline + 1..];
        }
        self.take(bytes);
        std::mem::take(&mut self.state.steps)
    }

    /// Feed the current run's stream, and keep the start of the line for [`State::stdout_line`].
    fn take(&mut self, bytes: &[u8]) {
        let run = self.streams.len().saturating_sub(1);
        if let Some(stream) = self.streams.last_mut() {
            let state = &self.state;
            stream.feed(bytes, &mut RunProgress { state, run });
        }
        // A closing list's line is four spaces and a name; a header is shorter still.
        let cap = self.longest + 32;
        let keep = bytes.len().min(cap.saturating_sub(self.line.len()));
        self.line.extend_from_slice(&bytes[..keep]);
        self.line_len += bytes.len();
    }

    fn finish_stream(&mut self) {
        let run = self.streams.len().saturating_sub(1);
        if let Some(stream) = self.streams.last_mut() {
            let state = &self.state;
            stream.finish(&mut RunProgress { state, run });
        }
    }

    /// The process's stdout has ended.
    pub(crate) fn finish_stdout(&mut self) {
        self.finish_stream();
    }

    fn test(&self, name: &str) -> Option<&TestState> {
        self.state.tests.get(*self.state.positions.get(name)?)
    }

    /// How `name` ended, if its record says it passed or failed.
    pub(crate) fn verdict(&self, name: &str) -> Option<Verdict> {
        let test = self.test(name)?;
        match test.record? {
            Record::Ok => Some(Verdict::Passed(test.duration)),
            Record::Failed => Some(Verdict::Failed(test.duration)),
            Record::Ignored => None,
        }
    }

    /// Whether the record of `name` says libtest did not run it.
    pub(crate) fn was_ignored(&self, name: &str) -> bool {
        let test = self.test(name);
        test.is_some_and(|t| t.record == Some(Record::Ignored))
    }

    /// Whether `name` is known to have started and has no record: it was running.
    pub(crate) fn was_running(&self, name: &str) -> bool {
        self.test(name)
            .is_some_and(|t| t.started.is_some() && t.record.is_none())
    }

    /// How long `name` has been running, if it is known to have started.
    pub(crate) fn running_for(&self, name: &str) -> Option<Duration> {
        let started = self.test(name)?.started?;
        Some(self.state.now.saturating_duration_since(started))
    }

    /// Whether the run that recorded `name` printed its closing summary.
    pub(crate) fn summary_read(&self, name: &str) -> bool {
        let run = self.test(name).and_then(|t| t.run);
        run.and_then(|run| self.streams.get(run))
            .is_some_and(PrettyStream::summary_read)
    }

    /// The captured output of a failed test, bounded, with a note on where the whole stream was
    /// saved (`whole_in`) if any was left out; `None` if no section was printed for it.
    pub(crate) fn failure_output(&self, name: &str, whole_in: Option<&Path>) -> Option<String> {
        let position = *self.state.positions.get(name)?;
        let run = self.state.tests[position].run?;
        let ended = &self.state.runs.get(run)?.ended;
        let place = ended.iter().position(|&(p, _)| p == position)?;
        let section = self.streams.get(run)?.section(place)?;
        Some(section.to_text(whole_in))
    }

    /// The time the process's runs spent running tests, from each header to its last record.
    pub(crate) fn time_in_runs(&self) -> Duration {
        let busy = |run: &RunState| {
            let last = run.ended.last().map_or(run.started, |&(_, at)| at);
            last.saturating_duration_since(run.started)
        };
        self.state.runs.iter().map(busy).sum()
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

    /// A reader of `names` on two threads, and a clock in milliseconds from its start.
    fn reader(names: &[&str]) -> (ParallelReader, impl Fn(u64) -> Instant) {
        let t0 = Instant::now();
        let reader = ParallelReader::new(names, 2, (1024, 1024), t0);
        (reader, move |ms| t0 + Duration::from_millis(ms))
    }

    #[test]
    fn one_run_times_each_test_from_the_slot_it_took() {
        let (mut r, at) = reader(&["d", "c", "b", "a"]);
        assert_eq!(
            r.read_stdout(b"\nrunning 4 tests\n", at(0)),
            [started("a"), started("b")]
        );
        // `b` ends first: `c` takes its slot; `a` fails and `d` takes its slot.
        assert_eq!(
            r.read_log(b"ok b\n", at(10)),
            [passed("b", 10), started("c")]
        );
        // What a test prints on stdout claims results: nothing comes of it.
        let forged = b"test b ... ok\ntest c ... FAILED\nfailures:\nrunning 1 test\n";
        assert!(r.read_stdout(forged, at(11)).is_empty());
        assert_eq!(r.read_log(b"failed a\n", at(15)), [started("d")]);
        assert!(r.was_running("c") && r.was_running("d") && !r.was_running("a"));
        assert_eq!(
            r.read_log(b"ok c\nok d\n", at(40)),
            [passed("c", 30), passed("d", 25)]
        );
        let summary = b"\nfailures:\n\n---- a stdout ----\nboom\nfailures:\n\nfailures:\n    a\n\n\
            test result: FAILED. 3 passed; 1 failed\n\n";
        assert!(r.read_stdout(summary, at(41)).is_empty());
        r.finish_stdout();
        assert_eq!(
            r.verdict("a"),
            Some(Verdict::Failed(Duration::from_millis(15)))
        );
        assert_eq!(r.failure_output("a", None).unwrap(), "boom\nfailures:\n\n");
        assert!(r.summary_read("a"));
        assert_eq!(r.time_in_runs(), Duration::from_millis(40));
    }

    #[test]
    fn two_runs_one_after_the_other_each_give_their_tests_and_sections() {
        let (mut r, at) = reader(&["a", "b", "c", "d", "e"]);
        // The merged run: 3 of 5 tests, which ones only their records tell.
        assert!(r.read_stdout(b"running 3 tests\n", at(0)).is_empty());
        assert_eq!(
            r.read_log(b"ok b\nok a\n", at(8)),
            [started("b"), passed("b", 8), started("a"), passed("a", 8)]
        );
        // A message may come before the name; the third record took the first one's slot.
        let late = b"failed: test did not panic as expected at src/lib.rs:4:0 d\n";
        assert_eq!(r.read_log(late, at(12)), [started("d")]);
        assert_eq!(
            r.verdict("d"),
            Some(Verdict::Failed(Duration::from_millis(4)))
        );
        // A header inside the failure's output, before the closing list, is output.
        let summary = b"\nfailures:\n\n---- d stdout ----\nrunning 9 tests\n\nfailures:\n    d\n\n\
            test result: FAILED. 2 passed; 1 failed\n\nrunning 2 tests\n";
        assert_eq!(r.read_stdout(summary, at(20)), [started("c"), started("e")]);
        assert_eq!(r.read_log(b"ok e\n", at(25)), [passed("e", 5)]);
        assert!(r.read_log(b"failed c\n", at(30)).is_empty());
        let second = b"\nfailures:\n\n---- c stdout ----\nc's output\n\nfailures:\n    c\n\n";
        r.read_stdout(second, at(31));
        r.finish_stdout();
        assert_eq!(r.failure_output("d", None).unwrap(), "running 9 tests\n\n");
        assert_eq!(r.failure_output("c", None).unwrap(), "c's output\n\n");
        assert_eq!(
            r.verdict("c"),
            Some(Verdict::Failed(Duration::from_millis(10)))
        );
        assert_eq!(r.time_in_runs(), Duration::from_millis(12 + 10));
    }

    #[test]
    fn ignored_records_and_unknown_names() {
        let (mut r, at) = reader(&["src/lib.rs - a (line 1)", "src/lib.rs - b (line 9)"]);
        r.read_stdout(b"running 2 tests\n", at(0));
        // A name not of this run settles nothing; a longer name is preferred to its suffix.
        assert!(r
            .read_log(b"ok src/other.rs - b (line 9)\n", at(1))
            .is_empty());
        r.read_log(b"ignored src/lib.rs - a (line 1)\n", at(2));
        assert!(r.was_ignored("src/lib.rs - a (line 1)"));
        assert_eq!(r.verdict("src/lib.rs - a (line 1)"), None);
        assert_eq!(r.verdict("src/lib.rs - b (line 9)"), None);
    }
}
