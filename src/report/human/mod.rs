//! Output for people: a progress bar on a terminal with the running tests under it, a line per
//! test as the status level asks, failures with their captured output (bounded to a screen) as
//! they happen, and the closing report whose last line is the `Summary:` line CI log scanners
//! read.
//!
//! Everything a test controls (output, names, messages) is escaped before it is printed, so a
//! test cannot clear the screen or retitle the terminal; the report's own colours are added
//! after that, and only when colour is on.

mod bar;
mod closing;
mod output;
mod reporter;
mod style;

pub use output::OutputBounds;
pub use reporter::{HumanOptions, HumanReporter};
pub(super) use style::wrapped;
