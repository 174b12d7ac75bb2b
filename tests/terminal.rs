//! The runner in a real pseudo-terminal, as a person sees it: the progress bar with the tests
//! running under it, the names of the tests a Ctrl-C interrupted, and failure output bounded
//! to a screen.
//!
//! The screen is rebuilt from the bytes the runner writes with a terminal emulator (`vt100`),
//! so what is checked is what a terminal would show, not the escape codes that draw it.
//! Every wait is for something to appear on the screen; the only clock is a hang guard.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

use common::{fixture_manifest, runner_exe, shared_target_dir, CI_VARIABLES};

/// A hang guard only: a screen that never shows what a test waits for fails it after this.
const HANG_GUARD: Duration = Duration::from_secs(300);

/// The runner running in a pseudo-terminal of a given size.
struct Terminal {
    parser: vt100::Parser,
    /// Everything written so far, escape codes removed: the lines that scrolled away too.
    transcript: String,
    bytes: usize,
    output: Receiver<Vec<u8>>,
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    _master: Box<dyn MasterPty + Send>,
}

impl Terminal {
    /// `runner ARGS --manifest-path <fixture> --target-dir <shared>` on a `rows`×`cols`
    /// terminal, in the environment the other suites use (see `common`).
    fn start(fixture: &str, args: &[&str], size: (u16, u16), faults_dir: &Path) -> Self {
        let cargo = [fixture_manifest(fixture), shared_target_dir()];
        Terminal::start_in(&cargo, args, size, faults_dir)
    }

    /// `runner ARGS --manifest-path MANIFEST --target-dir TARGET`.
    fn start_in(
        [manifest, target]: &[std::path::PathBuf; 2],
        args: &[&str],
        (rows, cols): (u16, u16),
        faults_dir: &Path,
    ) -> Self {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pseudo-terminal");
        let mut command = CommandBuilder::new(runner_exe());
        command.args(args);
        command.arg("--manifest-path");
        command.arg(manifest);
        command.arg("--target-dir");
        command.arg(target);
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("RUNNER") {
                command.env_remove(var);
            }
        }
        for var in [
            "NO_COLOR",
            "CLICOLOR_FORCE",
            "CARGO_TERM_COLOR",
            "CARGO_TARGET_DIR",
        ]
        .iter()
        .chain(CI_VARIABLES.iter())
        {
            command.env_remove(var);
        }
        command.env("RUST_BACKTRACE", "0");
        command.env("TERM", "xterm-256color");
        command.env("FAULTS_DIR", faults_dir);
        command.cwd(env!("CARGO_MANIFEST_DIR"));
        let child = pair.slave.spawn_command(command).expect("start runner");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let (sender, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || sender.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            parser: vt100::Parser::new(
                std::num::NonZeroU16::new(rows).expect("rows"),
                std::num::NonZeroU16::new(cols).expect("cols"),
                0,
            ),
            transcript: String::new(),
            bytes: 0,
            output,
            child,
            writer: pair.master.take_writer().expect("pty writer"),
            _master: pair.master,
        }
    }

    fn take(&mut self, chunk: &[u8]) {
        self.parser.process(chunk);
        self.bytes += chunk.len();
        self.transcript
            .push_str(&console::strip_ansi_codes(&String::from_utf8_lossy(chunk)));
    }

    /// Read until the screen satisfies `ready`; returns the screen's rows at that moment.
    fn wait_for(&mut self, what: &str, ready: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let rows = self.rows();
            if ready(&rows) {
                return rows;
            }
            match self
                .output
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(chunk) => self.take(&chunk),
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "hang guard: the screen never showed {what}:\n{}",
                        rows.join("\n")
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "the runner ended before the screen showed {what}:\n{}",
                        self.transcript
                    )
                }
            }
        }
    }

    /// Read to the end, and return the runner's exit code.
    fn finish(&mut self) -> u32 {
        while let Ok(chunk) = self.output.recv_timeout(HANG_GUARD) {
            self.take(&chunk);
        }
        self.child.wait().expect("wait for runner").exit_code()
    }

    fn rows(&self) -> Vec<String> {
        let screen = self.parser.screen();
        let (_, cols) = screen.size();
        screen.rows(0, cols.get()).collect()
    }

    /// Rows from `from` on that the terminal had to wrap, being longer than the screen is wide.
    fn wrapped_rows(&self, from: usize) -> Vec<String> {
        let screen = self.parser.screen();
        let (rows, _) = screen.size();
        let all = self.rows();
        (from as u16..rows.get())
            .filter(|&row| screen.row_wrapped(row))
            .map(|row| all[usize::from(row)].clone())
            .collect()
    }

    fn type_keys(&mut self, keys: &[u8]) {
        self.writer.write_all(keys).expect("type into the terminal");
        self.writer.flush().expect("flush the terminal");
    }
}

/// A row showing `name` as running: ` RUNNING [   1.2s] faults NAME`.
fn running_row<'a>(rows: &'a [String], name: &str) -> Option<&'a String> {
    let id = format!("faults {name}");
    rows.iter()
        .find(|row| row.trim_start().starts_with("RUNNING [") && row.trim_end().ends_with(&id))
}

#[test]
fn the_bar_names_running_tests_and_ctrl_c_names_the_interrupted_ones() {
    let faults = tempfile::tempdir().expect("tempdir");
    let junit = faults.path().join("junit.xml");
    let junit_arg = junit.to_str().expect("UTF-8 path");
    let args = [
        "-n3",
        "--order",
        "name",
        "--junit",
        junit_arg,
        "--exact",
        "hangs_forever",
        "sleeps_past_timeout",
        "passes_quickly",
    ];
    let mut terminal = Terminal::start("faults", &args, (40, 60), faults.path());
    let rows = terminal.wait_for(
        "both sleeping tests running, the quick one passed",
        |rows| {
            running_row(rows, "hangs_forever").is_some()
                && running_row(rows, "sleeps_past_timeout").is_some()
                && rows
                    .iter()
                    .any(|row| row.contains(" 1 passed, 0 failed, 2 running"))
        },
    );
    let bar = rows
        .iter()
        .position(|row| row.contains("passed,") && row.contains("running"))
        .unwrap_or_else(|| panic!("no bar on the screen:\n{}", rows.join("\n")));
    let first = rows
        .iter()
        .position(|row| row.trim_start().starts_with("RUNNING ["))
        .expect("a running row");
    assert!(
        first > bar,
        "the running tests are under the bar:\n{}",
        rows.join("\n")
    );
    // The bar and the list under it fit a 60-column terminal: none of their rows wraps.
    let wrapped = terminal.wrapped_rows(bar);
    assert!(
        wrapped.is_empty(),
        "wrapped: {wrapped:?}\n{}",
        rows.join("\n")
    );

    terminal.type_keys(b"\x03");
    let code = terminal.finish();
    assert_eq!(code, 130, "{}", terminal.transcript);
    let transcript = &terminal.transcript;
    let line = "2 tests cancelled (2 interrupted while running, 0 not started)";
    let at = transcript
        .find(line)
        .unwrap_or_else(|| panic!("no line {line:?}:\n{transcript}"));
    let after: Vec<&str> = transcript[at..].lines().skip(1).take(2).collect();
    let cancel = |name: &str| format!("  CANCEL             faults {name}");
    assert_eq!(
        after,
        [cancel("hangs_forever"), cancel("sleeps_past_timeout")],
        "{transcript}"
    );
    assert!(
        transcript
            .trim_end()
            .ends_with("Summary: 1 passed, 0 failed, 2 skipped"),
        "{transcript}"
    );
    // JUnit: a test interrupted while running is an error of the run, not a skipped test.
    let xml = std::fs::read_to_string(&junit).expect("the JUnit report");
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("JUnit XML");
    assert_eq!(
        (report.tests, report.errors, report.failures),
        (3, 2, 0),
        "{xml}"
    );
    assert!(!xml.contains("<skipped"), "{xml}");
}

#[test]
fn a_failure_printing_120_mib_shows_its_last_lines_and_its_log() {
    let faults = tempfile::tempdir().expect("tempdir");
    let args = ["--exact", "huge_output"];
    let mut terminal = Terminal::start("faults", &args, (40, 120), faults.path());
    let code = terminal.finish();
    assert_eq!(code, 100, "{}", terminal.transcript);
    let transcript = &terminal.transcript;
    // A screen's worth of each stream (40 rows less room for the bar and headers), not the
    // megabytes kept in memory.
    assert!(
        terminal.bytes < 16 * 1024,
        "{} bytes reached the terminal:\n{transcript}",
        terminal.bytes
    );
    for marker in ["huge-output-tail-marker", "huge-output-panic-marker"] {
        assert!(transcript.contains(marker), "no {marker}:\n{transcript}");
    }
    let note = transcript
        .lines()
        .find(|line| line.starts_with("[... earlier output cut, the last "))
        .unwrap_or_else(|| panic!("no note on the cut output:\n{transcript}"));
    let log = note
        .split("whole output in ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(" ...]"))
        .unwrap_or_else(|| panic!("no log in {note:?}"));
    assert!(log.ends_with(".stdout"), "{note}");
    let size = std::fs::metadata(log).map(|m| m.len());
    assert!(
        size.as_ref().is_ok_and(|size| *size > 120 * 1024 * 1024),
        "{log}: {size:?}"
    );
    assert!(
        transcript
            .trim_end()
            .ends_with("Summary: 0 passed, 1 failed, 0 skipped"),
        "{transcript}"
    );
}

#[test]
fn a_note_wraps_at_word_boundaries_in_a_60_column_terminal() {
    let krate = common::temp_crate("wrapped_note", "");
    let manifest = krate.path().join("Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).expect("read Cargo.toml");
    text.push_str("\n[[test]]\nname = \"checks\"\npath = \"tests/checks.rs\"\nharness = false\n");
    std::fs::write(&manifest, text).expect("write Cargo.toml");
    std::fs::create_dir(krate.path().join("tests")).expect("mkdir tests");
    let checks = "fn main() { println!(\"ran the checks\"); }\n";
    std::fs::write(krate.path().join("tests/checks.rs"), checks).expect("write");
    let cargo = [manifest, krate.path().join("target")];
    let mut terminal = Terminal::start_in(&cargo, &[], (40, 60), krate.path());
    assert_eq!(terminal.finish(), 0, "{}", terminal.transcript);
    // The screen as the terminal shows it at the end.
    let transcript = &terminal.rows().join("\n");
    let lines: Vec<&str> = transcript.lines().map(str::trim_end).collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("note: wrapped_note::checks does not list"))
        .unwrap_or_else(|| panic!("no note:\n{transcript}"));
    let end = lines[start + 1..]
        .iter()
        .position(|l| !l.starts_with("      "))
        .map_or(lines.len(), |n| start + 1 + n);
    assert!(
        end - start >= 3,
        "the note wraps over several lines:\n{transcript}"
    );
    // Wrapped by the runner at word boundaries, not by the terminal mid-word.
    let wrapped = terminal.wrapped_rows(0);
    assert!(
        lines[start..end]
            .iter()
            .all(|l| !wrapped.iter().any(|w| w.trim_end() == *l)),
        "the terminal wrapped {wrapped:?}\n{transcript}"
    );
    assert!(
        lines[end - 1].ends_with("it runs whole, as one test"),
        "{transcript}"
    );
}
