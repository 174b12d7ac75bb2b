//! Per-test settings: `[[profile.NAME.overrides]]` resolved against the command line, and what
//! one test gets from them. For each setting the first override whose filter matches the test
//! wins; a setting given on the command line is not overridden (command line > overrides >
//! profile > default, as in nextest).

use std::borrow::Cow;
use std::time::Duration;

use super::args::{PassOrFail, RunArgs};
use super::config_file::OverrideSpec;
use super::settings::UsageError;
use super::RunConfig;
use crate::filter::{Filter, TestFacts, GLOBAL_GROUP};
use crate::model::TestCase;
use crate::run::groups::{Constraint, TestGroups};

/// The overrides of a run, in the order they apply.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    list: Vec<Override>,
}

#[derive(Debug, Clone)]
pub struct Override {
    pub filter: Filter,
    /// `file:line` of its filter.
    pub origin: String,
    pub settings: PerTest,
}

/// What an override sets; `None` leaves the setting to the next override that matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PerTest {
    pub retries: Option<u32>,
    pub timeout: Option<Duration>,
    pub slow_timeout: Option<Duration>,
    pub timeout_grace: Option<Duration>,
    pub leak_timeout: Option<Duration>,
    pub leak_fails: Option<bool>,
    pub flaky_fails: Option<bool>,
    pub threads_required: Option<usize>,
    /// `Some(None)`: `@global`, in no group.
    pub test_group: Option<Option<usize>>,
    pub batch: Option<bool>,
}

/// The overrides that match one test, in order.
pub struct Matched<'a>(Vec<(usize, &'a Override)>);

impl Matched<'_> {
    /// The first matching override's value of a setting, and that override's 0-based index.
    pub fn first<T>(&self, get: impl Fn(&PerTest) -> Option<T>) -> Option<(T, usize)> {
        self.0
            .iter()
            .find_map(|(i, o)| get(&o.settings).map(|value| (value, *i)))
    }

    /// Every setting from the first override that sets it.
    pub fn merged(&self) -> PerTest {
        PerTest {
            retries: self.first(|s| s.retries).map(|v| v.0),
            timeout: self.first(|s| s.timeout).map(|v| v.0),
            slow_timeout: self.first(|s| s.slow_timeout).map(|v| v.0),
            timeout_grace: self.first(|s| s.timeout_grace).map(|v| v.0),
            leak_timeout: self.first(|s| s.leak_timeout).map(|v| v.0),
            leak_fails: self.first(|s| s.leak_fails).map(|v| v.0),
            flaky_fails: self.first(|s| s.flaky_fails).map(|v| v.0),
            threads_required: self.first(|s| s.threads_required).map(|v| v.0),
            test_group: self.first(|s| s.test_group).map(|v| v.0),
            batch: self.first(|s| s.batch).map(|v| v.0),
        }
    }
}

impl Overrides {
    /// The profile's overrides, less the settings the command line gives (which win), with
    /// their groups looked up and their values checked.
    pub fn resolve(
        specs: &[OverrideSpec],
        args: &RunArgs,
        groups: &TestGroups,
    ) -> Result<Overrides, UsageError> {
        let list = specs
            .iter()
            .map(|spec| {
                let at = &spec.filter.origin;
                let bad = |what: &str| UsageError(format!("{at}: override: {what}"));
                for (key, value) in [
                    ("timeout", spec.timeout),
                    ("slow-timeout", spec.slow_timeout),
                ] {
                    if value == Some(Duration::ZERO) {
                        return Err(bad(&format!(
                            "'{key}' of 0 would end or report every test at once"
                        )));
                    }
                }
                if spec.threads_required == Some(0) {
                    return Err(bad("'threads-required' must be 1 or more"));
                }
                let test_group = spec
                    .test_group
                    .as_deref()
                    .map(|name| group_index(name, groups).map_err(|e| bad(&e)))
                    .transpose()?;
                let fails = |r: Option<PassOrFail>| r.map(|r| r == PassOrFail::Fail);
                let unless = |given: bool| !given;
                Ok(Override {
                    filter: spec.filter.filter.clone(),
                    origin: at.clone(),
                    settings: PerTest {
                        retries: spec.retries.filter(|_| unless(args.retries.is_some())),
                        timeout: spec.timeout.filter(|_| unless(args.timeout.is_some())),
                        slow_timeout: spec
                            .slow_timeout
                            .filter(|_| unless(args.slow_timeout.is_some())),
                        timeout_grace: spec
                            .timeout_grace
                            .filter(|_| unless(args.timeout_grace.is_some())),
                        leak_timeout: spec
                            .leak_timeout
                            .filter(|_| unless(args.leak_timeout.is_some())),
                        leak_fails: fails(spec.leak_result)
                            .filter(|_| unless(args.leak_result.is_some())),
                        flaky_fails: fails(spec.flaky_result)
                            .filter(|_| unless(args.flaky_result.is_some())),
                        threads_required: spec.threads_required,
                        test_group,
                        batch: spec.batch,
                    },
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Overrides { list })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether any override chooses batching.
    pub fn sets_batch(&self) -> bool {
        self.list.iter().any(|o| o.settings.batch.is_some())
    }

    pub fn list(&self) -> &[Override] {
        &self.list
    }

    /// The overrides whose filters match the test.
    pub fn matching(&self, facts: &TestFacts) -> Matched<'_> {
        Matched(
            self.list
                .iter()
                .enumerate()
                .filter(|(_, o)| o.filter.matches(facts))
                .collect(),
        )
    }

    /// What the overrides set for `case` (nothing when there are none).
    pub fn for_case(&self, case: &TestCase) -> Cow<'static, PerTest> {
        static NONE: PerTest = PerTest {
            retries: None,
            timeout: None,
            slow_timeout: None,
            timeout_grace: None,
            leak_timeout: None,
            leak_fails: None,
            flaky_fails: None,
            threads_required: None,
            test_group: None,
            batch: None,
        };
        if self.list.is_empty() {
            return Cow::Borrowed(&NONE);
        }
        // Config filters cannot use group(): the test's group is not needed to match them.
        Cow::Owned(self.matching(&TestFacts::of(case, None)).merged())
    }
}

/// A `test-group` value: a `[[group]]`'s index, or `None` for `@global`.
fn group_index(name: &str, groups: &TestGroups) -> Result<Option<usize>, String> {
    if name == GLOBAL_GROUP {
        return Ok(None);
    }
    groups.index_of(name).map(Some).ok_or_else(|| {
        let names = groups.names();
        let known = match names.is_empty() {
            true => "the file defines none (add a [[group]] with this name)".to_string(),
            false => format!("the groups are {}, and @global for none", names.join(", ")),
        };
        let known = match crate::closest::closest(name, names.iter().copied()) {
            Some(close) => format!("did you mean '{close}'? {known}"),
            None => known,
        };
        format!("test-group '{name}' is not a [[group]] of the file: {known}")
    })
}

impl RunConfig {
    /// The test's group and worker slots: an override's `test-group` and `threads-required`
    /// first, then the first `[[group]]` whose filter matches.
    pub fn constraint(&self, case: &TestCase) -> Constraint {
        let set = self.overrides.for_case(case);
        let by_filter = || self.groups.constraint(case);
        let group = match set.test_group {
            Some(chosen) => chosen,
            None => by_filter().group,
        };
        let slots = set
            .threads_required
            .or_else(|| group.map(|g| self.groups.threads_required(g)))
            .unwrap_or(1);
        Constraint { group, slots }
    }

    /// The name of the test's group as `group()` sees it: `@global` for none.
    pub fn group_name(&self, case: &TestCase) -> &str {
        match self.constraint(case).group {
            Some(g) => self.groups.name(g),
            None => GLOBAL_GROUP,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::config_file::FileConfig;

    fn resolve(text: &str, argv: &[&str]) -> Result<Overrides, String> {
        use clap::Parser;
        let config = FileConfig::parse(text, std::path::Path::new("runner.toml")).unwrap();
        let profile = config.resolve_profile("default").unwrap().unwrap();
        let groups = TestGroups::compile(&config.group).unwrap();
        let mut all = vec!["runner"];
        all.extend_from_slice(argv);
        let args = crate::cli::args::Cli::try_parse_from(all).unwrap().run;
        Overrides::resolve(&profile.overrides, &args, &groups).map_err(|e| e.0)
    }

    const TEXT: &str = "[[group]]\nname = \"db\"\n\
        [[profile.default.overrides]]\nfilter = \"test(slow)\"\ntimeout = \"2s\"\n\
        [[profile.default.overrides]]\nfilter = \"package(app)\"\nretries = 3\ntimeout = \"9s\"\n\
        test-group = \"db\"\nleak-result = \"fail\"\n\
        [[profile.default.overrides]]\nfilter = \"all()\"\nretries = 1\ntest-group = \"@global\"\n";

    #[test]
    fn first_match_wins_per_setting() {
        let overrides = resolve(TEXT, &[]).unwrap();
        let slow_app = overrides
            .matching(&TestFacts::lib_test("app", "slow_one"))
            .merged();
        assert_eq!(slow_app.timeout, Some(Duration::from_secs(2)));
        assert_eq!(slow_app.retries, Some(3));
        assert_eq!(slow_app.test_group, Some(Some(0)));
        assert_eq!(slow_app.leak_fails, Some(true));
        let other = overrides.matching(&TestFacts::lib_test("lib", "fast"));
        assert_eq!(other.first(|s| s.retries), Some((1, 2)));
        assert_eq!(other.merged().test_group, Some(None));
        assert_eq!(other.merged().timeout, None);
    }

    #[test]
    fn the_command_line_takes_its_settings_out_of_every_override() {
        let overrides = resolve(TEXT, &["--retries", "0", "--timeout", "1m"]).unwrap();
        let merged = overrides
            .matching(&TestFacts::lib_test("app", "slow_one"))
            .merged();
        assert_eq!((merged.retries, merged.timeout), (None, None));
        assert_eq!(
            merged.leak_fails,
            Some(true),
            "what the CLI does not set stays"
        );
    }

    #[test]
    fn bad_values_name_the_override() {
        let err = resolve(
            "[[profile.default.overrides]]\nfilter = \"all()\"\ntest-group = \"x\"\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(
            err,
            "runner.toml:2: override: test-group 'x' is not a [[group]] of the file: the file \
             defines none (add a [[group]] with this name)"
        );
        let err = resolve(
            "[[group]]\nname = \"serial\"\n[[profile.default.overrides]]\nfilter = \"all()\"\n\
             test-group = \"seral\"\n",
            &[],
        )
        .unwrap_err();
        assert!(
            err.ends_with(
                "test-group 'seral' is not a [[group]] of the file: did you mean 'serial'? the \
                 groups are serial, and @global for none"
            ),
            "{err}"
        );
        let err = resolve(
            "[[profile.default.overrides]]\nfilter = \"all()\"\ntimeout = \"0s\"\n",
            &[],
        )
        .unwrap_err();
        assert!(
            err.starts_with("runner.toml:2: override: 'timeout' of 0"),
            "{err}"
        );
    }
}
