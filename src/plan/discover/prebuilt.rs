//! Discovery of test binaries given as paths (`--binary`): built elsewhere, run from the
//! current directory with no cargo environment.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use super::{DiscoverError, Discovered};
use crate::filter::KnownNames;
use crate::model::{binary_id, TargetKind, TestBinary};

/// Prebuilt binaries: run from the current directory, with no cargo environment.
pub fn from_paths(paths: &[PathBuf]) -> Result<Discovered, DiscoverError> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let mut binaries = Vec::new();
    let mut seen = HashSet::new();
    for given in paths {
        // A path that cannot run is a mistake on the command line: nothing runs.
        let path = check_executable(given).map_err(|why| DiscoverError::Usage(Some(why)))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut id = binary_id("", &TargetKind::Prebuilt, &name);
        let mut n = 2;
        while !seen.insert(id.clone()) {
            id = format!("{name}#{n}");
            n += 1;
        }
        binaries.push(Arc::new(TestBinary {
            id,
            path,
            package: None,
            target_name: name,
            kind: TargetKind::Prebuilt,
            cwd: cwd.clone(),
            env: BTreeMap::new(),
            custom_harness: false,
        }));
    }
    Ok(Discovered {
        names: KnownNames {
            packages: Vec::new(),
            binaries: binaries.iter().map(|b| b.target_name.clone()).collect(),
        },
        binaries,
        ..Discovered::default()
    })
}

fn check_executable(path: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        format!("test binary '{shown}' cannot be read ({e}); check the path given to --binary")
    })?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(format!(
            "test binary '{shown}' is not an executable file; give --binary the path of a built test binary"
        ));
    }
    path.canonicalize()
        .map_err(|e| format!("test binary '{shown}' cannot be resolved: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_is_one_clear_line() {
        let err = from_paths(&["/bin/sh".into(), "/nonexistent/test-bin".into()]).unwrap_err();
        let DiscoverError::Usage(Some(why)) = err else {
            panic!("not a usage error: {err:?}")
        };
        assert!(why.contains("/nonexistent/test-bin") && !why.contains('\n'));
    }
}
