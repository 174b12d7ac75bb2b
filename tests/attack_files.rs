//! End-to-end tests of the files runner writes and the text it shows from tests (issue 10,
//! items 11 to 14): report files written into FIFOs, through symlinks and to the runner's own
//! stdout without replacing them, with the umask's permissions; stale temporary files of killed
//! writers removed while fresh ones stay; a log file per test even when names differ only in
//! punctuation; and control codes from tests' output and names shown as text, never sent raw to
//! the terminal, the JUnit file or GitHub's log.
//!
//! The tests are fake harnesses: shell scripts that answer `--list --format terse` and `--exact
//! NAME --nocapture`, run with `--binary`, each in a scratch directory of its own. Nothing
//! waits on the clock: a FIFO's reader is synchronised with the run through the FIFO itself.

mod common;

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use quick_junit::Report;

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/// The part of a fake harness that answers `--list`: one `NAME: test` line per name (printf
/// formats, so a name may hold `\033`), and no ignored tests.
fn list_part(names: &[&str]) -> String {
    let mut part = String::from(
        "if [ \"$1\" = --list ]; then\n\
           for arg in \"$@\"; do [ \"$arg\" = --ignored ] && exit 0; done\n",
    );
    for name in names {
        part += &format!("  printf '{name}: test\\n'\n");
    }
    part + "  exit 0\nfi\n"
}

/// A harness with one passing test, `ok`.
fn passing_harness(dir: &Path) -> PathBuf {
    write_script(
        dir,
        "passing",
        &format!("#!/bin/sh\n{}exit 0\n", list_part(&["ok"])),
    )
}

/// `--binary <binary>` followed by `args`.
fn binary_args(binary: &Path, args: &[&str]) -> Vec<OsString> {
    let mut all = vec![OsString::from("--binary"), binary.into()];
    all.extend(args.iter().map(OsString::from));
    all
}

/// Run in `dir`, with temporary files (and so the logs of `--binary` runs) there too.
fn run_in(dir: &Path, args: Vec<OsString>) -> Run {
    run_with(args, |c| {
        c.current_dir(dir).env("TMPDIR", dir);
    })
}

/// Run the runner under `umask`, through a shell that sets it and then becomes the runner.
fn run_under_umask(umask: &str, dir: &Path, args: Vec<OsString>) -> Run {
    let mut command = Command::new("sh");
    clean_environment(&mut command);
    command
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(runner_exe())
        .args(&args)
        .current_dir(dir)
        .env("TMPDIR", dir);
    execute(command, args)
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// What a reader of `fifo` receives while `run` runs. The reader opens the FIFO through a hard
/// link of its own, so it reads the FIFO even if the run wrongly replaced `fifo`'s path with a
/// plain file; once the run is over, opening the FIFO read-write and closing it again lets a
/// reader that got no writer go on to end of file, so such a run fails the test instead of
/// hanging it.
fn read_fifo_during<T>(fifo: &Path, run: impl FnOnce() -> T) -> (Vec<u8>, T) {
    let keep = fifo.with_extension("reader-link");
    std::fs::hard_link(fifo, &keep).expect("hard link to the FIFO");
    let (sender, receiver) = mpsc::channel();
    let reader_path = keep.clone();
    std::thread::spawn(move || {
        let _ = sender.send(std::fs::read(reader_path));
    });
    let result = run();
    let hang_guard = Instant::now() + Duration::from_secs(60);
    loop {
        match receiver.recv_timeout(Duration::from_millis(200)) {
            Ok(read) => return (read.expect("reading the FIFO"), result),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                assert!(
                    Instant::now() < hang_guard,
                    "the FIFO reader never finished"
                );
                let poke = OpenOptions::new().read(true).write(true).open(&keep);
                drop(poke.expect("opening the FIFO"));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the FIFO reader died"),
        }
    }
}

/// The JUnit document inside `text` (which may hold other output around it), parsed.
fn junit_in(text: &str, context: &str) -> Report {
    let start = text
        .find("<?xml")
        .unwrap_or_else(|| panic!("no XML in the output{context}"));
    let end = text[start..]
        .find("</testsuites>")
        .map(|end| start + end + "</testsuites>".len())
        .unwrap_or_else(|| panic!("the XML is cut short{context}"));
    Report::deserialize_from_str(&text[start..end])
        .unwrap_or_else(|e| panic!("the XML does not parse ({e}){context}"))
}

fn assert_is_symlink(path: &Path) {
    let file_type = std::fs::symlink_metadata(path).expect("stat").file_type();
    assert!(file_type.is_symlink(), "{} was replaced", path.display());
}

// ---------------------------------------------------------------------------------------------
// 11. Report files: FIFOs, symlinks and descriptors written in place, the umask honoured.
// ---------------------------------------------------------------------------------------------

#[test]
fn junit_into_a_fifo_reaches_its_reader_and_the_fifo_stays() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let harness = passing_harness(scratch.path());
    let fifo = scratch.path().join("junit.fifo");
    mkfifo(&fifo);
    let args = binary_args(&harness, &["--junit", "junit.fifo"]);
    let (read, run) = read_fifo_during(&fifo, || run_in(scratch.path(), args));
    run.assert_code(0);
    let report = junit_in(&String::from_utf8_lossy(&read), &run.context());
    assert_eq!(report.tests, 1, "{}", run.context());
    let file_type = std::fs::symlink_metadata(&fifo).expect("stat").file_type();
    assert!(
        file_type.is_fifo(),
        "the FIFO was replaced by a {file_type:?}"
    );
}

#[test]
fn junit_through_a_symlink_to_a_fifo_keeps_the_symlink() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let harness = passing_harness(scratch.path());
    let fifo = scratch.path().join("target.fifo");
    mkfifo(&fifo);
    let link = scratch.path().join("junit.xml");
    std::os::unix::fs::symlink("target.fifo", &link).expect("symlink");
    let args = binary_args(&harness, &["--junit", "junit.xml"]);
    let (read, run) = read_fifo_during(&fifo, || run_in(scratch.path(), args));
    run.assert_code(0);
    assert_eq!(junit_in(&String::from_utf8_lossy(&read), "").tests, 1);
    assert_is_symlink(&link);
}

/// `/dev/stdout` is a symlink to `/proc/self/fd/1`; a symlink of the test's own to the same
/// place behaves alike without risking the machine's `/dev/stdout` (which the runner, run as
/// root, used to replace with a plain file). `/dev/fd/1` is the other spelling.
#[test]
fn junit_to_the_runners_stdout_is_printed_and_the_link_stays() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let harness = passing_harness(scratch.path());
    let link = scratch.path().join("stdout-link");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).expect("symlink");
    for target in ["stdout-link", "/dev/fd/1"] {
        let run = run_in(
            scratch.path(),
            binary_args(&harness, &["--junit", target, "-q"]),
        );
        run.assert_code(0);
        assert_eq!(junit_in(&run.stdout, &run.context()).tests, 1);
        // The report comes before the human report's closing line, which stays last.
        assert_eq!(
            run.last_stdout_line(),
            summary_line(1, 0, 0),
            "{}",
            run.context()
        );
    }
    assert_is_symlink(&link);
}

#[test]
fn report_files_get_the_umasks_permissions() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let harness = passing_harness(scratch.path());
    for (umask, mode) in [("022", 0o644), ("027", 0o640)] {
        let junit = format!("junit-{umask}.xml");
        let run = run_under_umask(
            umask,
            scratch.path(),
            binary_args(&harness, &["--junit", &junit]),
        );
        run.assert_code(0);
        let merged = format!("merged-{umask}.xml");
        let args = ["junit-merge", merged.as_str(), junit.as_str()];
        let merge = run_under_umask(umask, scratch.path(), args.map(OsString::from).to_vec());
        merge.assert_code(0);
        for file in [&junit, &merged] {
            let metadata = std::fs::metadata(scratch.path().join(file)).expect("stat");
            assert_eq!(
                metadata.permissions().mode() & 0o777,
                mode,
                "{file} under umask {umask}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 12. A log file of its own for every test, whatever its name.
// ---------------------------------------------------------------------------------------------

#[test]
fn tests_whose_names_differ_only_in_punctuation_get_their_own_logs() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let names = ["m::x", "m__x", "r#match", "r_match"];
    // More output than is kept in memory, so each test's whole stream goes to its log, which
    // ends with the test's name.
    let body = "head -c 3000000 /dev/zero | tr '\\000' x\necho \"end of $2\"\nexit 1\n";
    let harness = write_script(
        scratch.path(),
        "loud",
        &format!("#!/bin/sh\n{}{body}", list_part(&names)),
    );
    let run = run_in(
        scratch.path(),
        binary_args(&harness, &["--message-format", "json"]),
    );
    run.assert_code(100);
    let events = run.events();
    let finished = events_of(&events, "test-finished");
    assert_eq!(finished.len(), names.len(), "{}", run.context());
    let mut logs = std::collections::BTreeSet::new();
    for event in finished {
        let name = event["name"].as_str().expect("name");
        let stdout = event["stdout"].as_str().expect("stdout");
        let (_, after) = stdout
            .split_once("full output in ")
            .unwrap_or_else(|| panic!("{name}: no log path in {:?}", &stdout[..200]));
        let log = after.split(" ...]").next().expect("path").to_string();
        let content = std::fs::read(&log).unwrap_or_else(|e| panic!("{log}: {e}"));
        let tail = String::from_utf8_lossy(&content[content.len() - 40..]).into_owned();
        assert!(
            tail.ends_with(&format!("end of {name}\n")),
            "{log} holds {tail:?}"
        );
        assert!(logs.insert(log.clone()), "{log} is shared");
    }
}

// ---------------------------------------------------------------------------------------------
// 13. Temporary files left by killed writers.
// ---------------------------------------------------------------------------------------------

#[test]
fn stale_runner_temporaries_are_removed_and_fresh_ones_kept() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let harness = passing_harness(scratch.path());
    let reports = scratch.path().join("reports");
    std::fs::create_dir(&reports).expect("mkdir");
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let file = |name: &str, modified: SystemTime| {
        let path = reports.join(name);
        let file = File::create(&path).expect("create");
        file.set_modified(modified).expect("set mtime");
        path
    };
    let stale = file(".runner-tmp-killed", an_hour_ago);
    let fresh = file(".runner-tmp-writing", SystemTime::now());
    // Not runner's (another program's temporary file): never touched.
    let foreign = file(".tmpAbCdEf", an_hour_ago);
    let run = run_in(
        scratch.path(),
        binary_args(&harness, &["--junit", "reports/junit.xml"]),
    );
    run.assert_code(0);
    assert!(!stale.exists(), "the stale temporary file is still there");
    assert!(fresh.exists(), "a fresh temporary file was removed");
    assert!(foreign.exists(), "another program's file was removed");
    assert!(reports.join("junit.xml").exists());
}

// ---------------------------------------------------------------------------------------------
// 14. Control codes from tests shown as text.
// ---------------------------------------------------------------------------------------------

/// The test name the hostile harness gives (as printf reads it) and how reports show it.
const EVIL_NAME: &str = "evil\\033]0;pwned\\007name";
const EVIL_SHOWN: &str = "evil\\x1b]0;pwned\\x07name";

/// `hostile` prints a screen clear (`ESC c`, `ESC[2J`), the alternate screen, a window title,
/// a NUL and a lone CR, and panics with a message holding controls; the test whose name holds
/// an OSC title sequence fails plainly.
fn hostile_harness(dir: &Path) -> PathBuf {
    let body = "case \"$2\" in\n\
         hostile)\n\
           printf 'clear\\033c screen\\033[2J alt\\033[?1049h title\\033]0;pwned\\007 nul\\000 cr\\roverwritten\\n'\n\
           printf \"thread 'hostile' panicked at src/lib.rs:3:5:\\n\\033[2Jboom\\007\\n\" >&2\n\
           exit 101 ;;\n\
         *) echo 'named badly'; exit 101 ;;\n\
         esac\n";
    write_script(
        dir,
        "hostile",
        &format!("#!/bin/sh\n{}{body}", list_part(&["hostile", EVIL_NAME])),
    )
}

/// Control characters other than the line feed and the tab in `text`, for the message.
fn raw_controls(text: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(text);
    let controls = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\t'));
    controls.map(|c| c as u8).collect()
}

#[test]
fn control_codes_from_tests_are_escaped_in_the_human_report() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let harness = hostile_harness(scratch.path());
    let run = run_in(
        scratch.path(),
        binary_args(&harness, &["--junit", "junit.xml"]),
    );
    run.assert_code(100);
    // stdout is a pipe here, so colour is off: not a single control byte may reach it.
    for (stream, bytes) in [("stdout", &run.raw_stdout), ("stderr", &run.raw_stderr)] {
        let controls = raw_controls(bytes);
        assert!(
            controls.is_empty(),
            "raw {controls:x?} on {stream}{}",
            run.context()
        );
    }
    for shown in [
        "clear\\x1bc screen\\x1b[2J alt\\x1b[?1049h title\\x1b]0;pwned\\x07 nul\\x00",
        "cr\\roverwritten",
        "\\x1b[2Jboom\\x07",
        EVIL_SHOWN,
    ] {
        assert!(
            run.stdout.contains(shown),
            "{shown} not shown{}",
            run.context()
        );
    }
    assert_eq!(run.last_stdout_line(), summary_line(0, 2, 0));

    // The JUnit file parses and keeps both names recognisable.
    let xml = std::fs::read_to_string(scratch.path().join("junit.xml")).expect("junit.xml");
    let report = junit_in(&xml, &xml);
    let cases = &report.test_suites[0].test_cases;
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{xml}");
    assert!(
        names.contains(&"hostile") && names.contains(&EVIL_SHOWN),
        "{names:?}"
    );
    assert!(xml.contains("\\x1b[2Jboom\\x07"), "{xml}");
    assert!(xml.contains("screen\\x1b[2J alt"), "{xml}");
}

#[test]
fn control_codes_stay_escaped_when_the_report_is_coloured() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let harness = hostile_harness(scratch.path());
    let run = run_in(
        scratch.path(),
        binary_args(&harness, &["--color", "always"]),
    );
    run.assert_code(100);
    let raw = &run.raw_stdout;
    let contains = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"\x1b["), "colour is on{}", run.context());
    for hostile in [
        &b"\x1bc"[..],
        b"\x1b[2J",
        b"\x1b[?1049h",
        b"\x1b]",
        b"\x00",
        b"\x07",
        b"\r",
    ] {
        assert!(
            !contains(hostile),
            "raw {hostile:x?} on stdout{}",
            run.context()
        );
    }
    assert!(run.stdout.contains(EVIL_SHOWN), "{}", run.context());
}

#[test]
fn github_annotations_and_step_summary_carry_no_raw_controls() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let harness = hostile_harness(scratch.path());
    let summary = scratch.path().join("step-summary.md");
    let run = run_with(binary_args(&harness, &[]), |c| {
        c.current_dir(scratch.path())
            .env("TMPDIR", scratch.path())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary);
    });
    run.assert_code(100);
    let controls = raw_controls(&run.raw_stdout);
    assert!(controls.is_empty(), "raw {controls:x?}{}", run.context());
    let annotation = run
        .stdout_lines()
        .into_iter()
        .find(|l| l.starts_with("::error file=src/lib.rs,line=3,"))
        .unwrap_or_else(|| panic!("no annotation for the panic{}", run.context()));
    assert!(annotation.ends_with("::\\x1b[2Jboom\\x07"), "{annotation}");
    let evil_title = format!("title=hostile {}", EVIL_SHOWN.replace(':', "%3A"));
    assert!(run.stdout.contains(&evil_title), "{}", run.context());
    let markdown = std::fs::read(&summary).expect("step summary");
    let controls = raw_controls(&markdown);
    assert!(controls.is_empty(), "raw {controls:x?} in the step summary");
    assert!(String::from_utf8_lossy(&markdown).contains(EVIL_SHOWN));
}

#[test]
fn runner_list_shows_control_codes_in_names_as_text() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let harness = hostile_harness(scratch.path());
    let mut args = vec![OsString::from("list")];
    args.extend(binary_args(&harness, &[]));
    let run = run_in(scratch.path(), args);
    run.assert_code(0);
    let controls = raw_controls(&run.raw_stdout);
    assert!(controls.is_empty(), "raw {controls:x?}{}", run.context());
    assert!(
        run.stdout.contains(&format!("    {EVIL_SHOWN}\n")),
        "{}",
        run.context()
    );
}
