//! A recursive-descent parser for filter expressions. Precedence, tightest first: parentheses,
//! `not`/`!`, `and`/`&`/`-`, `or`/`|`/`+`; operators of one level bind left to right.
//!
//! ```text
//! expr  := and (("or" | "|" | "+") and)*
//! and   := unary (("and" | "&" | "-") unary)*
//! unary := ("not" | "!") unary | "(" expr ")" | NAME "(" argument? ")"
//! ```

use super::error::FilterError;
use super::expr::{Expr, Leaf, Predicate};
use super::matcher::{DefaultMatcher, NameMatcher};

/// The kinds of cargo target `kind()` knows.
/// `doc` (a library's doctests) is runner's own.
pub const KINDS: [&str; 7] = [
    "lib",
    "test",
    "bin",
    "bench",
    "example",
    "proc-macro",
    "doc",
];

/// nextest predicates that need what runner does not model (the dependency graph, platforms).
const UNSUPPORTED: [&str; 4] = ["deps", "rdeps", "platform", "default"];

/// Where the expression is written: the config file assigns groups, so it cannot use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    CommandLine,
    Config,
}

pub fn parse(input: &str, context: Context) -> Result<Expr, FilterError> {
    let mut parser = Parser {
        input,
        pos: 0,
        context,
    };
    parser.skip_space();
    if parser.at_end() {
        return Err(parser.error(
            0,
            "expected a predicate such as test(NAME), package(NAME) or all(), and found nothing",
        ));
    }
    let expr = parser.expr()?;
    parser.skip_space();
    if !parser.at_end() {
        let message = match parser.peek() {
            Some(')') => "unmatched ')'",
            _ => "expected an operator (and, or, not, &, |, +, -) or the end of the expression",
        };
        return Err(parser.error(parser.pos, message));
    }
    Ok(expr)
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
    context: Context,
}

impl Parser<'_> {
    fn error(&self, at: usize, message: impl Into<String>) -> FilterError {
        FilterError::new(self.input, at, message.into())
    }

    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.input.len() - trimmed.len();
    }

    /// The identifier at the cursor (letters, digits, `_`), not consumed.
    fn word(&self) -> &str {
        let rest = self.rest();
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        &rest[..end]
    }

    /// Consume `symbol` or the keyword `word` if either is next.
    fn operator(&mut self, symbols: &[char], word: &str) -> bool {
        self.skip_space();
        match self.peek() {
            Some(c) if symbols.contains(&c) => {
                self.pos += c.len_utf8();
                true
            }
            _ if !word.is_empty() && self.word() == word => {
                self.pos += word.len();
                true
            }
            _ => false,
        }
    }

    fn expr(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and()?;
        while self.operator(&['|', '+'], "or") {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.unary()?;
        loop {
            if self.operator(&['&'], "and") {
                left = Expr::And(Box::new(left), Box::new(self.unary()?));
            } else if self.operator(&['-'], "") {
                left = Expr::Difference(Box::new(left), Box::new(self.unary()?));
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        self.skip_space();
        if self.operator(&['!'], "not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        match self.peek() {
            Some('(') => {
                let open = self.pos;
                self.pos += 1;
                let inner = self.expr()?;
                self.skip_space();
                if self.peek() != Some(')') {
                    let message = format!(
                        "expected ')' to close the '(' at column {}",
                        column(self.input, open) + 1
                    );
                    return Err(self.error(self.pos, message));
                }
                self.pos += 1;
                Ok(inner)
            }
            None => Err(self.error(self.pos, "expected a predicate after the operator")),
            Some(_) => self.predicate(),
        }
    }

    fn predicate(&mut self) -> Result<Expr, FilterError> {
        let start = self.pos;
        let name = self.word().to_string();
        if name.is_empty() {
            return Err(self.error(
                start,
                "expected a predicate such as test(NAME), package(NAME) or all()",
            ));
        }
        let known = Predicate::NAMED.iter().find(|(n, _)| *n == name);
        if known.is_none() && !["all", "none"].contains(&name.as_str()) {
            return Err(self.error(start, unknown_predicate(&name)));
        }
        self.pos += name.len();
        self.skip_space();
        if self.peek() != Some('(') {
            let message =
                format!("expected '(' after '{name}': predicates are written {name}(...)");
            return Err(self.error(self.pos, message));
        }
        self.pos += 1;
        let Some(&(_, predicate)) = known else {
            self.skip_space();
            if self.peek() != Some(')') {
                return Err(self.error(
                    self.pos,
                    format!("{name}() takes no argument: expected ')'"),
                ));
            }
            self.pos += 1;
            return Ok(if name == "all" { Expr::All } else { Expr::None });
        };
        if predicate == Predicate::Group && self.context == Context::Config {
            return Err(self.error(
                start,
                "group() can only be used on the command line: the config file is what assigns \
                 the groups",
            ));
        }
        let leaf = self.argument(predicate)?;
        Ok(Expr::Leaf(leaf))
    }

    /// The matcher inside `NAME(...)`, and the closing parenthesis.
    fn argument(&mut self, predicate: Predicate) -> Result<Leaf, FilterError> {
        self.skip_space();
        let start = self.pos;
        let prefix = self.peek().filter(|c| ['=', '~', '#', '/'].contains(c));
        if let Some(c) = prefix {
            self.pos += c.len_utf8();
        }
        let text = match prefix {
            Some('/') => self.regex_text(predicate)?,
            _ => self.string_text(predicate)?,
        };
        let end = self.pos;
        if text.is_empty() && prefix != Some('/') {
            let message = format!("expected a name inside {}(...)", predicate.name());
            return Err(self.error(start, message));
        }
        let matcher = match prefix {
            Some('=') => Ok(NameMatcher::Equal(text)),
            Some('~') => Ok(NameMatcher::Contains(text)),
            Some('#') => NameMatcher::glob(text),
            Some('/') => NameMatcher::regex(&text),
            _ => match predicate.default_matcher() {
                DefaultMatcher::Equal => Ok(NameMatcher::Equal(text)),
                DefaultMatcher::Contains => Ok(NameMatcher::Contains(text)),
                DefaultMatcher::Glob => NameMatcher::glob(text),
            },
        }
        .map_err(|e| self.error(start, e))?;
        if predicate == Predicate::Kind {
            if let Some(kind) = matcher.exact().filter(|k| !KINDS.contains(k)) {
                let mut message = format!(
                    "unknown kind '{kind}': expected one of {}",
                    KINDS.join(", ")
                );
                if let Some(close) = crate::closest::closest(kind, KINDS.iter().copied()) {
                    message += &format!("; did you mean kind({close})?");
                }
                return Err(self.error(start, message));
            }
        }
        self.skip_space();
        if self.peek() != Some(')') {
            let message = format!("expected ')' to close {}(", predicate.name());
            return Err(self.error(self.pos, message));
        }
        self.pos += 1;
        Ok(Leaf {
            predicate,
            matcher,
            span: (start, end),
        })
    }

    /// A regex up to its closing `/`; `\/` is a slash, other escapes are the regex's own.
    fn regex_text(&mut self, predicate: Predicate) -> Result<String, FilterError> {
        let open = self.pos - 1;
        let mut text = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '/' => {
                    self.pos += i + 1;
                    return Ok(text);
                }
                '\\' => match chars.next() {
                    Some((_, '/')) => text.push('/'),
                    Some((_, next)) => {
                        text.push('\\');
                        text.push(next);
                    }
                    None => break,
                },
                _ => text.push(c),
            }
        }
        let message = format!(
            "expected '/' to end the regex that starts at column {} in {}(",
            column(self.input, open) + 1,
            predicate.name()
        );
        Err(self.error(self.input.len(), message))
    }

    /// A name up to the unescaped `)`, escapes decoded, surrounding spaces dropped.
    fn string_text(&mut self, predicate: Predicate) -> Result<String, FilterError> {
        let mut text = String::new();
        let base = self.pos;
        let mut chars = self.rest().char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                ')' => {
                    self.pos = base + i;
                    return Ok(text.trim_end().to_string());
                }
                '\\' => {
                    let decoded = match chars.next().map(|(_, c)| c) {
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some(c @ ('\\' | '/' | ')' | ',')) => c,
                        Some('u') => unicode_escape(&mut chars)
                            .ok_or_else(|| self.error(base + i, "invalid \\u{...} escape"))?,
                        _ => return Err(self.error(
                            base + i,
                            "invalid escape: use \\n, \\r, \\t, \\\\, \\/, \\), \\, or \\u{HEX}",
                        )),
                    };
                    text.push(decoded);
                }
                _ => text.push(c),
            }
        }
        self.pos = self.input.len();
        let message = format!("expected ')' to close {}(", predicate.name());
        Err(self.error(self.pos, message))
    }
}

/// The rest of a `\u{HEX}` escape, after the `u`.
fn unicode_escape(chars: &mut std::iter::Peekable<std::str::CharIndices>) -> Option<char> {
    if chars.next()?.1 != '{' {
        return None;
    }
    let mut hex = String::new();
    loop {
        match chars.next()?.1 {
            '}' => break,
            c if c.is_ascii_hexdigit() && hex.len() < 6 => hex.push(c),
            _ => return None,
        }
    }
    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)
}

fn unknown_predicate(name: &str) -> String {
    let mut all: Vec<&str> = Predicate::NAMED.iter().map(|(n, _)| *n).collect();
    all.extend(["all", "none"]);
    if UNSUPPORTED.contains(&name) {
        return format!(
            "{name}() is a nextest predicate that runner does not support; the predicates are \
             {}",
            all.join(", ")
        );
    }
    match crate::closest::closest(name, all.iter().copied()) {
        Some(close) => format!("unknown predicate '{name}': did you mean {close}()?"),
        None => format!(
            "unknown predicate '{name}': expected one of {}",
            all.join(", ")
        ),
    }
}

/// The 0-based character column of a byte offset.
pub fn column(input: &str, at: usize) -> usize {
    input[..at.min(input.len())].chars().count()
}

#[cfg(test)]
mod tests;
