//! A test's captured output as the human report shows it: escaped, under a header naming the
//! stream, and bounded to its last lines, so that a test printing megabytes does not flood the
//! screen; what is cut is pointed at in the test's log.

use console::Style;

use super::style::Painter;
use crate::report::escape::visible;
use crate::report::event::OutputLogs;

/// How much of each stream the report shows: its last `lines` lines, within `bytes` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBounds {
    pub lines: usize,
    pub bytes: usize,
}

/// A test's captured output (escaped) under headers naming the stream; `id` is escaped already.
pub(super) fn output_block(
    painter: &Painter,
    bounds: OutputBounds,
    id: &str,
    (stdout, stderr): (&str, &str),
    logs: &OutputLogs,
) -> String {
    let mut block = String::new();
    let streams = [
        ("STDOUT", stdout, &logs.stdout),
        ("STDERR", stderr, &logs.stderr),
    ];
    for (stream, text, log) in streams {
        if text.is_empty() {
            continue;
        }
        let header = format!("--- {stream}: {id} ---");
        block.push_str(&painter.paint(&header, Style::new().dim()));
        block.push('\n');
        let (shown, cut) = last_lines(text, bounds);
        if cut {
            let lines = shown.lines().count();
            let whole = match log {
                Some(path) => format!("whole output in {}", visible(&path.display().to_string())),
                None => "--output-lines and --output-bytes show more".to_string(),
            };
            let note =
                format!("[... earlier output cut, the last {lines} lines follow; {whole} ...]");
            block.push_str(&painter.paint(&note, Style::new().dim()));
            block.push('\n');
        }
        let shown = visible(shown);
        block.push_str(&shown);
        if !shown.ends_with('\n') {
            block.push('\n');
        }
    }
    block
}

/// The end of `text` within `bounds`, and whether anything before it was left out. A trailing
/// newline ends the last line rather than starting another; a line longer than the byte bound
/// is kept by its end.
fn last_lines(text: &str, bounds: OutputBounds) -> (&str, bool) {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines = bounds.lines.max(1);
    let mut start = body
        .rmatch_indices('\n')
        .nth(lines - 1)
        .map_or(0, |(at, _)| at + 1);
    if text.len() - start > bounds.bytes {
        start = text.len() - bounds.bytes;
        while !text.is_char_boundary(start) {
            start += 1;
        }
    }
    (&text[start..], start > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(lines: usize, bytes: usize) -> OutputBounds {
        OutputBounds { lines, bytes }
    }

    #[test]
    fn the_last_lines_within_both_bounds() {
        let text = "a\nb\nc\nd\n";
        assert_eq!(last_lines(text, bounds(2, 100)), ("c\nd\n", true));
        assert_eq!(last_lines(text, bounds(4, 100)), (text, false));
        assert_eq!(last_lines(text, bounds(9, 100)), (text, false));
        assert_eq!(last_lines("a\nb", bounds(1, 100)), ("b", true));
        assert_eq!(last_lines(text, bounds(9, 3)), ("\nd\n", true));
        let wide = "é".repeat(10);
        let (kept, cut) = last_lines(&wide, bounds(9, 5));
        assert!(
            cut && kept.len() <= 5 && kept.chars().all(|c| c == 'é'),
            "{kept:?}"
        );
    }

    #[test]
    fn a_cut_stream_points_at_its_log() {
        let painter = Painter { color: false };
        let text: String = (1..=100).map(|n| format!("line {n}\n")).collect();
        let logs = OutputLogs {
            stdout: None,
            stderr: Some("/logs/t.stderr".into()),
        };
        let block = output_block(&painter, bounds(3, 1000), "b t", ("", &text), &logs);
        assert_eq!(
            block,
            "--- STDERR: b t ---\n[... earlier output cut, the last 3 lines follow; whole \
             output in /logs/t.stderr ...]\nline 98\nline 99\nline 100\n"
        );
        let block = output_block(&painter, bounds(300, 1000), "b t", (&text, ""), &logs);
        assert_eq!(block, format!("--- STDOUT: b t ---\n{text}"));
    }
}
