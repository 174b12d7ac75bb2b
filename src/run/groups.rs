//! Test groups from the config file (the one home of `regex`): tests that match a group share
//! its concurrency limit (`max-threads`) and take `threads-required` worker slots each.

use regex::Regex;

use crate::cli::GroupSpec;

#[derive(Debug, Clone)]
enum Matcher {
    Substring(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
pub struct TestGroup {
    name: String,
    matcher: Matcher,
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
        let mut groups = Vec::new();
        for spec in specs {
            let matcher = if spec.regex {
                Regex::new(&spec.filter).map(Matcher::Regex).map_err(|e| {
                    format!(
                        "group '{}': invalid regex '{}': {e}",
                        spec.name, spec.filter
                    )
                })?
            } else {
                Matcher::Substring(spec.filter.clone())
            };
            if spec.max_threads == Some(0) || spec.threads_required == Some(0) {
                return Err(format!(
                    "group '{}': max-threads and threads-required must be 1 or more",
                    spec.name
                ));
            }
            groups.push(TestGroup {
                name: spec.name.clone(),
                matcher,
                max_threads: spec.max_threads,
                threads_required: spec.threads_required.unwrap_or(1),
            });
        }
        Ok(TestGroups { groups })
    }

    /// The first group whose filter matches `binary-id test-name`.
    pub fn constraint(&self, binary_id: &str, name: &str) -> Constraint {
        if self.groups.is_empty() {
            return Constraint::FREE;
        }
        let full = format!("{binary_id} {name}");
        let group = self.groups.iter().position(|g| match &g.matcher {
            Matcher::Substring(s) => full.contains(s.as_str()),
            Matcher::Regex(r) => r.is_match(name) || r.is_match(binary_id) || r.is_match(&full),
        });
        Constraint {
            group,
            slots: group.map_or(1, |g| self.groups[g].threads_required),
        }
    }

    /// The name of the test's group, `@global` for none (as `group()` sees it).
    pub fn group_name(&self, binary_id: &str, name: &str) -> &str {
        match self.constraint(binary_id, name).group {
            Some(g) => &self.groups[g].name,
            None => crate::filter::GLOBAL_GROUP,
        }
    }

    /// Each group's `max-threads`, indexed like [`Constraint::group`].
    pub fn limits(&self) -> Vec<Option<usize>> {
        self.groups.iter().map(|g| g.max_threads).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(
        name: &str,
        filter: &str,
        regex: bool,
        max: Option<usize>,
        req: Option<usize>,
    ) -> GroupSpec {
        GroupSpec {
            name: name.into(),
            filter: filter.into(),
            regex,
            max_threads: max,
            threads_required: req,
        }
    }

    #[test]
    fn first_matching_group_wins() {
        let groups = TestGroups::compile(&[
            spec("db", "db::", false, Some(1), None),
            spec("heavy", "^heavy_", true, None, Some(2)),
        ])
        .unwrap();
        assert_eq!(
            groups.constraint("app", "db::insert"),
            Constraint {
                group: Some(0),
                slots: 1
            }
        );
        assert_eq!(
            groups.constraint("app", "heavy_sort"),
            Constraint {
                group: Some(1),
                slots: 2
            }
        );
        assert_eq!(
            groups.constraint("app", "light"),
            Constraint {
                group: None,
                slots: 1
            }
        );
        assert_eq!(groups.limits(), [Some(1), None]);
    }

    #[test]
    fn bad_regex_is_an_error() {
        let err = TestGroups::compile(&[spec("x", "(", true, None, None)]).unwrap_err();
        assert!(err.contains("group 'x'"));
    }
}
