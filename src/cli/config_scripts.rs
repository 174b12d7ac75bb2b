//! The commands a config file names (the home of `shell-words`): a profile's `wrapper`, and
//! setup scripts, `[script.NAME]` tables with a `command` and a `timeout`, scoped to tests by
//! `[[profile.NAME.scripts]]` rules (`filter`, `setup`), in nextest's shape.
//!
//! A command is a list of words (`["sh", "-c", "x"]`) or one string split as a POSIX shell
//! splits it (`'sh -c "x"'`), with no shell started.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// A program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine(pub Vec<String>);

impl CommandLine {
    /// A program path with a slash that is not absolute is taken from `root` (the directory
    /// the config file belongs to), as cargo does for its own programs; a bare name is looked
    /// up on PATH.
    pub fn resolve_against(&mut self, root: &Path) {
        if let Some(program) = self.0.first_mut() {
            if program.contains('/') && Path::new(program.as_str()).is_relative() {
                *program = root.join(&*program).display().to_string();
            }
        }
    }
}

impl<'de> Deserialize<'de> for CommandLine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CommandVisitor;
        impl<'de> Visitor<'de> for CommandVisitor {
            type Value = CommandLine;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command: a list of words, or a string of shell words")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<CommandLine, E> {
                let words =
                    shell_words::split(text).map_err(|e| E::custom(format!("{e} in {text:?}")))?;
                non_empty(words)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CommandLine, A::Error> {
                let mut words = Vec::new();
                while let Some(word) = seq.next_element::<String>()? {
                    words.push(word);
                }
                non_empty(words)
            }
        }
        d.deserialize_any(CommandVisitor)
    }
}

fn non_empty<E: de::Error>(words: Vec<String>) -> Result<CommandLine, E> {
    match words.is_empty() {
        true => Err(E::custom("the command is empty: name a program")),
        false => Ok(CommandLine(words)),
    }
}

/// One `[script.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a table with a `command` (and a `timeout`)"
)]
pub struct ScriptSpec {
    pub command: CommandLine,
    /// End the script (and fail its tests) when it runs longer; none by default.
    #[serde(default, with = "humantime_serde::option")]
    pub timeout: Option<Duration>,
}

/// One `[[profile.NAME.scripts]]`: the setup scripts that the tests matching `filter` need,
/// in the order they run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScriptRule {
    pub filter: String,
    pub setup: OneOrMany,
}

/// `setup = "name"` or `setup = ["a", "b"]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, expecting = "a script name or a list of script names")]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn names(&self) -> &[String] {
        match self {
            OneOrMany::One(name) => std::slice::from_ref(name),
            OneOrMany::Many(names) => names,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Holder {
        command: CommandLine,
    }

    fn parse(value: &str) -> Result<Vec<String>, String> {
        toml::from_str::<Holder>(&format!("command = {value}\n"))
            .map(|h| h.command.0)
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn commands_are_lists_or_shell_words() {
        assert_eq!(
            parse(r#"["sh", "-c", "a b"]"#).unwrap(),
            ["sh", "-c", "a b"]
        );
        assert_eq!(
            parse(r#"'sh -c "echo hi" x\ y'"#).unwrap(),
            ["sh", "-c", "echo hi", "x y"]
        );
        let err = parse(r#"'sh -c "open'"#).unwrap_err();
        assert!(err.contains("sh -c \\\"open"), "{err}");
        assert!(parse("\"\"").unwrap_err().contains("empty"));
        assert!(parse("[]").unwrap_err().contains("empty"));
        assert!(parse("3").unwrap_err().contains("a list of words"));
    }

    #[test]
    fn relative_programs_belong_to_the_config_root() {
        let mut command = CommandLine(vec!["scripts/up.sh".into(), "x/y".into()]);
        command.resolve_against(Path::new("/ws"));
        assert_eq!(command.0, ["/ws/scripts/up.sh", "x/y"]);
        let mut bare = CommandLine(vec!["python3".into()]);
        bare.resolve_against(Path::new("/ws"));
        assert_eq!(bare.0, ["python3"]);
    }

    #[test]
    fn setup_takes_one_name_or_several() {
        let rule: ScriptRule = toml::from_str("filter = \"x\"\nsetup = \"db\"\n").unwrap();
        assert_eq!(rule.setup.names(), ["db"]);
        let rule: ScriptRule =
            toml::from_str("filter = \"x\"\nsetup = [\"db\", \"web\"]\n").unwrap();
        assert_eq!(rule.setup.names(), ["db", "web"]);
    }

    #[test]
    fn a_script_that_is_not_a_table_says_what_it_should_be() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Scripts {
            script: std::collections::BTreeMap<String, ScriptSpec>,
        }
        let err = toml::from_str::<Scripts>("[script]\ndb = 3\n").unwrap_err();
        assert!(
            err.message()
                .ends_with("expected a table with a `command` (and a `timeout`)"),
            "{}",
            err.message()
        );
    }
}
