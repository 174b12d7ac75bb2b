//! Archives end to end, on the `archive` fixture workspace (a binary run through
//! `CARGO_BIN_EXE_app`, a build script's `OUT_DIR`, tests that read data relative to their
//! package directory, a failing and an ignored test): `runner archive` in one directory, the
//! build then deleted, and `runner --archive-file` in another directory holding only the
//! sources, with neither cargo nor rustc on PATH, gives the same results as a normal run; and
//! the README's CI example, its `runner` commands taken from the README itself.
//!
//! Each test builds the fixture into a target directory of its own, which it deletes, so that
//! nothing of the build can be reached from the archived run.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// Each test's label (PASS, FAIL, SKIP...) in a `--message-format json` run.
fn outcomes(run: &Run) -> BTreeMap<TestKey, String> {
    let events = run.events();
    final_events(&events)
        .into_iter()
        .map(|(key, event)| (key, label_of(event)))
        .collect()
}

/// A machine with no Rust toolchain: an empty PATH directory, no cargo variables, in `cwd`.
fn without_cargo(command: &mut Command, cwd: &Path) {
    let bin = cwd.join("empty-bin");
    std::fs::create_dir_all(&bin).expect("mkdir empty-bin");
    command
        .env_clear()
        .env("PATH", &bin)
        .env("HOME", cwd)
        .env("RUST_BACKTRACE", "0")
        .current_dir(cwd);
}

/// The outcomes every run of the fixture must give.
fn expected() -> BTreeMap<TestKey, String> {
    let mut table = BTreeMap::new();
    for (binary, name, label) in [
        ("app", "tests::doubles", "PASS"),
        ("app", "tests::reads_data_relative_to_the_package", "PASS"),
        ("app", "tests::reads_the_build_script_output", "PASS"),
        (
            "app",
            "tests::manifest_dir_is_the_working_directory",
            "PASS",
        ),
        ("app", "tests::fails_on_purpose", "FAIL"),
        ("app::cli", "runs_the_binary", "PASS"),
        ("app::cli", "target_tmpdir_is_writable", "PASS"),
        ("util", "tests::reads_its_own_data", "PASS"),
        ("util", "tests::ignored_everywhere", "SKIP"),
    ] {
        table.insert(key(binary, name), label.to_string());
    }
    table
}

/// A copy of the fixture's sources in `dir/ws`, with a normal run's outcomes and an archive
/// of its tests at `dir/tests.tar.zst`.
fn build_and_archive(dir: &Path) -> (PathBuf, BTreeMap<TestKey, String>, PathBuf) {
    let ws = dir.join("ws");
    copy_sources(&fixture_dir("archive"), &ws);
    let manifest = ws.join("Cargo.toml");
    let cargo = |args: &[&str]| {
        let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
        all.extend(["--manifest-path".into(), manifest.clone().into()]);
        all
    };
    let normal = run(cargo(&["-n2", "--message-format", "json"]));
    normal.assert_code(100);
    let mut normal_outcomes = outcomes(&normal);
    // The bin target's own (empty) test binary lists no test; the rest is the table.
    normal_outcomes.retain(|(binary, _), _| binary != "app::bin/app");
    assert_eq!(normal_outcomes, expected(), "{}", normal.context());
    let archive = dir.join("tests.tar.zst");
    let packed = run(cargo(&[
        "archive",
        "--archive-file",
        archive.to_str().unwrap(),
    ]));
    packed.assert_code(0);
    assert!(
        packed.stderr.contains("archived 4 test binaries"),
        "{}",
        packed.context()
    );
    (ws, outcomes(&normal), archive)
}

#[test]
fn an_archive_runs_without_cargo_elsewhere_with_the_same_results() {
    let build = tempfile::tempdir().unwrap();
    let (ws, normal, archive) = build_and_archive(build.path());
    // The target machine: the sources checked out, the archive downloaded, the build gone.
    let machine = tempfile::tempdir().unwrap();
    let checkout = machine.path().join("checkout");
    copy_sources(&ws, &checkout);
    let moved = machine.path().join("tests.tar.zst");
    std::fs::copy(&archive, &moved).unwrap();
    drop(build);

    let args: Vec<OsString> = vec![
        "-n2".into(),
        "--message-format".into(),
        "json".into(),
        "--archive-file".into(),
        moved.clone().into(),
        "--workspace-remap".into(),
        checkout.clone().into(),
    ];
    let remote = run_with(&args, |c| without_cargo(c, machine.path()));
    remote.assert_code(100);
    assert_eq!(outcomes(&remote), normal, "{}", remote.context());
    let rerun = format!("--archive-file {}", moved.display());
    assert!(remote.stderr.contains(&rerun), "{}", remote.context());

    // Listed from the archive, kept unpacked: working directories in the checkout.
    let kept = machine.path().join("unpacked");
    let list = [
        "list",
        "--format",
        "json",
        "--archive-file",
        moved.to_str().unwrap(),
        "--extract-to",
        kept.to_str().unwrap(),
    ];
    let listed = run_with(list, |c| without_cargo(c, &checkout));
    listed.assert_code(0);
    assert!(
        kept.join("runner-archive.json").is_file(),
        "{}",
        listed.context()
    );
    let value: Value = serde_json::from_str(listed.stdout.trim()).expect("list JSON");
    for binary in value["binaries"].as_array().expect("binaries") {
        let cwd = binary["cwd"].as_str().expect("cwd");
        assert!(cwd.starts_with(checkout.to_str().unwrap()), "{binary}");
    }

    // A checkout without the packages, and a file that is no archive: one error line each.
    let empty = machine.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let list = [
        "list",
        "--archive-file",
        moved.to_str().unwrap(),
        "--workspace-remap",
    ];
    let wrong = run_with(list.iter().copied().chain([empty.to_str().unwrap()]), |c| {
        without_cargo(c, machine.path())
    });
    wrong.assert_code(2);
    assert!(
        wrong.stderr.contains("--workspace-remap"),
        "{}",
        wrong.context()
    );
    let garbage = machine.path().join("garbage.tar.zst");
    std::fs::write(&garbage, "not an archive").unwrap();
    let bad = run_with(["list", "--archive-file", garbage.to_str().unwrap()], |c| {
        without_cargo(c, &checkout)
    });
    bad.assert_code(102);
    assert_eq!(bad.stderr_lines().len(), 1, "{}", bad.context());
    assert!(bad.stderr.contains("garbage.tar.zst"), "{}", bad.context());
    let advice = "; pass a file `runner archive --archive-file FILE` made";
    assert!(bad.stderr.trim_end().ends_with(advice), "{}", bad.context());
    // A missing archive says how to make one.
    let missing = machine.path().join("missing.tar.zst");
    let gone = run_with(["list", "--archive-file", missing.to_str().unwrap()], |c| {
        without_cargo(c, &checkout)
    });
    gone.assert_code(102);
    assert_eq!(gone.stderr_lines().len(), 1, "{}", gone.context());
    let advice = format!(
        "; make one with `runner archive --archive-file {}`",
        missing.display()
    );
    assert!(
        gone.stderr.trim_end().ends_with(&advice),
        "{}",
        gone.context()
    );
}

/// The `runner` commands of the README's CI example, by job, `${{ matrix.shard }}` left in.
fn readme_ci_commands() -> BTreeMap<String, Vec<String>> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme
        .find("### Build once, run anywhere")
        .expect("the archives section");
    let block = &readme[start..];
    let block = &block[block.find("```yaml").expect("a yaml block")..];
    let block = &block[..block[3..].find("```").expect("the block's end") + 3];
    let mut jobs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut job = String::new();
    for line in block.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            job = line.trim().trim_end_matches(':').to_string();
        }
        let Some(command) = line.trim().strip_prefix("- run: ") else {
            continue;
        };
        let command = command.split(" #").next().unwrap_or(command).trim();
        if command.starts_with("runner ") || command.starts_with("./runner ") {
            jobs.entry(job.clone())
                .or_default()
                .push(command.to_string());
        }
    }
    jobs
}

/// Run one README command in `cwd`, `runner` being the runner under test.
fn run_readme_command(command: &str, shard: usize, cwd: &Path, toolchain: bool) -> Run {
    let command = command.replace("${{ matrix.shard }}", &shard.to_string());
    let words = shlex::split(&command).expect("a shell command");
    assert!(words[0].ends_with("runner"), "{command}");
    run_with(&words[1..], |c| match toolchain {
        true => {
            c.current_dir(cwd);
        }
        false => without_cargo(c, cwd),
    })
}

#[test]
fn the_readme_ci_example_builds_once_runs_three_shards_and_merges() {
    let jobs = readme_ci_commands();
    assert_eq!(
        jobs.keys().collect::<Vec<_>>(),
        ["build", "report", "test"],
        "{jobs:?}"
    );
    let build = tempfile::tempdir().unwrap();
    let ws = build.path().join("ws");
    copy_sources(&fixture_dir("archive"), &ws);
    // The committed timings file, as the report job of an earlier run exported it.
    let earlier = ws.join("target/earlier.xml");
    let normal = run_with(["-n2", "--junit", earlier.to_str().unwrap()], |c| {
        c.current_dir(&ws);
    });
    normal.assert_code(100);
    std::fs::create_dir_all(ws.join("ci")).unwrap();
    let export = [
        "timings",
        "export",
        "--from-junit",
        earlier.to_str().unwrap(),
        "ci/timings.json",
    ];
    run_with(export, |c| {
        c.current_dir(&ws);
    })
    .assert_code(0);
    for command in &jobs["build"] {
        run_readme_command(command, 0, &ws, true).assert_code(0);
    }
    // Each shard: a fresh checkout with the downloaded archive, and no toolchain.
    let machines = tempfile::tempdir().unwrap();
    let report = machines.path().join("report");
    std::fs::create_dir(&report).unwrap();
    let mut ran = Vec::new();
    for shard in 1..=3 {
        let checkout = machines.path().join(format!("shard{shard}"));
        copy_sources(&ws, &checkout);
        std::fs::copy(ws.join("tests.tar.zst"), checkout.join("tests.tar.zst")).unwrap();
        for command in &jobs["test"] {
            let run = run_readme_command(command, shard, &checkout, false);
            assert!([0, 100].contains(&run.code), "{}", run.context());
            let notes = run.stdout.lines().chain(run.stderr.lines());
            ran.extend(
                notes
                    .filter(|l| l.contains("partition time:"))
                    .map(str::to_string),
            );
        }
        let junit = format!("junit-{shard}.xml");
        std::fs::copy(checkout.join(&junit), report.join(&junit)).unwrap();
    }
    assert_eq!(ran.len(), 3, "{ran:?}");
    // The shards balanced on the committed timings file, not on nothing.
    assert!(
        ran.iter().all(|note| !note.contains("(0 of them timed")),
        "{ran:?}"
    );
    drop(build);
    for command in &jobs["report"] {
        run_readme_command(command, 0, &report, false).assert_code(0);
    }
    let merged = std::fs::read_to_string(report.join("junit.xml")).expect("merged report");
    for (_, name) in expected().keys() {
        assert_eq!(
            merged.matches(&format!("name=\"{name}\"")).count(),
            1,
            "{name}: {merged}"
        );
    }
    assert!(report.join("timings.json").is_file());
}
