//! Reading libtest's panic report out of a test's stderr: where it panicked and with what
//! message, for the reports that point at the failure (JUnit messages, GitHub annotations, the
//! closing failure list).

/// `panicked at src/lib.rs:12:5:` → ("src/lib.rs", 12).
pub fn panic_location(stderr: &str) -> Option<(String, u32)> {
    let line = stderr.lines().find(|l| l.contains("panicked at "))?;
    let place = line.split("panicked at ").nth(1)?.trim_end_matches(':');
    let mut parts = place.rsplitn(3, ':');
    let _column = parts.next()?;
    let line_number = parts.next()?.parse().ok()?;
    let file = parts.next()?.to_string();
    Some((file, line_number))
}

/// The line after `panicked at ...:`, which holds the panic's message.
pub fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines().skip_while(|l| !l.contains("panicked at "));
    lines.next()?;
    lines.next().map(str::to_string)
}

/// Where a test panicked (`src/lib.rs:12:5`) and the first line of its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicSummary {
    pub location: String,
    pub message: String,
}

/// The panic report in `stderr`, if there is one.
pub fn panic_summary(stderr: &str) -> Option<PanicSummary> {
    let line = stderr.lines().find(|l| l.contains("panicked at "))?;
    let location = line.split("panicked at ").nth(1)?.trim_end_matches(':');
    Some(PanicSummary {
        location: location.to_string(),
        message: panic_message(stderr).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STDERR: &str =
        "\nthread 'a::b' (77) panicked at src/lib.rs:12:5:\nassertion failed: 1 == 2\nnote: ...\n";

    #[test]
    fn location_and_message_of_a_panic() {
        assert_eq!(panic_location(STDERR), Some(("src/lib.rs".into(), 12)));
        assert_eq!(
            panic_message(STDERR).as_deref(),
            Some("assertion failed: 1 == 2")
        );
        assert_eq!(panic_location("no panic here"), None);
        assert_eq!(panic_message("no panic here"), None);
        assert_eq!(
            panic_summary(STDERR),
            Some(PanicSummary {
                location: "src/lib.rs:12:5".into(),
                message: "assertion failed: 1 == 2".into()
            })
        );
    }
}
