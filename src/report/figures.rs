//! The numbers of a run as plain text: the figures line of a pass, the runner's overhead, the
//! longest test, and the side-by-side table of a comparison (`--compare`, `--compare-modes`).
//!
//! Pure functions of the summaries, so the human report only decides where they go.

use std::time::Duration;

use super::event::{PassLabel, RunStats};
use super::summary::Summary;

/// `NAME: 4 workers, wall 1.000s, summed test time 3.000s, speedup 3.00x, efficiency 75%`.
pub fn figures_line(name: &str, stats: &RunStats) -> String {
    format!(
        "{name}: {} worker{}, wall {}, summed test time {}, speedup {:.2}x, efficiency {:.0}%\n",
        stats.workers,
        plural(stats.workers),
        secs(stats.wall),
        secs(stats.summed),
        stats.speedup(),
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
    if let Some(longest) = &stats.longest {
        text += &format!(
            "Longest test: {} ({}); ideal wall time max(longest, summed / workers) = {}\n",
            secs(longest.duration),
            longest.id,
            secs(stats.ideal_wall())
        );
    }
    text
}

/// The two passes of a comparison side by side, and one sentence on what the difference means.
pub fn comparison(baseline: &Summary, summary: &Summary) -> String {
    let (first, second) = (&baseline.stats, &summary.stats);
    let row = |name: &str, a: String, b: String| format!("  {name:<18}{a:>14}{b:>14}\n");
    let label = |s: &Summary, default: &'static str| s.label.map_or(default, PassLabel::name);
    let column = |s: &Summary| format!("{} ({}w)", label(s, "run"), s.stats.workers);
    let mut text = format!(
        "{} vs {}:\n",
        label(baseline, "baseline"),
        label(summary, "run")
    );
    text += &row("", column(baseline), column(summary));
    text += &row("wall time", secs(first.wall), secs(second.wall));
    text += &row("summed test time", secs(first.summed), secs(second.summed));
    text += &row(
        "speedup",
        format!("{:.2}x", first.speedup()),
        format!("{:.2}x", second.speedup()),
    );
    text += &row(
        "efficiency",
        format!("{:.0}%", first.efficiency() * 100.0),
        format!("{:.0}%", second.efficiency() * 100.0),
    );
    text + &verdict(baseline.label, first.wall, second.wall)
}

/// What the wall times of the two passes say.
fn verdict(baseline: Option<PassLabel>, first: Duration, second: Duration) -> String {
    let gain = first.as_secs_f64() / second.as_secs_f64().max(1e-9);
    let slower = second >= first;
    match (baseline, slower) {
        (Some(PassLabel::Serial), true) => "The parallel run was not faster than the serial one: \
            starting and feeding workers cost more than this suite gains from running tests \
            at once. Parallelism pays off on suites with more, or longer, tests.\n"
            .to_string(),
        (Some(PassLabel::Serial), false) => {
            format!("The parallel run was {gain:.2}x faster than the serial one.\n")
        }
        (_, true) => "Batching was not faster here: the tests cost more than starting a \
            process for each, so keep one process per test (it also isolates them).\n"
            .to_string(),
        (_, false) => format!(
            "Batched was {gain:.2}x faster than one process per test: per-process start-up \
             dominated. Batch only tests that share no global state.\n"
        ),
    }
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

    #[test]
    fn comparison_names_both_passes_and_the_gain() {
        let pass = |label, workers, wall_ms| {
            let mut summary = Summary::new(workers);
            summary.label = Some(label);
            summary.stats.wall = Duration::from_millis(wall_ms);
            summary
        };
        let text = comparison(
            &pass(PassLabel::Serial, 1, 400),
            &pass(PassLabel::Parallel, 2, 200),
        );
        assert!(text.starts_with("serial vs parallel:\n"), "{text}");
        assert!(
            text.contains("serial (1w)") && text.contains("parallel (2w)"),
            "{text}"
        );
        assert!(text.ends_with("The parallel run was 2.00x faster than the serial one.\n"));
    }
}
