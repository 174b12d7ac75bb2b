//! libtest's `--list --format terse` listing (`NAME: test` lines), read as it streams in.
//!
//! A listing may run to megabytes (tens of thousands of tests, or long generated names), so it
//! is parsed piece by piece as the binary prints it: only the unfinished last line is held
//! between pieces, and every name is kept, however long the listing.

/// The longest single argument Linux passes to a program (`MAX_ARG_STRLEN`, 32 pages): a test
/// name longer than this could never be run with `--exact NAME`, so a line longer than this is
/// not a listing line. It also bounds what an endless line of a custom harness can cost.
pub(crate) const MAX_NAME_LEN: usize = 32 * 4096;

/// How much of a line that is not a listing line the error quotes.
const QUOTED_CHARS: usize = 120;

/// Parses a terse listing fed in pieces split anywhere, even inside a line or a UTF-8 character.
#[derive(Debug, Default)]
pub(crate) struct ListingParser {
    /// The line being received, up to [`MAX_NAME_LEN`] and a little.
    partial: Vec<u8>,
    /// The line being received outgrew `partial`: it cannot be a listing line.
    overlong: bool,
    names: Vec<String>,
    /// The first line that is not a listing line; nothing after it is looked at.
    error: Option<String>,
    /// Lines another program adds to the listing, to leave out (see [`Self::skipping`]).
    noise: Option<fn(&str) -> bool>,
}

impl ListingParser {
    /// A parser that leaves out the lines `noise` recognises: what rustdoc adds to libtest's
    /// listing of doctests.
    pub(crate) fn skipping(noise: fn(&str) -> bool) -> Self {
        ListingParser {
            noise: Some(noise),
            ..ListingParser::default()
        }
    }

    pub(crate) fn feed(&mut self, mut bytes: &[u8]) {
        while self.error.is_none() {
            let Some(newline) = bytes.iter().position(|&b| b == b'\n') else {
                self.take(bytes);
                return;
            };
            self.take(&bytes[..newline]);
            self.end_line();
            bytes = &bytes[newline + 1..];
        }
    }

    /// The names listed, in order, or the first line that was not a listing line.
    pub(crate) fn finish(mut self) -> Result<Vec<String>, String> {
        if self.error.is_none() && (!self.partial.is_empty() || self.overlong) {
            self.end_line();
        }
        match self.error {
            Some(line) => Err(line),
            None => Ok(self.names),
        }
    }

    fn take(&mut self, bytes: &[u8]) {
        // A listing line is a name and ": test", so a few bytes past the longest name are
        // enough to tell an overlong line from a real one.
        let room = (MAX_NAME_LEN + 16).saturating_sub(self.partial.len());
        if bytes.len() > room {
            self.overlong = true;
        }
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn end_line(&mut self) {
        let line = String::from_utf8_lossy(&self.partial);
        let line = line.trim_end();
        let name = match line.rsplit_once(": ") {
            Some((name, "test" | "benchmark" | "bench")) if !name.is_empty() && !self.overlong => {
                Some(name.to_string())
            }
            _ => None,
        };
        let noise = self.noise.is_some_and(|noise| noise(line));
        match name {
            Some(name) if name.len() <= MAX_NAME_LEN => self.names.push(name),
            _ if (line.is_empty() || noise) && !self.overlong => {}
            _ => self.error = Some(line.chars().take(QUOTED_CHARS).collect()),
        }
        self.partial.clear();
        self.overlong = false;
    }
}

/// Parse a whole listing at once.
#[cfg(test)]
pub(crate) fn parse_terse(stdout: &str) -> Result<Vec<String>, String> {
    let mut parser = ListingParser::default();
    parser.feed(stdout.as_bytes());
    parser.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terse_listing_parses() {
        let names = parse_terse("a::b: test\nr#match: test\nünï: test\n\n").unwrap();
        assert_eq!(names, ["a::b", "r#match", "ünï"]);
        assert!(parse_terse("").unwrap().is_empty());
        assert_eq!(parse_terse("last: test").unwrap(), ["last"]);
    }

    #[test]
    fn other_output_is_not_a_listing() {
        let err = parse_terse("a: test\ncustom harness ran 3 checks\nb: test\n").unwrap_err();
        assert_eq!(err, "custom harness ran 3 checks");
        // What a bounded capture once put in the middle of a big listing.
        let err = parse_terse("a: test\n[... 10 bytes omitted ...]\n").unwrap_err();
        assert_eq!(err, "[... 10 bytes omitted ...]");
    }

    #[test]
    fn pieces_split_anywhere_give_the_same_names() {
        let listing = "a::b: test\nünïcödé: test\n\nlong_name_of_a_test: benchmark\nz: test\n";
        let whole = parse_terse(listing).unwrap();
        let bytes = listing.as_bytes();
        for piece in 1..=bytes.len() {
            let mut parser = ListingParser::default();
            for chunk in bytes.chunks(piece) {
                parser.feed(chunk);
            }
            assert_eq!(parser.finish().unwrap(), whole, "pieces of {piece} bytes");
        }
        let mut parser = ListingParser::default();
        for (i, byte) in bytes.iter().enumerate() {
            // Split mid-line and inside a UTF-8 character, including at the very end.
            parser.feed(std::slice::from_ref(byte));
            if i % 7 == 0 {
                parser.feed(&[]);
            }
        }
        assert_eq!(parser.finish().unwrap(), whole);
    }

    #[test]
    fn lines_another_program_adds_can_be_left_out() {
        let listing = "a: test\nall doctests ran in 1s\nb: test\n";
        let mut parser = ListingParser::skipping(|line| line.starts_with("all doctests"));
        parser.feed(listing.as_bytes());
        assert_eq!(parser.finish().unwrap(), ["a", "b"]);
        assert!(parse_terse(listing).is_err());
    }

    #[test]
    fn a_line_longer_than_any_runnable_name_is_not_a_listing() {
        let mut parser = ListingParser::default();
        parser.feed(b"a: test\n");
        let endless = vec![b'x'; 64 * 1024];
        for _ in 0..8 {
            parser.feed(&endless);
        }
        assert!(parser.partial.len() <= MAX_NAME_LEN + 16);
        parser.feed(b": test\n");
        let err = parser.finish().unwrap_err();
        assert_eq!(err.len(), QUOTED_CHARS);
    }
}
