//! Filter expressions: nextest's filterset language, used by `-E` on the command line and by
//! every `filter` key of the config file (groups, batches, overrides, setup-script scopes).
//!
//! The API, kept small and stable:
//!
//! - [`Filter::parse`] (command line) and [`Filter::parse_config`] (config file, where
//!   `group()` is refused because the config is what assigns groups) give a [`Filter`] or a
//!   [`FilterError`] whose `Display` shows the expression with a caret under the column.
//! - [`Filter::matches`] tells whether a test, described by [`TestFacts`] (package, binary
//!   name, binary id, kind, test name, group), is in the set.
//! - [`Filter::check_names`] refuses a `package()` or `binary()` that matches no name of the
//!   workspace ([`KnownNames`]), naming the closest one.
//!
//! Grammar: predicates `test()`, `package()`, `binary()`, `binary_id()`, `kind()`, `group()`,
//! `all()`, `none()`; matchers `=exact`, `~contains`, `/regex/`, `#glob` (the default is
//! contains for `test()`, equality for `kind()`, glob for the others); operators `not`/`!`,
//! `and`/`&`, difference `-`, `or`/`|`/`+`, and parentheses.

mod error;
mod eval;
mod expr;
mod filterset;
mod matcher;
mod parse;

pub use error::FilterError;
pub use eval::{kind_name, KnownNames, TestFacts, GLOBAL_GROUP};
pub use filterset::Filter;
