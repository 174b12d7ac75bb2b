//! Unit tests of resolving flags and profiles into a RunConfig.

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
    super::super::config_file::FileConfig::parse(text, path)
        .unwrap()
        .profile("p")
        .unwrap()
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
    let args = defaults();
    assert_eq!(max_failures(&args, &p).unwrap(), Some(3));
    let timeouts = Timeouts::resolve(&args, &p).unwrap();
    assert_eq!(timeouts.timeout, Some(Duration::from_secs(90)));
    assert_eq!(timeouts.leak_timeout, Duration::from_secs(1));
    assert_eq!(timeouts.timeout_grace, Duration::from_secs(5));
    assert_eq!(timeouts.slow_timeout, Some(DEFAULT_SLOW_TIMEOUT));
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
