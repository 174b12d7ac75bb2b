//! Which config file applies to a run (`--config-file`, else the one found from the workspace
//! up) and which of its profiles (`--profile`, `RUNNER_PROFILE`, else `default`), with what
//! that profile inherits.

use std::path::PathBuf;

use super::args::RunArgs;
use super::config_file::{FileConfig, ResolvedProfile};
use super::settings::UsageError;

/// The file of a run and its chosen profile.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub file: FileConfig,
    /// Where the file was read from; `None` when there is none.
    pub path: Option<PathBuf>,
    /// The chosen profile's name; `None` when the file has no `default` and none was asked.
    pub name: Option<String>,
    pub profile: ResolvedProfile,
}

/// The config file that applies to this run, and the profile chosen by `--profile` (or
/// `RUNNER_PROFILE`), else the file's `default` profile, else no settings at all.
pub fn load_profile(args: &RunArgs) -> Result<Loaded, UsageError> {
    let path = match &args.settings.config_file {
        Some(path) if !path.is_file() => {
            return Err(UsageError(format!(
                "--config-file {}: no such file",
                path.display()
            )))
        }
        Some(path) => Some(std::path::absolute(path).unwrap_or_else(|_| path.clone())),
        None => {
            // The file belongs to the workspace being tested, not to wherever the runner was
            // started.
            let start = match &args.cargo.manifest_path {
                Some(path) => std::path::absolute(path)
                    .ok()
                    .and_then(|p| p.parent().map(PathBuf::from)),
                None => std::env::current_dir().ok(),
            };
            start.as_deref().and_then(FileConfig::find)
        }
    };
    let file = match &path {
        Some(path) => FileConfig::load(path).map_err(|e| UsageError(e.to_string()))?,
        None => FileConfig::default(),
    };
    let resolve = |name: &str| {
        file.resolve_profile(name)
            .map_err(|e| UsageError(e.to_string()))
    };
    let (name, profile) = match args.settings.profile.as_deref() {
        Some(name) => match resolve(name)? {
            Some(profile) => (Some(name.to_string()), profile),
            None => {
                let known = file.profile_names();
                let guess = crate::closest::closest(name, known.iter().copied())
                    .map_or(String::new(), |close| format!("did you mean '{close}'? "));
                return Err(UsageError(format!(
                    "unknown profile '{name}': {guess}the config file defines {}",
                    if known.is_empty() {
                        "none (add [profile.NAME] to .config/runner.toml)".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        },
        None => match resolve("default")? {
            Some(profile) => (Some("default".to_string()), profile),
            None => (None, ResolvedProfile::default()),
        },
    };
    Ok(Loaded {
        file,
        path,
        name,
        profile,
    })
}
