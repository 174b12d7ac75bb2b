//! Unit tests of the filter-expression parser and evaluator: every predicate, matcher and
//! operator, precedence, and the column and words of each kind of syntax error.

use super::*;
use crate::filter::eval::{matches, TestFacts};

fn facts<'a>(package: &'a str, kind: &'a str, binary: &'a str, test: &'a str) -> TestFacts<'a> {
    TestFacts {
        package,
        binary,
        binary_id: Box::leak(
            match kind {
                "lib" => package.to_string(),
                "test" => format!("{package}::{binary}"),
                other => format!("{package}::{other}/{binary}"),
            }
            .into_boxed_str(),
        ),
        kind,
        test,
        group: Some("@global"),
    }
}

fn selects(expr: &str, facts: &TestFacts) -> bool {
    let parsed = parse(expr, Context::CommandLine).unwrap_or_else(|e| panic!("{expr}: {e}"));
    matches(&parsed, facts)
}

fn error(expr: &str) -> (usize, String) {
    let err = parse(expr, Context::CommandLine).unwrap_err();
    (err.column(), err.message().to_string())
}

#[test]
fn predicates_and_default_matchers() {
    let t = facts("app", "test", "api", "db::insert_row");
    assert!(selects("test(insert)", &t), "test() contains by default");
    assert!(!selects("test(=insert)", &t));
    assert!(selects("test(=db::insert_row)", &t));
    assert!(
        selects("package(app)", &t),
        "package() is a glob: equality here"
    );
    assert!(!selects("package(ap)", &t));
    assert!(selects("package(a*)", &t));
    assert!(selects("binary(api)", &t));
    assert!(selects("binary_id(app::api)", &t));
    assert!(selects("binary_id(app::*)", &t));
    assert!(selects("kind(test)", &t));
    assert!(!selects("kind(lib)", &t));
    assert!(selects("all()", &t));
    assert!(!selects("none()", &t));
    assert!(selects("group(@global)", &t));
    let bin = facts("app", "bin", "cli", "t");
    assert!(selects("binary_id(=app::bin/cli)", &bin));
    assert!(selects("kind(bin)", &bin));
}

#[test]
fn matchers() {
    let t = facts("app", "lib", "app", "tests::parse_number");
    assert!(selects("test(~parse)", &t));
    assert!(selects("test(/^tests::parse_/)", &t));
    assert!(!selects("test(/^parse/)", &t));
    assert!(selects("test(#tests::*_number)", &t));
    assert!(
        !selects("test(#parse*)", &t),
        "a glob matches the whole name"
    );
    assert!(selects("test(/a\\/b|number$/)", &t));
    assert!(selects(r"test(=tests::parse\u{5f}number)", &t));
    assert!(
        selects("test(  parse  )", &t),
        "spaces around a name are dropped"
    );
    let odd = facts("app", "lib", "app", "f(x)");
    assert!(selects(r"test(=f(x\))", &odd));
}

#[test]
fn operators_and_precedence() {
    let a = facts("p", "lib", "p", "a");
    let b = facts("p", "lib", "p", "b");
    let c = facts("p", "lib", "p", "c");
    for or in [
        "test(=a) or test(=b)",
        "test(=a) | test(=b)",
        "test(=a)+test(=b)",
    ] {
        assert!(
            selects(or, &a) && selects(or, &b) && !selects(or, &c),
            "{or}"
        );
    }
    for and in ["package(p) and test(=a)", "package(p)&test(=a)"] {
        assert!(selects(and, &a) && !selects(and, &b), "{and}");
    }
    for not in ["not test(=a)", "!test(=a)", "not(test(=a))"] {
        assert!(!selects(not, &a) && selects(not, &b), "{not}");
    }
    assert!(selects("all() - test(=a)", &b) && !selects("all() - test(=a)", &a));
    // and binds tighter than or; not tighter than and.
    assert!(selects("test(=a) & test(=b) | test(=c)", &c));
    assert!(selects("test(=c) | test(=b) & test(=a)", &c));
    assert!(!selects("test(=c) | test(=b) & test(=a)", &b));
    assert!(selects("not test(=a) | test(=a)", &a));
    assert!(!selects("not (test(=a) | test(=b))", &a));
    // Difference is left-associative: (all - a) - b.
    assert!(!selects("all() - test(=a) - test(=b)", &b));
    assert!(selects("all() - test(=a) - test(=b)", &c));
    // Keywords are whole words: a test named "order" is not "or".
    assert!(selects("test(order)", &facts("p", "lib", "p", "order")));
}

#[test]
fn syntax_errors_point_at_the_column() {
    assert_eq!(error("test(a"), (7, "expected ')' to close test(".into()));
    assert_eq!(
        error("test(a) test(b)"),
        (
            9,
            "expected an operator (and, or, not, &, |, +, -) or the end of the expression".into()
        )
    );
    assert_eq!(error("test(a))"), (8, "unmatched ')'".into()));
    assert_eq!(
        error("(test(a)"),
        (9, "expected ')' to close the '(' at column 1".into())
    );
    assert_eq!(
        error("test(a) &"),
        (10, "expected a predicate after the operator".into())
    );
    assert_eq!(
        error("tset(a)"),
        (1, "unknown predicate 'tset': did you mean test()?".into())
    );
    assert_eq!(
        error("db::"),
        (1, "unknown predicate 'db': expected one of test, package, binary, binary_id, kind, group, all, none".into())
    );
    assert_eq!(
        error("test"),
        (
            5,
            "expected '(' after 'test': predicates are written test(...)".into()
        )
    );
    assert_eq!(
        error("test()"),
        (6, "expected a name inside test(...)".into())
    );
    assert_eq!(
        error("all(x)"),
        (5, "all() takes no argument: expected ')'".into())
    );
    assert_eq!(
        error("   "),
        (
            1,
            "expected a predicate such as test(NAME), package(NAME) or all(), and found nothing"
                .into()
        )
    );
    assert_eq!(
        error("test(/a"),
        (
            8,
            "expected '/' to end the regex that starts at column 6 in test(".into()
        )
    );
    assert!(error("test(/(/)").1.starts_with("invalid regex"));
    assert_eq!(
        error("test(/a/ b)"),
        (10, "expected ')' to close test(".into())
    );
    assert_eq!(
        error("kind(libs)"),
        (
            6,
            "unknown kind 'libs': expected one of lib, test, bin, bench, example, proc-macro, \
             doc; did you mean kind(lib)?"
                .into()
        )
    );
    assert!(!error("kind(zzz)").1.contains("did you mean"));
    assert!(error(r"test(a\q)").1.starts_with("invalid escape"));
    assert!(error("deps(x)")
        .1
        .starts_with("deps() is a nextest predicate that runner does not support"));
}

#[test]
fn group_is_for_the_command_line_only() {
    assert!(parse("group(db)", Context::CommandLine).is_ok());
    let err = parse("test(a) | group(db)", Context::Config).unwrap_err();
    assert_eq!(err.column(), 11);
    assert!(err
        .message()
        .starts_with("group() can only be used on the command line"));
}
