//! The `filter` keys of the config file, read as filter expressions (`group()` refused: the
//! file is what assigns groups), and `[[profile.NAME.overrides]]`, the per-test settings they
//! choose.

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;
use toml::Spanned;

use super::choice;
use crate::cli::args::PassOrFail;
use crate::filter::{Filter, FilterError};

/// A `filter = "EXPR"`: the parsed expression, where it was written, and (once the file is
/// read) `file:line` for messages.
#[derive(Debug, Clone)]
pub struct ConfigFilter {
    pub filter: Filter,
    pub span: Range<usize>,
    pub origin: String,
}

impl<'de> Deserialize<'de> for ConfigFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Spanned::<String>::deserialize(d)?;
        let filter = Filter::parse_config(text.get_ref())
            .map_err(|e| de::Error::custom(describe(text.get_ref(), &e)))?;
        Ok(ConfigFilter {
            filter,
            span: text.span(),
            origin: String::new(),
        })
    }
}

impl fmt::Display for ConfigFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.filter.fmt(f)
    }
}

/// One line: what is wrong at which column of the expression, and for a value written in the
/// old way (a substring of `binary-id test-name`, or a regex) the expression that says it.
fn describe(text: &str, error: &FilterError) -> String {
    let mut message = format!(
        "'{text}' is not a filter expression: {} (column {} of the expression)",
        error.message(),
        error.column()
    );
    if let Some(suggestion) = suggest(text) {
        message += &format!("; did you mean {suggestion}?");
    }
    message
}

/// The expression for a value written as filters were before they were expressions: a plain
/// substring of the test's name, or a regex (`regex = true`).
pub fn suggest(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || text.contains('(') {
        return None;
    }
    if text.contains(['^', '$', '*', '+', '?', '[', '|', '\\']) {
        return Some(format!("test(/{}/)", text.replace('/', "\\/")));
    }
    let escaped = text
        .replace('\\', "\\\\")
        .replace(')', "\\)")
        .replace(',', "\\,");
    Some(format!("test(~{escaped})"))
}

/// One `[[profile.NAME.overrides]]`: settings for the tests its filter matches. A key left out
/// leaves the setting to the next override that matches, then the profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OverrideSpec {
    pub filter: ConfigFilter,
    pub retries: Option<u32>,
    #[serde(default, with = "humantime_serde::option")]
    pub timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    pub slow_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    pub timeout_grace: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    pub leak_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "choice")]
    pub leak_result: Option<PassOrFail>,
    #[serde(default, deserialize_with = "choice")]
    pub flaky_result: Option<PassOrFail>,
    pub threads_required: Option<usize>,
    /// A `[[group]]`'s name, or `@global` for none.
    pub test_group: Option<String>,
    pub batch: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_for_old_filters() {
        assert_eq!(suggest("db::"), Some("test(~db::)".into()));
        assert_eq!(suggest("^heavy_"), Some("test(/^heavy_/)".into()));
        assert_eq!(suggest("test(a"), None);
    }
}
