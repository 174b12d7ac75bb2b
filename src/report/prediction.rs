//! `runner predict`: the predicted wall time of the selection for several worker counts, as a
//! table or as JSON, and the words that say why `-n auto` chose its workers (shared with the
//! run's header line).

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use super::escape::visible;
use super::figures::plural;
use super::listing;
use crate::cli::RunConfig;
use crate::plan::predict::{Forecast, Prediction};
use crate::plan::sizing::{AutoLimit, AutoWorkers, MAX_PER_CORE};
use crate::plan::Plan;

/// Why `-n auto` chose its workers, as the run's header says it after `auto: `.
pub fn auto_reason(auto: &AutoWorkers) -> String {
    let Some(fraction) = auto.cpu_fraction else {
        return match auto.tests_with_history {
            0 => "one worker per CPU, no CPU times in the history yet".to_string(),
            n => format!(
                "one worker per CPU, CPU times for only {n} of the {} tests",
                auto.tests
            ),
        };
    };
    let percent = fraction * 100.0;
    let share = if percent > 0.0 && percent < 1.0 {
        "under 1%".to_string()
    } else {
        format!("{percent:.0}%")
    };
    let reason = format!("tests spent {share} of their time on CPU");
    match auto.limit {
        None => reason,
        Some(AutoLimit::LittleWaiting) => format!(
            "{reason}, but wait only {:.2} s in all: one worker per CPU",
            auto.waiting
        ),
        Some(AutoLimit::PerCore) => format!("{reason}; at most {MAX_PER_CORE} per CPU"),
        Some(AutoLimit::Memory) => format!("{reason}; as many as free memory allows"),
        Some(AutoLimit::Tests) => format!("{reason}; one per test"),
    }
}

/// The JSON form of `runner predict --format json`.
#[derive(Serialize)]
struct Json<'a> {
    #[serde(flatten)]
    forecast: &'a Forecast,
    binaries: usize,
    auto_workers: usize,
    auto: &'a AutoWorkers,
}

/// Print the forecast; exit code 104 when a binary could not be listed (as `runner list`).
pub fn print_prediction(
    config: &RunConfig,
    plan: &Plan,
    forecast: &Forecast,
    auto: &AutoWorkers,
) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    let binaries = plan
        .to_run
        .iter()
        .map(|case| &case.binary.id)
        .collect::<std::collections::HashSet<_>>()
        .len();
    if config.list_json {
        let json = Json {
            forecast,
            binaries,
            auto_workers: auto.workers,
            auto,
        };
        serde_json::to_writer(&mut out, &json)?;
        writeln!(out)?;
    } else {
        for message in &plan.notes {
            eprintln!("note: {}", visible(message));
        }
        out.write_all(table(forecast, binaries, auto).as_bytes())?;
    }
    Ok(listing::say_list_failures(plan))
}

/// The human form: a heading, one row per worker count, what `-n auto` would do, and what the
/// prediction could not know.
fn table(forecast: &Forecast, binaries: usize, auto: &AutoWorkers) -> String {
    let tests = forecast.tests;
    let mut text = format!(
        "Predicted wall time of {tests} test{} from {binaries} binar{} on {} CPU{}, from the \
         timing history (one process per test, in the order a run starts them):\n\n",
        plural(tests),
        if binaries == 1 { "y" } else { "ies" },
        forecast.cores,
        plural(forecast.cores),
    );
    text += "workers | predicted wall | speedup vs 1 worker\n";
    for Prediction {
        workers,
        wall,
        speedup,
    } in &forecast.predictions
    {
        let mark = if *workers == auto.workers {
            "   <- -n auto"
        } else {
            ""
        };
        text += &format!("{workers:>7} | {:>12.2} s | {speedup:>18.2}x{mark}\n", wall);
    }
    text += &format!(
        "\n-n auto would run {} worker{} ({}).\n",
        auto.workers,
        plural(auto.workers),
        auto_reason(auto)
    );
    if forecast.without_history > 0 {
        text += &format!(
            "note: {} of {tests} selected tests have no history; each is counted at {:.3} s, \
             {:.0}% of it on CPU{}\n",
            forecast.without_history,
            forecast.default.wall,
            forecast.default.cpu / forecast.default.wall.max(f64::MIN_POSITIVE) * 100.0,
            if forecast.without_history == tests {
                " (run the tests once for a real prediction)"
            } else {
                " (the mean of the others)"
            }
        );
    }
    if forecast.without_cpu > 0 {
        text += &format!(
            "note: {} of {tests} selected tests have durations but no CPU time in the history; \
             they are counted at the others' share of CPU\n",
            forecast.without_cpu
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::predict::Estimate;

    fn auto(cpu_fraction: Option<f64>, limit: Option<AutoLimit>) -> AutoWorkers {
        AutoWorkers {
            workers: 8,
            cores: 2,
            cpu_fraction,
            waiting: 0.5,
            tests_with_history: 24,
            tests: 24,
            limit,
        }
    }

    #[test]
    fn auto_reasons() {
        assert_eq!(
            auto_reason(&auto(Some(0.12), None)),
            "tests spent 12% of their time on CPU"
        );
        assert_eq!(
            auto_reason(&auto(Some(0.004), Some(AutoLimit::PerCore))),
            "tests spent under 1% of their time on CPU; at most 4 per CPU"
        );
        assert_eq!(
            auto_reason(&auto(Some(0.4), Some(AutoLimit::LittleWaiting))),
            "tests spent 40% of their time on CPU, but wait only 0.50 s in all: one worker \
             per CPU"
        );
        let few = AutoWorkers {
            tests_with_history: 3,
            ..auto(None, None)
        };
        assert_eq!(
            auto_reason(&few),
            "one worker per CPU, CPU times for only 3 of the 24 tests"
        );
    }

    #[test]
    fn table_rows_and_notes() {
        let row = |workers, wall: f64| Prediction {
            workers,
            wall,
            speedup: 8.0 / wall,
        };
        let forecast = Forecast {
            cores: 2,
            tests: 24,
            without_history: 3,
            without_cpu: 0,
            default: Estimate {
                wall: 0.25,
                cpu: 0.1,
            },
            predictions: vec![row(1, 8.0), row(2, 4.0), row(4, 2.0), row(8, 1.0)],
        };
        let text = table(&forecast, 2, &auto(Some(0.12), None));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], "workers | predicted wall | speedup vs 1 worker");
        assert_eq!(lines[3], "      1 |         8.00 s |               1.00x");
        assert_eq!(
            lines[6],
            "      8 |         1.00 s |               8.00x   <- -n auto"
        );
        assert!(text.contains(
            "note: 3 of 24 selected tests have no history; each is counted at 0.250 s, 40% \
             of it on CPU (the mean of the others)"
        ));
    }
}
