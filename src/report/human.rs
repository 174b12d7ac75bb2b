//! Output for people: a progress bar on a terminal, a line per test with `-v`, failures with
//! their captured output as they happen, and the closing report whose last line is the
//! `Summary:` line CI log scanners read.

use std::io::Write;
use std::time::Duration;

use console::Style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Reporter;
use crate::cli::Verbosity;
use crate::report::event::{Outcome, RunStats, SkipReason, TestEvent, TestResult};
use crate::report::summary::Summary;

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
    label: Option<String>,
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
    fn in_serial_pass(&self) -> bool {
        matches!(self.label.as_deref(), Some("serial" | "process"))
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

    fn on_finished(&mut self, result: &TestResult) {
        self.running = self.running.saturating_sub(1);
        let passed = !result.is_failure;
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
        if self.in_serial_pass() || (passed && !self.verbose()) {
            return;
        }
        let id = result.id.to_string();
        let mut block = self.status_line(
            result.label(),
            Self::status_style(&result.outcome),
            Some(result.duration),
            &id,
        );
        if passed {
            self.print(&block);
            return;
        }
        block.push_str(&output_block(self, &id, &result.stdout, &result.stderr));
        let why = format!("    {id}: {}\n", result.describe());
        block.push_str(&self.paint(&why, Style::new().red()));
        self.print(&block);
    }

    fn update_bar(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{} passed, {} failed, {} running",
                self.passed, self.failed, self.running
            ));
        }
    }

    fn figures_line(&self, name: &str, stats: &RunStats) -> String {
        format!(
            "{name}: {} worker{}, wall {}, summed test time {}, speedup {:.2}x, efficiency {:.0}%\n",
            stats.workers,
            if stats.workers == 1 { "" } else { "s" },
            secs(stats.wall),
            secs(stats.summed),
            stats.speedup(),
            stats.efficiency() * 100.0
        )
    }

    fn comparison(&self, baseline: &Summary, summary: &Summary) -> String {
        let (first, second) = (&baseline.stats, &summary.stats);
        let row = |name: &str, a: String, b: String| format!("  {name:<18}{a:>14}{b:>14}\n");
        let name = |s: &Summary| {
            format!(
                "{} ({}w)",
                s.label.as_deref().unwrap_or("run"),
                s.stats.workers
            )
        };
        let mut text = format!(
            "{} vs {}:\n",
            baseline.label.as_deref().unwrap_or("baseline"),
            summary.label.as_deref().unwrap_or("run")
        );
        text += &row("", name(baseline), name(summary));
        text += &row("wall time", secs(first.wall), secs(second.wall));
        text += &row("summed test time", secs(first.summed), secs(second.summed));
        text += &row(
            "speedup",
            format!("{:.2}x", first.speedup()),
            format!("{:.2}x", second.speedup()),
        );
        text += &row(
            "efficiency",
            format!("{:.0}%", first.efficiency() * 100.0),
            format!("{:.0}%", second.efficiency() * 100.0),
        );
        let gain = first.wall.as_secs_f64() / second.wall.as_secs_f64().max(1e-9);
        let slower = second.wall >= first.wall;
        text += &match (baseline.label.as_deref(), slower) {
            (Some("serial"), true) => "The parallel run was not faster than the serial one: \
                starting and feeding workers cost more than this suite gains from running tests \
                at once. Parallelism pays off on suites with more, or longer, tests.\n"
                .to_string(),
            (Some("serial"), false) => {
                format!("The parallel run was {gain:.2}x faster than the serial one.\n")
            }
            (_, true) => "Batching was not faster here: the tests cost more than starting a \
                process for each, so keep one process per test (it also isolates them).\n"
                .to_string(),
            (_, false) => format!(
                "Batched was {gain:.2}x faster than one process per test: per-process start-up \
                 dominated. Batch only tests that share no global state.\n"
            ),
        };
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
                ..
            } => {
                self.label = label.clone();
                self.running = 0;
                self.passed = 0;
                self.failed = 0;
                if !self.quiet() {
                    let pass = match label.as_deref() {
                        Some(label) => format!("{label} run: "),
                        None => String::new(),
                    };
                    let how = match mode.as_str() {
                        "batch" => "batched, many tests per process",
                        "mixed" => "some binaries batched",
                        _ => "one process per test",
                    };
                    let line = format!(
                        "{pass}Running {tests} test{} from {binaries} binar{} with {workers} worker{} ({how})\n",
                        if *tests == 1 { "" } else { "s" },
                        if *binaries == 1 { "y" } else { "ies" },
                        if *workers == 1 { "" } else { "s" },
                    );
                    self.print(&self.paint(&line, Style::new().bold()));
                }
                if let Some(old) = self.bar.take() {
                    old.finish_and_clear();
                }
                if self.options.progress && !self.quiet() {
                    let bar = ProgressBar::with_draw_target(
                        Some(*tests as u64),
                        ProgressDrawTarget::stderr(),
                    );
                    let template = if self.options.color {
                        "{elapsed_precise:.dim} [{bar:30.green/red}] {pos}/{len} {msg}"
                    } else {
                        "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}"
                    };
                    if let Ok(style) = ProgressStyle::with_template(template) {
                        bar.set_style(style.progress_chars("=> "));
                    }
                    bar.enable_steady_tick(Duration::from_millis(250));
                    self.bar = Some(bar);
                    self.update_bar();
                }
            }
            TestEvent::Note { message } => {
                if !self.quiet() && !self.in_serial_pass() {
                    let line = format!("{} {message}\n", self.paint("note:", Style::new().cyan()));
                    self.print(&line);
                }
            }
            TestEvent::ListFailed { binary_id, message } => {
                let line = format!(
                    "{} could not list the tests of {binary_id}: {message}\n",
                    self.paint("error:", Style::new().red().bold())
                );
                self.print(&line);
            }
            TestEvent::TestStarted { .. } => {
                self.running += 1;
                self.update_bar();
            }
            TestEvent::TestSlow { id, elapsed } => {
                if !self.quiet() {
                    let line = self.status_line(
                        "SLOW",
                        Style::new().yellow().bold(),
                        Some(*elapsed),
                        &id.to_string(),
                    );
                    self.print(&line);
                }
            }
            TestEvent::TestFinished(result) => self.on_finished(result),
            TestEvent::TestRetry { id, failed } => {
                if !self.quiet() && !self.in_serial_pass() {
                    let mut line = self.status_line(
                        &format!("TRY {} {}", failed.attempt, failed.outcome.label()),
                        Style::new().yellow().bold(),
                        Some(failed.duration),
                        &id.to_string(),
                    );
                    if self.verbose() {
                        line.push_str(&output_block(
                            self,
                            &id.to_string(),
                            &failed.stdout,
                            &failed.stderr,
                        ));
                    }
                    self.print(&line);
                }
            }
            TestEvent::TestSkipped { id, reason } => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                if self.verbose() && !self.in_serial_pass() {
                    let label = match reason {
                        SkipReason::Ignored => "SKIP",
                        SkipReason::NotStarted => "NOTRUN",
                    };
                    let line =
                        self.status_line(label, Style::new().yellow(), None, &id.to_string());
                    self.print(&line);
                }
            }
            TestEvent::RunFinished(stats) => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                if self.in_serial_pass() && !self.quiet() {
                    let name = format!("{} run", self.label.as_deref().unwrap_or("first"));
                    let line = self.figures_line(&name, stats);
                    self.print(&line);
                }
            }
        }
    }

    fn finish(&mut self, summary: &Summary, serial: Option<&Summary>) -> anyhow::Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let stats = &summary.stats;
        let mut text = String::new();
        if !summary.failures.is_empty() {
            let title = format!(
                "\n{} test{} did not pass:\n",
                summary.failures.len(),
                plural(summary.failures.len())
            );
            text += &self.paint(&title, Style::new().red().bold());
            for failure in &summary.failures {
                text += &self.status_line(
                    failure.label,
                    Self::status_style(&failure.outcome),
                    None,
                    &failure.id.to_string(),
                );
                if let Some(rerun) = &failure.rerun {
                    text += &format!("{:>20}{rerun}\n", "rerun: ");
                }
            }
        }
        for (binary, message) in &summary.list_failures {
            text += &format!(
                "{} {binary} could not be listed and none of its tests ran: {message}\n",
                self.paint("error:", Style::new().red().bold())
            );
        }
        if !summary.flaky.is_empty() {
            text += &self.paint(
                &format!("{} flaky:\n", summary.flaky.len()),
                Style::new().yellow().bold(),
            );
            for (id, attempt) in &summary.flaky {
                text += &format!("    {id} (passed on attempt {attempt})\n");
            }
        }
        if stats.cancelled > 0 || (summary.cancelled_by.is_some() && summary.not_started > 0) {
            text += &format!(
                "{} test{} cancelled ({} interrupted while running, {} not started)\n",
                stats.cancelled + summary.not_started,
                plural(stats.cancelled + summary.not_started),
                stats.cancelled,
                summary.not_started
            );
        } else if summary.not_started > 0 {
            text += &format!(
                "{} test{} not started: the run stopped after {} failure{} (-x/--maxfail)\n",
                summary.not_started,
                plural(summary.not_started),
                stats.failed,
                plural(stats.failed)
            );
        }
        if !self.quiet() && stats.passed + stats.failed > 0 {
            text.push('\n');
            if let Some(serial) = serial {
                text += &self.comparison(serial, summary);
            }
            let name = format!("Run ({} mode)", summary.mode);
            text += &self.figures_line(&name, stats);
            let tests = (stats.passed + stats.failed).max(1);
            text += &format!(
                "Runner overhead: {:.3} ms CPU per test, peak memory {:.1} MiB\n",
                stats.runner_cpu.as_secs_f64() * 1000.0 / tests as f64,
                stats.peak_rss_kib as f64 / 1024.0
            );
            if let Some(longest) = &stats.longest {
                text += &format!(
                    "Longest test: {} ({}); ideal wall time max(longest, summed / workers) = {}\n",
                    secs(longest.duration),
                    longest.id,
                    secs(stats.ideal_wall())
                );
            }
        }
        let counts = format!(
            "Summary: {} passed, {} failed, {} skipped\n",
            stats.passed, stats.failed, stats.skipped
        );
        // The last line stays exactly this, uncoloured, for CI log scanners.
        text += &counts;
        self.print(&text);
        Ok(())
    }
}

/// A test's captured output under headers naming the stream.
fn output_block(reporter: &HumanReporter, id: &str, stdout: &str, stderr: &str) -> String {
    let mut block = String::new();
    for (stream, text) in [("STDOUT", stdout), ("STDERR", stderr)] {
        if text.is_empty() {
            continue;
        }
        let header = format!("--- {stream}: {id} ---");
        block.push_str(&reporter.paint(&header, Style::new().dim()));
        block.push('\n');
        block.push_str(text);
        if !text.ends_with('\n') {
            block.push('\n');
        }
    }
    block
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
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
