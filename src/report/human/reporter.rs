//! The human reporter: what it prints as each event arrives, and the closing report.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use console::Style;

use super::bar::Bar;
use super::closing;
use super::output::{output_block, OutputBounds};
use super::style::{shown_id, status_style, wrapped, Painter};
use crate::cli::{Levels, ShowOutput, StatusLevel, Verbosity};
use crate::model::ListFailure;
use crate::phases::{self, Phase};
use crate::report::escape::visible;
use crate::report::event::{
    Attempt, AutoWorkers, PassLabel, RunMode, RunStats, ScriptReport, SkipReason, TestEvent,
    TestId, TestResult, Verdict,
};
use crate::report::figures::{self, plural};
use crate::report::prediction::auto_reason;
use crate::report::summary::{Passes, Summary};
use crate::report::Reporter;

pub struct HumanOptions {
    pub verbosity: Verbosity,
    pub color: bool,
    /// Draw a progress bar (stderr is a terminal).
    pub progress: bool,
    /// How much of a test's output is shown.
    pub output: OutputBounds,
    /// Which statuses get a line, and when output is shown.
    pub levels: Levels,
    /// Flaky tests fail the run (`--flaky-result fail`).
    pub flaky_fails: bool,
    /// The terminal's width, when the report goes to one: notes wrap to it.
    pub width: Option<usize>,
}

pub struct HumanReporter {
    options: HumanOptions,
    painter: Painter,
    out: Box<dyn Write + Send>,
    bar: Option<Bar>,
    running: usize,
    passed: usize,
    failed: usize,
    /// Under `--compare`, the serial pass only shows its progress.
    label: Option<PassLabel>,
    /// Lines (and outputs) of tests that did not fail, for the closing report, by shown id.
    at_end: Vec<(String, String)>,
    /// Failures' output kept for the closing report (`--failure-output final`), by shown id.
    failure_outputs: HashMap<String, String>,
    /// Tests that were reported slow, by shown id.
    slow: HashSet<String>,
}

/// Under the output of a failure that ran with its panics' backtraces left out.
const QUIETED_NOTE: &str = "note: this test passed with a panic last time, so it ran with \
    RUST_BACKTRACE=0 (--keep-backtraces keeps it); its next run prints the backtrace";

impl HumanReporter {
    pub fn new(options: HumanOptions, out: Box<dyn Write + Send>) -> Self {
        HumanReporter {
            painter: Painter {
                color: options.color,
            },
            options,
            out,
            bar: None,
            running: 0,
            passed: 0,
            failed: 0,
            label: None,
            at_end: Vec::new(),
            failure_outputs: HashMap::new(),
            slow: HashSet::new(),
        }
    }

    fn levels(&self) -> Levels {
        self.options.levels
    }

    fn paint(&self, text: &str, style: Style) -> String {
        self.painter.paint(text, style)
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

    /// The first pass of `--compare` (serial) or `--compare-modes` (process) shows only its
    /// progress and figures; the second pass reports in full.
    fn in_baseline_pass(&self) -> bool {
        self.label.is_some_and(PassLabel::is_baseline)
    }

    fn on_run_started(
        &mut self,
        (tests, binaries, ignored): (usize, usize, usize),
        workers: usize,
        (mode, auto): (RunMode, Option<&AutoWorkers>),
    ) {
        self.running = 0;
        self.passed = 0;
        self.failed = 0;
        // Under a comparison, the closing report is the last pass's.
        self.at_end.clear();
        self.failure_outputs.clear();
        self.slow.clear();
        if !self.quiet() {
            let pass = match self.label {
                Some(label) => format!("{} run: ", label.name()),
                None => String::new(),
            };
            let ignored = match ignored {
                0 => String::new(),
                n => format!(", {n} ignored"),
            };
            // Why `-n auto` chose this many workers, when it did.
            let why = match auto {
                Some(auto) => format!("; auto: {}", auto_reason(auto)),
                None => String::new(),
            };
            let line = format!(
                "{pass}Running {tests} test{} from {binaries} binar{} with {workers} worker{} ({}{why}){ignored}\n",
                plural(tests),
                if binaries == 1 { "y" } else { "ies" },
                plural(workers),
                mode.describe(),
            );
            self.print(&self.paint(&line, Style::new().bold()));
        }
        if let Some(old) = self.bar.take() {
            old.clear();
        }
        if self.options.progress && !self.quiet() {
            self.bar = Some(Bar::new(tests, self.options.color));
            self.update_bar();
        }
    }

    fn on_started(&mut self, id: &TestId) {
        self.running += 1;
        if let Some(bar) = &self.bar {
            bar.started(shown_id(id));
        }
        self.update_bar();
    }

    fn on_finished(&mut self, result: &TestResult) {
        self.running = self.running.saturating_sub(1);
        let failure = result.is_failure();
        match result.verdict() {
            // Neither passed nor failed: the bar counts it as done only.
            Verdict::Cancelled => {}
            _ if failure => self.failed += 1,
            _ => self.passed += 1,
        }
        let id = shown_id(&result.id);
        if let Some(bar) = &self.bar {
            bar.ended(&id);
            bar.inc();
        }
        self.update_bar();
        if self.in_baseline_pass() {
            return;
        }
        let levels = self.levels();
        let (level, show) = match result.verdict() {
            _ if failure => (StatusLevel::Fail, levels.failure_output),
            Verdict::Flaky { .. } => (StatusLevel::Retry, levels.success_output),
            Verdict::Leaky { .. } => (StatusLevel::Leak, levels.success_output),
            _ => (StatusLevel::Pass, levels.success_output),
        };
        let shown_now = levels.status >= level;
        let wanted_at_end = !failure
            && (levels.final_status >= level
                || (levels.final_status >= StatusLevel::Slow && self.slow.contains(&id)));
        // A pass shown nowhere formats nothing: this is the per-test path of big suites.
        if !shown_now && !wanted_at_end && !show.at_end {
            return;
        }
        let line = self.painter.status_line(
            result.label(),
            status_style(result.outcome()),
            Some(result.duration()),
            &id,
        );
        let output = self.output_of(result, &id, show);
        if shown_now {
            let mut block = line.clone();
            if show.immediate {
                block.push_str(&output);
            }
            if failure {
                let why = format!("    {id}: {}\n", visible(&result.describe()));
                block.push_str(&self.paint(&why, Style::new().red()));
            }
            self.print(&block);
        }
        let kept = if show.at_end { output } else { String::new() };
        if failure && !kept.is_empty() {
            self.failure_outputs.insert(id, kept);
        } else if !failure && (wanted_at_end || !kept.is_empty()) {
            self.at_end.push((id, line + &kept));
        }
    }

    /// The output block of a result, when `show` asks for it at all.
    fn output_of(&self, result: &TestResult, id: &str, show: ShowOutput) -> String {
        if !show.immediate && !show.at_end {
            return String::new();
        }
        let mut block = output_block(
            &self.painter,
            self.options.output,
            id,
            (result.stdout(), result.stderr()),
            &result.last().logs,
        );
        if result.is_failure() && result.last().backtrace_quieted {
            block.push_str(&self.painter.paint(QUIETED_NOTE, Style::new().dim()));
            block.push('\n');
        }
        block
    }

    fn on_retry(&mut self, id: &TestId, failed: &Attempt) {
        let levels = self.levels();
        if levels.status < StatusLevel::Retry || self.in_baseline_pass() {
            return;
        }
        let id = shown_id(id);
        let mut line = self.painter.status_line(
            &format!("TRY {} {}", failed.attempt, failed.outcome.label()),
            Style::new().yellow().bold(),
            Some(failed.duration),
            &id,
        );
        // Each attempt's output at the highest level (-v), as the attempt ends.
        if levels.status == StatusLevel::All && levels.failure_output.immediate {
            line.push_str(&output_block(
                &self.painter,
                self.options.output,
                &id,
                (&failed.stdout, &failed.stderr),
                &failed.logs,
            ));
        }
        self.print(&line);
    }

    fn on_skipped(&mut self, id: &TestId, reason: SkipReason) {
        // The bar counts the tests that were to run; ignored tests are not among them.
        if let Some(bar) = self
            .bar
            .as_ref()
            .filter(|_| reason == SkipReason::NotStarted)
        {
            bar.inc();
        }
        let levels = self.levels();
        if self.in_baseline_pass() || levels.status.max(levels.final_status) < StatusLevel::Skip {
            return;
        }
        let label = match reason {
            SkipReason::Ignored => "SKIP",
            SkipReason::NotStarted => "NOTRUN",
        };
        let id = shown_id(id);
        let line = self
            .painter
            .status_line(label, Style::new().yellow(), None, &id);
        if levels.status >= StatusLevel::Skip {
            self.print(&line);
        }
        if levels.final_status >= StatusLevel::Skip {
            self.at_end.push((id, line));
        }
    }

    fn on_slow(&mut self, id: &TestId, elapsed: std::time::Duration) {
        let id = shown_id(id);
        if self.levels().status >= StatusLevel::Slow {
            let style = Style::new().yellow().bold();
            let line = self.painter.status_line("SLOW", style, Some(elapsed), &id);
            self.print(&line);
        }
        self.slow.insert(id);
    }

    fn on_note(&mut self, message: &str) {
        if !self.quiet() && !self.in_baseline_pass() {
            let note = self.paint("note:", Style::new().cyan());
            let line = wrapped(&format!("{note} "), &visible(message), self.options.width);
            self.print(&line);
        }
    }

    /// A setup script starting: shown at the default level, under a comparison too (a script
    /// runs once per run, in whichever pass first needs it).
    fn on_script_started(&mut self, name: &str, command: &str) {
        if self.levels().status < StatusLevel::Slow {
            return;
        }
        let what = visible(&format!("{name}: {command}")).into_owned();
        let line = self
            .painter
            .status_line("SETUP", Style::new().cyan().bold(), None, &what);
        self.print(&line);
    }

    /// A setup script that ended: its outcome, and when it did not pass, its output and why
    /// its tests will fail.
    fn on_script_finished(&mut self, report: &ScriptReport) {
        let passed = report.status.is_success();
        let level = if passed {
            StatusLevel::Slow
        } else {
            StatusLevel::Fail
        };
        if self.levels().status < level {
            return;
        }
        let mut what = format!("{}: {}", report.name, report.status.describe());
        if !report.exported.is_empty() {
            what.push_str(&format!(", exported {}", report.exported.join(", ")));
        }
        let style = match passed {
            true => Style::new().green().bold(),
            false => Style::new().red().bold(),
        };
        let name = format!("setup script {}", report.name);
        let mut block =
            self.painter
                .status_line("SETUP", style, Some(report.duration), &visible(&what));
        if !passed {
            let streams = (report.stdout.as_str(), report.stderr.as_str());
            let shown = visible(&name).into_owned();
            block.push_str(&output_block(
                &self.painter,
                self.options.output,
                &shown,
                streams,
                &report.logs,
            ));
            let why = format!(
                "    the tests that need {} fail without running\n",
                visible(&report.name)
            );
            block.push_str(&self.paint(&why, Style::new().red()));
        }
        self.print(&block);
    }

    fn on_run_finished(&mut self, stats: &RunStats) {
        if let Some(bar) = self.bar.take() {
            bar.clear();
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
}

impl Reporter for HumanReporter {
    fn on_event(&mut self, event: &TestEvent) {
        match event {
            TestEvent::RunStarted {
                tests,
                binaries,
                ignored,
                workers,
                label,
                mode,
                auto,
                ..
            } => {
                self.label = *label;
                let how = (*mode, auto.as_ref());
                self.on_run_started((*tests, *binaries, *ignored), *workers, how);
            }
            TestEvent::Note { message } => self.on_note(message),
            TestEvent::ListFailed(ListFailure { binary_id, message }) => {
                let line = format!(
                    "{} could not list the tests of {}: {}\n",
                    self.paint("error:", Style::new().red().bold()),
                    visible(binary_id),
                    visible(message),
                );
                self.print(&line);
            }
            TestEvent::SetupScriptStarted { name, command } => {
                self.on_script_started(name, command)
            }
            TestEvent::SetupScriptFinished(report) => self.on_script_finished(report),
            TestEvent::TestStarted { id, .. } => self.on_started(id),
            TestEvent::TestSlow { id, elapsed } => self.on_slow(id, *elapsed),
            TestEvent::TestFinished(result) => self.on_finished(result),
            TestEvent::TestRetry { id, failed } => self.on_retry(id, failed),
            TestEvent::TestSkipped { id, reason } => self.on_skipped(id, *reason),
            TestEvent::RunFinished(stats) => self.on_run_finished(stats),
        }
    }

    fn finish(&mut self, summary: &Summary, passes: Option<&Passes>) -> anyhow::Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.clear();
        }
        let stats = &summary.stats;
        let final_status = self.levels().final_status;
        let mut text = String::new();
        if !self.at_end.is_empty() {
            // Sorted, so that logs diff cleanly whatever order the tests finished in.
            self.at_end.sort_by(|a, b| a.0.cmp(&b.0));
            text.push('\n');
            text.extend(self.at_end.iter().map(|(_, line)| line.as_str()));
        }
        if final_status >= StatusLevel::Fail {
            text += &closing::failure_list(&self.painter, summary, &self.failure_outputs);
        }
        let not_isolated = figures::not_isolated(stats);
        if !not_isolated.is_empty() {
            text += &self.paint(&visible(&not_isolated), Style::new().red().bold());
        }
        let flaky = final_status >= StatusLevel::Retry;
        text += &closing::other_problems(&self.painter, summary, flaky);
        if !self.quiet() && stats.passed + stats.failed > 0 {
            text.push('\n');
            // The figures name the longest test; they hold no colour, so all of it is escaped.
            if let Some(passes) = passes {
                text += &visible(&figures::comparison(passes));
            }
            text += &visible(&figures::closing_figures(summary));
        }
        if self.options.verbosity == Verbosity::Verbose {
            // Written last of all the reports: every other one is done by now.
            let phases = stats.phases.with(Phase::Reports, phases::since_start());
            text += &figures::phases_lines(&phases);
        }
        text += &closing::flaky_count(summary, self.options.flaky_fails);
        // The last line stays exactly this, uncoloured, for CI log scanners.
        text += &summary.summary_line();
        self.print(&text);
        Ok(())
    }
}
