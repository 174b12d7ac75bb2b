//! The files runner leaves for people and tools: how they are written and how they are named.
//!
//! [`write_atomically`] is the one way a report or the history is written. A regular file (or
//! one that does not exist yet) is replaced atomically: the bytes go to a temporary file of
//! runner's own (`.runner-tmp-*`) in the same directory, which is then renamed over it, so a
//! reader never sees half a file; the file gets the permissions any new file gets (0666 less
//! the umask), because CI artifact uploads often read it as another user. A symlink is
//! followed, and kept: its target is what gets replaced. Anything that is not a regular file (a
//! FIFO, a terminal or other device, `/dev/stdout` and the other descriptor links of `/proc`)
//! is written where it is: renaming over it would replace the pipe or device with a plain file.
//!
//! [`remove_stale_temporaries`] removes what a writer killed mid-write left behind, and
//! [`file_name_for`] gives log files names that two tests never share.
//!
//! This is the one home of `tempfile` outside tests.

use std::fs::{DirEntry, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// What every temporary file of runner's name starts with: a leftover is recognisably ours, so
/// cleaning up never touches another program's file.
pub const TEMP_PREFIX: &str = ".runner-tmp-";

/// A temporary file untouched for this long belongs to a writer that died. A write takes
/// milliseconds (a second for a history of tens of MB), and a live writer keeps the file's
/// modification time fresh as it writes; a fresh file may be another run's write in progress.
pub const STALE_AFTER: Duration = Duration::from_secs(10 * 60);

/// The permissions asked for a new file; the kernel takes the umask away (0644 under 022).
const NEW_FILE_MODE: u32 = 0o666;

/// How many symlinks are followed before giving up (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// How much of a name is kept readable in a file name: with the hash and the suffixes, the
/// name stays well under the 255 bytes a file name may have.
const READABLE_BYTES: usize = 100;

/// Where the bytes of a write go.
#[derive(Debug, PartialEq)]
enum Destination {
    /// The runner's own stdout or stderr, reached through `/dev/stdout`, `/dev/fd/1` and the
    /// like: written through the runner's handle, so the report comes after what was printed
    /// there already, whatever the stream is (a pipe, a terminal, a file).
    Stdout,
    Stderr,
    /// A FIFO, a device, a socket or another descriptor link: opened and written in place
    /// (appended to, for a regular file reached through a descriptor link).
    InPlace,
    /// A regular file, or no file yet: at the end of any symlinks, replaced atomically.
    Replace(PathBuf),
}

/// What tells one version of a file from another: a rebuilt binary, an edited manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    size: u64,
    modified_secs: i64,
    modified_nanos: i64,
    inode: u64,
}

impl Identity {
    pub fn of(path: &Path) -> Option<Identity> {
        Some(Identity::from(&std::fs::metadata(path).ok()?))
    }

    /// The identity of an open file (the one its contents come from).
    pub fn from(meta: &std::fs::Metadata) -> Identity {
        Identity {
            size: meta.len(),
            modified_secs: meta.mtime(),
            modified_nanos: meta.mtime_nsec(),
            inode: meta.ino(),
        }
    }
}

/// Write `path` with what `write` produces, as the module doc says: atomically for a regular
/// file, in place for a special one. The error names the path.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let written = match destination(path) {
        Ok(Destination::Stdout) => write_to(io::stdout().lock(), write),
        Ok(Destination::Stderr) => write_to(io::stderr().lock(), write),
        Ok(Destination::InPlace) => OpenOptions::new()
            .append(true)
            .open(path)
            .context("opening it for writing")
            .and_then(|file| write_to(file, write)),
        Ok(Destination::Replace(target)) => replace(&target, write),
        Err(e) => Err(anyhow::Error::from(e).context("resolving its symlinks")),
    };
    written.with_context(|| format!("cannot write {}", path.display()))
}

/// Write to an open stream, buffered (serialisers make many small writes), and flush.
fn write_to(stream: impl Write, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let mut writer = BufWriter::new(stream);
    write(&mut writer)?;
    writer.flush()?;
    Ok(())
}

/// Write a temporary file beside `target`, then rename it over `target`. Stale temporaries of
/// earlier writers in that directory go first.
fn replace(target: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    remove_stale_temporaries(dir);
    let mut file = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(std::fs::Permissions::from_mode(NEW_FILE_MODE))
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    write_to(file.as_file_mut(), write)?;
    // On an error the temporary file is removed when `file` is dropped.
    file.persist(target)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming the temporary file to {}", target.display()))?;
    Ok(())
}

/// Follow `path`'s symlinks to what a write must do with it.
fn destination(path: &Path) -> io::Result<Destination> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        if let Some(found) = descriptor_link(&current) {
            return Ok(found);
        }
        let metadata = match std::fs::symlink_metadata(&current) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Destination::Replace(current))
            }
            other => other?,
        };
        if metadata.file_type().is_symlink() {
            // A relative link is relative to the directory holding it.
            let link = std::fs::read_link(&current)?;
            current = match current.parent() {
                Some(dir) => dir.join(link),
                None => link,
            };
        } else if metadata.is_file() {
            return Ok(Destination::Replace(current));
        } else {
            return Ok(Destination::InPlace);
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// A path into a process's descriptor table (`/proc/self/fd/1`, `/dev/fd/2`, where
/// `/dev/stdout` points): the runner's own stdout and stderr by their handles, anything else
/// under `/proc` in place. None of it can be replaced by a rename.
fn descriptor_link(path: &Path) -> Option<Destination> {
    let dir = std::fs::canonicalize(path.parent()?).ok()?;
    if !dir.starts_with("/proc") {
        return None;
    }
    let own = std::fs::canonicalize("/proc/self/fd").ok();
    let fd = path.file_name()?.to_str()?.parse::<u32>().ok();
    Some(match (own.as_deref() == Some(dir.as_path()), fd) {
        (true, Some(1)) => Destination::Stdout,
        (true, Some(2)) => Destination::Stderr,
        _ => Destination::InPlace,
    })
}

/// Remove runner's temporary files in `dir` that no write has touched for [`STALE_AFTER`]:
/// their writer was killed before it could rename or remove them. Fresh ones stay (another run
/// may be writing them), and so does every file that is not runner's. Best effort: a file that
/// cannot be removed is left for a later run. Returns how many were removed.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    remove_stale(dir, |name| name.starts_with(TEMP_PREFIX))
}

/// In a directory that only runner writes to (`target/runner`), also remove the stale
/// temporary files that earlier versions left under tempfile's default name (`.tmpXXXXXX`).
pub fn remove_stale_temporaries_of_earlier_versions(dir: &Path) -> usize {
    remove_stale(dir, |name| {
        name.strip_prefix(".tmp")
            .is_some_and(|rest| rest.len() == 6 && rest.chars().all(|c| c.is_ascii_alphanumeric()))
    })
}

fn remove_stale(dir: &Path, ours: impl Fn(&str) -> bool) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|entry| entry.file_name().to_str().is_some_and(&ours) && is_stale(entry))
        .filter(|entry| std::fs::remove_file(entry.path()).is_ok())
        .count()
}

fn is_stale(entry: &DirEntry) -> bool {
    // `DirEntry::metadata` does not follow symlinks: only regular files qualify. A
    // modification time in the future (a clock step) reads as fresh.
    entry.metadata().is_ok_and(|metadata| {
        metadata.is_file()
            && metadata
                .modified()
                .ok()
                .and_then(|at| at.elapsed().ok())
                .is_some_and(|age| age > STALE_AFTER)
    })
}

/// A file name for something named `text` (a binary id, a test name): its letters, digits, `-`
/// and `_` (anything else becomes `_`, the whole cut to a readable length), then a hash of the
/// exact text. Names that differ only in characters a file name cannot show (`m::x` and
/// `m__x`, `r#match` and `r_match`) get different files; the same name always gets the same.
pub fn file_name_for(text: &str) -> String {
    let mut readable = String::new();
    for c in text.chars() {
        let c = if c.is_alphanumeric() || c == '-' || c == '_' {
            c
        } else {
            '_'
        };
        if readable.len() + c.len_utf8() > READABLE_BYTES {
            break;
        }
        readable.push(c);
    }
    format!("{readable}-{:016x}", fnv1a(text.as_bytes()))
}

/// FNV-1a, 64 bits: a fixed algorithm, so a name's hash is the same in every run and on every
/// machine (std's hasher promises neither).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;
    use std::time::SystemTime;

    fn write_text(path: &Path, text: &str) -> Result<()> {
        write_atomically(path, |w| Ok(w.write_all(text.as_bytes())?))
    }

    #[test]
    fn a_regular_file_is_replaced_and_a_missing_directory_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/dir/report.xml");
        write_text(&path, "one").unwrap();
        write_text(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left: {left:?}");
    }

    #[test]
    fn a_symlink_is_kept_and_its_target_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.xml");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("link.xml");
        std::os::unix::fs::symlink("real.xml", &link).unwrap();
        write_text(&link, "new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        // A dangling symlink gets its target created.
        let dangling = dir.path().join("dangling.xml");
        std::os::unix::fs::symlink("created.xml", &dangling).unwrap();
        write_text(&dangling, "made").unwrap();
        let created = dir.path().join("created.xml");
        assert_eq!(std::fs::read_to_string(created).unwrap(), "made");
    }

    #[test]
    fn special_files_are_written_in_place() {
        assert_eq!(
            destination(Path::new("/dev/null")).unwrap(),
            Destination::InPlace
        );
        assert_eq!(
            destination(Path::new("/dev/stdout")).unwrap(),
            Destination::Stdout
        );
        assert_eq!(
            destination(Path::new("/dev/fd/2")).unwrap(),
            Destination::Stderr
        );
        assert_eq!(
            destination(Path::new("/proc/self/fd/1")).unwrap(),
            Destination::Stdout
        );
        write_text(Path::new("/dev/null"), "nothing").unwrap();
        let null = std::fs::metadata("/dev/null").unwrap();
        assert!(null.file_type().is_char_device());
    }

    #[test]
    fn errors_name_the_path() {
        let err = write_text(Path::new("/proc/runner-cannot-write/x.xml"), "x").unwrap_err();
        assert!(format!("{err:#}").contains("/proc/runner-cannot-write/x.xml"));
        let dir = tempfile::tempdir().unwrap();
        let err =
            write_atomically(&dir.path().join("r.xml"), |_| anyhow::bail!("no luck")).unwrap_err();
        assert!(format!("{err:#}").contains("r.xml: no luck"), "{err:#}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn only_stale_temporaries_of_ours_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(60);
        let file = |name: &str, modified: SystemTime| {
            let path = dir.path().join(name);
            let file = std::fs::File::create(&path).unwrap();
            file.set_modified(modified).unwrap();
            path
        };
        let stale = file(".runner-tmp-dead", old);
        let fresh = file(".runner-tmp-live", SystemTime::now());
        let foreign = file(".tmpABCDEF", old);
        assert_eq!(remove_stale_temporaries(dir.path()), 1);
        assert!(!stale.exists());
        assert!(fresh.exists() && foreign.exists());
        assert_eq!(remove_stale_temporaries(&dir.path().join("missing")), 0);
    }

    #[test]
    fn file_names_are_distinct_stable_and_bounded() {
        let names = ["m::x", "m__x", "r#match", "r_match", "a b", "a_b"];
        let files: std::collections::HashSet<_> = names.iter().map(|n| file_name_for(n)).collect();
        assert_eq!(files.len(), names.len(), "{files:?}");
        assert_eq!(file_name_for("m::x"), file_name_for("m::x"));
        assert!(file_name_for("pkg::bin/x").starts_with("pkg__bin_x-"));
        // FNV-1a's published test vector: the hash never changes between runs or versions.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let long = file_name_for(&"é".repeat(500));
        assert!(long.len() <= READABLE_BYTES + 17, "{}", long.len());
    }

    #[test]
    fn stale_temporaries_of_earlier_versions_go_in_runners_own_directory() {
        let dir = tempfile::tempdir().unwrap();
        let old = std::time::SystemTime::now() - 2 * STALE_AFTER;
        for name in [".tmpAb12Cd", ".tmpFresh1", ".tmp-not-ours", "history.json"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        for name in [".tmpAb12Cd", ".tmp-not-ours", "history.json"] {
            let file = std::fs::File::options()
                .write(true)
                .open(dir.path().join(name))
                .unwrap();
            file.set_modified(old).unwrap();
        }
        assert_eq!(remove_stale_temporaries_of_earlier_versions(dir.path()), 1);
        assert!(!dir.path().join(".tmpAb12Cd").exists());
        for kept in [".tmpFresh1", ".tmp-not-ours", "history.json"] {
            assert!(dir.path().join(kept).exists(), "{kept}");
        }
    }
}
