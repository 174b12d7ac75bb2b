//! Per-test overrides, profile inheritance and `runner show-config` end to end on the `filters`
//! fixture workspace, whose `beta::db` tests prove which settings reached them: `flaky_once`
//! fails its first attempt (it passes only with a retry), `sleeps_long` sleeps two minutes when
//! `FILTERS_FIXTURE_SLEEP` is set (it ends early only by a timeout of its own).

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

const FIXTURE: &str = "filters";

/// A config file in a directory of its own, and the `--config-file` argument naming it.
struct Config {
    dir: tempfile::TempDir,
}

impl Config {
    fn new(text: &str) -> Config {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("runner.toml"), text).expect("write config");
        Config { dir }
    }

    fn path(&self) -> String {
        self.dir.path().join("runner.toml").display().to_string()
    }
}

/// A JSON run of the fixture under `config`, with `args`: its exit code and each test's final
/// event by name.
fn run_under(config: &Config, args: &[&str]) -> (Run, BTreeMap<String, Value>) {
    let path = config.path();
    let mut all = vec!["--config-file", &path, "--message-format", "json", "-n2"];
    all.extend_from_slice(args);
    let run = run_fixture_with(FIXTURE, &all, |c| {
        c.env("FILTERS_FIXTURE_SLEEP", "1");
    });
    let finals = final_events(&run.events())
        .into_iter()
        .map(|((_, name), event)| (name, event.clone()))
        .collect();
    (run, finals)
}

fn attempts(event: &Value) -> usize {
    event["failed_attempts"].as_array().map_or(0, Vec::len) + 1
}

/// `flaky_once` alone under `config`: whether the run passed, and how many attempts it took.
fn flaky_under(config: &str, args: &[&str]) -> (i32, usize) {
    let mut all = vec!["-E", "test(=flaky_once)"];
    all.extend_from_slice(args);
    let (run, finals) = run_under(&Config::new(config), &all);
    let event = finals
        .get("flaky_once")
        .unwrap_or_else(|| panic!("{}", run.context()));
    (run.code, attempts(event))
}

#[test]
fn the_first_matching_override_wins_each_setting() {
    // The first override that sets retries is the one that matches first.
    let first_retries = "[profile.default]\nretries = 0\n\
        [[profile.default.overrides]]\nfilter = \"test(flaky)\"\nretries = 1\n\
        [[profile.default.overrides]]\nfilter = \"package(beta)\"\nretries = 0\n";
    assert_eq!(flaky_under(first_retries, &[]), (0, 2));
    let first_none = "[profile.default]\nretries = 3\n\
        [[profile.default.overrides]]\nfilter = \"package(beta)\"\nretries = 0\n\
        [[profile.default.overrides]]\nfilter = \"test(flaky)\"\nretries = 1\n";
    assert_eq!(flaky_under(first_none, &[]), (100, 1));
    // An override that does not set retries leaves them to the next one that matches.
    let per_setting = "[[profile.default.overrides]]\nfilter = \"all()\"\nslow-timeout = \"30s\"\n\
        [[profile.default.overrides]]\nfilter = \"binary_id(beta::db)\"\nretries = 2\n";
    assert_eq!(flaky_under(per_setting, &[]), (0, 2));
    // An override whose filter does not match changes nothing.
    let elsewhere = "[[profile.default.overrides]]\nfilter = \"package(alpha)\"\nretries = 2\n";
    assert_eq!(flaky_under(elsewhere, &[]), (100, 1));
}

#[test]
fn the_command_line_wins_over_overrides_which_win_over_the_profile() {
    let config = "[profile.default]\nretries = 0\n\
        [[profile.default.overrides]]\nfilter = \"test(flaky)\"\nretries = 1\n";
    assert_eq!(flaky_under(config, &[]), (0, 2), "override over profile");
    assert_eq!(
        flaky_under(config, &["--retries", "0"]),
        (100, 1),
        "CLI over override"
    );
    // flaky-result from an override: a flaky pass fails the run, unless the CLI says pass.
    let strict = "[[profile.default.overrides]]\nfilter = \"test(flaky)\"\nretries = 1\n\
        flaky-result = \"fail\"\n";
    assert_eq!(flaky_under(strict, &[]).0, 100);
    assert_eq!(flaky_under(strict, &["--flaky-result", "pass"]).0, 0);
}

#[test]
fn a_timeout_override_ends_only_the_tests_it_matches() {
    let config = Config::new(
        "[profile.default]\ntimeout = \"10m\"\n\
         [[profile.default.overrides]]\nfilter = \"test(=sleeps_long)\"\ntimeout = \"1s\"\n\
         timeout-grace = \"100ms\"\n",
    );
    let (run, finals) = run_under(&config, &["-E", "binary_id(beta::db) - test(flaky)"]);
    run.assert_code(100);
    assert_eq!(
        finals["sleeps_long"]["status"],
        "timed-out",
        "{}",
        run.context()
    );
    assert_eq!(finals["quick"]["status"], "passed", "{}", run.context());
}

#[test]
fn a_batch_override_batches_the_tests_it_matches() {
    let config =
        Config::new("[[profile.default.overrides]]\nfilter = \"binary(api)\"\nbatch = true\n");
    let (run, finals) = run_under(&config, &["-E", "package(alpha)"]);
    run.assert_code(0);
    let events = run.events();
    assert_eq!(
        events_of(&events, "run-started")[0]["mode"],
        "mixed",
        "{}",
        run.context()
    );
    assert_eq!(finals.len(), 6);
    for name in ["api_get", "api_post"] {
        assert!(
            finals[name]["chunk"].is_number(),
            "{name} ran in a chunk: {}",
            finals[name]
        );
    }
    assert!(finals["tests::parse_word"]["chunk"].is_null());
}

#[test]
fn a_test_group_override_puts_tests_in_a_group() {
    let config = Config::new(
        "[[group]]\nname = \"serial\"\nmax-threads = 1\n\
         [[profile.default.overrides]]\nfilter = \"binary(api)\"\ntest-group = \"serial\"\n",
    );
    let mut args = vec!["list", "--config-file"];
    let path = config.path();
    args.extend([path.as_str(), "-E", "group(serial)"]);
    let run = run_fixture(FIXTURE, &args);
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with("alpha::api:\n    api_get\n    api_post\n"),
        "{}",
        run.stdout
    );
    let bad =
        Config::new("[[profile.default.overrides]]\nfilter = \"all()\"\ntest-group = \"serail\"\n");
    let run = run_fixture(FIXTURE, &["list", "--config-file", &bad.path()]);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("runner.toml:2: override: test-group 'serail' is not a [[group]]"),
        "{}",
        run.stderr
    );
}

#[test]
fn profiles_inherit_settings_and_overrides() {
    let config = "[profile.default]\nretries = 1\n\
        [profile.base]\ninherits = \"default\"\nslow-timeout = \"20s\"\n\
        [profile.ci]\ninherits = \"base\"\n";
    assert_eq!(flaky_under(config, &["--profile", "ci"]), (0, 2));
    let overrides = "[[profile.default.overrides]]\nfilter = \"test(flaky)\"\nretries = 1\n\
        [profile.ci]\ninherits = \"default\"\n";
    assert_eq!(flaky_under(overrides, &["--profile", "ci"]), (0, 2));
    // Without `inherits`, a profile inherits from default, as in nextest.
    let implicit = "[profile.default]\nretries = 1\n[profile.ci]\njobs = 2\n";
    assert_eq!(flaky_under(implicit, &["--profile", "ci"]), (0, 2));
    let cycle =
        Config::new("[profile.ci]\ninherits = \"base\"\n[profile.base]\ninherits = \"ci\"\n");
    let run = run_fixture(
        FIXTURE,
        &["--config-file", &cycle.path(), "--profile", "ci"],
    );
    run.assert_code(2);
    assert!(run.stderr.contains("ci -> base -> ci"), "{}", run.stderr);
}

const SHOWN: &str = "[profile.default]\nretries = 0\ntimeout = \"30s\"\n\n\
[profile.ci]\ninherits = \"default\"\nslow-timeout = \"10s\"\n\n\
[[profile.ci.overrides]]\nfilter = \"package(beta) & kind(test)\"\nretries = 2\ntimeout = \"5s\"\n\n\
[[profile.ci.overrides]]\nfilter = \"test(flaky)\"\nretries = 9\ntest-group = \"serial\"\n\n\
[[group]]\nname = \"serial\"\nmax-threads = 1\n";

#[test]
fn show_config_test_says_where_each_setting_comes_from() {
    let config = Config::new(SHOWN);
    let path = config.path();
    let args = [
        "show-config",
        "test",
        "flaky_once",
        "--config-file",
        &path,
        "--profile",
        "ci",
    ];
    let mut with_cli = args.to_vec();
    with_cli.extend(["--timeout", "1m"]);
    let run = run_fixture(FIXTURE, &with_cli);
    run.assert_code(0);
    // The command line names the binary as the listing does.
    let listing = run_fixture(FIXTURE, &["list", "--format", "json"]);
    let listing: Value = serde_json::from_str(&listing.stdout).unwrap();
    let binaries = listing["binaries"].as_array().unwrap();
    let db = binaries
        .iter()
        .find(|b| b["binary_id"] == "beta::db")
        .unwrap();
    let binary = db["path"].as_str().unwrap();
    let expected = format!(
        "Config file: {path}\n\
         Profile: ci (inherits from default)\n\
         Precedence: command line > overrides (first match per setting) > profile > default\n\
         \n\
         beta::db flaky_once (package beta, kind test):\n  \
         retries           2          override 1 at {path}:10\n  \
         timeout           1m         command line (--timeout)\n  \
         slow-timeout      10s        profile ci\n  \
         timeout-grace     5s         default\n  \
         leak-timeout      200ms      default\n  \
         leak-result       pass       default\n  \
         flaky-result      pass       default\n  \
         threads-required  1          [[group]] 'serial'\n  \
         test-group        serial     override 2 at {path}:15\n  \
         batch             false      default\n  \
         setup scripts     none\n  \
         command           {binary} --exact flaky_once --nocapture\n  \
         in                {}\n",
        fixture_dir(FIXTURE).join("beta").display()
    );
    assert_eq!(run.stdout, expected);
    // A test no override matches gets the profile's values, inherited ones named as such.
    let run = run_fixture(
        FIXTURE,
        &[
            "show-config",
            "test",
            "cache::hit",
            "--config-file",
            &path,
            "--profile",
            "ci",
        ],
    );
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("  retries           0          profile default (inherited by ci)\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("  timeout           30s        profile default (inherited by ci)\n"),
        "{}",
        run.stdout
    );
    let run = run_fixture(
        FIXTURE,
        &[
            "show-config",
            "test",
            "no_such_test",
            "--config-file",
            &path,
        ],
    );
    run.assert_code(2);
    assert!(
        run.stderr.contains("no test is named 'no_such_test'"),
        "{}",
        run.stderr
    );
}

#[test]
fn show_config_prints_the_profile_groups_and_overrides() {
    let config = Config::new(SHOWN);
    let path = config.path();
    let run = run_fixture(
        FIXTURE,
        &["show-config", "--config-file", &path, "--profile", "ci"],
    );
    run.assert_code(0);
    for line in [
        "Profile: ci (inherits from default)",
        "  retries           0          profile default (inherited by ci)",
        "  slow-timeout      10s        profile ci",
        "  serial       max-threads 1, threads-required 1, filter (none: overrides' test-group only)",
        &format!("  1. filter package(beta) & kind(test)  ({path}:10)"),
        "     retries = 2, timeout = 5s",
        &format!("  2. filter test(flaky)  ({path}:15)"),
        "     retries = 9, test-group = serial",
    ] {
        assert!(run.stdout.lines().any(|l| l == line), "no line {line:?} in:\n{}", run.stdout);
    }
}

/// `pair_a` and `pair_b` on two workers under `config`, expecting them to meet or not.
fn pair_under(config: &str, expect: &str) -> Run {
    let config = Config::new(config);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = config.path();
    let args = [
        "--config-file",
        &path,
        "-n2",
        "-E",
        "binary(pair)",
        "--message-format",
        "json",
    ];
    run_fixture_with(FIXTURE, &args, |c| {
        c.env("FILTERS_PAIR_DIR", dir.path());
        c.env("FILTERS_PAIR_EXPECT", expect);
    })
}

#[test]
fn test_group_and_threads_required_overrides_change_the_schedule() {
    // Unconstrained, two workers run the pair at the same time.
    let run = pair_under("", "together");
    run.assert_code(0);
    // In a group of one thread, chosen by an override, they run one after the other.
    let grouped = "[[group]]\nname = \"serial\"\nmax-threads = 1\n\
        [[profile.default.overrides]]\nfilter = \"binary(pair)\"\ntest-group = \"serial\"\n";
    let run = pair_under(grouped, "alone");
    run.assert_code(0);
    // Each needing both workers, they cannot run side by side either.
    let wide = "[[profile.default.overrides]]\nfilter = \"binary(pair)\"\nthreads-required = 2\n";
    let run = pair_under(wide, "alone");
    run.assert_code(0);
    // And the fixture can tell: expecting them alone when nothing keeps them apart fails.
    let run = pair_under("", "alone");
    run.assert_code(100);
}

#[test]
fn show_config_usage_errors() {
    let run = run_fixture(FIXTURE, &["show-config", "tests", "x"]);
    run.assert_code(2);
    assert_eq!(
        run.stderr,
        "error: show-config takes nothing (the run's settings) or `test NAME` (one test's): e.g. \
         runner show-config test tests::parse\n"
    );
    let run = run_fixture(
        FIXTURE,
        &["show-config", "--config-file", "/nonexistent/runner.toml"],
    );
    run.assert_code(2);
    assert_eq!(
        run.stderr,
        "error: --config-file /nonexistent/runner.toml: no such file\n"
    );
}
