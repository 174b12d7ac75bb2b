//! Unit tests of reading the config file: profiles, groups, batches, overrides, inheritance,
//! and the place and words of every kind of error.

use super::*;

#[test]
fn profiles_groups_and_batches_parse() {
    let text = r#"
[profile.default]
jobs = "auto"
retries = 1
leak-result = "FAIL"

[profile.ci]
jobs = 4
fail-fast = 2
timeout = "2m"
slow-timeout = "1m 30s"
junit = "target/junit.xml"
timeline = "target/timeline.html"
order = "random"
no-tests = "warn"
batch = true

[[group]]
name = "db"
filter = "test(db::)"
max-threads = 1

[[group]]
name = "heavy"
filter = "test(/^heavy_/)"
threads-required = 2

[[batch]]
filter = "binary(tiny)"
"#;
    let config = FileConfig::parse(text, Path::new("/ws/.config/runner.toml")).unwrap();
    assert_eq!(config.profile_names(), ["ci", "default"]);
    let ci = config.profile("ci").unwrap();
    assert_eq!(ci.retries, None);
    assert_eq!(ci.jobs.as_ref().unwrap().get_ref(), &Jobs::Count(4));
    assert_eq!(ci.fail_fast, Some(2));
    assert_eq!(ci.timeout, Some(Duration::from_secs(120)));
    assert_eq!(ci.slow_timeout, Some(Duration::from_secs(90)));
    assert_eq!(ci.leak_timeout, None);
    assert_eq!(ci.junit, Some(PathBuf::from("/ws/target/junit.xml")));
    assert_eq!(ci.timeline, Some(PathBuf::from("/ws/target/timeline.html")));
    assert_eq!(ci.order, Some(OrderChoice::Random));
    assert_eq!(ci.no_tests, Some(NoTestsChoice::Warn));
    assert_eq!(ci.batch, Some(true));
    let default = config.profile("default").unwrap();
    let jobs = default.jobs.as_ref().unwrap();
    assert_eq!(jobs.get_ref(), &Jobs::Named("auto".into()));
    assert_eq!(
        default.describe("jobs", jobs),
        "/ws/.config/runner.toml:3:8: 'jobs' in [profile.default]"
    );
    assert_eq!(default.retries, Some(1));
    // Choices take the flags' names in any case, as they did before serde.
    assert_eq!(default.leak_result, Some(PassOrFail::Fail));
    assert_eq!(config.group.len(), 2);
    assert_eq!(
        config.group[1].filter.as_ref().unwrap().to_string(),
        "test(/^heavy_/)"
    );
    assert_eq!(config.batch[0].filter.origin, "/ws/.config/runner.toml:29");
    assert!(config.batch[0].batch);
}

#[test]
fn fail_fast_forms() {
    let parse = |value: &str| {
        let text = format!("[profile.p]\nfail-fast = {value}\n");
        FileConfig::parse(&text, Path::new("runner.toml"))
            .map(|config| config.profile("p").unwrap().fail_fast)
            .map_err(|e| e.to_string())
    };
    assert_eq!(parse("false"), Ok(None));
    assert_eq!(parse("true"), Ok(Some(1)));
    assert_eq!(parse("1"), Ok(Some(1)));
    assert_eq!(parse("7"), Ok(Some(7)));
    for bad in ["0", "-2", "\"yes\"", "1.5"] {
        let err = parse(bad).unwrap_err();
        assert!(
            err.starts_with("runner.toml:2:13: invalid value for 'fail-fast' in [profile.p]: "),
            "{err}"
        );
        assert!(err.ends_with("expected true, false or a number of failures of 1 or more"));
    }
}

fn parse_error(text: &str) -> String {
    let err = FileConfig::parse(text, Path::new("runner.toml")).unwrap_err();
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "{msg}");
    msg
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let msg = parse_error("[profile.ci]\nretries = 1\nretires = 2\n");
    assert!(
        msg.starts_with("runner.toml:3:1: unknown key 'retires' in [profile.ci]; expected one of jobs, retries,"),
        "{msg}"
    );
    let msg = parse_error("[profiles.ci]\njobs = 5\n");
    assert!(
        msg.starts_with(
            "runner.toml:1:2: unknown key 'profiles'; expected one of profile, group, batch"
        ),
        "{msg}"
    );
    let msg = parse_error("[profile.ci.extra]\njobs = 5\n");
    assert!(
        msg.starts_with("runner.toml:1:13: unknown key 'extra' in [profile.ci];"),
        "{msg}"
    );
    let msg = parse_error("[[group]]\nname = \"a\"\nfilter = \"all()\"\nmax-thread = 1\n");
    assert!(
        msg.starts_with("runner.toml:4:1: unknown key 'max-thread' in [[group]];"),
        "{msg}"
    );
}

#[test]
fn wrong_value_names_place_key_and_profile() {
    let cases = [
        (
            "[profile.ci]\nretries = \"many\"\n",
            "runner.toml:2:11: invalid value for 'retries' in [profile.ci]: invalid type: string \"many\", expected u32",
        ),
        (
            "[profile.ci]\njobs = true\n",
            "runner.toml:2:8: invalid value for 'jobs' in [profile.ci]: invalid type: boolean `true`, expected a number of workers or \"auto\"",
        ),
        (
            "[profile.ci]\ntimeout = \"soon\"\n",
            "runner.toml:2:11: invalid value for 'timeout' in [profile.ci]: invalid value: string \"soon\", expected a duration",
        ),
        (
            "[profile.ci]\n  leak-result = \"maybe\" # comment\n",
            "runner.toml:2:17: invalid value for 'leak-result' in [profile.ci]: invalid value: string \"maybe\", expected one of pass, fail",
        ),
        // The profile is the table above the key, not the first one in the file.
        (
            "[profile.a]\nretries = 1\n[profile.b]\nretries = -1\n",
            "runner.toml:4:11: invalid value for 'retries' in [profile.b]: invalid value: integer `-1`, expected u32",
        ),
        // Dotted keys and inline tables.
        (
            "[profile]\nci.order = 3\n",
            "runner.toml:2:12: invalid value for 'order' in [profile.ci]: invalid type: integer `3`, expected a string",
        ),
        (
            "profile.ci = { batch = 1 }\n",
            "runner.toml:1:24: invalid value for 'batch' in [profile.ci]: invalid type: integer `1`, expected a boolean",
        ),
        (
            "[[batch]]\nfilter = \"all()\"\nbatch = \"no\"\n",
            "runner.toml:3:9: invalid value for 'batch' in [[batch]]: invalid type: string \"no\", expected a boolean",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_error(text), expected, "{text}");
    }
}

#[test]
fn syntax_and_missing_key_errors_are_one_line_with_a_place() {
    for (text, start) in [
        ("[profile.ci\n", "runner.toml:1:"),
        ("[profile.ci]\nretries = \n", "runner.toml:2:"),
    ] {
        let msg = parse_error(text);
        assert!(msg.starts_with(start), "{text:?}: {msg}");
    }
    let msg = parse_error("[[group]]\nfilter = \"all()\"\n");
    assert_eq!(msg, "runner.toml:1:1: missing key 'name' in [[group]]");
}

#[test]
fn search_stops_at_the_workspace_root() {
    let outer = tempfile::tempdir().unwrap();
    let inner = outer.path().join("crate");
    std::fs::create_dir_all(inner.join("src")).unwrap();
    std::fs::write(outer.path().join("runner.toml"), "").unwrap();
    std::fs::write(inner.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    // Not a workspace root: the search goes up and finds the outer file.
    assert_eq!(
        FileConfig::find(&inner.join("src")),
        Some(outer.path().join("runner.toml"))
    );
    std::fs::write(
        inner.join("Cargo.toml"),
        "[package]\nname = \"x\"\n[workspace]\n",
    )
    .unwrap();
    assert_eq!(FileConfig::find(&inner.join("src")), None);
    std::fs::create_dir_all(inner.join(".config")).unwrap();
    std::fs::write(inner.join(".config/runner.toml"), "").unwrap();
    assert_eq!(
        FileConfig::find(&inner),
        Some(inner.join(".config/runner.toml"))
    );
}

#[test]
fn old_filters_are_errors_that_suggest_the_expression() {
    let msg = parse_error("[[group]]\nname = \"db\"\nfilter = \"db::\"\n");
    assert_eq!(
        msg,
        "runner.toml:3:10: invalid value for 'filter' in [[group]]: 'db::' is not a filter \
         expression: unknown predicate 'db': expected one of test, package, binary, \
         binary_id, kind, group, all, none (column 1 of the expression); did you mean \
         test(~db::)?"
    );
    let msg = parse_error("[[batch]]\nfilter = \"test(a\"\n");
    assert!(
        msg.contains("expected ')' to close test( (column 7 of the expression)"),
        "{msg}"
    );
    assert!(!msg.contains("did you mean"), "{msg}");
    let msg = parse_error("[profile.ci]\n[[profile.ci.overrides]]\nfilter = \"group(x)\"\n");
    assert!(
        msg.starts_with("runner.toml:3:10: invalid value for 'filter' in [[profile.ci.overrides]]"),
        "{msg}"
    );
    assert!(
        msg.contains("group() can only be used on the command line"),
        "{msg}"
    );
}

#[test]
fn overrides_parse_in_order_with_their_lines() {
    let text = "[profile.ci]\nretries = 1\n\n[[profile.ci.overrides]]\nfilter = \"test(slow)\"\n\
                timeout = \"2s\"\nretries = 3\nleak-result = \"fail\"\ntest-group = \"db\"\n\
                threads-required = 2\nbatch = false\n\n[[profile.ci.overrides]]\n\
                filter = \"package(app)\"\nslow-timeout = \"1s\"\n";
    let config = FileConfig::parse(text, Path::new("runner.toml")).unwrap();
    let ci = config.resolve_profile("ci").unwrap().unwrap();
    assert_eq!(ci.overrides.len(), 2);
    let first = &ci.overrides[0];
    assert_eq!(first.filter.origin, "runner.toml:5");
    assert_eq!(first.timeout, Some(Duration::from_secs(2)));
    assert_eq!(first.retries, Some(3));
    assert_eq!(first.leak_result, Some(PassOrFail::Fail));
    assert_eq!(first.test_group.as_deref(), Some("db"));
    assert_eq!(first.threads_required, Some(2));
    assert_eq!(first.batch, Some(false));
    assert_eq!(ci.overrides[1].filter.origin, "runner.toml:14");
    let msg = parse_error("[[profile.ci.overrides]]\nfilter = \"all()\"\njobs = 2\n");
    assert!(
        msg.starts_with("runner.toml:3:1: unknown key 'jobs' in [[profile.ci.overrides]]"),
        "{msg}"
    );
}

#[test]
fn inheritance_fills_what_a_profile_leaves_out() {
    let text = "[profile.default]\nretries = 1\ntimeout = \"9s\"\n\
                [[profile.default.overrides]]\nfilter = \"all()\"\nretries = 5\n\
                [profile.base]\ninherits = \"default\"\ntimeout = \"3s\"\n\
                [profile.ci]\ninherits = \"base\"\njobs = 2\n\
                [[profile.ci.overrides]]\nfilter = \"test(x)\"\nretries = 2\n";
    let config = FileConfig::parse(text, Path::new("runner.toml")).unwrap();
    let ci = config.resolve_profile("ci").unwrap().unwrap();
    assert_eq!(ci.chain, ["ci", "base", "default"]);
    assert_eq!(ci.settings.retries, Some(1));
    assert_eq!(ci.settings.timeout, Some(Duration::from_secs(3)));
    assert_eq!(ci.source_of("timeout"), Some("base"));
    assert_eq!(ci.source_of("retries"), Some("default"));
    assert_eq!(ci.source_of("jobs"), Some("ci"));
    assert_eq!(ci.source_of("order"), None);
    // Its own overrides first, then the inherited ones.
    let retries: Vec<_> = ci.overrides.iter().map(|o| o.retries).collect();
    assert_eq!(retries, [Some(2), Some(5)]);
    let plain = config.resolve_profile("default").unwrap().unwrap();
    assert_eq!(plain.chain, ["default"]);
    assert!(config.resolve_profile("nope").unwrap().is_none());
}

#[test]
fn a_profile_without_inherits_inherits_from_default() {
    let text = "[profile.default]\nretries = 1\n[profile.ci]\njobs = 2\n";
    let config = FileConfig::parse(text, Path::new("runner.toml")).unwrap();
    let ci = config.resolve_profile("ci").unwrap().unwrap();
    assert_eq!(ci.chain, ["ci", "default"]);
    assert_eq!(ci.settings.retries, Some(1));
    // With no default profile in the file there is nothing to inherit.
    let text = "[profile.ci]\njobs = 2\n";
    let config = FileConfig::parse(text, Path::new("runner.toml")).unwrap();
    assert_eq!(config.resolve_profile("ci").unwrap().unwrap().chain, ["ci"]);
}

#[test]
fn inheritance_cycles_and_unknown_parents_are_errors() {
    let text = "[profile.a]\ninherits = \"b\"\n[profile.b]\ninherits = \"c\"\n[profile.c]\ninherits = \"a\"\n";
    let config = FileConfig::parse(text, Path::new("runner.toml")).unwrap();
    let err = config.resolve_profile("a").unwrap_err().to_string();
    assert!(err.contains("a -> b -> c -> a"), "{err}");
    let text = "[profile.a]\ninherits = \"a\"\n";
    let config = FileConfig::parse(text, Path::new("runner.toml")).unwrap();
    assert!(config
        .resolve_profile("a")
        .unwrap_err()
        .to_string()
        .contains("a -> a"));
    let text = "[profile.a]\ninherits = \"ghost\"\n";
    let config = FileConfig::parse(text, Path::new("runner.toml")).unwrap();
    let err = config.resolve_profile("a").unwrap_err().to_string();
    assert_eq!(
        err,
        "runner.toml: [profile.a] inherits from 'ghost', which the file does not define; it defines a"
    );
}
