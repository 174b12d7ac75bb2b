//! Resolved, validated, clap-free settings for one invocation.
//!
//! Everything after argument parsing reads a [`RunConfig`]; values are checked here once so that
//! later stages never see a bad one.

use std::path::PathBuf;
use std::time::Duration;

use super::args::{
    self, CargoArgs, ColorChoice, FromArchiveArgs, ListFormat, MessageFormat, NoTestsChoice,
    OrderChoice, OutputWhen, PassOrFail, RunArgs, RunIgnored,
};
use super::config_file::Profile;
use super::explain::Explain;
use super::levels;
use super::loading::load_profile;
use super::overrides::Overrides;
use super::settings::*;
use super::setup::SetupConfig;
use crate::filter::Filter;
use crate::launch::Launcher;
use crate::plan::order::{self, Order};
use crate::plan::partition::{Partition, Timings};
use crate::report::event::ResultPolicy;
use crate::run::groups::TestGroups;

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub mode: Mode,
    pub source: Source,
    pub selection: Selection,
    pub jobs: Workers,
    /// Stop starting tests once this many have failed.
    pub max_failures: Option<usize>,
    pub verbosity: Verbosity,
    /// How much of a test's output the human report shows.
    pub output: OutputShown,
    /// Which statuses and outputs the human report shows, and when.
    pub levels: Levels,
    /// Tests' output passes straight through (`--no-capture`); they run one at a time.
    pub no_capture: bool,
    /// Every test gets the user's `RUST_BACKTRACE`, even where nobody reads the backtrace
    /// (`--keep-backtraces`, or passing tests' output shown): see `run::backtraces`.
    pub keep_backtraces: bool,
    pub color: bool,
    pub json: bool,
    pub list_json: bool,
    pub no_tests: NoTests,
    pub comparison: Option<Comparison>,
    /// How many times each pass of a comparison runs (`--runs`).
    pub runs: usize,
    pub slow_timeout: Option<Duration>,
    pub timeout: Option<Duration>,
    pub timeout_grace: Duration,
    pub leak_timeout: Duration,
    pub retries: u32,
    /// Whether leaky and flaky passes fail the run.
    pub policy: ResultPolicy,
    pub list_timeout: Duration,
    pub order: Order,
    pub last_failed: LastFailed,
    pub junit: Option<PathBuf>,
    /// `--timeline`, else the profile's `timeline`.
    pub timeline: Option<PathBuf>,
    pub chrome_trace: Option<PathBuf>,
    pub groups: TestGroups,
    pub partition: Option<Partition>,
    /// The `--timings` file a `time:` partition reads instead of the target directory's
    /// snapshot.
    pub partition_timings: Option<Timings>,
    /// Batch every binary (`--batch`, or `batch = true` in the profile).
    pub batch_all: bool,
    /// Per-test choices from `[[batch]]` tables, first match wins.
    pub batch_rules: Vec<BatchRule>,
    /// The profile's `[[profile.NAME.overrides]]`, less what the command line sets.
    pub overrides: Overrides,
    /// Which file and profile apply, and where each run-wide setting comes from.
    pub explain: Explain,
    /// What test binaries start through: the profile's wrapper and cargo's target runner.
    pub launcher: Launcher,
    /// The profile named by `--profile` or `RUNNER_PROFILE` (not the implicit `default`).
    pub profile: Option<String>,
    /// The setup scripts and the tests each applies to.
    pub setup: SetupConfig,
}

impl RunConfig {
    /// The settings of a run or a listing; the other subcommands are handled before this.
    pub fn from_cli(command: Option<args::Command>, run: RunArgs) -> Result<Self, UsageError> {
        let run_mode = |args: &RunArgs| match args.no_run {
            true => Mode::NoRun,
            false => Mode::Run,
        };
        let (mode, args) = match command {
            Some(args::Command::Run(args)) => (run_mode(&args), args),
            Some(args::Command::List(args)) => (Mode::List, args.into_run_args()),
            Some(args::Command::Predict(args)) => (Mode::Predict, args.into_run_args()),
            Some(args::Command::ShowConfig(args)) => show_config_args(args)?,
            _ => (run_mode(&run), run),
        };
        Self::from_args(mode, args)
    }

    fn from_args(mode: Mode, args: RunArgs) -> Result<Self, UsageError> {
        let loaded = load_profile(&args)?;
        let (file, profile) = (&loaded.file, &loaded.profile.settings);
        let doc = doc_tests(&args, profile);
        let groups = TestGroups::compile(&file.group).map_err(UsageError)?;
        let overrides = Overrides::resolve(&loaded.profile.overrides, &args, &groups)?;
        let mut explain = Explain::new(&args, &loaded);
        let jobs = jobs_of(&args, profile)?;
        let max_failures = max_failures(&args, profile)?;
        // show-config shows the settings even when they name a missing program.
        let check = !matches!(mode, Mode::ShowConfig(_));
        let launcher = super::launching::launcher(&args, file, profile, check, &mut explain)?;
        let setup = super::setup::resolve(file, profile)?;
        let timeouts = Timeouts::resolve(&args, profile)?;
        let order = order_of(&args, profile)?;
        let (partition, partition_timings) = super::partition::resolve(
            args.partition.as_deref(),
            args.timings.as_deref(),
            &|name| std::env::var(name).ok(),
        )?;
        Ok(RunConfig {
            mode,
            selection: selection(&args)?,
            jobs,
            max_failures,
            verbosity: verbosity(&args),
            output: levels::output_shown(&args.output)?,
            levels: levels::levels(&args.output, verbosity(&args)),
            no_capture: args.output.no_capture,
            keep_backtraces: args.output.keep_backtraces
                || args.output.no_capture
                || args
                    .output
                    .success_output
                    .is_some_and(|when| when != OutputWhen::Never),
            color: color_enabled(args.color),
            json: args.message_format == MessageFormat::Json,
            list_json: args.list_format == ListFormat::Json,
            no_tests: match args.no_tests.or(profile.no_tests).unwrap_or_default() {
                NoTestsChoice::Pass => NoTests::Pass,
                NoTestsChoice::Warn => NoTests::Warn,
                NoTestsChoice::Fail => NoTests::Fail,
            },
            comparison: comparison(&args),
            runs: runs(&args)?,
            slow_timeout: timeouts.slow_timeout,
            timeout: timeouts.timeout,
            timeout_grace: timeouts.timeout_grace,
            leak_timeout: timeouts.leak_timeout,
            list_timeout: timeouts.list_timeout,
            retries: args.retries.or(profile.retries).unwrap_or(0),
            policy: policy(&args, profile),
            junit: args.junit.clone().or(profile.junit.clone()),
            timeline: args.pictures.timeline.clone().or(profile.timeline.clone()),
            chrome_trace: args.pictures.chrome_trace.clone(),
            batch_all: args.batch || profile.batch.unwrap_or(false),
            batch_rules: file.batch.iter().map(BatchRule::from_spec).collect(),
            overrides,
            explain,
            partition,
            partition_timings,
            groups,
            order,
            last_failed: last_failed(&args),
            launcher,
            profile: args.settings.profile.clone(),
            setup,
            source: source(args.binaries, args.archive, args.cargo, doc)?,
        })
    }
}

/// `show-config` or `show-config test NAME`: the test is selected by its exact name, ignored
/// or not.
fn show_config_args(mut args: RunArgs) -> Result<(Mode, RunArgs), UsageError> {
    match args.filters.as_slice() {
        [] => Ok((Mode::ShowConfig(None), args)),
        [what, name] if what == "test" => {
            let name = name.clone();
            args.filters = vec![name.clone()];
            args.select.exact = true;
            args.select.run_ignored = Some(RunIgnored::All);
            Ok((Mode::ShowConfig(Some(name)), args))
        }
        _ => Err(UsageError(
            "show-config takes nothing (the run's settings) or `test NAME` (one test's): \
             e.g. runner show-config test tests::parse"
                .into(),
        )),
    }
}

/// The worker count; a bad `RUNNER_JOBS` is named as the variable, not as `--jobs`.
fn jobs_of(args: &RunArgs, profile: &Profile) -> Result<Workers, UsageError> {
    jobs(args.jobs.as_deref(), profile).map_err(|e| match args.jobs_from_env {
        true => UsageError(format!(
            "invalid value '{}' in the environment variable RUNNER_JOBS: expected a whole \
             number of workers or 'auto' (e.g. RUNNER_JOBS=4)",
            args.jobs.as_deref().unwrap_or_default()
        )),
        false => e,
    })
}

/// `--order`, else the profile's; `--seed` only with a random order.
fn order_of(args: &RunArgs, profile: &Profile) -> Result<Order, UsageError> {
    let chosen = args.order.or(profile.order).unwrap_or_default();
    if args.seed.is_some() && chosen != OrderChoice::Random {
        return Err(UsageError(
            "'--seed' replays a random order, and the order is not random: add --order random"
                .into(),
        ));
    }
    Ok(match chosen {
        OrderChoice::Auto => Order::Auto,
        OrderChoice::Name => Order::Name,
        OrderChoice::Random => Order::Random(args.seed.unwrap_or_else(order::random_seed)),
    })
}

/// `-n` (or `RUNNER_JOBS`), else the profile's `jobs` checked by the same parser, else `auto`.
fn jobs(cli: Option<&str>, profile: &Profile) -> Result<Workers, UsageError> {
    match (cli, &profile.jobs) {
        (Some(value), _) => parse_jobs(value),
        (None, Some(jobs)) => parse_jobs(&jobs.get_ref().to_string())
            .map_err(|e| UsageError(format!("{}: {e}", profile.describe("jobs", jobs)))),
        (None, None) => Ok(Workers::Auto),
    }
}

/// `-x`, else `--maxfail N`, else the profile's `fail-fast`.
fn max_failures(args: &RunArgs, profile: &Profile) -> Result<Option<usize>, UsageError> {
    if args.maxfail == Some(0) {
        return Err(UsageError(
            "invalid value '0' for '--maxfail <N>': use a number of failures of 1 or more".into(),
        ));
    }
    Ok(if args.exitfirst {
        Some(1)
    } else if args.spellings.no_fail_fast {
        None
    } else {
        args.maxfail.or(profile.fail_fast)
    })
}

/// A test still running after this long is reported as slow, and again each such period.
const DEFAULT_SLOW_TIMEOUT: Duration = Duration::from_secs(60);

/// The time limits of a run, from the flags, else the profile, else the built-in defaults.
struct Timeouts {
    slow_timeout: Option<Duration>,
    timeout: Option<Duration>,
    timeout_grace: Duration,
    leak_timeout: Duration,
    list_timeout: Duration,
}

impl Timeouts {
    fn resolve(args: &RunArgs, profile: &Profile) -> Result<Self, UsageError> {
        let duration = |flag: &str, cli: &Option<String>, profile: Option<Duration>| match cli {
            Some(value) => parse_duration(flag, value).map(Some),
            None => Ok(profile),
        };
        // On by default, as in nextest: a hanging test is named within a minute.
        let slow_timeout = match args.slow_timeout.as_deref().map(str::trim) {
            Some("off") => None,
            _ => duration("--slow-timeout", &args.slow_timeout, profile.slow_timeout)?
                .or(Some(DEFAULT_SLOW_TIMEOUT)),
        };
        let timeout = duration("--timeout", &args.timeout, profile.timeout)?;
        let list_timeout = duration("--list-timeout", &args.list_timeout, profile.list_timeout)?;
        for (flag, value) in [
            ("--timeout", timeout),
            ("--slow-timeout", slow_timeout),
            ("--list-timeout", list_timeout),
        ] {
            if value == Some(Duration::ZERO) {
                return Err(UsageError(format!(
                    "invalid value '0' for '{flag}': it would end (or report) every test at \
                     once; give a duration such as 60s{}",
                    if flag == "--slow-timeout" {
                        ", or off"
                    } else {
                        ""
                    }
                )));
            }
        }
        Ok(Timeouts {
            slow_timeout,
            timeout,
            timeout_grace: duration(
                "--timeout-grace",
                &args.timeout_grace,
                profile.timeout_grace,
            )?
            .unwrap_or(Duration::from_secs(5)),
            leak_timeout: duration("--leak-timeout", &args.leak_timeout, profile.leak_timeout)?
                .unwrap_or(Duration::from_millis(200)),
            list_timeout: list_timeout.unwrap_or(Duration::from_secs(60)),
        })
    }
}

/// Whether leaky and flaky passes fail the run.
fn policy(args: &RunArgs, profile: &Profile) -> ResultPolicy {
    let fails = |cli: Option<PassOrFail>, profile: Option<PassOrFail>| {
        cli.or(profile).unwrap_or_default() == PassOrFail::Fail
    };
    ResultPolicy {
        leak_fails: fails(args.leak_result, profile.leak_result),
        flaky_fails: fails(args.flaky_result, profile.flaky_result),
    }
}

/// `--doc-only`, else `--doc` or the profile's `doc = true`.
fn doc_tests(args: &RunArgs, profile: &Profile) -> DocTests {
    if args.doc_only {
        DocTests::Only
    } else if args.doc || profile.doc == Some(true) {
        DocTests::Also
    } else {
        DocTests::Off
    }
}

/// Cargo builds the binaries, unless `--binary` names them or `--archive-file` holds them;
/// cargo's flags then mean nothing.
fn source(
    binaries: Vec<PathBuf>,
    archive: FromArchiveArgs,
    cargo: CargoArgs,
    doc: DocTests,
) -> Result<Source, UsageError> {
    let cargo = CargoOptions {
        doc,
        ..CargoOptions::from(cargo)
    };
    let (given, flag) = match &archive.archive_file {
        Some(_) => (true, "--archive-file"),
        None => (!binaries.is_empty(), "--binary"),
    };
    if archive.archive_file.is_some() && cargo.doc != DocTests::Off {
        return Err(UsageError(
            "doctests are compiled by rustdoc when they run, so an archive holds none: drop \
             '--doc'/'--doc-only', or run them where cargo is"
                .into(),
        ));
    }
    super::doc_check::check(&binaries, &cargo)?;
    if !given {
        return Ok(Source::Cargo(cargo));
    }
    if let Some(cargo_flag) = cargo.selection.iter().chain(&cargo.build).next() {
        return Err(UsageError(format!(
            "'{cargo_flag}' is a cargo option and cannot be used with '{flag}': drop one of them"
        )));
    }
    match archive.archive_file {
        Some(file) => Ok(Source::Archive(ArchiveSource::new(
            file,
            archive.workspace_remap,
            archive.extract_to,
        )?)),
        None => Ok(Source::Binaries(binaries)),
    }
}

fn selection(args: &RunArgs) -> Result<Selection, UsageError> {
    let ignored = match args.select.run_ignored {
        Some(RunIgnored::Only) => IgnoredPolicy::Only,
        Some(RunIgnored::All) => IgnoredPolicy::Include,
        Some(RunIgnored::Default) => IgnoredPolicy::Skip,
        None if args.select.ignored => IgnoredPolicy::Only,
        None if args.select.include_ignored => IgnoredPolicy::Include,
        None => IgnoredPolicy::Skip,
    };
    let exprs = args
        .select
        .filter_exprs
        .iter()
        .map(|text| Filter::parse(text))
        .collect::<Result<_, _>>()
        .map_err(|e| UsageError(format!("-E: {e}")))?;
    Ok(Selection {
        filters: args.filters.clone(),
        skip: args.select.skip.clone(),
        exact: args.select.exact,
        exprs,
        ignored,
    })
}

fn verbosity(args: &RunArgs) -> Verbosity {
    if args.verbose {
        Verbosity::Verbose
    } else if args.quiet {
        Verbosity::Quiet
    } else {
        Verbosity::Normal
    }
}

fn comparison(args: &RunArgs) -> Option<Comparison> {
    if args.compare {
        Some(Comparison::SerialParallel)
    } else if args.compare_modes {
        Some(Comparison::ProcessBatch)
    } else {
        None
    }
}

/// `--runs N`: at least 1, and only where there are passes to repeat.
fn runs(args: &RunArgs) -> Result<usize, UsageError> {
    match args.runs {
        None => Ok(1),
        Some(0) => Err(UsageError(
            "invalid value '0' for '--runs <N>': run each pass 1 or more times".into(),
        )),
        Some(_) if comparison(args).is_none() => Err(UsageError(
            "'--runs' repeats the passes of a comparison: add --compare or --compare-modes".into(),
        )),
        Some(n) => Ok(n),
    }
}

fn last_failed(args: &RunArgs) -> LastFailed {
    if args.last_failed {
        LastFailed::RunOnly
    } else if args.failed_first {
        LastFailed::RunFirst
    } else {
        LastFailed::Ignore
    }
}

/// The number of logical CPUs this process may run on (affinity mask and cgroup quota).
pub fn available_cpus() -> usize {
    num_cpus::get().max(1)
}

/// `auto`, or a whole number; 0 and 1 both mean one test at a time.
pub fn parse_jobs(value: &str) -> Result<Workers, UsageError> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("auto") {
        return Ok(Workers::Auto);
    }
    match value.parse::<usize>() {
        Ok(n) => Ok(Workers::Count(n.max(1))),
        Err(_) => Err(UsageError(format!(
            "invalid value '{value}' for '--jobs <N|auto>': expected a whole number of workers (e.g. -n4) or 'auto'"
        ))),
    }
}

/// `500ms`, `2s`, `1m30s`, `2m`: a duration as people write it.
pub fn parse_duration(flag: &str, value: &str) -> Result<Duration, UsageError> {
    humantime::parse_duration(value.trim()).map_err(|e| {
        UsageError(format!(
            "invalid value '{value}' for '{flag}': {e} (write durations like 500ms, 2s or 1m30s)"
        ))
    })
}

fn color_enabled(choice: ColorChoice) -> bool {
    use std::io::IsTerminal;
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        }
    }
}

#[cfg(test)]
mod tests;
