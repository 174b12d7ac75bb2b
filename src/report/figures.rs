//! The numbers of a run as plain text: the figures line of a pass, the runner's overhead, the
//! longest test, and the side-by-side table of a comparison (`--compare`, `--compare-modes`).
//!
//! Pure functions of the summaries, so the human report only decides where they go.

use std::time::Duration;

use super::event::{PassLabel, Phases, RunStats};
use super::summary::{Passes, Summary};

/// `NAME: 4 workers (2 usable), wall 1.000s, summed test time 3.000s, concurrency 3.00x,
/// efficiency 75%`. Concurrency is what was measured (tests in flight on average); it is not a
/// speedup, which needs a serial run to compare with (`--compare`).
pub fn figures_line(name: &str, stats: &RunStats) -> String {
    let usable = match stats.usable() {
        usable if usable < stats.workers => format!(" ({usable} usable)"),
        _ => String::new(),
    };
    format!(
        "{name}: {} worker{}{usable}, wall {}, summed test time {}, concurrency {:.2}x, efficiency {:.0}%\n",
        stats.workers,
        plural(stats.workers),
        secs(stats.wall),
        secs(stats.summed),
        stats.concurrency(),
        stats.efficiency() * 100.0
    )
}

/// The closing figures of the final pass: its figures line, the runner's overhead and the
/// longest test with the ideal wall time.
pub fn closing_figures(summary: &Summary) -> String {
    let stats = &summary.stats;
    let name = format!("Run ({} mode)", summary.mode.name());
    let mut text = figures_line(&name, stats);
    let tests = (stats.passed + stats.failed).max(1);
    text += &format!(
        "Runner overhead: {:.3} ms CPU per test, peak memory {:.1} MiB\n",
        stats.runner_cpu.as_secs_f64() * 1000.0 / tests as f64,
        stats.peak_rss_kib as f64 / 1024.0
    );
    if let Some(contention) = stats.contention.filter(|c| c.tests > 0) {
        text += &format!(
            "Contention: the {} test{} with a history ran {:.2}x as long as alone (summed {} here, {} alone)\n",
            contention.tests,
            plural(contention.tests),
            contention.factor(),
            secs(contention.measured),
            secs(contention.alone)
        );
    }
    if let Some(longest) = &stats.longest {
        text += &format!(
            "Longest test: {} ({}); ideal wall time max(longest, summed / usable workers) = {}\n",
            secs(longest.duration),
            longest.id,
            secs(stats.ideal_wall())
        );
    }
    text
}

/// Wall times of repeated passes: their median and range.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spread {
    median: f64,
    low: f64,
    high: f64,
    runs: usize,
}

impl Spread {
    fn of(passes: &[Summary]) -> Spread {
        let mut walls: Vec<f64> = passes.iter().map(|s| s.stats.wall.as_secs_f64()).collect();
        walls.sort_by(f64::total_cmp);
        let median = match walls.len() {
            0 => 0.0,
            n if n % 2 == 1 => walls[n / 2],
            n => (walls[n / 2 - 1] + walls[n / 2]) / 2.0,
        };
        Spread {
            median,
            low: walls.first().copied().unwrap_or(0.0),
            high: walls.last().copied().unwrap_or(0.0),
            runs: walls.len(),
        }
    }

    fn cell(&self) -> String {
        if self.runs > 1 {
            format!("{:.3}s ({:.3}-{:.3})", self.median, self.low, self.high)
        } else {
            format!("{:.3}s", self.median)
        }
    }
}

/// The passes of a comparison side by side, and one sentence on what the difference means.
pub fn comparison(passes: &Passes) -> String {
    let (Some(first), Some(second)) = (passes.baselines.last(), passes.compared.last()) else {
        return String::new();
    };
    let label = |s: &Summary, default: &'static str| s.label.map_or(default, PassLabel::name);
    let (a, b) = (Spread::of(&passes.baselines), Spread::of(&passes.compared));
    let columns = [
        format!("{} ({}w)", label(first, "baseline"), first.stats.workers),
        format!("{} ({}w)", label(second, "run"), second.stats.workers),
    ];
    let walls = [a.cell(), b.cell()];
    // Wide enough for every cell, so two-digit worker counts never run into each other.
    let width = columns
        .iter()
        .chain(&walls)
        .map(String::len)
        .max()
        .unwrap_or(0)
        + 2;
    let row = |name: &str, x: &str, y: &str| format!("  {name:<18}{x:>width$}{y:>width$}\n");
    let (s1, s2) = (&first.stats, &second.stats);
    let mut text = format!(
        "{} vs {}:\n",
        label(first, "baseline"),
        label(second, "run")
    );
    text += &row("", &columns[0], &columns[1]);
    text += &row(
        if a.runs > 1 {
            "wall time (median)"
        } else {
            "wall time"
        },
        &walls[0],
        &walls[1],
    );
    text += &row("summed test time", &secs(s1.summed), &secs(s2.summed));
    let concurrency = |s: &RunStats| format!("{:.2}x", s.concurrency());
    text += &row("concurrency", &concurrency(s1), &concurrency(s2));
    let efficiency = |s: &RunStats| format!("{:.0}%", s.efficiency() * 100.0);
    text += &row("efficiency", &efficiency(s1), &efficiency(s2));
    let speedup = a.median / b.median.max(1e-9);
    text += &row("speedup", "1.00x", &format!("{speedup:.2}x"));
    text + &verdict(first.label, a, b)
}

/// A difference smaller than this share of the baseline is noise for a single run each.
const NOISE_SHARE: f64 = 0.10;
/// And one smaller than this, whatever the share.
const NOISE_SECONDS: f64 = 0.020;

/// What the wall times of the two kinds of pass say.
fn verdict(baseline: Option<PassLabel>, a: Spread, b: Spread) -> String {
    let overlap = a.low <= b.high && b.low <= a.high;
    let noise = (a.median - b.median).abs() < (a.median * NOISE_SHARE).max(NOISE_SECONDS);
    let serial = baseline == Some(PassLabel::Serial);
    let (first, second) = if serial {
        ("serial", "parallel")
    } else {
        ("one-process-per-test", "batched")
    };
    if a.runs > 1 && overlap {
        return format!(
            "No measurable difference: the {first} and {second} wall times overlap over {} runs each.\n",
            a.runs.min(b.runs)
        );
    }
    if a.runs == 1 && noise {
        return format!(
            "No measurable difference between the {first} and {second} runs (one run each; \
             --runs N measures the spread).\n"
        );
    }
    let gain = a.median / b.median.max(1e-9);
    let slower = b.median >= a.median;
    match (serial, slower) {
        (true, true) => "The parallel run was not faster than the serial one: starting and \
            feeding workers cost more than this suite gains from running tests at once. \
            Parallelism pays off on suites with more, or longer, tests.\n"
            .to_string(),
        (true, false) => format!("The parallel run was {gain:.2}x faster than the serial one.\n"),
        (false, true) => "Batching was not faster here: the tests cost more than starting a \
            process for each, so keep one process per test (it also isolates them).\n"
            .to_string(),
        (false, false) => format!(
            "Batched was {gain:.2}x faster than one process per test: per-process start-up \
             dominated. Batch only tests that share no global state.\n"
        ),
    }
}

/// The tests whose outcome depended on the pass, one line each.
pub fn not_isolated(stats: &RunStats) -> String {
    if stats.not_isolated.is_empty() {
        return String::new();
    }
    let count = stats.not_isolated.len();
    let mut text = format!(
        "{count} test{} not isolated (the outcome depends on what runs beside {}):\n",
        plural(count),
        if count == 1 { "it" } else { "them" }
    );
    for difference in &stats.not_isolated {
        text += &format!("    {}: {}\n", difference.id, difference.describe());
    }
    text
}

/// The runner's phases (`-v`): when each ended since the process started, then the three
/// spans a person compares with another runner: start-up (to the first test), tests, and
/// wrap-up (the last test to the reports written).
///
/// `Phases since start: build 0.081s, metadata 0.052s, listed 0.120s, first test 0.125s, last
/// test 0.950s, reports 0.962s` and `  start-up 0.125s, tests 0.825s, wrap-up 0.012s`.
pub fn phases_lines(phases: &Phases) -> String {
    let marks = [
        ("build", phases.build),
        ("metadata", phases.metadata),
        ("listed", phases.listed),
        ("first test", phases.first_test),
        ("last test", phases.last_test),
        ("reports", phases.reports.or(phases.run_finished)),
    ];
    let shown = |marks: &[(&str, Option<Duration>)]| {
        marks
            .iter()
            .filter_map(|(name, at)| at.map(|at| format!("{name} {}", secs(at))))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let reached = shown(&marks);
    if reached.is_empty() {
        return String::new();
    }
    let spans = shown(&[
        ("start-up", phases.start_up()),
        ("tests", phases.testing()),
        ("wrap-up", phases.wrap_up()),
    ]);
    let mut text = format!("Phases since start: {reached}\n");
    if !spans.is_empty() {
        text += &format!("  {spans}\n");
    }
    text
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

pub fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::Phase;

    #[test]
    fn phases_say_when_each_ended_and_the_spans() {
        let ms = Duration::from_millis;
        let phases = Phases::default()
            .with(Phase::Build, ms(81))
            .with(Phase::Metadata, ms(52))
            .with(Phase::Listed, ms(120))
            .with(Phase::FirstTest, ms(125))
            .with(Phase::LastTest, ms(950))
            .with(Phase::RunFinished, ms(951))
            .with(Phase::Reports, ms(962));
        assert_eq!(
            phases_lines(&phases),
            "Phases since start: build 0.081s, metadata 0.052s, listed 0.120s, first test \
             0.125s, last test 0.950s, reports 0.962s\n  start-up 0.125s, tests 0.825s, \
             wrap-up 0.012s\n"
        );
        // `--binary`: no cargo; and a run that started no test has no spans to show.
        let prebuilt = Phases::default()
            .with(Phase::Listed, ms(3))
            .with(Phase::RunFinished, ms(4));
        assert_eq!(
            phases_lines(&prebuilt),
            "Phases since start: listed 0.003s, reports 0.004s\n"
        );
        assert_eq!(phases_lines(&Phases::default()), "");
    }

    fn pass(label: PassLabel, workers: usize, wall_ms: u64) -> Summary {
        let mut summary = Summary::new(workers);
        summary.label = Some(label);
        summary.stats.wall = Duration::from_millis(wall_ms);
        summary
    }

    fn passes(serial: &[u64], parallel: &[u64], workers: usize) -> Passes {
        Passes {
            baselines: serial
                .iter()
                .map(|&w| pass(PassLabel::Serial, 1, w))
                .collect(),
            compared: parallel
                .iter()
                .map(|&w| pass(PassLabel::Parallel, workers, w))
                .collect(),
        }
    }

    #[test]
    fn comparison_names_both_passes_and_the_gain() {
        let text = comparison(&passes(&[400], &[200], 2));
        assert!(text.starts_with("serial vs parallel:\n"), "{text}");
        assert!(
            text.contains("serial (1w)") && text.contains("parallel (2w)"),
            "{text}"
        );
        assert!(text.contains("speedup") && text.contains("2.00x"), "{text}");
        assert!(text.ends_with("The parallel run was 2.00x faster than the serial one.\n"));
    }

    #[test]
    fn noise_is_no_finding() {
        let text = comparison(&passes(&[123], &[122], 2));
        assert!(text.contains("No measurable difference"), "{text}");
        let text = comparison(&passes(&[9], &[6], 2));
        assert!(text.contains("No measurable difference"), "{text}");
        // Repeated runs whose ranges overlap: no finding either, whatever the medians.
        let text = comparison(&passes(&[300, 200, 250], &[210, 150, 160], 2));
        assert!(text.contains("overlap over 3 runs"), "{text}");
        let text = comparison(&passes(&[400, 410, 405], &[200, 210, 205], 2));
        assert!(text.contains("1.98x faster"), "{text}");
    }

    #[test]
    fn headers_never_run_into_each_other() {
        let text = comparison(&passes(&[400], &[200], 64));
        let header = text.lines().nth(1).unwrap();
        assert!(header.contains("serial (1w)  "), "{header}");
        assert!(header.contains(" parallel (64w)"), "{header}");
    }
}
