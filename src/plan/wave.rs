//! The plan of one wave of an overlapped run (see `session::overlap`): the selected tests of
//! the binaries cargo has built since the last wave, listed and ordered as the whole plan would
//! order them, while cargo still builds the rest.
//!
//! It decides nothing the whole plan does not decide again: notes and listing failures are
//! left to the whole plan, built once cargo is done, which also knows which of its tests a
//! wave has already run.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crate::cli::RunConfig;
use crate::model::TestBinary;
use crate::plan::history::History;
use crate::plan::list::BinaryListing;
use crate::plan::select::Verdict;
use crate::plan::{list_cache, order, Plan};
use crate::process::control::RunControl;

/// The plan of the tests of `binaries` that the selection runs, in the order the run's
/// `--order` gives them.
pub fn wave(
    config: &RunConfig,
    binaries: &[Arc<TestBinary>],
    target_dir: Option<&Path>,
    history: &History,
    control: &RunControl,
) -> Plan {
    let timeout = (config.list_timeout, control);
    let listings = list_cache::list_all(binaries, target_dir, timeout, None);
    let mut to_run = Vec::new();
    for listing in listings {
        let cases = match listing {
            BinaryListing::Tests(cases) => cases,
            BinaryListing::Whole(case, _) => vec![case],
            BinaryListing::Failed(_) => continue,
        };
        let selected = (cases.into_iter())
            .filter(|case| config.selection.verdict(&case.name, case.ignored) == Verdict::Run);
        to_run.extend(selected);
    }
    order::arrange(&mut to_run, config.order, history, false);
    Plan {
        target_dir: target_dir.map(Path::to_path_buf),
        history: history.clone(),
        listed: HashSet::new(),
        to_run,
        ignored: Vec::new(),
        notes: Vec::new(),
        list_failures: Vec::new(),
    }
}
