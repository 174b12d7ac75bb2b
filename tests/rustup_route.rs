//! rustup's proxy skipped once its route is known: the first run goes through `cargo` on PATH
//! (a stand-in for rustup's proxy that logs each start and changes the environment, as rustup
//! does); later runs start the cargo it led to, with the same environment, until something
//! rustup's choice rests on changes.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// The test writes down what it sees of the toolchain: `cargo test` passes its own
/// environment (what the proxy set) and its path as `CARGO` on to its tests.
const LIB: &str = r#"
#[test]
fn works() {
    let seen = format!(
        "CARGO={:?} PROXY_MARK={:?}",
        std::env::var("CARGO").ok(),
        std::env::var("PROXY_MARK").ok()
    );
    std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/seen.txt"), seen).unwrap();
}
"#;

/// A stand-in for rustup: `bin/rustup`, and `bin/cargo` linked to it as rustup installs its
/// proxies. It logs each start and sets `CARGO_TARGET_DIR` and `PROXY_MARK` (rustup sets
/// `RUSTUP_TOOLCHAIN` and others; a target directory shows where cargo built), then execs the
/// real cargo.
fn fake_rustup(dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    write_script(
        &bin,
        "rustup",
        "#!/bin/sh\necho \"$*\" >> \"$PROXY_LOG\"\nexport CARGO_TARGET_DIR=\"$PROXY_TARGET\" PROXY_MARK=1\n\
         exec \"$REAL_CARGO\" \"$@\"\n",
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
        .env_remove("CARGO")
        .env("REAL_CARGO", env!("CARGO"))
        .env("PATH", path)
        .env("PROXY_LOG", dir.join("proxy.log"))
        .env("PROXY_TARGET", dir.join("target-from-proxy"))
        .env("XDG_CACHE_HOME", dir.join("cache"));
    configure(&mut command);
    execute(command, vec!["-n1".into()])
}

/// How many builds the proxy started (the first run also asks it for `cargo metadata`).
/// What the test saw of the toolchain in the last run.
fn seen(project: &Path) -> String {
    std::fs::read_to_string(project.join("seen.txt")).unwrap_or_default()
}

/// What the test sees when run by the toolchain's cargo through the proxy.
fn as_cargo_test_gives_it() -> String {
    let cargo = std::fs::canonicalize(env!("CARGO")).unwrap();
    format!(
        "CARGO={:?} PROXY_MARK=Some(\"1\")",
        Some(cargo.display().to_string())
    )
}

fn proxy_starts(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("proxy.log"))
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with("test --no-run"))
        .count()
}

#[test]
fn the_proxy_is_skipped_once_its_route_is_known_and_taken_again_when_its_conditions_change() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    fake_rustup(dir);
    let project = temp_crate("routed", LIB);
    let built_by_proxy = dir.join("target-from-proxy").join("debug");

    let first = run_through_proxy(dir, project.path(), |_| {});
    first.assert_code(0);
    assert_eq!(proxy_starts(dir), 1, "{}", first.context());
    assert!(built_by_proxy.is_dir(), "{}", first.context());
    assert!(dir.join("cache/runner/cargo-routes.json").is_file());
    assert_eq!(seen(project.path()), as_cargo_test_gives_it());

    // The route is known: cargo starts without the proxy, with the environment the proxy gave
    // it (else it would build into the project's own `target`).
    let second = run_through_proxy(dir, project.path(), |_| {});
    second.assert_code(0);
    assert_eq!(proxy_starts(dir), 1, "{}", second.context());
    assert!(!project.path().join("target").exists());
    assert!(second.stdout.contains("1 passed"), "{}", second.context());
    assert_eq!(seen(project.path()), as_cargo_test_gives_it());

    // A rustup variable that was not there: the proxy decides again.
    let changed = run_through_proxy(dir, project.path(), |command| {
        command.env("RUSTUP_DIST_SERVER", "https://example.invalid");
    });
    changed.assert_code(0);
    assert_eq!(proxy_starts(dir), 2, "{}", changed.context());

    // A different rustup (an update rewrites the proxy): the proxy again.
    let proxy = dir.join("bin").join("rustup");
    let script = std::fs::read_to_string(&proxy).unwrap();
    std::fs::write(&proxy, format!("{script}# updated\n")).unwrap();
    let updated = run_through_proxy(dir, project.path(), |_| {});
    updated.assert_code(0);
    assert_eq!(proxy_starts(dir), 3, "{}", updated.context());

    // With `$CARGO` set, that cargo is run as it is: no proxy, no kept route.
    let named = run_through_proxy(dir, project.path(), |command| {
        command.env("CARGO", env!("CARGO"));
    });
    named.assert_code(0);
    assert_eq!(proxy_starts(dir), 3, "{}", named.context());
    assert!(
        project.path().join("target").is_dir(),
        "{}",
        named.context()
    );
    let expected = format!("CARGO={:?} PROXY_MARK=None", Some(env!("CARGO")));
    assert_eq!(seen(project.path()), expected);
}
