//! Filter expressions (`-E`) end to end on the `filters` fixture workspace (packages `alpha`
//! with lib, bin and integration-test targets, `beta` with lib and test, and the proc-macro
//! crate `gamma_macros`): each predicate, matcher and operator selects exactly the tests it
//! describes in `runner list`, expressions combine with the name filters, and a syntax error or
//! an unknown package is a usage error that points at the mistake.

mod common;

use std::collections::BTreeSet;

use common::*;

const FIXTURE: &str = "filters";

/// Every test of the fixture, as `binary-id test-name`.
const ALL: [&str; 15] = [
    "alpha tests::format_number",
    "alpha tests::parse_number",
    "alpha tests::parse_word",
    "alpha::api api_get",
    "alpha::api api_post",
    "alpha::bin/alpha-cli tests::cli_runs",
    "beta cache::hit",
    "beta db::delete_row",
    "beta db::insert_row",
    "beta::db flaky_once",
    "beta::db quick",
    "beta::db sleeps_long",
    "beta::pair pair_a",
    "beta::pair pair_b",
    "gamma_macros tests::macro_unit",
];

/// The tests `runner list --format json ARGS` selects, as `binary-id test-name`.
fn listed(args: &[&str]) -> BTreeSet<String> {
    let mut all = vec!["list", "--format", "json"];
    all.extend_from_slice(args);
    let run = run_fixture(FIXTURE, &all);
    run.assert_code(0);
    let listing: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("listing is not JSON: {e}\n{}", run.context()));
    let mut names = BTreeSet::new();
    for binary in listing["binaries"].as_array().expect("binaries") {
        for test in binary["tests"].as_array().expect("tests") {
            names.insert(format!(
                "{} {}",
                binary["binary_id"].as_str().unwrap(),
                test["name"].as_str().unwrap()
            ));
        }
    }
    names
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// `-E EXPR` selects exactly `expected`.
fn assert_selects(expr: &str, expected: &[&str]) {
    assert_eq!(listed(&["-E", expr]), set(expected), "-E '{expr}'");
}

#[test]
fn the_fixture_has_every_kind() {
    assert_eq!(listed(&[]), set(&ALL));
}

#[test]
fn each_predicate() {
    assert_selects(
        "test(parse)",
        &["alpha tests::parse_number", "alpha tests::parse_word"],
    );
    assert_selects(
        "package(beta)",
        &[
            "beta cache::hit",
            "beta db::delete_row",
            "beta db::insert_row",
            "beta::db flaky_once",
            "beta::db quick",
            "beta::db sleeps_long",
            "beta::pair pair_a",
            "beta::pair pair_b",
        ],
    );
    // binary(): the target's name; for unit tests, the crate's.
    assert_selects(
        "binary(api)",
        &["alpha::api api_get", "alpha::api api_post"],
    );
    assert_selects(
        "binary(alpha-cli)",
        &["alpha::bin/alpha-cli tests::cli_runs"],
    );
    assert_selects(
        "binary_id(beta::db)",
        &[
            "beta::db flaky_once",
            "beta::db quick",
            "beta::db sleeps_long",
        ],
    );
    assert_selects("kind(bin)", &["alpha::bin/alpha-cli tests::cli_runs"]);
    assert_selects("kind(proc-macro)", &["gamma_macros tests::macro_unit"]);
    assert_selects(
        "kind(test)",
        &[
            "alpha::api api_get",
            "alpha::api api_post",
            "beta::db flaky_once",
            "beta::db quick",
            "beta::db sleeps_long",
            "beta::pair pair_a",
            "beta::pair pair_b",
        ],
    );
    assert_selects(
        "kind(lib) & package(alpha)",
        &[
            "alpha tests::format_number",
            "alpha tests::parse_number",
            "alpha tests::parse_word",
        ],
    );
    assert_selects("all()", &ALL);
    assert_selects("none()", &[]);
}

#[test]
fn each_matcher() {
    // test() contains by default; = is the whole name.
    assert_selects("test(=parse)", &[]);
    assert_selects("test(=tests::parse_word)", &["alpha tests::parse_word"]);
    assert_selects(
        "test(~_row)",
        &["beta db::delete_row", "beta db::insert_row"],
    );
    assert_selects(
        "test(/^db::.*_row$/)",
        &["beta db::delete_row", "beta db::insert_row"],
    );
    assert_selects(
        "test(#tests::*_number)",
        &["alpha tests::format_number", "alpha tests::parse_number"],
    );
    // package() and binary_id() are globs by default.
    assert_selects(
        "binary_id(alpha::*)",
        &[
            "alpha::api api_get",
            "alpha::api api_post",
            "alpha::bin/alpha-cli tests::cli_runs",
        ],
    );
    assert_selects("package(gamma*)", &["gamma_macros tests::macro_unit"]);
    assert_selects("package(~amma)", &["gamma_macros tests::macro_unit"]);
    assert_selects("package(/^gam/)", &["gamma_macros tests::macro_unit"]);
}

#[test]
fn each_operator() {
    let api = ["alpha::api api_get", "alpha::api api_post"];
    let cache_and_api = [
        "alpha::api api_get",
        "alpha::api api_post",
        "beta cache::hit",
    ];
    for or in [
        "binary(api) or test(cache)",
        "binary(api) | test(cache)",
        "binary(api)+test(cache)",
    ] {
        assert_selects(or, &cache_and_api);
    }
    for and in [
        "package(alpha) and test(api_)",
        "package(alpha) & test(api_)",
    ] {
        assert_selects(and, &api);
    }
    let not_beta: Vec<&str> = ALL
        .iter()
        .copied()
        .filter(|t| !t.starts_with("beta"))
        .collect();
    for not in ["not package(beta)", "!package(beta)"] {
        assert_selects(not, &not_beta);
    }
    assert_selects("package(alpha) - kind(lib) - kind(bin)", &api);
    // and binds tighter than or; parentheses change that.
    assert_selects("test(hit) | package(alpha) & kind(test)", &cache_and_api);
    assert_selects("(test(hit) | package(alpha)) & kind(test)", &api);
}

#[test]
fn expressions_are_or_ed_and_combine_with_name_filters() {
    assert_eq!(
        listed(&["-E", "binary(api)", "--filter-expr", "test(hit)"]),
        set(&[
            "alpha::api api_get",
            "alpha::api api_post",
            "beta cache::hit"
        ])
    );
    // The name filters narrow the expressions' union; --skip and --exact still apply.
    assert_eq!(
        listed(&["-E", "binary(api)", "-E", "test(hit)", "get", "hit"]),
        set(&["alpha::api api_get", "beta cache::hit"])
    );
    assert_eq!(
        listed(&["-E", "package(alpha)", "--skip", "parse"]),
        set(&[
            "alpha tests::format_number",
            "alpha::api api_get",
            "alpha::api api_post",
            "alpha::bin/alpha-cli tests::cli_runs",
        ])
    );
    assert_eq!(
        listed(&["-E", "package(alpha)", "--exact", "api_get"]),
        set(&["alpha::api api_get"])
    );
}

#[test]
fn a_run_runs_exactly_the_selection() {
    let run = run_fixture(
        FIXTURE,
        &[
            "-E",
            "kind(proc-macro) | binary(alpha-cli)",
            "--message-format",
            "json",
        ],
    );
    run.assert_code(0);
    let finished: BTreeSet<String> = finished(&run.events())
        .into_keys()
        .map(|(binary, name)| format!("{binary} {name}"))
        .collect();
    assert_eq!(
        finished,
        set(&[
            "alpha::bin/alpha-cli tests::cli_runs",
            "gamma_macros tests::macro_unit"
        ])
    );
}

#[test]
fn a_syntax_error_points_at_the_column() {
    let run = run_fixture(FIXTURE, &["list", "-E", "package(alpha) & test(parse"]);
    run.assert_code(2);
    assert_eq!(
        run.stderr,
        "error: -E: invalid filter expression at column 28: expected ')' to close test(\n    \
         package(alpha) & test(parse\n                               ^\n"
    );
    let run = run_fixture(FIXTURE, &["list", "-E", "test(a) tset(b)"]);
    run.assert_code(2);
    let lines = run.stderr_lines();
    assert_eq!(
        lines[0],
        "error: -E: invalid filter expression at column 9: expected an operator (and, or, \
         not, &, |, +, -) or the end of the expression"
    );
    assert_eq!(lines[2].find('^'), Some(4 + 8), "{}", run.stderr);
    let run = run_fixture(FIXTURE, &["list", "-E", "kind(library)"]);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("unknown kind 'library': expected one of lib, test, bin"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unknown_package_or_binary_is_an_error_naming_the_closest() {
    let run = run_fixture(FIXTURE, &["list", "-E", "test(x) | package(alpah)"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains(
            "error: -E: invalid filter expression at column 19: no package is named 'alpah': \
             did you mean 'alpha'?"
        ),
        "{}",
        run.stderr
    );
    let run = run_fixture(FIXTURE, &["-E", "package(=xyz)"]);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("no package is named 'xyz'; there are alpha, beta, gamma_macros"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("Summary"),
        "nothing ran:\n{}",
        run.stdout
    );
    let run = run_fixture(FIXTURE, &["list", "-E", "binary(apii)"]);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("no test binary is named 'apii': did you mean 'api'?"),
        "{}",
        run.stderr
    );
    let run = run_fixture(FIXTURE, &["list", "-E", "package(/^zz/)"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("package(/^zz/) matches no package"),
        "{}",
        run.stderr
    );
}

/// A config file for the fixture, in a directory of its own.
fn config(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("runner.toml"), text).expect("write config");
    dir
}

fn config_arg(dir: &tempfile::TempDir) -> String {
    dir.path().join("runner.toml").display().to_string()
}

#[test]
fn group_selects_by_the_config_files_groups() {
    let dir = config(
        "[[group]]\nname = \"database\"\nfilter = \"test(db::) | binary_id(beta::db)\"\n\
         max-threads = 1\n",
    );
    let path = config_arg(&dir);
    assert_eq!(
        listed(&["--config-file", &path, "-E", "group(database) - kind(test)"]),
        set(&["beta db::delete_row", "beta db::insert_row"])
    );
    assert_eq!(
        listed(&[
            "--config-file",
            &path,
            "-E",
            "group(@global) & package(beta) - binary(pair)"
        ]),
        set(&["beta cache::hit"])
    );
}

#[test]
fn an_old_style_config_filter_is_an_error_suggesting_the_expression() {
    let dir = config("[[group]]\nname = \"database\"\nfilter = \"db::\"\nmax-threads = 1\n");
    let run = run_fixture(FIXTURE, &["list", "--config-file", &config_arg(&dir)]);
    run.assert_code(2);
    assert!(
        run.stderr.ends_with("did you mean test(~db::)?\n"),
        "{}",
        run.stderr
    );
    assert!(run
        .stderr
        .contains("runner.toml:3:10: invalid value for 'filter' in [[group]]"));
    // A config filter naming a package that does not exist is caught as on the command line.
    let dir = config("[[group]]\nname = \"g\"\nfilter = \"package(bta)\"\n");
    let run = run_fixture(FIXTURE, &["list", "--config-file", &config_arg(&dir)]);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("runner.toml:3: no package is named 'bta': did you mean 'beta'?"),
        "{}",
        run.stderr
    );
}
