//! `runner junit-merge OUT IN...`, and the durations `runner timings export --from-junit`
//! reads: JUnit reports read as runner and other tools (pytest, lone suites) write them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use quick_junit::{Report, TestCaseStatus, TestSuite};

use super::{shards, write_report};
use crate::model::TestId;

/// Why a merge failed; the caller picks the exit code from it.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The shards' reports do not add up to their selection; the merged report was written.
    #[error("{0}")]
    ShardsDoNotAddUp(String),
    /// An input that cannot be read or is not a JUnit report: nothing was written.
    #[error("{0:#}")]
    BadInput(anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// `runner junit-merge OUT IN...`: one report from the shards' reports. Suites of the same
/// name (a binary split across shards) become one suite; totals are recounted.
/// Reports of a partitioned run are checked against the fingerprint and selection their shards
/// recorded: the merged report is written all the same, and what does not add up is the error.
pub fn merge(output: &Path, inputs: &[PathBuf]) -> Result<(), MergeError> {
    let mut reports = Vec::new();
    for input in inputs {
        let report = read_report(input).map_err(MergeError::BadInput)?;
        reports.push((input.as_path(), report));
    }
    let problems = shards::check(&reports);
    let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();
    let mut wall = std::time::Duration::ZERO;
    for (_, report) in reports {
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
    write_report(&report, output)?;
    match problems {
        Some(problems) => Err(MergeError::ShardsDoNotAddUp(problems)),
        None => Ok(()),
    }
}

/// The durations of the tests a JUnit report says ran (skipped ones left out), by binary id
/// (the case's `classname`, else its suite's name) and name: what `runner timings export
/// --from-junit` reads.
pub fn read_durations(input: &Path) -> Result<Vec<(TestId, Duration)>> {
    let report = read_report(input)?;
    let mut durations = Vec::new();
    for suite in &report.test_suites {
        for case in &suite.test_cases {
            let (Some(time), false) = (
                case.time,
                matches!(case.status, TestCaseStatus::Skipped { .. }),
            ) else {
                continue;
            };
            let binary = case.classname.as_ref().unwrap_or(&suite.name);
            let id = TestId::new(binary.as_str(), case.name.as_str());
            durations.push((id, time));
        }
    }
    Ok(durations)
}

/// One report to merge, as other tools write them too: pytest, for one, leaves out the
/// `name` of `<testsuites>`, and some tools write a lone `<testsuite>` as the root. A file cut
/// short (its writer was interrupted) gets its own message.
fn read_report(input: &Path) -> Result<Report> {
    let shown = input.display();
    let text = std::fs::read_to_string(input).map_err(|e| {
        anyhow::anyhow!("cannot read the JUnit report {shown}: {e}; {WHAT_TO_PASS}")
    })?;
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
            anyhow::anyhow!("{shown} is not a JUnit report ({e}); {WHAT_TO_PASS}")
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

/// What to do about an input that is not a report.
const WHAT_TO_PASS: &str =
    "pass the reports that `runner --junit FILE` (or another JUnit writer) wrote";

/// A report whose text stops before the end of its root element: one that began as a report
/// (so not any file at all) and lacks its closing tag.
fn truncated(text: &str) -> bool {
    let end = text.trim_end();
    let began = root_start(text).is_some_and(|at| text[at..].starts_with("<testsuite"));
    began
        && !(end.ends_with("</testsuites>") || end.ends_with("</testsuite>") || end.ends_with("/>"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::event::{Outcome, TestEvent, TestResult};
    use crate::report::junit::JunitReporter;
    use crate::report::summary::Summary;
    use crate::report::Reporter;

    #[test]
    fn merge_combines_shards_with_correct_totals() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (shard, outcome) in [
            (1, Outcome::Passed),
            (2, Outcome::Failed { exit_code: 101 }),
        ] {
            let path = dir.path().join(format!("shard{shard}.xml"));
            let mut reporter = JunitReporter::new(path.clone(), None);
            for name in ["a", "b"] {
                let result = TestResult::bare(
                    TestId::new("pkg", &format!("{name}{shard}")),
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
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "hi\n").unwrap();
        let err = merge(&merged, &[other]).unwrap_err();
        assert!(matches!(err, MergeError::BadInput(_)), "{err:?}");
        let err = err.to_string();
        assert!(err.contains("notes.txt is not a JUnit report ("), "{err}");
        assert!(
            err.ends_with(
                "; pass the reports that `runner --junit FILE` (or another JUnit writer) wrote"
            ),
            "{err}"
        );
    }

    /// Shard reports of `spec` (scheme:K/N for each K in `shards`) over tests a..f, each with
    /// the results of its shard; returns their paths.
    fn shard_reports(dir: &Path, spec: &str, shards: &[usize], names: &[&str]) -> Vec<PathBuf> {
        use crate::plan::partition::{Partition, Shard, Timings};
        let selection: Vec<TestId> = names.iter().map(|n| TestId::new("pkg", n)).collect();
        let mut paths = Vec::new();
        for &k in shards {
            let partition = Partition::parse(&format!("{spec}:{k}/3"), &|_| None).unwrap();
            let keep = partition.select(&selection, &Timings::default());
            let shard = Shard::new(&partition, &selection, None);
            let path = dir.join(format!("{spec}-{}-shard{k}.xml", names.len()));
            let mut reporter = JunitReporter::new(path.clone(), Some(shard));
            for (test, _) in selection.iter().zip(keep).filter(|(_, keep)| *keep) {
                let result = TestResult::bare(test.clone(), Outcome::Passed, Duration::ZERO);
                reporter.on_event(&TestEvent::TestFinished(result));
            }
            reporter.finish(&Summary::default(), None).unwrap();
            paths.push(path);
        }
        paths
    }

    #[test]
    fn shards_that_add_up_merge_and_others_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["a", "b", "c", "d", "e", "f"];
        let merged = dir.path().join("merged.xml");
        let all = shard_reports(dir.path(), "count", &[1, 2, 3], &names);
        merge(&merged, &all).unwrap();
        let report =
            Report::deserialize_from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
        assert_eq!(report.tests, 6);
        // Shard 2 of count:K/3 holds b and e: named, and the merged report still written.
        std::fs::remove_file(&merged).unwrap();
        let err = merge(&merged, &[all[0].clone(), all[2].clone()]).unwrap_err();
        let MergeError::ShardsDoNotAddUp(message) = err else {
            panic!("{err:?}")
        };
        assert!(message.contains("shard 2/3 missing"), "{message}");
        assert!(message.contains("with no result: pkg b"), "{message}");
        assert!(message.contains("with no result: pkg e"), "{message}");
        assert!(merged.is_file());
        let err = merge(
            &merged,
            &[
                all[0].clone(),
                all[0].clone(),
                all[1].clone(),
                all[2].clone(),
            ],
        );
        let message = err.unwrap_err().to_string();
        assert!(message.contains("given 2 times"), "{message}");
        assert!(message.contains("more than one result: pkg a"), "{message}");
        // A shard of another selection: the test only one of them holds is named.
        let other = shard_reports(dir.path(), "count", &[2], &names[..5]);
        let err = merge(&merged, &[all[0].clone(), other[0].clone(), all[2].clone()]);
        let message = err.unwrap_err().to_string();
        assert!(message.contains("different partitions"), "{message}");
        assert!(
            message.contains("selected in some shards only: pkg f"),
            "{message}"
        );
    }
}
