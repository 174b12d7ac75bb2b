//! How a test binary is started: the one place its command line is built, for a test, a
//! batch chunk and a listing alike, so that a wrapper or a target runner can never be applied
//! to some of them and not the others.
//!
//! The command is `[wrapper...] [target runner...] BINARY ARGS...`: the profile's `wrapper`
//! (valgrind, strace) outermost, then cargo's target runner (qemu, wine), as `cargo test` would
//! start the binary, then the binary. So a wrapper watches the runner and what it runs, as it
//! would watch `cargo test`'s own command. Started in the package root with the environment
//! cargo gives tests, and what cargo passes on of its own (the toolchain rustup chose).
//! Doctests run through `cargo test --doc`, which applies cargo's runner itself; the wrapper
//! does not apply to them.

use std::process::Command;

use crate::model::{TargetKind, TestBinary};

/// The programs a test binary is started through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Launcher {
    /// The profile's `wrapper`: a program and its arguments.
    pub wrapper: Vec<String>,
    /// cargo's target runner for the target the tests were built for.
    pub runner: Vec<String>,
    /// cargo's runner for the host, for the tests built for it whatever the target (a
    /// proc-macro crate's), as cargo runs them.
    pub host_runner: Vec<String>,
}

impl Launcher {
    /// The words that come before the path of a binary built for the target (empty when it
    /// is started directly).
    pub fn prefix(&self) -> Vec<String> {
        self.wrapper.iter().chain(&self.runner).cloned().collect()
    }

    /// The words that come before `binary`'s path.
    fn prefix_for(&self, binary: &TestBinary) -> Vec<String> {
        let runner = match binary.kind {
            TargetKind::ProcMacro => &self.host_runner,
            _ => &self.runner,
        };
        self.wrapper.iter().chain(runner).cloned().collect()
    }

    /// The words of the command that starts `binary` with `args`, as [`Launcher::command`]
    /// would run it: for showing, not for running.
    pub fn words(&self, binary: &TestBinary, args: &[&str]) -> Vec<String> {
        let mut words = self.prefix_for(binary);
        words.push(binary.path.display().to_string());
        words.extend(args.iter().map(|a| a.to_string()));
        words
    }

    /// The command that starts `binary` (arguments still to add): through the wrapper and the
    /// runner, in the package root, with cargo's environment for its tests.
    pub fn command(&self, binary: &TestBinary) -> Command {
        let prefix = self.prefix_for(binary);
        let mut command = match prefix.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&binary.path);
                command
            }
            None => Command::new(&binary.path),
        };
        command.current_dir(&binary.cwd).envs(&binary.env);
        if let Some(toolchain) = crate::plan::discover::toolchain() {
            toolchain.apply(&mut command, &binary.env);
        }
        command
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary() -> TestBinary {
        TestBinary {
            id: "p".into(),
            path: "/t/p-123".into(),
            package: None,
            target_name: "p".into(),
            kind: TargetKind::Lib,
            cwd: "/ws/p".into(),
            env: [("CARGO_PKG_NAME".to_string(), "p".to_string())].into(),
            custom_harness: false,
        }
    }

    fn words(command: &Command) -> Vec<String> {
        std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|w| w.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_wrapper_goes_around_the_runner_around_the_binary() {
        let bare = Launcher::default().command(&binary());
        assert_eq!(words(&bare), ["/t/p-123"]);
        assert_eq!(bare.get_current_dir(), Some(std::path::Path::new("/ws/p")));
        let launcher = Launcher {
            wrapper: vec!["valgrind".into(), "-q".into()],
            runner: vec!["qemu-aarch64".into(), "-L".into(), "/usr".into()],
            host_runner: Vec::new(),
        };
        let mut command = launcher.command(&binary());
        command.arg("--list");
        assert_eq!(words(&command), launcher.words(&binary(), &["--list"]));
        assert_eq!(
            words(&command),
            [
                "valgrind",
                "-q",
                "qemu-aarch64",
                "-L",
                "/usr",
                "/t/p-123",
                "--list"
            ]
        );
        assert!(command
            .get_envs()
            .any(|(k, v)| k == "CARGO_PKG_NAME" && v == Some("p".as_ref())));
        let runner_only = Launcher {
            wrapper: Vec::new(),
            runner: vec!["wine".into()],
            host_runner: vec!["host".into()],
        };
        assert_eq!(words(&runner_only.command(&binary())), ["wine", "/t/p-123"]);
        // A proc-macro's tests are built for the host.
        let proc_macro = TestBinary {
            kind: TargetKind::ProcMacro,
            ..binary()
        };
        assert_eq!(
            words(&runner_only.command(&proc_macro)),
            ["host", "/t/p-123"]
        );
    }
}
