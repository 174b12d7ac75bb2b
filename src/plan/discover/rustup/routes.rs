//! The routes rustup's proxy was seen to take, kept in the user's cache directory: which cargo
//! it led to and what it changed in the environment, under the conditions rustup's choice rests
//! on (see `rustup`). A route holds only while every one of its conditions is as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
pub(super) struct Conditions {
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
pub(super) struct Route {
    pub(super) conditions: Conditions,
    /// The toolchain's cargo.
    pub(super) cargo: PathBuf,
    /// What the proxy changed in the environment (`None`: removed).
    pub(super) env: BTreeMap<String, Option<String>>,
}

#[derive(Default, Serialize, Deserialize)]
struct Kept {
    version: u32,
    routes: Vec<Route>,
}

impl Conditions {
    /// The conditions now, watching `changed` variables besides rustup's own; `None` when a
    /// watched variable is not UTF-8 (it could not be kept).
    pub(super) fn now(proxy: PathBuf, changed: &[&str]) -> Option<Conditions> {
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
    let rustup_home = super::home_dir(var, "RUSTUP_HOME", ".rustup");
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
pub(super) fn kept_route(cache: &Path, proxy: &Path) -> Option<Route> {
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
pub(super) fn keep(cache: &Path, route: Route) {
    let mut kept = load(cache).unwrap_or_default();
    kept.version = VERSION;
    kept.routes.retain(|r| r.conditions != route.conditions);
    kept.routes.insert(0, route);
    kept.routes.truncate(ROUTES_KEPT);
    let _ = files::write_atomically(cache, |out| Ok(serde_json::to_writer(out, &kept)?));
}

/// Where routes are kept: `$XDG_CACHE_HOME/runner`, else `~/.cache/runner`.
pub(super) fn cache_file() -> Option<PathBuf> {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let dir = absolute("XDG_CACHE_HOME").or_else(|| Some(absolute("HOME")?.join(".cache")))?;
    Some(dir.join("runner").join("cargo-routes.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
