//! Text a test controls (its output, its name, its panic message) made safe to show.
//!
//! A test can print anything: `ESC c` or `ESC[2J` clears the user's screen, `ESC[?1049h`
//! switches to the alternate screen, `ESC]0;...BEL` retitles the window, a lone `\r` lets the
//! next text overwrite a line, and XML cannot hold most control characters at all. Every
//! reporter that prints such text passes it through [`visible`] first, so that the controls
//! show as text instead of acting; the reporters' own colours are added afterwards.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character written out: C0 controls and DEL as `\x1b`, `\x00`, ...
/// (a lone carriage return as `\r`), C1 controls as `\u{9b}`. Line feeds and tabs stay, and a
/// CRLF line end becomes a plain line end. Backslashes are not doubled: this is for reading,
/// not for decoding back.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => shown.push_str("\\r"),
            c if !needs_escape(c) => shown.push(c),
            c if u32::from(c) < 0x80 => {
                let _ = write!(shown, "\\x{:02x}", u32::from(c));
            }
            c => {
                let _ = write!(shown, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(shown)
}

/// C0 controls, DEL and C1 controls, except the line feed and the tab.
fn needs_escape(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_as_text() {
        let hostile = "a\u{1b}c\u{1b}[2J\u{1b}[?1049h\u{1b}]0;title\u{7}\0\u{7f}\u{9b}31m";
        assert_eq!(
            visible(hostile),
            "a\\x1bc\\x1b[2J\\x1b[?1049h\\x1b]0;title\\x07\\x00\\x7f\\u{9b}31m"
        );
    }

    #[test]
    fn line_structure_is_kept_but_a_lone_cr_cannot_overwrite() {
        assert_eq!(visible("a\tb\nc\r\nd"), "a\tb\nc\nd");
        assert_eq!(visible("50%\r100%\n"), "50%\\r100%\n");
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "thread 'x' panicked at src/lib.rs:1:1:\né \\x1b\n";
        assert!(matches!(visible(text), Cow::Borrowed(t) if t == text));
    }
}
