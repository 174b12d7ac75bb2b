//! Where in the config file an error is, in words: `file:line:column`, the key and the table.
//! toml hands out only the byte span of an error, so the key and table are read from the text
//! around it.

use std::path::Path;

/// A deserialisation error as one line: `file:line:column`, then what is wrong, naming the key
/// and the table it is in. toml does not hand out the key path of an error, only its span, so
/// both are read from the text around the span.
pub(super) fn describe_error(path: &Path, text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', "; ");
    let Some(span) = error.span() else {
        return format!("{}: {message}", path.display());
    };
    let at = place(path, text, span.start);
    let spot = Spot::at(text, span.start);
    let table = spot.table.map(|t| format!(" in {t}")).unwrap_or_default();
    if let Some(unknown) = message.strip_prefix("unknown field `") {
        let (key, expected) = unknown.split_once('`').unwrap_or((unknown, ""));
        let expected = expected.trim_start_matches(", ").replace('`', "");
        return format!("{at}: unknown key '{key}'{table}; {expected}");
    }
    if let Some(missing) = message.strip_prefix("missing field `") {
        let key = missing.trim_end_matches('`');
        return format!("{at}: missing key '{key}'{table}");
    }
    match spot.key {
        Some(key) => format!("{at}: invalid value for '{key}'{table}: {message}"),
        // A syntax error: the text at the place says more than a table name would.
        None => format!("{at}: {message}"),
    }
}

/// The key and table that a byte offset of the file falls in, read from the text: the
/// `key = ` before the offset on its line (a value's error points at the value), and the
/// nearest table header above, or the header the offset is in.
#[derive(Debug, Default, PartialEq, Eq)]
struct Spot {
    key: Option<String>,
    /// `[profile.ci]`, `[[group]]`; `None` at the top level.
    table: Option<String>,
}

impl Spot {
    fn at(text: &str, offset: usize) -> Spot {
        let offset = offset.min(text.len());
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let before = &text[line_start..offset];
        let line = text[line_start..].lines().next().unwrap_or_default();
        if line.trim_start().starts_with('[') {
            return Spot {
                key: None,
                table: Self::in_header(before, &text[..line_start + line.len()]),
            };
        }
        let assigned = before.trim_end().strip_suffix('=');
        // The keys of enclosing inline tables (`ci = { retries = 1 }`) and the leading parts
        // of a dotted key (`ci.retries = 1` under `[profile]`) name tables too.
        let mut path = Vec::new();
        let mut parts = assigned.unwrap_or(before).split('{').peekable();
        while let Some(part) = parts.next() {
            let part = part.rsplit(',').next().unwrap_or(part);
            let part = match parts.peek() {
                Some(_) => part.trim_end().trim_end_matches('='),
                None => part,
            };
            path.extend(key_path(part));
        }
        let key = match assigned {
            Some(_) => path.pop().filter(|k| !k.is_empty()),
            None => None,
        };
        path.retain(|segment| !segment.is_empty());
        Spot {
            key,
            table: header_above(&text[..line_start], &path),
        }
    }

    /// The table an offset in a header line is about: at the header's start, the table itself
    /// (`through_line` is the text up to the header's end); inside it, a part of its name,
    /// which belongs to the table named by the parts before.
    fn in_header(before: &str, through_line: &str) -> Option<String> {
        if before.trim().is_empty() {
            return header_above(through_line, &[]);
        }
        let inside = before.trim_start().trim_start_matches('[');
        let parent = key_path(inside.trim_end().trim_end_matches('.'));
        (!parent.is_empty()).then(|| format!("[{}]", parent.join(".")))
    }
}

/// The header of the table that the text before a line ends in, extended by a dotted key's
/// leading segments.
fn header_above(text: &str, dotted: &[String]) -> Option<String> {
    let header = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with('['));
    let Some(header) = header else {
        return (!dotted.is_empty()).then(|| format!("[{}]", dotted.join(".")));
    };
    let array = header.starts_with("[[");
    let name = header.trim_start_matches('[');
    let name = name.split(']').next().unwrap_or(name);
    let mut path = key_path(name);
    if dotted.is_empty() && array {
        return Some(format!("[[{}]]", path.join(".")));
    }
    path.extend(dotted.iter().cloned());
    Some(format!("[{}]", path.join(".")))
}

/// The segments of a dotted key as written, unquoted.
fn key_path(text: &str) -> Vec<String> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    text.split('.')
        .map(|segment| segment.trim().trim_matches(['"', '\'']).to_string())
        .collect()
}

/// `file:line:column` of a byte offset.
pub(super) fn place(path: &Path, text: &str, offset: usize) -> String {
    if offset > text.len() {
        return path.display().to_string();
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{}:{line}:{column}", path.display())
}
