//! The programs every test binary starts through, resolved once: the profile's `wrapper`, and
//! the target runner cargo's settings name for the target the tests are built for (see
//! [`crate::launch`] for how the two combine).

use super::args::RunArgs;
use super::cargo_config::{self, Surroundings};
use super::config_file::{FileConfig, Profile};
use super::settings::UsageError;
use crate::launch::Launcher;

/// The wrapper and target runner of this run; a wrong cargo setting is a usage error naming it.
pub(super) fn launcher(
    args: &RunArgs,
    file: &FileConfig,
    profile: &Profile,
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
    Ok(Launcher {
        wrapper: wrapper.map(|w| w.0).unwrap_or_default(),
        runner: runners.target.map(|r| r.argv).unwrap_or_default(),
        host_runner: runners.host.map(|r| r.argv).unwrap_or_default(),
    })
}
