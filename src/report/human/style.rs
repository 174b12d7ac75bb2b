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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paint_keeps_newlines_outside_escape_codes() {
        let painted = Painter { color: true }.paint("\ntitle\n", Style::new().red());
        assert!(painted.starts_with("\n\u{1b}["), "{painted:?}");
        assert!(painted.ends_with("m\n"), "{painted:?}");
    }
}
