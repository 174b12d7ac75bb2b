//! The plot of the timeline, as SVG: every pass on one time axis, one under the other (a
//! serial pass is as long as it is), one lane per worker slot, one `<rect>` per test attempt
//! from its start to its end, coloured by outcome; batch chunks outlined around their tests,
//! the idle tail shaded, the ideal bound drawn as a line, long poles and tests that are not
//! isolated outlined.
//!
//! A bar's `x` is the axis origin plus its start times the scale, its `width` its duration
//! times the scale: the plot's `data-x0` and `data-px-per-s` say both, so a bar can be checked
//! against the run's events.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::html::text;
use super::recording::{micros, Bar, Class, Pass, Recording};
use super::shape::Shape;

/// Pixels the longest pass spans before zooming.
const PLOT_WIDTH: f64 = 1100.0;
/// The time axis's origin, in pixels from the plot's left edge.
pub(super) const X0: f64 = 10.0;
const AXIS_HEIGHT: f64 = 22.0;
const HEADER_HEIGHT: f64 = 22.0;
const LANE_HEIGHT: f64 = 22.0;
const BAR_HEIGHT: f64 = 18.0;
const PASS_GAP: f64 = 12.0;
const LABELS_WIDTH: f64 = 150.0;
/// The widest the plot may grow when zoomed, in pixels (browsers cap layout sizes).
pub(super) const MAX_PLOT_WIDTH: f64 = 2.0e6;

/// An outcome's colour, in the bars and in the legend alike.
pub(super) fn colour(class: Class) -> &'static str {
    match class {
        Class::Pass => "#3a9e4f",
        Class::Flaky => "#e6a100",
        Class::Leaky => "#17a2b8",
        Class::Fail => "#d9453d",
        Class::Crash => "#6d1a1a",
        Class::Exit => "#c2185b",
        Class::Timeout => "#7e57c2",
        Class::Error => "#455a64",
        Class::Cancelled => "#9e9e9e",
        Class::Unfinished => "#cfcfcf",
    }
}

/// Where each pass sits, and the scale they share.
pub(super) struct Layout {
    pub(super) px_per_s: f64,
    /// Top of each pass's header band.
    tops: Vec<f64>,
    pub(super) width: f64,
    height: f64,
    pub(super) shapes: Vec<Shape>,
}

impl Layout {
    pub(super) fn of(recording: &Recording) -> Layout {
        let span = recording
            .passes
            .iter()
            .map(Pass::span_us)
            .max()
            .unwrap_or(0);
        // A run of nothing still gets a readable axis: a millisecond is a pixel.
        let px_per_s = if span == 0 {
            1000.0
        } else {
            PLOT_WIDTH / (span as f64 / 1e6)
        };
        let mut tops = Vec::new();
        let mut y = AXIS_HEIGHT;
        for pass in &recording.passes {
            tops.push(y);
            y += HEADER_HEIGHT + pass.lanes() as f64 * LANE_HEIGHT + PASS_GAP;
        }
        Layout {
            px_per_s,
            tops,
            width: X0 + span as f64 / 1e6 * px_per_s + 20.0,
            height: y,
            shapes: recording.passes.iter().map(Shape::of).collect(),
        }
    }

    fn x(&self, us: u64) -> f64 {
        X0 + us as f64 / 1e6 * self.px_per_s
    }

    fn w(&self, us: u64) -> f64 {
        us as f64 / 1e6 * self.px_per_s
    }

    fn lane_top(&self, pass: usize, worker: usize) -> f64 {
        self.tops[pass] + HEADER_HEIGHT + worker as f64 * LANE_HEIGHT
    }
}

/// The lane labels beside the plot: pass names, worker slots and how busy each was.
fn labels(recording: &Recording, layout: &Layout, page: &mut String) {
    let _ = writeln!(
        page,
        "<svg id=\"labels\" width=\"{LABELS_WIDTH}\" height=\"{}\">",
        layout.height
    );
    for (index, pass) in recording.passes.iter().enumerate() {
        let top = layout.tops[index];
        let _ = writeln!(
            page,
            "<text class=\"pass-name\" x=\"6\" y=\"{}\">{}</text>",
            top + 15.0,
            text(&pass.name(index))
        );
        let span = pass.span_us().max(1) as f64;
        for (worker, lane) in layout.shapes[index].lanes.iter().enumerate() {
            let _ = writeln!(
                page,
                "<text x=\"14\" y=\"{}\">worker {worker} · {:.0}% busy</text>",
                layout.lane_top(index, worker) + 15.0,
                lane.busy_us as f64 * 100.0 / span
            );
        }
    }
    *page += "</svg>\n";
}

/// The plot: axis, lanes, chunks, bars and bounds.
pub(super) fn chart(recording: &Recording, layout: &Layout, page: &mut String) {
    *page += "<div id=\"chart\">\n";
    labels(recording, layout, page);
    let _ = writeln!(
        page,
        "<div id=\"scroll\"><svg id=\"plot\" width=\"{:.0}\" height=\"{}\" data-px-per-s=\"{}\" \
         data-x0=\"{X0}\">",
        layout.width, layout.height, layout.px_per_s
    );
    axis(layout, page);
    *page += "<g id=\"zoom\">\n";
    let mut index = 0;
    for (number, pass) in recording.passes.iter().enumerate() {
        pass_plot(recording, layout, number, pass, &mut index, page);
    }
    *page += "</g>\n<g id=\"names\"></g>\n</svg></div>\n</div>\n";
}

/// The time axis as first drawn; the script redraws it when zooming.
fn axis(layout: &Layout, page: &mut String) {
    *page += "<g id=\"axis\">\n";
    let raw = 100.0 / layout.px_per_s;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let end = (layout.width - X0) / layout.px_per_s;
    let mut i = 0.0;
    while i * step <= end + 1e-9 {
        let x = X0 + i * step * layout.px_per_s;
        let _ = writeln!(
            page,
            "<line class=\"grid\" x1=\"{x:.3}\" x2=\"{x:.3}\" y1=\"18\" y2=\"{}\"/><text \
             x=\"{:.3}\" y=\"13\">{}</text>",
            layout.height,
            x + 2.0,
            tick_label((i * step * 1e6).round() as u64)
        );
        i += 1.0;
    }
    *page += "</g>\n";
}

/// As the script writes it.
fn tick_label(us: u64) -> String {
    match us {
        0 => "0".into(),
        1..1000 => format!("{us} µs"),
        1000..1_000_000 if us < 10_000 => format!("{:.2} ms", us as f64 / 1e3),
        1000..1_000_000 => format!("{:.1} ms", us as f64 / 1e3),
        _ => format!("{:.3} s", us as f64 / 1e6),
    }
}

fn pass_plot(
    recording: &Recording,
    layout: &Layout,
    number: usize,
    pass: &Pass,
    index: &mut usize,
    page: &mut String,
) {
    let shape = &layout.shapes[number];
    let top = layout.tops[number] + HEADER_HEIGHT;
    let bottom = top + pass.lanes() as f64 * LANE_HEIGHT;
    let span = layout.w(pass.span_us());
    for worker in 0..pass.lanes() {
        let y = layout.lane_top(number, worker) + 1.0;
        let h = LANE_HEIGHT - 2.0;
        let _ = writeln!(
            page,
            "<rect class=\"lane\" x=\"{X0}\" y=\"{y}\" width=\"{span:.3}\" height=\"{h}\"/>"
        );
    }
    if let Some(idle) = shape.idle_from_us {
        let end = shape.lanes.iter().map(|l| l.end_us).max().unwrap_or(idle);
        let _ = writeln!(
            page,
            "<rect class=\"tail\" x=\"{:.3}\" y=\"{top}\" width=\"{:.3}\" height=\"{}\"/>",
            layout.x(idle),
            layout.w(end - idle),
            bottom - top
        );
    }
    for chunk in &shape.chunks {
        let again = match chunk.superseded {
            0 => String::new(),
            n => format!("; {n} more started in it and got their result running again alone"),
        };
        let _ = writeln!(
            page,
            "<rect class=\"chunk\" x=\"{:.3}\" y=\"{}\" width=\"{:.3}\" height=\"{}\"><title>\
             batch chunk: one process, {} test result{} from it{again}</title></rect>",
            layout.x(chunk.start_us),
            layout.lane_top(number, chunk.worker) + 1.0,
            layout.w(chunk.end_us - chunk.start_us),
            LANE_HEIGHT - 2.0,
            chunk.tests,
            if chunk.tests == 1 { "" } else { "s" },
        );
    }
    let poles: HashSet<usize> = shape.poles.iter().copied().collect();
    let not_isolated: HashSet<usize> = recording.not_isolated.iter().map(|d| d.test).collect();
    // Neighbours on a lane take turns in shade, so that back-to-back tests of one colour
    // still read as separate bars.
    let mut order: Vec<usize> = (0..pass.bars.len()).collect();
    order.sort_by_key(|&i| (pass.bars[i].place.worker, pass.bars[i].place.start_us));
    let mut alternate = vec![false; pass.bars.len()];
    for pair in order.windows(2) {
        let (before, after) = (&pass.bars[pair[0]], &pass.bars[pair[1]]);
        alternate[pair[1]] = before.place.worker == after.place.worker && !alternate[pair[0]];
    }
    for (i, bar) in pass.bars.iter().enumerate() {
        let marks = Marks {
            pole: poles.contains(&i),
            not_isolated: not_isolated.contains(&bar.test),
            alternate: alternate[i],
        };
        bar_rect(layout, number, bar, marks, *index, page);
        *index += 1;
    }
    if let Some(stats) = &pass.stats {
        let x = layout.x(micros(stats.ideal_wall()));
        let _ = writeln!(
            page,
            "<line class=\"ideal\" x1=\"{x:.3}\" x2=\"{x:.3}\" y1=\"{top}\" y2=\"{bottom}\"/>"
        );
    }
}

/// What is drawn over a bar besides its outcome.
#[derive(Debug, Clone, Copy)]
struct Marks {
    pole: bool,
    not_isolated: bool,
    /// Every other bar of a lane, a shade lighter.
    alternate: bool,
}

/// One attempt: `<rect class="fail pole" x y width height data-i>`. Inside a batch chunk it is
/// drawn a little thinner, so the chunk's outline shows around its tests.
fn bar_rect(
    layout: &Layout,
    pass: usize,
    bar: &Bar,
    marks: Marks,
    index: usize,
    page: &mut String,
) {
    let inset = if bar.place.chunk.is_some() { 2.0 } else { 0.0 };
    let y = layout.lane_top(pass, bar.place.worker) + (LANE_HEIGHT - BAR_HEIGHT) / 2.0 + inset;
    let _ = writeln!(
        page,
        "<rect class=\"{}{}{}{}\" x=\"{:.3}\" y=\"{y}\" width=\"{:.3}\" height=\"{}\" data-i=\"{index}\"/>",
        bar.class.name(),
        if marks.alternate { " alt" } else { "" },
        if marks.pole { " pole" } else { "" },
        if marks.not_isolated { " ni" } else { "" },
        layout.x(bar.place.start_us),
        layout.w(bar.duration_us),
        BAR_HEIGHT - 2.0 * inset,
    );
}
