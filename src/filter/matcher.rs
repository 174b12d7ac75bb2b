//! Name matchers of filter expressions (the home of `globset`): `=exact`, `~contains`,
//! `/regex/` and `#glob`, and which of them a predicate uses when none is written.

use globset::{Glob, GlobMatcher};
use regex::Regex;

/// How a predicate's argument is compared with a name.
#[derive(Debug, Clone)]
pub enum NameMatcher {
    Equal(String),
    Contains(String),
    /// The glob's text is kept for display; it must match the whole name.
    Glob(String, GlobMatcher),
    /// Matches when any part of the name matches, as `Regex::is_match`.
    Regex(Regex),
}

/// The matcher a predicate uses for an argument with no prefix, as in nextest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultMatcher {
    Equal,
    Contains,
    Glob,
}

impl NameMatcher {
    pub fn is_match(&self, name: &str) -> bool {
        match self {
            NameMatcher::Equal(value) => name == value,
            NameMatcher::Contains(value) => name.contains(value.as_str()),
            NameMatcher::Glob(_, glob) => glob.is_match(name),
            NameMatcher::Regex(regex) => regex.is_match(name),
        }
    }

    /// A glob with no metacharacter matches like `=`.
    pub fn glob(text: String) -> Result<NameMatcher, String> {
        if !text.contains(['*', '?', '[', ']', '{', '}']) {
            return Ok(NameMatcher::Equal(text));
        }
        // Names hold `::` and `/` (binary ids), never paths: `*` crosses them.
        let glob = Glob::new(&text).map_err(|e| format!("invalid glob: {}", e.kind()))?;
        Ok(NameMatcher::Glob(text, glob.compile_matcher()))
    }

    pub fn regex(text: &str) -> Result<NameMatcher, String> {
        Regex::new(text)
            .map(NameMatcher::Regex)
            .map_err(|e| match e {
                regex::Error::Syntax(s) => {
                    format!("invalid regex: {}", s.lines().last().unwrap_or_default())
                }
                other => format!("invalid regex: {other}"),
            })
    }

    /// The exact name this matcher asks for, if it asks for one.
    pub fn exact(&self) -> Option<&str> {
        match self {
            NameMatcher::Equal(value) => Some(value),
            _ => None,
        }
    }
}

impl std::fmt::Display for NameMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameMatcher::Equal(value) => write!(f, "={value}"),
            NameMatcher::Contains(value) => write!(f, "~{value}"),
            NameMatcher::Glob(text, _) => write!(f, "#{text}"),
            NameMatcher::Regex(regex) => write!(f, "/{}/", regex.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_matcher() {
        assert!(NameMatcher::Equal("a::b".into()).is_match("a::b"));
        assert!(!NameMatcher::Equal("a::b".into()).is_match("a::bc"));
        assert!(NameMatcher::Contains("::b".into()).is_match("a::bc"));
        let glob = NameMatcher::glob("app::*".into()).unwrap();
        assert!(glob.is_match("app::bin/cli"));
        assert!(!glob.is_match("core"));
        let regex = NameMatcher::regex("^db_").unwrap();
        assert!(regex.is_match("db_insert"));
        assert!(!regex.is_match("a_db_insert"));
    }

    #[test]
    fn glob_without_metacharacters_is_equality() {
        let glob = NameMatcher::glob("core".into()).unwrap();
        assert_eq!(glob.exact(), Some("core"));
    }

    #[test]
    fn bad_patterns_say_why() {
        assert!(NameMatcher::regex("(")
            .unwrap_err()
            .starts_with("invalid regex"));
        assert!(NameMatcher::glob("a[".into())
            .unwrap_err()
            .starts_with("invalid glob"));
    }
}
