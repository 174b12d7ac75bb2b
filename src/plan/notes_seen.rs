//! Notes that need saying once: the note that a custom-harness target runs whole is shown the
//! first time a workspace's run meets that target, and again only when the target changes
//! (it was rebuilt, so what it does may have changed too).
//!
//! What has been said lives in `target/runner/notes-seen`, one line per target: its binary id
//! and the size and modification time of its binary. Losing the file only repeats a note.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::files;
use crate::model::TestBinary;

/// The notes already said in this workspace, and those said for the first time now.
pub struct NotesSeen {
    path: Option<PathBuf>,
    seen: BTreeSet<String>,
    added: bool,
}

impl NotesSeen {
    /// What `target_dir` remembers; without a target directory (`--binary`), nothing.
    pub fn load(target_dir: Option<&Path>) -> Self {
        let path = target_dir.map(|dir| dir.join("runner").join("notes-seen"));
        let seen = path
            .as_deref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|text| text.lines().map(str::to_string).collect())
            .unwrap_or_default();
        NotesSeen {
            path,
            seen,
            added: false,
        }
    }

    /// Whether the note about `binary` is to be said: true the first time, and after the
    /// binary changed. Without a place to remember it, always.
    pub fn first_time(&mut self, binary: &TestBinary) -> bool {
        if self.path.is_none() {
            return true;
        }
        let key = key_of(binary);
        let new = self.seen.insert(key);
        self.added |= new;
        new
    }

    /// Remember the notes said now; a file that cannot be written only repeats them later.
    pub fn save(&self) {
        let Some(path) = self.path.as_deref().filter(|_| self.added) else {
            return;
        };
        let _ = files::write_atomically(path, |out| {
            for key in &self.seen {
                writeln!(out, "{key}")?;
            }
            Ok(())
        });
    }
}

/// The binary's id and what tells a rebuilt binary: its size and modification time.
fn key_of(binary: &TestBinary) -> String {
    let meta = std::fs::metadata(&binary.path).ok();
    let size = meta.as_ref().map_or(0, |m| m.len());
    let modified = meta
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    // Ids are escaped of tabs and newlines, so that one line holds one key.
    let id = binary.id.replace(['\t', '\n', '\r'], " ");
    format!("{id}\t{size}\t{modified}")
}
