//! cargo's own configuration, as far as runner needs it: the target the tests are built for
//! and the target runner cargo would start them through (`target.<triple>.runner`,
//! `target.'cfg(...)'.runner`, `CARGO_TARGET_<TRIPLE>_RUNNER`), found and ranked the way cargo
//! does (the home of `cargo-platform`, which evaluates `cfg(...)` keys).
//!
//! cargo reads `.cargo/config.toml` (or the older `.cargo/config`) in the current directory
//! and each of its ancestors, then `$CARGO_HOME/config.toml`; a file nearer the current
//! directory wins, and an environment variable wins over every file. rustc is asked for the
//! host triple and the target's `cfg` values only when some runner is configured at all.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use cargo_platform::{Cfg, Platform};

use super::config_errors::place;

/// The program (and its first arguments) that starts every test binary, as cargo would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRunner {
    pub argv: Vec<String>,
    /// Where it was set, for messages: a variable's name or `FILE: target.KEY.runner`.
    pub origin: String,
}

/// One of cargo's config files, read.
struct ConfigFile {
    path: PathBuf,
    table: toml::Table,
}

impl ConfigFile {
    /// The directory a relative program path in this file is relative to: the one holding
    /// its `.cargo` directory.
    fn root(&self) -> PathBuf {
        self.path
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    fn target_table(&self) -> Option<&toml::Table> {
        self.table.get("target")?.as_table()
    }
}

/// What a lookup needs from the outside world, so that tests can stand in for it.
pub struct Surroundings<'a> {
    pub cwd: &'a Path,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Whether any `CARGO_TARGET_<TRIPLE>_RUNNER` variable is set, whatever the triple.
    pub runner_variables: bool,
    /// The host triple (`rustc -vV`).
    pub host: &'a dyn Fn() -> Result<String, String>,
    /// The `cfg` values of a target (`rustc --print cfg --target T`).
    pub cfg: &'a dyn Fn(&str) -> Result<Vec<Cfg>, String>,
}

/// The runners cargo would start test binaries through: the target's, and the host's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Runners {
    /// For tests built for the target (`--target`; else cargo's `build.target`, else the host).
    pub target: Option<TargetRunner>,
    /// For tests built for the host whatever the target: a proc-macro crate's.
    pub host: Option<TargetRunner>,
}

/// The runners cargo's settings name, if any; an error says which setting is wrong.
pub fn target_runners(target: Option<&str>, around: &Surroundings) -> Result<Runners, String> {
    let files = read_files(around)?;
    let file_runner = files.iter().any(|file| {
        file.target_table()
            .is_some_and(|t| t.values().any(|v| v.get("runner").is_some()))
    });
    if !around.runner_variables && !file_runner {
        return Ok(Runners::default());
    }
    let triple = build_target(target, &files, around)?;
    let target = runner_for(&triple, &files, around)?;
    let host = (around.host)()?;
    let host = match host == triple {
        true => target.clone(),
        false => runner_for(&host, &files, around)?,
    };
    Ok(Runners { target, host })
}

/// The triple the tests are built for: `--target`, `CARGO_BUILD_TARGET`, `build.target`, or
/// the host's.
fn build_target(
    target: Option<&str>,
    files: &[ConfigFile],
    around: &Surroundings,
) -> Result<String, String> {
    if let Some(target) = target
        .map(str::to_string)
        .or_else(|| (around.env)("CARGO_BUILD_TARGET"))
    {
        return Ok(triple_of(&target));
    }
    for file in files {
        let Some(value) = file.table.get("build").and_then(|b| b.get("target")) else {
            continue;
        };
        let targets: Vec<&str> = match value {
            toml::Value::String(one) => vec![one],
            toml::Value::Array(many) => many.iter().filter_map(toml::Value::as_str).collect(),
            _ => Vec::new(),
        };
        return match targets[..] {
            [one] => Ok(triple_of(one)),
            _ => Err(format!(
                "{}: `build.target` names {} targets; runner runs the tests of one target: \
                 pass --target TRIPLE",
                file.path.display(),
                targets.len()
            )),
        };
    }
    (around.host)()
}

/// A target given as a path to a target specification (`my-board.json`) is named after it.
fn triple_of(target: &str) -> String {
    match target.strip_suffix(".json") {
        Some(_) => Path::new(target)
            .file_stem()
            .map_or_else(|| target.to_string(), |s| s.to_string_lossy().into_owned()),
        None => target.to_string(),
    }
}

/// cargo's precedence: the variable, then `target.<triple>.runner` from the nearest file that
/// sets it, then the one `target.'cfg(...)'.runner` that matches (more than one is an error,
/// as in cargo).
fn runner_for(
    triple: &str,
    files: &[ConfigFile],
    around: &Surroundings,
) -> Result<Option<TargetRunner>, String> {
    let variable = format!(
        "CARGO_TARGET_{}_RUNNER",
        triple.to_uppercase().replace(['-', '.'], "_")
    );
    if let Some(value) = (around.env)(&variable).filter(|v| !v.trim().is_empty()) {
        let argv = split_whitespace(&value);
        return Ok(Some(TargetRunner {
            argv: resolve_program(argv, around.cwd),
            origin: variable,
        }));
    }
    for file in files {
        let Some(value) = file
            .target_table()
            .and_then(|t| t.get(triple)?.get("runner"))
        else {
            continue;
        };
        let key = format!("target.{triple}.runner");
        return setting(file, &key, value).map(Some);
    }
    cfg_runner(triple, files, around)
}

/// The `target.'cfg(...)'.runner` that applies to `triple`, if exactly one does.
fn cfg_runner(
    triple: &str,
    files: &[ConfigFile],
    around: &Surroundings,
) -> Result<Option<TargetRunner>, String> {
    let mut candidates: Vec<(&ConfigFile, &str, &toml::Value)> = Vec::new();
    for file in files {
        for (key, table) in file.target_table().into_iter().flatten() {
            let Some(runner) = table.get("runner").filter(|_| key.starts_with("cfg(")) else {
                continue;
            };
            // A key set in a nearer file hides the same key further away.
            if !candidates.iter().any(|(_, seen, _)| *seen == key) {
                candidates.push((file, key, runner));
            }
        }
    }
    if candidates.is_empty() {
        return Ok(None);
    }
    let cfgs = (around.cfg)(triple)?;
    let mut matching = Vec::new();
    for (file, key, runner) in candidates {
        let platform = Platform::from_str(key)
            .map_err(|e| format!("{}: `target.'{key}'`: {e}", file.path.display()))?;
        if platform.matches(triple, &cfgs) {
            matching.push((file, key, runner));
        }
    }
    match matching[..] {
        [] => Ok(None),
        [(file, key, runner)] => setting(file, &format!("target.'{key}'.runner"), runner).map(Some),
        _ => Err(format!(
            "several `target.'cfg(..)'.runner` settings match {triple} ({}); cargo refuses this \
             too: keep one, or set target.{triple}.runner",
            matching
                .iter()
                .map(|(_, key, _)| *key)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A runner as a config file writes it: a string cargo splits at whitespace, or a list.
fn setting(file: &ConfigFile, key: &str, value: &toml::Value) -> Result<TargetRunner, String> {
    let origin = format!("{}: {key}", file.path.display());
    let argv = match value {
        toml::Value::String(text) => split_whitespace(text),
        toml::Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    if argv.is_empty() {
        return Err(format!(
            "{origin}: expected a program and its arguments, as a string or a list of strings"
        ));
    }
    Ok(TargetRunner {
        argv: resolve_program(argv, &file.root()),
        origin,
    })
}

/// cargo splits a runner given as one string at whitespace (no quoting), and so do we.
fn split_whitespace(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// A program path with a slash that is not absolute is relative to `base` (the directory
/// holding the config file's `.cargo`, or the current directory for a variable); a bare name
/// is looked up on PATH.
fn resolve_program(mut argv: Vec<String>, base: &Path) -> Vec<String> {
    if let Some(program) = argv.first_mut() {
        if program.contains('/') && Path::new(program.as_str()).is_relative() {
            *program = base.join(&*program).display().to_string();
        }
    }
    argv
}

/// cargo's config files, the one that wins first.
fn read_files(around: &Surroundings) -> Result<Vec<ConfigFile>, String> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for dir in around.cwd.ancestors() {
        let cargo = dir.join(".cargo");
        // cargo reads `config` when `config.toml` is absent.
        if let Some(path) = ["config.toml", "config"]
            .iter()
            .map(|name| cargo.join(name))
            .find(|path| path.is_file())
        {
            paths.push(path);
        }
    }
    let home = (around.env)("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| (around.env)("HOME").map(|home| Path::new(&home).join(".cargo")));
    if let Some(home) = home {
        let path = home.join("config.toml");
        if path.is_file() && !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read cargo's config {}: {e}", path.display()))?;
            let table = text.parse::<toml::Table>().map_err(|e| {
                let at = e.span().map_or(0, |span| span.start);
                format!(
                    "cannot read cargo's config {}: {}",
                    place(&path, &text, at),
                    e.message().replace('\n', " ")
                )
            })?;
            Ok(ConfigFile { path, table })
        })
        .collect()
}

/// Whether the environment sets any `CARGO_TARGET_<TRIPLE>_RUNNER`.
pub fn runner_variables_set() -> bool {
    std::env::vars_os().any(|(name, _)| {
        let name = name.to_string_lossy();
        name.starts_with("CARGO_TARGET_") && name.ends_with("_RUNNER")
    })
}

/// The host triple, from `rustc -vV` (`$RUSTC` if set).
pub fn host_triple() -> Result<String, String> {
    let output = rustc(&["-vV"])?;
    output
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(|host| host.trim().to_string())
        .ok_or_else(|| "`rustc -vV` did not name the host triple".to_string())
}

/// The `cfg` values of `triple`, from `rustc --print cfg --target TRIPLE`.
pub fn target_cfg(triple: &str) -> Result<Vec<Cfg>, String> {
    let output = rustc(&["--print", "cfg", "--target", triple])?;
    output
        .lines()
        .map(|line| Cfg::from_str(line).map_err(|e| format!("rustc --print cfg: {e}")))
        .collect()
}

fn rustc(args: &[&str]) -> Result<String, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let output = Command::new(&rustc)
        .args(args)
        .output()
        .map_err(|e| format!("could not run `{rustc}` to learn the target: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`{rustc} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests;
