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
use super::config_file::{FileConfig, Profile};
use super::settings::*;
use crate::plan::order::{self, Order};
use crate::plan::partition::Partition;
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
            Some(args::Command::Predict(args)) => (Mode::Predict, args),
            _ => (Mode::Run, run),
        };
        Self::from_args(mode, args)
    }

    fn from_args(mode: Mode, args: RunArgs) -> Result<Self, UsageError> {
        let (file, profile) = load_profile(&args)?;
        let groups = TestGroups::compile(&file.group).map_err(UsageError)?;
        let jobs = jobs(args.jobs.as_deref(), &profile)?;
        let max_failures = max_failures(&args, &profile)?;
        let timeouts = Timeouts::resolve(&args, &profile)?;
        let no_tests = match args.no_tests.or(profile.no_tests).unwrap_or_default() {
            NoTestsChoice::Pass => NoTests::Pass,
            NoTestsChoice::Warn => NoTests::Warn,
            NoTestsChoice::Fail => NoTests::Fail,
        };
        let order = match args.order.or(profile.order).unwrap_or_default() {
            OrderChoice::Auto => Order::Auto,
            OrderChoice::Name => Order::Name,
            OrderChoice::Random => Order::Random(args.seed.unwrap_or_else(order::random_seed)),
        };
        let partition = args
            .partition
            .as_deref()
            .map(|spec| Partition::parse(spec, &|name| std::env::var(name).ok()))
            .transpose()
            .map_err(UsageError)?;
        Ok(RunConfig {
            mode,
            selection: selection(&args),
            jobs,
            max_failures,
            verbosity: verbosity(&args),
            color: color_enabled(args.color),
            json: args.message_format == MessageFormat::Json,
            list_json: args.list_format == ListFormat::Json,
            no_tests,
            comparison: comparison(&args),
            slow_timeout: timeouts.slow_timeout,
            timeout: timeouts.timeout,
            timeout_grace: timeouts.timeout_grace,
            leak_timeout: timeouts.leak_timeout,
            list_timeout: timeouts.list_timeout,
            retries: args.retries.or(profile.retries).unwrap_or(0),
            policy: policy(&args, &profile),
            junit: args.junit.clone().or(profile.junit),
            batch_all: args.batch || profile.batch.unwrap_or(false),
            batch_rules: file
                .batch
                .iter()
                .map(|spec| BatchRule {
                    filter: spec.filter.clone(),
                    batched: spec.batch,
                })
                .collect(),
            partition,
            groups,
            order,
            last_failed: last_failed(&args),
            source: source(args.binaries, args.cargo)?,
        })
    }
}

/// The config file that applies to this run, and the profile chosen by `--profile` (or
/// `RUNNER_PROFILE`), else the file's `default` profile, else no settings at all.
fn load_profile(args: &RunArgs) -> Result<(FileConfig, Profile), UsageError> {
    // The file belongs to the workspace being tested, not to wherever the runner was started.
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
    Ok((file, profile))
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
    } else {
        args.maxfail.or(profile.fail_fast)
    })
}

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
        Ok(Timeouts {
            slow_timeout: duration("--slow-timeout", &args.slow_timeout, profile.slow_timeout)?,
            timeout: duration("--timeout", &args.timeout, profile.timeout)?,
            timeout_grace: duration(
                "--timeout-grace",
                &args.timeout_grace,
                profile.timeout_grace,
            )?
            .unwrap_or(Duration::from_secs(5)),
            leak_timeout: duration("--leak-timeout", &args.leak_timeout, profile.leak_timeout)?
                .unwrap_or(Duration::from_millis(200)),
            list_timeout: duration("--list-timeout", &args.list_timeout, profile.list_timeout)?
                .unwrap_or(Duration::from_secs(60)),
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

/// Cargo builds the binaries, unless `--binary` names them; cargo's flags then mean nothing.
fn source(binaries: Vec<PathBuf>, cargo: CargoArgs) -> Result<Source, UsageError> {
    let cargo = CargoOptions::from(cargo);
    if binaries.is_empty() {
        return Ok(Source::Cargo(cargo));
    }
    if let Some(flag) = cargo.selection.iter().chain(&cargo.build).next() {
        return Err(UsageError(format!(
            "'{flag}' is a cargo option and cannot be used with '--binary': drop one of them"
        )));
    }
    Ok(Source::Binaries(binaries))
}

fn selection(args: &RunArgs) -> Selection {
    let ignored = if args.ignored {
        IgnoredPolicy::Only
    } else if args.include_ignored {
        IgnoredPolicy::Include
    } else {
        IgnoredPolicy::Skip
    };
    Selection {
        filters: args.filters.clone(),
        skip: args.skip.clone(),
        exact: args.exact,
        ignored,
    }
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
mod tests {
    use super::*;

    /// The arguments as clap fills them when no flag is given.
    fn defaults() -> RunArgs {
        use clap::Parser;
        args::Cli::try_parse_from(["runner"]).unwrap().run
    }

    #[test]
    fn jobs_values() {
        assert_eq!(parse_jobs("4").unwrap(), Workers::Count(4));
        assert_eq!(parse_jobs("0").unwrap(), Workers::Count(1));
        assert_eq!(parse_jobs("1").unwrap(), Workers::Count(1));
        assert_eq!(parse_jobs("64").unwrap(), Workers::Count(64));
        assert_eq!(parse_jobs("auto").unwrap(), Workers::Auto);
        assert_eq!(parse_jobs(" AUTO ").unwrap(), Workers::Auto);
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

    /// Profile `p` of a config file.
    fn profile(text: &str) -> Profile {
        let path = std::path::Path::new("/ws/runner.toml");
        FileConfig::parse(text, path).unwrap().profile("p").unwrap()
    }

    #[test]
    fn profile_values_resolve_like_flags_and_yield_to_them() {
        let p = profile(
            "[profile.p]\njobs = 0\nfail-fast = 3\ntimeout = \"1m30s\"\nleak-timeout = \"1s\"\n\
             flaky-result = \"fail\"\n",
        );
        assert_eq!(
            jobs(None, &p).unwrap(),
            Workers::Count(1),
            "0 means one at a time, as -n0"
        );
        assert_eq!(jobs(Some("3"), &p).unwrap(), Workers::Count(3));
        let auto = profile("[profile.p]\njobs = \"auto\"\n");
        assert_eq!(jobs(None, &auto).unwrap(), Workers::Auto);
        assert_eq!(jobs(Some("2"), &auto).unwrap(), Workers::Count(2));
        assert_eq!(
            jobs(None, &profile("[profile.p]\n")).unwrap(),
            Workers::Auto
        );
        let args = defaults();
        assert_eq!(max_failures(&args, &p).unwrap(), Some(3));
        let timeouts = Timeouts::resolve(&args, &p).unwrap();
        assert_eq!(timeouts.timeout, Some(Duration::from_secs(90)));
        assert_eq!(timeouts.leak_timeout, Duration::from_secs(1));
        assert_eq!(timeouts.timeout_grace, Duration::from_secs(5));
        assert_eq!(timeouts.slow_timeout, None);
        assert!(policy(&args, &p).flaky_fails && !policy(&args, &p).leak_fails);
        let args = RunArgs {
            maxfail: Some(5),
            timeout: Some("2s".into()),
            flaky_result: Some(PassOrFail::Pass),
            ..defaults()
        };
        assert_eq!(max_failures(&args, &p).unwrap(), Some(5));
        let timeouts = Timeouts::resolve(&args, &p).unwrap();
        assert_eq!(timeouts.timeout, Some(Duration::from_secs(2)));
        assert!(!policy(&args, &p).flaky_fails);
    }

    #[test]
    fn profile_jobs_error_names_place_key_and_profile() {
        let p = profile("[profile.p]\njobs = \"lots\"\n");
        let err = jobs(None, &p).unwrap_err().to_string();
        assert!(
            err.starts_with("/ws/runner.toml:2:8: 'jobs' in [profile.p]: invalid value 'lots' for '--jobs <N|auto>'"),
            "{err}"
        );
        let err = jobs(None, &profile("[profile.p]\njobs = -3\n")).unwrap_err();
        assert!(
            err.to_string().starts_with("/ws/runner.toml:2:8: 'jobs'"),
            "{err}"
        );
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
