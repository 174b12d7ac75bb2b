//! What rustup itself does, as a check on a route before it is kept or taken. The routes live in
//! the user's cache directory, which CI systems save and restore between jobs (often for jobs
//! of other branches), and a route says which program to start and with what environment: a
//! `CARGO_HOME` elsewhere brings another `config.toml` (and its `rustc-wrapper`), a library
//! directory elsewhere brings other libraries. So a route counts only when it is what rustup
//! does here: the cargo of a toolchain installed under rustup's home, started with rustup's
//! own variables, each with the value rustup gives it. Anything else is neither kept nor taken,
//! and the build goes through the proxy, as without a route.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where rustup and cargo live here, and the library path the runner was given.
#[derive(Debug)]
pub(super) struct Homes {
    rustup: PathBuf,
    cargo: PathBuf,
    library_path: Vec<PathBuf>,
}

impl Homes {
    /// As the environment says (`RUSTUP_HOME`, `CARGO_HOME`, else their defaults under `HOME`).
    pub(super) fn now() -> Option<Homes> {
        let var = |name: &str| std::env::var_os(name).map(PathBuf::from);
        let library_path = std::env::var_os("LD_LIBRARY_PATH")
            .map(|paths| std::env::split_paths(&paths).map(canonical).collect())
            .unwrap_or_default();
        Some(Homes {
            rustup: canonical(super::home_dir(var, "RUSTUP_HOME", ".rustup")?),
            cargo: canonical(super::home_dir(var, "CARGO_HOME", ".cargo")?),
            library_path,
        })
    }

    /// Whether starting `cargo` with the variables `env` changes is what rustup does here.
    pub(super) fn allow(&self, cargo: &Path, env: &BTreeMap<String, Option<String>>) -> bool {
        let Some(toolchain) = self.toolchain_of(cargo) else {
            return false;
        };
        let libraries = self.rustup.join("toolchains").join(&toolchain).join("lib");
        let word = |value: &str, allowed: fn(char) -> bool| {
            !value.is_empty() && value.chars().all(allowed)
        };
        env.iter().all(|(name, value)| {
            let Some(value) = value else {
                return false;
            };
            match name.as_str() {
                "RUSTUP_TOOLCHAIN" => *value == toolchain,
                "RUSTUP_HOME" => canonical(value.into()) == self.rustup,
                "CARGO_HOME" => canonical(value.into()) == self.cargo,
                "RUSTUP_TOOLCHAIN_SOURCE" => word(value, |c| c.is_ascii_alphanumeric() || c == '-'),
                "RUST_RECURSION_COUNT" => word(value, |c| c.is_ascii_digit()),
                "LD_LIBRARY_PATH" => std::env::split_paths(value)
                    .map(canonical)
                    .all(|dir| dir == libraries || self.library_path.contains(&dir)),
                _ => false,
            }
        })
    }

    /// The toolchain `cargo` is the cargo of: `<rustup home>/toolchains/<name>/bin/cargo`.
    fn toolchain_of(&self, cargo: &Path) -> Option<String> {
        let bin = cargo.parent()?;
        let dir = bin.parent()?;
        let name = dir.file_name()?.to_str()?;
        let laid_out = cargo.file_name()? == "cargo"
            && bin.file_name()? == "bin"
            && dir.parent()? == self.rustup.join("toolchains");
        (laid_out && canonical(cargo.to_path_buf()) == cargo).then(|| name.to_string())
    }
}

/// `path` with its symlinks resolved, when it exists.
fn canonical(path: PathBuf) -> PathBuf {
    std::fs::canonicalize(&path).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn homes(dir: &Path) -> (Homes, PathBuf) {
        let dir = canonical(dir.to_path_buf());
        let bin = dir.join("rustup/toolchains/stable-x/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(dir.join("cargo-home")).unwrap();
        std::fs::write(bin.join("cargo"), "").unwrap();
        let homes = Homes {
            rustup: dir.join("rustup"),
            cargo: dir.join("cargo-home"),
            library_path: vec![PathBuf::from("/opt/mine")],
        };
        (homes, bin.join("cargo"))
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, Option<String>> {
        (pairs.iter())
            .map(|(name, value)| (name.to_string(), Some(value.to_string())))
            .collect()
    }

    #[test]
    fn what_rustup_sets_is_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let (homes, cargo) = homes(dir.path());
        let rustup = homes.rustup.display().to_string();
        let library = format!("{rustup}/toolchains/stable-x/lib:/opt/mine");
        let set = env(&[
            ("RUSTUP_TOOLCHAIN", "stable-x"),
            ("RUSTUP_HOME", &rustup),
            ("CARGO_HOME", &homes.cargo.display().to_string()),
            ("RUSTUP_TOOLCHAIN_SOURCE", "default"),
            ("RUST_RECURSION_COUNT", "1"),
            ("LD_LIBRARY_PATH", &library),
        ]);
        assert!(homes.allow(&cargo, &set));
    }

    #[test]
    fn anything_else_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let (homes, cargo) = homes(dir.path());
        let refused = |changed: &[(&str, &str)]| !homes.allow(&cargo, &env(changed));
        assert!(refused(&[("CARGO_TARGET_DIR", "/tmp/t")]));
        assert!(refused(&[("CARGO_HOME", "/tmp/elsewhere")]));
        assert!(refused(&[("RUSTUP_TOOLCHAIN", "nightly")]));
        assert!(refused(&[("LD_LIBRARY_PATH", "/tmp/libs")]));
        assert!(refused(&[("RUST_RECURSION_COUNT", "1; x")]));
        let mut removed = BTreeMap::new();
        removed.insert("RUSTUP_HOME".to_string(), None);
        assert!(!homes.allow(&cargo, &removed));
        // Another program, or a cargo outside rustup's toolchains.
        let sh = PathBuf::from("/bin/sh");
        assert!(!homes.allow(&sh, &BTreeMap::new()));
        let escape = homes.rustup.join("toolchains/../../elsewhere/bin/cargo");
        assert!(!homes.allow(&escape, &BTreeMap::new()));
        assert!(homes.allow(&cargo, &BTreeMap::new()));
    }
}
