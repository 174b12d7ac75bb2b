//! The runner's own costs, end to end: the phases it reports (`-v`, JSON `run-finished`).

mod common;

use common::*;
use serde_json::Value;

/// The phases of a JSON run's `run-finished` event, in seconds since the runner started.
fn phases_of(run: &Run) -> Value {
    let events = run.events();
    let finished = events_of(&events, "run-finished");
    assert_eq!(finished.len(), 1, "{}", run.context());
    finished[0]["phases"].clone()
}

/// Every phase of a cargo run is in `run-finished`, each later than what it waits for.
#[test]
fn json_run_finished_has_every_phase_in_order() {
    let run = run_fixture("ordering", &["-n2", "--message-format", "json"]);
    run.assert_code(0);
    let phases = phases_of(&run);
    let at = |name: &str| {
        phases[name]
            .as_f64()
            .unwrap_or_else(|| panic!("no phase {name} in {phases}{}", run.context()))
    };
    let (build, metadata, listed) = (at("build"), at("metadata"), at("listed"));
    let (first, last, finished) = (at("first_test"), at("last_test"), at("run_finished"));
    assert!(build > 0.0 && metadata > 0.0, "{phases}");
    // Listing needs the build's binaries and the metadata's packages; the tests need the list.
    for (earlier, later) in [
        (build, listed),
        (metadata, listed),
        (listed, first),
        (first, last),
        (last, finished),
    ] {
        assert!(earlier <= later, "phases out of order: {phases}");
    }
    // The closing report alone knows when the reports were written.
    assert!(phases.get("reports").is_none(), "{phases}");
}

/// `-v` shows the phases and the spans between them; the default report does not.
#[test]
fn verbose_report_shows_the_phases() {
    let run = run_fixture("ordering", &["-n2", "-v"]);
    run.assert_code(0);
    let lines = run.stdout_lines();
    let phases = lines
        .iter()
        .find(|l| l.starts_with("Phases since start: build "))
        .unwrap_or_else(|| panic!("no phases line{}", run.context()));
    for name in ["metadata", "listed", "first test", "last test", "reports"] {
        assert!(phases.contains(&format!(", {name} ")), "{phases}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  start-up ") && l.contains(", tests ")),
        "{}",
        run.context()
    );
    let quiet = run_fixture("ordering", &["-n2"]);
    assert!(!quiet.stdout.contains("Phases since start"));
}
