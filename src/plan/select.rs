//! Decides which listed tests the user selected: name filters, `--skip`, `--exact` and the
//! ignored-test policy, with libtest's own semantics.

use crate::cli::{IgnoredPolicy, Selection};

/// What to do with one listed test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Run,
    /// Selected by name but ignored: reported as skipped.
    SkipIgnored,
    /// Not selected: not reported at all.
    Exclude,
}

impl Selection {
    pub fn verdict(&self, name: &str, ignored: bool) -> Verdict {
        if !self.name_matches(name) {
            return Verdict::Exclude;
        }
        match (self.ignored, ignored) {
            (IgnoredPolicy::Only, false) => Verdict::Exclude,
            (IgnoredPolicy::Skip, true) => Verdict::SkipIgnored,
            _ => Verdict::Run,
        }
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
            ignored: IgnoredPolicy::Skip,
        }
    }

    #[test]
    fn substring_filters_any_match() {
        let s = selection(&["alp", "gam"], &[], false);
        assert_eq!(s.verdict("tests::alpha", false), Verdict::Run);
        assert_eq!(s.verdict("tests::gamma", false), Verdict::Run);
        assert_eq!(s.verdict("tests::beta", false), Verdict::Exclude);
    }

    #[test]
    fn skip_wins_over_filters() {
        let s = selection(&["tests"], &["beta"], false);
        assert_eq!(s.verdict("tests::beta", false), Verdict::Exclude);
        assert_eq!(s.verdict("tests::alpha", false), Verdict::Run);
    }

    #[test]
    fn exact_requires_whole_name() {
        let s = selection(&["alpha"], &[], true);
        assert_eq!(s.verdict("alpha", false), Verdict::Run);
        assert_eq!(s.verdict("alpha2", false), Verdict::Exclude);
    }

    #[test]
    fn ignored_policies() {
        let mut s = selection(&[], &[], false);
        assert_eq!(s.verdict("t", true), Verdict::SkipIgnored);
        s.ignored = IgnoredPolicy::Only;
        assert_eq!(s.verdict("t", true), Verdict::Run);
        assert_eq!(s.verdict("u", false), Verdict::Exclude);
        s.ignored = IgnoredPolicy::Include;
        assert_eq!(s.verdict("t", true), Verdict::Run);
        assert_eq!(s.verdict("u", false), Verdict::Run);
    }
}
