//! `runner list`: the selected tests grouped by binary, as text or JSON.
//!
//! The text form shows names with their control characters escaped ([`visible`]), as every
//! report for people does; the JSON form carries them exactly (JSON escapes them itself).

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use super::escape::visible;
use crate::cli::RunConfig;
use crate::exit_code;
use crate::model::{Invocation, ListFailure, TestCase};
use crate::plan::Plan;

#[derive(Serialize)]
struct ListedBinary<'a> {
    binary_id: &'a str,
    path: String,
    kind: &'a crate::model::TargetKind,
    cwd: String,
    tests: Vec<ListedTest<'a>>,
}

#[derive(Serialize)]
struct ListedTest<'a> {
    name: &'a str,
    ignored: bool,
    whole_binary: bool,
}

/// `runner list`: the selected tests grouped by binary.
pub fn print_listing(config: &RunConfig, plan: &Plan) -> Result<i32> {
    let mut grouped: Vec<ListedBinary> = Vec::new();
    let mut cases: Vec<&TestCase> = plan.to_run.iter().chain(&plan.ignored).collect();
    cases.sort_by(|a, b| (&a.binary.id, &a.name).cmp(&(&b.binary.id, &b.name)));
    for case in cases {
        if grouped.last().is_none_or(|g| g.binary_id != case.binary.id) {
            grouped.push(ListedBinary {
                binary_id: &case.binary.id,
                path: case.binary.path.display().to_string(),
                kind: &case.binary.kind,
                cwd: case.binary.cwd.display().to_string(),
                tests: Vec::new(),
            });
        }
        if let Some(group) = grouped.last_mut() {
            group.tests.push(ListedTest {
                name: &case.name,
                ignored: case.ignored,
                whole_binary: case.invocation == Invocation::WholeBinary,
            });
        }
    }
    let mut out = std::io::stdout().lock();
    if config.list_json {
        serde_json::to_writer(&mut out, &serde_json::json!({ "binaries": grouped }))?;
        writeln!(out)?;
    } else {
        let width = console::Term::stderr()
            .size_checked()
            .map(|(_, cols)| usize::from(cols));
        for message in &plan.notes {
            eprint!(
                "{}",
                super::human::wrapped("note: ", &visible(message), width)
            );
        }
        for group in &grouped {
            writeln!(out, "{}:", visible(group.binary_id))?;
            for test in &group.tests {
                let mark = match (test.ignored, test.whole_binary) {
                    (true, _) => " (ignored)",
                    (false, true) => " (whole binary)",
                    _ => "",
                };
                writeln!(out, "    {}{mark}", visible(test.name))?;
            }
        }
        // The same counts as the run's header: the tests that will run, the binaries they
        // come from, and the ignored tests left out.
        let tests = plan.to_run.len();
        let binaries = plan.binaries_to_run();
        writeln!(
            out,
            "{tests} test{} to run from {binaries} binar{} ({} ignored, not run)",
            if tests == 1 { "" } else { "s" },
            if binaries == 1 { "y" } else { "ies" },
            plan.ignored.len()
        )?;
    }
    Ok(say_list_failures(plan))
}

/// The binaries that could not be listed, one error line each, and the exit code of a listing
/// (or a prediction) that had them.
pub(super) fn say_list_failures(plan: &Plan) -> i32 {
    for ListFailure { binary_id, message } in &plan.list_failures {
        eprintln!(
            "error: could not list the tests of {}: {}",
            visible(binary_id),
            visible(message)
        );
    }
    if plan.list_failures.is_empty() {
        exit_code::OK
    } else {
        exit_code::LIST_FAILED
    }
}
