//! `runner --archive-file FILE [--workspace-remap DIR]`: unpack an archive and give its
//! binaries as discovery would on the build machine, each with its package's directory under
//! DIR as working directory and the same environment, its paths remapped.

use crate::filter::KnownNames;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};

use super::manifest::{Manifest, Roots, TARGET};
use crate::cli::ArchiveSource;
use crate::model::TestBinary;
use crate::plan::discover::{library_path, DiscoverError, Discovered};

/// The archive's binaries, unpacked into `--extract-to` or a temporary directory (held by
/// the result, so that it lives as long as the run).
pub fn unpack(source: &ArchiveSource) -> Result<Discovered, DiscoverError> {
    let (dir, temporary) = match &source.extract_to {
        Some(dir) => (dir.clone(), None),
        None => {
            let temporary = tempfile::Builder::new()
                .prefix("runner-archive-")
                .tempdir()
                .context("creating a directory to unpack the archive in")?;
            (temporary.path().to_path_buf(), Some(temporary))
        }
    };
    extract(&source.file, &dir).map_err(DiscoverError::Archive)?;
    let manifest = Manifest::read(&dir, &source.file).map_err(DiscoverError::Archive)?;
    let roots = Roots {
        workspace: source.workspace.clone(),
        target: dir.join(TARGET),
    };
    let tmp = roots.target.join("tmp");
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut binaries = Vec::new();
    for archived in manifest.binaries {
        let cwd = roots.workspace.join(&archived.cwd);
        if !cwd.is_dir() {
            return Err(DiscoverError::Usage(Some(format!(
                "the package directory {} of {} is not there: give --workspace-remap the \
                 checkout of the archived workspace",
                cwd.display(),
                archived.id
            ))));
        }
        let path = roots.target.join(&archived.path);
        let mut env: std::collections::BTreeMap<String, String> = archived
            .env
            .iter()
            .map(|(key, value)| (key.clone(), roots.resolve(value).to_string_lossy().into()))
            .collect();
        if let Some(dir) = path.parent() {
            // No compiler where an archive runs, so a proc-macro crate's tests cannot be given
            // the toolchain's libstd as a normal run gives them.
            env.insert("LD_LIBRARY_PATH".into(), library_path(dir, false));
        }
        binaries.push(Arc::new(TestBinary {
            id: archived.id,
            path,
            package: archived.package,
            target_name: archived.target_name,
            kind: archived.kind,
            cwd,
            env,
            custom_harness: archived.custom_harness,
        }));
    }
    binaries.sort_by(|a, b| a.id.cmp(&b.id));
    // An archive holds only the packages that have tests, so package names are not checked
    // (a package without tests would be called unknown); its binaries are all there.
    let names = KnownNames {
        packages: Vec::new(),
        binaries: binaries.iter().map(|b| b.target_name.clone()).collect(),
    };
    Ok(Discovered {
        binaries,
        names,
        target_dir: Some(roots.target),
        workspace_root: Some(roots.workspace),
        unpacked: temporary,
        ..Discovered::default()
    })
}

fn extract(file: &Path, dir: &Path) -> Result<()> {
    let shown = file.display();
    let archive = std::fs::File::open(file).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the archive {shown}: {e}; make one with `runner archive \
             --archive-file {shown}`"
        )
    })?;
    let decoder = zstd::Decoder::new(archive)
        .with_context(|| format!("{shown} is not a zstd-compressed archive"))?;
    // A file that is not an archive fails here, as the first frame is read.
    tar::Archive::new(decoder).unpack(dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot unpack {shown} into {} ({e}); pass a file `runner archive --archive-file \
             FILE` made",
            dir.display()
        )
    })
}
