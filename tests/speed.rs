//! The runner's own costs, end to end: the phases it reports (`-v`, JSON `run-finished`).

mod common;

use common::*;
use serde_json::Value;

/// The phases of a JSON run's `run-finished` event, in seconds since the runner started.
fn phases_of(run: &Run) -> Value {
    let events = run.events();
    let finished = events_of(&events, "run-finished");
    assert_eq!(finished.len(), 1, "{}", run.context());
    finished[0]["phases"].clone()
}

/// Every phase of a cargo run is in `run-finished`, each later than what it waits for.
#[test]
fn json_run_finished_has_every_phase_in_order() {
    let run = run_fixture("ordering", &["-n2", "--message-format", "json"]);
    run.assert_code(0);
    let phases = phases_of(&run);
    let at = |name: &str| {
        phases[name]
            .as_f64()
            .unwrap_or_else(|| panic!("no phase {name} in {phases}{}", run.context()))
    };
    let (build, metadata, listed) = (at("build"), at("metadata"), at("listed"));
    let (first, last, finished) = (at("first_test"), at("last_test"), at("run_finished"));
    assert!(build > 0.0 && metadata > 0.0, "{phases}");
    // Listing needs the build's binaries and the metadata's packages; the tests need the list.
    for (earlier, later) in [
        (build, listed),
        (metadata, listed),
        (listed, first),
        (first, last),
        (last, finished),
    ] {
        assert!(earlier <= later, "phases out of order: {phases}");
    }
    // The closing report alone knows when the reports were written.
    assert!(phases.get("reports").is_none(), "{phases}");
}

/// `-v` shows the phases and the spans between them; the default report does not.
#[test]
fn verbose_report_shows_the_phases() {
    let run = run_fixture("ordering", &["-n2", "-v"]);
    run.assert_code(0);
    let lines = run.stdout_lines();
    let phases = lines
        .iter()
        .find(|l| l.starts_with("Phases since start: build "))
        .unwrap_or_else(|| panic!("no phases line{}", run.context()));
    for name in ["metadata", "listed", "first test", "last test", "reports"] {
        assert!(phases.contains(&format!(", {name} ")), "{phases}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  start-up ") && l.contains(", tests ")),
        "{}",
        run.context()
    );
    let quiet = run_fixture("ordering", &["-n2"]);
    assert!(!quiet.stdout.contains("Phases since start"));
}

/// A binary that has not changed is not listed again: its tests come from the listing kept in
/// `target/runner/listings.json` (proved by editing that listing), until it is rebuilt.
#[test]
fn an_unchanged_binary_is_listed_from_the_kept_listing() {
    let target = tempfile::tempdir().expect("tempdir");
    let manifest = fixture_manifest("ordering");
    let args = |extra: &[&str]| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--manifest-path".into(),
            manifest.clone().into(),
            "--target-dir".into(),
            target.path().into(),
            "--message-format".into(),
            "json".into(),
        ];
        args.extend(extra.iter().map(Into::into));
        args
    };
    let ran = |run: &Run| {
        run.assert_code(0);
        let events = run.events();
        let mut names: Vec<String> = final_events(&events).into_keys().map(|(_, n)| n).collect();
        names.sort();
        names
    };
    let first = run(args(&[]));
    assert_eq!(ran(&first), ["alpha", "beta", "delta", "gamma"]);
    // Forget `gamma` in the kept listing of the library's tests.
    let path = target.path().join("runner").join("listings.json");
    let text = std::fs::read_to_string(&path).expect("the listings are kept");
    let mut kept: Value = serde_json::from_str(&text).unwrap();
    let mut lib_binary = None;
    for (binary, entry) in kept["binaries"].as_object_mut().unwrap() {
        let tests = entry["tests"].as_array_mut().unwrap();
        if tests.iter().any(|t| t == "gamma") {
            tests.retain(|t| t != "gamma");
            lib_binary = Some(binary.clone());
        }
    }
    let lib_binary = lib_binary.expect("a kept listing holds gamma");
    std::fs::write(&path, kept.to_string()).unwrap();
    assert_eq!(ran(&run(args(&[]))), ["alpha", "beta", "delta"]);
    // A rebuilt binary (here: another modification time) is listed afresh.
    let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let file = std::fs::File::options()
        .write(true)
        .open(&lib_binary)
        .unwrap();
    file.set_modified(earlier).unwrap();
    // Closed before it runs: a file open for writing cannot be executed.
    drop(file);
    assert_eq!(ran(&run(args(&[]))), ["alpha", "beta", "delta", "gamma"]);
}

/// A warm run starts no `cargo metadata`: `cargo test` does not need one, and the runner keeps
/// the answer while the manifests are unchanged (`$CARGO` here logs every cargo command).
#[test]
fn a_warm_run_asks_cargo_only_for_the_build() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("cargo.log");
    let real = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let cargo = write_script(
        dir.path(),
        "cargo",
        &format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\nexec '{real}' \"$@\"\n",
            log.display()
        ),
    );
    let target = dir.path().join("target");
    let manifest = fixture_manifest("ordering");
    let run_once = || {
        let args: [&std::ffi::OsStr; 4] = [
            "--manifest-path".as_ref(),
            manifest.as_os_str(),
            "--target-dir".as_ref(),
            target.as_os_str(),
        ];
        let run = run_with(args, |c| {
            c.env("CARGO", &cargo);
        });
        run.assert_code(0);
        assert_eq!(run.last_stdout_line(), summary_line(4, 0, 0));
        let commands = std::fs::read_to_string(&log).unwrap();
        std::fs::remove_file(&log).unwrap();
        commands.lines().map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(run_once(), ["test", "metadata"]);
    assert_eq!(run_once(), ["test"]);
}

/// Tests start when cargo says the build succeeded, not when the cargo process exits: this
/// `$CARGO` holds its exit until the crate's test has run (it polls for the file the test
/// writes, and gives up after 20 s), and logs which came first. `--no-overlap`: otherwise the
/// test would run early anyway, in a wave while cargo is quiet (see tests/overlap.rs).
#[test]
fn tests_start_before_cargo_has_exited() {
    let krate = temp_crate(
        "announcer",
        "#[test]\nfn announces() {\n    \
         std::fs::write(std::env::var(\"ANNOUNCE_FILE\").unwrap(), \"ran\").unwrap();\n}\n",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, announce) = (dir.path().join("cargo.log"), dir.path().join("announced"));
    let real = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let cargo = write_script(
        dir.path(),
        "cargo",
        &format!(
            "#!/bin/sh\n[ \"$1\" = test ] || exec '{real}' \"$@\"\n'{real}' \"$@\"\nstatus=$?\n\
             i=0\nwhile [ ! -e '{announce}' ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done\n\
             if [ -e '{announce}' ]; then echo 'test ran first' >> '{log}'; \
             else echo 'cargo exited first' >> '{log}'; fi\nexit $status\n",
            announce = announce.display(),
            log = log.display()
        ),
    );
    let manifest = krate.path().join("Cargo.toml");
    let args: [&std::ffi::OsStr; 3] = [
        "--no-overlap".as_ref(),
        "--manifest-path".as_ref(),
        manifest.as_os_str(),
    ];
    let run = run_with(args, |c| {
        c.env("CARGO", &cargo).env("ANNOUNCE_FILE", &announce);
    });
    run.assert_code(0);
    assert_eq!(run.last_stdout_line(), summary_line(1, 0, 0));
    let order = std::fs::read_to_string(&log).unwrap();
    assert_eq!(order.trim(), "test ran first", "{}", run.context());
}
