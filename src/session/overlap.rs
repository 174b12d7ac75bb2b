//! An overlapped run: tests start while cargo still builds. Each test binary is listed as
//! soon as cargo reports it (see `plan::stream`); whenever cargo has gone quiet for
//! [`QUIET`] (it is compiling) with binaries waiting, or one has waited [`PATIENCE`], their
//! selected tests run as a wave (`plan::wave`, `run::Early`). Once cargo exits, the whole plan is made as in a run that
//! built first, and its one pass runs what the waves did not, reporting every test once.
//!
//! A warm build reports all its binaries in one quick burst and exits, so no wave starts and
//! the run is the same as one that builds first. A build failure is still an error (exit 101),
//! after the report of the tests of the binaries that were built.
//!
//! What needs the whole selection before the first test starts builds first instead: see
//! [`applies`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::cli::{DocTests, LastFailed, Mode, RunConfig, Source};
use crate::exit_code;
use crate::model::TestBinary;
use crate::plan::discover::{DiscoverError, Discovered};
use crate::plan::order::Order;
use crate::plan::stream::{self, Built};
use crate::plan::{self, wave, Plan};
use crate::process::control::RunControl;
use crate::process::signals;
use crate::run::{logs, Early, TestSettings};

/// How long cargo may say nothing, with built binaries waiting, before their tests start: a
/// warm build reports its binaries far faster than this, a compiling one far slower.
const QUIET: Duration = Duration::from_millis(50);

/// How long a built binary waits at most while cargo keeps talking (a stream of messages about
/// other crates) before its tests start anyway.
const PATIENCE: Duration = Duration::from_secs(1);

/// Whether this run may start tests before the build is done. Not when the start order or the
/// set of tests depends on the whole selection: `--partition` (shards of the whole), `--lf` and
/// `--ff` (the failures of the whole first), `--order name` and `--order random` (one order
/// across all binaries, the same every time), `--compare`/`--compare-modes` (passes over the
/// whole), `--no-capture` (one test at a time, whose output would mix with cargo's),
/// `--doc-only` (nothing runs before rustdoc), setup scripts (the waves and the pass would
/// each run them), or `--no-overlap`. `-n auto` sizes each wave from its own tests' history.
pub(super) fn applies(config: &RunConfig) -> bool {
    let Source::Cargo(cargo) = &config.source else {
        return false;
    };
    config.mode == Mode::Run
        && !cargo.no_overlap
        && cargo.doc != DocTests::Only
        && config.comparison.is_none()
        && config.partition.is_none()
        && config.last_failed == LastFailed::Ignore
        && config.order == Order::Auto
        && !config.no_capture
        && config.setup.scopes.is_empty()
}

/// What the waves share: the run's log directory (held for the whole run), the test settings
/// and the history that orders each wave.
struct Waves {
    _logs: logs::RunLogs,
    settings: TestSettings,
    history: plan::history::History,
}

/// An overlapped build as it goes: the binaries cargo has reported, those whose tests have not
/// started yet (from `waiting` on, since `waiting_since`), and what the waves did.
struct Building {
    binaries: Vec<Arc<TestBinary>>,
    target_dir: Option<PathBuf>,
    waiting: usize,
    waiting_since: Instant,
    waves: Option<Waves>,
    early: Early,
    /// Whether the filter expressions name only packages and binaries of the workspace, as
    /// far as it is known yet: no wave starts before that is known to hold.
    names_hold: bool,
    /// The binaries a wave could not list, by path, with why: the whole plan reports them
    /// without listing them again.
    failed_listings: HashMap<PathBuf, String>,
}

/// Build, running tests as binaries arrive, then run the rest and report; the exit code.
pub(super) fn execute(config: &RunConfig, control: &RunControl) -> Result<i32> {
    let Source::Cargo(cargo) = &config.source else {
        unreachable!("an overlapped run builds with cargo")
    };
    let built = match stream::start(cargo) {
        Ok(built) => built,
        Err(error) => return settled(super::settle(Err(error), control)?, config, control),
    };
    let mut building = Building {
        binaries: Vec::new(),
        target_dir: None,
        waiting: 0,
        waiting_since: Instant::now(),
        waves: None,
        early: Early::default(),
        names_hold: false,
        failed_listings: HashMap::new(),
    };
    let Built::Finished { result, partial } = building.follow(&built, config, control)? else {
        unreachable!("following the build ends with its end")
    };
    let Building {
        mut binaries,
        early,
        failed_listings,
        ..
    } = building;
    let (discovered, build_failed) = match (result, partial) {
        (Ok(discovered), _) => (discovered, None),
        (Err(error @ DiscoverError::BuildFailed { signal, .. }), Some(partial))
            if !binaries.is_empty() =>
        {
            binaries.sort_by(|a, b| a.id.cmp(&b.id));
            let discovered = Discovered {
                binaries,
                ..*partial
            };
            let cancelled = signals::build_was_cancelled(control, signal);
            (discovered, (!cancelled).then_some(error))
        }
        (Err(error), _) => return settled(super::settle(Err(error), control)?, config, control),
    };
    // A filter naming a package or binary that does not exist is a mistake, not an empty run
    // (no wave ran: see `names_hold`).
    if let Err(message) = plan::check_filter_names(config, &discovered.names) {
        eprintln!("error: {message}");
        return Ok(exit_code::USAGE);
    }
    let discovered = Discovered {
        failed_listings,
        ..discovered
    };
    let plan = Plan::build(config, discovered, control);
    let code = super::run_plan(config, &plan, control, &early)?;
    match build_failed {
        Some(error) if control.cancelled().is_none() => {
            eprintln!(
                "error: {error} (the tests of the binaries built before it failed ran; their \
                 results are above)"
            );
            Ok(exit_code::BUILD_FAILED)
        }
        _ => Ok(code),
    }
}

impl Building {
    /// Take cargo's news until it exits, running a wave whenever binaries wait and cargo is
    /// busy; how the build ended (`Built::Finished`).
    fn follow(
        &mut self,
        built: &Receiver<Built>,
        config: &RunConfig,
        control: &RunControl,
    ) -> Result<Built> {
        loop {
            let message = match self.waiting < self.binaries.len() {
                true => {
                    let patience = PATIENCE.saturating_sub(self.waiting_since.elapsed());
                    built.recv_timeout(QUIET.min(patience))
                }
                false => built.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match message {
                Ok(Built::Binary(binary, dir)) => {
                    if self.waiting == self.binaries.len() {
                        self.waiting_since = Instant::now();
                    }
                    self.binaries.push(binary);
                    self.target_dir = Some(dir);
                }
                Ok(Built::Names(names)) => {
                    self.names_hold = plan::check_filter_names(config, &names).is_ok();
                }
                Ok(finished @ Built::Finished { .. }) => return Ok(finished),
                Err(RecvTimeoutError::Disconnected) => {
                    anyhow::bail!("the thread reading cargo's messages ended without a word")
                }
                Err(RecvTimeoutError::Timeout) => self.run_wave(config, control),
            }
        }
    }

    /// Run the selected tests of the binaries waiting, unless the run is stopping.
    fn run_wave(&mut self, config: &RunConfig, control: &RunControl) {
        let new = &self.binaries[self.waiting..];
        self.waiting = self.binaries.len();
        if control.cancelled().is_some() || self.early.stopped(config) || !self.names_hold {
            return;
        }
        let target_dir = self.target_dir.as_deref();
        let waves = (self.waves).get_or_insert_with(|| Waves::new(config, target_dir));
        let (wave, failed) = wave::wave(config, new, target_dir, &waves.history, control);
        self.failed_listings.extend(failed);
        let pass = super::passes(config, &wave).1;
        let mut settings = waves.settings.clone();
        settings.backtraces = super::quiet_backtraces(config, &wave);
        (self.early).run_wave(config, &wave, (&settings, control), pass);
    }
}

/// A discovery that ended before any binary was built, as a run that builds first ends it.
fn settled(
    settled: Result<Discovered, i32>,
    config: &RunConfig,
    control: &RunControl,
) -> Result<i32> {
    match settled {
        Ok(discovered) => {
            if let Err(message) = plan::check_filter_names(config, &discovered.names) {
                eprintln!("error: {message}");
                return Ok(exit_code::USAGE);
            }
            let plan = Plan::build(config, discovered, control);
            super::run_plan(config, &plan, control, &Early::default())
        }
        Err(code) => Ok(code),
    }
}

impl Waves {
    fn new(config: &RunConfig, target_dir: Option<&Path>) -> Waves {
        let logs = logs::prepare(target_dir);
        Waves {
            settings: super::test_settings(config, logs.dir().to_path_buf()),
            history: plan::load_history(target_dir),
            _logs: logs,
        }
    }
}
