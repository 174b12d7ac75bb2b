//! What is wrong with a filter expression, shown with the expression and a caret under the
//! column where it goes wrong; and the closest known name, for a name that matches nothing.

use super::parse::column;

/// A filter expression that cannot be used: its text, where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    input: String,
    /// 0-based character column.
    column: usize,
    message: String,
}

impl FilterError {
    pub(super) fn new(input: &str, at: usize, message: String) -> FilterError {
        FilterError {
            input: input.to_string(),
            column: column(input, at),
            message,
        }
    }

    /// What is wrong, without the expression and caret.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The 1-based column, as editors count.
    pub fn column(&self) -> usize {
        self.column + 1
    }

    /// The expression and a caret under the column, each line indented by `indent`.
    pub fn pointer(&self, indent: &str) -> String {
        // Control characters would shift the caret (and drive the terminal): shown escaped.
        let mut shown = String::new();
        let mut caret = 0;
        for (i, c) in self.input.chars().enumerate() {
            let piece: String = match c {
                c if c.is_control() => c.escape_default().collect(),
                c => c.to_string(),
            };
            if i < self.column {
                caret += piece.chars().count();
            }
            shown.push_str(&piece);
        }
        format!("{indent}{shown}\n{indent}{}^", " ".repeat(caret))
    }
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid filter expression at column {}: {}\n{}",
            self.column(),
            self.message,
            self.pointer("    ")
        )
    }
}

impl std::error::Error for FilterError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_under_the_column() {
        let err = FilterError::new("test(a) tset(b)", 8, "expected an operator".into());
        assert_eq!(err.column(), 9);
        assert_eq!(err.pointer(""), "test(a) tset(b)\n        ^");
        assert_eq!(
            err.to_string(),
            "invalid filter expression at column 9: expected an operator\n    test(a) tset(b)\n            ^"
        );
    }

    #[test]
    fn control_characters_are_escaped_and_the_caret_follows() {
        let err = FilterError::new("a\tb(", 4, "x".into());
        assert_eq!(err.pointer(""), "a\\tb(\n     ^");
    }
}
