//! The progress bar on a terminal: done/total, passed, failed and running counts, and under it
//! the tests running now, longest-running first, so that a hanging test is seen by name.
//!
//! The list under the bar is drawn by indicatif on every tick (a custom template key), so the
//! running times advance without an event; it is bounded in lines and cut to the terminal's
//! width, so that it never scrolls the screen or wraps.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use console::Style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// At most this many running tests are named under the bar.
const MAX_RUNNING_SHOWN: usize = 8;

/// The tests in flight, in the order they started (the longest-running first).
#[derive(Default)]
struct Running {
    started: Vec<(Instant, String)>,
}

/// The bar, and the running tests it names.
pub(super) struct Bar {
    bar: ProgressBar,
    running: Arc<Mutex<Running>>,
}

impl Bar {
    pub(super) fn new(tests: usize, color: bool) -> Bar {
        let bar = ProgressBar::with_draw_target(Some(tests as u64), ProgressDrawTarget::stderr());
        let running = Arc::new(Mutex::new(Running::default()));
        let columns = console::Term::stderr()
            .size_checked()
            .map_or(80, |(_, c)| c);
        // Narrow terminals get a shorter bar, so that the counts still fit on its line.
        let width = usize::from(columns).saturating_sub(60).clamp(10, 30);
        let template = if color {
            format!("{{elapsed_precise:.dim}} [{{bar:{width}.green/red}}] {{pos}}/{{len}} {{msg}}{{running}}")
        } else {
            format!("{{elapsed_precise}} [{{bar:{width}}}] {{pos}}/{{len}} {{msg}}{{running}}")
        };
        let shown = Arc::clone(&running);
        let list = move |_: &ProgressState, out: &mut dyn std::fmt::Write| {
            let (rows, columns) = console::Term::stderr().size_checked().unwrap_or((24, 80));
            // The bar's own line and at least half the screen stay free for the report.
            let lines = MAX_RUNNING_SHOWN.min(usize::from(rows).saturating_sub(2) / 2);
            let now = Instant::now();
            let running = shown.lock().unwrap_or_else(|e| e.into_inner());
            let tests: Vec<(Duration, &str)> = running
                .started
                .iter()
                .map(|(at, id)| (now - *at, id.as_str()))
                .collect();
            let _ = out.write_str(&running_lines(&tests, usize::from(columns), lines, color));
        };
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> ").with_key("running", list));
        }
        bar.enable_steady_tick(Duration::from_millis(250));
        Bar { bar, running }
    }

    /// `id` is already escaped for the terminal.
    pub(super) fn started(&self, id: String) {
        self.lock().started.push((Instant::now(), id));
    }

    /// The test is no longer running (finished, or reported without running).
    pub(super) fn ended(&self, id: &str) {
        let mut running = self.lock();
        if let Some(at) = running.started.iter().position(|(_, shown)| shown == id) {
            running.started.remove(at);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn inc(&self) {
        self.bar.inc(1);
    }

    pub(super) fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Run `f` with the bar cleared, so what it prints lands above the bar.
    pub(super) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    pub(super) fn clear(self) {
        self.bar.finish_and_clear();
    }
}

/// One line per running test (`RUNNING [  61.0s] binary test`), the longest-running first, at
/// most `lines` of them (the last saying how many more run), each cut to `width` columns. Each
/// line starts with a newline: the text follows the bar's own line.
fn running_lines(tests: &[(Duration, &str)], width: usize, lines: usize, color: bool) -> String {
    if lines == 0 || tests.is_empty() {
        return String::new();
    }
    let mut sorted: Vec<&(Duration, &str)> = tests.iter().collect();
    // Stable: tests that started at the same moment keep their order.
    sorted.sort_by_key(|test| std::cmp::Reverse(test.0));
    let shown = if sorted.len() > lines {
        lines - 1
    } else {
        sorted.len()
    };
    let label = |text: &str| match color {
        true => Style::new()
            .cyan()
            .bold()
            .force_styling(true)
            .apply_to(text)
            .to_string(),
        false => text.to_string(),
    };
    let mut text = String::new();
    for (elapsed, id) in &sorted[..shown] {
        let line = format!(
            "{} [{:>8.1}s] {id}",
            label(&format!("{:>8}", "RUNNING")),
            elapsed.as_secs_f64()
        );
        text.push('\n');
        text.push_str(&console::truncate_str(&line, width.max(1), "…"));
    }
    if shown < sorted.len() {
        let more = format!("{:>8} and {} more running", "...", sorted.len() - shown);
        text.push('\n');
        text.push_str(&console::truncate_str(&more, width.max(1), "…"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn longest_running_first_bounded_and_cut_to_width() {
        let tests = [
            (secs(1), "pkg short"),
            (secs(90), "pkg hangs"),
            (secs(5), "pkg medium"),
        ];
        let text = running_lines(&tests, 80, 8, false);
        assert_eq!(
            text,
            "\n RUNNING [    90.0s] pkg hangs\n RUNNING [     5.0s] pkg medium\n \
             RUNNING [     1.0s] pkg short"
        );
        let text = running_lines(&tests, 80, 2, false);
        assert_eq!(
            text,
            "\n RUNNING [    90.0s] pkg hangs\n     ... and 2 more running"
        );
        let long = "x".repeat(200);
        let text = running_lines(&[(secs(1), &long)], 40, 8, true);
        for line in text.lines().skip(1) {
            assert!(console::measure_text_width(line) <= 40, "{line:?}");
        }
        assert_eq!(running_lines(&tests, 80, 0, false), "");
        assert_eq!(running_lines(&[], 80, 8, false), "");
    }
}
