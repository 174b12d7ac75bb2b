//! Wrappers and target runners: every test process and every listing of a run starts through
//! the profile's `wrapper` and cargo's target runner (`CARGO_TARGET_<TRIPLE>_RUNNER`,
//! `target.<cfg>.runner` in `.cargo/config.toml`), as `tools/wrap.sh` in the `wrapped` fixture
//! records; `--no-run` lists through them and runs nothing; `runner list` takes
//! `--message-format json`.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use common::*;
use serde_json::Value;

const FIXTURE: &str = "wrapped";

fn wrap_script() -> PathBuf {
    fixture_dir(FIXTURE).join("tools/wrap.sh")
}

fn host_triple() -> String {
    let output = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let host = text
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("host line");
    host.trim().to_string()
}

/// The host triple, as cargo's target runner variable names it.
fn host_runner_variable() -> String {
    format!(
        "CARGO_TARGET_{}_RUNNER",
        host_triple().to_uppercase().replace(['-', '.'], "_")
    )
}

/// A run of the fixture whose wrapper calls are recorded in a fresh file; `in_fixture` runs it
/// from the fixture's directory (where its `.cargo/config.toml` applies).
struct Recorded {
    run: Run,
    calls: Vec<String>,
    _dir: tempfile::TempDir,
}

fn recorded(args: &[&str], in_fixture: bool, env: &[(&str, &str)]) -> Recorded {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls");
    let run = run_fixture_with(FIXTURE, args, |command| {
        command.env("WRAP_RECORD", &record);
        for (name, value) in env {
            command.env(name, value);
        }
        if in_fixture {
            command.current_dir(fixture_dir(FIXTURE));
        }
    });
    let calls = std::fs::read_to_string(&record)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    Recorded {
        run,
        calls,
        _dir: dir,
    }
}

/// The test binaries of the fixture by id, from `runner list --format json`.
fn binaries() -> Vec<(String, String)> {
    let run = run_fixture(FIXTURE, &["list", "--format", "json"]);
    run.assert_code(0);
    let listing: Value = serde_json::from_str(&run.stdout).unwrap();
    listing["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let id = b["binary_id"].as_str().unwrap().to_string();
            (id, b["path"].as_str().unwrap().to_string())
        })
        .collect()
}

/// The calls recorded for `tag`, with the tag removed.
fn calls_of<'a>(calls: &'a [String], tag: &str) -> Vec<&'a str> {
    calls
        .iter()
        .filter_map(|c| c.strip_prefix(tag)?.strip_prefix(' '))
        .collect()
}

/// Every binary was listed through the wrapper (both its listings), and every test that ran
/// was started through it with libtest's arguments for that one test.
fn assert_everything_wrapped(recorded: &Recorded, tag: &str, expected_tests: usize) {
    let calls = calls_of(&recorded.calls, tag);
    let context = || format!("calls: {:#?}{}", recorded.calls, recorded.run.context());
    for (_, path) in binaries() {
        for listing in ["--list --format terse", "--list --format terse --ignored"] {
            let line = format!("{path} {listing}");
            assert!(
                calls.contains(&line.as_str()),
                "no call {line:?}: {}",
                context()
            );
        }
    }
    let paths: BTreeSet<String> = binaries().into_iter().map(|(_, p)| p).collect();
    let events = recorded.run.events();
    let finished = events_of(&events, "test-finished");
    assert_eq!(finished.len(), expected_tests, "{}", context());
    for event in finished {
        let name = event["name"].as_str().unwrap();
        let started = calls.iter().any(|call| {
            let Some((path, args)) = call.split_once(' ') else {
                return false;
            };
            paths.contains(path) && args == format!("--exact {name} --nocapture")
        });
        assert!(
            started,
            "{name} was not started through {tag}: {}",
            context()
        );
    }
}

#[test]
fn the_target_runner_variable_wraps_every_test_and_listing() {
    let runner = format!("{} env-runner", wrap_script().display());
    let variable = host_runner_variable();
    let recorded = recorded(
        &["--message-format", "json", "-n2"],
        false,
        &[(&variable, &runner)],
    );
    recorded.run.assert_code(0);
    assert_everything_wrapped(&recorded, "env-runner", 3);
}

#[test]
fn the_cargo_config_runner_and_the_profile_wrapper_combine_wrapper_outermost() {
    let recorded = recorded(
        &["--message-format", "json", "--profile", "wrapped", "-n2"],
        true,
        &[("WRAP_FAIL", "1")],
    );
    recorded.run.assert_code(100);
    assert_everything_wrapped(&recorded, "cargo-config", 3);
    // The wrapper starts the runner, which starts the binary: every call of the runner was
    // made by the wrapper, with the same arguments.
    let runner = calls_of(&recorded.calls, "cargo-config");
    let wrapper = calls_of(&recorded.calls, "profile-wrapper");
    let script = wrap_script().display().to_string();
    let expected: Vec<String> = runner
        .iter()
        .map(|call| format!("{script} cargo-config {call}"))
        .collect();
    let mut seen: Vec<String> = wrapper.iter().map(|c| c.to_string()).collect();
    seen.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(seen, expected, "{}", recorded.run.context());
    // The test that fails says how to rerun it through the same profile.
    let events = recorded.run.events();
    let failed = events_of(&events, "test-finished")
        .into_iter()
        .find(|e| e["name"] == "fails_when_asked")
        .expect("fails_when_asked finished");
    assert_eq!(failed["status"], "failed");
    let rerun = failed["rerun"].as_str().unwrap();
    assert!(
        rerun.starts_with("runner --profile wrapped ")
            && rerun.ends_with("--exact fails_when_asked"),
        "{rerun}"
    );
}

#[test]
fn batches_and_string_wrappers_go_through_it_too() {
    let recorded = recorded(
        &[
            "--message-format",
            "json",
            "--profile",
            "strings",
            "--batch",
        ],
        false,
        &[],
    );
    recorded.run.assert_code(0);
    let calls = calls_of(&recorded.calls, "string wrapper");
    let batches: Vec<&&str> = calls
        .iter()
        .filter(|c| c.contains(" --exact --test-threads=1 --logfile "))
        .collect();
    // The library's two tests share a chunk; the integration test's one test runs alone, as
    // a chunk of one does, through the wrapper too.
    assert_eq!(batches.len(), 1, "one chunk: {calls:#?}");
    assert!(
        calls
            .iter()
            .any(|c| c.contains("fails_when_asked") && !c.contains("--logfile")),
        "{calls:#?}"
    );
    let events = recorded.run.events();
    assert!(events_of(&events, "test-finished")
        .iter()
        .all(|e| e["status"] == "passed"));
}

#[test]
fn no_run_lists_through_the_runner_and_runs_nothing() {
    let recorded = recorded(&["--no-run"], true, &[]);
    recorded.run.assert_code(0);
    let calls = calls_of(&recorded.calls, "cargo-config");
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|c| c.contains(" --list --format terse")),
        "{calls:#?}"
    );
    let out = &recorded.run.stdout;
    assert!(out.contains("    tests::ignored (ignored)\n"), "{out}");
    assert!(
        out.contains("3 tests to run from 2 binaries (1 ignored, not run)"),
        "{out}"
    );
    let script = wrap_script().display().to_string();
    let expected =
        format!("--no-run: built and listed; nothing was run (each test would run through `{script} cargo-config`)");
    assert_eq!(recorded.run.last_stdout_line(), expected);
    // Nothing selected: the exit code a run would have had.
    let none = run_fixture(FIXTURE, &["--no-run", "no_such_test"]);
    none.assert_code(4);
    assert!(
        none.stderr.contains("error: no test was selected"),
        "{}",
        none.context()
    );
    let allowed = run_fixture(FIXTURE, &["--no-run", "no_such_test", "--no-tests", "pass"]);
    allowed.assert_code(0);
}

#[test]
fn list_takes_message_format_json_as_format_json() {
    let format = run_fixture(FIXTURE, &["list", "--format", "json"]);
    let message_format = run_fixture(FIXTURE, &["list", "--message-format", "json"]);
    format.assert_code(0);
    message_format.assert_code(0);
    assert_eq!(format.stdout, message_format.stdout);
    let listing: Value = serde_json::from_str(&message_format.stdout).unwrap();
    assert_eq!(listing["binaries"].as_array().unwrap().len(), 2);
    // So does --no-run.
    let no_run = run_fixture(FIXTURE, &["--no-run", "--message-format", "json"]);
    no_run.assert_code(0);
    assert_eq!(no_run.stdout, format.stdout);
}

#[test]
fn a_broken_cargo_runner_setting_is_a_usage_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".cargo")).unwrap();
    std::fs::write(
        dir.path().join(".cargo/config.toml"),
        "[target.'cfg(all())']\nrunner = 7\n",
    )
    .unwrap();
    let run = run_fixture_with(FIXTURE, &["list"], |c| {
        c.current_dir(dir.path());
    });
    run.assert_code(2);
    let line = run.stderr.lines().next().unwrap_or("");
    assert!(
        line.starts_with("error: ")
            && line.contains(".cargo/config.toml: target.'cfg(all())'.runner"),
        "{}",
        run.context()
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.context());
}

#[test]
fn a_wrapper_or_runner_that_cannot_be_found_is_one_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("runner.toml");
    std::fs::write(
        &config,
        "[profile.default]\nwrapper = [\"no-such-wrapper\", \"-q\"]\n",
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    let run = run_fixture(FIXTURE, &["--config-file", &config]);
    run.assert_code(2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.context());
    assert!(
        run.stderr.contains("`wrapper` of profile 'default'")
            && run.stderr.contains("`no-such-wrapper`"),
        "{}",
        run.context()
    );
    let variable = host_runner_variable();
    let run = run_fixture_with(FIXTURE, &["list"], |c| {
        c.env(&variable, "/no/such/emulator --flag");
    });
    run.assert_code(2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.context());
    assert!(run.stderr.contains(&variable), "{}", run.context());
    // show-config still shows what the settings say.
    let run = run_fixture(FIXTURE, &["show-config", "--config-file", &config]);
    run.assert_code(0);
}

#[test]
fn target_goes_to_cargo_chooses_the_runner_and_is_in_the_rerun_command() {
    let host = host_triple();
    let runner = format!("{} env-runner", wrap_script().display());
    let variable = host_runner_variable();
    let recorded = recorded(
        &[
            "--message-format",
            "json",
            "--target",
            &host,
            "fails_when_asked",
        ],
        false,
        &[(&variable, &runner), ("WRAP_FAIL", "1")],
    );
    recorded.run.assert_code(100);
    let calls = calls_of(&recorded.calls, "env-runner");
    // Built for the target named: cargo puts those binaries under target/<triple>/.
    let under = format!("/{host}/debug/deps/");
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|c| c.contains(&under)), "{calls:#?}");
    let events = recorded.run.events();
    let failed = events_of(&events, "test-finished");
    assert_eq!(failed.len(), 1, "{}", recorded.run.context());
    let rerun = failed[0]["rerun"].as_str().unwrap();
    assert!(rerun.contains(&format!("--target {host}")), "{rerun}");
}

/// `show-config` names the wrapper and the target runner and where each was set (the profile,
/// cargo's config file and key, the variable that wins over it); `show-config test NAME`
/// gives the command the test starts as, the one a run starts (see above), and where.
#[test]
fn show_config_names_the_wrapper_the_runner_and_a_tests_command() {
    let dir = fixture_dir(FIXTURE);
    let wrap = wrap_script().display().to_string();
    let in_fixture = |command: &mut Command| {
        command.current_dir(fixture_dir(FIXTURE));
    };
    let run = run_fixture_with(
        FIXTURE,
        &["show-config", "--profile", "wrapped"],
        in_fixture,
    );
    run.assert_code(0);
    let config = dir.join(".cargo/config.toml");
    for line in [
        format!("  wrapper           {wrap} profile-wrapper  (profile wrapped)"),
        format!(
            "  target runner     {wrap} cargo-config  ({}: target.'cfg(all())'.runner)",
            config.display()
        ),
    ] {
        assert!(
            run.stdout_lines().contains(&line.as_str()),
            "no {line:?}{}",
            run.context()
        );
    }

    let variable = host_runner_variable();
    let run = run_fixture_with(FIXTURE, &["show-config"], |command| {
        command
            .current_dir(fixture_dir(FIXTURE))
            .env(&variable, "/opt/emu -x");
    });
    run.assert_code(0);
    let lines = run.stdout_lines();
    assert!(
        lines.contains(&"  wrapper           none"),
        "{}",
        run.context()
    );
    let line = format!("  target runner     /opt/emu -x  ({variable})");
    assert!(
        lines.contains(&line.as_str()),
        "no {line:?}{}",
        run.context()
    );

    let args = ["show-config", "test", "tests::adds", "--profile", "wrapped"];
    let run = run_fixture_with(FIXTURE, &args, in_fixture);
    run.assert_code(0);
    let (_, path) = binaries()
        .into_iter()
        .find(|(id, _)| id == "wrapped")
        .unwrap();
    let command = format!(
        "  command           {wrap} profile-wrapper {wrap} cargo-config {path} --exact tests::adds \
         --nocapture"
    );
    let lines = run.stdout_lines();
    assert!(
        lines.contains(&command.as_str()),
        "no {command:?}{}",
        run.context()
    );
    let cwd = format!("  in                {}", dir.display());
    assert!(lines.contains(&cwd.as_str()), "no {cwd:?}{}", run.context());
    assert!(
        lines.contains(&"  setup scripts     none"),
        "{}",
        run.context()
    );
}
