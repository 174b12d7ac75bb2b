//! Everything runner knows about libtest, the harness `cargo test` builds into test binaries:
//! the arguments it takes, the exit codes it uses, its `--list --format terse` listing (read as
//! it streams, [`ListingParser`]), the "running 0 tests" header of an `--exact` run that matched
//! nothing, and what a batch process says about its tests ([`BatchReader`]: verdicts from its
//! `--logfile`, starts and failure output from its pretty output, one test thread), or a process
//! that runs its tests on several threads, as rustdoc runs doctests ([`ParallelReader`]).
//!
//! Nothing else in runner spells a libtest flag, exit code or output line.

mod batch_reader;
mod bounded;
mod listing;
mod logfile;
mod parallel;
mod stream;

use std::ffi::OsStr;
use std::path::Path;

use crate::report::event::Outcome;

pub(crate) use batch_reader::{BatchReader, Step, Verdict};
pub(crate) use listing::ListingParser;
pub(crate) use parallel::ParallelReader;

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

/// Arguments that run the named tests one after another on one thread, so that they start in
/// name order, and write each test's result to `logfile`, where no test's output can reach; the
/// names follow these arguments.
pub(crate) fn batch_args(include_ignored: bool, logfile: &Path) -> Vec<&OsStr> {
    let mut args: Vec<&OsStr> = ["--exact", "--test-threads=1", "--logfile"]
        .map(OsStr::new)
        .to_vec();
    args.push(logfile.as_os_str());
    if include_ignored {
        args.push(OsStr::new("--include-ignored"));
    }
    args
}

/// Arguments that run the selected tests on `threads` threads and write each test's result to
/// `logfile` (a pipe that every libtest run of the process writes to in turn: see
/// [`ParallelReader`]); filters follow these arguments.
pub(crate) fn parallel_args(threads: usize, include_ignored: bool, logfile: &Path) -> Vec<String> {
    let mut args = vec![
        format!("--test-threads={}", threads.max(1)),
        "--logfile".to_string(),
        logfile.display().to_string(),
    ];
    if include_ignored {
        args.push("--include-ignored".to_string());
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

/// Whether `head` (the start of a line of a batch's output) is libtest's start line for `name`:
/// `test NAME ... `, or `test NAME - should panic ... `.
fn is_start_line(head: &[u8], name: &str) -> bool {
    head.strip_prefix(b"test ")
        .and_then(|rest| rest.strip_prefix(name.as_bytes()))
        .is_some_and(|rest| rest.starts_with(b" ... ") || rest.starts_with(b" - should panic ... "))
}

/// The count of libtest's header line of a run: `running 3 tests` → 3.
fn header_count(line: &[u8]) -> Option<usize> {
    let rest = line.strip_prefix(b"running ")?;
    let count = rest
        .strip_suffix(b" tests")
        .or_else(|| rest.strip_suffix(b" test"))?;
    std::str::from_utf8(count).ok()?.parse().ok()
}

/// The warning libtest prints on stderr for `--logfile`, which batched mode relies on. libtest
/// 1.95 ends it with no newline, so that what follows is glued to it.
const LOGFILE_WARNING: &str = "warning: `--logfile` is deprecated";

/// A batch process's stderr without libtest's warnings about `--logfile`, which are the runner's
/// doing, not the tests' (one per libtest run: rustdoc may make several).
pub(crate) fn without_logfile_warning(stderr: String) -> String {
    if !stderr.contains(LOGFILE_WARNING) {
        return stderr;
    }
    let mut kept = String::with_capacity(stderr.len());
    let mut rest = stderr.as_str();
    while let Some(at) = rest.find(LOGFILE_WARNING) {
        kept.push_str(&rest[..at]);
        rest = &rest[at + LOGFILE_WARNING.len()..];
        rest = rest.strip_prefix('\n').unwrap_or(rest);
    }
    kept.push_str(rest);
    kept
}

/// Where the next newline is: `std`'s search (memchr), which is fast even in a debug build of
/// the runner, where a byte loop of ours is not.
fn find_newline(bytes: &[u8]) -> Option<usize> {
    let mut rest = bytes;
    let read = std::io::BufRead::skip_until(&mut rest, b'\n').ok()?;
    (read > 0 && bytes[read - 1] == b'\n').then(|| read - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn start_lines() {
        assert!(is_start_line(b"test a::b ... ", "a::b"));
        assert!(is_start_line(
            b"test a::b - should panic ... output",
            "a::b"
        ));
        assert!(!is_start_line(b"test a::bc ... ", "a::b"));
        assert!(!is_start_line(b"test a::b ..", "a::b"));
    }

    #[test]
    fn run_headers() {
        assert_eq!(header_count(b"running 12 tests"), Some(12));
        assert_eq!(header_count(b"running 1 test"), Some(1));
        assert_eq!(header_count(b"running some tests"), None);
    }

    #[test]
    fn newlines_are_found() {
        assert_eq!(find_newline(b"ab\ncd\n"), Some(2));
        assert_eq!(find_newline(b"\n"), Some(0));
        assert_eq!(find_newline(b"abc"), None);
        assert_eq!(find_newline(b""), None);
    }

    #[test]
    fn only_the_logfile_warning_is_removed() {
        let stderr = "warning: `--logfile` is deprecated\nthread 'a' panicked\n".to_string();
        assert_eq!(without_logfile_warning(stderr), "thread 'a' panicked\n");
        assert_eq!(without_logfile_warning("other\n".into()), "other\n");
        // As libtest 1.95 prints it: no newline, and once per run of a rustdoc process.
        let glued = "   Doc-tests d\nwarning: `--logfile` is deprecatedwarning: `--logfile` is \
            deprecatederror: doctest failed\n";
        assert_eq!(
            without_logfile_warning(glued.into()),
            "   Doc-tests d\nerror: doctest failed\n"
        );
    }
}
