//! Unit tests of the command-line surface.

use super::*;
use clap::CommandFactory;

#[test]
fn command_definition_is_consistent() {
    Cli::command().debug_assert();
}

fn jobs_of(args: &[&str]) -> Option<String> {
    let cli = Cli::try_parse_from(args).unwrap();
    match cli.command {
        Some(Command::Run(run)) => run.jobs,
        _ => cli.run.jobs,
    }
}

#[test]
fn completions_are_generated() {
    let mut out = Vec::new();
    write_completions(clap_complete::Shell::Bash, &mut out);
    let script = String::from_utf8(out).unwrap();
    assert!(script.contains("--exitfirst") && script.contains("junit-merge"));
}

#[test]
fn jobs_accepts_every_spelling() {
    for args in [
        &["runner", "-n4"][..],
        &["runner", "-n", "4"],
        &["runner", "--jobs=4"],
        &["runner", "--jobs", "4"],
        &["runner", "run", "-n4"],
    ] {
        assert_eq!(jobs_of(args).as_deref(), Some("4"), "{args:?}");
    }
    assert_eq!(jobs_of(&["runner", "-nauto"]).as_deref(), Some("auto"));
    assert_eq!(jobs_of(&["runner", "-n", "auto"]).as_deref(), Some("auto"));
    // A negative number reaches our own validation instead of being taken for a flag.
    assert_eq!(jobs_of(&["runner", "-n", "-3"]).as_deref(), Some("-3"));
}

#[test]
fn cargo_flags_render_as_cargo_spells_them() {
    let cli = Cli::try_parse_from([
        "runner",
        "-p",
        "a",
        "-p",
        "b",
        "--test",
        "it",
        "--release",
        "--cargo-profile",
        "x",
    ]);
    assert!(cli.is_err(), "--release conflicts with --cargo-profile");
    let cli =
        Cli::try_parse_from(["runner", "-p", "a", "-p", "b", "--test", "it", "--release"]).unwrap();
    assert_eq!(
        cli.run.cargo.selection_args(),
        ["--package", "a", "--package", "b", "--test", "it"]
    );
    assert_eq!(cli.run.cargo.build_args(), ["--release"]);
}

#[test]
fn list_subcommand_and_filters() {
    let cli = Cli::try_parse_from(["runner", "list", "foo", "--skip", "bar"]).unwrap();
    let Some(Command::List(args)) = cli.command else {
        panic!("expected list")
    };
    assert_eq!(args.filters, ["foo"]);
    assert_eq!(args.select.skip, ["bar"]);
}

#[test]
fn target_is_a_build_flag_and_no_run_a_run_flag() {
    let cli = Cli::try_parse_from([
        "runner",
        "--no-run",
        "--target",
        "aarch64-unknown-linux-gnu",
    ])
    .unwrap();
    assert!(cli.run.no_run);
    assert_eq!(
        cli.run.cargo.build_args(),
        ["--target", "aarch64-unknown-linux-gnu"]
    );
    // Nothing runs, so there is nothing to compare.
    assert!(Cli::try_parse_from(["runner", "--no-run", "--compare"]).is_err());
}

#[test]
fn list_takes_message_format_as_format() {
    for flag in ["--format", "--message-format"] {
        let cli = Cli::try_parse_from(["runner", "list", flag, "json"]).unwrap();
        let Some(Command::List(list)) = cli.command else {
            panic!("not a listing");
        };
        assert_eq!(list.format, ListFormat::Json, "{flag}");
    }
}
