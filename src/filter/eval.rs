//! Whether a test is in the set a filter expression describes, and whether the names the
//! expression asks for exist at all.

use super::error::FilterError;
use super::expr::{Expr, Predicate};
use crate::closest::closest;
use crate::model::{TargetKind, TestCase};

/// The group of a test that is in no `[[group]]`, as nextest calls it.
pub const GLOBAL_GROUP: &str = "@global";

/// What a filter expression can ask about one test.
#[derive(Debug, Clone, Copy)]
pub struct TestFacts<'a> {
    /// Empty for a binary given with `--binary`, which belongs to no known package.
    pub package: &'a str,
    /// The target's name: the crate's for unit tests, else the test, bench, bin or example's.
    pub binary: &'a str,
    pub binary_id: &'a str,
    /// `lib`, `test`, `bin`, `bench`, `example`, `proc-macro`, `doc` or `prebuilt`.
    pub kind: &'a str,
    pub test: &'a str,
    /// The test's group ([`GLOBAL_GROUP`] for none); `None` where groups are not decided yet,
    /// and `group()` then matches nothing.
    pub group: Option<&'a str>,
}

impl<'a> TestFacts<'a> {
    pub fn of(case: &'a TestCase, group: Option<&'a str>) -> TestFacts<'a> {
        TestFacts {
            package: case.binary.package.as_deref().unwrap_or_default(),
            binary: &case.binary.target_name,
            binary_id: &case.binary.id,
            kind: kind_name(&case.binary.kind),
            test: &case.name,
            group,
        }
    }

    /// A unit test of `package`'s library, its group not decided: what the tests of
    /// config-file filters (groups, overrides, scripts, selection) ask about.
    #[cfg(test)]
    pub fn lib_test(package: &'a str, test: &'a str) -> TestFacts<'a> {
        TestFacts {
            package,
            binary: package,
            binary_id: package,
            kind: "lib",
            test,
            group: None,
        }
    }
}

pub fn kind_name(kind: &TargetKind) -> &'static str {
    match kind {
        TargetKind::Lib => "lib",
        TargetKind::ProcMacro => "proc-macro",
        TargetKind::Bin => "bin",
        TargetKind::Test => "test",
        TargetKind::Bench => "bench",
        TargetKind::Example => "example",
        TargetKind::Prebuilt => "prebuilt",
        TargetKind::Doc => "doc",
    }
}

pub fn matches(expr: &Expr, facts: &TestFacts) -> bool {
    match expr {
        Expr::All => true,
        Expr::None => false,
        Expr::Not(inner) => !matches(inner, facts),
        Expr::And(a, b) => matches(a, facts) && matches(b, facts),
        Expr::Or(a, b) => matches(a, facts) || matches(b, facts),
        Expr::Difference(a, b) => matches(a, facts) && !matches(b, facts),
        Expr::Leaf(leaf) => {
            let name = match leaf.predicate {
                Predicate::Test => facts.test,
                Predicate::Package => facts.package,
                Predicate::Binary => facts.binary,
                Predicate::BinaryId => facts.binary_id,
                Predicate::Kind => facts.kind,
                Predicate::Group => match facts.group {
                    Some(group) => group,
                    None => return false,
                },
            };
            leaf.matcher.is_match(name)
        }
    }
}

/// The package and binary names of the workspace, against which `package()` and `binary()`
/// are checked: a name that matches none of them is a mistake, not an empty selection.
#[derive(Debug, Clone, Default)]
pub struct KnownNames {
    /// Empty when the binaries were given with `--binary` (no packages known): not checked.
    pub packages: Vec<String>,
    pub binaries: Vec<String>,
}

/// The first `package()` or `binary()` of `expr` that matches no known name.
pub fn check_names(input: &str, expr: &Expr, known: &KnownNames) -> Result<(), FilterError> {
    for leaf in expr.leaves() {
        let (what, names) = match leaf.predicate {
            Predicate::Package if !known.packages.is_empty() => ("package", &known.packages),
            Predicate::Binary if !known.binaries.is_empty() => ("test binary", &known.binaries),
            _ => continue,
        };
        if names.iter().any(|name| leaf.matcher.is_match(name)) {
            continue;
        }
        let listed = || {
            let mut sorted: Vec<&str> = names.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            sorted.dedup();
            let more = sorted.len().saturating_sub(8);
            let mut list = sorted[..sorted.len().min(8)].join(", ");
            if more > 0 {
                list.push_str(&format!(" and {more} more"));
            }
            list
        };
        let message = match leaf.matcher.exact() {
            Some(name) => match closest(name, names.iter().map(String::as_str)) {
                Some(close) => format!("no {what} is named '{name}': did you mean '{close}'?"),
                None => format!("no {what} is named '{name}'; there are {}", listed()),
            },
            None => format!(
                "{}({}) matches no {what}; there are {}",
                leaf.predicate.name(),
                leaf.matcher,
                listed()
            ),
        };
        return Err(FilterError::new(input, leaf.span.0, message));
    }
    Ok(())
}
