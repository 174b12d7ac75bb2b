//! Resolved, validated, clap-free settings for one invocation.
//!
//! Everything after argument parsing reads a [`RunConfig`]; values are checked here once so that
//! later stages never see a bad one.

use std::path::PathBuf;
use std::time::Duration;

use super::args::{
    self, CargoArgs, ColorChoice, ListFormat, MessageFormat, NoTestsChoice, OrderChoice,
    PassOrFail, RunArgs,
};
use super::config_file::{FileConfig, FileConfigError, Located};
use crate::plan::order::{self, Order};
use crate::plan::partition::Partition;
use crate::report::event::ResultPolicy;
use crate::run::groups::TestGroups;
use clap::ValueEnum;

/// A usage error: one line, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Run,
    List,
}

/// How test names are matched against the user's filters.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filters: Vec<String>,
    pub skip: Vec<String>,
    pub exact: bool,
    pub ignored: IgnoredPolicy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IgnoredPolicy {
    /// Ignored tests are reported as skipped.
    #[default]
    Skip,
    /// Only ignored tests run.
    Only,
    /// Ignored tests run along with the others.
    Include,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTests {
    Pass,
    Warn,
    Fail,
}

/// Where test binaries come from.
#[derive(Debug, Clone)]
pub enum Source {
    Cargo(CargoOptions),
    Binaries(Vec<PathBuf>),
}

/// The cargo flags of this run, already in cargo's spelling.
#[derive(Debug, Clone, Default)]
pub struct CargoOptions {
    /// Which packages and targets (`--package`, `--lib`, `--test NAME`...).
    pub selection: Vec<String>,
    /// How they are built (`--manifest-path`, `--features`, `--release`...).
    pub build: Vec<String>,
    pub manifest_path: Option<PathBuf>,
    pub target_dir: Option<PathBuf>,
    pub locked: bool,
    pub offline: bool,
}

impl From<CargoArgs> for CargoOptions {
    fn from(args: CargoArgs) -> Self {
        CargoOptions {
            selection: args.selection_args(),
            build: args.build_args(),
            manifest_path: args.manifest_path,
            target_dir: args.target_dir,
            locked: args.locked,
            offline: args.offline,
        }
    }
}

/// A run that runs the selection twice and compares the passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `--compare`: one worker, then `-n` workers.
    SerialParallel,
    /// `--compare-modes`: one process per test, then batched.
    ProcessBatch,
}

/// What `--lf` and `--ff` ask of the tests that failed last time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LastFailed {
    /// Run the selection as it is.
    #[default]
    Ignore,
    /// `--lf`: only the tests that failed (all of them if none did).
    RunOnly,
    /// `--ff`: the tests that failed first, then the rest.
    RunFirst,
}

/// One `[[batch]]` table: binaries whose id contains `filter` run batched, or never batched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRule {
    pub filter: String,
    pub batched: bool,
}

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub mode: Mode,
    pub source: Source,
    pub selection: Selection,
    pub jobs: usize,
    /// Stop starting tests once this many have failed.
    pub max_failures: Option<usize>,
    pub verbosity: Verbosity,
    pub color: bool,
    pub json: bool,
    pub list_json: bool,
    pub no_tests: NoTests,
    pub comparison: Option<Comparison>,
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
    pub groups: TestGroups,
    pub partition: Option<Partition>,
    /// Batch every binary (`--batch`, or `batch = true` in the profile).
    pub batch_all: bool,
    /// Per-binary choices from `[[batch]]` tables, first match wins.
    pub batch_rules: Vec<BatchRule>,
}

impl RunConfig {
    /// The settings of a run or a listing; the other subcommands are handled before this.
    pub fn from_cli(command: Option<args::Command>, run: RunArgs) -> Result<Self, UsageError> {
        let (mode, args) = match command {
            Some(args::Command::Run(args)) => (Mode::Run, args),
            Some(args::Command::List(args)) => (Mode::List, args),
            _ => (Mode::Run, run),
        };
        Self::from_args(mode, args)
    }

    fn from_args(mode: Mode, args: RunArgs) -> Result<Self, UsageError> {
        let start = match &args.cargo.manifest_path {
            Some(path) => std::path::absolute(path)
                .ok()
                .and_then(|p| p.parent().map(PathBuf::from)),
            None => std::env::current_dir().ok(),
        };
        let file = match start.as_deref().and_then(FileConfig::find) {
            Some(path) => FileConfig::load(&path).map_err(|e| UsageError(e.to_string()))?,
            None => FileConfig::default(),
        };
        let profile = match args.profile.as_deref() {
            Some(name) => file.profile(name).ok_or_else(|| {
                let known = file.profile_names();
                UsageError(format!(
                    "unknown profile '{name}': the config file defines {}",
                    if known.is_empty() {
                        "none (add [profile.NAME] to .config/runner.toml)".to_string()
                    } else {
                        known.join(", ")
                    }
                ))
            })?,
            None => file.profile("default").unwrap_or_default(),
        };
        let bad_file = |e: FileConfigError| UsageError(e.to_string());
        let groups = TestGroups::compile(&file.group).map_err(UsageError)?;

        let jobs = match (&args.jobs, profile.jobs().map_err(bad_file)?) {
            (Some(value), _) => parse_jobs(value)?,
            (None, Some(value)) => from_profile(&value, parse_jobs)?,
            (None, None) => available_cpus(),
        };
        if args.maxfail == Some(0) {
            return Err(UsageError(
                "invalid value '0' for '--maxfail <N>': use a number of failures of 1 or more"
                    .into(),
            ));
        }
        let max_failures = if args.exitfirst {
            Some(1)
        } else if args.maxfail.is_some() {
            args.maxfail
        } else {
            profile.fail_fast().map_err(bad_file)?
        };
        // The command line's value, else the profile's (checked the same way), else none.
        let duration = |flag: &str, cli: &Option<String>| -> Result<Option<Duration>, UsageError> {
            if let Some(value) = cli {
                return parse_duration(flag, value).map(Some);
            }
            match profile
                .text(flag.trim_start_matches('-'))
                .map_err(bad_file)?
            {
                Some(value) => from_profile(&value, |v| parse_duration(flag, v)).map(Some),
                None => Ok(None),
            }
        };
        let choice = |key: &str| profile.text(key).map_err(bad_file);
        let leak_result = pick(args.leak_result, choice("leak-result")?)?;
        let flaky_result = pick(args.flaky_result, choice("flaky-result")?)?;
        let no_tests = pick(args.no_tests, choice("no-tests")?)?;
        let order_choice = pick(args.order, choice("order")?)?;
        let cargo = CargoOptions::from(args.cargo);
        let source = if args.binaries.is_empty() {
            Source::Cargo(cargo)
        } else {
            if let Some(flag) = cargo.selection.iter().chain(&cargo.build).next() {
                return Err(UsageError(format!(
                    "'{flag}' is a cargo option and cannot be used with '--binary': drop one of them"
                )));
            }
            Source::Binaries(args.binaries)
        };
        let ignored = if args.ignored {
            IgnoredPolicy::Only
        } else if args.include_ignored {
            IgnoredPolicy::Include
        } else {
            IgnoredPolicy::Skip
        };
        let verbosity = if args.verbose {
            Verbosity::Verbose
        } else if args.quiet {
            Verbosity::Quiet
        } else {
            Verbosity::Normal
        };
        Ok(RunConfig {
            mode,
            source,
            selection: Selection {
                filters: args.filters,
                skip: args.skip,
                exact: args.exact,
                ignored,
            },
            jobs,
            max_failures,
            verbosity,
            color: color_enabled(args.color),
            json: args.message_format == MessageFormat::Json,
            list_json: args.list_format == ListFormat::Json,
            no_tests: match no_tests {
                NoTestsChoice::Pass => NoTests::Pass,
                NoTestsChoice::Warn => NoTests::Warn,
                NoTestsChoice::Fail => NoTests::Fail,
            },
            comparison: if args.compare {
                Some(Comparison::SerialParallel)
            } else if args.compare_modes {
                Some(Comparison::ProcessBatch)
            } else {
                None
            },
            slow_timeout: duration("--slow-timeout", &args.slow_timeout)?,
            timeout: duration("--timeout", &args.timeout)?,
            timeout_grace: duration("--timeout-grace", &args.timeout_grace)?
                .unwrap_or(Duration::from_secs(5)),
            leak_timeout: duration("--leak-timeout", &args.leak_timeout)?
                .unwrap_or(Duration::from_millis(200)),
            retries: match args.retries {
                Some(n) => n,
                None => profile.count("retries").map_err(bad_file)?.unwrap_or(0),
            },
            policy: ResultPolicy {
                leak_fails: leak_result == PassOrFail::Fail,
                flaky_fails: flaky_result == PassOrFail::Fail,
            },
            list_timeout: duration("--list-timeout", &args.list_timeout)?
                .unwrap_or(Duration::from_secs(60)),
            junit: match args.junit {
                Some(path) => Some(path),
                None => profile.path("junit").map_err(bad_file)?,
            },
            batch_all: args.batch || profile.flag("batch").map_err(bad_file)?.unwrap_or(false),
            batch_rules: file
                .batch
                .iter()
                .map(|spec| BatchRule {
                    filter: spec.filter.clone(),
                    batched: spec.batch,
                })
                .collect(),
            partition: args
                .partition
                .as_deref()
                .map(|spec| Partition::parse(spec, &|name| std::env::var(name).ok()))
                .transpose()
                .map_err(UsageError)?,
            groups,
            order: match order_choice {
                OrderChoice::Auto => Order::Auto,
                OrderChoice::Name => Order::Name,
                OrderChoice::Random => Order::Random(args.seed.unwrap_or_else(order::random_seed)),
            },
            last_failed: if args.last_failed {
                LastFailed::RunOnly
            } else if args.failed_first {
                LastFailed::RunFirst
            } else {
                LastFailed::Ignore
            },
        })
    }
}

/// A value from the command line, else from the profile (checked like the flag), else the
/// built-in default.
fn pick<T: ValueEnum + Default>(cli: Option<T>, profile: Option<Located>) -> Result<T, UsageError> {
    if let Some(value) = cli {
        return Ok(value);
    }
    match profile {
        None => Ok(T::default()),
        Some(located) => from_profile(&located, |text| {
            T::from_str(text, true).map_err(|_| {
                let allowed: Vec<String> = T::value_variants()
                    .iter()
                    .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
                    .collect();
                UsageError(format!("'{text}' is not one of {}", allowed.join(", ")))
            })
        }),
    }
}

/// Check a profile value with the flag's own parser; an error names the file, line and key.
fn from_profile<T>(
    located: &Located,
    parse: impl Fn(&str) -> Result<T, UsageError>,
) -> Result<T, UsageError> {
    parse(&located.value).map_err(|e| UsageError(format!("{}: {e}", located.describe)))
}

/// The number of logical CPUs this process may run on (affinity mask and cgroup quota).
pub fn available_cpus() -> usize {
    num_cpus::get().max(1)
}

/// `auto`, or a whole number; 0 and 1 both mean one test at a time.
pub fn parse_jobs(value: &str) -> Result<usize, UsageError> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("auto") {
        return Ok(available_cpus());
    }
    match value.parse::<usize>() {
        Ok(n) => Ok(n.max(1)),
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
mod tests {
    use super::*;

    /// The arguments as clap fills them when no flag is given.
    fn defaults() -> RunArgs {
        use clap::Parser;
        args::Cli::try_parse_from(["runner"]).unwrap().run
    }

    #[test]
    fn jobs_values() {
        assert_eq!(parse_jobs("4").unwrap(), 4);
        assert_eq!(parse_jobs("0").unwrap(), 1);
        assert_eq!(parse_jobs("1").unwrap(), 1);
        assert_eq!(parse_jobs("64").unwrap(), 64);
        assert_eq!(parse_jobs("auto").unwrap(), available_cpus());
        for bad in ["x", "-3", "", "4.5"] {
            let err = parse_jobs(bad).unwrap_err().to_string();
            assert!(err.contains("--jobs"), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("-", "500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(parse_duration("-", "2s").unwrap(), Duration::from_secs(2));
        assert_eq!(
            parse_duration("-", "1m30s").unwrap(),
            Duration::from_secs(90)
        );
        let err = parse_duration("--timeout", "soon").unwrap_err().to_string();
        assert!(err.contains("--timeout") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn binary_mode_rejects_cargo_flags() {
        let args = RunArgs {
            binaries: vec!["/bin/true".into()],
            cargo: CargoArgs {
                release: true,
                ..Default::default()
            },
            jobs: Some("1".into()),
            ..defaults()
        };
        let err = RunConfig::from_args(Mode::Run, args).unwrap_err();
        assert!(err.to_string().contains("--release"));
    }

    #[test]
    fn exitfirst_is_maxfail_one() {
        let args = RunArgs {
            exitfirst: true,
            jobs: Some("2".into()),
            ..defaults()
        };
        let config = RunConfig::from_args(Mode::Run, args).unwrap();
        assert_eq!(config.max_failures, Some(1));
    }
}
