//! `runner show-config`: the effective settings of a run (which file, which profile and what it
//! inherits, the per-test settings' run-wide values with their sources, the groups, batch
//! tables and overrides, what test binaries start through, the setup scripts and their
//! scopes), and with `test NAME` the settings one test gets and where each comes from, its
//! setup scripts and the command it starts as.

use std::io::Write;

use anyhow::Result;

use super::escape::visible;
use super::rerun::shell_line;
use crate::cli::{PerTest, Row, RunConfig};
use crate::exit_code;
use crate::filter::TestFacts;
use crate::model::{Invocation, TestCase};
use crate::plan::Plan;

/// `runner show-config`.
pub fn print_config(config: &RunConfig) -> Result<i32> {
    let mut out = String::new();
    header(config, &mut out);
    out += "\nPer-test settings (overrides below can change them for some tests):\n";
    rows(&config.explain_run(), &mut out);
    tables(config, &mut out);
    launch(config, &mut out);
    scripts(config, &mut out);
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(exit_code::OK)
}

/// `runner show-config test NAME`: every test of that name (one per binary that has it).
pub fn print_test_config(config: &RunConfig, plan: &Plan, name: Option<&str>) -> Result<i32> {
    let cases: Vec<&TestCase> = plan.to_run.iter().chain(&plan.ignored).collect();
    if cases.is_empty() {
        eprintln!(
            "error: no test is named '{}'; `runner list` shows the names",
            visible(name.unwrap_or_default())
        );
        return Ok(exit_code::USAGE);
    }
    let mut out = String::new();
    header(config, &mut out);
    for case in cases {
        out += &format!(
            "\n{} {} (package {}, kind {}):\n",
            visible(&case.binary.id),
            visible(&case.name),
            case.binary.package.as_deref().unwrap_or("-"),
            crate::filter::kind_name(&case.binary.kind),
        );
        rows(&config.explain_test(case), &mut out);
        test_launch(config, case, &mut out);
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(exit_code::OK)
}

fn header(config: &RunConfig, out: &mut String) {
    let explain = &config.explain;
    match &explain.file {
        Some(path) => *out += &format!("Config file: {}\n", path.display()),
        None => *out += "Config file: none (runner looks for .config/runner.toml or runner.toml)\n",
    }
    match &explain.profile {
        Some(name) if explain.chain.len() > 1 => {
            let parents = explain.chain[1..].join(", then ");
            *out += &format!("Profile: {name} (inherits from {parents})\n")
        }
        Some(name) => *out += &format!("Profile: {name}\n"),
        None => *out += "Profile: none (the file has no [profile.default])\n",
    }
    *out += "Precedence: command line > overrides (first match per setting) > profile > default\n";
}

fn rows(rows: &[Row], out: &mut String) {
    for row in rows {
        *out += &format!("  {:<17} {:<10} {}\n", row.key, row.value, row.source);
    }
}

fn tables(config: &RunConfig, out: &mut String) {
    let explain = &config.explain;
    if !explain.groups.is_empty() {
        *out += "\nGroups (a test is in the first whose filter matches, unless an override's test-group says):\n";
        for (i, spec) in explain.groups.iter().enumerate() {
            let limit = config.groups.limits()[i].map_or("none".into(), |n| n.to_string());
            let filter = spec.filter.as_ref();
            *out += &format!(
                "  {:<12} max-threads {limit}, threads-required {}, filter {}{}\n",
                spec.name,
                config.groups.threads_required(i),
                filter.map_or("(none: overrides' test-group only)".into(), |f| f
                    .to_string()),
                filter.map_or(String::new(), |f| format!("  ({})", f.origin)),
            );
        }
    }
    if !explain.batches.is_empty() {
        *out += "\nBatch tables (the first whose filter matches decides):\n";
        for spec in &explain.batches {
            *out += &format!(
                "  batch = {:<5} filter {}  ({})\n",
                spec.batch, spec.filter, spec.filter.origin
            );
        }
    }
    let overrides = config.overrides.list();
    if !overrides.is_empty() {
        *out += "\nOverrides (for each setting, the first whose filter matches a test wins):\n";
        for (i, o) in overrides.iter().enumerate() {
            *out += &format!("  {}. filter {}  ({})\n", i + 1, o.filter, o.origin);
            let set = settings(config, &o.settings);
            let set = match set.is_empty() {
                true => "nothing (the command line sets all it had)".to_string(),
                false => set.join(", "),
            };
            *out += &format!("     {set}\n");
        }
    }
}

/// `key = value` for each setting an override sets.
fn settings(config: &RunConfig, s: &PerTest) -> Vec<String> {
    let d = |v: Option<std::time::Duration>| v.map(|d| crate::cli::show_duration(Some(d)));
    let pf = |v: Option<bool>| v.map(|f| if f { "fail" } else { "pass" }.to_string());
    let group = s.test_group.map(|g| match g {
        Some(g) => config.groups.name(g).to_string(),
        None => crate::filter::GLOBAL_GROUP.to_string(),
    });
    [
        ("retries", s.retries.map(|v| v.to_string())),
        ("timeout", d(s.timeout)),
        ("slow-timeout", d(s.slow_timeout)),
        ("timeout-grace", d(s.timeout_grace)),
        ("leak-timeout", d(s.leak_timeout)),
        ("leak-result", pf(s.leak_fails)),
        ("flaky-result", pf(s.flaky_fails)),
        (
            "threads-required",
            s.threads_required.map(|v| v.to_string()),
        ),
        ("test-group", group),
        ("batch", s.batch.map(|b| b.to_string())),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.map(|v| format!("{key} = {v}")))
    .collect()
}

/// What every test binary starts through, and where each program was set.
fn launch(config: &RunConfig, out: &mut String) {
    let (launcher, explain) = (&config.launcher, &config.explain);
    *out += "\nLaunch (a test binary starts as [wrapper] [target runner] BINARY ARGS):\n";
    let line = |what: &str, words: &[String], from: Option<String>, none: &str| match from {
        Some(from) if !words.is_empty() => {
            let words = shell_line(words);
            format!("  {what:<17} {}  ({from})\n", visible(&words))
        }
        _ => format!("  {what:<17} none{none}\n"),
    };
    let profile = explain
        .wrapper_from
        .as_ref()
        .map(|p| format!("profile {p}"));
    *out += &line("wrapper", &launcher.wrapper, profile, "");
    let none = " (no CARGO_TARGET_<TRIPLE>_RUNNER, no runner in cargo's config)";
    let runner = explain.runner_from.clone();
    *out += &line("target runner", &launcher.runner, runner, none);
    if launcher.host_runner != launcher.runner {
        let host = explain.host_runner_from.clone();
        *out += &line(
            "host runner",
            &launcher.host_runner,
            host,
            " (for proc-macro tests)",
        );
    }
}

/// The setup scripts the file defines, and which tests the profile's scopes give them to.
fn scripts(config: &RunConfig, out: &mut String) {
    let setup = &config.setup;
    if setup.scripts.is_empty() {
        return;
    }
    *out += &format!(
        "\nSetup scripts (each runs once, before the first test that needs it, in {}):\n",
        setup.dir.display()
    );
    for script in &setup.scripts {
        let timeout = script.timeout.map_or(String::new(), |t| {
            format!("  (timeout {})", crate::cli::show_duration(Some(t)))
        });
        let command = shell_line(&script.command);
        *out += &format!("  {:<17} {}{timeout}\n", script.name, visible(&command));
    }
    match &config.explain.scripts_from {
        Some(profile) if !setup.scopes.is_empty() => {
            *out += &format!(
                "Scopes ([[profile.{profile}.scripts]]: a test gets every matching table's \
                 scripts, in order; doctests none):\n"
            );
            for scope in &setup.scopes {
                let names: Vec<&str> = scope
                    .scripts
                    .iter()
                    .map(|&i| setup.scripts[i].name.as_str())
                    .collect();
                *out += &format!("  filter {}  ->  {}\n", scope.filter, names.join(", "));
            }
        }
        _ => *out += "Scopes: none (no [[profile.NAME.scripts]] table): no test gets a script\n",
    }
}

/// The setup scripts `case` gets, and the command it starts as (and where).
fn test_launch(config: &RunConfig, case: &TestCase, out: &mut String) {
    if case.invocation == Invocation::Doctest {
        *out += "  setup scripts     none (doctests run through cargo)\n";
        *out += "  command           cargo test --doc, with its package's other doctests\n";
        return;
    }
    let setup = &config.setup;
    let names: Vec<&str> = setup
        .scripts_for(&TestFacts::of(case, None))
        .into_iter()
        .map(|i| setup.scripts[i].name.as_str())
        .collect();
    let names = match names.is_empty() {
        true => "none".to_string(),
        false => names.join(", "),
    };
    let command = config.launcher.words(&case.binary, &case.args());
    *out += &format!("  setup scripts     {names}\n");
    let command = shell_line(&command);
    *out += &format!("  command           {}\n", visible(&command));
    *out += &format!("  in                {}\n", case.binary.cwd.display());
}
