//! The environment `cargo test` gives a test binary beyond its own variables: the dynamic
//! library path (the deps directory, and the compiler's libraries for a proc-macro crate) and a
//! package's `CARGO_PKG_*` variables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cargo_metadata::camino::Utf8PathBuf;
use cargo_metadata::Package;

/// The compiler's host library directory (`rustc --print target-libdir`), asked once.
fn host_libdir() -> Option<PathBuf> {
    static DIR: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let out = Command::new(rustc)
            .args(["--print", "target-libdir"])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let dir = String::from_utf8(out.stdout).ok()?;
        out.status.success().then(|| PathBuf::from(dir.trim()))
    })
    .clone()
}

/// `libfoo-1a2b.so`, `libbar.so.1`, `libbaz.dylib`, `qux.dll`: not the `.rlib` or `.a` of a
/// crate built as several kinds at once.
pub(in crate::plan) fn is_dynamic_library(path: &Path) -> bool {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    name.ends_with(".so")
        || name.contains(".so.")
        || name.ends_with(".dylib")
        || name.ends_with(".dll")
}

/// cargo puts the deps directory on the dynamic library path so dylib dependencies load, and
/// for a proc-macro crate the compiler's own libraries (its `libstd-*.so`).
pub(in crate::plan) fn library_path(exe_dir: &Path, proc_macro: bool) -> String {
    let mut parts = vec![exe_dir.to_path_buf()];
    if let Some(parent) = exe_dir.parent() {
        parts.push(parent.to_path_buf());
    }
    if proc_macro {
        parts.extend(host_libdir());
    }
    if let Some(existing) = std::env::var_os("LD_LIBRARY_PATH") {
        parts.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(parts)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `CARGO_PKG_*` variables cargo sets for a package.
pub(super) fn package_env(package: &Package, env: &mut BTreeMap<String, String>) {
    let version = package.version.to_string();
    let (major, minor, patch, pre) = split_version(&version);
    let mut set = |key: &str, value: &str| {
        env.insert(format!("CARGO_PKG_{key}"), value.to_string());
    };
    set("NAME", &package.name);
    set("VERSION", &version);
    set("VERSION_MAJOR", major);
    set("VERSION_MINOR", minor);
    set("VERSION_PATCH", patch);
    set("VERSION_PRE", pre);
    set("AUTHORS", &package.authors.join(":"));
    let path = |p: &Option<Utf8PathBuf>| p.as_ref().map(|p| p.to_string());
    let optional = [
        ("DESCRIPTION", package.description.clone()),
        ("HOMEPAGE", package.homepage.clone()),
        ("REPOSITORY", package.repository.clone()),
        ("LICENSE", package.license.clone()),
        ("LICENSE_FILE", path(&package.license_file)),
        (
            "RUST_VERSION",
            package.rust_version.as_ref().map(|v| v.to_string()),
        ),
        ("README", path(&package.readme)),
    ];
    for (key, value) in optional {
        set(key, value.as_deref().unwrap_or(""));
    }
}

/// `1.2.3-beta.1+build` → ("1", "2", "3", "beta.1").
fn split_version(version: &str) -> (&str, &str, &str, &str) {
    let version = version.split('+').next().unwrap_or(version);
    let (core, pre) = version.split_once('-').unwrap_or((version, ""));
    let mut parts = core.splitn(3, '.');
    let major = parts.next().unwrap_or("");
    let minor = parts.next().unwrap_or("");
    let patch = parts.next().unwrap_or("");
    (major, minor, patch, pre)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_libraries_by_name() {
        for yes in ["libfoo-1a2b.so", "libbar.so.1", "libbaz.dylib", "qux.dll"] {
            assert!(is_dynamic_library(Path::new(yes)), "{yes}");
        }
        for no in ["foo-1a2b", "libfoo.rlib", "libfoo.a", "libsolid.rmeta"] {
            assert!(!is_dynamic_library(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn version_parts() {
        assert_eq!(split_version("1.2.3"), ("1", "2", "3", ""));
        assert_eq!(
            split_version("0.10.0-beta.1+abc"),
            ("0", "10", "0", "beta.1")
        );
    }
}
