//! The command a user pastes to rerun one failed test: same build flags, just that test.
//!
//! A doctest's is `runner --doc-only -p PKG --exact NAME`, not `cargo test --doc -p PKG --
//! --exact NAME`: rustdoc cuts test arguments at whitespace, and every doctest name holds some,
//! so that cargo command runs no test and passes (see `rustdoc::subset`).

use crate::cli::Source;
use crate::model::{TargetKind, TestCase};

/// `runner [--profile P] [build flags] -p PKG --test TARGET --exact NAME`, shell-quoted. The
/// profile named for the run is named again, so that the rerun goes through the same wrapper
/// and setup scripts; the build flags carry `--target`, and with it the target runner.
pub fn command_for(source: &Source, profile: Option<&str>, case: &TestCase) -> String {
    let mut words: Vec<String> = vec!["runner".into()];
    if let Some(profile) = profile {
        words.extend(["--profile".to_string(), profile.to_string()]);
    }
    match source {
        Source::Binaries(_) => {
            words.push("--binary".into());
            words.push(case.binary.path.display().to_string());
        }
        Source::Archive(archive) => {
            words.push("--archive-file".into());
            words.push(archive.file.display().to_string());
            words.push("--workspace-remap".into());
            words.push(archive.workspace.display().to_string());
        }
        Source::Cargo(cargo) => {
            words.extend(cargo.build.iter().cloned());
            if let Some(package) = &case.binary.package {
                words.extend(["-p".to_string(), package.clone()]);
            }
            let target = &case.binary.target_name;
            match case.binary.kind {
                TargetKind::Lib | TargetKind::ProcMacro => words.push("--lib".into()),
                TargetKind::Bin => words.extend(["--bin".to_string(), target.clone()]),
                TargetKind::Test => words.extend(["--test".to_string(), target.clone()]),
                TargetKind::Doc => words.push("--doc-only".into()),
                TargetKind::Bench | TargetKind::Example | TargetKind::Prebuilt => {}
            }
        }
    }
    words.extend(["--exact".to_string(), case.name.clone()]);
    if case.ignored {
        words.push("--include-ignored".into());
    }
    shell_line(&words)
}

/// `words` as one line a POSIX shell splits back into them.
pub fn shell_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shlex::try_quote(w).map_or_else(|_| w.clone(), |q| q.into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::CargoOptions;
    use crate::model::{Invocation, TestBinary};
    use std::sync::Arc;

    #[test]
    fn integration_test_rerun() {
        let binary = Arc::new(TestBinary {
            id: "pkg::it".into(),
            path: "/t/it-123".into(),
            package: Some("pkg".into()),
            target_name: "it".into(),
            kind: TargetKind::Test,
            cwd: "/".into(),
            env: Default::default(),
            custom_harness: false,
        });
        let case = TestCase {
            binary,
            name: "mod::it's fine".into(),
            ignored: false,
            invocation: Invocation::Libtest,
        };
        let source = Source::Cargo(CargoOptions {
            build: vec!["--release".into()],
            ..Default::default()
        });
        assert_eq!(
            command_for(&source, None, &case),
            r#"runner --release -p pkg --test it --exact "mod::it's fine""#
        );
        let source = Source::Binaries(vec![]);
        assert_eq!(
            command_for(&source, None, &case),
            r#"runner --binary /t/it-123 --exact "mod::it's fine""#
        );
    }

    #[test]
    fn doctest_rerun_goes_through_the_runner() {
        let binary = Arc::new(TestBinary {
            id: "pkg::doc/pkg".into(),
            path: "/ws/Cargo.toml".into(),
            package: Some("pkg".into()),
            target_name: "pkg".into(),
            kind: TargetKind::Doc,
            cwd: "/ws".into(),
            env: Default::default(),
            custom_harness: false,
        });
        let case = TestCase {
            binary,
            name: "src/lib.rs - add (line 12)".into(),
            ignored: false,
            invocation: Invocation::Doctest,
        };
        let source = Source::Cargo(CargoOptions {
            build: vec!["--release".into()],
            ..Default::default()
        });
        assert_eq!(
            command_for(&source, None, &case),
            "runner --release -p pkg --doc-only --exact 'src/lib.rs - add (line 12)'"
        );
    }
}
