//! The plan of one wave of an overlapped run (see `session::overlap`): the selected tests of
//! the binaries cargo has built since the last wave, listed and ordered as the whole plan would
//! order them, while cargo still builds the rest.
//!
//! It decides nothing the whole plan does not decide again: notes and listing failures are
//! left to the whole plan, built once cargo is done, which also knows which of its tests a
//! wave has already run, and which binaries a wave could not list.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::RunConfig;
use crate::filter::TestFacts;
use crate::model::TestBinary;
use crate::plan::history::History;
use crate::plan::list::{BinaryListing, ListOptions};
use crate::plan::select::Verdict;
use crate::plan::{list_cache, order, Plan};
use crate::process::control::RunControl;

/// The plan of the tests of `binaries` that the selection runs, in the order the run's
/// `--order` gives them; and the binaries whose listing failed, by path, with why (the whole
/// plan reports them, without listing them again).
pub fn wave(
    config: &RunConfig,
    binaries: &[Arc<TestBinary>],
    target_dir: Option<&Path>,
    history: &History,
    control: &RunControl,
) -> (Plan, Vec<(PathBuf, String)>) {
    let how = ListOptions {
        timeout: config.list_timeout,
        launcher: &config.launcher,
    };
    let no_failures = HashMap::new();
    let listings = list_cache::list_all(binaries, target_dir, (how, control), (None, &no_failures));
    let groups = config.selection.uses_group();
    let mut to_run = Vec::new();
    let mut failed = Vec::new();
    for (binary, listing) in binaries.iter().zip(listings) {
        let cases = match listing {
            BinaryListing::Tests(cases) => cases,
            BinaryListing::Whole(case, _) => vec![case],
            BinaryListing::Failed(why) => {
                failed.push((binary.path.clone(), why));
                continue;
            }
        };
        let selected = cases.into_iter().filter(|case| {
            let group = groups.then(|| config.group_name(case));
            let facts = TestFacts::of(case, group);
            config.selection.verdict(&facts, case.ignored) == Verdict::Run
        });
        to_run.extend(selected);
    }
    order::arrange(&mut to_run, config.order, history, false);
    let plan = Plan::of_wave(target_dir.map(Path::to_path_buf), history.clone(), to_run);
    (plan, failed)
}
