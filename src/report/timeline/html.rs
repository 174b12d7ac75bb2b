//! The timeline as one self-contained HTML page: inline SVG, CSS and a little script, nothing
//! loaded from anywhere, so it opens from a CI artifact with no network.
//!
//! The page holds a table of each pass's figures, the legend, the plot (see `plot`), and one
//! JSON table with what the tooltip shows for each bar: a bar in the plot carries only its
//! geometry, its classes and its index in that table (`data-i`), and the page's script adds no
//! listener per bar, so the DOM stays light for tens of thousands of bars.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use super::plot::{self, colour, Layout};
use super::recording::{Class, Pass, Recording};
use super::shape::Shape;
use crate::report::escape::visible;
use crate::report::figures::{plural, secs};

const CSS: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Write the page.
pub fn write(recording: &Recording, out: &mut dyn Write) -> Result<()> {
    let layout = Layout::of(recording);
    let mut page = String::with_capacity(256 * (1 + bars(recording)));
    page += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    page += "<meta name=\"viewport\" content=\"width=device-width\">\n";
    page += "<title>runner timeline</title>\n<style>\n";
    page += CSS;
    for class in Class::ALL {
        let _ = writeln!(
            page,
            "#plot .{} {{ fill: {}; }}",
            class.name(),
            colour(class)
        );
    }
    page += "</style>\n</head>\n<body>\n";
    header(recording, &layout, &mut page);
    legend(&mut page);
    page += "<div class=\"tools\"><button data-zoom=\"out\">−</button><button data-zoom=\"in\">+\
             </button><button data-zoom=\"fit\">fit</button> zoom (or Ctrl + wheel); hover a bar \
             for its details, click to pin them</div>\n";
    plot::chart(recording, &layout, &mut page);
    page += "<div id=\"tip\" hidden></div>\n";
    page += "<script type=\"application/json\" id=\"data\">";
    page += &table(recording, &layout)?;
    page += "</script>\n<script>\n";
    page += SCRIPT;
    page += "</script>\n</body>\n</html>\n";
    out.write_all(page.as_bytes())?;
    Ok(())
}

fn bars(recording: &Recording) -> usize {
    recording.passes.iter().map(|p| p.bars.len()).sum()
}

/// Text for HTML: control characters shown as the other reports show them, markup escaped.
pub(super) fn text(raw: &str) -> Cow<'_, str> {
    let shown = visible(raw);
    if !shown.contains(['&', '<', '>', '"', '\'']) {
        return shown;
    }
    let mut escaped = String::with_capacity(shown.len() + 16);
    for c in shown.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// The title, a table of each pass's figures, and what needs saying.
fn header(recording: &Recording, layout: &Layout, page: &mut String) {
    let attempts = bars(recording);
    let _ =
        writeln!(
        page,
        "<h1>runner timeline</h1>\n<p class=\"sub\">{} pass{}, {} test{}, {} attempt{} drawn</p>",
        recording.passes.len(),
        if recording.passes.len() == 1 { "" } else { "es" },
        recording.tests.len(),
        plural(recording.tests.len()),
        attempts,
        plural(attempts),
    );
    *page += "<table class=\"passes\">\n<tr><th>pass</th><th>mode</th><th>workers</th>\
              <th>passed / failed / skipped</th><th>wall</th><th>summed</th><th>concurrency</th>\
              <th>longest test</th><th>ideal</th><th>idle tail</th><th>long poles</th></tr>\n";
    for (index, pass) in recording.passes.iter().enumerate() {
        pass_row(recording, index, pass, &layout.shapes[index], page);
    }
    *page += "</table>\n<div class=\"notes\">\n";
    for difference in &recording.not_isolated {
        let id = &recording.tests[difference.test].id;
        let _ = writeln!(
            page,
            "<p class=\"ni\">not isolated: {} {}: {}</p>",
            text(&id.binary_id),
            text(&id.name),
            text(&difference.description)
        );
    }
    let unplaced: usize = recording.passes.iter().map(|p| p.unplaced).sum();
    if unplaced > 0 {
        let _ = writeln!(
            page,
            "<p>{unplaced} attempt{} not drawn: no worker or start time was recorded for them \
             (a stream from an older runner, or a test the runner itself failed on)</p>",
            plural(unplaced)
        );
    }
    *page += "</div>\n";
}

fn pass_row(recording: &Recording, index: usize, pass: &Pass, shape: &Shape, page: &mut String) {
    let name = text(&pass.name(index)).into_owned();
    let Some(stats) = &pass.stats else {
        let _ = writeln!(
            page,
            "<tr><td>{name}</td><td>{}</td><td class=\"n\">{}</td><td colspan=\"8\">did not \
             finish: the event stream ends before its run-finished</td></tr>",
            text(&pass.mode),
            pass.workers
        );
        return;
    };
    let usable = match stats.usable() {
        usable if usable < stats.workers => format!(" ({usable} usable)"),
        _ => String::new(),
    };
    let longest = stats.longest.as_ref().map_or(String::new(), |l| {
        format!("{} {}", secs(l.duration), text(&l.id.name))
    });
    let tail = shape.idle_from_us.map_or("none".into(), |idle| {
        let end = shape.lanes.iter().map(|l| l.end_us).max().unwrap_or(idle);
        secs(std::time::Duration::from_micros(end - idle))
    });
    let poles: Vec<String> = shape
        .poles
        .iter()
        .take(3)
        .map(|&i| text(&recording.tests[pass.bars[i].test].id.name).into_owned())
        .collect();
    let more = shape.poles.len().saturating_sub(poles.len());
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    let _ = writeln!(
        page,
        "<tr><td>{name}</td><td>{}</td><td class=\"n\">{}{usable}</td><td class=\"n\">{} / {} / \
         {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}x</td>\
         <td>{longest}</td><td class=\"n\">{}</td><td class=\"n\">{tail}</td><td>{}{more}</td></tr>",
        text(&pass.mode),
        stats.workers,
        stats.passed,
        stats.failed,
        stats.skipped,
        secs(stats.wall),
        secs(stats.summed),
        stats.concurrency(),
        secs(stats.ideal_wall()),
        poles.join(", "),
    );
}

/// Every outcome's colour, and the marks drawn over bars.
fn legend(page: &mut String) {
    *page += "<div class=\"legend\">\n";
    for class in Class::ALL {
        let _ = writeln!(
            page,
            "<span class=\"key\" data-class=\"{}\" title=\"{}\"><span class=\"sw\" \
             style=\"background:{}\"></span>{}</span>",
            class.name(),
            class.meaning(),
            colour(class),
            class.name()
        );
    }
    *page += "<span class=\"key\"><span class=\"sw mark\"></span>long pole: the end waited for \
              it</span>\n<span class=\"key\"><span class=\"sw mark ni\"></span>not isolated\
              </span>\n<span class=\"key\"><span class=\"sw mark chunk\"></span>batch chunk (one \
              process)</span>\n<span class=\"key\"><span class=\"sw line\"></span>ideal bound\
              </span>\n<span class=\"key\"><span class=\"sw tail\"></span>idle tail: a worker \
              has nothing left</span>\n</div>\n";
}

/// A test for the tooltip: `[binary index, name, rerun command, not-isolated description]`.
type TestRow<'a> = (usize, Cow<'a, str>, Option<Cow<'a, str>>, Option<&'a str>);

/// A bar for the tooltip: `[test, pass, attempt, worker, start µs, duration µs, chunk,
/// outcome]`, in `data-i` order.
type BarRow<'a> = (
    usize,
    usize,
    u32,
    usize,
    u64,
    u64,
    Option<usize>,
    Cow<'a, str>,
);

/// What the page's script reads: the scale, and the tables the tooltip shows.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Table<'a> {
    px_per_s: f64,
    x0: f64,
    max_zoom: f64,
    binaries: Vec<Cow<'a, str>>,
    tests: Vec<TestRow<'a>>,
    passes: Vec<String>,
    bars: Vec<BarRow<'a>>,
}

fn table(recording: &Recording, layout: &Layout) -> Result<String> {
    let mut binaries: Vec<Cow<str>> = Vec::new();
    let mut binary_index = std::collections::HashMap::new();
    let mut tests = Vec::with_capacity(recording.tests.len());
    for (index, test) in recording.tests.iter().enumerate() {
        let binary = *binary_index
            .entry(test.id.binary_id.as_str())
            .or_insert_with(|| {
                binaries.push(visible(&test.id.binary_id));
                binaries.len() - 1
            });
        let difference = recording.not_isolated.iter().find(|d| d.test == index);
        tests.push((
            binary,
            visible(&test.id.name),
            test.rerun.as_deref().map(visible),
            difference.map(|d| d.description.as_str()),
        ));
    }
    let bars = recording
        .passes
        .iter()
        .enumerate()
        .flat_map(|(number, pass)| pass.bars.iter().map(move |bar| (number, bar)))
        .map(|(number, bar)| {
            let place = bar.place;
            let outcome = visible(&bar.outcome);
            (
                bar.test,
                number,
                bar.attempt,
                place.worker,
                place.start_us,
                bar.duration_us,
                place.chunk,
                outcome,
            )
        })
        .collect();
    let table = Table {
        px_per_s: layout.px_per_s,
        x0: plot::X0,
        max_zoom: (plot::MAX_PLOT_WIDTH / layout.width).max(1.0),
        binaries,
        tests,
        passes: (0..recording.passes.len())
            .map(|i| recording.passes[i].name(i))
            .collect(),
        bars,
    };
    // Inside a script element only `</script` could end it early: no `<` is left in the JSON.
    Ok(serde_json::to_string(&table)?.replace('<', "\\u003c"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::timeline::saved;

    /// A pass with one test that failed, then passed, under a name made to break out of the
    /// page.
    fn page() -> String {
        let stream = concat!(
            r#"{"type":"run-started","workers":2,"mode":"process"}"#,
            "\n",
            r#"{"type":"test-finished","binary_id":"b&c","name":"</script><script>alert(1)//\u001b[2J","#,
            r#""status":"passed","duration":0.005,"attempt":2,"worker":1,"start":0.01,"#,
            r#""failed_attempts":[{"attempt":1,"status":"failed","exit_code":101,"duration":0.01,"#,
            r#""worker":1,"start":0.0}]}"#,
            "\n",
            r#"{"type":"run-finished","workers":2,"wall":0.02,"summed":0.015}"#,
            "\n"
        );
        let recording = saved::read(stream.as_bytes()).unwrap().recording;
        let mut out = Vec::new();
        write(&recording, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn names_cannot_break_out_of_the_page() {
        let page = page();
        assert!(!page.contains("<script>alert"), "{page}");
        assert_eq!(
            page.matches("</script>").count(),
            2,
            "the data table and the script"
        );
        let blob = page.split("id=\"data\">").nth(1).unwrap();
        let table: serde_json::Value =
            serde_json::from_str(blob.split("</script>").next().unwrap()).unwrap();
        // The escape code is shown as text, as every report shows it.
        assert_eq!(table["tests"][0][1], "</script><script>alert(1)//\\x1b[2J");
        assert_eq!(table["binaries"][0], "b&c");
    }

    #[test]
    fn a_flaky_test_is_a_failed_bar_then_a_flaky_one() {
        let page = page();
        let fail = page.find("<rect class=\"fail").expect("the failed attempt");
        let flaky = page
            .find("<rect class=\"flaky")
            .expect("the attempt that passed");
        assert!(fail < flaky);
        assert!(page.contains("flaky: passed on attempt 2"));
    }
}
