//! `runner archive`: pack what a run of the built tests needs into one zstd-compressed tar:
//! the test binaries, the binaries their tests reach through `CARGO_BIN_EXE_<name>`, their
//! packages' build-script output directories (`OUT_DIR`), the dynamic libraries beside them in
//! the target directory (`deps/*.so` and the like, as cargo puts that directory on the library
//! path), and the manifest.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::manifest::{ArchivedValue, Manifest, Roots, MANIFEST, TARGET};
use crate::files;
use crate::model::TargetKind;
use crate::plan::discover::Discovered;

/// zstd's default level: a fast build job and a small artifact.
const LEVEL: i32 = 3;

/// What went into an archive.
#[derive(Debug)]
pub struct Packed {
    pub binaries: usize,
    pub files: usize,
    pub bytes: u64,
}

/// The target directory's files and directories to pack, relative to it.
#[derive(Default)]
struct Contents {
    files: BTreeSet<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

/// Pack the binaries cargo built (`discovered`) into `file`, written whole or not at all.
pub fn pack(discovered: &Discovered, file: &Path) -> Result<Packed> {
    let roots = Roots {
        workspace: discovered
            .workspace_root
            .clone()
            .context("an archive needs binaries built by cargo")?,
        target: discovered
            .target_dir
            .clone()
            .context("an archive needs cargo's target directory")?,
    };
    if let Some(doc) = discovered
        .binaries
        .iter()
        .find(|b| b.kind == TargetKind::Doc)
    {
        anyhow::bail!("{} holds doctests, which an archive cannot hold", doc.id);
    }
    let manifest = Manifest::new(&discovered.binaries, &roots)?;
    let contents = contents(&manifest, &roots.target)?;
    let text = serde_json::to_vec_pretty(&manifest).context("serialising the manifest")?;
    files::write_atomically(file, |out| {
        write_archive(out, &text, &contents, &roots.target)
            .with_context(|| format!("writing the archive {}", file.display()))
    })?;
    let bytes = std::fs::metadata(file).map_or(0, |m| m.len());
    Ok(Packed {
        binaries: manifest.binaries.len(),
        files: contents.files.len() + contents.dirs.len() + 1,
        bytes,
    })
}

fn write_archive(
    out: &mut dyn Write,
    manifest: &[u8],
    contents: &Contents,
    target: &Path,
) -> Result<()> {
    let encoder = zstd::Encoder::new(out, LEVEL)?;
    let mut tar = tar::Builder::new(encoder);
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST, manifest)?;
    let inside = Path::new(TARGET);
    for dir in &contents.dirs {
        tar.append_dir_all(inside.join(dir), target.join(dir))
            .with_context(|| format!("packing {}", target.join(dir).display()))?;
    }
    for file in &contents.files {
        tar.append_path_with_name(target.join(file), inside.join(file))
            .with_context(|| format!("packing {}", target.join(file).display()))?;
    }
    tar.into_inner()?.finish()?;
    Ok(())
}

/// Every file a run of the manifest's binaries reads from the target directory.
fn contents(manifest: &Manifest, target: &Path) -> Result<Contents> {
    let mut contents = Contents::default();
    let mut library_dirs = BTreeSet::new();
    for binary in &manifest.binaries {
        let path = PathBuf::from(&binary.path);
        if let Some(deps) = path.parent() {
            library_dirs.insert(deps.to_path_buf());
            library_dirs.extend(deps.parent().map(Path::to_path_buf));
        }
        contents.files.insert(path);
        for (key, value) in &binary.env {
            let ArchivedValue::Target(rest) = value else {
                continue;
            };
            if key.starts_with("CARGO_BIN_EXE_") {
                contents.files.insert(PathBuf::from(rest));
            } else if key == "OUT_DIR" && target.join(rest).is_dir() {
                contents.dirs.insert(PathBuf::from(rest));
            }
        }
    }
    for dir in library_dirs {
        let entries = std::fs::read_dir(target.join(&dir))
            .with_context(|| format!("reading {}", target.join(&dir).display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_dynamic_library(&name) && entry.path().is_file() {
                contents.files.insert(dir.join(name));
            }
        }
    }
    Ok(contents)
}

/// `libfoo-1a2b.so`, `libbar.so.1`, `libbaz.dylib`, `qux.dll`.
fn is_dynamic_library(name: &str) -> bool {
    name.ends_with(".so")
        || name.contains(".so.")
        || name.ends_with(".dylib")
        || name.ends_with(".dll")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_libraries_by_name() {
        for yes in ["libfoo-1a2b.so", "libbar.so.1", "libbaz.dylib", "qux.dll"] {
            assert!(is_dynamic_library(yes), "{yes}");
        }
        for no in ["foo-1a2b", "libfoo.rlib", "foo.d", "libsolid.rmeta"] {
            assert!(!is_dynamic_library(no), "{no}");
        }
    }
}
