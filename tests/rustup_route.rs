//! rustup's proxy skipped once its route is known: the first run goes through `cargo` on PATH
//! (a stand-in for rustup's proxy that logs each start and sets a rustup variable, as rustup
//! does, then execs the toolchain's cargo); later runs start that cargo directly, with the same
//! environment, until something rustup's choice rests on changes. A kept route that is not
//! what rustup does (a cache from elsewhere) is not taken.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The value the stand-in gives `RUSTUP_TOOLCHAIN_SOURCE` (rustup gives `default`, `env`, ...).
const MARK: &str = "proxy-mark";

/// The test writes down what it sees of the toolchain: `cargo test` passes its own
/// environment (what the proxy set) and its path as `CARGO` on to its tests.
const LIB: &str = r#"
#[test]
fn works() {
    let seen = format!(
        "CARGO={:?} SOURCE={:?}",
        std::env::var("CARGO").ok(),
        std::env::var("RUSTUP_TOOLCHAIN_SOURCE").ok()
    );
    std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/seen.txt"), seen).unwrap();
}
"#;

/// cargo runs the build script again whenever the variable differs from the last build's, so
/// what it wrote last says what cargo's own environment held.
const BUILD_RS: &str = r#"
fn main() {
    println!("cargo:rerun-if-env-changed=RUSTUP_TOOLCHAIN_SOURCE");
    let seen = std::env::var("RUSTUP_TOOLCHAIN_SOURCE").unwrap_or_default();
    std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/build-saw.txt"), seen).unwrap();
}
"#;

/// The toolchain's cargo (the one running these tests), when it is a rustup toolchain's.
fn toolchain_cargo() -> Option<PathBuf> {
    let cargo = std::fs::canonicalize(env!("CARGO")).ok()?;
    let toolchains = cargo.parent()?.parent()?.parent()?;
    (toolchains.file_name()? == "toolchains").then_some(cargo)
}

/// A stand-in for rustup: `bin/rustup`, and `bin/cargo` linked to it as rustup installs its
/// proxies. It logs each start and sets `RUSTUP_TOOLCHAIN_SOURCE`, then execs the toolchain's
/// cargo.
fn fake_rustup(dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    write_script(
        &bin,
        "rustup",
        &format!(
            "#!/bin/sh\necho \"$*\" >> \"$PROXY_LOG\"\nexport RUSTUP_TOOLCHAIN_SOURCE={MARK}\n\
             exec \"$REAL_CARGO\" \"$@\"\n"
        ),
    );
    std::os::unix::fs::symlink("rustup", bin.join("cargo")).unwrap();
}

/// `runner` in `project` with `cargo` from the stand-in's PATH, no `$CARGO`, and the cache in
/// `dir/cache`.
fn run_through_proxy(dir: &Path, project: &Path, configure: impl FnOnce(&mut Command)) -> Run {
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = runner_command();
    command
        .current_dir(project)
        // As a shell gives it: the stand-in's shell corrects a stale one, which rustup (not a
        // shell) would not.
        .env("PWD", project)
        .env_remove("CARGO")
        .env("REAL_CARGO", toolchain_cargo().unwrap())
        .env("PATH", path)
        .env("PROXY_LOG", dir.join("proxy.log"))
        .env("XDG_CACHE_HOME", dir.join("cache"));
    configure(&mut command);
    execute(command, vec!["-n1".into()])
}

/// How many builds the proxy started (the first run also asks it for `cargo metadata`).
fn proxy_starts(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("proxy.log"))
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with("test --no-run"))
        .count()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Run through the stand-in until a route is kept, as in a user's first runs: the runner
/// learns the route while cargo runs, which a loaded machine can miss (cargo may have exited
/// before the watching thread looked); then the next run learns it. How many runs that took.
fn learn_route(dir: &Path, project: &Path) -> usize {
    let routes = dir.join("cache/runner/cargo-routes.json");
    for runs in 1..=5 {
        let run = run_through_proxy(dir, project, |_| {});
        run.assert_code(0);
        assert_eq!(proxy_starts(dir), runs, "{}", run.context());
        if routes.is_file() {
            return runs;
        }
    }
    panic!("no route was kept in 5 runs through the proxy");
}

/// A scratch directory with the stand-in rustup, a crate `name`, and the toolchain's cargo;
/// `None` (with a note) where the cargo running these tests is not a rustup toolchain's.
fn set_up(name: &str) -> Option<(tempfile::TempDir, tempfile::TempDir, PathBuf)> {
    let Some(cargo) = toolchain_cargo() else {
        eprintln!("skipped: the cargo running these tests is not a rustup toolchain's");
        return None;
    };
    let scratch = tempfile::tempdir().unwrap();
    fake_rustup(scratch.path());
    Some((scratch, temp_crate(name, LIB), cargo))
}

#[test]
fn the_proxy_is_skipped_once_its_route_is_known_and_taken_again_when_its_conditions_change() {
    let Some((scratch, project, cargo)) = set_up("routed") else {
        return;
    };
    let dir = scratch.path();
    std::fs::write(project.path().join("build.rs"), BUILD_RS).unwrap();
    let seen = || read(&project.path().join("seen.txt"));
    let build_saw = || read(&project.path().join("build-saw.txt"));
    let as_cargo_test_gives_it = format!("CARGO={:?} SOURCE=Some({MARK:?})", cargo.to_str());

    let learned = learn_route(dir, project.path());
    assert_eq!(build_saw(), MARK);
    assert_eq!(seen(), as_cargo_test_gives_it);

    // The route is known: cargo starts without the proxy, with the environment the proxy gave
    // it (else its build script would run again and see the runner's own value).
    let second = run_through_proxy(dir, project.path(), |_| {});
    second.assert_code(0);
    assert_eq!(proxy_starts(dir), learned, "{}", second.context());
    assert_eq!(build_saw(), MARK, "{}", second.context());
    assert!(second.stdout.contains("1 passed"), "{}", second.context());
    assert_eq!(seen(), as_cargo_test_gives_it);

    // A rustup variable that was not there: the proxy decides again.
    let changed = run_through_proxy(dir, project.path(), |command| {
        command.env("RUSTUP_DIST_SERVER", "https://example.invalid");
    });
    changed.assert_code(0);
    assert_eq!(proxy_starts(dir), learned + 1, "{}", changed.context());

    // A different rustup (an update rewrites the proxy): the proxy again.
    let proxy = dir.join("bin").join("rustup");
    std::fs::write(&proxy, format!("{}# updated\n", read(&proxy))).unwrap();
    let updated = run_through_proxy(dir, project.path(), |_| {});
    updated.assert_code(0);
    assert_eq!(proxy_starts(dir), learned + 2, "{}", updated.context());

    // With `$CARGO` set, that cargo is run as it is: no proxy, no kept route.
    let named = run_through_proxy(dir, project.path(), |command| {
        command.env("CARGO", env!("CARGO"));
    });
    named.assert_code(0);
    assert_eq!(proxy_starts(dir), learned + 2, "{}", named.context());
    assert!(seen().starts_with(&format!("CARGO={:?} ", Some(env!("CARGO")))));
    assert!(!seen().contains(MARK), "{}", seen());
}

#[test]
fn a_kept_route_that_is_not_what_rustup_does_is_not_taken() {
    let Some((scratch, project, _)) = set_up("poisoned") else {
        return;
    };
    let dir = scratch.path();
    let learned = learn_route(dir, project.path());

    // A cache from elsewhere: the same conditions, but a `CARGO_HOME` of its own (whose
    // `config.toml` could name any `rustc-wrapper`).
    let routes = dir.join("cache/runner/cargo-routes.json");
    let mut kept: serde_json::Value = serde_json::from_str(&read(&routes)).unwrap();
    let evil = dir.join("evil-cargo-home");
    kept["routes"][0]["env"]["CARGO_HOME"] = evil.display().to_string().into();
    std::fs::write(&routes, kept.to_string()).unwrap();

    // Never taken: each run goes through the proxy, until one learns the route afresh in
    // its place (same conditions).
    for runs in 1..=5 {
        let run = run_through_proxy(dir, project.path(), |_| {});
        run.assert_code(0);
        assert_eq!(proxy_starts(dir), learned + runs, "{}", run.context());
        if !read(&routes).contains("evil-cargo-home") {
            let kept: serde_json::Value = serde_json::from_str(&read(&routes)).unwrap();
            assert_eq!(kept["routes"].as_array().unwrap().len(), 1);
            return;
        }
    }
    panic!("the poisoned route was not replaced in 5 runs");
}
