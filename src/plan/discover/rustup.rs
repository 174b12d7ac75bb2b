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
//! of the `rustup` beside it): another wrapper may do more than exec. A `$CARGO` that is set
//! (a run under `cargo run`, or the user's choice) is run as it is, and so is any cargo when
//! the cache directory cannot be found or written.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::files::{self, Identity};

/// Bumped when what the file holds changes meaning.
const VERSION: u32 = 1;

/// How many routes are kept (one per working directory and set of conditions), newest first.
const ROUTES_KEPT: usize = 32;

/// The variables rustup reads (besides its own `RUSTUP_*`) or changes for the cargo it starts.
const WATCHED: [&str; 5] = [
    "CARGO_HOME",
    "HOME",
    "LD_LIBRARY_PATH",
    "PATH",
    "RUST_RECURSION_COUNT",
];

/// What rustup's choice of toolchain rests on, as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Conditions {
    cwd: PathBuf,
    /// The `cargo` found on PATH (the proxy), and which file it was.
    proxy: PathBuf,
    proxy_file: Option<Identity>,
    /// rustup's variables, and every one it changed, as they were (`None`: unset).
    env: BTreeMap<String, Option<String>>,
    /// Its settings files and the toolchain files it looks for, as they were (`None`: absent).
    files: Vec<(PathBuf, Option<Identity>)>,
}

/// Where the proxy led under some conditions.
#[derive(Debug, Serialize, Deserialize)]
struct Route {
    conditions: Conditions,
    /// The toolchain's cargo.
    cargo: PathBuf,
    /// What the proxy changed in the environment (`None`: removed).
    env: BTreeMap<String, Option<String>>,
}

#[derive(Default, Serialize, Deserialize)]
struct Kept {
    version: u32,
    routes: Vec<Route>,
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
        if cargo != "cargo" || std::env::var_os("CARGO").is_some() {
            return plain;
        }
        let (Some(cache), Some(proxy)) = (cache_file(), on_path("cargo")) else {
            return plain;
        };
        if !is_rustup(&proxy) {
            return plain;
        }
        if let Some(route) = kept_route(&cache, &proxy) {
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

    /// cargo's stdout, read through a watch that learns the route on cargo's first message.
    pub fn watch<R: Read>(self, pid: u32, stdout: R) -> Watched<R> {
        Watched {
            inner: stdout,
            pending: self.learning.map(|learning| (pid, learning)),
        }
    }
}

/// cargo's stdout; the first bytes read from it mean the proxy has become cargo.
pub struct Watched<R> {
    inner: R,
    pending: Option<(u32, Learning)>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        if read > 0 {
            if let Some((pid, learning)) = self.pending.take() {
                learning.learn(pid);
            }
        }
        Ok(read)
    }
}

impl Learning {
    /// Keep where the proxy led process `pid`, if it led to a cargo.
    fn learn(self, pid: u32) {
        let Ok(cargo) = std::fs::read_link(format!("/proc/{pid}/exe")) else {
            return;
        };
        // An interpreter (a script in the way) or rustup itself (it has not exec'd) is not a
        // route to replay.
        if cargo.file_name().is_none_or(|name| name != "cargo") {
            return;
        }
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            return;
        };
        let Some(changed) = changes(&ours(), &parse_environ(&environ)) else {
            return;
        };
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

impl Conditions {
    /// The conditions now, watching `changed` variables besides rustup's own; `None` when a
    /// watched variable is not UTF-8 (it could not be kept).
    fn now(proxy: PathBuf, changed: &[&str]) -> Option<Conditions> {
        let cwd = std::env::current_dir().ok()?;
        let mut env = BTreeMap::new();
        for (name, value) in std::env::vars_os() {
            let name = name.to_str()?;
            if name.starts_with("RUSTUP_") {
                env.insert(name.to_string(), Some(value.into_string().ok()?));
            }
        }
        for name in WATCHED.iter().chain(changed) {
            let value = match std::env::var_os(name) {
                Some(value) => Some(value.into_string().ok()?),
                None => None,
            };
            env.insert(name.to_string(), value);
        }
        let files = watched_files(&cwd, &env)
            .into_iter()
            .map(|path| {
                let identity = Identity::of(&path);
                (path, identity)
            })
            .collect();
        Some(Conditions {
            proxy_file: Identity::of(&proxy),
            cwd,
            proxy,
            env,
            files,
        })
    }
}

/// rustup's settings files, and the toolchain files up from `cwd` as far as the first that
/// exists (rustup's search stops there).
fn watched_files(cwd: &Path, env: &BTreeMap<String, Option<String>>) -> Vec<PathBuf> {
    let var = |name: &str| env.get(name).cloned().flatten().map(PathBuf::from);
    let rustup_home = var("RUSTUP_HOME").or_else(|| var("HOME").map(|home| home.join(".rustup")));
    let mut files: Vec<PathBuf> = rustup_home
        .map(|home| home.join("settings.toml"))
        .into_iter()
        .collect();
    files.push(PathBuf::from("/etc/rustup/settings.toml"));
    'search: for dir in cwd.ancestors() {
        for name in ["rust-toolchain", "rust-toolchain.toml"] {
            let file = dir.join(name);
            let found = file.exists();
            files.push(file);
            if found {
                break 'search;
            }
        }
    }
    files
}

/// The route kept for `proxy` under the conditions now, if its cargo is still there.
fn kept_route(cache: &Path, proxy: &Path) -> Option<Route> {
    let kept = load(cache)?;
    let cwd = std::env::current_dir().ok()?;
    let route = kept.routes.into_iter().find(|route| {
        let seen = &route.conditions;
        if seen.cwd != cwd || seen.proxy != proxy {
            return false;
        }
        // The variables the proxy changed are watched too: compare with those.
        let changed: Vec<&str> = route.env.keys().map(String::as_str).collect();
        Conditions::now(proxy.to_path_buf(), &changed).as_ref() == Some(seen)
    })?;
    route.cargo.is_file().then_some(route)
}

fn load(cache: &Path) -> Option<Kept> {
    let text = std::fs::read(cache).ok()?;
    serde_json::from_slice::<Kept>(&text)
        .ok()
        .filter(|kept| kept.version == VERSION)
}

/// Keep `route` first, in place of any under the same conditions. Failing to is harmless: the
/// next run goes through the proxy again.
fn keep(cache: &Path, route: Route) {
    let mut kept = load(cache).unwrap_or_default();
    kept.version = VERSION;
    kept.routes.retain(|r| r.conditions != route.conditions);
    kept.routes.insert(0, route);
    kept.routes.truncate(ROUTES_KEPT);
    let _ = files::write_atomically(cache, |out| Ok(serde_json::to_writer(out, &kept)?));
}

/// Where routes are kept: `$XDG_CACHE_HOME/runner`, else `~/.cache/runner`.
fn cache_file() -> Option<PathBuf> {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let dir = absolute("XDG_CACHE_HOME").or_else(|| Some(absolute("HOME")?.join(".cache")))?;
    Some(dir.join("runner").join("cargo-routes.json"))
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
    fn the_toolchain_file_search_stops_at_the_first_found() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("a").join("b");
        std::fs::create_dir_all(&inner).unwrap();
        std::fs::write(dir.path().join("a").join("rust-toolchain.toml"), "").unwrap();
        let home = BTreeMap::from([("HOME".to_string(), Some("/home/me".to_string()))]);
        let files = watched_files(&inner, &home);
        assert_eq!(files[0], Path::new("/home/me/.rustup/settings.toml"));
        assert_eq!(files[1], Path::new("/etc/rustup/settings.toml"));
        assert_eq!(
            files[2..],
            [
                inner.join("rust-toolchain"),
                inner.join("rust-toolchain.toml"),
                dir.path().join("a").join("rust-toolchain"),
                dir.path().join("a").join("rust-toolchain.toml"),
            ]
        );
        let own_home =
            BTreeMap::from([("RUSTUP_HOME".to_string(), Some("/opt/rustup".to_string()))]);
        assert_eq!(
            watched_files(&inner, &own_home)[0],
            Path::new("/opt/rustup/settings.toml")
        );
    }

    #[test]
    fn a_kept_route_holds_while_its_conditions_do() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache").join("routes.json");
        let proxy = dir.path().join("rustup");
        std::fs::write(&proxy, "v1").unwrap();
        let cargo = dir.path().join("cargo");
        std::fs::write(&cargo, "").unwrap();
        let route = |conditions| Route {
            conditions,
            cargo: cargo.clone(),
            env: BTreeMap::from([("RUSTUP_TOOLCHAIN".to_string(), Some("x".to_string()))]),
        };
        let conditions = Conditions::now(proxy.clone(), &["RUSTUP_TOOLCHAIN"]).unwrap();
        keep(&cache, route(conditions.clone()));
        let found = kept_route(&cache, &proxy).expect("the route just kept");
        assert_eq!(found.cargo, cargo);
        assert_eq!(found.env["RUSTUP_TOOLCHAIN"].as_deref(), Some("x"));

        // Kept again under the same conditions: one route, not two.
        keep(&cache, route(conditions));
        assert_eq!(load(&cache).unwrap().routes.len(), 1);

        // A different proxy file, or a cargo that is gone: no route.
        std::fs::write(&proxy, "v2, longer").unwrap();
        assert!(kept_route(&cache, &proxy).is_none());
        let conditions = Conditions::now(proxy.clone(), &["RUSTUP_TOOLCHAIN"]).unwrap();
        keep(&cache, route(conditions));
        assert!(kept_route(&cache, &proxy).is_some());
        std::fs::remove_file(&cargo).unwrap();
        assert!(kept_route(&cache, &proxy).is_none());
    }
}
