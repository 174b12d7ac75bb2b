//! GitHub Actions integration, on when `GITHUB_ACTIONS=true`: each failure becomes an `::error`
//! annotation pointing at the file and line of its panic (a doctest's: of its example), and a
//! Markdown summary of the run is appended to `$GITHUB_STEP_SUMMARY`.
//!
//! Test names and panic messages are the tests' own text: their control characters are escaped
//! ([`visible`]) before they reach the log or the summary, where the log viewer would act on
//! them.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::escape::visible;
use super::panic_text::{panic_location, panic_message};
use super::Reporter;
use crate::report::event::{TestEvent, TestResult};
use crate::report::summary::{Passes, Summary};
use crate::rustdoc;

/// How many slowest tests the step summary lists.
const SLOWEST_SHOWN: usize = 10;

pub struct GithubReporter {
    /// Annotations go to stdout, where the runner reads workflow commands; `None` when stdout
    /// carries the JSON stream (the step summary is still written).
    out: Option<Box<dyn Write + Send>>,
    step_summary: Option<PathBuf>,
    durations: Vec<(String, f64)>,
}

impl GithubReporter {
    /// `Some` when running inside GitHub Actions.
    pub fn from_env(out: Option<Box<dyn Write + Send>>) -> Option<Self> {
        (std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")).then(|| GithubReporter {
            out,
            step_summary: std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            durations: Vec::new(),
        })
    }

    fn annotate(&mut self, result: &TestResult) {
        let Some(out) = self.out.as_mut() else { return };
        // A flaky pass that fails the run (--flaky-result fail) points at its failed attempt.
        let stderr = match result.failed_attempts().first() {
            Some(attempt) if result.is_flaky() => attempt.stderr.as_str(),
            _ => result.stderr(),
        };
        let fallback = result.describe();
        let mut properties = format!("title={}", escape_property(&result.id.to_string()));
        let doctest = rustdoc::is_doctest(&result.id);
        let location = match doctest {
            // Where the example is: a doctest's panic points into code rustdoc generated.
            true => rustdoc::example_location(&result.id.name).map(|(f, l)| (f.to_string(), l)),
            false => panic_location(stderr),
        };
        if let Some((file, line)) = location {
            properties = format!("file={},line={line},{properties}", escape_property(&file));
        }
        let mut message = panic_message(stderr)
            .or_else(|| doctest.then(|| doctest_message(result.stdout())).flatten())
            .unwrap_or_else(|| fallback.clone());
        if result.is_flaky() {
            message = format!("{fallback}: {message}");
        }
        let _ = writeln!(out, "::error {properties}::{}", escape_data(&message));
    }

    fn markdown(&self, summary: &Summary) -> String {
        let stats = &summary.stats;
        let mut md = String::from("## Test results (runner)\n\n");
        md += "| passed | failed | skipped | flaky | workers | wall | summed | concurrency |\n";
        md += "|---:|---:|---:|---:|---:|---:|---:|---:|\n";
        md += &format!(
            "| {} | {} | {} | {} | {} | {:.2}s | {:.2}s | {:.2}x |\n\n",
            stats.passed,
            stats.failed,
            stats.skipped,
            stats.flaky,
            stats.workers,
            stats.wall.as_secs_f64(),
            stats.summed.as_secs_f64(),
            stats.concurrency()
        );
        if !summary.failures.is_empty() {
            md += "### Failures\n\n";
            for failure in &summary.failures {
                md += &format!(
                    "- `{}`: {}",
                    visible(&failure.id.to_string()),
                    visible(&failure.description)
                );
                if let Some(rerun) = &failure.rerun {
                    md += &format!(" (rerun: `{}`)", visible(rerun));
                }
                md += "\n";
            }
            md += "\n";
        }
        let mut slowest = self.durations.clone();
        slowest.sort_by(|a, b| b.1.total_cmp(&a.1));
        if !slowest.is_empty() {
            md += "### Slowest tests\n\n| test | seconds |\n|---|---:|\n";
            for (id, secs) in slowest.iter().take(SLOWEST_SHOWN) {
                md += &format!("| `{}` | {secs:.3} |\n", visible(id));
            }
        }
        md
    }
}

impl Reporter for GithubReporter {
    fn on_event(&mut self, event: &TestEvent) {
        match event {
            TestEvent::RunStarted { .. } => self.durations.clear(),
            TestEvent::TestFinished(result) => {
                self.durations
                    .push((result.id.to_string(), result.duration().as_secs_f64()));
                if result.is_failure() {
                    self.annotate(result);
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, summary: &Summary, _passes: Option<&Passes>) -> Result<()> {
        let Some(path) = &self.step_summary else {
            return Ok(());
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot write the step summary {}", path.display()))?;
        file.write_all(self.markdown(summary).as_bytes())
            .with_context(|| format!("cannot write the step summary {}", path.display()))
    }
}

/// A failed doctest's message, from rustdoc's report (which holds the example's own output):
/// its panic's message, else rustdoc's first line (a compile error, or why a `compile_fail` or
/// `should_panic` example failed).
fn doctest_message(report: &str) -> Option<String> {
    panic_message(report).or_else(|| {
        let first = report
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())?;
        Some(first.to_string())
    })
}

/// A workflow command's message: controls shown as text, then GitHub's own escapes (which keep
/// a line break inside the message instead of ending the command).
fn escape_data(text: &str) -> String {
    visible(text)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::event::{Attempt, Outcome, ResultPolicy, TestId};
    use std::time::Duration;

    const STDERR: &str =
        "\nthread 'a::b' (77) panicked at src/lib.rs:12:5:\nassertion failed: 1 == 2\nnote: ...\n";

    /// The annotation the reporter writes for `result`.
    fn annotation(result: &TestResult) -> String {
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut reporter = GithubReporter {
            out: Some(Box::new(Shared(buffer.clone()))),
            step_summary: None,
            durations: Vec::new(),
        };
        reporter.on_event(&TestEvent::TestFinished(result.clone()));
        let bytes = buffer.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn annotation_line() {
        let id = TestId {
            binary_id: "pkg".into(),
            name: "a::b".into(),
        };
        let mut attempt = Attempt::bare(1, Outcome::Failed { exit_code: 101 }, Duration::ZERO);
        attempt.stderr = STDERR.into();
        let result = TestResult::new(id, vec![attempt], ResultPolicy::default(), false);
        assert_eq!(
            annotation(&result),
            "::error file=src/lib.rs,line=12,title=pkg a%3A%3Ab::assertion failed: 1 == 2\n"
        );
        let reporter = GithubReporter {
            out: None,
            step_summary: None,
            durations: Vec::new(),
        };
        assert!(reporter
            .markdown(&Summary::default())
            .contains("| passed |"));
    }

    #[test]
    fn a_doctest_is_annotated_at_its_example() {
        let id = TestId {
            binary_id: "pkg::doc/pkg".into(),
            name: "src/lib.rs - add (line 12)".into(),
        };
        let mut attempt = Attempt::bare(1, Outcome::Failed { exit_code: 101 }, Duration::ZERO);
        attempt.stdout = "Test executable failed (exit status: 101).\n\nstderr:\n\nthread 'main' \
            (7) panicked at src/lib.rs:6:1:\nassertion failed: x\n"
            .into();
        let result = TestResult::new(id, vec![attempt], ResultPolicy::default(), true);
        assert_eq!(
            annotation(&result),
            "::error file=src/lib.rs,line=12,title=pkg%3A%3Adoc/pkg src/lib.rs - add (line \
             12)::assertion failed: x\n"
        );
        assert_eq!(
            doctest_message("error[E0308]: mismatched types\n  --> src/lib.rs:3:9\n").as_deref(),
            Some("error[E0308]: mismatched types")
        );
    }
}
