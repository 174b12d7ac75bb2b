//! Panic backtraces nobody reads. With `RUST_BACKTRACE` set, every panic prints a backtrace,
//! and symbolising it costs a debug test binary about 0.1 s of CPU, once per process (the
//! debug info is parsed once, then cached). `cargo test` pays that once per binary; one process
//! per test pays it for every test that panics on its way to passing (`#[should_panic]`, a
//! poisoned lock, a property test shrinking a counterexample), and the text is thrown away with
//! the rest of a passing test's output.
//!
//! So a test that passed the last time it ran, and panicked doing so then or in a passing run
//! since its last failure (the history says so), runs with
//! `RUST_BACKTRACE=0`; the user's value moves to `RUST_LIB_BACKTRACE` (unless that is set), so
//! that `std::backtrace::Backtrace::capture` in the test behaves as before: only the panic
//! message's backtrace is left out. If such a test fails, its report says so, its retries run
//! with backtraces, and its next run does too (it failed last time). A batch chunk runs quiet
//! when each of its tests passed last time and one of them panicked doing so.
//! `--keep-backtraces` (or output of passing tests being shown) turns this off.

use std::collections::HashSet;
use std::ffi::OsString;
use std::process::Command;

use crate::model::{TestCase, TestId};
use crate::plan::history::History;

/// The variable the panic hook reads.
const PANIC_VARIABLE: &str = "RUST_BACKTRACE";
/// The variable `Backtrace::capture` reads first, falling back to [`PANIC_VARIABLE`].
const CAPTURE_VARIABLE: &str = "RUST_LIB_BACKTRACE";

/// Which tests of the run leave out their panics' backtraces, and the user's setting they
/// would otherwise get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietBacktraces {
    /// The selected tests that passed last time and panicked doing so (see the module doc).
    panicked_passing: HashSet<TestId>,
    /// The selected tests that did not pass last time, or never ran: a chunk with one of them
    /// keeps its backtraces.
    unproven: HashSet<TestId>,
    /// `RUST_BACKTRACE` as the user set it: the value `RUST_LIB_BACKTRACE` takes.
    user_value: OsString,
    /// Whether the user set `RUST_LIB_BACKTRACE` themselves (then it stays as it is).
    capture_set: bool,
}

impl QuietBacktraces {
    /// The tests of `cases` that run quiet, under the runner's environment as `var` reads it;
    /// `None` when panics print no backtrace anyway, or no test qualifies.
    pub fn plan(
        history: &History,
        cases: &[TestCase],
        var: impl Fn(&str) -> Option<OsString>,
    ) -> Option<QuietBacktraces> {
        let user_value = var(PANIC_VARIABLE).filter(|value| value != "0" && !value.is_empty())?;
        let last_pass = |case: &TestCase| history.last_pass(&case.binary.id, &case.name);
        // Most runs have no such test: they cost one lookup per test, no allocation.
        if !cases.iter().any(|case| last_pass(case) == Some(true)) {
            return None;
        }
        let ids = |wanted: &dyn Fn(Option<bool>) -> bool| -> HashSet<TestId> {
            (cases.iter())
                .filter(|case| wanted(last_pass(case)))
                .map(TestCase::id)
                .collect()
        };
        Some(QuietBacktraces {
            panicked_passing: ids(&|last| last == Some(true)),
            unproven: ids(&|last| last.is_none()),
            user_value,
            capture_set: var(CAPTURE_VARIABLE).is_some(),
        })
    }

    /// Whether the first attempt of `case`, run alone, leaves its panics' backtraces out.
    pub fn quiets(&self, case: &TestCase) -> bool {
        self.panicked_passing.contains(&case.id())
    }

    /// Whether a chunk of these tests leaves its panics' backtraces out: each passed last time,
    /// and one of them panicked doing so.
    pub fn quiets_chunk(&self, chunk: &[TestCase]) -> bool {
        let ids: Vec<TestId> = chunk.iter().map(TestCase::id).collect();
        !ids.iter().any(|id| self.unproven.contains(id))
            && ids.iter().any(|id| self.panicked_passing.contains(id))
    }

    /// Give `command` the quiet environment.
    pub fn apply(&self, command: &mut Command) {
        command.env(PANIC_VARIABLE, "0");
        if !self.capture_set {
            command.env(CAPTURE_VARIABLE, &self.user_value);
        }
    }
}

/// Whether a test's output shows that it panicked (the panic hook's message), with or without
/// a backtrace.
pub fn shows_a_panic(stdout: &str, stderr: &str) -> bool {
    // `thread 'NAME' panicked at FILE:LINE:COL:`, or in newer Rust
    // `thread 'NAME' (ID) panicked at ...`.
    let in_text = |text: &str| {
        text.lines()
            .any(|line| line.starts_with("thread '") && line.contains(" panicked at "))
    };
    in_text(stderr) || in_text(stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Invocation, TargetKind, TestBinary};
    use crate::plan::history::Observation;
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    fn case(name: &str) -> TestCase {
        let binary = Arc::new(TestBinary {
            id: "b".into(),
            path: PathBuf::from("/b"),
            package: None,
            target_name: "b".into(),
            kind: TargetKind::Test,
            cwd: PathBuf::from("/"),
            env: BTreeMap::new(),
            custom_harness: false,
        });
        TestCase {
            binary,
            name: name.into(),
            ignored: false,
            invocation: Invocation::Libtest,
        }
    }

    fn history(runs: &[(&str, bool, bool)]) -> History {
        let observations: Vec<Observation> = runs
            .iter()
            .map(|(name, failed, panicked)| Observation {
                panicked: Some(*panicked),
                ..Observation::alone(TestId::new("b", name), Duration::from_millis(5), *failed)
            })
            .collect();
        History::of(&observations)
    }

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn only_tests_that_passed_with_a_panic_run_quiet() {
        let history = history(&[
            ("should_panic", false, true),
            ("plain", false, false),
            ("broken", true, true),
        ]);
        let cases = [
            case("should_panic"),
            case("plain"),
            case("broken"),
            case("new"),
        ];
        let quiet = QuietBacktraces::plan(&history, &cases, env(&[("RUST_BACKTRACE", "1")]))
            .expect("one test qualifies");
        let quiet_names: Vec<&str> = cases
            .iter()
            .filter(|c| quiet.quiets(c))
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(quiet_names, ["should_panic"]);
        assert!(quiet.quiets_chunk(&[case("should_panic"), case("plain")]));
        assert!(!quiet.quiets_chunk(&[case("plain")]), "nothing to save");
        assert!(!quiet.quiets_chunk(&[case("should_panic"), case("broken")]));
        assert!(!quiet.quiets_chunk(&[case("should_panic"), case("new")]));
    }

    #[test]
    fn nothing_is_quieted_when_panics_print_no_backtrace() {
        let history = history(&[("should_panic", false, true)]);
        let cases = [case("should_panic")];
        for unset in [
            &[][..],
            &[("RUST_BACKTRACE", "0")],
            &[("RUST_BACKTRACE", "")],
        ] {
            assert_eq!(QuietBacktraces::plan(&history, &cases, env(unset)), None);
        }
    }

    #[test]
    fn the_users_value_moves_to_the_capture_variable() {
        let history = history(&[("should_panic", false, true)]);
        let cases = [case("should_panic")];
        let envs = |quiet: QuietBacktraces| {
            let mut command = Command::new("true");
            quiet.apply(&mut command);
            command
                .get_envs()
                .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
                .collect::<Vec<_>>()
        };
        let quiet =
            QuietBacktraces::plan(&history, &cases, env(&[("RUST_BACKTRACE", "full")])).unwrap();
        assert_eq!(
            envs(quiet),
            [
                ("RUST_BACKTRACE".into(), Some("0".into())),
                ("RUST_LIB_BACKTRACE".into(), Some("full".into()))
            ]
        );
        let own = [("RUST_BACKTRACE", "1"), ("RUST_LIB_BACKTRACE", "0")];
        let quiet = QuietBacktraces::plan(&history, &cases, env(&own)).unwrap();
        assert_eq!(envs(quiet), [("RUST_BACKTRACE".into(), Some("0".into()))]);
    }

    #[test]
    fn a_panic_is_seen_in_either_stream() {
        let message = "thread 'main' panicked at src/lib.rs:3:5:\nboom\n";
        assert!(shows_a_panic("", message));
        assert!(shows_a_panic(message, ""));
        let with_id = "running 1 test\nthread '<unnamed>' (1217) panicked at tests/t.rs:9:13:\n";
        assert!(shows_a_panic("", with_id));
        assert!(!shows_a_panic(
            "all good\n",
            "warning: panicked at nothing\n"
        ));
    }
}
