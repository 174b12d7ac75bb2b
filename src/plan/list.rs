//! Lists each binary's tests with libtest's `--list --format terse`, all binaries in parallel,
//! each listing parsed as it streams in, so that a listing of any size gives every test.
//!
//! A `harness = false` target that does not speak libtest's listing becomes one test named after
//! the binary, run whole. A libtest binary whose listing fails is reported and left out; the
//! others still run. A package's doctests are listed the same way, through cargo and rustdoc
//! (see `doc_list`).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rayon::prelude::*;

use super::doc_list;
use crate::cli::CargoOptions;
use crate::launch::Launcher;
use crate::libtest;
use crate::model::{Invocation, TargetKind, TestBinary, TestCase};
use crate::process::control::RunControl;
use crate::process::{self, Exit, Hooks, Limits};
use crate::rustdoc;

/// The tests of one binary, or why they could not be known.
#[derive(Debug)]
pub enum BinaryListing {
    Tests(Vec<TestCase>),
    /// Run whole as a single test; the string says why.
    Whole(TestCase, String),
    Failed(String),
}

/// List every binary, in parallel, each bounded by `timeout`.
/// A cancelled run (`control`) stops the listing processes too.
///
/// Listing waits on processes, not on the CPU, so the pool is sized by the number of listings
/// (two per binary, capped), not by cores: on 2 cores, 8 binaries list in one round, not eight.
/// `doc` says how doctests are listed, when there are any.
pub fn list_all(
    binaries: &[Arc<TestBinary>],
    how: ListOptions,
    control: &RunControl,
    doc: Option<DocListing>,
) -> Vec<BinaryListing> {
    let lister = Lister {
        timeout: how.timeout,
        launcher: how.launcher,
        control,
        doc,
    };
    let list = || {
        binaries
            .par_iter()
            .map(|binary| lister.list_binary(binary, Threads::Pool))
            .collect()
    };
    match rayon::ThreadPoolBuilder::new()
        .num_threads((2 * binaries.len()).clamp(1, MAX_LISTING_THREADS))
        .build()
    {
        Ok(pool) => pool.install(list),
        // A system out of threads still lists, one listing after another on this thread.
        Err(_) => binaries
            .iter()
            .map(|binary| lister.list_binary(binary, Threads::None))
            .collect(),
    }
}

/// How doctests are listed: with the build flags, and whether their ignored ones are asked
/// for. In edition 2024 each listing compiles the package's merged doctests (see `doc_list`),
/// so a run lists them once, and learns which are ignored when rustdoc runs them (libtest
/// reports an ignored test as such); `runner list` and `--ignored` need to know beforehand.
#[derive(Clone, Copy)]
pub struct DocListing<'a> {
    pub cargo: &'a CargoOptions,
    pub with_ignored: bool,
}

/// How every binary is listed: within a time limit, and started as its tests will be (through
/// the wrapper and target runner).
#[derive(Clone, Copy)]
pub struct ListOptions<'a> {
    pub timeout: Duration,
    pub launcher: &'a Launcher,
}

/// What every listing needs.
struct Lister<'a> {
    timeout: Duration,
    launcher: &'a Launcher,
    control: &'a RunControl,
    doc: Option<DocListing<'a>>,
}

/// Whether a binary's two listings may run at once on the listing pool.
#[derive(Clone, Copy)]
enum Threads {
    Pool,
    None,
}

/// At most this many binaries list at once.
const MAX_LISTING_THREADS: usize = 32;

impl Lister<'_> {
    /// List one binary (`ignored`: only its ignored tests).
    fn run_list(&self, binary: &TestBinary, ignored: bool) -> Result<Parsed, String> {
        let command = match (binary.kind == TargetKind::Doc, self.doc) {
            (true, Some(doc)) => doc_list::command(binary, doc.cargo, ignored),
            (true, None) => return Err("doctests are listed through cargo".into()),
            (false, _) => {
                let mut command = self.launcher.command(binary);
                command.args(libtest::list_args(ignored));
                command
            }
        };
        run_list(command, binary, self.timeout, self.control)
    }

    fn list_binary(&self, binary: &Arc<TestBinary>, threads: Threads) -> BinaryListing {
        // A libtest binary's two listings are independent: ask both at once. A custom harness may
        // run its whole suite when given flags it ignores, so it is asked a second time only if its
        // first answer was a real listing.
        let doc_without_ignored =
            binary.kind == TargetKind::Doc && !self.doc.is_some_and(|doc| doc.with_ignored);
        let (first, ignored) = if binary.custom_harness || is_prebuilt(binary) {
            (self.run_list(binary, false), None)
        } else if doc_without_ignored {
            (
                self.run_list(binary, false),
                Some(Ok(Parsed::Names(Vec::new()))),
            )
        } else {
            let all = || self.run_list(binary, false);
            let ignored = || self.run_list(binary, true);
            let (first, ignored) = match threads {
                Threads::Pool => rayon::join(all, ignored),
                Threads::None => (all(), ignored()),
            };
            (first, Some(ignored))
        };
        let all = match first {
            Ok(Parsed::Names(names)) => names,
            // Output that is not a listing: a custom harness that ignores `--list`.
            Ok(Parsed::NotLibtest(why)) if binary.custom_harness || is_prebuilt(binary) => {
                return whole(binary, why);
            }
            // A hang or a crash while listing is a broken binary, whatever its harness.
            Ok(Parsed::NotLibtest(why)) | Err(why) => return BinaryListing::Failed(why),
        };
        let ignored = ignored.unwrap_or_else(|| self.run_list(binary, true));
        let ignored = match ignored {
            Ok(Parsed::Names(names)) => names,
            Ok(Parsed::NotLibtest(why)) | Err(why) => return BinaryListing::Failed(why),
        };
        let invocation = match binary.kind {
            TargetKind::Doc => Invocation::Doctest,
            _ => Invocation::Libtest,
        };
        tests_of(binary, &all, &ignored, invocation)
    }
}

/// The listing of `binary`'s tests `all`, of which `ignored` are ignored.
pub(super) fn tests_of(
    binary: &Arc<TestBinary>,
    all: &[String],
    ignored: &[String],
    invocation: Invocation,
) -> BinaryListing {
    let ignored: std::collections::HashSet<&str> = ignored.iter().map(String::as_str).collect();
    let cases = all
        .iter()
        .map(|name| TestCase {
            binary: Arc::clone(binary),
            ignored: ignored.contains(name.as_str()),
            name: name.clone(),
            invocation,
        })
        .collect();
    BinaryListing::Tests(cases)
}

fn is_prebuilt(binary: &TestBinary) -> bool {
    binary.kind == TargetKind::Prebuilt
}

fn whole(binary: &Arc<TestBinary>, why: String) -> BinaryListing {
    let case = TestCase {
        binary: Arc::clone(binary),
        name: binary.target_name.clone(),
        ignored: false,
        invocation: Invocation::WholeBinary,
    };
    let note = format!(
        "{} does not list its tests the way libtest does ({why}); it runs whole, as one test",
        binary.id
    );
    BinaryListing::Whole(case, note)
}

enum Parsed {
    Names(Vec<String>),
    NotLibtest(String),
}

/// Run a prepared listing `command` of `binary` and parse what it prints.
fn run_list(
    mut command: Command,
    binary: &TestBinary,
    timeout: Duration,
    control: &RunControl,
) -> Result<Parsed, String> {
    command.env("RUNNER", "1");
    let limits = Limits {
        timeout: Some(timeout),
        grace: Duration::from_secs(1),
        ..Limits::default()
    };
    // The listing is parsed as it streams in: what the capture keeps of stdout is bounded, and
    // a listing of megabytes must still give every name.
    let mut listing = match binary.kind {
        TargetKind::Doc => libtest::ListingParser::skipping(rustdoc::is_timing_line),
        _ => libtest::ListingParser::default(),
    };
    let mut on_stdout = |bytes: &[u8]| listing.feed(bytes);
    let hooks = Hooks {
        on_slow: None,
        on_stdout: Some(&mut on_stdout),
    };
    let done = process::run(&mut command, &limits, control, None, hooks).map_err(|e| {
        let program = command.get_program().to_string_lossy().into_owned();
        format!("could not run `{program}` to list {}: {e}", binary.id)
    })?;
    let stderr_tail = || {
        let text = done.stderr.to_text();
        let text = text.trim();
        if text.is_empty() {
            String::new()
        } else {
            format!("; stderr: {}", last_lines(text, 5))
        }
    };
    if done.timed_out {
        return Err(format!(
            "listing its tests took longer than {}s and was stopped",
            timeout.as_secs_f64()
        ));
    }
    match done.exit {
        Exit::Code(0) => {}
        Exit::Code(code) => {
            return Ok(Parsed::NotLibtest(format!(
                "`--list` exited with code {code}{}",
                stderr_tail()
            )))
        }
        Exit::Signal(signal) => {
            return Err(format!(
                "`--list` crashed: killed by {}{}",
                process::signal_name(signal),
                stderr_tail()
            ))
        }
    }
    listing.finish().map(Parsed::Names).or_else(|line| {
        Ok(Parsed::NotLibtest(format!(
            "`--list` printed {line:?}, which is not a libtest listing"
        )))
    })
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
