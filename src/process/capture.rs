//! A child's output stream, bounded in memory: the first and last bytes are kept, and a stream
//! that outgrows them is written whole to a spill file, so nothing is lost.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy)]
pub struct CaptureLimit {
    pub head: usize,
    pub tail: usize,
}

impl Default for CaptureLimit {
    fn default() -> Self {
        CaptureLimit {
            head: 256 * 1024,
            tail: 2 * 1024 * 1024,
        }
    }
}

/// A stream's bytes, bounded: the first `head` bytes and the last `tail` bytes.
///
/// When the stream outgrows what is kept, the whole of it goes to a spill file (if a path was
/// given), so nothing is lost while memory stays bounded.
#[derive(Debug, Default)]
pub struct Captured {
    head: Vec<u8>,
    tail: Vec<u8>,
    total: u64,
    limit: Option<CaptureLimit>,
    spill_path: Option<PathBuf>,
    spill: Option<File>,
    /// Set when the spill file could not be written; the report says so.
    spill_error: Option<String>,
}

impl Captured {
    pub(super) fn new(limit: CaptureLimit, spill_path: Option<PathBuf>) -> Self {
        Captured {
            limit: Some(limit),
            spill_path,
            ..Default::default()
        }
    }

    pub(super) fn push(&mut self, mut bytes: &[u8]) {
        let limit = self.limit.unwrap_or_default();
        let budget = (limit.head + limit.tail) as u64;
        if self.spill.is_none()
            && self.spill_error.is_none()
            && self.total + bytes.len() as u64 > budget
        {
            self.start_spill();
        }
        if let Some(file) = &mut self.spill {
            if let Err(e) = file.write_all(bytes) {
                self.spill_error = Some(e.to_string());
                self.spill = None;
            }
        }
        self.total += bytes.len() as u64;
        if self.head.len() < limit.head {
            let take = bytes.len().min(limit.head - self.head.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        self.tail.extend_from_slice(bytes);
        // Compact only when the tail doubles, so each byte is moved O(1) times on average.
        if self.tail.len() > 2 * limit.tail.max(1) {
            let excess = self.tail.len() - limit.tail;
            self.tail.drain(..excess);
        }
    }

    /// Nothing has been dropped yet (the tail is only trimmed past twice its size), so what is
    /// held now is the whole stream so far.
    fn start_spill(&mut self) {
        let Some(path) = &self.spill_path else { return };
        let opened = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| File::create(path))
            .and_then(|mut file| {
                file.write_all(&self.head)?;
                file.write_all(&self.tail)?;
                Ok(file)
            });
        match opened {
            Ok(file) => self.spill = Some(file),
            Err(e) => self.spill_error = Some(format!("{}: {e}", path.display())),
        }
    }

    /// Where the full stream was written, if it was too large to keep.
    pub fn spill_path(&self) -> Option<&Path> {
        self.spill_path.as_deref().filter(|_| self.spill.is_some())
    }

    /// The first bytes of the stream (up to the head limit), without copying.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Total bytes the stream carried.
    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes dropped from the middle.
    pub fn omitted(&self) -> u64 {
        let tail_kept = self.tail.len().min(self.limit.unwrap_or_default().tail);
        self.total - (self.head.len() + tail_kept) as u64
    }

    /// The kept bytes as text (lossy), with a note where the middle was dropped.
    pub fn to_text(&self) -> String {
        let tail_limit = self.limit.unwrap_or_default().tail;
        let tail = &self.tail[self.tail.len().saturating_sub(tail_limit)..];
        let omitted = self.omitted();
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if omitted > 0 {
            let whole = match (self.spill_path(), &self.spill_error) {
                (Some(path), _) => format!("; full output in {}", path.display()),
                (None, Some(error)) => format!("; could not save full output: {error}"),
                (None, None) => String::new(),
            };
            text.push_str(&format!("\n[... {omitted} bytes omitted{whole} ...]\n"));
        }
        text.push_str(&String::from_utf8_lossy(tail));
        text
    }

    #[cfg(test)]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut captured = Captured::new(CaptureLimit::default(), None);
        captured.push(bytes);
        captured
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_stream_spills_whole_to_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/t.stdout");
        let mut captured = Captured::new(CaptureLimit { head: 2, tail: 2 }, Some(path.clone()));
        for chunk in [&b"ab"[..], b"cd", b"ef", b"gh", b"ij"] {
            captured.push(chunk);
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdefghij");
        let text = captured.to_text();
        assert!(text.starts_with("ab\n[... 6 bytes omitted; full output in "));
        assert!(text.ends_with("ij"));
    }

    #[test]
    fn captured_keeps_head_and_tail() {
        let mut captured = Captured::new(CaptureLimit { head: 3, tail: 4 }, None);
        for chunk in [&b"abc"[..], b"defgh", b"ijklmnop"] {
            captured.push(chunk);
        }
        assert_eq!(captured.total(), 16);
        assert_eq!(captured.omitted(), 9);
        assert_eq!(captured.to_text(), "abc\n[... 9 bytes omitted ...]\nmnop");
    }
}
