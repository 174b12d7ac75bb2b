//! A byte stream kept within bounds: its first and last bytes, and a count of what was left out
//! between them. Batched mode keeps each failed test's output this way, as process mode keeps
//! each stream of a test, so that no test's output can grow the runner without limit.

use std::path::Path;

#[derive(Debug, Clone, Default)]
pub(crate) struct Bounded {
    head: Vec<u8>,
    tail: Vec<u8>,
    total: u64,
    head_limit: usize,
    tail_limit: usize,
}

impl Bounded {
    pub(crate) fn new(head_limit: usize, tail_limit: usize) -> Self {
        Bounded {
            head_limit,
            tail_limit,
            ..Bounded::default()
        }
    }

    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.head.len() < self.head_limit {
            let take = bytes.len().min(self.head_limit - self.head.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        self.tail.extend_from_slice(bytes);
        // Trimmed only when twice its size, so each byte is moved O(1) times on average; half
        // a tail more than shown is held, so that a `truncate` still leaves a full tail.
        if self.tail.len() > 2 * self.tail_limit.max(1) {
            let excess = self.tail.len() - (self.tail_limit + self.tail_limit / 2);
            self.tail.drain(..excess);
        }
    }

    /// Bytes received so far.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Forget what came after the first `total` bytes, if it is all still held.
    pub(crate) fn truncate(&mut self, total: u64) {
        let drop = self.total.saturating_sub(total);
        let held_whole = (self.head.len() + self.tail.len()) as u64 == self.total;
        if drop <= self.tail.len() as u64 {
            self.tail.truncate(self.tail.len() - drop as usize);
        } else if held_whole {
            self.head.truncate((total as usize).min(self.head.len()));
            self.tail.clear();
        } else {
            return;
        }
        self.total -= drop;
    }

    fn kept_tail(&self) -> &[u8] {
        &self.tail[self.tail.len().saturating_sub(self.tail_limit)..]
    }

    /// Bytes left out of the middle.
    pub(crate) fn omitted(&self) -> u64 {
        self.total - (self.head.len() + self.kept_tail().len()) as u64
    }

    /// The kept bytes as text (lossy), with a note where the middle was left out that says
    /// where the whole stream can be read, when it was saved.
    pub(crate) fn to_text(&self, whole_in: Option<&Path>) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        let omitted = self.omitted();
        if omitted > 0 {
            let whole = whole_in
                .map(|path| format!("; full output in {}", path.display()))
                .unwrap_or_default();
            text.push_str(&format!("\n[... {omitted} bytes omitted{whole} ...]\n"));
        }
        text.push_str(&String::from_utf8_lossy(self.kept_tail()));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_head_and_tail_and_counts_the_rest() {
        let mut kept = Bounded::new(3, 4);
        for piece in [&b"abc"[..], b"defgh", b"ijklmnop"] {
            kept.push(piece);
        }
        assert_eq!(kept.total(), 16);
        assert_eq!(kept.omitted(), 9);
        assert_eq!(kept.to_text(None), "abc\n[... 9 bytes omitted ...]\nmnop");
        let path = Path::new("/logs/x.stdout");
        assert!(kept
            .to_text(Some(path))
            .contains("[... 9 bytes omitted; full output in /logs/x.stdout ...]"));
    }

    #[test]
    fn small_streams_are_kept_whole_and_can_be_cut_back() {
        let mut kept = Bounded::new(4, 8);
        kept.push(b"hello ");
        kept.push(b"world");
        assert_eq!(kept.to_text(None), "hello world");
        kept.truncate(6);
        assert_eq!(kept.to_text(None), "hello ");
        kept.truncate(2);
        assert_eq!(kept.to_text(None), "he");
        kept.push(b"llo");
        assert_eq!(kept.to_text(None), "hello");
        // What already left the memory cannot be cut back; the cut is then not made.
        let mut big = Bounded::new(1, 2);
        big.push(b"abcdefgh");
        big.truncate(2);
        assert_eq!(big.total(), 8);
    }
}
