//! `runner archive`: pack what a run of the built tests needs into one zstd-compressed tar:
//! the test binaries, the binaries their tests reach through `CARGO_BIN_EXE_<name>`, their
//! packages' build-script output directories (`OUT_DIR`), the dynamic libraries cargo built
//! (`dylib` and `cdylib` crates, in `deps/` beside the tests, which is on their library path)
//! and those in the directories build scripts link from, and the manifest.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::manifest::{ArchivedValue, Manifest, Roots, MANIFEST, TARGET};
use crate::files;
use crate::model::TargetKind;
use crate::plan::discover::{is_dynamic_library, Discovered};

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
    let contents = contents(&manifest, &discovered.libraries, &roots.target)?;
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
fn contents(manifest: &Manifest, libraries: &[PathBuf], target: &Path) -> Result<Contents> {
    let mut contents = Contents::default();
    for binary in &manifest.binaries {
        contents.files.insert(PathBuf::from(&binary.path));
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
    // Libraries elsewhere (a system's, the toolchain's) are the machine's to provide.
    for library in libraries {
        let Ok(inside) = library.strip_prefix(target) else {
            continue;
        };
        if library.is_file() {
            contents.files.insert(inside.to_path_buf());
            continue;
        }
        let Ok(entries) = std::fs::read_dir(library) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if is_dynamic_library(&path) && path.is_file() {
                contents.files.insert(inside.join(entry.file_name()));
            }
        }
    }
    Ok(contents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TargetKind;
    use crate::plan::archive::manifest::ArchivedBinary;

    #[test]
    fn libraries_inside_the_target_are_packed_and_proc_macros_are_not_named() {
        let target = tempfile::tempdir().unwrap();
        let deps = target.path().join("debug/deps");
        let linked = target.path().join("debug/build/sys-1/out");
        std::fs::create_dir_all(&deps).unwrap();
        std::fs::create_dir_all(&linked).unwrap();
        for file in ["t-1", "libdy-2.so", "libserde_derive-3.so"] {
            std::fs::write(deps.join(file), "").unwrap();
        }
        for file in ["libnative.so.1", "libnative.a"] {
            std::fs::write(linked.join(file), "").unwrap();
        }
        let mut manifest = Manifest::empty();
        manifest.binaries.push(ArchivedBinary {
            id: "t".into(),
            path: "debug/deps/t-1".into(),
            package: None,
            target_name: "t".into(),
            kind: TargetKind::Test,
            cwd: String::new(),
            custom_harness: false,
            env: Default::default(),
        });
        let libraries = [deps.join("libdy-2.so"), linked.clone(), "/usr/lib".into()];
        let contents = contents(&manifest, &libraries, target.path()).unwrap();
        let files: Vec<String> = contents
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        assert_eq!(
            files,
            [
                "debug/build/sys-1/out/libnative.so.1",
                "debug/deps/libdy-2.so",
                "debug/deps/t-1"
            ]
        );
    }
}
