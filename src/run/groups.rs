//! Test groups from the config file: tests in a group share its concurrency limit
//! (`max-threads`) and take `threads-required` worker slots each. A test is in the group its
//! overrides' `test-group` names, else in the first `[[group]]` whose filter matches it.

use crate::cli::GroupSpec;
use crate::filter::{Filter, TestFacts};
use crate::model::TestCase;

#[derive(Debug, Clone)]
pub struct TestGroup {
    name: String,
    /// `None`: filled by overrides' `test-group` only.
    filter: Option<Filter>,
    pub max_threads: Option<usize>,
    pub threads_required: usize,
}

/// The groups of a run, in the order the config file declares them.
#[derive(Debug, Clone, Default)]
pub struct TestGroups {
    groups: Vec<TestGroup>,
}

/// What the scheduler must respect for one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Constraint {
    pub group: Option<usize>,
    pub slots: usize,
}

impl Constraint {
    /// In no group, one slot.
    pub const FREE: Constraint = Constraint {
        group: None,
        slots: 1,
    };
}

impl TestGroups {
    pub fn compile(specs: &[GroupSpec]) -> Result<Self, String> {
        let mut groups: Vec<TestGroup> = Vec::new();
        for spec in specs {
            let name = &spec.name;
            let at = spec
                .filter
                .as_ref()
                .map_or(String::new(), |f| format!("{}: ", f.origin));
            if spec.regex.is_some() {
                let suggestion = spec.filter.as_ref().map_or("test(/REGEX/)".into(), |f| {
                    crate::cli::suggest(f.filter.text()).unwrap_or_else(|| f.to_string())
                });
                return Err(format!(
                    "{at}group '{name}': 'regex' is gone now that filters are filter \
                     expressions: remove it and write filter = \"{suggestion}\""
                ));
            }
            if spec.max_threads == Some(0) || spec.threads_required == Some(0) {
                return Err(format!(
                    "{at}group '{name}': max-threads and threads-required must be 1 or more"
                ));
            }
            if groups.iter().any(|g| &g.name == name) || name == crate::filter::GLOBAL_GROUP {
                return Err(format!("{at}group '{name}' is defined twice (or reserved)"));
            }
            groups.push(TestGroup {
                name: name.clone(),
                filter: spec.filter.as_ref().map(|f| f.filter.clone()),
                max_threads: spec.max_threads,
                threads_required: spec.threads_required.unwrap_or(1),
            });
        }
        Ok(TestGroups { groups })
    }

    /// The first group whose filter matches the test.
    pub fn constraint(&self, case: &TestCase) -> Constraint {
        if self.groups.is_empty() {
            return Constraint::FREE;
        }
        let facts = TestFacts::of(case, None);
        self.constraint_of(&facts)
    }

    fn constraint_of(&self, facts: &TestFacts) -> Constraint {
        let group = self
            .groups
            .iter()
            .position(|g| g.filter.as_ref().is_some_and(|f| f.matches(facts)));
        Constraint {
            group,
            slots: group.map_or(1, |g| self.groups[g].threads_required),
        }
    }

    /// Each group's `max-threads`, indexed like [`Constraint::group`].
    pub fn limits(&self) -> Vec<Option<usize>> {
        self.groups.iter().map(|g| g.max_threads).collect()
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.groups.iter().map(|g| g.name.as_str()).collect()
    }

    pub fn name(&self, group: usize) -> &str {
        &self.groups[group].name
    }

    pub fn threads_required(&self, group: usize) -> usize {
        self.groups[group].threads_required
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, filter: &str, max: Option<usize>, req: Option<usize>) -> TestGroup {
        TestGroup {
            name: name.into(),
            filter: Some(Filter::parse_config(filter).unwrap()),
            max_threads: max,
            threads_required: req.unwrap_or(1),
        }
    }

    #[test]
    fn first_matching_group_wins() {
        let groups = TestGroups {
            groups: vec![
                group("db", "test(db::)", Some(1), None),
                group("heavy", "test(/^heavy_/) | test(db::big)", None, Some(2)),
            ],
        };
        let of = |name| groups.constraint_of(&TestFacts::lib_test("app", name));
        assert_eq!(
            of("db::insert"),
            Constraint {
                group: Some(0),
                slots: 1
            }
        );
        assert_eq!(
            of("db::big"),
            Constraint {
                group: Some(0),
                slots: 1
            }
        );
        assert_eq!(
            of("heavy_sort"),
            Constraint {
                group: Some(1),
                slots: 2
            }
        );
        assert_eq!(of("light"), Constraint::FREE);
        assert_eq!(groups.limits(), [Some(1), None]);
        assert_eq!(groups.index_of("heavy"), Some(1));
        assert_eq!(groups.name(0), "db");
    }
}
