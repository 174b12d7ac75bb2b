//! Output for people: a progress bar on a terminal, a line per test with `-v`, failures with
//! their captured output as they happen, and the closing report whose last line is the
//! `Summary:` line CI log scanners read.
//!
//! Everything a test controls (output, names, messages) goes through [`visible`] before it is
//! printed, so a test cannot clear the screen or retitle the terminal; the report's own colours
//! are added after that, and only when colour is on.

use std::io::Write;
use std::time::Duration;

use console::Style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::escape::visible;
use super::event::TestResult;
use super::event::{
    Attempt, AutoWorkers, Outcome, PassLabel, RunMode, RunStats, SkipReason, TestEvent, TestId,
};
use super::figures::{self, plural};
use super::prediction::auto_reason;
use super::summary::Summary;
use super::Reporter;
use crate::cli::Verbosity;
use crate::model::ListFailure;

pub struct HumanOptions {
    pub verbosity: Verbosity,
    pub color: bool,
    /// Draw a progress bar (stderr is a terminal).
    pub progress: bool,
}

pub struct HumanReporter {
    options: HumanOptions,
    out: Box<dyn Write + Send>,
    bar: Option<ProgressBar>,
    running: usize,
    passed: usize,
    failed: usize,
    /// Under `--compare`, the serial pass only shows its progress.
    label: Option<PassLabel>,
}

impl HumanReporter {
    pub fn new(options: HumanOptions, out: Box<dyn Write + Send>) -> Self {
        HumanReporter {
            options,
            out,
            bar: None,
            running: 0,
            passed: 0,
            failed: 0,
            label: None,
        }
    }

    /// Colour `text`, leaving its leading and trailing newlines outside the escape codes so
    /// that no code spills onto the next line (the Summary line must stay plain).
    fn paint(&self, text: &str, style: Style) -> String {
        if !self.options.color {
            return text.to_string();
        }
        let core = text.trim_matches('\n');
        let start = text.len() - text.trim_start_matches('\n').len();
        let end = start + core.len();
        format!(
            "{}{}{}",
            &text[..start],
            style.force_styling(true).apply_to(core),
            &text[end..]
        )
    }

    /// Write lines above the progress bar; a closed stdout must not stop the run.
    fn print(&mut self, text: &str) {
        let out = &mut self.out;
        let mut write = || {
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        };
        match &self.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    fn quiet(&self) -> bool {
        self.options.verbosity == Verbosity::Quiet
    }

    fn verbose(&self) -> bool {
        self.options.verbosity == Verbosity::Verbose
    }

    /// The first pass of `--compare` (serial) or `--compare-modes` (process) shows only its
    /// progress and figures; the second pass reports in full.
    fn in_baseline_pass(&self) -> bool {
        self.label.is_some_and(PassLabel::is_baseline)
    }

    fn status_style(outcome: &Outcome) -> Style {
        match outcome {
            Outcome::Passed => Style::new().green().bold(),
            _ => Style::new().red().bold(),
        }
    }

    fn status_line(
        &self,
        label: &str,
        style: Style,
        duration: Option<Duration>,
        id: &str,
    ) -> String {
        let time = match duration {
            Some(d) => format!("[{:>8.3}s]", d.as_secs_f64()),
            None => " ".repeat(11),
        };
        format!(
            "{} {time} {id}\n",
            self.paint(&format!("{label:>8}"), style)
        )
    }

    fn on_run_started(&mut self, tests: usize, binaries: usize, workers: usize, how: RunHow) {
        self.running = 0;
        self.passed = 0;
        self.failed = 0;
        if !self.quiet() {
            let pass = match self.label {
                Some(label) => format!("{} run: ", label.name()),
                None => String::new(),
            };
            let why = match how.auto {
                Some(auto) => format!("; auto: {}", auto_reason(auto)),
                None => String::new(),
            };
            let line = format!(
                "{pass}Running {tests} test{} from {binaries} binar{} with {workers} worker{} ({}{why})\n",
                plural(tests),
                if binaries == 1 { "y" } else { "ies" },
                plural(workers),
                how.mode.describe(),
            );
            self.print(&self.paint(&line, Style::new().bold()));
        }
        if let Some(old) = self.bar.take() {
            old.finish_and_clear();
        }
        if self.options.progress && !self.quiet() {
            self.bar = Some(self.progress_bar(tests));
            self.update_bar();
        }
    }

    fn progress_bar(&self, tests: usize) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(tests as u64), ProgressDrawTarget::stderr());
        let template = if self.options.color {
            "{elapsed_precise:.dim} [{bar:30.green/red}] {pos}/{len} {msg}"
        } else {
            "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    }

    fn on_finished(&mut self, result: &TestResult) {
        self.running = self.running.saturating_sub(1);
        let passed = !result.is_failure();
        if passed {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.update_bar();
        // A pass prints nothing unless -v: no line is formatted for it on this per-test path.
        if self.in_baseline_pass() || (passed && !self.verbose()) {
            return;
        }
        let id = shown_id(&result.id);
        let mut block = self.status_line(
            result.label(),
            Self::status_style(result.outcome()),
            Some(result.duration()),
            &id,
        );
        if passed {
            self.print(&block);
            return;
        }
        block.push_str(&output_block(self, &id, result.stdout(), result.stderr()));
        let why = format!("    {id}: {}\n", visible(&result.describe()));
        block.push_str(&self.paint(&why, Style::new().red()));
        self.print(&block);
    }

    fn on_retry(&mut self, id: &TestId, failed: &Attempt) {
        if self.quiet() || self.in_baseline_pass() {
            return;
        }
        let mut line = self.status_line(
            &format!("TRY {} {}", failed.attempt, failed.outcome.label()),
            Style::new().yellow().bold(),
            Some(failed.duration),
            &shown_id(id),
        );
        if self.verbose() {
            let id = shown_id(id);
            line.push_str(&output_block(self, &id, &failed.stdout, &failed.stderr));
        }
        self.print(&line);
    }

    fn on_skipped(&mut self, id: &TestId, reason: SkipReason) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if self.verbose() && !self.in_baseline_pass() {
            let label = match reason {
                SkipReason::Ignored => "SKIP",
                SkipReason::NotStarted => "NOTRUN",
            };
            let line = self.status_line(label, Style::new().yellow(), None, &shown_id(id));
            self.print(&line);
        }
    }

    fn on_run_finished(&mut self, stats: &RunStats) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.in_baseline_pass() && !self.quiet() {
            let name = format!("{} run", self.label.map_or("first", PassLabel::name));
            let line = figures::figures_line(&name, stats);
            self.print(&line);
        }
    }

    fn update_bar(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{} passed, {} failed, {} running",
                self.passed, self.failed, self.running
            ));
        }
    }

    /// The tests that did not pass, sorted, each with the command that reruns it.
    fn failure_list(&self, summary: &Summary) -> String {
        if summary.failures.is_empty() {
            return String::new();
        }
        let count = summary.failures.len();
        let title = format!("\n{count} test{} did not pass:\n", plural(count));
        let mut text = self.paint(&title, Style::new().red().bold());
        for failure in &summary.failures {
            text += &self.status_line(
                failure.label,
                Self::status_style(&failure.outcome),
                None,
                &shown_id(&failure.id),
            );
            if let Some(rerun) = &failure.rerun {
                text += &format!("{:>20}{}\n", "rerun: ", visible(rerun));
            }
        }
        text
    }

    /// Binaries that could not be listed, flaky tests, and tests a stop left unrun.
    fn other_problems(&self, summary: &Summary) -> String {
        let stats = &summary.stats;
        let mut text = String::new();
        for ListFailure { binary_id, message } in &summary.list_failures {
            text += &format!(
                "{} {} could not be listed and none of its tests ran: {}\n",
                self.paint("error:", Style::new().red().bold()),
                visible(binary_id),
                visible(message),
            );
        }
        if !summary.flaky.is_empty() {
            text += &self.paint(
                &format!("{} flaky:\n", summary.flaky.len()),
                Style::new().yellow().bold(),
            );
            for (id, attempt) in &summary.flaky {
                text += &format!("    {} (passed on attempt {attempt})\n", shown_id(id));
            }
        }
        let not_started = summary.not_started;
        if stats.cancelled > 0 || (summary.cancelled_by.is_some() && not_started > 0) {
            let total = stats.cancelled + not_started;
            text += &format!(
                "{total} test{} cancelled ({} interrupted while running, {not_started} not started)\n",
                plural(total),
                stats.cancelled,
            );
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
}

impl Reporter for HumanReporter {
    fn on_event(&mut self, event: &TestEvent) {
        match event {
            TestEvent::RunStarted {
                tests,
                binaries,
                workers,
                label,
                mode,
                auto,
                ..
            } => {
                self.label = *label;
                let how = RunHow {
                    mode: *mode,
                    auto: auto.as_ref(),
                };
                self.on_run_started(*tests, *binaries, *workers, how);
            }
            TestEvent::Note { message } => {
                if !self.quiet() && !self.in_baseline_pass() {
                    let note = self.paint("note:", Style::new().cyan());
                    let line = format!("{note} {}\n", visible(message));
                    self.print(&line);
                }
            }
            TestEvent::ListFailed(ListFailure { binary_id, message }) => {
                let line = format!(
                    "{} could not list the tests of {}: {}\n",
                    self.paint("error:", Style::new().red().bold()),
                    visible(binary_id),
                    visible(message),
                );
                self.print(&line);
            }
            TestEvent::TestStarted { .. } => {
                self.running += 1;
                self.update_bar();
            }
            TestEvent::TestSlow { id, elapsed } => {
                if !self.quiet() {
                    let style = Style::new().yellow().bold();
                    let line = self.status_line("SLOW", style, Some(*elapsed), &shown_id(id));
                    self.print(&line);
                }
            }
            TestEvent::TestFinished(result) => self.on_finished(result),
            TestEvent::TestRetry { id, failed } => self.on_retry(id, failed),
            TestEvent::TestSkipped { id, reason } => self.on_skipped(id, *reason),
            TestEvent::RunFinished(stats) => self.on_run_finished(stats),
        }
    }

    fn finish(&mut self, summary: &Summary, serial: Option<&Summary>) -> anyhow::Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let stats = &summary.stats;
        let mut text = self.failure_list(summary);
        text += &self.other_problems(summary);
        if !self.quiet() && stats.passed + stats.failed > 0 {
            text.push('\n');
            // The figures name the longest test; they hold no colour, so all of it is escaped.
            if let Some(serial) = serial {
                text += &visible(&figures::comparison(serial, summary));
            }
            text += &visible(&figures::closing_figures(summary));
        }
        // The last line stays exactly this, uncoloured, for CI log scanners.
        text += &summary.summary_line();
        self.print(&text);
        Ok(())
    }
}

/// How a pass runs, as its header says: the mode, and why `-n auto` chose the workers.
struct RunHow<'a> {
    mode: RunMode,
    auto: Option<&'a AutoWorkers>,
}

/// A test's id as printed: binary id and name, their control characters escaped.
fn shown_id(id: &TestId) -> String {
    visible(&id.to_string()).into_owned()
}

/// A test's captured output (escaped) under headers naming the stream; `id` is escaped already.
fn output_block(reporter: &HumanReporter, id: &str, stdout: &str, stderr: &str) -> String {
    let mut block = String::new();
    for (stream, text) in [("STDOUT", stdout), ("STDERR", stderr)] {
        if text.is_empty() {
            continue;
        }
        let header = format!("--- {stream}: {id} ---");
        block.push_str(&reporter.paint(&header, Style::new().dim()));
        block.push('\n');
        let text = visible(text);
        block.push_str(&text);
        if !text.ends_with('\n') {
            block.push('\n');
        }
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paint_keeps_newlines_outside_escape_codes() {
        let reporter = HumanReporter::new(
            HumanOptions {
                verbosity: Verbosity::Normal,
                color: true,
                progress: false,
            },
            Box::new(std::io::sink()),
        );
        let painted = reporter.paint("\ntitle\n", Style::new().red());
        assert!(painted.starts_with("\n\u{1b}["), "{painted:?}");
        assert!(painted.ends_with("m\n"), "{painted:?}");
    }
}
