//! Unit tests of finding cargo's target runner.

use super::*;
use std::collections::HashMap;

const HOST: &str = "x86_64-unknown-linux-gnu";

/// A directory tree `ws/crate` with cargo config files, and a CARGO_HOME beside it.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ws/crate/.cargo")).unwrap();
        std::fs::create_dir_all(dir.path().join("ws/.cargo")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Tree { dir }
    }

    fn write(&self, relative: &str, text: &str) {
        std::fs::write(self.dir.path().join(relative), text).unwrap();
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// The target's runner seen from `ws/crate` with these variables.
    fn runner(
        &self,
        target: Option<&str>,
        vars: &[(&str, &str)],
    ) -> Result<Option<TargetRunner>, String> {
        self.runners(target, vars).map(|r| r.target)
    }

    /// The runners seen from `ws/crate` with these variables (CARGO_HOME set to `home`).
    fn runners(&self, target: Option<&str>, vars: &[(&str, &str)]) -> Result<Runners, String> {
        let mut env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.insert("CARGO_HOME".into(), self.path("home").display().to_string());
        let runner_variables = env.keys().any(|k| k.ends_with("_RUNNER"));
        let lookup = |name: &str| env.get(name).cloned();
        let cwd = self.path("ws/crate");
        let around = Surroundings {
            cwd: &cwd,
            env: &lookup,
            runner_variables,
            host: &|| Ok(HOST.to_string()),
            cfg: &|triple| {
                let os = if triple.contains("windows") {
                    "windows"
                } else {
                    "linux"
                };
                Ok(vec![
                    Cfg::from_str(&format!("target_os=\"{os}\"")).unwrap(),
                    Cfg::from_str(if os == "linux" { "unix" } else { "windows" }).unwrap(),
                ])
            },
        };
        target_runners(target, &around)
    }
}

fn argv(runner: Option<TargetRunner>) -> Vec<String> {
    runner.map(|r| r.argv).unwrap_or_default()
}

#[test]
fn nothing_configured_asks_rustc_nothing() {
    let tree = Tree::new();
    let cwd = tree.path("ws/crate");
    let around = Surroundings {
        cwd: &cwd,
        env: &|_| None,
        runner_variables: false,
        host: &|| panic!("rustc asked for the host"),
        cfg: &|_| panic!("rustc asked for cfg"),
    };
    assert_eq!(target_runners(None, &around), Ok(Runners::default()));
}

#[test]
fn the_nearest_file_wins_and_the_variable_wins_over_files() {
    let tree = Tree::new();
    tree.write(
        "home/config.toml",
        &format!("[target.{HOST}]\nrunner = \"home-runner\"\n"),
    );
    assert_eq!(argv(tree.runner(None, &[]).unwrap()), ["home-runner"]);
    tree.write(
        "ws/.cargo/config.toml",
        &format!("[target.{HOST}]\nrunner = [\"ws-runner\", \"--flag\"]\n"),
    );
    let runner = tree.runner(None, &[]).unwrap().unwrap();
    assert_eq!(runner.argv, ["ws-runner", "--flag"]);
    assert!(runner
        .origin
        .ends_with(&format!("ws/.cargo/config.toml: target.{HOST}.runner")));
    // The older name `config`, nearer still; a string is split at whitespace, as cargo does.
    tree.write(
        "ws/crate/.cargo/config",
        &format!("[target.{HOST}]\nrunner = \"tools/run  -q\"\n"),
    );
    let expected = tree.path("ws/crate/tools/run").display().to_string();
    assert_eq!(
        argv(tree.runner(None, &[]).unwrap()),
        [expected.as_str(), "-q"]
    );
    let variable = "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER";
    let runner = tree
        .runner(None, &[(variable, "env-runner a b")])
        .unwrap()
        .unwrap();
    assert_eq!(runner.argv, ["env-runner", "a", "b"]);
    assert_eq!(runner.origin, variable);
}

#[test]
fn the_target_chooses_the_setting() {
    let tree = Tree::new();
    tree.write(
        "ws/.cargo/config.toml",
        "[target.aarch64-unknown-linux-gnu]\nrunner = \"qemu-aarch64\"\n",
    );
    assert_eq!(tree.runner(None, &[]), Ok(None), "the host has no runner");
    let aarch64 = Some("aarch64-unknown-linux-gnu");
    assert_eq!(argv(tree.runner(aarch64, &[]).unwrap()), ["qemu-aarch64"]);
    // Proc-macro tests are built for the host: the host's runner, if any, not the target's.
    assert_eq!(tree.runners(aarch64, &[]).unwrap().host, None);
    let host = [(
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER",
        "host-runner",
    )];
    let runners = tree.runners(aarch64, &host).unwrap();
    assert_eq!(argv(runners.host), ["host-runner"]);
    assert_eq!(argv(runners.target), ["qemu-aarch64"]);
    let build = [("CARGO_BUILD_TARGET", "aarch64-unknown-linux-gnu")];
    assert_eq!(argv(tree.runner(None, &build).unwrap()), ["qemu-aarch64"]);
    tree.write(
        "ws/crate/.cargo/config.toml",
        "[build]\ntarget = \"aarch64-unknown-linux-gnu\"\n",
    );
    assert_eq!(argv(tree.runner(None, &[]).unwrap()), ["qemu-aarch64"]);
    tree.write(
        "ws/crate/.cargo/config.toml",
        "[build]\ntarget = [\"a\", \"b\"]\n",
    );
    let err = tree.runner(None, &[]).unwrap_err();
    assert!(
        err.contains("names 2 targets") && err.contains("--target"),
        "{err}"
    );
}

#[test]
fn cfg_runners_match_the_targets_cfg_and_yield_to_the_triple() {
    let tree = Tree::new();
    tree.write(
        "ws/.cargo/config.toml",
        "[target.'cfg(windows)']\nrunner = \"wine\"\n\
         [target.'cfg(target_os = \"linux\")']\nrunner = [\"linux-runner\"]\n",
    );
    assert_eq!(argv(tree.runner(None, &[]).unwrap()), ["linux-runner"]);
    assert_eq!(
        argv(tree.runner(Some("x86_64-pc-windows-gnu"), &[]).unwrap()),
        ["wine"]
    );
    tree.write(
        "ws/crate/.cargo/config.toml",
        &format!("[target.{HOST}]\nrunner = \"exact\"\n"),
    );
    assert_eq!(argv(tree.runner(None, &[]).unwrap()), ["exact"]);
    tree.write(
        "ws/crate/.cargo/config.toml",
        "[target.'cfg(unix)']\nrunner = \"second\"\n",
    );
    let err = tree.runner(None, &[]).unwrap_err();
    assert!(
        err.contains("several") && err.contains("cfg(unix)"),
        "{err}"
    );
}

#[test]
fn bad_settings_name_the_file() {
    let tree = Tree::new();
    tree.write(
        "ws/.cargo/config.toml",
        &format!("[target.{HOST}]\nrunner = 3\n"),
    );
    let err = tree.runner(None, &[]).unwrap_err();
    assert!(
        err.contains("ws/.cargo/config.toml: target.") && err.contains("expected a program"),
        "{err}"
    );
    tree.write("ws/.cargo/config.toml", "[target\n");
    let err = tree.runner(None, &[]).unwrap_err();
    assert!(
        err.starts_with("cannot read cargo's config") && !err.contains('\n'),
        "{err}"
    );
}
