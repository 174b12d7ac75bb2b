//! A test's captured output as the human report shows it: escaped, under a header naming the
//! stream.

use console::Style;

use super::style::Painter;
use crate::report::escape::visible;

/// A test's captured output (escaped) under headers naming the stream; `id` is escaped already.
pub(super) fn output_block(painter: &Painter, id: &str, stdout: &str, stderr: &str) -> String {
    let mut block = String::new();
    for (stream, text) in [("STDOUT", stdout), ("STDERR", stderr)] {
        if text.is_empty() {
            continue;
        }
        let header = format!("--- {stream}: {id} ---");
        block.push_str(&painter.paint(&header, Style::new().dim()));
        block.push('\n');
        let text = visible(text);
        block.push_str(&text);
        if !text.ends_with('\n') {
            block.push('\n');
        }
    }
    block
}
