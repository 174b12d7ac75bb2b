//! Everything runner knows about rustdoc's doctests and `cargo test --doc`, which compiles and
//! runs them: the commands that list and run a package's doctests, what a doctest's name says
//! (`src/lib.rs - add (line 12)`: the file and line of its example), how some of them are
//! chosen although rustdoc cuts every test argument at whitespace ([`subset`]), and the name
//! under which the timing history keeps a doctest job's own cost.
//!
//! What rustdoc 1.95 offers, and what runner uses of it: `--list --format terse` (stable; it
//! compiles nothing, in any edition), the libtest arguments after `--` (stable, but cut at
//! whitespace), and `--logfile`, which every libtest run of the process writes to (see
//! `libtest::ParallelReader`). Keeping the compiled examples (`--persist-doctests`), compiling
//! without running (`--no-run`) and choosing whether edition 2024 merges doctests
//! (`--merge-doctests`) all need `-Z unstable-options`, so runner does without them.
//!
//! Nothing else in runner spells `cargo test --doc` or reads a doctest's name.

mod subset;

use std::path::Path;

use crate::libtest;
use crate::model::TestId;

pub(crate) use subset::{subset, Subset};

/// The test name under which the timing history keeps a package's doctest job's own cost:
/// cargo's check, rustdoc reading the crate, and (edition 2024) compiling the merged
/// doctests, none of which is any one doctest's time. No doctest has this name: every
/// doctest's name ends with its line.
pub(crate) const JOB_COST_NAME: &str = "(doctest job)";

/// `test --doc -p PACKAGE` and the build flags: cargo's arguments for a package's doctests,
/// before the `--` that starts libtest's.
pub(crate) fn cargo_args(package: &str, build: &[String]) -> Vec<String> {
    let mut args = vec!["test".to_string(), "--doc".to_string()];
    args.extend(["-p".to_string(), package.to_string()]);
    args.extend(build.iter().cloned());
    args
}

/// cargo's arguments that list a package's doctests (only the ignored ones with `ignored`).
pub(crate) fn list_args(package: &str, build: &[String], ignored: bool) -> Vec<String> {
    let mut args = cargo_args(package, build);
    args.push("--".to_string());
    args.extend(libtest::list_args(ignored).into_iter().map(String::from));
    args
}

/// cargo's arguments that run the doctests `subset` chooses on `threads` threads, each
/// result written to `logfile`. `None` when `logfile` holds whitespace, which rustdoc would cut.
pub(crate) fn run_args(
    package: &str,
    build: &[String],
    threads: usize,
    include_ignored: bool,
    logfile: &Path,
    subset: &Subset,
) -> Option<Vec<String>> {
    if logfile.display().to_string().contains(char::is_whitespace) {
        return None;
    }
    let mut args = cargo_args(package, build);
    args.push("--".to_string());
    args.extend(libtest::parallel_args(threads, include_ignored, logfile));
    args.extend(subset.args.iter().cloned());
    Some(args)
}

/// Whether `line` is rustdoc's report of its own timings (`all doctests ran in 1.36s; merged
/// doctests compilation took 1.33s`), which edition 2024 prints after listing or running
/// doctests it merged.
pub(crate) fn is_timing_line(line: &str) -> bool {
    line.starts_with("all doctests ran in ")
}

/// Where the example of a doctest is: `src/lib.rs - add (line 12)` → `("src/lib.rs", 12)`.
/// The file is relative to the workspace root, as cargo gives it to rustdoc.
pub(crate) fn example_location(name: &str) -> Option<(&str, u32)> {
    let (head, line) = name.strip_suffix(')')?.rsplit_once(" (line ")?;
    let line = line.parse().ok()?;
    // `FILE - ITEM`, or `FILE -` for the crate's own documentation.
    let file = match head.split_once(" - ") {
        Some((file, _)) => file,
        None => head.strip_suffix(" -").unwrap_or(head),
    };
    (!file.is_empty()).then_some((file, line))
}

/// Whether `id` names a doctest: a test of a `pkg::doc/lib` binary (no other binary id holds
/// `::doc/`: a test target's name cannot hold a `/`).
pub(crate) fn is_doctest(id: &TestId) -> bool {
    id.binary_id.contains("::doc/") && example_location(&id.name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_of_examples() {
        assert_eq!(
            example_location("src/lib.rs - add (line 12)"),
            Some(("src/lib.rs", 12))
        );
        assert_eq!(
            example_location("crates/a/src/lib.rs - (line 3)"),
            Some(("crates/a/src/lib.rs", 3))
        );
        assert_eq!(
            example_location("src/lib.rs - Foo<T,-U>::f (line 40)"),
            Some(("src/lib.rs", 40))
        );
        assert_eq!(example_location("tests::add"), None);
        assert_eq!(example_location(JOB_COST_NAME), None);
    }

    #[test]
    fn doctest_ids() {
        let id = |binary_id: &str, name: &str| TestId {
            binary_id: binary_id.into(),
            name: name.into(),
        };
        assert!(is_doctest(&id("pkg::doc/pkg", "src/lib.rs - f (line 1)")));
        assert!(!is_doctest(&id("pkg", "src/lib.rs - f (line 1)")));
        assert!(!is_doctest(&id("pkg::doc/pkg", JOB_COST_NAME)));
    }

    #[test]
    fn commands() {
        let build = ["--release".to_string()];
        assert_eq!(
            list_args("p", &build, true),
            [
                "test",
                "--doc",
                "-p",
                "p",
                "--release",
                "--",
                "--list",
                "--format",
                "terse",
                "--ignored"
            ]
        );
        let all = subset(&["a (line 1)".into()], &["a (line 1)".into()]);
        let args = run_args("p", &[], 2, false, Path::new("/t/log"), &all).unwrap();
        assert_eq!(
            args,
            [
                "test",
                "--doc",
                "-p",
                "p",
                "--",
                "--test-threads=2",
                "--logfile",
                "/t/log"
            ]
        );
        assert!(run_args("p", &[], 2, false, Path::new("/my tmp/log"), &all).is_none());
    }
}
