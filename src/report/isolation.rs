//! The isolation check of a comparison: a test that passes in one pass and fails in another
//! depends on what runs beside it (shared state, order, load), which is what a user of
//! `--compare` or `--compare-modes` most needs to know. Such a test fails the run.

use super::event::{NotIsolated, PassLabel};
use super::summary::{Failure, Summary};

/// Compare the outcomes of `summary` (the last pass, whose results count) with every earlier
/// pass; list the tests whose outcome differs, and count as failed in `summary` those that
/// passed in it but failed in an earlier pass.
pub fn check(summary: &mut Summary, earlier: &[&Summary]) {
    let Some(label) = summary.label else {
        return;
    };
    let mut differences = Vec::new();
    for (id, outcome) in &summary.outcomes {
        let mut passed_in = Vec::new();
        let mut failed_in = Vec::new();
        for pass in earlier.iter().copied() {
            let (Some(other), Some(other_label)) = (pass.outcomes.get(id), pass.label) else {
                continue;
            };
            let list = if other.failed {
                &mut failed_in
            } else {
                &mut passed_in
            };
            list.push(other_label);
        }
        let list = if outcome.failed {
            &mut failed_in
        } else {
            &mut passed_in
        };
        list.push(label);
        if !passed_in.is_empty() && !failed_in.is_empty() {
            differences.push(NotIsolated {
                id: id.clone(),
                passed_in: dedup(passed_in),
                failed_in: dedup(failed_in),
            });
        }
    }
    for difference in &differences {
        let Some(outcome) = summary.outcomes.get(&difference.id) else {
            continue;
        };
        if outcome.failed {
            continue;
        }
        // Passed here, failed before: the run fails, and says why.
        let failing = earlier
            .iter()
            .find_map(|pass| pass.outcomes.get(&difference.id).filter(|o| o.failed));
        let Some(failing) = failing else { continue };
        summary.stats.passed = summary.stats.passed.saturating_sub(1);
        summary.stats.failed += 1;
        summary.failures.push(Failure {
            id: difference.id.clone(),
            outcome: failing.outcome.clone(),
            label: failing.label,
            description: format!("{}: not isolated", difference.describe()),
            rerun: failing.rerun.clone().or_else(|| outcome.rerun.clone()),
            panic: None,
        });
    }
    summary.failures.sort_by(|a, b| a.id.cmp(&b.id));
    summary.stats.not_isolated = differences;
}

fn dedup(mut labels: Vec<PassLabel>) -> Vec<PassLabel> {
    labels.dedup();
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::event::{Outcome, TestEvent, TestId, TestResult};
    use std::time::Duration;

    fn pass(label: PassLabel, results: &[(&str, bool)]) -> Summary {
        let mut summary = Summary::new(1);
        summary.label = Some(label);
        for (name, passed) in results {
            let outcome = if *passed {
                Outcome::Passed
            } else {
                Outcome::Failed { exit_code: 101 }
            };
            let id = TestId {
                binary_id: "b".into(),
                name: name.to_string(),
            };
            let result = TestResult::bare(id, outcome, Duration::ZERO);
            summary.observe(&TestEvent::TestFinished(result));
        }
        summary
    }

    #[test]
    fn a_test_that_failed_alone_fails_the_run_and_is_named() {
        let serial = pass(PassLabel::Serial, &[("shared", false), ("fine", true)]);
        let mut parallel = pass(PassLabel::Parallel, &[("shared", true), ("fine", true)]);
        check(&mut parallel, &[&serial]);
        assert_eq!((parallel.stats.passed, parallel.stats.failed), (1, 1));
        let [difference] = parallel.stats.not_isolated.as_slice() else {
            panic!("{:?}", parallel.stats.not_isolated);
        };
        assert_eq!(difference.id.name, "shared");
        assert_eq!(
            difference.describe(),
            "passed in parallel, failed alone (serial)"
        );
        assert!(parallel.failures[0].description.ends_with("not isolated"));
    }

    #[test]
    fn a_test_that_failed_in_parallel_is_named_once() {
        let serial = pass(PassLabel::Serial, &[("racy", true)]);
        let mut parallel = pass(PassLabel::Parallel, &[("racy", false)]);
        check(&mut parallel, &[&serial]);
        assert_eq!((parallel.stats.passed, parallel.stats.failed), (0, 1));
        assert_eq!(parallel.failures.len(), 1);
        assert_eq!(parallel.stats.not_isolated.len(), 1);
    }

    #[test]
    fn the_same_outcome_everywhere_is_isolated() {
        let serial = pass(PassLabel::Serial, &[("a", false), ("b", true)]);
        let mut parallel = pass(PassLabel::Parallel, &[("a", false), ("b", true)]);
        check(&mut parallel, &[&serial]);
        assert!(parallel.stats.not_isolated.is_empty());
        assert_eq!(parallel.stats.failed, 1);
    }
}
