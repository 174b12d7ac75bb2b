//! `runner list`: the selected tests grouped by binary, as text or JSON.
//!
//! The text form shows names with their control characters escaped ([`visible`]), as every
//! report for people does; the JSON form carries them exactly (JSON escapes them itself).

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use super::escape::visible;
use super::figures::plural;
use crate::cli::{NoTests, RunConfig};
use crate::exit_code;
use crate::filter::TestFacts;
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
    write_listing(config.list_json, plan)?;
    Ok(say_list_failures(plan))
}

/// `runner --no-run`: the listing of what a run would run, a line saying that nothing ran
/// (with what the tests would have run through), and the exit code the run would have had
/// before running anything: 104 for a binary that could not be listed, else 4 (or a warning,
/// as `--no-tests` says) when no test was selected.
pub fn print_no_run(config: &RunConfig, plan: &Plan, through: &[String]) -> Result<i32> {
    // A run's `--message-format json` asks for the listing's JSON.
    write_listing(config.json, plan)?;
    if !config.json {
        let mut out = std::io::stdout().lock();
        let through = match through.is_empty() {
            true => String::new(),
            false => format!(" (each test would run through `{}`)", through.join(" ")),
        };
        writeln!(out, "--no-run: built and listed; nothing was run{through}")?;
        let scripts = scripts_needed(config, plan);
        if !scripts.is_empty() {
            writeln!(
                out,
                "setup scripts a run would start: {}",
                scripts.join(", ")
            )?;
        }
    }
    let code = say_list_failures(plan);
    if code != exit_code::OK || !plan.to_run.is_empty() {
        return Ok(code);
    }
    Ok(match config.no_tests {
        NoTests::Fail => {
            eprintln!(
                "error: no test was selected; check the filters, or pass --no-tests=pass to \
                 allow an empty run"
            );
            exit_code::NO_TESTS
        }
        NoTests::Warn => {
            eprintln!("warning: no test was selected");
            exit_code::OK
        }
        NoTests::Pass => exit_code::OK,
    })
}

/// The setup scripts the selected tests need, each with how many need it (doctests run
/// through cargo and get none).
fn scripts_needed(config: &RunConfig, plan: &Plan) -> Vec<String> {
    let mut counts = vec![0usize; config.setup.scripts.len()];
    for case in plan
        .to_run
        .iter()
        .filter(|c| c.invocation != Invocation::Doctest)
    {
        for script in config.setup.scripts_for(&TestFacts::of(case, None)) {
            counts[script] += 1;
        }
    }
    let needed = config.setup.scripts.iter().zip(counts);
    needed
        .filter(|(_, count)| *count > 0)
        .map(|(script, n)| format!("{} (for {n} test{})", script.name, plural(n)))
        .collect()
}

/// The selected tests grouped by binary, as text or JSON, on stdout.
fn write_listing(json: bool, plan: &Plan) -> Result<()> {
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
    if json {
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
    Ok(())
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
