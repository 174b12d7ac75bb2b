//! What an archive says of its binaries (`runner-archive.json` at its root): ids, packages,
//! kinds, working directories and environments, every path relative to the workspace or to the
//! target directory, so that the archive runs wherever it is unpacked and the sources checked
//! out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::model::{TargetKind, TestBinary};

/// The manifest's name inside the archive.
pub const MANIFEST: &str = "runner-archive.json";
/// Where the target directory's files lie inside the archive.
pub const TARGET: &str = "target";
const FORMAT: &str = "runner-archive";
const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    format: String,
    version: u32,
    /// The runner that wrote it, for the error when another cannot read it.
    runner_version: String,
    pub binaries: Vec<ArchivedBinary>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ArchivedBinary {
    pub id: String,
    /// Relative to the target directory.
    pub path: String,
    pub package: Option<String>,
    pub target_name: String,
    pub kind: TargetKind,
    /// Relative to the workspace root.
    pub cwd: String,
    pub custom_harness: bool,
    pub env: BTreeMap<String, ArchivedValue>,
}

/// An environment value: a path under the target directory or the workspace, or as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArchivedValue {
    Target(String),
    Workspace(String),
    Value(String),
}

/// The two directories an archive's paths are relative to.
pub struct Roots {
    pub workspace: PathBuf,
    pub target: PathBuf,
}

impl Roots {
    /// `value` relative to the target directory, else to the workspace (the target directory
    /// usually lies inside the workspace: it is tried first), else as it is.
    pub fn archive_value(&self, value: &str) -> ArchivedValue {
        let path = Path::new(value);
        let relative = |root: &Path| {
            let rest = path.strip_prefix(root).ok()?;
            rest.to_str().map(str::to_string)
        };
        if let Some(rest) = relative(&self.target) {
            ArchivedValue::Target(rest)
        } else if let Some(rest) = relative(&self.workspace) {
            ArchivedValue::Workspace(rest)
        } else {
            ArchivedValue::Value(value.to_string())
        }
    }

    pub fn resolve(&self, value: &ArchivedValue) -> PathBuf {
        match value {
            ArchivedValue::Target(rest) => self.target.join(rest),
            ArchivedValue::Workspace(rest) => self.workspace.join(rest),
            ArchivedValue::Value(value) => PathBuf::from(value),
        }
    }
}

impl Manifest {
    /// A manifest of no binaries, by this runner.
    pub fn empty() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            runner_version: env!("CARGO_PKG_VERSION").into(),
            binaries: Vec::new(),
        }
    }

    /// The manifest of `binaries`: their paths must lie in the target directory, their
    /// working directories in the workspace. `LD_LIBRARY_PATH` is the build machine's: it is
    /// set again where the archive is unpacked.
    pub fn new(binaries: &[std::sync::Arc<TestBinary>], roots: &Roots) -> Result<Manifest> {
        let mut archived = Vec::new();
        for binary in binaries {
            let inside = |path: &Path, root: &Path, what: &str| {
                let rest = path.strip_prefix(root).with_context(|| {
                    format!(
                        "{} of {} ({}) is not inside the {what} {}",
                        if what == "workspace" {
                            "the package directory"
                        } else {
                            "the binary"
                        },
                        binary.id,
                        path.display(),
                        root.display()
                    )
                })?;
                Ok::<_, anyhow::Error>(rest.to_string_lossy().into_owned())
            };
            let env = binary
                .env
                .iter()
                .filter(|(key, _)| key.as_str() != "LD_LIBRARY_PATH")
                .map(|(key, value)| (key.clone(), roots.archive_value(value)))
                .collect();
            archived.push(ArchivedBinary {
                id: binary.id.clone(),
                path: inside(&binary.path, &roots.target, "target directory")?,
                package: binary.package.clone(),
                target_name: binary.target_name.clone(),
                kind: binary.kind.clone(),
                cwd: inside(&binary.cwd, &roots.workspace, "workspace")?,
                custom_harness: binary.custom_harness,
                env,
            });
        }
        Ok(Manifest {
            binaries: archived,
            ..Manifest::empty()
        })
    }

    /// Read the manifest of an unpacked archive.
    pub fn read(dir: &Path, archive: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} holds no {MANIFEST}: it is not an archive made by `runner archive`",
                archive.display()
            )
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("the {MANIFEST} of {} is damaged", archive.display()))?;
        if manifest.format != FORMAT || manifest.version != VERSION {
            anyhow::bail!(
                "{} is an archive of another version ({} {}, written by runner {}); make it \
                 again with this runner's `runner archive`",
                archive.display(),
                manifest.format,
                manifest.version,
                manifest.runner_version
            );
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_relative_to_the_target_first_then_the_workspace() {
        let roots = Roots {
            workspace: "/ws".into(),
            target: "/ws/target".into(),
        };
        let value = roots.archive_value("/ws/target/debug/app");
        assert_eq!(value, ArchivedValue::Target("debug/app".into()));
        assert_eq!(
            roots.archive_value("/ws/crates/a"),
            ArchivedValue::Workspace("crates/a".into())
        );
        assert_eq!(
            roots.archive_value("1.2.3"),
            ArchivedValue::Value("1.2.3".into())
        );
        let moved = Roots {
            workspace: "/elsewhere/src".into(),
            target: "/tmp/x/target".into(),
        };
        assert_eq!(
            moved.resolve(&value),
            PathBuf::from("/tmp/x/target/debug/app")
        );
    }
}
