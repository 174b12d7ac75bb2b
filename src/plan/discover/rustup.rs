//! The program that runs `cargo test --no-run`, and its environment: rustup's proxy, or the
//! toolchain's cargo itself when an earlier run saw where the proxy leads.
//!
//! `cargo` on PATH is usually rustup's proxy. It works out the toolchain (`RUSTUP_TOOLCHAIN`,
//! directory overrides and the default in `settings.toml`, a `rust-toolchain(.toml)` file up
//! from the working directory), then execs that toolchain's cargo with a few variables changed
//! (`RUSTUP_TOOLCHAIN`, `RUSTUP_HOME`, `CARGO_HOME`, `LD_LIBRARY_PATH`, `RUST_RECURSION_COUNT`).
//! The hop costs ~10 ms of every run here: a third of a warm `cargo test` of a small crate.
//!
//! So the runner watches where the proxy leads: once cargo has written its first message, the
//! process the proxy became is the toolchain's cargo, and `/proc/PID/exe` and
//! `/proc/PID/environ` say which binary it is and what rustup changed in the environment. That
//! route is kept in the user's cache directory with everything rustup's answer rests on: the
//! working directory, the proxy file, rustup's variables, its settings files and the toolchain
//! files the search up the tree finds. While all of those are as they were, the next run
//! starts that cargo directly with the same changes: what the proxy would have done, without
//! the hop. Anything different (`rustup default`, `rustup override set`, a new
//! `rust-toolchain.toml`, `RUSTUP_TOOLCHAIN`, an updated rustup, a removed toolchain) means the
//! proxy again, and learning again.
//!
//! Only rustup is skipped (`cargo` on PATH resolves to a file named `rustup`, or is a hard link
//! of the `rustup` beside it): another wrapper may do more than exec. And only a route that is
//! what rustup does is kept or taken (a toolchain's cargo under rustup's home, rustup's own
//! variables with their values: see `plausible`), since the cache directory may come from
//! elsewhere. A `$CARGO` that is set
//! (a run under `cargo run`, or the user's choice) is run as it is, and so is any cargo when
//! the cache directory cannot be found or written.
//!
//! Either way, once the route is known (taken, or just learned) it is also what the tests see:
//! `cargo test` passes its own environment on to the tests it runs, with its path as `CARGO`,
//! so a test that starts `cargo` or `rustc` gets the toolchain the build used ([`Toolchain`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

mod plausible;
mod routes;

use plausible::Homes;
use routes::{cache_file, keep, kept_route, Conditions, Route};

/// The cargo the build ran as, and what rustup changed in its environment, once known.
#[derive(Debug)]
pub struct Toolchain {
    cargo: PathBuf,
    env: BTreeMap<String, Option<String>>,
}

static TOOLCHAIN: OnceLock<Toolchain> = OnceLock::new();

/// The toolchain of this run's build, when rustup's route to it is known.
pub fn toolchain() -> Option<&'static Toolchain> {
    TOOLCHAIN.get()
}

impl Toolchain {
    fn note(cargo: &Path, env: &BTreeMap<String, Option<String>>) {
        let _ = TOOLCHAIN.set(Toolchain {
            cargo: cargo.to_path_buf(),
            env: env.clone(),
        });
    }

    /// Give a test's `command` what `cargo test` would pass on from its own environment: the
    /// variables rustup set (under those the test's own environment sets, `test_env`; the
    /// library path stays the runner's, which already holds what cargo adds), and the
    /// toolchain's cargo as `CARGO` where the test's environment names plain `cargo`.
    pub fn apply(&self, command: &mut Command, test_env: &BTreeMap<String, String>) {
        for (name, value) in &self.env {
            let ours = test_env.contains_key(name) || name == "LD_LIBRARY_PATH";
            if let (Some(value), false) = (value, ours) {
                command.env(name, value);
            }
        }
        if test_env.get("CARGO").is_none_or(|cargo| cargo == "cargo") {
            command.env("CARGO", &self.cargo);
        }
    }
}

/// How to start cargo: [`Launch::command`], then [`Launch::watch`] its stdout.
#[derive(Debug)]
pub struct Launch {
    program: PathBuf,
    env: BTreeMap<String, Option<String>>,
    /// Set when the program is rustup's proxy and the route can be learned and kept.
    learning: Option<Learning>,
    /// The proxy, when the program is the kept route's cargo (to fall back on).
    proxy: Option<PathBuf>,
}

#[derive(Debug)]
struct Learning {
    proxy: PathBuf,
    cache: PathBuf,
}

impl Launch {
    /// How to start `cargo` (the result of `cargo_command`).
    pub fn of(cargo: &str) -> Launch {
        let plain = Launch {
            program: PathBuf::from(cargo),
            env: BTreeMap::new(),
            learning: None,
            proxy: None,
        };
        // `$CARGO` names a cargo of the user's (or `cargo run`'s) choosing.
        if std::env::var_os("CARGO").is_some() {
            return plain;
        }
        let (Some(cache), Some(proxy)) = (cache_file(), on_path("cargo")) else {
            return plain;
        };
        if !is_rustup(&proxy) {
            return plain;
        }
        let rustups =
            |route: &Route| Homes::now().is_some_and(|h| h.allow(&route.cargo, &route.env));
        if let Some(route) = kept_route(&cache, &proxy).filter(rustups) {
            Toolchain::note(&route.cargo, &route.env);
            return Launch {
                program: route.cargo,
                env: route.env,
                learning: None,
                proxy: Some(proxy),
            };
        }
        Launch {
            learning: Some(Learning { proxy, cache }),
            ..plain
        }
    }

    /// The command that starts cargo (arguments still to add).
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        for (name, value) in &self.env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command
    }

    /// The launch through the proxy, when this one skips it: for a kept cargo that cannot be
    /// started after all.
    pub fn through_proxy(&self) -> Option<Launch> {
        Some(Launch {
            program: self.proxy.clone()?,
            env: BTreeMap::new(),
            learning: None,
            proxy: None,
        })
    }

    /// cargo's stdout, read through a watch that learns the route: from the moment cargo has
    /// started, a thread waits for the proxy to exec (cargo may have written everything and
    /// exited by the time its first message is read, and an exited process says nothing);
    /// the first read waits for that thread, so the tests of this run already see the route.
    pub fn watch<R: Read>(self, pid: u32, stdout: R) -> Watched<R> {
        let spoken = Arc::new(AtomicBool::new(false));
        let learner = self.learning.and_then(|learning| {
            let spoken = Arc::clone(&spoken);
            std::thread::Builder::new()
                .name("rustup-route".into())
                .spawn(move || learning.learn(pid, &spoken))
                .ok()
        });
        Watched {
            inner: stdout,
            learner,
            spoken,
        }
    }
}

/// cargo's stdout; its first bytes wait until the route is learned (see [`Launch::watch`]).
pub struct Watched<R> {
    inner: R,
    learner: Option<std::thread::JoinHandle<()>>,
    /// Set when cargo has written: whatever the process has exec'd by now is final.
    spoken: Arc<AtomicBool>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        if let Some(learner) = self.learner.take() {
            self.spoken.store(true, Ordering::SeqCst);
            let _ = learner.join();
        }
        Ok(read)
    }
}

/// How long the proxy is given to exec cargo (it has to resolve the toolchain first, and may
/// be installing it), and how often that is looked at.
const EXEC_WAIT: Duration = Duration::from_secs(10);
const EXEC_POLL: Duration = Duration::from_micros(500);

impl Learning {
    /// Keep where the proxy led process `pid`, if it led to a cargo.
    fn learn(self, pid: u32, spoken: &AtomicBool) {
        let Some(cargo) = cargo_exec(pid, &self.proxy, spoken) else {
            return;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            return;
        };
        let Some(changed) = changes(&ours(), &parse_environ(&environ)) else {
            return;
        };
        Toolchain::note(&cargo, &changed);
        // Only what rustup itself does is kept (see `plausible`).
        if !Homes::now().is_some_and(|homes| homes.allow(&cargo, &changed)) {
            return;
        }
        let names: Vec<&str> = changed.keys().map(String::as_str).collect();
        let Some(conditions) = Conditions::now(self.proxy, &names) else {
            return;
        };
        let route = Route {
            conditions,
            cargo,
            env: changed,
        };
        keep(&self.cache, route);
    }
}

/// The cargo process `pid` (started as `proxy`) has exec'd, once it has: a program named
/// `cargo` that is not the proxy. `None` when the process exits, or has written (`spoken`) or
/// taken too long without becoming one (an interpreter running a script in the way is not a
/// route to replay).
fn cargo_exec(pid: u32, proxy: &Path, spoken: &AtomicBool) -> Option<PathBuf> {
    let proxy = std::fs::canonicalize(proxy).ok()?;
    let exe = format!("/proc/{pid}/exe");
    let started = Instant::now();
    loop {
        let now = std::fs::read_link(&exe).ok()?;
        if now != proxy && now.file_name().is_some_and(|name| name == "cargo") {
            return Some(now);
        }
        if spoken.load(Ordering::SeqCst) || started.elapsed() > EXEC_WAIT {
            return None;
        }
        std::thread::sleep(EXEC_POLL);
    }
}

/// `$name`, else `$HOME/default`, as `var` reads the environment: where rustup
/// (`RUSTUP_HOME`, `.rustup`) and cargo (`CARGO_HOME`, `.cargo`) keep their files.
fn home_dir(var: impl Fn(&str) -> Option<PathBuf>, name: &str, default: &str) -> Option<PathBuf> {
    var(name).or_else(|| Some(var("HOME")?.join(default)))
}

/// The first executable `name` on PATH, as `Command` would find it.
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|path| {
            std::fs::metadata(path)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// Whether `proxy` is rustup: a link to a file named `rustup`, or the same file as the
/// `rustup` beside it (rustup installs its proxies as hard links or symlinks).
fn is_rustup(proxy: &Path) -> bool {
    let Ok(real) = std::fs::canonicalize(proxy) else {
        return false;
    };
    if real.file_name().is_some_and(|name| name == "rustup") {
        return true;
    }
    let same_file = |a: &Path, b: &Path| match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    };
    real.parent()
        .is_some_and(|dir| same_file(&real, &dir.join("rustup")))
}

/// The runner's own environment, as cargo's child inherits it.
fn ours() -> BTreeMap<Vec<u8>, Vec<u8>> {
    std::env::vars_os()
        .map(|(name, value)| (name.as_bytes().to_vec(), value.as_bytes().to_vec()))
        .collect()
}

/// A process's environment as `/proc/PID/environ` gives it (`NAME=value`, NUL-separated).
fn parse_environ(environ: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    environ
        .split(|&byte| byte == 0)
        .filter_map(|entry| {
            let equals = entry.iter().position(|&byte| byte == b'=')?;
            Some((entry[..equals].to_vec(), entry[equals + 1..].to_vec()))
        })
        .collect()
}

/// What turned `before` into `after`: each variable set or changed (its new value) and each
/// removed (`None`); `None` when one is not UTF-8 (it could not be kept).
fn changes(
    before: &BTreeMap<Vec<u8>, Vec<u8>>,
    after: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> Option<BTreeMap<String, Option<String>>> {
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).ok();
    let mut changed = BTreeMap::new();
    for (name, value) in after {
        if before.get(name) != Some(value) {
            changed.insert(text(name)?, Some(text(value)?));
        }
    }
    for name in before.keys().filter(|name| !after.contains_key(*name)) {
        changed.insert(text(name)?, None);
    }
    Some(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<Vec<u8>, Vec<u8>> {
        (pairs.iter())
            .map(|(name, value)| (name.as_bytes().to_vec(), value.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn the_changes_are_what_was_set_changed_and_removed() {
        let before = env(&[("HOME", "/root"), ("KEEP", "1"), ("GONE", "x")]);
        let after = parse_environ(b"HOME=/home/else\0KEEP=1\0RUSTUP_TOOLCHAIN=stable\0EQ=a=b\0");
        let changed = changes(&before, &after).unwrap();
        let expected: BTreeMap<String, Option<String>> = [
            ("EQ", Some("a=b")),
            ("GONE", None),
            ("HOME", Some("/home/else")),
            ("RUSTUP_TOOLCHAIN", Some("stable")),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.map(str::to_string)))
        .collect();
        assert_eq!(changed, expected);
        // A value that could not be kept means no route at all.
        let odd = parse_environ(b"HOME=\xff\0");
        assert_eq!(changes(&before, &odd), None);
    }

    #[test]
    fn rustup_is_known_by_its_name_or_as_a_hard_link_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let rustup = dir.path().join("rustup");
        std::fs::write(&rustup, "binary").unwrap();
        let symlink = dir.path().join("cargo");
        std::os::unix::fs::symlink(&rustup, &symlink).unwrap();
        assert!(is_rustup(&symlink));
        let hard = dir.path().join("rustc");
        std::fs::hard_link(&rustup, &hard).unwrap();
        assert!(is_rustup(&hard));
        let wrapper = dir.path().join("cargo-wrapper");
        std::fs::write(&wrapper, "#!/bin/sh\n").unwrap();
        assert!(!is_rustup(&wrapper));
        assert!(!is_rustup(&dir.path().join("missing")));
    }

    #[test]
    fn tests_get_the_toolchain_under_their_own_environment() {
        let toolchain = Toolchain {
            cargo: PathBuf::from("/toolchain/bin/cargo"),
            env: BTreeMap::from([
                ("RUSTUP_TOOLCHAIN".to_string(), Some("stable".to_string())),
                (
                    "LD_LIBRARY_PATH".to_string(),
                    Some("/toolchain/lib".to_string()),
                ),
                ("OUT_DIR".to_string(), Some("/not/the/tests".to_string())),
                ("GONE".to_string(), None),
            ]),
        };
        let given = |test_env: &[(&str, &str)]| {
            let test_env: BTreeMap<String, String> = (test_env.iter())
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect();
            let mut command = Command::new("test");
            toolchain.apply(&mut command, &test_env);
            let env: BTreeMap<String, String> = (command.get_envs())
                .filter_map(|(name, value)| {
                    Some((name.to_str()?.to_string(), value?.to_str()?.to_string()))
                })
                .collect();
            env
        };
        let env = given(&[("CARGO", "cargo"), ("OUT_DIR", "/out")]);
        let expected = BTreeMap::from([
            ("CARGO".to_string(), "/toolchain/bin/cargo".to_string()),
            ("RUSTUP_TOOLCHAIN".to_string(), "stable".to_string()),
        ]);
        assert_eq!(env, expected);
        // A cargo the user named stays theirs.
        let env = given(&[("CARGO", "/my/cargo")]);
        assert!(!env.contains_key("CARGO"));
    }
}
