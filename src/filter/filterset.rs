//! [`Filter`]: a parsed filter expression with its text, the type the rest of runner holds.

use super::error::FilterError;
use super::eval::{self, KnownNames, TestFacts};
use super::expr::{Expr, Predicate};
use super::parse::{self, Context};

/// A parsed filter expression.
#[derive(Debug, Clone)]
pub struct Filter {
    text: String,
    expr: Expr,
}

impl Filter {
    /// An expression given on the command line (`-E`).
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        Self::parse_in(text, Context::CommandLine)
    }

    /// An expression of the config file: as on the command line, but without `group()`.
    pub fn parse_config(text: &str) -> Result<Filter, FilterError> {
        Self::parse_in(text, Context::Config)
    }

    fn parse_in(text: &str, context: Context) -> Result<Filter, FilterError> {
        Ok(Filter {
            text: text.to_string(),
            expr: parse::parse(text, context)?,
        })
    }

    pub fn matches(&self, facts: &TestFacts) -> bool {
        eval::matches(&self.expr, facts)
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether evaluating it needs the tests' groups.
    pub fn uses_group(&self) -> bool {
        self.expr
            .leaves()
            .iter()
            .any(|leaf| leaf.predicate == Predicate::Group)
    }

    /// Refuse a `package()` or `binary()` that matches no name of the workspace.
    pub fn check_names(&self, known: &KnownNames) -> Result<(), FilterError> {
        eval::check_names(&self.text, &self.expr, known)
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}
