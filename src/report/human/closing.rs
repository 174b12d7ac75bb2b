//! The closing report's lists: the tests that did not pass (each with its rerun command), the
//! binaries that could not be listed, the flaky tests, and the tests a cancellation interrupted
//! or a stop left unstarted, each named.

use std::collections::HashMap;

use console::Style;

use super::style::{shown_id, status_style, Painter};
use crate::model::ListFailure;
use crate::report::escape::visible;
use crate::report::event::Outcome;
use crate::report::figures::plural;
use crate::report::summary::Summary;

/// The tests that did not pass, sorted, each with where it panicked and why (the location
/// highlighted), the command that reruns it, and its output when `--failure-output` keeps it
/// for the end (`outputs`, by shown id).
pub(super) fn failure_list(
    painter: &Painter,
    summary: &Summary,
    outputs: &HashMap<String, String>,
) -> String {
    if summary.failures.is_empty() {
        return String::new();
    }
    let count = summary.failures.len();
    let title = format!("\n{count} test{} did not pass:\n", plural(count));
    let mut text = painter.paint(&title, Style::new().red().bold());
    for failure in &summary.failures {
        let id = shown_id(&failure.id);
        text += &painter.status_line(failure.label, status_style(&failure.outcome), None, &id);
        if let Some(panic) = &failure.panic {
            let location = painter.paint(&visible(&panic.location), Style::new().cyan().bold());
            text += &format!(
                "{:21}panicked at {location}: {}\n",
                "",
                visible(&panic.message)
            );
        }
        // No panic to show: it did not run.
        if matches!(failure.outcome, Outcome::SetupFailed { .. }) {
            text += &format!("{:21}{}\n", "", visible(&failure.description));
        }
        if let Some(rerun) = &failure.rerun {
            text += &format!("{:>20}{}\n", "rerun: ", visible(rerun));
        }
        if let Some(output) = outputs.get(&id) {
            text += output;
        }
    }
    text
}

/// Binaries that could not be listed, flaky tests (when `flaky` asks for them), and tests a
/// stop left unrun.
pub(super) fn other_problems(painter: &Painter, summary: &Summary, flaky: bool) -> String {
    let mut text = String::new();
    for ListFailure { binary_id, message } in &summary.list_failures {
        text += &format!(
            "{} {} could not be listed and none of its tests ran: {}\n",
            painter.paint("error:", Style::new().red().bold()),
            visible(binary_id),
            visible(message),
        );
    }
    if flaky && !summary.flaky.is_empty() {
        text += &painter.paint(
            &format!("{} flaky:\n", summary.flaky.len()),
            Style::new().yellow().bold(),
        );
        for (id, attempt) in &summary.flaky {
            text += &format!("    {} (passed on attempt {attempt})\n", shown_id(id));
        }
    }
    text + &unfinished(painter, summary)
}

/// The tests a cancellation interrupted (each named: after a CI timeout this says which test
/// hung) and the count of those a stop left unstarted.
fn unfinished(painter: &Painter, summary: &Summary) -> String {
    let stats = &summary.stats;
    let not_started = summary.not_started;
    let mut text = String::new();
    if stats.cancelled > 0 || (summary.cancelled_by.is_some() && not_started > 0) {
        let total = stats.cancelled + not_started;
        text += &format!(
            "{total} test{} cancelled ({} interrupted while running, {not_started} not started)\n",
            plural(total),
            stats.cancelled,
        );
        for id in &summary.interrupted {
            let style = Style::new().yellow().bold();
            text += &painter.status_line("CANCEL", style, None, &shown_id(id));
        }
    } else if not_started > 0 {
        text += &format!(
            "{not_started} test{} not started: the run stopped after {} failure{} (-x/--maxfail)\n",
            plural(not_started),
            stats.failed,
            plural(stats.failed)
        );
    }
    text
}

/// The flaky tests' count, above the Summary line (whose format is fixed): passed, but only on
/// a retry, and counted as `--flaky-result` says.
pub(super) fn flaky_count(summary: &Summary, flaky_fails: bool) -> String {
    match summary.stats.flaky {
        0 => String::new(),
        n => format!(
            "Flaky: {n} test{} passed only on a retry (counted as {})\n",
            plural(n),
            if flaky_fails {
                "failed, --flaky-result fail"
            } else {
                "passed"
            }
        ),
    }
}
