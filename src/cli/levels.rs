//! What the human report shows of each test, resolved from the flags: the status levels (with
//! `-v` and `-q` as their shortcuts), when output is shown, and how much of it.

use super::args::{OutputArgs, OutputWhen, StatusLevelArg};
use super::settings::{Levels, OutputShown, ShowOutput, StatusLevel, UsageError, Verbosity};

/// The status levels and output choices: as given, else as `-v`/`-q` imply, else the
/// defaults (failures' output as they happen, a line for failures, retries and slow tests, and
/// the flaky tests listed at the end).
pub(super) fn levels(args: &OutputArgs, verbosity: Verbosity) -> Levels {
    let level = |arg: StatusLevelArg| match arg {
        StatusLevelArg::None => StatusLevel::None,
        StatusLevelArg::Fail => StatusLevel::Fail,
        StatusLevelArg::Retry => StatusLevel::Retry,
        StatusLevelArg::Slow => StatusLevel::Slow,
        StatusLevelArg::Leak => StatusLevel::Leak,
        StatusLevelArg::Pass => StatusLevel::Pass,
        StatusLevelArg::Skip => StatusLevel::Skip,
        StatusLevelArg::All => StatusLevel::All,
    };
    let show = |when: OutputWhen| ShowOutput {
        immediate: matches!(when, OutputWhen::Immediate | OutputWhen::ImmediateFinal),
        at_end: matches!(when, OutputWhen::Final | OutputWhen::ImmediateFinal),
    };
    let (status, final_status) = match verbosity {
        Verbosity::Verbose => (StatusLevel::All, StatusLevel::Retry),
        Verbosity::Quiet => (StatusLevel::Fail, StatusLevel::Fail),
        Verbosity::Normal => (StatusLevel::Slow, StatusLevel::Retry),
    };
    Levels {
        status: args.status_level.map_or(status, level),
        final_status: args.final_status_level.map_or(final_status, level),
        success_output: show(args.success_output.unwrap_or(OutputWhen::Never)),
        failure_output: show(args.failure_output.unwrap_or(OutputWhen::Immediate)),
    }
}

/// `--output-lines` and `--output-bytes`: at least one of each, when given.
pub(super) fn output_shown(args: &OutputArgs) -> Result<OutputShown, UsageError> {
    for (flag, value) in [
        ("--output-lines <N>", args.output_lines),
        ("--output-bytes <N>", args.output_bytes),
    ] {
        if value == Some(0) {
            return Err(UsageError(format!(
                "invalid value '0' for '{flag}': show at least 1 (the end of the output is where \
                 a panic is)"
            )));
        }
    }
    Ok(OutputShown {
        lines: args.output_lines,
        bytes: args.output_bytes,
    })
}
