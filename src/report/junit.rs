//! JUnit XML (the one home of `quick-junit`): one `<testsuite>` per binary, a `<testcase>` per
//! test with its time, failures with a message and their output, skipped tests marked, and
//! retries recorded the way Maven Surefire does (`flakyFailure`, `rerunFailure`).
//!
//! The file is written at the end of every run, also a failed or interrupted one, through
//! [`files::write_atomically`] (in place when it is a FIFO or `/dev/stdout`).
//!
//! XML cannot hold most control characters, and quick-junit would silently drop them, changing
//! a test's recorded name; instead names, messages and output carry them escaped the way the
//! human report shows them ([`visible`]), so a name stays recognisable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use super::escape::visible;
use super::panic_text::panic_message;
use super::Reporter;
use crate::files;
use crate::report::event::{Attempt, Outcome, SkipReason, TestEvent, TestResult, Verdict};
use crate::report::summary::{Passes, Summary};

/// Output kept per stream in the XML: the tail, where a panic message is.
const OUTPUT_KEPT: usize = 64 * 1024;

pub struct JunitReporter {
    path: PathBuf,
    /// Test cases per binary id, in the order they finished.
    suites: BTreeMap<String, Vec<TestCase>>,
    wall: std::time::Duration,
}

impl JunitReporter {
    pub fn new(path: PathBuf) -> Self {
        JunitReporter {
            path,
            suites: BTreeMap::new(),
            wall: std::time::Duration::ZERO,
        }
    }

    fn report(&self) -> Report {
        let mut report = Report::new("runner");
        report.set_time(self.wall);
        for (binary_id, cases) in &self.suites {
            let mut suite = TestSuite::new(visible(binary_id));
            suite.add_test_cases(cases.iter().cloned());
            report.add_test_suite(suite);
        }
        report
    }
}

impl Reporter for JunitReporter {
    fn on_event(&mut self, event: &TestEvent) {
        match event {
            // Under `--compare` the last pass is the one reported.
            TestEvent::RunStarted { .. } => self.suites.clear(),
            TestEvent::TestFinished(result) => {
                self.suites
                    .entry(result.id.binary_id.clone())
                    .or_default()
                    .push(test_case(result));
            }
            TestEvent::TestSkipped { id, reason } => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(match reason {
                    SkipReason::Ignored => "ignored",
                    SkipReason::NotStarted => "not started: the run stopped early",
                });
                let mut case = TestCase::new(visible(&id.name), status);
                case.set_classname(visible(&id.binary_id));
                self.suites
                    .entry(id.binary_id.clone())
                    .or_default()
                    .push(case);
            }
            TestEvent::RunFinished(stats) => self.wall = stats.wall,
            _ => {}
        }
    }

    fn finish(&mut self, _summary: &Summary, _passes: Option<&Passes>) -> Result<()> {
        write_report(&self.report(), &self.path)
    }
}

/// `runner junit-merge OUT IN...`: one report from the shards' reports. Suites of the same
/// name (a binary split across shards) become one suite; totals are recounted.
pub fn merge(output: &Path, inputs: &[PathBuf]) -> Result<()> {
    let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();
    let mut wall = std::time::Duration::ZERO;
    for input in inputs {
        let report = read_report(input)?;
        // Shards run side by side: the merged wall time is the slowest shard's.
        wall = wall.max(report.time.unwrap_or_default());
        for suite in report.test_suites {
            let merged = suites
                .entry(suite.name.as_str().to_string())
                .or_insert_with(|| TestSuite::new(suite.name.as_str()));
            merged.add_test_cases(suite.test_cases);
        }
    }
    let mut report = Report::new("runner");
    report.set_time(wall);
    report.add_test_suites(suites.into_values());
    write_report(&report, output)
}

/// One report to merge, as other tools write them too: pytest, for one, leaves out the
/// `name` of `<testsuites>`, and some tools write a lone `<testsuite>` as the root. A file cut
/// short (its writer was interrupted) gets its own message.
fn read_report(input: &Path) -> Result<Report> {
    let shown = input.display();
    let text = std::fs::read_to_string(input)
        .with_context(|| format!("cannot read the JUnit report {shown}"))?;
    let name = input
        .file_stem()
        .map_or("report".into(), |s| s.to_string_lossy());
    Report::deserialize_from_str(&normalized(&text, &name)).map_err(|e| {
        if truncated(&text) {
            anyhow::anyhow!(
                "{shown} is truncated: it ends before its closing tag (was the run that wrote \
                 it interrupted?)"
            )
        } else {
            anyhow::anyhow!("{shown} is not a JUnit report: {e}")
        }
    })
}

/// `text` with a `name` on its `<testsuites>` root (`name` when it has none), a lone
/// `<testsuite>` root wrapped in one, and no `timestamp` attributes: pytest writes them
/// without a time zone, which quick-junit refuses, and the merged report has its own time.
fn normalized(text: &str, name: &str) -> String {
    let timestamps =
        regex::Regex::new(r#"\stimestamp\s*=\s*("[^"]*"|'[^']*')"#).expect("a valid pattern");
    let text = &*timestamps.replace_all(text, "");
    let Some(root) = root_start(text) else {
        return text.to_string();
    };
    let tag_end = text[root..].find('>').map_or(text.len(), |end| root + end);
    let tag = &text[root..tag_end];
    let name = name.replace(['&', '<', '>', '"'], "_");
    if tag.starts_with("<testsuites") && !has_name(tag) {
        let at = root + "<testsuites".len();
        return format!("{} name=\"{name}\"{}", &text[..at], &text[at..]);
    }
    if tag.starts_with("<testsuite") && !tag.starts_with("<testsuites") {
        return format!(
            "{}<testsuites name=\"{name}\">{}</testsuites>",
            &text[..root],
            &text[root..]
        );
    }
    text.to_string()
}

/// Where the root element starts: after the declaration, comments and doctype.
fn root_start(text: &str) -> Option<usize> {
    let mut at = 0;
    loop {
        let rest = &text[at..];
        let offset = rest.find('<')?;
        let tail = &rest[offset..];
        let skip = if tail.starts_with("<?") {
            tail.find("?>").map(|e| e + 2)
        } else if tail.starts_with("<!--") {
            tail.find("-->").map(|e| e + 3)
        } else if tail.starts_with("<!") {
            tail.find('>').map(|e| e + 1)
        } else {
            return Some(at + offset);
        };
        at += offset + skip?;
    }
}

fn has_name(tag: &str) -> bool {
    tag.split_whitespace()
        .skip(1)
        .any(|attribute| attribute.trim_start().starts_with("name="))
}

/// A report whose text stops before the end of its root element.
fn truncated(text: &str) -> bool {
    let end = text.trim_end();
    !(end.ends_with("</testsuites>") || end.ends_with("</testsuite>") || end.ends_with("/>"))
}

/// Write the report where the user asked; a reader never sees half a file.
fn write_report(report: &Report, path: &Path) -> Result<()> {
    files::write_atomically(path, |out| Ok(report.serialize(out)?))
        .context("the JUnit report was not written")
}

fn test_case(result: &TestResult) -> TestCase {
    let status = if result.verdict() == Verdict::Cancelled {
        // It started and did not finish: an error of the run, not a test that was skipped, so
        // that a CI timeout's report points at the test that hung.
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(visible(&result.describe()));
        status.set_type(result.outcome().label());
        status.set_description(visible(tail(result.stderr())));
        status
    } else if !result.is_failure() {
        let mut status = TestCaseStatus::success();
        if let TestCaseStatus::Success { flaky_runs } = &mut status {
            flaky_runs.extend(result.failed_attempts().iter().map(rerun));
        }
        status
    } else {
        let kind = match result.outcome() {
            Outcome::SpawnFailed { .. }
            | Outcome::InternalError { .. }
            | Outcome::SetupFailed { .. } => NonSuccessKind::Error,
            _ => NonSuccessKind::Failure,
        };
        let mut status = TestCaseStatus::non_success(kind);
        let message = if result.outcome().is_success() {
            result.describe()
        } else {
            failure_message(result.outcome(), result.stderr())
        };
        status.set_message(visible(&message));
        status.set_type(result.outcome().label());
        status.set_description(visible(tail(result.stderr())));
        status.add_reruns(result.failed_attempts().iter().map(rerun));
        status
    };
    let mut case = TestCase::new(visible(&result.id.name), status);
    case.set_classname(visible(&result.id.binary_id));
    case.set_time(result.duration());
    // Passing tests' output is noise in CI reports; failures and flaky passes keep theirs.
    if result.is_failure() || result.is_flaky() || !result.outcome().is_success() {
        case.set_system_out(visible(tail(result.stdout())));
        case.set_system_err(visible(tail(result.stderr())));
    }
    case
}

fn rerun(attempt: &Attempt) -> TestRerun {
    let mut rerun = TestRerun::new(NonSuccessKind::Failure);
    rerun.set_time(attempt.duration);
    rerun.set_message(visible(&failure_message(&attempt.outcome, &attempt.stderr)));
    rerun.set_type(attempt.outcome.label());
    rerun.set_system_out(visible(tail(&attempt.stdout)));
    rerun.set_system_err(visible(tail(&attempt.stderr)));
    rerun
}

/// The outcome, plus the panic's message line when the test printed one.
fn failure_message(outcome: &Outcome, stderr: &str) -> String {
    let panic_line = panic_message(stderr);
    let panic_line = panic_line
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty());
    match panic_line {
        Some(line) => format!("{}: {line}", outcome.describe()),
        None => outcome.describe(),
    }
}

/// The last `OUTPUT_KEPT` bytes, cut at a character boundary.
fn tail(text: &str) -> &str {
    if text.len() <= OUTPUT_KEPT {
        return text;
    }
    let mut start = text.len() - OUTPUT_KEPT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::event::{ResultPolicy, TestId};
    use std::time::Duration;

    fn id(binary: &str, name: &str) -> TestId {
        TestId {
            binary_id: binary.into(),
            name: name.into(),
        }
    }

    #[test]
    fn report_has_suites_failures_skips_and_flaky_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/junit.xml");
        let mut reporter = JunitReporter::new(path.clone());
        let fail = Outcome::Failed { exit_code: 101 };
        let mut attempt = Attempt::bare(1, fail.clone(), Duration::from_millis(20));
        attempt.stderr = "thread 'fails' panicked at src/lib.rs:3:5:\nboom <&>\n".into();
        let policy = ResultPolicy::default();
        let failed = TestResult::new(id("pkg", "fails"), vec![attempt], policy, false);
        let attempts = vec![
            Attempt::bare(1, fail, Duration::from_millis(5)),
            Attempt::bare(2, Outcome::Passed, Duration::ZERO),
        ];
        let flaky = TestResult::new(id("pkg::it", "flaky"), attempts, policy, false);
        for event in [
            TestEvent::TestFinished(failed),
            TestEvent::TestFinished(flaky),
            TestEvent::TestSkipped {
                id: id("pkg", "ignored"),
                reason: SkipReason::Ignored,
            },
        ] {
            reporter.on_event(&event);
        }
        reporter.finish(&Summary::default(), None).unwrap();
        let xml = std::fs::read_to_string(&path).unwrap();
        let parsed = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(parsed.test_suites.len(), 2);
        assert_eq!(parsed.tests, 3);
        assert_eq!(parsed.failures, 1);
        assert!(xml.contains("flakyFailure"), "{xml}");
        assert!(xml.contains("boom &lt;&amp;&gt;"), "{xml}");
        assert!(xml.contains("<skipped"), "{xml}");
    }

    #[test]
    fn merge_combines_shards_with_correct_totals() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (shard, outcome) in [
            (1, Outcome::Passed),
            (2, Outcome::Failed { exit_code: 101 }),
        ] {
            let path = dir.path().join(format!("shard{shard}.xml"));
            let mut reporter = JunitReporter::new(path.clone());
            for name in ["a", "b"] {
                let result = TestResult::bare(
                    id("pkg", &format!("{name}{shard}")),
                    outcome.clone(),
                    Duration::from_millis(1),
                );
                reporter.on_event(&TestEvent::TestFinished(result));
            }
            reporter.finish(&Summary::default(), None).unwrap();
            paths.push(path);
        }
        let merged = dir.path().join("merged.xml");
        merge(&merged, &paths).unwrap();
        let report =
            Report::deserialize_from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
        assert_eq!(report.test_suites.len(), 1);
        assert_eq!(report.tests, 4);
        assert_eq!(report.failures, 2);
        let err = merge(&merged, &[dir.path().join("missing.xml")]).unwrap_err();
        assert!(format!("{err:#}").contains("missing.xml"));
    }

    const PYTEST: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="1" skipped="0" tests="2" time="0.052" timestamp="2024-05-01T10:00:00.000000" hostname="ci"><testcase classname="test_x" name="test_a" time="0.001" /><testcase classname="test_x" name="test_b" time="0.002"><failure message="assert 1 == 2">E  assert 1 == 2</failure></testcase></testsuite></testsuites>"#;

    #[test]
    fn other_tools_reports_merge_and_a_cut_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let pytest = dir.path().join("pytest.xml");
        std::fs::write(&pytest, PYTEST).unwrap();
        let lone = dir.path().join("lone.xml");
        let suite = r#"<testsuite name="s" tests="1"><testcase name="c" /></testsuite>"#;
        std::fs::write(&lone, suite).unwrap();
        let merged = dir.path().join("merged.xml");
        merge(&merged, &[pytest.clone(), lone]).unwrap();
        let report =
            Report::deserialize_from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
        assert_eq!((report.tests, report.failures), (3, 1));
        let cut = dir.path().join("cut.xml");
        std::fs::write(&cut, &PYTEST[..300]).unwrap();
        let err = format!("{:#}", merge(&merged, &[pytest, cut]).unwrap_err());
        assert!(err.contains("cut.xml is truncated"), "{err}");
    }

    #[test]
    fn unwritable_path_is_an_error_naming_the_file() {
        let reporter = JunitReporter::new("/proc/runner-cannot-write/junit.xml".into());
        let err = write_report(&reporter.report(), &reporter.path).unwrap_err();
        assert!(format!("{err:#}").contains("/proc/runner-cannot-write/junit.xml"));
    }

    #[test]
    fn tail_respects_char_boundaries() {
        let text = "é".repeat(OUTPUT_KEPT);
        let kept = tail(&text);
        assert!(kept.len() <= OUTPUT_KEPT);
        assert!(kept.chars().all(|c| c == 'é'));
    }
}
