//! How the human report looks: colours that never spill past a line, and the fixed-width status
//! line every per-test line and the closing lists share.

use std::time::Duration;

use console::Style;

use crate::report::escape::visible;
use crate::report::event::{Outcome, TestId};

/// Paints text when colour is on, and lays out status lines.
#[derive(Debug, Clone, Copy)]
pub(super) struct Painter {
    pub color: bool,
}

impl Painter {
    /// Colour `text`, leaving its leading and trailing newlines outside the escape codes so
    /// that no code spills onto the next line (the Summary line must stay plain).
    pub fn paint(&self, text: &str, style: Style) -> String {
        if !self.color {
            return text.to_string();
        }
        let core = text.trim_matches('\n');
        let start = text.len() - text.trim_start_matches('\n').len();
        let end = start + core.len();
        format!(
            "{}{}{}",
            &text[..start],
            style.force_styling(true).apply_to(core),
            &text[end..]
        )
    }

    /// `{LABEL:>8} [{secs:>8.3}s] {id}`, or eleven blanks in place of the time.
    pub fn status_line(
        &self,
        label: &str,
        style: Style,
        duration: Option<Duration>,
        id: &str,
    ) -> String {
        let time = match duration {
            Some(d) => format!("[{:>8.3}s]", d.as_secs_f64()),
            None => " ".repeat(11),
        };
        format!(
            "{} {time} {id}\n",
            self.paint(&format!("{label:>8}"), style)
        )
    }
}

pub(super) fn status_style(outcome: &Outcome) -> Style {
    match outcome {
        Outcome::Passed => Style::new().green().bold(),
        _ => Style::new().red().bold(),
    }
}

/// A test's id as printed: binary id and name, their control characters escaped.
pub(super) fn shown_id(id: &TestId) -> String {
    visible(&id.to_string()).into_owned()
}

/// `prefix` and `text` wrapped at word boundaries to `width` columns, the lines after the
/// first indented under the text; a word longer than a line keeps a line of its own. Without
/// a width (not a terminal), one line, as log scanners want it.
pub(in crate::report) fn wrapped(prefix: &str, text: &str, width: Option<usize>) -> String {
    let Some(width) = width else {
        return format!("{prefix}{text}\n");
    };
    let indent = console::measure_text_width(prefix);
    let mut out = prefix.to_string();
    let mut column = indent;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let len = console::measure_text_width(word);
        if column > indent && column + 1 + len > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            column = indent;
        } else if column > indent {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += len;
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_wrap_at_word_boundaries_under_their_text() {
        let text = "outcomes::custom does not list its tests the way libtest does; it runs whole";
        let note = wrapped("note: ", text, Some(30));
        assert_eq!(
            note,
            "note: outcomes::custom does\n      not list its tests the\n      way libtest does; it\n      runs whole\n"
        );
        for line in note.lines() {
            assert!(line.len() <= 30, "{line:?}");
        }
        assert_eq!(wrapped("note: ", "a b", None), "note: a b\n");
    }

    #[test]
    fn paint_keeps_newlines_outside_escape_codes() {
        let painted = Painter { color: true }.paint("\ntitle\n", Style::new().red());
        assert!(painted.starts_with("\n\u{1b}["), "{painted:?}");
        assert!(painted.ends_with("m\n"), "{painted:?}");
    }
}
