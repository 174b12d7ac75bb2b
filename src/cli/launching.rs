//! The programs every test binary starts through, resolved once: the profile's `wrapper`, and
//! the target runner cargo's settings name for the target the tests are built for (see
//! [`crate::launch`] for how the two combine).

use super::args::RunArgs;
use super::cargo_config::{self, Surroundings};
use super::config_file::{FileConfig, Profile};
use super::explain::Explain;
use super::settings::UsageError;
use crate::launch::Launcher;

/// The wrapper and target runner of this run, where the runners were set noted in `explain`;
/// a wrong cargo setting, or (when `check_programs`) a program that cannot be found, is a usage
/// error naming it.
pub(super) fn launcher(
    args: &RunArgs,
    file: &FileConfig,
    profile: &Profile,
    check_programs: bool,
    explain: &mut Explain,
) -> Result<Launcher, UsageError> {
    // cargo reads its config from the directory it is started in, whatever --manifest-path
    // says; so does the runner.
    let cwd = std::env::current_dir()
        .map_err(|e| UsageError(format!("cannot read the current directory: {e}")))?;
    let env = |name: &str| std::env::var(name).ok();
    let around = Surroundings {
        cwd: &cwd,
        env: &env,
        runner_variables: cargo_config::runner_variables_set(),
        host: &cargo_config::host_triple,
        cfg: &cargo_config::target_cfg,
    };
    let runners = cargo_config::target_runners(args.cargo.target.as_deref(), &around)
        .map_err(|e| UsageError(format!("{e} (cargo's target runner setting)")))?;
    let mut wrapper = profile.wrapper.clone();
    if let Some(wrapper) = &mut wrapper {
        wrapper.resolve_against(&file.root);
    }
    if check_programs {
        if let Some(wrapper) = &wrapper {
            let setting = format!("`wrapper` of profile '{}'", explain_profile(explain));
            must_exist(&wrapper.0, &setting)?;
        }
        for runner in runners.target.iter().chain(&runners.host) {
            must_exist(&runner.argv, &runner.origin)?;
        }
    }
    explain.runner_from = runners.target.as_ref().map(|r| r.origin.clone());
    explain.host_runner_from = runners.host.as_ref().map(|r| r.origin.clone());
    Ok(Launcher {
        wrapper: wrapper.map(|w| w.0).unwrap_or_default(),
        runner: runners.target.map(|r| r.argv).unwrap_or_default(),
        host_runner: runners.host.map(|r| r.argv).unwrap_or_default(),
    })
}

/// The profile a wrapper was set in, for its error message.
fn explain_profile(explain: &Explain) -> &str {
    explain.wrapper_from.as_deref().unwrap_or("default")
}

/// A wrapper or runner whose program cannot be found would fail every listing and every
/// test with the same error; say it once, before building, as a usage error.
fn must_exist(argv: &[String], setting: &str) -> Result<(), UsageError> {
    let Some(program) = argv.first() else {
        return Ok(());
    };
    match which::which(program) {
        Ok(_) => Ok(()),
        Err(_) => Err(UsageError(format!(
            "{setting}: cannot find the program `{program}` (not an executable file, and not on \
             PATH); install it or correct the setting"
        ))),
    }
}
