//! Profile inheritance: `inherits = "NAME"` takes every key the profile leaves out from
//! another profile, whose own `inherits` is followed in turn; a cycle or an unknown parent is
//! an error naming the chain.

use super::{FileConfig, FileConfigError, OverrideSpec, Profile};

/// A profile with what it inherits filled in.
#[derive(Debug, Clone, Default)]
pub struct ResolvedProfile {
    /// Every key: the profile's own, else the nearest ancestor's.
    pub settings: Profile,
    /// The profile's name, then the names it inherits from, nearest first.
    pub chain: Vec<String>,
    /// Its own overrides first, then each ancestor's, as nextest orders them.
    pub overrides: Vec<OverrideSpec>,
    /// The profiles of the chain as written, for saying where a value comes from.
    layers: Vec<Profile>,
}

/// Copy into `child` every key it leaves out that `parent` sets.
fn inherit(child: &mut Profile, parent: &Profile) {
    macro_rules! take {
        ($($field:ident),*) => {
            $(if child.$field.is_none() {
                child.$field = parent.$field.clone();
            })*
        };
    }
    take!(
        jobs,
        retries,
        timeout,
        slow_timeout,
        timeout_grace,
        leak_timeout,
        list_timeout,
        leak_result,
        flaky_result,
        order,
        no_tests,
        fail_fast,
        junit,
        batch,
        timeline,
        doc,
        wrapper,
        scripts
    );
}

/// The config-file keys a profile sets itself, by their names in the file.
fn keys_set(profile: &Profile) -> Vec<&'static str> {
    let p = profile;
    [
        ("jobs", p.jobs.is_some()),
        ("retries", p.retries.is_some()),
        ("timeout", p.timeout.is_some()),
        ("slow-timeout", p.slow_timeout.is_some()),
        ("timeout-grace", p.timeout_grace.is_some()),
        ("leak-timeout", p.leak_timeout.is_some()),
        ("list-timeout", p.list_timeout.is_some()),
        ("leak-result", p.leak_result.is_some()),
        ("flaky-result", p.flaky_result.is_some()),
        ("order", p.order.is_some()),
        ("no-tests", p.no_tests.is_some()),
        ("fail-fast", p.fail_fast.is_some()),
        ("junit", p.junit.is_some()),
        ("batch", p.batch.is_some()),
        ("timeline", p.timeline.is_some()),
        ("doc", p.doc.is_some()),
        ("wrapper", p.wrapper.is_some()),
        ("scripts", p.scripts.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, set)| set.then_some(key))
    .collect()
}

impl ResolvedProfile {
    /// The profile of the chain that sets `key` (a config-file key name), if any.
    pub fn source_of(&self, key: &str) -> Option<&str> {
        self.layers
            .iter()
            .zip(&self.chain)
            .find(|(layer, _)| keys_set(layer).contains(&key))
            .map(|(_, name)| name.as_str())
    }
}

impl FileConfig {
    /// What `profile` inherits from: its `inherits`, or else `default` (when the file defines
    /// it), as every nextest profile does.
    fn parent_of<'a>(&'a self, name: &str, profile: &'a Profile) -> Option<&'a str> {
        match &profile.inherits {
            Some(parent) => Some(parent),
            None if name != "default" && self.profile.contains_key("default") => Some("default"),
            None => None,
        }
    }

    /// The profile called `name` with what it inherits; `None` if the file does not define it.
    pub fn resolve_profile(&self, name: &str) -> Result<Option<ResolvedProfile>, FileConfigError> {
        let Some(first) = self.profile.get(name) else {
            return Ok(None);
        };
        let mut resolved = ResolvedProfile {
            settings: first.clone(),
            chain: vec![name.to_string()],
            overrides: first.overrides.clone(),
            layers: vec![first.clone()],
        };
        let mut current = first;
        let mut current_name = name;
        while let Some(parent_name) = self.parent_of(current_name, current) {
            if resolved.chain.iter().any(|seen| seen == parent_name) {
                let mut cycle = resolved.chain.clone();
                cycle.push(parent_name.to_string());
                return Err(FileConfigError(format!(
                    "{}: profile inheritance goes round in a cycle: {}; remove one of the \
                     `inherits` keys",
                    current.origin.path.display(),
                    cycle.join(" -> ")
                )));
            }
            let Some(parent) = self.profile.get(parent_name) else {
                return Err(FileConfigError(format!(
                    "{}: [profile.{}] inherits from '{parent_name}', which the file does not \
                     define; it defines {}",
                    current.origin.path.display(),
                    current.origin.name,
                    self.profile_names().join(", ")
                )));
            };
            inherit(&mut resolved.settings, parent);
            resolved.overrides.extend(parent.overrides.iter().cloned());
            resolved.chain.push(parent_name.to_string());
            resolved.layers.push(parent.clone());
            current = parent;
            current_name = parent_name;
        }
        Ok(Some(resolved))
    }
}
