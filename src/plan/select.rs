//! Decides which listed tests the user selected: name filters, `--skip`, `--exact` and the
//! ignored-test policy, with libtest's own semantics, and filter expressions (`-E`), whose
//! union is intersected with the name filters, as in nextest.

use crate::cli::{IgnoredPolicy, RunConfig, Selection};
use crate::filter::{KnownNames, TestFacts};

/// What to do with one listed test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Run,
    /// Selected by name but ignored: reported as skipped.
    SkipIgnored,
    /// Not selected: not reported at all.
    Exclude,
}

/// Every filter expression of the run (`-E`, and the config file's) against the workspace's
/// names: one that names a package or binary that does not exist is an error, with the
/// closest name.
pub fn check_filter_names(config: &RunConfig, known: &KnownNames) -> Result<(), String> {
    config.selection.check_names(known)?;
    let explain = &config.explain;
    let in_file = explain
        .groups
        .iter()
        .filter_map(|g| g.filter.as_ref())
        .chain(explain.batches.iter().map(|b| &b.filter))
        .map(|f| (&f.filter, &f.origin))
        .chain(
            config
                .overrides
                .list()
                .iter()
                .map(|o| (&o.filter, &o.origin)),
        );
    for (filter, origin) in in_file {
        filter
            .check_names(known)
            .map_err(|e| format!("{origin}: {}\n{}", e.message(), e.pointer("    ")))?;
    }
    Ok(())
}

impl Selection {
    pub fn verdict(&self, facts: &TestFacts, ignored: bool) -> Verdict {
        if !self.name_matches(facts.test) || !self.expr_matches(facts) {
            return Verdict::Exclude;
        }
        match (self.ignored, ignored) {
            (IgnoredPolicy::Only, false) => Verdict::Exclude,
            (IgnoredPolicy::Skip, true) => Verdict::SkipIgnored,
            _ => Verdict::Run,
        }
    }

    /// Whether the `-E` expressions ask for the tests' groups.
    pub fn uses_group(&self) -> bool {
        self.exprs.iter().any(|expr| expr.uses_group())
    }

    /// The first `-E` whose `package()` or `binary()` names nothing of the workspace.
    pub fn check_names(&self, known: &KnownNames) -> Result<(), String> {
        for expr in &self.exprs {
            expr.check_names(known).map_err(|e| format!("-E: {e}"))?;
        }
        Ok(())
    }

    fn expr_matches(&self, facts: &TestFacts) -> bool {
        self.exprs.is_empty() || self.exprs.iter().any(|expr| expr.matches(facts))
    }

    fn name_matches(&self, name: &str) -> bool {
        let matches = |pattern: &String| {
            if self.exact {
                name == pattern
            } else {
                name.contains(pattern.as_str())
            }
        };
        let included = self.filters.is_empty() || self.filters.iter().any(matches);
        included && !self.skip.iter().any(matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(filters: &[&str], skip: &[&str], exact: bool) -> Selection {
        Selection {
            filters: filters.iter().map(|s| s.to_string()).collect(),
            skip: skip.iter().map(|s| s.to_string()).collect(),
            exact,
            exprs: Vec::new(),
            ignored: IgnoredPolicy::Skip,
        }
    }

    impl Selection {
        fn verdict_of(&self, name: &str, ignored: bool) -> Verdict {
            self.verdict(&TestFacts::lib_test("app", name), ignored)
        }
    }

    #[test]
    fn expressions_are_or_ed_then_and_ed_with_the_name_filters() {
        let mut s = selection(&["alpha", "beta"], &[], false);
        s.exprs = ["test(~alp)", "test(=gamma)"]
            .iter()
            .map(|e| crate::filter::Filter::parse(e).unwrap())
            .collect();
        assert_eq!(s.verdict_of("alpha", false), Verdict::Run);
        assert_eq!(s.verdict_of("beta", false), Verdict::Exclude);
        assert_eq!(s.verdict_of("gamma", false), Verdict::Exclude);
        s.filters.clear();
        assert_eq!(s.verdict_of("gamma", false), Verdict::Run);
    }

    #[test]
    fn substring_filters_any_match() {
        let s = selection(&["alp", "gam"], &[], false);
        assert_eq!(s.verdict_of("tests::alpha", false), Verdict::Run);
        assert_eq!(s.verdict_of("tests::gamma", false), Verdict::Run);
        assert_eq!(s.verdict_of("tests::beta", false), Verdict::Exclude);
    }

    #[test]
    fn skip_wins_over_filters() {
        let s = selection(&["tests"], &["beta"], false);
        assert_eq!(s.verdict_of("tests::beta", false), Verdict::Exclude);
        assert_eq!(s.verdict_of("tests::alpha", false), Verdict::Run);
    }

    #[test]
    fn exact_requires_whole_name() {
        let s = selection(&["alpha"], &[], true);
        assert_eq!(s.verdict_of("alpha", false), Verdict::Run);
        assert_eq!(s.verdict_of("alpha2", false), Verdict::Exclude);
    }

    #[test]
    fn ignored_policies() {
        let mut s = selection(&[], &[], false);
        assert_eq!(s.verdict_of("t", true), Verdict::SkipIgnored);
        s.ignored = IgnoredPolicy::Only;
        assert_eq!(s.verdict_of("t", true), Verdict::Run);
        assert_eq!(s.verdict_of("u", false), Verdict::Exclude);
        s.ignored = IgnoredPolicy::Include;
        assert_eq!(s.verdict_of("t", true), Verdict::Run);
        assert_eq!(s.verdict_of("u", false), Verdict::Run);
    }
}
