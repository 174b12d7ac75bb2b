//! Everything runner knows about libtest, the harness `cargo test` builds into test binaries:
//! the arguments it takes, the exit codes it uses, its `--list --format terse` listing, the
//! "running 0 tests" header of an `--exact` run that matched nothing, and its streamed pretty
//! output (one test thread), which batched mode reads as it arrives.
//!
//! Nothing else in runner spells a libtest flag, exit code or output line.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::report::event::Outcome;

/// libtest exits with this code when a test fails (a panic in the test).
pub(crate) const FAILURE_EXIT_CODE: i32 = 101;

/// Arguments that run exactly one test, output not captured (the runner captures it).
pub(crate) fn single_test_args(name: &str, ignored: bool) -> Vec<&str> {
    let mut args = vec!["--exact", name, "--nocapture"];
    if ignored {
        args.push("--ignored");
    }
    args
}

/// Arguments that run the named tests one after another on one thread, so that their results
/// stream out in order; the names follow these arguments.
pub(crate) fn batch_args(include_ignored: bool) -> Vec<&'static str> {
    let mut args = vec!["--exact", "--test-threads=1"];
    if include_ignored {
        args.push("--include-ignored");
    }
    args
}

/// Arguments that list the tests (only the ignored ones with `ignored`).
pub(crate) fn list_args(ignored: bool) -> Vec<&'static str> {
    let mut args = vec!["--list", "--format", "terse"];
    if ignored {
        args.push("--ignored");
    }
    args
}

/// Parse `name: test` lines; the error is the first line that is not one.
pub(crate) fn parse_terse(stdout: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for line in stdout.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        match line.rsplit_once(": ") {
            Some((name, "test" | "benchmark" | "bench")) if !name.is_empty() => {
                names.push(name.to_string())
            }
            _ => return Err(line.chars().take(120).collect()),
        }
    }
    Ok(names)
}

/// How a libtest process that ran one test and exited with `code` ended. A zero exit still
/// needs [`ran_no_test`] to tell a pass from an `--exact` name that matched nothing.
pub(crate) fn outcome_of_exit_code(code: i32) -> Outcome {
    match code {
        0 => Outcome::Passed,
        FAILURE_EXIT_CODE => Outcome::Failed {
            exit_code: FAILURE_EXIT_CODE,
        },
        code => Outcome::Exited { exit_code: code },
    }
}

/// libtest prints `running 0 tests` when `--exact NAME` matched nothing, and still exits 0.
/// Only its header counts: the test's own output (`--nocapture`) comes after it and may say
/// anything. The header is the first line, so the start of the stream is enough.
pub(crate) fn ran_no_test(stdout_head: &[u8]) -> bool {
    stdout_head
        .split(|&b| b == b'\n')
        .map(|line| line.trim_ascii())
        .find(|line| !line.is_empty())
        == Some(b"running 0 tests".as_slice())
}

/// How a test of a streamed run ended, as libtest printed it.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    Passed,
    Failed(Duration),
}

/// What a piece of streamed output told, as it arrived.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Started(String),
    Passed(String, Duration),
}

/// Reads libtest's pretty output (one test thread) as it streams in.
pub(crate) struct StreamParser {
    partial: Vec<u8>,
    /// The test whose `test NAME ... ` line came without a verdict yet.
    running: Option<String>,
    /// Every test announced as started, so none is announced twice.
    started: HashSet<String>,
    running_since: Instant,
    last_event: Instant,
    results: HashMap<String, Verdict>,
    /// Everything from the first `failures:` line on, parsed at the end.
    tail: String,
    in_tail: bool,
}

impl StreamParser {
    pub(crate) fn new(now: Instant) -> Self {
        StreamParser {
            partial: Vec::new(),
            running: None,
            started: HashSet::new(),
            running_since: now,
            last_event: now,
            results: HashMap::new(),
            tail: String::new(),
            in_tail: false,
        }
    }

    /// The verdict libtest printed for `name`, if it printed one.
    pub(crate) fn verdict(&self, name: &str) -> Option<&Verdict> {
        self.results.get(name)
    }

    /// The test that started and has no verdict yet, and since when.
    pub(crate) fn running(&self) -> Option<(&str, Instant)> {
        self.running
            .as_deref()
            .map(|name| (name, self.running_since))
    }

    /// Whether `name` was announced as started.
    pub(crate) fn was_started(&self, name: &str) -> bool {
        self.started.contains(name)
    }

    pub(crate) fn feed(&mut self, bytes: &[u8], now: Instant) -> Vec<Step> {
        let mut steps = Vec::new();
        self.partial.extend_from_slice(bytes);
        while let Some(newline) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=newline).collect();
            let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            self.line(&line, now, &mut steps);
        }
        // A start line is written without its newline until the test ends.
        let pending = String::from_utf8_lossy(&self.partial).into_owned();
        if let Some(name) = start_line(&pending) {
            if self.running.as_deref() != Some(name) {
                self.start(name.to_string(), now, &mut steps);
            }
        }
        steps
    }

    fn start(&mut self, name: String, now: Instant, steps: &mut Vec<Step>) {
        self.running = Some(name.clone());
        self.running_since = now;
        if self.started.insert(name.clone()) {
            steps.push(Step::Started(name));
        }
    }

    fn line(&mut self, line: &str, now: Instant, steps: &mut Vec<Step>) {
        if self.in_tail || line == "failures:" {
            self.in_tail = true;
            self.tail.push_str(line);
            self.tail.push('\n');
            return;
        }
        let Some(rest) = line.strip_prefix("test ") else {
            return;
        };
        let Some((name, verdict)) = rest.split_once(" ... ") else {
            return;
        };
        let name = name.trim_end_matches(" - should panic").to_string();
        if self.running.as_deref() != Some(name.as_str()) {
            // Start and verdict arrived in one read.
            self.start(name.clone(), self.last_event, steps);
        }
        let duration = now.saturating_duration_since(self.running_since);
        self.last_event = now;
        self.running = None;
        match verdict.trim() {
            "ok" => {
                self.results.insert(name.clone(), Verdict::Passed);
                steps.push(Step::Passed(name, duration));
            }
            "FAILED" => {
                self.results.insert(name, Verdict::Failed(duration));
            }
            // Anything else (ignored, or output that is not libtest's) leaves the test without a
            // verdict, so it runs again alone.
            _ => {}
        }
    }

    /// The captured output of each failed test, from the `---- NAME stdout ----` sections.
    pub(crate) fn sections(&self) -> HashMap<String, String> {
        let mut sections = HashMap::new();
        let mut current: Option<(String, String)> = None;
        for line in self.tail.lines() {
            let header = line
                .strip_prefix("---- ")
                .and_then(|l| l.strip_suffix(" stdout ----"));
            if let Some(name) = header {
                if let Some((n, text)) = current.take() {
                    sections.insert(n, text);
                }
                current = Some((name.to_string(), String::new()));
            } else if line == "failures:" && current.is_some() {
                // The closing list of names follows; the last section ends here.
                if let Some((n, text)) = current.take() {
                    sections.insert(n, text);
                }
            } else if let Some((_, text)) = current.as_mut() {
                text.push_str(line);
                text.push('\n');
            }
        }
        if let Some((n, text)) = current {
            sections.insert(n, text);
        }
        sections
    }
}

/// `test NAME ... ` (no verdict yet) → NAME.
fn start_line(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("test ")?;
    let name = rest.strip_suffix(" ... ")?;
    Some(name.trim_end_matches(" - should panic"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terse_listing_parses() {
        let names = parse_terse("a::b: test\nr#match: test\nünï: test\n\n").unwrap();
        assert_eq!(names, ["a::b", "r#match", "ünï"]);
        assert!(parse_terse("").unwrap().is_empty());
    }

    #[test]
    fn other_output_is_not_a_listing() {
        let err = parse_terse("a: test\ncustom harness ran 3 checks\n").unwrap_err();
        assert_eq!(err, "custom harness ran 3 checks");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(outcome_of_exit_code(0), Outcome::Passed);
        assert_eq!(
            outcome_of_exit_code(101),
            Outcome::Failed { exit_code: 101 }
        );
        assert_eq!(outcome_of_exit_code(3), Outcome::Exited { exit_code: 3 });
    }

    #[test]
    fn running_zero_tests_is_only_the_header() {
        assert!(ran_no_test(b"\nrunning 0 tests\n"));
        assert!(!ran_no_test(b"\nrunning 1 test\nrunning 0 tests\n"));
    }

    #[test]
    fn parser_follows_a_streaming_chunk() {
        let t0 = Instant::now();
        let mut parser = StreamParser::new(t0);
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(parser.feed(b"\nrunning 3 tests\n", at(0)).is_empty());
        assert_eq!(
            parser.feed(b"test a ... ", at(1)),
            [Step::Started("a".into())]
        );
        assert_eq!(
            parser.feed(b"ok\ntest b - should panic ... ", at(11)),
            [
                Step::Passed("a".into(), Duration::from_millis(10)),
                Step::Started("b".into())
            ]
        );
        assert_eq!(
            parser.feed(b"ok\n", at(14)),
            [Step::Passed("b".into(), Duration::from_millis(3))]
        );
        parser.feed(
            b"test c ... FAILED\n\nfailures:\n\n---- c stdout ----\n",
            at(20),
        );
        parser.feed(
            b"boom\nmore\n\nfailures:\n    c\n\ntest result: FAILED.\n",
            at(21),
        );
        assert!(matches!(*parser.verdict("c").unwrap(), Verdict::Failed(_)));
        assert_eq!(parser.sections()["c"], "boom\nmore\n\n");
        assert!(parser.running().is_none());
    }

    #[test]
    fn a_crash_leaves_the_running_test_named() {
        let mut parser = StreamParser::new(Instant::now());
        parser.feed(
            b"running 2 tests\ntest a ... ok\ntest b ... ",
            Instant::now(),
        );
        assert_eq!(parser.running().map(|(n, _)| n), Some("b"));
        assert!(parser.verdict("b").is_none());
    }

    #[test]
    fn unreadable_verdict_leaves_the_test_unsettled() {
        let mut parser = StreamParser::new(Instant::now());
        parser.feed(b"test a ... garbage from a child\n", Instant::now());
        assert!(parser.verdict("a").is_none());
    }
}
