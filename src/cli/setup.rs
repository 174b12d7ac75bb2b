//! Setup scripts as a run uses them: each `[script.NAME]`'s command and timeout, and the
//! chosen profile's `[[profile.NAME.scripts]]` scopes, their filters parsed and their script
//! names checked against the `[script.*]` tables.

use std::path::PathBuf;
use std::time::Duration;

use super::config_file::{FileConfig, Profile};
use super::settings::UsageError;
use crate::filter::{Filter, TestFacts};

/// The setup scripts of a run and the tests each applies to.
#[derive(Debug, Clone, Default)]
pub struct SetupConfig {
    pub scripts: Vec<SetupScript>,
    pub scopes: Vec<ScriptScope>,
    /// Where scripts run: the directory the config file belongs to.
    pub dir: PathBuf,
}

/// One `[script.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupScript {
    pub name: String,
    pub command: Vec<String>,
    pub timeout: Option<Duration>,
}

/// One `[[profile.NAME.scripts]]`: the tests matching `filter` need `scripts` (indices into
/// [`SetupConfig::scripts`]), in that order.
#[derive(Debug, Clone)]
pub struct ScriptScope {
    pub filter: Filter,
    pub scripts: Vec<usize>,
}

impl SetupConfig {
    /// The scripts a test needs, in the order they run: every matching scope's, in the order
    /// the profile lists them, each script once.
    pub fn scripts_for(&self, facts: &TestFacts) -> Vec<usize> {
        let mut needed = Vec::new();
        for scope in self.scopes.iter().filter(|s| s.filter.matches(facts)) {
            for &script in &scope.scripts {
                if !needed.contains(&script) {
                    needed.push(script);
                }
            }
        }
        needed
    }
}

/// The scripts and scopes of `profile`; a filter that does not parse, or a script no table
/// defines, is a usage error naming the profile.
pub(super) fn resolve(file: &FileConfig, profile: &Profile) -> Result<SetupConfig, UsageError> {
    let scripts: Vec<SetupScript> = file
        .script
        .iter()
        .flatten()
        .map(|(name, spec)| {
            let mut command = spec.command.clone();
            command.resolve_against(&file.root);
            SetupScript {
                name: name.clone(),
                command: command.0,
                timeout: spec.timeout,
            }
        })
        .collect();
    let mut scopes = Vec::new();
    for rule in profile.scripts.iter().flatten() {
        let filter = Filter::parse_config(&rule.filter).map_err(|e| {
            UsageError(format!(
                "{}: the filter of a [[scripts]] table: {e}",
                profile.table()
            ))
        })?;
        let indices = rule
            .setup
            .names()
            .iter()
            .map(|name| {
                scripts
                    .iter()
                    .position(|s| &s.name == name)
                    .ok_or_else(|| unknown_script(profile, name, &scripts))
            })
            .collect::<Result<_, _>>()?;
        scopes.push(ScriptScope {
            filter,
            scripts: indices,
        });
    }
    Ok(SetupConfig {
        scripts,
        scopes,
        dir: file.root.clone(),
    })
}

fn unknown_script(profile: &Profile, name: &str, scripts: &[SetupScript]) -> UsageError {
    let names = || scripts.iter().map(|s| s.name.as_str());
    let hint = match crate::closest::closest(name, names()) {
        _ if scripts.is_empty() => "the file defines no [script.NAME] table".to_string(),
        Some(close) => format!("did you mean '{close}'?"),
        None => format!(
            "the file defines {}",
            names().collect::<Vec<_>>().join(", ")
        ),
    };
    UsageError(format!(
        "{}: a [[scripts]] table sets up '{name}', but no [script.{name}] defines it; {hint}",
        profile.table()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn resolved(text: &str) -> Result<SetupConfig, String> {
        let file = FileConfig::parse(text, Path::new("/ws/.config/runner.toml")).unwrap();
        let profile = file.profile("p").unwrap();
        resolve(&file, &profile).map_err(|e| e.0)
    }

    #[test]
    fn scopes_collect_their_scripts_in_order_once() {
        let setup = resolved(
            "[script.db]\ncommand = \"scripts/db.sh --fresh\"\ntimeout = \"30s\"\n\
             [script.web]\ncommand = [\"python3\", \"-m\", \"http.server\"]\n\
             [[profile.p.scripts]]\nfilter = \"test(~http)\"\nsetup = [\"web\", \"db\"]\n\
             [[profile.p.scripts]]\nfilter = \"package(app)\"\nsetup = \"db\"\n",
        )
        .unwrap();
        assert_eq!(setup.dir, Path::new("/ws"));
        let db = &setup.scripts[0];
        assert_eq!(db.command, ["/ws/scripts/db.sh", "--fresh"]);
        assert_eq!(db.timeout, Some(Duration::from_secs(30)));
        let names = |indices: Vec<usize>| -> Vec<String> {
            indices
                .iter()
                .map(|&i| setup.scripts[i].name.clone())
                .collect()
        };
        assert_eq!(
            names(setup.scripts_for(&TestFacts::lib_test("app", "http_get"))),
            ["web", "db"]
        );
        assert_eq!(
            names(setup.scripts_for(&TestFacts::lib_test("app", "parse"))),
            ["db"]
        );
        assert!(setup
            .scripts_for(&TestFacts::lib_test("other", "parse"))
            .is_empty());
    }

    #[test]
    fn unknown_scripts_and_bad_filters_are_named() {
        let err = resolved(
            "[script.server]\ncommand = \"x\"\n[[profile.p.scripts]]\nfilter = \"all()\"\nsetup = \"srever\"\n",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "/ws/.config/runner.toml: [profile.p]: a [[scripts]] table sets up 'srever', but no \
             [script.srever] defines it; did you mean 'server'?"
        );
        let err = resolved(
            "[script.server]\ncommand = \"x\"\n[script.db]\ncommand = \"y\"\n\
             [[profile.p.scripts]]\nfilter = \"all()\"\nsetup = \"queue\"\n",
        )
        .unwrap_err();
        assert!(err.ends_with("the file defines db, server"), "{err}");
        let err =
            resolved("[[profile.p.scripts]]\nfilter = \"test(\"\nsetup = \"x\"\n").unwrap_err();
        assert!(err.starts_with("/ws/.config/runner.toml: [profile.p]: the filter of a [[scripts]] table: invalid filter expression at column"), "{err}");
    }
}
